//! The binaries' log: `cairn serve` logs each refused request (JSON lines with
//! `CAIRN_LOG_FORMAT=json`), never a query string; a bad log setting stops a binary with
//! an error naming it.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn cairn() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cairn"));
    cmd.env(
        "CAIRN_CONFIG",
        cairn_core::testing::config_path().expect("the local services' configuration"),
    );
    cmd
}

#[test]
fn a_bad_log_setting_is_a_clear_error() {
    let o = cairn()
        .args(["config", "show"])
        .env("CAIRN_LOG_FORMAT", "xml")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("invalid CAIRN_LOG_FORMAT=\"xml\": expected text or json"),
        "{err}"
    );
}

/// Starts `cairn serve` on `db` (logging JSON to a pipe) and waits until it answers.
async fn start_serve(db: &str, port: u16) -> std::process::Child {
    start_serve_with(db, port, &[]).await
}

/// [`start_serve`] with more settings in the environment.
async fn start_serve_with(
    db: &str,
    port: u16,
    env: &[(&str, &std::path::Path)],
) -> std::process::Child {
    let child = cairn()
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("CAIRN_CLICKHOUSE_DATABASE", db)
        .envs(env.iter().copied())
        .env("CAIRN_LOG_FORMAT", "json")
        .env_remove("CAIRN_LOG")
        .env_remove("RUST_LOG")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let started = Instant::now();
    while http
        .get(format!("http://127.0.0.1:{port}/login"))
        .send()
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "serve did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    child
}

/// Lets the log lines out, stops the server, and returns its log.
async fn stop_serve(mut child: std::process::Child) -> String {
    tokio::time::sleep(Duration::from_millis(300)).await;
    child.kill().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    child.wait().unwrap();
    err
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_logs_each_refused_request_without_its_query_string() {
    let ch = cairn_core::testing::clickhouse("cli_serve_log").await;
    let db = ch.database().to_owned();
    let up = cairn()
        .args(["migrate", "up"])
        .env("CAIRN_CLICKHOUSE_DATABASE", &db)
        .output()
        .unwrap();
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = start_serve(&db, port).await;
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let r = http
        .get(format!(
            "{base}/api/overview?course_id=course-v1:A+B+C&secret=s3cr3t"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .get(format!("{base}/api/courses"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let err = stop_serve(child).await;
    let lines: Vec<serde_json::Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let refused: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "request refused")
        .collect();
    assert_eq!(refused.len(), 2, "{err}");
    assert_eq!(refused[0]["level"], "WARN");
    assert_eq!(refused[0]["fields"]["path"], "/api/overview");
    assert_eq!(refused[0]["fields"]["status"], 401);
    assert_eq!(refused[0]["fields"]["reason"], "sign in first");
    assert_eq!(refused[1]["fields"]["path"], "/api/courses");
    assert!(!err.contains("s3cr3t"), "no query string in the log: {err}");
    // No account yet, and no sign-in with the LMS: serve says how to make one.
    let nobody = |l: &&serde_json::Value| {
        l["fields"]["message"].as_str().is_some_and(|m| {
            m.starts_with("nobody can sign in yet: make an account with `cairn createuser")
        })
    };
    assert_eq!(lines.iter().filter(nobody).count(), 1, "{err}");
    // Once there is one, it does not.
    let made = cairn()
        .args([
            "createuser",
            "ada",
            "ada@example.org",
            "--admin",
            "--dashboard-only",
        ])
        .env("CAIRN_CLICKHOUSE_DATABASE", &db)
        .env("CAIRN_USER_PASSWORD", "ada-pw")
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let err = stop_serve(start_serve(&db, port).await).await;
    assert!(!err.contains("nobody can sign in"), "{err}");
    assert!(!err.contains("migrations pending"), "{err}");
    // Cairn upgraded (here: an operator's migration added), `cairn migrate up` not run:
    // serve says so at start, naming what is pending.
    let extra = std::env::temp_dir().join(format!("cairn-serve-pending-{}", std::process::id()));
    std::fs::create_dir_all(&extra).unwrap();
    std::fs::write(extra.join("9001_later.sql"), "SELECT 1;\n").unwrap();
    let child = start_serve_with(&db, port, &[("CAIRN_MIGRATIONS_FOLDER", &extra)]).await;
    let err = stop_serve(child).await;
    assert!(
        err.contains(
            "the data lake has 1 migrations pending (9001_later.sql): pages that need them \
             fail until `cairn migrate up` applies them"
        ),
        "{err}"
    );
    std::fs::remove_dir_all(&extra).ok();
    ch.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_starts_on_a_lake_not_migrated_yet() {
    // The database does not exist: serve still answers (its background tasks say what is
    // missing, and try again), and does not warn that nobody can sign in.
    let db = cairn_core::testing::db_name("cli_serve_unmigrated");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = stop_serve(start_serve(&db, port).await).await;
    assert!(err.contains("cairn migrate up"), "{err}");
    assert!(!err.contains("nobody can sign in"), "{err}");
}
