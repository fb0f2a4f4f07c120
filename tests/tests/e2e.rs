//! Cross-crate end-to-end tests.

mod browser;
mod gateway_agent;
mod people;
