-- Course structure. Each import of a course writes all its blocks under a new
-- import_version, then one row in _course_imports; `course_blocks` shows, per course, only
-- the blocks of the latest finished import, so readers never see a half-imported course
-- or two versions at once (mutations are asynchronous; this needs none).
CREATE TABLE IF NOT EXISTS {{ db }}._course_blocks
(
    course_id String,
    import_version UInt64,
    block_key String,
    block_id String,
    block_type String,
    position UInt32,
    display_name String,
    full_name String,
    graded UInt8,
    parent String,
    section String DEFAULT '',
    subsection String DEFAULT '',
    unit String DEFAULT ''
)
ENGINE = MergeTree
ORDER BY (course_id, import_version, position);

CREATE TABLE IF NOT EXISTS {{ db }}._course_imports
(
    course_id String,
    import_version UInt64,
    blocks UInt32,
    source String,
    imported_at DateTime DEFAULT now()
)
ENGINE = MergeTree
ORDER BY (course_id, import_version);

CREATE VIEW IF NOT EXISTS {{ db }}.course_blocks AS
SELECT
    course_id,
    block_key,
    block_id,
    block_type,
    position,
    display_name,
    full_name,
    graded,
    parent,
    section,
    subsection,
    unit,
    import_version
FROM {{ db }}._course_blocks
WHERE (course_id, import_version) IN
(
    SELECT course_id, max(import_version) FROM {{ db }}._course_imports GROUP BY course_id
);
