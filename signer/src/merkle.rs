//! The RFC 9162 §2.1 Merkle tree: hashes, inclusion and consistency proofs, and the storage-facing design.
//!
//! Storage model (what `ledger` persists): every *complete* subtree is a node `(level, index)` covering leaves
//! `[index·2^level, (index+1)·2^level)`; level 0 is the leaf hash. Complete nodes never change once written, so
//! they can live in an append-only table keyed by `(level, index)`.
//!
//! * Appending leaf `n` writes the leaf node plus one parent per trailing one bit of `n`: at most 1 + log2(n)
//!   writes and no reads, because [`Frontier`] keeps the right edge (≤ 64 hashes) in memory. After a restart the
//!   frontier is rebuilt from the ≤ 64 nodes named by [`Frontier::restore_plan`].
//! * A proof is a list of subtree hashes. Every subtree in an RFC 9162 proof starts at a multiple of the largest
//!   power of two below its length, so it decomposes into at most log2(n) complete nodes ([`range_nodes`]). A
//!   [`ProofPlan`] names all the nodes a proof needs up front (O(log n) of them, one read round-trip), and
//!   [`ProofPlan::assemble`] folds the fetched hashes into the proof. No I/O happens in this module.

use sha2::{Digest, Sha256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// RFC 9162 leaf hash: SHA-256(0x00 ‖ leaf bytes).
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(leaf);
    h.finalize().into()
}

/// RFC 9162 interior node hash: SHA-256(0x01 ‖ left ‖ right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// A complete subtree: leaves `[index << level, (index + 1) << level)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    /// Height above the leaves (0 = leaf).
    pub level: u8,
    /// Position among the nodes of that level.
    pub index: u64,
}

impl NodeId {
    /// Constructs a node id.
    pub const fn new(level: u8, index: u64) -> NodeId {
        NodeId { level, index }
    }
}

/// Why a proof cannot be produced or does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The request names a leaf or size the tree does not have: ask for something inside the tree.
    #[error("invalid proof request: {0}")]
    OutOfRange(String),
    /// The proof has the wrong number of hashes for the sizes given.
    #[error("proof has the wrong length")]
    WrongLength,
    /// The proof's hashes do not lead to the expected root.
    #[error("proof does not lead to the expected root hash")]
    RootMismatch,
    /// For a consistency proof: the recomputed old root differs from the given one.
    #[error("proof does not lead to the expected old root hash")]
    OldRootMismatch,
}

/// Largest power of two strictly smaller than `n` (n ≥ 2).
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// The complete nodes whose right fold is MTH(D[start:end]); `start` must be aligned as in RFC 9162 proofs.
pub fn range_nodes(start: u64, end: u64) -> Vec<NodeId> {
    let mut out = Vec::new();
    let mut s = start;
    while s < end {
        let len = end - s;
        let k = if len.is_power_of_two() { len } else { split_point(len) };
        let level = k.trailing_zeros() as u8;
        out.push(NodeId::new(level, s >> level));
        s += k;
    }
    out
}

/// Folds the hashes of [`range_nodes`] into the subtree hash (right-heavy, as RFC 9162 builds it).
pub fn fold_range(hashes: &[Hash]) -> Hash {
    let mut iter = hashes.iter().rev();
    let Some(last) = iter.next() else {
        return empty_root();
    };
    iter.fold(*last, |acc, left| node_hash(left, &acc))
}

/// The nodes a proof needs, and how to fold them into the proof (sans I/O).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofPlan {
    /// Each proof element is the hash of one leaf range `[start, end)`.
    ranges: Vec<(u64, u64)>,
}

impl ProofPlan {
    /// Plan for the inclusion proof of leaf `index` in the tree of `size` leaves (RFC 9162 §2.1.3.1).
    pub fn inclusion(index: u64, size: u64) -> Result<ProofPlan, ProofError> {
        if index >= size {
            return Err(ProofError::OutOfRange(format!("leaf {index} is not in a tree of size {size}")));
        }
        let mut ranges = Vec::new();
        inclusion_ranges(index, 0, size, &mut ranges);
        Ok(ProofPlan { ranges })
    }

    /// Plan for the consistency proof from size `old` to size `new` (RFC 9162 §2.1.4.1).
    /// `old == 0` and `old == new` give empty proofs.
    pub fn consistency(old: u64, new: u64) -> Result<ProofPlan, ProofError> {
        if old > new {
            return Err(ProofError::OutOfRange(format!("old size {old} is larger than new size {new}")));
        }
        let mut ranges = Vec::new();
        if old > 0 && old < new {
            subproof_ranges(old, 0, new, true, &mut ranges);
        }
        Ok(ProofPlan { ranges })
    }

    /// Every node to fetch, in order (duplicates possible; fetch them as listed).
    pub fn nodes(&self) -> Vec<NodeId> {
        self.ranges.iter().flat_map(|&(s, e)| range_nodes(s, e)).collect()
    }

    /// Folds the fetched node hashes (in [`ProofPlan::nodes`] order) into the proof's hashes.
    pub fn assemble(&self, fetched: &[Hash]) -> Result<Vec<Hash>, ProofError> {
        let mut out = Vec::with_capacity(self.ranges.len());
        let mut at = 0;
        for &(s, e) in &self.ranges {
            let n = range_nodes(s, e).len();
            let slice = fetched.get(at..at + n).ok_or(ProofError::WrongLength)?;
            out.push(fold_range(slice));
            at += n;
        }
        if at != fetched.len() {
            return Err(ProofError::WrongLength);
        }
        Ok(out)
    }
}

fn inclusion_ranges(m: u64, start: u64, end: u64, out: &mut Vec<(u64, u64)>) {
    let n = end - start;
    if n <= 1 {
        return;
    }
    let k = split_point(n);
    if m - start < k {
        inclusion_ranges(m, start, start + k, out);
        out.push((start + k, end));
    } else {
        inclusion_ranges(m, start + k, end, out);
        out.push((start, start + k));
    }
}

fn subproof_ranges(m: u64, start: u64, end: u64, complete: bool, out: &mut Vec<(u64, u64)>) {
    let n = end - start;
    if m == n {
        if !complete {
            out.push((start, end));
        }
        return;
    }
    let k = split_point(n);
    if m <= k {
        subproof_ranges(m, start, start + k, complete, out);
        out.push((start + k, end));
    } else {
        subproof_ranges(m - k, start + k, end, false, out);
        out.push((start, start + k));
    }
}

/// Read access to persisted complete nodes. Implemented by the in-memory tree here and by `ledger`'s stores.
pub trait NodeReader {
    /// The storage error.
    type Error;
    /// Returns the hashes of `ids`, in order. Every id names a complete node of the current tree.
    fn read_nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, Self::Error>;
}

/// Errors from proving against a store.
#[derive(Debug, thiserror::Error)]
pub enum ProveError<E> {
    /// The request was out of range.
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// The store failed.
    #[error("node store: {0}")]
    Store(E),
}

/// Produces an inclusion proof from a node store in one read.
pub fn prove_inclusion<R: NodeReader>(reader: &R, index: u64, size: u64) -> Result<Vec<Hash>, ProveError<R::Error>> {
    let plan = ProofPlan::inclusion(index, size)?;
    let fetched = reader.read_nodes(&plan.nodes()).map_err(ProveError::Store)?;
    Ok(plan.assemble(&fetched)?)
}

/// Produces a consistency proof from a node store in one read.
pub fn prove_consistency<R: NodeReader>(reader: &R, old: u64, new: u64) -> Result<Vec<Hash>, ProveError<R::Error>> {
    let plan = ProofPlan::consistency(old, new)?;
    let fetched = reader.read_nodes(&plan.nodes()).map_err(ProveError::Store)?;
    Ok(plan.assemble(&fetched)?)
}

/// The root hash of the first `size` leaves, read from a node store.
pub fn root_at<R: NodeReader>(reader: &R, size: u64) -> Result<Hash, R::Error> {
    if size == 0 {
        return Ok(empty_root());
    }
    Ok(fold_range(&reader.read_nodes(&range_nodes(0, size))?))
}

/// The right edge of the tree: the roots of its complete subtrees, largest first. Append without reads.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frontier {
    size: u64,
    /// Roots of the complete subtrees of [`range_nodes(0, size)`], left to right.
    hashes: Vec<Hash>,
}

impl Frontier {
    /// The empty tree.
    pub fn new() -> Frontier {
        Frontier::default()
    }

    /// The nodes to read to rebuild the frontier of a tree of `size` leaves (≤ 64).
    pub fn restore_plan(size: u64) -> Vec<NodeId> {
        range_nodes(0, size)
    }

    /// Rebuilds the frontier from the hashes of [`Frontier::restore_plan`].
    pub fn restore(size: u64, hashes: Vec<Hash>) -> Result<Frontier, ProofError> {
        if hashes.len() != size.count_ones() as usize {
            return Err(ProofError::WrongLength);
        }
        Ok(Frontier { size, hashes })
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash; returns the complete nodes that now exist and must be persisted.
    pub fn push(&mut self, leaf: Hash) -> Vec<(NodeId, Hash)> {
        let mut created = Vec::with_capacity(1 + self.size.trailing_ones() as usize);
        self.push_into(leaf, &mut created);
        created
    }

    /// Like [`Frontier::push`], appending the new nodes to `created` (no allocation per leaf).
    pub fn push_into(&mut self, leaf: Hash, created: &mut Vec<(NodeId, Hash)>) {
        let mut index = self.size;
        let mut level = 0u8;
        let mut h = leaf;
        created.push((NodeId::new(0, index), h));
        while index & 1 == 1 {
            // The left sibling is the last complete subtree on the frontier.
            let left = self.hashes.pop().unwrap_or_default();
            h = node_hash(&left, &h);
            level += 1;
            index >>= 1;
            created.push((NodeId::new(level, index), h));
        }
        self.hashes.push(h);
        self.size += 1;
    }

    /// The current root hash.
    pub fn root(&self) -> Hash {
        fold_range(&self.hashes)
    }
}

/// An in-memory tree holding every complete node; for tests, tools and benchmarks.
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    levels: Vec<Vec<Hash>>,
    frontier: Frontier,
}

impl MemoryTree {
    /// The empty tree.
    pub fn new() -> MemoryTree {
        MemoryTree::default()
    }

    /// Appends a leaf by its leaf hash; returns its index.
    pub fn push_hash(&mut self, leaf: Hash) -> u64 {
        let index = self.frontier.size();
        for (id, h) in self.frontier.push(leaf) {
            let level = id.level as usize;
            if self.levels.len() <= level {
                self.levels.resize_with(level + 1, Vec::new);
            }
            debug_assert_eq!(self.levels[level].len() as u64, id.index);
            self.levels[level].push(h);
        }
        index
    }

    /// Appends leaf bytes; returns the index.
    pub fn push(&mut self, leaf: &[u8]) -> u64 {
        self.push_hash(leaf_hash(leaf))
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// Root of the whole tree.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// Root of the first `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<Hash, ProofError> {
        if size > self.size() {
            return Err(ProofError::OutOfRange(format!("size {size} > tree size {}", self.size())));
        }
        root_at(self, size)
    }

    /// Inclusion proof of `index` in the tree of `size` leaves.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, ProofError> {
        if size > self.size() {
            return Err(ProofError::OutOfRange(format!("size {size} > tree size {}", self.size())));
        }
        prove_inclusion(self, index, size).map_err(flatten)
    }

    /// Consistency proof from `old` to `new` leaves.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, ProofError> {
        if new > self.size() {
            return Err(ProofError::OutOfRange(format!("size {new} > tree size {}", self.size())));
        }
        prove_consistency(self, old, new).map_err(flatten)
    }
}

fn flatten(e: ProveError<ProofError>) -> ProofError {
    match e {
        ProveError::Proof(p) | ProveError::Store(p) => p,
    }
}

impl NodeReader for MemoryTree {
    type Error = ProofError;
    fn read_nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, ProofError> {
        ids.iter()
            .map(|id| {
                self.levels
                    .get(id.level as usize)
                    .and_then(|l| l.get(id.index as usize))
                    .copied()
                    .ok_or_else(|| ProofError::OutOfRange(format!("node {id:?} does not exist yet")))
            })
            .collect()
    }
}

/// Verifies an inclusion proof (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::OutOfRange(format!("leaf {index} is not in a tree of size {size}")));
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return Err(ProofError::WrongLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongLength);
    }
    if &r != root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Verifies a consistency proof (RFC 9162 §2.1.4.2); also accepts the trivial cases `old == 0` and `old == new`
/// with an empty proof.
pub fn verify_consistency(
    old: u64,
    new: u64,
    proof: &[Hash],
    old_root: &Hash,
    new_root: &Hash,
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::OutOfRange(format!("old size {old} is larger than new size {new}")));
    }
    if old == new {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        return if old_root == new_root { Ok(()) } else { Err(ProofError::RootMismatch) };
    }
    if old == 0 {
        // Every tree extends the empty tree; only an empty proof is well formed.
        return if proof.is_empty() { Ok(()) } else { Err(ProofError::WrongLength) };
    }
    if proof.is_empty() {
        return Err(ProofError::WrongLength);
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let (mut fnode, mut snode) = (old - 1, new - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let mut fr = path[0];
    let mut sr = path[0];
    for c in &path[1..] {
        if snode == 0 {
            return Err(ProofError::WrongLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongLength);
    }
    if &fr != old_root {
        return Err(ProofError::OldRootMismatch);
    }
    if &sr != new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// MTH computed directly from the leaf hashes, by the RFC's recursive definition (reference for tests).
pub fn reference_root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split_point(n as u64) as usize;
            node_hash(&reference_root(&leaves[..k]), &reference_root(&leaves[k..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(n: u64) -> (MemoryTree, Vec<Hash>) {
        let mut t = MemoryTree::new();
        let mut leaves = Vec::new();
        for i in 0..n {
            let l = leaf_hash(format!("leaf {i}").as_bytes());
            leaves.push(l);
            t.push_hash(l);
        }
        (t, leaves)
    }

    #[test]
    fn roots_match_the_recursive_definition() {
        for n in 0..70u64 {
            let (t, leaves) = tree(n);
            assert_eq!(t.root(), reference_root(&leaves), "size {n}");
            for m in 0..=n {
                assert_eq!(t.root_at(m).expect("root"), reference_root(&leaves[..m as usize]));
            }
        }
    }

    #[test]
    fn every_proof_in_small_trees_verifies_and_wrong_ones_do_not() {
        let (t, leaves) = tree(40);
        for n in 1..=40u64 {
            let root = t.root_at(n).expect("root");
            for i in 0..n {
                let p = t.inclusion_proof(i, n).expect("proof");
                verify_inclusion(&leaves[i as usize], i, n, &p, &root).expect("verifies");
                if n > 1 {
                    assert!(verify_inclusion(&leaves[i as usize], (i + 1) % n, n, &p, &root).is_err());
                }
            }
            for m in 0..=n {
                let p = t.consistency_proof(m, n).expect("proof");
                let old = t.root_at(m).expect("root");
                verify_consistency(m, n, &p, &old, &root).expect("consistent");
                if m > 0 && m < n {
                    let mut bad = p.clone();
                    bad[0][0] ^= 1;
                    assert!(verify_consistency(m, n, &bad, &old, &root).is_err());
                }
            }
        }
    }

    #[test]
    fn proofs_read_logarithmically_many_nodes() {
        for &(i, n) in &[(0u64, 1_000_003u64), (999_999, 1_000_003), (524_287, 1_048_577)] {
            let nodes = ProofPlan::inclusion(i, n).expect("plan").nodes();
            assert!(nodes.len() <= 2 * 64, "{} nodes", nodes.len());
            let c = ProofPlan::consistency(i + 1, n).expect("plan").nodes();
            assert!(c.len() <= 3 * 64, "{} nodes", c.len());
        }
    }

    #[test]
    fn frontier_restores_from_persisted_nodes() {
        let (t, _) = tree(1000);
        for size in [0u64, 1, 2, 3, 7, 8, 999, 1000] {
            let hashes = t.read_nodes(&Frontier::restore_plan(size)).expect("nodes");
            let f = Frontier::restore(size, hashes).expect("restore");
            assert_eq!(f.root(), t.root_at(size).expect("root"));
        }
    }
}
