//! 在线率 over time in the `site` projection: a camera's online share per day from its signed status transitions
//! (`site_camera_state`, `site_camera_days`), on the site page and per camera and day; midnight, silence, late
//! records, and a rebuild from zero against the record-by-record fold (SQLite and PostgreSQL).

use serde_json::{Value, json};
use siteledger_client::KeyedChain;
use siteledger_domain::LocalDate;
use siteledger_ledger::Ledger;
use siteledger_ledger::sqlite::SqliteStore;
use siteledger_ledger::system::KEY_ENROLLED_KIND;
use siteledger_projections::site::CameraDayRow;
use siteledger_projections::{ReadDb, Scope, apply_events, catch_up};
use siteledger_signer::{Envelope, SigningKey};
use time::OffsetDateTime;
use time::macros::datetime;

use super::{TestClock, accepted, all_events, enrollment, postgres_db, rooted_ledger_at, sign, sqlite_db};

const E1: &str = "91330200MA2AAAAA1K";
const PID: &str = "NB-2026-0009";
const CAM: &str = "33020000001320000001";
const CAM2: &str = "33020000001320000002";

fn day(s: &str) -> LocalDate {
    LocalDate::parse(s).expect("date")
}

/// A project in 鄞州 with its gateway key enrolled; records of its cameras signed by the gateway.
struct Cams {
    ledger: Ledger<SqliteStore>,
    gw: KeyedChain,
    out: Vec<Envelope>,
    _dir: tempfile::TempDir,
}

impl Cams {
    async fn new() -> Cams {
        let reg = "2026-02-01T09:00:00+08:00";
        let clock = TestClock::at(datetime!(2026-03-03 09:00:00 +08:00));
        let (ledger, mut city, dir) = rooted_ledger_at(reg, &clock).await;
        let gw = KeyedChain::new(SigningKey::from_seed(&[0x66; 32]));
        let subject = format!("project/{PID}/gateway/GW-A");
        let batch = vec![
            sign(
                &mut city,
                "registry/keys",
                KEY_ENROLLED_KIND,
                reg,
                enrollment(gw.key().public(), &subject, "gateway"),
            ),
            sign(
                &mut city,
                "registry/enterprises",
                "registry.enterprise.registered.v1",
                reg,
                json!({"credit_code": E1, "name": "宁波建工", "types": ["construction"]}),
            ),
            sign(
                &mut city,
                "registry/projects",
                "registry.project.registered.v1",
                reg,
                json!({"project_id": PID, "name": "视频项目", "district": "330212", "central_urban": true,
                       "floor_area_m2": "100", "contract_cost_fen": 100, "start_date": "2026-01-15",
                       "participants": [{"role": "general_contractor", "credit_code": E1}]}),
            ),
        ];
        accepted(&ledger.ingest(batch).await.expect("registry"));
        Cams { ledger, gw, out: Vec::new(), _dir: dir }
    }

    fn status(&mut self, cam: &str, at: &str, status: &str, keepalive: Option<&str>) {
        let mut p = json!({"project_id": PID, "device_id": cam, "status": status});
        if let Some(k) = keepalive {
            p["last_keepalive_at"] = Value::from(k);
        }
        let stream = format!("project/{PID}/site/{cam}");
        self.out.push(sign(&mut self.gw, &stream, "video.camera.status.v1", at, p));
    }

    /// `online` reports every hour of `day` from `from` to `to` (inclusive).
    fn hourly(&mut self, cam: &str, day: &str, from: u32, to: u32) {
        for h in from..=to {
            self.status(cam, &format!("{day}T{h:02}:00:00+08:00"), "online", None);
        }
    }

    async fn commit(&mut self) {
        let out = std::mem::take(&mut self.out);
        accepted(&self.ledger.ingest(out).await.expect("camera records"));
    }

    async fn folded(&self) -> (ReadDb, tempfile::TempDir) {
        let (db, dir) = sqlite_db().await;
        catch_up(&self.ledger, &db).await.expect("catch up");
        (db, dir)
    }
}

async fn days(db: &ReadDb, from: &str, to: &str, now: OffsetDateTime) -> Vec<CameraDayRow> {
    db.site_camera_days(&Scope::All, PID, day(from), day(to), now).await.expect("query").expect("visible")
}

fn summary(rows: &[CameraDayRow]) -> Vec<(&str, &str, i64, i64, Option<u64>)> {
    rows.iter().map(|r| (r.device_id.as_str(), r.day.as_str(), r.online_s, r.known_s, r.online_permille)).collect()
}

/// The 6-of-24-hours story: online reports every hour, offline at 08:00, online again at 14:00, the next day's
/// first report at midnight.
fn six_hours_offline(c: &mut Cams) {
    c.hourly(CAM, "2026-03-01", 0, 7);
    c.status(CAM, "2026-03-01T08:00:00+08:00", "offline", Some("2026-03-01T08:00:00+08:00"));
    c.hourly(CAM, "2026-03-01", 14, 23);
    c.status(CAM, "2026-03-02T00:00:00+08:00", "online", None);
}

#[tokio::test]
async fn camera_offline_for_six_of_twenty_four_hours_is_75_percent_online_on_its_site_page() {
    let mut c = Cams::new().await;
    six_hours_offline(&mut c);
    c.commit().await;
    let (db, _dir) = c.folded().await;
    let rows = days(&db, "2026-03-01", "2026-03-01", datetime!(2026-03-02 00:00 +08:00)).await;
    assert_eq!(summary(&rows), vec![(CAM, "2026-03-01", 18 * 3600, 86_400, Some(750))]);
    // The page of that day, asked at its last second: 75 %, although the camera is online at that moment.
    let p = db
        .site_project(&Scope::All, PID, 0, datetime!(2026-03-01 23:59:59 +08:00), day("2026-03-01"))
        .await
        .expect("query")
        .expect("visible");
    assert_eq!(p.camera_online_permille, Some(750));
    assert_eq!(p.cameras.len(), 1);
    assert_eq!((p.cameras[0].status.as_str(), p.cameras[0].day_online_permille), ("online", Some(750)));
    // Scoped as the site pages: another district's bureau does not see the project.
    let other = Scope::District("330203".into());
    assert!(
        db.site_camera_days(&other, PID, day("2026-03-01"), day("2026-03-01"), datetime!(2026-03-02 00:00 +08:00))
            .await
            .expect("query")
            .is_none()
    );
    let own = Scope::District("330212".into());
    assert!(
        db.site_camera_days(&own, PID, day("2026-03-01"), day("2026-03-01"), datetime!(2026-03-02 00:00 +08:00))
            .await
            .expect("query")
            .is_some()
    );
}

#[tokio::test]
async fn a_span_across_midnight_is_credited_to_both_days() {
    let mut c = Cams::new().await;
    c.status(CAM, "2026-03-01T23:30:00+08:00", "online", None);
    c.status(CAM, "2026-03-02T00:20:00+08:00", "offline", None);
    c.commit().await;
    let (db, _dir) = c.folded().await;
    // Asked at 01:20 on the 2nd: offline since 00:20 is known too.
    let rows = days(&db, "2026-03-01", "2026-03-02", datetime!(2026-03-02 01:20 +08:00)).await;
    assert_eq!(
        summary(&rows),
        vec![(CAM, "2026-03-01", 1800, 1800, Some(1000)), (CAM, "2026-03-02", 1200, 4800, Some(250))]
    );
}

#[tokio::test]
async fn a_camera_silent_beyond_the_interval_counts_offline_from_its_last_report() {
    let mut c = Cams::new().await;
    c.status(CAM, "2026-03-01T10:00:00+08:00", "online", None);
    c.commit().await;
    let (db, _dir) = c.folded().await;
    // Silent for three hours, beyond the interval (the hourly report + 5 minutes): offline from 10:00 on.
    let rows = days(&db, "2026-03-01", "2026-03-01", datetime!(2026-03-01 13:00 +08:00)).await;
    assert_eq!(summary(&rows), vec![(CAM, "2026-03-01", 0, 3 * 3600, Some(0))]);
    // Within the interval the camera is presumed online.
    let rows = days(&db, "2026-03-01", "2026-03-01", datetime!(2026-03-01 10:30 +08:00)).await;
    assert_eq!(summary(&rows), vec![(CAM, "2026-03-01", 1800, 1800, Some(1000))]);
    // Still silent the next day: the whole day so far is offline, though its last status says online.
    let p = db
        .site_project(&Scope::All, PID, 0, datetime!(2026-03-02 12:00 +08:00), day("2026-03-02"))
        .await
        .expect("query")
        .expect("visible");
    assert_eq!(p.cameras[0].status, "online");
    assert_eq!(p.camera_online_permille, Some(0));
}

#[tokio::test]
async fn a_late_status_record_changes_neither_the_status_nor_the_online_time() {
    let mut on_time = Cams::new().await;
    let mut late = Cams::new().await;
    for c in [&mut on_time, &mut late] {
        c.status(CAM, "2026-03-01T08:00:00+08:00", "online", None);
        c.status(CAM, "2026-03-01T09:00:00+08:00", "offline", None);
        c.status(CAM, "2026-03-01T10:00:00+08:00", "online", None);
        c.commit().await;
    }
    // Signed at 08:30 saying offline, folded after the 10:00 report (an agent's queue replayed late).
    late.status(CAM2, "2026-03-01T08:00:00+08:00", "online", None);
    late.commit().await;
    late.status(CAM, "2026-03-01T08:30:00+08:00", "offline", None);
    late.commit().await;
    let now = datetime!(2026-03-01 10:30 +08:00);
    let (a, _d1) = on_time.folded().await;
    let (b, _d2) = late.folded().await;
    // Online 08:00–09:00 and 10:00–10:30 of 08:00–10:30.
    let want = vec![(CAM, "2026-03-01", 5400, 9000, Some(600))];
    assert_eq!(summary(&days(&a, "2026-03-01", "2026-03-01", now).await), want);
    let got = days(&b, "2026-03-01", "2026-03-01", now).await;
    assert_eq!(summary(&got)[..1], want[..]);
    let p = b.site_project(&Scope::All, PID, 0, now, day("2026-03-01")).await.expect("query").expect("visible");
    let cam = p.cameras.iter().find(|x| x.device_id == CAM).expect("camera");
    assert_eq!(cam.status, "online", "the late offline record does not overwrite the latest status");
}

/// Every camera day row and state row of a read database, via the query (all days of March).
async fn camera_rows(db: &ReadDb) -> Vec<CameraDayRow> {
    days(db, "2026-03-01", "2026-03-31", datetime!(2026-03-03 09:00 +08:00)).await
}

#[tokio::test]
async fn camera_days_rebuilt_from_zero_equal_the_record_by_record_fold_on_sqlite_and_postgres() {
    let mut c = Cams::new().await;
    six_hours_offline(&mut c);
    c.status(CAM2, "2026-03-01T23:30:00+08:00", "online", Some("2026-03-01T23:29:00+08:00"));
    c.status(CAM2, "2026-03-02T03:00:00+08:00", "offline", Some("2026-03-02T00:20:00+08:00"));
    c.commit().await;
    c.status(CAM, "2026-03-01T12:00:00+08:00", "online", None);
    c.status(CAM2, "2026-03-02T05:00:00+08:00", "online", None);
    c.commit().await;
    let events = all_events(&c.ledger).await;
    let (whole, _d1) = c.folded().await;
    let (one_by_one, _d2) = sqlite_db().await;
    for e in &events {
        apply_events(&one_by_one, std::slice::from_ref(e)).await.expect("apply");
    }
    let pg = postgres_db().await;
    catch_up(&c.ledger, &pg).await.expect("catch up on postgres");
    let want = camera_rows(&whole).await;
    assert_eq!(camera_rows(&one_by_one).await, want);
    assert_eq!(camera_rows(&pg).await, want);
    // CAM2: online 23:30–00:20 (its last keepalive before the offline report, which vouches for the 50 minutes
    // although no status came for 3.5 h), offline to 05:00, then reported online at 05:00 and silent beyond the
    // interval since: offline from 05:00.
    let cam2: Vec<_> = summary(&want).into_iter().filter(|r| r.0 == CAM2).collect();
    assert_eq!(cam2[0], (CAM2, "2026-03-01", 1800, 1800, Some(1000)));
    assert_eq!(cam2[1].2, 20 * 60);
}
