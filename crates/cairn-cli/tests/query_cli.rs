//! `cairn query` and `cairn client` through the real binary on the suite's server: the
//! three output formats, bound parameters, ClickHouse's errors, the interactive prompt fed
//! on stdin, and `--as USER` refused with the reason where it cannot work.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use cairn_core::testing;

/// Runs the binary on database `db`, with `home` as its `HOME` (where `cairn client` keeps
/// its history).
fn cairn(
    home: &std::path::Path,
    db: &str,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&str>,
) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cairn"));
    cmd.args(args)
        .env("CAIRN_CONFIG", testing::config_path().unwrap())
        .env("CAIRN_CLICKHOUSE_DATABASE", db)
        .env("HOME", home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn query_and_client_run_sql_from_the_terminal() {
    let ch = cairn_migrate::testing::data_lake("query_cli").await;
    let db = ch.database().to_owned();
    let home = testing::Scratch::new("query-cli-home");
    ch.execute(&format!(
        "INSERT INTO {db}._events (time, name, course_id, user_id, message) VALUES \
         ('2026-01-05 10:00:00', 'play_video', 'course-v1:A+B+C', 7, 'm1'), \
         ('2026-01-05 11:00:00', 'problem_check', 'course-v1:A+B+C', 8, 'm2'), \
         ('2026-01-06 11:00:00', 'play_video', 'course-v1:X+Y+Z', 9, 'm3')"
    ))
    .await
    .unwrap();
    let sql = "SELECT name, count() AS n FROM events GROUP BY name ORDER BY name";

    let o = cairn(&home, &db, &["query", sql], &[], None);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(
        out(&o).lines().take(4).collect::<Vec<_>>(),
        [
            "name           n",
            "-------------  -",
            "play_video     2",
            "problem_check  1"
        ]
    );
    assert!(out(&o).contains("(2 rows, "));

    let o = cairn(&home, &db, &["query", sql, "--format", "json"], &[], None);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["rows"],
        serde_json::json!([["play_video", 2], ["problem_check", 1]])
    );
    assert_eq!(
        v["columns"][1],
        serde_json::json!({"name": "n", "type": "UInt64"})
    );

    let o = cairn(&home, &db, &["query", sql, "--format", "csv"], &[], None);
    assert_eq!(
        out(&o),
        "\"name\",\"n\"\n\"play_video\",2\n\"problem_check\",1\n"
    );

    // No cell is a spreadsheet formula.
    let o = cairn(
        &home,
        &db,
        &[
            "query",
            "SELECT '=1+1' AS `@a`, -2 AS n, '-x' AS s FROM events LIMIT 1",
            "--format",
            "csv",
        ],
        &[],
        None,
    );
    assert_eq!(
        out(&o),
        "\"'@a\",\"n\",\"s\"\n\"'=1+1\",-2,\"'-x\"\n",
        "{}",
        err(&o)
    );

    let suite = ch.version();
    let o = cairn(
        &home,
        &db,
        &[
            "query",
            "SELECT count() AS n FROM events WHERE course_id = {c:String}",
            "--param",
            "c=course-v1:X+Y+Z",
            "--format",
            "csv",
        ],
        &[],
        None,
    );
    if suite.at_least(19, 3) {
        assert_eq!(out(&o), "\"n\"\n1\n", "{}", err(&o));
    } else {
        assert!(
            !o.status.success() && err(&o).contains("query parameters"),
            "{}",
            err(&o)
        );
    }

    let o = cairn(&home, &db, &["query", "SELECT nope FROM events"], &[], None);
    assert!(!o.status.success());
    assert!(
        err(&o).contains("Code: 47") && err(&o).contains("nope"),
        "{}",
        err(&o)
    );
    let o = cairn(
        &home,
        &db,
        &["query", "SELECT 1", "--param", "novalue"],
        &[],
        None,
    );
    assert!(err(&o).contains("expected NAME=VALUE"), "{}", err(&o));

    // The prompt: statements end with ';', span lines, errors do not end it.
    let o = cairn(
        &home,
        &db,
        &["client"],
        &[],
        Some("SELECT count() AS n\n  FROM events;\nSELECT nope;\nSELECT 'ok' AS s;\nexit\n"),
    );
    assert!(o.status.success(), "{}", err(&o));
    let text = out(&o);
    assert!(text.contains("n\n-\n3\n(1 row, "), "{text}");
    assert!(text.contains("s\n--\nok\n"), "{text}");
    assert!(err(&o).contains("error: Code: 47"), "{}", err(&o));

    // --as: the user's own ClickHouse user, or why not.
    let o = cairn(
        &home,
        &db,
        &["query", "SELECT 1", "--as", "teach"],
        &[],
        None,
    );
    assert!(!o.status.success());
    let why = err(&o);
    if suite.at_least(23, 8) {
        assert!(why.contains("CAIRN_EXPLORER_KEY is not set"), "{why}");
        let o = cairn(
            &home,
            &db,
            &["query", "SELECT 1", "--as", "nobody-here"],
            &[("CAIRN_EXPLORER_KEY", "k")],
            None,
        );
        assert!(
            err(&o).contains("refused the explorer's sign-in as openedx-nobody-here"),
            "{}",
            err(&o)
        );
    } else {
        assert!(why.contains("needs ClickHouse 23.8 or newer"), "{why}");
    }
    ch.drop_database().await.unwrap();
}
