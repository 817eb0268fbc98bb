-- Navigation and completion of one course, per section (chapter) and per subsection
-- (sequential) of course_blocks: each section's row, then its subsections', in course
-- order. A block belongs to a subsection when it is the subsection, one of its units or a
-- component of one of them (course_components), and to that subsection's section.
-- `learners`: learners with an event on one of its blocks in [from, to) (a navigation to
-- it, a video played, a problem tried, …); `visits`: navigation events to the subsection
-- (for a section: to one of its subsections) in [from, to), each counted once;
-- `components`: its components; `completed`: learners who completed every one of them (LMS
-- block completion 1.0; current state, as course progress); `median_seconds`, over the
-- learners who completed it and have an event on it: the time from their first event on
-- one of its blocks to the completion of its last component (the middle value; the upper
-- of the two middle ones for an even count; 0 when nobody did). Read from the block days
-- (migration 0028). Blocks and groups are joined and grouped by their index among the
-- course's blocks (block_index, a number), not by their keys' text; a block outside the
-- course's structure has none (0) and counts nowhere, as before.
-- Every block of a subsection with its groups is the block_owners fragment (BLOCK_OWNERS
-- in lib.rs).
-- Parameters, in order: course_id 3 times, from, to, from, to, then course_id 35 times
-- (the block indexes', the block days' filter's and the structure's: 8 per block_owners).
SELECT
    heads.level AS level,
    toUInt32(heads.position) AS position,
    heads.section AS section,
    heads.subsection AS subsection,
    heads.group_key AS block_id,
    toUInt64(ifNull(per.learners, 0)) AS learners,
    toUInt64(ifNull(per.visits, 0)) AS visits,
    toUInt64(ifNull(per.components, 0)) AS components,
    toUInt64(ifNull(per.completed, 0)) AS completed,
    toUInt64(ifNull(per.median_seconds, 0)) AS median_seconds
FROM
(
    SELECT {{block_index(block_key)}} AS g, block_key AS group_key,
           if(block_type = 'chapter', 'section', 'subsection') AS level,
           position, section, if(block_type = 'chapter', '', display_name) AS subsection
    FROM {{db}}.course_blocks
    WHERE course_id = ? AND block_type IN ('chapter', 'sequential')
) AS heads
LEFT JOIN
(
    SELECT g,
           any(total) AS components,
           countIf(in_range > 0) AS learners,
           sum(visits) AS visits,
           countIf(total > 0 AND done >= total) AS completed,
           quantileExactIf(0.5)(toUInt64(greatest(toInt64(last_done) - toInt64(first_t), 0)),
                                total > 0 AND done >= total AND first_t > 0) AS median_seconds
    FROM
    (
        SELECT lu.g AS g, lu.in_range AS in_range, lu.visits AS visits,
               lu.first_t AS first_t, lu.done AS done, lu.last_done AS last_done,
               sizes.total AS total
        FROM
        (
            SELECT g, user_id, act.in_range AS in_range, act.visits AS visits,
                   act.first_t AS first_t, fin.done AS done, fin.last_done AS last_done
            FROM
            (
                SELECT owners.g AS g, ev.user_id AS user_id,
                       sum(ev.in_range) AS in_range,
                       sum(if(owners.is_head = 1, ev.navs, 0)) AS visits,
                       min(ev.first_time) AS first_t
                FROM
                (
                    -- Per block and learner, from the block days (migration 0028): any
                    -- event in the range, the navigations to it there, the first event.
                    SELECT b, user_id,
                           countIf(day >= toDate(toDateTime(?)) AND day < toDate(toDateTime(?))) AS in_range,
                           sumIf(navigations, day >= toDate(toDateTime(?)) AND day < toDate(toDateTime(?))) AS navs,
                           min(first_ts) AS first_time
                    FROM
                    (
                        SELECT {{block_index(block_id)}} AS b, user_id, day, navigations, first_ts
                        FROM {{block_days(course_id = ?)}} AS bd
                    ) AS indexed
                    WHERE b != 0
                    GROUP BY b, user_id
                ) AS ev
                INNER JOIN (
                    {{block_owners}}
                ) AS owners USING (b)
                GROUP BY owners.g, ev.user_id
            ) AS act
            FULL OUTER JOIN
            (
                SELECT owners.g AS g, toUInt64(c.user_id) AS user_id,
                       uniqExact(c.b) AS done, max(toUInt32(c.modified)) AS last_done
                FROM
                (
                    -- MySQL-engine filters: see weekly_engagement.sql.
                    SELECT user_id, {{block_index(block_key)}} AS b, modified
                    FROM {{db}}.{{lms_block_completion}}
                    WHERE course_key = ? AND toFloat64(completion) >= 1
                ) AS c
                INNER JOIN
                (
                    SELECT b, g FROM (
                        {{block_owners}}
                    ) AS all_owners
                    WHERE is_comp = 1
                ) AS owners USING (b)
                GROUP BY owners.g, c.user_id
            ) AS fin USING (g, user_id)
        ) AS lu
        INNER JOIN
        (
            SELECT g, uniqExact(b) AS total
            FROM (
                {{block_owners}}
            ) AS comp_owners
            WHERE is_comp = 1
            GROUP BY g
        ) AS sizes USING (g)
    ) AS per_learner
    GROUP BY g
) AS per USING (g)
ORDER BY position
