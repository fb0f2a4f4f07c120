//! KurrentDB adapter (feature `kurrentdb`): the [`EventStore`] port on KurrentDB (formerly EventStoreDB) through
//! the official `kurrentdb` gRPC client.
//!
//! # Design
//!
//! * **Positions are ours, not KurrentDB's.** The sequencer assigns dense leaf positions. KurrentDB's `$all`
//!   positions are byte offsets in its transaction log (not dense, with gaps for other streams' writes), so they
//!   are never used as ledger positions.
//! * **One commit = one KurrentDB event.** Each [`Commit`] is appended as a single event of type
//!   [`COMMIT_EVENT_TYPE`] to one log stream (default [`DEFAULT_LOG_STREAM`]). The body is JSON: the events (leaf
//!   bytes in standard base64, hashes in lowercase hex, times in RFC 3339 UTC), the Merkle nodes, the keys, the
//!   revocations and the checkpoint. Because the whole commit is one event, it is written atomically.
//! * **Optimistic concurrency serialises writers.** The append states the expected revision of the log stream
//!   explicitly: `StreamState::NoStream` for the first commit, `StreamState::StreamRevision(commits - 1)` after.
//!   If another writer got there first, KurrentDB refuses the append; the adapter re-reads the log and answers
//!   [`StoreError::HeadMoved`] with the head it found. (If only the log revision moved but not the head, e.g.
//!   another writer stored a checkpoint-only commit, the append is retried a bounded number of times.)
//! * **Retries are idempotent.** The KurrentDB event id of a commit is a UUIDv8 derived from SHA-256 of a
//!   domain tag and the exact JSON body, which includes the commit's first position. A retried commit (same
//!   content, same expected head, e.g. after a lost acknowledgement) has the same id: KurrentDB's idempotency
//!   check (reliable because the expected revision is always explicit) accepts it without writing it twice, and
//!   if the adapter already sees the commit in the log it answers `Ok` without appending. The id is derived from
//!   the content and not only from the first position on purpose: two *different* commits at the same position
//!   must never be mistaken for one another (that would acknowledge a commit that was never written).
//! * **Reads come from an in-memory index.** [`KurrentStore::connect`] reads the whole log stream and builds
//!   an index (events by position, id, stream version and signer sequence; Merkle nodes; checkpoints; keys).
//!   Before serving any read, and before each commit, the adapter reads the commit events appended since the last
//!   revision it applied (refresh-on-read), so a read observes every commit acknowledged before it started, from
//!   any writer. Each log event is validated and applied as a whole, in log order, so a reader never sees part of
//!   a commit and never sees N+1 before N.
//! * **No fan-out.** Envelopes are not copied into per-stream KurrentDB streams. Such copies could only be
//!   written after the log append, non-atomically, and would need repair after a crash in between; KurrentDB-native
//!   consumers can subscribe to the log stream (or a server-side projection can derive per-stream views from it).
//!
//! # Honest limits
//!
//! * Memory use is proportional to the whole log (every leaf is held in memory), and connecting replays the log
//!   from the start. This adapter exists to run SiteLedger on an existing KurrentDB cluster and to keep the port
//!   honest; a production deployment of this size would use KurrentDB's server-side projections / secondary
//!   indexes (or a persistent local read model fed by a subscription) instead of replaying into RAM.
//! * Every read costs one round trip to the server (the refresh), and reads and commits on one [`KurrentStore`]
//!   are serialised by one lock.
//! * KurrentDB limits one append to `MaxAppendSize` bytes (1 MiB by default, server-configurable). A commit
//!   whose JSON body is larger is refused before sending with [`StoreError::Database`]; base64 makes leaves ≈ 4/3
//!   of their size, so the sequencer must bound group commits accordingly. Raise the server setting and
//!   [`KurrentStore::with_max_append_bytes`] together.
//! * Reads go to the node chosen by the connection string (`nodePreference`, default `leader`). A follower may
//!   lag; a stale head only causes a `HeadMoved` at commit, never a wrong write.
//! * Durability is KurrentDB's: an append is acknowledged after the server has written (and, in a cluster,
//!   replicated to a quorum) the event.
//!
//! # TLS and the rustls crypto provider
//!
//! KurrentDB connection strings use TLS unless they say `?tls=false`. The `kurrentdb` crate compiles rustls with
//! both the ring and the aws-lc-rs back-ends, so rustls cannot pick a default provider by itself: a rustls user
//! that builds a `ClientConfig` without an explicit provider panics unless a process-wide provider is installed.
//! The client installs aws-lc-rs as the process default (ignoring failure when one is already installed) while
//! [`KurrentStore::connect`] builds it, synchronously, so every rustls user that starts *after* `connect` is
//! safe. A binary that uses rustls elsewhere *before* connecting must install a provider itself first thing in
//! `main` (`rustls::crypto::aws_lc_rs::default_provider().install_default()`); the client then keeps that one.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use kurrentdb::{
    AppendToStreamOptions, Client, ClientSettings, EventData, ReadStreamOptions, StreamPosition, StreamState,
};
use serde::{Deserialize, Serialize};
use siteledger_signer::keys::KeyAlgorithm;
use siteledger_signer::merkle::{Hash, NodeId, leaf_hash};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};
use tokio::sync::{RwLock, RwLockReadGuard};
use uuid::Uuid;

use crate::store::{Commit, Direction, EventStore, StoreError, StoredCheckpoint, StoredEvent, StoredKey};

/// The log stream used by [`KurrentStore::connect`].
pub const DEFAULT_LOG_STREAM: &str = "siteledger-log";

/// KurrentDB event type of a commit event (format version 1).
pub const COMMIT_EVENT_TYPE: &str = "siteledger.commit.v1";

/// KurrentDB's default `MaxAppendSize`: the largest commit body the adapter sends unless told otherwise.
pub const DEFAULT_MAX_APPEND_BYTES: usize = 1_048_576;

/// Version of the JSON commit body.
const BODY_FORMAT: u32 = 1;

/// Domain tag hashed in front of the body to derive the commit event id.
const COMMIT_ID_DOMAIN: &[u8] = b"siteledger/kurrentdb/commit-id/v1\n";

/// Log events read per request while refreshing.
const READ_PAGE: usize = 256;

/// Appends retried when the log revision moved but the head did not (checkpoint-only commits of other writers).
const MAX_APPEND_ATTEMPTS: usize = 8;

/// The [`EventStore`] on KurrentDB. Cheap to clone; clones share one connection and one index.
#[derive(Clone)]
pub struct KurrentStore {
    client: Client,
    log_stream: Arc<str>,
    max_append_bytes: usize,
    index: Arc<RwLock<Index>>,
}

impl fmt::Debug for KurrentStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The client holds the connection settings (with credentials): never print it.
        f.debug_struct("KurrentStore")
            .field("log_stream", &self.log_stream)
            .field("max_append_bytes", &self.max_append_bytes)
            .finish_non_exhaustive()
    }
}

impl KurrentStore {
    /// Connects to KurrentDB (a `kurrentdb://` or `kurrentdb+discover://` connection string; TLS unless
    /// `?tls=false`) and loads the log stream [`DEFAULT_LOG_STREAM`].
    pub async fn connect(url: &str) -> Result<KurrentStore, StoreError> {
        KurrentStore::connect_with_stream(url, DEFAULT_LOG_STREAM).await
    }

    /// Like [`KurrentStore::connect`] with another log stream (one ledger per log stream; tests use fresh ones).
    pub async fn connect_with_stream(url: &str, log_stream: &str) -> Result<KurrentStore, StoreError> {
        if log_stream.is_empty() || log_stream.starts_with('$') {
            return Err(StoreError::Database(format!(
                "invalid KurrentDB log stream name {log_stream:?}: it must be non-empty and not a system stream"
            )));
        }
        // The connection string may carry credentials: never echo it. The parse error's message is the whole
        // input when it carries a URL error, so only that error is reported then.
        let settings: ClientSettings = url.parse().map_err(|e: kurrentdb::ClientSettingsParseError| {
            let reason = match e.error() {
                Some(url_error) => url_error.to_string(),
                None => e.message().to_owned(),
            };
            StoreError::Database(format!("invalid KurrentDB connection string: {reason}"))
        })?;
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|e| StoreError::Database(format!("KurrentStore::connect must run inside a Tokio runtime: {e}")))?;
        // Building the client installs the process-wide rustls provider (see the module docs).
        let client = Client::with_runtime_handle(runtime, settings)
            .map_err(|e| StoreError::Database(format!("cannot create the KurrentDB client: {e}")))?;
        let store = KurrentStore {
            client,
            log_stream: Arc::from(log_stream),
            max_append_bytes: DEFAULT_MAX_APPEND_BYTES,
            index: Arc::new(RwLock::new(Index::default())),
        };
        {
            let mut index = store.index.write().await;
            store.refresh(&mut index).await?;
            tracing::debug!(
                log_stream,
                commits = index.next_revision,
                head = index.head(),
                "KurrentDB log stream loaded"
            );
        }
        Ok(store)
    }

    /// Sets the largest commit body sent in one append; keep it ≤ the server's `MaxAppendSize`.
    #[must_use]
    pub fn with_max_append_bytes(mut self, bytes: usize) -> KurrentStore {
        self.max_append_bytes = bytes;
        self
    }

    /// The log stream this store writes.
    pub fn log_stream(&self) -> &str {
        &self.log_stream
    }

    /// Applies every commit event appended to the log stream since `index.next_revision`.
    async fn refresh(&self, index: &mut Index) -> Result<(), StoreError> {
        loop {
            let options = ReadStreamOptions::default()
                .forwards()
                .position(StreamPosition::Position(index.next_revision))
                .max_count(READ_PAGE);
            let mut stream = self
                .client
                .read_stream(&*self.log_stream, &options)
                .await
                .map_err(|e| client_error("reading the KurrentDB log stream", e))?;
            let mut read = 0usize;
            loop {
                match stream.next().await {
                    Ok(Some(resolved)) => {
                        read += 1;
                        let Some(recorded) = resolved.event.as_ref().or(resolved.link.as_ref()) else {
                            return Err(StoreError::Corrupt(format!(
                                "log stream {}: a read returned no event at revision {}",
                                self.log_stream, index.next_revision
                            )));
                        };
                        index.apply_recorded(
                            &self.log_stream,
                            recorded.revision,
                            recorded.id,
                            &recorded.event_type,
                            &recorded.data,
                        )?;
                    }
                    Ok(None) => break,
                    Err(kurrentdb::Error::ResourceNotFound) => {
                        return if index.next_revision == 0 {
                            Ok(())
                        } else {
                            Err(StoreError::Corrupt(format!(
                                "log stream {} no longer exists although {} commits were read from it",
                                self.log_stream, index.next_revision
                            )))
                        };
                    }
                    Err(e) => return Err(client_error("reading the KurrentDB log stream", e)),
                }
            }
            if read < READ_PAGE {
                return Ok(());
            }
        }
    }

    /// An up-to-date view of the index, for one read.
    async fn fresh(&self) -> Result<RwLockReadGuard<'_, Index>, StoreError> {
        let mut index = self.index.write().await;
        self.refresh(&mut index).await?;
        Ok(index.downgrade())
    }
}

impl EventStore for KurrentStore {
    async fn head(&self) -> Result<u64, StoreError> {
        Ok(self.fresh().await?.head())
    }

    async fn commit(&self, expected_head: u64, commit: &Commit) -> Result<(), StoreError> {
        let body = CommitBody::encode(expected_head, commit).map_err(StoreError::Conflict)?;
        let bytes =
            serde_json::to_vec(&body).map_err(|e| StoreError::Conflict(format!("cannot serialise the commit: {e}")))?;
        if bytes.len() > self.max_append_bytes {
            return Err(StoreError::Database(format!(
                "commit of {} events is {} bytes of JSON, over the {}-byte KurrentDB append limit: \
                 commit fewer events at a time (or raise the server's MaxAppendSize and with_max_append_bytes)",
                commit.events.len(),
                bytes.len(),
                self.max_append_bytes
            )));
        }
        let id = commit_id(&bytes);

        let mut index = self.index.write().await;
        for _ in 0..MAX_APPEND_ATTEMPTS {
            self.refresh(&mut index).await?;
            if index.commit_ids.get(&id) == Some(&expected_head) {
                // This very commit is already in the log (a retry after a lost acknowledgement).
                return Ok(());
            }
            let head = index.head();
            if head != expected_head {
                return Err(StoreError::HeadMoved { expected: expected_head, found: head });
            }
            index.check(expected_head, commit).map_err(StoreError::Conflict)?;

            let revision = index.next_revision;
            let state = match revision.checked_sub(1) {
                None => StreamState::NoStream,
                Some(last) => StreamState::StreamRevision(last),
            };
            // `EventData::json` runs `serde_json::to_vec` on the same value: the stored bytes are `bytes`, which
            // is what the id was derived from (checked again on every read of the log).
            let event = EventData::json(COMMIT_EVENT_TYPE, &body)
                .map_err(|e| StoreError::Conflict(format!("cannot serialise the commit: {e}")))?
                .id(id);
            let options = AppendToStreamOptions::default().stream_state(state);
            match self.client.append_to_stream(&*self.log_stream, &options, event).await {
                Ok(written) => {
                    if written.next_expected_version == revision {
                        index.apply(id, expected_head, commit);
                        index.next_revision = revision + 1;
                    } else if let Err(e) = self.refresh(&mut index).await {
                        // Durable already: the next read catches up.
                        tracing::warn!(error = %e, "KurrentDB commit written; refreshing the index failed");
                    }
                    return Ok(());
                }
                // Another writer appended: the next round re-reads the log and decides.
                Err(kurrentdb::Error::WrongExpectedVersion { .. }) => continue,
                Err(e) => {
                    return Err(client_error("appending a commit to the KurrentDB log stream", e));
                }
            }
        }
        Err(StoreError::Database(format!(
            "log stream {} kept moving without moving the head; gave up after {MAX_APPEND_ATTEMPTS} appends",
            self.log_stream
        )))
    }

    async fn read_all(&self, from: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        let index = self.fresh().await?;
        let Ok(start) = usize::try_from(from) else {
            return Ok(Vec::new());
        };
        let events = index.events.get(start..).unwrap_or_default();
        Ok(events.iter().take(limit).cloned().collect())
    }

    async fn read_stream(
        &self,
        stream: &str,
        from: u64,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let index = self.fresh().await?;
        let Some(versions) = index.streams.get(stream) else {
            return Ok(Vec::new());
        };
        let positions: Vec<u64> = match direction {
            Direction::Forward => versions.range(from..).take(limit).map(|(_, p)| *p).collect(),
            Direction::Backward => versions.range(..=from).rev().take(limit).map(|(_, p)| *p).collect(),
        };
        positions.into_iter().map(|p| index.event(p)).collect()
    }

    async fn stream_head(&self, stream: &str) -> Result<Option<u64>, StoreError> {
        let index = self.fresh().await?;
        Ok(index.streams.get(stream).and_then(|v| v.last_key_value()).map(|(version, _)| *version))
    }

    async fn events_by_id(&self, ids: &[Uuid]) -> Result<Vec<StoredEvent>, StoreError> {
        let index = self.fresh().await?;
        let mut seen = HashSet::new();
        ids.iter()
            .filter(|id| seen.insert(**id))
            .filter_map(|id| index.by_id.get(id))
            .map(|p| index.event(*p))
            .collect()
    }

    async fn signer_head(&self, signer: &str) -> Result<Option<StoredEvent>, StoreError> {
        let index = self.fresh().await?;
        match index.signers.get(signer).and_then(|s| s.last_key_value()) {
            Some((_, position)) => index.event(*position).map(Some),
            None => Ok(None),
        }
    }

    async fn signer_event(&self, signer: &str, seq: u64) -> Result<Option<StoredEvent>, StoreError> {
        let index = self.fresh().await?;
        match index.signers.get(signer).and_then(|s| s.get(&seq)) {
            Some(position) => index.event(*position).map(Some),
            None => Ok(None),
        }
    }

    async fn read_nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
        let index = self.fresh().await?;
        ids.iter()
            .map(|id| {
                let hash = if id.level == 0 {
                    usize::try_from(id.index).ok().and_then(|i| index.events.get(i)).map(|e| e.leaf_hash)
                } else {
                    index.nodes.get(id).copied()
                };
                hash.ok_or_else(|| {
                    StoreError::Corrupt(format!("Merkle node (level {}, index {}) is missing", id.level, id.index))
                })
            })
            .collect()
    }

    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        let index = self.fresh().await?;
        Ok(index.checkpoints.last_key_value().map(|(_, c)| c.clone()))
    }

    async fn checkpoint_at(&self, size: u64) -> Result<Option<StoredCheckpoint>, StoreError> {
        let index = self.fresh().await?;
        Ok(index.checkpoints.get(&size).cloned())
    }

    async fn checkpoints(&self, from: u64, limit: usize) -> Result<Vec<StoredCheckpoint>, StoreError> {
        let index = self.fresh().await?;
        Ok(index.checkpoints.range(from..).take(limit).map(|(_, c)| c.clone()).collect())
    }

    async fn keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        let index = self.fresh().await?;
        Ok(index.keys.clone())
    }
}

/// Maps a client error to the port's errors, with context. Connection strings never appear in messages.
fn client_error(context: &str, error: kurrentdb::Error) -> StoreError {
    match error {
        kurrentdb::Error::ResourceDeleted => {
            StoreError::Corrupt(format!("{context}: the log stream was deleted or tombstoned"))
        }
        kurrentdb::Error::AccessDenied => {
            StoreError::Database(format!("{context}: access denied (check the credentials in the connection string)"))
        }
        other => StoreError::Database(format!("{context}: {other}")),
    }
}

/// The KurrentDB event id of a commit body: a UUIDv8 holding the first 122 bits of SHA-256(tag ‖ body).
fn commit_id(body: &[u8]) -> Uuid {
    let mut input = Vec::with_capacity(COMMIT_ID_DOMAIN.len() + body.len());
    input.extend_from_slice(COMMIT_ID_DOMAIN);
    input.extend_from_slice(body);
    // `leaf_hash` is SHA-256(0x00 ‖ input): a plain SHA-256 of a prefixed string, good enough for an id.
    let digest = leaf_hash(&input);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

// ---------------------------------------------------------------------------------------------------------------
// The in-memory index.

/// Everything the log stream says, indexed for the port's reads.
#[derive(Debug, Default)]
struct Index {
    /// Log-stream revision of the next commit event (= commit events applied).
    next_revision: u64,
    /// Commit event id → the head before that commit.
    commit_ids: HashMap<Uuid, u64>,
    /// Events by position (the vector index is the position).
    events: Vec<StoredEvent>,
    by_id: HashMap<Uuid, u64>,
    /// Stream → version → position.
    streams: HashMap<String, BTreeMap<u64, u64>>,
    /// Signer → sequence number → position.
    signers: HashMap<String, BTreeMap<u64, u64>>,
    /// Complete nodes at levels ≥ 1.
    nodes: HashMap<NodeId, Hash>,
    checkpoints: BTreeMap<u64, StoredCheckpoint>,
    /// Keys in enrollment order.
    keys: Vec<StoredKey>,
    key_slots: HashMap<String, usize>,
}

impl Index {
    fn head(&self) -> u64 {
        self.events.len() as u64
    }

    fn event(&self, position: u64) -> Result<StoredEvent, StoreError> {
        usize::try_from(position)
            .ok()
            .and_then(|i| self.events.get(i))
            .cloned()
            .ok_or_else(|| StoreError::Corrupt(format!("index refers to missing position {position}")))
    }

    /// Checks that `commit` can follow the current state at `expected_head`: dense positions from the head and
    /// every uniqueness rule the SQL adapters enforce with constraints. Nothing is changed.
    fn check(&self, expected_head: u64, commit: &Commit) -> Result<(), String> {
        if expected_head != self.head() {
            return Err(format!("commit starts at {expected_head} but the head is {}", self.head()));
        }
        let mut ids = HashSet::new();
        let mut versions = HashSet::new();
        let mut seqs = HashSet::new();
        for (i, event) in commit.events.iter().enumerate() {
            let expected = expected_head.checked_add(i as u64).ok_or("position overflow")?;
            if event.position != expected {
                return Err(format!("event {} has position {}, expected {expected}", event.event_id, event.position));
            }
            if self.by_id.contains_key(&event.event_id) || !ids.insert(event.event_id) {
                return Err(format!("event id {} already stored", event.event_id));
            }
            let version_taken = self.streams.get(&event.stream).is_some_and(|v| v.contains_key(&event.stream_version));
            if version_taken || !versions.insert((event.stream.as_str(), event.stream_version)) {
                return Err(format!("stream {:?} already has version {}", event.stream, event.stream_version));
            }
            let seq_taken = self.signers.get(&event.signer).is_some_and(|s| s.contains_key(&event.signer_seq));
            if seq_taken || !seqs.insert((event.signer.as_str(), event.signer_seq)) {
                return Err(format!("signer {} already has sequence number {}", event.signer, event.signer_seq));
            }
        }
        let mut nodes = HashSet::new();
        for (id, _) in &commit.nodes {
            if id.level == 0 || id.level >= 64 {
                return Err(format!("Merkle node (level {}, index {}) has an invalid level", id.level, id.index));
            }
            if self.nodes.contains_key(id) || !nodes.insert(*id) {
                return Err(format!("Merkle node (level {}, index {}) already stored", id.level, id.index));
            }
        }
        let mut keys = HashSet::new();
        for key in &commit.new_keys {
            if self.key_slots.contains_key(&key.key_id) || !keys.insert(key.key_id.as_str()) {
                return Err(format!("key {} already enrolled", key.key_id));
            }
        }
        for (key_id, _) in &commit.revocations {
            if !self.key_slots.contains_key(key_id) && !keys.contains(key_id.as_str()) {
                return Err(format!("revocation of unknown key {key_id}"));
            }
        }
        if let Some(checkpoint) = &commit.checkpoint
            && self.checkpoints.contains_key(&checkpoint.size)
        {
            return Err(format!("a checkpoint of size {} is already stored", checkpoint.size));
        }
        Ok(())
    }

    /// Applies a commit that passed [`Index::check`] (does not touch `next_revision`).
    fn apply(&mut self, id: Uuid, head_before: u64, commit: &Commit) {
        self.commit_ids.insert(id, head_before);
        for event in &commit.events {
            self.by_id.insert(event.event_id, event.position);
            self.streams.entry(event.stream.clone()).or_default().insert(event.stream_version, event.position);
            self.signers.entry(event.signer.clone()).or_default().insert(event.signer_seq, event.position);
            self.events.push(event.clone());
        }
        self.nodes.extend(commit.nodes.iter().copied());
        for key in &commit.new_keys {
            self.key_slots.insert(key.key_id.clone(), self.keys.len());
            self.keys.push(key.clone());
        }
        for (key_id, revoked_at) in &commit.revocations {
            if let Some(key) = self.key_slots.get(key_id).and_then(|slot| self.keys.get_mut(*slot)) {
                key.revoked_at = Some(revoked_at.clone());
            }
        }
        if let Some(checkpoint) = &commit.checkpoint {
            self.checkpoints.insert(checkpoint.size, checkpoint.clone());
        }
    }

    /// Validates and applies one event read from the log stream; any mismatch is [`StoreError::Corrupt`].
    fn apply_recorded(
        &mut self,
        log_stream: &str,
        revision: u64,
        id: Uuid,
        event_type: &str,
        data: &[u8],
    ) -> Result<(), StoreError> {
        let corrupt =
            |what: String| StoreError::Corrupt(format!("log stream {log_stream}, revision {revision}: {what}"));
        if revision != self.next_revision {
            return Err(corrupt(format!("expected revision {} (was the stream truncated?)", self.next_revision)));
        }
        if event_type != COMMIT_EVENT_TYPE {
            return Err(corrupt(format!("unexpected event type {event_type:?}")));
        }
        if commit_id(data) != id {
            return Err(corrupt(format!("event id {id} does not match the commit body")));
        }
        let body: CommitBody =
            serde_json::from_slice(data).map_err(|e| corrupt(format!("undecodable commit body: {e}")))?;
        let first_position = body.first_position;
        let commit = body.decode().map_err(corrupt)?;
        self.check(first_position, &commit).map_err(corrupt)?;
        self.apply(id, first_position, &commit);
        self.next_revision = revision + 1;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The JSON commit body (format 1). Field names are part of the stored format: change them only with a new format.

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CommitBody {
    format: u32,
    first_position: u64,
    events: Vec<EventBody>,
    nodes: Vec<NodeBody>,
    new_keys: Vec<KeyBody>,
    revocations: Vec<RevocationBody>,
    checkpoint: Option<CheckpointBody>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventBody {
    position: u64,
    stream: String,
    stream_version: u64,
    event_id: Uuid,
    kind: String,
    signer: String,
    signer_seq: u64,
    occurred_at: String,
    /// RFC 3339, UTC.
    recorded_at: String,
    /// Standard base64 (with padding).
    leaf: String,
    /// Lowercase hex.
    leaf_hash: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeBody {
    level: u8,
    index: u64,
    hash: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyBody {
    key_id: String,
    public_key: String,
    /// `"sm2"` for an SM2 key; absent for Ed25519 (bodies written before SM2 keys existed have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    alg: Option<String>,
    /// An SM2 key's declared signer identity; absent for the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sm2_id: Option<String>,
    subject: String,
    role: String,
    valid_from: String,
    valid_until: Option<String>,
    enrolled_by: Uuid,
    enrolled_at: u64,
    revoked_at: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RevocationBody {
    key_id: String,
    revoked_at: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckpointBody {
    size: u64,
    root: String,
    note: String,
    created_at: String,
}

impl CommitBody {
    fn encode(first_position: u64, commit: &Commit) -> Result<CommitBody, String> {
        let events = commit
            .events
            .iter()
            .map(|e| {
                Ok(EventBody {
                    position: e.position,
                    stream: e.stream.clone(),
                    stream_version: e.stream_version,
                    event_id: e.event_id,
                    kind: e.kind.clone(),
                    signer: e.signer.clone(),
                    signer_seq: e.signer_seq,
                    occurred_at: e.occurred_at.clone(),
                    recorded_at: format_time(e.recorded_at)?,
                    leaf: BASE64.encode(&e.leaf),
                    leaf_hash: hex::encode(e.leaf_hash),
                })
            })
            .collect::<Result<_, String>>()?;
        let checkpoint = match &commit.checkpoint {
            Some(c) => Some(CheckpointBody {
                size: c.size,
                root: hex::encode(c.root),
                note: c.note.clone(),
                created_at: format_time(c.created_at)?,
            }),
            None => None,
        };
        Ok(CommitBody {
            format: BODY_FORMAT,
            first_position,
            events,
            nodes: commit
                .nodes
                .iter()
                .map(|(id, hash)| NodeBody { level: id.level, index: id.index, hash: hex::encode(hash) })
                .collect(),
            new_keys: commit
                .new_keys
                .iter()
                .map(|k| KeyBody {
                    key_id: k.key_id.clone(),
                    public_key: hex::encode(&k.public_key),
                    alg: (k.alg == KeyAlgorithm::Sm2).then(|| k.alg.as_str().to_owned()),
                    sm2_id: k.sm2_id.clone(),
                    subject: k.subject.clone(),
                    role: k.role.clone(),
                    valid_from: k.valid_from.clone(),
                    valid_until: k.valid_until.clone(),
                    enrolled_by: k.enrolled_by,
                    enrolled_at: k.enrolled_at,
                    revoked_at: k.revoked_at.clone(),
                })
                .collect(),
            revocations: commit
                .revocations
                .iter()
                .map(|(key_id, revoked_at)| RevocationBody { key_id: key_id.clone(), revoked_at: revoked_at.clone() })
                .collect(),
            checkpoint,
        })
    }

    fn decode(self) -> Result<Commit, String> {
        if self.format != BODY_FORMAT {
            return Err(format!("unsupported commit body format {}", self.format));
        }
        let events = self
            .events
            .into_iter()
            .map(|e| {
                Ok(StoredEvent {
                    position: e.position,
                    leaf: BASE64
                        .decode(&e.leaf)
                        .map_err(|err| format!("event at position {}: leaf is not base64: {err}", e.position))?,
                    leaf_hash: parse_hash(&e.leaf_hash, "leaf hash")?,
                    recorded_at: parse_time(&e.recorded_at, "recorded_at")?,
                    stream: e.stream,
                    stream_version: e.stream_version,
                    event_id: e.event_id,
                    kind: e.kind,
                    signer: e.signer,
                    signer_seq: e.signer_seq,
                    occurred_at: e.occurred_at,
                })
            })
            .collect::<Result<_, String>>()?;
        let nodes = self
            .nodes
            .into_iter()
            .map(|n| Ok((NodeId::new(n.level, n.index), parse_hash(&n.hash, "node hash")?)))
            .collect::<Result<_, String>>()?;
        let new_keys = self
            .new_keys
            .into_iter()
            .map(|k| {
                let alg = match k.alg.as_deref() {
                    None => KeyAlgorithm::Ed25519,
                    Some(a) => KeyAlgorithm::parse(a).map_err(|e| format!("key {}: {e}", k.key_id))?,
                };
                let public_key = hex::decode(&k.public_key)
                    .map_err(|e| format!("public key {:?} of key {} is not hex: {e}", k.public_key, k.key_id))?;
                Ok(StoredKey {
                    public_key,
                    alg,
                    sm2_id: k.sm2_id,
                    key_id: k.key_id,
                    subject: k.subject,
                    role: k.role,
                    valid_from: k.valid_from,
                    valid_until: k.valid_until,
                    enrolled_by: k.enrolled_by,
                    enrolled_at: k.enrolled_at,
                    revoked_at: k.revoked_at,
                })
            })
            .collect::<Result<_, String>>()?;
        let checkpoint = match self.checkpoint {
            Some(c) => Some(StoredCheckpoint {
                size: c.size,
                root: parse_hash(&c.root, "checkpoint root")?,
                created_at: parse_time(&c.created_at, "checkpoint created_at")?,
                note: c.note,
            }),
            None => None,
        };
        Ok(Commit {
            events,
            nodes,
            new_keys,
            revocations: self.revocations.into_iter().map(|r| (r.key_id, r.revoked_at)).collect(),
            checkpoint,
        })
    }
}

fn format_time(t: OffsetDateTime) -> Result<String, String> {
    t.to_offset(UtcOffset::UTC).format(&Rfc3339).map_err(|e| format!("cannot encode timestamp {t}: {e}"))
}

fn parse_time(s: &str, what: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s, &Rfc3339).map_err(|e| format!("{what} {s:?} is not RFC 3339: {e}"))
}

fn parse_hash(s: &str, what: &str) -> Result<[u8; 32], String> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).map_err(|e| format!("{what} {s:?} is not 32 bytes of hex: {e}"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    //! Offline tests of the body codec, the commit id and the index; the server contract tests live in
    //! `tests/ledger/kurrent.rs` and need `KURRENTDB_URL`.

    use super::*;

    fn event(position: u64, stream: &str, version: u64, signer: &str, seq: u64) -> StoredEvent {
        let leaf = format!("leaf-{position}").into_bytes();
        StoredEvent {
            position,
            stream: stream.to_owned(),
            stream_version: version,
            event_id: Uuid::now_v7(),
            kind: "site.inspection.v1".to_owned(),
            signer: signer.to_owned(),
            signer_seq: seq,
            occurred_at: "2026-11-24T10:00:00Z".to_owned(),
            recorded_at: OffsetDateTime::from_unix_timestamp_nanos(1_795_000_000_123_456_000).expect("valid time"),
            leaf_hash: leaf_hash(&leaf),
            leaf,
        }
    }

    fn sample_commit() -> Commit {
        let events = vec![event(0, "site-1", 0, "aa", 0), event(1, "site-1", 1, "aa", 1)];
        let node = siteledger_signer::merkle::node_hash(&events[0].leaf_hash, &events[1].leaf_hash);
        Commit {
            nodes: vec![(NodeId::new(1, 0), node)],
            new_keys: vec![StoredKey {
                key_id: "0123456789abcdef0123456789abcdef".to_owned(),
                public_key: vec![7; 32],
                alg: KeyAlgorithm::Ed25519,
                sm2_id: None,
                subject: "gateway-1".to_owned(),
                role: "device".to_owned(),
                valid_from: "2026-01-01T00:00:00Z".to_owned(),
                valid_until: None,
                enrolled_by: events[0].event_id,
                enrolled_at: 0,
                revoked_at: None,
            }],
            revocations: vec![("0123456789abcdef0123456789abcdef".to_owned(), "2026-11-24T11:00:00Z".to_owned())],
            checkpoint: Some(StoredCheckpoint {
                size: 2,
                root: node,
                note: "example.invalid/log\n2\nroot\n\n— sig\n".to_owned(),
                created_at: OffsetDateTime::from_unix_timestamp(1_795_000_001).expect("valid time"),
            }),
            events,
        }
    }

    #[test]
    fn body_round_trips_exactly() {
        let commit = sample_commit();
        let bytes = serde_json::to_vec(&CommitBody::encode(0, &commit).expect("encodes")).expect("serialises");
        let body: CommitBody = serde_json::from_slice(&bytes).expect("parses");
        assert_eq!(body.first_position, 0);
        assert_eq!(body.decode().expect("decodes"), commit);
    }

    #[test]
    fn event_data_json_stores_the_bytes_the_id_is_derived_from() {
        let body = CommitBody::encode(0, &sample_commit()).expect("encodes");
        let ours = serde_json::to_vec(&body).expect("serialises");
        assert_eq!(serde_json::to_vec(&body).expect("serialises"), ours, "serialisation is deterministic");
    }

    #[test]
    fn commit_id_depends_on_content_not_only_position() {
        let a = sample_commit();
        let mut b = sample_commit();
        b.events[1].leaf = b"another leaf".to_vec();
        let id =
            |c: &Commit| commit_id(&serde_json::to_vec(&CommitBody::encode(0, c).expect("encodes")).expect("json"));
        assert_eq!(id(&a), id(&a));
        assert_ne!(id(&a), id(&b));
        assert_eq!(id(&a).get_version_num(), 8);
    }

    #[test]
    fn replay_applies_and_validates_log_events() {
        let commit = sample_commit();
        let bytes = serde_json::to_vec(&CommitBody::encode(0, &commit).expect("encodes")).expect("json");
        let id = commit_id(&bytes);
        let mut index = Index::default();
        index.apply_recorded("log", 0, id, COMMIT_EVENT_TYPE, &bytes).expect("applies");
        assert_eq!(index.head(), 2);
        assert_eq!(index.next_revision, 1);
        assert_eq!(index.commit_ids.get(&id), Some(&0));
        assert_eq!(index.keys[0].revoked_at.as_deref(), Some("2026-11-24T11:00:00Z"));
        assert_eq!(index.checkpoints.len(), 1);

        // The same event again is at the wrong revision; at the right revision its content conflicts.
        assert!(matches!(index.apply_recorded("log", 0, id, COMMIT_EVENT_TYPE, &bytes), Err(StoreError::Corrupt(_))));
        assert!(matches!(index.apply_recorded("log", 1, id, COMMIT_EVENT_TYPE, &bytes), Err(StoreError::Corrupt(_))));
        // A foreign event type or an id that does not match the body is corruption.
        assert!(matches!(index.apply_recorded("log", 1, id, "other", &bytes), Err(StoreError::Corrupt(_))));
        assert!(matches!(
            index.apply_recorded("log", 1, Uuid::now_v7(), COMMIT_EVENT_TYPE, &bytes),
            Err(StoreError::Corrupt(_))
        ));
        assert_eq!(index.next_revision, 1, "failed events leave the index untouched");
    }

    #[test]
    fn check_enforces_density_and_uniqueness() {
        let mut index = Index::default();
        let commit = sample_commit();
        index.check(0, &commit).expect("valid");
        index.apply(Uuid::now_v7(), 0, &commit);

        let gap = Commit { events: vec![event(3, "site-2", 0, "bb", 0)], ..Commit::default() };
        assert!(index.check(2, &gap).is_err(), "positions must continue from the head");
        let dup_version = Commit { events: vec![event(2, "site-1", 1, "bb", 0)], ..Commit::default() };
        assert!(index.check(2, &dup_version).is_err());
        let dup_seq = Commit { events: vec![event(2, "site-2", 0, "aa", 1)], ..Commit::default() };
        assert!(index.check(2, &dup_seq).is_err());
        let mut dup_id = Commit { events: vec![event(2, "site-2", 0, "bb", 0)], ..Commit::default() };
        dup_id.events[0].event_id = commit.events[0].event_id;
        assert!(index.check(2, &dup_id).is_err());
        let dup_node = Commit { nodes: vec![(NodeId::new(1, 0), [0; 32])], ..Commit::default() };
        assert!(index.check(2, &dup_node).is_err());
        let dup_checkpoint = Commit { checkpoint: commit.checkpoint.clone(), ..Commit::default() };
        assert!(index.check(2, &dup_checkpoint).is_err());
        let unknown_revocation = Commit { revocations: vec![("ff".to_owned(), "x".to_owned())], ..Commit::default() };
        assert!(index.check(2, &unknown_revocation).is_err());
        let fine = Commit { events: vec![event(2, "site-2", 0, "bb", 0)], ..Commit::default() };
        index.check(2, &fine).expect("valid");
    }

    #[test]
    fn bad_hex_and_base64_are_reported_not_panicked() {
        let mut body = CommitBody::encode(0, &sample_commit()).expect("encodes");
        body.events[0].leaf_hash = "zz".to_owned();
        assert!(body.decode().is_err());
        let mut body = CommitBody::encode(0, &sample_commit()).expect("encodes");
        body.events[0].leaf = "***".to_owned();
        assert!(body.decode().is_err());
        let mut body = CommitBody::encode(0, &sample_commit()).expect("encodes");
        body.format = 2;
        assert!(body.decode().is_err());
    }
}
