//! Saved charts and dashboards: their shapes, their checks, their storage in the data lake
//! (`_saved_objects`: one row per version, the latest counts, a deletion is a version) and
//! their export to / import from plain JSON files (`cairn dashboards export|import`).
//!
//! ```
//! use cairn_serve::saved::{Chart, ChartKind};
//! let c = Chart { name: "Events".into(), description: String::new(), sql: "SELECT 1 AS n".into(),
//!     kind: ChartKind::Number, x: String::new(), y: vec!["n".into()], series: None, stacked: false };
//! assert!(c.check().is_ok());
//! assert!(c.check_columns(&["m".to_owned()]).unwrap_err().contains("n"));
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use cairn_core::ClickHouse;
use cairn_core::sql::quote_ident;
use clickhouse::Row;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// How a chart draws its query's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChartKind {
    /// Lines: x, one line per y column (or per series value).
    Line,
    /// Bars, stacked or not.
    Bar,
    /// A pie: x the labels, the first y the sizes.
    Pie,
    /// One big number: the first y of the first row.
    Number,
    /// The rows as a table.
    Table,
    /// A histogram of the numeric column x.
    Histogram,
}

/// A saved chart: a query and how to draw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chart {
    /// Its name.
    pub name: String,
    /// What it shows.
    #[serde(default)]
    pub description: String,
    /// The query (parameters `{course_id:String}`, `{from:Date}`, `{to:Date}` are bound
    /// from the dashboard's filters).
    pub sql: String,
    /// How it is drawn.
    #[serde(rename = "type")]
    pub kind: ChartKind,
    /// The column of the x axis (labels of a pie; values of a histogram).
    #[serde(default)]
    pub x: String,
    /// The columns drawn (sizes of a pie; the number of a big number).
    #[serde(default)]
    pub y: Vec<String>,
    /// A column whose values split the first y column into series.
    #[serde(default)]
    pub series: Option<String>,
    /// Bars stacked.
    #[serde(default)]
    pub stacked: bool,
}

/// A saved dashboard: a grid of charts with the course and date filters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dashboard {
    /// Its name.
    pub name: String,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// Its charts' ids, in order.
    pub charts: Vec<String>,
    /// Users it is shared with (LMS usernames).
    #[serde(default)]
    pub shared_with: Vec<String>,
    /// Shared with everyone who may use the dashboard.
    #[serde(default)]
    pub everyone: bool,
}

fn check_name(what: &str, name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err(format!("a {what} needs a name"));
    }
    if name.chars().count() > 200 {
        return Err(format!("the {what}'s name is longer than 200 characters"));
    }
    Ok(())
}

impl Chart {
    /// The chart's own checks: a name, a query, the columns its kind needs.
    pub fn check(&self) -> Result<(), String> {
        check_name("chart", &self.name)?;
        if self.sql.trim().is_empty() {
            return Err("the chart's query is empty".into());
        }
        let needs_x = matches!(
            self.kind,
            ChartKind::Line | ChartKind::Bar | ChartKind::Pie | ChartKind::Histogram
        );
        if needs_x && self.x.is_empty() {
            return Err(format!("a {:?} chart needs an x column", self.kind).to_lowercase());
        }
        let needs_y = matches!(
            self.kind,
            ChartKind::Line | ChartKind::Bar | ChartKind::Pie | ChartKind::Number
        );
        if needs_y && self.y.is_empty() {
            return Err(format!("a {:?} chart needs a y column", self.kind).to_lowercase());
        }
        Ok(())
    }

    /// Checks that every column the chart names is one of the query's result `columns`.
    pub fn check_columns(&self, columns: &[String]) -> Result<(), String> {
        let named = std::iter::once(&self.x)
            .filter(|x| !x.is_empty())
            .chain(&self.y)
            .chain(self.series.iter());
        for c in named {
            if !columns.contains(c) {
                return Err(format!(
                    "column {c:?} is not in the query's result (its columns: {})",
                    columns.join(", ")
                ));
            }
        }
        Ok(())
    }
}

impl Dashboard {
    /// The dashboard's own checks: a name, sorted distinct users.
    pub fn check(&mut self) -> Result<(), String> {
        check_name("dashboard", &self.name)?;
        self.shared_with.retain(|u| !u.trim().is_empty());
        self.shared_with.sort();
        self.shared_with.dedup();
        Ok(())
    }

    /// Whether `user` may open it (its author always may).
    pub fn visible_to(&self, author: &str, user: &str) -> bool {
        author == user || self.everyone || self.shared_with.iter().any(|u| u == user)
    }
}

/// One saved object, latest version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Saved<T> {
    /// Its id.
    pub id: String,
    /// Who made it (may change and delete it).
    pub author: String,
    /// Its version (microseconds since 1970 when it was saved).
    #[serde(default)]
    pub version: u64,
    /// The object.
    #[serde(flatten)]
    pub body: T,
}

/// Every live chart and dashboard, by id.
#[derive(Debug, Default)]
pub struct Objects {
    /// Charts.
    pub charts: BTreeMap<String, Saved<Chart>>,
    /// Dashboards.
    pub dashboards: BTreeMap<String, Saved<Dashboard>>,
}

#[derive(Row, Deserialize)]
struct LatestRow {
    kind: String,
    id: String,
    last_version: u64,
    last_author: String,
    last_deleted: u8,
    last_body: String,
}

impl LatestRow {
    /// The row as a saved object with its parsed `body`, and its id.
    fn saved<T>(self, body: T) -> (String, Saved<T>) {
        let saved = Saved {
            id: self.id.clone(),
            author: self.last_author,
            version: self.last_version,
            body,
        };
        (self.id, saved)
    }
}

fn err(what: &str, e: clickhouse::error::Error) -> cairn_core::Error {
    cairn_core::Error::clickhouse(what, e)
}

/// A new random id (16 hex digits).
pub fn new_id() -> String {
    rand::random::<[u8; 8]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn parse_body<T: DeserializeOwned>(kind: &str, id: &str, body: &str) -> Option<T> {
    match serde_json::from_str(body) {
        Ok(b) => Some(b),
        Err(e) => {
            tracing::error!("saved {kind} {id}: its stored JSON does not parse ({e}); skipped");
            None
        }
    }
}

/// Reads the latest version of every object (deleted ones left out).
pub async fn load(ch: &ClickHouse) -> cairn_core::Result<Objects> {
    let rows: Vec<LatestRow> = ch
        .client()
        .query(&format!(
            "SELECT kind, id, max(version) AS last_version, argMax(author, version) AS last_author, \
             argMax(deleted, version) AS last_deleted, argMax(body, version) AS last_body \
             FROM {}._saved_objects GROUP BY kind, id ORDER BY kind, id",
            quote_ident(ch.database())
        ))
        .fetch_all()
        .await
        .map_err(|e| err("reading _saved_objects", e))?;
    let mut out = Objects::default();
    for r in rows.into_iter().filter(|r| r.last_deleted == 0) {
        match r.kind.as_str() {
            "chart" => {
                if let Some(body) = parse_body(&r.kind, &r.id, &r.last_body) {
                    let (id, saved) = r.saved(body);
                    out.charts.insert(id, saved);
                }
            }
            "dashboard" => {
                if let Some(mut body) = parse_body::<Dashboard>(&r.kind, &r.id, &r.last_body) {
                    // As saving does: sorted users, whoever wrote the row.
                    let _ = body.check();
                    let (id, saved) = r.saved(body);
                    out.dashboards.insert(id, saved);
                }
            }
            other => tracing::warn!("saved object {} of unknown kind {other:?} skipped", r.id),
        }
    }
    Ok(out)
}

fn now_us() -> u64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Records a version of an object (`body` None: its deletion), after `previous` (the
/// latest version, so versions only grow).
pub async fn record(
    ch: &ClickHouse,
    kind: &str,
    id: &str,
    author: &str,
    previous: u64,
    body: Option<&serde_json::Value>,
) -> cairn_core::Result<u64> {
    let version = now_us().max(previous + 1);
    ch.client()
        .query(&format!(
            "INSERT INTO {}._saved_objects (kind, id, version, author, deleted, body) \
             SELECT ?, ?, toUInt64(?), ?, toUInt8(?), ?",
            quote_ident(ch.database())
        ))
        .bind(kind)
        .bind(id)
        .bind(version)
        .bind(author)
        .bind(u8::from(body.is_none()))
        .bind(body.map(ToString::to_string).unwrap_or_default())
        .execute()
        .await
        .map_err(|e| err("writing _saved_objects", e))?;
    Ok(version)
}

/// What an export or import did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Moved {
    /// Charts written.
    pub charts: usize,
    /// Dashboards written.
    pub dashboards: usize,
    /// Objects already the same (import).
    pub unchanged: usize,
}

fn safe_id(id: &str) -> Result<&str, String> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(id)
    } else {
        Err(format!(
            "id {id:?}: expected 1 to 64 letters, digits, '-' or '_'"
        ))
    }
}

/// Writes every live chart and dashboard to `dir/charts/<id>.json` and
/// `dir/dashboards/<id>.json` (pretty JSON, stable field order, no version: the files are
/// for git), removing files of objects no longer there.
pub async fn export(ch: &ClickHouse, dir: &Path) -> Result<Moved, String> {
    let objects = load(ch).await.map_err(|e| e.to_string())?;
    let write_all = |sub: &str, items: Vec<(String, serde_json::Value)>| -> Result<usize, String> {
        let folder = dir.join(sub);
        std::fs::create_dir_all(&folder).map_err(|e| format!("{}: {e}", folder.display()))?;
        let keep: Vec<String> = items.iter().map(|(id, _)| format!("{id}.json")).collect();
        for entry in std::fs::read_dir(&folder).map_err(|e| format!("{}: {e}", folder.display()))? {
            let entry = entry.map_err(|e| format!("{}: {e}", folder.display()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".json") && !keep.contains(&name) {
                std::fs::remove_file(entry.path())
                    .map_err(|e| format!("{}: {e}", entry.path().display()))?;
            }
        }
        for (id, v) in &items {
            let path = folder.join(format!("{id}.json"));
            let text = serde_json::to_string_pretty(v).map_err(|e| e.to_string())? + "\n";
            std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Ok(items.len())
    };
    let strip = |mut v: serde_json::Value| {
        if let Some(o) = v.as_object_mut() {
            o.remove("version");
        }
        v
    };
    let charts = files(objects.charts.values(), &strip)?;
    let dashboards = files(objects.dashboards.values(), &strip)?;
    Ok(Moved {
        charts: write_all("charts", charts)?,
        dashboards: write_all("dashboards", dashboards)?,
        unchanged: 0,
    })
}

/// Records each of `items` that differs from its latest version in `existing`: how many
/// were written, and how many were already the same.
async fn record_changed<T: Serialize + PartialEq>(
    ch: &ClickHouse,
    kind: &str,
    items: Vec<Saved<T>>,
    existing: &BTreeMap<String, Saved<T>>,
) -> Result<(usize, usize), String> {
    let (mut written, mut same) = (0, 0);
    for item in items {
        let old = existing.get(&item.id);
        if old.is_some_and(|o| o.body == item.body && o.author == item.author) {
            same += 1;
            continue;
        }
        let body = serde_json::to_value(&item.body).map_err(|e| e.to_string())?;
        let previous = old.map_or(0, |o| o.version);
        record(ch, kind, &item.id, &item.author, previous, Some(&body))
            .await
            .map_err(|e| e.to_string())?;
        written += 1;
    }
    Ok((written, same))
}

/// Each object's file name (its id, checked) and JSON.
fn files<'a, T: Serialize + 'a>(
    items: impl Iterator<Item = &'a Saved<T>>,
    strip: &dyn Fn(serde_json::Value) -> serde_json::Value,
) -> Result<Vec<(String, serde_json::Value)>, String> {
    items
        .map(|o| {
            let v = serde_json::to_value(o).map_err(|e| e.to_string())?;
            Ok((safe_id(&o.id)?.to_owned(), strip(v)))
        })
        .collect()
}

fn read_folder<T: DeserializeOwned>(dir: &Path, sub: &str) -> Result<Vec<Saved<T>>, String> {
    let folder = dir.join(sub);
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(&folder) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(format!("{}: {e}", folder.display())),
    };
    let mut paths: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    for path in paths {
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let saved: Saved<T> =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        safe_id(&saved.id).map_err(|e| format!("{}: {e}", path.display()))?;
        let stem = path.file_stem().unwrap_or_default().to_string_lossy();
        if stem != saved.id {
            return Err(format!(
                "{}: the file holds id {:?}; its name must be {}.json",
                path.display(),
                saved.id,
                saved.id
            ));
        }
        out.push(saved);
    }
    Ok(out)
}

/// Reads the files [`export`] writes from `dir` and records every object that differs
/// from the data lake's latest version. Every file is read and checked first: a file that
/// does not parse, or a dashboard naming a chart that is nowhere, changes nothing.
pub async fn import(ch: &ClickHouse, dir: &Path) -> Result<Moved, String> {
    if !dir.is_dir() {
        return Err(format!("{}: not a folder", dir.display()));
    }
    let charts: Vec<Saved<Chart>> = read_folder(dir, "charts")?;
    let mut dashboards: Vec<Saved<Dashboard>> = read_folder(dir, "dashboards")?;
    for c in &charts {
        c.body.check().map_err(|e| {
            format!(
                "{}: {e}",
                dir.join("charts").join(format!("{}.json", c.id)).display()
            )
        })?;
    }
    let existing = load(ch).await.map_err(|e| e.to_string())?;
    for d in &mut dashboards {
        let path = dir.join("dashboards").join(format!("{}.json", d.id));
        d.body
            .check()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        for c in &d.body.charts {
            if !charts.iter().any(|x| &x.id == c) && !existing.charts.contains_key(c) {
                return Err(format!(
                    "{}: chart {c:?} is neither in the folder nor in the data lake",
                    path.display()
                ));
            }
        }
    }
    let (charts_written, same_charts) =
        record_changed(ch, "chart", charts, &existing.charts).await?;
    let (dashboards_written, same_dashboards) =
        record_changed(ch, "dashboard", dashboards, &existing.dashboards).await?;
    let moved = Moved {
        charts: charts_written,
        dashboards: dashboards_written,
        unchanged: same_charts + same_dashboards,
    };
    Ok(moved)
}
