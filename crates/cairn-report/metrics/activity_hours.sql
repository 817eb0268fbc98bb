-- When one course's learners are active: per day of the week (1 Monday … 7 Sunday) and
-- hour of the day (0–23), both in the given time zone, the learners with an event in the
-- course in that hour of that day of the week on any day of the range, each learner once
-- per hour of the week (active at 9:00 on two Mondays, counted once there). The range's
-- days are the time zone's days. Events the LMS makes without the learner are left out:
-- grades computed (the grade family: a rescoring rescores everyone at once) and
-- enrollment changes (staff enroll learners in bulk). Hours of the week without a learner
-- are absent. Parameters, in order: the time zone (twice), course_id, from, the time zone,
-- to, the time zone.
SELECT
    toUInt8(toDayOfWeek(toDate(time, ?))) AS weekday,
    toUInt8(toHour(time, ?)) AS hour,
    toUInt64(uniqExact(user_id)) AS learners
FROM {{db}}.{{events}}
WHERE course_id = ?
  AND time >= toDateTime(?, ?) AND time < toDateTime(?, ?)
  AND user_id != 0
  AND family NOT IN ('grade', 'enrollment')
GROUP BY weekday, hour
ORDER BY weekday, hour
