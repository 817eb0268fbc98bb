//! Cairn's error type.

use crate::config::ConfigError;

/// Result with Cairn's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every error a Cairn library returns; messages keep the server's own words.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// ClickHouse answered with an error or could not be reached.
    #[error("ClickHouse ({context}): {message}")]
    ClickHouse {
        /// What Cairn was doing.
        context: String,
        /// The server's (or transport's) message.
        message: String,
    },
    /// MySQL answered with an error or could not be reached.
    #[error("MySQL ({context}): {message}")]
    Mysql {
        /// What Cairn was doing.
        context: String,
        /// The server's (or transport's) message.
        message: String,
    },
    /// The server is too old for a feature.
    #[error("{feature} needs ClickHouse {needed} or newer; the server is {actual}")]
    Unsupported {
        /// The feature.
        feature: String,
        /// Minimum version.
        needed: String,
        /// The server's version.
        actual: String,
    },
    /// Anything else, with a message for the operator.
    #[error("{0}")]
    Other(String),
}

impl Error {
    #[cfg(feature = "services")]
    /// Wraps a `clickhouse` crate error with what Cairn was doing.
    pub fn clickhouse(context: impl Into<String>, e: ::clickhouse::error::Error) -> Self {
        let message = match e {
            ::clickhouse::error::Error::BadResponse(m) => m.trim().to_owned(),
            other => other.to_string(),
        };
        Error::ClickHouse {
            context: context.into(),
            message,
        }
    }

    #[cfg(feature = "services")]
    /// Wraps a `mysql_async` error with what Cairn was doing.
    pub fn mysql(context: impl Into<String>, e: mysql_async::Error) -> Self {
        Error::Mysql {
            context: context.into(),
            message: e.to_string(),
        }
    }
}
