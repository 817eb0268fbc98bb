//! `cairn acl …` and `cairn createuser`.

use std::path::PathBuf;
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
        /// Print the plan and its statements (or, with --users-xml, the file); apply nothing.
        #[arg(long)]
        dry_run: bool,
        /// Instead of SQL, write the users, grants and row filters to this users.xml
        /// fragment (for the server's users.d/ folder; rewritten atomically).
        #[arg(long, value_name = "PATH")]
        users_xml: Option<PathBuf>,
    },
    /// Prints the rights computed from the LMS (and manual grants): one user per line.
    Show {
        /// One JSON object instead: user → "all", or their orgs and courses.
        #[arg(long)]
        json: bool,
    },
    /// Sets the ClickHouse password of a user (recorded as its SHA-256; used by the next
    /// `sync --users-xml`). Reads $CAIRN_USER_PASSWORD, else prompts without echo.
    Password {
        /// LMS username.
        username: String,
    },
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
    /// without SQL access control, such as ClickHouse before 21.8, or with users in
    /// users.xml only: its password is recorded for `cairn acl sync --users-xml`).
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
        let desired = || async {
            sync::desired(&ch, &config.mysql)
                .await
                .map_err(|e| e.to_string())
        };
        match cmd {
            AclCommand::Password { username } => {
                if !config.explorer.key.expose().is_empty() {
                    return Err(format!(
                        "CAIRN_EXPLORER_KEY is set: each user's ClickHouse password is derived from it, and `cairn acl sync --users-xml` writes that one. {username} finds it on the dashboard's SQL explorer page (\"Connect a SQL client\"); to change every password, change the key and sync again"
                    ));
                }
                let password = read_password(username, None)?;
                sync::record_password(&ch, username, &password)
                    .await
                    .map_err(|e| e.to_string())?;
                println!(
                    "ClickHouse password of {} recorded; run `cairn acl sync --users-xml PATH` to write it",
                    crate::users_xml::xml_user_name(username)
                );
                Ok(())
            }
            AclCommand::Show { json } => {
                let desired = desired().await?;
                if *json {
                    println!("{}", show_json(&desired));
                } else {
                    print!("{}", show_text(&desired));
                }
                Ok(())
            }
            AclCommand::Sync {
                dry_run,
                users_xml: Some(path),
            } => {
                let (plan, xml) = sync::users_xml(&ch, &config.mysql, &config.explorer, path).await?;
                print!("{plan}");
                if *dry_run {
                    print!("{xml}");
                    return Ok(());
                }
                crate::users_xml::write(path, &xml).map_err(|e| e.to_string())?;
                println!(
                    "wrote {} ({} users). ClickHouse rereads its users.d/ within seconds; a server that reads it only at start must be restarted for it to apply.",
                    path.display(),
                    plan.create.len() + plan.update.len() + plan.unchanged
                );
                Ok(())
            }
            AclCommand::Sync {
                dry_run,
                users_xml: None,
            } => {
                let desired = desired().await?;
                let applied = sync::applied(&ch).await.map_err(|e| e.to_string())?;
                let plan = sync::plan(&desired, &applied);
                print!("{plan}");
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

/// The password given, else `$CAIRN_USER_PASSWORD`, else one read at a prompt without echo.
fn read_password(username: &str, given: Option<&str>) -> Result<String, String> {
    if let Some(p) = given {
        return Ok(p.to_owned());
    }
    if let Ok(p) = std::env::var("CAIRN_USER_PASSWORD") {
        return Ok(p);
    }
    let p = rpassword::prompt_password(format!("Password for openedx-{username}: "))
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
            sync::require_rbac(&ch).await.map_err(|e| {
                format!("{e}; give --dashboard-only to create only the `cairn serve` sign-in")
            })?;
        }
        let password = read_password(&a.username, a.password.as_deref())?;
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
        sync::record_password(&ch, &a.username, &password)
            .await
            .map_err(|e| e.to_string())?;
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

/// `cairn acl show`'s lines: each user, padded, then what they may see.
fn show_text(desired: &std::collections::BTreeMap<String, Scope>) -> String {
    let width = desired.keys().map(|u| u.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for (user, scope) in desired {
        let what = match scope {
            Scope::All => "everything (every course)".to_owned(),
            Scope::Some { orgs, courses } => {
                let mut parts = Vec::new();
                let list = |set: &std::collections::BTreeSet<String>| {
                    set.iter()
                        .map(String::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                if !orgs.is_empty() {
                    parts.push(format!("the courses of orgs {}", list(orgs)));
                }
                if !courses.is_empty() {
                    parts.push(format!("courses {}", list(courses)));
                }
                if parts.is_empty() {
                    "nothing".to_owned()
                } else {
                    parts.join("; ")
                }
            }
        };
        out.push_str(&format!("{user:<width$}  {what}\n"));
    }
    out
}

/// `cairn acl show --json`: user → `"all"`, or `{"orgs": […], "courses": […]}`.
fn show_json(desired: &std::collections::BTreeMap<String, Scope>) -> serde_json::Value {
    desired
        .iter()
        .map(|(user, scope)| {
            let v = match scope {
                Scope::All => serde_json::json!("all"),
                Scope::Some { orgs, courses } => {
                    serde_json::json!({ "orgs": orgs, "courses": courses })
                }
            };
            (user.clone(), v)
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_reads_as_sentences_and_json() {
        let mut d = std::collections::BTreeMap::new();
        d.insert("admin".to_owned(), Scope::All);
        d.insert(
            "ada".to_owned(),
            Scope::Some {
                orgs: ["mitx".to_owned()].into(),
                courses: ["course-v1:A+B+C".to_owned(), "course-v1:A+B+D".to_owned()].into(),
            },
        );
        d.insert("nobody".to_owned(), Scope::none());
        assert_eq!(
            show_text(&d),
            "ada     the courses of orgs mitx; courses course-v1:A+B+C, course-v1:A+B+D\n\
             admin   everything (every course)\n\
             nobody  nothing\n"
        );
        assert_eq!(
            show_json(&d).to_string(),
            r#"{"ada":{"courses":["course-v1:A+B+C","course-v1:A+B+D"],"orgs":["mitx"]},"admin":"all","nobody":{"courses":[],"orgs":[]}}"#
        );
    }
}
