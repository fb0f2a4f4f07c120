//! HTTP handlers, one module per area.

pub mod blobs;
pub mod feed;
pub mod ingest;
pub mod log;
pub mod ops;
pub mod query;
pub mod rating;
pub mod site;
pub mod supervision;
pub mod workforce;
