//! Cross-crate end-to-end tests.

mod attachments;
mod browser;
mod court;
mod gateway_agent;
mod people;
mod people_forms;
