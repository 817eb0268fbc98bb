-- Video engagement of one course: per video, its name from course_blocks (the block id
-- when the structure is not imported), the unique viewers (learners with a watched
-- segment: a play up to the pause, stop or seek that ended it, see video_view_segments),
-- the watched seconds in total and per viewer, and the video's length as the player
-- reported it, for the segments started in [from, to). In course order, then by video
-- id. Parameters, in order: course_id, from, to, course_id, course_id.
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
    SELECT seg.video_id AS video_id, seg.viewers AS viewers, seg.watched AS watched,
           lengths.length AS length
    FROM
    (
        SELECT video_id, uniqExact(user_id) AS viewers, floor(sum(duration) * 10 + 0.5) / 10 AS watched
        FROM {{db}}.video_view_segments
        WHERE course_id = ? AND start_time >= toDateTime(?) AND start_time < toDateTime(?)
          AND user_id != 0
        GROUP BY video_id
    ) AS seg
    LEFT JOIN
    (
        SELECT video_id AS length_video, max(duration) AS length
        FROM {{db}}.{{video_events}}
        WHERE course_id = ?
        GROUP BY video_id
    ) AS lengths ON seg.video_id = lengths.length_video
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
-- The views' course filter must reach the events scan: ClickHouse 18.16 moves a predicate
-- into a view's subquery only with this setting (current versions do it by default).
SETTINGS enable_optimize_predicate_expression = 1
