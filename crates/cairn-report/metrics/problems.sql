-- Problem results of one course: per problem with a graded submission (a server
-- `problem_check`) in [from, to), in course order (then by key), named from course_blocks
-- (the usage key when the structure is not imported): the learners who submitted, their
-- submissions (each counted once, duplicates in the log included), submissions per
-- learner, the % of learners right at their first submission in the range and at their
-- last (right: `success` is `correct`; first and last by event time), the mean score of
-- the last submissions in % of the problem's points (grade / max_grade; 0 when it has
-- none), and how many times a hint was shown (`edx.problem.hint.demandhint_displayed`) and
-- the answer shown (`showanswer`, `edx.problem.show_answer`) in the range. Ratios are
-- rounded half up to 0.1. Read from the problem days (migration 0026): per learner, the
-- first submission of their first day with one, the last of their last. Parameters, in
-- order: course_id, from, to (the problem days' filter) 6 times, then course_id.
SELECT
    toUInt32(if(names.problem_position = 0, 4294967295, names.problem_position)) AS position,
    subs.block_id AS problem_id,
    if(names.problem_name = '', subs.block_id, names.problem_name) AS problem,
    toUInt64(subs.learners) AS learners,
    toUInt64(subs.submissions) AS submissions,
    toFloat64(intDiv(20 * subs.submissions + subs.learners, 2 * subs.learners) / 10)
        AS submissions_per_learner,
    toFloat64(intDiv(2000 * subs.first_right + subs.learners, 2 * subs.learners) / 10)
        AS first_correct,
    toFloat64(intDiv(2000 * subs.last_right + subs.learners, 2 * subs.learners) / 10)
        AS last_correct,
    toFloat64(floor(subs.score * 1000 + 0.5) / 10) AS avg_score,
    toUInt64(subs.hints) AS hints,
    toUInt64(subs.shown) AS answers_shown
FROM
(
    SELECT block_id,
           countIf(n > 0) AS learners, sum(n) AS submissions,
           sumIf(first_ok, n > 0) AS first_right, sumIf(last_ok, n > 0) AS last_right,
           avgIf(last_score, n > 0) AS score,
           sum(h) AS hints, sum(sh) AS shown
    FROM
    (
        -- Per problem and learner: their days' submissions, the first and the last.
        SELECT block_id, user_id,
               sumIf(submissions, user_id != 0 AND block_id != '') AS n,
               argMinIf(first_ok, first_at, submissions > 0) AS first_ok,
               argMaxIf(last_ok, last_at, submissions > 0) AS last_ok,
               argMaxIf(last_score, last_at, submissions > 0) AS last_score,
               sum(hints) AS h, sum(shown) AS sh
        FROM {{problem_days(course_id = ? AND day >= toDate(toDateTime(?)) AND day < toDate(toDateTime(?)))}} AS pd
        GROUP BY block_id, user_id
    ) AS per_learner
    GROUP BY block_id
    HAVING learners > 0
) AS subs
LEFT JOIN
(
    SELECT block_key AS block_id, any(display_name) AS problem_name,
           min(position) AS problem_position
    FROM {{db}}.course_blocks
    WHERE course_id = ? AND block_type = 'problem'
    GROUP BY block_key
) AS names USING (block_id)
ORDER BY position, problem_id
