-- Video engagement of one course: per video, its name from course_blocks (the block id
-- when the structure is not imported), the unique viewers (learners with a watched
-- segment: a play up to the pause, stop or seek that ended it, see video_view_segments),
-- the watched seconds in total and per viewer, and the video's length as the player
-- reported it, for the segments started in [from, to). In course order, then by video
-- id. Read from the video days (migration 0022): each day's segments of a viewer are
-- summed with the others' per video; a segment that spans two days (a day's last video event a play, the
-- viewer's next active day's first an end) is paired here, for the days that end on a
-- play only. Parameters, in order: from, to, from, to, then course_id (the video days'
-- filter) 18 times (3 × 6), then from, to, course_id.
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
        -- Rows of (video, viewer, length, seconds watched, segments started in the
        -- range): a viewer is one with a segment in any of them, and sums add up, so
        -- no row per viewer is needed.
        -- The segments within a day: one row per video day (the video's length is
        -- read from every day, the seconds and segments from the range's).
        SELECT
            video_id AS vid,
            user_id AS uid,
            video_length AS len,
            if(day >= toDate(toDateTime(?)) AND day < toDate(toDateTime(?)),
                arraySum(arrayMap((a, b) -> b - a, seg_start, seg_end)), 0) AS w,
            toUInt64(if(day >= toDate(toDateTime(?)) AND day < toDate(toDateTime(?)),
                length(seg_start), 0)) AS n
        FROM {{video_days(course_id = ?)}} AS vd
        UNION ALL
        -- The segments that span two days: each day that ends on a play, with the
        -- first event of the viewer's next active day.
        SELECT vid, uid, toFloat64(0) AS len, sum(ends - start) AS w, toUInt64(count()) AS n
        FROM
        (
            SELECT
                vid, uid, d, start,
                tupleElement(nf, 1) AS next_name,
                if(has(['seek_video', 'edx.video.position.changed'], next_name),
                   tupleElement(nf, 3), tupleElement(nf, 2)) AS ends
            FROM
            (
                SELECT vid, uid, d, any(start) AS start,
                       argMin((first_name, first_position, first_old_position), day) AS nf
                FROM
                (
                    SELECT video_id AS vid, user_id AS uid, day, first_name,
                           first_position, first_old_position
                    FROM {{video_days(course_id = ?)}} AS later
                ) AS r
                INNER JOIN
                (
                    SELECT video_id AS vid, user_id AS uid, day AS d, last_position AS start
                    FROM {{video_days(course_id = ?)}} AS played
                    WHERE has(['play_video', 'edx.video.played'], last_name)
                ) AS l USING (vid, uid)
                WHERE day > d
                GROUP BY vid, uid, d
            ) AS nexts
        ) AS crossings
        WHERE d >= toDate(toDateTime(?)) AND d < toDate(toDateTime(?))
          AND has(['pause_video', 'stop_video', 'seek_video', 'edx.video.paused',
                   'edx.video.stopped', 'edx.video.position.changed'], next_name)
          AND ends >= start
        GROUP BY vid, uid
    ) AS parts
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
