//! Importers: tracking logs and course structure into ClickHouse, with checkpoints.
//!
//! Not implemented yet: this crate is filled by issues #6 (events) and #7 (courses).
