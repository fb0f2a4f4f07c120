//! The ledger's own record kinds and payloads, and the policy port through which the domain adds its rules
//! ([`Policy`]: a typed verdict per record, [`Admitted`] or [`Refusal`]).
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
use siteledger_domain::{DomainEvent, RuleError};
use siteledger_signer::Envelope;
pub use siteledger_signer::bundle::{KEY_ENROLLED_KIND, KeyEnrollment};
use uuid::Uuid;

use crate::error::Rejection;
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

/// What the policy parsed from a record it admits. The sequencer hands it back to [`Policy::accepted`] (and keeps
/// it while the group is undecided), so a record is parsed once on its way in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admitted {
    /// Nothing parsed: the ledger's own kinds (key enrolments and revocations, which the sequencer parses itself),
    /// or a policy that does not read payloads ([`OpenPolicy`]).
    Unparsed,
    /// A record of a kind the domain defines, type-checked once.
    Domain(Box<DomainEvent>),
}

/// Why the policy refuses a record. Each variant becomes one [`Rejection`] (and so one wire code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The payload does not fit the schema of its kind, or the kind is unknown: `schema`.
    #[error("payload of kind {kind} is invalid: {reason}")]
    Schema {
        /// The kind.
        kind: String,
        /// What is wrong, naming the field.
        reason: String,
    },
    /// An admission rule refuses the record (a state machine, a registered participant, who may sign it): `rule`.
    #[error("{rule} rule: {message}")]
    Rule {
        /// The rule's stable name, e.g. `条例第二十八条` or `authority.own_project`.
        rule: String,
        /// What is wrong, in words the sender can act on.
        message: String,
    },
    /// A `ledger.` kind no producer may submit: `reserved_kind`.
    #[error("kind {kind} is reserved for the log itself: {reason}")]
    Reserved {
        /// The kind.
        kind: String,
        /// What the producer should do instead.
        reason: String,
    },
}

impl From<RuleError> for Refusal {
    fn from(e: RuleError) -> Refusal {
        Refusal::Rule { rule: e.rule, message: e.message }
    }
}

impl From<Refusal> for Rejection {
    fn from(r: Refusal) -> Rejection {
        match r {
            Refusal::Schema { kind, reason } => Rejection::Schema { kind, reason },
            Refusal::Rule { rule, message } => Rejection::Rule { rule, message },
            Refusal::Reserved { kind, reason } => Rejection::ReservedKind { kind, reason },
        }
    }
}

/// What a policy sees of an accepted record besides what it parsed: the envelope fields its rules read, and the
/// signer's enrolment.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// The envelope's event id.
    pub event_id: Uuid,
    /// The envelope's stream.
    pub stream: &'a str,
    /// `occurred_at` as signed.
    pub occurred_at: &'a str,
    /// The signer's key id.
    pub signer_key_id: &'a str,
    /// The signer's enrolment, if the ledger knows the key (it always does for records it decides).
    pub signer: Option<&'a StoredKey>,
}

/// Domain rules the ledger applies at ingest, supplied by the platform ([`crate::DomainPolicy`], the `domain` crate's
/// rules).
pub trait Policy: Send + Sync + 'static {
    /// The verdict on `env`, signed by `signer` (the key's enrolment): its payload fits its kind, and the rules
    /// (against the state as of the records accepted before it) admit it. On admission, returns what it parsed, which
    /// the ledger hands back to [`Policy::accepted`]. Called once per record decided; a record is not parsed again.
    fn check(&self, env: &Envelope, signer: &StoredKey) -> Result<Admitted, Refusal>;
    /// May the holder of `signer` enrol `enrollment`? (e.g. city bureau → district bureau → enterprise → gateway)
    fn may_enroll(&self, signer: &StoredKey, enrollment: &KeyEnrollment) -> Result<(), String>;
    /// May the holder of `signer` revoke `target`?
    fn may_revoke(&self, signer: &StoredKey, target: &StoredKey) -> Result<(), String>;

    /// A record was accepted into the group being decided (not durable yet), with what [`Policy::check`] returned
    /// for it, or [`Policy::replay`] for a record the ledger folds without deciding it. Stateful policies fold it
    /// into a pending state, so later records of the same group see it.
    fn accepted(&self, _record: &Record<'_>, _admitted: &Admitted) {}

    /// The group was committed (`true`) or discarded (`false`). `true`: the oldest group not yet durable is durable
    /// now: the [sealed](Policy::seal) one if there is one, else everything `accepted` since the last call. `false`:
    /// forget every group not yet durable (sealed or being decided). Also called with `true` after records written by
    /// another writer were folded in.
    fn settled(&self, _committed: bool) {}

    /// The group decided so far was handed to the store: records accepted from now on start a new group on top of
    /// it, which the ledger decides while that commit runs. The next `settled(true)` makes the sealed group durable
    /// and leaves the new one pending; [`Policy::discard_pending`] forgets only the new one. At most one group is
    /// sealed at a time. Returns `false` if the policy cannot keep two groups apart (the default, right for a policy
    /// that keeps no state): then a stateful policy's ledger waits for each commit before deciding the next group.
    fn seal(&self) -> bool {
        false
    }

    /// Forgets the records accepted since the last [`Policy::seal`] or `settled` (the group being decided), and
    /// keeps a sealed group. The default forgets everything not durable, which is the same for a policy that never
    /// seals.
    fn discard_pending(&self) {
        self.settled(false);
    }

    /// Whether the policy folds records of this kind: the ledger replays the log's records of these kinds into it
    /// when it opens and after another writer's commits (through [`Policy::replay`] and [`Policy::accepted`]).
    fn wants(&self, _kind: &str) -> bool {
        false
    }

    /// Parses a record that is already in the log, for [`Policy::accepted`]: no rules (the log has it), one parse.
    /// `None` if the policy does not fold it.
    fn replay(&self, _env: &Envelope) -> Option<Admitted> {
        None
    }

    /// Whether the policy keeps state: if so, the ledger replays the log's records of the kinds it [`wants`](
    /// Policy::wants) into it when it opens.
    fn stateful(&self) -> bool {
        false
    }

    /// The format of this policy's state snapshots ([`Policy::snapshot`]), stored with them; `None` (the default)
    /// if it keeps none. A snapshot of another format is never restored, so a build whose state layout or fold
    /// changed replays the log from zero instead of misreading an older state.
    fn snapshot_format(&self) -> Option<&'static str> {
        None
    }

    /// The canonical bytes of the state as of every record folded so far (the group being decided included):
    /// equal states give equal bytes. Only called if [`Policy::snapshot_format`] is `Some`.
    fn snapshot(&self) -> Result<Vec<u8>, String> {
        Err("this policy keeps no snapshots".to_owned())
    }

    /// Replaces the whole state (and forgets any pending group) with the one `bytes` encode, all or nothing: on
    /// `Err` the state is unchanged. Bytes that are not exactly the canonical form of a state are refused.
    fn restore(&self, _bytes: &[u8]) -> Result<(), String> {
        Err("this policy keeps no snapshots".to_owned())
    }
}

/// The permissive policy: any payload, and any enrolled key may enrol or revoke. For tests and tools; the platform
/// server installs the domain's policy.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenPolicy;

impl Policy for OpenPolicy {
    fn check(&self, _env: &Envelope, _signer: &StoredKey) -> Result<Admitted, Refusal> {
        Ok(Admitted::Unparsed)
    }
    fn may_enroll(&self, _signer: &StoredKey, _enrollment: &KeyEnrollment) -> Result<(), String> {
        Ok(())
    }
    fn may_revoke(&self, _signer: &StoredKey, _target: &StoredKey) -> Result<(), String> {
        Ok(())
    }
}
