//! The platform role (GB/T 28181-2016 §9.1 注册和注销, §9.6 状态信息报送, §9.4 报警事件, §9.5 网络设备信息查询) as a
//! sans-I/O state machine, one session per configured device: messages and `now` in, [`Output`]s out (answers to
//! send back, requests to send to a device, and [`Event`]s the agent turns into signed `video.camera.*` records).
//!
//! * `REGISTER` without credentials → `401` with a digest challenge (nonce passed in by the caller); with valid
//!   credentials → `200` with `Date` (校时) and `Expires`; a wrong password → `403`, [`Event::AuthRefused`] and the
//!   `auth_wrong_password` count; `Expires: 0` → unregistered (注销). A fresh registration (not a refresh) is
//!   followed by `Catalog`, `DeviceInfo` and `DeviceStatus` queries.
//! * `MESSAGE` `Keepalive` → `200`; the device is online while keepalives (or registrations) arrive within
//!   `keepalive_interval × keepalive_count`; [`Platform::poll`] reports the online→offline transition at the
//!   deadline, the registration expiring, and [`Platform::next_deadline`] says when to poll next.
//! * `MESSAGE` `Alarm` → `200`, [`Event::Alarm`], and the `Response`/`Alarm` `Result OK` (报警通知响应).
//! * Catalog parts with the same `SN` are gathered until `SumNum` items have come → [`Event::Catalog`], then each
//!   camera channel of it is asked `DeviceStatus` (设备状态查询, its `DeviceID` the channel's).
//! * `DeviceStatus` is asked again of every registered device and its channels every `device_status_every`; an
//!   answer to a query asked (same `SN`, same `DeviceID`) → [`Event::DeviceStatus`], counted
//!   `device_status_answered`; a query not answered within `query_timeout` is counted `device_status_unanswered`;
//!   an answer to nothing asked is counted `device_status_unsolicited` and ignored. [`reported_working`] is the rule
//!   that turns an answer into online or offline.
//! * [`Platform::snapshot`] and [`Platform::restore`]: what a session keeps across an agent restart.
//! * Anything malformed is answered `400` (or `403` from a device not configured or not registered) and counted.

use std::collections::BTreeMap;

use time::{Duration, OffsetDateTime};

use super::auth::{AuthError, Challenge, Credentials, Password};
use super::counters::Counters;
use super::id::{DeviceClass, DeviceId};
use super::manscdp::{self, AlarmNotify, Body, CatalogItem, DeviceInfo, DeviceStatus, XmlLimits};
use super::sip::{Limits, Message, Method, StartLine, parse_datagram, uri_user};

/// The platform's configuration.
#[derive(Debug, Clone)]
pub struct PlatformConfig {
    /// The platform's own 20-digit id (类型编码 200, e.g. `33021200002000000001`).
    pub id: DeviceId,
    /// 域 / digest realm; by default the first 10 digits of `id`.
    pub realm: String,
    /// The platform's `host:port`, written in `Via` and `Call-ID` of requests it sends.
    pub host: String,
    /// 心跳周期: the interval devices are configured to send keepalives at. Default 60 s.
    pub keepalive_interval: Duration,
    /// 心跳超时次数: keepalives missed before a device is offline. Default 3.
    pub keepalive_count: u32,
    /// Registration lifetime granted when the device asks none, and the cap on what it asks. Default 3600 s.
    pub max_expires: u32,
    /// Offer `qop="auth"` in challenges. Default off (many cameras answer in the RFC 2069 form only).
    pub qop: bool,
    /// Most catalog items gathered for one query (its `SumNum`); a larger catalog is dropped and counted.
    /// Default 4096.
    pub max_catalog_items: usize,
    /// How often each registered device (and each camera channel of its catalog) is asked `DeviceStatus`.
    /// Default 600 s.
    pub device_status_every: Duration,
    /// How long a `DeviceStatus` query waits for its answer before it counts as unanswered. Default 30 s.
    pub query_timeout: Duration,
    /// SIP limits (for [`Platform::receive_datagram`]).
    pub sip_limits: Limits,
    /// MANSCDP limits.
    pub xml_limits: XmlLimits,
}

impl PlatformConfig {
    /// Defaults for a platform id and address.
    #[must_use]
    pub fn new(id: DeviceId, host: &str) -> Self {
        Self {
            realm: id.domain().to_owned(),
            id,
            host: host.to_owned(),
            keepalive_interval: Duration::seconds(60),
            keepalive_count: 3,
            max_expires: 3600,
            qop: false,
            max_catalog_items: 4096,
            device_status_every: Duration::seconds(600),
            query_timeout: Duration::seconds(30),
            sip_limits: Limits::default(),
            xml_limits: XmlLimits::default(),
        }
    }

    /// How long a device stays online after its last keepalive.
    #[must_use]
    pub fn keepalive_timeout(&self) -> Duration {
        self.keepalive_interval * self.keepalive_count.max(1)
    }
}

/// Why a device went offline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfflineReason {
    /// No keepalive within interval × count.
    KeepaliveTimeout,
    /// It unregistered (`Expires: 0`).
    Unregistered,
    /// Its registration expired without a refresh.
    RegistrationExpired,
}

/// What happened, as plain data for the agent to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A device registered (or refreshed its registration).
    Registered {
        /// The device.
        device: DeviceId,
        /// Granted lifetime in seconds.
        expires: u32,
        /// Whether it was registered already (a refresh).
        refresh: bool,
        /// When.
        at: OffsetDateTime,
    },
    /// A device unregistered (`Expires: 0`) or its registration expired.
    Unregistered {
        /// The device.
        device: DeviceId,
        /// When.
        at: OffsetDateTime,
    },
    /// A device went online (registration, or a keepalive after it was offline): `video.camera.status.v1` online.
    Online {
        /// The device.
        device: DeviceId,
        /// When.
        at: OffsetDateTime,
    },
    /// A device went offline: `video.camera.status.v1` offline. Offline time counts from `last_keepalive`.
    Offline {
        /// The device.
        device: DeviceId,
        /// When the platform noticed (the deadline, or the unregistration).
        at: OffsetDateTime,
        /// The last keepalive or registration seen.
        last_keepalive: Option<OffsetDateTime>,
        /// Why.
        reason: OfflineReason,
    },
    /// A `REGISTER` with credentials that do not verify (wrong password, foreign realm …).
    AuthRefused {
        /// The device.
        device: DeviceId,
        /// Why.
        reason: AuthError,
        /// When.
        at: OffsetDateTime,
    },
    /// A device's whole catalog: its channels (cameras of an NVR) with checked ids.
    Catalog {
        /// The device answering.
        device: DeviceId,
        /// Items with valid ids.
        items: Vec<CatalogItem>,
        /// Items refused for their id.
        rejected: usize,
    },
    /// 报警: → `video.camera.alarm.v1` for `alarm.device_id` (a channel of `device`, or `device` itself).
    Alarm {
        /// The registered device that sent it.
        device: DeviceId,
        /// The alarm.
        alarm: AlarmNotify,
    },
    /// A `DeviceInfo` answer.
    DeviceInfo(DeviceInfo),
    /// An answer to a `DeviceStatus` query the platform asked: about `device` itself, or about a channel of it
    /// (`status.device_id`).
    DeviceStatus {
        /// The registered device that answered.
        device: DeviceId,
        /// The answer.
        status: DeviceStatus,
        /// When.
        at: OffsetDateTime,
    },
}

/// What a `DeviceStatus` answer says of the device or channel it is about: `Some(false)` (not working: offline) when
/// it says `Online` `OFFLINE` or `Status` `ERROR`, `Some(true)` when it says neither, `None` when the query failed
/// (`Result` `ERROR`: the answer says nothing about the device). `Alarmstatus` duty (布防/撤防) is not online state.
#[must_use]
pub fn reported_working(status: &DeviceStatus) -> Option<bool> {
    status.ok.then_some(status.online != Some(false) && status.working != Some(false))
}

/// The camera channels (class 131/132, not the device itself) of a catalog, with whether it says `ON`: the ids that
/// get status records for a recorder, and that are asked `DeviceStatus`.
#[must_use]
pub fn camera_channels(device: &DeviceId, items: &[CatalogItem]) -> Vec<(DeviceId, bool)> {
    items
        .iter()
        .filter(|i| i.device_id.class() == DeviceClass::Camera && i.device_id != *device)
        .map(|i| (i.device_id.clone(), i.status != Some(manscdp::ItemStatus::Off)))
        .collect()
}

/// A session's state that outlives the agent: what [`Platform::snapshot`] gives and [`Platform::restore`] takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionState {
    /// Until when its registration holds.
    pub registered_until: Option<OffsetDateTime>,
    /// Its last keepalive or registration.
    pub last_keepalive: Option<OffsetDateTime>,
    /// Whether it was online.
    pub online: bool,
    /// Its `Contact`.
    pub contact: Option<String>,
    /// Whether it registered over TCP.
    pub tcp: bool,
    /// The camera channels of its last catalog (asked `DeviceStatus`).
    pub channels: Vec<DeviceId>,
}

/// What the caller does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send this response back to where the request came from.
    Reply(Message),
    /// Send this request to the device (at the address it registered from).
    Request {
        /// The device.
        device: DeviceId,
        /// The request.
        message: Message,
    },
    /// Record this.
    Event(Event),
}

/// Catalog answers gathered at once per device.
const MAX_PENDING_CATALOGS: usize = 4;
/// `DeviceStatus` queries awaiting an answer per device (its channels' and its own); beyond, the oldest is dropped
/// and counted unanswered.
const MAX_PENDING_STATUS: usize = 4096;

#[derive(Debug, Default)]
struct Catalog {
    sum_num: u32,
    items: Vec<CatalogItem>,
    rejected: usize,
}

#[derive(Debug)]
struct Session {
    password: Password,
    challenge: Option<Challenge>,
    registered_until: Option<OffsetDateTime>,
    contact: Option<String>,
    transport: &'static str,
    last_seen: Option<OffsetDateTime>,
    online: bool,
    catalogs: BTreeMap<u32, Catalog>,
    /// Camera channels of its last catalog.
    channels: Vec<DeviceId>,
    /// When it (and its channels) are next asked `DeviceStatus`.
    next_status: Option<OffsetDateTime>,
    /// Restored from before a restart and not heard from since: the agent does not know where to reach it yet
    /// (requests go to where a device last sent from), so its `DeviceStatus` round waits for its next message.
    unheard_since_restore: bool,
    /// `DeviceStatus` queries asked, by `SN`: whom about, and when.
    pending: BTreeMap<u32, (DeviceId, OffsetDateTime)>,
}

/// The platform: every configured device's session.
#[derive(Debug)]
pub struct Platform {
    config: PlatformConfig,
    devices: BTreeMap<DeviceId, Session>,
    counters: Counters,
    salt: String,
    next_token: u64,
    next_sn: u32,
    cseq: u32,
}

impl Platform {
    /// A platform with no devices yet. `salt` (random, per start) makes its Call-IDs, tags and branches unique.
    #[must_use]
    pub fn new(config: PlatformConfig, salt: &str) -> Self {
        Self {
            config,
            devices: BTreeMap::new(),
            counters: Counters::default(),
            salt: salt.to_owned(),
            next_token: 0,
            next_sn: 1,
            cseq: 0,
        }
    }

    /// Its configuration.
    #[must_use]
    pub fn config(&self) -> &PlatformConfig {
        &self.config
    }

    /// Admits a device (camera, NVR) with its password.
    pub fn add_device(&mut self, id: DeviceId, password: Password) {
        self.devices.insert(
            id,
            Session {
                password,
                challenge: None,
                registered_until: None,
                contact: None,
                transport: "UDP",
                last_seen: None,
                online: false,
                catalogs: BTreeMap::new(),
                channels: Vec::new(),
                next_status: None,
                unheard_since_restore: false,
                pending: BTreeMap::new(),
            },
        );
    }

    /// Counts of refusals and deviations so far.
    #[must_use]
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Counts a refusal met outside (e.g. by the TCP framer).
    pub fn count(&mut self, name: &'static str) {
        self.counters.bump(name);
    }

    /// Counts `n` refusals met outside.
    pub fn count_by(&mut self, name: &'static str, n: u64) {
        self.counters.bump_by(name, n);
    }

    /// Whether `device` is online now (as of the last [`poll`](Self::poll)).
    #[must_use]
    pub fn is_online(&self, device: &DeviceId) -> bool {
        self.devices.get(device).is_some_and(|s| s.online)
    }

    /// Whether `device` holds a registration.
    #[must_use]
    pub fn is_registered(&self, device: &DeviceId) -> bool {
        self.devices.get(device).is_some_and(|s| s.registered_until.is_some())
    }

    /// One UDP datagram: parsed, counted, handled. `nonce` is fresh randomness, used if a challenge is issued.
    pub fn receive_datagram(&mut self, bytes: &[u8], now: OffsetDateTime, nonce: &str) -> Vec<Output> {
        match parse_datagram(bytes, &self.config.sip_limits) {
            Ok(Some(message)) => self.receive(message, now, nonce),
            Ok(None) => Vec::new(),
            Err(e) => {
                self.counters.bump(e.name());
                Vec::new()
            }
        }
    }

    /// One whole message (from a datagram or the TCP framer).
    pub fn receive(&mut self, message: Message, now: OffsetDateTime, nonce: &str) -> Vec<Output> {
        for d in &message.deviations {
            self.counters.bump(d.name());
        }
        match &message.start {
            StartLine::Response { status, .. } => {
                if *status >= 300 {
                    self.counters.bump("request_failed");
                }
                Vec::new()
            }
            StartLine::Request { method: Method::Register, .. } => self.register(&message, now, nonce),
            StartLine::Request { method: Method::Message, .. } => self.message(&message, now),
            StartLine::Request { method: Method::Ack, .. } => Vec::new(),
            StartLine::Request { .. } => {
                self.counters.bump("method_not_allowed");
                vec![Output::Reply(self.reply(&message, 405, "Method Not Allowed"))]
            }
        }
    }

    /// Deadlines passed at `now`: registrations expired, keepalives missed.
    pub fn poll(&mut self, now: OffsetDateTime) -> Vec<Output> {
        let timeout = self.config.keepalive_timeout();
        let mut out = Vec::new();
        for (id, s) in &mut self.devices {
            if s.registered_until.is_some_and(|until| now >= until) {
                s.registered_until = None;
                s.contact = None;
                out.push(Output::Event(Event::Unregistered { device: id.clone(), at: now }));
                if s.online {
                    s.online = false;
                    out.push(offline(id, now, s.last_seen, OfflineReason::RegistrationExpired));
                }
            }
            if s.online && s.last_seen.is_some_and(|seen| now >= seen + timeout) {
                s.online = false;
                out.push(offline(id, now, s.last_seen, OfflineReason::KeepaliveTimeout));
            }
            let expired = s.pending.iter().filter(|(_, (_, asked))| now >= *asked + self.config.query_timeout).count();
            s.pending.retain(|_, (_, asked)| now < *asked + self.config.query_timeout);
            self.counters.bump_by("device_status_unanswered", expired as u64);
        }
        let due: Vec<DeviceId> = self
            .devices
            .iter()
            .filter(|(_, s)| s.registered_until.is_some() && s.next_status.is_some_and(|at| now >= at))
            .map(|(id, _)| id.clone())
            .collect();
        for device in due {
            out.extend(self.ask_status(&device, true, now));
        }
        out
    }

    /// When [`poll`](Self::poll) next has something to do.
    #[must_use]
    pub fn next_deadline(&self) -> Option<OffsetDateTime> {
        let timeout = self.config.keepalive_timeout();
        let query_timeout = self.config.query_timeout;
        self.devices
            .values()
            .flat_map(|s| {
                [
                    s.registered_until,
                    s.last_seen.filter(|_| s.online).map(|seen| seen + timeout),
                    s.next_status.filter(|_| s.registered_until.is_some()),
                    s.pending.values().map(|(_, asked)| *asked + query_timeout).min(),
                ]
            })
            .flatten()
            .min()
    }

    /// `DeviceStatus` queries to a registered device now: about itself, and (`channels`) about each camera channel
    /// of its last catalog. The next round is due `device_status_every` later.
    pub fn query_status(&mut self, device: &DeviceId, now: OffsetDateTime) -> Vec<Output> {
        if !self.is_registered(device) {
            return Vec::new();
        }
        self.ask_status(device, true, now)
    }

    /// What a session keeps across an agent restart.
    #[must_use]
    pub fn snapshot(&self) -> Vec<(DeviceId, SessionState)> {
        self.devices
            .iter()
            .map(|(id, s)| {
                let state = SessionState {
                    registered_until: s.registered_until,
                    last_keepalive: s.last_seen,
                    online: s.online,
                    contact: s.contact.clone(),
                    tcp: s.transport == "TCP",
                    channels: s.channels.clone(),
                };
                (id.clone(), state)
            })
            .collect()
    }

    /// Takes back a configured device's state from before a restart (an unconfigured one is ignored: `false`). The
    /// deadlines run from the persisted times: a device online before the restart stays online while its keepalives
    /// come within interval × count of the persisted last one, and [`poll`](Self::poll) reports it offline from
    /// that keepalive otherwise (at once when the agent was down longer). It is asked `DeviceStatus` as soon as it
    /// is heard from again (its keepalive tells the agent where it is; a query before that could not be routed).
    pub fn restore(&mut self, device: &DeviceId, state: SessionState) -> bool {
        let Some(s) = self.devices.get_mut(device) else { return false };
        s.registered_until = state.registered_until;
        s.last_seen = state.last_keepalive;
        // Online needs a registration and a keepalive to count from.
        s.online = state.online && state.last_keepalive.is_some() && state.registered_until.is_some();
        s.contact = state.contact;
        s.transport = if state.tcp { "TCP" } else { "UDP" };
        s.channels = state.channels;
        s.next_status = None;
        s.unheard_since_restore = true;
        true
    }

    fn ask_status(&mut self, device: &DeviceId, channels: bool, now: OffsetDateTime) -> Vec<Output> {
        let every = self.config.device_status_every;
        let Some(s) = self.devices.get_mut(device) else { return Vec::new() };
        s.next_status = Some(now + every);
        let mut targets = vec![device.clone()];
        if channels {
            targets.extend(s.channels.iter().cloned());
        }
        let mut out = Vec::with_capacity(targets.len());
        for target in targets {
            let sn = self.next_sn;
            let Some(s) = self.devices.get_mut(device) else { break };
            if s.pending.len() >= MAX_PENDING_STATUS {
                s.pending.pop_first();
                self.counters.bump("device_status_unanswered");
            }
            s.pending.insert(sn, (target.clone(), now));
            self.counters.bump("device_status_asked");
            out.push(self.query_about(device, &target, "DeviceStatus"));
        }
        out
    }

    fn register(&mut self, request: &Message, now: OffsetDateTime, nonce: &str) -> Vec<Output> {
        let Some(device) = self.device_of(request) else {
            return vec![Output::Reply(self.reply(request, 400, "Bad Request"))];
        };
        if !self.devices.contains_key(&device) {
            self.counters.bump("register_unknown_device");
            return vec![Output::Reply(self.reply(request, 403, "Forbidden"))];
        }
        let Some(authorization) = request.headers.get("Authorization").map(str::to_owned) else {
            return vec![Output::Reply(self.challenge(request, &device, nonce))];
        };
        let verdict = Credentials::parse(&authorization).and_then(|c| {
            let s = &self.devices[&device];
            let challenge = s.challenge.as_ref().ok_or(AuthError::UnknownNonce)?;
            c.verify("REGISTER", challenge, &s.password)
        });
        if let Err(reason) = verdict {
            self.counters.bump(reason.name());
            if reason == AuthError::UnknownNonce {
                // A stale or replayed nonce: challenge again rather than refuse.
                return vec![Output::Reply(self.challenge(request, &device, nonce))];
            }
            if let Some(s) = self.devices.get_mut(&device) {
                s.challenge = None;
            }
            let event = Event::AuthRefused { device, reason, at: now };
            return vec![Output::Reply(self.reply(request, 403, "Forbidden")), Output::Event(event)];
        }
        let expires = request.expires().unwrap_or(self.config.max_expires).min(self.config.max_expires);
        let transport = if request.headers.get("Via").is_some_and(|v| v.to_ascii_uppercase().contains("/TCP")) {
            "TCP"
        } else {
            "UDP"
        };
        let contact = request.headers.get("Contact").map(str::to_owned);
        let date = manscdp::format_date_header(now);
        let mut reply = self.reply(request, 200, "OK").with_header("Date", &date);
        if let Some(c) = &contact {
            reply = reply.with_header("Contact", c);
        }
        reply = reply.with_header("Expires", &expires.to_string());
        let mut out = vec![Output::Reply(reply)];
        let Some(s) = self.devices.get_mut(&device) else { return out };
        s.challenge = None;
        if expires == 0 {
            let was = s.registered_until.take().is_some();
            s.contact = None;
            if was {
                out.push(Output::Event(Event::Unregistered { device: device.clone(), at: now }));
            }
            if s.online {
                s.online = false;
                out.push(offline(&device, now, s.last_seen, OfflineReason::Unregistered));
            }
            return out;
        }
        let refresh = s.registered_until.is_some();
        s.registered_until = Some(now + Duration::seconds(i64::from(expires)));
        s.contact = contact;
        s.transport = transport;
        s.last_seen = Some(to_millis(now));
        out.push(Output::Event(Event::Registered { device: device.clone(), expires, refresh, at: now }));
        if !s.online {
            s.online = true;
            out.push(Output::Event(Event::Online { device: device.clone(), at: now }));
        }
        if !refresh {
            out.push(self.query(&device, "Catalog"));
            out.push(self.query(&device, "DeviceInfo"));
            // Its channels are asked once its catalog is complete.
            out.extend(self.ask_status(&device, false, now));
        }
        out
    }

    fn message(&mut self, request: &Message, now: OffsetDateTime) -> Vec<Output> {
        let Some(device) = self.device_of(request) else {
            return vec![Output::Reply(self.reply(request, 400, "Bad Request"))];
        };
        if self.devices.get(&device).is_none_or(|s| s.registered_until.is_none()) {
            // GB/T 28181 devices re-register when their keepalives are refused.
            self.counters.bump("message_from_unregistered");
            return vec![Output::Reply(self.reply(request, 403, "Forbidden"))];
        }
        let parsed = manscdp::parse(&request.body, request.headers.get("Content-Type"), &self.config.xml_limits);
        let parsed = match parsed {
            Ok(p) => p,
            Err(e) => {
                self.counters.bump(e.name());
                return vec![Output::Reply(self.reply(request, 400, "Bad Request"))];
            }
        };
        for d in &parsed.deviations {
            self.counters.bump(match d {
                manscdp::XmlDeviation::CharsetMismatch => "xml_charset_mismatch",
                manscdp::XmlDeviation::TopLevelAlarmType => "xml_top_level_alarm_type",
            });
        }
        let mut out = vec![Output::Reply(self.reply(request, 200, "OK"))];
        let Some(s) = self.devices.get_mut(&device) else { return out };
        if std::mem::take(&mut s.unheard_since_restore) {
            // Heard from after a restart: where it is is known now, so its DeviceStatus round is due.
            s.next_status = Some(now);
        }
        match parsed.body {
            Body::Keepalive(k) => {
                if k.device_id != device {
                    self.counters.bump("keepalive_id_mismatch");
                }
                s.last_seen = Some(to_millis(now));
                if !s.online {
                    s.online = true;
                    out.push(Output::Event(Event::Online { device, at: now }));
                }
            }
            Body::Alarm(alarm) => {
                let sn = alarm.sn;
                let channel = alarm.device_id.clone();
                out.push(Output::Event(Event::Alarm { device: device.clone(), alarm }));
                let body = manscdp::alarm_response(sn, &channel);
                out.push(Output::Request { device: device.clone(), message: self.request(&device, body) });
            }
            Body::Catalog(part) => {
                self.counters.bump_by("catalog_item_rejected", part.rejected.len() as u64);
                let max = self.config.max_catalog_items;
                if part.sum_num as usize > max {
                    self.counters.bump("catalog_too_large");
                    return out;
                }
                if !s.catalogs.contains_key(&part.sn) && s.catalogs.len() >= MAX_PENDING_CATALOGS {
                    // A device answering many queries at once, or inventing SNs: keep the newest few.
                    s.catalogs.pop_first();
                    self.counters.bump("catalog_abandoned");
                }
                let gathered = s.catalogs.entry(part.sn).or_default();
                gathered.sum_num = part.sum_num;
                gathered.rejected += part.rejected.len();
                gathered.items.extend(part.items);
                let have = gathered.items.len() + gathered.rejected;
                if have > max {
                    s.catalogs.remove(&part.sn);
                    self.counters.bump("catalog_too_large");
                } else if have >= gathered.sum_num as usize {
                    let done = s.catalogs.remove(&part.sn).unwrap_or_default();
                    s.channels = camera_channels(&device, &done.items).into_iter().map(|(c, _)| c).collect();
                    let channels = s.channels.clone();
                    out.push(Output::Event(Event::Catalog {
                        device: device.clone(),
                        items: done.items,
                        rejected: done.rejected,
                    }));
                    for channel in channels {
                        let sn = self.next_sn;
                        if let Some(s) = self.devices.get_mut(&device) {
                            s.pending.insert(sn, (channel.clone(), now));
                        }
                        self.counters.bump("device_status_asked");
                        out.push(self.query_about(&device, &channel, "DeviceStatus"));
                    }
                }
            }
            Body::DeviceInfo(info) => out.push(Output::Event(Event::DeviceInfo(info))),
            Body::DeviceStatus(status) => match s.pending.get(&status.sn) {
                Some((about, _)) if *about == status.device_id => {
                    s.pending.remove(&status.sn);
                    self.counters.bump("device_status_answered");
                    out.push(Output::Event(Event::DeviceStatus { device, status, at: now }));
                }
                Some(_) => {
                    // The answer is about another device than the query asked: the query stays unanswered.
                    self.counters.bump("device_status_id_mismatch");
                }
                None => self.counters.bump("device_status_unsolicited"),
            },
            Body::Query { .. } | Body::Other { .. } => self.counters.bump("manscdp_ignored"),
        }
        out
    }

    /// The device a request is from (its `From` user), counted when missing or malformed.
    fn device_of(&mut self, request: &Message) -> Option<DeviceId> {
        let Some(user) = request.from_user() else {
            self.counters.bump("from_without_device_id");
            return None;
        };
        match DeviceId::parse(user) {
            Ok(id) => Some(id),
            Err(e) => {
                self.counters.bump(e.name());
                None
            }
        }
    }

    fn challenge(&mut self, request: &Message, device: &DeviceId, nonce: &str) -> Message {
        let challenge = Challenge { realm: self.config.realm.clone(), nonce: nonce.to_owned(), qop: self.config.qop };
        let header = challenge.header();
        if let Some(s) = self.devices.get_mut(device) {
            s.challenge = Some(challenge);
        }
        self.reply(request, 401, "Unauthorized").with_header("WWW-Authenticate", &header)
    }

    fn reply(&mut self, request: &Message, status: u16, reason: &str) -> Message {
        let tag = self.token();
        Message::response_to(request, status, reason, &tag).with_header("User-Agent", "SiteLedger gateway-agent")
    }

    fn query(&mut self, device: &DeviceId, cmd_type: &str) -> Output {
        self.query_about(device, device, cmd_type)
    }

    /// A query sent to `device` about `about` (itself, or one of its channels).
    fn query_about(&mut self, device: &DeviceId, about: &DeviceId, cmd_type: &str) -> Output {
        let sn = self.next_sn;
        self.next_sn = self.next_sn.wrapping_add(1).max(1);
        let body = manscdp::query(cmd_type, sn, about);
        Output::Request { device: device.clone(), message: self.request(device, body) }
    }

    /// A `MESSAGE` to `device` with a MANSCDP body.
    fn request(&mut self, device: &DeviceId, body: Vec<u8>) -> Message {
        let (branch, tag, call) = (self.token(), self.token(), self.token());
        self.cseq = self.cseq.wrapping_add(1);
        let session = self.devices.get(device);
        let transport = session.map_or("UDP", |s| s.transport);
        let uri = session
            .and_then(|s| s.contact.as_deref())
            .and_then(contact_uri)
            .unwrap_or_else(|| format!("sip:{device}@{}", device.domain()));
        let c = &self.config;
        Message::request(Method::Message, &uri)
            .with_header("Via", &format!("SIP/2.0/{transport} {};rport;branch=z9hG4bK{branch}", c.host))
            .with_header("From", &format!("<sip:{}@{}>;tag={tag}", c.id, c.realm))
            .with_header("To", &format!("<sip:{device}@{}>", device.domain()))
            .with_header("Call-ID", &format!("{call}@{}", c.host))
            .with_header("CSeq", &format!("{} MESSAGE", self.cseq))
            .with_header("Max-Forwards", "70")
            .with_header("User-Agent", "SiteLedger gateway-agent")
            .with_body(manscdp::CONTENT_TYPE, body)
    }

    fn token(&mut self) -> String {
        self.next_token += 1;
        format!("{}{:06}", self.salt, self.next_token)
    }
}

/// `t` to the millisecond below: a keepalive's time as records write times (`occurred_at` has milliseconds), so an
/// offline record's `occurred_at` is never less than interval × count after the `last_keepalive_at` it carries (at
/// nanoseconds it could be 0.5 ms less, its time being cut to the millisecond and the keepalive's not).
fn to_millis(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(t.nanosecond() / 1_000_000 * 1_000_000).unwrap_or(t)
}

fn offline(id: &DeviceId, at: OffsetDateTime, last: Option<OffsetDateTime>, reason: OfflineReason) -> Output {
    Output::Event(Event::Offline { device: id.clone(), at, last_keepalive: last, reason })
}

/// The SIP URI inside a `Contact` value (`<sip:3402…@192.168.1.64:5060>;expires=3600` → `sip:3402…@192.168.1.64:5060`).
fn contact_uri(contact: &str) -> Option<String> {
    let inner = match (contact.find('<'), contact.find('>')) {
        (Some(a), Some(b)) if a < b => &contact[a + 1..b],
        _ => contact.split(';').next()?.trim(),
    };
    (inner.starts_with("sip:")
        && uri_user(&format!("<{inner}>")).is_some()
        && inner.bytes().all(|b| b.is_ascii_graphic()))
    .then(|| inner.to_owned())
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
