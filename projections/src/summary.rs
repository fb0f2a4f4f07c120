//! One-line summaries of records for timelines ("PM10 85.2 µg/m³ 噪声 62.1 dB(A)").

use serde_json::{Map, Value};

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

fn field(p: &Map<String, Value>, k: &str) -> String {
    p.get(k).and_then(text).unwrap_or_default()
}

fn short(s: &str) -> &str {
    s.get(..8).unwrap_or(s)
}

/// A short bilingual text derived from a record's kind and payload.
pub fn summarize(kind: &str, p: &Map<String, Value>) -> String {
    let s = match kind {
        "alarm.raised.v1" => {
            let level = match field(p, "level").as_str() {
                "violation" => "违规",
                "warning" => "预警",
                _ => "告警",
            };
            let mut s = format!("{level} {}: {}", field(p, "category"), field(p, "message"));
            match (p.get("value").and_then(text), p.get("threshold").and_then(text)) {
                (Some(v), Some(t)) => s.push_str(&format!(" ({v} / 阈值 {t})")),
                (Some(v), None) => s.push_str(&format!(" ({v})")),
                _ => {}
            }
            s
        }
        "alarm.cleared.v1" => format!("告警解除 {}: {}", field(p, "alarm_id"), field(p, "note")),
        "registry.zone.added.v1" => format!("新增区域 {} {}", field(p, "code"), field(p, "name")),
        "registry.enterprise.registered.v1" => {
            format!("企业登记 {} ({})", field(p, "name"), field(p, "credit_code"))
        }
        "registry.project.registered.v1" => {
            format!("项目登记 {} ({}, {})", field(p, "name"), field(p, "project_id"), field(p, "district"))
        }
        "registry.project.participant_added.v1" => {
            format!("参建单位加入 {} {}", field(p, "role"), field(p, "credit_code"))
        }
        "registry.project.participant_removed.v1" => {
            format!("参建单位退出 {} {}", field(p, "role"), field(p, "credit_code"))
        }
        "ledger.key.enrolled.v1" => format!("密钥登记 {} ({})", field(p, "subject"), field(p, "role")),
        "ledger.key.revoked.v1" => format!("密钥吊销 {}: {}", short(&field(p, "key_id")), field(p, "reason")),
        "ledger.signer.gap.v1" => format!(
            "数据缺失 signer gap: {} 条 (seq {}→{}) key {}",
            field(p, "missing"),
            field(p, "last_seq"),
            field(p, "next_seq"),
            short(&field(p, "key_id"))
        ),
        "ledger.signer.equivocation.v1" => {
            format!("重复序号 equivocation: seq {} key {}", field(p, "seq"), short(&field(p, "key_id")))
        }
        _ => measurements(p).unwrap_or_else(|| generic(kind, p)),
    };
    truncate(s.trim())
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

    use super::summarize;

    fn obj(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn measurements_get_labels_and_units() {
        let s = summarize("env.dust.reading.v1", &obj(json!({"pm10_ug_m3": "85.2", "noise_dba": "62.1", "n": 3})));
        assert_eq!(s, "PM10 85.2 µg/m³ 噪声 62.1 dB(A)");
    }

    #[test]
    fn alarms_and_fallbacks() {
        let s = summarize(
            "alarm.raised.v1",
            &obj(
                json!({"level": "violation", "category": "dust", "message": "PM10 超标", "value": "152.0", "threshold": "150"}),
            ),
        );
        assert_eq!(s, "违规 dust: PM10 超标 (152.0 / 阈值 150)");
        assert_eq!(summarize("x.y.v1", &obj(json!({}))), "x.y.v1");
        assert_eq!(summarize("x.y.v1", &obj(json!({"a": 1}))), "a=1");
        let long = "长".repeat(300);
        assert_eq!(summarize("x.y.v1", &obj(json!({"m": long}))).chars().count(), 160);
    }
}
