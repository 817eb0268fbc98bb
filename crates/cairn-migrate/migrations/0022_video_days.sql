-- Pre-aggregated video days (issue #16): one row per course, day, video and viewer, so
-- that video engagement and the video curve cost viewers × days, not events. Kept like
-- the learner days (0021): the same stale marks, computed by the same `cairn aggregate`,
-- and read by the metrics with the stale days computed from the events in the same query.
--
-- A watched segment (video_view_segments) is a play paired with the next video event of
-- the viewer when that ends it. A row holds the segments whose two events fall on its
-- day; the one that spans days (a play that is the day's last event, ended by the first
-- event of the viewer's next active day) is paired by the metric from first_* and last_*.
--   seg_start, seg_end   the day's segments: video positions where each started and ended
--   first_name, first_position, first_old_position   the day's first video event
--   last_name, last_position                         the day's last video event
--   video_length   the longest duration the player reported that day
--   version        when the row was computed (as learner_days)
CREATE TABLE IF NOT EXISTS {{ db }}._video_days
(
    course_id String,
    day Date,
    video_id String,
    user_id UInt64,
    seg_start Array(Float64),
    seg_end Array(Float64),
    first_name String,
    first_position Float64,
    first_old_position Float64,
    last_name String,
    last_position Float64,
    video_length Float64,
    version UInt32
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (course_id, day, video_id, user_id);

-- Every day aggregated before this migration has no video rows yet: stale again.
INSERT INTO {{ db }}._learner_days_dirty
SELECT course_id, toDate(time) AS day, max(now()) AS dirty_at
FROM {{ db }}._events
GROUP BY course_id, day;

-- The current rows, for users' own SQL (row policies as on `events`), as learner_days.
CREATE VIEW IF NOT EXISTS {{ db }}.video_days AS
SELECT course_id, day, video_id, user_id, seg_start, seg_end, first_name, first_position,
       first_old_position, last_name, last_position, video_length
FROM {{ db }}._video_days
WHERE (course_id, day, version) IN
(
    SELECT course_id, day, toUInt32(refreshed_at) FROM {{ db }}.learner_days_state WHERE stale = 0
);

{% if clickhouse.version.major > 24 or (clickhouse.version.major == 24 and clickhouse.version.minor >= 2) -%}
ALTER TABLE {{ db }}.video_days MODIFY SQL SECURITY DEFINER;
{%- endif %}
