//! A lock so that two `up` runs never apply migrations at once.
//!
//! ClickHouse has no transactions, so the lock is a table of claims: each run inserts a
//! claim stamped with the server's `now()` (seconds), waits a little over one second, and
//! reads the unreleased, unexpired claims. The oldest claim (ties broken by token) holds
//! the lock. Waiting past the clock's resolution makes every run see every claim that
//! could be older than its own, so all runs agree on the holder. Claims expire (a killed
//! run cannot hold the lock forever) and are refreshed while migrating.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cairn_core::ClickHouse;
use cairn_core::sql::quote_ident;
use clickhouse::Row;
use serde::Deserialize;

use crate::MigrateError;

/// How long a claim lives without refresh.
pub const EXPIRY_SECS: u32 = 900;
const SETTLE: Duration = Duration::from_millis(1300);

/// A held lock; release it with [`Lock::release`].
#[derive(Debug)]
pub struct Lock {
    token: String,
    owner: String,
    acquired_at: u32,
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

fn table(ch: &ClickHouse) -> String {
    format!("{}._migrations_lock", quote_ident(ch.database()))
}

fn fmt_time(secs: u32) -> String {
    chrono::DateTime::from_timestamp(i64::from(secs), 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| secs.to_string())
}

/// Creates the lock table if needed.
pub async fn ensure_table(ch: &ClickHouse) -> Result<(), MigrateError> {
    ch.execute(&format!(
        "CREATE TABLE IF NOT EXISTS {} (token String, owner String, acquired_at DateTime, expires_at DateTime, released UInt8) ENGINE = MergeTree ORDER BY (acquired_at, token)",
        table(ch)
    ))
    .await?;
    Ok(())
}

fn holder_sql(ch: &ClickHouse) -> String {
    format!(
        "SELECT token, any(owner) AS holder, toUInt32(min(acquired_at)) AS since, toUInt32(max(expires_at)) AS until \
         FROM {} GROUP BY token HAVING max(released) = 0 AND max(expires_at) > now() \
         ORDER BY since, token LIMIT 1",
        table(ch)
    )
}

async fn holder(ch: &ClickHouse) -> Result<Option<Claim>, MigrateError> {
    ch.client()
        .query(&holder_sql(ch))
        .fetch_optional::<Claim>()
        .await
        .map_err(|e| cairn_core::Error::clickhouse("reading the migration lock", e).into())
}

async fn claim(
    ch: &ClickHouse,
    token: &str,
    owner: &str,
    acquired_at: Option<u32>,
    released: bool,
) -> Result<(), MigrateError> {
    let acquired = match acquired_at {
        Some(t) => format!("toDateTime({t})"),
        None => "now()".into(),
    };
    let expires = if released {
        "now()".to_owned()
    } else {
        format!("now() + {EXPIRY_SECS}")
    };
    let sql = format!(
        "INSERT INTO {} (token, owner, acquired_at, expires_at, released) SELECT ?, ?, {acquired}, {expires}, {}",
        table(ch),
        u8::from(released)
    );
    ch.client()
        .query(&sql)
        .bind(token)
        .bind(owner)
        .execute()
        .await
        .map_err(|e| cairn_core::Error::clickhouse("writing the migration lock", e))?;
    Ok(())
}

impl Lock {
    /// Takes the lock for `owner`, waiting up to `wait` for a holder to finish; says who
    /// holds it (once, through `on_wait`) while waiting.
    pub async fn acquire(
        ch: &ClickHouse,
        owner: &str,
        wait: Duration,
        mut on_wait: impl FnMut(&str, &str),
    ) -> Result<Lock, MigrateError> {
        ensure_table(ch).await?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let token = format!("{nanos:x}-{:x}", std::process::id());
        claim(ch, &token, owner, None, false).await?;
        let start = Instant::now();
        let mut told = false;
        loop {
            tokio::time::sleep(SETTLE).await;
            match holder(ch).await? {
                Some(h) if h.token == token => {
                    return Ok(Lock {
                        token,
                        owner: owner.to_owned(),
                        acquired_at: h.acquired_at,
                    });
                }
                Some(h) if start.elapsed() < wait => {
                    if !told {
                        on_wait(&h.owner, &fmt_time(h.acquired_at));
                        told = true;
                    }
                }
                Some(h) => {
                    claim(ch, &token, owner, None, true).await?;
                    return Err(MigrateError::Locked {
                        owner: h.owner,
                        since: fmt_time(h.acquired_at),
                        until: fmt_time(h.expires_at),
                    });
                }
                // Our own claim vanished (expired while waiting): claim again.
                None => claim(ch, &token, owner, None, false).await?,
            }
        }
    }

    /// Extends the lock's expiry.
    pub async fn refresh(&self, ch: &ClickHouse) -> Result<(), MigrateError> {
        claim(ch, &self.token, &self.owner, Some(self.acquired_at), false).await
    }

    /// Releases the lock.
    pub async fn release(self, ch: &ClickHouse) -> Result<(), MigrateError> {
        claim(ch, &self.token, &self.owner, Some(self.acquired_at), true).await
    }
}

/// Releases every claim (for a lock left by a run that died); returns how many.
pub async fn force_unlock(ch: &ClickHouse) -> Result<usize, MigrateError> {
    ensure_table(ch).await?;
    let mut n = 0;
    while let Some(h) = holder(ch).await? {
        claim(ch, &h.token, &h.owner, Some(h.acquired_at), true).await?;
        n += 1;
    }
    Ok(n)
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
        let ch = crate::testing::data_lake("migrate_lock_columns").await;
        let q = ch.client().query(&super::holder_sql(&ch));
        cairn_core::testing::assert_row_columns::<super::Claim>("lock holder", q).await;
        ch.drop_database().await.unwrap();
    }
}
