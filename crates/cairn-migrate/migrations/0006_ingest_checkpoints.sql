-- Ingestion checkpoints: after each batch of events is inserted, the ingester records how
-- far into the source it got. `source` is the source's fingerprint (a hash of its first
-- line), so a renamed, rotated or compressed copy of a log is the same source.
CREATE TABLE IF NOT EXISTS {{ db }}._ingest_checkpoints
(
    source String,
    path String,
    end_offset UInt64,
    events UInt64,
    at DateTime DEFAULT now()
)
ENGINE = MergeTree
ORDER BY (source, end_offset);
