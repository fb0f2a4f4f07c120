//! `siteledger-verify` end to end: the real binary on good and tampered bundles.

use std::path::Path;
use std::process::{Command, Output};

use crate::vectors::vectors_dir;

fn verify(bundle: &Path, vkey: &str, json: bool) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_siteledger-verify"));
    cmd.arg(bundle).arg("--log-key").arg(vkey);
    if json {
        cmd.arg("--json");
    }
    cmd.output().expect("run siteledger-verify")
}

/// The names of the failed checks of a `--json` report.
fn failed_checks(report: &serde_json::Value) -> Vec<&str> {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| c["check"].as_str().expect("name"))
        .collect()
}

fn committed() -> (Vec<u8>, String) {
    let dir = vectors_dir();
    let bundle = std::fs::read(dir.join("bundle-v1.json")).expect("bundle");
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("v1.json")).expect("vectors")).expect("json");
    (bundle, v["bundle"]["trusted_log_key"].as_str().expect("key").to_owned())
}

#[test]
fn accepts_the_committed_bundle_and_prints_a_readable_verdict() {
    let (_, vkey) = committed();
    let out = verify(&vectors_dir().join("bundle-v1.json"), &vkey, false);
    let text = String::from_utf8(out.stdout).expect("utf8");
    assert_eq!(out.status.code(), Some(0), "{text}");
    insta::assert_snapshot!("verify_ok_text", text);
    let out = verify(&vectors_dir().join("bundle-v1.json"), &vkey, true);
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json report");
    assert_eq!(report["ok"], true);
    insta::assert_json_snapshot!("verify_ok_json", report);
}

#[test]
fn tampering_is_named_by_the_failed_check() {
    let (bundle, vkey) = committed();
    let text = String::from_utf8(bundle).expect("utf8");
    let dir = tempfile::tempdir().expect("tmp");
    // (what we change, the check that must fail)
    let cases = [
        ("\"pm10_ug_m3\":\"46.6\"", "\"pm10_ug_m3\":\"26.6\"", "signature"),
        ("\"index\":9}", "\"index\":8}", "inclusion"),
        (r"siteledger.example/ningbo/log\n12\n", r"siteledger.example/ningbo/log\n11\n", "checkpoint_signature"),
    ];
    for (from, to, check) in cases {
        assert!(text.contains(from), "fixture lacks {from}");
        let path = dir.path().join("tampered.json");
        std::fs::write(&path, text.replacen(from, to, 1)).expect("write");
        let out = verify(&path, &vkey, true);
        assert_eq!(out.status.code(), Some(1), "{from} → {to}");
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        let failed = failed_checks(&report);
        assert!(failed.contains(&check), "{from} → {to}: failed {failed:?}");
        let human = verify(&path, &vkey, false);
        let human = String::from_utf8(human.stdout).expect("utf8");
        assert!(human.contains("结论：核验失败") && human.contains("VERDICT: FAILED"), "{human}");
    }
}

#[test]
fn a_reformatted_bundle_is_rejected_as_altered() {
    let (bundle, vkey) = committed();
    let v: serde_json::Value = serde_json::from_slice(&bundle).expect("json");
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("pretty.json");
    std::fs::write(&path, serde_json::to_string_pretty(&v).expect("pretty")).expect("write");
    let out = verify(&path, &vkey, false);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("canonical form"));
}

#[test]
fn wrong_log_key_and_usage_errors() {
    let (_, vkey) = committed();
    let other = siteledger_signer::NoteSigner::new(
        "siteledger.example/ningbo/log",
        siteledger_signer::SigningKey::from_seed(&[0x55; 32]),
    )
    .expect("signer")
    .verifier()
    .vkey();
    assert_ne!(other, vkey);
    let out = verify(&vectors_dir().join("bundle-v1.json"), &other, false);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("日志公钥 / log key") && text.contains("checkpoint signature"), "{text}");

    let out = verify(&vectors_dir().join("no-such-file.json"), &vkey, false);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
    let out = verify(&vectors_dir().join("bundle-v1.json"), "not-a-key", false);
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(env!("CARGO_BIN_EXE_siteledger-verify")).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage"));
}

#[test]
fn accepts_the_sm2_bundle_naming_each_algorithm_and_refuses_a_flipped_sm2_signature() {
    let dir = vectors_dir();
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("sm2-envelopes-v1.4.json")).expect("vectors")).expect("json");
    let vkey = v["bundle"]["trusted_log_key"].as_str().expect("key");
    let out = verify(&dir.join("bundle-v1.4.json"), vkey, false);
    let text = String::from_utf8(out.stdout).expect("utf8");
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("SM2 signature valid"), "{text}");
    assert!(text.contains("Ed25519 signature valid"), "{text}");
    assert!(text.contains("matches its SM2 public key"), "{text}");
    let flipped = v["invalid_bundles"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c["name"] == "sm2_signature_flipped")
        .expect("case");
    let tmp = tempfile::tempdir().expect("tmp");
    let path = tmp.path().join("flipped.json");
    std::fs::write(&path, flipped["bundle"].as_str().expect("text")).expect("write");
    let out = verify(&path, vkey, true);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let failed = failed_checks(&report);
    // The flipped signature is also a different leaf, so its inclusion proof and the next record's link fail too.
    assert!(failed.contains(&"signature"), "{failed:?}");
    assert_eq!(
        report["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .filter(|c| c["check"] == "signature" && c["ok"] == false)
            .count(),
        1
    );
}

#[test]
fn accepts_the_sm2_checkpoint_bundle_and_refuses_a_flipped_checkpoint_signature() {
    let dir = vectors_dir();
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("sm2-checkpoint-v1.5.json")).expect("vectors")).expect("json");
    let vkey = v["bundle"]["trusted_log_key"].as_str().expect("key");
    let out = verify(&dir.join("bundle-v1.5.json"), vkey, false);
    let text = String::from_utf8(out.stdout).expect("utf8");
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("SM2 signature (identity"), "the checkpoint line names the algorithm: {text}");
    let flipped = v["invalid_bundles"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c["name"] == "checkpoint_signature_flipped")
        .expect("case");
    let tmp = tempfile::tempdir().expect("tmp");
    let path = tmp.path().join("flipped.json");
    std::fs::write(&path, flipped["bundle"].as_str().expect("text")).expect("write");
    let out = verify(&path, vkey, true);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(failed_checks(&report).contains(&"checkpoint_signature"), "{report}");
}
