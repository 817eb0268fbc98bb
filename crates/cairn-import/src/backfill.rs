//! Back-fill of what the ingester derives from an event's raw message, for events stored
//! before Cairn derived it: the answers of `problem_check` events stored before migration
//! 0019 (`cairn import answers`).
//!
//! An event without answers is read back, its answers derived from its message (the
//! source of truth), and stored again: the same message makes the same `event_id`, so the
//! copy without answers collapses into it when ClickHouse merges, and every metric is
//! exact meanwhile (they count events by `event_id`, and a copy without answers adds no
//! answer). Resumable: an event that has a copy with answers is not read again.

use cairn_core::ClickHouse;
use cairn_core::sql::quote_ident;

use crate::ingest::store;

/// What a back-fill did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backfilled {
    /// `problem_check` events stored without answers that were read.
    pub read: u64,
    /// Of those, stored again with their answers.
    pub answered: u64,
}

/// Events per read and insert.
const CHUNK: usize = 5_000;

/// Derives and stores the answers of the `problem_check` events that have none.
pub async fn answers(ch: &ClickHouse) -> cairn_core::Result<Backfilled> {
    let sql = format!(
        "SELECT event_id FROM {}._events WHERE name = 'problem_check' \
         GROUP BY event_id HAVING max(length(answer_input)) = 0 ORDER BY event_id",
        quote_ident(ch.database())
    );
    let ids: Vec<u64> = ch
        .client()
        .query(&sql)
        .fetch_all()
        .await
        .map_err(|e| cairn_core::Error::clickhouse("finding events without answers", e))?;
    let mut done = Backfilled::default();
    for chunk in ids.chunks(CHUNK) {
        let list: Vec<String> = chunk.iter().map(u64::to_string).collect();
        let condition = format!("event_id IN ({})", list.join(","));
        let mut rows = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for r in store::read_stored(ch, &condition, &[]).await? {
            done.read += 1;
            // Copies of one event (two sources) need only one answered copy.
            if !seen.insert(r.event_id) {
                continue;
            }
            let (source, mut located) = r.located();
            let Ok(event) = cairn_events::parse_event(&located.row.message, None) else {
                continue;
            };
            located.row.answers = cairn_events::answers::answers_of(&event);
            if !located.row.answers.is_empty() {
                rows.push((source, located));
            }
        }
        let refs: Vec<(&str, &store::Located)> =
            rows.iter().map(|(s, r)| (s.as_str(), r)).collect();
        if !refs.is_empty() {
            store::insert_from(ch, &refs).await?;
        }
        done.answered += rows.len() as u64;
    }
    Ok(done)
}
