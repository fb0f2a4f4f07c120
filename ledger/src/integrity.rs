//! A whole store checked against its own tree and signed checkpoints, trusting nothing it holds: every leaf is
//! hashed again from its bytes, the tree is rebuilt from those hashes, every stored Merkle node must be the rebuilt
//! one, and every stored checkpoint must be signed by the log's key and name the rebuilt root at its size. This is
//! what `siteledger restore` runs on a restored ledger before it serves it (`docs/DEPLOY.md`, "Backups"); the
//! server's own start-up check reads only the stored nodes of the newest checkpoint.

use siteledger_signer::merkle::{Frontier, Hash, NodeId, empty_root, leaf_hash};
use siteledger_signer::{Checkpoint, NoteVerifier};

use crate::store::{EventStore, StoreError, StoredCheckpoint};

/// Leaves read per page.
const PAGE: usize = 4096;

/// What a store that passed [`verify_store`] holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeCheck {
    /// Number of records (the tree size at the head).
    pub size: u64,
    /// The tree's root at `size`, rebuilt from the leaves.
    pub root: Hash,
    /// How many stored checkpoints were verified (signature and root).
    pub checkpoints: u64,
    /// The newest stored checkpoint, verified.
    pub latest: Option<StoredCheckpoint>,
    /// Merkle nodes (levels ≥ 1) compared with the rebuilt ones.
    pub nodes: u64,
}

/// Why a store does not verify. Each variant names the position, node or checkpoint that is wrong.
#[derive(Debug, thiserror::Error)]
pub enum IntegrityError {
    /// The store could not be read.
    #[error("reading the log: {0}")]
    Store(#[from] StoreError),
    /// Positions are not dense: a record is missing (removed) or out of place.
    #[error("the log has no record at position {expected} (the next stored one is at {found}): a record was removed")]
    Gap {
        /// The position that should come next.
        expected: u64,
        /// The position found instead.
        found: u64,
    },
    /// The leaf's bytes do not hash to the stored leaf hash: the record was changed.
    #[error(
        "the record at position {position} was changed: its bytes hash to {actual}, the stored leaf hash is {stored}"
    )]
    Leaf {
        /// The record's position.
        position: u64,
        /// RFC 9162 leaf hash of the stored bytes (hex).
        actual: String,
        /// The stored leaf hash (hex).
        stored: String,
    },
    /// A stored Merkle node is not the one the leaves give.
    #[error("Merkle node (level {level}, index {index}) is not the hash the leaves give: the tree was altered")]
    Node {
        /// Level above the leaves.
        level: u8,
        /// Index within the level.
        index: u64,
    },
    /// A stored checkpoint does not match the tree or its signature does not verify.
    #[error("checkpoint at tree size {size}: {reason}")]
    Checkpoint {
        /// The checkpoint's tree size.
        size: u64,
        /// What is wrong.
        reason: String,
    },
}

fn hex(h: &Hash) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

/// Verifies every record, Merkle node and checkpoint of `store` (see the module documentation) with the log's
/// `verifier`. Reads the whole log once, in pages; memory stays bounded by a page and the list of checkpoints.
pub async fn verify_store<S: EventStore>(store: &S, verifier: &NoteVerifier) -> Result<TreeCheck, IntegrityError> {
    let head = store.head().await?;
    let mut checkpoints = Vec::new();
    let mut from = 0;
    loop {
        let page = store.checkpoints(from, 1000).await?;
        let Some(last) = page.last() else { break };
        from = last.size + 1;
        checkpoints.extend(page);
    }
    if let Some(beyond) = checkpoints.iter().find(|c| c.size > head) {
        return Err(IntegrityError::Checkpoint {
            size: beyond.size,
            reason: format!("it covers more records than the log holds ({head}): records were removed"),
        });
    }
    let mut pending = checkpoints.iter().peekable();
    let mut verified = 0u64;
    let mut check = |size: u64, root: &Hash, cp: &StoredCheckpoint| -> Result<(), IntegrityError> {
        let bad = |reason: String| IntegrityError::Checkpoint { size, reason };
        let signed = Checkpoint::open(&cp.note, verifier, false)
            .map_err(|e| bad(format!("its signature does not verify with the log key {}: {e}", verifier.vkey())))?;
        if signed.size != size || signed.root != cp.root {
            return Err(bad("the signed note does not say the stored size and root".into()));
        }
        if cp.root != *root {
            return Err(bad(format!(
                "the tree rebuilt from the leaves has root {}, the checkpoint signs {}",
                hex(root),
                hex(&cp.root)
            )));
        }
        verified += 1;
        Ok(())
    };
    while let Some(cp) = pending.next_if(|c| c.size == 0) {
        check(0, &empty_root(), cp)?;
    }

    let mut frontier = Frontier::new();
    let mut nodes_checked = 0u64;
    let mut created: Vec<(NodeId, Hash)> = Vec::with_capacity(PAGE * 2);
    while frontier.size() < head {
        let page = store.read_all(frontier.size(), PAGE).await?;
        if page.is_empty() {
            return Err(IntegrityError::Gap { expected: frontier.size(), found: head });
        }
        created.clear();
        for event in &page {
            if event.position != frontier.size() {
                return Err(IntegrityError::Gap { expected: frontier.size(), found: event.position });
            }
            let actual = leaf_hash(&event.leaf);
            if actual != event.leaf_hash {
                return Err(IntegrityError::Leaf {
                    position: event.position,
                    actual: hex(&actual),
                    stored: hex(&event.leaf_hash),
                });
            }
            frontier.push_into(actual, &mut created);
            while let Some(cp) = pending.next_if(|c| c.size == frontier.size()) {
                check(frontier.size(), &frontier.root(), cp)?;
            }
        }
        // The inner nodes this page completed must be the stored ones (proofs are served from them).
        let inner: Vec<(NodeId, Hash)> = created.iter().copied().filter(|(id, _)| id.level > 0).collect();
        for chunk in inner.chunks(PAGE) {
            let ids: Vec<NodeId> = chunk.iter().map(|(id, _)| *id).collect();
            let stored = store.read_nodes(&ids).await?;
            for ((id, want), got) in chunk.iter().zip(&stored) {
                if want != got {
                    return Err(IntegrityError::Node { level: id.level, index: id.index });
                }
            }
            nodes_checked += chunk.len() as u64;
        }
    }
    if let Some(cp) = pending.next() {
        return Err(IntegrityError::Checkpoint { size: cp.size, reason: "no such tree size in the log".into() });
    }
    Ok(TreeCheck {
        size: head,
        root: frontier.root(),
        checkpoints: verified,
        latest: checkpoints.last().cloned(),
        nodes: nodes_checked,
    })
}
