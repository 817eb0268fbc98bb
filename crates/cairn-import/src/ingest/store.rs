//! The ClickHouse side of ingestion: the row as stored, inserts, checkpoints, and the
//! queries that make resuming exact.

use std::collections::HashSet;

use cairn_core::ClickHouse;
use cairn_core::sql::quote_ident;
use cairn_events::EventRow;
use clickhouse::Row;
use serde::Serialize;

/// One row of `events`, borrowed from a normalized row plus where it was read.
#[derive(Row, Serialize)]
struct StoredEvent<'a> {
    time: u32,
    time_us: u32,
    name: &'a str,
    event_type: &'a str,
    event_source: &'a str,
    family: &'a str,
    course_id: &'a str,
    org: &'a str,
    user_id: u64,
    username: &'a str,
    session: &'a str,
    ip: &'a str,
    agent: &'a str,
    host: &'a str,
    referer: &'a str,
    accept_language: &'a str,
    page: &'a str,
    path: &'a str,
    block_id: &'a str,
    block_type: &'a str,
    video_id: &'a str,
    position: Option<f64>,
    old_position: Option<f64>,
    video_duration: Option<f64>,
    video_speed: Option<f64>,
    attempts: Option<f64>,
    grade: Option<f64>,
    max_grade: Option<f64>,
    success: &'a str,
    weighted_earned: Option<f64>,
    weighted_possible: Option<f64>,
    percent_grade: Option<f64>,
    letter_grade: &'a str,
    completion: Option<f64>,
    enrollment_mode: &'a str,
    target: &'a str,
    item_id: &'a str,
    message: &'a str,
    answer_input: Vec<&'a str>,
    answer_values: Vec<Vec<&'a str>>,
    answer_text: Vec<Vec<&'a str>>,
    answer_correct: Vec<i8>,
    answer_type: Vec<&'a str>,
    source: &'a str,
    source_offset: u64,
}

/// A normalized row with where it was read from (the offset of its first line).
#[derive(Debug, Clone)]
pub struct Located {
    /// The row.
    pub row: EventRow,
    /// Byte offset of the event's first line in its source.
    pub offset: u64,
}

/// Whether the row's time fits ClickHouse's `DateTime` (1970 to 2106).
pub fn storable(row: &EventRow) -> bool {
    u32::try_from(row.time.timestamp()).is_ok()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn stored<'a>(r: &'a Located, source: &'a str) -> StoredEvent<'a> {
    let e = &r.row;
    StoredEvent {
        time: u32::try_from(e.time.timestamp()).unwrap_or(0),
        time_us: e.time.timestamp_subsec_micros(),
        name: &e.name,
        event_type: &e.event_type,
        event_source: &e.event_source,
        family: e.family.as_str(),
        course_id: &e.course_id,
        org: &e.org,
        user_id: e.user_id.unwrap_or(0),
        username: &e.username,
        session: &e.session,
        ip: &e.ip,
        agent: &e.agent,
        host: &e.host,
        referer: &e.referer,
        accept_language: &e.accept_language,
        page: &e.page,
        path: &e.path,
        block_id: &e.block_id,
        block_type: &e.block_type,
        video_id: &e.video_id,
        position: e.position,
        old_position: e.old_position,
        video_duration: e.video_duration,
        video_speed: e.video_speed,
        attempts: e.attempts,
        grade: e.grade,
        max_grade: e.max_grade,
        success: &e.success,
        weighted_earned: e.weighted_earned,
        weighted_possible: e.weighted_possible,
        percent_grade: e.percent_grade,
        letter_grade: &e.letter_grade,
        completion: e.completion,
        enrollment_mode: &e.enrollment_mode,
        target: &e.target,
        item_id: &e.item_id,
        message: &e.message,
        answer_input: e.answers.iter().map(|a| a.input.as_str()).collect(),
        answer_values: e.answers.iter().map(|a| strs(&a.values)).collect(),
        answer_text: e.answers.iter().map(|a| strs(&a.text)).collect(),
        answer_correct: e.answers.iter().map(|a| a.correct).collect(),
        answer_type: e.answers.iter().map(|a| a.input_type.as_str()).collect(),
        source,
        source_offset: r.offset,
    }
}

fn ch_err(context: &str, e: clickhouse::error::Error) -> cairn_core::Error {
    cairn_core::Error::clickhouse(context, e)
}

/// Inserts rows into the stored events (`_events`; the public `events` is its exact view)
/// in one INSERT.
pub async fn insert_events(
    ch: &ClickHouse,
    source: &str,
    rows: &[Located],
) -> cairn_core::Result<()> {
    let rows: Vec<(&str, &Located)> = rows.iter().map(|r| (source, r)).collect();
    insert_from(ch, &rows).await
}

/// Inserts rows read from several sources (each with its own) in one INSERT.
pub async fn insert_from(ch: &ClickHouse, rows: &[(&str, &Located)]) -> cairn_core::Result<()> {
    let mut insert = ch
        .client()
        .insert::<StoredEvent<'_>>("_events")
        .await
        .map_err(|e| ch_err("insert into events", e))?;
    for (source, r) in rows {
        insert
            .write(&stored(r, source))
            .await
            .map_err(|e| ch_err("insert into events", e))?;
    }
    insert
        .end()
        .await
        .map_err(|e| ch_err("insert into events", e))
}

/// A stored event read back: the normalized row, where it was read, and its `event_id`.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct StoredRead {
    /// The row and its offset.
    #[serde(flatten)]
    pub row: EventRow,
    /// Its source (`source`).
    pub source: String,
    /// Its offset in the source.
    pub source_offset: u64,
    /// Its `event_id` (the hash of the raw message unless set otherwise).
    pub event_id: u64,
    /// Its answers' columns (`answer_*`), made the row's `answers` by [`Self::located`].
    #[serde(flatten)]
    pub answer_columns: AnswerColumns,
}

/// The `answer_*` columns of a stored event, one element per input.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct AnswerColumns {
    /// Response keys.
    pub answer_input: Vec<String>,
    /// Values per input.
    pub answer_values: Vec<Vec<String>>,
    /// Text per input.
    pub answer_text: Vec<Vec<String>>,
    /// Correctness per input.
    pub answer_correct: Vec<i8>,
    /// Input type per input.
    pub answer_type: Vec<String>,
}

impl AnswerColumns {
    /// The answers, input by input (a missing element is empty).
    pub fn answers(self) -> Vec<cairn_events::Answer> {
        let mut values = self.answer_values.into_iter();
        let mut text = self.answer_text.into_iter();
        let mut correct = self.answer_correct.into_iter();
        let mut types = self.answer_type.into_iter();
        self.answer_input
            .into_iter()
            .map(|input| cairn_events::Answer {
                input,
                values: values.next().unwrap_or_default(),
                text: text.next().unwrap_or_default(),
                correct: correct.next().unwrap_or(-1),
                input_type: types.next().unwrap_or_default(),
            })
            .collect()
    }
}

impl StoredRead {
    /// The row as the ingester holds it, for [`insert_from`].
    pub fn located(self) -> (String, Located) {
        (
            self.source,
            Located {
                row: EventRow {
                    answers: self.answer_columns.answers(),
                    ..self.row
                },
                offset: self.source_offset,
            },
        )
    }
}

/// The select list that reads `_events` as [`StoredRead`] (JSON).
const READ_COLUMNS: &str = "concat(replaceOne(toString(time, 'UTC'), ' ', 'T'), '.', \
    substring(toString(1000000 + time_us), 2), 'Z') AS time, name, event_type, event_source, \
    if(family = '', 'other', family) AS family, course_id, org, \
    if(user_id = 0, NULL, user_id) AS user_id, username, session, ip, agent, host, referer, \
    accept_language, page, path, block_id, block_type, video_id, position, old_position, \
    video_duration, video_speed, attempts, grade, max_grade, success, weighted_earned, \
    weighted_possible, percent_grade, letter_grade, completion, enrollment_mode, target, \
    item_id, message, answer_input, answer_values, answer_text, answer_correct, answer_type, \
    source, source_offset, event_id";

/// Reads the stored events matching `condition` (SQL over `_events`' columns, built by the
/// caller from escaped values), with extra query `settings`.
pub async fn read_stored(
    ch: &ClickHouse,
    condition: &str,
    settings: &[(&str, &str)],
) -> cairn_core::Result<Vec<StoredRead>> {
    let sql = format!(
        // The condition reads the stored columns, not the aliases of the select list.
        "SELECT {READ_COLUMNS} FROM (SELECT * FROM {}._events WHERE {condition}) AS stored",
        quote_ident(ch.database())
    );
    let mut client = ch.client().clone();
    for (k, v) in settings {
        client = client.with_setting(*k, *v);
    }
    let mut cursor = client
        .with_setting("output_format_json_quote_64bit_integers", "0")
        .query(&sql)
        .fetch_bytes("JSONEachRow")
        .map_err(|e| ch_err("reading stored events", e))?;
    let mut out = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    while let Some(chunk) = cursor
        .next()
        .await
        .map_err(|e| ch_err("reading stored events", e))?
    {
        pending.extend_from_slice(&chunk);
        let mut start = 0;
        while let Some(len) = memchr::memchr(b'\n', &pending[start..]) {
            let read: StoredRead =
                serde_json::from_slice(&pending[start..start + len]).map_err(|e| {
                    cairn_core::Error::Other(format!("reading stored events: unexpected row ({e})"))
                })?;
            out.push(read);
            start += len + 1;
        }
        pending.drain(..start);
    }
    Ok(out)
}

/// Records that `source` was ingested up to `end_offset`: `events` stored and `rejected`
/// lines since the previous checkpoint.
pub async fn checkpoint(
    ch: &ClickHouse,
    source: &str,
    path: &str,
    end_offset: u64,
    events: u64,
    rejected: u64,
) -> cairn_core::Result<()> {
    let sql = format!(
        "INSERT INTO {}._ingest_checkpoints (source, path, end_offset, events, rejected) \
         SELECT ?, ?, toUInt64(?), toUInt64(?), toUInt64(?)",
        quote_ident(ch.database())
    );
    ch.client()
        .query(&sql)
        .bind(source)
        .bind(path)
        .bind(end_offset)
        .bind(events)
        .bind(rejected)
        .execute()
        .await
        .map_err(|e| ch_err("recording a checkpoint", e))
}

/// Where to resume a source: its last checkpoint, and the offsets of events already stored
/// past it (from a batch whose checkpoint was never written, or a partial insert).
#[derive(Debug, Clone, Default)]
pub struct Resume {
    /// Byte offset to read from.
    pub checkpoint: u64,
    /// Offsets at or after the checkpoint that are already in `events`.
    pub present: HashSet<u64>,
}

/// Reads the resume point of a source.
pub async fn resume(ch: &ClickHouse, source: &str) -> cairn_core::Result<Resume> {
    let db = quote_ident(ch.database());
    let checkpoint: u64 = ch
        .client()
        .query(&format!(
            "SELECT toUInt64(max(end_offset)) FROM {db}._ingest_checkpoints WHERE source = ?"
        ))
        .bind(source)
        .fetch_one()
        .await
        .map_err(|e| ch_err("reading checkpoints", e))?;
    let present = present_offsets(ch, source, checkpoint, u64::MAX).await?;
    Ok(Resume {
        checkpoint,
        present,
    })
}

/// Offsets of `source` stored in `events` within `[from, to]`.
pub async fn present_offsets(
    ch: &ClickHouse,
    source: &str,
    from: u64,
    to: u64,
) -> cairn_core::Result<HashSet<u64>> {
    let db = quote_ident(ch.database());
    let v: Vec<u64> = ch
        .client()
        .query(&format!(
            "SELECT DISTINCT source_offset FROM {db}._events WHERE source = ? AND source_offset >= toUInt64(?) AND source_offset <= toUInt64(?)"
        ))
        .bind(source)
        .bind(from)
        .bind(to)
        .fetch_all()
        .await
        .map_err(|e| ch_err("reading stored offsets", e))?;
    Ok(v.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On the live server: the stored row fits `events` as current servers check it.
    #[tokio::test(flavor = "multi_thread")]
    async fn stored_events_fit_the_events_table() {
        let ch = cairn_migrate::testing::data_lake("import_store_columns").await;
        cairn_core::testing::assert_insert_columns::<StoredEvent<'_>>(&ch, "_events").await;
        ch.drop_database().await.unwrap();
    }
}
