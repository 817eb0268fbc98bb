-- The most active forum threads of one course in [from, to): per thread (a thread event's
-- own id, a response's or comment's thread), its title (from its creation event, whenever
-- that was; JSON spacing aside, as logged), the responses, comments and votes on the thread
-- in the range (each counted once) and the learners who posted or voted in it then; the N
-- with the most responses, comments and votes together (then by id). From the forum's
-- copy of the events (migration 0025). Parameters, in order:
-- course_id, from, to, course_id, N.
SELECT
    act.thread_id AS thread_id,
    ifNull(titles.title, '') AS title,
    toUInt64(act.responses) AS responses,
    toUInt64(act.comments) AS comments,
    toUInt64(act.votes) AS votes,
    toUInt64(act.learners) AS learners
FROM
(
    SELECT target AS thread_id,
           uniqExactIf(event_id, name = 'edx.forum.response.created') AS responses,
           uniqExactIf(event_id, name = 'edx.forum.comment.created') AS comments,
           uniqExactIf(event_id, name = 'edx.forum.thread.voted') AS votes,
           uniqExact(user_id) AS learners
    FROM {{forum_events}}
    WHERE course_id = ? AND time >= toDateTime(?) AND time < toDateTime(?)
      AND user_id != 0 AND target != ''
    GROUP BY target
) AS act
LEFT JOIN
(
    SELECT target AS thread_id,
           any(title) AS title
    FROM {{forum_events}}
    WHERE course_id = ? AND name = 'edx.forum.thread.created' AND target != ''
    GROUP BY target
) AS titles USING (thread_id)
ORDER BY act.responses + act.comments + act.votes DESC, thread_id
LIMIT ?
