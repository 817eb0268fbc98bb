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
    let mut insert = ch
        .client()
        .insert::<StoredEvent<'_>>("_events")
        .await
        .map_err(|e| ch_err("insert into events", e))?;
    for r in rows {
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

/// Records that `source` was ingested up to `end_offset`.
pub async fn checkpoint(
    ch: &ClickHouse,
    source: &str,
    path: &str,
    end_offset: u64,
    events: u64,
) -> cairn_core::Result<()> {
    let sql = format!(
        "INSERT INTO {}._ingest_checkpoints (source, path, end_offset, events) SELECT ?, ?, toUInt64(?), toUInt64(?)",
        quote_ident(ch.database())
    );
    ch.client()
        .query(&sql)
        .bind(source)
        .bind(path)
        .bind(end_offset)
        .bind(events)
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
