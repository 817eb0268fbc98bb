//! Schedules and the send log in the data lake (`_report_schedules`, `_report_sends`,
//! migration 0018). Values enter the SQL only through the client's binding.

use std::time::{SystemTime, UNIX_EPOCH};

use cairn_core::ClickHouse;
use cairn_core::sql::quote_ident;
use chrono::{DateTime, Utc};
use clickhouse::Row;
use serde::Deserialize;

use crate::schedule::Schedule;

fn nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

fn table(ch: &ClickHouse, name: &str) -> String {
    format!("{}.{}", quote_ident(ch.database()), quote_ident(name))
}

fn ch_err(what: &str) -> impl FnOnce(clickhouse::error::Error) -> cairn_core::Error + '_ {
    move |e| cairn_core::Error::clickhouse(what, e)
}

async fn write_schedule(
    ch: &ClickHouse,
    id: &str,
    removed: bool,
    spec: &str,
) -> cairn_core::Result<()> {
    let sql = format!(
        "INSERT INTO {} (id, version, removed, spec) SELECT ?, toUInt64(?), toUInt8(?), ?",
        table(ch, "_report_schedules")
    );
    ch.client()
        .query(&sql)
        .bind(id)
        .bind(nanos())
        .bind(u8::from(removed))
        .bind(spec)
        .execute()
        .await
        .map_err(ch_err("recording in _report_schedules"))
}

/// Stores a new schedule (checked by the caller).
pub async fn add(ch: &ClickHouse, s: &Schedule) -> cairn_core::Result<()> {
    let spec = serde_json::to_string(s).map_err(|e| cairn_core::Error::Other(e.to_string()))?;
    write_schedule(ch, &s.id, false, &spec).await
}

/// Removes a schedule; `false` when there is no such schedule.
pub async fn remove(ch: &ClickHouse, id: &str) -> cairn_core::Result<bool> {
    if get(ch, id).await?.is_none() {
        return Ok(false);
    }
    write_schedule(ch, id, true, "").await?;
    Ok(true)
}

#[derive(Row, Deserialize)]
struct SpecRow {
    last_spec: String,
}

/// Every schedule (latest versions, removed ones left out), by id. A stored spec that no
/// longer parses is an error naming the schedule.
pub async fn list(ch: &ClickHouse) -> cairn_core::Result<Vec<Schedule>> {
    read(ch, None).await
}

/// One schedule.
pub async fn get(ch: &ClickHouse, id: &str) -> cairn_core::Result<Option<Schedule>> {
    Ok(read(ch, Some(id)).await?.into_iter().next())
}

async fn read(ch: &ClickHouse, id: Option<&str>) -> cairn_core::Result<Vec<Schedule>> {
    let sql = format!(
        "SELECT last_spec FROM (SELECT id, argMax(spec, version) AS last_spec, argMax(removed, version) AS gone \
         FROM {} {} GROUP BY id) AS latest WHERE gone = 0 ORDER BY id",
        table(ch, "_report_schedules"),
        if id.is_some() { "WHERE id = ?" } else { "" }
    );
    let mut q = ch.client().query(&sql);
    if let Some(id) = id {
        q = q.bind(id);
    }
    let rows: Vec<SpecRow> = q
        .fetch_all()
        .await
        .map_err(ch_err("reading _report_schedules"))?;
    rows.into_iter()
        .map(|r| {
            serde_json::from_str(&r.last_spec).map_err(|e| {
                cairn_core::Error::Other(format!("a stored report schedule does not parse: {e}"))
            })
        })
        .collect()
}

/// What happened to one period's message to one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// About to go to the SMTP server.
    Sending,
    /// Accepted by the SMTP server.
    Sent,
    /// Refused or not reachable.
    Failed,
    /// The recipient may see none of the schedule's courses.
    Skipped,
}

impl State {
    /// Its stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Sending => "sending",
            State::Sent => "sent",
            State::Failed => "failed",
            State::Skipped => "skipped",
        }
    }

    fn parse(s: &str) -> State {
        match s {
            "sent" => State::Sent,
            "failed" => State::Failed,
            "skipped" => State::Skipped,
            _ => State::Sending,
        }
    }
}

/// One row of the send log.
#[derive(Debug, Clone, PartialEq)]
pub struct Send {
    /// The schedule.
    pub schedule_id: String,
    /// The period (when the pattern fired).
    pub period: DateTime<Utc>,
    /// The recipient's address.
    pub recipient: String,
    /// What happened.
    pub state: State,
    /// Which attempt (1 for the first).
    pub attempt: u32,
    /// The sender's "now".
    pub at: DateTime<Utc>,
    /// The message's Message-ID (the same for every attempt).
    pub message_id: String,
    /// The courses the message held.
    pub courses: Vec<String>,
    /// The error of a failed attempt, or why a recipient was skipped.
    pub error: String,
}

#[derive(Row, Deserialize)]
struct SendRow {
    schedule_id: String,
    period: u32,
    recipient: String,
    state: String,
    attempt: u32,
    at: u32,
    message_id: String,
    courses: Vec<String>,
    error: String,
}

fn time(secs: u32) -> DateTime<Utc> {
    DateTime::from_timestamp(i64::from(secs), 0).unwrap_or_default()
}

fn secs(t: DateTime<Utc>) -> u32 {
    u32::try_from(t.timestamp()).unwrap_or(0)
}

/// Appends to the send log.
pub async fn record(ch: &ClickHouse, s: &Send) -> cairn_core::Result<()> {
    let sql = format!(
        "INSERT INTO {} (schedule_id, period, recipient, state, attempt, at, seq, message_id, courses, error) \
         SELECT ?, toDateTime(toUInt32(?)), ?, ?, toUInt32(?), toDateTime(toUInt32(?)), toUInt64(?), ?, ?, ?",
        table(ch, "_report_sends")
    );
    ch.client()
        .query(&sql)
        .bind(&s.schedule_id)
        .bind(secs(s.period))
        .bind(&s.recipient)
        .bind(s.state.as_str())
        .bind(s.attempt)
        .bind(secs(s.at))
        .bind(nanos())
        .bind(&s.message_id)
        .bind(&s.courses)
        .bind(&s.error)
        .execute()
        .await
        .map_err(ch_err("recording in _report_sends"))
}

/// The send log of one schedule, oldest first: of one period, or (`None`) every period.
pub async fn sends(
    ch: &ClickHouse,
    schedule_id: &str,
    period: Option<DateTime<Utc>>,
) -> cairn_core::Result<Vec<Send>> {
    let sql = format!(
        "SELECT schedule_id, toUInt32(period) AS period, recipient, state, attempt, toUInt32(at) AS at, \
         message_id, courses, error FROM (SELECT * FROM {} WHERE schedule_id = ? {}) AS log \
         ORDER BY period, recipient, seq",
        table(ch, "_report_sends"),
        if period.is_some() {
            "AND period = toDateTime(toUInt32(?))"
        } else {
            ""
        }
    );
    let mut q = ch.client().query(&sql).bind(schedule_id);
    if let Some(p) = period {
        q = q.bind(secs(p));
    }
    let rows: Vec<SendRow> = q
        .fetch_all()
        .await
        .map_err(ch_err("reading _report_sends"))?;
    Ok(rows
        .into_iter()
        .map(|r| Send {
            schedule_id: r.schedule_id,
            period: time(r.period),
            recipient: r.recipient,
            state: State::parse(&r.state),
            attempt: r.attempt,
            at: time(r.at),
            message_id: r.message_id,
            courses: r.courses,
            error: r.error,
        })
        .collect())
}
