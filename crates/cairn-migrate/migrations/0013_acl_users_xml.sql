-- Access rights for servers whose users are defined in users.xml (`cairn acl sync
-- --users-xml`), and views that restricted users can read on current ClickHouse.
--
-- ClickHouse passwords set by `cairn createuser --password` or `cairn acl password`: their
-- SHA-256 (hex), as ClickHouse itself stores them; the latest version per user counts.
CREATE TABLE IF NOT EXISTS {{ db }}._acl_passwords
(
    username String,
    sha256_hex String,
    version UInt64
)
ENGINE = MergeTree
ORDER BY (username, version);

{% if clickhouse.version.major > 24 or (clickhouse.version.major == 24 and clickhouse.version.minor >= 2) -%}
-- Since 24.2 a view checks its reader's grants on the tables it reads (SQL SECURITY
-- INVOKER). course_blocks reads the private _course_blocks and _course_imports, which
-- course staff are never granted: it runs as its definer instead, and carries its own row
-- filter per user (cairn-acl filters every public table and view itself, so no view
-- widens what the tables behind it allow). Any migration that recreates course_blocks
-- must do this again.
ALTER TABLE {{ db }}.course_blocks MODIFY SQL SECURITY DEFINER;
{%- endif %}
