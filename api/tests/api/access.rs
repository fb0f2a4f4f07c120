//! Every role can neither read nor write outside its scope.

use serde_json::{Value, json};
use siteledger_api::auth::Role;
use siteledger_client::MemoryChain;

use crate::helpers::TestApp;
use crate::world::{self, HAISHU, YINZHOU, alarm, reading};

async fn project_ids(app: &TestApp, token: &str) -> Vec<String> {
    let resp = app.get("/v1/projects", Some(token)).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.expect("json");
    let mut ids: Vec<String> =
        v.as_array().expect("array").iter().map(|p| p["project_id"].as_str().expect("id").to_owned()).collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_are_scoped_for_every_role() {
    let mut app = TestApp::spawn().await;
    let mut w = world::build(&mut app).await;
    let mut envs = vec![reading(&mut w.gw1, "NB-2026-0001", 1), alarm(&mut w.gw1, "NB-2026-0001", 1)];
    envs.push(reading(&mut w.gw2, "NB-2026-0002", 1));
    envs.push(alarm(&mut w.gw2, "NB-2026-0002", 2));
    app.ingest_ok(&envs).await;
    app.settle().await;

    let all = ["NB-2026-0001", "NB-2026-0002", "NB-2026-0003"];
    let city = app.token(Role::City, None).await;
    let auditor = app.token(Role::Auditor, None).await;
    let yinzhou = app.token(Role::District, Some(YINZHOU)).await;
    let haishu = app.token(Role::District, Some(HAISHU)).await;
    let b = app.token(Role::Enterprise, Some(&w.contractor_b)).await;
    let c = app.token(Role::Enterprise, Some(&w.contractor_c)).await;
    let gw = app.token(Role::Gateway, Some(&w.gw1.key().key_id().to_string())).await;

    assert_eq!(project_ids(&app, &city).await, all);
    assert_eq!(project_ids(&app, &auditor).await, all);
    assert_eq!(project_ids(&app, &yinzhou).await, ["NB-2026-0001", "NB-2026-0003"]);
    assert_eq!(project_ids(&app, &haishu).await, ["NB-2026-0002"]);
    assert_eq!(project_ids(&app, &b).await, ["NB-2026-0001"]);
    assert_eq!(project_ids(&app, &c).await, ["NB-2026-0002", "NB-2026-0003"]);
    assert!(project_ids(&app, &gw).await.is_empty());

    // A project outside the scope is indistinguishable from a missing one.
    for (token, id) in [(&haishu, "NB-2026-0001"), (&b, "NB-2026-0002"), (&gw, "NB-2026-0001")] {
        assert_eq!(app.get(&format!("/v1/projects/{id}"), Some(token)).await.status(), 404);
        let ev = app.get(&format!("/v1/projects/{id}/events"), Some(token)).await;
        assert_eq!(ev.status(), 404);
    }
    assert_eq!(app.get("/v1/projects/NB-2026-0001", Some(&yinzhou)).await.status(), 200);

    // Alarms follow the same scope.
    let alarms = |v: Value| -> Vec<String> {
        v.as_array().expect("array").iter().map(|a| a["project_id"].as_str().expect("p").to_owned()).collect()
    };
    let a_h: Value = app.get("/v1/alarms", Some(&haishu)).await.json().await.expect("json");
    assert_eq!(alarms(a_h), ["NB-2026-0002"]);
    let a_b: Value = app.get("/v1/alarms", Some(&b)).await.json().await.expect("json");
    assert_eq!(alarms(a_b), ["NB-2026-0001"]);
    let a_city: Value = app.get("/v1/alarms", Some(&city)).await.json().await.expect("json");
    assert_eq!(a_city.as_array().expect("a").len(), 2);

    // The event query too.
    let ev: Value = app.get("/v1/events?limit=1000", Some(&haishu)).await.json().await.expect("json");
    for e in ev.as_array().expect("array") {
        let s = e["stream"].as_str().expect("stream");
        assert!(!s.starts_with("project/NB-2026-0001") && !s.starts_with("project/NB-2026-0003"), "district sees {s}");
    }
    let districts: Value = app.get("/v1/districts", Some(&haishu)).await.json().await.expect("json");
    let codes: Vec<&str> = districts.as_array().expect("a").iter().map(|d| d["code"].as_str().expect("c")).collect();
    assert_eq!(codes, [HAISHU], "a district bureau sees its own district");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_limited_by_role_and_signer() {
    let mut app = TestApp::spawn().await;
    let mut w = world::build(&mut app).await;
    let gw1_token = app.token(Role::Gateway, Some(&w.gw1.key().key_id().to_string())).await;
    let own = reading(&mut w.gw1, "NB-2026-0001", 5);
    let foreign = reading(&mut w.gw2, "NB-2026-0002", 5);
    let v: Value =
        app.post_events(&gw1_token, &json!([own.to_value(), foreign.to_value()])).await.json().await.expect("json");
    assert_eq!(v["results"][0]["status"], "accepted");
    assert_eq!(v["results"][1]["code"], "forbidden_signer");

    let auditor = app.token(Role::Auditor, None).await;
    let resp = app.post_events(&auditor, &json!([reading(&mut w.gw1, "NB-2026-0001", 6).to_value()])).await;
    assert_eq!(resp.status(), 403);
    let e: Value = resp.json().await.expect("json");
    assert_eq!(e["code"], "forbidden");

    // No token, a wrong token, a revoked token, an expired token.
    assert_eq!(app.get("/v1/projects", None).await.status(), 401);
    assert_eq!(app.get("/v1/projects", Some("slt_not-a-real-token")).await.status(), 401);
    let t = app.server.state.tokens.create("to revoke", Role::City, None, 1).await.expect("token");
    assert_eq!(app.get("/v1/projects", Some(&t.secret)).await.status(), 200);
    assert!(app.server.state.tokens.revoke(&t.id).await.expect("revoke"));
    assert_eq!(app.get("/v1/projects", Some(&t.secret)).await.status(), 401);
    let expired = app.server.state.tokens.create("expired", Role::City, None, 0).await.expect("token");
    assert_eq!(app.get("/v1/projects", Some(&expired.secret)).await.status(), 401);
    let body: Value = app.get("/v1/projects", None).await.json().await.expect("json");
    assert_eq!(body["code"], "unauthorized");

    // Tokens are stored only as hashes.
    let dump = std::fs::read(app.dir.path().join("auth.db")).expect("auth db");
    let needle = t.secret.as_bytes();
    assert!(!dump.windows(needle.len()).any(|w| w == needle), "the token secret must not be stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_district_reads_no_other_districts_project_from_registry_records_in_events_or_the_feed() {
    // Registry records (registrations, participants, key enrolments) live outside project streams and were shown
    // to every scope by /v1/events and /v1/feed: Haishu read Yinzhou's projects, whose pages answer it 404.
    let mut app = TestApp::spawn().await;
    let mut w = world::build(&mut app).await;
    // A skipped sequence number: the log ends with a gap notice (a `ledger/` record every scope sees), so the feed
    // has a last record to read up to.
    app.ingest_ok(&[reading(&mut w.gw2, "NB-2026-0002", 1)]).await;
    w.gw2.set_chain(MemoryChain::at(w.gw2.next_seq() + 1, w.gw2.prev()));
    app.ingest_ok(&[reading(&mut w.gw2, "NB-2026-0002", 2)]).await;
    let last = app.server.state.ledger.head() - 1;
    app.settle().await;
    let haishu = app.token(Role::District, Some(HAISHU)).await;
    assert_eq!(app.get("/v1/projects/NB-2026-0001", Some(&haishu)).await.status(), 404);

    let events = app.get("/v1/events?limit=1000", Some(&haishu)).await.text().await.expect("text");
    let mut feed = app.get("/v1/feed?after=0", Some(&haishu)).await;
    assert_eq!(feed.status(), 200);
    let mut buf = Vec::new();
    while let Some(chunk) = feed.chunk().await.expect("chunk") {
        buf.extend_from_slice(&chunk);
        if String::from_utf8_lossy(&buf).contains(&format!("id: {last}\n")) {
            break;
        }
    }
    let feed = String::from_utf8_lossy(&buf).into_owned();
    for (what, text) in [("/v1/events", &events), ("/v1/feed", &feed)] {
        assert!(text.contains("registry.project.registered.v1"), "{what}: its own project's registration");
        assert!(text.contains("project/NB-2026-0002/gateway/GW-1"), "{what}: its own gateway's enrolment");
        assert!(text.contains("registry.enterprise.registered.v1"), "{what}: enterprises stay public");
        for other in ["NB-2026-0001", "NB-2026-0003", "鄞州中心区安置房一期", "鄞州南部新城学校"] {
            assert!(!text.contains(other), "{what} names {other}, a Yinzhou project");
        }
    }
}
