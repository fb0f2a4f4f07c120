//! The policy port: a record is parsed once on its way in (the policy's `check`), what it parsed reaches the
//! policy's fold unchanged, a refusal is typed (its own rejection and code), and reopening the ledger parses each
//! stored record once (`replay`), never through `check` again.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::json;
use siteledger_client::KeyedChain;
use siteledger_domain::DomainEvent;
use siteledger_ledger::system::{Admitted, KeyEnrollment, Policy, Record, Refusal};
use siteledger_ledger::{AppendError, ExpectedVersion, IngestOutcome, Ledger, Rejection, StoredKey};
use siteledger_signer::Envelope;
use uuid::Uuid;

use crate::common::{Backend, Sqlite, World, config, new_id};

const KIND: &str = "env.dust_noise.reading.v1";
const STREAM: &str = "project/NB-2026-0001/device/DUST-01";

/// A stateful policy that counts its parses and records what its fold receives.
#[derive(Default)]
struct Counting {
    /// Payload parses in `check`.
    checks: AtomicUsize,
    /// Payload parses in `replay`.
    replays: AtomicUsize,
    /// What `check` returned, by event id.
    returned: Mutex<Vec<(Uuid, Admitted)>>,
    /// What `accepted` received: event id, the signer's role, the parsed event.
    folded: Mutex<Vec<(Uuid, Option<String>, Admitted)>>,
    /// Groups discarded (`settled(false)`).
    discarded: AtomicUsize,
}

fn parse(env: &Envelope) -> Result<Admitted, Refusal> {
    DomainEvent::parse(env.kind(), env.payload())
        .map(|e| Admitted::Domain(Box::new(e)))
        .map_err(|e| Refusal::Schema { kind: env.kind().to_owned(), reason: e.to_string() })
}

impl Policy for Counting {
    fn check(&self, env: &Envelope, _signer: &StoredKey) -> Result<Admitted, Refusal> {
        if env.kind() != KIND {
            return Ok(Admitted::Unparsed);
        }
        self.checks.fetch_add(1, Ordering::SeqCst);
        let admitted = parse(env)?;
        if env.payload().get("device_id").and_then(|d| d.as_str()) == Some("REFUSED") {
            return Err(Refusal::Rule { rule: "test.refused".into(), message: "this device is refused".into() });
        }
        self.returned.lock().expect("lock").push((env.id(), admitted.clone()));
        Ok(admitted)
    }
    fn may_enroll(&self, _signer: &StoredKey, _enrollment: &KeyEnrollment) -> Result<(), String> {
        Ok(())
    }
    fn may_revoke(&self, _signer: &StoredKey, _target: &StoredKey) -> Result<(), String> {
        Ok(())
    }
    fn accepted(&self, record: &Record<'_>, admitted: &Admitted) {
        if *admitted == Admitted::Unparsed {
            // Key enrolments: the ledger parses those itself.
            return;
        }
        let role = record.signer.map(|k| k.role.clone());
        self.folded.lock().expect("lock").push((record.event_id, role, admitted.clone()));
    }
    fn settled(&self, committed: bool) {
        if !committed {
            self.discarded.fetch_add(1, Ordering::SeqCst);
        }
    }
    fn wants(&self, kind: &str) -> bool {
        kind == KIND
    }
    fn replay(&self, env: &Envelope) -> Option<Admitted> {
        self.replays.fetch_add(1, Ordering::SeqCst);
        parse(env).ok()
    }
    fn stateful(&self) -> bool {
        true
    }
}

fn reading(gw: &mut KeyedChain, device: &str, n: u64) -> Envelope {
    let payload = json!({"project_id": "NB-2026-0001", "device_id": device, "pm10_ug_m3": format!("{}.5", 40 + n),
                         "pm25_ug_m3": "20.1", "noise_db_a": "55.0"});
    let at = format!("2026-03-01T08:00:{:02}+08:00", n % 60);
    gw.sign(new_id(), STREAM, KIND, &at, payload.as_object().cloned().unwrap_or_default()).expect("sign")
}

async fn open(backend: &Sqlite, policy: Arc<Counting>) -> Ledger<siteledger_ledger::sqlite::SqliteStore> {
    let mut c = config();
    c.policy = policy;
    Ledger::open(backend.open().await, c).await.expect("open ledger")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_is_parsed_once_on_ingest_and_once_on_replay_and_its_fold_gets_that_parse() {
    let backend = Sqlite::new();
    let mut world = World::new();
    let policy = Arc::new(Counting::default());
    let l = open(&backend, Arc::clone(&policy)).await;
    let (mut gw, enrol) = world.gateway(0x51);
    let out = l.ingest(vec![world.root(), enrol]).await.expect("ingest keys");
    assert!(out.iter().all(|o| matches!(o, IngestOutcome::Accepted { .. })), "{out:?}");

    // Ingest: one parse per record, and the fold receives exactly what the check parsed.
    let readings: Vec<Envelope> = (1..=3).map(|n| reading(&mut gw, "DUST-01", n)).collect();
    let ids: Vec<Uuid> = readings.iter().map(Envelope::id).collect();
    let out = l.ingest(readings).await.expect("ingest readings");
    assert!(out.iter().all(|o| matches!(o, IngestOutcome::Accepted { .. })), "{out:?}");
    assert_eq!(policy.checks.load(Ordering::SeqCst), 3, "one parse per record");
    assert_eq!(policy.replays.load(Ordering::SeqCst), 0, "nothing parsed again");
    let returned = policy.returned.lock().expect("lock").clone();
    let folded = policy.folded.lock().expect("lock").clone();
    assert_eq!(returned.iter().map(|r| r.0).collect::<Vec<_>>(), ids);
    assert_eq!(folded.len(), 3);
    for ((id, admitted), (fid, role, fadmitted)) in returned.iter().zip(&folded) {
        assert_eq!((id, admitted), (fid, fadmitted), "the fold got the check's parse");
        assert!(matches!(admitted, Admitted::Domain(_)));
        assert_eq!(role.as_deref(), Some("gateway"), "the fold knows the signer's enrolment");
    }

    // A typed refusal inside an atomic append: its own rejection and code; the batch's good record was folded
    // into the pending state and is discarded with the batch, without anything being parsed again.
    let good = reading(&mut gw, "DUST-01", 4);
    let refused = reading(&mut gw, "REFUSED", 5);
    match l.append(STREAM, ExpectedVersion::Any, vec![good, refused]).await {
        Err(AppendError::Rejected { index: 1, rejection }) => {
            assert_eq!(rejection.code(), "rule");
            assert_eq!(
                rejection,
                Rejection::Rule { rule: "test.refused".into(), message: "this device is refused".into() }
            );
            assert_eq!(rejection.to_string(), "test.refused rule: this device is refused");
        }
        other => panic!("expected the second record refused by the rule, got {other:?}"),
    }
    assert_eq!(policy.checks.load(Ordering::SeqCst), 5);
    assert_eq!(policy.replays.load(Ordering::SeqCst), 0);
    assert!(policy.discarded.load(Ordering::SeqCst) >= 1, "the rolled-back record's fold was discarded");
    let head = l.head();
    drop(l);

    // Reopen: each stored record of a kind the policy keeps is parsed once, through `replay`, not `check`.
    let policy = Arc::new(Counting::default());
    let l = open(&backend, Arc::clone(&policy)).await;
    assert_eq!(l.head(), head);
    assert_eq!(policy.checks.load(Ordering::SeqCst), 0, "a replay decides nothing");
    assert_eq!(policy.replays.load(Ordering::SeqCst), 3, "one parse per stored reading");
    let folded = policy.folded.lock().expect("lock").clone();
    assert_eq!(folded.iter().map(|f| f.0).collect::<Vec<_>>(), ids);
    assert!(folded.iter().all(|f| f.1.as_deref() == Some("gateway")), "{folded:?}");
}
