//! Calendar dates without time of day (开工日期, 出生日期, pay months' days).

use std::fmt;

use time::{Date, Month};

/// A calendar date written `YYYY-MM-DD` (ISO 8601 extended, years 0001–9999), e.g. `2026-03-01`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalDate(Date);

/// Why a string is not a [`LocalDate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    /// Not of the shape `YYYY-MM-DD` (ten characters, digits and two `-`).
    #[error("date must be written YYYY-MM-DD")]
    WrongFormat,
    /// Year 0000.
    #[error("date: year must be 0001 to 9999")]
    YearOutOfRange,
    /// Month outside 01–12.
    #[error("date: month must be 01 to 12, got {month:02}")]
    InvalidMonth {
        /// The month given.
        month: u8,
    },
    /// Day that does not exist in that month.
    #[error("date: {year:04}-{month:02} has no day {day:02}")]
    InvalidDay {
        /// Year.
        year: i32,
        /// Month.
        month: u8,
        /// The day given.
        day: u8,
    },
}

fn digits(s: &str) -> Option<u32> {
    if s.bytes().all(|b| b.is_ascii_digit()) { s.parse().ok() } else { None }
}

impl LocalDate {
    /// 0001-01-01.
    pub const MIN: Self = Self(time::macros::date!(0001 - 01 - 01));

    /// Parses `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Result<Self, DateError> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(DateError::WrongFormat);
        }
        let (Some(year), Some(month), Some(day)) =
            (s.get(0..4).and_then(digits), s.get(5..7).and_then(digits), s.get(8..10).and_then(digits))
        else {
            return Err(DateError::WrongFormat);
        };
        // Each part has at most 4 digits, so the conversions cannot fail.
        let year = i32::try_from(year).map_err(|_| DateError::WrongFormat)?;
        let month = u8::try_from(month).map_err(|_| DateError::WrongFormat)?;
        let day = u8::try_from(day).map_err(|_| DateError::WrongFormat)?;
        if year == 0 {
            return Err(DateError::YearOutOfRange);
        }
        let m = Month::try_from(month).map_err(|_| DateError::InvalidMonth { month })?;
        Date::from_calendar_date(year, m, day).map(Self).map_err(|_| DateError::InvalidDay { year, month, day })
    }

    /// The date as a `time::Date`.
    pub fn date(self) -> Date {
        self.0
    }
}

impl TryFrom<Date> for LocalDate {
    type Error = DateError;
    /// Fails for years outside 0001–9999.
    fn try_from(d: Date) -> Result<Self, Self::Error> {
        if (1..=9999).contains(&d.year()) { Ok(Self(d)) } else { Err(DateError::YearOutOfRange) }
    }
}

impl fmt::Display for LocalDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.0.year(), u8::from(self.0.month()), self.0.day())
    }
}

impl std::str::FromStr for LocalDate {
    type Err = DateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl serde::Serialize for LocalDate {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for LocalDate {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(deserializer)?;
        Self::parse(&s).map_err(<D::Error as serde::de::Error>::custom)
    }
}
