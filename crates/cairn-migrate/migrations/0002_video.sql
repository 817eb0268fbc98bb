-- Video events and watched segments, as views over `events` (no second copy to keep in
-- step). Cairn's video_view_segments needed ASOF JOIN (ClickHouse 20+); here each viewer's
-- events are sorted in an array and every play is paired with the event that ends it.
CREATE VIEW IF NOT EXISTS {{ db }}.video_events AS
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
FROM {{ db }}.events
WHERE family = 'video' AND video_id != '';

-- A segment starts at a play and ends at the viewer's next pause, stop or seek (for a seek,
-- where the viewer was before jumping). Segments running backwards are dropped, as in Cairn.
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
        arrayFilter(
            i -> (i < length(evs))
                AND has(['play_video', 'edx.video.played'], tupleElement(evs[i], 3))
                AND has(['pause_video', 'stop_video', 'seek_video', 'edx.video.paused',
                         'edx.video.stopped', 'edx.video.position.changed'], tupleElement(evs[i + 1], 3)),
            arrayEnumerate(evs)) AS starts,
        arrayMap(i -> (
            tupleElement(evs[i], 1),
            tupleElement(evs[i], 4),
            tupleElement(evs[i + 1], 1),
            if(has(['seek_video', 'edx.video.position.changed'], tupleElement(evs[i + 1], 3)),
               tupleElement(evs[i + 1], 5), tupleElement(evs[i + 1], 4)),
            tupleElement(evs[i + 1], 3)), starts) AS segs
    FROM {{ db }}.video_events
    GROUP BY course_id, video_id, user_id
) AS per_viewer
ARRAY JOIN segs AS seg
WHERE tupleElement(seg, 4) >= tupleElement(seg, 2);
