-- Pre-aggregated answer days (issue #16): one row per course, day, problem, learner,
-- input and answer given, so that the answer distribution costs the answers given, not
-- every event of the course. Kept like the problem days (0026): the same stale marks,
-- computed by the same `cairn aggregate`, and read by the metric with the stale days
-- computed from the events in the same query.
--
--   input         the input's response key (`answer_input`)
--   value         the values submitted, joined with ", " in the order sent
--   answer        what the learner saw for them, likewise (the values when the log does
--                 not say; the least of the day's texts if they differ)
--   correct       1 right, 0 not, -1 unknown (the day's highest)
--   submissions   the graded submissions (server `problem_check`) that gave it, each once
--   first_at, last_at   the day's first and last of them (µs since 1970)
--   version       when the row was computed (as learner_days)
CREATE TABLE IF NOT EXISTS {{ db }}._answer_days
(
    course_id String,
    day Date,
    block_id String,
    user_id UInt64,
    input String,
    value String,
    answer String,
    correct Int8,
    submissions UInt64,
    first_at UInt64,
    last_at UInt64,
    version UInt32
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (course_id, day, block_id, user_id, input, value);

-- Every day aggregated before this migration has no answer rows yet: stale again.
INSERT INTO {{ db }}._learner_days_dirty
SELECT course_id, toDate(time) AS day, max(now()) AS dirty_at
FROM {{ db }}._events
GROUP BY course_id, day;

-- The current rows, for users' own SQL (row policies as on `events`), as learner_days.
CREATE VIEW IF NOT EXISTS {{ db }}.answer_days AS
SELECT course_id, day, block_id, user_id, input, value, answer, correct, submissions,
       first_at, last_at
FROM {{ db }}._answer_days
WHERE (course_id, day, version) IN
(
    SELECT course_id, day, toUInt32(refreshed_at) FROM {{ db }}.learner_days_state WHERE stale = 0
);

{% if clickhouse.version.major > 24 or (clickhouse.version.major == 24 and clickhouse.version.minor >= 2) -%}
ALTER TABLE {{ db }}.answer_days MODIFY SQL SECURITY DEFINER;
{%- endif %}
