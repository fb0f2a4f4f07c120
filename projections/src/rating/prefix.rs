//! The log's first N records folded for ratings, credit and reports (星级评定、信用评价、年度督查): from record 0, or
//! resumed from a fold snapshot in the read database ([`super::snapshots`]).
//!
//! [`LogPrefix::load`] is the from-zero computation (what an auditor runs, and what every result must equal);
//! [`LogPrefix::load_with`] starts from the newest usable snapshot at or below N (same credit rules, bytes
//! matching their digest, root matching the log's tree at that size) and folds only the records after it, then
//! leaves a snapshot at N when it folded at least [`SNAPSHOT_EVERY`] records or started from record 0, so the
//! next computation starts there; the projections runtime also leaves snapshots by itself at checkpoint sizes as
//! the log grows ([`take_fold_snapshots`], every [`EAGER_SNAPSHOT_EVERY`] records). Pages are read on the async task
//! and parsed and folded on Tokio's blocking pool. The fold is record by record and deterministic, so both give the same [`RatingFold`] (the tests compare
//! its canonical bytes, and the reports, decisions and scores computed from it).
//!
//! Everything here reads the event store ([`EventStore::read_all`]), never the read models: the snapshot is the
//! fold's own state, checked against the log before use.

use serde_json::Value;
use sha2::{Digest, Sha256};
use siteledger_domain::LocalDate;
use siteledger_domain::rating::credit::CreditRules;
use siteledger_domain::rating::fold::{LogRecord, RatingFold};
use siteledger_domain::rating::policy::RatingPolicy;
use siteledger_ledger::{Direction, EventStore, StoreError, StoredEvent};
use siteledger_signer::Envelope;
use siteledger_signer::canonical::to_canonical;

use super::snapshots::{NewSnapshot, SnapshotMeta};
use crate::ReadDb;

/// Records read per store call.
pub const PAGE: usize = 1000;

/// A computation that folded at least this many records after its starting point leaves a snapshot at its size.
/// It bounds the records a computation at the log's head folds (about this many plus what arrived since the last
/// computation), and the snapshot writes (at most one per this many records, thinned by the table's bound).
pub const SNAPSHOT_EVERY: u64 = 2_000;

/// Records between two snapshots the projections runtime takes by itself, at the latest checkpoint's size, as the
/// log grows (the default of [`ReadDb::set_fold_snapshot_every`]): a first computation after a long ingest folds at
/// most about this many records plus those after the latest checkpoint, whatever the log's length. The same
/// cadence as the ledger's admission-state snapshots; the table stays within the bound of [`super::snapshots`].
pub const EAGER_SNAPSHOT_EVERY: u64 = 16_384;

/// What the projections runtime's two snapshots may write per record each, at most (about): a state of B bytes is
/// written again only B ÷ this many records after the last, if that is more than [`EAGER_SNAPSHOT_EVERY`]
/// (`runtime::eager_gap`). The same bound as the ledger's admission-state snapshots (docs/LEDGER.md).
pub const EAGER_SNAPSHOT_BYTES_PER_RECORD: u64 = 256;

/// Snapshots tried, newest first, before folding from record 0.
const CANDIDATES: usize = 4;

/// Why a rating computation failed.
#[derive(Debug, thiserror::Error)]
pub enum RatingError {
    /// The store failed.
    #[error("event store: {0}")]
    Store(#[from] StoreError),
    /// The request is impossible (size beyond the log, unknown policy version, unknown project).
    #[error("{0}")]
    Invalid(String),
    /// The stored log is not what it should be.
    #[error("log inconsistent: {0}")]
    Corrupt(String),
}

/// The log's first `size` records, folded.
#[derive(Debug, Clone)]
pub struct LogPrefix {
    /// Tree size N.
    pub size: u64,
    /// The fold.
    pub fold: RatingFold,
    /// The snapshot's size the fold resumed from (0: from record 0).
    pub resumed_from: u64,
    /// Records this computation read and folded (`size - resumed_from`).
    pub folded: u64,
}

/// The root hash of the log's tree of size `size`.
pub async fn root_at<S: EventStore>(store: &S, size: u64) -> Result<siteledger_signer::merkle::Hash, RatingError> {
    let nodes = store.read_nodes(&siteledger_signer::merkle::range_nodes(0, size)).await?;
    Ok(siteledger_signer::merkle::fold_range(&nodes))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Runs CPU-bound work (parsing envelopes, folding, (de)serialising a fold's state) on Tokio's blocking pool, so
/// that a computation over many records never holds an async worker (the server's requests, the projections'
/// folds and sqlx's connections share those: ENGINEERING-NOTES "Blocking the runtime").
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, RatingError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| RatingError::Corrupt(format!("fold task failed: {e}")))
}

/// Folds every fold in `folds` up to `size`, reading and parsing each record once for all of them: a fold of size
/// k (its first k records folded) takes the records from k on. Pages are read on the async task and parsed and
/// folded on the blocking pool, page by page.
async fn fold_together<S: EventStore>(
    store: &S,
    folds: Vec<RatingFold>,
    size: u64,
) -> Result<Vec<RatingFold>, RatingError> {
    Ok(fold_observing(store, folds, size, (), |(), _, _| {}).await?.0)
}

/// As [`fold_together`], handing every record read (from the smallest fold's size to `size`, in order) to
/// `observe` with `state`, on the blocking pool too; gives the state back.
async fn fold_observing<S: EventStore, T: Send + 'static>(
    store: &S,
    mut folds: Vec<RatingFold>,
    size: u64,
    mut state: T,
    observe: fn(&mut T, &StoredEvent, &Envelope),
) -> Result<(Vec<RatingFold>, T), RatingError> {
    let head = store.head().await?;
    if size > head {
        return Err(RatingError::Invalid(format!("tree size {size} exceeds the log size {head}")));
    }
    if let Some(f) = folds.iter().find(|f| f.size > size) {
        return Err(RatingError::Invalid(format!("a fold of {} records cannot be folded to {size}", f.size)));
    }
    let mut next = folds.iter().map(|f| f.size).min().unwrap_or(size);
    while next < size {
        let want = usize::try_from((size - next).min(PAGE as u64)).unwrap_or(PAGE);
        let page = store.read_all(next, want).await?;
        if page.is_empty() {
            return Err(RatingError::Corrupt(format!("no record at position {next}")));
        }
        let start = next;
        let (back, at, st) = blocking(move || {
            fold_page(folds, &page, start, size, &mut |e, env| observe(&mut state, e, env))
                .map(|(f, at)| (f, at, state))
        })
        .await??;
        (folds, next, state) = (back, at, st);
    }
    Ok((folds, state))
}

/// Folds one page of stored records, which must start at `next`, up to `size`, into each fold that has folded
/// exactly the records before it, and hands each record to `observe`; returns the folds and the next position.
fn fold_page(
    mut folds: Vec<RatingFold>,
    page: &[StoredEvent],
    mut next: u64,
    size: u64,
    observe: &mut impl FnMut(&StoredEvent, &Envelope),
) -> Result<(Vec<RatingFold>, u64), RatingError> {
    for e in page {
        if next >= size {
            break;
        }
        if e.position != next {
            return Err(RatingError::Corrupt(format!("expected position {next}, read {}", e.position)));
        }
        let env = Envelope::parse(&e.leaf).map_err(|err| RatingError::Corrupt(err.to_string()))?;
        let id = e.event_id.to_string();
        let record = LogRecord {
            position: e.position,
            event_id: &id,
            stream: &e.stream,
            kind: &e.kind,
            occurred_at: &e.occurred_at,
            signer: &e.signer,
            payload: env.payload(),
        };
        for fold in folds.iter_mut().filter(|f| f.size == next) {
            fold.apply(&record);
        }
        observe(e, &env);
        next += 1;
    }
    Ok((folds, next))
}

/// Writes `fold` (folded with the credit rules of `rules_version`) as a snapshot at its size; gives the fold back
/// with the bytes of its state.
async fn save_fold<S: EventStore>(
    store: &S,
    db: &ReadDb,
    fold: RatingFold,
    rules_version: Option<u32>,
) -> Result<(RatingFold, usize), RatingError> {
    let size = fold.size;
    if size == 0 {
        return Ok((fold, 0));
    }
    let (fold, state, sha256) = blocking(move || {
        let value = serde_json::to_value(&fold).map_err(|e| RatingError::Corrupt(format!("fold state: {e}")))?;
        let state = String::from_utf8(to_canonical(&value))
            .map_err(|e| RatingError::Corrupt(format!("fold state: canonical JSON is not UTF-8: {e}")))?;
        let sha256 = sha256_hex(state.as_bytes());
        Ok::<_, RatingError>((fold, state, sha256))
    })
    .await??;
    let root = hex::encode(root_at(store, size).await?);
    let last = store.read_all(size - 1, 1).await?;
    let last = last.first().ok_or_else(|| RatingError::Corrupt(format!("no record at {}", size - 1)))?;
    let day = siteledger_domain::time::shanghai_date(last.recorded_at);
    let day = LocalDate::try_from(day).map_or_else(|_| day.to_string(), |d| d.to_string());
    let bytes = state.len();
    let meta = SnapshotMeta { rules_version: rules_version.unwrap_or(0), tree_size: size, root, sha256, day };
    db.save_fold_snapshot(&NewSnapshot { meta, state })
        .await
        .map_err(|e| RatingError::Corrupt(format!("read database: {e}")))?;
    Ok((fold, bytes))
}

impl LogPrefix {
    /// Folds the log's first `size` records from record 0; credit records are derived with the credit rules of
    /// version `rules_version` if given (they must be published within the prefix). The auditor's from-zero
    /// recomputation, and the reference every incremental computation equals.
    pub async fn load<S: EventStore>(store: &S, size: u64, rules_version: Option<u32>) -> Result<Self, RatingError> {
        Self::load_with(store, None, size, rules_version).await
    }

    /// As [`LogPrefix::load`] (from record 0), handing every record (stored row and parsed envelope, in order) to
    /// `observe` with `state` as it is folded, on Tokio's blocking pool; gives the state back. One read of the
    /// prefix for a computation that needs both the fold and something of the records (the auditor's replay).
    pub async fn load_observing<S: EventStore, T: Send + 'static>(
        store: &S,
        size: u64,
        rules_version: Option<u32>,
        state: T,
        observe: fn(&mut T, &StoredEvent, &Envelope),
    ) -> Result<(Self, T), RatingError> {
        let rules = match rules_version {
            Some(v) => Some(credit_rules_at(store, size, v).await?),
            None => None,
        };
        let (mut folds, state) = fold_observing(store, vec![RatingFold::new(rules)], size, state, observe).await?;
        let fold = folds.pop().ok_or_else(|| RatingError::Corrupt("the fold was lost".to_owned()))?;
        Ok((Self { size, fold, resumed_from: 0, folded: size }, state))
    }

    /// As [`LogPrefix::load`], resumed from the newest usable snapshot in `snapshots` at or below `size` (with
    /// `None`, from record 0). A snapshot that does not hash to its digest, whose root differs from the log's at
    /// its size, that does not parse or was folded with other credit rules is ignored with a warning and deleted.
    /// Leaves a snapshot at `size` when it folded at least [`SNAPSHOT_EVERY`] records or found no snapshot to
    /// start from; a snapshot that cannot be read or written only costs time (a warning), never the result.
    pub async fn load_with<S: EventStore>(
        store: &S,
        snapshots: Option<&ReadDb>,
        size: u64,
        rules_version: Option<u32>,
    ) -> Result<Self, RatingError> {
        let rules = match rules_version {
            Some(v) => Some(credit_rules_at(store, size, v).await?),
            None => None,
        };
        let restored = match snapshots {
            Some(db) => restore(store, db, size, rules_version.unwrap_or(0), rules.as_ref()).await?,
            None => None,
        };
        let start = restored.unwrap_or_else(|| RatingFold::new(rules));
        let resumed_from = start.size;
        let fold = fold_together(store, vec![start], size)
            .await?
            .pop()
            .ok_or_else(|| RatingError::Corrupt("the fold was lost".to_owned()))?;
        let prefix = Self { size, fold, resumed_from, folded: size - resumed_from };
        // A fold from record 0 is the expensive case: the first computation leaves a snapshot whatever its size.
        let worth_keeping = prefix.folded >= SNAPSHOT_EVERY || (resumed_from == 0 && prefix.folded > 0);
        if let Some(db) = snapshots
            && worth_keeping
            && let Err(e) = prefix.save_snapshot(store, db, rules_version).await
        {
            tracing::warn!(error = %e, tree_size = size, "rating fold snapshot not written; the next computation folds more records");
        }
        Ok(prefix)
    }

    /// Writes this fold as a snapshot at its size (the fold must have been loaded with the credit rules of
    /// `rules_version`). Called by [`LogPrefix::load_with`]; callable to take one at a chosen size.
    pub async fn save_snapshot<S: EventStore>(
        &self,
        store: &S,
        db: &ReadDb,
        rules_version: Option<u32>,
    ) -> Result<(), RatingError> {
        save_fold(store, db, self.fold.clone(), rules_version).await.map(drop)
    }

    /// The policy of `version`, published within the prefix.
    pub fn policy(&self, version: u32) -> Result<&RatingPolicy, RatingError> {
        self.fold.policies.get(&version).map(|(_, p)| p).ok_or_else(|| {
            RatingError::Invalid(format!(
                "policy version {version} is not published in the log's first {} records",
                self.size
            ))
        })
    }

    /// The newest policy version published within the prefix.
    pub fn latest_policy_version(&self) -> Option<u32> {
        self.fold.policies.keys().next_back().copied()
    }

    /// The canonical bytes (RFC 8785) of the fold's state: what a snapshot stores, and what two computations of
    /// the same prefix must agree on.
    pub fn state_bytes(&self) -> Vec<u8> {
        to_canonical(&serde_json::to_value(&self.fold).unwrap_or(Value::Null))
    }
}

/// The newest usable snapshot at or below `size`, checked against the log; unusable ones are deleted.
async fn restore<S: EventStore>(
    store: &S,
    db: &ReadDb,
    size: u64,
    rules_version: u32,
    rules: Option<&CreditRules>,
) -> Result<Option<RatingFold>, RatingError> {
    let candidates = match db.fold_snapshots(rules_version, size, CANDIDATES).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "rating fold snapshots unreadable: folding from record 0");
            return Ok(None);
        }
    };
    for meta in candidates {
        let state = match db.fold_snapshot_state(rules_version, meta.tree_size).await {
            Ok(Some(s)) => s,
            Ok(None) => continue, // deleted meanwhile by another computation's thinning
            Err(e) => {
                tracing::warn!(error = %e, tree_size = meta.tree_size, "rating fold snapshot unreadable");
                continue;
            }
        };
        match check(store, &meta, &state, rules).await? {
            Ok(fold) => return Ok(Some(fold)),
            Err(why) => {
                tracing::warn!(
                    tree_size = meta.tree_size,
                    rules_version,
                    reason = %why,
                    "rating fold snapshot ignored and deleted (not trusted): folding from an older one or record 0"
                );
                if let Err(e) = db.delete_fold_snapshot(rules_version, meta.tree_size).await {
                    tracing::warn!(error = %e, "rating fold snapshot not deleted");
                }
            }
        }
    }
    Ok(None)
}

/// Checks a stored snapshot against its digest and the log; the outer error is the store's, the inner one why the
/// snapshot is unusable.
async fn check<S: EventStore>(
    store: &S,
    meta: &SnapshotMeta,
    state: &str,
    rules: Option<&CreditRules>,
) -> Result<Result<RatingFold, String>, RatingError> {
    let root = hex::encode(root_at(store, meta.tree_size).await?);
    if root != meta.root {
        return Ok(Err(format!(
            "the log's root at size {} is {root}, the snapshot says {}",
            meta.tree_size, meta.root
        )));
    }
    let (state, want) = (state.to_owned(), meta.sha256.clone());
    let parsed = blocking(move || {
        let digest = sha256_hex(state.as_bytes());
        if digest != want {
            return Err(format!("state bytes hash to {digest}, the snapshot says {want}"));
        }
        serde_json::from_str::<RatingFold>(&state).map_err(|e| format!("state does not parse: {e}"))
    })
    .await?;
    let fold = match parsed {
        Ok(f) => f,
        Err(why) => return Ok(Err(why)),
    };
    if fold.size != meta.tree_size {
        return Ok(Err(format!("state holds {} records, the snapshot says {}", fold.size, meta.tree_size)));
    }
    if fold.rules() != rules {
        return Ok(Err("state was folded with other credit rules".to_owned()));
    }
    Ok(Ok(fold))
}

/// The folds the projections runtime carries from one of its snapshots to the next ([`take_fold_snapshots`]), so
/// that each snapshot folds only the records since the previous one, without reading a state back.
#[derive(Debug, Default)]
pub struct EagerFolds {
    /// Without credit rules: what rating decisions and annual reports start from.
    plain: Option<RatingFold>,
    /// With the newest credit rules published (their version): what credit scores start from.
    credit: Option<(u32, RatingFold)>,
    /// Bytes of the larger state the last call wrote.
    state_bytes: usize,
}

impl EagerFolds {
    /// Bytes of the larger state the last [`take_fold_snapshots`] wrote (0 before the first): the runtime takes
    /// the next one later for a large state.
    pub fn state_bytes(&self) -> usize {
        self.state_bytes
    }

    /// Records folded by the plain fold held (0 if none is held).
    pub fn size(&self) -> u64 {
        self.plain.as_ref().map_or(0, |f| f.size)
    }
}

/// Leaves fold snapshots at `size` (a checkpoint's size): one without credit rules (what rating decisions and annual
/// reports start from) and one with the newest credit rules published within the first `size` records, if any
/// (what credit scores start from). Each continues the fold carried in `folds` from the previous call, or, for one
/// not carried (the first call, new credit rules, an error before), the newest usable stored snapshot (or record
/// 0). The records after them are read and parsed once for both. The projections runtime calls it as the log grows,
/// so no request has to fold the log from record 0. On an error `folds` is left empty (the next call starts from
/// the stored snapshots).
pub async fn take_fold_snapshots<S: EventStore>(
    store: &S,
    db: &ReadDb,
    size: u64,
    folds: &mut EagerFolds,
) -> Result<(), RatingError> {
    let held = std::mem::take(folds);
    let mut all = vec![resume(store, db, size, 0, None, held.plain).await?];
    let version = latest_rules_version(store, size).await?;
    if let Some(v) = version {
        let rules = credit_rules_at(store, size, v).await?;
        all.push(resume(store, db, size, v, Some(rules), held.credit.map(|(_, f)| f)).await?);
    }
    let mut all = fold_together(store, all, size).await?.into_iter();
    let (plain, plain_bytes) = match all.next() {
        Some(f) => save_fold(store, db, f, None).await?,
        None => return Err(RatingError::Corrupt("the fold was lost".to_owned())),
    };
    let (credit, credit_bytes) = match (version, all.next()) {
        (Some(v), Some(f)) => {
            let (f, bytes) = save_fold(store, db, f, Some(v)).await?;
            (Some((v, f)), bytes)
        }
        _ => (None, 0),
    };
    *folds = EagerFolds { plain: Some(plain), credit, state_bytes: plain_bytes.max(credit_bytes) };
    Ok(())
}

/// The fold to continue to `size` with the credit rules `rules` (of `rules_version`): `held` if it was folded with
/// them, is not beyond `size` and no stored snapshot is nearer to `size` (one a computation left since); otherwise
/// the newest usable stored snapshot, or record 0.
async fn resume<S: EventStore>(
    store: &S,
    db: &ReadDb,
    size: u64,
    rules_version: u32,
    rules: Option<CreditRules>,
    held: Option<RatingFold>,
) -> Result<RatingFold, RatingError> {
    let stored = match db.fold_snapshots(rules_version, size, 1).await {
        Ok(s) => s.first().map_or(0, |m| m.tree_size),
        Err(_) => 0, // `restore` below says why, if it is still unreadable
    };
    if let Some(fold) = held
        && fold.size <= size
        && fold.size >= stored
        && fold.rules() == rules.as_ref()
    {
        return Ok(fold);
    }
    Ok(restore(store, db, size, rules_version, rules.as_ref()).await?.unwrap_or_else(|| RatingFold::new(rules)))
}

/// The credit rules of `version` as published within the first `size` records (read from their stream).
pub async fn credit_rules_at<S: EventStore>(store: &S, size: u64, version: u32) -> Result<CreditRules, RatingError> {
    let events =
        store.read_stream(siteledger_domain::rating::CREDIT_RULES_STREAM, 0, Direction::Forward, 10_000).await?;
    for e in events.iter().filter(|e| e.position < size && e.kind == siteledger_domain::rating::CREDIT_RULES) {
        let env = Envelope::parse(&e.leaf).map_err(|err| RatingError::Corrupt(err.to_string()))?;
        if let Ok(rules) = serde_json::from_value::<CreditRules>(Value::Object(env.payload().clone()))
            && rules.version == version
        {
            return Ok(rules);
        }
    }
    Err(RatingError::Invalid(format!(
        "credit rules version {version} are not published in the log's first {size} records"
    )))
}

/// The newest credit rules version published within the first `size` records, if any.
pub async fn latest_rules_version<S: EventStore>(store: &S, size: u64) -> Result<Option<u32>, RatingError> {
    let events =
        store.read_stream(siteledger_domain::rating::CREDIT_RULES_STREAM, 0, Direction::Forward, 10_000).await?;
    let mut best = None;
    for e in events.iter().filter(|e| e.position < size) {
        let env = Envelope::parse(&e.leaf).map_err(|err| RatingError::Corrupt(err.to_string()))?;
        if let Some(v) = env.payload().get("version").and_then(Value::as_u64).and_then(|v| u32::try_from(v).ok()) {
            best = best.max(Some(v));
        }
    }
    Ok(best)
}
