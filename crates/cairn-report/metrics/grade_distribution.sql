-- Grade distribution of one course: the learners with a course grade (the LMS's persistent
-- course grades) in ten buckets of 10 points (a grade of exactly 100% falls in the last),
-- and how many of them passed (the LMS set a passed time). Every bucket is listed, empty
-- ones with 0. Parameters: course_id.
SELECT
    toUInt32(bucket * 10) AS from_percent,
    toUInt32(bucket * 10 + 10) AS to_percent,
    toUInt64(countEqual(buckets, bucket)) AS learners,
    toUInt64(countEqual(arrayFilter((b, p) -> p = 1, buckets, passed_flags), bucket)) AS passed
FROM
(
    SELECT
        -- The grade rounded to 4 decimals first: the LMS's two decimals, read through
        -- ClickHouse's fast float parser, can come out a unit in the last place off, and
        -- 0.7 a hair under it would fall in the 60–70 bucket.
        groupArray(toUInt8(least(floor(round(toFloat64(percent_grade), 4) * 10), 9))) AS buckets,
        groupArray(toUInt8(isNotNull(passed_timestamp))) AS passed_flags
    FROM {{db}}.{{lms_course_grades}}
    -- MySQL-engine filters: see weekly_engagement.sql.
    WHERE course_id = ?
) AS grades
ARRAY JOIN range(10) AS bucket
ORDER BY from_percent
