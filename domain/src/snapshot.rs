//! The admission state's canonical bytes: [`DomainState::to_snapshot`] and [`DomainState::from_snapshot`], so the
//! ledger can store the state at a checkpoint and reload it instead of folding the whole log at start-up.
//!
//! Canonical means that equal states give equal bytes: JSON with struct members in declaration order, every map as
//! an array of `[key, value]` pairs in key order (most keys are tuples, which a JSON object cannot hold), and every
//! hash set or hash map sorted. [`DomainState::from_snapshot`] refuses bytes that are not exactly the canonical
//! form of what they decode to, so a snapshot is either byte-identical to a fresh serialisation or not used.
//!
//! [`SNAPSHOT_FORMAT`] names the layout *and* what the fold remembers: bump it whenever a state type changes shape
//! or [`DomainState::wants`] / an `evolve` folds something it did not before, so that a snapshot written by an older
//! build is ignored (the ledger then replays from zero) rather than restored into a state the rules misread.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::rules::DomainState;

/// The snapshot layout this build writes and reads (see the module documentation for when to bump it).
pub const SNAPSHOT_FORMAT: &str = "siteledger.domain-state.v1";

/// Why snapshot bytes were not restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// The bytes do not decode to a state (truncated, flipped, or written by a different layout).
    #[error("the admission-state snapshot does not decode: {0}")]
    Decode(String),
    /// The bytes decode, but are not the canonical form of what they decode to (reordered, padded, duplicated).
    #[error("the admission-state snapshot is not in canonical form")]
    NotCanonical,
    /// The state could not be serialised (a bug: every member type serialises).
    #[error("the admission state could not be serialised: {0}")]
    Encode(String),
}

impl DomainState {
    /// The canonical bytes of this state (see the module documentation).
    pub fn to_snapshot(&self) -> Result<Vec<u8>, SnapshotError> {
        serde_json::to_vec(self).map_err(|e| SnapshotError::Encode(e.to_string()))
    }

    /// The state whose canonical bytes are `bytes`; anything else is refused.
    pub fn from_snapshot(bytes: &[u8]) -> Result<DomainState, SnapshotError> {
        let state: DomainState = serde_json::from_slice(bytes).map_err(|e| SnapshotError::Decode(e.to_string()))?;
        if state.to_snapshot()? != bytes {
            return Err(SnapshotError::NotCanonical);
        }
        Ok(state)
    }
}

/// A `BTreeMap` as an array of `[key, value]` pairs in key order (keys need not be strings).
pub(crate) mod pairs {
    use super::*;

    pub(crate) fn serialize<K: Serialize, V: Serialize, S: Serializer>(
        map: &BTreeMap<K, V>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(map.iter())
    }

    pub(crate) fn deserialize<'de, K, V, D>(d: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        K: DeserializeOwned + Ord,
        V: DeserializeOwned,
        D: Deserializer<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(d)?.into_iter().collect())
    }
}

/// A `HashSet` as a sorted array.
pub(crate) mod sorted_set {
    use super::*;

    pub(crate) fn serialize<T: Serialize + Ord, S: Serializer>(set: &HashSet<T>, s: S) -> Result<S::Ok, S::Error> {
        let mut items: Vec<&T> = set.iter().collect();
        items.sort_unstable();
        s.collect_seq(items)
    }

    pub(crate) fn deserialize<'de, T, D>(d: D) -> Result<HashSet<T>, D::Error>
    where
        T: DeserializeOwned + Eq + std::hash::Hash,
        D: Deserializer<'de>,
    {
        Ok(Vec::<T>::deserialize(d)?.into_iter().collect())
    }
}

/// A `HashMap` as an array of `[key, value]` pairs in key order.
pub(crate) mod sorted_map {
    use super::*;

    pub(crate) fn serialize<K: Serialize + Ord, V: Serialize, S: Serializer>(
        map: &HashMap<K, V>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut items: Vec<(&K, &V)> = map.iter().collect();
        items.sort_unstable_by(|a, b| a.0.cmp(b.0));
        s.collect_seq(items)
    }

    pub(crate) fn deserialize<'de, K, V, D>(d: D) -> Result<HashMap<K, V>, D::Error>
    where
        K: DeserializeOwned + Eq + std::hash::Hash,
        V: DeserializeOwned,
        D: Deserializer<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(d)?.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_bytes_that_are_not_canonical_or_not_this_layout_are_refused() {
        let bytes = DomainState::new().to_snapshot().expect("serialise");
        assert_eq!(DomainState::from_snapshot(&bytes), Ok(DomainState::new()));
        // The same state with a space added decodes, but is not the canonical form: refused.
        let mut spaced = b" ".to_vec();
        spaced.extend_from_slice(&bytes);
        assert_eq!(DomainState::from_snapshot(&spaced), Err(SnapshotError::NotCanonical));
        // A member this layout does not know (another build's state): refused, not ignored.
        let text = String::from_utf8(bytes).expect("utf-8");
        let other = text.replacen('{', r#"{"extra":1,"#, 1);
        assert!(matches!(DomainState::from_snapshot(other.as_bytes()), Err(SnapshotError::Decode(_))));
        assert!(matches!(DomainState::from_snapshot(b"{\"registry\""), Err(SnapshotError::Decode(_))));
    }
}
