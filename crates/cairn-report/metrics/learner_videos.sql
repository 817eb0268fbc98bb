-- One learner's videos in one course: per video with a watched segment started in
-- [from, to) (see video_view_segments), its name (course_blocks; the id when not
-- imported), the seconds watched in total, the distinct seconds of the video covered (a
-- segment from a to b covers floor(a) <= s < ceil(b)), the video's length as the player
-- reported it, and the share of it covered (%, rounded half up to 0.1). In course order.
-- Identities only. Read from the video days (migration 0022), as video_curve.sql: the
-- learner's segments within a day, and those that span two of their active days
-- (VIDEO_SEGMENTS of lib.rs). Parameters, in order: course_id (the video days' filter) 6
-- times, user_id, from, to; course_id 6 times, user_id, from, to; course_id 6 times;
-- course_id.
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
        SELECT video_id, floor(sum(e - s) * 10 + 0.5) / 10 AS watched,
               length(groupUniqArrayArray(arrayMap(i -> toUInt32(floor(s)) + i,
                   range(toUInt32(greatest(ceil(e) - floor(s), 0)))))) AS covered
        FROM {{video_segments(user_id = toUInt64(?))}} AS segments
        GROUP BY video_id
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
