//! Rows as an aligned table, CSV or JSON: any serializable row type, columns in field order.

use serde::Serialize;

use crate::Overview;

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

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "table" => Ok(Format::Table),
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            other => Err(format!("unknown format {other:?} (table, json or csv)")),
        }
    }
}

/// A row type of a report: its columns are its fields, in order.
pub trait Columns: Serialize {
    /// The field names, in order.
    const COLUMNS: &'static [&'static str];
}

/// The header and the cells of each row, as CSV would write them.
pub fn cells<T: Columns>(rows: &[T]) -> Vec<Vec<String>> {
    let header = T::COLUMNS;
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    for r in rows {
        // Rows are plain structs of strings and numbers: serializing cannot fail.
        let _ = w.serialize(r);
    }
    let bytes = w.into_inner().unwrap_or_default();
    let mut out = vec![header.iter().map(|h| (*h).to_owned()).collect()];
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes.as_slice());
    for rec in r.records().flatten() {
        out.push(rec.iter().map(str::to_owned).collect());
    }
    out
}

/// Formats rows.
pub fn format_rows<T: Columns>(rows: &[T], format: Format) -> String {
    match format {
        Format::Json => serde_json::to_string_pretty(rows).unwrap_or_default(),
        Format::Csv => to_csv(&cells(rows)),
        Format::Table => to_table(&cells(rows)),
    }
}

fn to_csv(cells: &[Vec<String>]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in cells {
        let _ = w.write_record(r);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

fn to_table(cells: &[Vec<String>]) -> String {
    let n = cells.first().map_or(0, Vec::len);
    let width = |i: usize| {
        cells
            .iter()
            .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..n).map(width).collect();
    let numeric: Vec<bool> = (0..n)
        .map(|i| {
            cells.len() > 1
                && cells[1..]
                    .iter()
                    .all(|r| r.get(i).is_some_and(|c| c.parse::<f64>().is_ok()))
        })
        .collect();
    let mut out = String::new();
    for r in cells {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let pad = widths[i].saturating_sub(c.chars().count());
                if numeric[i] {
                    format!("{}{c}", " ".repeat(pad))
                } else {
                    format!("{c}{}", " ".repeat(pad))
                }
            })
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// Formats the course overview: JSON as one object; a table or CSV as titled sections.
pub fn format_overview(o: &Overview, format: Format) -> String {
    if format == Format::Json {
        return serde_json::to_string_pretty(o).unwrap_or_default();
    }
    let section = |title: &str, body: String| match format {
        Format::Csv => format!("# {title}\n{body}\n"),
        _ => format!("{title}\n{}\n{body}\n", "-".repeat(title.chars().count())),
    };
    let mut s = match format {
        Format::Csv => String::new(),
        _ => format!(
            "Course overview: {} ({} to {})\n\n",
            o.course_id,
            o.from,
            o.to - chrono::Duration::days(1)
        ),
    };
    s += &section(
        "Weekly engagement (time in seconds)",
        format_rows(&o.weekly, format),
    );
    s += &section("Progress per unit", format_rows(&o.progress, format));
    s += &section("Grade distribution", format_rows(&o.grades, format));
    s += &section(
        "Demographics (enrolled learners)",
        format_rows(&o.demographics, format),
    );
    s += &section("Video engagement (seconds)", format_rows(&o.videos, format));
    s
}
