//! `cairn status` on the real ClickHouse: the data lake's line before it exists, once
//! migrated, with a migration pending, and after an ingestion.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn cairn(args: &[&str], db: &str, env: &[(&str, &str)], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(args)
        .env(
            "CAIRN_CONFIG",
            cairn_core::testing::config_path().expect("the local services' configuration"),
        )
        .env("CAIRN_CLICKHOUSE_DATABASE", db)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "cairn {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The `Data lake: …` line of `cairn status`.
fn lake_line(db: &str, env: &[(&str, &str)]) -> String {
    let out = cairn(&["status"], db, env, b"");
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("Data lake: "))
        .unwrap_or_else(|| panic!("no data lake line: {text}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn status_says_what_the_data_lake_holds() {
    let ch = cairn_core::testing::clickhouse("cli_status").await;
    let db = ch.database().to_owned();
    ch.drop_database().await.unwrap();
    assert_eq!(
        lake_line(&db, &[]),
        format!("database {db} does not exist yet (`cairn migrate up` makes it)")
    );
    cairn(&["migrate", "up"], &db, &[], b"");
    let applied = lake_line(&db, &[]);
    let n: usize = applied
        .strip_suffix(" migrations applied, none pending; no event yet, no ingestion yet")
        .unwrap_or_else(|| panic!("{applied}"))
        .parse()
        .unwrap();
    assert!(n > 20, "{applied}");
    // A migration of the operator's own, not applied yet.
    let dir = std::env::temp_dir().join(format!("cairn-status-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let folder = [("CAIRN_MIGRATIONS_FOLDER", dir.to_str().unwrap())];
    cairn(&["migrate", "new", "extra"], &db, &folder, b"");
    assert!(
        lake_line(&db, &folder).starts_with(&format!(
            "{n} migrations applied, 1 pending (`cairn migrate up` applies them); "
        )),
        "{}",
        lake_line(&db, &folder)
    );
    std::fs::remove_dir_all(&dir).unwrap();
    // After an ingestion: the newest event and when it came.
    let line = r#"{"name": "seq_goto", "context": {"user_id": 1, "course_id": "course-v1:A+B+C"}, "time": "2024-01-01T00:00:05+00:00"}"#;
    cairn(&["ingest", "-"], &db, &[], format!("{line}\n").as_bytes());
    let after = lake_line(&db, &[]);
    let rest = after
        .strip_prefix(&format!(
            "{n} migrations applied, none pending; newest event 2024-01-01 00:00:05 UTC ("
        ))
        .unwrap_or_else(|| panic!("{after}"));
    assert!(
        rest.contains(" days before now), last ingestion ") && rest.ends_with(" UTC"),
        "{after}"
    );
    ch.drop_database().await.unwrap();
}
