//! Ratings, reports, replay and court packages: every result is a function of a log prefix and a policy version,
//! so recomputing at the same tree size after more records arrive gives the same bytes; a court package verifies
//! offline and fails after any byte changes. (The `siteledger` command's `report annual`, `replay` and `evidence
//! export` write the same bytes: `cli/tests/cli/`.)

use serde_json::{Value, json};
use siteledger_api::evidence::{self, Selection};
use siteledger_api::ratings::{self, LogPrefix};
use siteledger_api::replay::{self, Subject};
use siteledger_api::reports::{self, ReportRequest};
use siteledger_client::KeyedChain;
use siteledger_domain::LocalDate;
use siteledger_domain::ids::{CreditCode, ProjectId};
use siteledger_domain::rating::credit;
use siteledger_domain::rating::policy;
use siteledger_ledger::EventStore;
use siteledger_signer::Envelope;

use crate::helpers::{TestApp, new_id, obj};
use crate::world::{self, World};

/// Publishes the notice's policy (v1) and the proposed credit rules (v1) as the city bureau.
fn policies(app: &mut TestApp) -> Vec<Envelope> {
    let p = serde_json::to_value(policy::notice_2020_72()).expect("json");
    let r = serde_json::to_value(credit::proposal_v1()).expect("json");
    vec![
        app.city
            .sign(new_id(), "city/policy/rating", "rating.policy.v1", "2026-01-02T09:00:00+08:00", obj(p))
            .expect("sign"),
        app.city
            .sign(new_id(), "city/policy/credit", "credit.rules.v1", "2026-01-02T09:00:00+08:00", obj(r))
            .expect("sign"),
    ]
}

/// Dust readings of one project on `days` consecutive days from 2026-03-02.
fn daily_readings(gw: &mut KeyedChain, project: &str, days: u32) -> Vec<Envelope> {
    (0..days)
        .map(|d| {
            let day = LocalDate::try_from(
                LocalDate::parse("2026-03-02").expect("date").date() + time::Duration::days(i64::from(d)),
            )
            .expect("date");
            gw.sign(
                new_id(),
                &format!("project/{project}/env/DUST-1"),
                "env.dust_noise.reading.v1",
                &format!("{day}T10:00:00+08:00"),
                obj(json!({"project_id": project, "device_id": "DUST-1", "pm10_ug_m3": "61.5", "pm25_ug_m3": "30.1", "noise_db_a": "58.0"})),
            )
            .expect("sign")
        })
        .collect()
}

async fn setup() -> (TestApp, World) {
    let mut app = TestApp::spawn().await;
    let mut w = world::build(&mut app).await;
    let envs = policies(&mut app);
    app.ingest_ok(&envs).await;
    let r = daily_readings(&mut w.gw1, "NB-2026-0001", 25);
    app.ingest_ok(&r).await;
    let a = world::alarm(&mut w.gw1, "NB-2026-0001", 1);
    app.ingest_ok(&[a]).await;
    (app, w)
}

#[tokio::test]
async fn annual_report_regenerated_at_the_same_size_is_identical_after_more_records() {
    let (mut app, mut w) = setup().await;
    let ledger = app.server.state.ledger.clone();
    let store = ledger.store();
    let n = store.head().await.expect("head");
    let req = ReportRequest { year: 2026, district: None, at_size: n, policy_version: None, as_of: None };
    let first = reports::annual(store, &req).await.expect("report");
    assert_eq!(first.document["coverage"]["new_starts"], 3);
    assert_eq!(first.document["alarms"]["raised"], 1);
    assert_eq!(first.document["tasks"]["available"], false, "no task.* records yet: said so, not zero");
    assert!(first.html.contains("宁波市2026年度智慧工地建设督查报告"));

    // More records arrive: readings, an alarm, a second policy version.
    let more = daily_readings(&mut w.gw2, "NB-2026-0002", 10);
    app.ingest_ok(&more).await;
    let a = world::alarm(&mut w.gw2, "NB-2026-0002", 7);
    app.ingest_ok(&[a]).await;
    let mut v2 = serde_json::to_value(policy::notice_2020_72()).expect("json");
    v2["version"] = json!(2);
    v2["applications"][2]["min_days"] = json!(5);
    let env = app
        .city
        .sign(new_id(), "city/policy/rating", "rating.policy.v1", "2026-04-01T09:00:00+08:00", obj(v2))
        .expect("sign");
    app.ingest_ok(&[env]).await;

    let again = reports::annual(store, &req).await.expect("report");
    assert_eq!(again.json, first.json, "canonical document");
    assert_eq!(again.html, first.html);
    assert_eq!(again.csv, first.csv);
    assert_eq!(again.record, first.record);

    let later = ReportRequest { at_size: store.head().await.expect("head"), ..req.clone() };
    let newer = reports::annual(store, &later).await.expect("report");
    assert_ne!(newer.record.content_sha256, first.record.content_sha256);
    assert_eq!(newer.record.policy_version, 2, "the newest policy in the prefix by default");
}

#[tokio::test]
async fn a_signed_decision_is_regenerated_byte_for_byte_from_the_log_and_its_policy_version() {
    let (mut app, mut w) = setup().await;
    let ledger = app.server.state.ledger.clone();
    let store = ledger.store();
    let n = store.head().await.expect("head");
    let project = ProjectId::parse("NB-2026-0001").expect("id");
    let as_of = LocalDate::parse("2026-03-26").expect("date");
    let prefix = LogPrefix::load(store, n, None).await.expect("prefix");
    let d = ratings::decision(&prefix, &project, 1, as_of).expect("decision");
    // 52,000 m² started 2026: 两星级 required (p2022_two_star); dust data on 25 of 30 days only: no star.
    assert_eq!(d.required.map(|l| l.get()), Some(2));
    assert_eq!(d.achieved.get(), 0);
    assert_eq!(d.meets, Some(false));
    assert!(d.connected);
    let dust = d.applications.iter().find(|a| a.id.as_str() == "dust_noise").expect("line");
    assert_eq!((dust.days, dust.runs), (25, true));

    let payload = obj(serde_json::to_value(&d).expect("json"));
    let env = app
        .city
        .sign(new_id(), "project/NB-2026-0001/rating", "rating.decision.v1", "2026-03-26T18:00:00+08:00", payload)
        .expect("sign");
    app.ingest_ok(std::slice::from_ref(&env)).await;
    let more = daily_readings(&mut w.gw1, "NB-2026-0001", 28);
    // Same days again (duplicates of days, new records): the decision at n does not change.
    app.ingest_ok(&more).await;

    let stored = store.events_by_id(&[env.id()]).await.expect("read");
    let stored = Envelope::parse(&stored[0].leaf).expect("envelope");
    let recomputed = ratings::decision(&LogPrefix::load(store, n, None).await.expect("prefix"), &project, 1, as_of)
        .expect("decision");
    assert_eq!(
        siteledger_signer::canonical::to_canonical(&Value::Object(stored.payload().clone())),
        ratings::decision_bytes(&recomputed)
    );
    // A decision citing an unpublished policy version is refused at ingest.
    let mut bad = serde_json::to_value(&d).expect("json");
    bad["policy_version"] = json!(9);
    let env = app
        .city
        .sign(new_id(), "project/NB-2026-0001/rating", "rating.decision.v1", "2026-03-26T18:00:00+08:00", obj(bad))
        .expect("sign");
    let token = app.token(siteledger_api::auth::Role::City, None).await;
    let resp = app.post_events(&token, &Value::Array(vec![env.to_value()])).await;
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["results"][0]["status"], "rejected", "{v}");
    assert!(v["results"][0]["message"].as_str().unwrap_or_default().contains("rating.decision_policy"), "{v}");
}

/// Every record a replay document lists carries an inclusion proof that verifies against its root of size `n`.
fn assert_listed_records_are_proven(body: &Value, n: u64) {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let root: [u8; 32] = b64.decode(body["root"].as_str().expect("root")).expect("b64").try_into().expect("32");
    for e in body["events"].as_array().expect("events") {
        let leaf: [u8; 32] = hex::decode(e["leaf_hash"].as_str().expect("hash")).expect("hex").try_into().expect("32");
        let proof: Vec<[u8; 32]> = e["inclusion"]
            .as_array()
            .expect("proof")
            .iter()
            .map(|h| b64.decode(h.as_str().expect("str")).expect("b64").try_into().expect("32"))
            .collect();
        siteledger_signer::merkle::verify_inclusion(&leaf, e["index"].as_u64().expect("index"), n, &proof, &root)
            .expect("inclusion verifies");
    }
}

#[tokio::test]
async fn replay_at_a_size_is_the_same_after_more_records_and_its_proofs_verify() {
    let (app, mut w) = setup().await;
    let ledger = app.server.state.ledger.clone();
    let store = ledger.store();
    let n = store.head().await.expect("head");
    let subject = Subject::Project(ProjectId::parse("NB-2026-0001").expect("id"));
    let first = replay::replay(store, &subject, n).await.expect("replay");
    let more = daily_readings(&mut w.gw1, "NB-2026-0001", 3);
    app.ingest_ok(&more).await;
    app.server.state.ledger.checkpoint_now().await.expect("checkpoint");
    let second = replay::replay(store, &subject, n).await.expect("replay");
    assert_eq!(first["sha256"], second["sha256"]);
    assert_eq!(first["replay"], second["replay"]);
    let body = &second["replay"];
    assert_eq!(body["state"]["records_by_kind"]["env.dust_noise.reading.v1"], 25);
    assert!(body["events"].as_array().expect("events").len() >= 27, "registration, readings and the alarm");
    assert_listed_records_are_proven(body, n);
    // An instant resolves to the number of records sequenced by then.
    let head = store.head().await.expect("head");
    assert_eq!(ratings::resolve_as_of(store, "2000-01-01T00:00:00Z").await.expect("past"), 0);
    assert_eq!(ratings::resolve_as_of(store, "2999-01-01T00:00:00+08:00").await.expect("future"), head);
    assert_eq!(ratings::resolve_as_of(store, &n.to_string()).await.expect("size"), n);
    assert!(ratings::resolve_as_of(store, &(head + 1).to_string()).await.is_err());
    assert!(ratings::resolve_as_of(store, "yesterday").await.is_err());
    // The anchor: a signed checkpoint of size ≥ n with a consistency proof from n.
    let anchor_size = second["anchor"]["size"].as_u64().expect("anchored");
    assert!(anchor_size >= n);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enterprise_replay_lists_the_records_behind_its_credit_score_with_proofs() {
    let (app, mut w) = setup().await;
    // 宁波海曙建工 (contractor C) loses a point for a violation on NB-2026-0002: the replay names that record.
    let alarm = violation(&mut w.gw2, "NB-2026-0002", 1);
    let event_id = alarm.id().to_string();
    app.ingest_ok(&[alarm]).await;
    app.server.state.ledger.checkpoint_now().await.expect("checkpoint");
    let store = app.server.state.ledger.store();
    let n = store.head().await.expect("head");
    let subject = Subject::Enterprise(CreditCode::parse(&w.contractor_c).expect("credit code"));
    let doc = replay::replay(store, &subject, n).await.expect("replay");
    let body = &doc["replay"];
    assert_eq!(body["state"]["credit"]["score"]["score"], 99, "{body}");
    let events = body["events"].as_array().expect("events");
    let wanted: Vec<u64> = body["state"]["credit"]["score"]["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| r["position"].as_u64().expect("position"))
        .collect();
    let listed: Vec<u64> = events.iter().map(|e| e["index"].as_u64().expect("index")).collect();
    assert_eq!(listed, wanted, "exactly the records behind the score, in log order");
    assert!(events.iter().any(|e| e["event_id"] == event_id.as_str()), "{events:?}");
    for e in events {
        let stored = store.read_all(e["index"].as_u64().expect("index"), 1).await.expect("read");
        assert_eq!(e["event_id"], stored[0].event_id.to_string(), "the listed record is the one at its index");
    }
    assert_listed_records_are_proven(body, n);
    // The same document at the same size after more records.
    app.ingest_ok(&daily_readings(&mut w.gw1, "NB-2026-0001", 2)).await;
    let again = replay::replay(store, &subject, n).await.expect("replay again");
    assert_eq!(again["sha256"], doc["sha256"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_export_proves_what_the_latest_checkpoint_covers_while_newer_records_arrive() {
    let (app, mut w) = setup().await;
    let ledger = &app.server.state.ledger;
    let store = ledger.store();
    let cp = ledger.checkpoint_now().await.expect("checkpoint");
    // More readings of the same stream right after it: usually not yet under a checkpoint when the export runs.
    app.ingest_ok(&daily_readings(&mut w.gw1, "NB-2026-0001", 2)).await;
    let sel = Selection::Filter {
        stream: "project/NB-2026-0001/".into(),
        kind_prefix: Some("env.".into()),
        from: None,
        to: None,
        payload_equals: vec![],
    };
    let bundle = evidence::export(store, &ledger.log_verifier().vkey(), &sel).await.expect("a bundle, not a retry");
    let latest = store.latest_checkpoint().await.expect("read").expect("a checkpoint");
    assert!(latest.size >= cp.size);
    assert!(!bundle.records.is_empty());
    assert!(bundle.records.iter().all(|r| r.index < latest.size), "every record is one the bundle's checkpoint covers");
    let verdict = siteledger_signer::verify_bundle(&bundle.to_bytes(), ledger.log_verifier());
    assert!(verdict.ok, "{}", verdict.to_text());
}

#[tokio::test]
async fn court_package_verifies_offline_and_fails_after_any_byte_change() {
    let (app, _w) = setup().await;
    let ledger = app.server.state.ledger.clone();
    let store = ledger.store();
    app.server.state.ledger.checkpoint_now().await.expect("checkpoint");
    let vkey = app.server.state.ledger.log_verifier().vkey();
    let sel = Selection::Filter {
        stream: "project/NB-2026-0001/".into(),
        kind_prefix: Some("env.".into()),
        from: Some(siteledger_signer::envelope::parse_time("2026-03-05T00:00:00+08:00").expect("t")),
        to: Some(siteledger_signer::envelope::parse_time("2026-03-15T00:00:00+08:00").expect("t")),
        payload_equals: vec![("device_id".into(), "DUST-1".into())],
    };
    let bundle = evidence::export(store, &vkey, &sel).await.expect("bundle");
    let selected = bundle.records.iter().filter(|r| r.envelope["kind"] == "env.dust_noise.reading.v1").count();
    assert_eq!(selected, 10, "ten days of readings");
    let bytes = bundle.to_bytes();
    let verifier = app.server.state.ledger.log_verifier();
    let report = siteledger_signer::verify_bundle(&bytes, verifier);
    assert!(report.ok, "{}", report.to_text());

    // Flip one bit of one byte at many positions spread over the whole file (and every byte of the first 64):
    // each altered file is rejected.
    let mut positions: Vec<usize> = (0..64).collect();
    let step = (bytes.len() / 400).max(1);
    positions.extend((0..bytes.len()).step_by(step));
    positions.push(bytes.len() - 1);
    for &i in &positions {
        for mask in [0x01u8, 0x20, 0x80] {
            let mut altered = bytes.clone();
            altered[i] ^= mask;
            let r = siteledger_signer::verify_bundle(&altered, verifier);
            assert!(!r.ok, "byte {i} ^ {mask:#04x} still verifies");
        }
    }

    // By event ids: the same verdict; an unknown id is an error naming it.
    let ids: Vec<uuid::Uuid> = bundle
        .records
        .iter()
        .filter(|r| r.envelope["kind"] == "env.dust_noise.reading.v1")
        .map(|r| r.envelope["id"].as_str().expect("id").parse().expect("uuid"))
        .collect();
    let by_ids = evidence::export(store, &vkey, &Selection::Ids(ids)).await.expect("bundle");
    assert_eq!(by_ids.to_bytes(), bytes);
    let missing = uuid::Uuid::now_v7();
    let err = evidence::export(store, &vkey, &Selection::Ids(vec![missing])).await.expect_err("unknown id");
    assert!(err.to_string().contains(&missing.to_string()));
}

#[tokio::test]
async fn http_endpoints_compute_from_the_log_and_respect_scopes() {
    let (app, w) = setup().await;
    let n = app.server.state.ledger.head();
    let city = app.token(siteledger_api::auth::Role::City, None).await;
    let haishu = app.token(siteledger_api::auth::Role::District, Some(world::HAISHU)).await;
    let ent = app.token(siteledger_api::auth::Role::Enterprise, Some(&w.contractor_b)).await;

    // A decision computed at n, twice: the same hash; Haishu cannot see a Yinzhou project.
    let path = format!("/v1/ratings/NB-2026-0001/compute?at_size={n}&as_of=2026-03-26");
    let a: Value = app.get(&path, Some(&city)).await.json().await.expect("json");
    let b: Value = app.get(&path, Some(&ent)).await.json().await.expect("json");
    assert_eq!(a["decision_sha256"], b["decision_sha256"]);
    assert_eq!(a["decision"]["required"], 2);
    assert_eq!(app.get(&path, Some(&haishu)).await.status(), 404);

    // The annual report over HTTP equals the library's bytes; a district sees only its own.
    let r = app.get(&format!("/v1/reports/annual?year=2026&at_size={n}&format=csv"), Some(&city)).await;
    assert_eq!(r.status(), 200);
    let csv = r.text().await.expect("text");
    let lib = reports::annual(
        app.server.state.ledger.store(),
        &ReportRequest { year: 2026, district: None, at_size: n, policy_version: None, as_of: None },
    )
    .await
    .expect("report");
    assert_eq!(csv, lib.csv);
    assert_eq!(app.get("/v1/reports/annual?year=2026", Some(&haishu)).await.status(), 403);
    assert_eq!(
        app.get(&format!("/v1/reports/annual?year=2026&district={}", world::HAISHU), Some(&haishu)).await.status(),
        200
    );
    assert_eq!(app.get("/v1/reports/annual?year=2026", Some(&ent)).await.status(), 403);

    // Credit: the enterprise sees only itself; its violation-free record keeps the base score.
    let c: Value = app.get("/v1/credit?as_of=2026-03-26", Some(&ent)).await.json().await.expect("json");
    let scores = c["scores"].as_array().expect("scores");
    assert_eq!(scores.len(), 1);
    assert_eq!(scores[0]["credit_code"], w.contractor_b.as_str());
    assert_eq!(scores[0]["score"], 100);

    // Replay and export over HTTP.
    let rp: Value =
        app.get(&format!("/v1/replay/projects/NB-2026-0001?as_of={n}"), Some(&city)).await.json().await.expect("json");
    assert_eq!(rp["replay"]["tree_size"], n);
    assert_eq!(app.get("/v1/replay/projects/NB-2026-0001", Some(&haishu)).await.status(), 404);
    let wrong = json!({"stream": "project/NB-2026-0001/alarms", "where": {"source": "NO-SUCH-DEVICE"}});
    let resp =
        app.client.post(app.url("/v1/evidence/export")).bearer_auth(&city).json(&wrong).send().await.expect("post");
    assert_eq!(resp.status(), 400, "nothing matches");
    let body = json!({"stream": "project/NB-2026-0001/alarms", "where": {"source": "DUST-1"}});
    let resp =
        app.client.post(app.url("/v1/evidence/export")).bearer_auth(&city).json(&body).send().await.expect("post");
    assert_eq!(resp.status(), 200);
    let bytes = resp.bytes().await.expect("bytes");
    assert!(siteledger_signer::verify_bundle(&bytes, app.server.state.ledger.log_verifier()).ok);
    let resp =
        app.client.post(app.url("/v1/evidence/export")).bearer_auth(&haishu).json(&body).send().await.expect("post");
    assert_eq!(resp.status(), 400, "nothing in Haishu's scope matches: the same answer as nothing at all");
}

/// A violation alarm on `project` yesterday (so its credit record is effective today), signed by its gateway.
fn violation(gw: &mut KeyedChain, project: &str, n: u64) -> Envelope {
    let yesterday = (time::OffsetDateTime::now_utc() - time::Duration::days(1))
        .to_offset(siteledger_domain::time::SHANGHAI)
        .replace_nanosecond(0)
        .expect("ns")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("time");
    gw.sign(
        new_id(),
        &format!("project/{project}/alarms"),
        "alarm.raised.v1",
        &yesterday,
        obj(json!({"project_id": project, "alarm_id": format!("V-{n}"), "source": "DUST-1", "category": "dust", "level": "violation", "message": "PM10 超过限值", "value": "180.0", "threshold": "150.0"})),
    )
    .expect("sign")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_district_token_sees_no_credit_records_of_other_districts() {
    let (app, mut w) = setup().await;
    // 宁波海曙建工 (contractor C) builds NB-2026-0002 in Haishu and NB-2026-0003 in Yinzhou: Yinzhou sees its
    // score, but the violation behind it is on the Haishu project.
    let haishu_alarm = violation(&mut w.gw2, "NB-2026-0002", 1);
    let hidden_event = haishu_alarm.id().to_string();
    app.ingest_ok(&[haishu_alarm]).await;
    app.settle().await;
    let yinzhou = app.token(siteledger_api::auth::Role::District, Some(world::YINZHOU)).await;
    let city = app.token(siteledger_api::auth::Role::City, None).await;
    assert_eq!(app.get("/v1/projects/NB-2026-0002", Some(&yinzhou)).await.status(), 404);

    let score_of = |v: &Value, code: &str| -> Value {
        v["scores"].as_array().expect("scores").iter().find(|s| s["credit_code"] == code).cloned().expect("score")
    };
    let all: Value = app.get("/v1/credit", Some(&city)).await.json().await.expect("json");
    let c_city = score_of(&all, &w.contractor_c);
    assert_eq!(c_city["score"], 99);
    assert_eq!(c_city["records"][0]["project_id"], "NB-2026-0002");
    assert_eq!(c_city["withheld"], json!({"records": 0, "points": 0}));

    let resp = app.get("/v1/credit", Some(&yinzhou)).await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.expect("text");
    assert!(!text.contains("NB-2026-0002"), "a Haishu project in Yinzhou's credit answer: {text}");
    assert!(!text.contains(&hidden_event), "the event id behind a Haishu record: {text}");
    let v: Value = serde_json::from_str(&text).expect("json");
    let c = score_of(&v, &w.contractor_c);
    assert_eq!(c["score"], 99, "the published score stays whole");
    assert_eq!(c["grade"], c_city["grade"]);
    assert_eq!(c["records"], json!([]));
    assert_eq!(c["withheld"], json!({"records": 1, "points": -1}), "summarised without ids");

    // The dashboard's credit pages cut the same way.
    for path in ["/ratings".to_owned(), format!("/ratings/credit/{}", w.contractor_c)] {
        let resp = app.get(&path, Some(&yinzhou)).await;
        assert_eq!(resp.status(), 200, "{path}");
        let html = resp.text().await.expect("html");
        assert!(!html.contains("NB-2026-0002") && !html.contains(&hidden_event), "{path}: {html}");
    }
    let html = app.get(&format!("/ratings/credit/{}", w.contractor_c), Some(&yinzhou)).await.text().await.expect("h");
    assert!(html.contains("id=\"withheld\""), "the withheld records are counted: {html}");
    let html = app.get(&format!("/ratings/credit/{}", w.contractor_c), Some(&city)).await.text().await.expect("h");
    assert!(html.contains(&hidden_event), "the city bureau sees the record behind the point");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_court_package_by_stream_filter_never_names_records_outside_the_scope() {
    let (app, mut w) = setup().await;
    let haishu_reading = world::reading(&mut w.gw2, "NB-2026-0002", 3);
    let hidden = haishu_reading.id().to_string();
    app.ingest_ok(&[haishu_reading]).await;
    app.settle().await;
    app.server.state.ledger.checkpoint_now().await.expect("checkpoint");
    let yinzhou = app.token(siteledger_api::auth::Role::District, Some(world::YINZHOU)).await;
    // Every project's dust readings: Yinzhou gets a package of its own projects' records only.
    let body = json!({"stream": "project/", "kind": "env."});
    let resp =
        app.client.post(app.url("/v1/evidence/export")).bearer_auth(&yinzhou).json(&body).send().await.expect("post");
    assert_eq!(resp.status(), 200);
    let bytes = resp.bytes().await.expect("bytes");
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains("NB-2026-0002") && !text.contains(&hidden), "a Haishu record in Yinzhou's package");
    assert!(siteledger_signer::verify_bundle(&bytes, app.server.state.ledger.log_verifier()).ok);
    let v: Value = serde_json::from_slice(&bytes).expect("json");
    let readings = v["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter(|r| r["envelope"]["kind"] == "env.dust_noise.reading.v1")
        .count();
    assert_eq!(readings, 25, "NB-2026-0001's readings");
    // Naming the hidden record answers like naming a missing one.
    let named = json!({"event_ids": [hidden]});
    let resp =
        app.client.post(app.url("/v1/evidence/export")).bearer_auth(&yinzhou).json(&named).send().await.expect("post");
    assert_eq!(resp.status(), 404);
    let missing = json!({"event_ids": [uuid::Uuid::now_v7().to_string()]});
    let resp = app
        .client
        .post(app.url("/v1/evidence/export"))
        .bearer_auth(&yinzhou)
        .json(&missing)
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), 404);
}
