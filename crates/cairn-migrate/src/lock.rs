//! A lock so that two `up` runs never apply migrations at once: [`cairn_core::lock`] on
//! the table `_migrations_lock`.

use std::time::Duration;

use cairn_core::ClickHouse;
use cairn_core::lock::LockTable;

pub use cairn_core::lock::Lock;

use crate::MigrateError;

/// How long a claim lives without refresh.
pub const EXPIRY_SECS: u32 = 900;

/// The migration lock's table.
pub const MIGRATIONS_LOCK: LockTable = LockTable {
    table: "_migrations_lock",
    what: "the migration lock",
    expiry_secs: EXPIRY_SECS,
};

/// Takes the migration lock for `owner`, waiting up to `wait` for a holder to finish;
/// says who holds it (once, through `on_wait`) while waiting.
pub async fn acquire(
    ch: &ClickHouse,
    owner: &str,
    wait: Duration,
    mut on_wait: impl FnMut(&str, &str),
) -> Result<Lock, MigrateError> {
    MIGRATIONS_LOCK
        .acquire(ch, owner, wait, |h| on_wait(&h.owner, &h.since))
        .await?
        .map_err(|h| MigrateError::Locked {
            owner: h.owner,
            since: h.since,
            until: h.until,
        })
}

/// Releases every claim (for a lock left by a run that died); returns how many.
pub async fn force_unlock(ch: &ClickHouse) -> Result<usize, MigrateError> {
    Ok(MIGRATIONS_LOCK.force_unlock(ch).await?)
}
