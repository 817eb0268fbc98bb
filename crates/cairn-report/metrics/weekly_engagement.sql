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
-- Parameters, in order: course_id, course_id, from, to, course_id, from, to.
WITH
(
    SELECT groupArray(toUInt32(created))
    FROM {{db}}.openedx_course_enrollments
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
    toUInt64(spent.credited) AS time_spent,
    -- Rounded half up to 0.1 in integers (round() differs between versions on ties).
    toFloat64(intDiv(20 * toUInt64(spent.credited) + weekly.active, 2 * weekly.active) / 10)
        AS avg_time_spent
FROM
(
    SELECT
        toMonday(time) AS monday,
        uniqExact(user_id) AS active,
        uniqExactIf(user_id, family = 'video') AS watched_video,
        uniqExactIf(user_id, family = 'problem') AS tried_problem
    FROM {{db}}.{{events}}
    WHERE course_id = ? AND time >= toDateTime(?) AND time < toDateTime(?) AND user_id != 0
    GROUP BY monday
) AS weekly
LEFT JOIN
(
    -- Per week: the seconds credited, summed over learners.
    SELECT spent_monday, sum(credit) AS credited
    FROM
    (
        SELECT
            arraySort(groupArray(toUInt32(time))) AS ts,
            -- The gap to the next event (none after the last: 1801, which credits 0).
            -- No lambda captures ts: that would copy it per element.
            arrayPushBack(arrayPopFront(arrayDifference(ts)), 1801) AS gaps,
            arrayMap(g -> toUInt64(if(g <= 1800, least(g, 600), 0)), gaps) AS credits,
            arrayMap(t -> toMonday(toDateTime(t)), ts) AS mondays
        FROM {{db}}.{{events}}
        WHERE course_id = ? AND time >= toDateTime(?) AND time < toDateTime(?) AND user_id != 0
        GROUP BY user_id
    ) AS per_learner
    ARRAY JOIN mondays AS spent_monday, credits AS credit
    GROUP BY spent_monday
) AS spent ON weekly.monday = spent.spent_monday
ORDER BY weekly.monday
