-- Problem answers: a `problem_check`'s answers, one array element per input of the
-- problem (cairn-events' `answers`), beside the event they come from. Kept in the events
-- table rather than a table of their own so that they share its exactly-once insert, its
-- retention and retirement, and its shards; a metric reads them with
-- `ARRAY JOIN answer_input AS input, answer_values AS values, …`. The raw `message`
-- stays the source of truth (these are derived from it at ingestion).
--   answer_input   the input's response key (`<problem block id>_2_1`)
--   answer_values  the values submitted (choice ids, or the text typed; several for a
--                  checkbox group)
--   answer_text    what the learner saw for them (the choices' text; empty for browser
--                  events, which do not say)
--   answer_correct 1 correct, 0 not (incorrect or partially correct), -1 unknown
--   answer_type    the input type (`choicegroup`, `checkboxgroup`, `textline`, …)
ALTER TABLE {{ db }}._events ADD COLUMN answer_input Array(String) AFTER message;
ALTER TABLE {{ db }}._events ADD COLUMN answer_values Array(Array(String)) AFTER answer_input;
ALTER TABLE {{ db }}._events ADD COLUMN answer_text Array(Array(String)) AFTER answer_values;
ALTER TABLE {{ db }}._events ADD COLUMN answer_correct Array(Int8) AFTER answer_text;
ALTER TABLE {{ db }}._events ADD COLUMN answer_type Array(String) AFTER answer_correct;

-- The public `events` took `_events`' columns when it was made (0015): made again to
-- show the new ones (its grants and row policies name it, and stay).
DROP TABLE IF EXISTS {{ db }}.events;

CREATE VIEW IF NOT EXISTS {{ db }}.events AS
SELECT * FROM {{ db }}._events FINAL;

{% if clickhouse.version.major > 24 or (clickhouse.version.major == 24 and clickhouse.version.minor >= 2) -%}
ALTER TABLE {{ db }}.events MODIFY SQL SECURITY DEFINER;
{%- endif %}
