//! Fuzz target: arbitrary bytes through the GB/T 28181 state-file oracle (`gb28181::fuzz::fuzz_state`), which panics
//! when an invariant breaks; the crate's `gb28181::fuzz` tests replay the committed seeds in `corpus/gb28181_state/`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use siteledger_gateway_agent::gb28181::fuzz::fuzz_state;

fuzz_target!(|data: &[u8]| {
    let _ = fuzz_state(data);
});
