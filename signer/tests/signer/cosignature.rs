//! The committed cosignature/v1 vectors (`signer/tests/vectors/cosignature-v1.json`, docs/FORMAT.md §9):
//! regenerated from fixed seeds and compared byte for byte; `SITELEDGER_UPDATE_VECTORS=1` rewrites them.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use siteledger_signer::bundle::{BUNDLE_FORMAT_V1_1, BUNDLE_FORMAT_V1_2, Bundle, CheckKind};
use siteledger_signer::cosignature::{
    CosignatureError, Cosigner, WitnessPolicy, WitnessVerifier, signed_message, verify_cosignatures,
};
use siteledger_signer::note::{Checkpoint, NoteVerifier};
use siteledger_signer::sample::SampleLog;
use siteledger_signer::{SigningKey, verify_bundle, verify_witnessed};

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

/// The version 1.2 bundle vector: `bundle-v1.json`'s records, proven into the checkpoint of size 12, which
/// witnesses w1 and w2 (of the three above) cosigned.
fn witnessed_bundle() -> (Bundle, Vec<WitnessVerifier>) {
    let log = SampleLog::new(13).expect("sample log");
    let mut b = log.bundle(&[5, 9], 12, Some(16)).expect("bundle");
    let text = Checkpoint::open(&b.checkpoint, &log.log.verifier(), true).expect("opens").to_text();
    let ws = witnesses();
    for (i, w) in ws.iter().take(2).enumerate() {
        b.checkpoint.push_str(&w.cosign(&text, TIME + i as u64).expect("cosign"));
    }
    b.format = BUNDLE_FORMAT_V1_2.to_owned();
    b.witnesses = Some(ws.iter().take(2).map(|w| w.verifier().vkey()).collect());
    (b, ws.iter().map(Cosigner::verifier).collect())
}

fn failed(report: &siteledger_signer::Report) -> Vec<String> {
    report.failures().map(|c| serde_json::to_value(c.check).expect("name").as_str().expect("str").to_owned()).collect()
}

#[test]
fn witnessed_bundle_meets_two_of_three_not_three_of_three_and_old_bundles_still_verify() {
    let (bundle, all) = witnessed_bundle();
    let bytes = bundle.to_bytes();
    let path = vectors_dir().join("bundle-v1.2.json");
    if std::env::var_os("SITELEDGER_UPDATE_VECTORS").is_some() {
        std::fs::write(&path, &bytes).expect("write");
    }
    assert_eq!(std::fs::read(&path).expect("bundle-v1.2.json committed"), bytes, "bundle v1.2 vector changed");
    let log_key = NoteVerifier::parse(&bundle.log_key).expect("vkey");

    let plain = verify_witnessed(&bytes, &log_key, None, None);
    assert!(plain.ok, "{}", plain.to_text());
    assert!(plain.checks.iter().any(|c| c.check == CheckKind::WitnessCosignature && c.ok));
    let two = WitnessPolicy::new(all.clone(), 2).expect("2 of 3");
    let r = verify_witnessed(&bytes, &log_key, None, Some(&two));
    assert!(r.ok, "{}", r.to_text());
    let three = WitnessPolicy::new(all.clone(), 3).expect("3 of 3");
    assert_eq!(failed(&verify_witnessed(&bytes, &log_key, None, Some(&three))), vec!["witness_policy"]);

    // Version 1 bundles verify as before without a policy, and cannot meet one (no cosignatures).
    let v1 = std::fs::read(vectors_dir().join("bundle-v1.json")).expect("v1");
    assert!(verify_bundle(&v1, &log_key).ok);
    assert_eq!(failed(&verify_witnessed(&v1, &log_key, None, Some(&two))), vec!["witness_policy"]);
    // A version 1.2 bundle is refused by name (format), never half-read, by the version 1.1 rules it extends.
    assert!(Bundle::parse(&bytes).is_ok());
}

#[test]
fn witnessed_bundle_tampering_is_named_by_the_failed_check() {
    let (bundle, all) = witnessed_bundle();
    let log_key = NoteVerifier::parse(&bundle.log_key).expect("vkey");
    let check = |b: &Bundle| failed(&verify_witnessed(&b.to_bytes(), &log_key, None, None));
    // A cosignature line by a witness the bundle does not list: nothing unverified rides along.
    let mut b = bundle.clone();
    let text = Checkpoint::open(&b.checkpoint, &log_key, false).expect("opens").to_text();
    b.checkpoint.push_str(&witnesses()[2].cosign(&text, TIME).expect("cosign"));
    assert_eq!(check(&b), vec!["checkpoint_signature"]);
    // A listed witness that did not cosign.
    let mut b = bundle.clone();
    b.witnesses.as_mut().expect("list").push(all[2].vkey());
    assert_eq!(check(&b), vec!["witness_cosignature"]);
    // A cosignature's timestamp changed after signing.
    let mut b = bundle.clone();
    let line_start = b.checkpoint.rfind('\u{2014}').expect("line");
    let (head, line) = b.checkpoint.split_at(line_start);
    let (name, sig) = line.trim_end().rsplit_once(' ').expect("sig");
    let mut blob = B64.decode(sig).expect("b64");
    blob[11] ^= 1;
    b.checkpoint = format!("{head}{name} {}\n", B64.encode(blob));
    assert_eq!(check(&b), vec!["witness_cosignature"]);
    // The witnesses member in a version 1.1 bundle, and a version 1.2 bundle without it: not bundles at all.
    let mut b = bundle.clone();
    b.format = BUNDLE_FORMAT_V1_1.to_owned();
    assert_eq!(check(&b), vec!["bundle_format"]);
    let mut b = bundle;
    b.witnesses = None;
    assert_eq!(check(&b), vec!["bundle_format"]);
}

#[test]
fn siteledger_verify_applies_a_witness_policy_from_the_command_line() {
    let (bundle, all) = witnessed_bundle();
    let path = vectors_dir().join("bundle-v1.2.json");
    let run = |k: &str| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_siteledger-verify"));
        cmd.arg(&path).arg("--log-key").arg(&bundle.log_key);
        for w in &all {
            cmd.arg("--witness").arg(w.vkey());
        }
        cmd.arg("--witness-threshold").arg(k);
        cmd.output().expect("run siteledger-verify")
    };
    let ok = run("2");
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&ok.stdout),
        String::from_utf8_lossy(&ok.stderr)
    );
    let out = run("3");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 of the required 3"));
    assert_eq!(run("4").status.code(), Some(2), "a threshold above the witnesses named is a usage error");
}
