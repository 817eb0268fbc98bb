-- The learners of one course: every learner with an active enrollment, with the LMS's
-- username and e-mail, the enrollment's mode and day (UTC; empty when the LMS has no
-- date), the last time they were seen in the course (any event, UTC; empty when never),
-- in [from, to) the days they were active and the time they spent (sessionized as in
-- weekly_engagement.sql, over their events in the range), their progress (the percentage
-- of the course's components completed, as in at_risk.sql; 0 when the structure is not
-- imported) with the components they completed and the course's components, their course
-- grade (0–1) and whether they passed (the LMS set a passed time; the LMS's two decimals,
-- read through ClickHouse's fast float parser, come out a unit in the last place off:
-- rounded to 4 decimals). By username. Identities only. Read from the learner days
-- (migration 0021).
-- Parameters, in order: course_id 3 times, course_id (the learner days' filter) 6 times,
-- (course_id, from, to) (the learner days' filter) 6 times, course_id twice.
-- (ClickHouse 24+ types a scalar subquery Nullable, hence the ifNull. 18.16 joins two
-- tables per SELECT, hence the nesting.)
WITH ifNull((
    SELECT count()
    FROM {{db}}.course_components
    WHERE course_id = ?
), 0) AS total
SELECT
    l.uid AS user_id,
    l.username AS username,
    l.email AS email,
    l.mode AS enrollment_mode,
    l.enrolled_on AS enrolled_on,
    l.last_seen AS last_seen,
    l.active_days AS active_days,
    l.time_spent AS time_spent,
    -- Rounded half up to 0.1 in integers (round() differs between versions on ties).
    toFloat64(intDiv(2000 * ifNull(progress.components_done, 0) + total, 2 * greatest(total, 1)) / 10)
        AS progress,
    toUInt64(ifNull(progress.components_done, 0)) AS components_done,
    toUInt64(total) AS components,
    l.percent_grade AS percent_grade,
    l.passed AS passed
FROM
(
    SELECT uid, username, email, mode, enrolled_on, percent_grade, passed, last_seen,
           toUInt64(active.days) AS active_days, toUInt64(active.spent) AS time_spent
    FROM
    (
        SELECT uid, username, email, mode, enrolled_on, percent_grade, passed,
               if(seen.last = 0, '', toString(toDateTime(seen.last), 'UTC')) AS last_seen
        FROM
        (
            SELECT uid, username, email, mode, enrolled_on,
                   toFloat64(grd.percent) AS percent_grade, toUInt8(grd.passed) AS passed
            FROM
            (
                SELECT uid, u.username AS username, u.email AS email, enr.mode AS mode,
                       enr.enrolled_on AS enrolled_on
                FROM
                (
                    -- MySQL-engine filters: see weekly_engagement.sql.
                    SELECT toUInt64(user_id) AS uid, mode,
                           ifNull(toString(toDate(created)), '') AS enrolled_on
                    FROM {{db}}.{{lms_course_enrollments}}
                    WHERE course_id = ? AND toUInt8(is_active) = 1
                ) AS enr
                LEFT JOIN
                (
                    SELECT toUInt64(id) AS uid, username, email FROM {{db}}.openedx_users
                ) AS u USING (uid)
            ) AS known
            LEFT JOIN
            (
                SELECT toUInt64(user_id) AS uid, round(toFloat64(ifNull(percent_grade, 0)), 4) AS percent,
                       toUInt8(isNotNull(passed_timestamp)) AS passed
                FROM {{db}}.{{lms_course_grades}}
                WHERE course_id = ?
            ) AS grd USING (uid)
        ) AS graded
        LEFT JOIN
        (
            SELECT toUInt64(user_id) AS uid, max(last_ts) AS last
            FROM {{learner_days(course_id = ?)}} AS ld
            GROUP BY user_id
        ) AS seen USING (uid)
    ) AS seen_at
    LEFT JOIN
    (
        -- Time spent per learner in the range (learner_spent in lib.rs: the days' own
        -- credits, plus each gap across one midnight of at most 30 minutes).
        SELECT toUInt64(user_id) AS uid, count() AS days,
               {{learner_spent}}
        FROM {{learner_days(course_id = ? AND day >= toDate(toDateTime(?)) AND day < toDate(toDateTime(?)))}} AS ld
        GROUP BY user_id
    ) AS active USING (uid)
) AS l
-- The components each learner completed (components_done, see lib.rs).
LEFT JOIN
({{components_done}}) AS progress ON l.uid = progress.done_user
ORDER BY username, user_id
