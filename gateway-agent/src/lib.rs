//! `siteledger-gateway-agent`: SiteLedger's on-site collector (工地网关) for the 扬尘噪声监测, 起重机械安全监控,
//! 施工用电用水监测 and 远程视频监控 applications of 甬建发〔2020〕72号. Site monitors speak HJ 212-2017 over TCP;
//! cranes, hoists, meters and cameras post JSON to a local intake; the agent signs every reading at the edge into
//! its own hash chain, stores it durably, and forwards it to the platform's `POST /v1/events`. The chain, the durable
//! outbox and the uploader (batches, backoff with jitter, clock skew) are the producer library's
//! (`siteledger-client`), shared with `siteledger submit`, the demo and the bench.
//!
//! The protocol core is sans-I/O, in the style of tokio-rs/mini-redis `frame.rs`: parsers over byte slices that
//! answer *incomplete*, *one frame*, or *an error and how many bytes to skip*, with no sockets, clocks or threads
//! inside. The network service wraps them.
//!
//! | module | what |
//! |---|---|
//! | [`hj212`] | the HJ 212-2017 protocol core: CRC, framer, packet parser, deviations, replies, split packets |
//! | [`config`] | the TOML configuration: platform, identity, queue, listeners, devices |
//! | [`record`] | records built as the domain's payload types: HJ 212 → `env.hj212.data.v1` (units, times, deviation tokens), the heartbeat |
//! | (queue) | the durable queue is the client crate's outbox ([`siteledger_client::outbox`]: the signer chain and records in one SQLite transaction, group commit, the disk bound) |
//! | [`tcp`] | the HJ 212 TCP server (limits, 9014/9011/9012 after the durable write) |
//! | [`gb28181`] | the GB/T 28181 signalling core, sans-I/O (SIP, digest, MANSCDP, the platform and device roles) |
//! | [`video`] | the GB/T 28181 service: UDP and TCP on one address, `video.camera.status.v1`/`alarm.v1` records |
//! | [`intake`] | the JSON/HTTP intake for cranes, hoists, meters, cameras: bodies read into the domain's payload types |
//! | [`agent`] | all of the above started together ([`Agent::start`]) |
//! | [`simulate`] | simulated monitors (real HJ 212 over TCP), GB/T 28181 cameras and NVRs (real SIP over UDP/TCP) and devices (JSON intake) |
//!
//! Policy: what a real monitor does differently from the standard but can still be trusted is **accepted, recorded
//! as sent and flagged** ([`hj212::Deviation`]); what cannot be trusted (wrong CRC or length, unreadable `CN` or
//! `Flag`, conflicting values) is rejected with a typed error that says what, where and why.

pub mod agent;
pub mod config;
pub mod error;
pub mod gb28181;
pub mod hj212;
pub mod intake;
pub mod record;
pub mod simulate;
pub mod tcp;
pub mod video;

pub use agent::{Agent, AgentHandle};
pub use config::{AgentConfig, DeviceConfig, DeviceKind, ParticulateUnit};
pub use error::AgentError;
