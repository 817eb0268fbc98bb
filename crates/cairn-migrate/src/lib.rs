//! Migrations: files → rendered statements → applied state.
//!
//! Not implemented yet: this crate is filled by issue #5 (cairn-migrate).
