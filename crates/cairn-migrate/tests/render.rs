//! Snapshots of the rendered built-in migrations for a fixed configuration.

use cairn_core::{Config, ServerVersion};
use cairn_migrate::render::{statements, template_context};
use cairn_migrate::source;

fn fixed_config() -> Config {
    let env = |k: &str| -> Option<String> {
        match k {
            "CAIRN_CLICKHOUSE_DATABASE" => Some("openedx".into()),
            "MYSQL_HOST" => Some("mysql".into()),
            "MYSQL_PORT" => Some("3306".into()),
            "OPENEDX_MYSQL_DATABASE" => Some("openedx".into()),
            "OPENEDX_MYSQL_USERNAME" => Some("cairn_reader".into()),
            "OPENEDX_MYSQL_PASSWORD" => Some("fixture-pa'ss".into()),
            _ => None,
        }
    };
    Config::from_sources(None, env).unwrap()
}

#[test]
fn rendered_builtin_migrations() {
    let config = fixed_config();
    for version in [ServerVersion::new(18, 16), ServerVersion::new(26, 9)] {
        let ctx = template_context(&config, version);
        let mut out = String::new();
        for m in source::builtin() {
            out.push_str(&format!("-- {}\n", m.name));
            for s in statements(&m, &ctx).unwrap() {
                out.push_str(&s);
                out.push_str(";\n\n");
            }
        }
        insta::assert_snapshot!(format!("builtin_{}_{}", version.major, version.minor), out);
    }
}

#[test]
fn secrets_are_quoted_as_sql_strings() {
    let ctx = template_context(&fixed_config(), ServerVersion::new(26, 9));
    let m = source::builtin()
        .into_iter()
        .find(|m| m.name == "0004_openedx_mysql.sql")
        .unwrap();
    let stmts = statements(&m, &ctx).unwrap();
    assert!(stmts[0].contains(r"'fixture-pa\'ss'"), "{}", stmts[0]);
    assert!(
        !stmts.iter().any(|s| s.contains("password String")),
        "auth_user.password is never exposed"
    );
}
