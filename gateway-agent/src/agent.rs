//! One running gateway agent: the durable queue and its writer, the uploader, the HJ 212 TCP server, the JSON/HTTP
//! intake and the heartbeat, started together by [`Agent::start`] and stopped by [`AgentHandle::shutdown`]. The
//! binary's `run` and the platform's demo (`demo/src/site.rs`, in-process over loopback) use the same code.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};
use siteledger_signer::SigningKey;
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::AgentConfig;
use crate::error::AgentError;
use siteledger_client::keys::Secret;
use siteledger_client::outbox::{Outbox, OutboxHandle};
use siteledger_client::uploader::{UploadStats, Uploader};
use siteledger_client::{IngestClient, Record};

use crate::record::{GatewayIdentity, Health, heartbeat_record};
use crate::tcp::{Hj212Service, Hj212Stats};

pub use siteledger_client::uploader::stopped;

/// What the agent's parts share.
#[derive(Debug)]
pub struct Shared {
    /// The configuration.
    pub config: Arc<AgentConfig>,
    /// The gateway's project and id as the contract's types (from the checked configuration).
    pub identity: GatewayIdentity,
    /// Submit records.
    pub queue: OutboxHandle,
    /// The queue database.
    pub store: Outbox,
    /// HJ 212 counters.
    pub hj212: Arc<Hj212Stats>,
    /// Upload counters and clock skew.
    pub upload: Arc<UploadStats>,
}

impl Shared {
    /// The agent's counters as JSON (`GET /v1/status`).
    pub fn status(&self) -> Value {
        let q = &self.store.stats;
        let h = &self.hj212;
        json!({
            "project_id": self.config.project_id,
            "gateway_id": self.config.gateway_id,
            "queue_depth": q.depth.load(Ordering::Relaxed),
            "queue_bytes": q.bytes.load(Ordering::Relaxed),
            "queue_max_bytes": self.store.max_bytes(),
            "parked": q.parked.load(Ordering::Relaxed),
            "committed": q.committed.load(Ordering::Relaxed),
            "uploaded": q.uploaded.load(Ordering::Relaxed),
            "upload_failures": self.upload.failures.load(Ordering::Relaxed),
            "platform_reachable": self.upload.connected.load(Ordering::Relaxed),
            "clock_skew_ms": self.upload.skew_ms(),
            "hj212": {
                "recorded": h.recorded.load(Ordering::Relaxed),
                "rejected": h.rejected.load(Ordering::Relaxed),
                "deviations": h.deviations.load(Ordering::Relaxed),
                "replies": h.replies.load(Ordering::Relaxed),
                "open_connections": h.open.load(Ordering::Relaxed),
                "refused_connections": h.refused.load(Ordering::Relaxed),
                "unacknowledged": h.unacknowledged.load(Ordering::Relaxed),
            },
        })
    }

    /// The `gateway.heartbeat.v1` record for now.
    pub fn heartbeat(&self) -> Record {
        let q = &self.store.stats;
        let health = Health {
            queue_depth: q.depth.load(Ordering::Relaxed),
            queue_bytes: q.bytes.load(Ordering::Relaxed),
            clock_skew_ms: self.upload.skew_ms(),
            rejected_packets: self.hj212.rejected.load(Ordering::Relaxed),
            deviations: self.hj212.deviations.load(Ordering::Relaxed),
        };
        heartbeat_record(&self.identity, health, OffsetDateTime::now_utc())
    }
}

/// Starts agents.
#[derive(Debug)]
pub struct Agent;

/// A running agent.
#[derive(Debug)]
pub struct AgentHandle {
    /// Where HJ 212 monitors connect.
    pub hj212_addr: SocketAddr,
    /// Where the JSON/HTTP intake listens.
    pub http_addr: SocketAddr,
    /// Shared state (counters, queue).
    pub shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl AgentHandle {
    /// `http://<intake address>`.
    pub fn intake_url(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    /// Stops accepting, lets connections and the current upload finish, and waits (bounded by 10 s).
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        let _ =
            tokio::time::timeout(Duration::from_secs(10), async { while self.tasks.join_next().await.is_some() {} })
                .await;
        self.tasks.abort_all();
    }

    /// Waits until the agent stops (after [`AgentHandle::trigger_shutdown`] or a fatal error).
    pub async fn wait(mut self) {
        while self.tasks.join_next().await.is_some() {}
    }

    /// Starts shutdown without waiting.
    pub fn trigger_shutdown(&self) {
        let _ = self.shutdown.send(true);
    }
}

impl Agent {
    /// Opens the queue (resuming the signer chain), binds both listeners and starts every task.
    pub async fn start(config: AgentConfig, key: SigningKey, token: String) -> Result<AgentHandle, AgentError> {
        config.check()?;
        let identity = GatewayIdentity::of(&config).map_err(|e| AgentError::Config(e.to_string()))?;
        let config = Arc::new(config);
        // `queue.db` in the queue directory, where the agent always kept it: an upgraded agent resumes its chain.
        let (store, queue) = Outbox::open(&config.queue_dir.join("queue.db"), key, config.queue_max_bytes).await?;
        let hj212_listener = TcpListener::bind(config.hj212_listen)
            .await
            .map_err(|source| AgentError::Listen { addr: config.hj212_listen.to_string(), source })?;
        let http_listener = TcpListener::bind(config.http_listen)
            .await
            .map_err(|source| AgentError::Listen { addr: config.http_listen.to_string(), source })?;
        let hj212_addr =
            hj212_listener.local_addr().map_err(|source| AgentError::Listen { addr: "hj212".into(), source })?;
        let http_addr =
            http_listener.local_addr().map_err(|source| AgentError::Listen { addr: "http".into(), source })?;
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| AgentError::Http(e.to_string()))?;
        let (shutdown, rx) = watch::channel(false);
        let hj212 = Arc::new(Hj212Stats::default());
        let upload = Arc::new(UploadStats::default());
        let shared = Arc::new(Shared {
            config: config.clone(),
            identity,
            queue: queue.clone(),
            store: store.clone(),
            hj212: hj212.clone(),
            upload: upload.clone(),
        });
        let mut tasks = JoinSet::new();
        let uploader = Uploader {
            outbox: store,
            ingest: IngestClient::with_client(http, &config.platform_url),
            token: Secret::new(token),
            batch: config.upload_batch,
            stats: upload,
            shutdown: rx.clone(),
        };
        tasks.spawn(uploader.run());
        let service = Arc::new(Hj212Service::new(config.clone(), queue.clone(), hj212));
        tasks.spawn(service.serve(hj212_listener, rx.clone()));
        tasks.spawn(crate::intake::serve(http_listener, shared.clone(), rx.clone()));
        if config.heartbeat_secs > 0 {
            let shared = shared.clone();
            let mut stop = rx.clone();
            let period = Duration::from_secs(config.heartbeat_secs);
            tasks.spawn(async move {
                loop {
                    tokio::select! {
                        () = tokio::time::sleep(period) => {}
                        () = crate::agent::stopped(&mut stop) => return,
                    }
                    if let Err(e) = shared.queue.submit(shared.heartbeat()).await {
                        tracing::warn!(error = %e, "heartbeat not stored");
                    }
                }
            });
        }
        tracing::info!(
            %hj212_addr,
            %http_addr,
            project = %config.project_id,
            gateway = %config.gateway_id,
            devices = config.devices.len(),
            "gateway agent running"
        );
        Ok(AgentHandle { hj212_addr, http_addr, shared, shutdown, tasks })
    }
}
