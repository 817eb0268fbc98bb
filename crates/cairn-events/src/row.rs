//! The normalized row: one flat record per event, what Cairn stores in ClickHouse.
//!
//! Derivation rules (each applied in order, first non-empty wins):
//!
//! | column | rule |
//! |---|---|
//! | `time` | `time`, else `timestamp`, else the log line's own time (UTC); microseconds kept |
//! | `name` | `name`, else `event_type` |
//! | `course_id` | `context.course_id`, else `event.course_id`, else the course of `block_id` |
//! | `org` | `context.org_id`, else the org part of `course_id`, else of `block_id` |
//! | `user_id` | `context.user_id` (int or numeric string), else `event.user_id`, else null |
//! | `username`, `session`, `ip`, `agent`, `host`, `referer`, `accept_language`, `page` | top-level field, else the same field in `context`, else `""` |
//! | `path` | `context.path` |
//! | `block_id` | the family's block: `problem_id`, a browser problem form's `input_<id>` (made a usage key in the course), a video's `id` (likewise), a navigation `id`, a grade or completion `block_id` (the subsection for subsection grades), an exam's `exam_content_id`; else `context.module.usage_key` |
//! | `block_type` | the type part of `block_id` when it is a usage key |
//! | `video_id` | the video's block id (`event.id`) |
//! | `position` | video `currentTime`/`current_time`; for seeks, `new_time` |
//! | other family columns | straight from the typed payload ([`crate::Payload`]) |
//! | `target` (forum) | the thread: a response's or comment's `discussion.id`, a thread event's `id` |
//! | `message` | the event's JSON exactly as logged |
//! | `answers` | a `problem_check`'s answers per input ([`crate::answers`]) |

use cairn_core::keys::{CourseKey, UsageKey};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::answers::Answer;
use crate::event::{Event, Family, Payload};

/// One normalized event row (owned, flat, serializable).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventRow {
    /// Event time (UTC, microseconds).
    #[serde(with = "micros")]
    pub time: DateTime<Utc>,
    /// Event name.
    pub name: String,
    /// Raw `event_type`.
    pub event_type: String,
    /// `browser`, `server`, `mobile`, …
    pub event_source: String,
    /// Event family.
    pub family: Family,
    /// Course key (`""` when unknown).
    pub course_id: String,
    /// Organisation (`""` when unknown).
    pub org: String,
    /// LMS user id.
    pub user_id: Option<u64>,
    /// Username.
    pub username: String,
    /// Session id.
    pub session: String,
    /// Learner IP.
    pub ip: String,
    /// User agent.
    pub agent: String,
    /// LMS host.
    pub host: String,
    /// Referer.
    pub referer: String,
    /// Accept-Language.
    pub accept_language: String,
    /// Page URL.
    pub page: String,
    /// Request path (`context.path`).
    pub path: String,
    /// Usage key of the block the event is about.
    pub block_id: String,
    /// Block type of `block_id`.
    pub block_type: String,
    /// Video block id (video family).
    pub video_id: String,
    /// Video position in seconds.
    pub position: Option<f64>,
    /// Seek origin in seconds.
    pub old_position: Option<f64>,
    /// Video duration in seconds.
    pub video_duration: Option<f64>,
    /// Playback speed after a speed change.
    pub video_speed: Option<f64>,
    /// Problem attempts.
    pub attempts: Option<f64>,
    /// Raw earned points.
    pub grade: Option<f64>,
    /// Raw possible points.
    pub max_grade: Option<f64>,
    /// Problem result (`correct`, `incorrect`, …).
    pub success: String,
    /// Weighted earned points.
    pub weighted_earned: Option<f64>,
    /// Weighted possible points.
    pub weighted_possible: Option<f64>,
    /// Course grade 0–1.
    pub percent_grade: Option<f64>,
    /// Letter grade.
    pub letter_grade: String,
    /// Completion 0–1.
    pub completion: Option<f64>,
    /// Enrollment or certificate mode.
    pub enrollment_mode: String,
    /// Link target, navigation target name, or a forum event's thread id.
    pub target: String,
    /// Forum post, exam attempt or certificate id.
    pub item_id: String,
    /// The event's JSON exactly as logged.
    pub message: String,
    /// A `problem_check`'s answers, one per input (stored as the `answer_*` arrays).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub answers: Vec<Answer>,
}

mod micros {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Micros, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

/// Sets `out` to a usage key in `course` for a bare block id of `block_type` (v1 and CCX
/// courses only; otherwise to the id itself), keeping `out`'s memory.
fn set_usage_in(out: &mut String, course: &str, block_type: &str, id: &str) {
    out.clear();
    // Fast path for the common case; the general one below handles CCX and validation.
    if let Some(rest) = course.strip_prefix("course-v1:")
        && memchr::memchr_iter(b'+', rest.as_bytes()).count() == 2
        && memchr::memchr(b'+', id.as_bytes()).is_none()
    {
        for part in ["block-v1:", rest, "+type@", block_type, "+block@", id] {
            out.push_str(part);
        }
        return;
    }
    match CourseKey::parse(course) {
        Ok(c @ (CourseKey::V1 { .. } | CourseKey::Ccx { .. })) => out.push_str(
            &UsageKey::BlockV1 {
                course: c,
                block_type: block_type.to_owned(),
                block_id: id.to_owned(),
            }
            .to_string(),
        ),
        _ => out.push_str(id),
    }
}

/// The block an event's family names: a key as given, or a bare id to make a usage key of
/// in the event's course.
enum FamilyBlock<'a> {
    Key(&'a str),
    In(&'static str, &'a str),
}

/// The type part of a well-formed `block-v1:…+type@T+block@ID` key, without allocating:
/// after the last `+type@`, up to the first `+block@` (found by their `@`s: keys are short
/// and have two, where a substring searcher costs more to set up than to run).
fn block_type_of_v1(key: &str) -> Option<&str> {
    let b = key.as_bytes();
    let ty_at = memchr::memrchr_iter(b'@', b).find(|&i| b[..i].ends_with(b"+type"))? + 1;
    let after = &b[ty_at..];
    let block_at = memchr::memchr_iter(b'@', after).find(|&i| after[..i].ends_with(b"+block"))?;
    // Both ends are next to ASCII bytes, so on character boundaries.
    let (ty, id) = (
        &key[ty_at..ty_at + block_at - "+block".len()],
        &key[ty_at + block_at + 1..],
    );
    (!ty.is_empty() && !id.is_empty() && !id.contains('+')).then_some(ty)
}

/// Sets `to` to `from`, keeping `to`'s memory.
fn set(to: &mut String, from: &str) {
    to.clear();
    to.push_str(from);
}

impl EventRow {
    /// An otherwise empty row (time 0, family `other`) carrying `message`: for tests and
    /// tools that build rows by hand.
    pub fn for_message(message: &str) -> EventRow {
        EventRow {
            message: message.to_owned(),
            ..EventRow::default()
        }
    }

    /// Normalizes a parsed event.
    pub fn from_event(e: &Event<'_>) -> EventRow {
        let mut row = EventRow::default();
        row.set_from_event(e);
        row
    }

    /// Makes this row `e`'s, as [`EventRow::from_event`] would, reusing the memory of its
    /// strings: a reader that refills the same rows allocates almost nothing per event.
    pub fn set_from_event(&mut self, e: &Event<'_>) {
        let row = self;
        let module_key = e
            .context
            .module
            .0
            .as_ref()
            .and_then(|m| m.usage_key.non_empty())
            .unwrap_or("");
        set(
            &mut row.course_id,
            e.context
                .course_id
                .non_empty()
                .or((!e.payload_course_id.is_empty()).then_some(e.payload_course_id.as_ref()))
                .unwrap_or(""),
        );
        row.time = e.time;
        set(&mut row.name, &e.name);
        set(&mut row.event_type, &e.event_type);
        set(&mut row.event_source, &e.event_source);
        row.family = e.family;
        row.org.clear();
        row.user_id = e.context.user_id.0.or(e.payload_user_id);
        set(&mut row.username, &e.username);
        set(&mut row.session, &e.session);
        set(&mut row.ip, &e.ip);
        set(&mut row.agent, &e.agent);
        set(&mut row.host, &e.host);
        set(&mut row.referer, &e.referer);
        set(&mut row.accept_language, &e.accept_language);
        set(&mut row.page, &e.page);
        set(&mut row.path, e.context.path.as_str());
        set(&mut row.block_id, module_key);
        row.block_type.clear();
        row.video_id.clear();
        row.position = None;
        row.old_position = None;
        row.video_duration = None;
        row.video_speed = None;
        row.attempts = None;
        row.grade = None;
        row.max_grade = None;
        row.success.clear();
        row.weighted_earned = None;
        row.weighted_possible = None;
        row.percent_grade = None;
        row.letter_grade.clear();
        row.completion = None;
        row.enrollment_mode.clear();
        row.target.clear();
        row.item_id.clear();
        set(&mut row.message, e.raw);
        row.answers = crate::answers::answers_of(e);
        let mut family_block = FamilyBlock::Key("");
        match &e.payload {
            Payload::Enrollment { mode } => set(&mut row.enrollment_mode, mode),
            Payload::Video {
                video_id,
                position,
                old_position,
                new_position,
                duration,
                speed,
                ..
            } => {
                set(&mut row.video_id, video_id);
                row.position = new_position.or(*position);
                row.old_position = if new_position.is_some() {
                    old_position.or(*position)
                } else {
                    *old_position
                };
                row.video_duration = *duration;
                row.video_speed = *speed;
                if !video_id.is_empty() {
                    family_block = FamilyBlock::In("video", video_id);
                }
            }
            Payload::Problem {
                problem_id,
                attempts,
                grade,
                max_grade,
                success,
                weighted_earned,
                weighted_possible,
            } => {
                row.attempts = *attempts;
                row.grade = *grade;
                row.max_grade = *max_grade;
                set(&mut row.success, success);
                row.weighted_earned = *weighted_earned;
                row.weighted_possible = *weighted_possible;
                family_block = if problem_id.contains(':') || problem_id.is_empty() {
                    FamilyBlock::Key(problem_id)
                } else {
                    FamilyBlock::In("problem", problem_id)
                };
            }
            Payload::Navigation {
                id, target_name, ..
            } => {
                family_block = FamilyBlock::Key(id);
                set(&mut row.target, target_name);
            }
            Payload::LinkClick { target_url, .. } => set(&mut row.target, target_url),
            Payload::Grade {
                block_id,
                percent_grade,
                letter_grade,
                weighted_earned,
                weighted_possible,
            } => {
                family_block = FamilyBlock::Key(block_id);
                row.percent_grade = *percent_grade;
                set(&mut row.letter_grade, letter_grade);
                row.weighted_earned = *weighted_earned;
                row.weighted_possible = *weighted_possible;
            }
            Payload::Completion {
                block_id,
                completion,
            } => {
                family_block = FamilyBlock::Key(block_id);
                row.completion = *completion;
            }
            Payload::Forum { id, thread, .. } => {
                set(&mut row.item_id, id);
                // The thread: a response's or comment's, or a thread event's own.
                if !thread.is_empty() {
                    set(&mut row.target, thread);
                } else if e.name.starts_with("edx.forum.thread.") {
                    set(&mut row.target, id);
                }
            }
            Payload::SpecialExam {
                exam_content_id,
                attempt_id,
                ..
            } => {
                family_block = FamilyBlock::Key(exam_content_id);
                set(&mut row.item_id, attempt_id);
            }
            Payload::Certificate {
                certificate_id,
                mode,
            } => {
                set(&mut row.item_id, certificate_id);
                set(&mut row.enrollment_mode, mode);
            }
            Payload::Other => {}
        }
        match family_block {
            FamilyBlock::Key("") => {}
            FamilyBlock::Key(key) => set(&mut row.block_id, key),
            FamilyBlock::In(ty, id) => set_usage_in(&mut row.block_id, &row.course_id, ty, id),
        }
        // Parsing the usage key allocates; only the type is needed for every event, the
        // course and org only when the context lacks them.
        let org_id = e.context.org_id.non_empty();
        if !row.block_id.is_empty() {
            if row.course_id.is_empty()
                || org_id.is_none()
                || !row.block_id.starts_with("block-v1:")
            {
                if let Ok(b) = UsageKey::parse(&row.block_id) {
                    set(&mut row.block_type, b.block_type());
                    if row.course_id.is_empty()
                        && let Some(c) = b.course_key()
                    {
                        row.course_id = c.to_string();
                    }
                    if org_id.is_none() && row.course_id.is_empty() {
                        set(&mut row.org, b.org());
                    }
                }
            } else if let Some(ty) = block_type_of_v1(&row.block_id) {
                set(&mut row.block_type, ty);
            }
        }
        if let Some(o) = org_id {
            set(&mut row.org, o);
        } else if let Ok(c) = CourseKey::parse(&row.course_id) {
            let org = c.org().to_owned();
            row.org = org;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The plain reading `block_type_of_v1` must equal.
    fn reference(key: &str) -> Option<&str> {
        let (_, after) = key.rsplit_once("+type@")?;
        let (ty, id) = after.split_once("+block@")?;
        (!ty.is_empty() && !id.is_empty() && !id.contains('+')).then_some(ty)
    }

    #[test]
    fn block_types_of_real_and_odd_keys() {
        for (key, ty) in [
            (
                "block-v1:edX+DemoX+Demo_Course+type@video+block@0b9e",
                Some("video"),
            ),
            (
                "block-v1:o+c+r+type@problem+block@a+type@html+block@b",
                Some("html"),
            ),
            ("block-v1:o+c+r+type@+block@x", None),
            ("block-v1:o+c+r+type@video+block@", None),
            ("block-v1:o+c+r+type@video+block@a+b", None),
            ("block-v1:o+c+r+type@vidé@o+block@x@y", Some("vidé@o")),
            ("i4x://o/c/video/x", None),
        ] {
            assert_eq!(block_type_of_v1(key), ty, "{key}");
            assert_eq!(reference(key), ty, "{key}");
        }
    }

    proptest! {
        #[test]
        fn block_type_reads_as_split_once_does(
            key in "(block-v1:|\\+type@|\\+block@|\\+|type|block|@|é|[a-c]){0,16}"
        ) {
            prop_assert_eq!(block_type_of_v1(&key), reference(&key));
        }
    }
}
