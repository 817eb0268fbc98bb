//! Typed Open edX tracking events, parsed from the JSON of one log message.
//!
//! The envelope is parsed once with borrowed strings; the payload (`event`, or `data` in
//! the eventtracking shape) once more from its own text, in whatever form it arrives.

use std::borrow::Cow;
use std::mem::take;

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

pub use crate::answers::CheckParts;
use crate::answers::{Correctness, Part, Strings, Submitted, own_part};
use crate::lenient::{Flag, Id, Num, Obj, PayloadValue, Text};

/// The event family, from the event name (or `event_type` when the name is missing).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// `edx.course.enrollment.*`.
    Enrollment,
    /// Browser video events (`play_video`, …) and `edx.video.*`.
    Video,
    /// `problem_check`, `showanswer`, `edx.problem.*`, `edx.grades.problem.submitted`, …
    Problem,
    /// Sequence and outline navigation (`seq_goto`, `edx.ui.lms.sequence.*`, …).
    Navigation,
    /// `edx.ui.lms.link_clicked`.
    LinkClick,
    /// `edx.grades.subsection.*`, `edx.grades.course.*`, `edx.course.grade.*`.
    Grade,
    /// `edx.completion.*`.
    Completion,
    /// `edx.forum.*`.
    Forum,
    /// `edx.special_exam.*`.
    SpecialExam,
    /// `edx.certificate.*`.
    Certificate,
    /// Implicit server events whose name is a URL path.
    Implicit,
    /// Anything else; the raw message keeps the payload.
    #[default]
    Other,
}

const VIDEO_NAMES: &[&str] = &[
    "play_video",
    "pause_video",
    "seek_video",
    "stop_video",
    "load_video",
    "complete_video",
    "speed_change_video",
    "show_transcript",
    "hide_transcript",
    "video_show_cc_menu",
    "video_hide_cc_menu",
];

const PROBLEM_NAMES: &[&str] = &[
    "problem_check",
    "problem_check_fail",
    "problem_graded",
    "problem_save",
    "problem_reset",
    "problem_rescore",
    "problem_rescore_fail",
    "problem_show",
    "showanswer",
    "save_problem_success",
    "save_problem_fail",
    "reset_problem",
    "reset_problem_fail",
];

impl Family {
    /// The family's name as stored (`video`, `link_click`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Enrollment => "enrollment",
            Family::Video => "video",
            Family::Problem => "problem",
            Family::Navigation => "navigation",
            Family::LinkClick => "link_click",
            Family::Grade => "grade",
            Family::Completion => "completion",
            Family::Forum => "forum",
            Family::SpecialExam => "special_exam",
            Family::Certificate => "certificate",
            Family::Implicit => "implicit",
            Family::Other => "other",
        }
    }

    /// The family of an event name.
    pub fn of(name: &str) -> Family {
        if let Some(rest) = name.strip_prefix("edx.") {
            let (group, _) = rest.split_once('.').unwrap_or((rest, ""));
            return match group {
                "course" if rest.starts_with("course.enrollment.") => Family::Enrollment,
                "course" if rest.starts_with("course.grade.") => Family::Grade,
                "video" => Family::Video,
                "problem" => Family::Problem,
                "grades" if rest.starts_with("grades.problem.") => Family::Problem,
                "grades" => Family::Grade,
                "completion" => Family::Completion,
                "forum" => Family::Forum,
                "special_exam" => Family::SpecialExam,
                "certificate" => Family::Certificate,
                "ui" if rest == "ui.lms.link_clicked" => Family::LinkClick,
                "ui" if rest.starts_with("ui.lms.sequence.")
                    || rest.starts_with("ui.lms.outline.")
                    || rest.starts_with("ui.lms.jump_nav.") =>
                {
                    Family::Navigation
                }
                _ => Family::Other,
            };
        }
        if VIDEO_NAMES.contains(&name) {
            Family::Video
        } else if PROBLEM_NAMES.contains(&name) {
            Family::Problem
        } else if matches!(name, "seq_goto" | "seq_next" | "seq_prev") {
            Family::Navigation
        } else if name.starts_with('/') {
            Family::Implicit
        } else {
            Family::Other
        }
    }
}

/// In which form the payload arrived (the quirks of real logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PayloadForm {
    /// No `event`/`data` field (or `null`).
    Absent,
    /// A JSON object.
    Object,
    /// A JSON-encoded string holding an object (browser events).
    EncodedObject,
    /// A string encoded twice or more.
    DoubleEncoded,
    /// A url-encoded form (`input_…=choice_1&…`).
    Form,
    /// A JSON list.
    List,
    /// Any other string.
    Text,
    /// A number or bool.
    Scalar,
}

/// The `context.module` object.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Module<'a> {
    /// Usage key of the block.
    #[serde(borrow, default)]
    pub usage_key: Text<'a>,
    /// Display name of the block.
    #[serde(borrow, default)]
    pub display_name: Text<'a>,
}

/// The `context` object (eventtracking moves request fields out of it, but some events
/// still carry them there; they serve as fallbacks).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Context<'a> {
    /// Course key.
    #[serde(borrow, default)]
    pub course_id: Text<'a>,
    /// Organisation.
    #[serde(borrow, default)]
    pub org_id: Text<'a>,
    /// LMS user id (int, string, null or empty in real logs).
    #[serde(default)]
    pub user_id: Id,
    /// Request path.
    #[serde(borrow, default)]
    pub path: Text<'a>,
    /// The block the event is about.
    #[serde(borrow, default)]
    pub module: Obj<Module<'a>>,
    #[serde(borrow, default)]
    username: Text<'a>,
    #[serde(borrow, default)]
    session: Text<'a>,
    #[serde(borrow, default)]
    ip: Text<'a>,
    #[serde(borrow, default)]
    agent: Text<'a>,
    #[serde(borrow, default)]
    host: Text<'a>,
    #[serde(borrow, default)]
    referer: Text<'a>,
    #[serde(borrow, default)]
    accept_language: Text<'a>,
    #[serde(borrow, default)]
    event_source: Text<'a>,
    #[serde(borrow, default)]
    page: Text<'a>,
}

/// The message's fields; the payload (`event`, `data`) as `P`: read in the same pass
/// ([`PayloadValue`]), or kept as raw text when that pass failed on it.
#[derive(Deserialize)]
#[serde(bound(deserialize = "P: Deserialize<'de> + Default"))]
struct Envelope<'a, P> {
    #[serde(borrow, default)]
    name: Text<'a>,
    #[serde(borrow, default)]
    event_type: Text<'a>,
    #[serde(borrow, default)]
    event_source: Text<'a>,
    #[serde(borrow, default)]
    time: Text<'a>,
    #[serde(borrow, default)]
    timestamp: Text<'a>,
    #[serde(borrow, default)]
    username: Text<'a>,
    #[serde(borrow, default)]
    session: Text<'a>,
    #[serde(borrow, default)]
    ip: Text<'a>,
    #[serde(borrow, default)]
    agent: Text<'a>,
    #[serde(borrow, default)]
    host: Text<'a>,
    #[serde(borrow, default)]
    referer: Text<'a>,
    #[serde(borrow, default)]
    accept_language: Text<'a>,
    #[serde(borrow, default)]
    page: Text<'a>,
    #[serde(borrow, default)]
    context: Obj<Box<Context<'a>>>,
    #[serde(default)]
    event: P,
    #[serde(default)]
    data: P,
}

impl<'a, P> Envelope<'a, P> {
    /// The same envelope with its payload read by `f`.
    fn map_payload<Q>(self, f: impl Fn(P) -> Q) -> Envelope<'a, Q> {
        Envelope {
            name: self.name,
            event_type: self.event_type,
            event_source: self.event_source,
            time: self.time,
            timestamp: self.timestamp,
            username: self.username,
            session: self.session,
            ip: self.ip,
            agent: self.agent,
            host: self.host,
            referer: self.referer,
            accept_language: self.accept_language,
            page: self.page,
            context: self.context,
            event: f(self.event),
            data: f(self.data),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
struct Discussion<'a> {
    #[serde(borrow, default)]
    id: Text<'a>,
}

/// Every payload field Cairn reads, across families; one lenient pass over the payload.
/// A server `problem_check`'s answer parts are read typed ([`Fields`]), or kept as raw
/// JSON ([`RawFields`]) when that read fails on them.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
struct FieldsOf<'a, A, S, C> {
    #[serde(borrow, default)]
    id: Text<'a>,
    #[serde(borrow, default)]
    code: Text<'a>,
    #[serde(default, rename = "currentTime")]
    current_time_camel: Num,
    #[serde(default)]
    current_time: Num,
    #[serde(default)]
    old_time: Num,
    #[serde(default)]
    new_time: Num,
    #[serde(default)]
    duration: Num,
    #[serde(default)]
    old_speed: Num,
    #[serde(default)]
    new_speed: Num,
    #[serde(borrow, default)]
    problem_id: Text<'a>,
    #[serde(default)]
    attempts: Num,
    #[serde(default)]
    grade: Num,
    #[serde(default)]
    max_grade: Num,
    #[serde(borrow, default)]
    success: Text<'a>,
    #[serde(default)]
    weighted_earned: Num,
    #[serde(default)]
    weighted_possible: Num,
    #[serde(default)]
    weighted_graded_earned: Num,
    #[serde(default)]
    weighted_graded_possible: Num,
    #[serde(default)]
    user_id: Id,
    #[serde(borrow, default)]
    course_id: Text<'a>,
    #[serde(borrow, default)]
    mode: Text<'a>,
    #[serde(default)]
    percent_grade: Num,
    #[serde(borrow, default)]
    letter_grade: Text<'a>,
    #[serde(borrow, default)]
    block_id: Text<'a>,
    #[serde(default)]
    completion: Num,
    #[serde(default)]
    old: Num,
    #[serde(default)]
    new: Num,
    #[serde(default)]
    current_tab: Num,
    #[serde(default)]
    tab_count: Num,
    #[serde(borrow, default)]
    target_name: Text<'a>,
    #[serde(borrow, default)]
    target_url: Text<'a>,
    #[serde(borrow, default)]
    current_url: Text<'a>,
    #[serde(borrow, default)]
    exam_id: Text<'a>,
    #[serde(borrow, default)]
    exam_content_id: Text<'a>,
    #[serde(borrow, default)]
    attempt_id: Text<'a>,
    #[serde(borrow, default)]
    attempt_status: Text<'a>,
    #[serde(borrow, default)]
    certificate_id: Text<'a>,
    #[serde(borrow, default)]
    commentable_id: Text<'a>,
    #[serde(borrow, default)]
    discussion: Obj<Discussion<'a>>,
    #[serde(default)]
    correct: Flag,
    #[serde(default)]
    answers: A,
    #[serde(default)]
    submission: S,
    #[serde(default)]
    correct_map: C,
}

/// The payload's fields, the answer parts typed.
type Fields<'a> = FieldsOf<
    'a,
    Part<'a, Strings<'a>>,
    Part<'a, Obj<Submitted<'a>>>,
    Part<'a, Obj<Correctness<'a>>>,
>;

/// The payload's fields, the answer parts as raw JSON (each read on its own afterwards).
type RawFields<'a> = FieldsOf<'a, Option<&'a RawValue>, Option<&'a RawValue>, Option<&'a RawValue>>;

/// A part read from its raw JSON on its own: empty when it does not read.
fn part_of<'a, V: Deserialize<'a>>(raw: Option<&'a RawValue>) -> Part<'a, V> {
    raw.and_then(|r| serde_json::from_str(r.get()).ok())
        .unwrap_or(Obj(None))
}

/// Reads a payload object's fields. Should the answer parts make the one read fail (a
/// value nested deeper than serde_json's recursion limit), the rest is read with the
/// parts skipped, and each part on its own: the other fields are kept.
fn read_fields(text: &str) -> Option<Fields<'_>> {
    if let Ok(f) = serde_json::from_str::<Fields<'_>>(text) {
        return Some(f);
    }
    let r = serde_json::from_str::<RawFields<'_>>(text).ok()?;
    Some(FieldsOf {
        id: r.id,
        code: r.code,
        current_time_camel: r.current_time_camel,
        current_time: r.current_time,
        old_time: r.old_time,
        new_time: r.new_time,
        duration: r.duration,
        old_speed: r.old_speed,
        new_speed: r.new_speed,
        problem_id: r.problem_id,
        attempts: r.attempts,
        grade: r.grade,
        max_grade: r.max_grade,
        success: r.success,
        weighted_earned: r.weighted_earned,
        weighted_possible: r.weighted_possible,
        weighted_graded_earned: r.weighted_graded_earned,
        weighted_graded_possible: r.weighted_graded_possible,
        user_id: r.user_id,
        course_id: r.course_id,
        mode: r.mode,
        percent_grade: r.percent_grade,
        letter_grade: r.letter_grade,
        block_id: r.block_id,
        completion: r.completion,
        old: r.old,
        new: r.new,
        current_tab: r.current_tab,
        tab_count: r.tab_count,
        target_name: r.target_name,
        target_url: r.target_url,
        current_url: r.current_url,
        exam_id: r.exam_id,
        exam_content_id: r.exam_content_id,
        attempt_id: r.attempt_id,
        attempt_status: r.attempt_status,
        certificate_id: r.certificate_id,
        commentable_id: r.commentable_id,
        discussion: r.discussion,
        correct: r.correct,
        answers: part_of(r.answers),
        submission: part_of(r.submission),
        correct_map: part_of(r.correct_map),
    })
}

/// Owned copy of a borrowed text (for payloads decoded from a JSON string).
fn own(t: Text<'_>) -> Text<'static> {
    Text(t.0.map(|c| Cow::Owned(c.into_owned())))
}

impl Fields<'_> {
    fn into_owned(self) -> Fields<'static> {
        FieldsOf {
            id: own(self.id),
            code: own(self.code),
            current_time_camel: self.current_time_camel,
            current_time: self.current_time,
            old_time: self.old_time,
            new_time: self.new_time,
            duration: self.duration,
            old_speed: self.old_speed,
            new_speed: self.new_speed,
            problem_id: own(self.problem_id),
            attempts: self.attempts,
            grade: self.grade,
            max_grade: self.max_grade,
            success: own(self.success),
            weighted_earned: self.weighted_earned,
            weighted_possible: self.weighted_possible,
            weighted_graded_earned: self.weighted_graded_earned,
            weighted_graded_possible: self.weighted_graded_possible,
            user_id: self.user_id,
            course_id: own(self.course_id),
            mode: own(self.mode),
            percent_grade: self.percent_grade,
            letter_grade: own(self.letter_grade),
            block_id: own(self.block_id),
            completion: self.completion,
            old: self.old,
            new: self.new,
            current_tab: self.current_tab,
            tab_count: self.tab_count,
            target_name: own(self.target_name),
            target_url: own(self.target_url),
            current_url: own(self.current_url),
            exam_id: own(self.exam_id),
            exam_content_id: own(self.exam_content_id),
            attempt_id: own(self.attempt_id),
            attempt_status: own(self.attempt_status),
            certificate_id: own(self.certificate_id),
            commentable_id: own(self.commentable_id),
            discussion: Obj(self.discussion.0.map(|d| Discussion { id: own(d.id) })),
            correct: self.correct,
            answers: own_part(self.answers, Strings::into_owned),
            submission: own_part(self.submission, |s| Obj(s.0.map(Submitted::into_owned))),
            correct_map: own_part(self.correct_map, |c| Obj(c.0.map(Correctness::into_owned))),
        }
    }
}

/// Typed payload of an event, by family. Text fields are `""` when absent.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload<'a> {
    /// Enrollment change.
    Enrollment {
        /// Enrollment mode (`audit`, `verified`, …).
        mode: Cow<'a, str>,
    },
    /// Video interaction.
    Video {
        /// Video block id (the `id` field; the usage key's block id).
        video_id: Cow<'a, str>,
        /// YouTube code or `html5`.
        code: Cow<'a, str>,
        /// Position in seconds when the event happened.
        position: Option<f64>,
        /// Seek origin.
        old_position: Option<f64>,
        /// Seek target.
        new_position: Option<f64>,
        /// Video duration in seconds.
        duration: Option<f64>,
        /// New playback speed.
        speed: Option<f64>,
    },
    /// Problem interaction or submission.
    Problem {
        /// Usage key of the problem (or the block id from a browser form).
        problem_id: Cow<'a, str>,
        /// Attempts so far.
        attempts: Option<f64>,
        /// Raw earned points.
        grade: Option<f64>,
        /// Raw possible points.
        max_grade: Option<f64>,
        /// `correct`, `incorrect`, `partially-correct` (server `problem_check`).
        success: Cow<'a, str>,
        /// Weighted earned points (`edx.grades.problem.submitted`).
        weighted_earned: Option<f64>,
        /// Weighted possible points.
        weighted_possible: Option<f64>,
    },
    /// Navigation inside a sequence or the outline.
    Navigation {
        /// Sequence (or target) usage key.
        id: Cow<'a, str>,
        /// Tab left.
        old: Option<f64>,
        /// Tab entered.
        new: Option<f64>,
        /// Link text / target name.
        target_name: Cow<'a, str>,
    },
    /// A link click.
    LinkClick {
        /// Page the link was on.
        current_url: Cow<'a, str>,
        /// Link target.
        target_url: Cow<'a, str>,
    },
    /// Grade computed or changed.
    Grade {
        /// Subsection usage key (subsection grades).
        block_id: Cow<'a, str>,
        /// Course grade, 0–1.
        percent_grade: Option<f64>,
        /// Letter grade (`Pass`, `A`, …; `""` below the lowest cutoff).
        letter_grade: Cow<'a, str>,
        /// Weighted earned points (graded).
        weighted_earned: Option<f64>,
        /// Weighted possible points (graded).
        weighted_possible: Option<f64>,
    },
    /// Block completion change.
    Completion {
        /// Completed block.
        block_id: Cow<'a, str>,
        /// Completion, 0–1.
        completion: Option<f64>,
    },
    /// Forum activity.
    Forum {
        /// Thread, response or comment id.
        id: Cow<'a, str>,
        /// Discussion topic id.
        commentable_id: Cow<'a, str>,
        /// The thread a response or comment belongs to (`discussion.id`; `""` otherwise).
        thread: Cow<'a, str>,
    },
    /// Timed, practice or proctored exam attempt.
    SpecialExam {
        /// Exam id.
        exam_id: Cow<'a, str>,
        /// Exam subsection usage key.
        exam_content_id: Cow<'a, str>,
        /// Attempt id.
        attempt_id: Cow<'a, str>,
        /// Attempt status.
        attempt_status: Cow<'a, str>,
    },
    /// Certificate event.
    Certificate {
        /// Certificate id.
        certificate_id: Cow<'a, str>,
        /// Enrollment mode of the certificate.
        mode: Cow<'a, str>,
    },
    /// Anything else (including implicit events); the raw message keeps it.
    Other,
}

fn cow<'a>(t: Text<'a>) -> Cow<'a, str> {
    t.0.unwrap_or(Cow::Borrowed(""))
}

impl<'a> Payload<'a> {
    fn build(family: Family, f: &mut Fields<'a>) -> Payload<'a> {
        match family {
            Family::Enrollment => Payload::Enrollment {
                mode: cow(take(&mut f.mode)),
            },
            Family::Video => Payload::Video {
                video_id: cow(take(&mut f.id)),
                code: cow(take(&mut f.code)),
                position: f.current_time_camel.0.or(f.current_time.0),
                old_position: f.old_time.0,
                new_position: f.new_time.0,
                duration: f.duration.0,
                speed: f.new_speed.0,
            },
            Family::Problem => Payload::Problem {
                problem_id: cow(take(&mut f.problem_id)),
                attempts: f.attempts.0,
                grade: f.grade.0,
                max_grade: f.max_grade.0,
                success: cow(take(&mut f.success)),
                weighted_earned: f.weighted_earned.0,
                weighted_possible: f.weighted_possible.0,
            },
            Family::Navigation => Payload::Navigation {
                id: cow(take(&mut f.id)),
                old: f.old.0,
                new: f.new.0.or(f.current_tab.0),
                target_name: cow(take(&mut f.target_name)),
            },
            Family::LinkClick => Payload::LinkClick {
                current_url: cow(take(&mut f.current_url)),
                target_url: cow(take(&mut f.target_url)),
            },
            Family::Grade => Payload::Grade {
                block_id: cow(take(&mut f.block_id)),
                percent_grade: f.percent_grade.0,
                letter_grade: cow(take(&mut f.letter_grade)),
                weighted_earned: f.weighted_graded_earned.0,
                weighted_possible: f.weighted_graded_possible.0,
            },
            Family::Completion => Payload::Completion {
                block_id: cow(take(&mut f.block_id)),
                completion: f.completion.0,
            },
            Family::Forum => {
                let thread = f.discussion.0.take().and_then(|d| d.id.0);
                Payload::Forum {
                    id: cow(take(&mut f.id)),
                    commentable_id: f
                        .commentable_id
                        .0
                        .take()
                        .or(thread.clone())
                        .unwrap_or(Cow::Borrowed("")),
                    thread: thread.unwrap_or(Cow::Borrowed("")),
                }
            }
            Family::SpecialExam => Payload::SpecialExam {
                exam_id: cow(take(&mut f.exam_id)),
                exam_content_id: cow(take(&mut f.exam_content_id)),
                attempt_id: cow(take(&mut f.attempt_id)),
                attempt_status: cow(take(&mut f.attempt_status)),
            },
            Family::Certificate => Payload::Certificate {
                certificate_id: cow(take(&mut f.certificate_id)),
                mode: cow(take(&mut f.mode)),
            },
            Family::Implicit | Family::Other => Payload::Other,
        }
    }
}

/// A parsed tracking event. Strings borrow from the message where they can.
#[derive(Debug, Clone, PartialEq)]
pub struct Event<'a> {
    /// `name`, or `event_type` when the name is missing.
    pub name: Cow<'a, str>,
    /// `event_type` (may differ from the name, e.g. `seq_next`).
    pub event_type: Cow<'a, str>,
    /// `browser`, `server`, `mobile`, …
    pub event_source: Cow<'a, str>,
    /// Event time (UTC).
    pub time: DateTime<Utc>,
    /// Where the time came from.
    pub time_from: TimeFrom,
    /// Username (`""` outside a request).
    pub username: Cow<'a, str>,
    /// Session id.
    pub session: Cow<'a, str>,
    /// Learner IP.
    pub ip: Cow<'a, str>,
    /// User agent.
    pub agent: Cow<'a, str>,
    /// LMS host.
    pub host: Cow<'a, str>,
    /// Referer.
    pub referer: Cow<'a, str>,
    /// Accept-Language.
    pub accept_language: Cow<'a, str>,
    /// Page URL (`""` for `null`).
    pub page: Cow<'a, str>,
    /// The context object (empty when missing).
    pub context: Box<Context<'a>>,
    /// Family of the event.
    pub family: Family,
    /// In which form the payload arrived.
    pub payload_form: PayloadForm,
    /// The url-encoded form payload (browser `problem_check`), if that is what it was.
    pub form: Option<Cow<'a, str>>,
    /// A server `problem_check`'s answer parts, read with the payload: what
    /// [`crate::answers::answers_of`] reads, without parsing the message again.
    pub check: CheckParts<'a>,
    /// User id from the payload (`event.user_id`), which may differ from the context's.
    pub payload_user_id: Option<u64>,
    /// Course id from the payload (`event.course_id`).
    pub payload_course_id: Cow<'a, str>,
    /// Typed payload.
    pub payload: Payload<'a>,
    /// The JSON message as it was in the log.
    pub raw: &'a str,
}

/// Where an event's time came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeFrom {
    /// The `time` field.
    Time,
    /// The `timestamp` field (eventtracking shape, or logs that kept it).
    Timestamp,
    /// The log line's own time (`asctime`, UTC in Tutor), when the JSON has none.
    LogLine,
}

/// Why a message is not a valid event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventError {
    /// Not valid JSON (or not an object); `truncated` when the text ended mid-value.
    Json {
        /// serde_json's message, with line/column.
        message: String,
        /// The JSON ended early (cut off or split).
        truncated: bool,
    },
    /// Neither `time` nor `timestamp` (nor a log-line time) could be read.
    NoTimestamp(String),
}

impl std::fmt::Display for EventError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EventError::Json { message, .. } => write!(f, "{message}"),
            EventError::NoTimestamp(t) if t.is_empty() => f.write_str("no time or timestamp"),
            EventError::NoTimestamp(t) => write!(f, "unreadable time {t:?}"),
        }
    }
}

/// Parses an event time: RFC 3339 with `Z` or an offset, or a naive time taken as UTC
/// (`2023-08-22 17:58:21.710578`, `2023-08-22T17:58:21`).
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%:z") {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S,%3f",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc());
        }
    }
    None
}

/// A decoded payload: its fields, its form, and the form text (a url-encoded form).
type Decoded<'a> = (Option<Box<Fields<'a>>>, PayloadForm, Option<Cow<'a, str>>);

/// A payload kept as raw text (when the one-pass read failed on it), as the one pass
/// reads it; an object whose fields do not read gives no fields, as before.
fn from_raw(raw: Option<&RawValue>) -> PayloadValue<'_, Box<Fields<'_>>> {
    let Some(raw) = raw else {
        return PayloadValue::Absent;
    };
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'{') => PayloadValue::Object(Box::new(read_fields(text).unwrap_or_default())),
        Some(b'[') => PayloadValue::List,
        Some(b'n') => PayloadValue::Absent,
        Some(b'"') => match serde_json::from_str::<Cow<'_, str>>(text) {
            Ok(s) => PayloadValue::Str(s),
            // (A raw string always reads; were it not, it would be text.)
            Err(_) => PayloadValue::Str(Cow::Borrowed("")),
        },
        _ => PayloadValue::Scalar,
    }
}

/// Decodes a payload in whatever form it came, into its fields and its form.
fn decode_payload<'a>(payload: PayloadValue<'a, Box<Fields<'a>>>) -> Decoded<'a> {
    let mut s = match payload {
        PayloadValue::Absent => return (None, PayloadForm::Absent, None),
        PayloadValue::Object(fields) => return (Some(fields), PayloadForm::Object, None),
        PayloadValue::List => return (None, PayloadForm::List, None),
        PayloadValue::Scalar => return (None, PayloadForm::Scalar, None),
        PayloadValue::Str(s) => s,
    };
    let mut depth = 0;
    loop {
        let t = s.trim_start();
        if t.starts_with('{') {
            let fields = read_fields(t).map(|f| Box::new(f.into_owned()));
            let form = if depth == 0 {
                PayloadForm::EncodedObject
            } else {
                PayloadForm::DoubleEncoded
            };
            return (fields, form, None);
        }
        if t.starts_with('"') && depth < 3 {
            match serde_json::from_str::<String>(t) {
                Ok(inner) => {
                    s = Cow::Owned(inner);
                    depth += 1;
                    continue;
                }
                Err(_) => return (None, PayloadForm::Text, None),
            }
        }
        if t.starts_with('[') {
            return (None, PayloadForm::List, None);
        }
        let is_form = !t.is_empty() && t.contains('=') && !t.contains(char::is_whitespace);
        return if is_form {
            (None, PayloadForm::Form, Some(s))
        } else {
            (None, PayloadForm::Text, None)
        };
    }
}

/// The problem block id named by a browser `problem_check` form
/// (`input_<block id>_2_1=…`), if any.
pub fn form_problem_block(form: &str) -> Option<&str> {
    let first = form.split('&').next()?;
    let name = first.split('=').next()?;
    let name = name.strip_prefix("input_")?;
    // Percent-encoded brackets (`%5B%5D`) follow list answers; the id is hex.
    let id_end = name
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(name.len());
    let id = &name[..id_end];
    (id.len() >= 16).then_some(id)
}

/// Parses the JSON message of one tracking-log event. `line_time` is the log line's own
/// time (Tutor's `asctime`), used only when the JSON carries no time at all.
pub fn parse_event<'a>(
    raw: &'a str,
    line_time: Option<DateTime<Utc>>,
) -> Result<Event<'a>, EventError> {
    // One pass over the message, payload included; should the payload's fields not read
    // (a duplicate key, say), a second pass keeps it as text and reads the rest.
    let env: Envelope<'a, PayloadValue<'a, Box<Fields<'a>>>> = match serde_json::from_str(raw) {
        Ok(env) => env,
        Err(_) => {
            let env: Envelope<'a, Option<&'a RawValue>> =
                serde_json::from_str(raw).map_err(|e| EventError::Json {
                    message: e.to_string(),
                    truncated: e.is_eof(),
                })?;
            env.map_payload(from_raw)
        }
    };
    let (time_text, from) = match (env.time.non_empty(), env.timestamp.non_empty()) {
        (Some(t), _) => (t, TimeFrom::Time),
        (None, Some(t)) => (t, TimeFrom::Timestamp),
        (None, None) => ("", TimeFrom::LogLine),
    };
    let (time, time_from) = match (from, parse_time(time_text), line_time) {
        (TimeFrom::LogLine, _, Some(lt)) => (lt, TimeFrom::LogLine),
        (TimeFrom::LogLine, _, None) => return Err(EventError::NoTimestamp(String::new())),
        (_, Some(t), _) => (t, from),
        (_, None, _) => return Err(EventError::NoTimestamp(time_text.to_owned())),
    };
    // Cairn keeps microseconds (what ClickHouse stores and rows serialize).
    let time = time.trunc_subsecs(6);
    let context = env.context.0.unwrap_or_default();
    let name = env
        .name
        .0
        .filter(|n| !n.is_empty())
        .or_else(|| env.event_type.0.clone())
        .unwrap_or(Cow::Borrowed(""));
    let family = Family::of(&name);
    let payload = match env.event {
        PayloadValue::Absent => env.data,
        event => event,
    };
    let (mut boxed, payload_form, form) = decode_payload(payload);
    let mut empty;
    let fields: &mut Fields<'a> = match &mut boxed {
        Some(f) => f,
        None => {
            empty = Fields::default();
            &mut empty
        }
    };
    let check = CheckParts::new(
        take(&mut fields.answers),
        take(&mut fields.submission),
        take(&mut fields.correct_map),
    );
    let payload_user_id = fields.user_id.0;
    let payload_course_id = fields.course_id.0.clone().unwrap_or(Cow::Borrowed(""));
    let mut payload = Payload::build(family, fields);
    if let (Payload::Problem { problem_id, .. }, Some(f)) = (&mut payload, &form)
        && problem_id.is_empty()
        && let Some(id) = form_problem_block(f)
    {
        *problem_id = Cow::Owned(id.to_owned());
    }
    let pick = |top: Text<'a>, ctx: &Text<'a>| -> Cow<'a, str> {
        top.0
            .filter(|s| !s.is_empty())
            .or_else(|| ctx.0.clone())
            .unwrap_or(Cow::Borrowed(""))
    };
    Ok(Event {
        event_type: env.event_type.0.unwrap_or(Cow::Borrowed("")),
        event_source: pick(env.event_source, &context.event_source),
        time,
        time_from,
        username: pick(env.username, &context.username),
        session: pick(env.session, &context.session),
        ip: pick(env.ip, &context.ip),
        agent: pick(env.agent, &context.agent),
        host: pick(env.host, &context.host),
        referer: pick(env.referer, &context.referer),
        accept_language: pick(env.accept_language, &context.accept_language),
        page: pick(env.page, &context.page),
        name,
        context,
        family,
        payload_form,
        check,
        form,
        payload_user_id,
        payload_course_id,
        payload,
        raw,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_nested_past_the_recursion_limit_cost_only_their_part() {
        // serde_json reads at most 128 levels in one pass; a value nested deeper in a
        // check's answers must not cost the payload's other fields, in either form.
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let payload = format!(
            r#"{{"problem_id": "block-v1:o+c+r+type@problem+block@p1", "attempts": 2,
               "answers": {{"p1_2_1": {deep}, "p1_3_1": "x"}},
               "submission": {{"p1_2_1": {{"answer": "a", "correct": true}}}}}}"#
        );
        let encoded = serde_json::Value::from(payload.clone()).to_string();
        for event in [payload, encoded] {
            let msg = format!(
                r#"{{"name": "problem_check", "event_source": "server", "time": "2024-01-02T10:00:00Z", "event": {event}}}"#
            );
            let e = parse_event(&msg, None).expect("the event is kept");
            assert!(
                matches!(&e.payload, Payload::Problem { problem_id, attempts: Some(2.0), .. }
                    if problem_id == "block-v1:o+c+r+type@problem+block@p1"),
                "{:?}",
                e.payload
            );
            // The answers part is empty (it does not read); the submission still gives
            // the input, as it did when every part was read on its own.
            let a = crate::answers::answers_of(&e);
            assert_eq!(a.len(), 1, "{a:?}");
            assert_eq!((a[0].input.as_str(), a[0].correct), ("p1_2_1", 1));
            assert_eq!(a[0].values, ["a"]);
        }
    }

    #[test]
    fn a_payload_whose_fields_do_not_read_keeps_the_event() {
        // A duplicate key fails the typed read of the payload in the one pass: the second
        // pass keeps the event, with the payload's fields empty, as a payload read apart.
        let msg = r#"{"name": "play_video", "time": "2024-01-02T10:00:00Z", "username": "ada",
            "context": {"course_id": "course-v1:o+c+r", "user_id": 7},
            "event": {"id": "a", "id": "b", "currentTime": 3}}"#;
        let e = parse_event(msg, None).expect("the event is kept");
        assert_eq!(e.payload_form, PayloadForm::Object);
        assert_eq!(e.username, "ada");
        assert_eq!(e.context.user_id, Id(Some(7)));
        assert!(matches!(&e.payload, Payload::Video { video_id, .. } if video_id.is_empty()));
        // Malformed JSON is still rejected, by the second pass's message.
        let bad = parse_event(r#"{"name": "x", "event": {"id": "a", "id": "#, None);
        assert!(
            matches!(
                bad,
                Err(EventError::Json {
                    truncated: true,
                    ..
                })
            ),
            "{bad:?}"
        );
    }
}
