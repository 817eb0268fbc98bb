//! The SQL explorer: a user's own SQL on the data lake, run by ClickHouse as the user's
//! own ClickHouse identity, so that what a query may read is decided by the server (grants
//! and row filters of `cairn acl sync --users-xml`), never by reading the SQL.
//!
//! The dashboard signs in to ClickHouse as `openedx-<user>` with the password derived from
//! `CAIRN_EXPLORER_KEY` ([`cairn_acl::explorer`]), recomputed for every query and never
//! stored. That user's settings profile is read-only with the limits, so no query can lift
//! them. Where there is no per-user identity (no key, or a server older than 23.8), the
//! explorer is open to admins only, who run as the dashboard's own ClickHouse user with
//! the same settings sent along (`readonly=1` last).

use std::collections::BTreeMap;
use std::time::Instant;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use cairn_acl::explorer::{Limits, derive_password};
use cairn_acl::rights::Scope;
use cairn_acl::sync::USERS_XML_MIN;
use cairn_acl::users_xml::xml_user_name;
use cairn_core::{ClickHouse, Secret};
use cairn_migrate::dictionary::Dictionary;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{App, Refused, Session};

/// Rows the page shows of a result (the CSV download has them all).
pub const PAGE_ROWS: usize = 10_000;
/// Bytes of a result (as ClickHouse sends it, names and types included) the page reads at
/// most: rows of long text stop there, so that a query cannot make the dashboard hold
/// hundreds of megabytes per request (the CSV download streams the whole result).
pub const PAGE_BYTES: usize = 8 << 20;
/// Bytes of a ClickHouse error message kept.
const ERROR_BYTES: usize = 64 * 1024;
/// The format results are read in: on every supported server, streamable, typed.
pub const TSV: &str = "TabSeparatedWithNamesAndTypes";

/// How the explorer reaches ClickHouse.
#[derive(Debug, Clone)]
pub struct ExplorerOptions {
    /// The key users' ClickHouse passwords are derived from (empty: admins only).
    pub key: Secret,
    /// The limits (sent with admins' queries; users' come from their profile).
    pub limits: Limits,
    /// Descriptions of the tables and columns.
    pub dictionary: Dictionary,
}

impl Default for ExplorerOptions {
    fn default() -> Self {
        ExplorerOptions {
            key: Secret::new(""),
            limits: Limits::default(),
            dictionary: cairn_migrate::dictionary::builtin(),
        }
    }
}

/// Whom a query runs as.
pub enum Identity {
    /// The user's own ClickHouse user.
    Own {
        /// Its name.
        user: String,
        /// Its password.
        password: String,
    },
    /// The configured ClickHouse user, read-only and limited per query (the explorer's
    /// admins without a user of their own).
    Admin,
    /// The configured ClickHouse user as it is (`cairn query` without `--as`).
    Operator,
}

impl Identity {
    /// The user's own identity, from the explorer key (an error saying why when the
    /// server or the configuration cannot give one).
    pub fn own(ch: &ClickHouse, key: &str, username: &str) -> Result<Identity, String> {
        ch.require(
            "per-user ClickHouse users with row filters",
            USERS_XML_MIN.0,
            USERS_XML_MIN.1,
        )
        .map_err(|e| e.to_string())?;
        if key.is_empty() {
            return Err("CAIRN_EXPLORER_KEY is not set: users have no ClickHouse user of their own to run as".into());
        }
        Ok(Identity::Own {
            user: xml_user_name(username),
            password: derive_password(key, ch.database(), username),
        })
    }
}

/// Where queries go: the data lake's server, the HTTP client, the admins' limits.
pub struct Target<'a> {
    /// The data lake (its server, database and configured user).
    pub ch: &'a ClickHouse,
    /// The HTTP client.
    pub http: &'a reqwest::Client,
    /// The limits sent with [`Identity::Admin`]'s queries.
    pub limits: &'a Limits,
}

/// A refused or failed query: its status and message (ClickHouse's own, as it
/// is, when `clickhouse`).
#[derive(Debug)]
pub struct Fail {
    status: StatusCode,
    message: String,
    clickhouse: bool,
}

impl std::fmt::Display for Fail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl Fail {
    /// A refusal with a message of Cairn's.
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Fail {
        Fail {
            status,
            message: message.into(),
            clickhouse: false,
        }
    }
}

impl From<Refused> for Fail {
    fn from(r: Refused) -> Fail {
        Fail::new(r.0, r.1)
    }
}

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        let reason = if self.clickhouse {
            "ClickHouse refused the query"
        } else {
            "explorer request refused"
        };
        let mut r = (
            self.status,
            Json(serde_json::json!({ "error": self.message, "clickhouse": self.clickhouse })),
        )
            .into_response();
        r.extensions_mut().insert(Refused(self.status, reason));
        r
    }
}

/// Whom the viewer's queries run as, or why the explorer is closed to them.
async fn identity(app: &App, s: &Session) -> Result<Identity, Fail> {
    let scope = app.scope(&s.username).await?;
    if scope.is_empty() {
        return Err(Fail::new(
            StatusCode::FORBIDDEN,
            "your account gives you no course to see here",
        ));
    }
    let ch = &app.0.ch;
    let key = app.0.options.explorer.key.expose();
    let per_user = ch.version().at_least(USERS_XML_MIN.0, USERS_XML_MIN.1);
    if per_user && !key.is_empty() {
        return Identity::own(ch, key, &s.username)
            .map_err(|e| Fail::new(StatusCode::FORBIDDEN, e));
    }
    if scope == Scope::All {
        return Ok(Identity::Admin);
    }
    let why = if per_user {
        "this dashboard has no CAIRN_EXPLORER_KEY, so it cannot run your queries as your own ClickHouse user".to_owned()
    } else {
        format!(
            "ClickHouse {} cannot give you a ClickHouse user of your own restricted to your courses (that needs {}.{} or newer)",
            ch.version(),
            USERS_XML_MIN.0,
            USERS_XML_MIN.1
        )
    };
    Err(Fail::new(
        StatusCode::FORBIDDEN,
        format!("The SQL explorer is open to admins only here: {why}."),
    ))
}

/// A query and the values of its parameters (`{name:Type}` in the SQL).
#[derive(Debug, Deserialize)]
pub struct QueryRequest {
    /// One SQL statement.
    pub sql: String,
    /// Parameter values by name: strings, numbers or booleans, bound by ClickHouse.
    #[serde(default)]
    pub params: BTreeMap<String, Value>,
}

fn param_value(name: &str, v: &Value) -> Result<String, Fail> {
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(Fail::new(
            StatusCode::BAD_REQUEST,
            format!("parameter name {name:?}: expected letters, digits and '_'"),
        ));
    }
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(u8::from(*b).to_string()),
        _ => Err(Fail::new(
            StatusCode::BAD_REQUEST,
            format!("parameter {name}: expected a string, a number or true/false"),
        )),
    }
}

fn target(app: &App) -> Target<'_> {
    Target {
        ch: &app.0.ch,
        http: &app.0.http,
        limits: &app.0.options.explorer.limits,
    }
}

/// Sends `sql` to ClickHouse as `id`, the result in `format`; a refusal carries
/// ClickHouse's message as it is.
pub async fn send(
    t: &Target<'_>,
    id: &Identity,
    sql: &str,
    params: &BTreeMap<String, Value>,
    format: &str,
) -> Result<reqwest::Response, Fail> {
    if sql.trim().is_empty() {
        return Err(Fail::new(StatusCode::BAD_REQUEST, "the query is empty"));
    }
    let ch = t.ch;
    let cfg = ch.config();
    let mut query: Vec<(String, String)> = vec![
        ("database".into(), ch.database().to_owned()),
        ("default_format".into(), format.to_owned()),
        // The status and error come before any row; the summary header is final.
        ("wait_end_of_query".into(), "1".into()),
    ];
    let params: BTreeMap<&String, String> = params
        .iter()
        .filter(|(_, v)| !v.as_str().is_some_and(str::is_empty))
        .map(|(k, v)| Ok((k, param_value(k, v)?)))
        .collect::<Result<_, Fail>>()?;
    if !params.is_empty() {
        ch.require("query parameters ({name:Type})", 19, 3)
            .map_err(|e| Fail::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    }
    for (k, v) in params {
        query.push((format!("param_{k}"), v));
    }
    let (user, password) = match id {
        Identity::Own { user, password } => (user.as_str(), password.as_str()),
        Identity::Admin => {
            for (k, v) in t.limits.settings() {
                query.push((k.to_owned(), v));
            }
            (cfg.username.as_str(), cfg.password.expose())
        }
        Identity::Operator => (cfg.username.as_str(), cfg.password.expose()),
    };
    let resp = t
        .http
        .post(cfg.url())
        .query(&query)
        .basic_auth(user, Some(password))
        .body(sql.to_owned())
        .send()
        .await
        .map_err(|e| {
            tracing::error!("explorer: ClickHouse unreachable: {e}");
            Fail::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the data lake cannot be reached right now",
            )
        })?;
    if resp.status().is_success() {
        return Ok(resp);
    }
    let status = resp.status();
    let text = read_capped(resp, ERROR_BYTES).await;
    let text = text.trim();
    if matches!(id, Identity::Own { .. }) && text.contains("AUTHENTICATION_FAILED") {
        tracing::error!("explorer: ClickHouse refused the sign-in as {user}");
        return Err(Fail::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "ClickHouse refused the explorer's sign-in as {user}: the server's users are not the ones `cairn acl sync --users-xml` writes with this CAIRN_EXPLORER_KEY (run it, and restart a server that reads users.d/ only at start)"
            ),
        ));
    }
    tracing::debug!(
        status = status.as_u16(),
        "explorer: ClickHouse refused a query"
    );
    Err(Fail {
        status: StatusCode::BAD_REQUEST,
        message: if text.is_empty() {
            format!("ClickHouse answered {status}")
        } else {
            text.to_owned()
        },
        clickhouse: true,
    })
}

async fn read_capped(mut resp: reqwest::Response, cap: usize) -> String {
    let mut buf = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        buf.extend_from_slice(&chunk);
        if buf.len() >= cap {
            buf.truncate(cap);
            break;
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// One column of a result.
#[derive(Debug, Serialize, PartialEq)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// Its ClickHouse type.
    #[serde(rename = "type")]
    pub ty: String,
}

/// A result as the page shows it.
#[derive(Debug, Serialize)]
pub struct Table {
    /// The columns.
    pub columns: Vec<Column>,
    /// The first rows (at most [`PAGE_ROWS`]).
    pub rows: Vec<Vec<Value>>,
    /// Whether the result had more rows than these.
    pub truncated: bool,
    /// What the rows stopped at, when they stop short: `"rows"` ([`PAGE_ROWS`]) or
    /// `"bytes"` ([`PAGE_BYTES`]).
    pub cut: Option<&'static str>,
    /// Milliseconds from sending the query to reading these rows.
    pub elapsed_ms: u64,
    /// Rows ClickHouse read (when the server tells).
    pub rows_read: Option<u64>,
}

/// Undoes TabSeparated escaping; `None` for `\N` (NULL).
fn unescape(field: &[u8]) -> Option<String> {
    if field == b"\\N" {
        return None;
    }
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let b = field[i];
        if b == b'\\' && i + 1 < field.len() {
            i += 1;
            out.push(match field[i] {
                b'n' => b'\n',
                b't' => b'\t',
                b'r' => b'\r',
                b'b' => 8,
                b'f' => 12,
                b'0' => 0,
                b'a' => 7,
                b'v' => 11,
                other => other,
            });
        } else {
            out.push(b);
        }
        i += 1;
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// The JSON value of a field of type `ty`: numbers as numbers (64-bit integers beyond
/// 2^53 as strings, as ClickHouse's JSON does), NULL as null, everything else as text.
fn value(ty: &str, field: &[u8]) -> Value {
    let Some(text) = unescape(field) else {
        return Value::Null;
    };
    let mut t = ty;
    for wrapper in ["Nullable(", "LowCardinality("] {
        if let Some(inner) = t.strip_prefix(wrapper).and_then(|x| x.strip_suffix(')')) {
            t = inner;
        }
    }
    const SAFE: u64 = 1 << 53;
    if (t.starts_with("UInt") || t.starts_with("Int"))
        && let Ok(n) = text.parse::<i64>()
        && n.unsigned_abs() <= SAFE
    {
        return Value::from(n);
    }
    if t.starts_with("Float")
        && let Some(n) = text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
    {
        return Value::Number(n);
    }
    Value::String(text)
}

fn fields(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|b| *b == b'\t')
}

/// Reads a [`TSV`] result: names, types, then at most `max_rows` rows and `max_bytes`
/// bytes of it (the rest is not read: the connection is dropped).
pub async fn read_table(
    mut resp: reqwest::Response,
    started: Instant,
    max_rows: usize,
    max_bytes: usize,
) -> Result<Table, Fail> {
    if let Some(f) = resp.headers().get("x-clickhouse-format")
        && f.as_bytes() != TSV.as_bytes()
    {
        return Err(Fail::new(
            StatusCode::BAD_REQUEST,
            format!(
                "the query asks for FORMAT {}: leave FORMAT out, the explorer chooses it (the CSV download gives the whole result)",
                String::from_utf8_lossy(f.as_bytes())
            ),
        ));
    }
    let rows_read = resp
        .headers()
        .get("x-clickhouse-summary")
        .and_then(|v| serde_json::from_slice::<Value>(v.as_bytes()).ok())
        .and_then(|v| v["read_rows"].as_str()?.parse().ok());
    let mut reader = TsvReader::new(max_rows, max_bytes);
    while reader.cut.is_none() {
        let chunk = resp.chunk().await.map_err(|e| {
            Fail::new(
                StatusCode::BAD_GATEWAY,
                format!("reading the result failed: {e}"),
            )
        })?;
        let end = chunk.is_none();
        reader.feed(chunk.as_deref().unwrap_or_default(), end);
        if end {
            break;
        }
    }
    reader.table(started, rows_read)
}

/// A [`TSV`] result read chunk by chunk, up to its row and byte limits.
struct TsvReader {
    names: Option<Vec<String>>,
    types: Option<Vec<String>>,
    rows: Vec<Vec<Value>>,
    /// The bytes not yet read as lines (at most one line's start).
    buf: Vec<u8>,
    /// How many bytes of `buf` are known to hold no newline (a long line comes in many
    /// chunks: each is searched once).
    scanned: usize,
    /// Bytes of the result read as lines so far.
    taken: usize,
    max_rows: usize,
    max_bytes: usize,
    /// What the rows stopped at ("rows" or "bytes"), once they stop short.
    cut: Option<&'static str>,
}

impl TsvReader {
    fn new(max_rows: usize, max_bytes: usize) -> Self {
        TsvReader {
            names: None,
            types: None,
            rows: Vec::new(),
            buf: Vec::new(),
            scanned: 0,
            taken: 0,
            max_rows,
            max_bytes,
            cut: None,
        }
    }

    /// Reads the lines `chunk` completes (`end`: the result ends after it).
    fn feed(&mut self, chunk: &[u8], end: bool) {
        if self.cut.is_some() {
            return;
        }
        self.buf.extend_from_slice(chunk);
        if end && !self.buf.is_empty() && !self.buf.ends_with(b"\n") {
            self.buf.push(b'\n');
        }
        let mut start = 0;
        while let Some(len) = memchr::memchr(b'\n', &self.buf[start.max(self.scanned)..])
            .map(|i| i + start.max(self.scanned) - start)
        {
            let line = &self.buf[start..start + len];
            if self.taken + len + 1 > self.max_bytes {
                self.cut = Some("bytes");
                break;
            }
            if self.names.is_some() && self.types.is_some() && self.rows.len() == self.max_rows {
                self.cut = Some("rows");
                break;
            }
            self.taken += len + 1;
            start += len + 1;
            if self.names.is_none() {
                self.names = Some(
                    fields(line)
                        .map(|f| unescape(f).unwrap_or_default())
                        .collect(),
                );
            } else if self.types.is_none() {
                self.types = Some(
                    fields(line)
                        .map(|f| unescape(f).unwrap_or_default())
                        .collect(),
                );
            } else {
                let tys = self.types.as_deref().unwrap_or_default();
                let row = fields(line)
                    .enumerate()
                    .map(|(i, f)| value(tys.get(i).map_or("", String::as_str), f))
                    .collect();
                self.rows.push(row);
            }
        }
        self.buf.drain(..start);
        self.scanned = self.buf.len();
        // A line not yet whole that already passes the limit is not waited for.
        if self.cut.is_none() && self.taken + self.buf.len() > self.max_bytes {
            self.cut = Some("bytes");
        }
        if self.cut.is_some() {
            self.buf = Vec::new();
        }
    }

    /// The table read (an error when even the column names and types pass the limit).
    fn table(self, started: Instant, rows_read: Option<u64>) -> Result<Table, Fail> {
        let (Some(names), Some(types)) = (self.names, self.types) else {
            if self.cut.is_some() {
                return Err(Fail::new(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "the result's column names and types pass the {} MiB the page reads of a result: shorten them",
                        self.max_bytes >> 20
                    ),
                ));
            }
            // An empty answer (no header at all): no columns.
            return Ok(Table {
                columns: Vec::new(),
                rows: self.rows,
                truncated: false,
                cut: None,
                elapsed_ms: elapsed_ms(started),
                rows_read,
            });
        };
        Ok(Table {
            columns: names
                .into_iter()
                .zip(types)
                .map(|(name, ty)| Column { name, ty })
                .collect(),
            rows: self.rows,
            truncated: self.cut.is_some(),
            cut: self.cut,
            elapsed_ms: elapsed_ms(started),
            rows_read,
        })
    }
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Runs `sql` as the viewer (their own ClickHouse user, or admins' read-only one): the
/// columns and the first [`PAGE_ROWS`] rows.
pub(crate) async fn run_as(
    app: &App,
    s: &Session,
    sql: &str,
    params: &BTreeMap<String, Value>,
) -> Result<Table, Fail> {
    let id = identity(app, s).await?;
    let started = Instant::now();
    let resp = send(&target(app), &id, sql, params, TSV).await?;
    read_table(resp, started, PAGE_ROWS, PAGE_BYTES).await
}

/// The signed-in viewer, or 401.
pub(crate) async fn signed_in(app: &App, headers: &HeaderMap) -> Result<Session, Fail> {
    app.session(headers)
        .await?
        .ok_or_else(|| Fail::new(StatusCode::UNAUTHORIZED, "sign in first"))
}

/// `POST /api/query`: `{"sql": …, "params": {…}}` → the columns and the first rows.
pub(crate) async fn api_query(
    State(app): State<App>,
    headers: HeaderMap,
    Json(q): Json<QueryRequest>,
) -> Result<Json<Table>, Fail> {
    let s = signed_in(&app, &headers).await?;
    Ok(Json(run_as(&app, &s, &q.sql, &q.params).await?))
}

/// ClickHouse's CSV, streamed on with no cell a spreadsheet formula. A row of
/// [`cairn_report::MAX_ROW`] bytes or more ends the stream with an error (the download
/// fails rather than the dashboard hold the row in memory).
fn neutral_csv(
    resp: reqwest::Response,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send {
    futures_util::stream::unfold(
        Some((resp, cairn_report::NeutralCsv::new())),
        |state| async move {
            let (mut resp, mut csv) = state?;
            let next = match resp.chunk().await {
                Ok(Some(chunk)) => csv.feed(&chunk).map(|out| (out, Some((resp, csv)))),
                Ok(None) => csv.finish().map(|out| (out, None)),
                Err(e) => return Some((Err(std::io::Error::other(e)), None)),
            };
            Some(match next {
                Ok((out, state)) => (Ok(out), state),
                Err(e) => {
                    tracing::warn!("explorer: a CSV download stopped: {e}");
                    (Err(std::io::Error::other(e)), None)
                }
            })
        },
    )
}

/// `POST /api/query.csv`: the whole result as CSV (within the row limit), streamed; no
/// cell comes out as a spreadsheet formula.
pub(crate) async fn api_query_csv(
    State(app): State<App>,
    headers: HeaderMap,
    Json(q): Json<QueryRequest>,
) -> Result<Response, Fail> {
    let s = signed_in(&app, &headers).await?;
    let id = identity(&app, &s).await?;
    let resp = send(&target(&app), &id, &q.sql, &q.params, "CSVWithNames").await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"query.csv\"",
            ),
        ],
        Body::from_stream(neutral_csv(resp)),
    )
        .into_response())
}

/// A table or view the user may read, with its columns and their descriptions.
#[derive(Debug, Serialize)]
pub struct SchemaTable {
    /// Its name.
    pub name: String,
    /// What it holds.
    pub about: String,
    /// Its columns: name, type, description.
    pub columns: Vec<SchemaColumn>,
}

/// A column of [`SchemaTable`].
#[derive(Debug, Serialize)]
pub struct SchemaColumn {
    /// Its name.
    pub name: String,
    /// Its ClickHouse type.
    #[serde(rename = "type")]
    pub ty: String,
    /// Its description from the data dictionary ("" when it has none).
    pub about: String,
}

/// `GET /api/schema`: the tables and columns the user may read (asked of ClickHouse as
/// the user), described by the data dictionary.
pub(crate) async fn api_schema(
    State(app): State<App>,
    headers: HeaderMap,
) -> Result<Json<Vec<SchemaTable>>, Fail> {
    let s = signed_in(&app, &headers).await?;
    let id = identity(&app, &s).await?;
    let sql = "SELECT table, name, type FROM system.columns WHERE database = currentDatabase()";
    let resp = send(&target(&app), &id, sql, &BTreeMap::new(), TSV).await?;
    let t = read_table(resp, Instant::now(), usize::MAX, PAGE_BYTES).await?;
    let dict = &app.0.options.explorer.dictionary;
    let mut tables: BTreeMap<(bool, String), SchemaTable> = BTreeMap::new();
    for row in t.rows {
        let [table, name, ty] = [0, 1, 2].map(|i| row.get(i).and_then(Value::as_str).unwrap_or(""));
        let entry = tables
            .entry((table.starts_with('_'), table.to_owned()))
            .or_insert_with(|| SchemaTable {
                name: table.to_owned(),
                about: dict
                    .table(table)
                    .map(|d| d.about.clone())
                    .unwrap_or_default(),
                columns: Vec::new(),
            });
        entry.columns.push(SchemaColumn {
            name: name.to_owned(),
            ty: ty.to_owned(),
            about: dict.column(table, name).unwrap_or_default().to_owned(),
        });
    }
    Ok(Json(tables.into_values().collect()))
}

/// `GET /api/explorer/connection`: how the user connects any SQL client as their own
/// ClickHouse user (the same restrictions apply); shown to that user only.
pub(crate) async fn api_connection(
    State(app): State<App>,
    headers: HeaderMap,
) -> Result<Json<Value>, Fail> {
    let s = signed_in(&app, &headers).await?;
    match identity(&app, &s).await? {
        Identity::Own { user, password } => {
            let cfg = app.0.ch.config();
            Ok(Json(serde_json::json!({
                "host": cfg.host,
                "http_port": cfg.http_port,
                "port": cfg.port,
                "database": cfg.database,
                "username": user,
                "password": password,
            })))
        }
        Identity::Admin | Identity::Operator => Err(Fail::new(
            StatusCode::NOT_FOUND,
            "you run queries as the dashboard's own ClickHouse user (admins, without per-user ClickHouse users): ask your operator for a SQL client's credentials",
        )),
    }
}

/// `GET /explore`: the explorer page (or why it is closed to the viewer).
pub(crate) async fn page(State(app): State<App>, headers: HeaderMap) -> Result<Response, Refused> {
    let Some(s) = app.session(&headers).await? else {
        return Ok(Redirect::to("/login").into_response());
    };
    let closed = match identity(&app, &s).await {
        Ok(_) => None,
        Err(f) => Some(f.message),
    };
    // CodeMirror writes its styles into the page: a fresh nonce lets those in, no other.
    let nonce = crate::session::token();
    let page = app.0.pages.get_template("explore.html").and_then(|t| {
        t.render(minijinja::context! {
            nonce => &nonce,
            username => s.username,
            csrf => s.csrf,
            closed => closed,
            page_rows => PAGE_ROWS,
            page_mib => PAGE_BYTES >> 20,
            limits => limits_text(&app.0.options.explorer.limits),
        })
    });
    let policy = HeaderValue::from_str(&crate::csp(&format!("'self' 'nonce-{nonce}'")))
        .map_err(crate::internal)?;
    page.map(|p| ([(header::CONTENT_SECURITY_POLICY, policy)], Html(p)).into_response())
        .map_err(crate::internal)
}

/// The limits in words.
fn limits_text(l: &Limits) -> String {
    format!(
        "{} s, {} MB of memory and {} result rows per query",
        l.max_execution_time,
        l.max_memory_usage / 1_000_000,
        l.max_result_rows
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsv_fields_unescape_and_type() {
        assert_eq!(unescape(b"a\\tb\\nc\\\\d"), Some("a\tb\nc\\d".into()));
        assert_eq!(unescape(b"\\N"), None);
        assert_eq!(value("UInt8", b"7"), Value::from(7));
        assert_eq!(value("Nullable(Int64)", b"\\N"), Value::Null);
        assert_eq!(value("Int64", b"-12"), Value::from(-12));
        assert_eq!(
            value("UInt64", b"18446744073709551615"),
            Value::from("18446744073709551615")
        );
        assert_eq!(value("Float64", b"0.5"), Value::from(0.5));
        assert_eq!(value("Float64", b"nan"), Value::from("nan"));
        assert_eq!(value("String", b"42"), Value::from("42"));
        assert_eq!(value("LowCardinality(String)", b"x"), Value::from("x"));
    }

    /// The rows and the cut of `text` read in chunks of `piece` bytes.
    fn read(text: &[u8], piece: usize, max_rows: usize, max_bytes: usize) -> Table {
        let mut r = TsvReader::new(max_rows, max_bytes);
        for c in text.chunks(piece) {
            r.feed(c, false);
        }
        r.feed(b"", true);
        r.table(Instant::now(), None).unwrap()
    }

    #[test]
    fn a_result_is_read_up_to_its_row_and_byte_limits_in_any_chunks() {
        let head = "n\ts\nUInt64\tString\n";
        let line = |i: usize| format!("{i}\t{}\n", "x".repeat(i * 10));
        let body: String = (0..20).map(line).collect();
        let text = format!("{head}{body}");
        let whole = read(text.as_bytes(), text.len(), usize::MAX, usize::MAX);
        assert_eq!(whole.rows.len(), 20);
        assert_eq!(
            whole.rows[19],
            vec![Value::from(19), Value::from("x".repeat(190))]
        );
        assert_eq!((whole.truncated, whole.cut), (false, None));
        for limit in [
            head.len(),
            head.len() + 3,
            head.len() + 500,
            text.len() - 1,
            text.len(),
        ] {
            // The rows whose lines fit within the limit, whole, and no more.
            let mut fit = 0;
            let mut used = head.len();
            while fit < 20 && used + line(fit).len() <= limit {
                used += line(fit).len();
                fit += 1;
            }
            for piece in [1, 2, 7, 64, 4096] {
                let t = read(text.as_bytes(), piece, usize::MAX, limit);
                assert_eq!(
                    t.rows,
                    whole.rows[..fit],
                    "limit {limit}, pieces of {piece}"
                );
                let cut = (fit < 20).then_some("bytes");
                assert_eq!((t.truncated, t.cut), (cut.is_some(), cut), "limit {limit}");
                assert_eq!(t.columns, whole.columns);
            }
        }
        let t = read(text.as_bytes(), 5, 3, usize::MAX);
        assert_eq!((t.rows.len(), t.cut), (3, Some("rows")));
        let t = read(text.as_bytes(), 5, 20, usize::MAX);
        assert_eq!((t.rows.len(), t.cut), (20, None));
        // A line that is not whole yet and already passes the limit is not waited for.
        let mut r = TsvReader::new(usize::MAX, 100);
        r.feed(head.as_bytes(), false);
        r.feed(&[b'x'; 200], false);
        assert_eq!(r.cut, Some("bytes"));
        assert!(r.buf.is_empty(), "nothing kept once cut");
        // Names and types that pass the limit are an error, not an empty table.
        let mut r = TsvReader::new(usize::MAX, 10);
        r.feed(text.as_bytes(), true);
        let e = r.table(Instant::now(), None).unwrap_err();
        assert!(
            e.message.contains("column names and types"),
            "{}",
            e.message
        );
    }

    #[test]
    fn parameter_names_and_values_are_checked() {
        assert_eq!(param_value("course_id", &Value::from("c")).unwrap(), "c");
        assert_eq!(param_value("n", &Value::from(3)).unwrap(), "3");
        assert_eq!(param_value("b", &Value::from(true)).unwrap(), "1");
        assert!(param_value("a b", &Value::from("x")).is_err());
        assert!(param_value("1a", &Value::from("x")).is_err());
        assert!(param_value("a", &serde_json::json!([1])).is_err());
    }
}
