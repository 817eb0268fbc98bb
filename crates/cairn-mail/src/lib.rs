//! Periodic engagement reports by e-mail: each course's week, to its staff, exactly once
//! per period.
//!
//! - [`schedule`]: what, to whom and when (cron pattern and time zone);
//! - [`store`]: schedules and the send log in the data lake;
//! - [`audience`]: recipients resolved against the LMS at send time, with their rights;
//! - [`content`]: the numbers (the metrics of `cairn report`), HTML, text, CSV, charts;
//! - [`chart`]: PNG charts drawn by the program;
//! - [`smtp`]: sending with `lettre`;
//! - [`run_due`]: the sender, run by `cairn serve` and `cairn reports run-due`.
//!
//! **Exactly once.** Only one sender works at a time: a lock in ClickHouse
//! ([`cairn_core::lock`]) that a killed sender loses within [`LOCK_EXPIRY_SECS`]. For each
//! period and recipient the log holds `sending` before the message goes to the SMTP
//! server and `sent` once the server accepted it; a period and recipient with `sent` is
//! never sent again. A sender killed after the server accepted a message and before it
//! wrote `sent` (the time of one insert) leaves `sending`: the next run sends the message
//! again with the same Message-ID. Only the latest period is ever due, so a sender that
//! was down for weeks catches up once.

#![warn(missing_docs)]

pub mod audience;
pub mod chart;
pub mod cli;
pub mod content;
pub mod schedule;
pub mod smtp;
pub mod store;

use std::collections::BTreeMap;
use std::time::Duration;

use cairn_core::lock::{Holder, LockTable};
use cairn_core::{ClickHouse, Config};
use chrono::{DateTime, NaiveDate, Utc};
use sha2::Digest;

use crate::content::Section;
use crate::store::{Send, State};

/// Seconds a killed sender keeps the lock.
pub const LOCK_EXPIRY_SECS: u32 = 30;
// One message's exchange must end before a silent sender loses the lock.
const _: () = assert!(smtp::EXCHANGE_LIMIT.as_secs() < LOCK_EXPIRY_SECS as u64);

/// Attempts at one message before the sender gives up on it.
pub const MAX_ATTEMPTS: u32 = 8;

/// The reports sender's lock.
pub const REPORTS_LOCK: LockTable = LockTable {
    table: "_report_lock",
    what: "the reports sender's lock",
    expiry_secs: LOCK_EXPIRY_SECS,
};

/// Seconds to wait after failed attempt `n` (1-based): one minute, doubling, at most an
/// hour.
pub fn backoff_secs(n: u32) -> i64 {
    (60i64 << n.saturating_sub(1).min(6)).min(3600)
}

/// The Message-ID of a period's message to a recipient: the same for every attempt, so
/// that a message sent twice (see the crate's doc) is one message to mail clients.
pub fn message_id(
    schedule_id: &str,
    period: DateTime<Utc>,
    recipient: &str,
    domain: &str,
) -> String {
    let h = sha2::Sha256::digest(recipient.to_lowercase().as_bytes());
    let hex: String = h[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "<cairn.{schedule_id}.{}.{hex}@{domain}>",
        period.timestamp()
    )
}

/// What the sender did for one recipient of one period.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Outcome {
    /// The schedule.
    pub schedule_id: String,
    /// The period.
    pub period: DateTime<Utc>,
    /// The recipient.
    pub recipient: String,
    /// `sent`, `failed`, `skipped`, or `waiting` (a retry not yet due), `gave-up`.
    pub state: String,
    /// The courses sent.
    pub courses: Vec<String>,
    /// The error, or why it was skipped.
    pub error: String,
}

/// What a run did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RunReport {
    /// Each recipient acted on (those already done are not listed).
    pub outcomes: Vec<Outcome>,
    /// Another sender held the lock: nothing was done.
    pub locked_by: Option<String>,
}

/// Which schedules a run looks at, and how.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The sender's "now".
    pub now: DateTime<Utc>,
    /// Only this schedule.
    pub only: Option<String>,
    /// Send now, whatever the schedule (`send-now`): the period is `now` itself.
    pub now_period: bool,
    /// How long to wait for another sender to finish.
    pub wait: Duration,
    /// Who runs (for the lock).
    pub owner: String,
}

enum Next {
    Done,
    Send(u32),
    Wait(DateTime<Utc>),
    GiveUp(String),
}

fn next_step(log: &[&Send], now: DateTime<Utc>) -> Next {
    if log
        .iter()
        .any(|s| matches!(s.state, State::Sent | State::Skipped))
    {
        return Next::Done;
    }
    let attempts = log.iter().filter(|s| s.state == State::Sending).count() as u32;
    match log.last() {
        None => Next::Send(1),
        // Cut off mid-send: the server may or may not have it; send again.
        Some(s) if s.state == State::Sending => Next::Send(attempts + 1),
        Some(s) if attempts >= MAX_ATTEMPTS => Next::GiveUp(s.error.clone()),
        Some(s) => {
            let at = s.at + chrono::Duration::seconds(backoff_secs(attempts));
            if now >= at {
                Next::Send(attempts + 1)
            } else {
                Next::Wait(at)
            }
        }
    }
}

/// Sends every due report (or, with `now_period`, the chosen schedule's report now).
pub async fn run_due(
    ch: &ClickHouse,
    config: &Config,
    opts: &RunOptions,
) -> cairn_core::Result<RunReport> {
    let lock = match REPORTS_LOCK
        .acquire(ch, &opts.owner, opts.wait, |_: &Holder| {})
        .await?
    {
        Ok(l) => l,
        Err(h) => {
            return Ok(RunReport {
                outcomes: Vec::new(),
                locked_by: Some(format!("{} since {}", h.owner, h.since)),
            });
        }
    };
    let result = run_locked(ch, config, opts, &lock).await;
    lock.release(ch).await?;
    result
}

async fn run_locked(
    ch: &ClickHouse,
    config: &Config,
    opts: &RunOptions,
    lock: &cairn_core::lock::Lock,
) -> cairn_core::Result<RunReport> {
    let mut schedules = store::list(ch).await?;
    if let Some(id) = &opts.only {
        schedules.retain(|s| &s.id == id);
        if schedules.is_empty() {
            return Err(cairn_core::Error::Other(format!(
                "no report schedule {id} (see cairn reports list)"
            )));
        }
    }
    let mut report = RunReport::default();
    let mut due = Vec::new();
    for s in schedules {
        let period = if opts.now_period {
            Some(opts.now)
        } else {
            s.due_period(opts.now)
                .map_err(|e| cairn_core::Error::Other(format!("schedule {}: {e}", s.id)))?
        };
        if let Some(p) = period {
            due.push((s, p));
        }
    }
    if due.is_empty() {
        return Ok(report);
    }
    let mailer =
        smtp::Mailer::new(&config.smtp).map_err(|e| cairn_core::Error::Other(e.to_string()))?;
    let known = cairn_report::courses(ch).await?;
    let dashboard = dashboard_url(config);
    let mut sections: BTreeMap<(String, NaiveDate), Section> = BTreeMap::new();
    for (s, period) in due {
        let log = store::sends(ch, &s.id, Some(period)).await?;
        let courses = audience::target_courses(&s, &known);
        let members = audience::resolve(ch, &config.mysql, &s, &courses).await?;
        let day = s.period_day(period);
        for m in members {
            lock.refresh(ch).await?;
            let mine: Vec<&Send> = log
                .iter()
                .filter(|l| l.recipient.eq_ignore_ascii_case(&m.email))
                .collect();
            let outcome = |state: &str, error: String| Outcome {
                schedule_id: s.id.clone(),
                period,
                recipient: m.email.clone(),
                state: state.to_owned(),
                courses: m.courses.clone(),
                error,
            };
            let attempt = match next_step(&mine, opts.now) {
                Next::Done => continue,
                Next::Wait(at) => {
                    report
                        .outcomes
                        .push(outcome("waiting", format!("next attempt at {at}")));
                    continue;
                }
                Next::GiveUp(e) => {
                    report.outcomes.push(outcome("gave-up", e));
                    continue;
                }
                Next::Send(n) => n,
            };
            let row = |state: State, error: String| Send {
                schedule_id: s.id.clone(),
                period,
                recipient: m.email.clone(),
                state,
                attempt,
                at: opts.now,
                message_id: message_id(&s.id, period, &m.email, mailer.from.email.domain()),
                courses: m.courses.clone(),
                error,
            };
            if let Some(why) = &m.skipped {
                store::record(ch, &row(State::Skipped, why.clone())).await?;
                report.outcomes.push(outcome("skipped", why.clone()));
                continue;
            }
            for c in &m.courses {
                if let std::collections::btree_map::Entry::Vacant(slot) =
                    sections.entry((c.clone(), day))
                {
                    slot.insert(content::section(ch, c, day, &dashboard).await?);
                }
            }
            let mine_sections: Vec<&Section> = m
                .courses
                .iter()
                .filter_map(|c| sections.get(&(c.clone(), day)))
                .collect();
            // Recorded before the message is made, so that every attempt counts (a
            // message that cannot be made is retried with backoff, then given up).
            let sending = row(State::Sending, String::new());
            store::record(ch, &sending).await?;
            let message = content::render(&mine_sections, m.identities, &s.id)
                .and_then(|r| content::message(&r, &mailer.from, &m.email, &sending.message_id));
            let message = match message {
                Ok(msg) => msg,
                Err(e) => {
                    store::record(ch, &row(State::Failed, e.clone())).await?;
                    report.outcomes.push(outcome("failed", e));
                    continue;
                }
            };
            match mailer.send(message).await {
                Ok(()) => {
                    after_send_failpoint();
                    store::record(ch, &row(State::Sent, String::new())).await?;
                    tracing::info!(schedule = %s.id, recipient = %m.email, courses = m.courses.len(), "report sent");
                    report.outcomes.push(outcome("sent", String::new()));
                }
                Err(e) => {
                    let e = e.to_string();
                    tracing::warn!(schedule = %s.id, recipient = %m.email, attempt, "report not sent: {e}");
                    store::record(ch, &row(State::Failed, e.clone())).await?;
                    report.outcomes.push(outcome("failed", e));
                }
            }
        }
    }
    Ok(report)
}

/// Where a test stops a sender between the SMTP server's acceptance and the `sent` row
/// (the `failpoints` feature; nothing otherwise).
fn after_send_failpoint() {
    #[cfg(feature = "failpoints")]
    fail::fail_point!("reports::after-send");
}

/// The dashboard's public URL for links: `CAIRN_DASHBOARD_URL`, else Tutor's default
/// `https://data.LMS_HOST`.
pub fn dashboard_url(config: &Config) -> String {
    match config.sso.dashboard_url.trim() {
        "" => format!("https://data.{}", config.lms.host.trim()),
        u => u.trim_end_matches('/').to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(state: State, at: &str) -> Send {
        Send {
            schedule_id: "r".into(),
            period: DateTime::from_timestamp(0, 0).unwrap(),
            recipient: "a@b.org".into(),
            state,
            attempt: 1,
            at: DateTime::parse_from_rfc3339(at)
                .unwrap()
                .with_timezone(&Utc),
            message_id: String::new(),
            courses: vec![],
            error: "refused".into(),
        }
    }

    #[test]
    fn the_log_decides_the_next_step() {
        let now = DateTime::parse_from_rfc3339("2026-01-12T08:10:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert!(matches!(next_step(&[], now), Next::Send(1)));
        let sending = send(State::Sending, "2026-01-12T08:00:00Z");
        let sent = send(State::Sent, "2026-01-12T08:00:00Z");
        assert!(matches!(next_step(&[&sending, &sent], now), Next::Done));
        assert!(
            matches!(next_step(&[&sending], now), Next::Send(2)),
            "cut off mid-send: again"
        );
        let failed = send(State::Failed, "2026-01-12T08:09:30Z");
        assert!(
            matches!(next_step(&[&sending, &failed], now), Next::Wait(_)),
            "one minute after the first failure"
        );
        let failed = send(State::Failed, "2026-01-12T08:09:00Z");
        assert!(matches!(
            next_step(&[&sending, &failed], now),
            Next::Send(2)
        ));
        let many: Vec<Send> = (0..MAX_ATTEMPTS)
            .flat_map(|_| [sending.clone(), failed.clone()])
            .collect();
        let refs: Vec<&Send> = many.iter().collect();
        assert!(matches!(next_step(&refs, now), Next::GiveUp(_)));
        assert_eq!(backoff_secs(1), 60);
        assert_eq!(backoff_secs(2), 120);
        assert_eq!(backoff_secs(10), 3600);
    }

    #[test]
    fn message_ids_are_stable_and_hold_no_address() {
        let p = DateTime::from_timestamp(1_768_204_800, 0).unwrap();
        let a = message_id("r-1", p, "Ada@Example.org", "example.org");
        assert_eq!(a, message_id("r-1", p, "ada@example.org", "example.org"));
        assert!(
            a.starts_with("<cairn.r-1.1768204800.") && a.ends_with("@example.org>"),
            "{a}"
        );
        assert!(!a.to_lowercase().contains("ada"));
    }
}
