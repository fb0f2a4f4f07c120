//! The event-store contract: every case runs on every adapter (SQLite file, PostgreSQL server; KurrentDB where a
//! server is configured). Each case takes a backend it can reopen, so restarts are tested on the same database.

use std::collections::HashSet;

use futures::StreamExt;
use siteledger_client::{KeyedChain, MemoryChain};
use siteledger_ledger::system::{EQUIVOCATION_KIND, KEY_REVOKED_KIND, KeyRevocation, SIGNER_GAP_KIND, payload};
use siteledger_ledger::{AppendError, Direction, ExpectedVersion, IngestOutcome, Ledger, Rejection};
use siteledger_signer::merkle::{verify_consistency, verify_inclusion};
use siteledger_signer::note::Checkpoint;
use siteledger_signer::{Envelope, verify_bundle};

use crate::common::{Backend, World, config, ledger, new_id, reading};

fn accepted(out: &[IngestOutcome]) -> Vec<u64> {
    out.iter()
        .map(|o| match o {
            IngestOutcome::Accepted { position } => *position,
            other => panic!("expected acceptance, got {other:?}"),
        })
        .collect()
}

pub async fn append_checks_the_expected_version<B: Backend>(b: B) {
    let mut w = World::new();
    let l = ledger(&b, &mut w).await;
    let (mut gw, enrol) = w.gateway(1);
    l.ingest(vec![enrol]).await.expect("enrol");
    let s = "project/P1/device/D1";
    let batch: Vec<Envelope> = (0..3).map(|n| reading(&mut gw, s, n)).collect();
    let pos = l.append(s, ExpectedVersion::NoStream, batch).await.expect("append to new stream");
    assert_eq!(pos.len(), 3);
    assert!(pos.windows(2).all(|w| w[1] == w[0] + 1), "one batch is contiguous: {pos:?}");

    let more = vec![reading(&mut gw, s, 3)];
    match l.append(s, ExpectedVersion::NoStream, more.clone()).await {
        Err(AppendError::WrongExpectedVersion { actual: Some(2), .. }) => {}
        other => panic!("expected a version conflict, got {other:?}"),
    }
    match l.append(s, ExpectedVersion::Exact(1), more.clone()).await {
        Err(AppendError::WrongExpectedVersion { expected: ExpectedVersion::Exact(1), actual: Some(2) }) => {}
        other => panic!("expected a version conflict, got {other:?}"),
    }
    let p = l.append(s, ExpectedVersion::Exact(2), more).await.expect("append at version 2");
    assert_eq!(p, vec![pos[2] + 1]);
    match l
        .append("project/P1/other", ExpectedVersion::StreamExists, vec![reading(&mut gw, "project/P1/other", 9)])
        .await
    {
        Err(AppendError::WrongExpectedVersion { actual: None, .. }) => {}
        other => panic!("expected a version conflict, got {other:?}"),
    }
    // An envelope for another stream is refused and nothing of the batch is written.
    let head = l.head();
    let mixed = vec![reading(&mut gw, s, 10), reading(&mut gw, "elsewhere", 11)];
    assert!(matches!(l.append(s, ExpectedVersion::Any, mixed).await, Err(AppendError::WrongStream { index: 1, .. })));
    assert_eq!(l.head(), head);
}

pub async fn reappending_the_same_ids_is_idempotent<B: Backend>(b: B) {
    let mut w = World::new();
    let l = ledger(&b, &mut w).await;
    let (mut gw, enrol) = w.gateway(2);
    l.ingest(vec![enrol]).await.expect("enrol");
    let s = "project/P2/device/D1";
    let batch: Vec<Envelope> = (0..5).map(|n| reading(&mut gw, s, n)).collect();
    let first = l.append(s, ExpectedVersion::NoStream, batch.clone()).await.expect("append");
    let again = l.append(s, ExpectedVersion::NoStream, batch.clone()).await.expect("idempotent retry");
    assert_eq!(first, again);
    let out = l.ingest(batch.clone()).await.expect("ingest");
    assert_eq!(out, first.iter().map(|&p| IngestOutcome::Duplicate { position: p }).collect::<Vec<_>>());
    // A retry that only partly matches is refused, and writes nothing.
    let head = l.head();
    let partial = vec![batch[4].clone(), reading(&mut gw, s, 5)];
    assert!(matches!(l.append(s, ExpectedVersion::Any, partial).await, Err(AppendError::PartialDuplicate)));
    assert_eq!(l.head(), head);
    let stream = l.read_stream(s, 0, Direction::Forward, 100).await.expect("read");
    assert_eq!(stream.len(), 5, "no duplicates stored");
    // Same id, different bytes: refused.
    let mut v = batch[0].to_value();
    v["payload"]["n"] = serde_json::json!(999);
    let forged = Envelope::from_value(v).expect("well formed");
    let out = l.ingest(vec![forged]).await.expect("ingest");
    assert!(matches!(&out[0], IngestOutcome::Rejected(Rejection::EventIdConflict { .. })), "{out:?}");
}

pub async fn reads_streams_both_ways_and_all_from_a_position<B: Backend>(b: B) {
    let mut w = World::new();
    let l = ledger(&b, &mut w).await;
    let (mut gw, enrol) = w.gateway(3);
    l.ingest(vec![enrol]).await.expect("enrol");
    let (a, c) = ("project/P3/a", "project/P3/c");
    for n in 0..10 {
        let s = if n % 2 == 0 { a } else { c };
        accepted(&l.ingest(vec![reading(&mut gw, s, n)]).await.expect("ingest"));
    }
    let fwd = l.read_stream(a, 1, Direction::Forward, 3).await.expect("read");
    assert_eq!(fwd.iter().map(|e| e.stream_version).collect::<Vec<_>>(), vec![1, 2, 3]);
    let back = l.read_stream(a, 3, Direction::Backward, 10).await.expect("read");
    assert_eq!(back.iter().map(|e| e.stream_version).collect::<Vec<_>>(), vec![3, 2, 1, 0]);
    assert!(back.windows(2).all(|w| w[0].position > w[1].position));
    let all = l.read_all(2, 5).await.expect("read all");
    assert_eq!(all.iter().map(|e| e.position).collect::<Vec<_>>(), vec![2, 3, 4, 5, 6]);
    assert!(l.read_all(l.head(), 10).await.expect("read").is_empty());
    assert!(l.read_stream("nope", 0, Direction::Forward, 10).await.expect("read").is_empty());
    // Stored bytes are exactly the signed envelope.
    for e in l.read_all(0, 1000).await.expect("read") {
        let env = Envelope::parse(&e.leaf).expect("stored leaf parses");
        assert_eq!(env.leaf_bytes(), e.leaf.as_slice());
        assert_eq!(env.leaf_hash(), e.leaf_hash);
        assert_eq!(env.id(), e.event_id);
    }
}

pub async fn catch_up_subscription_goes_live_without_gaps_or_duplicates<B: Backend>(b: B) {
    let mut w = World::new();
    let l = ledger(&b, &mut w).await;
    let (mut gw, enrol) = w.gateway(4);
    l.ingest(vec![enrol]).await.expect("enrol");
    for n in 0..50 {
        l.ingest(vec![reading(&mut gw, "project/P4/d", n)]).await.expect("ingest");
    }
    let before = l.head();
    let sub = l.subscribe(0);
    let writer = {
        let l = l.clone();
        tokio::spawn(async move {
            for n in 50..150 {
                let batch = vec![reading(&mut gw, "project/P4/d", n)];
                l.ingest(batch).await.expect("ingest");
            }
        })
    };
    let total = before + 100;
    let got: Vec<u64> = sub.take(total as usize).map(|e| e.expect("event").position).collect().await;
    writer.await.expect("writer");
    assert_eq!(got, (0..total).collect::<Vec<_>>());
}

pub async fn concurrent_writers_get_dense_positions_seen_in_order<B: Backend>(b: B) {
    let mut w = World::new();
    let l = ledger(&b, &mut w).await;
    let mut gateways = Vec::new();
    for i in 0..8u8 {
        let (gw, enrol) = w.gateway(0x40 + i);
        l.ingest(vec![enrol]).await.expect("enrol");
        gateways.push(gw);
    }
    let start = l.head();
    let per_writer = 60u64;
    let reader = {
        let sub = l.subscribe(start);
        tokio::spawn(async move {
            sub.take((8 * per_writer) as usize).map(|e| e.expect("event").position).collect::<Vec<u64>>().await
        })
    };
    let mut writers = Vec::new();
    for (i, mut gw) in gateways.into_iter().enumerate() {
        let l = l.clone();
        writers.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            let mut n = 0;
            while n < per_writer {
                let k = 1 + (n % 4).min(per_writer - n - 1);
                let batch: Vec<Envelope> =
                    (0..k).map(|j| reading(&mut gw, &format!("project/P5/d{i}"), n + j)).collect();
                acked.extend(accepted(&l.ingest(batch).await.expect("ingest")));
                n += k;
            }
            acked
        }));
    }
    let mut all = Vec::new();
    for wr in writers {
        all.extend(wr.await.expect("writer"));
    }
    let seen = reader.await.expect("reader");
    assert_eq!(seen, (start..start + 8 * per_writer).collect::<Vec<_>>(), "the tail saw every position once, in order");
    all.sort_unstable();
    assert_eq!(all, (start..start + 8 * per_writer).collect::<Vec<_>>(), "acknowledged positions are dense and unique");
}

pub async fn two_ledgers_on_one_database_serialise<B: Backend>(b: B) {
    // Two sequencers (as two server processes would) share one database: the head check makes them take turns.
    let mut w = World::new();
    let l1 = ledger(&b, &mut w).await;
    let (mut g1, e1) = w.gateway(30);
    let (mut g2, e2) = w.gateway(31);
    l1.ingest(vec![e1, e2]).await.expect("enrol");
    let l2 = Ledger::open(b.open().await, config()).await.expect("second ledger");
    let start = l1.head();
    let t1 = {
        let l = l1.clone();
        tokio::spawn(async move {
            let mut acked = Vec::new();
            for n in 0..40 {
                acked.extend(accepted(&l.ingest(vec![reading(&mut g1, "project/P6/a", n)]).await.expect("ingest 1")));
            }
            acked
        })
    };
    let t2 = {
        let l = l2.clone();
        tokio::spawn(async move {
            let mut acked = Vec::new();
            for n in 0..40 {
                acked.extend(accepted(&l.ingest(vec![reading(&mut g2, "project/P6/b", n)]).await.expect("ingest 2")));
            }
            acked
        })
    };
    let mut all = t1.await.expect("t1");
    all.extend(t2.await.expect("t2"));
    all.sort_unstable();
    assert_eq!(all, (start..start + 80).collect::<Vec<_>>());
    let store = b.open().await;
    let events = siteledger_ledger::EventStore::read_all(&store, 0, 10_000).await.expect("read");
    assert_eq!(events.iter().map(|e| e.position).collect::<Vec<_>>(), (0..start + 80).collect::<Vec<_>>());
    // Both sequencers extended one tree: the newest checkpoint proves every record.
    let cp = l2.checkpoint_now().await.expect("checkpoint");
    for e in &events {
        let proof = l2.inclusion_proof(e.position, cp.size).await.expect("proof");
        verify_inclusion(&e.leaf_hash, e.position, cp.size, &proof, &cp.root).expect("included");
    }
}

/// Eight writers on two sequencers sharing one database, with pipelined commits (on by default): groups are decided
/// while the group before is committed, and a commit can meet the other sequencer's appends (`HeadMoved`) with a
/// group decided on top of it, which then is decided again. Every record is acknowledged once, where its answer
/// says; re-posts are duplicates at their first position and other records with their ids are refused; every chain
/// continues without a gap notice; the tree proves the records. (That a group decided during a commit sees the
/// group being committed is tested step by step in `sequencer::pipeline_tests`.)
pub async fn groups_decided_during_a_commit_see_it_and_survive_another_writer<B: Backend>(b: B) {
    let mut w = World::new();
    let l1 = ledger(&b, &mut w).await;
    let mut gateways = Vec::new();
    let mut enrolments = Vec::new();
    for seed in 0..8u8 {
        let (gw, e) = w.gateway(120 + seed);
        gateways.push(gw);
        enrolments.push(e);
    }
    accepted(&l1.ingest(enrolments).await.expect("enrol"));
    let l2 = Ledger::open(b.open().await, config()).await.expect("second ledger");
    let start = l1.head();
    let mut tasks = Vec::new();
    for (i, mut gw) in gateways.into_iter().enumerate() {
        let l = if i % 2 == 0 { l1.clone() } else { l2.clone() };
        tasks.push(tokio::spawn(async move {
            let stream = format!("project/P12/d{i}");
            let mut fresh: Vec<(uuid::Uuid, u64)> = Vec::new();
            let mut previous: Vec<(Envelope, u64)> = Vec::new();
            let mut n = 0;
            for _ in 0..12 {
                let mut request: Vec<Envelope> = (0..16)
                    .map(|_| {
                        n += 1;
                        reading(&mut gw, &stream, n)
                    })
                    .collect();
                let mut expect_dup = None;
                let mut expect_conflict = None;
                if let (Some((first, _)), Some((last, at))) = (previous.first(), previous.last()) {
                    // The previous request's last record again, and another record with its first record's id.
                    request.push(last.clone());
                    expect_dup = Some(*at);
                    let mut stranger = KeyedChain::new(siteledger_signer::SigningKey::from_seed(&[200; 32]));
                    let twin = stranger
                        .sign(first.id(), &stream, "iot.dust.reading.v1", "2026-03-01T08:00:00+08:00", serde_json::Map::new())
                        .expect("sign");
                    request.push(twin);
                    expect_conflict = Some(first.id());
                }
                let out = l.ingest(request.clone()).await.expect("ingest");
                assert_eq!(out.len(), request.len());
                previous.clear();
                for (env, o) in request.iter().zip(&out).take(16) {
                    let IngestOutcome::Accepted { position } = o else { panic!("expected acceptance, got {o:?}") };
                    fresh.push((env.id(), *position));
                    previous.push((env.clone(), *position));
                }
                if let Some(at) = expect_dup {
                    assert_eq!(out[16], IngestOutcome::Duplicate { position: at }, "a re-post of the group before");
                }
                if let Some(id) = expect_conflict {
                    assert!(
                        matches!(&out[17], IngestOutcome::Rejected(Rejection::EventIdConflict { event_id }) if *event_id == id.to_string()),
                        "{:?}",
                        out[17]
                    );
                }
            }
            fresh
        }));
    }
    let mut fresh = Vec::new();
    for t in tasks {
        fresh.extend(t.await.expect("writer"));
    }
    let head =
        l1.checkpoint_now().await.expect("checkpoint").size.max(l2.checkpoint_now().await.expect("checkpoint").size);
    let store = b.open().await;
    let events = siteledger_ledger::EventStore::read_all(&store, 0, 100_000).await.expect("read");
    assert_eq!(events.len() as u64, head);
    assert_eq!(events.iter().map(|e| e.position).collect::<Vec<_>>(), (0..head).collect::<Vec<_>>(), "dense positions");
    // Every acknowledged record is where its answer said, once; nothing else but checkpoints' absence of notices.
    for (id, position) in &fresh {
        assert_eq!(events[usize::try_from(*position).expect("position")].event_id, *id);
    }
    assert_eq!(fresh.len(), 8 * 12 * 16);
    let kinds: HashSet<&str> =
        events[usize::try_from(start).expect("start")..].iter().map(|e| e.kind.as_str()).collect();
    assert!(!kinds.contains(SIGNER_GAP_KIND) && !kinds.contains(EQUIVOCATION_KIND), "{kinds:?}");
    // Each chain continued across groups: sequence numbers 1..=192 in log order.
    for i in 0..8u8 {
        let key = siteledger_signer::SigningKey::from_seed(&[120 + i; 32]).key_id().to_string();
        let seqs: Vec<u64> = events.iter().filter(|e| e.signer == key).map(|e| e.signer_seq).collect();
        assert_eq!(seqs, (1..=192).collect::<Vec<_>>(), "gateway {i}");
    }
    let pipelined = l1.stats().pipelined + l2.stats().pipelined;
    assert!(pipelined > 0, "no group was decided during a commit");
    let cp = l1.checkpoint_now().await.expect("checkpoint");
    for e in events.iter().step_by(97) {
        let proof = l1.inclusion_proof(e.position, cp.size).await.expect("proof");
        verify_inclusion(&e.leaf_hash, e.position, cp.size, &proof, &cp.root).expect("included");
    }
}

pub async fn ingest_rules_name_what_is_wrong_and_keep_the_good_records<B: Backend>(b: B) {
    let mut w = World::new();
    let l = ledger(&b, &mut w).await;
    let (mut gw, enrol) = w.gateway(40);
    l.ingest(vec![enrol]).await.expect("enrol");
    let s = "project/P7/d";

    // Unknown signer.
    let mut stranger = KeyedChain::new(siteledger_signer::SigningKey::from_seed(&[0x99; 32]));
    let unknown = reading(&mut stranger, s, 0);
    // Bad signature: a signed field changed after signing.
    let good1 = reading(&mut gw, s, 1);
    let mut v = good1.to_value();
    v["occurred_at"] = serde_json::json!("2026-03-01T09:00:00+08:00");
    let tampered = Envelope::from_value(v).expect("well formed");
    // Before the key's validity.
    let mut early_gw = KeyedChain::new(siteledger_signer::SigningKey::from_seed(&[40; 32]));
    early_gw.set_chain(MemoryChain::at(99, Some([1; 32])));
    let early = early_gw
        .sign(new_id(), s, "iot.dust.reading.v1", "2025-12-31T23:59:59+08:00", serde_json::Map::new())
        .expect("sign");
    let good2 = reading(&mut gw, s, 2);
    // Not a root of trust, enrolling itself.
    let mut rogue = KeyedChain::new(siteledger_signer::SigningKey::from_seed(&[0x98; 32]));
    let rogue_pk = *rogue.key().public();
    let self_enrol = rogue
        .sign(
            new_id(),
            "registry/keys",
            siteledger_ledger::system::KEY_ENROLLED_KIND,
            "2026-02-01T00:00:00+08:00",
            crate::common::enrollment(&rogue_pk, "rogue", "gateway"),
        )
        .expect("sign");

    let head = l.head();
    let out = l.ingest(vec![good1.clone(), unknown, tampered, early, good2, self_enrol]).await.expect("ingest");
    assert!(matches!(out[0], IngestOutcome::Accepted { .. }), "{:?}", out[0]);
    assert!(matches!(&out[1], IngestOutcome::Rejected(Rejection::UnknownSigner { .. })), "{:?}", out[1]);
    // good1's id is reused by the tampered copy: different bytes with a known id.
    assert!(matches!(&out[2], IngestOutcome::Rejected(Rejection::EventIdConflict { .. })), "{:?}", out[2]);
    assert!(matches!(&out[3], IngestOutcome::Rejected(Rejection::KeyNotValid { .. })), "{:?}", out[3]);
    assert!(matches!(out[4], IngestOutcome::Accepted { .. }), "{:?}", out[4]);
    assert!(matches!(&out[5], IngestOutcome::Rejected(Rejection::Registry { .. })), "{:?}", out[5]);
    assert_eq!(l.head(), head + 2, "only the two good records were written");
    for o in &out {
        if let IngestOutcome::Rejected(r) = o {
            assert!(!r.to_string().is_empty() && !r.code().is_empty());
        }
    }

    // A bad signature on a fresh id.
    let good3 = reading(&mut gw, s, 3);
    let mut v = good3.to_value();
    v["id"] = serde_json::json!(new_id().to_string());
    let forged = Envelope::from_value(v).expect("well formed");
    let out = l.ingest(vec![forged]).await.expect("ingest");
    assert!(matches!(&out[0], IngestOutcome::Rejected(Rejection::BadSignature { .. })), "{out:?}");
    // The real good3 still goes in (the signer's chain is intact).
    accepted(&l.ingest(vec![good3]).await.expect("ingest"));
}

pub async fn signer_chains_expose_gaps_and_equivocation<B: Backend>(b: B) {
    let mut w = World::new();
    let l = ledger(&b, &mut w).await;
    let (mut gw, enrol) = w.gateway(50);
    l.ingest(vec![enrol]).await.expect("enrol");
    let s = "project/P8/d";
    accepted(&l.ingest(vec![reading(&mut gw, s, 0), reading(&mut gw, s, 1)]).await.expect("ingest"));

    // Equivocation: a second, different record for seq 2's predecessor number (seq 2 already used).
    let mut twin = KeyedChain::new(siteledger_signer::SigningKey::from_seed(&[50; 32]));
    let first = l.read_stream(s, 0, Direction::Forward, 1).await.expect("read")[0].leaf_hash;
    twin.set_chain(MemoryChain::after(1, first));
    let second = twin
        .sign(new_id(), s, "iot.dust.reading.v1", "2026-03-01T08:00:30+08:00", serde_json::Map::new())
        .expect("sign");
    let out = l.ingest(vec![second]).await.expect("ingest");
    assert!(matches!(&out[0], IngestOutcome::Rejected(Rejection::Equivocation { seq: 2, .. })), "{out:?}");
    let evidence = l
        .read_all(0, 1000)
        .await
        .expect("read")
        .into_iter()
        .filter(|e| e.kind == EQUIVOCATION_KIND)
        .collect::<Vec<_>>();
    assert_eq!(evidence.len(), 1, "the equivocation is recorded in the log");
    let ev = Envelope::parse(&evidence[0].leaf).expect("parse");
    let refused = Envelope::from_value(ev.payload()["refused_envelope"].clone()).expect("embedded envelope");
    refused.verify(gw.key().public()).expect("the evidence carries the signer's own valid signature");

    // Chain mismatch: right number, wrong predecessor.
    let mut forked = KeyedChain::new(siteledger_signer::SigningKey::from_seed(&[50; 32]));
    forked.set_chain(MemoryChain::at(3, Some([7; 32])));
    let bad = forked
        .sign(new_id(), s, "iot.dust.reading.v1", "2026-03-01T08:01:00+08:00", serde_json::Map::new())
        .expect("sign");
    let out = l.ingest(vec![bad]).await.expect("ingest");
    assert!(matches!(&out[0], IngestOutcome::Rejected(Rejection::ChainMismatch { seq: 3, .. })), "{out:?}");

    // Gap: seq 3 and 4 never arrive; 5 is accepted and the gap is recorded.
    let skipped3 = reading(&mut gw, s, 2);
    let skipped4 = reading(&mut gw, s, 3);
    let five = reading(&mut gw, s, 4);
    let out = l.ingest(vec![five]).await.expect("ingest");
    accepted(&out);
    let gaps: Vec<_> =
        l.read_all(0, 1000).await.expect("read").into_iter().filter(|e| e.kind == SIGNER_GAP_KIND).collect();
    assert_eq!(gaps.len(), 1);
    let g = Envelope::parse(&gaps[0].leaf).expect("parse");
    assert_eq!(g.payload()["missing"], 2);
    assert_eq!(g.payload()["last_seq"], 2);
    // The suppressed records can still arrive late, in any order, as long as they link.
    accepted(&l.ingest(vec![skipped4]).await.expect("late 4"));
    accepted(&l.ingest(vec![skipped3]).await.expect("late 3"));
}

/// Late fills and an equivocation decided against records of the same request, not yet stored: the group's own
/// chain index (keyed by the signer's binary key id since issue 16) must find them, or a late record would be
/// refused for not linking, or a second record for a used number accepted.
pub async fn late_records_and_a_twin_in_one_request_are_judged_against_that_request<B: Backend>(b: B) {
    let mut w = World::new();
    let l = ledger(&b, &mut w).await;
    let (mut gw, enrol) = w.gateway(51);
    l.ingest(vec![enrol]).await.expect("enrol");
    let s = "project/P8b/d";
    accepted(&l.ingest(vec![reading(&mut gw, s, 0), reading(&mut gw, s, 1)]).await.expect("ingest"));
    let three = reading(&mut gw, s, 2);
    let four = reading(&mut gw, s, 3);
    let five = reading(&mut gw, s, 4);
    let mut twin = KeyedChain::new(siteledger_signer::SigningKey::from_seed(&[51; 32]));
    twin.set_chain(MemoryChain::after(3, three.leaf_hash()));
    let twin_of_four = twin
        .sign(new_id(), s, "iot.dust.reading.v1", "2026-03-01T08:00:45+08:00", serde_json::Map::new())
        .expect("sign");
    // One request, one group: 5 opens a gap, 4 and 3 fill it late, and a different record numbered 4 follows.
    let out = l.ingest(vec![five, four, three, twin_of_four]).await.expect("ingest");
    assert!(out[..3].iter().all(|o| matches!(o, IngestOutcome::Accepted { .. })), "{out:?}");
    let IngestOutcome::Accepted { position: at_four } = out[1] else { unreachable!("checked above") };
    assert!(
        matches!(&out[3], IngestOutcome::Rejected(Rejection::Equivocation { seq: 4, existing_position, .. })
            if *existing_position == at_four),
        "{out:?}"
    );
}

pub async fn revoked_keys_cannot_sign_after_revocation<B: Backend>(b: B) {
    let mut w = World::new();
    let l = ledger(&b, &mut w).await;
    let (mut gw, enrol) = w.gateway(60);
    l.ingest(vec![enrol]).await.expect("enrol");
    let s = "project/P9/d";
    accepted(&l.ingest(vec![reading(&mut gw, s, 0)]).await.expect("ingest"));
    let rev = KeyRevocation {
        key_id: gw.key().key_id().to_string(),
        revoked_at: "2026-03-01T08:00:30+08:00".into(),
        reason: "device replaced".into(),
    };
    let r = w
        .city
        .sign(new_id(), "registry/keys", KEY_REVOKED_KIND, "2026-03-01T09:00:00+08:00", payload(&rev))
        .expect("sign");
    accepted(&l.ingest(vec![r]).await.expect("revoke"));
    let after = reading(&mut gw, s, 31); // 08:00:31, after the revocation
    let out = l.ingest(vec![after]).await.expect("ingest");
    assert!(matches!(&out[0], IngestOutcome::Rejected(Rejection::KeyNotValid { .. })), "{out:?}");
    // The revocation survives a restart.
    drop(l);
    let l = Ledger::open(b.open().await, config()).await.expect("reopen");
    let again = reading(&mut gw, s, 40);
    let out = l.ingest(vec![again]).await.expect("ingest");
    assert!(matches!(&out[0], IngestOutcome::Rejected(Rejection::KeyNotValid { .. })), "{out:?}");
}

pub async fn proofs_and_checkpoints_hold_across_restarts<B: Backend>(b: B) {
    let mut w = World::new();
    let l = ledger(&b, &mut w).await;
    let (mut gw, enrol) = w.gateway(70);
    l.ingest(vec![enrol]).await.expect("enrol");
    let mut checkpoints = Vec::new();
    let mut n = 0;
    for _round in 0..3u64 {
        // 30 + 50 readings pass checkpoint_every (64) and the size policy signs on its own; 10 more are covered by
        // an explicit request.
        for k in [30, 50, 10] {
            let batch: Vec<Envelope> = (0..k).map(|i| reading(&mut gw, "project/P10/d", n + i)).collect();
            n += k;
            accepted(&l.ingest(batch).await.expect("ingest"));
        }
        let cp = l.checkpoint_now().await.expect("checkpoint");
        assert_eq!(cp.size, l.head(), "an explicit checkpoint covers everything committed");
        let opened = Checkpoint::open(&cp.note, l.log_verifier(), true).expect("signed by the log key");
        assert_eq!((opened.size, opened.root), (cp.size, cp.root));
        checkpoints.push(cp);
    }
    let stored = siteledger_ledger::EventStore::checkpoints(l.store(), 0, 100).await.expect("list");
    assert!(stored.len() >= 7, "genesis + 3 by size + 3 on request, got {}", stored.len());
    assert!(stored.windows(2).all(|w| w[0].size < w[1].size));
    drop(l);
    let l = Ledger::open(b.open().await, config()).await.expect("reopen");
    let events = l.read_all(0, 10_000).await.expect("read");
    let last = checkpoints.last().expect("cp").clone();
    for e in &events {
        let proof = l.inclusion_proof(e.position, last.size).await.expect("proof");
        verify_inclusion(&e.leaf_hash, e.position, last.size, &proof, &last.root).expect("included after restart");
    }
    for a in &stored {
        for c in &stored {
            if a.size <= c.size {
                let proof = l.consistency_proof(a.size, c.size).await.expect("proof");
                verify_consistency(a.size, c.size, &proof, &a.root, &c.root).expect("consistent");
            }
        }
    }
    // Appends after the restart extend the same tree.
    accepted(&l.ingest(vec![reading(&mut gw, "project/P10/d", 1000)]).await.expect("ingest"));
    let newer = l.checkpoint_now().await.expect("checkpoint");
    let proof = l.consistency_proof(last.size, newer.size).await.expect("proof");
    verify_consistency(last.size, newer.size, &proof, &last.root, &newer.root).expect("consistent after restart");
    assert!(l.inclusion_proof(0, newer.size + 1).await.is_err(), "no proof beyond the log");
}

pub async fn time_policy_signs_a_checkpoint_without_being_asked<B: Backend>(b: B) {
    let mut w = World::new();
    let l = ledger(&b, &mut w).await;
    let (mut gw, enrol) = w.gateway(80);
    l.ingest(vec![enrol]).await.expect("enrol");
    accepted(&l.ingest(vec![reading(&mut gw, "project/P11/d", 0)]).await.expect("ingest"));
    let target = l.head();
    // checkpoint_interval is 200 ms in the test config; wait (bounded) for the sequencer's own timer.
    let waited = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            if let Some(cp) = l.latest_checkpoint().await.expect("read")
                && cp.size >= target
            {
                return cp;
            }
            let mut head = l.watch_head();
            let _ = tokio::time::timeout(std::time::Duration::from_millis(100), head.changed()).await;
        }
    })
    .await
    .expect("a checkpoint covering the last record appeared on the time policy");
    assert!(waited.size >= target);
}

pub async fn evidence_bundles_from_the_ledger_verify_offline<B: Backend>(b: B) {
    let mut w = World::new();
    let l = ledger(&b, &mut w).await;
    let (mut gw, enrol) = w.gateway(90);
    l.ingest(vec![enrol]).await.expect("enrol");
    let envs: Vec<Envelope> = (0..20).map(|n| reading(&mut gw, "project/P12/d", n)).collect();
    let ids = [envs[3].id(), envs[17].id()];
    accepted(&l.ingest(envs).await.expect("ingest"));
    let bundle = l.evidence_bundle(&ids).await.expect("bundle");
    let bytes = bundle.to_bytes();
    let report = verify_bundle(&bytes, l.log_verifier());
    assert!(report.ok, "{}", report.to_text());
    let kinds: HashSet<&str> = report.records.iter().map(|r| r.kind.as_str()).collect();
    assert!(kinds.contains("ledger.key.enrolled.v1") && kinds.contains("iot.dust.reading.v1"));
    // Later records extend it with a consistency proof.
    accepted(&l.ingest(vec![reading(&mut gw, "project/P12/d", 20)]).await.expect("ingest"));
    l.checkpoint_now().await.expect("checkpoint");
    let extended = l.extend_bundle(bundle).await.expect("extend");
    let report = verify_bundle(&extended.to_bytes(), l.log_verifier());
    assert!(report.ok && report.newer_tree_size.is_some(), "{}", report.to_text());
    assert!(l.evidence_bundle(&[new_id()]).await.is_err(), "unknown ids are an error, not an empty bundle");
}

/// SM2 keys (docs/FORMAT.md §11): the city enrols an enterprise's SM2 key with a declared identity; its records are
/// admitted; malformed SM2 enrolments and a forged SM2 signature are refused with the reason; the key row keeps the
/// algorithm and identity across a restart; the ledger's evidence bundle is version 1.4 and verifies.
pub async fn sm2_keys_enrol_sign_survive_restarts_and_malformed_ones_are_refused<B: Backend>(b: B) {
    use base64::Engine as _;
    use siteledger_ledger::EventStore as _;
    use siteledger_ledger::system::{KEY_ENROLLED_KIND, KeyEnrollment};
    use siteledger_signer::bundle::BUNDLE_FORMAT_V1_4;
    use siteledger_signer::keys::{KeyAlgorithm, SignerKey};
    use siteledger_signer::sm2::Sm2SigningKey;

    let mut w = World::new();
    let l = ledger(&b, &mut w).await;
    let sm2 = Sm2SigningKey::from_secret(&[0x5a; 32], "91330200MA2H000001").expect("key");
    let public = SignerKey::Sm2(sm2.public().clone());
    let mut ent = KeyedChain::new(sm2);
    let enrolment = |key: &SignerKey| KeyEnrollment {
        key_id: key.key_id().to_string(),
        public_key: key.to_base64(),
        subject: "宁波甬建建设集团有限公司".into(),
        role: "enterprise".into(),
        valid_from: "2026-01-01T00:00:00+08:00".into(),
        valid_until: None,
    };
    let good = enrolment(&public).to_payload_for(&public);
    assert_eq!(good["sm2_id"], "91330200MA2H000001");

    // Each refused enrolment is signed on a copy of the city's chain, which is rewound afterwards.
    let refused: Vec<(&str, serde_json::Map<String, serde_json::Value>)> = vec![
        ("does not match", {
            let mut p = good.clone();
            p.remove("sm2_id"); // the key id was computed under the declared identity
            p
        }),
        ("not a signature algorithm", {
            let mut p = good.clone();
            p.insert("alg".into(), "sm9".into());
            p
        }),
        ("sm2_id is only allowed", {
            let mut p = good.clone();
            p.remove("alg");
            p
        }),
        ("65-byte", {
            let mut p = good.clone();
            p.insert("public_key".into(), base64::engine::general_purpose::STANDARD.encode([4u8; 64]).into());
            p
        }),
    ];
    for (needle, payload) in refused {
        let saved = w.city.chain();
        let env = w
            .city
            .sign(new_id(), "registry/keys", KEY_ENROLLED_KIND, "2026-01-02T08:00:00+08:00", payload)
            .expect("sign");
        w.city.set_chain(saved);
        let out = l.ingest(vec![env]).await.expect("ingest");
        match &out[0] {
            IngestOutcome::Rejected(r @ Rejection::Schema { .. }) => {
                assert!(r.to_string().contains(needle), "{needle:?} not in {r}")
            }
            other => panic!("expected a schema refusal naming {needle:?}, got {other:?}"),
        }
    }
    let enrol =
        w.city.sign(new_id(), "registry/keys", KEY_ENROLLED_KIND, "2026-01-02T08:00:00+08:00", good).expect("sign");
    accepted(&l.ingest(vec![enrol.clone()]).await.expect("enrol"));

    let s = "project/P-SM2/wages";
    let record = |ent: &mut KeyedChain<Sm2SigningKey>, n: u64| {
        let payload = serde_json::json!({"n": n, "note": "SM2 签名记录"});
        ent.sign(
            new_id(),
            s,
            "iot.dust.reading.v1",
            &format!("2026-03-01T09:00:{n:02}+08:00"),
            payload.as_object().expect("obj").clone(),
        )
        .expect("sign")
    };
    let records: Vec<Envelope> = (0..3).map(|n| record(&mut ent, n)).collect();
    accepted(&l.ingest(records.clone()).await.expect("ingest"));
    // A forged SM2 signature: a signed field changed, under a fresh id.
    let mut v = record(&mut ent, 3).to_value();
    v["id"] = serde_json::json!(new_id().to_string());
    let forged = Envelope::from_value(v).expect("well formed");
    let out = l.ingest(vec![forged]).await.expect("ingest");
    assert!(matches!(&out[0], IngestOutcome::Rejected(Rejection::BadSignature { .. })), "{out:?}");
    drop(l);

    // The key row remembers the algorithm and identity: after a restart the key verifies its next record.
    let l = Ledger::open(b.open().await, config()).await.expect("reopen");
    let row = l.store().keys().await.expect("keys").into_iter().find(|k| k.key_id == public.key_id().to_string());
    let row = row.expect("the SM2 key row");
    assert_eq!(
        (row.alg, row.sm2_id.as_deref(), row.public_key.len()),
        (KeyAlgorithm::Sm2, Some("91330200MA2H000001"), 65)
    );
    let mut resumed = KeyedChain::new(Sm2SigningKey::from_secret(&[0x5a; 32], "91330200MA2H000001").expect("key"));
    resumed.set_chain(MemoryChain::after(records[2].seq(), records[2].leaf_hash()));
    let next = record(&mut resumed, 4);
    accepted(&l.ingest(vec![next.clone()]).await.expect("ingest"));
    let bundle = l.evidence_bundle(&[records[0].id(), next.id()]).await.expect("bundle");
    assert_eq!(bundle.format, BUNDLE_FORMAT_V1_4);
    let report = verify_bundle(&bundle.to_bytes(), l.log_verifier());
    assert!(report.ok, "{}", report.to_text());
    assert!(report.checks.iter().any(|c| c.detail.starts_with("SM2 signature valid")));
}

/// Instantiates every contract case for one backend.
#[macro_export]
macro_rules! contract_suite {
    ($backend:expr) => {
        use $crate::contract::*;
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn append_expected_version() {
            append_checks_the_expected_version($backend).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn idempotent_reappend() {
            reappending_the_same_ids_is_idempotent($backend).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn reads() {
            reads_streams_both_ways_and_all_from_a_position($backend).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn catch_up_subscription() {
            catch_up_subscription_goes_live_without_gaps_or_duplicates($backend).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn concurrent_writers_ordering() {
            concurrent_writers_get_dense_positions_seen_in_order($backend).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn two_sequencers_one_database() {
            two_ledgers_on_one_database_serialise($backend).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn pipelined_groups() {
            groups_decided_during_a_commit_see_it_and_survive_another_writer($backend).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn ingest_rules() {
            ingest_rules_name_what_is_wrong_and_keep_the_good_records($backend).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn signer_chains() {
            signer_chains_expose_gaps_and_equivocation($backend).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn late_fills_and_twin_in_one_request() {
            late_records_and_a_twin_in_one_request_are_judged_against_that_request($backend).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn revocation() {
            revoked_keys_cannot_sign_after_revocation($backend).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn proofs_across_restarts() {
            proofs_and_checkpoints_hold_across_restarts($backend).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn checkpoint_time_policy() {
            time_policy_signs_a_checkpoint_without_being_asked($backend).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn evidence_bundles() {
            evidence_bundles_from_the_ledger_verify_offline($backend).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn sm2_keys() {
            sm2_keys_enrol_sign_survive_restarts_and_malformed_ones_are_refused($backend).await
        }
    };
}
