//! The sequencer: the ledger's single writer, and [`Ledger`], its cloneable handle.
//!
//! Ingest path for each record: decode (caller) → the kind is not reserved to the log (`ledger.*` other than key
//! enrolment and revocation) → the signer key is enrolled → signature (batch-verified before the sequencer, on
//! the caller's task, so both cores work) → `occurred_at` is not ahead of the platform clock by more than the
//! allowed skew → the key is valid at `occurred_at` → the policy's verdict (one parse of the payload; what it parsed
//! is handed back to the policy's fold when the record is accepted, never parsed again) → the signer's chain
//! continues (`seq`/`prev`) → position and stream version → Merkle leaf → commit.
//!
//! Group commit: the sequencer task takes every request waiting in its queue (up to `max_batch_events`), decides
//! them all in memory, writes one [`Commit`] (one transaction, one fsync), and only then answers. A request is
//! acknowledged only after its commit is durable. If the commit fails, every request in it gets an error and the
//! sequencer reloads its state from the store, so nothing half-decided survives.
//!
//! Pipelined commits ([`LedgerConfig::pipeline_commits`]): while the store writes group N, the sequencer decides
//! group N + 1 against its state plus group N (the sealed group: its heads, keys, ids and chain links), and the
//! policy keeps N + 1 apart from N ([`Policy::seal`]). Group N + 1's commit is built and sent only once N's has
//! returned, so commits stay in order, one at a time. If N's commit fails, N + 1's decisions are dropped with N's
//! and both groups are decided again from the store, one at a time. A group is not pipelined behind a checkpoint
//! that takes a policy snapshot, nor when another writer shares the store and appended in between.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::Stream;
use siteledger_signer::bundle::{
    BUNDLE_FORMAT, Bundle, BundleConsistency, BundleKey, BundleRecord, KeyEnrollment, signer_bundle_key,
};
use siteledger_signer::keys::{KeyId, PublicKey, SignatureError, SignerBatchItem, SignerKey, verify_signer_batch};
use siteledger_signer::merkle::{Frontier, Hash, NodeId, ProofPlan};
use siteledger_signer::note::{Checkpoint, NoteSigner, NoteVerifier};
use siteledger_signer::{Envelope, SigningKey, UnsignedEnvelope};
use time::{OffsetDateTime, UtcOffset};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use uuid::Uuid;

use crate::error::{AppendError, ExpectedVersion, LedgerError, Rejection};
use crate::snapshot;
use crate::store::{Commit, Direction, EventStore, StoreError, StoredCheckpoint, StoredEvent, StoredKey};
use crate::system::{
    Admitted, EQUIVOCATION_KIND, Equivocation, KEY_ENROLLED_KIND, KEY_REVOKED_KIND, KeyRevocation, OpenPolicy, Policy,
    Record, SIGNER_GAP_KIND, SYSTEM_ROLE, SignerGap, payload, reserved_kind,
};

/// Default of [`LedgerConfig::max_clock_skew`]: device clocks drift (the gateway agent reports its skew in
/// `gateway.heartbeat.v1`), so a record may be dated a little ahead of the platform, but not more.
pub const DEFAULT_MAX_CLOCK_SKEW: Duration = Duration::from_secs(10 * 60);

/// A source of the current time (injected so tests need no sleeps).
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// Configuration of a ledger instance.
pub struct LedgerConfig {
    /// Signs checkpoints; its key name is the log origin.
    pub log_signer: NoteSigner,
    /// Signs the ledger's own records (genesis, gaps, equivocations).
    pub system_key: SigningKey,
    /// Keys allowed to enrol themselves (roots of trust), besides the system key.
    pub trust_roots: Vec<PublicKey>,
    /// Keys the system key enrols when the ledger opens, unless already enrolled (the platform's own service keys,
    /// e.g. the API's vault-audit key of role `platform`). Each passes the policy's `may_enroll` like any enrolment.
    pub system_enrolments: Vec<KeyEnrollment>,
    /// Publish a checkpoint after this many new events …
    pub checkpoint_every: u64,
    /// … or this long after the first event not yet covered, whichever comes first.
    pub checkpoint_interval: Duration,
    /// Upper bound on events per group commit.
    pub max_batch_events: usize,
    /// Domain rules.
    pub policy: Arc<dyn Policy>,
    /// Wall clock for `recorded_at`, checkpoint times and the future-date check.
    pub clock: Clock,
    /// A record whose `occurred_at` is later than the clock plus this is refused (`future_occurred_at`): one
    /// record dated far ahead would otherwise become every "latest" and "as of" derived from the log.
    pub max_clock_skew: Duration,
    /// Store a snapshot of the policy's state with the first checkpoint at least this many records after the last
    /// one (0: never), so opening the ledger replays only the records after it ([`crate::snapshot`]).
    pub snapshot_every: u64,
    /// A large state is snapshotted less often: the next snapshot comes at least (the last one's bytes ÷ this)
    /// records after it, so snapshot writes cost at most about this many bytes per record committed, and the
    /// sequencer's pause to serialise and store them stays a small share of its time (0: only `snapshot_every`).
    /// A city-size state (≈ 19 MB) is written every ≈ 75,000 records instead of every 16,384.
    pub snapshot_bytes_per_record: u64,
    /// How many snapshots the store keeps (the newest ones; older rows are deleted as new ones are written).
    pub snapshots_kept: usize,
    /// Ignore stored snapshots when opening and replay the whole log into the policy (the check an auditor or an
    /// operator can ask for; snapshots are still written).
    pub replay_from_zero: bool,
    /// Decide the next group while the store commits the last one (on by default): the decisions of a group take
    /// about a quarter of the sequencer's time per record and the store's commit the rest, so overlapping them
    /// lets ingest use both cores. Nothing is answered before its own commit is durable, and if a commit fails the
    /// group decided on top of it is decided again. `false`: one group at a time.
    pub pipeline_commits: bool,
}

/// Default of [`LedgerConfig::snapshot_every`].
pub const DEFAULT_SNAPSHOT_EVERY: u64 = 16_384;
/// Default of [`LedgerConfig::snapshot_bytes_per_record`].
pub const DEFAULT_SNAPSHOT_BYTES_PER_RECORD: u64 = 256;
/// Default of [`LedgerConfig::snapshots_kept`].
pub const DEFAULT_SNAPSHOTS_KEPT: usize = 3;

impl LedgerConfig {
    /// A configuration with the default policy and limits.
    pub fn new(log_signer: NoteSigner, system_key: SigningKey) -> LedgerConfig {
        LedgerConfig {
            log_signer,
            system_key,
            trust_roots: Vec::new(),
            system_enrolments: Vec::new(),
            checkpoint_every: 4096,
            checkpoint_interval: Duration::from_secs(1),
            max_batch_events: 8192,
            policy: Arc::new(OpenPolicy),
            clock: Arc::new(OffsetDateTime::now_utc),
            max_clock_skew: DEFAULT_MAX_CLOCK_SKEW,
            snapshot_every: DEFAULT_SNAPSHOT_EVERY,
            snapshot_bytes_per_record: DEFAULT_SNAPSHOT_BYTES_PER_RECORD,
            snapshots_kept: DEFAULT_SNAPSHOTS_KEPT,
            replay_from_zero: false,
            pipeline_commits: true,
        }
    }
}

impl std::fmt::Debug for LedgerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerConfig")
            .field("log", &self.log_signer.name())
            .field("system_key", &self.system_key.key_id())
            .field("checkpoint_every", &self.checkpoint_every)
            .field("checkpoint_interval", &self.checkpoint_interval)
            .field("max_clock_skew", &self.max_clock_skew)
            .field("snapshot_every", &self.snapshot_every)
            .field("snapshot_bytes_per_record", &self.snapshot_bytes_per_record)
            .field("snapshots_kept", &self.snapshots_kept)
            .field("replay_from_zero", &self.replay_from_zero)
            .field("pipeline_commits", &self.pipeline_commits)
            .finish_non_exhaustive()
    }
}

/// The answer for one ingested record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestOutcome {
    /// Newly appended at this position.
    Accepted {
        /// Log position.
        position: u64,
    },
    /// Already in the log (same event id, same bytes) at this position.
    Duplicate {
        /// Log position.
        position: u64,
    },
    /// Refused.
    Rejected(Rejection),
}

/// Counters exported as metrics.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LedgerStats {
    /// Records appended (including the ledger's own).
    pub accepted: u64,
    /// Duplicates answered idempotently.
    pub duplicates: u64,
    /// Rejections by code.
    pub rejections: HashMap<&'static str, u64>,
    /// Group commits written.
    pub commits: u64,
    /// Checkpoints signed.
    pub checkpoints: u64,
    /// Policy snapshots stored.
    pub snapshots: u64,
    /// Where the policy's replay at open started: the size of the snapshot restored, or 0 (from zero).
    pub replayed_from: u64,
    /// Log rows the policy's replay at open read (the start-up cost that grows with the log).
    pub replay_rows_read: u64,
    /// Groups decided while the store was committing the group before ([`LedgerConfig::pipeline_commits`]).
    pub pipelined: u64,
}

struct Shared<S> {
    store: S,
    verifier: NoteVerifier,
    origin: String,
    /// Public keys by key id, for signature checks before the sequencer (a key id is a hash of its key, so an
    /// entry never changes meaning).
    public_keys: RwLock<HashMap<String, SignerKey>>,
    /// Revocation times by key id, as this instance last loaded or committed them: a cheap per-request check of
    /// whether a key still stands ([`Ledger::revoked_at`]). A revocation is never undone, so an entry never goes stale.
    revoked: RwLock<HashMap<String, String>>,
    stats: RwLock<LedgerStats>,
    verifiers: crate::verifiers::Verifiers,
}

/// A handle to a running ledger. Cheap to clone.
pub struct Ledger<S> {
    shared: Arc<Shared<S>>,
    requests: mpsc::Sender<Request>,
    head: watch::Receiver<u64>,
}

impl<S> Clone for Ledger<S> {
    fn clone(&self) -> Self {
        Ledger { shared: Arc::clone(&self.shared), requests: self.requests.clone(), head: self.head.clone() }
    }
}

impl<S> std::fmt::Debug for Ledger<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").field("origin", &self.shared.origin).field("head", &*self.head.borrow()).finish()
    }
}

struct Item {
    env: Envelope,
    /// Result of the pre-check, when the key was known before the sequencer saw the record.
    sig: Option<Result<(), SignatureError>>,
}

enum Request {
    Ingest {
        items: Vec<Item>,
        reply: oneshot::Sender<Result<Vec<IngestOutcome>, LedgerError>>,
    },
    Append {
        stream: String,
        expected: ExpectedVersion,
        items: Vec<Item>,
        reply: oneshot::Sender<Result<Vec<u64>, AppendError>>,
    },
    Checkpoint {
        reply: oneshot::Sender<Result<StoredCheckpoint, LedgerError>>,
    },
}

impl Request {
    fn len(&self) -> usize {
        match self {
            Request::Ingest { items, .. } | Request::Append { items, .. } => items.len(),
            Request::Checkpoint { .. } => 0,
        }
    }
}

impl<S: EventStore> Ledger<S> {
    /// Opens the ledger on `store`: loads its state (writing the genesis record into an empty log) and starts the
    /// sequencer task. Requires a Tokio runtime.
    pub async fn open(store: S, config: LedgerConfig) -> Result<Ledger<S>, LedgerError> {
        let verifier = config.log_signer.verifier();
        let origin = config.log_signer.name().to_owned();
        let shared = Arc::new(Shared {
            store,
            verifier,
            origin,
            public_keys: RwLock::new(HashMap::new()),
            revoked: RwLock::new(HashMap::new()),
            stats: RwLock::new(LedgerStats::default()),
            verifiers: crate::verifiers::Verifiers::start(),
        });
        let mut seq = Sequencer::load(Arc::clone(&shared), config).await?;
        if seq.config.policy.stateful() {
            // Rebuild the policy's state (e.g. the organisation registry the domain rules need): from the newest
            // usable snapshot, or from zero, then the records after it.
            let policy = seq.config.policy.as_ref();
            let head = seq.state.head;
            let from = if seq.config.replay_from_zero {
                tracing::info!(head, "replaying the whole log into the admission state, as configured");
                0
            } else {
                snapshot::restore_newest(&shared.store, policy, head, seq.config.snapshots_kept).await?
            };
            let keys = &seq.state.keys;
            let read =
                snapshot::replay(&shared.store, policy, |id| keys.get(id).map(|k| &*k.stored), from, head).await?;
            seq.last_snapshot = from;
            if let Ok(mut s) = shared.stats.write() {
                s.replayed_from = from;
                s.replay_rows_read = read;
            }
        }
        if seq.state.head == 0 {
            seq.genesis().await?;
        }
        seq.system_enrolments().await?;
        let (head_tx, head_rx) = watch::channel(seq.state.head);
        seq.head_tx = Some(head_tx);
        let (tx, rx) = mpsc::channel(1024);
        tokio::spawn(seq.run(rx));
        Ok(Ledger { shared, requests: tx, head: head_rx })
    }

    /// The underlying store (for reads the ledger does not wrap).
    pub fn store(&self) -> &S {
        &self.shared.store
    }

    /// The log's checkpoint verifier (its key string is what auditors pin).
    pub fn log_verifier(&self) -> &NoteVerifier {
        &self.shared.verifier
    }

    /// Number of records in the log as last committed by this instance.
    pub fn head(&self) -> u64 {
        *self.head.borrow()
    }

    /// A receiver that changes whenever the head advances.
    pub fn watch_head(&self) -> watch::Receiver<u64> {
        self.head.clone()
    }

    /// When the key `key_id` was revoked, if a revocation of it has been admitted (or loaded from the store) by
    /// this instance. An in-memory lookup, cheap enough to run on every request of a person's session.
    pub fn revoked_at(&self, key_id: &str) -> Option<String> {
        let revoked = match self.shared.revoked.read() {
            Ok(r) => r,
            Err(poisoned) => poisoned.into_inner(),
        };
        revoked.get(key_id).cloned()
    }

    /// Current counters.
    pub fn stats(&self) -> LedgerStats {
        self.shared.stats.read().map(|s| s.clone()).unwrap_or_default()
    }

    fn precheck(&self, envelopes: Vec<Envelope>) -> Vec<Item> {
        let keys = match self.shared.public_keys.read() {
            Ok(k) => k,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut items: Vec<Item> = Vec::with_capacity(envelopes.len());
        let mut batch_idx = Vec::new();
        let resolved: Vec<Option<SignerKey>> =
            envelopes.iter().map(|e| keys.get(&e.signer().to_string()).cloned()).collect();
        drop(keys);
        let mut batch = Vec::new();
        for (i, (env, key)) in envelopes.iter().zip(&resolved).enumerate() {
            if let Some(k) = key {
                batch.push(SignerBatchItem { key: k, message: env.signed_message(), signature: env.signature() });
                batch_idx.push(i);
            }
        }
        // Ed25519 signatures in one batch, SM2 ones one by one; results in input order.
        let results = verify_signer_batch(&batch);
        let mut sig: Vec<Option<Result<(), SignatureError>>> = vec![None; envelopes.len()];
        for (r, i) in results.into_iter().zip(batch_idx) {
            sig[i] = Some(r);
        }
        for (env, s) in envelopes.into_iter().zip(sig) {
            items.push(Item { env, sig: s });
        }
        items
    }

    async fn precheck_blocking(&self, envelopes: Vec<Envelope>) -> Vec<Item>
    where
        S: Send + Sync,
    {
        // Signature checks are CPU work: run them off the async workers, on the verifier threads, so the sequencer
        // keeps deciding and committing.
        let this = self.clone();
        // A panicked check yields no items, which the caller reports as the ledger being unavailable.
        self.shared.verifiers.run(move || this.precheck(envelopes)).await.unwrap_or_default()
    }

    /// Ingests records independently: each is accepted, answered as a duplicate, or rejected with a reason.
    /// `Err` only if the ledger could not commit (then nothing of this call was acknowledged).
    pub async fn ingest(&self, envelopes: Vec<Envelope>) -> Result<Vec<IngestOutcome>, LedgerError> {
        if envelopes.is_empty() {
            return Ok(Vec::new());
        }
        let n = envelopes.len();
        let items = self.precheck_blocking(envelopes).await;
        if items.len() != n {
            return Err(LedgerError::Closed);
        }
        let (reply, rx) = oneshot::channel();
        self.requests.send(Request::Ingest { items, reply }).await.map_err(|_| LedgerError::Closed)?;
        rx.await.map_err(|_| LedgerError::Closed)?
    }

    /// Appends a batch to one stream atomically, if the stream is at `expected`. Re-sending a batch that was
    /// already appended returns the same positions.
    pub async fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        envelopes: Vec<Envelope>,
    ) -> Result<Vec<u64>, AppendError> {
        if envelopes.is_empty() {
            return Ok(Vec::new());
        }
        let n = envelopes.len();
        let items = self.precheck_blocking(envelopes).await;
        if items.len() != n {
            return Err(LedgerError::Closed.into());
        }
        let (reply, rx) = oneshot::channel();
        self.requests
            .send(Request::Append { stream: stream.to_owned(), expected, items, reply })
            .await
            .map_err(|_| AppendError::Ledger(LedgerError::Closed))?;
        rx.await.map_err(|_| AppendError::Ledger(LedgerError::Closed))?
    }

    /// Signs and stores a checkpoint of the current tree now (if the latest one is older), and returns the latest.
    pub async fn checkpoint_now(&self) -> Result<StoredCheckpoint, LedgerError> {
        let (reply, rx) = oneshot::channel();
        self.requests.send(Request::Checkpoint { reply }).await.map_err(|_| LedgerError::Closed)?;
        rx.await.map_err(|_| LedgerError::Closed)?
    }

    /// Records from `from`, at most `limit`.
    pub async fn read_all(&self, from: u64, limit: usize) -> Result<Vec<StoredEvent>, LedgerError> {
        Ok(self.shared.store.read_all(from, limit).await?)
    }

    /// Records of one stream.
    pub async fn read_stream(
        &self,
        stream: &str,
        from: u64,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, LedgerError> {
        Ok(self.shared.store.read_stream(stream, from, direction, limit).await?)
    }

    /// A catch-up subscription from position `from`: every record in order, then live ones as they commit, with
    /// no gaps and no duplicates. Ends when the ledger shuts down.
    pub fn subscribe(&self, from: u64) -> impl Stream<Item = Result<StoredEvent, LedgerError>> + Send + 'static
    where
        S: Send + Sync,
    {
        struct St<S> {
            ledger: Ledger<S>,
            next: u64,
            buf: VecDeque<StoredEvent>,
            done: bool,
        }
        let st = St { ledger: self.clone(), next: from, buf: VecDeque::new(), done: false };
        futures::stream::unfold(st, |mut st| async move {
            loop {
                if st.done {
                    return None;
                }
                if let Some(e) = st.buf.pop_front() {
                    return Some((Ok(e), st));
                }
                let mut head_rx = st.ledger.head.clone();
                let head = *head_rx.borrow_and_update();
                if st.next < head {
                    match st.ledger.shared.store.read_all(st.next, 512).await {
                        Ok(events) => {
                            for e in events {
                                // Dense positions: anything else is a store bug, surfaced rather than skipped.
                                if e.position != st.next {
                                    st.done = true;
                                    let err = LedgerError::Store(crate::store::StoreError::Corrupt(format!(
                                        "expected position {}, read {}",
                                        st.next, e.position
                                    )));
                                    return Some((Err(err), st));
                                }
                                st.next += 1;
                                st.buf.push_back(e);
                            }
                            continue;
                        }
                        Err(e) => {
                            st.done = true;
                            return Some((Err(e.into()), st));
                        }
                    }
                }
                if head_rx.changed().await.is_err() {
                    return None;
                }
            }
        })
    }

    /// The newest signed checkpoint.
    pub async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, LedgerError> {
        Ok(self.shared.store.latest_checkpoint().await?)
    }

    /// Inclusion proof for `index` in the tree of `size` leaves (`size` ≤ head).
    pub async fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, LedgerError> {
        if size > self.head() {
            return Err(LedgerError::InvalidRequest(format!("tree size {size} exceeds the log size {}", self.head())));
        }
        let plan = ProofPlan::inclusion(index, size).map_err(|e| LedgerError::InvalidRequest(e.to_string()))?;
        let nodes = self.shared.store.read_nodes(&plan.nodes()).await?;
        plan.assemble(&nodes).map_err(|e| LedgerError::InvalidRequest(e.to_string()))
    }

    /// Consistency proof from `old` to `new` leaves (`new` ≤ head).
    pub async fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, LedgerError> {
        if new > self.head() {
            return Err(LedgerError::InvalidRequest(format!("tree size {new} exceeds the log size {}", self.head())));
        }
        let plan = ProofPlan::consistency(old, new).map_err(|e| LedgerError::InvalidRequest(e.to_string()))?;
        let nodes = self.shared.store.read_nodes(&plan.nodes()).await?;
        plan.assemble(&nodes).map_err(|e| LedgerError::InvalidRequest(e.to_string()))
    }

    /// Root hash of the first `size` leaves.
    pub async fn root_at(&self, size: u64) -> Result<Hash, LedgerError> {
        if size > self.head() {
            return Err(LedgerError::InvalidRequest(format!("tree size {size} exceeds the log size {}", self.head())));
        }
        let nodes = self.shared.store.read_nodes(&siteledger_signer::merkle::range_nodes(0, size)).await?;
        Ok(siteledger_signer::merkle::fold_range(&nodes))
    }

    /// An evidence bundle for these events (plus the enrollment records of their signers, transitively), proven
    /// into the latest checkpoint; with a consistency proof from `since` (an older checkpoint size) if given.
    pub async fn evidence_bundle(&self, event_ids: &[Uuid]) -> Result<Bundle, LedgerError> {
        let cp = match self.latest_checkpoint().await? {
            Some(cp) => cp,
            None => self.checkpoint_now().await?,
        };
        let mut cp = cp;
        let mut found = self.shared.store.events_by_id(event_ids).await?;
        if found.len() != event_ids.len() {
            let have: Vec<Uuid> = found.iter().map(|e| e.event_id).collect();
            let missing: Vec<String> = event_ids.iter().filter(|i| !have.contains(i)).map(|i| i.to_string()).collect();
            return Err(LedgerError::InvalidRequest(format!("no such event: {}", missing.join(", "))));
        }
        if found.iter().any(|e| e.position >= cp.size) {
            cp = self.checkpoint_now().await?;
        }
        // Add enrollment records of every signer, up to the roots.
        let keys = self.shared.store.keys().await?;
        let by_id: HashMap<&str, &StoredKey> = keys.iter().map(|k| (k.key_id.as_str(), k)).collect();
        let mut signers: Vec<String> = found.iter().map(|e| e.signer.clone()).collect();
        let mut key_entries: Vec<BundleKey> = Vec::new();
        let mut enrol_ids = Vec::new();
        while let Some(s) = signers.pop() {
            if key_entries.iter().any(|k| k.key_id == s) {
                continue;
            }
            let Some(k) = by_id.get(s.as_str()) else {
                return Err(LedgerError::Store(crate::store::StoreError::Corrupt(format!(
                    "signer {s} has no key row"
                ))));
            };
            let public =
                k.signer_key().map_err(|e| LedgerError::Store(crate::store::StoreError::Corrupt(e.to_string())))?;
            key_entries.push(signer_bundle_key(&public, Some(k.enrolled_by)));
            enrol_ids.push(k.enrolled_by);
            let enrol = self.shared.store.events_by_id(&[k.enrolled_by]).await?;
            for e in enrol {
                signers.push(e.signer.clone());
                if !found.iter().any(|f| f.event_id == e.event_id) {
                    found.push(e);
                }
            }
        }
        found.sort_by_key(|e| e.position);
        found.dedup_by_key(|e| e.position);
        let mut records = Vec::with_capacity(found.len());
        for e in &found {
            let proof = self.inclusion_proof(e.position, cp.size).await?;
            let env = Envelope::parse(&e.leaf)
                .map_err(|err| LedgerError::Store(crate::store::StoreError::Corrupt(err.to_string())))?;
            records.push(siteledger_signer::bundle::bundle_record(e.position, &env, &proof));
        }
        key_entries.sort_by(|a, b| a.key_id.cmp(&b.key_id));
        let mut bundle = Bundle {
            format: BUNDLE_FORMAT.to_owned(),
            log_key: self.shared.verifier.vkey(),
            checkpoint: cp.note,
            keys: key_entries,
            records,
            consistency: None,
            witnesses: None,
            timestamps: None,
        };
        // An SM2 signer makes it version 1.4 (docs/FORMAT.md §11); Ed25519-only bundles keep version 1.
        bundle.fit_key_format();
        Ok(bundle)
    }

    /// Adds a consistency proof from the bundle's checkpoint to the latest one.
    pub async fn extend_bundle(&self, mut bundle: Bundle) -> Result<Bundle, LedgerError> {
        let old = Checkpoint::open(&bundle.checkpoint, &self.shared.verifier, true)
            .map_err(|e| LedgerError::InvalidRequest(e.to_string()))?;
        let Some(newer) = self.latest_checkpoint().await? else {
            return Ok(bundle);
        };
        if newer.size > old.size {
            let proof = self.consistency_proof(old.size, newer.size).await?;
            bundle.consistency = Some(BundleConsistency {
                checkpoint: newer.note,
                hashes: proof
                    .iter()
                    .map(|h| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, h))
                    .collect(),
            });
        }
        Ok(bundle)
    }

    /// Bundle record for one stored event (helper for API layers).
    pub fn bundle_record(event: &StoredEvent, inclusion: &[Hash]) -> Result<BundleRecord, LedgerError> {
        let env = Envelope::parse(&event.leaf)
            .map_err(|e| LedgerError::Store(crate::store::StoreError::Corrupt(e.to_string())))?;
        Ok(siteledger_signer::bundle::bundle_record(event.position, &env, inclusion))
    }
}

/// A key as the sequencer holds it. The stored row is shared, not copied: every record looks its signer up, and a
/// copy of the row's strings per record was a measurable part of the sequencer's time (BENCHMARKS.md, "ledger").
#[derive(Debug, Clone)]
struct KeyEntry {
    stored: Arc<StoredKey>,
    public: SignerKey,
}

/// Sequencer state. Everything here is also derivable from the store; [`Sequencer::load`] rebuilds it.
#[derive(Debug, Clone)]
struct State {
    head: u64,
    frontier: Frontier,
    keys: HashMap<String, KeyEntry>,
    /// Cached signer heads: key id → (seq, leaf hash) of the highest sequence number.
    signer_heads: HashMap<String, Option<(u64, Hash)>>,
    /// Cached stream heads: stream → last version.
    stream_heads: HashMap<String, Option<u64>>,
    last_checkpoint_size: u64,
    /// When the oldest record not covered by a checkpoint was committed.
    uncovered_since: Option<Instant>,
    system_seq: u64,
    system_prev: Option<Hash>,
}

/// The group whose commit the store is running while the next one is decided: what the next group's decisions
/// need to see of it (like [`Pending`]'s overlays), and what to fold into the [`State`] once it is durable.
struct Sealed {
    commit: Arc<Commit>,
    /// Index into `commit.events` by event id and by (signer, seq), and each event's `prev`.
    by_id: HashMap<Uuid, usize>,
    by_signer_seq: HashMap<(KeyId, u64), usize>,
    prevs: Vec<Option<Hash>>,
    fold: Fold,
}

/// A decided group's lookups, kept while it is sealed: index into its events by event id and by (signer, seq), and
/// each event's `prev`.
type Lookups = (HashMap<Uuid, usize>, HashMap<(KeyId, u64), usize>, Vec<Option<Hash>>);

/// A group's changes to the cached [`State`] besides its rows: what a committed group folds into it, and what a
/// savepoint inside a group restores.
struct Fold {
    frontier: Frontier,
    signer_heads: HashMap<String, Option<(u64, Hash)>>,
    stream_heads: HashMap<String, Option<u64>>,
    keys: HashMap<String, KeyEntry>,
    system_seq: u64,
    system_prev: Option<Hash>,
}

/// A sealed group's requests, waiting for its commit.
struct Flight {
    done: tokio::task::JoinHandle<Result<(), StoreError>>,
    bodies: Vec<Body>,
    senders: Vec<Sender>,
    answers: Vec<Answer>,
    accepted: u64,
}

/// A group decided and not yet committed.
struct DecidedGroup {
    pending: Pending,
    answers: Vec<Answer>,
    force_checkpoint: bool,
}

struct Sequencer<S> {
    shared: Arc<Shared<S>>,
    config: LedgerConfig,
    state: State,
    /// The group the store is committing while the next one is decided (pipelined commits).
    sealed: Option<Sealed>,
    head_tx: Option<watch::Sender<u64>>,
    /// Stored events whose ids appear in the current group (prefetched once per group).
    existing: HashMap<Uuid, StoredEvent>,
    /// Tree size of the last policy snapshot restored or written (0: none).
    last_snapshot: u64,
    /// Records the last snapshot's size asks for before the next (its bytes ÷
    /// [`LedgerConfig::snapshot_bytes_per_record`]; 0 before the first); never fewer than `snapshot_every` are waited.
    snapshot_gap: u64,
    /// The system key's id in hex, compared with every pushed record's signer (computing it is a SHA-256).
    system_key_id: String,
}

/// Work in progress for one group commit: the events decided so far and overlays on the cached state.
struct Pending {
    events: Vec<StoredEvent>,
    /// `prev` of each event in `events` (same index), so chain checks inside the group need not parse a leaf.
    prevs: Vec<Option<Hash>>,
    /// What the policy parsed for the group's accepted records (index into `events`), kept so that a rollback
    /// inside the group can fold them again without parsing (only when the policy keeps state).
    folded: Vec<(usize, Admitted)>,
    nodes: Vec<(NodeId, Hash)>,
    new_keys: Vec<StoredKey>,
    revocations: Vec<(String, String)>,
    /// The tree with the group's leaves; its size is the group's head.
    frontier: Frontier,
    by_id: HashMap<Uuid, usize>,
    /// Keyed by the signer's binary key id: no string copied per record.
    by_signer_seq: HashMap<(KeyId, u64), usize>,
    signer_heads: HashMap<String, Option<(u64, Hash)>>,
    stream_heads: HashMap<String, Option<u64>>,
    keys: HashMap<String, KeyEntry>,
    system_seq: u64,
    system_prev: Option<Hash>,
}

impl Pending {
    /// The log size once this group is committed.
    fn head(&self) -> u64 {
        self.frontier.size()
    }

    fn savepoint(&self) -> Savepoint {
        Savepoint {
            events: self.events.len(),
            folded: self.folded.len(),
            nodes: self.nodes.len(),
            new_keys: self.new_keys.len(),
            revocations: self.revocations.len(),
            overlay: Fold {
                frontier: self.frontier.clone(),
                signer_heads: self.signer_heads.clone(),
                stream_heads: self.stream_heads.clone(),
                keys: self.keys.clone(),
                system_seq: self.system_seq,
                system_prev: self.system_prev,
            },
        }
    }

    fn rollback(&mut self, sp: Savepoint) {
        for e in self.events.drain(sp.events..) {
            self.by_id.remove(&e.event_id);
            // Every pending record's signer came from an envelope, so its hex parses back.
            if let Ok(key) = KeyId::parse(&e.signer) {
                self.by_signer_seq.remove(&(key, e.signer_seq));
            }
        }
        self.prevs.truncate(sp.events);
        self.folded.truncate(sp.folded);
        self.nodes.truncate(sp.nodes);
        self.new_keys.truncate(sp.new_keys);
        self.revocations.truncate(sp.revocations);
        let Fold { frontier, signer_heads, stream_heads, keys, system_seq, system_prev } = sp.overlay;
        self.frontier = frontier;
        self.signer_heads = signer_heads;
        self.stream_heads = stream_heads;
        self.keys = keys;
        self.system_seq = system_seq;
        self.system_prev = system_prev;
    }
}

struct Savepoint {
    events: usize,
    folded: usize,
    nodes: usize,
    new_keys: usize,
    revocations: usize,
    overlay: Fold,
}

/// Outcome of deciding one record inside a group.
enum Decided {
    Accepted(u64),
    Duplicate(u64),
    Rejected(Rejection),
}

impl<S: EventStore> Sequencer<S> {
    async fn load(shared: Arc<Shared<S>>, config: LedgerConfig) -> Result<Sequencer<S>, LedgerError> {
        let state = load_state(&shared, &config).await?;
        let system_key_id = config.system_key.key_id().to_string();
        Ok(Sequencer {
            shared,
            config,
            state,
            sealed: None,
            head_tx: None,
            existing: HashMap::new(),
            last_snapshot: 0,
            snapshot_gap: 0,
            system_key_id,
        })
    }

    fn now(&self) -> OffsetDateTime {
        (self.config.clock)()
    }

    fn now_text(&self) -> String {
        time_text(self.now())
    }

    /// The refusal of a record dated further ahead of the platform clock than the allowed skew, if it is.
    fn too_far_ahead(&self, env: &Envelope) -> Option<Rejection> {
        let now = self.now();
        let skew = time::Duration::try_from(self.config.max_clock_skew).unwrap_or(time::Duration::MAX);
        // A limit beyond the representable range limits nothing.
        let limit = now.checked_add(skew)?;
        (env.occurred() > limit).then(|| Rejection::FutureOccurredAt {
            occurred_at: env.occurred_at().to_owned(),
            server_time: time_text(now),
            max_skew_secs: self.config.max_clock_skew.as_secs(),
        })
    }

    /// The event id of the equivocation notice about the refused envelope with this leaf hash. Deterministic, so a
    /// re-posted envelope maps to the notice already written (one piece of evidence per distinct conflicting
    /// envelope, found with one indexed lookup); derived from a signature of the system key, so nobody else can
    /// predict it and take the id first with a record of their own to suppress the evidence. A UUIDv7 whose time
    /// is the refused record's `occurred_at`.
    fn equivocation_notice_id(&self, refused: &Envelope) -> Uuid {
        let mut msg = b"siteledger/equivocation-notice-id\n".to_vec();
        msg.extend_from_slice(&refused.leaf_hash());
        let digest = siteledger_signer::merkle::leaf_hash(&self.config.system_key.sign(&msg));
        let mut rand = [0u8; 10];
        rand.copy_from_slice(&digest[..10]);
        let ms = (refused.occurred().unix_timestamp_nanos() / 1_000_000).clamp(0, (1 << 48) - 1);
        uuid::Builder::from_unix_timestamp_millis(u64::try_from(ms).unwrap_or(0), &rand).into_uuid()
    }

    /// Whether an event with this id is in the pending group, the sealed one or the store.
    async fn event_exists(&self, p: &Pending, id: Uuid) -> Result<bool, LedgerError> {
        if p.by_id.contains_key(&id) || self.sealed_event(id).is_some() || self.existing.contains_key(&id) {
            return Ok(true);
        }
        Ok(!self.shared.store.events_by_id(&[id]).await?.is_empty())
    }

    /// Position and leaf hash of the sealed group's event with this id, if it has it.
    fn sealed_event(&self, id: Uuid) -> Option<(u64, Hash)> {
        let s = self.sealed.as_ref()?;
        let e = &s.commit.events[*s.by_id.get(&id)?];
        Some((e.position, e.leaf_hash))
    }

    fn new_pending(&self) -> Pending {
        let (frontier, system_seq, system_prev) = match &self.sealed {
            Some(s) => (s.fold.frontier.clone(), s.fold.system_seq, s.fold.system_prev),
            None => (self.state.frontier.clone(), self.state.system_seq, self.state.system_prev),
        };
        Pending {
            events: Vec::new(),
            prevs: Vec::new(),
            folded: Vec::new(),
            nodes: Vec::new(),
            new_keys: Vec::new(),
            revocations: Vec::new(),
            frontier,
            by_id: HashMap::new(),
            by_signer_seq: HashMap::new(),
            signer_heads: HashMap::new(),
            stream_heads: HashMap::new(),
            keys: HashMap::new(),
            system_seq,
            system_prev,
        }
    }

    /// The first record of an empty log: the system key enrols itself.
    async fn genesis(&mut self) -> Result<(), LedgerError> {
        let mut p = self.new_pending();
        let pk = *self.config.system_key.public();
        let enrollment = KeyEnrollment {
            key_id: pk.key_id().to_string(),
            public_key: pk.to_base64(),
            subject: self.shared.origin.clone(),
            role: SYSTEM_ROLE.to_owned(),
            valid_from: "2000-01-01T00:00:00+08:00".to_owned(),
            valid_until: None,
        };
        let env =
            self.system_envelope(&mut p, Uuid::now_v7(), "ledger/keys", KEY_ENROLLED_KIND, enrollment.to_payload())?;
        let item = Item { env, sig: None };
        match self.decide(&mut p, &item).await? {
            Decided::Accepted(_) => {}
            Decided::Duplicate(_) | Decided::Rejected(_) => {
                return Err(LedgerError::Signing("genesis record was not accepted".into()));
            }
        }
        let r = self.commit(p, true).await;
        self.config.policy.settled(r.is_ok());
        r
    }

    /// Enrols the configured [`LedgerConfig::system_enrolments`] that are not enrolled yet, signed by the system
    /// key, in one commit. Another writer sharing the store may enrol them first: then this catches up and finds
    /// nothing left to do.
    async fn system_enrolments(&mut self) -> Result<(), LedgerError> {
        for attempt in 0..3 {
            let missing: Vec<KeyEnrollment> = self
                .config
                .system_enrolments
                .iter()
                .filter(|e| !self.state.keys.contains_key(&e.key_id))
                .cloned()
                .collect();
            if missing.is_empty() {
                return Ok(());
            }
            let mut p = self.new_pending();
            for e in &missing {
                let env =
                    self.system_envelope(&mut p, Uuid::now_v7(), "ledger/keys", KEY_ENROLLED_KIND, e.to_payload())?;
                if let Decided::Rejected(r) = self.decide(&mut p, &Item { env, sig: None }).await? {
                    self.config.policy.settled(false);
                    return Err(LedgerError::InvalidRequest(format!(
                        "the system key cannot enrol key {}: {r}",
                        e.key_id
                    )));
                }
            }
            let r = self.commit(p, true).await;
            self.config.policy.settled(r.is_ok());
            match r {
                Err(LedgerError::Store(StoreError::HeadMoved { .. })) if attempt < 2 => self.catch_up().await?,
                other => return other,
            }
        }
        Ok(())
    }

    fn system_envelope(
        &self,
        p: &mut Pending,
        id: Uuid,
        stream: &str,
        kind: &str,
        body: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Envelope, LedgerError> {
        let env = UnsignedEnvelope {
            id,
            stream: stream.to_owned(),
            kind: kind.to_owned(),
            occurred_at: self.now_text(),
            seq: p.system_seq + 1,
            prev: p.system_prev,
            payload: body,
        }
        .sign(&self.config.system_key)
        .map_err(|e| LedgerError::Signing(e.to_string()))?;
        Ok(env)
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Request>) {
        // The group whose commit the store is running (pipelined commits).
        let mut flight: Option<Flight> = None;
        loop {
            let deadline = self.state.uncovered_since.map(|t| t + self.config.checkpoint_interval);
            let first = match flight.as_mut() {
                // A commit is running: decide the next group as soon as a request comes, or answer the commit's
                // requests as soon as it returns, whichever is first.
                Some(f) => tokio::select! {
                    biased;
                    done = &mut f.done => {
                        if let Some(f) = flight.take() {
                            self.land(f, done).await;
                        }
                        continue;
                    }
                    r = rx.recv() => match r {
                        Some(r) => Some(r),
                        None => break,
                    },
                },
                None => tokio::select! {
                    r = rx.recv() => match r {
                        Some(r) => Some(r),
                        None => break,
                    },
                    () = sleep_until_opt(deadline) => None,
                },
            };
            let mut group: Vec<Request> = Vec::new();
            let mut n = 0;
            if let Some(r) = first {
                n += r.len();
                group.push(r);
                while n < self.config.max_batch_events {
                    match rx.try_recv() {
                        Ok(r) => {
                            n += r.len();
                            group.push(r);
                        }
                        Err(_) => break,
                    }
                }
            }
            flight = self.process_group(group, flight.take()).await;
        }
        if let Some(mut f) = flight.take() {
            let done = (&mut f.done).await;
            self.land(f, done).await;
        }
        // Cover what was committed before stopping.
        if self.state.head > self.state.last_checkpoint_size {
            let p = self.new_pending();
            if let Err(e) = self.commit(p, true).await {
                tracing::warn!(error = %e, "final checkpoint at shutdown failed");
            }
        }
    }

    /// Decides `group`, on top of `flight`'s group while its commit runs if there is one, and commits it: in the
    /// background if it can be pipelined (returned, to be landed), else before returning.
    async fn process_group(&mut self, group: Vec<Request>, flight: Option<Flight>) -> Option<Flight> {
        let (bodies, senders): (Vec<Body>, Vec<Sender>) = group.into_iter().map(split).unzip();
        let Some(mut f) = flight else {
            return self.process_fresh(bodies, senders).await;
        };
        // Only ingests and appends are decided on top of a running commit: a checkpoint request or the checkpoint
        // timer wants the tree as committed, and a store another writer appended to wants catching up first.
        let plain = !bodies.is_empty() && bodies.iter().all(|b| !matches!(b, Body::Checkpoint));
        let alone = plain && self.only_writer().await;
        if !alone {
            let done = (&mut f.done).await;
            self.land(f, done).await;
            return self.process_fresh(bodies, senders).await;
        }
        match self.decide_group(&bodies).await {
            Ok(g) => {
                if let Ok(mut s) = self.shared.stats.write() {
                    s.pipelined += 1;
                }
                let done = (&mut f.done).await;
                if self.land(f, done).await {
                    self.finish_group(g, bodies, senders).await
                } else {
                    // The group below failed (its requests were answered or decided again): decide this one again
                    // from the store.
                    self.process_fresh(bodies, senders).await
                }
            }
            Err(_) => {
                // Decided again once the group below is landed (the error, if it persists, is answered then).
                self.config.policy.discard_pending();
                let done = (&mut f.done).await;
                self.land(f, done).await;
                self.process_fresh(bodies, senders).await
            }
        }
    }

    /// Whether the store's head is this sequencer's: its state's, or the sealed group's once committed. One head
    /// query; `false` on an error (the caller then lands the running commit and takes the one-at-a-time path).
    async fn only_writer(&self) -> bool {
        let Ok(head) = self.shared.store.head().await else { return false };
        let sealed = self.sealed.as_ref().map(|s| s.fold.frontier.size());
        head == self.state.head || Some(head) == sealed
    }

    /// Decides and commits a group when no commit is running: pipelined if it can be, else as [`Self::process`].
    async fn process_fresh(&mut self, bodies: Vec<Body>, senders: Vec<Sender>) -> Option<Flight> {
        if !self.config.pipeline_commits || bodies.is_empty() || bodies.iter().any(|b| matches!(b, Body::Checkpoint)) {
            self.process(bodies, senders).await;
            return None;
        }
        match self.decide_group(&bodies).await {
            Ok(g) => self.finish_group(g, bodies, senders).await,
            Err(e) => {
                self.config.policy.settled(false);
                self.recover(e, bodies, senders).await;
                None
            }
        }
    }

    /// Commits a decided group: sealed and sent to the store in the background (returned) if nothing in it needs
    /// the commit first, else now, answering its requests before returning.
    async fn finish_group(&mut self, g: DecidedGroup, bodies: Vec<Body>, senders: Vec<Sender>) -> Option<Flight> {
        let due = self.commit_due(&g);
        let one_at_a_time = !self.config.pipeline_commits
            || g.force_checkpoint
            || g.pending.events.is_empty()
            || (due && self.snapshot_due(g.pending.head()));
        // A stateful policy is sealed only when the group is pipelined (`seal` is not called otherwise).
        if one_at_a_time || (self.config.policy.stateful() && !self.config.policy.seal()) {
            match self.commit_group(g).await {
                Ok((answers, latest)) => {
                    self.config.policy.settled(true);
                    self.answer(senders, answers, &latest);
                }
                Err(e) => {
                    self.config.policy.settled(false);
                    self.recover(e, bodies, senders).await;
                }
            }
            return None;
        }
        let DecidedGroup { pending: p, answers, .. } = g;
        let accepted = p.events.len() as u64;
        let (commit, fold, sealed) = match self.prepare(p, due).await {
            Ok(prepared) => prepared,
            Err(e) => {
                self.config.policy.settled(false);
                self.recover(e, bodies, senders).await;
                return None;
            }
        };
        let commit = Arc::new(commit);
        let shared = Arc::clone(&self.shared);
        let expected = self.state.head;
        let writing = Arc::clone(&commit);
        let done = tokio::spawn(async move { shared.store.commit(expected, &writing).await });
        let (by_id, by_signer_seq, prevs) = sealed;
        self.sealed = Some(Sealed { commit, by_id, by_signer_seq, prevs, fold });
        Some(Flight { done, bodies, senders, answers, accepted })
    }

    /// The running commit returned: on success, folds its group into the state and answers its requests (`true`);
    /// on failure, drops every decision taken on top of it and handles the group as [`Self::process`] would
    /// (decided again after another writer's records, or answered with the error) (`false`).
    async fn land(&mut self, f: Flight, done: Result<Result<(), StoreError>, tokio::task::JoinError>) -> bool {
        let Some(sealed) = self.sealed.take() else {
            tracing::error!("a pipelined commit returned without its sealed group");
            return false;
        };
        let result = match done {
            Ok(r) => r.map_err(LedgerError::from),
            Err(e) => Err(LedgerError::Store(StoreError::Database(format!("the commit task failed: {e}")))),
        };
        match result {
            Ok(()) => {
                self.apply(&sealed.commit, false, sealed.fold).await;
                self.config.policy.settled(true);
                if let Ok(mut s) = self.shared.stats.write() {
                    s.accepted += f.accepted;
                }
                self.answer(f.senders, f.answers, &None);
                true
            }
            Err(e) => {
                self.config.policy.settled(false);
                self.recover(e, f.bodies, f.senders).await;
                false
            }
        }
    }

    /// After a group's decision or commit failed (the policy settled `false`): decided again from the store if
    /// another writer appended first, else answered with the error once the state is reloaded.
    async fn recover(&mut self, e: LedgerError, bodies: Vec<Body>, senders: Vec<Sender>) {
        if another_writer_appended(&e) {
            match self.catch_up().await {
                Ok(()) => {
                    self.process(bodies, senders).await;
                    return;
                }
                Err(err) => tracing::error!(error = %err, "catching up with another writer failed"),
            }
        }
        self.fail_group(&e, senders).await;
    }

    /// Answers every request of a group that could not be committed with the error, after rebuilding the state from
    /// the store: whatever was or was not written, the store is the truth.
    async fn fail_group(&mut self, e: &LedgerError, senders: Vec<Sender>) {
        match load_state(&self.shared, &self.config).await {
            Ok(s) => self.state = s,
            Err(e) => tracing::error!(error = %e, "reloading ledger state failed"),
        }
        tracing::error!(error = %e, "group commit failed; answering every request of the group with an error");
        for tx in senders {
            tx.fail(e);
        }
    }

    /// Counts the group's outcomes and sends each request its answer.
    fn answer(&self, senders: Vec<Sender>, answers: Vec<Answer>, latest: &Option<StoredCheckpoint>) {
        if let Ok(mut s) = self.shared.stats.write() {
            for a in &answers {
                if let Answer::Ingest(Ok(out)) = a {
                    for o in out {
                        match o {
                            IngestOutcome::Duplicate { .. } => s.duplicates += 1,
                            IngestOutcome::Rejected(r) => *s.rejections.entry(r.code()).or_default() += 1,
                            IngestOutcome::Accepted { .. } => {}
                        }
                    }
                }
            }
        }
        for (tx, a) in senders.into_iter().zip(answers) {
            tx.send(a, latest);
        }
    }

    /// Decides and commits a group, one at a time: retried after another writer's records, else answered with the
    /// error.
    async fn process(&mut self, bodies: Vec<Body>, senders: Vec<Sender>) {
        let mut attempt = 0;
        loop {
            match self.try_group(&bodies).await {
                Ok((answers, latest)) => {
                    self.config.policy.settled(true);
                    self.answer(senders, answers, &latest);
                    return;
                }
                Err(e) => {
                    self.config.policy.settled(false);
                    if another_writer_appended(&e) && attempt < 1000 {
                        // Another writer appended first: catch up with what it wrote (cheap, so this writer gets
                        // its turn soon) and decide the same group again on the new head.
                        attempt += 1;
                        match self.catch_up().await {
                            Ok(()) => {
                                tokio::task::yield_now().await;
                                continue;
                            }
                            Err(err) => tracing::error!(error = %err, "catching up with another writer failed"),
                        }
                    }
                    self.fail_group(&e, senders).await;
                    return;
                }
            }
        }
    }

    /// Folds records appended by another writer (sharing the database) into the state.
    async fn catch_up(&mut self) -> Result<(), LedgerError> {
        let head = self.shared.store.head().await?;
        while self.state.head < head {
            let events = self.shared.store.read_all(self.state.head, 4096).await?;
            if events.is_empty() {
                break;
            }
            if events.iter().any(|e| e.kind == KEY_ENROLLED_KIND || e.kind == KEY_REVOKED_KIND) {
                // The key registry as stored now includes these records' keys: load it before folding them, so
                // the policy sees each record's signer.
                self.reload_keys().await?;
            }
            for e in events {
                if e.position != self.state.head {
                    return Err(LedgerError::Store(StoreError::Corrupt(format!(
                        "expected position {}, read {}",
                        self.state.head, e.position
                    ))));
                }
                let _ = self.state.frontier.push(e.leaf_hash);
                self.state.head += 1;
                if let Some(h) = self.state.signer_heads.get_mut(&e.signer)
                    && h.is_none_or(|(seq, _)| e.signer_seq > seq)
                {
                    *h = Some((e.signer_seq, e.leaf_hash));
                }
                if let Some(h) = self.state.stream_heads.get_mut(&e.stream) {
                    *h = Some(e.stream_version);
                }
                if e.signer == self.system_key_id && e.signer_seq > self.state.system_seq {
                    self.state.system_seq = e.signer_seq;
                    self.state.system_prev = Some(e.leaf_hash);
                }
                self.replay(&e, false)?;
            }
        }
        self.config.policy.settled(true);
        if let Some(cp) = self.shared.store.latest_checkpoint().await?
            && cp.size <= self.state.head
        {
            self.state.last_checkpoint_size = self.state.last_checkpoint_size.max(cp.size);
        }
        if let Some(tx) = &self.head_tx {
            tx.send_replace(self.state.head);
        }
        Ok(())
    }

    /// Folds what another server sharing the database committed since this one last looked, before deciding a
    /// group: otherwise a key, project or chain that server recorded is unknown here, and a group whose records are
    /// all refused for it (`unknown_signer`, a rule) commits nothing, so it never meets the `HeadMoved` that would
    /// catch it up. One head query per group.
    async fn catch_up_with_other_writers(&mut self) -> Result<(), LedgerError> {
        if self.shared.store.head().await? != self.state.head {
            self.catch_up().await?;
        }
        Ok(())
    }

    /// Replaces the cached key registry with the store's.
    async fn reload_keys(&mut self) -> Result<(), LedgerError> {
        let mut keys = HashMap::new();
        for k in self.shared.store.keys().await? {
            let public = k
                .signer_key()
                .map_err(|err| LedgerError::Store(StoreError::Corrupt(format!("key {}: {err}", k.key_id))))?;
            keys.insert(k.key_id.clone(), KeyEntry { stored: Arc::new(k), public });
        }
        if let Ok(mut pk) = self.shared.public_keys.write() {
            for (id, k) in &keys {
                pk.insert(id.clone(), k.public.clone());
            }
        }
        note_revocations(&self.shared, keys.values().map(|k| &*k.stored));
        self.state.keys = keys;
        Ok(())
    }

    /// Decides a whole group and commits it. Nothing is answered here, so the group can be retried.
    async fn try_group(&mut self, bodies: &[Body]) -> Result<(Vec<Answer>, Option<StoredCheckpoint>), LedgerError> {
        let g = self.decide_group(bodies).await?;
        self.commit_group(g).await
    }

    /// Whether a decided group's commit carries a checkpoint: one is due, or the group asked for one and the tree
    /// grew since the last.
    fn commit_due(&self, g: &DecidedGroup) -> bool {
        self.checkpoint_due(&g.pending) || (g.force_checkpoint && g.pending.head() > self.state.last_checkpoint_size)
    }

    /// Commits a decided group now (if it has records or a checkpoint is due). Nothing is answered here.
    async fn commit_group(&mut self, g: DecidedGroup) -> Result<(Vec<Answer>, Option<StoredCheckpoint>), LedgerError> {
        let due = self.commit_due(&g);
        let DecidedGroup { pending: p, answers, force_checkpoint } = g;
        let accepted = p.events.len() as u64;
        if accepted > 0 || due {
            self.commit(p, due).await?;
        }
        if let Ok(mut s) = self.shared.stats.write() {
            s.accepted += accepted;
        }
        let latest = if force_checkpoint { self.shared.store.latest_checkpoint().await? } else { None };
        Ok((answers, latest))
    }

    /// Decides a whole group against the state (and the sealed group, if a commit is running). Nothing is written.
    async fn decide_group(&mut self, bodies: &[Body]) -> Result<DecidedGroup, LedgerError> {
        if self.sealed.is_none() {
            self.catch_up_with_other_writers().await?;
        }
        let mut p = self.new_pending();
        self.prefetch(bodies).await?;
        let mut answers = Vec::with_capacity(bodies.len());
        let mut force_checkpoint = false;
        for body in bodies {
            match body {
                Body::Ingest(items) => {
                    let mut out = Vec::with_capacity(items.len());
                    for item in items {
                        out.push(match self.decide(&mut p, item).await? {
                            Decided::Accepted(pos) => IngestOutcome::Accepted { position: pos },
                            Decided::Duplicate(pos) => IngestOutcome::Duplicate { position: pos },
                            Decided::Rejected(r) => IngestOutcome::Rejected(r),
                        });
                    }
                    answers.push(Answer::Ingest(Ok(out)));
                }
                Body::Append { stream, expected, items } => {
                    let r = self.decide_append(&mut p, stream, *expected, items).await;
                    if let Err(AppendError::Ledger(e)) = r {
                        return Err(e);
                    }
                    answers.push(Answer::Append(r));
                }
                Body::Checkpoint => {
                    if !force_checkpoint && p.events.is_empty() && self.shared.store.head().await? != self.state.head {
                        // Another writer shares the database: cover what it wrote too.
                        self.catch_up().await?;
                        p = self.new_pending();
                    }
                    force_checkpoint = true;
                    answers.push(Answer::Checkpoint);
                }
            }
        }
        Ok(DecidedGroup { pending: p, answers, force_checkpoint })
    }

    /// Loads signer and stream heads and existing event ids the group needs, in few store calls.
    async fn prefetch(&mut self, bodies: &[Body]) -> Result<(), LedgerError> {
        let mut ids = Vec::new();
        // A request's records usually share one signer and one stream: look each up once per run of equal ones.
        let mut last: Option<(KeyId, &str)> = None;
        for b in bodies {
            if let Body::Ingest(items) | Body::Append { items, .. } = b {
                for it in items {
                    ids.push(it.env.id());
                    if last == Some((it.env.signer(), it.env.stream())) {
                        continue;
                    }
                    last = Some((it.env.signer(), it.env.stream()));
                    let signer = it.env.signer().to_string();
                    let sealed = self.sealed.as_ref().map(|s| &s.fold);
                    if sealed.is_some_and(|s| {
                        s.signer_heads.contains_key(&signer) && s.stream_heads.contains_key(it.env.stream())
                    }) {
                        continue;
                    }
                    if !self.state.signer_heads.contains_key(&signer) {
                        let head = self.shared.store.signer_head(&signer).await?;
                        self.state.signer_heads.insert(signer, head.map(|e| (e.signer_seq, e.leaf_hash)));
                    }
                    if !self.state.stream_heads.contains_key(it.env.stream()) {
                        let head = self.shared.store.stream_head(it.env.stream()).await?;
                        self.state.stream_heads.insert(it.env.stream().to_owned(), head);
                    }
                }
            }
        }
        if self.state.stream_heads.len() > 1_000_000 {
            // Bound the cache: heads are reloaded on demand.
            self.state.stream_heads.clear();
        }
        let existing = if ids.is_empty() { Vec::new() } else { self.shared.store.events_by_id(&ids).await? };
        self.existing = existing.into_iter().map(|e| (e.event_id, e)).collect();
        Ok(())
    }

    fn checkpoint_due(&self, p: &Pending) -> bool {
        let uncovered = p.head().saturating_sub(self.state.last_checkpoint_size);
        if uncovered == 0 {
            return false;
        }
        if uncovered >= self.config.checkpoint_every {
            return true;
        }
        match self.state.uncovered_since {
            Some(t) => Instant::now() >= t + self.config.checkpoint_interval,
            None => false,
        }
    }

    fn signer_head(&self, p: &Pending, signer: &str) -> Option<(u64, Hash)> {
        if let Some(h) = p.signer_heads.get(signer) {
            return *h;
        }
        if let Some(h) = self.sealed.as_ref().and_then(|s| s.fold.signer_heads.get(signer)) {
            return *h;
        }
        self.state.signer_heads.get(signer).copied().flatten()
    }

    fn stream_head(&self, p: &Pending, stream: &str) -> Option<u64> {
        if let Some(h) = p.stream_heads.get(stream) {
            return *h;
        }
        if let Some(h) = self.sealed.as_ref().and_then(|s| s.fold.stream_heads.get(stream)) {
            return *h;
        }
        self.state.stream_heads.get(stream).copied().flatten()
    }

    /// Whether the pending group, the sealed one or the cache knows the stream's head.
    fn knows_stream(&self, p: &Pending, stream: &str) -> bool {
        p.stream_heads.contains_key(stream)
            || self.sealed.as_ref().is_some_and(|s| s.fold.stream_heads.contains_key(stream))
            || self.state.stream_heads.contains_key(stream)
    }

    fn key(&self, p: &Pending, key_id: &str) -> Option<KeyEntry> {
        self.key_ref(p, key_id).cloned()
    }

    fn key_ref<'a>(&'a self, p: &'a Pending, key_id: &str) -> Option<&'a KeyEntry> {
        p.keys
            .get(key_id)
            .or_else(|| self.sealed.as_ref().and_then(|s| s.fold.keys.get(key_id)))
            .or_else(|| self.state.keys.get(key_id))
    }

    /// The stored-or-pending event of `signer` with sequence number `seq`.
    async fn signer_event(
        &self,
        p: &Pending,
        signer: &str,
        seq: u64,
    ) -> Result<Option<(u64, Hash, Option<Hash>)>, LedgerError> {
        let key = KeyId::parse(signer).ok();
        if let Some(&i) = key.and_then(|key| p.by_signer_seq.get(&(key, seq))) {
            let e = &p.events[i];
            return Ok(Some((e.position, e.leaf_hash, p.prevs.get(i).copied().flatten())));
        }
        if let Some(s) = &self.sealed
            && let Some(&i) = key.and_then(|key| s.by_signer_seq.get(&(key, seq)))
        {
            let e = &s.commit.events[i];
            return Ok(Some((e.position, e.leaf_hash, s.prevs.get(i).copied().flatten())));
        }
        match self.shared.store.signer_event(signer, seq).await? {
            Some(e) => {
                let prev = Envelope::parse(&e.leaf).ok().and_then(|env| env.prev().copied());
                Ok(Some((e.position, e.leaf_hash, prev)))
            }
            None => Ok(None),
        }
    }

    /// Decides one record against the state plus the pending group; on acceptance it is added to `p`.
    async fn decide(&mut self, p: &mut Pending, item: &Item) -> Result<Decided, LedgerError> {
        let env = &item.env;
        let id = env.id();
        let leaf_hash = env.leaf_hash();
        // Idempotency by event id.
        if let Some(&i) = p.by_id.get(&id) {
            let e = &p.events[i];
            return Ok(if e.leaf_hash == leaf_hash {
                Decided::Duplicate(e.position)
            } else {
                Decided::Rejected(Rejection::EventIdConflict { event_id: id.to_string() })
            });
        }
        if let Some((position, hash)) =
            self.sealed_event(id).or_else(|| self.existing.get(&id).map(|e| (e.position, e.leaf_hash)))
        {
            return Ok(if hash == leaf_hash {
                Decided::Duplicate(position)
            } else {
                Decided::Rejected(Rejection::EventIdConflict { event_id: id.to_string() })
            });
        }
        // The `ledger.` namespace belongs to the log: whatever the policy, only key enrolments and revocations come
        // from outside; gap and equivocation notices are created below, never received.
        if let Some(reason) = reserved_kind(env.kind()) {
            return Ok(Decided::Rejected(Rejection::ReservedKind { kind: env.kind().to_owned(), reason }));
        }
        let signer = env.signer().to_string();

        // Key: enrolled, or a root of trust enrolling itself.
        // The enrolled key is read with its algorithm (docs/FORMAT.md §4): an unknown `alg`, an `sm2_id` without
        // `alg: "sm2"`, a key of the wrong length or off the curve, or a `key_id` that is not the key's (for SM2:
        // under its identity) is refused here, with the reason.
        let enrollment = if env.kind() == KEY_ENROLLED_KIND {
            match KeyEnrollment::parse(env.payload()) {
                Ok(e) => Some(e),
                Err(reason) => return Ok(Decided::Rejected(Rejection::Schema { kind: env.kind().to_owned(), reason })),
            }
        } else {
            None
        };
        let self_enrolment = enrollment.as_ref().is_some_and(|(e, _)| e.key_id == signer);
        let signer_key: KeyEntry = match self.key(p, &signer) {
            Some(k) => k,
            None if self_enrolment => {
                let Some((e, public)) = &enrollment else { unreachable!("self_enrolment implies an enrollment") };
                // Roots of trust are the configured Ed25519 keys; an SM2 key is always enrolled by another key.
                let is_root = public
                    .as_ed25519()
                    .is_some_and(|k| k == self.config.system_key.public() || self.config.trust_roots.contains(k));
                if !is_root {
                    return Ok(Decided::Rejected(Rejection::Registry {
                        reason: format!("key {signer} may not enrol itself: it is not a configured root of trust"),
                    }));
                }
                KeyEntry { stored: Arc::new(stored_key(e, public, id, p.head())), public: public.clone() }
            }
            None => return Ok(Decided::Rejected(Rejection::UnknownSigner { key_id: signer })),
        };

        // Signature.
        let sig = match item.sig {
            Some(r) => r,
            None => signer_key.public.verify(env.signed_message(), env.signature()),
        };
        if let Err(e) = sig {
            return Ok(Decided::Rejected(Rejection::BadSignature { reason: e.to_string() }));
        }

        // Not dated ahead of the platform clock (beyond the skew a drifting device clock explains). Before the key's
        // validity, so a wrong clock is named as such rather than as an expired key.
        if let Some(r) = self.too_far_ahead(env) {
            return Ok(Decided::Rejected(r));
        }

        // Validity of the key at occurred_at.
        if let Some(reason) = key_invalid_at(&signer_key.stored, env) {
            return Ok(Decided::Rejected(Rejection::KeyNotValid {
                key_id: signer,
                occurred_at: env.occurred_at().to_owned(),
                reason,
            }));
        }

        // The policy's verdict: schema and domain rules, one parse of the payload.
        let admitted = match self.config.policy.check(env, &signer_key.stored) {
            Ok(admitted) => admitted,
            Err(refusal) => return Ok(Decided::Rejected(refusal.into())),
        };
        let mut enrolled: Option<KeyEntry> = None;
        let mut revoked: Option<(String, String)> = None;
        if let Some((e, public)) = &enrollment {
            if self.key(p, &e.key_id).is_some() {
                return Ok(Decided::Rejected(Rejection::Registry {
                    reason: format!("key {} is already enrolled", e.key_id),
                }));
            }
            if !self_enrolment && let Err(reason) = self.config.policy.may_enroll(&signer_key.stored, e) {
                return Ok(Decided::Rejected(Rejection::Registry { reason }));
            }
            enrolled = Some(KeyEntry { stored: Arc::new(stored_key(e, public, id, p.head())), public: public.clone() });
        } else if env.kind() == KEY_REVOKED_KIND {
            let r: KeyRevocation = match serde_json::from_value(serde_json::Value::Object(env.payload().clone())) {
                Ok(r) => r,
                Err(err) => {
                    return Ok(Decided::Rejected(Rejection::Schema {
                        kind: env.kind().to_owned(),
                        reason: err.to_string(),
                    }));
                }
            };
            if let Err(reason) = siteledger_signer::envelope::parse_time(&r.revoked_at) {
                return Ok(Decided::Rejected(Rejection::Schema { kind: env.kind().to_owned(), reason }));
            }
            let Some(target) = self.key(p, &r.key_id) else {
                return Ok(Decided::Rejected(Rejection::Registry {
                    reason: format!("key {} is not enrolled", r.key_id),
                }));
            };
            if target.stored.revoked_at.is_some() {
                return Ok(Decided::Rejected(Rejection::Registry {
                    reason: format!("key {} is already revoked", r.key_id),
                }));
            }
            if let Err(reason) = self.config.policy.may_revoke(&signer_key.stored, &target.stored) {
                return Ok(Decided::Rejected(Rejection::Registry { reason }));
            }
            revoked = Some((r.key_id, r.revoked_at));
        }

        // The signer's chain.
        let seq = env.seq();
        let head = self.signer_head(p, &signer);
        let head_seq = head.map_or(0, |h| h.0);
        let mut gap: Option<SignerGap> = None;
        if seq <= head_seq {
            // The number is behind the head: an equivocation if used, a late fill if not.
            if let Some((pos, accepted_hash, _)) = self.signer_event(p, &signer, seq).await? {
                // One piece of evidence per distinct conflicting envelope: a re-post is answered the same way but
                // adds nothing to the log.
                let notice_id = self.equivocation_notice_id(env);
                if !self.event_exists(p, notice_id).await? {
                    let evidence = Equivocation {
                        key_id: signer.clone(),
                        seq,
                        accepted_position: pos,
                        accepted_leaf_hash: hex::encode(accepted_hash),
                        refused_envelope: env.to_value(),
                    };
                    let stream = format!("ledger/signer/{signer}");
                    let notice = self.system_envelope(p, notice_id, &stream, EQUIVOCATION_KIND, payload(&evidence))?;
                    self.push_system(p, notice).await?;
                }
                return Ok(Decided::Rejected(Rejection::Equivocation { key_id: signer, seq, existing_position: pos }));
            }
            let before = if seq > 1 { self.signer_event(p, &signer, seq - 1).await? } else { None };
            if let Some((_, h, _)) = before
                && env.prev() != Some(&h)
            {
                return Ok(Decided::Rejected(Rejection::ChainMismatch { key_id: signer, seq, linked_seq: seq - 1 }));
            }
            if let Some((_, _, next_prev)) = self.signer_event(p, &signer, seq + 1).await?
                && next_prev != Some(leaf_hash)
            {
                return Ok(Decided::Rejected(Rejection::ChainMismatch { key_id: signer, seq, linked_seq: seq + 1 }));
            }
        } else if seq == head_seq + 1 {
            if env.prev() != head.map(|h| h.1).as_ref() {
                return Ok(Decided::Rejected(Rejection::ChainMismatch { key_id: signer, seq, linked_seq: head_seq }));
            }
        } else {
            gap = Some(SignerGap {
                key_id: signer.clone(),
                last_seq: head_seq,
                next_seq: seq,
                missing: seq - head_seq - 1,
                event_id: id.to_string(),
            });
        }

        // Accept.
        let position = self.push(p, env, signer, leaf_hash)?;
        let signer = &p.events[p.events.len() - 1].signer;
        let record = Record {
            event_id: id,
            stream: env.stream(),
            occurred_at: env.occurred_at(),
            signer_key_id: signer,
            signer: Some(&signer_key.stored),
        };
        self.config.policy.accepted(&record, &admitted);
        if self.config.policy.stateful() && matches!(admitted, Admitted::Domain(_)) {
            p.folded.push((p.events.len() - 1, admitted));
        }
        if seq > head_seq {
            match p.signer_heads.get_mut(signer) {
                Some(h) => *h = Some((seq, leaf_hash)),
                None => {
                    p.signer_heads.insert(signer.clone(), Some((seq, leaf_hash)));
                }
            }
        }
        if let Some(k) = enrolled {
            p.new_keys.push(StoredKey::clone(&k.stored));
            p.keys.insert(k.stored.key_id.clone(), k);
        } else if self_enrolment {
            p.keys.insert(signer_key.stored.key_id.clone(), signer_key.clone());
            p.new_keys.push(StoredKey::clone(&signer_key.stored));
        }
        if let Some((key_id, at)) = revoked {
            if let Some(mut k) = self.key(p, &key_id) {
                Arc::make_mut(&mut k.stored).revoked_at = Some(at.clone());
                p.keys.insert(key_id.clone(), k);
            }
            p.revocations.push((key_id, at));
        }
        if let Some(g) = gap {
            let stream = format!("ledger/signer/{}", g.key_id);
            // Created only when the revealing record is accepted: a re-post of it is a duplicate, and another record
            // with its number an equivocation, so a gap is never reported twice.
            let notice = self.system_envelope(p, Uuid::now_v7(), &stream, SIGNER_GAP_KIND, payload(&g))?;
            self.push_system(p, notice).await?;
        }
        Ok(Decided::Accepted(position))
    }

    /// Appends a ledger-signed record to the pending group.
    async fn push_system(&mut self, p: &mut Pending, env: Envelope) -> Result<u64, LedgerError> {
        // The notice's stream (`ledger/signer/<key>`) is not among the group's prefetched streams: load its head, or
        // after a restart the notice would take version 0 of a stream that already has notices.
        if !self.knows_stream(p, env.stream()) {
            let head = self.shared.store.stream_head(env.stream()).await?;
            self.state.stream_heads.insert(env.stream().to_owned(), head);
        }
        let signer = env.signer().to_string();
        let seq = env.seq();
        let h = env.leaf_hash();
        let pos = self.push(p, &env, signer.clone(), h)?;
        p.system_seq = seq;
        p.system_prev = Some(h);
        p.signer_heads.insert(signer, Some((seq, h)));
        Ok(pos)
    }

    /// Adds an accepted record to the group. `signer` is `env.signer()` in hex, as the caller already has it.
    fn push(&mut self, p: &mut Pending, env: &Envelope, signer: String, leaf_hash: Hash) -> Result<u64, LedgerError> {
        let position = p.head();
        let stream_version = self.stream_head(p, env.stream()).map_or(0, |v| v + 1);
        // In place when the group already wrote to the stream (the common case): no key copied per record.
        match p.stream_heads.get_mut(env.stream()) {
            Some(h) => *h = Some(stream_version),
            None => {
                p.stream_heads.insert(env.stream().to_owned(), Some(stream_version));
            }
        }
        let before = p.nodes.len();
        p.frontier.push_into(leaf_hash, &mut p.nodes);
        // Level 0 lives in the events table.
        p.nodes.remove(before);
        let event = StoredEvent {
            position,
            stream: env.stream().to_owned(),
            stream_version,
            event_id: env.id(),
            kind: env.kind().to_owned(),
            signer,
            signer_seq: env.seq(),
            occurred_at: env.occurred_at().to_owned(),
            recorded_at: truncate_micros(self.now()),
            leaf: env.leaf_bytes().to_vec(),
            leaf_hash,
        };
        if event.signer == self.system_key_id {
            p.system_seq = event.signer_seq;
            p.system_prev = Some(leaf_hash);
        }
        p.by_id.insert(event.event_id, p.events.len());
        p.by_signer_seq.insert((env.signer(), event.signer_seq), p.events.len());
        p.events.push(event);
        p.prevs.push(env.prev().copied());
        Ok(position)
    }

    async fn decide_append(
        &mut self,
        p: &mut Pending,
        stream: &str,
        expected: ExpectedVersion,
        items: &[Item],
    ) -> Result<Vec<u64>, AppendError> {
        for (index, it) in items.iter().enumerate() {
            if it.env.stream() != stream {
                return Err(AppendError::WrongStream {
                    index,
                    stream: stream.to_owned(),
                    found: it.env.stream().to_owned(),
                });
            }
        }
        // Idempotent retry: every id already stored (or pending) with the same bytes.
        let mut dup_positions = Vec::new();
        for it in items {
            let id = it.env.id();
            let known = p
                .by_id
                .get(&id)
                .map(|&i| (p.events[i].position, p.events[i].leaf_hash))
                .or_else(|| self.sealed_event(id))
                .or_else(|| self.existing.get(&id).map(|e| (e.position, e.leaf_hash)));
            if let Some((pos, h)) = known
                && h == it.env.leaf_hash()
            {
                dup_positions.push(pos);
            }
        }
        if dup_positions.len() == items.len() {
            return Ok(dup_positions);
        }
        if !dup_positions.is_empty() {
            return Err(AppendError::PartialDuplicate);
        }
        let actual = self.stream_head(p, stream);
        let ok = match expected {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual.is_none(),
            ExpectedVersion::StreamExists => actual.is_some(),
            ExpectedVersion::Exact(v) => actual == Some(v),
        };
        if !ok {
            return Err(AppendError::WrongExpectedVersion { expected, actual });
        }
        let sp = p.savepoint();
        let mut positions = Vec::with_capacity(items.len());
        for (index, it) in items.iter().enumerate() {
            match self.decide(p, it).await {
                Ok(Decided::Accepted(pos)) => positions.push(pos),
                Ok(Decided::Duplicate(_)) => {
                    p.rollback(sp);
                    self.refeed_policy(p);
                    return Err(AppendError::PartialDuplicate);
                }
                Ok(Decided::Rejected(rejection)) => {
                    p.rollback(sp);
                    self.refeed_policy(p);
                    return Err(AppendError::Rejected { index, rejection });
                }
                Err(e) => {
                    p.rollback(sp);
                    self.refeed_policy(p);
                    return Err(e.into());
                }
            }
        }
        Ok(positions)
    }

    /// After a rollback inside a group: rebuild the policy's pending state from the records still in the group,
    /// with what the policy parsed when it decided them.
    fn refeed_policy(&self, p: &Pending) {
        // Only the group being decided: a sealed group below it is still being committed.
        self.config.policy.discard_pending();
        for (i, admitted) in &p.folded {
            let Some(e) = p.events.get(*i) else { continue };
            let record = Record {
                event_id: e.event_id,
                stream: &e.stream,
                occurred_at: &e.occurred_at,
                signer_key_id: &e.signer,
                signer: self.key_ref(p, &e.signer).map(|k| &*k.stored),
            };
            self.config.policy.accepted(&record, admitted);
        }
    }

    /// Folds a record that is already in the log (written by another writer) into the policy: one envelope parse
    /// and one payload parse, for the kinds the policy keeps. A leaf that does not parse is corrupt when `strict`,
    /// and skipped otherwise (catching up, as before).
    fn replay(&self, e: &StoredEvent, strict: bool) -> Result<(), LedgerError> {
        let keys = &self.state.keys;
        snapshot::fold(self.config.policy.as_ref(), |id| keys.get(id).map(|k| &*k.stored), e, strict)
    }

    /// Writes the pending group (and a checkpoint if `checkpoint`) and folds it into the state.
    async fn commit(&mut self, p: Pending, checkpoint: bool) -> Result<(), LedgerError> {
        let head = p.head();
        // Another writer sharing the database may already have signed this size (the same log key signs the same
        // text, so the note is byte-identical): reuse it rather than storing it twice.
        let already = if checkpoint && p.events.is_empty() && head > self.state.last_checkpoint_size {
            self.shared.store.checkpoint_at(head).await?.is_some()
        } else {
            false
        };
        let root = p.frontier.root();
        let (commit, fold, _) = self.prepare(p, checkpoint && !already).await?;
        match self.shared.store.commit(self.state.head, &commit).await {
            Ok(()) => {}
            // A checkpoint-only commit that lost the race to an identical checkpoint by another writer.
            Err(StoreError::Conflict(_))
                if commit.events.is_empty()
                    && self.shared.store.checkpoint_at(head).await?.is_some_and(|c| c.root == root) => {}
            Err(e) => return Err(e.into()),
        }
        self.apply(&commit, already, fold).await;
        Ok(())
    }

    /// Splits a decided group into the rows to write (with a checkpoint of its tree, signed here, if `checkpoint`
    /// and the tree is larger than the last checkpoint's), what it changes in the state, and its lookups (ids,
    /// chain positions, `prev`s) for deciding the next group while it is written.
    async fn prepare(&self, p: Pending, checkpoint: bool) -> Result<(Commit, Fold, Lookups), LedgerError> {
        let head = p.head();
        let cp = if checkpoint && head > 0 && head > self.state.last_checkpoint_size {
            let root = p.frontier.root();
            let cp = Checkpoint { origin: self.shared.origin.clone(), size: head, root, extensions: vec![] };
            let note = cp.sign(&self.config.log_signer).map_err(|e| LedgerError::Signing(e.to_string()))?;
            Some(StoredCheckpoint { size: head, root, note, created_at: truncate_micros(self.now()) })
        } else {
            None
        };
        let commit = Commit {
            events: p.events,
            nodes: p.nodes,
            new_keys: p.new_keys,
            revocations: p.revocations,
            checkpoint: cp,
        };
        let fold = Fold {
            frontier: p.frontier,
            signer_heads: p.signer_heads,
            stream_heads: p.stream_heads,
            keys: p.keys,
            system_seq: p.system_seq,
            system_prev: p.system_prev,
        };
        Ok((commit, fold, (p.by_id, p.by_signer_seq, p.prevs)))
    }

    /// Folds a durable commit into the state (`already`: its checkpoint was found stored by another writer).
    async fn apply(&mut self, commit: &Commit, already: bool, fold: Fold) {
        let head = fold.frontier.size();
        if already {
            self.state.last_checkpoint_size = head;
            self.state.uncovered_since = None;
        }
        let had_uncovered = self.state.head > self.state.last_checkpoint_size;
        self.state.head = head;
        self.state.frontier = fold.frontier;
        self.state.signer_heads.extend(fold.signer_heads);
        self.state.stream_heads.extend(fold.stream_heads);
        self.state.system_seq = fold.system_seq;
        self.state.system_prev = fold.system_prev;
        if let Ok(mut pk) = self.shared.public_keys.write() {
            for (id, k) in &fold.keys {
                pk.insert(id.clone(), k.public.clone());
            }
        }
        self.state.keys.extend(fold.keys);
        if let Ok(mut r) = self.shared.revoked.write() {
            for (id, at) in &commit.revocations {
                r.insert(id.clone(), at.clone());
            }
        }
        if let Some(cp) = &commit.checkpoint {
            self.state.last_checkpoint_size = cp.size;
            self.state.uncovered_since = None;
        } else if !had_uncovered && self.state.head > self.state.last_checkpoint_size {
            self.state.uncovered_since = Some(Instant::now());
        }
        if let Ok(mut s) = self.shared.stats.write() {
            s.commits += 1;
            if commit.checkpoint.is_some() {
                s.checkpoints += 1;
            }
        }
        if let Some(tx) = &self.head_tx {
            tx.send_replace(self.state.head);
        }
        if let Some(cp) = &commit.checkpoint {
            self.snapshot_if_due(cp.size, cp.root).await;
        }
    }

    /// Whether a checkpoint of `size` records would take a policy snapshot ([`Self::snapshot_if_due`]).
    fn snapshot_due(&self, size: u64) -> bool {
        let every = self.config.snapshot_every;
        every != 0
            && self.config.policy.snapshot_format().is_some()
            && size >= self.last_snapshot.saturating_add(self.snapshot_gap.max(every))
    }

    /// Stores a snapshot of the policy's state if [`LedgerConfig::snapshot_every`] records (more after a large
    /// snapshot: [`LedgerConfig::snapshot_bytes_per_record`]) were committed since the last one. Called right after
    /// a checkpoint's commit, when the policy's state is exactly that of the tree of `size` leaves with root `root`
    /// (its pending group is what was just committed). A failure is logged, never returned: the records are
    /// durable, and the next open simply replays more of the log.
    async fn snapshot_if_due(&mut self, size: u64, root: Hash) {
        if !self.snapshot_due(size) {
            return;
        }
        let every = self.config.snapshot_every;
        let now = truncate_micros(self.now());
        let started = Instant::now();
        let snapshot = match snapshot::take(self.config.policy.as_ref(), size, root, now) {
            None => return,
            Some(Ok(s)) => s,
            Some(Err(e)) => {
                tracing::warn!(size, error = %e, "the policy's state could not be serialised: no snapshot");
                return;
            }
        };
        match self.shared.store.put_snapshot(&snapshot, self.config.snapshots_kept).await {
            Ok(stored) => {
                // A store that keeps none is not asked again at every checkpoint.
                self.last_snapshot = size;
                let bytes = u64::try_from(snapshot.state.len()).unwrap_or(u64::MAX);
                self.snapshot_gap = bytes.checked_div(self.config.snapshot_bytes_per_record).unwrap_or(0);
                if stored {
                    let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                    tracing::info!(
                        size,
                        bytes = snapshot.state.len(),
                        ms,
                        next_after = self.snapshot_gap.max(every),
                        "admission-state snapshot stored"
                    );
                    if let Ok(mut s) = self.shared.stats.write() {
                        s.snapshots += 1;
                    }
                }
            }
            Err(e) => tracing::warn!(size, error = %e, "storing a policy snapshot failed; the next open replays more"),
        }
    }
}

enum Body {
    Ingest(Vec<Item>),
    Append { stream: String, expected: ExpectedVersion, items: Vec<Item> },
    Checkpoint,
}

enum Sender {
    Ingest(oneshot::Sender<Result<Vec<IngestOutcome>, LedgerError>>),
    Append(oneshot::Sender<Result<Vec<u64>, AppendError>>),
    Checkpoint(oneshot::Sender<Result<StoredCheckpoint, LedgerError>>),
}

enum Answer {
    Ingest(Result<Vec<IngestOutcome>, LedgerError>),
    Append(Result<Vec<u64>, AppendError>),
    Checkpoint,
}

fn split(r: Request) -> (Body, Sender) {
    match r {
        Request::Ingest { items, reply } => (Body::Ingest(items), Sender::Ingest(reply)),
        Request::Append { stream, expected, items, reply } => {
            (Body::Append { stream, expected, items }, Sender::Append(reply))
        }
        Request::Checkpoint { reply } => (Body::Checkpoint, Sender::Checkpoint(reply)),
    }
}

impl Sender {
    fn send(self, answer: Answer, latest: &Option<StoredCheckpoint>) {
        // A caller that went away is not an error: its records are committed all the same.
        match (self, answer) {
            (Sender::Ingest(tx), Answer::Ingest(v)) => {
                let _ = tx.send(v);
            }
            (Sender::Append(tx), Answer::Append(v)) => {
                let _ = tx.send(v);
            }
            (Sender::Checkpoint(tx), _) => {
                let _ = tx.send(
                    latest.clone().ok_or_else(|| LedgerError::InvalidRequest("the log has no checkpoint yet".into())),
                );
            }
            (s, _) => s.fail(&LedgerError::Closed),
        }
    }

    fn fail(self, e: &LedgerError) {
        let err = || LedgerError::Store(StoreError::Database(format!("commit failed, nothing acknowledged: {e}")));
        match self {
            Sender::Ingest(tx) => {
                let _ = tx.send(Err(err()));
            }
            Sender::Append(tx) => {
                let _ = tx.send(Err(AppendError::Ledger(err())));
            }
            Sender::Checkpoint(tx) => {
                let _ = tx.send(Err(err()));
            }
        }
    }
}

/// Whether a failed commit means another writer appended first (catch up and decide again), as opposed to the
/// store's log being *shorter* than this sequencer committed: after a failover that lost acknowledged records
/// (asynchronous replication; strict synchronous mode never does this) there is nothing to catch up with, and the
/// state must be rebuilt from the store. That is logged as an error, for an operator: records were lost.
fn another_writer_appended(e: &LedgerError) -> bool {
    match e {
        LedgerError::Store(StoreError::HeadMoved { expected, found }) if found < expected => {
            tracing::error!(
                expected,
                found,
                "the store's log is shorter than this sequencer committed: the database lost acknowledged records \
                 (a failover without synchronous replication?); rebuilding the state from the store"
            );
            false
        }
        LedgerError::Store(StoreError::HeadMoved { .. }) => true,
        _ => false,
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// RFC 3339 in Asia/Shanghai, as the ledger writes times.
fn time_text(t: OffsetDateTime) -> String {
    siteledger_domain::time::shanghai_rfc3339(t)
}

fn truncate_micros(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.checked_to_offset(UtcOffset::UTC).unwrap_or(t);
    let micros = t.nanosecond() / 1000 * 1000;
    t.replace_nanosecond(micros).unwrap_or(t)
}

fn stored_key(e: &KeyEnrollment, public: &SignerKey, enrolled_by: Uuid, position: u64) -> StoredKey {
    StoredKey {
        key_id: e.key_id.clone(),
        public_key: public.as_bytes().to_vec(),
        alg: public.algorithm(),
        sm2_id: public.declared_sm2_id().map(str::to_owned),
        subject: e.subject.clone(),
        role: e.role.clone(),
        valid_from: e.valid_from.clone(),
        valid_until: e.valid_until.clone(),
        enrolled_by,
        enrolled_at: position,
        revoked_at: None,
    }
}

/// Records the revocation times of `keys` in the shared cache ([`Ledger::revoked_at`]).
fn note_revocations<'a, S>(shared: &Shared<S>, keys: impl Iterator<Item = &'a StoredKey>) {
    if let Ok(mut r) = shared.revoked.write() {
        for k in keys {
            if let Some(at) = &k.revoked_at {
                r.insert(k.key_id.clone(), at.clone());
            }
        }
    }
}

/// Why `key` could not sign `env` (None if it could).
fn key_invalid_at(key: &StoredKey, env: &Envelope) -> Option<String> {
    let t = env.occurred();
    let parse = siteledger_signer::envelope::parse_time;
    match parse(&key.valid_from) {
        Ok(from) if t < from => return Some(format!("the key is valid only from {}", key.valid_from)),
        Err(e) => return Some(e),
        Ok(_) => {}
    }
    if let Some(u) = &key.valid_until {
        match parse(u) {
            Ok(until) if t >= until => return Some(format!("the key expired at {u}")),
            Err(e) => return Some(e),
            Ok(_) => {}
        }
    }
    if let Some(r) = &key.revoked_at {
        match parse(r) {
            Ok(at) if t >= at => return Some(format!("the key was revoked at {r}")),
            Err(e) => return Some(e),
            Ok(_) => {}
        }
    }
    None
}

async fn load_state<S: EventStore>(shared: &Shared<S>, config: &LedgerConfig) -> Result<State, LedgerError> {
    let store = &shared.store;
    let head = store.head().await?;
    let frontier_nodes = store.read_nodes(&Frontier::restore_plan(head)).await?;
    let frontier = Frontier::restore(head, frontier_nodes)
        .map_err(|e| LedgerError::Store(crate::store::StoreError::Corrupt(e.to_string())))?;
    let mut keys = HashMap::new();
    for k in store.keys().await? {
        let public = k
            .signer_key()
            .map_err(|e| LedgerError::Store(crate::store::StoreError::Corrupt(format!("key {}: {e}", k.key_id))))?;
        keys.insert(k.key_id.clone(), KeyEntry { stored: Arc::new(k), public });
    }
    if let Ok(mut pk) = shared.public_keys.write() {
        pk.clear();
        for (id, k) in &keys {
            pk.insert(id.clone(), k.public.clone());
        }
    }
    note_revocations(shared, keys.values().map(|k| &*k.stored));
    let last_cp = store.latest_checkpoint().await?;
    let last_checkpoint_size = last_cp.as_ref().map_or(0, |c| c.size);
    if let Some(cp) = &last_cp {
        // The tree must still be consistent with what it published.
        if cp.size > head {
            return Err(LedgerError::Store(crate::store::StoreError::Corrupt(format!(
                "checkpoint of size {} exceeds the log size {head}",
                cp.size
            ))));
        }
        let nodes = store.read_nodes(&siteledger_signer::merkle::range_nodes(0, cp.size)).await?;
        if siteledger_signer::merkle::fold_range(&nodes) != cp.root {
            return Err(LedgerError::Store(crate::store::StoreError::Corrupt(format!(
                "the stored tree does not match checkpoint {}",
                cp.size
            ))));
        }
    }
    let system_id = config.system_key.key_id().to_string();
    let system_head = store.signer_head(&system_id).await?;
    let mut signer_heads = HashMap::new();
    signer_heads.insert(system_id, system_head.as_ref().map(|e| (e.signer_seq, e.leaf_hash)));
    Ok(State {
        head,
        frontier,
        keys,
        signer_heads,
        stream_heads: HashMap::new(),
        last_checkpoint_size,
        uncovered_since: (head > last_checkpoint_size).then(Instant::now),
        system_seq: system_head.as_ref().map_or(0, |e| e.signer_seq),
        system_prev: system_head.map(|e| e.leaf_hash),
    })
}

#[cfg(test)]
mod pipeline_tests {
    //! Pipelined commits, driven step by step on a real SQLite file: a group decided while the group before is
    //! being committed sees that group, and when that commit fails both are decided again from the store.

    use serde_json::json;
    use siteledger_client::KeyedChain;

    use super::*;
    use crate::sqlite::SqliteStore;
    use crate::system::{SIGNER_GAP_KIND, payload};

    fn id(n: u64) -> Uuid {
        uuid::Builder::from_unix_timestamp_millis(1_790_000_000_000 + n, &[9; 10]).into_uuid()
    }

    fn enrol(city: &mut KeyedChain, n: u64, key: &SigningKey, role: &str) -> Envelope {
        let pk = key.public();
        let e = KeyEnrollment {
            key_id: pk.key_id().to_string(),
            public_key: pk.to_base64(),
            subject: format!("subject-{n}"),
            role: role.to_owned(),
            valid_from: "2026-01-01T00:00:00+08:00".into(),
            valid_until: None,
        };
        city.sign(id(n), "registry/keys", KEY_ENROLLED_KIND, "2026-01-01T08:00:00+08:00", payload(&e)).expect("sign")
    }

    fn reading(gw: &mut KeyedChain, n: u64) -> Envelope {
        let body = json!({"pm10_ug_m3": format!("4{n}.0")}).as_object().cloned().unwrap_or_default();
        let at = format!("2026-03-01T08:00:{:02}+08:00", n % 60);
        gw.sign(id(n), "project/P/d", "iot.dust.reading.v1", &at, body).expect("sign")
    }

    /// An ingest request whose signatures the sequencer checks itself (as for a key it learns in the group).
    fn request(envs: Vec<Envelope>) -> (Request, oneshot::Receiver<Result<Vec<IngestOutcome>, LedgerError>>) {
        let (reply, rx) = oneshot::channel();
        (Request::Ingest { items: envs.into_iter().map(|env| Item { env, sig: None }).collect(), reply }, rx)
    }

    async fn sequencer(path: &std::path::Path, city: &SigningKey) -> Sequencer<SqliteStore> {
        let mut config = LedgerConfig::new(
            NoteSigner::new("pipeline.test/log", SigningKey::from_seed(&[0x10; 32])).expect("log key"),
            SigningKey::from_seed(&[0x11; 32]),
        );
        config.trust_roots = vec![*city.public()];
        let shared = Arc::new(Shared {
            store: SqliteStore::open(path).await.expect("store"),
            verifier: config.log_signer.verifier(),
            origin: config.log_signer.name().to_owned(),
            public_keys: RwLock::new(HashMap::new()),
            revoked: RwLock::new(HashMap::new()),
            stats: RwLock::new(LedgerStats::default()),
            verifiers: crate::verifiers::Verifiers::start(),
        });
        let mut seq = Sequencer::load(shared, config).await.expect("load");
        seq.genesis().await.expect("genesis");
        seq
    }

    async fn answer(rx: oneshot::Receiver<Result<Vec<IngestOutcome>, LedgerError>>) -> Vec<IngestOutcome> {
        rx.await.expect("answered").expect("ingested")
    }

    fn position(o: &IngestOutcome) -> u64 {
        match o {
            IngestOutcome::Accepted { position } => *position,
            other => panic!("expected acceptance, got {other:?}"),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_group_decided_during_a_commit_sees_that_group() {
        let dir = tempfile::tempdir().expect("tmp");
        let city_key = SigningKey::from_seed(&[0x21; 32]);
        let mut seq = sequencer(&dir.path().join("l.db"), &city_key).await;
        let mut city = KeyedChain::new(SigningKey::from_seed(&[0x21; 32]));
        let a_key = SigningKey::from_seed(&[0x31; 32]);
        let b_key = SigningKey::from_seed(&[0x32; 32]);
        let mut a = KeyedChain::new(SigningKey::from_seed(&[0x31; 32]));
        let mut b = KeyedChain::new(SigningKey::from_seed(&[0x32; 32]));
        let root = enrol(&mut city, 1, &city_key, "city_bureau");
        let (r0, rx0) = request(vec![root, enrol(&mut city, 2, &a_key, "gateway")]);
        let flight = seq.process_group(vec![r0], None).await;
        assert!(flight.is_some(), "pipelined");
        assert!(seq.process_group(vec![], flight).await.is_none(), "an empty group lands the running commit");
        answer(rx0).await.iter().for_each(|o| {
            position(o);
        });

        // Group N: three readings of A and the enrolment of B.
        let n_records: Vec<Envelope> = (10..13).map(|n| reading(&mut a, n)).collect();
        let (rn, rxn) = request(n_records.iter().cloned().chain([enrol(&mut city, 3, &b_key, "gateway")]).collect());
        let flight_n = seq.process_group(vec![rn], None).await.expect("group N is committed in the background");
        assert!(seq.sealed.is_some());
        // Group N + 1, decided before N's answer: A's chain goes on from N, a re-post of N's last reading, another
        // record with N's first id, and a reading by B, whose key N enrols.
        let stranger = KeyedChain::new(SigningKey::from_seed(&[0x33; 32]))
            .sign(
                n_records[0].id(),
                "project/P/d",
                "iot.dust.reading.v1",
                "2026-03-01T08:00:00+08:00",
                serde_json::Map::new(),
            )
            .expect("sign");
        let (rn1, rxn1) = request(vec![reading(&mut a, 13), n_records[2].clone(), stranger, reading(&mut b, 14)]);
        let flight_n1 = seq.process_group(vec![rn1], Some(flight_n)).await.expect("group N + 1 pipelined");
        assert_eq!(seq.shared.stats.read().expect("stats").pipelined, 1);
        let out_n = answer(rxn).await;
        assert!(seq.process_group(vec![], Some(flight_n1)).await.is_none(), "landed");
        let out_n1 = answer(rxn1).await;
        let last_of_n = position(&out_n[2]);
        assert_eq!(position(&out_n1[0]), position(&out_n[3]) + 1, "{out_n1:?}");
        assert_eq!(out_n1[1], IngestOutcome::Duplicate { position: last_of_n });
        assert!(matches!(&out_n1[2], IngestOutcome::Rejected(Rejection::EventIdConflict { .. })), "{out_n1:?}");
        let _ = position(&out_n1[3]);
        let events = seq.shared.store.read_all(0, 100).await.expect("read");
        assert!(events.iter().all(|e| e.kind != SIGNER_GAP_KIND), "A's chain continued across the groups");
        assert_eq!(events.len() as u64, seq.state.head);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn when_a_commit_fails_the_group_decided_on_top_of_it_is_decided_again() {
        let dir = tempfile::tempdir().expect("tmp");
        let city_key = SigningKey::from_seed(&[0x21; 32]);
        let mut seq = sequencer(&dir.path().join("l.db"), &city_key).await;
        let mut city = KeyedChain::new(SigningKey::from_seed(&[0x21; 32]));
        let a_key = SigningKey::from_seed(&[0x31; 32]);
        let mut a = KeyedChain::new(SigningKey::from_seed(&[0x31; 32]));
        let (r0, rx0) =
            request(vec![enrol(&mut city, 1, &city_key, "city_bureau"), enrol(&mut city, 2, &a_key, "gateway")]);
        let flight = seq.process_group(vec![r0], None).await;
        assert!(seq.process_group(vec![], flight).await.is_none(), "landed");
        answer(rx0).await.iter().for_each(|o| {
            position(o);
        });
        let head = seq.state.head;

        // Group N is decided and sealed, but its commit "fails" as if another writer had appended first.
        let n_records: Vec<Envelope> = (10..13).map(|n| reading(&mut a, n)).collect();
        let (rn, rxn) = request(n_records.clone());
        let (bodies, senders): (Vec<Body>, Vec<Sender>) = vec![rn].into_iter().map(split).unzip();
        let g = seq.decide_group(&bodies).await.expect("decide N");
        let accepted = g.pending.events.len() as u64;
        let (commit, fold, (by_id, by_signer_seq, prevs)) = seq.prepare(g.pending, false).await.expect("prepare");
        seq.sealed = Some(Sealed { commit: Arc::new(commit), by_id, by_signer_seq, prevs, fold });
        let expected = seq.state.head;
        let done = tokio::spawn(async move { Err(StoreError::HeadMoved { expected, found: expected }) });
        let flight = Flight { done, bodies, senders, answers: g.answers, accepted };
        // Group N + 1 continues A's chain from N and re-posts N's last reading.
        let (rn1, rxn1) = request(vec![reading(&mut a, 13), n_records[2].clone()]);
        let rest = seq.process_group(vec![rn1], Some(flight)).await;
        assert!(seq.process_group(vec![], rest).await.is_none(), "landed");
        // N was decided again and committed for real; N + 1 after it, against it.
        let out_n = answer(rxn).await;
        let out_n1 = answer(rxn1).await;
        let positions: Vec<u64> = out_n.iter().map(position).collect();
        assert_eq!(positions, vec![head, head + 1, head + 2], "{out_n:?}");
        assert_eq!(out_n1[0], IngestOutcome::Accepted { position: head + 3 });
        assert_eq!(out_n1[1], IngestOutcome::Duplicate { position: head + 2 });
        let events = seq.shared.store.read_all(head, 100).await.expect("read");
        let ids: Vec<Uuid> = events.iter().map(|e| e.event_id).collect();
        let mut want: Vec<Uuid> = n_records.iter().map(Envelope::id).collect();
        want.push(id(13));
        assert_eq!(ids, want, "each record once, in order, no gap notice");
    }
}
