//! The device role, sans-I/O: what a GB/T 28181 camera or NVR does towards its platform (register through the
//! digest challenge, send keepalives, answer `Catalog`, `DeviceInfo` and `DeviceStatus` queries, notify alarms). For the
//! simulator and for tests of the platform; messages and `now` in, messages to send out.

use std::collections::BTreeSet;

use time::{Duration, OffsetDateTime};

use super::auth::{Challenge, Credentials, Password};
use super::id::DeviceId;
use super::manscdp::{self, AlarmNotify, Body, Root, XmlLimits};
use super::sip::{Message, Method, StartLine};

/// A simulated device's settings.
#[derive(Debug, Clone)]
pub struct DeviceConfig {
    /// Its id (132 camera, 118 NVR …).
    pub id: DeviceId,
    /// Its password.
    pub password: Password,
    /// The platform's id.
    pub platform: DeviceId,
    /// Its own `host:port` (written in `Via` and `Contact`).
    pub host: String,
    /// `UDP` or `TCP`, for `Via`.
    pub transport: &'static str,
    /// Registration lifetime asked for.
    pub expires: u32,
    /// 心跳周期.
    pub keepalive_interval: Duration,
    /// Channels it reports in its catalog (an NVR's cameras), with their names.
    pub channels: Vec<(DeviceId, String)>,
}

/// A simulated device.
#[derive(Debug)]
pub struct Device {
    config: DeviceConfig,
    registered_until: Option<OffsetDateTime>,
    next_keepalive: Option<OffsetDateTime>,
    cseq: u32,
    sn: u32,
    token: u64,
    stopped: bool,
    silent: bool,
    /// Channels it reports `OFFLINE` when asked their `DeviceStatus`.
    offline_channels: BTreeSet<DeviceId>,
    /// Whether it answers `Status` `OK` about itself.
    working: bool,
}

impl Device {
    /// A device, not registered yet.
    #[must_use]
    pub fn new(config: DeviceConfig) -> Self {
        Self {
            config,
            registered_until: None,
            next_keepalive: None,
            cseq: 0,
            sn: 0,
            token: 0,
            stopped: false,
            silent: false,
            offline_channels: BTreeSet::new(),
            working: true,
        }
    }

    /// Whether the platform accepted its registration.
    #[must_use]
    pub fn is_registered(&self) -> bool {
        self.registered_until.is_some()
    }

    /// A `REGISTER` without credentials (the platform will challenge it).
    pub fn register(&mut self) -> Message {
        self.stopped = false;
        self.register_with(None, self.config.expires)
    }

    /// `REGISTER` with `Expires: 0` (注销); the platform challenges it like any other.
    pub fn unregister(&mut self) -> Message {
        self.stopped = true;
        self.register_with(None, 0)
    }

    /// Stops (or resumes) keepalives, as a camera losing its network would.
    pub fn set_silent(&mut self, silent: bool) {
        self.silent = silent;
    }

    /// Marks one of its channels online or offline, as its `DeviceStatus` answers report it (the catalog is not
    /// changed: an NVR learns of a camera gone between catalogs).
    pub fn set_channel_online(&mut self, channel: &DeviceId, online: bool) {
        if online {
            self.offline_channels.remove(channel);
        } else {
            self.offline_channels.insert(channel.clone());
        }
    }

    /// Whether it answers `Status` `OK` (or `ERROR`) about itself.
    pub fn set_working(&mut self, working: bool) {
        self.working = working;
    }

    /// An `Alarm` notification (报警通知) for `channel` (or the device itself).
    pub fn alarm(&mut self, mut alarm: AlarmNotify) -> Message {
        alarm.sn = self.next_sn();
        self.message(manscdp::alarm_notify(&alarm))
    }

    /// Keepalives and re-registration due at `now`.
    pub fn poll(&mut self, now: OffsetDateTime) -> Vec<Message> {
        let mut out = Vec::new();
        if let Some(until) = self.registered_until
            && now + Duration::seconds(60) >= until
        {
            self.registered_until = None;
            out.push(self.register());
        }
        if let Some(due) = self.next_keepalive
            && now >= due
            && !self.silent
        {
            self.next_keepalive = Some(now + self.config.keepalive_interval);
            let sn = self.next_sn();
            out.push(self.message(manscdp::keepalive(sn, &self.config.id)));
        }
        out
    }

    /// A message from the platform: the answers to send back.
    pub fn receive(&mut self, message: &Message, now: OffsetDateTime) -> Vec<Message> {
        match &message.start {
            StartLine::Response { status: 401, .. } if message.cseq().is_some_and(|(_, m)| m == "REGISTER") => {
                let Some(challenge) = message.headers.get("WWW-Authenticate").and_then(parse_challenge) else {
                    return Vec::new();
                };
                let uri = format!("sip:{}@{}", self.config.platform, self.config.platform.domain());
                let creds =
                    Credentials::answer(&challenge, self.config.id.as_str(), &self.config.password, "REGISTER", &uri);
                let expires = if self.stopped { 0 } else { self.config.expires };
                vec![self.register_with(Some(&creds.header()), expires)]
            }
            StartLine::Response { status: 200, .. } if message.cseq().is_some_and(|(_, m)| m == "REGISTER") => {
                if message.expires() == Some(0) || self.stopped {
                    self.registered_until = None;
                    self.next_keepalive = None;
                } else {
                    let granted = message.expires().unwrap_or(self.config.expires);
                    self.registered_until = Some(now + Duration::seconds(i64::from(granted)));
                    self.next_keepalive = Some(now + self.config.keepalive_interval);
                }
                Vec::new()
            }
            StartLine::Request { method: Method::Message, .. } => self.answer(message),
            _ => Vec::new(),
        }
    }

    fn answer(&mut self, request: &Message) -> Vec<Message> {
        let ok = Message::response_to(request, 200, "OK", "dev");
        let parsed = manscdp::parse(&request.body, request.headers.get("Content-Type"), &XmlLimits::default());
        let Ok(parsed) = parsed else {
            return vec![Message::response_to(request, 400, "Bad Request", "dev")];
        };
        let mut out = vec![ok];
        let id = self.config.id.clone();
        match parsed.body {
            Body::Query { cmd_type, sn, .. } if cmd_type == "Catalog" => {
                let total = u32::try_from(self.config.channels.len()).unwrap_or(u32::MAX);
                // Two channels per MESSAGE, as NVRs split long catalogs over UDP.
                let channels = self.config.channels.clone();
                for part in channels.chunks(2) {
                    let items: Vec<(DeviceId, &str, bool)> =
                        part.iter().map(|(c, n)| (c.clone(), n.as_str(), true)).collect();
                    out.push(self.message(manscdp::catalog_response(sn, &id, total, &items)));
                }
                if channels.is_empty() {
                    out.push(self.message(manscdp::catalog_response(sn, &id, 0, &[])));
                }
            }
            Body::Query { cmd_type, sn, .. } if cmd_type == "DeviceInfo" => {
                let channels = self.config.channels.len().to_string();
                let body = manscdp::document(
                    Root::Response,
                    &[
                        ("CmdType", "DeviceInfo".to_owned()),
                        ("SN", sn.to_string()),
                        ("DeviceID", id.to_string()),
                        ("DeviceName", "SiteLedger simulated device".to_owned()),
                        ("Result", "OK".to_owned()),
                        ("Manufacturer", "SiteLedger".to_owned()),
                        ("Model", "SIM-1".to_owned()),
                        ("Firmware", "1.0".to_owned()),
                        ("Channel", channels),
                    ],
                    "",
                );
                out.push(self.message(body));
            }
            // About itself (with an `Alarmstatus` item per channel) or about one of its channels; a query about
            // an id it does not have is not answered beyond the `200`.
            Body::Query { cmd_type, sn, device_id } if cmd_type == "DeviceStatus" => {
                let channels: Vec<DeviceId> = self.config.channels.iter().map(|(c, _)| c.clone()).collect();
                let body = if device_id == id.as_str() {
                    Some(manscdp::device_status_response(sn, &id, true, self.working, &channels))
                } else {
                    channels
                        .iter()
                        .find(|c| c.as_str() == device_id)
                        .map(|c| manscdp::device_status_response(sn, c, !self.offline_channels.contains(c), true, &[]))
                };
                if let Some(body) = body {
                    out.push(self.message(body));
                }
            }
            _ => {}
        }
        out
    }

    fn register_with(&mut self, authorization: Option<&str>, expires: u32) -> Message {
        let c = &self.config;
        self.cseq += 1;
        self.token += 1;
        let mut m = Message::request(Method::Register, &format!("sip:{}@{}", c.platform, c.platform.domain()))
            .with_header(
                "Via",
                &format!("SIP/2.0/{} {};rport;branch=z9hG4bK{}r{}", c.transport, c.host, c.id, self.token),
            )
            .with_header("From", &format!("<sip:{}@{}>;tag={}", c.id, c.id.domain(), c.id.serial()))
            .with_header("To", &format!("<sip:{}@{}>", c.id, c.id.domain()))
            .with_header("Call-ID", &format!("reg-{}@{}", c.id, c.host))
            .with_header("CSeq", &format!("{} REGISTER", self.cseq))
            .with_header("Contact", &format!("<sip:{}@{}>", c.id, c.host))
            .with_header("Max-Forwards", "70")
            .with_header("User-Agent", "SiteLedger simulated device")
            .with_header("Expires", &expires.to_string());
        if let Some(a) = authorization {
            m = m.with_header("Authorization", a);
        }
        m
    }

    fn message(&mut self, body: Vec<u8>) -> Message {
        let c = &self.config;
        self.cseq += 1;
        self.token += 1;
        Message::request(Method::Message, &format!("sip:{}@{}", c.platform, c.platform.domain()))
            .with_header(
                "Via",
                &format!("SIP/2.0/{} {};rport;branch=z9hG4bK{}m{}", c.transport, c.host, c.id, self.token),
            )
            .with_header("From", &format!("<sip:{}@{}>;tag={}", c.id, c.id.domain(), c.id.serial()))
            .with_header("To", &format!("<sip:{}@{}>", c.platform, c.platform.domain()))
            .with_header("Call-ID", &format!("msg-{}-{}@{}", c.id, self.token, c.host))
            .with_header("CSeq", &format!("{} MESSAGE", self.cseq))
            .with_header("Max-Forwards", "70")
            .with_body(manscdp::CONTENT_TYPE, body)
    }

    fn next_sn(&mut self) -> u32 {
        self.sn += 1;
        self.sn
    }
}

/// Reads a `WWW-Authenticate: Digest realm=…, nonce=…[, qop="auth"]` challenge.
fn parse_challenge(header: &str) -> Option<Challenge> {
    let rest = header.trim().strip_prefix("Digest")?;
    let field = |name: &str| {
        rest.split(',').find_map(|p| {
            let (k, v) = p.split_once('=')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().trim_matches('"').to_owned())
        })
    };
    let qop = field("qop").is_some_and(|q| q.split(',').any(|q| q.trim() == "auth"));
    Some(Challenge { realm: field("realm")?, nonce: field("nonce")?, qop })
}

#[cfg(test)]
#[path = "loopback_tests.rs"]
mod tests;
