//! Rendering migration templates with the configuration and the server's version.

use cairn_core::sql::{quote_ident, quote_str};
use cairn_core::{Config, ServerVersion};
use minijinja::{Environment, UndefinedBehavior, Value, context};

use crate::MigrateError;
use crate::source::Migration;
use crate::split::split_statements;

/// The values a migration template sees:
///
/// - `db`: the ClickHouse database, quoted as an identifier (`` `openedx` ``);
/// - `clickhouse.database`, `clickhouse.version.major` / `.minor` / `.patch` (numbers:
///   compare them as numbers, e.g. `{% if clickhouse.version.major >= 20 %}`);
/// - `mysql.host`, `.port`, `.address` (`host:port`), `.database`, `.username`, `.password`;
/// - `lms_host`;
/// - `cluster`: `CAIRN_CLICKHOUSE_CLUSTER` (`""` on a single node), for a migration that
///   writes its own `ON CLUSTER` clauses (`{% if cluster %} ON CLUSTER {{ cluster | ident
///   }}{% endif %}`); any other statement is rewritten for the cluster by itself
///   ([`crate::cluster`]);
/// - Tutor Cairn's setting names for existing templates: `CAIRN_CLICKHOUSE_DATABASE`,
///   `MYSQL_HOST`, `MYSQL_PORT`, `OPENEDX_MYSQL_DATABASE`, `OPENEDX_MYSQL_USERNAME`,
///   `OPENEDX_MYSQL_PASSWORD`, `LMS_HOST`.
///
/// Filters: `sqlstr` (a ClickHouse string literal) and `ident` (a quoted identifier).
pub fn template_context(config: &Config, version: ServerVersion) -> Value {
    let m = &config.mysql;
    context! {
        db => quote_ident(&config.clickhouse.database),
        clickhouse => context! {
            database => config.clickhouse.database.clone(),
            version => context! {
                major => version.major,
                minor => version.minor,
                patch => version.patch,
            },
        },
        mysql => context! {
            host => m.host.clone(),
            port => m.port,
            address => format!("{}:{}", m.host, m.port),
            database => m.database.clone(),
            username => m.username.clone(),
            password => m.password.expose().to_owned(),
        },
        lms_host => config.lms.host.clone(),
        cluster => config.clickhouse.cluster.clone(),
        CAIRN_CLICKHOUSE_DATABASE => config.clickhouse.database.clone(),
        MYSQL_HOST => m.host.clone(),
        MYSQL_PORT => m.port,
        OPENEDX_MYSQL_DATABASE => m.database.clone(),
        OPENEDX_MYSQL_USERNAME => m.username.clone(),
        OPENEDX_MYSQL_PASSWORD => m.password.expose().to_owned(),
        LMS_HOST => config.lms.host.clone(),
    }
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.add_filter("sqlstr", |s: String| quote_str(&s));
    env.add_filter("ident", |s: String| quote_ident(&s));
    env
}

/// Renders a migration. A template error names the file, the line and the expression
/// (for an undefined variable, the variable).
pub fn render(m: &Migration, ctx: &Value) -> Result<String, MigrateError> {
    let env = environment();
    env.render_str(&m.template, ctx.clone()).map_err(|e| {
        let line = e.line().unwrap_or(0);
        let expr = e
            .range()
            .and_then(|r| m.template.get(r))
            .map(|s| format!(" `{s}`"))
            .unwrap_or_default();
        let what = match e.kind() {
            minijinja::ErrorKind::UndefinedError => format!("undefined variable{expr}"),
            _ => format!("{}{expr}", e.detail().unwrap_or(&e.kind().to_string())),
        };
        MigrateError::Template {
            file: m.label(),
            line,
            message: what,
        }
    })
}

/// Renders and splits a migration into its statements.
pub fn statements(m: &Migration, ctx: &Value) -> Result<Vec<String>, MigrateError> {
    Ok(split_statements(&render(m, ctx)?))
}

/// Every migration's statements, in order, as they run for `config`: on a cluster
/// (`CAIRN_CLICKHOUSE_CLUSTER`) rewritten by [`crate::cluster::ClusterDdl`], which follows
/// the tables from the first migration on (so all are rendered, applied or not).
pub fn plan(
    migrations: &[Migration],
    config: &Config,
    version: ServerVersion,
) -> Result<Vec<Vec<String>>, MigrateError> {
    let ctx = template_context(config, version);
    let cluster = &config.clickhouse.cluster;
    let mut ddl = (!cluster.is_empty())
        .then(|| crate::cluster::ClusterDdl::new(cluster, &config.clickhouse.database));
    let mut out = Vec::with_capacity(migrations.len());
    for m in migrations {
        let stmts = statements(m, &ctx)?;
        let Some(ddl) = ddl.as_mut() else {
            out.push(stmts);
            continue;
        };
        let mut rewritten = Vec::new();
        for (i, s) in stmts.iter().enumerate() {
            rewritten.extend(ddl.rewrite(s).map_err(|message| MigrateError::Template {
                file: m.label(),
                line: 0,
                message: format!(
                    "statement {} cannot run on cluster {cluster}: {message}",
                    i + 1
                ),
            })?);
        }
        out.push(rewritten);
    }
    Ok(out)
}
