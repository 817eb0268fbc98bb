//! A lock held in a ClickHouse table, so that two processes (on any hosts) never do the
//! same work at once: migrations, sending scheduled reports.
//!
//! ClickHouse has no transactions, so the lock is a table of claims: each process inserts
//! a claim stamped with the server's `now()` (seconds), waits a little over one second,
//! and reads the unreleased, unexpired claims. The oldest claim (ties broken by token)
//! holds the lock. Waiting past the clock's resolution makes every process see every
//! claim that could be older than its own, so all agree on the holder. Claims expire (a
//! killed process cannot hold the lock forever) and are refreshed while working.
//!
//! On a cluster (`CAIRN_CLICKHOUSE_CLUSTER`) the claims table is replicated to every node,
//! each claim is written to two replicas before its insert returns (`insert_quorum`), and
//! claims are read only from a node that holds every claim so written
//! (`select_sequential_consistency`): processes talking to different nodes still see
//! each other's claims, whatever replication's delay.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clickhouse::Row;
use serde::Deserialize;

use crate::ClickHouse;
use crate::sql::quote_ident;

const SETTLE: Duration = Duration::from_millis(1300);

/// How long a cluster's quorum errors are retried: another claim's quorum write in
/// progress (code 286), a node that lacks a claim written to a quorum (code 289).
const QUORUM_RETRY: Duration = Duration::from_secs(20);

/// Runs `attempt` again while it fails with a quorum error of a cluster (see
/// [`QUORUM_RETRY`]).
async fn quorum_retry<T, F, Fut>(mut attempt: F) -> Result<T, clickhouse::error::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, clickhouse::error::Error>>,
{
    let start = Instant::now();
    loop {
        match attempt().await {
            Err(e)
                if start.elapsed() < QUORUM_RETRY
                    && ["Code: 286", "Code: 289"]
                        .iter()
                        .any(|c| e.to_string().contains(c)) =>
            {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            other => return other,
        }
    }
}

/// A lock's table and how long a claim lives without refresh.
#[derive(Debug, Clone, Copy)]
pub struct LockTable {
    /// The table, in the data-lake database (created if missing).
    pub table: &'static str,
    /// What is locked, for error messages ("the migration lock").
    pub what: &'static str,
    /// Seconds a claim lives without refresh.
    pub expiry_secs: u32,
}

/// A held lock; release it with [`Lock::release`].
#[derive(Debug)]
pub struct Lock {
    kind: LockTable,
    token: String,
    owner: String,
    acquired_at: u32,
}

/// Who holds a lock another process wanted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The holder's owner string.
    pub owner: String,
    /// Since when (server time, `YYYY-MM-DD hh:mm:ss UTC`).
    pub since: String,
    /// When its claim expires unless refreshed.
    pub until: String,
}

#[derive(Row, Deserialize)]
struct Claim {
    token: String,
    #[serde(rename = "holder")]
    owner: String,
    #[serde(rename = "since")]
    acquired_at: u32,
    #[serde(rename = "until")]
    expires_at: u32,
}

impl Claim {
    fn holder(&self) -> Holder {
        Holder {
            owner: self.owner.clone(),
            since: fmt_time(self.acquired_at),
            until: fmt_time(self.expires_at),
        }
    }
}

fn fmt_time(secs: u32) -> String {
    chrono::DateTime::from_timestamp(i64::from(secs), 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| secs.to_string())
}

impl LockTable {
    fn table(&self, ch: &ClickHouse) -> String {
        format!("{}.{}", quote_ident(ch.database()), quote_ident(self.table))
    }

    /// Creates the lock table if needed.
    pub async fn ensure(&self, ch: &ClickHouse) -> crate::Result<()> {
        // On a cluster the claims are on every node, so processes on any node agree.
        ch.execute(&format!(
            "CREATE TABLE IF NOT EXISTS {}{} (token String, owner String, acquired_at DateTime, expires_at DateTime, released UInt8) ENGINE = {} ORDER BY (acquired_at, token)",
            self.table(ch),
            crate::cluster::on_cluster(ch.cluster()),
            ch.everywhere_engine("MergeTree", self.table)
        ))
        .await
    }

    fn holder_sql(&self, ch: &ClickHouse) -> String {
        format!(
            "SELECT token, any(owner) AS holder, toUInt32(min(acquired_at)) AS since, toUInt32(max(expires_at)) AS until \
             FROM {} GROUP BY token HAVING max(released) = 0 AND max(expires_at) > now() \
             ORDER BY since, token LIMIT 1",
            self.table(ch)
        )
    }

    async fn holder(&self, ch: &ClickHouse) -> crate::Result<Option<Claim>> {
        let sql = self.holder_sql(ch);
        quorum_retry(|| {
            let mut q = ch.client().query(&sql);
            if !ch.cluster().is_empty() {
                q = q.with_setting("select_sequential_consistency", "1");
            }
            q.fetch_optional::<Claim>()
        })
        .await
        .map_err(|e| crate::Error::clickhouse(format!("reading {}", self.what), e))
    }

    async fn claim(
        &self,
        ch: &ClickHouse,
        token: &str,
        owner: &str,
        acquired_at: Option<u32>,
        released: bool,
    ) -> crate::Result<()> {
        let acquired = match acquired_at {
            Some(t) => format!("toDateTime({t})"),
            None => "now()".into(),
        };
        let expires = if released {
            "now()".to_owned()
        } else {
            format!("now() + {}", self.expiry_secs)
        };
        let sql = format!(
            "INSERT INTO {} (token, owner, acquired_at, expires_at, released) SELECT ?, ?, {acquired}, {expires}, {}",
            self.table(ch),
            u8::from(released)
        );
        quorum_retry(|| {
            let mut q = ch.client().query(&sql).bind(token).bind(owner);
            if !ch.cluster().is_empty() {
                q = q
                    .with_setting("insert_quorum", "2")
                    .with_setting("insert_quorum_timeout", "60000");
            }
            q.execute()
        })
        .await
        .map_err(|e| crate::Error::clickhouse(format!("writing {}", self.what), e))
    }

    /// Takes the lock for `owner`, waiting up to `wait` for a holder to finish; says who
    /// holds it (once, through `on_wait`) while waiting. `Ok(Err(holder))` when another
    /// process still holds it after `wait`.
    pub async fn acquire(
        &self,
        ch: &ClickHouse,
        owner: &str,
        wait: Duration,
        mut on_wait: impl FnMut(&Holder),
    ) -> crate::Result<Result<Lock, Holder>> {
        self.ensure(ch).await?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let token = format!("{nanos:x}-{:x}", std::process::id());
        self.claim(ch, &token, owner, None, false).await?;
        let start = Instant::now();
        let mut told = false;
        loop {
            tokio::time::sleep(SETTLE).await;
            match self.holder(ch).await? {
                Some(h) if h.token == token => {
                    return Ok(Ok(Lock {
                        kind: *self,
                        token,
                        owner: owner.to_owned(),
                        acquired_at: h.acquired_at,
                    }));
                }
                Some(h) if start.elapsed() < wait => {
                    if !told {
                        on_wait(&h.holder());
                        told = true;
                    }
                }
                Some(h) => {
                    self.claim(ch, &token, owner, None, true).await?;
                    return Ok(Err(h.holder()));
                }
                // Our own claim vanished (expired while waiting): claim again.
                None => self.claim(ch, &token, owner, None, false).await?,
            }
        }
    }

    /// Releases every claim (for a lock left by a process that died); returns how many.
    pub async fn force_unlock(&self, ch: &ClickHouse) -> crate::Result<usize> {
        self.ensure(ch).await?;
        let mut n = 0;
        while let Some(h) = self.holder(ch).await? {
            self.claim(ch, &h.token, &h.owner, Some(h.acquired_at), true)
                .await?;
            n += 1;
        }
        Ok(n)
    }
}

impl Lock {
    /// Extends the lock's expiry.
    pub async fn refresh(&self, ch: &ClickHouse) -> crate::Result<()> {
        self.kind
            .claim(ch, &self.token, &self.owner, Some(self.acquired_at), false)
            .await
    }

    /// Releases the lock.
    pub async fn release(self, ch: &ClickHouse) -> crate::Result<()> {
        self.kind
            .claim(ch, &self.token, &self.owner, Some(self.acquired_at), true)
            .await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_server_times() {
        assert_eq!(super::fmt_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(super::fmt_time(1_764_000_000), "2025-11-24 16:00:00 UTC");
    }

    /// On the live server: the lock holder's columns are `Claim`'s (current servers check).
    #[tokio::test(flavor = "multi_thread")]
    async fn holder_columns_are_the_claim_fields() {
        let ch = crate::testing::clickhouse("core_lock_columns").await;
        let kind = super::LockTable {
            table: "_test_lock",
            what: "the test lock",
            expiry_secs: 60,
        };
        kind.ensure(&ch).await.unwrap();
        let q = ch.client().query(&kind.holder_sql(&ch));
        crate::testing::assert_row_columns::<super::Claim>("lock holder", q).await;
        ch.drop_database().await.unwrap();
    }
}
