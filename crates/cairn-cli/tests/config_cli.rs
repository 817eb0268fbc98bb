//! `cairn config show` and configuration errors, through the real binary.

use std::process::{Command, Output};

fn cairn(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cairn"));
    cmd.args(args).env_remove("CAIRN_CONFIG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run cairn")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn show_masks_secrets_and_names_origins() {
    let o = cairn(
        &["config", "show"],
        &[
            ("CAIRN_CLICKHOUSE_PASSWORD", "pw-do-not-print"),
            ("MYSQL_HOST", "db.example"),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!out.contains("pw-do-not-print"), "{out}");
    assert!(
        out.lines().any(|l| l.starts_with("MYSQL_HOST")
            && l.contains("db.example")
            && l.contains("environment")),
        "{out}"
    );
}

#[test]
fn bad_config_is_a_one_line_error_naming_the_setting() {
    for (env, needle) in [
        (
            ("CAIRN_CLICKHOUSE_HTTP_PORT", "http"),
            "CAIRN_CLICKHOUSE_HTTP_PORT",
        ),
        (
            ("CAIRN_CLICKHOUSE_HTTP_SCHEME", "gopher"),
            "CAIRN_CLICKHOUSE_HTTP_SCHEME",
        ),
        (
            ("OPENEDX_MYSQL_PASSWORD_FILE", "/nonexistent/cairn-pw"),
            "OPENEDX_MYSQL_PASSWORD_FILE",
        ),
    ] {
        let o = cairn(&["config", "show"], &[env]);
        assert_eq!(o.status.code(), Some(2));
        let e = stderr(&o);
        assert_eq!(e.trim_end().lines().count(), 1, "{e}");
        assert!(e.contains(needle) && e.contains(env.1), "{e}");
    }
}

#[test]
fn missing_config_file_is_named() {
    let o = cairn(
        &["--config", "/nonexistent/cairn.toml", "config", "show"],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/nonexistent/cairn.toml"));
}
