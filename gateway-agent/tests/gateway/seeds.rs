//! Replays the committed fuzz seeds (`fuzz/corpus/hj212_frame/`) through the fuzz oracle, so CI exercises them
//! without cargo-fuzz or nightly. Seeds named `good-*` must be nothing but accepted packets; `bad-*` must contain
//! at least one rejection; the rest only must not break an invariant.

use std::path::PathBuf;

use siteledger_gateway_agent::hj212::Scanned;
use siteledger_gateway_agent::hj212::stream::fuzz_one;

#[test]
fn fuzz_seeds_replay() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/hj212_frame");
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap_or_else(|e| panic!("{}: {e}", dir.display())).path())
        .collect();
    entries.sort();
    assert!(entries.len() >= 10, "expected the committed seeds in {}", dir.display());
    let (mut good, mut bad) = (0, 0);
    for path in &entries {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let scanned = fuzz_one(&bytes);
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let rejected: Vec<_> = scanned.iter().filter(|s| matches!(s, Scanned::Rejected { .. })).collect();
        if name.starts_with("good-") {
            assert!(!scanned.is_empty() && rejected.is_empty(), "{name}: {rejected:?}");
            good += 1;
        } else if name.starts_with("bad-") {
            assert!(!rejected.is_empty(), "{name}: nothing rejected");
            bad += 1;
        }
    }
    println!("replayed {} fuzz seeds ({good} good, {bad} bad)", entries.len());
}
