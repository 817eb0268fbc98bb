//! The `migrate` command line, shared by the `cairn-migrate` binary and `cairn migrate`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use cairn_core::{Config, ServerVersion};
use clap::Subcommand;

use crate::engine::{Migrator, State, UpOptions, render_all};
use crate::{MigrateError, source};

/// Output format for `status`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Format {
    /// A table for people.
    Table,
    /// JSON for scripts.
    Json,
}

/// `migrate` subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Applies pending migrations (resuming a partially applied one).
    Up {
        /// Stop after this migration (file name).
        #[arg(long, value_name = "NAME")]
        to: Option<String>,
        /// Print the rendered SQL of pending migrations; apply nothing.
        #[arg(long)]
        dry_run: bool,
        /// Record pending migrations as applied without running them.
        #[arg(long)]
        fake: bool,
        /// Go on even though applied migrations changed since.
        #[arg(long)]
        allow_drift: bool,
        /// Seconds to wait for another run's lock.
        #[arg(long, default_value_t = 120)]
        lock_wait: u64,
        /// Output format of the report.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Shows every migration: source, applied-at, checksum state, pending.
    Status {
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Writes the rendered statements, one file per migration, to a folder.
    Render {
        /// Output folder.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Render for this ClickHouse version (e.g. 26.9) instead of asking the server.
        #[arg(long, value_name = "VERSION")]
        clickhouse_version: Option<ServerVersion>,
    },
    /// Creates the next numbered migration file in a folder.
    New {
        /// Migration name (becomes NNNN_name.sql).
        name: String,
        /// Folder (default: the first CAIRN_MIGRATIONS_FOLDER).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Releases a migration lock left by a run that died.
    Unlock,
}

fn owner() -> String {
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    format!(
        "cairn-migrate pid {} on {}",
        std::process::id(),
        host.trim()
    )
}

fn state_text(s: &State) -> String {
    match s {
        State::Pending => "pending".into(),
        State::Applied => "applied".into(),
        State::Fake => "applied (fake)".into(),
        State::AppliedByCairn => "applied (by Tutor Cairn, no checksum)".into(),
        State::Partial { done, total } => format!("partial: {done}/{total} statements"),
        State::Drift => "DRIFT: changed since applied".into(),
        State::Missing => "applied, file missing".into(),
    }
}

async fn run_async(cmd: &Command, config: &Config) -> Result<(), MigrateError> {
    match cmd {
        Command::Up {
            to,
            dry_run,
            fake,
            allow_drift,
            lock_wait,
            format,
        } => {
            let m = Migrator::connect(config).await?;
            let opts = UpOptions {
                to: to.clone(),
                dry_run: *dry_run,
                fake: *fake,
                allow_drift: *allow_drift,
                lock_wait: Duration::from_secs(*lock_wait),
                owner: owner(),
            };
            let report = m.up(&opts, |msg| eprintln!("cairn-migrate: {msg}")).await?;
            match format {
                Format::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&report).unwrap_or_default()
                ),
                Format::Table if *dry_run => {
                    for (name, stmts) in &report.would_run {
                        println!("-- {name}");
                        for s in stmts {
                            println!("{s};\n");
                        }
                    }
                    if report.would_run.is_empty() {
                        println!("-- nothing to apply");
                    }
                }
                Format::Table => {
                    if report.applied.is_empty() {
                        println!(
                            "up to date: {} migrations, nothing to apply",
                            m.migrations().len()
                        );
                    } else {
                        println!("applied {} migrations", report.applied.len());
                    }
                }
            }
            Ok(())
        }
        Command::Status { format } => {
            let m = Migrator::connect(config).await?;
            let rows = m.status().await?;
            match format {
                Format::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&rows).unwrap_or_default()
                ),
                Format::Table => {
                    println!("{:<36} {:<10} {:<20} STATE", "NAME", "SOURCE", "APPLIED AT");
                    for r in &rows {
                        println!(
                            "{:<36} {:<10} {:<20} {}",
                            r.name,
                            r.source,
                            r.applied_at.as_deref().unwrap_or("-"),
                            state_text(&r.state)
                        );
                    }
                    let pending = rows.iter().filter(|r| r.state == State::Pending).count();
                    println!("{pending} pending");
                }
            }
            Ok(())
        }
        Command::Render {
            out,
            clickhouse_version,
        } => {
            let migrations = source::load(&config.migrations_folders)?;
            let version = match clickhouse_version {
                Some(v) => *v,
                None => cairn_core::ClickHouse::connect(&config.clickhouse)
                    .await?
                    .version(),
            };
            let files = render_all(&migrations, config, version, out)?;
            println!(
                "rendered {} files for ClickHouse {version} into {}",
                files.len(),
                out.display()
            );
            Ok(())
        }
        Command::New { name, dir } => {
            let dir = dir
                .clone()
                .or_else(|| config.migrations_folders.first().cloned())
                .ok_or_else(|| {
                    MigrateError::Other(
                        "no folder: pass --dir or set CAIRN_MIGRATIONS_FOLDER".into(),
                    )
                })?;
            let path = source::create_next(&dir, name)?;
            println!("{}", path.display());
            Ok(())
        }
        Command::Unlock => {
            let ch = cairn_core::ClickHouse::connect(&config.clickhouse).await?;
            let n = crate::lock::force_unlock(&ch).await?;
            println!("released {n} lock claims");
            Ok(())
        }
    }
}

/// Runs a `migrate` subcommand; errors go to stderr with a specific exit code
/// ([`MigrateError::exit_code`]).
pub fn run(cmd: &Command, config: &Config) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cairn-migrate: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run_async(cmd, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cairn-migrate: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
