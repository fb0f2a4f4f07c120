//! `validate_payload`: every kind, valid samples, and errors that name the field and the rule.

use serde_json::{Map, Value, json};
use siteledger_domain::payload::{KINDS, schema_members};
use siteledger_domain::{DomainEvent, PayloadError as P, validate_envelope, validate_payload};

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

/// A valid payload of every kind, with every optional member present.
fn samples() -> Vec<(&'static str, Value)> {
    vec![
        ("registry.zone.added.v1", json!({"code": "ZONE-NBHTZ", "name": "宁波国家高新区"})),
        (
            "registry.enterprise.registered.v1",
            json!({"credit_code": "91330200MA2CL3XX9U", "name": "宁波某建设集团有限公司", "types": ["construction", "equipment"]}),
        ),
        (
            "registry.project.registered.v1",
            json!({
                "project_id": "NB-2026-0001",
                "name": "鄞州区某住宅项目",
                "district": "330212",
                "central_urban": true,
                "floor_area_m2": "52000.5",
                "contract_cost_fen": 12000000000i64,
                "start_date": "2026-03-01",
                "participants": [
                    {"role": "owner", "credit_code": "91330200MA2AAAAA76"},
                    {"role": "general_contractor", "credit_code": "91330200MA2CL3XX9U"},
                    {"role": "supervisor", "credit_code": "913311001484116584"}
                ]
            }),
        ),
        (
            "registry.project.participant_added.v1",
            json!({"project_id": "NB-2026-0001", "role": "subcontractor", "credit_code": "91331122MA2A021605"}),
        ),
        (
            "registry.project.participant_removed.v1",
            json!({"project_id": "NB-2026-0001", "role": "subcontractor", "credit_code": "91331122MA2A021605", "reason": "分包合同终止"}),
        ),
        (
            "env.dust_noise.reading.v1",
            json!({"project_id": "NB-2026-0001", "device_id": "010000A8900016F000169DC0", "pm10_ug_m3": "31", "pm25_ug_m3": "18.5", "noise_db_a": "62.3"}),
        ),
        (
            "alarm.raised.v1",
            json!({
                "project_id": "NB-2026-0001", "alarm_id": "A-2026-000001", "source": "010000A8900016F000169DC0",
                "category": "noise", "level": "violation", "message": "夜间噪声 58.2 dB(A) 超过 55 dB(A)",
                "value": "58.2", "threshold": "55"
            }),
        ),
        (
            "alarm.cleared.v1",
            json!({"project_id": "NB-2026-0001", "alarm_id": "A-2026-000001", "note": "已停止夜间施工"}),
        ),
    ]
}

#[test]
fn every_kind_has_a_valid_sample_that_round_trips() {
    let samples = samples();
    assert_eq!(samples.iter().map(|(k, _)| *k).collect::<Vec<_>>(), KINDS);
    for (kind, payload) in samples {
        let payload = obj(payload);
        assert_eq!(validate_payload(kind, &payload), Ok(()), "{kind}");
        let event = DomainEvent::parse(kind, &payload).expect("valid");
        assert_eq!(event.kind(), kind);
        assert_eq!(event.to_payload(), payload, "{kind}: typed payload serialises back to the same JSON");
    }
}

#[test]
fn schemas_match_the_payload_types() {
    for (kind, payload) in samples() {
        let payload = obj(payload);
        let members = schema_members(kind).expect("known kind");
        let mut names: Vec<&str> = members.iter().map(|(n, _)| *n).collect();
        let mut keys: Vec<&str> = payload.keys().map(String::as_str).collect();
        names.sort_unstable();
        keys.sort_unstable();
        assert_eq!(names, keys, "{kind}: schema members = serialised fields");
        // Each required member is required by the typed payload too, each optional one is not.
        for (name, required) in members {
            let mut without = payload.clone();
            without.remove(name);
            let typed = DomainEvent::parse(kind, &without);
            assert_eq!(typed.is_ok(), !required, "{kind}.{name}");
        }
    }
    assert_eq!(schema_members("ledger.key.enrolled.v1"), None);
}

fn sample(kind: &str) -> Map<String, Value> {
    samples().into_iter().find(|(k, _)| *k == kind).map(|(_, v)| obj(v)).expect("sample")
}

/// A kind and a payload.
type Input = (&'static str, Map<String, Value>);

fn with(kind: &'static str, field: &str, value: Value) -> Input {
    let mut p = sample(kind);
    p.insert(field.to_owned(), value);
    (kind, p)
}

fn invalid(kind: &'static str, field: &str, rule: &str) -> P {
    P::InvalidField { kind, field: field.to_owned(), rule: rule.to_owned() }
}

#[test]
fn unknown_kinds_are_left_to_the_caller() {
    for kind in ["ledger.key.enrolled.v1", "iot.dust.reading.v1", "registry.zone.added.v2", ""] {
        assert_eq!(validate_payload(kind, &Map::new()), Err(P::UnknownKind { kind: kind.to_owned() }));
    }
}

#[test]
fn missing_and_unknown_members() {
    let mut p = sample("registry.zone.added.v1");
    p.remove("name");
    assert_eq!(
        validate_payload("registry.zone.added.v1", &p),
        Err(P::MissingField { kind: "registry.zone.added.v1", field: "name".into() })
    );
    let (kind, p) = with("alarm.cleared.v1", "severity", json!("high"));
    assert_eq!(validate_payload(kind, &p), Err(P::UnknownField { kind, field: "severity".into() }));
    let mut p = sample("registry.project.registered.v1");
    p["participants"][1].as_object_mut().expect("object").remove("role");
    assert_eq!(
        validate_payload("registry.project.registered.v1", &p),
        Err(P::MissingField { kind: "registry.project.registered.v1", field: "participants[1].role".into() })
    );
    let mut p = sample("registry.project.registered.v1");
    p["participants"][2].as_object_mut().expect("object").insert("share".into(), json!(1));
    assert_eq!(
        validate_payload("registry.project.registered.v1", &p),
        Err(P::UnknownField { kind: "registry.project.registered.v1", field: "participants[2].share".into() })
    );
}

#[test]
fn invalid_members_name_field_and_rule() {
    const PR: &str = "registry.project.registered.v1";
    let mut bad_participant = sample(PR);
    bad_participant["participants"][1]["credit_code"] = json!("91330200MA2CL3XX9X");
    let mut not_object = sample(PR);
    not_object["participants"][0] = json!("owner");
    let cases: Vec<(Input, P)> = vec![
        (
            with("registry.zone.added.v1", "code", json!("ZONE-x")),
            invalid(
                "registry.zone.added.v1",
                "code",
                "开发园区 code: the part after \"ZONE-\" must be 2 to 20 characters, got 1",
            ),
        ),
        (
            with("registry.zone.added.v1", "name", json!("")),
            invalid("registry.zone.added.v1", "name", "name must not be empty"),
        ),
        (
            with("registry.enterprise.registered.v1", "credit_code", json!("91330200MA2CL3XX9X")),
            invalid(
                "registry.enterprise.registered.v1",
                "credit_code",
                "统一社会信用代码: check character mismatch (expected U, got X)",
            ),
        ),
        (
            with("registry.enterprise.registered.v1", "types", json!(["construction", "developer"])),
            invalid(
                "registry.enterprise.registered.v1",
                "types[1]",
                "unknown variant `developer`, expected one of `construction`, `supervision`, `owner`, \
                 `testing_lab`, `bank`, `survey`, `design`, `labour_service`, `equipment`, `other`",
            ),
        ),
        (
            with("registry.enterprise.registered.v1", "types", json!("construction")),
            invalid("registry.enterprise.registered.v1", "types", "expected an array"),
        ),
        (
            (PR, bad_participant),
            invalid(
                PR,
                "participants[1].credit_code",
                "统一社会信用代码: check character mismatch (expected U, got X)",
            ),
        ),
        ((PR, not_object), invalid(PR, "participants[0]", "expected an object")),
        (
            with(PR, "district", json!("330204")),
            invalid(
                PR,
                "district",
                "330204 is not one of Ningbo's 区县(市) codes (330203, 330205, 330206, 330211, 330212, 330213, \
                 330225, 330226, 330281, 330282)",
            ),
        ),
        (
            with(PR, "central_urban", json!("yes")),
            invalid(PR, "central_urban", "invalid type: string \"yes\", expected a boolean"),
        ),
        (
            with(PR, "floor_area_m2", json!(52000)),
            invalid(PR, "floor_area_m2", "invalid type: integer `52000`, expected a string"),
        ),
        (
            with(PR, "floor_area_m2", json!("52000.125")),
            invalid(PR, "floor_area_m2", "floor area: at most 2 decimals (hundredths of a square metre), got 3"),
        ),
        (with(PR, "floor_area_m2", json!("-1")), invalid(PR, "floor_area_m2", "floor area must not be negative")),
        (
            with(PR, "contract_cost_fen", json!(-100)),
            invalid(PR, "contract_cost_fen", "amount in fen must not be negative, got -100"),
        ),
        (
            with(PR, "contract_cost_fen", json!(1.5)),
            invalid(PR, "contract_cost_fen", "invalid type: floating point `1.5`, expected i64"),
        ),
        (
            with(PR, "contract_cost_fen", json!("12000000000")),
            invalid(PR, "contract_cost_fen", "invalid type: string \"12000000000\", expected i64"),
        ),
        (with(PR, "start_date", json!("2026-02-29")), invalid(PR, "start_date", "date: 2026-02 has no day 29")),
        (with(PR, "start_date", json!("2026/03/01")), invalid(PR, "start_date", "date must be written YYYY-MM-DD")),
        (
            with(PR, "project_id", json!("nb-1")),
            invalid(PR, "project_id", "project id: invalid character 'n' at position 1 (allowed: A-Z, 0-9, -)"),
        ),
        (
            with("registry.project.participant_added.v1", "role", json!("建设单位")),
            invalid(
                "registry.project.participant_added.v1",
                "role",
                "unknown variant `建设单位`, expected one of `owner`, `general_contractor`, `supervisor`, `subcontractor`",
            ),
        ),
        (
            with("registry.project.participant_removed.v1", "reason", json!("  ")),
            invalid("registry.project.participant_removed.v1", "reason", "text must not be blank"),
        ),
        (
            with("env.dust_noise.reading.v1", "pm10_ug_m3", json!(31)),
            invalid("env.dust_noise.reading.v1", "pm10_ug_m3", "invalid type: integer `31`, expected a string"),
        ),
        (
            with("env.dust_noise.reading.v1", "noise_db_a", json!("62.")),
            invalid("env.dust_noise.reading.v1", "noise_db_a", "decimal: digits required after the decimal point"),
        ),
        (
            with("env.dust_noise.reading.v1", "device_id", json!("dev/1")),
            invalid(
                "env.dust_noise.reading.v1",
                "device_id",
                "invalid character '/' at position 4 (allowed: A-Z, a-z, 0-9, '.', '_', ':', '-')",
            ),
        ),
        (
            with("alarm.raised.v1", "level", json!("critical")),
            invalid("alarm.raised.v1", "level", "unknown variant `critical`, expected `warning` or `violation`"),
        ),
        (
            with("alarm.raised.v1", "category", json!("Dust")),
            invalid(
                "alarm.raised.v1",
                "category",
                "alarm category: invalid character 'D' at position 1 (a-z first, then a-z, 0-9, _)",
            ),
        ),
        (
            with("alarm.raised.v1", "value", json!(58.2)),
            invalid("alarm.raised.v1", "value", "invalid type: floating point `58.2`, expected a string"),
        ),
        (
            with("alarm.raised.v1", "threshold", json!("1e2")),
            invalid(
                "alarm.raised.v1",
                "threshold",
                "decimal: invalid character 'e' at position 2 (allowed: digits, one '.', a leading '-')",
            ),
        ),
        (with("alarm.cleared.v1", "note", json!("")), invalid("alarm.cleared.v1", "note", "text must not be empty")),
    ];
    for ((kind, payload), expected) in cases {
        let got = validate_payload(kind, &payload);
        assert_eq!(got.as_ref(), Err(&expected), "{kind}");
        let message = got.expect_err("invalid").to_string();
        let P::InvalidField { field, .. } = &expected else { unreachable!() };
        assert!(message.starts_with(&format!("{kind}: field `{field}`: ")), "{message}");
    }
}

#[test]
fn optional_alarm_members_may_be_absent_or_null() {
    let mut p = sample("alarm.raised.v1");
    p.remove("value");
    p.insert("threshold".into(), Value::Null);
    let event = DomainEvent::parse("alarm.raised.v1", &p).expect("valid");
    let DomainEvent::AlarmRaised(raised) = &event else { panic!("{event:?}") };
    assert_eq!((raised.value.as_ref(), raised.threshold.as_ref()), (None, None));
    // Serialised back without the absent members.
    let back = event.to_payload();
    assert!(!back.contains_key("value") && !back.contains_key("threshold"));
    // Required members may not be null.
    let (kind, p) = with("alarm.raised.v1", "message", Value::Null);
    assert_eq!(validate_payload(kind, &p), Err(invalid(kind, "message", "invalid type: null, expected a string")));
}

#[test]
fn envelope_stream_conventions() {
    let reading = sample("env.dust_noise.reading.v1");
    let kind = "env.dust_noise.reading.v1";
    assert!(validate_envelope(kind, "project/NB-2026-0001/env/010000A8900016F000169DC0", &reading).is_ok());
    assert!(validate_envelope(kind, "project/NB-2026-0001", &reading).is_ok());
    assert_eq!(
        validate_envelope(kind, "project/NB-2026-0002/env/x", &reading),
        Err(P::WrongStream {
            kind,
            stream: "project/NB-2026-0002/env/x".into(),
            expected: "project/NB-2026-0001/…".into()
        })
    );
    assert!(validate_envelope(kind, "registry/projects", &reading).is_err());
    let zone = sample("registry.zone.added.v1");
    assert!(validate_envelope("registry.zone.added.v1", "registry/zones", &zone).is_ok());
    assert_eq!(
        validate_envelope("registry.zone.added.v1", "project/NB-2026-0001/x", &zone),
        Err(P::WrongStream {
            kind: "registry.zone.added.v1",
            stream: "project/NB-2026-0001/x".into(),
            expected: "registry/…".into()
        })
    );
    let alarm = sample("alarm.cleared.v1");
    assert!(validate_envelope("alarm.cleared.v1", "project/NB-2026-0001/alarms", &alarm).is_ok());
    // Payload errors come first.
    assert_eq!(
        validate_envelope("ledger.key.enrolled.v1", "ledger/keys", &Map::new()),
        Err(P::UnknownKind { kind: "ledger.key.enrolled.v1".into() })
    );
}

#[test]
fn project_of_every_project_scoped_kind() {
    for (kind, payload) in samples() {
        let event = DomainEvent::parse(kind, &obj(payload)).expect("valid");
        let expected = !matches!(kind, "registry.zone.added.v1" | "registry.enterprise.registered.v1");
        assert_eq!(event.project_id().map(|p| p.as_str() == "NB-2026-0001"), expected.then_some(true), "{kind}");
        assert_eq!(event.clone().into_registry().is_some(), kind.starts_with("registry."));
    }
}
