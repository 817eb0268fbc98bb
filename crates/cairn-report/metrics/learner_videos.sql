-- One learner's videos in one course: per video with a watched segment started in
-- [from, to) (see video_view_segments), its name (course_blocks; the id when not
-- imported), the seconds watched in total, the distinct seconds of the video covered (a
-- segment from a to b covers floor(a) <= s < ceil(b)), the video's length as the player
-- reported it, and the share of it covered (%, rounded half up to 0.1). In course order.
-- Identities only. Read from the video days (migration 0022), as video_engagement.sql:
-- the learner's segments within a day, and those that span two of their active days (a
-- day's last video event a play, the next active day's first an end). Parameters, in
-- order: course_id (the video days' filter) 6 times, user_id, from, to; course_id 6
-- times, user_id; course_id 6 times, user_id; from, to; course_id 6 times; course_id.
SELECT
    w.video_id AS video_id,
    if(names.video_name = '', w.video_id, names.video_name) AS video,
    toFloat64(w.watched) AS watched,
    toUInt64(w.covered) AS covered,
    toFloat64(w.length) AS duration,
    toFloat64(if(w.length <= 0, 0, floor(least(w.covered / w.length, 1) * 1000 + 0.5) / 10))
        AS share
FROM
(
    SELECT seg.video_id AS video_id, seg.watched AS watched, seg.covered AS covered,
           ifNull(lengths.length, 0) AS length
    FROM
    (
        SELECT vid AS video_id, floor(sum(e - s) * 10 + 0.5) / 10 AS watched,
               length(groupUniqArrayArray(arrayMap(i -> toUInt32(floor(s)) + i,
                   range(toUInt32(greatest(ceil(e) - floor(s), 0)))))) AS covered
        FROM
        (
            -- The segments within a day.
            SELECT video_id AS vid, s, e
            FROM {{video_days(course_id = ?)}} AS vd
            ARRAY JOIN seg_start AS s, seg_end AS e
            WHERE user_id = toUInt64(?)
              AND day >= toDate(toDateTime(?)) AND day < toDate(toDateTime(?))
            UNION ALL
            -- The segments that span two days: each day that ends on a play, with the
            -- first event of the learner's next active day (with the video).
            SELECT vid, start AS s, ends AS e
            FROM
            (
                SELECT
                    vid, d, start,
                    tupleElement(nf, 1) AS next_name,
                    if(has(['seek_video', 'edx.video.position.changed'], next_name),
                       tupleElement(nf, 3), tupleElement(nf, 2)) AS ends
                FROM
                (
                    SELECT vid, d, any(start) AS start,
                           argMin((first_name, first_position, first_old_position), day) AS nf
                    FROM
                    (
                        SELECT video_id AS vid, day, first_name, first_position,
                               first_old_position
                        FROM {{video_days(course_id = ?)}} AS later
                        WHERE user_id = toUInt64(?)
                    ) AS r
                    INNER JOIN
                    (
                        SELECT video_id AS vid, day AS d, last_position AS start
                        FROM {{video_days(course_id = ?)}} AS played
                        WHERE user_id = toUInt64(?)
                          AND has(['play_video', 'edx.video.played'], last_name)
                    ) AS l USING (vid)
                    WHERE day > d
                    GROUP BY vid, d
                ) AS nexts
            ) AS crossings
            WHERE d >= toDate(toDateTime(?)) AND d < toDate(toDateTime(?))
              AND has(['pause_video', 'stop_video', 'seek_video', 'edx.video.paused',
                       'edx.video.stopped', 'edx.video.position.changed'], next_name)
              AND ends >= start
        ) AS segments
        GROUP BY vid
    ) AS seg
    LEFT JOIN
    (
        -- The longest length any viewer's player reported.
        SELECT video_id, max(video_length) AS length
        FROM {{video_days(course_id = ?)}} AS all_days
        GROUP BY video_id
    ) AS lengths USING (video_id)
) AS w
LEFT JOIN
(
    SELECT block_id AS video_id, any(display_name) AS video_name,
           min(position) AS video_position
    FROM {{db}}.course_blocks
    WHERE course_id = ? AND block_type = 'video'
    GROUP BY block_id
) AS names USING (video_id)
ORDER BY if(names.video_position = 0, 4294967295, names.video_position), video_id
