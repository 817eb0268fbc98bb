//! Retention: the monthly partitions of `events` (partitioned by `toYYYYMM(time)`) that
//! lie wholly before a number of months ago are dropped, whole, with `ALTER TABLE … DROP
//! PARTITION ID` (immediate, no mutation; the same on 18.16 and current ClickHouse; on a
//! cluster, on the events' local tables `ON CLUSTER`).
//!
//! ```
//! use chrono::NaiveDate;
//! use cairn_import::retention::first_kept_month;
//! // Keeping 12 months on 2026-12-02: November 2025 ended more than a year ago.
//! assert_eq!(first_kept_month(NaiveDate::from_ymd_opt(2026, 12, 2).unwrap(), 12), 202512);
//! ```

use cairn_core::ClickHouse;
use cairn_core::sql::{quote_ident, quote_str};
use chrono::{Datelike, NaiveDate};
use clickhouse::Row;
use serde::Deserialize;

/// One monthly partition of `events`.
#[derive(Debug, Clone, PartialEq, Eq, Row, Deserialize)]
pub struct Partition {
    /// The partition's id: the month as `YYYYMM`.
    pub id: String,
    /// Its events (rows in active parts, before merges remove replaced duplicates).
    pub events: u64,
}

impl Partition {
    /// The month, if the id is one (`YYYYMM`).
    pub fn month(&self) -> Option<u32> {
        (self.id.len() == 6).then(|| self.id.parse().ok()).flatten()
    }
}

/// The first month (`YYYYMM`) to keep when keeping `months` months at `today`: every day of
/// the months before it is more than `months` months old.
pub fn first_kept_month(today: NaiveDate, months: u32) -> u32 {
    let index = today.year() * 12 + today.month0() as i32 - months as i32;
    let (year, month0) = (index.div_euclid(12), index.rem_euclid(12));
    (year.max(0) as u32) * 100 + month0 as u32 + 1
}

/// The partitions' query: of `_events` on one node; on a cluster, of its local tables on one
/// replica of each shard (the shards' rows add up).
fn partitions_sql(ch: &ClickHouse) -> String {
    let table = ch.rows_table("_events");
    format!(
        "SELECT partition_id AS id, toUInt64(sum(rows)) AS events FROM {} \
         WHERE database = ? AND table = {} AND active \
         GROUP BY partition_id ORDER BY partition_id",
        ch.system_table("parts"),
        quote_str(&table)
    )
}

/// The partitions of the data lake's `events`, in month order.
pub async fn partitions(ch: &ClickHouse) -> cairn_core::Result<Vec<Partition>> {
    ch.server_client()
        .query(&partitions_sql(ch))
        .bind(ch.database())
        .fetch_all()
        .await
        .map_err(|e| cairn_core::Error::clickhouse("reading the partitions of events", e))
}

/// The partitions that `months` months of retention at `today` drop (ids that are not a
/// month are kept).
pub fn expired(parts: &[Partition], today: NaiveDate, months: u32) -> Vec<Partition> {
    let first = first_kept_month(today, months);
    parts
        .iter()
        .filter(|p| p.month().is_some_and(|m| m < first))
        .cloned()
        .collect()
}

/// Applies retention: drops the expired partitions (none with `dry_run`) and returns them.
pub async fn apply(
    ch: &ClickHouse,
    today: NaiveDate,
    months: u32,
    dry_run: bool,
) -> cairn_core::Result<Vec<Partition>> {
    let drop = expired(&partitions(ch).await?, today, months);
    if !dry_run {
        for p in &drop {
            ch.execute(&format!(
                "ALTER TABLE {}.{} DROP PARTITION ID {}",
                quote_ident(ch.database()),
                ch.alter_target("_events"),
                quote_str(&p.id)
            ))
            .await?;
            // The month's pre-aggregated days (migrations 0021, 0022, 0026-0028) and its forum
            // events' copy (0025) go with it.
            for days in [
                "_learner_days",
                "_video_days",
                "_problem_days",
                "_answer_days",
                "_block_days",
                "_forum_events",
            ] {
                ch.execute(&format!(
                    "ALTER TABLE {}.{} DROP PARTITION ID {}",
                    quote_ident(ch.database()),
                    ch.alter_target(days),
                    quote_str(&p.id)
                ))
                .await?;
            }
        }
        if !drop.is_empty() {
            // Their days' freshness marks too: what remains of the lake names only the
            // courses and days it holds (`cairn_report::courses` lists the marked courses).
            let first = first_kept_month(today, months);
            let first_day = format!("{}-{:02}-01", first / 100, first % 100);
            for marks in ["_learner_days_dirty", "_learner_days_refreshed"] {
                ch.execute(&format!(
                    "ALTER TABLE {}.{} DELETE WHERE day < toDate({})",
                    quote_ident(ch.database()),
                    ch.alter_target(marks),
                    quote_str(&first_day)
                ))
                .await?;
            }
        }
    }
    Ok(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn months_count_back_across_years() {
        assert_eq!(first_kept_month(day(2026, 12, 2), 12), 202512);
        assert_eq!(first_kept_month(day(2026, 1, 31), 1), 202512);
        assert_eq!(first_kept_month(day(2026, 3, 1), 26), 202401);
        assert_eq!(first_kept_month(day(2026, 3, 1), 0), 202603);
    }

    #[test]
    fn only_whole_old_months_expire() {
        let p = |id: &str| Partition {
            id: id.into(),
            events: 1,
        };
        let parts = [
            p("202401"),
            p("202511"),
            p("202512"),
            p("202612"),
            p("tuple()"),
        ];
        let ids: Vec<String> = expired(&parts, day(2026, 12, 2), 12)
            .into_iter()
            .map(|p| p.id)
            .collect();
        assert_eq!(ids, ["202401", "202511"]);
    }
}
