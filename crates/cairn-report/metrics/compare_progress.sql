-- Course comparison, average progress: per course of a list (the courses the viewer may
-- see, or an org's), over the learners enrolled (active enrollments), the % of the
-- course's components they completed (LMS block completion 1.0; 0 without an imported
-- structure), rounded half up to 0.1. By course key. The LMS side's other numbers are
-- compare_lms.sql, the activity compare.sql: the three run at once and are joined on the
-- course key.
-- Parameters, in order: courses 13 times (`courses`: an array of course keys), twice in
-- each of the four subqueries of the courses not counted.
SELECT
    course_id,
    toFloat64(if(sum(n_components) * sum(n_enrolled) = 0, 0,
        intDiv(2000 * sum(n_done) + sum(n_components) * sum(n_enrolled),
               2 * sum(n_components) * sum(n_enrolled)) / 10)) AS avg_progress
FROM
(
    SELECT course_id, toUInt64(count()) AS n_enrolled, toUInt64(0) AS n_components,
           toUInt64(0) AS n_done
    FROM {{db}}.{{lms_course_enrollments}}
    -- MySQL-engine filters: see weekly_engagement.sql.
    WHERE course_id IN (SELECT arrayJoin(?)) AND toUInt8(is_active) = 1
    GROUP BY course_id

    UNION ALL

    SELECT course_id, toUInt64(0),
           toUInt64(countIf(NOT has(['course', 'chapter', 'sequential', 'vertical',
               'library_content', 'split_test', 'conditional', 'unit', 'wrapper', 'itembank',
               'discussion'], block_type))), toUInt64(0)
    FROM {{db}}.course_blocks
    WHERE course_id IN (SELECT arrayJoin(?))
    GROUP BY course_id

    UNION ALL

    -- Components completed by enrolled learners. Counted per learner when the LMS tables
    -- were copied (migration 0029), for the courses whose structure is still the one
    -- counted: their learners' counts summed (none while the LMS is read live). The
    -- courses of the part below are left out here, so that none is counted twice.
    SELECT course_id, toUInt64(0), toUInt64(0), toUInt64(sum(done))
    FROM {{lms_progress}} AS counted
    WHERE course_id IN (SELECT arrayJoin(?))
      AND course_id NOT IN {{lms_uncounted}}
      AND (course_id, import_version) IN
          (SELECT DISTINCT course_id, import_version FROM {{db}}.course_blocks
           WHERE course_id IN (SELECT arrayJoin(?)))
    GROUP BY course_id

    UNION ALL

    -- The other courses' (all while the LMS is read live) from the completions, the
    -- courses not counted at each of their three uses (the listed courses without a
    -- count of their current structure, a subquery that binds the list twice): a
    -- completion row is unique per course, block and learner (the LMS's unique key), so
    -- rows are counted; sets rather than joins keep it to one pass over the rows. With
    -- every course counted the three sets are empty, and the primary key skips every
    -- completion row.
    SELECT course_key AS course_id, toUInt64(0), toUInt64(0), toUInt64(count())
    FROM {{db}}.{{lms_block_completion}}
    WHERE course_key IN {{lms_uncounted}}
      AND toFloat64(completion) >= 1
      AND (course_key, block_key) IN
          (SELECT course_id, block_key FROM {{db}}.course_components
           WHERE course_id IN {{lms_uncounted}})
      AND (course_key, toInt64(user_id)) IN
          (SELECT course_id, toInt64(user_id)
           FROM {{db}}.{{lms_course_enrollments}}
           WHERE course_id IN {{lms_uncounted}} AND toUInt8(is_active) = 1)
    GROUP BY course_key
) AS parts
WHERE course_id IN (SELECT arrayJoin(?))
GROUP BY course_id
ORDER BY course_id
