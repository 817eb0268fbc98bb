-- Tracking events: one row per event, the typed columns of cairn-events' normalized row
-- plus the raw `message`. Keeps Tutor Cairn's names (time, message, name, course_id,
-- user_id, event_source); user_id 0 means unknown, as in Cairn.
--
-- Sorted by (course_id, time) for the dashboards' per-course, per-period queries.
-- ReplacingMergeTree on event_id (a hash of the raw message unless the ingester sets it):
-- an event inserted twice collapses on merge, and exact queries can use FINAL or
-- uniqExact(event_id). source/source_offset record where each event was read, so an
-- ingester can resume from what ClickHouse holds.
CREATE TABLE IF NOT EXISTS {{ db }}.events
(
    time DateTime,
    time_us UInt32 DEFAULT 0,
    name String,
    event_type String DEFAULT '',
    event_source String DEFAULT '',
    family String DEFAULT '',
    course_id String DEFAULT '',
    org String DEFAULT '',
    user_id UInt64 DEFAULT 0,
    username String DEFAULT '',
    session String DEFAULT '',
    ip String DEFAULT '',
    agent String DEFAULT '',
    host String DEFAULT '',
    referer String DEFAULT '',
    accept_language String DEFAULT '',
    page String DEFAULT '',
    path String DEFAULT '',
    block_id String DEFAULT '',
    block_type String DEFAULT '',
    video_id String DEFAULT '',
    position Nullable(Float64),
    old_position Nullable(Float64),
    video_duration Nullable(Float64),
    video_speed Nullable(Float64),
    attempts Nullable(Float64),
    grade Nullable(Float64),
    max_grade Nullable(Float64),
    success String DEFAULT '',
    weighted_earned Nullable(Float64),
    weighted_possible Nullable(Float64),
    percent_grade Nullable(Float64),
    letter_grade String DEFAULT '',
    completion Nullable(Float64),
    enrollment_mode String DEFAULT '',
    target String DEFAULT '',
    item_id String DEFAULT '',
    message String,
    event_id UInt64 DEFAULT cityHash64(message),
    source String DEFAULT '',
    source_offset UInt64 DEFAULT 0,
    inserted_at DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (course_id, time, event_id);
