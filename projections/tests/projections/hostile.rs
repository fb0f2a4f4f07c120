//! Records a hostile (or broken) producer got into a log before the ledger refused them (issue 12): none of them
//! may stall a projection. The events are built by hand, as a log written by an older ledger would hold them.

use serde_json::json;
use siteledger_client::KeyedChain;
use siteledger_ledger::StoredEvent;
use siteledger_projections::{ReadDb, Scope, apply_events};
use siteledger_signer::SigningKey;

use super::{E1, enrollment, postgres_db, sign, sqlite_db, stored_at};

/// Stored events of `envs`, at positions from 0.
fn stored(envs: &[siteledger_signer::Envelope]) -> Vec<StoredEvent> {
    envs.iter().enumerate().map(|(i, e)| stored_at(e, i as u64)).collect()
}

fn project(city: &mut KeyedChain, id: &str, name: &str) -> siteledger_signer::Envelope {
    sign(
        city,
        "registry/projects",
        "registry.project.registered.v1",
        "2026-02-01T09:00:00+08:00",
        json!({"project_id": id, "name": name, "district": "330212", "central_urban": true,
               "floor_area_m2": "1000", "contract_cost_fen": 1_000_000, "start_date": "2026-01-15",
               "participants": [{"role": "general_contractor", "credit_code": E1}]}),
    )
}

/// A log whose records 3..=9 are dated at the very end of the year 9999 (the envelope format's last year), in the
/// record's own time and in its payload's, over the kinds of several projections; records before and after them
/// are ordinary.
fn log_with_year_9999_records() -> Vec<StoredEvent> {
    let mut city = KeyedChain::new(SigningKey::from_seed(&[0x21; 32]));
    let mut gw = KeyedChain::new(SigningKey::from_seed(&[0x71; 32]));
    let end = "9999-12-31T23:59:59Z";
    let west = "9999-12-31T23:59:59-12:00";
    let envs = vec![
        sign(
            &mut city,
            "registry/keys",
            "ledger.key.enrolled.v1",
            "2026-02-01T09:00:00+08:00",
            enrollment(gw.key().public(), "project/NB-2026-0077/gw-1", "gateway"),
        ),
        project(&mut city, "NB-2026-0077", "未来项目"),
        sign(
            &mut gw,
            "project/NB-2026-0077/env",
            "env.dust.reading.v1",
            "2026-03-01T08:00:00+08:00",
            json!({"pm10_ug_m3": "80.0"}),
        ),
        sign(&mut gw, "project/NB-2026-0077/env", "env.dust.reading.v1", end, json!({"pm10_ug_m3": "81.0"})),
        sign(
            &mut gw,
            "project/NB-2026-0077/alarms",
            "alarm.raised.v1",
            west,
            json!({"project_id": "NB-2026-0077", "alarm_id": "A9", "source": "gw-1", "category": "dust", "level": "violation",
                    "message": "PM10 超标", "value": "152.3", "threshold": "150"}),
        ),
        sign(
            &mut gw,
            "project/NB-2026-0077/workforce/gate",
            "worker.passage.v1",
            end,
            json!({"project_id": "NB-2026-0077", "person_ref": format!("P-{:032x}", 1), "gate": "G1", "direction": "in",
                    "method": "face"}),
        ),
        sign(
            &mut gw,
            "project/NB-2026-0077/site/EM-01",
            "meter.reading.v1",
            west,
            json!({"project_id": "NB-2026-0077", "device_id": "EM-01", "meter": "electricity", "read_at": west,
                    "total": "100.0", "residual_current_ma": "5"}),
        ),
        sign(
            &mut gw,
            "project/NB-2026-0077/site/TC-01",
            "crane.sample.v1",
            "2026-03-01T08:00:30+08:00",
            json!({"project_id": "NB-2026-0077", "device_id": "TC-01", "sampled_at": west, "load_t": "2.0",
                   "moment_pct": "50", "height_m": "40", "radius_m": "30", "slew_deg": "90", "wind_m_s": "3",
                   "tilt_deg": "0.2", "operator_ref": "W-1"}),
        ),
        sign(
            &mut gw,
            "project/NB-2026-0077/site/DUST-01",
            "env.hj212.data.v1",
            west,
            json!({"project_id": "NB-2026-0077", "device_id": "DUST-01", "mn": "010000A8900016F000169DC0", "st": "39",
                   "cn": "2011", "data_time": west, "deviations": [],
                   "items": [{"code": "LA", "unit": "dB(A)", "rtd": "75.0", "flag": "N"}]}),
        ),
        sign(
            &mut gw,
            "project/NB-2026-0077/tasks",
            "task.dispatched.v1",
            end,
            json!({"task_id": "T-9", "project_id": "NB-2026-0077", "title": "整改", "sla_hours": 9_007_199_254_740_991_i64}),
        ),
        project(&mut city, "NB-2026-0078", "之后的项目"),
        sign(
            &mut gw,
            "project/NB-2026-0077/env",
            "env.dust.reading.v1",
            "2026-03-01T08:01:00+08:00",
            json!({"pm10_ug_m3": "82.0"}),
        ),
    ];
    stored(&envs)
}

async fn folds_to_the_end(db: &ReadDb, events: &[StoredEvent], batch: usize) {
    for chunk in events.chunks(batch) {
        apply_events(db, chunk).await.expect("a batch with year-9999 records folds");
    }
    let n = events.len() as u64;
    let cps = db.checkpoints().await.expect("checkpoints");
    assert!(cps.iter().all(|(_, p)| *p == n), "every projection reached the end of the log: {cps:?}");
    assert_eq!(db.applied(), n);
    assert_eq!(db.lag(n), 0);
    let projects = db.projects(&Scope::All, None).await.expect("projects");
    assert!(projects.iter().any(|p| p.project_id == "NB-2026-0078"), "the records after them are folded");
    let timeline = db.project_timeline(&Scope::All, "NB-2026-0077", None, 100).await.expect("timeline");
    assert!(timeline.iter().any(|r| r.position == n - 1), "the reading after them is in the timeline");
    let skipped = db.fold_errors(&Scope::All, 100).await.expect("fold errors");
    assert!(skipped.is_empty(), "the year-9999 records fold like any other: {skipped:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_year_9999_record_already_in_the_log_cannot_stall_projections() {
    let events = log_with_year_9999_records();
    let (db, dir) = sqlite_db().await;
    folds_to_the_end(&db, &events, 1000).await;
    // After a restart (a new handle on the same database) nothing is left to fold, and folding again changes nothing.
    let again = ReadDb::open(&super::sqlite_url(&dir)).await.expect("reopen");
    assert_eq!(again.applied(), events.len() as u64);
    assert_eq!(apply_events(&again, &events).await.expect("refold"), 0);

    let (small, _dir2) = sqlite_db().await;
    folds_to_the_end(&small, &events, 1).await;
    let pg = postgres_db().await;
    folds_to_the_end(&pg, &events, 4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_the_read_database_refuses_is_skipped_listed_and_never_stalls_the_log() {
    // PostgreSQL cannot store U+0000 in text; SQLite can. A key enrolment whose subject carries one (the ledger's own
    // payload type takes any string) is folded on SQLite, and skipped (in the keys projection only) on PostgreSQL,
    // where it would otherwise fail every retry forever.
    let mut city = KeyedChain::new(SigningKey::from_seed(&[0x21; 32]));
    let gw = SigningKey::from_seed(&[0x72; 32]);
    let envs = vec![
        project(&mut city, "PRJA", "前一个项目"),
        sign(
            &mut city,
            "registry/keys",
            "ledger.key.enrolled.v1",
            "2026-02-01T09:00:00+08:00",
            enrollment(gw.public(), "网关\u{0}截断", "gateway"),
        ),
        project(&mut city, "PRJB", "后一个项目"),
        sign(
            &mut city,
            "registry/zones",
            "registry.zone.added.v1",
            "2026-02-01T09:00:00+08:00",
            json!({"code": "ZONE-QW", "name": "前湾新区"}),
        ),
    ];
    let events = stored(&envs);
    let n = events.len() as u64;
    let gw_id = gw.public().key_id().to_string();

    let pg = postgres_db().await;
    assert_eq!(pg.fold_error_count().await.expect("count"), 0);
    apply_events(&pg, &events).await.expect("the batch folds around the refused record");
    let cps = pg.checkpoints().await.expect("checkpoints");
    assert!(cps.iter().all(|(_, p)| *p == n), "{cps:?}");
    let ids: Vec<String> =
        pg.projects(&Scope::All, None).await.expect("projects").into_iter().map(|p| p.project_id).collect();
    assert_eq!(ids, ["PRJA", "PRJB"], "the registry folds every record around it");
    let keys = pg.keys(&Scope::All).await.expect("keys");
    assert!(!keys.iter().any(|k| k.key_id == gw_id), "the refused enrolment is not in the keys");
    let errors = pg.fold_errors(&Scope::All, 100).await.expect("fold errors");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!((errors[0].projection.as_str(), errors[0].position), ("keys", 1));
    assert_eq!(errors[0].event_id, events[1].event_id.to_string());
    assert!(errors[0].error.contains("refused"), "{}", errors[0].error);
    assert_eq!(pg.fold_error_count().await.expect("count"), 1);
    // Records outside any project are listed for the city only.
    assert!(pg.fold_errors(&Scope::District("330212".into()), 100).await.expect("fold errors").is_empty());
    // Redelivery changes nothing.
    assert_eq!(apply_events(&pg, &events).await.expect("refold"), 0);
    assert_eq!(pg.fold_error_count().await.expect("count"), 1);
    // A rebuild tries the record again (new code might fold it) and lists it again.
    pg.reset().await.expect("reset");
    assert_eq!(pg.fold_error_count().await.expect("count"), 0);
    apply_events(&pg, &events).await.expect("fold after reset");
    assert_eq!(pg.fold_error_count().await.expect("count"), 1);

    let (sqlite, _dir) = sqlite_db().await;
    apply_events(&sqlite, &events).await.expect("fold");
    let keys = sqlite.keys(&Scope::All).await.expect("keys");
    let k = keys.iter().find(|k| k.key_id == gw_id).expect("SQLite stores the enrolment");
    assert_eq!(k.subject, "网关\u{0}截断", "as signed");
    assert_eq!(sqlite.fold_error_count().await.expect("count"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payload_an_older_ledger_let_in_stays_in_the_timeline_but_opens_no_alarm() {
    // Before the ledger type-checked payloads, an alarm without its required members, and records of kinds no code
    // defines, could get into a log. Projections fold typed events only: such a record is counted for its envelope
    // (timeline, counts per kind and day) and skipped by every projection that needs its payload, without an error.
    let mut city = KeyedChain::new(SigningKey::from_seed(&[0x21; 32]));
    let mut gw = KeyedChain::new(SigningKey::from_seed(&[0x73; 32]));
    let at = "2026-03-01T09:00:00+08:00";
    let envs = vec![
        project(&mut city, "NB-2026-0079", "旧日志项目"),
        sign(
            &mut gw,
            "project/NB-2026-0079/alarms",
            "alarm.raised.v1",
            at,
            json!({"alarm_id": "A1", "level": "violation"}),
        ),
        sign(&mut gw, "project/NB-2026-0079/legacy", "legacy.thing.v1", at, json!({"a": 1})),
        sign(
            &mut gw,
            "project/NB-2026-0079/alarms",
            "alarm.raised.v1",
            at,
            json!({"project_id": "NB-2026-0079", "alarm_id": "A2", "source": "gw-1", "category": "dust",
                   "level": "warning", "message": "PM10 偏高"}),
        ),
    ];
    let events = stored(&envs);
    for db in [sqlite_db().await.0, postgres_db().await] {
        apply_events(&db, &events).await.expect("fold");
        assert_eq!(db.applied(), events.len() as u64, "every projection is past them");
        let alarms = db.alarms(&Scope::All, &Default::default()).await.expect("alarms");
        let ids: Vec<&str> = alarms.iter().map(|a| a.alarm_id.as_str()).collect();
        assert_eq!(ids, ["A2"], "the alarm without its members opens nothing");
        let timeline = db.project_timeline(&Scope::All, "NB-2026-0079", None, 100).await.expect("timeline");
        assert_eq!(timeline.len(), 3, "all three records are in the project's timeline: {timeline:?}");
        assert!(timeline.iter().any(|r| r.kind == "legacy.thing.v1" && r.summary == "a=1"), "{timeline:?}");
        assert_eq!(db.fold_error_count().await.expect("count"), 0, "skipping a payload is not a fold error");
    }
}
