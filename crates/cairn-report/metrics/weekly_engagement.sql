-- Weekly engagement of one course: per ISO week (Monday, UTC) in [from, to), the learners
-- active (any tracking event), who played a video (video events), who tried a problem
-- (problem events: submissions, hints, answers shown), and the learners enrolled (active
-- enrollments created before the week's end). Weeks without activity are absent.
-- Parameters, in order: course_id, course_id, from, to.
WITH (
    SELECT groupArray(toUInt32(created))
    FROM {{db}}.openedx_course_enrollments
    -- Predicates wrapped in functions: ClickHouse 18.16 pushes plain comparisons down to
    -- MySQL-engine tables as SQL that MySQL rejects.
    WHERE has([?], course_id) AND toUInt8(is_active) = 1 AND isNotNull(created)
) AS enrolled_at
SELECT
    toString(monday) AS week,
    arrayCount(t -> t < toUInt32(toDateTime(monday + 7)), enrolled_at) AS enrolled,
    active,
    watched_video,
    tried_problem
FROM
(
    SELECT
        toMonday(time) AS monday,
        uniqExactIf(user_id, user_id != 0) AS active,
        uniqExactIf(user_id, user_id != 0 AND family = 'video') AS watched_video,
        uniqExactIf(user_id, user_id != 0 AND family = 'problem') AS tried_problem
    FROM {{db}}.events
    WHERE course_id = ? AND time >= toDateTime(?) AND time < toDateTime(?)
    GROUP BY monday
) AS weekly
ORDER BY monday
