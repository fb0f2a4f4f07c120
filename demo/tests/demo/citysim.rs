//! The city simulator (`siteledger simulate city`, issue 16) for a small city against a real server on SQLite:
//! thirty projects, three simulated hours ending now, a monitor bursting 5,000 readings into one window and a
//! gateway whose clock runs ten minutes ahead of a server allowing five minutes of skew; at the end the annual
//! report, credit scores and a rating decision, from the server's fold snapshots and from record 0. Counted, not
//! timed: the only wall-clock bound is the simulator's own hang guard.

use std::collections::HashMap;

use siteledger_api::auth::Role;
use siteledger_api::config::Config;
use siteledger_demo::citysim::{CityArgs, Target, simulate};
use siteledger_ledger::EventStore;
use siteledger_signer::SigningKey;

/// Rows the read models may read per record folded, on average over the whole run (every projection, every
/// kind: the passages, the payrolls and the readings with their window sums). Before issue 16 the site fold
/// re-read every earlier reading of a window for each new one: the burst alone would cost about 3 × 5,000² / 2 ≈
/// 37 million rows, hundreds of rows per record of this run.
const ROWS_PER_RECORD: u64 = 12;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_city_with_a_bursty_monitor_and_a_fast_clock_is_logged_once_folded_boundedly_and_refused_only_beyond_the_skew()
 {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = SigningKey::generate().expect("key");
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        trust_roots: vec![root.public().to_base64()],
        max_clock_skew_secs: 300,
        ..Config::default()
    };
    let server = siteledger_api::server::spawn(config).await.expect("server");
    // The window ends now (the fast clock's records must be in the future), so its size follows the hour: at night
    // the cranes rest and the log stays below the runtime's default snapshot interval (16,384 records; this test
    // failed in the evening for want of a snapshot to resume from). A shorter interval makes it hold at any hour.
    server.state.read.set_fold_snapshot_every(4_096);
    let token = server.state.tokens.create("city simulation", Role::City, None, 1).await.expect("token");
    let args = CityArgs {
        projects: 30,
        sim_hours: 3.0,
        batch_secs: 60,
        concurrency: 8,
        burst: true,
        clock_fault: true,
        clock_offset_secs: 600,
        max_clock_skew_secs: 300,
        query_clients: 0,
        from_zero: true,
        // A hang guard, not a deadline: the run is counted, and nothing asserts how long it took.
        wall_secs: 900,
        ..CityArgs::default()
    };
    let target = Target { url: server.url(), token: token.secret, server_pid: None, in_process: true };
    let out = simulate(&target, root, &args, true).await.expect("simulation");

    // Refusals: exactly the fast clock's records dated beyond the server's clock plus the skew.
    let r = &out.refusals;
    assert_eq!((r.unexpected, r.missed), (0, 0), "{:?}", r.unexpected_examples);
    assert!(r.expected > 0, "the fast clock's last minutes are refused: {r:?}");
    assert_eq!(r.by_code.keys().collect::<Vec<_>>(), ["future_occurred_at"]);
    assert_eq!(r.by_code["future_occurred_at"], r.expected);
    assert_eq!(out.accepted + r.expected, out.posted, "every other record of the window is accepted");

    // Every accepted record is in the log once, at the position it was acknowledged with.
    let store = server.state.ledger.store();
    let mut seen: HashMap<String, Vec<u64>> = HashMap::new();
    let mut from = 0;
    loop {
        let page = store.read_all(from, 4096).await.expect("read");
        let Some(last) = page.last() else { break };
        from = last.position + 1;
        for e in page {
            seen.entry(e.event_id.to_string()).or_default().push(e.position);
        }
    }
    assert!(out.accepted_ids.len() as u64 >= out.accepted + out.setup.0);
    for (id, position) in &out.accepted_ids {
        assert_eq!(seen.get(id).map(Vec::as_slice), Some(&[*position][..]), "event {id}");
    }

    // The read models caught up (the simulator waited for lag 0) …
    assert!(out.drain_secs.is_some(), "the read models caught up");
    assert_eq!(out.samples.last().map(|s| s.lag), Some(0.0));
    // … reading a bounded number of rows per record, the burst of 5,000 readings in one window included.
    let log = server.state.ledger.head();
    let per_record = server.state.read.fold_rows_read() / log.max(1);
    assert!(out.kinds["env.dust_noise.reading.v1"] >= 5_000, "the burst was posted");
    assert!(per_record <= ROWS_PER_RECORD, "{per_record} rows read per record over {log} records");

    // The city bureau published the rating policy and credit rules; the annual report, the credit scores and a
    // rating decision at the final size resume from the fold snapshots the server took as the log grew, fold only
    // the records after them, and answer the same bytes as the auditor's fold from record 0.
    assert_eq!(out.folds_error, None);
    assert_eq!(out.folds.len(), 6, "{:?}", out.folds);
    for pair in out.folds.chunks(2) {
        let [resumed, zero] = pair else { unreachable!("pairs") };
        assert_eq!((resumed.at_size, resumed.from_zero, zero.from_zero), (log, false, true), "{pair:?}");
        assert_eq!((zero.resumed_from, zero.folded), (0, log), "from record 0 folds every record: {zero:?}");
        assert!(resumed.resumed_from > 0, "a snapshot was used: {resumed:?}");
        assert_eq!(resumed.resumed_from + resumed.folded, log, "{resumed:?}");
        assert_eq!(resumed.sha256, zero.sha256, "{} differs from its from-zero recomputation", resumed.what);
        assert!(resumed.bytes > 100, "{resumed:?}");
    }
    server.shutdown().await;
}
