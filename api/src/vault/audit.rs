//! Signed access records: every vault intake, card registration, reveal, unlinking and erasure becomes a
//! `vault.access.v1` record in the public log, signed by the server's vault-audit key (role `platform`, enrolled
//! by the ledger's system key at start: [`enrollment`]).
//!
//! The key signs one hash chain (FORMAT.md §4), resumed from the store's head of that signer at the first record
//! after a start and advanced only when the ledger accepted a record; a mutex serialises signing so the chain never
//! forks. A record that cannot be written (store down, refused) fails the access: the vault answers nothing it did
//! not record.

use std::sync::Arc;

use siteledger_domain::workforce::vault::{SIGNER_ROLE, STREAM_PREFIX, VAULT_ACCESS, VaultAccess};
use siteledger_ledger::system::KeyEnrollment;
use siteledger_ledger::{AnyStore, EventStore, IngestOutcome, Ledger};
use siteledger_signer::SigningKey;
use siteledger_signer::envelope::SignerChain;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::VaultError;

/// The file of the vault-audit key under `<data_dir>/keys/` (0600, created on first start by `node`).
pub const KEY_FILE: &str = "vault-audit.key";

/// The enrollment of the vault-audit key (role `platform`, subject `<log origin> vault audit`), for the ledger's
/// `LedgerConfig::system_enrolments`. Valid from now: the key signs nothing older.
pub fn enrollment(key: &SigningKey, log_origin: &str) -> KeyEnrollment {
    let pk = key.public();
    KeyEnrollment {
        key_id: pk.key_id().to_string(),
        public_key: pk.to_base64(),
        subject: format!("{log_origin} vault audit"),
        role: SIGNER_ROLE.to_owned(),
        valid_from: now_text(),
        valid_until: None,
    }
}

/// `now` in Asia/Shanghai, RFC 3339, whole seconds.
fn now_text() -> String {
    let now = siteledger_domain::time::in_shanghai(time::OffsetDateTime::now_utc());
    now.replace_nanosecond(0).unwrap_or(now).format(&Rfc3339).unwrap_or_default()
}

/// Where a written access record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    /// The record's event id.
    pub event_id: Uuid,
    /// Its log position.
    pub position: u64,
}

/// The writer of access records. Cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    key: Arc<SigningKey>,
    ledger: Ledger<AnyStore>,
    /// `None` until resumed from the store (and again after a failed write, whose fate is unknown).
    chain: Arc<tokio::sync::Mutex<Option<SignerChain>>>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuditLog({})", self.key.key_id())
    }
}

impl AuditLog {
    /// A writer signing with `key` (enrolled as [`enrollment`]) into `ledger`.
    pub fn new(key: SigningKey, ledger: Ledger<AnyStore>) -> AuditLog {
        AuditLog { key: Arc::new(key), ledger, chain: Arc::new(tokio::sync::Mutex::new(None)) }
    }

    /// The ledger the records go to (the access index reads them back from its store).
    pub(super) fn ledger(&self) -> &Ledger<AnyStore> {
        &self.ledger
    }

    /// Signs `access` as a `vault.access.v1` record with id `event_id` and waits until the log holds it.
    pub(super) async fn write(&self, event_id: Uuid, access: &VaultAccess) -> Result<Recorded, VaultError> {
        let unrecorded = |why: String| VaultError::Unrecorded(why);
        let mut chain = self.chain.lock().await;
        let current = match *chain {
            Some(c) => c,
            None => {
                let head = self
                    .ledger
                    .store()
                    .signer_head(&self.key.key_id().to_string())
                    .await
                    .map_err(|e| unrecorded(format!("reading the audit chain: {e}")))?;
                head.map_or_else(SignerChain::new, |e| SignerChain::after(e.signer_seq, e.leaf_hash))
            }
        };
        let mut next = current;
        let payload = match serde_json::to_value(access) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => return Err(unrecorded("the access record does not serialise".into())),
        };
        let env = next
            .sign(
                &self.key,
                event_id,
                &format!("{STREAM_PREFIX}{}", access.person_ref),
                VAULT_ACCESS,
                &now_text(),
                payload,
            )
            .map_err(|e| unrecorded(format!("signing: {e}")))?;
        // Whatever happens next, the chain is only known again once the ledger answered.
        *chain = None;
        let outcome = self.ledger.ingest(vec![env]).await.map_err(|e| unrecorded(format!("ledger: {e}")))?;
        match outcome.into_iter().next() {
            Some(IngestOutcome::Accepted { position } | IngestOutcome::Duplicate { position }) => {
                *chain = Some(next);
                Ok(Recorded { event_id, position })
            }
            Some(IngestOutcome::Rejected(r)) => {
                tracing::error!(rejection = %r, "the ledger refused a vault access record");
                Err(unrecorded(format!("refused: {r}")))
            }
            None => Err(unrecorded("no answer from the ledger".into())),
        }
    }
}
