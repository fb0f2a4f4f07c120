//! The demo city's 实名制与工资 history: the arrears view finds exactly the seeded cases, each published once with
//! its task, a rebuild gives the same view, and no plaintext ID or card number reaches the public log or the feed.

use serde_json::Value;
use siteledger_api::auth::Role;
use siteledger_domain::IdNumber;

use crate::helpers::{DemoApp, PATIENCE};

/// The demo city's arrears view finds every case the demo seeded, and nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_arrears_view_finds_exactly_the_seeded_cases() {
    use siteledger_demo::workforce as demo;
    let app = DemoApp::setup().await;
    let token = app.token(Role::City, None).await;
    let projects =
        siteledger_demo::city::projects(siteledger_demo::PROJECT_PREFIX, &siteledger_demo::city::enterprises());
    let pid = |i: usize| projects[demo::PROJECTS[i]].project_id.clone();
    let mut want: Vec<(String, String, String, String)> = demo::seeded_cases()
        .into_iter()
        .map(|(p, rule, w, month)| {
            let masked =
                w.map(|w| IdNumber::parse(&demo::id_number(p, w)).expect("valid").masked()).unwrap_or_default();
            (pid(p), rule.to_owned(), masked, month.to_owned())
        })
        .collect();
    want.sort();
    // The setup wrote the history (the owners' labour-cost deposits last), then the district bureaus published
    // the seeded findings and dispatched their tasks.
    let mut deposits = 0;
    let mut published_ids = Vec::new();
    let mut from = 0;
    loop {
        let page = app.server.state.ledger.read_all(from, 1000).await.expect("read");
        let Some(last) = page.last() else { break };
        from = last.position + 1;
        deposits += page.iter().filter(|e| e.kind == "wage.labour_cost.deposited.v1").count();
        published_ids
            .extend(page.iter().filter(|e| e.kind == "wage.finding.recorded.v1").map(|e| e.event_id.to_string()));
    }
    assert_eq!(deposits, 8);
    app.settle().await;
    let got: Value = app.get("/v1/workforce/arrears", Some(&token)).await.json().await.expect("json");
    let mut found: Vec<(String, String, String, String)> = got
        .as_array()
        .expect("array")
        .iter()
        .map(|f| {
            (
                f["project_id"].as_str().expect("p").to_owned(),
                f["rule"].as_str().expect("r").to_owned(),
                f["id_masked"].as_str().unwrap_or("").to_owned(),
                f["month"].as_str().expect("m").to_owned(),
            )
        })
        .collect();
    found.sort();
    assert_eq!(found, want, "{got:#}");
    // Every seeded finding is published exactly once (a signed wage.finding.recorded.v1), and its task is open in
    // the command view, assigned to the project's general contractor.
    assert_eq!(published_ids.len(), want.len(), "one publication per seeded finding");
    let tasks: Value = app.get("/v1/tasks?open=true", Some(&token)).await.json().await.expect("json");
    for f in got.as_array().expect("array") {
        let id = f["published_event_id"].as_str().unwrap_or_else(|| panic!("not published: {f:#}"));
        assert_eq!(published_ids.iter().filter(|p| p.as_str() == id).count(), 1, "{f:#}");
        let mine: Vec<&Value> =
            tasks.as_array().expect("array").iter().filter(|t| t["source_event_id"] == id).collect();
        assert_eq!(mine.len(), 1, "one open task per finding: {f:#} {tasks:#}");
        assert_eq!(mine[0]["assignee"], f["general_contractor"], "{:#}", mine[0]);
        assert_eq!(mine[0]["assignee_kind"], "enterprise");
    }
    // A rebuild from the log into a fresh read database gives the same view.
    let fresh_dir = tempfile::tempdir().expect("tempdir");
    let fresh = siteledger_projections::ReadDb::open(&format!("sqlite:{}", fresh_dir.path().join("read.db").display()))
        .await
        .expect("open");
    siteledger_projections::catch_up(&app.server.state.ledger, &fresh).await.expect("rebuild");
    let scope = siteledger_projections::Scope::All;
    let again = fresh.workforce_arrears(&scope, None, None, 1).await.expect("arrears");
    let before = app.server.state.read.workforce_arrears(&scope, None, None, 1).await.expect("arrears");
    let diff: Vec<_> = again.iter().zip(before.iter()).filter(|(a, b)| a != b).collect();
    assert_eq!(again.len(), before.len());
    assert!(diff.is_empty(), "{diff:#?}");
    assert_eq!(
        fresh.workforce_roster(&scope, None, false, &Default::default()).await.expect("roster"),
        app.server.state.read.workforce_roster(&scope, None, false, &Default::default()).await.expect("roster")
    );
    let on_site: Value = app.get("/v1/workforce/roster?on_site=true", Some(&token)).await.json().await.expect("json");
    assert_eq!(on_site.as_array().expect("array").len(), demo::PROJECTS.len() * demo::WORKERS);
    // The dashboard page shows them (demo mode: anonymous visitors may read), masked.
    let page = app.get("/workforce", None).await.text().await.expect("page");
    assert!(page.contains("疑似欠薪") && page.contains("人工费用拨付超期") && page.contains("2026-10-20"), "{page}");
    assert!(page.contains(&IdNumber::parse(&demo::id_number(0, 3)).expect("valid").masked()));
    // The demo's plaintext never reaches the public log.
    let head = app.server.state.ledger.head();
    let mut public = String::new();
    let mut from = 0;
    while from < head {
        public.push_str(
            &app.get(&format!("/v1/log/leaves?from={from}&limit=1000"), None).await.text().await.expect("leaves"),
        );
        from += 1000;
    }
    // The live feed, replayed from the start for the workforce kinds (1,000 records; the bound only turns a stuck
    // feed into a failure).
    let mut feed =
        app.client.get(app.url("/v1/feed?kinds=worker.,wage.&after=0")).bearer_auth(&token).send().await.expect("feed");
    assert_eq!(feed.status(), 200);
    let mut sse = String::new();
    let until = tokio::time::Instant::now() + PATIENCE;
    while sse.matches("person_ref").count() < 1000 {
        match tokio::time::timeout_at(until, feed.chunk()).await {
            Ok(Ok(Some(bytes))) => sse.push_str(&String::from_utf8_lossy(&bytes)),
            _ => break,
        }
    }
    assert!(sse.matches("person_ref").count() >= 1000, "the feed replayed the workforce records");
    public.push_str(&sse);
    for p in 0..demo::PROJECTS.len() {
        for w in 0..demo::WORKERS {
            assert!(!public.contains(&demo::id_number(p, w)) && !public.contains(&demo::card_number(p, w)));
        }
    }
    app.server.shutdown().await;
}
