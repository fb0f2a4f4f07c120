//! Shared application state handed to every handler.
//!
//! The state holds the server's parts and depends on no handler: `auth`, `blobs`, `feed` (the hub), `metrics` and `vault`
//! are below it, `routes`, `dashboard` and `server` above.

use std::sync::Arc;
use std::time::Instant;

use siteledger_ledger::{AnyStore, Ledger};
use siteledger_projections::{AccessCache, ReadDb};

use axum::extract::FromRef;

use crate::auth::{AuthGate, TokenStore};
use crate::config::Config;
use crate::feed::FeedHub;
use crate::metrics::Metrics;

/// Everything a request handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The ledger (single writer per instance).
    pub ledger: Ledger<AnyStore>,
    /// Read models.
    pub read: ReadDb,
    /// Project → district/participants lookups for scope checks.
    pub access: Arc<AccessCache>,
    /// API tokens.
    pub tokens: TokenStore,
    /// Configuration in effect.
    pub config: Arc<Config>,
    /// Live feed.
    pub feed: Arc<FeedHub>,
    /// HTTP-level counters.
    pub metrics: Arc<Metrics>,
    /// Start time, for uptime.
    pub started: Instant,
    /// The personal-data vault of 实名制 (plaintext ID and card numbers, never in the log).
    pub vault: crate::vault::Vault,
    /// The attachment store (附件), content-addressed by SHA-256.
    pub blobs: crate::blobs::AnyBlobStore,
    /// People's enrolment requests and sign-in challenges (`crate::people`).
    pub people: crate::people::People,
    /// Witness cosignatures of the log's checkpoints (`crate::witnessing`).
    pub cosignatures: crate::witnessing::CosignatureStore,
    /// Shared computations of the answers that cover a whole scope (`crate::answers`).
    pub answers: Arc<crate::answers::AnswerCache>,
    /// RFC 3161 tokens of the log's checkpoints (`crate::timestamping`).
    pub timestamps: crate::timestamping::TimestampStore,
    /// The configured TSAs, with their roots read.
    pub tsas: Vec<crate::timestamping::Tsa>,
    /// Turns true when shutdown begins (long-lived responses such as the feed end then).
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

/// Whether a shared answer (`AppState::shared`) reads the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// It depends on the read models only.
    No,
    /// It reads the clock (today, a key's validity, the last 24 hours): kept for the second it was computed in.
    Second,
}

impl AppState {
    /// The answer under `key` computed by `compute`, shared by the callers that ask for it while it runs or before
    /// the read models (or, with [`Clock::Second`], the clock's second) move on (`crate::answers`). Keys name the
    /// answer and everything it depends on besides the read models and the clock: its kind, scope and filter.
    pub async fn shared<T, F, Fut>(
        &self,
        key: String,
        clock: Clock,
        compute: F,
    ) -> Result<Arc<T>, crate::error::ApiError>
    where
        T: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, crate::error::ApiError>>,
    {
        let version = || {
            let second = match clock {
                Clock::No => 0,
                Clock::Second => u64::try_from(time::OffsetDateTime::now_utc().unix_timestamp()).unwrap_or(0),
            };
            [self.read.applied(), self.read.derived_passes(), second]
        };
        self.answers.get_or_compute(key, version, compute).await
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("ledger", &self.ledger)
            .field("demo", &self.config.demo)
            .finish_non_exhaustive()
    }
}

impl FromRef<AppState> for AuthGate {
    fn from_ref(state: &AppState) -> AuthGate {
        AuthGate {
            tokens: state.tokens.clone(),
            demo: state.config.demo,
            check: Some(Arc::new(crate::people::SessionGuard {
                sessions: state.people.sessions.clone(),
                tokens: state.tokens.clone(),
                ledger: state.ledger.clone(),
            })),
        }
    }
}
