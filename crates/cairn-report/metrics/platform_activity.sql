-- The platform's activity, across every course: per day, per ISO week (its Monday) and per
-- month (its first day) in [from, to), the learners active (any event in any course), the
-- new registrations (the LMS's users by the day they joined) and the new enrollments (by
-- the day they were created). Global staff only. Periods without any are absent. Activity
-- is read from the learner days (migration 0021). Parameters, in order: (from, to) 6 times
-- (the learner days' filter), then from, to, from, to.
SELECT
    period,
    toString(start) AS start,
    toUInt64(sum(n_active)) AS active,
    toUInt64(sum(n_registrations)) AS registrations,
    toUInt64(sum(n_enrollments)) AS enrollments
FROM
(
    -- Each day's set of learners, once; a week's and a month's are their days' sets
    -- merged (not every learner-day row repeated for the three periods).
    SELECT period, start, toUInt64(uniqExactMerge(learners)) AS n_active,
           toUInt64(0) AS n_registrations, toUInt64(0) AS n_enrollments
    FROM
    (
        SELECT day, uniqExactState(user_id) AS learners
        FROM {{learner_days(day >= toDate(toDateTime(?)) AND day < toDate(toDateTime(?)))}} AS ld
        GROUP BY day
    ) AS daily
    ARRAY JOIN ['day', 'week', 'month'] AS period,
               [day, toMonday(day), toStartOfMonth(day)] AS start
    GROUP BY period, start

    UNION ALL

    -- MySQL-engine filters: see weekly_engagement.sql.
    SELECT period, start, toUInt64(0), toUInt64(count()), toUInt64(0)
    FROM
    (
        SELECT toDate(date_joined) AS d
        FROM {{db}}.openedx_users
        WHERE toUInt32(date_joined) >= toUInt32(toDateTime(?))
          AND toUInt32(date_joined) < toUInt32(toDateTime(?))
    ) AS joined
    ARRAY JOIN ['day', 'week', 'month'] AS period,
               [d, toMonday(d), toStartOfMonth(d)] AS start
    GROUP BY period, start

    UNION ALL

    SELECT period, start, toUInt64(0), toUInt64(0), toUInt64(count())
    FROM
    (
        SELECT toDate(assumeNotNull(created)) AS d
        FROM {{db}}.{{lms_course_enrollments}}
        WHERE isNotNull(created) AND toUInt32(created) >= toUInt32(toDateTime(?))
          AND toUInt32(created) < toUInt32(toDateTime(?))
    ) AS enrolled
    ARRAY JOIN ['day', 'week', 'month'] AS period,
               [d, toMonday(d), toStartOfMonth(d)] AS start
    GROUP BY period, start
) AS parts
GROUP BY period, start
ORDER BY indexOf(['day', 'week', 'month'], period), start
