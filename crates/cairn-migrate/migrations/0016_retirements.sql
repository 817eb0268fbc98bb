-- Learner retirement (`cairn retire`): one row per learner and run, what was done, without
-- personal data (the LMS user id is not: the LMS keeps it forever in its own retirement
-- requests). A learner with a row is retired; the ingester scrubs or drops their late
-- events in the mode of their latest row, and recognizes their names (in their events
-- without a user id, or in others' events) by `name_hashes`: comma-separated keyed hashes
-- of their usernames and e-mail addresses (as the LMS keeps a salted hash of a retired
-- username). Private: nothing here is granted to users.
CREATE TABLE IF NOT EXISTS {{ db }}._retirements
(
    user_id UInt64,
    mode String,
    retired_at DateTime,
    events UInt64,
    mentions UInt64,
    saved_objects UInt64,
    access_rows UInt64,
    name_hashes String
)
ENGINE = MergeTree
ORDER BY (user_id, retired_at);
