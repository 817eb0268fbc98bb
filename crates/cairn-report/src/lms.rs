//! Copies of the LMS tables the metrics read most (migration 0023): block completions,
//! enrollments and course grades. [`copy`] takes each table whole from the LMS (through
//! its MySQL-engine table) into a staging twin and swaps it in at once; the metrics then
//! read the copies (`{{lms_block_completion}}`, `{{lms_course_enrollments}}` and
//! `{{lms_course_grades}}` in their SQL), so that a page costs its course's rows, not a
//! scan of the platform's in MySQL. Until the first copy they read the LMS live
//! ([`Source`]). A copy is as of when it was taken: the pages' LMS numbers lag the LMS by
//! at most `CAIRN_LMS_COPY_INTERVAL` (the events stay real time). Each copy ends by
//! counting every learner's completed components per course from the copies ([`PROGRESS`],
//! migration 0029, `{{lms_progress}}`), which the comparison of many courses sums.

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

/// What `{{lms_progress}}` reads while the metrics read the LMS live (and in users' copies
/// of the metrics, which may not read the copies): no counts, so every course is counted
/// from the completions.
const PROGRESS_NONE: &str = "(SELECT '' AS course_id, toUInt64(0) AS import_version, \
     toInt32(0) AS user_id, toUInt32(0) AS done WHERE 0)";

/// What `{{lms_uncounted}}` reads: of a list of courses (bound twice), those without a
/// count ([`PROGRESS`]) of their current structure, whose progress a metric counts from
/// the completions.
const UNCOUNTED: &str = "(SELECT course_id FROM (SELECT arrayJoin(?) AS course_id) AS listed \
     WHERE course_id NOT IN \
         (SELECT course_id FROM {{lms_progress}} AS marks \
          WHERE user_id = 0 AND (course_id, import_version) IN \
              (SELECT DISTINCT course_id, import_version FROM {{db}}.course_blocks \
               WHERE course_id IN (SELECT arrayJoin(?)))))";

/// `template` with each LMS placeholder replaced by the table `source` names (unquoted,
/// after `{{db}}.`).
pub(crate) fn expand(template: &str, source: Source) -> String {
    let progress = match source {
        Source::Live => PROGRESS_NONE.to_owned(),
        Source::Copies => format!("{{{{db}}}}.{PROGRESS}"),
    };
    let mut out = template
        .replace("{{lms_uncounted}}", UNCOUNTED)
        .replace("{{lms_progress}}", &progress);
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
    if !TABLES.iter().any(|t| template.contains(t.placeholder))
        && !template.contains("{{lms_progress}}")
        && !template.contains("{{lms_uncounted}}")
    {
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

/// Copies the LMS tables and counts the learners' progress from them, holding
/// [`crate::aggregate::AGGREGATE_LOCK`], waiting up to `wait` for another holder
/// (`Ok(None)` if it still holds it).
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
                for table in TABLES.iter().map(|t| t.copy).chain([PROGRESS]) {
                    ch.client()
                        .query(&format!(
                            "ALTER TABLE {} DROP PARTITION tuple()",
                            ch.alter_target(table)
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

/// Copies the LMS tables (each whole, but the learners recorded in `_retirements`), then
/// counts each learner's completed components from the copies ([`PROGRESS`]), swapping
/// each table in at once, holding `lock`, the aggregation lock
/// ([`crate::aggregate::AGGREGATE_LOCK`]): two copies at once would share the staging
/// tables.
async fn copy_held(
    ch: &ClickHouse,
    lock: &cairn_core::lock::Lock,
) -> cairn_core::Result<Vec<Copied>> {
    let mut done = Vec::with_capacity(TABLES.len() + 1);
    for t in &TABLES {
        let fill = format!(
            "INSERT INTO {{{{db}}}}.{{staging}} ({columns}) SELECT {columns} FROM {{{{db}}}}.{live} \
             WHERE toUInt64(user_id) NOT IN (SELECT user_id FROM {{{{db}}}}._retirements)",
            columns = t.columns,
            live = t.live,
        );
        done.push(refill(ch, lock, t.copy, &[fill]).await?);
    }
    done.push(refill(ch, lock, PROGRESS, &PROGRESS_FILL.map(str::to_owned)).await?);
    Ok(done)
}

/// The learners' completed components per course (migration 0029), counted from the
/// copies when they are taken.
pub const PROGRESS: &str = "_lms_progress";

/// The statements that fill [`PROGRESS`]'s staging twin (`{staging}`): first each course's
/// mark (user 0) with its latest structure, then its actively enrolled learners' completed
/// components of that structure (the components as `course_components` has them,
/// migration 0012), both read from the marks just written, so that an import finishing
/// meanwhile cannot mix two structures.
const PROGRESS_FILL: [&str; 2] = [
    "INSERT INTO {{db}}.{staging} (course_id, import_version, user_id, done) \
     SELECT course_id, max(import_version), toInt32(0), toUInt32(0) \
     FROM {{db}}._course_imports GROUP BY course_id",
    "INSERT INTO {{db}}.{staging} (course_id, import_version, user_id, done) \
     SELECT course_id, import_version, user_id, done \
     FROM ( \
         SELECT course_key AS course_id, user_id, toUInt32(count()) AS done \
         FROM {{db}}._lms_block_completion \
         WHERE toFloat64(completion) >= 1 \
           AND (course_key, block_key) IN \
               (SELECT course_id, block_key FROM {{db}}._course_blocks \
                WHERE (course_id, import_version) IN \
                      (SELECT course_id, import_version FROM {{db}}.{staging} WHERE user_id = 0) \
                  AND NOT has(['course', 'chapter', 'sequential', 'vertical', 'library_content', \
                      'split_test', 'conditional', 'unit', 'wrapper', 'itembank', 'discussion'], \
                      block_type)) \
           AND (course_key, toInt64(user_id)) IN \
               (SELECT course_id, toInt64(user_id) FROM {{db}}._lms_course_enrollments \
                WHERE toUInt8(is_active) = 1) \
           AND toUInt64(user_id) NOT IN (SELECT user_id FROM {{db}}._retirements) \
         GROUP BY course_key, user_id \
     ) AS counted \
     ALL INNER JOIN \
     (SELECT course_id, import_version FROM {{db}}.{staging} WHERE user_id = 0) AS marks \
     USING course_id",
];

/// Fills `table`'s staging twin by `fill` (statements with `{{db}}` and `{staging}`), swaps
/// it in at once, deletes the learners retired meanwhile and records the copy in
/// `_lms_copies`.
async fn refill(
    ch: &ClickHouse,
    lock: &cairn_core::lock::Lock,
    table: &'static str,
    fill: &[String],
) -> cairn_core::Result<Copied> {
    let db = ch.database();
    let err = |what: &'static str| move |e| cairn_core::Error::clickhouse(what, e);
    // A long copy keeps its claim alive.
    lock.refresh(ch).await?;
    let started = Instant::now();
    let staging = format!("{table}_staging");
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
    for sql in fill {
        ch.client()
            .query(&crate::sql_for(&sql.replace("{staging}", &staging), db))
            .execute()
            .await
            .map_err(err("LMS copy: reading the LMS"))?;
    }
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
        empty(table)
    } else {
        format!(
            "ALTER TABLE {} REPLACE PARTITION tuple() FROM {}",
            ch.alter_target(table),
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
                ch.alter_target(table),
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
        .bind(table)
        .bind(at)
        .bind(rows)
        .bind(seconds)
        .execute()
        .await
        .map_err(err("LMS copy: recording it"))?;
    Ok(Copied {
        table,
        rows,
        seconds,
    })
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
        // The counts are read from the copies only: live (and in users' copies of the
        // metrics) every course is left to be counted from the completions.
        let t = "SELECT sum(done) FROM {{lms_progress}} AS p WHERE course_id IN {{lms_uncounted}}";
        let live = expand(t, Source::Live);
        assert!(
            !live.contains("_lms_progress") && !live.contains("{{lms_"),
            "{live}"
        );
        assert_eq!(live.matches('?').count(), 2, "{live}");
        let copies = expand(t, Source::Copies);
        assert_eq!(
            copies.matches("{{db}}._lms_progress").count(),
            2,
            "{copies}"
        );
    }
}
