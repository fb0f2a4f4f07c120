//! Issue 18's first acceptance line, as one test: the city bureau enrols an enterprise's SM2 key (declared GM/T 0009
//! identity: its 统一社会信用代码); the enterprise's system signs records with the client (`KeyedChain` over an SM2
//! key file); the server on SQLite accepts them; the evidence bundle exported over HTTP is version 1.4 and verifies
//! with the real `siteledger-verify`, which names SM2 for those records; Python `gmssl`, an independent SM2
//! implementation, verifies each SM2 envelope signature over the envelope's signed bytes; one flipped byte fails
//! both. Real SQLite, real TCP, real processes for the verifier and Python. (PostgreSQL key rows are covered by the
//! ledger contract suite, `sm2_keys`, on both databases.)

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use siteledger_api::auth::Role;
use siteledger_api::config::Config;
use siteledger_client::{KeyedChain, Record};
use siteledger_e2e::{SignedCity, city_key, credit_code, ingest};
use siteledger_signer::bundle::KeyEnrollment;
use siteledger_signer::keys::{AnySigningKey, SignerKey};
use siteledger_signer::{Bundle, Envelope};
use uuid::Uuid;

use crate::attachments::verifier;

const PROJECT: &str = "E2E-0001";

/// Python with `gmssl`: `SITELEDGER_GMSSL_PYTHON`, else `target/gmssl-venv` (created by `scripts/test.sh`).
fn gmssl_python() -> PathBuf {
    if let Some(p) = std::env::var_os("SITELEDGER_GMSSL_PYTHON") {
        return PathBuf::from(p);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("gmssl-venv/bin/python")
}

/// One signature for gmssl to check: public key `04‖x‖y`, identity, message, `r‖s`.
type Sm2Case = (Vec<u8>, String, Vec<u8>, [u8; 64]);

/// gmssl's verdict on each case.
fn gmssl_verify(cases: &[Sm2Case]) -> Vec<bool> {
    let verify: Vec<Value> = cases
        .iter()
        .enumerate()
        .map(|(i, (pk, id, m, sig))| {
            json!({"name": format!("case {i}"), "public_key": hex(pk), "id": id, "message": hex(m), "signature": hex(sig)})
        })
        .collect();
    let python = gmssl_python();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../signer/tests/independent/sm2_gmssl.py");
    let mut child = Command::new(&python)
        .arg(&script)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}; set SITELEDGER_GMSSL_PYTHON to a Python with gmssl", python.display()));
    child.stdin.take().expect("stdin").write_all(json!({"verify": verify}).to_string().as_bytes()).expect("write");
    let out = child.wait_with_output().expect("gmssl ran");
    assert!(out.status.success(), "gmssl: {}", String::from_utf8_lossy(&out.stderr));
    let answer: Value = serde_json::from_slice(&out.stdout).expect("json");
    answer["verify"].as_array().expect("verdicts").iter().map(|v| v["valid"].as_bool().expect("bool")).collect()
}

/// `POST /v1/evidence/export` of `ids`, retried until the records are under a signed checkpoint (the next one is
/// signed within `checkpoint_interval_ms`, 100 ms here): the bundle's bytes.
async fn export(http: &reqwest::Client, base: &str, token: &str, ids: &[String]) -> Vec<u8> {
    for _ in 0..200 {
        let r = http
            .post(format!("{base}/v1/evidence/export"))
            .bearer_auth(token)
            .json(&json!({"event_ids": ids}))
            .send()
            .await
            .expect("export");
        if r.status().as_u16() == 200 {
            return r.bytes().await.expect("bundle").to_vec();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the records were not under a signed checkpoint after 20 s");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sm2_enterprise_enrols_signs_and_its_records_verify_with_siteledger_verify_and_gmssl() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config {
        data_dir: dir.path().join("server"),
        listen: "127.0.0.1:0".parse().expect("addr"),
        log_origin: "e2e.siteledger.example/log".into(),
        trust_roots: vec![city_key().public().to_base64()],
        checkpoint_interval_ms: 100,
        ..Config::default()
    };
    let server = siteledger_api::server::spawn(config).await.expect("server");
    let http = reqwest::Client::new();
    let city_token = server.state.tokens.create("e2e city", Role::City, None, 1).await.expect("token").secret;

    // The enterprise's SM2 key file (0600), its identity the enterprise's credit code, as `siteledger keys new
    // --alg sm2 --sm2-id …` makes it.
    let owner = credit_code("91330200MA2E2E010");
    let key_file = dir.path().join("enterprise-sm2.key");
    siteledger_client::keys::generate_sm2(&key_file, &owner).expect("SM2 key file");
    let key = siteledger_client::keys::load_any(&key_file).expect("loads");
    let public: SignerKey = key.public();
    assert_eq!(public.sm2_id(), Some(owner.as_str()));

    // The city bureau enrols it: `alg: "sm2"`, `sm2_id`, the 65-byte point.
    let mut city = SignedCity::new();
    let mut envs = city.registry().expect("registry");
    let enrol = KeyEnrollment {
        key_id: public.key_id().to_string(),
        public_key: public.to_base64(),
        subject: owner.clone(),
        role: "enterprise".into(),
        valid_from: "2026-01-01T00:00:00+08:00".into(),
        valid_until: Some("2036-01-01T00:00:00+08:00".into()),
    }
    .to_payload_for(&public);
    assert_eq!((enrol["alg"].as_str(), enrol["sm2_id"].as_str()), (Some("sm2"), Some(owner.as_str())));
    let at = "2026-01-07T09:00:00+08:00";
    let lab = json!({"credit_code": credit_code("91330200MA2LAB001"), "name": "宁波市建设工程检测有限公司",
                     "types": ["testing_lab"]});
    let lab = lab.as_object().expect("obj").clone();
    envs.push(
        city.city.sign(Uuid::now_v7(), "registry/orgs", "registry.enterprise.registered.v1", at, lab).expect("sign"),
    );
    envs.push(city.city.sign(Uuid::now_v7(), "registry/keys", "ledger.key.enrolled.v1", at, enrol).expect("sign"));
    ingest(&http, &server.url(), &city_token, &envs).await.expect("registry and the SM2 enrolment accepted");

    // The enterprise's system signs records with the client, checked against the domain first.
    let mut ent: KeyedChain<AnySigningKey> = KeyedChain::new(key);
    let stream = format!("project/{PROJECT}/testing");
    let records = [
        json!({"project_id": PROJECT, "commission_id": "C-SM2-1", "lab": credit_code("91330200MA2LAB001"),
               "item": "混凝土抗压强度", "structural": true}),
        json!({"project_id": PROJECT, "commission_id": "C-SM2-2", "lab": credit_code("91330200MA2LAB001"),
               "item": "钢筋力学性能", "structural": true}),
    ];
    let mut signed: Vec<Envelope> = Vec::new();
    for (i, payload) in records.iter().enumerate() {
        let occurred = format!("2026-02-0{}T10:00:00+08:00", i + 1);
        let record =
            Record::parts("testing.commissioned.v1", &stream, &occurred, payload.as_object().expect("obj").clone());
        signed.push(ent.sign_record(Uuid::now_v7(), record).expect("signed with SM2"));
    }
    let ent_token = server
        .state
        .tokens
        .create("e2e enterprise", Role::Gateway, Some(&public.key_id().to_string()), 1)
        .await
        .expect("token")
        .secret;
    ingest(&http, &server.url(), &ent_token, &signed).await.expect("the server accepts the SM2-signed records");

    // The evidence bundle over HTTP: version 1.4, with the enrolment.
    let ids: Vec<String> = signed.iter().map(|e| e.id().to_string()).collect();
    let bundle_bytes = export(&http, &server.url(), &city_token, &ids).await;
    let bundle = Bundle::parse(&bundle_bytes).expect("a canonical bundle");
    assert_eq!(bundle.format, "siteledger-evidence/v1.4");
    let entry = bundle.keys.iter().find(|k| k.key_id == public.key_id().to_string()).expect("the SM2 key entry");
    assert_eq!((entry.alg.as_deref(), entry.sm2_id.as_deref()), (Some("sm2"), Some(owner.as_str())));
    let path = dir.path().join("bundle.json");
    std::fs::write(&path, &bundle_bytes).expect("write");

    // siteledger-verify, as a user runs it.
    let vkey = server.state.ledger.log_verifier().vkey();
    let verify = |p: &Path| Command::new(verifier()).arg(p).args(["--log-key", &vkey]).output().expect("runs");
    let ok = verify(&path);
    let text = String::from_utf8_lossy(&ok.stdout).into_owned();
    assert!(ok.status.success(), "{text}\n{}", String::from_utf8_lossy(&ok.stderr));
    assert_eq!(text.matches("SM2 signature valid").count(), 2, "{text}");
    assert!(text.contains(&format!("signer identity {owner:?}")), "{text}");

    // gmssl verifies each SM2 envelope's signature over its signed bytes; a flipped byte fails.
    let mut cases = Vec::new();
    for r in &bundle.records {
        let env = Envelope::from_value(r.envelope.clone()).expect("envelope");
        if env.signer() != public.key_id() {
            continue;
        }
        let mut flipped = env.signed_message().to_vec();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 1;
        for message in [env.signed_message().to_vec(), flipped] {
            cases.push((public.as_bytes().to_vec(), owner.clone(), message, *env.signature()));
        }
    }
    assert_eq!(cases.len(), 4, "two SM2 records in the bundle");
    assert_eq!(gmssl_verify(&cases), vec![true, false, true, false]);

    // One flipped byte in the bundle's SM2 record fails siteledger-verify.
    let text = String::from_utf8(bundle_bytes).expect("utf-8");
    let needle = "钢筋力学性能";
    assert!(text.contains(needle));
    let tampered = dir.path().join("tampered.json");
    std::fs::write(&tampered, text.replacen(needle, "钢筋力学性质", 1)).expect("write");
    let bad = verify(&tampered);
    let said = String::from_utf8_lossy(&bad.stdout).into_owned();
    assert_eq!(bad.status.code(), Some(1), "{said}");
    assert!(said.contains("记录签名") && said.contains("FAIL"), "{said}");

    server.shutdown().await;
}

/// Issue 18, "checkpoints may be SM2-signed" (docs/FORMAT.md §12): a log created with `log_key_alg = "sm2"` publishes
/// an SM2 verifier key, signs its checkpoints with SM2 over SM3, exports version 1.5 bundles that the real
/// `siteledger-verify` accepts (and refuses with one checkpoint byte flipped); gmssl verifies the checkpoint
/// signature independently; the key is kept across a restart and a different configured algorithm is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_created_with_an_sm2_key_signs_checkpoints_that_verify_offline_and_with_gmssl() {
    use siteledger_signer::keys::KeyAlgorithm;
    use siteledger_signer::note::{Checkpoint, NoteVerifier, split};

    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config {
        data_dir: dir.path().join("server"),
        listen: "127.0.0.1:0".parse().expect("addr"),
        log_origin: "e2e.siteledger.example/sm2-log".into(),
        log_key_alg: Some("sm2".into()),
        trust_roots: vec![city_key().public().to_base64()],
        checkpoint_interval_ms: 100,
        ..Config::default()
    };
    let server = siteledger_api::server::spawn(config.clone()).await.expect("server");
    let http = reqwest::Client::new();
    let city_token = server.state.tokens.create("e2e city", Role::City, None, 1).await.expect("token").secret;
    let published =
        http.get(format!("{}/v1/log/key", server.url())).send().await.expect("key").text().await.expect("t");
    let vkey = NoteVerifier::parse(published.trim()).expect("the published SM2 verifier key parses");
    assert_eq!(vkey.algorithm(), KeyAlgorithm::Sm2);
    let log_point = vkey.key().as_bytes().to_vec();
    let log_id = vkey.key().sm2_id().expect("an SM2 identity").to_owned();

    let mut city = SignedCity::new();
    let envs = city.registry().expect("registry");
    ingest(&http, &server.url(), &city_token, &envs).await.expect("accepted");
    let ids: Vec<String> = envs.iter().take(2).map(|e| e.id().to_string()).collect();
    let bundle_bytes = export(&http, &server.url(), &city_token, &ids).await;
    let bundle = Bundle::parse(&bundle_bytes).expect("a canonical bundle");
    assert_eq!(bundle.format, "siteledger-evidence/v1.5", "an SM2 log key makes a version 1.5 bundle");
    assert_eq!(bundle.log_key, vkey.vkey());
    let cp = Checkpoint::open(&bundle.checkpoint, &vkey, true).expect("the checkpoint verifies with the SM2 key");
    assert!(cp.size >= envs.len() as u64);

    // The transparency endpoint's checkpoint is SM2-signed too.
    let latest = http.get(format!("{}/v1/log/checkpoint", server.url())).send().await.expect("cp").text().await;
    Checkpoint::open(&latest.expect("text"), &vkey, false).expect("the published checkpoint verifies");

    // siteledger-verify, as a user runs it; one flipped byte of the checkpoint's signature fails it.
    let path = dir.path().join("bundle.json");
    std::fs::write(&path, &bundle_bytes).expect("write");
    let verify = |p: &Path| Command::new(verifier()).arg(p).args(["--log-key", &vkey.vkey()]).output().expect("runs");
    let ok = verify(&path);
    let text = String::from_utf8_lossy(&ok.stdout).into_owned();
    assert!(ok.status.success(), "{text}\n{}", String::from_utf8_lossy(&ok.stderr));
    assert!(text.contains("SM2 signature (identity"), "{text}");
    let (signed_text, lines) = split(&bundle.checkpoint).expect("note");
    let line = lines.iter().find(|l| l.blob[..4] == vkey.id()).expect("the log's line");
    let sig: [u8; 64] = line.blob[4..].try_into().expect("64 bytes");
    let mut flipped_sig = sig;
    flipped_sig[7] ^= 1;
    let mut tampered = bundle.clone();
    let b64 = |b: &[u8]| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(b)
    };
    tampered.checkpoint = bundle
        .checkpoint
        .replace(&b64(&[&vkey.id()[..], &sig[..]].concat()), &b64(&[&vkey.id()[..], &flipped_sig[..]].concat()));
    assert_ne!(tampered.checkpoint, bundle.checkpoint);
    let bad_path = dir.path().join("flipped.json");
    std::fs::write(&bad_path, tampered.to_bytes()).expect("write");
    let bad = verify(&bad_path);
    let said = String::from_utf8_lossy(&bad.stdout).into_owned();
    assert_eq!(bad.status.code(), Some(1), "{said}");
    assert!(said.contains("检查点签名") && said.contains("FAIL"), "{said}");

    // gmssl, from the published key's point and identity and the note's text: valid as signed, not when flipped.
    let m = signed_text.as_bytes().to_vec();
    assert_eq!(
        gmssl_verify(&[(log_point.clone(), log_id.clone(), m.clone(), sig), (log_point, log_id, m, flipped_sig)]),
        vec![true, false]
    );
    server.shutdown().await;

    // The key file is the log's for good: a restart keeps it; asking for another algorithm is refused, not obeyed.
    let restarted = siteledger_api::server::spawn(Config { log_key_alg: None, ..config.clone() }).await.expect("up");
    assert_eq!(restarted.state.ledger.log_verifier().vkey(), vkey.vkey());
    restarted.shutdown().await;
    let Err(err) = siteledger_api::server::spawn(Config { log_key_alg: Some("ed25519".into()), ..config }).await else {
        panic!("a different log key algorithm must be refused");
    };
    assert!(format!("{err:#}").contains("log_key_alg"), "{err:#}");
}
