//! The `cairn-migrate` binary: `up`, `status`, `render`, `new`, `unlock`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Cairn's ClickHouse migrations.
#[derive(Parser)]
#[command(name = "cairn-migrate", version, about)]
struct Args {
    /// Configuration file (default: $CAIRN_CONFIG, else ./cairn.toml if present).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: cairn_migrate::cli::Command,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(e) = cairn_core::logging::init() {
        eprintln!("cairn-migrate: {e}");
        return ExitCode::from(2);
    }
    match cairn_core::Config::load(args.config.as_deref()) {
        Ok(config) => cairn_migrate::cli::run(&args.command, &config),
        Err(e) => {
            eprintln!("cairn-migrate: {e}");
            ExitCode::from(2)
        }
    }
}
