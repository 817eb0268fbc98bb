-- One learner's problems in one course: per problem with a graded submission (a server
-- `problem_check`) in [from, to), its name (course_blocks; the key when not imported), the
-- submissions (each counted once), whether the first and the last were right (`success`
-- `correct`; by event time) and the last one's score in % of the problem's points
-- (rounded half up to 0.1). In course order. Identities only. Read from the problem days
-- (migration 0026): the first submission of the learner's first day with one, the last of
-- their last, as on the problems page. Parameters, in order: course_id, from, to (the
-- problem days' filter) 6 times, then user_id, course_id.
SELECT
    p.block_id AS problem_id,
    if(names.problem_name = '', p.block_id, names.problem_name) AS problem,
    toUInt64(p.n) AS submissions,
    toUInt8(p.first_ok) AS first_correct,
    toUInt8(p.last_ok) AS last_correct,
    toFloat64(floor(p.last_score * 1000 + 0.5) / 10) AS last_score
FROM
(
    SELECT block_id,
           sum(submissions) AS n,
           argMinIf(first_ok, first_at, submissions > 0) AS first_ok,
           argMaxIf(last_ok, last_at, submissions > 0) AS last_ok,
           argMaxIf(last_score, last_at, submissions > 0) AS last_score
    FROM {{problem_days(course_id = ? AND day >= toDate(toDateTime(?)) AND day < toDate(toDateTime(?)))}} AS pd
    WHERE user_id = toUInt64(?) AND block_id != ''
    GROUP BY block_id
    HAVING n > 0
) AS p
LEFT JOIN
(
    SELECT block_key AS block_id, any(display_name) AS problem_name,
           min(position) AS problem_position
    FROM {{db}}.course_blocks
    WHERE course_id = ? AND block_type = 'problem'
    GROUP BY block_key
) AS names USING (block_id)
ORDER BY if(names.problem_position = 0, 4294967295, names.problem_position), problem_id
