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
/// With failover nodes (`CAIRN_CLICKHOUSE_FAILOVER`), its connections go to the first node
/// that answers ([`crate::failover`]).
fn base_client(cfg: &ClickHouseConfig) -> Client {
    let client = if cfg.failover.is_empty() {
        Client::default()
    } else {
        let mut nodes = vec![cfg.http_authority()];
        nodes.extend(cfg.failover.iter().cloned());
        let http =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                // ClickHouse closes idle connections after 3 s: never reuse one that old.
                .pool_idle_timeout(std::time::Duration::from_secs(2))
                .build(crate::failover::FailoverConnector::new(nodes));
        Client::with_http_client(http)
    };
    client
        .with_url(cfg.url())
        .with_user(cfg.username.clone())
        .with_password(cfg.password.expose().to_owned())
        .with_validation(false)
}

/// Whether a server's answer says it refused the user or password: `Code: 192` (unknown
/// user), 193 (wrong password), 194 (password required) or 516 (authentication failed).
fn refused_credentials(message: &str) -> bool {
    ["Code: 192", "Code: 193", "Code: 194", "Code: 516"]
        .iter()
        .any(|code| message.contains(code))
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
            .map_err(|e| {
                let hint = match &e {
                    ::clickhouse::error::Error::Network(_) => {
                        " (nothing answers there: is the server up, and are \
                         CAIRN_CLICKHOUSE_HOST and CAIRN_CLICKHOUSE_HTTP_PORT right?)"
                    }
                    ::clickhouse::error::Error::BadResponse(m) if refused_credentials(m) => {
                        " (the server refused the user or password: check \
                         CAIRN_CLICKHOUSE_USERNAME and CAIRN_CLICKHOUSE_PASSWORD)"
                    }
                    _ => "",
                };
                Error::clickhouse(format!("connecting to {}{hint}", cfg.url()), e)
            })?;
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
    ///
    /// On a cluster, an `ON CLUSTER` statement whose task outlives the server's
    /// `distributed_ddl_task_timeout` while hosts still work on it is waited for (up to
    /// [`crate::cluster::DDL_WAIT`]) rather than reported half done: it succeeds once every
    /// host has executed it, and fails naming each host that reported an error or has not
    /// finished.
    pub async fn execute(&self, sql: &str) -> Result<()> {
        self.run_ddl(&self.client, sql).await
    }

    /// A copy of this connection sending a ClickHouse setting with every query.
    pub fn with_setting(&self, name: &str, value: &str) -> Self {
        let mut other = self.clone();
        other.client = self.client.clone().with_setting(name, value);
        other
    }

    /// [`run`], waiting for a distributed DDL task that timed out on the server.
    async fn run_ddl(&self, client: &Client, sql: &str) -> Result<()> {
        let err = match run(client, sql).await {
            Err(e) if !self.cluster().is_empty() => e,
            other => return other,
        };
        let task = match &err {
            Error::ClickHouse { message, .. } => crate::cluster::timed_out_ddl_task(message),
            _ => None,
        };
        match task {
            Some(task) => {
                self.await_ddl_task(task, &first_line(sql), crate::cluster::DDL_WAIT)
                    .await
            }
            None => Err(err),
        }
    }

    /// Waits until every host a distributed DDL task names has executed it, up to `wait`.
    pub async fn await_ddl_task(
        &self,
        task: &str,
        context: &str,
        wait: std::time::Duration,
    ) -> Result<()> {
        let fail = |message: String| Error::ClickHouse {
            context: context.to_owned(),
            message,
        };
        let zk = |e: ::clickhouse::error::Error| {
            Error::clickhouse(format!("reading DDL task {task} in ZooKeeper"), e)
        };
        let (parent, name) = task.rsplit_once('/').unwrap_or(("/", task));
        tracing::warn!(
            task,
            "an ON CLUSTER statement outlived distributed_ddl_task_timeout; waiting for every host to execute it"
        );
        let client = base_client(&self.config);
        let entry: Vec<String> = client
            .query("SELECT value FROM system.zookeeper WHERE path = ? AND name = ?")
            .bind(if parent.is_empty() { "/" } else { parent })
            .bind(name)
            .fetch_all()
            .await
            .map_err(zk)?;
        let hosts = entry
            .first()
            .map(|e| crate::cluster::ddl_task_hosts(e))
            .unwrap_or_default();
        if hosts.is_empty() {
            return Err(fail(format!(
                "distributed DDL task {task} timed out and its entry names no hosts"
            )));
        }
        let start = std::time::Instant::now();
        loop {
            let finished: Vec<(String, String)> = client
                .query("SELECT name, value FROM system.zookeeper WHERE path = ?")
                .bind(format!("{task}/finished"))
                .fetch_all()
                .await
                .map_err(zk)?;
            let pending: Vec<&String> = hosts
                .iter()
                .filter(|h| !finished.iter().any(|(n, _)| n == *h))
                .collect();
            if pending.is_empty() {
                let errors: Vec<String> = finished
                    .iter()
                    .filter_map(|(host, status)| {
                        crate::cluster::ddl_host_error(status).map(|e| format!("{host}: {e}"))
                    })
                    .collect();
                return if errors.is_empty() {
                    tracing::info!(
                        task,
                        waited_s = start.elapsed().as_secs(),
                        "every host executed it"
                    );
                    Ok(())
                } else {
                    Err(fail(format!(
                        "distributed DDL task {task} failed on {}",
                        errors.join("; ")
                    )))
                };
            }
            if start.elapsed() >= wait {
                let names: Vec<&str> = pending.iter().map(|h| h.as_str()).collect();
                return Err(fail(format!(
                    "distributed DDL task {task}: {} of {} hosts ({}) had not executed it after {} s more than distributed_ddl_task_timeout (is one down?); they will when they can",
                    pending.len(),
                    hosts.len(),
                    names.join(", "),
                    wait.as_secs()
                )));
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
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
        self.run_ddl(&base_client(&self.config), &sql).await
    }

    /// Whether the configured database exists (asked of the server's `system` database,
    /// which answers when the configured one does not).
    pub async fn database_exists(&self) -> Result<bool> {
        let n: u64 = self
            .server_client()
            .query("SELECT count() FROM system.databases WHERE name = ?")
            .bind(self.database())
            .fetch_one()
            .await
            .map_err(|e| crate::Error::clickhouse("reading system.databases", e))?;
        Ok(n > 0)
    }

    /// `DROP DATABASE IF EXISTS` for the configured database, on every node of the
    /// cluster (tests use this).
    pub async fn drop_database(&self) -> Result<()> {
        let sql = format!(
            "DROP DATABASE IF EXISTS {}{}",
            quote_ident(&self.database),
            crate::cluster::on_cluster(self.cluster())
        );
        self.run_ddl(&base_client(&self.config), &sql).await
    }

    /// What an `ALTER TABLE` that changes stored rows (`DELETE`, `UPDATE`, `DROP PARTITION`)
    /// names: the table, or on a cluster, for a sharded table
    /// ([`crate::cluster::SHARDED_TABLES`]), its local tables on every node (a `Distributed`
    /// table holds no rows). A table on every node takes the statement once: it replicates.
    ///
    /// ```
    /// # use cairn_core::ClickHouse;
    /// # fn show(ch: &ClickHouse) {
    /// // One node: "`_events`"; cluster `cairn`: "`_events_local` ON CLUSTER `cairn`".
    /// let sql = format!("ALTER TABLE {} DELETE WHERE user_id = 7", ch.alter_target("_events"));
    /// # }
    /// ```
    pub fn alter_target(&self, table: &str) -> String {
        let rows = self.rows_table(table);
        if rows == table {
            quote_ident(table)
        } else {
            format!(
                "{}{}",
                quote_ident(&rows),
                crate::cluster::on_cluster(self.cluster())
            )
        }
    }

    /// The table that holds `table`'s rows on a node (its parts, mutations, partitions):
    /// itself, or on a cluster its local table when it is sharded.
    pub fn rows_table(&self, table: &str) -> String {
        if !self.cluster().is_empty() && crate::cluster::SHARDED_TABLES.contains(&table) {
            crate::cluster::local_name(table)
        } else {
            table.to_owned()
        }
    }

    /// Where a system table is read for the whole data lake: `system.NAME` on one node,
    /// `cluster('CLUSTER', system, NAME)` on a cluster (one replica of each shard).
    pub fn system_table(&self, name: &str) -> String {
        if self.cluster().is_empty() {
            format!("system.{}", quote_ident(name))
        } else {
            format!(
                "cluster({}, system, {})",
                crate::sql::quote_str(self.cluster()),
                quote_ident(name)
            )
        }
    }

    /// The nodes of the cluster (`host:port`, native protocol, from `system.clusters`), every
    /// replica of every shard; empty on a single node.
    pub async fn cluster_nodes(&self) -> Result<Vec<String>> {
        if self.cluster().is_empty() {
            return Ok(Vec::new());
        }
        let nodes: Vec<(String, u16)> = self
            .server_client()
            .query(
                "SELECT host_address, port FROM system.clusters WHERE cluster = ? \
                 ORDER BY shard_num, replica_num",
            )
            .bind(self.cluster())
            .fetch_all()
            .await
            .map_err(|e| Error::clickhouse("reading system.clusters", e))?;
        if nodes.is_empty() {
            return Err(Error::Other(format!(
                "the server knows no cluster {} (CAIRN_CLICKHOUSE_CLUSTER): see system.clusters",
                quote_ident(self.cluster())
            )));
        }
        Ok(nodes
            .into_iter()
            .map(|(host, port)| {
                if host.contains(':') {
                    format!("[{host}]:{port}")
                } else {
                    format!("{host}:{port}")
                }
            })
            .collect())
    }

    /// A client that reads `system.NAME` of one node of the cluster (`node` from
    /// [`ClickHouse::cluster_nodes`]), with the query that does it: `remote()` with Cairn's
    /// credentials, so the client keeps the query out of the query log (`log_queries = 0`).
    pub fn on_node(&self, node: &str, name: &str) -> (Client, String) {
        let source = format!(
            "remote({}, system, {}, {}, {})",
            crate::sql::quote_str(node),
            quote_ident(name),
            crate::sql::quote_str(&self.config.username),
            crate::sql::quote_str(self.config.password.expose())
        );
        (
            self.server_client().with_setting("log_queries", "0"),
            source,
        )
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
