//! The `site` projection on a real ledger, folded into SQLite and PostgreSQL: windows and their thresholds,
//! derived alarms citing their events, crane cycles and episodes, meters, cameras, scoping, rebuild equality.

use serde_json::{Value, json};
use siteledger_client::KeyedChain;
use siteledger_ledger::Ledger;
use siteledger_ledger::sqlite::SqliteStore;
use siteledger_ledger::system::KEY_ENROLLED_KIND;
use siteledger_projections::site::SiteProject;
use siteledger_projections::{ReadDb, Scope, apply_events, catch_up};
use siteledger_signer::{Envelope, SigningKey};
use time::macros::datetime;

use super::{TestClock, accepted, all_events, enrollment, postgres_db, rooted_ledger_at, sign, sqlite_db};

const E1: &str = "91330200MA2AAAAA1K";
const T0: &str = "2026-03-01T00:00:00+08:00";

struct Site {
    ledger: Ledger<SqliteStore>,
    ids: Ids,
    _dir: tempfile::TempDir,
}

/// Event ids the assertions need.
#[derive(Default)]
struct Ids {
    night_551: String,
    night_550: Vec<String>,
    pm_high: Vec<String>,
    pm_flagged: String,
    cycle: String,
    login: String,
    moment_90: String,
    moment_100: String,
    moment_clear: String,
    meter_150: String,
    meter_140: String,
}

fn hj(gw: &mut KeyedChain, project: &str, dev: &str, cn: &str, at: &str, items: Value) -> Envelope {
    sign(
        gw,
        &format!("project/{project}/site/{dev}"),
        "env.hj212.data.v1",
        at,
        json!({"project_id": project, "device_id": dev, "mn": "010000A8900016F000169DC0", "st": "39", "cn": cn,
               "data_time": at, "deviations": [], "items": items}),
    )
}

fn crane(gw: &mut KeyedChain, kind: &str, at: &str, mut payload: Value) -> Envelope {
    payload["project_id"] = "NB-2026-0001".into();
    payload["device_id"] = "TC-01".into();
    sign(gw, "project/NB-2026-0001/site/TC-01", kind, at, payload)
}

fn sample(gw: &mut KeyedChain, at: &str, moment: &str, wind: &str) -> Envelope {
    crane(
        gw,
        "crane.sample.v1",
        at,
        json!({"sampled_at": at, "load_t": "2.0", "moment_pct": moment, "height_m": "40", "radius_m": "30",
               "slew_deg": "90", "wind_m_s": wind, "tilt_deg": "0.2", "operator_ref": "W-1"}),
    )
}

fn meter(gw: &mut KeyedChain, at: &str, total: &str, residual: &str) -> Envelope {
    sign(
        gw,
        "project/NB-2026-0001/site/EM-01",
        "meter.reading.v1",
        at,
        json!({"project_id": "NB-2026-0001", "device_id": "EM-01", "meter": "electricity", "read_at": at, "total": total,
               "residual_current_ma": residual}),
    )
}

async fn site() -> Site {
    let reg = "2026-02-01T09:00:00+08:00";
    // The platform's clock stands at 09:00 the morning after: the day's records (to 2026-03-02T08:00) are past.
    let (l, mut city, dir) = rooted_ledger_at(reg, &TestClock::at(datetime!(2026-03-02 09:00:00 +08:00))).await;
    let mut gw = KeyedChain::new(SigningKey::from_seed(&[0x61; 32]));
    let mut gw3 = KeyedChain::new(SigningKey::from_seed(&[0x63; 32]));
    let mut batch = vec![
        sign(
            &mut city,
            "registry/keys",
            KEY_ENROLLED_KIND,
            reg,
            enrollment(gw.key().public(), "project/NB-2026-0001/gateway/GW-01", "gateway"),
        ),
        sign(
            &mut city,
            "registry/keys",
            KEY_ENROLLED_KIND,
            reg,
            enrollment(gw3.key().public(), "project/NB-2026-0003/gateway/GW-01", "gateway"),
        ),
        sign(
            &mut city,
            "registry/enterprises",
            "registry.enterprise.registered.v1",
            reg,
            json!({"credit_code": E1, "name": "宁波建工", "types": ["construction"]}),
        ),
    ];
    for (id, district) in [("NB-2026-0001", "330212"), ("NB-2026-0003", "330203")] {
        batch.push(sign(
            &mut city,
            "registry/projects",
            "registry.project.registered.v1",
            reg,
            json!({"project_id": id, "name": format!("项目{id}"), "district": district, "central_urban": true,
                   "floor_area_m2": "12345.67", "contract_cost_fen": 1_250_000_000_i64, "start_date": "2026-01-15",
                   "participants": [{"role": "general_contractor", "credit_code": E1}]}),
        ));
    }
    // 鄞州 lowers the crane wind stop to 10 m/s from 1 March 12:00.
    batch.push(sign(
        &mut city,
        "district/330212/policy/crane",
        "crane.policy.v1",
        reg,
        json!({"jurisdiction": "330212", "version": 1, "effective_from": "2026-03-01T12:00:00+08:00",
               "moment_warn_pct": "90", "moment_violation_pct": "100", "load_warn_pct": "90",
               "load_violation_pct": "100", "wind_stop_m_s": "10", "leakage_alarm_ma": "30",
               "safety_gear_valid_months": 12, "drop_test_interval_months": 3}),
    ));
    accepted(&l.ingest(batch).await.expect("registry"));

    let mut ids = Ids::default();
    let id = |e: &Envelope| e.id().to_string();
    let noise = |v: &str| json!([{"code": "LA", "unit": "dB(A)", "rtd": v, "flag": "N"}]);
    let mut b = Vec::new();
    // Night window 22:00–22:20: Leq 55.0 passes; window 22:20–22:40: 55.1 exceeds.
    for at in ["2026-03-01T22:00:00+08:00", "2026-03-01T22:19:59+08:00"] {
        let e = hj(&mut gw, "NB-2026-0001", "DUST-01", "2011", at, noise("55.0"));
        ids.night_550.push(id(&e));
        b.push(e);
    }
    let e = hj(&mut gw, "NB-2026-0001", "DUST-01", "2011", "2026-03-01T22:20:00+08:00", noise("55.1"));
    ids.night_551 = id(&e);
    b.push(e);
    // Day: 69.9 at 21:40 passes (day limit 70).
    b.push(hj(&mut gw, "NB-2026-0001", "DUST-01", "2011", "2026-03-01T21:40:00+08:00", noise("69.9")));
    // PM10 10:00–11:00: 190 and 210.2 (mean 200.1: violation); a 999 flagged D does not count.
    for (at, v) in [("2026-03-01T10:05:00+08:00", "190"), ("2026-03-01T10:35:00+08:00", "210.2")] {
        let e = hj(
            &mut gw,
            "NB-2026-0001",
            "DUST-01",
            "2051",
            at,
            json!([{"code": "a34002", "unit": "ug/m3", "avg": v, "flag": "N"}, {"code": "a01007", "avg": "3.1"}]),
        );
        ids.pm_high.push(id(&e));
        b.push(e);
    }
    let e = hj(
        &mut gw,
        "NB-2026-0001",
        "DUST-01",
        "2051",
        "2026-03-01T10:50:00+08:00",
        json!([{"code": "a34002", "avg": "999", "flag": "D"}]),
    );
    ids.pm_flagged = id(&e);
    b.push(e);
    // The older reading kind counts too: 11:00–12:00 mean 150.0 (normal; warning is above 150).
    b.push(sign(
        &mut gw,
        "project/NB-2026-0001/env/DUST-02",
        "env.dust_noise.reading.v1",
        "2026-03-01T11:10:00+08:00",
        json!({"project_id": "NB-2026-0001", "device_id": "DUST-02", "pm10_ug_m3": "150", "pm25_ug_m3": "80", "noise_db_a": "61.2"}),
    ));
    // Crane: an expired certificate, then a cycle; moment bands 89.9 → 90 → 100 → 50.
    let e = crane(
        &mut gw,
        "crane.operator.login.v1",
        "2026-03-01T08:00:00+08:00",
        json!({"operator_ref": "W-1", "method": "face", "certificate_type": "tower_crane_driver", "certificate_valid_until": "2026-02-28"}),
    );
    ids.login = id(&e);
    b.push(e);
    let e = crane(
        &mut gw,
        "crane.cycle.v1",
        "2026-03-01T08:10:00+08:00",
        json!({"started_at": "2026-03-01T08:05:00+08:00", "ended_at": "2026-03-01T08:10:00+08:00", "max_load_t": "2.4", "max_moment_pct": "81.0", "max_wind_m_s": "5.6", "radius_m": "35", "height_m": "42", "over_moment_count": 0, "operator_ref": "W-1"}),
    );
    ids.cycle = id(&e);
    b.push(e);
    b.push(crane(&mut gw, "crane.operator.login.v1", "2026-03-01T09:00:00+08:00", json!({"operator_ref": "W-1", "method": "face", "certificate_type": "tower_crane_driver", "certificate_valid_until": "2028-02-28"})));
    b.push(sample(&mut gw, "2026-03-01T09:01:00+08:00", "89.9", "5"));
    let e = sample(&mut gw, "2026-03-01T09:02:00+08:00", "90", "5");
    ids.moment_90 = id(&e);
    b.push(e);
    let e = sample(&mut gw, "2026-03-01T09:03:00+08:00", "100", "5");
    ids.moment_100 = id(&e);
    b.push(e);
    let e = sample(&mut gw, "2026-03-01T09:04:00+08:00", "50", "11.9");
    ids.moment_clear = id(&e);
    b.push(e);
    // Wind 11.9 is fine before noon (city default 12); 10 is a stop after noon (鄞州 policy).
    b.push(sample(&mut gw, "2026-03-01T12:30:00+08:00", "50", "10"));
    // Meters: 100 → 150.5 (+50.5) → 140 (decrease); leakage 30 then 30.1.
    b.push(meter(&mut gw, "2026-03-01T08:00:00+08:00", "100", "30"));
    let e = meter(&mut gw, "2026-03-01T09:00:00+08:00", "150.5", "12");
    ids.meter_150 = id(&e);
    b.push(e);
    let e = meter(&mut gw, "2026-03-01T10:00:00+08:00", "140", "30.1");
    ids.meter_140 = id(&e);
    b.push(e);
    // The same device also reports a water total: its own series, not a "decrease" of the electricity total.
    b.push(sign(
        &mut gw,
        "project/NB-2026-0001/site/EM-01",
        "meter.reading.v1",
        "2026-03-01T10:05:00+08:00",
        json!({"project_id": "NB-2026-0001", "device_id": "EM-01", "meter": "water", "read_at": "2026-03-01T10:05:00+08:00", "total": "5.2"}),
    ));
    // Cameras: two registered, one online.
    for (cam, pos) in [("33020000001320000001", "大门"), ("33020000001320000002", "最高点")] {
        b.push(sign(
            &mut gw,
            &format!("project/NB-2026-0001/site/{cam}"),
            "video.camera.registered.v1",
            T0,
            json!({"project_id": "NB-2026-0001", "device_id": cam, "name": format!("{pos}摄像机"), "position": pos}),
        ));
    }
    b.push(sign(
        &mut gw,
        "project/NB-2026-0001/site/33020000001320000001",
        "video.camera.status.v1",
        "2026-03-01T08:00:00+08:00",
        json!({"project_id": "NB-2026-0001", "device_id": "33020000001320000001", "status": "online"}),
    ));
    // Hoist checks.
    b.push(sign(&mut gw, "project/NB-2026-0001/site/SC-01", "hoist.safety_gear.calibrated.v1", T0, json!({"project_id": "NB-2026-0001", "device_id": "SC-01", "calibrated_on": "2025-03-01", "valid_until": "2026-03-01", "certificate_no": "FZ-1"})));
    b.push(sign(
        &mut gw,
        "project/NB-2026-0001/site/SC-01",
        "hoist.drop_test.performed.v1",
        T0,
        json!({"project_id": "NB-2026-0001", "device_id": "SC-01", "performed_on": "2025-11-30", "passed": true}),
    ));
    // The hoist runs on 1 March (calibration valid through 1 March, drop test due 28 February: overdue) and on
    // 2 March (calibration expired too); a valid login first, so only the inspections alarm.
    let hoist_login = json!({"project_id": "NB-2026-0001", "device_id": "SC-01", "operator_ref": "W-2", "method": "card", "certificate_type": "hoist_driver", "certificate_valid_until": "2027-01-01"});
    b.push(sign(
        &mut gw,
        "project/NB-2026-0001/site/SC-01",
        "crane.operator.login.v1",
        "2026-03-01T07:00:00+08:00",
        hoist_login,
    ));
    for at in ["2026-03-01T08:00:00+08:00", "2026-03-02T08:00:00+08:00"] {
        b.push(sign(&mut gw, "project/NB-2026-0001/site/SC-01", "hoist.sample.v1", at, json!({"project_id": "NB-2026-0001", "device_id": "SC-01", "sampled_at": at, "load_kg": "800", "load_pct": "40", "people": 6, "cage": 0, "direction": 1, "height_m": "12", "speed_m_s": "0.5", "wind_m_s": "3", "tilt_deg": "0.1"})));
    }
    b.push(sign(&mut gw, "project/NB-2026-0001/site/gateway-GW-01", "gateway.heartbeat.v1", T0, json!({"project_id": "NB-2026-0001", "gateway_id": "GW-01", "queue_depth": 2, "queue_bytes": 512, "rejected_packets": 1, "deviations": 0})));
    accepted(&l.ingest(b).await.expect("P1 site"));
    // P3 (海曙): a PM10 value for the scoping checks.
    accepted(
        &l.ingest(vec![hj(
            &mut gw3,
            "NB-2026-0003",
            "DUST-09",
            "2011",
            "2026-03-01T10:00:00+08:00",
            json!([{"code": "a34002", "rtd": "300"}]),
        )])
        .await
        .expect("NB-2026-0003"),
    );
    Site { ledger: l, ids, _dir: dir }
}

async fn page(db: &ReadDb, scope: &Scope, project: &str) -> Option<SiteProject> {
    db.site_project(
        scope,
        project,
        0,
        datetime!(2026-03-01 23:00 +08:00),
        siteledger_domain::LocalDate::parse("2026-03-02").expect("date"),
    )
    .await
    .expect("query")
}

fn alarm<'a>(p: &'a SiteProject, rule: &str) -> Vec<&'a siteledger_projections::site::SiteAlarmRow> {
    p.alarms.iter().filter(|a| a.rule == rule).collect()
}

async fn check(db: &ReadDb, s: &Site) {
    let p = page(db, &Scope::All, "NB-2026-0001").await.expect("P1 visible");
    // Noise windows: 22:00 passes at 55.0, 22:20 exceeds at 55.1, each citing its readings.
    let noise: Vec<_> = p
        .windows
        .iter()
        .filter(|w| w.metric == "noise" && w.device_id == "DUST-01")
        .map(|w| (w.value.as_str(), w.band.as_str(), w.night, w.limit_value.as_deref()))
        .collect();
    assert_eq!(
        noise,
        vec![
            ("69.9", "normal", 0, Some("70")),
            ("55.0", "normal", 1, Some("55")),
            ("55.1", "violation", 1, Some("55"))
        ]
    );
    let n = alarm(&p, "env_noise");
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].cited(), vec![s.ids.night_551.clone()]);
    assert!(n[0].message.starts_with("夜间噪声"), "{}", n[0].message);
    // PM10: mean 200.1 over 10:00–11:00, flagged value excluded; 150.0 the next hour is normal.
    let pm: Vec<_> = p
        .windows
        .iter()
        .filter(|w| w.metric == "pm10")
        .map(|w| (w.value.as_str(), w.band.as_str(), w.readings))
        .collect();
    assert_eq!(pm, vec![("200.1", "violation", 2), ("150.0", "normal", 1)]);
    let a = alarm(&p, "env_pm10");
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].cited(), s.ids.pm_high);
    assert!(!a[0].cited().contains(&s.ids.pm_flagged));
    assert!(a[0].message.contains("占位"), "placeholder labelled: {}", a[0].message);
    // Crane: the cycle under an expired certificate, citing cycle and login.
    let c = alarm(&p, "crane_cycle_operator");
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].cited(), vec![s.ids.cycle.clone(), s.ids.login.clone()]);
    assert_eq!(p.cycles.len(), 1);
    assert!(p.cycles[0].operator_issue.as_deref().is_some_and(|m| m.contains("2026-02-28")));
    // Moment episode: raised at 90 (warning), rises to violation at 100, cleared by 50.
    let m = alarm(&p, "crane_moment");
    assert_eq!(m.len(), 1);
    assert_eq!((m[0].level.as_str(), m[0].is_open()), ("violation", false));
    assert_eq!(m[0].cited(), vec![s.ids.moment_90.clone(), s.ids.moment_100.clone()]);
    assert_eq!(m[0].cleared_event_id.as_deref(), Some(s.ids.moment_clear.as_str()));
    // Wind: 11.9 under the city default passes; 10 under 鄞州's v1 (from noon) stops work and stays open.
    let w = alarm(&p, "crane_wind");
    assert_eq!(w.len(), 1);
    assert_eq!((w[0].value.as_deref(), w[0].threshold.as_deref(), w[0].is_open()), (Some("10"), Some("10"), true));
    assert!(alarm(&p, "crane_operator").is_empty(), "valid login before the samples");
    // Meters: consumption 50.5 on the day, a decrease citing both readings, leakage 30.1 open.
    assert_eq!(p.meters.len(), 2, "electricity and water of one device are separate meters");
    assert_eq!(p.meter_days.len(), 1);
    assert_eq!(p.meter_days[0].consumption, "50.5");
    let d = alarm(&p, "meter_decrease");
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].cited(), vec![s.ids.meter_150.clone(), s.ids.meter_140.clone()]);
    let l = alarm(&p, "meter_leakage");
    assert_eq!((l.len(), l.first().map(|a| a.is_open())), (1, Some(true)));
    // Camera 1 reported online (the other never reported), but the page's day (03-02) holds no camera time up to
    // its "now" (03-01 23:00): the share is online time, not the status of the moment. Hoist calibration expired
    // on 03-01 (judged 03-02), drop test due 02-28: overdue.
    assert_eq!(p.cameras.iter().filter(|c| c.status == "online").count(), 1);
    assert_eq!(p.camera_online_permille, None);
    assert_eq!(p.hoists.len(), 1);
    assert_eq!(
        (p.hoists[0].calibration.as_str(), p.hoists[0].calibration_until.as_deref()),
        ("overdue", Some("2026-03-01"))
    );
    assert_eq!((p.hoists[0].drop_test.as_str(), p.hoists[0].drop_test_due.as_deref()), ("overdue", Some("2026-02-28")));
    let cal = alarm(&p, "hoist_calibration");
    assert_eq!(cal.len(), 1, "raised on 2 March only: valid through 1 March");
    assert!(cal[0].message.contains("2026-03-01"), "{}", cal[0].message);
    let drop = alarm(&p, "hoist_drop_test");
    assert_eq!((drop.len(), drop.first().map(|a| a.samples)), (1, Some(2)), "overdue on both days");
    assert!(alarm(&p, "hoist_operator").is_empty());
    assert_eq!(p.gateways.len(), 1);
    assert_eq!(p.thresholds.wind_stop, "10");
    assert_eq!(p.thresholds.crane_policy, "330212#v1");
    assert!(p.thresholds.pm10_placeholder);

    // Scoping: 鄞州 sees P1 only, 海曙 P3 only; an enterprise sees both (it takes part in both).
    let ov = |scope: Scope| async move {
        db.site_overview(&scope, "2026-03-01", None)
            .await
            .expect("overview")
            .rows
            .into_iter()
            .map(|r| r.project_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(ov(Scope::District("330212".into())).await, vec!["NB-2026-0001"]);
    assert_eq!(ov(Scope::District("330203".into())).await, vec!["NB-2026-0003"]);
    assert_eq!(ov(Scope::Enterprise(E1.into())).await, vec!["NB-2026-0003", "NB-2026-0001"], "ordered by district");
    assert!(ov(Scope::Nothing).await.is_empty());
    assert!(page(db, &Scope::District("330203".into()), "NB-2026-0001").await.is_none());
    assert!(
        db.site_alarms(&Scope::District("330203".into()), Some("NB-2026-0001"), false, 100)
            .await
            .expect("alarms")
            .is_empty()
    );
    let yz = Scope::District("330212".into());
    let series = db.site_district_series(&yz, "330212", "pm10", 0, None, 100).await.expect("series");
    assert_eq!(series.len(), 2, "DUST-01 and DUST-02 of NB-2026-0001");
    assert!(
        db.site_district_series(&Scope::District("330203".into()), "330212", "pm10", 0, None, 100)
            .await
            .expect("s")
            .is_empty()
    );
    // Pages of one window: the first says one more follows; the second, after the first's last row, is the rest.
    let first = db.site_district_series(&yz, "330212", "pm10", 0, None, 1).await.expect("page 1");
    assert_eq!(first, series, "one row more than the limit: another page follows");
    let last = &series[0];
    let after = Some((last.project_id.as_str(), last.device_id.as_str(), last.window_start_us));
    let second = db.site_district_series(&yz, "330212", "pm10", 0, after, 1).await.expect("page 2");
    assert_eq!(second, series[1..], "the rest, and nothing more");
    // The district chart ranks its monitors in the database: highest window first, all of them counted, each drawn
    // monitor's series the district series' rows of that monitor; another district's bureau sees none.
    let (top, monitors) = db.site_district_top_monitors(&yz, "330212", "pm10", 0, 1).await.expect("top");
    assert_eq!((top.len(), monitors), (1, 2), "one drawn of two: {top:?}");
    let (all, _) = db.site_district_top_monitors(&yz, "330212", "pm10", 0, 12).await.expect("top");
    assert_eq!(all.len(), 2);
    assert_eq!(all[0], top[0]);
    let highest = |(p, d): &(String, String)| {
        series
            .iter()
            .filter(|w| &w.project_id == p && &w.device_id == d)
            .filter_map(|w| w.value.parse::<f64>().ok())
            .fold(f64::NEG_INFINITY, f64::max)
    };
    assert!(highest(&all[0]) >= highest(&all[1]), "{all:?}");
    for (project, device) in &all {
        let own = db.site_monitor_series(&yz, project, device, "pm10", 0).await.expect("monitor series");
        let of_district: Vec<_> =
            series.iter().filter(|w| &w.project_id == project && &w.device_id == device).cloned().collect();
        assert!(!own.is_empty());
        assert_eq!(own, of_district);
    }
    let other = Scope::District("330203".into());
    assert_eq!(db.site_district_top_monitors(&other, "330212", "pm10", 0, 12).await.expect("top"), (vec![], 0));
    assert!(db.site_monitor_series(&other, "NB-2026-0001", "DUST-01", "pm10", 0).await.expect("s").is_empty());
    let overview = db.site_overview(&Scope::All, "2026-03-01", None).await.expect("overview").rows;
    let p3 = overview.iter().find(|r| r.project_id == "NB-2026-0003").expect("NB-2026-0003");
    assert_eq!(p3.pm10.as_deref(), Some("300"));
}

#[tokio::test]
async fn site_folds_windows_alarms_and_devices_on_sqlite() {
    let s = site().await;
    let (db, _dir) = sqlite_db().await;
    catch_up(&s.ledger, &db).await.expect("catch up");
    check(&db, &s).await;
    // One event per transaction, and redelivery, give the same page.
    let before = page(&db, &Scope::All, "NB-2026-0001").await;
    let (one, _dir2) = sqlite_db().await;
    for e in all_events(&s.ledger).await {
        apply_events(&one, std::slice::from_ref(&e)).await.expect("apply");
        apply_events(&one, std::slice::from_ref(&e)).await.expect("redeliver");
    }
    assert_eq!(page(&one, &Scope::All, "NB-2026-0001").await, before);
}

#[tokio::test]
async fn site_folds_identically_on_postgres() {
    let s = site().await;
    let pg = postgres_db().await;
    catch_up(&s.ledger, &pg).await.expect("catch up");
    check(&pg, &s).await;
    let (lite, _dir) = sqlite_db().await;
    catch_up(&s.ledger, &lite).await.expect("catch up");
    assert_eq!(page(&pg, &Scope::All, "NB-2026-0001").await, page(&lite, &Scope::All, "NB-2026-0001").await);
    assert_eq!(
        pg.site_overview(&Scope::All, "2026-03-01", None).await.expect("pg"),
        lite.site_overview(&Scope::All, "2026-03-01", None).await.expect("lite")
    );
}

#[path = "site_log.rs"]
mod site_log;
