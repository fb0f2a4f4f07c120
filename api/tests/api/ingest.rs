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
    // A well-formed record that a domain rule refuses has its own code, and the rule's name leads the message.
    assert_eq!(v["results"][1]["code"], "rule", "a gateway signs only for its own project: {v}");
    assert!(v["results"][1]["message"].as_str().expect("m").starts_with("authority.own_project rule: key "), "{v}");
    let m = app.get("/metrics", None).await.text().await.expect("text");
    for needle in [
        "siteledger_ingest_rejections_total{reason=\"schema\"} 1",
        "siteledger_ingest_rejections_total{reason=\"rule\"} 1",
    ] {
        assert!(m.contains(needle), "metrics lack {needle}:\n{m}");
    }
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
    assert_eq!(v["results"][0]["code"], "rule", "{v}");
    assert!(v["results"][0]["message"].as_str().expect("m").starts_with("registry rule: "), "{v}");
    assert_eq!(v["results"][1]["code"], "rule", "participants must be registered enterprises: {v}");
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
        matches!(&out[0], siteledger_ledger::IngestOutcome::Rejected(r @ siteledger_ledger::Rejection::Rule { rule, .. }) if rule == "registry" && r.to_string().contains("registry rule")),
        "{out:?}"
    );
    server.shutdown().await;
}

// ---- Issue 12, items 4 and 5: what a hostile client tried against `POST /v1/events`. ----

/// Posts `body` as raw bytes (the attacks are in bytes `serde_json::Value` cannot even hold).
async fn post_raw(app: &TestApp, token: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
    app.client
        .post(app.url("/v1/events"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("request")
}

/// The canonical text of an honestly signed envelope with `extra` inserted right after `after` (so the inserted
/// member comes first and the signed one last: a last-member-wins reader verifies the signature and stores the
/// signed value while the bytes said something else first).
fn with_member_before(env: &siteledger_signer::Envelope, after: &str, extra: &str) -> String {
    let text = String::from_utf8(env.leaf_bytes().to_vec()).expect("utf8");
    assert!(text.contains(after), "{after} not in {text}");
    text.replacen(after, &format!("{after}{extra},"), 1)
}

/// Sends one item that must be refused as `malformed` with a message containing every needle, and checks the log
/// did not grow.
async fn assert_refused_malformed(app: &TestApp, token: &str, body: String, needles: &[&str]) {
    let head = app.server.state.ledger.head();
    let resp = post_raw(app, token, body).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["results"][0]["status"], "rejected", "{v}");
    assert_eq!(v["results"][0]["code"], "malformed", "{v}");
    let message = v["results"][0]["message"].as_str().expect("message");
    for needle in needles {
        assert!(message.contains(needle), "message lacks {needle:?}: {message}");
    }
    assert_eq!((v["accepted"].as_u64(), v["rejected"].as_u64()), (Some(0), Some(1)), "{v}");
    assert_eq!(app.server.state.ledger.head(), head, "a refused record must not reach the log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_kind_members_are_refused_not_read_last_wins() {
    let mut app = TestApp::spawn().await;
    let mut w = world::build(&mut app).await;
    let token = app.token(Role::City, None).await;
    let env = reading(&mut w.gw1, "NB-2026-0001", 1);
    let body = format!("[{}]", with_member_before(&env, "{", r#""kind":"registry.project.registered.v1""#));
    assert_refused_malformed(&app, &token, body, &["duplicate member name \"kind\"", "top level"]).await;
    // The same record without the second `kind` is accepted: the repeated name was the only fault.
    app.ingest_ok(&[env]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_payload_members_are_refused_so_the_stored_value_is_the_one_sent_first_too() {
    let mut app = TestApp::spawn().await;
    let mut w = world::build(&mut app).await;
    let token = app.token(Role::City, None).await;
    let env = w
        .gw1
        .sign(
            crate::helpers::new_id(),
            "project/NB-2026-0001/device/DUST-1",
            "env.dust_noise.reading.v1",
            "2026-03-02T08:01:00+08:00",
            crate::helpers::obj(json!({"project_id": "NB-2026-0001", "device_id": "DUST-1", "pm10_ug_m3": "999.0", "pm25_ug_m3": "30.1", "noise_db_a": "61.2"})),
        )
        .expect("sign");
    // The bytes say 1.0 first; the signature covers 999.0.
    let body = format!("[{}]", with_member_before(&env, r#""payload":{"#, r#""pm10_ug_m3":"1.0""#));
    assert_refused_malformed(&app, &token, body, &["\"pm10_ug_m3\"", "/payload"]).await;
    // Also inside the wrapper form, and next to a good record, which is still accepted.
    let good = reading(&mut w.gw2, "NB-2026-0002", 1);
    let dup = with_member_before(&env, r#""payload":{"#, r#""pm10_ug_m3":"1.0""#);
    let body = format!(r#"{{"events":[{dup},{}]}}"#, String::from_utf8(good.leaf_bytes().to_vec()).expect("utf8"));
    let v: Value = post_raw(&app, &token, body).await.json().await.expect("json");
    assert_eq!(v["results"][0]["code"], "malformed", "{v}");
    assert_eq!(v["results"][0]["event_id"], env.id().to_string(), "{v}");
    assert_eq!(v["results"][1]["status"], "accepted", "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_seq_members_are_refused() {
    let mut app = TestApp::spawn().await;
    let mut w = world::build(&mut app).await;
    let token = app.token(Role::City, None).await;
    let env = reading(&mut w.gw1, "NB-2026-0001", 1);
    let body = format!("[{}]", with_member_before(&env, "{", r#""seq":999"#));
    assert_refused_malformed(&app, &token, body, &["duplicate member name \"seq\""]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_wrapper_with_two_events_members_is_a_400() {
    let mut app = TestApp::spawn().await;
    let mut w = world::build(&mut app).await;
    let token = app.token(Role::City, None).await;
    let a = String::from_utf8(reading(&mut w.gw1, "NB-2026-0001", 1).leaf_bytes().to_vec()).expect("utf8");
    let head = app.server.state.ledger.head();
    let resp = post_raw(&app, &token, format!(r#"{{"events":[],"events":[{a}]}}"#)).await;
    assert_eq!(resp.status(), 400);
    let e: Value = resp.json().await.expect("json");
    assert_eq!(e["code"], "bad_request");
    assert!(e["message"].as_str().expect("m").contains("\"events\""), "{e}");
    assert_eq!(app.server.state.ledger.head(), head);
}

/// A signed gateway envelope whose `occurred_at` is `t`, built by hand because the signer refuses to sign it.
fn signed_with_time(gw: &siteledger_client::KeyedChain, t: &str) -> Value {
    use base64::Engine;
    let mut v = json!({
        "v": 1, "id": crate::helpers::new_id().to_string(), "stream": "project/NB-2026-0001/device/DUST-1",
        "kind": "env.dust_noise.reading.v1", "occurred_at": t, "signer": gw.key().key_id().to_string(),
        "seq": gw.next_seq(), "prev": gw.prev().map(hex::encode),
        "payload": {"project_id": "NB-2026-0001", "device_id": "DUST-1", "pm10_ug_m3": "40.5", "pm25_ug_m3": "30.1", "noise_db_a": "61.2"},
    });
    let mut message = siteledger_signer::envelope::SIGNATURE_CONTEXT.to_vec();
    message.extend_from_slice(&siteledger_signer::canonical::to_canonical(&v));
    v["sig"] = json!(base64::engine::general_purpose::STANDARD.encode(gw.key().sign(&message)));
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn occurred_at_with_a_space_or_lowercase_t_or_z_is_refused_naming_occurred_at() {
    let mut app = TestApp::spawn().await;
    let w = world::build(&mut app).await;
    let token = app.token(Role::City, None).await;
    for t in ["2026-03-02 08:00:00+08:00", "2026-03-02t08:00:00+08:00", "2026-03-02T00:00:00z"] {
        let body = serde_json::to_string(&json!([signed_with_time(&w.gw1, t)])).expect("json");
        assert_refused_malformed(&app, &token, body, &["occurred_at", t]).await;
    }
    // The same record with the time written as FORMAT.md §4 says is accepted.
    let body = serde_json::to_string(&json!([signed_with_time(&w.gw1, "2026-03-02T08:00:00+08:00")])).expect("json");
    let v: Value = post_raw(&app, &token, body).await.json().await.expect("json");
    assert_eq!(v["results"][0]["status"], "accepted", "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_announced_100_mb_body_gets_413_before_it_is_sent() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn().await;
    let token = app.token(Role::City, None).await;
    let mut conn = tokio::net::TcpStream::connect(app.server.addr).await.expect("connect");
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n\
         Content-Length: 100000000\r\n\r\n[",
        app.server.addr
    );
    conn.write_all(head.as_bytes()).await.expect("write");
    // The client sends nothing more; the answer must come anyway. The bound only keeps a broken server from
    // hanging the suite (the old one never answered).
    let mut answer = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        loop {
            let n = conn.read(&mut buf).await.expect("read");
            answer.extend_from_slice(&buf[..n]);
            if n == 0 || String::from_utf8_lossy(&answer).contains("payload_too_large") {
                break;
            }
        }
    };
    tokio::time::timeout(crate::helpers::PATIENCE, read).await.expect("an answer without the body");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("\"code\":\"payload_too_large\""), "{text}");
}
