//! Reading sources and parsing them into batches, on a thread of its own.
//!
//! Sources are read in order; in follow mode all at once (see its `tail` module). Each is identified by a fingerprint of its first line, so a
//! file renamed by rotation, compressed later, or given twice is the same source; reading
//! starts from the resume point that ClickHouse holds for it. In follow mode a file is
//! polled for growth, rename-and-create rotation and copytruncate; a line without its
//! newline yet is held until complete.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use cairn_events::{DEFAULT_MAX_LINE, EventRow, Item, LogParser};
use flate2::read::MultiGzDecoder;
use sha2::{Digest, Sha256};

use super::encoded::{Encoded, Encoder, RawRows};
use super::store::{Located, Resume, storable};
use super::{IngestOptions, PublishHook, RETIRED_REFRESH};
use crate::retired::{Guarded, Retired};

mod tail;

/// An input of the ingester.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A file, plain or gzip (detected by its magic bytes).
    Path(PathBuf),
    /// A glob pattern: the files it matches, sorted; in follow mode also those that start
    /// matching later (a new pod's log), while a matched file that is gone for good is let go.
    Pattern(String),
    /// Standard input.
    Stdin,
}

impl Input {
    /// A label for messages.
    pub fn label(&self) -> String {
        match self {
            Input::Path(p) => p.display().to_string(),
            Input::Pattern(p) => p.clone(),
            Input::Stdin => "-".into(),
        }
    }
}

/// A batch of rows of one source, with the checkpoint that holds once it is stored.
pub(crate) struct Batch {
    pub source: Arc<str>,
    pub path: Arc<str>,
    pub rows: Encoded,
    pub end_offset: u64,
    pub bytes_read: u64,
    /// Lines rejected since the previous batch of the source.
    pub rejected: u64,
    /// Sent because it waited long enough or its source ended, not because it was full:
    /// the inserter sends it without waiting for more.
    pub due: bool,
}

/// Rows the reader hands over at a time (the inserter gathers them into larger inserts,
/// held compressed).
pub(crate) const CHUNK_ROWS: usize = 1024;
/// Approximate memory of the rows handed over at a time.
pub(crate) const CHUNK_BYTES: usize = 2 << 20;

/// What the producer counted.
#[derive(Debug, Default, Clone)]
pub(crate) struct ProducerStats {
    pub lines: u64,
    pub events: u64,
    pub already_stored: u64,
    pub rejected: BTreeMap<String, u64>,
    pub skipped: BTreeMap<String, u64>,
    pub publishes: u64,
    pub unreadable: Vec<(String, String)>,
    pub sources: u64,
    pub retired: Guarded,
}

pub(crate) type ResumeFn = Box<dyn FnMut(&str) -> Result<Resume, String> + Send>;

/// Reads the retired learners (retrying until it can).
pub(crate) type RetiredFn = Box<dyn FnMut() -> Retired + Send>;

pub(crate) struct Producer {
    pub opts: IngestOptions,
    pub tx: tokio::sync::mpsc::Sender<Batch>,
    pub resume: ResumeFn,
    pub rejects: Option<Box<dyn Write + Send>>,
    pub hook: Box<dyn PublishHook>,
    pub stats: ProducerStats,
    /// Reads the retired learners; `None` in a dry run.
    load_retired: Option<RetiredFn>,
    retired: Retired,
    retired_at: Option<Instant>,
    /// Compresses the rows read for the inserter.
    encoder: Encoder,
    /// The row every event is read into, then encoded at once (its strings keep their
    /// memory; one row, so that it stays in the CPU's cache).
    row: Box<Located>,
    /// Buffers of sources' rows sent, for the next chunk of any source to reuse.
    raw_pool: Vec<Vec<u8>>,
    /// Fingerprint → end offset already sent in this run.
    seen: HashMap<String, u64>,
    bytes_read: u64,
    consumer_gone: bool,
}

/// One source being read: parser state, position, the batch being filled.
struct SourceRun {
    fp: Arc<str>,
    path: Arc<str>,
    parser: LogParser,
    /// Offsets (from an earlier run) already stored: those events are not sent again.
    present: HashSet<u64>,
    /// Bytes before this offset were ingested earlier: counted for line numbers, not parsed.
    start: u64,
    /// Absolute offset of the next byte to come.
    raw: u64,
    line_no: u64,
    pending: Vec<u8>,
    /// Offset where the pending (incomplete) line starts.
    pending_start: u64,
    /// The rows read since the last batch was sent, encoded (none in a dry run).
    batch: RawRows,
    /// How many rows (also counted in a dry run).
    batch_rows: usize,
    batch_bytes: usize,
    batch_started: Instant,
    /// Lines rejected since the last batch was sent.
    batch_rejected: u64,
    /// The reader has caught up with the source and not fallen behind since (it follows
    /// the source live).
    live: bool,
    /// Full chunks sent in a row since the reader last caught up.
    behind: u32,
}

/// Full chunks read in a row, without catching up, after which a live source is a backlog
/// again (a pipe from a program that writes in bursts, a followed file that was appended
/// to in bulk): its batches are gathered into large inserts until the reader catches up.
/// A source followed live at thousands of events per second is caught up with between
/// two chunks.
const BEHIND_CHUNKS: u32 = 4;

/// Buffers kept for reuse once their rows are sent (more only when several sources fill
/// chunks at once).
const RAW_POOL: usize = 2;

fn empty_row() -> Box<Located> {
    Box::new(Located {
        row: EventRow::default(),
        offset: 0,
    })
}

fn fingerprint(first_line: &[u8]) -> String {
    let d = Sha256::digest(first_line);
    d[..8].iter().map(|b| format!("{b:02x}")).collect()
}

fn is_gzip(path: &Path) -> std::io::Result<bool> {
    let mut magic = [0u8; 2];
    let mut f = File::open(path)?;
    let n = f.read(&mut magic)?;
    Ok(n == 2 && magic == [0x1f, 0x8b])
}

fn open_reader(path: &Path) -> std::io::Result<(Box<dyn Read + Send>, bool)> {
    let gz = is_gzip(path)?;
    let f = File::open(path)?;
    Ok(if gz {
        (Box::new(MultiGzDecoder::new(f)), true)
    } else {
        (Box::new(f), false)
    })
}

/// The first line of a file (decompressed), with its newline; `None` when there is no
/// complete line yet (`at_eof_is_line`: a file that will not grow ends its last line).
fn first_line(path: &Path, at_eof_is_line: bool) -> std::io::Result<Option<Vec<u8>>> {
    let (r, _) = open_reader(path)?;
    let mut r = BufReader::new(r.take(DEFAULT_MAX_LINE as u64 + 1));
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line)?;
    Ok(
        if line.ends_with(b"\n") || (at_eof_is_line && !line.is_empty()) {
            Some(line)
        } else {
            None
        },
    )
}

#[cfg(unix)]
fn inode(m: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    m.ino()
}

#[cfg(not(unix))]
fn inode(_: &std::fs::Metadata) -> u64 {
    0
}

/// Counts a rejected line and writes it to the rejects file, if any (with the line itself
/// when it is the one just read).
fn record_reject(
    rejected: &mut BTreeMap<String, u64>,
    rejects: &mut Option<Box<dyn Write + Send>>,
    path: &str,
    line: u64,
    reason: &str,
    detail: &str,
    raw: Option<&[u8]>,
) {
    *rejected.entry(reason.to_owned()).or_default() += 1;
    if let Some(w) = rejects.as_mut() {
        let _ = write!(w, "{path}:{line}: {reason}: {detail}");
        if let Some(raw) = raw {
            let _ = write!(w, "\t{}", String::from_utf8_lossy(raw));
        }
        let _ = writeln!(w);
    }
}

impl Producer {
    pub(crate) fn new(
        opts: IngestOptions,
        tx: tokio::sync::mpsc::Sender<Batch>,
        resume: ResumeFn,
        rejects: Option<Box<dyn Write + Send>>,
        hook: Box<dyn PublishHook>,
        load_retired: Option<RetiredFn>,
    ) -> Self {
        Producer {
            opts,
            tx,
            resume,
            rejects,
            hook,
            stats: ProducerStats::default(),
            load_retired,
            retired: Retired::default(),
            retired_at: None,
            encoder: Encoder::default(),
            row: empty_row(),
            raw_pool: Vec::new(),
            seen: HashMap::new(),
            bytes_read: 0,
            consumer_gone: false,
        }
    }

    fn stopped(&self) -> bool {
        self.consumer_gone || self.opts.stop.load(Ordering::Relaxed)
    }

    /// Reads the inputs: in order; in follow mode all at once, round robin, and files that
    /// start matching a pattern later too.
    pub(crate) fn run(&mut self, inputs: &[Input]) {
        if self.opts.follow && inputs != [Input::Stdin] {
            self.follow(inputs);
        } else {
            for input in inputs {
                if self.stopped() {
                    break;
                }
                let result = match input {
                    Input::Path(p) => self.file(p),
                    Input::Pattern(p) => match tail::matches(p) {
                        Ok(paths) if paths.is_empty() => Err(format!("no file matches {p:?}")),
                        Ok(paths) => {
                            for p in paths {
                                if let Err(e) = self.file(&p) {
                                    self.stats.unreadable.push((p.display().to_string(), e));
                                }
                            }
                            Ok(())
                        }
                        Err(e) => Err(e),
                    },
                    Input::Stdin => self.stdin(),
                };
                if let Err(e) = result {
                    self.stats.unreadable.push((input.label(), e));
                }
            }
        }
        if let Some(w) = self.rejects.as_mut() {
            let _ = w.flush();
        }
    }

    fn begin(&mut self, fp: String, path: &str) -> Result<SourceRun, String> {
        let resume = (self.resume)(&fp)?;
        if resume.checkpoint > 0 && !self.seen.contains_key(&fp) {
            // Said once per source and run: a log given again is not read again.
            tracing::info!(
                "ingest: {}: its first {} bytes were stored by an earlier run; going on from there",
                if path == "-" { "standard input" } else { path },
                resume.checkpoint
            );
        }
        let start = resume
            .checkpoint
            .max(self.seen.get(&fp).copied().unwrap_or(0));
        self.stats.sources += 1;
        Ok(SourceRun {
            fp: fp.into(),
            path: path.into(),
            parser: LogParser::new(self.opts.format),
            present: resume.present,
            start,
            raw: 0,
            line_no: 0,
            pending: Vec::new(),
            pending_start: 0,
            batch: RawRows::default(),
            batch_rows: 0,
            batch_bytes: 0,
            batch_started: Instant::now(),
            batch_rejected: 0,
            live: false,
            behind: 0,
        })
    }

    fn stdin(&mut self) -> Result<(), String> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(16);
        std::thread::spawn(move || {
            let mut stdin = std::io::stdin().lock();
            loop {
                let mut buf = vec![0u8; 64 * 1024];
                match stdin.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        buf.truncate(n);
                        if tx.send(buf).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        let mut head: Vec<u8> = Vec::new();
        let mut run: Option<SourceRun> = None;
        loop {
            match rx.recv_timeout(self.opts.poll.min(self.opts.flush_interval / 4)) {
                Ok(data) => {
                    self.bytes_read += data.len() as u64;
                    match run.as_mut() {
                        Some(r) => {
                            self.feed(r, &data);
                            self.maybe_flush(r, false);
                        }
                        None => {
                            head.extend_from_slice(&data);
                            if let Some(i) = memchr::memchr(b'\n', &head) {
                                let mut r = self.begin(fingerprint(&head[..=i]), "-")?;
                                let h = std::mem::take(&mut head);
                                self.feed(&mut r, &h);
                                run = Some(r);
                            }
                        }
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    if let Some(r) = run.as_mut() {
                        self.maybe_flush(r, true);
                    }
                    if self.stopped() {
                        if let Some(r) = run.as_mut() {
                            self.flush(r);
                        }
                        return Ok(());
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            }
            if self.consumer_gone {
                return Ok(());
            }
        }
        if run.is_none() && !head.is_empty() {
            let h = std::mem::take(&mut head);
            run = Some(self.begin(fingerprint(&h), "-")?);
            if let Some(r) = run.as_mut() {
                self.feed(r, &h);
            }
        }
        if let Some(r) = run.as_mut() {
            self.end(r);
        }
        Ok(())
    }

    /// Feeds raw bytes: skips what was ingested before, splits complete lines, holds the rest.
    fn feed(&mut self, run: &mut SourceRun, mut data: &[u8]) {
        if run.raw < run.start {
            let k = ((run.start - run.raw) as usize).min(data.len());
            run.line_no += memchr::memchr_iter(b'\n', &data[..k]).count() as u64;
            run.raw += k as u64;
            data = &data[k..];
        }
        while !data.is_empty() {
            match memchr::memchr(b'\n', data) {
                Some(i) => {
                    let line_start = if run.pending.is_empty() {
                        run.raw
                    } else {
                        run.pending_start
                    };
                    if run.pending.is_empty() {
                        self.line(run, line_start, &data[..i]);
                    } else {
                        let mut line = std::mem::take(&mut run.pending);
                        line.extend_from_slice(&data[..i]);
                        self.line(run, line_start, &line);
                    }
                    run.raw += i as u64 + 1;
                    data = &data[i + 1..];
                }
                None => {
                    if run.pending.is_empty() {
                        run.pending_start = run.raw;
                    }
                    run.pending.extend_from_slice(data);
                    run.raw += data.len() as u64;
                    if run.pending.len() > DEFAULT_MAX_LINE + 1 {
                        // Keep memory bounded: the parser rejects it as too long.
                        run.pending.truncate(DEFAULT_MAX_LINE + 1);
                    }
                    data = &[];
                }
            }
        }
    }

    fn line(&mut self, run: &mut SourceRun, offset: u64, bytes: &[u8]) {
        run.line_no += 1;
        self.stats.lines += 1;
        let line_no = run.line_no;
        if run.batch_rows == 0 {
            self.chunk_starts(&mut run.batch);
        }
        let encode = self.load_retired.is_some();
        let SourceRun {
            fp,
            parser,
            batch,
            batch_rows,
            batch_bytes,
            present,
            path,
            batch_rejected,
            ..
        } = run;
        let stats = &mut self.stats;
        let rejects = &mut self.rejects;
        let hook = &mut self.hook;
        let retired = &self.retired;
        let r = &mut self.row;
        let mut reject = |line: u64, reason: &str, detail: &str| {
            *batch_rejected += 1;
            let raw = (line == line_no).then_some(bytes);
            record_reject(
                &mut stats.rejected,
                rejects,
                path,
                line,
                reason,
                detail,
                raw,
            );
        };
        let mut publishes = Vec::new();
        let mut events = 0u64;
        let mut already = 0u64;
        let mut guarded = Guarded::default();
        parser.feed(line_no, offset, bytes, &mut |item| match item {
            Item::Event {
                line,
                offset,
                event,
            } => {
                r.row.set_from_event(&event);
                r.offset = offset;
                if !storable(&r.row) {
                    reject(line, "time out of range", &r.row.time.to_rfc3339());
                } else if present.contains(&offset) {
                    already += 1;
                } else {
                    events += 1;
                    // Rough size in memory: the raw message dominates; the rest ~1 KiB.
                    let row = &r.row;
                    *batch_bytes += row.message.len() + row.agent.len() + row.referer.len() + 1024;
                    // Guarded against retired learners' late events, then encoded.
                    if encode && retired.check(r, &mut guarded) {
                        batch.push(fp, r);
                    }
                    *batch_rows += 1;
                }
                // An unusually long event's memory is given back, not kept for every
                // later event.
                if r.row.message.capacity() > 64 << 10 {
                    *r = empty_row();
                }
            }
            Item::CoursePublished { course_id, .. } => publishes.push(course_id.to_owned()),
            Item::Skipped { reason, .. } => {
                *stats.skipped.entry(reason.to_string()).or_default() += 1;
            }
            Item::Rejected {
                line,
                reason,
                detail,
            } => reject(line, &reason.to_string(), &detail),
        });
        self.stats.retired.scrubbed += guarded.scrubbed;
        self.stats.retired.dropped += guarded.dropped;
        self.stats.retired.mentions += guarded.mentions;
        self.stats.events += events;
        self.stats.already_stored += already;
        for c in publishes {
            self.stats.publishes += 1;
            hook.course_published(&c);
        }
    }

    /// A source's next chunk begins: the retired learners are read again when due (the
    /// rows are checked against them as they are read), and a spare buffer is reused.
    fn chunk_starts(&mut self, batch: &mut RawRows) {
        if let Some(load) = self.load_retired.as_mut()
            && self
                .retired_at
                .is_none_or(|t| t.elapsed() >= RETIRED_REFRESH)
        {
            self.retired = load();
            self.retired_at = Some(Instant::now());
        }
        if !batch.has_buffer()
            && let Some(buf) = self.raw_pool.pop()
        {
            batch.reuse(buf);
        }
    }

    fn end_offset(run: &SourceRun) -> u64 {
        let done = if run.pending.is_empty() {
            run.raw
        } else {
            run.pending_start
        };
        run.parser.held_offset().map_or(done, |h| h.min(done))
    }

    /// Sends the batch when it is full or has waited `flush_interval`; when the reader has
    /// caught up (`idle`), already after a quarter of it, so live events show up quickly.
    /// Once a source has been caught up with, it is live: every batch of it is inserted as
    /// soon as it is sent, until it falls [`BEHIND_CHUNKS`] behind (otherwise, full batches
    /// are gathered into larger inserts).
    fn maybe_flush(&mut self, run: &mut SourceRun, idle: bool) {
        let full = run.batch_rows >= self.opts.batch_rows.min(CHUNK_ROWS)
            || run.batch_bytes >= CHUNK_BYTES;
        if idle {
            run.live = true;
            run.behind = 0;
        } else if full {
            run.behind += 1;
            run.live &= run.behind < BEHIND_CHUNKS;
        }
        let wait = if idle {
            self.opts.flush_interval / 4
        } else {
            self.opts.flush_interval
        };
        let due = run.batch_rows > 0 && run.batch_started.elapsed() >= wait;
        if full || due {
            self.send(run, !full || run.live);
        }
    }

    /// Sends what was read of the source so far, to be inserted without waiting for more.
    fn flush(&mut self, run: &mut SourceRun) {
        self.send(run, true);
    }

    fn send(&mut self, run: &mut SourceRun, due: bool) {
        let end_offset = Self::end_offset(run).max(run.start);
        let rows = self.encode(run);
        run.batch_bytes = 0;
        run.batch_started = Instant::now();
        let known = self.seen.get(run.fp.as_ref()).copied().unwrap_or(0);
        if rows.is_empty() && end_offset <= known.max(run.start) {
            return;
        }
        self.seen.insert(run.fp.to_string(), end_offset);
        let batch = Batch {
            source: run.fp.clone(),
            path: run.path.clone(),
            rows,
            end_offset,
            bytes_read: self.bytes_read,
            rejected: std::mem::take(&mut run.batch_rejected),
            due,
        };
        if self.tx.blocking_send(batch).is_err() {
            self.consumer_gone = true;
        }
    }

    /// The rows read, compressed; their buffer goes to the pool, for the next chunk.
    fn encode(&mut self, run: &mut SourceRun) -> Encoded {
        run.batch_rows = 0;
        self.encoder.push_rows(&run.fp, &mut run.batch);
        let buf = run.batch.release();
        if self.raw_pool.len() < RAW_POOL && buf.capacity() > 0 {
            self.raw_pool.push(buf);
        }
        self.encoder.take()
    }

    /// The source ended: its last line ends at EOF, held events are rejected.
    fn end(&mut self, run: &mut SourceRun) {
        if !run.pending.is_empty() {
            let line = std::mem::take(&mut run.pending);
            let offset = run.pending_start;
            self.line(run, offset, &line);
        }
        let SourceRun { parser, .. } = run;
        let mut rejected = Vec::new();
        parser.finish(&mut |item| {
            if let Item::Rejected {
                line,
                reason,
                detail,
            } = item
            {
                rejected.push((line, reason.to_string(), detail));
            }
        });
        run.batch_rejected += rejected.len() as u64;
        for (line, reason, detail) in rejected {
            record_reject(
                &mut self.stats.rejected,
                &mut self.rejects,
                &run.path,
                line,
                &reason,
                &detail,
                None,
            );
        }
        self.flush(run);
    }
}
