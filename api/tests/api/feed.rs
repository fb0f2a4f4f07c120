//! The live feed: scoped, resumable with Last-Event-ID, and bounded for slow clients.

use futures::StreamExt;
use serde_json::Value;
use siteledger_api::auth::Role;

use crate::helpers::{PATIENCE, TestApp};
use crate::world::{self, YINZHOU, reading};

/// Reads SSE events from a response until `n` `record` events arrived; returns (id, data) pairs and any other events.
async fn read_events(resp: reqwest::Response, n: usize) -> (Vec<(u64, Value)>, Vec<(String, String)>) {
    let mut stream = resp.bytes_stream();
    let mut buf = String::new();
    let mut records = Vec::new();
    let mut others = Vec::new();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while records.len() < n {
        let chunk = tokio::time::timeout_at(deadline, stream.next()).await.expect("feed delivered in time");
        let Some(chunk) = chunk else { break };
        buf.push_str(&String::from_utf8_lossy(&chunk.expect("chunk")));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let (mut id, mut event, mut data) = (None, String::from("message"), String::new());
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    id = v.trim().parse().ok();
                } else if let Some(v) = line.strip_prefix("event:") {
                    event = v.trim().to_owned();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim_start());
                }
            }
            if event == "record" {
                records.push((id.expect("id"), serde_json::from_str(&data).expect("json data")));
            } else if !data.is_empty() {
                others.push((event, data));
            }
        }
    }
    (records, others)
}

/// `GET /v1/feed?after=…` with `token`.
async fn open_feed(app: &TestApp, token: &str, after: u64) -> reqwest::Response {
    app.client.get(app.url(&format!("/v1/feed?after={after}"))).bearer_auth(token).send().await.expect("feed")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_is_scoped_live_and_resumable() {
    let mut app = TestApp::spawn().await;
    let mut w = world::build(&mut app).await;
    app.settle().await;
    let yinzhou = app.token(Role::District, Some(YINZHOU)).await;
    let start = app.server.state.ledger.head();
    let resp = open_feed(&app, &yinzhou, start - 1).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"].to_str().expect("ct").starts_with("text/event-stream"));
    // Live: records of both districts arrive; the district sees only its own project.
    let mut envs = Vec::new();
    for n in 0..5 {
        envs.push(reading(&mut w.gw1, "NB-2026-0001", n));
        envs.push(reading(&mut w.gw2, "NB-2026-0002", n));
    }
    app.ingest_ok(&envs).await;
    let (records, _) = read_events(resp, 5).await;
    assert_eq!(records.len(), 5);
    assert!(records.iter().all(|(_, r)| r["stream"].as_str().expect("s").starts_with("project/NB-2026-0001/")));
    assert!(records.windows(2).all(|w| w[0].0 < w[1].0), "in log order");

    // Resume after the second record: exactly the remaining three, no gap, no duplicate.
    let resp = app
        .client
        .get(app.url("/v1/feed"))
        .bearer_auth(&yinzhou)
        .header("Last-Event-ID", records[1].0.to_string())
        .send()
        .await
        .expect("feed");
    let (resumed, _) = read_events(resp, 3).await;
    assert_eq!(resumed.iter().map(|r| r.0).collect::<Vec<_>>(), records[2..].iter().map(|r| r.0).collect::<Vec<_>>());

    // Kind filter and no token.
    assert_eq!(app.get("/v1/feed", None).await.status(), 401);
    let bad = app
        .client
        .get(app.url("/v1/feed"))
        .bearer_auth(&yinzhou)
        .header("Last-Event-ID", "abc")
        .send()
        .await
        .expect("feed");
    assert_eq!(bad.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_subscriber_is_cut_off_with_a_resume_hint() {
    let mut app = TestApp::spawn_with(|c| c.feed_buffer = 16).await;
    let mut w = world::build(&mut app).await;
    let city = app.token(Role::City, None).await;
    let start = app.server.state.ledger.head();
    // Connect, but do not read while 5000 records (megabytes, more than socket buffers hold) are published.
    let resp = open_feed(&app, &city, start - 1).await;
    for chunk in 0..50 {
        let envs: Vec<_> = (0..100).map(|n| reading(&mut w.gw1, "NB-2026-0001", chunk * 100 + n)).collect();
        app.ingest_ok(&envs).await;
    }
    let (records, others) = read_events(resp, 5000).await;
    let resume = others.iter().find(|(e, _)| e == "resume").expect("a resume hint before disconnecting");
    let hint: Value = serde_json::from_str(&resume.1).expect("json");
    let next = hint["resume_from"].as_u64().expect("position");
    assert!(records.len() < 5000, "the slow client was not buffered without bound");
    assert_eq!(
        next,
        records.last().map_or(start, |r| r.0 + 1),
        "the hint resumes right after the last delivered record"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_nobody_listening_the_feed_reads_nothing_and_a_subscriber_still_gets_every_record() {
    let mut app = TestApp::spawn().await;
    let mut w = world::build(&mut app).await;
    app.settle().await;
    let city = app.token(Role::City, None).await;
    assert_eq!(
        app.server.state.feed.published(),
        0,
        "no subscriber while the world was built: the feed read none of its records"
    );
    let start = app.server.state.ledger.head();
    let resp = open_feed(&app, &city, start - 1).await;
    assert_eq!(resp.status(), 200);
    let envs: Vec<_> = (0..20).map(|n| reading(&mut w.gw1, "NB-2026-0001", n)).collect();
    app.ingest_ok(&envs).await;
    let (records, others) = read_events(resp, 20).await;
    assert!(others.is_empty(), "no resume hint: {others:?}");
    let positions: Vec<u64> = records.iter().map(|r| r.0).collect();
    assert_eq!(
        positions,
        (start..start + 20).collect::<Vec<_>>(),
        "every record from the subscriber's start, in order"
    );
    assert!(app.server.state.feed.published() > 0, "with a subscriber the feed follows the log again");
}
