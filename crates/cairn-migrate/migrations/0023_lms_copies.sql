-- Copies of the LMS tables the metrics read most (issue #16): block completions,
-- enrollments and course grades, with no personal data beyond the LMS user id. Read
-- live, a page waited on the LMS's MySQL for the course's rows, whose cost grows with
-- the whole platform's (MariaDB scans all completions for a course that has 10% of
-- them); copied, a page reads only its course's rows, from ClickHouse.
--
-- `cairn aggregate` (and `cairn serve`, every CAIRN_LMS_COPY_INTERVAL seconds) copies
-- each table whole into its `_staging` twin, then swaps the copy in at once (REPLACE
-- PARTITION): a reader sees the last copy or the new one, never a part of one. Until the
-- first copy the metrics read the LMS live; after it they read the copy, as of when it
-- was taken (`_lms_copies`). Learners recorded in `_retirements` are never copied, and
-- `cairn retire` deletes theirs. Private: nothing here is granted to users, whose own SQL
-- reads the LMS tables live.
{% for suffix in ['', '_staging'] %}
CREATE TABLE IF NOT EXISTS {{ db }}._lms_block_completion{{ suffix }}
(
    user_id Int32,
    course_key String,
    block_key String,
    block_type String,
    completion Float64,
    modified DateTime
)
ENGINE = MergeTree
ORDER BY (course_key, user_id, block_key);

CREATE TABLE IF NOT EXISTS {{ db }}._lms_course_enrollments{{ suffix }}
(
    user_id Int32,
    course_id String,
    created Nullable(DateTime),
    is_active UInt8,
    mode String
)
ENGINE = MergeTree
ORDER BY (course_id, user_id);

CREATE TABLE IF NOT EXISTS {{ db }}._lms_course_grades{{ suffix }}
(
    user_id Int32,
    course_id String,
    percent_grade Float64,
    letter_grade String,
    passed_timestamp Nullable(DateTime),
    modified DateTime
)
ENGINE = MergeTree
ORDER BY (course_id, user_id);
{% endfor %}

-- One row per table and copy: when it was taken (the server's clock as the copy began),
-- its rows, and how long it took.
CREATE TABLE IF NOT EXISTS {{ db }}._lms_copies
(
    table_name String,
    copied_at DateTime,
    rows UInt64,
    seconds Float64
)
ENGINE = MergeTree
ORDER BY (table_name, copied_at);
