//! The crate's one integration-test binary; each concern is a module under `tests/gateway/`.
//!
//! * `attachments`: the local `POST /v1/blobs`, and records citing files the agent holds (or does not).
//! * `corpus`: the 64 real packets of `tests/fixtures/hj212/corpus.json` and their verdicts.
//! * `guide`: every curl body of `docs/PRODUCERS.md` is acknowledged by an agent whose role may sign it.
//! * `intake`: the local intake's bearer token on every route, and `POST /v1/records` (201, 422, 403, 400, 413).
//! * `seeds`: the committed fuzz seeds replayed through the fuzz oracle.
//! * `producers`: the agent examples in `docs/agent-examples/` load, and the kinds table of `docs/PRODUCERS.md` is
//!   rendered from the domain's signer table.
//! * `props`: property tests of the framer and parser.
//! * `records`: the records the agent signs (HJ 212 data, intake records, heartbeats) against golden files.
//! * `service`: the running agent over real TCP and HTTP: 9014 after the durable write, rejections, limits,
//!   the JSON intake's errors, the signer chain across restarts.
//! * `video`: GB/T 28181 cameras and an NVR (the device role) over real UDP and TCP: digest registration, a wrong
//!   password, keepalives, a 4-channel catalog, an alarm, going offline and coming back, malformed input.

#[path = "gateway/attachments.rs"]
mod attachments;
#[path = "gateway/corpus.rs"]
mod corpus;
#[path = "gateway/guide.rs"]
mod guide;
#[path = "gateway/intake.rs"]
mod intake;
#[path = "gateway/producers.rs"]
mod producers;
#[path = "gateway/props.rs"]
mod props;
#[path = "gateway/records.rs"]
mod records;
#[path = "gateway/seeds.rs"]
mod seeds;
#[path = "gateway/service.rs"]
mod service;
#[path = "gateway/video.rs"]
mod video;
