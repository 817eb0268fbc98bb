//! Access rights: LMS roles → rights → ClickHouse users, grants and row policies.
//!
//! Not implemented yet: this crate is filled by issue #8 (cairn-acl).
