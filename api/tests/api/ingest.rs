use serde_json::{Value, json};
use siteledger_api::auth::Role;

use crate::helpers::TestApp;
use crate::world::{self, reading};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_with_bad_items_keeps_the_good_ones_and_says_what_is_wrong() {
    let mut app = TestApp::spawn().await;
    let mut w = world::build(&mut app).await;
    let good1 = reading(&mut w.gw1, "NB-2026-0001", 1);
    let good2 = reading(&mut w.gw1, "NB-2026-0001", 2);
    let mut tampered = reading(&mut w.gw1, "NB-2026-0001", 3).to_value();
    tampered["payload"]["pm10_ug_m3"] = json!("10.0");
    let body = json!([good1.to_value(), {"not": "an envelope"}, tampered, good2.to_value(), "x"]);
    let token = app.token(Role::City, None).await;
    let resp = app.post_events(&token, &body).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.expect("json");
    let status: Vec<&str> =
        v["results"].as_array().expect("results").iter().map(|r| r["status"].as_str().expect("s")).collect();
    assert_eq!(status, ["accepted", "rejected", "rejected", "accepted", "rejected"]);
    assert_eq!(v["results"][1]["code"], "malformed");
    assert!(v["results"][1]["message"].as_str().expect("m").contains("missing"), "{}", v["results"][1]);
    assert_eq!(v["results"][2]["code"], "bad_signature");
    assert_eq!((v["accepted"].as_u64(), v["rejected"].as_u64()), (Some(2), Some(3)));
    // Resending is idempotent.
    let again = app.post_events(&token, &json!([good1.to_value()])).await.json::<Value>().await.expect("json");
    assert_eq!(again["results"][0]["status"], "duplicate");
    assert_eq!(again["results"][0]["position"], v["results"][0]["position"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_payloads_are_rejected_with_the_rule_they_break() {
    let mut app = TestApp::spawn().await;
    let mut w = world::build(&mut app).await;
    let bad = w
        .gw1
        .sign(
            crate::helpers::new_id(),
            "project/NB-2026-0001/device/DUST-1",
            "env.dust_noise.reading.v1",
            "2026-03-02T08:00:00+08:00",
            crate::helpers::obj(json!({"project_id": "NB-2026-0001", "device_id": "DUST-1", "pm10_ug_m3": 85, "pm25_ug_m3": "30.1", "noise_db_a": "61.2"})),
        )
        .expect("sign");
    let other_project = reading(&mut w.gw1, "NB-2026-0002", 1);
    let token = app.token(Role::City, None).await;
    let v: Value =
        app.post_events(&token, &json!([bad.to_value(), other_project.to_value()])).await.json().await.expect("json");
    assert_eq!(v["results"][0]["code"], "schema", "{v}");
    assert!(v["results"][0]["message"].as_str().expect("m").contains("pm10_ug_m3"), "{v}");
    assert_eq!(v["results"][1]["code"], "schema", "a gateway signs only for its own project: {v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_and_batches_get_413_with_a_json_error() {
    let app = TestApp::spawn_with(|c| {
        c.max_body_bytes = 64 * 1024;
        c.max_batch = 10;
    })
    .await;
    let token = app.token(Role::City, None).await;
    let big = Value::Array(vec![json!({"pad": "x".repeat(1000)}); 100]);
    let resp = app.post_events(&token, &big).await;
    assert_eq!(resp.status(), 413);
    let e: Value = resp.json().await.expect("json error body");
    assert_eq!(e["code"], "payload_too_large");
    let many = Value::Array(vec![json!({}); 11]);
    let resp = app.post_events(&token, &many).await;
    assert_eq!(resp.status(), 413);
    let resp = app
        .client
        .post(app.url("/v1/events"))
        .bearer_auth(&token)
        .body("{not json")
        .header("content-type", "application/json")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 400);
    let e: Value = resp.json().await.expect("json error body");
    assert_eq!(e["code"], "bad_request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_metrics_and_openapi() {
    let mut app = TestApp::spawn().await;
    let mut w = world::build(&mut app).await;
    app.ingest_ok(&[reading(&mut w.gw1, "NB-2026-0001", 1)]).await;
    let token = app.token(Role::City, None).await;
    let _ = app.post_events(&token, &json!([{"bad": true}])).await;
    assert_eq!(app.get("/healthz", None).await.status(), 200);
    assert_eq!(app.get("/readyz", None).await.status(), 200);
    let m = app.get("/metrics", None).await.text().await.expect("text");
    for needle in [
        "siteledger_ingest_accepted_total",
        "siteledger_ingest_rejections_total{reason=\"malformed\"} 1",
        "siteledger_projection_lag",
        "siteledger_checkpoint_age_seconds",
        "siteledger_ledger_size",
    ] {
        assert!(m.contains(needle), "metrics lack {needle}:\n{m}");
    }
    let doc: Value = app.get("/openapi.json", None).await.json().await.expect("json");
    assert_eq!(doc["openapi"], "3.1.0");
    insta::assert_json_snapshot!("openapi", doc);
    app.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_rules_apply_at_ingest_and_survive_a_restart() {
    let mut app = TestApp::spawn().await;
    let w = world::build(&mut app).await;
    let token = app.token(Role::City, None).await;
    let project = |id: &str, district: &str, gc: &str| {
        json!({
            "project_id": id, "name": "重复登记测试", "district": district, "central_urban": false,
            "floor_area_m2": "1000", "contract_cost_fen": 100, "start_date": "2026-04-01",
            "participants": [{"role": "owner", "credit_code": w.owner_a}, {"role": "general_contractor", "credit_code": gc}],
        })
    };
    let sign = |app: &mut TestApp, payload: Value| {
        app.city
            .sign(
                crate::helpers::new_id(),
                "registry/orgs",
                "registry.project.registered.v1",
                "2026-04-01T09:00:00+08:00",
                crate::helpers::obj(payload),
            )
            .expect("sign")
    };
    let dup = sign(&mut app, project("NB-2026-0001", world::YINZHOU, &w.contractor_b));
    let unknown_gc = sign(&mut app, project("NB-2026-0099", world::YINZHOU, &world::credit_code("91330200MA2YYYYY0")));
    let fine = sign(&mut app, project("NB-2026-0100", world::HAISHU, &w.contractor_c));
    let v: Value = app
        .post_events(&token, &json!([dup.to_value(), unknown_gc.to_value(), fine.to_value()]))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(v["results"][0]["code"], "schema", "{v}");
    assert!(v["results"][0]["message"].as_str().expect("m").contains("registry rule"), "{v}");
    assert_eq!(v["results"][1]["code"], "schema", "participants must be registered enterprises: {v}");
    assert_eq!(v["results"][2]["status"], "accepted", "{v}");

    // After a restart the registry is rebuilt from the log: the same duplicate is still refused.
    let dir = app.dir;
    app.server.shutdown().await;
    let config = siteledger_api::config::Config {
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        log_origin: "test.siteledger.example/log".into(),
        trust_roots: vec![crate::helpers::city_key().public().to_base64()],
        ..siteledger_api::config::Config::default()
    };
    let server = siteledger_api::server::spawn(config).await.expect("restart");
    let again = app
        .city
        .sign(
            crate::helpers::new_id(),
            "registry/orgs",
            "registry.project.registered.v1",
            "2026-04-02T09:00:00+08:00",
            crate::helpers::obj(project("NB-2026-0100", world::HAISHU, &w.contractor_c)),
        )
        .expect("sign");
    let out = server.state.ledger.ingest(vec![again]).await.expect("ingest");
    assert!(
        matches!(&out[0], siteledger_ledger::IngestOutcome::Rejected(r) if r.to_string().contains("registry rule")),
        "{out:?}"
    );
    server.shutdown().await;
}
