//! Two paths of the agent, each **durably queued** (SQLite WAL, `synchronous = FULL`, group commit):
//!
//! * `hj212/parse_sign_queue_durably`: HJ 212 packets per second **parsed + signed + queued**: a batch of real-time
//!   uploads as one monitor's byte stream goes through the sans-I/O [`Connection`] (framing, CRC, packet parser),
//!   becomes `env.hj212.data.v1` records (unit conversion), and is signed into the gateway's chain and committed to
//!   the SQLite queue by the group-commit writer — the same path as the TCP server, minus the socket.
//! * `intake/post_records_durably`: records per second through a running agent's `POST /v1/records` over loopback
//!   HTTP (a contractor's agent, `worker.passage.v1`): bearer-token check, body parse, domain validation and signer
//!   rules, signing, durable commit, `201`. 32 client tasks post concurrently (keep-alive); the client runs in the
//!   same process, so its HTTP work is counted too.
//!
//! Runs on a current-thread runtime; `taskset -c 0` keeps the whole process (incl. sqlx's SQLite thread) on one
//! core. Recorded in BENCHMARKS.md.
//!
//! ```sh
//! taskset -c 0 cargo bench -p siteledger-gateway-agent --bench agent
//! ```

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use siteledger_client::outbox::Outbox;
use siteledger_gateway_agent::config::{AgentConfig, DeviceConfig, DeviceKind, ParticulateUnit};
use siteledger_gateway_agent::hj212::{Connection, ConnectionLimits, Event, encode_frame};
use siteledger_gateway_agent::record::hj212_record;
use siteledger_gateway_agent::{Agent, AgentHandle};
use siteledger_signer::SigningKey;

const MN: &str = "010000A8900016F000169DC0";
const BATCH: usize = 2_000;

fn stream() -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..BATCH {
        let seg = format!(
            "QN=20261124101500{:03};ST=39;CN=2011;PW=123456;MN={MN};Flag=5;CP=&&DataTime=20261124101500;\
             a34002-Rtd=0.{:04},a34002-Flag=N;a34004-Rtd=0.0412,a34004-Flag=N;a34001-Rtd=0.1502,a34001-Flag=N;\
             LA-Rtd=63.4,LA-Flag=N;a01007-Rtd=2.5,a01007-Flag=N;a01008-Rtd=135,a01008-Flag=N;\
             a01001-Rtd=14.2,a01001-Flag=N;a01002-Rtd=71.0,a01002-Flag=N&&",
            i % 1000,
            800 + i % 200
        );
        out.extend_from_slice(encode_frame(&seg).expect("frame").as_bytes());
    }
    out
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("dir");
    let mut config =
        AgentConfig::new("http://127.0.0.1:9", "NB-2025-0001", "GW-B", &dir.path().join("k"), &dir.path().join("q"));
    config.devices = vec![DeviceConfig {
        id: "HJ-01".into(),
        kind: DeviceKind::Hj212,
        mn: Some(MN.into()),
        particulate_unit: ParticulateUnit::Milligram,
        thresholds: Default::default(),
    }];
    let device = config.devices[0].clone();
    let (_queue, handle) = rt
        .block_on(Outbox::open(&dir.path().join("q/queue.db"), SigningKey::from_seed(&[5; 32]), u64::MAX))
        .expect("queue");
    let bytes = stream();
    // CPU time (user + system, whole process incl. sqlx's SQLite thread) per packet over 20 batches: on a shared,
    // loaded machine the wall-clock figure below understates what one free core does.
    let (c0, w0) = (cpu_seconds(), Instant::now());
    rt.block_on(async {
        for _ in 0..20 {
            let now = Instant::now();
            let mut conn = Connection::new(ConnectionLimits::default(), now);
            let received = time::OffsetDateTime::now_utc();
            let mut pending = Vec::with_capacity(BATCH);
            for chunk in bytes.chunks(8192) {
                for e in conn.receive(chunk, now) {
                    if let Event::Packet { packet, .. } = e {
                        pending.push(
                            handle
                                .enqueue(hj212_record(&config, &device, &packet, false, received).expect("record"))
                                .await
                                .expect("enqueue"),
                        );
                    }
                }
            }
            for p in pending {
                p.await.expect("committed");
            }
        }
    });
    if let (Some(c0), Some(c1)) = (c0, cpu_seconds()) {
        let n = (20 * BATCH) as f64;
        eprintln!(
            "hj212 parse+sign+queue: {n} packets, wall {:.2} s ({:.0}/s), CPU {:.2} s ({:.0} packets per CPU-second)",
            w0.elapsed().as_secs_f64(),
            n / w0.elapsed().as_secs_f64(),
            c1 - c0,
            n / (c1 - c0)
        );
    }
    let mut g = c.benchmark_group("hj212");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.bench_function("parse_sign_queue_durably", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let now = Instant::now();
                    let mut conn = Connection::new(ConnectionLimits::default(), now);
                    let received = time::OffsetDateTime::now_utc();
                    let mut pending = Vec::with_capacity(BATCH);
                    for chunk in bytes.chunks(8192) {
                        for e in conn.receive(chunk, now) {
                            if let Event::Packet { packet, .. } = e {
                                let record = hj212_record(&config, &device, &packet, false, received).expect("record");
                                pending.push(handle.enqueue(record).await.expect("enqueue"));
                            }
                        }
                    }
                    assert_eq!(pending.len(), BATCH);
                    for p in pending {
                        p.await.expect("committed");
                    }
                }
                start.elapsed()
            })
        });
    });
    g.finish();
}

/// CPU seconds (user + system) of the whole process so far.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

const INTAKE_TOKEN: &str = "bench-intake-token-0123456789abcdef";
const POSTS: usize = 2_000;
const CLIENTS: usize = 32;

/// Posts `POSTS` passages to the agent from `CLIENTS` concurrent tasks; every answer must be 201.
async fn post_batch(http: &reqwest::Client, url: &str, round: usize) {
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..CLIENTS {
        let (http, url) = (http.clone(), url.to_owned());
        tasks.spawn(async move {
            for i in (c..POSTS).step_by(CLIENTS) {
                let body = serde_json::json!({
                    "kind": "worker.passage.v1", "stream": "project/NB-2026-0001/workforce",
                    "payload": {"project_id": "NB-2026-0001", "person_ref": format!("P-{:032x}", round * POSTS + i),
                                "gate": "GATE-1", "direction": if i % 2 == 0 { "in" } else { "out" }, "method": "face"},
                });
                let r = http.post(&url).bearer_auth(INTAKE_TOKEN).json(&body).send().await.expect("post");
                assert_eq!(r.status().as_u16(), 201);
                let _ = r.bytes().await;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("client task");
    }
}

fn bench_records(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("dir");
    let mut config = AgentConfig::new("http://127.0.0.1:9", "", "", &dir.path().join("k"), &dir.path().join("q"));
    config.role = "enterprise".into();
    config.subject = Some("91330200MA2GC00017".into());
    config.hj212_listen = None;
    config.heartbeat_secs = 0;
    config.queue_max_bytes = u64::MAX;
    config.intake_token_sha256 = Some(siteledger_gateway_agent::config::intake_token_sha256(INTAKE_TOKEN));
    let agent: AgentHandle =
        rt.block_on(Agent::start(config, SigningKey::from_seed(&[6; 32]), "t".into())).expect("agent");
    let url = format!("{}/v1/records", agent.intake_url().expect("an intake"));
    let http = reqwest::Client::builder().no_proxy().pool_max_idle_per_host(CLIENTS).build().expect("client");
    let mut round = 0;
    let (c0, w0) = (cpu_seconds(), Instant::now());
    rt.block_on(async {
        for _ in 0..10 {
            round += 1;
            post_batch(&http, &url, round).await;
        }
    });
    if let (Some(c0), Some(c1)) = (c0, cpu_seconds()) {
        let n = (10 * POSTS) as f64;
        eprintln!(
            "POST /v1/records (durable): {n} records, wall {:.2} s ({:.0}/s), CPU {:.2} s ({:.0} records per CPU-second)",
            w0.elapsed().as_secs_f64(),
            n / w0.elapsed().as_secs_f64(),
            c1 - c0,
            n / (c1 - c0)
        );
    }
    let mut g = c.benchmark_group("intake");
    g.throughput(Throughput::Elements(POSTS as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.bench_function("post_records_durably", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    round += 1;
                    post_batch(&http, &url, round).await;
                }
                start.elapsed()
            })
        });
    });
    g.finish();
    rt.block_on(agent.shutdown());
}

criterion_group!(benches, bench, bench_records);
criterion_main!(benches);
