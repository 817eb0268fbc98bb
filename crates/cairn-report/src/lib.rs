//! Course metrics: one SQL file per metric (in `metrics/`, shipped in the binary), run by
//! `cairn report` and, later, the dashboard and exports alike. Values enter the SQL only
//! through the `clickhouse` crate's binding.

#![warn(missing_docs)]

use cairn_core::ClickHouse;
use cairn_core::sql::quote_ident;
use chrono::{Datelike, Duration, NaiveDate};
use clickhouse::Row;
use serde::{Deserialize, Serialize};

/// The weekly engagement metric's SQL (`{{db}}` is the data-lake database).
pub const WEEKLY_ENGAGEMENT_SQL: &str = include_str!("../metrics/weekly_engagement.sql");

/// A metric's SQL for database `db`.
pub fn sql_for(template: &str, db: &str) -> String {
    template.replace("{{db}}", &quote_ident(db))
}

/// One week of a course's engagement.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct Week {
    /// The week's Monday, `YYYY-MM-DD`.
    pub week: String,
    /// Learners enrolled by the week's end.
    pub enrolled: u32,
    /// Learners with any event.
    pub active: u64,
    /// Learners who played a video.
    pub watched_video: u64,
    /// Learners who tried a problem.
    pub tried_problem: u64,
}

/// A time range `[from, to)` of whole days (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// First day.
    pub from: NaiveDate,
    /// Day after the last.
    pub to: NaiveDate,
}

impl Range {
    /// The last `weeks` ISO weeks up to and including the one holding `today`.
    pub fn last_weeks(today: NaiveDate, weeks: u32) -> Range {
        let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
        Range {
            from: monday - Duration::weeks(i64::from(weeks.saturating_sub(1))),
            to: monday + Duration::weeks(1),
        }
    }
}

/// Runs the weekly engagement metric for a course.
pub async fn weekly_engagement(
    ch: &ClickHouse,
    course_id: &str,
    range: Range,
) -> cairn_core::Result<Vec<Week>> {
    let from = format!("{} 00:00:00", range.from.format("%Y-%m-%d"));
    let to = format!("{} 00:00:00", range.to.format("%Y-%m-%d"));
    ch.client()
        .query(&sql_for(WEEKLY_ENGAGEMENT_SQL, ch.database()))
        .bind(course_id)
        .bind(course_id)
        .bind(from.as_str())
        .bind(to.as_str())
        .fetch_all()
        .await
        .map_err(|e| cairn_core::Error::clickhouse("weekly engagement", e))
}

/// Output formats of reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// An aligned table.
    Table,
    /// JSON.
    Json,
    /// CSV with a header.
    Csv,
}

/// Formats weeks.
pub fn format_weeks(weeks: &[Week], format: Format) -> String {
    match format {
        Format::Json => serde_json::to_string_pretty(weeks).unwrap_or_default(),
        Format::Csv => {
            let mut s = String::from("week,enrolled,active,watched_video,tried_problem\n");
            for w in weeks {
                s.push_str(&format!(
                    "{},{},{},{},{}\n",
                    w.week, w.enrolled, w.active, w.watched_video, w.tried_problem
                ));
            }
            s
        }
        Format::Table => {
            let mut s = format!(
                "{:<12} {:>9} {:>8} {:>14} {:>14}\n",
                "week", "enrolled", "active", "watched video", "tried problem"
            );
            for w in weeks {
                s.push_str(&format!(
                    "{:<12} {:>9} {:>8} {:>14} {:>14}\n",
                    w.week, w.enrolled, w.active, w.watched_video, w.tried_problem
                ));
            }
            s
        }
    }
}
