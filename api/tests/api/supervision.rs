//! Supervision at the API: a forbidden transition is rejected at `POST /v1/events` with the rule it breaks (and an
//! allowed one accepted), and the lists answer JSON and CSV in the caller's scope. (The demo city's command view is
//! tested with the demo: `demo/tests/demo/supervision.rs`.)

use serde_json::{Value, json};
use siteledger_api::auth::Role;
use siteledger_client::{KeyedChain, MemoryChain};
use siteledger_ledger::EventStore;
use siteledger_signer::SigningKey;

use crate::helpers::{TestApp, enrollment, new_id, obj};
use crate::world::{self, YINZHOU};

const PHOTO: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const P: &str = "NB-2026-0001";

fn sign(s: &mut KeyedChain, kind: &str, at: &str, payload: Value) -> siteledger_signer::Envelope {
    s.sign(new_id(), &format!("project/{P}/supervision"), kind, at, obj(payload)).expect("sign")
}

/// Puts a chain back after the ledger's head for its key (a rejected record does not take a sequence number).
async fn resume(app: &TestApp, s: &mut KeyedChain) {
    let head = app
        .server
        .state
        .ledger
        .store()
        .signer_head(&s.key().key_id().to_string())
        .await
        .expect("head")
        .expect("a head");
    s.set_chain(MemoryChain::after(head.signer_seq, head.leaf_hash));
}

async fn post(app: &TestApp, token: &str, env: &siteledger_signer::Envelope) -> Value {
    let resp = app.post_events(token, &Value::Array(vec![env.to_value()])).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.expect("json")
}

#[tokio::test]
async fn forbidden_transitions_are_rejected_at_ingest_with_the_rule_name() {
    let mut app = TestApp::spawn().await;
    let w = world::build(&mut app).await;
    let mut inspector = KeyedChain::new(SigningKey::from_seed(&[0x71; 32]));
    let mut contractor = KeyedChain::new(SigningKey::from_seed(&[0x72; 32]));
    let mut keys = Vec::new();
    for (k, subject, role) in
        [(&inspector, YINZHOU, "district_bureau"), (&contractor, w.contractor_b.as_str(), "enterprise")]
    {
        let pk = *k.key().public();
        keys.push(
            app.city
                .sign(
                    new_id(),
                    "registry/keys",
                    "ledger.key.enrolled.v1",
                    "2026-01-07T09:00:00+08:00",
                    enrollment(&pk, subject, role),
                )
                .expect("sign"),
        );
    }
    app.ingest_ok(&keys).await;
    let token = app.token(Role::City, None).await;

    let at = "2026-03-10T09:00:00+08:00";
    app.ingest_ok(&[
        sign(
            &mut inspector,
            "inspection.inspection.recorded.v1",
            at,
            json!({
            "project_id": P, "inspection_id": "JC-1", "inspection_kind": "safety", "inspector": "王建国",
            "scope": "主体结构", "inspected_party": w.contractor_b}),
        ),
        sign(
            &mut inspector,
            "inspection.finding.recorded.v1",
            at,
            json!({
            "project_id": P, "inspection_id": "JC-1", "finding_id": "F-1", "level": "serious", "category": "临边防护",
            "description": "未设防护栏杆"}),
        ),
        sign(
            &mut inspector,
            "inspection.rectification.noticed.v1",
            at,
            json!({
            "project_id": P, "finding_id": "F-1", "notice_id": "ZG-1", "deadline": "2026-03-13T17:00:00+08:00",
            "responsible": w.contractor_b, "requirement": "限期整改"}),
        ),
    ])
    .await;

    // Review before any submission: rejected, naming the rule.
    let review = |s: &mut KeyedChain| {
        sign(
            s,
            "inspection.rectification.reviewed.v1",
            "2026-03-11T09:00:00+08:00",
            json!({
            "project_id": P, "notice_id": "ZG-1", "result": "pass", "reviewer": "王建国", "note": "复查"}),
        )
    };
    let v = post(&app, &token, &review(&mut inspector)).await;
    assert_eq!(v["results"][0]["status"], "rejected", "{v}");
    let msg = v["results"][0]["message"].as_str().expect("message");
    assert!(msg.contains("inspection.review_needs_submission rule"), "{msg}");

    // Closure without a passed review: rejected. (The inspector's chain resumes after the rejected record.)
    resume(&app, &mut inspector).await;
    let close = sign(
        &mut inspector,
        "inspection.rectification.closed.v1",
        "2026-03-11T09:00:00+08:00",
        json!({"project_id": P, "notice_id": "ZG-1"}),
    );
    let v = post(&app, &token, &close).await;
    assert!(
        v["results"][0]["message"].as_str().expect("m").contains("inspection.closure_needs_passed_review rule"),
        "{v}"
    );
    resume(&app, &mut inspector).await;

    // A submission signed by the wrong party: rejected; by the responsible contractor: accepted; then the review.
    let submit = |s: &mut KeyedChain| {
        sign(
            s,
            "inspection.rectification.submitted.v1",
            "2026-03-12T09:00:00+08:00",
            json!({
            "project_id": P, "notice_id": "ZG-1", "photo_hashes": [PHOTO], "note": "已整改"}),
        )
    };
    let v = post(&app, &token, &submit(&mut inspector)).await;
    assert!(v["results"][0]["message"].as_str().expect("m").contains("inspection.submission_signer rule"), "{v}");
    resume(&app, &mut inspector).await;
    app.ingest_ok(&[submit(&mut contractor), review(&mut inspector)]).await;
    app.settle().await;

    // The list, in scope and as CSV; 海曙 sees nothing of a 鄞州 project.
    let rows: Value = app
        .get("/v1/supervision/rectifications?at=2026-03-12T10:00:00%2B08:00", Some(&token))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(rows[0]["status"], "passed", "{rows}");
    assert_eq!(rows[0]["overdue"], false);
    let csv = app.get("/v1/supervision/rectifications?format=csv", Some(&token)).await;
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().await.expect("text");
    assert!(text.contains("ZG-1") && text.contains("临边防护"), "{text}");
    let haishu = app.token(Role::District, Some(world::HAISHU)).await;
    let rows: Value = app.get("/v1/supervision/rectifications", Some(&haishu)).await.json().await.expect("json");
    assert_eq!(rows, json!([]));
    let bad = app.get("/v1/supervision/rectifications?at=yesterday", Some(&token)).await;
    assert_eq!(bad.status(), 400);
}
