//! Fuzz target: arbitrary bytes through the GB/T 28181 stream oracle (`gb28181::fuzz::fuzz_stream`), which panics when an
//! invariant breaks; the crate's `gb28181::fuzz` tests replay the committed seeds in `corpus/gb28181_stream/`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use siteledger_gateway_agent::gb28181::fuzz::fuzz_stream;

fuzz_target!(|data: &[u8]| {
    let _ = fuzz_stream(data);
});
