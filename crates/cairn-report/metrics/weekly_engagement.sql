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
-- Every ISO week of the range is a row, from the one holding its first day to the one
-- holding its last: a week without activity has its learners enrolled and zeros.
-- Read from the learner days (migration 0021), which credit the gaps within a day. The
-- gap from a day's last event to the next active day's first is credited here: it is at
-- most 30 minutes only across one midnight, so each day b is grouped with the previous
-- day's last event when that is within 30 minutes of midnight (no per-learner arrays).
-- Parameters, in order: course_id, then from, to, from (the range's weeks), then
-- course_id, from, to (the learner days' filter) 6 times.
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
    toString(weeks.monday) AS week,
    toUInt64(arrayCount(t -> t < toUInt32(toDateTime(weeks.monday + 7)), enrolled_at)) AS enrolled,
    toUInt64(ifNull(weekly.active, 0)) AS active,
    toUInt64(ifNull(weekly.watched_video, 0)) AS watched_video,
    toUInt64(ifNull(weekly.tried_problem, 0)) AS tried_problem,
    toUInt64(ifNull(weekly.credited, 0)) AS time_spent,
    -- Rounded half up to 0.1 in integers (round() differs between versions on ties); 0
    -- for a week without activity.
    toFloat64(intDiv(20 * toUInt64(ifNull(weekly.credited, 0)) + toUInt64(ifNull(weekly.active, 0)),
        greatest(2 * toUInt64(ifNull(weekly.active, 0)), 1)) / 10) AS avg_time_spent
FROM
(
    SELECT arrayJoin(arrayMap(i -> toMonday(toDate(toDateTime(?))) + 7 * i, range(toUInt64(
        toRelativeWeekNum(toDate(toDateTime(?)) - 1) - toRelativeWeekNum(toDate(toDateTime(?))) + 1
    )))) AS monday
) AS weeks
LEFT JOIN
(
    SELECT
        toMonday(tupleElement(r, 1)) AS monday,
        uniqExact(uid) AS active,
        uniqExactIf(uid, tupleElement(r, 2) = 1) AS watched_video,
        uniqExactIf(uid, tupleElement(r, 3) = 1) AS tried_problem,
        sum(tupleElement(r, 4)) AS credited
    FROM
    (
        -- Per learner and day b: the day's own row (own), and the gap from the previous
        -- day's last event to b's first when it crosses midnight within 30 minutes
        -- (credited to the previous day, at most 10 minutes).
        SELECT
            uid,
            b,
            max(k = 0) AS own,
            maxIf(v, k = 0) AS v_own,
            maxIf(p, k = 0) AS p_own,
            sumIf(c, k = 0) AS c_own,
            minIf(ts, k = 0) AS first_of_b,
            maxIf(ts, k = 1) AS last_before,
            countIf(k = 1) AS has_before,
            toUInt64(if(own = 1 AND has_before > 0 AND first_of_b - last_before <= 1800,
                least(first_of_b - last_before, 600), 0)) AS across
        FROM
        (
            SELECT
                user_id AS uid, video AS v, problem AS p, credited AS c,
                arrayJoin(if(last_ts + 1800 >= toUInt32(toDateTime(day + 1)), [0, 1], [0])) AS k,
                if(k = 0, day, day + 1) AS b,
                if(k = 0, first_ts, last_ts) AS ts
            FROM {{learner_days(course_id = ? AND day >= toDate(toDateTime(?)) AND day < toDate(toDateTime(?)))}} AS ld
        ) AS marks
        GROUP BY uid, b
    ) AS per_day
    ARRAY JOIN
        [(b, toUInt8(v_own), toUInt8(p_own), toUInt64(c_own), toUInt8(own)),
         (b - 1, toUInt8(0), toUInt8(0), across, toUInt8(across > 0))] AS r
    WHERE tupleElement(r, 5) = 1
    GROUP BY monday
) AS weekly ON weeks.monday = weekly.monday
ORDER BY weeks.monday
