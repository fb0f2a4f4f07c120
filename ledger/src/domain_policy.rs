//! The domain's rules as the ledger's ingest policy: payload schemas per kind, stream/project consistency, who
//! may sign what, and the key-enrollment hierarchy (city bureau → district bureau → enterprise → gateway/device).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::store::StoredKey;
use crate::system::{KEY_ENROLLED_KIND, KeyEnrollment, Policy, RESERVED_PREFIX, reserved_kind};
use siteledger_domain::{DomainEvent, DomainState, RecordContext};
use siteledger_signer::Envelope;

/// Roles whose keys may sign registry records (organisations, projects, zones).
const REGISTRY_SIGNERS: &[&str] = &["city_bureau", "district_bureau"];

/// The platform's ingest policy, backed by `siteledger-domain`. It keeps the [`DomainState`] (the organisation
/// registry, and what each subsystem's rules remember) so that every record obeys its subsystem's rules
/// (`DomainState::decide`) and key enrollments the registry-aware authority rules (a district bureau enrols only
/// for projects in its district, an enterprise only for projects it takes part in).
#[derive(Debug, Default)]
pub struct DomainPolicy {
    state: Mutex<States>,
    /// Key id → (role, subject) of every enrolment seen, so that records folded without their signer at hand
    /// (replays) get the same context as when they were decided.
    signers: Mutex<HashMap<String, (String, String)>>,
}

#[derive(Debug, Default)]
struct States {
    /// As of the last durable commit.
    committed: DomainState,
    /// With the records accepted into the group being decided.
    pending: Option<DomainState>,
}

impl States {
    fn view(&self) -> &DomainState {
        self.pending.as_ref().unwrap_or(&self.committed)
    }
}

impl DomainPolicy {
    fn with_state<T>(&self, f: impl FnOnce(&mut States) -> T) -> T {
        let mut guard = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }
}

/// The rules' view of an envelope and its signer.
fn context<'a>(
    env: &'a Envelope,
    event_id: &'a str,
    key_id: &'a str,
    role: &'a str,
    subject: &'a str,
) -> RecordContext<'a> {
    RecordContext {
        event_id,
        stream: env.stream(),
        occurred_at: env.occurred_at(),
        signer_key_id: key_id,
        signer_role: role,
        signer_subject: subject,
    }
}

impl Policy for DomainPolicy {
    fn check_payload(&self, env: &Envelope, signer: &StoredKey) -> Result<(), String> {
        let kind = env.kind();
        if kind.starts_with(RESERVED_PREFIX) {
            // The ledger refuses reserved kinds itself, whatever its policy; refusing them here too keeps this policy
            // correct on its own. Enrolments and revocations pass: the ledger checks their payload, and
            // `may_enroll`/`may_revoke` below who may sign them.
            return match reserved_kind(kind) {
                Some(reason) => Err(reason),
                None => Ok(()),
            };
        }
        match siteledger_domain::validate_envelope(kind, env.stream(), env.payload()) {
            Ok(event) => {
                // Each subsystem's rules: unique ids, registered participants, state machines, contracts…
                let event_id = env.id().to_string();
                let ctx = context(env, &event_id, &signer.key_id, &signer.role, &signer.subject);
                self.with_state(|s| s.view().decide(&ctx, &event)).map_err(|e| e.to_string())?;
            }
            Err(siteledger_domain::PayloadError::UnknownKind { .. }) => {
                return Err(format!(
                    "unknown kind {kind}: the platform accepts only the kinds listed in docs/KINDS.md"
                ));
            }
            Err(e) => return Err(e.to_string()),
        }
        if kind.starts_with("registry.") && !REGISTRY_SIGNERS.contains(&signer.role.as_str()) {
            return Err(format!("registry records must be signed by a bureau key, not by a {} key", signer.role));
        }
        let stream_project = siteledger_domain::stream::project_of_stream(env.stream()).map(|p| p.to_string());
        // A project's gateway or device signs only for that project.
        if matches!(signer.role.as_str(), "gateway" | "device") {
            let own = siteledger_domain::stream::project_of_stream(&signer.subject).map(|p| p.to_string());
            if own.is_none() || own != stream_project {
                return Err(format!(
                    "key {} belongs to {} and may sign only records of its own project",
                    signer.key_id, signer.subject
                ));
            }
        }
        Ok(())
    }

    fn may_enroll(&self, signer: &StoredKey, enrollment: &KeyEnrollment) -> Result<(), String> {
        self.with_state(|s| {
            siteledger_domain::authority::may_enroll_in(
                &s.view().registry,
                &signer.role,
                &signer.subject,
                &enrollment.role,
                &enrollment.subject,
            )
        })
        .map_err(|e| e.to_string())
    }

    fn may_revoke(&self, signer: &StoredKey, target: &StoredKey) -> Result<(), String> {
        if signer.key_id == target.key_id {
            // Anyone may revoke their own key (e.g. a compromised device key reported by its holder).
            return Ok(());
        }
        self.with_state(|s| {
            siteledger_domain::authority::may_revoke_in(
                &s.view().registry,
                &signer.role,
                &signer.subject,
                &target.role,
                &target.subject,
            )
        })
        .map_err(|e| e.to_string())
    }

    fn accepted(&self, env: &Envelope) {
        let kind = env.kind();
        if kind == KEY_ENROLLED_KIND {
            if let Ok(e) = KeyEnrollment::from_payload(env.payload()) {
                let mut signers = self.signers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                signers.insert(e.key_id, (e.role, e.subject));
            }
            return;
        }
        if !DomainState::wants(kind) {
            return;
        }
        let Ok(event) = DomainEvent::parse(kind, env.payload()) else { return };
        let key_id = env.signer().to_string();
        let (role, subject) = {
            let signers = self.signers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            signers.get(&key_id).cloned().unwrap_or_default()
        };
        let event_id = env.id().to_string();
        let ctx = context(env, &event_id, &key_id, &role, &subject);
        self.with_state(|s| {
            let state = s.pending.get_or_insert_with(|| s.committed.clone());
            state.evolve(&ctx, &event);
        });
    }

    fn settled(&self, committed: bool) {
        self.with_state(|s| {
            if let Some(p) = s.pending.take()
                && committed
            {
                s.committed = p;
            }
        });
    }

    fn wants(&self, kind: &str) -> bool {
        kind == KEY_ENROLLED_KIND || DomainState::wants(kind)
    }

    fn stateful(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use crate::StoredKey;
    use crate::system::{EQUIVOCATION_KIND, KEY_ENROLLED_KIND, Policy, SIGNER_GAP_KIND};
    use serde_json::json;
    use siteledger_signer::SigningKey;
    use siteledger_signer::sample::ChainSigner;

    use super::DomainPolicy;

    fn gateway(key: &SigningKey) -> StoredKey {
        StoredKey {
            key_id: key.key_id().to_string(),
            public_key: *key.public().as_bytes(),
            subject: "project/NB-2026-0001/gateway/GW-1".into(),
            role: "gateway".into(),
            valid_from: "2026-01-01T00:00:00+08:00".into(),
            valid_until: None,
            enrolled_by: uuid::Uuid::nil(),
            enrolled_at: 1,
            revoked_at: None,
        }
    }

    #[test]
    fn the_domain_policy_does_not_wave_ledger_kinds_through() {
        // The ledger refuses these whatever its policy; the domain policy refuses them on its own too.
        let key = SigningKey::from_seed(&[0x61; 32]);
        let signer = gateway(&key);
        let mut chain = ChainSigner::new(key);
        let policy = DomainPolicy::default();
        let mut n = 0;
        let mut check = |kind: &str| {
            n += 1;
            let id = uuid::Builder::from_unix_timestamp_millis(1_790_000_000_000 + n, &[7; 10]).into_uuid();
            let body = json!({"id_number": "33020319900101123X"}).as_object().cloned().unwrap_or_default();
            let env =
                chain.sign(id, "project/NB-2026-0001/notes", kind, "2026-03-02T09:00:00+08:00", body).expect("sign");
            policy.check_payload(&env, &signer)
        };
        for kind in ["ledger.note.v1", "ledger.unknown.v1", SIGNER_GAP_KIND, EQUIVOCATION_KIND] {
            let err = check(kind).expect_err(kind);
            assert!(!err.contains("33020319900101123X"), "{err}");
        }
        // Enrolments are judged by the ledger's payload check and `may_enroll`, not refused here.
        assert!(check(KEY_ENROLLED_KIND).is_ok());
    }
}
