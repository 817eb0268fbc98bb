//! Cairn's foundation: what every Cairn crate needs and nothing more.
//!
//! - [`config`]: one [`Config`] from defaults, `cairn.toml` and the environment;
//! - [`clickhouse`]: a small wrapper over the official `clickhouse` crate with server
//!   version detection ([`ServerVersion`]);
//! - [`mysql`]: `mysql_async` connection options for the LMS database;
//! - [`cluster`]: the DDL of the data lake on a ClickHouse cluster;
//! - [`derived`]: the SQL of the tables kept from the events by materialized views;
//! - [`keys`]: Open edX course and usage keys;
//! - [`error`]: one error type;
//! - [`logging`]: the binaries' log (`CAIRN_LOG`, `CAIRN_LOG_FORMAT`).
//!
//! ```
//! use cairn_core::keys::CourseKey;
//! let key: CourseKey = "course-v1:MITx+6.002x+2013_Spring".parse().unwrap();
//! assert_eq!(key.org(), "MITx");
//! assert_eq!(key.to_string(), "course-v1:MITx+6.002x+2013_Spring");
//! ```

#![warn(missing_docs)]

#[cfg(feature = "services")]
pub mod clickhouse;
pub mod cluster;
pub mod config;
pub mod derived;
pub mod error;
#[cfg(feature = "services")]
pub mod failover;
pub mod keys;
#[cfg(feature = "services")]
pub mod lock;
#[cfg(feature = "services")]
pub mod logging;
#[cfg(feature = "services")]
pub mod mysql;
pub mod sql;
#[cfg(feature = "services")]
pub mod testing;
pub mod version;

#[cfg(feature = "services")]
pub use crate::clickhouse::ClickHouse;
pub use config::{Config, Secret};
pub use error::{Error, Result};
pub use keys::{CourseKey, UsageKey};
pub use version::ServerVersion;

/// Work a long-running command (`cairn serve`, `cairn ingest --follow`) runs beside its own,
/// given its ClickHouse connection: e.g. scheduled learner retirement.
#[cfg(feature = "services")]
pub type Background = Box<
    dyn FnOnce(ClickHouse) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
        + Send,
>;
