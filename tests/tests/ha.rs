//! Issue 17 on a real Patroni cluster (`siteledger_testkit::cluster`): the short failover drill (the full one is
//! `scripts/ha-drill.sh`), and its negative control, which shows the checker finds lost records when the cluster
//! replicates asynchronously. The platform server runs in a child process: this test binary re-executed with
//! `--exact ha_server_child --ignored`.

use std::sync::atomic::Ordering;

use siteledger_e2e::ha::{
    ChildLauncher, DrillOptions, ServerProcess, Writers, check, read_log, register, run_drill, server_child_main,
};
use siteledger_signer::note::NoteVerifier;
use siteledger_testkit::cluster::{ClusterOptions, HaCluster};

fn launcher() -> ChildLauncher {
    ChildLauncher {
        program: std::env::current_exe().expect("current_exe"),
        args: ["--exact", "ha_server_child", "--ignored", "--nocapture"].map(String::from).to_vec(),
    }
}

/// Not a test: the platform server of the tests below, in its own process (does nothing without their settings).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "entered by the HA tests as their server child"]
async fn ha_server_child() {
    server_child_main().await.expect("server child");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn short_drill_loses_nothing_through_leader_kill_zombie_leader_and_server_kill() {
    // Four rounds: leader SIGKILL, leader SIGSTOP/SIGCONT, server SIGKILL, leader SIGKILL.
    let report = run_drill(launcher(), DrillOptions { rounds: 4, writers: 3 }).await.expect("the drill runs");
    eprintln!("{}", report.line());
    assert!(report.refused.is_empty(), "records refused: {:?}", report.refused);
    assert!(report.findings.clean(), "{}; lost positions {:?}", report.line(), report.findings.lost);
    assert_eq!(report.rounds, 4, "{}", report.line());
    assert!(report.failovers >= 3, "every leader fault must fail over: {}", report.line());
    assert!(report.acked > 0);
    assert!(report.line().starts_with("ha drill: ok rounds=4 failovers=3 "), "{}", report.line());
}

/// The negative control: with asynchronous replication and the leader's WAL senders stopped, writers still get
/// acknowledgements; Patroni promotes a standby that never received them when the leader dies, and the checker
/// names every such record by position. The drill can fail, and strict synchronous mode is what makes it pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn asynchronous_replication_loses_acknowledged_records_and_the_checker_names_their_positions() {
    let options = ClusterOptions { synchronous: false, maximum_lag_on_failover: 1 << 30, ..ClusterOptions::default() };
    let mut cluster =
        tokio::task::spawn_blocking(move || HaCluster::start(options)).await.expect("join").expect("cluster");
    let store = cluster.create_database("ledger").expect("database");
    let work = tempfile::tempdir().expect("tempdir");
    let dir = work.path().join("server");
    std::fs::create_dir_all(&dir).expect("dir");
    let tokens = siteledger_api::auth::TokenStore::open(&format!("sqlite:{}", dir.join("auth.db").display()))
        .await
        .expect("token store");
    let token = tokens.create("ha", siteledger_api::auth::Role::City, None, 1).await.expect("token").secret;
    let server = ServerProcess::start(launcher(), &dir, &store).await.expect("server");
    let vkey = reqwest::get(format!("{}/v1/log/key", server.url())).await.expect("key").text().await.expect("text");
    let verifier = NoteVerifier::parse(vkey.trim()).expect("log key");
    let chains = register(&server.url(), &token, 3).await.expect("registry");
    let writers = Writers::start(chains, vec![(server.url(), token.clone())]);
    writers.wait_for_more(0, 20).await.expect("writes are acknowledged");

    // On a loaded machine Patroni may have failed over once on its own: take the leader of a healthy cluster.
    tokio::task::block_in_place(|| cluster.wait_healthy()).expect("healthy before the pause");
    let leader = cluster.leader().expect("leader");
    let paused = cluster.pause_replication(leader).expect("pause WAL senders");
    let status = cluster.psql(leader, "postgres", "SELECT application_name, state FROM pg_stat_replication");
    assert_eq!(paused, 2, "both standbys must stream from node {leader}: {status:?}");
    let at_pause = writers.count();
    writers.wait_for_more(at_pause, 30).await.expect("acknowledged without replication");
    let unavailable = writers.max_unavailable_ms.load(Ordering::SeqCst);
    let acked = writers.stop().await;
    let after_pause: Vec<u64> = acked[at_pause..].iter().map(|a| a.position).collect();

    tokio::task::block_in_place(|| cluster.kill_node(leader)).expect("kill the leader");
    let new = tokio::task::block_in_place(|| cluster.wait_for_new_leader(leader)).expect("a standby is promoted");
    let log = read_log(&cluster, new).expect("the new leader's log");
    let findings = check(&log, &acked, &[], &[], &[], &verifier);
    eprintln!(
        "lost positions {:?} (acknowledged after the pause: {after_pause:?}); unavailable {unavailable} ms",
        findings.lost
    );
    assert!(!findings.lost.is_empty(), "the checker must find the records the promoted standby never received");
    // Everything acknowledged after the WAL senders stopped is lost (and a few acknowledged just before, which the
    // senders had not sent yet: asynchronous replication acknowledges before sending); every loss is named by the
    // position it was acknowledged at.
    assert!(
        after_pause.iter().all(|p| findings.lost.contains(p)),
        "every record acknowledged after replication stopped is lost: {:?} vs {after_pause:?}",
        findings.lost
    );
    let acked_positions: Vec<u64> = acked.iter().map(|a| a.position).collect();
    assert!(findings.lost.iter().all(|p| acked_positions.contains(p)), "{:?}", findings.lost);
    assert!(!findings.clean());
    drop(server);
    tokio::task::spawn_blocking(move || drop(cluster)).await.expect("teardown");
}

/// Two platform servers on one cluster: both take writes, their commits take turns on the PostgreSQL commit lock
/// (one sequences at a time; the loser catches up and decides again), and when one is killed the writers' resends
/// reach the other, which goes on sequencing: every acknowledged record once, positions dense, no fork.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_on_one_cluster_take_turns_and_the_survivor_sequences_after_the_other_is_killed() {
    let cluster = tokio::task::spawn_blocking(|| HaCluster::start(ClusterOptions::default()))
        .await
        .expect("join")
        .expect("cluster");
    let store = cluster.create_database("ledger").expect("database");
    let work = tempfile::tempdir().expect("tempdir");
    let (dir_a, dir_b) = (work.path().join("a"), work.path().join("b"));
    let mut tokens = Vec::new();
    for dir in [&dir_a, &dir_b] {
        std::fs::create_dir_all(dir).expect("dir");
        let store = siteledger_api::auth::TokenStore::open(&format!("sqlite:{}", dir.join("auth.db").display()))
            .await
            .expect("token store");
        tokens.push(store.create("ha", siteledger_api::auth::Role::City, None, 1).await.expect("token").secret);
    }
    let mut a = ServerProcess::start(launcher(), &dir_a, &store).await.expect("server a");
    // The second server signs with the same log and system keys: one log, two front doors.
    std::fs::create_dir_all(dir_b.join("keys")).expect("keys dir");
    for entry in std::fs::read_dir(dir_a.join("keys")).expect("keys") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), dir_b.join("keys").join(entry.file_name())).expect("copy key");
    }
    let b = ServerProcess::start(launcher(), &dir_b, &store).await.expect("server b");
    let vkey = reqwest::get(format!("{}/v1/log/key", b.url())).await.expect("key").text().await.expect("text");
    let verifier = NoteVerifier::parse(vkey.trim()).expect("log key");
    let chains = register(&a.url(), &tokens[0], 4).await.expect("registry");
    let writers = Writers::start(chains, vec![(a.url(), tokens[0].clone()), (b.url(), tokens[1].clone())]);
    writers.wait_for_more(0, 40).await.expect("both servers take writes");
    let checkpoint =
        reqwest::get(format!("{}/v1/log/checkpoint", b.url())).await.expect("cp").text().await.expect("cp");

    a.kill();
    if let Ok(mut t) = writers.targets.lock() {
        t.retain(|(u, _)| *u != a.url());
    }
    let before = writers.count();
    writers.wait_for_more(before, 40).await.expect("the survivor sequences");
    let acked = writers.stop().await;
    let leader = cluster.leader().expect("leader");
    let log = read_log(&cluster, leader).expect("log");
    let findings = check(&log, &acked, &[], &[], &[checkpoint], &verifier);
    assert!(findings.clean(), "{findings:?}");
    drop(b);
    tokio::task::spawn_blocking(move || drop(cluster)).await.expect("teardown");
}
