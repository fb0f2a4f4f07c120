//! Projection tests on real ledgers (SQLite files) folded into real read databases (SQLite files and a private
//! PostgreSQL server started by the testkit).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use siteledger_client::{KeyedChain, MemoryChain};
use siteledger_ledger::sqlite::SqliteStore;
use siteledger_ledger::system::{KEY_ENROLLED_KIND, KeyEnrollment};
use siteledger_ledger::{IngestOutcome, Ledger, LedgerConfig, StoredEvent};
use siteledger_projections::{
    AlarmFilter, AlarmRow, DistrictRow, EnterpriseRow, KeyCounts, KeyPage, KeyRow, KeyStatus, ProjectDetail,
    ProjectRow, ProjectionError, ReadDb, Scope, TimelineRow, apply_events, catch_up, rebuild, run,
};
use siteledger_signer::{Envelope, NoteSigner, PublicKey, SigningKey};
use time::macros::{date, datetime};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

/// `e` as the store holds it at `position` (stream version 0): for folding records without a ledger.
fn stored_at(e: &siteledger_signer::Envelope, position: u64) -> siteledger_ledger::StoredEvent {
    siteledger_ledger::StoredEvent {
        position,
        stream: e.stream().to_owned(),
        stream_version: 0,
        event_id: e.id(),
        kind: e.kind().to_owned(),
        signer: e.signer().to_string(),
        signer_seq: e.seq(),
        occurred_at: e.occurred_at().to_owned(),
        recorded_at: e.occurred(),
        leaf: e.leaf_bytes().to_vec(),
        leaf_hash: e.leaf_hash(),
    }
}

#[path = "projections/hostile.rs"]
mod hostile;
#[path = "projections/load.rs"]
mod load;
#[path = "projections/workforce.rs"]
mod workforce;

// ------------------------------------------------------------------------------------------------------------
// Fixtures

const TODAY: Date = date!(2026 - 03 - 01);
const E1: &str = "91330200MA2AAAAA1K";
const E2: &str = "91330200MA2BBBBB2Y";
const E3: &str = "91330200MA2CCCCC3A";
const NEW_ZONE: &str = "ZONE-QW";

fn city_key() -> SigningKey {
    SigningKey::from_seed(&[0x21; 32])
}

/// The platform's clock as a test's story sets it: the ledger stamps its own records (gap and equivocation notices)
/// with it and refuses records dated more than its allowed skew ahead of it, so a test moves it forward before
/// recording what happens later in its day.
#[derive(Clone)]
struct TestClock(Arc<Mutex<OffsetDateTime>>);

impl TestClock {
    /// Noon on TODAY.
    fn noon() -> TestClock {
        TestClock::at(datetime!(2026-03-01 12:00:00 +08:00))
    }

    fn at(t: OffsetDateTime) -> TestClock {
        TestClock(Arc::new(Mutex::new(t)))
    }

    fn set(&self, t: OffsetDateTime) {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = t;
    }

    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The ledger configuration: the city key is the root of trust; the ledger's clock is `clock`.
fn config_with(clock: &TestClock) -> LedgerConfig {
    let log = NoteSigner::new("test.siteledger.example/log", SigningKey::from_seed(&[0x10; 32])).expect("log signer");
    let mut c = LedgerConfig::new(log, SigningKey::from_seed(&[0x11; 32]));
    c.trust_roots = vec![*city_key().public()];
    c.checkpoint_every = 64;
    c.checkpoint_interval = Duration::from_millis(200);
    let clock = clock.clone();
    c.clock = Arc::new(move || clock.now());
    c
}

/// [`config_with`] a clock fixed at noon on TODAY, so the ledger's own records occur "today".
fn config() -> LedgerConfig {
    config_with(&TestClock::noon())
}

static COUNTER: AtomicU64 = AtomicU64::new(1);

fn new_id() -> Uuid {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut rand = [0u8; 10];
    rand[..8].copy_from_slice(&n.to_be_bytes());
    rand[8..].copy_from_slice(&std::process::id().to_be_bytes()[2..]);
    uuid::Builder::from_unix_timestamp_millis(1_790_000_000_000 + n, &rand).into_uuid()
}

fn enrollment(key: &PublicKey, subject: &str, role: &str) -> Value {
    Value::Object(
        KeyEnrollment {
            key_id: key.key_id().to_string(),
            public_key: key.to_base64(),
            subject: subject.into(),
            role: role.into(),
            valid_from: "2026-01-01T00:00:00+08:00".into(),
            valid_until: Some("2030-01-01T00:00:00+08:00".into()),
        }
        .to_payload(),
    )
}

fn sign(s: &mut KeyedChain, stream: &str, kind: &str, at: &str, payload: Value) -> Envelope {
    let Value::Object(p) = payload else { panic!("payload must be an object") };
    s.sign(new_id(), stream, kind, at, p).expect("sign")
}

fn accepted(out: &[IngestOutcome]) {
    for o in out {
        assert!(matches!(o, IngestOutcome::Accepted { .. }), "{out:?}");
    }
}

fn reading(gw: &mut KeyedChain, project: &str, at: &str, pm10: &str) -> Envelope {
    sign(
        gw,
        &format!("project/{project}/env"),
        "env.dust.reading.v1",
        at,
        json!({"pm10_ug_m3": pm10, "noise_dba": "62.1"}),
    )
}

/// A ledger (SQLite file) with the Ningbo scenario every test uses:
///
/// * zone ZONE-QW added; enterprises E1 (construction), E2 (supervision), E3 (construction);
/// * PRJ1 in 鄞州 330212 (E1, E2), PRJ2 in 鄞州 (E3), PRJ3 in 海曙 330203 (E1), PRJ4 in the new zone (E3, then E2 added
///   and E3 removed);
/// * gateways gw1 (`project/PRJ1/gw-1`) and gw3 (`project/PRJ3/gw-1`), a district key (`330212`) and an
///   enterprise key (E1);
/// * PRJ1: three readings today, alarms A1 (open) and A2 (cleared), then a signer gap of 2 and one more reading;
///   PRJ2: one reading at 17:30Z the day before (= 01:30 today in Shanghai); PRJ3: two readings and alarm A3
///   yesterday, then an equivocation by gw3.
struct Scenario {
    ledger: Ledger<SqliteStore>,
    /// gw1's chain after its last record (seq 9), to sign more.
    gw1_chain: KeyedChain,
    gw1: String,
    gw3: String,
    /// The ledger's clock (noon on TODAY), to move on before recording later events.
    clock: TestClock,
    _dir: tempfile::TempDir,
}

/// A fresh SQLite ledger in a temporary directory whose city bureau (the trusted root) has enrolled itself at
/// `at`; returns the ledger, the city's chain (to sign more) and the directory to keep alive. Its clock stands at
/// noon on TODAY.
async fn rooted_ledger(at: &str) -> (Ledger<SqliteStore>, KeyedChain, tempfile::TempDir) {
    rooted_ledger_at(at, &TestClock::noon()).await
}

/// [`rooted_ledger`] on `clock`.
async fn rooted_ledger_at(at: &str, clock: &TestClock) -> (Ledger<SqliteStore>, KeyedChain, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("ledger.db")).await.expect("open ledger store");
    let l = Ledger::open(store, config_with(clock)).await.expect("open ledger");
    let mut city = KeyedChain::new(city_key());
    let pk = *city.key().public();
    accepted(
        &l.ingest(vec![sign(
            &mut city,
            "registry/keys",
            KEY_ENROLLED_KIND,
            at,
            enrollment(&pk, "宁波市住建局", "city_bureau"),
        )])
        .await
        .expect("root"),
    );
    (l, city, dir)
}

async fn scenario() -> Scenario {
    let reg = "2026-02-01T09:00:00+08:00";
    let clock = TestClock::noon();
    let (l, mut city, dir) = rooted_ledger_at(reg, &clock).await;

    let mut gw1 = KeyedChain::new(SigningKey::from_seed(&[0x31; 32]));
    let mut gw3 = KeyedChain::new(SigningKey::from_seed(&[0x33; 32]));
    let district = SigningKey::from_seed(&[0x41; 32]);
    let enterprise = SigningKey::from_seed(&[0x42; 32]);
    let mut batch = vec![
        sign(
            &mut city,
            "registry/keys",
            KEY_ENROLLED_KIND,
            reg,
            enrollment(gw1.key().public(), "project/PRJ1/gw-1", "gateway"),
        ),
        sign(
            &mut city,
            "registry/keys",
            KEY_ENROLLED_KIND,
            reg,
            enrollment(gw3.key().public(), "project/PRJ3/gw-1", "gateway"),
        ),
        sign(
            &mut city,
            "registry/keys",
            KEY_ENROLLED_KIND,
            reg,
            enrollment(district.public(), "330212", "district_bureau"),
        ),
        sign(&mut city, "registry/keys", KEY_ENROLLED_KIND, reg, enrollment(enterprise.public(), E1, "enterprise")),
        sign(&mut city, "registry/zones", "registry.zone.added.v1", reg, json!({"code": NEW_ZONE, "name": "前湾新区"})),
    ];
    for (code, name, types) in [
        (E1, "宁波建工", json!(["construction"])),
        (E2, "甬城监理", json!(["supervision"])),
        (E3, "海天建设", json!(["construction"])),
    ] {
        batch.push(sign(
            &mut city,
            "registry/enterprises",
            "registry.enterprise.registered.v1",
            reg,
            json!({"credit_code": code, "name": name, "types": types}),
        ));
    }
    for (id, district, cu, parts) in [
        (
            "PRJ1",
            "330212",
            true,
            json!([{"role": "general_contractor", "credit_code": E1}, {"role": "supervisor", "credit_code": E2}]),
        ),
        ("PRJ2", "330212", false, json!([{"role": "general_contractor", "credit_code": E3}])),
        ("PRJ3", "330203", true, json!([{"role": "general_contractor", "credit_code": E1}])),
        ("PRJ4", NEW_ZONE, false, json!([{"role": "general_contractor", "credit_code": E3}])),
    ] {
        batch.push(sign(
            &mut city,
            "registry/projects",
            "registry.project.registered.v1",
            reg,
            json!({
                "project_id": id, "name": format!("项目{id}"), "district": district, "central_urban": cu,
                "floor_area_m2": "12345.67", "contract_cost_fen": 1_250_000_000_i64, "start_date": "2026-01-15",
                "participants": parts,
            }),
        ));
    }
    batch.push(sign(
        &mut city,
        "registry/projects",
        "registry.project.participant_added.v1",
        reg,
        json!({"project_id": "PRJ4", "role": "supervisor", "credit_code": E2}),
    ));
    batch.push(sign(
        &mut city,
        "registry/projects",
        "registry.project.participant_removed.v1",
        reg,
        json!({"project_id": "PRJ4", "role": "general_contractor", "credit_code": E3, "reason": "合同终止"}),
    ));
    accepted(&l.ingest(batch).await.expect("registry"));

    // PRJ1 today; A1 stays open, A2 is cleared.
    let batch = vec![
        reading(&mut gw1, "PRJ1", "2026-03-01T08:00:00+08:00", "85.2"),
        reading(&mut gw1, "PRJ1", "2026-03-01T08:01:00+08:00", "90.1"),
        reading(&mut gw1, "PRJ1", "2026-03-01T08:02:00+08:00", "152.3"),
        sign(
            &mut gw1,
            "project/PRJ1/alarms",
            "alarm.raised.v1",
            "2026-03-01T09:00:00+08:00",
            json!({
            "project_id": "PRJ1", "alarm_id": "A1", "source": "gw-1", "category": "dust", "level": "violation",
            "message": "PM10 超标", "value": "152.3", "threshold": "150"}),
        ),
        sign(
            &mut gw1,
            "project/PRJ1/alarms",
            "alarm.raised.v1",
            "2026-03-01T09:05:00+08:00",
            json!({
            "project_id": "PRJ1", "alarm_id": "A2", "source": "gw-1", "category": "noise", "level": "warning",
            "message": "噪声接近限值"}),
        ),
        sign(
            &mut gw1,
            "project/PRJ1/alarms",
            "alarm.cleared.v1",
            "2026-03-01T09:30:00+08:00",
            json!({
            "project_id": "PRJ1", "alarm_id": "A2", "note": "已整改"}),
        ),
    ];
    accepted(&l.ingest(batch).await.expect("PRJ1"));

    // PRJ2: 17:30Z on 28 February is 01:30 on 1 March in Shanghai.
    let mut gw2 = KeyedChain::new(SigningKey::from_seed(&[0x32; 32]));
    accepted(
        &l.ingest(vec![sign(
            &mut city,
            "registry/keys",
            KEY_ENROLLED_KIND,
            reg,
            enrollment(gw2.key().public(), "gateway-p2", "gateway"),
        )])
        .await
        .expect("gw2"),
    );
    accepted(&l.ingest(vec![reading(&mut gw2, "PRJ2", "2026-02-28T17:30:00Z", "40.0")]).await.expect("PRJ2"));

    // PRJ3 yesterday.
    let first3 = reading(&mut gw3, "PRJ3", "2026-02-28T10:00:00+08:00", "60.0");
    let batch = vec![
        first3.clone(),
        reading(&mut gw3, "PRJ3", "2026-02-28T10:01:00+08:00", "61.0"),
        sign(
            &mut gw3,
            "project/PRJ3/alarms",
            "alarm.raised.v1",
            "2026-02-28T10:02:00+08:00",
            json!({
            "project_id": "PRJ3", "alarm_id": "A3", "source": "gw-1", "category": "dust", "level": "warning",
            "message": "PM10 偏高", "value": "61"}),
        ),
    ];
    accepted(&l.ingest(batch).await.expect("PRJ3"));

    // gw1 skips seq 7 and 8.
    let _seven = reading(&mut gw1, "PRJ1", "2026-03-01T10:00:00+08:00", "70.0");
    let _eight = reading(&mut gw1, "PRJ1", "2026-03-01T10:01:00+08:00", "71.0");
    accepted(&l.ingest(vec![reading(&mut gw1, "PRJ1", "2026-03-01T10:02:00+08:00", "72.0")]).await.expect("gap"));

    // gw3 signs a second, different seq 2.
    let mut twin = KeyedChain::new(SigningKey::from_seed(&[0x33; 32]));
    twin.set_chain(MemoryChain::after(1, first3.leaf_hash()));
    let second = reading(&mut twin, "PRJ3", "2026-02-28T10:01:30+08:00", "99.0");
    let out = l.ingest(vec![second]).await.expect("equivocation");
    assert!(matches!(&out[0], IngestOutcome::Rejected(_)), "{out:?}");

    Scenario {
        gw1: gw1.key().key_id().to_string(),
        gw3: gw3.key().key_id().to_string(),
        gw1_chain: gw1,
        ledger: l,
        clock,
        _dir: dir,
    }
}

fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite:{}", dir.path().join("read.db").display())
}

async fn sqlite_db() -> (ReadDb, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = ReadDb::open(&sqlite_url(&dir)).await.expect("open read db");
    (db, dir)
}

async fn postgres_db() -> ReadDb {
    let url = siteledger_testkit::shared_postgres().create_unique_database("proj").expect("create database");
    ReadDb::open(&url).await.expect("open postgres read db")
}

fn district(code: &str) -> Scope {
    Scope::District(code.into())
}

fn enterprise(code: &str) -> Scope {
    Scope::Enterprise(code.into())
}

fn scopes() -> Vec<Scope> {
    vec![
        Scope::All,
        district("330212"),
        district("330203"),
        district(NEW_ZONE),
        enterprise(E1),
        enterprise(E2),
        enterprise(E3),
        Scope::Nothing,
    ]
}

/// Everything every query answers for one scope.
#[derive(Debug, PartialEq)]
struct Snapshot {
    overview: Vec<DistrictRow>,
    projects: Vec<ProjectRow>,
    details: Vec<Option<ProjectDetail>>,
    timelines: Vec<Vec<TimelineRow>>,
    enterprises: Vec<EnterpriseRow>,
    keys: Vec<KeyRow>,
    alarms: Vec<AlarmRow>,
}

async fn snapshot(db: &ReadDb, scope: &Scope) -> Snapshot {
    let mut details = Vec::new();
    let mut timelines = Vec::new();
    for p in ["PRJ1", "PRJ2", "PRJ3", "PRJ4", "PRJ9"] {
        details.push(db.project(scope, p).await.expect("project"));
        timelines.push(db.project_timeline(scope, p, None, 100).await.expect("timeline"));
    }
    Snapshot {
        overview: db.districts_overview(scope, TODAY).await.expect("overview"),
        projects: db.projects(scope, None).await.expect("projects"),
        details,
        timelines,
        enterprises: db.enterprises(scope).await.expect("enterprises"),
        keys: db.keys_at(scope, datetime!(2026-03-01 12:00:00 +08:00)).await.expect("keys"),
        alarms: db.alarms(scope, &AlarmFilter::default()).await.expect("alarms"),
    }
}

async fn snapshots(db: &ReadDb) -> Vec<Snapshot> {
    let mut out = Vec::new();
    for s in scopes() {
        out.push(snapshot(db, &s).await);
    }
    out
}

async fn all_events(l: &Ledger<SqliteStore>) -> Vec<StoredEvent> {
    l.read_all(0, 100_000).await.expect("read all")
}

fn ids<T>(rows: &[T], f: impl Fn(&T) -> &str) -> Vec<String> {
    rows.iter().map(|r| f(r).to_owned()).collect()
}

fn row<'a>(rows: &'a [DistrictRow], code: &str) -> &'a DistrictRow {
    rows.iter().find(|r| r.code == code).unwrap_or_else(|| panic!("no district {code} in {rows:?}"))
}

fn counts(r: &DistrictRow) -> (u64, u64, u64, u64) {
    (r.projects, r.projects_with_data_today, r.alarms_today, r.open_alarms)
}

// ------------------------------------------------------------------------------------------------------------
// The checks of the scenario, shared by the SQLite and PostgreSQL read databases.

async fn check_overview(db: &ReadDb) {
    let all = db.districts_overview(&Scope::All, TODAY).await.expect("overview");
    assert_eq!(all.len(), 11, "ten fixed districts and the added zone: {all:?}");
    assert_eq!(row(&all, "330212").name, "鄞州区");
    assert_eq!(row(&all, NEW_ZONE).name, "前湾新区");
    // PRJ1 and PRJ2 have data today (PRJ2 only in Shanghai time); A1, A2 and the gap were raised today; A1 and the gap
    // are open.
    assert_eq!(counts(row(&all, "330212")), (2, 2, 3, 2));
    // PRJ3: readings yesterday, A3 yesterday (open), equivocation today (open).
    assert_eq!(counts(row(&all, "330203")), (1, 0, 1, 2));
    assert_eq!(counts(row(&all, NEW_ZONE)), (1, 0, 0, 0));
    assert_eq!(counts(row(&all, "330282")), (0, 0, 0, 0));
    let yesterday = db.districts_overview(&Scope::All, date!(2026 - 02 - 28)).await.expect("overview");
    assert_eq!(counts(row(&yesterday, "330203")), (1, 1, 1, 2));
    assert_eq!(counts(row(&yesterday, "330212")), (2, 0, 0, 2), "17:30Z is not 28 February in Shanghai");

    let d = db.districts_overview(&district("330212"), TODAY).await.expect("overview");
    assert_eq!(d.iter().map(counts).collect::<Vec<_>>(), vec![(2, 2, 3, 2)]);
    assert_eq!(d[0].code, "330212");
    let d = db.districts_overview(&district("330225"), TODAY).await.expect("overview");
    assert_eq!(ids(&d, |r| &r.code), ["330225"], "a district without projects still sees its own row");
    assert_eq!(counts(&d[0]), (0, 0, 0, 0));

    let e1 = db.districts_overview(&enterprise(E1), TODAY).await.expect("overview");
    assert_eq!(ids(&e1, |r| &r.code), ["330203", "330212"]);
    assert_eq!(counts(row(&e1, "330212")), (1, 1, 3, 2), "only PRJ1 counts for E1 in 鄞州");
    assert_eq!(counts(row(&e1, "330203")), (1, 0, 1, 2));
    let e3 = db.districts_overview(&enterprise(E3), TODAY).await.expect("overview");
    assert_eq!(ids(&e3, |r| &r.code), ["330212"], "E3 left PRJ4");
    assert_eq!(counts(&e3[0]), (1, 1, 0, 0));
    let e2 = db.districts_overview(&enterprise(E2), TODAY).await.expect("overview");
    assert_eq!(ids(&e2, |r| &r.code), ["330212", NEW_ZONE]);
    assert!(db.districts_overview(&Scope::Nothing, TODAY).await.expect("overview").is_empty());
}

async fn check_projects(db: &ReadDb, sc: &Scenario) {
    let all = db.projects(&Scope::All, None).await.expect("projects");
    assert_eq!(ids(&all, |p| &p.project_id), ["PRJ1", "PRJ2", "PRJ3", "PRJ4"]);
    let p1 = &all[0];
    assert_eq!((p1.district.as_str(), p1.district_name.as_str(), p1.central_urban), ("330212", "鄞州区", true));
    assert_eq!(
        (p1.floor_area_m2.as_str(), p1.contract_cost_fen, p1.start_date.as_str()),
        ("12345.67", 1_250_000_000, "2026-01-15")
    );
    assert_eq!((p1.participants, p1.events, p1.open_alarms), (2, 7, 2));
    assert_eq!(p1.last_event_at.as_deref(), Some("2026-03-01T10:02:00+08:00"));
    assert_eq!(all[3].district_name, "前湾新区");
    assert_eq!(all[3].participants, 1, "PRJ4: E3 removed, E2 added");
    assert_eq!(ids(&db.projects(&Scope::All, Some("330203")).await.expect("p"), |p| &p.project_id), ["PRJ3"]);
    assert_eq!(ids(&db.projects(&district("330212"), None).await.expect("p"), |p| &p.project_id), ["PRJ1", "PRJ2"]);
    assert!(db.projects(&district("330212"), Some("330203")).await.expect("p").is_empty());
    assert_eq!(ids(&db.projects(&enterprise(E1), None).await.expect("p"), |p| &p.project_id), ["PRJ1", "PRJ3"]);
    assert_eq!(ids(&db.projects(&enterprise(E2), None).await.expect("p"), |p| &p.project_id), ["PRJ1", "PRJ4"]);
    assert_eq!(ids(&db.projects(&enterprise(E3), None).await.expect("p"), |p| &p.project_id), ["PRJ2"]);
    assert!(db.projects(&Scope::Nothing, None).await.expect("p").is_empty());

    let d = db.project(&Scope::All, "PRJ1").await.expect("project").expect("PRJ1 exists");
    let parts: Vec<(&str, &str, Option<&str>)> = d
        .participants
        .iter()
        .map(|p| (p.role.as_str(), p.credit_code.as_str(), p.enterprise_name.as_deref()))
        .collect();
    assert_eq!(parts, [("general_contractor", E1, Some("宁波建工")), ("supervisor", E2, Some("甬城监理"))]);
    let kinds: Vec<(&str, u64)> = d.kinds.iter().map(|k| (k.kind.as_str(), k.events)).collect();
    assert_eq!(kinds, [("alarm.cleared.v1", 1), ("alarm.raised.v1", 2), ("env.dust.reading.v1", 4)]);
    let tiles: Vec<(&str, u64, u64)> = d.tiles.iter().map(|t| (t.subsystem.as_str(), t.events, t.kinds)).collect();
    assert_eq!(tiles, [("alarm", 3, 2), ("env", 4, 1)]);
    assert_eq!(d.tiles[1].last_event_at, "2026-03-01T10:02:00+08:00");
    assert!(db.project(&district("330203"), "PRJ1").await.expect("project").is_none());
    assert!(db.project(&enterprise(E3), "PRJ4").await.expect("project").is_none(), "E3 was removed from PRJ4");
    assert!(db.project(&enterprise(E2), "PRJ4").await.expect("project").is_some());
    assert!(db.project(&Scope::Nothing, "PRJ1").await.expect("project").is_none());
    assert!(db.project(&Scope::All, "PRJ9").await.expect("project").is_none());

    // Timeline: newest first, paged by position.
    let t = db.project_timeline(&Scope::All, "PRJ1", None, 100).await.expect("timeline");
    assert_eq!(t.len(), 7);
    assert!(t.windows(2).all(|w| w[0].position > w[1].position));
    assert_eq!(t[0].summary, "PM10 72.0 µg/m³ 噪声 62.1 dB(A)");
    assert_eq!(t[0].signer, sc.gw1);
    assert!(t.iter().any(|r| r.kind == "alarm.raised.v1" && r.summary.starts_with("违规 dust: PM10 超标")), "{t:?}");
    let page = db.project_timeline(&Scope::All, "PRJ1", Some(t[2].position), 2).await.expect("page");
    assert_eq!(page, t[3..5].to_vec());
    assert_eq!(db.project_timeline(&district("330212"), "PRJ1", None, 100).await.expect("t"), t);
    assert_eq!(db.project_timeline(&enterprise(E2), "PRJ1", None, 100).await.expect("t"), t);
    assert!(db.project_timeline(&district("330203"), "PRJ1", None, 100).await.expect("t").is_empty());
    assert!(db.project_timeline(&enterprise(E3), "PRJ1", None, 100).await.expect("t").is_empty());
    assert!(db.project_timeline(&Scope::Nothing, "PRJ1", None, 100).await.expect("t").is_empty());
    let p2 = db.project_timeline(&Scope::All, "PRJ2", None, 100).await.expect("t");
    assert_eq!(p2.len(), 1);
    assert_eq!(p2[0].occurred_at, "2026-02-28T17:30:00Z", "occurred_at is kept exactly as signed");
}

async fn check_enterprises_and_keys(db: &ReadDb, sc: &Scenario) {
    let all = db.enterprises(&Scope::All).await.expect("enterprises");
    assert_eq!(ids(&all, |e| &e.credit_code), [E1, E2, E3]);
    assert_eq!(all[0].types, ["construction"]);
    assert_eq!(all.iter().map(|e| e.projects).collect::<Vec<_>>(), [2, 2, 1]);
    assert_eq!(ids(&db.enterprises(&district("330212")).await.expect("e"), |e| &e.credit_code), [E1, E2, E3]);
    assert_eq!(ids(&db.enterprises(&district("330203")).await.expect("e"), |e| &e.credit_code), [E1]);
    assert_eq!(ids(&db.enterprises(&district(NEW_ZONE)).await.expect("e"), |e| &e.credit_code), [E2]);
    let e1 = db.enterprises(&enterprise(E1)).await.expect("e");
    assert_eq!(ids(&e1, |e| &e.credit_code), [E1, E2], "itself and its partner in PRJ1");
    assert_eq!(e1.iter().map(|e| e.projects).collect::<Vec<_>>(), [2, 1], "E2's PRJ4 is not visible to E1");
    assert_eq!(ids(&db.enterprises(&enterprise(E3)).await.expect("e"), |e| &e.credit_code), [E3]);
    assert!(db.enterprises(&Scope::Nothing).await.expect("e").is_empty());

    let now = datetime!(2026-03-01 12:00:00 +08:00);
    let keys = db.keys_at(&Scope::All, now).await.expect("keys");
    assert_eq!(keys.len(), 7, "system, city, gw1, gw3, district, enterprise, gw2: {keys:?}");
    assert!(keys.iter().all(|k| k.status == KeyStatus::Active), "{keys:?}");
    let gw1 = keys.iter().find(|k| k.key_id == sc.gw1).expect("gw1");
    assert_eq!(gw1.project_id.as_deref(), Some("PRJ1"));
    assert_eq!((gw1.records, gw1.gaps, gw1.missing, gw1.equivocations, gw1.last_seq), (7, 1, 2, 0, Some(9)));
    assert_eq!(gw1.last_occurred_at.as_deref(), Some("2026-03-01T10:02:00+08:00"));
    let gw3 = keys.iter().find(|k| k.key_id == sc.gw3).expect("gw3");
    assert_eq!((gw3.records, gw3.gaps, gw3.equivocations), (3, 0, 1));
    let city = keys.iter().find(|k| k.role == "city_bureau").expect("city");
    assert_eq!(city.enrolled_by, city.key_id, "the root enrolled itself");
    assert_eq!(city.records, 16);
    let subjects = |rows: Vec<KeyRow>| {
        let mut s: Vec<String> = rows.into_iter().map(|k| k.subject).collect();
        s.sort();
        s
    };
    assert_eq!(subjects(db.keys_at(&district("330212"), now).await.expect("k")), ["330212", "project/PRJ1/gw-1"]);
    assert_eq!(subjects(db.keys_at(&district("330203"), now).await.expect("k")), ["project/PRJ3/gw-1"]);
    assert_eq!(
        subjects(db.keys_at(&enterprise(E1), now).await.expect("k")),
        [E1, "project/PRJ1/gw-1", "project/PRJ3/gw-1"]
    );
    assert!(db.keys_at(&enterprise(E3), now).await.expect("k").is_empty());
    assert!(db.keys_at(&Scope::Nothing, now).await.expect("k").is_empty());
    let later = db.keys_at(&Scope::All, datetime!(2031-01-01 00:00:00 +08:00)).await.expect("keys");
    assert!(later.iter().filter(|k| k.role != "ledger").all(|k| k.status == KeyStatus::Expired));

    // Pages of three, each after the last key of the one before, are the whole list in its order.
    let mut paged: Vec<KeyRow> = Vec::new();
    loop {
        let after = paged.last().map(|k| (k.position, k.key_id.clone()));
        let page = KeyPage { after, limit: Some(3), problems: false };
        let rows = db.keys_page(&Scope::All, now, &page).await.expect("page");
        let last = rows.len() < 3;
        paged.extend(rows);
        if last {
            break;
        }
    }
    assert_eq!(paged, keys);
    let problems = KeyPage { problems: true, ..KeyPage::default() };
    let flagged = db.keys_page(&Scope::All, now, &problems).await.expect("problems");
    assert_eq!(flagged.iter().map(|k| k.key_id.as_str()).collect::<Vec<_>>(), [sc.gw1.as_str(), sc.gw3.as_str()]);
    let counts = db.key_counts(&Scope::All, now).await.expect("counts");
    assert_eq!(counts, KeyCounts { total: 7, active: 7, with_gaps: 1, with_equivocations: 1 });
    assert_eq!(db.key_counts(&district("330203"), now).await.expect("counts").total, 1);
    // A cursor is a key the caller sees.
    assert!(db.key_position(&Scope::All, &sc.gw1).await.expect("position").is_some());
    assert_eq!(db.key_position(&district("330203"), &sc.gw1).await.expect("position"), None);
}

async fn check_alarms(db: &ReadDb, sc: &Scenario) {
    let all = db.alarms(&Scope::All, &AlarmFilter::default()).await.expect("alarms");
    assert_eq!(all.len(), 5, "{all:?}");
    assert!(all.windows(2).all(|w| w[0].position > w[1].position), "newest first");
    let a1 = all.iter().find(|a| a.alarm_id == "A1").expect("A1");
    assert_eq!((a1.project_id.as_deref(), a1.level.as_str(), a1.open), (Some("PRJ1"), "violation", true));
    assert_eq!((a1.value.as_deref(), a1.threshold.as_deref()), (Some("152.3"), Some("150")));
    let a2 = all.iter().find(|a| a.alarm_id == "A2").expect("A2");
    assert!(!a2.open);
    assert_eq!(
        (a2.cleared_note.as_deref(), a2.cleared_at.as_deref()),
        (Some("已整改"), Some("2026-03-01T09:30:00+08:00"))
    );
    assert!(a2.cleared_position.is_some_and(|p| p > a2.position));
    let a3 = all.iter().find(|a| a.alarm_id == "A3").expect("A3");
    assert_eq!(a3.value.as_deref(), Some("61"), "integer values are kept as text");
    let gap = all.iter().find(|a| a.category == "data_gap").expect("gap alarm");
    assert_eq!(
        (gap.project_id.as_deref(), gap.level.as_str(), gap.source.as_str()),
        (Some("PRJ1"), "violation", "ledger")
    );
    assert_eq!((gap.key_id.as_deref(), gap.value.as_deref(), gap.open), (Some(sc.gw1.as_str()), Some("2"), true));
    let eq = all.iter().find(|a| a.category == "equivocation").expect("equivocation alarm");
    assert_eq!((eq.project_id.as_deref(), eq.key_id.as_deref()), (Some("PRJ3"), Some(sc.gw3.as_str())));
    assert_eq!(eq.raised_at, "2026-03-01T12:00:00+08:00");

    let open = db.alarms(&Scope::All, &AlarmFilter { open_only: true, ..Default::default() }).await.expect("a");
    assert_eq!(open.len(), 4);
    let p3 =
        db.alarms(&Scope::All, &AlarmFilter { project: Some("PRJ3".into()), ..Default::default() }).await.expect("a");
    assert_eq!(p3.len(), 2);
    let since = AlarmFilter { since: Some(datetime!(2026-03-01 00:00:00 +08:00)), ..Default::default() };
    assert_eq!(db.alarms(&Scope::All, &since).await.expect("a").len(), 4);
    let limited = db.alarms(&Scope::All, &AlarmFilter { limit: Some(2), ..Default::default() }).await.expect("a");
    assert_eq!(limited, all[..2].to_vec());
    let d = db.alarms(&district("330212"), &AlarmFilter::default()).await.expect("a");
    assert_eq!(d.len(), 3);
    assert!(d.iter().all(|a| a.project_id.as_deref() == Some("PRJ1")));
    let d = db
        .alarms(&district("330212"), &AlarmFilter { project: Some("PRJ3".into()), ..Default::default() })
        .await
        .expect("a");
    assert!(d.is_empty(), "a filter cannot widen the scope");
    assert_eq!(db.alarms(&enterprise(E1), &AlarmFilter::default()).await.expect("a").len(), 5);
    assert!(db.alarms(&enterprise(E3), &AlarmFilter::default()).await.expect("a").is_empty());
    assert!(db.alarms(&Scope::Nothing, &AlarmFilter::default()).await.expect("a").is_empty());
}

fn check_access(db: &ReadDb) {
    let access = db.project_access("PRJ4").expect("PRJ4 access");
    assert_eq!((access.district.as_str(), access.participants.as_slice()), (NEW_ZONE, [E2.to_owned()].as_slice()));
    assert!(db.project_access("PRJ9").is_none());
    let cache = db.access_cache();
    let cases: &[(Scope, &str, bool)] = &[
        (Scope::All, "project/PRJ1/env", true),
        (Scope::All, "project/PRJ9/env", true),
        (Scope::All, "other/x", true),
        (district("330212"), "project/PRJ1/env", true),
        (district("330212"), "project/PRJ3/env", false),
        (district("330212"), "project/PRJ9/env", false),
        (district("330212"), "registry/projects", true),
        (district("330212"), "ledger/signer/abc", true),
        (district("330212"), "other/x", false),
        (enterprise(E2), "project/PRJ4/env", true),
        (enterprise(E3), "project/PRJ4/env", false),
        (enterprise(E3), "project/PRJ2/alarms", true),
        (enterprise(E3), "other/x", false),
        (Scope::Nothing, "project/PRJ1/env", false),
        (Scope::Nothing, "registry/projects", false),
        (Scope::Nothing, "ledger/keys", true),
        (Scope::Nothing, "other/x", false),
    ];
    for (scope, stream, expected) in cases {
        assert_eq!(cache.allows(scope, stream), *expected, "{scope:?} on {stream}");
    }
}

async fn check_all(db: &ReadDb, sc: &Scenario) {
    check_overview(db).await;
    check_projects(db, sc).await;
    check_enterprises_and_keys(db, sc).await;
    check_alarms(db, sc).await;
    check_access(db);
}

// ------------------------------------------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn fixed_districts_exist_without_events() {
    let (db, _dir) = sqlite_db().await;
    let rows = db.districts_overview(&Scope::All, TODAY).await.expect("overview");
    let names: Vec<(&str, &str)> = rows.iter().map(|r| (r.code.as_str(), r.name.as_str())).collect();
    assert_eq!(
        names,
        [
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
        ]
    );
    assert!(rows.iter().all(|r| counts(r) == (0, 0, 0, 0)));
    assert_eq!(db.applied(), 0);
    assert_eq!(db.backend(), "sqlite");
    let cps = db.checkpoints().await.expect("checkpoints");
    assert_eq!(
        cps.iter().map(|(n, p)| (n.as_str(), *p)).collect::<Vec<_>>(),
        [
            ("activity", 0),
            ("alarms", 0),
            ("citations", 0),
            ("keys", 0),
            ("rating", 0),
            ("registry", 0),
            ("site", 0),
            ("supervision", 0),
            ("workforce", 0)
        ]
    );
    assert!(matches!(ReadDb::open("mysql://x").await, Err(ProjectionError::UnsupportedUrl(_))));
}

#[tokio::test]
async fn scenario_folds_into_sqlite_read_models_with_scopes() {
    let sc = scenario().await;
    let (db, _dir) = sqlite_db().await;
    assert_eq!(db.lag(sc.ledger.head()), sc.ledger.head(), "nothing applied yet");
    let applied = catch_up(&sc.ledger, &db).await.expect("catch up");
    assert_eq!(applied, sc.ledger.head());
    assert_eq!(db.lag(sc.ledger.head()), 0);
    check_all(&db, &sc).await;
}

#[tokio::test]
async fn scenario_folds_into_postgres_read_models_identically() {
    let sc = scenario().await;
    let pg = postgres_db().await;
    assert_eq!(pg.backend(), "postgres");
    catch_up(&sc.ledger, &pg).await.expect("catch up");
    check_all(&pg, &sc).await;
    // The same log gives the same answers on both backends, for every scope.
    let (lite, _dir) = sqlite_db().await;
    catch_up(&sc.ledger, &lite).await.expect("catch up");
    assert_eq!(snapshots(&pg).await, snapshots(&lite).await);
}

#[tokio::test]
async fn rebuild_from_zero_gives_identical_results() {
    let sc = scenario().await;
    let (db, _dir) = sqlite_db().await;
    catch_up(&sc.ledger, &db).await.expect("catch up");
    let before = snapshots(&db).await;
    let head = rebuild(&sc.ledger, &db).await.expect("rebuild");
    assert_eq!(head, sc.ledger.head());
    assert_eq!(snapshots(&db).await, before);
    check_access(&db);

    // Batch boundaries do not matter: one event per transaction gives the same read models.
    let (one_by_one, _dir2) = sqlite_db().await;
    for e in all_events(&sc.ledger).await {
        assert_eq!(apply_events(&one_by_one, std::slice::from_ref(&e)).await.expect("apply"), 1);
    }
    assert_eq!(snapshots(&one_by_one).await, before);

    // And on PostgreSQL.
    let pg = postgres_db().await;
    catch_up(&sc.ledger, &pg).await.expect("catch up");
    rebuild(&sc.ledger, &pg).await.expect("rebuild");
    assert_eq!(snapshots(&pg).await, before);
}

#[tokio::test]
async fn redelivered_events_are_not_double_counted() {
    let mut sc = scenario().await;
    let events = all_events(&sc.ledger).await;
    let n = events.len();
    let half = n / 2;
    let dir = tempfile::tempdir().expect("tempdir");
    let url = sqlite_url(&dir);
    {
        let db = ReadDb::open(&url).await.expect("open");
        assert_eq!(apply_events(&db, &events[..half]).await.expect("apply"), half);
        // "Crash": the process goes away right after the commit, before anything else.
        db.close().await;
    }
    let db = ReadDb::open(&url).await.expect("reopen");
    assert_eq!(db.applied(), half as u64, "the checkpoint committed with the rows");
    // The subscriber restarts from an older position (at-least-once delivery): only the new part applies.
    assert_eq!(apply_events(&db, &events[..]).await.expect("apply"), n - half);
    assert_eq!(apply_events(&db, &events[..]).await.expect("apply"), 0);
    assert_eq!(apply_events(&db, &events[1..3]).await.expect("apply"), 0);
    check_all(&db, &sc).await;

    let (fresh, _dir2) = sqlite_db().await;
    catch_up(&sc.ledger, &fresh).await.expect("catch up");
    assert_eq!(snapshots(&db).await, snapshots(&fresh).await);

    // A slice that skips positions is refused and changes nothing.
    for i in 0..3 {
        let out = sc
            .ledger
            .ingest(vec![reading(&mut sc.gw1_chain, "PRJ1", &format!("2026-03-01T11:0{i}:00+08:00"), "50.0")])
            .await;
        accepted(&out.expect("ingest"));
    }
    let more = sc.ledger.read_all(n as u64 + 1, 10).await.expect("read");
    let err = apply_events(&db, &more).await.expect_err("gap");
    assert!(
        matches!(err, ProjectionError::NotContiguous { expected, found, .. } if expected == n as u64 && found == n as u64 + 1),
        "{err}"
    );
    assert_eq!(db.applied(), n as u64);
    assert_eq!(snapshots(&db).await, snapshots(&fresh).await);
}

#[tokio::test]
async fn redelivery_on_postgres_is_not_double_counted() {
    let sc = scenario().await;
    let events = all_events(&sc.ledger).await;
    let url = siteledger_testkit::shared_postgres().create_unique_database("proj").expect("create database");
    {
        let db = ReadDb::open(&url).await.expect("open");
        apply_events(&db, &events[..10]).await.expect("apply");
        db.close().await;
    }
    let db = ReadDb::open(&url).await.expect("reopen");
    assert_eq!(db.applied(), 10);
    // Two appliers race over overlapping ranges: the checkpoint rows are locked, each event applies once.
    let (a, b) = tokio::join!(apply_events(&db, &events[..]), apply_events(&db, &events[5..]));
    assert_eq!(a.expect("a") + b.expect("b"), events.len() - 10);
    check_all(&db, &sc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_follows_the_ledger_reports_lag_and_stops_on_shutdown() {
    let mut sc = scenario().await;
    let (db, _dir) = sqlite_db().await;
    let mut applied = db.watch_applied();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let runner = tokio::spawn(run(sc.ledger.clone(), db.clone(), async move {
        let _ = stopped.await;
    }));
    let head = sc.ledger.head();
    tokio::time::timeout(Duration::from_secs(20), applied.wait_for(|a| *a >= head))
        .await
        .expect("caught up")
        .expect("watch");
    assert_eq!(db.lag(sc.ledger.head()), 0);
    check_all(&db, &sc).await;

    // Live: new records arrive while the runner follows.
    let mut batch = Vec::new();
    for i in 0..50 {
        batch.push(reading(&mut sc.gw1_chain, "PRJ1", &format!("2026-03-01T11:{i:02}:00+08:00"), "50.0"));
    }
    accepted(&sc.ledger.ingest(batch).await.expect("ingest"));
    let head = sc.ledger.head();
    tokio::time::timeout(Duration::from_secs(20), applied.wait_for(|a| *a >= head))
        .await
        .expect("live")
        .expect("watch");
    let p1 = db.project(&Scope::All, "PRJ1").await.expect("project").expect("PRJ1");
    assert_eq!(p1.project.events, 57);

    // A rebuild while the runner is live: both fold, each event applies exactly once.
    rebuild(&sc.ledger, &db).await.expect("rebuild");
    tokio::time::timeout(Duration::from_secs(20), applied.wait_for(|a| *a >= head))
        .await
        .expect("rebuilt")
        .expect("watch");
    let p1 = db.project(&Scope::All, "PRJ1").await.expect("project").expect("PRJ1");
    assert_eq!(p1.project.events, 57);
    let (fresh, _dir2) = sqlite_db().await;
    catch_up(&sc.ledger, &fresh).await.expect("catch up");
    assert_eq!(snapshots(&db).await, snapshots(&fresh).await);

    stop.send(()).expect("runner alive");
    tokio::time::timeout(Duration::from_secs(10), runner).await.expect("stops").expect("join").expect("run ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_on_postgres_read_db() {
    let sc = scenario().await;
    let db = postgres_db().await;
    let mut applied = db.watch_applied();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let runner = tokio::spawn(run(sc.ledger.clone(), db.clone(), async move {
        let _ = stopped.await;
    }));
    let head = sc.ledger.head();
    tokio::time::timeout(Duration::from_secs(20), applied.wait_for(|a| *a >= head))
        .await
        .expect("caught up")
        .expect("watch");
    check_all(&db, &sc).await;
    stop.send(()).expect("runner alive");
    tokio::time::timeout(Duration::from_secs(10), runner).await.expect("stops").expect("join").expect("run ok");
}

#[tokio::test]
async fn alarms_open_and_clear_incrementally() {
    let at = "2026-03-01T08:00:00+08:00";
    let (l, mut city, _dir) = rooted_ledger(at).await;
    let (db, _d) = sqlite_db().await;
    accepted(
        &l.ingest(vec![sign(
            &mut city,
            "registry/projects",
            "registry.project.registered.v1",
            at,
            json!({
            "project_id": "PRJQ1", "name": "PRJQ1", "district": "330205", "central_urban": false, "floor_area_m2": "1",
            "contract_cost_fen": 1, "start_date": "2026-01-01", "participants": []}),
        )])
        .await
        .expect("project"),
    );
    let raise = |city: &mut KeyedChain, id: &str| {
        sign(
            city,
            "project/PRJQ1/alarms",
            "alarm.raised.v1",
            "2026-03-01T09:00:00+08:00",
            json!({
            "project_id": "PRJQ1", "alarm_id": id, "source": "rules", "category": "noise", "level": "warning", "message": "m"}),
        )
    };
    let clear = |city: &mut KeyedChain, id: &str| {
        sign(
            city,
            "project/PRJQ1/alarms",
            "alarm.cleared.v1",
            "2026-03-01T10:00:00+08:00",
            json!({
            "project_id": "PRJQ1", "alarm_id": id, "note": "ok"}),
        )
    };
    let open_count = |rows: Vec<DistrictRow>| row(&rows, "330205").open_alarms;

    accepted(&l.ingest(vec![raise(&mut city, "X1"), raise(&mut city, "X2")]).await.expect("raise"));
    catch_up(&l, &db).await.expect("catch up");
    assert_eq!(open_count(db.districts_overview(&Scope::All, TODAY).await.expect("o")), 2);

    accepted(&l.ingest(vec![clear(&mut city, "X1")]).await.expect("clear"));
    catch_up(&l, &db).await.expect("catch up");
    assert_eq!(open_count(db.districts_overview(&Scope::All, TODAY).await.expect("o")), 1);
    let open = db.alarms(&Scope::All, &AlarmFilter { open_only: true, ..Default::default() }).await.expect("a");
    assert_eq!(ids(&open, |a| &a.alarm_id), ["X2"]);

    // Clearing twice or clearing an unknown alarm changes nothing; raising again reopens.
    accepted(&l.ingest(vec![clear(&mut city, "X1"), clear(&mut city, "NOPE")]).await.expect("clear"));
    catch_up(&l, &db).await.expect("catch up");
    let x1 = db.alarms(&Scope::All, &AlarmFilter::default()).await.expect("a");
    let x1 = x1.iter().find(|a| a.alarm_id == "X1").expect("X1");
    assert!(!x1.open);
    accepted(&l.ingest(vec![raise(&mut city, "X1")]).await.expect("raise again"));
    catch_up(&l, &db).await.expect("catch up");
    assert_eq!(open_count(db.districts_overview(&Scope::All, TODAY).await.expect("o")), 2);
    assert_eq!(db.alarms(&Scope::All, &AlarmFilter::default()).await.expect("a").len(), 2);
}

#[tokio::test]
async fn gaps_and_equivocations_of_non_project_keys() {
    // A gateway whose subject names no project: the gap alarm takes the project of the record that revealed it,
    // the equivocation alarm the project of the refused record's stream.
    let dir = tempfile::tempdir().expect("tempdir");
    let l = Ledger::open(SqliteStore::open(&dir.path().join("l.db")).await.expect("store"), config())
        .await
        .expect("ledger");
    let (db, _d) = sqlite_db().await;
    let mut city = KeyedChain::new(city_key());
    let at = "2026-02-01T08:00:00+08:00";
    let pk = *city.key().public();
    let mut gw = KeyedChain::new(SigningKey::from_seed(&[0x55; 32]));
    accepted(
        &l.ingest(vec![
            sign(&mut city, "registry/keys", KEY_ENROLLED_KIND, at, enrollment(&pk, "宁波市住建局", "city_bureau")),
            sign(
                &mut city,
                "registry/keys",
                KEY_ENROLLED_KIND,
                at,
                enrollment(gw.key().public(), "gateway-55", "gateway"),
            ),
        ])
        .await
        .expect("keys"),
    );
    let first = reading(&mut gw, "Z1", "2026-03-01T08:00:00+08:00", "1.0");
    accepted(&l.ingest(vec![first.clone()]).await.expect("first"));
    let _skipped = reading(&mut gw, "Z1", "2026-03-01T08:01:00+08:00", "2.0");
    accepted(&l.ingest(vec![reading(&mut gw, "Z2", "2026-03-01T08:02:00+08:00", "3.0")]).await.expect("gap"));
    let mut twin = KeyedChain::new(SigningKey::from_seed(&[0x55; 32]));
    let out = l.ingest(vec![reading(&mut twin, "Z3", "2026-03-01T08:00:30+08:00", "9.0")]).await.expect("eq");
    assert!(matches!(&out[0], IngestOutcome::Rejected(_)), "{out:?}");
    catch_up(&l, &db).await.expect("catch up");

    let alarms = db.alarms(&Scope::All, &AlarmFilter::default()).await.expect("alarms");
    let by_cat = |c: &str| alarms.iter().find(|a| a.category == c).unwrap_or_else(|| panic!("{c}: {alarms:?}"));
    assert_eq!(by_cat("data_gap").project_id.as_deref(), Some("Z2"));
    assert_eq!(by_cat("data_gap").value.as_deref(), Some("1"));
    assert_eq!(by_cat("equivocation").project_id.as_deref(), Some("Z3"));
    // Z1–Z3 are not registered: only the city sees these alarms.
    assert!(db.alarms(&district("330203"), &AlarmFilter::default()).await.expect("a").is_empty());
    let keys = db.keys(&Scope::All).await.expect("keys");
    let k = keys.iter().find(|k| k.subject == "gateway-55").expect("gw");
    assert_eq!((k.records, k.gaps, k.missing, k.equivocations), (2, 1, 1, 1));
}

#[tokio::test]
async fn version_changes_rebuild_only_what_changed() {
    let sc = scenario().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let url = sqlite_url(&dir);
    let db = ReadDb::open(&url).await.expect("open");
    catch_up(&sc.ledger, &db).await.expect("catch up");
    let before = snapshots(&db).await;
    let head = sc.ledger.head() as i64;
    db.close().await;

    let raw = sqlx::SqlitePool::connect(&url).await.expect("raw");
    sqlx::query("UPDATE projection_checkpoints SET version = 0 WHERE name = 'alarms'")
        .execute(&raw)
        .await
        .expect("bump");
    raw.close().await;
    let db = ReadDb::open(&url).await.expect("reopen");
    let cps = db.checkpoints().await.expect("cps");
    let cp = |name: &str| cps.iter().find(|(n, _)| n == name).map(|(_, p)| *p as i64);
    assert_eq!((cp("alarms"), cp("registry"), cp("keys")), (Some(0), Some(head), Some(head)));
    assert_eq!(db.applied(), 0);
    assert!(db.alarms(&Scope::All, &AlarmFilter::default()).await.expect("a").is_empty(), "alarms were cleared");
    assert_eq!(db.projects(&Scope::All, None).await.expect("p").len(), 4, "other projections are kept");
    catch_up(&sc.ledger, &db).await.expect("catch up");
    assert_eq!(snapshots(&db).await, before);
    db.close().await;

    let raw = sqlx::SqlitePool::connect(&url).await.expect("raw");
    sqlx::query("UPDATE meta SET value = '0' WHERE key = 'schema_version'").execute(&raw).await.expect("downgrade");
    raw.close().await;
    let db = ReadDb::open(&url).await.expect("reopen");
    assert!(db.checkpoints().await.expect("cps").iter().all(|(_, p)| *p == 0), "a schema change rebuilds everything");
    assert!(db.projects(&Scope::All, None).await.expect("p").is_empty());
    assert!(db.project_access("PRJ1").is_none());
    catch_up(&sc.ledger, &db).await.expect("catch up");
    assert_eq!(snapshots(&db).await, before);
    assert!(db.project_access("PRJ1").is_some());
}

#[tokio::test]
async fn now_based_queries_work() {
    // `keys` judges status at the current time and `today` is Shanghai's date; smoke-test both.
    let sc = scenario().await;
    let (db, _dir) = sqlite_db().await;
    catch_up(&sc.ledger, &db).await.expect("catch up");
    let keys = db.keys(&Scope::All).await.expect("keys");
    assert_eq!(keys.len(), 7);
    let now = OffsetDateTime::now_utc();
    if now < datetime!(2030-01-01 00:00:00 +08:00) {
        assert!(keys.iter().all(|k| k.status == KeyStatus::Active));
    }
    let today = ReadDb::today();
    assert_eq!(db.districts_overview(&Scope::All, today).await.expect("o").len(), 11);
}

#[path = "projections/camera_online.rs"]
mod camera_online;
#[path = "projections/rating.rs"]
mod rating;
#[path = "projections/retention.rs"]
mod retention;
#[path = "projections/site.rs"]
mod site;
#[path = "projections/site_summary.rs"]
mod site_summary;
#[path = "projections/supervision.rs"]
mod supervision;
