//! The committed format vectors (`signer/tests/vectors/`): regenerated from the code and compared byte for byte.
//! Set `SITELEDGER_UPDATE_VECTORS=1` to rewrite them after a deliberate, versioned format change.

use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use siteledger_signer::canonical::{parse_strict, to_canonical};
use siteledger_signer::note::NoteVerifier;
use siteledger_signer::sample::SampleLog;
use siteledger_signer::verify_bundle;

pub fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

/// Builds the vector document and the bundle file from the sample log.
pub fn build() -> (Value, Vec<u8>) {
    let log = SampleLog::new(13).expect("sample log");
    let n = log.tree.size();
    let keys = [("city_bureau", 0x21u8, &log.city), ("district_bureau", 0x22, &log.district), ("gateway", 0x23, &log.gateway)];
    let keys: Vec<Value> = keys
        .iter()
        .map(|(role, seed, s)| {
            json!({
                "role": role,
                "seed": hex::encode([*seed; 32]),
                "public_key": s.key.public().to_base64(),
                "key_id": s.key.key_id().to_string(),
            })
        })
        .collect();
    let envelopes: Vec<Value> = log
        .envelopes
        .iter()
        .take(6)
        .enumerate()
        .map(|(i, e)| {
            let msg = e.signed_message();
            json!({
                "index": i,
                "envelope": e.to_value(),
                "signed_message": hex::encode(msg),
                "signature": B64.encode(e.signature()),
                "leaf": hex::encode(e.leaf_bytes()),
                "leaf_hash": hex::encode(e.leaf_hash()),
            })
        })
        .collect();
    let roots: Vec<Value> = (0..=n)
        .map(|s| json!({"size": s, "root": hex::encode(log.tree.root_at(s).expect("root"))}))
        .collect();
    let mut inclusion = Vec::new();
    for &(i, s) in &[(0u64, 1u64), (0, n), (3, n), (n - 1, n), (5, 8), (6, 7)] {
        let p = log.tree.inclusion_proof(i, s).expect("proof");
        inclusion.push(json!({"index": i, "size": s, "leaf_hash": hex::encode(log.envelopes[i as usize].leaf_hash()), "proof": p.iter().map(hex::encode).collect::<Vec<_>>()}));
    }
    let mut consistency = Vec::new();
    for &(m, s) in &[(1u64, n), (4, n), (7, n), (8, 13), (n, n)] {
        let p = log.tree.consistency_proof(m, s).expect("proof");
        consistency.push(json!({"old_size": m, "new_size": s, "proof": p.iter().map(hex::encode).collect::<Vec<_>>()}));
    }
    let note = log.checkpoint(n).expect("checkpoint");
    let bundle = log.bundle(&[5, 9], 12, Some(n)).expect("bundle").to_bytes();
    let canonical_cases: Vec<Value> = [
        r#"{"b":2,"a":1,"c":{"z":[3,{"y":null,"x":true}],"w":false}}"#,
        "{\"\u{20ac}\":1,\"\\r\":2,\"\u{fb33}\":3,\"\u{1d11e}\":4,\"1\":5,\"\u{80}\":6,\"\u{f6}\":7}",
        r#"{"s":"tab\there \"quoted\" back\\slash \u0001 \u001f \u007f / é 工地 😀","n":-9007199254740991,"m":9007199254740991,"z":0}"#,
        r#"  [ 1 , "x" , { } , [ ] ]  "#,
    ]
    .iter()
    .map(|input| {
        let v = parse_strict(input.as_bytes()).expect("valid");
        json!({"input": input, "canonical": String::from_utf8(to_canonical(&v)).expect("utf8")})
    })
    .collect();
    let rejected_json = [r#"{"a":1,"a":1}"#, r#"{"a":1.5}"#, r#"{"a":1e3}"#, r#"{"a":9007199254740992}"#, r#"{"a":1.0}"#];
    let doc = json!({
        "description": "SiteLedger format v1 test vectors; see docs/FORMAT.md and signer/tests/vectors/README.md",
        "format_version": 1,
        "canonical_json": canonical_cases,
        "rejected_json": rejected_json,
        "keys": keys,
        "envelopes": envelopes,
        "tree": {"leaf_count": n, "roots": roots},
        "inclusion_proofs": inclusion,
        "consistency_proofs": consistency,
        "checkpoint": {
            "log_key": log.log.verifier().vkey(),
            "log_seed": hex::encode([0x10u8; 32]),
            "size": n,
            "root": hex::encode(log.tree.root()),
            "note": note,
        },
        "bundle": {"file": "bundle-v1.json", "trusted_log_key": log.log.verifier().vkey(), "valid": true},
    });
    (doc, bundle)
}

#[test]
fn committed_vectors_match_the_code() {
    let (doc, bundle) = build();
    let mut text = serde_json::to_string_pretty(&doc).expect("json");
    text.push('\n');
    let dir = vectors_dir();
    if std::env::var_os("SITELEDGER_UPDATE_VECTORS").is_some() {
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("v1.json"), &text).expect("write");
        std::fs::write(dir.join("bundle-v1.json"), &bundle).expect("write");
    }
    let committed = std::fs::read_to_string(dir.join("v1.json")).expect("vectors committed (run with SITELEDGER_UPDATE_VECTORS=1 once)");
    assert_eq!(committed, text, "format vectors changed: a format change needs a version bump");
    let committed_bundle = std::fs::read(dir.join("bundle-v1.json")).expect("bundle committed");
    assert_eq!(committed_bundle, bundle);
    let report = verify_bundle(&committed_bundle, &NoteVerifier::parse(doc["bundle"]["trusted_log_key"].as_str().expect("key")).expect("vkey"));
    assert!(report.ok, "{}", report.to_text());
}
