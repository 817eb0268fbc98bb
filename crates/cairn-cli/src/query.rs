//! `cairn query "SQL"` and `cairn client`: SQL on the data lake from the terminal, as the
//! configured ClickHouse user or, with `--as USER`, as that user's own ClickHouse user
//! (the explorer's identity: ClickHouse restricts it exactly as in the dashboard).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::ExitCode;

use cairn_acl::explorer::Limits;
use cairn_core::{ClickHouse, Config};
use cairn_serve::explorer::{Identity, TSV, Table, Target, read_table, send};
use serde_json::Value;

/// How `cairn query` prints the result.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// Aligned columns.
    Table,
    /// `{"columns": […], "rows": […], …}`.
    Json,
    /// CSV with a header line.
    Csv,
}

/// Arguments of `cairn query`.
#[derive(clap::Args, Debug)]
pub struct QueryArgs {
    /// One SQL statement.
    sql: String,
    /// Run as this LMS user's own ClickHouse user (CAIRN_EXPLORER_KEY, ClickHouse 23.8+).
    #[arg(long = "as", value_name = "USER")]
    as_user: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    format: Output,
    /// A value for `{NAME:Type}` in the SQL, bound by ClickHouse (repeatable).
    #[arg(long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,
}

/// Arguments of `cairn client`.
#[derive(clap::Args, Debug)]
pub struct ClientArgs {
    /// Run as this LMS user's own ClickHouse user (CAIRN_EXPLORER_KEY, ClickHouse 23.8+).
    #[arg(long = "as", value_name = "USER")]
    as_user: Option<String>,
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

async fn connect(config: &Config, as_user: Option<&str>) -> Result<(ClickHouse, Identity), String> {
    let ch = ClickHouse::connect(&config.clickhouse)
        .await
        .map_err(|e| e.to_string())?;
    let id = match as_user {
        Some(u) => Identity::own(&ch, config.explorer.key.expose(), u)?,
        None => Identity::Operator,
    };
    Ok((ch, id))
}

/// A result as aligned text columns (NULL for nulls).
pub fn table_text(t: &Table) -> String {
    let cell = |v: &Value| match v {
        Value::Null => "NULL".to_owned(),
        Value::String(s) => s.replace('\n', "\\n"),
        other => other.to_string(),
    };
    let cells: Vec<Vec<String>> = t
        .rows
        .iter()
        .map(|r| r.iter().map(cell).collect())
        .collect();
    let mut widths: Vec<usize> = t.columns.iter().map(|c| c.name.chars().count()).collect();
    for row in &cells {
        for (i, c) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let line = |items: Vec<&str>| {
        items
            .iter()
            .zip(&widths)
            .map(|(s, w)| format!("{s:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
            + "\n"
    };
    let mut out = line(t.columns.iter().map(|c| c.name.as_str()).collect());
    out += &line(
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect(),
    );
    for row in &cells {
        out += &line(row.iter().map(String::as_str).collect());
    }
    out += &format!(
        "({} row{}{}, {:.3} s)\n",
        t.rows.len(),
        if t.rows.len() == 1 { "" } else { "s" },
        if t.truncated { ", truncated" } else { "" },
        t.elapsed_ms as f64 / 1000.0
    );
    out
}

fn params(list: &[String]) -> Result<BTreeMap<String, Value>, String> {
    list.iter()
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.to_owned(), Value::String(v.to_owned())))
                .ok_or_else(|| format!("--param {p:?}: expected NAME=VALUE"))
        })
        .collect()
}

async fn run_one(
    t: &Target<'_>,
    id: &Identity,
    sql: &str,
    params: &BTreeMap<String, Value>,
    format: Output,
) -> Result<(), String> {
    let started = std::time::Instant::now();
    let (f, rows) = match format {
        Output::Csv => ("CSVWithNames", 0),
        _ => (TSV, usize::MAX),
    };
    let resp = send(t, id, sql, params, f)
        .await
        .map_err(|e| e.to_string())?;
    let mut stdout = std::io::stdout().lock();
    match format {
        Output::Csv => {
            // Streamed; no cell comes out as a spreadsheet formula.
            let mut resp = resp;
            let mut csv = cairn_report::NeutralCsv::new();
            while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
                let out = csv.feed(&chunk).map_err(|e| e.to_string())?;
                stdout.write_all(&out).map_err(|e| e.to_string())?;
            }
            let out = csv.finish().map_err(|e| e.to_string())?;
            stdout.write_all(&out).map_err(|e| e.to_string())?;
        }
        Output::Json | Output::Table => {
            let table = read_table(resp, started, rows, usize::MAX)
                .await
                .map_err(|e| e.to_string())?;
            let text = if format == Output::Json {
                serde_json::to_string(&table).map_err(|e| e.to_string())? + "\n"
            } else {
                table_text(&table)
            };
            stdout
                .write_all(text.as_bytes())
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

fn finish(r: Result<(), String>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cairn: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `cairn query`.
pub fn query(args: &QueryArgs, config: &Config) -> ExitCode {
    finish(runtime().and_then(|rt| {
        rt.block_on(async {
            let params = params(&args.params)?;
            let (ch, id) = connect(config, args.as_user.as_deref()).await?;
            let http = reqwest::Client::new();
            let limits = Limits::from(&config.explorer);
            let t = Target {
                ch: &ch,
                http: &http,
                limits: &limits,
            };
            run_one(&t, &id, &args.sql, &params, args.format).await
        })
    }))
}

/// Runs `cairn client`: statements end with `;`; `exit` or end of input leaves.
pub fn client(args: &ClientArgs, config: &Config) -> ExitCode {
    finish(runtime().and_then(|rt| {
        rt.block_on(async {
            let (ch, id) = connect(config, args.as_user.as_deref()).await?;
            let http = reqwest::Client::new();
            let limits = Limits::from(&config.explorer);
            let t = Target { ch: &ch, http: &http, limits: &limits };
            let mut rl = rustyline::DefaultEditor::new().map_err(|e| e.to_string())?;
            let history = std::env::var_os("HOME")
                .map(|h| std::path::PathBuf::from(h).join(".cairn_history"));
            if let Some(h) = &history {
                let _ = rl.load_history(h);
            }
            let who = match &id {
                Identity::Own { user, .. } => user.clone(),
                _ => config.clickhouse.username.clone(),
            };
            eprintln!(
                "cairn client: ClickHouse {} at {} as {who}, database {}. End statements with ';'; exit with `exit` or Ctrl-D.",
                ch.version(),
                config.clickhouse.url(),
                ch.database()
            );
            let mut pending = String::new();
            loop {
                let prompt = if pending.is_empty() { "cairn> " } else { "    -> " };
                let line = match rl.readline(prompt) {
                    Ok(l) => l,
                    Err(rustyline::error::ReadlineError::Interrupted) => {
                        pending.clear();
                        continue;
                    }
                    Err(rustyline::error::ReadlineError::Eof) => break,
                    Err(e) => return Err(e.to_string()),
                };
                let trimmed = line.trim();
                if pending.is_empty() && matches!(trimmed, "exit" | "quit" | "\\q") {
                    break;
                }
                pending.push_str(&line);
                pending.push('\n');
                if let Some(stmt) = pending.trim_end().strip_suffix(';') {
                    let stmt = stmt.trim().to_owned();
                    let _ = rl.add_history_entry(pending.trim_end());
                    pending.clear();
                    if stmt.is_empty() {
                        continue;
                    }
                    if let Err(e) = run_one(&t, &id, &stmt, &BTreeMap::new(), Output::Table).await {
                        eprintln!("error: {e}");
                    }
                }
            }
            if let Some(h) = &history {
                let _ = rl.save_history(h);
            }
            Ok(())
        })
    }))
}
