//! The tables ClickHouse keeps from `_events` with materialized views, as SQL that Cairn's
//! crates share: the forum's copy of the events (migration 0025), which cairn-report reads
//! (or, in users' copies of its queries, computes from the public events) and cairn-import
//! writes again after an insert that failed part-way.
//!
//! ```
//! use cairn_core::derived::{FORUM_COLUMNS, FORUM_SELECT};
//! let sql = format!("SELECT {FORUM_SELECT} FROM events WHERE family = 'forum'");
//! assert!(sql.contains("AS title") && FORUM_COLUMNS.ends_with("event_id"));
//! ```

/// The columns of `_forum_events`, in order.
pub const FORUM_COLUMNS: &str =
    "time, time_us, course_id, user_id, username, name, target, title, event_id";

/// [`FORUM_COLUMNS`] computed from an event's columns (`_events` or the public `events`):
/// `title` is a new thread's title (JSON spacing aside, as logged), empty for other events.
pub const FORUM_SELECT: &str = "time, time_us, course_id, user_id, username, name, target, \
     if(name = 'edx.forum.thread.created', \
        visitParamExtractString(replaceAll(message, '\": ', '\":'), 'title'), '') AS title, \
     event_id";
