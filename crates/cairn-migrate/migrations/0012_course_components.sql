-- The components of each course's latest import: the blocks of course_blocks a learner
-- works through and the LMS tracks completion of, that is every block but the containers
-- (course, section, subsection, unit and the blocks that only hold others: library
-- content, split tests, conditionals, wrappers, item banks) and discussions. Course
-- progress and the at-risk list count these; analysts can too.
CREATE VIEW IF NOT EXISTS {{ db }}.course_components AS
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
    section,
    subsection,
    unit,
    unit_key
FROM {{ db }}.course_blocks
WHERE NOT has(['course', 'chapter', 'sequential', 'vertical', 'library_content', 'split_test',
               'conditional', 'unit', 'wrapper', 'itembank', 'discussion'], block_type);
