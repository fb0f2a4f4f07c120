use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;
use siteledger_signer::merkle::{leaf_hash, verify_consistency, verify_inclusion};
use siteledger_signer::note::{Checkpoint, NoteVerifier};
use siteledger_signer::verify_bundle;

use crate::helpers::TestApp;
use crate::world::{self, reading};

fn hashes(v: &Value) -> Vec<[u8; 32]> {
    v["hashes"]
        .as_array()
        .expect("hashes")
        .iter()
        .map(|h| B64.decode(h.as_str().expect("str")).expect("b64").try_into().expect("32"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anyone_can_audit_the_log_without_a_token() {
    let mut app = TestApp::spawn().await;
    let mut w = world::build(&mut app).await;
    let envs: Vec<_> = (0..30).map(|n| reading(&mut w.gw1, "NB-2026-0001", n)).collect();
    let ids: Vec<String> = envs.iter().map(|e| e.id().to_string()).collect();
    app.ingest_ok(&envs).await;
    app.server.state.ledger.checkpoint_now().await.expect("checkpoint");

    let vkey = app.get("/v1/log/key", None).await.text().await.expect("key");
    let verifier = NoteVerifier::parse(vkey.trim()).expect("a C2SP verifier key");
    let resp = app.get("/v1/log/checkpoint", None).await;
    assert!(resp.headers()["content-type"].to_str().expect("ct").starts_with("text/plain"));
    let note = resp.text().await.expect("note");
    let cp = Checkpoint::open(&note, &verifier, false).expect("the checkpoint is signed by the log key");
    assert!(cp.size >= 30);

    // Leaf bytes, inclusion proof, consistency proof: all check against the checkpoint.
    let leaf = app.get("/v1/log/leaves/10", None).await;
    assert_eq!(leaf.headers()["content-type"], "application/octet-stream");
    let leaf = leaf.bytes().await.expect("bytes");
    let proof: Value =
        app.get(&format!("/v1/log/proof/inclusion?index=10&size={}", cp.size), None).await.json().await.expect("json");
    assert_eq!((proof["index"].as_u64(), proof["size"].as_u64()), (Some(10), Some(cp.size)));
    verify_inclusion(&leaf_hash(&leaf), 10, cp.size, &hashes(&proof), &cp.root).expect("inclusion");
    let old_root = app.server.state.ledger.root_at(5).await.expect("root");
    let c: Value =
        app.get(&format!("/v1/log/proof/consistency?from=5&to={}", cp.size), None).await.json().await.expect("json");
    verify_consistency(5, cp.size, &hashes(&c), &old_root, &cp.root).expect("consistency");
    let page: Value = app.get("/v1/log/leaves?from=3&limit=4", None).await.json().await.expect("json");
    assert_eq!(page.as_array().expect("array").len(), 4);

    // Evidence for a record verifies offline.
    let bundle = app.get(&format!("/v1/evidence/{}", ids[7]), None).await.bytes().await.expect("bundle");
    let report = verify_bundle(&bundle, &verifier);
    assert!(report.ok, "{}", report.to_text());

    // Bad requests are clear errors.
    let r = app.get(&format!("/v1/log/proof/inclusion?index={}&size={}", cp.size, cp.size), None).await;
    assert_eq!(r.status(), 400);
    let r = app.get("/v1/log/leaves/999999", None).await;
    assert_eq!(r.status(), 404);
    let r = app.get("/v1/evidence/not-a-uuid", None).await;
    assert_eq!(r.status(), 400);
    let r = app.get("/v1/evidence/01900000-0000-7000-8000-000000000000", None).await;
    assert_eq!(r.status(), 404);
    let r = app.get("/v1/log/proof/consistency?from=x&to=1", None).await;
    assert_eq!(r.status(), 400);
}
