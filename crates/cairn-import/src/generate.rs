//! Generator: filled next.
