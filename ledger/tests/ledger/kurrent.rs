//! The KurrentDB adapter against a real server (feature `kurrentdb`).
//!
//! Every test here needs a KurrentDB server named by `KURRENTDB_URL` (e.g.
//! `kurrentdb://localhost:2113?tls=false`). Without it each test prints that it was skipped and returns: their
//! names all start with `requires_server_` so that a green run without a server is not mistaken for coverage.
//! Each test (and each contract backend) writes to its own fresh log stream, `siteledger-test-<uuid>`; the
//! streams are left on the server.
//!
//! Two groups: store-level cases on the [`EventStore`] port directly, and the shared ledger contract
//! (`crate::contract`) on a KurrentDB backend.

use siteledger_ledger::kurrent::KurrentStore;
use siteledger_ledger::{Commit, Direction, EventStore, StoreError, StoredCheckpoint, StoredEvent, StoredKey};
use siteledger_signer::merkle::{Hash, NodeId, leaf_hash, node_hash};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::common::Backend;

/// The server URL, or `None` after printing why the calling test is skipped.
fn server(test: &str) -> Option<String> {
    match std::env::var("KURRENTDB_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            println!(
                "SKIPPED {test}: no KurrentDB server is configured (set KURRENTDB_URL, e.g. \
                 kurrentdb://localhost:2113?tls=false); nothing was tested"
            );
            None
        }
    }
}

/// A fresh log stream on the configured server; every [`Backend::open`] connects to that same stream.
pub struct Kurrent {
    pub url: String,
    pub log_stream: String,
}

impl Kurrent {
    pub fn new(url: String) -> Kurrent {
        Kurrent { url, log_stream: format!("siteledger-test-{}", Uuid::now_v7()) }
    }
}

impl Backend for Kurrent {
    type Store = KurrentStore;
    async fn open(&self) -> KurrentStore {
        KurrentStore::connect_with_stream(&self.url, &self.log_stream).await.expect("connect to KurrentDB")
    }
    fn name(&self) -> &'static str {
        "kurrentdb"
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Fixtures for store-level cases (no sequencer: hand-made commits).

fn signer(n: u8) -> String {
    format!("{n:032x}")
}

fn event(position: u64, stream: &str, version: u64, signer_id: &str, seq: u64) -> StoredEvent {
    let leaf = format!(r#"{{"position":{position},"stream":"{stream}","v":{version}}}"#).into_bytes();
    StoredEvent {
        position,
        stream: stream.to_owned(),
        stream_version: version,
        event_id: Uuid::now_v7(),
        kind: "iot.dust.reading.v1".to_owned(),
        signer: signer_id.to_owned(),
        signer_seq: seq,
        occurred_at: "2026-03-01T08:00:00+08:00".to_owned(),
        recorded_at: OffsetDateTime::from_unix_timestamp_nanos(
            1_795_000_000_000_000_000 + i128::from(position) * 1_000,
        )
        .expect("valid time"),
        leaf_hash: leaf_hash(&leaf),
        leaf,
    }
}

fn key(n: u8, enrolled_at: u64) -> StoredKey {
    StoredKey {
        key_id: signer(n),
        public_key: vec![n; 32],
        alg: siteledger_signer::keys::KeyAlgorithm::Ed25519,
        sm2_id: None,
        subject: format!("gateway-{n}"),
        role: "gateway".to_owned(),
        valid_from: "2026-01-01T00:00:00+08:00".to_owned(),
        valid_until: Some("2030-01-01T00:00:00+08:00".to_owned()),
        enrolled_by: Uuid::now_v7(),
        enrolled_at,
        revoked_at: None,
    }
}

fn checkpoint(size: u64, root: Hash) -> StoredCheckpoint {
    StoredCheckpoint {
        size,
        root,
        note: format!("test.siteledger.example/log\n{size}\nroot\n\n— test sig\n"),
        created_at: OffsetDateTime::from_unix_timestamp(1_795_000_000 + size as i64).expect("valid time"),
    }
}

fn events_only(events: Vec<StoredEvent>) -> Commit {
    Commit { events, ..Commit::default() }
}

// ---------------------------------------------------------------------------------------------------------------
// Connection errors: these need no server and always run.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_connection_settings_are_database_errors_that_hide_credentials() {
    for url in ["kurrentdb://admin:s3cret@[::1", "kurrentdb://admin:s3cret@localhost:2113?nodePreference=bogus"] {
        match KurrentStore::connect(url).await {
            Err(StoreError::Database(msg)) => assert!(!msg.contains("s3cret"), "{msg}"),
            other => panic!("expected a database error for a bad connection string, got {other:?}"),
        }
    }
    let url = "kurrentdb://127.0.0.1:2113?tls=false";
    for stream in ["", "$all", "$et-siteledger"] {
        assert!(
            matches!(KurrentStore::connect_with_stream(url, stream).await, Err(StoreError::Database(_))),
            "{stream:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_server_is_a_database_error_not_a_hang_or_panic() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    // With and without TLS (the TLS path also installs the process-wide rustls provider).
    for query in
        ["?tls=false&maxDiscoverAttempts=2&discoveryInterval=50", "?maxDiscoverAttempts=2&discoveryInterval=50"]
    {
        let url = format!("kurrentdb://admin:s3cret@127.0.0.1:{port}{query}");
        let result = tokio::time::timeout(std::time::Duration::from_secs(30), KurrentStore::connect(&url))
            .await
            .expect("connect gives up within 30 s");
        match result {
            Err(StoreError::Database(msg)) => assert!(!msg.contains("s3cret"), "{msg}"),
            other => panic!("expected a database error, got {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Store-level cases.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requires_server_store_empty_head() {
    let Some(url) = server("kurrent::requires_server_store_empty_head") else {
        return;
    };
    let store = Kurrent::new(url).open().await;
    assert_eq!(store.head().await.expect("head"), 0);
    assert!(store.read_all(0, 10).await.expect("read_all").is_empty());
    assert!(store.read_stream("s", 0, Direction::Forward, 10).await.expect("read_stream").is_empty());
    assert!(store.read_stream("s", 5, Direction::Backward, 10).await.expect("read_stream").is_empty());
    assert_eq!(store.stream_head("s").await.expect("stream_head"), None);
    assert!(store.events_by_id(&[Uuid::now_v7()]).await.expect("events_by_id").is_empty());
    assert_eq!(store.signer_head(&signer(1)).await.expect("signer_head"), None);
    assert_eq!(store.signer_event(&signer(1), 0).await.expect("signer_event"), None);
    assert!(store.read_nodes(&[]).await.expect("read_nodes").is_empty());
    assert!(matches!(store.read_nodes(&[NodeId::new(0, 0)]).await, Err(StoreError::Corrupt(_))));
    assert_eq!(store.latest_checkpoint().await.expect("latest_checkpoint"), None);
    assert_eq!(store.checkpoint_at(0).await.expect("checkpoint_at"), None);
    assert!(store.checkpoints(0, 10).await.expect("checkpoints").is_empty());
    assert!(store.keys().await.expect("keys").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requires_server_store_commit_and_read_back() {
    let Some(url) = server("kurrent::requires_server_store_commit_and_read_back") else {
        return;
    };
    let backend = Kurrent::new(url);
    let store = backend.open().await;
    let (a, b) = (signer(1), signer(2));
    let first = vec![event(0, "s1", 0, &a, 0), event(1, "s2", 0, &a, 1), event(2, "s1", 1, &b, 0)];
    store.commit(0, &events_only(first.clone())).await.expect("first commit");
    let second = vec![event(3, "s1", 2, &a, 2), event(4, "s2", 1, &b, 1)];
    store.commit(3, &events_only(second.clone())).await.expect("second commit");
    let all: Vec<StoredEvent> = first.iter().chain(&second).cloned().collect();

    // A second connection replays the log from KurrentDB: it must read exactly what the first one does.
    let reopened = backend.open().await;
    for s in [&store, &reopened] {
        assert_eq!(s.head().await.expect("head"), 5);
        assert_eq!(s.read_all(0, 100).await.expect("read_all"), all);
        assert_eq!(s.read_all(2, 2).await.expect("read_all"), all[2..4].to_vec());
        assert!(s.read_all(5, 10).await.expect("read_all").is_empty());
        assert!(s.read_all(0, 0).await.expect("read_all").is_empty());
        let fwd = s.read_stream("s1", 1, Direction::Forward, 10).await.expect("read_stream");
        assert_eq!(fwd.iter().map(|e| e.position).collect::<Vec<_>>(), vec![2, 3]);
        let back = s.read_stream("s1", 2, Direction::Backward, 2).await.expect("read_stream");
        assert_eq!(back.iter().map(|e| e.position).collect::<Vec<_>>(), vec![3, 2]);
        assert!(s.read_stream("nope", 0, Direction::Forward, 10).await.expect("read_stream").is_empty());
        assert_eq!(s.stream_head("s1").await.expect("stream_head"), Some(2));
        assert_eq!(s.stream_head("s2").await.expect("stream_head"), Some(1));
        let mut by_id = s
            .events_by_id(&[all[4].event_id, Uuid::now_v7(), all[1].event_id, all[4].event_id])
            .await
            .expect("events_by_id");
        by_id.sort_by_key(|e| e.position);
        assert_eq!(by_id, vec![all[1].clone(), all[4].clone()]);
        assert_eq!(s.signer_head(&a).await.expect("signer_head"), Some(all[3].clone()));
        assert_eq!(s.signer_event(&b, 1).await.expect("signer_event"), Some(all[4].clone()));
        assert_eq!(s.signer_event(&b, 2).await.expect("signer_event"), None);
    }
    // The first connection sees commits made through the second one.
    reopened.commit(5, &events_only(vec![event(5, "s2", 2, &b, 2)])).await.expect("third commit");
    assert_eq!(store.head().await.expect("head"), 6);
    assert_eq!(store.stream_head("s2").await.expect("stream_head"), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requires_server_store_head_moved_and_conflicts() {
    let Some(url) = server("kurrent::requires_server_store_head_moved_and_conflicts") else {
        return;
    };
    let backend = Kurrent::new(url);
    // Two writers that both start from the empty log.
    let one = backend.open().await;
    let two = backend.open().await;
    let a = signer(1);
    let c1 = events_only(vec![event(0, "s", 0, &a, 0), event(1, "s", 1, &a, 1)]);
    one.commit(0, &c1).await.expect("first writer");

    let rival = events_only(vec![event(0, "t", 0, &signer(2), 0)]);
    match two.commit(0, &rival).await {
        Err(StoreError::HeadMoved { expected: 0, found: 2 }) => {}
        other => panic!("expected HeadMoved {{ 0, 2 }}, got {other:?}"),
    }
    match one.commit(7, &events_only(vec![event(7, "s", 2, &a, 2)])).await {
        Err(StoreError::HeadMoved { expected: 7, found: 2 }) => {}
        other => panic!("expected HeadMoved {{ 7, 2 }}, got {other:?}"),
    }
    // Retrying the identical commit (a lost acknowledgement) is not written twice.
    two.commit(0, &c1).await.expect("identical retry is acknowledged");
    one.commit(0, &c1).await.expect("identical retry is acknowledged");
    assert_eq!(two.head().await.expect("head"), 2);
    assert_eq!(one.read_all(0, 10).await.expect("read_all"), c1.events);

    // Uniqueness rules refuse the commit and write nothing.
    let mut dup_id = event(2, "s", 2, &a, 2);
    dup_id.event_id = c1.events[0].event_id;
    assert!(matches!(one.commit(2, &events_only(vec![dup_id])).await, Err(StoreError::Conflict(_))));
    let dup_version = event(2, "s", 1, &signer(3), 0);
    assert!(matches!(two.commit(2, &events_only(vec![dup_version])).await, Err(StoreError::Conflict(_))));
    let dup_seq = event(2, "u", 0, &a, 1);
    assert!(matches!(one.commit(2, &events_only(vec![dup_seq])).await, Err(StoreError::Conflict(_))));
    let gap = event(3, "u", 0, &a, 2);
    assert!(matches!(one.commit(2, &events_only(vec![gap])).await, Err(StoreError::Conflict(_))));
    assert_eq!(one.head().await.expect("head"), 2);
    assert_eq!(backend.open().await.head().await.expect("head"), 2);

    // An over-large commit is refused before it is sent.
    let small = backend.open().await.with_max_append_bytes(1024);
    let mut big = event(2, "s", 2, &a, 2);
    big.leaf = vec![b'x'; 4096];
    big.leaf_hash = leaf_hash(&big.leaf);
    assert!(matches!(small.commit(2, &events_only(vec![big])).await, Err(StoreError::Database(_))));
    assert_eq!(small.head().await.expect("head"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requires_server_store_read_nodes() {
    let Some(url) = server("kurrent::requires_server_store_read_nodes") else {
        return;
    };
    let backend = Kurrent::new(url);
    let store = backend.open().await;
    let a = signer(1);
    let events: Vec<StoredEvent> = (0..4).map(|i| event(i, "s", i, &a, i)).collect();
    let h = |i: usize| events[i].leaf_hash;
    let (n10, n11) = (node_hash(&h(0), &h(1)), node_hash(&h(2), &h(3)));
    let n20 = node_hash(&n10, &n11);
    store
        .commit(0, &Commit { events: events[..2].to_vec(), nodes: vec![(NodeId::new(1, 0), n10)], ..Commit::default() })
        .await
        .expect("commit 0..2");
    store
        .commit(
            2,
            &Commit {
                events: events[2..].to_vec(),
                nodes: vec![(NodeId::new(1, 1), n11), (NodeId::new(2, 0), n20)],
                ..Commit::default()
            },
        )
        .await
        .expect("commit 2..4");
    let ids = [NodeId::new(2, 0), NodeId::new(0, 3), NodeId::new(1, 0), NodeId::new(0, 0), NodeId::new(1, 1)];
    for s in [&store, &backend.open().await] {
        assert_eq!(s.read_nodes(&ids).await.expect("read_nodes"), vec![n20, h(3), n10, h(0), n11]);
        assert!(matches!(s.read_nodes(&[NodeId::new(1, 2)]).await, Err(StoreError::Corrupt(_))));
        assert!(matches!(s.read_nodes(&[NodeId::new(0, 4)]).await, Err(StoreError::Corrupt(_))));
    }
    // A node already stored, or a level-0 node, is refused.
    let next = event(4, "s", 4, &a, 4);
    let again = Commit { events: vec![next.clone()], nodes: vec![(NodeId::new(1, 0), n10)], ..Commit::default() };
    assert!(matches!(store.commit(4, &again).await, Err(StoreError::Conflict(_))));
    let leaf_node = Commit { events: vec![next], nodes: vec![(NodeId::new(0, 4), [0; 32])], ..Commit::default() };
    assert!(matches!(store.commit(4, &leaf_node).await, Err(StoreError::Conflict(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requires_server_store_checkpoints() {
    let Some(url) = server("kurrent::requires_server_store_checkpoints") else {
        return;
    };
    let backend = Kurrent::new(url);
    let store = backend.open().await;
    let a = signer(1);
    let cp2 = checkpoint(2, [2; 32]);
    let cp4 = checkpoint(4, [4; 32]);
    store
        .commit(
            0,
            &Commit {
                events: vec![event(0, "s", 0, &a, 0), event(1, "s", 1, &a, 1)],
                checkpoint: Some(cp2.clone()),
                ..Commit::default()
            },
        )
        .await
        .expect("commit with checkpoint");
    store.commit(2, &events_only(vec![event(2, "s", 2, &a, 2), event(3, "s", 3, &a, 3)])).await.expect("commit");
    // A checkpoint-only commit: the log stream grows, the head does not.
    store.commit(4, &Commit { checkpoint: Some(cp4.clone()), ..Commit::default() }).await.expect("checkpoint only");
    for s in [&store, &backend.open().await] {
        assert_eq!(s.head().await.expect("head"), 4);
        assert_eq!(s.latest_checkpoint().await.expect("latest"), Some(cp4.clone()));
        assert_eq!(s.checkpoint_at(2).await.expect("at 2"), Some(cp2.clone()));
        assert_eq!(s.checkpoint_at(3).await.expect("at 3"), None);
        assert_eq!(s.checkpoints(0, 10).await.expect("all"), vec![cp2.clone(), cp4.clone()]);
        assert_eq!(s.checkpoints(3, 10).await.expect("from 3"), vec![cp4.clone()]);
        assert_eq!(s.checkpoints(0, 1).await.expect("first"), vec![cp2.clone()]);
        assert!(s.checkpoints(5, 10).await.expect("none").is_empty());
    }
    let again = Commit { checkpoint: Some(checkpoint(4, [9; 32])), ..Commit::default() };
    assert!(matches!(store.commit(4, &again).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.checkpoint_at(4).await.expect("at 4"), Some(cp4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requires_server_store_keys() {
    let Some(url) = server("kurrent::requires_server_store_keys") else {
        return;
    };
    let backend = Kurrent::new(url);
    let store = backend.open().await;
    let city = signer(9);
    let (k1, k2) = (key(1, 0), key(2, 1));
    store
        .commit(
            0,
            &Commit {
                events: vec![event(0, "registry/keys", 0, &city, 0), event(1, "registry/keys", 1, &city, 1)],
                new_keys: vec![k1.clone(), k2.clone()],
                ..Commit::default()
            },
        )
        .await
        .expect("enrol");
    store
        .commit(
            2,
            &Commit {
                events: vec![event(2, "registry/keys", 2, &city, 2)],
                revocations: vec![(k1.key_id.clone(), "2026-06-01T00:00:00+08:00".to_owned())],
                ..Commit::default()
            },
        )
        .await
        .expect("revoke");
    let revoked = StoredKey { revoked_at: Some("2026-06-01T00:00:00+08:00".to_owned()), ..k1.clone() };
    for s in [&store, &backend.open().await] {
        assert_eq!(s.keys().await.expect("keys"), vec![revoked.clone(), k2.clone()]);
    }
    let unknown = Commit {
        events: vec![event(3, "registry/keys", 3, &city, 3)],
        revocations: vec![(signer(7), "2026-06-01T00:00:00+08:00".to_owned())],
        ..Commit::default()
    };
    assert!(matches!(store.commit(3, &unknown).await, Err(StoreError::Conflict(_))));
    let enrolled_twice =
        Commit { events: vec![event(3, "registry/keys", 3, &city, 3)], new_keys: vec![key(2, 3)], ..Commit::default() };
    assert!(matches!(store.commit(3, &enrolled_twice).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.head().await.expect("head"), 3);
}

// ---------------------------------------------------------------------------------------------------------------
// The shared ledger contract on KurrentDB (the same cases `contract_suite!` runs on SQLite and PostgreSQL).

macro_rules! kurrent_contract {
    ($($test:ident => $case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                let Some(url) = server(concat!("kurrent::", stringify!($test))) else { return };
                crate::contract::$case(Kurrent::new(url)).await
            }
        )*
    };
}

kurrent_contract! {
    requires_server_contract_append_expected_version => append_checks_the_expected_version,
    requires_server_contract_idempotent_reappend => reappending_the_same_ids_is_idempotent,
    requires_server_contract_reads => reads_streams_both_ways_and_all_from_a_position,
    requires_server_contract_catch_up_subscription => catch_up_subscription_goes_live_without_gaps_or_duplicates,
    requires_server_contract_concurrent_writers_ordering => concurrent_writers_get_dense_positions_seen_in_order,
    requires_server_contract_two_sequencers_one_database => two_ledgers_on_one_database_serialise,
    requires_server_contract_pipelined_groups => groups_decided_during_a_commit_see_it_and_survive_another_writer,
    requires_server_contract_ingest_rules => ingest_rules_name_what_is_wrong_and_keep_the_good_records,
    requires_server_contract_signer_chains => signer_chains_expose_gaps_and_equivocation,
    requires_server_contract_revocation => revoked_keys_cannot_sign_after_revocation,
    requires_server_contract_proofs_across_restarts => proofs_and_checkpoints_hold_across_restarts,
    requires_server_contract_checkpoint_time_policy => time_policy_signs_a_checkpoint_without_being_asked,
    requires_server_contract_evidence_bundles => evidence_bundles_from_the_ledger_verify_offline,
}

// The hostile-client cases of issue 12 (the same cases `hostile_suite!` runs on SQLite and PostgreSQL).

macro_rules! kurrent_hostile {
    ($($test:ident => $case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                let Some(url) = server(concat!("kurrent::", stringify!($test))) else { return };
                crate::hostile::$case(Kurrent::new(url)).await
            }
        )*
    };
}

kurrent_hostile! {
    requires_server_hostile_ledger_note => a_ledger_note_carrying_an_id_number_is_refused,
    requires_server_hostile_gap_by_gateway => a_gap_record_signed_by_a_gateway_is_refused,
    requires_server_hostile_year_9999 => a_year_9999_record_is_refused,
    requires_server_hostile_clock_skew => the_allowed_clock_skew_is_configurable,
    requires_server_hostile_equivocation_spam => reposting_an_equivocation_a_hundred_times_records_one_piece_of_evidence,
}
