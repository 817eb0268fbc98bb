-- When one course's learners are active: per day of the week (1 Monday … 7 Sunday) and
-- hour of the day (0–23), both in the given time zone, the learners with an event in the
-- course in that hour of that day of the week on any day of the range, each learner once
-- per hour of the week (active at 9:00 on two Mondays, counted once there). The range's
-- days are the time zone's days. Events the LMS makes without the learner are left out:
-- grades computed (the grade family: a rescoring rescores everyone at once) and
-- enrollment changes (staff enroll learners in bulk). Hours of the week without a learner
-- are absent. Read from the learner days' quarter hours (migration 0030): a zone's hours
-- start on quarter hours of UTC, so each quarter falls in one hour of the zone. The
-- learner days read are the server's days that the range's first and last instants fall
-- on. Parameters, in order: the time zone (twice), then course_id, from, the time zone,
-- to, the time zone (the learner days' filter) 6 times, then from, the time zone, to, the
-- time zone.
SELECT
    toUInt8(toDayOfWeek(toDate(t, ?))) AS weekday,
    toUInt8(toHour(t, ?)) AS hour,
    toUInt64(uniqExact(user_id)) AS learners
FROM
(
    SELECT user_id, toDateTime(toUInt32(q) * 900) AS t
    FROM {{learner_days(course_id = ? AND day >= toDate(toDateTime(toUInt32(toDateTime(?, ?)))) AND day <= toDate(toDateTime(toUInt32(toDateTime(?, ?)) - 1)))}} AS ld
    ARRAY JOIN quarters AS q
) AS active
WHERE t >= toDateTime(?, ?) AND t < toDateTime(?, ?)
GROUP BY weekday, hour
ORDER BY weekday, hour
