//! Value types of the site payloads: RFC 3339 timestamps as signed, operator references, HJ 212 tokens,
//! GB/T 28181 ids and the small enumerations of crane, hoist, meter and camera records.
//!
//! Every type parses once (serde goes through `parse`), keeps the text as written where the text was signed, and
//! says in its error which check failed.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub use crate::time::SHANGHAI;

// ---------------------------------------------------------------------------------------------------------------
// Timestamp
// ---------------------------------------------------------------------------------------------------------------

/// An instant written in RFC 3339 with an offset (`2026-11-24T10:15:00+08:00`, `2026-11-24T02:15:00Z`).
///
/// The text is kept as written (it is what was signed); `==` compares the text, [`Timestamp::instant`] the time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Timestamp {
    text: String,
    at: OffsetDateTime,
}

/// Why a string is not a [`Timestamp`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("time must be RFC 3339 with an offset, e.g. 2026-11-24T10:15:00+08:00 ({reason})")]
pub struct TimestampError {
    reason: String,
}

impl Timestamp {
    /// Parses an RFC 3339 timestamp (years 0001–9999).
    pub fn parse(s: &str) -> Result<Self, TimestampError> {
        let at = OffsetDateTime::parse(s, &Rfc3339).map_err(|e| TimestampError { reason: e.to_string() })?;
        Ok(Self { text: s.to_owned(), at })
    }

    /// The timestamp of an instant, written in Asia/Shanghai time (`2026-11-24T10:15:00+08:00`).
    pub fn from_instant(at: OffsetDateTime) -> Self {
        // Checked: an instant late on 9999-12-31 UTC has no local time in year 9999; it keeps its own offset.
        let local = crate::time::in_shanghai(at);
        let text = local.format(&Rfc3339).unwrap_or_default();
        Self { text, at: local }
    }

    /// The text as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The instant.
    pub fn instant(&self) -> OffsetDateTime {
        self.at
    }

    /// The instant in Asia/Shanghai local time.
    pub fn local(&self) -> OffsetDateTime {
        // Checked: record data must not panic (an instant late on 9999-12-31 UTC keeps its own offset).
        crate::time::in_shanghai(self.at)
    }

    /// Microseconds since the Unix epoch.
    pub fn unix_micros(&self) -> i64 {
        i64::try_from(self.at.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX)
    }
}

string_newtype!(Timestamp, TimestampError);

// ---------------------------------------------------------------------------------------------------------------
// Small tokens
// ---------------------------------------------------------------------------------------------------------------

/// Why a string is not one of this module's small tokens ([`OperatorRef`], [`FactorCode`], …).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SiteTokenError {
    /// Empty.
    #[error("must not be empty")]
    Empty,
    /// Too long.
    #[error("must be at most {max} characters, got {len}")]
    TooLong {
        /// Characters found.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A character outside the allowed set.
    #[error("invalid character {found:?} at position {position} (allowed: {allowed})")]
    InvalidCharacter {
        /// 1-based position.
        position: usize,
        /// The character.
        found: char,
        /// The allowed set, in words.
        allowed: &'static str,
    },
    /// Shaped like a resident ID or bank card number, in a member that must only ever hold a reference.
    #[error("{}", crate::personal::PERSONAL_NUMBER_MESSAGE)]
    PersonalNumber,
}

/// Whether a token type refuses ID and card number shapes ([`crate::personal`]): opaque references and names do;
/// device-protocol fields whose legitimate values are long digit strings (HJ 212 `QN` timestamps, MN codes) do not.
#[derive(Clone, Copy)]
enum Guard {
    PersonalNumbers,
    None,
}

fn check_token(
    s: &str,
    max: usize,
    allowed: &'static str,
    ok: fn(char) -> bool,
    guard: Guard,
) -> Result<(), SiteTokenError> {
    if s.is_empty() {
        return Err(SiteTokenError::Empty);
    }
    let len = s.chars().count();
    if len > max {
        return Err(SiteTokenError::TooLong { len, max });
    }
    // Before the character set: "invalid character ' '" would invite the sender to send the bare number.
    if matches!(guard, Guard::PersonalNumbers) && crate::personal::looks_like_personal_number(s) {
        return Err(SiteTokenError::PersonalNumber);
    }
    if let Some((i, c)) = s.chars().enumerate().find(|(_, c)| !ok(*c)) {
        return Err(SiteTokenError::InvalidCharacter { position: i + 1, found: c, allowed });
    }
    Ok(())
}

macro_rules! site_token {
    ($(#[$meta:meta])* $name:ident, $max:expr, $allowed:expr, $ok:expr, $guard:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Parses the token.
            pub fn parse(s: &str) -> Result<Self, SiteTokenError> {
                check_token(s, $max, $allowed, $ok, $guard)?;
                Ok(Self(s.to_owned()))
            }

            /// The token as written.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        string_newtype!($name, SiteTokenError);
    };
}

fn is_printable_ascii(c: char) -> bool {
    c.is_ascii_graphic()
}

site_token!(
    /// An opaque reference to a crane or hoist operator (e.g. the real-name system's worker reference):
    /// `[A-Za-z0-9_-]{1,64}`. Never a name or an ID number: anything shaped like an ID or card number is refused
    /// ([`crate::personal`]), since the leaf that carries it is public and can never be erased.
    OperatorRef,
    64,
    "A-Z, a-z, 0-9, '_', '-'",
    |c| c.is_ascii_alphanumeric() || c == '_' || c == '-',
    Guard::PersonalNumbers
);

site_token!(
    /// An HJ 212 factor code as sent (附录 B: `a34002` PM10, `a34004` PM2.5, `LA` noise, `a01007` wind …):
    /// `[A-Za-z0-9_.-]{1,32}`.
    FactorCode,
    32,
    "A-Z, a-z, 0-9, '_', '.', '-'",
    |c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'),
    Guard::None
);

site_token!(
    /// A unit as configured for the device (`ug/m3`, `dB(A)`, `m/s`, `Cel`, `%`): 1–16 printable ASCII characters.
    Unit,
    16,
    "printable ASCII without spaces",
    is_printable_ascii,
    Guard::None
);

site_token!(
    /// A field sent as-is by an HJ 212 monitor (`MN`, `ST`, `QN`, a data `Flag`): 1–64 printable ASCII characters.
    AsSent,
    64,
    "printable ASCII without spaces",
    is_printable_ascii,
    Guard::None
);

site_token!(
    /// A lowercase token `[a-z0-9_]{1,32}`: HJ 212 deviations (`missing_qn`, `lowercase_crc` …), certificate types
    /// (`tower_crane_driver`).
    Token,
    32,
    "a-z, 0-9, '_'",
    |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_',
    Guard::PersonalNumbers
);

// ---------------------------------------------------------------------------------------------------------------
// HJ 212 command numbers
// ---------------------------------------------------------------------------------------------------------------

/// The HJ 212-2017 data commands (表 9) a site record carries, as the string sent (`"2011"` …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum DataCn {
    /// 2011 实时数据 (real-time).
    #[serde(rename = "2011")]
    RealTime,
    /// 2021 设备运行状态 (equipment status).
    #[serde(rename = "2021")]
    Status,
    /// 2031 日数据 (daily).
    #[serde(rename = "2031")]
    Daily,
    /// 2051 分钟数据 (minute).
    #[serde(rename = "2051")]
    Minute,
    /// 2061 小时数据 (hourly).
    #[serde(rename = "2061")]
    Hourly,
}

impl DataCn {
    /// The command number as sent.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::RealTime => "2011",
            Self::Status => "2021",
            Self::Daily => "2031",
            Self::Minute => "2051",
            Self::Hourly => "2061",
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// GB/T 28181 ids
// ---------------------------------------------------------------------------------------------------------------

/// A GB/T 28181 device id: 20 digits, whose digits 11–13 are a known type code (111–118 DVR/NVR/encoders …,
/// 131–139 cameras and peripherals, 200–211, 215, 216 platform devices). The network digit (14) is stored raw.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CameraId(String);

/// Why a string is not a [`CameraId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CameraIdError {
    /// Not 20 ASCII digits (the value is not repeated: a mistyped field could hold an ID number).
    #[error("GB/T 28181 id must be 20 digits, got {len} characters{}", if *.all_digits { "" } else { " (not all digits)" })]
    NotTwentyDigits {
        /// Characters found.
        len: usize,
        /// Whether they were all ASCII digits.
        all_digits: bool,
    },
    /// Digits 11–13 are not a known type code.
    #[error("GB/T 28181 id: digits 11-13 ({0}) are not a known device type code (111-118, 131-139, 200-211, 215, 216)")]
    UnknownType(String),
}

impl CameraId {
    /// Parses a 20-digit id.
    pub fn parse(s: &str) -> Result<Self, CameraIdError> {
        if s.len() != 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CameraIdError::NotTwentyDigits {
                len: s.chars().count(),
                all_digits: s.bytes().all(|b| b.is_ascii_digit()),
            });
        }
        let ty: u16 = s[10..13].parse().unwrap_or(0);
        if !matches!(ty, 111..=118 | 131..=139 | 200..=211 | 215 | 216) {
            return Err(CameraIdError::UnknownType(s[10..13].to_owned()));
        }
        Ok(Self(s.to_owned()))
    }

    /// The id as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The type code (digits 11–13), e.g. 132 网络摄像机.
    pub fn type_code(&self) -> u16 {
        self.0[10..13].parse().unwrap_or(0)
    }
}

string_newtype!(CameraId, CameraIdError);

// ---------------------------------------------------------------------------------------------------------------
// Small enumerations
// ---------------------------------------------------------------------------------------------------------------

/// How an operator logged in at the black box.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginMethod {
    /// 人脸识别.
    Face,
    /// 指纹.
    Fingerprint,
    /// IC 卡.
    Card,
}

/// `raised` or `cleared` (black-box `AlarmAction` 1/0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmAction {
    /// 产生.
    Raised,
    /// 解除.
    Cleared,
}

/// Which meter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeterKind {
    /// 电表 (kWh).
    Electricity,
    /// 水表 (m³).
    Water,
}

impl MeterKind {
    /// The JSON name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Electricity => "electricity",
            Self::Water => "water",
        }
    }
}

/// A camera's registration status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CameraStatus {
    /// 在线.
    Online,
    /// 离线 (3 keepalives missed, or unregistered).
    Offline,
}

/// A small integer restricted to a range, for coded fields (hoist cage and direction, alarm priority …).
macro_rules! coded_int {
    ($(#[$meta:meta])* $name:ident, $lo:expr, $hi:expr, $what:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(u8);

        impl $name {
            /// Checks the range.
            pub fn new(v: u8) -> Result<Self, String> {
                if ($lo..=$hi).contains(&v) {
                    Ok(Self(v))
                } else {
                    Err(format!("{} must be {}..={}, got {v}", $what, $lo, $hi))
                }
            }

            /// The code.
            pub fn get(self) -> u8 {
                self.0
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let v = u8::deserialize(d)?;
                Self::new(v).map_err(<D::Error as serde::de::Error>::custom)
            }
        }
    };
}

coded_int!(
    /// 施工升降机 cage: 0 单笼, 1 左笼, 2 右笼.
    Cage,
    0,
    2,
    "cage (0 单笼, 1 左笼, 2 右笼)"
);
coded_int!(
    /// 施工升降机 direction: 0 停止, 1 上行, 2 下行.
    Direction,
    0,
    2,
    "direction (0 停止, 1 上行, 2 下行)"
);
coded_int!(
    /// GB/T 28181 `AlarmPriority`: 1–4 (一级…四级警情).
    AlarmPriority,
    1,
    4,
    "priority (1-4)"
);
coded_int!(
    /// GB/T 28181 `AlarmMethod`: 1 电话, 2 设备, 3 短信, 4 GPS, 5 视频, 6 设备故障, 7 其他.
    AlarmMethod,
    1,
    7,
    "method (1-7)"
);

impl fmt::Display for MeterKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
