//! SM2/SM3 primitives (issue 18, first step): the published GB/T 32918.5 / GB/T 32905 examples, our own committed
//! vectors (`signer/tests/vectors/sm2-v1.json`), key files, encodings, and a cross-check with Python `gmssl`.
//!
//! Set `SITELEDGER_UPDATE_VECTORS=1` to rewrite the vector file after a deliberate change.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use siteledger_signer::keys::KeyError;
use siteledger_signer::sm2::{
    DEFAULT_ID, SIGNATURE_LEN, Sm2PublicKey, Sm2SignatureError, Sm2SigningKey, signature_from_der, signature_to_der,
    sm3,
};

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn unhex<const N: usize>(s: &str) -> [u8; N] {
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).expect("hex of the right length");
    out
}

/// GB/T 32918.5-2017 Annex A.2 (= GM/T 0003.5-2012 A.2): the signature example on the recommended curve.
/// (GB/T 32918.2-2016 Annex A's example uses a separate 256-bit *test* curve, which no verifier of `sm2p256v1` can
/// check; it is therefore not used.)
const STD_D: &str = "3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8";
const STD_PUBLIC: &str = "0409f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020\
                          ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13";
const STD_K: &str = "59276e27d506861a16680f3ad9c02dccef3cc1fa3cdbe4ce6d54b80deac1bc21";
const STD_Z: &str = "b2e14c5c79c6df5b85f4fe7ed8db7a262b9da7e07ccb0ea9f4747b8ccda8a4f3";
const STD_E: &str = "f0b43e94ba45accaace692ed534382eb17e6ab5a19ce7b31f4486fdfc0d28640";
const STD_R: &str = "f5a03b0648d2c4630eeac513e1bb81a15944da3827d5b74143ac7eaceee720b3";
const STD_S: &str = "b1b6aa29df212fd8763182bc0d421ca1bb9038fd1f7f42d4840b69c485bbc1aa";

/// A declared-identity example made by OpenSSL 3 (`openssl pkeyutl -sign -digest sm3 -pkeyopt
/// distid:example@rustcrypto.org`), published in the RustCrypto `sm2` crate's tests (`tests/sm2dsa.rs`).
const OSSL_PUBLIC: &str = "0408d77ae04c01cc4c1104360dd8af6b6f7df334283d7c1a6afd5652407b87bee5\
                           014e2a57c36c150d16324dc664e31e6432359609c4e79847a5b161c8c7364c8a";
const OSSL_ID: &str = "example@rustcrypto.org";
const OSSL_SIG: &str = "d1dcccedd9fb785e0f67c16b7c52901625c0b69de9bca2144acc7be713cad2fc\
                        f7d1eae6e3a157b36c65f672f738ca8b46298bf149a6510072c431b49cd88b1c";

/// The group order n, for the malformed-signature cases.
const ORDER_N: &str = "fffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123";

/// A declared identity (an enterprise's unified social credit code), beside the GM/T 0009 default.
const DECLARED_ID: &str = "91330200MA2H000001";

fn vector_key(n: u8) -> [u8; 32] {
    // Fixed private keys derived from a label: reproducible, and in [1, n − 2] (checked by from_secret).
    sm3(format!("siteledger sm2 vector key {n}").as_bytes())
}

fn build() -> Value {
    let sm3_cases = json!([
        {"name": "abc", "source": "GB/T 32905-2016 Annex A.1", "input": hex::encode(b"abc"),
         "digest": hex::encode(sm3(b"abc"))},
        {"name": "abcd_x16", "source": "GB/T 32905-2016 Annex A.2 (64 bytes)", "input": hex::encode("abcd".repeat(16)),
         "digest": hex::encode(sm3("abcd".repeat(16).as_bytes()))},
        {"name": "empty", "source": "ours", "input": "", "digest": hex::encode(sm3(b""))},
    ]);
    let std_key = Sm2PublicKey::from_bytes(&unhex::<65>(STD_PUBLIC), DEFAULT_ID).expect("standard key");
    let std_sig: [u8; SIGNATURE_LEN] = unhex(&format!("{STD_R}{STD_S}"));
    let standard = json!({
        "source": "GB/T 32918.5-2017 Annex A.2 (= GM/T 0003.5-2012 A.2), recommended curve sm2p256v1",
        "private_key": STD_D, "public_key": STD_PUBLIC, "id": DEFAULT_ID,
        "message": hex::encode(b"message digest"), "k": STD_K, "z_a": STD_Z, "e": STD_E,
        "signature": format!("{STD_R}{STD_S}"),
        "signature_der": hex::encode(signature_to_der(&std_sig).expect("der")),
        "key_id": std_key.key_id().to_string(),
    });
    let ossl_key = Sm2PublicKey::from_bytes(&unhex::<65>(OSSL_PUBLIC), OSSL_ID).expect("OpenSSL example key");
    let openssl = json!({
        "source": "OpenSSL 3 pkeyutl with distid, as published in the tests of RustCrypto's sm2 crate",
        "public_key": OSSL_PUBLIC, "id": OSSL_ID, "message": hex::encode(b"testing"),
        "e": hex::encode(ossl_key.message_digest(b"testing")), "signature": OSSL_SIG,
        "key_id": ossl_key.key_id().to_string(),
    });
    let specs: [(&str, u8, &str); 3] =
        [("default_id", 1, DEFAULT_ID), ("declared_id", 2, DECLARED_ID), ("empty_id", 3, "")];
    let mut keys = Vec::new();
    let mut signatures = Vec::new();
    let messages: [&[u8]; 3] = [b"", b"siteledger sm2 vector", "宁波 智慧工地 ✓".as_bytes()];
    for (name, n, id) in specs {
        let d = vector_key(n);
        let key = Sm2SigningKey::from_secret(&d, id).expect("vector key");
        keys.push(json!({
            "name": name, "private_key": hex::encode(d), "id": id,
            "public_key": hex::encode(key.public().as_bytes()), "public_key_base64": key.public().to_base64(),
            "key_id": key.key_id().to_string(),
            "z_a": hex::encode(key.public().identity_hash()),
        }));
        for (m, message) in messages.iter().enumerate() {
            let sig = key.sign(message);
            signatures.push(json!({
                "name": format!("{name}/message_{m}"), "key": name, "message": hex::encode(message),
                "e": hex::encode(key.public().message_digest(message)),
                "signature": hex::encode(sig), "signature_der": hex::encode(signature_to_der(&sig).expect("der")),
                "valid": true,
            }));
        }
    }
    // Cases a verifier must reject, each breaking one thing of a valid signature above.
    let base = Sm2SigningKey::from_secret(&vector_key(2), DECLARED_ID).expect("key");
    let good = base.sign(b"siteledger sm2 vector");
    let mut flipped = good;
    flipped[40] ^= 0x01;
    let mut r_n = good;
    r_n[..32].copy_from_slice(&unhex::<32>(ORDER_N));
    let mut s_zero = good;
    s_zero[32..].fill(0);
    let invalid = json!([
        {"name": "wrong_identity", "key": "declared_id", "id": DEFAULT_ID, "message": hex::encode(b"siteledger sm2 vector"),
         "signature": hex::encode(good), "valid": false,
         "rule": "signed under the declared identity, verified under the default one: Z_A differs"},
        {"name": "other_message", "key": "declared_id", "id": DECLARED_ID, "message": hex::encode(b"siteledger sm2 vectoR"),
         "signature": hex::encode(good), "valid": false, "rule": "one byte of the message changed"},
        {"name": "flipped_s", "key": "declared_id", "id": DECLARED_ID, "message": hex::encode(b"siteledger sm2 vector"),
         "signature": hex::encode(flipped), "valid": false, "rule": "one bit of s flipped"},
        {"name": "r_equals_n", "key": "declared_id", "id": DECLARED_ID, "message": hex::encode(b"siteledger sm2 vector"),
         "signature": hex::encode(r_n), "valid": false, "rule": "r must be in [1, n-1] (GB/T 32918.2 §7.1 B1)"},
        {"name": "s_zero", "key": "declared_id", "id": DECLARED_ID, "message": hex::encode(b"siteledger sm2 vector"),
         "signature": hex::encode(s_zero), "valid": false, "rule": "s must be in [1, n-1] (GB/T 32918.2 §7.1 B2)"},
    ]);
    json!({
        "description": "SM2 signatures over SM3 with the GM/T 0009 signer identity, and SM3 digests. Hex unless named \
                        base64. public_key is the uncompressed point 04||x||y; signature is fixed-width r||s; \
                        key_id is SHA-256(0xff || \"sm2\" || ENTL_A || ID_A || public_key)[0:16]. Our signatures use \
                        a deterministic nonce but any valid one must be accepted: check verification, not bytes.",
        "sm3": sm3_cases,
        "standard_example": standard,
        "openssl_example": openssl,
        "keys": keys,
        "signatures": signatures,
        "invalid_signatures": invalid,
    })
}

fn load() -> Value {
    let text = std::fs::read_to_string(vectors_dir().join("sm2-v1.json"))
        .expect("sm2 vectors committed (run with SITELEDGER_UPDATE_VECTORS=1 once)");
    serde_json::from_str(&text).expect("json")
}

fn s<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field].as_str().unwrap_or_else(|| panic!("vector field {field} missing in {v}"))
}

fn key_of(doc: &Value, name: &str, id: &str) -> Sm2PublicKey {
    let k = doc["keys"].as_array().expect("keys").iter().find(|k| k["name"] == name).expect("key named");
    Sm2PublicKey::from_bytes(&hex::decode(s(k, "public_key")).expect("hex"), id).expect("key")
}

#[test]
fn committed_sm2_vectors_match_the_code() {
    let mut text = serde_json::to_string_pretty(&build()).expect("json");
    text.push('\n');
    let path = vectors_dir().join("sm2-v1.json");
    if std::env::var_os("SITELEDGER_UPDATE_VECTORS").is_some() {
        std::fs::write(&path, &text).expect("write");
    }
    let committed = std::fs::read_to_string(&path).expect("sm2 vectors committed");
    assert_eq!(committed, text, "SM2 vectors changed: a format change needs a version bump");
}

#[test]
fn sm3_gives_the_gbt_32905_digests() {
    // The standard's two examples, written out here rather than taken from the vector file the code generates.
    assert_eq!(hex::encode(sm3(b"abc")), "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
    assert_eq!(
        hex::encode(sm3("abcd".repeat(16).as_bytes())),
        "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
    );
    for case in load()["sm3"].as_array().expect("sm3") {
        assert_eq!(hex::encode(sm3(&hex::decode(s(case, "input")).expect("hex"))), s(case, "digest"));
    }
}

#[test]
fn the_published_gbt_32918_example_verifies_with_its_z_a_and_e() {
    let signer = Sm2SigningKey::from_secret(&unhex(STD_D), DEFAULT_ID).expect("standard private key");
    assert_eq!(hex::encode(signer.public().as_bytes()), STD_PUBLIC, "public key = [d]G");
    let key = signer.public();
    assert_eq!(hex::encode(key.identity_hash()), STD_Z);
    assert_eq!(hex::encode(key.message_digest(b"message digest")), STD_E);
    let sig: [u8; SIGNATURE_LEN] = unhex(&format!("{STD_R}{STD_S}"));
    key.verify(b"message digest", &sig).expect("the standard's signature verifies");
    key.verify_digest(&unhex(STD_E), &sig).expect("over the standard's e");
    key.verify_der(b"message digest", &signature_to_der(&sig).expect("der")).expect("DER form verifies");
    assert_eq!(key.verify(b"message digesT", &sig), Err(Sm2SignatureError::Mismatch));
    let other = Sm2PublicKey::from_bytes(key.as_bytes(), "ALICE123@YAHOO.COM").expect("key");
    assert_eq!(other.verify(b"message digest", &sig), Err(Sm2SignatureError::Mismatch), "identity is bound");
}

#[test]
fn an_openssl_signature_under_a_declared_identity_verifies() {
    let key = Sm2PublicKey::from_bytes(&unhex::<65>(OSSL_PUBLIC), OSSL_ID).expect("key");
    let sig: [u8; SIGNATURE_LEN] = unhex(OSSL_SIG);
    key.verify(b"testing", &sig).expect("OpenSSL's signature verifies");
    let default_id = Sm2PublicKey::from_bytes(key.as_bytes(), DEFAULT_ID).expect("key");
    assert_eq!(default_id.verify(b"testing", &sig), Err(Sm2SignatureError::Mismatch));
}

#[test]
fn every_committed_sm2_signature_gets_the_verdict_the_vectors_state() {
    let doc = load();
    for k in doc["keys"].as_array().expect("keys") {
        let signer = Sm2SigningKey::from_secret(&unhex(s(k, "private_key")), s(k, "id")).expect("key");
        assert_eq!(hex::encode(signer.public().as_bytes()), s(k, "public_key"));
        assert_eq!(signer.public().to_base64(), s(k, "public_key_base64"));
        assert_eq!(signer.key_id().to_string(), s(k, "key_id"));
        assert_eq!(hex::encode(signer.public().identity_hash()), s(k, "z_a"));
    }
    for case in doc["signatures"].as_array().expect("signatures") {
        let k = doc["keys"].as_array().expect("keys").iter().find(|k| k["name"] == case["key"]).expect("key");
        let key = key_of(&doc, s(case, "key"), s(k, "id"));
        let message = hex::decode(s(case, "message")).expect("hex");
        let sig: [u8; SIGNATURE_LEN] = unhex(s(case, "signature"));
        assert_eq!(hex::encode(key.message_digest(&message)), s(case, "e"));
        key.verify(&message, &sig).unwrap_or_else(|e| panic!("{}: {e}", s(case, "name")));
        // The digest computed from the standard here and the sm2 crate's internal Z_A agree.
        key.verify_digest(&unhex(s(case, "e")), &sig).expect("over e");
        let der = hex::decode(s(case, "signature_der")).expect("hex");
        assert_eq!(signature_from_der(&der), Ok(sig));
        key.verify_der(&message, &der).expect("DER");
    }
    let bad = doc["invalid_signatures"].as_array().expect("invalid");
    assert_eq!(bad.len(), 5);
    for case in bad {
        let key = key_of(&doc, s(case, "key"), s(case, "id"));
        let message = hex::decode(s(case, "message")).expect("hex");
        let sig: [u8; SIGNATURE_LEN] = unhex(s(case, "signature"));
        let verdict = key.verify(&message, &sig);
        assert!(verdict.is_err(), "{} must be rejected", s(case, "name"));
        let malformed = matches!(s(case, "name"), "r_equals_n" | "s_zero");
        assert_eq!(verdict == Err(Sm2SignatureError::Malformed), malformed, "{}: {verdict:?}", s(case, "name"));
    }
}

#[test]
fn sm2_signing_round_trips_and_binds_key_identity_and_message() {
    let a = Sm2SigningKey::generate(DEFAULT_ID).expect("rng");
    let b = Sm2SigningKey::generate(DEFAULT_ID).expect("rng");
    let sig = a.sign(b"record");
    a.public().verify(b"record", &sig).expect("own signature");
    assert_eq!(b.public().verify(b"record", &sig), Err(Sm2SignatureError::Mismatch));
    assert_eq!(a.public().verify(b"recorD", &sig), Err(Sm2SignatureError::Mismatch));
    let declared = Sm2SigningKey::from_secret(&vector_key(9), DECLARED_ID).expect("key");
    let same_point_default = Sm2PublicKey::from_bytes(declared.public().as_bytes(), DEFAULT_ID).expect("key");
    let sig = declared.sign(b"record");
    declared.public().verify(b"record", &sig).expect("declared identity");
    assert_eq!(same_point_default.verify(b"record", &sig), Err(Sm2SignatureError::Mismatch));
    assert_ne!(same_point_default.key_id(), declared.key_id(), "the identity is part of the key id");
}

#[test]
fn sm2_public_keys_in_other_encodings_or_off_the_curve_are_refused() {
    let key = Sm2SigningKey::from_secret(&vector_key(1), DEFAULT_ID).expect("key");
    let bytes = *key.public().as_bytes();
    let mut compressed = vec![0x02 | (bytes[64] & 1)];
    compressed.extend_from_slice(&bytes[1..33]);
    assert!(matches!(Sm2PublicKey::from_bytes(&compressed, DEFAULT_ID), Err(KeyError::Malformed(_))));
    let mut off_curve = bytes;
    off_curve[64] ^= 1;
    assert!(matches!(Sm2PublicKey::from_bytes(&off_curve, DEFAULT_ID), Err(KeyError::BadPublicKey(_))));
    let mut hybrid = bytes;
    hybrid[0] = 0x06;
    assert!(Sm2PublicKey::from_bytes(&hybrid, DEFAULT_ID).is_err());
    assert!(matches!(Sm2PublicKey::from_bytes(&[0u8; 65], DEFAULT_ID), Err(KeyError::Malformed(_))));
    assert!(matches!(Sm2PublicKey::from_bytes(&bytes, &"x".repeat(8192)), Err(KeyError::Malformed(_))));
    assert!(Sm2SigningKey::from_secret(&[0u8; 32], DEFAULT_ID).is_err(), "d = 0");
    let mut n_minus_1: [u8; 32] = unhex(ORDER_N);
    n_minus_1[31] -= 1;
    assert!(Sm2SigningKey::from_secret(&n_minus_1, DEFAULT_ID).is_err(), "d = n - 1 cannot sign");
    assert!(Sm2SigningKey::from_secret(&unhex(ORDER_N), DEFAULT_ID).is_err(), "d = n");
}

#[test]
fn malformed_der_sm2_signatures_are_refused_not_misread() {
    let key = Sm2SigningKey::from_secret(&vector_key(1), DEFAULT_ID).expect("key");
    let sig = key.sign(b"m");
    let der = signature_to_der(&sig).expect("der");
    key.public().verify_der(b"m", &der).expect("good DER");
    let mut trailing = der.clone();
    trailing.push(0);
    assert_eq!(signature_from_der(&trailing), Err(Sm2SignatureError::Malformed));
    assert_eq!(signature_from_der(&der[..der.len() - 1]), Err(Sm2SignatureError::Malformed));
    assert_eq!(signature_from_der(&[]), Err(Sm2SignatureError::Malformed));
    assert_eq!(signature_to_der(&[0u8; SIGNATURE_LEN]), Err(Sm2SignatureError::Malformed));
}

#[test]
fn sm2_key_file_is_0600_round_trips_and_never_shows_the_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sm2.key");
    let k = Sm2SigningKey::generate("id with spaces 空格").expect("rng");
    k.write_file(&path).expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777, 0o600);
    }
    let back = Sm2SigningKey::read_file(&path).expect("read");
    assert_eq!(back.public(), k.public());
    assert_eq!(back.public().id(), "id with spaces 空格");
    assert!(k.write_file(&path).is_err(), "never overwrites a key");
    let text = std::fs::read_to_string(&path).expect("read");
    let secret_b64 = text.split(' ').nth(1).expect("secret field");
    let secret_hex =
        hex::encode(base64::Engine::decode(&base64::engine::general_purpose::STANDARD, secret_b64).expect("b64"));
    for shown in [format!("{k:?}"), format!("{:?}", k.public())] {
        assert!(!shown.contains(secret_b64) && !shown.to_lowercase().contains(&secret_hex), "{shown}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(matches!(Sm2SigningKey::read_file(&path), Err(KeyError::InsecurePermissions { .. })));
    }
}

/// The Python interpreter with `gmssl` installed: `SITELEDGER_GMSSL_PYTHON`, else the virtual environment
/// `scripts/test.sh` creates in `target/gmssl-venv`.
fn gmssl_python() -> PathBuf {
    if let Some(p) = std::env::var_os("SITELEDGER_GMSSL_PYTHON") {
        return PathBuf::from(p);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("gmssl-venv/bin/python")
}

/// Runs the gmssl cross-check script (`tests/independent/sm2_gmssl.py`) on `request` and returns its answer.
pub(crate) fn run_gmssl(request: &Value) -> Value {
    use std::io::Write as _;
    let python = gmssl_python();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/independent/sm2_gmssl.py");
    let mut child = Command::new(&python)
        .arg(&script)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}. The gmssl cross-check needs Python gmssl: `bash scripts/test.sh` installs it \
                 (python3 -m venv target/gmssl-venv && target/gmssl-venv/bin/pip install gmssl==3.2.2), \
                 or set SITELEDGER_GMSSL_PYTHON",
                python.display()
            )
        });
    child.stdin.take().expect("stdin").write_all(request.to_string().as_bytes()).expect("write request");
    let out = child.wait_with_output().expect("gmssl script ran");
    assert!(out.status.success(), "gmssl script failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("gmssl script answers JSON")
}

#[test]
fn gmssl_and_we_verify_each_others_sm2_signatures_and_agree_on_sm3() {
    let doc = load();
    let mut verify = Vec::new();
    let mut expected = Vec::new();
    let key_by_name = |name: &str| -> Value {
        doc["keys"].as_array().expect("keys").iter().find(|k| k["name"] == name).expect("key").clone()
    };
    // Ours → gmssl: every committed signature (valid and invalid), the standard's, and fresh ones from random keys.
    for case in doc["signatures"]
        .as_array()
        .expect("signatures")
        .iter()
        .chain(doc["invalid_signatures"].as_array().expect("inv"))
    {
        let k = key_by_name(s(case, "key"));
        let id = case.get("id").and_then(Value::as_str).unwrap_or(s(&k, "id"));
        verify.push(json!({"name": s(case, "name"), "public_key": s(&k, "public_key"), "id": id,
                           "message": s(case, "message"), "signature": s(case, "signature")}));
        expected.push(case["valid"].as_bool().expect("valid"));
    }
    let std_case = &doc["standard_example"];
    verify.push(json!({"name": "standard", "public_key": s(std_case, "public_key"), "id": DEFAULT_ID,
                       "message": s(std_case, "message"), "signature": s(std_case, "signature")}));
    expected.push(true);
    let ossl = &doc["openssl_example"];
    verify.push(json!({"name": "openssl", "public_key": s(ossl, "public_key"), "id": s(ossl, "id"),
                       "message": s(ossl, "message"), "signature": s(ossl, "signature")}));
    expected.push(true);
    // The checker itself conforms: with the standard's k, gmssl must produce the standard's r‖s.
    let sign_with_k = json!([{"name": "standard", "private_key": s(std_case, "private_key"),
        "public_key": s(std_case, "public_key"), "id": DEFAULT_ID, "message": s(std_case, "message"),
        "k": s(std_case, "k")}]);
    // Fresh keys each run, with private keys the test knows so gmssl can sign with them too: d = SM3(a random
    // public key ‖ i), random because that public key is.
    let salt = *Sm2SigningKey::generate(DEFAULT_ID).expect("rng").public().as_bytes();
    let fresh: Vec<([u8; 32], Sm2SigningKey, Vec<u8>)> = (0..24u8)
        .map(|i| {
            let id = if i % 2 == 0 { DEFAULT_ID.to_owned() } else { format!("enterprise-{i}@宁波") };
            let d = sm3(&[&salt[..], &[i]].concat());
            let key = Sm2SigningKey::from_secret(&d, &id).expect("d in range");
            (d, key, format!("fresh message {i}").into_bytes())
        })
        .collect();
    let mut sign = Vec::new();
    for (i, (d, key, message)) in fresh.iter().enumerate() {
        let public_key = hex::encode(key.public().as_bytes());
        verify.push(json!({"name": format!("fresh_{i}"), "public_key": public_key, "id": key.public().id(),
                           "message": hex::encode(message), "signature": hex::encode(key.sign(message))}));
        expected.push(true);
        // gmssl → ours: gmssl signs with the same keys (its own random nonces).
        sign.push(json!({"name": format!("fresh_{i}"), "private_key": hex::encode(d), "public_key": public_key,
                         "id": key.public().id(), "message": hex::encode(message)}));
    }
    for k in doc["keys"].as_array().expect("keys") {
        for m in 0..4 {
            sign.push(json!({"name": format!("{}/{m}", s(k, "name")), "private_key": s(k, "private_key"),
                             "public_key": s(k, "public_key"), "id": s(k, "id"),
                             "message": hex::encode(format!("signed by gmssl {m}"))}));
        }
    }
    let sm3_inputs: Vec<String> = doc["sm3"]
        .as_array()
        .expect("sm3")
        .iter()
        .map(|c| s(c, "input").to_owned())
        .chain((0..130).map(|n| hex::encode(vec![0x61u8; n])))
        .collect();
    let request = json!({"sm3": sm3_inputs, "verify": verify, "sign": sign, "sign_with_k": sign_with_k});

    let answer = run_gmssl(&request);

    let digests = answer["sm3"].as_array().expect("sm3");
    assert_eq!(digests.len(), sm3_inputs.len());
    for (input, digest) in sm3_inputs.iter().zip(digests) {
        assert_eq!(
            hex::encode(sm3(&hex::decode(input).expect("hex"))),
            digest.as_str().expect("hex"),
            "SM3 of {input}"
        );
    }
    let verdicts = answer["verify"].as_array().expect("verify");
    assert_eq!(verdicts.len(), expected.len());
    for ((v, want), case) in verdicts.iter().zip(&expected).zip(&verify) {
        assert_eq!(v["valid"].as_bool(), Some(*want), "gmssl's verdict on {}", case["name"]);
    }
    assert_eq!(answer["sign_with_k"][0]["signature"].as_str(), Some(s(std_case, "signature")), "gmssl vs GB/T 32918.5");
    let signed = answer["sign"].as_array().expect("sign");
    assert_eq!(signed.len(), sign.len());
    for (sig, case) in signed.iter().zip(&sign) {
        let key =
            Sm2PublicKey::from_bytes(&hex::decode(s(case, "public_key")).expect("hex"), s(case, "id")).expect("key");
        let signature: [u8; SIGNATURE_LEN] = unhex(s(sig, "signature"));
        let message = hex::decode(s(case, "message")).expect("hex");
        key.verify(&message, &signature).unwrap_or_else(|e| panic!("gmssl's signature {}: {e}", s(case, "name")));
        let mut tampered = message.clone();
        tampered[0] ^= 1;
        assert!(key.verify(&tampered, &signature).is_err());
    }
}
