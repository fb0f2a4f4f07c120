//! The storage port: what an event-store adapter must provide. The sequencer ([`crate::Ledger`]) owns every rule;
//! an adapter only persists and reads, atomically and durably.
//!
//! Positions (leaf indices) are dense, 0-based and assigned by the sequencer, never by the database: a commit
//! carries events whose positions continue exactly from the store's head, and the adapter refuses a commit whose
//! `expected_head` is not its current head ([`StoreError::HeadMoved`]), which is how two writers on one database
//! are serialised. Because only commits in position order ever become visible, a reader never observes N+1 before
//! N (the classic PostgreSQL sequence trap cannot happen).

use std::future::Future;

use siteledger_signer::keys::{KeyAlgorithm, KeyError, SignerKey};
use siteledger_signer::merkle::{Hash, NodeId};
use time::OffsetDateTime;
use uuid::Uuid;

/// An event as stored: the envelope's exact leaf bytes plus the sequencer's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Global log position (Merkle leaf index), dense from 0.
    pub position: u64,
    /// The envelope's stream.
    pub stream: String,
    /// Revision within the stream, dense from 0.
    pub stream_version: u64,
    /// The envelope's event id.
    pub event_id: Uuid,
    /// The envelope's kind.
    pub kind: String,
    /// Signer key id (32 lowercase hex).
    pub signer: String,
    /// The signer's sequence number.
    pub signer_seq: u64,
    /// `occurred_at` exactly as signed.
    pub occurred_at: String,
    /// When the ledger sequenced it (UTC, microsecond precision).
    pub recorded_at: OffsetDateTime,
    /// Canonical signed envelope: the Merkle leaf.
    pub leaf: Vec<u8>,
    /// RFC 9162 leaf hash of `leaf`.
    pub leaf_hash: Hash,
}

/// A signed checkpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// Tree size.
    pub size: u64,
    /// Root hash at that size.
    pub root: Hash,
    /// The full signed note (C2SP).
    pub note: String,
    /// When it was signed (UTC).
    pub created_at: OffsetDateTime,
}

/// A signer key known to the ledger (from `ledger.key.enrolled.v1` / `ledger.key.revoked.v1` records).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// Key id (32 lowercase hex).
    pub key_id: String,
    /// Public-key bytes: 32 for Ed25519, the 65-byte uncompressed point `04 ‖ x ‖ y` for SM2.
    pub public_key: Vec<u8>,
    /// The key's algorithm, as its enrolment declared it (`alg`; absent means Ed25519).
    pub alg: KeyAlgorithm,
    /// An SM2 key's declared signer identity (`sm2_id`); `None` for the GM/T 0009 default and for Ed25519.
    pub sm2_id: Option<String>,
    /// Holder.
    pub subject: String,
    /// Holder's role.
    pub role: String,
    /// Start of validity (RFC 3339 as enrolled).
    pub valid_from: String,
    /// Exclusive end of validity, if any.
    pub valid_until: Option<String>,
    /// Event id of the enrollment record.
    pub enrolled_by: Uuid,
    /// Position of the enrollment record.
    pub enrolled_at: u64,
    /// Revocation time (RFC 3339 as revoked), if revoked: records that occurred at or after it are refused.
    pub revoked_at: Option<String>,
}

impl StoredKey {
    /// The key, algorithm-aware, as envelopes are verified with it.
    pub fn signer_key(&self) -> Result<SignerKey, KeyError> {
        SignerKey::from_parts(self.alg, self.sm2_id.as_deref(), &self.public_key)
    }
}

/// A snapshot of the ingest policy's state (the domain's admission state) as of the first `size` records, stored so
/// that opening the ledger folds only the records after it. It is a cache, never evidence: the ledger restores it
/// only if its `root` is the tree's root at `size`, its `sha256` matches `state`, and the policy accepts `format`
/// and the bytes; otherwise it replays the log from zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSnapshot {
    /// Tree size the state belongs to (the state folds records `0..size`).
    pub size: u64,
    /// Root hash of the tree at `size`.
    pub root: Hash,
    /// The policy's snapshot format (e.g. `siteledger.domain-state.v1`).
    pub format: String,
    /// SHA-256 of `state`.
    pub sha256: Hash,
    /// The state's canonical bytes.
    pub state: Vec<u8>,
    /// When it was written (UTC).
    pub created_at: OffsetDateTime,
}

/// One atomic, durable write produced by the sequencer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Commit {
    /// Events with consecutive positions starting at the store's head.
    pub events: Vec<StoredEvent>,
    /// New complete Merkle nodes at levels ≥ 1 (level 0 is `events.leaf_hash`).
    pub nodes: Vec<(NodeId, Hash)>,
    /// Keys enrolled by events of this commit.
    pub new_keys: Vec<StoredKey>,
    /// Keys revoked by events of this commit: (key id, revoked_at).
    pub revocations: Vec<(String, String)>,
    /// A checkpoint signed over the tree as it stands after this commit's events.
    pub checkpoint: Option<StoredCheckpoint>,
}

/// Read direction for stream reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Increasing versions, starting at `from` inclusive.
    Forward,
    /// Decreasing versions, starting at `from` inclusive.
    Backward,
}

/// Errors from a store adapter.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another writer appended since this writer last read the head: reload state and retry.
    #[error("the log head moved: expected {expected}, found {found}")]
    HeadMoved {
        /// The head the writer assumed.
        expected: u64,
        /// The head in the store.
        found: u64,
    },
    /// A uniqueness rule was violated (event id, stream version, signer sequence): a sequencer bug or a concurrent
    /// writer; nothing was written.
    #[error("uniqueness violated: {0}")]
    Conflict(String),
    /// The stored data is not what this version expects (schema or corruption): an operator must look.
    #[error("store is inconsistent: {0}")]
    Corrupt(String),
    /// The database is unreachable or failed: retry later; nothing was acknowledged.
    #[error("database error: {0}")]
    Database(String),
}

/// The event-store port. Every method is cancel-safe in the sense that a dropped future either committed fully
/// or not at all.
pub trait EventStore: Send + Sync + 'static {
    /// Number of events in the log (the next position).
    fn head(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Writes `commit` atomically and durably (fsync'd before returning Ok), provided the head is still
    /// `expected_head`; otherwise returns [`StoreError::HeadMoved`] and writes nothing.
    fn commit(&self, expected_head: u64, commit: &Commit) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Events from `from` (inclusive) in position order, at most `limit`.
    fn read_all(&self, from: u64, limit: usize) -> impl Future<Output = Result<Vec<StoredEvent>, StoreError>> + Send;

    /// Events of one stream from version `from` (inclusive) in `direction`, at most `limit`.
    fn read_stream(
        &self,
        stream: &str,
        from: u64,
        direction: Direction,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<StoredEvent>, StoreError>> + Send;

    /// The last version of `stream`, or None if it has no events.
    fn stream_head(&self, stream: &str) -> impl Future<Output = Result<Option<u64>, StoreError>> + Send;

    /// The stored events with these event ids (any order; missing ids are simply absent).
    fn events_by_id(&self, ids: &[Uuid]) -> impl Future<Output = Result<Vec<StoredEvent>, StoreError>> + Send;

    /// The signer's event with the highest sequence number, if any.
    fn signer_head(&self, signer: &str) -> impl Future<Output = Result<Option<StoredEvent>, StoreError>> + Send;

    /// The signer's event with sequence number `seq`, if any.
    fn signer_event(
        &self,
        signer: &str,
        seq: u64,
    ) -> impl Future<Output = Result<Option<StoredEvent>, StoreError>> + Send;

    /// Hashes of these complete Merkle nodes, in order (level 0 reads `leaf_hash` by position). A missing node is
    /// [`StoreError::Corrupt`].
    fn read_nodes(&self, ids: &[NodeId]) -> impl Future<Output = Result<Vec<Hash>, StoreError>> + Send;

    /// The newest stored checkpoint.
    fn latest_checkpoint(&self) -> impl Future<Output = Result<Option<StoredCheckpoint>, StoreError>> + Send;

    /// The stored checkpoint of exactly this size.
    fn checkpoint_at(&self, size: u64) -> impl Future<Output = Result<Option<StoredCheckpoint>, StoreError>> + Send;

    /// Stored checkpoints with size ≥ `from`, ascending, at most `limit`.
    fn checkpoints(
        &self,
        from: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<StoredCheckpoint>, StoreError>> + Send;

    /// Every key ever enrolled (the registry is small: one row per device or organisation key).
    fn keys(&self) -> impl Future<Output = Result<Vec<StoredKey>, StoreError>> + Send;

    /// Stores a policy-state snapshot (replacing one of the same size) and deletes all but the newest `keep`
    /// snapshots, in one transaction, so the table stays bounded whatever the log's length. Returns `false` if the
    /// store keeps no snapshots (the default: KurrentDB's adapter), in which case the ledger always replays from
    /// zero when it opens.
    fn put_snapshot(
        &self,
        _snapshot: &StoredSnapshot,
        _keep: usize,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        async { Ok(false) }
    }

    /// The newest stored snapshots, largest size first, at most `limit` (none for a store that keeps none).
    fn snapshots(&self, _limit: usize) -> impl Future<Output = Result<Vec<StoredSnapshot>, StoreError>> + Send {
        async { Ok(Vec::new()) }
    }
}
