-- Demographics of one course's enrolled learners (active enrollments): how many per
-- gender and per level of education, with the LMS's labels for its codes (auth_userprofile;
-- NULL or '' is "Not specified", a code the LMS does not define is shown as itself). The
-- enrolled learners are read once, each counted under both dimensions. Parameters:
-- course_id.
SELECT dimension, label, toUInt64(uniqExact(user_id)) AS learners
FROM
(
    SELECT
        user_id,
        tupleElement(dl, 1) AS dimension,
        tupleElement(dl, 2) AS label
    FROM
    (
        SELECT e.user_id AS user_id, ifNull(p.gender, '') AS gender,
               ifNull(p.level_of_education, '') AS education
        FROM
        (
            -- MySQL-engine filters: see weekly_engagement.sql.
            SELECT user_id FROM {{db}}.{{lms_course_enrollments}}
            WHERE course_id = ? AND toUInt8(is_active) = 1
        ) AS e
        LEFT JOIN
        (
            SELECT user_id, gender, level_of_education FROM {{db}}.openedx_user_profiles
        ) AS p USING (user_id)
    ) AS enrolled
    ARRAY JOIN
    [
        ('gender', transform(gender,
            ['m', 'f', 'o', ''],
            ['Male', 'Female', 'Other / prefer not to say', 'Not specified'],
            gender)),
        ('level_of_education', transform(education,
            ['p', 'm', 'b', 'a', 'hs', 'jhs', 'el', 'none', 'other', 'p_se', 'p_oth', ''],
            ['Doctorate', 'Master''s or professional degree', 'Bachelor''s degree',
             'Associate degree', 'Secondary / high school',
             'Junior secondary / junior high / middle school', 'Elementary / primary school',
             'No formal education', 'Other education', 'Doctorate in science or engineering',
             'Doctorate in another field', 'Not specified'],
            education))
    ] AS dl
) AS counted
GROUP BY dimension, label
ORDER BY dimension, learners DESC, label
