//! Cairn's migrations: files → rendered statements → applied state.
//!
//! Migrations are minijinja templates of ClickHouse SQL: the built-in ones (Cairn's
//! data-lake schema, embedded) plus every `*.sql` of the folders in
//! `CAIRN_MIGRATIONS_FOLDER`, applied in name order. Applied state lives in `_migrations`
//! in the target database (Tutor Cairn's table, with checksum and per-statement progress
//! added), guarded by a lock so two `up` never apply the same migration.
//!
//! ```
//! let stmts = cairn_migrate::split::split_statements("SELECT ';'; SELECT 2 -- two;");
//! assert_eq!(stmts, vec!["SELECT ';'", "SELECT 2 -- two;"]);
//! ```

#![warn(missing_docs)]

use std::path::PathBuf;

pub mod cli;
pub mod cluster;
pub mod dictionary;
pub mod engine;
pub mod lock;
pub mod render;
pub mod source;
pub mod split;
pub mod testing;

pub use engine::{Migrator, StatusRow, UpOptions, UpReport};
pub use source::{Migration, Origin};

/// Everything that can go wrong while migrating.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// Connecting or a bookkeeping query failed.
    #[error(transparent)]
    Core(#[from] cairn_core::Error),
    /// A migrations folder cannot be read.
    #[error("migrations folder {path}: {message}")]
    Folder {
        /// The folder or file.
        path: PathBuf,
        /// The I/O error.
        message: String,
    },
    /// Two migration files have the same name.
    #[error("two migrations named {name}: {first} and {second}")]
    Duplicate {
        /// The file name.
        name: String,
        /// One file.
        first: String,
        /// The other.
        second: String,
    },
    /// A template does not render.
    #[error("{file}:{line}: template error: {message}")]
    Template {
        /// The migration file.
        file: String,
        /// Line in the template.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A statement failed on the server; the file got as far as `number - 1`.
    #[error("{file}: statement {number} of {total} failed: {message}")]
    Statement {
        /// The migration file.
        file: String,
        /// 1-based number of the failing statement.
        number: usize,
        /// Statements in the file.
        total: usize,
        /// The server's message.
        message: String,
    },
    /// Applied migrations changed since they were applied.
    #[error("applied migrations changed since they were applied (drift): {}; pass --allow-drift to go on", .0.join(", "))]
    Drift(Vec<String>),
    /// Another `up` holds the lock.
    #[error(
        "migrations are locked by {owner} since {since} (until {until}); try again later, or `unlock` if it died"
    )]
    Locked {
        /// Who holds it.
        owner: String,
        /// Since when (server time).
        since: String,
        /// When it expires.
        until: String,
    },
    /// `--to` names no known migration.
    #[error("no migration named {0}")]
    UnknownTarget(String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

impl MigrateError {
    /// The process exit code for this error: 3 drift, 4 locked, 5 template, 6 statement, 1 else.
    pub fn exit_code(&self) -> u8 {
        match self {
            MigrateError::Drift(_) => 3,
            MigrateError::Locked { .. } => 4,
            MigrateError::Template { .. } => 5,
            MigrateError::Statement { .. } => 6,
            _ => 1,
        }
    }
}
