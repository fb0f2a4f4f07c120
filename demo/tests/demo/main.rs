//! The demo city against the real server (one binary): each test runs its own server on port 0 with its own data
//! directory and its own demo, drives the demo's steps itself and waits on conditions; nothing is shared between
//! tests, so they pass side by side in one process (`cargo test`) as in separate ones (nextest).

mod helpers;

mod bench_read_only;
mod city;
mod citysim;
mod live;
mod rating;
mod supervision;
mod tokens;
mod workforce;
