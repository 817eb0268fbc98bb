-- The usage key of the unit (vertical) each block is in, so per-unit metrics (course
-- progress) group a unit's components by key rather than by its name, which may repeat.
ALTER TABLE {{ db }}._course_blocks ADD COLUMN unit_key String DEFAULT '' AFTER unit;

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
    unit_key,
    import_version
FROM {{ db }}._course_blocks
WHERE (course_id, import_version) IN
(
    SELECT course_id, max(import_version) FROM {{ db }}._course_imports GROUP BY course_id
);
