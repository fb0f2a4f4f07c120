//! The ledger's error types. [`Rejection`] is per record and expected (bad input); [`LedgerError`] means the ledger
//! could not do its job (nothing was acknowledged, retry later); [`AppendError`] is the stream-append contract.

use serde::Serialize;

use crate::store::StoreError;

/// Why one record was refused. Each variant has a stable `code()` and a message a producer can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Rejection {
    /// The envelope or its payload is malformed.
    #[error("malformed record: {reason}")]
    Malformed {
        /// What is wrong, naming the field.
        reason: String,
    },
    /// The payload does not fit the schema of its kind (or the kind is unknown).
    #[error("payload of kind {kind} is invalid: {reason}")]
    Schema {
        /// The kind.
        kind: String,
        /// What is wrong.
        reason: String,
    },
    /// A domain admission rule refuses the record: the payload is well formed, but the record may not be accepted
    /// now (a state machine, an unregistered participant, a key signing outside its project…).
    #[error("{rule} rule: {message}")]
    Rule {
        /// The rule's stable name (e.g. `条例第二十八条`, `registry`, `authority.own_project`).
        rule: String,
        /// What is wrong, in words the sender can act on.
        message: String,
    },
    /// The signer key is not enrolled in this ledger.
    #[error(
        "signer key {key_id} is not enrolled; enrol it with a ledger.key.enrolled.v1 record from an authority first"
    )]
    UnknownSigner {
        /// The key id.
        key_id: String,
    },
    /// The signature does not verify.
    #[error("signature invalid: {reason}")]
    BadSignature {
        /// Which signature rule failed.
        reason: String,
    },
    /// The record's `occurred_at` is outside the key's validity, or after its revocation.
    #[error("key {key_id} was not valid at {occurred_at}: {reason}")]
    KeyNotValid {
        /// The key id.
        key_id: String,
        /// The record's time.
        occurred_at: String,
        /// Validity window or revocation.
        reason: String,
    },
    /// The signer used this sequence number for a different record: rejected, and recorded as equivocation
    /// evidence in the log.
    #[error(
        "equivocation: signer {key_id} already used sequence number {seq} for a different record (position {existing_position}); this attempt is recorded as evidence"
    )]
    Equivocation {
        /// The key id.
        key_id: String,
        /// The reused sequence number.
        seq: u64,
        /// Where the first record with that number is.
        existing_position: u64,
    },
    /// `prev` does not match the signer's previous record: the signer's chain state is out of sync.
    #[error(
        "signer chain broken: record seq {seq} of key {key_id} does not link to the signer's record seq {linked_seq}; resynchronise the signer's sequence state"
    )]
    ChainMismatch {
        /// The key id.
        key_id: String,
        /// The record's sequence number.
        seq: u64,
        /// The neighbour it should link with.
        linked_seq: u64,
    },
    /// An event with this id already exists with different content.
    #[error("event id {event_id} is already used by a different record")]
    EventIdConflict {
        /// The event id.
        event_id: String,
    },
    /// The key enrollment or revocation is not allowed.
    #[error("key registry: {reason}")]
    Registry {
        /// Why.
        reason: String,
    },
    /// The kind is in the `ledger.` namespace, which the log reserves for itself: producers may submit only
    /// `ledger.key.enrolled.v1` and `ledger.key.revoked.v1`; gap and equivocation notices are written by the log
    /// alone, and no other `ledger.` kind exists.
    #[error("kind {kind} is reserved for the log itself: {reason}")]
    ReservedKind {
        /// The kind.
        kind: String,
        /// What the producer should do instead.
        reason: String,
    },
    /// `occurred_at` is further ahead of the platform's clock than the allowed clock skew: the signer's clock is
    /// wrong (or the record is forged to sit in the future, where it would distort every "latest" view).
    #[error(
        "occurred_at {occurred_at} is ahead of the platform clock ({server_time}) by more than the allowed {max_skew_secs} s; correct the device clock (NTP) and send the record again once its time has come, or sign it again with the right time"
    )]
    FutureOccurredAt {
        /// The record's time, as signed.
        occurred_at: String,
        /// The platform's time when it refused the record (RFC 3339).
        server_time: String,
        /// The largest accepted lead of `occurred_at` over the platform clock, seconds.
        max_skew_secs: u64,
    },
}

impl Rejection {
    /// Stable machine code, e.g. for metrics labels and API error codes.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::Malformed { .. } => "malformed",
            Rejection::Schema { .. } => "schema",
            Rejection::Rule { .. } => "rule",
            Rejection::UnknownSigner { .. } => "unknown_signer",
            Rejection::BadSignature { .. } => "bad_signature",
            Rejection::KeyNotValid { .. } => "key_not_valid",
            Rejection::Equivocation { .. } => "equivocation",
            Rejection::ChainMismatch { .. } => "chain_mismatch",
            Rejection::EventIdConflict { .. } => "event_id_conflict",
            Rejection::Registry { .. } => "registry",
            Rejection::ReservedKind { .. } => "reserved_kind",
            Rejection::FutureOccurredAt { .. } => "future_occurred_at",
        }
    }
}

/// The ledger could not complete the operation; nothing from it was acknowledged.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The store failed; retry later.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The ledger is shutting down; retry against another instance or later.
    #[error("the ledger is shutting down")]
    Closed,
    /// A request was invalid (e.g. a proof for a size the log does not have); the message says what to ask instead.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// Signing a checkpoint or system record failed (a configuration error).
    #[error("signing failed: {0}")]
    Signing(String),
}

/// Expected state of a stream for [`crate::Ledger::append`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// No check.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream must exist.
    StreamExists,
    /// The stream's last version must be exactly this (0-based).
    Exact(u64),
}

/// Why a stream append failed. Nothing of the batch was written.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// The stream is not at the expected version: re-read the stream and decide again.
    #[error("wrong expected version: expected {expected:?}, stream is at {actual:?}")]
    WrongExpectedVersion {
        /// What the caller expected.
        expected: ExpectedVersion,
        /// The stream's last version, None if empty.
        actual: Option<u64>,
    },
    /// An envelope of the batch names a different stream.
    #[error("envelope {index} of the batch belongs to stream {found:?}, not {stream:?}")]
    WrongStream {
        /// Index in the batch.
        index: usize,
        /// The target stream.
        stream: String,
        /// The envelope's stream.
        found: String,
    },
    /// Some but not all of the batch's event ids were already appended: the caller's retry does not match what
    /// was stored.
    #[error("batch partially matches already-stored events; resend exactly the original batch or new event ids")]
    PartialDuplicate,
    /// One envelope was refused; the batch is atomic so none was written.
    #[error("envelope {index} of the batch was refused: {rejection}")]
    Rejected {
        /// Index in the batch.
        index: usize,
        /// Why.
        rejection: Rejection,
    },
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}
