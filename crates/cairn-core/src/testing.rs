//! Support for Cairn's integration tests (not for production code).
//!
//! Tests reach the real services started by `scripts/services start`, whose settings are
//! in `.cairn/cairn-<server>.toml` at the workspace root for the ClickHouse server named by
//! `CAIRN_TEST_CLICKHOUSE` (`18.16` or `26.9`), else wherever `CAIRN_CONFIG` points, else
//! `.cairn/cairn.toml`. Each
//! test uses its own database names, so tests run in parallel. These helpers panic with
//! an explanation when something is missing: a test cannot pass without its services.

use std::path::{Path, PathBuf};

use crate::clickhouse::ClickHouse;
use crate::config::{Config, MysqlConfig, Secret};

/// The workspace root (two levels above this crate).
pub fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

/// Whether we run under CI (`CI=true`), where missing inputs are failures.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The ClickHouse server the tests run against, as `scripts/services` names it (`18.16`
/// or `26.9`): `$CAIRN_TEST_CLICKHOUSE`, the one switch `scripts/test` sets per run.
pub fn server() -> Option<String> {
    std::env::var("CAIRN_TEST_CLICKHOUSE")
        .ok()
        .filter(|v| !v.is_empty())
}

/// The configuration file of the local services: `.cairn/cairn-<server>.toml` when
/// [`server`] names one, else `$CAIRN_CONFIG`, else `.cairn/cairn.toml` at the workspace
/// root if present.
pub fn config_path() -> Option<PathBuf> {
    if let Some(v) = server() {
        let p = workspace_dir().join(format!(".cairn/cairn-{v}.toml"));
        assert!(
            p.exists(),
            "CAIRN_TEST_CLICKHOUSE={v}: {} is missing (./scripts/services start writes it; servers: 18.16, 26.9)",
            p.display()
        );
        return Some(p);
    }
    let local = workspace_dir().join(".cairn/cairn.toml");
    std::env::var_os("CAIRN_CONFIG")
        .map(PathBuf::from)
        .or_else(|| local.exists().then_some(local))
}

/// The local services' configuration: [`config_path`], with the environment on top.
pub fn config() -> Config {
    Config::load(config_path().as_deref()).unwrap_or_else(|e| panic!("test configuration: {e}"))
}

/// Connects to the local ClickHouse of [`config`]; when [`server`] names one, checks that
/// the server is that version (a test never runs on another server than it says).
async fn connect() -> ClickHouse {
    let cfg = config();
    let ch = ClickHouse::connect(&cfg.clickhouse)
        .await
        .unwrap_or_else(|e| {
            panic!("ClickHouse is not reachable ({e}); start it with ./scripts/services start")
        });
    if let Some(v) = server() {
        let actual = ch.version();
        assert!(
            format!("{}.{}", actual.major, actual.minor) == v,
            "CAIRN_TEST_CLICKHOUSE={v}, but the server at {} is {actual}",
            cfg.clickhouse.url()
        );
    }
    ch
}

/// A database name for one test: `cairn_t_<name>` with non-identifier characters replaced.
pub fn db_name(test: &str) -> String {
    let clean: String = test
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("cairn_t_{clean}")
}

/// Connects to the local ClickHouse and gives the test a fresh, empty database of its own.
pub async fn clickhouse(test: &str) -> ClickHouse {
    let ch = connect().await.with_database(&db_name(test));
    ch.drop_database().await.expect("drop test database");
    ch.create_database().await.expect("create test database");
    ch
}

/// Connects to the server of `cfg` (a test's [`OwnServer`]) and gives the test a fresh,
/// empty database of its own there.
pub async fn clickhouse_on(test: &str, cfg: &crate::config::ClickHouseConfig) -> ClickHouse {
    let ch = ClickHouse::connect(cfg)
        .await
        .unwrap_or_else(|e| panic!("ClickHouse at {} is not reachable ({e})", cfg.url()))
        .with_database(&db_name(test));
    ch.drop_database().await.expect("drop test database");
    ch.create_database().await.expect("create test database");
    ch
}

/// Connects to the local ClickHouse using the test database `db` as it is (no reset), for
/// a second connection to a database another helper created.
pub async fn clickhouse_existing(db: &str) -> ClickHouse {
    connect().await.with_database(db)
}

/// Drops the test database `db` (one that [`clickhouse`] made) on the local ClickHouse, at
/// the end of a test that passed: a failed test's database stays, to be looked at.
pub async fn drop_clickhouse(db: &str) {
    clickhouse_existing(db)
        .await
        .drop_database()
        .await
        .unwrap_or_else(|e| panic!("dropping {db}: {e}"));
}

/// Read-write MySQL settings for seeding a test's own MariaDB database: the local admin
/// user (`.cairn/secrets/mysql-cairn_admin`) and the database `db`.
pub fn mysql_admin(db: &str) -> MysqlConfig {
    let mut m = config().mysql;
    let pw_file = std::env::var_os("CAIRN_TEST_MYSQL_ADMIN_PASSWORD_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_dir().join(".cairn/secrets/mysql-cairn_admin"));
    let pw = std::fs::read_to_string(&pw_file).unwrap_or_else(|e| {
        panic!(
            "cannot read the MariaDB admin password {} ({e}); start the services with ./scripts/services start",
            pw_file.display()
        )
    });
    m.username = "cairn_admin".into();
    m.password = Secret::new(pw.trim_end());
    m.database = db.to_owned();
    m
}

/// Creates (anew) the MariaDB database `db_name(test)` with the Open edX-shaped schema of
/// `fixtures/openedx-schema.sql`, and returns admin settings for it.
pub async fn mysql_openedx(test: &str) -> MysqlConfig {
    use mysql_async::prelude::Queryable;
    let db = db_name(test);
    let mut admin = mysql_admin("mysql");
    let mut conn = crate::mysql::connect(&admin).await.unwrap_or_else(|e| {
        panic!("MariaDB is not reachable ({e}); start it with ./scripts/services start")
    });
    let schema = std::fs::read_to_string(workspace_dir().join("fixtures/openedx-schema.sql"))
        .expect("fixtures/openedx-schema.sql");
    conn.query_drop(format!(
        "DROP DATABASE IF EXISTS `{db}`; CREATE DATABASE `{db}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci; USE `{db}`; {schema}"
    ))
    .await
    .expect("load fixtures/openedx-schema.sql");
    conn.disconnect().await.ok();
    admin.database = db;
    admin
}

/// Drops the MariaDB database `db` (one that [`mysql_openedx`] made, its name from
/// [`db_name`]), if it is there.
pub async fn drop_mysql(db: &str) {
    use mysql_async::prelude::Queryable;
    let mut conn = crate::mysql::connect(&mysql_admin("mysql"))
        .await
        .unwrap_or_else(|e| panic!("MariaDB is not reachable ({e})"));
    conn.query_drop(format!("DROP DATABASE IF EXISTS `{db}`"))
        .await
        .unwrap_or_else(|e| panic!("dropping {db}: {e}"));
    conn.disconnect().await.ok();
}

/// The shared folder beside the checkout (`$CAIRN_SHARED_DIR`, else `../shared`). When it
/// is missing: under CI a panic, otherwise a loud warning and `None` (the caller returns).
pub fn shared_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("CAIRN_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_dir().join("../shared"));
    if dir.join("corpus").is_dir() {
        return Some(dir);
    }
    let msg = format!(
        "the shared corpus is missing: {} has no corpus/ (set CAIRN_SHARED_DIR)",
        dir.display()
    );
    if in_ci() {
        panic!("{msg}");
    }
    eprintln!("\n!!!! WARNING: {msg}; this test checked NOTHING !!!!\n");
    None
}

/// Asserts that a query's result columns are row type `T`'s fields, by name and in order.
/// ClickHouse 24.8 and newer (production) make the clickhouse crate check names, 18.16
/// cannot (its schema validation is off there): without this an alias that differs from
/// its field fails only in production. Panics naming both lists.
pub async fn assert_row_columns<T: clickhouse::Row>(what: &str, query: clickhouse::query::Query) {
    let bytes = query
        .fetch_bytes("JSONCompact")
        .unwrap_or_else(|e| panic!("{what}: {e}"))
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let v: serde_json::Value =
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{what}: not JSON: {e}"));
    let names: Vec<&str> = v["meta"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: no column list in the answer"))
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(
        names,
        T::COLUMN_NAMES,
        "{what}: the query's columns are not the fields of {}",
        T::NAME
    );
}

/// Asserts that row type `T` can be inserted into `table` of the test's database as
/// ClickHouse 24.8 and newer check it (18.16 cannot): every field is a writable column
/// (not MATERIALIZED or ALIAS), and every column without a default is a field.
pub async fn assert_insert_columns<T: clickhouse::Row>(ch: &ClickHouse, table: &str) {
    #[derive(clickhouse::Row, serde::Deserialize)]
    struct Col {
        name: String,
        default_kind: String,
    }
    let cols: Vec<Col> = ch
        .client()
        .query("SELECT name, default_kind FROM system.columns WHERE database = ? AND table = ?")
        .bind(ch.database())
        .bind(table)
        .fetch_all()
        .await
        .unwrap_or_else(|e| panic!("columns of {table}: {e}"));
    assert!(!cols.is_empty(), "{table}: no such table");
    let fields = T::COLUMN_NAMES;
    for f in fields {
        let col = cols.iter().find(|c| c.name == *f);
        assert!(
            col.is_some_and(|c| c.default_kind != "MATERIALIZED" && c.default_kind != "ALIAS"),
            "{}: field {f} is not a writable column of {table}",
            T::NAME
        );
    }
    let missing: Vec<&str> = cols
        .iter()
        .filter(|c| c.default_kind.is_empty() && !fields.contains(&c.name.as_str()))
        .map(|c| c.name.as_str())
        .collect();
    assert!(
        missing.is_empty(),
        "{}: columns of {table} without a default are not fields: {missing:?}",
        T::NAME
    );
}

/// A test's scratch folder, `cairn-<name>-<pid>` in the system's temporary folder: made
/// empty, and removed when dropped, unless the test is failing (then it is kept, and
/// named on stderr, to be looked at).
pub struct Scratch(PathBuf);

impl Scratch {
    /// Makes the empty folder `cairn-<name>-<pid>`.
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("cairn-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot make {}: {e}", dir.display()));
        Scratch(dir)
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("the failing test's files are kept in {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A free TCP port on 127.0.0.1 (free when asked; a test binds it soon after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// A ClickHouse 26.9 server of a test's own (`scripts/services` in a folder of its own, on
/// free ports), for tests that change its users.d/ and restart it; stopped and removed
/// when dropped.
pub struct OwnServer {
    /// Its folder: config.xml, users.xml, users.d/, data.
    pub dir: PathBuf,
    /// HTTP port.
    pub http: u16,
    /// Native port.
    pub tcp: u16,
}

impl OwnServer {
    /// Runs `scripts/services ACTION 26.9` on this server.
    pub fn services(&self, action: &str) {
        let o = std::process::Command::new(workspace_dir().join("scripts/services"))
            .args([action, "26.9"])
            .env("CAIRN_CH26_DIR", &self.dir)
            .env("CAIRN_CH26_HTTP_PORT", self.http.to_string())
            .env("CAIRN_CH26_PORT", self.tcp.to_string())
            .output()
            .unwrap_or_else(|e| panic!("scripts/services: {e}"));
        assert!(
            o.status.success(),
            "services {action}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// Starts a fresh server in `dir` (removed first).
    pub fn start(dir: PathBuf) -> OwnServer {
        let _ = std::fs::remove_dir_all(&dir);
        let s = OwnServer {
            dir,
            http: free_port(),
            tcp: free_port(),
        };
        s.services("start-clickhouse");
        s
    }

    /// Its users.d/ folder (read at start: [`OwnServer::restart`] after writing there).
    pub fn users_d(&self) -> PathBuf {
        self.dir.join("users.d")
    }

    /// Stops and starts it (it rereads users.d/).
    pub fn restart(&self) {
        self.services("restart-clickhouse");
    }

    /// `config` pointed at this server.
    pub fn config(&self, mut config: Config) -> Config {
        config.clickhouse.http_port = self.http;
        config.clickhouse.port = self.tcp;
        config
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        self.services("stop-clickhouse");
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A node of the local cluster (`scripts/cluster start`).
#[derive(Debug, Clone)]
pub struct ClusterNode {
    /// `s1r1`, `s1r2`, `s2r1`, `s2r2`.
    pub name: String,
    /// Its HTTP port on 127.0.0.1.
    pub http_port: u16,
    /// Its native port (how the cluster's nodes, and their errors, name it).
    pub native_port: u16,
    /// Its `{shard}` macro (`01`, `02`).
    pub shard: String,
}

impl ClusterNode {
    /// A client of this node, on `database`.
    pub async fn clickhouse(&self, config: &Config, database: &str) -> ClickHouse {
        let mut cfg = config.clickhouse.clone();
        cfg.http_port = self.http_port;
        ClickHouse::connect(&cfg)
            .await
            .unwrap_or_else(|e| panic!("cluster node {} is not reachable ({e})", self.name))
            .with_database(database)
    }
}

/// The local cluster's settings (`.cairn/cairn-cluster.toml`: node s1r1 and
/// `CAIRN_CLICKHOUSE_CLUSTER`) and its nodes (`.cairn/cluster/nodes`), both written by
/// `scripts/cluster start`; panics saying so when they are missing.
pub fn cluster() -> (Config, Vec<ClusterNode>) {
    let root = workspace_dir();
    let path = root.join(".cairn/cairn-cluster.toml");
    let nodes = root.join(".cairn/cluster/nodes");
    assert!(
        path.exists() && nodes.exists(),
        "{} or {} is missing: start the cluster with ./scripts/cluster start",
        path.display(),
        nodes.display()
    );
    let config = Config::load(Some(&path)).unwrap_or_else(|e| panic!("cluster configuration: {e}"));
    let text = std::fs::read_to_string(&nodes).expect("read .cairn/cluster/nodes");
    let nodes = text
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some(ClusterNode {
                name: (*f.first()?).to_owned(),
                http_port: f.get(1)?.parse().ok()?,
                native_port: f.get(2)?.parse().ok()?,
                shard: (*f.get(3)?).to_owned(),
            })
        })
        .collect();
    (config, nodes)
}

#[cfg(test)]
mod tests {
    use super::Scratch;

    #[test]
    fn a_scratch_folder_goes_with_its_test_unless_the_test_fails() {
        let passing = Scratch::new("scratch-pass");
        std::fs::write(passing.join("f"), "x").unwrap();
        let path = passing.to_path_buf();
        drop(passing);
        assert!(!path.exists(), "removed when the test ends");

        let failing = std::thread::spawn(|| {
            let s = Scratch::new("scratch-fail");
            std::fs::write(s.join("f"), "x").unwrap();
            let path = s.to_path_buf();
            std::panic::panic_any(path);
        })
        .join()
        .unwrap_err();
        let path = failing.downcast::<std::path::PathBuf>().unwrap();
        assert!(path.join("f").exists(), "kept when the test fails");
        std::fs::remove_dir_all(*path).unwrap();
    }
}
