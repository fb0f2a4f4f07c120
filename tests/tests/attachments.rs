//! Issue 14's acceptance, as one test: a testing laboratory's agent (its key enrolled by the city bureau) takes a
//! report's PDF and the report citing it over plain HTTP (hand-written JSON, no client library in the request
//! path), sends the PDF to the platform before the report, and the evidence package exported over HTTP with the
//! attachment verifies with the real `siteledger-verify`, and fails naming the file once one byte of the PDF is
//! flipped. The owner's commission and witnessed sampling come through the owner's own agent the same way.
//! Real SQLite, real TCP, real processes for `tar` and the verifier.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use siteledger_api::auth::Role;
use siteledger_api::blobs::BlobStore;
use siteledger_api::config::Config;
use siteledger_api::server::RunningServer;
use siteledger_e2e::{PATIENCE, SignedCity, city_key, credit_code, ingest};
use siteledger_gateway_agent::{Agent, AgentConfig, AgentHandle};
use siteledger_signer::SigningKey;
use uuid::Uuid;

const PROJECT: &str = "E2E-0001";
const INTAKE_TOKEN: &str = "e2e-attachments-intake-token-0123456789";
/// A small real PDF (one page of text), as a laboratory's LIMS exports a report.
const REPORT_PDF: &[u8] = include_bytes!("../fixtures/report.pdf");

/// The log's records signed by `key_id`, in log order: `(position, kind, event id)`.
async fn records_of(server: &RunningServer, key_id: &str) -> Vec<(u64, String, String)> {
    let all = server.state.ledger.read_all(0, 1_000_000).await.expect("read log");
    all.into_iter().filter(|e| e.signer == key_id).map(|e| (e.position, e.kind, e.event_id.to_string())).collect()
}

/// Waits until the log holds `n` records of `key_id`, looking again whenever the log grows.
async fn wait_for(server: &RunningServer, key_id: &str, n: usize) -> Vec<(u64, String, String)> {
    let mut head = server.state.ledger.watch_head();
    let waited = tokio::time::timeout(PATIENCE, async {
        loop {
            let got = records_of(server, key_id).await;
            if got.len() >= n {
                return got;
            }
            let _ = head.changed().await;
        }
    })
    .await;
    waited.unwrap_or_else(|_| panic!("{n} records of {key_id} did not reach the log within {PATIENCE:?}"))
}

/// An organisation's agent (`role`, `subject`) uploading to `server` with a platform token bound to its key.
async fn agent(
    server: &RunningServer,
    dir: &Path,
    name: &str,
    key: SigningKey,
    role: &str,
    subject: &str,
) -> AgentHandle {
    let key_id = key.key_id().to_string();
    let token = server.state.tokens.create(name, Role::Gateway, Some(&key_id), 1).await.expect("token").secret;
    let mut c = AgentConfig::new(&server.url(), "", "", &dir.join(format!("{name}.key")), &dir.join(name));
    c.role = role.into();
    c.subject = Some(subject.into());
    c.hj212_listen = None;
    c.heartbeat_secs = 0;
    c.intake_token_sha256 = Some(siteledger_gateway_agent::config::intake_token_sha256(INTAKE_TOKEN));
    Agent::start(c, key, token).await.expect("the agent starts")
}

/// Posts `body` to the agent's `path` with the intake token; the status and JSON answer.
async fn post(http: &reqwest::Client, agent: &AgentHandle, path: &str, body: &Value) -> (u16, Value) {
    let url = format!("{}{path}", agent.intake_url().expect("an intake"));
    let r = http.post(url).bearer_auth(INTAKE_TOKEN).json(body).send().await.expect("post");
    (r.status().as_u16(), r.json().await.expect("json answer"))
}

/// The signer crate's verifier binary, built if this run has not built it yet (another package's binary, so cargo
/// does not hand this test its path).
pub(crate) fn verifier() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../signer/Cargo.toml");
    let out = Command::new(env!("CARGO"))
        .args(["build", "--locked", "--quiet", "--bin", "siteledger-verify", "--manifest-path"])
        .arg(&manifest)
        .output()
        .expect("cargo runs");
    assert!(out.status.success(), "building siteledger-verify: {}", String::from_utf8_lossy(&out.stderr));
    let exe = std::env::current_exe().expect("test binary");
    let bin = exe.parent().and_then(Path::parent).expect("target dir").join("siteledger-verify");
    assert!(bin.is_file(), "no verifier at {}", bin.display());
    bin
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lab_agent_report_with_its_pdf_exports_a_package_that_verifies_and_a_flipped_byte_fails() {
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

    // The city bureau registers the laboratory and enrols the lab's and the owner's keys.
    let mut city = SignedCity::new();
    let mut envs = city.registry().expect("registry");
    let lab = credit_code("91330200MA2LAB001");
    let owner = credit_code("91330200MA2E2E010");
    let (lab_key, owner_key) = (SigningKey::from_seed(&[0x61; 32]), SigningKey::from_seed(&[0x62; 32]));
    let (lab_id, owner_id) = (lab_key.key_id().to_string(), owner_key.key_id().to_string());
    let at = "2026-01-07T09:00:00+08:00";
    let obj = |v: Value| v.as_object().cloned().expect("object");
    let registered = obj(json!({"credit_code": lab, "name": "宁波市建设工程检测有限公司", "types": ["testing_lab"]}));
    envs.push(
        city.city
            .sign(Uuid::now_v7(), "registry/orgs", "registry.enterprise.registered.v1", at, registered)
            .expect("sign"),
    );
    for (key, subject, role) in [(&lab_key, &lab, "testing_lab"), (&owner_key, &owner, "enterprise")] {
        let enrol = obj(json!({"key_id": key.key_id().to_string(), "public_key": key.public().to_base64(),
            "subject": subject, "role": role, "valid_from": "2026-01-01T00:00:00+08:00",
            "valid_until": "2036-01-01T00:00:00+08:00"}));
        envs.push(city.city.sign(Uuid::now_v7(), "registry/keys", "ledger.key.enrolled.v1", at, enrol).expect("sign"));
    }
    ingest(&http, &server.url(), &city_token, &envs).await.expect("registry and enrolments accepted");

    // The owner (建设单位) commissions the test and records the witnessed sampling (见证取样) through its agent.
    let owner_agent = agent(&server, dir.path(), "owner", owner_key, "enterprise", &owner).await;
    let stream = format!("project/{PROJECT}/testing");
    for body in [
        json!({"kind": "testing.commissioned.v1", "stream": stream, "payload": {"project_id": PROJECT,
               "commission_id": "C-0001", "lab": lab, "item": "混凝土抗压强度", "structural": true}}),
        json!({"kind": "testing.sample.taken.v1", "stream": stream, "payload": {"project_id": PROJECT,
               "commission_id": "C-0001", "sample_id": "S-0001", "seal_id": "SEAL-0001", "witness": "张监理",
               "sampler": "刘取样"}}),
    ] {
        let (status, v) = post(&http, &owner_agent, "/v1/records", &body).await;
        assert_eq!(status, 201, "{v}");
    }
    wait_for(&server, &owner_id, 2).await;

    // The laboratory's agent: the PDF first (401 without the local token), then the receipt and the report.
    let lab_agent = agent(&server, dir.path(), "lab", lab_key, "testing_lab", &lab).await;
    let blobs = format!("{}/v1/blobs", lab_agent.intake_url().expect("an intake"));
    let bare = http.post(&blobs).header("content-type", "application/pdf").body(REPORT_PDF.to_vec()).send().await;
    assert_eq!(bare.expect("post").status().as_u16(), 401, "no file is taken without the local token");
    let r = http.post(&blobs).bearer_auth(INTAKE_TOKEN).body(REPORT_PDF.to_vec()).send().await.expect("post pdf");
    assert_eq!(r.status().as_u16(), 201);
    let stored: Value = r.json().await.expect("json");
    let sha = stored["sha256"].as_str().expect("sha256").to_owned();
    assert_eq!(
        (stored["bytes"].as_u64(), stored["media_type"].as_str()),
        (Some(REPORT_PDF.len() as u64), Some("application/pdf"))
    );
    let (status, v) = post(
        &http,
        &lab_agent,
        "/v1/records",
        &json!({"kind": "testing.sample.received.v1",
        "stream": stream, "payload": {"project_id": PROJECT, "sample_id": "S-0001", "seal_id": "SEAL-0001",
        "seal_intact": true, "condition": "试块完好，封识无损"}}),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let (status, report) = post(
        &http,
        &lab_agent,
        "/v1/records",
        &json!({"kind": "testing.report.issued.v1",
        "stream": stream, "payload": {"project_id": PROJECT, "sample_id": "S-0001", "report_year": 2026,
        "report_seq": 17, "tester": "王检测", "reviewer": "李审核", "approver": "赵批准", "result": "qualified",
        "summary": "C30 混凝土试块 28 天抗压强度 36.2 MPa，符合设计要求", "report_sha256": sha}}),
    )
    .await;
    assert_eq!(status, 201, "{report}");
    let report_id = report["event_id"].as_str().expect("the 201 names the record's event_id").to_owned();
    assert_eq!(report["seq"], 2);

    // Both records in the log, in chain order; the platform holds the PDF, sent before the report.
    let logged = wait_for(&server, &lab_id, 2).await;
    let kinds: Vec<&str> = logged.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(kinds, ["testing.sample.received.v1", "testing.report.issued.v1"]);
    assert_eq!(logged[1].2, report_id, "the event_id the agent answered is the logged record's");
    assert_eq!(server.state.blobs.read(&sha).await.expect("blob store"), Some(REPORT_PDF.to_vec()));
    let status = lab_agent.shared.status();
    assert_eq!((status["parked"].as_u64(), status["attachments_sent"].as_u64()), (Some(0), Some(1)), "{status}");

    // The evidence package of the report, over HTTP, with its attachment.
    let r = http
        .post(format!("{}/v1/evidence/export", server.url()))
        .bearer_auth(&city_token)
        .json(&json!({"event_ids": [report_id], "attachments": true}))
        .send()
        .await
        .expect("export");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "application/x-tar");
    let tar = r.bytes().await.expect("package");
    let case = dir.path().join("case");
    std::fs::create_dir(&case).expect("dir");
    std::fs::write(dir.path().join("case.tar"), &tar).expect("write");
    let untar = Command::new("tar").arg("-xf").arg(dir.path().join("case.tar")).arg("-C").arg(&case).output();
    assert!(untar.expect("tar runs").status.success(), "the package is a tar archive");
    let bundle: Value =
        serde_json::from_slice(&std::fs::read(case.join("bundle.json")).expect("bundle")).expect("json");
    assert_eq!(bundle["format"], "siteledger-evidence/v1.1");
    let pdf = case.join("attachments").join(&sha);
    assert_eq!(std::fs::read(&pdf).expect("the PDF is in the package"), REPORT_PDF);

    let vkey = server.state.ledger.log_verifier().vkey();
    let verify = || {
        Command::new(verifier())
            .arg(case.join("bundle.json"))
            .args(["--log-key", &vkey, "--attachments"])
            .arg(case.join("attachments"))
            .output()
            .expect("siteledger-verify runs")
    };
    let ok = verify();
    assert!(ok.status.success(), "{}\n{}", String::from_utf8_lossy(&ok.stdout), String::from_utf8_lossy(&ok.stderr));

    let mut flipped = REPORT_PDF.to_vec();
    flipped[REPORT_PDF.len() / 2] ^= 0x01;
    std::fs::write(&pdf, &flipped).expect("flip a byte");
    let bad = verify();
    let said = format!("{}{}", String::from_utf8_lossy(&bad.stdout), String::from_utf8_lossy(&bad.stderr));
    assert!(!bad.status.success(), "a flipped byte must fail: {said}");
    assert!(said.contains(&sha), "the failure names the attachment: {said}");

    owner_agent.shutdown().await;
    lab_agent.shutdown().await;
    server.shutdown().await;
}
