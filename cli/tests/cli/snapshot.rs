//! `siteledger ledger verify-snapshot`: the from-zero replay an operator or auditor asks for, compared byte for byte
//! with the admission-state snapshot the server stored (issue 16), on a real server's data directory.

use siteledger_api::config::Config;
use siteledger_demo::{Demo, DemoConfig};
use siteledger_domain::DomainState;
use siteledger_ledger::EventStore;
use siteledger_ledger::sqlite::SqliteStore;

use crate::helpers::siteledger;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_snapshot_replays_from_zero_and_names_a_snapshot_that_differs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        log_origin: "cli-test.siteledger.example/log".into(),
        checkpoint_interval_ms: 50,
        snapshot_every: 64,
        demo: true,
        ..Config::default()
    };
    let server = siteledger_api::server::spawn(config).await.expect("server starts");
    let demo = Demo::setup(server.state.clone(), server.addr, server.shutdown_signal(), DemoConfig::default())
        .await
        .expect("the demo city is set up");
    assert!(demo.failures().is_empty(), "{:?}", demo.failures());
    server.state.ledger.checkpoint_now().await.expect("checkpoint");
    assert!(server.state.ledger.stats().snapshots > 0, "{:?}", server.state.ledger.stats());
    drop(demo);
    server.shutdown().await;

    let out = siteledger(dir.path(), &["ledger", "verify-snapshot"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let hash = |label: &str| {
        stdout.lines().find_map(|l| l.strip_prefix(label)).map(|h| h.trim().split(' ').next().unwrap_or("").to_owned())
    };
    let (stored, replayed) = (hash("stored bytes SHA-256:"), hash("from-zero replay SHA-256:"));
    assert!(stored.as_ref().is_some_and(|h| h.len() == 64), "{stdout}");
    assert_eq!(stored, replayed, "{stdout}");
    assert!(stdout.contains("equal: the snapshot is byte for byte the replay from zero"), "{stdout}");

    // Someone who can write the database replaces the state, keeping the root and a matching SHA-256: the
    // server's checks at start-up cannot see it, the from-zero replay does.
    let store = SqliteStore::open(&dir.path().join("ledger.db")).await.expect("store");
    let mut newest = store.snapshots(1).await.expect("snapshots").remove(0);
    newest.state = DomainState::new().to_snapshot().expect("empty state");
    newest.sha256 = siteledger_ledger::snapshot::sha256(&newest.state);
    assert!(store.put_snapshot(&newest, 3).await.expect("replace"));
    drop(store);
    let out = siteledger(dir.path(), &["ledger", "verify-snapshot"]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(
        stderr.contains(&format!("the snapshot at tree size {} is NOT what a replay from zero gives", newest.size)),
        "{stderr}"
    );
}
