//! The curl lines of `docs/PRODUCERS.md` work as written: every `POST /v1/records` body in the guide's shell blocks
//! is posted, as the guide shows it, to a running agent whose key has a role that may sign the body's kind, and is
//! acknowledged (201, durable). The report citing its PDF is posted after the PDF went to the agent's
//! `POST /v1/blobs`, with the digest the agent answered, as the guide's `SHA=$(…)` line does. A guide whose payloads
//! had drifted from the domain's types (a renamed member, a missing one) would only be found by the first
//! contractor, bank or laboratory who copied it.

use std::path::PathBuf;

use serde_json::Value;
use siteledger_domain::authority::signer_roles;
use siteledger_gateway_agent::config::intake_token_sha256;
use siteledger_gateway_agent::{Agent, AgentConfig, AgentHandle};
use siteledger_signer::SigningKey;

use crate::service::{INTAKE_TOKEN, client};

/// The guide's `-d '…'` bodies of `POST /v1/records`, in order, with the shell's `'"$SHA"'` splice left as the
/// marker `$SHA`.
fn guide_bodies() -> Vec<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/PRODUCERS.md");
    let doc = std::fs::read_to_string(&path).expect("docs/PRODUCERS.md");
    let mut bodies = Vec::new();
    let mut rest = doc.as_str();
    while let Some(at) = rest.find("/v1/records -H") {
        rest = &rest[at..];
        let open = rest.find("-d '").expect("a POST /v1/records line of the guide carries its body with -d '…'");
        let body = &rest[open + 4..];
        // The body ends at the first quote that closes the shell string (`'` not followed by `"$SHA"`).
        let mut end = 0;
        let mut text = String::new();
        loop {
            let q = body[end..].find('\'').expect("the body's closing quote") + end;
            text.push_str(&body[end..q]);
            if body[q..].starts_with("'\"$SHA\"'") {
                text.push_str("$SHA");
                end = q + "'\"$SHA\"'".len();
            } else {
                end = q + 1;
                break;
            }
        }
        bodies.push(text);
        rest = &body[end..];
    }
    bodies
}

/// An agent of `role` (an organisation's key, no devices) on a closed platform port: what it accepts stays queued.
async fn agent_of(role: &str, dir: &tempfile::TempDir, seed: u8) -> AgentHandle {
    let mut c =
        AgentConfig::new("http://127.0.0.1:9", "", "", &dir.path().join(format!("{role}.key")), &dir.path().join(role));
    c.role = role.into();
    c.subject = Some("91330200MA2GC00017".into());
    c.hj212_listen = None;
    c.heartbeat_secs = 0;
    c.intake_token_sha256 = Some(intake_token_sha256(INTAKE_TOKEN));
    Agent::start(c, SigningKey::from_seed(&[seed; 32]), "platform-token".into()).await.expect("agent")
}

#[tokio::test]
async fn every_curl_body_of_the_producers_guide_is_acknowledged_by_an_agent_that_may_sign_it() {
    let bodies = guide_bodies();
    let kinds: Vec<String> = bodies
        .iter()
        .map(|b| {
            let v: Value = serde_json::from_str(&b.replace("$SHA", &"0".repeat(64)))
                .unwrap_or_else(|e| panic!("a body of docs/PRODUCERS.md is not JSON ({e}):\n{b}"));
            v["kind"].as_str().expect("kind").to_owned()
        })
        .collect();
    // The guide shows attendance, payroll, the bank's transfer, the commission, the witnessed sampling, the
    // laboratory's receipt and report, and the report again citing its PDF.
    for wanted in [
        "worker.passage.v1",
        "wage.payroll.submitted.v1",
        "wage.transfer.made.v1",
        "testing.sample.taken.v1",
        "testing.report.issued.v1",
    ] {
        assert!(kinds.iter().any(|k| k == wanted), "the guide has no curl line for {wanted}: {kinds:?}");
    }
    assert!(bodies.iter().any(|b| b.contains("$SHA")), "the guide's report citing its PDF was not found");

    let dir = tempfile::tempdir().expect("dir");
    let http = client();
    let mut agents: Vec<(String, AgentHandle)> = Vec::new();
    let pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";
    for (body, kind) in bodies.iter().zip(&kinds) {
        let roles = signer_roles(kind).unwrap_or_else(|| panic!("{kind} is not a kind the domain knows"));
        // The guide is for organisations' agents: an organisation's role where the kind allows one.
        let role = roles
            .iter()
            .find(|r| !matches!(r.as_str(), "gateway" | "device"))
            .or_else(|| roles.first())
            .unwrap_or_else(|| panic!("nobody may sign {kind}"))
            .as_str()
            .to_owned();
        if !agents.iter().any(|(r, _)| *r == role) {
            let seed = u8::try_from(agents.len() + 40).expect("few agents");
            agents.push((role.clone(), agent_of(&role, &dir, seed).await));
        }
        let (_, agent) = agents.iter().find(|(r, _)| *r == role).expect("the agent just started");
        let base = agent.intake_url().expect("an intake");
        let mut text = body.clone();
        if text.contains("$SHA") {
            let r = http.post(format!("{base}/v1/blobs")).body(pdf.to_vec()).send().await.expect("post blob");
            assert!(r.status().is_success(), "blob: {}", r.status());
            let v: Value = r.json().await.expect("json");
            text = text.replace("$SHA", v["sha256"].as_str().expect("sha256"));
        }
        let r = http
            .post(format!("{base}/v1/records"))
            .header("content-type", "application/json")
            .body(text)
            .send()
            .await
            .expect("post");
        let status = r.status().as_u16();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 201, "the guide's {kind} body, posted to a `{role}` agent: {v}");
        assert!(v["event_id"].is_string() && v["seq"].is_u64(), "{v}");
    }
    for (_, a) in agents {
        a.shutdown().await;
    }
}
