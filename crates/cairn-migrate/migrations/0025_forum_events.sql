-- Forum events (issue #16): a copy of the events of the forum family, kept at ingestion
-- by a materialized view, so that the forum pages read the forum's events and not all of a
-- course's (forum events are ~1% of a course's; they sit in every granule of `_events`, so
-- a filter on the family read every granule, and the threads' titles every message).
-- Exact as `_events` is: the same sort key, and each metric counts each event once
-- (`uniqExact` of event_id), so a line stored twice, or copied twice (an insert between
-- the view's creation and the copy below), changes no figure. Retention drops its months
-- with the events'; `cairn retire` deletes from it what it deletes from `_events`.
--   title   a thread creation's title (`edx.forum.thread.created`; JSON spacing aside, as
--           logged); empty for other events
CREATE TABLE IF NOT EXISTS {{ db }}._forum_events
(
    time DateTime,
    time_us UInt32,
    course_id String,
    user_id UInt64,
    username String,
    name String,
    target String,
    title String,
    event_id UInt64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (course_id, time, event_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {{ db }}._forum_events_mv
TO {{ db }}._forum_events
AS SELECT time, time_us, course_id, user_id, username, name, target,
    if(name = 'edx.forum.thread.created',
       visitParamExtractString(replaceAll(message, '": ', '":'), 'title'), '') AS title,
    event_id
FROM {{ db }}._events
WHERE family = 'forum';

-- The events stored before this migration.
INSERT INTO {{ db }}._forum_events
SELECT time, time_us, course_id, user_id, username, name, target,
    if(name = 'edx.forum.thread.created',
       visitParamExtractString(replaceAll(message, '": ', '":'), 'title'), '') AS title,
    event_id
FROM {{ db }}._events
WHERE family = 'forum';
