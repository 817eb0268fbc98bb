//! `cairn`: the command line of Cairn. Each subcommand parses its arguments, calls a
//! library function and prints the result.

use std::path::PathBuf;
use std::process::ExitCode;

use cairn_core::{ClickHouse, Config};
use clap::{Parser, Subcommand};

mod parse;

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
    /// Checks that ClickHouse and the LMS MySQL database answer, and prints their versions.
    Status,
    /// Parses tracking logs: one JSON row per event on stdout; skipped and rejected lines
    /// as `FILE:LINE: reason` on stderr, then `parsed N, rejected M, skipped K`.
    Parse(parse::Args),
    /// Ingests tracking logs into ClickHouse (same as `cairn-import events`).
    Ingest(cairn_import::cli::IngestArgs),
    /// ClickHouse migrations (same as the `cairn-migrate` binary).
    Migrate {
        #[command(subcommand)]
        command: cairn_migrate::cli::Command,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Prints the effective configuration, secrets masked, with where each value came from.
    Show,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Parse(args) = &cli.command {
        // Parsing needs no configuration.
        return parse::run(args);
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
        Command::Parse(_) => unreachable!("handled before loading the configuration"),
        Command::Migrate { command } => return cairn_migrate::cli::run(&command, &config),
        Command::Ingest(args) => return cairn_import::cli::ingest(&args, &config),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cairn: {e}");
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

async fn status(config: &Config) -> cairn_core::Result<()> {
    let ch = ClickHouse::connect(&config.clickhouse).await?;
    println!(
        "ClickHouse {} at {} (database {})",
        ch.version(),
        config.clickhouse.url(),
        config.clickhouse.database
    );
    let version = cairn_core::mysql::server_version(&config.mysql).await?;
    println!(
        "MySQL {} at {}:{} (database {})",
        version, config.mysql.host, config.mysql.port, config.mysql.database
    );
    Ok(())
}
