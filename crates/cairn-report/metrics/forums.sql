-- Forum activity of one course, per ISO week (Monday, UTC) with forum activity in
-- [from, to): threads created, responses, comments, votes (on threads and responses; an
-- undone vote counts as a vote event too) and the learners who posted (created a thread, a
-- response or a comment); each event counted once. From the `edx.forum.*` events. Weeks
-- without forum activity are absent. From the forum's copy of the events (migration 0025).
-- Parameters, in order: course_id, from, to.
SELECT
    toString(toMonday(time)) AS week,
    toUInt64(uniqExactIf(event_id, name = 'edx.forum.thread.created')) AS threads,
    toUInt64(uniqExactIf(event_id, name = 'edx.forum.response.created')) AS responses,
    toUInt64(uniqExactIf(event_id, name = 'edx.forum.comment.created')) AS comments,
    toUInt64(uniqExactIf(event_id, name IN ('edx.forum.thread.voted',
                                            'edx.forum.response.voted'))) AS votes,
    toUInt64(uniqExactIf(user_id, name IN ('edx.forum.thread.created',
        'edx.forum.response.created', 'edx.forum.comment.created'))) AS posters
FROM {{forum_events}}
WHERE course_id = ? AND time >= toDateTime(?) AND time < toDateTime(?)
  AND user_id != 0
GROUP BY week
HAVING threads + responses + comments + votes > 0
ORDER BY week
