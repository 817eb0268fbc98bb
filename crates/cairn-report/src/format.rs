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

/// A CSV cell that a spreadsheet cannot take for a formula: text starting with `=`, `+`,
/// `-`, `@`, a tab or a carriage return gets a leading apostrophe (shown by spreadsheets
/// as text, not as a character); numbers stay numbers (`-3`, `+1.5e3`).
///
/// ```
/// use cairn_report::neutralize;
/// assert_eq!(neutralize(r#"=HYPERLINK("http://evil.example","Unit 1")"#), r#"'=HYPERLINK("http://evil.example","Unit 1")"#);
/// assert_eq!(neutralize("-12.5"), "-12.5");
/// assert_eq!(neutralize("Unit 1"), "Unit 1");
/// ```
pub fn neutralize(cell: &str) -> std::borrow::Cow<'_, str> {
    let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && !is_number(cell) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// A plain decimal number (what a spreadsheet reads as a number, not a formula).
fn is_number(cell: &str) -> bool {
    let body = cell.strip_prefix(['+', '-']).unwrap_or(cell);
    !body.is_empty()
        && body.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
        && body.parse::<f64>().is_ok_and(f64::is_finite)
}

fn to_csv(cells: &[Vec<String>]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in cells {
        let _ = w.write_record(r.iter().map(|c| neutralize(c).into_owned()));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Row {
        name: String,
        n: i64,
        share: f64,
    }

    impl Columns for Row {
        const COLUMNS: &'static [&'static str] = &["name", "n", "share"];
    }

    #[test]
    fn csv_cells_cannot_be_formulas_and_numbers_stay_numbers() {
        let rows: Vec<Row> = [
            r#"=HYPERLINK("http://evil.example","Unit 1")"#,
            "+cmd|' /C calc'!A0",
            "-2+3",
            "@SUM(A1:A9)",
            "\t=1+1",
            "\r=1+1",
            "Unit 1",
            "-",
            "1e5",
        ]
        .iter()
        .enumerate()
        .map(|(i, n)| Row {
            name: (*n).to_owned(),
            n: -(i as i64),
            share: -0.25,
        })
        .collect();
        let csv = format_rows(&rows, Format::Csv);
        let mut r = csv::Reader::from_reader(csv.as_bytes());
        let got: Vec<Vec<String>> = r
            .records()
            .map(|rec| rec.unwrap().iter().map(str::to_owned).collect())
            .collect();
        let names: Vec<&str> = got.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(
            names,
            [
                r#"'=HYPERLINK("http://evil.example","Unit 1")"#,
                "'+cmd|' /C calc'!A0",
                "'-2+3",
                "'@SUM(A1:A9)",
                "'\t=1+1",
                "'\r=1+1",
                "Unit 1",
                "'-",
                "1e5",
            ]
        );
        // Negative numbers are numbers.
        assert_eq!(got[3][1], "-3");
        assert_eq!(got[3][2], "-0.25");
        // Only CSV: JSON and the table keep the text as it is.
        assert!(format_rows(&rows, Format::Json).contains("\"=HYPERLINK("));
        assert!(format_rows(&rows, Format::Table).contains("=HYPERLINK("));
    }

    #[test]
    fn numbers_are_plain_decimals() {
        for n in ["-1", "+2", "-0.5", "-.5", "3e-7", "-1E+3"] {
            assert!(is_number(n), "{n}");
        }
        for t in [
            "-inf", "-NaN", "-", "+", "-1-1", "-e5", "=1", "-0x10", "- 1",
        ] {
            assert!(!is_number(t), "{t}");
        }
    }
}
