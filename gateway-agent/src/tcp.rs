//! The HJ 212 TCP server (monitors connect as clients), mini-redis style: the sans-I/O
//! [`Connection`] decides, this thin layer owns the socket.
//!
//! * A connection cap (a semaphore): over it, new connections are closed at once (counted, logged).
//! * Per connection: frame size (the decoder's cap bounds the buffer), a byte rate (over it the agent stops reading
//!   for a while — TCP backpressure, no buffering), an idle timeout (half-open and silent peers are dropped), a
//!   write timeout for replies, and the core's limits on consecutive rejections and noise.
//! * Each accepted data packet (2011/2051/2061/2031/2021; split uploads once reassembled) becomes one
//!   `env.hj212.data.v1` record, committed to the durable queue **before** its 9014 is written. If the commit
//!   fails (disk full, queue at its limit) no 9014 is sent: the monitor keeps the data and resends.
//! * Requests (1xxx/3xxx) asking for a reply get 9011 (`QnRtn=1`) and 9012: `ExeRtn=1` for a time-calibration
//!   request 1013 (the agent records it), `ExeRtn=3` otherwise (the agent does not control monitors).
//! * Rejected frames (bad CRC, length, framing) and packets from an unknown `MN` are counted and logged (the raw
//!   bytes' length, not their content: they may hold the monitor's `PW`).
//! * Graceful shutdown: the accept loop stops and every connection finishes its current step and closes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::config::{AgentConfig, DeviceConfig, DeviceKind};
use crate::hj212::{
    Connection, ConnectionLimits, Event, ExeRtn, Packet, QnRtn, cn, execution_result, request_response,
};
use crate::record::{hj212_record, is_recorded_cn};
use siteledger_client::outbox::{OutboxError as QueueError, OutboxHandle as QueueHandle};

/// Counters of the HJ 212 service.
#[derive(Debug, Default)]
pub struct Hj212Stats {
    /// Packets accepted and recorded.
    pub recorded: AtomicU64,
    /// Frames rejected (CRC, length, framing, packet syntax) or from an unknown MN.
    pub rejected: AtomicU64,
    /// Accepted packets that carried at least one deviation.
    pub deviations: AtomicU64,
    /// 9014 replies written.
    pub replies: AtomicU64,
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Connections open now.
    pub open: AtomicU64,
    /// Connections refused at the cap.
    pub refused: AtomicU64,
    /// Records not committed (queue full or failing): no reply was sent.
    pub unacknowledged: AtomicU64,
}

/// What every connection shares.
#[derive(Debug)]
pub struct Hj212Service {
    config: Arc<AgentConfig>,
    by_mn: HashMap<String, DeviceConfig>,
    queue: QueueHandle,
    /// Counters.
    pub stats: Arc<Hj212Stats>,
}

/// How long a reply write may take.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

impl Hj212Service {
    /// The service for `config`'s HJ 212 devices.
    pub fn new(config: Arc<AgentConfig>, queue: QueueHandle, stats: Arc<Hj212Stats>) -> Hj212Service {
        let by_mn = config
            .devices
            .iter()
            .filter(|d| d.kind == DeviceKind::Hj212)
            .filter_map(|d| Some((d.mn.clone()?, d.clone())))
            .collect();
        Hj212Service { config, by_mn, queue, stats }
    }

    /// Accepts connections until `shutdown`, then waits for the open ones to close.
    pub async fn serve(self: Arc<Self>, listener: TcpListener, mut shutdown: watch::Receiver<bool>) {
        let permits = Arc::new(Semaphore::new(self.config.max_connections.max(1)));
        let mut tasks = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let Ok(permit) = permits.clone().try_acquire_owned() else {
                            let n = self.stats.refused.fetch_add(1, Ordering::Relaxed) + 1;
                            if n.is_power_of_two() {
                                tracing::warn!(%peer, refused = n, "HJ 212 connection cap reached; connection closed");
                            }
                            drop(stream);
                            continue;
                        };
                        let service = self.clone();
                        let stop = shutdown.clone();
                        tasks.spawn(async move {
                            service.stats.connections.fetch_add(1, Ordering::Relaxed);
                            service.stats.open.fetch_add(1, Ordering::Relaxed);
                            service.connection(stream, peer, stop).await;
                            service.stats.open.fetch_sub(1, Ordering::Relaxed);
                            drop(permit);
                        });
                    }
                    Err(e) => {
                        // EMFILE and friends: back off a little instead of spinning.
                        tracing::warn!(error = %e, "HJ 212 accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                () = crate::agent::stopped(&mut shutdown) => break,
            }
        }
        drop(listener);
        while tasks.join_next().await.is_some() {}
    }

    async fn connection(&self, mut stream: TcpStream, peer: SocketAddr, mut shutdown: watch::Receiver<bool>) {
        let _ = stream.set_nodelay(true);
        let limits = ConnectionLimits { idle_timeout: self.config.idle_timeout(), ..ConnectionLimits::default() };
        let mut conn = Connection::new(limits, Instant::now().into_std());
        let mut buf = vec![0u8; 8192];
        let rate = self.config.max_bytes_per_sec.max(1024);
        // Token bucket over bytes: one second of burst.
        let mut tokens = rate as f64;
        let mut refilled = Instant::now();
        tracing::debug!(%peer, "HJ 212 connection");
        loop {
            let deadline = Instant::from_std(conn.deadline());
            let events = tokio::select! {
                read = stream.read(&mut buf) => {
                    let now = Instant::now();
                    match read {
                        Ok(0) => conn.finish(now.into_std()),
                        Ok(n) => {
                            tokens = (tokens + now.duration_since(refilled).as_secs_f64() * rate as f64).min(rate as f64);
                            refilled = now;
                            tokens -= n as f64;
                            let events = conn.receive(&buf[..n], now.into_std());
                            if tokens < 0.0 {
                                // Over the rate: stop reading until the bucket refills (the peer's TCP window fills).
                                let wait = Duration::from_secs_f64(-tokens / rate as f64);
                                tracing::debug!(%peer, wait_ms = wait.as_millis() as u64, "HJ 212 peer over its byte rate");
                                tokio::time::sleep(wait).await;
                            }
                            events
                        }
                        Err(e) => {
                            tracing::debug!(%peer, error = %e, "HJ 212 read failed");
                            return;
                        }
                    }
                }
                () = tokio::time::sleep_until(deadline) => conn.poll_timeout(Instant::now().into_std()),
                () = crate::agent::stopped(&mut shutdown) => return,
            };
            let (writes, close) = self.handle(events, peer).await;
            for w in writes {
                match tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(w.as_bytes())).await {
                    Ok(Ok(())) => {}
                    _ => {
                        tracing::debug!(%peer, "HJ 212 reply write failed or timed out; closing");
                        return;
                    }
                }
            }
            if close {
                let _ = tokio::time::timeout(Duration::from_secs(1), stream.shutdown()).await;
                return;
            }
        }
    }

    /// Turns one step's events into records (committed before this returns) and the frames to write back.
    async fn handle(&self, events: Vec<Event>, peer: SocketAddr) -> (Vec<String>, bool) {
        // Replies wait for the commit of the record they acknowledge: (reply, index of that record or None).
        let mut replies: Vec<(String, Option<usize>)> = Vec::new();
        let mut pending = Vec::new();
        let mut last_record: Option<usize> = None;
        let mut close = false;
        let received = OffsetDateTime::now_utc();
        for event in events {
            match event {
                Event::Packet { packet, raw } => {
                    last_record = None;
                    if !packet.deviations.is_empty() {
                        self.stats.deviations.fetch_add(1, Ordering::Relaxed);
                    }
                    if packet.is_part() {
                        // Recorded once reassembled; the part is answered now (see docs/GATEWAY.md), unless its
                        // monitor is unknown.
                        if packet.mn.as_deref().is_none_or(|mn| !self.by_mn.contains_key(mn)) {
                            self.stats.rejected.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(%peer, mn = ?packet.mn, "HJ 212 split part from an MN not in the device list: not answered");
                            last_record = Some(usize::MAX);
                        }
                        continue;
                    }
                    if cn::is_request(packet.cn) {
                        replies.extend(self.answer_request(&packet).into_iter().map(|r| (r, None)));
                        continue;
                    }
                    if !is_recorded_cn(packet.cn) {
                        continue;
                    }
                    let Some(device) = packet.mn.as_deref().and_then(|mn| self.by_mn.get(mn)) else {
                        self.stats.rejected.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(%peer, mn = ?packet.mn, bytes = raw.len(), "HJ 212 packet from an MN not in the device list: rejected, not answered");
                        last_record = Some(usize::MAX);
                        continue;
                    };
                    last_record = Some(pending.len());
                    pending.push(self.record(device, &packet, false, received).await);
                }
                Event::Reassembled(packet) => {
                    if let Some(device) = packet.mn.as_deref().and_then(|mn| self.by_mn.get(mn))
                        && is_recorded_cn(packet.cn)
                    {
                        let idx = pending.len();
                        pending.push(self.record(device, &packet, true, received).await);
                        // The last part's reply (just before) now waits for the merged record.
                        if let Some(last) = replies.last_mut() {
                            last.1 = Some(idx);
                        }
                    }
                }
                Event::Rejected { error, raw } => {
                    self.stats.rejected.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%peer, bytes = raw.len(), error = %error, "HJ 212 frame rejected");
                }
                Event::SplitFailed(e) => {
                    self.stats.rejected.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%peer, error = %e, "HJ 212 split upload could not be reassembled");
                }
                Event::Reply(r) => replies.push((r, last_record)),
                Event::Close(reason) => {
                    tracing::debug!(%peer, ?reason, "closing HJ 212 connection");
                    close = true;
                }
            }
        }
        let mut committed: Vec<bool> = Vec::with_capacity(pending.len());
        for p in pending {
            let ok = match p {
                Ok(fut) => fut.await,
                Err(e) => Err(e),
            };
            match ok {
                Ok(_) => {
                    self.stats.recorded.fetch_add(1, Ordering::Relaxed);
                    committed.push(true);
                }
                Err(e) => {
                    self.stats.unacknowledged.fetch_add(1, Ordering::Relaxed);
                    if !matches!(e, QueueError::Full { .. })
                        || self.stats.unacknowledged.load(Ordering::Relaxed).is_power_of_two()
                    {
                        tracing::error!(%peer, error = %e, "HJ 212 reading not stored; no 9014 sent (the monitor will resend)");
                    }
                    committed.push(false);
                }
            }
        }
        let writes: Vec<String> = replies
            .into_iter()
            .filter(|(_, idx)| match idx {
                None => true,
                Some(usize::MAX) => false,
                Some(i) => committed.get(*i).copied().unwrap_or(false),
            })
            .map(|(r, _)| r)
            .collect();
        self.stats.replies.fetch_add(writes.len() as u64, Ordering::Relaxed);
        (writes, close)
    }

    /// Hands the packet's record to the queue; an error if it cannot be built (see [`crate::record::RecordError`]) or queued.
    async fn record(
        &self,
        device: &DeviceConfig,
        packet: &Packet,
        reassembled: bool,
        received: OffsetDateTime,
    ) -> Result<impl std::future::Future<Output = Result<u64, QueueError>> + use<>, QueueError> {
        match hj212_record(&self.config, device, packet, reassembled, received) {
            Ok(record) => self.queue.enqueue(record).await,
            // Not signed: the monitor gets no 9014 and keeps the data (AgentConfig::check makes this unreachable).
            Err(e) => Err(QueueError::Sign(e.to_string())),
        }
    }

    fn answer_request(&self, packet: &Packet) -> Vec<String> {
        let Some(ack) = request_response(packet, QnRtn::Ready) else { return Vec::new() };
        let rtn = if packet.cn == cn::TIME_CALIBRATION_REQUEST { ExeRtn::Success } else { ExeRtn::BadCondition };
        let mut out = vec![ack];
        out.extend(execution_result(packet, rtn));
        out
    }
}
