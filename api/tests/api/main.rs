//! Platform server tests (one binary): ingest, transparency endpoints, access control for every role, the live
//! feed, OpenAPI snapshot, metrics and graceful shutdown, and what a hostile client tried (issue 12). Each test runs its own server on port 0.

mod helpers;
mod world;

mod access;
mod access_matrix;
mod blobs;
mod dashboard;
mod demo_tokens;
mod feed;
mod go_live;
mod hostile;
mod ingest;
mod paging;
mod people;
mod rating;
mod rating_snapshots;
mod site;
mod supervision;
mod timestamps;
mod transparency;
mod vault;
mod witnesses;
mod workforce;
