//! Learner retirement on the real parts (MariaDB as the LMS, ClickHouse 18.16 and 26.9:
//! scripts/test runs this on both): a generated course population plus one learner, Rita,
//! whose events in two courses carry her username, e-mail, IP, agent and session in
//! nested fields (JSON in a string included), an event without her user id, and another
//! learner's event naming her; her dashboard sign-in, access rows and a saved chart. After
//! `cairn retire`, no string column of any table of the data lake holds any of her
//! identifiers; in scrub mode the course metrics are unchanged, in delete mode her events
//! are gone; a second run changes nothing; a backfill of her old log stores nothing of her.

use std::path::Path;
use std::time::Duration;

use cairn_core::config::RetirementMode;
use cairn_core::mysql::mysql_async::prelude::Queryable;
use cairn_core::testing;
use cairn_core::{ClickHouse, Config};
use cairn_fixtures::{Spec, generate};
use cairn_import::ingest::{IngestOptions, Input, LogPublishes, Summary, ingest};
use cairn_import::retired::pseudonym;
use cairn_report::Range;
use cairn_retire::{Options, Report, run};
use chrono::NaiveDate;

const RITA: u64 = 9001;
const KEY: &str = "test retirement key";
const C1: &str = "course-v1:CairnX+C01+2026_T1";
const C2: &str = "course-v1:CairnX+C02+2026_T1";
/// Everything that identifies Rita.
const RITA_IDS: &[&str] = &[
    "rita_retiree",
    "rita.r@example.org",
    "rita.new@example.org",
    "203.0.113.77",
    "RitaOS",
    "5e55ion0rita",
    "Rita Retiree",
];

fn tracking(user: &str, ip: &str, json: &str, time: &str) -> String {
    format!("{time},000 INFO 7 [tracking] [user {user}] [ip {ip}] logger.py:41 - {json}\n")
}

/// Rita's events (seven: six under her user id, one under her username only), Pete's
/// (pending retirement) and a staff event naming Rita.
fn rita_log() -> String {
    let agent = "Mozilla/5.0 (RitaOS 1.0) RetireTest/9";
    let who = format!(
        r#""username":"rita_retiree","ip":"203.0.113.77","agent":"{agent}","session":"5e55ion0rita","host":"lms.example.org","accept_language":"en","referer":"https://lms.example.org/u/rita_retiree""#
    );
    let mut log = String::new();
    for (i, course) in [C1, C2].iter().enumerate() {
        log += &tracking(
            "9001",
            "203.0.113.77",
            &format!(
                r#"{{{who},"context":{{"course_id":"{course}","org_id":"CairnX","path":"/event","user_id":9001,"username":"rita_retiree"}},"event":{{"course_id":"{course}","mode":"audit","user_id":9001}},"event_source":"server","event_type":"edx.course.enrollment.activated","name":"edx.course.enrollment.activated","page":null,"time":"2026-01-06T0{i}:00:00.000000+00:00"}}"#
            ),
            &format!("2026-01-06 0{i}:00:00"),
        );
        log += &tracking(
            "9001",
            "203.0.113.77",
            &format!(
                r#"{{{who},"context":{{"course_id":"{course}","org_id":"CairnX","path":"/u/rita_retiree","user_id":9001}},"event":"{{\"id\":\"block-v1:CairnX+C0{n}+2026_T1+type@problem+block@p1\",\"answers\":{{\"q\":\"write to rita.r@example.org, I am Rita Retiree at 203.0.113.77\"}},\"username\":\"rita_retiree\",\"ip\":\"203.0.113.77\"}}","event_source":"browser","event_type":"problem_check","name":"problem_check","page":"https://lms.example.org/courses/{course}/courseware","time":"2026-01-06T1{i}:00:00.000000+00:00"}}"#,
                n = i + 1
            ),
            &format!("2026-01-06 1{i}:00:00"),
        );
    }
    log += &tracking(
        "9001",
        "203.0.113.77",
        &format!(
            r#"{{{who},"context":{{"course_id":"{C1}","org_id":"CairnX","path":"/event","user_id":9001}},"event":{{"setting":"email","old":"rita.r@example.org","new":"rita.new@example.org","user_id":9001,"truncated":[]}},"event_source":"server","event_type":"edx.user.settings.changed","name":"edx.user.settings.changed","page":null,"time":"2026-01-07T09:00:00.000000+00:00"}}"#
        ),
        "2026-01-07 09:00:00",
    );
    log += &tracking(
        "9001",
        "203.0.113.77",
        &format!(
            r#"{{{who},"context":{{"course_id":"{C2}","org_id":"CairnX","path":"/event","user_id":9001}},"event":{{"full_name":"Rita Retiree","user_id":9001}},"event_source":"server","event_type":"edx.certificate.created","name":"edx.certificate.created","page":null,"time":"2026-01-08T09:00:00.000000+00:00"}}"#
        ),
        "2026-01-08 09:00:00",
    );
    // Signed in, before the LMS knew her id in the tracker: her username only.
    log += &tracking(
        "None",
        "203.0.113.77",
        &format!(
            r#"{{{who},"context":{{"course_id":"{C1}","org_id":"CairnX","path":"/login_ajax"}},"event":{{}},"event_source":"server","event_type":"/login_ajax","name":"/login_ajax","page":null,"time":"2026-01-06T07:00:00.000000+00:00"}}"#
        ),
        "2026-01-06 07:00:00",
    );
    // Staff (learner 1) acting on Rita's account: Rita named in another user's event.
    log += &tracking(
        "1",
        "10.0.0.1",
        &format!(
            r#"{{"username":"learner00001","ip":"10.0.0.1","agent":"Mozilla/5.0 (X11)","session":"s1","host":"lms.example.org","context":{{"course_id":"{C1}","org_id":"CairnX","path":"/instructor","user_id":1}},"event":{{"student":"rita_retiree","note":"asked by rita.r@example.org"}},"event_source":"server","event_type":"edx.instructor.student.attempts.reset","name":"edx.instructor.student.attempts.reset","page":null,"time":"2026-01-07T10:00:00.000000+00:00"}}"#
        ),
        "2026-01-07 10:00:00",
    );
    // The forum (its events are copied into `_forum_events`, migration 0025): a thread of
    // hers whose title names her, and a response by learner 1 that names her.
    log += &tracking(
        "9001",
        "203.0.113.77",
        &format!(
            r#"{{{who},"context":{{"course_id":"{C1}","org_id":"CairnX","path":"/courses/{C1}/discussion/threads/create","user_id":9001}},"event":{{"id":"t-rita","commentable_id":"c1","title":"Rita Retiree asks about week 1","body":"hello","truncated":false,"user_forums_roles":["Student"]}},"event_source":"server","event_type":"edx.forum.thread.created","name":"edx.forum.thread.created","page":null,"time":"2026-01-07T11:00:00.000000+00:00"}}"#
        ),
        "2026-01-07 11:00:00",
    );
    log += &tracking(
        "1",
        "10.0.0.1",
        &format!(
            r#"{{"username":"learner00001","ip":"10.0.0.1","agent":"Mozilla/5.0 (X11)","session":"s1","host":"lms.example.org","context":{{"course_id":"{C1}","org_id":"CairnX","path":"/courses/{C1}/discussion/threads/t-rita/reply","user_id":1}},"event":{{"id":"r-1","discussion":{{"id":"t-rita"}},"body":"@rita_retiree see the syllabus","truncated":false,"user_forums_roles":["Student"]}},"event_source":"server","event_type":"edx.forum.response.created","name":"edx.forum.response.created","page":null,"time":"2026-01-07T12:00:00.000000+00:00"}}"#
        ),
        "2026-01-07 12:00:00",
    );
    // Pete asked to be retired; the request is still pending.
    log += &tracking(
        "9002",
        "198.51.100.2",
        &format!(
            r#"{{"username":"pete_pending","ip":"198.51.100.2","agent":"PeteBrowser/1","session":"p","host":"lms.example.org","context":{{"course_id":"{C1}","org_id":"CairnX","path":"/event","user_id":9002}},"event":{{"course_id":"{C1}","mode":"audit","user_id":9002}},"event_source":"server","event_type":"edx.course.enrollment.activated","name":"edx.course.enrollment.activated","page":null,"time":"2026-01-06T05:00:00.000000+00:00"}}"#
        ),
        "2026-01-06 05:00:00",
    );
    log
}

/// The LMS after the retirement of Rita: her account renamed, her request, her status
/// (`with_status`: still there, in `state`, with her original names; otherwise cleaned up),
/// and Pete's pending request.
async fn lms(
    test: &str,
    with_status: Option<&str>,
    seed: &Path,
) -> cairn_core::config::MysqlConfig {
    let lms = testing::mysql_openedx(test).await;
    let mut conn = cairn_core::mysql::connect(&lms).await.unwrap();
    conn.query_drop(std::fs::read_to_string(seed).unwrap())
        .await
        .unwrap();
    let states =
        std::fs::read_to_string(testing::workspace_dir().join("fixtures/openedx-seed.sql"))
            .unwrap();
    let states = &states[states.find("INSERT INTO user_api_retirementstate").unwrap()..];
    conn.query_drop(states).await.unwrap();
    conn.query_drop(
        "INSERT INTO auth_user (id, password, last_login, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined) VALUES \
         (9001, '!', NULL, 0, 'retired__user_4f1c2e', '', '', 'retired__user_4f1c2e@retired.invalid', 0, 0, '2025-12-01 00:00:00'), \
         (9002, '!', NULL, 0, 'pete_pending', 'Pete', 'P', 'pete@example.org', 0, 0, '2025-12-01 00:00:00'); \
         INSERT INTO user_api_userretirementrequest (created, modified, user_id) VALUES \
         ('2026-02-01', '2026-02-01', 9001), ('2026-02-02', '2026-02-02', 9002); \
         INSERT INTO user_api_userretirementstatus (created, modified, original_username, original_email, original_name, retired_username, retired_email, responses, current_state_id, last_state_id, user_id) VALUES \
         ('2026-02-02', '2026-02-02', 'pete_pending', 'pete@example.org', 'Pete P', 'retired__user_9a9a', 'retired__user_9a9a@retired.invalid', '', 1, 1, 9002)",
    )
    .await
    .unwrap();
    if let Some(state) = with_status {
        conn.exec_drop(
            "INSERT INTO user_api_userretirementstatus (created, modified, original_username, original_email, original_name, retired_username, retired_email, responses, current_state_id, last_state_id, user_id) \
             SELECT '2026-02-01', '2026-02-01', 'rita_retiree', 'rita.r@example.org', 'Rita Retiree', 'retired__user_4f1c2e', 'retired__user_4f1c2e@retired.invalid', '', id, id, 9001 \
             FROM user_api_retirementstate WHERE state_name = ?",
            (state,),
        )
        .await
        .unwrap();
    }
    conn.disconnect().await.ok();
    lms
}

struct Lake {
    ch: ClickHouse,
    config: Config,
    dir: tempfile::TempDir,
}

async fn lake(test: &str, with_status: Option<&str>) -> Lake {
    lake_with(test, with_status, testing::config(), false).await
}

/// [`lake`] on the ClickHouse of `base` (`on_server`: that server, else the test server).
async fn lake_with(test: &str, with_status: Option<&str>, base: Config, on_server: bool) -> Lake {
    let dir = tempfile::tempdir().unwrap();
    let spec = Spec {
        learners: 12,
        courses: 2,
        days: 7,
        start: NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(),
        bad_every: 0,
        ..Spec::default()
    };
    generate(&spec, dir.path()).unwrap();
    std::fs::write(dir.path().join("rita.log"), rita_log()).unwrap();
    let lms = lms(
        &format!("{test}_lms"),
        with_status,
        &dir.path().join("lms-seed.sql"),
    )
    .await;
    let mut config = base;
    config.mysql.database = lms.database.clone();
    config.retirement.key = cairn_core::Secret::new(KEY);
    let ch = if on_server {
        cairn_migrate::testing::data_lake_on(test, config.clone()).await
    } else {
        cairn_migrate::testing::data_lake_with(test, config.clone()).await
    };
    let s = ingest_files(
        &ch,
        &config,
        &[dir.path().join("tracking.log"), dir.path().join("rita.log")],
    )
    .await;
    assert_eq!(s.retired_scrubbed + s.retired_dropped, 0);
    // Her saved data: a dashboard sign-in, access rows and a saved chart naming her.
    let quiet = ch.client().clone().with_setting("log_queries", "0");
    for sql in [
        "INSERT INTO _dashboard_logins (username, password_hash, identities, version) VALUES ('rita_retiree', '$argon2id$x', 0, 1)",
        "INSERT INTO _acl_grants (username, email, scope, version) VALUES ('rita_retiree', 'rita.r@example.org', '\"All\"', 1)",
        "INSERT INTO _acl_state (username, scope, version) VALUES ('rita_retiree', '\"All\"', 1)",
        "INSERT INTO _saved_objects (kind, id, version, author, deleted, body) VALUES \
         ('chart', 'c-1', 1, 'rita_retiree', 0, '{\"title\":\"rita_retiree progress\",\"sql\":\"SELECT 1\"}'), \
         ('chart', 'c-1', 2, 'rita_retiree', 0, '{\"title\":\"my progress\",\"sql\":\"SELECT 1\",\"shared_with\":[\"rita_retiree\",\"learner00002\"]}'), \
         ('chart', 'c-other', 1, 'learner00002', 0, '{\"title\":\"weekly\",\"sql\":\"SELECT 2\"}')",
        // She was on a report schedule (two versions), and was sent a report.
        "INSERT INTO _report_schedules (id, version, removed, spec) VALUES \
         ('r-1', 1, 0, '{\"id\":\"r-1\",\"target\":\"visible\",\"recipients\":[{\"email\":\"rita.r@example.org\"}],\"cron\":\"0 8 * * MON\",\"timezone\":\"UTC\",\"created_at\":\"2026-01-01T00:00:00Z\"}'), \
         ('r-1', 2, 0, '{\"id\":\"r-1\",\"target\":\"visible\",\"recipients\":[{\"email\":\"Rita.R@example.org\"},{\"email\":\"boss@example.org\"}],\"cron\":\"0 8 * * MON\",\"timezone\":\"UTC\",\"created_at\":\"2026-01-01T00:00:00Z\"}')",
        "INSERT INTO _report_sends (schedule_id, period, recipient, state, attempt, at, seq, message_id, courses, error) VALUES \
         ('r-1', '2026-01-12 08:00:00', 'rita.r@example.org', 'sent', 1, '2026-01-12 08:00:00', 1, '<x@y>', [], ''), \
         ('r-1', '2026-01-12 08:00:00', 'boss@example.org', 'sent', 1, '2026-01-12 08:00:00', 2, '<z@y>', [], '')",
    ] {
        quiet.query(sql).execute().await.unwrap();
    }
    Lake { ch, config, dir }
}

async fn ingest_files(ch: &ClickHouse, config: &Config, files: &[std::path::PathBuf]) -> Summary {
    ingest(
        ch,
        files.iter().cloned().map(Input::Path).collect(),
        &IngestOptions {
            retirement_key: config.retirement.key.clone(),
            ..IngestOptions::default()
        },
        Box::new(LogPublishes),
    )
    .await
    .unwrap()
}

fn options(mode: RetirementMode, dry_run: bool) -> Options {
    Options {
        mode,
        key: KEY.into(),
        dry_run,
        mutation_timeout: Duration::from_secs(120),
    }
}

async fn count(ch: &ClickHouse, sql: &str) -> u64 {
    ch.client().query(sql).fetch_one::<u64>().await.unwrap()
}

/// Every (table, column) of the data lake's string columns holding one of `needles`.
async fn hits(ch: &ClickHouse, needles: &[&str]) -> Vec<String> {
    let columns: Vec<(String, String)> = ch
        .client()
        .query(
            "SELECT table, name FROM system.columns WHERE database = ? AND type LIKE '%String%' ORDER BY table, name",
        )
        .bind(ch.database())
        .fetch_all()
        .await
        .unwrap();
    assert!(
        columns
            .iter()
            .any(|(t, c)| t == "_events" && c == "message")
    );
    assert!(columns.iter().any(|(t, _)| t == "openedx_users"));
    let quiet = ch.client().clone().with_setting("log_queries", "0");
    let mut out = Vec::new();
    for (table, column) in columns {
        for needle in needles {
            let n: u64 = quiet
                .query(&format!(
                    "SELECT count() FROM {}.{} WHERE position(toString({}), ?) > 0",
                    cairn_core::sql::quote_ident(ch.database()),
                    cairn_core::sql::quote_ident(&table),
                    cairn_core::sql::quote_ident(&column)
                ))
                .bind(*needle)
                .fetch_one()
                .await
                .unwrap();
            if n > 0 {
                out.push(format!("{table}.{column} has {needle} ({n} rows)"));
            }
        }
    }
    out
}

/// The data lake's stored tables (not views, not the LMS's MySQL-engine tables) with a
/// `user_id` column, but the record of retirements itself.
async fn learner_keyed_tables(ch: &ClickHouse) -> Vec<String> {
    ch.client()
        .query(
            "SELECT name FROM system.tables WHERE database = ? AND engine LIKE '%MergeTree' \
             AND name != '_retirements' AND name IN \
             (SELECT table FROM system.columns WHERE database = ? AND name = 'user_id') ORDER BY name",
        )
        .bind(ch.database())
        .bind(ch.database())
        .fetch_all()
        .await
        .unwrap()
}

/// Queries in ClickHouse's query log since `since` that name Rita. The local 26.9 server
/// keeps the log as production servers do; Debian's 18.16 is set up without one.
async fn logged(ch: &ClickHouse, since: u32) -> u64 {
    ch.execute("SYSTEM FLUSH LOGS").await.unwrap();
    let has_log = count(
        ch,
        "SELECT count() FROM system.tables WHERE database = 'system' AND name = 'query_log'",
    )
    .await
        > 0;
    if !ch.version().at_least(20, 1) && !has_log {
        return 0;
    }
    assert!(
        has_log,
        "the 26.9 server keeps a query log (scripts/services)"
    );
    let quiet = ch.client().clone().with_setting("log_queries", "0");
    let mut n = 0;
    for needle in ["rita_retiree", "rita.r@example.org"] {
        n += quiet
            .query("SELECT count() FROM system.query_log WHERE event_time >= toDateTime(?) AND position(query, ?) > 0")
            .bind(since)
            .bind(needle)
            .fetch_one::<u64>()
            .await
            .unwrap();
    }
    n
}

/// Rita's 8 events are kept under her pseudonym, and the statistics are as `before`.
async fn kept_under_her_pseudonym(ch: &ClickHouse, before: &[cairn_report::Overview]) {
    let p = pseudonym(KEY, RITA);
    assert_eq!(
        count(
            ch,
            &format!("SELECT count() FROM events WHERE user_id = {p}")
        )
        .await,
        8
    );
    assert_eq!(overviews(ch).await, before);
}

async fn overviews(ch: &ClickHouse) -> Vec<cairn_report::Overview> {
    let range = Range {
        from: NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(),
        to: NaiveDate::from_ymd_opt(2026, 1, 19).unwrap(),
    };
    let mut out = Vec::new();
    for c in [C1, C2] {
        out.push(cairn_report::overview(ch, c, range).await.unwrap());
    }
    out
}

fn now() -> u32 {
    u32::try_from(chrono::Utc::now().timestamp()).unwrap()
}

fn rita(report: &Report) -> &cairn_retire::Learner {
    assert_eq!(report.learners.len(), 1, "{report}");
    let l = &report.learners[0];
    assert_eq!(l.user_id, RITA);
    l
}

/// A copy of Rita's log as an old rotated file (another first line: another source).
fn backfill(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("rita-old.log");
    std::fs::write(
        &path,
        format!(
            "2026-01-05 00:00:00,000 INFO 7 [django.request] [user None] [ip None] log.py:1 - rotated\n{}",
            rita_log()
        ),
    )
    .unwrap();
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn scrub_keeps_the_statistics_and_no_trace_of_the_learner() {
    let started = now();
    let Lake { ch, config, dir } = lake("retire_scrub", Some("COMPLETE")).await;
    let all_ids = RITA_IDS.to_vec();
    assert!(
        !hits(&ch, &all_ids).await.is_empty(),
        "the test data names Rita"
    );
    let before = overviews(&ch).await;
    let rita_events = count(&ch, "SELECT count() FROM events WHERE user_id = 9001").await;
    assert_eq!(rita_events, 7);
    let pete_before = count(
        &ch,
        "SELECT count() FROM events WHERE username = 'pete_pending'",
    )
    .await;
    assert_eq!(pete_before, 1);

    // A dry run counts and changes nothing.
    let dry = run(&ch, &config.mysql, &options(RetirementMode::Scrub, true))
        .await
        .unwrap();
    let l = rita(&dry).clone();
    assert_eq!(
        (l.events, l.mentions, l.saved_objects, l.access_rows),
        (8, 2, 2, 4),
        "{dry}"
    );
    assert_eq!(dry.waiting, 1, "Pete's request is pending");
    assert_eq!(count(&ch, "SELECT count() FROM _retirements").await, 0);
    assert_eq!(
        count(&ch, "SELECT count() FROM events WHERE user_id = 9001").await,
        7
    );

    let report = run(&ch, &config.mysql, &options(RetirementMode::Scrub, false))
        .await
        .unwrap();
    assert_eq!(rita(&report), &l, "the run does what the dry run counted");
    assert!(report.mutations >= 3, "{report}");
    // The parts the mutations replaced are reported while they are still on disk (none of
    // them is removed before `old_parts_lifetime`, 8 minutes by default; a server set to
    // 0 may have removed them already).
    let lifetime = report
        .old_parts_lifetime
        .expect("the server reports old_parts_lifetime");
    if lifetime >= 60 {
        let inactive = count(
            &ch,
            "SELECT count() FROM system.parts WHERE database = currentDatabase() AND NOT active",
        )
        .await;
        assert!(report.replaced_parts >= 1, "{report}");
        assert!(
            report.replaced_parts <= inactive,
            "{report}; {inactive} inactive parts"
        );
        assert!(
            report.to_string().contains(&format!(
                "{} data parts the mutations replaced stay on disk",
                report.replaced_parts
            )),
            "{report}"
        );
    }

    assert_eq!(hits(&ch, &all_ids).await, Vec::<String>::new());
    assert_eq!(
        logged(&ch, started).await,
        0,
        "names kept out of the query log"
    );
    let mutations: Vec<String> = ch
        .client()
        .query("SELECT command FROM system.mutations WHERE database = ?")
        .bind(ch.database())
        .fetch_all()
        .await
        .unwrap();
    for m in &mutations {
        assert!(
            !m.contains("rita_retiree") && !m.contains("example.org"),
            "a mutation names her: {m}"
        );
    }
    // Her activity is kept under her pseudonym, with the statistics exactly as before.
    assert_eq!(
        count(&ch, "SELECT count() FROM events WHERE user_id = 9001").await,
        0
    );
    kept_under_her_pseudonym(&ch, &before).await;
    // Pete's pending request is not carried out; the staff event is kept without her name.
    assert_eq!(
        count(
            &ch,
            "SELECT count() FROM events WHERE username = 'pete_pending'"
        )
        .await,
        1
    );
    assert_eq!(
        count(&ch, "SELECT count() FROM events WHERE name = 'edx.instructor.student.attempts.reset' AND username = 'learner00001'").await,
        1
    );
    // The saved chart survives, without her, in one version; the other chart is untouched.
    let charts: Vec<(String, u64, String)> = ch
        .client()
        .query("SELECT id, version, author FROM _saved_objects ORDER BY id, version")
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(
        charts,
        [
            ("c-1".to_owned(), 3, String::new()),
            ("c-other".to_owned(), 1, "learner00002".to_owned())
        ]
    );
    assert_eq!(count(&ch, "SELECT count() FROM _dashboard_logins").await, 0);
    // The report schedule goes on to its other recipient only; her send row is gone.
    let specs: Vec<(u64, String)> = ch
        .client()
        .query("SELECT version, spec FROM _report_schedules ORDER BY version")
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(specs.len(), 1, "{specs:?}");
    assert_eq!(specs[0].0, 3);
    assert!(
        specs[0].1.contains("boss@example.org") && !specs[0].1.to_lowercase().contains("rita"),
        "{}",
        specs[0].1
    );
    assert_eq!(count(&ch, "SELECT count() FROM _report_sends").await, 1);
    let recorded: Vec<(u64, String, u64)> = ch
        .client()
        .query("SELECT user_id, mode, events FROM _retirements WHERE done = 1")
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(recorded, [(RITA, "scrub".to_owned(), 8)]);

    // A second run changes nothing.
    let stored = count(&ch, "SELECT count() FROM _events").await;
    let again = run(&ch, &config.mysql, &options(RetirementMode::Scrub, false))
        .await
        .unwrap();
    assert!(again.learners.is_empty(), "{again}");
    assert_eq!((again.already_done, again.mutations), (1, 0));
    assert_eq!(count(&ch, "SELECT count() FROM _events").await, stored);

    // A backfill of her old log: her events scrubbed at ingestion, to the same rows.
    let s = ingest_files(&ch, &config, &[backfill(dir.path())]).await;
    assert_eq!(
        (s.retired_scrubbed, s.retired_dropped, s.retired_mentions),
        (8, 0, 2),
        "{s}"
    );
    assert_eq!(hits(&ch, &all_ids).await, Vec::<String>::new());
    // The late copies are the same events.
    kept_under_her_pseudonym(&ch, &before).await;
    ch.drop_database().await.unwrap();
    testing::drop_mysql(&config.mysql.database).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_removes_the_learners_events() {
    // Her retirement is complete and its status cleaned up: Cairn knows her only by id.
    let Lake { ch, config, dir } = lake("retire_delete", None).await;
    let total = count(&ch, "SELECT count() FROM events").await;
    // Her LMS rows (the LMS keeps them under her id), copied into ClickHouse before her
    // retirement reaches Cairn.
    let admin = testing::mysql_admin(&config.mysql.database);
    let mut conn = cairn_core::mysql::connect(&admin).await.unwrap();
    conn.query_drop(format!(
        "INSERT INTO student_courseenrollment (created, is_active, mode, course_id, user_id) VALUES \
         ('2026-01-05 00:00:00', 1, 'audit', '{C1}', 9001); \
         INSERT INTO completion_blockcompletion (created, modified, course_key, block_key, block_type, completion, user_id) VALUES \
         ('2026-01-06 00:00:00', '2026-01-06 00:00:00', '{C1}', 'block-v1:x+type@html+block@rita', 'html', 1.0, 9001); \
         INSERT INTO grades_persistentcoursegrade (created, modified, user_id, course_id, course_edited_timestamp, course_version, grading_policy_hash, percent_grade, letter_grade, passed_timestamp) VALUES \
         ('2026-01-07 00:00:00', '2026-01-07 00:00:00', 9001, '{C1}', NULL, '', '', 0.5, '', NULL)"
    ))
    .await
    .unwrap();
    conn.disconnect().await.ok();
    // The course's structure holds the block she completed, so that the copy counts her
    // progress (migration 0029).
    for sql in [
        "INSERT INTO _course_blocks (course_id, import_version, block_key, block_id, block_type, \
         position, display_name, full_name, graded, parent) \
         VALUES (?, 1, 'block-v1:x+type@html+block@rita', 'rita', 'html', 1, 'Rita', 'Rita', 0, '')",
        "INSERT INTO _course_imports (course_id, import_version, blocks, source) VALUES (?, 1, 1, 'test')",
    ] {
        ch.client().query(sql).bind(C1).execute().await.unwrap();
    }
    cairn_report::aggregate::refresh(&ch, None).await.unwrap();
    cairn_report::lms::copy(&ch).await.unwrap();
    let keyed = learner_keyed_tables(&ch).await;
    for table in [
        "_events",
        "_learner_days",
        "_lms_block_completion",
        "_lms_progress",
        "_forum_events",
    ] {
        assert!(keyed.contains(&table.to_owned()), "{keyed:?}");
    }
    assert_eq!(
        count(
            &ch,
            "SELECT count() FROM _forum_events WHERE target = 't-rita'"
        )
        .await,
        2,
        "her thread and the response naming her are in the forum's copy"
    );
    let hers = |table: &str| {
        format!(
            "SELECT count() FROM {} WHERE user_id = 9001",
            cairn_core::sql::quote_ident(table)
        )
    };
    assert!(
        count(&ch, &hers("_learner_days")).await > 0,
        "her days are aggregated"
    );
    let copied = "SELECT toUInt64(count()) FROM \
                  (SELECT user_id FROM _lms_block_completion WHERE user_id = 9001 \
                   UNION ALL SELECT user_id FROM _lms_course_enrollments WHERE user_id = 9001 \
                   UNION ALL SELECT user_id FROM _lms_course_grades WHERE user_id = 9001 \
                   UNION ALL SELECT user_id FROM _lms_progress WHERE user_id = 9001) AS rows";
    assert_eq!(
        count(&ch, copied).await,
        4,
        "her LMS rows are copied and her progress counted"
    );
    let report = run(&ch, &config.mysql, &options(RetirementMode::Delete, false))
        .await
        .unwrap();
    assert_eq!(
        count(&ch, copied).await,
        0,
        "her copied LMS rows are deleted"
    );
    cairn_report::lms::copy(&ch).await.unwrap();
    assert_eq!(count(&ch, copied).await, 0, "and not copied again");
    // No stored table keyed by learner keeps a row of hers: this catches a table that a
    // later migration adds and retirement does not know.
    for table in &keyed {
        assert_eq!(count(&ch, &hers(table)).await, 0, "{table} keeps her rows");
    }
    let l = rita(&report);
    assert_eq!(
        (l.events, l.mentions, l.saved_objects, l.access_rows),
        (8, 2, 2, 4),
        "{report}"
    );
    assert_eq!(hits(&ch, RITA_IDS).await, Vec::<String>::new());
    assert_eq!(count(&ch, "SELECT count() FROM events").await, total - 8);
    assert_eq!(
        count(
            &ch,
            "SELECT count() FROM _events WHERE user_id >= 9223372036854775808"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &ch,
            "SELECT count() FROM events WHERE username = 'pete_pending'"
        )
        .await,
        1
    );

    let again = run(&ch, &config.mysql, &options(RetirementMode::Delete, false))
        .await
        .unwrap();
    assert!(again.learners.is_empty(), "{again}");

    let s = ingest_files(&ch, &config, &[backfill(dir.path())]).await;
    assert_eq!(
        (s.retired_scrubbed, s.retired_dropped, s.retired_mentions),
        (0, 8, 2),
        "{s}"
    );
    assert_eq!(hits(&ch, RITA_IDS).await, Vec::<String>::new());
    assert_eq!(count(&ch, "SELECT count() FROM events").await, total - 8);
    ch.drop_database().await.unwrap();
    testing::drop_mysql(&config.mysql.database).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn scrub_mode_without_a_key_refuses_before_changing_anything() {
    let Lake { ch, config, .. } = lake("retire_nokey", Some("RETIRING_LMS")).await;
    let stored = count(&ch, "SELECT count() FROM _events").await;
    let mut opts = options(RetirementMode::Scrub, false);
    opts.key.clear();
    let e = run(&ch, &config.mysql, &opts)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("CAIRN_RETIREMENT_KEY"), "{e}");
    assert_eq!(count(&ch, "SELECT count() FROM _events").await, stored);
    assert_eq!(count(&ch, "SELECT count() FROM _retirements").await, 0);
    ch.drop_database().await.unwrap();
    testing::drop_mysql(&config.mysql.database).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unapplied_mutation_is_reported_and_the_next_run_finishes() {
    // The LMS has cleaned up her status: Cairn learns her names from her events only.
    let Lake { ch, config, dir } = lake("retire_resume", None).await;
    // ClickHouse runs mutations in its merge pool: stopped, the deletion waits.
    ch.execute("SYSTEM STOP MERGES _events").await.unwrap();
    let mut opts = options(RetirementMode::Scrub, false);
    opts.mutation_timeout = Duration::from_secs(2);
    let e = run(&ch, &config.mysql, &opts)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("has not applied") && e.contains("_events"),
        "{e}"
    );
    let rows = |done: u8| format!("SELECT count() FROM _retirements WHERE done = {done}");
    assert_eq!(count(&ch, &rows(1)).await, 0, "not retired yet");
    assert_eq!(count(&ch, &rows(0)).await, 1, "under way");
    assert!(
        count(&ch, "SELECT count() FROM events WHERE user_id = 9001").await > 0,
        "the originals are still there"
    );
    // As after a crash at that point: the scrubbed copies are in, and the mutation runs on
    // after the process is gone.
    ch.execute("SYSTEM START MERGES _events").await.unwrap();
    for _ in 0..600 {
        let pending = count(
            &ch,
            &format!(
                "SELECT count() FROM system.mutations WHERE database = '{}' AND NOT is_done",
                ch.database()
            ),
        )
        .await;
        if pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let report = run(&ch, &config.mysql, &options(RetirementMode::Scrub, false))
        .await
        .unwrap();
    assert_eq!(rita(&report).events, 0, "{report}");
    assert_eq!(count(&ch, &rows(1)).await, 1);
    assert_eq!(hits(&ch, RITA_IDS).await, Vec::<String>::new());
    let p = pseudonym(KEY, RITA);
    assert_eq!(
        count(
            &ch,
            &format!("SELECT count() FROM events WHERE user_id = {p}")
        )
        .await,
        8,
        "the copies of both runs are the same events"
    );
    // Her names, found by the first run, still guard a backfill: her event without a user
    // id, and the staff event naming her.
    let s = ingest_files(&ch, &config, &[backfill(dir.path())]).await;
    assert_eq!(
        (s.retired_scrubbed, s.retired_dropped, s.retired_mentions),
        (8, 0, 2),
        "{s}"
    );
    assert_eq!(hits(&ch, RITA_IDS).await, Vec::<String>::new());
    ch.drop_database().await.unwrap();
    testing::drop_mysql(&config.mysql.database).await;
}

/// Retirement on the local cluster (`scripts/cluster start`: 2 shards × 2 replicas of
/// 18.16): her events are spread over both shards' local tables; after `cairn retire`
/// (scrub) no table of any node, local tables included, holds any of her identifiers, her
/// activity is counted under her pseudonym, the metrics are unchanged, and the mutations
/// were applied on every replica. Then retention drops an expired month from every
/// replica. `scripts/test` runs it in its cluster stage.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the local cluster (scripts/cluster start); scripts/test runs it"]
async fn on_a_cluster_no_replica_keeps_a_trace() {
    let (config, nodes) = testing::cluster();
    // ZooKeeper paths name the database: one of this run's own.
    let test = format!("retire_cluster_{}", now());
    let Lake { ch, config, .. } = lake_with(&test, Some("COMPLETE"), config, true).await;
    assert!(!ch.cluster().is_empty());
    let on_shards: Vec<u64> = {
        let mut v = Vec::new();
        for n in nodes.iter().filter(|n| n.name.ends_with("r1")) {
            let node = n.clickhouse(&config, ch.database()).await;
            v.push(count(&node, "SELECT count() FROM _events_local").await);
        }
        v
    };
    assert!(
        on_shards.iter().all(|&n| n > 0),
        "both shards hold events: {on_shards:?}"
    );
    // What names her (her events, her event without a user id, another learner's event
    // naming her) lies on both shards.
    let mut rita_shards = 0;
    for n in nodes.iter().filter(|n| n.name.ends_with("r1")) {
        let node = n.clickhouse(&config, ch.database()).await;
        let sql = "SELECT count() FROM _events_local WHERE position(message, 'rita_retiree') > 0";
        if count(&node, sql).await > 0 {
            rita_shards += 1;
        }
    }
    assert_eq!(rita_shards, 2, "what names her lies on both shards");
    let before = overviews(&ch).await;
    assert_eq!(
        count(&ch, "SELECT count() FROM events WHERE user_id = 9001").await,
        7
    );

    let report = run(&ch, &config.mysql, &options(RetirementMode::Scrub, false))
        .await
        .unwrap();
    let l = rita(&report);
    assert_eq!(
        (l.events, l.mentions, l.saved_objects, l.access_rows),
        (8, 2, 2, 4),
        "{report}"
    );
    // Every node: her events' mutation on both replicas of each shard, the bookkeeping
    // tables' on all four.
    assert!(report.mutations >= 4 * 3, "{report}");
    // The replaced parts are counted on every node the mutations ran on (18.16 keeps them
    // for old_parts_lifetime, 480 s): at least one per node.
    assert_eq!(report.old_parts_lifetime, Some(480), "{report}");
    assert!(report.replaced_parts >= 4, "{report}");
    for n in &nodes {
        let node = n.clickhouse(&config, ch.database()).await;
        assert_eq!(
            hits(&node, RITA_IDS).await,
            Vec::<String>::new(),
            "node {}",
            n.name
        );
        assert_eq!(
            count(
                &node,
                "SELECT count() FROM _events_local WHERE user_id = 9001"
            )
            .await,
            0,
            "node {}",
            n.name
        );
    }
    kept_under_her_pseudonym(&ch, &before).await;
    let again = run(&ch, &config.mysql, &options(RetirementMode::Scrub, false))
        .await
        .unwrap();
    assert!(again.learners.is_empty(), "{again}");

    // Retention on the cluster: the months are counted over the shards, and an expired
    // month leaves every replica.
    let parts = cairn_import::retention::partitions(&ch).await.unwrap();
    let stored = count(&ch, "SELECT count() FROM _events").await;
    assert_eq!(parts.iter().map(|p| p.events).sum::<u64>(), stored);
    assert!(parts.iter().any(|p| p.id == "202601"), "{parts:?}");
    let today = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
    let dropped = cairn_import::retention::apply(&ch, today, 1, false)
        .await
        .unwrap();
    assert!(dropped.iter().any(|p| p.id == "202601"), "{dropped:?}");
    for n in &nodes {
        let node = n.clickhouse(&config, ch.database()).await;
        assert_eq!(
            count(
                &node,
                "SELECT count() FROM _events_local WHERE toYYYYMM(time) = 202601"
            )
            .await,
            0,
            "node {} still holds January",
            n.name
        );
    }
    ch.drop_database().await.unwrap();
    testing::drop_mysql(&config.mysql.database).await;
}
