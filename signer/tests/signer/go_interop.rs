//! Interoperability: checkpoints and proofs produced by this crate verify with Go's reference implementation
//! (`golang.org/x/mod/sumdb/note` and `sumdb/tlog`, from Debian's golang-golang-x-mod-dev), and tampered ones do not.
//! See signer/tests/interop/README.md for the checker and its offline build.

use std::path::Path;
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use siteledger_signer::sample::SampleLog;

fn run(bin: &Path, input: &Value, dir: &Path) -> (i32, String) {
    let path = dir.join("input.json");
    std::fs::write(&path, serde_json::to_vec(input).expect("json")).expect("write");
    let out = Command::new(bin).arg(&path).output().expect("run checker");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

fn b64(h: &[u8]) -> String {
    B64.encode(h)
}

#[test]
fn go_sumdb_verifies_our_checkpoints_and_proofs() {
    let dir = tempfile::tempdir().expect("tmp");
    let bin = siteledger_testkit::go_interop_checker(dir.path()).expect("Go checker builds");
    let log = SampleLog::new(200).expect("log");
    let size = log.tree.size();
    let leaves: Vec<String> = log.envelopes.iter().map(|e| b64(e.leaf_bytes())).collect();
    let inclusion: Vec<Value> = (0..size)
        .map(|i| json!({"index": i, "hashes": log.tree.inclusion_proof(i, size).expect("proof").iter().map(|h| b64(h)).collect::<Vec<_>>()}))
        .collect();
    let consistency: Vec<Value> = [1u64, 2, 3, 7, 8, 64, 100, 150, size - 1, size]
        .iter()
        .map(|&m| {
            json!({
                "old_size": m,
                "old_root": b64(&log.tree.root_at(m).expect("root")),
                "hashes": log.tree.consistency_proof(m, size).expect("proof").iter().map(|h| b64(h)).collect::<Vec<_>>(),
            })
        })
        .collect();
    let input = json!({
        "vkey": log.log.verifier().vkey(),
        "checkpoint": log.checkpoint(size).expect("checkpoint"),
        "leaves": leaves,
        "inclusion": inclusion,
        "consistency": consistency,
    });
    let (code, out) = run(&bin, &input, dir.path());
    assert_eq!(code, 0, "Go rejected our log:\n{out}");
    let last = out.lines().last().unwrap_or_default();
    assert!(last.starts_with("OK "), "{out}");
    let checks: usize = last.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(checks as u64 >= size + 10, "{last}");

    // The same checker rejects tampering, so the pass above means something.
    let mut bad = input.clone();
    bad["inclusion"][5]["hashes"][0] = json!(b64(&[0u8; 32]));
    let (code, out) = run(&bin, &bad, dir.path());
    assert_eq!(code, 1, "a wrong inclusion hash must fail:\n{out}");
    let mut bad = input.clone();
    bad["checkpoint"] = json!(input["checkpoint"].as_str().expect("note").replacen(
        &format!("\n{size}\n"),
        &format!("\n{}\n", size + 1),
        1
    ));
    let (code, out) = run(&bin, &bad, dir.path());
    assert_eq!(code, 1, "an altered checkpoint must fail:\n{out}");
    let mut bad = input;
    bad["consistency"][3]["old_root"] = json!(b64(&[1u8; 32]));
    let (code, out) = run(&bin, &bad, dir.path());
    assert_eq!(code, 1, "a wrong old root must fail:\n{out}");
}

/// Go's `sumdb/note` still opens a cosigned checkpoint with the log key (the witness lines land in its
/// `UnverifiedSigs`: it knows no key type 0x04), and Go's `crypto/ed25519` verifies each witness line over the
/// cosignature/v1 message, from the committed vectors; a line altered after signing fails there too.
#[test]
fn go_verifies_witness_cosignatures_over_the_cosignature_v1_message() {
    let dir = tempfile::tempdir().expect("tmp");
    let bin = siteledger_testkit::go_interop_checker(dir.path()).expect("Go checker builds");
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(crate::vectors::vectors_dir().join("cosignature-v1.json")).expect("vectors"),
    )
    .expect("json");
    let witnesses: Vec<Value> = doc["witnesses"].as_array().expect("w").iter().map(|w| w["vkey"].clone()).collect();
    let input = json!({
        "vkey": doc["log_key"],
        "checkpoint": doc["cosigned_checkpoint"],
        "witnesses": witnesses,
    });
    let (code, out) = run(&bin, &input, dir.path());
    assert_eq!(code, 0, "Go rejected the cosignatures:\n{out}");
    assert_eq!(out.matches("verified with crypto/ed25519").count(), 3, "{out}");
    let bad = json!({
        "vkey": doc["log_key"],
        "checkpoint": doc["invalid"][0]["note"],
        "witnesses": [witnesses[0].clone()],
    });
    let (code, out) = run(&bin, &bad, dir.path());
    assert_eq!(code, 1, "an altered cosignature must fail in Go too:\n{out}");
}
