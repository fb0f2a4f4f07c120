//! RFC 3161 trusted time (docs/FORMAT.md §10) against a real TSA: Debian's `openssl ts -reply`, with a root CA and
//! a TSA certificate generated into a temporary directory by each test (no private keys are committed; P-256 and
//! RSA keys are generated in milliseconds). The TSA signs with RSA (what public TSAs use) under an ECDSA P-256
//! root, so both signature families of the verifier are exercised.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::vectors::vectors_dir;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use siteledger_signer::bundle::{BUNDLE_FORMAT_V1_3, Bundle, CheckKind, verify_timestamped};
use siteledger_signer::sample::SampleLog;
use siteledger_signer::timestamp::{
    TimestampError, checkpoint_imprint, request_for_checkpoint, roots_from_pem, token_from_response, verify_token,
};
use siteledger_signer::verify_bundle;

/// A test TSA: its directory (config, keys, serial file) and the root certificate it chains to.
struct TestTsa {
    dir: tempfile::TempDir,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out =
        Command::new("openssl").args(args).current_dir(dir).output().expect("openssl is installed (scripts/test.sh)");
    assert!(out.status.success(), "openssl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

const TSA_CONFIG: &str = "\
[ tsa ]
default_tsa = tsa_config1

[ tsa_config1 ]
dir = .
serial = ./tsaserial
crypto_device = builtin
signer_cert = ./tsa.crt
certs = ./ca.crt
signer_key = ./tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256

[ root_ext ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ tsa_ext ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ server_ext ]
basicConstraints = critical, CA:false
extendedKeyUsage = serverAuth, timeStamping
";

impl TestTsa {
    /// A root CA `ca.crt` and a TSA certificate `tsa.crt` (extension section `ext`) issued by it.
    fn new(ext: &str) -> TestTsa {
        TestTsa::with_key(ext, false)
    }

    /// As [`TestTsa::new`], with an ECDSA P-256 TSA key instead of RSA when `ec`.
    fn with_key(ext: &str, ec: bool) -> TestTsa {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        std::fs::write(d.join("tsa.cnf"), TSA_CONFIG).expect("config");
        std::fs::write(d.join("tsaserial"), "01\n").expect("serial");
        openssl(d, &["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key"]);
        openssl(
            d,
            &[
                "req",
                "-new",
                "-x509",
                "-key",
                "ca.key",
                "-out",
                "ca.crt",
                "-days",
                "3650",
                "-subj",
                "/C=CN/O=Test TSA Root/CN=测试根证书",
                "-config",
                "tsa.cnf",
                "-extensions",
                "root_ext",
                "-utf8",
            ],
        );
        if ec {
            openssl(d, &["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "tsa.key"]);
        } else {
            openssl(d, &["genrsa", "-out", "tsa.key", "2048"]);
        }
        openssl(d, &["req", "-new", "-key", "tsa.key", "-out", "tsa.csr", "-subj", "/C=CN/O=Test TSA/CN=可信时间戳"]);
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "tsa.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "tsa.crt",
                "-days",
                "3650",
                "-extfile",
                "tsa.cnf",
                "-extensions",
                ext,
            ],
        );
        TestTsa { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn root_pem(&self) -> Vec<u8> {
        std::fs::read(self.path("ca.crt")).expect("root")
    }

    /// The TSA's DER response to a DER request.
    fn reply(&self, request: &[u8]) -> Vec<u8> {
        std::fs::write(self.path("req.tsq"), request).expect("request");
        openssl(self.dir.path(), &["ts", "-reply", "-config", "tsa.cnf", "-queryfile", "req.tsq", "-out", "resp.tsr"]);
        std::fs::read(self.path("resp.tsr")).expect("response")
    }
}

fn checkpoint() -> String {
    let log = SampleLog::new(13).expect("sample log");
    log.checkpoint(log.tree.size()).expect("checkpoint")
}

const NONCE: u64 = 0x5eed_0000_1234_abcd;

/// A token for `checkpoint` from `tsa`.
fn token(tsa: &TestTsa, checkpoint: &str) -> Vec<u8> {
    let req = request_for_checkpoint(checkpoint, NONCE).expect("request");
    token_from_response(&tsa.reply(&req)).expect("granted")
}

#[test]
fn token_from_openssl_tsa_verifies_for_its_checkpoint() {
    let tsa = TestTsa::new("tsa_ext");
    let cp = checkpoint();
    let token = token(&tsa, &cp);
    let roots = roots_from_pem(&tsa.root_pem()).expect("root");
    let v = verify_token(&token, &cp, Some(NONCE), &roots).expect("verifies");
    assert!(v.tsa.contains("Test TSA"), "{v:?}");
    assert_eq!(v.policy, "1.2.3.4.1");
    assert!(v.gen_time.ends_with('Z'));
    // Without the nonce (a verifier that did not send the request) the token still verifies.
    verify_token(&token, &cp, None, &roots).expect("verifies without nonce");
}

#[test]
fn token_from_an_ecdsa_p256_tsa_verifies_and_fails_under_another_checkpoint() {
    let tsa = TestTsa::with_key("tsa_ext", true);
    let cp = checkpoint();
    let token = token(&tsa, &cp);
    let roots = roots_from_pem(&tsa.root_pem()).expect("root");
    verify_token(&token, &cp, Some(NONCE), &roots).expect("an ECDSA-signed token verifies");
    let mut t = token.clone();
    let at = t.windows(32).position(|w| w == checkpoint_imprint(&cp).expect("imprint")).expect("imprint");
    t[at] ^= 0x01;
    let err = verify_token(&t, &cp, Some(NONCE), &roots).expect_err("altered TSTInfo");
    assert_eq!(err.check(), "signed_attributes", "{err}");
}

#[test]
fn siteledger_verify_refuses_an_unreadable_tsa_root_with_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("root.pem");
    std::fs::write(&bad, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").expect("write");
    let out = verify_cli(&vectors_dir().join("bundle-v1.3.json"), Some(&bad));
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("TSA root / 时间戳根证书"));
}

#[test]
fn openssl_reads_our_request_and_its_imprint_is_the_checkpoint_text_sha256() {
    let tsa = TestTsa::new("tsa_ext");
    let cp = checkpoint();
    std::fs::write(tsa.path("req.tsq"), request_for_checkpoint(&cp, NONCE).expect("request")).expect("write");
    let out = Command::new("openssl")
        .args(["ts", "-query", "-in", "req.tsq", "-text"])
        .current_dir(tsa.dir.path())
        .output()
        .expect("openssl");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(text.contains("certificate required: yes"), "{text}");
    assert!(text.contains(&format!("nonce: 0x{NONCE:x}")), "{text}");
    // OpenSSL's own verifier agrees that the token from its TSA binds the checkpoint text (the signed note body).
    let token = token(&tsa, &cp);
    let text_only = &cp[..cp.find("\n\n").expect("note") + 1];
    std::fs::write(tsa.path("token.der"), token).expect("token");
    std::fs::write(tsa.path("checkpoint.txt"), text_only).expect("text");
    openssl(
        tsa.dir.path(),
        &["ts", "-verify", "-token_in", "-in", "token.der", "-data", "checkpoint.txt", "-CAfile", "ca.crt"],
    );
    // The imprint covers the checkpoint text only: the same checkpoint with one more signature line keeps it.
    assert_eq!(checkpoint_imprint(&cp), checkpoint_imprint(text_only));
}

#[test]
fn token_for_another_checkpoint_fails_message_imprint() {
    let tsa = TestTsa::new("tsa_ext");
    let cp = checkpoint();
    let token = token(&tsa, &cp);
    let roots = roots_from_pem(&tsa.root_pem()).expect("root");
    // One byte of the checkpoint text changed (the last digit of the tree size).
    let mut lines: Vec<String> = cp.split('\n').map(str::to_owned).collect();
    let size = &mut lines[1];
    let last = size.pop().expect("size digit");
    size.push(if last == '9' { '8' } else { char::from(last as u8 + 1) });
    let forged = lines.join("\n");
    assert_ne!(forged, cp);
    let err = verify_token(&token, &forged, None, &roots).expect_err("another checkpoint");
    assert_eq!(err.check(), "message_imprint", "{err}");
}

#[test]
fn token_with_another_nonce_fails_nonce() {
    let tsa = TestTsa::new("tsa_ext");
    let cp = checkpoint();
    let token = token(&tsa, &cp);
    let roots = roots_from_pem(&tsa.root_pem()).expect("root");
    let err = verify_token(&token, &cp, Some(NONCE + 1), &roots).expect_err("replayed answer");
    assert!(matches!(err, TimestampError::Nonce(_)), "{err}");
}

/// Flipping one byte anywhere in the token must fail some named check and never verify or panic; the bytes inside
/// the TSTInfo (time, imprint, serial) and inside the signature fail the signed-attribute digest or the signature.
#[test]
fn every_flipped_byte_of_the_token_fails_verification() {
    let tsa = TestTsa::new("tsa_ext");
    let cp = checkpoint();
    let token = token(&tsa, &cp);
    let roots = roots_from_pem(&tsa.root_pem()).expect("root");
    let imprint = checkpoint_imprint(&cp).expect("imprint");
    let at = token.windows(32).position(|w| w == imprint).expect("imprint inside the TSTInfo");
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..token.len() {
        let mut t = token.clone();
        t[i] ^= 0x01;
        let Err(err) = verify_token(&t, &cp, Some(NONCE), &roots) else {
            panic!(
                "flipped byte {i} of {} verified: {:02x?}",
                token.len(),
                &token[i.saturating_sub(12)..(i + 12).min(token.len())]
            );
        };
        seen.insert(err.check());
        if i == at {
            assert_eq!(err.check(), "signed_attributes", "imprint byte flipped: {err}");
        }
    }
    let last = token.len() - 1; // the last byte of the RSA signature (no unsigned attributes)
    let mut t = token.clone();
    t[last] ^= 0x80;
    let err = verify_token(&t, &cp, Some(NONCE), &roots).expect_err("signature byte");
    assert_eq!(err.check(), "token_signature", "{err}");
    assert!(seen.contains("token_format") && seen.contains("token_signature"), "{seen:?}");
}

#[test]
fn token_checked_against_another_root_fails_tsa_chain() {
    let tsa = TestTsa::new("tsa_ext");
    let other = TestTsa::new("tsa_ext");
    let cp = checkpoint();
    let token = token(&tsa, &cp);
    let roots = roots_from_pem(&other.root_pem()).expect("root");
    let err = verify_token(&token, &cp, Some(NONCE), &roots).expect_err("another root");
    assert!(matches!(err, TimestampError::Chain(_)), "{err}");
}

/// OpenSSL's TSA refuses to sign with a certificate lacking the exclusive, critical timeStamping EKU, so the
/// forged token is made with `openssl cms -sign`: the TSTInfo of a good token, signed by the same key under a
/// certificate for serverAuth and timeStamping (non-critical) from the same root. Signature and chain verify; the
/// key usage check alone refuses it.
#[test]
fn token_signed_under_a_non_tsa_certificate_fails_tsa_key_usage() {
    let tsa = TestTsa::new("tsa_ext");
    let cp = checkpoint();
    std::fs::write(tsa.path("token.der"), token(&tsa, &cp)).expect("token");
    let d = tsa.dir.path();
    openssl(d, &["cms", "-verify", "-noverify", "-inform", "DER", "-in", "token.der", "-binary", "-out", "tst.der"]);
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "tsa.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-out",
            "server.crt",
            "-days",
            "3650",
            "-extfile",
            "tsa.cnf",
            "-extensions",
            "server_ext",
        ],
    );
    openssl(
        d,
        &[
            "cms",
            "-sign",
            "-binary",
            "-nodetach",
            "-in",
            "tst.der",
            "-outform",
            "DER",
            "-out",
            "forged.der",
            "-econtent_type",
            "1.2.840.113549.1.9.16.1.4",
            "-signer",
            "server.crt",
            "-inkey",
            "tsa.key",
            "-md",
            "sha256",
            "-nosmimecap",
        ],
    );
    let forged = std::fs::read(tsa.path("forged.der")).expect("forged");
    let roots = roots_from_pem(&tsa.root_pem()).expect("root");
    let err = verify_token(&forged, &cp, Some(NONCE), &roots).expect_err("not a TSA certificate");
    assert!(matches!(err, TimestampError::KeyUsage(_)), "{err}");
}

#[test]
fn refused_response_names_the_tsa_status() {
    // A TimeStampResp with status rejection (2) and text "bad request", no token.
    let resp = [
        0x30, 0x14, 0x30, 0x12, 0x02, 0x01, 0x02, 0x30, 0x0d, 0x0c, 0x0b, b'b', b'a', b'd', b' ', b'r', b'e', b'q',
        b'u', b'e', b's', b't',
    ];
    let err = token_from_response(&resp).expect_err("refused");
    assert_eq!(err.check(), "tsa_status");
    assert!(err.to_string().contains("bad request"), "{err}");
}

/// The version 1.3 bundle: `bundle-v1.json`'s records proven into the checkpoint of size 12, with one token from a
/// test TSA for that checkpoint.
fn timestamped_bundle(tsa: &TestTsa) -> Bundle {
    let log = SampleLog::new(13).expect("sample log");
    let mut b = log.bundle(&[5, 9], 12, Some(16)).expect("bundle");
    let before = b.to_bytes();
    b.add_timestamps(&[]);
    assert_eq!(b.to_bytes(), before, "no token: the bundle stays as it was");
    let token = token(tsa, &b.checkpoint);
    b.add_timestamps(&[token]);
    assert_eq!(b.format, BUNDLE_FORMAT_V1_3);
    b
}

fn failed(report: &siteledger_signer::Report) -> Vec<String> {
    report.failures().map(|c| format!("{:?} {}: {}", c.check, c.subject, c.detail)).collect()
}

fn verify_cli(bundle: &Path, root: Option<&Path>) -> std::process::Output {
    let log = SampleLog::new(13).expect("sample log");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_siteledger-verify"));
    cmd.arg(bundle).args(["--log-key", &log.log.verifier().vkey(), "--json"]);
    if let Some(r) = root {
        cmd.arg("--tsa-root").arg(r);
    }
    cmd.output().expect("run siteledger-verify")
}

/// The committed v1.3 vector (`bundle-v1.3.json` and the TSA root `tsa-root-v1.3.pem`, public certificate only):
/// a TSA token is not reproducible (its time and RSA key are fresh), so the vector is regenerated with a new test
/// TSA only under `SITELEDGER_UPDATE_VECTORS=1`, and otherwise checked as committed.
#[test]
fn committed_v1_3_bundle_verifies_offline_with_its_tsa_root_and_old_bundles_unchanged() {
    let bundle_path = vectors_dir().join("bundle-v1.3.json");
    let root_path = vectors_dir().join("tsa-root-v1.3.pem");
    if std::env::var_os("SITELEDGER_UPDATE_VECTORS").is_some() {
        let tsa = TestTsa::new("tsa_ext");
        std::fs::write(&bundle_path, timestamped_bundle(&tsa).to_bytes()).expect("write");
        std::fs::write(&root_path, tsa.root_pem()).expect("write");
    }
    let log = SampleLog::new(13).expect("sample log");
    let key = log.log.verifier();
    let bytes = std::fs::read(&bundle_path).expect("bundle-v1.3.json committed");
    let roots = roots_from_pem(&std::fs::read(&root_path).expect("root committed")).expect("root");
    // Same records and checkpoint as the v1 vector: only the format and the tokens differ.
    let b = Bundle::parse(&bytes).expect("parses");
    assert_eq!(b.checkpoint, log.bundle(&[5, 9], 12, Some(16)).expect("bundle").checkpoint);

    let r = verify_timestamped(&bytes, &key, None, None, Some(&roots));
    assert!(r.ok, "{:?}", failed(&r));
    assert!(r.checks.iter().any(|c| c.check == CheckKind::Timestamp && c.ok), "{r:?}");
    // Without a root the token is still checked, but the report says it is not anchored.
    let r = verify_bundle(&bytes, &key);
    let ts = r.checks.iter().find(|c| c.check == CheckKind::Timestamp).expect("timestamp check");
    assert!(r.ok && ts.detail.contains("NOT checked against a trusted root"), "{ts:?}");

    // The older vectors verify unchanged, and fail only the timestamp check when a TSA root is demanded.
    for old in ["bundle-v1.json", "bundle-v1.2.json"] {
        let old_bytes = std::fs::read(vectors_dir().join(old)).expect("old vector");
        assert!(verify_bundle(&old_bytes, &key).ok, "{old} no longer verifies");
        let r = verify_timestamped(&old_bytes, &key, None, None, Some(&roots));
        let kinds: Vec<CheckKind> = r.failures().map(|c| c.check).collect();
        assert_eq!(kinds, vec![CheckKind::Timestamp], "{old}: {:?}", failed(&r));
    }

    // The command line: exit 0 with the root, exit 1 naming the check with another root.
    let out = verify_cli(&bundle_path, Some(&root_path));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let other = TestTsa::new("tsa_ext");
    let out = verify_cli(&bundle_path, Some(&other.path("ca.crt")));
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let failed_checks: Vec<&str> = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| c["check"].as_str().expect("name"))
        .collect();
    assert_eq!(failed_checks, ["timestamp"], "{report}");
    assert!(report.to_string().contains("tsa_chain"), "{report}");
}

#[test]
fn timestamped_bundle_with_a_flipped_token_or_checkpoint_byte_fails_the_named_check() {
    let tsa = TestTsa::new("tsa_ext");
    let log = SampleLog::new(13).expect("sample log");
    let key = log.log.verifier();
    let roots = roots_from_pem(&tsa.root_pem()).expect("root");
    let good = timestamped_bundle(&tsa);
    assert!(verify_timestamped(&good.to_bytes(), &key, None, None, Some(&roots)).ok);

    // A byte of the token's signature flipped (re-encoded in canonical base64, so the file stays canonical).
    let mut der = B64.decode(&good.timestamps.as_ref().expect("tokens")[0]).expect("b64");
    let last = der.len() - 1;
    der[last] ^= 0x01;
    let mut b = good.clone();
    b.timestamps = Some(vec![B64.encode(&der)]);
    let r = verify_timestamped(&b.to_bytes(), &key, None, None, Some(&roots));
    let f = failed(&r);
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(f[0].starts_with("Timestamp ") && f[0].contains("token_signature"), "{f:?}");

    // A byte of the checkpoint text flipped: the log signature and the token's imprint both refuse it.
    let mut b = good.clone();
    b.checkpoint = b.checkpoint.replacen("\n12\n", "\n13\n", 1);
    assert_ne!(b.checkpoint, good.checkpoint);
    let r = verify_timestamped(&b.to_bytes(), &key, None, None, Some(&roots));
    assert!(r.failures().any(|c| c.check == CheckKind::CheckpointSignature), "{:?}", failed(&r));
    // The checkpoint cannot be opened, so the later checks are not reported; the token alone names the imprint.
    let token = B64.decode(&good.timestamps.as_ref().expect("tokens")[0]).expect("b64");
    let err = verify_token(&token, &b.checkpoint, None, &roots).expect_err("other checkpoint");
    assert_eq!(err.check(), "message_imprint");

    // A v1.3 bundle must carry tokens; a v1.2 one must not.
    let mut b = good.clone();
    b.timestamps = None;
    assert!(!verify_bundle(&b.to_bytes(), &key).ok);
    let mut b = good;
    b.format = siteledger_signer::bundle::BUNDLE_FORMAT.to_owned();
    let r = verify_bundle(&b.to_bytes(), &key);
    assert!(r.failures().any(|c| c.check == CheckKind::BundleFormat && c.detail.contains("timestamps")), "{r:?}");
}
