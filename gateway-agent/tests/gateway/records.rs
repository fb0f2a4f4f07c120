//! Golden records: what the agent signs for a packet, an intake body or a heartbeat, byte for byte. The fixtures in
//! `tests/fixtures/records/` were written by the agent as it was before its records were built from the domain's
//! payload types (issue 13), so these tests hold the wire form fixed: a changed member, number-for-string or
//! missing optional member fails here. Signed bytes are the canonical form of the payload (docs/FORMAT.md), so
//! equal payload values sign to equal bytes.
//!
//! * `hj212.golden.json`: the valid packets of the HJ 212 corpus with a recorded CN, plus a few synthetic ones
//!   (hourly Avg/Min/Max/Cou, noise `-Data`, a status packet without `DataTime`, a non-decimal value, a 2005-style
//!   packet), each with the device's particulate unit and whether it was reassembled.
//! * `intake.golden.json`: one or more bodies per intake record, as a site adapter posts them (JSON numbers for
//!   decimals included), and the record stored for each.
//! * `heartbeat.golden.json`: `gateway.heartbeat.v1` for given counters, with and without a clock skew.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::Value;
use siteledger_client::outbox::Outbox;
use siteledger_client::uploader::UploadStats;
use siteledger_domain::authority::Role;
use siteledger_gateway_agent::agent::{Shared, Signer};
use siteledger_gateway_agent::hj212::{Decoder, Packet, encode_frame};
use siteledger_gateway_agent::record::{GatewayIdentity, hj212_record};
use siteledger_gateway_agent::tcp::Hj212Stats;
use siteledger_gateway_agent::{Agent, AgentConfig, DeviceConfig, DeviceKind, ParticulateUnit};
use siteledger_signer::SigningKey;

fn golden(name: &str) -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/records").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("golden file {}: {e}", path.display()));
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    v.as_array().unwrap_or_else(|| panic!("{}: expected an array", path.display())).clone()
}

fn unit(name: &str) -> ParticulateUnit {
    match name {
        "ug/m3" => ParticulateUnit::Microgram,
        "mg/m3" => ParticulateUnit::Milligram,
        "ng/m3" => ParticulateUnit::Nanogram,
        other => panic!("unit {other}"),
    }
}

fn config(devices: Vec<DeviceConfig>) -> AgentConfig {
    let mut c = AgentConfig::new("http://127.0.0.1:9", "NB-2025-0001", "GW-01", "/k".as_ref(), "/q".as_ref());
    c.devices = devices;
    c
}

fn device(id: &str, kind: DeviceKind, mn: Option<&str>, unit: ParticulateUnit) -> DeviceConfig {
    DeviceConfig { id: id.into(), kind, mn: mn.map(Into::into), particulate_unit: unit, thresholds: Default::default() }
}

#[test]
fn hj212_records_are_byte_identical_to_the_golden_files() {
    let entries = golden("hj212.golden.json");
    assert!(entries.len() >= 40, "the golden file covers the corpus: {} entries", entries.len());
    let received = time::macros::datetime!(2026-11-24 02:15:00.123 UTC);
    for e in &entries {
        let source = e["source"].as_str().expect("source");
        let mut bytes = e["packet"].as_str().expect("packet").as_bytes().to_vec();
        bytes.extend_from_slice(b"\r\n");
        let Ok(Some((frame, _))) = Decoder::default().decode(&bytes) else { panic!("{source}: no frame") };
        let packet = Packet::from_frame(frame).unwrap_or_else(|err| panic!("{source}: {err}"));
        let dev = device(
            "HJ-01",
            DeviceKind::Hj212,
            packet.mn.as_deref(),
            unit(e["particulate_unit"].as_str().expect("unit")),
        );
        let cfg = config(vec![dev.clone()]);
        let r = hj212_record(&cfg, &dev, &packet, e["reassembled"] == true, received).expect("a record");
        let got =
            serde_json::json!({"stream": r.stream, "kind": r.kind, "occurred_at": r.occurred_at, "payload": r.payload});
        assert_eq!(got, e["record"], "{source}");
    }
}

#[tokio::test]
async fn intake_records_are_byte_identical_to_the_golden_files() {
    let entries = golden("intake.golden.json");
    let dir = tempfile::tempdir().expect("dir");
    let mut c = config(vec![
        device("TC-01", DeviceKind::Crane, None, ParticulateUnit::Microgram),
        device("SC-01", DeviceKind::Hoist, None, ParticulateUnit::Microgram),
        device("DB-01", DeviceKind::Meter, None, ParticulateUnit::Microgram),
        device("33021200001320000001", DeviceKind::Camera, None, ParticulateUnit::Microgram),
    ]);
    c.queue_dir = dir.path().join("q");
    c.heartbeat_secs = 0;
    c.intake_token_sha256 = Some(siteledger_gateway_agent::config::intake_token_sha256(crate::service::INTAKE_TOKEN));
    let a = Agent::start(c, SigningKey::from_seed(&[3; 32]), "t".into()).await.expect("agent");
    let http = crate::service::client();
    for e in &entries {
        let (dev, rec) = (e["device_id"].as_str().expect("device"), e["record"].as_str().expect("record"));
        let r = http
            .post(format!("{}/v1/devices/{dev}/{rec}", a.intake_url().expect("an intake")))
            .json(&e["body"])
            .send()
            .await
            .expect("post");
        assert_eq!(r.status().as_u16(), 201, "{dev}/{rec}: {}", r.text().await.unwrap_or_default());
    }
    let stored = crate::service::queued(&a).await;
    assert_eq!(stored.len(), entries.len());
    for (e, env) in entries.iter().zip(&stored) {
        let got = serde_json::json!({"stream": env.stream(), "kind": env.kind(), "payload": env.payload()});
        assert_eq!(got, e["expected"], "{}/{}", e["device_id"], e["record"]);
    }
    a.shutdown().await;
}

#[tokio::test]
async fn heartbeats_are_byte_identical_to_the_golden_files() {
    let dir = tempfile::tempdir().expect("dir");
    let cfg = Arc::new(config(vec![]));
    let (store, queue) =
        Outbox::open(&dir.path().join("queue.db"), SigningKey::from_seed(&[1; 32]), 1 << 20).await.expect("queue");
    for e in golden("heartbeat.golden.json") {
        let n = |name: &str| e["counters"][name].as_u64().expect("counter");
        let (hj212, upload) = (Arc::new(Hj212Stats::default()), Arc::new(UploadStats::default()));
        store.stats.depth.store(n("queue_depth"), Ordering::Relaxed);
        store.stats.bytes.store(n("queue_bytes"), Ordering::Relaxed);
        hj212.rejected.store(n("rejected_packets"), Ordering::Relaxed);
        hj212.deviations.store(n("deviations"), Ordering::Relaxed);
        if let Some(skew) = e["counters"]["clock_skew_ms"].as_i64() {
            upload.clock_skew_ms.store(skew, Ordering::Relaxed);
            upload.skew_known.store(true, Ordering::Relaxed);
        }
        let identity = GatewayIdentity::of(&cfg).expect("identity");
        let signer = Signer { key_id: "k".into(), role: Role::Gateway, subject: cfg.subject().expect("subject") };
        let shared = Shared {
            config: cfg.clone(),
            identity: Some(identity),
            signer,
            intake_token: None,
            queue: queue.clone(),
            store: store.clone(),
            blobs: siteledger_client::LocalBlobs::open(&dir.path().join("blobs")).expect("blobs"),
            hj212,
            upload,
            gb28181: Default::default(),
        };
        let r = shared.heartbeat().expect("a gateway has a heartbeat");
        let got = serde_json::json!({"stream": r.stream, "kind": r.kind, "payload": r.payload});
        assert_eq!(got, e["expected"], "{}", e["counters"]);
    }
}

/// What the platform does with a payload: the domain's own check of the kind (`SiteEvent::parse`).
fn platform_accepts(kind: &str, payload: &serde_json::Map<String, Value>) -> Result<(), String> {
    match siteledger_domain::site::SiteEvent::parse(kind, payload) {
        Some(Ok(_)) => Ok(()),
        Some(Err(e)) => Err(e.to_string()),
        None => Err(format!("{kind} is not a site kind")),
    }
}

/// The agent used to sign what a monitor sent even where the contract cannot hold it (an empty data flag, `007`,
/// an empty `QN`, an `ST` with a space, a 40-character factor code): the platform refused the whole record and the
/// agent parked it for good, after the monitor had its 9014. Now every record the agent builds is one the platform
/// accepts; what does not fit is left out and flagged.
#[test]
fn every_hj212_record_the_agent_signs_is_one_the_platform_accepts() {
    let received = time::macros::datetime!(2026-11-24 02:15:00.123 UTC);
    let mn = "010000A8900016F000169DC0";
    let long_code = "a".repeat(40);
    let odd = [
        format!(
            "QN=;ST=3 9;CN=2011;PW=123456;MN={mn};Flag=4;CP=&&DataTime=20261124101500;a34002-Rtd=0.0852,a34002-Flag=;a01007-Rtd=007,a01007-Flag=N;{long_code}-Rtd=1&&"
        ),
        format!(
            "QN=20261124101500123;ST=39;CN=2061;PW=123456;MN={mn};Flag=4;CP=&&DataTime=20261124090000;LA-Avg=+61.5,LA-Flag=N;a34004-Avg=12345678901234567890&&"
        ),
    ];
    let mut packets: Vec<(String, String)> = golden("hj212.golden.json")
        .iter()
        .map(|e| (e["source"].as_str().expect("source").to_owned(), e["packet"].as_str().expect("packet").to_owned()))
        .collect();
    packets.extend(odd.iter().map(|seg| ("odd".to_owned(), encode_frame(seg).expect("frame").trim_end().to_owned())));
    let mut payloads = Vec::new();
    for (source, packet) in &packets {
        let mut bytes = packet.as_bytes().to_vec();
        bytes.extend_from_slice(b"\r\n");
        let Ok(Some((frame, _))) = Decoder::default().decode(&bytes) else { panic!("{source}: no frame") };
        let packet = Packet::from_frame(frame).unwrap_or_else(|err| panic!("{source}: {err}"));
        let dev = device("HJ-01", DeviceKind::Hj212, packet.mn.as_deref(), ParticulateUnit::Milligram);
        let r = hj212_record(&config(vec![dev.clone()]), &dev, &packet, false, received).expect("a record");
        platform_accepts(&r.kind, &r.payload).unwrap_or_else(|e| panic!("{source}: the platform refuses it: {e}"));
        payloads.push(Value::Object(r.payload));
    }
    let first = &payloads[payloads.len() - 2];
    assert_eq!(first.get("qn"), None, "an empty QN is left out");
    assert_eq!(first["st"], "-", "an ST with a space is recorded as none");
    assert_eq!(
        first["items"].as_array().map(Vec::len),
        Some(1),
        "the empty flag's and the long code's factors are dropped"
    );
    assert_eq!(first["items"][0]["rtd"], "7", "007 is the contract decimal 7");
    assert!(first["deviations"].as_array().expect("deviations").contains(&serde_json::json!("item_dropped")));
    let second = &payloads[payloads.len() - 1];
    assert_eq!(second["items"][0]["avg"], "61.5");
    assert_eq!(second["items"].as_array().map(Vec::len), Some(1), "20 significant digits are no contract decimal");
    assert!(second["deviations"].as_array().expect("deviations").contains(&serde_json::json!("non_decimal_value")));
}
