//! The raw period and the roll-ups (issue 16): the read models keep raw readings for `raw_retention_days` and
//! hourly/daily roll-ups for ever; the roll-ups of an incremental fold with retention passes equal those of a
//! rebuild from zero, the raw table holds only the raw period, and late readings land in the right buckets.

use std::time::Duration;

use serde_json::json;
use siteledger_client::KeyedChain;
use siteledger_ledger::Ledger;
use siteledger_ledger::sqlite::SqliteStore;
use siteledger_ledger::system::KEY_ENROLLED_KIND;
use siteledger_projections::site::{Resolution, WindowRow};
use siteledger_projections::{ReadDb, Scope, apply_events};
use siteledger_signer::{Envelope, SigningKey};
use time::OffsetDateTime;
use time::macros::datetime;

use super::{E1, TestClock, accepted, all_events, enrollment, rooted_ledger_at, sign, sqlite_db};

const PID: &str = "NB-ROLL-0001";
const DEVICES: usize = 3;
/// Readings every 30 minutes for 50 days from 10 January.
const START: OffsetDateTime = datetime!(2026-01-10 00:00:00 +08:00);
const DAYS: i64 = 50;
const STEP_MIN: i64 = 30;
/// The day device M-000's gateway was offline: its readings arrive after everything else.
const OFFLINE_DAY: i64 = 41;
const RETENTION_DAYS: u32 = 20;

fn us(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1000).expect("µs")
}

/// PM10 of reading `i` of a device: 40.5 … 229.5, so some windows are warnings and violations.
fn pm10(i: i64) -> f64 {
    40.5 + (i % 190) as f64
}

fn dust(gw: &mut KeyedChain, device: &str, at: OffsetDateTime, pm10: f64) -> Envelope {
    dust_noise(gw, device, at, pm10, "60.0")
}

fn dust_noise(gw: &mut KeyedChain, device: &str, at: OffsetDateTime, pm10: f64, noise: &str) -> Envelope {
    let at = at.format(&time::format_description::well_known::Rfc3339).expect("time");
    sign(
        gw,
        &format!("project/{PID}/env/{device}"),
        "env.dust_noise.reading.v1",
        &at,
        json!({"project_id": PID, "device_id": device, "pm10_ug_m3": format!("{pm10:.1}"), "pm25_ug_m3": "50.0",
               "noise_db_a": noise}),
    )
}

struct Log {
    ledger: Ledger<SqliteStore>,
    /// Position of the one reading older than the raw period (after the offline day's readings).
    old_at: u64,
    /// Every reading's time kept in the main stream and the offline day, µs.
    times: Vec<i64>,
    _dir: tempfile::TempDir,
}

/// A ledger with the project and `devices` gateway keys enrolled.
async fn registry(devices: usize) -> (Ledger<SqliteStore>, Vec<KeyedChain>, tempfile::TempDir) {
    let reg = "2026-01-05T09:00:00+08:00";
    let clock = TestClock::at(datetime!(2026-03-01 23:59:00 +08:00));
    let (ledger, mut city, dir) = rooted_ledger_at(reg, &clock).await;
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
        json!({"project_id": PID, "name": "留存项目", "district": "330212", "central_urban": true,
               "floor_area_m2": "12345.67", "contract_cost_fen": 1_250_000_000_i64, "start_date": "2026-01-05",
               "participants": [{"role": "general_contractor", "credit_code": E1}]}),
    ));
    let mut gws = Vec::new();
    for g in 0..devices {
        let mut seed = [0x71; 32];
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
    accepted(&ledger.ingest(batch).await.expect("registry"));
    (ledger, gws, dir)
}

async fn log() -> Log {
    let (ledger, mut gws, dir) = registry(DEVICES).await;
    let per_day = 24 * 60 / STEP_MIN;
    let mut main = Vec::new();
    let mut late = Vec::new();
    let mut times = Vec::new();
    for i in 0..DAYS * per_day {
        let at = START + Duration::from_secs(u64::try_from(i * STEP_MIN * 60).expect("secs"));
        for (g, gw) in gws.iter_mut().enumerate() {
            let e = dust(gw, &format!("M-{g:03}"), at, pm10(i));
            times.push(us(at));
            if g == 0 && i / per_day == OFFLINE_DAY {
                late.push(e);
            } else {
                main.push(e);
            }
        }
    }
    // Signed in time order, sent later: the offline day's records keep their chain numbers after the gap closes.
    for chunk in main.chunks(1000) {
        accepted(&ledger.ingest(chunk.to_vec()).await.expect("readings"));
    }
    accepted(&ledger.ingest(late).await.expect("offline day"));
    let old_at = ledger.head();
    let old = dust(&mut gws[1], "M-001", datetime!(2026-01-12 03:10:00 +08:00), 12.5);
    accepted(&ledger.ingest(vec![old]).await.expect("old reading"));
    Log { ledger, old_at, times, _dir: dir }
}

async fn rollups(db: &ReadDb, r: Resolution) -> Vec<WindowRow> {
    db.site_rollups(&Scope::All, PID, None, r, (0, i64::MAX)).await.expect("roll-ups")
}

async fn count(db: &ReadDb, table: &str) -> u64 {
    db.site_row_counts().await.expect("counts").into_iter().find(|(t, _)| *t == table).expect("table").1
}

fn bucket<'a>(rows: &'a [WindowRow], device: &str, metric: &str, start: OffsetDateTime) -> &'a WindowRow {
    rows.iter()
        .find(|r| r.device_id == device && r.metric == metric && r.window_start_us == us(start))
        .unwrap_or_else(|| panic!("no {metric} bucket of {device} at {start}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollups_with_retention_equal_a_rebuild_and_late_readings_land_in_their_buckets() {
    let l = log().await;
    let events = all_events(&l.ledger).await;
    let (before_old, old) = events.split_at(usize::try_from(l.old_at).expect("pos"));

    // Incremental, with a retention pass after every batch (as the runtime runs it between batches).
    let (inc, _inc_dir) = sqlite_db().await;
    inc.set_raw_retention_days(RETENTION_DAYS);
    for chunk in before_old.chunks(500) {
        apply_events(&inc, chunk).await.expect("fold");
        inc.prune_site_raw().await.expect("prune");
    }
    let raw_from = inc.site_raw_from().await.expect("raw from").expect("a raw period");
    let horizon = *l.times.iter().max().expect("times");
    assert_eq!(raw_from, horizon - i64::from(RETENTION_DAYS) * 86_400_000_000);
    // The raw table holds the raw period only: three metrics of every reading from raw_from on.
    let kept = l.times.iter().filter(|&&t| t >= raw_from).count() as u64;
    assert_eq!(count(&inc, "site_readings").await, 3 * kept);
    assert!(kept < l.times.len() as u64 / 2, "most readings are older than the raw period");

    // The gateway back after a day offline: its day's readings are in their hour and day rows.
    let hours = rollups(&inc, Resolution::Hour).await;
    let day0 = START + Duration::from_secs(86_400 * u64::try_from(OFFLINE_DAY).expect("day"));
    let ten = day0 + Duration::from_secs(10 * 3600);
    let h = bucket(&hours, "M-000", "pm10", ten);
    let i = OFFLINE_DAY * 48 + 20;
    assert_eq!(h.readings, 2);
    assert_eq!(h.value, format!("{:.1}", (pm10(i) + pm10(i + 1)) / 2.0));
    assert_eq!(h.min_value.as_deref(), Some(format!("{:.1}", pm10(i).min(pm10(i + 1))).as_str()));
    assert_eq!(h.resolution, "hour");
    let days = rollups(&inc, Resolution::Day).await;
    assert_eq!(bucket(&days, "M-000", "pm10", day0).readings, 48);
    let stats = |r: &WindowRow| (r.readings, r.value.clone(), r.min_value.clone(), r.max_value.clone(), r.exceed_min);
    // M-001 sent the same values that day, in time order.
    assert_eq!(stats(bucket(&days, "M-000", "pm10", day0)), stats(bucket(&days, "M-001", "pm10", day0)));

    // A reading older than the raw period: counted in its hour and day, not kept raw.
    let three = datetime!(2026-01-12 03:00:00 +08:00);
    let raw_before = count(&inc, "site_readings").await;
    let before = bucket(&hours, "M-001", "pm10", three).clone();
    apply_events(&inc, old).await.expect("old reading");
    inc.prune_site_raw().await.expect("prune");
    assert_eq!(count(&inc, "site_readings").await, raw_before, "not kept raw");
    let after_hours = rollups(&inc, Resolution::Hour).await;
    let after = bucket(&after_hours, "M-001", "pm10", three);
    assert_eq!((before.readings, after.readings), (2, 3));
    assert_eq!(after.min_value.as_deref(), Some("12.5"));

    // A rebuild from zero, then a retention pass: the same roll-ups row for row, the same tables' sizes.
    let (again, _again_dir) = sqlite_db().await;
    again.set_raw_retention_days(RETENTION_DAYS);
    for chunk in events.chunks(1000) {
        apply_events(&again, chunk).await.expect("rebuild");
    }
    again.prune_site_raw().await.expect("prune");
    assert_eq!(rollups(&again, Resolution::Hour).await, after_hours);
    assert_eq!(rollups(&again, Resolution::Day).await, rollups(&inc, Resolution::Day).await);
    assert_eq!(again.site_row_counts().await.expect("counts"), inc.site_row_counts().await.expect("counts"));
    assert!(after_hours.iter().any(|r| r.exceed_min.unwrap_or(0) > 0), "some hours hold violation minutes");

    // A series reaching before the raw period answers from hourly roll-ups there, from windows after.
    let series = inc.site_series(&Scope::All, PID, Some("pm10"), raw_from - 86_400_000_000).await.expect("series");
    assert!(series.iter().any(|r| r.resolution == "hour" && r.window_start_us < raw_from));
    assert!(series.iter().any(|r| r.resolution == "window" && r.window_start_us >= raw_from));
    assert!(series.iter().all(|r| (r.resolution == "hour") == (r.window_start_us < raw_from)));
    // The district's series and its chart's monitor series reach back the same way, in pages too.
    let since = raw_from - 86_400_000_000;
    let district =
        inc.site_district_series(&Scope::All, "330212", "pm10", since, None, 20_000).await.expect("district");
    assert_eq!(district, series, "the district has this one project");
    let first = inc.site_district_series(&Scope::All, "330212", "pm10", since, None, 5).await.expect("page");
    let last = &first[4];
    let after = Some((last.project_id.as_str(), last.device_id.as_str(), last.window_start_us));
    let rest = inc.site_district_series(&Scope::All, "330212", "pm10", since, after, 20_000).await.expect("rest");
    assert_eq!([&first[..5], &rest[..]].concat(), series, "the pages, joined, are the series");
    let (top, monitors) = inc.site_district_top_monitors(&Scope::All, "330212", "pm10", since, 12).await.expect("top");
    let devices: std::collections::BTreeSet<&str> = series.iter().map(|r| r.device_id.as_str()).collect();
    assert_eq!((top.len(), monitors), (devices.len(), devices.len()));
    for (project, device) in &top {
        let own = inc.site_monitor_series(&Scope::All, project, device, "pm10", since).await.expect("monitor");
        let of_series: Vec<_> = series.iter().filter(|r| &r.device_id == device).cloned().collect();
        assert!(own.iter().any(|r| r.resolution == "hour"), "{device} reaches into the roll-ups");
        assert_eq!(own, of_series);
    }
    inc.close().await;
    again.close().await;
}

/// BENCHMARKS.md "Read models: raw period and roll-ups": read-model bytes per reading with and without a raw period.
/// `SITELEDGER_ROLLUP_READINGS` readings (default 200,000) from 40 monitors every 12 minutes (about 42 days), folded
/// into a read database keeping everything and one keeping 14 days; sizes after a checkpoint and `VACUUM`
/// (`sqlite3` on the PATH). Run: `cargo test -p siteledger-projections --test projections --release -- --ignored
/// retention::read_model_bytes_per_reading --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement for BENCHMARKS.md"]
async fn read_model_bytes_per_reading_with_and_without_a_raw_period() {
    const MONITORS: usize = 40;
    let total: usize = std::env::var("SITELEDGER_ROLLUP_READINGS").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
    let (ledger, gws, _dir) = registry(MONITORS).await;
    let registry_head = ledger.head();
    let per = total.div_ceil(MONITORS);
    let mut tasks = Vec::new();
    for (g, mut gw) in gws.into_iter().enumerate() {
        tasks.push(tokio::task::spawn_blocking(move || {
            (0..per)
                .map(|i| {
                    let at = START + Duration::from_secs(12 * 60 * i as u64);
                    // Within the limits (PM10 40.5–129.5, 50 dB(A)), as most readings are: no alarm rows.
                    dust_noise(&mut gw, &format!("M-{g:03}"), at, 40.5 + (i % 90) as f64, "50.0")
                })
                .collect::<Vec<_>>()
        }));
    }
    let mut signed = Vec::new();
    for t in tasks {
        signed.push(t.await.expect("signing").into_iter());
    }
    loop {
        let mut round = Vec::new();
        for s in &mut signed {
            round.extend(s.by_ref().take(25));
        }
        if round.is_empty() {
            break;
        }
        accepted(&ledger.ingest(round).await.expect("ingest"));
    }
    let readings = ledger.head() - registry_head;
    for days in [0_u32, 14] {
        let (db, dir) = sqlite_db().await;
        db.set_raw_retention_days(days);
        let started = std::time::Instant::now();
        let mut from = 0;
        while from < ledger.head() {
            let chunk = ledger.read_all(from, 1000).await.expect("read");
            from = chunk.last().expect("records").position + 1;
            apply_events(&db, &chunk).await.expect("fold");
            db.prune_site_raw().await.expect("prune");
        }
        let fold_s = started.elapsed().as_secs_f64();
        let counts = db.site_row_counts().await.expect("counts");
        db.close().await;
        let path = dir.path().join("read.db");
        let vacuum = std::process::Command::new("sqlite3")
            .arg(&path)
            .arg("PRAGMA wal_checkpoint(TRUNCATE); VACUUM;")
            .output()
            .expect("sqlite3");
        assert!(vacuum.status.success(), "{vacuum:?}");
        let bytes = std::fs::metadata(&path).expect("size").len();
        // Bytes per table and index (the `dbstat` virtual table of Debian's sqlite3).
        let tables = std::process::Command::new("sqlite3")
            .arg(&path)
            .arg("SELECT name, SUM(pgsize) FROM dbstat WHERE name LIKE 'site%' OR name LIKE 'sqlite_autoindex_site%' GROUP BY name ORDER BY 2 DESC")
            .output()
            .expect("sqlite3");
        let tables = String::from_utf8_lossy(&tables.stdout).replace('\n', "; ");
        let per_reading = bytes as f64 / readings as f64;
        println!(
            "raw_retention_days={days}: {readings} readings, read.db {bytes} bytes = {per_reading:.0} bytes/reading, \
             fold+prune {fold_s:.1} s; rows {counts:?}; bytes {tables}"
        );
    }
}

/// A crane work cycle of `device` starting at `at` (5 minutes long); cycle `i` of the day: the fourth is in the
/// moment warning band with one over-moment event.
fn cycle(gw: &mut KeyedChain, device: &str, at: OffsetDateTime, i: i64) -> Envelope {
    let rfc = |t: OffsetDateTime| t.format(&time::format_description::well_known::Rfc3339).expect("time");
    let end = at + Duration::from_secs(300);
    let (moment, over) = if i % 4 == 3 { ("92.0", 1) } else { ("81.0", 0) };
    sign(
        gw,
        &format!("project/{PID}/site/{device}"),
        "crane.cycle.v1",
        &rfc(end),
        json!({"project_id": PID, "device_id": device, "started_at": rfc(at), "ended_at": rfc(end),
               "max_load_t": "2.4", "max_moment_pct": moment, "max_wind_m_s": "5.6", "radius_m": "35",
               "height_m": "42", "over_moment_count": over}),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crane_cycles_and_the_timeline_keep_the_raw_period_and_their_days_answer_beyond_it() {
    let (ledger, mut gws, _dir) = registry(1).await;
    let mut starts = Vec::new();
    let mut envs = Vec::new();
    for d in 0..DAYS {
        for (i, hour) in [8_u64, 10, 13, 15].into_iter().enumerate() {
            let at = START + Duration::from_secs(86_400 * u64::try_from(d).expect("day") + 3600 * hour);
            starts.push(us(at));
            envs.push(cycle(&mut gws[0], "TC-01", at, i as i64));
        }
    }
    for chunk in envs.chunks(500) {
        accepted(&ledger.ingest(chunk.to_vec()).await.expect("cycles"));
    }
    // A gateway back after weeks: a cycle of day 2 (older than the raw period) sent last.
    let late_at = START + Duration::from_secs(86_400 * 2 + 3600 * 20);
    let late_from = ledger.head();
    accepted(&ledger.ingest(vec![cycle(&mut gws[0], "TC-01", late_at, 0)]).await.expect("late cycle"));
    let events = all_events(&ledger).await;
    let (main, late) = events.split_at(usize::try_from(late_from).expect("pos"));

    let (inc, _inc_dir) = sqlite_db().await;
    inc.set_raw_retention_days(RETENTION_DAYS);
    for chunk in main.chunks(100) {
        apply_events(&inc, chunk).await.expect("fold");
        inc.prune_site_raw().await.expect("prune");
    }
    // Cycles move the horizon: the raw period ends at the latest cycle's start.
    let raw_from = inc.site_raw_from().await.expect("raw from").expect("a raw period");
    let horizon = *starts.iter().max().expect("starts");
    assert_eq!(raw_from, horizon - i64::from(RETENTION_DAYS) * 86_400_000_000);
    let kept = starts.iter().filter(|&&t| t >= raw_from).count() as u64;
    assert!(kept < starts.len() as u64 / 2, "most cycles are older than the raw period");
    assert_eq!(count(&inc, "site_crane_cycles").await, kept);
    // The timeline keeps the records that occurred in the raw period (a cycle occurs at its end, 5 min later).
    let timeline = inc.project_timeline(&Scope::All, PID, None, 1000).await.expect("timeline");
    let ends_kept = starts.iter().filter(|&&t| t + 300_000_000 >= raw_from).count();
    assert_eq!(timeline.len(), ends_kept);

    // The days answer beyond the raw period: every day's four cycles, one in the warning band.
    let days = inc.site_crane_days(&Scope::All, PID, 1000).await.expect("crane days");
    assert_eq!(days.len(), usize::try_from(DAYS).expect("days"));
    assert!(days.iter().all(|d| (d.cycles, d.warning, d.violation, d.over_moment) == (4, 1, 0, 1)), "{days:?}");
    let first_day = START.date().to_string();
    assert_eq!(days.last().map(|d| d.day.as_str()), Some(first_day.as_str()));
    let activity = inc.project_days(&Scope::All, PID, 1000).await.expect("project days");
    assert!(activity.iter().any(|(day, n)| *day == first_day && *n >= 4), "{activity:?}");
    // Scoped like the project: another district sees nothing.
    let haishu = super::district("330203");
    assert!(inc.site_crane_days(&haishu, PID, 1000).await.expect("crane days").is_empty());
    assert!(inc.project_days(&haishu, PID, 1000).await.expect("project days").is_empty());

    // The late cycle: counted in its day, not kept raw.
    apply_events(&inc, late).await.expect("late cycle");
    inc.prune_site_raw().await.expect("prune");
    assert_eq!(count(&inc, "site_crane_cycles").await, kept);
    let days = inc.site_crane_days(&Scope::All, PID, 1000).await.expect("crane days");
    let day2 = late_at.date().to_string();
    assert_eq!(days.iter().find(|d| d.day == day2).map(|d| d.cycles), Some(5));

    // A rebuild from zero, then a retention pass: the same days and the same tables' sizes.
    let (again, _again_dir) = sqlite_db().await;
    again.set_raw_retention_days(RETENTION_DAYS);
    for chunk in events.chunks(1000) {
        apply_events(&again, chunk).await.expect("rebuild");
    }
    again.prune_site_raw().await.expect("prune");
    assert_eq!(again.site_crane_days(&Scope::All, PID, 1000).await.expect("crane days"), days);
    assert_eq!(again.site_row_counts().await.expect("counts"), inc.site_row_counts().await.expect("counts"));
    assert_eq!(again.project_timeline(&Scope::All, PID, None, 1000).await.expect("timeline").len(), ends_kept);
    inc.close().await;
    again.close().await;
}
