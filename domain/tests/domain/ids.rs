//! Identifier parsers: known examples and every error.

use siteledger_domain::district::NingboDistrict;
use siteledger_domain::ids::{AlarmId, AlarmSource};
use siteledger_domain::{
    CreditCode, CreditCodeError as CE, DeviceId, DistrictCode, DistrictCodeError, IdNumber, IdNumberError as IE,
    LocalDate, Name, NameError, ProjectId, ProjectIdError as PE, Sex, Text, TextError, TokenError, ZoneCode,
    ZoneCodeError,
};

// ------------------------------------------------------------------------------------------------ 统一社会信用代码

/// Valid codes (both check characters verified independently for the first seven, DOMAIN.md §4.4).
const VALID_USCC: [&str; 9] = [
    "91331122MA2A0M9B7N",
    "913311001484116584",
    "91330322254505447T",
    "91331122MA2A021605",
    "91440101MA59F70720",
    "91330200MA2AAAAA76",
    "91330200123456788M",
    "91330200MA2CL3XX9U",
    "12330200002970123E",
];

#[test]
fn credit_code_accepts_known_examples() {
    for s in VALID_USCC {
        let code = CreditCode::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(code.as_str(), s);
        assert_eq!(code.to_string(), s);
        assert_eq!(s.parse::<CreditCode>().as_ref(), Ok(&code));
    }
}

#[test]
fn credit_code_parts() {
    let code = CreditCode::parse("91330200MA2CL3XX9U").expect("valid");
    assert_eq!(code.registration_authority(), '9');
    assert_eq!(code.category(), '1');
    assert_eq!(code.region_code(), "330200");
    assert_eq!(code.organization_code(), "MA2CL3XX9");
}

#[test]
fn credit_code_organization_check_is_a_warning_only() {
    for s in &VALID_USCC[..7] {
        assert!(CreditCode::parse(s).expect("valid").organization_code_is_valid(), "{s}");
    }
    // Check character right, embedded GB 11714 check digit wrong: accepted, flagged.
    let code = CreditCode::parse("91330200MA2AAAAA50").expect("the GB 32100 check passes");
    assert!(!code.organization_code_is_valid());
}

#[test]
fn credit_code_errors_name_the_check() {
    let cases: &[(&str, CE)] = &[
        ("", CE::WrongLength { len: 0 }),
        ("91330200MA2CL3XX9", CE::WrongLength { len: 17 }),
        ("91330200MA2CL3XX9UU", CE::WrongLength { len: 19 }),
        ("9133020０MA2CL3XX9U", CE::InvalidCharacter { position: 8, found: '０' }),
        ("91330200MI2CL3XX9U", CE::InvalidCharacter { position: 10, found: 'I' }),
        ("91330200MA2CL3XO9U", CE::InvalidCharacter { position: 16, found: 'O' }),
        ("Z1330200MA2CL3XX9U", CE::InvalidCharacter { position: 1, found: 'Z' }),
        ("91330200MA2CL3XX9S", CE::InvalidCharacter { position: 18, found: 'S' }),
        ("91330200MA2CL3XX9V", CE::InvalidCharacter { position: 18, found: 'V' }),
        ("91330200ma2cl3xx9u", CE::Lowercase { position: 9, found: 'm' }),
        ("91330200MA2CL3XX9u", CE::Lowercase { position: 18, found: 'u' }),
        ("91330200MA2CL3XX9X", CE::CheckCharacterMismatch { expected: 'U', found: 'X' }),
        ("91331122MA2A0M9B7M", CE::CheckCharacterMismatch { expected: 'N', found: 'M' }),
    ];
    for (input, expected) in cases {
        assert_eq!(CreditCode::parse(input).as_ref(), Err(expected), "{input}");
    }
    assert_eq!(
        CreditCode::parse("91330200MA2CL3XX9X").map_err(|e| e.to_string()),
        Err("统一社会信用代码: check character mismatch (expected U, got X)".to_owned())
    );
    assert_eq!(
        CreditCode::parse("91330200MI2CL3XX9U").map_err(|e| e.to_string()),
        Err("统一社会信用代码: invalid character 'I' at position 10 (allowed: 0-9 and A-Z except I, O, Z, S, V)"
            .to_owned())
    );
}

#[test]
fn credit_code_check_character_helper() {
    assert_eq!(CreditCode::check_character("91330200MA2CL3XX9"), Ok('U'));
    assert_eq!(CreditCode::check_character("9133020"), Err(CE::WrongLength { len: 8 }));
    assert_eq!(
        CreditCode::check_character("91330200MA2CL3XI9"),
        Err(CE::InvalidCharacter { position: 16, found: 'I' })
    );
}

#[test]
fn credit_code_serde_is_a_parsed_string() {
    let code: CreditCode = serde_json::from_str("\"91330200MA2CL3XX9U\"").expect("valid");
    assert_eq!(serde_json::to_string(&code).expect("serialise"), "\"91330200MA2CL3XX9U\"");
    let err = serde_json::from_str::<CreditCode>("\"91330200MA2CL3XX9X\"").expect_err("bad check");
    assert!(err.to_string().contains("check character mismatch (expected U, got X)"), "{err}");
    assert!(serde_json::from_str::<CreditCode>("913302").is_err());
}

// ------------------------------------------------------------------------------------------------ 公民身份号码

#[test]
fn id_number_accepts_known_examples() {
    let cases = [
        ("11010519491231002X", "1949-12-31", Sex::Female),
        ("440524188001010014", "1880-01-01", Sex::Male),
        ("33020319800101001X", "1980-01-01", Sex::Male),
        ("330212199506151230", "1995-06-15", Sex::Male),
        ("33028119700228456X", "1970-02-28", Sex::Female),
        ("330205200002297895", "2000-02-29", Sex::Male),
    ];
    for (s, birth, sex) in cases {
        let id = IdNumber::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(id.expose(), s);
        assert_eq!(id.birth_date(), LocalDate::parse(birth).expect("date"));
        assert_eq!(id.sex(), sex, "{s}");
        assert_eq!(id.region_code(), &s[..6]);
    }
}

#[test]
fn id_number_normalises_lowercase_x() {
    let id = IdNumber::parse("11010519491231002x").expect("lowercase x is accepted");
    assert_eq!(id.expose(), "11010519491231002X");
    assert_eq!(id, IdNumber::parse("11010519491231002X").expect("valid"));
}

#[test]
fn id_number_is_masked_in_debug() {
    let id = IdNumber::parse("33020319800101001X").expect("valid");
    assert_eq!(id.masked(), "3302**********001X");
    let debug = format!("{id:?}");
    assert_eq!(debug, "IdNumber(\"3302**********001X\")");
    assert!(!debug.contains("19800101"));
    let id = IdNumber::parse("330212199506151230").expect("valid");
    assert_eq!(id.masked(), "3302**********1230");
    assert_eq!(id.masked().chars().count(), 18);
}

#[test]
fn id_number_errors_name_the_check() {
    let cases: &[(&str, IE)] = &[
        ("3302031980010100", IE::WrongLength { len: 16 }),
        ("33020319800101001XX", IE::WrongLength { len: 19 }),
        ("3302031980O101001X", IE::InvalidCharacter { position: 11 }),
        ("33020319800101001Y", IE::InvalidCharacter { position: 18 }),
        ("X30203198001010010", IE::InvalidCharacter { position: 1 }),
        ("00020319800101001X", IE::UnknownProvince { province: 0 }),
        ("99020319800101001X", IE::UnknownProvince { province: 99 }),
        ("330203190002290010", IE::InvalidBirthDate),
        ("330203198013010010", IE::InvalidBirthDate),
        ("330203198004310010", IE::InvalidBirthDate),
        ("330203000001010010", IE::InvalidBirthDate),
        ("330203198001010011", IE::CheckCharacterMismatch { expected: 'X', found: '1' }),
        ("11010519491231002Y", IE::InvalidCharacter { position: 18 }),
        ("110105194912310021", IE::CheckCharacterMismatch { expected: 'X', found: '1' }),
    ];
    for (input, expected) in cases {
        assert_eq!(IdNumber::parse(input).as_ref().map_err(Clone::clone), Err(expected.clone()), "{input}");
    }
    // Errors never repeat the number.
    let err = IdNumber::parse("330203190002290010").expect_err("1900-02-29 does not exist").to_string();
    assert!(!err.contains("330203190002290010") && !err.contains("19000229"), "{err}");
}

#[test]
fn id_number_check_character_helper() {
    assert_eq!(IdNumber::check_character("11010519491231002"), Ok('X'));
    assert_eq!(IdNumber::check_character("1101051949123100"), Err(IE::WrongLength { len: 17 }));
}

#[test]
fn id_number_deserializes_but_never_serializes() {
    let id: IdNumber = serde_json::from_str("\"11010519491231002x\"").expect("valid");
    assert_eq!(id.expose(), "11010519491231002X");
    assert!(serde_json::from_str::<IdNumber>("\"11010519491231002Y\"").is_err());
}

// ------------------------------------------------------------------------------------------------ project id

#[test]
fn project_id_rules() {
    for ok in ["NB-2026-0001", "ABCD", "A1-B", "0000", &"A".repeat(40)] {
        assert_eq!(ProjectId::parse(ok).map(|p| p.to_string()), Ok(ok.to_owned()));
    }
    let cases: &[(&str, PE)] = &[
        ("ABC", PE::WrongLength { len: 3 }),
        (&"A".repeat(41), PE::WrongLength { len: 41 }),
        ("nb-2026-0001", PE::InvalidCharacter { position: 1, found: 'n' }),
        ("NB_2026", PE::InvalidCharacter { position: 3, found: '_' }),
        ("NB/2026", PE::InvalidCharacter { position: 3, found: '/' }),
        ("NB 2026", PE::InvalidCharacter { position: 3, found: ' ' }),
        ("NB-宁波", PE::InvalidCharacter { position: 4, found: '宁' }),
        ("-NB-2026", PE::HyphenAtEdge),
        ("NB-2026-", PE::HyphenAtEdge),
    ];
    for (input, expected) in cases {
        assert_eq!(ProjectId::parse(input).as_ref(), Err(expected), "{input}");
    }
}

// ------------------------------------------------------------------------------------------------ districts

#[test]
fn ten_fixed_districts_with_names() {
    let expected = [
        ("330203", "海曙区"),
        ("330205", "江北区"),
        ("330206", "北仑区"),
        ("330211", "镇海区"),
        ("330212", "鄞州区"),
        ("330213", "奉化区"),
        ("330225", "象山县"),
        ("330226", "宁海县"),
        ("330281", "余姚市"),
        ("330282", "慈溪市"),
    ];
    assert_eq!(NingboDistrict::ALL.len(), expected.len());
    for (d, (code, zh)) in NingboDistrict::ALL.into_iter().zip(expected) {
        assert_eq!((d.code(), d.name()), (code, zh));
        let parsed = DistrictCode::parse(code).expect("fixed code");
        assert_eq!(parsed, DistrictCode::Fixed(d));
        assert_eq!(parsed.fixed_name(), Some(zh));
        assert_eq!(parsed.as_str(), code);
        assert!(!parsed.is_zone());
    }
}

#[test]
fn district_code_errors() {
    for not_ningbo in ["330200", "330204", "110105", "330201"] {
        assert_eq!(DistrictCode::parse(not_ningbo), Err(DistrictCodeError::NotNingbo { code: not_ningbo.to_owned() }));
    }
    for bad in ["", "33021", "3302120", "鄞州区", "zone-nbhtz", "ZONE"] {
        assert_eq!(DistrictCode::parse(bad), Err(DistrictCodeError::Unrecognised), "{bad:?}");
    }
    assert_eq!(DistrictCode::parse("ZONE-A"), Err(DistrictCodeError::Zone(ZoneCodeError::WrongLength { len: 1 })));
}

#[test]
fn zone_codes() {
    let z = DistrictCode::parse("ZONE-NBHTZ").expect("zone pattern");
    assert!(z.is_zone());
    assert_eq!(z.fixed_name(), None);
    assert_eq!(z, DistrictCode::Zone(ZoneCode::parse("ZONE-NBHTZ").expect("zone")));
    for ok in ["ZONE-AB", "ZONE-12", &format!("ZONE-{}", "A".repeat(20))] {
        assert!(ZoneCode::parse(ok).is_ok(), "{ok}");
    }
    let cases: &[(&str, ZoneCodeError)] = &[
        ("NBHTZ", ZoneCodeError::MissingPrefix),
        ("zone-NBHTZ", ZoneCodeError::MissingPrefix),
        ("ZONE-", ZoneCodeError::WrongLength { len: 0 }),
        ("ZONE-A", ZoneCodeError::WrongLength { len: 1 }),
        (&format!("ZONE-{}", "A".repeat(21)), ZoneCodeError::WrongLength { len: 21 }),
        ("ZONE-NBhtz", ZoneCodeError::InvalidCharacter { position: 8, found: 'h' }),
        ("ZONE-NB-HT", ZoneCodeError::InvalidCharacter { position: 8, found: '-' }),
    ];
    for (input, expected) in cases {
        assert_eq!(ZoneCode::parse(input).as_ref(), Err(expected), "{input}");
    }
}

// ------------------------------------------------------------------------------------------------ text and tokens

#[test]
fn names() {
    assert!(Name::parse("宁波市住房和城乡建设局").is_ok());
    assert_eq!(Name::parse(""), Err(NameError::Empty));
    assert_eq!(Name::parse(&"甬".repeat(201)), Err(NameError::TooLong { len: 201, max: 200 }));
    assert!(Name::parse(&"甬".repeat(200)).is_ok());
    assert_eq!(Name::parse("a\nb"), Err(NameError::ControlCharacter { position: 2 }));
    assert_eq!(Name::parse(" 宁波"), Err(NameError::SurroundingWhitespace));
    assert_eq!(Name::parse("宁波\u{3000}"), Err(NameError::SurroundingWhitespace));
}

#[test]
fn texts() {
    assert!(Text::parse("PM10 超标\n已启动喷淋").is_ok());
    assert_eq!(Text::parse(""), Err(TextError::Empty));
    assert_eq!(Text::parse(" \n "), Err(TextError::Blank));
    assert_eq!(Text::parse("a\tb"), Err(TextError::ControlCharacter { position: 2 }));
    assert_eq!(Text::parse(&"x".repeat(2001)), Err(TextError::TooLong { len: 2001, max: 2000 }));
}

#[test]
fn tokens() {
    for ok in ["010000A8900016F000169DC0", "34020000001320000001", "gw-1", "a.b_c:d-e"] {
        assert!(DeviceId::parse(ok).is_ok(), "{ok}");
    }
    assert_eq!(DeviceId::parse(""), Err(TokenError::Empty));
    assert_eq!(DeviceId::parse(&"a".repeat(65)), Err(TokenError::TooLong { len: 65, max: 64 }));
    assert_eq!(DeviceId::parse("gw/1"), Err(TokenError::InvalidCharacter { position: 3, found: '/' }));
    assert_eq!(DeviceId::parse("-gw"), Err(TokenError::FirstCharacter { found: '-' }));
    assert!(AlarmId::parse("A-2026-000001").is_ok());
    assert!(AlarmSource::parse("crane").is_ok());
}
