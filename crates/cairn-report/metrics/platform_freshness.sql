-- Data freshness: the newest event's time (UTC; empty when there is none), its lag behind
-- the as-of time in seconds (0 when none or ahead), and the last time an ingester recorded
-- a checkpoint (empty when never). Global staff only. Parameters, in order: as_of, as_of.
SELECT
    if(toUInt32(newest.t) = 0, '', toString(newest.t, 'UTC')) AS newest_event,
    toUInt64(if(toUInt32(newest.t) = 0, 0,
        greatest(toInt64(toUInt32(toDateTime(?))) - toInt64(toUInt32(newest.t)), 0))) AS lag_seconds,
    if(toUInt32(last.at) = 0, '', toString(last.at, 'UTC')) AS last_ingest
FROM
(
    SELECT max(time) AS t, 1 AS k FROM {{db}}.{{events}} WHERE time <= toDateTime(?)
) AS newest
INNER JOIN
(
    SELECT max(at) AS at, 1 AS k FROM {{db}}._ingest_checkpoints
) AS last USING (k)
