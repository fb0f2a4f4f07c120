//! Folds under load, counted rather than timed: a device bursting thousands of readings into one window must cost
//! each record a bounded number of rows read (issue 16), and the read models catch up with a log of many devices
//! and one bursty one.
//!
//! `SITELEDGER_CATCH_UP_RECORDS` sets the size of the catch-up log. The default, 8,000 records (the burst of 5,000
//! and 3,000 from 100 other monitors), is sized for the debug suite on two shared cores (about 15 s of CPU:
//! signing, ingest and folding; 1–4 minutes of wall time while other builds share the cores). Issue 16's CI size,
//! 200,000, runs in `scripts/test.sh` (step `load`) in the `ci-load` profile (release without debug info):
//! `SITELEDGER_CATCH_UP_RECORDS=200000 cargo test --profile ci-load -p siteledger-projections --test projections
//! -- --exact load::read_models_catch_up_with_many_devices_and_a_bursty_one_reading_boundedly`. At that size it also
//! checks the rating fold snapshots the runtime took by itself.

use std::time::Duration;

use serde_json::json;
use siteledger_client::KeyedChain;
use siteledger_ledger::Ledger;
use siteledger_ledger::sqlite::SqliteStore;
use siteledger_ledger::system::KEY_ENROLLED_KIND;
use siteledger_projections::rating::prefix::{EAGER_SNAPSHOT_EVERY, EagerFolds, LogPrefix, take_fold_snapshots};
use siteledger_projections::{ReadDb, Scope, apply_events, eager_gap, run};
use siteledger_signer::{Envelope, SigningKey};
use time::macros::datetime;

use super::{E1, TestClock, accepted, all_events, enrollment, rooted_ledger_at, sign, sqlite_db};

const PID: &str = "NB-LOAD-0001";
/// The bursty device's readings: all in one PM window (60 min) and one noise window (20 min).
const BURST: usize = 5_000;
/// Rows a dust reading may read from the read database while it is folded, on average over a batch, in every
/// projection together: its window sums (one row per metric), and its share of what a batch reads once
/// (checkpoints, policies, the project's district). Before issue 16 the site fold re-read every earlier reading of
/// the window for each new one: about 3 × (readings already in the window) rows per reading.
const ROWS_PER_RECORD: u64 = 8;

/// A ledger (its clock at 23:59 on 1 March, so a day of readings from 10:00 is past) with one project in 鄞州 and `gateways` gateway keys enrolled for it; returns
/// the ledger, the gateways' chains and the directory to keep alive.
async fn load_ledger(gateways: usize) -> (Ledger<SqliteStore>, Vec<KeyedChain>, tempfile::TempDir) {
    let reg = "2026-02-01T09:00:00+08:00";
    let clock = TestClock::at(datetime!(2026-03-01 23:59:00 +08:00));
    let (l, mut city, dir) = rooted_ledger_at(reg, &clock).await;
    let mut batch = vec![sign(
        &mut city,
        "registry/enterprises",
        "registry.enterprise.registered.v1",
        reg,
        json!({"credit_code": E1, "name": "宁波建工", "types": ["construction"]}),
    )];
    batch.push(sign(
        &mut city,
        "registry/projects",
        "registry.project.registered.v1",
        reg,
        json!({"project_id": PID, "name": "压测项目", "district": "330212", "central_urban": true,
               "floor_area_m2": "12345.67", "contract_cost_fen": 1_250_000_000_i64, "start_date": "2026-01-15",
               "participants": [{"role": "general_contractor", "credit_code": E1}]}),
    ));
    let mut gws = Vec::new();
    for g in 0..gateways {
        let mut seed = [0x70; 32];
        seed[..8].copy_from_slice(&(g as u64).to_be_bytes());
        let gw = KeyedChain::new(SigningKey::from_seed(&seed));
        batch.push(sign(
            &mut city,
            "registry/keys",
            KEY_ENROLLED_KIND,
            reg,
            enrollment(gw.key().public(), &format!("project/{PID}/gateway/GW-{g:03}"), "gateway"),
        ));
        gws.push(gw);
    }
    accepted(&l.ingest(batch).await.expect("registry"));
    (l, gws, dir)
}

/// A dust/noise reading of `device` at 1 March 10:00 + `second` s.
fn dust(gw: &mut KeyedChain, device: &str, second: u64, pm10: &str) -> Envelope {
    let at = datetime!(2026-03-01 10:00:00 +08:00) + Duration::from_secs(second);
    let at = at.format(&time::format_description::well_known::Rfc3339).expect("time");
    sign(
        gw,
        &format!("project/{PID}/env/{device}"),
        "env.dust_noise.reading.v1",
        &at,
        json!({"project_id": PID, "device_id": device, "pm10_ug_m3": pm10, "pm25_ug_m3": "50.0",
               "noise_db_a": "60.0"}),
    )
}

/// The bursty device: `BURST` readings in the first 20 minutes after 10:00 (four to a second, seconds out of
/// order: reading `i` at second `i mod 1200`), PM10 alternating 100 and 220 (mean 160: a PM10 warning).
fn burst(gw: &mut KeyedChain) -> Vec<Envelope> {
    (0..BURST).map(|i| dust(gw, "BURST", (i % 1200) as u64, if i % 2 == 0 { "100" } else { "220" })).collect()
}

async fn ingest(l: &Ledger<SqliteStore>, envs: Vec<Envelope>) {
    let mut envs = envs.into_iter().peekable();
    while envs.peek().is_some() {
        accepted(&l.ingest(envs.by_ref().take(1000).collect()).await.expect("ingest"));
    }
}

/// The bursty device's window and alarm are what its 5,000 readings make, whatever order they came in.
async fn check_burst(db: &ReadDb) {
    let since = datetime!(2026-03-01 00:00:00 +08:00).unix_timestamp() * 1_000_000;
    let windows = db.site_series(&Scope::All, PID, Some("pm10"), since).await.expect("series");
    let w: Vec<_> = windows.iter().filter(|w| w.device_id == "BURST").collect();
    assert_eq!(w.len(), 1, "one PM10 window: {windows:?}");
    assert_eq!((w[0].readings, w[0].value.as_str(), w[0].band.as_str()), (BURST as i64, "160.0", "warning"));
    let alarms = db.site_alarms(&Scope::All, Some(PID), false, 100).await.expect("alarms");
    let a: Vec<_> = alarms.iter().filter(|a| a.device_id == "BURST").collect();
    assert_eq!(a.len(), 1, "{alarms:?}");
    assert_eq!((a[0].rule.as_str(), a[0].samples), ("env_pm10", BURST as i64));
    assert_eq!(serde_json::from_str::<Vec<String>>(&a[0].event_ids).expect("ids").len(), 50);
}

#[tokio::test]
async fn a_device_bursting_5000_readings_into_one_window_costs_each_record_a_bounded_number_of_rows() {
    let (ledger, mut gws, _dir) = load_ledger(1).await;
    let registry_head = ledger.head();
    ingest(&ledger, burst(&mut gws[0])).await;
    let (db, _db_dir) = sqlite_db().await;
    let events = all_events(&ledger).await;
    let (registry, readings) = events.split_at(usize::try_from(registry_head).expect("head"));
    apply_events(&db, registry).await.expect("registry");
    // Folded in batches of 250: every batch, the last ones of a window of thousands as much as the first ones,
    // reads a bounded number of rows per record.
    for (i, chunk) in readings.chunks(250).enumerate() {
        let before = db.fold_rows_read();
        apply_events(&db, chunk).await.expect("fold");
        let per_record = (db.fold_rows_read() - before) / chunk.len() as u64;
        assert!(per_record <= ROWS_PER_RECORD, "batch {i} of the burst read {per_record} rows per record");
    }
    check_burst(&db).await;
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runtime_leaves_a_rating_fold_snapshot_at_the_latest_checkpoint_without_any_request() {
    const EVERY: u64 = 200;
    let (ledger, mut gws, _dir) = load_ledger(1).await;
    let readings: Vec<_> =
        (0..600).map(|i| dust(&mut gws[0], "M-000", 10 * i, &format!("{}.5", 40 + i % 90))).collect();
    ingest(&ledger, readings).await;
    // The latest checkpoint covers the head: nothing is appended after it.
    let cp = ledger.checkpoint_now().await.expect("checkpoint");
    let head = ledger.head();
    assert_eq!(cp.size, head);
    let (db, _db_dir) = sqlite_db().await;
    db.set_fold_snapshot_every(EVERY);
    assert!(db.fold_snapshots(0, u64::MAX, 10).await.expect("snapshots").is_empty());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let follower = tokio::spawn(run(ledger.clone(), db.clone(), async move {
        let _ = stop_rx.await;
    }));
    let mut applied = db.watch_applied();
    tokio::time::timeout(Duration::from_secs(600), applied.wait_for(|&a| a >= head))
        .await
        .expect("the read models caught up before the hang guard")
        .expect("applied watch");
    let _ = stop_tx.send(());
    // Shutdown waits for a snapshot in progress.
    follower.await.expect("runtime task").expect("runtime");
    let stored = db.fold_snapshots(0, u64::MAX, 10).await.expect("snapshots");
    assert_eq!(stored.first().map(|m| m.tree_size), Some(cp.size), "{stored:?}");
    // The first computation at the checkpoint resumes from it and folds nothing, and equals the from-zero fold
    // byte for byte.
    let store = ledger.store();
    let resumed = LogPrefix::load_with(store, Some(&db), cp.size, None).await.expect("resumed");
    assert_eq!((resumed.resumed_from, resumed.folded), (cp.size, 0));
    let zero = LogPrefix::load(store, cp.size, None).await.expect("from zero");
    assert_eq!((zero.resumed_from, zero.folded), (0, cp.size));
    assert_eq!(resumed.state_bytes(), zero.state_bytes());
    db.close().await;
}

/// How many records the catch-up test ingests (`SITELEDGER_CATCH_UP_RECORDS`, default 8,000).
fn catch_up_records() -> usize {
    std::env::var("SITELEDGER_CATCH_UP_RECORDS").ok().and_then(|v| v.parse().ok()).unwrap_or(8_000).max(BURST + 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_models_catch_up_with_many_devices_and_a_bursty_one_reading_boundedly() {
    const DEVICES: usize = 100;
    let total = catch_up_records();
    let (ledger, gws, _dir) = load_ledger(DEVICES + 1).await;
    let registry_head = ledger.head();
    // Signed on blocking threads, one chain per gateway: readings every 10 s from 10:00 on each monitor.
    let per_device = (total - BURST).div_ceil(DEVICES);
    let mut tasks = Vec::new();
    for (g, mut gw) in gws.into_iter().enumerate() {
        tasks.push(tokio::task::spawn_blocking(move || {
            if g == DEVICES {
                return burst(&mut gw);
            }
            let device = format!("M-{g:03}");
            (0..per_device).map(|i| dust(&mut gw, &device, 10 * i as u64, &format!("{}.5", 40 + i % 90))).collect()
        }));
    }
    let mut signed = Vec::new();
    for t in tasks {
        signed.push(t.await.expect("signing"));
    }
    let (db, _db_dir) = sqlite_db().await;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let follower = tokio::spawn(run(ledger.clone(), db.clone(), async move {
        let _ = stop_rx.await;
    }));
    // Ingest device by device interleaved (one batch of every device in turn) while the projections follow.
    let mut streams: Vec<_> = signed.into_iter().map(Vec::into_iter).collect();
    loop {
        let mut round = Vec::new();
        for s in &mut streams {
            round.extend(s.by_ref().take(20));
        }
        if round.is_empty() {
            break;
        }
        ingest(&ledger, round).await;
    }
    let head = ledger.head();
    let folded = head - registry_head;
    // Waits for the condition; the timeout only turns a hang into a failure.
    let mut applied = db.watch_applied();
    tokio::time::timeout(Duration::from_secs(1800), applied.wait_for(|&a| a >= head))
        .await
        .expect("the read models caught up before the hang guard")
        .expect("applied watch");
    let _ = stop_tx.send(());
    follower.await.expect("runtime task").expect("runtime");
    assert_eq!(db.lag(ledger.head()), 0);
    let rows = db.fold_rows_read();
    assert!(
        rows <= ROWS_PER_RECORD * (folded + registry_head),
        "{rows} rows read for {folded} records: {} per record",
        rows / folded
    );
    check_burst(&db).await;
    // Meanwhile the runtime left rating fold snapshots as the log grew (every EAGER_SNAPSHOT_EVERY records, at the
    // latest checkpoint): a computation at the head resumes from the newest instead of folding the log, and gives
    // the bytes of a fold from record 0.
    if head >= 2 * EAGER_SNAPSHOT_EVERY {
        let stored = db.fold_snapshots(0, u64::MAX, 1).await.expect("snapshots");
        let newest = stored.first().map_or(0, |m| m.tree_size);
        assert!(newest >= EAGER_SNAPSHOT_EVERY, "no snapshot taken while {head} records were folded");
        let store = ledger.store();
        let resumed = LogPrefix::load_with(store, Some(&db), head, None).await.expect("resumed");
        assert_eq!((resumed.resumed_from, resumed.folded), (newest, head - newest));
        let zero = LogPrefix::load(store, head, None).await.expect("from zero");
        assert_eq!(resumed.state_bytes(), zero.state_bytes());
    }
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runtime_s_folds_are_carried_from_one_snapshot_to_the_next_and_equal_a_fold_from_zero() {
    let (ledger, mut gws, _dir) = load_ledger(1).await;
    let readings: Vec<_> =
        (0..400).map(|i| dust(&mut gws[0], "M-000", 10 * i, &format!("{}.5", 40 + i % 90))).collect();
    let (first, second) = readings.split_at(150);
    ingest(&ledger, first.to_vec()).await;
    let size1 = ledger.checkpoint_now().await.expect("checkpoint").size;
    ingest(&ledger, second.to_vec()).await;
    let size2 = ledger.checkpoint_now().await.expect("checkpoint").size;
    let (db, _db_dir) = sqlite_db().await;
    let store = ledger.store();
    let mut folds = EagerFolds::default();
    take_fold_snapshots(store, &db, size1, &mut folds).await.expect("first snapshot");
    assert_eq!(folds.size(), size1, "the fold is kept for the next snapshot");
    assert!(folds.state_bytes() > 0);
    // The stored snapshot at size1 is deleted: the second snapshot must continue the fold it carries, and still
    // equal a fold from record 0.
    db.delete_fold_snapshot(0, size1).await.expect("delete");
    take_fold_snapshots(store, &db, size2, &mut folds).await.expect("second snapshot");
    assert_eq!(folds.size(), size2);
    let stored = db.fold_snapshots(0, u64::MAX, 10).await.expect("snapshots");
    assert_eq!(stored.iter().map(|m| m.tree_size).collect::<Vec<_>>(), vec![size2], "{stored:?}");
    let resumed = LogPrefix::load_with(store, Some(&db), size2, None).await.expect("resumed");
    assert_eq!((resumed.resumed_from, resumed.folded), (size2, 0));
    let zero = LogPrefix::load(store, size2, None).await.expect("from zero");
    assert_eq!(resumed.state_bytes(), zero.state_bytes());
    // A size below the carried fold cannot continue it: it folds from the stored snapshots (here: record 0).
    take_fold_snapshots(store, &db, size1, &mut folds).await.expect("an older size");
    assert_eq!(folds.size(), size1);
    let again = LogPrefix::load_with(store, Some(&db), size1, None).await.expect("resumed at size1");
    assert_eq!(again.state_bytes(), LogPrefix::load(store, size1, None).await.expect("zero").state_bytes());
    db.close().await;
}

#[test]
fn a_large_rating_state_is_snapshotted_less_often() {
    assert_eq!(eager_gap(0, 10_000_000), 0, "0: the runtime takes none");
    assert_eq!(eager_gap(16_384, 0), 16_384);
    assert_eq!(eager_gap(16_384, 3_600_000), 16_384, "3.6 MB ÷ 256 = 14,062 < 16,384");
    assert_eq!(eager_gap(16_384, 50_000_000), 195_312, "50 MB written at most every 195,312 records");
}
