//! The log parser: physical lines in, [`Item`]s out (events, course-publish signals,
//! skipped and rejected lines with their line numbers and reasons).

use std::borrow::Cow;
use std::fmt;
use std::io::BufRead;

use chrono::{DateTime, Utc};

use crate::event::{Event, EventError, parse_event};
use crate::line::{Frame, LineFormat, Message, classify, unwrap_frame};

/// Default cap on one logical line (a whole event after joining partials): 4 MiB.
pub const DEFAULT_MAX_LINE: usize = 4 << 20;

/// Why a line was skipped: it is not an event, and that is normal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Skip {
    /// A log line of another logger, or text with no log prefix (tracebacks…).
    NotTracking,
    /// An empty or blank line.
    Blank,
    /// A course-overview line (a course publish); reported as [`Item::CoursePublished`].
    CoursePublished,
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Skip::NotTracking => "not a tracking line",
            Skip::Blank => "blank line",
            Skip::CoursePublished => "course publish signal",
        })
    }
}

/// Why a line that should hold an event was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reject {
    /// The event's JSON does not parse (cut off, split and never completed, broken).
    MalformedJson,
    /// The event has no readable `time`/`timestamp` and the line has no time either.
    NoTimestamp,
    /// The line is longer than the parser's cap.
    TooLong,
    /// The line is not UTF-8.
    InvalidUtf8,
    /// A Docker or CRI line whose wrapper is malformed.
    BadContainerLine,
    /// A partial container entry that was never completed.
    IncompletePartial,
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reject::MalformedJson => "malformed JSON",
            Reject::NoTimestamp => "no timestamp",
            Reject::TooLong => "too long",
            Reject::InvalidUtf8 => "invalid UTF-8",
            Reject::BadContainerLine => "malformed container line",
            Reject::IncompletePartial => "incomplete partial entry",
        })
    }
}

/// One result of parsing. `line` is the 1-based physical line where the item starts.
///
/// Items are handed to a callback by value and never stored by the parser, so the large
/// `Event` variant is not boxed (that would cost an allocation per event).
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Item<'a> {
    /// A tracking event.
    Event {
        /// Line number.
        line: u64,
        /// Byte offset of that line's start in the input (what checkpoints record).
        offset: u64,
        /// The event.
        event: Event<'a>,
    },
    /// A course was (re)published: its overview was updated or created.
    CoursePublished {
        /// Line number.
        line: u64,
        /// The full course key.
        course_id: &'a str,
    },
    /// Not an event (normal).
    Skipped {
        /// Line number.
        line: u64,
        /// Why.
        reason: Skip,
    },
    /// Should have been an event but is not.
    Rejected {
        /// Line number.
        line: u64,
        /// Why.
        reason: Reject,
        /// Details (parser message).
        detail: String,
    },
}

struct Partial {
    first_line: u64,
    first_offset: u64,
    text: String,
}

struct Head {
    line: u64,
    offset: u64,
    text: String,
    line_time: Option<DateTime<Utc>>,
    error: String,
}

/// Stateful log parser: feed it physical lines in order, then [`LogParser::finish`].
///
/// State is kept for container partial entries (joined) and for a tracking line whose
/// JSON ended early (a runtime split at 16 KiB with no container marker): if the next line
/// has no log prefix, the two are joined and parsed once more.
pub struct LogParser {
    format: LineFormat,
    max_line: usize,
    partial: Option<Partial>,
    head: Option<Head>,
}

impl Default for LogParser {
    fn default() -> Self {
        LogParser::new(LineFormat::Auto)
    }
}

impl LogParser {
    /// A parser for `format` with the default line cap.
    pub fn new(format: LineFormat) -> Self {
        LogParser {
            format,
            max_line: DEFAULT_MAX_LINE,
            partial: None,
            head: None,
        }
    }

    /// Sets the cap on one logical line, in bytes.
    pub fn with_max_line(mut self, max: usize) -> Self {
        self.max_line = max;
        self
    }

    /// Whether the parser holds an incomplete event (a partial entry or a split head).
    pub fn is_holding(&self) -> bool {
        self.partial.is_some() || self.head.is_some()
    }

    /// The byte offset where the held incomplete event starts, if any: a checkpoint must
    /// not move past it, or a restart would lose the event's first part.
    pub fn held_offset(&self) -> Option<u64> {
        match (&self.head, &self.partial) {
            (Some(h), Some(p)) => Some(h.offset.min(p.first_offset)),
            (Some(h), None) => Some(h.offset),
            (None, Some(p)) => Some(p.first_offset),
            (None, None) => None,
        }
    }

    /// Feeds one physical line (without its `\n`; a trailing `\r` is dropped): its 1-based
    /// number, the byte offset of its start, and its bytes.
    pub fn feed(
        &mut self,
        line_no: u64,
        offset: u64,
        bytes: &[u8],
        sink: &mut impl FnMut(Item<'_>),
    ) {
        if bytes.len() > self.max_line {
            self.flush_head(sink);
            return sink(Item::Rejected {
                line: line_no,
                reason: Reject::TooLong,
                detail: format!("{} bytes, the cap is {}", bytes.len(), self.max_line),
            });
        }
        // simdutf8's check (SIMD, chosen at run time) for the common valid line; std's for
        // the message of an invalid one.
        let line = match simdutf8::basic::from_utf8(bytes).map_err(|_| std::str::from_utf8(bytes)) {
            Ok(s) => s,
            Err(Ok(s)) => s,
            Err(Err(e)) => {
                self.flush_head(sink);
                return sink(Item::Rejected {
                    line: line_no,
                    reason: Reject::InvalidUtf8,
                    detail: e.to_string(),
                });
            }
        };
        let line = line.strip_suffix('\r').unwrap_or(line);
        let frame = match unwrap_frame(line, self.format) {
            Ok(f) => f,
            Err(detail) => {
                self.flush_head(sink);
                return sink(Item::Rejected {
                    line: line_no,
                    reason: Reject::BadContainerLine,
                    detail,
                });
            }
        };
        let (first_line, first_offset, text): (u64, u64, Cow<'_, str>) = match frame {
            Frame::Bare(s) => {
                self.flush_partial(sink);
                (line_no, offset, Cow::Borrowed(s))
            }
            Frame::Partial(s) => {
                let p = self.partial.get_or_insert_with(|| Partial {
                    first_line: line_no,
                    first_offset: offset,
                    text: String::new(),
                });
                p.text.push_str(&s);
                if p.text.len() > self.max_line {
                    let p = self.partial.take().expect("partial present");
                    sink(Item::Rejected {
                        line: p.first_line,
                        reason: Reject::TooLong,
                        detail: format!("joined entry over {} bytes", self.max_line),
                    });
                }
                return;
            }
            Frame::Full(s) => match self.partial.take() {
                Some(mut p) => {
                    p.text.push_str(&s);
                    (p.first_line, p.first_offset, Cow::Owned(p.text))
                }
                None => (line_no, offset, s),
            },
        };
        self.message(first_line, first_offset, &text, sink);
    }

    /// Ends the input: whatever is still held is rejected.
    pub fn finish(&mut self, sink: &mut impl FnMut(Item<'_>)) {
        self.flush_partial(sink);
        self.flush_head(sink);
    }

    /// Parses a whole in-memory log (lines split on `\n`), then finishes.
    pub fn parse_all(&mut self, buf: &[u8], sink: &mut impl FnMut(Item<'_>)) {
        for (n, offset, line) in lines(buf) {
            self.feed(n, offset, line, sink);
        }
        self.finish(sink);
    }

    fn flush_partial(&mut self, sink: &mut impl FnMut(Item<'_>)) {
        if let Some(p) = self.partial.take() {
            sink(Item::Rejected {
                line: p.first_line,
                reason: Reject::IncompletePartial,
                detail: format!("{} bytes with no final entry", p.text.len()),
            });
        }
    }

    fn flush_head(&mut self, sink: &mut impl FnMut(Item<'_>)) {
        if let Some(h) = self.head.take() {
            sink(Item::Rejected {
                line: h.line,
                reason: Reject::MalformedJson,
                detail: h.error,
            });
        }
    }

    fn message(&mut self, line: u64, offset: u64, text: &str, sink: &mut impl FnMut(Item<'_>)) {
        let msg = classify(text);
        if let Some(head) = self.head.take() {
            if msg == Message::Text {
                let joined = head.text.clone() + text;
                if let Ok(event) = parse_event(&joined, head.line_time) {
                    return sink(Item::Event {
                        line: head.line,
                        offset: head.offset,
                        event,
                    });
                }
            }
            sink(Item::Rejected {
                line: head.line,
                reason: Reject::MalformedJson,
                detail: head.error,
            });
        }
        match msg {
            Message::Tracking { json, line_time } => {
                self.event(line, offset, json, line_time, sink)
            }
            Message::Json(json) => self.event(line, offset, json, None, sink),
            Message::CoursePublished(course_id) => sink(Item::CoursePublished { line, course_id }),
            Message::OtherLog | Message::Text => sink(Item::Skipped {
                line,
                reason: Skip::NotTracking,
            }),
            Message::Blank => sink(Item::Skipped {
                line,
                reason: Skip::Blank,
            }),
        }
    }

    fn event(
        &mut self,
        line: u64,
        offset: u64,
        json: &str,
        line_time: Option<DateTime<Utc>>,
        sink: &mut impl FnMut(Item<'_>),
    ) {
        match parse_event(json, line_time) {
            Ok(event) => sink(Item::Event {
                line,
                offset,
                event,
            }),
            Err(EventError::Json {
                message,
                truncated: true,
            }) => {
                self.head = Some(Head {
                    line,
                    offset,
                    text: json.to_owned(),
                    line_time,
                    error: format!("truncated: {message}"),
                });
            }
            Err(e @ EventError::Json { .. }) => sink(Item::Rejected {
                line,
                reason: Reject::MalformedJson,
                detail: e.to_string(),
            }),
            Err(e @ EventError::NoTimestamp(_)) => sink(Item::Rejected {
                line,
                reason: Reject::NoTimestamp,
                detail: e.to_string(),
            }),
        }
    }
}

/// Splits an in-memory log into (1-based number, byte offset, line) on `\n`, with
/// `memchr`. A last line without `\n` is included.
pub fn lines(buf: &[u8]) -> impl Iterator<Item = (u64, u64, &[u8])> {
    let mut start = 0usize;
    let mut n = 0u64;
    let mut ends = memchr::memchr_iter(b'\n', buf);
    std::iter::from_fn(move || {
        let end = match ends.next() {
            Some(e) => e,
            None if start < buf.len() => buf.len(),
            None => return None,
        };
        let line = &buf[start..end];
        let offset = start as u64;
        start = end + 1;
        n += 1;
        Some((n, offset, line))
    })
}

/// Reads lines from a reader into a reused buffer, calling `f(number, offset, line)`,
/// never holding more than `max + 1` bytes of one line: a longer line is passed cut at
/// `max + 1` bytes (so the parser rejects it as too long) and the rest is skipped.
/// Offsets count from `start_offset` (where the reader was positioned). Returns the number
/// of lines.
pub fn for_each_line(
    mut r: impl BufRead,
    max: usize,
    start_offset: u64,
    mut f: impl FnMut(u64, u64, &[u8]),
) -> std::io::Result<u64> {
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut n = 0u64;
    let mut offset = start_offset;
    loop {
        let line_start = offset;
        buf.clear();
        let mut overflow = false;
        let mut got_any = false;
        loop {
            let chunk = r.fill_buf()?;
            if chunk.is_empty() {
                break;
            }
            got_any = true;
            let (take, done) = match memchr::memchr(b'\n', chunk) {
                Some(i) => (i + 1, true),
                None => (chunk.len(), false),
            };
            let room = (max + 1).saturating_sub(buf.len());
            let keep = if done { take - 1 } else { take };
            if keep > room {
                overflow = true;
            }
            buf.extend_from_slice(&chunk[..keep.min(room)]);
            r.consume(take);
            offset += take as u64;
            if done {
                break;
            }
        }
        if !got_any {
            return Ok(n);
        }
        n += 1;
        debug_assert!(!overflow || buf.len() == max + 1);
        f(n, line_start, &buf);
    }
}

/// Parses everything `r` yields with a fresh [`LogParser`] for `format`, then finishes.
pub fn parse_reader(
    r: impl BufRead,
    format: LineFormat,
    sink: &mut impl FnMut(Item<'_>),
) -> std::io::Result<u64> {
    let mut parser = LogParser::new(format);
    let max = parser.max_line;
    let n = for_each_line(r, max, 0, |n, offset, line| {
        parser.feed(n, offset, line, sink)
    })?;
    parser.finish(sink);
    Ok(n)
}
