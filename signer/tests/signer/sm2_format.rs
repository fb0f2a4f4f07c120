//! SM2 in the format (docs/FORMAT.md §11, version 1.4): SM2-enrolled keys, SM2-signed envelopes and evidence
//! bundles of version 1.4. Builds a small deterministic log (an Ed25519 city bureau enrolling two SM2 enterprise keys,
//! one under the GM/T 0009 default identity and one under a declared identity, which then sign records), checks it
//! against the committed vectors `signer/tests/vectors/sm2-envelopes-v1.4.json` and `bundle-v1.4.json`, verifies
//! it, refuses each broken variant at the check the vectors name, and has Python `gmssl` (the independent SM2
//! implementation) verify every SM2 envelope signature of the vectors.
//!
//! Set `SITELEDGER_UPDATE_VECTORS=1` to rewrite the vector files after a deliberate change. SM2 signatures here
//! use the deterministic nonce of the `sm2` crate, so the files are reproduced byte for byte.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value, json};
use siteledger_signer::bundle::{
    BUNDLE_FORMAT_V1_3, BUNDLE_FORMAT_V1_4, Bundle, CheckKind, KEY_ENROLLED_KIND, KeyEnrollment, bundle_record,
    signer_bundle_key, verify_bundle,
};
use siteledger_signer::envelope::{Envelope, SignerChain};
use siteledger_signer::keys::{AnySigningKey, EnvelopeSigner, KeyAlgorithm, SignerKey, SigningKey};
use siteledger_signer::merkle::MemoryTree;
use siteledger_signer::note::{Checkpoint, NoteSigner, NoteVerifier};
use siteledger_signer::sample::sample_uuid;
use siteledger_signer::sm2::{DEFAULT_ID, Sm2SigningKey, sm3};

pub(crate) const ORIGIN: &str = "siteledger.example/ningbo/log";
/// The declared identity of the second SM2 key: an enterprise's unified social credit code.
const DECLARED_ID: &str = "91330200MA2H000001";

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("an object"),
    }
}

/// The SM2 private key `d` of vector key `n`: SM3 of a label (reproducible, in [1, n − 2]).
fn sm2_secret(n: u8) -> [u8; 32] {
    sm3(format!("siteledger sm2 enterprise key {n}").as_bytes())
}

pub(crate) struct Party {
    pub(crate) key: AnySigningKey,
    chain: SignerChain,
}

/// The SM2 sample log: records 0–2 are enrolments by the city bureau (itself, SM2 key A with the default identity,
/// SM2 key B with a declared identity); 3 and 4 are signed by A, 5 by B.
pub(crate) struct Sm2Log {
    pub(crate) log: NoteSigner,
    pub(crate) parties: Vec<Party>,
    pub(crate) envelopes: Vec<Envelope>,
    signer_of: Vec<usize>,
    tree: MemoryTree,
}

impl Sm2Log {
    fn new() -> Sm2Log {
        Sm2Log::with_log(NoteSigner::new(ORIGIN, SigningKey::from_seed(&[0x10; 32])).expect("log key"))
    }

    /// The same records in a log whose checkpoints `log` signs (an SM2 one for format 1.5).
    pub(crate) fn with_log(log: NoteSigner) -> Sm2Log {
        let city = AnySigningKey::from(SigningKey::from_seed(&[0x21; 32]));
        let a = AnySigningKey::from(Sm2SigningKey::from_secret(&sm2_secret(1), DEFAULT_ID).expect("key A"));
        let b = AnySigningKey::from(Sm2SigningKey::from_secret(&sm2_secret(2), DECLARED_ID).expect("key B"));
        let parties = [city, a, b].into_iter().map(|key| Party { key, chain: SignerChain::new() }).collect();
        let mut s = Sm2Log { log, parties, envelopes: Vec::new(), signer_of: Vec::new(), tree: MemoryTree::new() };
        let subjects = [
            ("宁波市住房和城乡建设局", "city_bureau"),
            ("宁波甬建建设集团有限公司 (SM2 U盾)", "enterprise"),
            ("宁波港城劳务有限公司 (SM2 签名服务器)", "enterprise"),
        ];
        for (who, (subject, role)) in subjects.iter().enumerate() {
            let key = s.parties[who].key.public();
            let payload = KeyEnrollment {
                key_id: key.key_id().to_string(),
                public_key: key.to_base64(),
                subject: (*subject).to_owned(),
                role: (*role).to_owned(),
                valid_from: "2026-01-01T00:00:00+08:00".to_owned(),
                valid_until: Some("2028-01-01T00:00:00+08:00".to_owned()),
            }
            .to_payload_for(&key);
            s.append(0, "registry/keys", KEY_ENROLLED_KIND, &format!("2026-01-0{}T09:00:00+08:00", who + 1), payload);
        }
        let wage = |n: u64, fen: u64| {
            obj(json!({"project_id": "P-330212-0001", "batch_id": format!("WB-2026-03-{n}"),
                       "workers": 12, "total_fen": fen, "note": "工资代发 (SM2 签名)"}))
        };
        s.append(
            1,
            "project/P-330212-0001/wages",
            "wage.batch.declared.v1",
            "2026-03-10T10:00:00+08:00",
            wage(1, 1_234_500),
        );
        s.append(
            1,
            "project/P-330212-0001/wages",
            "wage.batch.declared.v1",
            "2026-03-11T10:00:00+08:00",
            wage(2, 987_600),
        );
        s.append(
            2,
            "project/P-330212-0002/wages",
            "wage.batch.declared.v1",
            "2026-03-12T10:00:00+08:00",
            wage(3, 55_500),
        );
        s
    }

    fn append(&mut self, who: usize, stream: &str, kind: &str, at: &str, payload: Map<String, Value>) {
        let id = sample_uuid(100 + self.envelopes.len() as u64);
        let party = &mut self.parties[who];
        let env = party.chain.sign(&party.key, id, stream, kind, at, payload).expect("sign");
        self.tree.push(env.leaf_bytes());
        self.envelopes.push(env);
        self.signer_of.push(who);
    }

    fn size(&self) -> u64 {
        self.envelopes.len() as u64
    }

    pub(crate) fn bundle(&self) -> Bundle {
        let size = self.size();
        let root = self.tree.root_at(size).expect("root");
        let checkpoint =
            Checkpoint { origin: ORIGIN.to_owned(), size, root, extensions: vec![] }.sign(&self.log).expect("note");
        let records = (0..size)
            .map(|i| bundle_record(i, &self.envelopes[i as usize], &self.tree.inclusion_proof(i, size).expect("proof")))
            .collect();
        let keys = (0..3)
            .map(|who| signer_bundle_key(&self.parties[who].key.public(), Some(self.envelopes[who].id())))
            .collect();
        let mut b = Bundle {
            format: siteledger_signer::bundle::BUNDLE_FORMAT.to_owned(),
            log_key: self.log.verifier().vkey(),
            checkpoint,
            keys,
            records,
            consistency: None,
            witnesses: None,
            timestamps: None,
        };
        b.fit_key_format();
        b
    }
}

fn build() -> (Value, Vec<u8>) {
    let log = Sm2Log::new();
    let bundle = log.bundle();
    let bytes = bundle.to_bytes();
    let keys: Vec<Value> = log
        .parties
        .iter()
        .zip(["city_bureau", "enterprise_a", "enterprise_b"])
        .enumerate()
        .map(|(who, (p, name))| {
            let k = p.key.public();
            let mut v = json!({"name": name, "alg": k.algorithm().as_str(), "public_key": k.to_base64(),
                               "public_key_hex": hex::encode(k.as_bytes()), "key_id": k.key_id().to_string()});
            match &p.key {
                AnySigningKey::Ed25519(_) => v["seed"] = json!(hex::encode([0x21u8; 32])),
                AnySigningKey::Sm2(s) => {
                    v["private_key"] = json!(hex::encode(sm2_secret(who as u8)));
                    v["sm2_id"] = json!(s.public().id());
                    v["z_a"] = json!(hex::encode(s.public().identity_hash()));
                }
            }
            v
        })
        .collect();
    let envelopes: Vec<Value> = log
        .envelopes
        .iter()
        .zip(&log.signer_of)
        .enumerate()
        .map(|(i, (env, &who))| {
            let key = log.parties[who].key.public();
            let name = ["city_bureau", "enterprise_a", "enterprise_b"][who];
            let mut v = json!({
                "index": i, "signer": name, "alg": key.algorithm().as_str(),
                "envelope": env.to_value(), "signed_message": hex::encode(env.signed_message()),
                "signature": hex::encode(env.signature()), "leaf_hash": hex::encode(env.leaf_hash()),
            });
            if let SignerKey::Sm2(k) = &key {
                v["e"] = json!(hex::encode(k.message_digest(env.signed_message())));
            }
            v
        })
        .collect();
    let text = String::from_utf8(bytes.clone()).expect("utf-8");
    let mut invalid = Vec::new();
    let mut variant = |name: &str, must_fail: &str, edit: &dyn Fn(&mut Bundle)| {
        let mut b = bundle.clone();
        edit(&mut b);
        invalid.push(json!({"name": name, "must_fail": must_fail,
                            "bundle": String::from_utf8(b.to_bytes()).expect("utf-8")}));
    };
    variant("sm2_signature_flipped", "signature", &|b| {
        let sig = b.records[3].envelope["sig"].as_str().expect("sig").to_owned();
        let mut raw = B64.decode(sig).expect("b64");
        raw[40] ^= 1;
        b.records[3].envelope["sig"] = json!(B64.encode(raw));
    });
    variant("sm2_identity_dropped", "key_id", &|b| {
        for k in &mut b.keys {
            k.sm2_id = None;
        }
    });
    variant("sm2_key_listed_as_ed25519_in_v1_3", "bundle_format", &|b| {
        b.format = BUNDLE_FORMAT_V1_3.to_owned();
    });
    variant("alg_ed25519_written_in_a_key_entry", "bundle_format", &|b| {
        b.keys.iter_mut().find(|k| k.alg.is_none()).expect("the city key").alg = Some("ed25519".into());
    });
    variant("v1_4_without_an_sm2_key", "bundle_format", &|b| {
        b.keys.retain(|k| k.alg.is_none());
    });
    variant("sm2_payload_altered", "signature", &|b| {
        b.records[4].envelope["payload"]["total_fen"] = json!(987_601);
    });
    let doc = json!({
        "description": "SM2 in format 1.4 (docs/FORMAT.md §11). An Ed25519 city bureau enrols two SM2 keys (default \
            and declared GM/T 0009 identity); each SM2 envelope's signature is fixed-width r||s over \
            e = SM3(Z_A || signed_message). Hex unless named base64. Check verification, not signature bytes: any \
            valid nonce must be accepted.",
        "log_key": log.log.verifier().vkey(),
        "log_seed": hex::encode([0x10u8; 32]),
        "keys": keys,
        "envelopes": envelopes,
        "bundle": {"file": "bundle-v1.4.json", "trusted_log_key": log.log.verifier().vkey(), "valid": true},
        "invalid_bundles": invalid,
    });
    assert!(text.ends_with('\n'));
    (doc, bytes)
}

fn load() -> (Value, Vec<u8>) {
    let doc: Value = serde_json::from_slice(
        &std::fs::read(vectors_dir().join("sm2-envelopes-v1.4.json"))
            .expect("SM2 envelope vectors committed (run with SITELEDGER_UPDATE_VECTORS=1 once)"),
    )
    .expect("json");
    let bundle = std::fs::read(vectors_dir().join("bundle-v1.4.json")).expect("bundle-v1.4.json committed");
    (doc, bundle)
}

#[test]
fn committed_sm2_format_vectors_match_the_code() {
    let (doc, bundle) = build();
    let mut text = serde_json::to_string_pretty(&doc).expect("json");
    text.push('\n');
    if std::env::var_os("SITELEDGER_UPDATE_VECTORS").is_some() {
        std::fs::write(vectors_dir().join("sm2-envelopes-v1.4.json"), &text).expect("write");
        std::fs::write(vectors_dir().join("bundle-v1.4.json"), &bundle).expect("write");
    }
    let (committed, committed_bundle) = load();
    assert_eq!(committed, doc, "sm2-envelopes-v1.4.json differs from what the code produces");
    assert_eq!(committed_bundle, bundle, "bundle-v1.4.json differs from what the code produces");
}

#[test]
fn the_v1_4_bundle_verifies_and_names_each_signers_algorithm() {
    let (doc, bytes) = load();
    let vkey = NoteVerifier::parse(doc["log_key"].as_str().expect("log key")).expect("vkey");
    let report = verify_bundle(&bytes, &vkey);
    assert!(report.ok, "{}", report.to_text());
    let b = Bundle::parse(&bytes).expect("bundle");
    assert_eq!(b.format, BUNDLE_FORMAT_V1_4);
    let sm2_sigs = report
        .checks
        .iter()
        .filter(|c| c.check == CheckKind::Signature && c.detail.starts_with("SM2 signature valid"))
        .count();
    assert_eq!(sm2_sigs, 3, "records 3, 4 and 5 are SM2-signed");
    let ed_sigs =
        report.checks.iter().filter(|c| c.check == CheckKind::Signature && c.detail == "Ed25519 signature valid");
    assert_eq!(ed_sigs.count(), 3);
    let text = report.to_text();
    assert!(text.contains(&format!("signer identity {DECLARED_ID:?}")), "{text}");
    assert!(text.contains(&format!("signer identity {DEFAULT_ID:?}")), "{text}");
}

#[test]
fn every_broken_v1_4_bundle_fails_the_check_the_vectors_name() {
    let (doc, _) = load();
    let vkey = NoteVerifier::parse(doc["log_key"].as_str().expect("log key")).expect("vkey");
    let cases = doc["invalid_bundles"].as_array().expect("invalid");
    assert!(cases.len() >= 6);
    each_fails_its_check(cases, &vkey);
}

/// Each `invalid_bundles` case of a vector file fails verification under `vkey`, and fails its `must_fail` check.
pub(crate) fn each_fails_its_check(cases: &[Value], vkey: &NoteVerifier) {
    for case in cases {
        let report = verify_bundle(case["bundle"].as_str().expect("text").as_bytes(), vkey);
        assert!(!report.ok, "{} must fail", case["name"]);
        let want = case["must_fail"].as_str().expect("check");
        assert!(
            report.failures().any(|c| serde_json::to_value(c.check).expect("name") == want),
            "{}: expected {want} to fail:\n{}",
            case["name"],
            report.to_text()
        );
    }
}

#[test]
fn every_vector_envelope_verifies_with_its_declared_key_and_a_flipped_byte_does_not() {
    let (doc, _) = load();
    let keys = doc["keys"].as_array().expect("keys");
    for case in doc["envelopes"].as_array().expect("envelopes") {
        let env = Envelope::from_value(case["envelope"].clone()).expect("envelope");
        assert_eq!(hex::encode(env.signed_message()), case["signed_message"].as_str().expect("hex"));
        let k = keys.iter().find(|k| k["name"] == case["signer"]).expect("key");
        let key = SignerKey::from_members(
            (k["alg"] == "sm2").then_some("sm2"),
            k.get("sm2_id").and_then(Value::as_str).filter(|id| *id != DEFAULT_ID),
            k["public_key"].as_str().expect("b64"),
        )
        .expect("key");
        assert_eq!(key.key_id().to_string(), k["key_id"].as_str().expect("id"));
        env.verify_signer(&key).expect("valid");
        let mut message = env.signed_message().to_vec();
        let last = message.len() - 2;
        message[last] ^= 1;
        assert!(key.verify(&message, env.signature()).is_err(), "a flipped byte fails");
    }
}

#[test]
fn sm2_enrolments_are_checked_member_by_member() {
    let sm2 = Sm2SigningKey::from_secret(&sm2_secret(1), DEFAULT_ID).expect("key");
    let key = SignerKey::Sm2(sm2.public().clone());
    let base = KeyEnrollment {
        key_id: key.key_id().to_string(),
        public_key: key.to_base64(),
        subject: "宁波甬建建设集团有限公司".into(),
        role: "enterprise".into(),
        valid_from: "2026-01-01T00:00:00+08:00".into(),
        valid_until: None,
    };
    let good = base.to_payload_for(&key);
    assert_eq!(good["alg"], "sm2");
    assert!(!good.contains_key("sm2_id"), "the default identity is not written");
    let (_, parsed) = KeyEnrollment::parse(&good).expect("valid SM2 enrolment");
    assert_eq!(parsed, key);
    // An Ed25519 enrolment is byte for byte what it was: no alg member.
    let ed = SigningKey::from_seed(&[5; 32]);
    let ed_key = SignerKey::from(*ed.public());
    let ed_payload =
        KeyEnrollment { key_id: ed_key.key_id().to_string(), public_key: ed_key.to_base64(), ..base.clone() };
    assert_eq!(ed_payload.to_payload_for(&ed_key), ed_payload.to_payload());
    assert!(!ed_payload.to_payload().contains_key("alg"));

    let refused = |edit: &dyn Fn(&mut Map<String, Value>), needle: &str| {
        let mut p = good.clone();
        edit(&mut p);
        let err = KeyEnrollment::parse(&p).expect_err("must be refused");
        assert!(err.contains(needle), "{err:?} should mention {needle:?}");
    };
    // The key id of another identity: the point is the same, Z_A is not.
    refused(&|p| drop(p.insert("sm2_id".into(), json!(DECLARED_ID))), "does not match");
    refused(&|p| drop(p.insert("alg".into(), json!("sm9"))), "not a signature algorithm");
    refused(&|p| drop(p.insert("alg".into(), json!("ed25519"))), "32 bytes");
    refused(
        &|p| {
            p.remove("alg");
            p.insert("sm2_id".into(), json!(DECLARED_ID));
        },
        "sm2_id is only allowed",
    );
    refused(&|p| drop(p.insert("public_key".into(), json!(B64.encode([4u8; 33])))), "65-byte");
    refused(&|p| drop(p.insert("alg".into(), json!(null))), "must be a string");
    let with_id = Sm2SigningKey::from_secret(&sm2_secret(2), DECLARED_ID).expect("key");
    let with_id = SignerKey::Sm2(with_id.public().clone());
    let p = KeyEnrollment { key_id: with_id.key_id().to_string(), public_key: with_id.to_base64(), ..base }
        .to_payload_for(&with_id);
    assert_eq!(p["sm2_id"], DECLARED_ID);
    assert_eq!(KeyEnrollment::parse(&p).expect("declared identity").1.sm2_id(), Some(DECLARED_ID));
    assert_eq!(with_id.algorithm(), KeyAlgorithm::Sm2);
}

#[test]
fn an_sm2_signing_key_signs_envelopes_the_mixed_batch_keeps_input_order() {
    use siteledger_signer::keys::{SignerBatchItem, verify_signer_batch};
    let log = Sm2Log::new();
    let keys: Vec<SignerKey> = log.signer_of.iter().map(|&w| log.parties[w].key.public()).collect();
    let mut sigs: Vec<[u8; 64]> = log.envelopes.iter().map(|e| *e.signature()).collect();
    sigs[1][5] ^= 1; // an Ed25519 one
    sigs[4][50] ^= 1; // an SM2 one
    let items: Vec<SignerBatchItem<'_>> = log
        .envelopes
        .iter()
        .zip(&keys)
        .zip(&sigs)
        .map(|((e, k), s)| SignerBatchItem { key: k, message: e.signed_message(), signature: s })
        .collect();
    let got = verify_signer_batch(&items);
    let bad: Vec<usize> = got.iter().enumerate().filter(|(_, r)| r.is_err()).map(|(i, _)| i).collect();
    assert_eq!(bad, vec![1, 4]);
    for (i, r) in got.iter().enumerate() {
        assert_eq!(*r, keys[i].verify(items[i].message, items[i].signature), "item {i}");
    }
    assert_eq!(EnvelopeSigner::key_id(&log.parties[1].key), keys[3].key_id());
}

#[test]
fn gmssl_verifies_every_sm2_envelope_of_the_vectors_and_refuses_flipped_ones() {
    let (doc, _) = load();
    let keys = doc["keys"].as_array().expect("keys");
    let mut verify = Vec::new();
    let mut expected = Vec::new();
    for case in doc["envelopes"].as_array().expect("envelopes").iter().filter(|c| c["alg"] == "sm2") {
        let k = keys.iter().find(|k| k["name"] == case["signer"]).expect("key");
        let message = case["signed_message"].as_str().expect("hex").to_owned();
        let base = json!({"public_key": k["public_key_hex"], "id": k["sm2_id"], "signature": case["signature"]});
        let mut good = base.clone();
        good["name"] = json!(format!("envelope {}", case["index"]));
        good["message"] = json!(message);
        verify.push(good);
        expected.push(true);
        let mut raw = hex::decode(&message).expect("hex");
        let at = raw.len() / 2;
        raw[at] ^= 1;
        let mut flipped = base;
        flipped["name"] = json!(format!("envelope {} flipped", case["index"]));
        flipped["message"] = json!(hex::encode(raw));
        verify.push(flipped);
        expected.push(false);
    }
    assert_eq!(verify.len(), 6);
    let answer = crate::sm2::run_gmssl(&json!({"verify": verify}));
    let verdicts = answer["verify"].as_array().expect("verify");
    assert_eq!(verdicts.len(), expected.len());
    for ((v, want), case) in verdicts.iter().zip(&expected).zip(&verify) {
        assert_eq!(v["valid"].as_bool(), Some(*want), "gmssl's verdict on {}", case["name"]);
    }
}
