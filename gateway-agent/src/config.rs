//! The agent's configuration file (TOML): where the platform is, who the gateway is, where the queue lives, where
//! devices connect, and the site's devices (id, kind, HJ 212 `MN`, particulate unit, device-specific thresholds).
//!
//! ```toml
//! platform_url = "https://siteledger.ningbo.example"
//! token_file = "/etc/siteledger/gateway.token"   # or token_env = "SITELEDGER_GATEWAY_TOKEN" (the default)
//! key_file = "/etc/siteledger/gateway.key"       # 0600, from `gateway-agent keygen`
//! project_id = "NB-2025-0017"
//! gateway_id = "GW-01"
//! queue_dir = "/var/lib/siteledger-gateway"
//! queue_max_bytes = 1073741824
//! hj212_listen = "0.0.0.0:9212"
//! http_listen = "127.0.0.1:9280"
//!
//! [[devices]]
//! id = "YC-330212-001"
//! kind = "hj212"
//! mn = "010000A8900016F000169DC0"
//! particulate_unit = "mg/m3"
//!
//! [[devices]]
//! id = "TC-01"
//! kind = "crane"
//! thresholds = { wind_stop_m_s = "12.0" }
//! ```
//!
//! Local intake token (required whenever `http_listen` is set; devices and local systems send it as
//! `Authorization: Bearer <token>`): `intake_token_sha256 = "<hex SHA-256 of the token>"` (only the hash is in the
//! configuration), or `intake_token_file = "/etc/siteledger/intake.token"` (a file holding the token, readable by
//! its owner only). Leave `http_listen` out to run without the local intake.
//!
//! The key's role and subject, as `ledger.key.enrolled.v1` enrolled it (`siteledger_domain::authority`): `role`
//! defaults to `gateway` with subject `project/<project_id>/gateway/<gateway_id>`; an enterprise, bank or testing
//! lab agent names its role and its 统一社会信用代码 as the subject and posts records through `POST /v1/records`
//! (no devices, no HJ 212 listener):
//!
//! ```toml
//! role = "testing_lab"
//! subject = "91330200MA2LAB001H"
//! ```
//!
//! GB/T 28181 cameras and NVRs register with the agent (the agent is their SIP platform, 平台/SIP 服务器) when a
//! `[gb28181]` section is present; UDP and TCP listen on the same address. Their records are this project's
//! (`project_id`); a camera's `device_id` is its 20-digit id, an NVR's cameras are the channels of its catalog.
//!
//! ```toml
//! [gb28181]
//! listen = "0.0.0.0:5060"
//! platform_id = "33021200002000000001"   # 20 digits, type code 200–299
//! realm = "3302120000"                    # SIP domain / digest realm; default the first 10 digits of platform_id
//! keepalive_interval_secs = 60            # 心跳周期 the devices are set to
//! keepalive_count = 3                     # 心跳超时次数: offline after interval × count without a keepalive
//! status_every_secs = 1800                # an unchanged status is recorded again after this long (≤ 3600)
//! device_status_every_secs = 600          # DeviceStatus (设备状态查询) of each device and channel this often (10–86400)
//!
//! [[gb28181.devices]]
//! id = "33021200001180000001"             # an NVR
//! password_file = "/etc/siteledger/nvr-01.password"   # 0600; or password = "…"
//! ```
//!
//! The gateway token, the intake token and the GB/T 28181 passwords are secrets: they never appear in `Debug`
//! output or logs.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use siteledger_domain::authority::{KIND_SIGNERS, KeySubject, Role};
use siteledger_domain::site::{AsSent, CameraId};
use siteledger_domain::{Decimal, DeviceId, ProjectId};

use crate::error::AgentError;

/// Default environment variable holding the gateway token.
pub const DEFAULT_TOKEN_ENV: &str = "SITELEDGER_GATEWAY_TOKEN";

/// Unit a monitor sends particulates in (DOMAIN.md §2.6: configuration, never inferred).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
pub enum ParticulateUnit {
    /// µg/m³ (what the contract records).
    #[default]
    #[serde(rename = "ug/m3", alias = "µg/m3", alias = "µg/m³", alias = "ug/m³")]
    Microgram,
    /// mg/m³ (× 1000 to µg/m³).
    #[serde(rename = "mg/m3", alias = "mg/m³")]
    Milligram,
    /// ng/m³, as the standard prints (÷ 1000 to µg/m³).
    #[serde(rename = "ng/m3", alias = "ng/m³")]
    Nanogram,
}

impl ParticulateUnit {
    /// Decimal places to shift a value by to get µg/m³.
    pub fn shift_to_ug(self) -> i32 {
        match self {
            ParticulateUnit::Microgram => 0,
            ParticulateUnit::Milligram => 3,
            ParticulateUnit::Nanogram => -3,
        }
    }
}

/// Kind of a configured device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// An HJ 212 dust/noise monitor (connects over TCP, identified by `mn`).
    Hj212,
    /// A tower-crane black box (JSON intake).
    Crane,
    /// A hoist monitor (JSON intake).
    Hoist,
    /// An electricity or water meter (JSON intake).
    Meter,
    /// A GB/T 28181 camera (JSON intake; its id is the 20-digit GB/T 28181 id).
    Camera,
}

impl DeviceKind {
    /// The configuration name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Hj212 => "hj212",
            DeviceKind::Crane => "crane",
            DeviceKind::Hoist => "hoist",
            DeviceKind::Meter => "meter",
            DeviceKind::Camera => "camera",
        }
    }
}

/// One device of the site.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfig {
    /// The device id: the contract's `DeviceId` (1–64 characters of `A–Z a–z 0–9 . _ : -`, the first a letter or
    /// digit); a camera's is its 20-digit GB/T 28181 id.
    pub id: String,
    /// Its kind.
    pub kind: DeviceKind,
    /// HJ 212 `MN` as the monitor sends it (HJ 212 devices only).
    #[serde(default)]
    pub mn: Option<String>,
    /// Particulate unit the monitor sends (HJ 212 devices only; default µg/m³).
    #[serde(default)]
    pub particulate_unit: ParticulateUnit,
    /// Device-specific thresholds (decimal strings), kept for the platform's policies and the operator.
    #[serde(default)]
    pub thresholds: BTreeMap<String, String>,
}

/// The agent's configuration.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Base URL of the platform, e.g. `http://127.0.0.1:8080`.
    pub platform_url: String,
    /// The gateway token (prefer `token_env` or `token_file`; never logged).
    #[serde(default)]
    pub token: Option<String>,
    /// Environment variable with the token (default `SITELEDGER_GATEWAY_TOKEN`).
    #[serde(default)]
    pub token_env: Option<String>,
    /// File with the token.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// The gateway's Ed25519 key file (0600).
    pub key_file: PathBuf,
    /// The role the key is enrolled with (`gateway`, the default; `device`, `enterprise`, `bank`, `testing_lab`,
    /// `district_bureau`, `city_bureau`): which kinds `POST /v1/records` takes (`domain::authority::KIND_SIGNERS`).
    #[serde(default = "default_role")]
    pub role: String,
    /// The key's enrolled subject; for a gateway (device) by default `project/<project_id>/gateway/<gateway_id>`
    /// (`…/device/…`); for an organisation its 统一社会信用代码, for a district bureau its district code.
    #[serde(default)]
    pub subject: Option<String>,
    /// Hex SHA-256 of the local intake token (the token itself is not in the configuration).
    #[serde(default)]
    pub intake_token_sha256: Option<String>,
    /// A file holding the local intake token (refused if group or others may read it).
    #[serde(default)]
    pub intake_token_file: Option<PathBuf>,
    /// The project this gateway belongs to (gateway and device keys; empty for an organisation's agent).
    #[serde(default)]
    pub project_id: String,
    /// The gateway's id within the project (gateway and device keys).
    #[serde(default)]
    pub gateway_id: String,
    /// Directory of the durable queue.
    pub queue_dir: PathBuf,
    /// Bytes the queue may hold; new data is refused at the limit (old data is never dropped).
    #[serde(default = "default_queue_max")]
    pub queue_max_bytes: u64,
    /// Largest file the local `POST /v1/blobs` takes (the platform's own limit is its `max_blob_bytes`).
    #[serde(default = "default_max_blob")]
    pub max_blob_bytes: usize,
    /// Days the local copy of a file is kept after the platform took it and no queued or parked record cites it
    /// (0: kept for ever). Bounds `queue_dir/blobs`.
    #[serde(default = "default_blob_retention_days")]
    pub blob_retention_days: u32,
    /// HJ 212 TCP listen address (none: no HJ 212 listener).
    #[serde(default)]
    pub hj212_listen: Option<SocketAddr>,
    /// JSON/HTTP intake listen address (none: no local intake). Needs an intake token.
    #[serde(default)]
    pub http_listen: Option<SocketAddr>,
    /// Most simultaneous HJ 212 connections.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// HJ 212 idle timeout in seconds.
    #[serde(default = "default_idle_secs")]
    pub idle_timeout_secs: u64,
    /// Bytes per second one HJ 212 connection may send before the agent slows its reads.
    #[serde(default = "default_rate")]
    pub max_bytes_per_sec: u64,
    /// Records per upload request.
    #[serde(default = "default_batch")]
    pub upload_batch: usize,
    /// Heartbeat period in seconds (0: none).
    #[serde(default = "default_heartbeat")]
    pub heartbeat_secs: u64,
    /// The site's devices.
    #[serde(default)]
    pub devices: Vec<DeviceConfig>,
    /// GB/T 28181 cameras and NVRs (none: no SIP listener).
    #[serde(default)]
    pub gb28181: Option<Gb28181Config>,
}

/// The `[gb28181]` section: the agent as the SIP platform of the site's cameras and NVRs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gb28181Config {
    /// Where devices send SIP, over UDP and TCP (the same address for both).
    pub listen: SocketAddr,
    /// The platform's own 20-digit id (类型编码 200–299), which devices are configured with (SIP 服务器编码).
    pub platform_id: String,
    /// SIP domain and digest realm (SIP 服务器域); by default the first 10 digits of `platform_id`.
    #[serde(default)]
    pub realm: Option<String>,
    /// The `host:port` written in requests the agent sends (`Via`, `Call-ID`); by default `listen`.
    #[serde(default)]
    pub host: Option<String>,
    /// 心跳周期 in seconds, as set on the devices.
    #[serde(default = "default_keepalive_interval")]
    pub keepalive_interval_secs: u32,
    /// 心跳超时次数: missed keepalives before a device is offline.
    #[serde(default = "default_keepalive_count")]
    pub keepalive_count: u32,
    /// Most registration lifetime granted, seconds.
    #[serde(default = "default_max_expires")]
    pub max_expires: u32,
    /// Each camera's status is recorded again when unchanged for this long (seconds, 1–3600): the kind promises a
    /// status at least hourly, and the platform counts a camera silent for longer than an hour (+ 5 min) as offline
    /// from its last report.
    #[serde(default = "default_status_every")]
    pub status_every_secs: u32,
    /// Each registered device, and each camera channel of its catalog, is asked `DeviceStatus` (设备状态查询) this
    /// often (seconds, 10–86400); also once after registration and its catalog.
    #[serde(default = "default_device_status_every")]
    pub device_status_every_secs: u32,
    /// Offer `qop="auth"` in digest challenges (off: many cameras answer only the RFC 2069 form).
    #[serde(default)]
    pub qop: bool,
    /// The cameras and NVRs that may register.
    #[serde(default)]
    pub devices: Vec<Gb28181Device>,
}

fn default_keepalive_interval() -> u32 {
    60
}
fn default_keepalive_count() -> u32 {
    3
}
fn default_status_every() -> u32 {
    1800
}
fn default_device_status_every() -> u32 {
    600
}
fn default_max_expires() -> u32 {
    3600
}

/// One camera or NVR allowed to register, with its password.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gb28181Device {
    /// Its 20-digit id (131/132 a camera, 111/118 a DVR/NVR whose catalog channels are the cameras).
    pub id: String,
    /// Its SIP password, in the configuration (prefer `password_file`).
    #[serde(default)]
    pub password: Option<String>,
    /// A file holding its SIP password (refused unless only its owner may read it: mode 0600).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
}

impl std::fmt::Debug for Gb28181Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        f.debug_struct("Gb28181Device")
            .field("id", &self.id)
            .field("password", &self.password.as_ref().map(|_| ".."))
            .field("password_file", &self.password_file)
            .finish()
    }
}

impl Gb28181Config {
    /// Defaults for a listen address and platform id, no devices (tests, the demo).
    pub fn new(listen: SocketAddr, platform_id: &str) -> Self {
        Gb28181Config {
            listen,
            platform_id: platform_id.to_owned(),
            realm: None,
            host: None,
            keepalive_interval_secs: default_keepalive_interval(),
            keepalive_count: default_keepalive_count(),
            max_expires: default_max_expires(),
            status_every_secs: default_status_every(),
            device_status_every_secs: default_device_status_every(),
            qop: false,
            devices: Vec::new(),
        }
    }

    /// Checks ids, realm, timings and that each device has one password source; errors name the field.
    pub fn check(&self) -> Result<(), AgentError> {
        use crate::gb28181::{DeviceClass, DeviceId as SipId};
        let bad = |m: String| Err(AgentError::Config(m));
        match SipId::parse(&self.platform_id) {
            Err(e) => return bad(format!("gb28181.platform_id {:?}: {e}", self.platform_id)),
            Ok(id) if id.class() != DeviceClass::Platform => {
                return bad(format!(
                    "gb28181.platform_id {:?}: type code {} is not a platform's (200–299, e.g. 200 中心信令控制服务器)",
                    self.platform_id,
                    id.type_code()
                ));
            }
            Ok(_) => {}
        }
        if let Some(realm) = &self.realm
            && (realm.is_empty() || realm.len() > 64 || !realm.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.'))
        {
            return bad(format!(
                "gb28181.realm {realm:?}: 1–64 letters, digits or dots (the SIP domain, usually 10 digits)"
            ));
        }
        if self.keepalive_interval_secs == 0 || self.keepalive_interval_secs > 3600 {
            return bad("gb28181.keepalive_interval_secs must be 1–3600 (the devices' 心跳周期)".into());
        }
        if self.keepalive_count == 0 || self.keepalive_count > 100 {
            return bad("gb28181.keepalive_count must be 1–100 (心跳超时次数)".into());
        }
        if !(1..=3600).contains(&self.status_every_secs) {
            return bad(
                "gb28181.status_every_secs must be 1–3600 (a camera's status is recorded at least hourly, or the \
                 platform counts its silence as offline)"
                    .into(),
            );
        }
        if !(10..=86_400).contains(&self.device_status_every_secs) {
            return bad(
                "gb28181.device_status_every_secs must be 10–86400 (each round asks every device and camera channel \
                 its DeviceStatus 设备状态)"
                    .into(),
            );
        }
        if self.max_expires < 60 {
            return bad("gb28181.max_expires must be at least 60 seconds".into());
        }
        let mut ids = std::collections::HashSet::new();
        for (i, d) in self.devices.iter().enumerate() {
            let id = SipId::parse(&d.id)
                .map_err(|e| AgentError::Config(format!("gb28181.devices[{i}].id {:?}: {e}", d.id)))?;
            if matches!(id.class(), DeviceClass::Platform) {
                return bad(format!(
                    "gb28181.devices[{i}].id {:?}: type code {} is a platform's; a device is a camera (131, 132) or a \
                     recorder (111–130, e.g. 118 NVR)",
                    d.id,
                    id.type_code()
                ));
            }
            if !ids.insert(id.as_str().to_owned()) {
                return bad(format!("gb28181.devices[{i}].id {:?} appears twice", d.id));
            }
            match (&d.password, &d.password_file) {
                (Some(_), Some(_)) => {
                    return bad(format!("gb28181.devices[{i}] ({}): set password or password_file, not both", d.id));
                }
                (None, None) => {
                    return bad(format!("gb28181.devices[{i}] ({}): needs password_file (or password)", d.id));
                }
                (Some(p), None) if p.is_empty() => {
                    return bad(format!("gb28181.devices[{i}] ({}): the password is empty", d.id));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Each device's id and password, reading `password_file`s (refused, naming the path and mode, unless only
    /// the owner may read them).
    pub fn passwords(&self) -> Result<Vec<(crate::gb28181::DeviceId, crate::gb28181::Password)>, AgentError> {
        self.devices
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let id = crate::gb28181::DeviceId::parse(&d.id)
                    .map_err(|e| AgentError::Config(format!("gb28181.devices[{i}].id {:?}: {e}", d.id)))?;
                let password = match (&d.password, &d.password_file) {
                    (Some(p), _) => p.clone(),
                    (None, Some(path)) => siteledger_client::keys::read_secret("GB/T 28181 password", path)
                        .map(|s| s.expose().trim().to_owned())
                        .map_err(|e| AgentError::Config(format!("gb28181.devices[{i}].password_file: {e}")))?,
                    (None, None) => {
                        return Err(AgentError::Config(format!("gb28181.devices[{i}] ({}): no password", d.id)));
                    }
                };
                if password.is_empty() {
                    return Err(AgentError::Config(format!("gb28181.devices[{i}] ({}): the password is empty", d.id)));
                }
                Ok((id, crate::gb28181::Password::new(password)))
            })
            .collect()
    }
}

fn default_role() -> String {
    Role::Gateway.as_str().to_owned()
}
fn default_queue_max() -> u64 {
    1 << 30
}
fn default_max_blob() -> usize {
    32 * 1024 * 1024
}
fn default_blob_retention_days() -> u32 {
    7
}
fn default_max_connections() -> usize {
    1024
}
fn default_idle_secs() -> u64 {
    600
}
fn default_rate() -> u64 {
    64 * 1024
}
fn default_batch() -> usize {
    500
}
fn default_heartbeat() -> u64 {
    60
}

impl std::fmt::Debug for AgentConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("AgentConfig")
            .field("platform_url", &self.platform_url)
            .field("role", &self.role)
            .field("subject", &self.subject)
            .field("project_id", &self.project_id)
            .field("gateway_id", &self.gateway_id)
            .field("intake_token_file", &self.intake_token_file)
            .field("queue_dir", &self.queue_dir)
            .field("hj212_listen", &self.hj212_listen)
            .field("http_listen", &self.http_listen)
            .field("devices", &self.devices.len())
            .field("gb28181", &self.gb28181)
            .finish_non_exhaustive()
    }
}

impl AgentConfig {
    /// A configuration with defaults for everything but identity, platform, key and queue (tests, the demo): a
    /// gateway key, both listeners on loopback port 0, and no intake token yet (set one before starting).
    pub fn new(platform_url: &str, project_id: &str, gateway_id: &str, key_file: &Path, queue_dir: &Path) -> Self {
        AgentConfig {
            platform_url: platform_url.to_owned(),
            token: None,
            token_env: None,
            token_file: None,
            key_file: key_file.to_path_buf(),
            role: default_role(),
            subject: None,
            intake_token_sha256: None,
            intake_token_file: None,
            project_id: project_id.to_owned(),
            gateway_id: gateway_id.to_owned(),
            queue_dir: queue_dir.to_path_buf(),
            queue_max_bytes: default_queue_max(),
            max_blob_bytes: default_max_blob(),
            blob_retention_days: default_blob_retention_days(),
            hj212_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            http_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            max_connections: default_max_connections(),
            idle_timeout_secs: default_idle_secs(),
            max_bytes_per_sec: default_rate(),
            upload_batch: default_batch(),
            heartbeat_secs: default_heartbeat(),
            devices: Vec::new(),
            gb28181: None,
        }
    }

    /// Reads and checks a TOML file.
    pub fn from_file(path: &Path) -> Result<AgentConfig, AgentError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| AgentError::Config(format!("cannot read {}: {e}", path.display())))?;
        let config: AgentConfig =
            toml::from_str(&text).map_err(|e| AgentError::Config(format!("{}: {e}", path.display())))?;
        config.check()?;
        Ok(config)
    }

    /// Checks identities and devices against the record contract's own types (the ids, `MN` and thresholds end up
    /// in signed records, which the platform checks with the same types); errors name the field.
    pub fn check(&self) -> Result<(), AgentError> {
        let bad = |m: String| Err(AgentError::Config(m));
        let role = self.key_role()?;
        let on_site = matches!(role, Role::Gateway | Role::Device);
        if (on_site || !self.project_id.is_empty())
            && let Err(e) = ProjectId::parse(&self.project_id)
        {
            return bad(format!("project_id {:?}: {e}", self.project_id));
        }
        if (on_site || !self.gateway_id.is_empty())
            && let Err(e) = DeviceId::parse(&self.gateway_id)
        {
            return bad(format!("gateway_id {:?}: {e}", self.gateway_id));
        }
        let subject = self.subject()?;
        if let Err(e) = KeySubject::parse(role, &subject) {
            return bad(format!("subject {subject:?} does not fit role {role} ({}): {e}", role.subject_format()));
        }
        if on_site && self.subject.as_deref().is_some_and(|s| s != self.site_subject(role)) {
            return bad(format!(
                "subject {subject:?} is not this {role}'s: a {role} key of project_id {:?} and gateway_id {:?} is \
                 enrolled as {:?} (or leave `subject` out)",
                self.project_id,
                self.gateway_id,
                self.site_subject(role)
            ));
        }
        if !on_site && (!self.devices.is_empty() || self.hj212_listen.is_some() || self.gb28181.is_some()) {
            return bad(format!(
                "devices, hj212_listen and [gb28181] need a gateway or device key, not a {role} key (device records are signed \
                 by the project's gateway): remove them, or run a gateway agent for the site"
            ));
        }
        match (&self.intake_token_sha256, &self.intake_token_file) {
            (Some(_), Some(_)) => {
                return bad("set one of intake_token_sha256 and intake_token_file, not both".into());
            }
            (Some(h), None) if parse_digest(h).is_none() => {
                return bad(
                    "intake_token_sha256 must be 64 hex digits: the SHA-256 of the intake token (`gateway-agent \
                     intake-token` prints a new token and its hash)"
                        .into(),
                );
            }
            (None, None) if self.http_listen.is_some() => {
                return bad(
                    "http_listen is set but no local intake token is configured: set intake_token_sha256 (the \
                     SHA-256 of the token, `gateway-agent intake-token` prints one) or intake_token_file, or remove \
                     http_listen to run without the local intake"
                        .into(),
                );
            }
            _ => {}
        }
        if let Some(g) = &self.gb28181 {
            g.check()?;
        }
        if self.upload_batch == 0 {
            return bad("upload_batch must be at least 1".into());
        }
        if self.max_blob_bytes == 0 {
            return bad("max_blob_bytes must be at least 1 (the largest file the local POST /v1/blobs takes)".into());
        }
        let mut ids = std::collections::HashSet::new();
        let mut mns = std::collections::HashSet::new();
        for (i, d) in self.devices.iter().enumerate() {
            let id = if d.kind == DeviceKind::Camera {
                CameraId::parse(&d.id).map(drop).map_err(|e| format!("a camera's id is its GB/T 28181 id: {e}"))
            } else {
                DeviceId::parse(&d.id).map(drop).map_err(|e| e.to_string())
            };
            if let Err(e) = id {
                return bad(format!("devices[{i}].id {:?}: {e}", d.id));
            }
            if !ids.insert(d.id.as_str()) {
                return bad(format!("devices[{i}].id {:?} appears twice", d.id));
            }
            match (d.kind, &d.mn) {
                (DeviceKind::Hj212, None) => {
                    return bad(format!("devices[{i}] ({}): an hj212 device needs `mn`", d.id));
                }
                (DeviceKind::Hj212, Some(mn)) => {
                    if let Err(e) = AsSent::parse(mn) {
                        return bad(format!(
                            "devices[{i}].mn: {e} (the MN as the monitor sends it, 1–64 printable ASCII characters)"
                        ));
                    }
                    if !mns.insert(mn.as_str()) {
                        return bad(format!("devices[{i}].mn {mn:?} appears twice"));
                    }
                }
                (_, Some(_)) => return bad(format!("devices[{i}] ({}): only hj212 devices have `mn`", d.id)),
                (_, None) => {}
            }
            for (k, v) in &d.thresholds {
                if let Err(e) = Decimal::parse(v) {
                    return bad(format!("devices[{i}].thresholds.{k} = {v:?}: a decimal string, e.g. \"12.0\" ({e})"));
                }
            }
        }
        Ok(())
    }

    /// The key's role (`role`), as the domain names roles; the roles that sign nothing an agent could post
    /// (`ledger`, `platform`: the server's own keys; `auditor`) are refused.
    pub fn key_role(&self) -> Result<Role, AgentError> {
        let signing: Vec<&str> = Role::ALL
            .into_iter()
            .filter(|r| !matches!(r, Role::Ledger | Role::Platform))
            .filter(|r| KIND_SIGNERS.iter().any(|k| k.roles.contains(r)))
            .map(Role::as_str)
            .collect();
        match Role::parse(&self.role) {
            Some(r) if signing.contains(&r.as_str()) => Ok(r),
            _ => Err(AgentError::Config(format!(
                "role {:?}: an agent's key is one of {} (as its ledger.key.enrolled.v1 names it)",
                self.role,
                signing.join(", ")
            ))),
        }
    }

    fn site_subject(&self, role: Role) -> String {
        let middle = if role == Role::Device { "device" } else { "gateway" };
        format!("project/{}/{middle}/{}", self.project_id, self.gateway_id)
    }

    /// The key's enrolled subject: `subject`, or for a gateway (device) key `project/<project_id>/gateway/<id>`.
    pub fn subject(&self) -> Result<String, AgentError> {
        let role = self.key_role()?;
        match (&self.subject, role) {
            (Some(s), _) => Ok(s.clone()),
            (None, Role::Gateway | Role::Device) => Ok(self.site_subject(role)),
            (None, _) => Err(AgentError::Config(format!(
                "subject: a {role} key needs its enrolled subject ({}), e.g. subject = \"91330200MA2LAB001H\"",
                role.subject_format()
            ))),
        }
    }

    /// The local intake token's SHA-256, from `intake_token_sha256` or by reading `intake_token_file` (refused if
    /// group or others may read it); `None` when neither is set.
    pub fn intake_token(&self) -> Result<Option<IntakeToken>, AgentError> {
        if let Some(h) = &self.intake_token_sha256 {
            return parse_digest(h).map(|d| Some(IntakeToken(d))).ok_or_else(|| {
                AgentError::Config("intake_token_sha256 must be 64 hex digits: the SHA-256 of the intake token".into())
            });
        }
        let Some(path) = &self.intake_token_file else { return Ok(None) };
        let shown = path.display();
        let meta = std::fs::metadata(path)
            .map_err(|e| AgentError::Config(format!("intake_token_file {shown}: cannot read it: {e}")))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o044 != 0 {
                return Err(AgentError::Config(format!(
                    "intake_token_file {shown} is readable by group or others (mode {mode:03o}): anyone on this \
                     machine could post records in this agent's name; `chmod 600 {shown}`"
                )));
            }
        }
        #[cfg(not(unix))]
        let _ = meta;
        let text = std::fs::read_to_string(path)
            .map_err(|e| AgentError::Config(format!("intake_token_file {shown}: cannot read it: {e}")))?;
        let token = text.trim();
        if token.len() < 16 {
            return Err(AgentError::Config(format!(
                "intake_token_file {shown}: the token is empty or shorter than 16 characters"
            )));
        }
        Ok(Some(IntakeToken::of(token)))
    }

    /// The gateway token: `token`, else `token_file` (refused, naming the path and its mode, if group or others
    /// may read or write it, like a key file: mode 0600), else the environment variable.
    pub fn resolve_token(&self) -> Result<String, AgentError> {
        if let Some(t) = &self.token {
            return Ok(t.trim().to_owned());
        }
        if let Some(p) = &self.token_file {
            return siteledger_client::keys::read_secret("platform token", p)
                .map(|t| t.expose().to_owned())
                .map_err(|e| AgentError::Config(format!("token_file: {e}")));
        }
        let var = self.token_env.as_deref().unwrap_or(DEFAULT_TOKEN_ENV);
        std::env::var(var).map(|t| t.trim().to_owned()).map_err(|_| {
            AgentError::Config(format!("no gateway token: set {var}, or `token_file` in the configuration"))
        })
    }

    /// The HJ 212 idle timeout.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs.max(1))
    }
}

/// The SHA-256 of the local intake token: what the agent keeps to check `Authorization: Bearer <token>` (never
/// the token itself; not shown by `Debug`).
#[derive(Clone, PartialEq, Eq)]
pub struct IntakeToken([u8; 32]);

impl std::fmt::Debug for IntakeToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IntakeToken(..)")
    }
}

impl IntakeToken {
    /// The hash of `token`.
    pub fn of(token: &str) -> IntakeToken {
        IntakeToken(Sha256::digest(token.as_bytes()).into())
    }

    /// Whether `presented` is the token: its SHA-256 compared with every byte looked at, whatever differs first
    /// (no early exit an attacker could time).
    pub fn verify(&self, presented: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let diff = digest.iter().zip(self.0.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b));
        std::hint::black_box(diff) == 0
    }
}

/// A new random intake token (64 hex digits) for `intake_token_file`, or to hash into `intake_token_sha256`.
pub fn new_intake_token() -> Result<String, AgentError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| AgentError::Config(format!("no randomness for an intake token: {e}")))?;
    Ok(hex(&b))
}

/// The hex SHA-256 of `token`: the value of `intake_token_sha256`.
pub fn intake_token_sha256(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_digest(h: &str) -> Option<[u8; 32]> {
    let h = h.trim();
    if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(h.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(f: impl FnOnce(&mut AgentConfig)) -> Result<(), AgentError> {
        let mut c = AgentConfig::new("http://127.0.0.1:9", "NB-2025-0001", "GW-01", "/k".as_ref(), "/q".as_ref());
        c.intake_token_sha256 = Some(intake_token_sha256("a-local-intake-token"));
        c.devices = vec![DeviceConfig {
            id: "HJ-01".into(),
            kind: DeviceKind::Hj212,
            mn: Some("010000A8900016F000169DC0".into()),
            particulate_unit: ParticulateUnit::Milligram,
            thresholds: BTreeMap::from([("pm10_ug_m3".to_owned(), "150".to_owned())]),
        }];
        f(&mut c);
        c.check()
    }

    fn refused(f: impl FnOnce(&mut AgentConfig)) -> String {
        match config(f) {
            Err(AgentError::Config(m)) => m,
            other => panic!("expected a configuration error, got {other:?}"),
        }
    }

    /// The agent used to start with identities its own grammar allowed but the record contract does not (a
    /// lowercase project id, a device id starting with `_`, a camera id with an unknown GB/T 28181 type code, an
    /// MN with a space): every record it then signed was refused by the platform and parked for good.
    #[test]
    fn identities_the_record_contract_refuses_stop_the_agent_at_start() {
        assert!(config(|_| {}).is_ok());
        assert!(refused(|c| c.project_id = "nb-2025-0001".into()).starts_with("project_id"));
        assert!(refused(|c| c.gateway_id = "_GW".into()).starts_with("gateway_id"));
        assert!(refused(|c| c.devices[0].id = "_HJ".into()).starts_with("devices[0].id"));
        assert!(refused(|c| c.devices[0].mn = Some("0100 00A8".into())).starts_with("devices[0].mn"));
        assert!(
            refused(|c| {
                c.devices[0].thresholds.insert("wind".into(), "012".into());
            })
            .starts_with("devices[0].thresholds.wind")
        );
        let camera = |id: &'static str| {
            move |c: &mut AgentConfig| {
                c.devices.push(DeviceConfig {
                    id: id.into(),
                    kind: DeviceKind::Camera,
                    mn: None,
                    particulate_unit: ParticulateUnit::Microgram,
                    thresholds: BTreeMap::new(),
                });
            }
        };
        assert!(config(camera("33021200001320000001")).is_ok());
        assert!(refused(camera("33021200009990000001")).contains("GB/T 28181"));
    }

    /// The local intake used to answer anyone on the site network; now a listening intake without a token is a
    /// start-up error that names the settings (and the way to run without the intake).
    #[test]
    fn an_intake_without_a_token_does_not_start() {
        let m = refused(|c| c.intake_token_sha256 = None);
        assert!(
            m.contains("intake_token_sha256") && m.contains("intake_token_file") && m.contains("http_listen"),
            "{m}"
        );
        assert!(
            config(|c| {
                c.intake_token_sha256 = None;
                c.http_listen = None;
            })
            .is_ok()
        );
        assert!(refused(|c| c.intake_token_sha256 = Some("abc".into())).contains("64 hex"));
        assert!(refused(|c| c.intake_token_file = Some("/t".into())).contains("not both"));
    }

    #[cfg(unix)]
    #[test]
    fn a_token_file_others_may_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("intake.token");
        std::fs::write(&path, "a-local-intake-token-0123\n").expect("write");
        let mut c = AgentConfig::new("http://127.0.0.1:9", "NB-2025-0001", "GW-01", "/k".as_ref(), "/q".as_ref());
        c.intake_token_file = Some(path.clone());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        match c.intake_token() {
            Err(AgentError::Config(m)) => {
                assert!(m.contains("readable by group or others") && m.contains("chmod 600"), "{m}")
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let token = c.intake_token().expect("read").expect("a token");
        assert!(token.verify("a-local-intake-token-0123"));
        assert!(!token.verify("a-local-intake-token-0124"));
        assert!(!format!("{token:?} {c:?}").contains("a-local-intake-token"), "never in Debug");
    }

    /// The platform token file used to be read whatever its mode: a token that lets anyone on the machine upload
    /// records in the agent's name. Now a file group or others may read is refused, naming the path and the mode.
    #[cfg(unix)]
    #[test]
    fn a_platform_token_file_others_may_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("platform.token");
        std::fs::write(&path, "sl_platform-token-0123\n").expect("write");
        let mut c = AgentConfig::new("http://127.0.0.1:9", "NB-2025-0001", "GW-01", "/k".as_ref(), "/q".as_ref());
        c.token_file = Some(path.clone());
        for mode in [0o644, 0o640, 0o604] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
            match c.resolve_token() {
                Err(AgentError::Config(m)) => {
                    assert!(m.contains(&path.display().to_string()), "names the path: {m}");
                    assert!(m.contains(&format!("{mode:o}")) && m.contains("chmod 600"), "names the mode: {m}");
                    assert!(!m.contains("platform-token-0123"), "never shows the token: {m}");
                }
                other => panic!("mode {mode:o}: expected a refusal, got {other:?}"),
            }
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert_eq!(c.resolve_token().expect("read"), "sl_platform-token-0123");
    }

    #[test]
    fn roles_and_subjects_are_checked_as_the_enrolment_would() {
        assert!(config(|_| {}).is_ok(), "the gateway default: role gateway, subject from project and gateway id");
        let lab = |c: &mut AgentConfig| {
            c.role = "testing_lab".into();
            c.subject = Some("91330200MA2LAB001H".into());
            c.devices.clear();
            c.hj212_listen = None;
            c.project_id.clear();
            c.gateway_id.clear();
        };
        assert!(config(lab).is_ok());
        assert!(
            refused(|c| {
                lab(c);
                c.subject = None;
            })
            .starts_with("subject: a testing_lab key needs")
        );
        assert!(
            refused(|c| {
                lab(c);
                c.subject = Some("91330200MA2LAB001J".into());
            })
            .contains("does not fit role testing_lab")
        );
        assert!(
            refused(|c| {
                lab(c);
                c.hj212_listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
            })
            .contains("need a gateway or device key")
        );
        assert!(refused(|c| c.role = "ledger".into()).starts_with("role \"ledger\""));
        assert!(
            refused(|c| c.subject = Some("project/NB-2025-0001/gateway/GW-02".into()))
                .contains("is not this gateway's")
        );
    }

    fn sip(f: impl FnOnce(&mut Gb28181Config)) -> Result<(), AgentError> {
        config(|c| {
            let mut g = Gb28181Config::new(SocketAddr::from(([127, 0, 0, 1], 0)), "33021200002000000001");
            g.devices.push(Gb28181Device {
                id: "33021200001180000001".into(),
                password: Some("nvr-password".into()),
                password_file: None,
            });
            f(&mut g);
            c.gb28181 = Some(g);
        })
    }

    fn sip_refused(f: impl FnOnce(&mut Gb28181Config)) -> String {
        match sip(f) {
            Err(AgentError::Config(m)) => m,
            other => panic!("expected a configuration error, got {other:?}"),
        }
    }

    /// A `[gb28181]` section the platform role cannot run with (a device id as the platform's, a platform id as
    /// a device's, a zero keepalive, a device without a password) stops the agent at start, naming the field.
    #[test]
    fn a_gb28181_section_that_cannot_work_is_refused_naming_the_field() {
        assert!(sip(|_| {}).is_ok());
        assert!(sip_refused(|g| g.platform_id = "33021200001320000001".into()).contains("not a platform's"));
        assert!(sip_refused(|g| g.platform_id = "3302120000".into()).starts_with("gb28181.platform_id"));
        assert!(sip_refused(|g| g.devices[0].id = "33021200002000000002".into()).contains("is a platform's"));
        assert!(sip_refused(|g| g.devices[0].id = "33021200009990000001".into()).starts_with("gb28181.devices[0].id"));
        assert!(sip_refused(|g| g.keepalive_interval_secs = 0).contains("keepalive_interval_secs"));
        assert!(sip_refused(|g| g.keepalive_count = 0).contains("keepalive_count"));
        assert!(sip_refused(|g| g.status_every_secs = 7200).contains("status_every_secs"));
        assert!(
            sip_refused(|g| g.device_status_every_secs = 5).starts_with("gb28181.device_status_every_secs must be")
        );
        assert!(sip_refused(|g| g.device_status_every_secs = 86_401).contains("10–86400"));
        assert!(sip(|g| g.device_status_every_secs = 10).is_ok());
        assert!(sip_refused(|g| g.realm = Some("a\"b".into())).starts_with("gb28181.realm"));
        assert!(sip_refused(|g| g.devices[0].password = None).contains("needs password_file"));
        assert!(
            sip_refused(|g| {
                let d = g.devices[0].clone();
                g.devices.push(d);
            })
            .contains("appears twice")
        );
        let m = match config(|c| {
            c.role = "testing_lab".into();
            c.subject = Some("91330200MA2LAB001H".into());
            c.devices.clear();
            c.hj212_listen = None;
            c.gb28181 = Some(Gb28181Config::new(SocketAddr::from(([127, 0, 0, 1], 0)), "33021200002000000001"));
        }) {
            Err(AgentError::Config(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(m.contains("[gb28181] need a gateway or device key"), "{m}");
    }

    /// A camera's SIP password in a file others may read would let anyone on the machine register as the camera:
    /// refused with the path and mode; never shown by `Debug` or in the error.
    #[cfg(unix)]
    #[test]
    fn a_gb28181_password_file_others_may_read_is_refused_and_never_shown() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("nvr.password");
        std::fs::write(&path, "s3cret-nvr-pass\n").expect("write");
        let mut g = Gb28181Config::new(SocketAddr::from(([127, 0, 0, 1], 0)), "33021200002000000001");
        g.devices.push(Gb28181Device {
            id: "33021200001180000001".into(),
            password: None,
            password_file: Some(path.clone()),
        });
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        match g.passwords() {
            Err(AgentError::Config(m)) => {
                assert!(m.contains("password_file") && m.contains(&path.display().to_string()), "{m}");
                assert!(!m.contains("s3cret"), "{m}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let passwords = g.passwords().expect("read");
        assert_eq!(passwords.len(), 1);
        g.devices.push(Gb28181Device {
            id: "33021200001320000009".into(),
            password: Some("inline-pass".into()),
            password_file: None,
        });
        let shown = format!("{g:?} {passwords:?}");
        assert!(!shown.contains("s3cret") && !shown.contains("inline-pass"), "{shown}");
    }
}
