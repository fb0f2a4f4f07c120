//! The SiteLedger platform server as a library: the open data API, access control, live feed, transparency
//! endpoints, projections runtime, ratings and reports, and the bureau dashboard. The `siteledger` command
//! (`cli/`) runs it; the simulated demo city and the load bench (`demo/`) drive it from outside, through its
//! HTTP API and this library's public types, so the server does not link them.
//!
//! Layout (each module depends only on those listed before it, and `server` on all):
//! * [`error`], [`config`], [`node`] (key files), [`metrics`] (HTTP-level counters), [`policy`] (the domain rules
//!   plugged into the ledger's ingest path), [`ratings`] → [`evidence`] → [`replay`], [`reports`].
//! * [`auth`]: tokens (hashed, expiring, revocable), roles and scopes, and the caller extractors; [`feed`]: the
//!   live feed's hub; [`vault`]: the personal-data vault of 实名制; [`blobs`]: the attachment store (附件).
//! * [`state`]: the state every handler gets (built of the modules above; it knows no handler).
//! * [`extract`]: extractors with JSON errors; [`routes`]: the handlers, one module per area (ingest, transparency,
//!   feed, queries, operations, workforce, site, supervision, rating); [`dashboard`]: server-rendered Chinese pages.
//! * [`people`]: people sign in the browser (personal keys, enrolment requests, challenge sign-in, forms).
//! * [`openapi`]: the OpenAPI 3.1 document; [`server`]: builds the state and the router; graceful shutdown.

pub mod answers;
pub mod auth;
pub mod blobs;
pub mod config;
pub mod dashboard;
pub mod error;
pub mod evidence;
pub mod extract;
pub mod feed;
pub mod metrics;
pub mod node;
pub mod openapi;
pub mod people;
pub mod ratings;
pub mod replay;
pub mod reports;
pub mod routes;
pub mod server;
mod sql;
pub mod state;
pub mod timestamping;
pub mod vault;
pub mod witnessing;
