//! Criterion benchmarks of the signer crate, plus the raw limits of the machine they run on.
//!
//! Run with `cargo bench -p siteledger-signer --bench signer`; BENCHMARKS.md at the repository root records a run.
//! The 10,000,000-leaf `MemoryTree` (≈ 1 GB with `Vec` slack) is built once, on first use, and shared by the tree
//! benchmarks (building it takes a few seconds, even when a filter selects none of them).

use std::hint::black_box;
use std::sync::{LazyLock, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput};
use sha2::{Digest, Sha256};
use siteledger_signer::batch;
use siteledger_signer::envelope::{Envelope, UnsignedEnvelope};
use siteledger_signer::keys::{self, BatchItem, PublicKey, SIGNATURE_LEN, SigningKey};
use siteledger_signer::merkle::{self, Frontier, Hash, MemoryTree, NodeId, NodeReader};
use siteledger_signer::sample::{SampleLog, SampleSigner};

/// Leaves in the shared tree.
const TREE_SIZE: u64 = 10_000_000;

/// SplitMix64: a tiny deterministic generator for benchmark inputs.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform-enough value in `lo..hi` (`hi > lo`).
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// The shared 10M-leaf tree, built on first use (leaf `i` is the leaf hash of `i` in little-endian bytes).
static TREE: LazyLock<Mutex<MemoryTree>> = LazyLock::new(|| {
    let start = Instant::now();
    let mut t = MemoryTree::new();
    for i in 0..TREE_SIZE {
        t.push_hash(merkle::leaf_hash(&i.to_le_bytes()));
    }
    eprintln!("built a MemoryTree of {TREE_SIZE} leaves in {:.2?}", start.elapsed());
    Mutex::new(t)
});

fn tree() -> MutexGuard<'static, MemoryTree> {
    TREE.lock().unwrap_or_else(|e| e.into_inner())
}

/// A realistic dust-reading envelope of the deterministic sample log (index 3, signed by the gateway).
fn dust_reading() -> (Envelope, PublicKey, SigningKey) {
    let log = SampleLog::new(1).expect("sample log");
    let env = log.envelopes[3].clone();
    assert_eq!(env.kind(), "iot.dust.reading.v1");
    (env, *log.key(SampleSigner::Gateway).public(), SigningKey::from_seed(&[0x23; 32]))
}

fn bench_keys(c: &mut Criterion) {
    let key = SigningKey::from_seed(&[7; 32]);
    let mut rng = Rng(1);
    let message = rng.bytes(300);
    let sig = key.sign(&message);

    c.bench_function("sign", |b| b.iter(|| key.sign(black_box(&message))));
    c.bench_function("verify_strict", |b| {
        b.iter(|| key.public().verify(black_box(&message), black_box(&sig)).expect("valid"))
    });

    // Batches drawn from 16 signers, 300-byte messages, all valid (the fast path).
    let signers: Vec<SigningKey> = (0..16u8).map(|i| SigningKey::from_seed(&[i + 1; 32])).collect();
    let mut group = c.benchmark_group("verify_batch");
    group.sample_size(30).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    for n in [64usize, 256] {
        let messages: Vec<Vec<u8>> = (0..n).map(|_| rng.bytes(300)).collect();
        let sigs: Vec<[u8; SIGNATURE_LEN]> =
            messages.iter().enumerate().map(|(i, m)| signers[i % signers.len()].sign(m)).collect();
        let items: Vec<BatchItem<'_>> = messages
            .iter()
            .zip(&sigs)
            .enumerate()
            .map(|(i, (m, s))| BatchItem { key: signers[i % signers.len()].public(), message: m, signature: s })
            .collect();
        assert!(keys::verify_batch(&items).iter().all(Result::is_ok));
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &items, |b, items| {
            b.iter(|| keys::verify_batch(black_box(items)))
        });
    }
    group.finish();
}

fn bench_envelopes(c: &mut Criterion) {
    let (env, public, key) = dust_reading();
    eprintln!(
        "dust-reading envelope: {} leaf bytes, {} signed bytes",
        env.leaf_bytes().len(),
        env.signed_message().len()
    );
    let unsigned = UnsignedEnvelope {
        id: env.id(),
        stream: env.stream().to_owned(),
        kind: env.kind().to_owned(),
        occurred_at: env.occurred_at().to_owned(),
        seq: env.seq(),
        prev: env.prev().copied(),
        payload: env.payload().clone(),
    };
    assert_eq!(unsigned.clone().sign(&key).expect("sign").leaf_bytes(), env.leaf_bytes());
    c.bench_function("envelope_sign", |b| {
        b.iter_batched(|| unsigned.clone(), |u| u.sign(&key).expect("sign"), BatchSize::SmallInput)
    });
    let leaf = env.leaf_bytes().to_vec();
    c.bench_function("envelope_parse_verify", |b| {
        b.iter(|| {
            let e = Envelope::parse(black_box(&leaf)).expect("parse");
            e.verify(&public).expect("verify");
            e
        })
    });
    c.bench_function("envelope_parse", |b| b.iter(|| Envelope::parse(black_box(&leaf)).expect("parse")));

    // A `POST /v1/events` body of 100 dust readings: the per-item parse the ingest handler runs before the
    // sequencer (no signature checks; those are batched by the ledger).
    let log = SampleLog::new(100).expect("sample log");
    let body =
        serde_json::to_vec(&serde_json::Value::Array(log.envelopes[3..].iter().map(Envelope::to_value).collect()))
            .expect("body");
    let mut group = c.benchmark_group("ingest_body_100");
    group.throughput(Throughput::Elements(100));
    // What the handler did before issue 12: serde_json values (last duplicate member wins), then from_value.
    group.bench_function("value_path", |b| {
        b.iter(|| {
            let items: Vec<serde_json::Value> = serde_json::from_slice(black_box(&body)).expect("json");
            items.into_iter().map(|v| Envelope::from_value(v).expect("envelope")).collect::<Vec<_>>()
        })
    });
    // What it does now: one strict parse and one canonicalisation per item (siteledger_signer::batch).
    group.bench_function("strict_batch", |b| {
        b.iter(|| {
            let items = batch::parse_body(black_box(&body)).expect("body");
            assert!(items.iter().all(|i| i.result.is_ok()));
            items
        })
    });
    group.finish();
}

fn bench_hashes(c: &mut Criterion) {
    let mut rng = Rng(2);
    let leaf = rng.bytes(400);
    let mut group = c.benchmark_group("leaf_hash");
    group.throughput(Throughput::Bytes(leaf.len() as u64));
    group.bench_function("400B", |b| b.iter(|| merkle::leaf_hash(black_box(&leaf))));
    group.finish();
    let (l, r): (Hash, Hash) = ([1; 32], [2; 32]);
    c.bench_function("node_hash", |b| b.iter(|| merkle::node_hash(black_box(&l), black_box(&r))));
}

fn bench_tree(c: &mut Criterion) {
    let n = TREE_SIZE;
    let mut rng = Rng(3);
    // Setup outside the timed closures (criterion's `--quick` mode counts a closure's whole wall time).
    // The frontier is restored from the shared tree's right edge: what the ledger does after a restart.
    let (mut frontier, pools) = {
        let t = tree();
        let hashes = t.read_nodes(&Frontier::restore_plan(n)).expect("frontier nodes");
        let f = Frontier::restore(n, hashes).expect("restore");
        assert_eq!(f.root(), t.root_at(n).expect("root"));
        drop(t);
        (f, ProofPools::new(n, &mut rng))
    };

    let mut group = c.benchmark_group("tree_append");
    group.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    let mut created: Vec<(NodeId, Hash)> = Vec::with_capacity(64);
    let leaf = merkle::leaf_hash(b"appended leaf");
    group.bench_function("frontier_push_into", |b| {
        b.iter(|| {
            created.clear();
            frontier.push_into(black_box(leaf), &mut created);
        })
    });
    eprintln!("frontier grew from {n} to {} leaves during the benchmark", frontier.size());
    // Grows the shared tree itself (amortised Vec growth included); proofs below are taken at size TREE_SIZE,
    // so they are unaffected.
    group.bench_function("memory_tree_push_hash", |b| {
        let mut t = tree();
        b.iter(|| t.push_hash(black_box(leaf)))
    });
    group.finish();
    eprintln!("shared tree now has {} leaves", tree().size());

    let mut group = c.benchmark_group("proofs_10M");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    group.bench_function("inclusion_proof", |b| {
        let t = tree();
        b.iter(|| t.inclusion_proof(rng.range(0, n), n).expect("proof"))
    });
    group.bench_function("consistency_proof", |b| {
        let t = tree();
        b.iter(|| t.consistency_proof(rng.range(1, n), n).expect("proof"))
    });
    let mut k = 0usize;
    group.bench_function("verify_inclusion", |b| {
        b.iter(|| {
            k = (k + 1) % pools.inclusion.len();
            let (leaf, i, proof) = &pools.inclusion[k];
            merkle::verify_inclusion(leaf, *i, n, proof, &pools.root).expect("valid")
        })
    });
    group.bench_function("verify_consistency", |b| {
        b.iter(|| {
            k = (k + 1) % pools.consistency.len();
            let (m, old_root, proof) = &pools.consistency[k];
            merkle::verify_consistency(*m, n, proof, old_root, &pools.root).expect("valid")
        })
    });
    group.finish();
    let avg = |v: Vec<usize>| v.iter().sum::<usize>() as f64 / v.len() as f64;
    eprintln!(
        "proofs at size {n}: inclusion {:.1} hashes, consistency {:.1} hashes on average",
        avg(pools.inclusion.iter().map(|x| x.2.len()).collect()),
        avg(pools.consistency.iter().map(|x| x.2.len()).collect())
    );
}

/// Real proofs at size `n` of the shared tree, for the verifier benchmarks.
#[derive(Debug)]
struct ProofPools {
    root: Hash,
    /// (leaf hash, index, inclusion proof)
    inclusion: Vec<(Hash, u64, Vec<Hash>)>,
    /// (old size, old root, consistency proof to n)
    consistency: Vec<(u64, Hash, Vec<Hash>)>,
}

impl ProofPools {
    fn new(n: u64, rng: &mut Rng) -> ProofPools {
        let t = tree();
        let mut p = ProofPools { root: t.root_at(n).expect("root"), inclusion: Vec::new(), consistency: Vec::new() };
        for _ in 0..256 {
            let i = rng.range(0, n);
            let leaf = t.read_nodes(&[NodeId::new(0, i)]).expect("leaf")[0];
            p.inclusion.push((leaf, i, t.inclusion_proof(i, n).expect("proof")));
            let m = rng.range(1, n);
            p.consistency.push((m, t.root_at(m).expect("root"), t.consistency_proof(m, n).expect("proof")));
        }
        p
    }
}

fn bench_raw(c: &mut Criterion) {
    let mut group = c.benchmark_group("raw");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    let mib = Rng(4).bytes(1 << 20);
    group.throughput(Throughput::Bytes(mib.len() as u64));
    group.bench_function("sha256_1MiB", |b| b.iter(|| Sha256::digest(black_box(&mib))));

    // ed25519-dalek's own verify_strict, to compare with the crate's PublicKey::verify.
    let seed = [9u8; 32];
    let dalek = ed25519_dalek::SigningKey::from_bytes(&seed);
    let message = Rng(5).bytes(300);
    let sig = ed25519_dalek::Signer::sign(&dalek, &message);
    let vk = dalek.verifying_key();
    group.throughput(Throughput::Elements(1));
    group.bench_function("ed25519_dalek_verify_strict", |b| {
        b.iter(|| vk.verify_strict(black_box(&message), black_box(&sig)).expect("valid"))
    });
    group.finish();
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    bench_raw(&mut c);
    bench_keys(&mut c);
    bench_envelopes(&mut c);
    bench_hashes(&mut c);
    bench_tree(&mut c);
    c.final_summary();
}
