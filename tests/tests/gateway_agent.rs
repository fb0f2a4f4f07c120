//! The site gateway agent against the real platform: store-and-forward through an outage, and through a SIGKILL of
//! the agent process in the middle of an upload. Real HJ 212 over TCP from simulated monitors, real HTTP to a real
//! `siteledger` server (SQLite), and the ledger as the judge: every acknowledged reading is in the log exactly once,
//! the gateway's chain is 1…N without gaps or equivocation, in log order.
//!
//! The restart test's agent runs in a child process: this test binary re-executed with `--ignored --exact
//! gateway_agent::child_entry` (the pattern of `ledger/tests/ledger/crash.rs`), so SIGKILL hits a real process
//! with its own SQLite queue.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use siteledger_api::auth::Role;
use siteledger_api::config::Config;
use siteledger_api::server::RunningServer;
use siteledger_e2e::{PATIENCE, SignedCity, city_key, ingest};
use siteledger_gateway_agent::simulate::{MonitorSpec, run_monitor};
use siteledger_gateway_agent::{Agent, AgentConfig, DeviceConfig, DeviceKind, ParticulateUnit};
use siteledger_signer::SigningKey;

const MN: &str = "010000A8900016F000169DC0";
const PROJECT: &str = "E2E-0001";

pub(crate) fn server_config(dir: &Path, listen: SocketAddr) -> Config {
    Config {
        data_dir: dir.to_path_buf(),
        listen,
        log_origin: "e2e.siteledger.example/log".into(),
        trust_roots: vec![city_key().public().to_base64()],
        checkpoint_interval_ms: 100,
        ..Config::default()
    }
}

/// A server with the small signed city registered; returns it, the gateway key of project 0 and a gateway token.
pub(crate) async fn platform(dir: &Path) -> (RunningServer, SigningKey, String) {
    let server =
        siteledger_api::server::spawn(server_config(dir, "127.0.0.1:0".parse().expect("addr"))).await.expect("server");
    let mut city = SignedCity::new();
    let envs = city.registry().expect("registry");
    let client = reqwest::Client::new();
    let city_token = server.state.tokens.create("e2e city", Role::City, None, 1).await.expect("token").secret;
    ingest(&client, &server.url(), &city_token, &envs).await.expect("registry accepted");
    let key = SigningKey::from_seed(&[0x46; 32]); // project 0's gateway in SignedCity
    let token = server
        .state
        .tokens
        .create("e2e gateway", Role::Gateway, Some(&key.key_id().to_string()), 1)
        .await
        .expect("gateway token")
        .secret;
    (server, key, token)
}

/// The local intake token of the tests' agents.
const INTAKE_TOKEN: &str = "e2e-intake-token-0123456789abcdef";

fn agent_config(url: &str, dir: &Path, batch: usize) -> AgentConfig {
    let mut c = AgentConfig::new(url, PROJECT, "GW-1", &dir.join("gateway.key"), &dir.join("queue"));
    c.heartbeat_secs = 0;
    c.intake_token_sha256 = Some(siteledger_gateway_agent::config::intake_token_sha256(INTAKE_TOKEN));
    c.upload_batch = batch;
    c.devices = vec![DeviceConfig {
        id: "DUST-1".into(),
        kind: DeviceKind::Hj212,
        mn: Some(MN.into()),
        particulate_unit: ParticulateUnit::Milligram,
        thresholds: Default::default(),
    }];
    c
}

fn monitor() -> MonitorSpec {
    MonitorSpec {
        mn: MN.into(),
        unit: ParticulateUnit::Milligram,
        ask_reply: true,
        period: Duration::ZERO,
        pm10_base: 80.0,
        seed: 7,
    }
}

/// The gateway's records in the log, in log order: `(position, signer seq, kind)`.
async fn gateway_records(server: &RunningServer, key_id: &str) -> Vec<(u64, u64, String)> {
    let all = server.state.ledger.read_all(0, 1_000_000).await.expect("read log");
    all.into_iter().filter(|e| e.signer == key_id).map(|e| (e.position, e.signer_seq, e.kind)).collect()
}

/// Waits until the log holds `n` records of the gateway, looking again whenever the log grows ([`PATIENCE`] only
/// turns a stuck upload into a failure).
async fn wait_for_records(server: &RunningServer, key_id: &str, n: usize) -> Vec<(u64, u64, String)> {
    let mut head = server.state.ledger.watch_head();
    let waited = tokio::time::timeout(PATIENCE, async {
        loop {
            let got = gateway_records(server, key_id).await;
            if got.len() >= n {
                return got;
            }
            let _ = head.changed().await;
        }
    })
    .await;
    match waited {
        Ok(got) => got,
        Err(_) => panic!(
            "only {} of {n} gateway records reached the log within {PATIENCE:?}",
            gateway_records(server, key_id).await.len()
        ),
    }
}

/// Exactly once, in chain order: seqs 1…n, each once, increasing with the log position; no equivocation evidence.
fn assert_exactly_once_in_order(records: &[(u64, u64, String)], n: u64, all_kinds: &[String]) {
    let seqs: Vec<u64> = records.iter().map(|r| r.1).collect();
    assert_eq!(seqs, (1..=n).collect::<Vec<_>>(), "the gateway's chain arrives whole, once, in order");
    assert!(records.windows(2).all(|w| w[0].0 < w[1].0), "log positions follow the chain");
    assert!(records.iter().all(|r| r.2 == "env.hj212.data.v1"), "every record is an HJ 212 reading");
    assert!(
        !all_kinds.iter().any(|k| k.contains("equivocation") || k.contains("gap")),
        "no equivocation or gap records"
    );
}

async fn all_kinds(server: &RunningServer) -> Vec<String> {
    server.state.ledger.read_all(0, 1_000_000).await.expect("read").into_iter().map(|e| e.kind).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_then_everything_arrives_exactly_once_in_chain_order() {
    const N: u64 = 60;
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, key, token) = platform(&dir.path().join("server")).await;
    let addr = server.addr;
    let key_id = key.key_id().to_string();
    server.shutdown().await; // the platform is down from here on

    key.write_file(&dir.path().join("gateway.key")).expect("key file");
    let config = agent_config(&format!("http://{addr}"), dir.path(), 16);
    let agent = Agent::start(config, key, token).await.expect("agent starts");
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);

    // Monitors get their 9014 while the platform is unreachable: the readings are durable at the edge.
    let report = run_monitor(agent.hj212_addr.expect("an HJ 212 listener"), monitor(), Some(N), stop.clone()).await;
    assert_eq!((report.acked, report.lost), (N, 0), "every upload acknowledged during the outage");
    let status = agent.shared.status();
    assert_eq!(status["queue_depth"], N, "all {N} readings wait in the local queue: {status}");
    assert_eq!(status["hj212"]["recorded"], N);

    // Wait until the uploader has observably failed at least once against the closed port.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while agent.shared.status()["upload_failures"].as_u64().unwrap_or(0) == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the uploader never tried the closed port");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    // The platform comes back on the same address and data.
    let server = siteledger_api::server::spawn(server_config(&dir.path().join("server"), addr)).await.expect("restart");
    let records = wait_for_records(&server, &key_id, N as usize).await;
    assert_exactly_once_in_order(&records, N, &all_kinds(&server).await);

    // The queue drains to empty and nothing was parked.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while agent.shared.status()["queue_depth"] != 0 {
        assert!(tokio::time::Instant::now() < deadline, "queue never drained: {}", agent.shared.status());
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(agent.shared.status()["parked"], 0);
    agent.shutdown().await;
    server.shutdown().await;
}

#[test]
#[ignore = "entry point of the restart test's child process; run by gateway_agent::restart_*"]
fn child_entry() {
    let Ok(config) = std::env::var("SITELEDGER_AGENT_CHILD_CONFIG") else { return };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .try_init();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async move {
        let config = AgentConfig::from_file(Path::new(&config)).expect("config");
        let token = config.resolve_token().expect("token");
        let key = SigningKey::read_file(&config.key_file).expect("key");
        let agent = Agent::start(config, key, token).await.expect("agent starts");
        println!("READY {}", agent.hj212_addr.expect("an HJ 212 listener"));
        agent.wait().await;
    });
}

fn spawn_child(config: &Path, token: &str) -> (Child, SocketAddr) {
    let mut child = Command::new(std::env::current_exe().expect("exe"))
        .args(["--ignored", "--exact", "gateway_agent::child_entry", "--nocapture", "--test-threads", "1"])
        .env("SITELEDGER_AGENT_CHILD_CONFIG", config)
        .env("SITELEDGER_E2E_GATEWAY_TOKEN", token)
        .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the agent child");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines.next().expect("the child exited before READY").expect("line");
        // libtest may have written `test … ... ` on the same line first.
        if let Some((_, a)) = line.split_once("READY ") {
            break a.trim().parse().expect("address");
        }
    };
    // Keep draining the child's stdout so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}

fn write_child_config(dir: &Path, url: &str) -> std::path::PathBuf {
    let path = dir.join("agent.toml");
    let text = format!(
        r#"platform_url = "{url}"
token_env = "SITELEDGER_E2E_GATEWAY_TOKEN"
key_file = "{key}"
project_id = "{PROJECT}"
gateway_id = "GW-1"
queue_dir = "{queue}"
hj212_listen = "127.0.0.1:0"
upload_batch = 2
heartbeat_secs = 0

[[devices]]
id = "DUST-1"
kind = "hj212"
mn = "{MN}"
particulate_unit = "mg/m3"
"#,
        key = dir.join("gateway.key").display(),
        queue = dir.join("queue").display(),
    );
    std::fs::write(&path, text).expect("config");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_after_sigkill_during_upload_loses_and_duplicates_nothing() {
    const N1: u64 = 150;
    const N2: u64 = 20;
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, key, token) = platform(&dir.path().join("server")).await;
    let key_id = key.key_id().to_string();
    key.write_file(&dir.path().join("gateway.key")).expect("key file");
    let config = write_child_config(dir.path(), &server.url());
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);

    // First life: N1 readings acknowledged (durable), then SIGKILL while the upload (2 records per request) runs.
    let (mut child, addr) = spawn_child(&config, &token);
    let report = run_monitor(addr, monitor(), Some(N1), stop.clone()).await;
    assert_eq!((report.acked, report.lost), (N1, 0));
    let before = wait_for_records(&server, &key_id, 4).await.len() as u64;
    child.kill().expect("SIGKILL the agent");
    let status = child.wait().expect("wait");
    assert!(!status.success(), "killed, not finished");
    let at_kill = gateway_records(&server, &key_id).await.len() as u64;
    eprintln!("gateway records in the log when the agent was killed: {before}..{at_kill} of {N1}");
    assert!(at_kill < N1, "the kill must land during the upload (2 records per request); all {N1} were already up");

    // Second life on the same queue: the rest arrives, the chain continues (no reused sequence numbers).
    let (mut child, addr) = spawn_child(&config, &token);
    let report = run_monitor(addr, monitor(), Some(N2), stop.clone()).await;
    assert_eq!((report.acked, report.lost), (N2, 0));
    let records = wait_for_records(&server, &key_id, (N1 + N2) as usize).await;
    child.kill().expect("stop the agent");
    let _ = child.wait();
    assert_exactly_once_in_order(&records, N1 + N2, &all_kinds(&server).await);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_the_agent_produces_is_accepted_by_the_platform() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, key, token) = platform(&dir.path().join("server")).await;
    let key_id = key.key_id().to_string();
    let mut config = agent_config(&server.url(), dir.path(), 50);
    let device = |id: &str, kind| DeviceConfig {
        id: id.into(),
        kind,
        mn: None,
        particulate_unit: ParticulateUnit::Microgram,
        thresholds: Default::default(),
    };
    config.devices.extend([
        device("TC-01", DeviceKind::Crane),
        device("SC-01", DeviceKind::Hoist),
        device("DB-01", DeviceKind::Meter),
        device("33021200001320000001", DeviceKind::Camera),
    ]);
    let agent = Agent::start(config, key, token).await.expect("agent");
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    assert_eq!(run_monitor(agent.hj212_addr.expect("an HJ 212 listener"), monitor(), Some(1), stop).await.acked, 1);
    let http = reqwest::Client::new();
    let now = "2026-11-24T10:15:00+08:00";
    let posts = [
        (
            "TC-01",
            "operator_login",
            serde_json::json!({"operator_ref": "OP-0001", "method": "face", "certificate_type": "tower_crane_driver", "certificate_valid_until": "2027-06-30"}),
        ),
        (
            "TC-01",
            "sample",
            serde_json::json!({"sampled_at": now, "load_t": "2.35", "rated_load_t": "6.0", "moment_pct": "71.5", "height_m": "32.0", "radius_m": "25.5", "slew_deg": "182.0", "wind_m_s": "6.1", "tilt_deg": "0.12", "operator_ref": "OP-0001"}),
        ),
        (
            "TC-01",
            "cycle",
            serde_json::json!({"started_at": "2026-11-24T10:10:00+08:00", "ended_at": now, "max_load_t": "2.35", "max_moment_pct": "71.5", "max_wind_m_s": "6.4", "radius_m": "25.5", "height_m": "32.0", "over_moment_count": 0, "operator_ref": "OP-0001"}),
        ),
        (
            "TC-01",
            "alarm",
            serde_json::json!({"alarm_code": 61, "action": "raised", "value": "12.6", "message": "风速超限"}),
        ),
        ("TC-01", "cutoff", serde_json::json!({"reason": "力矩超限自动断电"})),
        ("TC-01", "operator_logout", serde_json::json!({"operator_ref": "OP-0001"})),
        (
            "SC-01",
            "sample",
            serde_json::json!({"sampled_at": now, "load_kg": "860.0", "load_pct": "43.0", "people": 6, "cage": 1, "direction": 1, "height_m": "36.0", "floor": 12, "speed_m_s": "0.7", "wind_m_s": "3.2", "tilt_deg": "0.05"}),
        ),
        (
            "SC-01",
            "safety_gear_calibrated",
            serde_json::json!({"calibrated_on": "2026-07-01", "valid_until": "2027-07-01", "certificate_no": "FZ-2026-0711"}),
        ),
        ("SC-01", "drop_test", serde_json::json!({"performed_on": "2026-10-15", "passed": true})),
        (
            "DB-01",
            "reading",
            serde_json::json!({"meter": "electricity", "read_at": now, "total": "52310.4", "residual_current_ma": "12.5", "temperature_c": "31.0"}),
        ),
        ("DB-01", "reading", serde_json::json!({"meter": "water", "read_at": now, "total": "1830.25"})),
        ("33021200001320000001", "registered", serde_json::json!({"name": "大门摄像机", "position": "大门"})),
        ("33021200001320000001", "status", serde_json::json!({"status": "online", "last_keepalive_at": now})),
        (
            "33021200001320000001",
            "alarm",
            serde_json::json!({"priority": 3, "method": 5, "alarm_type": 6, "description": "入侵检测", "alarm_at": now}),
        ),
    ];
    for (dev, rec, body) in &posts {
        let url = format!("{}/v1/devices/{dev}/{rec}", agent.intake_url().expect("an intake"));
        let r = http.post(url).bearer_auth(INTAKE_TOKEN).json(body).send().await.expect("post");
        assert_eq!(r.status().as_u16(), 201, "{dev}/{rec}: {}", r.text().await.unwrap_or_default());
    }
    agent.shared.queue.submit(agent.shared.heartbeat().expect("a gateway's heartbeat")).await.expect("heartbeat");
    let total = 1 + posts.len() + 1;
    let records = wait_for_records(&server, &key_id, total).await;
    let kinds: std::collections::BTreeSet<&str> = records.iter().map(|r| r.2.as_str()).collect();
    assert_eq!(kinds.len(), 15, "every kind of the contract: {kinds:?}");
    assert_eq!(agent.shared.status()["parked"], 0, "nothing rejected: {}", agent.shared.status());
    agent.shutdown().await;
    server.shutdown().await;
}

/// A laboratory's agent against the real platform: the city bureau registers the lab and enrols its key
/// (`testing_lab`) and the owner's (`enterprise`); the owner commissions the test and records the witnessed
/// sampling; the lab's own systems post the sample receipt and the test report to the lab's agent with plain HTTP
/// (`POST /v1/records`, no Rust client in the request path), and both reach the log signed by the lab's key, in
/// chain order, accepted by the platform's testing rules (commissioned lab, seal check, receipt before report).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lab_agent_posts_a_receipt_and_a_report_that_reach_the_log() {
    use serde_json::json;
    use siteledger_e2e::{credit_code, now_beijing};
    use uuid::Uuid;

    let dir = tempfile::tempdir().expect("tempdir");
    let server =
        siteledger_api::server::spawn(server_config(&dir.path().join("server"), "127.0.0.1:0".parse().expect("addr")))
            .await
            .expect("server");
    let http = reqwest::Client::new();
    let city_token = server.state.tokens.create("e2e city", Role::City, None, 1).await.expect("token").secret;
    let mut city = SignedCity::new();
    let mut envs = city.registry().expect("registry");
    let lab = credit_code("91330200MA2LAB001");
    let owner = credit_code("91330200MA2E2E010");
    let lab_key = SigningKey::from_seed(&[0x51; 32]);
    let owner_key = SigningKey::from_seed(&[0x52; 32]);
    let obj = |v: serde_json::Value| v.as_object().cloned().expect("object");
    let enrol = |key: &SigningKey, subject: &str, role: &str| {
        obj(json!({
            "key_id": key.key_id().to_string(), "public_key": key.public().to_base64(), "subject": subject,
            "role": role, "valid_from": "2026-01-01T00:00:00+08:00", "valid_until": "2036-01-01T00:00:00+08:00",
        }))
    };
    let at = "2026-01-07T09:00:00+08:00";
    let registered = obj(json!({"credit_code": lab, "name": "宁波市建设工程检测有限公司", "types": ["testing_lab"]}));
    envs.push(
        city.city
            .sign(Uuid::now_v7(), "registry/orgs", "registry.enterprise.registered.v1", at, registered)
            .expect("sign"),
    );
    for (key, subject, role) in [(&lab_key, lab.as_str(), "testing_lab"), (&owner_key, owner.as_str(), "enterprise")] {
        envs.push(
            city.city
                .sign(Uuid::now_v7(), "registry/keys", "ledger.key.enrolled.v1", at, enrol(key, subject, role))
                .expect("sign"),
        );
    }
    ingest(&http, &server.url(), &city_token, &envs).await.expect("registry and enrolments accepted");
    // The owner (建设单位) commissions the test and records the witnessed sampling (见证取样), signed with its key.
    let mut owner_chain = siteledger_client::KeyedChain::new(owner_key);
    let stream = format!("project/{PROJECT}/testing");
    let owner_records = [
        (
            "testing.commissioned.v1",
            json!({"project_id": PROJECT, "commission_id": "C-0001", "lab": lab, "item": "混凝土抗压强度", "structural": true}),
        ),
        (
            "testing.sample.taken.v1",
            json!({"project_id": PROJECT, "commission_id": "C-0001", "sample_id": "S-0001", "seal_id": "SEAL-0001", "witness": "张监理", "sampler": "刘取样"}),
        ),
    ];
    let owner_envs: Vec<_> = owner_records
        .into_iter()
        .map(|(kind, p)| owner_chain.sign(Uuid::now_v7(), &stream, kind, &now_beijing(), obj(p)).expect("sign"))
        .collect();
    ingest(&http, &server.url(), &city_token, &owner_envs).await.expect("commission and sampling accepted");

    // The lab's agent: its own key, a platform token bound to that key, a local intake token.
    let lab_key_id = lab_key.key_id().to_string();
    let platform_token =
        server.state.tokens.create("e2e lab agent", Role::Gateway, Some(&lab_key_id), 1).await.expect("token").secret;
    let mut config =
        AgentConfig::new(&server.url(), "", "", &dir.path().join("lab.key"), &dir.path().join("lab-queue"));
    config.role = "testing_lab".into();
    config.subject = Some(lab.clone());
    config.hj212_listen = None;
    config.heartbeat_secs = 0;
    config.intake_token_sha256 = Some(siteledger_gateway_agent::config::intake_token_sha256(INTAKE_TOKEN));
    let agent = Agent::start(config, lab_key, platform_token).await.expect("the lab's agent starts");
    let records = format!("{}/v1/records", agent.intake_url().expect("an intake"));
    let posts = [
        json!({"kind": "testing.sample.received.v1", "stream": stream,
               "payload": {"project_id": PROJECT, "sample_id": "S-0001", "seal_id": "SEAL-0001", "seal_intact": true, "condition": "试块完好，封识无损"}}),
        json!({"kind": "testing.report.issued.v1", "stream": stream,
               "payload": {"project_id": PROJECT, "sample_id": "S-0001", "report_year": 2026, "report_seq": 17,
                           "tester": "王检测", "reviewer": "李审核", "approver": "赵批准", "result": "qualified",
                           "summary": "C30 混凝土试块 28 天抗压强度 36.2 MPa，符合设计要求"}}),
    ];
    let mut seqs = Vec::new();
    for body in &posts {
        let r = http.post(&records).bearer_auth(INTAKE_TOKEN).json(body).send().await.expect("post");
        let status = r.status().as_u16();
        let v: serde_json::Value = r.json().await.expect("json");
        assert_eq!(status, 201, "{v}");
        seqs.push(v["seq"].as_u64().expect("seq"));
    }
    assert_eq!(seqs, [1, 2], "acknowledged in chain order");
    let logged = wait_for_records(&server, &lab_key_id, 2).await;
    let got: Vec<(u64, &str)> = logged.iter().map(|r| (r.1, r.2.as_str())).collect();
    assert_eq!(got, [(1, "testing.sample.received.v1"), (2, "testing.report.issued.v1")]);
    assert!(logged[0].0 < logged[1].0, "log order follows the chain");
    assert_eq!(agent.shared.status()["parked"], 0, "nothing refused: {}", agent.shared.status());
    agent.shutdown().await;
    server.shutdown().await;
}
