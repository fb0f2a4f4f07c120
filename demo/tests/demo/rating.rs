//! The demo's 星级评定 traffic: the city bureau publishes the policies (versions 1 and 2) and credit rules and signs last year's annual
//! report during setup; a rating round has every district bureau sign a decision per project through the API, each
//! recomputable byte for byte from the log at its size, and a second round with nothing changed signs nothing.

use serde_json::Value;
use siteledger_api::auth::Role;
use siteledger_api::ratings::{self, LogPrefix};
use siteledger_domain::LocalDate;
use siteledger_domain::ids::ProjectId;
use siteledger_ledger::EventStore;
use siteledger_signer::Envelope;

use crate::helpers::DemoApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_publishes_policies_and_issues_decisions_through_the_api() {
    let mut app = DemoApp::setup().await;
    let token = app.token(Role::City, None).await;
    let issued = app.demo.rating_round().await.expect("rating round");
    assert_eq!(issued, 42, "one decision per project: none was issued before");
    assert_eq!(app.demo.rating_round().await.expect("rating round"), 0, "nothing changed: nothing issued again");
    app.settle().await;

    let decisions: Value = app.get_json("/v1/ratings", &token).await;
    assert_eq!(decisions.as_array().map(Vec::len), Some(42), "{decisions}");
    let d = &decisions[0];
    assert!(d["tree_size"].as_u64().is_some_and(|n| n > 100));
    // Each issued decision is recomputed from the log at its size, byte for byte.
    let store = app.server.state.ledger.store();
    let n = d["tree_size"].as_u64().expect("size");
    let prefix = LogPrefix::load(store, n, None).await.expect("prefix");
    for row in decisions.as_array().expect("rows").iter().take(5) {
        let id: uuid::Uuid = row["event_id"].as_str().expect("id").parse().expect("uuid");
        let stored = store.events_by_id(&[id]).await.expect("read");
        let env = Envelope::parse(&stored[0].leaf).expect("envelope");
        let p = ProjectId::parse(row["project_id"].as_str().expect("project")).expect("id");
        let as_of = LocalDate::parse(row["as_of"].as_str().expect("as_of")).expect("date");
        assert_eq!(row["tree_size"].as_u64(), Some(n), "one round, one size");
        // The newest policy published: version 2, whose video days need measured camera online time.
        assert_eq!(row["policy_version"].as_u64(), Some(2), "{row}");
        let again = ratings::decision(&prefix, &p, 2, as_of).expect("decision");
        assert_eq!(
            siteledger_signer::canonical::to_canonical(&Value::Object(env.payload().clone())),
            ratings::decision_bytes(&again)
        );
    }
    let policies: Value = app.get_json("/v1/rating-policies", &token).await;
    assert_eq!(policies.as_array().map(Vec::len), Some(3), "rating policies 1 and 2, credit rules 1: {policies}");
    let reports: Value = app.get_json("/v1/reports", &token).await;
    assert_eq!(reports.as_array().map(Vec::len), Some(1), "{reports}");
    // Pages render for the anonymous demo visitor.
    for path in ["/ratings", "/ratings/projects/NB-2025-0001"] {
        let resp = app.client.get(app.url(path)).send().await.expect("request");
        assert_eq!(resp.status(), 200, "{path}");
        let body = resp.text().await.expect("text");
        assert!(body.contains("星级"), "{path}");
    }
    assert!(app.rejections().await.is_empty(), "{:?}", app.rejections().await);
    app.server.shutdown().await;
}
