//! Helpers for the cross-crate end-to-end tests.
