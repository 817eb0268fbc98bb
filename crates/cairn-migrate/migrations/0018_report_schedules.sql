-- Scheduled e-mail reports (`cairn reports`). Private bookkeeping, never granted to users.
--
-- `_report_schedules`: one row per version of a schedule; the latest version of an id
-- counts, and a removal is a version with removed = 1. `spec` is the schedule as JSON
-- (target, recipients, cron pattern, time zone, creation time).
CREATE TABLE IF NOT EXISTS {{ db }}._report_schedules
(
    id String,
    version UInt64,
    removed UInt8,
    spec String
)
ENGINE = MergeTree
ORDER BY (id, version);

-- `_report_sends`: the log of each schedule's period and recipient. `sending` is written
-- before the message goes to the SMTP server, then `sent` (with the courses it held),
-- `failed` (with the error; retried with backoff) or `skipped` (the recipient may see
-- none of the schedule's courses). A period and recipient with `sent` or `skipped` is
-- done; one whose last row is `sending` was cut off mid-send and is sent again with the
-- same Message-ID. `at` is the sender's "now" (which `run-due --now` may set); `seq`, the
-- real clock in nanoseconds, orders the rows of one period and recipient.
CREATE TABLE IF NOT EXISTS {{ db }}._report_sends
(
    schedule_id String,
    period DateTime,
    recipient String,
    state String,
    attempt UInt32,
    at DateTime,
    seq UInt64,
    message_id String,
    courses Array(String),
    error String
)
ENGINE = MergeTree
ORDER BY (schedule_id, period, recipient, at);
