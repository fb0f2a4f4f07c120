//! The committed cosignature/v1 vectors (`signer/tests/vectors/cosignature-v1.json`, docs/FORMAT.md §9):
//! regenerated from fixed seeds and compared byte for byte; `SITELEDGER_UPDATE_VECTORS=1` rewrites them.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use siteledger_signer::SigningKey;
use siteledger_signer::cosignature::{
    CosignatureError, Cosigner, WitnessPolicy, WitnessVerifier, signed_message, verify_cosignatures,
};
use siteledger_signer::note::{Checkpoint, NoteVerifier};
use siteledger_signer::sample::SampleLog;

use crate::vectors::vectors_dir;

const WITNESS_SEEDS: [u8; 3] = [0x41, 0x42, 0x43];
const TIME: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z

fn witnesses() -> Vec<Cosigner> {
    WITNESS_SEEDS
        .iter()
        .enumerate()
        .map(|(i, s)| {
            Cosigner::new(&format!("witness.example/w{}", i + 1), SigningKey::from_seed(&[*s; 32])).expect("w")
        })
        .collect()
}

/// The vector document: the sample log's checkpoint at size 13 cosigned by three witnesses, and broken lines.
fn build() -> Value {
    let log = SampleLog::new(13).expect("sample log");
    let size = log.tree.size();
    let note = log.checkpoint(size).expect("checkpoint");
    let text = Checkpoint::open(&note, &log.log.verifier(), true).expect("opens").to_text();
    let ws = witnesses();
    let lines: Vec<String> =
        ws.iter().enumerate().map(|(i, w)| w.cosign(&text, TIME + i as u64).expect("cosign")).collect();
    let cosigned = format!("{note}{}", lines.concat());
    // A line whose timestamp was changed after signing, and one with a key id of the log-key type (0x01).
    let mut blob = B64.decode(lines[0].trim_end().rsplit(' ').next().expect("b64")).expect("b64");
    blob[11] ^= 1;
    let retimed = format!("{note}\u{2014} witness.example/w1 {}\n", B64.encode(&blob));
    json!({
        "witnesses": ws.iter().zip(WITNESS_SEEDS).map(|(w, s)| json!({
            "name": w.name(),
            "seed": hex::encode([s; 32]),
            "public_key": w.verifier().key().to_base64(),
            "key_id": hex::encode(w.verifier().key_id()),
            "vkey": w.verifier().vkey(),
        })).collect::<Vec<_>>(),
        "log_key": log.log.verifier().vkey(),
        "checkpoint": note,
        "cosignatures": ws.iter().zip(&lines).enumerate().map(|(i, (w, l))| json!({
            "witness": w.name(),
            "time": TIME + i as u64,
            "signed_message": String::from_utf8(signed_message(&text, TIME + i as u64)).expect("utf8"),
            "line": l,
        })).collect::<Vec<_>>(),
        "cosigned_checkpoint": cosigned,
        "invalid": [
            {"name": "timestamp_changed_after_signing", "note": retimed, "witness": "witness.example/w1"},
        ],
    })
}

#[test]
fn committed_cosignature_vectors_match_the_code() {
    let doc = build();
    let mut text = serde_json::to_string_pretty(&doc).expect("json");
    text.push('\n');
    let path = vectors_dir().join("cosignature-v1.json");
    if std::env::var_os("SITELEDGER_UPDATE_VECTORS").is_some() {
        std::fs::write(&path, &text).expect("write");
    }
    let committed =
        std::fs::read_to_string(&path).expect("vectors committed (run with SITELEDGER_UPDATE_VECTORS=1 once)");
    assert_eq!(committed, text, "cosignature vectors changed: a format change needs a version bump");

    // The committed file verifies: the log key still opens the cosigned note strictly-by-name (old verifiers
    // ignore the witness lines), and the three cosignatures meet a 3-of-3 policy.
    let doc: Value = serde_json::from_str(&committed).expect("json");
    let cosigned = doc["cosigned_checkpoint"].as_str().expect("note");
    let log_key = NoteVerifier::parse(doc["log_key"].as_str().expect("key")).expect("vkey");
    Checkpoint::open(cosigned, &log_key, false).expect("the log signature still verifies");
    let vs: Vec<WitnessVerifier> = doc["witnesses"]
        .as_array()
        .expect("witnesses")
        .iter()
        .map(|w| WitnessVerifier::parse(w["vkey"].as_str().expect("vkey")).expect("parses"))
        .collect();
    let got = WitnessPolicy::new(vs.clone(), 3).expect("policy").check(cosigned).expect("3 of 3");
    assert_eq!(got.iter().map(|c| c.time).collect::<Vec<_>>(), vec![TIME, TIME + 1, TIME + 2]);
    for case in doc["invalid"].as_array().expect("cases") {
        let r = verify_cosignatures(case["note"].as_str().expect("note"), &vs);
        assert_eq!(r, Err(CosignatureError::BadSignature(case["witness"].as_str().expect("w").to_owned())));
    }
}
