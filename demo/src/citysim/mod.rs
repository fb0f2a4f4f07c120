//! `siteledger simulate city`: Ningbo's construction sites on one server, at accelerated time (issue 16).
//!
//! ```text
//! siteledger simulate city                                  # 3,000 projects, one simulated hour, in-process server
//! siteledger simulate city --sim-hours 24 --speed 60       # a city-day at 60 simulated seconds per wall second
//! siteledger simulate city --url http://127.0.0.1:8080 --token slt_… --root-key D/keys/demo-city.key \
//!     --server-pid 1234 --data-dir D                      # against a running server (loopback only)
//! ```
//!
//! N projects over the ten 区县(市) and the 开发园区, each with the devices and people of a real site
//! ([`model`]: rates and distributions), and the parties that sign for them ([`parties`]: gateways, general
//! contractors, owners, supervisors, labs, the bank, the district inspectors, enrolled along the chain of authority
//! by the city bureau and the district bureaus). **All of them are simulated**: the simulator holds their keys, as
//! the demo does.
//!
//! Time: the simulated window ends at the wall clock's "now" when the run starts (or starts at `--start-hour`
//! Shanghai time on the latest day that fits), so no ordinary record is dated in the future. The window is cut into
//! ticks of `--batch-secs` simulated seconds; in each tick every site's agent posts what its devices and gate
//! produced in that tick as one `POST /v1/events` batch, and every party posts its records of the tick likewise.
//! Ticks run in order (a tick's records are all answered before the next tick is posted, so a lab's receipt never
//! overtakes the supervisor's sampling record), paced by `--speed` or as fast as the server answers. Records are
//! signed ahead of posting on `--sign-threads` blocking threads, one tick ahead.
//!
//! Faults (flags): `--burst` (one monitor sends 5,000 readings into one window, mid-run), `--offline-gateway` (a
//! gateway silent for the first quarter of the run comes back with a day's backlog), `--clock-fault` (one gateway's
//! clock runs `--clock-offset-secs` ahead). Refusals never stop the run: they are counted per code, and each refusal
//! is checked against what the fault predicts (a clock-fault record dated beyond the server's clock plus
//! `max_clock_skew` must be refused `future_occurred_at`; anything else refused is "unexpected").
//!
//! It reports ([`report`]) the ingest rate, projection lag over time (sampled from `/metrics` every second),
//! refusals by code, file sizes and bytes per record, the server's peak RSS, and the query endpoints' latencies at
//! the end (the bench's query phase), as Markdown on stdout, a CSV of the samples and a PNG plot ([`plot`]). The
//! simulated city bureau publishes the rating policy and credit rules with the registry, so the run ends with the
//! city's annual report, every enterprise's credit score and a rating decision computed at the final size from the
//! server's fold snapshots, and with `--from-zero` from record 0 too, compared byte for byte ([`folds`]).

pub mod folds;
pub mod model;
pub mod parties;
pub mod plot;
pub mod report;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use siteledger_client::{IngestClient, KeyedChain};
use siteledger_signer::{Envelope, SigningKey};
use tokio::sync::{Semaphore, mpsc};

use self::model::{Party, Planned, cst_day};
use self::parties::{City, Signer};
use crate::bench::{self, Cpu, Ctx};
use crate::rng::SplitMix64;
use siteledger_domain::rating::{self, RatingEvent, policy};

/// `siteledger simulate city` options.
#[derive(Debug, Clone, clap::Args)]
pub struct CityArgs {
    /// Drive this running server (loopback only) instead of spawning one in-process.
    #[arg(long)]
    pub url: Option<String>,
    /// With --url: a city-bureau (市住建局) token.
    #[arg(long, env = "SITELEDGER_BENCH_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// With --url: a key file the server trusts as a root.
    #[arg(long)]
    pub root_key: Option<PathBuf>,
    /// With --url: the server's process id (peak RSS and CPU from /proc).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// The server's data directory (file sizes). Without --url: where the spawned server keeps its files
    /// (default: a temporary directory, removed at the end).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Event store URL of the spawned server (sqlite:PATH or postgres://…); with --url, the store's URL when it is
    /// PostgreSQL, for its size (pg_database_size).
    #[arg(long)]
    pub store_url: Option<String>,
    /// Read-model database URL of the spawned server (default: beside the store).
    #[arg(long)]
    pub read_url: Option<String>,
    /// Projects in the city.
    #[arg(long, default_value_t = 3000)]
    pub projects: usize,
    /// Simulated hours.
    #[arg(long, default_value_t = 1.0)]
    pub sim_hours: f64,
    /// Start the simulated window at this hour (Shanghai time, 0–23) of the latest day it fits in before now;
    /// default: the window ends now.
    #[arg(long)]
    pub start_hour: Option<u32>,
    /// Simulated seconds per wall second (default: as fast as the server takes it).
    #[arg(long)]
    pub speed: Option<f64>,
    /// Stop after posting about this many records.
    #[arg(long)]
    pub records: Option<u64>,
    /// Stop posting after this many wall seconds (then wait for the read models, at most as long again).
    #[arg(long, default_value_t = 3600)]
    pub wall_secs: u64,
    /// Simulated seconds an agent collects before it posts a batch.
    #[arg(long, default_value_t = 30)]
    pub batch_secs: u32,
    /// Seconds between a working tower crane's samples (塔吊黑匣子; the issue's range is 10–30 s).
    #[arg(long, default_value_t = model::DEFAULT_CRANE_SECS, value_parser = clap::value_parser!(u32).range(5..=300))]
    pub crane_secs: u32,
    /// Seconds between a working hoist's samples (施工升降机).
    #[arg(long, default_value_t = model::DEFAULT_HOIST_SECS, value_parser = clap::value_parser!(u32).range(5..=300))]
    pub hoist_secs: u32,
    /// Requests in flight at once (agents post concurrently).
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Threads signing ahead of posting.
    #[arg(long, default_value_t = 2)]
    pub sign_threads: usize,
    /// Inject a device bursting --burst-readings readings into one window, half-way through.
    #[arg(long)]
    pub burst: bool,
    /// Readings of the bursty device.
    #[arg(long, default_value_t = 5000)]
    pub burst_readings: usize,
    /// Inject a gateway that is offline for the first quarter of the run and comes back with a day's backlog.
    #[arg(long)]
    pub offline_gateway: bool,
    /// Inject a gateway whose clock runs --clock-offset-secs ahead.
    #[arg(long)]
    pub clock_fault: bool,
    /// How far ahead the faulty clock runs.
    #[arg(long, default_value_t = 600)]
    pub clock_offset_secs: i64,
    /// The server's max_clock_skew_secs (set on a spawned server; with --url, what the server is configured with).
    #[arg(long, default_value_t = 600)]
    pub max_clock_skew_secs: u64,
    /// Concurrent clients of the query phase at the end (0: no query phase).
    #[arg(long, default_value_t = 50)]
    pub query_clients: usize,
    /// Requests per endpoint in the query phase.
    #[arg(long, default_value_t = 1000)]
    pub query_requests: usize,
    /// Skip the computations at the end (the city's annual report, every enterprise's credit score and one
    /// project's rating decision at the log's final size, resumed from the server's fold snapshots).
    #[arg(long)]
    pub no_folds: bool,
    /// Also compute each of them from record 0 (the auditor's recomputation, `from_zero=true`; time proportional
    /// to the log) and compare the bytes.
    #[arg(long)]
    pub from_zero: bool,
    /// Where to write `city-samples.csv` and `city-lag.png`.
    #[arg(long, default_value = ".")]
    pub out_dir: PathBuf,
    /// PRNG seed.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
}

impl Default for CityArgs {
    fn default() -> CityArgs {
        CityArgs {
            url: None,
            token: None,
            root_key: None,
            server_pid: None,
            data_dir: None,
            store_url: None,
            read_url: None,
            projects: 3000,
            sim_hours: 1.0,
            start_hour: None,
            speed: None,
            records: None,
            wall_secs: 3600,
            batch_secs: 30,
            crane_secs: model::DEFAULT_CRANE_SECS,
            hoist_secs: model::DEFAULT_HOIST_SECS,
            concurrency: 32,
            sign_threads: 2,
            burst: false,
            burst_readings: 5000,
            offline_gateway: false,
            clock_fault: false,
            clock_offset_secs: 600,
            max_clock_skew_secs: 600,
            query_clients: 50,
            query_requests: 1000,
            no_folds: false,
            from_zero: false,
            out_dir: PathBuf::from("."),
            seed: 2026,
        }
    }
}

/// A server to drive: its URL, a city token and a key it trusts as a root.
#[derive(Debug)]
pub struct Target {
    /// Base URL.
    pub url: String,
    /// City-bureau token.
    pub token: String,
    /// The server's process, for peak RSS (`None`: this process, when the server runs in it).
    pub server_pid: Option<u32>,
    /// The server runs in this process (CPU is split by thread names).
    pub in_process: bool,
}

/// Which project carries which fault.
const BURST_SITE: usize = 0;
const OFFLINE_SITE: usize = 1;
const CLOCK_SITE: usize = 2;

/// Refusals, checked against the faults.
#[derive(Debug, Default, Clone)]
pub struct Refusals {
    /// By code.
    pub by_code: BTreeMap<String, u64>,
    /// Clock-fault records refused `future_occurred_at`, dated beyond the server's clock plus the skew.
    pub expected: u64,
    /// Clock-fault records dated beyond the clock plus the skew when the answer came, yet accepted.
    pub missed: u64,
    /// Refusals no fault explains.
    pub unexpected: u64,
    /// The first few unexpected refusals (code and message).
    pub unexpected_examples: Vec<String>,
}

/// One sample of the server's state, taken every second.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    /// Wall seconds since the simulation started.
    pub wall: f64,
    /// Simulated seconds since the window's start, reached by the posting.
    pub sim: f64,
    /// Records in the log.
    pub log_size: f64,
    /// Records the read models are behind.
    pub lag: f64,
    /// Records accepted by the simulator's posts so far.
    pub accepted: u64,
    /// `ledger.db-wal` bytes (SQLite in a known data directory).
    pub ledger_wal: u64,
    /// `read.db-wal` bytes.
    pub read_wal: u64,
    /// Resident set of the server process, bytes.
    pub rss: u64,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Setup records (registry, keys, workforce) and the wall seconds they took, read models included.
    pub setup: (u64, f64),
    /// Records posted in the simulated window (setup excluded).
    pub posted: u64,
    /// Accepted, and already present (duplicates).
    pub accepted: u64,
    /// Duplicates.
    pub duplicates: u64,
    /// Refusals.
    pub refusals: Refusals,
    /// `(event id, position)` of every accepted record, setup included (kept only when asked).
    pub accepted_ids: Vec<(String, u64)>,
    /// Requests posted and their latencies (µs).
    pub request_micros: Vec<u64>,
    /// Wall seconds of the posting phase, and the simulated seconds it covered.
    pub wall_secs: f64,
    /// Simulated seconds covered.
    pub sim_secs: f64,
    /// Seconds from the last answer until the read models had caught up (`None`: not within the limit).
    pub drain_secs: Option<f64>,
    /// Samples.
    pub samples: Vec<Sample>,
    /// CPU of the posting phase.
    pub(crate) cpu: Option<Cpu>,
    /// Per-kind record counts of the simulated window.
    pub kinds: BTreeMap<&'static str, u64>,
    /// Whether the run stopped early (records or wall-time cap).
    pub capped: Option<String>,
    /// Window start (Unix seconds).
    pub window_start: i64,
    /// Workers in the city.
    pub workers: usize,
    /// Project ids are this prefix, `-` and five digits from 00001.
    pub project_prefix: String,
    /// The computations at the end (empty with `--no-folds`).
    pub folds: Vec<folds::FoldTime>,
    /// Why they were not measured, if they failed.
    pub folds_error: Option<String>,
}

/// One agent's batch for one tick: the request bodies (a backlog may need several), and per item the occurred_at
/// of a clock-fault record.
struct AgentBatch {
    bodies: Vec<(Vec<u8>, Vec<Option<i64>>)>,
}

struct Tick {
    t1: i64,
    batches: Vec<AgentBatch>,
    records: u64,
    kinds: BTreeMap<&'static str, u64>,
}

/// An agent: a site gateway or a party, and what it signs in a tick.
enum Job {
    Gateway(usize, Vec<Planned>),
    Party(Party, Vec<Planned>),
}

/// The simulated window: (start, end) in Unix seconds.
fn window(args: &CityArgs, now: i64) -> (i64, i64) {
    let len = (args.sim_hours * 3600.0).round().max(1.0) as i64;
    match args.start_hour {
        None => (now - len, now),
        Some(h) => {
            let (mut day, _) = cst_day(now);
            loop {
                let start = model::at(day, i64::from(h.min(23)) * 3600);
                if start + len <= now {
                    return (start, start + len);
                }
                day -= 1;
            }
        }
    }
}

fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The signers of the city, each behind its own lock (signing threads take disjoint agents).
struct Signers {
    gateways: Vec<Mutex<Signer>>,
    enterprises: Vec<Mutex<Signer>>,
    labs: Vec<Mutex<Signer>>,
    bank: Mutex<Signer>,
    inspectors: Vec<Mutex<Signer>>,
}

impl Signers {
    fn of(&self, p: Party) -> &Mutex<Signer> {
        match p {
            Party::Enterprise(i) => &self.enterprises[i],
            Party::Lab(i) => &self.labs[i],
            Party::Bank => &self.bank,
            Party::Inspector(d) => &self.inspectors[d],
        }
    }
}

fn lock(m: &Mutex<Signer>) -> std::sync::MutexGuard<'_, Signer> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Signs one agent's records of a tick into request bodies of at most 1,000 records.
fn sign_job(
    job: Job,
    signers: &Signers,
    sites: &[model::Site],
    args: &CityArgs,
    seed: u64,
) -> anyhow::Result<AgentBatch> {
    let (mut signer, planned, clock) = match job {
        Job::Gateway(i, p) => (lock(&signers.gateways[i]), p, args.clock_fault && i == CLOCK_SITE),
        Job::Party(party, p) => (lock(signers.of(party)), p, false),
    };
    let _ = (sites, seed);
    let mut bodies = Vec::new();
    for chunk in planned.chunks(1000) {
        let mut envs: Vec<Envelope> = Vec::with_capacity(chunk.len());
        let mut clocks = Vec::with_capacity(chunk.len());
        for p in chunk.iter().cloned() {
            let mut p = p;
            if p.kind == "testing.report.issued.v1" {
                signer.report_seq += 1;
                p.payload.insert("report_seq".into(), signer.report_seq.into());
            }
            let t = if clock { p.t + args.clock_offset_secs } else { p.t };
            clocks.push(clock.then_some(t));
            envs.push(signer.sign(p, t)?);
        }
        bodies.push((IngestClient::body(&envs), clocks));
    }
    Ok(AgentBatch { bodies })
}

/// Runs the city simulation against `target`, signing as the city bureau with `root` (a key the server trusts as
/// a root); `collect_ids` keeps every accepted event id and position.
pub async fn simulate(
    target: &Target,
    root: SigningKey,
    args: &CityArgs,
    collect_ids: bool,
) -> anyhow::Result<Outcome> {
    let http = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(300)).build()?;
    let tag = format!("{:06X}", (bench::Ctx::now_ms() / 1000) & 0xFF_FFFF);
    let ctx = Ctx {
        base: target.url.trim_end_matches('/').to_owned(),
        token: target.token.clone(),
        ingest: IngestClient::with_client(http.clone(), &target.url),
        http,
        root: SigningKey::from_seed(&[0; 32]),
        root_chain: siteledger_client::MemoryChain::new(),
        rng: SplitMix64::derive(args.seed, 2),
        tag: tag.clone(),
    };
    let mut out = Outcome::default();
    let resumed = bench::resume_chain(&ctx, &root.key_id().to_string()).await?;
    let fresh_root = resumed.is_none();
    let mut root = KeyedChain::new(root);
    if let Some(c) = resumed {
        root.set_chain(c);
    }
    let districts: Vec<serde_json::Value> = serde_json::from_str(&ctx.get_text("/v1/districts").await?)?;
    let zone_missing = !districts.iter().any(|d| d["code"] == crate::city::ZONE_CODE);
    // The city bureau publishes the rating policy and the credit rules unless the log holds them already (a demo
    // server publishes its own).
    let published: Vec<serde_json::Value> = serde_json::from_str(&ctx.get_text("/v1/rating-policies").await?)?;
    let has = |kind: &str| published.iter().any(|p| p["kind"] == kind);
    let mut rules = Vec::new();
    if !has(rating::POLICY) {
        rules.extend([RatingEvent::Policy(policy::notice_2020_72()), RatingEvent::Policy(policy::notice_2020_72_v2())]);
    }
    if !has(rating::CREDIT_RULES) {
        rules.push(RatingEvent::CreditRules(rating::credit::proposal_v1()));
    }

    let now = unix_now();
    let (start, end) = window(args, now);
    out.window_start = start;
    out.project_prefix = format!("CITY-{tag}");
    eprintln!(
        "city: {} projects, simulated {} … {} ({:.1} h); building the city…",
        args.projects,
        model::cst(start),
        model::cst(end),
        args.sim_hours
    );
    let mut city = City::new(args.projects.max(3), &tag, args.seed);
    out.workers = city.sites.iter().map(|s| s.workers.len()).sum();
    // Setup happens two days before the window (and before a backlog of a day).
    let t_setup = start - 2 * 86_400;
    let mut root_rng = SplitMix64::derive(args.seed, 3);
    let stages = parties::setup(&mut city, &mut root, &mut root_rng, t_setup, fresh_root, zone_missing, &rules)?;
    let setup_t0 = Instant::now();
    let mut setup_n = 0u64;
    let sem = Arc::new(Semaphore::new(args.concurrency.max(1)));
    for (i, stage) in stages.into_iter().enumerate() {
        let n: usize = stage.iter().map(Vec::len).sum();
        eprintln!("city: setup stage {}: {n} records from {} signers…", i + 1, stage.len());
        let mut tasks = Vec::new();
        for chain in stage {
            let (ingest, token, sem) = (ctx.ingest.clone(), ctx.token.clone(), Arc::clone(&sem));
            tasks.push(tokio::spawn(async move {
                let _p = sem.acquire_owned().await;
                let mut ids = Vec::new();
                for chunk in chain.chunks(2000) {
                    let a = ingest.post(&token, chunk).await?;
                    if let Some(r) = a.rejections().next() {
                        bail!("setup record {} refused: {:?} {:?}", r.index, r.code, r.message);
                    }
                    ids.extend(a.results.into_iter().filter_map(|r| Some((r.event_id?, r.position?))));
                }
                anyhow::Ok(ids)
            }));
        }
        for t in tasks {
            let ids = t.await??;
            setup_n += ids.len() as u64;
            if collect_ids {
                out.accepted_ids.extend(ids);
            }
        }
    }
    ctx.settle(Duration::from_secs(args.wall_secs.max(60))).await?;
    out.setup = (setup_n, setup_t0.elapsed().as_secs_f64());
    eprintln!("city: setup: {setup_n} records in {:.1} s (read models caught up)", out.setup.1);

    // Sampler.
    let stop = Arc::new(AtomicBool::new(false));
    let sim_reached = Arc::new(AtomicI64::new(0));
    let accepted_n = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let sampler = {
        let (stop, sim_reached, accepted_n) = (Arc::clone(&stop), Arc::clone(&sim_reached), Arc::clone(&accepted_n));
        let (http, base, token) = (ctx.http.clone(), ctx.base.clone(), ctx.token.clone());
        let pid = target.server_pid;
        let data_dir = args.data_dir.clone();
        tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let (log_size, lag) = report::metrics(&http, &base, &token).await.unwrap_or((f64::NAN, f64::NAN));
                let (ledger_wal, read_wal) = data_dir.as_deref().map_or((0, 0), report::wal_sizes);
                samples.push(Sample {
                    wall: t0.elapsed().as_secs_f64(),
                    sim: sim_reached.load(Ordering::Relaxed) as f64,
                    log_size,
                    lag,
                    accepted: accepted_n.load(Ordering::Relaxed),
                    ledger_wal,
                    read_wal,
                    rss: report::rss(pid).0,
                });
                if stop.load(Ordering::Relaxed) {
                    return samples;
                }
            }
        })
    };

    // Producer: plans and signs tick after tick on blocking threads, one tick ahead of the poster.
    let signers = Arc::new(Signers {
        gateways: city.gateways.drain(..).map(Mutex::new).collect(),
        enterprises: city.enterprise_keys.drain(..).map(Mutex::new).collect(),
        labs: city.lab_keys.drain(..).map(Mutex::new).collect(),
        bank: Mutex::new(std::mem::replace(&mut city.bank_key, dummy_signer())),
        inspectors: city.inspectors.drain(..).map(Mutex::new).collect(),
    });
    let codes = city.credit_codes();
    let lab_codes = city.lab_codes();
    let sites = Arc::new(city.sites);
    let rates = model::Rates { crane_secs: args.crane_secs, hoist_secs: args.hoist_secs };
    let (tx, mut rx) = mpsc::channel::<anyhow::Result<Tick>>(1);
    let producer = {
        let (args, signers, sites) = (args.clone(), Arc::clone(&signers), Arc::clone(&sites));
        tokio::spawn(async move {
            let step = i64::from(args.batch_secs.max(1));
            let seed = args.seed;
            let back_at = start + (end - start) / 4;
            let burst_at = start + (end - start) / 2;
            let mut party_days: HashMap<i64, Vec<(Party, Planned)>> = HashMap::new();
            let mut value_rngs: Vec<SplitMix64> =
                (0..sites.len()).map(|i| SplitMix64::derive(seed, 50_000 + i as u64)).collect();
            let mut planned_total = 0u64;
            let mut t = start;
            while t < end {
                let t1 = (t + step).min(end);
                let mut jobs = Vec::new();
                let mut kinds: BTreeMap<&'static str, u64> = BTreeMap::new();
                for (i, site) in sites.iter().enumerate() {
                    let offline = args.offline_gateway && i == OFFLINE_SITE;
                    let mut recs = if offline && t1 <= back_at {
                        Vec::new()
                    } else if offline && t < back_at {
                        // Back online: a day's backlog, then this tick.
                        model::gateway_records(site, rates, back_at - 86_400, t1, seed, &mut value_rngs[i])
                    } else {
                        model::gateway_records(site, rates, t, t1, seed, &mut value_rngs[i])
                    };
                    if args.burst && i == BURST_SITE && (t..t1).contains(&burst_at) {
                        recs.extend(model::burst(site, burst_at, args.burst_readings, &mut value_rngs[i]));
                        recs.sort_by_key(|p| p.t);
                    }
                    if !recs.is_empty() {
                        jobs.push(Job::Gateway(i, recs));
                    }
                }
                let mut by_party: BTreeMap<Party, Vec<Planned>> = BTreeMap::new();
                let (d0, _) = cst_day(t);
                let (d1, _) = cst_day(t1 - 1);
                for day in d0..=d1 {
                    let list = party_days
                        .entry(day)
                        .or_insert_with(|| model::party_records(&sites, day, seed, (&codes, &lab_codes), start));
                    for (p, r) in list.iter().filter(|(_, r)| r.t >= t && r.t < t1 && r.t >= start) {
                        by_party.entry(*p).or_default().push(r.clone());
                    }
                }
                party_days.retain(|d, _| *d >= d0);
                jobs.extend(by_party.into_iter().map(|(p, r)| Job::Party(p, r)));
                let mut records = 0;
                for j in &jobs {
                    let (Job::Gateway(_, r) | Job::Party(_, r)) = j;
                    records += r.len() as u64;
                    for p in r {
                        *kinds.entry(p.kind).or_default() += 1;
                    }
                }
                // Sign on blocking threads, the jobs dealt round-robin.
                let threads = args.sign_threads.max(1);
                let mut parts: Vec<Vec<Job>> = (0..threads).map(|_| Vec::new()).collect();
                for (k, j) in jobs.into_iter().enumerate() {
                    parts[k % threads].push(j);
                }
                let mut handles = Vec::new();
                for part in parts {
                    let (signers, sites, args) = (Arc::clone(&signers), Arc::clone(&sites), args.clone());
                    handles.push(tokio::task::spawn_blocking(move || {
                        part.into_iter()
                            .map(|j| sign_job(j, &signers, &sites, &args, seed))
                            .collect::<anyhow::Result<Vec<_>>>()
                    }));
                }
                let mut batches = Vec::new();
                for h in handles {
                    match h.await {
                        Ok(Ok(b)) => batches.extend(b),
                        Ok(Err(e)) => {
                            let _ = tx.send(Err(e)).await;
                            return;
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e.into())).await;
                            return;
                        }
                    }
                }
                planned_total += records;
                if tx.send(Ok(Tick { t1, batches, records, kinds })).await.is_err() {
                    return;
                }
                if args.records.is_some_and(|cap| planned_total >= cap) {
                    return;
                }
                t = t1;
            }
        })
    };

    // Poster.
    let skew = i64::try_from(args.max_clock_skew_secs).unwrap_or(i64::MAX);
    let wall_cap = Duration::from_secs(args.wall_secs.max(1));
    let cpu0 = Cpu::mark();
    let refusals = Arc::new(Mutex::new(Refusals::default()));
    let ids = Arc::new(Mutex::new(Vec::new()));
    let lat = Arc::new(Mutex::new(Vec::new()));
    let mut last_t1 = start;
    while let Some(tick) = rx.recv().await {
        let tick = tick?;
        if let Some(speed) = args.speed {
            let due = t0 + Duration::from_secs_f64(((last_t1 - start) as f64 / speed.max(1e-6)).max(0.0));
            tokio::time::sleep_until(due.into()).await;
        }
        if t0.elapsed() > wall_cap {
            out.capped = Some(format!("wall-time cap of {} s reached", args.wall_secs));
            break;
        }
        let mut tasks = Vec::new();
        for batch in tick.batches {
            let (ingest, token, sem) = (ctx.ingest.clone(), ctx.token.clone(), Arc::clone(&sem));
            let (refusals, ids, lat, accepted_n) =
                (Arc::clone(&refusals), Arc::clone(&ids), Arc::clone(&lat), Arc::clone(&accepted_n));
            tasks.push(tokio::spawn(async move {
                let _p = sem.acquire_owned().await;
                let mut dup = 0u64;
                for (body, clocks) in batch.bodies {
                    let sent = unix_now();
                    let t = Instant::now();
                    let a = ingest.post_body(&token, body).await?;
                    lat.lock().unwrap_or_else(PoisonError::into_inner).push(bench_micros(t.elapsed()));
                    let answered = unix_now();
                    accepted_n.fetch_add(a.accepted as u64, Ordering::Relaxed);
                    dup += a.duplicates as u64;
                    let mut r = refusals.lock().unwrap_or_else(PoisonError::into_inner);
                    for item in &a.results {
                        let occ = clocks.get(item.index).copied().flatten();
                        match (&item.code, item.status) {
                            (Some(code), siteledger_domain::wire::ItemStatus::Rejected) => {
                                *r.by_code.entry(code.clone()).or_default() += 1;
                                if code == "future_occurred_at" && occ.is_some_and(|o| o > sent + skew) {
                                    r.expected += 1;
                                } else {
                                    r.unexpected += 1;
                                    if r.unexpected_examples.len() < 5 {
                                        r.unexpected_examples
                                            .push(format!("{code}: {}", item.message.clone().unwrap_or_default()));
                                    }
                                }
                            }
                            _ => {
                                if occ.is_some_and(|o| o > answered + skew + 1) {
                                    r.missed += 1;
                                }
                            }
                        }
                    }
                    drop(r);
                    if collect_ids {
                        let mut ids = ids.lock().unwrap_or_else(PoisonError::into_inner);
                        ids.extend(
                            a.results
                                .into_iter()
                                .filter(|r| r.status == siteledger_domain::wire::ItemStatus::Accepted)
                                .filter_map(|r| Some((r.event_id?, r.position?))),
                        );
                    }
                }
                anyhow::Ok(dup)
            }));
        }
        for t in tasks {
            out.duplicates += t.await??;
        }
        out.posted += tick.records;
        for (k, n) in tick.kinds {
            *out.kinds.entry(k).or_default() += n;
        }
        last_t1 = tick.t1;
        sim_reached.store(tick.t1 - start, Ordering::Relaxed);
        if args.records.is_some_and(|cap| out.posted >= cap) {
            out.capped = Some(format!("record cap of {} reached", args.records.unwrap_or(0)));
            break;
        }
    }
    drop(rx);
    let _ = producer.await;
    out.wall_secs = t0.elapsed().as_secs_f64();
    out.sim_secs = (last_t1 - start) as f64;
    out.cpu = Some(Cpu::since(cpu0));
    out.accepted = accepted_n.load(Ordering::Relaxed);
    eprintln!(
        "city: posted {} records ({} accepted) covering {:.0} simulated s in {:.1} s; waiting for the read models…",
        out.posted, out.accepted, out.sim_secs, out.wall_secs
    );
    let drain0 = Instant::now();
    out.drain_secs = ctx.settle(wall_cap).await.ok().map(|_| drain0.elapsed().as_secs_f64());
    if !args.no_folds {
        let as_of = model::cst_date(end - 1);
        let measured = async {
            let (size, _) = report::metrics(&ctx.http, &ctx.base, &ctx.token).await?;
            anyhow::ensure!(size.is_finite() && size > 0.0, "/metrics gave no log size ({size})");
            let plan = folds::Plan {
                at_size: size as u64,
                year: as_of.get(..4).and_then(|y| y.parse().ok()).context("the window's year")?,
                as_of: as_of.clone(),
                project_id: format!("{}-{:05}", out.project_prefix, 1),
                from_zero: args.from_zero,
            };
            eprintln!("city: computing the annual report, credit scores and a rating decision at {}…", plan.at_size);
            folds::measure(&ctx.http, &ctx.base, &ctx.token, &plan).await
        };
        match measured.await {
            Ok(f) => out.folds = f,
            Err(e) => out.folds_error = Some(format!("{e:#}")),
        }
    }
    // One more sample at lag 0.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    stop.store(true, Ordering::Relaxed);
    out.samples = sampler.await.unwrap_or_default();
    out.refusals = std::mem::take(&mut *refusals.lock().unwrap_or_else(PoisonError::into_inner));
    if collect_ids {
        out.accepted_ids.extend(std::mem::take(&mut *ids.lock().unwrap_or_else(PoisonError::into_inner)));
    }
    out.request_micros = std::mem::take(&mut *lat.lock().unwrap_or_else(PoisonError::into_inner));
    Ok(out)
}

fn bench_micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn dummy_signer() -> Signer {
    Signer { chain: KeyedChain::new(SigningKey::from_seed(&[0; 32])), rng: SplitMix64::new(0), report_seq: 0 }
}

/// `siteledger simulate city`: spawns the server (or drives `--url`), runs the city and prints the report.
pub async fn run(args: CityArgs) -> anyhow::Result<()> {
    let _ = bench::raise_nofile();
    let mut spawned = None;
    let mut temp = None;
    let (target, root) = match &args.url {
        Some(url) => {
            bench::check_loopback(url)?;
            let token = args.token.clone().context("--url needs --token (a city-bureau token)")?;
            let path =
                args.root_key.clone().context("--url needs --root-key (a key file the server trusts as a root)")?;
            let root = SigningKey::read_file(&path).with_context(|| format!("reading {}", path.display()))?;
            (Target { url: url.clone(), token, server_pid: args.server_pid, in_process: false }, root)
        }
        None => {
            let root = SigningKey::generate()?;
            let dir = match &args.data_dir {
                Some(d) => {
                    std::fs::create_dir_all(d)?;
                    d.clone()
                }
                None => {
                    let t = tempfile::Builder::new().prefix("siteledger-city-").tempdir()?;
                    let p = t.path().to_path_buf();
                    temp = Some(t);
                    p
                }
            };
            let config = siteledger_api::config::Config {
                data_dir: dir.clone(),
                listen: "127.0.0.1:0".parse()?,
                log_origin: "city.siteledger.example/log".into(),
                trust_roots: vec![root.public().to_base64()],
                max_clock_skew_secs: args.max_clock_skew_secs,
                store_url: args.store_url.clone(),
                read_url: args.read_url.clone(),
                ..siteledger_api::config::Config::default()
            };
            eprintln!("city: spawning an in-process server (own runtime, 2 workers, data in {})…", dir.display());
            let (server, url, token) = bench::InProcess::spawn_config(config).await?;
            spawned = Some(server);
            (Target { url, token, server_pid: None, in_process: true }, root)
        }
    };
    let mut args = args;
    if args.data_dir.is_none() {
        args.data_dir = temp.as_ref().map(|t| t.path().to_path_buf());
    }
    let result = simulate(&target, root, &args, false).await;
    let files = report::Files::measure(args.data_dir.as_deref(), args.store_url.as_deref()).await;
    let query = match &result {
        Ok(_) if args.query_clients > 0 => {
            let ctx = report::query_ctx(&target)?;
            let ids: Vec<String> = result
                .as_ref()
                .map(|o| (1..=16.min(args.projects)).map(|i| format!("{}-{i:05}", o.project_prefix)).collect())
                .unwrap_or_default();
            let endpoints = bench::query_endpoints(&[]);
            bench::phase_query(&ctx, &ids, &endpoints, args.query_clients, args.query_requests, None).await.ok()
        }
        _ => None,
    };
    if let Some(s) = spawned {
        s.stop().await;
    }
    let outcome = result?;
    let md = report::markdown(&args, &target, &outcome, &files, query);
    println!("{md}");
    std::fs::create_dir_all(&args.out_dir)?;
    let csv = args.out_dir.join("city-samples.csv");
    std::fs::write(&csv, report::csv(&outcome.samples))?;
    let png = args.out_dir.join("city-lag.png");
    std::fs::write(&png, plot::lag_png(&outcome.samples))?;
    eprintln!("city: wrote {} and {}", csv.display(), png.display());
    drop(temp);
    Ok(())
}
