//! Course structure into the data lake (`course_blocks`).
//!
//! Each import writes all of a course's blocks under a new `import_version`, then one row
//! in `_course_imports`; the `course_blocks` view shows only the latest finished import of
//! each course. Readers never see a half-imported course or two versions at once, and a
//! re-import replaces rather than duplicates — without ClickHouse mutations.

pub mod lms;
pub mod olx;

use std::time::{SystemTime, UNIX_EPOCH};

use cairn_core::ClickHouse;
use cairn_core::sql::quote_ident;
use clickhouse::Row;
use serde::Serialize;

pub use olx::{Limits, OlxCourse, OlxError};

/// How deep blocks may nest (course → section → subsection → unit → component is 5; split
/// tests and library content add a few), an export's pointers followed included. Deeper is
/// refused, not followed: it is no course, and the walk must not overflow the stack.
pub const MAX_DEPTH: usize = 64;
/// How many blocks one course may have, a block reached twice counted twice (real courses
/// have thousands): past it the course is refused, so that blocks shared level after level
/// (an export's pointers, the LMS's children lists) cannot make the walk run without end.
pub const MAX_BLOCKS: usize = 200_000;

/// A block as a source describes it, before flattening.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// XBlock type.
    pub block_type: String,
    /// Block id.
    pub block_id: String,
    /// Usage key.
    pub block_key: String,
    /// `display_name` when the source sets one.
    pub display_name: Option<String>,
    /// `graded` when the source sets it on this block.
    pub graded: Option<bool>,
    /// `format` (assignment type) when set on this block.
    pub format: Option<String>,
    /// Child blocks, in order.
    pub children: Vec<Node>,
}

/// One block of a course, in course order.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Block {
    /// Usage key.
    pub block_key: String,
    /// XBlock type.
    pub block_type: String,
    /// Block id.
    pub block_id: String,
    /// 1-based position in course order (depth first, as the outline reads).
    pub position: u32,
    /// Name as the LMS shows it.
    pub display_name: String,
    /// Breadcrumb below the course: `Section > Subsection > Unit > Component`.
    pub full_name: String,
    /// Graded (set on the subsection, inherited).
    pub graded: bool,
    /// Assignment type of the graded subsection (`format`), inherited.
    pub format: String,
    /// Usage key of the parent (`""` for the course).
    pub parent: String,
    /// Name of the section (chapter) it is in.
    pub section: String,
    /// Name of the subsection (sequential) it is in.
    pub subsection: String,
    /// Name of the unit (vertical) it is in.
    pub unit: String,
    /// Usage key of the unit (vertical) it is in (`""` above units).
    pub unit_key: String,
}

/// The `display_name` field default of common XBlock types (what the LMS shows when a
/// block sets none); other types show their block id with `_` as spaces.
pub fn default_name(block_type: &str) -> Option<&'static str> {
    Some(match block_type {
        "html" => "Text",
        "problem" => "Blank Advanced Problem",
        "video" => "Video",
        "library_content" => "Randomized Content Block",
        "discussion" => "Discussion",
        "openassessment" => "Open Response Assessment",
        "drag-and-drop-v2" => "Drag and Drop",
        "poll" => "Poll",
        "survey" => "Survey",
        _ => return None,
    })
}

#[derive(Clone, Default)]
struct Inherited {
    graded: bool,
    format: String,
    trail: Vec<String>,
    section: String,
    subsection: String,
    unit: String,
    unit_key: String,
}

/// Flattens a course tree into its blocks in course order, with names as the LMS shows
/// them, breadcrumbs below the course, and `graded`/`format` inherited downwards.
pub fn flatten(root: &Node) -> Vec<Block> {
    fn go(n: &Node, parent: &str, inh: &Inherited, out: &mut Vec<Block>) {
        let display_name = n
            .display_name
            .clone()
            .or_else(|| default_name(&n.block_type).map(str::to_owned))
            .unwrap_or_else(|| n.block_id.replace('_', " "));
        let mut here = inh.clone();
        if let Some(g) = n.graded {
            here.graded = g;
        }
        if let Some(f) = &n.format {
            here.format = f.clone();
        }
        if n.block_type != "course" {
            here.trail.push(display_name.clone());
        }
        match n.block_type.as_str() {
            "chapter" => here.section = display_name.clone(),
            "sequential" => here.subsection = display_name.clone(),
            "vertical" => {
                here.unit = display_name.clone();
                here.unit_key = n.block_key.clone();
            }
            _ => {}
        }
        out.push(Block {
            block_key: n.block_key.clone(),
            block_type: n.block_type.clone(),
            block_id: n.block_id.clone(),
            position: out.len() as u32 + 1,
            display_name,
            full_name: here.trail.join(" > "),
            graded: here.graded,
            format: here.format.clone(),
            parent: parent.to_owned(),
            section: here.section.clone(),
            subsection: here.subsection.clone(),
            unit: here.unit.clone(),
            unit_key: here.unit_key.clone(),
        });
        for c in &n.children {
            go(c, &n.block_key, &here, out);
        }
    }
    let mut out = Vec::new();
    go(root, "", &Inherited::default(), &mut out);
    out
}

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
    unit_key: &'a str,
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
                unit_key: &b.unit_key,
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

/// A publish hook for ingestion: re-imports a course from the LMS when its
/// `Updating/Creating course overview` line shows up, debounced (publishes of one course
/// within the window give one import, after the last of them).
pub struct LmsPublishHook {
    pending:
        std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>>,
}

impl LmsPublishHook {
    /// Starts the hook's worker thread, importing into `ch` from the LMS at `lms_url`.
    pub fn spawn(
        ch: ClickHouse,
        handle: tokio::runtime::Handle,
        lms_url: &str,
        client_id: &str,
        client_secret: &cairn_core::Secret,
        debounce: std::time::Duration,
    ) -> Result<Self, lms::LmsError> {
        let mut client = lms::LmsClient::new(lms_url, client_id, client_secret)?;
        let pending: std::sync::Arc<
            std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
        > = Default::default();
        let queue = pending.clone();
        std::thread::spawn(move || {
            loop {
                std::thread::sleep((debounce / 4).max(std::time::Duration::from_millis(20)));
                let due: Vec<String> = {
                    let Ok(mut q) = queue.lock() else { return };
                    let due: Vec<String> = q
                        .iter()
                        .filter(|(_, t)| t.elapsed() >= debounce)
                        .map(|(k, _)| k.clone())
                        .collect();
                    for k in &due {
                        q.remove(k);
                    }
                    due
                };
                for course in due {
                    let result = handle.block_on(async {
                        let blocks = client.blocks(&course).await.map_err(|e| e.to_string())?;
                        write_course(&ch, &course, &blocks, "lms-publish")
                            .await
                            .map_err(|e| e.to_string())?;
                        Ok::<usize, String>(blocks.len())
                    });
                    match result {
                        Ok(n) => {
                            tracing::info!(
                                "ingest: re-imported {course} after a publish ({n} blocks)"
                            )
                        }
                        Err(e) => {
                            tracing::error!(
                                "ingest: re-import of {course} after a publish failed: {e}"
                            )
                        }
                    }
                }
                if std::sync::Arc::strong_count(&queue) == 1
                    && queue.lock().map(|q| q.is_empty()).unwrap_or(true)
                {
                    return; // the hook is gone and nothing is left to do
                }
            }
        });
        Ok(LmsPublishHook { pending })
    }
}

impl crate::ingest::PublishHook for LmsPublishHook {
    fn course_published(&mut self, course_id: &str) {
        if let Ok(mut q) = self.pending.lock() {
            q.insert(course_id.to_owned(), std::time::Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On the live server: the stored block fits `_course_blocks` as current servers check it.
    #[tokio::test(flavor = "multi_thread")]
    async fn stored_blocks_fit_the_blocks_table() {
        let ch = cairn_migrate::testing::data_lake("import_block_columns").await;
        cairn_core::testing::assert_insert_columns::<StoredBlock<'_>>(&ch, "_course_blocks").await;
        ch.drop_database().await.unwrap();
    }
}
