//! The authenticated local intake over real HTTP: the bearer token on every route, and `POST /v1/records` for an
//! organisation's key (a testing laboratory's): 201 once durable, 422 naming the member, 403 naming the rule, 400
//! and 413. The platform URL is a closed port: what the agent accepts stays in its queue, read back here.

use serde_json::{Value, json};
use siteledger_gateway_agent::config::intake_token_sha256;
use siteledger_gateway_agent::{Agent, AgentConfig, AgentError, AgentHandle};
use siteledger_signer::SigningKey;

use crate::service::{INTAKE_TOKEN, client, queued};

const LAB: &str = "91330200MA2LAB001H";
const PROJECT: &str = "NB-2026-0001";

/// A testing laboratory's agent: `POST /v1/records` only (no devices, no HJ 212 listener, no heartbeat).
fn lab_config(dir: &tempfile::TempDir) -> AgentConfig {
    let mut c = AgentConfig::new("http://127.0.0.1:9", "", "", &dir.path().join("k"), &dir.path().join("q"));
    c.role = "testing_lab".into();
    c.subject = Some(LAB.into());
    c.hj212_listen = None;
    c.heartbeat_secs = 0;
    c.intake_token_sha256 = Some(intake_token_sha256(INTAKE_TOKEN));
    c
}

async fn lab_agent(dir: &tempfile::TempDir) -> AgentHandle {
    Agent::start(lab_config(dir), SigningKey::from_seed(&[21; 32]), "platform-token".into()).await.expect("agent")
}

fn url(a: &AgentHandle, path: &str) -> String {
    format!("{}{path}", a.intake_url().expect("an intake"))
}

fn received() -> Value {
    json!({
        "kind": "testing.sample.received.v1",
        "stream": format!("project/{PROJECT}/testing"),
        "payload": {"project_id": PROJECT, "sample_id": "S-0001", "seal_id": "SEAL-0001", "seal_intact": true,
                    "condition": "试块完好，封识无损"},
    })
}

fn report() -> Value {
    json!({
        "kind": "testing.report.issued.v1",
        "stream": format!("project/{PROJECT}/testing"),
        "occurred_at": "2026-03-12T16:30:00+08:00",
        "payload": {"project_id": PROJECT, "sample_id": "S-0001", "report_year": 2026, "report_seq": 17,
                    "tester": "王检测", "reviewer": "李审核", "approver": "赵批准", "result": "qualified",
                    "summary": "C30 混凝土试块 28 天抗压强度 36.2 MPa，符合设计要求"},
    })
}

async fn answer(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The intake used to answer anyone on the site network: any process could make the agent sign records in its
/// key's name. Now every route, and even an unknown path, answers 401 with a Bearer challenge without the token
/// or with a wrong one, and nothing reaches the queue.
#[tokio::test]
async fn every_route_refuses_a_request_without_the_token_or_with_a_wrong_one() {
    let dir = tempfile::tempdir().expect("dir");
    let a = lab_agent(&dir).await;
    let bare = reqwest::Client::new();
    for auth in [None, Some("Bearer not-the-token"), Some("Basic dXNlcjpwYXNz"), Some("Bearer ")] {
        for (method, path) in [
            ("POST", "/v1/records"),
            ("POST", "/v1/devices/TC-01/cutoff"),
            ("GET", "/v1/status"),
            ("GET", "/v1/nothing"),
        ] {
            let mut req =
                if method == "GET" { bare.get(url(&a, path)) } else { bare.post(url(&a, path)).json(&report()) };
            if let Some(h) = auth {
                req = req.header("authorization", h);
            }
            let r = req.send().await.expect("request");
            assert_eq!(r.status().as_u16(), 401, "{method} {path} with {auth:?}");
            let challenge = r.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).unwrap_or_default();
            assert!(challenge.starts_with("Bearer"), "{challenge}");
            let body: Value = r.json().await.expect("json");
            let message = body["error"].as_str().unwrap_or_default();
            assert!(message.contains("本地接入令牌") && message.contains("local intake token"), "{body}");
        }
    }
    assert!(queued(&a).await.is_empty(), "nothing was signed for an unauthenticated caller");
    // The right token, with the scheme in any case, is let in.
    let r = bare.get(url(&a, "/v1/status")).header("authorization", format!("bearer {INTAKE_TOKEN}")).send().await;
    assert_eq!(r.expect("status").status().as_u16(), 200);
    a.shutdown().await;
}

#[tokio::test]
async fn an_intake_without_a_token_is_a_start_up_error_naming_the_setting() {
    let dir = tempfile::tempdir().expect("dir");
    let mut c = lab_config(&dir);
    c.intake_token_sha256 = None;
    match Agent::start(c, SigningKey::from_seed(&[21; 32]), "t".into()).await {
        Err(AgentError::Config(m)) => assert!(m.contains("intake_token_sha256") && m.contains("http_listen"), "{m}"),
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

/// A laboratory's receipt and report are acknowledged once durable, in chain order, with the payload the domain's
/// type serialises to and the occurred_at sent (or the receive time when none was sent).
#[tokio::test]
async fn a_lab_agent_signs_its_receipt_and_report_in_chain_order() {
    let dir = tempfile::tempdir().expect("dir");
    let a = lab_agent(&dir).await;
    let http = client();
    let mut seqs = Vec::new();
    for body in [received(), report()] {
        let (status, v) = answer(http.post(url(&a, "/v1/records")).json(&body).send().await.expect("post")).await;
        assert_eq!(status, 201, "{v}");
        assert_eq!((v["kind"].clone(), v["stream"].clone()), (body["kind"].clone(), body["stream"].clone()));
        seqs.push(v["seq"].as_u64().expect("seq"));
    }
    assert_eq!(seqs, [1, 2]);
    let stored = queued(&a).await;
    let kinds: Vec<&str> = stored.iter().map(|e| e.kind()).collect();
    assert_eq!(kinds, ["testing.sample.received.v1", "testing.report.issued.v1"]);
    assert_eq!(stored[1].occurred_at(), "2026-03-12T16:30:00+08:00");
    assert!(stored[0].occurred_at().ends_with("+08:00"), "the receive time in Shanghai time");
    assert_eq!(serde_json::to_value(stored[1].payload()).expect("json"), report()["payload"]);
    assert!(stored.iter().all(|e| e.signer() == SigningKey::from_seed(&[21; 32]).key_id()));
    a.shutdown().await;
}

/// A payload that does not fit its kind gets 422 naming the member, and a value shaped like an ID number is not
/// repeated back; nothing is signed.
#[tokio::test]
async fn a_bad_payload_gets_422_naming_the_member() {
    let dir = tempfile::tempdir().expect("dir");
    let a = lab_agent(&dir).await;
    let http = client();
    let id = "330203199001011234";
    let mut wrong_result = report();
    wrong_result["payload"]["result"] = json!("maybe");
    let mut missing = report();
    missing["payload"].as_object_mut().expect("object").remove("approver");
    let mut personal = report();
    personal["payload"]["summary"] = json!(format!("送检人 {id}"));
    let mut stream = report();
    stream["stream"] = json!("project/NB-2026-0002/testing");
    let mut kind = report();
    kind["kind"] = json!("testing.report.issued.v9");
    let mut extra = report();
    extra["signature"] = json!("x");
    for (body, field) in [
        (wrong_result, "payload.result"),
        (missing, "payload.approver"),
        (personal, "payload.summary"),
        (stream, "stream"),
        (kind, "kind"),
        (extra, "signature"),
    ] {
        let (status, v) = answer(http.post(url(&a, "/v1/records")).json(&body).send().await.expect("post")).await;
        assert_eq!((status, v["field"].as_str()), (422, Some(field)), "{v}");
        assert!(!v.to_string().contains("3302031990"), "the ID number is not repeated: {v}");
    }
    assert!(queued(&a).await.is_empty());
    a.shutdown().await;
}

/// A laboratory's key used to be able to sign anything through its agent (no check of the kind against the
/// key's role): a wage transfer "by the lab" would only be refused by the platform, after the agent had signed
/// it into its chain. Now the agent answers 403 naming the rule, the kind, its role and the roles that may.
#[tokio::test]
async fn a_lab_key_posting_a_wage_transfer_is_forbidden_naming_the_rule() {
    let dir = tempfile::tempdir().expect("dir");
    let a = lab_agent(&dir).await;
    let transfer = json!({
        "kind": "wage.transfer.made.v1",
        "stream": format!("project/{PROJECT}/wage"),
        "payload": {"project_id": PROJECT, "transfer_id": "T-1", "payroll_id": "PR-1",
                    "person_ref": "P-0123456789abcdef0123456789abcdef", "amount_fen": 100,
                    "card_commitment": format!("hmac-sha256:{}", "a".repeat(64)), "card_masked": "6222********1234",
                    "paid_on": "2026-03-10", "back_pay": false},
    });
    let r = client().post(url(&a, "/v1/records")).json(&transfer).send().await.expect("post");
    assert_eq!(r.headers().get("x-siteledger-rule").and_then(|v| v.to_str().ok()), Some("authority.signer_role"));
    let (status, v) = answer(r).await;
    assert_eq!(status, 403, "{v}");
    let message = v["error"].as_str().unwrap_or_default();
    for part in ["authority.signer_role", "wage.transfer.made.v1", "testing_lab", "bank or enterprise"] {
        assert!(message.contains(part), "{part}: {message}");
    }
    assert!(queued(&a).await.is_empty());
    a.shutdown().await;
}

/// A gateway's key signs only for its own project: the agent refuses another project's stream with the domain's
/// own-project rule instead of signing a record the platform must refuse.
#[tokio::test]
async fn a_gateway_posting_for_another_project_is_forbidden() {
    let dir = tempfile::tempdir().expect("dir");
    let mut c =
        AgentConfig::new("http://127.0.0.1:9", "NB-2025-0001", "GW-T", &dir.path().join("k"), &dir.path().join("q"));
    c.heartbeat_secs = 0;
    c.intake_token_sha256 = Some(intake_token_sha256(INTAKE_TOKEN));
    let a = Agent::start(c, SigningKey::from_seed(&[22; 32]), "t".into()).await.expect("agent");
    let reading = |project: &str| {
        json!({"kind": "env.dust_noise.reading.v1", "stream": format!("project/{project}/env/DUST-1"),
               "payload": {"project_id": project, "device_id": "DUST-1", "pm10_ug_m3": "61.5", "pm25_ug_m3": "30.1",
                           "noise_db_a": "58.0"}})
    };
    let http = client();
    let (status, v) =
        answer(http.post(url(&a, "/v1/records")).json(&reading("NB-2025-0002")).send().await.expect("post")).await;
    assert_eq!(status, 403, "{v}");
    assert!(v["error"].as_str().unwrap_or_default().starts_with("authority.own_project rule"), "{v}");
    let (status, v) =
        answer(http.post(url(&a, "/v1/records")).json(&reading("NB-2025-0001")).send().await.expect("post")).await;
    assert_eq!((status, v["seq"].as_u64()), (201, Some(1)), "{v}");
    a.shutdown().await;
}

#[tokio::test]
async fn non_json_gets_400_and_an_oversized_body_413() {
    let dir = tempfile::tempdir().expect("dir");
    let a = lab_agent(&dir).await;
    let http = client();
    for body in ["kind=testing.report.issued.v1", "[1, 2]", "{\"kind\": "] {
        let (status, v) = answer(http.post(url(&a, "/v1/records")).body(body).send().await.expect("post")).await;
        assert_eq!(status, 400, "{body}: {v}");
        assert!(v["error"].as_str().is_some_and(|m| m.contains("JSON")), "{v}");
    }
    let mut big = report();
    big["payload"]["summary"] = json!("好".repeat(30_000));
    let (status, v) = answer(http.post(url(&a, "/v1/records")).json(&big).send().await.expect("post")).await;
    assert_eq!(status, 413, "{v}");
    assert!(queued(&a).await.is_empty());
    a.shutdown().await;
}
