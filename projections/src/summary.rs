//! One-line summaries of records for timelines ("PM10 85.2 µg/m³ 噪声 62.1 dB(A)").

use serde_json::{Map, Value};
use siteledger_domain::DomainEvent;
use siteledger_domain::iot::AlarmLevel;
use siteledger_domain::registry::RegistryEvent;

use crate::prepare::{Event, LedgerEvent};

/// Longest summary, in characters.
const MAX_CHARS: usize = 160;

/// Known measurement fields: (field-name prefix, label, unit). Matched against payload keys in this order.
const METRICS: &[(&str, &str, &str)] = &[
    ("pm10", "PM10", "µg/m³"),
    ("pm2_5", "PM2.5", "µg/m³"),
    ("pm25", "PM2.5", "µg/m³"),
    ("tsp", "TSP", "µg/m³"),
    ("noise", "噪声", "dB(A)"),
    ("temperature", "温度", "°C"),
    ("humidity", "湿度", "%"),
    ("wind_speed", "风速", "m/s"),
    ("wind_direction", "风向", "°"),
    ("load", "载重", "t"),
    ("moment", "力矩", "%"),
    ("tilt", "倾角", "°"),
];

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn short(s: &str) -> &str {
    s.get(..8).unwrap_or(s)
}

/// A short bilingual text for a record: a dedicated line for alarms, registry and `ledger.*` records (from their
/// typed events), otherwise its measurements or first members, rendered generically from the signed payload (any
/// kind, including one whose payload does not type-check).
pub(crate) fn summarize(kind: &str, event: Option<&Event>, p: &Map<String, Value>) -> String {
    let s = match event {
        Some(Event::Domain(e)) => domain(e),
        Some(Event::Ledger(e)) => Some(ledger(e)),
        None => None,
    };
    let s = s.unwrap_or_else(|| measurements(p).unwrap_or_else(|| generic(kind, p)));
    truncate(s.trim())
}

/// The dedicated line of an alarm or registry record.
fn domain(e: &DomainEvent) -> Option<String> {
    Some(match e {
        DomainEvent::AlarmRaised(a) => {
            let level = match a.level {
                AlarmLevel::Violation => "违规",
                AlarmLevel::Warning => "预警",
            };
            let mut s = format!("{level} {}: {}", a.category.as_str(), a.message.as_str());
            match (&a.value, &a.threshold) {
                (Some(v), Some(t)) => s.push_str(&format!(" ({} / 阈值 {})", v.as_str(), t.as_str())),
                (Some(v), None) => s.push_str(&format!(" ({})", v.as_str())),
                _ => {}
            }
            s
        }
        DomainEvent::AlarmCleared(c) => format!("告警解除 {}: {}", c.alarm_id.as_str(), c.note.as_str()),
        DomainEvent::Registry(r) => match r {
            RegistryEvent::ZoneAdded(z) => format!("新增区域 {} {}", z.code.as_str(), z.name.as_str()),
            RegistryEvent::EnterpriseRegistered(e) => {
                format!("企业登记 {} ({})", e.name.as_str(), e.credit_code.as_str())
            }
            RegistryEvent::ProjectRegistered(p) => {
                format!("项目登记 {} ({}, {})", p.name.as_str(), p.project_id.as_str(), p.district.as_str())
            }
            RegistryEvent::ParticipantAdded(p) => {
                format!("参建单位加入 {} {}", p.role.as_str(), p.credit_code.as_str())
            }
            RegistryEvent::ParticipantRemoved(p) => {
                format!("参建单位退出 {} {}", p.role.as_str(), p.credit_code.as_str())
            }
        },
        _ => return None,
    })
}

/// The dedicated line of a `ledger.*` record.
fn ledger(e: &LedgerEvent) -> String {
    match e {
        LedgerEvent::KeyEnrolled(k) => format!("密钥登记 {} ({})", k.subject, k.role),
        LedgerEvent::KeyRevoked(r) => format!("密钥吊销 {}: {}", short(&r.key_id), r.reason),
        LedgerEvent::SignerGap(g) => format!(
            "数据缺失 signer gap: {} 条 (seq {}→{}) key {}",
            g.missing,
            g.last_seq,
            g.next_seq,
            short(&g.key_id)
        ),
        LedgerEvent::Equivocation(q) => {
            format!("重复序号 equivocation: seq {} key {}", q.seq, short(&q.key_id))
        }
    }
}

fn measurements(p: &Map<String, Value>) -> Option<String> {
    let mut parts = Vec::new();
    for (prefix, label, unit) in METRICS {
        let hit = p.iter().find(|(k, v)| k.starts_with(prefix) && text(v).is_some());
        if let Some(v) = hit.and_then(|(_, v)| text(v)) {
            parts.push(format!("{label} {v} {unit}"));
        }
    }
    (!parts.is_empty()).then(|| parts.join(" "))
}

fn generic(kind: &str, p: &Map<String, Value>) -> String {
    let parts: Vec<String> = p.iter().filter_map(|(k, v)| text(v).map(|v| format!("{k}={v}"))).take(4).collect();
    if parts.is_empty() { kind.to_owned() } else { parts.join(" ") }
}

fn truncate(s: &str) -> String {
    if s.chars().count() <= MAX_CHARS {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(MAX_CHARS - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use siteledger_domain::DomainEvent;

    use super::summarize;
    use crate::prepare::Event;

    fn obj(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    /// The summary of a record as the activity fold computes it: typed if the payload type-checks.
    fn line(kind: &str, v: serde_json::Value) -> String {
        let p = obj(v);
        let event = DomainEvent::parse(kind, &p).ok().map(Event::Domain);
        summarize(kind, event.as_ref(), &p)
    }

    #[test]
    fn measurements_get_labels_and_units() {
        let s = line("env.dust.reading.v1", json!({"pm10_ug_m3": "85.2", "noise_dba": "62.1", "n": 3}));
        assert_eq!(s, "PM10 85.2 µg/m³ 噪声 62.1 dB(A)");
    }

    #[test]
    fn alarms_and_fallbacks() {
        let s = line(
            "alarm.raised.v1",
            json!({"project_id": "NB-2026-0001", "alarm_id": "A1", "source": "gw-1", "level": "violation",
                   "category": "dust", "message": "PM10 超标", "value": "152.0", "threshold": "150"}),
        );
        assert_eq!(s, "违规 dust: PM10 超标 (152.0 / 阈值 150)");
        assert_eq!(line("x.y.v1", json!({})), "x.y.v1");
        assert_eq!(line("x.y.v1", json!({"a": 1})), "a=1");
        let long = "长".repeat(300);
        assert_eq!(line("x.y.v1", json!({"m": long})).chars().count(), 160);
    }

    #[test]
    fn an_alarm_payload_that_does_not_type_check_is_summarised_generically() {
        // An older ledger let such a payload in: its line shows what it carries instead of an empty alarm line.
        let s = line("alarm.raised.v1", json!({"level": "violation", "message": "PM10 超标"}));
        assert_eq!(s, "level=violation message=PM10 超标");
    }
}
