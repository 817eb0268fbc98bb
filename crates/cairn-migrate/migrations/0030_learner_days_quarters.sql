-- The quarter hours of a learner's day (issue #16), so that the hours of the week
-- (cairn-report's activity_hours.sql) cost learners × days, not events:
--
--   quarters   the quarter hours in which the learner had an event other than what the
--              LMS does without them (grades computed, enrollment changes), each once,
--              in order, as their start in Unix seconds divided by 900
--
-- Every time zone's hours (and days) start on a quarter hour of UTC, as long as its
-- offset is a whole number of quarter hours (every IANA zone's since 1980: cairn-report
-- checks it), so the learners of each hour of the week in any zone are counted exactly.
ALTER TABLE {{ db }}._learner_days ADD COLUMN quarters Array(UInt32) AFTER engaged;

-- The public view, with the new column.
DROP TABLE IF EXISTS {{ db }}.learner_days;

CREATE VIEW IF NOT EXISTS {{ db }}.learner_days AS
SELECT course_id, day, user_id, events, first_ts, last_ts, credited, video, problem, engaged,
       quarters
FROM {{ db }}._learner_days
WHERE (course_id, day, version) IN
(
    SELECT course_id, day, toUInt32(refreshed_at) FROM {{ db }}.learner_days_state WHERE stale = 0
);

{% if clickhouse.version.major > 24 or (clickhouse.version.major == 24 and clickhouse.version.minor >= 2) -%}
ALTER TABLE {{ db }}.learner_days MODIFY SQL SECURITY DEFINER;
{%- endif %}

-- Every day aggregated before this migration has no quarters yet: stale again.
INSERT INTO {{ db }}._learner_days_dirty
SELECT course_id, toDate(time) AS day, max(now()) AS dirty_at
FROM {{ db }}._events
GROUP BY course_id, day;
