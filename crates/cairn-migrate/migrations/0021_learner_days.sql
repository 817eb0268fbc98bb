-- Pre-aggregates (issue #16): one row per course, day and learner, so that the metrics
-- built on activity (weekly engagement and time spent, at-risk, comparison, the platform)
-- cost learners × days, not events. Exact and real time: a metric reads the rows of the
-- days whose row set is current, and computes the other days ("stale": events inserted
-- since their rows were computed, or never computed) from the events, in the same query
-- (the learner-days placeholder of cairn-report's SQL). `cairn aggregate` (and `cairn
-- serve`, in the background) computes the stale days, one day at a time: resumable, and
-- idempotent.
--
--   events     the learner's events that day (each counted once)
--   first_ts   the first event's time, last_ts the last one's (Unix seconds)
--   credited   the seconds credited within the day by the sessionization rule of
--              weekly_engagement.sql (gaps between the day's own events); the gap from
--              last_ts to the learner's next active day is added by the metric
--   video, problem, engaged   1 when the learner had a video event, a problem event, an
--              event other than enrollment changes and page views (0 otherwise)
--   version    when the row was computed (the run's start, newer for each run)
CREATE TABLE IF NOT EXISTS {{ db }}._learner_days
(
    course_id String,
    day Date,
    user_id UInt64,
    events UInt64,
    first_ts UInt32,
    last_ts UInt32,
    credited UInt64,
    video UInt8,
    problem UInt8,
    engaged UInt8,
    version UInt32
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (course_id, day, user_id);

-- When events of a course and day were last inserted (by a materialized view, so any
-- writer counts, `cairn ingest` or not) and when that day's rows were last computed.
CREATE TABLE IF NOT EXISTS {{ db }}._learner_days_dirty
(
    course_id String,
    day Date,
    dirty_at DateTime
)
ENGINE = ReplacingMergeTree(dirty_at)
ORDER BY (course_id, day);

CREATE TABLE IF NOT EXISTS {{ db }}._learner_days_refreshed
(
    course_id String,
    day Date,
    refreshed_at DateTime
)
ENGINE = ReplacingMergeTree(refreshed_at)
ORDER BY (course_id, day);

CREATE MATERIALIZED VIEW IF NOT EXISTS {{ db }}._learner_days_dirty_mv
TO {{ db }}._learner_days_dirty
AS SELECT course_id, toDate(time) AS day, max(now()) AS dirty_at
FROM {{ db }}._events
GROUP BY course_id, day;

-- The events stored before this migration: every day of them is stale until computed.
INSERT INTO {{ db }}._learner_days_dirty
SELECT course_id, toDate(time) AS day, max(now()) AS dirty_at
FROM {{ db }}._events
GROUP BY course_id, day;

-- Per course and day, whether its rows are current (`stale` 1 when not). A day is stale
-- when events were inserted in or after the second its rows were computed.
CREATE VIEW IF NOT EXISTS {{ db }}.learner_days_state AS
SELECT
    course_id,
    day,
    max(d) AS dirty_at,
    max(r) AS refreshed_at,
    toUInt8(max(d) >= max(r)) AS stale
FROM
(
    SELECT course_id, day, dirty_at AS d, toDateTime(0) AS r
    FROM {{ db }}._learner_days_dirty
    UNION ALL
    SELECT course_id, day, toDateTime(0), refreshed_at
    FROM {{ db }}._learner_days_refreshed
) AS marks
GROUP BY course_id, day;

-- The current rows, for users' own SQL (row policies as on `events`): of the days not
-- stale, the rows of their latest computation (its version is when it ran; only one run
-- at a time writes rows, each with a newer version).
CREATE VIEW IF NOT EXISTS {{ db }}.learner_days AS
SELECT course_id, day, user_id, events, first_ts, last_ts, credited, video, problem, engaged
FROM {{ db }}._learner_days
WHERE (course_id, day, version) IN
(
    SELECT course_id, day, toUInt32(refreshed_at) FROM {{ db }}.learner_days_state WHERE stale = 0
);

{% if clickhouse.version.major > 24 or (clickhouse.version.major == 24 and clickhouse.version.minor >= 2) -%}
ALTER TABLE {{ db }}.learner_days_state MODIFY SQL SECURITY DEFINER;
ALTER TABLE {{ db }}.learner_days MODIFY SQL SECURITY DEFINER;
{%- endif %}
