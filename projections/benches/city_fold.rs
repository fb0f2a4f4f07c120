//! Fold CPU per record on the city mix (issue 16): the records a simulated Ningbo's site gateways sign in the morning
//! peak, in the proportions of the measured city hour (BENCHMARKS.md, "City (issue 16)": 64 % `crane.sample.v1`,
//! 14 % `env.dust_noise.reading.v1`, 12 % `hoist.sample.v1`, 7 % `worker.passage.v1`, 2 % `meter.reading.v1`,
//! 0.5 % `video.camera.status.v1`), folded through every projection by `apply_events` in batches of
//! [`BATCH_EVENTS`] into a fresh read database. What it reports does not depend on the machine's load: CPU time of
//! this process (user + system of every thread, SQLite's included; 10 ms resolution) per record, and the rows read
//! and statements run by the folds per record. Wall time is printed for completeness only.
//!
//! ```sh
//! cargo bench -p siteledger-projections --bench city_fold --no-run
//! target/release/deps/city_fold-<hash>                   # CITY_FOLD_PROJECTS=3000, CITY_FOLD_MINUTES=5
//! CITY_FOLD_STORES=sqlite,postgres CITY_FOLD_PER_KIND=1 target/release/deps/city_fold-<hash>
//! ```
//!
//! The default is the city itself, 3,000 sites, for 5 simulated minutes from 07:00 (≈ 112,000 records after a setup
//! of ≈ 135,000): what matters for the fold is the city's density, a batch of 1,000 records spanning ≈ 2.7 s of the
//! peak hour, so that a device, a site and its gateway key appear about once per batch, as in a real city-day; fewer
//! sites over a longer window would let per-batch caches hide per-record costs the city pays.
//!
//! `CITY_FOLD_STORES` (`sqlite`, `postgres` (a private PostgreSQL from `siteledger-testkit`; the CPU figure is then
//! this process's only, not the server's), or both), `CITY_FOLD_PER_KIND=1` also folds each kind's records alone
//! (after the same setup) for CPU per record by kind, `CITY_FOLD_KEEP=DIR` keeps the SQLite read database there
//! (`DIR/read.db`, to compare what two builds fold), `CITY_FOLD_PROFILE=1` waits for Enter before the timed fold
//! (to attach `perf record -p`).
//!
//! The sites mirror the city simulator's model (`demo/src/citysim/model.rs`: 1.57 tower cranes sampling every
//! 20 s, 0.45 hoists every 30 s, a dust/noise monitor every minute, two meters every 15 minutes, cameras hourly,
//! the gate's morning arrivals), written out here because a bench of this crate cannot depend on `demo` (the
//! arrows point down). Every payload is checked with the domain's `validate_envelope` first, so each record is one
//! the server would accept.

#[path = "common/mod.rs"]
mod common;

use std::time::Instant;

use serde_json::{Map, Value, json};
use siteledger_client::KeyedChain;
use siteledger_ledger::StoredEvent;
use siteledger_ledger::system::{KEY_ENROLLED_KIND, KeyEnrollment};
use siteledger_projections::{BATCH_EVENTS, ReadDb, apply_events};
use siteledger_signer::SigningKey;

use common::{Log, env, obj};

const GC: &str = "91330200MA2AAAAA76";
const DISTRICTS: [&str; 6] = ["330203", "330205", "330206", "330211", "330212", "330213"];
/// Workers per project passing the gate in the window (the city's 65 on average, about half of them in the first
/// hour of the morning peak).
const WORKERS: usize = 40;
/// 2026-04-01 07:00:00 Shanghai time.
const T0: i64 = 1_775_084_400;

/// `YYYY-MM-DDThh:mm:ss+08:00` of a Unix time.
fn cst(t: i64) -> String {
    let offset = time::UtcOffset::from_hms(8, 0, 0).expect("offset");
    let t = time::OffsetDateTime::from_unix_timestamp(t).expect("time").to_offset(offset);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+08:00",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// A deterministic pseudo-random stream (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (self.next() >> 11) as f64 / (1u64 << 53) as f64 * (hi - lo)
    }
}

fn d1(x: f64) -> String {
    format!("{:.1}", x.max(0.0))
}

fn pid(p: usize) -> String {
    format!("NB-2026-{:05}", p + 1)
}

fn person(p: usize, w: usize) -> String {
    format!("P-{p:016x}{w:016x}")
}

/// Cranes of project `p`: 1.57 on average, as the city's.
fn cranes(p: usize) -> usize {
    [1, 2, 2, 1, 2, 2, 1][p % 7]
}

/// Hoists of project `p`: 0.45 on average.
fn hoists(p: usize) -> usize {
    usize::from(p % 20 < 9)
}

/// A camera's GB/T 28181 id: centre code, 0000, type 132 (IPC), serial.
fn camera(p: usize, c: usize) -> String {
    format!("3302000000132{:07}", p * 4 + c + 1)
}

/// Registry, keys, workers and cameras: what the city's setup signs before its day starts.
fn setup(log: &mut Log, city: &mut KeyedChain, gws: &mut [KeyedChain]) {
    let reg = "2026-03-01T09:00:00+08:00";
    let mut keys = vec![(*city.key().public(), "宁波市住建局".to_owned(), "city_bureau")];
    for (p, gw) in gws.iter().enumerate() {
        keys.push((*gw.key().public(), format!("project/{}/gw-1", pid(p)), "gateway"));
    }
    for (key, subject, role) in keys {
        let enrollment = KeyEnrollment {
            key_id: key.key_id().to_string(),
            public_key: key.to_base64(),
            subject,
            role: role.into(),
            valid_from: "2026-01-01T00:00:00+08:00".into(),
            valid_until: None,
        };
        log.push(city, "registry/keys", KEY_ENROLLED_KIND, reg, enrollment.to_payload());
    }
    log.push(
        city,
        "registry/enterprises",
        "registry.enterprise.registered.v1",
        reg,
        obj(json!({"credit_code": GC, "name": "基准建工", "types": ["construction"]})),
    );
    for (p, gw) in gws.iter_mut().enumerate() {
        let pid = pid(p);
        log.push(
            city,
            "registry/projects",
            "registry.project.registered.v1",
            reg,
            obj(json!({
            "project_id": pid, "name": format!("基准项目{p}"), "district": DISTRICTS[p % DISTRICTS.len()],
            "central_urban": true, "floor_area_m2": "50000", "contract_cost_fen": 100_000_000_000_i64,
            "start_date": "2026-03-01", "participants": [{"role": "general_contractor", "credit_code": GC}]})),
        );
        let wf = format!("project/{pid}/workforce");
        log.push(
            city,
            &wf,
            "worker.team.formed.v1",
            reg,
            obj(json!({"project_id": pid, "team_id": "T1", "name": "班组", "employer": GC})),
        );
        for w in 0..WORKERS {
            log.push(
                city,
                &wf,
                "worker.registered.v1",
                reg,
                obj(json!({"project_id": pid, "person_ref": person(p, w), "id_type": "01",
                       "id_commitment": format!("hmac-sha256:{:064x}", p * 100_000 + w), "id_masked": "3302**********123X",
                       "birth_month": "1980-01", "employer": GC, "team_id": "T1", "trade": "020", "work_role": "20"})),
            );
        }
        for c in 0..2 {
            let cam = camera(p, c);
            log.push(
                gw,
                &format!("project/{pid}/site/{cam}"),
                "video.camera.registered.v1",
                reg,
                obj(json!({"project_id": pid, "device_id": cam, "name": format!("摄像机{c}"), "position": "大门"})),
            );
        }
    }
}

/// One record planned at `t`.
struct Planned {
    t: i64,
    stream: String,
    kind: &'static str,
    payload: Map<String, Value>,
}

/// Project `p`'s gateway records in `[t0, t1)`, as the city simulator's model draws them.
fn gateway(p: usize, t0: i64, t1: i64, rng: &mut Rng, out: &mut Vec<Planned>) {
    let pid = pid(p);
    let phase = (p * 13 % 60) as i64;
    let every = |period: i64, phase: i64| (t0..t1).filter(move |t| (t - phase).rem_euclid(period) == 0);
    let monitor = format!("YC-{:05}", p + 1);
    for t in every(60, phase) {
        let pm10 = rng.range(40.0, 90.0);
        out.push(Planned {
            t,
            stream: format!("project/{pid}/env/{monitor}"),
            kind: "env.dust_noise.reading.v1",
            payload: obj(json!({"project_id": pid, "device_id": monitor, "pm10_ug_m3": d1(pm10),
                "pm25_ug_m3": d1(pm10 * 0.55), "noise_db_a": d1(rng.range(58.0, 68.0))})),
        });
    }
    for c in 0..cranes(p) {
        let device = format!("TC-{:02}", c + 1);
        for t in every(20, phase + 7 * c as i64) {
            let load = rng.range(0.3, 6.5);
            out.push(Planned {
                t,
                stream: format!("project/{pid}/site/{device}"),
                kind: "crane.sample.v1",
                payload: obj(json!({"project_id": pid, "device_id": device, "sampled_at": cst(t),
                    "load_t": format!("{load:.2}"), "rated_load_t": "8.0",
                    "moment_pct": d1(load / 8.0 * 100.0 * rng.range(0.8, 1.05)),
                    "height_m": d1(rng.range(5.0, 60.0)), "radius_m": d1(rng.range(8.0, 50.0)),
                    "slew_deg": d1(rng.range(0.0, 359.9)), "wind_m_s": d1(rng.range(0.5, 8.0)),
                    "tilt_deg": format!("{:.2}", rng.range(0.05, 0.4))})),
            });
        }
    }
    for h in 0..hoists(p) {
        let device = format!("SC-{:02}", h + 1);
        for t in every(30, phase + 11 * h as i64) {
            let people = rng.next() % 9;
            let load = people as f64 * 70.0 + rng.range(0.0, 600.0);
            let floor = 1 + rng.next() % 28;
            out.push(Planned {
                t,
                stream: format!("project/{pid}/site/{device}"),
                kind: "hoist.sample.v1",
                payload: obj(json!({"project_id": pid, "device_id": device, "sampled_at": cst(t),
                    "load_kg": d1(load), "load_pct": d1(load / 2000.0 * 100.0), "people": people, "cage": 1,
                    "direction": rng.next() % 3, "height_m": d1(floor as f64 * 3.0), "floor": floor,
                    "speed_m_s": d1(rng.range(0.6, 0.9)), "wind_m_s": d1(rng.range(1.0, 6.0)),
                    "tilt_deg": format!("{:.2}", rng.range(0.0, 0.2))})),
            });
        }
    }
    for (m, meter) in ["electricity", "water"].into_iter().enumerate() {
        let device = format!("DB-{:02}", m + 1);
        for t in every(900, phase * 15 + m as i64 * 7) {
            let hours = (t - 1_735_660_800) as f64 / 3600.0;
            let mut p = json!({"project_id": pid, "device_id": device, "meter": meter, "read_at": cst(t)});
            if meter == "electricity" {
                p["total"] = json!(format!("{:.1}", 10_000.0 + hours * 40.0));
                p["residual_current_ma"] = json!(d1(rng.range(3.0, 18.0)));
                p["temperature_c"] = json!(d1(rng.range(25.0, 48.0)));
            } else {
                p["total"] = json!(format!("{:.2}", 500.0 + hours * 1.5));
            }
            out.push(Planned {
                t,
                stream: format!("project/{pid}/site/{device}"),
                kind: "meter.reading.v1",
                payload: obj(p),
            });
        }
    }
    for c in 0..2 {
        let device = camera(p, c);
        for t in every(3600, phase * 60 + c as i64 * 13) {
            out.push(Planned {
                t,
                stream: format!("project/{pid}/site/{device}"),
                kind: "video.camera.status.v1",
                payload: obj(json!({"project_id": pid, "device_id": device, "status": "online",
                    "last_keepalive_at": cst(t - 30)})),
            });
        }
    }
    // The gate: each worker in once, spread over the first hour (the morning peak's ≈ 33 passages an hour).
    for w in 0..WORKERS {
        let t = T0 + (w as i64 * 3600 / WORKERS as i64) + phase;
        if t >= t0 && t < t1 {
            out.push(Planned {
                t,
                stream: format!("project/{pid}/workforce/gate"),
                kind: "worker.passage.v1",
                payload: obj(json!({"project_id": pid, "person_ref": person(p, w), "gate": "GATE-01",
                    "direction": "in", "method": "face"})),
            });
        }
    }
}

/// CPU time of this process so far (user + system, every thread), seconds; 10 ms resolution.
fn process_cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name: state is field 3, utime field 14, stime field 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// What one timed fold measured.
struct Measured {
    records: usize,
    cpu_us: f64,
    wall_s: f64,
    rows_read: f64,
    statements: f64,
}

/// Folds `setup` (untimed) then `timed` into a fresh read database at `url`.
async fn fold(url: &str, setup: &[StoredEvent], timed: &[StoredEvent], wait: bool) -> Measured {
    let db = ReadDb::open(url).await.expect("open the read database");
    for chunk in setup.chunks(BATCH_EVENTS) {
        apply_events(&db, chunk).await.expect("fold");
    }
    if wait {
        eprintln!("setup folded; attach the profiler (pid {}) and press Enter", std::process::id());
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    }
    let (rows0, st0) = (db.fold_rows_read(), db.fold_statements());
    let cpu0 = process_cpu_secs();
    let t = Instant::now();
    for chunk in timed.chunks(BATCH_EVENTS) {
        apply_events(&db, chunk).await.expect("fold");
    }
    let wall_s = t.elapsed().as_secs_f64();
    let cpu = process_cpu_secs() - cpu0;
    let n = timed.len().max(1) as f64;
    let m = Measured {
        records: timed.len(),
        cpu_us: cpu * 1e6 / n,
        wall_s,
        rows_read: (db.fold_rows_read() - rows0) as f64 / n,
        statements: (db.fold_statements() - st0) as f64 / n,
    };
    assert_eq!(db.fold_error_count().await.expect("fold errors"), 0, "every record folds");
    db.close().await;
    m
}

/// Statements of the raw round-trip measurement.
const ROUND_TRIPS: u32 = 20_000;

/// CPU µs of this process per `SELECT ?` run through sqlx in one SQLite write transaction: what a statement costs
/// the fold before SQLite does any work for it (the floor under "statements per record").
async fn round_trip_cpu_us() -> f64 {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(dir.path().join("raw.db")).create_if_missing(true);
    let pool = sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect_with(options).await.expect("sqlite");
    let mut tx = pool.begin().await.expect("begin");
    let cpu0 = process_cpu_secs();
    for i in 0..ROUND_TRIPS {
        let (v,): (i64,) = sqlx::query_as("SELECT ?").bind(i64::from(i)).fetch_one(&mut *tx).await.expect("select");
        assert_eq!(v, i64::from(i));
    }
    let cpu = process_cpu_secs() - cpu0;
    tx.commit().await.expect("commit");
    pool.close().await;
    cpu * 1e6 / f64::from(ROUND_TRIPS)
}

/// `events` renumbered from `from` (a log of one kind after the setup).
fn renumbered<'a>(events: impl Iterator<Item = &'a StoredEvent>, from: usize) -> Vec<StoredEvent> {
    events.enumerate().map(|(i, e)| StoredEvent { position: (from + i) as u64, ..e.clone() }).collect()
}

fn main() {
    let projects = env("CITY_FOLD_PROJECTS", 3000);
    let minutes = env("CITY_FOLD_MINUTES", 5) as i64;
    let stores = std::env::var("CITY_FOLD_STORES").unwrap_or_else(|_| "sqlite".into());
    let per_kind = env("CITY_FOLD_PER_KIND", 0) == 1;
    let wait = env("CITY_FOLD_PROFILE", 0) == 1;
    let mut log = Log::default();
    let mut city = KeyedChain::new(SigningKey::from_seed(&[7; 32]));
    // Each site its own gateway key, as in the city (one signer statistics row per site).
    let mut gws: Vec<KeyedChain> = (0..projects)
        .map(|p| {
            let mut seed = [8; 32];
            seed[..8].copy_from_slice(&(p as u64).to_le_bytes());
            KeyedChain::new(SigningKey::from_seed(&seed))
        })
        .collect();
    let t = Instant::now();
    setup(&mut log, &mut city, &mut gws);
    let setup_len = log.events.len();
    let mut rng = Rng(16);
    // One tick of 30 simulated seconds at a time, every project's records of the tick in time order, as the city's
    // agents post them.
    let end = T0 + minutes * 60;
    let mut tick = T0;
    while tick < end {
        let mut planned = Vec::new();
        for p in 0..projects {
            let mut site = Vec::new();
            gateway(p, tick, (tick + 30).min(end), &mut rng, &mut site);
            planned.extend(site.into_iter().map(|x| (p, x)));
        }
        planned.sort_by_key(|(_, x)| x.t);
        for (p, x) in planned {
            let at = cst(x.t);
            log.push(&mut gws[p], &x.stream, x.kind, &at, x.payload);
        }
        tick += 30;
    }
    let (setup_events, timed) = log.events.split_at(setup_len);
    let mut kinds: Vec<(&str, usize)> = Vec::new();
    for e in timed {
        match kinds.iter_mut().find(|(k, _)| *k == e.kind) {
            Some((_, n)) => *n += 1,
            None => kinds.push((&e.kind, 1)),
        }
    }
    kinds.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    eprintln!(
        "signed {} setup and {} timed records in {:.1} s; timed: {}",
        setup_len,
        timed.len(),
        t.elapsed().as_secs_f64(),
        kinds.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ")
    );

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let pg = stores.contains("postgres").then(|| siteledger_testkit::TempPostgres::start(false).expect("postgres"));
    let keep = std::env::var("CITY_FOLD_KEEP").ok();
    let raw = rt.block_on(round_trip_cpu_us());
    println!(
        "Raw limit, same run: one statement round trip to sqlx's SQLite worker (`SELECT ?` inside a write \
         transaction, {ROUND_TRIPS} of them) costs {raw:.1} CPU µs."
    );
    println!(
        "| store | records | what | CPU µs/record (this process) | rows read/record | statements/record | wall s |"
    );
    println!("|---|---:|---|---:|---:|---:|---:|");
    for store in stores.split(',') {
        let mut runs: Vec<(String, Vec<StoredEvent>)> = vec![("city mix".into(), timed.to_vec())];
        if per_kind {
            for (k, _) in &kinds {
                runs.push(((*k).to_owned(), renumbered(timed.iter().filter(|e| e.kind == *k), setup_len)));
            }
        }
        for (i, (what, events)) in runs.iter().enumerate() {
            let dir = tempfile::tempdir().expect("tempdir");
            let url = match (store, pg.as_ref()) {
                ("postgres", Some(pg)) => pg.create_unique_database("cityfold").expect("database"),
                _ => {
                    let path = match (&keep, i) {
                        (Some(d), 0) => {
                            std::fs::create_dir_all(d).expect("keep dir");
                            format!("{d}/read.db")
                        }
                        _ => dir.path().join("read.db").display().to_string(),
                    };
                    format!("sqlite:{path}")
                }
            };
            let m = rt.block_on(fold(&url, setup_events, events, wait && i == 0));
            println!(
                "| {store} | {} | {what} | {:.1} | {:.2} | {:.2} | {:.1} |",
                m.records, m.cpu_us, m.rows_read, m.statements, m.wall_s
            );
        }
    }
}
