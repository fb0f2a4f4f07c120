//! The domain's rules as the ledger's ingest policy: payload schemas per kind, stream/project consistency, who
//! may sign what, and the key-enrollment hierarchy (city bureau → district bureau → enterprise → gateway/device).

use std::sync::Mutex;

use siteledger_domain::DomainEvent;
use siteledger_domain::registry::{RegistryCommand, RegistryState, decide, evolve};
use siteledger_ledger::StoredKey;
use siteledger_ledger::system::{KeyEnrollment, Policy};
use siteledger_signer::Envelope;

/// Roles whose keys may sign registry records (organisations, projects, zones).
const REGISTRY_SIGNERS: &[&str] = &["city_bureau", "district_bureau"];

/// The platform's ingest policy, backed by `siteledger-domain`. It keeps the organisation registry (districts and
/// zones, enterprises, projects and participants) so that registry records obey the registry's rules (`decide`)
/// and key enrollments the registry-aware authority rules (a district bureau enrols only for projects in its
/// district, an enterprise only for projects it takes part in).
#[derive(Debug, Default)]
pub struct DomainPolicy {
    registry: Mutex<Registry>,
}

#[derive(Debug, Default)]
struct Registry {
    /// As of the last durable commit.
    committed: RegistryState,
    /// With the records accepted into the group being decided.
    pending: Option<RegistryState>,
}

impl Registry {
    fn view(&self) -> &RegistryState {
        self.pending.as_ref().unwrap_or(&self.committed)
    }
}

impl DomainPolicy {
    fn with_registry<T>(&self, f: impl FnOnce(&mut Registry) -> T) -> T {
        let mut guard = self.registry.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }
}

impl Policy for DomainPolicy {
    fn check_payload(&self, env: &Envelope, signer: &StoredKey) -> Result<(), String> {
        let kind = env.kind();
        if kind.starts_with("ledger.") {
            // The ledger validates its own kinds.
            return Ok(());
        }
        match siteledger_domain::validate_envelope(kind, env.stream(), env.payload()) {
            Ok(DomainEvent::Registry(event)) => {
                // The registry's own rules: unique ids, registered participants, existing districts…
                self.with_registry(|r| decide(r.view(), RegistryCommand::from(event)))
                    .map_err(|e| format!("registry rule: {e}"))?;
            }
            Ok(_) => {}
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
        self.with_registry(|r| {
            siteledger_domain::authority::may_enroll_in(
                r.view(),
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
        self.with_registry(|r| {
            siteledger_domain::authority::may_revoke_in(
                r.view(),
                &signer.role,
                &signer.subject,
                &target.role,
                &target.subject,
            )
        })
        .map_err(|e| e.to_string())
    }

    fn accepted(&self, env: &Envelope) {
        if !env.kind().starts_with("registry.") {
            return;
        }
        if let Ok(DomainEvent::Registry(event)) = DomainEvent::parse(env.kind(), env.payload()) {
            self.with_registry(|r| {
                let state = r.pending.get_or_insert_with(|| r.committed.clone());
                evolve(state, &event);
            });
        }
    }

    fn settled(&self, committed: bool) {
        self.with_registry(|r| {
            if let Some(p) = r.pending.take()
                && committed
            {
                r.committed = p;
            }
        });
    }

    fn wants(&self, kind: &str) -> bool {
        kind.starts_with("registry.")
    }

    fn stateful(&self) -> bool {
        true
    }
}
