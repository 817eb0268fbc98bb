//! `cairn migrate up` and `cairn ingest -` through the real binary, on the real ClickHouse.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn cairn(args: &[&str], db: &str, stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cairn"));
    cmd.args(args)
        .env(
            "CAIRN_CONFIG",
            cairn_core::testing::config_path().expect("the local services' configuration"),
        )
        .env("CAIRN_CLICKHOUSE_DATABASE", db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(data) = stdin {
        input.write_all(data).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn ingest_from_stdin_twice_stores_each_event_once() {
    let ch = cairn_core::testing::clickhouse("cli_ingest_stdin").await;
    let db = ch.database().to_owned();
    let out = cairn(&["migrate", "up"], &db, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut log = String::new();
    for i in 0..25 {
        log.push_str(&format!(
            "{{\"log\":\"2024-01-01 00:00:{i:02},000 INFO 7 [tracking] [user 1] [ip 1.2.3.4] logger.py:41 - {{\\\"name\\\": \\\"seq_goto\\\", \\\"context\\\": {{\\\"user_id\\\": 1, \\\"course_id\\\": \\\"course-v1:A+B+C\\\"}}, \\\"time\\\": \\\"2024-01-01T00:00:{i:02}.5+00:00\\\"}}\\n\",\"stream\":\"stderr\",\"time\":\"2024-01-01T00:00:{i:02}.6Z\"}}\n"
        ));
    }
    for run in 0..2 {
        let out = cairn(&["ingest", "-", "--json"], &db, Some(log.as_bytes()));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        // The second run says that it goes on where the first one stopped.
        let said = format!(
            "standard input: its first {} bytes were stored by an earlier run",
            log.len()
        );
        assert_eq!(stderr.contains(&said), run == 1, "run {run}: {stderr}");
    }
    let n: u64 = ch
        .client()
        .query("SELECT count() FROM _events")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(n, 25);
    let orgs: Vec<String> = ch
        .client()
        .query("SELECT DISTINCT org FROM _events")
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(orgs, vec!["A".to_string()]);
    ch.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn report_course_overview_as_csv() {
    let ch = cairn_core::testing::clickhouse("cli_report").await;
    let db = ch.database().to_owned();
    assert!(cairn(&["migrate", "up"], &db, None).status.success());
    let mut log = String::new();
    for (i, user) in [1, 2, 2].iter().enumerate() {
        log.push_str(&format!("{{\"name\": \"play_video\", \"event_type\": \"play_video\", \"context\": {{\"user_id\": {user}, \"course_id\": \"course-v1:A+B+C\"}}, \"event\": {{\"id\": \"v\", \"currentTime\": {i}}}, \"time\": \"2026-01-0{}T10:00:00+00:00\"}}\n", 5 + i));
    }
    assert!(
        cairn(&["ingest", "-"], &db, Some(log.as_bytes()))
            .status
            .success()
    );
    // `cairn report course-overview` of the test's course from `from` through `to`.
    let overview = |from: &str, to: &str, format: &str| {
        cairn(
            &[
                "report",
                "course-overview",
                "--course-id",
                "course-v1:A+B+C",
                "--from",
                from,
                "--to",
                to,
                "--format",
                format,
            ],
            &db,
            None,
        )
    };
    let out = overview("2026-01-05", "2026-01-18", "csv");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // No enrollments in the LMS database for this course: enrolled 0. The events are a
    // day or more apart: no time spent. The range's second week, without activity, is a
    // row of zeros.
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with(
            "# Weekly engagement (time in seconds)\n\
             week,enrolled,active,watched_video,tried_problem,time_spent,avg_time_spent\n\
             2026-01-05,0,2,2,0,0,0.0\n\
             2026-01-12,0,0,0,0,0,0.0\n\n# Progress per unit\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("# Grade distribution\nfrom_percent,to_percent,learners,passed\n0,10,0,0\n")
    );
    // --to is the last day, included: one day is --from D --to D.
    for (last, active) in [("2026-01-05", 1), ("2026-01-06", 2)] {
        let out = overview("2026-01-05", last, "json");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["to"], last, "the JSON's `to` is the last day too");
        assert_eq!(v["weekly"][0]["active"], active, "--to {last}: {v}");
    }
    let bad = cairn(
        &["report", "course-overview", "--course-id", "not a key"],
        &db,
        None,
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid course key"));
    let backwards = overview("2026-01-19", "2026-01-05", "table");
    assert!(!backwards.status.success());
    assert!(
        String::from_utf8_lossy(&backwards.stderr)
            .contains("cairn: the range is empty: --from 2026-01-19 is after --to 2026-01-05"),
        "{}",
        String::from_utf8_lossy(&backwards.stderr)
    );
    ch.drop_database().await.unwrap();
}
