//! The live feed's hub: one pump task follows the ledger and publishes each record once into a bounded broadcast
//! channel that every `GET /v1/feed` subscriber (the handler in `routes/feed.rs`) listens to; the hub also counts the
//! subscribers against their cap. It knows nothing of requests or scopes, so the state can hold it without the
//! state depending on a handler.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use futures::StreamExt;
use serde::Serialize;
use serde_json::Value;
use siteledger_ledger::{AnyStore, Ledger, StoredEvent};
use tokio::sync::{Notify, broadcast};
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
    /// Signalled when a receiver is taken, so that an idle pump starts following the ledger again.
    joined: Notify,
    /// Records the pump has read from the ledger and published (`siteledger_feed_published_total`).
    published: AtomicU64,
}

impl FeedHub {
    /// A hub with a buffer of `capacity` records.
    pub fn new(capacity: usize, max_subscribers: usize) -> FeedHub {
        let (tx, _) = broadcast::channel(capacity.max(16));
        FeedHub {
            tx,
            subscribers: AtomicUsize::new(0),
            max_subscribers,
            joined: Notify::new(),
            published: AtomicU64::new(0),
        }
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

    /// A receiver of every record published from now on (the pump starts publishing if it was idle).
    pub fn receiver(&self) -> broadcast::Receiver<Arc<FeedRecord>> {
        let rx = self.tx.subscribe();
        self.joined.notify_one();
        rx
    }

    /// Records the pump has read from the ledger and published since the start.
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }

    /// Follows the ledger and publishes every record while anyone listens; runs until the ledger stops. With no
    /// receiver it reads nothing (at a city's rate, reading and parsing every record for nobody cost ≈ 5 % of the
    /// server's CPU): it waits for one, then follows from the head of that moment. Records it did not publish are
    /// not lost to anyone: a subscriber that sees a gap reads it from the store (`routes/feed.rs`).
    pub async fn pump(self: Arc<Self>, ledger: Ledger<AnyStore>) {
        loop {
            // `notify_one` keeps a permit, so a receiver taken between the check and the wait is not missed.
            while self.tx.receiver_count() == 0 {
                self.joined.notified().await;
            }
            let mut sub = Box::pin(ledger.subscribe(ledger.head()));
            loop {
                match sub.next().await {
                    Some(Ok(e)) => {
                        self.published.fetch_add(1, Ordering::Relaxed);
                        if self.tx.send(Arc::new(FeedRecord::from_stored(&e))).is_err() {
                            break; // the last receiver left: idle until the next one
                        }
                    }
                    Some(Err(e)) => {
                        tracing::error!(error = %e, "live feed pump stopped");
                        return;
                    }
                    None => return,
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
