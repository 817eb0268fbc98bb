-- Demographics of one course's enrolled learners (active enrollments): how many per
-- gender, level of education, age and country (auth_userprofile; NULL or '' is "Not
-- specified" in each), and per enrollment mode (the track). Gender, education and mode
-- carry the LMS's labels for its codes (a code the LMS does not define is shown as
-- itself). Age is the age reached in the given year (the year of the range's last day),
-- in bands, listed in age order; a year of birth NULL or 0 is "Not specified". Country is
-- the ISO 3166-1 alpha-2 code as the LMS stores it, upper-cased (cairn_report::demographics
-- names it). The enrolled learners are read once, each counted under every dimension.
-- Parameters: the year, course_id.
SELECT dimension, label, toUInt64(uniqExact(user_id)) AS learners
FROM
(
    SELECT
        user_id,
        tupleElement(dl, 1) AS dimension,
        tupleElement(dl, 2) AS label
    FROM
    (
        SELECT e.user_id AS user_id, e.mode AS mode, ifNull(p.gender, '') AS gender,
               ifNull(p.level_of_education, '') AS education,
               toInt64(ifNull(p.year_of_birth, 0)) AS born,
               toInt64(?) - born AS age,
               upper(ifNull(p.country, '')) AS country
        FROM
        (
            -- MySQL-engine filters: see weekly_engagement.sql.
            SELECT user_id, mode FROM {{db}}.{{lms_course_enrollments}}
            WHERE course_id = ? AND toUInt8(is_active) = 1
        ) AS e
        LEFT JOIN
        (
            SELECT user_id, gender, level_of_education, year_of_birth, country
            FROM {{db}}.openedx_user_profiles
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
            education)),
        ('age', multiIf(born = 0, 'Not specified', age < 18, 'Under 18', age < 25, '18–24',
            age < 35, '25–34', age < 45, '35–44', age < 55, '45–54', age < 65, '55–64',
            '65 and over')),
        ('country', if(country = '', 'Not specified', country)),
        ('enrollment_mode', transform(mode,
            ['audit', 'verified', 'honor', 'professional', 'no-id-professional', 'credit',
             'masters', 'executive-education', 'paid-executive-education',
             'unpaid-executive-education', 'paid-bootcamp', 'unpaid-bootcamp', ''],
            ['Audit', 'Verified', 'Honor', 'Professional', 'Professional (no ID check)',
             'Credit', 'Master''s', 'Executive education', 'Executive education (paid)',
             'Executive education (unpaid)', 'Bootcamp (paid)', 'Bootcamp (unpaid)',
             'Not specified'],
            mode))
    ] AS dl
) AS counted
GROUP BY dimension, label
ORDER BY dimension,
    if(dimension = 'age', indexOf(['Under 18', '18–24', '25–34', '35–44', '45–54', '55–64',
        '65 and over', 'Not specified'], label), 0),
    learners DESC, label
