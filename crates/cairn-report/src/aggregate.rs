//! Pre-aggregated days: learner days (migration 0021: one row per course, day and
//! learner), video days (0022: per course, day, video and viewer), problem days (0026),
//! answer days (0027) and block days (0028), computed from the stored events by
//! [`refresh`], and read by the metrics through `{{learner_days(FILTER)}}`,
//! `{{video_days(FILTER)}}` and so on in their SQL, which stay exact and real time: the
//! days whose rows are not current ("stale": events inserted since they were computed) are
//! computed from the events in the same query.
//!
//! `FILTER` is a condition on `course_id` and `day` (a `Date`), with `?` parameters; it
//! is written [`COPIES`] times into the SQL, so its values are bound that many times in a
//! row (see [`repeat`]).

use cairn_core::ClickHouse;
use cairn_core::lock::LockTable;

use crate::Param;

/// How many times `{{learner_days(FILTER)}}` (or `video_days`) writes FILTER (and so
/// binds its values).
pub const COPIES: usize = 6;

/// One course-day's rows computed from the events: the learners' rows of the days that
/// FILTER (on `course_id` and `day`) selects.
const FROM_EVENTS: &str = "SELECT
        course_id,
        toDate(time) AS day,
        user_id,
        toUInt64(uniqExact(event_id)) AS events,
        toUInt32(min(time)) AS first_ts,
        toUInt32(max(time)) AS last_ts,
        toUInt64(arraySum(arrayMap(g -> toUInt64(if(g <= 1800, least(g, 600), 0)),
            arrayDifference(arraySort(groupArray(toUInt32(time))))))) AS credited,
        toUInt8(max(family = 'video')) AS video,
        toUInt8(max(family = 'problem')) AS problem,
        toUInt8(max(NOT has(['enrollment', 'implicit'], family))) AS engaged,
        arraySort(groupUniqArrayIf(toUInt32(intDiv(toUInt32(time), 900)),
            NOT has(['grade', 'enrollment'], family))) AS quarters
    FROM {{db}}.{{events}}
    WHERE user_id != 0 AND (FILTER)
    GROUP BY course_id, day, user_id";

/// The columns of a learner-day row, in order.
const COLUMNS: &str = "course_id, day, user_id, events, first_ts, last_ts, credited, video, \
     problem, engaged, quarters";

/// One course-day's video rows computed from the video events: per video and viewer, the
/// segments whose play and end fall on the day (paired as in video_view_segments), the
/// day's first and last event, and the longest length reported.
const VIDEO_FROM_EVENTS: &str = "SELECT
        course_id, day, video_id, user_id,
        arrayMap(s -> tupleElement(s, 1), segs) AS seg_start,
        arrayMap(s -> tupleElement(s, 2), segs) AS seg_end,
        tupleElement(evs[1], 3) AS first_name,
        tupleElement(evs[1], 4) AS first_position,
        tupleElement(evs[1], 5) AS first_old_position,
        tupleElement(evs[-1], 3) AS last_name,
        tupleElement(evs[-1], 4) AS last_position,
        longest AS video_length
    FROM
    (
        SELECT
            course_id, toDate(time) AS day, video_id, user_id,
            arraySort(e -> (tupleElement(e, 1), tupleElement(e, 2)),
                groupArray((time, time_us, name, ifNull(position, 0),
                    ifNull(old_position, 0)))) AS evs,
            arrayFilter(s -> tupleElement(s, 2) >= tupleElement(s, 1),
                arrayMap(p -> (tupleElement(p, 1), tupleElement(p, 2)),
                    arrayFilter(p -> has(['play_video', 'edx.video.played'], tupleElement(p, 4))
                            AND has(['pause_video', 'stop_video', 'seek_video', 'edx.video.paused',
                                     'edx.video.stopped', 'edx.video.position.changed'],
                                    tupleElement(p, 3)),
                        arrayMap((cur, nxt) -> (
                            tupleElement(cur, 4),
                            if(has(['seek_video', 'edx.video.position.changed'], tupleElement(nxt, 3)),
                               tupleElement(nxt, 5), tupleElement(nxt, 4)),
                            tupleElement(nxt, 3),
                            tupleElement(cur, 3)),
                            arrayPopBack(evs), arrayPopFront(evs))))) AS segs,
            max(ifNull(video_duration, 0)) AS longest
        -- The events, not the video_events view: 18.16 would not take the filter into it.
        FROM {{db}}.{{events}}
        WHERE family = 'video' AND video_id != '' AND FILTER
        GROUP BY course_id, day, video_id, user_id
    ) AS per_day";

/// The columns of a video-day row, in order.
const VIDEO_COLUMNS: &str = "course_id, day, video_id, user_id, seg_start, seg_end, first_name, \
     first_position, first_old_position, last_name, last_position, video_length";

/// One course-day's problem rows computed from the problem events: per problem and
/// learner, the graded submissions (server `problem_check`s: `graded`; each once), the
/// first's and the last's time (µs) and correctness, the last's score, and the hints and
/// answers shown (each once).
const PROBLEM_FROM_EVENTS: &str = "SELECT
        course_id,
        toDate(time) AS day,
        block_id,
        user_id,
        toUInt64(uniqExactIf(event_id, (name = 'problem_check' AND event_source = 'server')
            AS graded)) AS submissions,
        toUInt64(minIf(toUInt64(time) * 1000000 + time_us, graded)) AS first_at,
        toUInt8(argMinIf(success = 'correct', toUInt64(time) * 1000000 + time_us, graded))
            AS first_ok,
        toUInt64(maxIf(toUInt64(time) * 1000000 + time_us, graded)) AS last_at,
        toUInt8(argMaxIf(success = 'correct', toUInt64(time) * 1000000 + time_us, graded))
            AS last_ok,
        toFloat64(argMaxIf(if(ifNull(max_grade, 0) > 0, ifNull(grade, 0) / ifNull(max_grade, 1), 0),
            toUInt64(time) * 1000000 + time_us, graded)) AS last_score,
        toUInt64(uniqExactIf(event_id, name = 'edx.problem.hint.demandhint_displayed')) AS hints,
        toUInt64(uniqExactIf(event_id, name IN ('showanswer', 'edx.problem.show_answer'))) AS shown
    FROM {{db}}.{{events}}
    WHERE name IN ('problem_check', 'edx.problem.hint.demandhint_displayed', 'showanswer',
                   'edx.problem.show_answer') AND (FILTER)
    GROUP BY course_id, day, block_id, user_id";

/// The columns of a problem-day row, in order.
const PROBLEM_COLUMNS: &str = "course_id, day, block_id, user_id, submissions, first_at, \
     first_ok, last_at, last_ok, last_score, hints, shown";

/// One course-day's answer rows computed from the graded submissions (server
/// `problem_check`s): per problem, learner, input and answer given, the text seen, whether
/// it was right, the submissions that gave it (each once), and the first's and the last's
/// time (µs).
const ANSWER_FROM_EVENTS: &str = "SELECT
        course_id, day, block_id, user_id, input, value,
        min(seen) AS answer,
        toInt8(max(ok)) AS correct,
        toUInt64(uniqExact(event_id)) AS submissions,
        toUInt64(min(at)) AS first_at,
        toUInt64(max(at)) AS last_at
    FROM
    (
        SELECT course_id, toDate(time) AS day, block_id, user_id, event_id, input,
               arrayStringConcat(vals, ', ') AS value,
               arrayStringConcat(if(empty(txt), vals, txt), ', ') AS seen,
               ok,
               toUInt64(time) * 1000000 + time_us AS at
        FROM {{db}}.{{events}}
        ARRAY JOIN answer_input AS input, answer_values AS vals, answer_text AS txt,
                   answer_correct AS ok
        WHERE name = 'problem_check' AND event_source = 'server' AND user_id != 0
          AND block_id != '' AND (FILTER)
    ) AS given
    GROUP BY course_id, day, block_id, user_id, input, value";

/// The columns of an answer-day row, in order.
const ANSWER_COLUMNS: &str = "course_id, day, block_id, user_id, input, value, answer, \
     correct, submissions, first_at, last_at";

/// One course-day's block rows computed from the events on a block: per block and
/// learner, the navigation events to it (each once) and the first event's time.
const BLOCK_FROM_EVENTS: &str = "SELECT
        course_id,
        toDate(time) AS day,
        block_id,
        toUInt64(user_id) AS user_id,
        toUInt64(uniqExactIf(event_id, family = 'navigation')) AS navigations,
        toUInt32(min(time)) AS first_ts
    FROM {{db}}.{{events}}
    WHERE user_id != 0 AND block_id != '' AND (FILTER)
    GROUP BY course_id, day, block_id, user_id";

/// The columns of a block-day row, in order.
const BLOCK_COLUMNS: &str = "course_id, day, block_id, user_id, navigations, first_ts";

/// A kind of pre-aggregated day: its placeholder, stored table, public view, columns and
/// the computation from the events.
struct Kind {
    placeholder: &'static str,
    table: &'static str,
    view: &'static str,
    columns: &'static str,
    from_events: &'static str,
}

const KINDS: [Kind; 5] = [
    Kind {
        placeholder: "{{learner_days(",
        table: "_learner_days",
        view: "learner_days",
        columns: COLUMNS,
        from_events: FROM_EVENTS,
    },
    Kind {
        placeholder: "{{video_days(",
        table: "_video_days",
        view: "video_days",
        columns: VIDEO_COLUMNS,
        from_events: VIDEO_FROM_EVENTS,
    },
    Kind {
        placeholder: "{{problem_days(",
        table: "_problem_days",
        view: "problem_days",
        columns: PROBLEM_COLUMNS,
        from_events: PROBLEM_FROM_EVENTS,
    },
    Kind {
        placeholder: "{{answer_days(",
        table: "_answer_days",
        view: "answer_days",
        columns: ANSWER_COLUMNS,
        from_events: ANSWER_FROM_EVENTS,
    },
    Kind {
        placeholder: "{{block_days(",
        table: "_block_days",
        view: "block_days",
        columns: BLOCK_COLUMNS,
        from_events: BLOCK_FROM_EVENTS,
    },
];

/// The current rows' versions (of FILTER): per course-day not stale, when it was last
/// computed. Only the refresher holding [`AGGREGATE_LOCK`] writes rows, each run with a
/// version above every earlier one, so a key's row of that version is its current one
/// (and no `FINAL` is needed to pick it).
const CURRENT: &str = "SELECT course_id, day, toUInt32(refreshed_at) FROM {{db}}.learner_days_state WHERE stale = 0 AND (FILTER)";

/// The course-days (of FILTER) whose rows are not current.
const STALE: &str =
    "SELECT course_id, day FROM {{db}}.learner_days_state WHERE stale = 1 AND (FILTER)";

/// The course-days (of FILTER) whose rows are current, for the public views (which hold
/// only current rows, so the version is not needed).
const CURRENT_DAYS: &str =
    "SELECT course_id, day FROM {{db}}.learner_days_state WHERE stale = 0 AND (FILTER)";

/// The first (`min`) or last (`max`) stale day of FILTER, a constant by the time the
/// server picks the parts to read: the events read for stale days are those days' only
/// (compared with `time` itself: 18.16 prunes nothing on `toDate(time)`).
const STALE_BOUND: &str = "ifNull((SELECT AGG(day) FROM {{db}}.learner_days_state WHERE stale = 1 AND (FILTER)), toDate(0))";

/// Whether FILTER keeps one course only: it is `course_id = ?`, alone or followed by
/// `AND` conditions, with no `OR`. Then every row it keeps is of that course, and the
/// course-day sets compare the day alone (cheaper per row than with the course's text).
fn one_course(filter: &str) -> bool {
    let f = filter.trim();
    let rest = match f.strip_prefix("course_id = ?") {
        Some(rest) => rest,
        None => return false,
    };
    // Any `OR` (even inside a word) keeps the general form: it is exact too.
    (rest.is_empty() || rest.starts_with(" AND ")) && !f.to_ascii_uppercase().contains("OR")
}

/// `sql` (one of the state queries above) selecting the day instead of the course and
/// day, for a FILTER of [`one_course`].
fn by_day(sql: &str) -> String {
    sql.replacen("SELECT course_id, day", "SELECT day", 1)
}

/// The text that `{{learner_days(filter)}}` (or another kind's) stands for: a subquery of
/// rows, the current stored ones and, for stale days, ones computed from the events.
/// `public`: the public views (users' copies of the metrics), else the stored tables.
fn days_sql(kind: &Kind, filter: &str, public: bool) -> String {
    let (key, set): (&str, fn(&str) -> String) = if one_course(filter) {
        ("day", by_day)
    } else {
        ("course_id, day", str::to_owned)
    };
    let (stored, current) = if public {
        // The public views hold the current rows only (FILTER is written as many times).
        (
            format!("{{{{db}}}}.{}", kind.view),
            format!(
                " AND ({key}) IN ({})",
                set(&CURRENT_DAYS.replace("FILTER", filter))
            ),
        )
    } else {
        (
            format!("{{{{db}}}}.{}", kind.table),
            format!(
                " AND ({key}, version) IN ({})",
                set(&CURRENT.replace("FILTER", filter))
            ),
        )
    };
    let stale = set(&STALE.replace("FILTER", filter));
    let bound = |agg: &str| STALE_BOUND.replace("AGG", agg).replace("FILTER", filter);
    let events_filter = format!(
        "{filter}) AND (({key}) IN ({stale})) AND (time >= toDateTime({}) AND time < toDateTime({} + 1)",
        bound("min"),
        bound("max")
    );
    format!(
        "(\n    SELECT {columns}\n    FROM {stored}\n    WHERE ({filter}){current}\n    UNION ALL\n    {}\n)",
        kind.from_events
            .replace("FILTER", &format!("({events_filter})")),
        columns = kind.columns,
    )
}

/// Replaces every `{{learner_days(FILTER)}}` (and every other kind's placeholder) of
/// `template` by its subquery. FILTER may hold parentheses; it ends at the first `)}}`.
pub(crate) fn expand(template: &str, public: bool) -> String {
    let mut out = template.to_owned();
    for kind in &KINDS {
        out = expand_placeholder(&out, kind.placeholder, |filter| {
            days_sql(kind, filter, public)
        });
    }
    out
}

/// Replaces every `placeholder` (`{{name(`) … `)}}` of `template` by `sql` of its argument,
/// which may hold parentheses and ends at the first `)}}`.
pub(crate) fn expand_placeholder(
    template: &str,
    placeholder: &str,
    sql: impl Fn(&str) -> String,
) -> String {
    const CLOSE: &str = ")}}";
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find(placeholder) {
        out.push_str(&rest[..i]);
        let after = &rest[i + placeholder.len()..];
        match after.find(CLOSE) {
            Some(j) => {
                out.push_str(&sql(&after[..j]));
                rest = &after[j + CLOSE.len()..];
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// A learner-days filter's values, bound [`COPIES`] times in a row.
pub fn repeat(values: &[Param]) -> Vec<Param> {
    let mut out = Vec::with_capacity(values.len() * COPIES);
    for _ in 0..COPIES {
        out.extend_from_slice(values);
    }
    out
}

/// A day with stale course-days, and those courses.
#[derive(Debug, clickhouse::Row, serde::Deserialize)]
struct StaleDay {
    day: String,
    courses: Vec<String>,
    /// Of those, the course-days computed before (whose rows this run replaces).
    again: u64,
}

/// What one [`refresh`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Refreshed {
    /// Course-days computed.
    pub course_days: u64,
    /// Learner-day rows written.
    pub rows: u64,
    /// Course-days still stale afterwards (left by `max_days`, or made stale meanwhile).
    pub left: u64,
    /// Months whose earlier rows were merged away (after 7 or more of their days were computed
    /// again, `OPTIMIZE … PARTITION … FINAL` of each pre-aggregated table).
    pub compacted: u64,
}

/// A month's earlier rows are merged away ([`compact`]) after a run that computed again at
/// least this many of its days (days computed before; a first computation leaves no
/// earlier rows). The background refresh computes today again, perhaps yesterday: the
/// server's merges of small recent parts take those earlier rows away.
const COMPACT_MIN_DAYS: usize = 7;

/// The lock that one refresher holds at a time (two would write rows of one version).
pub const AGGREGATE_LOCK: LockTable = LockTable {
    table: "_aggregate_lock",
    what: "the aggregation lock",
    expiry_secs: 900,
};

/// Computes the rows of the stale course-days, one day (of every course) per statement,
/// oldest first, at most `max_days` days (all with `None`), holding [`AGGREGATE_LOCK`]
/// (waiting up to `wait` for another refresher; `Ok(None)` if it still runs). Resumable:
/// a day computed is marked current, and a day that gets events meanwhile is stale again.
pub async fn refresh_locked(
    ch: &ClickHouse,
    owner: &str,
    max_days: Option<usize>,
    wait: std::time::Duration,
) -> cairn_core::Result<Option<Refreshed>> {
    locked(ch, owner, wait, async |lock| {
        refresh_held(ch, max_days, lock).await
    })
    .await
}

/// [`refresh_locked`] for tests and one-off runs: waits for another refresher as long as
/// it holds the lock (at most its expiry).
pub async fn refresh(ch: &ClickHouse, max_days: Option<usize>) -> cairn_core::Result<Refreshed> {
    waiting(refresh_locked(ch, "cairn aggregate", max_days, LOCK_WAIT).await)
}

/// As long as another holder may keep [`AGGREGATE_LOCK`] (its expiry).
pub(crate) const LOCK_WAIT: std::time::Duration =
    std::time::Duration::from_secs(AGGREGATE_LOCK.expiry_secs as u64);

/// Runs `work` holding [`AGGREGATE_LOCK`] (waiting up to `wait` for another holder;
/// `Ok(None)` if it still holds it), and releases it.
pub(crate) async fn locked<T>(
    ch: &ClickHouse,
    owner: &str,
    wait: std::time::Duration,
    work: impl AsyncFnOnce(&cairn_core::lock::Lock) -> cairn_core::Result<T>,
) -> cairn_core::Result<Option<T>> {
    let lock = match AGGREGATE_LOCK.acquire(ch, owner, wait, |_| {}).await? {
        Ok(lock) => lock,
        Err(_) => return Ok(None),
    };
    let done = work(&lock).await;
    lock.release(ch).await?;
    done.map(Some)
}

/// The result of a run that waited for the lock as long as it may be held: none is an
/// error.
pub(crate) fn waiting<T>(done: cairn_core::Result<Option<T>>) -> cairn_core::Result<T> {
    done?.ok_or_else(|| {
        cairn_core::Error::Other("another refresher holds the aggregation lock".into())
    })
}

async fn refresh_held(
    ch: &ClickHouse,
    max_days: Option<usize>,
    lock: &cairn_core::lock::Lock,
) -> cairn_core::Result<Refreshed> {
    let db = ch.database();
    let err = |what: &'static str| move |e| cairn_core::Error::clickhouse(what, e);
    // The server's clock, taken before reading: rows inserted from this second on make
    // their day stale again (`dirty_at >= refreshed_at`). Above every earlier run's (the
    // rows of a version are one run's): in the same second as the last, wait for the next.
    let last: u32 = ch
        .client()
        .query(&crate::sql_for(
            "SELECT toUInt32(max(refreshed_at)) FROM {{db}}._learner_days_refreshed",
            db,
        ))
        .fetch_one()
        .await
        .map_err(err("learner days: last run"))?;
    let started = loop {
        let now: u32 = ch
            .client()
            .query("SELECT toUInt32(now())")
            .fetch_one()
            .await
            .map_err(err("learner days: clock"))?;
        if now > last {
            break now;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let stale_sql = crate::sql_for(
        "SELECT toString(d) AS day, courses, again FROM \
         (SELECT day AS d, groupArray(course_id) AS courses, \
                 toUInt64(countIf(refreshed_at > toDateTime(0))) AS again \
          FROM {{db}}.learner_days_state WHERE stale = 1 GROUP BY d) AS stale ORDER BY day",
        db,
    );
    let stale: Vec<StaleDay> = ch
        .client()
        .query(&stale_sql)
        .fetch_all()
        .await
        .map_err(err("learner days: stale days"))?;
    let mut done = Refreshed::default();
    let take = max_days.unwrap_or(usize::MAX);
    // Per kind, its rows of one day and some courses. None for a learner being retired or
    // retired (cairn-retire deletes theirs). The day's bounds on `time` itself too: 18.16
    // prunes nothing on `toDate(time)`, and would read every event for each day.
    let inserts: Vec<String> = KINDS
        .iter()
        .map(|kind| {
            crate::sql_for(
                &format!(
                    "INSERT INTO {{{{db}}}}.{table} ({columns}, version) \
                     SELECT {columns}, toUInt32(?) AS version FROM ({}) AS computed",
                    kind.from_events.replace(
                        "FILTER",
                        "(day = toDate(?) AND course_id IN (SELECT arrayJoin(?)) \
                         AND user_id NOT IN (SELECT user_id FROM {{db}}._retirements) \
                         AND time >= toDateTime(toDate(?)) AND time < toDateTime(toDate(?) + 1))"
                    ),
                    table = kind.table,
                    columns = kind.columns,
                ),
                db,
            )
        })
        .collect();
    let mark = crate::sql_for(
        "INSERT INTO {{db}}._learner_days_refreshed (course_id, day, refreshed_at) \
         SELECT arrayJoin(?) AS course_id, toDate(?) AS day, toDateTime(?) AS refreshed_at",
        db,
    );
    let count = crate::sql_for(
        "SELECT count() FROM {{db}}._learner_days \
         WHERE day = toDate(?) AND course_id IN (SELECT arrayJoin(?)) AND version = ?",
        db,
    );
    // Per month, the days this run computes again.
    let mut months: std::collections::BTreeMap<&str, usize> = Default::default();
    for StaleDay {
        day,
        courses,
        again,
    } in stale.iter().take(take)
    {
        if *again > 0 {
            *months.entry(day.get(..7).unwrap_or(day)).or_default() += 1;
        }
        // A long run keeps its claim alive.
        lock.refresh(ch).await?;
        for insert in &inserts {
            ch.client()
                .query(insert)
                .bind(started)
                .bind(day.as_str())
                .bind(courses.as_slice())
                .bind(day.as_str())
                .bind(day.as_str())
                .execute()
                .await
                .map_err(err("learner days: compute"))?;
        }
        ch.client()
            .query(&mark)
            .bind(courses.as_slice())
            .bind(day.as_str())
            .bind(started)
            .execute()
            .await
            .map_err(err("learner days: mark"))?;
        let rows: u64 = ch
            .client()
            .query(&count)
            .bind(day.as_str())
            .bind(courses.as_slice())
            .bind(started)
            .fetch_one()
            .await
            .map_err(err("learner days: count"))?;
        done.course_days += courses.len() as u64;
        done.rows += rows;
    }
    for (month, days) in months {
        if days >= COMPACT_MIN_DAYS {
            lock.refresh(ch).await?;
            if compact(ch, month).await {
                done.compacted += 1;
            }
        }
    }
    done.left = ch
        .client()
        .query(&crate::sql_for(
            "SELECT count() FROM {{db}}.learner_days_state WHERE stale = 1",
            db,
        ))
        .fetch_one()
        .await
        .map_err(err("learner days: stale days"))?;
    Ok(done)
}

/// Merges away the earlier rows of a month (`YYYY-MM`) of every kind: the pages skip them
/// by version, but read them, and the server's merges leave large old parts alone.
/// `OPTIMIZE … PARTITION … FINAL` on each table (`ReplacingMergeTree(version)` keeps each
/// key's newest row; only the refresher holding the lock writes these tables); on a
/// cluster through one node, as these tables are replicated to every node. The server
/// merges nothing when the parts are being merged meanwhile: a table left with more than
/// one part is tried again; should it still have several, its rows stay (exact, only
/// slower to read) and a warning says so. Whether every table was merged.
async fn compact(ch: &ClickHouse, month: &str) -> bool {
    let Ok(partition) = month.replace('-', "").parse::<u32>() else {
        return false;
    };
    let parts = "SELECT count() FROM system.parts \
                 WHERE database = ? AND table = ? AND active AND partition = ?";
    let mut all = true;
    for kind in &KINDS {
        let optimize = crate::sql_for(
            &format!("OPTIMIZE TABLE {{{{db}}}}.{} PARTITION ? FINAL", kind.table),
            ch.database(),
        );
        let mut left = Ok(u64::MAX);
        for _ in 0..3 {
            left = async {
                ch.client()
                    .query(&optimize)
                    .bind(partition)
                    .execute()
                    .await?;
                ch.client()
                    .query(parts)
                    .bind(ch.database())
                    .bind(kind.table)
                    .bind(partition.to_string())
                    .fetch_one::<u64>()
                    .await
            }
            .await;
            if matches!(left, Ok(n) if n <= 1) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
        match left {
            Ok(n) if n <= 1 => {}
            Ok(n) => {
                tracing::warn!(
                    month,
                    table = kind.table,
                    parts = n,
                    "earlier rows not merged away"
                );
                all = false;
            }
            Err(e) => {
                tracing::warn!(
                    month,
                    table = kind.table,
                    "earlier rows not merged away: {e}"
                );
                all = false;
            }
        }
    }
    if all {
        tracing::info!(month, "merged away the earlier rows of a month");
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_placeholder_expands_with_its_filter_copied_each_time() {
        let t =
            "SELECT 1 FROM {{learner_days(course_id = ? AND (day >= toDate(?)))}} AS ld WHERE x";
        let s = expand(t, false);
        assert!(!s.contains("{{learner_days"), "{s}");
        assert!(s.ends_with(" AS ld WHERE x"), "{s}");
        assert_eq!(s.matches('?').count(), 2 * COPIES);
        assert!(s.contains("{{db}}._learner_days\n"), "{s}");
        // One course: the sets compare the day alone; several: the course and the day.
        assert!(s.contains(" AND (day, version) IN (SELECT day, "), "{s}");
        assert!(s.contains("((day) IN (SELECT day FROM"), "{s}");
        let m = expand(
            "SELECT 1 FROM {{learner_days(has(?, course_id) AND day >= ?)}} AS ld",
            false,
        );
        assert!(
            m.contains("(course_id, day, version) IN (SELECT course_id, day, "),
            "{m}"
        );
        assert!(
            m.contains("((course_id, day) IN (SELECT course_id, day FROM"),
            "{m}"
        );
        assert!(!s.contains("FINAL"), "{s}");
        let v = expand("SELECT 1 FROM {{video_days(course_id = ?)}} AS vd", false);
        assert!(
            v.contains("{{db}}._video_days\n") && v.contains("family = 'video'"),
            "{v}"
        );
        assert_eq!(v.matches('?').count(), COPIES);
        assert!(s.contains("{{events}}"), "left for render: {s}");
        let p = expand(t, true);
        assert!(p.contains("{{db}}.learner_days\n"), "{p}");
        assert_eq!(p.matches('?').count(), 2 * COPIES);
        // Unclosed: left as written (the server then refuses it).
        assert_eq!(expand("{{learner_days(x", false), "{{learner_days(x");
        assert_eq!(repeat(&[Param::U32(1)]).len(), COPIES);
    }

    #[test]
    fn one_course_is_a_course_equality_with_and_conditions_only() {
        assert!(one_course("course_id = ?"));
        assert!(one_course(
            " course_id = ? AND day >= toDate(toDateTime(?))"
        ));
        assert!(!one_course("course_id = ? OR course_id = ?"));
        assert!(!one_course("course_id = ? AND (day = ? or course_id = ?)"));
        assert!(!one_course("course_id = ?2"));
        assert!(!one_course("has(?, course_id)"));
        assert!(!one_course("course_id != '' AND day >= ?"));
        assert!(!one_course("day >= ? AND course_id = ?"));
    }
}
