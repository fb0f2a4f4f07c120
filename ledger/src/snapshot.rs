//! Snapshots of the ingest policy's state (the domain's admission state), so that opening the ledger folds only the
//! records after the newest snapshot instead of the whole log, and the from-zero replay that checks them.
//!
//! * **Writing** ([`take`]): when the sequencer commits a checkpoint at least [`crate::LedgerConfig::snapshot_every`]
//!   records after the last snapshot, it serialises the policy's state (canonical bytes, [`Policy::snapshot`]) with
//!   the tree size and root it belongs to and a SHA-256 of the bytes, and stores it
//!   ([`EventStore::put_snapshot`]), keeping only the newest [`crate::LedgerConfig::snapshots_kept`].
//! * **Opening** ([`restore_newest`]): the newest snapshot whose format is the policy's, whose SHA-256 matches its
//!   bytes, whose root is the stored tree's root at its size, and whose bytes the policy accepts as canonical is
//!   restored; the records after it are replayed ([`replay`]). A snapshot failing any check is ignored with a
//!   warning and the next older one is tried; with none left the ledger replays from zero. A snapshot is a cache,
//!   never trusted blindly.
//! * **Checking** ([`verify_newest`]): replays the log from zero into an empty policy up to the newest snapshot's
//!   size and compares the canonical bytes with the stored ones (`siteledger ledger verify-snapshot`).

use sha2::{Digest, Sha256};
use siteledger_signer::Envelope;
use siteledger_signer::merkle::{Hash, fold_range, range_nodes};
use time::OffsetDateTime;

use crate::error::LedgerError;
use crate::store::{EventStore, StoreError, StoredEvent, StoredKey, StoredSnapshot};
use crate::system::{Policy, Record};

/// Rows per read while replaying.
const PAGE: usize = 4096;

/// SHA-256 of snapshot bytes.
pub fn sha256(bytes: &[u8]) -> Hash {
    Sha256::digest(bytes).into()
}

/// The policy's state now, as a snapshot of the tree of `size` leaves with root `root`. `None` if the policy keeps
/// no snapshots.
pub(crate) fn take(
    policy: &dyn Policy,
    size: u64,
    root: Hash,
    now: OffsetDateTime,
) -> Option<Result<StoredSnapshot, String>> {
    let format = policy.snapshot_format()?;
    Some(policy.snapshot().map(|state| StoredSnapshot {
        size,
        root,
        format: format.to_owned(),
        sha256: sha256(&state),
        state,
        created_at: now,
    }))
}

/// Root of the stored tree's first `size` leaves.
async fn root_at<S: EventStore>(store: &S, size: u64) -> Result<Hash, StoreError> {
    Ok(fold_range(&store.read_nodes(&range_nodes(0, size)).await?))
}

/// Why `snapshot` may not be restored into `policy` on a log of `head` records, or `None` if it may (the bytes are
/// then still to be accepted by [`Policy::restore`]).
async fn refuse<S: EventStore>(
    store: &S,
    policy: &dyn Policy,
    snapshot: &StoredSnapshot,
    head: u64,
) -> Result<Option<String>, StoreError> {
    if policy.snapshot_format() != Some(snapshot.format.as_str()) {
        return Ok(Some(format!(
            "its format {} is not this build's {}",
            snapshot.format,
            policy.snapshot_format().unwrap_or("(none)")
        )));
    }
    if snapshot.size > head {
        return Ok(Some(format!("its size exceeds the log's {head} records")));
    }
    if sha256(&snapshot.state) != snapshot.sha256 {
        return Ok(Some("its bytes do not match their SHA-256".to_owned()));
    }
    if root_at(store, snapshot.size).await? != snapshot.root {
        return Ok(Some("its root is not the log's root at its size".to_owned()));
    }
    Ok(None)
}

/// Restores the newest usable snapshot into `policy` (see the module documentation) and returns its size: the
/// position the replay continues from. `0` if there is none (the policy is then untouched).
pub(crate) async fn restore_newest<S: EventStore>(
    store: &S,
    policy: &dyn Policy,
    head: u64,
    kept: usize,
) -> Result<u64, LedgerError> {
    if policy.snapshot_format().is_none() {
        return Ok(0);
    }
    let snapshots = match store.snapshots(kept.max(1)).await {
        Ok(s) => s,
        Err(e @ StoreError::Corrupt(_)) => {
            tracing::warn!(error = %e, "the stored policy snapshots cannot be read: replaying the log from zero");
            return Ok(0);
        }
        Err(e) => return Err(e.into()),
    };
    for s in snapshots {
        let why = match refuse(store, policy, &s, head).await? {
            Some(why) => why,
            None => match policy.restore(&s.state) {
                Ok(()) => {
                    tracing::info!(size = s.size, bytes = s.state.len(), "admission state restored from a snapshot");
                    return Ok(s.size);
                }
                Err(e) => e,
            },
        };
        tracing::warn!(size = s.size, reason = %why, "ignoring a policy snapshot");
    }
    tracing::info!("no usable policy snapshot: replaying the log from zero");
    Ok(0)
}

/// Folds a stored record into `policy` (one envelope parse and one payload parse, for the kinds it keeps), with its
/// signer's enrolment from `key`. A leaf that does not parse is corrupt when `strict` and skipped otherwise.
pub(crate) fn fold<'k>(
    policy: &dyn Policy,
    key: impl Fn(&str) -> Option<&'k StoredKey>,
    e: &StoredEvent,
    strict: bool,
) -> Result<(), LedgerError> {
    if !policy.wants(&e.kind) {
        return Ok(());
    }
    let env = match Envelope::parse(&e.leaf) {
        Ok(env) => env,
        Err(err) if strict => {
            return Err(LedgerError::Store(StoreError::Corrupt(format!("position {}: {err}", e.position))));
        }
        Err(_) => return Ok(()),
    };
    if let Some(admitted) = policy.replay(&env) {
        let record = Record {
            event_id: e.event_id,
            stream: &e.stream,
            occurred_at: &e.occurred_at,
            signer_key_id: &e.signer,
            signer: key(&e.signer),
        };
        policy.accepted(&record, &admitted);
    }
    Ok(())
}

/// Folds the stored records `from..to` into `policy` (strictly: a leaf that does not parse is corrupt) and marks
/// them settled. Returns how many rows it read.
pub(crate) async fn replay<'k, S: EventStore>(
    store: &S,
    policy: &dyn Policy,
    key: impl Fn(&str) -> Option<&'k StoredKey> + Copy,
    from: u64,
    to: u64,
) -> Result<u64, LedgerError> {
    let mut next = from;
    let mut read = 0;
    while next < to {
        let limit = usize::try_from(to - next).map_or(PAGE, |n| n.min(PAGE));
        let page = store.read_all(next, limit).await?;
        let Some(last) = page.last() else { break };
        next = last.position + 1;
        read += page.len() as u64;
        for e in &page {
            fold(policy, key, e, true)?;
        }
    }
    policy.settled(true);
    Ok(read)
}

/// The outcome of [`verify_newest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotCheck {
    /// Tree size of the snapshot checked.
    pub size: u64,
    /// Its root, as stored.
    pub root: Hash,
    /// Whether that root is the stored tree's root at `size`.
    pub root_matches: bool,
    /// Its format, as stored.
    pub format: String,
    /// SHA-256 recorded with the snapshot.
    pub recorded_sha256: Hash,
    /// SHA-256 of the stored bytes.
    pub stored_sha256: Hash,
    /// SHA-256 of the from-zero replay's bytes.
    pub replayed_sha256: Hash,
    /// Length of the stored bytes.
    pub stored_len: usize,
    /// Length of the from-zero replay's bytes.
    pub replayed_len: usize,
}

impl SnapshotCheck {
    /// The snapshot is exactly what a from-zero replay gives: same root, same format, intact, same bytes.
    pub fn equal(&self) -> bool {
        self.root_matches
            && self.recorded_sha256 == self.stored_sha256
            && self.stored_sha256 == self.replayed_sha256
            && self.stored_len == self.replayed_len
    }
}

/// Replays the log from zero into `fresh` (a policy with an empty state) up to the newest stored snapshot's size,
/// and compares its canonical bytes with the snapshot's. `None` if the store holds no snapshot. Refuses a format
/// `fresh` does not write.
pub async fn verify_newest<S: EventStore>(store: &S, fresh: &dyn Policy) -> Result<Option<SnapshotCheck>, LedgerError> {
    let Some(s) = store.snapshots(1).await?.into_iter().next() else {
        return Ok(None);
    };
    if fresh.snapshot_format() != Some(s.format.as_str()) {
        return Err(LedgerError::InvalidRequest(format!(
            "the newest snapshot (size {}) has format {}, which this build does not write ({})",
            s.size,
            s.format,
            fresh.snapshot_format().unwrap_or("no snapshots")
        )));
    }
    let head = store.head().await?;
    let root_matches = s.size <= head && root_at(store, s.size).await? == s.root;
    let keys = store.keys().await?;
    let by_id: std::collections::HashMap<&str, &StoredKey> = keys.iter().map(|k| (k.key_id.as_str(), k)).collect();
    replay(store, fresh, |id| by_id.get(id).copied(), 0, s.size.min(head)).await?;
    let replayed = fresh.snapshot().map_err(LedgerError::InvalidRequest)?;
    Ok(Some(SnapshotCheck {
        size: s.size,
        root: s.root,
        root_matches,
        format: s.format,
        recorded_sha256: s.sha256,
        stored_sha256: sha256(&s.state),
        replayed_sha256: sha256(&replayed),
        stored_len: s.state.len(),
        replayed_len: replayed.len(),
    }))
}
