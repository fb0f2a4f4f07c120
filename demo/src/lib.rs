//! The simulated demo city (`siteledger serve --demo`): a small Ningbo on the real ingest path, and the load bench
//! ([`bench`], `siteledger bench`). Both drive a server from outside, through `POST /v1/events` and the server
//! library's public types: the server itself (`siteledger-api`) does not link this crate or the gateway agent.
//!
//! Everything goes through `POST /v1/events` on the server's own address with real tokens, exactly as a bureau's
//! client or a site gateway would send it:
//!
//! 1. **Registry** (once per data directory). The city bureau (市住建局, the key in `<data_dir>/keys/demo-city.key`
//!    that demo mode trusts as a root) enrols itself, adds the 开发园区 `ZONE-NBHTZ` 宁波国家高新区, registers
//!    fifteen enterprises and enrols a bureau key for each of the ten 区县(市) and the zone. Each district bureau
//!    registers its projects (42 in all, with owner, general contractor and supervisor) and enrols one site gateway
//!    key per project. See [`city`].
//! 2. **History** (once per data directory): each area's seeded records — 实名制与工资 ([`workforce`]), 监管协同
//!    (`supervision.rs`), the site agents' enrolments (`site.rs`), the rating policy, credit rules and last year's
//!    annual report (`rating.rs`).
//! 3. **Live traffic**. Every project's gateway signs and posts `env.dust_noise.reading.v1` every one to three ticks
//!    (jittered), with daily patterns, sensor noise and dust episodes; exceedances become `alarm.raised.v1` and
//!    later `alarm.cleared.v1` ([`sim`]). One site starts every run in a dust episode, so an alarm comes early; two
//!    sites go silent now and then (data gaps). Six sites run a real gateway agent with simulated devices; the
//!    supervision area adds an inspection step every six ticks; the district bureaus issue rating decisions.
//!
//! [`Demo::setup`] does steps 1 and 2 and returns; then either [`Demo::go_live`] starts the timers (what
//! [`start`] and `serve --demo` do), or a test drives the live steps itself ([`Demo::tick`],
//! [`Demo::supervision_step`], [`Demo::rating_round`]) and never races a clock. The tick and the seed are fields
//! of a [`DemoConfig`] each demo gets, so two demos in one process (two tests) share nothing.
//!
//! Restarts are safe. Keys live in `<data_dir>/keys/demo-*.key` (0600). The registry records are deterministic
//! (fixed times and ids; Ed25519 is deterministic), so on restart each bureau's chain is compared with the ledger's
//! stored head for that key and only what is missing is sent; gateways resume their chains from the stored head.
//! Gateway tokens are created at each start and those of earlier runs revoked. The demo stops when the server's
//! shutdown signal turns true. The random source is a seeded SplitMix64, so a run is reproducible up to the wall
//! clock.
//!
//! The operator gets a city-bureau token, logged once at start ([`operator_token`]): it is a demo token, the one
//! exception to "secrets never in logs", and it is revoked at the next demo start. Every token the demo creates is
//! marked as a demo token in the token table (`TokenStore::create_demo`): a server not in demo mode refuses them
//! and revokes them at start, so the logged token dies with the demo.

pub mod bench;
pub mod city;
pub mod citysim;
mod rating;
pub mod rng;
pub mod sim;
mod site;
mod supervision;
pub mod workforce;

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::{Map, Value, json};
use siteledger_ledger::EventStore;
use siteledger_projections::{AlarmFilter, Scope};
use siteledger_signer::{Envelope, SigningKey};
use time::OffsetDateTime;
use tokio::sync::watch;

use siteledger_api::auth::Role;
use siteledger_api::state::AppState;

use self::city::{CityKeys, DISTRICTS, ProjectSpec, RegistryPlan};
use self::rng::SplitMix64;
use self::sim::{AlarmAction, Site};
use siteledger_client::{IngestClient, MemoryChain as Chain};

/// Default simulator tick.
pub const DEFAULT_TICK_MS: u64 = 5_000;
/// Default seed.
pub const DEFAULT_SEED: u64 = 0x00D3_4D0C_17A0_2026;
/// Prefix of the demo's project ids.
pub const PROJECT_PREFIX: &str = "NB-2025";
/// Project (index) that starts every run in a strong dust episode: 鄞州区姜山镇陈婆渡地块安置房二期.
const HOT_PROJECT: usize = 16;
/// Projects whose monitors go silent now and then: 梅山湾新城国际会议中心, 西店镇五金产业园标准厂房.
const FLAKY_PROJECTS: [usize; 2] = [9, 30];
/// Name of the operator's token.
const OPERATOR_TOKEN_NAME: &str = "demo operator";
/// Names of the demo's other tokens start with this.
const TOKEN_PREFIX: &str = "demo ";

/// How one demo city runs. Each demo gets its own (nothing about a demo is process-global).
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// The simulator tick: a gateway posts every one to three ticks, the supervision area every six, and the
    /// district bureaus issue rating decisions every 120 (at least 30 s). Taken as 10 ms to 1 h.
    pub tick: Duration,
    /// The random seed.
    pub seed: u64,
}

impl Default for DemoConfig {
    fn default() -> DemoConfig {
        DemoConfig { tick: Duration::from_millis(DEFAULT_TICK_MS), seed: DEFAULT_SEED }
    }
}

impl DemoConfig {
    /// The defaults, overridden by `SITELEDGER_DEMO_TICK_MS` and `SITELEDGER_DEMO_SEED` (the `siteledger`
    /// command reads them; tests set the fields instead).
    pub fn from_env() -> DemoConfig {
        let number = |name: &str| std::env::var(name).ok().and_then(|v| v.trim().parse::<u64>().ok());
        let mut c = DemoConfig::default();
        if let Some(ms) = number("SITELEDGER_DEMO_TICK_MS") {
            c.tick = Duration::from_millis(ms);
        }
        if let Some(seed) = number("SITELEDGER_DEMO_SEED") {
            c.seed = seed;
        }
        c
    }
}

/// Starts the demo city in the background on a running server (registry and history, then live traffic) and
/// returns at once. Fails at once if the demo's key files cannot be loaded or created.
pub async fn start(
    state: AppState,
    addr: SocketAddr,
    shutdown: watch::Receiver<bool>,
    config: DemoConfig,
) -> anyhow::Result<()> {
    // Keys are loaded (or created) now, so a bad key directory fails the start instead of a background task.
    let keys = DemoKeys::load(&state.config.key_dir())?;
    let ingest = IngestClient::new(&format!("http://{}", loopback(addr)))?;
    tokio::spawn(async move {
        let stop = shutdown.clone();
        match Demo::setup_with(state, ingest, keys, shutdown, config).await {
            Ok(demo) => demo.go_live(),
            Err(e) if !*stop.borrow() => tracing::error!(error = %e, "the demo city stopped"),
            Err(_) => {}
        }
    });
    Ok(())
}

/// Where to reach a server bound to `addr` from this machine.
fn loopback(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port()),
        IpAddr::V6(ip) if ip.is_unspecified() => SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), addr.port()),
        _ => addr,
    }
}

/// The demo's keys, from `<data_dir>/keys/demo-*.key`.
struct DemoKeys {
    city: CityKeys,
    gateways: Vec<SigningKey>,
}

impl DemoKeys {
    fn load(dir: &Path) -> anyhow::Result<DemoKeys> {
        let city = key_file(dir, "city")?;
        let districts =
            DISTRICTS.iter().map(|d| key_file(dir, &format!("district-{}", d.code))).collect::<anyhow::Result<_>>()?;
        let projects = city::projects(PROJECT_PREFIX, &city::enterprises());
        let gateways: Vec<SigningKey> = projects
            .iter()
            .map(|p| key_file(dir, &format!("gateway-{}", p.project_id)))
            .collect::<anyhow::Result<_>>()?;
        let gateway_public = gateways.iter().map(|k| *k.public()).collect();
        Ok(DemoKeys { city: CityKeys { city, districts, gateways: gateway_public }, gateways })
    }
}

/// Loads `demo-<name>.key`, or creates it (0600) in the server's key directory.
fn key_file(dir: &Path, name: &str) -> anyhow::Result<SigningKey> {
    let path = dir.join(format!("demo-{name}.key"));
    let (key, created) = siteledger_client::keys::load_or_generate(&path)?;
    if created {
        tracing::debug!(path = %path.display(), key_id = %key.key_id(), "created a demo key file (0600)");
    }
    Ok(key)
}

/// A demo city set up on a running server: the registry and every area's history are in the ledger; the live
/// producers are ready but not running.
pub struct Demo {
    ctx: DemoContext,
    gateways: Vec<Producer>,
    supervision: Option<supervision::Live>,
    issuer: Option<rating::Issuer>,
    failures: Vec<String>,
}

impl std::fmt::Debug for Demo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No keys or tokens in Debug output.
        f.debug_struct("Demo")
            .field("ctx", &self.ctx)
            .field("gateways", &self.gateways.len())
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

impl Demo {
    /// Writes whatever of the registry and the areas' history the ledger does not hold yet, through the API of
    /// the server at `addr`, and returns once it is accepted (nothing runs in the background afterwards). An area
    /// whose setup fails is logged and listed in [`Demo::failures`]; the others go on.
    pub async fn setup(
        state: AppState,
        addr: SocketAddr,
        shutdown: watch::Receiver<bool>,
        config: DemoConfig,
    ) -> anyhow::Result<Demo> {
        let keys = DemoKeys::load(&state.config.key_dir())?;
        let ingest = IngestClient::new(&format!("http://{}", loopback(addr)))?;
        Demo::setup_with(state, ingest, keys, shutdown, config).await
    }

    async fn setup_with(
        state: AppState,
        ingest: IngestClient,
        keys: DemoKeys,
        shutdown: watch::Receiver<bool>,
        mut config: DemoConfig,
    ) -> anyhow::Result<Demo> {
        // A zero tick would spin the producers.
        config.tick = config.tick.clamp(Duration::from_millis(10), Duration::from_secs(3600));
        let plan = city::registry_plan(&keys.city, PROJECT_PREFIX)?;
        revoke_stale_tokens(&state).await;
        setup_registry(&state, &ingest, &plan, &shutdown).await?;
        let gateways = gateways(&state, &ingest, &plan, keys.gateways, &config, &shutdown).await?;
        let districts_with_projects =
            DISTRICTS.iter().enumerate().filter(|(d, _)| plan.projects.iter().any(|p| p.district == *d)).count();
        tracing::info!(
            tick_ms = config.tick.as_millis() as u64,
            "demo city: {} projects in {} districts (10 区县(市) + {}), {} enterprises, {} site gateways posting \
             dust/noise readings every {:.1}–{:.1} s each once live",
            plan.projects.len(),
            districts_with_projects,
            city::ZONE_NAME,
            plan.enterprises.len(),
            gateways.len(),
            config.tick.as_secs_f64(),
            3.0 * config.tick.as_secs_f64(),
        );
        operator_token(&state).await?;
        let ctx = DemoContext {
            state,
            ingest,
            plan,
            city: keys.city.city,
            districts: keys.city.districts,
            seed: config.seed,
            tick: config.tick,
            shutdown,
            locks: KeyLocks::default(),
        };
        let mut failures = Vec::new();
        let mut failed = |area: &str, e: anyhow::Error| {
            tracing::error!(area, error = %e, "the demo history of this area was not written");
            failures.push(format!("{area}: {e:#}"));
        };
        // Each area's history; one failing does not stop the others.
        if let Err(e) = workforce::start(&ctx).await {
            failed("workforce", e);
        }
        if let Err(e) = site::setup(&ctx).await {
            failed("site", e);
        }
        let supervision = supervision::setup(&ctx).await.map_err(|e| failed("supervision", e)).ok();
        let issuer = rating::setup(&ctx).await.map_err(|e| failed("rating", e)).ok();
        Ok(Demo { ctx, gateways, supervision, issuer, failures })
    }

    /// The areas whose setup failed, with why (empty when all went in).
    pub fn failures(&self) -> &[String] {
        &self.failures
    }

    /// One tick of every site gateway, in turn: each posts its next reading (and any alarm it raises or clears),
    /// unless its monitor is in a simulated data gap. Returns how many gateways posted.
    pub async fn tick(&mut self) -> anyhow::Result<usize> {
        let mut posted = 0;
        for p in &mut self.gateways {
            match p.step().await {
                Step::Posted => posted += 1,
                Step::Silent => {}
                Step::Stop => {
                    anyhow::bail!("gateway {} stopped (server shutting down or cannot sign)", p.spec.project_id)
                }
            }
        }
        Ok(posted)
    }

    /// One step of the supervision area's live traffic (an inspection with a finding and notice, a contractor's
    /// answer, or a bureau's review, in turn).
    pub async fn supervision_step(&mut self) -> anyhow::Result<()> {
        let live = self.supervision.as_mut().ok_or_else(|| anyhow::anyhow!("the supervision area did not set up"))?;
        live.step(&self.ctx.ingest, &self.ctx.shutdown).await
    }

    /// One round of rating decisions: each project's rating at the log's current size under the newest policy,
    /// signed by its district bureau when the outcome changed since the last decision. Returns how many were
    /// accepted.
    pub async fn rating_round(&mut self) -> anyhow::Result<usize> {
        let issuer = self.issuer.as_mut().ok_or_else(|| anyhow::anyhow!("the rating area did not set up"))?;
        issuer.round().await
    }

    /// Starts the live traffic on the configured tick (gateways, site agents, supervision, rating decisions) and
    /// returns; it stops at the server's shutdown signal.
    pub fn go_live(self) {
        let Demo { ctx, gateways, supervision, issuer, .. } = self;
        for p in gateways {
            tokio::spawn(p.run());
        }
        if let Some(live) = supervision {
            tokio::spawn(live.run(ctx.ingest.clone(), ctx.shutdown.clone()));
        }
        if let Some(issuer) = issuer {
            tokio::spawn(issuer.run());
        }
        tokio::spawn(async move {
            if let Err(e) = site::start_agents(&ctx).await {
                tracing::error!(error = %e, "the demo site agents did not start");
            }
        });
    }
}

/// One gateway per project whose key is enrolled, each with a fresh gateway token and its chain resumed.
async fn gateways(
    state: &AppState,
    ingest: &IngestClient,
    plan: &RegistryPlan,
    keys: Vec<SigningKey>,
    config: &DemoConfig,
    shutdown: &watch::Receiver<bool>,
) -> anyhow::Result<Vec<Producer>> {
    let enrolled: HashSet<String> = state.ledger.store().keys().await?.into_iter().map(|k| k.key_id).collect();
    let open = open_alarms(state, shutdown).await;
    let mut producers = Vec::new();
    for (i, (spec, key)) in plan.projects.iter().zip(keys).enumerate() {
        let key_id = key.key_id().to_string();
        if !enrolled.contains(&key_id) {
            tracing::warn!(project = %spec.project_id, %key_id, "demo gateway key is not enrolled; this site stays silent");
            continue;
        }
        let chain = match state.ledger.store().signer_head(&key_id).await? {
            Some(h) => Chain::after(h.signer_seq, h.leaf_hash),
            None => Chain::new(),
        };
        let token = state
            .tokens
            .create_demo(&format!("{TOKEN_PREFIX}gateway {} GW-01", spec.project_id), Role::Gateway, Some(&key_id), 30)
            .await
            .map_err(|e| anyhow::anyhow!("gateway token: {e}"))?;
        let mut rng = SplitMix64::derive(config.seed, (i as u64) << 32 | chain.next_seq());
        let mut site = Site::new(spec.district().pm10_base, &mut rng);
        if i == HOT_PROJECT {
            site.start_episode(190.0, 60);
        }
        for (category, alarm_id) in open.get(&spec.project_id).into_iter().flatten() {
            site.adopt_open(category, alarm_id.clone());
        }
        let period = config.tick.mul_f64(rng.range_f64(1.0, 3.0));
        let gaps = FLAKY_PROJECTS.contains(&i).then(|| Gaps::new(&mut rng));
        producers.push(Producer {
            spec: spec.clone(),
            key,
            key_id,
            chain,
            token: token.secret,
            site,
            rng,
            period,
            gaps,
            ticks: 0,
            ingest: ingest.clone(),
            state: state.clone(),
            shutdown: shutdown.clone(),
        });
    }
    Ok(producers)
}

/// Creates the operator's city-bureau token (a demo token: refused by any server not in demo mode and revoked when
/// the data directory is served without `--demo`) and logs its secret once, on purpose. Returns it.
pub async fn operator_token(state: &AppState) -> anyhow::Result<siteledger_api::auth::NewToken> {
    let operator = state
        .tokens
        .create_demo(OPERATOR_TOKEN_NAME, Role::City, None, 30)
        .await
        .map_err(|e| anyhow::anyhow!("operator token: {e}"))?;
    tracing::info!(
        token_id = %operator.id,
        "DEMO TOKEN — demo only, logged once on purpose: city-bureau (市住建局) token for the operator, valid 30 \
         days, revoked at the next demo start and refused once this data directory is served without --demo: {}",
        operator.secret
    );
    Ok(operator)
}

/// What each subsystem's demo traffic gets: the server, a client of its ingest endpoint, the registry plan (its
/// enterprises and projects) and the bureau keys (the city bureau, a trusted root, can enrol any other key).
pub struct DemoContext {
    /// The running server's state (token store, ledger, read models).
    pub state: AppState,
    /// `POST /v1/events` on the server's own address.
    pub ingest: IngestClient,
    /// Enterprises, projects and the registry's signers.
    pub plan: RegistryPlan,
    /// The city bureau's key (`<data_dir>/keys/demo-city.key`).
    pub city: SigningKey,
    /// One district bureau key per entry of [`DISTRICTS`].
    pub districts: Vec<SigningKey>,
    /// The run's random seed ([`DemoConfig::seed`]).
    pub seed: u64,
    /// The simulator tick.
    pub tick: Duration,
    /// Turns true at shutdown.
    pub shutdown: watch::Receiver<bool>,
    /// This demo's signing locks.
    pub locks: KeyLocks,
}

/// The locks every task of one demo holds while it reads a key's chain head from the ledger, signs with that key
/// and posts the records: several areas sign with the same bureau keys, and two chains of one key would fork it
/// (the ledger records that as equivocation). One set per demo, shared by its tasks (clones share the set).
#[derive(Debug, Clone, Default)]
pub struct KeyLocks(Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>);

impl KeyLocks {
    /// The lock of `key_id`.
    pub fn of(&self, key_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(map.entry(key_id.to_owned()).or_default())
    }
}

impl std::fmt::Debug for DemoContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No keys in Debug output.
        f.debug_struct("DemoContext").field("projects", &self.plan.projects.len()).field("seed", &self.seed).finish()
    }
}

impl DemoContext {
    /// `<data_dir>/keys/demo-<name>.key`, created (0600) if absent.
    pub fn key(&self, name: &str) -> anyhow::Result<SigningKey> {
        key_file(&self.state.config.key_dir(), name)
    }
}

/// Revokes the tokens earlier demo runs created (their secrets died with those runs; the operator's was logged).
async fn revoke_stale_tokens(state: &AppState) {
    match state.tokens.revoke_demo_tokens().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(revoked = n, "revoked the demo tokens of the previous run"),
        Err(e) => tracing::warn!(error = %e, "cannot revoke earlier demo tokens; they stay valid until they expire"),
    }
}

/// Sends whatever part of the registry plan the ledger does not hold yet.
async fn setup_registry(
    state: &AppState,
    ingest: &IngestClient,
    plan: &RegistryPlan,
    shutdown: &watch::Receiver<bool>,
) -> anyhow::Result<()> {
    // The city bureau's records first (they enrol the district bureaus), then the districts' in one batch.
    let mut batches: [Vec<Envelope>; 2] = [Vec::new(), Vec::new()];
    let mut skipped_chain = false;
    for (i, sp) in plan.signers.iter().enumerate() {
        let head = state.ledger.store().signer_head(&sp.key_id).await?;
        let planned = sp.envelopes.len();
        let done = match head {
            None => 0,
            Some(h) => {
                // The chain holds the plan's first `n` records, or all of them and later ones (e.g. a bench run
                // that signed more with the demo city key): compare the record at min(n, planned).
                let n = usize::try_from(h.signer_seq).unwrap_or(usize::MAX).min(planned);
                let stored = if n == 0 {
                    None
                } else if n as u64 == h.signer_seq {
                    Some(h.leaf_hash)
                } else {
                    state.ledger.store().signer_event(&sp.key_id, n as u64).await?.map(|e| e.leaf_hash)
                };
                if n >= 1 && stored == Some(sp.envelopes[n - 1].leaf_hash()) {
                    n
                } else {
                    tracing::warn!(
                        signer = %sp.label,
                        key_id = %sp.key_id,
                        "the ledger holds other records of this demo key than this version of the demo writes; \
                         leaving its registry records as they are"
                    );
                    if i == 0 {
                        // Without the city bureau's chain nothing after it can be enrolled.
                        skipped_chain = true;
                        break;
                    }
                    continue;
                }
            }
        };
        batches[usize::from(i > 0)].extend(sp.envelopes[done..].iter().cloned());
    }
    let batches: Vec<Vec<Envelope>> = batches.into_iter().filter(|b| !b.is_empty()).collect();
    if batches.is_empty() {
        if !skipped_chain {
            tracing::info!("demo registry already in the ledger; resuming");
        }
        return Ok(());
    }
    let token = state
        .tokens
        .create_demo(&format!("{TOKEN_PREFIX}city bureau (registry setup)"), Role::City, None, 1)
        .await
        .map_err(|e| anyhow::anyhow!("setup token: {e}"))?;
    let (mut accepted, mut rejected) = (0, 0);
    for batch in &batches {
        let answer = post_with_retries(ingest, &token.secret, batch, shutdown).await?;
        accepted += answer.accepted + answer.duplicates;
        for r in answer.rejections() {
            rejected += 1;
            let env = &batch[r.index];
            tracing::warn!(kind = env.kind(), code = ?r.code, message = ?r.message, "demo registry record rejected");
        }
    }
    let _ = state.tokens.revoke(&token.id).await;
    tracing::info!(accepted, rejected, "demo registry written through POST /v1/events");
    Ok(())
}

async fn post_with_retries(
    ingest: &IngestClient,
    token: &str,
    envs: &[Envelope],
    shutdown: &watch::Receiver<bool>,
) -> anyhow::Result<siteledger_domain::wire::IngestResponse> {
    let body = IngestClient::body(envs);
    let mut delay = Duration::from_millis(100);
    let mut attempt = 1;
    loop {
        match ingest.post_body(token, body.clone()).await {
            Ok(a) => return Ok(a),
            Err(e) if e.retryable() && attempt < 8 && !*shutdown.borrow() => {
                tracing::debug!(error = %e, attempt, "demo request failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
                attempt += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Waits until the read models have folded the log as it is now. Gives up (with a warning, `false`) at shutdown
/// or after `limit`: the demo then goes on with what the read models show.
async fn wait_folded(state: &AppState, shutdown: &watch::Receiver<bool>, limit: Duration) -> bool {
    let target = state.ledger.head();
    let mut applied = state.read.watch_applied();
    let mut shutdown = shutdown.clone();
    let folded = async {
        tokio::select! {
            r = applied.wait_for(|a| *a >= target) => r.is_ok(),
            _ = shutdown.wait_for(|s| *s) => false,
        }
    };
    match tokio::time::timeout(limit, folded).await {
        Ok(done) => done,
        Err(_) => {
            tracing::warn!(target, applied = state.read.applied(), "the read models did not catch up in time");
            false
        }
    }
}

/// Open dust and noise alarms per project, once the read models have caught up with the log.
async fn open_alarms(state: &AppState, shutdown: &watch::Receiver<bool>) -> HashMap<String, Vec<(String, String)>> {
    wait_folded(state, shutdown, Duration::from_secs(300)).await;
    let filter = AlarmFilter { open_only: true, limit: Some(10_000), ..AlarmFilter::default() };
    let mut out: HashMap<String, Vec<(String, String)>> = HashMap::new();
    match state.read.alarms(&Scope::All, &filter).await {
        Ok(rows) => {
            for a in rows.into_iter().filter(|a| a.category == "dust" || a.category == "noise") {
                if let Some(p) = a.project_id {
                    out.entry(p).or_default().push((a.category, a.alarm_id));
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot read open alarms; earlier demo alarms stay open"),
    }
    out
}

/// When a flaky site's monitor is offline, in ticks of its own.
#[derive(Debug)]
struct Gaps {
    next_start: u64,
    until: u64,
}

impl Gaps {
    fn new(rng: &mut SplitMix64) -> Gaps {
        Gaps { next_start: rng.range_u64(30, 120), until: 0 }
    }

    /// Whether the monitor is offline at `tick`; `Some(true)` when a gap starts, `Some(false)` when it ends.
    fn at(&mut self, tick: u64, rng: &mut SplitMix64) -> (bool, Option<bool>) {
        if tick == self.next_start {
            self.until = tick + rng.range_u64(60, 240);
            self.next_start = self.until + rng.range_u64(400, 900);
            return (true, Some(true));
        }
        if tick < self.until {
            return (true, None);
        }
        if tick == self.until && tick > 0 {
            return (false, Some(false));
        }
        (false, None)
    }
}

/// `YYYY-MM-DDThh:mm:ss+08:00`.
fn cst_text(t: OffsetDateTime) -> String {
    let t = siteledger_domain::time::in_shanghai(t);
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

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// One project's gateway.
struct Producer {
    spec: ProjectSpec,
    key: SigningKey,
    key_id: String,
    chain: Chain,
    token: String,
    site: Site,
    rng: SplitMix64,
    period: Duration,
    gaps: Option<Gaps>,
    /// Ticks of its own so far.
    ticks: u64,
    ingest: IngestClient,
    state: AppState,
    shutdown: watch::Receiver<bool>,
}

/// What one gateway tick did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Posted a reading (and any alarm records).
    Posted,
    /// The monitor is in a simulated data gap.
    Silent,
    /// The gateway stops (shutdown, or it cannot sign).
    Stop,
}

impl Producer {
    async fn run(mut self) {
        let mut shutdown = self.shutdown.clone();
        loop {
            let wait = self.period.mul_f64(self.rng.range_f64(0.85, 1.15));
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
            if self.step().await == Step::Stop {
                return;
            }
        }
    }

    /// One tick: the next reading, unless the monitor is offline.
    async fn step(&mut self) -> Step {
        self.ticks += 1;
        if let Some(g) = &mut self.gaps {
            let (offline, change) = g.at(self.ticks, &mut self.rng);
            match change {
                Some(true) => {
                    tracing::info!(project = %self.spec.project_id, "demo: site monitor goes offline (simulated data gap)")
                }
                Some(false) => tracing::info!(project = %self.spec.project_id, "demo: site monitor back online"),
                None => {}
            }
            if offline {
                return Step::Silent;
            }
        }
        let envs = match self.next_envelopes() {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(project = %self.spec.project_id, error = %e, "demo: cannot sign; gateway stops");
                return Step::Stop;
            }
        };
        if self.submit(&envs).await { Step::Posted } else { Step::Stop }
    }

    /// The next reading and any alarm it raises or clears, signed.
    fn next_envelopes(&mut self) -> Result<Vec<Envelope>, siteledger_signer::envelope::EnvelopeError> {
        let now = OffsetDateTime::now_utc();
        let local = siteledger_domain::time::in_shanghai(now);
        let hour = f64::from(local.hour()) + f64::from(local.minute()) / 60.0 + f64::from(local.second()) / 3600.0;
        let at = cst_text(now);
        let ms = u64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        let (r, actions) = self.site.step(hour, &mut self.rng, self.chain.next_seq());
        let pid = self.spec.project_id.clone();
        let device = self.spec.device_id.clone();
        let mut envs = Vec::with_capacity(1 + actions.len());
        let reading = obj(json!({
            "project_id": pid,
            "device_id": device,
            "pm10_ug_m3": sim::fmt1(r.pm10),
            "pm25_ug_m3": sim::fmt1(r.pm25),
            "noise_db_a": sim::fmt1(r.noise),
        }));
        let id = self.rng.uuid_v7(ms);
        let stream = format!("project/{pid}/env/{device}");
        envs.push(self.chain.sign(&self.key, id, &stream, "env.dust_noise.reading.v1", &at, reading)?);
        let alarms = format!("project/{pid}/alarms");
        for a in actions {
            let (kind, payload) = match a {
                AlarmAction::Raise { alarm_id, category, level, message, value, threshold } => (
                    "alarm.raised.v1",
                    obj(json!({
                        "project_id": pid, "alarm_id": alarm_id, "source": device, "category": category,
                        "level": level, "message": message, "value": value, "threshold": threshold,
                    })),
                ),
                AlarmAction::Clear { alarm_id, note } => {
                    ("alarm.cleared.v1", obj(json!({"project_id": pid, "alarm_id": alarm_id, "note": note})))
                }
            };
            let id = self.rng.uuid_v7(ms);
            envs.push(self.chain.sign(&self.key, id, &alarms, kind, &at, payload)?);
        }
        Ok(envs)
    }

    /// Posts (retrying what is safe to retry). Returns false when the demo is stopping.
    async fn submit(&mut self, envs: &[Envelope]) -> bool {
        match post_with_retries(&self.ingest, &self.token, envs, &self.shutdown).await {
            Ok(answer) if answer.rejected == 0 => true,
            Ok(answer) => {
                for r in answer.rejections() {
                    tracing::warn!(project = %self.spec.project_id, code = ?r.code, message = ?r.message, "demo record rejected");
                }
                self.resync().await;
                true
            }
            Err(_) if *self.shutdown.borrow() => false,
            Err(e) => {
                tracing::warn!(project = %self.spec.project_id, error = %e, "demo gateway could not post; resynchronising its chain");
                self.resync().await;
                true
            }
        }
    }

    /// Takes the chain state from the ledger (after a failure the records may or may not be in).
    async fn resync(&mut self) {
        match self.state.ledger.store().signer_head(&self.key_id).await {
            Ok(Some(h)) => self.chain = Chain::after(h.signer_seq, h.leaf_hash),
            Ok(None) => self.chain = Chain::new(),
            Err(e) => tracing::warn!(error = %e, "demo gateway cannot read its chain head"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_china_standard_time() {
        let t = OffsetDateTime::from_unix_timestamp(1_790_000_000).expect("time");
        let s = cst_text(t);
        assert!(s.ends_with("+08:00"));
        assert_eq!(siteledger_signer::envelope::parse_time(&s).expect("parses"), t);
    }

    #[test]
    fn gaps_start_and_end() {
        let mut rng = SplitMix64::new(1);
        let mut g = Gaps::new(&mut rng);
        let offline = (1..3000).filter(|t| g.at(*t, &mut rng).0).count();
        assert!(offline > 60 && offline < 2000, "{offline}");
    }

    #[test]
    fn unspecified_addresses_are_reached_on_loopback() {
        assert_eq!(loopback("0.0.0.0:80".parse().expect("addr")).to_string(), "127.0.0.1:80");
        assert_eq!(loopback("127.0.0.1:81".parse().expect("addr")).to_string(), "127.0.0.1:81");
    }
}
