//! `cairn acl …` and `cairn createuser`.

use std::process::ExitCode;

use cairn_core::{ClickHouse, Config};
use clap::Subcommand;

use crate::render::{Auth, grant_statements};
use crate::rights::Scope;
use crate::sync;

/// `cairn acl` subcommands.
#[derive(Subcommand, Debug)]
pub enum AclCommand {
    /// Makes ClickHouse users and row policies match the LMS roles (creates, updates, revokes).
    Sync {
        /// Print the plan and its statements; apply nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Prints the rights computed from the LMS (and manual grants).
    Show,
}

/// Arguments of `cairn createuser`.
#[derive(clap::Args, Debug)]
pub struct CreateUserArgs {
    /// LMS username (the ClickHouse user is `openedx-USERNAME`).
    username: String,
    /// Email, recorded with the grant.
    email: String,
    /// Sees everything.
    #[arg(long)]
    admin: bool,
    /// Password (else $CAIRN_USER_PASSWORD, else a prompt that does not echo).
    #[arg(long)]
    password: Option<String>,
    /// A course this user may see (repeatable).
    #[arg(long = "course-id", value_name = "KEY")]
    course_ids: Vec<String>,
    /// An org whose courses this user may see (repeatable).
    #[arg(long = "org-id", value_name = "ORG")]
    org_ids: Vec<String>,
    /// Print the statements, one per line; apply nothing.
    #[arg(long)]
    dry_run: bool,
    /// Only the `cairn serve` sign-in and the grant; no ClickHouse user (for servers
    /// without access control, such as ClickHouse before 21.8).
    #[arg(long)]
    dashboard_only: bool,
    /// The dashboard hides learner identities (the at-risk list) from this user.
    #[arg(long)]
    no_identities: bool,
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

fn finish(r: Result<(), String>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cairn: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `cairn acl …`.
pub fn acl(cmd: &AclCommand, config: &Config) -> ExitCode {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return finish(Err(e.to_string())),
    };
    finish(rt.block_on(async {
        let ch = ClickHouse::connect(&config.clickhouse)
            .await
            .map_err(|e| e.to_string())?;
        let desired = sync::desired(&ch, &config.mysql)
            .await
            .map_err(|e| e.to_string())?;
        match cmd {
            AclCommand::Show => {
                for (u, s) in &desired {
                    println!("{u}\t{}", serde_json::to_string(s).unwrap_or_default());
                }
                Ok(())
            }
            AclCommand::Sync { dry_run } => {
                let applied = sync::applied(&ch).await.map_err(|e| e.to_string())?;
                let plan = sync::plan(&desired, &applied);
                println!(
                    "plan: {} to create, {} to update, {} to revoke, {} unchanged",
                    plan.create.len(),
                    plan.update.len(),
                    plan.revoke.len(),
                    plan.unchanged
                );
                for (u, _) in &plan.create {
                    println!("create {u}");
                }
                for (u, _) in &plan.update {
                    println!("update {u}");
                }
                for u in &plan.revoke {
                    println!("revoke {u}");
                }
                if *dry_run {
                    for s in sync::plan_statements(ch.database(), &plan) {
                        println!("{s};");
                    }
                    return Ok(());
                }
                sync::apply(&ch, &plan).await.map_err(|e| e.to_string())
            }
        }
    }))
}

fn scope_of(a: &CreateUserArgs) -> Result<Scope, String> {
    if a.admin {
        return Ok(Scope::All);
    }
    let s = Scope::Some {
        orgs: a.org_ids.iter().map(|o| o.to_lowercase()).collect(),
        courses: a.course_ids.iter().cloned().collect(),
    };
    if s.is_empty() {
        return Err("give --admin, --course-id or --org-id".into());
    }
    for c in &a.course_ids {
        cairn_core::CourseKey::parse(c).map_err(|e| e.to_string())?;
    }
    Ok(s)
}

fn read_password(a: &CreateUserArgs) -> Result<String, String> {
    if let Some(p) = &a.password {
        return Ok(p.clone());
    }
    if let Ok(p) = std::env::var("CAIRN_USER_PASSWORD") {
        return Ok(p);
    }
    let p = rpassword::prompt_password(format!("Password for openedx-{}: ", a.username))
        .map_err(|e| format!("cannot read a password: {e}"))?;
    if p.is_empty() {
        return Err("empty password".into());
    }
    Ok(p)
}

/// Runs `cairn createuser`.
pub fn create_user(a: &CreateUserArgs, config: &Config) -> ExitCode {
    let scope = match scope_of(a) {
        Ok(s) => s,
        Err(e) => return finish(Err(e)),
    };
    if a.dry_run {
        // The statements carry only a hash; with no password given, a random one.
        let auth = a
            .password
            .clone()
            .or_else(|| std::env::var("CAIRN_USER_PASSWORD").ok())
            .map_or(Auth::Random, Auth::Password);
        for s in grant_statements(&config.clickhouse.database, &a.username, &scope, &auth) {
            println!("{s};");
        }
        return ExitCode::SUCCESS;
    }
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return finish(Err(e.to_string())),
    };
    finish(rt.block_on(async {
        let ch = ClickHouse::connect(&config.clickhouse)
            .await
            .map_err(|e| e.to_string())?;
        if !a.dashboard_only {
            sync::require_rbac(&ch).map_err(|e| {
                format!("{e}; give --dashboard-only to create only the `cairn serve` sign-in")
            })?;
        }
        let password = read_password(a)?;
        let hash = crate::logins::hash_password(&password)?;
        if a.dashboard_only {
            sync::record_grant(&ch, &a.username, &a.email, &scope)
                .await
                .map_err(|e| e.to_string())?;
        } else {
            sync::create_user(&ch, &a.username, &a.email, &scope, &password)
                .await
                .map_err(|e| e.to_string())?;
            println!("created or updated ClickHouse user openedx-{}", a.username);
        }
        crate::logins::record_login(&ch, &a.username, &hash, !a.no_identities)
            .await
            .map_err(|e| e.to_string())?;
        println!(
            "dashboard sign-in for {} recorded{}",
            a.username,
            if a.no_identities {
                " (learner identities hidden)"
            } else {
                ""
            }
        );
        Ok(())
    }))
}
