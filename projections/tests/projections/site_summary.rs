//! The site overview over many projects reads each project's stored summary (latest values, cameras, lifting
//! devices) instead of every device's rows: the fold marks a project due, the runtime's refresh computes the due
//! projects and no other, a request computes up to `SUMMARY_READ_THROUGH` due projects itself (so a quiet system's
//! answer is exact) and serves the stored summaries when more are due, saying how many are pending. Alarm counts are
//! always current. SQLite and PostgreSQL.

use serde_json::{Map, Value, json};
use siteledger_client::KeyedChain;
use siteledger_ledger::StoredEvent;
use siteledger_projections::site::{SUMMARY_READ_THROUGH, SiteOverview, SiteOverviewRow};
use siteledger_projections::{ReadDb, Scope, apply_events};
use siteledger_signer::SigningKey;

use super::{postgres_db, sqlite_db, stored_at};

const E1: &str = "91330200MA2AAAAA1K";
const DAY: &str = "2026-03-01";

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Records signed by one key, positions following `log`.
struct Log {
    signer: KeyedChain,
    events: Vec<StoredEvent>,
}

impl Log {
    fn new() -> Log {
        Log { signer: KeyedChain::new(SigningKey::from_seed(&[0x5a; 32])), events: Vec::new() }
    }

    fn push(&mut self, stream: &str, kind: &str, at: &str, payload: Value) {
        let n = self.events.len() as u64;
        let id = uuid::Builder::from_unix_timestamp_millis(1_790_000_000_000 + n, &[7; 10]).into_uuid();
        let e = self.signer.sign(id, stream, kind, at, obj(payload)).expect("sign");
        self.events.push(stored_at(&e, n));
    }

    /// A dust/noise reading of monitor `dev` of `p` at `at` (local 2026-03-01 `hh:mm`).
    fn reading(&mut self, p: &str, dev: &str, hhmm: &str, pm10: &str) {
        let at = format!("{DAY}T{hhmm}:00+08:00");
        self.push(
            &format!("project/{p}/env/{dev}"),
            "env.dust_noise.reading.v1",
            &at,
            json!({"project_id": p, "device_id": dev, "pm10_ug_m3": pm10, "pm25_ug_m3": "40", "noise_db_a": "58.5"}),
        );
    }

    /// Folds the records not folded yet, in batches of 64.
    async fn fold_new(&self, db: &ReadDb, from: &mut usize) {
        for chunk in self.events[*from..].chunks(64) {
            apply_events(db, chunk).await.expect("fold");
        }
        *from = self.events.len();
    }
}

fn project(i: usize) -> String {
    format!("NB-2026-{:04}", 2000 + i)
}

/// `n` projects (the even ones in 鄞州, the odd in 海曙, 宁波建工 in the first three), each with two monitors and a
/// camera; project 0 also reads PM10 480 at 10:00 (a PM10 alarm episode of that window).
fn city(n: usize) -> Log {
    let mut log = Log::new();
    log.push(
        "registry/enterprises",
        "registry.enterprise.registered.v1",
        "2026-02-01T09:00:00+08:00",
        json!({"credit_code": E1, "name": "宁波建工", "types": ["construction"]}),
    );
    for i in 0..n {
        let p = project(i);
        let participants = if i < 3 { json!([{"role": "general_contractor", "credit_code": E1}]) } else { json!([]) };
        log.push(
            "registry/projects",
            "registry.project.registered.v1",
            "2026-02-01T09:00:00+08:00",
            json!({"project_id": p, "name": format!("项目{i}"), "district": if i % 2 == 0 { "330212" } else { "330203" },
                   "central_urban": true, "floor_area_m2": "1000", "contract_cost_fen": 1_000_000,
                   "start_date": "2026-01-15", "participants": participants}),
        );
        log.push(
            &format!("project/{p}/site/33020000001320000001"),
            "video.camera.registered.v1",
            &format!("{DAY}T08:00:00+08:00"),
            json!({"project_id": p, "device_id": "33020000001320000001", "name": "大门摄像机", "position": "大门"}),
        );
        log.reading(&p, "DUST-01", "09:00", "60");
        log.reading(&p, "DUST-02", "09:00", &format!("{}", 70 + i));
    }
    log
}

fn by_id(o: &SiteOverview) -> Vec<(String, Option<String>, i64, i64, i64)> {
    o.rows.iter().map(|r| (r.project_id.clone(), r.pm10.clone(), r.cameras, r.open_alarms, r.alarms_today)).collect()
}

fn row<'a>(o: &'a SiteOverview, p: &str) -> &'a SiteOverviewRow {
    o.rows.iter().find(|r| r.project_id == p).unwrap_or_else(|| panic!("{p} in the overview"))
}

/// A project's open alarms and its alarms raised on `day`, from its alarm list.
async fn alarm_counts(db: &ReadDb, p: &str, day: &str) -> (i64, i64) {
    let alarms = db.site_alarms(&Scope::All, Some(p), false, 5000).await.expect("alarms");
    let count = |f: &dyn Fn(&&siteledger_projections::site::SiteAlarmRow) -> bool| {
        i64::try_from(alarms.iter().filter(f).count()).expect("few")
    };
    (count(&|a| a.is_open()), count(&|a| a.day == day))
}

async fn summaries_on(db: &ReadDb) {
    let n = SUMMARY_READ_THROUGH + 4;
    let mut log = city(n);
    let mut folded = 0;
    log.fold_new(db, &mut folded).await;
    let all = Scope::All;

    // More projects due than a request computes, none computed yet: nothing to show, all pending.
    let before = db.site_overview(&all, DAY, None).await.expect("overview");
    assert_eq!((before.rows.len(), before.pending), (0, n), "{:?}", by_id(&before));

    // A refresh computes every due project once; then the overview lists them all, by district then id.
    assert_eq!(db.refresh_site_summaries().await.expect("refresh"), n);
    assert_eq!(db.refresh_site_summaries().await.expect("refresh"), 0, "nothing changed since");
    let o = db.site_overview(&all, DAY, None).await.expect("overview");
    assert_eq!(o.pending, 0);
    assert_eq!(o.rows.len(), n);
    let mut expected: Vec<String> = (0..n).map(project).collect();
    expected.sort_by_key(|p| (if p.ends_with(['1', '3', '5', '7', '9']) { "330203" } else { "330212" }, p.clone()));
    assert_eq!(o.rows.iter().map(|r| r.project_id.clone()).collect::<Vec<_>>(), expected);
    let p5 = row(&o, &project(5));
    assert_eq!(
        (p5.pm10.as_deref(), p5.pm25.as_deref(), p5.noise.as_deref(), p5.cameras, p5.cameras_online),
        (Some("75"), Some("40"), Some("58.5"), 1, 0),
        "the highest over the project's monitors; the camera registered, not reported online"
    );
    assert_eq!(p5.latest_at.as_deref(), Some("2026-03-01T09:00:00+08:00"));

    // One project changes: a request computes it itself, so the answer is at once what the tables say.
    log.reading(&project(0), "DUST-01", "10:00", "480");
    log.fold_new(db, &mut folded).await;
    let o = db.site_overview(&all, DAY, None).await.expect("overview");
    let p0 = row(&o, &project(0));
    assert_eq!((o.pending, p0.pm10.as_deref()), (0, Some("480")));
    assert_eq!((p0.open_alarms, p0.alarms_today), alarm_counts(db, &project(0), DAY).await);
    assert_eq!(p0.alarms_today, 1, "the PM10 alarm of the 10:00 window");

    // More projects change than a request computes: the stored values are served and the changed projects counted
    // as pending, while alarm counts stay current.
    for i in 1..=SUMMARY_READ_THROUGH + 1 {
        log.reading(&project(i), "DUST-01", "10:05", "300");
    }
    log.reading(&project(2), "DUST-02", "10:05", "470");
    log.fold_new(db, &mut folded).await;
    let o = db.site_overview(&all, DAY, None).await.expect("overview");
    // A request computes without storing: project 0 is still due too.
    assert_eq!(o.pending, SUMMARY_READ_THROUGH + 2);
    assert_eq!(row(&o, &project(0)).pm10.as_deref(), Some("70"), "its stored summary, from before 10:00");
    assert_eq!(row(&o, &project(5)).pm10.as_deref(), Some("75"), "stored, not recomputed by the request");
    let p2 = row(&o, &project(2));
    assert_eq!(p2.pm10.as_deref(), Some("72"), "stored, not recomputed by the request");
    assert_eq!((p2.open_alarms, p2.alarms_today), alarm_counts(db, &project(2), DAY).await, "counted now");
    assert_eq!(p2.alarms_today, 2, "the alarms of both monitors' 10:00 windows, counted at once");
    // The refresh computes the changed projects, not the city.
    assert_eq!(db.refresh_site_summaries().await.expect("refresh"), SUMMARY_READ_THROUGH + 2);
    let o = db.site_overview(&all, DAY, None).await.expect("overview");
    assert_eq!((o.pending, row(&o, &project(5)).pm10.as_deref()), (0, Some("300")));
    assert_eq!(row(&o, &project(2)).pm10.as_deref(), Some("470"));
    assert_eq!(row(&o, &project(0)).pm10.as_deref(), Some("480"));
    assert_eq!(row(&o, &project(n - 1)).pm10.as_deref(), Some("89"), "unchanged projects keep their summary");

    // Scopes and the district filter read the same summaries.
    let district = db.site_overview(&all, DAY, Some("330203")).await.expect("district");
    assert!(district.rows.iter().all(|r| r.district == "330203"));
    assert_eq!(district.rows.len(), n / 2);
    let bureau = db.site_overview(&Scope::District("330212".into()), DAY, None).await.expect("bureau");
    assert_eq!(
        by_id(&bureau),
        by_id(&o).into_iter().filter(|r| bureau.rows.iter().any(|b| b.project_id == r.0)).collect::<Vec<_>>()
    );
    assert_eq!(bureau.rows.len(), n / 2);
    let enterprise = db.site_overview(&Scope::Enterprise(E1.into()), DAY, None).await.expect("enterprise");
    assert_eq!(
        enterprise.rows.iter().map(|r| r.project_id.clone()).collect::<Vec<_>>(),
        vec![project(1), project(0), project(2)],
        "its three projects, by district"
    );
    assert!(db.site_overview(&Scope::Nothing, DAY, None).await.expect("nothing").rows.is_empty());
    // Another day's alarms: counted for that day.
    let next_day = db.site_overview(&all, "2026-03-02", None).await.expect("next day");
    assert!(next_day.rows.iter().all(|r| r.alarms_today == 0));
    assert_eq!(row(&next_day, &project(0)).open_alarms, alarm_counts(db, &project(0), DAY).await.0);
}

#[tokio::test]
async fn the_site_overview_reads_stored_summaries_and_a_refresh_computes_only_changed_projects_on_sqlite() {
    let (db, _dir) = sqlite_db().await;
    summaries_on(&db).await;
}

#[tokio::test]
async fn the_site_overview_reads_stored_summaries_and_a_refresh_computes_only_changed_projects_on_postgres() {
    let db = postgres_db().await;
    summaries_on(&db).await;
}
