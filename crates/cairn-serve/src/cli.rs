//! `cairn serve`.

use std::net::SocketAddr;
use std::process::ExitCode;

use cairn_core::{ClickHouse, Config};

use crate::{App, Options, RightsSource};

/// Arguments of `cairn serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:2247")]
    listen: SocketAddr,
    /// Seconds between the page's automatic refreshes.
    #[arg(long, default_value_t = 30)]
    refresh: u32,
}

/// Runs `cairn serve`.
pub fn run(args: &ServeArgs, config: &Config) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cairn serve: {e}");
            return ExitCode::FAILURE;
        }
    };
    let r: Result<(), String> = rt.block_on(async {
        let ch = ClickHouse::connect(&config.clickhouse)
            .await
            .map_err(|e| e.to_string())?;
        let app = App::new(
            ch,
            RightsSource::Lms(config.mysql.clone()),
            Options {
                refresh_seconds: args.refresh.max(5),
                ..Options::default()
            },
        );
        println!(
            "cairn serve: http://{} (sign in with a user from `cairn createuser --password`)",
            args.listen
        );
        crate::serve(app, args.listen)
            .await
            .map_err(|e| format!("cannot serve on {}: {e}", args.listen))
    });
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cairn serve: {e}");
            ExitCode::FAILURE
        }
    }
}
