//! The ledger's own record kinds and payloads, and the policy hook through which the domain adds its rules.
//!
//! * `ledger.key.enrolled.v1` (payload [`KeyEnrollment`], defined with the bundle format in `signer`).
//! * `ledger.key.revoked.v1` ([`KeyRevocation`]): signed by an enrolled authority; records that occurred at or
//!   after `revoked_at` are refused.
//! * `ledger.signer.gap.v1` ([`SignerGap`]): signed by the ledger's system key when a signer's sequence skips
//!   numbers, so suppressed data is visible.
//! * `ledger.signer.equivocation.v1` ([`Equivocation`]): signed by the system key when a signer presents a second,
//!   different record for a sequence number; it embeds the refused envelope, which carries the signer's own
//!   signature, so the misbehaviour is provable by anyone.
//!
//! The `ledger.` namespace is reserved ([`reserved_kind`]): producers submit only enrolments and revocations; the
//! two notices are written by the sequencer alone, and any other `ledger.` kind is refused, whatever the policy.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use siteledger_signer::Envelope;
pub use siteledger_signer::bundle::{KEY_ENROLLED_KIND, KeyEnrollment};

use crate::store::StoredKey;

/// Kind of a key revocation.
pub const KEY_REVOKED_KIND: &str = "ledger.key.revoked.v1";
/// Kind of a signer-gap notice.
pub const SIGNER_GAP_KIND: &str = "ledger.signer.gap.v1";
/// Kind of an equivocation notice.
pub const EQUIVOCATION_KIND: &str = "ledger.signer.equivocation.v1";
/// Prefix of the kinds the log reserves for itself.
pub const RESERVED_PREFIX: &str = "ledger.";

/// Why a producer may not submit a record of `kind`, or `None` if it may: every kind outside the `ledger.`
/// namespace (the policy judges those), and key enrolments and revocations (the authority rules judge those). Gap
/// and equivocation notices are only ever created by the sequencer itself, so a submitted one is refused whoever
/// signed it (even with the system key: the log never receives its own notices from outside).
pub fn reserved_kind(kind: &str) -> Option<String> {
    if !kind.starts_with(RESERVED_PREFIX) || kind == KEY_ENROLLED_KIND || kind == KEY_REVOKED_KIND {
        return None;
    }
    Some(if kind == SIGNER_GAP_KIND || kind == EQUIVOCATION_KIND {
        format!(
            "the log writes {kind} records itself, signed by its system key, when it detects a gap or an \
             equivocation; a producer never submits one"
        )
    } else {
        format!(
            "the log defines no kind {kind}; of the ledger.* kinds a producer may submit only {KEY_ENROLLED_KIND} \
             and {KEY_REVOKED_KIND}; the platform's record kinds are listed in docs/KINDS.md"
        )
    })
}

/// Role recorded for the ledger's own system key.
pub const SYSTEM_ROLE: &str = "ledger";

/// Payload of `ledger.key.revoked.v1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRevocation {
    /// The revoked key.
    pub key_id: String,
    /// From when its signatures are refused (RFC 3339 with offset).
    pub revoked_at: String,
    /// Why (free text, e.g. "device replaced", "key compromised").
    pub reason: String,
}

/// Payload of `ledger.signer.gap.v1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignerGap {
    /// The signer whose chain skipped.
    pub key_id: String,
    /// The last sequence number seen before (0 if none).
    pub last_seq: u64,
    /// The sequence number that arrived.
    pub next_seq: u64,
    /// How many numbers are missing.
    pub missing: u64,
    /// The record that revealed the gap.
    pub event_id: String,
}

/// Payload of `ledger.signer.equivocation.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Equivocation {
    /// The signer.
    pub key_id: String,
    /// The sequence number used twice.
    pub seq: u64,
    /// Position of the record accepted first.
    pub accepted_position: u64,
    /// Its leaf hash (hex).
    pub accepted_leaf_hash: String,
    /// The refused envelope, verbatim, with the signer's signature.
    pub refused_envelope: Value,
}

/// Serialises a payload struct into an envelope payload object.
pub fn payload<T: Serialize>(p: &T) -> Map<String, Value> {
    match serde_json::to_value(p) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// Domain rules the ledger applies at ingest, supplied by the platform (the `domain` crate's registry).
pub trait Policy: Send + Sync + 'static {
    /// Checks the payload of `env` against the schema of its kind, and that `signer` (the key's enrollment) may
    /// sign such a record (e.g. a project gateway only for its own project).
    fn check_payload(&self, env: &Envelope, signer: &StoredKey) -> Result<(), String>;
    /// May the holder of `signer` enrol `enrollment`? (e.g. city bureau → district bureau → enterprise → gateway)
    fn may_enroll(&self, signer: &StoredKey, enrollment: &KeyEnrollment) -> Result<(), String>;
    /// May the holder of `signer` revoke `target`?
    fn may_revoke(&self, signer: &StoredKey, target: &StoredKey) -> Result<(), String>;

    /// A record was accepted into the group being decided (not durable yet). Stateful policies fold it into a
    /// pending state, so later records of the same group see it.
    fn accepted(&self, _env: &Envelope) {}

    /// The group was committed (`true`: everything `accepted` since the last call is durable) or discarded
    /// (`false`: forget it). Also called with `true` after records written by another writer were folded in.
    fn settled(&self, _committed: bool) {}

    /// Whether the policy folds records of this kind (so the ledger parses them for [`Policy::accepted`] when it
    /// replays records it did not decide itself).
    fn wants(&self, _kind: &str) -> bool {
        false
    }

    /// Whether the policy keeps state: if so, the ledger replays the log's records of the kinds it [`wants`](
    /// Policy::wants) into it when it opens.
    fn stateful(&self) -> bool {
        false
    }
}

/// The permissive policy: any payload, and any enrolled key may enrol or revoke. For tests and tools; the platform
/// server installs the domain's policy.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenPolicy;

impl Policy for OpenPolicy {
    fn check_payload(&self, _env: &Envelope, _signer: &StoredKey) -> Result<(), String> {
        Ok(())
    }
    fn may_enroll(&self, _signer: &StoredKey, _enrollment: &KeyEnrollment) -> Result<(), String> {
        Ok(())
    }
    fn may_revoke(&self, _signer: &StoredKey, _target: &StoredKey) -> Result<(), String> {
        Ok(())
    }
}
