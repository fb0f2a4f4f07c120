//! The GB/T 28181 state that outlives an agent restart, as a versioned JSON document (sans-I/O: bytes in and
//! out; the agent writes it atomically to `queue_dir/gb28181-state.json`, see `docs/GATEWAY.md`):
//!
//! ```json
//! {"version": 1,
//!  "devices": {"33021200001180000001": {"registered_until_ms": 1765000000000, "last_keepalive_ms": 1764996400000,
//!              "online": true, "working": true, "contact": "<sip:…@192.168.1.64:5060>", "tcp": false,
//!              "channels": [["33021200001320000001", true]]}},
//!  "cameras": {"33021200001320000001": {"online": true, "recorded_ms": 1764996400000}}}
//! ```
//!
//! `devices`: each configured camera or NVR's session (registration expiry, last keepalive, online, `Status` from
//! its last `DeviceStatus` answer, where to reach it) and its catalog's camera channels with their flag (the
//! catalog's `ON`/`OFF` or the channel's last `DeviceStatus`). `cameras`: each camera's last recorded status and
//! when it was recorded. Times are Unix milliseconds. [`parse`] refuses anything else with a reason: another
//! version, unknown fields, an invalid id, a time out of range, more than the bounds below.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::id::DeviceId;

/// The version this agent writes and reads.
pub const VERSION: u32 = 1;
/// The largest state file read (a site has tens of devices and hundreds of cameras: a few kilobytes).
pub const MAX_BYTES: usize = 8 << 20;
/// Most devices, and channels per device (the platform's catalog bound), in one file.
pub const MAX_ENTRIES: usize = 4096;
/// Most cameras in one file.
pub const MAX_CAMERAS: usize = 65_536;
/// Longest `contact` kept.
pub const MAX_CONTACT: usize = 512;

/// One device's persisted session and catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceState {
    /// Until when its registration holds.
    pub registered_until: Option<OffsetDateTime>,
    /// Its last keepalive or registration.
    pub last_keepalive: Option<OffsetDateTime>,
    /// Online (signalling).
    pub online: bool,
    /// Its last `DeviceStatus` answer about itself said working (`Status` `OK`, `Online` `ONLINE`).
    pub working: bool,
    /// Its `Contact`.
    pub contact: Option<String>,
    /// Registered over TCP.
    pub tcp: bool,
    /// Camera channels of its last catalog, with their flag.
    pub channels: Vec<(DeviceId, bool)>,
}

/// One camera's last recorded status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CameraState {
    /// Recorded online.
    pub online: bool,
    /// When it was recorded.
    pub recorded_at: OffsetDateTime,
}

/// The whole state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    /// Devices by id.
    pub devices: BTreeMap<DeviceId, DeviceState>,
    /// Cameras by id.
    pub cameras: BTreeMap<DeviceId, CameraState>,
}

/// Why a state file was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StateError(pub String);

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Doc {
    version: u32,
    #[serde(default)]
    devices: BTreeMap<String, DeviceDoc>,
    #[serde(default)]
    cameras: BTreeMap<String, CameraDoc>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviceDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    registered_until_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_keepalive_ms: Option<i64>,
    online: bool,
    working: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    contact: Option<String>,
    tcp: bool,
    #[serde(default)]
    channels: Vec<(String, bool)>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CameraDoc {
    online: bool,
    recorded_ms: i64,
}

fn ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn time(what: &str, ms: i64) -> Result<OffsetDateTime, StateError> {
    // Years 2000–2200: a clock far outside is a damaged file, not a time to count from.
    if !(946_684_800_000..=7_258_118_400_000).contains(&ms) {
        return Err(StateError(format!("{what}: {ms} ms is not a time between 2000 and 2200")));
    }
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|e| StateError(format!("{what}: {ms} ms: {e}")))
}

fn device_id(what: &str, s: &str) -> Result<DeviceId, StateError> {
    DeviceId::parse(s)
        .map_err(|e| StateError(format!("{what} {:?}: {e}", s.escape_debug().take(40).collect::<String>())))
}

/// Whether a `Contact` value can be kept (at most [`MAX_CONTACT`] bytes of printable ASCII): the writer leaves
/// out one that is not, so that the file it writes is always one [`parse`] takes.
#[must_use]
pub fn contact_ok(contact: &str) -> bool {
    contact.len() <= MAX_CONTACT && contact.chars().all(|c| c.is_ascii_graphic() || c == ' ')
}

/// Reads a state file's bytes.
pub fn parse(bytes: &[u8]) -> Result<State, StateError> {
    if bytes.len() > MAX_BYTES {
        return Err(StateError(format!("{} bytes, more than the {MAX_BYTES} a state file may have", bytes.len())));
    }
    let doc: Doc = serde_json::from_slice(bytes).map_err(|e| StateError(format!("not a state document: {e}")))?;
    if doc.version != VERSION {
        return Err(StateError(format!("version {} (this agent reads version {VERSION})", doc.version)));
    }
    if doc.devices.len() > MAX_ENTRIES || doc.cameras.len() > MAX_CAMERAS {
        return Err(StateError(format!("more than {MAX_ENTRIES} devices or {MAX_CAMERAS} cameras")));
    }
    let mut state = State::default();
    for (id, d) in doc.devices {
        let id = device_id("device", &id)?;
        if d.channels.len() > MAX_ENTRIES {
            return Err(StateError(format!("device {id}: more than {MAX_ENTRIES} channels")));
        }
        if d.contact.as_deref().is_some_and(|c| !contact_ok(c)) {
            return Err(StateError(format!(
                "device {id}: contact longer than {MAX_CONTACT} bytes or not printable ASCII"
            )));
        }
        let channels = d
            .channels
            .iter()
            .map(|(c, on)| Ok((device_id(&format!("device {id} channel"), c)?, *on)))
            .collect::<Result<Vec<_>, StateError>>()?;
        let device = DeviceState {
            registered_until: d
                .registered_until_ms
                .map(|t| time(&format!("device {id} registered_until_ms"), t))
                .transpose()?,
            last_keepalive: d
                .last_keepalive_ms
                .map(|t| time(&format!("device {id} last_keepalive_ms"), t))
                .transpose()?,
            online: d.online,
            working: d.working,
            contact: d.contact,
            tcp: d.tcp,
            channels,
        };
        state.devices.insert(id, device);
    }
    for (id, c) in doc.cameras {
        let id = device_id("camera", &id)?;
        let recorded_at = time(&format!("camera {id} recorded_ms"), c.recorded_ms)?;
        state.cameras.insert(id, CameraState { online: c.online, recorded_at });
    }
    Ok(state)
}

/// Writes a state document ([`parse`] reads it back; times to the millisecond).
#[must_use]
pub fn encode(state: &State) -> Vec<u8> {
    let doc = Doc {
        version: VERSION,
        devices: state
            .devices
            .iter()
            .map(|(id, d)| {
                let doc = DeviceDoc {
                    registered_until_ms: d.registered_until.map(ms),
                    last_keepalive_ms: d.last_keepalive.map(ms),
                    online: d.online,
                    working: d.working,
                    contact: d.contact.clone(),
                    tcp: d.tcp,
                    channels: d.channels.iter().map(|(c, on)| (c.to_string(), *on)).collect(),
                };
                (id.to_string(), doc)
            })
            .collect(),
        cameras: state
            .cameras
            .iter()
            .map(|(id, c)| (id.to_string(), CameraDoc { online: c.online, recorded_ms: ms(c.recorded_at) }))
            .collect(),
    };
    let mut bytes = serde_json::to_vec_pretty(&doc).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn id(s: &str) -> DeviceId {
        DeviceId::parse(s).expect("valid id")
    }

    fn sample() -> State {
        let t = datetime!(2026-12-06 08:00:00.123 +08:00);
        let mut s = State::default();
        s.devices.insert(
            id("33021200001180000001"),
            DeviceState {
                registered_until: Some(t + time::Duration::hours(1)),
                last_keepalive: Some(t),
                online: true,
                working: true,
                contact: Some("<sip:33021200001180000001@192.168.1.64:5060>".into()),
                tcp: false,
                channels: vec![(id("33021200001320000001"), true), (id("33021200001320000002"), false)],
            },
        );
        s.cameras.insert(id("33021200001320000001"), CameraState { online: true, recorded_at: t });
        s
    }

    #[test]
    fn a_state_survives_encoding() {
        let s = sample();
        assert_eq!(parse(&encode(&s)), Ok(s));
        assert_eq!(parse(&encode(&State::default())), Ok(State::default()));
    }

    /// Each way a file can be wrong is refused with a reason naming what and where.
    #[test]
    fn a_damaged_or_foreign_file_is_refused_with_a_reason() {
        let reason = |text: &str| parse(text.as_bytes()).expect_err("refused").0;
        assert!(reason("").starts_with("not a state document"));
        assert!(reason("{\"version\": 1, \"devices\": {").starts_with("not a state document"));
        assert!(reason("{\"version\": 2}").contains("version 2 (this agent reads version 1)"));
        assert!(reason("{\"version\": 1, \"extra\": 1}").contains("unknown field"));
        assert!(
            reason("{\"version\": 1, \"cameras\": {\"123\": {\"online\": true, \"recorded_ms\": 1764979200000}}}")
                .starts_with("camera \"123\"")
        );
        let far = "{\"version\": 1, \"cameras\": {\"33021200001320000001\": {\"online\": true, \"recorded_ms\": -5}}}";
        assert!(reason(far).contains("recorded_ms: -5 ms is not a time"), "{}", reason(far));
        let text = String::from_utf8(encode(&sample())).expect("utf-8").replace("192.168", "监控");
        assert!(reason(&text).contains("contact"), "{}", reason(&text));
        assert!(parse(&vec![b' '; MAX_BYTES + 1]).expect_err("too large").0.contains("more than"));
    }
}
