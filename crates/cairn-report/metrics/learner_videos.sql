-- One learner's videos in one course: per video with a watched segment started in
-- [from, to) (see video_view_segments), its name (course_blocks; the id when not
-- imported), the seconds watched in total, the distinct seconds of the video covered (a
-- segment from a to b covers floor(a) <= s < ceil(b)), the video's length as the player
-- reported it, and the share of it covered (%, rounded half up to 0.1). In course order.
-- Identities only. Parameters, in order: course_id, user_id, from, to, course_id, course_id.
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
        SELECT video_id, floor(sum(duration) * 10 + 0.5) / 10 AS watched,
               length(groupUniqArrayArray(arrayMap(i -> toUInt32(floor(start_position)) + i,
                   range(toUInt32(greatest(ceil(end_position) - floor(start_position), 0))))))
                   AS covered
        FROM {{db}}.video_view_segments
        WHERE course_id = ? AND user_id = toUInt64(?)
          AND start_time >= toDateTime(?) AND start_time < toDateTime(?)
        GROUP BY video_id
    ) AS seg
    LEFT JOIN
    (
        SELECT video_id, max(duration) AS length
        FROM {{db}}.{{video_events}}
        WHERE course_id = ?
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
SETTINGS enable_optimize_predicate_expression = 1
