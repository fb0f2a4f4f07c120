//! Money, decimals, areas and dates.

use std::cmp::Ordering;

use siteledger_domain::{AreaError, AreaM2, DateError, Decimal, DecimalError as DE, LocalDate, MoneyError, MoneyFen};

#[test]
fn money_formatting() {
    let cases: &[(i64, &str)] = &[
        (0, "¥0.00"),
        (5, "¥0.05"),
        (50, "¥0.50"),
        (100, "¥1.00"),
        (99_999, "¥999.99"),
        (100_000, "¥1,000.00"),
        (123_456, "¥1,234.56"),
        (12_345_678, "¥123,456.78"),
        (100_000_000, "¥1,000,000.00"),
        (500_000_000_000, "¥5,000,000,000.00"),
        (9_007_199_254_740_991, "¥90,071,992,547,409.91"),
    ];
    for &(fen, text) in cases {
        assert_eq!(MoneyFen::parse(fen).expect("valid").to_string(), text, "{fen}");
    }
}

#[test]
fn money_bounds() {
    assert_eq!(MoneyFen::parse(-1), Err(MoneyError::Negative { fen: -1 }));
    assert_eq!(MoneyFen::parse(i64::MIN), Err(MoneyError::Negative { fen: i64::MIN }));
    assert_eq!(MoneyFen::parse(9_007_199_254_740_992), Err(MoneyError::TooLarge { fen: 9_007_199_254_740_992 }));
    assert_eq!(MoneyFen::parse(9_007_199_254_740_991), Ok(MoneyFen::MAX));
    assert_eq!(MoneyFen::try_from(0), Ok(MoneyFen::ZERO));
    let a = MoneyFen::parse(150).expect("valid");
    let b = MoneyFen::parse(50).expect("valid");
    assert_eq!(a.checked_add(b).map(MoneyFen::fen), Some(200));
    assert_eq!(b.checked_sub(a), None);
    assert_eq!(MoneyFen::MAX.checked_add(b), None);
}

#[test]
fn money_json_is_integer_only() {
    assert_eq!(serde_json::from_str::<MoneyFen>("123456").expect("integer").fen(), 123_456);
    assert_eq!(serde_json::to_string(&MoneyFen::parse(123_456).expect("valid")).expect("json"), "123456");
    for bad in ["1234.5", "1234.0", "1e3", "\"1234\"", "-1", "null"] {
        assert!(serde_json::from_str::<MoneyFen>(bad).is_err(), "{bad}");
    }
}

#[test]
fn decimals() {
    let ok: &[(&str, i64, u32)] = &[
        ("0", 0, 0),
        ("85.2", 852, 1),
        ("85.20", 8520, 2),
        ("-3.5", -35, 1),
        ("-0", 0, 0),
        ("0.031", 31, 3),
        ("140600.000", 140_600_000, 3),
        ("999999999999999999", 999_999_999_999_999_999, 0),
        ("0.000000000000000001", 1, 18),
        ("0.123456789012345678", 123_456_789_012_345_678, 18),
    ];
    for &(s, mantissa, scale) in ok {
        let d = Decimal::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!((d.as_str(), d.mantissa(), d.scale()), (s, mantissa, scale));
    }
    let bad: &[(&str, DE)] = &[
        ("", DE::Empty),
        ("-", DE::MissingIntegerDigits),
        (".5", DE::MissingIntegerDigits),
        ("-.5", DE::MissingIntegerDigits),
        ("5.", DE::MissingFractionDigits),
        ("007", DE::LeadingZero),
        ("-01.5", DE::LeadingZero),
        ("+1", DE::InvalidCharacter { position: 1, found: '+' }),
        ("1e3", DE::InvalidCharacter { position: 2, found: 'e' }),
        ("1.2.3", DE::InvalidCharacter { position: 4, found: '.' }),
        ("1-2", DE::InvalidCharacter { position: 2, found: '-' }),
        (" 1", DE::InvalidCharacter { position: 1, found: ' ' }),
        ("１", DE::InvalidCharacter { position: 1, found: '１' }),
        ("NaN", DE::InvalidCharacter { position: 1, found: 'N' }),
        ("0.0000000000000000001", DE::TooManyFractionDigits { count: 19 }),
        ("1000000000000000000", DE::TooManySignificantDigits { count: 19 }),
        ("123456789.0123456789", DE::TooManySignificantDigits { count: 19 }),
    ];
    for (s, expected) in bad {
        assert_eq!(Decimal::parse(s).as_ref(), Err(expected), "{s:?}");
    }
}

#[test]
fn decimal_value_comparison() {
    let d = |s: &str| Decimal::parse(s).expect("valid");
    assert_eq!(d("85.2").cmp_value(&d("85.20")), Ordering::Equal);
    assert_ne!(d("85.2"), d("85.20"), "== compares the signed text");
    assert_eq!(d("55.1").cmp_value(&d("55")), Ordering::Greater);
    assert_eq!(d("-0").cmp_value(&d("0")), Ordering::Equal);
    assert_eq!(d("-1").cmp_value(&d("0.000000000000000001")), Ordering::Less);
    assert_eq!(d("999999999999999999").cmp_value(&d("0.999999999999999999")), Ordering::Greater);
    assert!(d("-3").is_negative() && !d("-0").is_negative());
}

#[test]
fn decimal_json_is_string_only() {
    assert_eq!(serde_json::from_str::<Decimal>("\"85.2\"").expect("string").as_str(), "85.2");
    assert!(serde_json::from_str::<Decimal>("85.2").is_err());
    assert!(serde_json::from_str::<Decimal>("85").is_err());
}

#[test]
fn areas() {
    let ok: &[(&str, u64, &str)] = &[
        ("0", 0, "0"),
        ("5000", 500_000, "5000"),
        ("5000.0", 500_000, "5000"),
        ("1234.5", 123_450, "1234.5"),
        ("1234.50", 123_450, "1234.5"),
        ("1234.56", 123_456, "1234.56"),
        ("0.05", 5, "0.05"),
    ];
    for &(s, hundredths, shown) in ok {
        let a = AreaM2::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!((a.hundredths(), a.to_string().as_str()), (hundredths, shown), "{s}");
    }
    assert_eq!(AreaM2::parse("-1"), Err(AreaError::Negative));
    assert_eq!(AreaM2::parse("-0"), Err(AreaError::Negative));
    assert_eq!(AreaM2::parse("1.234"), Err(AreaError::TooManyFractionDigits { count: 3 }));
    assert_eq!(AreaM2::parse("1e3"), Err(AreaError::Syntax(DE::InvalidCharacter { position: 2, found: 'e' })));
    assert_eq!(AreaM2::parse("999999999999999999"), Err(AreaError::TooLarge));
    assert_eq!(AreaM2::from_m2(5000), Some(AreaM2::from_hundredths(500_000)));
    assert!(AreaM2::parse("5000").expect("valid") >= AreaM2::from_m2(5000).expect("fits"));
    assert_eq!(serde_json::to_string(&AreaM2::from_hundredths(123_450)).expect("json"), "\"1234.5\"");
    assert!(serde_json::from_str::<AreaM2>("5000").is_err(), "JSON numbers are refused: decimals are strings");
}

#[test]
fn areas_show_with_two_decimals_for_registers() {
    for (s, fixed) in [("52000.00", "52000.00"), ("52000", "52000.00"), ("1234.5", "1234.50"), ("0.05", "0.05")] {
        assert_eq!(AreaM2::parse(s).expect("valid").to_fixed_2(), fixed, "{s}");
    }
}

#[test]
fn dates() {
    for ok in ["2026-03-01", "2000-02-29", "2024-02-29", "0001-01-01", "9999-12-31"] {
        let d = LocalDate::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        assert_eq!(d.to_string(), ok);
    }
    let bad: &[(&str, DateError)] = &[
        ("2026-3-01", DateError::WrongFormat),
        ("2026/03/01", DateError::WrongFormat),
        ("20260301", DateError::WrongFormat),
        ("2026-03-01T00:00", DateError::WrongFormat),
        ("2026-0a-01", DateError::WrongFormat),
        ("+026-03-01", DateError::WrongFormat),
        ("0000-01-01", DateError::YearOutOfRange),
        ("2026-13-01", DateError::InvalidMonth { month: 13 }),
        ("2026-00-01", DateError::InvalidMonth { month: 0 }),
        ("2026-02-29", DateError::InvalidDay { year: 2026, month: 2, day: 29 }),
        ("1900-02-29", DateError::InvalidDay { year: 1900, month: 2, day: 29 }),
        ("2026-04-31", DateError::InvalidDay { year: 2026, month: 4, day: 31 }),
        ("2026-04-00", DateError::InvalidDay { year: 2026, month: 4, day: 0 }),
    ];
    for (s, expected) in bad {
        assert_eq!(LocalDate::parse(s).as_ref(), Err(expected), "{s}");
    }
    assert!(LocalDate::parse("2026-03-01").expect("d") < LocalDate::parse("2026-03-02").expect("d"));
    assert_eq!(serde_json::to_string(&LocalDate::parse("2026-03-01").expect("d")).expect("json"), "\"2026-03-01\"");
}
