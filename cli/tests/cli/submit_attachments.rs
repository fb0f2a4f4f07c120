//! `siteledger submit` with attachments (附件): a JSON Lines line names the local file its payload cites; the file
//! is stored beside the state file and sent to the platform's `POST /v1/blobs` before the record. A line citing a
//! file it does not attach, or attaching one it does not cite, is refused naming the member.

use std::process::Command;

use serde_json::json;
use siteledger_api::auth::Role;
use siteledger_api::blobs::BlobStore;
use siteledger_client::{IngestClient, MemoryChain, keys};
use siteledger_demo::city;
use siteledger_ledger::{Direction, EventStore};
use siteledger_signer::Envelope;

use crate::helpers::{App, SITELEDGER};

async fn submit(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || Command::new(SITELEDGER).args(args).output().expect("runs"))
        .await
        .expect("join")
}

/// Before: `submit` had no way to hand the platform the file a record cites (a BIM model, a report PDF): the log
/// held a digest and the store nothing. Now the attached file reaches the attachment store with the record, a
/// re-run signs nothing again, and lines whose attachments and citations disagree are refused naming the member.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_attaching_the_file_it_cites_puts_the_file_in_the_store_and_mismatches_are_named() {
    let app = App::setup().await;
    let state = app.server.state.clone();
    let spec = city::projects(siteledger_demo::PROJECT_PREFIX, &city::enterprises()).swap_remove(0);
    let project = spec.project_id.clone();
    let gc = spec.payload["participants"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["role"] == "general_contractor"))
        .and_then(|p| p["credit_code"].as_str())
        .expect("a general contractor")
        .to_owned();
    let work = tempfile::tempdir().expect("dir");
    let key_path = work.path().join("contractor.key");
    let key = keys::generate(&key_path).expect("key");
    let city_key = keys::load(&state.config.key_dir().join("demo-city.key")).expect("city key");
    let head = state.ledger.store().signer_head(&city_key.key_id().to_string()).await.expect("head");
    let enrol = MemoryChain::resume(head.map(|h| (h.signer_seq, h.leaf_hash)))
        .sign(
            &city_key,
            uuid::Uuid::now_v7(),
            "registry/keys",
            "ledger.key.enrolled.v1",
            "2026-11-01T09:00:00+08:00",
            city::enrollment(key.public(), &gc, "enterprise"),
        )
        .expect("signed");
    let city_token = state.tokens.create("test city", Role::City, None, 1).await.expect("token");
    let answer = IngestClient::new(&app.server.url()).expect("client").post(&city_token.secret, &[enrol]).await;
    assert_eq!(answer.expect("answer").accepted, 1);
    let token = state.tokens.create("test contractor", Role::Enterprise, Some(&gc), 1).await.expect("token");
    let token_file = work.path().join("token");
    keys::write_secret(&token_file, &token.secret).expect("token file");

    let model = b"ISO-10303-21;\nHEADER;\nFILE_NAME('ARCH-v1.ifc');\nENDSEC;\nEND-ISO-10303-21;\n".to_vec();
    std::fs::create_dir(work.path().join("models")).expect("dir");
    std::fs::write(work.path().join("models").join("ARCH-v1.ifc"), &model).expect("model file");
    std::fs::write(work.path().join("models").join("notes.txt"), "施工日志").expect("other file");
    let sha = siteledger_client::idempotency::sha256_hex(&model);
    let stream = format!("project/{project}/supervision");
    let registered = |model_id: &str, sha: &str| {
        json!({"project_id": project, "model_id": model_id, "version": 1, "sha256": sha, "format": "ifc",
               "file_name": "ARCH-v1.ifc"})
    };
    let lines = [
        json!({"kind": "bim.model.registered.v1", "stream": stream, "payload": registered("ARCH", &sha),
               "attachments": ["models/ARCH-v1.ifc"]}),
        json!({"kind": "bim.model.registered.v1", "stream": stream, "payload": registered("MEP", &"ab".repeat(32))}),
        json!({"kind": "bim.model.registered.v1", "stream": stream, "payload": registered("STRU", &sha),
               "attachments": ["models/ARCH-v1.ifc", "models/notes.txt"]}),
    ];
    let file = work.path().join("models.jsonl");
    std::fs::write(&file, lines.iter().map(|l| l.to_string() + "\n").collect::<String>()).expect("jsonl");
    let path = |p: &std::path::Path| p.to_str().expect("utf-8 path").to_owned();
    let args = vec![
        "submit".to_owned(),
        "--url".into(),
        app.server.url(),
        "--token-file".into(),
        path(&token_file),
        "--key".into(),
        path(&key_path),
        "--state".into(),
        path(&work.path().join("state.db")),
        "--file".into(),
        path(&file),
    ];
    let out = submit(args.clone()).await;
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "refused lines make the run fail: {stdout}");
    assert!(stderr.contains("line 2: member `sha256`"), "{stderr}");
    assert!(stderr.contains("line 3: member `attachments[1]`"), "{stderr}");
    assert!(stdout.contains("signed now: 1\n") && stdout.contains("accepted 1"), "{stdout}");
    assert_eq!(state.blobs.read(&sha).await.expect("store"), Some(model.clone()), "the platform holds the file");
    let events = state.ledger.store().read_stream(&stream, 0, Direction::Forward, 10_000).await.expect("stream");
    let ours: Vec<_> = events.iter().filter(|e| e.signer == key.key_id().to_string()).collect();
    assert_eq!(ours.len(), 1);
    assert_eq!(Envelope::parse(&ours[0].leaf).expect("envelope").payload()["sha256"], json!(sha));

    // Re-run: nothing signed again, nothing new in the log.
    let out = submit(args).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("signed now: 0\n") && stdout.contains("accepted 0, duplicate 0"), "{stdout}");
    let again = state.ledger.store().read_stream(&stream, 0, Direction::Forward, 10_000).await.expect("stream");
    assert_eq!(again.iter().filter(|e| e.signer == key.key_id().to_string()).count(), 1);
}
