-- video_view_segments, same rows, computed without lambdas that capture the event array:
-- each event is zipped with the next one (arrayPopBack/arrayPopFront), so the work grows
-- with the number of events instead of its square (ClickHouse copies a captured array for
-- every element). A segment starts at a play and ends at the viewer's next pause, stop or
-- seek (for a seek, where the viewer was before jumping); backwards segments are dropped.
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
    FROM {{ db }}.video_events
    GROUP BY course_id, video_id, user_id
) AS per_viewer
ARRAY JOIN segs AS seg
WHERE tupleElement(seg, 4) >= tupleElement(seg, 2);
