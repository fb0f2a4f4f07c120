//! The agent as a service, over real TCP and HTTP. The platform URL points at a closed port, so everything the
//! agent accepts stays in its local queue, where the tests read it back (signed envelopes).

use std::time::Duration;

use serde_json::{Value, json};
use siteledger_gateway_agent::hj212::{Decoder, Packet, data_response, encode_frame};
use siteledger_gateway_agent::{Agent, AgentConfig, AgentHandle, DeviceConfig, DeviceKind, ParticulateUnit};
use siteledger_signer::{Envelope, SigningKey};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MN: &str = "010000A8900016F000169DC0";

fn upload(qn: &str, mn: &str, flag: u8) -> String {
    format!(
        "QN={qn};ST=39;CN=2011;PW=123456;MN={mn};Flag={flag};CP=&&DataTime=20261124101500;a34002-Rtd=0.0852,a34002-Flag=N;LA-Rtd=63.4,LA-Flag=N;a01007-Rtd=2.5&&"
    )
}

fn wire(segment: &str) -> Vec<u8> {
    encode_frame(segment).expect("frame").into_bytes()
}

/// The local intake token of the tests' agents.
pub(crate) const INTAKE_TOKEN: &str = "test-intake-token-0123456789abcdef";

/// An HTTP client that sends the agents' intake token with every request.
pub(crate) fn client() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    let value = format!("Bearer {INTAKE_TOKEN}").parse().expect("header value");
    headers.insert(reqwest::header::AUTHORIZATION, value);
    reqwest::Client::builder().default_headers(headers).build().expect("client")
}

async fn agent(dir: &tempfile::TempDir, f: impl FnOnce(&mut AgentConfig)) -> AgentHandle {
    let key = SigningKey::from_seed(&[9; 32]);
    let mut c =
        AgentConfig::new("http://127.0.0.1:9", "NB-2025-0001", "GW-T", &dir.path().join("k"), &dir.path().join("q"));
    c.heartbeat_secs = 0;
    c.intake_token_sha256 = Some(siteledger_gateway_agent::config::intake_token_sha256(INTAKE_TOKEN));
    c.devices = vec![
        DeviceConfig {
            id: "HJ-01".into(),
            kind: DeviceKind::Hj212,
            mn: Some(MN.into()),
            particulate_unit: ParticulateUnit::Milligram,
            thresholds: Default::default(),
        },
        DeviceConfig {
            id: "TC-01".into(),
            kind: DeviceKind::Crane,
            mn: None,
            particulate_unit: ParticulateUnit::Microgram,
            thresholds: Default::default(),
        },
    ];
    f(&mut c);
    Agent::start(c, key, "test-token".into()).await.expect("agent starts")
}

/// Reads frames until one arrives (bounded).
async fn next_packet(s: &mut TcpStream, buf: &mut Vec<u8>) -> Packet {
    let decoder = Decoder::default();
    let mut chunk = [0u8; 512];
    loop {
        if let Ok(Some((frame, used))) = decoder.decode(buf) {
            buf.drain(..used);
            return Packet::from_frame(frame).expect("a valid reply");
        }
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut chunk))
            .await
            .expect("a reply in time")
            .expect("read");
        assert!(n > 0, "the agent closed the connection");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The signed envelopes in the agent's queue, oldest first.
pub(crate) async fn queued(a: &AgentHandle) -> Vec<Envelope> {
    a.shared
        .store
        .peek(1000)
        .await
        .expect("peek")
        .iter()
        .map(|q| Envelope::parse(&q.envelope).expect("envelope"))
        .collect()
}

#[tokio::test]
async fn a_data_upload_is_queued_signed_and_then_answered_with_9014() {
    let dir = tempfile::tempdir().expect("dir");
    let a = agent(&dir, |_| {}).await;
    let mut s = TcpStream::connect(a.hj212_addr.expect("an HJ 212 listener")).await.expect("connect");
    let segment = upload("20261124101500123", MN, 5);
    s.write_all(&wire(&segment)).await.expect("write");
    let mut buf = Vec::new();
    let reply = next_packet(&mut s, &mut buf).await;
    let expected = data_response(&Packet::parse(segment.as_bytes()).expect("parse")).expect("9014");
    assert_eq!(reply.encode(), Packet::parse(&expected.as_bytes()[6..expected.len() - 6]).expect("9014").encode());
    assert_eq!((reply.cn, reply.qn.as_deref(), reply.st.as_deref()), (9014, Some("20261124101500123"), Some("91")));

    let envs = queued(&a).await;
    assert_eq!(envs.len(), 1, "stored before the reply was written");
    let e = &envs[0];
    assert_eq!((e.kind(), e.stream(), e.seq()), ("env.hj212.data.v1", "project/NB-2025-0001/site/HJ-01", 1));
    let p = Value::Object(e.payload().clone());
    assert_eq!(p["data_time"], "2026-11-24T10:15:00+08:00");
    assert_eq!(p["cn"], "2011");
    assert_eq!(p["mn"], MN);
    let items = p["items"].as_array().expect("items");
    let pm10 = items.iter().find(|i| i["code"] == "a34002").expect("PM10");
    assert_eq!(
        (&pm10["rtd"], &pm10["unit"], &pm10["flag"]),
        (&json!("85.2"), &json!("ug/m3"), &json!("N")),
        "mg/m3 → µg/m3"
    );
    let wind = items.iter().find(|i| i["code"] == "a01007").expect("wind");
    assert_eq!((&wind["rtd"], &wind["unit"]), (&json!("2.5"), &json!("m/s")));
    e.verify(SigningKey::from_seed(&[9; 32]).public()).expect("signed with the gateway key");
    a.shutdown().await;
}

#[tokio::test]
async fn bad_crc_and_unknown_mn_are_rejected_counted_and_never_answered() {
    let dir = tempfile::tempdir().expect("dir");
    let a = agent(&dir, |_| {}).await;
    let mut s = TcpStream::connect(a.hj212_addr.expect("an HJ 212 listener")).await.expect("connect");
    let mut bad = wire(&upload("20261124101500001", MN, 5));
    let n = bad.len();
    bad[n - 6..n - 2].copy_from_slice(b"0000");
    s.write_all(&bad).await.expect("write");
    s.write_all(&wire(&upload("20261124101500002", "FFFF00A8900016F000169DC0", 5))).await.expect("write");
    s.write_all(&wire(&upload("20261124101500003", MN, 5))).await.expect("write");
    let mut buf = Vec::new();
    let reply = next_packet(&mut s, &mut buf).await;
    assert_eq!(reply.qn.as_deref(), Some("20261124101500003"), "the first answer is for the good packet");
    let status = a.shared.status();
    assert_eq!(status["hj212"]["rejected"], 2, "{status}");
    assert_eq!(status["hj212"]["recorded"], 1);
    assert_eq!(queued(&a).await.len(), 1);
    a.shutdown().await;
}

#[tokio::test]
async fn a_request_gets_9011_then_9012_and_deviations_are_recorded() {
    let dir = tempfile::tempdir().expect("dir");
    let a = agent(&dir, |_| {}).await;
    let mut s = TcpStream::connect(a.hj212_addr.expect("an HJ 212 listener")).await.expect("connect");
    s.write_all(&wire(&format!("QN=20261124101500009;ST=39;CN=1013;PW=123456;MN={MN};Flag=5;CP=&&&&")))
        .await
        .expect("write");
    // A 2005-style upload (no QN, no Flag) and a lowercase CRC: accepted and flagged, not answered.
    let mut lower =
        wire(&upload("20261124101500010", MN, 4).replace("QN=20261124101500010;", "").replace("Flag=4;", ""));
    let n = lower.len();
    let crc = String::from_utf8_lossy(&lower[n - 6..n - 2]).to_lowercase();
    lower[n - 6..n - 2].copy_from_slice(crc.as_bytes());
    s.write_all(&lower).await.expect("write");
    let mut buf = Vec::new();
    let first = next_packet(&mut s, &mut buf).await;
    let second = next_packet(&mut s, &mut buf).await;
    assert_eq!((first.cn, first.cp.fields.get("QnRtn").map(String::as_str)), (9011, Some("1")));
    assert_eq!((second.cn, second.cp.fields.get("ExeRtn").map(String::as_str)), (9012, Some("1")));
    // The flagged upload is stored once committed; wait on the queue (bounded).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let envs = loop {
        let envs = queued(&a).await;
        if !envs.is_empty() {
            break envs;
        }
        assert!(tokio::time::Instant::now() < deadline, "the 2005-style upload was not stored");
        tokio::task::yield_now().await;
    };
    let deviations = envs[0].payload()["deviations"].as_array().expect("deviations").clone();
    for token in ["missing_qn", "missing_flag", "hj212_2005"] {
        assert!(deviations.contains(&json!(token)), "{token} in {deviations:?}");
    }
    a.shutdown().await;
}

#[tokio::test]
async fn garbage_silent_and_excess_connections_never_stall_a_good_monitor() {
    let dir = tempfile::tempdir().expect("dir");
    let a = agent(&dir, |c| {
        c.idle_timeout_secs = 1;
        c.max_connections = 3;
    })
    .await;
    // A silent (half-open) peer and a garbage sender hold two of three slots.
    let mut silent = TcpStream::connect(a.hj212_addr.expect("an HJ 212 listener")).await.expect("connect");
    let mut garbage = TcpStream::connect(a.hj212_addr.expect("an HJ 212 listener")).await.expect("connect");
    let noise = vec![b'x'; 100 * 1024];
    let _ = garbage.write_all(&noise).await; // the agent may close mid-way: that is the point
    // The good monitor still gets its answer at once.
    let mut good = TcpStream::connect(a.hj212_addr.expect("an HJ 212 listener")).await.expect("connect");
    good.write_all(&wire(&upload("20261124101500020", MN, 5))).await.expect("write");
    let mut buf = Vec::new();
    assert_eq!(next_packet(&mut good, &mut buf).await.cn, 9014);
    // The garbage sender is cut off (noise limit) and the silent one after the idle timeout: both see EOF.
    for s in [&mut garbage, &mut silent] {
        let mut b = [0u8; 64];
        let r = tokio::time::timeout(Duration::from_secs(10), s.read(&mut b)).await.expect("closed in time");
        assert!(matches!(r, Ok(0) | Err(_)), "closed by the agent");
    }
    assert!(a.shared.status()["hj212"]["rejected"].as_u64().unwrap_or(0) >= 1, "noise counted");
    a.shutdown().await;
}

#[tokio::test]
async fn over_the_connection_cap_a_peer_is_closed_at_once() {
    let dir = tempfile::tempdir().expect("dir");
    let a = agent(&dir, |c| c.max_connections = 1).await;
    let mut first = TcpStream::connect(a.hj212_addr.expect("an HJ 212 listener")).await.expect("connect");
    first.write_all(&wire(&upload("20261124101500030", MN, 5))).await.expect("write");
    let mut buf = Vec::new();
    assert_eq!(next_packet(&mut first, &mut buf).await.cn, 9014, "the first connection is being served");
    let mut second = TcpStream::connect(a.hj212_addr.expect("an HJ 212 listener")).await.expect("connect");
    let mut b = [0u8; 8];
    let r = tokio::time::timeout(Duration::from_secs(10), second.read(&mut b)).await.expect("closed in time");
    assert!(matches!(r, Ok(0) | Err(_)));
    assert_eq!(a.shared.status()["hj212"]["refused_connections"], 1);
    a.shutdown().await;
}

#[tokio::test]
async fn at_the_disk_limit_new_data_is_refused_and_not_acknowledged() {
    let dir = tempfile::tempdir().expect("dir");
    let a = agent(&dir, |c| c.queue_max_bytes = 100).await;
    let mut s = TcpStream::connect(a.hj212_addr.expect("an HJ 212 listener")).await.expect("connect");
    s.write_all(&wire(&upload("20261124101500040", MN, 5))).await.expect("write");
    s.write_all(&wire(&format!("QN=20261124101500041;ST=39;CN=1013;PW=123456;MN={MN};Flag=5;CP=&&&&")))
        .await
        .expect("write");
    let mut buf = Vec::new();
    // The upload is not answered (its record did not fit); the request after it is.
    assert_eq!(next_packet(&mut s, &mut buf).await.cn, 9011);
    assert_eq!(a.shared.status()["hj212"]["unacknowledged"], 1);
    let http = client();
    let r = http
        .post(format!("{}/v1/devices/TC-01/cutoff", a.intake_url().expect("an intake")))
        .json(&json!({"reason": "力矩超限自动断电"}))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 507, "the intake says the queue is full");
    assert!(queued(&a).await.is_empty(), "nothing old was dropped to make room: there was nothing");
    a.shutdown().await;
}

#[tokio::test]
async fn the_intake_names_the_field_and_stores_good_records() {
    let dir = tempfile::tempdir().expect("dir");
    let a = agent(&dir, |_| {}).await;
    let http = client();
    let url = |dev: &str, rec: &str| format!("{}/v1/devices/{dev}/{rec}", a.intake_url().expect("an intake"));
    let sample = json!({
        "sampled_at": "2026-11-24T10:15:00+08:00", "load_t": "2.35", "moment_pct": 71.5, "height_m": "32.0",
        "radius_m": "25.5", "slew_deg": "182.0", "wind_m_s": "6.1", "tilt_deg": "0.12", "operator_ref": "OP-0001",
    });
    let r = http.post(url("TC-01", "sample")).json(&sample).send().await.expect("post");
    assert_eq!(r.status().as_u16(), 201);
    let cases = [
        ("TC-01", "sample", json!({"sampled_at": "2026-11-24T10:15:00+08:00"}), 422, Some("load_t")),
        (
            "TC-01",
            "sample",
            {
                let mut b = sample.clone();
                b["load_t"] = json!("heavy");
                b
            },
            422,
            Some("load_t"),
        ),
        (
            "TC-01",
            "sample",
            {
                let mut b = sample.clone();
                b["operator_ref"] = json!("张三 330203199001011234");
                b
            },
            422,
            Some("operator_ref"),
        ),
        (
            "TC-01",
            "sample",
            {
                let mut b = sample.clone();
                b["driver_id"] = json!("x");
                b
            },
            422,
            Some("driver_id"),
        ),
        ("TC-01", "alarm", json!({"alarm_code": 61, "action": "started"}), 422, Some("action")),
        ("TC-01", "reading", json!({}), 404, None),
        ("NOPE", "sample", sample.clone(), 404, None),
    ];
    for (dev, rec, body, status, field) in cases {
        let r = http.post(url(dev, rec)).json(&body).send().await.expect("post");
        assert_eq!(r.status().as_u16(), status, "{dev}/{rec} {body}");
        let v: Value = r.json().await.expect("json");
        assert_eq!(v.get("field").and_then(Value::as_str), field, "{v}");
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    let envs = queued(&a).await;
    assert_eq!(envs.len(), 1, "only the good record");
    let p = envs[0].payload();
    assert_eq!(
        (envs[0].kind(), p["moment_pct"].as_str(), p["device_id"].as_str()),
        ("crane.sample.v1", Some("71.5"), Some("TC-01"))
    );
    a.shutdown().await;
}

/// Issue 12 item 10, agent side: a resident ID number sent as a crane's `operator_ref` (bare, as the old check
/// accepted it) or inside a message is refused with 422 naming the field, the answer does not repeat it, and nothing
/// is queued for signing.
#[tokio::test]
async fn an_id_number_as_crane_operator_ref_is_refused_by_agent_and_platform() {
    let dir = tempfile::tempdir().expect("dir");
    let a = agent(&dir, |_| {}).await;
    let http = client();
    let url = |rec: &str| format!("{}/v1/devices/TC-01/{rec}", a.intake_url().expect("an intake"));
    let id = "330203199001011234";
    let sample = json!({
        "sampled_at": "2026-11-24T10:15:00+08:00", "load_t": "2.35", "moment_pct": "71.5", "height_m": "32.0",
        "radius_m": "25.5", "slew_deg": "182.0", "wind_m_s": "6.1", "tilt_deg": "0.12", "operator_ref": id,
    });
    let login = json!({"operator_ref": format!("T{id}"), "method": "face", "certificate_type": "tower_crane_driver",
        "certificate_valid_until": "2028-06-30"});
    let alarm = json!({"alarm_code": 61, "action": "raised", "message": format!("司机 {id} 力矩超限")});
    for (rec, body, field) in
        [("sample", sample, "operator_ref"), ("operator_login", login, "operator_ref"), ("alarm", alarm, "message")]
    {
        let r = http.post(url(rec)).json(&body).send().await.expect("post");
        assert_eq!(r.status().as_u16(), 422, "{rec}");
        let text = r.text().await.expect("body");
        let v: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(v["field"], field, "{text}");
        assert!(v["error"].as_str().is_some_and(|e| e.contains("looks like an ID or card number")), "{text}");
        assert!(!text.contains(id), "the answer repeats the number: {text}");
    }
    assert!(queued(&a).await.is_empty(), "nothing signed");
    a.shutdown().await;
}

#[tokio::test]
async fn the_signer_chain_resumes_from_the_queue_after_a_restart() {
    let dir = tempfile::tempdir().expect("dir");
    let a = agent(&dir, |_| {}).await;
    let http = client();
    for i in 0..3 {
        let r = http
            .post(format!("{}/v1/devices/TC-01/cutoff", a.intake_url().expect("an intake")))
            .json(&json!({"reason": format!("断电 {i}")}))
            .send()
            .await
            .expect("post");
        assert_eq!(r.status().as_u16(), 201);
    }
    let before = queued(&a).await;
    a.shutdown().await;
    let a = agent(&dir, |_| {}).await;
    let r = http
        .post(format!("{}/v1/devices/TC-01/cutoff", a.intake_url().expect("an intake")))
        .json(&json!({"reason": "断电 3"}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 201);
    let after = queued(&a).await;
    assert_eq!(after.iter().map(Envelope::seq).collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert_eq!(after[3].prev(), Some(&before[2].leaf_hash()), "seq 4 links to seq 3 across the restart");
    a.shutdown().await;
}

#[tokio::test]
async fn split_parts_are_each_answered_and_recorded_once_reassembled() {
    let dir = tempfile::tempdir().expect("dir");
    let a = agent(&dir, |_| {}).await;
    let mut s = TcpStream::connect(a.hj212_addr.expect("an HJ 212 listener")).await.expect("connect");
    let part = |qn: &str, pno: u16, item: &str| {
        wire(&format!(
            "QN={qn};ST=39;CN=2061;PW=123456;MN={MN};Flag=7;PNUM=2;PNO={pno};CP=&&DataTime=20261124090000;{item}&&"
        ))
    };
    let mut buf = Vec::new();
    s.write_all(&part("20261124100000111", 1, "a34002-Avg=0.1510")).await.expect("write");
    assert_eq!(next_packet(&mut s, &mut buf).await.qn.as_deref(), Some("20261124100000111"));
    s.write_all(&part("20261124100000222", 2, "a34004-Avg=0.0702")).await.expect("write");
    assert_eq!(next_packet(&mut s, &mut buf).await.qn.as_deref(), Some("20261124100000222"));
    let envs = queued(&a).await;
    assert_eq!(envs.len(), 1, "one record for the whole upload");
    let p = Value::Object(envs[0].payload().clone());
    assert!(p["deviations"].as_array().expect("deviations").contains(&json!("reassembled")));
    assert_eq!(p["cn"], "2061");
    let avg =
        |code: &str| p["items"].as_array().expect("items").iter().find(|i| i["code"] == code).map(|i| i["avg"].clone());
    assert_eq!((avg("a34002"), avg("a34004")), (Some(json!("151.0")), Some(json!("70.2"))));
    a.shutdown().await;
}

/// The intake used to answer an unknown member with its name in `field` and in the message: a member *named* by
/// an ID number (`{"330203199001011234": …}`) was sent back in the clear.
#[tokio::test]
async fn an_id_number_as_a_member_name_is_not_repeated_by_the_intake() {
    let dir = tempfile::tempdir().expect("dir");
    let a = agent(&dir, |_| {}).await;
    let id = "330203199001011234";
    let (status, text) = post_intake(&a, "TC-01/cutoff", &json!({"reason": "断电", id: "张三"})).await;
    assert_eq!(status, 422);
    let v: Value = serde_json::from_str(&text).expect("json");
    assert!(v["error"].as_str().is_some_and(|e| e.contains("is not a member of crane.cutoff.v1")), "{text}");
    assert!(!text.contains(id), "the answer repeats the number: {text}");
    assert!(queued(&a).await.is_empty(), "nothing signed");
    a.shutdown().await;
}

/// The intake had its own schema language, looser than the platform's payload types: it stored and signed a
/// decimal `"007"` (the contract has no leading zeros), a certificate type `Tower-Crane` (the contract's token is
/// lowercase) and a date `2027-02-30`, which the platform then refused, so the records sat parked at the gateway
/// after the device had its 201. The intake now reads bodies as the platform's types: 422 naming the member.
#[tokio::test]
async fn a_record_the_platform_would_refuse_is_refused_at_the_intake() {
    let dir = tempfile::tempdir().expect("dir");
    let a = agent(&dir, |_| {}).await;
    let sample = json!({
        "sampled_at": "2026-11-24T10:15:00+08:00", "load_t": "007", "moment_pct": "71.5", "height_m": "32.0",
        "radius_m": "25.5", "slew_deg": "182.0", "wind_m_s": "6.1", "tilt_deg": "0.12",
    });
    let login = |certificate_type: &str, until: &str| {
        json!({"operator_ref": "OP-0001", "method": "card", "certificate_type": certificate_type,
            "certificate_valid_until": until})
    };
    for (rec, body, field) in [
        ("sample", sample, "load_t"),
        ("operator_login", login("Tower-Crane", "2028-06-30"), "certificate_type"),
        ("operator_login", login("tower_crane_driver", "2027-02-30"), "certificate_valid_until"),
        ("cutoff", json!({"reason": "断电", "project_id": "NB-2025-0001"}), "project_id"),
    ] {
        let (status, text) = post_intake(&a, &format!("TC-01/{rec}"), &body).await;
        assert_eq!(status, 422, "{rec} {body}: {text}");
        let v: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(v["field"], field, "{v}");
    }
    assert!(queued(&a).await.is_empty(), "nothing signed");
    a.shutdown().await;
}

/// Posts `body` to the intake at `/v1/devices/{path}`: the status and the answer's text.
async fn post_intake(a: &AgentHandle, path: &str, body: &Value) -> (u16, String) {
    let r = client()
        .post(format!("{}/v1/devices/{path}", a.intake_url().expect("an intake")))
        .json(body)
        .send()
        .await
        .expect("post");
    (r.status().as_u16(), r.text().await.expect("body"))
}
