//! Platform server tests (one binary): ingest, transparency endpoints, access control for every role, the live
//! feed, OpenAPI snapshot, metrics and graceful shutdown. Each test runs its own server on port 0.

mod helpers;
mod world;

mod access;
mod dashboard;
mod demo;
mod feed;
mod go_live;
mod ingest;
mod rating;
mod site;
mod supervision;
mod transparency;
mod vault;
mod workforce;
