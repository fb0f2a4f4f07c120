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
//! The gateway token is a secret: it never appears in `Debug` output or logs.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
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
    /// The project this gateway belongs to.
    pub project_id: String,
    /// The gateway's id within the project.
    pub gateway_id: String,
    /// Directory of the durable queue.
    pub queue_dir: PathBuf,
    /// Bytes the queue may hold; new data is refused at the limit (old data is never dropped).
    #[serde(default = "default_queue_max")]
    pub queue_max_bytes: u64,
    /// HJ 212 TCP listen address.
    pub hj212_listen: SocketAddr,
    /// JSON/HTTP intake listen address.
    pub http_listen: SocketAddr,
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
}

fn default_queue_max() -> u64 {
    1 << 30
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
            .field("project_id", &self.project_id)
            .field("gateway_id", &self.gateway_id)
            .field("queue_dir", &self.queue_dir)
            .field("hj212_listen", &self.hj212_listen)
            .field("http_listen", &self.http_listen)
            .field("devices", &self.devices.len())
            .finish_non_exhaustive()
    }
}

impl AgentConfig {
    /// A configuration with defaults for everything but identity, platform, key and queue (tests, the demo).
    pub fn new(platform_url: &str, project_id: &str, gateway_id: &str, key_file: &Path, queue_dir: &Path) -> Self {
        AgentConfig {
            platform_url: platform_url.to_owned(),
            token: None,
            token_env: None,
            token_file: None,
            key_file: key_file.to_path_buf(),
            project_id: project_id.to_owned(),
            gateway_id: gateway_id.to_owned(),
            queue_dir: queue_dir.to_path_buf(),
            queue_max_bytes: default_queue_max(),
            hj212_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            http_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            max_connections: default_max_connections(),
            idle_timeout_secs: default_idle_secs(),
            max_bytes_per_sec: default_rate(),
            upload_batch: default_batch(),
            heartbeat_secs: default_heartbeat(),
            devices: Vec::new(),
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
        if let Err(e) = ProjectId::parse(&self.project_id) {
            return bad(format!("project_id {:?}: {e}", self.project_id));
        }
        if let Err(e) = DeviceId::parse(&self.gateway_id) {
            return bad(format!("gateway_id {:?}: {e}", self.gateway_id));
        }
        if self.upload_batch == 0 {
            return bad("upload_batch must be at least 1".into());
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

    /// The gateway token: `token`, else `token_file`, else the environment variable.
    pub fn resolve_token(&self) -> Result<String, AgentError> {
        if let Some(t) = &self.token {
            return Ok(t.trim().to_owned());
        }
        if let Some(p) = &self.token_file {
            return std::fs::read_to_string(p)
                .map(|t| t.trim().to_owned())
                .map_err(|e| AgentError::Config(format!("token_file {}: {e}", p.display())));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn config(f: impl FnOnce(&mut AgentConfig)) -> Result<(), AgentError> {
        let mut c = AgentConfig::new("http://127.0.0.1:9", "NB-2025-0001", "GW-01", "/k".as_ref(), "/q".as_ref());
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
}
