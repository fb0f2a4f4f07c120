//! `siteledger bench --url … --read-only --phases query`: the query phase against a server whose log must stay as it
//! is (a city run's, a production copy's): it answers a latency table and the log does not grow by one record.

use siteledger_api::auth::Role;
use siteledger_demo::bench::{self, BenchArgs, Phase};

use crate::helpers::DemoApp;

fn args(url: String, token: String, phases: Vec<Phase>) -> BenchArgs {
    BenchArgs {
        url: Some(url),
        token: Some(token),
        root_key: None,
        phases,
        writers: 16,
        ingest_scale: 1.0,
        clients: 4,
        requests: 20,
        pace_ms: 0,
        subscribers: 0,
        feed_rate: 10,
        feed_seconds: 1,
        seed: 2026,
        read_only: true,
        query_paths: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_bench_measures_the_queries_and_writes_nothing() {
    let app = DemoApp::setup().await;
    app.settle().await;
    let token = app.server.state.tokens.create("bench", Role::City, None, 1).await.expect("token").secret;
    let head = app.server.state.ledger.head();

    bench::run(args(app.server.url(), token.clone(), vec![Phase::Query])).await.expect("read-only query phase");
    assert_eq!(app.server.state.ledger.head(), head, "a read-only bench posts nothing");
    // Pages and endpoints named with --query-path (a dashboard page with the cookie, an API path with the token).
    let named = BenchArgs {
        query_paths: vec!["/site".into(), "/v1/keys?limit=10".into(), "/v1/projects/{id}".into()],
        ..args(app.server.url(), token.clone(), vec![Phase::Query])
    };
    bench::run(named).await.expect("named endpoints");
    assert_eq!(app.server.state.ledger.head(), head);

    // Asked for more than queries, it refuses before touching the server.
    let err = bench::run(args(app.server.url(), token, vec![Phase::Ingest, Phase::Query]))
        .await
        .expect_err("ingest is a write");
    assert!(err.to_string().contains("--phases query"), "{err}");
    assert_eq!(app.server.state.ledger.head(), head);
}
