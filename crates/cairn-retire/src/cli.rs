//! `cairn retire` and the automatic runs of `cairn serve` and `cairn ingest --follow`.

use std::process::ExitCode;
use std::time::Duration;

use cairn_core::{ClickHouse, Config};

use crate::{Options, run};

/// `cairn retire`: retires the learners the LMS has retired.
#[derive(clap::Args, Debug, Clone)]
pub struct RetireArgs {
    /// Count what would be scrubbed or deleted; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Seconds to wait for ClickHouse to apply the mutations.
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

fn options(config: &Config, dry_run: bool, timeout: u64) -> Options {
    Options {
        mode: config.retirement.mode,
        key: config.retirement.key.expose().to_owned(),
        dry_run,
        mutation_timeout: Duration::from_secs(timeout),
    }
}

/// Runs `cairn retire`.
pub fn retire(args: &RetireArgs, config: &Config) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cairn retire: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        let ch = ClickHouse::connect(&config.clickhouse).await?;
        run(
            &ch,
            &config.mysql,
            &options(config, args.dry_run, args.timeout),
        )
        .await
    });
    match result {
        Ok(report) if args.json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cairn retire: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Retires learners every `CAIRN_RETIREMENT_INTERVAL` seconds, the first time at once, until
/// the process ends (for `cairn serve` and `cairn ingest --follow`). Failures are logged and
/// retried at the next run.
pub async fn schedule(ch: ClickHouse, config: Config) {
    let every = config.retirement.interval_secs;
    if every == 0 {
        return;
    }
    let opts = options(&config, false, 600);
    loop {
        match run(&ch, &config.mysql, &opts).await {
            Ok(r) if !r.learners.is_empty() => tracing::info!("retirement: {r}"),
            Ok(_) => tracing::debug!("retirement: nothing to do"),
            Err(e) => tracing::warn!("retirement: {e} (next try in {every} s)"),
        }
        tokio::time::sleep(Duration::from_secs(every)).await;
    }
}
