//! The SiteLedger platform server: the open data API, access control, live feed, transparency endpoints,
//! projections runtime and the bureau dashboard, plus the `siteledger` command-line tool (`main.rs`).
//!
//! Layout:
//! * [`server`]: builds the state (stores, keys, ledger, read models, feed) and the router; graceful shutdown.
//! * [`routes`]: ingest (`POST /v1/events`), transparency (`/v1/log/*`, `/v1/evidence/*`), scoped queries.
//! * [`feed`]: `GET /v1/feed`, Server-Sent Events with resume.
//! * [`auth`]: tokens (hashed, expiring, revocable), roles and scopes.
//! * [`policy`]: the domain rules plugged into the ledger's ingest path.
//! * [`dashboard`]: server-rendered Chinese pages; [`demo`]: the simulated city.
//! * [`openapi`]: the OpenAPI 3.1 document; [`metrics`]: Prometheus text.

pub mod admin;
pub mod audit_cli;
pub mod auth;
pub mod bench;
pub mod config;
pub mod dashboard;
pub mod demo;
pub mod error;
pub mod evidence;
pub mod extract;
pub mod feed;
pub mod metrics;
pub mod node;
pub mod openapi;
pub mod policy;
pub mod ratings;
pub mod replay;
pub mod reports;
pub mod routes;
pub mod server;
pub mod state;
pub mod vault;
