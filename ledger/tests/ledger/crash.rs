//! Crash safety: a child process ingests as fast as it can and is killed with SIGKILL mid-stream. After a restart,
//! every acknowledged record is present exactly once, the tree is consistent with every checkpoint published before
//! the crash, and ingest resumes.
//!
//! The child is this same test binary re-executed with `--ignored --exact crash::child_entry` and the target store
//! in the environment, so the real ingest path runs in a real separate process.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use siteledger_client::{KeyedChain, MemoryChain};
use siteledger_ledger::{EventStore, IngestOutcome, Ledger};
use siteledger_signer::SigningKey;
use siteledger_signer::merkle::verify_consistency;
use uuid::Uuid;

use crate::common::{Backend, Postgres, Sqlite, World, config, ledger, reading};

const GATEWAY_SEED: u8 = 0x77;
const STREAM: &str = "project/CRASH/device/D1";

#[test]
#[ignore = "entry point of the crash test's child process; run by crash::*_survives_sigkill"]
fn child_entry() {
    let Ok(backend) = std::env::var("SITELEDGER_CRASH_BACKEND") else { return };
    let target = std::env::var("SITELEDGER_CRASH_TARGET").expect("target");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async move {
        match backend.as_str() {
            "sqlite" => {
                let store =
                    siteledger_ledger::sqlite::SqliteStore::open(std::path::Path::new(&target)).await.expect("open");
                child_loop(store).await
            }
            _ => {
                let store = siteledger_ledger::postgres::PgStore::connect(&target).await.expect("connect");
                child_loop(store).await
            }
        }
    });
}

async fn child_loop<S: EventStore>(store: S) {
    use std::io::Write;
    let l = Ledger::open(store, config()).await.expect("open ledger");
    let key = SigningKey::from_seed(&[GATEWAY_SEED; 32]);
    let head = l.store().signer_head(&key.key_id().to_string()).await.expect("head");
    let mut gw = KeyedChain::new(key);
    if let Some(h) = head {
        gw.set_chain(MemoryChain::after(h.signer_seq, h.leaf_hash));
    }
    let mut last_cp = 0;
    let mut n = 0u64;
    let stdout = std::io::stdout();
    loop {
        let batch: Vec<_> = (0..16).map(|i| reading(&mut gw, STREAM, n + i)).collect();
        let ids: Vec<Uuid> = batch.iter().map(|e| e.id()).collect();
        n += 16;
        let out = l.ingest(batch).await.expect("ingest");
        let mut lock = stdout.lock();
        for (id, o) in ids.iter().zip(out) {
            if let IngestOutcome::Accepted { position } = o {
                writeln!(lock, "ACK {id} {position}").expect("stdout");
            }
        }
        if let Some(cp) = l.latest_checkpoint().await.expect("checkpoint")
            && cp.size > last_cp
        {
            last_cp = cp.size;
            writeln!(lock, "CP {} {}", cp.size, hex::encode(cp.root)).expect("stdout");
        }
        lock.flush().expect("flush");
    }
}

async fn crash_and_recover<B: Backend>(b: B, target: String) {
    // Prepare: root and the gateway's enrollment.
    let mut w = World::new();
    {
        let l = ledger(&b, &mut w).await;
        let gw = KeyedChain::new(SigningKey::from_seed(&[GATEWAY_SEED; 32]));
        let pk = *gw.key().public();
        let env = w
            .city
            .sign(
                crate::common::new_id(),
                "registry/keys",
                siteledger_ledger::system::KEY_ENROLLED_KIND,
                "2026-01-02T08:00:00+08:00",
                crate::common::enrollment(&pk, "crash gateway", "gateway"),
            )
            .expect("sign");
        l.ingest(vec![env]).await.expect("enrol");
        l.checkpoint_now().await.expect("checkpoint");
    }

    let mut child = Command::new(std::env::current_exe().expect("exe"))
        .args(["--ignored", "--exact", "crash::child_entry", "--nocapture", "--test-threads", "1"])
        .env("SITELEDGER_CRASH_BACKEND", b.name())
        .env("SITELEDGER_CRASH_TARGET", &target)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("stdout");
    let mut acks: HashMap<Uuid, u64> = HashMap::new();
    let mut checkpoints: Vec<(u64, [u8; 32])> = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("line");
        let parts: Vec<&str> = line.split_whitespace().collect();
        match parts.as_slice() {
            ["ACK", id, pos] => {
                acks.insert(id.parse().expect("uuid"), pos.parse().expect("pos"));
            }
            ["CP", size, root] => {
                let mut r = [0u8; 32];
                hex::decode_to_slice(root, &mut r).expect("hex");
                checkpoints.push((size.parse().expect("size"), r));
            }
            _ => {}
        }
        if acks.len() >= 600 && checkpoints.len() >= 3 {
            break;
        }
    }
    child.kill().expect("SIGKILL the child while it ingests");
    let status = child.wait().expect("wait");
    assert!(!status.success(), "the child was killed, not finished");

    // Restart on the same database.
    let l = Ledger::open(b.open().await, config()).await.expect("reopen after crash");
    let head = l.head();
    let events = l.read_all(0, 1_000_000).await.expect("read");
    assert_eq!(events.iter().map(|e| e.position).collect::<Vec<_>>(), (0..head).collect::<Vec<_>>(), "dense log");
    let mut by_id: HashMap<Uuid, Vec<u64>> = HashMap::new();
    for e in &events {
        by_id.entry(e.event_id).or_default().push(e.position);
    }
    for (id, pos) in &acks {
        assert_eq!(by_id.get(id), Some(&vec![*pos]), "acknowledged record {id} present exactly once at {pos}");
    }
    let root = l.root_at(head).await.expect("root");
    for (size, cp_root) in &checkpoints {
        let proof = l.consistency_proof(*size, head).await.expect("proof");
        verify_consistency(*size, head, &proof, cp_root, &root).expect("the tree extends every pre-crash checkpoint");
    }
    // Ingest resumes where the signer's chain stands.
    let key = SigningKey::from_seed(&[GATEWAY_SEED; 32]);
    let h = l.store().signer_head(&key.key_id().to_string()).await.expect("head").expect("some");
    let mut gw = KeyedChain::new(key);
    gw.set_chain(MemoryChain::after(h.signer_seq, h.leaf_hash));
    let out = l.ingest((0..10).map(|n| reading(&mut gw, STREAM, 10_000 + n)).collect()).await.expect("ingest");
    assert!(out.iter().all(|o| matches!(o, IngestOutcome::Accepted { .. })), "{out:?}");
    let cp = l.checkpoint_now().await.expect("checkpoint");
    assert_eq!(cp.size, l.head());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_survives_sigkill() {
    let b = Sqlite::new();
    let target = b.path().display().to_string();
    crash_and_recover(b, target).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_survives_sigkill() {
    let b = Postgres::new();
    let target = b.url.clone();
    crash_and_recover(b, target).await;
}
