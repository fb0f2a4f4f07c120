//! A signer's chain state (`seq`, `prev`): signs the next envelope of a key's chain, resumes from the ledger's
//! stored head after a restart.

use serde_json::{Map, Value};
use siteledger_signer::envelope::EnvelopeError;
use siteledger_signer::{Envelope, Hash, SigningKey, UnsignedEnvelope};
use uuid::Uuid;

/// Where a signer's chain stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chain {
    /// Next sequence number.
    pub next_seq: u64,
    /// Leaf hash of the previous envelope (None before the first).
    pub prev: Option<Hash>,
}

impl Default for Chain {
    fn default() -> Self {
        Chain::new()
    }
}

impl Chain {
    /// A fresh chain (next seq 1).
    pub fn new() -> Chain {
        Chain { next_seq: 1, prev: None }
    }

    /// The chain after the stored record with `seq` and `leaf_hash`.
    pub fn after(seq: u64, leaf_hash: Hash) -> Chain {
        Chain { next_seq: seq + 1, prev: Some(leaf_hash) }
    }

    /// Signs the next envelope with `key` and advances.
    pub fn sign(
        &mut self,
        key: &SigningKey,
        id: Uuid,
        stream: &str,
        kind: &str,
        occurred_at: &str,
        payload: Map<String, Value>,
    ) -> Result<Envelope, EnvelopeError> {
        let env = UnsignedEnvelope {
            id,
            stream: stream.to_owned(),
            kind: kind.to_owned(),
            occurred_at: occurred_at.to_owned(),
            seq: self.next_seq,
            prev: self.prev,
            payload,
        }
        .sign(key)?;
        self.next_seq += 1;
        self.prev = Some(env.leaf_hash());
        Ok(env)
    }
}
