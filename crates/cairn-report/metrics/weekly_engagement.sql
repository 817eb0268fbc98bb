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
-- Weeks without activity are absent.
-- Read from the learner days (migration 0021; the gap from a learner's last event of a
-- day to their next active day is credited here). Parameters, in order: course_id, then
-- course_id, from, to (the learner days' filter) 4 times.
WITH
(
    SELECT groupArray(toUInt32(created))
    FROM {{db}}.{{lms_course_enrollments}}
    -- MySQL-engine tables: the course equality goes to MySQL, which narrows the rows
    -- (ClickHouse checks them again, case-sensitively). Other predicates are wrapped in
    -- functions so ClickHouse evaluates them: 18.16 turns some plain ones (a one-value
    -- IN) into SQL that MySQL rejects.
    WHERE course_id = ? AND toUInt8(is_active) = 1 AND isNotNull(created)
) AS enrolled_at
SELECT
    toString(weekly.monday) AS week,
    toUInt64(arrayCount(t -> t < toUInt32(toDateTime(weekly.monday + 7)), enrolled_at)) AS enrolled,
    toUInt64(weekly.active) AS active,
    toUInt64(weekly.watched_video) AS watched_video,
    toUInt64(weekly.tried_problem) AS tried_problem,
    toUInt64(weekly.credited) AS time_spent,
    -- Rounded half up to 0.1 in integers (round() differs between versions on ties).
    toFloat64(intDiv(20 * toUInt64(weekly.credited) + weekly.active, 2 * weekly.active) / 10)
        AS avg_time_spent
FROM
(
    SELECT
        toMonday(d) AS monday,
        uniqExact(uid) AS active,
        uniqExactIf(uid, v = 1) AS watched_video,
        uniqExactIf(uid, p = 1) AS tried_problem,
        sum(c) AS credited
    FROM
    (
        -- Per learner, the active days in order, each with its credit: the day's own plus
        -- the gap from its last event to the next active day's first (none after the
        -- last day: 0).
        SELECT
            user_id AS uid,
            arraySort(x -> tupleElement(x, 1),
                groupArray((day, first_ts, last_ts, credited, video, problem))) AS ds,
            arrayMap(x -> tupleElement(x, 1), ds) AS days,
            {{day_credits}} AS credits,
            arrayMap(x -> tupleElement(x, 5), ds) AS videos,
            arrayMap(x -> tupleElement(x, 6), ds) AS problems
        FROM {{learner_days(course_id = ? AND day >= toDate(toDateTime(?)) AND day < toDate(toDateTime(?)))}} AS ld
        GROUP BY user_id
    ) AS per_learner
    ARRAY JOIN days AS d, credits AS c, videos AS v, problems AS p
    GROUP BY monday
) AS weekly
ORDER BY weekly.monday
