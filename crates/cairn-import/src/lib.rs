//! Cairn's importers: sources → rows → ClickHouse, with checkpoints.
//!
//! - [`ingest`]: tracking logs (files, gzip, stdin, followed files) into `events`,
//!   exactly once;
//! - [`generate`]: a deterministic, realistic Tutor-format log and the matching LMS seed,
//!   for the demo, tests and benchmarks.

pub mod cli;
pub mod generate;
pub mod ingest;
