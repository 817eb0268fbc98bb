-- Course comparison, the LMS side: per course of a list (the courses the viewer may see,
-- or an org's), its name (the course block's, from course_blocks; the key when not
-- imported), learners enrolled (active enrollments) and pass rate (% of the enrolled
-- learners who passed: the LMS set a passed time; rounded half up to 0.1). By course key.
-- The activity side is compare.sql, average progress compare_progress.sql; the three run
-- at once (each mostly waits on its own reads) and are joined on the course key.
-- Parameters, in order: courses 5 times (`courses`: an array of course keys).
SELECT
    course_id,
    if(max(n_name) = '', course_id, max(n_name)) AS name,
    toUInt64(sum(n_enrolled)) AS enrolled,
    toFloat64(if(sum(n_enrolled) = 0, 0,
        intDiv(2000 * sum(n_passed) + sum(n_enrolled), 2 * sum(n_enrolled)) / 10)) AS pass_rate
FROM
(
    SELECT course_id, '' AS n_name, toUInt64(count()) AS n_enrolled, toUInt64(0) AS n_passed
    FROM {{db}}.{{lms_course_enrollments}}
    -- MySQL-engine filters: see weekly_engagement.sql.
    WHERE course_id IN (SELECT arrayJoin(?)) AND toUInt8(is_active) = 1
    GROUP BY course_id

    UNION ALL

    SELECT course_id, max(if(block_type = 'course', display_name, '')), toUInt64(0),
           toUInt64(0)
    FROM {{db}}.course_blocks
    WHERE course_id IN (SELECT arrayJoin(?))
    GROUP BY course_id

    UNION ALL

    -- Enrolled learners who passed.
    SELECT g.course_id AS course_id, '', toUInt64(0), toUInt64(count())
    FROM
    (
        SELECT course_id, toInt64(user_id) AS user_id
        FROM {{db}}.{{lms_course_enrollments}}
        WHERE course_id IN (SELECT arrayJoin(?)) AND toUInt8(is_active) = 1
    ) AS g
    INNER JOIN
    (
        SELECT course_id, toInt64(user_id) AS user_id
        FROM {{db}}.{{lms_course_grades}}
        WHERE course_id IN (SELECT arrayJoin(?)) AND isNotNull(passed_timestamp)
    ) AS p USING (course_id, user_id)
    GROUP BY g.course_id
) AS parts
WHERE course_id IN (SELECT arrayJoin(?))
GROUP BY course_id
ORDER BY course_id
