//! Minimal site-IoT and alarm payloads (扬尘噪声监测 readings, alarms). The site-IoT issue extends them.
//!
//! Readings are recorded as sent (decimal strings, any sign): thresholds are jurisdiction configuration, and
//! alarms are derived events, not rules of these payloads.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{AlarmId, AlarmSource, DeviceId, ProjectId};
use crate::quantity::Decimal;
use crate::stream;
use crate::text::Text;

/// Kind of [`DustNoiseReading`].
pub const DUST_NOISE_READING: &str = "env.dust_noise.reading.v1";
/// Kind of [`AlarmRaised`].
pub const ALARM_RAISED: &str = "alarm.raised.v1";
/// Kind of [`AlarmCleared`].
pub const ALARM_CLEARED: &str = "alarm.cleared.v1";

/// Every kind of this module.
pub const KINDS: [&str; 3] = [DUST_NOISE_READING, ALARM_RAISED, ALARM_CLEARED];

/// Payload of `env.dust_noise.reading.v1`: one 扬尘 (dust) and 噪声 (noise) reading of a site monitor, at the
/// envelope's `occurred_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DustNoiseReading {
    /// The project.
    pub project_id: ProjectId,
    /// The monitor.
    pub device_id: DeviceId,
    /// PM10 (可吸入颗粒物) in µg/m³.
    pub pm10_ug_m3: Decimal,
    /// PM2.5 (细微颗粒物) in µg/m³.
    pub pm25_ug_m3: Decimal,
    /// A-weighted sound level (A权声级) in dB(A).
    pub noise_db_a: Decimal,
}

impl DustNoiseReading {
    /// The conventional stream: `project/<ProjectId>/env/<DeviceId>`.
    pub fn stream(&self) -> String {
        stream::project_stream(&self.project_id, &format!("env/{}", self.device_id))
    }
}

/// What an alarm is about: a lowercase token `[a-z][a-z0-9_]*` of at most 32 characters, e.g. `dust`, `noise`,
/// `crane`. The set is open: subsystems add categories.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AlarmCategory(String);

/// Why a string is not an [`AlarmCategory`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlarmCategoryError {
    /// Empty string.
    #[error("alarm category must not be empty")]
    Empty,
    /// More than 32 characters.
    #[error("alarm category must be at most 32 characters, got {len}")]
    TooLong {
        /// Characters found.
        len: usize,
    },
    /// A character other than `a–z`, `0–9`, `_`, or a first character that is not a letter.
    #[error("alarm category: invalid character {found:?} at position {position} (a-z first, then a-z, 0-9, _)")]
    InvalidCharacter {
        /// 1-based position.
        position: usize,
        /// The character.
        found: char,
    },
}

impl AlarmCategory {
    /// Parses a category.
    pub fn parse(s: &str) -> Result<Self, AlarmCategoryError> {
        if s.is_empty() {
            return Err(AlarmCategoryError::Empty);
        }
        let len = s.chars().count();
        if len > 32 {
            return Err(AlarmCategoryError::TooLong { len });
        }
        let bad = |(i, c): &(usize, char)| !(c.is_ascii_lowercase() || (*i > 0 && (c.is_ascii_digit() || *c == '_')));
        if let Some((i, c)) = s.chars().enumerate().find(bad) {
            return Err(AlarmCategoryError::InvalidCharacter { position: i + 1, found: c });
        }
        Ok(Self(s.to_owned()))
    }

    /// The category as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_newtype!(AlarmCategory, AlarmCategoryError);

/// How serious an alarm is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmLevel {
    /// 预警: approaching a limit.
    Warning,
    /// 超标/违规: a limit or rule is broken.
    Violation,
}

impl AlarmLevel {
    /// The JSON name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Warning => "warning",
            Self::Violation => "violation",
        }
    }
}

impl fmt::Display for AlarmLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Payload of `alarm.raised.v1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmRaised {
    /// The project.
    pub project_id: ProjectId,
    /// The alarm's id, unique within the project.
    pub alarm_id: AlarmId,
    /// Device id or subsystem that raised it.
    pub source: AlarmSource,
    /// What it is about (`dust`, `noise`, `crane`, …).
    pub category: AlarmCategory,
    /// `warning` or `violation`.
    pub level: AlarmLevel,
    /// Human-readable message, in Chinese (e.g. `PM10 小时均值超过 150 µg/m³`).
    pub message: Text,
    /// The measured value, if any (decimal string; absent or `null` when none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Decimal>,
    /// The limit it was compared with, if any (decimal string; absent or `null` when none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<Decimal>,
}

/// Payload of `alarm.cleared.v1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmCleared {
    /// The project.
    pub project_id: ProjectId,
    /// The alarm cleared.
    pub alarm_id: AlarmId,
    /// Why or how (e.g. `已启动喷淋，PM10 回落至 80 µg/m³`).
    pub note: Text,
}

/// The conventional stream of a project's alarms: `project/<ProjectId>/alarms`.
pub fn alarm_stream(project_id: &ProjectId) -> String {
    stream::project_stream(project_id, "alarms")
}
