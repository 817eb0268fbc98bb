//! The checks of fixtures/ch-check/ on the live server (18.16 and 26.9: scripts/test runs
//! it on both): migrated views return the rows seeded into MariaDB, and the queries of
//! docs/queries.md give the expected answers.

use cairn_core::mysql::mysql_async::prelude::Queryable;
use cairn_core::testing;
use cairn_migrate::split::split_statements;
use cairn_migrate::{Migrator, UpOptions, source};

#[tokio::test]
async fn migrated_views_return_the_seeded_rows() {
    let lms = testing::mysql_openedx("migrate_views_lms").await;
    let mut conn = cairn_core::mysql::connect(&lms).await.unwrap();
    let seed = std::fs::read_to_string(testing::workspace_dir().join("fixtures/openedx-seed.sql"))
        .unwrap();
    conn.query_drop(seed).await.unwrap();

    let ch = testing::clickhouse("migrate_views").await;
    let db = ch.database().to_owned();
    let mut config = testing::config();
    config.mysql.database = lms.database.clone();
    let m = Migrator::with(ch.clone(), config, source::builtin());
    let opts = UpOptions {
        owner: "views-test".into(),
        lock_wait: std::time::Duration::from_secs(60),
        ..UpOptions::default()
    };
    m.up(&opts, |_| {}).await.unwrap();

    let mut files: Vec<_> = std::fs::read_dir(testing::workspace_dir().join("fixtures/ch-check"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 3, "{files:?}");
    let checks: String = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap() + ";\n")
        .collect();
    let checks = checks.replace("cairn_check.", &format!("{db}."));
    let mut expectations = 0;
    for stmt in split_statements(&checks) {
        if stmt.contains("cairn-check: expect-rows") {
            let rows: Vec<u8> = ch
                .client()
                .query(&stmt)
                .fetch_all()
                .await
                .unwrap_or_else(|e| panic!("{stmt}: {e}"));
            assert!(!rows.is_empty(), "no row from:\n{stmt}");
            expectations += 1;
        } else {
            ch.execute(&stmt)
                .await
                .unwrap_or_else(|e| panic!("{stmt}: {e}"));
        }
    }
    assert_eq!(expectations, 12);
    conn.query_drop(format!("DROP DATABASE `{}`", lms.database))
        .await
        .unwrap();
    ch.drop_database().await.unwrap();
}
