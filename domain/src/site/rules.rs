//! Pure rule functions over site readings: the platform derives alarms with these (in the projections), from the
//! readings and the policy in force at the reading's time. None of them refuses a record.
//!
//! Sound levels are averaged energetically in `f64` (Leq = 10·log10(mean(10^(L/10)))) and presented rounded to
//! 0.1 dB; the comparison with a limit is made on the rounded value, so 55.0 dB(A) at night passes and 55.1
//! exceeds. Other comparisons are exact on the decimal strings.

use std::cmp::Ordering;

use time::{Date, Duration, Month, OffsetDateTime};

use super::policy::{CranePolicy, EnvPolicy};
use super::types::Timestamp;
use crate::date::LocalDate;
use crate::quantity::Decimal;

// ---------------------------------------------------------------------------------------------------------------
// Decimal helpers
// ---------------------------------------------------------------------------------------------------------------

/// The value as `f64` (for averaging and charts only; never written back into a payload).
pub fn to_f64(d: &Decimal) -> f64 {
    d.as_str().parse().unwrap_or(0.0)
}

/// A value rounded half away from zero to one decimal, as a decimal string (`55.04` → `55.0`, `-0.04` → `0.0`).
pub fn round1(v: f64) -> Decimal {
    let tenths = (v * 10.0).round();
    let tenths = if tenths == 0.0 { 0.0 } else { tenths };
    let text = format!("{:.1}", tenths / 10.0);
    Decimal::parse(&text).unwrap_or_else(|_| Decimal::parse("0").unwrap_or_else(|_| unreachable!()))
}

fn scaled(d: &Decimal, scale: u32) -> Option<i128> {
    let up = scale.checked_sub(d.scale())?;
    i128::from(d.mantissa()).checked_mul(10i128.checked_pow(up)?)
}

/// `a − b`, exact, written with the larger scale of the two (`12345.67 − 12300` → `45.67`).
pub fn dec_sub(a: &Decimal, b: &Decimal) -> Option<Decimal> {
    let scale = a.scale().max(b.scale());
    from_scaled(scaled(a, scale)?.checked_sub(scaled(b, scale)?)?, scale)
}

/// `a + b`, exact, written with the larger scale of the two.
pub fn dec_add(a: &Decimal, b: &Decimal) -> Option<Decimal> {
    let scale = a.scale().max(b.scale());
    from_scaled(scaled(a, scale)?.checked_add(scaled(b, scale)?)?, scale)
}

fn from_scaled(diff: i128, scale: u32) -> Option<Decimal> {
    let neg = diff < 0;
    let mag = diff.unsigned_abs().to_string();
    let s = scale as usize;
    let body = if s == 0 {
        mag
    } else {
        let padded = format!("{mag:0>width$}", width = s + 1);
        let (int, frac) = padded.split_at(padded.len() - s);
        format!("{int}.{frac}")
    };
    let text = if neg && diff != 0 { format!("-{body}") } else { body };
    Decimal::parse(&text).ok()
}

/// `a × 100 ≥ pct × b`, i.e. `a / b ≥ pct %`: exact in 128-bit integers
/// (`a_m·100·10^(s_p+s_b) ≥ p_m·b_m·10^s_a`), falling back to `f64` only if that overflows.
fn ratio_at_least(a: &Decimal, b: &Decimal, pct: &Decimal) -> bool {
    let lhs = i128::from(a.mantissa())
        .checked_mul(100)
        .and_then(|x| x.checked_mul(10i128.checked_pow(pct.scale() + b.scale())?));
    let rhs = i128::from(pct.mantissa())
        .checked_mul(i128::from(b.mantissa()))
        .and_then(|x| x.checked_mul(10i128.checked_pow(a.scale())?));
    match (lhs, rhs) {
        (Some(l), Some(r)) => l >= r,
        _ => to_f64(a) * 100.0 >= to_f64(pct) * to_f64(b),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Noise
// ---------------------------------------------------------------------------------------------------------------

/// The sound energy of a level, 10^(L/10): what a Leq averages.
pub fn energy(level: f64) -> f64 {
    10f64.powf(level / 10.0)
}

/// 等效声级: 10·log10(mean(10^(L/10))) over the levels; `None` for none.
pub fn leq(levels: &[f64]) -> Option<f64> {
    leq_of_energy(levels.iter().map(|l| energy(*l)).fold(0.0, |s, e| s + e), levels.len() as u64)
}

/// 等效声级 from the sum of `n` levels' energies ([`energy`], summed in order): 10·log10(sum / n); `None` for
/// none. A window keeps this sum as its readings arrive instead of its readings.
pub fn leq_of_energy(energy_sum: f64, n: u64) -> Option<f64> {
    if n == 0 {
        return None;
    }
    #[expect(clippy::cast_precision_loss, reason = "a window holds far fewer than 2^52 readings")]
    let n = n as f64;
    Some(10.0 * (energy_sum / n).log10())
}

/// Whether a local time of day (minutes since midnight) is in the night `[start, end)` (wrapping midnight).
pub fn is_night_minute(policy: &EnvPolicy, minute: u16) -> bool {
    let (s, e) = (policy.night_start.minutes(), policy.night_end.minutes());
    match s.cmp(&e) {
        Ordering::Less => (s..e).contains(&minute),
        Ordering::Greater => minute >= s || minute < e,
        Ordering::Equal => false,
    }
}

fn local_minute(at: OffsetDateTime) -> u16 {
    let l = crate::time::in_shanghai(at);
    u16::from(l.hour()) * 60 + u16::from(l.minute())
}

/// Whether the instant is at night (夜间) in Asia/Shanghai under the policy (22:00 is night, 06:00 is day).
pub fn is_night(policy: &EnvPolicy, at: OffsetDateTime) -> bool {
    is_night_minute(policy, local_minute(at))
}

/// The start of the `minutes`-long window holding `at`, windows aligned on local (Asia/Shanghai) midnight.
pub fn window_start(at: OffsetDateTime, minutes: u16) -> OffsetDateTime {
    // Checked: record data must not panic (an instant late on 9999-12-31 UTC keeps its own offset).
    let l = crate::time::in_shanghai(at);
    let midnight = l.replace_time(time::Time::MIDNIGHT);
    let since = (l - midnight).whole_minutes();
    let w = i64::from(minutes.max(1));
    midnight + Duration::minutes(since - since.rem_euclid(w))
}

/// A noise verdict over one window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoiseVerdict {
    /// Leq rounded to 0.1 dB(A).
    pub leq: Decimal,
    /// The limit that applied (day or night).
    pub limit: Decimal,
    /// 夜间.
    pub night: bool,
    /// Leq (rounded) above the limit.
    pub exceeds: bool,
}

/// Judges the levels of one Leq window starting at `window_start`: day or night by the window's start.
pub fn noise_verdict(policy: &EnvPolicy, window_start: OffsetDateTime, levels: &[f64]) -> Option<NoiseVerdict> {
    Some(noise_verdict_of_leq(policy, window_start, leq(levels)?))
}

/// Judges one Leq window starting at `window_start` on its Leq (unrounded, from [`leq`] or [`leq_of_energy`]).
pub fn noise_verdict_of_leq(policy: &EnvPolicy, window_start: OffsetDateTime, leq: f64) -> NoiseVerdict {
    let leq = round1(leq);
    let night = is_night(policy, window_start);
    let limit = if night { &policy.noise_night_limit_db_a } else { &policy.noise_day_limit_db_a };
    NoiseVerdict { exceeds: leq.cmp_value(limit).is_gt(), limit: limit.clone(), night, leq }
}

// ---------------------------------------------------------------------------------------------------------------
// Dust
// ---------------------------------------------------------------------------------------------------------------

/// How a PM10 window mean compares with the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Band {
    /// 正常.
    Normal,
    /// 预警.
    Warning,
    /// 超标 / 违规.
    Violation,
}

impl Band {
    /// `normal`, `warning`, `violation`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::Warning => "warning",
            Self::Violation => "violation",
        }
    }
}

/// Arithmetic mean of PM readings in a window, rounded to 0.1 µg/m³.
pub fn pm_mean(values: &[f64]) -> Option<Decimal> {
    pm_mean_of_sum(values.iter().fold(0.0, |s, v| s + v), values.len() as u64)
}

/// The mean of `n` values from their sum (summed in order), rounded to 0.1; `None` for none. A window keeps this
/// sum as its readings arrive instead of its readings.
pub fn pm_mean_of_sum(sum: f64, n: u64) -> Option<Decimal> {
    if n == 0 {
        return None;
    }
    #[expect(clippy::cast_precision_loss, reason = "a window holds far fewer than 2^52 readings")]
    let n = n as f64;
    Some(round1(sum / n))
}

/// PM10 window mean vs thresholds: above `pm10_alarm` → violation, above `pm10_warn` → warning (Wuhan 2017 style;
/// the default figures are placeholders).
pub fn pm10_band(policy: &EnvPolicy, mean: &Decimal) -> Band {
    if mean.cmp_value(&policy.pm10_alarm_ug_m3).is_gt() {
        Band::Violation
    } else if mean.cmp_value(&policy.pm10_warn_ug_m3).is_gt() {
        Band::Warning
    } else {
        Band::Normal
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Cranes and hoists
// ---------------------------------------------------------------------------------------------------------------

/// 力矩 band: violation from `moment_violation_pct` (100), warning from `moment_warn_pct` (90).
pub fn moment_band(policy: &CranePolicy, moment_pct: &Decimal) -> Band {
    if moment_pct.cmp_value(&policy.moment_violation_pct).is_ge() {
        Band::Violation
    } else if moment_pct.cmp_value(&policy.moment_warn_pct).is_ge() {
        Band::Warning
    } else {
        Band::Normal
    }
}

/// 起重量 band from load and rated load (load / rated × 100 against the load bands); `None` without a positive
/// rated load.
pub fn load_band(policy: &CranePolicy, load: &Decimal, rated: &Decimal) -> Option<Band> {
    if rated.mantissa() <= 0 {
        return None;
    }
    Some(if ratio_at_least(load, rated, &policy.load_violation_pct) {
        Band::Violation
    } else if ratio_at_least(load, rated, &policy.load_warn_pct) {
        Band::Warning
    } else {
        Band::Normal
    })
}

/// Percent of a hoist's rated load against the load bands.
pub fn load_pct_band(policy: &CranePolicy, load_pct: &Decimal) -> Band {
    if load_pct.cmp_value(&policy.load_violation_pct).is_ge() {
        Band::Violation
    } else if load_pct.cmp_value(&policy.load_warn_pct).is_ge() {
        Band::Warning
    } else {
        Band::Normal
    }
}

/// Wind stop: work must stop at wind ≥ `wind_stop_m_s` (12 m/s, 六级).
pub fn wind_stop(policy: &CranePolicy, wind_m_s: &Decimal) -> bool {
    wind_m_s.cmp_value(&policy.wind_stop_m_s).is_ge()
}

/// An operator's login session at a crane or hoist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorSession {
    /// Who.
    pub operator_ref: String,
    /// Certificate expiry.
    pub certificate_valid_until: LocalDate,
}

/// Why an operation was not by a certified, authenticated operator (建设部令第166号 第二十五条; black-box 71).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperatorIssue {
    /// Nobody logged in.
    NoLogin,
    /// The cycle names another operator than the one logged in.
    NotLoggedIn {
        /// The operator the cycle names.
        operator_ref: String,
    },
    /// The certificate had expired on the cycle's date.
    CertificateExpired {
        /// Expiry.
        valid_until: LocalDate,
        /// The cycle's date.
        on: LocalDate,
    },
}

impl OperatorIssue {
    /// A short Chinese/English message.
    pub fn message(&self) -> String {
        match self {
            Self::NoLogin => "未打卡操作：无操作员登录 / operation without an authenticated operator".to_owned(),
            Self::NotLoggedIn { operator_ref } => {
                format!("操作员 {operator_ref} 未登录 / operator {operator_ref} is not logged in")
            }
            Self::CertificateExpired { valid_until, on } => {
                format!("操作资格证书 {valid_until} 已过期（作业日 {on}） / certificate expired {valid_until}")
            }
        }
    }
}

/// The local (Asia/Shanghai) date of an instant.
pub fn local_date(at: &Timestamp) -> Option<LocalDate> {
    LocalDate::try_from(at.local().date()).ok()
}

/// Checks that an operation on `on` (a cycle's local date) by `named` (the cycle's operator, if the box named one)
/// happened within `session` whose certificate was valid that day (`certificate_valid_until ≥ on`).
pub fn operator_check(
    session: Option<&OperatorSession>,
    named: Option<&str>,
    on: LocalDate,
) -> Result<(), OperatorIssue> {
    let Some(s) = session else { return Err(OperatorIssue::NoLogin) };
    if let Some(n) = named
        && n != s.operator_ref
    {
        return Err(OperatorIssue::NotLoggedIn { operator_ref: n.to_owned() });
    }
    if s.certificate_valid_until < on {
        return Err(OperatorIssue::CertificateExpired { valid_until: s.certificate_valid_until, on });
    }
    Ok(())
}

/// `date` plus `months` calendar months (the day clamped to the month's end: 11-30 + 3 → 02-28).
pub fn add_months(date: LocalDate, months: u8) -> LocalDate {
    let d = date.date();
    let total = i32::from(u8::from(d.month())) - 1 + i32::from(months);
    let year = d.year() + total.div_euclid(12);
    let month = u8::try_from(total.rem_euclid(12) + 1).unwrap_or(1);
    let month = Month::try_from(month).unwrap_or(Month::January);
    let last = time::util::days_in_month(month, year);
    let day = d.day().min(last);
    Date::from_calendar_date(year, month, day).ok().and_then(|x| LocalDate::try_from(x).ok()).unwrap_or(date)
}

/// A due date's status on a given day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    /// Valid through the date.
    ValidUntil(LocalDate),
    /// Expired or overdue since the day after the date.
    Overdue(LocalDate),
    /// Never done.
    Missing,
}

/// 防坠安全器 calibration: valid through the earlier of the certificate's `valid_until` and `calibrated_on` + the
/// policy's months (JGJ 215 §4.1.7: one year); overdue on any later day.
pub fn calibration_due(policy: &CranePolicy, last: Option<(LocalDate, LocalDate)>, today: LocalDate) -> Due {
    let Some((calibrated_on, valid_until)) = last else { return Due::Missing };
    let limit = valid_until.min(add_months(calibrated_on, policy.safety_gear_valid_months));
    if today > limit { Due::Overdue(limit) } else { Due::ValidUntil(limit) }
}

/// 坠落试验: the next is due `drop_test_interval_months` (3) after the last passed one; overdue on any later day.
pub fn drop_test_due(policy: &CranePolicy, last_passed: Option<LocalDate>, today: LocalDate) -> Due {
    let Some(last) = last_passed else { return Due::Missing };
    let next = add_months(last, policy.drop_test_interval_months);
    if today > next { Due::Overdue(next) } else { Due::ValidUntil(next) }
}

// ---------------------------------------------------------------------------------------------------------------
// Meters and cameras
// ---------------------------------------------------------------------------------------------------------------

/// A meter reading after the previous one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeterStep {
    /// Consumption since the previous reading (≥ 0).
    Consumption(Decimal),
    /// The cumulative total went down: an anomaly (meter replaced, tampered, or rolled over).
    Decrease(Decimal),
}

/// Compares a cumulative total with the previous one: meters are monotonic.
pub fn meter_step(previous: &Decimal, total: &Decimal) -> Option<MeterStep> {
    let d = dec_sub(total, previous)?;
    Some(if d.is_negative() { MeterStep::Decrease(d) } else { MeterStep::Consumption(d) })
}

/// 剩余电流 above the policy's limit (JGJ 46: ≤ 30 mA passes).
pub fn leakage_alarm(policy: &CranePolicy, residual_ma: &Decimal) -> bool {
    residual_ma.cmp_value(&policy.leakage_alarm_ma).is_gt()
}

/// Online cameras per mille of registered cameras; `None` when none is registered.
pub fn online_permille(online: u64, registered: u64) -> Option<u64> {
    (registered > 0).then(|| online.min(registered) * 1000 / registered)
}
