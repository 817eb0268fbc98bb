//! Retention on the real server (18.16 and 26.9: scripts/test runs it on both): events in
//! four months, 12 months kept as of 2026-12-02; the two wholly older months dropped (their
//! pre-aggregated learner days with them), the others untouched; a dry run drops nothing; a
//! second run finds nothing to drop.

use cairn_import::retention::{Partition, apply, partitions};
use chrono::NaiveDate;

async fn per_month(ch: &cairn_core::ClickHouse) -> Vec<(u32, u64)> {
    ch.client()
        .query("SELECT toYYYYMM(time) AS m, count() FROM events GROUP BY m ORDER BY m")
        .fetch_all::<(u32, u64)>()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn whole_months_older_than_the_retention_are_dropped() {
    let ch = cairn_migrate::testing::data_lake("retention").await;
    let db = cairn_core::sql::quote_ident(ch.database());
    // 2 events in January 2024, 3 in November 2025, 4 on the first of December 2025 (within
    // 12 months of 2026-12-02 only in part: kept whole), 5 in December 2026.
    let mut values = Vec::new();
    for (time, n) in [
        ("2024-01-15 10:00:00", 2),
        ("2025-11-30 23:59:59", 3),
        ("2025-12-01 00:00:00", 4),
        ("2026-12-01 08:00:00", 5),
    ] {
        for i in 0..n {
            // One January 2024 event is the only one of its course.
            let course = if time.starts_with("2024") && i == 0 {
                "course-v1:Old+Gone+2024"
            } else {
                "course-v1:A+B+C"
            };
            values.push(format!(
                "(toDateTime('{time}', 'UTC'), 'x', '{course}', {i}, 'm{time}{i}')"
            ));
        }
    }
    ch.execute(&format!(
        "INSERT INTO {db}._events (time, name, course_id, user_id, message) VALUES {}",
        values.join(", ")
    ))
    .await
    .unwrap();
    // Their pre-aggregated learner days (as `cairn aggregate` writes them): one row per
    // event here.
    for sql in [
        "INSERT INTO {db}._learner_days (course_id, day, user_id, events, version) \
         SELECT course_id, toDate(time), user_id + 1, 1, 1 FROM {db}._events",
        "INSERT INTO {db}._video_days (course_id, day, video_id, user_id, version) \
         SELECT course_id, toDate(time), 'v', user_id + 1, 1 FROM {db}._events",
        "INSERT INTO {db}._problem_days (course_id, day, block_id, user_id, version) \
         SELECT course_id, toDate(time), 'p', user_id + 1, 1 FROM {db}._events",
        "INSERT INTO {db}._answer_days (course_id, day, block_id, user_id, version) \
         SELECT course_id, toDate(time), 'p', user_id + 1, 1 FROM {db}._events",
        "INSERT INTO {db}._block_days (course_id, day, block_id, user_id, version) \
         SELECT course_id, toDate(time), 'b', user_id + 1, 1 FROM {db}._events",
        // And their forum copy (migration 0025), as if they were forum events.
        "INSERT INTO {db}._forum_events (time, course_id, user_id, name, event_id) \
         SELECT time, course_id, user_id, name, event_id FROM {db}._events",
    ] {
        ch.execute(&sql.replace("{db}", &db)).await.unwrap();
    }
    let days_per_month = || async {
        let mut per_table = Vec::new();
        for (table, day) in [
            ("_learner_days", "day"),
            ("_video_days", "day"),
            ("_forum_events", "time"),
            ("_problem_days", "day"),
            ("_answer_days", "day"),
            ("_block_days", "day"),
        ] {
            let sql =
                format!("SELECT toYYYYMM({day}) AS m, count() FROM {table} GROUP BY m ORDER BY m");
            let rows = ch.client().query(&sql).fetch_all::<(u32, u64)>();
            per_table.push(rows.await.unwrap());
        }
        assert_eq!(per_table[0], per_table[1], "learner and video days alike");
        assert_eq!(
            per_table[0], per_table[2],
            "learner days and forum events alike"
        );
        assert_eq!(per_table[0], per_table[3], "learner and problem days alike");
        assert_eq!(per_table[0], per_table[4], "learner and answer days alike");
        assert_eq!(per_table[0], per_table[5], "learner and block days alike");
        per_table.swap_remove(0)
    };
    let today = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
    let all = vec![(202401, 2), (202511, 3), (202512, 4), (202612, 5)];
    assert_eq!(days_per_month().await, all);
    assert_eq!(per_month(&ch).await, all);
    let ids: Vec<String> = partitions(&ch)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(ids, ["202401", "202511", "202512", "202612"]);

    let expected = vec![
        Partition {
            id: "202401".into(),
            events: 2,
        },
        Partition {
            id: "202511".into(),
            events: 3,
        },
    ];
    assert_eq!(apply(&ch, today, 12, true).await.unwrap(), expected);
    assert_eq!(per_month(&ch).await, all, "a dry run drops nothing");
    assert_eq!(apply(&ch, today, 12, false).await.unwrap(), expected);
    assert_eq!(per_month(&ch).await, vec![(202512, 4), (202612, 5)]);
    assert_eq!(
        days_per_month().await,
        vec![(202512, 4), (202612, 5)],
        "the learner days and forum events of the months dropped go with them"
    );
    // The days' freshness marks of the months dropped go too (a mutation: wait for it), so
    // the course whose events all went is no longer a course of the lake.
    let marked = || async {
        ch.client()
            .query("SELECT DISTINCT course_id FROM _learner_days_dirty ORDER BY course_id")
            .fetch_all::<String>()
            .await
            .unwrap()
    };
    for _ in 0..80 {
        if marked().await.len() == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert_eq!(marked().await, ["course-v1:A+B+C"]);
    let first_marked: String = ch
        .client()
        .query("SELECT toString(min(day)) FROM _learner_days_dirty")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(first_marked, "2025-12-01");
    assert!(
        apply(&ch, today, 12, false).await.unwrap().is_empty(),
        "nothing left to drop"
    );
    ch.drop_database().await.unwrap();
}
