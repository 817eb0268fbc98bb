-- Second-by-second audience of one video: for each second s of the video that anyone
-- watched, the unique viewers and the views (watched segments) covering it. A segment from
-- position a to b covers the seconds s with floor(a) <= s < ceil(b). Segments started in
-- [from, to). Read from the video days (migration 0022): the segments within a day, and
-- those spanning two days, paired here. Parameters, in order: course_id (the video days'
-- filter) 6 times, video_id, from, to, course_id 6 times, video_id, from, to.
SELECT
    toUInt32(second) AS second,
    toUInt64(uniqExact(uid)) AS viewers,
    toUInt64(count()) AS views
FROM
(
    SELECT
        uid,
        arrayJoin(arrayMap(i -> toUInt32(floor(a)) + i,
            range(toUInt32(greatest(ceil(b) - floor(a), 0))))) AS second
    FROM
    (
        SELECT user_id AS uid, a, b
        FROM {{video_days(course_id = ?)}} AS vd
        ARRAY JOIN seg_start AS a, seg_end AS b
        WHERE video_id = ? AND user_id != 0
          AND day >= toDate(toDateTime(?)) AND day < toDate(toDateTime(?))

        UNION ALL

        SELECT uid, tupleElement(c, 3) AS a, tupleElement(c, 4) AS b
        FROM
        (
            SELECT
                user_id AS uid,
                arraySort(x -> tupleElement(x, 1),
                    groupArray((day, first_name, first_position, first_old_position, last_name,
                        last_position))) AS ds,
                {{day_crossings}} AS crossings
            FROM {{video_days(course_id = ?)}} AS vd
            WHERE video_id = ? AND user_id != 0
            GROUP BY user_id
        ) AS per_viewer
        ARRAY JOIN crossings AS c
        WHERE tupleElement(c, 1) >= toDate(toDateTime(?)) AND tupleElement(c, 1) < toDate(toDateTime(?))
    ) AS segments
) AS covered
GROUP BY second
ORDER BY second
