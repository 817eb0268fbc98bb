//! `cairn createuser` and `cairn acl sync` through the real binary.

use std::process::Command;

fn cairn(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cairn"));
    cmd.args(args).env(
        "CAIRN_CONFIG",
        cairn_core::testing::workspace_dir().join(".cairn/cairn.toml"),
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
fn createuser_needs_a_scope_and_applying_is_refused_on_18_16() {
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
    // The local server (scripts/services) is 18.16, which has no access control.
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("needs ClickHouse 21.8 or newer; the server is 18.16"),
        "{err}"
    );
}
