//! Cross-crate end-to-end tests.

mod browser;
