-- Cairn's joined views over the LMS tables. Unlike Cairn's, course_enrollments keeps
-- learners who have no profile row (LEFT JOIN): they are enrolled all the same.
CREATE VIEW IF NOT EXISTS {{ db }}.course_enrollments AS
SELECT
    eu.course_id AS course_id,
    eu.enrollment_created AS enrollment_created,
    eu.enrollment_is_active AS enrollment_is_active,
    eu.enrollment_mode AS enrollment_mode,
    eu.user_id AS user_id,
    eu.username AS username,
    eu.user_email AS user_email,
    p.year_of_birth AS user_year_of_birth,
    p.gender AS user_gender,
    p.level_of_education AS user_level_of_education,
    p.city AS user_city,
    p.state AS user_state,
    p.country AS user_country
FROM
(
    SELECT
        e.course_id AS course_id,
        e.created AS enrollment_created,
        e.is_active AS enrollment_is_active,
        e.mode AS enrollment_mode,
        e.user_id AS user_id,
        u.username AS username,
        u.email AS user_email
    FROM {{ db }}.openedx_course_enrollments AS e
    LEFT JOIN (SELECT id, username, email FROM {{ db }}.openedx_users) AS u ON e.user_id = u.id
) AS eu
LEFT JOIN
(
    SELECT user_id, year_of_birth, gender, level_of_education, city, state, country
    FROM {{ db }}.openedx_user_profiles
) AS p ON eu.user_id = p.user_id;

CREATE VIEW IF NOT EXISTS {{ db }}.course_block_completion AS
SELECT
    c.course_key AS course_id,
    c.block_key AS block_key,
    c.user_id AS user_id,
    c.completion AS completion,
    c.modified AS modified,
    b.block_type AS block_type,
    b.position AS position,
    b.display_name AS display_name,
    b.full_name AS full_name,
    b.graded AS graded
FROM {{ db }}.openedx_block_completion AS c
INNER JOIN
(
    SELECT block_key, block_type, position, display_name, full_name, graded
    FROM {{ db }}.course_blocks
) AS b ON c.block_key = b.block_key;
