//! E-mail reports through the real binary (`cairn reports …`), on the suite's ClickHouse
//! server, MariaDB as the LMS and a real SMTP server (aiosmtpd, Debian's
//! python3-aiosmtpd, via scripts/smtp_server.py: STARTTLS required with a certificate
//! from the test CA, AUTH required): each test has its own SMTP server, folder and
//! databases.
//!
//! The generated data covers three ISO weeks from Monday 2026-01-05; "now" is Monday
//! 2026-01-26 08:05 UTC, so a weekly schedule's period reports the week of 2026-01-19
//! against the week of 2026-01-12.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use cairn_core::ClickHouse;
use cairn_core::mysql::mysql_async::prelude::Queryable;
use cairn_core::testing;
use cairn_fixtures::{Spec, courses, generate, import_courses};
use cairn_import::ingest::{IngestOptions, Input, LogPublishes, ingest};
use chrono::NaiveDate;
use mail_parser::{MessageParser, MimeHeaders};

const C1: &str = "course-v1:CairnX+C01+2026_T1";
const C2: &str = "course-v1:CairnX+C02+2026_T1";
const NOW: &str = "2026-01-26T08:05:00Z";
const SINCE: &str = "2026-01-20T00:00:00Z";
const SMTP_USER: &str = "cairn";

/// The certificates and password `scripts/services start` made.
fn smtp_files() -> (PathBuf, PathBuf) {
    let state = testing::workspace_dir().join(".cairn");
    let smtp = state.join("smtp");
    assert!(
        smtp.join("server.pem").exists(),
        "no test CA in {}: run ./scripts/services start",
        smtp.display()
    );
    (smtp, state.join("secrets").join("smtp-password"))
}

/// A real SMTP server of the test's own.
struct Smtp {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Smtp {
    fn start(extra: &[&str]) -> Smtp {
        Smtp::start_with("server", extra)
    }

    /// `cert`: `server` (signed by the test CA) or `selfsigned`.
    fn start_with(cert: &str, extra: &[&str]) -> Smtp {
        let (smtp, password) = smtp_files();
        let port = testing::free_port();
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new("/usr/bin/python3")
            .arg(testing::workspace_dir().join("scripts/smtp_server.py"))
            .args(["--port", &port.to_string(), "--dir"])
            .arg(dir.path())
            .arg("--cert")
            .arg(smtp.join(format!("{cert}.pem")))
            .arg("--key")
            .arg(smtp.join(format!("{cert}.key")))
            .args(["--user", SMTP_USER, "--password-file"])
            .arg(&password)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 scripts/smtp_server.py (Debian's python3-aiosmtpd)");
        let t = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(15),
                "the SMTP server did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Smtp { child, port, dir }
    }

    /// The messages received, oldest first.
    fn messages(&self) -> Vec<Received> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|f| serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap())
            .collect()
    }

    fn env(&self) -> Vec<(String, String)> {
        let (smtp, password) = smtp_files();
        vec![
            ("SMTP_HOST".into(), "127.0.0.1".into()),
            ("SMTP_PORT".into(), self.port.to_string()),
            ("SMTP_USERNAME".into(), SMTP_USER.into()),
            ("SMTP_PASSWORD_FILE".into(), password.display().to_string()),
            ("SMTP_USE_TLS".into(), "true".into()),
            ("SMTP_USE_SSL".into(), "false".into()),
            (
                "CAIRN_SMTP_CA_FILE".into(),
                smtp.join("ca.pem").display().to_string(),
            ),
            (
                "CAIRN_REPORTS_FROM".into(),
                "Cairn <reports@cairn.test>".into(),
            ),
            ("CAIRN_DASHBOARD_URL".into(), "https://data.lms.test".into()),
        ]
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

#[derive(serde::Deserialize, Debug, Clone)]
struct Received {
    rcpt_tos: Vec<String>,
    tls: bool,
    login: Option<String>,
    data: String,
}

/// What a received message holds.
#[derive(Debug)]
struct Mail {
    to: Vec<String>,
    subject: String,
    message_id: String,
    html: String,
    text: String,
    /// Attachments: name and content (CSV files).
    csv: Vec<(String, String)>,
    /// Inline PNG images.
    pngs: Vec<Vec<u8>>,
}

fn parse(r: &Received) -> Mail {
    let m = MessageParser::default().parse(r.data.as_bytes()).unwrap();
    let mut csv = Vec::new();
    let mut pngs = Vec::new();
    for a in m.attachments() {
        let ct = a
            .content_type()
            .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("")))
            .unwrap_or_default();
        if ct == "image/png" {
            pngs.push(a.contents().to_vec());
        } else if ct == "text/csv" {
            csv.push((
                a.attachment_name().unwrap_or("").to_owned(),
                String::from_utf8_lossy(a.contents()).into_owned(),
            ));
        }
    }
    Mail {
        to: r.rcpt_tos.clone(),
        subject: m.subject().unwrap_or("").to_owned(),
        message_id: m.message_id().unwrap_or("").to_owned(),
        html: m.body_html(0).map(|s| s.into_owned()).unwrap_or_default(),
        text: m.body_text(0).map(|s| s.into_owned()).unwrap_or_default(),
        csv,
        pngs,
    }
}

/// The data lake and LMS of one test.
struct Lake {
    ch: ClickHouse,
    db: String,
    lms: String,
    lms_admin: cairn_core::config::MysqlConfig,
    spec: Spec,
    _dir: tempfile::TempDir,
}

/// LMS accounts of the tests: teacher1 (staff of C01), teacher2 (instructor of C02, no
/// identities), boss (global staff), nobody (no role), gone (staff of C01, inactive).
async fn lake(test: &str) -> Lake {
    let dir = tempfile::tempdir().unwrap();
    let spec = Spec {
        seed: 19,
        learners: 60,
        courses: 2,
        days: 21,
        start: NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(),
        bad_every: 0,

        ..Spec::default()
    };
    let truth = generate(&spec, dir.path()).unwrap();
    let lms = testing::mysql_openedx(test).await;
    let mut conn = cairn_core::mysql::connect(&lms).await.unwrap();
    conn.query_drop(std::fs::read_to_string(dir.path().join("lms-seed.sql")).unwrap())
        .await
        .unwrap();
    for (id, name, staff, active) in [
        (100001, "teacher1", 0, 1),
        (100002, "teacher2", 0, 1),
        (100003, "boss", 1, 1),
        (100004, "nobody", 0, 1),
        (100005, "gone", 0, 0),
    ] {
        conn.exec_drop(
            "INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined) \
             VALUES (?, '!', 0, ?, '', '', ?, ?, ?, '2025-01-01')",
            (id, name, format!("{name}@example.org"), staff, active),
        )
        .await
        .unwrap();
    }
    for (user, course, role) in [
        (100001, C1, "staff"),
        (100002, C2, "instructor"),
        (100005, C1, "staff"),
    ] {
        conn.exec_drop(
            "INSERT INTO student_courseaccessrole (org, course_id, role, user_id) VALUES ('CairnX', ?, ?, ?)",
            (course, role, user),
        )
        .await
        .unwrap();
    }
    conn.disconnect().await.ok();
    let mut config = testing::config();
    config.mysql.database = lms.database.clone();
    let ch = cairn_migrate::testing::data_lake_with(test, config).await;
    let s = ingest(
        &ch,
        vec![Input::Path(dir.path().join("tracking.log"))],
        &IngestOptions::default(),
        Box::new(LogPublishes),
    )
    .await
    .unwrap();
    assert_eq!(s.inserted, truth.events);
    import_courses(&ch, dir.path(), &courses(&spec))
        .await
        .unwrap();
    // teacher2 may not see learner identities (cairn createuser --no-identities).
    cairn_acl::logins::record_login(&ch, "teacher2", "", false)
        .await
        .unwrap();
    Lake {
        db: ch.database().to_owned(),
        ch,
        lms: lms.database.clone(),
        lms_admin: lms,
        spec,
        _dir: dir,
    }
}

impl Lake {
    fn cairn(&self, smtp: &Smtp, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cairn"));
        cmd.args(args)
            .env("CAIRN_CONFIG", testing::config_path().unwrap())
            .env("CAIRN_CLICKHOUSE_DATABASE", &self.db)
            .env("OPENEDX_MYSQL_DATABASE", &self.lms)
            .env("CAIRN_REPORTS_TIMEZONE", "UTC")
            .env_remove("FAILPOINTS")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in smtp.env() {
            cmd.env(k, v);
        }
        cmd
    }

    fn run(&self, smtp: &Smtp, args: &[&str]) -> Output {
        self.cairn(smtp, args).output().unwrap()
    }

    /// `cairn reports add …` starting at [`SINCE`]; the new schedule's id.
    fn add(&self, smtp: &Smtp, args: &[&str]) -> String {
        let mut all = vec!["reports", "add", "--since", SINCE];
        all.extend_from_slice(args);
        let o = self.run(smtp, &all);
        assert!(o.status.success(), "{}", text(&o));
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        out.split_whitespace()
            .nth(1)
            .unwrap()
            .trim_end_matches(':')
            .to_owned()
    }

    fn run_due(&self, smtp: &Smtp, now: &str) -> Output {
        self.run(smtp, &["reports", "run-due", "--now", now, "--wait", "90"])
    }
}

async fn strings(ch: &ClickHouse, sql: &str) -> Vec<String> {
    ch.client().query(sql).fetch_all::<String>().await.unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `cairn report course-overview --format json`'s weekly rows for a course.
fn overview_weeks(lake: &Lake, smtp: &Smtp, course: &str) -> Vec<serde_json::Value> {
    let o = lake.run(
        smtp,
        &[
            "report",
            "course-overview",
            "--course-id",
            course,
            "--from",
            "2025-12-01",
            "--to",
            "2026-01-25",
            "--format",
            "json",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["weekly"].as_array().unwrap().clone()
}

fn week<'a>(weeks: &'a [serde_json::Value], monday: &str) -> &'a serde_json::Value {
    weeks
        .iter()
        .find(|w| w["week"] == monday)
        .unwrap_or_else(|| panic!("no week {monday}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn run_due_sends_each_recipient_their_courses_once_per_period() {
    let lake = lake("reports_due").await;
    let smtp = Smtp::start(&[]);
    let staff = lake.add(&smtp, &["--org", "CairnX", "--to", "course-staff"]);
    let boss = lake.add(
        &smtp,
        &[
            "--course-id",
            C1,
            "--to",
            "boss@example.org,nobody@example.org,stranger@example.org",
        ],
    );

    // Before the first Monday 08:00 after the schedules were added: nothing due.
    let o = lake.run_due(&smtp, "2026-01-25T12:00:00Z");
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("nothing due"), "{}", text(&o));
    assert!(smtp.messages().is_empty());

    let o = lake.run_due(&smtp, NOW);
    assert!(o.status.success(), "{}", text(&o));
    let got = smtp.messages();
    let mails: Vec<Mail> = got.iter().map(parse).collect();
    let to: Vec<&str> = mails.iter().map(|m| m.to[0].as_str()).collect();
    let mut sorted = to.clone();
    sorted.sort();
    // teacher1 and teacher2 (the org's course staff; the inactive "gone" is not), boss;
    // nobody may see nothing and stranger has no LMS account: both skipped, with reasons.
    assert_eq!(
        sorted,
        [
            "boss@example.org",
            "teacher1@example.org",
            "teacher2@example.org"
        ],
        "{}",
        text(&o)
    );
    let out = text(&o);
    assert!(
        out.contains("skipped") && out.contains("nobody may see none of the schedule's courses"),
        "{out}"
    );
    assert!(
        out.contains("stranger@example.org: ") && out.contains("no active LMS account"),
        "{out}"
    );
    for r in &got {
        assert!(r.tls, "STARTTLS was used");
        assert_eq!(r.login.as_deref(), Some(SMTP_USER));
    }
    let by = |who: &str| mails.iter().find(|m| m.to[0] == who).unwrap();

    // A course-staff recipient gets only their course.
    let t1 = by("teacher1@example.org");
    assert!(!t1.html.contains(C2) && !t1.text.contains(C2));
    // The course by its name (from the imported structure), and its key beside it.
    assert_eq!(
        t1.subject,
        "Weekly report: Cairn Course 01 (week of 2026-01-19)"
    );
    assert!(
        t1.text.contains(&format!("== Cairn Course 01 ({C1}) ==")),
        "{}",
        t1.text
    );
    assert!(
        t1.html.contains(&format!(">Cairn Course 01 ({C1})</h2>")),
        "{}",
        t1.html
    );
    let t2 = by("teacher2@example.org");
    assert!(t2.html.contains(C2) && !t2.html.contains(C1) && !t2.text.contains(C1));
    // The numbers in the HTML and CSV equal cairn report course-overview's for the week.
    let weeks = overview_weeks(&lake, &smtp, C1);
    let this = week(&weeks, "2026-01-19");
    let before = week(&weeks, "2026-01-12");
    for (name, key) in [
        ("Enrolled", "enrolled"),
        ("Active learners", "active"),
        ("Watched a video", "watched_video"),
        ("Tried a problem", "tried_problem"),
    ] {
        let row = format!(
            "<td>{name}</td><td align=\"right\" class=\"this\">{}</td><td align=\"right\" class=\"before\">{}</td>",
            this[key], before[key]
        );
        assert!(
            t1.html.contains(&row),
            "{row} not in the HTML:\n{}",
            t1.html
        );
        assert!(
            t1.text.contains(&format!(
                "{name}: {} (week before: {}",
                this[key], before[key]
            )),
            "{name} in the text"
        );
    }
    let hours = this["time_spent"].as_u64().unwrap() as f64 / 3600.0;
    assert!(
        t1.html.contains(&format!("class=\"this\">{hours:.1}</td>")),
        "time spent {hours:.1}"
    );
    // How far the learners got, the week's activity: cairn report funnel's numbers.
    let o = lake.run(
        &smtp,
        &[
            "report",
            "funnel",
            "--course-id",
            C1,
            "--from",
            "2026-01-19",
            "--to",
            "2026-01-25",
            "--format",
            "json",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let f: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let line = format!(
        "How far the {} enrolled learners got: {} seen in the course, {} active during the week, \
         {} completed a component, {} half of them, {} every one; {} passed.",
        f["enrolled"],
        f["started"],
        f["active"],
        f["progressed"],
        f["halfway"],
        f["completed"],
        f["passed"]
    );
    assert!(
        t1.text.contains(&line) && t1.html.contains(&line),
        "{line}\n{}",
        t1.text
    );
    assert!(
        f["active"].as_u64() > Some(0) && f["active"] != f["enrolled"],
        "{f}"
    );
    let weekly_csv = &t1
        .csv
        .iter()
        .find(|(n, _)| n.ends_with("-weekly.csv"))
        .unwrap()
        .1;
    let mut rows = csv::Reader::from_reader(weekly_csv.as_bytes());
    let csv_rows: Vec<serde_json::Value> = rows
        .deserialize::<std::collections::BTreeMap<String, String>>()
        .map(|r| serde_json::to_value(r.unwrap()).unwrap())
        .collect();
    assert_eq!(
        csv_rows.len(),
        weeks.len(),
        "one CSV row per week of the overview"
    );
    for (c, w) in csv_rows.iter().zip(&weeks) {
        for k in [
            "week",
            "enrolled",
            "active",
            "watched_video",
            "tried_problem",
            "time_spent",
        ] {
            assert_eq!(
                c[k].as_str().unwrap(),
                w[k].to_string().trim_matches('"'),
                "{k} of {}",
                w["week"]
            );
        }
    }
    // A chart drawn by the program, inline.
    assert_eq!(t1.pngs.len(), 1);
    assert_eq!(&t1.pngs[0][..8], b"\x89PNG\r\n\x1a\n");
    assert!(t1.html.contains("cid:chart-0@cairn"));
    // minijinja escapes '/' in HTML as &#x2f;.
    assert!(
        t1.html
            .replace("&#x2f;", "/")
            .contains(&format!("href=\"https://data.lms.test/#{C1}\""))
    );
    // Identities only when allowed: teacher1 gets the newly at-risk list, teacher2 not.
    let at_risk = |m: &Mail| m.csv.iter().any(|(n, _)| n.ends_with("-newly-at-risk.csv"));
    assert!(at_risk(t1));
    assert!(!at_risk(t2));
    assert!(t2.html.contains("Learner identities are not shown to you"));
    assert!(
        !t2.html.contains("@example") && !t2.text.contains("learner0"),
        "no learner name or address for teacher2"
    );
    // The global staff member's report of the one course of its schedule.
    assert!(by("boss@example.org").html.contains(C1));

    // A second run in the same period sends nothing.
    let o = lake.run_due(&smtp, "2026-01-26T09:00:00Z");
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(smtp.messages().len(), 3, "{}", text(&o));
    // The next period sends again, once more each.
    let o = lake.run_due(&smtp, "2026-02-02T08:00:00Z");
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(smtp.messages().len(), 6, "{}", text(&o));
    // A sender down for three weeks catches up once, not once per missed period.
    let o = lake.run_due(&smtp, "2026-02-25T08:00:00Z");
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(smtp.messages().len(), 9, "{}", text(&o));

    let o = lake.run(&smtp, &["reports", "list", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let listed: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let of = |id: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(of(&staff)["last_states"]["sent"], 2);
    assert_eq!(of(&boss)["last_states"]["sent"], 1);
    assert_eq!(of(&boss)["last_states"]["skipped"], 2);
    lake.ch.drop_database().await.unwrap();
    testing::drop_mysql(&lake.lms).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_concurrent_senders_send_once() {
    let lake = lake("reports_concurrent").await;
    let smtp = Smtp::start(&[]);
    lake.add(
        &smtp,
        &["--course-id", C1, "--to", "course-staff,boss@example.org"],
    );
    let a = lake
        .cairn(&smtp, &["reports", "run-due", "--now", NOW, "--wait", "90"])
        .spawn()
        .unwrap();
    let b = lake
        .cairn(&smtp, &["reports", "run-due", "--now", NOW, "--wait", "90"])
        .spawn()
        .unwrap();
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(
        a.status.success() && b.status.success(),
        "{}\n{}",
        text(&a),
        text(&b)
    );
    let to: Vec<String> = smtp
        .messages()
        .iter()
        .map(|r| r.rcpt_tos[0].clone())
        .collect();
    assert_eq!(to.len(), 2, "{to:?}\n{}\n{}", text(&a), text(&b));
    assert!(to.contains(&"teacher1@example.org".into()) && to.contains(&"boss@example.org".into()));
    lake.ch.drop_database().await.unwrap();
    testing::drop_mysql(&lake.lms).await;
}

/// Killed between the SMTP server's acceptance and the record of it: the next run sends
/// the message again with the same Message-ID (the window the README states), and then
/// never again. Killed before sending anything: the next run sends once.
#[tokio::test(flavor = "multi_thread")]
async fn a_sender_killed_between_send_and_record_resends_with_the_same_message_id() {
    let lake = lake("reports_killed").await;
    let smtp = Smtp::start(&[]);
    lake.add(&smtp, &["--course-id", C1, "--to", "course-staff"]);
    let mut child = lake
        .cairn(&smtp, &["reports", "run-due", "--now", NOW])
        .env("FAILPOINTS", "reports::after-send=sleep(120000)")
        .spawn()
        .unwrap();
    let t = Instant::now();
    while smtp.messages().is_empty() {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "no message reached the SMTP server"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the sender ended early"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The server has the message; the sender has not recorded it yet.
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    const STATES: &str = "SELECT state FROM _report_sends ORDER BY seq";
    assert_eq!(strings(&lake.ch, STATES).await, ["sending"]);
    // The next run (after the dead sender's lock expires) sends it again, same Message-ID.
    let o = lake.run_due(&smtp, "2026-01-26T08:30:00Z");
    assert!(o.status.success(), "{}", text(&o));
    let mails: Vec<Mail> = smtp.messages().iter().map(parse).collect();
    assert_eq!(mails.len(), 2, "{}", text(&o));
    assert_eq!(mails[0].message_id, mails[1].message_id);
    assert!(
        mails[0].message_id.starts_with("cairn.") && mails[0].message_id.ends_with("@cairn.test"),
        "{}",
        mails[0].message_id
    );
    assert_eq!(
        strings(&lake.ch, STATES).await,
        ["sending", "sending", "sent"]
    );
    // And never again.
    let o = lake.run_due(&smtp, "2026-01-26T09:00:00Z");
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(smtp.messages().len(), 2);
    lake.ch.drop_database().await.unwrap();
    testing::drop_mysql(&lake.lms).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_and_bad_input_are_clear_and_half_record_nothing() {
    let lake = lake("reports_errors").await;
    let smtp = Smtp::start(&["--refuse", "teacher1@example.org"]);
    for (args, wanted) in [
        (
            vec![
                "--course-id",
                "course-v1:No+Such+Course",
                "--to",
                "course-staff",
            ],
            "unknown course",
        ),
        (
            vec!["--org", "NoSuchOrg", "--to", "course-staff"],
            "no known course of org",
        ),
        (
            vec!["--course-id", C1, "--to", "not an address"],
            "invalid e-mail address",
        ),
        (
            vec![
                "--course-id",
                C1,
                "--to",
                "course-staff",
                "--schedule",
                "every monday",
            ],
            "invalid schedule",
        ),
        (
            vec![
                "--course-id",
                C1,
                "--to",
                "course-staff",
                "--schedule",
                "0 25 * * *",
            ],
            "invalid schedule",
        ),
        (
            vec![
                "--course-id",
                C1,
                "--to",
                "course-staff",
                "--timezone",
                "Mars/Olympus",
            ],
            "unknown time zone",
        ),
        (
            vec!["--all-visible", "--to", "course-staff"],
            "course-staff needs a course or an org",
        ),
    ] {
        let mut all = vec!["reports", "add"];
        all.extend(args.iter());
        let o = lake.run(&smtp, &all);
        assert!(!o.status.success(), "{args:?} was accepted");
        assert!(text(&o).contains(wanted), "{args:?}: {}", text(&o));
    }
    let schedules = strings(&lake.ch, "SELECT id FROM _report_schedules").await;
    assert!(schedules.is_empty(), "nothing half-recorded");
    let o = lake.run(&smtp, &["reports", "remove", "r-nosuch"]);
    assert!(!o.status.success() && text(&o).contains("no report schedule r-nosuch"));

    // An SMTP server that refuses the recipient: failed, reported, retried with backoff.
    let id = lake.add(&smtp, &["--course-id", C1, "--to", "course-staff"]);
    let o = lake.run_due(&smtp, NOW);
    assert!(!o.status.success(), "a failed send fails the run");
    assert!(
        text(&o).contains("failed") && text(&o).contains("550"),
        "{}",
        text(&o)
    );
    let o = lake.run(&smtp, &["reports", "list"]);
    assert!(
        text(&o).contains("1 failed") && text(&o).contains("550"),
        "{}",
        text(&o)
    );
    let o = lake.run_due(&smtp, "2026-01-26T08:05:30Z");
    assert!(
        text(&o).contains("waiting") && text(&o).contains("next attempt at 2026-01-26 08:06:00"),
        "{}",
        text(&o)
    );
    // A wrong password, and a server whose certificate no trusted CA signed: clear errors.
    let o = lake
        .cairn(&smtp, &["reports", "send-now", &id])
        .env("SMTP_PASSWORD_FILE", "/dev/null")
        .output()
        .unwrap();
    assert!(
        !o.status.success()
            && text(&o).contains("SMTP_PASSWORD")
            && text(&o).contains("SMTP_USERNAME is set"),
        "{}",
        text(&o)
    );
    let wrong = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(wrong.path(), "not-the-password").unwrap();
    let o = lake
        .cairn(&smtp, &["reports", "send-now", &id])
        .env("SMTP_PASSWORD_FILE", wrong.path())
        .output()
        .unwrap();
    assert!(
        !o.status.success() && text(&o).contains("535"),
        "{}",
        text(&o)
    );
    let untrusted = Smtp::start_with("selfsigned", &[]);
    let o = lake.run(&untrusted, &["reports", "send-now", &id]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("CAIRN_SMTP_CA_FILE"), "{}", text(&o));
    assert!(untrusted.messages().is_empty());
    // No STARTTLS offered by the client config, but the server requires it: refused.
    let o = lake
        .cairn(&smtp, &["reports", "send-now", &id])
        .env("SMTP_USE_TLS", "false")
        .output()
        .unwrap();
    assert!(!o.status.success(), "{}", text(&o));
    assert!(smtp.messages().is_empty());
    lake.ch.drop_database().await.unwrap();
    testing::drop_mysql(&lake.lms).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn send_now_and_implicit_tls() {
    let lake = lake("reports_send_now").await;
    let smtp = Smtp::start(&["--implicit-tls"]);
    let id = lake.add(
        &smtp,
        &[
            "--course-id",
            C2,
            "--to",
            "course-staff",
            "--schedule",
            "30 7 * * 1-5",
            "--timezone",
            "Europe/Paris",
        ],
    );
    let o = lake
        .cairn(&smtp, &["reports", "send-now", &id, "--now", NOW])
        .env("SMTP_USE_TLS", "false")
        .env("SMTP_USE_SSL", "true")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let got = smtp.messages();
    assert_eq!(got.len(), 1);
    assert!(got[0].tls);
    assert_eq!(got[0].rcpt_tos, ["teacher2@example.org"]);
    // One address, no zone given: the recipient's LMS time zone preference.
    let mut conn = cairn_core::mysql::connect(&lake.lms_admin).await.unwrap();
    conn.query_drop("INSERT INTO user_api_userpreference (`key`, `value`, user_id) VALUES ('time_zone', 'America/Sao_Paulo', 100003)")
        .await
        .unwrap();
    conn.disconnect().await.ok();
    let own = lake.add(&smtp, &["--course-id", C1, "--to", "boss@example.org"]);
    let platform = lake.add(&smtp, &["--course-id", C1, "--to", "teacher1@example.org"]);
    let o = lake.run(&smtp, &["reports", "list", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let zone = |id: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap()["timezone"]
            .clone()
    };
    assert_eq!(zone(&own), "America/Sao_Paulo");
    assert_eq!(zone(&platform), "UTC");
    let listed = lake.run(&smtp, &["reports", "list"]);
    assert!(
        text(&listed).contains(&id) && text(&listed).contains("Europe/Paris"),
        "{}",
        text(&listed)
    );
    let o = lake.run(&smtp, &["reports", "remove", &id]);
    assert!(o.status.success(), "{}", text(&o));
    let listed = lake.run(&smtp, &["reports", "list"]);
    assert!(!text(&listed).contains(&id));
    lake.ch.drop_database().await.unwrap();
    testing::drop_mysql(&lake.lms).await;
}

/// `cairn serve` sends due reports itself (CAIRN_REPORTS_INTERVAL), once per period, also
/// with a second dashboard process running beside it.
#[tokio::test(flavor = "multi_thread")]
async fn cairn_serve_sends_due_reports_itself_once() {
    let lake = lake("reports_serve").await;
    let smtp = Smtp::start(&[]);
    // Yearly on 1 January, added before the last one: that period is due now.
    let mut add = vec!["reports", "add", "--since", "2025-12-01T00:00:00Z"];
    add.extend([
        "--course-id",
        C1,
        "--to",
        "course-staff",
        "--schedule",
        "0 0 1 1 *",
    ]);
    let o = lake.run(&smtp, &add);
    assert!(o.status.success(), "{}", text(&o));
    let serve = |smtp: &Smtp| {
        let listen = format!("127.0.0.1:{}", testing::free_port());
        lake.cairn(smtp, &["serve", "--listen", &listen])
            .env("CAIRN_REPORTS_INTERVAL", "1")
            .env("CAIRN_RETIREMENT_INTERVAL", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut a = serve(&smtp);
    let mut b = serve(&smtp);
    let t = Instant::now();
    while smtp.messages().is_empty() {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "cairn serve sent nothing"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Several more checks of both processes: still one message.
    std::thread::sleep(Duration::from_secs(6));
    a.kill().ok();
    b.kill().ok();
    a.wait().ok();
    b.wait().ok();
    let got = smtp.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].rcpt_tos, ["teacher1@example.org"]);
    assert!(
        parse(&got[0]).subject.contains("week of 2025-12-22"),
        "{}",
        parse(&got[0]).subject
    );
    lake.ch.drop_database().await.unwrap();
    testing::drop_mysql(&lake.lms).await;
}

/// Every cell of a CSV text that a spreadsheet would run (none is expected), and the cells
/// that start with one of `hostile` (neutralised: after an apostrophe).
fn formulas_and_hostile(csv_text: &str, hostile: &[&str]) -> (Vec<String>, Vec<String>) {
    let mut formulas = Vec::new();
    let mut seen = Vec::new();
    for rec in csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(csv_text.as_bytes())
        .records()
    {
        for cell in rec.unwrap().iter() {
            if cairn_report::neutralize(cell) != cell {
                formulas.push(cell.to_owned());
            }
            if hostile.iter().any(|h| cell.starts_with(&format!("'{h}"))) {
                seen.push(cell.to_owned());
            }
        }
    }
    (formulas, seen)
}

#[tokio::test(flavor = "multi_thread")]
async fn report_csv_and_mail_attachments_with_hostile_names_hold_no_formula() {
    let lake = lake("reports_csv_formulas").await;
    let smtp = Smtp::start(&[]);
    // C01's units and videos renamed in Studio and imported again; learners renamed in the LMS.
    let mut course = courses(&lake.spec)[0].clone();
    assert_eq!(course.id, C1);
    for (i, u) in course.units.iter_mut().enumerate() {
        u.name = format!("=HYPERLINK(\"http://evil.example\",\"Unit {i}\")");
        u.video_name = format!("@SUM(1+1)*cmd|' /C calc'!A{i}");
    }
    let olx = tempfile::tempdir().unwrap();
    cairn_fixtures::write_olx(&course, &cairn_fixtures::olx_dir(olx.path(), &course)).unwrap();
    import_courses(&lake.ch, olx.path(), std::slice::from_ref(&course))
        .await
        .unwrap();
    let mut conn = cairn_core::mysql::connect(&lake.lms_admin).await.unwrap();
    conn.query_drop(
        "UPDATE auth_user SET username = CONCAT('-1+1+cmd|', username) WHERE id < 100000",
    )
    .await
    .unwrap();
    conn.disconnect().await.ok();
    let hostile = [
        "=HYPERLINK(",
        "@SUM(",
        "-1+1+cmd|",
        "=HYPERLINK(\"http://evil.example\",\"blue",
    ];

    let overview = lake.run(
        &smtp,
        &[
            "report",
            "course-overview",
            "--course-id",
            C1,
            "--from",
            "2026-01-05",
            "--to",
            "2026-01-25",
            "--format",
            "csv",
        ],
    );
    assert!(overview.status.success(), "{}", text(&overview));
    let (formulas, seen) =
        formulas_and_hostile(&String::from_utf8_lossy(&overview.stdout), &hostile);
    assert_eq!(formulas, Vec::<String>::new(), "course-overview");
    for h in ["=HYPERLINK(", "@SUM("] {
        assert!(
            seen.iter().any(|c| c.starts_with(&format!("'{h}"))),
            "course-overview: {h} {seen:?}"
        );
    }
    let at_risk = lake.run(
        &smtp,
        &[
            "report",
            "at-risk",
            "--course-id",
            C1,
            "--as-of",
            "2026-02-20",
            "--format",
            "csv",
        ],
    );
    assert!(at_risk.status.success(), "{}", text(&at_risk));
    let (formulas, seen) =
        formulas_and_hostile(&String::from_utf8_lossy(&at_risk.stdout), &hostile);
    assert_eq!(formulas, Vec::<String>::new(), "at-risk");
    assert!(
        seen.iter().any(|c| c.starts_with("'-1+1+cmd|")),
        "at-risk: {seen:?}"
    );

    // Problems: a learner's typed answer is text they chose.
    for (args, expect) in [
        (vec![], None),
        (
            vec!["--answers"],
            Some("'=HYPERLINK(\"http://evil.example\",\"blue\")"),
        ),
    ] {
        let mut cmd = vec![
            "report",
            "problems",
            "--course-id",
            C1,
            "--from",
            "2026-01-05",
            "--to",
            "2026-02-25",
            "--format",
            "csv",
        ];
        cmd.extend(args.iter());
        let o = lake.run(&smtp, &cmd);
        assert!(o.status.success(), "{}", text(&o));
        let csv_text = String::from_utf8_lossy(&o.stdout).into_owned();
        let (formulas, seen) = formulas_and_hostile(&csv_text, &hostile);
        assert_eq!(formulas, Vec::<String>::new(), "problems {args:?}");
        assert!(
            csv_text.lines().count() > 1,
            "problems {args:?}: {csv_text}"
        );
        if let Some(cell) = expect {
            assert!(seen.iter().any(|c| c == cell), "{seen:?}");
        }
    }

    // The forum: a thread title a learner chose.
    let o = lake.run(
        &smtp,
        &[
            "report",
            "forums",
            "--course-id",
            C1,
            "--from",
            "2026-01-05",
            "--to",
            "2026-02-25",
            "--threads",
            "1000",
            "--format",
            "csv",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let (formulas, seen) = formulas_and_hostile(&String::from_utf8_lossy(&o.stdout), &hostile);
    assert_eq!(formulas, Vec::<String>::new(), "forums --threads");
    assert!(
        seen.iter().any(|c| c.starts_with("'=HYPERLINK(")),
        "{seen:?}"
    );

    // The courses compared: both, sorted; an org's; the CLI's CSV.
    let o = lake.run(
        &smtp,
        &[
            "report",
            "compare",
            "--sort",
            "pass-rate",
            "--as-of",
            "2026-01-20",
            "--format",
            "json",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows[0]["pass_rate"].as_f64() >= rows[1]["pass_rate"].as_f64());
    assert!(rows.iter().all(|r| r["active_7d"].as_u64() > Some(0)));
    let o = lake.run(
        &smtp,
        &["report", "compare", "--org", "nobody", "--format", "csv"],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).lines().count(),
        1,
        "the header only"
    );

    // The e-mail report's attachments.
    let id = lake.add(&smtp, &["--course-id", C1, "--to", "boss@example.org"]);
    let o = lake.run(&smtp, &["reports", "send-now", &id, "--now", NOW]);
    assert!(o.status.success(), "{}", text(&o));
    let got = smtp.messages();
    assert_eq!(got.len(), 1);
    let mail = parse(&got[0]);
    assert!(!mail.csv.is_empty());
    let mut all_seen = Vec::new();
    for (name, body) in &mail.csv {
        let (formulas, seen) = formulas_and_hostile(body, &hostile);
        assert_eq!(formulas, Vec::<String>::new(), "{name}");
        all_seen.extend(seen);
    }
    assert!(
        all_seen.iter().any(|c| c.starts_with("'=HYPERLINK(")),
        "attachments: {all_seen:?}"
    );
    lake.ch.drop_database().await.unwrap();
    testing::drop_mysql(&lake.lms).await;
}
