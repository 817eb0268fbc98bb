//! Every `cairn report …` gives the same JSON on ClickHouse 18.16 and on 26.9 for the same
//! data: the same generated log, LMS state and course structure loaded into both live
//! servers through the real binary, then each report run on each and compared byte for
//! byte. It needs both servers whatever `CAIRN_TEST_CLICKHOUSE` names.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cairn_core::mysql::mysql_async::prelude::Queryable;
use cairn_core::testing;

fn cairn(config: &Path, db: &str, lms_db: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(args)
        .env("CAIRN_CONFIG", config)
        .env("CAIRN_CLICKHOUSE_DATABASE", db)
        .env("OPENEDX_MYSQL_DATABASE", lms_db)
        .output()
        .unwrap()
}

fn ok(o: Output, what: &str) -> String {
    assert!(
        o.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn server_config(version: &str) -> PathBuf {
    let p = testing::workspace_dir().join(format!(".cairn/cairn-{version}.toml"));
    assert!(
        p.exists(),
        "{} is missing: ./scripts/services start runs both servers",
        p.display()
    );
    p
}

#[tokio::test(flavor = "multi_thread")]
async fn every_report_gives_the_same_json_on_18_16_and_26_9() {
    let dir = std::env::temp_dir().join(format!("cairn-report-both-{}", std::process::id()));
    let gen_dir = dir.to_str().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["fixtures", "generate", "--out", gen_dir, "--seed", "5"])
        .args(["--learners", "60", "--courses", "2", "--days", "21"])
        .args(["--start", "2026-01-05", "--bad-every", "0"])
        .output()
        .unwrap();
    ok(out, "fixtures generate");
    let lms = testing::mysql_openedx("report_both_lms").await;
    let mut conn = cairn_core::mysql::connect(&lms).await.unwrap();
    conn.query_drop(std::fs::read_to_string(dir.join("lms-seed.sql")).unwrap())
        .await
        .unwrap();
    let db = testing::db_name("report_both");
    let course = "course-v1:CairnX+C01+2026_T1";
    // A learner enrolled who never came: in the roster, never seen.
    conn.query_drop(
        "INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined) \
         VALUES (9100, '!', 0, 'zz.never', '', '', 'never@example.org', 0, 1, '2026-01-02 00:00:00')",
    )
    .await
    .unwrap();
    conn.exec_drop(
        "INSERT INTO student_courseenrollment (course_id, created, is_active, mode, user_id) \
         VALUES (?, '2026-01-03 10:00:00', 1, 'verified', 9100)",
        (course,),
    )
    .await
    .unwrap();
    let range_json = [
        "--from",
        "2026-01-05",
        "--to",
        "2026-01-31",
        "--format",
        "json",
    ];
    fn with_range<'a>(args: &[&'a str], range: &[&'a str]) -> Vec<&'a str> {
        [args, range].concat()
    }
    let reports: Vec<Vec<&str>> = vec![
        with_range(
            &["report", "course-overview", "--course-id", course],
            &range_json,
        ),
        with_range(&["report", "learners", "--course-id", course], &range_json),
        vec![
            "report",
            "at-risk",
            "--course-id",
            course,
            "--days",
            "3",
            "--as-of",
            "2026-01-30T00:00:00",
            "--format",
            "json",
        ],
        with_range(&["report", "funnel", "--course-id", course], &range_json),
        with_range(
            &[
                "report",
                "hours",
                "--course-id",
                course,
                "--tz",
                "Asia/Kolkata",
            ],
            &range_json,
        ),
        with_range(&["report", "retention", "--course-id", course], &range_json),
    ];
    // What each output is: the reports' in order, then the video curve's.
    const NAMES: [&str; 7] = [
        "course-overview",
        "learners",
        "at-risk",
        "funnel",
        "hours",
        "retention",
        "video-curve",
    ];
    let mut results: Vec<Vec<String>> = Vec::new();
    for version in ["18.16", "26.9"] {
        let config = server_config(version);
        let run = |args: &[&str]| cairn(&config, &db, &lms.database, args);
        let status = ok(run(&["status"]), "status");
        assert!(status.contains(version), "{version}: {status}");
        let ch = {
            let cfg = cairn_core::Config::load(Some(&config)).unwrap();
            cairn_core::ClickHouse::connect(&cfg.clickhouse)
                .await
                .unwrap()
                .with_database(&db)
        };
        ch.drop_database().await.unwrap();
        ok(run(&["migrate", "up"]), "migrate up");
        ok(
            run(&["ingest", dir.join("tracking.log").to_str().unwrap()]),
            "ingest",
        );
        for c in ["C01", "C02"] {
            let olx = dir.join("courses").join(c);
            ok(
                run(&["import", "courses", "--olx", olx.to_str().unwrap()]),
                "import courses",
            );
        }
        let mut outs: Vec<String> = reports
            .iter()
            .map(|args| {
                let o = run(args);
                let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
                assert!(
                    !stderr.contains("note:"),
                    "{version}: a known course: {stderr}"
                );
                ok(o, &args.join(" "))
            })
            .collect();
        // A course key the lake does not know (here mistyped in case) still gets its
        // (empty) report, and a note on stderr naming the course it resembles.
        let typo = "course-v1:cairnx+C01+2026_T1";
        let o = run(&["report", "at-risk", "--course-id", typo, "--format", "json"]);
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(ok(o, "at-risk of a mistyped course"), "[]");
        assert!(
            stderr.contains(&format!(
                "has no events and no imported structure for {typo}"
            )) && stderr.contains(&format!("did you mean {course}?")),
            "{version}: {stderr}"
        );
        let o = run(&[
            "report",
            "navigation",
            "--course-id",
            "course-v1:No+Such+Course",
        ]);
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        ok(o, "navigation of an unknown course");
        assert!(
            stderr.contains(&format!(
                "its courses: {course}, course-v1:CairnX+C02+2026_T1"
            )),
            "{version}: {stderr}"
        );
        // The hours of the week as a table: a day per line, an hour per column; a zone
        // that is not one is refused, saying what to give.
        let hours = ok(
            run(&[
                "report",
                "hours",
                "--course-id",
                course,
                "--from",
                "2026-01-05",
            ]),
            "hours",
        );
        let lines: Vec<&str> = hours.lines().collect();
        assert!(lines[0].contains("(UTC), 2026-01-05 to"), "{hours}");
        assert!(
            lines[1]
                .split_whitespace()
                .eq((0..24).map(|h| h.to_string())),
            "{hours}"
        );
        let days: Vec<&str> = lines[2..].iter().map(|l| &l[..3]).collect();
        assert_eq!(
            days,
            ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
            "{hours}"
        );
        assert!(
            lines[2..]
                .iter()
                .all(|l| l.split_whitespace().count() == 25),
            "{hours}"
        );
        // Retention as a table: a cohort per line, then its weeks' shares.
        let kept = ok(
            run(&[
                "report",
                "retention",
                "--course-id",
                course,
                "--from",
                "2026-01-01",
            ]),
            "retention",
        );
        let lines: Vec<&str> = kept.lines().collect();
        assert!(
            lines[0].contains("per week of enrollment, 2026-01-01 to"),
            "{kept}"
        );
        assert!(
            lines[1].starts_with("enrolled in the week of  learners  week 0  week 1"),
            "{kept}"
        );
        assert!(
            lines[2].starts_with("2025-12-29 ") && lines[2].ends_with('%'),
            "{kept}"
        );
        let o = run(&[
            "report",
            "hours",
            "--course-id",
            course,
            "--tz",
            "Mars/Base",
        ]);
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(
            !o.status.success() && stderr.contains("unknown time zone \"Mars/Base\""),
            "{stderr}"
        );
        let roster: Vec<serde_json::Value> = serde_json::from_str(&outs[1]).unwrap();
        let never = roster.last().unwrap();
        assert_eq!(
            (
                &never["username"],
                &never["enrollment_mode"],
                &never["enrolled_on"]
            ),
            (&"zz.never".into(), &"verified".into(), &"2026-01-03".into()),
            "{version}: sorted by username, the last"
        );
        assert_eq!(
            (
                &never["last_seen"],
                &never["active_days"],
                &never["time_spent"]
            ),
            (&"".into(), &0.into(), &0.into()),
            "{version}: never seen"
        );
        assert!(roster.iter().any(|l| l["active_days"].as_u64() > Some(0)));
        // How far they got: the learner never seen is enrolled, not started.
        let funnel: serde_json::Value = serde_json::from_str(&outs[3]).unwrap();
        assert_eq!(
            funnel["enrolled"].as_u64(),
            Some(roster.len() as u64),
            "{funnel}"
        );
        let seen = roster.iter().filter(|l| l["last_seen"] != "").count() as u64;
        assert_eq!(funnel["started"].as_u64(), Some(seen), "{funnel}");
        assert!(seen < roster.len() as u64, "{funnel}");
        // The video curve of the course's first video, named by the overview.
        let overview: serde_json::Value = serde_json::from_str(&outs[0]).unwrap();
        let video = overview["videos"][0]["video_id"]
            .as_str()
            .unwrap_or_else(|| panic!("{version}: no video in {overview}"))
            .to_owned();
        let curve = with_range(
            &[
                "report",
                "video-curve",
                "--course-id",
                course,
                "--video-id",
                &video,
            ],
            &range_json,
        );
        outs.push(ok(run(&curve), "video-curve"));
        assert_eq!(outs.len(), NAMES.len());
        for (o, what) in outs.iter().zip(NAMES) {
            let v: serde_json::Value = serde_json::from_str(o).unwrap();
            let has_rows = match &v {
                serde_json::Value::Array(a) => !a.is_empty(),
                serde_json::Value::Object(m) => m
                    .values()
                    .all(|x| x.as_array().is_none_or(|a| !a.is_empty())),
                _ => false,
            };
            assert!(has_rows, "{version}: {what} has empty parts: {o}");
        }
        ch.drop_database().await.unwrap();
        results.push(outs);
    }
    for (i, what) in NAMES.iter().enumerate() {
        assert_eq!(
            results[0][i], results[1][i],
            "{what}: 18.16 (left) and 26.9 (right) differ"
        );
    }
    conn.query_drop(format!("DROP DATABASE `{}`", lms.database))
        .await
        .unwrap();
    std::fs::remove_dir_all(&dir).ok();
}
