//! Records the agent signs. Every payload is the domain's type for its kind (`siteledger_domain::site`, the contract
//! of `docs/KINDS.md`, "Site IoT"), built typed and serialised from it, so the agent cannot sign a member the
//! platform does not define: HJ 212 packets become [`Hj212Data`] with values converted into the contract's units
//! ([`hj212_record`]); the gateway's own health becomes [`GatewayHeartbeat`] ([`heartbeat_record`]); intake bodies
//! are read into their kinds' types by [`crate::intake`]. Kind and stream come from the domain too
//! ([`Record::new`]). No floats anywhere: values stay decimal strings and unit conversion is a decimal-point shift.
//! [`Record`] itself is the client crate's ([`siteledger_client::record`]), which checks it against the domain before
//! it is signed.

use serde_json::Value;
use siteledger_domain::site::{
    AsSent, DataCn, FactorCode, GatewayHeartbeat, Hj212Data, Hj212Item, SiteEvent, Timestamp, Token, Unit,
};
use siteledger_domain::time::shanghai_rfc3339_millis;
use siteledger_domain::{Decimal, DeviceId, ProjectId};
use time::OffsetDateTime;

pub use siteledger_client::record::{Record, now_text};

use crate::config::{AgentConfig, DeviceConfig};
use crate::hj212::datetime::data_time_instant;
use crate::hj212::{Deviation, Packet, cn};

/// A record member the agent cannot fill with what the contract accepts. Identities come from the configuration,
/// which [`AgentConfig::check`] holds to the contract's types at start, so a running agent does not meet this.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("record member `{member}` does not fit the contract: {reason}")]
pub struct RecordError {
    /// The payload member.
    pub member: &'static str,
    /// Why.
    pub reason: String,
}

impl RecordError {
    fn new(member: &'static str, reason: impl std::fmt::Display) -> Self {
        RecordError { member, reason: reason.to_string() }
    }
}

/// The configured project as the contract's [`ProjectId`].
pub fn project_id(config: &AgentConfig) -> Result<ProjectId, RecordError> {
    ProjectId::parse(&config.project_id).map_err(|e| RecordError::new("project_id", e))
}

/// Multiplies a decimal by 10^`shift` exactly (no floats), keeping the digits sent: `"0.0852"` shifted by 3 is
/// `85.2`, `"140600.000"` by −3 is `140.600000`. `value` is an HJ 212 measurement (optional sign, digits, optional
/// `.` and digits); `None` if it is not one, or if the result is not a contract [`Decimal`] (more than 18
/// significant digits). A value that needs no shift is kept as sent when it is already a contract decimal.
pub fn shift_decimal(value: &str, shift: i32) -> Option<Decimal> {
    if !crate::hj212::packet::is_decimal(value) {
        return None;
    }
    if shift == 0
        && let Ok(d) = Decimal::parse(value)
    {
        return Some(d);
    }
    let (neg, body) = match value.as_bytes().first() {
        Some(b'-') => (true, &value[1..]),
        Some(b'+') => (false, &value[1..]),
        _ => (false, value),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    // Digit k of `int` followed by `frac`, zero outside them; the point moves from after `int` by `shift`. One
    // allocation: this runs for every value of every packet.
    let digit = |k: i64| -> char {
        let Ok(k) = usize::try_from(k) else { return '0' };
        let d = if k < int.len() { int.as_bytes().get(k) } else { frac.as_bytes().get(k - int.len()) };
        d.map_or('0', |b| char::from(*b))
    };
    let n = i64::try_from(int.len() + frac.len()).ok()?;
    let point = i64::try_from(int.len()).ok()? + i64::from(shift);
    let mut out = String::with_capacity(body.len() + shift.unsigned_abs() as usize + 3);
    if neg {
        out.push('-');
    }
    match (0..point).find(|&k| digit(k) != '0') {
        Some(first) => out.extend((first..point).map(digit)),
        None => out.push('0'),
    }
    if point < n {
        out.push('.');
        out.extend((point..n).map(digit));
    }
    Decimal::parse(&out).ok()
}

/// The contract's deviation token for a parser [`Deviation`].
pub fn deviation_token(d: &Deviation) -> String {
    match d {
        Deviation::NonStandardMn { .. } => "mn_not_24_hex".into(),
        Deviation::OversizeSegment { .. } => "over_1024_bytes".into(),
        Deviation::FlagVersion { version: 0 } => "hj212_2005".into(),
        other => serde_json::to_value(other)
            .ok()
            .and_then(|v| v.get("deviation").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| "other".into()),
    }
}

/// The contract's unit of a factor code, and how many decimal places to shift a value sent by `device`.
fn unit_of(code: &str, device: &DeviceConfig) -> (Option<&'static str>, i32) {
    match siteledger_domain::site::factors::factor(code) {
        Some(f) if f.particulate => (Some(f.unit), device.particulate_unit.shift_to_ug()),
        Some(f) => (Some(f.unit), 0),
        // Other a34 codes are particulates too (the standard's family): the device's unit applies.
        None if code.starts_with("a34") => (Some("ug/m3"), device.particulate_unit.shift_to_ug()),
        None => (None, 0),
    }
}

/// The contract's data command of an HJ 212 CN, for the CNs whose packets become `env.hj212.data.v1` records.
pub fn data_cn(c: u16) -> Option<DataCn> {
    Some(match c {
        cn::REAL_TIME_DATA => DataCn::RealTime,
        cn::EQUIPMENT_STATUS => DataCn::Status,
        cn::DAILY_DATA => DataCn::Daily,
        cn::MINUTE_DATA => DataCn::Minute,
        cn::HOURLY_DATA => DataCn::Hourly,
        _ => return None,
    })
}

/// Whether a CN produces an `env.hj212.data.v1` record.
pub fn is_recorded_cn(c: u16) -> bool {
    data_cn(c).is_some()
}

/// Deviation tokens in the order first met, each once.
#[derive(Default)]
struct Deviations(Vec<String>);

impl Deviations {
    fn push(&mut self, token: impl Into<String>) {
        let token = token.into();
        if !self.0.contains(&token) {
            self.0.push(token);
        }
    }

    fn into_tokens(self) -> Result<Vec<Token>, RecordError> {
        self.0.iter().map(|t| Token::parse(t).map_err(|e| RecordError::new("deviations", e))).collect()
    }
}

/// The factor values of one CP item, by contract member: `-Rtd`, `-Avg` (or a noise `-Data`), `-Min`, `-Max`,
/// `-Cou`.
const VALUE_FIELDS: [(&str, usize); 6] = [("Rtd", 0), ("Avg", 1), ("Data", 1), ("Min", 2), ("Max", 3), ("Cou", 4)];

/// The `env.hj212.data.v1` payload of an accepted (or reassembled) packet from `device`, received at `received`.
///
/// What the contract cannot hold is left out and flagged, never guessed: a value that is not a decimal
/// (`non_decimal_value`), a factor whose code or data flag does not fit the contract (`item_dropped`: a flag
/// can only be recorded as sent, and a value without its flag would count as normal), a `QN` that does not fit
/// (left out; the parser already flagged it `non_standard_qn`), an `ST` that does not fit (`-`, as for none).
pub fn hj212_data(
    config: &AgentConfig,
    device: &DeviceConfig,
    packet: &Packet,
    reassembled: bool,
    received: OffsetDateTime,
) -> Result<Hj212Data, RecordError> {
    let mut deviations = Deviations::default();
    for d in &packet.deviations {
        deviations.push(deviation_token(d));
    }
    if packet.flag.is_none() {
        deviations.push("hj212_2005");
    }
    if reassembled {
        deviations.push("reassembled");
    }
    let data_time = match packet.cp.data_time.as_deref().and_then(data_time_instant) {
        Some(t) => Timestamp::from_instant(t),
        None => {
            // No usable DataTime (status packets may lack it): the receive time, flagged.
            deviations.push("data_time_from_receipt");
            Timestamp::parse(&shanghai_rfc3339_millis(received)).map_err(|e| RecordError::new("data_time", e))?
        }
    };
    let mut items = Vec::with_capacity(packet.cp.items.len());
    for (code, fields) in &packet.cp.items {
        let (unit, shift) = unit_of(code, device);
        let mut values: [Option<Decimal>; 5] = Default::default();
        for (field, slot) in VALUE_FIELDS {
            if values[slot].is_some() {
                continue;
            }
            if let Some(v) = fields.get(field) {
                match shift_decimal(v, shift) {
                    Some(d) => values[slot] = Some(d),
                    None => deviations.push("non_decimal_value"),
                }
            }
        }
        let flag = fields.get("Flag");
        if flag.is_none() && values.iter().all(Option::is_none) {
            continue;
        }
        let (Ok(code), Ok(flag)) = (FactorCode::parse(code), flag.map(|f| AsSent::parse(f)).transpose()) else {
            deviations.push("item_dropped");
            continue;
        };
        let unit = unit.map(Unit::parse).transpose().map_err(|e| RecordError::new("items.unit", e))?;
        let [rtd, avg, min, max, cou] = values;
        items.push(Hj212Item { code, unit, rtd, avg, min, max, cou, flag });
    }
    let mn = packet.mn.as_deref().unwrap_or_default();
    let st = packet.st.as_deref().filter(|s| !s.is_empty()).and_then(|s| AsSent::parse(s).ok());
    Ok(Hj212Data {
        project_id: project_id(config)?,
        device_id: DeviceId::parse(&device.id).map_err(|e| RecordError::new("device_id", e))?,
        mn: AsSent::parse(mn).map_err(|e| RecordError::new("mn", e))?,
        st: match st {
            Some(st) => st,
            None => AsSent::parse("-").map_err(|e| RecordError::new("st", e))?,
        },
        cn: data_cn(packet.cn)
            .ok_or_else(|| RecordError::new("cn", format_args!("CN {:04} is not a data upload", packet.cn)))?,
        data_time,
        qn: packet.qn.as_deref().and_then(|q| AsSent::parse(q).ok()),
        deviations: deviations.into_tokens()?,
        items,
    })
}

/// The `env.hj212.data.v1` record of an accepted (or reassembled) packet from `device`, received at `received`
/// (its `occurred_at`); see [`hj212_data`].
pub fn hj212_record(
    config: &AgentConfig,
    device: &DeviceConfig,
    packet: &Packet,
    reassembled: bool,
    received: OffsetDateTime,
) -> Result<Record, RecordError> {
    let data = hj212_data(config, device, packet, reassembled, received)?;
    Ok(Record::new(&SiteEvent::Hj212Data(Box::new(data)), shanghai_rfc3339_millis(received)))
}

/// The counters a heartbeat reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Health {
    /// Records waiting in the local queue.
    pub queue_depth: u64,
    /// Bytes of the local queue.
    pub queue_bytes: u64,
    /// Gateway clock minus platform clock, ms, once measured.
    pub clock_skew_ms: Option<i64>,
    /// HJ 212 packets rejected since start.
    pub rejected_packets: u64,
    /// HJ 212 packets accepted with deviations since start.
    pub deviations: u64,
}

/// The gateway's identity as the contract's types, parsed once from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayIdentity {
    /// The project.
    pub project_id: ProjectId,
    /// The gateway.
    pub gateway_id: DeviceId,
}

impl GatewayIdentity {
    /// The identity `config` names ([`AgentConfig::check`] refuses a configuration without one).
    pub fn of(config: &AgentConfig) -> Result<GatewayIdentity, RecordError> {
        Ok(GatewayIdentity {
            project_id: project_id(config)?,
            gateway_id: DeviceId::parse(&config.gateway_id).map_err(|e| RecordError::new("gateway_id", e))?,
        })
    }
}

/// The gateway's `gateway.heartbeat.v1` record for `health`, at `at`.
pub fn heartbeat_record(gateway: &GatewayIdentity, health: Health, at: OffsetDateTime) -> Record {
    let beat = GatewayHeartbeat {
        project_id: gateway.project_id.clone(),
        gateway_id: gateway.gateway_id.clone(),
        queue_depth: health.queue_depth,
        queue_bytes: health.queue_bytes,
        clock_skew_ms: health.clock_skew_ms,
        rejected_packets: health.rejected_packets,
        deviations: health.deviations,
    };
    Record::new(&SiteEvent::GatewayHeartbeat(Box::new(beat)), shanghai_rfc3339_millis(at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shifted(value: &str, shift: i32) -> Option<String> {
        shift_decimal(value, shift).map(|d| d.as_str().to_owned())
    }

    #[test]
    fn decimal_shifts_are_exact() {
        assert_eq!(shifted("0.0852", 3).as_deref(), Some("85.2"));
        assert_eq!(shifted("140600.000", -3).as_deref(), Some("140.600000"));
        assert_eq!(shifted("31", 0).as_deref(), Some("31"));
        assert_eq!(shifted("31", 3).as_deref(), Some("31000"));
        assert_eq!(shifted("5", -3).as_deref(), Some("0.005"));
        assert_eq!(shifted("-1.5", 3).as_deref(), Some("-1500"));
        assert_eq!(shifted("1e3", 0), None);
        assert_eq!(shifted("", 3), None);
    }

    /// The platform refuses a whole `env.hj212.data.v1` record whose decimal has a redundant leading zero, a `+`
    /// or more than 18 significant digits; the agent used to sign `"007"` and `+5` as sent (shift 0), so the
    /// platform parked every record of such a monitor.
    #[test]
    fn values_the_contract_refuses_are_normalised_or_dropped() {
        assert_eq!(shifted("007.50", 0).as_deref(), Some("7.50"));
        assert_eq!(shifted("+5", 0).as_deref(), Some("5"));
        assert_eq!(shifted("-0.5", 0).as_deref(), Some("-0.5"));
        assert_eq!(shifted("1234567890123456789", 0), None);
    }

    #[test]
    fn every_data_cn_of_the_contract_is_a_recorded_cn() {
        for c in [DataCn::RealTime, DataCn::Status, DataCn::Daily, DataCn::Minute, DataCn::Hourly] {
            let code: u16 = c.as_str().parse().expect("4 digits");
            assert_eq!(data_cn(code), Some(c));
        }
        assert!(!is_recorded_cn(cn::STOP_REAL_TIME_DATA));
    }
}
