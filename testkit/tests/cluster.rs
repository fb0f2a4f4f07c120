//! The HA cluster of `siteledger_testkit::cluster`: it starts with a leader and two streaming standbys, a killed
//! leader is replaced through HAProxy and rejoins as a standby, a frozen leader is replaced and steps down when it
//! resumes, and nothing of it outlives the cluster value.

use std::path::Path;

use siteledger_testkit::cluster::{ClusterOptions, HaCluster};

fn process_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rfind(") ").and_then(|i| s[i + 2..].chars().next()))
        .is_some_and(|state| state != 'Z' && state != 'X')
}

/// PIDs of processes whose command line mentions `needle` (our cluster's directory).
fn processes_mentioning(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        // The watchdog names the directory too; it stays until this process exits, by design.
        if cmdline.contains(needle) && !cmdline.contains("siteledger-ha-watchdog") && process_alive(pid) {
            out.push(pid);
        }
    }
    out
}

#[test]
fn a_killed_or_frozen_leader_is_replaced_and_rejoins_and_nothing_outlives_the_cluster() {
    let mut cluster = HaCluster::start(ClusterOptions::default()).expect("cluster starts");
    let root = cluster.root_dir().to_path_buf();
    let url = cluster.create_database("probe").expect("create database through HAProxy");
    assert!(url.starts_with("postgres://postgres@127.0.0.1:"), "{url}");
    let first = cluster.leader().expect("a leader");
    cluster.psql(first, "probe", "CREATE TABLE t (x int); INSERT INTO t VALUES (1)").expect("write on the leader");

    // A lost machine: another node leads, the committed row is there (synchronous standby), the old node rejoins.
    cluster.kill_node(first).expect("kill the leader");
    let second = cluster.wait_for_new_leader(first).expect("failover");
    assert_ne!(second, first);
    assert_eq!(cluster.psql(second, "probe", "SELECT count(*) FROM t").expect("read").trim(), "1");
    cluster.start_node(first).expect("restart the old leader");
    cluster.wait_healthy().expect("the old leader rejoins as a standby");
    assert_ne!(cluster.leader(), Some(first), "the restarted node must not lead again by itself");

    // A zombie: the frozen leader is replaced; once resumed it is a standby and the cluster is whole again.
    cluster.freeze_node(second);
    let third = cluster.wait_for_new_leader(second).expect("failover from a frozen leader");
    cluster.thaw_node(second);
    cluster.wait_healthy().expect("the thawed old leader steps down and streams");
    assert_eq!(cluster.leader(), Some(third));
    assert_eq!(cluster.psql(third, "probe", "SELECT count(*) FROM t").expect("read").trim(), "1");

    let before = processes_mentioning(&root.to_string_lossy());
    assert!(!before.is_empty(), "the cluster's processes name its directory");
    drop(cluster);
    let left: Vec<u32> = processes_mentioning(&root.to_string_lossy());
    assert!(left.is_empty(), "processes outlived the cluster: {left:?}");
    assert!(!Path::new(&root).exists(), "the cluster directory is deleted");
}
