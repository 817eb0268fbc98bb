-- One learner's activity in one course, per day (UTC) with an event in [from, to): the
-- events (each counted once) and the time spent (sessionized as in
-- weekly_engagement.sql, over the learner's events in the range: the gap to the next one
-- is credited to the earlier event, capped at 10 minutes; a gap over 30 minutes credits
-- nothing, nor does the last event). Identities only. Parameters, in order: course_id,
-- user_id, from, to, course_id, user_id, from, to.
SELECT
    toString(per_day.d) AS day,
    toUInt64(per_day.events) AS events,
    toUInt64(ifNull(spent.credited, 0)) AS time_spent
FROM
(
    SELECT toDate(time) AS d, uniqExact(event_id) AS events
    FROM {{db}}.{{events}}
    WHERE course_id = ? AND user_id = toUInt64(?)
      AND time >= toDateTime(?) AND time < toDateTime(?)
    GROUP BY d
) AS per_day
LEFT JOIN
(
    SELECT toDate(toDateTime(t)) AS d, sum(credit) AS credited
    FROM
    (
        SELECT
            arraySort(groupArray(toUInt32(time))) AS ts,
            arrayPushBack(arrayPopFront(arrayDifference(ts)), 1801) AS gaps,
            arrayMap(g -> toUInt64(if(g <= 1800, least(g, 600), 0)), gaps) AS credits
        FROM {{db}}.{{events}}
        WHERE course_id = ? AND user_id = toUInt64(?)
          AND time >= toDateTime(?) AND time < toDateTime(?)
        GROUP BY user_id
    ) AS timeline
    ARRAY JOIN ts AS t, credits AS credit
    GROUP BY d
) AS spent USING (d)
ORDER BY d
