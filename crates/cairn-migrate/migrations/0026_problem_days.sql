-- Pre-aggregated problem days (issue #16): one row per course, day, problem and learner,
-- so that the problems page costs learners × problems × days, not events. Kept like the
-- learner days (0021): the same stale marks, computed by the same `cairn aggregate`, and
-- read by the metric with the stale days computed from the events in the same query.
--
--   submissions   the graded submissions (server `problem_check`), each counted once
--   first_at, first_ok   the day's first submission: when (µs since 1970), and 1 when right
--   last_at, last_ok     the day's last submission, likewise (0 when the day has none)
--   last_score    the last submission's grade / max_grade (0 when it has no points)
--   hints, shown  hints shown (`edx.problem.hint.demandhint_displayed`) and answers shown
--                 (`showanswer`, `edx.problem.show_answer`), each counted once
--   version       when the row was computed (as learner_days)
CREATE TABLE IF NOT EXISTS {{ db }}._problem_days
(
    course_id String,
    day Date,
    block_id String,
    user_id UInt64,
    submissions UInt64,
    first_at UInt64,
    first_ok UInt8,
    last_at UInt64,
    last_ok UInt8,
    last_score Float64,
    hints UInt64,
    shown UInt64,
    version UInt32
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (course_id, day, block_id, user_id);

-- Every day aggregated before this migration has no problem rows yet: stale again.
INSERT INTO {{ db }}._learner_days_dirty
SELECT course_id, toDate(time) AS day, max(now()) AS dirty_at
FROM {{ db }}._events
GROUP BY course_id, day;

-- The current rows, for users' own SQL (row policies as on `events`), as learner_days.
CREATE VIEW IF NOT EXISTS {{ db }}.problem_days AS
SELECT course_id, day, block_id, user_id, submissions, first_at, first_ok, last_at, last_ok,
       last_score, hints, shown
FROM {{ db }}._problem_days
WHERE (course_id, day, version) IN
(
    SELECT course_id, day, toUInt32(refreshed_at) FROM {{ db }}.learner_days_state WHERE stale = 0
);

{% if clickhouse.version.major > 24 or (clickhouse.version.major == 24 and clickhouse.version.minor >= 2) -%}
ALTER TABLE {{ db }}.problem_days MODIFY SQL SECURITY DEFINER;
{%- endif %}
