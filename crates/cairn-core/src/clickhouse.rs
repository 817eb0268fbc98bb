//! ClickHouse access: a small wrapper over the official `clickhouse` crate.
//!
//! [`ClickHouse::connect`] builds a client from the config, checks that the server answers
//! and reads its version, and turns off the crate's schema validation where the server is
//! too old for it (validation uses `RowBinaryWithNamesAndTypes`, which 18.16 rejects).

use crate::config::ClickHouseConfig;
use crate::error::{Error, Result};
use crate::sql::quote_ident;
use crate::version::ServerVersion;

pub use ::clickhouse::Client;

/// The oldest server version for which the crate's schema validation is enabled.
pub const VALIDATION_MIN_VERSION: ServerVersion = ServerVersion::new(24, 8);

/// A connected ClickHouse server: a client plus what Cairn learned about the server.
#[derive(Clone)]
pub struct ClickHouse {
    client: Client,
    version: ServerVersion,
    database: String,
    config: ClickHouseConfig,
}

impl std::fmt::Debug for ClickHouse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickHouse")
            .field("url", &self.config.url())
            .field("database", &self.database)
            .field("version", &self.version)
            .finish()
    }
}

/// A client for `cfg` with no default database (works before the database exists).
fn base_client(cfg: &ClickHouseConfig) -> Client {
    Client::default()
        .with_url(cfg.url())
        .with_user(cfg.username.clone())
        .with_password(cfg.password.expose().to_owned())
        .with_validation(false)
}

impl ClickHouse {
    /// Connects: pings the server, reads `version()`, and prepares a client for the
    /// configured database (which need not exist yet; see [`ClickHouse::create_database`]).
    pub async fn connect(cfg: &ClickHouseConfig) -> Result<Self> {
        let base = base_client(cfg);
        let raw: String = base
            .query("SELECT version()")
            .fetch_one()
            .await
            .map_err(|e| Error::clickhouse(format!("connecting to {}", cfg.url()), e))?;
        let version: ServerVersion = raw
            .parse()
            .map_err(|e: crate::version::VersionError| Error::Other(e.to_string()))?;
        let mut client = base
            .with_database(cfg.database.clone())
            .with_validation(version >= VALIDATION_MIN_VERSION);
        if !cfg.cluster.is_empty() {
            // An insert through a Distributed table returns once every shard has its
            // rows, so what Cairn records after an insert (checkpoints) is true.
            client = client.with_setting("insert_distributed_sync", "1");
        }
        Ok(ClickHouse {
            client,
            version,
            database: cfg.database.clone(),
            config: cfg.clone(),
        })
    }

    /// The client, bound to the configured database.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// A client with no default database, for queries on `system` tables that must work
    /// before the configured database exists (current servers refuse an unknown one).
    pub fn server_client(&self) -> Client {
        base_client(&self.config).with_validation(self.version >= VALIDATION_MIN_VERSION)
    }

    /// The server's version.
    pub fn version(&self) -> ServerVersion {
        self.version
    }

    /// The configured database name.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// The connection settings this was built from.
    pub fn config(&self) -> &ClickHouseConfig {
        &self.config
    }

    /// A copy of this connection using another database (e.g. a test's own).
    pub fn with_database(&self, database: &str) -> Self {
        let mut other = self.clone();
        other.client = self.client.clone().with_database(database.to_owned());
        other.database = database.to_owned();
        other.config.database = database.to_owned();
        other
    }

    /// Checks that the server answers (`SELECT 1`, so credentials are checked too).
    pub async fn ping(&self) -> Result<()> {
        let one: u8 = base_client(&self.config)
            .query("SELECT toUInt8(1)")
            .fetch_one()
            .await
            .map_err(|e| Error::clickhouse("ping", e))?;
        if one == 1 {
            Ok(())
        } else {
            Err(Error::Other(format!("ping: unexpected answer {one}")))
        }
    }

    /// Runs one statement that returns no rows, in the configured database.
    pub async fn execute(&self, sql: &str) -> Result<()> {
        run(&self.client, sql).await
    }

    /// The cluster of the data lake (`CAIRN_CLICKHOUSE_CLUSTER`), `""` for a single node.
    pub fn cluster(&self) -> &str {
        &self.config.cluster
    }

    /// `CREATE DATABASE IF NOT EXISTS` for the configured database (on every node of the
    /// cluster, if there is one).
    pub async fn create_database(&self) -> Result<()> {
        let sql = format!(
            "CREATE DATABASE IF NOT EXISTS {}{}",
            quote_ident(&self.database),
            crate::cluster::on_cluster(self.cluster())
        );
        run(&base_client(&self.config), &sql).await
    }

    /// `DROP DATABASE IF EXISTS` for the configured database, on every node of the
    /// cluster (tests use this).
    pub async fn drop_database(&self) -> Result<()> {
        let sql = format!(
            "DROP DATABASE IF EXISTS {}{}",
            quote_ident(&self.database),
            crate::cluster::on_cluster(self.cluster())
        );
        run(&base_client(&self.config), &sql).await
    }

    /// The engine clause of a bookkeeping table (`MergeTree`, `ReplacingMergeTree(v)` …):
    /// as given on a single node, replicated to every node on a cluster.
    pub fn everywhere_engine(&self, engine: &str, table: &str) -> String {
        if self.cluster().is_empty() {
            return engine.to_owned();
        }
        let (path, replica) = crate::cluster::everywhere(&self.database, table);
        crate::cluster::replicated(engine, &path, &replica).unwrap_or_else(|| engine.to_owned())
    }

    /// Fails with a clear error naming the server version when it is older than
    /// `major.minor`, the first version with `feature`.
    pub fn require(&self, feature: &str, major: u32, minor: u32) -> Result<()> {
        if self.version.at_least(major, minor) {
            Ok(())
        } else {
            Err(Error::Unsupported {
                feature: feature.to_owned(),
                needed: format!("{major}.{minor}"),
                actual: self.version.to_string(),
            })
        }
    }
}

/// Runs `sql` (no rows returned) with `client`, keeping the statement's start as context.
async fn run(client: &Client, sql: &str) -> Result<()> {
    client
        .query(sql)
        .execute()
        .await
        .map_err(|e| Error::clickhouse(first_line(sql), e))
}

/// The first line of a statement, shortened, for error context.
fn first_line(sql: &str) -> String {
    let line = sql.trim().lines().next().unwrap_or("");
    let mut s: String = line.chars().take(80).collect();
    if s.len() < line.len() {
        s.push('…');
    }
    s
}
