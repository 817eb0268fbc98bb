-- The assignment type (`format`) of graded subsections, inherited by their blocks, so
-- dashboards can group graded work by type.
ALTER TABLE {{ db }}._course_blocks ADD COLUMN format String DEFAULT '' AFTER graded;

DROP TABLE IF EXISTS {{ db }}.course_blocks;

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
    format,
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
