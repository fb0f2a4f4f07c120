//! Fuzz target: `POST /v1/events` bodies through the server's own reader (`siteledger_signer::batch`), with the
//! invariants of `../invariants.rs` (no panic, canonical leaves, single and batch verdicts equal, the time,
//! duplicate-name and number rules hold for every accepted envelope).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../invariants.rs"]
mod invariants;

fuzz_target!(|data: &[u8]| {
    let _ = invariants::check(data);
});
