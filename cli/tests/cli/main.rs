//! The `siteledger` command (one binary): the auditing commands against a server's data directory, quiet and while
//! the server keeps writing, and `serve --demo` starting the server with the demo city. Each test has its own
//! server and data directory.

mod helpers;

mod audit;
mod backup;
mod live_data_dir;
mod report_snapshots;
mod serve;
mod snapshot;
mod submit;
mod submit_attachments;
mod witness;
