//! Open edX tracking-log events: bytes → lines → typed events → normalized rows.
//!
//! Not implemented yet: this crate is filled by issue #4 (cairn-events).
