-- Counting right: `events` is exact by default. The stored table becomes `_events`
-- (ReplacingMergeTree on event_id: a line stored twice, say a file and its container copy,
-- collapses only when ClickHouse merges), and `events` is a view of it with FINAL, so that
-- count() and every other aggregate over the public name count each event once, whatever
-- the merges have done. The ingester writes `_events`.
--
-- Cairn's own metrics read the stored table (through `_video_events` for video): each is
-- exact with duplicates present (distinct learners, zero-length gaps, segments paired per
-- viewer), so they keep its speed. The public video_events reads `events` (exact);
-- video_view_segments pairs the stored events (duplicates pair into nothing: a play's
-- duplicate is not an end, and an end's duplicate is not a play).
RENAME TABLE {{ db }}.events TO {{ db }}._events;

CREATE VIEW IF NOT EXISTS {{ db }}.events AS
SELECT * FROM {{ db }}._events FINAL;

CREATE VIEW IF NOT EXISTS {{ db }}._video_events AS
SELECT
    time,
    time_us,
    course_id,
    org,
    video_id,
    user_id,
    name,
    ifNull(position, 0) AS position,
    ifNull(old_position, 0) AS old_position,
    ifNull(video_duration, 0) AS duration,
    event_id
FROM {{ db }}._events
WHERE family = 'video' AND video_id != '';

DROP TABLE IF EXISTS {{ db }}.video_view_segments;

CREATE VIEW IF NOT EXISTS {{ db }}.video_view_segments AS
SELECT
    course_id,
    video_id,
    user_id,
    tupleElement(seg, 1) AS start_time,
    tupleElement(seg, 2) AS start_position,
    tupleElement(seg, 3) AS end_time,
    tupleElement(seg, 4) AS end_position,
    tupleElement(seg, 5) AS end_event,
    tupleElement(seg, 4) - tupleElement(seg, 2) AS duration
FROM
(
    SELECT
        course_id,
        video_id,
        user_id,
        arraySort(e -> (tupleElement(e, 1), tupleElement(e, 2)),
            groupArray((time, time_us, name, position, old_position))) AS evs,
        arrayFilter(s -> has(['play_video', 'edx.video.played'], tupleElement(s, 6))
                AND has(['pause_video', 'stop_video', 'seek_video', 'edx.video.paused',
                         'edx.video.stopped', 'edx.video.position.changed'], tupleElement(s, 5)),
            arrayMap((cur, nxt) -> (
                tupleElement(cur, 1),
                tupleElement(cur, 4),
                tupleElement(nxt, 1),
                if(has(['seek_video', 'edx.video.position.changed'], tupleElement(nxt, 3)),
                   tupleElement(nxt, 5), tupleElement(nxt, 4)),
                tupleElement(nxt, 3),
                tupleElement(cur, 3)),
                arrayPopBack(evs), arrayPopFront(evs))) AS segs
    FROM {{ db }}._video_events
    GROUP BY course_id, video_id, user_id
) AS per_viewer
ARRAY JOIN segs AS seg
WHERE tupleElement(seg, 4) >= tupleElement(seg, 2);

{% if clickhouse.version.major > 24 or (clickhouse.version.major == 24 and clickhouse.version.minor >= 2) -%}
-- Since 24.2 a view checks its reader's grants on what it reads: these two read private
-- objects, so they run as their definer and carry their own row filters per user (as
-- course_blocks does, migration 0013).
ALTER TABLE {{ db }}.events MODIFY SQL SECURITY DEFINER;
ALTER TABLE {{ db }}.video_view_segments MODIFY SQL SECURITY DEFINER;
{%- endif %}
