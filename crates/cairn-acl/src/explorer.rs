//! How the SQL explorer (and any SQL client) reaches the data lake as a user's own
//! ClickHouse identity, and the limits every such query runs under.
//!
//! Each user's ClickHouse password is derived from one key (`CAIRN_EXPLORER_KEY`) that
//! only `cairn acl sync` and `cairn serve` read: HMAC-SHA256 of the database and the LMS
//! username. The users file holds only its SHA-256; no per-user secret is stored
//! anywhere; the dashboard recomputes it for each query. Changing the key changes every
//! password at the next sync.
//!
//! ```
//! use cairn_acl::explorer::derive_password;
//! let p = derive_password("k3y", "openedx", "teach");
//! assert_eq!(p.len(), 64);
//! assert_eq!(p, derive_password("k3y", "openedx", "teach"));
//! assert_ne!(p, derive_password("k3y", "openedx", "teach2"));
//! assert_ne!(p, derive_password("other", "openedx", "teach"));
//! ```

use std::fmt::Write as _;

use cairn_core::config::ExplorerConfig;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The user's ClickHouse password derived from `key` (64 hex digits).
pub fn derive_password(key: &str, database: &str, username: &str) -> String {
    // HMAC takes a key of any length: new_from_slice cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key.as_bytes()) else {
        unreachable!("HMAC accepts keys of any length")
    };
    // The parts are separated by NUL, which neither a database name nor a username holds.
    mac.update(b"cairn explorer password v1\0");
    mac.update(database.as_bytes());
    mac.update(b"\0");
    mac.update(username.as_bytes());
    let mut out = String::with_capacity(64);
    for b in mac.finalize().into_bytes() {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// What every query of a user may use: enforced by the server (the users' settings
/// profile, `readonly` so that no query can lift them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Seconds a query may run.
    pub max_execution_time: u64,
    /// Bytes of memory a query may use.
    pub max_memory_usage: u64,
    /// Rows a query may return.
    pub max_result_rows: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_execution_time: 30,
            max_memory_usage: 2_000_000_000,
            max_result_rows: 1_000_000,
        }
    }
}

impl From<&ExplorerConfig> for Limits {
    fn from(c: &ExplorerConfig) -> Self {
        Limits {
            max_execution_time: c.max_execution_time,
            max_memory_usage: c.max_memory_usage,
            max_result_rows: c.max_result_rows,
        }
    }
}

impl Limits {
    /// The settings, as `(name, value)` pairs, that make a query read-only and limited.
    /// (Every server Cairn supports knows them.)
    pub fn settings(&self) -> [(&'static str, String); 5] {
        [
            ("max_execution_time", self.max_execution_time.to_string()),
            ("max_memory_usage", self.max_memory_usage.to_string()),
            ("max_result_rows", self.max_result_rows.to_string()),
            ("result_overflow_mode", "throw".to_owned()),
            // Last: once it is 1, no setting may change.
            ("readonly", "1".to_owned()),
        ]
    }
}

/// The settings profile of the data lake's users in users.xml.
pub fn profile_name(database: &str) -> String {
    format!("cairn_users_{database}")
}
