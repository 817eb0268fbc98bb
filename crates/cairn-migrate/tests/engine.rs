//! cairn-migrate against the real ClickHouse (18.16 and 26.9: scripts/test runs it on both) and MariaDB.

use std::path::PathBuf;
use std::time::Duration;

use cairn_core::testing;
use cairn_migrate::engine::State;
use cairn_migrate::{MigrateError, Migration, Migrator, Origin, UpOptions, source};

fn opts() -> UpOptions {
    UpOptions {
        lock_wait: Duration::from_secs(60),
        owner: "test".into(),
        ..UpOptions::default()
    }
}

async fn migrator(test: &str, migrations: Vec<Migration>) -> Migrator {
    let ch = testing::clickhouse(test).await;
    Migrator::with(ch, testing::config(), migrations)
}

fn custom(name: &str, sql: &str) -> Migration {
    Migration::new(name, Origin::Folder(PathBuf::from("/custom")), sql)
}

async fn count(sql: &str) -> u64 {
    let ch = testing::clickhouse_existing("system").await;
    ch.client()
        .query(sql)
        .fetch_one::<u64>()
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn tmpdir(name: &str) -> testing::Scratch {
    testing::Scratch::new(&format!("migrate-{name}"))
}

#[tokio::test]
async fn up_creates_the_data_lake_then_does_nothing() {
    let m = migrator("migrate_builtin", source::builtin()).await;
    let db = testing::db_name("migrate_builtin");
    let report = m.up(&opts(), |_| {}).await.unwrap();
    assert_eq!(report.applied.len(), source::builtin().len());
    for t in [
        "events",
        "video_events",
        "video_view_segments",
        "course_blocks",
        "_course_blocks",
        "openedx_users",
        "openedx_user_profiles",
        "openedx_course_enrollments",
        "course_grades",
        "openedx_block_completion",
        "openedx_course_overviews",
        "course_enrollments",
        "course_block_completion",
        "_ingest_checkpoints",
    ] {
        let n = count(&format!(
            "SELECT count() FROM system.tables WHERE database = '{db}' AND name = '{t}'"
        ))
        .await;
        assert_eq!(n, 1, "{t} missing");
    }
    // The MySQL-engine tables really read the LMS database.
    count(&format!("SELECT count() FROM {db}.course_enrollments")).await;
    let again = m.up(&opts(), |_| {}).await.unwrap();
    assert!(again.applied.is_empty());
    let status = m.status().await.unwrap();
    assert_eq!(status.len(), source::builtin().len());
    assert!(
        status
            .iter()
            .all(|r| r.state == State::Applied && r.applied_at.is_some()),
        "{status:?}"
    );
    testing::drop_clickhouse(&testing::db_name("migrate_builtin")).await;
}

#[tokio::test]
async fn user_folder_migrations_interleave_by_name() {
    let dir = tmpdir("interleave");
    std::fs::write(
        dir.join("0003a_mine.sql"),
        "CREATE TABLE IF NOT EXISTS {{ db }}.mine (x UInt8) ENGINE = MergeTree ORDER BY x;",
    )
    .unwrap();
    std::fs::write(
        dir.join("9000_last.sql"),
        "CREATE VIEW IF NOT EXISTS {{ db }}.mine_view AS SELECT x FROM {{ db }}.mine;",
    )
    .unwrap();
    let all = source::load(&[dir.to_path_buf()]).unwrap();
    let names: Vec<String> = all.iter().map(|m| m.name.clone()).collect();
    // The user's files fall between the built-in ones by name.
    let mut expected: Vec<String> = source::builtin().into_iter().map(|m| m.name).collect();
    expected.extend(["0003a_mine.sql".to_string(), "9000_last.sql".to_string()]);
    expected.sort();
    assert_eq!(names, expected);
    assert_eq!(
        names.iter().position(|n| n == "0003a_mine.sql"),
        names
            .iter()
            .position(|n| n == "0003_course_blocks.sql")
            .map(|i| i + 1)
    );
    let m = migrator("migrate_interleave", all).await;
    let report = m.up(&opts(), |_| {}).await.unwrap();
    let applied: Vec<String> = report.applied.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(applied, names, "applied in name order");
    let status = m.status().await.unwrap();
    assert_eq!(status[3].source, dir.display().to_string());
    // Same name in two places: an error naming both.
    let dir2 = tmpdir("interleave2");
    std::fs::write(dir2.join("0003a_mine.sql"), "SELECT 1").unwrap();
    let err = source::load(&[dir.to_path_buf(), dir2.to_path_buf()])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("0003a_mine.sql")
            && err.contains(&dir.display().to_string())
            && err.contains(&dir2.display().to_string()),
        "{err}"
    );
    testing::drop_clickhouse(&testing::db_name("migrate_interleave")).await;
}

#[tokio::test]
async fn a_failing_statement_stops_and_the_fixed_file_resumes_after_it() {
    let db = testing::db_name("migrate_resume");
    let broken = custom(
        "0001_two.sql",
        "CREATE TABLE {{ db }}.once (x UInt8) ENGINE = MergeTree ORDER BY x;\nINSERT INTO {{ db }}.once VALUES (1);\nSELECT no_such_function(1);\nINSERT INTO {{ db }}.once VALUES (3);",
    );
    let m = migrator("migrate_resume", vec![broken]).await;
    let err = m.up(&opts(), |_| {}).await.unwrap_err();
    match &err {
        MigrateError::Statement {
            file,
            number,
            total,
            message,
        } => {
            assert_eq!(
                (file.as_str(), *number, *total),
                ("/custom/0001_two.sql", 3, 4)
            );
            assert!(message.contains("no_such_function"), "{message}");
        }
        other => panic!("{other}"),
    }
    assert_eq!(err.exit_code(), 6);
    let status = m.status().await.unwrap();
    assert_eq!(status[0].state, State::Partial { done: 2, total: 4 });
    // Fixed: statement 3 changes. Statements 1 (CREATE TABLE without IF NOT EXISTS) and 2
    // must not run again, or the CREATE fails and the INSERT doubles.
    let fixed = custom(
        "0001_two.sql",
        "CREATE TABLE {{ db }}.once (x UInt8) ENGINE = MergeTree ORDER BY x;\nINSERT INTO {{ db }}.once VALUES (1);\nINSERT INTO {{ db }}.once VALUES (2);\nINSERT INTO {{ db }}.once VALUES (3);",
    );
    let m = Migrator::with(
        testing::clickhouse_existing(&db).await,
        testing::config(),
        vec![fixed],
    );
    let report = m.up(&opts(), |_| {}).await.unwrap();
    assert_eq!(report.resumed, vec![("0001_two.sql".to_string(), 2)]);
    assert_eq!(count(&format!("SELECT count() FROM {db}.once")).await, 3);
    assert_eq!(
        count(&format!("SELECT toUInt64(sum(x)) FROM {db}.once")).await,
        6
    );
    assert_eq!(m.status().await.unwrap()[0].state, State::Applied);
    testing::drop_clickhouse(&testing::db_name("migrate_resume")).await;
}

#[tokio::test]
async fn drift_is_reported_and_refused_unless_allowed() {
    let db = testing::db_name("migrate_drift");
    let v1 = custom(
        "0001_t.sql",
        "CREATE TABLE IF NOT EXISTS {{ db }}.t (x UInt8) ENGINE = MergeTree ORDER BY x;",
    );
    let m = migrator("migrate_drift", vec![v1]).await;
    m.up(&opts(), |_| {}).await.unwrap();
    let v2 = custom(
        "0001_t.sql",
        "CREATE TABLE IF NOT EXISTS {{ db }}.t (x UInt16) ENGINE = MergeTree ORDER BY x;",
    );
    let next = custom(
        "0002_u.sql",
        "CREATE TABLE IF NOT EXISTS {{ db }}.u (x UInt8) ENGINE = MergeTree ORDER BY x;",
    );
    let m = Migrator::with(
        testing::clickhouse_existing(&db).await,
        testing::config(),
        vec![v2, next],
    );
    assert_eq!(m.status().await.unwrap()[0].state, State::Drift);
    let err = m.up(&opts(), |_| {}).await.unwrap_err();
    assert!(
        matches!(err, MigrateError::Drift(ref v) if v == &["/custom/0001_t.sql".to_string()]),
        "{err}"
    );
    assert_eq!(err.exit_code(), 3);
    assert_eq!(
        m.status().await.unwrap()[1].state,
        State::Pending,
        "nothing applied"
    );
    let report = m
        .up(
            &UpOptions {
                allow_drift: true,
                ..opts()
            },
            |_| {},
        )
        .await
        .unwrap();
    assert_eq!(report.applied, vec![("0002_u.sql".to_string(), 1)]);
    testing::drop_clickhouse(&testing::db_name("migrate_drift")).await;
}

#[tokio::test]
async fn the_checksum_is_of_the_template_not_the_rendered_secrets() {
    let db = testing::db_name("migrate_secret");
    let mig = custom("0001_s.sql", "SELECT {{ mysql.password | sqlstr }};");
    let m = migrator("migrate_secret", vec![mig.clone()]).await;
    m.up(&opts(), |_| {}).await.unwrap();
    let mut config = testing::config();
    config.mysql.password = cairn_core::Secret::new("a-new-password");
    let m = Migrator::with(testing::clickhouse_existing(&db).await, config, vec![mig]);
    assert_eq!(m.status().await.unwrap()[0].state, State::Applied);
    testing::drop_clickhouse(&testing::db_name("migrate_secret")).await;
}

#[tokio::test]
async fn two_concurrent_ups_apply_each_migration_once() {
    let db = testing::db_name("migrate_concurrent");
    let migs = vec![
        custom(
            "0001_log.sql",
            "CREATE TABLE {{ db }}.log (m String) ENGINE = MergeTree ORDER BY m;",
        ),
        custom("0002_a.sql", "INSERT INTO {{ db }}.log VALUES ('a');"),
        custom("0003_b.sql", "INSERT INTO {{ db }}.log VALUES ('b');"),
    ];
    let a = migrator("migrate_concurrent", migs.clone()).await;
    let b = Migrator::with(
        testing::clickhouse_existing(&db).await,
        testing::config(),
        migs,
    );
    let mut waited = Vec::new();
    let (oa, ob) = (
        UpOptions {
            owner: "run-a".into(),
            ..opts()
        },
        UpOptions {
            owner: "run-b".into(),
            ..opts()
        },
    );
    let (ra, rb) = tokio::join!(
        a.up(&oa, |_| {}),
        b.up(&ob, |msg| waited.push(msg.to_owned()))
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.applied.len() + rb.applied.len(), 3, "{ra:?} {rb:?}");
    assert!(
        ra.applied.is_empty() || rb.applied.is_empty(),
        "one run applied everything"
    );
    assert_eq!(count(&format!("SELECT count() FROM {db}.log")).await, 2);
    assert_eq!(
        count(&format!("SELECT uniqExact(m) FROM {db}.log")).await,
        2
    );
    if !ra.applied.is_empty() {
        assert!(
            waited.iter().any(|w| w.contains("run-a")),
            "the waiting run says who holds the lock: {waited:?}"
        );
    }
    testing::drop_clickhouse(&testing::db_name("migrate_concurrent")).await;
}

#[tokio::test]
async fn a_held_lock_names_its_holder_when_waiting_runs_out() {
    let db = testing::db_name("migrate_locked");
    let m = migrator("migrate_locked", vec![custom("0001_x.sql", "SELECT 1;")]).await;
    let ch = testing::clickhouse_existing(&db).await;
    let held =
        cairn_migrate::lock::acquire(&ch, "ops@host pid 42", Duration::from_secs(5), |_, _| {})
            .await
            .unwrap();
    let err = m
        .up(
            &UpOptions {
                lock_wait: Duration::ZERO,
                ..opts()
            },
            |_| {},
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ops@host pid 42"), "{err}");
    assert_eq!(err.exit_code(), 4);
    held.release(&ch).await.unwrap();
    m.up(&opts(), |_| {}).await.unwrap();
    testing::drop_clickhouse(&testing::db_name("migrate_locked")).await;
}

#[tokio::test]
async fn template_errors_name_file_line_and_variable_and_apply_nothing() {
    let db = testing::db_name("migrate_template");
    let migs = vec![
        custom(
            "0001_ok.sql",
            "CREATE TABLE IF NOT EXISTS {{ db }}.ok (x UInt8) ENGINE = MergeTree ORDER BY x;",
        ),
        custom(
            "0002_bad.sql",
            "-- line 1\nSELECT 1;\nSELECT {{ clickhouse.no_such_thing }};",
        ),
    ];
    let m = migrator("migrate_template", migs).await;
    let err = m.up(&opts(), |_| {}).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("/custom/0002_bad.sql:3") && text.contains("no_such_thing"),
        "{text}"
    );
    assert_eq!(
        count(&format!(
            "SELECT count() FROM system.tables WHERE database = '{db}' AND name = 'ok'"
        ))
        .await,
        0
    );
    testing::drop_clickhouse(&testing::db_name("migrate_template")).await;
}

#[tokio::test]
async fn templates_branch_on_the_server_version_as_numbers() {
    let db = testing::db_name("migrate_version");
    let mig = custom(
        "0001_v.sql",
        "CREATE TABLE {{ db }}.v (x UInt8) ENGINE = MergeTree ORDER BY x;\n{% if clickhouse.version.major >= 20 %}INSERT INTO {{ db }}.v VALUES (20);{% else %}INSERT INTO {{ db }}.v VALUES (18);{% endif %}",
    );
    let m = migrator("migrate_version", vec![mig]).await;
    m.up(&opts(), |_| {}).await.unwrap();
    let expected = if m.version().major >= 20 { 20 } else { 18 };
    assert_eq!(
        count(&format!("SELECT toUInt64(max(x)) FROM {db}.v")).await,
        expected
    );
    testing::drop_clickhouse(&testing::db_name("migrate_version")).await;
}

#[tokio::test]
async fn dry_run_applies_nothing_and_fake_records_without_running() {
    let db = testing::db_name("migrate_fake");
    let migs = vec![custom(
        "0001_f.sql",
        "CREATE TABLE {{ db }}.f (x UInt8) ENGINE = MergeTree ORDER BY x;",
    )];
    let m = migrator("migrate_fake", migs).await;
    let report = m
        .up(
            &UpOptions {
                dry_run: true,
                ..opts()
            },
            |_| {},
        )
        .await
        .unwrap();
    assert_eq!(report.would_run.len(), 1);
    assert!(report.would_run[0].1[0].starts_with(&format!("CREATE TABLE `{db}`.f")));
    assert_eq!(m.status().await.unwrap()[0].state, State::Pending);
    m.up(
        &UpOptions {
            fake: true,
            ..opts()
        },
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(m.status().await.unwrap()[0].state, State::Fake);
    assert_eq!(
        count(&format!(
            "SELECT count() FROM system.tables WHERE database = '{db}' AND name = 'f'"
        ))
        .await,
        0
    );
    testing::drop_clickhouse(&testing::db_name("migrate_fake")).await;
}

#[tokio::test]
async fn tutor_cairn_history_is_honoured() {
    let db = testing::db_name("migrate_cairn");
    let ch = testing::clickhouse("migrate_cairn").await;
    // What Tutor Cairn leaves: `_migrations (name String)` with the names it applied.
    ch.execute(&format!(
        "CREATE TABLE `{db}`._migrations (name String) ENGINE = MergeTree ORDER BY name"
    ))
    .await
    .unwrap();
    ch.execute(&format!(
        "INSERT INTO `{db}`._migrations (name) VALUES ('0001_old.sql')"
    ))
    .await
    .unwrap();
    let migs = vec![
        custom(
            "0001_old.sql",
            "CREATE TABLE {{ db }}.old (x UInt8) ENGINE = MergeTree ORDER BY x;",
        ),
        custom(
            "0002_new.sql",
            "CREATE TABLE {{ db }}.new (x UInt8) ENGINE = MergeTree ORDER BY x;",
        ),
    ];
    let m = Migrator::with(ch, testing::config(), migs);
    let status = m.status().await.unwrap();
    assert_eq!(status[0].state, State::AppliedByCairn);
    let report = m.up(&opts(), |_| {}).await.unwrap();
    assert_eq!(report.applied, vec![("0002_new.sql".to_string(), 1)]);
    testing::drop_clickhouse(&testing::db_name("migrate_cairn")).await;
}

/// Migration 0024: an insert's parts of `_events` are compact below 256 MiB (servers since
/// 20.3), where a 12 MB part was wide (a file per column); 18.16 keeps its wide parts.
#[tokio::test]
async fn event_inserts_write_compact_parts_where_the_server_has_them() {
    let m = migrator("migrate_compact_parts", source::builtin()).await;
    let db = testing::db_name("migrate_compact_parts");
    m.up(&opts(), |_| {}).await.unwrap();
    let ch = testing::clickhouse_existing(&db).await;
    let engine = ch
        .client()
        .query("SELECT engine_full FROM system.tables WHERE database = ? AND name = '_events'")
        .bind(&db)
        .fetch_one::<String>()
        .await
        .unwrap();
    if !ch.version().at_least(20, 3) {
        assert!(!engine.contains("min_bytes_for_wide_part"), "{engine}");
        ch.drop_database().await.unwrap();
        return;
    }
    assert!(
        engine.contains("min_bytes_for_wide_part = 268435456"),
        "{engine}"
    );
    // ~14 MB uncompressed in one month: over the default 10 MiB, a wide part.
    ch.client()
        .query(&format!(
            "INSERT INTO {db}._events (time, name, course_id, message) \
             SELECT toDateTime('2024-03-01 00:00:00') + number, 'play_video', 'course-v1:o+c+r', \
                    concat(toString(number), repeat('x', 1100)) FROM numbers(12000)"
        ))
        .execute()
        .await
        .unwrap();
    let parts = ch
        .client()
        .query(
            "SELECT part_type, toUInt64(bytes_on_disk), toUInt64(data_uncompressed_bytes) \
             FROM system.parts WHERE database = ? AND table = '_events' AND active",
        )
        .bind(&db)
        .fetch_all::<(String, u64, u64)>()
        .await
        .unwrap();
    assert_eq!(parts.len(), 1, "{parts:?}");
    assert!(
        parts[0].2 > 10 << 20,
        "the part must be over the default threshold: {parts:?}"
    );
    assert_eq!(parts[0].0, "Compact", "{parts:?}");
    testing::drop_clickhouse(&testing::db_name("migrate_compact_parts")).await;
}
