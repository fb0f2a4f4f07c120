//! SM2 and SM3 in the browser (issue 18): `api/static/sm2.js` in Debian's headless Chromium against the committed
//! vectors (`signer/tests/vectors/sm2-v1.json`: the GB/T 32905 SM3 examples, the GB/T 32918.5 Annex A.2
//! signature, OpenSSL's and our own) and fresh signatures by the signer crate, and the verify page (`verify.js`)
//! checking evidence bundles whose signers use SM2.
//!
//! The server cannot write an SM2 bundle yet (SM2 keys in the log are a separate change), so the verify-page cases
//! build their format 1.4 bundles here, shaped as that change writes them (enrollment `alg`/`sm2_id`, repeated in
//! the key entry): a city key (Ed25519) enrolling an SM2 key, and a record that key signed, all signed by the signer
//! crate, in a Merkle tree whose checkpoint is signed with the server's own log key. The
//! page of a real record is opened and its fetch of that record's bundle answered with the built one (as the
//! tampering case of `browser.rs` does); the page, its scripts and the published log key come from the server.

use std::time::Duration;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value, json};
use siteledger_api::auth::Role;
use siteledger_api::config::Config;
use siteledger_e2e::{HeadlessChromium, SignedCity, city_key, eval, ingest, screenshot, wait_until};
use siteledger_signer::bundle::KEY_ENROLLED_KIND;
use siteledger_signer::canonical::to_canonical;
use siteledger_signer::envelope::{SIGNATURE_CONTEXT, SignerChain};
use siteledger_signer::note::{Checkpoint, NoteSigner};
use siteledger_signer::sm2::{self, DEFAULT_ID, MAX_ID_LEN, Sm2PublicKey, Sm2SigningKey};
use siteledger_signer::{Envelope, MemoryTree, SigningKey};
use uuid::Uuid;

const WAIT: Duration = siteledger_e2e::PATIENCE;

/// The file the dashboard serves as `/static/sm2.js` (`api/src/dashboard/assets.rs` embeds the same bytes).
const SM2_JS: &str = include_str!("../../api/static/sm2.js");
const VECTORS: &str = include_str!("../../signer/tests/vectors/sm2-v1.json");

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn secret(v: &Value) -> anyhow::Result<[u8; 32]> {
    let bytes = hex::decode(v.as_str().context("private_key is not a string")?)?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| anyhow::anyhow!("private_key is not 32 bytes"))
}

/// Bytes 0, 1, 2, … of a fixed pattern (SM3 lengths across the padding boundaries).
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 7 + 3) & 255) as u8).collect()
}

/// Signatures made now by the signer crate (its deterministic nonce, not the vectors' k), under identities the
/// vectors lack: UTF-8 (Chinese), empty, and the longest allowed (8191 bytes, ENTL_A = 65528).
fn fresh_signatures(vectors: &Value) -> anyhow::Result<Vec<Value>> {
    let standard = secret(&vectors["standard_example"]["private_key"])?;
    let long_id = "a".repeat(MAX_ID_LEN);
    let mut keys = vec![Sm2SigningKey::from_secret(&standard, DEFAULT_ID)?];
    for id in [DEFAULT_ID, "宁波市住房和城乡建设局", "", long_id.as_str()] {
        keys.push(Sm2SigningKey::generate(id)?);
    }
    let mut envelope_like = SIGNATURE_CONTEXT.to_vec();
    envelope_like.extend_from_slice(r#"{"kind":"alarm.raised.v1","payload":{"message":"PM10 超过预警值"}}"#.as_bytes());
    let mut out = Vec::new();
    for key in &keys {
        for message in [b"message digest".to_vec(), envelope_like.clone(), pattern(1000)] {
            let signature = key.sign(&message);
            key.public().verify(&message, &signature)?;
            out.push(json!({
                "public_key": hex::encode(key.public().as_bytes()),
                "id": key.public().id(),
                "message": hex::encode(&message),
                "signature": hex::encode(signature),
                "key_id": key.key_id().to_string(),
            }));
        }
    }
    Ok(out)
}

/// Runs every check in the page and returns what sm2.js computed; the Rust side compares.
const HARNESS: &str = r#"(async () => {
  const S = window.siteledgerSm2, v = window.__vectors, fresh = window.__fresh;
  const h = (s) => Uint8Array.from(s.match(/../g) || [], (b) => parseInt(b, 16));
  const x = (b) => Array.from(b, (c) => c.toString(16).padStart(2, '0')).join('');
  const hex32 = (n) => n.toString(16).padStart(64, '0');
  let verifications = 0;
  const check = (pk, id, m, sig) => { verifications++; return S.check(pk, id, m, sig); };
  const flip = (b, at) => { const y = b.slice(); y[at] ^= 1; return y; };
  const keys = {};
  v.keys.forEach((k) => { keys[k.name] = k; });
  const out = {};

  out.sm3 = v.sm3.map((t) => ({ name: t.name, digest: x(S.sm3(h(t.input))) }));
  const pattern = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7 + 3) & 255);
  out.sm3_lengths = [];
  for (let n = 0; n <= 130; n++) out.sm3_lengths.push(x(S.sm3(pattern.subarray(0, n))));
  out.sm3_lengths.push(x(S.sm3(pattern)));

  const valid = [];
  const std = v.standard_example, o = v.openssl_example;
  out.standard = {
    z_a: x(S.za(h(std.public_key), std.id)),
    e: x(S.digest(h(std.public_key), std.id, h(std.message))),
    check: check(h(std.public_key), std.id, h(std.message), h(std.signature)),
    key_id: await S.keyId(h(std.public_key), std.id),
  };
  valid.push({ pk: h(std.public_key), id: std.id, m: h(std.message), sig: h(std.signature) });
  out.openssl = {
    e: x(S.digest(h(o.public_key), o.id, h(o.message))),
    check: check(h(o.public_key), o.id, h(o.message), h(o.signature)),
    key_id: await S.keyId(h(o.public_key), o.id),
  };
  valid.push({ pk: h(o.public_key), id: o.id, m: h(o.message), sig: h(o.signature) });
  out.keys = [];
  for (const k of v.keys) {
    out.keys.push({ name: k.name, z_a: x(S.za(h(k.public_key), k.id)), key_id: await S.keyId(h(k.public_key), k.id) });
  }
  out.signatures = v.signatures.map((s) => {
    const k = keys[s.key];
    if (s.valid) valid.push({ pk: h(k.public_key), id: k.id, m: h(s.message), sig: h(s.signature) });
    return {
      name: s.name,
      e: x(S.digest(h(k.public_key), k.id, h(s.message))),
      check: check(h(k.public_key), k.id, h(s.message), h(s.signature)),
    };
  });
  out.invalid = v.invalid_signatures.map((s) => {
    const k = keys[s.key];
    return { name: s.name, check: check(h(k.public_key), s.id, h(s.message), h(s.signature)) };
  });
  out.fresh = [];
  for (const f of fresh) {
    out.fresh.push({ check: check(h(f.public_key), f.id, h(f.message), h(f.signature)), key_id: await S.keyId(h(f.public_key), f.id) });
    valid.push({ pk: h(f.public_key), id: f.id, m: h(f.message), sig: h(f.signature) });
  }

  // Every valid case, altered: one bit of r, of s, of the message, of the identity, of the key's y.
  out.tampered = [];
  valid.forEach((c, i) => {
    const m = c.m.length ? flip(c.m, c.m.length - 1) : new Uint8Array([0]);
    const id = c.id.length ? c.id.slice(0, -1) + String.fromCharCode(c.id.charCodeAt(c.id.length - 1) ^ 1) : 'A';
    [['r', c.pk, c.id, c.m, flip(c.sig, 31)], ['s', c.pk, c.id, c.m, flip(c.sig, 63)], ['message', c.pk, c.id, m, c.sig],
     ['id', c.pk, id, c.m, c.sig], ['public_key', flip(c.pk, 64), c.id, c.m, c.sig]].forEach((t) => {
      out.tampered.push({ case: i, what: t[0], check: check(t[1], t[2], t[3], t[4]) });
    });
  });
  out.valid_cases = valid.length;

  // One bit of every byte of the standard example's signature.
  const spk = h(std.public_key), sm = h(std.message), ssig = h(std.signature);
  out.every_byte = [];
  for (let i = 0; i < 64; i++) out.every_byte.push(check(spk, std.id, sm, flip(ssig, i)));

  // The rules one by one (GB/T 32918.2 §7.1; the public key checks of GB/T 32918.1 §6.2).
  const N = BigInt('0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123');
  const P = 'fffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffff';
  const rh = std.signature.slice(0, 64), sh = std.signature.slice(64);
  const r = BigInt('0x' + rh);
  const withPrefix = (p, rest) => { const y = new Uint8Array(rest.length + 1); y[0] = p; y.set(rest, 1); return y; };
  out.edges = {
    t_zero: check(spk, std.id, sm, h(rh + hex32(N - r))),
    r_zero: check(spk, std.id, sm, h(hex32(0n) + sh)),
    s_n: check(spk, std.id, sm, h(rh + hex32(N))),
    r_n_minus_1: check(spk, std.id, sm, h(hex32(N - 1n) + sh)),
    signature_63_bytes: check(spk, std.id, sm, ssig.subarray(0, 63)),
    key_64_bytes: check(spk.subarray(1), std.id, sm, ssig),
    key_compressed: check(withPrefix(2, spk.subarray(1, 33)), std.id, sm, ssig),
    key_prefix_03: check(withPrefix(3, spk.subarray(1)), std.id, sm, ssig),
    key_x_is_p: check(h('04' + P + std.public_key.slice(66)), std.id, sm, ssig),
    key_zero: check(h('04' + '00'.repeat(64)), std.id, sm, ssig),
    id_8192_bytes: check(spk, 'a'.repeat(8192), sm, ssig),
  };
  out.verifications = verifications;
  return out;
})()"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sm2_js_agrees_with_the_vectors_and_the_signer_crate() -> anyhow::Result<()> {
    let vectors: Value = serde_json::from_str(VECTORS)?;
    // The standard's own examples are among the vectors (every entry of the file is run below).
    let sm3 = vectors["sm3"].as_array().context("sm3 vectors")?;
    for name in ["abc", "abcd_x16"] {
        assert!(
            sm3.iter().any(|t| t["name"] == name && t["source"].as_str().is_some_and(|s| s.contains("GB/T 32905"))),
            "the GB/T 32905 example {name} is missing from sm2-v1.json"
        );
    }
    let standard = &vectors["standard_example"];
    assert!(standard["source"].as_str().is_some_and(|s| s.contains("GB/T 32918")), "{standard}");
    let fresh = fresh_signatures(&vectors)?;

    let browser = HeadlessChromium::launch().await?;
    let result = async {
        // A file: page, a secure context (key ids need WebCrypto's SHA-256; about:blank has none).
        let dir = tempfile::tempdir()?;
        let html = dir.path().join("sm2.html");
        std::fs::write(&html, format!("<!doctype html><meta charset=\"utf-8\"><script>{SM2_JS}</script>"))?;
        let page = browser.open(&format!("file://{}", html.display())).await?;
        let loaded: bool = eval(&page, "window.isSecureContext && typeof window.siteledgerSm2 === 'object'").await?;
        assert!(loaded, "sm2.js did not load in a secure context");
        page.evaluate_expression(format!(
            "window.__vectors = {VECTORS}; window.__fresh = {};",
            Value::Array(fresh.clone())
        ))
        .await
        .context("loading the vectors")?;
        let got: Value = eval(&page, HARNESS).await?;

        // SM3: the standard's examples and every length from 0 to 130 bytes (padding in one or two blocks) and 1000.
        for (want, have) in sm3.iter().zip(got["sm3"].as_array().context("sm3")?) {
            assert_eq!(want["digest"], have["digest"], "SM3 of {}", want["name"]);
        }
        let lengths = got["sm3_lengths"].as_array().context("sm3_lengths")?;
        let sizes: Vec<usize> = (0..=130).chain([1000]).collect();
        assert_eq!(lengths.len(), sizes.len());
        for (n, have) in sizes.iter().zip(lengths) {
            assert_eq!(have.as_str(), Some(hex::encode(sm2::sm3(&pattern(*n))).as_str()), "SM3 of {n} bytes");
        }

        // The standard's signature, OpenSSL's, and the vectors' keys: Z_A, e, key id, verdict.
        let s = &got["standard"];
        assert_eq!((&s["z_a"], &s["e"], &s["key_id"]), (&standard["z_a"], &standard["e"], &standard["key_id"]));
        assert_eq!(s["check"], Value::Null, "GB/T 32918.5 A.2 must verify");
        let o = &got["openssl"];
        let oe = &vectors["openssl_example"];
        assert_eq!((&o["e"], &o["key_id"], &o["check"]), (&oe["e"], &oe["key_id"], &Value::Null));
        for (want, have) in
            vectors["keys"].as_array().context("keys")?.iter().zip(got["keys"].as_array().context("keys")?)
        {
            assert_eq!((&want["z_a"], &want["key_id"]), (&have["z_a"], &have["key_id"]), "key {}", want["name"]);
        }
        let signatures = vectors["signatures"].as_array().context("signatures")?;
        for (want, have) in signatures.iter().zip(got["signatures"].as_array().context("signatures")?) {
            assert_eq!(want["e"], have["e"], "e of {}", want["name"]);
            assert_eq!(want["valid"], Value::Bool(have["check"].is_null()), "{}: {}", want["name"], have["check"]);
        }
        let invalid = vectors["invalid_signatures"].as_array().context("invalid_signatures")?;
        for (want, have) in invalid.iter().zip(got["invalid"].as_array().context("invalid")?) {
            let reason = have["check"].as_str().with_context(|| format!("{} was accepted", want["name"]))?;
            if matches!(want["name"].as_str(), Some("r_equals_n" | "s_zero")) {
                assert!(reason.contains("[1, n−1]"), "{}: {reason}", want["name"]);
            }
        }
        let fresh_got = got["fresh"].as_array().context("fresh")?;
        assert_eq!(fresh_got.len(), fresh.len());
        for (want, have) in fresh.iter().zip(fresh_got) {
            assert_eq!(have["check"], Value::Null, "a signature by the signer crate was refused: {want}");
            assert_eq!(have["key_id"], want["key_id"], "key id of {}", want["id"]);
        }

        // Altered cases all fail, each for its reason.
        let valid_cases = 2 + signatures.iter().filter(|s| s["valid"] == true).count() + fresh.len();
        assert_eq!(got["valid_cases"], valid_cases);
        let tampered = got["tampered"].as_array().context("tampered")?;
        assert_eq!(tampered.len(), 5 * valid_cases);
        for t in tampered {
            let reason = t["check"].as_str().with_context(|| format!("altered case accepted: {t}"))?;
            let want =
                if t["what"] == "public_key" { "not a point of curve sm2p256v1" } else { "invalid SM2 signature" };
            assert!(reason.contains(want), "{t}");
        }
        let every_byte = got["every_byte"].as_array().context("every_byte")?;
        assert_eq!(every_byte.len(), 64);
        assert!(
            every_byte.iter().all(|c| c.is_string()),
            "a one-bit change of the signature was accepted: {every_byte:?}"
        );
        let edges = &got["edges"];
        for (name, want) in [
            ("t_zero", "t = 0"),
            ("r_zero", "[1, n−1]"),
            ("s_n", "[1, n−1]"),
            ("r_n_minus_1", "invalid SM2 signature"),
            ("signature_63_bytes", "64 bytes"),
            ("key_64_bytes", "65 bytes"),
            ("key_compressed", "65 bytes"),
            ("key_prefix_03", "uncompressed"),
            ("key_x_is_p", "not a point"),
            ("key_zero", "not a point"),
            ("id_8192_bytes", "at most 8191"),
        ] {
            let reason = edges[name].as_str().with_context(|| format!("{name} was accepted"))?;
            assert!(reason.contains(want), "{name}: {reason}");
        }
        // Every case above ran through the verifier once (counted in the page).
        let expected = 1 + 1 + signatures.len() + invalid.len() + fresh.len() + tampered.len() + 64 + 11;
        assert_eq!(got["verifications"], expected);
        anyhow::Ok(())
    }
    .await;
    browser.close().await;
    result
}

// -----------------------------------------------------------------------------------------------------------------
// the verify page with SM2 signers

const DECLARED_ID: &str = "91330200MA2H000001";
const FORMAT_1_4: &str = "siteledger-evidence/v1.4";
const CHECKS: [&str; 5] = ["log_key", "checkpoint_signature", "inclusion", "signature", "key_enrollment"];

/// One bundle the page is given, and what it must say.
struct Case {
    name: &'static str,
    format: &'static str,
    /// The city key's enrollment `alg` (None: absent).
    city_alg: Option<&'static str>,
    /// The SM2 key's enrollment `alg` and `sm2_id` (None: absent).
    alg: Option<&'static str>,
    sm2_id: Option<&'static str>,
    /// The identity the SM2 key id (enrollment, envelope `signer`) is computed under, and the one it signs under.
    key_id_under: &'static str,
    sign_under: &'static str,
    /// The bundle's key entry for the SM2 key repeats the enrollment's `alg` and `sm2_id` (false: neither).
    entry_mirrors: bool,
    /// Change the SM2-signed record after signing.
    alter: bool,
    /// Which of [`CHECKS`] pass.
    pass: [bool; 5],
    /// `(check, text its detail must contain)`.
    details: &'static [(&'static str, &'static str)],
}

/// A valid bundle: an SM2 key under the default identity, enrolled with `alg` "sm2"; the cases change one thing.
const VALID: Case = Case {
    name: "sm2_default_identity",
    format: FORMAT_1_4,
    city_alg: None,
    alg: Some("sm2"),
    sm2_id: None,
    key_id_under: DEFAULT_ID,
    sign_under: DEFAULT_ID,
    entry_mirrors: true,
    alter: false,
    pass: [true; 5],
    details: &[],
};

const CASES: &[Case] = &[
    Case {
        name: "sm2_declared_identity",
        sm2_id: Some(DECLARED_ID),
        key_id_under: DECLARED_ID,
        sign_under: DECLARED_ID,
        details: &[
            ("signature", "签名算法：SM2（SM3，签名者身份 91330200MA2H000001）"),
            ("key_enrollment", " Ed25519, "),
            ("key_enrollment", " SM2"),
        ],
        ..VALID
    },
    Case {
        // The city key's enrollment says `alg` "ed25519" outright.
        city_alg: Some("ed25519"),
        details: &[("signature", "签名算法：SM2（SM3，GM/T 0009 默认身份）")],
        ..VALID
    },
    Case {
        name: "signed_under_another_identity",
        sign_under: DECLARED_ID,
        pass: [true, true, true, false, true],
        details: &[("signature", "SM2 签名无效 invalid SM2 signature")],
        ..VALID
    },
    Case {
        name: "key_id_of_another_identity",
        sm2_id: Some(DECLARED_ID),
        pass: [true, true, true, false, false],
        details: &[
            ("signature", "key id ≠ SHA-256(0xff ‖ \"sm2\" ‖ ENTL_A ‖ ID_A ‖ public key)[0:16]"),
            ("key_enrollment", "key id ≠ SHA-256(0xff ‖ \"sm2\""),
        ],
        ..VALID
    },
    Case {
        name: "key_entry_without_alg",
        entry_mirrors: false,
        pass: [true, true, true, false, false],
        details: &[("signature", "证据包的密钥条目与登记记录的算法或签名者身份不一致"), ("key_enrollment", "密钥条目")],
        ..VALID
    },
    Case {
        name: "altered_record",
        alter: true,
        pass: [true, true, false, false, true],
        details: &[("signature", "SM2 签名无效 invalid SM2 signature")],
        ..VALID
    },
    Case {
        name: "unknown_algorithm",
        alg: Some("rsa-2048"),
        pass: [true, true, true, false, false],
        details: &[
            ("signature", "不支持的签名算法 unsupported signature algorithm alg = \"rsa-2048\""),
            ("key_enrollment", "不支持的签名算法"),
        ],
        ..VALID
    },
    Case {
        name: "sm2_in_a_1_3_bundle",
        format: "siteledger-evidence/v1.3",
        pass: [true, true, true, false, false],
        details: &[("signature", "needs bundle format siteledger-evidence/v1.4"), ("key_enrollment", "1.4")],
        ..VALID
    },
    Case {
        name: "unknown_bundle_format",
        format: "siteledger-evidence/v9",
        pass: [false; 5],
        details: &[("log_key", "未能核验 not checked: 本页不支持证据包格式 \"siteledger-evidence/v9\"")],
        ..VALID
    },
];

/// An envelope signed with an SM2 key (the signer crate signs envelopes with Ed25519 only, so the bytes are put
/// together here, per docs/FORMAT.md §4): the first of its signer's chain. `signer` is the key id it names.
fn sm2_envelope(key: &Sm2SigningKey, signer: &str, id: Uuid, payload: Map<String, Value>) -> anyhow::Result<Envelope> {
    let mut value = json!({
        "v": 1,
        "id": id.hyphenated().to_string(),
        "stream": "project/E2E-0001/alarms",
        "kind": "alarm.raised.v1",
        "occurred_at": "2026-03-01T10:00:00+08:00",
        "signer": signer,
        "seq": 1,
        "prev": null,
        "payload": payload,
    });
    let mut message = SIGNATURE_CONTEXT.to_vec();
    message.extend_from_slice(&to_canonical(&value));
    value["sig"] = Value::String(B64.encode(key.sign(&message)));
    Ok(Envelope::from_value(value)?)
}

fn enrollment(key_id: &str, public_key: &str, subject: &str, role: &str) -> Map<String, Value> {
    obj(json!({
        "key_id": key_id,
        "public_key": public_key,
        "subject": subject,
        "role": role,
        "valid_from": "2026-01-01T00:00:00+08:00",
        "valid_until": "2036-01-01T00:00:00+08:00",
    }))
}

/// A three-record log: the city key (Ed25519) enrolls itself and an SM2 key, which signs record `record_id`; the
/// bundle holds all three, proven into the checkpoint of size 3 signed by `log`.
fn sm2_bundle(log: &NoteSigner, record_id: Uuid, sm2_secret: &[u8; 32], case: &Case) -> anyhow::Result<Value> {
    let city = city_key();
    let sm2_key = Sm2SigningKey::from_secret(sm2_secret, case.sign_under)?;
    let public = sm2_key.public().as_bytes();
    let sm2_key_id = Sm2PublicKey::from_bytes(public, case.key_id_under)?.key_id().to_string();
    let sm2_public = B64.encode(public);

    let mut chain = SignerChain::new();
    let mut city_enrollment =
        enrollment(&city.key_id().to_string(), &city.public().to_base64(), "宁波市住房和城乡建设局", "city_bureau");
    if let Some(alg) = case.city_alg {
        city_enrollment.insert("alg".into(), alg.into());
    }
    let at = "2026-01-01T08:00:00+08:00";
    let e0 = chain.sign(&city, Uuid::now_v7(), "registry/keys", KEY_ENROLLED_KIND, at, city_enrollment)?;
    let mut sm2_enrollment = enrollment(&sm2_key_id, &sm2_public, "project/E2E-0001/gateway/GW-SM2", "gateway");
    if let Some(alg) = case.alg {
        sm2_enrollment.insert("alg".into(), alg.into());
    }
    if let Some(id) = case.sm2_id {
        sm2_enrollment.insert("sm2_id".into(), id.into());
    }
    let at = "2026-01-06T09:00:00+08:00";
    let e1 = chain.sign(&city, Uuid::now_v7(), "registry/keys", KEY_ENROLLED_KIND, at, sm2_enrollment)?;
    let alarm = obj(json!({
        "project_id": "E2E-0001", "alarm_id": "E2E-SM2-1", "source": "DUST-1", "category": "dust",
        "level": "warning", "message": "PM10 超过预警值", "value": "96.0", "threshold": "80.0",
    }));
    let e2 = sm2_envelope(&sm2_key, &sm2_key_id, record_id, alarm)?;

    let envelopes = [e0, e1, e2];
    let mut tree = MemoryTree::new();
    for e in &envelopes {
        tree.push(e.leaf_bytes());
    }
    let size = tree.size();
    let checkpoint =
        Checkpoint { origin: log.name().to_owned(), size, root: tree.root(), extensions: vec![] }.sign(log)?;
    let mut records = Vec::new();
    for (index, e) in (0u64..).zip(&envelopes) {
        let proof = tree.inclusion_proof(index, size)?;
        records.push(json!({
            "index": index,
            "envelope": e.to_value(),
            "inclusion": proof.iter().map(|h| B64.encode(h)).collect::<Vec<_>>(),
        }));
    }
    if case.alter {
        records[2]["envelope"]["payload"]["value"] = json!("86.0");
    }
    // Key entries as format 1.4 writes them: an SM2 key's repeats `alg` and a declared `sm2_id`.
    let mut sm2_entry = obj(json!({
        "key_id": sm2_key_id, "public_key": sm2_public, "enrolled_by": envelopes[1].id().hyphenated().to_string(),
    }));
    if case.entry_mirrors {
        if let Some(alg) = case.alg {
            sm2_entry.insert("alg".into(), alg.into());
        }
        if let Some(id) = case.sm2_id {
            sm2_entry.insert("sm2_id".into(), id.into());
        }
    }
    Ok(json!({
        "format": case.format,
        "log_key": log.verifier().vkey(),
        "checkpoint": checkpoint,
        "keys": [
            {"key_id": city.key_id().to_string(), "public_key": city.public().to_base64(),
             "enrolled_by": envelopes[0].id().hyphenated().to_string()},
            sm2_entry,
        ],
        "records": records,
        "consistency": null,
    }))
}

/// A script that answers the page's fetch of `/v1/evidence/…` with `bundle` (everything else goes to the server).
fn serve_bundle(bundle: &Value) -> anyhow::Result<String> {
    let text = serde_json::to_string(&serde_json::to_string(bundle)?)?;
    Ok(format!(
        "(() => {{
            const text = {text};
            const fetch0 = window.fetch.bind(window);
            window.fetch = (url, opts) => String(url).indexOf('/v1/evidence/') < 0 ? fetch0(url, opts) :
                Promise.resolve(new Response(text, {{ status: 200, headers: {{ 'content-type': 'application/json' }} }}));
        }})();"
    ))
}

/// Opens the verify page at `url` answered with `bundle`, waits for its verdict and reads every check as
/// `(name, passed, detail)`.
async fn verify_page_checks(
    browser: &HeadlessChromium,
    url: &str,
    bundle: &Value,
) -> anyhow::Result<(chromiumoxide::page::Page, Vec<(String, bool, String)>)> {
    let page = browser.open_with_init_script(url, &serve_bundle(bundle)?).await?;
    wait_until(
        &page,
        "document.getElementById('verdict').dataset.result !== undefined",
        "document.getElementById('checks').innerText",
        WAIT,
    )
    .await?;
    let checks = eval(
        &page,
        "Array.from(document.querySelectorAll('#checks .check')).map((li) => [li.dataset.check, \
         li.classList.contains('pass'), li.querySelector('.check-detail').textContent])",
    )
    .await?;
    Ok((page, checks))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verify_page_checks_sm2_signers() -> anyhow::Result<()> {
    siteledger_e2e::chromium_or_fail();
    let vectors: Value = serde_json::from_str(VECTORS)?;
    let declared = vectors["keys"]
        .as_array()
        .and_then(|k| k.iter().find(|k| k["name"] == "declared_id"))
        .context("the declared_id key of sm2-v1.json")?;
    let sm2_secret = secret(&declared["private_key"])?;

    let dir = tempfile::tempdir()?;
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse()?,
        demo: true,
        log_origin: "sm2.e2e.siteledger.example/log".into(),
        trust_roots: vec![city_key().public().to_base64()],
        checkpoint_interval_ms: 50,
        ..Config::default()
    };
    let log_seed = [0x62; 32];
    std::fs::create_dir_all(config.key_dir())?;
    SigningKey::from_seed(&log_seed).write_file(&config.key_dir().join("log.key"))?;
    let log = NoteSigner::new(&config.log_origin, SigningKey::from_seed(&log_seed))?;
    let server = siteledger_api::server::spawn(config).await?;
    assert_eq!(log.verifier().vkey(), server.state.ledger.log_verifier().vkey(), "the server's log key");
    let base = server.url();

    // A real record to open the page of: its bundle is then replaced by each case's.
    let token = server.state.tokens.create("e2e", Role::City, None, 1).await?.secret;
    let client = reqwest::Client::builder().timeout(siteledger_e2e::PATIENCE).build()?;
    let envs = SignedCity::new().registry()?;
    ingest(&client, &base, &token, &envs).await?;
    let record_id = envs.last().context("registry records")?.id();
    let url = format!("{base}/verify/{record_id}");

    let shots = super::browser::screenshot_dir();
    let browser = HeadlessChromium::launch().await?;
    let result = async {
        // The page loads sm2.js from the server before verify.js.
        let page = browser.open(&url).await?;
        wait_until(
            &page,
            "document.getElementById('verdict').dataset.result !== undefined",
            "document.body.innerText",
            WAIT,
        )
        .await?;
        let scripts: Vec<String> =
            eval(&page, "Array.from(document.scripts).map((s) => new URL(s.src, location.href).pathname)").await?;
        let sm2_at = scripts.iter().position(|s| s == "/static/sm2.js");
        let verify_at = scripts.iter().position(|s| s == "/static/verify.js");
        assert!(sm2_at.is_some() && sm2_at < verify_at, "{scripts:?}");
        let served: bool = eval(&page, "typeof window.siteledgerSm2.check === 'function'").await?;
        assert!(served);
        // The server's own bundle (format 1, Ed25519 signers) still passes, and says so.
        let verdict: String = eval(&page, "document.getElementById('verdict').dataset.result").await?;
        let checks: String = eval(&page, "document.getElementById('checks').innerText").await?;
        assert_eq!(verdict, "pass", "{checks}");
        assert!(checks.contains("签名算法：Ed25519"), "{checks}");

        for case in CASES {
            let bundle = sm2_bundle(&log, record_id, &sm2_secret, case)?;
            let (page, checks) = verify_page_checks(&browser, &url, &bundle).await.with_context(|| case.name)?;
            let verdict: String = eval(&page, "document.getElementById('verdict').dataset.result").await?;
            let names: Vec<&str> = checks.iter().map(|c| c.0.as_str()).collect();
            assert_eq!(names, CHECKS, "{}", case.name);
            let pass: Vec<bool> = checks.iter().map(|c| c.1).collect();
            assert_eq!(pass, case.pass, "{}: {checks:#?}", case.name);
            let all = case.pass.iter().all(|p| *p);
            assert_eq!(verdict, if all { "pass" } else { "fail" }, "{}", case.name);
            for (check, text) in case.details {
                let detail = &checks.iter().find(|c| c.0 == *check).context("check")?.2;
                assert!(detail.contains(text), "{}: {check} detail lacks {text:?}: {detail}", case.name);
            }
            // A check that fails on its own reason was run, not skipped by an exception.
            if case.pass.iter().any(|p| *p) {
                assert!(checks.iter().all(|c| !c.2.contains("未能核验")), "{}: {checks:#?}", case.name);
            }
            if case.name == "sm2_declared_identity" {
                screenshot(&page, &shots.join("verify-sm2.png")).await?;
            }
        }
        anyhow::Ok(())
    }
    .await;
    browser.close().await;
    server.shutdown().await;
    result
}

// -----------------------------------------------------------------------------------------------------------------
// the verify page with an SM2 log key (format 1.5, docs/FORMAT.md §12) and witness cosignatures

/// The verify page of a server whose log key is SM2: the server's own exported bundle (1.5) passes and names SM2 for
/// the checkpoint; a 1.5 bundle built here with an SM2 signer and a witness's cosignature passes and names the
/// witness; the same bundle declared 1.4, with a flipped checkpoint signature, with a forged cosignature, or with an
/// unlisted witness's line fails exactly the check it should.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verify_page_checks_an_sm2_log_key_and_witness_cosignatures() -> anyhow::Result<()> {
    use siteledger_signer::cosignature::Cosigner;
    use siteledger_signer::keys::AnySigningKey;
    siteledger_e2e::chromium_or_fail();
    let dir = tempfile::tempdir()?;
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse()?,
        demo: true,
        log_origin: "sm2-log.e2e.siteledger.example/log".into(),
        log_key_alg: Some("sm2".into()),
        trust_roots: vec![city_key().public().to_base64()],
        checkpoint_interval_ms: 50,
        ..Config::default()
    };
    let log_secret = sm2::sm3(b"browser test sm2 log key");
    std::fs::create_dir_all(config.key_dir())?;
    AnySigningKey::Sm2(Sm2SigningKey::from_secret(&log_secret, DEFAULT_ID)?)
        .write_file(&config.key_dir().join("log.key"))?;
    let log = NoteSigner::new(&config.log_origin, Sm2SigningKey::from_secret(&log_secret, DEFAULT_ID)?)?;
    let server = siteledger_api::server::spawn(config).await?;
    assert_eq!(log.verifier().vkey(), server.state.ledger.log_verifier().vkey(), "the server's SM2 log key");
    let base = server.url();
    let token = server.state.tokens.create("e2e", Role::City, None, 1).await?.secret;
    let client = reqwest::Client::builder().timeout(siteledger_e2e::PATIENCE).build()?;
    let envs = SignedCity::new().registry()?;
    ingest(&client, &base, &token, &envs).await?;
    let record_id = envs.last().context("registry records")?.id();
    let url = format!("{base}/verify/{record_id}");

    // A 1.5 bundle of an SM2 signer, cosigned by one witness it lists.
    let sm2_secret = sm2::sm3(b"browser test sm2 signer");
    let case = Case { name: "sm2_log_key", format: "siteledger-evidence/v1.5", ..VALID };
    let mut good = sm2_bundle(&log, record_id, &sm2_secret, &case)?;
    let witness = Cosigner::new("witness.e2e.example/court", SigningKey::from_seed(&[0x77; 32]))?;
    let note = good["checkpoint"].as_str().context("checkpoint")?.to_owned();
    let text = &note[..=note.find("\n\n").context("note")?];
    good["checkpoint"] = json!(format!("{note}{}", witness.cosign(text, 1_767_225_600)?));
    good["witnesses"] = json!([witness.verifier().vkey()]);
    let edit = |f: &dyn Fn(&mut Value)| {
        let mut b = good.clone();
        f(&mut b);
        b
    };
    let flip_line = |b: &mut Value, by_log: bool| {
        let note = b["checkpoint"].as_str().unwrap_or_default().to_owned();
        let mut lines: Vec<String> = note.lines().map(str::to_owned).collect();
        let at = if by_log { lines.len() - 2 } else { lines.len() - 1 };
        let (head, sig) = lines[at].rsplit_once(' ').unwrap_or_default();
        let mut raw = B64.decode(sig).unwrap_or_default();
        raw[20] ^= 1;
        lines[at] = format!("{head} {}", B64.encode(raw));
        b["checkpoint"] = json!(format!("{}\n", lines.join("\n")));
    };
    let stranger = Cosigner::new("witness.e2e.example/stranger", SigningKey::from_seed(&[0x78; 32]))?;
    let cases: Vec<(&str, Value, [bool; 5], &str, &str)> = vec![
        ("sm2 log, sm2 signer, cosigned", good.clone(), [true; 5], "checkpoint_signature", "witness.e2e.example/court"),
        (
            "sm2 log key in a 1.4 bundle",
            edit(&|b| b["format"] = json!(FORMAT_1_4)),
            [false, true, true, true, true],
            "log_key",
            "needs bundle format siteledger-evidence/v1.5",
        ),
        (
            "checkpoint signature flipped",
            edit(&|b| flip_line(b, true)),
            [true, false, false, false, false],
            "checkpoint_signature",
            "bad signature",
        ),
        (
            "cosignature flipped",
            edit(&|b| flip_line(b, false)),
            [true, false, false, false, false],
            "checkpoint_signature",
            "bad signature",
        ),
        (
            "unlisted witness",
            edit(&|b| {
                let note = b["checkpoint"].as_str().unwrap_or_default().to_owned();
                let line = stranger.cosign(&note[..=note.find("\n\n").unwrap_or_default()], 5).unwrap_or_default();
                b["checkpoint"] = json!(format!("{note}{line}"));
            }),
            [true, false, false, false, false],
            "checkpoint_signature",
            "bad signature",
        ),
    ];

    let browser = HeadlessChromium::launch().await?;
    let result = async {
        // The server's own export of the record: a 1.5 bundle with the SM2-signed checkpoint.
        let page = browser.open(&url).await?;
        wait_until(
            &page,
            "document.getElementById('verdict').dataset.result !== undefined",
            "document.body.innerText",
            WAIT,
        )
        .await?;
        let verdict: String = eval(&page, "document.getElementById('verdict').dataset.result").await?;
        let checks: String = eval(&page, "document.getElementById('checks').innerText").await?;
        assert_eq!(verdict, "pass", "{checks}");
        assert!(checks.contains("SM2 日志公钥") && checks.contains("algorithm SM2 with SM3"), "{checks}");
        for (name, bundle, pass, check, needle) in &cases {
            let (_, got) = verify_page_checks(&browser, &url, bundle).await.with_context(|| *name)?;
            let passed: Vec<bool> = got.iter().map(|c| c.1).collect();
            assert_eq!(passed, pass.to_vec(), "{name}: {got:#?}");
            let detail = &got.iter().find(|c| c.0 == *check).context("check")?.2;
            assert!(detail.contains(needle), "{name}: {check} detail lacks {needle:?}: {detail}");
        }
        anyhow::Ok(())
    }
    .await;
    browser.close().await;
    server.shutdown().await;
    result
}
