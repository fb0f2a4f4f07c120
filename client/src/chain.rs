//! [`MemoryChain`]: a producer's signer chain (`seq`, `prev`; docs/FORMAT.md §3) kept in memory, for producers that
//! sign in-process and resume from the ledger's stored head themselves (the demo city's simulated parties, the load
//! bench's writers). A producer that must survive a crash without the ledger's help keeps its chain in the
//! [`crate::outbox::Outbox`] instead, which uses this type inside its one SQLite transaction. [`KeyedChain`] is a
//! key together with its memory chain, for callers (tests, benches, fixtures) that sign as several parties at once.

use serde_json::{Map, Value};
use siteledger_signer::envelope::{EnvelopeError, SignerChain};
use siteledger_signer::keys::EnvelopeSigner;
use siteledger_signer::{Envelope, Hash, SigningKey};
use uuid::Uuid;

use crate::record::{Record, RecordError};

/// Why [`MemoryChain::sign_record`] signed nothing.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The record does not fit its kind (the member is named).
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The envelope could not be built (a member outside the canonical form).
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
}

/// A signer chain in memory: the next `seq` and the leaf hash of the last signed envelope. Signing advances it;
/// a failed signature leaves it as it was.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryChain(SignerChain);

impl MemoryChain {
    /// A fresh chain (the first record gets `seq` 1).
    pub fn new() -> MemoryChain {
        MemoryChain(SignerChain::new())
    }

    /// The chain after a stored record with `seq` and `leaf_hash` (the ledger's head for this key).
    pub fn after(seq: u64, leaf_hash: Hash) -> MemoryChain {
        MemoryChain(SignerChain::after(seq, leaf_hash))
    }

    /// The chain after `head` (`seq`, leaf hash), or a fresh one when the key has signed nothing yet.
    pub fn resume(head: Option<(u64, Hash)>) -> MemoryChain {
        head.map_or_else(MemoryChain::new, |(seq, hash)| MemoryChain::after(seq, hash))
    }

    /// A chain in any state: the next record gets `next_seq` and links to `prev`, whether or not that follows a
    /// stored record. Tests forge gaps, forks and replays with it; a producer resumes with [`MemoryChain::resume`].
    pub fn at(next_seq: u64, prev: Option<Hash>) -> MemoryChain {
        MemoryChain(SignerChain { next_seq, prev })
    }

    /// The `seq` the next record gets.
    pub fn next_seq(&self) -> u64 {
        self.0.next_seq
    }

    /// The leaf hash the next record links to (`None` before the first).
    pub fn prev(&self) -> Option<Hash> {
        self.0.prev
    }

    /// Signs the next envelope with `key`, Ed25519 or SM2 (the caller vouches for the payload; see
    /// [`MemoryChain::sign_record`]).
    pub fn sign<K: EnvelopeSigner + ?Sized>(
        &mut self,
        key: &K,
        id: Uuid,
        stream: &str,
        kind: &str,
        occurred_at: &str,
        payload: Map<String, Value>,
    ) -> Result<Envelope, EnvelopeError> {
        let mut next = self.0;
        let env = next.sign(key, id, stream, kind, occurred_at, payload)?;
        self.0 = next;
        Ok(env)
    }

    /// Checks `record` against the domain ([`Record::validate`]) and signs it as the next envelope.
    pub fn sign_record<K: EnvelopeSigner + ?Sized>(
        &mut self,
        key: &K,
        id: Uuid,
        record: Record,
    ) -> Result<Envelope, SignError> {
        record.validate()?;
        Ok(self.sign(key, id, &record.stream, &record.kind, &record.occurred_at, record.payload)?)
    }
}

/// A signing key with its [`MemoryChain`]: one party that signs in-process (a test fixture's city bureau, a bench's
/// gateway, an enterprise's system signing with its SM2 key). Signing advances the chain; a failed signature leaves
/// it as it was. Its `Debug` never shows the secret. `K` is an Ed25519 [`SigningKey`] unless said otherwise:
/// `KeyedChain<Sm2SigningKey>` or `KeyedChain<AnySigningKey>` (`siteledger_signer::sm2`, `siteledger_signer::keys`)
/// sign with SM2 (docs/FORMAT.md §11).
#[derive(Debug)]
pub struct KeyedChain<K = SigningKey> {
    key: K,
    chain: MemoryChain,
}

impl<K: EnvelopeSigner> KeyedChain<K> {
    /// `key` with a fresh chain (its first record gets `seq` 1).
    pub fn new(key: K) -> KeyedChain<K> {
        KeyedChain { key, chain: MemoryChain::new() }
    }

    /// The key.
    pub fn key(&self) -> &K {
        &self.key
    }

    /// The key, giving up the chain.
    pub fn into_key(self) -> K {
        self.key
    }

    /// The chain as it stands (a copy: keep it to rewind with [`KeyedChain::set_chain`]).
    pub fn chain(&self) -> MemoryChain {
        self.chain
    }

    /// Replaces the chain, e.g. with the ledger's head for this key ([`MemoryChain::after`]) or a saved copy.
    pub fn set_chain(&mut self, chain: MemoryChain) {
        self.chain = chain;
    }

    /// The `seq` the next record gets.
    pub fn next_seq(&self) -> u64 {
        self.chain.next_seq()
    }

    /// The leaf hash the next record links to (`None` before the first).
    pub fn prev(&self) -> Option<Hash> {
        self.chain.prev()
    }

    /// Signs the next envelope (the caller vouches for the payload; see [`KeyedChain::sign_record`]).
    pub fn sign(
        &mut self,
        id: Uuid,
        stream: &str,
        kind: &str,
        occurred_at: &str,
        payload: Map<String, Value>,
    ) -> Result<Envelope, EnvelopeError> {
        self.chain.sign(&self.key, id, stream, kind, occurred_at, payload)
    }

    /// Checks `record` against the domain and signs it as the next envelope.
    pub fn sign_record(&mut self, id: Uuid, record: Record) -> Result<Envelope, SignError> {
        self.chain.sign_record(&self.key, id, record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_links_each_record_to_the_last_and_resumes_from_a_head() {
        let key = SigningKey::from_seed(&[7; 32]);
        let mut chain = MemoryChain::new();
        let sign = |c: &mut MemoryChain| {
            c.sign(&key, Uuid::now_v7(), "registry/keys", "ledger.test.v1", "2026-11-24T10:00:00+08:00", Map::new())
                .expect("signs")
        };
        let a = sign(&mut chain);
        let b = sign(&mut chain);
        assert_eq!((a.seq(), b.seq()), (1, 2));
        assert_eq!(b.prev(), Some(&a.leaf_hash()));
        let mut resumed = MemoryChain::resume(Some((b.seq(), b.leaf_hash())));
        assert_eq!(resumed, chain);
        let c = sign(&mut resumed);
        assert_eq!((c.seq(), c.prev()), (3, Some(&b.leaf_hash())));
    }

    #[test]
    fn a_refused_record_leaves_the_chain_untouched() {
        let key = SigningKey::from_seed(&[7; 32]);
        let mut chain = MemoryChain::new();
        let bad =
            Record::parts("alarm.cleared.v1", "project/NB-2026-0001/alarms", "2026-11-24T10:00:00+08:00", Map::new());
        assert!(chain.sign_record(&key, Uuid::now_v7(), bad).is_err());
        assert_eq!(chain.next_seq(), 1);
    }

    #[test]
    fn a_keyed_chain_signs_as_its_key_and_rewinds_to_a_saved_chain() {
        let mut gw = KeyedChain::new(SigningKey::from_seed(&[9; 32]));
        let sign = |k: &mut KeyedChain| {
            k.sign(Uuid::now_v7(), "registry/keys", "ledger.test.v1", "2026-11-24T10:00:00+08:00", Map::new())
                .expect("signs")
        };
        let a = sign(&mut gw);
        assert_eq!(a.signer(), gw.key().key_id());
        let saved = gw.chain();
        let b = sign(&mut gw);
        assert_eq!((gw.next_seq(), gw.prev()), (3, Some(b.leaf_hash())));
        gw.set_chain(saved);
        let b2 = sign(&mut gw);
        assert_eq!((b2.seq(), b2.prev()), (2, Some(&a.leaf_hash())));
        let mut gap = KeyedChain::new(SigningKey::from_seed(&[9; 32]));
        gap.set_chain(MemoryChain::at(5, Some([1; 32])));
        assert_eq!((sign(&mut gap).seq(), gap.next_seq()), (5, 6));
    }

    #[test]
    fn an_sm2_keyed_chain_signs_records_that_verify_with_its_declared_key() {
        use siteledger_signer::keys::{AnySigningKey, SignerKey};
        use siteledger_signer::sm2::Sm2SigningKey;
        let sm2 = Sm2SigningKey::from_secret(&[3; 32], "91330200MA2H000001").expect("key");
        let mut ent = KeyedChain::new(AnySigningKey::from(sm2));
        let public: SignerKey = ent.key().public();
        let a = ent
            .sign(Uuid::now_v7(), "registry/keys", "ledger.test.v1", "2026-11-24T10:00:00+08:00", Map::new())
            .expect("signs");
        let b = ent
            .sign(Uuid::now_v7(), "registry/keys", "ledger.test.v1", "2026-11-24T10:00:01+08:00", Map::new())
            .expect("signs");
        assert_eq!(a.signer(), public.key_id());
        assert_eq!(b.prev(), Some(&a.leaf_hash()));
        a.verify_signer(&public).expect("SM2 signature verifies");
        b.verify_signer(&public).expect("SM2 signature verifies");
        // The same point under the default identity is another key: the signature does not verify with it.
        let default_id = SignerKey::from_parts(public.algorithm(), None, public.as_bytes()).expect("key");
        assert_ne!(default_id.key_id(), public.key_id());
        assert!(default_id.verify(a.signed_message(), a.signature()).is_err());
    }
}
