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
-- Read from the learner days (migration 0021), which credit the gaps within a day. The
-- gap from a day's last event to the next active day's first is credited here: it is at
-- most 30 minutes only across one midnight, so only the days whose last event is within
-- 30 minutes of their end are paired, with the next day's row. Parameters, in order:
-- course_id, then course_id, from, to (the learner days' filter) 18 times (3 × 6).
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
        -- Each learner day, with the seconds credited within it.
        SELECT day AS d, user_id AS uid, video AS v, problem AS p, credited AS c
        FROM {{learner_days(course_id = ? AND day >= toDate(toDateTime(?)) AND day < toDate(toDateTime(?)))}} AS ld
        UNION ALL
        -- The gap across a midnight, credited to the earlier day (the learner is active
        -- that day already: it adds seconds only).
        SELECT d, uid, toUInt8(0) AS v, toUInt8(0) AS p,
               toUInt64(least(first_ts - last_ts, 600)) AS c
        FROM
        (
            SELECT user_id AS uid, day AS d, last_ts
            FROM {{learner_days(course_id = ? AND day >= toDate(toDateTime(?)) AND day < toDate(toDateTime(?)))}} AS l1
            WHERE last_ts + 1800 >= toUInt32(toDateTime(day + 1))
        ) AS late
        INNER JOIN
        (
            SELECT user_id AS uid, day - 1 AS d, first_ts
            FROM {{learner_days(course_id = ? AND day >= toDate(toDateTime(?)) AND day < toDate(toDateTime(?)))}} AS l2
            WHERE first_ts < toUInt32(toDateTime(day)) + 1800
        ) AS early USING (uid, d)
        WHERE first_ts - last_ts <= 1800
    ) AS days
    GROUP BY monday
) AS weekly
ORDER BY weekly.monday
