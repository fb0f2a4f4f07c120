//! Cross-crate end-to-end tests.

mod attachments;
mod browser;
mod gateway_agent;
mod people;
mod people_forms;
mod sm2_enterprise;
