-- Course comparison: per course of a list (the courses the viewer may see, or an org's),
-- its name (the course block's, from course_blocks; the key when not imported), learners
-- enrolled (active enrollments), learners active in the 7 days before the as-of time (any
-- event), average progress (over the enrolled learners, the % of the course's components
-- they completed: LMS block completion 1.0; 0 without an imported structure), pass rate
-- (% of the enrolled learners who passed: the LMS set a passed time) and the median time
-- spent in [from, to) over the learners active then (sessionized as in
-- weekly_engagement.sql; the upper middle value). Percentages are rounded half up to 0.1.
-- By course key (the caller sorts). Activity and time spent are read from the learner
-- days (migration 0021), the partial days at the ends of the 7 days from the events.
-- Parameters, in order: courses; then (courses, first whole day, day after the last whole
-- day) 4 times; courses, as_of - 7 days, first whole day, day after the last whole day,
-- as_of; courses 6 times; (courses, from, to) 4 times; courses (`courses`: an array of
-- course keys).
SELECT
    course_id,
    if(max(n_name) = '', course_id, max(n_name)) AS name,
    toUInt64(sum(n_enrolled)) AS enrolled,
    toUInt64(sum(n_active_7d)) AS active_7d,
    toFloat64(if(sum(n_components) * sum(n_enrolled) = 0, 0,
        intDiv(2000 * sum(n_done) + sum(n_components) * sum(n_enrolled),
               2 * sum(n_components) * sum(n_enrolled)) / 10)) AS avg_progress,
    toFloat64(if(sum(n_enrolled) = 0, 0,
        intDiv(2000 * sum(n_passed) + sum(n_enrolled), 2 * sum(n_enrolled)) / 10)) AS pass_rate,
    toUInt64(sum(n_median_time_spent)) AS median_time_spent
FROM
(
    SELECT course_id, '' AS n_name, toUInt64(count()) AS n_enrolled, toUInt64(0) AS n_active_7d,
           toUInt64(0) AS n_components, toUInt64(0) AS n_done, toUInt64(0) AS n_passed,
           toUInt64(0) AS n_median_time_spent
    FROM {{db}}.openedx_course_enrollments
    -- MySQL-engine filters: see weekly_engagement.sql.
    WHERE has(?, course_id) AND toUInt8(is_active) = 1
    GROUP BY course_id

    UNION ALL

    SELECT course_id, '', toUInt64(0), toUInt64(uniqExact(user_id)), toUInt64(0), toUInt64(0),
           toUInt64(0), toUInt64(0)
    FROM
    (
        SELECT course_id, user_id
        FROM {{learner_days(has(?, course_id) AND day >= toDate(toDateTime(?)) AND day < toDate(toDateTime(?)))}} AS ld
        UNION ALL
        SELECT course_id, user_id
        FROM {{db}}.{{events}}
        WHERE course_id IN (SELECT arrayJoin(?)) AND user_id != 0
          AND ((time >= toDateTime(?) AND time < toDateTime(?))
            OR (time >= toDateTime(?) AND time < toDateTime(?)))
    ) AS active
    GROUP BY course_id

    UNION ALL

    SELECT course_id, max(if(block_type = 'course', display_name, '')), toUInt64(0), toUInt64(0),
           toUInt64(countIf(NOT has(['course', 'chapter', 'sequential', 'vertical',
               'library_content', 'split_test', 'conditional', 'unit', 'wrapper', 'itembank',
               'discussion'], block_type))), toUInt64(0), toUInt64(0), toUInt64(0)
    FROM {{db}}.course_blocks
    WHERE has(?, course_id)
    GROUP BY course_id

    UNION ALL

    -- Components completed by enrolled learners.
    SELECT done.course_id AS course_id, '', toUInt64(0), toUInt64(0), toUInt64(0),
           toUInt64(sum(done.n)), toUInt64(0), toUInt64(0)
    FROM
    (
        SELECT c.course_id AS course_id, c.user_id AS user_id, uniqExact(c.block_key) AS n
        FROM
        (
            SELECT course_key AS course_id, toInt64(user_id) AS user_id, block_key
            FROM {{db}}.openedx_block_completion
            WHERE has(?, course_key) AND toFloat64(completion) >= 1
        ) AS c
        INNER JOIN
        (
            SELECT course_id, block_key FROM {{db}}.course_components WHERE has(?, course_id)
        ) AS leaf USING (course_id, block_key)
        GROUP BY c.course_id, c.user_id
    ) AS done
    INNER JOIN
    (
        SELECT course_id, toInt64(user_id) AS user_id
        FROM {{db}}.openedx_course_enrollments
        WHERE has(?, course_id) AND toUInt8(is_active) = 1
    ) AS enr USING (course_id, user_id)
    GROUP BY done.course_id

    UNION ALL

    -- Enrolled learners who passed.
    SELECT g.course_id AS course_id, '', toUInt64(0), toUInt64(0), toUInt64(0), toUInt64(0),
           toUInt64(count()), toUInt64(0)
    FROM
    (
        SELECT course_id, toInt64(user_id) AS user_id
        FROM {{db}}.openedx_course_enrollments
        WHERE has(?, course_id) AND toUInt8(is_active) = 1
    ) AS g
    INNER JOIN
    (
        SELECT course_id, toInt64(user_id) AS user_id
        FROM {{db}}.course_grades
        WHERE has(?, course_id) AND isNotNull(passed_timestamp)
    ) AS p USING (course_id, user_id)
    GROUP BY g.course_id

    UNION ALL

    -- Time spent per learner in the range, then its median per course.
    SELECT course_id, '', toUInt64(0), toUInt64(0), toUInt64(0), toUInt64(0), toUInt64(0),
           toUInt64(quantileExact(0.5)(spent))
    FROM
    (
        SELECT course_id, user_id,
               arraySort(x -> tupleElement(x, 1),
                   groupArray((day, first_ts, last_ts, credited))) AS ds,
               arraySum({{day_credits}}) AS spent
        FROM {{learner_days(has(?, course_id) AND day >= toDate(toDateTime(?)) AND day < toDate(toDateTime(?)))}} AS ld
        GROUP BY course_id, user_id
    ) AS per_learner
    GROUP BY course_id
) AS parts
WHERE has(?, course_id)
GROUP BY course_id
ORDER BY course_id
