-- Course progress of one course: per unit (vertical), in course order, with its name, the
-- unit's components (course_components: its blocks that are not containers or
-- discussions) and the learners who completed the unit: every component completed
-- (completion 1.0 in the LMS's block completion table). A course without an imported
-- structure has no rows. `position` is the course-order position of the unit's first
-- component. Parameters, in order: course_id, course_id, course_id, course_id.
SELECT
    toUInt32(units.position) AS position,
    units.unit_name AS unit,
    toUInt64(units.components) AS components,
    toUInt64(ifNull(done.learners, 0)) AS completed
FROM
(
    SELECT unit_key, min(position) AS position, any(unit) AS unit_name,
           uniqExact(block_key) AS components
    FROM {{db}}.course_components
    WHERE course_id = ? AND unit_key != ''
    GROUP BY unit_key
) AS units
LEFT JOIN
(
    SELECT unit_key, countIf(finished = total) AS learners
    FROM
    (
        SELECT per_learner.unit_key AS unit_key, per_learner.finished AS finished,
               sizes.total AS total
        FROM
        (
            SELECT leaf.unit_key AS unit_key, c.user_id AS user_id,
                   uniqExact(c.block_key) AS finished
            FROM
            (
                -- MySQL-engine filters: see weekly_engagement.sql.
                SELECT user_id, block_key
                FROM {{db}}.{{lms_block_completion}}
                WHERE course_key = ? AND toFloat64(completion) >= 1
            ) AS c
            INNER JOIN
            (
                SELECT block_key, unit_key
                FROM {{db}}.course_components
                WHERE course_id = ? AND unit_key != ''
            ) AS leaf ON c.block_key = leaf.block_key
            GROUP BY leaf.unit_key, c.user_id
        ) AS per_learner
        INNER JOIN
        (
            SELECT unit_key, uniqExact(block_key) AS total
            FROM {{db}}.course_components
            WHERE course_id = ? AND unit_key != ''
            GROUP BY unit_key
        ) AS sizes ON per_learner.unit_key = sizes.unit_key
    ) AS learner_units
    GROUP BY unit_key
) AS done ON units.unit_key = done.unit_key
ORDER BY position
