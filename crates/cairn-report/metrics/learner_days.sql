-- One learner's activity in one course, per day (UTC) with an event in [from, to): the
-- events (each counted once) and the time spent (sessionized as in
-- weekly_engagement.sql, over the learner's events in the range: the gap to the next one
-- is credited to the earlier event, capped at 10 minutes; a gap over 30 minutes credits
-- nothing, nor does the last event). Identities only. Read from the learner days
-- (migration 0021): a day's own credited seconds, plus the gap from its last event to the
-- first of the learner's next active day in the range. Parameters, in order: course_id,
-- from, to (the learner days' filter) 6 times, then user_id.
SELECT
    toString(tupleElement(x, 1)) AS day,
    toUInt64(tupleElement(x, 5)) AS events,
    toUInt64(credit) AS time_spent
FROM
(
    SELECT
        arraySort(x -> tupleElement(x, 1),
            groupArray((day, first_ts, last_ts, credited, events))) AS ds,
        {{day_credits}} AS credits
    FROM {{learner_days(course_id = ? AND day >= toDate(toDateTime(?)) AND day < toDate(toDateTime(?)))}} AS ld
    WHERE user_id = toUInt64(?)
    GROUP BY user_id
) AS timeline
ARRAY JOIN ds AS x, credits AS credit
ORDER BY day
