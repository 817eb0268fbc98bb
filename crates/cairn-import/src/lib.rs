//! Cairn's importers: sources → rows → ClickHouse, with checkpoints.
//!
//! - [`ingest`]: tracking logs (files, gzip, stdin, followed files) into `events`,
//!   exactly once;
//! - [`courses`]: course structure from OLX exports into `course_blocks`;
//! - [`backfill`]: answers derived for events stored before Cairn derived them;
//! - [`retention`]: monthly partitions of `events` older than the retention, dropped.
//!
//! The generated test data (`cairn fixtures generate`) is the `cairn-fixtures` crate.

#![warn(missing_docs)]

pub mod backfill;
pub mod cli;
pub mod courses;
pub mod ingest;
pub mod retention;
pub mod retired;
