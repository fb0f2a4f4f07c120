//! The platform's ingest policy: the `domain` crate's rules behind the ledger's [`Policy`] port.
//!
//! Per record, once: the payload is type-checked against its kind and its stream convention
//! ([`siteledger_domain::validate_envelope`], the one parse), then decided against the [`DomainState`] as of the
//! records accepted before it ([`DomainState::decide`]: every subsystem's rules and who may sign what), and the same
//! typed event is handed back through [`Admitted::Domain`] to be folded when the sequencer accepts the record. Key
//! enrolments and revocations are judged by the registry-aware authority rules
//! ([`siteledger_domain::authority::may_enroll_in`], [`siteledger_domain::authority::may_revoke_in`]).
//!
//! What this adapter keeps is only the state and its group bookkeeping: the state as of the last durable commit,
//! the state with the group being committed (sealed, while the ledger decides the next group), and a pending copy
//! with the records accepted into the group being decided. A copy is made only for a group with records the state
//! remembers (registry, rules' memory): readings and alarms change nothing here.

use std::sync::{Mutex, MutexGuard, PoisonError};

use siteledger_domain::{DomainEvent, DomainState, PayloadError, RecordContext};
use siteledger_signer::Envelope;

use crate::store::StoredKey;
use crate::system::{Admitted, KeyEnrollment, Policy, RESERVED_PREFIX, Record, Refusal, reserved_kind};

/// The platform's ingest policy, backed by `siteledger-domain`. It keeps the [`DomainState`] (the organisation
/// registry, and what each subsystem's rules remember) so that every record obeys its subsystem's rules and key
/// enrolments the registry-aware authority rules (a district bureau enrols only for projects in its district, an
/// enterprise only for projects it takes part in).
#[derive(Debug, Default)]
pub struct DomainPolicy {
    state: Mutex<States>,
}

#[derive(Debug, Default)]
struct States {
    /// As of the last durable commit.
    committed: DomainState,
    /// A group handed to the store and not yet durable ([`Policy::seal`]): `Some(None)` if it changed nothing.
    sealed: Option<Option<DomainState>>,
    /// With the records accepted into the group being decided (on top of the sealed group, if any).
    pending: Option<DomainState>,
}

impl States {
    fn view(&self) -> &DomainState {
        self.pending.as_ref().unwrap_or_else(|| self.base())
    }

    /// What the group being decided starts from: the sealed group's state, or the durable one.
    fn base(&self) -> &DomainState {
        self.sealed.as_ref().and_then(Option::as_ref).unwrap_or(&self.committed)
    }
}

impl DomainPolicy {
    fn states(&self) -> MutexGuard<'_, States> {
        // The state is only ever replaced whole or folded record by record: a panic elsewhere leaves it usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The rules' view of a record: its envelope fields and its signer's enrolment (empty if the key is unknown, which
/// only a replayed record of a foreign store can meet).
/// A person's key (监督员, staff, tester) is seen as its organisation's ([`siteledger_domain::authority::acting_for`]):
/// every rule about who signs what applies to the organisation the person signs for.
fn context<'a>(record: &Record<'a>, event_id: &'a str) -> RecordContext<'a> {
    let (signer_role, signer_subject) = siteledger_domain::authority::acting_for(
        record.signer.map_or("", |k| k.role.as_str()),
        record.signer.map_or("", |k| k.subject.as_str()),
    );
    RecordContext {
        event_id,
        stream: record.stream,
        occurred_at: record.occurred_at,
        signer_key_id: record.signer_key_id,
        signer_role,
        signer_subject,
    }
}

impl Policy for DomainPolicy {
    fn check(&self, env: &Envelope, signer: &StoredKey) -> Result<Admitted, Refusal> {
        let kind = env.kind();
        if kind.starts_with(RESERVED_PREFIX) {
            // The ledger refuses reserved kinds itself, whatever its policy; refusing them here too keeps this policy
            // correct on its own. Enrolments and revocations pass: the ledger parses and checks their payload, and
            // `may_enroll`/`may_revoke` below who may sign them.
            return match reserved_kind(kind) {
                Some(reason) => Err(Refusal::Reserved { kind: kind.to_owned(), reason }),
                None => Ok(Admitted::Unparsed),
            };
        }
        let event = siteledger_domain::validate_envelope(kind, env.stream(), env.payload()).map_err(|e| {
            let reason = match e {
                PayloadError::UnknownKind { .. } => {
                    format!("unknown kind {kind}: the platform accepts only the kinds listed in docs/KINDS.md")
                }
                e => e.to_string(),
            };
            Refusal::Schema { kind: kind.to_owned(), reason }
        })?;
        let signer_key_id = signer.key_id.as_str();
        let record = Record {
            event_id: env.id(),
            stream: env.stream(),
            occurred_at: env.occurred_at(),
            signer_key_id,
            signer: Some(signer),
        };
        let mut id = uuid::Uuid::encode_buffer();
        let ctx = context(&record, env.id().hyphenated().encode_lower(&mut id));
        self.states().view().decide(&ctx, &event)?;
        Ok(Admitted::Domain(Box::new(event)))
    }

    fn may_enroll(&self, signer: &StoredKey, enrollment: &KeyEnrollment) -> Result<(), String> {
        siteledger_domain::authority::may_enroll_in(
            &self.states().view().registry,
            &signer.role,
            &signer.subject,
            &enrollment.role,
            &enrollment.subject,
        )
        .map_err(|e| e.to_string())
    }

    fn may_revoke(&self, signer: &StoredKey, target: &StoredKey) -> Result<(), String> {
        if signer.key_id == target.key_id {
            // Anyone may revoke their own key (e.g. a compromised device key reported by its holder).
            return Ok(());
        }
        siteledger_domain::authority::may_revoke_in(
            &self.states().view().registry,
            &signer.role,
            &signer.subject,
            &target.role,
            &target.subject,
        )
        .map_err(|e| e.to_string())
    }

    fn accepted(&self, record: &Record<'_>, admitted: &Admitted) {
        let Admitted::Domain(event) = admitted else { return };
        if !DomainState::wants(event.kind()) {
            // Nothing to remember (readings, alarms…): no pending copy of the state for them.
            return;
        }
        let mut id = uuid::Uuid::encode_buffer();
        let ctx = context(record, record.event_id.hyphenated().encode_lower(&mut id));
        let mut s = self.states();
        if s.pending.is_none() {
            let base = s.base().clone();
            s.pending = Some(base);
        }
        if let Some(pending) = s.pending.as_mut() {
            pending.evolve(&ctx, event);
        }
    }

    fn settled(&self, committed: bool) {
        let mut s = self.states();
        if !committed {
            s.pending = None;
            s.sealed = None;
            return;
        }
        match s.sealed.take() {
            // The sealed group is durable; the one being decided stays pending on top of it.
            Some(Some(state)) => s.committed = state,
            Some(None) => {}
            None => {
                if let Some(p) = s.pending.take() {
                    s.committed = p;
                }
            }
        }
    }

    fn seal(&self) -> bool {
        let mut s = self.states();
        debug_assert!(s.sealed.is_none(), "one sealed group at a time");
        let pending = s.pending.take();
        s.sealed = Some(pending);
        true
    }

    fn discard_pending(&self) {
        self.states().pending = None;
    }

    fn wants(&self, kind: &str) -> bool {
        DomainState::wants(kind)
    }

    fn replay(&self, env: &Envelope) -> Option<Admitted> {
        // The log's records passed `check` when they were accepted (or an older ledger's rules): parse, no rules.
        DomainEvent::parse(env.kind(), env.payload()).ok().map(|e| Admitted::Domain(Box::new(e)))
    }

    fn stateful(&self) -> bool {
        true
    }

    fn snapshot_format(&self) -> Option<&'static str> {
        Some(siteledger_domain::snapshot::SNAPSHOT_FORMAT)
    }

    fn snapshot(&self) -> Result<Vec<u8>, String> {
        self.states().view().to_snapshot().map_err(|e| e.to_string())
    }

    fn restore(&self, bytes: &[u8]) -> Result<(), String> {
        let state = DomainState::from_snapshot(bytes).map_err(|e| e.to_string())?;
        let mut s = self.states();
        s.committed = state;
        s.pending = None;
        s.sealed = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use siteledger_client::KeyedChain;
    use siteledger_signer::SigningKey;

    use super::DomainPolicy;
    use crate::StoredKey;
    use crate::system::{Admitted, EQUIVOCATION_KIND, KEY_ENROLLED_KIND, Policy, Refusal, SIGNER_GAP_KIND};

    fn gateway(key: &SigningKey) -> StoredKey {
        StoredKey {
            key_id: key.key_id().to_string(),
            public_key: key.public().as_bytes().to_vec(),
            alg: siteledger_signer::keys::KeyAlgorithm::Ed25519,
            sm2_id: None,
            subject: "project/NB-2026-0001/gateway/GW-1".into(),
            role: "gateway".into(),
            valid_from: "2026-01-01T00:00:00+08:00".into(),
            valid_until: None,
            enrolled_by: uuid::Uuid::nil(),
            enrolled_at: 1,
            revoked_at: None,
        }
    }

    fn id(n: u64) -> uuid::Uuid {
        uuid::Builder::from_unix_timestamp_millis(1_790_000_000_000 + n, &[7; 10]).into_uuid()
    }

    #[test]
    fn the_domain_policy_does_not_wave_ledger_kinds_through() {
        // The ledger refuses these whatever its policy; the domain policy refuses them on its own too.
        let key = SigningKey::from_seed(&[0x61; 32]);
        let signer = gateway(&key);
        let mut chain = KeyedChain::new(key);
        let policy = DomainPolicy::default();
        let mut n = 0;
        let mut check = |kind: &str| {
            n += 1;
            let body = json!({"id_number": "33020319900101123X"}).as_object().cloned().unwrap_or_default();
            let env =
                chain.sign(id(n), "project/NB-2026-0001/notes", kind, "2026-03-02T09:00:00+08:00", body).expect("sign");
            policy.check(&env, &signer)
        };
        for kind in ["ledger.note.v1", "ledger.unknown.v1", SIGNER_GAP_KIND, EQUIVOCATION_KIND] {
            let err = check(kind).expect_err(kind);
            assert!(matches!(&err, Refusal::Reserved { kind: k, .. } if k == kind), "{err:?}");
            assert!(!err.to_string().contains("33020319900101123X"), "{err}");
        }
        // Enrolments are judged by the ledger's payload check and `may_enroll`, not refused here.
        assert_eq!(check(KEY_ENROLLED_KIND), Ok(Admitted::Unparsed));
    }

    #[test]
    fn a_gateway_signing_for_another_project_is_a_rule_refusal_not_a_schema_error() {
        let key = SigningKey::from_seed(&[0x62; 32]);
        let signer = gateway(&key);
        let mut chain = KeyedChain::new(key);
        let policy = DomainPolicy::default();
        let reading = json!({"project_id": "NB-2026-0002", "device_id": "DUST-01", "pm10_ug_m3": "40.1",
                             "pm25_ug_m3": "20.2", "noise_db_a": "55.0"});
        let env = chain
            .sign(
                id(1),
                "project/NB-2026-0002/device/DUST-01",
                "env.dust_noise.reading.v1",
                "2026-03-02T09:00:00+08:00",
                reading.as_object().cloned().unwrap_or_default(),
            )
            .expect("sign");
        match policy.check(&env, &signer) {
            Err(Refusal::Rule { rule, message }) => {
                assert_eq!(rule, siteledger_domain::authority::OWN_PROJECT_RULE);
                assert!(message.contains("may sign only records of its own project"), "{message}");
            }
            other => panic!("expected a rule refusal, got {other:?}"),
        }
        // A malformed payload is still a schema refusal, naming the field.
        let bad = json!({"project_id": "NB-2026-0001", "device_id": "DUST-01", "pm10_ug_m3": 85,
                         "pm25_ug_m3": "20.2", "noise_db_a": "55.0"});
        let env = chain
            .sign(
                id(2),
                "project/NB-2026-0001/device/DUST-01",
                "env.dust_noise.reading.v1",
                "2026-03-02T09:00:00+08:00",
                bad.as_object().cloned().unwrap_or_default(),
            )
            .expect("sign");
        assert!(
            matches!(policy.check(&env, &signer), Err(Refusal::Schema { reason, .. }) if reason.contains("pm10_ug_m3"))
        );
    }

    /// A record enrolling an enterprise (a kind the state remembers) as the policy's fold receives it.
    fn enterprise(n: u8) -> (uuid::Uuid, Admitted) {
        use siteledger_domain::registry::{EnterpriseRegistered, EnterpriseType, RegistryEvent};
        use siteledger_domain::{CreditCode, DomainEvent, Name};
        let first17 = format!("91330200MA2A{n:05}");
        let check = CreditCode::check_character(&first17).expect("17 valid characters");
        let event = DomainEvent::Registry(RegistryEvent::EnterpriseRegistered(EnterpriseRegistered {
            credit_code: CreditCode::parse(&format!("{first17}{check}")).expect("credit code"),
            name: Name::parse(&format!("企业{n}")).expect("name"),
            types: vec![EnterpriseType::Construction],
        }));
        (id(u64::from(n)), Admitted::Domain(Box::new(event)))
    }

    fn fold(policy: &DomainPolicy, records: &[u8]) {
        let key = SigningKey::from_seed(&[0x63; 32]);
        let mut city = gateway(&key);
        city.role = "city_bureau".into();
        for &n in records {
            let (event_id, admitted) = enterprise(n);
            let record = crate::system::Record {
                event_id,
                stream: "registry/orgs",
                occurred_at: "2026-03-01T09:00:00+08:00",
                signer_key_id: &city.key_id,
                signer: Some(&city),
            };
            policy.accepted(&record, &admitted);
        }
    }

    /// The state of a policy that folded exactly `records`, durable.
    fn state_of(records: &[u8]) -> Vec<u8> {
        let p = DomainPolicy::default();
        fold(&p, records);
        p.settled(true);
        p.snapshot().expect("snapshot")
    }

    #[test]
    fn a_sealed_group_and_the_group_decided_on_top_of_it_settle_and_discard_apart() {
        assert_ne!(state_of(&[1, 2]), state_of(&[1, 2, 3]), "an enterprise's registration changes the state");
        let p = DomainPolicy::default();
        fold(&p, &[1]);
        p.settled(true);
        // Group N (enterprise 2) is sealed; group N + 1 (enterprise 3) is decided on top of it and sees it.
        fold(&p, &[2]);
        assert!(p.seal());
        fold(&p, &[3]);
        assert_eq!(p.snapshot().expect("snapshot"), state_of(&[1, 2, 3]));
        // A rollback inside N + 1 forgets only N + 1.
        p.discard_pending();
        assert_eq!(p.snapshot().expect("snapshot"), state_of(&[1, 2]));
        fold(&p, &[3]);
        // N is durable: N + 1 stays pending on top of it.
        p.settled(true);
        assert_eq!(p.snapshot().expect("snapshot"), state_of(&[1, 2, 3]));
        p.discard_pending();
        assert_eq!(p.snapshot().expect("snapshot"), state_of(&[1, 2]), "N was made durable, N + 1 was not");
        // A sealed group that changed nothing, then a failed commit: everything not durable is forgotten.
        assert!(p.seal());
        fold(&p, &[4]);
        p.settled(false);
        assert_eq!(p.snapshot().expect("snapshot"), state_of(&[1, 2]));
        // A sealed group whose commit failed takes the group decided on top of it along.
        fold(&p, &[5]);
        assert!(p.seal());
        fold(&p, &[6]);
        p.settled(false);
        assert_eq!(p.snapshot().expect("snapshot"), state_of(&[1, 2]));
        // Without a seal, `settled(true)` makes everything accepted durable, as before pipelining.
        fold(&p, &[7]);
        p.settled(true);
        p.discard_pending();
        assert_eq!(p.snapshot().expect("snapshot"), state_of(&[1, 2, 7]));
    }
}
