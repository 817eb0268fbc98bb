-- Second-by-second audience of one video: for each second s of the video that anyone
-- watched, the unique viewers and the views (watched segments) covering it. A segment from
-- position a to b covers the seconds s with floor(a) <= s < ceil(b). Segments started in
-- [from, to). Read from the video days (migration 0022): the segments within a day, and
-- those spanning two days (VIDEO_SEGMENTS of lib.rs). Computed by a sweep over the
-- segments' ends, not second by second: a viewer's segments are merged into the spans they cover (+1 viewer
-- where a span starts, -1 where it ends), each segment counts +1 view at its start and
-- -1 at its end, and the running sums over the positions give each second's viewers and
-- views; so the cost grows with the segments, not with the seconds watched. Parameters,
-- in order: course_id (the video days' filter) 6 times, video_id, from, to, course_id 6
-- times, video_id, from, to.
SELECT
    toUInt32(pos + arrayJoin(range(toUInt32(if(n_views > 0, next_pos - pos, 0))))) AS second,
    toUInt64(n_viewers) AS viewers,
    toUInt64(n_views) AS views
FROM
(
    -- Every position where a count changes, in order, and the running counts from there.
    SELECT
        arraySort(x -> tupleElement(x, 1), groupArray((pos, dv, dw))) AS bs,
        arrayMap(x -> tupleElement(x, 1), bs) AS positions
    FROM
    (
        -- Per position: the change in viewers and in views there.
        SELECT tupleElement(e, 1) AS pos,
               sum(toInt64(r > 0) - toInt64(r - tupleElement(e, 2) > 0)) AS dv,
               sum(tupleElement(e, 2)) AS dw
        FROM
        (
            -- Per viewer: their segments' ends in order, an end before a start at the same
            -- position (a segment from a to b covers the seconds [floor(a), ceil(b))), and
            -- how many of their segments are open after each.
            SELECT
                groupArray((toUInt64(toUInt32(floor(s))),
                    toUInt64(toUInt32(floor(s))) + toUInt64(toUInt32(ceil(e) - floor(s))))) AS segs,
                arraySort(p -> (tupleElement(p, 1), tupleElement(p, 2)),
                    arrayConcat(arrayMap(g -> (tupleElement(g, 1), toInt64(1)), segs),
                                arrayMap(g -> (tupleElement(g, 2), toInt64(-1)), segs))) AS ev,
                arrayCumSum(arrayMap(p -> tupleElement(p, 2), ev)) AS run
            FROM {{video_segments(video_id = ? AND user_id != 0)}} AS segments
            WHERE ceil(e) > floor(s)
            GROUP BY user_id
        ) AS per_viewer
        ARRAY JOIN ev AS e, run AS r
        GROUP BY pos
    ) AS changes
) AS sweep
ARRAY JOIN
    positions AS pos,
    arrayPushBack(arrayPopFront(positions), toUInt64(0)) AS next_pos,
    arrayCumSum(arrayMap(x -> tupleElement(x, 2), bs)) AS n_viewers,
    arrayCumSum(arrayMap(x -> tupleElement(x, 3), bs)) AS n_views
ORDER BY second
