//! Building and running the server: stores, keys, ledger, projections, live feed, router, graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use siteledger_ledger::{AnyStore, EventStore, Ledger, LedgerConfig};
use siteledger_signer::{NoteSigner, PublicKey};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::auth::TokenStore;
use crate::config::Config;
use crate::feed::FeedHub;
use crate::metrics::Metrics;
use crate::state::AppState;
use crate::{dashboard, node, openapi, routes};

/// A running server (for the `siteledger` command, the demo and bench, and tests, which bind port 0).
#[derive(Debug)]
pub struct RunningServer {
    /// The bound address.
    pub addr: SocketAddr,
    /// The shared state (tests use it to reach the ledger directly).
    pub state: AppState,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningServer {
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets in-flight requests finish, and waits.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }

    /// Waits until the server stops by itself (Ctrl-C / SIGTERM in `main`).
    pub async fn wait(self) {
        let _ = self.task.await;
    }

    /// A receiver that turns true when shutdown begins.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Triggers shutdown without waiting.
    pub fn trigger_shutdown(&self) {
        let _ = self.shutdown.send(true);
    }
}

/// Opens everything the configuration names and builds the shared state.
pub async fn build_state(config: Config) -> anyhow::Result<(AppState, watch::Sender<bool>)> {
    std::fs::create_dir_all(&config.data_dir)?;
    let log_key = config.log_key()?;
    let system_key = node::load_or_create(&config.key_dir().join("system.key"))?;
    let audit_key = node::load_or_create(&config.key_dir().join(crate::vault::AUDIT_KEY_FILE))?;
    let mut trust_roots = Vec::new();
    if config.demo {
        // The demo plays the city bureau too: its root key is trusted to enrol itself.
        let city = node::load_or_create(&config.key_dir().join("demo-city.key"))?;
        trust_roots.push(*city.public());
    }
    for k in &config.trust_roots {
        trust_roots.push(PublicKey::from_base64(k).map_err(|e| anyhow::anyhow!("trust root {k:?}: {e}"))?);
    }
    let store = AnyStore::open(&config.store_url()).await?;
    tracing::info!(store = store.kind(), head = store.head().await?, "event store open");
    let mut lc = LedgerConfig::new(NoteSigner::new(&config.log_origin, log_key)?, system_key);
    lc.trust_roots = trust_roots;
    lc.checkpoint_every = config.checkpoint_every;
    lc.checkpoint_interval = Duration::from_millis(config.checkpoint_interval_ms);
    lc.max_clock_skew = Duration::from_secs(config.max_clock_skew_secs);
    lc.snapshot_every = config.snapshot_every;
    lc.replay_from_zero = config.replay_from_zero;
    lc.policy = Arc::new(siteledger_ledger::DomainPolicy::default());
    // The vault signs its access records with its own key, which only the ledger's system key may enrol.
    lc.system_enrolments.push(crate::vault::audit_enrollment(&audit_key, &config.log_origin));
    let opening = Instant::now();
    let ledger = Ledger::open(store, lc).await?;
    let stats = ledger.stats();
    tracing::info!(
        log_key = %ledger.log_verifier().vkey(),
        head = ledger.head(),
        replayed_from = stats.replayed_from,
        rows_read = stats.replay_rows_read,
        ms = u64::try_from(opening.elapsed().as_millis()).unwrap_or(u64::MAX),
        "ledger open"
    );

    let read = siteledger_projections::ReadDb::open(&config.read_url()).await?;
    read.set_raw_retention_days(config.raw_retention_days);
    let access = read.access_cache();
    let tokens = TokenStore::open(&config.auth_url()).await.map_err(|e| anyhow::anyhow!("token store: {e}"))?;
    if !config.demo {
        // Demo tokens (the operator token the demo logs among them) die with the demo: this data directory is now
        // served for real. They are refused anyway outside demo mode; revoking them makes it visible in `token list`.
        let revoked = tokens.revoke_demo_tokens().await.map_err(|e| anyhow::anyhow!("token store: {e}"))?;
        if revoked > 0 {
            tracing::warn!(revoked, "revoked the tokens of an earlier demo run on this data directory");
        }
    }
    let vault = crate::vault::Vault::open(&config.data_dir, crate::vault::AuditLog::new(audit_key, ledger.clone()))
        .await
        .map_err(|e| anyhow::anyhow!("vault: {e}"))?;
    let blobs = crate::blobs::AnyBlobStore::open(&config.blob_url())
        .await
        .map_err(|e| anyhow::anyhow!("attachment store: {e}"))?;
    let people = crate::people::People::open(&tokens).await.map_err(|e| anyhow::anyhow!("people: {e}"))?;
    let feed = Arc::new(FeedHub::new(config.feed_buffer, config.max_feed_subscribers));
    let (shutdown_tx, shutdown_rx) = watch::channel(false);

    // Background work: projections and the feed pump follow the ledger.
    {
        let ledger = ledger.clone();
        let read = read.clone();
        let mut rx = shutdown_rx.clone();
        tokio::spawn(async move {
            let stop = async move {
                let _ = rx.wait_for(|s| *s).await;
            };
            if let Err(e) = siteledger_projections::run(ledger, read, stop).await {
                tracing::error!(error = %e, "projections stopped");
            }
        });
    }
    tokio::spawn(Arc::clone(&feed).pump(ledger.clone()));
    let cosignatures =
        crate::witnessing::CosignatureStore::open(&tokens).await.map_err(|e| anyhow::anyhow!("cosignatures: {e}"))?;
    if !config.witnesses.is_empty() {
        let endpoints = crate::witnessing::endpoints(&config.witnesses)?;
        let interval = Duration::from_millis(config.checkpoint_interval_ms.max(50));
        tokio::spawn(crate::witnessing::run(
            ledger.clone(),
            cosignatures.clone(),
            endpoints,
            interval,
            shutdown_rx.clone(),
        ));
    }

    let timestamps =
        crate::timestamping::TimestampStore::open(&tokens).await.map_err(|e| anyhow::anyhow!("timestamps: {e}"))?;
    let tsas = crate::timestamping::tsas(&config.tsas)?;
    if !tsas.is_empty() {
        let interval = Duration::from_millis(config.checkpoint_interval_ms.max(50));
        tokio::spawn(crate::timestamping::run(
            ledger.clone(),
            timestamps.clone(),
            tsas.clone(),
            interval,
            shutdown_rx.clone(),
        ));
    }

    let state = AppState {
        ledger,
        read,
        access,
        tokens,
        config: Arc::new(config),
        feed,
        metrics: Arc::new(Metrics::default()),
        started: Instant::now(),
        vault,
        blobs,
        people,
        cosignatures,
        answers: Arc::default(),
        timestamps,
        tsas,
        shutdown: shutdown_rx,
    };
    Ok((state, shutdown_tx))
}

/// The router with every route and layer.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/v1/events", post(routes::ingest::ingest).get(routes::query::events))
        .route("/v1/log/checkpoint", get(routes::log::checkpoint))
        .route("/v1/log/key", get(routes::log::key))
        .route("/v1/log/leaves", get(routes::log::leaves))
        .route("/v1/log/leaves/{index}", get(routes::log::leaf))
        .route("/v1/log/proof/inclusion", get(routes::log::inclusion))
        .route("/v1/log/proof/consistency", get(routes::log::consistency))
        .route("/v1/evidence/{event_id}", get(routes::log::evidence))
        .route("/v1/feed", get(routes::feed::feed))
        .route("/v1/whoami", get(routes::query::whoami))
        .route("/v1/districts", get(routes::query::districts))
        .route("/v1/projects", get(routes::query::projects))
        .route("/v1/projects/{id}", get(routes::query::project))
        .route("/v1/projects/{id}/events", get(routes::query::project_events))
        .route("/v1/alarms", get(routes::query::alarms))
        .route("/v1/keys", get(routes::query::keys))
        .route("/healthz", get(routes::ops::healthz))
        .route("/readyz", get(routes::ops::readyz))
        .route("/metrics", get(routes::ops::metrics))
        .route("/openapi.json", get(openapi::serve))
        .merge(routes::workforce::router())
        .merge(routes::site::router())
        .merge(routes::supervision::router())
        .merge(routes::rating::router())
        // Attachments are larger than record batches: their own body limit (set inside the global one).
        .merge(routes::blobs::router().layer(DefaultBodyLimit::max(state.config.max_blob_bytes)));
    api.merge(dashboard::routes())
        .merge(crate::people::routes())
        .fallback(crate::extract::not_found)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), refuse_announced_oversize))
        .layer(middleware::from_fn_with_state(state.clone(), count_responses))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("a request handler panicked");
            crate::error::ApiError::Internal("handler panicked".into()).into_response()
        }))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Answers 413 from the `Content-Length` header alone when it announces more than the body limit, before reading
/// any of the body. `DefaultBodyLimit` counts bytes only as they arrive, so a client that announced 100 MB and sent
/// one byte held the connection and got no answer.
async fn refuse_announced_oversize(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit =
        if req.uri().path() == routes::blobs::PATH { state.config.max_blob_bytes } else { state.config.max_body_bytes };
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|&n| n > limit as u64);
    let Some(n) = announced else {
        return next.run(req).await;
    };
    // A lingering close: read and discard what the client is still sending (bounded in bytes and time) while the
    // answer goes out. Closing a socket with unread input resets it, and a client still writing its body would see
    // the reset instead of the 413. A client that sends nothing costs this task its time bound, no more.
    let mut body = req.into_body().into_data_stream();
    let cap = n.min(limit as u64 * 4);
    tokio::spawn(async move {
        let drain = async {
            let mut read = 0u64;
            while read < cap {
                match futures::StreamExt::next(&mut body).await {
                    Some(Ok(chunk)) => read += chunk.len() as u64,
                    _ => break,
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(10), drain).await;
    });
    crate::error::ApiError::PayloadTooLarge(format!(
        "请求体声明 {n} 字节，超过 {limit} 字节 / the body announces {n} bytes, more than the {limit} allowed; split the batch"
    ))
    .into_response()
}

async fn count_responses(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route =
        req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned()).unwrap_or_else(|| "unmatched".into());
    let resp = next.run(req).await;
    state.metrics.record_http(&route, resp.status().as_u16());
    resp
}

/// Binds, serves, and returns a handle. The server stops on [`RunningServer::shutdown`].
pub async fn spawn(config: Config) -> anyhow::Result<RunningServer> {
    let listen = config.listen;
    let (state, shutdown) = build_state(config).await?;
    let listener = TcpListener::bind(listen).await.map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    let addr = listener.local_addr()?;
    let app = router(state.clone());
    let mut rx = shutdown.subscribe();
    let task = tokio::spawn(async move {
        let stop = async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(stop).await {
            tracing::error!(error = %e, "server error");
        }
    });
    tracing::info!(%addr, "listening");
    Ok(RunningServer { addr, state, shutdown, task })
}
