-- Data freshness: the newest event's time (UTC; empty when there is none), its lag behind
-- the as-of time in seconds (0 when none or ahead), and the last time an ingester recorded
-- a checkpoint (empty when never). Global staff only. The newest event is looked for from
-- the newest day up to the as-of time with events marked (every insert marks its
-- course-days, migration 0021, so no event up to the as-of time is on a later day) when
-- that day holds one up to the as-of time, else among every event (the day's events are
-- later, or deleted): the events' index then reads that day's granules, not every event's
-- time. Parameters: as_of 5 times.
SELECT
    if(toUInt32(newest.t) = 0, '', toString(newest.t, 'UTC')) AS newest_event,
    toUInt64(if(toUInt32(newest.t) = 0, 0,
        greatest(toInt64(toUInt32(toDateTime(?))) - toInt64(toUInt32(newest.t)), 0))) AS lag_seconds,
    if(toUInt32(last.at) = 0, '', toString(last.at, 'UTC')) AS last_ingest
FROM
(
    SELECT max(time) AS t, 1 AS k
    FROM {{db}}.{{events}}
    WHERE time <= toDateTime(?)
      AND time >= if(
          (
              SELECT count() FROM {{db}}.{{events}}
              WHERE time >= toDateTime((SELECT max(day) FROM {{db}}.learner_days_state
                                        WHERE day <= toDate(toDateTime(?))))
                AND time <= toDateTime(?)
          ) > 0,
          toDateTime((SELECT max(day) FROM {{db}}.learner_days_state
                      WHERE day <= toDate(toDateTime(?)))),
          toDateTime(0))
) AS newest
INNER JOIN
(
    SELECT max(at) AS at, 1 AS k FROM {{db}}._ingest_checkpoints
) AS last USING (k)
