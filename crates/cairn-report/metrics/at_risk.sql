-- Learners at risk in one course, as of a time: enrolled (active enrollment), did
-- something beyond opening the course (an event other than enrollment changes and page
-- views), have not passed (no passed time in the LMS's course grade), and no activity in
-- the course for N days or more before the as-of time. With the learner's username and
-- email, last activity (UTC), whole days since, and progress: the percentage of the
-- course's components (course_components: blocks that are not containers or
-- discussions) the learner completed; 0 when the structure is not imported. Longest
-- inactive first. Read from the learner days (migration 0021). Parameters, in order:
-- course_id, course_id, as_of, course_id (the learner days' filter) 4 times, days, as_of,
-- course_id, course_id, course_id.
-- (ClickHouse 24+ types a scalar subquery Nullable, hence the ifNull.)
WITH ifNull((
    SELECT count()
    FROM {{db}}.course_components
    WHERE course_id = ?
), 0) AS total
SELECT
    learners.user_id AS user_id,
    learners.username AS username,
    learners.email AS email,
    toString(learners.last_activity) AS last_activity,
    toUInt64(learners.days_inactive) AS days_inactive,
    -- Rounded half up to 0.1 in integers: round() rounds ties away from zero on 18.16 and
    -- to even on current ClickHouse.
    toFloat64(intDiv(2000 * ifNull(progress.components_done, 0) + total, 2 * greatest(total, 1)) / 10)
        AS progress
FROM
(
    SELECT
        toUInt64(enr.user_id) AS user_id,
        enr.username AS username,
        enr.user_email AS email,
        act.last_activity AS last_activity,
        act.days_inactive AS days_inactive
    FROM
    (
        SELECT e.user_id AS user_id, u.username AS username, u.email AS user_email
        FROM
        (
            -- MySQL-engine filters: see weekly_engagement.sql.
            SELECT user_id FROM {{db}}.{{lms_course_enrollments}}
            WHERE course_id = ? AND toUInt8(is_active) = 1
        ) AS e
        LEFT JOIN
        (
            SELECT toInt32(id) AS user_id, username, email FROM {{db}}.openedx_users
        ) AS u USING (user_id)
    ) AS enr
    INNER JOIN
    (
        SELECT toInt64(user_id) AS active_user, toDateTime(max(last_ts)) AS last_activity,
               intDiv(toUInt32(toDateTime(?)) - toUInt32(last_activity), 86400) AS days_inactive
        FROM {{learner_days(course_id = ?)}} AS ld
        GROUP BY user_id
        HAVING max(engaged) = 1
           AND days_inactive >= toUInt32(?)
           AND last_activity <= toDateTime(?)
    ) AS act ON toInt64(enr.user_id) = act.active_user
    WHERE toInt64(enr.user_id) NOT IN
    (
        SELECT toInt64(user_id) FROM {{db}}.{{lms_course_grades}}
        WHERE course_id = ? AND isNotNull(passed_timestamp)
    )
) AS learners
-- The components each learner completed (components_done, see lib.rs).
LEFT JOIN
({{components_done}}) AS progress ON learners.user_id = progress.done_user
ORDER BY learners.days_inactive DESC, learners.username
