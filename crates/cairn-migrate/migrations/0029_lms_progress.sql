-- Per course and learner, the course's components the learner completed (issue #16),
-- counted when the LMS tables are copied (0023), so that the comparison of many courses
-- sums one row per learner instead of testing every completion row of every course
-- against its course's components and enrollments.
--
--   course_id       the course
--   import_version  the course structure's import (0003) whose components were counted
--   user_id         an actively enrolled learner with at least one component completed
--                   (completion 1.0); 0 marks the course as counted, with done 0
--   done            the components completed
--
-- Counted from the copies (as of the same copy) into the `_staging` twin, then swapped
-- in at once. A metric reads a course's rows only while its structure is still the one
-- counted (its latest import_version); a course imported again since is counted from
-- the copies at query time until the next copy. Learners recorded in `_retirements` are
-- never counted, and `cairn retire` deletes theirs. Private, as the copies.
{% for suffix in ['', '_staging'] %}
CREATE TABLE IF NOT EXISTS {{ db }}._lms_progress{{ suffix }}
(
    course_id String,
    import_version UInt64,
    user_id Int32,
    done UInt32
)
ENGINE = MergeTree
ORDER BY (course_id, import_version, user_id);
{% endfor %}
