//! Integration tests against the real local ClickHouse and MariaDB (`scripts/services start`).

use cairn_core::mysql::mysql_async::prelude::Queryable;
use cairn_core::{ClickHouse, Error, testing};
use clickhouse::Row;
use serde::{Deserialize, Serialize};

#[tokio::test]
async fn clickhouse_version_is_detected() {
    let ch = testing::clickhouse("core_version").await;
    let raw: String = ch
        .client()
        .query("SELECT version()")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(ch.version(), raw.parse().unwrap());
    assert!(ch.version().major >= 18, "{}", ch.version());
    ch.ping().await.unwrap();
    ch.drop_database().await.unwrap();
}

#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
struct Probe {
    id: u32,
    name: String,
    course_id: String,
}

#[tokio::test]
async fn insert_and_select_roundtrip_with_the_clickhouse_crate() {
    let ch = testing::clickhouse("core_roundtrip").await;
    ch.execute("CREATE TABLE probe (id UInt32, name String, course_id String) ENGINE = MergeTree ORDER BY id")
        .await
        .unwrap();
    let rows: Vec<Probe> = (0..1000)
        .map(|i| Probe {
            id: i,
            name: format!("learner-{i} 'quoted' \\ é"),
            course_id: format!("course-v1:Org{}+C+R", i % 3),
        })
        .collect();
    let mut insert = ch.client().insert::<Probe>("probe").await.unwrap();
    for r in &rows {
        insert.write(r).await.unwrap();
    }
    insert.end().await.unwrap();
    let back: Vec<Probe> = ch
        .client()
        .query("SELECT ?fields FROM probe WHERE course_id = ? ORDER BY id")
        .bind("course-v1:Org1+C+R")
        .fetch_all()
        .await
        .unwrap();
    let expected: Vec<Probe> = rows.into_iter().filter(|r| r.id % 3 == 1).collect();
    assert_eq!(back, expected);
    ch.drop_database().await.unwrap();
}

#[tokio::test]
async fn clickhouse_errors_keep_the_server_message() {
    let ch = testing::clickhouse("core_errors").await;
    let err = ch
        .execute("SELECT * FROM no_such_table_here")
        .await
        .unwrap_err();
    match &err {
        Error::ClickHouse { message, .. } => {
            assert!(message.contains("no_such_table_here"), "{message}")
        }
        other => panic!("unexpected error {other:?}"),
    }
    ch.drop_database().await.unwrap();
}

#[tokio::test]
async fn unreachable_clickhouse_is_a_clear_error() {
    let mut cfg = testing::config().clickhouse;
    cfg.http_port = 1; // nothing listens there
    let err = ClickHouse::connect(&cfg).await.unwrap_err().to_string();
    assert!(err.contains("127.0.0.1:1"), "{err}");
    assert!(
        err.contains("is the server up") && err.contains("CAIRN_CLICKHOUSE_HTTP_PORT"),
        "what to check: {err}"
    );
    // A server that answers but refuses the credentials gets no such hint.
    let mut cfg = testing::config().clickhouse;
    cfg.password = cairn_core::Secret::new("not-the-password");
    let err = ClickHouse::connect(&cfg).await.unwrap_err().to_string();
    assert!(!err.contains("is the server up"), "{err}");
    assert!(
        err.contains("check CAIRN_CLICKHOUSE_USERNAME and CAIRN_CLICKHOUSE_PASSWORD"),
        "what to check: {err}"
    );
    assert!(
        !err.contains("not-the-password"),
        "the password is not printed: {err}"
    );
    // So does an unknown user.
    let mut cfg = testing::config().clickhouse;
    cfg.username = "no_such_cairn_user".into();
    let err = ClickHouse::connect(&cfg).await.unwrap_err().to_string();
    assert!(err.contains("CAIRN_CLICKHOUSE_PASSWORD"), "{err}");
    // A server error that is not about credentials gets neither hint.
    let ch = testing::clickhouse("core_hint").await;
    let err = ch
        .execute("SELECT no_such_column")
        .await
        .unwrap_err()
        .to_string();
    assert!(!err.contains("CAIRN_CLICKHOUSE"), "{err}");
    ch.drop_database().await.unwrap();
}

#[tokio::test]
async fn unreachable_or_refusing_mysql_is_a_clear_error() {
    let good = testing::config().mysql;
    let mut cfg = good.clone();
    cfg.port = 1; // nothing listens there
    let err = cairn_core::mysql::connect(&cfg)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("is the server up") && err.contains("MYSQL_PORT"),
        "what to check: {err}"
    );
    let mut cfg = good.clone();
    cfg.password = cairn_core::Secret::new("not-the-password");
    let err = cairn_core::mysql::connect(&cfg)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("check OPENEDX_MYSQL_USERNAME and OPENEDX_MYSQL_PASSWORD"),
        "what to check: {err}"
    );
    assert!(!err.contains("is the server up"), "{err}");
    assert!(
        !err.contains("not-the-password"),
        "the password is not printed: {err}"
    );
    let mut cfg = good;
    cfg.database = "no_such_cairn_database".into();
    let err = cairn_core::mysql::connect(&cfg)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("check OPENEDX_MYSQL_DATABASE"), "{err}");
}

#[tokio::test]
async fn version_gate_names_the_server_version() {
    let ch = testing::clickhouse("core_gate").await;
    let err = ch.require("row policies", 999, 1).unwrap_err().to_string();
    assert!(
        err.contains("999.1") && err.contains(&ch.version().to_string()),
        "{err}"
    );
    ch.require("MergeTree", 1, 1).unwrap();
    ch.drop_database().await.unwrap();
}

#[tokio::test]
async fn mariadb_openedx_tables_answer_queries() {
    let admin = testing::mysql_openedx("core_mysql").await;
    let mut conn = cairn_core::mysql::connect(&admin).await.unwrap();
    conn.query_drop(
        "INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined)
         VALUES (1, '!', 0, 'ada', 'Ada', 'L', 'ada@example.com', 0, 1, '2024-01-01 00:00:00'),
                (2, '!', 0, 'bob', 'Bob', 'M', 'bob@example.com', 0, 1, '2024-01-02 00:00:00');
         INSERT INTO student_courseenrollment (course_id, created, is_active, mode, user_id)
         VALUES ('course-v1:OpenedX+DemoX+DemoCourse', '2024-02-01 00:00:00', 1, 'audit', 1),
                ('course-v1:OpenedX+DemoX+DemoCourse', '2024-02-02 00:00:00', 0, 'audit', 2);",
    )
    .await
    .unwrap();
    let names: Vec<String> = conn
        .exec(
            "SELECT u.username FROM auth_user u JOIN student_courseenrollment e ON e.user_id = u.id
             WHERE e.course_id = ? AND e.is_active = 1",
            ("course-v1:OpenedX+DemoX+DemoCourse",),
        )
        .await
        .unwrap();
    assert_eq!(names, vec!["ada".to_string()]);
    conn.query_drop(format!("DROP DATABASE `{}`", admin.database))
        .await
        .unwrap();
    conn.disconnect().await.unwrap();
}

#[tokio::test]
async fn the_read_only_lms_account_can_read_but_not_write() {
    let cfg = testing::config().mysql;
    let mut conn = cairn_core::mysql::connect(&cfg).await.unwrap();
    let n: Option<u64> = conn
        .query_first("SELECT COUNT(*) FROM auth_user")
        .await
        .unwrap();
    assert!(n.is_some());
    let err = conn
        .query_drop("INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined) VALUES (999999, '!', 0, 'x', '', '', 'x@x', 0, 1, NOW())")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.to_lowercase().contains("denied"), "{err}");
}
