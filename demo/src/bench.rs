//! `siteledger bench`: a bounded load run against a SiteLedger server on this machine, printing a Markdown table
//! for BENCHMARKS.md.
//!
//! ```text
//! siteledger bench                                     # spawns its own server (127.0.0.1:0, temp data dir)
//! siteledger bench --url http://127.0.0.1:8080 --token slt_… --root-key DATA_DIR/keys/demo-city.key
//! siteledger bench --phases query,feed --subscribers 2000 --feed-seconds 20
//! ```
//!
//! Phases (each bounded in count and time; the command stops by itself):
//!
//! 1. **ingest**: `--writers` concurrent writers, each with its own enrolled gateway key, post pre-signed
//!    `env.dust_noise.reading.v1` records (with a few `alarm.raised.v1` / `alarm.cleared.v1`) in batches of 1, 64
//!    and 1024. Reports events/s and request latency p50/p99/max, then how long the read models took to catch up.
//! 2. **query**: `--clients` concurrent clients send `--requests` requests to each of `/v1/projects` (every
//!    project, and a keyset page `?limit=50`),
//!    `/v1/districts`, `/v1/alarms` (the API's default page of up to 500, and `?limit=50`),
//!    `/v1/projects/{id}/events` and the dashboard `/` (after a warm-up pass), once back to back and once paced
//!    (`--pace-ms`).
//!    Reports p50/p99/max latency and throughput.
//! 3. **feed**: `--subscribers` concurrent `GET /v1/feed` Server-Sent-Events subscribers; one writer publishes
//!    `--feed-rate` records per second for `--feed-seconds`. Each record carries its publish time (the
//!    `occurred_at`, microseconds), so every subscriber measures publish → received. Reports p50/p99/max and
//!    deliveries missed.
//!
//! Without `--url` the bench spawns the server in-process on its own Tokio runtime (2 worker threads), with a
//! temporary data directory, no demo, and a fresh root key it trusts; it then sets up a registry like the demo's
//! (the ten 区县(市) and a 开发园区, 15 enterprises, 42 projects) signed by that root. With `--url` it needs a city
//! token and a key file the server trusts as a root (a `--demo` server trusts `<data_dir>/keys/demo-city.key`);
//! it resumes that key's chain from the server (`/v1/keys`, `/v1/log/leaves/{i}`). Only loopback URLs are
//! accepted. The client runs on the same machine as the server: on a small machine the figures include the
//! client's own CPU use.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::StreamExt;
use serde_json::{Map, Value, json};
use siteledger_signer::{Envelope, SigningKey};
use time::OffsetDateTime;
use tokio::sync::{Semaphore, oneshot, watch};

use crate::city::{self, DISTRICTS, ZONE_CODE, ZONE_NAME};
use crate::rng::SplitMix64;
use siteledger_api::auth::Role;
use siteledger_api::config::Config;
use siteledger_client::IngestClient;
use siteledger_client::MemoryChain as Chain;

/// A bench phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Phase {
    /// Pre-signed ingest at batch sizes 1, 64, 1024.
    Ingest,
    /// Dashboard and query endpoints under concurrent clients.
    Query,
    /// Live-feed subscribers and delivery latency.
    Feed,
}

/// `siteledger bench` options.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Drive this running server (loopback only) instead of spawning one in-process.
    #[arg(long)]
    pub url: Option<String>,
    /// With --url: a city-bureau (市住建局) token.
    #[arg(long, env = "SITELEDGER_BENCH_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// With --url: a key file the server trusts as a root (a --demo server trusts <data_dir>/keys/demo-city.key).
    #[arg(long)]
    pub root_key: Option<PathBuf>,
    /// Phases to run, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "ingest,query,feed")]
    pub phases: Vec<Phase>,
    /// Concurrent writers in the ingest phase.
    #[arg(long, default_value_t = 16)]
    pub writers: usize,
    /// Multiplies the ingest phase's request counts (400, 40 and 6 requests per writer at batch 1, 64, 1024).
    #[arg(long, default_value_t = 1.0)]
    pub ingest_scale: f64,
    /// Concurrent clients in the query phase.
    #[arg(long, default_value_t = 200)]
    pub clients: usize,
    /// Measured requests per endpoint in the query phase (in each of its two runs).
    #[arg(long, default_value_t = 4000)]
    pub requests: usize,
    /// Paced query run: each client sends one request every this many milliseconds (0: no paced run).
    #[arg(long, default_value_t = 1000)]
    pub pace_ms: u64,
    /// Concurrent live-feed subscribers.
    #[arg(long, default_value_t = 5000)]
    pub subscribers: usize,
    /// Records published per second during the feed phase.
    #[arg(long, default_value_t = 10)]
    pub feed_rate: u32,
    /// Seconds of publishing in the feed phase.
    #[arg(long, default_value_t = 30)]
    pub feed_seconds: u32,
    /// PRNG seed (event ids and values).
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// With --url: measure the query phase only and write nothing (no registry, no writer keys, no records, no
    /// --root-key): for a server whose log is what it should be, e.g. a city run's. The timeline endpoint asks for
    /// the first 16 projects the token may see.
    #[arg(long, requires = "url")]
    pub read_only: bool,
    /// An endpoint the query phase measures instead of its seven (repeatable): a path under `/v1/` is asked with the
    /// token as a bearer token, any other as a dashboard page with the token's cookie; `{id}` stands for a project.
    #[arg(long = "query-path")]
    pub query_paths: Vec<String>,
}

/// The query phase's endpoints unless `--query-path` names others: (path, asked as a dashboard page).
pub(crate) const QUERY_ENDPOINTS: [(&str, bool); 7] = [
    ("/v1/projects", false),
    ("/v1/projects?limit=50", false),
    ("/v1/districts", false),
    ("/v1/alarms", false),
    ("/v1/alarms?limit=50", false),
    ("/v1/projects/{id}/events", false),
    ("/", true),
];

/// The endpoints `--query-path` names, or [`QUERY_ENDPOINTS`].
pub(crate) fn query_endpoints(paths: &[String]) -> Vec<(String, bool)> {
    if paths.is_empty() {
        return QUERY_ENDPOINTS.iter().map(|(p, c)| ((*p).to_owned(), *c)).collect();
    }
    paths.iter().map(|p| (p.clone(), !p.starts_with("/v1/"))).collect()
}

/// Latency summary.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    /// Samples.
    pub n: usize,
    /// Median.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Maximum.
    pub max: Duration,
}

impl Summary {
    /// Summarises latencies in microseconds.
    pub fn of_micros(mut v: Vec<u64>) -> Summary {
        if v.is_empty() {
            return Summary::default();
        }
        v.sort_unstable();
        let q = |p: f64| {
            let i = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
            Duration::from_micros(v[i])
        };
        Summary { n: v.len(), p50: q(0.50), p99: q(0.99), max: Duration::from_micros(v[v.len() - 1]) }
    }
}

/// Milliseconds with one decimal (two under 10 ms).
pub(crate) fn ms(d: Duration) -> String {
    let x = d.as_secs_f64() * 1000.0;
    if x < 10.0 { format!("{x:.2} ms") } else { format!("{x:.1} ms") }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

// -------------------------------------------------------------------------------------------------------------
// Target: an in-process server or a running one
// -------------------------------------------------------------------------------------------------------------

pub(crate) struct InProcess {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: Option<tempfile::TempDir>,
}

impl InProcess {
    /// Spawns the server on its own runtime (2 workers) in its own thread; returns it with its address and a
    /// city token.
    async fn spawn(root: &SigningKey) -> anyhow::Result<(InProcess, String, String)> {
        let dir = tempfile::Builder::new().prefix("siteledger-bench-").tempdir()?;
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            listen: "127.0.0.1:0".parse()?,
            log_origin: "bench.siteledger.example/log".into(),
            trust_roots: vec![root.public().to_base64()],
            ..Config::default()
        };
        let (mut server, url, token) = InProcess::spawn_config(config).await?;
        server._dir = Some(dir);
        Ok((server, url, token))
    }

    /// Spawns the server with `config` on its own runtime (2 workers) in its own thread; returns it with its
    /// address and a city token. The caller keeps the data directory alive.
    pub(crate) async fn spawn_config(config: Config) -> anyhow::Result<(InProcess, String, String)> {
        let (ready_tx, ready_rx) = oneshot::channel::<anyhow::Result<(String, String)>>();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new().name("bench-server".into()).spawn(move || {
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("siteledger-server")
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(e.into()));
                    return;
                }
            };
            rt.block_on(async move {
                let server = match siteledger_api::server::spawn(config).await {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                match server.state.tokens.create("bench (city)", Role::City, None, 1).await {
                    Ok(t) => {
                        let _ = ready_tx.send(Ok((server.url(), t.secret)));
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(anyhow::anyhow!("token: {e}")));
                    }
                }
                let _ = stop_rx.await;
                server.shutdown().await;
            });
        })?;
        let (url, token) = ready_rx.await.context("the in-process server thread ended")??;
        Ok((InProcess { stop: Some(stop_tx), thread: Some(thread), _dir: None }, url, token))
    }

    pub(crate) async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}

/// Refuses anything but loopback targets.
pub(crate) fn check_loopback(url: &str) -> anyhow::Result<()> {
    let u = reqwest::Url::parse(url).with_context(|| format!("--url {url:?} is not a URL"))?;
    let host = u.host_str().unwrap_or("");
    let ok = host.eq_ignore_ascii_case("localhost")
        || host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !ok {
        bail!(
            "the bench drives servers on this machine only: --url must be a loopback address (127.0.0.0/8, ::1, localhost)"
        );
    }
    Ok(())
}

/// What the bench talks to.
pub(crate) struct Ctx {
    pub(crate) base: String,
    pub(crate) token: String,
    pub(crate) http: reqwest::Client,
    pub(crate) ingest: IngestClient,
    pub(crate) root: SigningKey,
    pub(crate) root_chain: Chain,
    pub(crate) rng: SplitMix64,
    pub(crate) tag: String,
}

impl Ctx {
    /// A context that only reads from the server at `url` with `token` (its root key is a placeholder that signs
    /// nothing the server would accept).
    pub(crate) fn reader(url: &str, token: String) -> anyhow::Result<Ctx> {
        let http = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(120)).build()?;
        Ok(Ctx {
            base: url.trim_end_matches('/').to_owned(),
            token,
            ingest: IngestClient::with_client(http.clone(), url),
            http,
            root: SigningKey::from_seed(&[0; 32]),
            root_chain: Chain::new(),
            rng: SplitMix64::new(1),
            tag: String::new(),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) async fn get_text(&self, path: &str) -> anyhow::Result<String> {
        let r = self.http.get(self.url(path)).bearer_auth(&self.token).send().await?;
        let status = r.status();
        let body = r.text().await?;
        if !status.is_success() {
            bail!("GET {path}: HTTP {status}: {body}");
        }
        Ok(body)
    }

    /// A gauge from `/metrics`.
    pub(crate) async fn metric(&self, name: &str) -> anyhow::Result<f64> {
        let text = self.get_text("/metrics").await?;
        text.lines()
            .find_map(|l| {
                l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')).and_then(|v| v.trim().parse().ok())
            })
            .with_context(|| format!("/metrics has no {name}"))
    }

    /// Waits (bounded) until the read models have caught up with the log; returns how long it took.
    pub(crate) async fn settle(&self, limit: Duration) -> anyhow::Result<Duration> {
        let t0 = Instant::now();
        loop {
            if self.metric("siteledger_projection_lag").await? <= 0.0 {
                return Ok(t0.elapsed());
            }
            if t0.elapsed() > limit {
                bail!("the read models did not catch up within {limit:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub(crate) fn now_ms() -> u64 {
        u64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
    }

    /// Signs the next root (city bureau) record.
    fn sign_root(&mut self, stream: &str, kind: &str, payload: Map<String, Value>) -> anyhow::Result<Envelope> {
        let id = self.rng.uuid_v7(Self::now_ms());
        Ok(self.root_chain.sign(&self.root, id, stream, kind, &utc_micros(OffsetDateTime::now_utc()), payload)?)
    }

    async fn post_all_accepted(&self, envs: &[Envelope]) -> anyhow::Result<()> {
        let a = self.ingest.post(&self.token, envs).await?;
        if let Some(r) = a.rejections().next() {
            bail!("setup record {} rejected: {:?} {:?}", r.index, r.code, r.message);
        }
        Ok(())
    }
}

/// `YYYY-MM-DDThh:mm:ss.ffffffZ`.
fn utc_micros(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The root key's chain on a running server: `None` if the key is not enrolled there yet.
async fn resume_root(ctx: &Ctx) -> anyhow::Result<Option<Chain>> {
    resume_chain(ctx, &ctx.root.key_id().to_string()).await
}

/// The chain of key `key_id` on a running server: `None` if the key is not enrolled there yet.
pub(crate) async fn resume_chain(ctx: &Ctx, key_id: &str) -> anyhow::Result<Option<Chain>> {
    ctx.settle(Duration::from_secs(120)).await?;
    let keys: Vec<Value> = serde_json::from_str(&ctx.get_text("/v1/keys").await?)?;
    let key_id = key_id.to_owned();
    let Some(row) = keys.iter().find(|k| k["key_id"] == key_id.as_str()) else { return Ok(None) };
    let (Some(seq), Some(pos)) = (row["last_seq"].as_u64(), row["last_position"].as_u64()) else {
        bail!("the server lists key {key_id} without its latest record");
    };
    let r = ctx.http.get(ctx.url(&format!("/v1/log/leaves/{pos}"))).send().await?.error_for_status()?;
    let env = Envelope::parse(&r.bytes().await?)?;
    if env.signer().to_string() != key_id || env.seq() != seq {
        bail!("leaf {pos} is not key {key_id}'s record seq {seq}");
    }
    Ok(Some(Chain::after(seq, env.leaf_hash())))
}

/// A writer: its key, chain and project.
struct Writer {
    key: SigningKey,
    chain: Chain,
    project_id: String,
    device: String,
    rng: SplitMix64,
    n: u64,
}

impl Writer {
    /// The writer's next record: mostly readings, an alarm raised every 250 records and cleared 100 later.
    fn next(&mut self, now: OffsetDateTime) -> anyhow::Result<Envelope> {
        self.n += 1;
        let pid = &self.project_id;
        let at = utc_micros(now);
        let ms = u64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        let id = self.rng.uuid_v7(ms);
        let (stream, kind, payload) = match self.n % 250 {
            100 => (
                format!("project/{pid}/alarms"),
                "alarm.raised.v1",
                obj(
                    json!({"project_id": pid, "alarm_id": format!("{}-{}", self.device, self.n), "source": self.device,
                    "category": "dust", "level": "warning", "message": "PM10 小时均值 152.3 µg/m³ 超过预警值 150",
                    "value": "152.3", "threshold": "150"}),
                ),
            ),
            200 => (
                format!("project/{pid}/alarms"),
                "alarm.cleared.v1",
                obj(json!({"project_id": pid, "alarm_id": format!("{}-{}", self.device, self.n - 100),
                    "note": "已启动雾炮喷淋降尘，PM10 小时均值回落至 98.4 µg/m³"})),
            ),
            _ => {
                let pm10 = self.rng.range_f64(35.0, 140.0);
                (
                    format!("project/{pid}/env/{}", self.device),
                    "env.dust_noise.reading.v1",
                    obj(json!({"project_id": pid, "device_id": self.device,
                        "pm10_ug_m3": crate::sim::fmt1(pm10),
                        "pm25_ug_m3": crate::sim::fmt1(pm10 * 0.55),
                        "noise_db_a": crate::sim::fmt1(self.rng.range_f64(48.0, 72.0))})),
                )
            }
        };
        Ok(self.chain.sign(&self.key, id, &stream, kind, &at, payload)?)
    }
}

/// Sets up the bench's registry (signed by the root as the city bureau) and enrols `writers` gateway keys.
async fn setup(ctx: &mut Ctx, writers: usize) -> anyhow::Result<(Vec<String>, Vec<Writer>)> {
    let mut envs = Vec::new();
    if ctx.root_chain.next_seq() == 1 {
        let pk = *ctx.root.public();
        envs.push(ctx.sign_root(
            "registry/keys",
            "ledger.key.enrolled.v1",
            city::enrollment(&pk, "宁波市住房和城乡建设局（压测）", "city_bureau"),
        )?);
    }
    // On a shared server the zone may exist already (a second registration would be refused); the enterprises get
    // credit codes of this run, so they never collide.
    let districts: Vec<Value> = serde_json::from_str(&ctx.get_text("/v1/districts").await?)?;
    if !districts.iter().any(|d| d["code"] == ZONE_CODE) {
        envs.push(ctx.sign_root(
            "registry/zones",
            "registry.zone.added.v1",
            obj(json!({"code": ZONE_CODE, "name": ZONE_NAME})),
        )?);
    }
    let enterprises = city::enterprises_with(ctx.rng.next_u64());
    for e in &enterprises {
        envs.push(ctx.sign_root(
            "registry/enterprises",
            "registry.enterprise.registered.v1",
            obj(json!({"credit_code": e.credit_code, "name": e.name, "types": e.types})),
        )?);
    }
    let projects = city::projects(&format!("BENCH-{}", ctx.tag), &enterprises);
    for p in &projects {
        envs.push(ctx.sign_root("registry/projects", "registry.project.registered.v1", p.payload.clone())?);
    }
    let mut ws = Vec::new();
    for i in 0..writers {
        let key = SigningKey::generate()?;
        let p = &projects[i % projects.len()];
        let device = format!("BW-{i:03}");
        envs.push(ctx.sign_root(
            "registry/keys",
            "ledger.key.enrolled.v1",
            city::enrollment(key.public(), &format!("project/{}/gateway/{device}", p.project_id), "gateway"),
        )?);
        ws.push(Writer {
            key,
            chain: Chain::new(),
            project_id: p.project_id.clone(),
            device,
            rng: SplitMix64::derive(ctx.rng.next_u64(), i as u64),
            n: 0,
        });
    }
    ctx.post_all_accepted(&envs).await?;
    Ok((projects.into_iter().map(|p| p.project_id).collect(), ws))
}

// -------------------------------------------------------------------------------------------------------------
// Phases
// -------------------------------------------------------------------------------------------------------------

struct IngestRow {
    batch: usize,
    requests: usize,
    events: usize,
    secs: f64,
    lat: Summary,
    rejected: usize,
    settle: Option<Duration>,
    cpu: Cpu,
}

async fn phase_ingest(ctx: &Ctx, writers: &mut Vec<Writer>, scale: f64) -> anyhow::Result<Vec<IngestRow>> {
    let mut rows = Vec::new();
    for (batch, per_writer) in [(1usize, 400.0), (64, 40.0), (1024, 6.0)] {
        let requests_per_writer = ((per_writer * scale).round() as usize).max(1);
        eprintln!("bench: ingest: signing {} × {requests_per_writer} × {batch} records…", writers.len());
        // Pre-sign every request body (off the async workers).
        let mut handles = Vec::new();
        for mut w in std::mem::take(writers) {
            handles.push(tokio::task::spawn_blocking(move || -> anyhow::Result<(Writer, Vec<Vec<u8>>)> {
                let mut out = Vec::with_capacity(requests_per_writer);
                for _ in 0..requests_per_writer {
                    let now = OffsetDateTime::now_utc();
                    let envs = (0..batch).map(|_| w.next(now)).collect::<anyhow::Result<Vec<_>>>()?;
                    out.push(IngestClient::body(&envs));
                }
                Ok((w, out))
            }));
        }
        let mut bodies: Vec<Vec<Vec<u8>>> = Vec::new();
        for h in handles {
            let (w, b) = h.await??;
            writers.push(w);
            bodies.push(b);
        }
        eprintln!("bench: ingest: posting batches of {batch}…");
        let cpu0 = Cpu::mark();
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        for b in bodies {
            let ingest = ctx.ingest.clone();
            let token = ctx.token.clone();
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::with_capacity(b.len());
                let mut rejected = 0;
                for body in b {
                    let t = Instant::now();
                    let a = ingest.post_body(&token, body).await?;
                    lat.push(micros(t.elapsed()));
                    rejected += a.rejected;
                    if let Some(r) = a.rejections().next() {
                        tracing::warn!(code = ?r.code, message = ?r.message, "bench record rejected");
                    }
                }
                anyhow::Ok((lat, rejected))
            }));
        }
        let mut lat = Vec::new();
        let mut rejected = 0;
        for t in tasks {
            let (l, r) =
                tokio::time::timeout(Duration::from_secs(900), t).await.context("ingest phase timed out")???;
            lat.extend(l);
            rejected += r;
        }
        let secs = t0.elapsed().as_secs_f64();
        let cpu = Cpu::since(cpu0);
        let requests = lat.len();
        let settle = ctx.settle(Duration::from_secs(900)).await.ok();
        rows.push(IngestRow {
            batch,
            requests,
            events: requests * batch,
            secs,
            lat: Summary::of_micros(lat),
            rejected,
            settle,
            cpu,
        });
    }
    Ok(rows)
}

/// One run of a query endpoint.
pub(crate) struct QueryRun {
    /// Response body bytes, in all.
    bytes: usize,
    requests: usize,
    secs: f64,
    lat: Summary,
    errors: usize,
    status: u16,
    cpu: Cpu,
}

pub(crate) struct QueryRow {
    path: String,
    /// Back to back: every client sends its next request as soon as the previous answer is read.
    saturated: QueryRun,
    /// Paced: every client sends one request per `pace` (open loop per client).
    paced: Option<QueryRun>,
}

/// `clients` concurrent clients send `total` GETs of `path` (`{id}` rotates over `ids`); with `pace`, each client
/// sends one request per `pace` (starts spread over one pace), else back to back.
#[expect(clippy::too_many_arguments, reason = "one call site per run kind; a struct would only rename them")]
async fn query_run(
    http: &reqwest::Client,
    ctx: &Ctx,
    path: &str,
    cookie: bool,
    ids: &Arc<Vec<String>>,
    clients: usize,
    total: usize,
    pace: Option<Duration>,
) -> QueryRun {
    let clients = clients.clamp(1, total.max(1));
    let next = Arc::new(AtomicUsize::new(0));
    let cpu0 = Cpu::mark();
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    let path: Arc<str> = Arc::from(path);
    for c in 0..clients {
        let (http, base, token, ids, next, path) =
            (http.clone(), ctx.base.clone(), ctx.token.clone(), Arc::clone(ids), Arc::clone(&next), Arc::clone(&path));
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let (mut errors, mut status, mut bytes) = (0usize, 0u16, 0usize);
            let start = tokio::time::Instant::now();
            let offset = pace.map(|p| p.mul_f64(c as f64 / clients as f64));
            for k in 0u32.. {
                if let (Some(p), Some(o)) = (pace, offset) {
                    tokio::time::sleep_until(start + o + p * k).await;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let path = path.replace("{id}", &ids[i % ids.len().max(1)]);
                let mut req = http.get(format!("{base}{path}")).bearer_auth(&token);
                if cookie {
                    req = req.header(reqwest::header::COOKIE, format!("siteledger_token={token}"));
                }
                let t = Instant::now();
                let ok = match req.send().await {
                    Ok(r) => {
                        status = r.status().as_u16();
                        let success = r.status().is_success();
                        match r.bytes().await {
                            Ok(b) => {
                                bytes += b.len();
                                success
                            }
                            Err(_) => false,
                        }
                    }
                    Err(_) => false,
                };
                lat.push(micros(t.elapsed()));
                errors += usize::from(!ok);
            }
            (lat, errors, status, bytes)
        }));
    }
    let mut lat = Vec::new();
    let (mut errors, mut status, mut bytes) = (0, 0, 0);
    for t in tasks {
        if let Ok((l, e, s, b)) = t.await {
            lat.extend(l);
            errors += e;
            status = status.max(s);
            bytes += b;
        }
    }
    QueryRun {
        bytes,
        requests: lat.len(),
        secs: t0.elapsed().as_secs_f64(),
        lat: Summary::of_micros(lat),
        errors,
        status,
        cpu: Cpu::since(cpu0),
    }
}

pub(crate) async fn phase_query(
    ctx: &Ctx,
    projects: &[String],
    endpoints: &[(String, bool)],
    clients: usize,
    requests: usize,
    pace: Option<Duration>,
) -> anyhow::Result<Vec<QueryRow>> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(clients)
        .timeout(Duration::from_secs(60))
        .build()?;
    // The writers' projects (the ones with data) for the timeline endpoint.
    let ids = Arc::new(projects.iter().take(16).cloned().collect::<Vec<_>>());
    let mut rows = Vec::new();
    for (path, cookie) in endpoints {
        let (path, cookie) = (path.as_str(), *cookie);
        eprintln!("bench: query: {path}: warm-up, then {requests} requests from {clients} clients back to back…");
        let warm = tokio::time::timeout(
            Duration::from_secs(300),
            query_run(&http, ctx, path, cookie, &ids, clients, clients, None),
        )
        .await
        .context("query warm-up timed out")?;
        if warm.status == 404 {
            eprintln!("bench: query: {path} answers 404; skipped");
            continue;
        }
        let saturated = tokio::time::timeout(
            Duration::from_secs(600),
            query_run(&http, ctx, path, cookie, &ids, clients, requests, None),
        )
        .await
        .context("query phase timed out")?;
        let paced = match pace {
            Some(p) => {
                eprintln!("bench: query: {path}: {clients} clients, one request each every {} ms…", p.as_millis());
                let limit =
                    p * u32::try_from(requests / clients.max(1) + 2).unwrap_or(u32::MAX) + Duration::from_secs(120);
                Some(
                    tokio::time::timeout(limit, query_run(&http, ctx, path, cookie, &ids, clients, requests, Some(p)))
                        .await
                        .context("paced query phase timed out")?,
                )
            }
            None => None,
        };
        rows.push(QueryRow { path: path.to_owned(), saturated, paced });
    }
    Ok(rows)
}

/// CPU time used by this process's threads over an interval: the in-process server (its runtime's threads, named
/// `siteledger-server`, and SQLite's worker threads) and everything else (the bench client). Linux only (`/proc`);
/// "n/a" elsewhere.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Cpu {
    server: f64,
    total: f64,
    wall: f64,
}

fn cores() -> f64 {
    std::thread::available_parallelism().map_or(1, usize::from) as f64
}

/// A reading of the CPU clocks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CpuMark {
    server: f64,
    total: f64,
    at: Instant,
}

impl Cpu {
    pub(crate) fn mark() -> CpuMark {
        // USER_HZ is 100 on every Linux architecture the workspace targets.
        const HZ: f64 = 100.0;
        let ticks = |stat: &str| -> Option<(String, f64)> {
            let open = stat.find('(')?;
            let close = stat.rfind(')')?;
            let comm = stat.get(open + 1..close)?.to_owned();
            let f: Vec<&str> = stat.get(close + 2..)?.split(' ').collect();
            // After "pid (comm) ": state is field 0; utime and stime are fields 11 and 12.
            let t = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
            Some((comm, t / HZ))
        };
        let total = std::fs::read_to_string("/proc/self/stat").ok().and_then(|s| ticks(&s)).map_or(0.0, |(_, t)| t);
        let mut server = 0.0;
        if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
            for e in dir.flatten() {
                if let Some((comm, t)) = std::fs::read_to_string(e.path().join("stat")).ok().and_then(|s| ticks(&s)) {
                    // The server's runtime threads, and SQLite's worker threads (only the server uses SQLite).
                    if comm.starts_with("siteledger-serv") || comm.starts_with("sqlx-sqlite") {
                        server += t;
                    }
                }
            }
        }
        CpuMark { server, total, at: Instant::now() }
    }

    pub(crate) fn since(before: CpuMark) -> Cpu {
        let now = Cpu::mark();
        Cpu {
            server: (now.server - before.server).max(0.0),
            total: (now.total - before.total).max(0.0),
            wall: before.at.elapsed().as_secs_f64(),
        }
    }

    /// Server and client CPU use as percentages of all cores over the interval.
    pub(crate) fn show(self) -> String {
        if self.total <= 0.0 {
            return "n/a".into();
        }
        if self.server <= 0.0 {
            // --url: the server's threads are not ours to see.
            return format!("– / {:.0} %", 100.0 * self.total / (self.wall * cores()).max(1e-9));
        }
        let capacity = (self.wall * cores()).max(1e-9);
        format!(
            "{:.0} % / {:.0} %",
            100.0 * self.server / capacity,
            100.0 * (self.total - self.server).max(0.0) / capacity
        )
    }
}

struct FeedRow {
    subscribers: usize,
    connected: usize,
    published: usize,
    rate: u32,
    secs: u32,
    deliveries: usize,
    expected: usize,
    lat: Summary,
    publish: Summary,
    resumes: usize,
    cpu: Cpu,
}

/// Hands each complete SSE block (up to a blank line) in `buf` to `each` and removes it.
fn sse_blocks(buf: &mut Vec<u8>, mut each: impl FnMut(&[u8])) {
    let mut start = 0;
    while let Some(end) = buf[start..].windows(2).position(|w| w == b"\n\n") {
        each(&buf[start..start + end]);
        start += end + 2;
    }
    buf.drain(..start);
}

/// The `event:` field of an SSE block.
fn sse_event(block: &[u8]) -> Option<&[u8]> {
    block.split(|&b| b == b'\n').find_map(|line| line.strip_prefix(b"event:")).map(|v| v.trim_ascii())
}

/// The `occurred_at` member of a feed record's data.
fn occurred_at(block: &[u8]) -> Option<OffsetDateTime> {
    const KEY: &[u8] = b"\"occurred_at\":\"";
    let i = block.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let len = block[i..].iter().position(|&b| b == b'"')?;
    let s = std::str::from_utf8(&block[i..i + len]).ok()?;
    siteledger_signer::envelope::parse_time(s).ok()
}

async fn phase_feed(
    ctx: &Ctx,
    publisher: &mut Writer,
    subscribers: usize,
    rate: u32,
    seconds: u32,
) -> anyhow::Result<FeedRow> {
    let http = reqwest::Client::builder().no_proxy().connect_timeout(Duration::from_secs(30)).build()?;
    let connected = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Semaphore::new(200));
    let (stop_tx, stop_rx) = watch::channel(false);
    let expected = Arc::new(AtomicUsize::new(usize::MAX));
    let all_done = Arc::new(AtomicUsize::new(0));
    let resumes = Arc::new(AtomicUsize::new(0));
    eprintln!("bench: feed: connecting {subscribers} subscribers…");
    let mut tasks = Vec::with_capacity(subscribers);
    for _ in 0..subscribers {
        let (http, gate, connected, expected, all_done, resumes) = (
            http.clone(),
            Arc::clone(&gate),
            Arc::clone(&connected),
            Arc::clone(&expected),
            Arc::clone(&all_done),
            Arc::clone(&resumes),
        );
        // Only the publisher writes to its project (a --url server may have other producers, e.g. the demo).
        let url = ctx.url(&format!("/v1/feed?kinds=env.&project={}", publisher.project_id));
        let token = ctx.token.clone();
        let mut stop = stop_rx.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat: Vec<u64> = Vec::new();
            let resp = {
                let _permit = gate.acquire().await;
                match http.get(&url).bearer_auth(&token).send().await {
                    Ok(r) if r.status().is_success() => r,
                    _ => return lat,
                }
            };
            connected.fetch_add(1, Ordering::Relaxed);
            let mut stream = resp.bytes_stream();
            let mut buf = Vec::new();
            let mut done = false;
            loop {
                let chunk = tokio::select! {
                    c = stream.next() => c,
                    _ = stop.wait_for(|s| *s) => break,
                };
                let Some(Ok(chunk)) = chunk else { break };
                let now = OffsetDateTime::now_utc();
                buf.extend_from_slice(&chunk);
                sse_blocks(&mut buf, |block| match sse_event(block) {
                    Some(b"record") => {
                        if let Some(t) = occurred_at(block) {
                            lat.push(u64::try_from((now - t).whole_microseconds().max(0)).unwrap_or(0));
                        }
                    }
                    Some(b"resume") => {
                        resumes.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {}
                });
                if !done && lat.len() >= expected.load(Ordering::Relaxed) {
                    done = true;
                    all_done.fetch_add(1, Ordering::Relaxed);
                }
            }
            lat
        }));
    }
    let t0 = Instant::now();
    while connected.load(Ordering::Relaxed) < subscribers && t0.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let n_connected = connected.load(Ordering::Relaxed);
    eprintln!(
        "bench: feed: {n_connected} subscribers connected in {:.1} s; publishing {rate}/s for {seconds} s…",
        t0.elapsed().as_secs_f64()
    );
    let total = (rate as usize) * (seconds as usize);
    let mut publish_lat = Vec::with_capacity(total);
    let mut interval = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate.max(1))));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut published = 0;
    let cpu0 = Cpu::mark();
    let deadline = Instant::now() + Duration::from_secs(u64::from(seconds) + 60);
    while published < total && Instant::now() < deadline {
        interval.tick().await;
        let env = loop {
            // Readings only (the subscribers filter on `env.`).
            let e = publisher.next(OffsetDateTime::now_utc())?;
            if e.kind().starts_with("env.") {
                break e;
            }
            ctx.ingest.post(&ctx.token, std::slice::from_ref(&e)).await?;
        };
        let t = Instant::now();
        let a = ctx.ingest.post(&ctx.token, std::slice::from_ref(&env)).await?;
        publish_lat.push(micros(t.elapsed()));
        if a.accepted == 1 {
            published += 1;
        }
    }
    let cpu = Cpu::since(cpu0);
    expected.store(published, Ordering::Relaxed);
    let grace = Instant::now();
    while all_done.load(Ordering::Relaxed) < n_connected && grace.elapsed() < Duration::from_secs(15) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop_tx.send(true);
    let mut lat = Vec::new();
    for t in tasks {
        if let Ok(Ok(l)) = tokio::time::timeout(Duration::from_secs(30), t).await {
            lat.extend(l);
        }
    }
    let deliveries = lat.len();
    Ok(FeedRow {
        subscribers,
        connected: n_connected,
        published,
        rate,
        secs: seconds,
        deliveries,
        expected: published * n_connected,
        lat: Summary::of_micros(lat),
        publish: Summary::of_micros(publish_lat),
        resumes: resumes.load(Ordering::Relaxed),
        cpu,
    })
}

// -------------------------------------------------------------------------------------------------------------
// The command
// -------------------------------------------------------------------------------------------------------------

/// Raises the soft open-files limit to the hard limit; returns the limit in effect.
pub(crate) fn raise_nofile() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("bench: cannot raise the open-files limit: {e}");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map(|(soft, _)| soft).unwrap_or(1024)
        }
    }
}

/// Runs the bench and prints the Markdown report on stdout.
pub async fn run(mut args: BenchArgs) -> anyhow::Result<()> {
    let nofile = raise_nofile();
    // Each subscriber costs a client and a server socket when the server is in-process.
    let per_sub = if args.url.is_some() { 1 } else { 2 };
    let budget = nofile.saturating_sub(512 + 2 * args.clients as u64) / per_sub;
    if (args.subscribers as u64) > budget {
        eprintln!("bench: open-files limit {nofile} allows only {budget} feed subscribers; using that many");
        args.subscribers = usize::try_from(budget).unwrap_or(0);
    }
    if args.read_only {
        return read_only(&args).await;
    }
    let mut rng = SplitMix64::new(args.seed);
    let tag = format!("{:06X}", (Ctx::now_ms() / 1000) & 0xFF_FFFF);
    let (server, base, token, root, root_chain) = match &args.url {
        None => {
            let root = SigningKey::generate()?;
            eprintln!("bench: spawning an in-process server (own runtime, 2 workers, temp data dir)…");
            let (server, url, token) = InProcess::spawn(&root).await?;
            (Some(server), url, token, root, Some(Chain::new()))
        }
        Some(url) => {
            check_loopback(url)?;
            let token = args.token.clone().context("--url needs --token (a city-bureau token)")?;
            let path =
                args.root_key.clone().context("--url needs --root-key (a key file the server trusts as a root)")?;
            let root = SigningKey::read_file(&path).with_context(|| format!("reading {}", path.display()))?;
            (None, url.trim_end_matches('/').to_owned(), token, root, None)
        }
    };
    let http = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(120)).build()?;
    let mut ctx = Ctx {
        ingest: IngestClient::with_client(http.clone(), &base),
        base,
        token,
        http,
        root,
        root_chain: root_chain.unwrap_or_default(),
        rng: SplitMix64::derive(rng.next_u64(), 1),
        tag,
    };
    let result = run_phases(&mut ctx, &args, server.is_some()).await;
    if let Some(s) = server {
        s.stop().await;
    }
    let report = result?;
    println!("{report}");
    Ok(())
}

/// `--read-only`: the query phase against `--url`, nothing written.
async fn read_only(args: &BenchArgs) -> anyhow::Result<()> {
    if args.phases != [Phase::Query] {
        bail!("--read-only measures the query phase only (it writes nothing): pass --phases query");
    }
    let url = args.url.as_deref().context("--read-only needs --url")?;
    check_loopback(url)?;
    let token = args.token.clone().context("--url needs --token (a city-bureau token)")?;
    let ctx = Ctx::reader(url, token)?;
    let started = Instant::now();
    let page: Vec<Value> = serde_json::from_str(&ctx.get_text("/v1/projects?limit=16").await?)
        .context("GET /v1/projects?limit=16: not a JSON list")?;
    let projects: Vec<String> =
        page.iter().filter_map(|p| p.get("project_id").and_then(Value::as_str).map(str::to_owned)).collect();
    if projects.is_empty() {
        bail!("the server lists no project this token may see: nothing to ask the timeline endpoint for");
    }
    let log_size = ctx.metric("siteledger_ledger_size").await.unwrap_or(f64::NAN);
    let pace = (args.pace_ms > 0).then(|| Duration::from_millis(args.pace_ms));
    let endpoints = query_endpoints(&args.query_paths);
    let query = phase_query(&ctx, &projects, &endpoints, args.clients, args.requests, pace).await?;
    println!("{}", report(args, None, Some(query), None, log_size, started.elapsed(), false));
    Ok(())
}

async fn run_phases(ctx: &mut Ctx, args: &BenchArgs, in_process: bool) -> anyhow::Result<String> {
    if !in_process && let Some(c) = resume_root(ctx).await? {
        ctx.root_chain = c;
    }
    eprintln!(
        "bench: setting up the registry ({} districts, 42 projects) and {} writer keys…",
        DISTRICTS.len(),
        args.writers + 1
    );
    let (projects, mut writers) = setup(ctx, args.writers.max(1) + 1).await?;
    let mut publisher = writers.pop().context("a publisher key")?;
    ctx.settle(Duration::from_secs(120)).await?;
    let started = Instant::now();

    let ingest = if args.phases.contains(&Phase::Ingest) {
        Some(phase_ingest(ctx, &mut writers, args.ingest_scale).await?)
    } else {
        // Queries need some data: one small round per writer.
        let mut envs = Vec::new();
        for w in &mut writers {
            for _ in 0..300 {
                envs.push(w.next(OffsetDateTime::now_utc())?);
            }
        }
        for chunk in envs.chunks(1024) {
            ctx.post_all_accepted(chunk).await?;
        }
        ctx.settle(Duration::from_secs(300)).await?;
        None
    };
    let log_size = ctx.metric("siteledger_ledger_size").await.unwrap_or(f64::NAN);
    let query = if args.phases.contains(&Phase::Query) {
        let pace = (args.pace_ms > 0).then(|| Duration::from_millis(args.pace_ms));
        Some(phase_query(ctx, &projects, &query_endpoints(&args.query_paths), args.clients, args.requests, pace).await?)
    } else {
        None
    };
    let feed = if args.phases.contains(&Phase::Feed) && args.subscribers > 0 {
        Some(phase_feed(ctx, &mut publisher, args.subscribers, args.feed_rate.max(1), args.feed_seconds.max(1)).await?)
    } else {
        None
    };
    Ok(report(args, ingest, query, feed, log_size, started.elapsed(), in_process))
}

fn report(
    args: &BenchArgs,
    ingest: Option<Vec<IngestRow>>,
    query: Option<Vec<QueryRow>>,
    feed: Option<FeedRow>,
    log_size: f64,
    took: Duration,
    in_process: bool,
) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let target = if in_process {
        "in-process server on its own 2-worker runtime, SQLite files in a temp dir"
    } else {
        "the server at --url"
    };
    let _ = writeln!(s, "<!-- siteledger bench against {target}; ran {:.0} s -->", took.as_secs_f64());
    let cpu_note = if in_process {
        "CPU = share of all cores used by the server's threads / by the bench client's threads over the run"
    } else {
        "CPU = share of all cores used by this bench process (the server runs elsewhere)"
    };
    if let Some(rows) = ingest {
        let _ = writeln!(
            s,
            "\n**Ingest** — pre-signed `env.dust_noise.reading.v1` (0.8 % `alarm.*`), {} concurrent writers with a key \
             each, `POST /v1/events`; {cpu_note}\n",
            args.writers
        );
        let _ = writeln!(
            s,
            "| batch | requests | events | events/s | request p50 | request p99 | request max | rejected | CPU server / client | read models caught up |"
        );
        let _ = writeln!(s, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for r in rows {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.0} | {} | {} | {} | {} | {} | {} |",
                r.batch,
                r.requests,
                r.events,
                r.events as f64 / r.secs.max(1e-9),
                ms(r.lat.p50),
                ms(r.lat.p99),
                ms(r.lat.max),
                r.rejected,
                r.cpu.show(),
                r.settle.map_or_else(|| "> 900 s".to_owned(), |d| format!("{:.1} s later", d.as_secs_f64())),
            );
        }
    }
    if let Some(rows) = query {
        let _ = writeln!(
            s,
            "\n**Queries** — {} concurrent clients, city-wide token, log of {log_size:.0} records; {} requests per endpoint \
             and run after a warm-up pass. *Back to back*: each client sends its next request as soon as it has read \
             the answer (saturation).{} {cpu_note}\n",
            args.clients,
            args.requests,
            if args.pace_ms > 0 {
                format!(" *Paced*: each client sends one request every {} ms.", args.pace_ms)
            } else {
                String::new()
            }
        );
        s.push_str(&query_table(rows));
    }
    if let Some(f) = feed {
        let _ = writeln!(
            s,
            "\n**Live feed** — concurrent `GET /v1/feed?kinds=env.&project=…` subscribers (city-wide token); one writer publishes \
             {}/s for {} s; delivery latency = publish (just before the `POST`) → parsed by the subscriber, over every \
             delivery; {cpu_note} while publishing\n",
            f.rate, f.secs
        );
        let _ = writeln!(
            s,
            "| subscribers (connected) | records | deliveries (expected) | delivery p50 | delivery p99 | delivery max | publish POST p50 / p99 | CPU server / client | resumes |"
        );
        let _ = writeln!(s, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        let _ = writeln!(
            s,
            "| {} ({}) | {} | {} ({}) | {} | {} | {} | {} / {} | {} | {} |",
            f.subscribers,
            f.connected,
            f.published,
            f.deliveries,
            f.expected,
            ms(f.lat.p50),
            ms(f.lat.p99),
            ms(f.lat.max),
            ms(f.publish.p50),
            ms(f.publish.p99),
            f.cpu.show(),
            f.resumes
        );
    }
    s
}

/// The query phase's rows as a Markdown table.
pub(crate) fn query_table(rows: Vec<QueryRow>) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| endpoint | body | back to back: req/s | p50 | p99 | max | CPU server / client | paced: req/s | p50 | p99 | max | errors |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let a = &r.saturated;
        let (pr, p50, p99, pmax, perr) = match &r.paced {
            Some(p) => (
                format!("{:.0}", p.requests as f64 / p.secs.max(1e-9)),
                ms(p.lat.p50),
                ms(p.lat.p99),
                ms(p.lat.max),
                p.errors,
            ),
            None => ("—".into(), "—".into(), "—".into(), "—".into(), 0),
        };
        let _ = writeln!(
            s,
            "| `{}` | {:.1} kB | {:.0} | {} | {} | {} | {} | {pr} | {p50} | {p99} | {pmax} | {} |",
            r.path,
            a.bytes as f64 / a.requests.max(1) as f64 / 1000.0,
            a.requests as f64 / a.secs.max(1e-9),
            ms(a.lat.p50),
            ms(a.lat.p99),
            ms(a.lat.max),
            a.cpu.show(),
            a.errors + perr,
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let s = Summary::of_micros((1..=100).collect());
        assert_eq!(
            (s.p50, s.p99, s.max),
            (Duration::from_micros(50), Duration::from_micros(99), Duration::from_micros(100))
        );
    }

    #[test]
    fn sse_parsing() {
        let mut buf =
            b"event: record\nid: 3\ndata: {\"occurred_at\":\"2026-11-24T10:00:00.000001Z\"}\n\n: keep\n\nevent: rec"
                .to_vec();
        let mut got = Vec::new();
        sse_blocks(&mut buf, |b| got.push((sse_event(b).map(<[u8]>::to_vec), occurred_at(b))));
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0.as_deref(), Some(&b"record"[..]));
        assert!(got[0].1.is_some() && got[1].1.is_none());
        assert_eq!(buf, b"event: rec");
        assert!(utc_micros(OffsetDateTime::now_utc()).ends_with('Z'));
    }

    #[test]
    fn only_loopback() {
        assert!(check_loopback("http://127.0.0.1:8080").is_ok());
        assert!(check_loopback("http://localhost:1").is_ok());
        assert!(check_loopback("http://[::1]:1").is_ok());
        assert!(check_loopback("http://10.0.0.1:8080").is_err());
        assert!(check_loopback("http://example.com").is_err());
    }
}
