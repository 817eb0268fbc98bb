-- Pre-aggregated block days (issue #16): one row per course, day, block and learner with
-- an event on the block that day, so that navigation and completion cost learners ×
-- blocks × days, not events. Kept like the learner days (0021): the same stale marks,
-- computed by the same `cairn aggregate`, and read by the metric with the stale days
-- computed from the events in the same query.
--
--   navigations   the day's navigation events to the block, each counted once
--   first_ts      the day's first event on the block (seconds since 1970)
--   version       when the row was computed (as learner_days)
CREATE TABLE IF NOT EXISTS {{ db }}._block_days
(
    course_id String,
    day Date,
    block_id String,
    user_id UInt64,
    navigations UInt64,
    first_ts UInt32,
    version UInt32
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (course_id, day, block_id, user_id);

-- Every day aggregated before this migration has no block rows yet: stale again.
INSERT INTO {{ db }}._learner_days_dirty
SELECT course_id, toDate(time) AS day, max(now()) AS dirty_at
FROM {{ db }}._events
GROUP BY course_id, day;

-- The current rows, for users' own SQL (row policies as on `events`), as learner_days.
CREATE VIEW IF NOT EXISTS {{ db }}.block_days AS
SELECT course_id, day, block_id, user_id, navigations, first_ts
FROM {{ db }}._block_days
WHERE (course_id, day, version) IN
(
    SELECT course_id, day, toUInt32(refreshed_at) FROM {{ db }}.learner_days_state WHERE stale = 0
);

{% if clickhouse.version.major > 24 or (clickhouse.version.major == 24 and clickhouse.version.minor >= 2) -%}
ALTER TABLE {{ db }}.block_days MODIFY SQL SECURITY DEFINER;
{%- endif %}
