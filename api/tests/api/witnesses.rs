//! The log's witnesses (docs/FORMAT.md §9): the server submits each new checkpoint to its configured witnesses over
//! TCP and `/v1/log/checkpoint` publishes it with their cosignature lines; a witness that is down blocks nothing.

use std::sync::Arc;

use siteledger_api::auth::Role;
use siteledger_api::witnessing::WitnessTarget;
use siteledger_signer::SigningKey;
use siteledger_signer::bundle::{BUNDLE_FORMAT_V1_2, Bundle, CheckKind};
use siteledger_signer::cosignature::{CosignatureError, Cosigner, WitnessPolicy};
use siteledger_signer::note::Checkpoint;
use siteledger_signer::verify_witnessed;
use siteledger_witness::Witness;
use siteledger_witness::state::StateStore;

use crate::helpers::{PATIENCE, TestApp};

#[tokio::test]
async fn published_checkpoint_carries_a_live_witness_cosignature_while_another_is_down() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let live_addr = listener.local_addr().expect("addr");
    let dead_addr = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        l.local_addr().expect("addr")
    };
    let live = Cosigner::new("witness.example/live", SigningKey::from_seed(&[0x71; 32])).expect("w");
    let live_v = live.verifier();
    let down_v = Cosigner::new("witness.example/down", SigningKey::from_seed(&[0x72; 32])).expect("w").verifier();
    let targets = vec![
        WitnessTarget { url: format!("http://{dead_addr}"), key: down_v.vkey() },
        WitnessTarget { url: format!("http://{live_addr}"), key: live_v.vkey() },
    ];
    let mut app = TestApp::spawn_with(|c| c.witnesses = targets).await;
    let log_v = app.server.state.ledger.log_verifier().clone();

    // The witness is another party: its own state directory, the log's public key only.
    let dir = tempfile::tempdir().expect("tmp");
    let state = StateStore::open(dir.path()).expect("state");
    let witness = Witness::new(live, vec![log_v.clone()], state, siteledger_witness::witness::system_clock());
    tokio::spawn(siteledger_witness::server::serve(listener, Arc::new(witness), std::future::pending()));

    let root = app.root_enrollment();
    let positions = app.ingest_ok(&[root]).await;
    let one = WitnessPolicy::new(vec![live_v.clone(), down_v.clone()], 1).expect("1 of 2");
    // Wait (on the published checkpoint itself) until a checkpoint covering the record carries a cosignature.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let note = loop {
        let note = app.get("/v1/log/checkpoint", None).await.text().await.expect("text");
        let cp = Checkpoint::open(&note, &log_v, false).expect("the log's own signature verifies as before");
        if cp.size > positions[0] && one.check(&note).is_ok() {
            break note;
        }
        assert!(tokio::time::Instant::now() < deadline, "no cosigned checkpoint within {PATIENCE:?}: {note}");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    };
    let got = one.check(&note).expect("1 of 2");
    assert_eq!(got.iter().map(|c| c.witness.as_str()).collect::<Vec<_>>(), vec!["witness.example/live"]);
    assert_eq!(
        WitnessPolicy::new(vec![live_v.clone(), down_v.clone()], 2).expect("2 of 2").check(&note),
        Err(CosignatureError::BelowThreshold { got: 1, need: 2 })
    );

    // The evidence bundle of the record carries the cosigned checkpoint (format v1.2) and meets 1 of 2 offline.
    let token = app.token(Role::City, None).await;
    let id = app.server.state.ledger.read_all(positions[0], 1).await.expect("read")[0].event_id.to_string();
    let resp = app
        .client
        .post(app.url("/v1/evidence/export"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"event_ids": [id]}))
        .send()
        .await
        .expect("export");
    assert_eq!(resp.status(), 200);
    let bytes = resp.bytes().await.expect("bundle");
    let bundle = Bundle::parse(&bytes).expect("a bundle");
    assert_eq!(bundle.format, BUNDLE_FORMAT_V1_2);
    assert_eq!(bundle.witnesses, Some(vec![live_v.vkey()]));
    let report = verify_witnessed(&bytes, &log_v, None, Some(&one));
    assert!(report.ok, "{}", report.to_text());
    let both = WitnessPolicy::new(vec![live_v, down_v], 2).expect("2 of 2");
    let report = verify_witnessed(&bytes, &log_v, None, Some(&both));
    assert_eq!(report.failures().map(|c| c.check).collect::<Vec<_>>(), vec![CheckKind::WitnessPolicy]);
}
