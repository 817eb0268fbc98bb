-- Second-by-second audience of one video: for each second s of the video that anyone
-- watched, the unique viewers and the views (watched segments) covering it. A segment from
-- position a to b covers the seconds s with floor(a) <= s < ceil(b). Segments started in
-- [from, to). Parameters, in order: course_id, video_id, from, to.
SELECT
    toUInt32(second) AS second,
    toUInt64(uniqExact(user_id)) AS viewers,
    toUInt64(count()) AS views
FROM
(
    SELECT
        user_id,
        arrayJoin(arrayMap(i -> toUInt32(floor(start_position)) + i,
            range(toUInt32(greatest(ceil(end_position) - floor(start_position), 0))))) AS second
    FROM {{db}}.video_view_segments
    WHERE course_id = ? AND video_id = ? AND start_time >= toDateTime(?)
      AND start_time < toDateTime(?) AND user_id != 0
) AS covered
GROUP BY second
ORDER BY second
-- The views' course filter must reach the events scan: ClickHouse 18.16 moves a predicate
-- into a view's subquery only with this setting (current versions do it by default).
SETTINGS enable_optimize_predicate_expression = 1
