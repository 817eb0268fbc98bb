-- Ingestion per source and hour (UTC) in [from, to), from the ingesters' checkpoints: the
-- source (a fingerprint of its first line) with the path it was last read from, the events
-- stored and the lines rejected in that hour. Newest hour first. Global staff only.
-- Parameters, in order: from, to.
SELECT
    source,
    argMax(path, at) AS path,
    toString(toStartOfHour(at), 'UTC') AS hour,
    toUInt64(sum(events)) AS events,
    toUInt64(sum(rejected)) AS rejected
FROM {{db}}._ingest_checkpoints
WHERE at >= toDateTime(?) AND at < toDateTime(?)
GROUP BY source, toStartOfHour(at)
ORDER BY hour DESC, source
