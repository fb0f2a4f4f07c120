//! `siteledger backup` and `siteledger restore` (issue 17): a backup taken while writers post signed records over
//! HTTP, restored into a fresh data directory, verified, and served again; and the damaged backups restore refuses,
//! each with a message naming what is wrong and nothing left behind.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use siteledger_api::auth::Role;
use siteledger_api::blobs::{BlobStore, NewBlob};
use siteledger_api::config::Config;
use siteledger_api::state::AppState;
use siteledger_client::{IngestClient, MemoryChain, keys};
use siteledger_demo::{city, workforce};
use siteledger_ledger::{Direction, EventStore};
use siteledger_signer::Envelope;
use siteledger_signer::merkle::verify_consistency;

use crate::helpers::{App, PATIENCE, siteledger, success};

/// The backup's manifest, as JSON.
fn manifest(backup: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(backup.join("manifest.json")).expect("manifest")).expect("JSON")
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Copies a backup directory (to damage the copy).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Runs `siteledger restore --from BACKUP` into `target`; returns (success, stderr).
async fn restore(backup: &Path, target: &Path) -> (bool, String) {
    let out = siteledger(target, &["restore", "--from", path(backup)]).await;
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Enrols a new key for the general contractor of the demo's first workforce project (signed by the city bureau's
/// root key), then has that new key post a gate passage: a signer the backup never saw, ingesting through HTTP.
async fn new_signer_posts(state: &AppState, url: &str, work: &Path) {
    let spec = city::projects(siteledger_demo::PROJECT_PREFIX, &city::enterprises())
        .into_iter()
        .nth(workforce::PROJECTS[0])
        .expect("project");
    let gc = spec.payload["participants"]
        .as_array()
        .expect("participants")
        .iter()
        .find(|p| p["role"] == "general_contractor")
        .and_then(|p| p["credit_code"].as_str())
        .expect("a general contractor")
        .to_owned();
    let stream = format!("project/{}/workforce", spec.project_id);
    let events = state.ledger.store().read_stream(&stream, 0, Direction::Forward, 10_000).await.expect("stream");
    let worker = events
        .iter()
        .find(|e| e.kind == "worker.registered.v1")
        .map(|e| Envelope::parse(&e.leaf).expect("envelope").payload()["person_ref"].as_str().expect("ref").to_owned())
        .expect("a registered worker");

    let key = keys::generate(&work.join("new-signer.key")).expect("key");
    let city_key = keys::load(&state.config.key_dir().join("demo-city.key")).expect("city key");
    let head = state.ledger.store().signer_head(&city_key.key_id().to_string()).await.expect("head");
    let mut chain = MemoryChain::resume(head.map(|h| (h.signer_seq, h.leaf_hash)));
    let enrol = chain
        .sign(
            &city_key,
            uuid::Uuid::now_v7(),
            "registry/keys",
            "ledger.key.enrolled.v1",
            "2026-11-01T09:00:00+08:00",
            city::enrollment(key.public(), &gc, "enterprise"),
        )
        .expect("signed");
    let city_token = state.tokens.create("restored city", Role::City, None, 1).await.expect("token");
    let client = IngestClient::new(url).expect("client");
    let answer = client.post(&city_token.secret, &[enrol]).await.expect("answer");
    assert_eq!(answer.accepted, 1, "the restored server enrols a new key: {answer:?}");

    let mut chain = MemoryChain::resume(None);
    let passage = chain
        .sign(
            &key,
            uuid::Uuid::now_v7(),
            &format!("project/{}/workforce/gate", spec.project_id),
            "worker.passage.v1",
            "2026-11-02T07:00:00+08:00",
            serde_json::json!({"project_id": spec.project_id, "person_ref": worker, "gate": "GATE-02",
                "direction": "in", "method": "card"})
            .as_object()
            .expect("an object")
            .clone(),
        )
        .expect("signed");
    let token = state.tokens.create("restored contractor", Role::Enterprise, Some(&gc), 1).await.expect("token");
    let answer = client.post(&token.secret, &[passage]).await.expect("answer");
    assert_eq!(answer.accepted, 1, "the new signer's record is admitted on the restored server: {answer:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_restores_verifies_and_serves_again() {
    let App { server, mut demo, dir } = App::setup().await;
    let ledger = server.state.ledger.clone();

    // Writers that never pause: every demo gateway posts signed readings over HTTP, again and again.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                demo.tick().await.expect("the writer's tick");
            }
            demo
        })
    };
    let start = ledger.head();
    let mut head = ledger.watch_head();
    let grew = tokio::time::timeout(PATIENCE, head.wait_for(|h| *h >= start + 42)).await.map(|r| r.is_ok());
    assert_eq!(grew, Ok(true), "the writers did not post");

    let work = tempfile::tempdir().expect("tempdir");
    let backup = work.path().join("backup");
    let before = ledger.head();
    let printed =
        success("backup beside writing clients", &siteledger(dir.path(), &["backup", "--out", path(&backup)]).await);
    let m = manifest(&backup);
    let size = m["log"]["tree_size"].as_u64().expect("tree size");
    assert!(size >= before, "the backup holds at least what was there when it began ({size} < {before})\n{printed}");
    // The writers kept going: wait until the live log is past the backup, then have it checkpoint.
    let past = tokio::time::timeout(PATIENCE, head.wait_for(|h| *h > size + 42)).await.map(|r| r.is_ok());
    assert_eq!(past, Ok(true), "the writers stopped while the backup ran");
    stop.store(true, Ordering::Relaxed);
    let demo = writer.await.expect("the writers end cleanly");
    let live_checkpoint = ledger.checkpoint_now().await.expect("checkpoint");
    assert!(live_checkpoint.size > size);
    // Key files keep their mode in the backup.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(backup.join("keys/log.key")).expect("key file").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "keys/log.key in the backup");
    }

    // Restore into a fresh directory, verified.
    let restored = work.path().join("restored");
    let printed =
        success("restore into a fresh directory", &siteledger(&restored, &["restore", "--from", path(&backup)]).await);
    assert!(printed.contains(&format!("records:            {size} ")), "{printed}");

    // Serve it.
    let config = Config {
        data_dir: restored.clone(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        log_origin: server.state.config.log_origin.clone(),
        checkpoint_interval_ms: 50,
        demo: true,
        ..Config::default()
    };
    let again = siteledger_api::server::spawn(config).await.expect("the restored data directory serves");
    let restored_ledger = again.state.ledger.clone();
    assert_eq!(restored_ledger.head(), size, "the restored log holds exactly the backup's records");
    assert_eq!(restored_ledger.log_verifier().vkey(), ledger.log_verifier().vkey(), "the same log key");

    // Every record up to the backup's size is the live server's, byte for byte.
    let mut at = 0;
    while at < size {
        let ours = restored_ledger.read_all(at, 1000).await.expect("restored records");
        let theirs = ledger.read_all(at, ours.len()).await.expect("live records");
        assert!(!ours.is_empty());
        for (a, b) in ours.iter().zip(&theirs) {
            assert_eq!((a.position, &a.leaf), (b.position, &b.leaf), "record {} differs", a.position);
        }
        at += ours.len() as u64;
    }
    // ...and verifies offline against the restored server's checkpoint with the log key.
    let restored_checkpoint = restored_ledger.checkpoint_now().await.expect("checkpoint");
    assert_eq!(restored_checkpoint.size, size);
    let sample: Vec<uuid::Uuid> = restored_ledger
        .read_all(0, size as usize)
        .await
        .expect("records")
        .iter()
        .step_by(37)
        .map(|e| e.event_id)
        .collect();
    let bundle = restored_ledger.evidence_bundle(&sample).await.expect("bundle");
    let verdict = siteledger_signer::verify_bundle(&bundle.to_bytes(), ledger.log_verifier());
    assert!(verdict.ok, "{}", verdict.to_text());

    // The restored tree is a prefix of the live tree: the live server's later checkpoint proves it.
    let proof = ledger.consistency_proof(size, live_checkpoint.size).await.expect("proof");
    verify_consistency(size, live_checkpoint.size, &proof, &restored_checkpoint.root, &live_checkpoint.root)
        .expect("the restored checkpoint is consistent with the live server's later one");

    // Ingest works on the restored server, for a signer it has never seen.
    new_signer_posts(&again.state, &again.url(), work.path()).await;
    assert_eq!(restored_ledger.head(), size + 2);

    drop(demo);
    again.shutdown().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_a_damaged_backup_or_a_used_directory_and_leaves_nothing_behind() {
    let App { server, demo, dir } = App::setup().await;
    server.state.ledger.checkpoint_now().await.expect("checkpoint");
    let work = tempfile::tempdir().expect("tempdir");
    let backup = work.path().join("backup");
    success("backup", &siteledger(dir.path(), &["backup", "--out", path(&backup)]).await);
    drop(demo);
    server.shutdown().await;
    let good = manifest(&backup);
    let ledger_entry = |m: &serde_json::Value| -> usize {
        m["files"].as_array().expect("files").iter().position(|f| f["path"] == "ledger.db").expect("ledger.db")
    };
    let mut case = 0;
    let mut damaged = |damage: &dyn Fn(&Path)| -> (PathBuf, PathBuf) {
        case += 1;
        let copy = work.path().join(format!("damaged-{case}"));
        copy_dir(&backup, &copy);
        damage(&copy);
        (copy, work.path().join(format!("target-{case}")))
    };

    // A flipped byte in the backed-up ledger file.
    let (copy, target) = damaged(&|b: &Path| {
        let file = b.join("ledger.db");
        let mut bytes = std::fs::read(&file).expect("ledger.db");
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x01;
        std::fs::write(&file, bytes).expect("write");
    });
    let (ok, err) = restore(&copy, &target).await;
    assert!(!ok && err.contains("ledger.db is damaged or was altered"), "{err}");
    assert!(!target.exists(), "nothing restored");

    // A manifest whose tree size was edited.
    let (copy, target) = damaged(&|b: &Path| {
        let mut m = good.clone();
        m["log"]["tree_size"] = serde_json::json!(good["log"]["tree_size"].as_u64().expect("size") - 1);
        std::fs::write(b.join("manifest.json"), serde_json::to_vec(&m).expect("json")).expect("write");
    });
    let (ok, err) = restore(&copy, &target).await;
    let size = good["log"]["tree_size"].as_u64().expect("size");
    assert!(!ok && err.contains(&format!("the manifest says {} records, the log holds {size}", size - 1)), "{err}");
    assert!(!target.exists(), "nothing restored");

    // A manifest whose root was edited.
    let (copy, target) = damaged(&|b: &Path| {
        let mut m = good.clone();
        m["log"]["root"] = serde_json::json!("00".repeat(32));
        std::fs::write(b.join("manifest.json"), serde_json::to_vec(&m).expect("json")).expect("write");
    });
    let (ok, err) = restore(&copy, &target).await;
    assert!(!ok && err.contains(&format!("the manifest's root at tree size {size} is {}", "00".repeat(32))), "{err}");
    assert!(!target.exists(), "nothing restored");

    // A record's bytes changed inside the ledger file, with the manifest's SHA-256 recomputed to match: the tree
    // catches it, at that record's position.
    let (copy, target) = damaged(&|b: &Path| {
        let file = b.join("ledger.db");
        // (Its own thread and runtime: this closure runs inside the test's runtime.)
        let change = file.clone();
        std::thread::spawn(move || {
            let file = change;
            let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
            rt.block_on(async {
            use sqlx::ConnectOptions;
            let mut conn =
                sqlx::sqlite::SqliteConnectOptions::new().filename(&file).connect().await.expect("open the copy");
            sqlx::query("UPDATE events SET leaf = CAST(replace(CAST(leaf AS TEXT), '\"kind\"', '\"kinD\"') AS BLOB) WHERE position = 5")
                .execute(&mut conn)
                .await
                .expect("change a leaf");
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut conn).await.expect("checkpoint");
            sqlx::Connection::close(conn).await.expect("close");
            });
        })
        .join()
        .expect("the change is made");
        let bytes = std::fs::read(&file).expect("ledger.db");
        let mut m = good.clone();
        let i = ledger_entry(&m);
        m["files"][i]["sha256"] = serde_json::json!(
            siteledger_ledger::snapshot::sha256(&bytes).iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        m["files"][i]["bytes"] = serde_json::json!(bytes.len());
        std::fs::write(b.join("manifest.json"), serde_json::to_vec(&m).expect("json")).expect("write");
    });
    let (ok, err) = restore(&copy, &target).await;
    assert!(!ok && err.contains("the record at position 5 was changed"), "{err}");
    assert!(!target.exists(), "nothing restored");

    // A target that is not empty.
    let used = work.path().join("used");
    std::fs::create_dir_all(&used).expect("dir");
    std::fs::write(used.join("ledger.db"), b"someone's data").expect("write");
    let (ok, err) = restore(&backup, &used).await;
    assert!(!ok && err.contains(&format!("the restore target {} is not empty", used.display())), "{err}");
    assert_eq!(std::fs::read(used.join("ledger.db")).expect("kept"), b"someone's data", "nothing touched");
    assert_eq!(std::fs::read_dir(&used).expect("dir").count(), 1);

    // The intact backup restores (the damage above was the only reason for each refusal).
    let (ok, err) = restore(&backup, &work.path().join("fresh")).await;
    assert!(ok, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_log_backed_up_under_load_restores_into_a_sqlite_data_directory() {
    let pg = siteledger_testkit::shared_postgres();
    let url = pg.create_unique_database("backup").expect("database");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        store_url: Some(url.clone()),
        log_origin: "cli-test.siteledger.example/log".into(),
        checkpoint_interval_ms: 50,
        demo: true,
        ..Config::default()
    };
    let server = siteledger_api::server::spawn(config).await.expect("server starts on PostgreSQL");
    let mut demo = siteledger_demo::Demo::setup(
        server.state.clone(),
        server.addr,
        server.shutdown_signal(),
        siteledger_demo::DemoConfig::default(),
    )
    .await
    .expect("the demo city is set up");
    let ledger = server.state.ledger.clone();
    ledger.checkpoint_now().await.expect("checkpoint");
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                demo.tick().await.expect("the writer's tick");
            }
            demo
        })
    };
    let start = ledger.head();
    let mut head = ledger.watch_head();
    let grew = tokio::time::timeout(PATIENCE, head.wait_for(|h| *h >= start + 42)).await.map(|r| r.is_ok());
    assert_eq!(grew, Ok(true), "the writers did not post");

    // An attachment kept in PostgreSQL (`blob_content`, the default beside a PostgreSQL log).
    let pdf = b"%PDF-1.4\n% a lab report kept in PostgreSQL\n".to_vec();
    let (stored, _) = server.state.blobs.put(&NewBlob::new(&pdf, None, "lab-token")).await.expect("blob stored");

    let work = tempfile::tempdir().expect("tempdir");
    let backup = work.path().join("backup");
    let before = ledger.head();
    success(
        "backup of a PostgreSQL log beside writing clients",
        &siteledger(dir.path(), &["backup", "--store-url", &url, "--out", path(&backup)]).await,
    );
    let m = manifest(&backup);
    assert_eq!(m["source_store"], "postgres");
    let listed = |p: &str| m["files"].as_array().expect("files").iter().any(|f| f["path"] == p);
    let blob_path = format!("blobs/{}/{}/{}", &stored.sha256[0..2], &stored.sha256[2..4], stored.sha256);
    assert!(listed("blobs.db") && listed(&blob_path), "the PostgreSQL attachment is in the backup: {m}");
    let size = m["log"]["tree_size"].as_u64().expect("tree size");
    assert!(size >= before, "{size} < {before}");
    stop.store(true, Ordering::Relaxed);
    let demo = writer.await.expect("the writers end cleanly");
    let live_checkpoint = ledger.checkpoint_now().await.expect("checkpoint");

    let restored = work.path().join("restored");
    success("restore", &siteledger(&restored, &["restore", "--from", path(&backup)]).await);
    let config = Config {
        data_dir: restored.clone(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        log_origin: "cli-test.siteledger.example/log".into(),
        demo: true,
        ..Config::default()
    };
    let again = siteledger_api::server::spawn(config).await.expect("the restored data directory serves");
    let restored_ledger = again.state.ledger.clone();
    assert_eq!(again.state.blobs.read(&stored.sha256).await.expect("read"), Some(pdf), "the attachment restored");
    assert!(again.state.blobs.uploaded_by(&stored.sha256, "lab-token").await.expect("uploader"));
    assert_eq!(restored_ledger.head(), size);
    let ours = restored_ledger.read_all(0, size as usize).await.expect("restored records");
    let theirs = ledger.read_all(0, size as usize).await.expect("live records");
    assert_eq!(ours.len() as u64, size);
    for (a, b) in ours.iter().zip(&theirs) {
        assert_eq!((a.position, &a.leaf), (b.position, &b.leaf), "record {} differs", a.position);
    }
    let restored_checkpoint = restored_ledger.checkpoint_now().await.expect("checkpoint");
    let proof = ledger.consistency_proof(size, live_checkpoint.size).await.expect("proof");
    verify_consistency(size, live_checkpoint.size, &proof, &restored_checkpoint.root, &live_checkpoint.root)
        .expect("the restored checkpoint is consistent with the live server's later one");
    drop(demo);
    again.shutdown().await;
    server.shutdown().await;
}
