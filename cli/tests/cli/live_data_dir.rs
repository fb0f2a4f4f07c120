//! The auditing commands run against the data directory of a server that keeps writing (the situation of an
//! auditor beside a live platform): `report annual`, `replay` and `evidence export` succeed, give what the library
//! gives at the same tree size while the log grows, and the package verifies offline. Before, the CLI could fail
//! with "cannot open the event store: … database is locked" while the server held the file.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;
use siteledger_api::ratings;
use siteledger_api::replay::{self, Subject};
use siteledger_api::reports::{self, ReportRequest};
use siteledger_demo::city;
use siteledger_domain::ids::ProjectId;

use crate::helpers::{App, PATIENCE, siteledger, success};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_replay_and_evidence_export_run_beside_a_server_that_keeps_writing() {
    let App { server, mut demo, dir } = App::setup().await;
    let ledger = server.state.ledger.clone();
    let store = ledger.store();

    // A writer that never pauses: every demo gateway posts a reading, again and again, until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                demo.tick().await.expect("the writer's tick");
            }
        })
    };
    // It is writing: wait for a reading from every gateway (one tick) and have a checkpoint cover them, so the
    // package below has records to show.
    let start = ledger.head();
    let mut head = ledger.watch_head();
    // (The borrow `wait_for` returns holds the channel's lock: drop it at once, or the ledger cannot move on.)
    let grew = tokio::time::timeout(PATIENCE, head.wait_for(|h| *h >= start + 42)).await.map(|r| r.is_ok());
    assert_eq!(grew, Ok(true), "the writer did not post a tick's readings");
    ledger.checkpoint_now().await.expect("checkpoint");

    let n = ledger.head();
    let n_s = n.to_string();
    let data = dir.path();
    let out = tempfile::tempdir().expect("tempdir");
    let out_s = out.path().to_str().expect("utf-8 path");

    let year = ratings::today_shanghai().date().year();
    let year_s = year.to_string();
    let run = siteledger(data, &["report", "annual", "--year", &year_s, "--at-size", &n_s, "--out", out_s]).await;
    success("report annual beside a writing server", &run);
    let req = ReportRequest { year, district: None, at_size: n, policy_version: None, as_of: None };
    let report = reports::annual(store, &req).await.expect("report");
    let html = std::fs::read(out.path().join(format!("report-city-{year}-{n}.html"))).expect("html");
    assert_eq!(html, report.html.as_bytes(), "the same bytes at the same size, however far the log has grown");

    let project = city::projects(siteledger_demo::PROJECT_PREFIX, &city::enterprises()).swap_remove(3);
    let run = siteledger(data, &["replay", "--as-of", &n_s, "--project", &project.project_id]).await;
    let printed: Value = serde_json::from_str(&success("replay beside a writing server", &run)).expect("JSON");
    let subject = Subject::Project(ProjectId::parse(&project.project_id).expect("project id"));
    assert_eq!(printed, replay::replay(store, &subject, n).await.expect("replay"));

    let case = out.path().join("case.json");
    let stream = format!("project/{}/", project.project_id);
    let args = ["evidence", "export", "--stream", &stream, "--kind", "env.", "--out", case.to_str().expect("path")];
    let printed = success("evidence export beside a writing server", &siteledger(data, &args).await);
    let bundle = std::fs::read(&case).expect("bundle file");
    let verdict = siteledger_signer::verify_bundle(&bundle, ledger.log_verifier());
    assert!(verdict.ok, "{}", verdict.to_text());
    let parsed: Value = serde_json::from_slice(&bundle).expect("bundle JSON");
    let readings = parsed["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter(|r| r["envelope"]["kind"] == "env.dust_noise.reading.v1")
        .count();
    assert!(readings >= 1, "{printed}");

    // The server was writing meanwhile.
    assert!(ledger.head() > n, "the log did not grow while the commands ran");
    stop.store(true, Ordering::Relaxed);
    writer.await.expect("the writer ends cleanly");
    server.shutdown().await;
}
