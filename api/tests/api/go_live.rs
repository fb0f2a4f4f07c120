//! Go's reference implementation (golang.org/x/mod/sumdb/note and sumdb/tlog) verifies the live checkpoint and
//! the proofs fetched from the running server's transparency endpoints, exactly as an external auditor would.

use std::process::Command;

use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::world::{self, reading};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_sumdb_verifies_the_live_log() {
    let mut app = TestApp::spawn().await;
    let mut w = world::build(&mut app).await;
    let envs: Vec<_> = (0..40).map(|n| reading(&mut w.gw1, "NB-2026-0001", n)).collect();
    app.ingest_ok(&envs).await;
    let old_size = app.server.state.ledger.checkpoint_now().await.expect("checkpoint").size;
    let more: Vec<_> = (40..57).map(|n| reading(&mut w.gw1, "NB-2026-0001", n)).collect();
    app.ingest_ok(&more).await;
    app.server.state.ledger.checkpoint_now().await.expect("checkpoint");

    // Everything below comes over HTTP, unauthenticated.
    let vkey = app.get("/v1/log/key", None).await.text().await.expect("key");
    let note = app.get("/v1/log/checkpoint", None).await.text().await.expect("checkpoint");
    let size: u64 = note.lines().nth(1).expect("size line").parse().expect("size");
    let mut leaves = Vec::new();
    let mut inclusion = Vec::new();
    for i in 0..size {
        let leaf = app.get(&format!("/v1/log/leaves/{i}"), None).await.bytes().await.expect("leaf");
        leaves.push(base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &leaf));
        let p: Value =
            app.get(&format!("/v1/log/proof/inclusion?index={i}&size={size}"), None).await.json().await.expect("proof");
        inclusion.push(json!({"index": i, "hashes": p["hashes"]}));
    }
    // The old checkpoint's root is what an auditor kept from before; here it is recomputed from the old leaves.
    let old_root = app.server.state.ledger.root_at(old_size).await.expect("root");
    let c: Value = app
        .get(&format!("/v1/log/proof/consistency?from={old_size}&to={size}"), None)
        .await
        .json()
        .await
        .expect("proof");
    let input = json!({
        "vkey": vkey.trim(),
        "checkpoint": note,
        "leaves": leaves,
        "inclusion": inclusion,
        "consistency": [{"old_size": old_size, "old_root": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, old_root), "hashes": c["hashes"]}],
    });
    let dir = tempfile::tempdir().expect("tmp");
    let bin = siteledger_testkit::go_interop_checker(dir.path()).expect("Go checker builds");
    let path = dir.path().join("input.json");
    std::fs::write(&path, serde_json::to_vec(&input).expect("json")).expect("write");
    let out = Command::new(&bin).arg(&path).output().expect("run checker");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "Go rejected the live log:\n{stdout}");
    assert!(stdout.lines().last().unwrap_or_default().starts_with("OK "), "{stdout}");

    // And it notices a forged checkpoint.
    let mut forged = input.clone();
    forged["checkpoint"] = json!(note.replacen(&format!("\n{size}\n"), &format!("\n{}\n", size - 1), 1));
    std::fs::write(&path, serde_json::to_vec(&forged).expect("json")).expect("write");
    let out = Command::new(&bin).arg(&path).output().expect("run checker");
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
}
