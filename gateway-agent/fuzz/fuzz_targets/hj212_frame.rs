//! Fuzz target: arbitrary bytes through the HJ 212 framer and packet parser, as one stream and byte by byte.
//! The oracle (`stream::fuzz_one`) panics when an invariant breaks; the crate's `seeds` test replays the
//! committed seeds in `corpus/hj212_frame/` through the same function.
#![no_main]

use libfuzzer_sys::fuzz_target;
use siteledger_gateway_agent::hj212::stream::fuzz_one;

fuzz_target!(|data: &[u8]| {
    fuzz_one(data);
});
