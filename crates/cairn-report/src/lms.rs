//! Copies of the LMS tables the metrics read most (migration 0023): block completions,
//! enrollments and course grades. [`copy`] takes each table whole from the LMS (through
//! its MySQL-engine table) into a staging twin and swaps it in at once; the metrics then
//! read the copies (`{{lms_block_completion}}`, `{{lms_course_enrollments}}` and
//! `{{lms_course_grades}}` in their SQL), so that a page costs its course's rows, not a
//! scan of the platform's in MySQL. Until the first copy they read the LMS live
//! ([`Source`]). A copy is as of when it was taken: the pages' LMS numbers lag the LMS by
//! at most `CAIRN_LMS_COPY_INTERVAL` (the events stay real time).

use std::time::Instant;

use cairn_core::ClickHouse;

/// Where a metric reads the LMS tables from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The LMS's own tables, through the MySQL engine.
    Live,
    /// Cairn's copies of them.
    Copies,
}

/// One copied table: its placeholder name, its copy, the LMS table it copies and the
/// columns copied.
struct Table {
    placeholder: &'static str,
    copy: &'static str,
    live: &'static str,
    columns: &'static str,
}

const TABLES: [Table; 3] = [
    Table {
        placeholder: "{{lms_block_completion}}",
        copy: "_lms_block_completion",
        live: "openedx_block_completion",
        columns: "user_id, course_key, block_key, block_type, completion, modified",
    },
    Table {
        placeholder: "{{lms_course_enrollments}}",
        copy: "_lms_course_enrollments",
        live: "openedx_course_enrollments",
        columns: "user_id, course_id, created, is_active, mode",
    },
    Table {
        placeholder: "{{lms_course_grades}}",
        copy: "_lms_course_grades",
        live: "course_grades",
        columns: "user_id, course_id, percent_grade, letter_grade, passed_timestamp, modified",
    },
];

/// `template` with each LMS placeholder replaced by the table `source` names (unquoted,
/// after `{{db}}.`).
pub(crate) fn expand(template: &str, source: Source) -> String {
    let mut out = template.to_owned();
    for t in &TABLES {
        let name = match source {
            Source::Live => t.live,
            Source::Copies => t.copy,
        };
        out = out.replace(t.placeholder, name);
    }
    out
}

/// Where the metric `template` reads the LMS from on `ch`: the copies once every table has
/// been copied, else live (also for a template that reads no LMS table).
pub async fn source(ch: &ClickHouse, template: &str) -> cairn_core::Result<Source> {
    if !TABLES.iter().any(|t| template.contains(t.placeholder)) {
        return Ok(Source::Live);
    }
    Ok(match as_of(ch).await? {
        Some(_) => Source::Copies,
        None => Source::Live,
    })
}

/// When the copies the metrics read were taken (`YYYY-MM-DD hh:mm:ss`, UTC: the oldest
/// table's last copy), or `None` while the metrics read the LMS live.
pub async fn as_of(ch: &ClickHouse) -> cairn_core::Result<Option<String>> {
    #[derive(clickhouse::Row, serde::Deserialize)]
    struct Copies {
        tables: u64,
        oldest: String,
    }
    let c: Copies = ch
        .client()
        .query(&crate::sql_for(
            "SELECT toUInt64(count()) AS tables, toString(min(last), 'UTC') AS oldest FROM \
             (SELECT table_name, max(copied_at) AS last FROM {{db}}._lms_copies GROUP BY table_name) AS t",
            ch.database(),
        ))
        .fetch_one()
        .await
        .map_err(|e| cairn_core::Error::clickhouse("LMS copies", e))?;
    Ok((c.tables >= TABLES.len() as u64).then_some(c.oldest))
}

/// One table's copy.
#[derive(Debug, Clone, PartialEq)]
pub struct Copied {
    /// The copy's name.
    pub table: &'static str,
    /// Rows copied.
    pub rows: u64,
    /// Seconds it took.
    pub seconds: f64,
}

/// [`copy_held`] holding [`crate::aggregate::AGGREGATE_LOCK`], waiting up to `wait` for
/// another holder (`Ok(None)` if it still holds it).
pub async fn copy_locked(
    ch: &ClickHouse,
    owner: &str,
    wait: std::time::Duration,
) -> cairn_core::Result<Option<Vec<Copied>>> {
    crate::aggregate::locked(ch, owner, wait, async |lock| copy_held(ch, lock).await).await
}

/// Drops the copies (and the record of them), holding the aggregation lock as
/// [`copy`] does: the metrics read the LMS live from then on, until the next copy. For
/// `CAIRN_LMS_COPY_INTERVAL=0`, so that no copy is left to grow stale.
/// Returns whether any copy was there.
pub async fn forget(ch: &ClickHouse) -> cairn_core::Result<bool> {
    if copied_tables(ch).await? == 0 {
        return Ok(false);
    }
    crate::aggregate::waiting(
        crate::aggregate::locked(
            ch,
            "cairn (dropping the LMS copies)",
            crate::aggregate::LOCK_WAIT,
            async |_| {
                let err = |what: &'static str| move |e| cairn_core::Error::clickhouse(what, e);
                // The record first: from then on the metrics read the LMS live.
                ch.client()
                    .query(&format!(
                        "ALTER TABLE {} DROP PARTITION tuple()",
                        ch.alter_target("_lms_copies")
                    ))
                    .execute()
                    .await
                    .map_err(err("dropping the LMS copies: their record"))?;
                for t in &TABLES {
                    ch.client()
                        .query(&format!(
                            "ALTER TABLE {} DROP PARTITION tuple()",
                            ch.alter_target(t.copy)
                        ))
                        .execute()
                        .await
                        .map_err(err("dropping the LMS copies"))?;
                }
                Ok(())
            },
        )
        .await,
    )?;
    Ok(true)
}

/// How many tables have a copy on record.
async fn copied_tables(ch: &ClickHouse) -> cairn_core::Result<u64> {
    ch.client()
        .query(&crate::sql_for(
            "SELECT uniqExact(table_name) FROM {{db}}._lms_copies",
            ch.database(),
        ))
        .fetch_one()
        .await
        .map_err(|e| cairn_core::Error::clickhouse("LMS copies", e))
}

/// [`copy_locked`] for tests and one-off runs: waits for another holder of the lock as
/// long as it may hold it.
pub async fn copy(ch: &ClickHouse) -> cairn_core::Result<Vec<Copied>> {
    crate::aggregate::waiting(
        copy_locked(
            ch,
            "cairn aggregate (LMS copy)",
            crate::aggregate::LOCK_WAIT,
        )
        .await,
    )
}

/// Copies the LMS tables (each whole, but the learners recorded in `_retirements`) and
/// swaps each copy in at once, holding `lock`, the aggregation lock
/// ([`crate::aggregate::AGGREGATE_LOCK`]): two copies at once would share the staging
/// tables.
async fn copy_held(
    ch: &ClickHouse,
    lock: &cairn_core::lock::Lock,
) -> cairn_core::Result<Vec<Copied>> {
    let db = ch.database();
    let err = |what: &'static str| move |e| cairn_core::Error::clickhouse(what, e);
    let mut done = Vec::with_capacity(TABLES.len());
    for t in &TABLES {
        // A long copy keeps its claim alive.
        lock.refresh(ch).await?;
        let started = Instant::now();
        let staging = format!("{}_staging", t.copy);
        let at: u32 = ch
            .client()
            .query("SELECT toUInt32(now())")
            .fetch_one()
            .await
            .map_err(err("LMS copy: clock"))?;
        let empty = |table: &str| {
            format!(
                "ALTER TABLE {} DROP PARTITION tuple()",
                ch.alter_target(table)
            )
        };
        ch.client()
            .query(&empty(&staging))
            .execute()
            .await
            .map_err(err("LMS copy: emptying the staging table"))?;
        let fill = crate::sql_for(
            &format!(
                "INSERT INTO {{{{db}}}}.{staging} ({columns}) SELECT {columns} FROM {{{{db}}}}.{live} \
                 WHERE toUInt64(user_id) NOT IN (SELECT user_id FROM {{{{db}}}}._retirements)",
                columns = t.columns,
                live = t.live,
            ),
            db,
        );
        ch.client()
            .query(&fill)
            .execute()
            .await
            .map_err(err("LMS copy: reading the LMS"))?;
        let rows: u64 = ch
            .client()
            .query(&crate::sql_for(
                &format!("SELECT count() FROM {{{{db}}}}.{staging}"),
                db,
            ))
            .fetch_one()
            .await
            .map_err(err("LMS copy: counting"))?;
        // ClickHouse 24+ refuses to replace from an empty source: an empty LMS table
        // empties the copy instead.
        let swap = if rows == 0 {
            empty(t.copy)
        } else {
            format!(
                "ALTER TABLE {} REPLACE PARTITION tuple() FROM {}",
                ch.alter_target(t.copy),
                cairn_core::sql::quote_ident(&staging)
            )
        };
        ch.client()
            .query(&swap)
            .execute()
            .await
            .map_err(err("LMS copy: swapping the copy in"))?;
        ch.client()
            .query(&empty(&staging))
            .execute()
            .await
            .map_err(err("LMS copy: emptying the staging table"))?;
        // A learner retired while the LMS was read may be in the copy: `cairn retire`
        // deleted their rows from the copy before it was swapped in.
        let retired: Vec<u64> = ch
            .client()
            .query(&crate::sql_for(
                "SELECT DISTINCT user_id FROM {{db}}._retirements WHERE retired_at >= toDateTime(?)",
                db,
            ))
            .bind(at)
            .fetch_all()
            .await
            .map_err(err("LMS copy: retirements"))?;
        if !retired.is_empty() {
            let ids: Vec<String> = retired.iter().map(u64::to_string).collect();
            ch.client()
                .query(&format!(
                    "ALTER TABLE {} DELETE WHERE toUInt64(user_id) IN ({})",
                    ch.alter_target(t.copy),
                    ids.join(", ")
                ))
                .execute()
                .await
                .map_err(err("LMS copy: deleting retired learners"))?;
        }
        let seconds = started.elapsed().as_secs_f64();
        ch.client()
            .query(&crate::sql_for(
                "INSERT INTO {{db}}._lms_copies (table_name, copied_at, rows, seconds) \
                 VALUES (?, toDateTime(?), ?, ?)",
                db,
            ))
            .bind(t.copy)
            .bind(at)
            .bind(rows)
            .bind(seconds)
            .execute()
            .await
            .map_err(err("LMS copy: recording it"))?;
        done.push(Copied {
            table: t.copy,
            rows,
            seconds,
        });
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_name_the_live_tables_or_the_copies() {
        let t = "FROM {{db}}.{{lms_block_completion}} JOIN {{db}}.{{lms_course_grades}} \
                 JOIN {{db}}.{{lms_course_enrollments}}";
        assert_eq!(
            expand(t, Source::Live),
            "FROM {{db}}.openedx_block_completion JOIN {{db}}.course_grades \
             JOIN {{db}}.openedx_course_enrollments"
        );
        assert_eq!(
            expand(t, Source::Copies),
            "FROM {{db}}._lms_block_completion JOIN {{db}}._lms_course_grades \
             JOIN {{db}}._lms_course_enrollments"
        );
    }
}
