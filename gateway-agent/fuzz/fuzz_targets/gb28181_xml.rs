//! Fuzz target: arbitrary bytes through the GB/T 28181 xml oracle (`gb28181::fuzz::fuzz_xml`), which panics when an
//! invariant breaks; the crate's `gb28181::fuzz` tests replay the committed seeds in `corpus/gb28181_xml/`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use siteledger_gateway_agent::gb28181::fuzz::fuzz_xml;

fuzz_target!(|data: &[u8]| {
    let _ = fuzz_xml(data);
});
