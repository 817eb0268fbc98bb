-- Demographics of one course's enrolled learners (active enrollments): how many per
-- gender and per level of education, with the LMS's labels for its codes (auth_userprofile;
-- NULL or '' is "Not specified", a code the LMS does not define is shown as itself).
-- Parameters: course_id, course_id.
SELECT dimension, label, toUInt64(learners) AS learners
FROM
(
    SELECT
        'gender' AS dimension,
        transform(ifNull(user_gender, ''),
            ['m', 'f', 'o', ''],
            ['Male', 'Female', 'Other / prefer not to say', 'Not specified'],
            ifNull(user_gender, '')) AS label,
        uniqExact(user_id) AS learners
    FROM {{db}}.course_enrollments
    WHERE course_id = ? AND toUInt8(enrollment_is_active) = 1
    GROUP BY label
    UNION ALL
    SELECT
        'level_of_education' AS dimension,
        transform(ifNull(user_level_of_education, ''),
            ['p', 'm', 'b', 'a', 'hs', 'jhs', 'el', 'none', 'other', 'p_se', 'p_oth', ''],
            ['Doctorate', 'Master''s or professional degree', 'Bachelor''s degree',
             'Associate degree', 'Secondary / high school',
             'Junior secondary / junior high / middle school', 'Elementary / primary school',
             'No formal education', 'Other education', 'Doctorate in science or engineering',
             'Doctorate in another field', 'Not specified'],
            ifNull(user_level_of_education, '')) AS label,
        uniqExact(user_id) AS learners
    FROM {{db}}.course_enrollments
    WHERE course_id = ? AND toUInt8(enrollment_is_active) = 1
    GROUP BY label
) AS counts
ORDER BY dimension, learners DESC, label
