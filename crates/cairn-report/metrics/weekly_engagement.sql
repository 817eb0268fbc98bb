-- Weekly engagement of one course: per ISO week (Monday, UTC) in [from, to), the learners
-- active (any tracking event), who played a video (video events), who tried a problem
-- (problem events: submissions, hints, answers shown), the learners enrolled (active
-- enrollments created before the week's end), and the time spent in the course.
--
-- Time spent (sessionization): a learner's events in the course, in time order (1 s
-- resolution). The gap from each event to the learner's next one is credited to the
-- earlier event, capped at 10 minutes (600 s) per event; a gap over 30 minutes (1800 s)
-- ends the session and credits nothing, nor does the last event of the range. time_spent
-- is the week's credited seconds, avg_time_spent those seconds per active learner.
-- Weeks without activity are absent. Parameters, in order: course_id, course_id, from, to.
WITH (
    SELECT groupArray(toUInt32(created))
    FROM {{db}}.openedx_course_enrollments
    -- Predicates wrapped in functions: ClickHouse 18.16 pushes plain comparisons down to
    -- MySQL-engine tables as SQL that MySQL rejects.
    WHERE has([?], course_id) AND toUInt8(is_active) = 1 AND isNotNull(created)
) AS enrolled_at
SELECT
    toString(monday) AS week,
    toUInt64(arrayCount(t -> t < toUInt32(toDateTime(monday + 7)), enrolled_at)) AS enrolled,
    toUInt64(active) AS active_learners,
    toUInt64(watched_video) AS watched_video_learners,
    toUInt64(tried_problem) AS tried_problem_learners,
    toUInt64(credited) AS time_spent,
    toFloat64(round(credited / active, 1)) AS avg_time_spent
FROM
(
    SELECT
        toMonday(toDateTime(tupleElement(ev, 1))) AS monday,
        uniqExact(user_id) AS active,
        uniqExactIf(user_id, tupleElement(ev, 2) = 'video') AS watched_video,
        uniqExactIf(user_id, tupleElement(ev, 2) = 'problem') AS tried_problem,
        sum(credit) AS credited
    FROM
    (
        SELECT
            user_id,
            arraySort(groupArray((toUInt32(time), family))) AS evs,
            arrayMap(e -> tupleElement(e, 1), evs) AS ts,
            arrayMap(i -> if(i < length(ts) AND ts[i + 1] - ts[i] <= 1800,
                             least(ts[i + 1] - ts[i], 600), 0), arrayEnumerate(ts)) AS credits
        FROM {{db}}.events
        WHERE course_id = ? AND time >= toDateTime(?) AND time < toDateTime(?) AND user_id != 0
        GROUP BY user_id
    ) AS per_learner
    ARRAY JOIN evs AS ev, credits AS credit
    GROUP BY monday
) AS weekly
ORDER BY monday
