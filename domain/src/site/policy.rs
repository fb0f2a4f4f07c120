//! Signed, versioned threshold policy per jurisdiction: `env.policy.v1` (噪声 limits, night hours, Leq window,
//! PM10 thresholds) and `crane.policy.v1` (moment/load bands, wind stop, leakage current, hoist inspection
//! intervals).
//!
//! A policy is signed by a bureau key (the city bureau for `city`, the city or the district's bureau for a
//! district) in `city/policy/<env|crane>` or `district/<code>/policy/<env|crane>`. Versions increase per
//! jurisdiction and kind; a version applies from its `effective_from`. The policy in force for a reading is the
//! one with the latest `effective_from` at or before the reading's time, looked up first in the project's
//! district, then in the city; with none, the defaults ([`EnvPolicy::default_policy`], [`CranePolicy::default_policy`]).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::types::Timestamp;
use crate::district::DistrictCode;
use crate::quantity::Decimal;
use crate::schema::{Member, is, opt, req};
use crate::text::Text;

/// Where a policy applies: the whole city, or one district (区县(市) or 开发园区).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Jurisdiction {
    /// `city`: 宁波市 as a whole.
    City,
    /// A district code.
    District(DistrictCode),
}

impl Jurisdiction {
    /// Parses `city` or a district code.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s == "city" {
            return Ok(Self::City);
        }
        DistrictCode::parse(s)
            .map(Self::District)
            .map_err(|e| format!("jurisdiction must be `city` or a district code: {e}"))
    }

    /// `city` or the district code.
    pub fn as_str(&self) -> &str {
        match self {
            Self::City => "city",
            Self::District(d) => d.as_str(),
        }
    }

    /// The policy stream of this jurisdiction for `area` (`env`, `crane`): `city/policy/env`,
    /// `district/330212/policy/crane`.
    pub fn policy_stream(&self, area: &str) -> String {
        match self {
            Self::City => format!("city/policy/{area}"),
            Self::District(d) => format!("district/{}/policy/{area}", d.as_str()),
        }
    }
}

impl fmt::Display for Jurisdiction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Jurisdiction {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Jurisdiction {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(<D::Error as serde::de::Error>::custom)
    }
}

/// A time of day `HH:MM` (00:00–23:59), Asia/Shanghai.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClockTime(u16);

impl ClockTime {
    /// Parses `HH:MM`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let b = s.as_bytes();
        let ok = b.len() == 5 && b[2] == b':' && [0, 1, 3, 4].iter().all(|&i| b[i].is_ascii_digit());
        if !ok {
            return Err(format!("time of day must be HH:MM, got {s:?}"));
        }
        let h = u16::from(b[0] - b'0') * 10 + u16::from(b[1] - b'0');
        let m = u16::from(b[3] - b'0') * 10 + u16::from(b[4] - b'0');
        if h > 23 || m > 59 {
            return Err(format!("time of day must be 00:00 to 23:59, got {s:?}"));
        }
        Ok(Self(h * 60 + m))
    }

    /// From minutes since midnight (taken modulo a day).
    pub const fn from_minutes(m: u16) -> Self {
        Self(m % 1440)
    }

    /// Minutes since midnight.
    pub const fn minutes(self) -> u16 {
        self.0
    }
}

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl Serialize for ClockTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ClockTime {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(<D::Error as serde::de::Error>::custom)
    }
}

/// A window length in minutes, 1–1440.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct WindowMinutes(u16);

impl WindowMinutes {
    /// Checks 1–1440.
    pub fn new(m: u16) -> Result<Self, String> {
        if (1..=1440).contains(&m) { Ok(Self(m)) } else { Err(format!("window must be 1 to 1440 minutes, got {m}")) }
    }

    /// Minutes.
    pub fn get(self) -> u16 {
        self.0
    }
}

impl<'de> Deserialize<'de> for WindowMinutes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = u16::deserialize(d)?;
        Self::new(v).map_err(<D::Error as serde::de::Error>::custom)
    }
}

/// A policy version, 1 or more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct PolicyVersion(u32);

impl PolicyVersion {
    /// Checks ≥ 1.
    pub fn new(v: u32) -> Result<Self, String> {
        if v >= 1 { Ok(Self(v)) } else { Err("version must be 1 or more".to_owned()) }
    }

    /// The number.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl<'de> Deserialize<'de> for PolicyVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = u32::deserialize(d)?;
        Self::new(v).map_err(<D::Error as serde::de::Error>::custom)
    }
}

/// `env.policy.v1`: 扬尘噪声 thresholds of a jurisdiction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvPolicy {
    /// `city` or a district code.
    pub jurisdiction: Jurisdiction,
    /// Version, increasing per jurisdiction.
    pub version: PolicyVersion,
    /// In force from.
    pub effective_from: Timestamp,
    /// 昼间 limit, dB(A) (GB 12523-2011: 70).
    pub noise_day_limit_db_a: Decimal,
    /// 夜间 limit, dB(A) (GB 12523-2011: 55).
    pub noise_night_limit_db_a: Decimal,
    /// Night starts (噪声污染防治法: 22:00).
    pub night_start: ClockTime,
    /// Night ends (06:00).
    pub night_end: ClockTime,
    /// Leq window, minutes (GB 12523-2011: 20).
    pub leq_window_min: WindowMinutes,
    /// PM10 warning threshold on the window mean, µg/m³.
    pub pm10_warn_ug_m3: Decimal,
    /// PM10 alarm threshold on the window mean, µg/m³.
    pub pm10_alarm_ug_m3: Decimal,
    /// PM window, minutes (60: hourly mean).
    pub pm_window_min: WindowMinutes,
    /// Whether the PM10 thresholds are placeholders (no Ningbo figure found; Wuhan 2017 uses 150/200).
    pub pm10_placeholder: bool,
    /// Basis (文件依据), free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<Text>,
}

/// `crane.policy.v1`: 起重机械 and 施工用电 thresholds of a jurisdiction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CranePolicy {
    /// `city` or a district code.
    pub jurisdiction: Jurisdiction,
    /// Version, increasing per jurisdiction.
    pub version: PolicyVersion,
    /// In force from.
    pub effective_from: Timestamp,
    /// 力矩 预警 from this % (90).
    pub moment_warn_pct: Decimal,
    /// 力矩 violation from this % (100).
    pub moment_violation_pct: Decimal,
    /// 起重量 预警 from this % of rated (90).
    pub load_warn_pct: Decimal,
    /// 起重量 violation from this % of rated (100).
    pub load_violation_pct: Decimal,
    /// Stop work at wind ≥ this, m/s (六级: 12).
    pub wind_stop_m_s: Decimal,
    /// Residual current alarm above this, mA (JGJ 46: 30).
    pub leakage_alarm_ma: Decimal,
    /// 防坠安全器 calibration validity, months (JGJ 215 §4.1.7: 12).
    pub safety_gear_valid_months: u8,
    /// 坠落试验 interval, months (JGJ 215 §5.3.6: 3).
    pub drop_test_interval_months: u8,
    /// Basis, free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<Text>,
}

fn dec(s: &str) -> Decimal {
    Decimal::parse(s).unwrap_or_else(|_| unreachable!("constant decimal"))
}

impl EnvPolicy {
    /// The defaults (shown as policy `default`; `version` 1, in effect since 2000-01-01):
    /// GB 12523-2011 70/55 dB(A), night 22:00–06:00, 20-minute Leq, PM10 150/200 µg/m³ hourly **(placeholders)**.
    pub fn default_policy() -> Self {
        Self {
            jurisdiction: Jurisdiction::City,
            version: PolicyVersion(1),
            effective_from: Timestamp::parse("2000-01-01T00:00:00+08:00").unwrap_or_else(|_| unreachable!()),
            noise_day_limit_db_a: dec("70"),
            noise_night_limit_db_a: dec("55"),
            night_start: ClockTime(22 * 60),
            night_end: ClockTime(6 * 60),
            leq_window_min: WindowMinutes(20),
            pm10_warn_ug_m3: dec("150"),
            pm10_alarm_ug_m3: dec("200"),
            pm_window_min: WindowMinutes(60),
            pm10_placeholder: true,
            basis: Text::parse("默认值：GB 12523-2011 表1（昼间70、夜间55 dB(A)）；PM10 150/200 µg/m³ 为占位值").ok(),
        }
    }
}

impl CranePolicy {
    /// The defaults: warn from 90 %, violation from 100 %, wind stop 12 m/s, leakage 30 mA, calibration 12 months,
    /// drop test every 3 months.
    pub fn default_policy() -> Self {
        Self {
            jurisdiction: Jurisdiction::City,
            version: PolicyVersion(1),
            effective_from: Timestamp::parse("2000-01-01T00:00:00+08:00").unwrap_or_else(|_| unreachable!()),
            moment_warn_pct: dec("90"),
            moment_violation_pct: dec("100"),
            load_warn_pct: dec("90"),
            load_violation_pct: dec("100"),
            wind_stop_m_s: dec("12"),
            leakage_alarm_ma: dec("30"),
            safety_gear_valid_months: 12,
            drop_test_interval_months: 3,
            basis: Text::parse("默认值：GB 5144-2006、JGJ 332-2014、JGJ 215-2010、JGJ 46").ok(),
        }
    }
}

pub(super) const ENV_POLICY: &[Member] = &[
    req("jurisdiction", is::<Jurisdiction>),
    req("version", is::<PolicyVersion>),
    req("effective_from", is::<Timestamp>),
    req("noise_day_limit_db_a", is::<Decimal>),
    req("noise_night_limit_db_a", is::<Decimal>),
    req("night_start", is::<ClockTime>),
    req("night_end", is::<ClockTime>),
    req("leq_window_min", is::<WindowMinutes>),
    req("pm10_warn_ug_m3", is::<Decimal>),
    req("pm10_alarm_ug_m3", is::<Decimal>),
    req("pm_window_min", is::<WindowMinutes>),
    req("pm10_placeholder", is::<bool>),
    opt("basis", is::<Text>),
];

pub(super) const CRANE_POLICY: &[Member] = &[
    req("jurisdiction", is::<Jurisdiction>),
    req("version", is::<PolicyVersion>),
    req("effective_from", is::<Timestamp>),
    req("moment_warn_pct", is::<Decimal>),
    req("moment_violation_pct", is::<Decimal>),
    req("load_warn_pct", is::<Decimal>),
    req("load_violation_pct", is::<Decimal>),
    req("wind_stop_m_s", is::<Decimal>),
    req("leakage_alarm_ma", is::<Decimal>),
    req("safety_gear_valid_months", is::<u8>),
    req("drop_test_interval_months", is::<u8>),
    opt("basis", is::<Text>),
];

/// Versions of one policy kind across jurisdictions, for looking up the one in force.
#[derive(Debug, Clone, Default)]
pub struct PolicyBook<P> {
    entries: Vec<(Jurisdiction, u32, time::OffsetDateTime, P)>,
}

/// What a policy record exposes to the book.
pub trait Versioned {
    /// Jurisdiction.
    fn jurisdiction(&self) -> &Jurisdiction;
    /// Version number.
    fn version(&self) -> u32;
    /// In force from.
    fn effective_from(&self) -> time::OffsetDateTime;
}

impl Versioned for EnvPolicy {
    fn jurisdiction(&self) -> &Jurisdiction {
        &self.jurisdiction
    }
    fn version(&self) -> u32 {
        self.version.get()
    }
    fn effective_from(&self) -> time::OffsetDateTime {
        self.effective_from.instant()
    }
}

impl Versioned for CranePolicy {
    fn jurisdiction(&self) -> &Jurisdiction {
        &self.jurisdiction
    }
    fn version(&self) -> u32 {
        self.version.get()
    }
    fn effective_from(&self) -> time::OffsetDateTime {
        self.effective_from.instant()
    }
}

impl<P: Versioned + Clone> PolicyBook<P> {
    /// An empty book.
    pub fn new() -> Self {
        Self { entries: Vec::new() }
    }

    /// Adds a version.
    pub fn add(&mut self, p: P) {
        self.entries.push((p.jurisdiction().clone(), p.version(), p.effective_from(), p));
    }

    /// The version of `jurisdiction` in force at `at`: the latest `effective_from` ≤ `at` (ties: higher version).
    pub fn in_force_in(&self, jurisdiction: &Jurisdiction, at: time::OffsetDateTime) -> Option<&P> {
        self.entries
            .iter()
            .filter(|(j, _, from, _)| j == jurisdiction && *from <= at)
            .max_by_key(|(_, v, from, _)| (*from, *v))
            .map(|(_, _, _, p)| p)
    }

    /// The policy in force for a project in `district` at `at`: the district's, else the city's, else `None`.
    pub fn in_force(&self, district: Option<&DistrictCode>, at: time::OffsetDateTime) -> Option<&P> {
        district
            .and_then(|d| self.in_force_in(&Jurisdiction::District(d.clone()), at))
            .or_else(|| self.in_force_in(&Jurisdiction::City, at))
    }
}
