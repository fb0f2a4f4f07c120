//! The live feed's hub: one pump task follows the ledger and publishes each record once into a bounded broadcast
//! channel that every `GET /v1/feed` subscriber (the handler in `routes/feed.rs`) listens to; the hub also counts the
//! subscribers against their cap. It knows nothing of requests or scopes, so the state can hold it without the
//! state depending on a handler.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::StreamExt;
use serde::Serialize;
use serde_json::Value;
use siteledger_ledger::{AnyStore, Ledger, StoredEvent};
use tokio::sync::broadcast;
use utoipa::ToSchema;

/// One record as the feed sends it (the SSE `data`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FeedRecord {
    /// Log position (also the SSE id).
    pub position: u64,
    /// Event id.
    pub event_id: String,
    /// Stream.
    pub stream: String,
    /// Kind.
    pub kind: String,
    /// When it happened.
    pub occurred_at: String,
    /// Signer key id.
    pub signer: String,
    /// The payload.
    pub payload: Value,
}

impl FeedRecord {
    /// The feed's form of a stored record (its payload taken from the envelope).
    pub fn from_stored(e: &StoredEvent) -> FeedRecord {
        let payload = serde_json::from_slice::<Value>(&e.leaf)
            .ok()
            .and_then(|v| v.get("payload").cloned())
            .unwrap_or(Value::Null);
        FeedRecord {
            position: e.position,
            event_id: e.event_id.to_string(),
            stream: e.stream.clone(),
            kind: e.kind.clone(),
            occurred_at: e.occurred_at.clone(),
            signer: e.signer.clone(),
            payload,
        }
    }
}

/// Shared state of the feed.
#[derive(Debug)]
pub struct FeedHub {
    tx: broadcast::Sender<Arc<FeedRecord>>,
    subscribers: AtomicUsize,
    max_subscribers: usize,
}

impl FeedHub {
    /// A hub with a buffer of `capacity` records.
    pub fn new(capacity: usize, max_subscribers: usize) -> FeedHub {
        let (tx, _) = broadcast::channel(capacity.max(16));
        FeedHub { tx, subscribers: AtomicUsize::new(0), max_subscribers }
    }

    /// Current number of connected subscribers.
    pub fn subscribers(&self) -> usize {
        self.subscribers.load(Ordering::Relaxed)
    }

    /// Takes a subscriber's place, or `None` when `max_subscribers` are connected already. The place counts until
    /// it is dropped.
    pub fn join(self: &Arc<Self>) -> Option<FeedPlace> {
        if self.subscribers.fetch_add(1, Ordering::Relaxed) >= self.max_subscribers {
            self.subscribers.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        Some(FeedPlace(Arc::clone(self)))
    }

    /// A receiver of every record published from now on.
    pub fn receiver(&self) -> broadcast::Receiver<Arc<FeedRecord>> {
        self.tx.subscribe()
    }

    /// Follows the ledger from its current head and publishes every record. Runs until the ledger stops.
    pub async fn pump(self: Arc<Self>, ledger: Ledger<AnyStore>) {
        let mut sub = Box::pin(ledger.subscribe(ledger.head()));
        while let Some(item) = sub.next().await {
            match item {
                Ok(e) => {
                    // No receivers is fine: nobody is listening right now.
                    let _ = self.tx.send(Arc::new(FeedRecord::from_stored(&e)));
                }
                Err(e) => {
                    tracing::error!(error = %e, "live feed pump stopped");
                    return;
                }
            }
        }
    }
}

/// A connected subscriber's place on the hub (see [`FeedHub::join`]).
#[derive(Debug)]
pub struct FeedPlace(Arc<FeedHub>);

impl Drop for FeedPlace {
    fn drop(&mut self) {
        self.0.subscribers.fetch_sub(1, Ordering::Relaxed);
    }
}
