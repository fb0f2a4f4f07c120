//! 扬尘噪声 windows: which metrics are judged in windows, how long a window is, and its verdict and alarm.

use time::OffsetDateTime;

use super::{AlarmLevel, AlarmRule, DerivedAlarm, MAX_CITED};
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

/// How many data finenesses a window keeps apart: real-time, minute, hourly, daily.
pub const TIERS: usize = 4;

/// Finest first: a window uses real-time data (tier 0) over minute (1) over hourly (2) over daily (3; status
/// packets carry no values).
pub fn tier(cn: DataCn) -> usize {
    match cn {
        DataCn::RealTime => 0,
        DataCn::Minute => 1,
        DataCn::Hourly => 2,
        DataCn::Daily | DataCn::Status => 3,
    }
}

/// What a window keeps of its counting readings of one fineness, updated one reading at a time, so that judging a
/// window after each reading costs the same whatever the window already holds (a device bursting thousands of
/// readings into one window must not make the fold quadratic).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TierSum {
    /// Readings added.
    pub readings: u64,
    /// Σ value (a mean) or Σ 10^(L/10) (a noise Leq, [`rules::energy`]), in the order the readings were added:
    /// equal to the sum over the readings in window order whenever they arrive in that order.
    pub sum: f64,
    /// The first [`MAX_CITED`] readings in window order, as (order, event id), ascending: an alarm cites these.
    pub first: Vec<(i64, String)>,
}

/// A window's running sums, one per fineness ([`tier`]): everything [`judge_sums`] needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WindowSums {
    /// By [`tier`].
    pub tiers: [TierSum; TIERS],
}

/// Which parts of a [`TierSum`] one reading changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Added {
    /// The tier it went to.
    pub tier: usize,
    /// Whether it entered [`TierSum::first`] (otherwise only the count and the sum changed).
    pub cited: bool,
}

impl WindowSums {
    /// Adds one counting reading of `metric`. `order` places it in the window (the projection passes its time in
    /// microseconds; ties are broken by event id).
    pub fn add(&mut self, metric: Metric, r: &WindowReading, order: i64) -> Added {
        let t = tier(r.cn);
        let x = rules::to_f64(&r.value);
        let s = &mut self.tiers[t];
        s.readings = s.readings.saturating_add(1);
        s.sum += if metric == Metric::Noise { rules::energy(x) } else { x };
        let at = s.first.partition_point(|(o, id)| (*o, id.as_str()) < (order, r.event_id.as_str()));
        let cited = at < MAX_CITED;
        if cited {
            s.first.insert(at, (order, r.event_id.clone()));
            s.first.truncate(MAX_CITED);
        }
        Added { tier: t, cited }
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

/// Judges the counting `readings` of `metric`, in window order, in the window starting at `start` (from
/// [`window_minutes`]); `None` without readings. The same as adding them one by one to [`WindowSums`] and calling
/// [`judge_sums`].
pub fn judge_window(
    policy: &EnvPolicy,
    metric: Metric,
    start: OffsetDateTime,
    readings: &[WindowReading],
) -> Option<WindowJudgement> {
    let mut sums = WindowSums::default();
    for (i, r) in readings.iter().enumerate() {
        sums.add(metric, r, i64::try_from(i).unwrap_or(i64::MAX));
    }
    judge_sums(policy, metric, start, &sums)
}

/// Judges a window starting at `start` on its running sums: the finest data present decides (its mean, or its
/// Leq for noise), and an alarm cites the first [`MAX_CITED`] readings of that data. `None` without readings.
pub fn judge_sums(
    policy: &EnvPolicy,
    metric: Metric,
    start: OffsetDateTime,
    sums: &WindowSums,
) -> Option<WindowJudgement> {
    let used = sums.tiers.iter().find(|s| s.readings > 0)?;
    let readings = usize::try_from(used.readings).unwrap_or(usize::MAX);
    let mut j = match metric {
        Metric::Noise => {
            let v = rules::noise_verdict_of_leq(policy, start, rules::leq_of_energy(used.sum, used.readings)?);
            let band = if v.exceeds { Band::Violation } else { Band::Normal };
            WindowJudgement {
                value: v.leq,
                readings,
                band,
                limit: Some(v.limit),
                warn: None,
                night: v.night,
                alarm: None,
            }
        }
        Metric::Pm10 => {
            let m = rules::pm_mean_of_sum(used.sum, used.readings)?;
            let band = rules::pm10_band(policy, &m);
            let (limit, warn) = (Some(policy.pm10_alarm_ug_m3.clone()), Some(policy.pm10_warn_ug_m3.clone()));
            WindowJudgement { value: m, readings, band, limit, warn, night: false, alarm: None }
        }
        _ => {
            let m = rules::pm_mean_of_sum(used.sum, used.readings)?;
            WindowJudgement {
                value: m,
                readings,
                band: Band::Normal,
                limit: None,
                warn: None,
                night: false,
                alarm: None,
            }
        }
    };
    let cited = used.first.iter().map(|(_, id)| id.clone()).collect();
    j.alarm = window_alarm(policy, metric, start, &j, cited).map(|a| a.resting_on(used.readings));
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
