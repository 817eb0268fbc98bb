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

/// Formats the hours of the week: as a table, a grid of the days of the week (Mon … Sun)
/// by hour (0 … 23), an hour without a learner 0; as JSON or CSV, the rows.
pub fn format_hours(rows: &[crate::HourActivity], format: Format) -> String {
    if format != Format::Table {
        return format_rows(rows, format);
    }
    let mut grid = vec![
        std::iter::once(String::new())
            .chain((0..24).map(|h| h.to_string()))
            .collect::<Vec<_>>(),
    ];
    for (d, day) in ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        .iter()
        .enumerate()
    {
        let mut line = vec![(*day).to_owned()];
        line.extend((0..24).map(|h| {
            rows.iter()
                .find(|r| usize::from(r.weekday) == d + 1 && r.hour == h)
                .map_or(0, |r| r.learners)
                .to_string()
        }));
        grid.push(line);
    }
    to_table(&grid)
}

/// Formats retention by enrollment cohort: as a table, a cohort per line (its Monday and
/// learners), then per week since enrollment the share of them engaged that week (a week
/// after the range's end is blank); as JSON or CSV, the rows.
pub fn format_retention(cells: &[crate::RetentionCell], format: Format) -> String {
    if format != Format::Table {
        return format_rows(cells, format);
    }
    let weeks = cells.iter().map(|c| c.week + 1).max().unwrap_or(0);
    let mut grid = vec![
        ["enrolled in the week of".to_owned(), "learners".to_owned()]
            .into_iter()
            .chain((0..weeks).map(|w| format!("week {w}")))
            .collect::<Vec<_>>(),
    ];
    for c in cells {
        if c.week == 0 {
            let mut line = vec![c.cohort.clone(), c.enrolled.to_string()];
            line.resize(grid[0].len(), String::new());
            grid.push(line);
        }
        // Tenths of a percent, half up (as the dashboard rounds).
        let tenths = (2000 * c.active + c.enrolled) / (2 * c.enrolled).max(1);
        if let Some(cell) = grid
            .last_mut()
            .and_then(|line| line.get_mut(2 + c.week as usize))
        {
            *cell = format!("{}.{}%", tenths / 10, tenths % 10);
        }
    }
    to_table(&grid)
}

/// Formats how far the learners got: as a table, a stage per line with its share of the
/// enrolled learners; as JSON an object, as CSV one row.
pub fn format_funnel(f: &crate::Funnel, format: Format) -> String {
    match format {
        Format::Json => serde_json::to_string_pretty(f).unwrap_or_default(),
        Format::Csv => to_csv(&cells(std::slice::from_ref(f))),
        Format::Table => {
            let mut grid = vec![vec![
                "stage".to_owned(),
                "learners".into(),
                "% of enrolled".into(),
            ]];
            for (stage, n) in f.stages() {
                let share = if f.enrolled == 0 {
                    0.0
                } else {
                    100.0 * n as f64 / f.enrolled as f64
                };
                grid.push(vec![stage.to_owned(), n.to_string(), format!("{share:.1}")]);
            }
            to_table(&grid)
        }
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

/// [`neutralize`] on raw bytes (a cell that is not UTF-8 is never a number).
fn neutralize_bytes(cell: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    use std::borrow::Cow;
    match std::str::from_utf8(cell) {
        Ok(s) => match neutralize(s) {
            Cow::Borrowed(_) => Cow::Borrowed(cell),
            Cow::Owned(o) => Cow::Owned(o.into_bytes()),
        },
        Err(_)
            if cell.starts_with(b"=")
                || cell.starts_with(b"+")
                || cell.starts_with(b"-")
                || cell.starts_with(b"@")
                || cell.starts_with(b"\t")
                || cell.starts_with(b"\r") =>
        {
            let mut v = Vec::with_capacity(cell.len() + 1);
            v.push(b'\'');
            v.extend_from_slice(cell);
            Cow::Owned(v)
        }
        Err(_) => Cow::Borrowed(cell),
    }
}

/// The bytes of cells a row [`NeutralCsv`] rewrites stays under (16 MiB; a spreadsheet
/// cell holds at most 32,767 characters): a row that reaches it ends the stream with
/// [`RowTooLong`] rather than be held in memory however long it is.
pub const MAX_ROW: usize = 16 << 20;

/// A row of [`MAX_ROW`] bytes or more: the rewritten stream stops before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowTooLong;

impl std::fmt::Display for RowTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "a row of the result is {} MiB or longer: the CSV stops before it",
            MAX_ROW >> 20
        )
    }
}

impl std::error::Error for RowTooLong {}

/// Rewrites a CSV stream (such as ClickHouse's `CSVWithNames`) chunk by chunk so that no
/// cell is a spreadsheet formula ([`neutralize`]), in memory bounded by the longest row
/// (at most [`MAX_ROW`]) and in time linear in the stream.
/// Cells that are not numbers come out quoted, as ClickHouse writes text.
///
/// ```
/// let mut csv = cairn_report::NeutralCsv::new();
/// let mut out = csv.feed(b"\"name\",\"n\"\n\"=1+1\",-2\n\"@SUM(A1:A2)").unwrap();
/// out.extend(csv.feed(b"\",3\n").unwrap());
/// out.extend(csv.finish().unwrap());
/// assert_eq!(out, b"\"name\",\"n\"\n\"'=1+1\",-2\n\"'@SUM(A1:A2)\",3\n");
/// ```
pub struct NeutralCsv {
    reader: csv_core::Reader,
    field: Vec<u8>,
    len: usize,
    /// The cells of the record being read, neutralised.
    record: Vec<Vec<u8>>,
    /// Their bytes.
    record_bytes: usize,
    /// A row was too long: the stream has stopped.
    stopped: bool,
}

impl Default for NeutralCsv {
    fn default() -> Self {
        Self::new()
    }
}

impl NeutralCsv {
    /// A rewriter at the start of a stream.
    pub fn new() -> Self {
        NeutralCsv {
            reader: csv_core::Reader::new(),
            field: vec![0; 256],
            len: 0,
            record: Vec::new(),
            record_bytes: 0,
            stopped: false,
        }
    }

    /// Takes the next chunk of the stream; returns the records it completed. A row of
    /// [`MAX_ROW`] bytes or more stops the stream: the records before it are returned, and
    /// every later call returns [`RowTooLong`].
    pub fn feed(&mut self, input: &[u8]) -> Result<Vec<u8>, RowTooLong> {
        self.read(input)
    }

    /// The stream ended: returns the rest (the last record, when the stream does not end
    /// with a newline), or [`RowTooLong`] if the stream stopped.
    pub fn finish(mut self) -> Result<Vec<u8>, RowTooLong> {
        let out = self.read(&[])?;
        if self.stopped {
            return Err(RowTooLong);
        }
        Ok(out)
    }

    /// Reads `input` (empty: the end of the stream) and writes the records it completes.
    fn read(&mut self, mut input: &[u8]) -> Result<Vec<u8>, RowTooLong> {
        // csv-core takes empty input for the end of the stream.
        let at_end = input.is_empty();
        if self.stopped {
            return Err(RowTooLong);
        }
        let mut out = Vec::new();
        while at_end || !input.is_empty() {
            if self.record_bytes + self.len >= MAX_ROW {
                self.too_long();
                break;
            }
            if self.len == self.field.len() {
                self.field.resize((self.field.len() * 2).min(MAX_ROW), 0);
            }
            let (res, nin, nout) = self.reader.read_field(input, &mut self.field[self.len..]);
            input = &input[nin..];
            self.len += nout;
            match res {
                csv_core::ReadFieldResult::OutputFull => {}
                csv_core::ReadFieldResult::Field { record_end } => {
                    self.record
                        .push(neutralize_bytes(&self.field[..self.len]).into_owned());
                    self.record_bytes += self.len;
                    self.len = 0;
                    if self.record_bytes >= MAX_ROW {
                        self.too_long();
                        break;
                    }
                    if record_end {
                        write_record(&mut out, &self.record);
                        self.record.clear();
                        self.record_bytes = 0;
                    }
                }
                // All of the input is read (empty input: the stream's end is read).
                csv_core::ReadFieldResult::InputEmpty | csv_core::ReadFieldResult::End => break,
            }
        }
        Ok(out)
    }

    /// The row is too long: the stream stops, and its memory is given back.
    fn too_long(&mut self) {
        self.field = Vec::new();
        self.len = 0;
        self.record = Vec::new();
        self.record_bytes = 0;
        self.stopped = true;
    }
}

/// Appends `record` to `out`, text quoted. The writer's buffer holds the whole record
/// quoted (every quote doubled), so each cell is quoted in one pass: with a smaller one,
/// csv-core scans the rest of a long cell again for every bufferful.
fn write_record(out: &mut Vec<u8>, record: &[Vec<u8>]) {
    let quoted: usize = record.iter().map(|c| 2 * c.len() + 3).sum();
    let mut w = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::NonNumeric)
        .flexible(true)
        .buffer_capacity(quoted + 2)
        .from_writer(out);
    let _ = w.write_record(record);
    let _ = w.flush();
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
            "Course overview: {} ({} to {}){}\n\n",
            o.course_id,
            o.from,
            o.to,
            o.lms_as_of
                .as_ref()
                .map(|t| format!("; progress, grades and enrollments as of {t} UTC (the LMS copy)"))
                .unwrap_or_default()
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

/// The platform view as text (sections as the overview's) or JSON.
pub fn format_platform(p: &crate::Platform, format: Format) -> String {
    if format == Format::Json {
        return serde_json::to_string_pretty(p).unwrap_or_default();
    }
    let section = |title: &str, body: String| match format {
        Format::Csv => format!("# {title}\n{body}\n"),
        _ => format!("{title}\n{}\n{body}\n", "-".repeat(title.chars().count())),
    };
    let mut s = match format {
        Format::Csv => String::new(),
        _ => format!("The platform ({} to {})\n\n", p.from, p.to),
    };
    s += &section(
        "Data freshness (lag in seconds)",
        format_rows(std::slice::from_ref(&p.freshness), format),
    );
    s += &section(
        "Activity per day, week and month",
        format_rows(&p.activity, format),
    );
    s += &section("Most active courses", format_rows(&p.courses, format));
    s += &section(
        "Ingestion per source and hour (last 24 hours)",
        format_rows(&p.ingest, format),
    );
    s
}

/// One learner's view as text (sections as the overview's) or JSON.
pub fn format_learner(v: &crate::LearnerView, format: Format) -> String {
    if format == Format::Json {
        return serde_json::to_string_pretty(v).unwrap_or_default();
    }
    let section = |title: &str, body: String| match format {
        Format::Csv => format!("# {title}\n{body}\n"),
        _ => format!("{title}\n{}\n{body}\n", "-".repeat(title.chars().count())),
    };
    let mut s = match (format, &v.summary) {
        (Format::Csv, _) => String::new(),
        (_, Some(w)) => format!(
            "Learner {} ({}) in {} ({} to {})\n\n",
            w.username, w.user_id, v.course_id, v.from, v.to
        ),
        (_, None) => format!("Learner in {} ({} to {})\n\n", v.course_id, v.from, v.to),
    };
    let summary: Vec<crate::LearnerSummary> = v.summary.iter().cloned().collect();
    s += &section("Learner", format_rows(&summary, format));
    s += &section(
        "Activity per day (time in seconds)",
        format_rows(&v.days, format),
    );
    s += &section("Progress per unit", format_rows(&v.units, format));
    s += &section(
        "Videos (seconds; share in %)",
        format_rows(&v.videos, format),
    );
    s += &section("Problems", format_rows(&v.problems, format));
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

    /// Cells as a CSV reader sees them.
    fn parse(bytes: &[u8]) -> Vec<Vec<String>> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(bytes)
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect()
    }

    fn rewrite(input: &[u8], chunk: usize) -> Vec<u8> {
        let mut n = NeutralCsv::new();
        let mut out = Vec::new();
        for c in input.chunks(chunk.max(1)) {
            out.extend(n.feed(c).unwrap());
        }
        out.extend(n.finish().unwrap());
        out
    }

    #[test]
    fn a_clickhouse_csv_stream_is_neutralised_in_any_chunking() {
        // As ClickHouse's CSVWithNames writes it: text quoted, quotes doubled.
        let input = concat!(
            "\"unit\",\"n\",\"share\"\n",
            "\"=HYPERLINK(\"\"http://evil.example\"\",\"\"Unit 1\"\")\",1,-0.5\n",
            "\"+1+cmd|' /C calc'!A0\",-2,1e3\n",
            "\"-12.5\",3,\\N\n",
            "\"@SUM(1,2)\",4,0\n",
            "\"\ttab\",5,0\n",
            "\"multi\nline, with comma\",6,0\n",
            "\"\",7,0\n",
        )
        .as_bytes();
        let expected = vec![
            vec!["unit", "n", "share"],
            vec![
                r#"'=HYPERLINK("http://evil.example","Unit 1")"#,
                "1",
                "-0.5",
            ],
            vec!["'+1+cmd|' /C calc'!A0", "-2", "1e3"],
            vec!["-12.5", "3", "\\N"],
            vec!["'@SUM(1,2)", "4", "0"],
            vec!["'\ttab", "5", "0"],
            vec!["multi\nline, with comma", "6", "0"],
            vec!["", "7", "0"],
        ];
        let whole = rewrite(input, usize::MAX);
        assert_eq!(
            parse(&whole),
            expected,
            "{}",
            String::from_utf8_lossy(&whole)
        );
        assert!(
            whole.starts_with(b"\"unit\",\"n\",\"share\"\n\"'=HYPERLINK"),
            "text stays quoted: {}",
            String::from_utf8_lossy(&whole)
        );
        for chunk in 1..input.len() {
            assert_eq!(rewrite(input, chunk), whole, "chunks of {chunk} bytes");
        }
        // No newline at the end; a cell longer than the first buffer.
        let long = format!("\"={}\"", "x".repeat(1000));
        assert_eq!(
            parse(&rewrite(long.as_bytes(), 7)),
            vec![vec![format!("'={}", "x".repeat(1000))]]
        );
        // Not UTF-8.
        assert_eq!(rewrite(b"\"=\xff\"\n", 1), b"\"'=\xff\"\n");
    }

    #[test]
    fn a_row_of_max_row_bytes_stops_the_stream_and_a_long_cell_is_quoted_whole() {
        // A long cell with quotes in it, in small chunks: quoted whole, quotes doubled.
        let cell = "ab\"c".repeat(500_000);
        let input = format!("\"s\"\n\"{}\"\n", cell.replace('"', "\"\""));
        let out = rewrite(input.as_bytes(), 16 << 10);
        assert_eq!(parse(&out), vec![vec!["s".to_owned()], vec![cell]]);
        // One cell, or many, of MAX_ROW bytes in all: an error, and the records before it.
        // The rows out, whether a feed failed, and what finish gave; `chunk` bytes at a time.
        let feed_all = |cells: usize, each: usize, chunk: usize| {
            let mut n = NeutralCsv::new();
            let mut out = n.feed(b"a,b\n").unwrap();
            let row: Vec<String> = (0..cells).map(|_| "y".repeat(each)).collect();
            // The row before the long one comes in the same chunk as its start.
            let row = "1,2\n".to_owned() + &row.join(",") + "\n";
            let mut failed = false;
            for c in row.as_bytes().chunks(chunk) {
                match n.feed(c) {
                    Ok(o) => out.extend(o),
                    Err(RowTooLong) => {
                        failed = true;
                        break;
                    }
                }
            }
            (out, failed, n.finish())
        };
        let before = b"\"a\",\"b\"\n1,2\n".to_vec();
        for chunk in [1 << 20, usize::MAX] {
            // One cell of MAX_ROW bytes: the rows before it come out whole, then the error
            // (at the latest from finish).
            let (out, _, last) = feed_all(1, MAX_ROW, chunk);
            assert_eq!(
                (out, last),
                (before.clone(), Err(RowTooLong)),
                "chunks of {chunk}"
            );
            let (out, _, last) = feed_all(64, MAX_ROW / 64, chunk);
            assert_eq!((out, last), (before.clone(), Err(RowTooLong)), "many cells");
        }
        // Once stopped, every call is the error.
        let (_, failed, _) = feed_all(1, MAX_ROW + (2 << 20), 1 << 20);
        assert!(failed, "a feed after the row passed the limit");
        let (out, failed, last) = feed_all(2, MAX_ROW / 2 - 10, 1 << 20);
        assert!(!failed);
        assert_eq!(last.map(|l| l.len()), Ok(0));
        assert_eq!(
            out.len(),
            12 + 2 * (MAX_ROW / 2 - 10 + 2) + 2,
            "a row under it"
        );
        assert!(RowTooLong.to_string().contains("16 MiB"));
    }

    proptest::proptest! {
        #[test]
        fn any_table_comes_out_neutralised(
            rows in proptest::collection::vec(
                proptest::collection::vec("[=+@a-z0-9\\-.,\"\t\r\n ]{0,12}", 1..4), 0..6),
            chunk in 1usize..40,
        ) {
            let mut w = csv::WriterBuilder::new().flexible(true).from_writer(Vec::new());
            for r in &rows {
                w.write_record(r).unwrap();
            }
            let input = w.into_inner().unwrap();
            let got = parse(&rewrite(&input, chunk));
            let want: Vec<Vec<String>> = parse(&input)
                .iter()
                .map(|r| r.iter().map(|c| neutralize(c).into_owned()).collect())
                .collect();
            proptest::prop_assert_eq!(got, want);
        }
    }
}
