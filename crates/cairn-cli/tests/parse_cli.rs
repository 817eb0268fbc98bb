//! `cairn parse` through the real binary.

use std::io::Write;
use std::process::{Command, Stdio};

const LOG: &str = r#"2023-05-23 14:12:17,308 INFO 7 [tracking] [user 6] [ip 172.18.0.1] logger.py:41 - {"name": "play_video", "context": {"user_id": 6, "course_id": "course-v1:A+B+C"}, "event": "{\"id\": \"v1\", \"currentTime\": 2}", "time": "2023-05-23T14:12:17.299491+00:00"}
2023-05-23 14:12:17,309 WARNING 7 [django.request] [user None] [ip None] log.py:241 - Not Found: /favicon.ico
2023-05-23 14:12:17,310 INFO 7 [tracking] [user 6] [ip 172.18.0.1] logger.py:41 - {"name": "broken", "context": "x": 1}
"#;

#[test]
fn parse_writes_rows_and_reports_each_line() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["parse", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(LOG.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["video_id"], "v1");
    assert_eq!(rows[0]["org"], "A");
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines[0], "-:2: not a tracking line");
    assert!(lines[1].starts_with("-:3: malformed JSON: "), "{stderr}");
    assert_eq!(
        lines.last().copied(),
        Some("parsed 1, rejected 1, skipped 1")
    );
}

#[test]
fn unreadable_file_fails_but_others_are_parsed() {
    let dir = std::env::temp_dir().join(format!("cairn-parse-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.log");
    std::fs::write(&good, LOG).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .arg("parse")
        .arg(dir.join("missing.log"))
        .arg(&good)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("missing.log: cannot read"), "{stderr}");
    assert!(
        stderr
            .trim_end()
            .ends_with("parsed 1, rejected 1, skipped 1"),
        "{stderr}"
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}
