//! The failover drill of issue 17: writers post signed records through HTTP to a platform server whose event store
//! is a Patroni cluster behind HAProxy ([`siteledger_testkit::cluster::HaCluster`]), while rounds of faults hit it:
//! SIGKILL of the PostgreSQL leader's machine, SIGSTOP of it for longer than the failover timeout and SIGCONT (a
//! zombie old leader), and SIGKILL of the platform server mid-commit followed by a restart. After each round the
//! checker ([`check`]) reads the log straight from the database nodes and counts what the promise forbids:
//!
//! * `lost`: an acknowledged record (event id at its acknowledged position) that is not in the log there;
//! * `duplicated`: an event id more than once in the log, or acknowledged at two positions;
//! * `forks`: a node whose log disagrees with the leader's at a common position, or a log that no longer extends
//!   what an earlier round saw (a second head);
//! * `inconsistent`: a checkpoint published before the fault that the tree after it does not extend (its signature,
//!   its root at its size, or the consistency proof to the new tree fails, verified with the signer library);
//!
//! and that positions are dense and that ingest resumes. [`run_drill`] prints one final line,
//! `ha drill: ok rounds=R failovers=F acked=N lost=0 duplicated=0 forks=0 inconsistent=0 max_unavailable=Xs`.
//!
//! The platform server runs in a child process (so SIGKILL hits a real process): the drill binary or test binary
//! re-executed, entering [`server_child_main`] with its settings in `SITELEDGER_HA_CHILD_*` variables.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use siteledger_client::KeyedChain;
use siteledger_signer::merkle::{self, Hash, MemoryTree};
use siteledger_signer::note::{Checkpoint, NoteVerifier};
use siteledger_signer::{Envelope, SigningKey};
use siteledger_testkit::cluster::HaCluster;
use uuid::Uuid;

use crate::{PATIENCE, SignedCity, city_key, now_beijing};

/// Environment of the server child: its data directory, event store URL and listen address.
pub const CHILD_DIR_ENV: &str = "SITELEDGER_HA_CHILD_DIR";
/// See [`CHILD_DIR_ENV`].
pub const CHILD_STORE_ENV: &str = "SITELEDGER_HA_CHILD_STORE";
/// See [`CHILD_DIR_ENV`].
pub const CHILD_LISTEN_ENV: &str = "SITELEDGER_HA_CHILD_LISTEN";

const ORIGIN: &str = "ha-drill.siteledger.example/log";
const DATABASE: &str = "ledger";

/// The server configuration of the drill: the cluster's store, files in `dir`, frequent checkpoints.
pub fn server_config(dir: &Path, store_url: &str, listen: SocketAddr) -> siteledger_api::config::Config {
    siteledger_api::config::Config {
        data_dir: dir.to_path_buf(),
        listen,
        store_url: Some(store_url.to_owned()),
        blob_url: Some(format!("fs:{}", dir.join("blobs").display())),
        log_origin: ORIGIN.into(),
        trust_roots: vec![city_key().public().to_base64()],
        checkpoint_interval_ms: 200,
        ..siteledger_api::config::Config::default()
    }
}

/// The server child's whole life: serve with the settings of the `SITELEDGER_HA_CHILD_*` variables until killed.
/// Returns at once (false) when they are not set, so a test harness entering it by name is harmless.
pub async fn server_child_main() -> anyhow::Result<bool> {
    let (Some(dir), Some(store), Some(listen)) =
        (std::env::var_os(CHILD_DIR_ENV), std::env::var(CHILD_STORE_ENV).ok(), std::env::var(CHILD_LISTEN_ENV).ok())
    else {
        return Ok(false);
    };
    let listen: SocketAddr = listen.parse().context("listen address")?;
    let server = siteledger_api::server::spawn(server_config(Path::new(&dir), &store, listen)).await?;
    server.wait().await;
    Ok(true)
}

/// How to start a server child: the program and arguments that reach [`server_child_main`].
#[derive(Debug, Clone)]
pub struct ChildLauncher {
    /// The executable (this binary).
    pub program: PathBuf,
    /// Its arguments (e.g. `--serve-child`, or a test harness's `--exact NAME --ignored`).
    pub args: Vec<String>,
}

/// A platform server child process; killed when dropped.
#[derive(Debug)]
pub struct ServerProcess {
    child: Option<Child>,
    dir: PathBuf,
    listen: SocketAddr,
    store_url: String,
    launcher: ChildLauncher,
}

impl ServerProcess {
    /// Starts a server on `dir` (keys, tokens, read models) with the cluster's `store_url`, and waits until it
    /// answers `/readyz`. A start that fails (no leader yet) is tried again.
    pub async fn start(launcher: ChildLauncher, dir: &Path, store_url: &str) -> anyhow::Result<ServerProcess> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut s = ServerProcess {
            child: None,
            dir: dir.to_path_buf(),
            listen: SocketAddr::from(([127, 0, 0, 1], port)),
            store_url: store_url.to_owned(),
            launcher,
        };
        s.restart().await?;
        Ok(s)
    }

    /// The server's base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.listen)
    }

    /// SIGKILLs the server wherever it is (mid-commit under load).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server again (after [`ServerProcess::kill`]) on the same directory and port.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        let started = Instant::now();
        let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build()?;
        while started.elapsed() < PATIENCE {
            let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("server.log"))?;
            let mut cmd = Command::new(&self.launcher.program);
            cmd.args(&self.launcher.args)
                .env(CHILD_DIR_ENV, &self.dir)
                .env(CHILD_STORE_ENV, &self.store_url)
                .env(CHILD_LISTEN_ENV, self.listen.to_string())
                .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log);
            let mut child = cmd.spawn().context("starting the server child")?;
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // it gave up (no leader yet): start it again
                }
                let ready = client.get(format!("{}/readyz", self.url())).send().await;
                if ready.is_ok_and(|r| r.status().is_success()) {
                    self.child = Some(child);
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
                if started.elapsed() > PATIENCE {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        bail!("the platform server did not become ready; see {}", self.dir.join("server.log").display())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One acknowledged record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acked {
    /// Its event id.
    pub event_id: Uuid,
    /// The position the server answered.
    pub position: u64,
}

/// A log entry as stored: position, event id, leaf hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// Leaf index.
    pub position: u64,
    /// Event id.
    pub event_id: Uuid,
    /// RFC 9162 leaf hash.
    pub leaf_hash: Hash,
}

/// What the checker counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    /// Positions of acknowledged records that are not in the log there.
    pub lost: Vec<u64>,
    /// Event ids found twice or acknowledged at two positions.
    pub duplicated: u64,
    /// Disagreements between logs that must extend each other.
    pub forks: u64,
    /// Published checkpoints the log does not extend.
    pub inconsistent: u64,
    /// Whether positions run densely from 0.
    pub dense: bool,
}

impl Findings {
    /// Nothing the promise forbids.
    pub fn clean(&self) -> bool {
        self.lost.is_empty() && self.duplicated == 0 && self.forks == 0 && self.inconsistent == 0 && self.dense
    }
}

/// Reads the log of node `i` (position order) with psql.
pub fn read_log(cluster: &HaCluster, i: usize) -> anyhow::Result<Vec<LogEntry>> {
    let out = cluster
        .psql(i, DATABASE, "SELECT position, event_id, encode(leaf_hash, 'hex') FROM events ORDER BY position")
        .map_err(|e| anyhow::anyhow!("reading the log of node {i}: {e}"))?;
    let mut log = Vec::new();
    for line in out.lines().filter(|l| !l.is_empty()) {
        let mut f = line.split('|');
        let (Some(p), Some(id), Some(h)) = (f.next(), f.next(), f.next()) else { bail!("bad row {line:?}") };
        let bytes = hex_decode(h).with_context(|| format!("leaf hash {h:?}"))?;
        log.push(LogEntry {
            position: p.parse()?,
            event_id: id.parse()?,
            leaf_hash: Hash::try_from(bytes.as_slice())
                .map_err(|_| anyhow::anyhow!("leaf hash of {} bytes", bytes.len()))?,
        });
    }
    Ok(log)
}

fn hex_decode(s: &str) -> anyhow::Result<Vec<u8>> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2).unwrap_or("zz"), 16).map_err(anyhow::Error::from))
        .collect()
}

/// Checks the leader's `log` against everything acknowledged, the other nodes' logs, the log an earlier round saw,
/// and the checkpoints published before the fault (signed notes, verified with `verifier`).
pub fn check(
    log: &[LogEntry],
    acked: &[Acked],
    others: &[Vec<LogEntry>],
    earlier: &[LogEntry],
    checkpoints: &[String],
    verifier: &NoteVerifier,
) -> Findings {
    let mut f = Findings { dense: log.iter().enumerate().all(|(i, e)| e.position == i as u64), ..Findings::default() };
    let mut seen: HashMap<Uuid, u64> = HashMap::new();
    for e in log {
        if seen.insert(e.event_id, e.position).is_some() {
            f.duplicated += 1;
        }
    }
    let mut acked_at: HashMap<Uuid, u64> = HashMap::new();
    for a in acked {
        match acked_at.insert(a.event_id, a.position) {
            Some(p) if p != a.position => f.duplicated += 1,
            _ => {}
        }
        let there = usize::try_from(a.position).ok().and_then(|p| log.get(p));
        if there.is_none_or(|e| e.event_id != a.event_id) {
            f.lost.push(a.position);
        }
    }
    f.lost.sort_unstable();
    f.lost.dedup();
    // A log that must extend (or be extended by) the leader's: equal wherever both have an entry.
    let disagree = |other: &[LogEntry]| other.iter().zip(log).any(|(a, b)| a.leaf_hash != b.leaf_hash);
    f.forks += others.iter().filter(|o| disagree(o)).count() as u64;
    if disagree(earlier) || earlier.len() > log.len() {
        f.forks += 1;
    }
    let mut tree = MemoryTree::new();
    for e in log {
        tree.push_hash(e.leaf_hash);
    }
    for note in checkpoints {
        let ok = Checkpoint::open(note, verifier, true).ok().is_some_and(|cp| {
            cp.size <= tree.size()
                && tree.root_at(cp.size).is_ok_and(|r| r == cp.root)
                && tree.consistency_proof(cp.size, tree.size()).is_ok_and(|proof| {
                    merkle::verify_consistency(cp.size, tree.size(), &proof, &cp.root, &tree.root()).is_ok()
                })
        });
        if !ok {
            f.inconsistent += 1;
        }
    }
    f
}

/// Writers: each signs readings with its own enrolled gateway key and posts them one at a time, resending the same
/// envelope until it is acknowledged (idempotent by event id), and records every acknowledgement.
#[derive(Debug)]
pub struct Writers {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Every acknowledgement so far.
    pub acked: Arc<Mutex<Vec<Acked>>>,
    /// Records refused (never expected in the drill).
    pub refused: Arc<Mutex<Vec<String>>>,
    /// The longest time, in milliseconds, a writer waited between a failed attempt and its next acknowledgement.
    pub max_unavailable_ms: Arc<AtomicU64>,
    /// The servers writers try, in turn: (base URL, bearer token).
    pub targets: Arc<Mutex<Vec<(String, String)>>>,
}

/// Registers the drill's city (bureau, projects, `n` gateway keys) through `url` with `token`; returns the writers'
/// chains and project ids.
pub async fn register(url: &str, token: &str, n: usize) -> anyhow::Result<Vec<(String, KeyedChain)>> {
    let mut city = SignedCity::new();
    let mut envs = city.registry()?;
    let mut writers = Vec::new();
    for k in 0..n {
        let project = city.projects[k % city.projects.len()].0.clone();
        let key = SigningKey::from_seed(&[0x70 + k as u8; 32]);
        let pk = *key.public();
        envs.push(city.city.sign(
            Uuid::now_v7(),
            "registry/keys",
            "ledger.key.enrolled.v1",
            "2026-01-06T09:00:00+08:00",
            obj(json!({
                "key_id": pk.key_id().to_string(), "public_key": pk.to_base64(),
                "subject": format!("project/{project}/gateway/HA-{k}"), "role": "gateway",
                "valid_from": "2026-01-01T00:00:00+08:00", "valid_until": "2036-01-01T00:00:00+08:00",
            })),
        )?);
        writers.push((project, KeyedChain::new(key)));
    }
    crate::ingest(&reqwest::Client::new(), url, token, &envs).await?;
    Ok(writers)
}

fn obj(v: Value) -> serde_json::Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

impl Writers {
    /// Starts one task per chain, posting to `targets` (base URL, bearer token) in turn.
    pub fn start(chains: Vec<(String, KeyedChain)>, targets: Vec<(String, String)>) -> Writers {
        let w = Writers {
            stop: Arc::new(AtomicBool::new(false)),
            tasks: Vec::new(),
            acked: Arc::default(),
            refused: Arc::default(),
            max_unavailable_ms: Arc::default(),
            targets: Arc::new(Mutex::new(targets)),
        };
        let mut tasks = Vec::new();
        for (k, (project, chain)) in chains.into_iter().enumerate() {
            tasks.push(tokio::spawn(write_loop(
                k,
                project,
                chain,
                Arc::clone(&w.stop),
                Arc::clone(&w.acked),
                Arc::clone(&w.refused),
                Arc::clone(&w.max_unavailable_ms),
                Arc::clone(&w.targets),
            )));
        }
        Writers { tasks, ..w }
    }

    /// Number of acknowledgements so far.
    pub fn count(&self) -> usize {
        self.acked.lock().map(|a| a.len()).unwrap_or(0)
    }

    /// Waits until `n` more acknowledgements than `from` arrived (ingest resumed), bounded by [`PATIENCE`].
    pub async fn wait_for_more(&self, from: usize, n: usize) -> anyhow::Result<()> {
        let start = Instant::now();
        while self.count() < from + n {
            if start.elapsed() > PATIENCE {
                bail!("ingest did not resume: {} acknowledgements, waiting for {}", self.count(), from + n);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    /// Stops every writer after its current record (which it finishes: acknowledged or given up at shutdown).
    pub async fn stop(self) -> Vec<Acked> {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.tasks {
            let _ = t.await;
        }
        self.acked.lock().map(|a| a.clone()).unwrap_or_default()
    }
}

#[expect(clippy::too_many_arguments, reason = "one writer task's shared handles, passed once")]
async fn write_loop(
    k: usize,
    project: String,
    mut chain: KeyedChain,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<Acked>>>,
    refused: Arc<Mutex<Vec<String>>>,
    max_unavailable: Arc<AtomicU64>,
    targets: Arc<Mutex<Vec<(String, String)>>>,
) {
    let client = match reqwest::Client::builder().timeout(Duration::from_secs(30)).build() {
        Ok(c) => c,
        Err(_) => return,
    };
    let mut n = 0u64;
    let mut attempt = 0usize;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let env = match reading(&mut chain, &project, k, n) {
            Ok(e) => e,
            Err(e) => {
                push(&refused, format!("writer {k}: signing failed: {e}"));
                return;
            }
        };
        let body = Value::Array(vec![env.to_value()]);
        let mut failing_since: Option<Instant> = None;
        loop {
            let target = targets.lock().ok().and_then(|t| (!t.is_empty()).then(|| t[(attempt + k) % t.len()].clone()));
            let Some((target, token)) = target else { return };
            let answer = client.post(format!("{target}/v1/events")).bearer_auth(&token).json(&body).send().await;
            let result = match answer {
                Ok(r) if r.status().is_success() => r.json::<Value>().await.ok(),
                _ => None,
            };
            match result.as_ref().and_then(|v| v["results"].get(0)) {
                Some(r) if r["status"] == "accepted" || r["status"] == "duplicate" => {
                    if let Some(p) = r["position"].as_u64() {
                        push(&acked, Acked { event_id: env.id(), position: p });
                    }
                    if let Some(since) = failing_since {
                        max_unavailable.fetch_max(since.elapsed().as_millis() as u64, Ordering::SeqCst);
                    }
                    break;
                }
                Some(r) => {
                    push(&refused, format!("writer {k}: {r}"));
                    break;
                }
                None => {
                    // 503, a reset connection, a timeout: nothing acknowledged; resend the same envelope.
                    failing_since.get_or_insert_with(Instant::now);
                    attempt += 1;
                    if stop.load(Ordering::SeqCst) {
                        return; // this record was never acknowledged: nothing to check for it
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

fn push<T>(v: &Mutex<Vec<T>>, item: T) {
    if let Ok(mut v) = v.lock() {
        v.push(item);
    }
}

fn reading(chain: &mut KeyedChain, project: &str, k: usize, n: u64) -> anyhow::Result<Envelope> {
    Ok(chain.sign(
        Uuid::now_v7(),
        &format!("project/{project}/device/HA-{k}"),
        "env.dust_noise.reading.v1",
        &now_beijing(),
        obj(json!({
            "project_id": project, "device_id": format!("HA-{k}"), "pm10_ug_m3": format!("{}.{}", 40 + n % 50, n % 10),
            "pm25_ug_m3": "28.4", "noise_db_a": format!("{}.5", 55 + n % 15),
        })),
    )?)
}

/// Drill settings.
#[derive(Debug, Clone)]
pub struct DrillOptions {
    /// Fault rounds; they cycle through kill leader, freeze leader, kill platform server.
    pub rounds: usize,
    /// Concurrent writers.
    pub writers: usize,
}

/// The drill's totals.
#[derive(Debug, Clone, Default)]
pub struct DrillReport {
    /// Rounds run.
    pub rounds: usize,
    /// Rounds after which another node led.
    pub failovers: usize,
    /// Acknowledged records.
    pub acked: usize,
    /// Everything the checker counted, summed over rounds (lost is the last round's, as a set of positions).
    pub findings: Findings,
    /// Records refused (should be none).
    pub refused: Vec<String>,
    /// The longest a writer waited for an acknowledgement after a failed attempt.
    pub max_unavailable: Duration,
}

impl DrillReport {
    /// The final line.
    pub fn line(&self) -> String {
        let ok = self.findings.clean() && self.refused.is_empty();
        format!(
            "ha drill: {} rounds={} failovers={} acked={} lost={} duplicated={} forks={} inconsistent={} \
             max_unavailable={:.1}s",
            if ok { "ok" } else { "FAILED" },
            self.rounds,
            self.failovers,
            self.acked,
            self.findings.lost.len(),
            self.findings.duplicated,
            self.findings.forks,
            self.findings.inconsistent,
            self.max_unavailable.as_secs_f64(),
        )
    }
}

/// Runs the drill on a fresh strict-synchronous cluster; `launcher` starts the platform server child.
pub async fn run_drill(launcher: ChildLauncher, options: DrillOptions) -> anyhow::Result<DrillReport> {
    let work = tempfile::Builder::new().prefix("siteledger-ha-drill-").tempdir()?;
    let mut cluster = tokio::task::spawn_blocking(|| HaCluster::start(Default::default())).await??;
    let cl = &mut cluster;
    let store = cl.create_database(DATABASE).map_err(|e| anyhow::anyhow!("{e}"))?;
    let dir = work.path().join("server");
    std::fs::create_dir_all(&dir)?;
    let tokens = siteledger_api::auth::TokenStore::open(&format!("sqlite:{}", dir.join("auth.db").display()))
        .await
        .map_err(|e| anyhow::anyhow!("token store: {e}"))?;
    let token = tokens
        .create("ha drill", siteledger_api::auth::Role::City, None, 1)
        .await
        .map_err(|e| anyhow::anyhow!("token: {e}"))?
        .secret;
    let mut server = ServerProcess::start(launcher, &dir, &store).await?;
    let chains = register(&server.url(), &token, options.writers).await?;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
    let vkey = client.get(format!("{}/v1/log/key", server.url())).send().await?.text().await?;
    let verifier = NoteVerifier::parse(vkey.trim()).map_err(|e| anyhow::anyhow!("log key: {e}"))?;
    let writers = Writers::start(chains, vec![(server.url(), token.clone())]);
    writers.wait_for_more(0, options.writers * 5).await?;

    let mut report = DrillReport::default();
    let mut earlier: Vec<LogEntry> = Vec::new();
    let mut published: Vec<String> = Vec::new();
    for round in 0..options.rounds {
        // A checkpoint published before the fault (fetched as an auditor would).
        if let Ok(r) = client.get(format!("{}/v1/log/checkpoint", server.url())).send().await
            && r.status().is_success()
        {
            published.push(r.text().await?);
        }
        let before = writers.count();
        let leader = cl.leader().context("no leader before the fault")?;
        match round % 3 {
            0 => {
                cl.kill_node(leader).map_err(|e| anyhow::anyhow!("{e}"))?;
                let new = blocking_wait_new_leader(cl, leader).await?;
                report.failovers += usize::from(new != leader);
                cl.start_node(leader).map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            1 => {
                cl.freeze_node(leader);
                let new = blocking_wait_new_leader(cl, leader).await?;
                report.failovers += usize::from(new != leader);
                cl.thaw_node(leader);
            }
            _ => {
                // Mid-commit: the writers are posting all the time, so the server is inside a group commit or
                // about to be.
                server.kill();
                server.restart().await?;
            }
        }
        blocking_wait_healthy(cl).await?;
        writers.wait_for_more(writers.count().max(before), options.writers * 3).await?;
        let leader = cl.leader().context("no leader after the round")?;
        // Acknowledgements first, then the log: a record acknowledged after the log was read is not in it yet.
        let acked = writers.acked.lock().map(|a| a.clone()).unwrap_or_default();
        let log = read_log(cl, leader)?;
        let others: Vec<Vec<LogEntry>> =
            (0..cl.node_count()).filter(|&i| i != leader).filter_map(|i| read_log(cl, i).ok()).collect();
        let f = check(&log, &acked, &others, &earlier, &published, &verifier);
        report.findings.duplicated += f.duplicated;
        report.findings.forks += f.forks;
        report.findings.inconsistent += f.inconsistent;
        report.findings.lost = f.lost.clone();
        report.findings.dense = f.dense;
        report.rounds = round + 1;
        eprintln!(
            "round {}: {} leader {leader}, log {} records, acked {}, lost {} dup {} forks {} inconsistent {}",
            round + 1,
            ["leader SIGKILL", "leader SIGSTOP/SIGCONT", "server SIGKILL"][round % 3],
            log.len(),
            acked.len(),
            f.lost.len(),
            f.duplicated,
            f.forks,
            f.inconsistent
        );
        if !f.clean() {
            keep_evidence(cl, &log, &acked, &f);
            break;
        }
        earlier = log;
    }
    let max_ms = writers.max_unavailable_ms.load(Ordering::SeqCst);
    let refused = writers.refused.lock().map(|r| r.clone()).unwrap_or_default();
    let acked = writers.stop().await;
    report.acked = acked.len();
    report.refused = refused;
    report.max_unavailable = Duration::from_millis(max_ms);
    drop(server);
    tokio::task::spawn_blocking(move || drop(cluster)).await?;
    Ok(report)
}

/// After a failed round: copies the members' logs and the first lost record's details where an operator can read
/// them (the cluster directory is deleted with the cluster).
fn keep_evidence(cl: &HaCluster, log: &[LogEntry], acked: &[Acked], f: &Findings) {
    let dest = std::env::temp_dir().join(format!("siteledger-ha-drill-failure-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dest);
    for entry in walk(cl.root_dir()) {
        let name = entry.to_string_lossy();
        if name.ends_with(".log") && !name.contains("/data/") {
            let flat = name.trim_start_matches(&*cl.root_dir().to_string_lossy()).replace('/', "_");
            let _ = std::fs::copy(&entry, dest.join(flat));
        }
    }
    if let Some(p) = f.lost.first() {
        let want: Vec<&Acked> = acked.iter().filter(|a| a.position == *p).collect();
        let have = usize::try_from(*p).ok().and_then(|i| log.get(i));
        eprintln!("first lost position {p}: acknowledged {want:?}, the log holds {have:?} (log size {})", log.len());
    }
    eprintln!("members' logs kept in {}", dest.display());
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = e.path();
        if path.is_dir() {
            if !path.ends_with("data") {
                out.extend(walk(&path));
            }
        } else {
            out.push(path);
        }
    }
    out
}

async fn blocking_wait_new_leader(cl: &HaCluster, old: usize) -> anyhow::Result<usize> {
    tokio::task::block_in_place(|| cl.wait_for_new_leader(old)).map_err(|e| anyhow::anyhow!("{e}"))
}

async fn blocking_wait_healthy(cl: &HaCluster) -> anyhow::Result<()> {
    tokio::task::block_in_place(|| cl.wait_healthy()).map_err(|e| anyhow::anyhow!("{e}"))
}
