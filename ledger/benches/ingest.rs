//! Ledger throughput: a documented bench command (not criterion: each configuration is one long sustained run).
//!
//! ```text
//! cargo bench -p siteledger-ledger --bench ingest            # full matrix, ~10 min on 2 cores
//! cargo bench -p siteledger-ledger --bench ingest -- --quick # smaller runs
//! cargo bench -p siteledger-ledger --bench ingest -- --proofs 10000000   # proof latency at 10 M records
//! cargo bench -p siteledger-ledger --bench ingest -- --quick --stores sqlite --batches 1024 --writers 8 --no-proofs
//! ```
//!
//! `--stores`, `--batches` and `--writers` (comma-separated) select rows of the matrix and `--no-proofs` skips the
//! proof store, so that one configuration can be profiled (`perf record`) or repeated alone; the raw limit is
//! measured again after the ingest rows, so a ratio can be read against both (the machine's load moves).
//! `--records N` sets the records per ingest row (a longer run weighs the pipeline's filling less: with 64 writers
//! a `--quick` row is one request per writer); `INGEST_PIPELINE=0` turns pipelined commits off and
//! `INGEST_MAX_BATCH_EVENTS` sets the group size, for before/after comparisons.
//!
//! It measures, in one run on one machine:
//! * the raw limit: Ed25519 batch verification (batches of 256) on one core and on all cores;
//! * sustained durable ingest of pre-signed records through `Ledger::ingest` (parse done beforehand; signature
//!   verification, chain checks, sequencing, Merkle nodes, checkpoints and the fsync'd commit included) on SQLite
//!   (WAL, synchronous=FULL) and PostgreSQL (a private server started here, fsync on), for batch sizes 1/64/1024
//!   and 1/8/64 concurrent writers;
//! * replay: reading the whole log back in position order;
//! * proof latency: inclusion and consistency proofs from the store at a large tree size (synthetic leaves
//!   committed directly through the store port, since proofs do not depend on leaf contents).
//!
//! Prints a Markdown table (also written to `$CARGO_TARGET_DIR/bench-ledger.md`).
//!
//! It runs on the system allocator, not the `siteledger` binary's mimalloc: the bench signs every record on one
//! thread before the clock starts and the ledger frees them on others, a pattern under which mimalloc keeps
//! faulting in fresh pages (`clear_page_erms` 12 % of a profile) and costs 18–119 % more CPU per record
//! (BENCHMARKS.md "The read models under flat-out ingest"), while the whole server under the city simulation used
//! 38 % less CPU with it.

use std::time::{Duration, Instant};

use serde_json::json;
use siteledger_client::KeyedChain;
use siteledger_ledger::postgres::PgStore;
use siteledger_ledger::sqlite::SqliteStore;
use siteledger_ledger::{Commit, EventStore, IngestOutcome, Ledger, LedgerConfig, StoredEvent};
use siteledger_signer::keys::{BatchItem, verify_batch};
use siteledger_signer::merkle::{Frontier, leaf_hash, verify_consistency, verify_inclusion};
use siteledger_signer::{Envelope, NoteSigner, SigningKey};

const ORIGIN: &str = "bench.siteledger.example/log";

fn config(city: &SigningKey) -> LedgerConfig {
    let mut c = LedgerConfig::new(
        NoteSigner::new(ORIGIN, SigningKey::from_seed(&[0x10; 32])).expect("log key"),
        SigningKey::from_seed(&[0x11; 32]),
    );
    c.trust_roots = vec![*city.public()];
    // Experiments with the group size: INGEST_MAX_BATCH_EVENTS overrides the default.
    if let Some(n) = std::env::var("INGEST_MAX_BATCH_EVENTS").ok().and_then(|v| v.parse().ok()) {
        c.max_batch_events = n;
    }
    // INGEST_PIPELINE=0: one group at a time (LedgerConfig::pipeline_commits off), for the before/after.
    if std::env::var("INGEST_PIPELINE").is_ok_and(|v| v == "0") {
        c.pipeline_commits = false;
    }
    c
}

fn id(n: u64) -> uuid::Uuid {
    let mut rand = [0u8; 10];
    rand[2..].copy_from_slice(&n.to_be_bytes());
    uuid::Builder::from_unix_timestamp_millis(1_790_000_000_000 + n / 1000, &rand).into_uuid()
}

fn enrol(city: &mut KeyedChain, key: &SigningKey, n: u64) -> Envelope {
    let pk = key.public();
    let payload = json!({
        "key_id": pk.key_id().to_string(), "public_key": pk.to_base64(), "subject": format!("bench-{n}"),
        "role": "gateway", "valid_from": "2026-01-01T00:00:00+08:00", "valid_until": null,
    });
    city.sign(
        id(u64::MAX / 2 + n),
        "registry/keys",
        "ledger.key.enrolled.v1",
        "2026-01-01T08:00:00+08:00",
        payload.as_object().cloned().unwrap_or_default(),
    )
    .expect("sign")
}

/// `writers` signer chains of `per_writer` realistic readings (~400-byte leaves).
fn presign(writers: usize, per_writer: usize, salt: u64) -> (Vec<SigningKey>, Vec<Vec<Envelope>>) {
    let mut keys = Vec::new();
    let mut chains = Vec::new();
    for w in 0..writers {
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&(salt * 1000 + w as u64).to_le_bytes());
        seed[31] = 0x5a;
        let key = SigningKey::from_seed(&seed);
        let mut c = KeyedChain::new(SigningKey::from_seed(&seed));
        let mut envs = Vec::with_capacity(per_writer);
        for i in 0..per_writer {
            let n = salt * 100_000_000 + (w as u64) * 1_000_000 + i as u64;
            let payload = json!({
                "project_id": format!("NB-2026-{:04}", w), "device_id": "DUST-01", "mn": "010000A8900016F000169DC0",
                "pm10_ug_m3": format!("{}.{}", 40 + i % 90, i % 10), "pm25_ug_m3": format!("{}.{}", 20 + i % 40, i % 7),
                "noise_db_a": format!("{}.{}", 50 + i % 30, i % 9), "flag": "N",
            });
            let at = format!(
                "2026-03-{:02}T{:02}:{:02}:{:02}+08:00",
                1 + (i / 86400) % 28,
                (i / 3600) % 24,
                (i / 60) % 60,
                i % 60
            );
            envs.push(
                c.sign(
                    id(n),
                    &format!("project/NB-2026-{w:04}/device/DUST-01"),
                    "env.dust_noise.reading.v1",
                    &at,
                    payload.as_object().cloned().unwrap_or_default(),
                )
                .expect("sign"),
            );
        }
        keys.push(key);
        chains.push(envs);
    }
    (keys, chains)
}

/// Signatures per second, and CPU microseconds of this process per signature (every thread).
fn raw_batch_verify(threads: usize, seconds: f64) -> (f64, f64) {
    let key = SigningKey::from_seed(&[7; 32]);
    let msgs: Vec<Vec<u8>> = (0..256).map(|i| format!("siteledger raw limit {i:0>300}").into_bytes()).collect();
    let sigs: Vec<[u8; 64]> = msgs.iter().map(|m| key.sign(m)).collect();
    let pk = *key.public();
    let cpu = process_cpu_secs();
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let msgs = msgs.clone();
            let sigs = sigs.clone();
            std::thread::spawn(move || {
                let items: Vec<BatchItem<'_>> =
                    msgs.iter().zip(&sigs).map(|(m, s)| BatchItem { key: &pk, message: m, signature: s }).collect();
                let mut n = 0u64;
                let t = Instant::now();
                while t.elapsed().as_secs_f64() < seconds {
                    let r = verify_batch(&items);
                    assert!(r.iter().all(Result::is_ok));
                    n += items.len() as u64;
                }
                n
            })
        })
        .collect();
    let total: u64 = handles.into_iter().map(|h| h.join().expect("thread")).sum();
    let rate = total as f64 / start.elapsed().as_secs_f64();
    (rate, (process_cpu_secs() - cpu) * 1e6 / total as f64)
}

/// CPU time of this process so far (user + system, every thread, exited ones included), seconds; 10 ms resolution.
fn process_cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name: state is field 3, utime field 14, stime field 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Returns records/s, group commits, and CPU microseconds of this process per record.
async fn ingest_run<S: EventStore>(
    store: S,
    batch: usize,
    writers: usize,
    per_writer: usize,
    salt: u64,
) -> (f64, u64, f64) {
    let mut city = KeyedChain::new(SigningKey::from_seed(&[0x21; 32]));
    let l = Ledger::open(store, config(city.key())).await.expect("ledger");
    let pk = *city.key().public();
    let root = city
        .sign(id(u64::MAX / 4 + salt), "registry/keys", "ledger.key.enrolled.v1", "2026-01-01T08:00:00+08:00",
            json!({"key_id": pk.key_id().to_string(), "public_key": pk.to_base64(), "subject": "city", "role": "city_bureau",
                   "valid_from": "2026-01-01T00:00:00+08:00", "valid_until": null}).as_object().cloned().unwrap_or_default())
        .expect("sign");
    let (keys, chains) = presign(writers, per_writer, salt);
    let mut setup = vec![root];
    for (i, k) in keys.iter().enumerate() {
        setup.push(enrol(&mut city, k, salt * 1000 + i as u64));
    }
    l.ingest(setup).await.expect("setup");
    // Split into request batches before the clock starts: a copy of each envelope is the bench's work, not ingest's
    // (about 1.3 µs per record in the figures measured before issue 16).
    let batches: Vec<Vec<Vec<Envelope>>> = chains
        .into_iter()
        .map(|mut chain| {
            let mut out = Vec::new();
            while !chain.is_empty() {
                let rest = chain.split_off(batch.min(chain.len()));
                out.push(std::mem::replace(&mut chain, rest));
            }
            out
        })
        .collect();
    let cpu = process_cpu_secs();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for chain in batches {
        let l = l.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            for b in chain {
                let out = l.ingest(b).await.expect("ingest");
                n += out.iter().filter(|o| matches!(o, IngestOutcome::Accepted { .. })).count() as u64;
            }
            n
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("writer");
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu_us = (process_cpu_secs() - cpu) * 1e6 / total as f64;
    assert_eq!(total, (writers * per_writer) as u64, "every record accepted");
    (total as f64 / secs, l.stats().commits, cpu_us)
}

async fn replay_rate<S: EventStore>(store: &S) -> (u64, f64) {
    let start = Instant::now();
    let mut from = 0;
    loop {
        let page = store.read_all(from, 4096).await.expect("read");
        if page.is_empty() {
            break;
        }
        from = page.last().map_or(from, |e| e.position + 1);
    }
    (from, from as f64 / start.elapsed().as_secs_f64())
}

/// Commits `n` synthetic 64-byte leaves directly through the store port, then measures proof latency.
async fn proofs<S: EventStore>(store: S, n: u64) -> (f64, f64, f64) {
    let mut frontier = Frontier::new();
    let chunk = 16_384u64;
    let now = time::OffsetDateTime::now_utc();
    let mut pos = store.head().await.expect("head");
    assert_eq!(pos, 0, "fresh store");
    let t = Instant::now();
    while pos < n {
        let k = chunk.min(n - pos);
        let mut c = Commit::default();
        for i in pos..pos + k {
            let leaf = i.to_be_bytes().repeat(8);
            let h = leaf_hash(&leaf);
            let mut nodes = frontier.push(h);
            nodes.remove(0);
            c.nodes.extend(nodes);
            c.events.push(StoredEvent {
                position: i,
                stream: format!("synthetic/{}", i % 1000),
                stream_version: i / 1000,
                event_id: id(i),
                kind: "bench.synthetic.v1".into(),
                signer: "00000000000000000000000000000000".into(),
                signer_seq: i + 1,
                occurred_at: "2026-01-01T00:00:00+08:00".into(),
                recorded_at: now,
                leaf,
                leaf_hash: h,
            });
        }
        store.commit(pos, &c).await.expect("commit");
        pos += k;
        if pos % 1_000_000 < chunk {
            eprintln!("  proof store: {pos} leaves ({:.0}/s)", pos as f64 / t.elapsed().as_secs_f64());
        }
    }
    let root = frontier.root();
    // Random-ish indices; each proof is read from the store (one round trip) and verified.
    let samples = 2000u64;
    let mut incl = Vec::with_capacity(samples as usize);
    let mut cons = Vec::with_capacity(samples as usize);
    let reader = NodeStore(&store);
    for s in 0..samples {
        let i = (s.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11) % n;
        let t = Instant::now();
        let p = reader.inclusion(i, n).await;
        incl.push(t.elapsed());
        let leaf = i.to_be_bytes().repeat(8);
        verify_inclusion(&leaf_hash(&leaf), i, n, &p, &root).expect("inclusion verifies");
        let m = 1 + i;
        let t = Instant::now();
        let (old_root, cp) = reader.consistency(m, n).await;
        cons.push(t.elapsed());
        verify_consistency(m, n, &cp, &old_root, &root).expect("consistency verifies");
    }
    incl.sort();
    cons.sort();
    let p = |v: &Vec<Duration>, q: f64| v[((v.len() as f64 - 1.0) * q) as usize].as_secs_f64() * 1e3;
    (p(&incl, 0.5), p(&incl, 0.99), p(&cons, 0.99))
}

struct NodeStore<'a, S>(&'a S);

impl<S: EventStore> NodeStore<'_, S> {
    async fn inclusion(&self, i: u64, n: u64) -> Vec<[u8; 32]> {
        let plan = siteledger_signer::merkle::ProofPlan::inclusion(i, n).expect("plan");
        plan.assemble(&self.0.read_nodes(&plan.nodes()).await.expect("nodes")).expect("assemble")
    }
    async fn consistency(&self, m: u64, n: u64) -> ([u8; 32], Vec<[u8; 32]>) {
        let old = siteledger_signer::merkle::fold_range(
            &self.0.read_nodes(&siteledger_signer::merkle::range_nodes(0, m)).await.expect("nodes"),
        );
        let plan = siteledger_signer::merkle::ProofPlan::consistency(m, n).expect("plan");
        (old, plan.assemble(&self.0.read_nodes(&plan.nodes()).await.expect("nodes")).expect("assemble"))
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let proof_size: u64 = args
        .iter()
        .position(|a| a == "--proofs")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(if quick { 1_000_000 } else { 10_000_000 });
    let only_proofs = args.iter().any(|a| a == "--only-proofs");
    let no_proofs = args.iter().any(|a| a == "--no-proofs");
    let list = |flag: &str| -> Option<Vec<String>> {
        let i = args.iter().position(|a| a == flag)?;
        Some(args.get(i + 1)?.split(',').map(str::to_owned).collect())
    };
    let stores = list("--stores").unwrap_or_else(|| vec!["sqlite".into(), "postgres".into()]);
    let numbers = |flag: &str, default: &[usize]| -> Vec<usize> {
        list(flag).map_or_else(|| default.to_vec(), |v| v.iter().filter_map(|s| s.parse().ok()).collect())
    };
    let batches = numbers("--batches", &[1, 64, 1024]);
    let writer_counts = numbers("--writers", &[1, 8, 64]);
    // Records per ingest row, instead of the defaults below (a longer run weighs the pipeline's filling less).
    let records: Option<usize> = list("--records").and_then(|v| v.first()?.parse().ok());
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(cores).enable_all().build().expect("runtime");
    let mut out = String::new();
    let (raw1, _) = raw_batch_verify(1, 3.0);
    let (raw_all, raw_cpu) = raw_batch_verify(cores, 3.0);
    out.push_str(&format!(
        "Raw limit, same run: Ed25519 batch verification (batches of 256) {raw1:.0}/s on one core, {raw_all:.0}/s on {cores} cores, {raw_cpu:.1} CPU µs per signature.\n\n"
    ));
    let dir = tempfile::tempdir().expect("tmp");
    let pg = stores
        .iter()
        .any(|s| s == "postgres")
        .then(|| siteledger_testkit::TempPostgres::start(true).expect("postgres (fsync on)"));
    if !only_proofs {
        // "CPU vs raw": the raw verifier's CPU per signature over ingest's CPU per record, the share of the raw rate
        // ingest reaches when both keep every core busy; unlike the wall-clock ratio, it does not depend on how
        // much of the machine other work takes from each run (the ingest runs more threads than the raw one).
        out.push_str("| store | batch | writers | records | durable ingest (records/s) | commits | vs raw (all cores) | CPU µs/record (this process) | CPU vs raw |\n|---|---|---|---|---|---|---|---|---|\n");
        let mut salt = 1;
        for store_kind in stores.iter().map(String::as_str) {
            for &batch in &batches {
                for &writers in &writer_counts {
                    let total = match (batch, quick) {
                        (1, true) => 2_000,
                        (1, false) => 8_000,
                        (64, true) => 20_000,
                        (64, false) => 64_000,
                        (_, true) => 60_000,
                        (_, false) => 256_000,
                    };
                    let total = records.unwrap_or(total);
                    let per_writer = (total / writers).max(batch);
                    salt += 1;
                    let (rate, commits, cpu_us) = rt.block_on(async {
                        if store_kind == "sqlite" {
                            let s =
                                SqliteStore::open(&dir.path().join(format!("ingest-{salt}.db"))).await.expect("sqlite");
                            ingest_run(s, batch, writers, per_writer, salt).await
                        } else {
                            let pg = pg.as_ref().expect("started above");
                            let url = pg.create_unique_database("bench").expect("db");
                            let s = PgStore::connect(&url).await.expect("pg");
                            ingest_run(s, batch, writers, per_writer, salt).await
                        }
                    });
                    let line = format!(
                        "| {store_kind} | {batch} | {writers} | {} | {rate:.0} | {commits} | {:.0}% | {cpu_us:.1} | {:.0}% |\n",
                        per_writer * writers,
                        100.0 * rate / raw_all,
                        100.0 * raw_cpu / cpu_us
                    );
                    eprint!("{line}");
                    out.push_str(&line);
                }
            }
        }
        // Replay: the largest SQLite log written above, and a PostgreSQL one.
        let (n, rate) = rt.block_on(async {
            let mut best = (0, 0.0);
            for entry in std::fs::read_dir(dir.path()).expect("dir").flatten() {
                let p = entry.path();
                if p.extension().is_some_and(|e| e == "db") {
                    let s = SqliteStore::open(&p).await.expect("open");
                    let r = replay_rate(&s).await;
                    if r.0 > best.0 {
                        best = r;
                    }
                }
            }
            best
        });
        out.push_str(&format!("\nReplay (read_all in pages of 4096, SQLite): {n} records at {rate:.0} records/s.\n"));
        let (raw1, _) = raw_batch_verify(1, 3.0);
        let (raw_all, raw_cpu) = raw_batch_verify(cores, 3.0);
        out.push_str(&format!(
            "\nRaw limit again, after the ingest rows: {raw1:.0}/s on one core, {raw_all:.0}/s on {cores} cores, {raw_cpu:.1} CPU µs per signature.\n"
        ));
    }
    if no_proofs {
        print!("{out}");
        return;
    }
    let (p50, p99, c99) = rt.block_on(async {
        let s = SqliteStore::open(&dir.path().join("proofs.db")).await.expect("sqlite");
        proofs(s, proof_size).await
    });
    out.push_str(&format!(
        "\nProofs from the SQLite store at {proof_size} records (2000 random indices, read + assemble, then verified): inclusion p50 {p50:.3} ms, p99 {p99:.3} ms; consistency p99 {c99:.3} ms.\n"
    ));
    print!("{out}");
    let target =
        std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target").into());
    let _ = std::fs::create_dir_all(&target);
    let _ = std::fs::write(std::path::Path::new(&target).join("bench-ledger.md"), &out);
}
