-- Answer distribution of one course: per input of every problem with a graded submission
-- (a server `problem_check`) in [from, to), each answer given (its values, the choice ids
-- or the text typed, joined with ", " in the order sent; and what the learner saw for
-- them), whether it was right (1, 0; -1 when the log does not say), the learners who gave
-- it at least once, the learners whose first submission in the range gave it, those whose
-- last did (first and last by event time, per learner and problem), and the submissions
-- that gave it (each counted once). In course order of the problems, then by input (its
-- numbers in order) and most learners last first. Read from the answer days (migration
-- 0027) and the problem days (0026). Problems are grouped and joined by the 128-bit
-- SipHash of their id, not by its text (faster on both servers); two ids of a course
-- would have to collide in 128 bits to be counted together, the standard uniqExact itself
-- keeps for strings. Parameters, in order: course_id, from, to (the answer days' filter)
-- 6 times, the same (the problem days') 6 times, then course_id.
SELECT
    toUInt32(if(names.problem_position = 0, 4294967295, names.problem_position)) AS position,
    a.block_id AS problem_id,
    if(names.problem_name = '', a.block_id, names.problem_name) AS problem,
    a.input AS input,
    a.value AS value,
    a.answer AS answer,
    toInt8(a.correct) AS correct,
    toUInt64(a.learners) AS learners,
    toUInt64(a.first_learners) AS first_learners,
    toUInt64(a.last_learners) AS last_learners,
    toUInt64(a.submissions) AS submissions
FROM
(
    SELECT any(bid) AS block_id, input, value,
           min(answer) AS answer,
           max(ok) AS correct,
           uniqExact(user_id) AS learners,
           uniqExactIf(user_id, v_first = first_t) AS first_learners,
           uniqExactIf(user_id, v_last = last_t) AS last_learners,
           sum(n) AS submissions
    FROM
    (
        -- Per problem, learner, input and answer given: over their days in the range.
        SELECT sipHash128(block_id) AS bh, any(block_id) AS bid, user_id, input, value,
               min(answer) AS answer, max(correct) AS ok,
               min(first_at) AS v_first, max(last_at) AS v_last, sum(submissions) AS n
        FROM {{answer_days(course_id = ? AND day >= toDate(toDateTime(?)) AND day < toDate(toDateTime(?)))}} AS ad
        GROUP BY bh, user_id, input, value
    ) AS given
    INNER JOIN
    (
        -- Per problem and learner: their first and last graded submission in the range
        -- (with answers or not).
        SELECT sipHash128(block_id) AS bh, user_id,
               minIf(first_at, submissions > 0) AS first_t,
               maxIf(last_at, submissions > 0) AS last_t
        FROM {{problem_days(course_id = ? AND day >= toDate(toDateTime(?)) AND day < toDate(toDateTime(?)))}} AS pd
        WHERE user_id != 0 AND block_id != ''
        GROUP BY bh, user_id
    ) AS ends USING (bh, user_id)
    GROUP BY bh, input, value
) AS a
LEFT JOIN
(
    SELECT block_key AS block_id, any(display_name) AS problem_name,
           min(position) AS problem_position
    FROM {{db}}.course_blocks
    WHERE course_id = ? AND block_type = 'problem'
    GROUP BY block_key
) AS names USING (block_id)
ORDER BY position, problem_id, length(input), input, last_learners DESC, learners DESC, value
