//! The crate's one integration-test binary; each concern is a module under `tests/gateway/`.
//!
//! * `corpus`: the 64 real packets of `shared/reference/hj212/corpus.json` and their verdicts.
//! * `seeds`: the committed fuzz seeds replayed through the fuzz oracle.
//! * `props`: property tests of the framer and parser.
//! * `service`: the running agent over real TCP and HTTP: 9014 after the durable write, rejections, limits,
//!   the JSON intake's errors, the signer chain across restarts.

#[path = "gateway/corpus.rs"]
mod corpus;
#[path = "gateway/props.rs"]
mod props;
#[path = "gateway/seeds.rs"]
mod seeds;
#[path = "gateway/service.rs"]
mod service;
