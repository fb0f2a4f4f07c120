//! `report annual` resumes from the rating fold's snapshots in the server's read database, and `--from-zero` folds
//! from record 0; both write the library's from-zero bytes.

use siteledger_api::ratings;
use siteledger_api::reports::{self, ReportRequest};

use crate::helpers::{App, siteledger, success};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_annual_from_a_snapshot_and_from_zero_write_the_same_bytes() {
    let mut app = App::setup().await;
    app.demo.tick().await.expect("tick");
    app.settle().await;
    let ledger = app.server.state.ledger.clone();
    let store = ledger.store();
    let n = ledger.head();
    let data = app.dir.path();
    let year = ratings::today_shanghai().date().year();
    let reference =
        reports::annual(store, &ReportRequest { year, district: None, at_size: n, policy_version: None, as_of: None })
            .await
            .expect("report");
    let (year_s, n_s) = (year.to_string(), n.to_string());
    let run = |extra: &'static [&'static str]| {
        let (year_s, n_s) = (year_s.clone(), n_s.clone());
        async move {
            let out = tempfile::tempdir().expect("tempdir");
            let out_s = out.path().to_str().expect("utf-8 path").to_owned();
            let mut args = vec!["report", "annual", "--year", &year_s, "--at-size", &n_s, "--out", &out_s];
            args.extend_from_slice(extra);
            success("report annual", &siteledger(data, &args).await);
            let file = |ext: &str| std::fs::read(out.path().join(format!("report-city-{year}-{n}.{ext}"))).expect(ext);
            (file("html"), file("csv"), file("json"))
        }
    };
    let expected = (reference.html.into_bytes(), reference.csv.into_bytes(), reference.json);
    assert!(expected == run(&["--from-zero"]).await, "--from-zero: the library's bytes");
    // Without the flag the CLI resumes from a snapshot in the server's read database: the demo's rating rounds
    // leave them, and a CLI run that finds none leaves one.
    assert!(!app.server.state.read.fold_snapshots(0, n, 10).await.expect("list").is_empty());
    assert!(expected == run(&[]).await, "resumed from a snapshot: the same bytes");
    assert!(expected == run(&[]).await, "again");
}
