//! SM2/SM3 beside Ed25519/SHA-256 on the same inputs and in the same run (issue 18): the cost of 密评-grade signatures.
//!
//! Run with `cargo bench -p siteledger-signer --bench sm2`; BENCHMARKS.md ("signer", SM2) records a run. Kept apart
//! from `signer.rs` so it runs in seconds without building that bench's 10 M-leaf tree.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use sha2::{Digest, Sha256};
use siteledger_signer::keys::SigningKey;
use siteledger_signer::sm2::{DEFAULT_ID, Sm2SigningKey, sm3};

/// Deterministic benchmark input (SHA-256 in counter mode; the values do not matter, only their length).
fn bytes(label: &str, n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n + 32);
    let mut i = 0u64;
    while out.len() < n {
        out.extend_from_slice(&Sha256::digest([label.as_bytes(), &i.to_le_bytes()].concat()));
        i += 1;
    }
    out.truncate(n);
    out
}

fn bench_signatures(c: &mut Criterion) {
    // 300 bytes: about the signed message of one envelope, as in the `signer` bench's `sign`/`verify_strict`.
    let message = bytes("message", 300);
    let mut group = c.benchmark_group("sig300B");
    group.throughput(Throughput::Elements(1));
    let ed = SigningKey::from_seed(&[7; 32]);
    let ed_sig = ed.sign(&message);
    group.bench_function("ed25519_sign", |b| b.iter(|| ed.sign(black_box(&message))));
    group.bench_function("ed25519_verify_strict", |b| {
        b.iter(|| ed.public().verify(black_box(&message), black_box(&ed_sig)).expect("valid"))
    });
    let sm = Sm2SigningKey::from_secret(&sm3(b"bench key"), DEFAULT_ID).expect("key");
    let sm_sig = sm.sign(&message);
    group.bench_function("sm2_sign", |b| b.iter(|| sm.sign(black_box(&message))));
    group.bench_function("sm2_verify", |b| {
        b.iter(|| sm.public().verify(black_box(&message), black_box(&sm_sig)).expect("valid"))
    });
    // Z_A is computed once per key (Sm2PublicKey caches it); this is what a verifier pays per new key or identity.
    group.bench_function("sm2_z_a_and_e", |b| b.iter(|| black_box(sm.public()).message_digest(black_box(&message))));
    group.finish();
}

fn bench_hashes(c: &mut Criterion) {
    for (name, n) in [("400B", 400), ("1MiB", 1 << 20)] {
        let data = bytes("data", n);
        let mut group = c.benchmark_group(format!("hash{name}"));
        group.throughput(Throughput::Bytes(n as u64));
        group.bench_function("sha256", |b| b.iter(|| Sha256::digest(black_box(&data))));
        group.bench_function("sm3", |b| b.iter(|| sm3(black_box(&data))));
        group.finish();
    }
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    bench_signatures(&mut c);
    bench_hashes(&mut c);
    c.final_summary();
}
