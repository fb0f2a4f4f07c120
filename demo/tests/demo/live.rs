//! A live demo runs on its own tick, and a demo that is only set up posts nothing by itself, in the same process at
//! the same time: the tick is a field of each demo's configuration, not process-wide state.

use std::collections::BTreeSet;
use std::time::Duration;

use siteledger_api::auth::Role;
use siteledger_demo::DemoConfig;

use crate::helpers::{DemoApp, PATIENCE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_demo_ticks_on_its_own_while_a_set_up_demo_beside_it_posts_nothing() {
    // Set up only: no timers (and a tick that would be long anyway).
    let quiet = DemoApp::setup().await;
    quiet.settle().await;
    let quiet_head = quiet.server.state.ledger.head();

    // Live, on a fast tick of its own.
    let live = DemoApp::setup_in(
        tempfile::tempdir().expect("tempdir"),
        DemoConfig { tick: Duration::from_millis(50), ..DemoConfig::default() },
    )
    .await;
    let DemoApp { server, demo, client, dir: _dir } = live;
    let token = server.state.tokens.create("test", Role::City, None, 1).await.expect("token").secret;
    let from = server.state.ledger.head();
    demo.go_live();

    // Wait, on every append to the live server's log, until every area has posted: readings from every gateway,
    // a rating round, a supervision step.
    let mut head = server.state.ledger.watch_head();
    let mut gateways = BTreeSet::new();
    // The site agents' GB/T 28181 cameras (an NVR's 4 channels and an IPC per agent, over SIP).
    let mut cameras = BTreeSet::new();
    let (mut decisions, mut inspections) = (0, 0);
    let mut next = from;
    let waited = tokio::time::timeout(PATIENCE, async {
        loop {
            let page = server.state.ledger.read_all(next, 1000).await.expect("read");
            for e in &page {
                next = e.position + 1;
                match e.kind.as_str() {
                    // The project gateways' monitors (`YC-…`; the site agents' devices have ids of their own).
                    "env.dust_noise.reading.v1" if e.stream.contains("/env/YC-") => {
                        gateways.insert(e.signer.clone());
                    }
                    "video.camera.status.v1" => {
                        cameras.insert(e.stream.clone());
                    }
                    "rating.decision.v1" => decisions += 1,
                    "inspection.inspection.recorded.v1" => inspections += 1,
                    _ => {}
                }
            }
            if gateways.len() >= 42 && decisions >= 42 && inspections >= 1 && cameras.len() >= 6 * 5 {
                return;
            }
            if page.is_empty() {
                let _ = head.changed().await;
            }
        }
    })
    .await;
    assert!(
        waited.is_ok(),
        "the live demo did not post in {PATIENCE:?}: readings from {} gateways, {decisions} decisions, {inspections} inspections, \
         status of {} GB/T 28181 cameras",
        gateways.len(),
        cameras.len()
    );
    let text = client
        .get(format!("{}/metrics", server.url()))
        .bearer_auth(&token)
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let rejections: Vec<&str> = text.lines().filter(|l| l.starts_with("siteledger_ingest_rejections_total{")).collect();
    assert!(rejections.is_empty(), "{rejections:?}");
    server.shutdown().await;

    // Meanwhile the set-up demo's server received nothing.
    assert_eq!(quiet.server.state.ledger.head(), quiet_head, "a demo that is not live posts nothing");
    quiet.server.shutdown().await;
}
