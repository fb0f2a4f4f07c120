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
    let keys =
        [("city_bureau", 0x21u8, &log.city), ("district_bureau", 0x22, &log.district), ("gateway", 0x23, &log.gateway)];
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
    let roots: Vec<Value> =
        (0..=n).map(|s| json!({"size": s, "root": hex::encode(log.tree.root_at(s).expect("root"))})).collect();
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
    let signatures = signature_cases();
    let invalid_bundles = invalid_bundles(&log, &bundle);
    let rejected_json =
        [r#"{"a":1,"a":1}"#, r#"{"a":1.5}"#, r#"{"a":1e3}"#, r#"{"a":9007199254740992}"#, r#"{"a":1.0}"#];
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
        "signatures": signatures,
        "bundle": {"file": "bundle-v1.json", "trusted_log_key": log.log.verifier().vkey(), "valid": true},
        "invalid_bundles": invalid_bundles,
    });
    (doc, bundle)
}

/// Ed25519 cases probing each rule of FORMAT.md §3, with the verdict the rules give.
fn signature_cases() -> Vec<Value> {
    use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
    use curve25519_dalek::scalar::Scalar;
    use sha2::{Digest, Sha512};
    use siteledger_signer::SigningKey;

    let seed = [0x31u8; 32];
    let key = SigningKey::from_seed(&seed);
    let pk = *key.public().as_bytes();
    let msg = b"siteledger signature vector".to_vec();
    let good = key.sign(&msg);
    let case = |name: &str, public: [u8; 32], sig: [u8; 64], valid: bool, rule: &str| json!({"name": name, "public_key": B64.encode(public), "message": hex::encode(&msg), "signature": B64.encode(sig), "valid": valid, "rule": rule});
    let mut out = vec![case("valid", pk, good, true, "an ordinary RFC 8032 signature")];

    let mut flipped = good;
    flipped[40] ^= 0x01;
    out.push(case("wrong_s", pk, flipped, false, "equation does not hold"));

    // S + L: the same signature with a non-canonical scalar.
    let l: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut s_plus_l = good;
    let mut carry = 0u16;
    for i in 0..32 {
        let v = u16::from(good[32 + i]) + u16::from(l[i]) + carry;
        s_plus_l[32 + i] = v as u8;
        carry = v >> 8;
    }
    out.push(case("s_not_reduced", pk, s_plus_l, false, "S must be less than L"));

    // A small-order public key (the identity point) with a signature that satisfies the cofactored equation.
    let identity = ED25519_BASEPOINT_POINT * Scalar::ZERO;
    let mut weak = [0u8; 32];
    weak.copy_from_slice(identity.compress().as_bytes());
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(identity.compress().as_bytes());
    out.push(case("small_order_key", weak, sig, false, "A must not be of small order"));

    // Expanded secret scalar and nonce, to build signatures that only the rules (not the equation) reject or accept.
    let h: [u8; 64] = Sha512::digest(seed).into();
    let mut a_bytes = [0u8; 32];
    a_bytes.copy_from_slice(&h[..32]);
    a_bytes[0] &= 248;
    a_bytes[31] &= 127;
    a_bytes[31] |= 64;
    let a = Scalar::from_bytes_mod_order(a_bytes);
    let r = Scalar::from_bytes_mod_order_wide(&Sha512::digest(b"vector nonce").into());
    let sign_with_r = |r_point: curve25519_dalek::edwards::EdwardsPoint| {
        let r_enc = r_point.compress();
        let mut hh = Sha512::new();
        hh.update(r_enc.as_bytes());
        hh.update(pk);
        hh.update(&msg);
        let k = Scalar::from_bytes_mod_order_wide(&hh.finalize().into());
        let s = r + k * a;
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(r_enc.as_bytes());
        sig[32..].copy_from_slice(s.as_bytes());
        sig
    };
    // R = rB + T with T of order 8: the cofactored equation holds (cofactorless would not): valid.
    let mixed = sign_with_r(ED25519_BASEPOINT_POINT * r + EIGHT_TORSION[1]);
    out.push(case("mixed_order_r", pk, mixed, true, "cofactored equation: [8]R absorbs a torsion component"));
    // R of small order (r = 0): rejected by rule even though it is a signature by the key holder.
    let small_r = {
        let r0 = EIGHT_TORSION[1];
        let r_enc = r0.compress();
        let mut hh = Sha512::new();
        hh.update(r_enc.as_bytes());
        hh.update(pk);
        hh.update(&msg);
        let k = Scalar::from_bytes_mod_order_wide(&hh.finalize().into());
        let s = k * a;
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(r_enc.as_bytes());
        sig[32..].copy_from_slice(s.as_bytes());
        sig
    };
    out.push(case("small_order_r", pk, small_r, false, "R must not be of small order"));
    // R with y ≥ p: a non-canonical encoding.
    let mut noncanon = good;
    noncanon[..32].copy_from_slice(&[0xffu8; 32]);
    noncanon[31] = 0x7f;
    noncanon[0] = 0xee;
    out.push(case("r_not_canonical", pk, noncanon, false, "R must be a canonical encoding (y < p)"));
    for c in &out {
        let public = B64.decode(c["public_key"].as_str().expect("pk")).expect("b64");
        let sig: [u8; 64] = B64.decode(c["signature"].as_str().expect("sig")).expect("b64").try_into().expect("64");
        let verdict = siteledger_signer::PublicKey::from_bytes(&public.try_into().expect("32"))
            .map(|k| k.verify(&msg, &sig).is_ok())
            .unwrap_or(false);
        assert_eq!(verdict, c["valid"].as_bool().expect("bool"), "signature case {}", c["name"]);
    }
    out
}

/// Tampered bundles and the check each must fail.
fn invalid_bundles(log: &SampleLog, good: &[u8]) -> Vec<Value> {
    let text = String::from_utf8(good.to_vec()).expect("utf8");
    let pretty = serde_json::to_string_pretty(&serde_json::from_str::<Value>(&text).expect("json")).expect("pretty");
    let mut cases = vec![
        ("payload_changed", text.replacen("\"pm10_ug_m3\":\"46.6\"", "\"pm10_ug_m3\":\"26.6\"", 1), "signature"),
        ("index_changed", text.replacen("\"index\":9}", "\"index\":8}", 1), "inclusion"),
        (
            "checkpoint_size_changed",
            text.replacen("ningbo/log\\n12\\n", "ningbo/log\\n11\\n", 1),
            "checkpoint_signature",
        ),
        ("reformatted", pretty, "bundle_format"),
    ];
    // The same records proven by a different log key.
    let mut other = SampleLog::new(13).expect("log");
    other.log = siteledger_signer::NoteSigner::new(
        siteledger_signer::sample::SAMPLE_ORIGIN,
        siteledger_signer::SigningKey::from_seed(&[0x5a; 32]),
    )
    .expect("signer");
    let foreign = String::from_utf8(other.bundle(&[5, 9], 12, Some(16)).expect("bundle").to_bytes()).expect("utf8");
    cases.push(("other_log", foreign, "log_key"));
    let _ = log;
    cases
        .into_iter()
        .map(|(name, bundle, check)| {
            assert_ne!(bundle.as_bytes(), good, "case {name} changed nothing");
            json!({"name": name, "bundle": bundle, "must_fail": check})
        })
        .collect()
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
    let committed = std::fs::read_to_string(dir.join("v1.json"))
        .expect("vectors committed (run with SITELEDGER_UPDATE_VECTORS=1 once)");
    assert_eq!(committed, text, "format vectors changed: a format change needs a version bump");
    let committed_bundle = std::fs::read(dir.join("bundle-v1.json")).expect("bundle committed");
    assert_eq!(committed_bundle, bundle);
    let report = verify_bundle(
        &committed_bundle,
        &NoteVerifier::parse(doc["bundle"]["trusted_log_key"].as_str().expect("key")).expect("vkey"),
    );
    assert!(report.ok, "{}", report.to_text());
    let vkey = NoteVerifier::parse(doc["bundle"]["trusted_log_key"].as_str().expect("key")).expect("vkey");
    for case in doc["invalid_bundles"].as_array().expect("cases") {
        let report = verify_bundle(case["bundle"].as_str().expect("bundle").as_bytes(), &vkey);
        let failed: Vec<String> = report
            .failures()
            .map(|c| serde_json::to_value(c.check).expect("name").as_str().expect("str").to_owned())
            .collect();
        assert!(
            !report.ok && failed.iter().any(|f| f == case["must_fail"].as_str().expect("check")),
            "{}: failed {failed:?}",
            case["name"]
        );
    }
}
