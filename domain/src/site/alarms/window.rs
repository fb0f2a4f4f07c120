//! 扬尘噪声 windows: which metrics are judged in windows, how long a window is, and its verdict and alarm.

use time::OffsetDateTime;

use super::{AlarmLevel, AlarmRule, DerivedAlarm};
use crate::quantity::Decimal;
use crate::site::factors::Metric;
use crate::site::policy::EnvPolicy;
use crate::site::rules::{self, Band};
use crate::site::types::DataCn;

/// Whether a metric's readings are judged in windows (PM10, PM2.5, noise, wind; the others are only shown).
pub fn windowed(metric: Metric) -> bool {
    matches!(metric, Metric::Pm10 | Metric::Pm25 | Metric::Noise | Metric::Wind)
}

/// The window length of a metric under a policy: `leq_window_min` for noise, `pm_window_min` otherwise.
pub fn window_minutes(policy: &EnvPolicy, metric: Metric) -> u16 {
    if metric == Metric::Noise { policy.leq_window_min.get() } else { policy.pm_window_min.get() }
}

/// The rule that judges a metric's windows, if any.
pub fn window_rule(metric: Metric) -> Option<AlarmRule> {
    match metric {
        Metric::Noise => Some(AlarmRule::EnvNoise),
        Metric::Pm10 => Some(AlarmRule::EnvPm10),
        _ => None,
    }
}

/// A reading in a window that counts (flag `N` or none), as the read model keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowReading {
    /// The value as sent.
    pub value: Decimal,
    /// The data it came in (real-time, minute, hourly, daily).
    pub cn: DataCn,
    /// Its record.
    pub event_id: String,
}

/// Finest first: a window uses real-time data over minute over hourly over daily.
fn fineness(cn: DataCn) -> u8 {
    match cn {
        DataCn::RealTime => 0,
        DataCn::Minute => 1,
        DataCn::Hourly => 2,
        DataCn::Daily | DataCn::Status => 3,
    }
}

/// A window's value and verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowJudgement {
    /// Leq (noise) or mean, rounded to 0.1.
    pub value: Decimal,
    /// Readings used (those of the finest data present).
    pub readings: usize,
    /// Band.
    pub band: Band,
    /// The limit (noise: the day or night limit; PM10: the alarm threshold).
    pub limit: Option<Decimal>,
    /// The PM10 warning threshold.
    pub warn: Option<Decimal>,
    /// A night window (noise).
    pub night: bool,
    /// The alarm, outside the normal band, citing the readings used.
    pub alarm: Option<DerivedAlarm>,
}

/// Judges the counting `readings` of `metric` in the window starting at `start` (from [`window_minutes`]);
/// `None` without readings.
pub fn judge_window(
    policy: &EnvPolicy,
    metric: Metric,
    start: OffsetDateTime,
    readings: &[WindowReading],
) -> Option<WindowJudgement> {
    let finest = readings.iter().map(|r| fineness(r.cn)).min().unwrap_or(0);
    let used: Vec<&WindowReading> = readings.iter().filter(|r| fineness(r.cn) == finest).collect();
    let values: Vec<f64> = used.iter().map(|r| rules::to_f64(&r.value)).collect();
    let mut j = match metric {
        Metric::Noise => {
            let v = rules::noise_verdict(policy, start, &values)?;
            let band = if v.exceeds { Band::Violation } else { Band::Normal };
            WindowJudgement {
                value: v.leq,
                readings: values.len(),
                band,
                limit: Some(v.limit),
                warn: None,
                night: v.night,
                alarm: None,
            }
        }
        Metric::Pm10 => {
            let m = rules::pm_mean(&values)?;
            let band = rules::pm10_band(policy, &m);
            let (limit, warn) = (Some(policy.pm10_alarm_ug_m3.clone()), Some(policy.pm10_warn_ug_m3.clone()));
            WindowJudgement { value: m, readings: values.len(), band, limit, warn, night: false, alarm: None }
        }
        _ => {
            let m = rules::pm_mean(&values)?;
            WindowJudgement {
                value: m,
                readings: values.len(),
                band: Band::Normal,
                limit: None,
                warn: None,
                night: false,
                alarm: None,
            }
        }
    };
    let cited = used.iter().map(|r| r.event_id.clone()).collect();
    j.alarm = window_alarm(policy, metric, start, &j, cited);
    Some(j)
}

fn window_alarm(
    policy: &EnvPolicy,
    metric: Metric,
    start: OffsetDateTime,
    j: &WindowJudgement,
    cited: Vec<String>,
) -> Option<DerivedAlarm> {
    let level = AlarmLevel::of_band(j.band)?;
    let rule = window_rule(metric)?;
    let minutes = window_minutes(policy, metric);
    let local = crate::time::in_shanghai(start);
    let hhmm = format!("{:02}:{:02}", local.hour(), local.minute());
    let value = &j.value;
    let (message, threshold) = if rule == AlarmRule::EnvNoise {
        let period = if j.night { "夜间" } else { "昼间" };
        let lim = j.limit.clone()?;
        (
            format!(
                "{period}噪声 Leq({minutes}min, {hhmm}起) {value} dB(A) 超过 {lim} dB(A) / noise Leq exceeds limit"
            ),
            lim,
        )
    } else {
        let violation = level == AlarmLevel::Violation;
        let th = if violation { &policy.pm10_alarm_ug_m3 } else { &policy.pm10_warn_ug_m3 };
        let what = if violation { "超标" } else { "预警" };
        let placeholder = if policy.pm10_placeholder { "（占位阈值 placeholder）" } else { "" };
        (
            format!(
                "PM10 {minutes}分钟均值（{hhmm}起）{value} µg/m³ {what}，阈值 {th}{placeholder} / PM10 mean above threshold"
            ),
            th.clone(),
        )
    };
    Some(DerivedAlarm::new(rule, level, message, cited).judged(value, &threshold))
}
