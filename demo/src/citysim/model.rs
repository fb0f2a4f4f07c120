//! The simulated city's sites, people and devices, and the records they produce in a span of simulated time. Pure
//! and deterministic: the seed and the simulated clock go in, payloads come out; signing and posting are elsewhere.
//!
//! Rates (per project, from issue 16 and the reference DOMAIN.md):
//!
//! | source | signer | rate |
//! |---|---|---|
//! | dust/noise monitor (扬尘噪声) | the site gateway | one reading a minute, day and night |
//! | tower cranes (塔吊黑匣子), 0–4 by size | the site gateway | one sample every 20 s in working hours (`--crane-secs`; the issue says 10–30 s) |
//! | hoists (施工升降机), 0–2 | the site gateway | one sample every 30 s in working hours (`--hoist-secs`) |
//! | electricity and water meters | the site gateway | one reading every 15 min each |
//! | cameras (GB/T 28181), 2–4 | the site gateway | one status an hour each |
//! | gate (实名制闸机) | the site gateway | in ≈ 07:00 and out ≈ 17:45 per worker, 40 % also out and in at lunch |
//! | payroll (工资表) | the general contractor | once a month per team of ≤ 50, on the project's pay day at 10:00 |
//! | wage transfers (代发工资) | the bank | one per payroll line, the same day at 14:00 |
//! | inspections (监督检查) | the district's inspector | each project about every 14 days, in working hours |
//! | material tests (见证取样检测) | owner, supervisor, lab | each project about every 7 days: commission, sampling, receipt, report |
//!
//! Workers per project follow a log-normal distribution (median 45, 8–600), about 65 on average: 3,000 projects
//! employ about 200,000 workers. Working hours are 07:00–12:00 and 13:30–18:30 (Shanghai time).

use serde_json::{Map, Value, json};

use crate::rng::SplitMix64;

/// Seconds from UTC to Shanghai time.
pub const CST: i64 = 8 * 3600;
/// Seconds between a working tower crane's samples, unless the run says otherwise.
pub const DEFAULT_CRANE_SECS: u32 = 20;
/// Seconds between a working hoist's samples, unless the run says otherwise.
pub const DEFAULT_HOIST_SECS: u32 = 30;

/// How often the devices that a run may speed up report (the same for every site).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rates {
    /// Seconds between a working crane's samples.
    pub crane_secs: u32,
    /// Seconds between a working hoist's samples.
    pub hoist_secs: u32,
}

impl Default for Rates {
    fn default() -> Rates {
        Rates { crane_secs: DEFAULT_CRANE_SECS, hoist_secs: DEFAULT_HOIST_SECS }
    }
}
/// Workers per payroll team.
pub const TEAM_SIZE: usize = 50;

/// `YYYY-MM-DDThh:mm:ss+08:00` of a Unix time.
pub fn cst(t: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(t + CST);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}+08:00")
}

/// The Shanghai date `YYYY-MM-DD` of a Unix time.
pub fn cst_date(t: i64) -> String {
    let (y, mo, d, ..) = civil(t + CST);
    format!("{y:04}-{mo:02}-{d:02}")
}

/// The Shanghai month `YYYY-MM` of a Unix time.
pub fn cst_month(t: i64) -> String {
    let (y, mo, ..) = civil(t + CST);
    format!("{y:04}-{mo:02}")
}

/// The Shanghai day number (days since 1970-01-01 in Shanghai) and the second within it.
pub fn cst_day(t: i64) -> (i64, i64) {
    ((t + CST).div_euclid(86_400), (t + CST).rem_euclid(86_400))
}

/// The Unix time of second `sec` of Shanghai day `day`.
pub fn at(day: i64, sec: i64) -> i64 {
    day * 86_400 + sec - CST
}

/// (year, month, day, hour, minute, second) of a count of seconds since 1970 (no offset applied).
fn civil(t: i64) -> (i64, u32, u32, i64, i64, i64) {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Howard Hinnant's days_from_civil inverse.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, secs / 3600, secs % 3600 / 60, secs % 60)
}

/// Construction work goes on (07:00–12:00, 13:30–18:30 Shanghai time) at second `sec` of the day.
pub fn working(sec: i64) -> bool {
    (7 * 3600..12 * 3600).contains(&sec) || (13 * 3600 + 1800..18 * 3600 + 1800).contains(&sec)
}

/// One record before signing.
#[derive(Debug, Clone)]
pub struct Planned {
    /// Unix time the record is about (its `occurred_at`, before any clock fault).
    pub t: i64,
    /// Stream.
    pub stream: String,
    /// Kind.
    pub kind: &'static str,
    /// Payload.
    pub payload: Map<String, Value>,
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn d1(x: f64) -> String {
    format!("{:.1}", x.max(0.0))
}

/// One worker (synthetic: a random person reference and commitments, as a vault intake would issue).
#[derive(Debug, Clone)]
pub struct Worker {
    /// `P-` + 32 hex.
    pub person_ref: String,
    /// Commitment to the card number.
    pub card_commitment: String,
    /// Masked card number.
    pub card_masked: String,
    /// Masked ID number.
    pub id_masked: String,
    /// Commitment to the ID number.
    pub id_commitment: String,
    /// `YYYY-MM`.
    pub birth_month: String,
    /// 工种 code.
    pub trade: &'static str,
}

fn hex(rng: &mut SplitMix64, n: usize) -> String {
    let mut s = String::with_capacity(n);
    while s.len() < n {
        s.push_str(&format!("{:016x}", rng.next_u64()));
    }
    s.truncate(n);
    s
}

impl Worker {
    fn new(rng: &mut SplitMix64) -> Worker {
        let tail = rng.range_u64(0, 10_000);
        Worker {
            person_ref: format!("P-{}", hex(rng, 32)),
            card_commitment: format!("hmac-sha256:{}", hex(rng, 64)),
            card_masked: format!("6228 **** **** {tail:04}"),
            id_masked: format!("3302**********{:03}X", tail % 1000),
            id_commitment: format!("hmac-sha256:{}", hex(rng, 64)),
            birth_month: format!("{}-{:02}", rng.range_u64(1966, 2004), rng.range_u64(1, 13)),
            trade: ["020", "040", "050", "130", "900"][rng.range_u64(0, 5) as usize],
        }
    }
}

/// A project of the simulated city.
#[derive(Debug, Clone)]
pub struct Site {
    /// Index in the city.
    pub index: usize,
    /// Project id.
    pub project_id: String,
    /// Index into [`crate::city::DISTRICTS`].
    pub district: usize,
    /// Owner (建设单位), general contractor (施工总承包) and supervisor (监理): indices into the city's enterprises.
    pub owner: usize,
    /// General contractor.
    pub gc: usize,
    /// Supervisor.
    pub supervisor: usize,
    /// The commissioned testing lab (index into the city's labs).
    pub lab: usize,
    /// Workers.
    pub workers: Vec<Worker>,
    /// Tower cranes.
    pub cranes: usize,
    /// Hoists.
    pub hoists: usize,
    /// Cameras.
    pub cameras: usize,
    /// Phase (seconds) of each periodic device, so a city's monitors do not all report on the same second.
    pub phase: u32,
    /// Baseline PM10 of the site.
    pub pm10: f64,
    /// Day of the month the wages are paid (1–28).
    pub pay_day: u32,
}

impl Site {
    /// The dust/noise monitor's device id.
    pub fn monitor(&self) -> String {
        format!("YC-{:05}", self.index + 1)
    }

    /// Camera `c`'s GB/T 28181 id: centre code (the district's code, 330200 for the zone), 0000, type 132 (IPC),
    /// serial.
    pub fn camera(&self, c: usize) -> String {
        let code = crate::city::DISTRICTS[self.district].code;
        let code = if code.bytes().all(|b| b.is_ascii_digit()) { code } else { "330200" };
        format!("{code}0000132{:07}", self.index * 4 + c + 1)
    }

    /// Team ids: one per [`TEAM_SIZE`] workers.
    pub fn teams(&self) -> usize {
        self.workers.len().div_ceil(TEAM_SIZE).max(1)
    }
}

/// Draws the city's projects.
pub fn sites(
    n: usize,
    prefix: &str,
    seed: u64,
    enterprises: (usize, usize, usize),
    labs: usize,
    district_of: impl Fn(usize) -> usize,
) -> Vec<Site> {
    let (owners, gcs, sups) = enterprises;
    (0..n)
        .map(|i| {
            let mut rng = SplitMix64::derive(seed, 100 + i as u64);
            let w = (45f64.ln() + 0.85 * rng.normal()).exp().round().clamp(8.0, 600.0) as usize;
            let workers = (0..w).map(|_| Worker::new(&mut rng)).collect::<Vec<_>>();
            let cranes = (w / 40 + usize::from(rng.chance(0.6))).min(4);
            let hoists = if w >= 60 { 1 + usize::from(w >= 150) } else { 0 };
            let district = district_of(i);
            Site {
                index: i,
                project_id: format!("{prefix}-{:05}", i + 1),
                district,
                owner: i % owners.max(1),
                gc: (i * 7 + 3) % gcs.max(1),
                supervisor: (i * 5 + 1) % sups.max(1),
                lab: i % labs.max(1),
                workers,
                cranes,
                hoists,
                cameras: 2 + (w / 100).min(2),
                phase: rng.range_u64(0, 60) as u32,
                pm10: crate::city::DISTRICTS[district].pm10_base * rng.range_f64(0.85, 1.2),
                pay_day: 1 + (i % 28) as u32,
            }
        })
        .collect()
}

/// Every `period` seconds from `phase`, the instants in `[t0, t1)`, optionally only in working hours.
fn ticks(t0: i64, t1: i64, period: i64, phase: i64, work_only: bool, mut each: impl FnMut(i64)) {
    let first = t0 + (phase - t0).rem_euclid(period);
    let mut t = first;
    while t < t1 {
        if !work_only || working(cst_day(t).1) {
            each(t);
        }
        t += period;
    }
}

/// One site's gate passages of one Shanghai day, sorted by time: (time, worker, `in`/`out`).
pub fn passages(site: &Site, day: i64, seed: u64) -> Vec<(i64, usize, &'static str)> {
    let mut rng = SplitMix64::derive(seed ^ (day as u64).wrapping_mul(0x9E37), 5_000 + site.index as u64);
    let mut out = Vec::with_capacity(site.workers.len() * 3);
    let time_of = |mean_min: f64, sd_min: f64, rng: &mut SplitMix64| {
        let s = ((mean_min + sd_min * rng.normal()) * 60.0).round() as i64;
        at(day, s.clamp(0, 86_399))
    };
    for w in 0..site.workers.len() {
        out.push((time_of(7.0 * 60.0, 20.0, &mut rng), w, "in"));
        if rng.chance(0.4) {
            out.push((time_of(12.0 * 60.0, 8.0, &mut rng), w, "out"));
            out.push((time_of(13.0 * 60.0 + 15.0, 8.0, &mut rng), w, "in"));
        }
        out.push((time_of(17.0 * 60.0 + 45.0, 25.0, &mut rng), w, "out"));
    }
    out.sort_by_key(|p| p.0);
    out
}

/// The site gateway's records in `[t0, t1)` (readings, samples, meters, cameras, passages), sorted by time.
pub fn gateway_records(site: &Site, rates: Rates, t0: i64, t1: i64, seed: u64, rng: &mut SplitMix64) -> Vec<Planned> {
    let pid = &site.project_id;
    let phase = i64::from(site.phase);
    let mut out = Vec::new();
    let monitor = site.monitor();
    ticks(t0, t1, 60, phase, false, |t| {
        let hour = cst_day(t).1 as f64 / 3600.0;
        let traffic = 1.0 + 0.25 * (-((hour - 8.0) / 1.8).powi(2)).exp() + 0.2 * (-((hour - 20.5) / 2.2).powi(2)).exp();
        let pm10 = (site.pm10 * traffic * rng.range_f64(0.8, 1.25)).max(8.0);
        let noise = if working(cst_day(t).1) { rng.range_f64(58.0, 68.0) } else { rng.range_f64(44.0, 52.0) };
        out.push(Planned {
            t,
            stream: format!("project/{pid}/env/{monitor}"),
            kind: "env.dust_noise.reading.v1",
            payload: obj(json!({"project_id": pid, "device_id": monitor, "pm10_ug_m3": d1(pm10),
                "pm25_ug_m3": d1(pm10 * 0.55), "noise_db_a": d1(noise)})),
        });
    });
    for c in 0..site.cranes {
        let device = format!("TC-{:02}", c + 1);
        ticks(t0, t1, i64::from(rates.crane_secs.max(1)), phase + 7 * c as i64, true, |t| {
            let rated = 8.0;
            let load = rng.range_f64(0.3, 6.5);
            out.push(Planned {
                t,
                stream: format!("project/{pid}/site/{device}"),
                kind: "crane.sample.v1",
                payload: obj(json!({"project_id": pid, "device_id": device, "sampled_at": cst(t),
                    "load_t": format!("{load:.2}"), "rated_load_t": d1(rated),
                    "moment_pct": d1(load / rated * 100.0 * rng.range_f64(0.8, 1.05)),
                    "height_m": d1(rng.range_f64(5.0, 60.0)), "radius_m": d1(rng.range_f64(8.0, 50.0)),
                    "slew_deg": d1(rng.range_f64(0.0, 359.9)), "wind_m_s": d1(rng.range_f64(0.5, 8.0)),
                    "tilt_deg": format!("{:.2}", rng.range_f64(0.05, 0.4))})),
            });
        });
    }
    for h in 0..site.hoists {
        let device = format!("SC-{:02}", h + 1);
        ticks(t0, t1, i64::from(rates.hoist_secs.max(1)), phase + 11 * h as i64, true, |t| {
            let people = rng.range_u64(0, 9);
            let load = people as f64 * 70.0 + rng.range_f64(0.0, 600.0);
            let floor = rng.range_u64(1, 29);
            out.push(Planned {
                t,
                stream: format!("project/{pid}/site/{device}"),
                kind: "hoist.sample.v1",
                payload: obj(json!({"project_id": pid, "device_id": device, "sampled_at": cst(t),
                    "load_kg": d1(load), "load_pct": d1(load / 2000.0 * 100.0), "people": people, "cage": 1,
                    "direction": rng.range_u64(0, 3), "height_m": d1(floor as f64 * 3.0), "floor": floor,
                    "speed_m_s": d1(rng.range_f64(0.6, 0.9)), "wind_m_s": d1(rng.range_f64(1.0, 6.0)),
                    "tilt_deg": format!("{:.2}", rng.range_f64(0.0, 0.2))})),
            });
        });
    }
    for (m, meter) in ["electricity", "water"].into_iter().enumerate() {
        let device = format!("DB-{:02}", m + 1);
        ticks(t0, t1, 900, phase * 15 + m as i64 * 7, false, |t| {
            // Cumulative totals grow with time, so a reading never goes back.
            let hours = (t - 1_735_660_800) as f64 / 3600.0;
            let mut p = json!({"project_id": pid, "device_id": device, "meter": meter, "read_at": cst(t)});
            if meter == "electricity" {
                p["total"] = json!(format!("{:.1}", 10_000.0 + hours * 40.0));
                p["residual_current_ma"] = json!(d1(rng.range_f64(3.0, 18.0)));
                p["temperature_c"] = json!(d1(rng.range_f64(25.0, 48.0)));
            } else {
                p["total"] = json!(format!("{:.2}", 500.0 + hours * 1.5));
            }
            out.push(Planned {
                t,
                stream: format!("project/{pid}/site/{device}"),
                kind: "meter.reading.v1",
                payload: obj(p),
            });
        });
    }
    for c in 0..site.cameras {
        let device = site.camera(c);
        ticks(t0, t1, 3600, phase * 60 + c as i64 * 13, false, |t| {
            out.push(Planned {
                t,
                stream: format!("project/{pid}/site/{device}"),
                kind: "video.camera.status.v1",
                payload: obj(json!({"project_id": pid, "device_id": device, "status": "online",
                    "last_keepalive_at": cst(t - 30)})),
            });
        });
    }
    let (day0, _) = cst_day(t0);
    let (day1, _) = cst_day(t1 - 1);
    for day in day0..=day1 {
        for (t, w, dir) in passages(site, day, seed) {
            if t < t0 || t >= t1 {
                continue;
            }
            out.push(Planned {
                t,
                stream: format!("project/{pid}/workforce/gate"),
                kind: "worker.passage.v1",
                payload: obj(json!({"project_id": pid, "person_ref": site.workers[w].person_ref,
                    "gate": "GATE-01", "direction": dir, "method": "face"})),
            });
        }
    }
    out.sort_by_key(|p| p.t);
    out
}

/// `n` readings of the site's monitor in one minute from `t` (a misconfigured device bursting into one window).
pub fn burst(site: &Site, t: i64, n: usize, rng: &mut SplitMix64) -> Vec<Planned> {
    let pid = &site.project_id;
    let monitor = site.monitor();
    (0..n)
        .map(|i| {
            let pm10 = site.pm10 * rng.range_f64(0.8, 1.3);
            Planned {
                t: t + (i as i64 * 60 / n.max(1) as i64),
                stream: format!("project/{pid}/env/{monitor}"),
                kind: "env.dust_noise.reading.v1",
                payload: obj(json!({"project_id": pid, "device_id": monitor, "pm10_ug_m3": d1(pm10),
                    "pm25_ug_m3": d1(pm10 * 0.55), "noise_db_a": d1(rng.range_f64(50.0, 66.0))})),
            }
        })
        .collect()
}

/// Who signs a record of the parties (not a gateway).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Party {
    /// An enterprise (owner, contractor, supervisor), by index.
    Enterprise(usize),
    /// A testing lab, by index.
    Lab(usize),
    /// The bank.
    Bank,
    /// A district's inspector key, by district index.
    Inspector(usize),
}

/// The parties' records of one Shanghai day (payroll, transfers, inspections, tests), sorted by time. A chain whose
/// first record falls before `not_before` (the simulated window's start) is left out whole: a bank transfer cites its
/// payroll and a lab's receipt its sampling record, and a log that starts mid-chain never held those, so the ledger
/// would rightly refuse the rest.
pub fn party_records(
    sites: &[Site],
    day: i64,
    seed: u64,
    codes: (&[String], &[String]),
    not_before: i64,
) -> Vec<(Party, Planned)> {
    let (credit_codes, lab_codes) = codes;
    let mut out = Vec::new();
    let date = cst_date(at(day, 43_200));
    let (y, m, d, ..) = civil(at(day, 43_200) + CST);
    for site in sites {
        let mut rng = SplitMix64::derive(seed ^ (day as u64).wrapping_mul(0xA24B), 9_000 + site.index as u64);
        let pid = &site.project_id;
        let gc = &credit_codes[site.gc];
        if d == site.pay_day && at(day, 10 * 3600) >= not_before {
            let month = format!("{y:04}-{:02}", if m == 1 { 12 } else { m - 1 });
            for (team, chunk) in site.workers.chunks(TEAM_SIZE).enumerate() {
                let payroll_id = format!("PR-{}-T{:02}", month.replace('-', ""), team + 1);
                let lines: Vec<Value> = chunk
                    .iter()
                    .map(|w| {
                        let days = rng.range_u64(18, 27);
                        let fen = days * 35_000;
                        json!({"person_ref": w.person_ref, "days": days, "hours": days * 8, "payable_fen": fen,
                            "actual_fen": fen, "card_commitment": w.card_commitment, "card_masked": w.card_masked,
                            "back_pay": false})
                    })
                    .collect();
                let amounts: Vec<u64> = lines.iter().map(|l| l["actual_fen"].as_u64().unwrap_or(0)).collect::<Vec<_>>();
                out.push((
                    Party::Enterprise(site.gc),
                    Planned {
                        t: at(day, 10 * 3600 + team as i64 * 60),
                        stream: format!("project/{pid}/wage"),
                        kind: "wage.payroll.submitted.v1",
                        payload: obj(json!({"project_id": pid, "payroll_id": payroll_id,
                            "team_id": format!("T-{:02}", team + 1), "employer": gc, "month": month,
                            "lines": lines})),
                    },
                ));
                for (k, (w, amount)) in chunk.iter().zip(amounts).enumerate() {
                    out.push((
                        Party::Bank,
                        Planned {
                            t: at(day, 14 * 3600 + team as i64 * 60 + k as i64),
                            stream: format!("project/{pid}/wage"),
                            kind: "wage.transfer.made.v1",
                            payload: obj(json!({"project_id": pid,
                                "transfer_id": format!("TR-{}-{}-{:03}", payroll_id, site.index, k),
                                "payroll_id": payroll_id, "person_ref": w.person_ref, "amount_fen": amount,
                                "card_commitment": w.card_commitment, "card_masked": w.card_masked,
                                "paid_on": date, "back_pay": false})),
                        },
                    ));
                }
            }
        }
        if rng.chance(1.0 / 14.0) {
            let t = at(day, rng.range_u64(8 * 3600, 17 * 3600) as i64);
            out.push((
                Party::Inspector(site.district),
                Planned {
                    t,
                    stream: format!("project/{pid}/supervision"),
                    kind: "inspection.inspection.recorded.v1",
                    payload: obj(json!({"project_id": pid, "inspection_id": format!("JC-{day}-{}", site.index),
                        "inspection_kind": if rng.chance(0.7) { "safety" } else { "quality" },
                        "inspector": "监督员 王建华", "scope": "日常巡查：临边防护、临时用电及起重机械",
                        "inspected_party": gc})),
                },
            ));
        }
        if rng.chance(1.0 / 7.0) {
            let t = at(day, rng.range_u64(8 * 3600, 10 * 3600) as i64);
            if t < not_before {
                continue;
            }
            let cid = format!("WT-{day}-{}", site.index);
            let sid = format!("YP-{day}-{}", site.index);
            let seal = format!("FZ-{day}-{}", site.index);
            out.push((
                Party::Enterprise(site.owner),
                Planned {
                    t,
                    stream: format!("project/{pid}/supervision"),
                    kind: "testing.commissioned.v1",
                    payload: obj(json!({"project_id": pid, "commission_id": cid, "lab": lab_codes[site.lab],
                        "item": "混凝土抗压强度", "structural": true})),
                },
            ));
            out.push((
                Party::Enterprise(site.supervisor),
                Planned {
                    t: t + 1800,
                    stream: format!("project/{pid}/supervision"),
                    kind: "testing.sample.taken.v1",
                    payload: obj(json!({"project_id": pid, "commission_id": cid, "sample_id": sid, "seal_id": seal,
                        "witness": "见证员 何丽萍", "sampler": "取样员 吴海军"})),
                },
            ));
            out.push((
                Party::Lab(site.lab),
                Planned {
                    t: t + 2 * 3600,
                    stream: format!("project/{pid}/supervision"),
                    kind: "testing.sample.received.v1",
                    payload: obj(json!({"project_id": pid, "sample_id": sid, "seal_id": seal, "seal_intact": true,
                        "condition": "封志完好，试件无破损"})),
                },
            ));
            out.push((
                Party::Lab(site.lab),
                Planned {
                    t: t + 6 * 3600,
                    stream: format!("project/{pid}/supervision"),
                    kind: "testing.report.issued.v1",
                    // report_seq is set by the lab's agent (its own numbering).
                    payload: obj(json!({"project_id": pid, "sample_id": sid, "report_year": y,
                        "tester": "检测员 陈志远", "reviewer": "审核 林美华", "approver": "授权签字人 沈国强",
                        "result": "qualified", "summary": "所检项目符合标准要求"})),
                },
            ));
        }
    }
    out.sort_by_key(|(_, p)| p.t);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shanghai_time_is_formatted_from_unix_time() {
        // 2026-12-06T00:30:00Z is 08:30 in Shanghai.
        let t = time::macros::datetime!(2026-12-06 00:30 UTC).unix_timestamp();
        assert_eq!(cst(t), "2026-12-06T08:30:00+08:00");
        assert_eq!(cst_date(t), "2026-12-06");
        let (day, sec) = cst_day(t);
        assert_eq!((at(day, sec), sec), (t, 8 * 3600 + 1800));
        assert!(working(sec));
    }

    #[test]
    fn a_city_of_3000_projects_employs_about_200000_workers() {
        let sites = sites(3000, "CITY-T", 7, (150, 300, 100), 10, |i| i % 11);
        let workers: usize = sites.iter().map(|s| s.workers.len()).sum();
        assert!((170_000..240_000).contains(&workers), "{workers}");
    }

    /// Whatever hour the simulated window starts at, no record it posts cites a record from before the window: a
    /// sampling record's commission, a receipt's sampling record and a transfer's payroll are in the window too (the
    /// CI test's window ends "now", so it starts at any hour of the day).
    #[test]
    fn a_window_starting_at_any_hour_holds_whole_chains_only() {
        let mut sites = sites(300, "CITY-T", 7, (15, 30, 10), 3, |i| i % 11);
        for (i, s) in sites.iter_mut().enumerate() {
            s.pay_day = 1 + (i % 2) as u32;
        }
        let codes: Vec<String> = (0..30).map(|i| format!("CODE{i}")).collect();
        let labs: Vec<String> = (0..3).map(|i| format!("LAB{i}")).collect();
        // A day that is some sites' pay day: 2026-12-01 (Shanghai).
        let day = cst_day(time::macros::datetime!(2026-12-01 04:00 UTC).unix_timestamp()).0;
        for minute in (0..24 * 60).step_by(15) {
            let start = at(day, minute * 60);
            let recs = party_records(&sites, day, 7, (&codes, &labs), start);
            let posted: Vec<&Planned> = recs.iter().map(|(_, p)| p).filter(|p| p.t >= start).collect();
            let ids = |kind: &str, member: &str| -> std::collections::BTreeSet<String> {
                posted
                    .iter()
                    .filter(|p| p.kind == kind)
                    .map(|p| p.payload[member].as_str().unwrap_or_default().to_owned())
                    .collect()
            };
            let commissions = ids("testing.commissioned.v1", "commission_id");
            let samples = ids("testing.sample.taken.v1", "sample_id");
            let payrolls: std::collections::BTreeSet<String> = posted
                .iter()
                .filter(|p| p.kind == "wage.payroll.submitted.v1")
                .map(|p| format!("{} {}", p.payload["project_id"], p.payload["payroll_id"]))
                .collect();
            for p in &posted {
                let cited = match p.kind {
                    "testing.sample.taken.v1" => {
                        commissions.contains(p.payload["commission_id"].as_str().unwrap_or(""))
                    }
                    "testing.sample.received.v1" | "testing.report.issued.v1" => {
                        samples.contains(p.payload["sample_id"].as_str().unwrap_or(""))
                    }
                    "wage.transfer.made.v1" => {
                        payrolls.contains(&format!("{} {}", p.payload["project_id"], p.payload["payroll_id"]))
                    }
                    _ => true,
                };
                assert!(
                    cited,
                    "window from {:02}:{:02}: {} {:?} cites a record before the window",
                    minute / 60,
                    minute % 60,
                    p.kind,
                    p.payload
                );
            }
            if minute == 0 {
                assert!(!commissions.is_empty() && !payrolls.is_empty(), "a whole day holds tests and a payroll");
            }
        }
    }
}
