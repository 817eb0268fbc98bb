//! Ingestion: tracking logs into ClickHouse's `events`, exactly once.
//!
//! `bytes → lines → cairn-events → rows → encoded rows → inserts`. A reader thread parses,
//! and encodes each row as ClickHouse receives it (RowBinary in LZ4 frames, see
//! [`encoded`]); the inserter gathers these compressed chunks, through a bounded channel,
//! into large inserts (few parts, little merging), and sends one while it gathers the next.
//! So memory stays bounded while ClickHouse is away, and parsing, encoding and inserting
//! overlap.
//!
//! **Exactly once.** Every row stores its source's fingerprint and the byte offset of its
//! line. After a batch is inserted, a checkpoint `(source, end_offset)` is recorded. A
//! (re)started ingester reads from the last checkpoint and skips the events already stored
//! past it (a batch inserted but not checkpointed, or partly inserted). A failed insert
//! is retried with backoff; before each retry, the rows that did reach ClickHouse are
//! dropped from the batch. So neither kill -9 at any moment, nor a ClickHouse restart,
//! nor the same file given twice stores an event twice or loses one. Limits: a source is
//! known by its first line, so two different files starting with the same line are taken
//! for one; and lines written to a copytruncate'd file between the last read and the
//! truncation are only in the rotated copy (backfill it: it has the same fingerprint).

pub mod encoded;
pub mod producer;
pub mod store;

use std::collections::{BTreeMap, HashSet};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cairn_core::ClickHouse;
use cairn_events::LineFormat;
use serde::Serialize;

use encoded::Encoded;
pub use producer::Input;
use producer::{Batch, Producer};
use store::Resume;

use crate::retired::Retired;

/// How often a running ingester rereads the retired learners.
pub(crate) const RETIRED_REFRESH: Duration = Duration::from_secs(30);

/// Called for each `Updating/Creating course overview for KEY.` line.
pub trait PublishHook: Send {
    /// A course was (re)published.
    fn course_published(&mut self, course_id: &str);
}

/// The default hook: says which course was published (course import is configured apart).
#[derive(Debug, Default)]
pub struct LogPublishes;

impl PublishHook for LogPublishes {
    fn course_published(&mut self, course_id: &str) {
        tracing::info!("ingest: course published: {course_id}");
    }
}

/// Options of an ingestion run.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Line format (auto-detected per line by default).
    pub format: LineFormat,
    /// Rows per insert, at most.
    pub batch_rows: usize,
    /// Compressed bytes of one insert, about (bounds the collector's memory: rows are held
    /// compressed, one insert being gathered while the previous one is sent).
    pub batch_bytes: usize,
    /// A batch is sent at the latest this long after its first row (live latency bound).
    pub flush_interval: Duration,
    /// Keep reading as files grow, across rotations, until stopped.
    pub follow: bool,
    /// How often a followed file is polled.
    pub poll: Duration,
    /// Parse and count; insert nothing.
    pub dry_run: bool,
    /// Write rejected lines here.
    pub rejects: Option<PathBuf>,
    /// Show progress (a bar on a terminal, else periodic log lines).
    pub progress: bool,
    /// Set to stop a follow run (flushes what was read).
    pub stop: Arc<AtomicBool>,
    /// `CAIRN_RETIREMENT_KEY`: scrubs the late events of learners retired in scrub mode
    /// (empty: they are dropped).
    pub retirement_key: cairn_core::Secret,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            format: LineFormat::Auto,
            batch_rows: 200_000,
            batch_bytes: 12 << 20,
            flush_interval: Duration::from_secs(1),
            follow: false,
            poll: Duration::from_millis(100),
            dry_run: false,
            rejects: None,
            progress: false,
            stop: Arc::new(AtomicBool::new(false)),
            retirement_key: cairn_core::Secret::new(""),
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Lines read.
    pub lines: u64,
    /// Events parsed (not counting those already stored).
    pub events: u64,
    /// Events inserted.
    pub inserted: u64,
    /// Inserts made (each a part or more in ClickHouse).
    pub inserts: u64,
    /// Events skipped because ClickHouse already had them.
    pub duplicates_skipped: u64,
    /// Rejected lines by reason.
    pub rejected: BTreeMap<String, u64>,
    /// Skipped (non-event) lines by reason.
    pub skipped: BTreeMap<String, u64>,
    /// Course-publish lines seen.
    pub course_publishes: u64,
    /// Sources read (a rotation starts a new one).
    pub sources: u64,
    /// Inputs that could not be read, with why.
    pub unreadable: Vec<(String, String)>,
    /// Bytes read.
    pub bytes: u64,
    /// Insert attempts that failed and were retried.
    pub retries: u64,
    /// Late events of retired learners scrubbed before they were stored.
    pub retired_scrubbed: u64,
    /// Late events of retired learners dropped.
    pub retired_dropped: u64,
    /// Other learners' events naming a retired learner, stored without the names.
    pub retired_mentions: u64,
    /// Wall time.
    #[serde(skip)]
    pub elapsed: Duration,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        writeln!(
            f,
            "{} events inserted ({:.0}/s, {:.1} MB/s) in {} inserts, {} already stored and skipped, {} lines in {} sources, {:.1} s",
            self.inserted,
            self.inserted as f64 / secs,
            self.bytes as f64 / secs / 1e6,
            self.inserts,
            self.duplicates_skipped,
            self.lines,
            self.sources,
            secs
        )?;
        let rejected: u64 = self.rejected.values().sum();
        write!(f, "rejected {rejected}")?;
        for (k, v) in &self.rejected {
            write!(f, ", {k}: {v}")?;
        }
        let skipped: u64 = self.skipped.values().sum();
        write!(f, "; skipped {skipped}")?;
        for (k, v) in &self.skipped {
            write!(f, ", {k}: {v}")?;
        }
        write!(f, "; course publishes {}", self.course_publishes)?;
        if self.retired_scrubbed + self.retired_dropped + self.retired_mentions > 0 {
            write!(
                f,
                "; retired learners' late events: {} scrubbed, {} dropped, {} others' events naming them scrubbed",
                self.retired_scrubbed, self.retired_dropped, self.retired_mentions
            )?;
        }
        for (input, e) in &self.unreadable {
            write!(f, "\ncannot read {input}: {e}")?;
        }
        Ok(())
    }
}

/// Expands inputs: `-` is stdin; a pattern with `*`, `?` or `[` that names no file is a
/// glob; anything else a path. Without `follow` a glob becomes the files it matches, sorted,
/// and one that matches nothing is an error; with `follow` it stays a pattern, matched again
/// while following (a file that appears later is read too), and standard input is followed
/// only on its own.
pub fn expand_inputs(args: &[String], follow: bool) -> Result<Vec<Input>, String> {
    let mut out = Vec::new();
    for a in args {
        if a == "-" {
            out.push(Input::Stdin);
        } else if a.contains(['*', '?', '[']) && !std::path::Path::new(a).exists() {
            glob::Pattern::new(a).map_err(|e| format!("bad pattern {a:?}: {e}"))?;
            if follow {
                out.push(Input::Pattern(a.clone()));
                continue;
            }
            let mut paths: Vec<PathBuf> = glob::glob(a)
                .map_err(|e| format!("bad pattern {a:?}: {e}"))?
                .filter_map(Result::ok)
                .collect();
            if paths.is_empty() {
                return Err(format!("no file matches {a:?}"));
            }
            paths.sort();
            out.extend(paths.into_iter().map(Input::Path));
        } else {
            out.push(Input::Path(PathBuf::from(a)));
        }
    }
    if follow && out.len() > 1 && out.contains(&Input::Stdin) {
        return Err("--follow reads standard input (-) only on its own, not with files".into());
    }
    Ok(out)
}

async fn with_retry<T, F, Fut>(what: &str, retries: &mut u64, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = cairn_core::Result<T>>,
{
    let mut backoff = Duration::from_millis(200);
    loop {
        match f().await {
            Ok(v) => return v,
            Err(e) => {
                *retries += 1;
                if *retries == 1 || (*retries).is_multiple_of(10) {
                    tracing::warn!("ingest: {what} failed ({e}); retrying in {backoff:?}");
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// What an insert and its checkpoints did.
#[derive(Default)]
struct Stored {
    inserted: u64,
    inserts: u64,
    duplicates_skipped: u64,
    retries: u64,
    /// Why the rows could not be stored (then nothing was checkpointed).
    failed: Option<String>,
}

/// Rows gathered for one insert, with the checkpoints that hold once they are stored.
#[derive(Default)]
struct Pending {
    rows: Encoded,
    /// Per source, in order: path, end offset, lines rejected.
    checkpoints: Vec<(Arc<str>, Arc<str>, u64, u64)>,
    started: Option<Instant>,
}

impl Pending {
    fn add(&mut self, batch: Batch) {
        self.rows.append(batch.rows);
        match self.checkpoints.last_mut() {
            Some((s, _, end, rejected)) if *s == batch.source => {
                *end = batch.end_offset;
                *rejected += batch.rejected;
            }
            _ => self.checkpoints.push((
                batch.source.clone(),
                batch.path.clone(),
                batch.end_offset,
                batch.rejected,
            )),
        }
        self.started.get_or_insert_with(Instant::now);
    }

    fn is_empty(&self) -> bool {
        self.checkpoints.is_empty()
    }
}

/// Stores gathered rows exactly once: insert (retrying), dropping before each retry the
/// rows a failed attempt did store; then the checkpoints, in order.
async fn store_pending(ch: ClickHouse, p: Pending) -> Stored {
    let mut stored = Stored::default();
    let mut rows = p.rows;
    let mut attempt = 0u32;
    let mut backoff = Duration::from_millis(200);
    // The sources and offsets of a batch whose insert failed: its derived rows are written
    // again once it is stored (`store::repair_derived`).
    let mut uncertain = Vec::new();
    while !rows.is_empty() {
        if attempt > 0 {
            if uncertain.is_empty() {
                uncertain = rows.sources();
            }
            let mut present: Vec<(Arc<str>, HashSet<u64>)> = Vec::new();
            for s in rows.sources() {
                let got = with_retry("reading stored offsets", &mut stored.retries, || {
                    store::present_offsets(&ch, &s.source, s.lo, s.hi)
                })
                .await;
                present.push((s.source, got));
            }
            let dropped = rows.retain(|source, offset| {
                !present
                    .iter()
                    .any(|(s, got)| &**s == source && got.contains(&offset))
            });
            match dropped {
                Ok(n) => stored.duplicates_skipped += n as u64,
                Err(e) => {
                    // Our own frames: cannot happen unless memory is corrupted. Nothing
                    // is checkpointed, and the run stops (a later checkpoint would pass
                    // over these rows), so a restart reads them again.
                    stored.failed = Some(e.to_string());
                    return stored;
                }
            }
            if rows.is_empty() {
                break;
            }
        }
        match encoded::insert(&ch, &rows).await {
            Ok(()) => {
                stored.inserted += rows.rows() as u64;
                stored.inserts += 1;
                break;
            }
            Err(e) => {
                stored.retries += 1;
                if attempt == 0 || attempt.is_multiple_of(10) {
                    tracing::warn!(
                        "ingest: insert of {} events failed ({e}); retrying in {backoff:?}",
                        rows.rows()
                    );
                }
                attempt += 1;
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
    for s in &uncertain {
        with_retry("writing derived rows again", &mut stored.retries, || {
            store::repair_derived(&ch, &s.source, s.lo, s.hi)
        })
        .await;
    }
    let counts = rows.sources();
    for (source, path, end_offset, rejected) in &p.checkpoints {
        let n = counts
            .iter()
            .find(|s| &s.source == source)
            .map_or(0, |s| s.rows as u64);
        with_retry("recording a checkpoint", &mut stored.retries, || {
            store::checkpoint(&ch, source, path, *end_offset, n, *rejected)
        })
        .await;
    }
    stored
}

/// Sends the gathered rows to be stored, once the insert in flight is settled: one insert
/// at a time is in flight while the next one is gathered.
async fn store_next(
    ch: &ClickHouse,
    in_flight: &mut Option<tokio::task::JoinHandle<Stored>>,
    pending: &mut Pending,
    summary: &mut Summary,
) -> cairn_core::Result<()> {
    settle(in_flight, summary).await?;
    *in_flight = Some(tokio::spawn(store_pending(
        ch.clone(),
        std::mem::take(pending),
    )));
    Ok(())
}

/// Waits for the insert in flight, if any, and adds what it did to the summary. An insert
/// that could not be stored stops the run: no later checkpoint may pass over its rows.
async fn settle(
    in_flight: &mut Option<tokio::task::JoinHandle<Stored>>,
    summary: &mut Summary,
) -> cairn_core::Result<()> {
    match in_flight.take() {
        Some(task) => record(task.await, summary),
        None => Ok(()),
    }
}

/// The insert in flight's outcome, once it is settled; never, when none is in flight.
async fn finished(
    in_flight: &mut Option<tokio::task::JoinHandle<Stored>>,
) -> Result<Stored, tokio::task::JoinError> {
    match in_flight {
        Some(task) => task.await,
        None => std::future::pending().await,
    }
}

/// Adds what a settled insert did to the summary (see [`settle`]).
fn record(
    outcome: Result<Stored, tokio::task::JoinError>,
    summary: &mut Summary,
) -> cairn_core::Result<()> {
    let s = outcome
        .map_err(|e| cairn_core::Error::Other(format!("ingest: the insert task failed: {e}")))?;
    summary.inserted += s.inserted;
    summary.inserts += s.inserts;
    summary.duplicates_skipped += s.duplicates_skipped;
    summary.retries += s.retries;
    match s.failed {
        Some(why) => Err(cairn_core::Error::Other(format!(
            "ingest: stopped without a checkpoint for the last rows read ({why}); run it again \
             to store them"
        ))),
        None => Ok(()),
    }
}

async fn table_exists(ch: &ClickHouse, name: &str) -> cairn_core::Result<bool> {
    let n: u64 = ch
        .client()
        .query("SELECT count() FROM system.tables WHERE database = ? AND name = ?")
        .bind(ch.database())
        .bind(name)
        .fetch_one()
        .await
        .map_err(|e| cairn_core::Error::clickhouse("reading system.tables", e))?;
    Ok(n > 0)
}

/// Ingests `inputs` into `ch`'s `events` table.
pub async fn ingest(
    ch: &ClickHouse,
    inputs: Vec<Input>,
    opts: &IngestOptions,
    hook: Box<dyn PublishHook>,
) -> cairn_core::Result<Summary> {
    let started = Instant::now();
    if !opts.dry_run {
        for t in ["_events", "_ingest_checkpoints"] {
            if !table_exists(ch, t).await? {
                return Err(cairn_core::Error::Other(format!(
                    "table {}.{t} does not exist: run `cairn migrate up` first",
                    ch.database()
                )));
            }
        }
    }
    let rejects: Option<Box<dyn std::io::Write + Send>> = match &opts.rejects {
        Some(p) => Some(Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).map_err(|e| {
                cairn_core::Error::Other(format!(
                    "cannot write rejected lines to {}: {e}",
                    p.display()
                ))
            })?,
        ))),
        None => None,
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Batch>(1);
    let handle = tokio::runtime::Handle::current();
    let resume_ch = ch.clone();
    let dry_run = opts.dry_run;
    let stop = opts.stop.clone();
    let resume: producer::ResumeFn = Box::new(move |fp: &str| {
        if dry_run {
            return Ok(Resume::default());
        }
        let mut backoff = Duration::from_millis(200);
        loop {
            match handle.block_on(store::resume(&resume_ch, fp)) {
                Ok(r) => return Ok(r),
                Err(e) if stop.load(Ordering::Relaxed) => return Err(e.to_string()),
                Err(e) => {
                    tracing::warn!(
                        "ingest: reading the resume point failed ({e}); retrying in {backoff:?}"
                    );
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    });
    let popts = IngestOptions {
        batch_rows: opts.batch_rows.max(1),
        batch_bytes: opts.batch_bytes.max(1),
        ..opts.clone()
    };
    let (popts_rows, popts_bytes) = (popts.batch_rows, popts.batch_bytes);
    let total_bytes: u64 = inputs
        .iter()
        .filter_map(|i| match i {
            Input::Path(p) => std::fs::metadata(p).ok().map(|m| m.len()),
            Input::Pattern(_) | Input::Stdin => None,
        })
        .sum();
    let load_retired: Option<producer::RetiredFn> = (!dry_run).then(|| {
        let handle = tokio::runtime::Handle::current();
        let ch = ch.clone();
        let key = opts.retirement_key.clone();
        Box::new(move || {
            let mut backoff = Duration::from_millis(200);
            loop {
                match handle.block_on(Retired::load(&ch, key.expose())) {
                    Ok(r) => return r,
                    Err(e) => {
                        tracing::warn!(
                            "ingest: reading the retired learners failed ({e}); retrying in {backoff:?}"
                        );
                        std::thread::sleep(backoff);
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                    }
                }
            }
        }) as producer::RetiredFn
    });
    let producer = std::thread::spawn(move || {
        let mut p = Producer::new(popts, tx, resume, rejects, hook, load_retired);
        p.run(&inputs);
        p.stats
    });

    let mut summary = Summary::default();
    let bar = (opts.progress && !opts.follow && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(total_bytes.max(1));
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let mut last_log = Instant::now();
    let mut pending = Pending::default();
    let mut in_flight: Option<tokio::task::JoinHandle<Stored>> = None;
    // The gathered rows are due (they waited `flush_interval`, or the reader sent them to
    // be stored at once): they go as soon as no insert is in flight. While one is, they
    // keep gathering (up to the size of an insert), so that a slower server gets larger
    // inserts, not more of them; they would wait for it all the same.
    let mut due = false;
    enum Wake {
        Batch(Option<Batch>),
        Due,
        Stored(Result<Stored, tokio::task::JoinError>),
    }
    loop {
        if due && !pending.is_empty() && in_flight.as_ref().is_none_or(|t| t.is_finished()) {
            store_next(ch, &mut in_flight, &mut pending, &mut summary).await?;
            due = false;
        }
        let deadline = pending
            .started
            .map_or_else(Instant::now, |t| t + opts.flush_interval);
        let wake = tokio::select! {
            batch = rx.recv() => Wake::Batch(batch),
            _ = tokio::time::sleep_until(deadline.into()), if pending.started.is_some() && !due => Wake::Due,
            stored = finished(&mut in_flight), if due => Wake::Stored(stored),
        };
        let batch = match wake {
            Wake::Batch(Some(batch)) => batch,
            Wake::Batch(None) => break,
            Wake::Due => {
                due = true;
                continue;
            }
            Wake::Stored(stored) => {
                in_flight = None;
                record(stored, &mut summary)?;
                continue;
            }
        };
        let bytes_read = batch.bytes_read;
        if !dry_run {
            // An insert holds at most `batch_rows` rows and about `batch_bytes` compressed:
            // beyond, the gathered rows go (once the insert in flight is stored).
            if pending.rows.rows() + batch.rows.rows() > popts_rows && !pending.is_empty() {
                store_next(ch, &mut in_flight, &mut pending, &mut summary).await?;
                due = false;
            }
            due |= batch.due;
            pending.add(batch);
            if pending.rows.bytes() >= popts_bytes {
                store_next(ch, &mut in_flight, &mut pending, &mut summary).await?;
                due = false;
            }
        }
        if let Some(bar) = &bar {
            bar.set_position(bytes_read.min(total_bytes));
            bar.set_message(format!("{} events", summary.inserted));
        } else if opts.progress && last_log.elapsed() >= Duration::from_secs(10) {
            last_log = Instant::now();
            let secs = started.elapsed().as_secs_f64();
            tracing::info!(
                "ingest: {} events stored, {:.0}/s, {:.1} MB read",
                summary.inserted,
                summary.inserted as f64 / secs,
                bytes_read as f64 / 1e6
            );
        }
        summary.bytes = bytes_read;
    }
    if !pending.is_empty() {
        store_next(ch, &mut in_flight, &mut pending, &mut summary).await?;
    }
    settle(&mut in_flight, &mut summary).await?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let stats = tokio::task::spawn_blocking(move || producer.join())
        .await
        .map_err(|e| cairn_core::Error::Other(format!("reader task: {e}")))?
        .map_err(|_| cairn_core::Error::Other("the reader thread panicked".into()))?;
    summary.lines = stats.lines;
    summary.events = stats.events;
    summary.duplicates_skipped += stats.already_stored;
    summary.rejected = stats.rejected;
    summary.skipped = stats.skipped;
    summary.course_publishes = stats.publishes;
    summary.retired_scrubbed = stats.retired.scrubbed;
    summary.retired_dropped = stats.retired.dropped;
    summary.retired_mentions = stats.retired.mentions;
    summary.sources = stats.sources;
    summary.unreadable = stats.unreadable;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_glob_is_expanded_once_unless_followed() {
        let dir = std::env::temp_dir().join(format!("cairn-expand-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("b.log"), "x\n").unwrap();
        std::fs::write(dir.join("a.log"), "x\n").unwrap();
        let pattern = format!("{}/*.log", dir.display());
        assert_eq!(
            expand_inputs(&args(&[&pattern, "-"]), false).unwrap(),
            vec![
                Input::Path(dir.join("a.log")),
                Input::Path(dir.join("b.log")),
                Input::Stdin
            ]
        );
        assert_eq!(
            expand_inputs(&args(&[&pattern]), true).unwrap(),
            vec![Input::Pattern(pattern.clone())]
        );
        let none = format!("{}/*.gz", dir.display());
        let e = expand_inputs(&args(&[&none]), false).unwrap_err();
        assert!(e.contains("no file matches"), "{e}");
        assert_eq!(
            expand_inputs(&args(&[&none]), true).unwrap(),
            vec![Input::Pattern(none.clone())],
            "followed, a pattern may match nothing yet"
        );
        let e = expand_inputs(&args(&[&none, "-"]), true).unwrap_err();
        assert!(e.contains("standard input"), "{e}");
        let e = expand_inputs(&args(&["/nope/[x.log"]), true).unwrap_err();
        assert!(e.contains("bad pattern"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
