-- The SQL explorer's saved charts (a query and how to draw it) and dashboards (a grid of
-- charts, shared with named users or everyone): one row per saved version, the latest
-- version of an id counts, and a deletion is a version with deleted = 1 (so every change
-- is recorded). `body` is the object as JSON. Private: users read them through `cairn
-- serve`, which checks who may see what, and `cairn dashboards export`.
CREATE TABLE IF NOT EXISTS {{ db }}._saved_objects
(
    kind String,
    id String,
    version UInt64,
    author String,
    deleted UInt8,
    body String
)
ENGINE = MergeTree
ORDER BY (kind, id, version);
