//! What the fold benches share: reading their settings from the environment and building a log of signed records,
//! each checked with the domain's `validate_envelope` first (a record the server would accept).

use serde_json::{Map, Value};
use siteledger_client::KeyedChain;
use siteledger_ledger::StoredEvent;

/// The whole-number setting `name`, or `default`.
pub fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The members of a JSON object (empty for anything else).
pub fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The log being built: signs, checks and stores records at consecutive positions.
#[derive(Default)]
pub struct Log {
    pub events: Vec<StoredEvent>,
    n: u64,
}

impl Log {
    /// Signs `payload` as `kind` in `stream` at `at` with `signer` and appends it; panics on a record the server
    /// would refuse (a bench bug).
    pub fn push(&mut self, signer: &mut KeyedChain, stream: &str, kind: &str, at: &str, payload: impl Into<Value>) {
        let payload = obj(payload.into());
        if !kind.starts_with("ledger.")
            && let Err(e) = siteledger_domain::validate_envelope(kind, stream, &payload)
        {
            panic!("bench record {kind} in {stream} is not one the server accepts: {e}");
        }
        self.n += 1;
        let id = uuid::Builder::from_unix_timestamp_millis(1_790_000_000_000 + self.n, &[0; 10]).into_uuid();
        let e = signer.sign(id, stream, kind, at, payload).expect("sign");
        self.events.push(StoredEvent {
            position: self.events.len() as u64,
            stream: e.stream().to_owned(),
            stream_version: 0,
            event_id: e.id(),
            kind: e.kind().to_owned(),
            signer: e.signer().to_string(),
            signer_seq: e.seq(),
            occurred_at: e.occurred_at().to_owned(),
            recorded_at: e.occurred(),
            leaf: e.leaf_bytes().to_vec(),
            leaf_hash: e.leaf_hash(),
        });
    }
}
