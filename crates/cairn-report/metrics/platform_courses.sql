-- The platform's most active courses in [from, to): per course, the learners active (any
-- event) and the events (each counted once); the N with the most learners (then events,
-- then key). Global staff only. Parameters, in order: from, to, N.
SELECT
    course_id,
    toUInt64(uniqExact(user_id)) AS learners,
    toUInt64(uniqExact(event_id)) AS events
FROM {{db}}.{{events}}
WHERE time >= toDateTime(?) AND time < toDateTime(?) AND user_id != 0 AND course_id != ''
GROUP BY course_id
ORDER BY learners DESC, events DESC, course_id
LIMIT ?
