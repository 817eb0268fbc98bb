//! `cairn serve`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use cairn_core::{ClickHouse, Config};

use crate::{App, Options, RightsSource, Sso};

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
    run_with(args, config, None)
}

/// [`run`], running `background` beside the server.
pub fn run_with(
    args: &ServeArgs,
    config: &Config,
    background: Option<cairn_core::Background>,
) -> ExitCode {
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
        let sso_cfg = &config.sso;
        let dashboard_url = match sso_cfg.dashboard_url.as_str() {
            "" => format!("http://{}", args.listen),
            u => u.to_owned(),
        };
        let sso = if sso_cfg.enabled {
            if sso_cfg.client_secret.expose().is_empty() {
                return Err("CAIRN_ENABLE_SSO is on but CAIRN_SSO_CLIENT_SECRET is empty".into());
            }
            Some(Arc::new(Sso::new(
                &sso_cfg.lms_url,
                &dashboard_url,
                &sso_cfg.client_id,
                sso_cfg.client_secret.expose(),
            )?))
        } else {
            None
        };
        if sso.is_none() && !sso_cfg.password_signin {
            return Err("no way to sign in: CAIRN_PASSWORD_SIGNIN is off and sign-in with the LMS is not configured".into());
        }
        let ch = ClickHouse::connect(&config.clickhouse)
            .await
            .map_err(|e| e.to_string())?;
        // Operators ship charts and dashboards as files, as they ship migrations.
        for dir in &config.dashboards_folders {
            let m = crate::saved::import(&ch, dir)
                .await
                .map_err(|e| format!("CAIRN_DASHBOARDS_FOLDER: {e}"))?;
            println!(
                "cairn serve: {}: imported {} charts and {} dashboards ({} unchanged)",
                dir.display(),
                m.charts,
                m.dashboards,
                m.unchanged
            );
        }
        let ways = [
            sso.as_ref().map(|_| format!("with the LMS at {}", sso_cfg.lms_url)),
            sso_cfg
                .password_signin
                .then(|| "with a `cairn createuser` password".to_owned()),
        ];
        let ways: Vec<String> = ways.into_iter().flatten().collect();
        // (A lake not migrated yet has no sign-ins to read: then no warning.)
        if sso.is_none()
            && cairn_acl::logins::login_versions(&ch)
                .await
                .is_ok_and(|v| v.is_empty())
        {
            tracing::warn!(
                "nobody can sign in yet: make an account with `cairn createuser USERNAME \
                 EMAIL --admin` (or --course-id KEY), or set up sign-in with the LMS \
                 (CAIRN_SSO_CLIENT_SECRET)"
            );
        }
        // A lake with migrations pending (Cairn upgraded, `cairn migrate up` not run yet):
        // the pages that need them fail until then, so say it at once. (A lake not
        // migrated at all is said by the background tasks.)
        if ch.database_exists().await.unwrap_or(false)
            && let Ok(m) = cairn_migrate::Migrator::connect(config).await
            && let Ok(pending) = m.pending().await
            && !pending.is_empty()
        {
            tracing::warn!(
                "the data lake has {} migrations pending ({}): pages that need them fail \
                 until `cairn migrate up` applies them",
                pending.len(),
                pending.join(", ")
            );
        }
        if sso.is_some() {
            println!(
                "cairn serve: sign-in with the LMS: redirect URI {}",
                Sso::redirect_uri(&dashboard_url)
            );
        }
        if let Some(task) = background {
            tokio::spawn(task(ch.clone()));
        }
        let app = App::new(
            ch,
            RightsSource::Lms(config.mysql.clone()),
            Options {
                refresh_seconds: args.refresh.max(5),
                sso,
                password_signin: sso_cfg.password_signin,
                explorer: crate::explorer::ExplorerOptions {
                    key: config.explorer.key.clone(),
                    limits: (&config.explorer).into(),
                    dictionary: cairn_migrate::dictionary::load(&config.migrations_folders)?,
                },
                ..Options::default()
            },
        );
        println!(
            "cairn serve: {dashboard_url} (sign in {})",
            ways.join(" or ")
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

/// `cairn dashboards` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum DashboardsCommand {
    /// Writes every saved chart and dashboard to DIR/charts/*.json and
    /// DIR/dashboards/*.json (stable order, for git).
    Export {
        /// The folder (made if missing; files of objects no longer saved are removed).
        dir: std::path::PathBuf,
    },
    /// Reads a folder written by `export` and saves what differs (nothing if any file is
    /// bad).
    Import {
        /// The folder.
        dir: std::path::PathBuf,
    },
}

fn block_on<F: std::future::Future<Output = Result<(), String>>>(f: F) -> ExitCode {
    let r = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|rt| rt.block_on(f));
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cairn: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `cairn dashboards …`.
pub fn dashboards(cmd: &DashboardsCommand, config: &Config) -> ExitCode {
    block_on(async {
        let ch = ClickHouse::connect(&config.clickhouse)
            .await
            .map_err(|e| e.to_string())?;
        match cmd {
            DashboardsCommand::Export { dir } => {
                let m = crate::saved::export(&ch, dir).await?;
                println!(
                    "exported {} charts and {} dashboards to {}",
                    m.charts,
                    m.dashboards,
                    dir.display()
                );
            }
            DashboardsCommand::Import { dir } => {
                let m = crate::saved::import(&ch, dir).await?;
                println!(
                    "imported {} charts and {} dashboards from {} ({} unchanged)",
                    m.charts,
                    m.dashboards,
                    dir.display(),
                    m.unchanged
                );
            }
        }
        Ok(())
    })
}
