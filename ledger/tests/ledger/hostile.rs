//! What a hostile client tried (issue 12), on every adapter: records in the log's reserved `ledger.` namespace,
//! records dated far in the future, and one equivocating envelope posted again and again.

use std::sync::Arc;

use serde_json::json;
use siteledger_client::{KeyedChain, MemoryChain};
use siteledger_ledger::system::{EQUIVOCATION_KIND, KEY_ENROLLED_KIND, SIGNER_GAP_KIND, SignerGap, payload};
use siteledger_ledger::{Direction, EventStore, IngestOutcome, Ledger, LedgerConfig, Rejection};
use siteledger_signer::{Envelope, SigningKey};
use time::OffsetDateTime;
use time::macros::datetime;

use crate::common::{Backend, World, config, enrollment, ledger, new_id, reading};

/// The platform's clock in these cases: the gateways' readings (`common::reading`) are of this morning.
const NOW: OffsetDateTime = datetime!(2026-03-01 12:00:00 +08:00);

fn fixed_clock(mut c: LedgerConfig) -> LedgerConfig {
    c.clock = Arc::new(|| NOW);
    c
}

async fn ledger_at_noon<B: Backend>(b: &B, w: &mut World) -> Ledger<B::Store> {
    let l = Ledger::open(b.open().await, fixed_clock(config())).await.expect("open ledger");
    let out = l.ingest(vec![w.root()]).await.expect("ingest root");
    assert!(matches!(out[0], IngestOutcome::Accepted { .. }), "{out:?}");
    l
}

fn reserved(out: &IngestOutcome) -> &str {
    match out {
        IngestOutcome::Rejected(Rejection::ReservedKind { reason, .. }) => reason,
        other => panic!("expected reserved_kind, got {other:?}"),
    }
}

fn at(gw: &mut KeyedChain, stream: &str, kind: &str, occurred_at: &str, body: serde_json::Value) -> Envelope {
    let body = body.as_object().cloned().unwrap_or_default();
    gw.sign(new_id(), stream, kind, occurred_at, body).expect("sign")
}

pub async fn a_ledger_note_carrying_an_id_number_is_refused<B: Backend>(b: B) {
    let mut w = World::new();
    let l = ledger(&b, &mut w).await;
    let (mut gw, enrol) = w.gateway(0x61);
    l.ingest(vec![enrol]).await.expect("enrol");
    let head = l.head();
    let id_number = "330203199001011234";
    let note = at(
        &mut gw,
        "project/P61/notes",
        "ledger.note.v1",
        "2026-03-01T08:00:00+08:00",
        json!({"id_number": id_number, "text": "工人身份证号"}),
    );
    // An authority's key does not open the namespace either.
    let unknown = at(&mut w.city, "registry/keys", "ledger.unknown.v1", "2026-03-01T08:00:01+08:00", json!({}));
    let out = l.ingest(vec![note, unknown]).await.expect("ingest");
    let why = reserved(&out[0]);
    assert!(why.contains("docs/KINDS.md"), "the message says which kinds exist: {why}");
    reserved(&out[1]);
    assert_eq!(l.head(), head, "nothing was written");
    let text = format!("{out:?}");
    assert!(!text.contains(id_number), "the refusal does not echo the payload: {text}");
    let all = l.read_all(0, 1000).await.expect("read");
    assert!(all.iter().all(|e| !String::from_utf8_lossy(&e.leaf).contains(id_number)));
    // Enrolments and revocations stay open to authorities.
    let (_, enrol2) = w.gateway(0x62);
    assert!(matches!(l.ingest(vec![enrol2]).await.expect("enrol")[0], IngestOutcome::Accepted { .. }));
}

pub async fn a_gap_record_signed_by_a_gateway_is_refused<B: Backend>(b: B) {
    let mut w = World::new();
    let l = ledger(&b, &mut w).await;
    let (mut gw, enrol) = w.gateway(0x63);
    l.ingest(vec![enrol]).await.expect("enrol");
    let victim = gw.key().key_id().to_string();
    let forged_gap =
        SignerGap { key_id: victim.clone(), last_seq: 1, next_seq: 9, missing: 7, event_id: new_id().to_string() };
    let gap = gw
        .sign(
            new_id(),
            &format!("ledger/signer/{victim}"),
            SIGNER_GAP_KIND,
            "2026-03-01T08:00:00+08:00",
            payload(&forged_gap),
        )
        .expect("sign");
    let equivocation = gw
        .sign(
            new_id(),
            &format!("ledger/signer/{victim}"),
            EQUIVOCATION_KIND,
            "2026-03-01T08:00:01+08:00",
            json!({"key_id": victim, "seq": 1}).as_object().cloned().unwrap_or_default(),
        )
        .expect("sign");
    let head = l.head();
    let out = l.ingest(vec![gap, equivocation]).await.expect("ingest");
    let why = reserved(&out[0]);
    assert!(why.contains("system key"), "{why}");
    reserved(&out[1]);
    assert_eq!(l.head(), head);

    // Even a well-formed notice that continues the system key's own chain is refused when it comes from outside:
    // the log writes its notices itself.
    let system_key = SigningKey::from_seed(&[0x11; 32]);
    let system_id = system_key.key_id().to_string();
    let system_head = l.store().signer_head(&system_id).await.expect("read").expect("the genesis record");
    let mut system = KeyedChain::new(system_key);
    system.set_chain(MemoryChain::after(system_head.signer_seq, system_head.leaf_hash));
    let claimed = system
        .sign(
            new_id(),
            &format!("ledger/signer/{victim}"),
            SIGNER_GAP_KIND,
            "2026-03-01T08:00:02+08:00",
            payload(&forged_gap),
        )
        .expect("sign");
    let out = l.ingest(vec![claimed]).await.expect("ingest");
    reserved(&out[0]);
    assert_eq!(l.head(), head);
    let gaps = l.read_all(0, 1000).await.expect("read").into_iter().filter(|e| e.kind == SIGNER_GAP_KIND).count();
    assert_eq!(gaps, 0, "no gap notice is in the log");
    // The log's own notices still work: a real gap of the gateway is recorded by the sequencer.
    let _skipped = reading(&mut gw, "project/P63/d", 0);
    let revealing = reading(&mut gw, "project/P63/d", 1);
    assert!(matches!(l.ingest(vec![revealing]).await.expect("ingest")[0], IngestOutcome::Accepted { .. }));
    let gaps = l.read_all(0, 1000).await.expect("read").into_iter().filter(|e| e.kind == SIGNER_GAP_KIND).count();
    assert_eq!(gaps, 1);
}

pub async fn a_year_9999_record_is_refused<B: Backend>(b: B) {
    let mut w = World::new();
    let l = ledger_at_noon(&b, &mut w).await;
    let (mut gw, enrol) = w.gateway(0x64);
    l.ingest(vec![enrol]).await.expect("enrol");
    let s = "project/P64/d";
    let head = l.head();
    let saved = gw.chain();
    for when in ["9999-12-31T23:59:59Z", "9999-12-31T23:59:59-12:00", "2099-12-31T00:00:00+08:00"] {
        gw.set_chain(saved);
        let out = l.ingest(vec![at(&mut gw, s, "iot.dust.reading.v1", when, json!({}))]).await.expect("ingest");
        match &out[0] {
            IngestOutcome::Rejected(r @ Rejection::FutureOccurredAt { occurred_at, server_time, max_skew_secs }) => {
                assert_eq!(occurred_at, when);
                assert_eq!(server_time, "2026-03-01T12:00:00+08:00", "the message gives the platform's time");
                assert_eq!(*max_skew_secs, 600, "the default skew is ten minutes");
                assert_eq!(r.code(), "future_occurred_at");
                assert!(r.to_string().contains("2026-03-01T12:00:00+08:00") && r.to_string().contains("600 s"));
            }
            other => panic!("{when}: expected future_occurred_at, got {other:?}"),
        }
    }
    assert_eq!(l.head(), head, "nothing was written");
    // Eleven minutes ahead is refused, nine minutes ahead is a drifting clock and accepted.
    gw.set_chain(saved);
    let out = l
        .ingest(vec![at(&mut gw, s, "iot.dust.reading.v1", "2026-03-01T12:11:00+08:00", json!({}))])
        .await
        .expect("ingest");
    assert!(matches!(&out[0], IngestOutcome::Rejected(Rejection::FutureOccurredAt { .. })), "{out:?}");
    gw.set_chain(saved);
    let out =
        l.ingest(vec![at(&mut gw, s, "iot.dust.reading.v1", "2026-03-01T04:09:00Z", json!({}))]).await.expect("ingest");
    assert!(matches!(out[0], IngestOutcome::Accepted { .. }), "{out:?}");
    // Only occurred_at is limited: an enrolment valid from next month is fine.
    let later = SigningKey::from_seed(&[0x65; 32]);
    let mut e = enrollment(later.public(), "gateway-65", "gateway");
    e.insert("valid_from".into(), json!("2026-04-01T00:00:00+08:00"));
    let enrol_later =
        w.city.sign(new_id(), "registry/keys", KEY_ENROLLED_KIND, "2026-03-01T11:00:00+08:00", e).expect("sign");
    assert!(matches!(l.ingest(vec![enrol_later]).await.expect("enrol")[0], IngestOutcome::Accepted { .. }));
}

pub async fn the_allowed_clock_skew_is_configurable<B: Backend>(b: B) {
    let mut w = World::new();
    let mut c = fixed_clock(config());
    c.max_clock_skew = std::time::Duration::ZERO;
    let l = Ledger::open(b.open().await, c).await.expect("open");
    l.ingest(vec![w.root()]).await.expect("root");
    let (mut gw, enrol) = w.gateway(0x66);
    l.ingest(vec![enrol]).await.expect("enrol");
    let saved = gw.chain();
    let out = l
        .ingest(vec![at(&mut gw, "project/P66/d", "iot.dust.reading.v1", "2026-03-01T12:00:01+08:00", json!({}))])
        .await
        .expect("ingest");
    assert!(
        matches!(&out[0], IngestOutcome::Rejected(Rejection::FutureOccurredAt { max_skew_secs: 0, .. })),
        "{out:?}"
    );
    gw.set_chain(saved);
    let out = l
        .ingest(vec![at(&mut gw, "project/P66/d", "iot.dust.reading.v1", "2026-03-01T12:00:00+08:00", json!({}))])
        .await
        .expect("ingest");
    assert!(matches!(out[0], IngestOutcome::Accepted { .. }), "{out:?}");
}

fn evidence_count(events: &[siteledger_ledger::StoredEvent]) -> usize {
    events.iter().filter(|e| e.kind == EQUIVOCATION_KIND).count()
}

pub async fn reposting_an_equivocation_a_hundred_times_records_one_piece_of_evidence<B: Backend>(b: B) {
    let mut w = World::new();
    let l = ledger(&b, &mut w).await;
    let (mut gw, enrol) = w.gateway(0x67);
    l.ingest(vec![enrol]).await.expect("enrol");
    let s = "project/P67/d";
    let first = reading(&mut gw, s, 0);
    let second = reading(&mut gw, s, 1);
    l.ingest(vec![first.clone(), second]).await.expect("ingest");
    // A second, different record for seq 2.
    let mut twin = KeyedChain::new(SigningKey::from_seed(&[0x67; 32]));
    twin.set_chain(MemoryChain::after(1, first.leaf_hash()));
    let conflicting = at(&mut twin, s, "iot.dust.reading.v1", "2026-03-01T08:00:30+08:00", json!({"n": "twin"}));

    let is_equivocation =
        |o: &IngestOutcome| matches!(o, IngestOutcome::Rejected(Rejection::Equivocation { seq: 2, .. }));
    let before = l.head();
    for _ in 0..3 {
        let out = l.ingest(vec![conflicting.clone()]).await.expect("ingest");
        assert!(is_equivocation(&out[0]), "{out:?}");
    }
    let out = l.ingest(vec![conflicting.clone(); 100]).await.expect("ingest");
    assert!(out.iter().all(is_equivocation), "every copy is answered as an equivocation");
    assert_eq!(l.head(), before + 1, "one piece of evidence, not one per copy");
    // Also after a restart (the notice is found in the store, not only in memory).
    drop(l);
    let l = Ledger::open(b.open().await, config()).await.expect("reopen");
    let out = l.ingest(vec![conflicting.clone(); 5]).await.expect("ingest");
    assert!(out.iter().all(is_equivocation));
    assert_eq!(l.head(), before + 1);
    let all = l.read_all(0, 10_000).await.expect("read");
    assert_eq!(evidence_count(&all), 1);
    let notice = all.iter().find(|e| e.kind == EQUIVOCATION_KIND).expect("notice");
    let env = Envelope::parse(&notice.leaf).expect("parse");
    assert_eq!(env.payload()["refused_envelope"], conflicting.to_value(), "the evidence embeds the refused envelope");

    // A different conflicting envelope is new evidence.
    let mut twin2 = KeyedChain::new(SigningKey::from_seed(&[0x67; 32]));
    twin2.set_chain(MemoryChain::after(1, first.leaf_hash()));
    let another = at(&mut twin2, s, "iot.dust.reading.v1", "2026-03-01T08:00:31+08:00", json!({"n": "twin2"}));
    assert!(is_equivocation(&l.ingest(vec![another]).await.expect("ingest")[0]));
    assert_eq!(evidence_count(&l.read_all(0, 10_000).await.expect("read")), 2);

    // A gap is reported once: re-posting the record that revealed it is a duplicate.
    let _skipped = reading(&mut gw, s, 2);
    let revealing = reading(&mut gw, s, 3);
    assert!(matches!(l.ingest(vec![revealing.clone()]).await.expect("ingest")[0], IngestOutcome::Accepted { .. }));
    let head = l.head();
    let out = l.ingest(vec![revealing; 100]).await.expect("ingest");
    assert!(out.iter().all(|o| matches!(o, IngestOutcome::Duplicate { .. })), "{:?}", out[0]);
    assert_eq!(l.head(), head);
    let gaps = l.read_stream(&format!("ledger/signer/{}", gw.key().key_id()), 0, Direction::Forward, 1000).await;
    let gaps = gaps.expect("read").into_iter().filter(|e| e.kind == SIGNER_GAP_KIND).count();
    assert_eq!(gaps, 1);
}

/// Instantiates the hostile-client cases for one backend.
#[macro_export]
macro_rules! hostile_suite {
    ($backend:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_ledger_note_carrying_an_id_number_is_refused() {
            $crate::hostile::a_ledger_note_carrying_an_id_number_is_refused($backend).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_gap_record_signed_by_a_gateway_is_refused() {
            $crate::hostile::a_gap_record_signed_by_a_gateway_is_refused($backend).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_year_9999_record_is_refused() {
            $crate::hostile::a_year_9999_record_is_refused($backend).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn the_allowed_clock_skew_is_configurable() {
            $crate::hostile::the_allowed_clock_skew_is_configurable($backend).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn reposting_an_equivocation_a_hundred_times_records_one_piece_of_evidence() {
            $crate::hostile::reposting_an_equivocation_a_hundred_times_records_one_piece_of_evidence($backend).await
        }
    };
}
