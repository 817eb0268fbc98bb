-- Data freshness: each checkpoint also records the lines rejected since the previous one
-- of its source (malformed JSON, times out of range, …), so the platform view can show
-- events ingested and rejected per hour and source.
ALTER TABLE {{ db }}._ingest_checkpoints ADD COLUMN rejected UInt64 DEFAULT 0 AFTER events;
