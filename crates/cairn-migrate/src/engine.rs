//! Applying migrations and reading their state.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cairn_core::sql::quote_ident;
use cairn_core::{ClickHouse, Config, ServerVersion};
use clickhouse::Row;
use serde::{Deserialize, Serialize};

use crate::MigrateError;
use crate::lock::Lock;
use crate::render::plan;
use crate::source::{self, Migration};

/// Columns Cairn adds to Tutor Cairn's `_migrations (name String)`, with their types.
const STATE_COLUMNS: &[(&str, &str)] = &[
    ("checksum", "String"),
    ("applied_at", "DateTime"),
    ("statements_done", "UInt32"),
    ("statements_total", "UInt32"),
    ("status", "String"),
    ("source", "String"),
    ("version", "UInt64"),
];

/// What `_migrations` says of one migration (its latest record).
#[derive(Debug, Clone, PartialEq, Row, Deserialize)]
pub struct Applied {
    /// File name.
    pub name: String,
    /// Checksum of the template source when it was applied (`""` for Tutor Cairn's rows).
    #[serde(rename = "last_checksum")]
    pub checksum: String,
    /// When (Unix seconds).
    #[serde(rename = "last_applied_at")]
    pub applied_at: u32,
    /// Statements that succeeded.
    #[serde(rename = "last_done")]
    pub statements_done: u32,
    /// Statements in the file when it ran.
    #[serde(rename = "last_total")]
    pub statements_total: u32,
    /// `applied`, `partial`, `fake`, or `""` (Tutor Cairn).
    #[serde(rename = "last_status")]
    pub status: String,
    /// Where the file came from.
    #[serde(rename = "last_source")]
    pub source: String,
}

/// The state of one migration, as `status` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Not applied yet.
    Pending,
    /// Applied with this exact template.
    Applied,
    /// Recorded without running (`--fake`).
    Fake,
    /// Applied by Tutor Cairn (no checksum recorded): trusted as applied.
    AppliedByCairn,
    /// Stopped after `done` of `total` statements; `up` resumes after them.
    Partial {
        /// Statements that succeeded.
        done: u32,
        /// Statements in the file.
        total: u32,
    },
    /// Applied, but the template changed since.
    Drift,
    /// Recorded as applied, but no such file is known any more.
    Missing,
}

/// One row of `status`.
#[derive(Debug, Clone, Serialize)]
pub struct StatusRow {
    /// File name.
    pub name: String,
    /// `builtin` or the folder.
    pub source: String,
    /// When it was applied (`YYYY-MM-DD HH:MM:SS`), if it was.
    pub applied_at: Option<String>,
    /// State.
    pub state: State,
}

/// Options of `up`.
#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    /// Stop after this migration (inclusive).
    pub to: Option<String>,
    /// Render and report, apply nothing.
    pub dry_run: bool,
    /// Record as applied without running.
    pub fake: bool,
    /// Go on although applied migrations changed.
    pub allow_drift: bool,
    /// How long to wait for another run's lock.
    pub lock_wait: Duration,
    /// Who we are, for the lock (shown to other runs).
    pub owner: String,
}

/// What `up` did (or, with `dry_run`, would do).
#[derive(Debug, Clone, Default, Serialize)]
pub struct UpReport {
    /// Migrations applied (or faked), with the statements run.
    pub applied: Vec<(String, usize)>,
    /// For a dry run: each pending migration's rendered statements.
    pub would_run: Vec<(String, Vec<String>)>,
    /// Migrations that resumed after earlier statements.
    pub resumed: Vec<(String, u32)>,
}

/// Applies migrations to one ClickHouse database.
pub struct Migrator {
    ch: ClickHouse,
    config: Config,
    migrations: Vec<Migration>,
}

fn now_version() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

fn fmt_time(secs: u32) -> String {
    chrono::DateTime::from_timestamp(i64::from(secs), 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

impl Migrator {
    /// A migrator for the configured database with the built-in migrations and those of
    /// `CAIRN_MIGRATIONS_FOLDER`.
    pub async fn connect(config: &Config) -> Result<Migrator, MigrateError> {
        let migrations = source::load(&config.migrations_folders)?;
        let ch = ClickHouse::connect(&config.clickhouse).await?;
        Ok(Migrator::with(ch, config.clone(), migrations))
    }

    /// A migrator from its parts (tests use their own database and migration sets).
    pub fn with(ch: ClickHouse, mut config: Config, migrations: Vec<Migration>) -> Migrator {
        config.clickhouse.database = ch.database().to_owned();
        Migrator {
            ch,
            config,
            migrations,
        }
    }

    /// The migrations, in order.
    pub fn migrations(&self) -> &[Migration] {
        &self.migrations
    }

    /// The server's version.
    pub fn version(&self) -> ServerVersion {
        self.ch.version()
    }

    fn state_table(&self) -> String {
        format!("{}._migrations", quote_ident(self.ch.database()))
    }

    /// Creates the database and `_migrations` (adding Cairn's columns to a Tutor Cairn
    /// table that has only `name`).
    async fn ensure_state_table(&self) -> Result<(), MigrateError> {
        self.ch.create_database().await?;
        let columns: Vec<String> = STATE_COLUMNS
            .iter()
            .map(|(c, t)| format!("{c} {t}"))
            .collect();
        self.ch
            .execute(&format!(
                "CREATE TABLE IF NOT EXISTS {}{} (name String, {}) ENGINE = {} ORDER BY name",
                self.state_table(),
                cairn_core::cluster::on_cluster(self.ch.cluster()),
                columns.join(", "),
                self.ch.everywhere_engine("MergeTree", "_migrations"),
            ))
            .await?;
        // A Tutor Cairn table has only `name`: add the missing columns. Another run may be
        // adding them at the same time; what matters is that they exist afterwards.
        for (col, ty) in STATE_COLUMNS {
            if !self.state_columns().await?.iter().any(|h| h == col) {
                let added = self
                    .ch
                    .execute(&format!(
                        "ALTER TABLE {} ADD COLUMN {col} {ty}",
                        self.state_table()
                    ))
                    .await;
                if let Err(e) = added
                    && !self.state_columns().await?.iter().any(|h| h == col)
                {
                    return Err(e.into());
                }
            }
        }
        Ok(())
    }

    async fn state_columns(&self) -> Result<Vec<String>, MigrateError> {
        Ok(self
            .ch
            .client()
            .query("SELECT name FROM system.columns WHERE database = ? AND table = '_migrations'")
            .bind(self.ch.database())
            .fetch_all()
            .await
            .map_err(|e| cairn_core::Error::clickhouse("reading system.columns", e))?)
    }

    /// The query of `applied`: the latest record of every migration.
    fn applied_sql(&self) -> String {
        format!(
            "SELECT name, argMax(checksum, version) AS last_checksum, \
             toUInt32(argMax(applied_at, version)) AS last_applied_at, \
             argMax(statements_done, version) AS last_done, argMax(statements_total, version) AS last_total, \
             argMax(status, version) AS last_status, argMax(source, version) AS last_source \
             FROM {} GROUP BY name ORDER BY name",
            self.state_table()
        )
    }

    /// The latest record of every migration in `_migrations` (none if it does not exist).
    pub async fn applied(&self) -> Result<BTreeMap<String, Applied>, MigrateError> {
        if !self.ch.database_exists().await? {
            return Ok(BTreeMap::new());
        }
        let exists: u64 = self
            .ch
            .client()
            .query("SELECT count() FROM system.tables WHERE database = ? AND name = '_migrations'")
            .bind(self.ch.database())
            .fetch_one()
            .await
            .map_err(|e| cairn_core::Error::clickhouse("reading system.tables", e))?;
        if exists == 0 {
            return Ok(BTreeMap::new());
        }
        self.ensure_state_table().await?;
        let sql = self.applied_sql();
        let rows: Vec<Applied> = self
            .ch
            .client()
            .query(&sql)
            .fetch_all()
            .await
            .map_err(|e| cairn_core::Error::clickhouse("reading _migrations", e))?;
        Ok(rows.into_iter().map(|r| (r.name.clone(), r)).collect())
    }

    fn state_of(m: &Migration, a: Option<&Applied>) -> State {
        match a {
            None => State::Pending,
            Some(a) if a.status == "partial" => State::Partial {
                done: a.statements_done,
                total: a.statements_total,
            },
            Some(a) if a.checksum.is_empty() => State::AppliedByCairn,
            Some(a) if a.checksum != m.checksum => State::Drift,
            Some(a) if a.status == "fake" => State::Fake,
            Some(_) => State::Applied,
        }
    }

    /// The names of the migrations not applied yet, in order.
    pub async fn pending(&self) -> Result<Vec<String>, MigrateError> {
        Ok(self
            .status()
            .await?
            .into_iter()
            .filter(|r| r.state == State::Pending)
            .map(|r| r.name)
            .collect())
    }

    /// The state of every migration, plus recorded ones whose file is gone.
    pub async fn status(&self) -> Result<Vec<StatusRow>, MigrateError> {
        let applied = self.applied().await?;
        let mut rows: Vec<StatusRow> = self
            .migrations
            .iter()
            .map(|m| {
                let a = applied.get(&m.name);
                StatusRow {
                    name: m.name.clone(),
                    source: m.origin.to_string(),
                    applied_at: a
                        .filter(|a| a.applied_at > 0)
                        .map(|a| fmt_time(a.applied_at)),
                    state: Self::state_of(m, a),
                }
            })
            .collect();
        for (name, a) in &applied {
            if !self.migrations.iter().any(|m| &m.name == name) {
                rows.push(StatusRow {
                    name: name.clone(),
                    source: a.source.clone(),
                    applied_at: Some(fmt_time(a.applied_at)),
                    state: State::Missing,
                });
            }
        }
        rows.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(rows)
    }

    async fn record(
        &self,
        m: &Migration,
        done: usize,
        total: usize,
        status: &str,
    ) -> Result<(), MigrateError> {
        let sql = format!(
            "INSERT INTO {} (name, checksum, applied_at, statements_done, statements_total, status, source, version) \
             SELECT ?, ?, now(), toUInt32(?), toUInt32(?), ?, ?, toUInt64(?)",
            self.state_table()
        );
        self.ch
            .client()
            .query(&sql)
            .bind(&m.name)
            .bind(&m.checksum)
            .bind(done as u64)
            .bind(total as u64)
            .bind(status)
            .bind(m.origin.to_string())
            .bind(now_version())
            .execute()
            .await
            .map_err(|e| cairn_core::Error::clickhouse("recording in _migrations", e))?;
        Ok(())
    }

    /// Applies pending migrations in name order (resuming a partial one after its last
    /// successful statement). Renders every pending migration before applying any, so a
    /// template error applies nothing.
    pub async fn up(
        &self,
        opts: &UpOptions,
        mut on_progress: impl FnMut(&str),
    ) -> Result<UpReport, MigrateError> {
        if let Some(to) = &opts.to
            && !self.migrations.iter().any(|m| &m.name == to)
        {
            return Err(MigrateError::UnknownTarget(to.clone()));
        }
        let lock = if opts.dry_run {
            None
        } else {
            self.ensure_state_table().await?;
            Some(
                crate::lock::acquire(&self.ch, &opts.owner, opts.lock_wait, |owner, since| {
                    on_progress(&format!(
                        "waiting for the migration lock held by {owner} since {since}"
                    ))
                })
                .await?,
            )
        };
        let result = self.up_locked(opts, lock.as_ref(), &mut on_progress).await;
        if let Some(lock) = lock {
            lock.release(&self.ch).await?;
        }
        result
    }

    async fn up_locked(
        &self,
        opts: &UpOptions,
        lock: Option<&Lock>,
        on_progress: &mut impl FnMut(&str),
    ) -> Result<UpReport, MigrateError> {
        let applied = self.applied().await?;
        let drift: Vec<String> = self
            .migrations
            .iter()
            .filter(|m| Self::state_of(m, applied.get(&m.name)) == State::Drift)
            .map(|m| m.label())
            .collect();
        if !drift.is_empty() && !opts.allow_drift {
            return Err(MigrateError::Drift(drift));
        }
        let all = plan(&self.migrations, &self.config, self.ch.version())?;
        let mut plan = Vec::new();
        for (m, stmts) in self.migrations.iter().zip(all) {
            let skip = match Self::state_of(m, applied.get(&m.name)) {
                State::Pending => Some(0),
                State::Partial { done, .. } => Some(done as usize),
                _ => None,
            };
            if let Some(skip) = skip {
                plan.push((m, skip, stmts));
            }
            if opts.to.as_ref() == Some(&m.name) {
                break;
            }
        }
        let mut report = UpReport::default();
        for (m, skip, stmts) in plan {
            if opts.dry_run {
                report
                    .would_run
                    .push((m.name.clone(), stmts.into_iter().skip(skip).collect()));
                continue;
            }
            if opts.fake {
                self.record(m, stmts.len(), stmts.len(), "fake").await?;
                on_progress(&format!("faked {}", m.label()));
                report.applied.push((m.name.clone(), 0));
                continue;
            }
            if skip > 0 {
                on_progress(&format!("resuming {} after statement {skip}", m.label()));
                report.resumed.push((m.name.clone(), skip as u32));
            }
            for (i, stmt) in stmts.iter().enumerate().skip(skip) {
                if let Err(e) = self.ch.execute(stmt).await {
                    self.record(m, i, stmts.len(), "partial").await?;
                    let message = match e {
                        cairn_core::Error::ClickHouse { message, .. } => message,
                        other => other.to_string(),
                    };
                    return Err(MigrateError::Statement {
                        file: m.label(),
                        number: i + 1,
                        total: stmts.len(),
                        message,
                    });
                }
                if i + 1 < stmts.len() {
                    self.record(m, i + 1, stmts.len(), "partial").await?;
                }
            }
            self.record(m, stmts.len(), stmts.len(), "applied").await?;
            on_progress(&format!(
                "applied {} ({} statements)",
                m.label(),
                stmts.len() - skip
            ));
            report.applied.push((m.name.clone(), stmts.len() - skip));
            if let Some(lock) = lock {
                lock.refresh(&self.ch).await?;
            }
        }
        Ok(report)
    }

    /// Writes every migration's rendered statements to `dir`, one file per migration (plus
    /// `0000_database.sql` creating the database), for review and `scripts/ch-modern-check`.
    pub fn render_to(
        &self,
        dir: &Path,
        version: ServerVersion,
    ) -> Result<Vec<String>, MigrateError> {
        render_all(&self.migrations, &self.config, version, dir)
    }
}

/// Renders `migrations` for `config` and `version` into `dir` (see [`Migrator::render_to`]).
pub fn render_all(
    migrations: &[Migration],
    config: &Config,
    version: ServerVersion,
    dir: &Path,
) -> Result<Vec<String>, MigrateError> {
    let io = |e: std::io::Error| MigrateError::Folder {
        path: dir.to_path_buf(),
        message: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let cluster = &config.clickhouse.cluster;
    // On a cluster the statements can only be parsed by a server of one node.
    let (for_what, check) = if cluster.is_empty() {
        (String::new(), "")
    } else {
        (
            format!(" on cluster {cluster}"),
            "-- cairn-check: parse-only\n",
        )
    };
    let mut written = vec!["0000_database.sql".to_owned()];
    std::fs::write(
        dir.join("0000_database.sql"),
        format!(
            "{check}-- rendered by cairn-migrate for ClickHouse {version}{for_what}\nCREATE DATABASE IF NOT EXISTS {}{};\n",
            quote_ident(&config.clickhouse.database),
            cairn_core::cluster::on_cluster(cluster),
        ),
    )
    .map_err(io)?;
    for (m, stmts) in migrations.iter().zip(plan(migrations, config, version)?) {
        let mut text = format!(
            "{check}-- {} rendered for ClickHouse {version}{for_what}\n",
            m.label()
        );
        for s in &stmts {
            text.push_str(s);
            text.push_str(";\n\n");
        }
        std::fs::write(dir.join(&m.name), text).map_err(io)?;
        written.push(m.name.clone());
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On the live server: `applied`'s columns are `Applied`'s (current servers check).
    #[tokio::test(flavor = "multi_thread")]
    async fn applied_columns_are_the_row_fields() {
        let ch = crate::testing::data_lake("migrate_applied_columns").await;
        let m = Migrator::with(
            ch.clone(),
            cairn_core::testing::config(),
            crate::source::builtin(),
        );
        let q = ch.client().query(&m.applied_sql());
        cairn_core::testing::assert_row_columns::<Applied>("applied migrations", q).await;
        ch.drop_database().await.unwrap();
    }
}
