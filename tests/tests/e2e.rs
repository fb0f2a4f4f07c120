//! Cross-crate end-to-end tests.

mod attachments;
mod browser;
mod browser_sm2;
mod court;
mod gateway_agent;
mod gb28181;
mod people;
mod people_forms;
mod sm2_enterprise;
