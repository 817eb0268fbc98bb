//! Course metrics: one SQL file per metric (in `metrics/`, shipped in the binary), run by
//! `cairn report` and the `cairn serve` dashboard alike. Values enter the SQL only
//! through the `clickhouse` crate's binding.
//!
//! Every metric's definition is the comment at the top of its SQL file; the README's
//! "Reports" section collects them.

#![warn(missing_docs)]

pub mod aggregate;
pub mod cli;
mod format;
pub mod lms;

use cairn_core::ClickHouse;
use cairn_core::sql::quote_ident;
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use clickhouse::Row;
use serde::{Deserialize, Serialize};

pub use format::{
    Columns, Format, MAX_ROW, NeutralCsv, RowTooLong, cells, format_funnel, format_hours,
    format_learner, format_overview, format_platform, format_retention, format_rows, neutralize,
};

/// The weekly engagement metric's SQL (`{{db}}` is the data-lake database).
pub const WEEKLY_ENGAGEMENT_SQL: &str = include_str!("../metrics/weekly_engagement.sql");
/// The course progress metric's SQL.
pub const COURSE_PROGRESS_SQL: &str = include_str!("../metrics/course_progress.sql");
/// The grade distribution metric's SQL.
pub const GRADE_DISTRIBUTION_SQL: &str = include_str!("../metrics/grade_distribution.sql");
/// The demographics metric's SQL.
pub const DEMOGRAPHICS_SQL: &str = include_str!("../metrics/demographics.sql");
/// The per-video engagement metric's SQL.
pub const VIDEO_ENGAGEMENT_SQL: &str = include_str!("../metrics/video_engagement.sql");
/// The second-by-second video audience's SQL.
pub const VIDEO_CURVE_SQL: &str = include_str!("../metrics/video_curve.sql");
/// The at-risk learners' SQL.
pub const AT_RISK_SQL: &str = include_str!("../metrics/at_risk.sql");

/// The course's learners (the roster).
pub const LEARNERS_SQL: &str = include_str!("../metrics/learners.sql");

/// The per-problem results' SQL.
pub const PROBLEMS_SQL: &str = include_str!("../metrics/problems.sql");
/// The answer distribution's SQL.
pub const ANSWERS_SQL: &str = include_str!("../metrics/answers.sql");

/// Navigation and completion per section and subsection.
pub const NAVIGATION_SQL: &str = include_str!("../metrics/navigation.sql");

/// The course comparison's SQL.
pub const COMPARE_SQL: &str = include_str!("../metrics/compare.sql");
/// Course comparison, the LMS side (name, enrolled, pass rate).
pub const COMPARE_LMS_SQL: &str = include_str!("../metrics/compare_lms.sql");
/// Course comparison, average progress.
pub const COMPARE_PROGRESS_SQL: &str = include_str!("../metrics/compare_progress.sql");

/// One learner: who, enrollment, grade, last seen.
pub const LEARNER_SUMMARY_SQL: &str = include_str!("../metrics/learner_summary.sql");
/// One learner's activity per day.
pub const LEARNER_DAYS_SQL: &str = include_str!("../metrics/learner_days.sql");
/// One learner's progress per unit.
pub const LEARNER_UNITS_SQL: &str = include_str!("../metrics/learner_units.sql");
/// One learner's videos.
pub const LEARNER_VIDEOS_SQL: &str = include_str!("../metrics/learner_videos.sql");
/// One learner's problems.
pub const LEARNER_PROBLEMS_SQL: &str = include_str!("../metrics/learner_problems.sql");

/// The platform's activity per day, week and month.
pub const PLATFORM_ACTIVITY_SQL: &str = include_str!("../metrics/platform_activity.sql");
/// The platform's most active courses.
pub const PLATFORM_COURSES_SQL: &str = include_str!("../metrics/platform_courses.sql");
/// Ingestion per source and hour.
pub const PLATFORM_INGEST_SQL: &str = include_str!("../metrics/platform_ingest.sql");
/// Data freshness.
pub const PLATFORM_FRESHNESS_SQL: &str = include_str!("../metrics/platform_freshness.sql");

/// Forum activity per week.
pub const FORUMS_SQL: &str = include_str!("../metrics/forums.sql");
/// The most active forum threads.
pub const FORUM_THREADS_SQL: &str = include_str!("../metrics/forum_threads.sql");
/// Learners active per hour of the week.
pub const ACTIVITY_HOURS_SQL: &str = include_str!("../metrics/activity_hours.sql");
/// Retention by enrollment cohort (one course, a range).
pub const RETENTION_SQL: &str = include_str!("../metrics/retention.sql");

/// Every metric: `(name, SQL)`, for checks that run them all.
pub const METRICS: &[(&str, &str)] = &[
    ("weekly_engagement", WEEKLY_ENGAGEMENT_SQL),
    ("course_progress", COURSE_PROGRESS_SQL),
    ("grade_distribution", GRADE_DISTRIBUTION_SQL),
    ("demographics", DEMOGRAPHICS_SQL),
    ("video_engagement", VIDEO_ENGAGEMENT_SQL),
    ("video_curve", VIDEO_CURVE_SQL),
    ("at_risk", AT_RISK_SQL),
    ("learners", LEARNERS_SQL),
    ("problems", PROBLEMS_SQL),
    ("answers", ANSWERS_SQL),
    ("navigation", NAVIGATION_SQL),
    ("compare", COMPARE_SQL),
    ("compare_lms", COMPARE_LMS_SQL),
    ("compare_progress", COMPARE_PROGRESS_SQL),
    ("learner_summary", LEARNER_SUMMARY_SQL),
    ("learner_days", LEARNER_DAYS_SQL),
    ("learner_units", LEARNER_UNITS_SQL),
    ("learner_videos", LEARNER_VIDEOS_SQL),
    ("learner_problems", LEARNER_PROBLEMS_SQL),
    ("forums", FORUMS_SQL),
    ("forum_threads", FORUM_THREADS_SQL),
    ("activity_hours", ACTIVITY_HOURS_SQL),
    ("retention", RETENTION_SQL),
    ("platform_activity", PLATFORM_ACTIVITY_SQL),
    ("platform_courses", PLATFORM_COURSES_SQL),
    ("platform_ingest", PLATFORM_INGEST_SQL),
    ("platform_freshness", PLATFORM_FRESHNESS_SQL),
];

/// A metric's SQL for database `db`, reading the stored events (`_events`,
/// `_video_events`): every metric is exact with duplicates present, and these skip the
/// public views' FINAL.
pub fn sql_for(template: &str, db: &str) -> String {
    render(template, db, false, lms::Source::Live)
}

/// [`sql_for`] with the LMS tables read from `lms` (the live tables or Cairn's copies).
pub fn sql_reading(template: &str, db: &str, lms: lms::Source) -> String {
    render(template, db, false, lms)
}

/// Per learner, the seconds credited to each of their active days in order (`ds`: the
/// learner-day tuples `(day, first_ts, last_ts, credited, …)` sorted by day): the day's
/// own plus the gap from its last event to the next day's first, by the sessionization
/// rule (none after the last day).
const DAY_CREDITS: &str = "arrayMap((x, nf) -> toUInt64(tupleElement(x, 4)) + if(nf = 0, toUInt64(0), \
     toUInt64(if(nf - tupleElement(x, 3) <= 1800, least(nf - tupleElement(x, 3), 600), 0))), \
     ds, arrayPushBack(arrayPopFront(arrayMap(x -> tupleElement(x, 2), ds)), toUInt32(0)))";

/// Per learner (a `GROUP BY` of learner days), their time spent over those days
/// (`{{learner_spent}}`: the columns `fs` and `spent`): the days' own credits, plus each
/// gap from a day's last event to the next day's first when it is at most 30 minutes (so
/// across one midnight, as in weekly_engagement.sql). Only the days that end within 30
/// minutes of midnight or begin within 30 minutes after it can hold such a gap: those
/// alone are kept in order (`fs`), not every day.
const LEARNER_SPENT: &str = "arraySort(x -> tupleElement(x, 1), \
     groupArrayIf((day, first_ts, last_ts), \
         last_ts + 1800 >= toUInt32(toDateTime(day + 1)) \
         OR first_ts <= toUInt32(toDateTime(day)) + 1800)) AS fs, \
     sum(toUInt64(credited)) + arraySum(arrayMap((x, nx) -> toUInt64( \
         if(tupleElement(nx, 1) = tupleElement(x, 1) + 1 \
            AND tupleElement(nx, 2) - tupleElement(x, 3) <= 1800, \
            least(tupleElement(nx, 2) - tupleElement(x, 3), 600), 0)), \
         arrayPopBack(fs), arrayPopFront(fs))) AS spent";

/// Per learner of a course, the course's components they completed
/// (`{{components_done}}`: rows `(done_user, components_done)`; components are
/// `course_components`, completed is the LMS's completion 1). Its parameters: course_id
/// twice.
const COMPONENTS_DONE: &str = "\
SELECT toUInt64(c.user_id) AS done_user, uniqExact(c.block_key) AS components_done
FROM
(
    SELECT user_id, block_key
    FROM {{db}}.{{lms_block_completion}}
    WHERE course_key = ? AND toFloat64(completion) >= 1
) AS c
INNER JOIN
(
    SELECT block_key
    FROM {{db}}.course_components
    WHERE course_id = ?
) AS leaf ON c.block_key = leaf.block_key
GROUP BY c.user_id";

/// Per viewer of a video, the segments that span two of their active days (`ds`: the
/// video-day tuples `(day, first_name, first_position, first_old_position, last_name,
/// last_position, …)` sorted by day): a day's last event a play, the next active day's
/// first an end, paired as in video_view_segments. Each `(day of the play, 1, start
/// position, end position)`.
const DAY_CROSSINGS: &str = "arrayFilter(c -> tupleElement(c, 2) = 1 AND tupleElement(c, 4) >= tupleElement(c, 3), \
     arrayMap((x, nx) -> (tupleElement(x, 1), \
         toUInt8(has(['play_video', 'edx.video.played'], tupleElement(x, 5)) \
             AND has(['pause_video', 'stop_video', 'seek_video', 'edx.video.paused', \
                      'edx.video.stopped', 'edx.video.position.changed'], tupleElement(nx, 2))), \
         tupleElement(x, 6), \
         if(has(['seek_video', 'edx.video.position.changed'], tupleElement(nx, 2)), \
            tupleElement(nx, 4), tupleElement(nx, 3))), \
         arrayPopBack(ds), arrayPopFront(ds)))";

/// A block's index among its course's blocks (`{{block_index(EXPR)}}`, EXPR a block key):
/// 1 to n in the order of their keys, 0 for a key outside the course's structure (or
/// `''`). Joins and groups on it compare numbers, not the keys' text. Its parameters:
/// course_id twice.
const BLOCK_INDEX: &str = "transform(EXPR, \
     arrayPushFront((SELECT arraySort(groupUniqArray(block_key)) FROM {{db}}.course_blocks \
         WHERE course_id = ?), ''), \
     range(toUInt32(length((SELECT arraySort(groupUniqArray(block_key)) FROM {{db}}.course_blocks \
         WHERE course_id = ?)) + 1)), \
     toUInt32(0))";

/// Every block of a subsection of a course (the subsection, its units, their components)
/// with its subsection and section, as block indexes (`{{block_owners}}`): rows `(b, g,
/// is_head, is_comp)`, one per group the block counts in. Its parameters: course_id 8
/// times.
const BLOCK_OWNERS: &str = "\
-- Every block of a subsection (the subsection, its units, their components) with its
-- subsection and section, as block indexes: one row per group it counts in. A unit and
-- its components are one row of the units, spread by ARRAY JOIN (the unit first).
SELECT {{block_index(block_id)}} AS b, {{block_index(group_key)}} AS g, is_head, is_comp
FROM
(
    SELECT block_id, sub_key, sec_key, 0 AS is_head, toUInt8(pos > 1) AS is_comp
    FROM
    (
        SELECT unit_key, sub_key, sec_key, comps
        FROM
        (
            SELECT u.unit_key AS unit_key, u.seq_key AS sub_key, s.sec_key AS sec_key
            FROM
            (
                SELECT block_key AS unit_key, parent AS seq_key FROM {{db}}.course_blocks
                WHERE course_id = ? AND block_type = 'vertical'
            ) AS u
            INNER JOIN
            (
                SELECT block_key AS seq_key, parent AS sec_key FROM {{db}}.course_blocks
                WHERE course_id = ? AND block_type = 'sequential'
            ) AS s USING (seq_key)
        ) AS units
        LEFT JOIN
        (
            SELECT unit_key, groupArray(block_key) AS comps FROM {{db}}.course_components
            WHERE course_id = ? AND unit_key != ''
            GROUP BY unit_key
        ) AS comp USING (unit_key)
    ) AS units_comps
    ARRAY JOIN
        arrayConcat([unit_key], comps) AS block_id,
        arrayEnumerate(arrayConcat([unit_key], comps)) AS pos
    UNION ALL
    SELECT block_key AS block_id, block_key AS sub_key, parent AS sec_key,
           1 AS is_head, toUInt8(0) AS is_comp
    FROM {{db}}.course_blocks
    WHERE course_id = ? AND block_type = 'sequential'
) AS blocks
ARRAY JOIN [sub_key, sec_key] AS group_key";

/// The watched segments of the video days that COND selects (on `video_id` and
/// `user_id`) started in [from, to): those within a day, and those that span two of a
/// viewer's active days with the video ([`DAY_CROSSINGS`]). Rows `(video_id, user_id, s,
/// e)`. Its parameters, in order: course_id (the video days' filter) 6 times, COND's, from,
/// to, then the same again.
const VIDEO_SEGMENTS: &str = "(
    SELECT video_id, user_id, s, e
    FROM {{video_days(course_id = ?)}} AS vd
    ARRAY JOIN seg_start AS s, seg_end AS e
    WHERE (COND) AND day >= toDate(toDateTime(?)) AND day < toDate(toDateTime(?))
    UNION ALL
    SELECT video_id, user_id, tupleElement(c, 3) AS s, tupleElement(c, 4) AS e
    FROM
    (
        SELECT
            video_id, user_id,
            arraySort(x -> tupleElement(x, 1),
                groupArray((day, first_name, first_position, first_old_position,
                    last_name, last_position))) AS ds,
            {{day_crossings}} AS crossings
        FROM {{video_days(course_id = ?)}} AS vd
        WHERE COND
        GROUP BY video_id, user_id
    ) AS viewer_days
    ARRAY JOIN crossings AS c
    WHERE tupleElement(c, 1) >= toDate(toDateTime(?))
      AND tupleElement(c, 1) < toDate(toDateTime(?))
)";

/// `{{db}}` the quoted database; `{{video_segments(COND)}}` [`VIDEO_SEGMENTS`]; `{{block_owners}}` [`BLOCK_OWNERS`]; `{{components_done}}` [`COMPONENTS_DONE`]; `{{learner_spent}}` [`LEARNER_SPENT`]; `{{block_index(EXPR)}}` [`BLOCK_INDEX`]; `{{learner_days(…)}}` and `{{video_days(…)}}` the
/// pre-aggregated days ([`aggregate`]); `{{day_credits}}` [`DAY_CREDITS`];
/// `{{day_crossings}}` [`DAY_CROSSINGS`]; `{{events}}` and `{{video_events}}` the stored tables or,
/// for users' copies (`public`), the public views; `{{forum_events}}` the forum's copy of
/// the events, or for users' copies, which may not read it, the same rows from the public
/// events; `{{lms_…}}` the LMS tables of `lms` (live for users' copies: the copies are not
/// granted).
fn render(template: &str, db: &str, public: bool, lms: lms::Source) -> String {
    let lms = if public { lms::Source::Live } else { lms };
    let (events, video, forum) = if public {
        (
            "events",
            "video_events",
            format!(
                "(SELECT {} FROM {{{{db}}}}.events WHERE family = 'forum')",
                cairn_core::derived::FORUM_SELECT
            ),
        )
    } else {
        (
            "_events",
            "_video_events",
            "{{db}}._forum_events".to_owned(),
        )
    };
    let template = template
        .replace("{{block_owners}}", BLOCK_OWNERS)
        .replace("{{components_done}}", COMPONENTS_DONE)
        .replace("{{learner_spent}}", LEARNER_SPENT);
    let template = aggregate::expand_placeholder(&template, "{{video_segments(", |cond| {
        VIDEO_SEGMENTS.replace("COND", &format!("({cond})"))
    });
    let template = aggregate::expand_placeholder(&template, "{{block_index(", |expr| {
        BLOCK_INDEX.replace("EXPR", expr)
    });
    lms::expand(&aggregate::expand(&template, public), lms)
        .replace("{{forum_events}}", &forum)
        .replace("{{db}}", &quote_ident(db))
        .replace("{{day_credits}}", DAY_CREDITS)
        .replace("{{day_crossings}}", DAY_CROSSINGS)
        .replace("{{events}}", events)
        .replace("{{video_events}}", video)
}

/// One week of a course's engagement.
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct Week {
    /// The week's Monday, `YYYY-MM-DD`.
    pub week: String,
    /// Learners enrolled by the week's end.
    pub enrolled: u64,
    /// Learners with any event.
    pub active: u64,
    /// Learners who played a video.
    pub watched_video: u64,
    /// Learners who tried a problem.
    pub tried_problem: u64,
    /// Seconds spent in the course (sessionized; see the SQL file).
    pub time_spent: u64,
    /// Seconds spent per active learner, to one decimal.
    pub avg_time_spent: f64,
}

/// One unit's progress.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct UnitProgress {
    /// Course-order position of the unit's first component.
    pub position: u32,
    /// Unit name.
    pub unit: String,
    /// Components in the unit.
    pub components: u64,
    /// Learners who completed every component.
    pub completed: u64,
}

/// One bucket of the grade distribution.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct GradeBucket {
    /// Lowest grade in the bucket, in percent.
    pub from_percent: u32,
    /// Grade the bucket ends below (the last bucket includes 100).
    pub to_percent: u32,
    /// Learners with a grade in the bucket.
    pub learners: u64,
    /// Of those, learners who passed.
    pub passed: u64,
}

/// One demographic group.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct Demographic {
    /// `age`, `country`, `gender` or `level_of_education`.
    pub dimension: String,
    /// The group: the LMS's label for a gender or education code, an age band
    /// (`25–34`), a country's name, or `Not specified`.
    pub label: String,
    /// Enrolled learners in the group.
    pub learners: u64,
}

/// One video's engagement.
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct VideoEngagement {
    /// Video block id.
    pub video_id: String,
    /// Video name.
    pub video: String,
    /// Unique viewers.
    pub viewers: u64,
    /// Seconds watched in total.
    pub watch_time: f64,
    /// Seconds watched per viewer.
    pub avg_watch_time: f64,
    /// Length in seconds, as the player reported it.
    pub duration: f64,
}

/// The audience of one second of a video.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct VideoSecond {
    /// Second of the video.
    pub second: u32,
    /// Unique viewers who watched it.
    pub viewers: u64,
    /// Views (watched segments) covering it.
    pub views: u64,
}

/// A learner at risk.
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct AtRisk {
    /// LMS user id.
    pub user_id: u64,
    /// Username.
    pub username: String,
    /// Email.
    pub email: String,
    /// Last activity in the course (UTC, `YYYY-MM-DD hh:mm:ss`).
    pub last_activity: String,
    /// Whole days since the last activity.
    pub days_inactive: u64,
    /// Percentage of the course's components completed.
    pub progress: f64,
}

/// One learner of a course's roster ([`learners`]).
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct CourseLearner {
    /// LMS user id.
    pub user_id: u64,
    /// Username.
    pub username: String,
    /// Email.
    pub email: String,
    /// Enrollment mode (`audit`, `verified`, …).
    pub enrollment_mode: String,
    /// Day of enrollment (UTC, `YYYY-MM-DD`; empty when the LMS has none).
    pub enrolled_on: String,
    /// Last event in the course (UTC, `YYYY-MM-DD hh:mm:ss`; empty when never seen).
    pub last_seen: String,
    /// Days with an event in the range.
    pub active_days: u64,
    /// Seconds spent in the course in the range (sessionized).
    pub time_spent: u64,
    /// Percentage of the course's components completed.
    pub progress: f64,
    /// Components completed (LMS completion).
    pub components_done: u64,
    /// The course's components (0 when its structure is not imported).
    pub components: u64,
    /// Course grade, 0–1.
    pub percent_grade: f64,
    /// 1 when the learner passed.
    pub passed: u8,
}

/// How far a course's enrolled learners got: each stage counted on its own, from the
/// roster ([`learners`]), so the stages need not nest (a learner may pass without an
/// event in the lake, or complete components the LMS recorded before the logs began).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Funnel {
    /// Learners with an active enrollment.
    pub enrolled: u64,
    /// Seen in the course at least once (any event, ever).
    pub started: u64,
    /// With an event in the course in the range.
    pub active: u64,
    /// Completed at least one component.
    pub progressed: u64,
    /// Completed at least half the course's components.
    pub halfway: u64,
    /// Completed every component.
    pub completed: u64,
    /// Passed.
    pub passed: u64,
}

impl Columns for Funnel {
    const COLUMNS: &'static [&'static str] = &[
        "enrolled",
        "started",
        "active",
        "progressed",
        "halfway",
        "completed",
        "passed",
    ];
}

impl Funnel {
    /// The stages in order, each with its name as shown and its learners.
    pub fn stages(&self) -> [(&'static str, u64); 7] {
        [
            ("enrolled", self.enrolled),
            ("seen in the course", self.started),
            ("active in the range", self.active),
            ("completed a component", self.progressed),
            ("completed half the components", self.halfway),
            ("completed every component", self.completed),
            ("passed", self.passed),
        ]
    }

    /// The stages of a roster's learners.
    pub fn of(roster: &[CourseLearner]) -> Funnel {
        let count =
            |f: &dyn Fn(&CourseLearner) -> bool| roster.iter().filter(|l| f(l)).count() as u64;
        let whole = |l: &CourseLearner| l.components > 0;
        Funnel {
            enrolled: roster.len() as u64,
            started: count(&|l| !l.last_seen.is_empty()),
            active: count(&|l| l.active_days > 0),
            progressed: count(&|l| l.components_done > 0),
            halfway: count(&|l| whole(l) && 2 * l.components_done >= l.components),
            completed: count(&|l| whole(l) && l.components_done >= l.components),
            passed: count(&|l| l.passed == 1),
        }
    }
}

/// One problem's results.
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct ProblemResult {
    /// Course-order position (the largest `u32` when the structure does not have it).
    pub position: u32,
    /// Usage key.
    pub problem_id: String,
    /// Name (the usage key when the structure is not imported).
    pub problem: String,
    /// Learners who submitted.
    pub learners: u64,
    /// Submissions.
    pub submissions: u64,
    /// Submissions per learner.
    pub submissions_per_learner: f64,
    /// % of learners right at their first submission.
    pub first_correct: f64,
    /// % of learners right at their last submission.
    pub last_correct: f64,
    /// Mean score of the last submissions, in % of the points.
    pub avg_score: f64,
    /// Hints shown.
    pub hints: u64,
    /// Answers shown.
    pub answers_shown: u64,
}

/// How often one answer was given to one input.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct AnswerCount {
    /// Course-order position of the problem.
    pub position: u32,
    /// Problem usage key.
    pub problem_id: String,
    /// Problem name.
    pub problem: String,
    /// The input's response key.
    pub input: String,
    /// The values sent, joined with `", "`.
    pub value: String,
    /// What the learner saw, joined with `", "`.
    pub answer: String,
    /// 1 right, 0 wrong, -1 unknown.
    pub correct: i8,
    /// Learners who gave it.
    pub learners: u64,
    /// Learners whose first submission gave it.
    pub first_learners: u64,
    /// Learners whose last submission gave it.
    pub last_learners: u64,
    /// Submissions that gave it.
    pub submissions: u64,
}

/// Navigation and completion of one section or subsection.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct NavigationRow {
    /// `section` or `subsection`.
    pub level: String,
    /// Course-order position.
    pub position: u32,
    /// Section name.
    pub section: String,
    /// Subsection name (`""` on a section's row).
    pub subsection: String,
    /// Usage key of the section or subsection.
    pub block_id: String,
    /// Learners with an event on one of its blocks in the range.
    pub learners: u64,
    /// Navigation events to it in the range.
    pub visits: u64,
    /// Its components.
    pub components: u64,
    /// Learners who completed every component.
    pub completed: u64,
    /// Median seconds from a learner's first event on it to its completion.
    pub median_seconds: u64,
}

/// One learner in one course.
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct LearnerSummary {
    /// LMS user id.
    pub user_id: u64,
    /// Username.
    pub username: String,
    /// E-mail.
    pub email: String,
    /// Enrollment mode (`""` when not enrolled).
    pub enrollment_mode: String,
    /// 1 when the enrollment is active.
    pub enrolled: u8,
    /// Course grade, 0–1.
    pub percent_grade: f64,
    /// Letter grade.
    pub letter_grade: String,
    /// 1 when they passed.
    pub passed: u8,
    /// Last event in the course (UTC, `YYYY-MM-DD hh:mm:ss`; `""` when none).
    pub last_seen: String,
}

/// One day of a learner's activity.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct LearnerDay {
    /// The day, `YYYY-MM-DD`.
    pub day: String,
    /// Events.
    pub events: u64,
    /// Seconds spent (sessionized).
    pub time_spent: u64,
}

/// A learner's progress in one unit.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct LearnerUnit {
    /// Course-order position.
    pub position: u32,
    /// Unit name.
    pub unit: String,
    /// Components.
    pub components: u64,
    /// Of those, completed by the learner.
    pub completed: u64,
}

/// A video as one learner watched it.
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct LearnerVideo {
    /// Video block id.
    pub video_id: String,
    /// Video name.
    pub video: String,
    /// Seconds watched in total.
    pub watched: f64,
    /// Distinct seconds of the video covered.
    pub covered: u64,
    /// Length in seconds.
    pub duration: f64,
    /// % of the video covered.
    pub share: f64,
}

/// A problem as one learner did it.
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct LearnerProblem {
    /// Usage key.
    pub problem_id: String,
    /// Name.
    pub problem: String,
    /// Submissions.
    pub submissions: u64,
    /// 1 when the first was right.
    pub first_correct: u8,
    /// 1 when the last was right.
    pub last_correct: u8,
    /// The last one's score, % of the points.
    pub last_score: f64,
}

/// Everything about one learner in one course.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LearnerView {
    /// Course key.
    pub course_id: String,
    /// First day of the range.
    pub from: NaiveDate,
    /// Last day of the range (included).
    pub to: NaiveDate,
    /// Who (none when the LMS does not know the user).
    pub summary: Option<LearnerSummary>,
    /// Activity per day.
    pub days: Vec<LearnerDay>,
    /// Progress per unit.
    pub units: Vec<LearnerUnit>,
    /// Videos watched.
    pub videos: Vec<LearnerVideo>,
    /// Problems tried.
    pub problems: Vec<LearnerProblem>,
}

impl Columns for LearnerSummary {
    const COLUMNS: &'static [&'static str] = &[
        "user_id",
        "username",
        "email",
        "enrollment_mode",
        "enrolled",
        "percent_grade",
        "letter_grade",
        "passed",
        "last_seen",
    ];
}

impl Columns for LearnerDay {
    const COLUMNS: &'static [&'static str] = &["day", "events", "time_spent"];
}

impl Columns for LearnerUnit {
    const COLUMNS: &'static [&'static str] = &["position", "unit", "components", "completed"];
}

impl Columns for LearnerVideo {
    const COLUMNS: &'static [&'static str] = &[
        "video_id", "video", "watched", "covered", "duration", "share",
    ];
}

impl Columns for LearnerProblem {
    const COLUMNS: &'static [&'static str] = &[
        "problem_id",
        "problem",
        "submissions",
        "first_correct",
        "last_correct",
        "last_score",
    ];
}

/// One week of a course's forum.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct ForumWeek {
    /// The week's Monday, `YYYY-MM-DD`.
    pub week: String,
    /// Threads created.
    pub threads: u64,
    /// Responses.
    pub responses: u64,
    /// Comments.
    pub comments: u64,
    /// Votes.
    pub votes: u64,
    /// Learners who posted.
    pub posters: u64,
}

/// One hour of the week of a course: the learners active then.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct HourActivity {
    /// Day of the week: 1 Monday … 7 Sunday.
    pub weekday: u8,
    /// Hour of the day, 0–23.
    pub hour: u8,
    /// Learners with an event in that hour of that day of the week on any day of the range.
    pub learners: u64,
}

impl Columns for HourActivity {
    const COLUMNS: &'static [&'static str] = &["weekday", "hour", "learners"];
}

/// One week of one enrollment cohort of a course: how many of its learners came back.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct RetentionCell {
    /// The cohort: the Monday (UTC) of the ISO week its learners enrolled in.
    pub cohort: String,
    /// Learners of the cohort (active enrollments created that week, within the range).
    pub enrolled: u64,
    /// Weeks after the cohort's own (0: the week they enrolled).
    pub week: u32,
    /// Of them, learners engaged in the course that week (within the range).
    pub active: u64,
}

impl Columns for RetentionCell {
    const COLUMNS: &'static [&'static str] = &["cohort", "enrolled", "week", "active"];
}

/// One of a course's most active forum threads.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct ForumThread {
    /// Thread id.
    pub thread_id: String,
    /// Title.
    pub title: String,
    /// Responses in the range.
    pub responses: u64,
    /// Comments in the range.
    pub comments: u64,
    /// Votes on the thread in the range.
    pub votes: u64,
    /// Learners who posted or voted in it.
    pub learners: u64,
}

/// A course's forum: per week, and its most active threads.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Forums {
    /// Per week.
    pub weeks: Vec<ForumWeek>,
    /// The most active threads.
    pub threads: Vec<ForumThread>,
}

impl Columns for ForumWeek {
    const COLUMNS: &'static [&'static str] = &[
        "week",
        "threads",
        "responses",
        "comments",
        "votes",
        "posters",
    ];
}

impl Columns for ForumThread {
    const COLUMNS: &'static [&'static str] = &[
        "thread_id",
        "title",
        "responses",
        "comments",
        "votes",
        "learners",
    ];
}

/// The platform's activity in one period.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct PlatformPeriod {
    /// `day`, `week` or `month`.
    pub period: String,
    /// Its first day, `YYYY-MM-DD`.
    pub start: String,
    /// Learners active in any course.
    pub active: u64,
    /// New registrations.
    pub registrations: u64,
    /// New enrollments.
    pub enrollments: u64,
}

/// One of the platform's most active courses.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct PlatformCourse {
    /// Course key.
    pub course_id: String,
    /// Learners active.
    pub learners: u64,
    /// Events.
    pub events: u64,
}

/// Ingestion of one source in one hour.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct IngestHour {
    /// The source's fingerprint.
    pub source: String,
    /// The path it was last read from.
    pub path: String,
    /// The hour (UTC, `YYYY-MM-DD hh:00:00`).
    pub hour: String,
    /// Events stored.
    pub events: u64,
    /// Lines rejected.
    pub rejected: u64,
}

/// How fresh the data is.
#[derive(Default, Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct Freshness {
    /// The newest event's time (UTC; `""` when none).
    pub newest_event: String,
    /// Seconds between it and the as-of time.
    pub lag_seconds: u64,
    /// The last checkpoint's time (UTC; `""` when never).
    pub last_ingest: String,
}

/// The whole platform, for global staff.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Platform {
    /// First day of the range.
    pub from: NaiveDate,
    /// Last day of the range (included).
    pub to: NaiveDate,
    /// Activity per day, week and month.
    pub activity: Vec<PlatformPeriod>,
    /// The most active courses.
    pub courses: Vec<PlatformCourse>,
    /// Their names, by course key (see [`course_names`]).
    pub names: std::collections::BTreeMap<String, String>,
    /// Ingestion per source and hour, over the 24 hours before the as-of time.
    pub ingest: Vec<IngestHour>,
    /// Freshness as of the as-of time.
    pub freshness: Freshness,
}

impl Columns for PlatformPeriod {
    const COLUMNS: &'static [&'static str] =
        &["period", "start", "active", "registrations", "enrollments"];
}

impl Columns for PlatformCourse {
    const COLUMNS: &'static [&'static str] = &["course_id", "learners", "events"];
}

impl Columns for IngestHour {
    const COLUMNS: &'static [&'static str] = &["source", "path", "hour", "events", "rejected"];
}

impl Columns for Freshness {
    const COLUMNS: &'static [&'static str] = &["newest_event", "lag_seconds", "last_ingest"];
}

/// One course of a comparison.
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct CourseComparison {
    /// Course key.
    pub course_id: String,
    /// Course name (the key when the structure is not imported).
    pub name: String,
    /// Learners enrolled (active enrollments).
    pub enrolled: u64,
    /// Learners active in the 7 days before the as-of time.
    pub active_7d: u64,
    /// Average % of the components the enrolled learners completed.
    pub avg_progress: f64,
    /// % of the enrolled learners who passed.
    pub pass_rate: f64,
    /// Median seconds spent in the range, over the learners active then.
    pub median_time_spent: u64,
}

impl Columns for CourseComparison {
    const COLUMNS: &'static [&'static str] = &[
        "course_id",
        "name",
        "enrolled",
        "active_7d",
        "avg_progress",
        "pass_rate",
        "median_time_spent",
    ];
}

/// One course of a comparison, the activity side (`compare.sql`).
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct CompareActivity {
    /// Course key.
    pub course_id: String,
    /// Learners active in the 7 days before the as-of time.
    pub active_7d: u64,
    /// Median seconds spent in the range, over the learners active then.
    pub median_time_spent: u64,
}

impl Columns for CompareActivity {
    const COLUMNS: &'static [&'static str] = &["course_id", "active_7d", "median_time_spent"];
}

/// One course of a comparison, the LMS side (`compare_lms.sql`).
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct CompareLms {
    /// Course key.
    pub course_id: String,
    /// Course name (the key when the structure is not imported).
    pub name: String,
    /// Learners enrolled (active enrollments).
    pub enrolled: u64,
    /// % of the enrolled learners who passed.
    pub pass_rate: f64,
}

impl Columns for CompareLms {
    const COLUMNS: &'static [&'static str] = &["course_id", "name", "enrolled", "pass_rate"];
}

/// One course of a comparison, its average progress (`compare_progress.sql`).
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct CompareProgress {
    /// Course key.
    pub course_id: String,
    /// Average % of the components the enrolled learners completed.
    pub avg_progress: f64,
}

impl Columns for CompareProgress {
    const COLUMNS: &'static [&'static str] = &["course_id", "avg_progress"];
}

/// What a course comparison is sorted by (largest first, then by course key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum CompareSort {
    /// Course key, ascending.
    #[default]
    Course,
    /// Learners enrolled.
    Enrolled,
    /// Learners active in the last 7 days.
    Active,
    /// Average progress.
    Progress,
    /// Pass rate.
    PassRate,
    /// Median time spent.
    TimeSpent,
}

impl CompareSort {
    /// Sorts rows: largest first, ties by course key.
    pub fn apply(self, rows: &mut [CourseComparison]) {
        let key = |r: &CourseComparison| -> f64 {
            match self {
                CompareSort::Course => 0.0,
                CompareSort::Enrolled => r.enrolled as f64,
                CompareSort::Active => r.active_7d as f64,
                CompareSort::Progress => r.avg_progress,
                CompareSort::PassRate => r.pass_rate,
                CompareSort::TimeSpent => r.median_time_spent as f64,
            }
        };
        rows.sort_by(|a, b| {
            key(b)
                .total_cmp(&key(a))
                .then_with(|| a.course_id.cmp(&b.course_id))
        });
    }
}

impl Columns for NavigationRow {
    const COLUMNS: &'static [&'static str] = &[
        "level",
        "position",
        "section",
        "subsection",
        "block_id",
        "learners",
        "visits",
        "components",
        "completed",
        "median_seconds",
    ];
}

impl Columns for ProblemResult {
    const COLUMNS: &'static [&'static str] = &[
        "position",
        "problem_id",
        "problem",
        "learners",
        "submissions",
        "submissions_per_learner",
        "first_correct",
        "last_correct",
        "avg_score",
        "hints",
        "answers_shown",
    ];
}

impl Columns for AnswerCount {
    const COLUMNS: &'static [&'static str] = &[
        "position",
        "problem_id",
        "problem",
        "input",
        "value",
        "answer",
        "correct",
        "learners",
        "first_learners",
        "last_learners",
        "submissions",
    ];
}

impl Columns for Week {
    const COLUMNS: &'static [&'static str] = &[
        "week",
        "enrolled",
        "active",
        "watched_video",
        "tried_problem",
        "time_spent",
        "avg_time_spent",
    ];
}

impl Columns for UnitProgress {
    const COLUMNS: &'static [&'static str] = &["position", "unit", "components", "completed"];
}

impl Columns for GradeBucket {
    const COLUMNS: &'static [&'static str] = &["from_percent", "to_percent", "learners", "passed"];
}

impl Columns for Demographic {
    const COLUMNS: &'static [&'static str] = &["dimension", "label", "learners"];
}

impl Columns for VideoEngagement {
    const COLUMNS: &'static [&'static str] = &[
        "video_id",
        "video",
        "viewers",
        "watch_time",
        "avg_watch_time",
        "duration",
    ];
}

impl Columns for VideoSecond {
    const COLUMNS: &'static [&'static str] = &["second", "viewers", "views"];
}

impl Columns for AtRisk {
    const COLUMNS: &'static [&'static str] = &[
        "user_id",
        "username",
        "email",
        "last_activity",
        "days_inactive",
        "progress",
    ];
}

impl Columns for CourseLearner {
    const COLUMNS: &'static [&'static str] = &[
        "user_id",
        "username",
        "email",
        "enrollment_mode",
        "enrolled_on",
        "last_seen",
        "active_days",
        "time_spent",
        "progress",
        "components_done",
        "components",
        "percent_grade",
        "passed",
    ];
}

/// The course overview: every course metric but the at-risk list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overview {
    /// Course key.
    pub course_id: String,
    /// First day of the range.
    pub from: NaiveDate,
    /// Last day of the range (included).
    pub to: NaiveDate,
    /// Weekly engagement.
    pub weekly: Vec<Week>,
    /// Progress per unit.
    pub progress: Vec<UnitProgress>,
    /// Grade distribution.
    pub grades: Vec<GradeBucket>,
    /// Demographics.
    pub demographics: Vec<Demographic>,
    /// Per-video engagement.
    pub videos: Vec<VideoEngagement>,
    /// When the LMS tables read (progress, grades, enrollments) were copied,
    /// `YYYY-MM-DD hh:mm:ss` UTC; `None` when they were read live ([`lms::as_of`]).
    pub lms_as_of: Option<String>,
}

/// A time range `[from, to)` of whole days (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// First day.
    pub from: NaiveDate,
    /// Day after the last.
    pub to: NaiveDate,
}

impl Range {
    /// The last `weeks` ISO weeks up to and including the one holding `today`.
    pub fn last_weeks(today: NaiveDate, weeks: u32) -> Range {
        let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
        Range {
            from: monday - Duration::weeks(i64::from(weeks.saturating_sub(1))),
            to: monday + Duration::weeks(1),
        }
    }

    /// The range from `from` through `last`, both included (how people give a range: the
    /// CLI's `--from`/`--to`, the dashboard's and the API's `from`/`to`); `None` when
    /// `last` is before `from`.
    pub fn through(from: NaiveDate, last: NaiveDate) -> Option<Range> {
        (from <= last).then(|| Range {
            from,
            to: last + Duration::days(1),
        })
    }

    /// The last day of the range (included).
    pub fn last(&self) -> NaiveDate {
        self.to - Duration::days(1)
    }

    /// The range's ends as the metrics' `from` and `to` parameters (`toDateTime(?)`).
    pub fn bounds(&self) -> (String, String) {
        (
            format!("{} 00:00:00", self.from.format("%Y-%m-%d")),
            format!("{} 00:00:00", self.to.format("%Y-%m-%d")),
        )
    }
}

/// A value bound into a metric's SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    /// A string (escaped by the client).
    Str(String),
    /// A number.
    U32(u32),
    /// A list of strings (an SQL array, each escaped by the client).
    List(Vec<String>),
    /// A user id.
    U64(u64),
}

impl From<&str> for Param {
    fn from(s: &str) -> Self {
        Param::Str(s.to_owned())
    }
}

/// A metric's SQL on the data lake of `ch`, reading the LMS from `lms` (see
/// [`lms::source`]), with its values bound (ready to fetch).
pub fn query(
    ch: &ClickHouse,
    template: &str,
    lms: lms::Source,
    params: &[Param],
) -> clickhouse::query::Query {
    let mut q = ch
        .client()
        .query(&sql_reading(template, ch.database(), lms));
    for p in params {
        q = match p {
            Param::Str(s) => q.bind(s.as_str()),
            Param::U32(n) => q.bind(*n),
            Param::List(l) => q.bind(l.as_slice()),
            Param::U64(n) => q.bind(*n),
        };
    }
    q
}

async fn run<T>(
    ch: &ClickHouse,
    what: &str,
    template: &str,
    params: &[Param],
) -> cairn_core::Result<Vec<T>>
where
    T: clickhouse::RowOwned + clickhouse::RowRead,
{
    let lms = lms::source(ch, template).await?;
    query(ch, template, lms, params)
        .fetch_all()
        .await
        .map_err(|e| cairn_core::Error::clickhouse(what, e))
}

/// The parameters of the weekly engagement metric.
pub fn weekly_engagement_params(course_id: &str, range: Range) -> Vec<Param> {
    let (from, to) = range.bounds();
    let mut p = vec![
        course_id.into(),
        Param::Str(from.clone()),
        Param::Str(to.clone()),
        Param::Str(from.clone()),
    ];
    p.extend(aggregate::repeat(&[
        course_id.into(),
        Param::Str(from),
        Param::Str(to),
    ]));
    p
}

/// Runs the weekly engagement metric for a course.
pub async fn weekly_engagement(
    ch: &ClickHouse,
    course_id: &str,
    range: Range,
) -> cairn_core::Result<Vec<Week>> {
    let p = weekly_engagement_params(course_id, range);
    run(ch, "weekly engagement", WEEKLY_ENGAGEMENT_SQL, &p).await
}

/// The parameters of the course progress metric.
pub fn course_progress_params(course_id: &str) -> Vec<Param> {
    vec![course_id.into(); 4]
}

/// Runs the course progress metric.
pub async fn course_progress(
    ch: &ClickHouse,
    course_id: &str,
) -> cairn_core::Result<Vec<UnitProgress>> {
    let p = course_progress_params(course_id);
    run(ch, "course progress", COURSE_PROGRESS_SQL, &p).await
}

/// The parameters of the grade distribution metric.
pub fn grade_distribution_params(course_id: &str) -> Vec<Param> {
    vec![course_id.into()]
}

/// Runs the grade distribution metric.
pub async fn grade_distribution(
    ch: &ClickHouse,
    course_id: &str,
) -> cairn_core::Result<Vec<GradeBucket>> {
    let p = grade_distribution_params(course_id);
    run(ch, "grade distribution", GRADE_DISTRIBUTION_SQL, &p).await
}

/// The parameters of the demographics metric: ages are reached in the year of the range's
/// last day.
pub fn demographics_params(course_id: &str, range: Range) -> Vec<Param> {
    let year = u32::try_from(range.last().year()).unwrap_or(0);
    vec![Param::U32(year), course_id.into()]
}

/// Runs the demographics metric; countries are named (English, ISO 3166-1).
pub async fn demographics(
    ch: &ClickHouse,
    course_id: &str,
    range: Range,
) -> cairn_core::Result<Vec<Demographic>> {
    let p = demographics_params(course_id, range);
    let mut rows: Vec<Demographic> = run(ch, "demographics", DEMOGRAPHICS_SQL, &p).await?;
    // The SQL lists the dimensions one after the other: the countries, named, are sorted
    // again (most learners first, then by name).
    let countries = rows
        .iter()
        .position(|r| r.dimension == "country")
        .map_or(0..0, |first| {
            first
                ..first
                    + rows[first..]
                        .iter()
                        .take_while(|r| r.dimension == "country")
                        .count()
        });
    for r in &mut rows[countries.clone()] {
        if let Some(name) = country_name(&r.label) {
            r.label = name.to_owned();
        }
    }
    rows[countries].sort_by(|a, b| {
        b.learners
            .cmp(&a.learners)
            .then_with(|| a.label.cmp(&b.label))
    });
    Ok(rows)
}

/// The age bands of the demographics, youngest first, as `demographics.sql` names and
/// orders them.
pub const AGE_BANDS: [&str; 8] = [
    "Under 18",
    "18–24",
    "25–34",
    "35–44",
    "45–54",
    "55–64",
    "65 and over",
    "Not specified",
];

/// The English name of an ISO 3166-1 alpha-2 country code as the LMS stores it; `XK`
/// (Kosovo, which the LMS offers outside ISO 3166-1) included. `None` for anything else.
pub fn country_name(code: &str) -> Option<&'static str> {
    match code {
        "XK" => Some("Kosovo"),
        _ => isocountry::CountryCode::for_alpha2(code)
            .ok()
            .map(|c| c.name()),
    }
}

/// The parameters of the video engagement metric.
pub fn video_engagement_params(course_id: &str, range: Range) -> Vec<Param> {
    let (from, to) = range.bounds();
    let mut p = vec![
        Param::Str(from.clone()),
        Param::Str(to.clone()),
        Param::Str(from.clone()),
        Param::Str(to.clone()),
    ];
    for _ in 0..3 {
        p.extend(aggregate::repeat(&[course_id.into()]));
    }
    p.extend([Param::Str(from), Param::Str(to), course_id.into()]);
    p
}

/// Runs the per-video engagement metric.
pub async fn video_engagement(
    ch: &ClickHouse,
    course_id: &str,
    range: Range,
) -> cairn_core::Result<Vec<VideoEngagement>> {
    let p = video_engagement_params(course_id, range);
    run(ch, "video engagement", VIDEO_ENGAGEMENT_SQL, &p).await
}

/// The parameters of the video curve.
pub fn video_curve_params(course_id: &str, video_id: &str, range: Range) -> Vec<Param> {
    let (from, to) = range.bounds();
    let mut p = Vec::new();
    for _ in 0..2 {
        p.extend(aggregate::repeat(&[course_id.into()]));
        p.extend([
            video_id.into(),
            Param::Str(from.clone()),
            Param::Str(to.clone()),
        ]);
    }
    p
}

/// Runs the second-by-second audience of a video.
pub async fn video_curve(
    ch: &ClickHouse,
    course_id: &str,
    video_id: &str,
    range: Range,
) -> cairn_core::Result<Vec<VideoSecond>> {
    let p = video_curve_params(course_id, video_id, range);
    run(ch, "video curve", VIDEO_CURVE_SQL, &p).await
}

/// The parameters of the at-risk list.
pub fn at_risk_params(course_id: &str, as_of: NaiveDateTime, days: u32) -> Vec<Param> {
    let t = as_of.format("%Y-%m-%d %H:%M:%S").to_string();
    let mut p = vec![course_id.into(), course_id.into(), Param::Str(t.clone())];
    p.extend(aggregate::repeat(&[course_id.into()]));
    p.extend([
        Param::U32(days),
        Param::Str(t),
        course_id.into(),
        course_id.into(),
        course_id.into(),
    ]);
    p
}

/// Runs the at-risk list: learners of the course inactive for `days` days before `as_of`.
pub async fn at_risk(
    ch: &ClickHouse,
    course_id: &str,
    as_of: NaiveDateTime,
    days: u32,
) -> cairn_core::Result<Vec<AtRisk>> {
    let p = at_risk_params(course_id, as_of, days);
    run(ch, "at-risk learners", AT_RISK_SQL, &p).await
}

/// The parameters of the course's learners: course_id 3 times, the learner days' filters
/// (course_id; then course_id, from, to; each [`aggregate::repeat`]ed), course_id twice.
pub fn learners_params(course_id: &str, range: Range) -> Vec<Param> {
    let (from, to) = range.bounds();
    let mut p: Vec<Param> = vec![course_id.into(), course_id.into(), course_id.into()];
    p.extend(aggregate::repeat(&[course_id.into()]));
    p.extend(aggregate::repeat(&[
        course_id.into(),
        Param::Str(from),
        Param::Str(to),
    ]));
    p.extend([course_id.into(), course_id.into()]);
    p
}

/// Runs the roster of a course: every actively enrolled learner with their activity in
/// `range`, progress and grade, by username.
pub async fn learners(
    ch: &ClickHouse,
    course_id: &str,
    range: Range,
) -> cairn_core::Result<Vec<CourseLearner>> {
    let p = learners_params(course_id, range);
    run(ch, "course learners", LEARNERS_SQL, &p).await
}

/// How far the course's enrolled learners got ([`Funnel`]; activity in `range`): counts
/// only, for any viewer of the course.
pub async fn funnel(ch: &ClickHouse, course_id: &str, range: Range) -> cairn_core::Result<Funnel> {
    Ok(Funnel::of(&learners(ch, course_id, range).await?))
}

/// The parameters of the per-problem results.
pub fn problems_params(course_id: &str, range: Range) -> Vec<Param> {
    let (from, to) = range.bounds();
    let mut p = aggregate::repeat(&[course_id.into(), Param::Str(from), Param::Str(to)]);
    p.push(course_id.into());
    p
}

/// Runs the per-problem results of a course.
pub async fn problems(
    ch: &ClickHouse,
    course_id: &str,
    range: Range,
) -> cairn_core::Result<Vec<ProblemResult>> {
    let p = problems_params(course_id, range);
    run(ch, "problem results", PROBLEMS_SQL, &p).await
}

/// The parameters of the answer distribution: the answer days' filter (course_id, from,
/// to, [`aggregate::repeat`]ed), the problem days' (the same), then course_id.
pub fn answers_params(course_id: &str, range: Range) -> Vec<Param> {
    let (from, to) = range.bounds();
    let filter = aggregate::repeat(&[course_id.into(), Param::Str(from), Param::Str(to)]);
    let mut p = filter.clone();
    p.extend(filter);
    p.push(course_id.into());
    p
}

/// Runs the answer distribution of a course.
pub async fn answers(
    ch: &ClickHouse,
    course_id: &str,
    range: Range,
) -> cairn_core::Result<Vec<AnswerCount>> {
    let p = answers_params(course_id, range);
    run(ch, "answer distribution", ANSWERS_SQL, &p).await
}

/// The parameters of navigation and completion per section and subsection.
pub fn navigation_params(course_id: &str, range: Range) -> Vec<Param> {
    let (from, to) = range.bounds();
    // The heads' block indexes (2) and course; the block days' indexes (2), filter
    // (`aggregate::COPIES`) and the structure's 3 × (4 indexes, 4 filters) and completions'
    // (2 indexes, 1 filter).
    let mut p = vec![Param::from(course_id); 3];
    p.extend([
        Param::Str(from.clone()),
        Param::Str(to.clone()),
        Param::Str(from),
        Param::Str(to),
    ]);
    let course = [Param::from(course_id)];
    p.extend(std::iter::repeat_n(course[0].clone(), 2));
    p.extend(aggregate::repeat(&course));
    p.extend(std::iter::repeat_n(course[0].clone(), 3 * 8 + 3));
    p
}

/// Runs navigation and completion per section and subsection.
pub async fn navigation(
    ch: &ClickHouse,
    course_id: &str,
    range: Range,
) -> cairn_core::Result<Vec<NavigationRow>> {
    let p = navigation_params(course_id, range);
    run(ch, "navigation", NAVIGATION_SQL, &p).await
}

/// The parameters of the course comparison's LMS side (`compare_lms.sql`).
pub fn compare_lms_params(courses: &[String]) -> Vec<Param> {
    std::iter::repeat_with(|| Param::List(courses.to_vec()))
        .take(5)
        .collect()
}

/// The parameters of the course comparison's average progress (`compare_progress.sql`).
pub fn compare_progress_params(courses: &[String]) -> Vec<Param> {
    std::iter::repeat_with(|| Param::List(courses.to_vec()))
        .take(13)
        .collect()
}

/// The parameters of the course comparison's activity side (`compare.sql`).
pub fn compare_params(courses: &[String], as_of: NaiveDateTime, range: Range) -> Vec<Param> {
    let (from, to) = range.bounds();
    let list = || Param::List(courses.to_vec());
    let fmt = |t: NaiveDateTime| Param::Str(t.format("%Y-%m-%d %H:%M:%S").to_string());
    // The 7 days before as_of: whole days from the learner days, the partial ends (when
    // as_of is not a midnight) from the events.
    let start = as_of - Duration::days(7);
    let whole_from = match start.time() == chrono::NaiveTime::MIN {
        true => start,
        false => (start.date() + Duration::days(1)).and_time(chrono::NaiveTime::MIN),
    };
    let whole_to = as_of.date().and_time(chrono::NaiveTime::MIN);
    let mut p = aggregate::repeat(&[list(), fmt(whole_from), fmt(whole_to)]);
    p.extend([
        list(),
        fmt(start),
        fmt(whole_from),
        fmt(whole_to),
        fmt(as_of),
    ]);
    p.extend(aggregate::repeat(&[
        list(),
        Param::Str(from),
        Param::Str(to),
    ]));
    p.push(list());
    p
}

/// Runs the course comparison over `courses`, sorted by course key.
pub async fn compare(
    ch: &ClickHouse,
    courses: &[String],
    as_of: NaiveDateTime,
    range: Range,
) -> cairn_core::Result<Vec<CourseComparison>> {
    if courses.is_empty() {
        return Ok(Vec::new());
    }
    // The three parts at once: each mostly waits on its own reads (MySQL for the LMS ones).
    let activity = compare_params(courses, as_of, range);
    let lms = compare_lms_params(courses);
    let progress = compare_progress_params(courses);
    let (activity, lms, progress) = tokio::try_join!(
        run::<CompareActivity>(ch, "course comparison (activity)", COMPARE_SQL, &activity),
        run::<CompareLms>(ch, "course comparison (LMS)", COMPARE_LMS_SQL, &lms),
        run::<CompareProgress>(
            ch,
            "course comparison (progress)",
            COMPARE_PROGRESS_SQL,
            &progress
        ),
    )?;
    Ok(join_comparison(activity, lms, progress))
}

/// Joins the parts of a comparison on the course key, by course key; a course missing from
/// a part gets zeros (and its key for a name) for that part's numbers.
pub fn join_comparison(
    activity: Vec<CompareActivity>,
    lms: Vec<CompareLms>,
    progress: Vec<CompareProgress>,
) -> Vec<CourseComparison> {
    let mut by = std::collections::BTreeMap::new();
    fn row<'a>(
        by: &'a mut std::collections::BTreeMap<String, CourseComparison>,
        course_id: &str,
    ) -> &'a mut CourseComparison {
        by.entry(course_id.to_owned())
            .or_insert_with(|| CourseComparison {
                course_id: course_id.to_owned(),
                name: course_id.to_owned(),
                enrolled: 0,
                active_7d: 0,
                avg_progress: 0.0,
                pass_rate: 0.0,
                median_time_spent: 0,
            })
    }
    for l in lms {
        let r = row(&mut by, &l.course_id);
        r.name = l.name;
        r.enrolled = l.enrolled;
        r.pass_rate = l.pass_rate;
    }
    for p in progress {
        row(&mut by, &p.course_id).avg_progress = p.avg_progress;
    }
    for a in activity {
        let r = row(&mut by, &a.course_id);
        r.active_7d = a.active_7d;
        r.median_time_spent = a.median_time_spent;
    }
    by.into_values().collect()
}

/// The parameters of each part of the learner view: (summary, days, units, videos,
/// problems).
pub fn learner_params(course_id: &str, user_id: u64, range: Range) -> [Vec<Param>; 5] {
    let (from, to) = range.bounds();
    let (c, u) = (|| Param::from(course_id), || Param::U64(user_id));
    let (f, t) = (|| Param::Str(from.clone()), || Param::Str(to.clone()));
    [
        {
            // The summary: the LMS's rows, then the learner days' filter for the last seen.
            let mut s = vec![u(), c(), u(), c(), u(), u()];
            s.extend(aggregate::repeat(&[c()]));
            s.push(u());
            s
        },
        {
            // The days: the learner days' filter, then the learner.
            let mut d = aggregate::repeat(&[c(), f(), t()]);
            d.push(u());
            d
        },
        vec![c(), c(), u(), c()],
        {
            // The videos: the video days' filter (course_id) before each part.
            let days = || aggregate::repeat(&[c()]);
            let mut v = days();
            v.extend([u(), f(), t()]);
            v.extend(days());
            v.extend([u(), f(), t()]);
            v.extend(days());
            v.push(c());
            v
        },
        {
            // The problems: the problem days' filter, the learner, then the course.
            let mut p = aggregate::repeat(&[c(), f(), t()]);
            p.extend([u(), c()]);
            p
        },
    ]
}

/// Runs every part of one learner's view of one course.
pub async fn learner(
    ch: &ClickHouse,
    course_id: &str,
    user_id: u64,
    range: Range,
) -> cairn_core::Result<LearnerView> {
    let [ps, pd, pu, pv, pp] = learner_params(course_id, user_id, range);
    let (summary, days, units, videos, problems) = tokio::try_join!(
        run::<LearnerSummary>(ch, "learner", LEARNER_SUMMARY_SQL, &ps),
        run(ch, "learner activity", LEARNER_DAYS_SQL, &pd),
        run(ch, "learner progress", LEARNER_UNITS_SQL, &pu),
        run(ch, "learner videos", LEARNER_VIDEOS_SQL, &pv),
        run(ch, "learner problems", LEARNER_PROBLEMS_SQL, &pp),
    )?;
    Ok(LearnerView {
        course_id: course_id.to_owned(),
        from: range.from,
        to: range.last(),
        summary: summary.into_iter().next(),
        days,
        units,
        videos,
        problems,
    })
}

/// The parameters of each part of the platform view: (activity, courses, ingest,
/// freshness); ingestion covers the 24 hours up to `as_of`.
pub fn platform_params(range: Range, as_of: NaiveDateTime, top: u32) -> [Vec<Param>; 4] {
    let (from, to) = range.bounds();
    let fmt = |t: NaiveDateTime| Param::Str(t.format("%Y-%m-%d %H:%M:%S").to_string());
    let (f, t) = (|| Param::Str(from.clone()), || Param::Str(to.clone()));
    let days = aggregate::repeat(&[f(), t()]);
    let mut courses = days.clone();
    courses.push(Param::U32(top));
    [
        [days, vec![f(), t(), f(), t()]].concat(),
        courses,
        vec![
            fmt(as_of - Duration::hours(24)),
            fmt(as_of + Duration::seconds(1)),
        ],
        freshness_params(as_of),
    ]
}

/// The parameters of data freshness: `as_of` 5 times.
fn freshness_params(as_of: NaiveDateTime) -> Vec<Param> {
    vec![Param::Str(as_of.format("%Y-%m-%d %H:%M:%S").to_string()); 5]
}

/// Data freshness alone, as of `as_of` (what `cairn status` prints).
pub async fn freshness(ch: &ClickHouse, as_of: NaiveDateTime) -> cairn_core::Result<Freshness> {
    let p = freshness_params(as_of);
    let rows: Vec<Freshness> = run(ch, "data freshness", PLATFORM_FRESHNESS_SQL, &p).await?;
    Ok(rows.into_iter().next().unwrap_or_default())
}

/// Runs every part of the platform view: the range's activity and top `top` courses,
/// ingestion over the 24 hours before `as_of`, and freshness as of then.
pub async fn platform(
    ch: &ClickHouse,
    range: Range,
    as_of: NaiveDateTime,
    top: u32,
) -> cairn_core::Result<Platform> {
    let [pa, pc, pi, pf] = platform_params(range, as_of, top);
    let (activity, courses, ingest, freshness) = tokio::try_join!(
        run(ch, "platform activity", PLATFORM_ACTIVITY_SQL, &pa),
        run(ch, "most active courses", PLATFORM_COURSES_SQL, &pc),
        run(ch, "ingestion per hour", PLATFORM_INGEST_SQL, &pi),
        run::<Freshness>(ch, "data freshness", PLATFORM_FRESHNESS_SQL, &pf),
    )?;
    let keys: Vec<String> = courses
        .iter()
        .map(|c: &PlatformCourse| c.course_id.clone())
        .collect();
    let names = course_names(ch, &keys).await?;
    Ok(Platform {
        from: range.from,
        to: range.last(),
        activity,
        courses,
        names,
        ingest,
        freshness: freshness.into_iter().next().unwrap_or_default(),
    })
}

/// The parameters of the forum's weeks and of its top `top` threads.
pub fn forums_params(course_id: &str, range: Range, top: u32) -> [Vec<Param>; 2] {
    let (from, to) = range.bounds();
    [
        vec![
            course_id.into(),
            Param::Str(from.clone()),
            Param::Str(to.clone()),
        ],
        vec![
            course_id.into(),
            Param::Str(from),
            Param::Str(to),
            course_id.into(),
            Param::U32(top),
        ],
    ]
}

/// Runs the forum of a course: per week, and its `top` most active threads.
pub async fn forums(
    ch: &ClickHouse,
    course_id: &str,
    range: Range,
    top: u32,
) -> cairn_core::Result<Forums> {
    let [pw, pt] = forums_params(course_id, range, top);
    let (weeks, threads) = tokio::try_join!(
        run(ch, "forum activity", FORUMS_SQL, &pw),
        run(ch, "forum threads", FORUM_THREADS_SQL, &pt),
    )?;
    Ok(Forums { weeks, threads })
}

/// A time zone by its IANA name (`Europe/Paris`, `UTC`), for the hours of the week.
pub fn time_zone(name: &str) -> Result<chrono_tz::Tz, String> {
    name.parse::<chrono_tz::Tz>().map_err(|_| {
        format!("unknown time zone {name:?}: give an IANA name such as UTC or Europe/Paris")
    })
}

/// The parameters of the hours of the week: the range's days are `tz`'s.
pub fn activity_hours_params(course_id: &str, range: Range, tz: chrono_tz::Tz) -> Vec<Param> {
    let (from, to) = range.bounds();
    let tz = Param::Str(tz.name().to_owned());
    let bounds = [Param::Str(from), tz.clone(), Param::Str(to), tz.clone()];
    let mut p = vec![tz.clone(), tz];
    let filter: Vec<Param> = std::iter::once(course_id.into())
        .chain(bounds.iter().cloned())
        .collect();
    p.extend(aggregate::repeat(&filter));
    p.extend(bounds);
    p
}

/// The parameters of retention by enrollment cohort (`retention.sql`).
pub fn retention_params(course_id: &str, range: Range) -> Vec<Param> {
    let (from, to) = range.bounds();
    let cohorts = [course_id.into(), Param::Str(from), Param::Str(to.clone())];
    let mut p = vec![Param::Str(to)];
    p.extend(cohorts.iter().cloned());
    p.extend(aggregate::repeat(&cohorts));
    p.extend(cohorts);
    p
}

/// Runs retention by enrollment cohort: per cohort (enrollment week in the range) and
/// week since, the learners who came back.
pub async fn retention(
    ch: &ClickHouse,
    course_id: &str,
    range: Range,
) -> cairn_core::Result<Vec<RetentionCell>> {
    let p = retention_params(course_id, range);
    run(ch, "retention", RETENTION_SQL, &p).await
}

/// Runs the hours of the week: the learners active per day of the week and hour, in `tz`.
pub async fn activity_hours(
    ch: &ClickHouse,
    course_id: &str,
    range: Range,
    tz: chrono_tz::Tz,
) -> cairn_core::Result<Vec<HourActivity>> {
    let p = activity_hours_params(course_id, range, tz);
    run(ch, "hours of the week", ACTIVITY_HOURS_SQL, &p).await
}

/// Runs every metric of the course overview.
pub async fn overview(
    ch: &ClickHouse,
    course_id: &str,
    range: Range,
) -> cairn_core::Result<Overview> {
    let (weekly, progress, grades, demographics, videos, lms_as_of) = tokio::try_join!(
        weekly_engagement(ch, course_id, range),
        course_progress(ch, course_id),
        grade_distribution(ch, course_id),
        demographics(ch, course_id, range),
        video_engagement(ch, course_id, range),
        lms::as_of(ch),
    )?;
    Ok(Overview {
        course_id: course_id.to_owned(),
        from: range.from,
        to: range.last(),
        weekly,
        progress,
        grades,
        demographics,
        videos,
        lms_as_of,
    })
}

/// Whether `course_id` belongs to `org` (the key's org part, case-insensitively, as the
/// access rules read it).
pub fn in_org(course_id: &str, org: &str) -> bool {
    cairn_core::CourseKey::parse(course_id).is_ok_and(|k| k.org().eq_ignore_ascii_case(org))
}

/// Courses with events or an imported structure, for course pickers. The courses with
/// events are read from the days' freshness marks (one row per course and day, written by
/// a materialized view at every insert, trimmed by retention with the events), not from
/// every event: 18 ms rather than 350 ms on the 12M-event lake.
pub async fn courses(ch: &ClickHouse) -> cairn_core::Result<Vec<String>> {
    let db = quote_ident(ch.database());
    let sql = format!(
        "SELECT DISTINCT course_id FROM (SELECT DISTINCT course_id FROM {db}._learner_days_dirty WHERE course_id != '' \
         UNION ALL SELECT DISTINCT course_id FROM {db}._course_imports) AS known ORDER BY course_id"
    );
    ch.client()
        .query(&sql)
        .fetch_all::<String>()
        .await
        .map_err(|e| cairn_core::Error::clickhouse("list courses", e))
}

/// The names of `courses` (each one's course block, from the imported structure), by
/// course key; a course whose structure is not imported, or has no name, is absent.
pub async fn course_names(
    ch: &ClickHouse,
    courses: &[String],
) -> cairn_core::Result<std::collections::BTreeMap<String, String>> {
    if courses.is_empty() {
        return Ok(Default::default());
    }
    let db = quote_ident(ch.database());
    let sql = format!(
        "SELECT course_id, max(display_name) FROM {db}.course_blocks \
         WHERE block_type = 'course' AND course_id IN (SELECT arrayJoin(?)) GROUP BY course_id"
    );
    let rows: Vec<(String, String)> = ch
        .client()
        .query(&sql)
        .bind(courses)
        .fetch_all()
        .await
        .map_err(|e| cairn_core::Error::clickhouse("course names", e))?;
    Ok(rows.into_iter().filter(|(_, n)| !n.is_empty()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hours of the week count quarter hours of UTC (migration 0030): exact in every
    /// zone whose offset is a whole number of quarter hours, which every IANA zone's is on
    /// every day from 1980 to 2040 (Nepal's +5:45 and the Chatham Islands' +12:45 among
    /// them).
    #[test]
    fn every_zone_is_a_whole_number_of_quarter_hours_off_utc_since_1980() {
        use chrono::{Offset, TimeZone};
        use chrono_tz::OffsetComponents;
        let first = NaiveDate::from_ymd_opt(1980, 1, 1).unwrap();
        let days = (NaiveDate::from_ymd_opt(2040, 1, 1).unwrap() - first).num_days();
        let mut odd = Vec::new();
        for tz in chrono_tz::TZ_VARIANTS {
            for d in 0..days {
                let t = (first + chrono::Duration::days(d))
                    .and_hms_opt(12, 0, 0)
                    .unwrap();
                let offset = tz.offset_from_utc_datetime(&t);
                let secs = offset.fix().local_minus_utc();
                if secs % 900 != 0 {
                    odd.push((tz.name(), t, secs, offset.base_utc_offset()));
                    break;
                }
            }
        }
        assert!(odd.is_empty(), "{odd:?}");
        // Checked where it matters: Nepal is 5:45 ahead.
        let kathmandu = time_zone("Asia/Kathmandu").unwrap();
        let t = NaiveDate::from_ymd_opt(2026, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        let secs = kathmandu
            .offset_from_utc_datetime(&t)
            .fix()
            .local_minus_utc();
        assert_eq!(secs, 5 * 3600 + 45 * 60);
    }

    #[test]
    fn a_country_code_is_named_and_anything_else_is_not() {
        assert_eq!(country_name("FR"), Some("France"));
        assert_eq!(country_name("XK"), Some("Kosovo"));
        assert_eq!(country_name("ZZ"), None);
        assert_eq!(country_name(""), None);
        assert_eq!(country_name("fra"), None);
    }

    #[test]
    fn a_comparison_joins_its_two_sides_on_the_course() {
        let activity = vec![
            CompareActivity {
                course_id: "course-v1:A+B+1".into(),
                active_7d: 3,
                median_time_spent: 60,
            },
            CompareActivity {
                course_id: "course-v1:A+B+3".into(),
                active_7d: 1,
                median_time_spent: 5,
            },
        ];
        let lms = vec![
            CompareLms {
                course_id: "course-v1:A+B+1".into(),
                name: "One".into(),
                enrolled: 4,
                pass_rate: 25.0,
            },
            CompareLms {
                course_id: "course-v1:A+B+2".into(),
                name: "Two".into(),
                enrolled: 2,
                pass_rate: 50.0,
            },
        ];
        let progress = vec![CompareProgress {
            course_id: "course-v1:A+B+1".into(),
            avg_progress: 12.5,
        }];
        let got = join_comparison(activity, lms, progress);
        let brief: Vec<_> = got
            .iter()
            .map(|c| {
                (
                    c.course_id.as_str(),
                    c.name.as_str(),
                    c.enrolled,
                    c.active_7d,
                    c.avg_progress,
                    c.pass_rate,
                    c.median_time_spent,
                )
            })
            .collect();
        assert_eq!(
            brief,
            vec![
                ("course-v1:A+B+1", "One", 4, 3, 12.5, 25.0, 60),
                ("course-v1:A+B+2", "Two", 2, 0, 0.0, 50.0, 0),
                ("course-v1:A+B+3", "course-v1:A+B+3", 0, 1, 0.0, 0.0, 5),
            ]
        );
    }

    /// The header csv derives from the struct's fields, in order.
    fn header<T: Serialize>(row: &T) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.serialize(row).unwrap();
        let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
        text.lines().next().unwrap().to_owned()
    }

    fn check<T: Columns>(row: T) {
        assert_eq!(header(&row), T::COLUMNS.join(","));
    }

    #[test]
    fn columns_follow_the_fields() {
        let s = String::new;
        check(Week {
            week: s(),
            enrolled: 0,
            active: 0,
            watched_video: 0,
            tried_problem: 0,
            time_spent: 0,
            avg_time_spent: 0.0,
        });
        check(UnitProgress {
            position: 0,
            unit: s(),
            components: 0,
            completed: 0,
        });
        check(GradeBucket {
            from_percent: 0,
            to_percent: 0,
            learners: 0,
            passed: 0,
        });
        check(Demographic {
            dimension: s(),
            label: s(),
            learners: 0,
        });
        check(VideoEngagement {
            video_id: s(),
            video: s(),
            viewers: 0,
            watch_time: 0.0,
            avg_watch_time: 0.0,
            duration: 0.0,
        });
        check(VideoSecond {
            second: 0,
            viewers: 0,
            views: 0,
        });
        check(ProblemResult {
            position: 0,
            problem_id: s(),
            problem: s(),
            learners: 0,
            submissions: 0,
            submissions_per_learner: 0.0,
            first_correct: 0.0,
            last_correct: 0.0,
            avg_score: 0.0,
            hints: 0,
            answers_shown: 0,
        });
        check(AnswerCount {
            position: 0,
            problem_id: s(),
            problem: s(),
            input: s(),
            value: s(),
            answer: s(),
            correct: 0,
            learners: 0,
            first_learners: 0,
            last_learners: 0,
            submissions: 0,
        });
        check(NavigationRow {
            level: s(),
            position: 0,
            section: s(),
            subsection: s(),
            block_id: s(),
            learners: 0,
            visits: 0,
            components: 0,
            completed: 0,
            median_seconds: 0,
        });
        check(CourseComparison {
            course_id: s(),
            name: s(),
            enrolled: 0,
            active_7d: 0,
            avg_progress: 0.0,
            pass_rate: 0.0,
            median_time_spent: 0,
        });
        check(AtRisk {
            user_id: 0,
            username: s(),
            email: s(),
            last_activity: s(),
            days_inactive: 0,
            progress: 0.0,
        });
    }
}

/// A metric's SQL with its positional `?` replaced, in order, by `names` (ClickHouse's
/// named parameters such as `{course_id:String}`, or any expression of them), for the
/// explorer's copies of the built-in metrics: they read the public views (users may not
/// read the stored tables). `?` in comments and string literals stays. An error when the
/// count of `?` is not the count of names.
pub fn with_named_params(template: &str, db: &str, names: &[&str]) -> Result<String, String> {
    let sql = render(template, db, true, lms::Source::Live);
    let mut out = String::with_capacity(sql.len() + 32 * names.len());
    let mut used = 0;
    let mut in_string = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_string = !in_string;
                out.push(c);
            }
            '\\' if in_string => {
                out.push(c);
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            '-' if !in_string && chars.peek() == Some(&'-') => {
                out.push(c);
                for n in chars.by_ref() {
                    out.push(n);
                    if n == '\n' {
                        break;
                    }
                }
            }
            '?' if !in_string => {
                let name = names
                    .get(used)
                    .ok_or_else(|| format!("the query has more than {} parameters", names.len()))?;
                out.push_str(name);
                used += 1;
            }
            _ => out.push(c),
        }
    }
    if used != names.len() {
        return Err(format!(
            "the query has {used} parameters, not {}",
            names.len()
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod named_tests {
    use super::*;

    #[test]
    fn positional_parameters_become_named_ones_outside_comments_and_strings() {
        let t =
            "-- why? because\nSELECT ?, '?', 'it''s?' FROM {{db}}.{{events}} WHERE a = ? -- x?\n";
        let s = with_named_params(t, "db", &["{a:String}", "{b:UInt8}"]).unwrap();
        assert_eq!(
            s,
            "-- why? because\nSELECT {a:String}, '?', 'it''s?' FROM `db`.events WHERE a = {b:UInt8} -- x?\n"
        );
        assert!(with_named_params(t, "db", &["{a:String}"]).is_err());
        assert!(with_named_params(t, "db", &["a", "b", "c"]).is_err());
    }

    #[test]
    fn every_metric_converts_with_its_parameter_count() {
        let course = "{course_id:String}";
        for (template, n) in [
            (
                WEEKLY_ENGAGEMENT_SQL,
                weekly_engagement_params(
                    "c",
                    Range::last_weeks(NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(), 1),
                )
                .len(),
            ),
            (COURSE_PROGRESS_SQL, course_progress_params("c").len()),
            (
                NAVIGATION_SQL,
                navigation_params(
                    "c",
                    Range::last_weeks(NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(), 1),
                )
                .len(),
            ),
            (
                PROBLEMS_SQL,
                problems_params(
                    "c",
                    Range::last_weeks(NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(), 1),
                )
                .len(),
            ),
            (
                ANSWERS_SQL,
                answers_params(
                    "c",
                    Range::last_weeks(NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(), 1),
                )
                .len(),
            ),
            (GRADE_DISTRIBUTION_SQL, grade_distribution_params("c").len()),
            (
                DEMOGRAPHICS_SQL,
                demographics_params(
                    "c",
                    Range::last_weeks(NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(), 1),
                )
                .len(),
            ),
            (
                VIDEO_ENGAGEMENT_SQL,
                video_engagement_params(
                    "c",
                    Range::last_weeks(NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(), 1),
                )
                .len(),
            ),
        ] {
            let names = vec![course; n];
            let s = with_named_params(template, "openedx", &names).unwrap();
            assert!(!s.contains(" ? ") && s.contains(course));
        }
    }
}
