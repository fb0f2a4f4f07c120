//! The agent's local `POST /v1/blobs` and the files records cite, over real HTTP: a record citing a file the agent
//! does not hold is refused naming the member; the file posted first is stored durably, content-addressed beside
//! the queue, and the record is then acknowledged with its `event_id`. The platform URL is a closed port.

use serde_json::{Value, json};
use siteledger_gateway_agent::config::intake_token_sha256;
use siteledger_gateway_agent::{Agent, AgentConfig, AgentHandle};
use siteledger_signer::SigningKey;

use crate::service::{INTAKE_TOKEN, client, queued};

const LAB: &str = "91330200MA2LAB001H";
const PROJECT: &str = "NB-2026-0001";
/// A few hundred bytes of PDF, as a laboratory's LIMS would export a report.
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

async fn lab_agent(dir: &tempfile::TempDir, max_blob_bytes: usize) -> AgentHandle {
    let mut c = AgentConfig::new("http://127.0.0.1:9", "", "", &dir.path().join("k"), &dir.path().join("q"));
    c.role = "testing_lab".into();
    c.subject = Some(LAB.into());
    c.hj212_listen = None;
    c.heartbeat_secs = 0;
    c.max_blob_bytes = max_blob_bytes;
    c.intake_token_sha256 = Some(intake_token_sha256(INTAKE_TOKEN));
    Agent::start(c, SigningKey::from_seed(&[23; 32]), "platform-token".into()).await.expect("agent")
}

fn url(a: &AgentHandle, path: &str) -> String {
    format!("{}{path}", a.intake_url().expect("an intake"))
}

fn report_citing(sha: &str) -> Value {
    json!({
        "kind": "testing.report.issued.v1",
        "stream": format!("project/{PROJECT}/testing"),
        "payload": {"project_id": PROJECT, "sample_id": "S-0001", "report_year": 2026, "report_seq": 17,
                    "tester": "王检测", "reviewer": "李审核", "approver": "赵批准", "result": "qualified",
                    "summary": "C30 混凝土试块 28 天抗压强度 36.2 MPa", "report_sha256": sha},
    })
}

async fn answer(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn sha256_hex(bytes: &[u8]) -> String {
    siteledger_client::idempotency::sha256_hex(bytes)
}

/// Before: the agent signed a report citing a PDF it never saw, so the platform got a digest and no file. Now the
/// report is refused (422 naming `payload.report_sha256`, nothing signed) until the PDF is posted to the agent's
/// `POST /v1/blobs`, which stores it under its digest before answering 201 with the digest, size and the media type
/// found in the bytes; the report is then acknowledged with its `seq` and `event_id`.
#[tokio::test]
async fn a_report_citing_a_pdf_the_agent_does_not_hold_is_refused_until_the_pdf_is_posted() {
    let dir = tempfile::tempdir().expect("dir");
    let a = lab_agent(&dir, 1 << 20).await;
    let http = client();
    let sha = sha256_hex(PDF);
    let (status, v) =
        answer(http.post(url(&a, "/v1/records")).json(&report_citing(&sha)).send().await.expect("post")).await;
    assert_eq!((status, v["field"].as_str()), (422, Some("payload.report_sha256")), "{v}");
    assert!(v["error"].as_str().is_some_and(|m| m.contains("/v1/blobs") && m.contains(&sha)), "{v}");
    assert!(queued(&a).await.is_empty(), "nothing signed");

    let post_pdf = || http.post(url(&a, "/v1/blobs")).header("content-type", "image/png").body(PDF.to_vec()).send();
    let (status, v) = answer(post_pdf().await.expect("blob")).await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v, json!({"sha256": sha, "bytes": PDF.len(), "media_type": "application/pdf"}), "sniffed, not declared");
    let (status, again) = answer(post_pdf().await.expect("blob again")).await;
    assert_eq!((status, &again), (200, &v), "the same bytes again: already held");
    let on_disk = dir.path().join("q").join("blobs").join(&sha[0..2]).join(&sha[2..4]).join(&sha);
    assert_eq!(std::fs::read(&on_disk).expect("stored beside the queue"), PDF);

    let (status, v) =
        answer(http.post(url(&a, "/v1/records")).json(&report_citing(&sha)).send().await.expect("post")).await;
    assert_eq!(status, 201, "{v}");
    let stored = queued(&a).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(v["seq"], 1);
    assert_eq!(v["event_id"].as_str(), Some(stored[0].id().to_string().as_str()), "the 201 names the envelope's id");
    assert_eq!(stored[0].payload()["report_sha256"], json!(sha));
    a.shutdown().await;
}

/// The blob route takes its own size limit (`max_blob_bytes`), not the records' 64 KiB, refuses an empty body,
/// and like every local route answers 401 without the token.
#[tokio::test]
async fn the_blob_route_has_its_own_limit_refuses_an_empty_body_and_needs_the_token() {
    let dir = tempfile::tempdir().expect("dir");
    let a = lab_agent(&dir, 100 * 1024).await;
    let http = client();
    let big = [PDF, &vec![b' '; 90 * 1024]].concat();
    let (status, v) = answer(http.post(url(&a, "/v1/blobs")).body(big).send().await.expect("post")).await;
    assert_eq!(status, 201, "90 KiB is over the records' limit but within max_blob_bytes: {v}");
    let too_big = vec![b'x'; 100 * 1024 + 1];
    let (status, v) = answer(http.post(url(&a, "/v1/blobs")).body(too_big).send().await.expect("post")).await;
    assert_eq!(status, 413, "{v}");
    assert!(v["error"].as_str().is_some_and(|m| m.contains("max_blob_bytes")), "{v}");
    let (status, v) = answer(http.post(url(&a, "/v1/blobs")).body(Vec::new()).send().await.expect("post")).await;
    assert_eq!(status, 400, "{v}");
    let bare = reqwest::Client::new();
    let r = bare.post(url(&a, "/v1/blobs")).body(PDF.to_vec()).send().await.expect("post");
    assert_eq!(r.status().as_u16(), 401);
    assert!(
        !dir.path().join("q").join("blobs").join(&sha256_hex(PDF)[0..2]).exists(),
        "nothing stored without the token"
    );
    a.shutdown().await;
}
