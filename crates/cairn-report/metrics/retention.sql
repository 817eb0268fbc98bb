-- Retention by enrollment cohort, for one course: the learners whose active enrollment was
-- created in [from, to), grouped by the ISO week of its creation (the cohort: its Monday,
-- UTC), and for each week from the cohort's to the range's last (week 0 the cohort's own),
-- how many of them were engaged in the course that week within the range: an event other
-- than enrollment changes and page views (as at-risk), so enrolling is not activity. Every
-- cohort with an enrollment has a row per week, 0 when nobody came. Read from the learner
-- days (migration 0021). Parameters, in order: to, then course_id, from, to (the
-- cohorts), then course_id, from, to (the learner days' filter) 6 times, then course_id,
-- from, to (the cohorts' learners).
SELECT
    toString(cohorts.cohort_monday) AS cohort,
    toUInt64(cohorts.enrolled) AS enrolled,
    toUInt32(cohorts.since) AS week,
    toUInt64(ifNull(came.active, 0)) AS active
FROM
(
    SELECT cohort_monday, enrolled,
           toUInt32(arrayJoin(range(toUInt64(
               toRelativeWeekNum(toDate(toDateTime(?)) - 1) - toRelativeWeekNum(cohort_monday) + 1
           )))) AS since
    FROM
    (
        -- MySQL-engine filters: see weekly_engagement.sql.
        SELECT toMonday(toDate(assumeNotNull(created))) AS cohort_monday, count() AS enrolled
        FROM {{db}}.{{lms_course_enrollments}}
        WHERE course_id = ? AND toUInt8(is_active) = 1 AND isNotNull(created)
          AND toUInt32(assumeNotNull(created)) >= toUInt32(toDateTime(?))
          AND toUInt32(assumeNotNull(created)) < toUInt32(toDateTime(?))
        GROUP BY cohort_monday
    ) AS sizes
) AS cohorts
LEFT JOIN
(
    SELECT cohort AS cohort_monday,
           toUInt32(toRelativeWeekNum(monday) - toRelativeWeekNum(cohort)) AS since,
           uniqExact(user_id) AS active
    FROM
    (
        SELECT DISTINCT user_id, toMonday(day) AS monday
        FROM {{learner_days(course_id = ? AND day >= toDate(toDateTime(?)) AND day < toDate(toDateTime(?)))}} AS ld
        WHERE engaged = 1
    ) AS weeks_seen
    INNER JOIN
    (
        SELECT toUInt64(user_id) AS user_id, toMonday(toDate(assumeNotNull(created))) AS cohort
        FROM {{db}}.{{lms_course_enrollments}}
        WHERE course_id = ? AND toUInt8(is_active) = 1 AND isNotNull(created)
          AND toUInt32(assumeNotNull(created)) >= toUInt32(toDateTime(?))
          AND toUInt32(assumeNotNull(created)) < toUInt32(toDateTime(?))
    ) AS members USING (user_id)
    WHERE monday >= cohort
    GROUP BY cohort_monday, since
) AS came USING (cohort_monday, since)
ORDER BY cohort, week
