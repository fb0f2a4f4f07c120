//! SM2-signed checkpoints (docs/FORMAT.md §12, version 1.5): a log whose key is SM2 signs its checkpoints with SM2
//! over SM3 in a C2SP signed note (signature type `0xff ‖ "sm2"`). The same records as the 1.4 vectors
//! (`sm2_format.rs`: an Ed25519 city bureau, two SM2 enterprises) in a log with an SM2 key, checked against the
//! committed `signer/tests/vectors/sm2-checkpoint-v1.5.json` and `bundle-v1.5.json`; every broken variant fails
//! the check the vectors name; Python `gmssl` (the independent implementation) verifies the checkpoint signature
//! from the vector's own bytes (the key, identity and signed text), and refuses it once a byte is flipped.
//!
//! Set `SITELEDGER_UPDATE_VECTORS=1` to rewrite the files after a deliberate change (deterministic nonces: they
//! reproduce byte for byte).

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use siteledger_signer::bundle::{BUNDLE_FORMAT_V1_4, BUNDLE_FORMAT_V1_5, Bundle, CheckKind, verify_bundle};
use siteledger_signer::keys::{KeyAlgorithm, SignerKey, SigningKey};
use siteledger_signer::note::{Checkpoint, NoteSigner, NoteVerifier, split};
use siteledger_signer::sm2::{DEFAULT_ID, Sm2SigningKey, sm3};

use crate::sm2_format::{ORIGIN, Sm2Log, each_fails_its_check};

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

/// The log's SM2 private key: SM3 of a label (reproducible).
fn log_secret() -> [u8; 32] {
    sm3(b"siteledger sm2 log key")
}

fn sm2_log() -> Sm2Log {
    let key = Sm2SigningKey::from_secret(&log_secret(), DEFAULT_ID).expect("log key");
    Sm2Log::with_log(NoteSigner::new(ORIGIN, key).expect("log signer"))
}

/// The checkpoint note's text and its SM2 signature line's signature (`r ‖ s`).
fn text_and_signature(note: &str) -> (String, Vec<u8>) {
    let (text, lines) = split(note).expect("note");
    assert_eq!(lines.len(), 1, "one signature line: the log's");
    (text.to_owned(), lines[0].blob[4..].to_vec())
}

fn build() -> (Value, Vec<u8>) {
    let log = sm2_log();
    let bundle = log.bundle();
    assert_eq!(bundle.format, BUNDLE_FORMAT_V1_5);
    let bytes = bundle.to_bytes();
    let verifier = log.log.verifier();
    let SignerKey::Sm2(public) = verifier.key() else { panic!("an SM2 log key") };
    let vkey = verifier.vkey();
    let typed = B64.decode(vkey.splitn(3, '+').nth(2).expect("key")).expect("base64");
    let (text, sig) = text_and_signature(&bundle.checkpoint);

    let mut invalid = Vec::new();
    let mut variant = |name: &str, must_fail: &str, edit: &dyn Fn(&mut Bundle)| {
        let mut b = bundle.clone();
        edit(&mut b);
        invalid.push(json!({"name": name, "must_fail": must_fail,
                            "bundle": String::from_utf8(b.to_bytes()).expect("utf-8")}));
    };
    variant("checkpoint_signature_flipped", "checkpoint_signature", &|b| {
        let (text, mut sig) = text_and_signature(&b.checkpoint);
        sig[10] ^= 1;
        let line = B64.encode([&verifier.id()[..], &sig].concat());
        b.checkpoint = format!("{text}\n\u{2014} {ORIGIN} {line}\n");
    });
    variant("checkpoint_size_altered", "checkpoint_signature", &|b| {
        b.checkpoint = b.checkpoint.replacen("\n6\n", "\n5\n", 1);
    });
    variant("sm2_log_key_in_v1_4", "bundle_format", &|b| {
        b.format = BUNDLE_FORMAT_V1_4.to_owned();
    });
    variant("checkpoint_signed_by_an_ed25519_key_of_the_same_name", "checkpoint_signature", &|b| {
        let ed = NoteSigner::new(ORIGIN, SigningKey::from_seed(&[0x10; 32])).expect("signer");
        b.checkpoint = Checkpoint::parse(&text_and_signature(&b.checkpoint).0).expect("cp").sign(&ed).expect("sign");
    });
    variant("log_key_under_another_identity", "log_key", &|b| {
        let other = SignerKey::Sm2(
            siteledger_signer::sm2::Sm2PublicKey::from_bytes(verifier.key().as_bytes(), "another identity")
                .expect("key"),
        );
        b.log_key = NoteVerifier::new(ORIGIN, other).expect("verifier").vkey();
    });
    let doc = json!({
        "description": "SM2-signed checkpoints, format 1.5 (docs/FORMAT.md §12). The log key is SM2 over SM3 with \
            the GM/T 0009 default identity; its C2SP signed-note type is 0xff || \"sm2\", the key bytes in the \
            verifier key string are 0xff || \"sm2\" || ENTL_A (2 bytes, bits) || ID_A || 04 || x || y, the note key \
            id is SHA-256(name || 0x0A || those bytes)[0:4], and a signature line is base64(key id || r || s) over \
            the checkpoint text with e = SM3(Z_A || text). The records and signer keys are those of \
            sm2-envelopes-v1.4.json. Hex unless named base64. Check verification, not signature bytes.",
        "log": {
            "name": ORIGIN,
            "alg": KeyAlgorithm::Sm2.as_str(),
            "sm2_id": public.id(),
            "private_key": hex::encode(log_secret()),
            "public_key": hex::encode(public.as_bytes()),
            "z_a": hex::encode(public.identity_hash()),
            "vkey": vkey,
            "vkey_key_bytes": hex::encode(&typed),
            "note_key_id": hex::encode(verifier.id()),
        },
        "checkpoint": {
            "text": text,
            "e": hex::encode(public.message_digest(text.as_bytes())),
            "signature": hex::encode(&sig),
            "note": bundle.checkpoint,
        },
        "bundle": {"file": "bundle-v1.5.json", "trusted_log_key": verifier.vkey(), "valid": true},
        "invalid_bundles": invalid,
    });
    (doc, bytes)
}

fn load() -> (Value, Vec<u8>) {
    let doc: Value = serde_json::from_slice(
        &std::fs::read(vectors_dir().join("sm2-checkpoint-v1.5.json"))
            .expect("SM2 checkpoint vectors committed (run with SITELEDGER_UPDATE_VECTORS=1 once)"),
    )
    .expect("json");
    let bundle = std::fs::read(vectors_dir().join("bundle-v1.5.json")).expect("bundle-v1.5.json committed");
    (doc, bundle)
}

#[test]
fn committed_sm2_checkpoint_vectors_match_the_code() {
    let (doc, bundle) = build();
    let mut text = serde_json::to_string_pretty(&doc).expect("json");
    text.push('\n');
    if std::env::var_os("SITELEDGER_UPDATE_VECTORS").is_some() {
        std::fs::write(vectors_dir().join("sm2-checkpoint-v1.5.json"), &text).expect("write");
        std::fs::write(vectors_dir().join("bundle-v1.5.json"), &bundle).expect("write");
    }
    let (committed, committed_bundle) = load();
    assert_eq!(committed, doc, "sm2-checkpoint-v1.5.json differs from what the code produces");
    assert_eq!(committed_bundle, bundle, "bundle-v1.5.json differs from what the code produces");
}

#[test]
fn the_v1_5_bundle_verifies_with_the_sm2_log_key_and_says_so() {
    let (doc, bytes) = load();
    let vkey = NoteVerifier::parse(doc["log"]["vkey"].as_str().expect("vkey")).expect("an SM2 verifier key");
    assert_eq!(vkey.algorithm(), KeyAlgorithm::Sm2);
    assert_eq!(hex::encode(vkey.id()), doc["log"]["note_key_id"].as_str().expect("id"));
    let report = verify_bundle(&bytes, &vkey);
    assert!(report.ok, "{}", report.to_text());
    let cp = report.checks.iter().find(|c| c.check == CheckKind::CheckpointSignature).expect("check 3");
    assert!(cp.detail.contains("SM2 signature"), "{}", cp.detail);
    assert_eq!(Bundle::parse(&bytes).expect("bundle").format, BUNDLE_FORMAT_V1_5);
    // The key id and the vkey's key bytes are what §12 says, computed here from the vector's own members.
    let mut typed = vec![0xff];
    typed.extend_from_slice(b"sm2");
    typed.extend_from_slice(&((DEFAULT_ID.len() * 8) as u16).to_be_bytes());
    typed.extend_from_slice(DEFAULT_ID.as_bytes());
    typed.extend_from_slice(&hex::decode(doc["log"]["public_key"].as_str().expect("hex")).expect("hex"));
    assert_eq!(hex::encode(&typed), doc["log"]["vkey_key_bytes"].as_str().expect("hex"));
    let mut id_input = format!("{ORIGIN}\n").into_bytes();
    id_input.extend_from_slice(&typed);
    use sha2::Digest as _;
    assert_eq!(hex::encode(&sha2::Sha256::digest(&id_input)[..4]), doc["log"]["note_key_id"].as_str().expect("id"));
    // The same bundle under an Ed25519 trusted key of the same name is refused.
    let ed = NoteSigner::new(ORIGIN, SigningKey::from_seed(&[0x10; 32])).expect("signer").verifier();
    assert!(!verify_bundle(&bytes, &ed).ok);
}

#[test]
fn every_broken_v1_5_bundle_fails_the_check_the_vectors_name() {
    let (doc, _) = load();
    let vkey = NoteVerifier::parse(doc["log"]["vkey"].as_str().expect("vkey")).expect("vkey");
    let cases = doc["invalid_bundles"].as_array().expect("invalid");
    assert!(cases.len() >= 5);
    each_fails_its_check(cases, &vkey);
}

#[test]
fn an_ed25519_log_key_in_a_v1_5_bundle_is_refused_and_ed25519_bundles_keep_their_version() {
    let (_, bytes) = load();
    let mut b = Bundle::parse(&bytes).expect("bundle");
    let ed = NoteSigner::new(ORIGIN, SigningKey::from_seed(&[0x10; 32])).expect("signer");
    b.log_key = ed.verifier().vkey();
    let report = verify_bundle(&b.to_bytes(), &ed.verifier());
    let fmt = report.checks.iter().find(|c| c.check == CheckKind::BundleFormat).expect("check 1");
    assert!(!fmt.ok && fmt.detail.contains("SM2 log key"), "{}", report.to_text());
    // fit_key_format on the Ed25519-logged records gives 1.4 (SM2 signers), as before this version.
    let mut b14 = Bundle::parse(&bytes).expect("bundle");
    b14.log_key = ed.verifier().vkey();
    b14.format = siteledger_signer::bundle::BUNDLE_FORMAT.to_owned();
    b14.fit_key_format();
    assert_eq!(b14.format, BUNDLE_FORMAT_V1_4);
}

#[test]
fn gmssl_verifies_the_sm2_checkpoint_signature_and_refuses_a_flipped_one() {
    let (doc, _) = load();
    let log = &doc["log"];
    let cp = &doc["checkpoint"];
    let text = cp["text"].as_str().expect("text").as_bytes().to_vec();
    // The signed text is the note's text exactly (through its final newline), as the note in the vector shows.
    assert!(cp["note"].as_str().expect("note").starts_with(cp["text"].as_str().expect("text")));
    let mut flipped_text = text.clone();
    flipped_text[3] ^= 1;
    let mut flipped_sig = hex::decode(cp["signature"].as_str().expect("hex")).expect("hex");
    flipped_sig[33] ^= 1;
    let case = |name: &str, message: &[u8], sig: &str| {
        json!({"name": name, "public_key": log["public_key"], "id": log["sm2_id"],
               "message": hex::encode(message), "signature": sig})
    };
    let sig = cp["signature"].as_str().expect("hex");
    let request = json!({"verify": [
        case("checkpoint as signed", &text, sig),
        case("checkpoint text with a flipped byte", &flipped_text, sig),
        case("checkpoint signature with a flipped byte", &text, &hex::encode(&flipped_sig)),
    ], "sm3": [hex::encode(&text)]});
    let answer = crate::sm2::run_gmssl(&request);
    let verdicts: Vec<Option<bool>> =
        answer["verify"].as_array().expect("verify").iter().map(|v| v["valid"].as_bool()).collect();
    assert_eq!(verdicts, [Some(true), Some(false), Some(false)], "gmssl's verdicts");
    // And gmssl's SM3 of the text agrees with ours; e = SM3(Z_A || text) as the vector states.
    assert_eq!(answer["sm3"][0].as_str(), Some(hex::encode(sm3(&text)).as_str()));
    let z_a = hex::decode(log["z_a"].as_str().expect("hex")).expect("hex");
    assert_eq!(hex::encode(sm3(&[z_a, text].concat())), cp["e"].as_str().expect("hex"));
}
