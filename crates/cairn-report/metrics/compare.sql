-- Course comparison, the activity side: per course of a list (the courses the viewer may
-- see, or an org's), learners active in the 7 days before the as-of time (any event) and
-- the median time spent in [from, to) over the learners active then (sessionized as in
-- weekly_engagement.sql; the upper middle value). By course key. Both are read from the
-- learner days (migration 0021), the partial days at the ends of the 7 days from the
-- events. The LMS side (name, enrolled, average progress, pass rate) is compare_lms.sql;
-- `cairn report compare`, the dashboard and the API run both at once and join them on the
-- course key (a course in neither result is left out).
-- Parameters, in order: (courses, first whole day, day after the last whole day) 6 times;
-- courses, as_of - 7 days, first whole day, day after the last whole day, as_of; (courses,
-- from, to) 6 times; courses (`courses`: an array of course keys).
SELECT
    course_id,
    toUInt64(sum(n_active_7d)) AS active_7d,
    toUInt64(sum(n_median_time_spent)) AS median_time_spent
FROM
(

    SELECT course_id, toUInt64(uniqExact(user_id)) AS n_active_7d,
           toUInt64(0) AS n_median_time_spent
    FROM
    (
        SELECT course_id, user_id
        FROM {{learner_days(course_id IN (SELECT arrayJoin(?)) AND day >= toDate(toDateTime(?)) AND day < toDate(toDateTime(?)))}} AS ld
        UNION ALL
        SELECT course_id, user_id
        FROM {{db}}.{{events}}
        WHERE course_id IN (SELECT arrayJoin(?)) AND user_id != 0
          AND ((time >= toDateTime(?) AND time < toDateTime(?))
            OR (time >= toDateTime(?) AND time < toDateTime(?)))
    ) AS active
    GROUP BY course_id

    UNION ALL

    -- Time spent per learner in the range (learner_spent in lib.rs: the days' own credits,
    -- plus each gap across one midnight of at most 30 minutes), then its median per
    -- course.
    SELECT course_id, toUInt64(0), toUInt64(quantileExact(0.5)(spent))
    FROM
    (
        SELECT course_id, user_id,
               {{learner_spent}}
        FROM {{learner_days(course_id IN (SELECT arrayJoin(?)) AND day >= toDate(toDateTime(?)) AND day < toDate(toDateTime(?)))}} AS ld
        GROUP BY course_id, user_id
    ) AS per_learner
    GROUP BY course_id
) AS parts
WHERE course_id IN (SELECT arrayJoin(?))
GROUP BY course_id
ORDER BY course_id
