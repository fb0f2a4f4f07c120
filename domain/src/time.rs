//! China Standard Time (UTC+08:00) and the time forms the platform reads and writes: the one definition every
//! crate uses (the signer keeps its own FORMAT.md §4 grammar, because it depends on nothing).
//!
//! Ningbo keeps Asia/Shanghai time, UTC+08:00 all year (no daylight saving since 1991), so an offset is enough;
//! no time-zone database is needed. Every conversion here is checked: an instant late on 9999-12-31 UTC has no
//! local time inside the years `time` represents, and record data must never make a fold panic, so such an
//! instant keeps its own offset.

use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, UtcOffset};

use crate::LocalDate;

/// Asia/Shanghai: UTC+08:00.
pub const SHANGHAI: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(o) => o,
    Err(_) => UtcOffset::UTC,
};

/// `t` in Asia/Shanghai local time (or unchanged at the very end of year 9999, see the module doc).
pub fn in_shanghai(t: OffsetDateTime) -> OffsetDateTime {
    t.checked_to_offset(SHANGHAI).unwrap_or(t)
}

/// The Asia/Shanghai calendar date of an instant.
pub fn shanghai_date(t: OffsetDateTime) -> Date {
    in_shanghai(t).date()
}

/// An instant written as RFC 3339 in Asia/Shanghai time, as the platform writes times it signs or shows
/// (`2026-11-24T10:15:00+08:00`; fractional seconds only when the instant has them).
pub fn shanghai_rfc3339(t: OffsetDateTime) -> String {
    in_shanghai(t).format(&Rfc3339).unwrap_or_else(|_| "2000-01-01T00:00:00+08:00".to_owned())
}

/// An instant written as RFC 3339 in Asia/Shanghai time with exactly three fraction digits
/// (`2026-11-24T10:15:00.123+08:00`): the gateway agent's receive times (`occurred_at`), which order the readings
/// of one second.
pub fn shanghai_rfc3339_millis(t: OffsetDateTime) -> String {
    let t = in_shanghai(t);
    let (oh, om, _) = t.offset().as_hms();
    // Written digit by digit: the gateway stamps every reading with it, and `format!` costs several times more.
    let mut out = String::with_capacity(29);
    fn digits(n: u32, width: u32, out: &mut String) {
        for p in (0..width).rev() {
            out.push(char::from(b'0' + ((n / 10u32.pow(p)) % 10) as u8));
        }
    }
    digits(t.year().unsigned_abs(), 4, &mut out);
    out.push('-');
    digits(u32::from(u8::from(t.month())), 2, &mut out);
    out.push('-');
    digits(u32::from(t.day()), 2, &mut out);
    out.push('T');
    digits(u32::from(t.hour()), 2, &mut out);
    out.push(':');
    digits(u32::from(t.minute()), 2, &mut out);
    out.push(':');
    digits(u32::from(t.second()), 2, &mut out);
    out.push('.');
    digits(u32::from(t.millisecond()), 3, &mut out);
    out.push(if t.offset().is_negative() { '-' } else { '+' });
    digits(u32::from(oh.unsigned_abs()), 2, &mut out);
    out.push(':');
    digits(u32::from(om.unsigned_abs()), 2, &mut out);
    out
}

/// Parses an RFC 3339 instant with an offset (any the `time` crate accepts; envelope fields are already held to
/// FORMAT.md §4 by the signer before they get here).
pub fn parse_rfc3339(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// The Asia/Shanghai calendar day of an RFC 3339 instant.
pub fn shanghai_day(rfc3339: &str) -> Option<LocalDate> {
    LocalDate::try_from(shanghai_date(parse_rfc3339(rfc3339)?)).ok()
}

/// The calendar year in China of an RFC 3339 instant.
pub fn year_in_china(rfc3339: &str) -> Option<i32> {
    parse_rfc3339(rfc3339).map(|t| in_shanghai(t).year())
}

/// Seconds since the Unix epoch of an RFC 3339 instant.
pub fn unix_seconds(rfc3339: &str) -> Option<i64> {
    parse_rfc3339(rfc3339).map(OffsetDateTime::unix_timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn local_day_turns_at_shanghai_midnight() {
        assert_eq!(shanghai_day("2026-11-24T15:59:59Z").map(|d| d.to_string()), Some("2026-11-24".into()));
        assert_eq!(shanghai_day("2026-11-24T16:00:00Z").map(|d| d.to_string()), Some("2026-11-25".into()));
        assert_eq!(year_in_china("2025-12-31T16:00:00Z"), Some(2026));
        assert_eq!(shanghai_rfc3339(datetime!(2026-11-24 02:15:00 UTC)), "2026-11-24T10:15:00+08:00");
        assert_eq!(shanghai_rfc3339_millis(datetime!(2026-11-24 15:59:59.0507 UTC)), "2026-11-24T23:59:59.050+08:00");
        assert_eq!(shanghai_rfc3339_millis(datetime!(2026-11-24 16:00:00 UTC)), "2026-11-25T00:00:00.000+08:00");
    }

    #[test]
    fn the_end_of_year_9999_does_not_panic() {
        let t = datetime!(9999-12-31 23:59:59 UTC);
        assert_eq!(in_shanghai(t), t);
        assert_eq!(shanghai_day("9999-12-31T23:59:59Z").map(|d| d.to_string()), Some("9999-12-31".into()));
    }
}
