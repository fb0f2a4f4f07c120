//! The domain's rules as the ledger's ingest policy: payload schemas per kind, stream/project consistency, who
//! may sign what, and the key-enrollment hierarchy (city bureau → district bureau → enterprise → gateway/device).

use siteledger_ledger::StoredKey;
use siteledger_ledger::system::{KeyEnrollment, Policy};
use siteledger_signer::Envelope;

/// Roles whose keys may sign registry records (organisations, projects, zones).
const REGISTRY_SIGNERS: &[&str] = &["city_bureau", "district_bureau"];

/// The platform's ingest policy, backed by `siteledger-domain`.
#[derive(Debug, Default, Clone, Copy)]
pub struct DomainPolicy;

impl Policy for DomainPolicy {
    fn check_payload(&self, env: &Envelope, signer: &StoredKey) -> Result<(), String> {
        let kind = env.kind();
        if kind.starts_with("ledger.") {
            // The ledger validates its own kinds.
            return Ok(());
        }
        match siteledger_domain::validate_envelope(kind, env.stream(), env.payload()) {
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
        siteledger_domain::authority::may_enroll(&signer.role, &signer.subject, &enrollment.role, &enrollment.subject)
            .map_err(|e| e.to_string())
    }

    fn may_revoke(&self, signer: &StoredKey, target: &StoredKey) -> Result<(), String> {
        if signer.key_id == target.key_id {
            // Anyone may revoke their own key (e.g. a compromised device key reported by its holder).
            return Ok(());
        }
        siteledger_domain::authority::may_revoke(&signer.role, &signer.subject, &target.role, &target.subject)
            .map_err(|e| e.to_string())
    }
}
