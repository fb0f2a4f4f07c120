//! One running agent: the durable queue and its writer, the local attachment store, the uploader, the HJ 212 TCP
//! server (gateway keys), the GB/T 28181 SIP service (UDP and TCP, gateway keys), the authenticated JSON/HTTP
//! intake and the heartbeat (gateway keys), started together by [`Agent::start`] and stopped by [`AgentHandle::shutdown`]. The binary's `run` and the platform's demo (`demo/src/site.rs`,
//! in-process over loopback) use the same code.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};
use siteledger_domain::authority::Role;
use siteledger_signer::SigningKey;
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::{AgentConfig, IntakeToken};
use crate::error::AgentError;
use siteledger_client::blobs::LocalBlobs;
use siteledger_client::keys::Secret;
use siteledger_client::outbox::{Outbox, OutboxHandle};
use siteledger_client::uploader::{UploadStats, Uploader};
use siteledger_client::{IngestClient, Record};

use crate::record::{GatewayIdentity, Health, heartbeat_record};
use crate::tcp::{Hj212Service, Hj212Stats};
use crate::video::{Gb28181Service, Gb28181Sockets, Gb28181Stats};

/// How often the local copies of files the platform holds are pruned (`blob_retention_days`).
const BLOB_PRUNE_EVERY: Duration = Duration::from_secs(3600);

pub use siteledger_client::uploader::stopped;

/// What the agent's parts share.
#[derive(Debug)]
pub struct Shared {
    /// The configuration.
    pub config: Arc<AgentConfig>,
    /// The gateway's project and id as the contract's types (from the checked configuration); `None` for an
    /// organisation's agent (no project of its own).
    pub identity: Option<GatewayIdentity>,
    /// Who signs: the key's id, enrolled role and subject.
    pub signer: Signer,
    /// The local intake token's hash (present whenever the intake listens).
    pub intake_token: Option<IntakeToken>,
    /// Submit records.
    pub queue: OutboxHandle,
    /// The queue database.
    pub store: Outbox,
    /// The files records cite (`queue_dir/blobs`), sent to the platform before the records citing them.
    pub blobs: LocalBlobs,
    /// HJ 212 counters.
    pub hj212: Arc<Hj212Stats>,
    /// Upload counters and clock skew.
    pub upload: Arc<UploadStats>,
    /// GB/T 28181 counters (zero without a `[gb28181]` section).
    pub gb28181: Arc<Gb28181Stats>,
}

impl Shared {
    /// The agent's counters as JSON (`GET /v1/status`).
    pub fn status(&self) -> Value {
        let q = &self.store.stats;
        let h = &self.hj212;
        json!({
            "project_id": self.config.project_id,
            "gateway_id": self.config.gateway_id,
            "role": self.signer.role.as_str(),
            "queue_depth": q.depth.load(Ordering::Relaxed),
            "queue_bytes": q.bytes.load(Ordering::Relaxed),
            "queue_max_bytes": self.store.max_bytes(),
            "parked": q.parked.load(Ordering::Relaxed),
            "committed": q.committed.load(Ordering::Relaxed),
            "uploaded": q.uploaded.load(Ordering::Relaxed),
            "upload_failures": self.upload.failures.load(Ordering::Relaxed),
            "attachments_sent": self.upload.attachments_sent.load(Ordering::Relaxed),
            "attachments_missing": self.upload.attachments_missing.load(Ordering::Relaxed),
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
            "gb28181": self.gb28181.status(),
        })
    }

    /// The `gateway.heartbeat.v1` record for now; `None` for an agent without a gateway identity.
    pub fn heartbeat(&self) -> Option<Record> {
        let identity = self.identity.as_ref()?;
        let q = &self.store.stats;
        let health = Health {
            queue_depth: q.depth.load(Ordering::Relaxed),
            queue_bytes: q.bytes.load(Ordering::Relaxed),
            clock_skew_ms: self.upload.skew_ms(),
            rejected_packets: self.hj212.rejected.load(Ordering::Relaxed),
            deviations: self.hj212.deviations.load(Ordering::Relaxed),
        };
        Some(heartbeat_record(identity, health, OffsetDateTime::now_utc()))
    }
}

/// The agent's key as the platform knows it: what the domain's signer rules are asked about before signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// The key id.
    pub key_id: String,
    /// The enrolled role.
    pub role: Role,
    /// The enrolled subject.
    pub subject: String,
}

/// Starts agents.
#[derive(Debug)]
pub struct Agent;

/// A running agent.
#[derive(Debug)]
pub struct AgentHandle {
    /// Where HJ 212 monitors connect (`None`: no `hj212_listen`).
    pub hj212_addr: Option<SocketAddr>,
    /// Where the JSON/HTTP intake listens (`None`: no `http_listen`).
    pub http_addr: Option<SocketAddr>,
    /// Where GB/T 28181 devices send SIP, over UDP and TCP (`None`: no `[gb28181]`).
    pub gb28181_addr: Option<SocketAddr>,
    /// Shared state (counters, queue).
    pub shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl AgentHandle {
    /// `http://<intake address>`, if the intake listens.
    pub fn intake_url(&self) -> Option<String> {
        self.http_addr.map(|a| format!("http://{a}"))
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
    /// Opens the queue (resuming the signer chain), binds the configured listeners and starts every task. Refuses
    /// a configuration whose intake listens without an intake token ([`AgentConfig::check`]).
    pub async fn start(config: AgentConfig, key: SigningKey, token: String) -> Result<AgentHandle, AgentError> {
        config.check()?;
        let role = config.key_role()?;
        let signer = Signer { key_id: key.key_id().to_string(), role, subject: config.subject()? };
        let identity = if matches!(role, Role::Gateway | Role::Device) {
            Some(GatewayIdentity::of(&config).map_err(|e| AgentError::Config(e.to_string()))?)
        } else {
            None
        };
        let intake_token = config.intake_token()?;
        let config = Arc::new(config);
        // `queue.db` in the queue directory, where the agent always kept it: an upgraded agent resumes its chain.
        let (store, queue) = Outbox::open(&config.queue_dir.join("queue.db"), key, config.queue_max_bytes).await?;
        // Beside the queue: the files its records cite, until the platform has them.
        let blobs = LocalBlobs::open(&config.queue_dir.join("blobs"))?;
        let bind = |addr: Option<SocketAddr>, what: &'static str| async move {
            let Some(addr) = addr else { return Ok(None) };
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|source| AgentError::Listen { addr: addr.to_string(), source })?;
            let local = listener.local_addr().map_err(|source| AgentError::Listen { addr: what.into(), source })?;
            Ok::<_, AgentError>(Some((listener, local)))
        };
        let hj212_listener = bind(config.hj212_listen, "hj212").await?;
        let http_listener = bind(config.http_listen, "http").await?;
        let gb28181_sockets = match &config.gb28181 {
            Some(g) => Some(Gb28181Sockets::bind(g.listen).await?),
            None => None,
        };
        let gb28181_addr = gb28181_sockets.as_ref().map(|s| s.addr);
        let hj212_addr = hj212_listener.as_ref().map(|(_, a)| *a);
        let http_addr = http_listener.as_ref().map(|(_, a)| *a);
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| AgentError::Http(e.to_string()))?;
        let (shutdown, rx) = watch::channel(false);
        let hj212 = Arc::new(Hj212Stats::default());
        let upload = Arc::new(UploadStats::default());
        let gb28181 = Arc::new(Gb28181Stats::default());
        let gb28181_service = match (&config.gb28181, &gb28181_sockets, &identity) {
            (Some(g), Some(sockets), Some(id)) => {
                let state = config.queue_dir.join(crate::video::STATE_FILE);
                Some(Gb28181Service::new(
                    g,
                    sockets.addr,
                    id.project_id.clone(),
                    queue.clone(),
                    gb28181.clone(),
                    &state,
                )?)
            }
            _ => None,
        };
        let shared = Arc::new(Shared {
            config: config.clone(),
            identity,
            signer,
            intake_token,
            queue: queue.clone(),
            store: store.clone(),
            blobs: blobs.clone(),
            hj212: hj212.clone(),
            upload: upload.clone(),
            gb28181,
        });
        let mut tasks = JoinSet::new();
        if config.blob_retention_days > 0 {
            let keep = Duration::from_secs(u64::from(config.blob_retention_days) * 86_400);
            tasks.spawn(siteledger_client::retention::run(
                store.clone(),
                blobs.clone(),
                keep,
                BLOB_PRUNE_EVERY,
                rx.clone(),
            ));
        }
        let uploader = Uploader {
            outbox: store,
            ingest: IngestClient::with_client(http, &config.platform_url),
            token: Secret::new(token),
            batch: config.upload_batch,
            blobs: Some(blobs),
            stats: upload,
            shutdown: rx.clone(),
        };
        tasks.spawn(uploader.run());
        if let Some((listener, _)) = hj212_listener {
            let service = Arc::new(Hj212Service::new(config.clone(), queue.clone(), hj212));
            tasks.spawn(service.serve(listener, rx.clone()));
        }
        if let (Some(service), Some(sockets)) = (gb28181_service, gb28181_sockets) {
            tasks.spawn(service.serve(sockets, rx.clone()));
        }
        if let Some((listener, _)) = http_listener {
            tasks.spawn(crate::intake::serve(listener, shared.clone(), rx.clone()));
        }
        // Only a gateway has a heartbeat (`gateway.heartbeat.v1` is signed by the project's gateway or device).
        if config.heartbeat_secs > 0 && shared.identity.is_some() {
            let shared = shared.clone();
            let mut stop = rx.clone();
            let period = Duration::from_secs(config.heartbeat_secs);
            tasks.spawn(async move {
                loop {
                    tokio::select! {
                        () = tokio::time::sleep(period) => {}
                        () = crate::agent::stopped(&mut stop) => return,
                    }
                    let Some(beat) = shared.heartbeat() else { return };
                    if let Err(e) = shared.queue.submit(beat).await {
                        tracing::warn!(error = %e, "heartbeat not stored");
                    }
                }
            });
        }
        tracing::info!(
            ?hj212_addr,
            ?http_addr,
            ?gb28181_addr,
            role = %shared.signer.role,
            project = %config.project_id,
            gateway = %config.gateway_id,
            devices = config.devices.len(),
            "agent running"
        );
        Ok(AgentHandle { hj212_addr, http_addr, gb28181_addr, shared, shutdown, tasks })
    }
}
