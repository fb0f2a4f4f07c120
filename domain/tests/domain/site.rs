//! Site IoT: payloads of every site kind (valid samples round-trip, errors name the field), stream conventions,
//! admission rules (given/when/then), and the pure rule functions.

use serde_json::{Map, Value, json};
use siteledger_domain::site::{self, SiteEvent};
use siteledger_domain::{DomainEvent, PayloadError as P, validate_envelope, validate_payload};

pub fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

pub const PID: &str = "NB-2026-0001";
pub const CAM: &str = "33020000001320000001";

/// A valid payload of every site kind, every optional member present, with its conventional stream.
pub fn samples() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        (
            site::HJ212_DATA,
            "project/NB-2026-0001/site/DUST-01",
            json!({
                "project_id": PID, "device_id": "DUST-01", "mn": "010000A8900016F000169DC0", "st": "39", "cn": "2051",
                "data_time": "2026-11-24T10:15:00+08:00", "qn": "20261124101500123", "deviations": ["missing_flag"],
                "items": [
                    {"code": "a34002", "unit": "ug/m3", "rtd": "85.2", "avg": "80.1", "min": "70", "max": "90.5", "cou": "0", "flag": "N"},
                    {"code": "LA", "unit": "dB(A)", "rtd": "62.3"},
                    {"code": "a01007", "unit": "m/s", "avg": "3.4", "flag": "N"}
                ]
            }),
        ),
        (
            site::CRANE_SAMPLE,
            "project/NB-2026-0001/site/TC-01",
            json!({
                "project_id": PID, "device_id": "TC-01", "sampled_at": "2026-11-24T10:15:00+08:00", "load_t": "2.35",
                "rated_load_t": "3.0", "moment_pct": "78.4", "height_m": "42.5", "radius_m": "35.0", "slew_deg": "127.5",
                "travel_m": "0", "wind_m_s": "5.2", "tilt_deg": "0.3", "operator_ref": "W-000123"
            }),
        ),
        (
            site::CRANE_CYCLE,
            "project/NB-2026-0001/site/TC-01",
            json!({
                "project_id": PID, "device_id": "TC-01", "started_at": "2026-11-24T10:10:00+08:00",
                "ended_at": "2026-11-24T10:14:30+08:00", "max_load_t": "2.4", "max_moment_pct": "81.0",
                "max_wind_m_s": "5.6", "radius_m": "35.0", "height_m": "42.5", "over_moment_count": 0,
                "operator_ref": "W-000123"
            }),
        ),
        (
            site::OPERATOR_LOGIN,
            "project/NB-2026-0001/site/TC-01",
            json!({
                "project_id": PID, "device_id": "TC-01", "operator_ref": "W-000123", "method": "face",
                "certificate_type": "tower_crane_driver", "certificate_valid_until": "2028-06-30"
            }),
        ),
        (
            site::OPERATOR_LOGOUT,
            "project/NB-2026-0001/site/TC-01",
            json!({"project_id": PID, "device_id": "TC-01", "operator_ref": "W-000123"}),
        ),
        (
            site::CRANE_ALARM,
            "project/NB-2026-0001/site/TC-01",
            json!({"project_id": PID, "device_id": "TC-01", "alarm_code": 61, "action": "raised", "value": "13.2", "message": "风速超限"}),
        ),
        (
            site::CRANE_CUTOFF,
            "project/NB-2026-0001/site/TC-01",
            json!({"project_id": PID, "device_id": "TC-01", "reason": "力矩 105% 超限，切断起升和变幅向外电源"}),
        ),
        (
            site::HOIST_SAMPLE,
            "project/NB-2026-0001/site/SC-01",
            json!({
                "project_id": PID, "device_id": "SC-01", "sampled_at": "2026-11-24T10:15:00+08:00", "load_kg": "1200",
                "load_pct": "60", "people": 9, "cage": 1, "direction": 2, "height_m": "36.0", "floor": 12,
                "speed_m_s": "0.6", "wind_m_s": "4.0", "tilt_deg": "0.1", "operator_ref": "W-000456"
            }),
        ),
        (
            site::SAFETY_GEAR_CALIBRATED,
            "project/NB-2026-0001/site/SC-01",
            json!({"project_id": PID, "device_id": "SC-01", "calibrated_on": "2026-03-01", "valid_until": "2027-03-01", "certificate_no": "FZ-2026-0031"}),
        ),
        (
            site::DROP_TEST_PERFORMED,
            "project/NB-2026-0001/site/SC-01",
            json!({"project_id": PID, "device_id": "SC-01", "performed_on": "2026-10-15", "passed": true}),
        ),
        (
            site::METER_READING,
            "project/NB-2026-0001/site/EM-01",
            json!({
                "project_id": PID, "device_id": "EM-01", "meter": "electricity", "read_at": "2026-11-24T10:00:00+08:00",
                "total": "12345.67", "residual_current_ma": "12.5", "temperature_c": "31.2"
            }),
        ),
        (
            site::CAMERA_REGISTERED,
            "project/NB-2026-0001/site/33020000001320000001",
            json!({"project_id": PID, "device_id": CAM, "name": "大门摄像机", "position": "大门"}),
        ),
        (
            site::CAMERA_STATUS,
            "project/NB-2026-0001/site/33020000001320000001",
            json!({"project_id": PID, "device_id": CAM, "status": "online", "last_keepalive_at": "2026-11-24T10:14:00+08:00"}),
        ),
        (
            site::CAMERA_ALARM,
            "project/NB-2026-0001/site/33020000001320000001",
            json!({
                "project_id": PID, "device_id": CAM, "priority": 2, "method": 5, "alarm_type": 6,
                "description": "入侵检测：进入区域", "alarm_at": "2026-11-24T02:15:00Z"
            }),
        ),
        (
            site::GATEWAY_HEARTBEAT,
            "project/NB-2026-0001/site/gateway-GW-01",
            json!({
                "project_id": PID, "gateway_id": "GW-01", "queue_depth": 0, "queue_bytes": 0, "clock_skew_ms": -120,
                "rejected_packets": 3, "deviations": 12
            }),
        ),
        (
            site::ENV_POLICY,
            "district/330212/policy/env",
            json!({
                "jurisdiction": "330212", "version": 1, "effective_from": "2026-01-01T00:00:00+08:00",
                "noise_day_limit_db_a": "70", "noise_night_limit_db_a": "55", "night_start": "22:00", "night_end": "06:00",
                "leq_window_min": 20, "pm10_warn_ug_m3": "150", "pm10_alarm_ug_m3": "200", "pm_window_min": 60,
                "pm10_placeholder": true, "basis": "GB 12523-2011"
            }),
        ),
        (
            site::CRANE_POLICY,
            "city/policy/crane",
            json!({
                "jurisdiction": "city", "version": 1, "effective_from": "2026-01-01T00:00:00+08:00",
                "moment_warn_pct": "90", "moment_violation_pct": "100", "load_warn_pct": "90", "load_violation_pct": "100",
                "wind_stop_m_s": "12", "leakage_alarm_ma": "30", "safety_gear_valid_months": 12,
                "drop_test_interval_months": 3, "basis": "GB 5144-2006; JGJ 215-2010"
            }),
        ),
    ]
}

pub fn sample(kind: &str) -> Map<String, Value> {
    obj(samples().into_iter().find(|(k, _, _)| *k == kind).map(|(_, _, v)| v).expect("sample"))
}

#[test]
fn every_site_kind_has_a_valid_sample_that_round_trips_in_its_stream() {
    let samples = samples();
    assert_eq!(samples.len(), site::KINDS.len());
    for (kind, stream, payload) in samples {
        let payload = obj(payload);
        validate_payload(kind, &payload).unwrap_or_else(|e| panic!("{kind}: {e}"));
        let event = validate_envelope(kind, stream, &payload).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(event.kind(), kind);
        assert_eq!(event.to_payload(), payload, "{kind} round trip");
        let DomainEvent::Site(e) = event else { panic!("{kind} is a site event") };
        assert_eq!(e.stream(), stream);
        assert_eq!(e.project_id().map(|p| p.as_str()), if kind.ends_with("policy.v1") { None } else { Some(PID) });
    }
}

#[test]
fn optional_members_may_be_absent_or_null() {
    let cases: &[(&str, &[&str])] = &[
        (site::CRANE_SAMPLE, &["rated_load_t", "travel_m", "operator_ref"]),
        (site::CRANE_CYCLE, &["operator_ref"]),
        (site::CRANE_ALARM, &["value", "message"]),
        (site::HOIST_SAMPLE, &["floor", "operator_ref"]),
        (site::METER_READING, &["residual_current_ma", "temperature_c"]),
        (site::CAMERA_STATUS, &["last_keepalive_at"]),
        (site::CAMERA_ALARM, &["description"]),
        (site::GATEWAY_HEARTBEAT, &["clock_skew_ms"]),
        (site::HJ212_DATA, &["qn"]),
    ];
    for (kind, fields) in cases {
        let mut absent = sample(kind);
        let mut null = sample(kind);
        for f in *fields {
            absent.remove(*f);
            null.insert((*f).to_owned(), Value::Null);
        }
        validate_payload(kind, &absent).unwrap_or_else(|e| panic!("{kind} absent: {e}"));
        validate_payload(kind, &null).unwrap_or_else(|e| panic!("{kind} null: {e}"));
    }
}

fn invalid(kind: &str, field: &str, value: Value) -> P {
    let mut p = sample(kind);
    let mut target = &mut p;
    let mut parts: Vec<&str> = field.split('.').collect();
    let last = parts.pop().expect("field");
    for part in parts {
        if let Some((name, idx)) = part.split_once('[') {
            let i: usize = idx.trim_end_matches(']').parse().expect("index");
            target = target.get_mut(name).and_then(|v| v.get_mut(i)).and_then(Value::as_object_mut).expect("path");
        } else {
            target = target.get_mut(part).and_then(Value::as_object_mut).expect("path");
        }
    }
    target.insert(last.to_owned(), value);
    validate_payload(kind, &p).expect_err("must be rejected")
}

#[test]
fn invalid_members_name_the_field_and_the_check() {
    // given a valid sample, when one member is wrong, then the error names it (path) and what failed.
    let cases: Vec<(&str, &str, Value, &str, &str)> = vec![
        (site::HJ212_DATA, "cn", json!("9014"), "cn", "unknown variant"),
        (site::HJ212_DATA, "cn", json!(2051), "cn", "expected"),
        (site::HJ212_DATA, "data_time", json!("2026-11-24 10:15:00"), "data_time", "RFC 3339"),
        (site::HJ212_DATA, "deviations", json!(["Missing QN"]), "deviations[0]", "invalid character"),
        (site::HJ212_DATA, "items[0].rtd", json!(85.2), "items[0].rtd", "string"),
        (site::HJ212_DATA, "items[0].avg", json!("1e3"), "items[0].avg", "invalid character"),
        (site::HJ212_DATA, "items[1].code", json!("L A"), "items[1].code", "invalid character"),
        (site::HJ212_DATA, "items[1].extra", json!("x"), "items[1].extra", ""),
        (site::CRANE_SAMPLE, "moment_pct", json!("90%"), "moment_pct", "invalid character"),
        (site::CRANE_SAMPLE, "operator_ref", json!("330203199001011234 张三"), "operator_ref", "invalid character"),
        (site::CRANE_CYCLE, "over_moment_count", json!(-1), "over_moment_count", "invalid value"),
        (site::OPERATOR_LOGIN, "method", json!("password"), "method", "unknown variant"),
        (site::OPERATOR_LOGIN, "certificate_valid_until", json!("2028-02-30"), "certificate_valid_until", "no day 30"),
        (site::CRANE_ALARM, "action", json!("1"), "action", "unknown variant"),
        (site::CRANE_ALARM, "alarm_code", json!(70000), "alarm_code", "invalid value"),
        (site::HOIST_SAMPLE, "cage", json!(3), "cage", "0 单笼"),
        (site::HOIST_SAMPLE, "direction", json!(5), "direction", "停止"),
        (site::METER_READING, "meter", json!("gas"), "meter", "unknown variant"),
        (site::CAMERA_REGISTERED, "device_id", json!("3302000000132000001"), "device_id", "20 digits"),
        (site::CAMERA_REGISTERED, "device_id", json!("33020000009990000001"), "device_id", "type code"),
        (site::CAMERA_ALARM, "priority", json!(5), "priority", "1-4"),
        (site::CAMERA_ALARM, "method", json!(0), "method", "1-7"),
        (site::ENV_POLICY, "jurisdiction", json!("330299"), "jurisdiction", "Ningbo"),
        (site::ENV_POLICY, "version", json!(0), "version", "1 or more"),
        (site::ENV_POLICY, "night_start", json!("24:00"), "night_start", "00:00 to 23:59"),
        (site::ENV_POLICY, "leq_window_min", json!(0), "leq_window_min", "1 to 1440"),
        (site::CRANE_POLICY, "wind_stop_m_s", json!(12), "wind_stop_m_s", "string"),
    ];
    for (kind, field, value, path, needle) in cases {
        let err = invalid(kind, field, value.clone());
        let text = err.to_string();
        match &err {
            P::InvalidField { field: f, rule, .. } => {
                assert_eq!(f, path, "{kind}.{field} = {value}: {text}");
                assert!(rule.contains(needle), "{kind}.{field} = {value}: {text} (wanted {needle:?})");
            }
            P::UnknownField { field: f, .. } => assert_eq!(f, path, "{kind}.{field}: {text}"),
            other => panic!("{kind}.{field} = {value}: unexpected {other:?}"),
        }
    }
}

#[test]
fn missing_and_unknown_members() {
    let mut p = sample(site::METER_READING);
    p.remove("total");
    assert_eq!(
        validate_payload(site::METER_READING, &p),
        Err(P::MissingField { kind: site::METER_READING, field: "total".into() })
    );
    let mut p = sample(site::CRANE_SAMPLE);
    p.insert("driver_id_number".into(), json!("330203199001011234"));
    assert_eq!(
        validate_payload(site::CRANE_SAMPLE, &p),
        Err(P::UnknownField { kind: site::CRANE_SAMPLE, field: "driver_id_number".into() })
    );
}

#[test]
fn streams_follow_the_device_and_the_jurisdiction() {
    // given a valid record, when it is put in another stream, then the error says which stream is expected.
    let cases: &[(&str, &str, &str)] = &[
        (site::CRANE_SAMPLE, "project/NB-2026-0001/site/TC-02", "project/NB-2026-0001/site/TC-01"),
        (site::CRANE_SAMPLE, "project/NB-2026-0002/site/TC-01", "project/NB-2026-0001/site/TC-01"),
        (site::GATEWAY_HEARTBEAT, "project/NB-2026-0001/site/GW-01", "project/NB-2026-0001/site/gateway-GW-01"),
        (site::ENV_POLICY, "city/policy/env", "district/330212/policy/env"),
        (site::CRANE_POLICY, "city/policy/env", "city/policy/crane"),
    ];
    for (kind, stream, expected) in cases {
        let err = validate_envelope(kind, stream, &sample(kind)).expect_err("wrong stream");
        assert_eq!(
            err,
            P::WrongStream {
                kind: site::KINDS.iter().find(|k| *k == kind).copied().unwrap_or(""),
                stream: (*stream).into(),
                expected: (*expected).into()
            }
        );
    }
}

#[test]
fn timestamps_keep_their_text_and_compare_by_instant() {
    let a = site::Timestamp::parse("2026-11-24T10:15:00+08:00").expect("ts");
    let b = site::Timestamp::parse("2026-11-24T02:15:00Z").expect("ts");
    assert_ne!(a, b);
    assert_eq!(a.instant(), b.instant());
    assert_eq!(b.local().hour(), 10);
    assert_eq!(site::Timestamp::from_instant(b.instant()).as_str(), "2026-11-24T10:15:00+08:00");
    let parsed = SiteEvent::parse(site::METER_READING, &sample(site::METER_READING)).expect("ours").expect("valid");
    assert_eq!(parsed.kind(), site::METER_READING);
    assert!(SiteEvent::parse("worker.registered.v1", &Map::new()).is_none());
}
