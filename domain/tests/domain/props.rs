//! Property tests of the check-character algorithms and the quantity formats.
//!
//! The check characters are computed here independently of the crate (weights written out from the standards),
//! so a wrong weight in the crate fails these tests.

use proptest::prelude::*;
use siteledger_domain::{AreaM2, CreditCode, CreditCodeError, Decimal, IdNumber, MoneyFen};
use time::{Date, Month};

const USCC_CHARSET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";

/// GB 32100-2015: C18 = charset[(31 − Σ Cᵢ·3^(i−1) mod 31) mod 31], computed here from scratch.
fn uscc_check(first17: &[u8]) -> u8 {
    let charset = USCC_CHARSET.as_bytes();
    let mut weight = 1u32;
    let mut sum = 0u32;
    for c in first17 {
        let v = charset.iter().position(|x| x == c).expect("charset") as u32;
        sum += v * weight;
        weight = weight * 3 % 31;
    }
    charset[((31 - sum % 31) % 31) as usize]
}

/// GB 11643-1999: check = "10X98765432"[Σ aᵢ·2^(18−i) mod 11], computed here from scratch.
fn id_check(first17: &[u8]) -> u8 {
    let sum: u32 = first17.iter().enumerate().map(|(i, d)| u32::from(d - b'0') * (1u32 << (17 - i)) % 11).sum();
    b"10X98765432"[(sum % 11) as usize]
}

fn uscc_body() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(USCC_CHARSET.as_bytes().to_vec()), 17)
}

fn valid_uscc() -> impl Strategy<Value = String> {
    uscc_body().prop_map(|mut body| {
        let check = uscc_check(&body);
        body.push(check);
        String::from_utf8(body).expect("ascii")
    })
}

const PROVINCES: [u32; 35] = [
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63,
    64, 65, 71, 81, 82, 83,
];

/// (ID number, birth date) with a real date between 1900 and 2030.
fn valid_id() -> impl Strategy<Value = (String, Date)> {
    (prop::sample::select(PROVINCES.to_vec()), 0u32..10_000, 1900i32..=2030, 1u8..=12, 1u8..=31, 0u32..1000).prop_map(
        |(province, county, year, month, day, seq)| {
            let month = Month::try_from(month).expect("1..=12");
            let day = day.min(time::util::days_in_month(month, year));
            let date = Date::from_calendar_date(year, month, day).expect("clamped day");
            let body = format!("{province:02}{county:04}{year:04}{:02}{day:02}{seq:03}", u8::from(month));
            let check = char::from(id_check(body.as_bytes()));
            (format!("{body}{check}"), date)
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn uscc_valid_codes_parse(code in valid_uscc()) {
        let parsed = CreditCode::parse(&code);
        prop_assert!(parsed.is_ok(), "{}: {:?}", code, parsed);
        let parsed = parsed.expect("ok");
        prop_assert_eq!(parsed.as_str(), code.as_str());
        prop_assert_eq!(CreditCode::check_character(&code[..17]), Ok(char::from(code.as_bytes()[17])));
    }

    /// Changing any one character (to another charset character) never yields a valid code: the weights are
    /// non-zero modulo the prime 31, so the weighted sum always changes.
    #[test]
    fn uscc_single_substitution_is_always_detected(code in valid_uscc()) {
        for pos in 0..18 {
            for c in USCC_CHARSET.bytes().filter(|&c| c != code.as_bytes()[pos]) {
                let mut bytes = code.clone().into_bytes();
                bytes[pos] = c;
                let changed = String::from_utf8(bytes).expect("ascii");
                prop_assert!(
                    matches!(CreditCode::parse(&changed), Err(CreditCodeError::CheckCharacterMismatch { .. })),
                    "{} accepted or wrongly refused", changed
                );
            }
        }
    }

    /// Characters outside the charset are refused at their position.
    #[test]
    fn uscc_foreign_characters_are_refused(
        code in valid_uscc(),
        pos in 0usize..18,
        c in prop::sample::select(vec!['I', 'O', 'Z', 'S', 'V', 'a', 'x', '-', ' ', '０', '宁']),
    ) {
        let mut chars: Vec<char> = code.chars().collect();
        chars[pos] = c;
        let changed: String = chars.into_iter().collect();
        let err = CreditCode::parse(&changed).expect_err("foreign character");
        let position = match err {
            CreditCodeError::InvalidCharacter { position, found } | CreditCodeError::Lowercase { position, found } => {
                prop_assert_eq!(found, c);
                position
            }
            other => return Err(TestCaseError::fail(format!("{changed}: {other:?}"))),
        };
        prop_assert_eq!(position, pos + 1);
    }

    #[test]
    fn id_valid_numbers_parse((number, birth) in valid_id()) {
        let id = IdNumber::parse(&number);
        prop_assert!(id.is_ok(), "{}: {:?}", number, id);
        let id = id.expect("ok");
        prop_assert_eq!(id.expose(), number.as_str());
        prop_assert_eq!(id.birth_date().date(), birth);
        prop_assert_eq!(id.masked(), format!("{}**********{}", &number[..4], &number[14..]));
        let debug = format!("{:?}", id);
        prop_assert!(!debug.contains(&number[6..14]));
        let lower = number.to_lowercase();
        prop_assert_eq!(IdNumber::parse(&lower).map(|i| i.expose().to_owned()), Ok(number.clone()));
    }

    /// Changing any one digit of positions 1–17, or the check character, never yields a valid number: the
    /// weights are non-zero modulo 11 and digits differ by less than 11.
    #[test]
    fn id_single_substitution_is_always_detected((number, _) in valid_id()) {
        for pos in 0..18 {
            let alternatives: &[u8] = if pos == 17 { b"0123456789X" } else { b"0123456789" };
            for &c in alternatives.iter().filter(|&&c| c != number.as_bytes()[pos]) {
                let mut bytes = number.clone().into_bytes();
                bytes[pos] = c;
                let changed = String::from_utf8(bytes).expect("ascii");
                prop_assert!(IdNumber::parse(&changed).is_err(), "{} accepted", changed);
            }
        }
    }
}

proptest! {
    #[test]
    fn money_display_round_trips(fen in 0i64..=9_007_199_254_740_991) {
        let text = MoneyFen::parse(fen).expect("in range").to_string();
        let body = text.strip_prefix('¥').expect("yuan sign");
        let (yuan, cents) = body.split_once('.').expect("point");
        prop_assert_eq!(cents.len(), 2);
        let groups: Vec<&str> = yuan.split(',').collect();
        prop_assert!(!groups[0].is_empty() && groups[0].len() <= 3);
        prop_assert!(groups[1..].iter().all(|g| g.len() == 3));
        let digits: String = groups.concat();
        prop_assert_eq!(digits.parse::<i64>().expect("digits") * 100 + cents.parse::<i64>().expect("digits"), fen);
    }

    #[test]
    fn decimal_round_trips(mantissa in -999_999_999_999_999_999i64..=999_999_999_999_999_999, scale in 0u32..=18) {
        let digits = mantissa.unsigned_abs().to_string();
        let text = if scale == 0 {
            digits
        } else {
            let padded = format!("{digits:0>width$}", width = scale as usize + 1);
            let (int, frac) = padded.split_at(padded.len() - scale as usize);
            format!("{int}.{frac}")
        };
        let text = if mantissa < 0 { format!("-{text}") } else { text };
        let d = Decimal::parse(&text);
        prop_assert!(d.is_ok(), "{}: {:?}", text, d);
        let d = d.expect("ok");
        prop_assert_eq!((d.mantissa(), d.scale(), d.as_str()), (mantissa, scale, text.as_str()));
    }

    #[test]
    fn decimal_comparison_matches_integers(a in -1_000_000i64..1_000_000, b in -1_000_000i64..1_000_000, sa in 0u32..4, sb in 0u32..4) {
        // a / 10^sa versus b / 10^sb, compared exactly by cross-multiplication.
        let text = |m: i64, s: u32| {
            let digits = format!("{:0>width$}", m.unsigned_abs(), width = s as usize + 1);
            let (int, frac) = digits.split_at(digits.len() - s as usize);
            let sign = if m < 0 { "-" } else { "" };
            if s == 0 { format!("{sign}{int}") } else { format!("{sign}{int}.{frac}") }
        };
        let (da, db) = (Decimal::parse(&text(a, sa)).expect("a"), Decimal::parse(&text(b, sb)).expect("b"));
        let expected = (i128::from(a) * 10i128.pow(sb)).cmp(&(i128::from(b) * 10i128.pow(sa)));
        prop_assert_eq!(da.cmp_value(&db), expected);
    }

    #[test]
    fn area_round_trips(hundredths in 0u64..=100_000_000_000) {
        let area = AreaM2::from_hundredths(hundredths);
        prop_assert_eq!(AreaM2::parse(&area.to_string()), Ok(area));
    }
}
