//! Derived site alarms (`domain::site::alarms`): the rule table (codes are a contract), and each evaluator at its
//! boundaries, given/when/then: noise 55.0 passes and 55.1 exceeds at night (22:00 and 06:00 edges), PM10 bands,
//! moment and load 89.9/90/100 %, wind 11.9/12 m/s, leakage 30/30.1 mA, episodes rising and clearing.

use serde_json::{Value, json};
use siteledger_domain::LocalDate;
use siteledger_domain::quantity::Decimal;
use siteledger_domain::site::alarms::{
    self, AlarmLevel, AlarmRule, DerivedAlarm, EpisodeStep, Finding, HoistChecks, MAX_CITED, OpenEpisode,
    PreviousTotal, Shape, WindowReading, step_episode,
};
use siteledger_domain::site::factors::Metric;
use siteledger_domain::site::rules::{Band, OperatorSession};
use siteledger_domain::site::{self, CranePolicy, DataCn, EnvPolicy, SiteEvent, Timestamp};

use super::sample;

fn d(s: &str) -> Decimal {
    Decimal::parse(s).expect("decimal")
}

fn t(s: &str) -> time::OffsetDateTime {
    Timestamp::parse(s).expect("ts").instant()
}

fn date(s: &str) -> LocalDate {
    LocalDate::parse(s).expect("date")
}

/// The site sample of `kind` with `edit`'s members replaced (`null` removes one).
fn event(kind: &str, edit: Value) -> SiteEvent {
    let mut p = sample(kind);
    for (k, v) in edit.as_object().expect("object") {
        if v.is_null() {
            p.remove(k);
        } else {
            p.insert(k.clone(), v.clone());
        }
    }
    SiteEvent::parse(kind, &p).expect("site kind").expect("valid")
}

macro_rules! typed {
    ($kind:expr, $variant:ident, $edit:expr) => {
        match event($kind, $edit) {
            SiteEvent::$variant(x) => *x,
            other => panic!("not {}: {other:?}", stringify!($variant)),
        }
    };
}

/// The alarm of a finding (panics on `Passes`), checked against its rule's levels.
fn offends(f: &Finding) -> &DerivedAlarm {
    match f {
        Finding::Offends(a) => {
            assert!(a.rule.levels().contains(&a.level), "{:?} at {:?}", a.rule, a.level);
            a
        }
        Finding::Passes => panic!("passes"),
    }
}

fn finding(judged: &[(AlarmRule, Finding)], rule: AlarmRule) -> Option<&Finding> {
    judged.iter().find(|(r, _)| *r == rule).map(|(_, f)| f)
}

fn session(until: &str) -> OperatorSession {
    OperatorSession { operator_ref: "W-000123".into(), certificate_valid_until: date(until) }
}

// ---------------------------------------------------------------------------------------------------------------
// The table

#[test]
fn rule_codes_labels_and_citations_are_one_table() {
    // The stored codes and the labels the pages showed before the table moved here: both are contracts.
    let table = [
        (AlarmRule::EnvNoise, "env_noise", "噪声超标", Shape::Window),
        (AlarmRule::EnvPm10, "env_pm10", "PM10 超标", Shape::Window),
        (AlarmRule::CraneMoment, "crane_moment", "力矩/起重量", Shape::Episode),
        (AlarmRule::CraneWind, "crane_wind", "风速停机", Shape::Episode),
        (AlarmRule::CraneOperator, "crane_operator", "未持证/未打卡操作", Shape::Episode),
        (AlarmRule::CraneCycleOperator, "crane_cycle_operator", "工作循环无有效操作员", Shape::OneOff),
        (AlarmRule::CraneCycleMoment, "crane_cycle_moment", "工作循环超力矩", Shape::OneOff),
        (AlarmRule::CraneCutoff, "crane_cutoff", "控制回路断电", Shape::OneOff),
        (AlarmRule::HoistLoad, "hoist_load", "升降机超载", Shape::Episode),
        (AlarmRule::HoistWind, "hoist_wind", "升降机风速停机", Shape::Episode),
        (AlarmRule::HoistOperator, "hoist_operator", "升降机未持证操作", Shape::Episode),
        (AlarmRule::HoistDropTestFailed, "hoist_drop_test_failed", "坠落试验未通过", Shape::OneOff),
        (AlarmRule::HoistCalibration, "hoist_calibration", "防坠安全器标定过期", Shape::Episode),
        (AlarmRule::HoistDropTest, "hoist_drop_test", "坠落试验逾期", Shape::Episode),
        (AlarmRule::MeterDecrease, "meter_decrease", "表计读数下降", Shape::OneOff),
        (AlarmRule::MeterLeakage, "meter_leakage", "漏电流超限", Shape::Episode),
        (AlarmRule::CraneDevice(71), "crane_device_71", "黑匣子报警 71", Shape::Episode),
        (AlarmRule::VideoAlarm { method: 5, alarm_type: 2 }, "video_alarm_5_2", "视频报警", Shape::OneOff),
    ];
    assert_eq!(table.len(), AlarmRule::FIXED.len() + 2, "every fixed rule and both families");
    for (rule, code, label, shape) in table {
        assert_eq!((rule.code().as_str(), rule.label().as_str(), rule.shape()), (code, label, shape), "{rule:?}");
        assert_eq!(AlarmRule::parse(code), Some(rule), "{code} parses back");
        assert_eq!(AlarmRule::label_of(code), label);
        assert!(!rule.citation().is_empty() && !rule.levels().is_empty(), "{code}");
    }
    for rule in AlarmRule::FIXED {
        assert!(table.iter().any(|(r, ..)| *r == rule), "{rule:?} pinned above");
    }
    assert_eq!(AlarmRule::HoistCalibration.citation(), "JGJ 215-2010 §4.1.7");
    assert_eq!(AlarmRule::CraneCutoff.citation(), "JGJ 332-2014 §3.1.1");
    assert_eq!(AlarmRule::EnvNoise.levels(), &[AlarmLevel::Violation]);
    // Codes no rule writes are shown as they are, never mistaken for a rule.
    for code in ["", "env", "crane_device_x", "crane_device_70000", "video_alarm_5", "video_alarm_a_b", "other"] {
        assert_eq!(AlarmRule::parse(code), None, "{code}");
        assert_eq!(AlarmRule::label_of(code), code);
    }
    assert_eq!(AlarmLevel::parse("violation"), Some(AlarmLevel::Violation));
    assert_eq!(AlarmLevel::parse("warning"), Some(AlarmLevel::Warning));
    assert_eq!(AlarmLevel::parse("normal"), None);
    assert_eq!(AlarmLevel::of_band(Band::Normal), None);
}

// ---------------------------------------------------------------------------------------------------------------
// Windows

fn readings(cn: DataCn, values: &[&str]) -> Vec<WindowReading> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| WindowReading { value: d(v), cn, event_id: format!("{}-{i}", cn.as_str()) })
        .collect()
}

#[test]
fn noise_window_55_0_passes_55_1_exceeds_at_night_with_22_00_and_06_00_edges() {
    let p = EnvPolicy::default_policy();
    // given a window start and levels, then (night, Leq, band)
    let cases: &[(&str, &[&str], bool, &str, Band)] = &[
        ("2026-11-24T22:00:00+08:00", &["55.0", "55.0"], true, "55.0", Band::Normal),
        ("2026-11-24T22:00:00+08:00", &["55.1"], true, "55.1", Band::Violation),
        ("2026-11-24T22:00:00+08:00", &["55.04"], true, "55.0", Band::Normal),
        ("2026-11-25T05:40:00+08:00", &["56"], true, "56.0", Band::Violation),
        ("2026-11-25T06:00:00+08:00", &["56"], false, "56.0", Band::Normal),
        ("2026-11-24T21:40:00+08:00", &["69.9", "70.0"], false, "70.0", Band::Normal),
        ("2026-11-24T21:40:00+08:00", &["70.1"], false, "70.1", Band::Violation),
    ];
    for (start, levels, night, leq, band) in cases {
        let rs = readings(DataCn::RealTime, levels);
        let j = alarms::judge_window(&p, Metric::Noise, t(start), &rs).expect("readings");
        assert_eq!((j.night, j.value.as_str(), j.band, j.readings), (*night, *leq, *band, levels.len()), "{start}");
        assert_eq!(j.alarm.is_some(), *band != Band::Normal, "{start} {levels:?}");
    }
    let rs = readings(DataCn::RealTime, &["55.1"]);
    let a = alarms::judge_window(&p, Metric::Noise, t("2026-11-24T22:20:00+08:00"), &rs).and_then(|j| j.alarm);
    let a = a.expect("alarm");
    assert_eq!((a.rule, a.level), (AlarmRule::EnvNoise, AlarmLevel::Violation));
    assert_eq!(a.message, "夜间噪声 Leq(20min, 22:20起) 55.1 dB(A) 超过 55 dB(A) / noise Leq exceeds limit");
    assert_eq!((a.value, a.threshold, a.cited), (Some(d("55.1")), Some(d("55")), vec!["2011-0".to_owned()]));
    assert_eq!(alarms::judge_window(&p, Metric::Noise, t("2026-11-24T22:00:00+08:00"), &[]), None);
}

#[test]
fn a_window_judges_and_cites_only_its_finest_data() {
    let p = EnvPolicy::default_policy();
    let start = t("2026-11-24T10:00:00+08:00");
    // Minute data of 400 beside real-time data of 100: the real-time data decides.
    let mut rs = readings(DataCn::Minute, &["400", "400"]);
    rs.extend(readings(DataCn::RealTime, &["100"]));
    let j = alarms::judge_window(&p, Metric::Pm10, start, &rs).expect("readings");
    assert_eq!((j.value.as_str(), j.band, j.readings, j.alarm), ("100.0", Band::Normal, 1, None));
    // Hourly over daily.
    let mut rs = readings(DataCn::Daily, &["500"]);
    rs.extend(readings(DataCn::Hourly, &["160"]));
    let a = alarms::judge_window(&p, Metric::Pm10, start, &rs).and_then(|j| j.alarm).expect("warning");
    assert_eq!((a.level, a.cited), (AlarmLevel::Warning, vec!["2061-0".to_owned()]));
}

#[test]
fn pm10_window_bands_name_their_threshold_and_the_placeholder() {
    let p = EnvPolicy::default_policy();
    let start = t("2026-11-24T10:00:00+08:00");
    let judge = |p: &EnvPolicy, vs: &[&str]| {
        alarms::judge_window(p, Metric::Pm10, start, &readings(DataCn::RealTime, vs)).expect("readings")
    };
    assert_eq!(judge(&p, &["150"]).alarm, None, "150.0 is not above 150");
    let w = judge(&p, &["150.0", "150.2"]).alarm.expect("warning");
    assert_eq!((w.level, w.value, w.threshold), (AlarmLevel::Warning, Some(d("150.1")), Some(d("150"))));
    assert_eq!(
        w.message,
        "PM10 60分钟均值（10:00起）150.1 µg/m³ 预警，阈值 150（占位阈值 placeholder） / PM10 mean above threshold"
    );
    assert_eq!(judge(&p, &["200"]).alarm.map(|a| a.level), Some(AlarmLevel::Warning), "200.0 is not above 200");
    let v = judge(&p, &["190", "210.2"]).alarm.expect("violation");
    assert_eq!((v.level, v.threshold, v.cited.len()), (AlarmLevel::Violation, Some(d("200")), 2));
    let mut ningbo = p.clone();
    ningbo.pm10_placeholder = false;
    assert!(!judge(&ningbo, &["190", "210.2"]).alarm.expect("violation").message.contains("占位"));
    // PM2.5 and wind are shown, never judged.
    for m in [Metric::Pm25, Metric::Wind] {
        let j = alarms::judge_window(&p, m, start, &readings(DataCn::RealTime, &["999"])).expect("readings");
        assert_eq!((j.band, j.limit, j.alarm), (Band::Normal, None, None), "{m:?}");
        assert_eq!(alarms::window_rule(m), None);
        assert_eq!(alarms::window_minutes(&p, m), 60);
    }
    assert_eq!(alarms::window_minutes(&p, Metric::Noise), 20);
    assert!(!alarms::windowed(Metric::Temperature) && alarms::windowed(Metric::Wind));
}

#[test]
fn running_window_sums_judge_5000_readings_in_any_order_as_the_sorted_slice_citing_the_first_50() {
    let p = EnvPolicy::default_policy();
    let start = t("2026-11-24T10:00:00+08:00");
    // 5,000 real-time readings (PM10 100 and 220 in turn: mean 160, a warning) arriving with their times out of
    // order (reading i at second i mod 1200), and a minute value that the real-time data outranks.
    let at = |i: usize| i64::try_from(i % 1200).expect("small");
    let rs: Vec<WindowReading> = (0..5000)
        .map(|i| WindowReading {
            value: d(if i % 2 == 0 { "100" } else { "220" }),
            cn: DataCn::RealTime,
            event_id: format!("e{i:04}"),
        })
        .collect();
    let mut sums = alarms::WindowSums::default();
    sums.add(Metric::Pm10, &WindowReading { value: d("900"), cn: DataCn::Minute, event_id: "m".into() }, 0);
    for (i, r) in rs.iter().enumerate() {
        let added = sums.add(Metric::Pm10, r, at(i));
        assert_eq!(added.tier, alarms::tier(DataCn::RealTime));
    }
    let mut sorted: Vec<(i64, &WindowReading)> = rs.iter().enumerate().map(|(i, r)| (at(i), r)).collect();
    sorted.sort_by(|a, b| (a.0, &a.1.event_id).cmp(&(b.0, &b.1.event_id)));
    let sorted: Vec<WindowReading> = sorted.into_iter().map(|(_, r)| r.clone()).collect();
    let from_sums = alarms::judge_sums(&p, Metric::Pm10, start, &sums).expect("readings");
    let from_slice = alarms::judge_window(&p, Metric::Pm10, start, &sorted).expect("readings");
    assert_eq!(from_sums, from_slice);
    assert_eq!((from_sums.value.as_str(), from_sums.readings, from_sums.band), ("160.0", 5000, Band::Warning));
    let a = from_sums.alarm.expect("warning");
    assert_eq!(a.samples, 5000, "counts every reading");
    let first: Vec<String> = sorted.iter().take(alarms::MAX_CITED).map(|r| r.event_id.clone()).collect();
    assert_eq!(a.cited, first, "cites the first 50 in time order");
}

// ---------------------------------------------------------------------------------------------------------------
// Episodes

fn warning(msg: &str) -> Finding {
    Finding::Offends(DerivedAlarm {
        rule: AlarmRule::CraneMoment,
        level: AlarmLevel::Warning,
        message: msg.into(),
        value: Some(d("90")),
        threshold: Some(d("90")),
        cited: vec!["x".into()],
        samples: 1,
    })
}

fn violation(msg: &str) -> Finding {
    match warning(msg) {
        Finding::Offends(mut a) => {
            a.level = AlarmLevel::Violation;
            Finding::Offends(a)
        }
        f => f,
    }
}

#[test]
fn episodes_raise_rise_but_never_fall_and_clear() {
    assert_eq!(step_episode(None, Finding::Passes, "e0"), EpisodeStep::Unchanged);
    let EpisodeStep::Raise(a) = step_episode(None, warning("w"), "e1") else { panic!("raise") };
    assert_eq!((a.level, a.cited), (AlarmLevel::Warning, vec!["e1".to_owned()]), "cites the raising record");
    let open =
        |level, n: usize| OpenEpisode { level, samples: n as u64, cited: (1..=n).map(|i| format!("e{i}")).collect() };
    let rose = step_episode(Some(open(AlarmLevel::Warning, 1)), violation("v"), "e2");
    let EpisodeStep::Continue { level, samples, cited, risen } = rose else { panic!("continue") };
    assert_eq!((level, samples, cited.len()), (AlarmLevel::Violation, 2, 2));
    assert_eq!(risen.map(|a| a.message), Some("v".to_owned()), "a rise replaces the message");
    let kept = step_episode(Some(open(AlarmLevel::Violation, 2)), warning("w"), "e3");
    let EpisodeStep::Continue { level, risen, .. } = kept else { panic!("continue") };
    assert_eq!((level, risen), (AlarmLevel::Violation, None), "a violation stays a violation");
    assert_eq!(step_episode(Some(open(AlarmLevel::Violation, 3)), Finding::Passes, "e4"), EpisodeStep::Clear);
    // Citations stop at MAX_CITED; the count goes on.
    let full = step_episode(Some(open(AlarmLevel::Warning, MAX_CITED)), warning("w"), "late");
    let EpisodeStep::Continue { samples, cited, .. } = full else { panic!("continue") };
    assert_eq!((samples, cited.len(), cited.contains(&"late".to_owned())), (MAX_CITED as u64 + 1, MAX_CITED, false));
}

// ---------------------------------------------------------------------------------------------------------------
// Cranes and hoists

#[test]
fn crane_moment_and_load_89_9_90_100_and_wind_11_9_12() {
    let p = CranePolicy::default_policy();
    let judge = |edit: Value| {
        let s = typed!(site::CRANE_SAMPLE, CraneSample, edit);
        alarms::judge_crane_sample(&p, &s, Some(&session("2028-01-01")), "s1")
    };
    // no rated load: the moment alone
    for (pct, want) in
        [("89.9", None), ("90", Some((AlarmLevel::Warning, "90"))), ("100", Some((AlarmLevel::Violation, "100")))]
    {
        let j = judge(json!({"moment_pct": pct, "rated_load_t": null}));
        let got = match finding(&j, AlarmRule::CraneMoment).expect("judged") {
            Finding::Passes => None,
            f => {
                let a = offends(f);
                Some((a.level, a.threshold.as_ref().map(ToString::to_string).expect("threshold")))
            }
        };
        assert_eq!(got, want.map(|(l, th)| (l, th.to_owned())), "moment {pct}");
    }
    // the load band raises the moment alarm too: 2.7 of 3.0 t is 90 %
    let j = judge(json!({"moment_pct": "50", "load_t": "2.7", "rated_load_t": "3.0"}));
    let a = offends(finding(&j, AlarmRule::CraneMoment).expect("judged"));
    assert_eq!(a.message, "塔吊力矩 50%、起重量 2.7 t/额定 3.0 t（预警 90%，违规 100%） / crane moment/load band");
    for (wind, stops) in [("11.9", false), ("12", true)] {
        let j = judge(json!({"wind_m_s": wind}));
        let f = finding(&j, AlarmRule::CraneWind).expect("judged");
        assert_eq!(matches!(f, Finding::Offends(_)), stops, "wind {wind}");
    }
    let j = judge(json!({"wind_m_s": "12"}));
    assert_eq!(
        offends(finding(&j, AlarmRule::CraneWind).expect("judged")).message,
        "风速 12 m/s ≥ 12 m/s，应停止作业 / wind stop"
    );
}

#[test]
fn crane_operator_is_judged_only_with_a_load_on_the_hook() {
    let p = CranePolicy::default_policy();
    let s =
        |load: &str, op: Value| typed!(site::CRANE_SAMPLE, CraneSample, json!({"load_t": load, "operator_ref": op}));
    let empty = alarms::judge_crane_sample(&p, &s("0", Value::Null), None, "s1");
    assert_eq!(finding(&empty, AlarmRule::CraneOperator), None, "nothing on the hook: the episode is left alone");
    let nobody = alarms::judge_crane_sample(&p, &s("1.5", Value::Null), None, "s2");
    let a = offends(finding(&nobody, AlarmRule::CraneOperator).expect("judged"));
    assert_eq!(
        (a.message.as_str(), a.cited.as_slice()),
        ("未打卡操作：无操作员登录 / operation without an authenticated operator", &["s2".to_owned()][..])
    );
    let ok = alarms::judge_crane_sample(&p, &s("1.5", json!("W-000123")), Some(&session("2026-11-24")), "s3");
    assert_eq!(finding(&ok, AlarmRule::CraneOperator), Some(&Finding::Passes), "certificate valid through the day");
    let other = alarms::judge_crane_sample(&p, &s("1.5", json!("W-7")), Some(&session("2028-01-01")), "s4");
    assert!(offends(finding(&other, AlarmRule::CraneOperator).expect("judged")).message.contains("W-7"));
}

#[test]
fn work_cycle_alarms_cite_the_cycle_and_the_login() {
    let p = CranePolicy::default_policy();
    let c = typed!(site::CRANE_CYCLE, CraneCycle, json!({"max_moment_pct": "100"}));
    let expired = session("2026-11-23");
    let j = alarms::judge_crane_cycle(&p, &c, Some((&expired, "login-1")), "cycle-1");
    assert_eq!(j.band, Band::Violation);
    assert!(j.operator_issue.is_some());
    let rules: Vec<_> = j.alarms.iter().map(|a| (a.rule, a.level, a.cited.clone())).collect();
    assert_eq!(
        rules,
        vec![
            (AlarmRule::CraneCycleOperator, AlarmLevel::Violation, vec!["cycle-1".to_owned(), "login-1".to_owned()]),
            (AlarmRule::CraneCycleMoment, AlarmLevel::Violation, vec!["cycle-1".to_owned()]),
        ]
    );
    assert!(j.alarms[0].message.starts_with("工作循环 2026-11-24T10:10:00+08:00：操作资格证书 2026-11-23 已过期"));
    let fine = typed!(site::CRANE_CYCLE, CraneCycle, json!({"max_moment_pct": "89.9"}));
    let j = alarms::judge_crane_cycle(&p, &fine, Some((&session("2026-11-24"), "login-1")), "cycle-2");
    assert_eq!((j.band, j.operator_issue, j.alarms), (Band::Normal, None, Vec::new()));
    let nobody = alarms::judge_crane_cycle(&p, &fine, None, "cycle-3");
    assert_eq!(nobody.alarms[0].cited, vec!["cycle-3".to_owned()], "no login to cite");
}

#[test]
fn black_box_alarms_open_and_close_their_own_episode() {
    let raised = typed!(
        site::CRANE_ALARM,
        CraneAlarm,
        json!({"alarm_code": 71, "action": "raised", "message": "未打卡", "value": null})
    );
    let (rule, f) = alarms::judge_crane_alarm(&raised, "a1");
    assert_eq!(rule, AlarmRule::CraneDevice(71));
    assert_eq!(offends(&f).message, "黑匣子报警 71（未打卡操作）未打卡 / black-box alarm");
    let cleared = typed!(site::CRANE_ALARM, CraneAlarm, json!({"alarm_code": 71, "action": "cleared"}));
    assert_eq!(alarms::judge_crane_alarm(&cleared, "a2"), (AlarmRule::CraneDevice(71), Finding::Passes));
    assert_eq!(alarms::black_box_alarm_name(99), "其他");
    let cut = typed!(site::CRANE_CUTOFF, CraneCutoff, json!({"reason": "力矩超限"}));
    let a = alarms::judge_cutoff(&cut, "c1");
    assert_eq!((a.level, a.message.as_str()), (AlarmLevel::Violation, "控制回路断电（JGJ 332 §3.1.1）：力矩超限"));
}

#[test]
fn hoist_inspections_and_operator_are_judged_only_while_the_cage_moves() {
    let p = CranePolicy::default_policy();
    let h = |direction: u8, load: &str| {
        typed!(site::HOIST_SAMPLE, HoistSample, json!({"direction": direction, "load_pct": load, "operator_ref": null}))
    };
    let none = HoistChecks::default();
    let standing = alarms::judge_hoist_sample(&p, &h(0, "60"), &none, None, "h0");
    assert_eq!(standing.iter().map(|(r, _)| *r).collect::<Vec<_>>(), vec![AlarmRule::HoistLoad, AlarmRule::HoistWind]);
    for (pct, level) in [("89.9", None), ("90", Some(AlarmLevel::Warning)), ("100", Some(AlarmLevel::Violation))] {
        let j = alarms::judge_hoist_sample(&p, &h(0, pct), &none, None, "h1");
        let got = match finding(&j, AlarmRule::HoistLoad).expect("judged") {
            Finding::Passes => None,
            f => Some(offends(f).level),
        };
        assert_eq!(got, level, "load {pct}");
    }
    // Moving on 2026-11-24 with nothing on record: both inspections missing, nobody logged in.
    let moving = alarms::judge_hoist_sample(&p, &h(2, "60"), &none, None, "h2");
    let msg = |rule| offends(finding(&moving, rule).expect("judged")).message.clone();
    assert_eq!(msg(AlarmRule::HoistCalibration), "升降机运行时无防坠安全器标定记录 / hoist_calibration");
    assert_eq!(msg(AlarmRule::HoistDropTest), "升降机运行时无坠落试验记录 / hoist_drop_test");
    assert!(msg(AlarmRule::HoistOperator).starts_with("未打卡操作"));
    // Calibrated 2025-11-24 (valid through 2026-11-24: passes that day), drop test passed 2026-08-23 (due 11-23).
    let checks = HoistChecks {
        calibration: Some((date("2025-11-24"), date("2026-12-31"))),
        last_passed_drop: Some(date("2026-08-23")),
    };
    let j = alarms::judge_hoist_sample(&p, &h(1, "60"), &checks, Some(&session("2027-01-01")), "h3");
    assert_eq!(finding(&j, AlarmRule::HoistCalibration), Some(&Finding::Passes));
    assert_eq!(finding(&j, AlarmRule::HoistOperator), Some(&Finding::Passes));
    let drop = offends(finding(&j, AlarmRule::HoistDropTest).expect("judged"));
    assert_eq!(drop.message, "升降机运行时坠落试验已于 2026-11-23 到期 / hoist_drop_test");
    let failed = typed!(site::DROP_TEST_PERFORMED, DropTestPerformed, json!({"passed": false}));
    let a = alarms::judge_drop_test(&failed, "d1").expect("failed test");
    assert_eq!(a.message, "2026-10-15 坠落试验未通过（JGJ 215 §5.3.6） / drop test failed");
    let passed = typed!(site::DROP_TEST_PERFORMED, DropTestPerformed, json!({"passed": true}));
    assert_eq!(alarms::judge_drop_test(&passed, "d2"), None);
}

// ---------------------------------------------------------------------------------------------------------------
// Meters and cameras

#[test]
fn meter_decrease_cites_both_readings_and_leakage_alarms_above_30_ma() {
    let p = CranePolicy::default_policy();
    let m = |meter: &str, total: &str, residual: Value| {
        typed!(
            site::METER_READING,
            MeterReading,
            json!({"meter": meter, "total": total, "residual_current_ma": residual})
        )
    };
    let prev = PreviousTotal { total: d("150.5"), event_id: "m1".into() };
    let up = alarms::judge_meter(&p, &m("electricity", "200", Value::Null), Some(&prev), "m2");
    assert_eq!((up.consumption, up.decrease, up.leakage), (Some(d("49.5")), None, None), "no residual: not judged");
    let first = alarms::judge_meter(&p, &m("electricity", "200", Value::Null), None, "m0");
    assert_eq!((first.consumption, first.decrease), (None, None));
    let down = alarms::judge_meter(&p, &m("electricity", "140", json!("30")), Some(&prev), "m3");
    let a = down.decrease.expect("decrease");
    assert_eq!(a.message, "电表读数下降 150.5 → 140（差 -10.5），累计值应单调不减 / meter total decreased");
    assert_eq!((a.level, a.value, a.threshold), (AlarmLevel::Warning, Some(d("140")), Some(d("150.5"))));
    assert_eq!((a.cited, down.consumption), (vec!["m1".to_owned(), "m3".to_owned()], None));
    assert_eq!(down.leakage, Some((AlarmRule::MeterLeakage, Finding::Passes)), "30 mA passes");
    let water = alarms::judge_meter(
        &p,
        &m("water", "4.5", Value::Null),
        Some(&PreviousTotal { total: d("5"), event_id: "w1".into() }),
        "w2",
    );
    assert!(water.decrease.expect("decrease").message.starts_with("水表读数下降 5 → 4.5"));
    let leak = alarms::judge_meter(&p, &m("electricity", "151", json!("30.1")), Some(&prev), "m4");
    let (rule, f) = leak.leakage.expect("judged");
    let a = offends(&f);
    assert_eq!(
        (rule, a.message.as_str()),
        (AlarmRule::MeterLeakage, "剩余电流 30.1 mA 超过 30 mA（JGJ 46） / leakage current alarm")
    );
}

#[test]
fn camera_alarm_priority_2_is_a_violation_and_3_a_warning() {
    for (priority, level) in
        [(1, AlarmLevel::Violation), (2, AlarmLevel::Violation), (3, AlarmLevel::Warning), (4, AlarmLevel::Warning)]
    {
        let c = typed!(site::CAMERA_ALARM, CameraAlarm, json!({"priority": priority}));
        let a = alarms::judge_camera_alarm(&c, "v1");
        assert_eq!((a.rule.code(), a.level), ("video_alarm_5_6".to_owned(), level), "priority {priority}");
        assert!(a.rule.levels().contains(&a.level));
    }
    let c = typed!(site::CAMERA_ALARM, CameraAlarm, json!({"priority": 3, "description": null}));
    assert_eq!(alarms::judge_camera_alarm(&c, "v2").message, "视频报警 3级 方式5 类型6  / camera alarm");
}
