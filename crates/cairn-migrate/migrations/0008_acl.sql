-- Access rights bookkeeping for cairn-acl: manual grants (`cairn createuser`) and the rights
-- Cairn last applied per user (so `cairn acl sync` can update and revoke exactly). Scopes
-- are JSON: "All" or {"Some": {"orgs": [...], "courses": [...]}}; a revoked user's latest
-- row has scope "null".
CREATE TABLE IF NOT EXISTS {{ db }}._acl_grants
(
    username String,
    email String,
    scope String,
    version UInt64
)
ENGINE = MergeTree
ORDER BY (username, version);

CREATE TABLE IF NOT EXISTS {{ db }}._acl_state
(
    username String,
    scope String,
    version UInt64
)
ENGINE = MergeTree
ORDER BY (username, version);
