//! The personal-number guard: valid resident ID and bank card numbers, however written, are flagged; the
//! references, codes and hashes that legitimately fill the guarded members are not. And the payload members it
//! guards refuse an ID number naming the field, without repeating it.

use proptest::prelude::*;
use serde_json::{Value, json};
use siteledger_domain::personal::{PERSONAL_NUMBER_MESSAGE, looks_like_personal_number};
use siteledger_domain::site::OperatorRef;
use siteledger_domain::{IdNumber, Name, PayloadError, Text, validate_payload};

use super::site::sample;

const PROVINCES: [u32; 8] = [11, 31, 33, 35, 44, 51, 65, 82];

/// A checksum-valid resident ID number (GB 11643; the check character from the crate, which `props.rs` checks
/// independently).
fn valid_id() -> impl Strategy<Value = String> {
    (prop::sample::select(PROVINCES.to_vec()), 0u32..10_000, 1940i32..=2008, 1u8..=12, 1u8..=28, 0u32..1000).prop_map(
        |(province, county, year, month, day, seq)| {
            let first17 = format!("{province:02}{county:04}{year:04}{month:02}{day:02}{seq:03}");
            let check = IdNumber::check_character(&first17).expect("17 digits");
            let id = format!("{first17}{check}");
            assert!(IdNumber::parse(&id).is_ok(), "generator makes valid numbers");
            id
        },
    )
}

/// A first-generation 15-digit ID number (region, `YYMMDD`, sequence).
fn old_id() -> impl Strategy<Value = String> {
    (prop::sample::select(PROVINCES.to_vec()), 0u32..10_000, 40u32..=99, 1u32..=12, 1u32..=28, 0u32..1000)
        .prop_map(|(p, county, yy, mm, dd, seq)| format!("{p:02}{county:04}{yy:02}{mm:02}{dd:02}{seq:03}"))
}

/// A bank card number: a UnionPay-like prefix, 16–19 digits, Luhn check digit.
fn card() -> impl Strategy<Value = String> {
    (prop::sample::select(vec!["6222", "6228", "6217", "6212", "4367", "6259"]), 16usize..=19, any::<u64>()).prop_map(
        |(prefix, len, seed)| {
            let mut digits: Vec<u32> = prefix.chars().map(|c| c.to_digit(10).expect("digit")).collect();
            let mut x = seed;
            while digits.len() < len - 1 {
                digits.push(u32::try_from(x % 10).expect("digit"));
                x = (x / 10) ^ x.rotate_left(17);
            }
            let sum: u32 = digits
                .iter()
                .rev()
                .enumerate()
                .map(|(i, &d)| if i % 2 == 0 { (d * 2) / 10 + (d * 2) % 10 } else { d })
                .sum();
            digits.push((10 - sum % 10) % 10);
            digits.iter().map(|d| char::from_digit(*d, 10).expect("digit")).collect()
        },
    )
}

/// Writes a number the ways people type it: bare, in blocks of 4 or 6-8-4 with spaces or dashes, full-width.
fn written(number: &str, style: u8) -> String {
    let chars: Vec<char> = number.chars().collect();
    let blocks = |sizes: &[usize], sep: &str| {
        let mut out = Vec::new();
        let mut at = 0;
        for &n in sizes {
            if at >= chars.len() {
                break;
            }
            let end = (at + n).min(chars.len());
            out.push(chars[at..end].iter().collect::<String>());
            at = end;
        }
        if at < chars.len() {
            out.push(chars[at..].iter().collect());
        }
        out.join(sep)
    };
    match style % 6 {
        0 => number.to_owned(),
        1 => blocks(&[4, 4, 4, 4, 4], " "),
        2 => blocks(&[4, 4, 4, 4, 4], "-"),
        3 => blocks(&[6, 8], " "),
        4 => blocks(&[6, 8], "-"),
        _ => number
            .chars()
            .map(|c| c.to_digit(10).map_or(c, |d| char::from_u32('０' as u32 + d).expect("full-width digit")))
            .collect(),
    }
}

/// Text around the number: none, a Chinese label, a letter prefix (`T330…`, as certificate numbers are written),
/// a sentence.
fn context(number: &str, style: u8) -> String {
    match style % 5 {
        0 => number.to_owned(),
        1 => format!("身份证号{number}"),
        2 => format!("T{number}"),
        3 => format!("司机 张三（{number}）已登录"),
        _ => format!("ID:{number}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn valid_id_numbers_are_flagged_however_written(id in valid_id(), w in any::<u8>(), c in any::<u8>()) {
        let s = context(&written(&id, w), c);
        prop_assert!(looks_like_personal_number(&s), "{}", s);
    }

    #[test]
    fn first_generation_id_numbers_are_flagged(id in old_id(), c in any::<u8>()) {
        let s = context(&id, c);
        prop_assert!(looks_like_personal_number(&s), "{}", s);
    }

    #[test]
    fn card_numbers_are_flagged_however_written(n in card(), w in any::<u8>(), c in any::<u8>()) {
        let s = context(&written(&n, w), c);
        prop_assert!(looks_like_personal_number(&s), "{}", s);
    }

    /// Person references and commitments are 32 and 64 hex digits: never flagged, whatever their digits.
    #[test]
    fn hex_references_and_hashes_are_not_flagged(bytes in prop::collection::vec(any::<u8>(), 32), digits_only in any::<bool>()) {
        let hex: String = if digits_only {
            bytes.iter().map(|b| char::from(b'0' + b % 10)).collect()
        } else {
            bytes.iter().map(|b| format!("{b:02x}")).collect()
        };
        let person = format!("P-{}", &hex[..32]);
        let commitment = format!("hmac-sha256:{}", if hex.len() >= 64 { hex[..64].to_owned() } else { hex.repeat(2) });
        prop_assert!(!looks_like_personal_number(&person), "{}", person);
        prop_assert!(!looks_like_personal_number(&commitment), "{}", commitment);
        let finding = format!("arrears_suspected:2026-09:{person}");
        prop_assert!(!looks_like_personal_number(&finding), "{}", finding);
    }

    /// Operator references as black boxes send them (`W-000123`, `OP0001`, badge numbers up to 14 digits).
    #[test]
    fn ordinary_references_are_not_flagged(prefix in "[A-Z]{0,4}", sep in "[-_]?", n in 0u64..100_000_000_000_000) {
        let r = format!("{prefix}{sep}{n}");
        prop_assert!(!looks_like_personal_number(&r), "{}", r);
        prop_assert!(OperatorRef::parse(&r).is_ok() || r.is_empty(), "{}", r);
    }
}

#[test]
fn codes_dates_and_amounts_are_not_flagged() {
    for s in [
        "010000A8900016F000169DC0", // HJ 212 MN with letters
        "41050022000017",           // HJ 212 MN, 14 digits
        "0507A010003242",
        "W-000123",
        "OP-0001",
        "GATE-01",
        "浙A042024000318", // 建筑施工特种作业操作资格证 number
        "2026-10-20 2026-10-21 2026-10-22 复查",
        "2026-11-24T10:15:00+08:00",
        "PM10 85.2 ug/m3, 超标 15 分钟; 金额 ¥1,234,567.89",
        "电话 138-0000-0000",
        "100 200 300 400 500 600",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "塔吊 TC-01 力矩 95% 超限",
        "见事件 01900000-0000-7000-8000-000000000000 的整改记录", // an event id cited in a note
    ] {
        assert!(!looks_like_personal_number(s), "{s}");
    }
}

#[test]
fn free_text_and_names_refuse_an_id_number_without_repeating_it() {
    let id = "33020319900101123X";
    let note = format!("工人{id}未戴安全帽");
    let err = Text::parse(&note).expect_err("refused");
    assert_eq!(err.to_string(), PERSONAL_NUMBER_MESSAGE);
    let err = Name::parse(id).expect_err("refused");
    assert!(!err.to_string().contains(id));
    assert!(Text::parse("工人 P-0123456789abcdef0123456789abcdef 未戴安全帽").is_ok());
    assert!(Name::parse("建筑施工特种作业操作资格证 浙A042024000318").is_ok());
}

/// Issue 12 item 10, platform side: a resident ID number sent as a crane's `operator_ref` (or a card number in an
/// alarm's message, or an ID number as a contract id) is refused at payload validation, naming the member.
#[test]
fn an_id_number_as_crane_operator_ref_is_refused_by_agent_and_platform() {
    let id = "330203199001011234";
    let card = "6222 0212 3456 7890 123";
    let cases: Vec<(&str, &str, Value)> = vec![
        ("crane.sample.v1", "operator_ref", json!(id)),
        ("crane.operator.login.v1", "operator_ref", json!(id)),
        ("crane.operator.logout.v1", "operator_ref", json!(format!("T{id}"))),
        ("crane.alarm.v1", "message", json!(format!("司机卡号 {card} 力矩超限"))),
        ("hoist.safety_gear.calibrated.v1", "certificate_no", json!(id)),
    ];
    for (kind, field, value) in cases {
        let mut p = sample(kind);
        p.insert(field.to_owned(), value.clone());
        let err = validate_payload(kind, &p).expect_err("refused");
        let text = err.to_string();
        match &err {
            PayloadError::InvalidField { field: f, rule, .. } => {
                assert_eq!(f, field, "{text}");
                assert_eq!(rule, PERSONAL_NUMBER_MESSAGE, "{text}");
            }
            other => panic!("{kind}.{field}: {other:?}"),
        }
        assert!(!text.contains(value.as_str().expect("string")) && !text.contains(id), "{text}");
    }
    let contract = json!({"project_id": "NB-2026-0001", "person_ref": format!("P-{:032x}", 1),
        "contract_id": format!("HT-{id}"), "employer": "91330200MA2CL3XX9U", "period_type": "1", "start_date": "2026-03-28"});
    let err =
        validate_payload("worker.contract.signed.v1", contract.as_object().expect("object")).expect_err("refused");
    assert!(err.to_string().contains("contract_id") && err.to_string().contains(PERSONAL_NUMBER_MESSAGE), "{err}");
    // The refusal comes before the character set check: "invalid character ' '" would invite the bare number.
    assert_eq!(
        OperatorRef::parse(&format!("张三 {id}")).map_err(|e| e.to_string()),
        Err(PERSONAL_NUMBER_MESSAGE.to_owned())
    );
}
