-- One learner's problems in one course: per problem with a graded submission (a server
-- `problem_check`) in [from, to), its name (course_blocks; the key when not imported), the
-- submissions (each counted once), whether the first and the last were right (`success`
-- `correct`; by event time) and the last one's score in % of the problem's points
-- (rounded half up to 0.1). In course order. Identities only. Parameters, in order:
-- course_id, user_id, from, to, course_id.
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
           uniqExact(event_id) AS n,
           argMin(success = 'correct', toUInt64(time) * 1000000 + time_us) AS first_ok,
           argMax(success = 'correct', toUInt64(time) * 1000000 + time_us) AS last_ok,
           argMax(if(ifNull(max_grade, 0) > 0, ifNull(grade, 0) / ifNull(max_grade, 1), 0),
                  toUInt64(time) * 1000000 + time_us) AS last_score
    FROM {{db}}.{{events}}
    WHERE course_id = ? AND user_id = toUInt64(?)
      AND time >= toDateTime(?) AND time < toDateTime(?)
      AND name = 'problem_check' AND event_source = 'server' AND block_id != ''
    GROUP BY block_id
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
