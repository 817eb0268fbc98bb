//! `cairn retire` through the real binary, on the suite's server and MariaDB as the LMS:
//! the dry run, the refusal without a key in scrub mode, a run, and the automatic runs of
//! `cairn ingest --follow` and `cairn serve` (CAIRN_RETIREMENT_INTERVAL).

use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use cairn_core::ClickHouse;
use cairn_core::mysql::mysql_async::prelude::Queryable;
use cairn_core::testing;

fn cairn(db: &str, lms: &str, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cairn"));
    cmd.args(args)
        .env("CAIRN_CONFIG", testing::config_path().unwrap())
        .env("CAIRN_CLICKHOUSE_DATABASE", db)
        .env("OPENEDX_MYSQL_DATABASE", lms)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// An LMS whose learners `ids` (username `l<id>`) have completed their retirement.
async fn lms(test: &str, ids: &[u64]) -> String {
    let lms = testing::mysql_openedx(test).await;
    let mut conn = cairn_core::mysql::connect(&lms).await.unwrap();
    for id in ids {
        conn.exec_drop(
            "INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined) \
             VALUES (?, '!', 0, ?, '', '', ?, 0, 0, '2025-01-01')",
            (id, format!("retired__user_{id}"), format!("retired__user_{id}@retired.invalid")),
        )
        .await
        .unwrap();
        conn.exec_drop(
            "INSERT INTO user_api_userretirementrequest (created, modified, user_id) VALUES ('2026-02-01', '2026-02-01', ?)",
            (id,),
        )
        .await
        .unwrap();
    }
    conn.disconnect().await.ok();
    lms.database
}

/// Two events per learner of `ids` (username `l<id>`, IP 203.0.113.<id % 250>), and one of
/// learner 1.
async fn events(ch: &ClickHouse, ids: &[u64]) {
    let mut values = vec!["('2026-01-05 09:00:00', 'x', 'course-v1:A+B+C', 1, 'l1', '10.0.0.1', '{\"username\":\"l1\"}')".to_owned()];
    for id in ids {
        for h in [10, 11] {
            values.push(format!(
                "('2026-01-05 {h}:00:00', 'x', 'course-v1:A+B+C', {id}, 'l{id}', '203.0.113.{}', '{{\"username\":\"l{id}\",\"h\":{h}}}')",
                id % 250
            ));
        }
    }
    ch.execute(&format!(
        "INSERT INTO _events (time, name, course_id, user_id, username, ip, message) VALUES {}",
        values.join(", ")
    ))
    .await
    .unwrap();
}

async fn count(ch: &ClickHouse, sql: &str) -> u64 {
    ch.client().query(sql).fetch_one::<u64>().await.unwrap()
}

/// Waits (up to a minute) until `_retirements` holds `n` learners; then stops `child`.
async fn until_retired(ch: &ClickHouse, n: u64, mut child: Child) -> String {
    let mut got = 0;
    for _ in 0..600 {
        got = count(
            ch,
            "SELECT uniqExact(user_id) FROM _retirements WHERE done = 1",
        )
        .await;
        if got >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // SIGTERM: the follow run stops cleanly.
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let out = text(&child.wait_with_output().unwrap());
    assert_eq!(got, n, "not retired in time: {out}");
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn retire_by_hand_and_on_schedule() {
    let ch = cairn_migrate::testing::data_lake("retire_cli").await;
    let db = ch.database().to_owned();
    let lms_db = lms("retire_cli_lms", &[9001]).await;
    events(&ch, &[9001]).await;
    let key = [("CAIRN_RETIREMENT_KEY", "cli test key")];

    let o = cairn(&db, &lms_db, &["retire"], &[]).output().unwrap();
    assert!(
        !o.status.success() && text(&o).contains("CAIRN_RETIREMENT_KEY is not set"),
        "{}",
        text(&o)
    );

    let o = cairn(&db, &lms_db, &["retire", "--dry-run"], &key)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("would retire 1 learners (scrub mode)"),
        "{}",
        text(&o)
    );
    assert!(
        text(&o).contains("user 9001: 2 events scrubbed"),
        "{}",
        text(&o)
    );
    assert_eq!(
        count(&ch, "SELECT count() FROM _events WHERE user_id = 9001").await,
        2
    );

    let o = cairn(&db, &lms_db, &["retire", "--json"], &key)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["learners"][0]["user_id"], 9001);
    assert_eq!(report["learners"][0]["events"], 2);
    assert_eq!(
        count(&ch, "SELECT count() FROM _events WHERE user_id = 9001").await,
        0
    );
    assert_eq!(
        count(
            &ch,
            "SELECT count() FROM events WHERE username = 'l9001' OR ip = '203.0.113.1'"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &ch,
            "SELECT count() FROM events WHERE user_id >= 9223372036854775808"
        )
        .await,
        2
    );

    // `cairn ingest --follow` retires on its schedule (delete mode here).
    let follow_db = cairn_migrate::testing::data_lake("retire_cli_follow").await;
    let follow_lms = lms("retire_cli_follow_lms", &[9002]).await;
    events(&follow_db, &[9002]).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("tracking.log");
    std::fs::write(&log, "").unwrap();
    let child = cairn(
        follow_db.database(),
        &follow_lms,
        &["ingest", "--follow", log.to_str().unwrap()],
        &[
            ("CAIRN_RETIREMENT", "delete"),
            ("CAIRN_RETIREMENT_INTERVAL", "1"),
        ],
    )
    .spawn()
    .unwrap();
    until_retired(&follow_db, 1, child).await;
    assert_eq!(
        count(
            &follow_db,
            "SELECT count() FROM _events WHERE user_id = 9002"
        )
        .await,
        0
    );
    assert_eq!(count(&follow_db, "SELECT count() FROM _events").await, 1);

    // `cairn serve` too.
    let serve_db = cairn_migrate::testing::data_lake("retire_cli_serve").await;
    let serve_lms = lms("retire_cli_serve_lms", &[9003]).await;
    events(&serve_db, &[9003]).await;
    let listen = format!("127.0.0.1:{}", testing::free_port());
    let child = cairn(
        serve_db.database(),
        &serve_lms,
        &["serve", "--listen", &listen],
        &[key[0], ("CAIRN_RETIREMENT_INTERVAL", "1")],
    )
    .spawn()
    .unwrap();
    until_retired(&serve_db, 1, child).await;
    assert_eq!(
        count(
            &serve_db,
            "SELECT count() FROM _events WHERE user_id = 9003"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &serve_db,
            "SELECT count() FROM events WHERE user_id >= 9223372036854775808"
        )
        .await,
        2
    );

    for c in [&ch, &follow_db, &serve_db] {
        c.drop_database().await.unwrap();
    }
    for lms in [&lms_db, &follow_lms, &serve_lms] {
        testing::drop_mysql(lms).await;
    }
}
