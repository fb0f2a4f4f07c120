//! `report annual`, `replay` and `evidence export` read the event store directly and write the same bytes as the
//! library (and so as the API) at the same tree size; a report signed with `--sign-key` is accepted by the platform;
//! a package verifies offline.

use serde_json::Value;
use siteledger_api::evidence::{self, Selection};
use siteledger_api::ratings;
use siteledger_api::replay::{self, Subject};
use siteledger_api::reports::{self, ReportRequest};
use siteledger_demo::city;
use siteledger_domain::ids::ProjectId;

use crate::helpers::{App, siteledger, success};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_writes_the_same_report_replay_and_package_as_the_library() {
    let mut app = App::setup().await;
    for _ in 0..2 {
        app.demo.tick().await.expect("tick");
    }
    app.settle().await;
    let ledger = app.server.state.ledger.clone();
    ledger.checkpoint_now().await.expect("checkpoint");
    let store = ledger.store();
    let n = ledger.head();
    let data = app.dir.path();
    let out = tempfile::tempdir().expect("tempdir");
    let year = ratings::today_shanghai().date().year();

    // The annual report: HTML, CSV and JSON, byte for byte.
    let req = ReportRequest { year, district: None, at_size: n, policy_version: None, as_of: None };
    let report = reports::annual(store, &req).await.expect("report");
    let (year_s, n_s) = (year.to_string(), n.to_string());
    let out_s = out.path().to_str().expect("utf-8 path");
    let run = siteledger(data, &["report", "annual", "--year", &year_s, "--at-size", &n_s, "--out", out_s]).await;
    let printed = success("report annual", &run);
    assert!(printed.contains(report.record.content_sha256.as_str()), "{printed}");
    let file = |ext: &str| std::fs::read(out.path().join(format!("report-city-{year}-{n}.{ext}"))).expect(ext);
    assert_eq!(file("html"), report.html.as_bytes());
    assert_eq!(file("csv"), report.csv.as_bytes());
    assert_eq!(file("json"), report.json);

    // With the city bureau's key the CLI also signs report.annual.v1; the platform accepts it.
    let key = data.join("keys").join("demo-city.key");
    let key_s = key.to_str().expect("utf-8 path");
    let run = siteledger(
        data,
        &["report", "annual", "--year", &year_s, "--at-size", &n_s, "--out", out_s, "--sign-key", key_s],
    )
    .await;
    success("report annual --sign-key", &run);
    let body: Value = serde_json::from_slice(&file("envelope.json")).expect("json");
    assert_eq!(body[0]["kind"], "report.annual.v1");
    assert_eq!(body[0]["payload"]["content_sha256"], report.record.content_sha256.as_str());
    let token = app.server.state.tokens.create("test", siteledger_api::auth::Role::City, None, 1).await.expect("token");
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/v1/events", app.server.url()))
        .bearer_auth(&token.secret)
        .json(&body)
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!(answer["results"][0]["status"], "accepted", "{answer}");

    // A project's replay at size n.
    let project = city::projects(siteledger_demo::PROJECT_PREFIX, &city::enterprises()).swap_remove(0);
    let subject = Subject::Project(ProjectId::parse(&project.project_id).expect("project id"));
    let doc = replay::replay(store, &subject, n).await.expect("replay");
    let run = siteledger(data, &["replay", "--as-of", &n_s, "--project", &project.project_id]).await;
    let printed: Value = serde_json::from_str(&success("replay", &run)).expect("replay prints JSON");
    assert_eq!(printed, doc);

    // A court package of the project's readings: the same bytes, and it verifies offline.
    let stream = format!("project/{}/", project.project_id);
    let device = format!("device_id={}", project.device_id);
    let sel = Selection::Filter {
        stream: stream.clone(),
        kind_prefix: Some("env.".into()),
        from: None,
        to: None,
        payload_equals: vec![("device_id".into(), project.device_id.clone())],
    };
    let bundle = evidence::export(store, &ledger.log_verifier().vkey(), &sel).await.expect("bundle");
    assert_eq!(bundle.records.iter().filter(|r| r.envelope["kind"] == "env.dust_noise.reading.v1").count(), 2);
    let case = out.path().join("case.json");
    let case_s = case.to_str().expect("utf-8 path");
    let run = siteledger(
        data,
        &["evidence", "export", "--stream", &stream, "--kind", "env.", "--where", &device, "--out", case_s],
    )
    .await;
    success("evidence export", &run);
    let from_cli = std::fs::read(&case).expect("bundle file");
    assert_eq!(from_cli, bundle.to_bytes());
    let verdict = siteledger_signer::verify_bundle(&from_cli, ledger.log_verifier());
    assert!(verdict.ok, "{}", verdict.to_text());
    app.server.shutdown().await;
}
