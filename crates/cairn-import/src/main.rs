//! The `cairn-import` binary: `cairn-import events …` and `cairn-import courses …`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Cairn's importers.
#[derive(Parser)]
#[command(name = "cairn-import", version, about)]
struct Args {
    /// Configuration file (default: $CAIRN_CONFIG, else ./cairn.toml if present).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Tracking logs into ClickHouse (same as `cairn ingest`).
    Events(cairn_import::cli::IngestArgs),
    /// Course structure into course_blocks (same as `cairn import courses`).
    Courses(cairn_import::cli::CoursesArgs),
    /// Answers of problem submissions stored before Cairn derived them (same as `cairn
    /// import answers`).
    Answers,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(e) = cairn_core::logging::init() {
        eprintln!("cairn-import: {e}");
        return ExitCode::from(2);
    }
    let config = match cairn_core::Config::load(args.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cairn-import: {e}");
            return ExitCode::from(2);
        }
    };
    match args.command {
        Command::Events(a) => cairn_import::cli::ingest(&a, &config),
        Command::Courses(a) => cairn_import::cli::import_courses(&a, &config),
        Command::Answers => cairn_import::cli::backfill_answers(&config),
    }
}
