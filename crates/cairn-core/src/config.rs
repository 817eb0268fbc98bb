//! Configuration: one [`Config`] from defaults, a TOML file and environment variables.
//!
//! Every setting has one name, Cairn's (as in Tutor's `config.yml`), used both as the TOML
//! key and as the environment variable, e.g. `CAIRN_CLICKHOUSE_HOST`. Precedence:
//! environment > file > default. A secret may also come from a file named by
//! `<NAME>_FILE`. Errors name the setting and the bad value, except for secrets.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Where a setting's effective value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Built-in default.
    Default,
    /// The TOML file.
    File(PathBuf),
    /// An environment variable of the setting's name.
    Env,
    /// A file named by `<NAME>_FILE` (in the environment or the TOML file).
    SecretFile(PathBuf),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File(p) => write!(f, "file {}", p.display()),
            Origin::Env => f.write_str("environment"),
            Origin::SecretFile(p) => write!(f, "secret file {}", p.display()),
        }
    }
}

/// A configuration error: always names the setting; never shows a secret.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A setting has a value that does not parse.
    #[error("invalid {setting}={value:?}: {reason}")]
    Invalid {
        /// Setting name.
        setting: &'static str,
        /// The offending value (masked for secrets).
        value: String,
        /// What was expected.
        reason: String,
    },
    /// A `…_FILE` setting names a file that cannot be read.
    #[error("cannot read {setting} file {path}: {source}")]
    SecretFile {
        /// Setting name (`…_PASSWORD_FILE`).
        setting: String,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The config file cannot be read.
    #[error("cannot read config file {path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The config file is not valid TOML or has an unknown key.
    #[error("config file {path}: {reason}")]
    FileSyntax {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// A secret string: `Debug` and `Display` never show it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret value, for handing to a client library. Never print it.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// Whether no secret was set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "\"\""
        } else {
            "\"********\""
        })
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "(empty)"
        } else {
            "********"
        })
    }
}

/// HTTP scheme of the ClickHouse HTTP interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        })
    }
}

/// ClickHouse connection settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ClickHouseConfig {
    /// `CAIRN_CLICKHOUSE_HOST`.
    pub host: String,
    /// `CAIRN_CLICKHOUSE_HTTP_PORT`.
    pub http_port: u16,
    /// `CAIRN_CLICKHOUSE_HTTP_SCHEME`.
    pub http_scheme: Scheme,
    /// `CAIRN_CLICKHOUSE_PORT` (native protocol; used by the local server's config).
    pub port: u16,
    /// `CAIRN_CLICKHOUSE_DATABASE`.
    pub database: String,
    /// `CAIRN_CLICKHOUSE_USERNAME`.
    pub username: String,
    /// `CAIRN_CLICKHOUSE_PASSWORD` (or `…_FILE`).
    pub password: Secret,
    /// `CAIRN_CLICKHOUSE_CLUSTER`: a cluster of the server's `remote_servers`; empty for a
    /// single node.
    pub cluster: String,
    /// `CAIRN_CLICKHOUSE_FAILOVER`: other nodes (`host:port`, HTTP) to connect to, in order,
    /// when the host does not answer.
    pub failover: Vec<String>,
}

impl ClickHouseConfig {
    /// The HTTP URL of the server, e.g. `http://127.0.0.1:8123`.
    pub fn url(&self) -> String {
        format!("{}://{}", self.http_scheme, self.http_authority())
    }

    /// `host:port` of the HTTP interface, an IPv6 address in brackets (`[::1]:8123`).
    pub fn http_authority(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.http_port)
        } else {
            format!("{}:{}", self.host, self.http_port)
        }
    }
}

/// LMS MySQL settings.
#[derive(Debug, Clone, PartialEq)]
pub struct MysqlConfig {
    /// `MYSQL_HOST`.
    pub host: String,
    /// `MYSQL_PORT`.
    pub port: u16,
    /// `OPENEDX_MYSQL_DATABASE`.
    pub database: String,
    /// `OPENEDX_MYSQL_USERNAME`.
    pub username: String,
    /// `OPENEDX_MYSQL_PASSWORD` (or `…_FILE`).
    pub password: Secret,
}

/// LMS HTTP settings.
#[derive(Debug, Clone, PartialEq)]
pub struct LmsConfig {
    /// `LMS_HOST`.
    pub host: String,
    /// `CAIRN_LMS_CLIENT_ID`.
    pub client_id: String,
    /// `CAIRN_LMS_CLIENT_SECRET` (or `…_FILE`).
    pub client_secret: Secret,
}

/// Signing in to `cairn serve` with the LMS (OAuth2 authorization code flow).
#[derive(Debug, Clone, PartialEq)]
pub struct SsoConfig {
    /// Whether the dashboard offers "Sign in with the LMS": `CAIRN_ENABLE_SSO`, or, when
    /// it is not set, whether the client secret is.
    pub enabled: bool,
    /// `CAIRN_SSO_CLIENT_ID`: the OAuth2 application registered in the LMS.
    pub client_id: String,
    /// `CAIRN_SSO_CLIENT_SECRET` (or `…_FILE`).
    pub client_secret: Secret,
    /// `CAIRN_LMS_URL`: the LMS's public URL (default `https://LMS_HOST`), no trailing `/`.
    pub lms_url: String,
    /// `CAIRN_DASHBOARD_URL`: the dashboard's public URL, for the redirect URI (empty:
    /// `http://` and the address `cairn serve` listens on).
    pub dashboard_url: String,
    /// `CAIRN_PASSWORD_SIGNIN`: whether users of `cairn createuser` may sign in with a
    /// password.
    pub password_signin: bool,
}

/// The SQL explorer: how it signs in to ClickHouse as each user, and the limits every
/// query of a user runs under.
#[derive(Debug, Clone, PartialEq)]
pub struct ExplorerConfig {
    /// `CAIRN_EXPLORER_KEY` (or `…_FILE`): the key from which `cairn acl sync --users-xml`
    /// and `cairn serve` derive each user's ClickHouse password (empty: the explorer is
    /// open to admins only).
    pub key: Secret,
    /// `CAIRN_EXPLORER_MAX_EXECUTION_TIME`: seconds a user's query may run.
    pub max_execution_time: u64,
    /// `CAIRN_EXPLORER_MAX_MEMORY_USAGE`: bytes of memory a user's query may use.
    pub max_memory_usage: u64,
    /// `CAIRN_EXPLORER_MAX_RESULT_ROWS`: rows a user's query may return.
    pub max_result_rows: u64,
}

/// What `cairn retire` does with a retired learner's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetirementMode {
    /// Keep the events for course statistics, without personal data, under a pseudonym.
    Scrub,
    /// Delete the events.
    Delete,
}

impl RetirementMode {
    /// `scrub` or `delete`.
    pub fn as_str(self) -> &'static str {
        match self {
            RetirementMode::Scrub => "scrub",
            RetirementMode::Delete => "delete",
        }
    }
}

/// Learner retirement (`cairn retire`).
#[derive(Debug, Clone, PartialEq)]
pub struct RetirementConfig {
    /// `CAIRN_RETIREMENT`: `scrub` (default) or `delete`.
    pub mode: RetirementMode,
    /// `CAIRN_RETIREMENT_KEY` (or `…_FILE`): the secret from which scrub mode derives each
    /// retired learner's pseudonym (kept outside the data lake, so the pseudonym cannot be
    /// traced back to the learner from the data).
    pub key: Secret,
    /// `CAIRN_RETIREMENT_INTERVAL`: seconds between the automatic runs of `cairn serve` and
    /// `cairn ingest --follow` (0: never).
    pub interval_secs: u64,
}

/// Outgoing e-mail, with the settings names Tutor uses.
#[derive(Debug, Clone, PartialEq)]
pub struct SmtpConfig {
    /// `SMTP_HOST`.
    pub host: String,
    /// `SMTP_PORT`.
    pub port: u16,
    /// `SMTP_USERNAME` (empty: no authentication).
    pub username: String,
    /// `SMTP_PASSWORD` (or `…_FILE`).
    pub password: Secret,
    /// `SMTP_USE_TLS`: upgrade the connection with STARTTLS (required, not opportunistic).
    pub use_tls: bool,
    /// `SMTP_USE_SSL`: TLS from the first byte (implicit TLS, usually port 465).
    pub use_ssl: bool,
    /// `CAIRN_SMTP_CA_FILE`: a PEM file of certificate authorities trusted besides the
    /// system's (e.g. an organisation's own CA).
    pub ca_file: String,
    /// `CAIRN_REPORTS_FROM`: the sender address (empty: `contact@LMS_HOST`, Tutor's
    /// `CONTACT_EMAIL`).
    pub from: String,
}

/// Scheduled e-mail reports (`cairn reports`).
#[derive(Debug, Clone, PartialEq)]
pub struct ReportsConfig {
    /// `CAIRN_REPORTS_TIMEZONE`: the platform's time zone, the default of new schedules
    /// (an IANA name such as `Europe/Paris`).
    pub timezone: String,
    /// `CAIRN_REPORTS_INTERVAL`: seconds between `cairn serve`'s checks for due reports
    /// (0: `cairn serve` sends none; run `cairn reports run-due` from cron instead).
    pub interval_secs: u64,
}

/// The effective configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// ClickHouse.
    pub clickhouse: ClickHouseConfig,
    /// `CAIRN_MIGRATIONS_FOLDER`: extra migration folders, in order.
    pub migrations_folders: Vec<PathBuf>,
    /// `CAIRN_DASHBOARDS_FOLDER`: folders of saved charts and dashboards (as `cairn
    /// dashboards export` writes them) that `cairn serve` imports at start, in order.
    pub dashboards_folders: Vec<PathBuf>,
    /// LMS MySQL database.
    pub mysql: MysqlConfig,
    /// LMS web.
    pub lms: LmsConfig,
    /// Dashboard sign-in.
    pub sso: SsoConfig,
    /// `CAIRN_EVENTS_RETENTION_MONTHS`: months of events `cairn retention` keeps (none:
    /// every event is kept).
    pub events_retention_months: Option<u32>,
    /// The SQL explorer.
    pub explorer: ExplorerConfig,
    /// Learner retirement.
    pub retirement: RetirementConfig,
    /// Outgoing e-mail.
    pub smtp: SmtpConfig,
    /// Scheduled e-mail reports.
    pub reports: ReportsConfig,
    /// `CAIRN_AGGREGATE_INTERVAL`: seconds between the runs of `cairn aggregate` that
    /// `cairn serve` and `cairn ingest --follow` make (0: none; metrics stay exact, and
    /// compute the days not aggregated from the events).
    pub aggregate_interval_secs: u64,
    /// `CAIRN_LMS_COPY_INTERVAL`: seconds between the copies of the LMS tables the metrics
    /// read (`cairn aggregate`'s), in `cairn serve` and `cairn ingest --follow` (0: none).
    pub lms_copy_interval_secs: u64,
    /// Where each setting's value came from, by setting name.
    pub origins: BTreeMap<&'static str, Origin>,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Text,
    Port,
    Scheme,
    Identifier,
    Secret,
    PathList,
    Flag,
}

struct Setting {
    name: &'static str,
    default: &'static str,
    kind: Kind,
    help: &'static str,
}

/// Every setting Cairn reads, in display order.
const SETTINGS: &[Setting] = &[
    Setting {
        name: "CAIRN_CLICKHOUSE_HOST",
        default: "127.0.0.1",
        kind: Kind::Text,
        help: "ClickHouse host",
    },
    Setting {
        name: "CAIRN_CLICKHOUSE_HTTP_PORT",
        default: "8123",
        kind: Kind::Port,
        help: "ClickHouse HTTP port",
    },
    Setting {
        name: "CAIRN_CLICKHOUSE_HTTP_SCHEME",
        default: "http",
        kind: Kind::Scheme,
        help: "http or https",
    },
    Setting {
        name: "CAIRN_CLICKHOUSE_PORT",
        default: "9000",
        kind: Kind::Port,
        help: "ClickHouse native port",
    },
    Setting {
        name: "CAIRN_CLICKHOUSE_DATABASE",
        default: "openedx",
        kind: Kind::Identifier,
        help: "ClickHouse database of the data lake",
    },
    Setting {
        name: "CAIRN_CLICKHOUSE_USERNAME",
        default: "default",
        kind: Kind::Text,
        help: "ClickHouse user",
    },
    Setting {
        name: "CAIRN_CLICKHOUSE_PASSWORD",
        default: "",
        kind: Kind::Secret,
        help: "ClickHouse password",
    },
    Setting {
        name: "CAIRN_CLICKHOUSE_CLUSTER",
        default: "",
        kind: Kind::Text,
        help: "ClickHouse cluster of the data lake (a name from remote_servers; empty: one node)",
    },
    Setting {
        name: "CAIRN_CLICKHOUSE_FAILOVER",
        default: "",
        kind: Kind::Text,
        help: "other ClickHouse nodes (host:port, HTTP, comma-separated) tried in order when the host does not answer",
    },
    Setting {
        name: "CAIRN_MIGRATIONS_FOLDER",
        default: "",
        kind: Kind::PathList,
        help: "extra migration folders (':'-separated, or a TOML list)",
    },
    Setting {
        name: "CAIRN_DASHBOARDS_FOLDER",
        default: "",
        kind: Kind::PathList,
        help: "folders of charts and dashboards cairn serve imports at start (':'-separated, or a TOML list)",
    },
    Setting {
        name: "MYSQL_HOST",
        default: "127.0.0.1",
        kind: Kind::Text,
        help: "LMS MySQL host",
    },
    Setting {
        name: "MYSQL_PORT",
        default: "3306",
        kind: Kind::Port,
        help: "LMS MySQL port",
    },
    Setting {
        name: "OPENEDX_MYSQL_DATABASE",
        default: "openedx",
        kind: Kind::Identifier,
        help: "LMS MySQL database",
    },
    Setting {
        name: "OPENEDX_MYSQL_USERNAME",
        default: "openedx",
        kind: Kind::Text,
        help: "LMS MySQL user (read-only is enough)",
    },
    Setting {
        name: "OPENEDX_MYSQL_PASSWORD",
        default: "",
        kind: Kind::Secret,
        help: "LMS MySQL password",
    },
    Setting {
        name: "LMS_HOST",
        default: "local.openedx.io",
        kind: Kind::Text,
        help: "LMS host name",
    },
    Setting {
        name: "CAIRN_LMS_CLIENT_ID",
        default: "",
        kind: Kind::Text,
        help: "OAuth2 client id for the LMS APIs",
    },
    Setting {
        name: "CAIRN_LMS_CLIENT_SECRET",
        default: "",
        kind: Kind::Secret,
        help: "OAuth2 client secret for the LMS APIs",
    },
    Setting {
        name: "CAIRN_ENABLE_SSO",
        default: "",
        kind: Kind::Flag,
        help: "dashboard sign-in with the LMS (empty: on when the SSO secret is set)",
    },
    Setting {
        name: "CAIRN_SSO_CLIENT_ID",
        default: "cairn",
        kind: Kind::Text,
        help: "OAuth2 client id of the dashboard's sign-in",
    },
    Setting {
        name: "CAIRN_SSO_CLIENT_SECRET",
        default: "",
        kind: Kind::Secret,
        help: "OAuth2 client secret of the dashboard's sign-in",
    },
    Setting {
        name: "CAIRN_LMS_URL",
        default: "",
        kind: Kind::Text,
        help: "the LMS's public URL (empty: https://LMS_HOST)",
    },
    Setting {
        name: "CAIRN_DASHBOARD_URL",
        default: "",
        kind: Kind::Text,
        help: "the dashboard's public URL (empty: http://LISTEN)",
    },
    Setting {
        name: "CAIRN_PASSWORD_SIGNIN",
        default: "true",
        kind: Kind::Flag,
        help: "dashboard sign-in with cairn createuser passwords",
    },
    Setting {
        name: "CAIRN_EVENTS_RETENTION_MONTHS",
        default: "",
        kind: Kind::Text,
        help: "months of events cairn retention keeps (empty: all)",
    },
    Setting {
        name: "CAIRN_EXPLORER_KEY",
        default: "",
        kind: Kind::Secret,
        help: "key deriving each user's ClickHouse password for the SQL explorer (empty: admins only)",
    },
    Setting {
        name: "CAIRN_EXPLORER_MAX_EXECUTION_TIME",
        default: "30",
        kind: Kind::Text,
        help: "seconds an explorer query may run",
    },
    Setting {
        name: "CAIRN_EXPLORER_MAX_MEMORY_USAGE",
        default: "2000000000",
        kind: Kind::Text,
        help: "bytes of memory an explorer query may use",
    },
    Setting {
        name: "CAIRN_EXPLORER_MAX_RESULT_ROWS",
        default: "1000000",
        kind: Kind::Text,
        help: "rows an explorer query may return",
    },
    Setting {
        name: "CAIRN_RETIREMENT",
        default: "scrub",
        kind: Kind::Text,
        help: "a retired learner's events: scrub (kept under a pseudonym) or delete",
    },
    Setting {
        name: "CAIRN_RETIREMENT_KEY",
        default: "",
        kind: Kind::Secret,
        help: "secret deriving retired learners' pseudonyms (needed to scrub)",
    },
    Setting {
        name: "CAIRN_RETIREMENT_INTERVAL",
        default: "3600",
        kind: Kind::Text,
        help: "seconds between automatic retirement runs in serve and ingest --follow (0: off)",
    },
    Setting {
        name: "SMTP_HOST",
        default: "localhost",
        kind: Kind::Text,
        help: "SMTP server for e-mail reports",
    },
    Setting {
        name: "SMTP_PORT",
        default: "25",
        kind: Kind::Port,
        help: "SMTP port",
    },
    Setting {
        name: "SMTP_USERNAME",
        default: "",
        kind: Kind::Text,
        help: "SMTP user (empty: no authentication)",
    },
    Setting {
        name: "SMTP_PASSWORD",
        default: "",
        kind: Kind::Secret,
        help: "SMTP password",
    },
    Setting {
        name: "SMTP_USE_TLS",
        default: "false",
        kind: Kind::Flag,
        help: "STARTTLS, required",
    },
    Setting {
        name: "SMTP_USE_SSL",
        default: "false",
        kind: Kind::Flag,
        help: "implicit TLS (port 465)",
    },
    Setting {
        name: "CAIRN_SMTP_CA_FILE",
        default: "",
        kind: Kind::Text,
        help: "PEM file of CAs trusted for SMTP besides the system's",
    },
    Setting {
        name: "CAIRN_REPORTS_FROM",
        default: "",
        kind: Kind::Text,
        help: "sender of e-mail reports (empty: contact@LMS_HOST)",
    },
    Setting {
        name: "CAIRN_REPORTS_TIMEZONE",
        default: "UTC",
        kind: Kind::Text,
        help: "the platform's time zone, default of report schedules",
    },
    Setting {
        name: "CAIRN_REPORTS_INTERVAL",
        default: "60",
        kind: Kind::Text,
        help: "seconds between serve's checks for due reports (0: off)",
    },
    Setting {
        name: "CAIRN_AGGREGATE_INTERVAL",
        default: "30",
        kind: Kind::Text,
        help: "seconds between serve's and ingest --follow's aggregations (0: off)",
    },
    Setting {
        name: "CAIRN_LMS_COPY_INTERVAL",
        default: "300",
        kind: Kind::Text,
        help: "seconds between serve's and ingest --follow's copies of the LMS tables (0: off)",
    },
];

/// Names of all settings, in display order (for documentation and `config show`).
pub fn setting_names() -> impl Iterator<Item = &'static str> {
    SETTINGS.iter().map(|s| s.name)
}

/// The raw (string) value of each setting, before typing.
struct Raw {
    values: BTreeMap<&'static str, (String, Origin)>,
}

impl Config {
    /// Loads the configuration: `path` if given (it must exist), else `$CAIRN_CONFIG` if set,
    /// else `./cairn.toml` if present; then the process environment on top.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let env_path = std::env::var_os("CAIRN_CONFIG").map(PathBuf::from);
        let chosen = match (path, env_path) {
            (Some(p), _) => Some(p.to_path_buf()),
            (None, Some(p)) => Some(p),
            (None, None) => {
                let p = PathBuf::from("cairn.toml");
                p.exists().then_some(p)
            }
        };
        let file = match &chosen {
            Some(p) => Some((
                p.clone(),
                std::fs::read_to_string(p).map_err(|source| ConfigError::File {
                    path: p.clone(),
                    source,
                })?,
            )),
            None => None,
        };
        Self::from_sources(file.as_ref().map(|(p, t)| (p.as_path(), t.as_str())), |k| {
            std::env::var(k).ok()
        })
    }

    /// Builds the configuration from an optional TOML file (path and text) and an
    /// environment lookup; the pure core of [`Config::load`].
    pub fn from_sources(
        file: Option<(&Path, &str)>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut raw = Raw {
            values: SETTINGS
                .iter()
                .map(|s| (s.name, (s.default.to_owned(), Origin::Default)))
                .collect(),
        };
        let mut file_secret_files: BTreeMap<String, String> = BTreeMap::new();
        if let Some((path, text)) = file {
            let table: toml::Table =
                text.parse()
                    .map_err(|e: toml::de::Error| ConfigError::FileSyntax {
                        path: path.to_path_buf(),
                        reason: e.message().to_owned(),
                    })?;
            for (key, value) in table {
                let upper = key.to_ascii_uppercase();
                let setting = SETTINGS.iter().find(|s| s.name == upper);
                let secret_file_of = upper.strip_suffix("_FILE").and_then(|n| {
                    SETTINGS
                        .iter()
                        .find(|s| s.name == n && s.kind == Kind::Secret)
                });
                let text = toml_value_text(&value, setting.map(|s| s.kind)).ok_or_else(|| {
                    ConfigError::FileSyntax {
                        path: path.to_path_buf(),
                        reason: format!(
                            "{key}: expected a string, an integer or a list of strings"
                        ),
                    }
                })?;
                match (setting, secret_file_of) {
                    (Some(s), _) => {
                        raw.values
                            .insert(s.name, (text, Origin::File(path.to_path_buf())));
                    }
                    (None, Some(s)) => {
                        file_secret_files.insert(s.name.to_owned(), text);
                    }
                    (None, None) => {
                        return Err(ConfigError::FileSyntax {
                            path: path.to_path_buf(),
                            reason: format!("unknown setting {key}"),
                        });
                    }
                }
            }
        }
        for s in SETTINGS {
            if let Some(v) = env(s.name) {
                raw.values.insert(s.name, (v, Origin::Env));
            }
            if s.kind == Kind::Secret {
                let file_setting = format!("{}_FILE", s.name);
                let from_env = env(&file_setting);
                // A secret given directly in the environment wins over a file from the TOML.
                let direct_env = matches!(raw.values.get(s.name), Some((_, Origin::Env)));
                let secret_path = match from_env {
                    Some(p) => Some(p),
                    None if !direct_env => file_secret_files.get(s.name).cloned(),
                    None => None,
                };
                if let Some(p) = secret_path {
                    let path = PathBuf::from(&p);
                    let text = std::fs::read_to_string(&path).map_err(|source| {
                        ConfigError::SecretFile {
                            setting: file_setting.clone(),
                            path: path.clone(),
                            source,
                        }
                    })?;
                    let value = text.trim_end_matches(['\r', '\n']).to_owned();
                    raw.values.insert(s.name, (value, Origin::SecretFile(path)));
                }
            }
        }
        raw.build()
    }

    /// The effective configuration as `NAME = value  # origin` lines, secrets masked.
    pub fn show(&self) -> String {
        let mut out = String::new();
        let width = SETTINGS.iter().map(|s| s.name.len()).max().unwrap_or(0);
        for s in SETTINGS {
            let value = match s.name {
                "CAIRN_CLICKHOUSE_HOST" => self.clickhouse.host.clone(),
                "CAIRN_CLICKHOUSE_HTTP_PORT" => self.clickhouse.http_port.to_string(),
                "CAIRN_CLICKHOUSE_HTTP_SCHEME" => self.clickhouse.http_scheme.to_string(),
                "CAIRN_CLICKHOUSE_PORT" => self.clickhouse.port.to_string(),
                "CAIRN_CLICKHOUSE_DATABASE" => self.clickhouse.database.clone(),
                "CAIRN_CLICKHOUSE_USERNAME" => self.clickhouse.username.clone(),
                "CAIRN_CLICKHOUSE_PASSWORD" => self.clickhouse.password.to_string(),
                "CAIRN_CLICKHOUSE_CLUSTER" => self.clickhouse.cluster.clone(),
                "CAIRN_CLICKHOUSE_FAILOVER" => self.clickhouse.failover.join(","),
                "CAIRN_MIGRATIONS_FOLDER" | "CAIRN_DASHBOARDS_FOLDER" => {
                    let folders = if s.name == "CAIRN_MIGRATIONS_FOLDER" {
                        &self.migrations_folders
                    } else {
                        &self.dashboards_folders
                    };
                    let v: Vec<String> = folders.iter().map(|p| p.display().to_string()).collect();
                    v.join(":")
                }
                "MYSQL_HOST" => self.mysql.host.clone(),
                "MYSQL_PORT" => self.mysql.port.to_string(),
                "OPENEDX_MYSQL_DATABASE" => self.mysql.database.clone(),
                "OPENEDX_MYSQL_USERNAME" => self.mysql.username.clone(),
                "OPENEDX_MYSQL_PASSWORD" => self.mysql.password.to_string(),
                "LMS_HOST" => self.lms.host.clone(),
                "CAIRN_LMS_CLIENT_ID" => self.lms.client_id.clone(),
                "CAIRN_LMS_CLIENT_SECRET" => self.lms.client_secret.to_string(),
                "CAIRN_ENABLE_SSO" => self.sso.enabled.to_string(),
                "CAIRN_SSO_CLIENT_ID" => self.sso.client_id.clone(),
                "CAIRN_SSO_CLIENT_SECRET" => self.sso.client_secret.to_string(),
                "CAIRN_LMS_URL" => self.sso.lms_url.clone(),
                "CAIRN_DASHBOARD_URL" => self.sso.dashboard_url.clone(),
                "CAIRN_PASSWORD_SIGNIN" => self.sso.password_signin.to_string(),
                "CAIRN_EVENTS_RETENTION_MONTHS" => self
                    .events_retention_months
                    .map(|m| m.to_string())
                    .unwrap_or_default(),
                "CAIRN_EXPLORER_KEY" => self.explorer.key.to_string(),
                "CAIRN_EXPLORER_MAX_EXECUTION_TIME" => self.explorer.max_execution_time.to_string(),
                "CAIRN_EXPLORER_MAX_MEMORY_USAGE" => self.explorer.max_memory_usage.to_string(),
                "CAIRN_EXPLORER_MAX_RESULT_ROWS" => self.explorer.max_result_rows.to_string(),
                "CAIRN_RETIREMENT" => self.retirement.mode.as_str().to_owned(),
                "CAIRN_RETIREMENT_KEY" => self.retirement.key.to_string(),
                "CAIRN_RETIREMENT_INTERVAL" => self.retirement.interval_secs.to_string(),
                "SMTP_HOST" => self.smtp.host.clone(),
                "SMTP_PORT" => self.smtp.port.to_string(),
                "SMTP_USERNAME" => self.smtp.username.clone(),
                "SMTP_PASSWORD" => self.smtp.password.to_string(),
                "SMTP_USE_TLS" => self.smtp.use_tls.to_string(),
                "SMTP_USE_SSL" => self.smtp.use_ssl.to_string(),
                "CAIRN_SMTP_CA_FILE" => self.smtp.ca_file.clone(),
                "CAIRN_REPORTS_FROM" => self.smtp.from.clone(),
                "CAIRN_REPORTS_TIMEZONE" => self.reports.timezone.clone(),
                "CAIRN_REPORTS_INTERVAL" => self.reports.interval_secs.to_string(),
                "CAIRN_AGGREGATE_INTERVAL" => self.aggregate_interval_secs.to_string(),
                "CAIRN_LMS_COPY_INTERVAL" => self.lms_copy_interval_secs.to_string(),
                _ => String::new(),
            };
            let origin = self
                .origins
                .get(s.name)
                .map(ToString::to_string)
                .unwrap_or_default();
            out.push_str(&format!(
                "{:<width$} = {:<40} # {} ({})\n",
                s.name, value, origin, s.help
            ));
        }
        out
    }
}

fn toml_value_text(v: &toml::Value, kind: Option<Kind>) -> Option<String> {
    match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        toml::Value::Array(items) if kind == Some(Kind::PathList) => {
            let parts: Option<Vec<&str>> = items.iter().map(|i| i.as_str()).collect();
            // Joined with NUL so that paths containing ':' survive.
            parts.map(|p| p.join("\0"))
        }
        _ => None,
    }
}

impl Raw {
    fn get(&self, name: &'static str) -> &str {
        self.values.get(name).map(|(v, _)| v.as_str()).unwrap_or("")
    }

    fn invalid(&self, setting: &'static str, reason: &str) -> ConfigError {
        let secret = SETTINGS
            .iter()
            .any(|s| s.name == setting && s.kind == Kind::Secret);
        ConfigError::Invalid {
            setting,
            value: if secret {
                "********".into()
            } else {
                self.get(setting).to_owned()
            },
            reason: reason.to_owned(),
        }
    }

    fn text(&self, name: &'static str) -> Result<String, ConfigError> {
        let v = self.get(name);
        if v.trim().is_empty()
            && !SETTINGS
                .iter()
                .any(|s| s.name == name && s.default.is_empty())
        {
            return Err(self.invalid(name, "must not be empty"));
        }
        if v.chars().any(char::is_control) {
            return Err(self.invalid(name, "must not contain control characters"));
        }
        Ok(v.to_owned())
    }

    fn port(&self, name: &'static str) -> Result<u16, ConfigError> {
        match self.get(name).trim().parse::<u16>() {
            Ok(p) if p > 0 => Ok(p),
            _ => Err(self.invalid(name, "expected a port number from 1 to 65535")),
        }
    }

    /// A comma-separated list of `host:port` (an IPv6 host in brackets).
    fn addresses(&self, name: &'static str) -> Result<Vec<String>, ConfigError> {
        let mut out = Vec::new();
        for a in self
            .get(name)
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
        {
            let ok = a.rsplit_once(':').is_some_and(|(host, port)| {
                !host.is_empty()
                    && !host.contains(['/', '@', ' ', '?', '#'])
                    && port.parse::<u16>().is_ok_and(|p| p > 0)
            });
            if !ok {
                return Err(self.invalid(
                    name,
                    "expected host:port entries separated by commas (e.g. ch-2:8123,ch-3:8123)",
                ));
            }
            out.push(a.to_owned());
        }
        Ok(out)
    }

    fn identifier(&self, name: &'static str) -> Result<String, ConfigError> {
        let v = self.get(name);
        let ok = !v.is_empty()
            && v.len() <= 64
            && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !v.as_bytes()[0].is_ascii_digit();
        if ok {
            Ok(v.to_owned())
        } else {
            Err(self.invalid(
                name,
                "expected a name of letters, digits and '_' (not starting with a digit)",
            ))
        }
    }

    /// A yes/no setting: `None` when empty.
    fn flag(&self, name: &'static str) -> Result<Option<bool>, ConfigError> {
        match self.get(name).trim().to_ascii_lowercase().as_str() {
            "" => Ok(None),
            "true" | "1" | "yes" | "on" => Ok(Some(true)),
            "false" | "0" | "no" | "off" => Ok(Some(false)),
            _ => Err(self.invalid(name, "expected true or false")),
        }
    }

    /// A number of months, 1 or more: `None` when empty.
    fn months(&self, name: &'static str) -> Result<Option<u32>, ConfigError> {
        match self.get(name).trim() {
            "" => Ok(None),
            v => match v.parse::<u32>() {
                Ok(m) if m > 0 => Ok(Some(m)),
                _ => Err(self.invalid(name, "expected a number of months (1 or more), or empty")),
            },
        }
    }

    /// A whole number, 0 or more.
    fn count(&self, name: &'static str) -> Result<u64, ConfigError> {
        self.get(name)
            .trim()
            .parse::<u64>()
            .map_err(|_| self.invalid(name, "expected a whole number, 0 or more"))
    }

    /// The retirement mode.
    fn retirement_mode(&self, name: &'static str) -> Result<RetirementMode, ConfigError> {
        match self.get(name).trim() {
            "scrub" => Ok(RetirementMode::Scrub),
            "delete" => Ok(RetirementMode::Delete),
            _ => Err(self.invalid(name, "expected scrub or delete")),
        }
    }

    /// A whole number, 1 or more.
    fn positive(&self, name: &'static str) -> Result<u64, ConfigError> {
        match self.get(name).trim().parse::<u64>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(self.invalid(name, "expected a whole number, 1 or more")),
        }
    }

    /// A URL setting: empty, or `http(s)://…` without a trailing `/`.
    fn url(&self, name: &'static str) -> Result<String, ConfigError> {
        let v = self.text(name)?.trim().trim_end_matches('/').to_owned();
        if v.is_empty() || v.starts_with("https://") || v.starts_with("http://") {
            Ok(v)
        } else {
            Err(self.invalid(name, "expected a URL starting with https:// or http://"))
        }
    }

    fn secret(&self, name: &'static str) -> Result<Secret, ConfigError> {
        let v = self.get(name);
        if v.contains(['\n', '\r', '\0']) {
            return Err(self.invalid(name, "must not contain line breaks or NUL"));
        }
        Ok(Secret::new(v))
    }

    /// A list of paths: NUL-joined from a TOML list, else `:`-separated.
    fn path_list(&self, name: &'static str) -> Vec<PathBuf> {
        let raw = self.get(name);
        if raw.contains('\0') {
            raw.split('\0').map(PathBuf::from).collect()
        } else if raw.is_empty() {
            Vec::new()
        } else {
            std::env::split_paths(raw)
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        }
    }

    fn build(self) -> Result<Config, ConfigError> {
        let scheme = match self.get("CAIRN_CLICKHOUSE_HTTP_SCHEME").trim() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            _ => return Err(self.invalid("CAIRN_CLICKHOUSE_HTTP_SCHEME", "expected http or https")),
        };
        let migrations_folders = self.path_list("CAIRN_MIGRATIONS_FOLDER");
        let dashboards_folders = self.path_list("CAIRN_DASHBOARDS_FOLDER");
        let origins = self
            .values
            .iter()
            .map(|(k, (_, o))| (*k, o.clone()))
            .collect();
        Ok(Config {
            clickhouse: ClickHouseConfig {
                host: self.text("CAIRN_CLICKHOUSE_HOST")?,
                http_port: self.port("CAIRN_CLICKHOUSE_HTTP_PORT")?,
                http_scheme: scheme,
                port: self.port("CAIRN_CLICKHOUSE_PORT")?,
                database: self.identifier("CAIRN_CLICKHOUSE_DATABASE")?,
                username: self.text("CAIRN_CLICKHOUSE_USERNAME")?,
                password: self.secret("CAIRN_CLICKHOUSE_PASSWORD")?,
                cluster: if self.get("CAIRN_CLICKHOUSE_CLUSTER").is_empty() {
                    String::new()
                } else {
                    self.identifier("CAIRN_CLICKHOUSE_CLUSTER")?
                },
                failover: self.addresses("CAIRN_CLICKHOUSE_FAILOVER")?,
            },
            migrations_folders,
            dashboards_folders,
            mysql: MysqlConfig {
                host: self.text("MYSQL_HOST")?,
                port: self.port("MYSQL_PORT")?,
                database: self.identifier("OPENEDX_MYSQL_DATABASE")?,
                username: self.text("OPENEDX_MYSQL_USERNAME")?,
                password: self.secret("OPENEDX_MYSQL_PASSWORD")?,
            },
            lms: LmsConfig {
                host: self.text("LMS_HOST")?,
                client_id: self.text("CAIRN_LMS_CLIENT_ID")?,
                client_secret: self.secret("CAIRN_LMS_CLIENT_SECRET")?,
            },
            sso: {
                let client_secret = self.secret("CAIRN_SSO_CLIENT_SECRET")?;
                let lms_url = match self.url("CAIRN_LMS_URL")? {
                    u if u.is_empty() => format!("https://{}", self.text("LMS_HOST")?.trim()),
                    u => u,
                };
                SsoConfig {
                    enabled: self
                        .flag("CAIRN_ENABLE_SSO")?
                        .unwrap_or(!client_secret.expose().is_empty()),
                    client_id: self.text("CAIRN_SSO_CLIENT_ID")?,
                    client_secret,
                    lms_url,
                    dashboard_url: self.url("CAIRN_DASHBOARD_URL")?,
                    password_signin: self.flag("CAIRN_PASSWORD_SIGNIN")?.unwrap_or(true),
                }
            },
            events_retention_months: self.months("CAIRN_EVENTS_RETENTION_MONTHS")?,
            explorer: ExplorerConfig {
                key: self.secret("CAIRN_EXPLORER_KEY")?,
                max_execution_time: self.positive("CAIRN_EXPLORER_MAX_EXECUTION_TIME")?,
                max_memory_usage: self.positive("CAIRN_EXPLORER_MAX_MEMORY_USAGE")?,
                max_result_rows: self.positive("CAIRN_EXPLORER_MAX_RESULT_ROWS")?,
            },
            retirement: RetirementConfig {
                mode: self.retirement_mode("CAIRN_RETIREMENT")?,
                key: self.secret("CAIRN_RETIREMENT_KEY")?,
                interval_secs: self.count("CAIRN_RETIREMENT_INTERVAL")?,
            },
            smtp: {
                let use_tls = self.flag("SMTP_USE_TLS")?.unwrap_or(false);
                let use_ssl = self.flag("SMTP_USE_SSL")?.unwrap_or(false);
                if use_tls && use_ssl {
                    return Err(self.invalid(
                        "SMTP_USE_SSL",
                        "SMTP_USE_TLS (STARTTLS) and SMTP_USE_SSL (implicit TLS) exclude each other",
                    ));
                }
                let username = self.text("SMTP_USERNAME")?;
                let password = self.secret("SMTP_PASSWORD")?;
                if !username.trim().is_empty() && password.expose().is_empty() {
                    return Err(self.invalid(
                        "SMTP_PASSWORD",
                        "is empty while SMTP_USERNAME is set (authentication needs both)",
                    ));
                }
                let from = match self.text("CAIRN_REPORTS_FROM")?.trim() {
                    "" => format!("contact@{}", self.text("LMS_HOST")?.trim()),
                    f => f.to_owned(),
                };
                SmtpConfig {
                    host: self.text("SMTP_HOST")?,
                    port: self.port("SMTP_PORT")?,
                    username,
                    password,
                    use_tls,
                    use_ssl,
                    ca_file: self.text("CAIRN_SMTP_CA_FILE")?,
                    from,
                }
            },
            reports: ReportsConfig {
                timezone: self.text("CAIRN_REPORTS_TIMEZONE")?.trim().to_owned(),
                interval_secs: self.count("CAIRN_REPORTS_INTERVAL")?,
            },
            aggregate_interval_secs: self.count("CAIRN_AGGREGATE_INTERVAL")?,
            lms_copy_interval_secs: self.count("CAIRN_LMS_COPY_INTERVAL")?,
            origins,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults_point_at_local_services() {
        let c = Config::from_sources(None, env_of(&[])).unwrap();
        assert_eq!(c.clickhouse.url(), "http://127.0.0.1:8123");
        assert_eq!(c.clickhouse.database, "openedx");
        assert_eq!(c.mysql.port, 3306);
        assert!(c.migrations_folders.is_empty());
        assert_eq!(c.origins["MYSQL_HOST"], Origin::Default);
        assert!(!c.sso.enabled, "no SSO secret: no SSO");
        assert_eq!(c.sso.lms_url, "https://local.openedx.io");
        assert_eq!(c.sso.client_id, "cairn");
        assert!(c.sso.password_signin);
    }

    #[test]
    fn sso_is_on_with_its_secret_and_can_be_turned_off() {
        let c = Config::from_sources(
            None,
            env_of(&[
                ("CAIRN_SSO_CLIENT_SECRET", "s3"),
                ("LMS_HOST", "lms.example.org"),
                ("CAIRN_DASHBOARD_URL", "https://data.example.org/"),
                ("CAIRN_PASSWORD_SIGNIN", "false"),
            ]),
        )
        .unwrap();
        assert!(c.sso.enabled);
        assert_eq!(c.sso.lms_url, "https://lms.example.org");
        assert_eq!(c.sso.dashboard_url, "https://data.example.org");
        assert!(!c.sso.password_signin);
        assert!(c.show().contains("CAIRN_SSO_CLIENT_SECRET") && !c.show().contains("s3 "));
        let off = Config::from_sources(
            None,
            env_of(&[
                ("CAIRN_SSO_CLIENT_SECRET", "s3"),
                ("CAIRN_ENABLE_SSO", "no"),
            ]),
        )
        .unwrap();
        assert!(!off.sso.enabled);
        let e = Config::from_sources(None, env_of(&[("CAIRN_ENABLE_SSO", "maybe")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid CAIRN_ENABLE_SSO=\"maybe\": expected true or false"
        );
        let e = Config::from_sources(None, env_of(&[("CAIRN_LMS_URL", "lms.example.org")]))
            .unwrap_err();
        assert!(e.to_string().contains("expected a URL"), "{e}");
    }

    #[test]
    fn retirement_is_scrub_by_default_or_delete() {
        let c = Config::from_sources(None, env_of(&[])).unwrap();
        assert_eq!(c.retirement.mode, RetirementMode::Scrub);
        assert_eq!(c.retirement.interval_secs, 3600);
        let c = Config::from_sources(
            None,
            env_of(&[
                ("CAIRN_RETIREMENT", "delete"),
                ("CAIRN_RETIREMENT_INTERVAL", "0"),
                ("CAIRN_RETIREMENT_KEY", "k3y"),
            ]),
        )
        .unwrap();
        assert_eq!(c.retirement.mode, RetirementMode::Delete);
        assert_eq!(c.retirement.interval_secs, 0);
        assert_eq!(c.retirement.key.expose(), "k3y");
        let e = Config::from_sources(None, env_of(&[("CAIRN_RETIREMENT", "forget")]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("CAIRN_RETIREMENT") && e.contains("scrub or delete"),
            "{e}"
        );
    }

    #[test]
    fn failover_nodes_are_host_port_pairs() {
        let c = Config::from_sources(None, env_of(&[])).unwrap();
        assert!(c.clickhouse.failover.is_empty());
        let c = Config::from_sources(
            None,
            env_of(&[("CAIRN_CLICKHOUSE_FAILOVER", " ch-2:8123, [::1]:8124 ,")]),
        )
        .unwrap();
        assert_eq!(c.clickhouse.failover, ["ch-2:8123", "[::1]:8124"]);
        for bad in ["ch-2", "ch-2:0", "http://ch-2:8123", ":8123", "ch-2:port"] {
            let e = Config::from_sources(None, env_of(&[("CAIRN_CLICKHOUSE_FAILOVER", bad)]))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("CAIRN_CLICKHOUSE_FAILOVER") && e.contains("host:port"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn an_ipv6_host_is_bracketed_in_urls() {
        let c = Config::from_sources(
            None,
            env_of(&[
                ("CAIRN_CLICKHOUSE_HOST", "::1"),
                ("CAIRN_CLICKHOUSE_HTTP_PORT", "8124"),
            ]),
        )
        .unwrap();
        assert_eq!(c.clickhouse.http_authority(), "[::1]:8124");
        assert_eq!(c.clickhouse.url(), "http://[::1]:8124");
        let c = Config::from_sources(None, env_of(&[("CAIRN_CLICKHOUSE_HOST", "ch-1")])).unwrap();
        assert_eq!(c.clickhouse.url(), "http://ch-1:8123");
    }

    #[test]
    fn retention_is_a_number_of_months_or_nothing() {
        let c = Config::from_sources(None, env_of(&[])).unwrap();
        assert_eq!(c.events_retention_months, None);
        let c =
            Config::from_sources(None, env_of(&[("CAIRN_EVENTS_RETENTION_MONTHS", "24")])).unwrap();
        assert_eq!(c.events_retention_months, Some(24));
        for bad in ["0", "-3", "two"] {
            let e = Config::from_sources(None, env_of(&[("CAIRN_EVENTS_RETENTION_MONTHS", bad)]))
                .unwrap_err();
            assert!(e.to_string().contains("expected a number of months"), "{e}");
        }
    }

    #[test]
    fn env_overrides_file_overrides_default() {
        let toml = "CAIRN_CLICKHOUSE_HOST = \"ch.example\"\nCAIRN_CLICKHOUSE_HTTP_PORT = 18123\nmysql_port = \"3307\"\nCAIRN_MIGRATIONS_FOLDER = [\"/a:b\", \"/c\"]\n";
        let path = Path::new("x/cairn.toml");
        let c = Config::from_sources(
            Some((path, toml)),
            env_of(&[
                ("CAIRN_CLICKHOUSE_HOST", "ch.env"),
                ("LMS_HOST", "lms.example"),
            ]),
        )
        .unwrap();
        assert_eq!(c.clickhouse.host, "ch.env");
        assert_eq!(c.clickhouse.http_port, 18123);
        assert_eq!(c.mysql.port, 3307);
        assert_eq!(c.lms.host, "lms.example");
        assert_eq!(
            c.migrations_folders,
            vec![PathBuf::from("/a:b"), PathBuf::from("/c")]
        );
        assert_eq!(c.origins["CAIRN_CLICKHOUSE_HOST"], Origin::Env);
        assert_eq!(c.origins["MYSQL_PORT"], Origin::File(path.into()));
    }

    #[test]
    fn migrations_folder_env_lists_several() {
        let c =
            Config::from_sources(None, env_of(&[("CAIRN_MIGRATIONS_FOLDER", "/x:/y")])).unwrap();
        assert_eq!(
            c.migrations_folders,
            vec![PathBuf::from("/x"), PathBuf::from("/y")]
        );
        assert!(c.dashboards_folders.is_empty());
        let toml = "CAIRN_DASHBOARDS_FOLDER = [\"/d:1\", \"/e\"]\n";
        let c = Config::from_sources(Some((Path::new("c.toml"), toml)), env_of(&[])).unwrap();
        assert_eq!(
            c.dashboards_folders,
            vec![PathBuf::from("/d:1"), PathBuf::from("/e")]
        );
        assert!(c.show().contains("CAIRN_DASHBOARDS_FOLDER"));
    }

    fn one_line_error(env: &[(&str, &str)]) -> String {
        let e = Config::from_sources(None, env_of(env))
            .unwrap_err()
            .to_string();
        assert!(!e.contains('\n'), "error must be one line: {e}");
        e
    }

    #[test]
    fn bad_values_name_the_setting_and_value() {
        let e = one_line_error(&[("CAIRN_CLICKHOUSE_HTTP_PORT", "eighty")]);
        assert!(
            e.contains("CAIRN_CLICKHOUSE_HTTP_PORT") && e.contains("eighty"),
            "{e}"
        );
        let e = one_line_error(&[("MYSQL_PORT", "70000")]);
        assert!(e.contains("MYSQL_PORT") && e.contains("70000"), "{e}");
        let e = one_line_error(&[("CAIRN_CLICKHOUSE_HTTP_SCHEME", "ftp")]);
        assert!(
            e.contains("CAIRN_CLICKHOUSE_HTTP_SCHEME") && e.contains("ftp"),
            "{e}"
        );
        let e = one_line_error(&[("CAIRN_CLICKHOUSE_DATABASE", "open`edx")]);
        assert!(e.contains("CAIRN_CLICKHOUSE_DATABASE"), "{e}");
    }

    #[test]
    fn secrets_never_appear_in_errors_or_show() {
        let e = one_line_error(&[("OPENEDX_MYSQL_PASSWORD", "hunter2\nx")]);
        assert!(
            e.contains("OPENEDX_MYSQL_PASSWORD") && !e.contains("hunter2"),
            "{e}"
        );
        let c = Config::from_sources(
            None,
            env_of(&[
                ("CAIRN_CLICKHOUSE_PASSWORD", "s3cr3t-pw"),
                ("CAIRN_LMS_CLIENT_SECRET", "cs-42"),
            ]),
        )
        .unwrap();
        let shown = c.show();
        assert!(
            !shown.contains("s3cr3t-pw") && !shown.contains("cs-42"),
            "{shown}"
        );
        assert!(shown.contains("CAIRN_CLICKHOUSE_PASSWORD") && shown.contains("********"));
        assert!(!format!("{c:?}").contains("s3cr3t-pw"));
    }

    #[test]
    fn show_lines_up_every_setting() {
        let shown = Config::from_sources(None, env_of(&[])).unwrap().show();
        let columns: Vec<usize> = shown.lines().map(|l| l.find(" = ").unwrap()).collect();
        assert_eq!(columns.len(), SETTINGS.len());
        assert!(columns.iter().all(|&c| c == columns[0]), "{shown}");
    }

    #[test]
    fn password_from_file_and_unreadable_file() {
        let dir = std::env::temp_dir().join(format!("cairn-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("pw");
        std::fs::write(&f, "from-file\n").unwrap();
        let fs = f.to_str().unwrap();
        let c = Config::from_sources(None, env_of(&[("OPENEDX_MYSQL_PASSWORD_FILE", fs)])).unwrap();
        assert_eq!(c.mysql.password.expose(), "from-file");
        assert_eq!(
            c.origins["OPENEDX_MYSQL_PASSWORD"],
            Origin::SecretFile(f.clone())
        );
        // Also from the TOML file.
        let toml = format!("CAIRN_CLICKHOUSE_PASSWORD_FILE = {fs:?}\n");
        let c = Config::from_sources(Some((Path::new("c.toml"), &toml)), env_of(&[])).unwrap();
        assert_eq!(c.clickhouse.password.expose(), "from-file");
        let missing = dir.join("missing");
        let e = one_line_error(&[("CAIRN_CLICKHOUSE_PASSWORD_FILE", missing.to_str().unwrap())]);
        assert!(
            e.contains("CAIRN_CLICKHOUSE_PASSWORD_FILE") && e.contains("missing"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unknown_file_keys_and_bad_toml_are_errors() {
        let e = Config::from_sources(
            Some((Path::new("c.toml"), "CAIRN_CLICKHOUSE_HOTS = \"x\"")),
            env_of(&[]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("unknown setting CAIRN_CLICKHOUSE_HOTS"), "{e}");
        let e = Config::from_sources(Some((Path::new("c.toml"), "= =")), env_of(&[]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("c.toml"), "{e}");
    }
}
