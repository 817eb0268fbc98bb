//! Open edX tracking-log events: bytes → lines → typed events → normalized rows.
//!
//! Reads every format real Open edX logs come in — Tutor's `standard` formatter
//! (`… [tracking] [user N] [ip X] logger.py:41 - {json}` and its older forms), one JSON
//! event per line, Docker json-file entries and Kubernetes CRI lines (partial entries
//! joined) — and never panics on input. Non-event lines are classified, bad lines are
//! reported with their line number and a reason from a small set ([`Skip`], [`Reject`]).
//! Pure: no I/O beyond what it is given, no ClickHouse, no async runtime.
//!
//! ```
//! use cairn_events::{EventRow, Item, LogParser};
//!
//! let log = br#"2023-05-23 14:12:17,308 INFO 7 [tracking] [user 6] [ip 172.18.0.1] logger.py:41 - {"name": "play_video", "context": {"user_id": 6, "course_id": "course-v1:edX+DemoX+Demo_Course", "org_id": "edX"}, "username": "ada", "event": "{\"id\": \"0b9e39477cf34507a7a48f74be381fdd\", \"currentTime\": 12.5}", "time": "2023-05-23T14:12:17.299491+00:00", "event_type": "play_video", "event_source": "browser"}
//! 2023-05-23 14:12:18,001 WARNING 7 [django.request] [user None] [ip None] log.py:241 - Not Found: /favicon.ico
//! "#;
//! let mut rows = Vec::new();
//! let mut skipped = 0;
//! LogParser::default().parse_all(log, &mut |item| match item {
//!     Item::Event { event, .. } => rows.push(EventRow::from_event(&event)),
//!     _ => skipped += 1,
//! });
//! assert_eq!(rows.len(), 1);
//! assert_eq!(rows[0].user_id, Some(6));
//! assert_eq!(rows[0].video_id, "0b9e39477cf34507a7a48f74be381fdd");
//! assert_eq!(rows[0].position, Some(12.5));
//! assert_eq!(rows[0].block_id, "block-v1:edX+DemoX+Demo_Course+type@video+block@0b9e39477cf34507a7a48f74be381fdd");
//! assert_eq!(skipped, 1);
//! ```

#![warn(missing_docs)]

pub mod answers;
pub mod event;
pub mod lenient;
pub mod line;
pub mod parser;
pub mod row;
pub mod scrub;

pub use answers::Answer;
pub use event::{Event, EventError, Family, Payload, PayloadForm, TimeFrom, parse_event};
pub use line::{LineFormat, Message, classify};
pub use parser::{
    DEFAULT_MAX_LINE, Item, LogParser, Reject, Skip, for_each_line, lines, parse_reader,
};
pub use row::EventRow;
