-- The platform's most active courses in [from, to): per course, the learners active (any
-- event) and the events (each counted once); the N with the most learners (then events,
-- then key). Global staff only. Read from the learner days (migration 0021): a learner's
-- events of a day, each counted once, sum to the course's. Parameters, in order: (from,
-- to) 6 times (the learner days' filter), N.
SELECT
    course_id,
    toUInt64(uniqExact(user_id)) AS learners,
    toUInt64(sum(n_events)) AS events
FROM
(
    -- An inner name: an alias would shadow the column it sums.
    SELECT course_id, user_id, events AS n_events
    FROM {{learner_days(course_id != '' AND day >= toDate(toDateTime(?)) AND day < toDate(toDateTime(?)))}} AS ld
) AS per_day
GROUP BY course_id
ORDER BY learners DESC, events DESC, course_id
LIMIT ?
