-- Video engagement of one course: per video, its name from course_blocks (the block id
-- when the structure is not imported), the unique viewers (learners with a watched
-- segment: a play up to the pause, stop or seek that ended it, see video_view_segments),
-- the watched seconds in total and per viewer, and the video's length as the player
-- reported it, for the segments started in [from, to). In course order, then by video
-- id. Read from the video days (migration 0022; the segment that spans two days is paired
-- here). Parameters, in order: from, to, from, to, then course_id (the video days'
-- filter) 6 times, then course_id.
SELECT
    sl.video_id AS video_id,
    if(names.video_name = '', sl.video_id, names.video_name) AS video,
    toUInt64(sl.viewers) AS viewers,
    toFloat64(sl.watched) AS watch_time,
    -- Rounded half up to 0.1 (round() rounds ties to even on current ClickHouse only).
    toFloat64(floor(sl.watched / sl.viewers * 10 + 0.5) / 10) AS avg_watch_time,
    toFloat64(sl.length) AS duration
FROM
(
    SELECT
        vid AS video_id,
        uniqExactIf(uid, uid != 0 AND n > 0) AS viewers,
        floor(sumIf(w, uid != 0) * 10 + 0.5) / 10 AS watched,
        max(len) AS length
    FROM
    (
        -- Per viewer: the seconds watched and the segments started in the range.
        SELECT
            vid, uid, len,
            arraySum(arrayMap(s -> if(tupleElement(s, 1) >= toDate(toDateTime(?))
                AND tupleElement(s, 1) < toDate(toDateTime(?)), tupleElement(s, 2), 0), segs)) AS w,
            arraySum(arrayMap(s -> if(tupleElement(s, 1) >= toDate(toDateTime(?))
                AND tupleElement(s, 1) < toDate(toDateTime(?)), tupleElement(s, 3), 0), segs)) AS n
        FROM
        (
            -- Per viewer, the active days in order; per day, the seconds watched and the
            -- segments within it, and the segment spanning to the next day.
            SELECT
                video_id AS vid,
                user_id AS uid,
                max(video_length) AS len,
                arraySort(x -> tupleElement(x, 1),
                    groupArray((day, first_name, first_position, first_old_position, last_name,
                        last_position, arraySum(arrayMap((a, b) -> b - a, seg_start, seg_end)),
                        toUInt64(length(seg_start))))) AS ds,
                arrayConcat(
                    arrayMap(x -> (tupleElement(x, 1), tupleElement(x, 7), tupleElement(x, 8)), ds),
                    arrayMap(c -> (tupleElement(c, 1), tupleElement(c, 4) - tupleElement(c, 3),
                        toUInt64(1)), {{day_crossings}})) AS segs
            FROM {{video_days(course_id = ?)}} AS vd
            GROUP BY video_id, user_id
        ) AS per_viewer
    ) AS in_range
    GROUP BY vid
    HAVING viewers > 0
) AS sl
LEFT JOIN
(
    SELECT block_id AS video_block, any(display_name) AS video_name,
           min(position) AS video_position
    FROM {{db}}.course_blocks
    WHERE course_id = ? AND block_type = 'video'
    GROUP BY block_id
) AS names ON sl.video_id = names.video_block
ORDER BY if(names.video_position = 0, 4294967295, names.video_position), video_id
