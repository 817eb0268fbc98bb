-- One learner's progress in one course, per unit (vertical) in course order: its name, its
-- components (course_components) and how many of them the learner completed (LMS block
-- completion 1.0). Identities only. Parameters, in order: course_id, course_key, user_id,
-- course_id.
SELECT
    toUInt32(units.position) AS position,
    units.unit_name AS unit,
    toUInt64(units.components) AS components,
    toUInt64(ifNull(mine.completed, 0)) AS completed
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
    SELECT leaf.unit_key AS unit_key, uniqExact(c.block_key) AS completed
    FROM
    (
        -- MySQL-engine filters: see weekly_engagement.sql.
        SELECT block_key
        FROM {{db}}.{{lms_block_completion}}
        WHERE course_key = ? AND toInt64(user_id) = toInt64(?) AND toFloat64(completion) >= 1
    ) AS c
    INNER JOIN
    (
        SELECT block_key, unit_key FROM {{db}}.course_components
        WHERE course_id = ? AND unit_key != ''
    ) AS leaf USING (block_key)
    GROUP BY leaf.unit_key
) AS mine USING (unit_key)
ORDER BY position
