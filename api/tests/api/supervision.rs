//! Supervision at the API: a forbidden transition is rejected at `POST /v1/events` with the rule it breaks (and an
//! allowed one accepted), the lists answer JSON and CSV in the caller's scope, and the demo city's command view
//! shows overdue rectifications, missing expert reviews and report-number gaps.

use std::time::Duration;

use serde_json::{Value, json};
use siteledger_api::auth::Role;
use siteledger_ledger::EventStore;
use siteledger_signer::SigningKey;
use siteledger_signer::sample::ChainSigner;

use crate::helpers::{TestApp, enrollment, new_id, obj};
use crate::world::{self, YINZHOU};

const PHOTO: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const P: &str = "NB-2026-0001";

fn sign(s: &mut ChainSigner, kind: &str, at: &str, payload: Value) -> siteledger_signer::Envelope {
    s.sign(new_id(), &format!("project/{P}/supervision"), kind, at, obj(payload)).expect("sign")
}

/// Puts a chain back after the ledger's head for its key (a rejected record does not take a sequence number).
async fn resume(app: &TestApp, s: &mut ChainSigner) {
    let head =
        app.server.state.ledger.store().signer_head(&s.key.key_id().to_string()).await.expect("head").expect("a head");
    s.next_seq = head.signer_seq + 1;
    s.prev = Some(head.leaf_hash);
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
    let mut inspector = ChainSigner::new(SigningKey::from_seed(&[0x71; 32]));
    let mut contractor = ChainSigner::new(SigningKey::from_seed(&[0x72; 32]));
    let mut keys = Vec::new();
    for (k, subject, role) in
        [(&inspector, YINZHOU, "district_bureau"), (&contractor, w.contractor_b.as_str(), "enterprise")]
    {
        let pk = *k.key.public();
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
    let review = |s: &mut ChainSigner| {
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
    let submit = |s: &mut ChainSigner| {
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

async fn get_json(app: &TestApp, path: &str, token: &str) -> Value {
    let resp = app.get(path, Some(token)).await;
    assert_eq!(resp.status(), 200, "GET {path}");
    resp.json().await.expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_command_view_shows_overdue_rectifications_missing_reviews_and_report_gaps() {
    siteledger_api::demo::set_tick_ms(200);
    let _ = tracing_subscriber::fmt().with_env_filter("warn").with_test_writer().try_init();
    let app = TestApp::spawn_with(|c| c.demo = true).await;
    let token = app.token(Role::City, None).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let mut head = app.server.state.ledger.watch_head();
    let view = loop {
        let v = get_json(&app, "/v1/supervision/command", &token).await;
        let ready = |k: &str| v[k].as_array().is_some_and(|a| !a.is_empty());
        // The history's last records are the tasks between bureaus (XT-…): once they show, all of it is in.
        let all_in = v["open_tasks"]
            .as_array()
            .is_some_and(|a| a.iter().any(|t| t["task_id"].as_str().is_some_and(|id| id.starts_with("XT-"))));
        if ready("overdue_rectifications") && ready("missing_reviews") && ready("report_gaps") && all_in {
            app.settle().await;
            break get_json(&app, "/v1/supervision/command", &token).await;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for the command view: {v}");
        let _ = tokio::time::timeout(Duration::from_millis(500), head.changed()).await;
    };
    let overdue = view["overdue_rectifications"].as_array().expect("array");
    assert!(overdue.iter().all(|r| r["overdue"] == true && r["overdue_hours"].as_i64().unwrap_or(0) >= 0));
    assert!(overdue.iter().any(|r| r["status"] == "reopened"), "a failed review that is overdue");
    assert!(overdue.iter().any(|r| r["status"] == "open"), "an unanswered notice that is overdue");
    let missing = view["missing_reviews"].as_array().expect("array");
    assert!(missing.iter().any(|h| h["class"] == "major" && h["missing"] == json!(["expert_review"])), "{missing:?}");
    let gaps = view["report_gaps"].as_array().expect("array");
    assert!(gaps.iter().any(|g| g["from"] == 108 && g["to"] == 108), "{gaps:?}");
    assert!(view["unreported_unqualified"].as_array().is_some_and(|a| !a.is_empty()));
    assert!(view["monitoring_anomalies"].as_array().is_some_and(|a| !a.is_empty()));
    let register = get_json(&app, "/v1/supervision/testing/unqualified", &token).await;
    let states: Vec<&str> = register.as_array().expect("a").iter().filter_map(|u| u["reporting"].as_str()).collect();
    assert!(states.contains(&"overdue") && states.contains(&"reported"), "{states:?}");
    let bim = get_json(&app, "/v1/supervision/bim/nodes", &token).await;
    assert!(bim.as_array().expect("a").iter().any(|n| n["deviation_days"].as_i64().unwrap_or(0) > 0), "a late node");
    assert!(view["open_tasks"].as_array().expect("a").iter().any(|t| t["breached"] == true));
    let first = &view["districts"][0];
    assert!(
        first["overdue_rectifications"].as_u64().unwrap_or(0) + first["breached_tasks"].as_u64().unwrap_or(0) > 0,
        "overdue first"
    );

    // A district bureau sees its own district only.
    let code = first["code"].as_str().expect("code").to_owned();
    let district = app.token(Role::District, Some(&code)).await;
    let dv = get_json(&app, "/v1/supervision/command", &district).await;
    assert!(dv["districts"].as_array().expect("a").iter().all(|d| d["code"] == code.as_str()), "{dv}");
    assert!(dv["overdue_rectifications"].as_array().expect("a").iter().all(|r| r["district"] == code.as_str()));
    assert!(dv["open_tasks"].as_array().expect("a").iter().all(|t| t["district"] == code.as_str()));
    assert!(dv["missing_reviews"].as_array().expect("a").iter().all(|h| h["district"] == code.as_str()));

    // The page (layout.nav = command) shows the same, in Chinese.
    let html = app.get("/command", Some(&token)).await.text().await.expect("html");
    assert!(html.contains("协同指挥") && html.contains(r#"href="/command" class="active""#), "nav");
    for id in ["sv-overdue-rectifications", "sv-missing-reviews", "sv-report-gaps", "sv-open-task-list"] {
        assert!(html.contains(id), "{id}");
    }
    assert!(html.contains("未经专家论证"), "missing expert review shown");
    assert!(html.contains("-108</span>") || html.contains("-108 "), "gap 108 shown");
    assert!(html.contains("逾期"), "overdue shown");
    assert!(html.contains("/static/supervision.js") && html.contains("/v1/feed?kinds=inspection.,testing."), "live");
    let js = app.get("/static/supervision.js", None).await;
    assert_eq!(js.status(), 200);
    assert!(js.text().await.expect("js").contains("EventSource"));
    for page in ["/command/rectifications", "/command/testing", "/command/hazards", "/command/bim", "/command/tasks"] {
        let resp = app.get(page, Some(&token)).await;
        assert_eq!(resp.status(), 200, "{page}");
    }

    // Nothing the demo sent was rejected.
    let text = app.get("/metrics", None).await.text().await.expect("text");
    let rejections: Vec<&str> = text.lines().filter(|l| l.starts_with("siteledger_ingest_rejections_total{")).collect();
    assert!(rejections.is_empty(), "{rejections:?}");
    app.server.shutdown().await;
}
