//! The ClickHouse side of ingestion: the row as stored, inserts, checkpoints, and the
//! queries that make resuming exact.

use std::collections::HashSet;
use std::sync::Arc;

use cairn_core::ClickHouse;
use cairn_core::sql::quote_ident;
use cairn_events::EventRow;

use super::encoded::{self, Encoder};

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
    let source: Arc<str> = source.into();
    let mut enc = Encoder::default();
    for r in rows {
        enc.push(&source, r);
    }
    encoded::insert(ch, &enc.finish()).await
}

/// Inserts rows read from several sources (each with its own) in one INSERT.
pub async fn insert_from(ch: &ClickHouse, rows: &[(&str, &Located)]) -> cairn_core::Result<()> {
    let mut enc = Encoder::default();
    let mut source: Arc<str> = "".into();
    for (s, r) in rows {
        if *s != &*source {
            source = (*s).into();
        }
        enc.push(&source, r);
    }
    encoded::insert(ch, &enc.finish()).await
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

/// Reads the resume point of a source. Events stored past its checkpoint come from an
/// insert whose outcome the last run did not see: their derived rows are written again
/// ([`repair_derived`]).
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
    if let Some(last) = present.iter().max() {
        repair_derived(ch, source, checkpoint, *last).await?;
    }
    Ok(Resume {
        checkpoint,
        present,
    })
}

/// Writes again, for the events of `source` stored at offsets within `[from, to]`, what
/// ClickHouse's materialized views keep from them: their course-days marked stale
/// (migration 0021) and the forum's copy of them (0025, where the data lake has it). An
/// insert that failed part-way (a server killed or restarted under it) may have stored the
/// events but not their views' rows: ClickHouse writes a table's part, then each view's.
/// Both are exact with rows written twice (a day marked twice is stale once; the forum's
/// metrics count each event once), so this is safe whatever the failed insert did store.
pub async fn repair_derived(
    ch: &ClickHouse,
    source: &str,
    from: u64,
    to: u64,
) -> cairn_core::Result<()> {
    let db = quote_ident(ch.database());
    let range = "source = ? AND source_offset >= toUInt64(?) AND source_offset <= toUInt64(?)";
    let tables: Vec<String> = ch
        .client()
        .query(
            "SELECT name FROM system.tables WHERE database = ? \
             AND name IN ('_learner_days_dirty', '_forum_events')",
        )
        .bind(ch.database())
        .fetch_all()
        .await
        .map_err(|e| ch_err("reading system.tables", e))?;
    let mut statements = Vec::new();
    if tables.iter().any(|t| t == "_learner_days_dirty") {
        statements.push(format!(
            "INSERT INTO {db}._learner_days_dirty (course_id, day, dirty_at) \
             SELECT course_id, toDate(time) AS day, max(now()) FROM {db}._events \
             WHERE {range} GROUP BY course_id, day"
        ));
    }
    if tables.iter().any(|t| t == "_forum_events") {
        statements.push(format!(
            "INSERT INTO {db}._forum_events ({}) SELECT {} FROM {db}._events \
             WHERE family = 'forum' AND {range}",
            cairn_core::derived::FORUM_COLUMNS,
            cairn_core::derived::FORUM_SELECT
        ));
    }
    for sql in &statements {
        ch.client()
            .query(sql)
            .bind(source)
            .bind(from)
            .bind(to)
            .execute()
            .await
            .map_err(|e| ch_err("writing the events' derived rows again", e))?;
    }
    tracing::info!(
        "ingest: an insert's outcome was unknown: the stale-day marks and forum copy of the \
         events at offsets {from}..={to} of source {source} written again"
    );
    Ok(())
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

    /// On the live server: rows encoded by the ingester (every column set, answers
    /// included) read back equal, through the typed reader.
    #[tokio::test(flavor = "multi_thread")]
    async fn encoded_rows_read_back_equal() {
        let ch = cairn_migrate::testing::data_lake("import_store_columns").await;
        let line = r#"{"name":"problem_check","event_type":"problem_check","event_source":"server","time":"2024-03-01T10:00:00.123456+00:00","username":"ann","session":"s1","ip":"10.0.0.1","agent":"Mozilla","host":"lms","referer":"http://r","accept_language":"fr","page":"http://p","context":{"course_id":"course-v1:X+Y+Z","org_id":"X","user_id":7,"path":"/event","module":{"usage_key":"block-v1:X+Y+Z+type@problem+block@p1"}},"event":{"attempts":2,"grade":1,"max_grade":2,"success":"incorrect","problem_id":"block-v1:X+Y+Z+type@problem+block@p1","answers":{"p1_2_1":["choice_0","choice_1"],"p1_3_1":"caf\u00e9"},"submission":{"p1_2_1":{"answer":["A","B"],"correct":false,"input_type":"checkboxgroup","question":"Q"},"p1_3_1":{"answer":"café","correct":true,"input_type":"textline","question":"R"}}}}"#;
        let ev = cairn_events::parse_event(line, None).unwrap();
        let row = EventRow::from_event(&ev);
        assert!(!row.answers.is_empty(), "the check row has answers");
        let mut other = row.clone();
        other.position = Some(12.5);
        other.old_position = None;
        other.user_id = None;
        other.message.push(' ');
        let rows = vec![
            Located { row, offset: 3 },
            Located {
                row: other,
                offset: 1 << 40,
            },
        ];
        insert_events(&ch, "src-é", &rows).await.unwrap();
        let mut back = read_stored(&ch, "1", &[]).await.unwrap();
        back.sort_by_key(|r| r.source_offset);
        assert_eq!(back.len(), 2);
        for (b, want) in back.into_iter().zip(&rows) {
            let (source, got) = b.located();
            assert_eq!(source, "src-é");
            assert_eq!(got.offset, want.offset);
            assert_eq!(format!("{:?}", got.row), format!("{:?}", want.row));
        }
        ch.drop_database().await.unwrap();
    }
}
