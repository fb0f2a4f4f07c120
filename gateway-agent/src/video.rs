//! The GB/T 28181 service: the sans-I/O platform role ([`crate::gb28181::Platform`]) on a UDP socket and a TCP
//! listener (the same address), its answers sent back, its deadlines polled, and its events turned into signed
//! `video.camera.status.v1` and `video.camera.alarm.v1` records through the agent's outbox (the path HJ 212 uses).
//!
//! * One task owns the platform: datagrams, framed TCP messages (one reader task per connection, through the
//!   bounded [`StreamFramer`]) and the timer all come to it, so there is no lock around the state machine.
//! * Requests to a device (catalog, device-info and device-status queries, alarm answers) go to where it last sent
//!   from: its UDP address, or its open TCP connection.
//! * Which ids get status records: a device of class camera (131, 132) itself; a recorder (NVR 118, DVR 111 …)
//!   is not a camera, its catalog's camera channels are. A channel follows its recorder: online when the recorder
//!   is online and the catalog does not say `OFF`, offline (with the recorder's last keepalive) when the recorder
//!   goes offline. A record is written when a camera's status changes, and again every `status_every_secs`.
//! * `DeviceStatus` answers ([`crate::gb28181::session::reported_working`]): a device answering `Online` `OFFLINE`
//!   or `Status` `ERROR` about itself takes itself (a camera) or all its channels (a recorder) offline until an
//!   answer says otherwise; a recorder answering so about a channel takes that channel offline (its flag replaces
//!   the catalog's `ON` until the next catalog or answer). Those offline records carry no `last_keepalive_at` (the
//!   device's keepalives go on; the offline time counts from the record).
//! * The sessions, catalogs and last recorded statuses are kept in `queue_dir/gb28181-state.json`
//!   ([`crate::gb28181::state`]), written atomically on change (at most once per keepalive interval) and at
//!   shutdown, and read at start: a damaged file is logged, counted (`state_file_unreadable`) and ignored.
//! * Alarms → `video.camera.alarm.v1` for the alarm's `DeviceID` (a channel, or the camera itself); an alarm
//!   without `AlarmType` is recorded with type 0 (the standard's types start at 1).
//! * Malformed input never stops the service: it is counted (by name, in `GET /v1/status`) and dropped.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use siteledger_domain::site::{CameraAlarm, CameraStatus, CameraStatusChanged, SiteEvent, Timestamp};
use siteledger_domain::time::shanghai_rfc3339_millis;
use siteledger_domain::{ProjectId, Text};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::config::Gb28181Config;
use crate::error::AgentError;
use crate::gb28181::manscdp::AlarmNotify;
use crate::gb28181::session::{camera_channels, reported_working};
use crate::gb28181::state::{self, CameraState, DeviceState, State};
use crate::gb28181::{
    Counters, DeviceClass, DeviceId, Event, Message, Output, Platform, PlatformConfig, SessionState, StreamFramer,
    parse_datagram,
};
use crate::record::Record;
use siteledger_client::outbox::OutboxHandle;

/// Most simultaneous SIP-over-TCP connections (a site has tens of devices).
const MAX_TCP_CONNECTIONS: usize = 256;
/// Bytes read from a socket at once; a UDP datagram larger than this is truncated and then refused by the parser.
const READ_BUF: usize = 65_536;
/// The longest the service sleeps without a deadline.
const IDLE_POLL: std::time::Duration = std::time::Duration::from_secs(3600);
/// The state file's name in the agent's `queue_dir`.
pub const STATE_FILE: &str = "gb28181-state.json";

/// Counters of the GB/T 28181 service, read by `GET /v1/status`.
#[derive(Debug, Default)]
pub struct Gb28181Stats {
    /// UDP datagrams and TCP messages received.
    pub received: AtomicU64,
    /// Messages that could not be parsed or framed (SIP syntax, limits, truncation).
    pub malformed: AtomicU64,
    /// Records committed to the outbox.
    pub recorded: AtomicU64,
    /// Records that could not be stored (queue full or failing).
    pub unrecorded: AtomicU64,
    /// TCP connections open now.
    pub open_connections: AtomicU64,
    /// TCP connections refused at the cap.
    pub refused_connections: AtomicU64,
    /// Cameras whose last record says online.
    pub cameras_online: AtomicU64,
    /// The platform's named counts (refusals and tolerated deviations), as of its last step.
    pub counters: Mutex<Counters>,
}

impl Gb28181Stats {
    /// The counters as the status JSON's `gb28181` member.
    pub fn status(&self) -> Value {
        let counters = self.counters.lock().map(|c| c.clone()).unwrap_or_default();
        let wrong_password = counters.get("auth_wrong_password");
        // Refusals of the XML body or its ids (the SIP syntax errors are counted in `malformed` already).
        let deviations = ["xml_charset_mismatch", "xml_top_level_alarm_type"];
        let malformed_bodies: u64 = counters
            .iter()
            .filter(|(k, _)| (k.starts_with("xml_") || k.starts_with("id_")) && !deviations.contains(k))
            .map(|(_, v)| v)
            .sum();
        let by_name: serde_json::Map<String, Value> = counters.iter().map(|(k, v)| (k.to_owned(), json!(v))).collect();
        json!({
            "received": self.received.load(Ordering::Relaxed),
            "malformed": self.malformed.load(Ordering::Relaxed) + malformed_bodies,
            "wrong_password": wrong_password,
            "recorded": self.recorded.load(Ordering::Relaxed),
            "unrecorded": self.unrecorded.load(Ordering::Relaxed),
            "open_connections": self.open_connections.load(Ordering::Relaxed),
            "refused_connections": self.refused_connections.load(Ordering::Relaxed),
            "cameras_online": self.cameras_online.load(Ordering::Relaxed),
            "counters": by_name,
        })
    }
}

/// The bound sockets, before the service starts.
#[derive(Debug)]
pub struct Gb28181Sockets {
    udp: UdpSocket,
    tcp: TcpListener,
    /// The address both listen on (the port the OS chose for port 0).
    pub addr: SocketAddr,
}

impl Gb28181Sockets {
    /// Binds TCP on `listen`, then UDP on the same address and port.
    pub async fn bind(listen: SocketAddr) -> Result<Self, AgentError> {
        let err = |source| AgentError::Listen { addr: listen.to_string(), source };
        let tcp = TcpListener::bind(listen).await.map_err(err)?;
        let addr = tcp.local_addr().map_err(err)?;
        let udp =
            UdpSocket::bind(addr).await.map_err(|source| AgentError::Listen { addr: addr.to_string(), source })?;
        Ok(Gb28181Sockets { udp, tcp, addr })
    }
}

/// Where a message came from, and where its answers go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Udp(SocketAddr),
    Tcp(u64),
}

/// What a TCP connection task tells the service.
enum Inbound {
    Message(u64, Message),
    Malformed(u64, &'static str),
    Closed(u64),
}

/// The service's state, owned by its one task.
pub struct Gb28181Service {
    platform: Platform,
    project_id: ProjectId,
    queue: OutboxHandle,
    stats: Arc<Gb28181Stats>,
    routes: HashMap<DeviceId, Route>,
    connections: HashMap<u64, mpsc::Sender<Vec<u8>>>,
    /// Camera channels of each recorder, from its last catalog, with the catalog's `ON`/`OFF` (or the channel's last
    /// `DeviceStatus` answer).
    channels: BTreeMap<DeviceId, Vec<(DeviceId, bool)>>,
    /// Devices whose last `DeviceStatus` answer about themselves said `OFFLINE` or `ERROR` (absent: working).
    not_working: std::collections::BTreeSet<DeviceId>,
    /// Where the state is kept across restarts.
    state_path: PathBuf,
    /// Whether something worth keeping changed since the state was last written.
    dirty: bool,
    /// Each camera's last recorded status and when it was recorded.
    recorded: BTreeMap<DeviceId, (bool, OffsetDateTime)>,
    /// How long an unchanged status goes before it is recorded again.
    status_every: time::Duration,
}

impl std::fmt::Debug for Gb28181Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gb28181Service").field("project_id", &self.project_id).finish_non_exhaustive()
    }
}

impl Gb28181Service {
    /// The service for `config`'s devices (passwords read here: a password file others may read is refused).
    pub fn new(
        config: &Gb28181Config,
        addr: SocketAddr,
        project_id: ProjectId,
        queue: OutboxHandle,
        stats: Arc<Gb28181Stats>,
        state_path: &Path,
    ) -> Result<Self, AgentError> {
        config.check()?;
        let id = DeviceId::parse(&config.platform_id)
            .map_err(|e| AgentError::Config(format!("gb28181.platform_id: {e}")))?;
        let host = config.host.clone().unwrap_or_else(|| addr.to_string());
        let mut pc = PlatformConfig::new(id, &host);
        if let Some(realm) = &config.realm {
            pc.realm.clone_from(realm);
        }
        pc.keepalive_interval = time::Duration::seconds(i64::from(config.keepalive_interval_secs));
        pc.keepalive_count = config.keepalive_count;
        pc.max_expires = config.max_expires;
        pc.qop = config.qop;
        pc.device_status_every = time::Duration::seconds(i64::from(config.device_status_every_secs));
        let mut platform = Platform::new(pc, &random_hex(4)?);
        for (id, password) in config.passwords()? {
            platform.add_device(id, password);
        }
        let mut service = Gb28181Service {
            platform,
            project_id,
            queue,
            stats,
            routes: HashMap::new(),
            connections: HashMap::new(),
            channels: BTreeMap::new(),
            not_working: std::collections::BTreeSet::new(),
            recorded: BTreeMap::new(),
            status_every: time::Duration::seconds(i64::from(config.status_every_secs)),
            state_path: state_path.to_owned(),
            dirty: false,
        };
        match read_state(state_path) {
            Ok(Some(state)) => service.restore(state),
            Ok(None) => {}
            Err(reason) => {
                // Never fatal: the agent starts as if for the first time, and the next write replaces the file.
                tracing::warn!(path = %state_path.display(), %reason, "GB/T 28181 state file unreadable; ignored");
                service.platform.count("state_file_unreadable");
                if let Ok(mut c) = service.stats.counters.lock() {
                    c.clone_from(service.platform.counters());
                }
            }
        }
        Ok(service)
    }

    /// Takes back the state of the last run: configured devices' sessions and catalogs, and the last recorded
    /// status of the cameras they have (a device no longer configured, and its cameras, are left out).
    fn restore(&mut self, state: State) {
        let mut cameras = std::collections::BTreeSet::new();
        let mut devices = 0;
        for (id, d) in state.devices {
            let session = SessionState {
                registered_until: d.registered_until,
                last_keepalive: d.last_keepalive,
                online: d.online,
                contact: d.contact,
                tcp: d.tcp,
                channels: d.channels.iter().map(|(c, _)| c.clone()).collect(),
            };
            if !self.platform.restore(&id, session) {
                continue;
            }
            devices += 1;
            if id.class() == DeviceClass::Camera {
                cameras.insert(id.clone());
            }
            cameras.extend(d.channels.iter().map(|(c, _)| c.clone()));
            if !d.working {
                self.not_working.insert(id.clone());
            }
            if !d.channels.is_empty() {
                self.channels.insert(id, d.channels);
            }
        }
        for (camera, c) in state.cameras {
            if cameras.contains(&camera) {
                if c.online {
                    self.stats.cameras_online.fetch_add(1, Ordering::Relaxed);
                }
                self.recorded.insert(camera, (c.online, c.recorded_at));
            }
        }
        tracing::info!(devices, cameras = self.recorded.len(), "GB/T 28181 state of the last run restored");
    }

    /// The state to keep.
    fn snapshot(&self) -> State {
        let mut state = State::default();
        for (id, s) in self.platform.snapshot() {
            let device = DeviceState {
                registered_until: s.registered_until,
                last_keepalive: s.last_keepalive,
                online: s.online,
                working: !self.not_working.contains(&id),
                contact: s.contact.filter(|c| state::contact_ok(c)),
                tcp: s.tcp,
                channels: self.channels.get(&id).cloned().unwrap_or_default(),
            };
            state.devices.insert(id, device);
        }
        for (camera, (online, at)) in &self.recorded {
            state.cameras.insert(camera.clone(), CameraState { online: *online, recorded_at: *at });
        }
        state
    }

    /// Writes the state (temporary file, fsync, rename, fsync of the directory) off the service's task.
    async fn save(&mut self) {
        let bytes = state::encode(&self.snapshot());
        let path = self.state_path.clone();
        let written = tokio::task::spawn_blocking(move || write_atomically(&path, &bytes)).await;
        match written {
            Ok(Ok(())) => self.dirty = false,
            Ok(Err(e)) => {
                self.platform.count("state_file_write_failed");
                tracing::warn!(path = %self.state_path.display(), error = %e, "GB/T 28181 state not written");
            }
            Err(e) => {
                self.platform.count("state_file_write_failed");
                tracing::warn!(error = %e, "GB/T 28181 state writer failed");
            }
        }
    }

    /// Serves until `shutdown`.
    pub async fn serve(mut self, sockets: Gb28181Sockets, mut shutdown: watch::Receiver<bool>) {
        let Gb28181Sockets { udp, tcp, .. } = sockets;
        let (inbound_tx, mut inbound) = mpsc::channel::<Inbound>(1024);
        let mut readers = JoinSet::new();
        let mut next_conn = 0u64;
        let mut buf = vec![0u8; READ_BUF];
        // Checked a few times per period, so a status is never more than a fraction of a period late.
        let mut refresh =
            tokio::time::interval(std::time::Duration::try_from(self.status_every / 6).unwrap_or(IDLE_POLL));
        refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Keepalives move the last-keepalive times without an event: the state is written at most once per
        // keepalive interval (at most a minute apart), so a crash loses at most that much of them.
        let keep_every =
            self.platform.config().keepalive_interval.clamp(time::Duration::SECOND, time::Duration::MINUTE);
        let mut keep = tokio::time::interval(std::time::Duration::try_from(keep_every).unwrap_or(IDLE_POLL));
        keep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Deadlines passed while the agent was down (a restored device silent for longer than interval × count, a
        // registration expired) first, so that no restored status is recorded again before it is checked.
        let passed = self.platform.poll(OffsetDateTime::now_utc()).into_iter().map(|o| (o, None)).collect();
        self.act(passed, &udp).await;
        loop {
            let wait = self
                .platform
                .next_deadline()
                .map_or(IDLE_POLL, |d| (d - OffsetDateTime::now_utc()).try_into().unwrap_or_default())
                .min(IDLE_POLL);
            let outputs: Vec<(Output, Option<Route>)> = tokio::select! {
                received = udp.recv_from(&mut buf) => match received {
                    Ok((n, peer)) => {
                        self.stats.received.fetch_add(1, Ordering::Relaxed);
                        match parse_datagram(&buf[..n], &self.platform.config().sip_limits) {
                            Ok(Some(message)) => self.receive(message, Route::Udp(peer)),
                            Ok(None) => Vec::new(),
                            Err(e) => {
                                self.malformed(e.name(), &peer.to_string());
                                Vec::new()
                            }
                        }
                    }
                    Err(e) => {
                        // ICMP port unreachable from an earlier send surfaces here on some systems: not fatal.
                        tracing::debug!(error = %e, "GB/T 28181 UDP receive failed");
                        Vec::new()
                    }
                },
                accepted = tcp.accept() => {
                    match accepted {
                        Ok((stream, peer)) if self.connections.len() < MAX_TCP_CONNECTIONS => {
                            next_conn += 1;
                            let (tx, rx) = mpsc::channel(64);
                            self.connections.insert(next_conn, tx);
                            self.stats.open_connections.fetch_add(1, Ordering::Relaxed);
                            let limits = self.platform.config().sip_limits;
                            readers.spawn(connection(next_conn, stream, peer, limits, inbound_tx.clone(), rx, shutdown.clone()));
                        }
                        Ok((stream, peer)) => {
                            self.stats.refused_connections.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(%peer, "GB/T 28181 TCP connection cap reached; connection closed");
                            drop(stream);
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "GB/T 28181 accept failed");
                            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        }
                    }
                    Vec::new()
                }
                Some(msg) = inbound.recv() => match msg {
                    Inbound::Message(conn, message) => {
                        self.stats.received.fetch_add(1, Ordering::Relaxed);
                        self.receive(message, Route::Tcp(conn))
                    }
                    Inbound::Malformed(conn, name) => {
                        self.malformed(name, &format!("TCP connection {conn}"));
                        Vec::new()
                    }
                    Inbound::Closed(conn) => {
                        self.connections.remove(&conn);
                        self.routes.retain(|_, r| *r != Route::Tcp(conn));
                        self.stats.open_connections.fetch_sub(1, Ordering::Relaxed);
                        Vec::new()
                    }
                },
                Some(_) = readers.join_next(), if !readers.is_empty() => Vec::new(),
                _ = refresh.tick() => {
                    self.refresh_statuses(OffsetDateTime::now_utc()).await;
                    Vec::new()
                }
                _ = keep.tick() => {
                    if self.dirty {
                        self.save().await;
                    }
                    Vec::new()
                }
                () = tokio::time::sleep(wait) => {
                    self.platform.poll(OffsetDateTime::now_utc()).into_iter().map(|o| (o, None)).collect()
                }
                () = crate::agent::stopped(&mut shutdown) => break,
            };
            self.act(outputs, &udp).await;
            if let Ok(mut c) = self.stats.counters.lock() {
                c.clone_from(self.platform.counters());
            }
        }
        self.save().await;
        drop(udp);
        drop(tcp);
        drop(inbound);
        self.connections.clear();
        while readers.join_next().await.is_some() {}
    }

    fn malformed(&mut self, name: &'static str, from: &str) {
        let n = self.stats.malformed.fetch_add(1, Ordering::Relaxed) + 1;
        self.platform.count(name);
        // The bytes are not logged (a REGISTER carries the digest response); rate-limited to powers of two.
        if n.is_power_of_two() {
            tracing::warn!(error = name, from, malformed = n, "GB/T 28181 message refused");
        }
    }

    fn receive(&mut self, message: Message, route: Route) -> Vec<(Output, Option<Route>)> {
        let from = message.from_user().and_then(|u| DeviceId::parse(u).ok());
        let nonce =
            random_hex(16).unwrap_or_else(|_| format!("{:x}", OffsetDateTime::now_utc().unix_timestamp_nanos()));
        let out = self.platform.receive(message, OffsetDateTime::now_utc(), &nonce);
        if let Some(id) = from
            && self.platform.is_registered(&id)
        {
            self.routes.insert(id, route);
            // A keepalive or registration moved its times.
            self.dirty = true;
        }
        out.into_iter().map(|o| (o, Some(route))).collect()
    }

    async fn act(&mut self, outputs: Vec<(Output, Option<Route>)>, udp: &UdpSocket) {
        for (output, route) in outputs {
            match output {
                Output::Reply(m) => {
                    if let Some(r) = route {
                        self.send(r, &m, udp).await;
                    }
                }
                Output::Request { device, message } => match self.routes.get(&device).copied() {
                    Some(r) => self.send(r, &message, udp).await,
                    None => self.platform.count("request_unroutable"),
                },
                Output::Event(e) => self.event(e).await,
            }
        }
    }

    async fn send(&mut self, route: Route, message: &Message, udp: &UdpSocket) {
        let bytes = message.encode();
        match route {
            Route::Udp(peer) => {
                if let Err(e) = udp.send_to(&bytes, peer).await {
                    tracing::debug!(%peer, error = %e, "GB/T 28181 UDP send failed");
                    self.platform.count("send_failed");
                }
            }
            Route::Tcp(conn) => {
                let sent = match self.connections.get(&conn) {
                    Some(tx) => tx.try_send(bytes).is_ok(),
                    None => false,
                };
                if !sent {
                    self.platform.count("send_failed");
                }
            }
        }
    }

    async fn event(&mut self, event: Event) {
        match event {
            Event::Online { device, at } => {
                let channels = self.channels.get(&device).cloned().unwrap_or_default();
                let working = !self.not_working.contains(&device);
                if device.class() == DeviceClass::Camera {
                    self.status(&device, working, at, None).await;
                }
                for (channel, on) in channels {
                    self.status(&channel, working && on, at, None).await;
                }
            }
            Event::Offline { device, at, last_keepalive, .. } => {
                let channels = self.channels.get(&device).cloned().unwrap_or_default();
                if device.class() == DeviceClass::Camera {
                    self.status(&device, false, at, last_keepalive).await;
                }
                for (channel, _) in channels {
                    self.status(&channel, false, at, last_keepalive).await;
                }
            }
            Event::Catalog { device, items, rejected } => {
                let cameras = camera_channels(&device, &items);
                self.platform.count_by("catalog_item_not_camera", (items.len() - cameras.len()) as u64);
                tracing::info!(%device, cameras = cameras.len(), rejected, "GB/T 28181 catalog");
                let online = self.platform.is_online(&device) && !self.not_working.contains(&device);
                let now = OffsetDateTime::now_utc();
                // Channels the new catalog no longer lists are left with their last record.
                self.channels.insert(device, cameras.clone());
                self.dirty = true;
                for (channel, on) in cameras {
                    self.status(&channel, online && on, now, None).await;
                }
            }
            Event::DeviceStatus { device, status, at } => self.device_status(&device, &status, at).await,
            Event::Alarm { device, alarm } => self.alarm(&device, alarm).await,
            Event::AuthRefused { device, reason, .. } => {
                tracing::warn!(%device, reason = reason.name(), "GB/T 28181 registration refused");
            }
            Event::Registered { device, expires, refresh, .. } => {
                tracing::debug!(%device, expires, refresh, "GB/T 28181 registered");
            }
            Event::Unregistered { device, .. } => tracing::info!(%device, "GB/T 28181 unregistered"),
            Event::DeviceInfo(_) => {}
        }
    }

    /// A `DeviceStatus` answer about `device` itself or one of its channels (the rule in the module's docs).
    async fn device_status(
        &mut self,
        device: &DeviceId,
        status: &crate::gb28181::manscdp::DeviceStatus,
        at: OffsetDateTime,
    ) {
        let Some(working) = reported_working(status) else {
            self.platform.count("device_status_failed");
            return;
        };
        let online = self.platform.is_online(device);
        let about = &status.device_id;
        self.dirty = true;
        if about == device {
            if working {
                self.not_working.remove(device);
            } else {
                self.not_working.insert(device.clone());
            }
            if device.class() == DeviceClass::Camera {
                self.status(device, online && working, at, None).await;
            }
            for (channel, on) in self.channels.get(device).cloned().unwrap_or_default() {
                self.status(&channel, online && working && on, at, None).await;
            }
            return;
        }
        let Some(flag) = self.channels.get_mut(device).and_then(|cs| cs.iter_mut().find(|(c, _)| c == about)) else {
            self.platform.count("device_status_unknown_channel");
            return;
        };
        flag.1 = working;
        let recorder_working = !self.not_working.contains(device);
        self.status(about, online && recorder_working && working, at, None).await;
    }

    /// Records again the status of every camera whose status has not been recorded for `status_every`: the kind
    /// promises a status at least hourly, and the platform's online time counts a camera silent for longer than
    /// that as offline from its last report (docs/SITE.md, "Camera online time").
    async fn refresh_statuses(&mut self, now: OffsetDateTime) {
        let due: Vec<(DeviceId, bool)> = self
            .recorded
            .iter()
            .filter(|(_, (_, at))| now - *at >= self.status_every)
            .map(|(id, (online, _))| (id.clone(), *online))
            .collect();
        for (camera, online) in due {
            self.record_status(&camera, online, now, None).await;
        }
    }

    /// Records `camera`'s status if it changed. `last_keepalive` is written on offline records (where the offline
    /// time counts from) and omitted on online ones.
    async fn status(&mut self, camera: &DeviceId, online: bool, at: OffsetDateTime, last: Option<OffsetDateTime>) {
        if self.recorded.get(camera).map(|(o, _)| *o) == Some(online) {
            return;
        }
        self.record_status(camera, online, at, last).await;
    }

    /// Records `camera`'s status, changed or not.
    async fn record_status(
        &mut self,
        camera: &DeviceId,
        online: bool,
        at: OffsetDateTime,
        last: Option<OffsetDateTime>,
    ) {
        let payload = CameraStatusChanged {
            project_id: self.project_id.clone(),
            device_id: camera.camera_id().clone(),
            status: if online { CameraStatus::Online } else { CameraStatus::Offline },
            last_keepalive_at: if online { None } else { last.map(Timestamp::from_instant) },
        };
        let record = Record::new(&SiteEvent::CameraStatus(Box::new(payload)), shanghai_rfc3339_millis(at));
        if self.store(record).await {
            self.dirty = true;
            let was = self.recorded.insert(camera.clone(), (online, at)).map(|(o, _)| o);
            match (was, online) {
                (Some(false) | None, true) => self.stats.cameras_online.fetch_add(1, Ordering::Relaxed),
                (Some(true), false) => self.stats.cameras_online.fetch_sub(1, Ordering::Relaxed),
                _ => 0,
            };
        }
    }

    async fn alarm(&mut self, device: &DeviceId, alarm: AlarmNotify) {
        let description = alarm.description.as_deref().and_then(|d| Text::parse(d).ok());
        if alarm.description.is_some() && description.is_none() {
            self.platform.count("alarm_description_dropped");
        }
        let payload = CameraAlarm {
            project_id: self.project_id.clone(),
            device_id: alarm.device_id.camera_id().clone(),
            priority: alarm.priority,
            method: alarm.method,
            alarm_type: alarm.alarm_type.unwrap_or(0),
            description,
            alarm_at: Timestamp::from_instant(alarm.time),
        };
        tracing::info!(%device, channel = %alarm.device_id, "GB/T 28181 alarm");
        let record =
            Record::new(&SiteEvent::CameraAlarm(Box::new(payload)), shanghai_rfc3339_millis(OffsetDateTime::now_utc()));
        self.store(record).await;
    }

    async fn store(&mut self, record: Record) -> bool {
        match self.queue.submit(record).await {
            Ok(_) => {
                self.stats.recorded.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(e) => {
                let n = self.stats.unrecorded.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_power_of_two() {
                    tracing::error!(error = %e, unrecorded = n, "GB/T 28181 record not stored");
                }
                false
            }
        }
    }
}

/// One SIP-over-TCP connection: bytes → the framer → whole messages to the service; answers from the service
/// written back. A fatal framing error (the message boundary lost) closes it.
async fn connection(
    id: u64,
    mut stream: TcpStream,
    peer: SocketAddr,
    limits: crate::gb28181::Limits,
    to_service: mpsc::Sender<Inbound>,
    mut from_service: mpsc::Receiver<Vec<u8>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let mut framer = StreamFramer::new(limits);
    let mut buf = vec![0u8; 8192];
    tracing::debug!(%peer, "GB/T 28181 TCP connection");
    'conn: loop {
        tokio::select! {
            read = stream.read(&mut buf[..framer.room().clamp(1, 8192)]) => {
                let n = match read {
                    Ok(0) | Err(_) => {
                        if let Err(e) = framer.finish() {
                            let _ = to_service.send(Inbound::Malformed(id, e.name())).await;
                        }
                        break 'conn;
                    }
                    Ok(n) => n,
                };
                if let Err(e) = framer.push(&buf[..n]) {
                    let _ = to_service.send(Inbound::Malformed(id, e.name())).await;
                    break 'conn;
                }
                loop {
                    match framer.next_message() {
                        Ok(Some(m)) => {
                            if to_service.send(Inbound::Message(id, m)).await.is_err() {
                                break 'conn;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            let fatal = !matches!(e, crate::gb28181::StreamError::Skipped(_));
                            let _ = to_service.send(Inbound::Malformed(id, e.name())).await;
                            if fatal {
                                break 'conn;
                            }
                        }
                    }
                }
            }
            out = from_service.recv() => match out {
                Some(bytes) => {
                    let write = tokio::time::timeout(std::time::Duration::from_secs(10), stream.write_all(&bytes));
                    if !matches!(write.await, Ok(Ok(()))) {
                        break 'conn;
                    }
                }
                None => break 'conn,
            },
            () = crate::agent::stopped(&mut shutdown) => break 'conn,
        }
    }
    let _ = to_service.send(Inbound::Closed(id)).await;
}

/// The state file, if there is one: `Ok(None)` when it does not exist, an error (with the reason) when it cannot be
/// read or is not a state this agent writes.
fn read_state(path: &Path) -> Result<Option<State>, String> {
    use std::io::Read;
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot open: {e}")),
    };
    let mut bytes = Vec::new();
    // One byte more than allowed, so that a file too large is refused rather than cut.
    file.take(state::MAX_BYTES as u64 + 1).read_to_end(&mut bytes).map_err(|e| format!("cannot read: {e}"))?;
    state::parse(&bytes).map(Some).map_err(|e| e.to_string())
}

/// Replaces `path` with `bytes` so that a crash leaves the old file or the new one, never a mix.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("json.tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

fn random_hex(bytes: usize) -> Result<String, AgentError> {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).map_err(|e| AgentError::Config(format!("no randomness for SIP nonces: {e}")))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}
