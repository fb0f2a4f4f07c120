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
        (site::CRANE_SAMPLE, "operator_ref", json!("OP 0001"), "operator_ref", "invalid character"),
        (
            site::CRANE_SAMPLE,
            "operator_ref",
            json!("330203199001011234 张三"),
            "operator_ref",
            "looks like an ID or card number",
        ),
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

// ---------------------------------------------------------------------------------------------------------------
// Pure rules
// ---------------------------------------------------------------------------------------------------------------

mod rules {
    use siteledger_domain::LocalDate;
    use siteledger_domain::quantity::Decimal;
    use siteledger_domain::site::rules::{
        Band, Due, MeterStep, OperatorIssue, OperatorSession, add_months, calibration_due, dec_sub, drop_test_due,
        is_night, leakage_alarm, leq, load_band, load_pct_band, meter_step, moment_band, noise_verdict,
        online_permille, pm_mean, pm10_band, round1, wind_stop, window_start,
    };
    use siteledger_domain::site::{CranePolicy, EnvPolicy, Timestamp};

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).expect("decimal")
    }
    fn t(s: &str) -> time::OffsetDateTime {
        Timestamp::parse(s).expect("ts").instant()
    }
    fn date(s: &str) -> LocalDate {
        LocalDate::parse(s).expect("date")
    }

    #[test]
    fn leq_is_the_energetic_mean_rounded_to_a_tenth() {
        // given levels, then Leq
        let cases: &[(&[f64], &str)] = &[
            (&[55.0], "55.0"),
            (&[60.0, 60.0, 60.0], "60.0"),
            (&[50.0, 60.0], "57.4"), // 10·log10((10^5 + 10^6)/2) = 57.40
            (&[70.0, 40.0, 40.0, 40.0], "64.0"),
            (&[55.04], "55.0"),
            (&[55.05], "55.1"),
        ];
        for (levels, want) in cases {
            assert_eq!(round1(leq(levels).expect("some")).as_str(), *want, "{levels:?}");
        }
        assert_eq!(leq(&[]), None);
    }

    #[test]
    fn night_is_22_to_06_half_open_in_shanghai_time() {
        let p = EnvPolicy::default_policy();
        let cases = [
            ("2026-11-24T21:59:59+08:00", false),
            ("2026-11-24T22:00:00+08:00", true),
            ("2026-11-25T03:00:00+08:00", true),
            ("2026-11-25T05:59:59+08:00", true),
            ("2026-11-25T06:00:00+08:00", false),
            ("2026-11-24T14:00:00Z", true),  // 22:00 in Ningbo
            ("2026-11-24T22:00:00Z", false), // 06:00 in Ningbo
        ];
        for (at, night) in cases {
            assert_eq!(is_night(&p, t(at)), night, "{at}");
        }
    }

    #[test]
    fn noise_limits_55_0_passes_55_1_exceeds_at_night() {
        // given the default policy (70 by day, 55 by night), when a 20-minute window has these levels, then …
        let p = EnvPolicy::default_policy();
        let cases: &[(&str, &[f64], bool, &str, bool)] = &[
            ("2026-11-24T22:00:00+08:00", &[55.0, 55.0], true, "55.0", false),
            ("2026-11-24T22:00:00+08:00", &[55.1], true, "55.1", true),
            ("2026-11-24T22:00:00+08:00", &[55.04], true, "55.0", false),
            ("2026-11-25T05:40:00+08:00", &[56.0], true, "56.0", true),
            ("2026-11-25T06:00:00+08:00", &[56.0], false, "56.0", false),
            ("2026-11-24T21:40:00+08:00", &[69.9, 70.0], false, "70.0", false),
            ("2026-11-24T10:00:00+08:00", &[70.1], false, "70.1", true),
        ];
        for (start, levels, night, leq_want, exceeds) in cases {
            let v = noise_verdict(&p, t(start), levels).expect("verdict");
            assert_eq!((v.night, v.leq.as_str(), v.exceeds), (*night, *leq_want, *exceeds), "{start} {levels:?}");
        }
    }

    #[test]
    fn windows_align_on_local_midnight() {
        let cases = [
            ("2026-11-24T22:19:59+08:00", 20, "2026-11-24T22:00:00+08:00"),
            ("2026-11-24T22:20:00+08:00", 20, "2026-11-24T22:20:00+08:00"),
            ("2026-11-24T02:05:00Z", 60, "2026-11-24T10:00:00+08:00"),
            ("2026-11-24T16:30:00Z", 60, "2026-11-25T00:00:00+08:00"),
        ];
        for (at, w, want) in cases {
            assert_eq!(window_start(t(at), w), t(want), "{at}/{w}");
        }
    }

    #[test]
    fn pm10_hourly_mean_bands_with_placeholder_defaults() {
        let p = EnvPolicy::default_policy();
        assert!(p.pm10_placeholder);
        let cases: &[(&[f64], &str, Band)] = &[
            (&[150.0], "150.0", Band::Normal),
            (&[150.0, 150.2], "150.1", Band::Warning),
            (&[200.0], "200.0", Band::Warning),
            (&[190.0, 210.2], "200.1", Band::Violation),
            (&[31.0, 40.0, 52.0], "41.0", Band::Normal),
        ];
        for (values, mean, band) in cases {
            let m = pm_mean(values).expect("mean");
            assert_eq!((m.as_str(), pm10_band(&p, &m)), (*mean, *band), "{values:?}");
        }
    }

    #[test]
    fn crane_moment_load_and_wind_bands() {
        let p = CranePolicy::default_policy();
        for (pct, band) in [
            ("0", Band::Normal),
            ("89.9", Band::Normal),
            ("89.99", Band::Normal),
            ("90", Band::Warning),
            ("90.0", Band::Warning),
            ("99.9", Band::Warning),
            ("100", Band::Violation),
            ("110.5", Band::Violation),
        ] {
            assert_eq!(moment_band(&p, &d(pct)), band, "moment {pct}");
            assert_eq!(load_pct_band(&p, &d(pct)), band, "hoist load {pct}");
        }
        for (load, rated, band) in [
            ("2.69", "3.0", Some(Band::Normal)),
            ("2.7", "3.0", Some(Band::Warning)),
            ("2.999", "3", Some(Band::Warning)),
            ("3.00", "3", Some(Band::Violation)),
            ("1", "0", None),
        ] {
            assert_eq!(load_band(&p, &d(load), &d(rated)), band, "load {load}/{rated}");
        }
        for (wind, stop) in [("11.9", false), ("11.99", false), ("12", true), ("12.0", true), ("15.3", true)] {
            assert_eq!(wind_stop(&p, &d(wind)), stop, "wind {wind}");
        }
    }

    #[test]
    fn certified_operator_rule() {
        use siteledger_domain::site::rules::operator_check;
        let s = OperatorSession { operator_ref: "W-1".into(), certificate_valid_until: date("2026-11-24") };
        type Case<'a> = (Option<&'a OperatorSession>, Option<&'a str>, &'a str, Result<(), OperatorIssue>);
        let cases: Vec<Case<'_>> = vec![
            (Some(&s), Some("W-1"), "2026-11-24", Ok(())),
            (Some(&s), None, "2026-11-24", Ok(())),
            (
                Some(&s),
                Some("W-1"),
                "2026-11-25",
                Err(OperatorIssue::CertificateExpired { valid_until: date("2026-11-24"), on: date("2026-11-25") }),
            ),
            (Some(&s), Some("W-2"), "2026-11-24", Err(OperatorIssue::NotLoggedIn { operator_ref: "W-2".into() })),
            (None, Some("W-1"), "2026-11-24", Err(OperatorIssue::NoLogin)),
            (None, None, "2026-11-24", Err(OperatorIssue::NoLogin)),
        ];
        for (session, named, on, want) in cases {
            assert_eq!(operator_check(session, named, date(on)), want, "{named:?} {on}");
        }
    }

    #[test]
    fn hoist_calibration_and_drop_test_due() {
        let p = CranePolicy::default_policy();
        let cal = Some((date("2026-03-01"), date("2027-03-01")));
        assert_eq!(calibration_due(&p, cal, date("2027-03-01")), Due::ValidUntil(date("2027-03-01")));
        assert_eq!(calibration_due(&p, cal, date("2027-03-02")), Due::Overdue(date("2027-03-01")));
        // a certificate claiming more than the policy's year is held to the year
        let long = Some((date("2026-03-01"), date("2028-03-01")));
        assert_eq!(calibration_due(&p, long, date("2027-03-02")), Due::Overdue(date("2027-03-01")));
        assert_eq!(calibration_due(&p, None, date("2027-03-02")), Due::Missing);
        assert_eq!(
            drop_test_due(&p, Some(date("2026-08-31")), date("2026-11-30")),
            Due::ValidUntil(date("2026-11-30"))
        );
        assert_eq!(drop_test_due(&p, Some(date("2026-08-31")), date("2026-12-01")), Due::Overdue(date("2026-11-30")));
        assert_eq!(drop_test_due(&p, None, date("2026-12-01")), Due::Missing);
        assert_eq!(add_months(date("2026-11-30"), 3), date("2027-02-28"));
        assert_eq!(add_months(date("2027-11-30"), 3), date("2028-02-29"));
        assert_eq!(add_months(date("2026-01-15"), 12), date("2027-01-15"));
    }

    #[test]
    fn meters_are_monotonic_and_leakage_alarms_above_30_ma() {
        let cases = [
            ("12300", "12345.67", Some(MeterStep::Consumption(d("45.67")))),
            ("12345.67", "12345.67", Some(MeterStep::Consumption(d("0.00")))),
            ("100.5", "100.25", Some(MeterStep::Decrease(d("-0.25")))),
            ("0.001", "0", Some(MeterStep::Decrease(d("-0.001")))),
        ];
        for (prev, now, want) in cases {
            assert_eq!(meter_step(&d(prev), &d(now)), want, "{prev} → {now}");
        }
        assert_eq!(dec_sub(&d("1"), &d("0.05")).map(|x| x.to_string()), Some("0.95".into()));
        let p = CranePolicy::default_policy();
        for (ma, alarm) in [("29.9", false), ("30", false), ("30.0", false), ("30.1", true), ("75", true)] {
            assert_eq!(leakage_alarm(&p, &d(ma)), alarm, "{ma} mA");
        }
    }

    #[test]
    fn camera_online_ratio() {
        assert_eq!(online_permille(3, 4), Some(750));
        assert_eq!(online_permille(0, 3), Some(0));
        assert_eq!(online_permille(5, 4), Some(1000));
        assert_eq!(online_permille(0, 0), None);
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Admission (decide/evolve)
// ---------------------------------------------------------------------------------------------------------------

mod admission {
    use siteledger_domain::registry::{self, RegistryState};
    use siteledger_domain::site::{self, Jurisdiction, SiteEvent, SiteState};
    use siteledger_domain::{DomainEvent, DomainState, RecordContext};

    use super::{obj, sample};
    use crate::fixtures;

    fn registry() -> RegistryState {
        let mut r = RegistryState::new();
        for e in fixtures::enterprises() {
            registry::evolve(&mut r, &e);
        }
        registry::evolve(&mut r, &fixtures::project("NB-2026-0001", "330212"));
        r
    }

    fn event(kind: &str, edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>)) -> SiteEvent {
        let mut p = sample(kind);
        edit(&mut p);
        match DomainEvent::parse(kind, &p).expect("valid") {
            DomainEvent::Site(e) => e,
            other => panic!("not site: {other:?}"),
        }
    }

    fn ctx<'a>(stream: &'a str, role: &'a str, subject: &'a str) -> RecordContext<'a> {
        RecordContext {
            event_id: "019a0000-0000-7000-8000-000000000001",
            stream,
            occurred_at: "2026-11-24T10:15:00+08:00",
            signer_key_id: "k",
            signer_role: role,
            signer_subject: subject,
        }
    }

    const GW: &str = "project/NB-2026-0001/gateway/GW-01";

    #[test]
    fn device_records_need_the_project_and_its_gateway() {
        let r = registry();
        let s = SiteState::default();
        let gc = fixtures::gc().to_string();
        let stranger = fixtures::stranger().to_string();
        // given (role, subject), when this record arrives, then accepted or the rule named
        let cases: Vec<(&str, &str, SiteEvent, Result<(), &str>)> = vec![
            ("gateway", GW, event(site::CRANE_SAMPLE, |_| {}), Ok(())),
            ("device", "project/NB-2026-0001/device/TC-01", event(site::CRANE_SAMPLE, |_| {}), Ok(())),
            ("enterprise", &gc, event(site::CRANE_SAMPLE, |_| {}), Err("site.device_signer")),
            ("city_bureau", "宁波市住房和城乡建设局", event(site::METER_READING, |_| {}), Err("site.device_signer")),
            ("enterprise", &gc, event(site::SAFETY_GEAR_CALIBRATED, |_| {}), Ok(())),
            ("enterprise", &stranger, event(site::DROP_TEST_PERFORMED, |_| {}), Err("site.device_signer")),
            (
                "gateway",
                GW,
                event(site::CRANE_SAMPLE, |p| {
                    p.insert("project_id".into(), "NB-2026-0099".into());
                }),
                Err("site.project_registered"),
            ),
            (
                "gateway",
                GW,
                event(site::CRANE_CYCLE, |p| {
                    p.insert("ended_at".into(), "2026-11-24T10:09:59+08:00".into());
                }),
                Err("site.cycle_order"),
            ),
            (
                "gateway",
                GW,
                event(site::SAFETY_GEAR_CALIBRATED, |p| {
                    p.insert("valid_until".into(), "2026-03-01".into());
                }),
                Err("site.calibration_dates"),
            ),
            // exceedances are not refusals: 力矩 120 %, wind 20 m/s, night noise 80 dB(A)
            (
                "gateway",
                GW,
                event(site::CRANE_SAMPLE, |p| {
                    p.insert("moment_pct".into(), "120".into());
                    p.insert("wind_m_s".into(), "20".into());
                }),
                Ok(()),
            ),
        ];
        for (role, subject, e, want) in cases {
            let stream = e.stream();
            let got = s.decide(&ctx(&stream, role, subject), &r, &e).map_err(|e| e.rule);
            assert_eq!(got, want.map_err(str::to_owned), "{role} {subject} {}", e.kind());
        }
    }

    #[test]
    fn policies_are_bureau_signed_and_versions_increase() {
        let r = registry();
        let mut s = SiteState::default();
        let city = event(site::CRANE_POLICY, |_| {});
        let district = event(site::ENV_POLICY, |_| {});
        let cases: Vec<(&str, &str, &SiteEvent, Result<(), &str>)> = vec![
            ("gateway", GW, &city, Err("site.policy_signer")),
            ("district_bureau", "330212", &city, Err("site.policy_signer")),
            ("district_bureau", "330203", &district, Err("site.policy_signer")),
            ("district_bureau", "330212", &district, Ok(())),
            ("district_bureau", "district/330212", &district, Ok(())),
            ("city_bureau", "宁波市住房和城乡建设局", &district, Ok(())),
            ("city_bureau", "宁波市住房和城乡建设局", &city, Ok(())),
        ];
        for (role, subject, e, want) in cases {
            let stream = e.stream();
            let got = s.decide(&ctx(&stream, role, subject), &r, e).map_err(|e| e.rule);
            assert_eq!(got, want.map_err(str::to_owned), "{role} {subject} {}", e.kind());
        }
        // when version 1 is accepted, then 1 again is refused and 2 is accepted
        let stream = district.stream();
        let c = ctx(&stream, "district_bureau", "330212");
        s.evolve(&c, &district);
        assert_eq!(s.policy_version(site::ENV_POLICY, &Jurisdiction::parse("330212").expect("j")), Some(1));
        let err = s.decide(&c, &r, &district).expect_err("same version");
        assert_eq!(err.rule, "site.policy_version");
        assert!(err.to_string().contains("send version 2 or later"), "{err}");
        let v2 = event(site::ENV_POLICY, |p| {
            p.insert("version".into(), 2.into());
        });
        assert_eq!(s.decide(&c, &r, &v2), Ok(()));
        // the city's version counter is separate from the district's
        assert_eq!(s.decide(&ctx("city/policy/crane", "city_bureau", "x"), &r, &city), Ok(()));
        // bands: warn above violation is refused
        let bad = event(site::CRANE_POLICY, |p| {
            p.insert("moment_warn_pct".into(), "101".into());
        });
        assert_eq!(
            s.decide(&ctx("city/policy/crane", "city_bureau", "x"), &r, &bad).map_err(|e| e.rule),
            Err("site.policy_bands".to_owned())
        );
    }

    #[test]
    fn domain_state_replays_policies_only() {
        assert!(DomainState::wants(site::ENV_POLICY));
        assert!(DomainState::wants(site::CRANE_POLICY));
        assert!(!DomainState::wants(site::CRANE_SAMPLE));
        assert!(!DomainState::wants(site::HJ212_DATA));
        let _ = obj(serde_json::json!({}));
    }

    #[test]
    fn policy_book_picks_the_version_in_force_at_the_reading_time() {
        use siteledger_domain::site::{EnvPolicy, PolicyBook, Timestamp};
        let mut book = PolicyBook::new();
        let v = |j: &str, version: u32, from: &str, night: &str| {
            let mut p = EnvPolicy::default_policy();
            p.jurisdiction = Jurisdiction::parse(j).expect("j");
            p.version = site::PolicyVersion::new(version).expect("v");
            p.effective_from = Timestamp::parse(from).expect("ts");
            p.noise_night_limit_db_a = night.parse().expect("dec");
            p
        };
        book.add(v("city", 1, "2026-01-01T00:00:00+08:00", "55"));
        book.add(v("330212", 1, "2026-06-01T00:00:00+08:00", "50"));
        book.add(v("330212", 2, "2026-11-24T22:00:00+08:00", "45"));
        let d = siteledger_domain::DistrictCode::parse("330212").expect("d");
        let other = siteledger_domain::DistrictCode::parse("330203").expect("d");
        let at = |s: &str| Timestamp::parse(s).expect("ts").instant();
        let limit = |dist: Option<&siteledger_domain::DistrictCode>, s: &str| {
            book.in_force(dist, at(s)).map(|p| p.noise_night_limit_db_a.to_string())
        };
        assert_eq!(limit(Some(&d), "2025-12-31T23:59:59+08:00"), None);
        assert_eq!(limit(Some(&d), "2026-05-31T23:59:59+08:00").as_deref(), Some("55"));
        assert_eq!(limit(Some(&d), "2026-06-01T00:00:00+08:00").as_deref(), Some("50"));
        assert_eq!(limit(Some(&d), "2026-11-24T21:59:59+08:00").as_deref(), Some("50"));
        assert_eq!(limit(Some(&d), "2026-11-24T22:00:00+08:00").as_deref(), Some("45"));
        assert_eq!(limit(Some(&other), "2026-11-24T22:00:00+08:00").as_deref(), Some("55"));
        assert_eq!(limit(None, "2026-11-24T22:00:00+08:00").as_deref(), Some("55"));
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Properties of the rule arithmetic
// ---------------------------------------------------------------------------------------------------------------

mod props {
    use proptest::prelude::*;
    use siteledger_domain::quantity::Decimal;
    use siteledger_domain::site::rules::{MeterStep, dec_add, dec_sub, leq, meter_step};

    fn dec(mantissa: i64, scale: u32) -> Decimal {
        let neg = mantissa < 0;
        let mag = mantissa.unsigned_abs().to_string();
        let s = scale as usize;
        let body = if s == 0 {
            mag
        } else {
            let padded = format!("{mag:0>width$}", width = s + 1);
            let (i, f) = padded.split_at(padded.len() - s);
            format!("{i}.{f}")
        };
        Decimal::parse(&if neg { format!("-{body}") } else { body }).expect("decimal")
    }

    proptest! {
        /// Leq lies between the quietest and the loudest level, and equals the level when all are equal.
        #[test]
        fn leq_is_bounded_by_min_and_max(levels in prop::collection::vec(20.0f64..130.0, 1..50)) {
            let l = leq(&levels).expect("some");
            let lo = levels.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = levels.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            prop_assert!(l >= lo - 1e-9 && l <= hi + 1e-9, "{l} not in [{lo}, {hi}]");
            let same = vec![levels[0]; levels.len()];
            prop_assert!((leq(&same).expect("some") - levels[0]).abs() < 1e-9);
        }

        /// Subtraction and addition are exact inverses; a meter step is a consumption iff the total did not fall.
        #[test]
        fn decimal_steps_are_exact(a in -10_000_000_000i64..10_000_000_000, b in -10_000_000_000i64..10_000_000_000, sa in 0u32..4, sb in 0u32..4) {
            let (x, y) = (dec(a, sa), dec(b, sb));
            let d = dec_sub(&x, &y).expect("fits");
            prop_assert_eq!(dec_add(&d, &y).expect("fits").cmp_value(&x), std::cmp::Ordering::Equal);
            let step = meter_step(&y, &x).expect("fits");
            prop_assert_eq!(matches!(step, MeterStep::Decrease(_)), x.cmp_value(&y).is_lt());
        }
    }
}

#[path = "site_alarms.rs"]
mod alarms;
