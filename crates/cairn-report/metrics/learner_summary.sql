-- One learner in one course: user id, username and e-mail (the LMS's), the enrollment's
-- mode and whether it is active (empty and 0 when not enrolled), the course grade (0–1;
-- rounded to 4 decimals, see learners.sql) and letter, whether they passed (the LMS set a
-- passed time), and the last time they were
-- seen in the course (any event, UTC; empty when none; from the learner days, migration
-- 0021). No row when the LMS does not know the user. Identities only. Parameters, in
-- order: user_id, course_id, user_id, course_id, user_id, user_id, course_id (the learner
-- days' filter) 6 times, user_id.
SELECT
    toUInt64(known.id) AS user_id,
    known.username AS username,
    known.email AS email,
    known.enrollment_mode AS enrollment_mode,
    known.enrolled AS enrolled,
    known.percent_grade AS percent_grade,
    known.letter_grade AS letter_grade,
    known.passed AS passed,
    if(seen.last = 0, '', toString(toDateTime(seen.last), 'UTC')) AS last_seen
FROM
(
    SELECT u.id AS id, u.username AS username, u.email AS email,
           ifNull(eg.mode, '') AS enrollment_mode, toUInt8(ifNull(eg.active, 0)) AS enrolled,
           round(toFloat64(ifNull(eg.percent, 0)), 4) AS percent_grade,
           ifNull(eg.letter, '') AS letter_grade, toUInt8(ifNull(eg.passed, 0)) AS passed
    FROM
    (
        -- MySQL-engine filters: see weekly_engagement.sql.
        SELECT toInt64(id) AS id, username, email
        FROM {{db}}.openedx_users
        WHERE toInt64(id) = toInt64(?)
    ) AS u
    LEFT JOIN
    (
        SELECT id, enr.mode AS mode, enr.active AS active, grd.percent AS percent,
               grd.letter AS letter, grd.passed AS passed
        FROM
        (
            SELECT toInt64(user_id) AS id, mode, toUInt8(is_active) AS active
            FROM {{db}}.{{lms_course_enrollments}}
            WHERE course_id = ? AND toInt64(user_id) = toInt64(?)
        ) AS enr
        FULL OUTER JOIN
        (
            SELECT toInt64(user_id) AS id, percent_grade AS percent, letter_grade AS letter,
                   toUInt8(isNotNull(passed_timestamp)) AS passed
            FROM {{db}}.{{lms_course_grades}}
            WHERE course_id = ? AND toInt64(user_id) = toInt64(?)
        ) AS grd USING (id)
    ) AS eg USING (id)
) AS known
LEFT JOIN
(
    SELECT toInt64(?) AS id, max(last_ts) AS last
    FROM {{learner_days(course_id = ?)}} AS ld
    WHERE user_id = toUInt64(?)
) AS seen USING (id)
