//! The outbox on real SQLite files. The crash test runs a writer in a child process (this test binary, re-run with
//! the ignored `crash_child_writer` test) and kills it with SIGKILL while it commits groups.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use siteledger_client::outbox::{Outbox, OutboxError, Submitted};
use siteledger_client::record::Record;
use siteledger_signer::{Envelope, SigningKey};

const CHILD_DB: &str = "SITELEDGER_CLIENT_CRASH_CHILD_DB";

fn key() -> SigningKey {
    SigningKey::from_seed(&[0x42; 32])
}

fn reading(i: u64) -> Record {
    let payload = json!({"project_id": "NB-2026-0001", "device_id": "DUST-01",
        "pm10_ug_m3": format!("{}.{}", 40 + i % 70, i % 10), "pm25_ug_m3": "30.1", "noise_db_a": "55.0"});
    let Value::Object(payload) = payload else { unreachable!("an object") };
    Record::parts("env.dust_noise.reading.v1", "project/NB-2026-0001/env/DUST-01", "2026-11-24T10:00:00+08:00", payload)
}

async fn all(outbox: &Outbox) -> Vec<Envelope> {
    outbox
        .peek(usize::MAX >> 1)
        .await
        .expect("peek")
        .iter()
        .map(|q| Envelope::parse(&q.envelope).expect("env"))
        .collect()
}

/// Asserts `envs` are one unbroken chain 1..=n.
fn assert_one_chain(envs: &[Envelope]) {
    for (i, e) in envs.iter().enumerate() {
        assert_eq!(e.seq(), i as u64 + 1, "seq {} at position {i}: a gap or a reused seq", e.seq());
        let prev = if i == 0 { None } else { Some(envs[i - 1].leaf_hash()) };
        assert_eq!(e.prev().copied(), prev, "seq {} does not link to the record before it", e.seq());
        e.verify(key().public()).expect("signed with the producer key");
    }
}

#[tokio::test]
async fn a_source_key_submitted_twice_signs_once_and_answers_the_first_seq() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("state.db");
    let (outbox, handle) = Outbox::open(&path, key(), u64::MAX).await.expect("open");
    // Twice in one group (enqueued before either is committed), then again after the commit.
    let a = handle.enqueue_once(reading(1), "f:1".into()).await.expect("enqueue");
    let b = handle.enqueue_once(reading(1), "f:1".into()).await.expect("enqueue");
    let c = handle.enqueue_once(reading(2), "f:2".into()).await.expect("enqueue");
    let (a, b, c) = (a.await.expect("a"), b.await.expect("b"), c.await.expect("c"));
    assert_eq!(a, Submitted { seq: 1, earlier: false });
    assert_eq!(b, Submitted { seq: 1, earlier: true });
    assert_eq!(c, Submitted { seq: 2, earlier: false });
    assert_eq!(handle.submit_once(reading(9), "f:2".into()).await.expect("again"), Submitted { seq: 2, earlier: true });
    assert_eq!(all(&outbox).await.len(), 2, "nothing signed twice");
    // After a restart the keys are still known: they were committed with the records.
    drop(handle);
    drop(outbox);
    let (outbox, handle) = Outbox::open(&path, key(), u64::MAX).await.expect("reopen");
    assert_eq!(handle.submit_once(reading(1), "f:1".into()).await.expect("known"), Submitted { seq: 1, earlier: true });
    assert_eq!(handle.submit_once(reading(3), "f:3".into()).await.expect("new"), Submitted { seq: 3, earlier: false });
    assert_one_chain(&all(&outbox).await);
}

#[tokio::test]
async fn a_record_that_does_not_fit_its_kind_is_refused_before_it_takes_a_seq() {
    let dir = tempfile::tempdir().expect("dir");
    let (outbox, handle) = Outbox::open(&dir.path().join("q.db"), key(), u64::MAX).await.expect("open");
    let mut bad = reading(1);
    bad.payload.remove("noise_db_a");
    match handle.submit(bad).await {
        Err(OutboxError::Invalid(e)) => assert_eq!(e.member(), "noise_db_a", "{e}"),
        other => panic!("expected a local refusal, got {other:?}"),
    }
    assert_eq!(handle.submit(reading(2)).await.expect("good"), 1, "the refused record took no seq");
    assert_eq!(all(&outbox).await.len(), 1);
}

#[tokio::test]
async fn an_outbox_of_another_key_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("q.db");
    let (outbox, handle) = Outbox::open(&path, key(), u64::MAX).await.expect("open");
    handle.submit(reading(1)).await.expect("stored");
    drop((outbox, handle));
    let other = SigningKey::from_seed(&[0x43; 32]);
    assert!(matches!(Outbox::open(&path, other, u64::MAX).await, Err(OutboxError::WrongKey { .. })));
}

/// Run only as the child of [`a_kill_mid_batch_loses_no_acknowledged_record_and_reuses_no_seq`]: submits keyed
/// records in concurrent groups forever, printing `acked <key> <seq>` once each is durable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a child process of the crash test"]
async fn crash_child_writer() {
    let Ok(path) = std::env::var(CHILD_DB) else { return };
    let (_outbox, handle) = Outbox::open(Path::new(&path), key(), u64::MAX).await.expect("open");
    let mut i = 0u64;
    loop {
        let mut pending = Vec::new();
        for _ in 0..200 {
            i += 1;
            let k = format!("k:{i}");
            pending.push((k.clone(), handle.enqueue_once(reading(i), k).await.expect("enqueue")));
        }
        let mut out = std::io::stdout().lock();
        for (k, p) in pending {
            let s = p.await.expect("committed");
            writeln!(out, "acked {k} {}", s.seq).expect("stdout");
        }
        out.flush().expect("flush");
    }
}

#[tokio::test]
async fn a_kill_mid_batch_loses_no_acknowledged_record_and_reuses_no_seq() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("state.db");
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "outbox::crash_child_writer", "--ignored", "--nocapture", "--test-threads", "1"])
        .env(CHILD_DB, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("child starts");
    let stdout = child.stdout.take().expect("stdout");
    // Read acknowledgements until several groups are durable, then SIGKILL the writer wherever it is.
    let acked = tokio::task::spawn_blocking(move || {
        let mut lines = BufReader::new(stdout).lines();
        let mut acked: Vec<(String, u64)> = Vec::new();
        while acked.len() < 3000 {
            let Some(Ok(line)) = lines.next() else { break };
            if let Some(rest) = line.strip_prefix("acked ") {
                let (k, seq) = rest.split_once(' ').expect("key and seq");
                acked.push((k.to_owned(), seq.parse().expect("seq")));
            }
        }
        child.kill().expect("SIGKILL");
        // What the child printed before it died was acknowledged too.
        for line in lines.map_while(Result::ok) {
            if let Some((k, seq)) = line.strip_prefix("acked ").and_then(|r| r.split_once(' ')) {
                acked.push((k.to_owned(), seq.parse().expect("seq")));
            }
        }
        let status = child.wait().expect("reaped");
        (acked, status)
    })
    .await
    .expect("join");
    let (acked, status) = acked;
    assert!(!status.success(), "the child was killed, not finished");
    assert!(acked.len() >= 3000, "the child acknowledged {} records before it was killed", acked.len());

    let (outbox, handle) = Outbox::open(&path, key(), u64::MAX).await.expect("reopen after the kill");
    let envs = all(&outbox).await;
    assert_one_chain(&envs);
    let n = envs.len() as u64;
    for (k, seq) in &acked {
        assert!(*seq <= n, "{k} was acknowledged as seq {seq} but only {n} records survived the kill");
        let again = handle.submit_once(reading(0), k.clone()).await.expect("known key");
        assert_eq!(again, Submitted { seq: *seq, earlier: true }, "{k}");
    }
    // The chain resumes after the last durable record: the next seq is n + 1 and links to it.
    let next = handle.submit(reading(0)).await.expect("stored");
    assert_eq!(next, n + 1);
    let envs = all(&outbox).await;
    assert_one_chain(&envs);
    assert_eq!(all(&outbox).await.len() as u64, n + 1);
}
