//! `cairn createuser` and `cairn acl sync` through the real binary.

use std::process::Command;

fn cairn(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cairn"));
    cmd.args(args).env(
        "CAIRN_CONFIG",
        cairn_core::testing::config_path().expect("the local services' configuration"),
    );
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn createuser_dry_run_prints_one_statement_per_line_and_never_the_password() {
    let o = cairn(
        &[
            "createuser",
            "ada",
            "ada@example.org",
            "--course-id",
            "course-v1:edX+DemoX+Demo_Course",
            "--org-id",
            "MITx",
            "--password=hunter2-secret",
            "--dry-run",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(!out.contains("hunter2-secret"));
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with(
            "CREATE USER IF NOT EXISTS `openedx-ada` IDENTIFIED WITH sha256_hash BY '"
        ),
        "{}",
        lines[0]
    );
    assert!(lines.iter().all(|l| l.ends_with(';')));
    assert!(lines.iter().any(|l| l.contains("AS RESTRICTIVE")
        && l.contains("'mitx'")
        && l.contains("'course-v1:edX+DemoX+Demo_Course'")));
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("_migrations") || l.contains("_acl_")),
        "no grants on private tables"
    );
}

#[test]
fn createuser_needs_a_scope_and_applying_is_refused_without_writable_access() {
    let o = cairn(&["createuser", "ada", "ada@example.org", "--dry-run"], &[]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--admin, --course-id or --org-id"));
    let o = cairn(
        &[
            "createuser",
            "ada",
            "ada@example.org",
            "--admin",
            "--password=x",
        ],
        &[],
    );
    // The local servers: 18.16 has no access control; 26.9 (chdb) has users in users.xml
    // only. Each refusal says what to do instead.
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    let expected = match cairn_core::testing::server().as_deref() {
        Some("18.16") => "needs ClickHouse 21.8 or newer; the server is 18.16",
        _ => "defines its users in users.xml only",
    };
    assert!(err.contains(expected), "{err}");
    assert!(err.contains("--dashboard-only"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn createuser_dashboard_only_records_a_sign_in_and_the_password_hash() {
    let ch = cairn_core::testing::clickhouse("cli_dashboard_login").await;
    let db = ch.database().to_owned();
    let env = [("CAIRN_CLICKHOUSE_DATABASE", db.as_str())];
    assert!(cairn(&["migrate", "up"], &env).status.success());
    let secret = "tr0ub4dor&3-secret";
    let with_pw = [
        ("CAIRN_CLICKHOUSE_DATABASE", db.as_str()),
        ("CAIRN_USER_PASSWORD", secret),
    ];
    let o = cairn(
        &[
            "createuser",
            "teach",
            "teach@example.org",
            "--course-id",
            "course-v1:edX+DemoX+Demo_Course",
            "--dashboard-only",
            "--no-identities",
        ],
        &with_pw,
    );
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(o.status.success(), "{err}");
    assert!(out.contains("dashboard sign-in for teach recorded (learner identities hidden)"));
    assert!(!out.contains(secret) && !err.contains(secret));
    let login = cairn_acl::logins::check_login(&ch, "teach", secret)
        .await
        .unwrap()
        .expect("the password signs in");
    assert!(!login.identities);
    assert!(
        cairn_acl::logins::check_login(&ch, "teach", "wrong")
            .await
            .unwrap()
            .is_none()
    );
    // The grant is recorded for cairn-acl (and so for the dashboard's rights).
    let grants = cairn_acl::sync::manual_grants(&ch).await.unwrap();
    assert!(grants["teach"].allows("course-v1:edX+DemoX+Demo_Course"));
    assert!(!grants["teach"].allows("course-v1:edX+Other+Run"));
    // And the password, as its SHA-256 only, for `cairn acl sync --users-xml`.
    let passwords = cairn_acl::sync::passwords(&ch).await.unwrap();
    assert_eq!(
        passwords["teach"],
        cairn_acl::render::sha256_hex(secret),
        "the recorded ClickHouse password"
    );
    ch.drop_database().await.unwrap();
}
