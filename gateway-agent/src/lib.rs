//! `siteledger-gateway-agent`: SiteLedger's on-site collector (工地网关) for the 扬尘噪声监测 application of
//! 甬建发〔2020〕72号. Site monitors speak HJ 212-2017 over TCP; the agent frames and checks their packets, answers
//! them, and (in later steps) signs readings into the ledger with store-and-forward.
//!
//! This crate is built sans-I/O first, in the style of tokio-rs/mini-redis `frame.rs`: parsers over byte slices
//! that answer *incomplete*, *one frame*, or *an error and how many bytes to skip*, with no sockets, clocks or
//! threads inside. The network service wraps them.
//!
//! | module | what |
//! |---|---|
//! | [`hj212`] | the HJ 212-2017 protocol core: CRC, framer, packet parser, deviations, replies, split packets |
//!
//! Policy: what a real monitor does differently from the standard but can still be trusted is **accepted, recorded
//! as sent and flagged** ([`hj212::Deviation`]); what cannot be trusted (wrong CRC or length, unreadable `CN` or
//! `Flag`, conflicting values) is rejected with a typed error that says what, where and why, and the raw bytes are
//! the caller's to keep with the reason.

pub mod hj212;
