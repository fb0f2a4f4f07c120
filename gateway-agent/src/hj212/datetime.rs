//! HJ 212 time forms (6.3.2 表 3 `QN`, 表 4 `DataTime`): `YYYYMMDDhhmmss` and `YYYYMMDDhhmmsszzz` in the
//! monitor's local time, which on a Ningbo site is Asia/Shanghai (UTC+08:00, `siteledger_domain::time`). The one
//! place the agent reads and writes them: the packet parser checks `QN` and `DataTime` with [`parse_local`], the
//! record takes `DataTime` as an instant with [`data_time_instant`], the simulated monitors write both.

use siteledger_domain::time::{SHANGHAI, in_shanghai};
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

/// The local time of the first 14 characters `YYYYMMDDhhmmss` (the rest, `zzz` milliseconds of a `QN` or the
/// extra digits some monitors send in `DataTime`, is ignored); `None` unless they are digits of a real time.
pub fn parse_local(value: &str) -> Option<PrimitiveDateTime> {
    let d = value.get(..14)?;
    if !d.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| d[r].parse::<u16>().ok();
    let byte = |r: std::ops::Range<usize>| n(r).and_then(|v| u8::try_from(v).ok());
    let date = Date::from_calendar_date(i32::from(n(0..4)?), Month::try_from(byte(4..6)?).ok()?, byte(6..8)?).ok()?;
    let time = Time::from_hms(byte(8..10)?, byte(10..12)?, byte(12..14)?).ok()?;
    Some(PrimitiveDateTime::new(date, time))
}

/// `DataTime` (its first 14 digits) as the instant it names in Asia/Shanghai time.
pub fn data_time_instant(data_time: &str) -> Option<OffsetDateTime> {
    parse_local(data_time).map(|t| t.assume_offset(SHANGHAI))
}

/// `YYYYMMDDhhmmss` of `t` in Asia/Shanghai time (a `DataTime`).
pub fn data_time(t: OffsetDateTime) -> String {
    let t = in_shanghai(t);
    format!("{:04}{:02}{:02}{:02}{:02}{:02}", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute(), t.second())
}

/// `YYYYMMDDhhmmsszzz` of `t` in Asia/Shanghai time (a `QN`).
pub fn qn(t: OffsetDateTime) -> String {
    format!("{}{:03}", data_time(t), in_shanghai(t).millisecond())
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn forms_are_shanghai_time() {
        let t = datetime!(2026-11-24 02:15:00.123 UTC);
        assert_eq!((data_time(t), qn(t)), ("20261124101500".to_owned(), "20261124101500123".to_owned()));
        assert_eq!(data_time_instant("20261124101500"), Some(datetime!(2026-11-24 02:15:00 UTC)));
        assert_eq!(data_time_instant("20261124101500123"), Some(datetime!(2026-11-24 02:15:00 UTC)));
    }

    #[test]
    fn impossible_times_are_refused() {
        for bad in
            ["20241315083000", "20240230083000", "20240315243000", "20240315086000", "2024031508300", "2024031508300x"]
        {
            assert_eq!(parse_local(bad), None, "{bad}");
        }
    }
}
