//! HTTP handlers, one module per area.

pub mod ingest;
pub mod log;
pub mod query;
