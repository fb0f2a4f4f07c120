//! What a hostile client tried against the real server (issue 12), each pinned by the attack's name: records in the
//! log's reserved `ledger.` namespace (one carrying a plaintext ID number into the public log), a record dated in
//! the year 9999 that stalled the projections, and one equivocating envelope re-posted until the log filled with
//! evidence.

use serde_json::{Value, json};
use siteledger_api::auth::Role;
use siteledger_client::{KeyedChain, MemoryChain};
use siteledger_signer::Envelope;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::helpers::{TestApp, new_id, obj};
use crate::world;

const P1: &str = "NB-2026-0001";
const P2: &str = "NB-2026-0002";

/// Posts `envs` with a city token and returns the per-item results.
async fn post(app: &TestApp, envs: &[Envelope]) -> Vec<Value> {
    let token = app.token(Role::City, None).await;
    let body = Value::Array(envs.iter().map(Envelope::to_value).collect());
    let resp = app.post_events(&token, &body).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.expect("json");
    v["results"].as_array().expect("results").clone()
}

/// The message of a refusal with `code`.
fn refused<'a>(r: &'a Value, code: &str) -> &'a str {
    assert_eq!(r["status"], "rejected", "{r}");
    assert_eq!(r["code"], code, "{r}");
    r["message"].as_str().expect("message")
}

/// Every leaf of the public log, as anonymous visitors read it.
async fn public_log(app: &TestApp) -> String {
    let head = app.server.state.ledger.head();
    let mut text = String::new();
    let mut from = 0;
    while from < head {
        let r = app.get(&format!("/v1/log/leaves?from={from}&limit=1000"), None).await;
        assert_eq!(r.status(), 200);
        text.push_str(&r.text().await.expect("leaves"));
        from += 1000;
    }
    text
}

/// Signs with `gw` at `at` without moving its chain (the record is expected to be refused, so the gateway's next
/// record takes the same number).
fn sign_refused(gw: &mut KeyedChain, stream: &str, kind: &str, at: &str, payload: Value) -> Envelope {
    let saved = gw.chain();
    let e = gw.sign(new_id(), stream, kind, at, obj(payload)).expect("sign");
    gw.set_chain(saved);
    e
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_note_carrying_an_id_number_is_refused() {
    let mut app = TestApp::spawn().await;
    let mut w = world::build(&mut app).await;
    let head = app.server.state.ledger.head();
    let id_number = "33020319900101123X";
    let note = sign_refused(
        &mut w.gw1,
        &format!("project/{P1}/notes"),
        "ledger.note.v1",
        "2026-03-02T09:00:00+08:00",
        json!({"id_number": id_number, "text": "工人身份证号"}),
    );
    let unknown =
        app.city.sign(new_id(), "registry/keys", "ledger.unknown.v1", "2026-03-02T09:00:00+08:00", obj(json!({})));
    let results = post(&app, &[note, unknown.expect("sign")]).await;
    let why = refused(&results[0], "reserved_kind");
    assert!(why.contains("ledger.note.v1") && why.contains("docs/KINDS.md"), "says what to do instead: {why}");
    assert!(!results[0].to_string().contains(id_number), "the answer does not echo the ID number");
    refused(&results[1], "reserved_kind");
    assert_eq!(app.server.state.ledger.head(), head, "nothing was appended");
    let r = app.get(&format!("/v1/log/leaves/{head}"), None).await;
    assert_eq!(r.status(), 404, "no leaf was added for anonymous visitors to read");
    let log = public_log(&app).await;
    assert!(!log.contains(id_number) && !log.contains("ledger.note.v1"));
    app.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_record_signed_by_a_gateway_is_refused() {
    let mut app = TestApp::spawn().await;
    let mut w = world::build(&mut app).await;
    let head = app.server.state.ledger.head();
    let victim = w.gw2.key().key_id().to_string();
    let stream = format!("ledger/signer/{victim}");
    let gap = sign_refused(
        &mut w.gw1,
        &stream,
        "ledger.signer.gap.v1",
        "2026-03-02T09:00:00+08:00",
        json!({"key_id": victim, "last_seq": 1, "next_seq": 50, "missing": 48, "event_id": new_id().to_string()}),
    );
    let equivocation = sign_refused(
        &mut w.gw1,
        &stream,
        "ledger.signer.equivocation.v1",
        "2026-03-02T09:00:00+08:00",
        json!({"key_id": victim, "seq": 1}),
    );
    let results = post(&app, &[gap, equivocation]).await;
    assert!(refused(&results[0], "reserved_kind").contains("system key"));
    refused(&results[1], "reserved_kind");
    assert_eq!(app.server.state.ledger.head(), head);
    assert!(!public_log(&app).await.contains("ledger.signer.gap.v1"), "no forged gap notice accuses gw2");
    // The gateway's own chain is intact: its next record is accepted without a gap.
    app.ingest_ok(&[world::reading(&mut w.gw1, P1, 0)]).await;
    assert!(!public_log(&app).await.contains("ledger.signer.gap.v1"));
    app.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_year_9999_record_is_refused_and_cannot_stall_projections() {
    let mut app = TestApp::spawn().await;
    let mut w = world::build(&mut app).await;
    let head = app.server.state.ledger.head();
    let far = |gw: &mut KeyedChain, project: &str, at: &str| {
        sign_refused(
            gw,
            &format!("project/{project}/device/DUST-1"),
            "env.dust_noise.reading.v1",
            at,
            json!({"project_id": project, "device_id": "DUST-1", "pm10_ug_m3": "41.5", "pm25_ug_m3": "30.1",
                   "noise_db_a": "61.2"}),
        )
    };
    let poison = far(&mut w.gw1, P1, "9999-12-31T23:59:59Z");
    let next_century = far(&mut w.gw2, P2, "2099-12-31T09:00:00+08:00");
    let results = post(&app, &[poison, next_century]).await;
    for r in &results {
        let why = refused(r, "future_occurred_at");
        assert!(why.contains("600 s") && why.contains("+08:00") && why.contains("NTP"), "{why}");
    }
    assert_eq!(app.server.state.ledger.head(), head);
    // Ordinary records go on and the read models keep up with every one of them.
    let envs: Vec<Envelope> = (0..5).map(|n| world::reading(&mut w.gw1, P1, n)).collect();
    app.ingest_ok(&envs).await;
    app.settle().await;
    let m = app.get("/metrics", None).await.text().await.expect("metrics");
    assert_eq!(metric(&m, "siteledger_projection_lag "), 0.0);
    assert_eq!(metric(&m, "siteledger_projection_fold_errors "), 0.0);
    assert_eq!(metric(&m, "siteledger_ingest_rejections_total{reason=\"future_occurred_at\"} "), 2.0);
    app.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_allowed_clock_skew_is_a_server_setting() {
    let in_a_minute = (OffsetDateTime::now_utc() + time::Duration::minutes(1)).format(&Rfc3339).expect("format");
    let reading = |gw: &mut KeyedChain| {
        sign_refused(
            gw,
            &format!("project/{P1}/device/DUST-1"),
            "env.dust_noise.reading.v1",
            &in_a_minute,
            json!({"project_id": P1, "device_id": "DUST-1", "pm10_ug_m3": "41.5", "pm25_ug_m3": "30.1",
                   "noise_db_a": "61.2"}),
        )
    };
    // Default: ten minutes of drift are tolerated.
    let mut app = TestApp::spawn().await;
    let mut w = world::build(&mut app).await;
    let results = post(&app, &[reading(&mut w.gw1)]).await;
    assert_eq!(results[0]["status"], "accepted", "{}", results[0]);
    app.server.shutdown().await;
    // None at all.
    let mut strict = TestApp::spawn_with(|c| c.max_clock_skew_secs = 0).await;
    let mut w = world::build(&mut strict).await;
    let results = post(&strict, &[reading(&mut w.gw1)]).await;
    assert!(refused(&results[0], "future_occurred_at").contains(" 0 s"));
    strict.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reposting_an_equivocation_a_hundred_times_records_one_piece_of_evidence() {
    let mut app = TestApp::spawn().await;
    let mut w = world::build(&mut app).await;
    let first = world::reading(&mut w.gw1, P1, 0);
    app.ingest_ok(&[first.clone(), world::reading(&mut w.gw1, P1, 1)]).await;
    // gw1's key signs a second, different record numbered 2.
    let mut twin = KeyedChain::new(siteledger_signer::SigningKey::from_seed(&[0x61; 32]));
    twin.set_chain(MemoryChain::after(1, first.leaf_hash()));
    let conflicting = world::reading(&mut twin, P1, 30);
    let head = app.server.state.ledger.head();
    for _ in 0..3 {
        let results = post(&app, std::slice::from_ref(&conflicting)).await;
        refused(&results[0], "equivocation");
    }
    let results = post(&app, &vec![conflicting.clone(); 100]).await;
    assert_eq!(results.len(), 100);
    for r in &results {
        refused(r, "equivocation");
    }
    assert_eq!(app.server.state.ledger.head(), head + 1, "one piece of evidence, not 103");
    let log = public_log(&app).await;
    assert_eq!(log.matches("\"ledger.signer.equivocation.v1\"").count(), 1);
    app.server.shutdown().await;
}
