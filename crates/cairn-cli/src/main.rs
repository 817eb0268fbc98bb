//! `cairn`: the command line of Cairn. Each subcommand parses its arguments, calls a
//! library function and prints the result.

use std::path::PathBuf;
use std::process::ExitCode;

use cairn_core::{ClickHouse, Config};
use clap::{Parser, Subcommand};

mod parse;
mod query;

/// Open edX analytics on ClickHouse.
#[derive(Parser)]
#[command(name = "cairn", version, about)]
struct Cli {
    /// Configuration file (default: $CAIRN_CONFIG, else ./cairn.toml if present).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Checks that ClickHouse and the LMS MySQL database answer and prints their versions, and what the data lake holds: migrations applied and pending, the newest event, the last ingestion.
    Status,
    /// Parses tracking logs: one JSON row per event on stdout; skipped and rejected lines
    /// as `FILE:LINE: reason` on stderr, then `parsed N, rejected M, skipped K`.
    Parse(parse::Args),
    /// Test data: `cairn fixtures generate`.
    Fixtures {
        #[command(subcommand)]
        command: FixturesCommand,
    },
    /// Course and platform reports: `cairn report course-overview|at-risk|learners|funnel|problems|navigation|forums|hours|video-curve|learner|compare|platform`.
    Report {
        #[command(subcommand)]
        command: cairn_report::cli::ReportCommand,
    },
    /// Access rights: `cairn acl sync [--dry-run]`, `cairn acl show`.
    Acl {
        #[command(subcommand)]
        command: cairn_acl::cli::AclCommand,
    },
    /// Creates or updates one ClickHouse user with rights to courses or orgs (like Cairn's).
    Createuser(cairn_acl::cli::CreateUserArgs),
    /// The web dashboard: `cairn serve [--listen 127.0.0.1:2247]`.
    Serve(cairn_serve::cli::ServeArgs),
    /// Runs one SQL statement: `cairn query "SQL" [--as USER] [--format table|json|csv]`.
    Query(query::QueryArgs),
    /// An interactive SQL prompt on the data lake (`--as USER`: as that user).
    Client(query::ClientArgs),
    /// Saved charts and dashboards as files: `cairn dashboards export|import DIR`.
    Dashboards {
        #[command(subcommand)]
        command: cairn_serve::cli::DashboardsCommand,
    },
    /// Imports course structure: `cairn import courses --olx PATH`.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Ingests tracking logs into ClickHouse (same as `cairn-import events`).
    Ingest(cairn_import::cli::IngestArgs),
    /// Retires the learners the LMS has retired: their events scrubbed (CAIRN_RETIREMENT=
    /// scrub, under a pseudonym) or deleted, their names removed everywhere (`--dry-run`
    /// counts).
    Retire(cairn_retire::cli::RetireArgs),
    /// Scheduled e-mail reports: `cairn reports add|list|remove|send-now|run-due`.
    Reports {
        #[command(subcommand)]
        command: cairn_mail::cli::ReportsCommand,
    },
    /// Pre-aggregates the learner days that events changed since (`cairn serve` does it
    /// every CAIRN_AGGREGATE_INTERVAL s); resumable (`--max-days N`).
    Aggregate(cairn_report::cli::AggregateArgs),
    /// Drops the monthly partitions of `events` older than the retention
    /// (`--months N` or CAIRN_EVENTS_RETENTION_MONTHS; `--dry-run` lists them).
    Retention(cairn_import::cli::RetentionArgs),
    /// ClickHouse migrations (same as the `cairn-migrate` binary).
    Migrate {
        #[command(subcommand)]
        command: cairn_migrate::cli::Command,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Course structure into course_blocks (same as `cairn-import courses`).
    Courses(cairn_import::cli::CoursesArgs),
    /// Answers of problem submissions stored before Cairn derived them (migration 0019),
    /// from their raw messages; resumable (same as `cairn-import answers`).
    Answers,
}

#[derive(Subcommand)]
enum FixturesCommand {
    /// Writes a deterministic Tutor-format tracking.log, the matching LMS seed
    /// (lms-seed.sql) and truth.json into a folder.
    Generate {
        /// Output folder.
        #[arg(long, default_value = "fixtures-out")]
        out: PathBuf,
        /// Random seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Learners.
        #[arg(long, default_value_t = 100)]
        learners: u32,
        /// Courses.
        #[arg(long, default_value_t = 2)]
        courses: u32,
        /// Days.
        #[arg(long, default_value_t = 14)]
        days: u32,
        /// First day (YYYY-MM-DD).
        #[arg(long, default_value = "2026-01-05")]
        start: chrono::NaiveDate,
        /// One bad line per this many events (0: none).
        #[arg(long, default_value_t = 1000)]
        bad_every: u64,
        /// Number of the first course (C01 is 1): several runs make distinct courses.
        #[arg(long, default_value_t = 1)]
        first_course: u32,
        /// Id of the first learner: several runs make distinct learners.
        #[arg(long, default_value_t = 1)]
        first_learner: u32,
        /// Write the tracking log to stdout (for `| cairn ingest -`) instead of into the
        /// folder, keeping no per-event truth (no truth.json): for logs too large for the
        /// disk. lms-seed.sql and the OLX still go into the folder.
        #[arg(long)]
        stdout: bool,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Prints the effective configuration, secrets masked, with where each value came from.
    Show,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = cairn_core::logging::init() {
        eprintln!("cairn: {e}");
        return ExitCode::from(2);
    }
    match &cli.command {
        // These need no configuration.
        Command::Parse(args) => return parse::run(args),
        Command::Fixtures { command } => return fixtures(command),
        _ => {}
    }
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cairn: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Config {
            command: ConfigCommand::Show,
        } => {
            print!("{}", config.show());
            Ok(())
        }
        Command::Status => runtime().block_on(status(&config)),
        Command::Parse(_) | Command::Fixtures { .. } => {
            unreachable!("handled before loading the configuration")
        }
        Command::Migrate { command } => return cairn_migrate::cli::run(&command, &config),
        Command::Ingest(args) => {
            let task = together(retirement(&config), aggregation(&config));
            return cairn_import::cli::ingest_with(&args, &config, task);
        }
        Command::Retire(args) => return cairn_retire::cli::retire(&args, &config),
        Command::Retention(args) => return cairn_import::cli::retention(&args, &config),
        Command::Aggregate(args) => return cairn_report::cli::aggregate(&args, &config),
        Command::Acl { command } => return cairn_acl::cli::acl(&command, &config),
        Command::Report { command } => return cairn_report::cli::run(&command, &config),
        Command::Reports { command } => return cairn_mail::cli::run(&command, &config),
        Command::Serve(args) => {
            let task = together(
                together(retirement(&config), reports(&config)),
                aggregation(&config),
            );
            return cairn_serve::cli::run_with(&args, &config, task);
        }
        Command::Query(args) => return query::query(&args, &config),
        Command::Client(args) => return query::client(&args, &config),
        Command::Dashboards { command } => {
            return cairn_serve::cli::dashboards(&command, &config);
        }
        Command::Createuser(args) => return cairn_acl::cli::create_user(&args, &config),
        Command::Import {
            command: ImportCommand::Courses(args),
        } => {
            return cairn_import::cli::import_courses(&args, &config);
        }
        Command::Import {
            command: ImportCommand::Answers,
        } => return cairn_import::cli::backfill_answers(&config),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cairn: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Scheduled learner retirement, for `cairn serve` and `cairn ingest --follow`.
fn retirement(config: &Config) -> Option<cairn_core::Background> {
    let config = config.clone();
    (config.retirement.interval_secs > 0).then(|| -> cairn_core::Background {
        Box::new(move |ch| Box::pin(cairn_retire::cli::schedule(ch, config)))
    })
}

/// Sending due e-mail reports, for `cairn serve`.
fn reports(config: &Config) -> Option<cairn_core::Background> {
    let config = config.clone();
    (config.reports.interval_secs > 0).then(|| -> cairn_core::Background {
        Box::new(move |ch| Box::pin(cairn_mail::cli::schedule(ch, config)))
    })
}

/// Pre-aggregating learner days and copying the LMS tables (or, with copies off, dropping
/// the earlier ones), for `cairn serve` and `cairn ingest --follow`.
fn aggregation(config: &Config) -> Option<cairn_core::Background> {
    let config = config.clone();
    Some(Box::new(move |ch| {
        Box::pin(cairn_report::cli::schedule(ch, config))
    }))
}

/// Both background tasks, side by side.
fn together(
    a: Option<cairn_core::Background>,
    b: Option<cairn_core::Background>,
) -> Option<cairn_core::Background> {
    match (a, b) {
        (Some(a), Some(b)) => Some(Box::new(move |ch: ClickHouse| {
            Box::pin(async move {
                tokio::join!(a(ch.clone()), b(ch));
            })
        })),
        (a, b) => a.or(b),
    }
}

fn fixtures(cmd: &FixturesCommand) -> ExitCode {
    let FixturesCommand::Generate {
        out,
        seed,
        learners,
        courses,
        days,
        start,
        bad_every,
        first_course,
        first_learner,
        stdout,
    } = cmd;
    let spec = cairn_fixtures::Spec {
        seed: *seed,
        learners: *learners,
        courses: *courses,
        days: *days,
        start: *start,
        bad_every: *bad_every,
        first_course: *first_course,
        first_learner: *first_learner,
    };
    if *stdout {
        return match cairn_fixtures::stream(&spec, out, std::io::stdout()) {
            Ok(truth) => {
                eprintln!(
                    "wrote the tracking log to stdout ({} events, {} bad lines), {}/lms-seed.sql",
                    truth.events,
                    truth.bad_lines,
                    out.display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("cairn fixtures generate: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match cairn_fixtures::generate(&spec, out) {
        Ok(truth) => {
            println!(
                "wrote {}/tracking.log ({} events, {} bad lines), lms-seed.sql, truth.json",
                out.display(),
                truth.events,
                truth.bad_lines
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cairn fixtures generate: {}: {e}", out.display());
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Seconds as the dashboard reads them: "42 s", "12.5 min", "3.2 h", "7.9 days".
fn duration_text(seconds: u64) -> String {
    let s = seconds as f64;
    match seconds {
        0..120 => format!("{seconds} s"),
        120..7_200 => format!("{:.1} min", s / 60.0),
        7_200..172_800 => format!("{:.1} h", s / 3_600.0),
        _ => format!("{:.1} days", s / 86_400.0),
    }
}

/// `cairn status`'s line on the data lake: its migrations, newest event and last ingestion.
async fn lake_status(ch: &ClickHouse, config: &Config) -> cairn_core::Result<String> {
    if !ch.database_exists().await? {
        return Ok(format!(
            "database {} does not exist yet (`cairn migrate up` makes it)",
            ch.database()
        ));
    }
    let migrate = |e: cairn_migrate::MigrateError| cairn_core::Error::Other(e.to_string());
    let rows = cairn_migrate::Migrator::connect(config)
        .await
        .map_err(migrate)?
        .status()
        .await
        .map_err(migrate)?;
    let pending = rows
        .iter()
        .filter(|r| r.state == cairn_migrate::engine::State::Pending)
        .count();
    let migrations = match pending {
        0 => format!("{} migrations applied, none pending", rows.len()),
        n => format!(
            "{} migrations applied, {n} pending (`cairn migrate up` applies them)",
            rows.len() - n
        ),
    };
    if pending == rows.len() {
        return Ok(migrations);
    }
    let now = chrono::Utc::now().naive_utc();
    let f = cairn_report::freshness(ch, now).await?;
    let newest = if f.newest_event.is_empty() {
        "no event yet".to_owned()
    } else {
        format!(
            "newest event {} UTC ({} before now)",
            f.newest_event,
            duration_text(f.lag_seconds)
        )
    };
    let last = if f.last_ingest.is_empty() {
        "no ingestion yet".to_owned()
    } else {
        format!("last ingestion {} UTC", f.last_ingest)
    };
    Ok(format!("{migrations}; {newest}, {last}"))
}

async fn status(config: &Config) -> cairn_core::Result<()> {
    let ch = ClickHouse::connect(&config.clickhouse).await?;
    println!(
        "ClickHouse {} at {} (database {})",
        ch.version(),
        config.clickhouse.url(),
        config.clickhouse.database
    );
    // The data lake's state is information: what `status` checks (and a container's health
    // check relies on) is that the servers answer.
    match lake_status(&ch, config).await {
        Ok(line) => println!("Data lake: {line}"),
        Err(e) => println!("Data lake: its state could not be read: {e}"),
    }
    let version = cairn_core::mysql::server_version(&config.mysql).await?;
    println!(
        "MySQL {} at {}:{} (database {})",
        version, config.mysql.host, config.mysql.port, config.mysql.database
    );
    Ok(())
}
