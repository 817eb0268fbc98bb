-- Problem results of one course: per problem with a graded submission (a server
-- `problem_check`) in [from, to), in course order (then by key), named from course_blocks
-- (the usage key when the structure is not imported): the learners who submitted, their
-- submissions (each counted once, duplicates in the log included), submissions per
-- learner, the % of learners right at their first submission in the range and at their
-- last (right: `success` is `correct`; first and last by event time), the mean score of
-- the last submissions in % of the problem's points (grade / max_grade; 0 when it has
-- none), and how many times a hint was shown (`edx.problem.hint.demandhint_displayed`) and
-- the answer shown (`showanswer`, `edx.problem.show_answer`) in the range. Ratios are
-- rounded half up to 0.1. Parameters, in order: course_id, from, to, course_id, from, to,
-- course_id.
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
    SELECT s.block_id AS block_id, s.learners AS learners, s.submissions AS submissions,
           s.first_right AS first_right, s.last_right AS last_right, s.score AS score,
           ifNull(h.hints, 0) AS hints, ifNull(h.shown, 0) AS shown
    FROM
    (
        SELECT block_id, count() AS learners, sum(n) AS submissions,
               sum(first_ok) AS first_right, sum(last_ok) AS last_right,
               avg(last_score) AS score
        FROM
        (
            SELECT block_id, user_id,
                   uniqExact(event_id) AS n,
                   argMin(success = 'correct', toUInt64(time) * 1000000 + time_us) AS first_ok,
                   argMax(success = 'correct', toUInt64(time) * 1000000 + time_us) AS last_ok,
                   argMax(if(ifNull(max_grade, 0) > 0, ifNull(grade, 0) / ifNull(max_grade, 1), 0),
                          toUInt64(time) * 1000000 + time_us) AS last_score
            FROM {{db}}.{{events}}
            WHERE course_id = ? AND time >= toDateTime(?) AND time < toDateTime(?)
              AND name = 'problem_check' AND event_source = 'server'
              AND user_id != 0 AND block_id != ''
            GROUP BY block_id, user_id
        ) AS per_learner
        GROUP BY block_id
    ) AS s
    LEFT JOIN
    (
        SELECT block_id,
               uniqExactIf(event_id, name = 'edx.problem.hint.demandhint_displayed') AS hints,
               uniqExactIf(event_id, name IN ('showanswer', 'edx.problem.show_answer')) AS shown
        FROM {{db}}.{{events}}
        WHERE course_id = ? AND time >= toDateTime(?) AND time < toDateTime(?)
          AND name IN ('edx.problem.hint.demandhint_displayed', 'showanswer',
                       'edx.problem.show_answer')
        GROUP BY block_id
    ) AS h USING (block_id)
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
