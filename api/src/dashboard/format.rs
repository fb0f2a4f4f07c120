//! Display helpers for the dashboard: Chinese labels for codes, money, areas and times. Pure functions; the
//! templates escape whatever these return.

use siteledger_projections::{FIXED_DISTRICTS, KeyStatus};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

/// Whether a district code names one of Ningbo's ten 区县(市) (else it is a 开发园区 added at run time).
pub fn is_county(code: &str) -> bool {
    FIXED_DISTRICTS.iter().any(|(c, _)| *c == code)
}

/// 区县(市) or 开发园区.
pub fn district_kind(code: &str) -> &'static str {
    if is_county(code) { "区县(市)" } else { "开发园区" }
}

/// A signed time (`2026-03-02T10:00:00+08:00`) as Beijing time `2026-03-02 10:00:00`; the input if unparsable.
pub fn time(s: &str) -> String {
    let fmt = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    OffsetDateTime::parse(s, &Rfc3339)
        .ok()
        .and_then(|t| siteledger_domain::time::in_shanghai(t).format(&fmt).ok())
        .unwrap_or_else(|| s.to_owned())
}

/// The Beijing date of a signed time (`2026-03-02`).
pub fn day(s: &str) -> String {
    time(s).chars().take(10).collect()
}

/// Optional time, `—` when absent.
pub fn time_opt(s: Option<&str>) -> String {
    s.map_or_else(|| "—".to_owned(), time)
}

/// Groups the digits of a non-negative integer string in threes: `1234567` → `1,234,567`.
fn group(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Money in fen as `¥1,234.56`.
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}¥{}.{:02}", group(&(abs / 100).to_string()), abs % 100)
}

/// Money in fen as a rounded reading aid: `18.00 亿元` or `5,200.00 万元` (empty below 1 万元).
pub fn yuan_words(fen: i64) -> String {
    let yuan = fen as f64 / 100.0;
    if yuan.abs() >= 1e8 {
        format!("约 {:.2} 亿元", yuan / 1e8)
    } else if yuan.abs() >= 1e4 {
        let wan = format!("{:.2}", yuan / 1e4);
        let (int, frac) = wan.split_once('.').unwrap_or((&wan, "00"));
        let (sign, int) = int.strip_prefix('-').map_or(("", int), |i| ("-", i));
        format!("约 {sign}{}.{frac} 万元", group(int))
    } else {
        String::new()
    }
}

/// A decimal string (`52000.00`) with grouped integer digits (`52,000.00`); other text unchanged.
pub fn decimal(s: &str) -> String {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return s.to_owned();
    }
    match frac {
        Some(f) => format!("{}.{f}", group(int)),
        None => group(int),
    }
}

/// An integer with grouped digits.
pub fn count(n: u64) -> String {
    group(&n.to_string())
}

/// A project participant's role (建设单位, 施工总承包, 监理, 分包).
pub fn participant_role(role: &str) -> String {
    match role {
        "owner" => "建设单位".into(),
        "general_contractor" => "施工总承包".into(),
        "supervisor" => "监理".into(),
        "subcontractor" => "分包".into(),
        other => other.to_owned(),
    }
}

/// Sort rank of participant roles on the project page.
pub fn participant_rank(role: &str) -> u8 {
    match role {
        "owner" => 0,
        "general_contractor" => 1,
        "supervisor" => 2,
        "subcontractor" => 3,
        _ => 4,
    }
}

/// A subsystem (first kind segment) as (Chinese, English).
pub fn subsystem(s: &str) -> (&'static str, &'static str) {
    match s {
        "env" => ("扬尘噪声", "dust & noise"),
        "alarm" => ("告警", "alarms"),
        "registry" => ("登记", "registry"),
        "ledger" => ("账本", "ledger"),
        "labor" | "labour" | "worker" | "workers" | "realname" | "attendance" => ("实名制", "real-name workers"),
        "wage" | "wages" | "payroll" => ("工资专户", "wage account"),
        "crane" | "lifting" | "hoist" => ("起重机械", "lifting machinery"),
        "video" => ("远程视频", "video"),
        "safety" | "quality" | "inspection" => ("安全质量", "safety & quality"),
        "testing" | "lab" => ("质量检测", "quality testing"),
        "hazard" | "hazardous" => ("危大工程", "hazardous works"),
        "utility" | "power" | "water" | "meter" => ("用电用水", "power & water"),
        "bim" => ("BIM施工", "BIM"),
        "rating" | "star" => ("星级评定", "star rating"),
        _ => ("其他", "other"),
    }
}

/// Alarm category label.
pub fn alarm_category(c: &str) -> String {
    match c {
        "dust" => "扬尘".into(),
        "noise" => "噪声".into(),
        "crane" => "起重机械".into(),
        "data_gap" => "数据缺失".into(),
        "equivocation" => "重复签名".into(),
        "offline" => "设备离线".into(),
        other => other.to_owned(),
    }
}

/// Alarm level label.
pub fn alarm_level(l: &str) -> &'static str {
    match l {
        "violation" => "违规",
        "warning" => "预警",
        _ => "告警",
    }
}

/// Signer key role label.
pub fn key_role(r: &str) -> String {
    match r {
        "city_bureau" => "市住建局".into(),
        "district_bureau" => "区县住建部门".into(),
        "enterprise" => "企业".into(),
        "gateway" => "工地网关".into(),
        "device" => "现场设备".into(),
        "bank" => "银行".into(),
        "testing_lab" => "检测机构".into(),
        "auditor" => "审计".into(),
        "ledger" => "账本系统".into(),
        other => other.to_owned(),
    }
}

/// Key status as (Chinese, CSS class).
pub fn key_status(s: KeyStatus) -> (&'static str, &'static str) {
    match s {
        KeyStatus::Active => ("有效 active", "ok"),
        KeyStatus::Revoked => ("已吊销 revoked", "bad"),
        KeyStatus::Expired => ("已过期 expired", "warn"),
        KeyStatus::Pending => ("未生效 pending", "muted"),
    }
}

/// The first `n` characters of an id, for narrow columns.
pub fn short(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_and_numbers() {
        assert_eq!(yuan(18_000_000_000), "¥180,000,000.00");
        assert_eq!(yuan(123_456), "¥1,234.56");
        assert_eq!(yuan(5), "¥0.05");
        assert_eq!(yuan(-100_000), "-¥1,000.00");
        assert_eq!(yuan_words(18_000_000_000), "约 1.80 亿元");
        assert_eq!(yuan_words(5_200_000_000), "约 5,200.00 万元");
        assert_eq!(yuan_words(50_000), "");
        assert_eq!(decimal("52000.00"), "52,000.00");
        assert_eq!(decimal("999"), "999");
        assert_eq!(decimal("abc"), "abc");
        assert_eq!(count(1_234_567), "1,234,567");
    }

    #[test]
    fn times_are_shown_in_beijing_time() {
        assert_eq!(time("2026-03-02T10:00:00+08:00"), "2026-03-02 10:00:00");
        assert_eq!(time("2026-03-02T02:00:00Z"), "2026-03-02 10:00:00");
        assert_eq!(time("garbage"), "garbage");
        assert_eq!(time_opt(None), "—");
    }

    #[test]
    fn district_kinds() {
        assert_eq!(district_kind("330212"), "区县(市)");
        assert_eq!(district_kind("ZONE-NBHTZ"), "开发园区");
    }
}
