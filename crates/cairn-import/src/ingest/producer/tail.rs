//! Reading files: one file to its end, or, in follow mode, every followed file at once.
//!
//! A [`Tail`] is one path being read, one step at a time, so a single thread can follow
//! many files round robin: the LMS's `tracking.log` and each LMS pod's container log on a
//! Kubernetes node. Patterns are matched again every [`RESCAN`], so a pod started later is
//! followed too, and the log of a pod that is gone (after [`GONE`]) is read to its end and
//! let go. A source (a fingerprint) is read by one tail at a time, so two paths naming the
//! same file (a rotated copy that a pattern also matches) never send the same lines twice.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Input, Producer, SourceRun, fingerprint, first_line, inode, open_reader};

/// How often follow mode matches its patterns again.
pub(super) const RESCAN: Duration = Duration::from_secs(1);

/// How long a file matched by a pattern may be missing before it is let go (a rotation
/// creates the new file well within this).
pub(super) const GONE: Duration = Duration::from_secs(5);

/// Bytes one tail reads before the next gets its turn.
const TURN: usize = 4 << 20;

/// The files a pattern matches now, sorted.
pub(super) fn matches(pattern: &str) -> Result<Vec<PathBuf>, String> {
    let mut paths: Vec<PathBuf> = glob::glob(pattern)
        .map_err(|e| format!("bad pattern {pattern:?}: {e}"))?
        .filter_map(Result::ok)
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    Ok(paths)
}

/// One generation of a file, open.
struct Open {
    ino: u64,
    reader: Box<dyn Read + Send>,
    gz: bool,
    pos: u64,
    run: SourceRun,
}

/// A path being read.
struct Tail {
    path: PathBuf,
    label: Arc<str>,
    /// Matched by a pattern: let go once gone.
    matched: bool,
    open: Option<Open>,
    missing_since: Option<Instant>,
}

/// What a step did.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// Read or opened something: step again soon.
    Busy,
    /// Nothing new.
    Idle,
    /// Finished: read to its end (not following), a compressed file, or gone.
    Done { gone: bool },
}

impl Tail {
    fn new(path: PathBuf, matched: bool) -> Self {
        Tail {
            label: path.display().to_string().into(),
            path,
            matched,
            open: None,
            missing_since: None,
        }
    }
}

/// True once a file matched by a pattern has been missing for [`GONE`].
fn gone_for_good(matched: bool, missing_since: &mut Option<Instant>) -> bool {
    matched && missing_since.get_or_insert_with(Instant::now).elapsed() >= GONE
}

impl Producer {
    /// Reads one file to its end (when following, until stopped).
    pub(super) fn file(&mut self, path: &Path) -> Result<(), String> {
        let mut tail = Tail::new(path.to_owned(), false);
        let mut active = HashSet::new();
        loop {
            match self.step(&mut tail, &mut active)? {
                Step::Done { .. } => return Ok(()),
                Step::Busy => {}
                Step::Idle => std::thread::sleep(self.idle_wait()),
            }
            if self.consumer_gone {
                return Ok(());
            }
        }
    }

    fn idle_wait(&self) -> Duration {
        self.opts.poll.min(self.opts.flush_interval / 4)
    }

    /// Follows every input at once until stopped.
    pub(super) fn follow(&mut self, inputs: &[Input]) {
        let mut tails: Vec<Tail> = Vec::new();
        let mut patterns: Vec<&str> = Vec::new();
        // Paths being followed, and compressed files already read (not read again).
        let mut known: HashSet<PathBuf> = HashSet::new();
        let mut finished: HashSet<PathBuf> = HashSet::new();
        for input in inputs {
            match input {
                Input::Path(p) => {
                    if known.insert(p.clone()) {
                        tails.push(Tail::new(p.clone(), false));
                    }
                }
                Input::Pattern(p) => patterns.push(p),
                Input::Stdin => self.stats.unreadable.push((
                    input.label(),
                    "standard input cannot be followed together with files".into(),
                )),
            }
        }
        let mut active: HashSet<Arc<str>> = HashSet::new();
        let mut rescanned: Option<Instant> = None;
        let mut waiting_said: HashSet<&str> = HashSet::new();
        while !self.stopped() {
            if rescanned.is_none_or(|t| t.elapsed() >= RESCAN) {
                rescanned = Some(Instant::now());
                let mut matched_now = HashSet::new();
                for &pattern in &patterns {
                    match matches(pattern) {
                        Ok(paths) => {
                            if paths.is_empty() && waiting_said.insert(pattern) {
                                tracing::info!(
                                    "ingest: no file matches {pattern:?} yet; waiting for one"
                                );
                            }
                            for p in paths {
                                matched_now.insert(p.clone());
                                if !finished.contains(&p) && known.insert(p.clone()) {
                                    tracing::info!("ingest: following {}", p.display());
                                    tails.push(Tail::new(p, true));
                                }
                            }
                        }
                        Err(e) => {
                            self.stats.unreadable.push((pattern.to_owned(), e));
                            return;
                        }
                    }
                }
                finished.retain(|p| matched_now.contains(p));
            }
            let mut busy = false;
            let mut i = 0;
            while i < tails.len() {
                match self.step(&mut tails[i], &mut active) {
                    Ok(Step::Busy) => busy = true,
                    Ok(Step::Idle) => {}
                    Ok(Step::Done { gone }) => {
                        let t = tails.swap_remove(i);
                        known.remove(&t.path);
                        if gone {
                            tracing::info!("ingest: {} is gone; read to its end", t.label);
                        } else {
                            finished.insert(t.path);
                        }
                        continue;
                    }
                    Err(e) => {
                        let t = tails.swap_remove(i);
                        if let Some(o) = &t.open {
                            active.remove(&o.run.fp);
                        }
                        known.remove(&t.path);
                        finished.insert(t.path);
                        self.stats.unreadable.push((t.label.to_string(), e));
                        continue;
                    }
                }
                if self.consumer_gone {
                    return;
                }
                i += 1;
            }
            self.bound_memory(&mut tails);
            if !busy {
                std::thread::sleep(self.idle_wait());
            }
        }
        // Stop without treating a half-written line as complete.
        for t in &mut tails {
            if let Some(o) = t.open.as_mut() {
                self.flush(&mut o.run);
            }
        }
    }

    /// Batches filling in several tails together stay within one batch's memory: the
    /// largest is sent early.
    fn bound_memory(&mut self, tails: &mut [Tail]) {
        loop {
            let total: usize = tails
                .iter()
                .filter_map(|t| t.open.as_ref())
                .map(|o| o.run.batch_bytes)
                .sum();
            if total < super::CHUNK_BYTES {
                return;
            }
            let Some(o) = tails
                .iter_mut()
                .filter_map(|t| t.open.as_mut())
                .max_by_key(|o| o.run.batch_bytes)
            else {
                return;
            };
            self.flush(&mut o.run);
            if self.consumer_gone {
                return;
            }
        }
    }

    /// One step of reading `tail`: open its next generation, or read a turn's bytes, or
    /// notice that it was rotated, truncated or removed.
    fn step(&mut self, tail: &mut Tail, active: &mut HashSet<Arc<str>>) -> Result<Step, String> {
        let follow = self.opts.follow;
        let Some(open) = tail.open.as_mut() else {
            let first = match first_line(&tail.path, !follow) {
                Ok(Some(l)) => l,
                Ok(None) if follow => return Ok(Step::Idle),
                Ok(None) => return Ok(Step::Done { gone: false }),
                Err(e) if follow && e.kind() == std::io::ErrorKind::NotFound => {
                    return Ok(if gone_for_good(tail.matched, &mut tail.missing_since) {
                        Step::Done { gone: true }
                    } else {
                        Step::Idle
                    });
                }
                Err(e) => return Err(e.to_string()),
            };
            tail.missing_since = None;
            let fp = fingerprint(&first);
            if active.contains(fp.as_str()) {
                // Another path reads this source now; its checkpoint is where we go on.
                return Ok(Step::Idle);
            }
            let ino = std::fs::metadata(&tail.path)
                .map(|m| inode(&m))
                .map_err(|e| e.to_string())?;
            let (reader, gz) = open_reader(&tail.path).map_err(|e| e.to_string())?;
            let run = self.begin(fp, &tail.label)?;
            active.insert(run.fp.clone());
            tail.open = Some(Open {
                ino,
                reader,
                gz,
                pos: 0,
                run,
            });
            return Ok(Step::Busy);
        };
        let label = &tail.label;
        let mut buf = vec![0u8; 256 * 1024];
        let mut turn = 0usize;
        loop {
            let n = self.read_chunk(open, label, &mut buf)?;
            if n == 0 {
                break;
            }
            if self.consumer_gone {
                return Ok(Step::Done { gone: false });
            }
            turn += n;
            if follow && turn >= TURN {
                return Ok(Step::Busy);
            }
        }
        if turn > 0 {
            return Ok(Step::Busy);
        }
        // At the end of what is there now.
        let ended = if !follow || open.gz {
            Some(Step::Done { gone: false })
        } else {
            match std::fs::metadata(&tail.path) {
                // Rotated (renamed, a new file created): read what is left of ours.
                Ok(m) if inode(&m) != open.ino => {
                    self.drain(open, label)?;
                    Some(Step::Busy)
                }
                // Copytruncate.
                Ok(m) if m.len() < open.pos => Some(Step::Busy),
                Ok(_) => {
                    tail.missing_since = None;
                    None
                }
                Err(e)
                    if e.kind() == std::io::ErrorKind::NotFound
                        && gone_for_good(tail.matched, &mut tail.missing_since) =>
                {
                    self.drain(open, label)?;
                    Some(Step::Done { gone: true })
                }
                Err(_) => None,
            }
        };
        match ended {
            Some(step) => {
                if let Some(mut o) = tail.open.take() {
                    self.end(&mut o.run);
                    active.remove(&o.run.fp);
                }
                Ok(step)
            }
            None => {
                self.maybe_flush(&mut open.run, true);
                Ok(Step::Idle)
            }
        }
    }

    /// Reads what is left of a file that is no longer at its path.
    fn drain(&mut self, open: &mut Open, label: &str) -> Result<(), String> {
        let mut buf = vec![0u8; 256 * 1024];
        while self.read_chunk(open, label, &mut buf)? > 0 {}
        Ok(())
    }

    /// Reads once from `open` and parses what came; the bytes read (0: none now).
    fn read_chunk(
        &mut self,
        open: &mut Open,
        label: &str,
        buf: &mut [u8],
    ) -> Result<usize, String> {
        let n = open.reader.read(buf).map_err(|e| format!("{label}: {e}"))?;
        open.pos += n as u64;
        self.bytes_read += n as u64;
        self.feed(&mut open.run, &buf[..n]);
        self.maybe_flush(&mut open.run, false);
        Ok(n)
    }
}
