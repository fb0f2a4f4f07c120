//! Records the agent signs, and how device data becomes them (the payload contract of `/work/site-kinds.md`,
//! mirrored in `docs/GATEWAY.md`): HJ 212 packets → `env.hj212.data.v1` with values converted into the contract's
//! units; the gateway's own `gateway.heartbeat.v1`. No floats anywhere: values stay decimal strings and unit
//! conversion is a decimal-point shift.

use serde_json::{Map, Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

use crate::config::{AgentConfig, DeviceConfig};
use crate::hj212::{Deviation, Packet, cn};

pub use siteledger_domain::time::SHANGHAI as CST;

/// A record before signing: where, what, when, and the payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The stream, `project/<id>/site/<device>`.
    pub stream: String,
    /// The kind, e.g. `env.hj212.data.v1`.
    pub kind: String,
    /// RFC 3339 time the gateway received the data (the envelope's `occurred_at`).
    pub occurred_at: String,
    /// The payload (contract members).
    pub payload: Map<String, Value>,
}

/// `YYYY-MM-DDThh:mm:ss.mmm+08:00` for `t`.
pub fn cst_text(t: OffsetDateTime) -> String {
    let t = siteledger_domain::time::in_shanghai(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}+08:00",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// The current time as [`cst_text`].
pub fn now_text() -> String {
    cst_text(OffsetDateTime::now_utc())
}

/// Whether `s` is a decimal string: optional `-`, digits, optional `.` and digits.
pub fn is_decimal(s: &str) -> bool {
    let body = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && (!body.contains('.') || (!frac.is_empty() && frac.bytes().all(|b| b.is_ascii_digit())))
}

/// Multiplies a decimal string by 10^`shift` exactly (no floats), keeping the digits sent: `"0.0852"` shifted by 3
/// is `"85.2"`, `"140600.000"` by −3 is `"140.600000"`. `None` if `value` is not a decimal.
pub fn shift_decimal(value: &str, shift: i32) -> Option<String> {
    if !is_decimal(value) {
        return None;
    }
    if shift == 0 {
        return Some(value.to_owned());
    }
    let (neg, body) = value.strip_prefix('-').map_or((false, value), |b| (true, b));
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let mut digits: String = format!("{int}{frac}");
    let mut point = i64::try_from(int.len()).ok()? + i64::from(shift);
    if point < 1 {
        let pad = usize::try_from(1 - point).ok()?;
        digits = format!("{}{digits}", "0".repeat(pad));
        point = 1;
    }
    let point = usize::try_from(point).ok()?;
    if digits.len() < point {
        let pad = point - digits.len();
        digits.push_str(&"0".repeat(pad));
    }
    let (i, f) = digits.split_at(point);
    let i = i.trim_start_matches('0');
    let i = if i.is_empty() { "0" } else { i };
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    out.push_str(i);
    if !f.is_empty() {
        out.push('.');
        out.push_str(f);
    }
    Some(out)
}

/// `DataTime` (`YYYYMMDDhhmmss`, Asia/Shanghai; the first 14 of 15–17 digits) as RFC 3339.
pub fn data_time_text(data_time: &str) -> Option<String> {
    let d = data_time.get(..14)?;
    if !d.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| d[r].parse::<u16>().ok();
    let date = Date::from_calendar_date(
        i32::from(n(0..4)?),
        Month::try_from(u8::try_from(n(4..6)?).ok()?).ok()?,
        u8::try_from(n(6..8)?).ok()?,
    )
    .ok()?;
    let time =
        Time::from_hms(u8::try_from(n(8..10)?).ok()?, u8::try_from(n(10..12)?).ok()?, u8::try_from(n(12..14)?).ok()?)
            .ok()?;
    let t = PrimitiveDateTime::new(date, time).assume_offset(CST);
    t.format(&Rfc3339).ok()
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

/// Whether a CN produces an `env.hj212.data.v1` record.
pub fn is_recorded_cn(c: u16) -> bool {
    matches!(c, cn::REAL_TIME_DATA | cn::MINUTE_DATA | cn::HOURLY_DATA | cn::DAILY_DATA | cn::EQUIPMENT_STATUS)
}

/// The `env.hj212.data.v1` record of an accepted (or reassembled) packet from `device`, received at `received`.
pub fn hj212_record(
    config: &AgentConfig,
    device: &DeviceConfig,
    packet: &Packet,
    reassembled: bool,
    received: OffsetDateTime,
) -> Record {
    let mut deviations: Vec<String> = Vec::new();
    let mut push = |t: String| {
        if !deviations.contains(&t) {
            deviations.push(t);
        }
    };
    for d in &packet.deviations {
        push(deviation_token(d));
    }
    if packet.flag.is_none() {
        push("hj212_2005".into());
    }
    if reassembled {
        push("reassembled".into());
    }
    let received_text = cst_text(received);
    let data_time = match packet.cp.data_time.as_deref().and_then(data_time_text) {
        Some(t) => t,
        None => {
            // No usable DataTime (status packets may lack it): the receive time, flagged.
            push("data_time_from_receipt".into());
            received_text.clone()
        }
    };
    let mut items = Vec::new();
    for (code, fields) in &packet.cp.items {
        let (unit, shift) = unit_of(code, device);
        let mut item = Map::new();
        item.insert("code".into(), json!(code));
        if let Some(u) = unit {
            item.insert("unit".into(), json!(u));
        }
        let mut any = false;
        for (field, member) in
            [("Rtd", "rtd"), ("Avg", "avg"), ("Data", "avg"), ("Min", "min"), ("Max", "max"), ("Cou", "cou")]
        {
            if item.contains_key(member) {
                continue;
            }
            if let Some(v) = fields.get(field) {
                match shift_decimal(v, shift) {
                    Some(v) => {
                        item.insert(member.into(), json!(v));
                        any = true;
                    }
                    None => push("non_decimal_value".into()),
                }
            }
        }
        if let Some(f) = fields.get("Flag") {
            item.insert("flag".into(), json!(f));
            any = true;
        }
        if any {
            items.push(Value::Object(item));
        }
    }
    let mut payload = Map::new();
    payload.insert("project_id".into(), json!(config.project_id));
    payload.insert("device_id".into(), json!(device.id));
    payload.insert("mn".into(), json!(packet.mn.clone().unwrap_or_default()));
    payload.insert("st".into(), json!(packet.st.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| "-".into())));
    payload.insert("cn".into(), json!(format!("{:04}", packet.cn)));
    payload.insert("data_time".into(), json!(data_time));
    if let Some(qn) = &packet.qn {
        payload.insert("qn".into(), json!(qn));
    }
    payload.insert("deviations".into(), json!(deviations));
    payload.insert("items".into(), Value::Array(items));
    Record {
        stream: config.device_stream(&device.id),
        kind: "env.hj212.data.v1".into(),
        occurred_at: received_text,
        payload,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_shifts_are_exact() {
        assert_eq!(shift_decimal("0.0852", 3).as_deref(), Some("85.2"));
        assert_eq!(shift_decimal("140600.000", -3).as_deref(), Some("140.600000"));
        assert_eq!(shift_decimal("31", 0).as_deref(), Some("31"));
        assert_eq!(shift_decimal("31", 3).as_deref(), Some("31000"));
        assert_eq!(shift_decimal("5", -3).as_deref(), Some("0.005"));
        assert_eq!(shift_decimal("-1.5", 3).as_deref(), Some("-1500"));
        assert_eq!(shift_decimal("1e3", 0), None);
        assert_eq!(shift_decimal("", 3), None);
    }

    #[test]
    fn data_time_is_shanghai() {
        assert_eq!(data_time_text("20240315083000").as_deref(), Some("2024-03-15T08:30:00+08:00"));
        assert_eq!(data_time_text("20240315083000123").as_deref(), Some("2024-03-15T08:30:00+08:00"));
        assert_eq!(data_time_text("20241315083000"), None);
    }
}
