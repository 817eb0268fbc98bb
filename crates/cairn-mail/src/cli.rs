//! `cairn reports …`: schedules of e-mail reports, and the sender.

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cairn_core::{ClickHouse, Config};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use clap::Subcommand;
use sha2::Digest;

use crate::schedule::{self, DEFAULT_CRON, Recipient, Schedule, Target};
use crate::store::State;
use crate::{RunOptions, RunReport, run_due, store};

/// `cairn reports` subcommands.
#[derive(Subcommand, Debug)]
pub enum ReportsCommand {
    /// Schedules a report: a course, an org or every course the recipient may see, to
    /// addresses or the course's staff, on a cron schedule in a time zone.
    Add(AddArgs),
    /// Lists the schedules with their next send and the state of their latest period.
    List {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Removes a schedule.
    Remove {
        /// The schedule's id.
        id: String,
    },
    /// Sends a schedule's report now (a period of its own: the schedule's own periods are
    /// unaffected).
    SendNow {
        /// The schedule's id.
        id: String,
        /// The time to report as of (UTC, `YYYY-MM-DD` or `YYYY-MM-DDThh:mm:ss`).
        #[arg(long, value_parser = parse_now)]
        now: Option<DateTime<Utc>>,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Sends every report that is due (for cron; `cairn serve` does it by itself).
    RunDue {
        /// The time to act as of (UTC, `YYYY-MM-DD` or `YYYY-MM-DDThh:mm:ss`); default now.
        #[arg(long, value_parser = parse_now)]
        now: Option<DateTime<Utc>>,
        /// Seconds to wait for another sender to finish (default: do nothing if one runs).
        #[arg(long, default_value_t = 0)]
        wait: u64,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `cairn reports add`.
#[derive(clap::Args, Debug)]
#[command(group = clap::ArgGroup::new("target").required(true).args(["course_id", "org", "all_visible"]))]
pub struct AddArgs {
    /// One course.
    #[arg(long = "course-id", value_name = "KEY")]
    course_id: Option<String>,
    /// Every course of an org.
    #[arg(long)]
    org: Option<String>,
    /// Every course each recipient may see.
    #[arg(long)]
    all_visible: bool,
    /// Recipients: addresses, or `course-staff` (the staff and instructors of the
    /// courses, read from the LMS at each send). Repeat or separate with commas.
    #[arg(long = "to", required = true, value_delimiter = ',')]
    to: Vec<String>,
    /// When: a cron pattern (minute hour day-of-month month day-of-week).
    #[arg(long, default_value = DEFAULT_CRON)]
    schedule: String,
    /// The schedule's time zone (IANA name); default: the recipient's LMS time zone
    /// preference when the schedule has one address, else CAIRN_REPORTS_TIMEZONE.
    #[arg(long)]
    timezone: Option<String>,
    /// When the schedule starts (for tests and back-dated schedules; default now).
    #[arg(long, value_parser = parse_now, hide = true)]
    since: Option<DateTime<Utc>>,
}

fn parse_now(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S") {
        return Ok(t.and_utc());
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
        .map_err(|_| format!("{s:?} is not a time: expected YYYY-MM-DD or YYYY-MM-DDThh:mm:ss[Z]"))
}

fn new_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let h = sha2::Sha256::digest(format!("{nanos}-{}", std::process::id()).as_bytes());
    let hex: String = h[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("r-{hex}")
}

/// Who runs the sender, for the lock.
pub fn owner(what: &str) -> String {
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    format!("{what} pid {} on {}", std::process::id(), host.trim())
}

/// Checks `cairn reports add`'s arguments into a schedule (known courses: to refuse an
/// unknown one; `preferred`: the one recipient's time zone preference).
pub fn build(
    a: &AddArgs,
    config: &Config,
    known: &[String],
    preferred: Option<String>,
    now: DateTime<Utc>,
) -> Result<Schedule, String> {
    let target = match (&a.course_id, &a.org, a.all_visible) {
        (Some(c), _, _) => {
            if !known.contains(c) {
                return Err(format!(
                    "unknown course {c:?}: it has no events and no imported structure (see cairn import courses)"
                ));
            }
            Target::Course(c.clone())
        }
        (_, Some(o), _) => {
            let t = Target::Org(o.trim().to_owned());
            if !known.iter().any(|c| t.includes(c)) {
                return Err(format!("no known course of org {o:?}"));
            }
            t
        }
        _ => Target::Visible,
    };
    let mut recipients = Vec::new();
    for r in &a.to {
        let r = schedule::parse_recipient(r).map_err(|e| e.to_string())?;
        if !recipients.contains(&r) {
            recipients.push(r);
        }
    }
    let s = Schedule {
        id: new_id(),
        target,
        recipients,
        cron: a.schedule.trim().to_owned(),
        timezone: a
            .timezone
            .clone()
            .or(preferred.filter(|t| schedule::parse_timezone(t).is_ok()))
            .unwrap_or_else(|| config.reports.timezone.clone()),
        created_at: a.since.unwrap_or(now),
    };
    s.check().map_err(|e| e.to_string())?;
    Ok(s)
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

/// Runs a `cairn reports` subcommand.
pub fn run(cmd: &ReportsCommand, config: &Config) -> ExitCode {
    #[cfg(feature = "failpoints")]
    let _scenario = fail::FailScenario::setup();
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cairn reports: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(command(cmd, config)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("cairn reports: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn command(cmd: &ReportsCommand, config: &Config) -> Result<ExitCode, String> {
    let ch = ClickHouse::connect(&config.clickhouse)
        .await
        .map_err(|e| e.to_string())?;
    let now = Utc::now();
    match cmd {
        ReportsCommand::Add(a) => {
            let known = cairn_report::courses(&ch)
                .await
                .map_err(|e| e.to_string())?;
            // One address and no zone given: the recipient's own zone, if the LMS has it.
            let preferred = match a.to.as_slice() {
                [one] if a.timezone.is_none() && one.trim() != "course-staff" => {
                    crate::audience::preferred_timezone(&config.mysql, one.trim())
                        .await
                        .map_err(|e| e.to_string())?
                }
                _ => None,
            };
            let s = build(a, config, &known, preferred, now)?;
            store::add(&ch, &s).await.map_err(|e| e.to_string())?;
            let next = s.next_period(s.created_at.max(now)).ok().flatten();
            println!(
                "added {}: {} to {} at \"{}\" ({}); next send {}",
                s.id,
                s.target,
                recipients(&s.recipients),
                s.cron,
                s.timezone,
                next.map(|t| t.to_rfc3339())
                    .unwrap_or_else(|| "never".into())
            );
            Ok(ExitCode::SUCCESS)
        }
        ReportsCommand::List { json } => {
            let rows = list(&ch, now).await.map_err(|e| e.to_string())?;
            if *json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&rows).unwrap_or_default()
                );
            } else if rows.is_empty() {
                println!("no report schedules (add one with cairn reports add)");
            } else {
                for r in &rows {
                    println!("{r}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ReportsCommand::Remove { id } => {
            if store::remove(&ch, id).await.map_err(|e| e.to_string())? {
                println!("removed {id}");
                Ok(ExitCode::SUCCESS)
            } else {
                Err(format!("no report schedule {id} (see cairn reports list)"))
            }
        }
        ReportsCommand::SendNow { id, now: at, json } => {
            let opts = RunOptions {
                now: at.unwrap_or(now),
                only: Some(id.clone()),
                now_period: true,
                wait: Duration::from_secs(120),
                owner: owner("cairn reports send-now"),
            };
            let r = run_due(&ch, config, &opts)
                .await
                .map_err(|e| e.to_string())?;
            Ok(print_run(&r, *json))
        }
        ReportsCommand::RunDue {
            now: at,
            wait,
            json,
        } => {
            let opts = RunOptions {
                now: at.unwrap_or(now),
                only: None,
                now_period: false,
                wait: Duration::from_secs(*wait),
                owner: owner("cairn reports run-due"),
            };
            let r = run_due(&ch, config, &opts)
                .await
                .map_err(|e| e.to_string())?;
            Ok(print_run(&r, *json))
        }
    }
}

fn recipients(r: &[Recipient]) -> String {
    r.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_run(r: &RunReport, json: bool) -> ExitCode {
    if json {
        println!("{}", serde_json::to_string_pretty(r).unwrap_or_default());
    } else {
        if let Some(h) = &r.locked_by {
            println!("another sender is at work ({h}): nothing done");
        }
        for o in &r.outcomes {
            let extra = if o.error.is_empty() {
                String::new()
            } else {
                format!(": {}", o.error)
            };
            println!(
                "{} {} period {} to {}: {}{extra}",
                o.state,
                o.schedule_id,
                o.period.to_rfc3339(),
                o.recipient,
                o.courses.join(", ")
            );
        }
        if r.outcomes.is_empty() && r.locked_by.is_none() {
            println!("nothing due");
        }
    }
    if r.outcomes
        .iter()
        .any(|o| o.state == "failed" || o.state == "gave-up")
    {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// One line of `cairn reports list`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Listed {
    /// The schedule.
    #[serde(flatten)]
    pub schedule: Schedule,
    /// The next time it fires.
    pub next: Option<DateTime<Utc>>,
    /// Its latest period with a send log.
    pub last_period: Option<DateTime<Utc>>,
    /// Recipients of that period by state (`sent`, `failed`, `skipped`, `sending`).
    pub last_states: std::collections::BTreeMap<String, u32>,
    /// The latest error, if the latest attempt of a recipient failed.
    pub last_error: String,
}

impl std::fmt::Display for Listed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = &self.schedule;
        write!(
            f,
            "{}  {}  to {}  at \"{}\" {}  next {}",
            s.id,
            s.target,
            recipients(&s.recipients),
            s.cron,
            s.timezone,
            self.next
                .map(|t| t.to_rfc3339())
                .unwrap_or_else(|| "never".into())
        )?;
        if let Some(p) = self.last_period {
            let states: Vec<String> = self
                .last_states
                .iter()
                .map(|(k, v)| format!("{v} {k}"))
                .collect();
            write!(f, "  last {}: {}", p.to_rfc3339(), states.join(", "))?;
        }
        if !self.last_error.is_empty() {
            write!(f, "  error: {}", self.last_error)?;
        }
        Ok(())
    }
}

/// The schedules with their next send and latest period's states.
pub async fn list(ch: &ClickHouse, now: DateTime<Utc>) -> cairn_core::Result<Vec<Listed>> {
    let mut out = Vec::new();
    for s in store::list(ch).await? {
        let log = store::sends(ch, &s.id, None).await?;
        let last_period = log.iter().map(|l| l.period).max();
        let mut last_states = std::collections::BTreeMap::new();
        let mut last_error = String::new();
        if let Some(p) = last_period {
            let mut latest: std::collections::BTreeMap<String, &store::Send> = Default::default();
            for l in log.iter().filter(|l| l.period == p) {
                let e = latest.entry(l.recipient.to_lowercase()).or_insert(l);
                // Sent or skipped is final; otherwise the latest row counts.
                if !matches!(e.state, State::Sent | State::Skipped) {
                    *e = l;
                }
            }
            for l in latest.values() {
                *last_states.entry(l.state.as_str().to_owned()).or_insert(0) += 1;
                if l.state == State::Failed {
                    last_error = format!("{}: {}", l.recipient, l.error);
                }
            }
        }
        out.push(Listed {
            next: s.next_period(now).ok().flatten(),
            schedule: s,
            last_period,
            last_states,
            last_error,
        });
    }
    Ok(out)
}

/// Sends due reports every `CAIRN_REPORTS_INTERVAL` seconds until the process ends (for
/// `cairn serve`). Failures are logged and retried at the next check.
pub async fn schedule(ch: ClickHouse, config: Config) {
    let every = config.reports.interval_secs;
    if every == 0 {
        return;
    }
    let me = owner("cairn serve");
    loop {
        let opts = RunOptions {
            now: Utc::now(),
            only: None,
            now_period: false,
            wait: Duration::ZERO,
            owner: me.clone(),
        };
        match run_due(&ch, &config, &opts).await {
            Ok(r) => {
                for o in &r.outcomes {
                    tracing::info!(schedule = %o.schedule_id, recipient = %o.recipient, state = %o.state, "e-mail report: {}", o.error);
                }
            }
            Err(e) => tracing::warn!("e-mail reports: {e} (next check in {every} s)"),
        }
        tokio::time::sleep(Duration::from_secs(every)).await;
    }
}
