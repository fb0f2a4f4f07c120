//! GB/T 28181 cameras to the platform log: a real `siteledger` server (SQLite), a real gateway agent with
//! `[gb28181]` enabled (passwords in 0600 files), and the simulator's devices (`gateway-agent simulate`'s code,
//! `simulate::sip_devices` / `run_sip_device`) speaking SIP to it over real loopback sockets: an NVR with four
//! camera channels over UDP and an IPC over TCP. The log is the judge: every camera's `video.camera.status.v1`,
//! an alarm, and the IPC's `offline` once its keepalives stop, each read back through `GET /v1/log/leaves/{index}`
//! and verified against the agent's key; then the platform's measured online time
//! (`GET /v1/site/projects/{id}/cameras/days`) is below 1000 ‰ for the IPC only. Keepalives every second, offline
//! after three missed; every wait is a bounded wait for a condition in the log or the read model.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::Value;
use siteledger_api::auth::Role;
use siteledger_api::server::RunningServer;
use siteledger_e2e::PATIENCE;
use siteledger_gateway_agent::config::{Gb28181Config, Gb28181Device};
use siteledger_gateway_agent::simulate::{SipOptions, Transport, run_sip_device, sip_devices};
use siteledger_gateway_agent::{Agent, AgentConfig};
use siteledger_signer::{Envelope, PublicKey};

use crate::gateway_agent::platform;

const PROJECT: &str = "E2E-0001";
const PLATFORM_ID: &str = "33021200002000000001";
const NVR: &str = "33021200001180000001";
const IPC: &str = "33021200001320000002";

/// The agent's records in the log, each fetched as exact leaf bytes from the transparency endpoint and verified
/// against the agent's key: `(kind, payload)` in log order.
async fn agent_records(server: &RunningServer, http: &reqwest::Client, key: &PublicKey) -> Vec<(String, Value)> {
    let key_id = key.key_id().to_string();
    let positions: Vec<u64> = server
        .state
        .ledger
        .read_all(0, 1_000_000)
        .await
        .expect("read log")
        .into_iter()
        .filter(|e| e.signer == key_id)
        .map(|e| e.position)
        .collect();
    let mut out = Vec::new();
    for position in positions {
        let url = format!("{}/v1/log/leaves/{position}", server.url());
        let bytes = http.get(&url).send().await.expect("leaf").error_for_status().expect("200").bytes().await;
        let env = Envelope::parse(&bytes.expect("body")).expect("a signed envelope");
        env.verify(key).expect("signed by the agent's key");
        out.push((env.kind().to_owned(), Value::Object(env.payload().clone())));
    }
    out
}

/// `(device_id, status)` of the status records, in log order.
fn statuses(records: &[(String, Value)]) -> Vec<(String, String)> {
    records
        .iter()
        .filter(|(kind, _)| kind == "video.camera.status.v1")
        .map(|(_, p)| (p["device_id"].as_str().unwrap_or("").to_owned(), p["status"].as_str().unwrap_or("").to_owned()))
        .collect()
}

/// Polls the log until `done` holds for the agent's records, or fails after [`PATIENCE`] saying what it saw.
async fn wait_for_log(
    server: &RunningServer,
    http: &reqwest::Client,
    key: &PublicKey,
    what: &str,
    done: impl Fn(&[(String, Value)]) -> bool,
) -> Vec<(String, Value)> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let records = agent_records(server, http, key).await;
        if done(&records) {
            return records;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not in the log within {PATIENCE:?}; statuses {:?}",
            statuses(&records)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_nvr_and_ipc_reach_the_platform_log_and_the_stopped_one_reads_below_full_online_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, key, token) = platform(&dir.path().join("server")).await;
    let public = *key.public();
    let http = reqwest::Client::builder().no_proxy().build().expect("client");

    // The agent: no HJ 212 or JSON intake, only GB/T 28181, with each device's password in a 0600 file.
    let mut config =
        AgentConfig::new(&server.url(), PROJECT, "GW-1", &dir.path().join("gateway.key"), &dir.path().join("queue"));
    config.heartbeat_secs = 0;
    config.hj212_listen = None;
    config.http_listen = None;
    let mut g = Gb28181Config::new("127.0.0.1:0".parse().expect("addr"), PLATFORM_ID);
    g.keepalive_interval_secs = 1;
    g.keepalive_count = 3;
    for (id, password) in [(NVR, "nvr-e2e-secret"), (IPC, "ipc-e2e-secret")] {
        let file = dir.path().join(format!("{id}.password"));
        siteledger_client::keys::write_secret(&file, password).expect("password file");
        g.devices.push(Gb28181Device { id: id.into(), password: None, password_file: Some(file) });
    }
    config.gb28181 = Some(g.clone());
    let agent = Agent::start(config, key, token).await.expect("agent starts");
    let sip = agent.gb28181_addr.expect("a GB/T 28181 listener");

    // The simulator's devices for this section, from the same password files: the NVR over UDP with 4 channels,
    // the IPC (the first camera) over TCP. No random silences here; the NVR alarms on half of its keepalives.
    let options = SipOptions { nvr_channels: 4, alarm_chance: 0.0, silence_chance: 0.0, ..SipOptions::default() };
    let mut specs = sip_devices(&g, &options, 19).expect("simulated devices");
    assert_eq!(specs.len(), 2);
    let (mut nvr, ipc) = (specs.remove(0), specs.remove(0));
    assert_eq!((nvr.id.as_str(), nvr.transport, nvr.channels.len()), (NVR, Transport::Udp, 4));
    assert_eq!((ipc.id.as_str(), ipc.transport, ipc.channels.len()), (IPC, Transport::Tcp, 0));
    nvr.alarm_chance = 0.5;
    let cameras: BTreeSet<String> = nvr.channels.iter().map(|(c, _)| c.to_string()).chain([IPC.to_owned()]).collect();
    let (nvr_stop_tx, nvr_stop) = tokio::sync::watch::channel(false);
    let (ipc_stop_tx, ipc_stop) = tokio::sync::watch::channel(false);
    let nvr_task = tokio::spawn(run_sip_device(sip, nvr, nvr_stop));
    let ipc_task = tokio::spawn(run_sip_device(sip, ipc, ipc_stop));

    // All five cameras online in the platform log, and an alarm of one of the NVR's channels.
    let records = wait_for_log(&server, &http, &public, "5 cameras online and an alarm", |r| {
        let online: BTreeSet<String> = statuses(r).into_iter().filter(|(_, s)| s == "online").map(|(d, _)| d).collect();
        online == cameras && r.iter().any(|(k, _)| k == "video.camera.alarm.v1")
    })
    .await;
    for (kind, p) in &records {
        assert_eq!(p["project_id"], PROJECT, "{kind}");
        assert!(cameras.contains(p["device_id"].as_str().unwrap_or("")), "{kind} of a camera: {p}");
    }
    let alarm = &records.iter().find(|(k, _)| k == "video.camera.alarm.v1").expect("alarm").1;
    assert_ne!(alarm["device_id"], IPC, "the NVR alarms on its channels");
    assert_eq!((&alarm["priority"], &alarm["method"]), (&Value::from(3), &Value::from(5)));

    // The IPC stops (no more keepalives): after interval × count the agent records it offline, from its last
    // keepalive, and the platform log holds that record.
    ipc_stop_tx.send(true).expect("stop the IPC");
    let ipc_report = ipc_task.await.expect("the IPC stopped cleanly");
    assert!(ipc_report.registrations >= 1 && ipc_report.keepalives >= 1, "{ipc_report:?}");
    assert!(ipc_report.answered >= 1, "it answered the agent's DeviceInfo query: {ipc_report:?}");
    let records = wait_for_log(&server, &http, &public, "the IPC offline", |r| {
        statuses(r).contains(&(IPC.to_owned(), "offline".to_owned()))
    })
    .await;
    let offline = records
        .iter()
        .find(|(k, p)| k == "video.camera.status.v1" && p["device_id"] == IPC && p["status"] == "offline")
        .expect("offline record");
    assert!(offline.1["last_keepalive_at"].is_string(), "an offline record says since when: {}", offline.1);
    assert!(
        statuses(&records).iter().all(|(d, s)| d == IPC || s == "online"),
        "the NVR's channels stayed online: {:?}",
        statuses(&records)
    );

    // The platform's measured online time: below 1000 ‰ for the IPC (online until its last keepalive, offline
    // since), full for the NVR's four channels (reporting throughout). Polled until the read model has folded the
    // offline record.
    let city = server.state.tokens.create("e2e city", Role::City, None, 1).await.expect("token").secret;
    let today = siteledger_domain::time::shanghai_date(time::OffsetDateTime::now_utc());
    let from = today.previous_day().expect("a day before");
    let url = format!("{}/v1/site/projects/{PROJECT}/cameras/days?from={from}&to={today}", server.url());
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let shares = loop {
        let answer: Value = http
            .get(&url)
            .bearer_auth(&city)
            .send()
            .await
            .expect("camera days")
            .error_for_status()
            .expect("200")
            .json()
            .await
            .expect("json");
        // Per camera: seconds online and seconds known over the days asked.
        let mut shares: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for d in answer["days"].as_array().expect("days") {
            let entry = shares.entry(d["device_id"].as_str().expect("device_id").to_owned()).or_default();
            entry.0 += d["online_s"].as_u64().expect("online_s");
            entry.1 += d["known_s"].as_u64().expect("known_s");
            assert!(d["online_permille"].as_u64().expect("online_permille") <= 1000, "{d}");
        }
        let ipc = shares.get(IPC).copied().unwrap_or_default();
        if shares.len() == 5 && ipc.0 < ipc.1 {
            break shares;
        }
        assert!(tokio::time::Instant::now() < deadline, "online time not measured within {PATIENCE:?}: {answer}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(shares.keys().cloned().collect::<BTreeSet<_>>(), cameras);
    let permille = |(online, known): (u64, u64)| online * 1000 / known.max(1);
    let ipc = permille(shares[IPC]);
    assert!(ipc < 1000 && shares[IPC].0 > 0, "the IPC was online, then offline: {ipc} ‰ of {:?}", shares[IPC]);
    for (camera, share) in &shares {
        if camera != IPC {
            assert!(permille(*share) >= 990, "{camera} reported online throughout: {share:?}");
        }
    }
    eprintln!("online time (online_s, known_s): {shares:?}; the IPC {ipc} ‰");

    nvr_stop_tx.send(true).expect("stop the NVR");
    let nvr_report = nvr_task.await.expect("the NVR stopped cleanly");
    assert!(nvr_report.answered >= 2 && nvr_report.alarms >= 1, "catalog and device info answered: {nvr_report:?}");
    assert_eq!(agent.shared.status()["gb28181"]["malformed"], 0);
    assert_eq!(agent.shared.status()["parked"], 0, "nothing refused by the platform: {}", agent.shared.status());
    agent.shutdown().await;
    server.shutdown().await;
}
