-- Events inserts write compact parts (issue #16). A part of a MergeTree table is "wide"
-- (a file per column, ~100 for `_events`) from `min_bytes_for_wide_part` uncompressed
-- bytes (10 MiB by default), else "compact" (one file). A large insert of old logs whose
-- events span many months makes a part per month, each tens of MiB: written wide, each
-- opened ~100 files with their buffers (1 GiB of buffers for an insert of 56,000
-- corpus-shaped events on 26.9), and ClickHouse spent a fifth of its CPU on it. Below
-- 256 MiB a part is now compact: every insert's parts are (an insert holds ~12 MiB
-- compressed); merges make wide parts again beyond it, where reading a few columns of
-- many rows pays. Compact parts came in 20.3: 18.16 keeps writing wide parts.
{% if clickhouse.version.major > 20 or (clickhouse.version.major == 20 and clickhouse.version.minor >= 3) -%}
ALTER TABLE {{ db }}._events MODIFY SETTING min_bytes_for_wide_part = 268435456;
{%- endif %}
