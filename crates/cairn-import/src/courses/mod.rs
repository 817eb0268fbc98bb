//! Course structure into the data lake (`course_blocks`).
//!
//! Each import writes all of a course's blocks under a new `import_version`, then one row
//! in `_course_imports`; the `course_blocks` view shows only the latest finished import of
//! each course. Readers never see a half-imported course or two versions at once, and a
//! re-import replaces rather than duplicates — without ClickHouse mutations.

pub mod olx;

use std::time::{SystemTime, UNIX_EPOCH};

use cairn_core::ClickHouse;
use cairn_core::sql::quote_ident;
use clickhouse::Row;
use serde::Serialize;

pub use olx::{Block, Limits, OlxCourse, OlxError};

#[derive(Row, Serialize)]
struct StoredBlock<'a> {
    course_id: &'a str,
    import_version: u64,
    block_key: &'a str,
    block_id: &'a str,
    block_type: &'a str,
    position: u32,
    display_name: &'a str,
    full_name: &'a str,
    graded: u8,
    format: &'a str,
    parent: &'a str,
    section: &'a str,
    subsection: &'a str,
    unit: &'a str,
}

/// Writes a course's blocks as a new import; returns the import version.
pub async fn write_course(
    ch: &ClickHouse,
    course_id: &str,
    blocks: &[Block],
    source: &str,
) -> cairn_core::Result<u64> {
    let version = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let err = |e| cairn_core::Error::clickhouse("insert into _course_blocks", e);
    let mut insert = ch
        .client()
        .insert::<StoredBlock<'_>>("_course_blocks")
        .await
        .map_err(err)?;
    for b in blocks {
        insert
            .write(&StoredBlock {
                course_id,
                import_version: version,
                block_key: &b.block_key,
                block_id: &b.block_id,
                block_type: &b.block_type,
                position: b.position,
                display_name: &b.display_name,
                full_name: &b.full_name,
                graded: u8::from(b.graded),
                format: &b.format,
                parent: &b.parent,
                section: &b.section,
                subsection: &b.subsection,
                unit: &b.unit,
            })
            .await
            .map_err(err)?;
    }
    insert.end().await.map_err(err)?;
    let sql = format!(
        "INSERT INTO {}._course_imports (course_id, import_version, blocks, source) SELECT ?, toUInt64(?), toUInt32(?), ?",
        quote_ident(ch.database())
    );
    ch.client()
        .query(&sql)
        .bind(course_id)
        .bind(version)
        .bind(blocks.len() as u64)
        .bind(source)
        .execute()
        .await
        .map_err(|e| cairn_core::Error::clickhouse("insert into _course_imports", e))?;
    Ok(version)
}
