//! Admission-state snapshots (issue 16): the ledger stores the domain policy's state at checkpoints, reopens from the
//! newest snapshot that matches the log and replays only the records after it; the restored state is byte for byte a
//! from-zero replay's; a corrupted snapshot is refused and the ledger falls back; admission decisions do not change.
//! Rows read at open are counted (`LedgerStats::replay_rows_read`), never timed.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};
use siteledger_domain::registry::{
    EnterpriseRegistered, EnterpriseType, Participant, ParticipantRole, ProjectRegistered, RegistryEvent,
};
use siteledger_domain::{AreaM2, CreditCode, DistrictCode, DomainEvent, LocalDate, MoneyFen, Name, ProjectId};
use siteledger_ledger::snapshot::verify_newest;
use siteledger_ledger::system::{KEY_ENROLLED_KIND, Policy};
use siteledger_ledger::{DomainPolicy, EventStore, IngestOutcome, Ledger, LedgerConfig};
use siteledger_signer::merkle::Hash;
use siteledger_signer::{Envelope, SigningKey, UnsignedEnvelope};

use crate::common::{Backend, Postgres, Sqlite, config, enrollment, new_id};

const PROJECT: &str = "NB-2026-0001";
const WORKERS: u32 = 12;
/// A snapshot with the first checkpoint at least this many records after the last one.
const SNAPSHOT_EVERY: u64 = 100;

/// A key holder signing its own chain (`seq`, `prev`) directly with the signer's envelope API.
struct Party {
    key: SigningKey,
    role: &'static str,
    subject: String,
    seq: u64,
    prev: Option<Hash>,
}

impl Party {
    fn new(seed: u8, role: &'static str, subject: &str) -> Party {
        Party { key: SigningKey::from_seed(&[seed; 32]), role, subject: subject.to_owned(), seq: 0, prev: None }
    }

    fn sign(&mut self, stream: &str, kind: &str, at: &str, payload: Map<String, Value>) -> Envelope {
        let env = UnsignedEnvelope {
            id: new_id(),
            stream: stream.to_owned(),
            kind: kind.to_owned(),
            occurred_at: at.to_owned(),
            seq: self.seq + 1,
            prev: self.prev,
            payload,
        }
        .sign(&self.key)
        .expect("sign");
        self.seq += 1;
        self.prev = Some(env.leaf_hash());
        env
    }

    /// `by`'s record enrolling this party's key.
    fn enrolled_by(&self, by: &mut Party) -> Envelope {
        by.sign(
            "ledger/keys",
            KEY_ENROLLED_KIND,
            "2026-01-02T08:00:00+08:00",
            enrollment(self.key.public(), &self.subject, self.role),
        )
    }
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn credit_code(first17: &str) -> CreditCode {
    let check = CreditCode::check_character(first17).expect("17 valid characters");
    CreditCode::parse(&format!("{first17}{check}")).expect("computed check character")
}

fn person(n: u32) -> String {
    format!("P-{n:032x}")
}

/// The city bureau (a root of trust), a general contractor and the project's gate/dust gateway.
struct City {
    city: Party,
    enterprise: Party,
    gateway: Party,
    gc: CreditCode,
    readings: u32,
}

impl City {
    fn new() -> City {
        let gc = credit_code("91330200MA2C00003");
        City {
            city: Party::new(0x21, "city_bureau", "宁波市住建局"),
            enterprise: Party::new(0x22, "enterprise", gc.as_str()),
            gateway: Party::new(0x23, "gateway", &format!("project/{PROJECT}/gateway/GW-01")),
            gc,
            readings: 0,
        }
    }

    /// Everything the admission state remembers: the city's root key, two enterprises, the project, the enterprise
    /// and gateway keys, a team and `WORKERS` workers under contract and on site.
    fn setup(&mut self) -> Vec<Envelope> {
        let mut out = Vec::new();
        let city_pk = *self.city.key.public();
        out.push(self.city.sign(
            "ledger/keys",
            KEY_ENROLLED_KIND,
            "2026-01-01T08:00:00+08:00",
            enrollment(&city_pk, "宁波市住建局", "city_bureau"),
        ));
        let owner = credit_code("91330212MA2A00001");
        let registry = |e: RegistryEvent| DomainEvent::Registry(e).to_payload();
        for (code, t) in [(&owner, EnterpriseType::Owner), (&self.gc, EnterpriseType::Construction)] {
            let p = registry(RegistryEvent::EnterpriseRegistered(EnterpriseRegistered {
                credit_code: code.clone(),
                name: Name::parse(&format!("企业{}", code.as_str())).expect("name"),
                types: vec![t],
            }));
            out.push(self.city.sign(
                "registry/orgs",
                "registry.enterprise.registered.v1",
                "2026-03-01T09:00:00+08:00",
                p,
            ));
        }
        let project = registry(RegistryEvent::ProjectRegistered(ProjectRegistered {
            project_id: ProjectId::parse(PROJECT).expect("project id"),
            name: Name::parse("快照测试住宅项目").expect("name"),
            district: DistrictCode::parse("330212").expect("district"),
            central_urban: true,
            floor_area_m2: AreaM2::parse("52000.5").expect("area"),
            contract_cost_fen: MoneyFen::parse(12_000_000_000).expect("money"),
            start_date: LocalDate::parse("2026-03-01").expect("date"),
            participants: vec![
                Participant { role: ParticipantRole::Owner, credit_code: owner },
                Participant { role: ParticipantRole::GeneralContractor, credit_code: self.gc.clone() },
            ],
        }));
        out.push(self.city.sign(
            "registry/orgs",
            "registry.project.registered.v1",
            "2026-03-01T09:00:00+08:00",
            project,
        ));
        out.push(self.enterprise.enrolled_by(&mut self.city));
        out.push(self.gateway.enrolled_by(&mut self.city));
        let wf = format!("project/{PROJECT}/workforce");
        let at = "2026-04-01T08:00:00+08:00";
        let team = json!({"project_id": PROJECT, "team_id": "T1", "name": "钢筋班组", "employer": self.gc.as_str()});
        out.push(self.enterprise.sign(&wf, "worker.team.formed.v1", at, obj(team)));
        for w in 0..WORKERS {
            let records = [
                (
                    "worker.registered.v1",
                    json!({"project_id": PROJECT, "person_ref": person(w), "id_type": "01",
                           "id_commitment": format!("hmac-sha256:{w:064x}"), "id_masked": "3302**********123X",
                           "birth_month": "1980-01", "employer": self.gc.as_str(), "team_id": "T1", "trade": "020",
                           "work_role": "20"}),
                ),
                (
                    "worker.contract.signed.v1",
                    json!({"project_id": PROJECT, "person_ref": person(w), "contract_id": format!("C{w}"),
                           "employer": self.gc.as_str(), "period_type": "0", "start_date": "2026-04-01",
                           "end_date": null}),
                ),
                ("worker.entered.v1", json!({"project_id": PROJECT, "person_ref": person(w), "date": "2026-04-01"})),
            ];
            for (kind, payload) in records {
                out.push(self.enterprise.sign(&wf, kind, at, obj(payload)));
            }
        }
        out
    }

    /// `n` dust/noise readings: records the admission state does not keep, which make the log long.
    fn readings(&mut self, n: u32) -> Vec<Envelope> {
        let device = format!("project/{PROJECT}/device/DUST-01");
        (0..n)
            .map(|_| {
                let i = self.readings;
                self.readings += 1;
                let at = format!("2026-04-02T{:02}:{:02}:{:02}+08:00", 8 + (i / 3600) % 10, (i / 60) % 60, i % 60);
                let p = json!({"project_id": PROJECT, "device_id": "DUST-01",
                               "pm10_ug_m3": format!("{}.{}", 40 + i % 90, i % 10),
                               "pm25_ug_m3": format!("{}.{}", 20 + i % 40, i % 7),
                               "noise_db_a": format!("{}.{}", 50 + i % 30, i % 9)});
                self.gateway.sign(&device, "env.dust_noise.reading.v1", &at, obj(p))
            })
            .collect()
    }

    /// Records whose admission depends on what the state remembers: a gate passage of a registered worker under
    /// contract (admitted) and of a person nobody registered (refused by the workforce rules); a gateway enrolment for
    /// the registered project (admitted) and for a project nobody registered (refused by the registry rules).
    fn probes(&mut self) -> Vec<Envelope> {
        let gate = format!("project/{PROJECT}/workforce/gate");
        let at = "2026-04-03T07:30:00+08:00";
        let passage = |p: String| {
            obj(json!({"project_id": PROJECT, "person_ref": p, "gate": "GATE-1", "direction": "in", "method": "face"}))
        };
        let known = self.gateway.sign(&gate, "worker.passage.v1", at, passage(person(3)));
        let unknown = self.gateway.sign(&gate, "worker.passage.v1", at, passage(person(9_999)));
        let gw2 = Party::new(0x24, "gateway", &format!("project/{PROJECT}/gateway/GW-02"));
        let gw_elsewhere = Party::new(0x25, "gateway", "project/NB-2026-0099/gateway/GW-01");
        vec![known, unknown, gw2.enrolled_by(&mut self.city), gw_elsewhere.enrolled_by(&mut self.city)]
    }
}

fn snapshot_config(policy: Arc<DomainPolicy>, from_zero: bool) -> LedgerConfig {
    let mut c = config();
    c.trust_roots = vec![*SigningKey::from_seed(&[0x21; 32]).public()];
    // Checkpoints by count only (and on request), so what is covered does not depend on the machine's speed.
    c.checkpoint_every = 64;
    c.checkpoint_interval = Duration::from_secs(3600);
    c.snapshot_every = SNAPSHOT_EVERY;
    c.policy = policy;
    c.replay_from_zero = from_zero;
    c
}

async fn open<B: Backend>(backend: &B, from_zero: bool) -> (Ledger<B::Store>, Arc<DomainPolicy>) {
    let policy = Arc::new(DomainPolicy::default());
    let l =
        Ledger::open(backend.open().await, snapshot_config(Arc::clone(&policy), from_zero)).await.expect("open ledger");
    (l, policy)
}

async fn ingest_all<S: EventStore>(l: &Ledger<S>, envs: Vec<Envelope>) {
    let out = l.ingest(envs).await.expect("ingest");
    assert!(out.iter().all(|o| matches!(o, IngestOutcome::Accepted { .. })), "{out:?}");
}

/// A log of the setup and 700 readings in batches, every record covered by a checkpoint. Returns the log's size and
/// the position of the last setup record.
async fn fill<S: EventStore>(l: &Ledger<S>, city: &mut City) -> (u64, u64) {
    ingest_all(l, city.setup()).await;
    let setup_end = l.head() - 1;
    for _ in 0..14 {
        ingest_all(l, city.readings(50)).await;
    }
    l.checkpoint_now().await.expect("checkpoint");
    (l.head(), setup_end)
}

fn policy_bytes(p: &DomainPolicy) -> Vec<u8> {
    p.snapshot().expect("serialise the admission state")
}

async fn restores_the_newest_snapshot_and_reads_only_the_records_after_it<B: Backend>(backend: B) {
    let mut city = City::new();
    let (l, live) = open(&backend, false).await;
    let (head, _) = fill(&l, &mut city).await;
    let written = l.stats().snapshots;
    let live_bytes = policy_bytes(&live);
    drop(l);

    // Bounded: several snapshots were written, only the newest three are kept.
    let store = backend.open().await;
    let kept = store.snapshots(100).await.expect("snapshots");
    assert!(written > 3, "a snapshot every {SNAPSHOT_EVERY} records over {head}: {written}");
    assert_eq!(kept.len(), 3, "{:?}", kept.iter().map(|s| s.size).collect::<Vec<_>>());
    assert!(kept.windows(2).all(|w| w[0].size > w[1].size));
    let newest = kept[0].size;
    // Due at the first checkpoint (every 64 records, or at the end of a 50-record group) 100 records after the last.
    assert!(newest <= head && newest + 2 * SNAPSHOT_EVERY + 64 > head, "newest {newest}, head {head}");

    // Reopened: the newest snapshot is restored and only the records after it are read.
    let (l, restored) = open(&backend, false).await;
    assert_eq!(l.head(), head);
    let stats = l.stats();
    assert_eq!(stats.replayed_from, newest);
    assert_eq!(stats.replay_rows_read, head - newest, "only the records after the snapshot are read");
    let restored_bytes = policy_bytes(&restored);
    drop(l);

    // The from-zero replay, asked for explicitly, reads the whole log and gives the same bytes.
    let (l, zero) = open(&backend, true).await;
    assert_eq!((l.stats().replayed_from, l.stats().replay_rows_read), (0, head));
    let zero_bytes = policy_bytes(&zero);
    drop(l);
    assert!(restored_bytes == zero_bytes, "the restored admission state differs from a from-zero replay");
    assert!(live_bytes == zero_bytes, "the live admission state differs from a from-zero replay");

    // And the check an operator runs: a from-zero replay up to the newest snapshot, byte for byte.
    let check = verify_newest(&backend.open().await, &DomainPolicy::default()).await.expect("verify").expect("one");
    assert_eq!(check.size, newest);
    assert!(check.equal(), "{check:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_restores_the_newest_snapshot_and_reads_only_the_records_after_it() {
    restores_the_newest_snapshot_and_reads_only_the_records_after_it(Sqlite::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restores_the_newest_snapshot_and_reads_only_the_records_after_it() {
    restores_the_newest_snapshot_and_reads_only_the_records_after_it(Postgres::new()).await;
}

/// A large state is written less often: after a snapshot of S bytes the next comes at least S ÷
/// `snapshot_bytes_per_record` records later (never sooner than `snapshot_every`), so the bytes snapshots write stay
/// bounded per record committed however large the city's registry grows; reopening still reads only the records after
/// the newest one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_state_is_snapshotted_less_often_so_snapshot_bytes_per_record_stay_bounded() {
    // The same log with the interval by count only: a snapshot every SNAPSHOT_EVERY records.
    let by_count = Sqlite::new();
    let mut city = City::new();
    let policy = Arc::new(DomainPolicy::default());
    let mut c = snapshot_config(Arc::clone(&policy), false);
    c.snapshot_bytes_per_record = 0;
    let l = Ledger::open(by_count.open().await, c).await.expect("open");
    let (head, _) = fill(&l, &mut city).await;
    let written_by_count = l.stats().snapshots;
    drop(l);
    let state_len = by_count.open().await.snapshots(1).await.expect("snapshots")[0].state.len() as u64;

    // Bytes per record chosen so that the state asks for about 2.5 × SNAPSHOT_EVERY records between snapshots.
    let per_record = (state_len / (SNAPSHOT_EVERY * 5 / 2)).max(1);
    let backend = Sqlite::new();
    let mut city = City::new();
    let mut c = snapshot_config(Arc::new(DomainPolicy::default()), false);
    c.snapshot_bytes_per_record = per_record;
    let l = Ledger::open(backend.open().await, c).await.expect("open");
    assert_eq!(fill(&l, &mut city).await.0, head);
    let written = l.stats().snapshots;
    drop(l);
    assert!(written >= 2 && written < written_by_count, "{written} snapshots, {written_by_count} by count alone");
    let kept = backend.open().await.snapshots(100).await.expect("snapshots");
    for w in kept.windows(2) {
        let (newer, older) = (&w[0], &w[1]);
        let gap = older.state.len() as u64 / per_record;
        assert!(gap > SNAPSHOT_EVERY, "the state asks for more than the count: {gap}");
        assert!(newer.size - older.size >= gap, "{} → {}: at least {gap} records apart", older.size, newer.size);
    }
    let (l, _) = open(&backend, false).await;
    assert_eq!(l.stats().replayed_from, kept[0].size);
    assert_eq!(l.stats().replay_rows_read, head - kept[0].size);
}

/// Runs `sql` on the SQLite file directly, as an operator's mistake or a disk error would change it.
async fn tamper(path: &Path, sql: &str, size: u64, bytes: Vec<u8>) {
    use sqlx::Connection;
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path);
    let mut conn = sqlx::SqliteConnection::connect_with(&options).await.expect("raw connect");
    let size = i64::try_from(size).expect("size");
    let done = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .bind(bytes)
        .bind(size)
        .execute(&mut conn)
        .await
        .expect("tamper");
    assert_eq!(done.rows_affected(), 1);
    conn.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupted_snapshots_are_refused_and_the_ledger_falls_back_to_an_older_one_or_to_zero() {
    let backend = Sqlite::new();
    let mut city = City::new();
    let (l, _) = open(&backend, false).await;
    let (head, _) = fill(&l, &mut city).await;
    drop(l);
    let kept = backend.open().await.snapshots(3).await.expect("snapshots");
    let sizes: Vec<u64> = kept.iter().map(|s| s.size).collect();
    assert_eq!(sizes.len(), 3);

    // The newest: a flipped byte, with its SHA-256 recomputed so that only the parse can catch it.
    let mut flipped = kept[0].state.clone();
    flipped[0] ^= 0x20;
    let sha = siteledger_ledger::snapshot::sha256(&flipped).to_vec();
    tamper(&backend.path(), "UPDATE policy_snapshots SET state = ? WHERE size = ?", sizes[0], flipped).await;
    tamper(&backend.path(), "UPDATE policy_snapshots SET sha256 = ? WHERE size = ?", sizes[0], sha).await;
    let (l, restored) = open(&backend, false).await;
    assert_eq!(l.stats().replayed_from, sizes[1], "the next older snapshot is used");
    assert_eq!(l.stats().replay_rows_read, head - sizes[1]);
    let older_bytes = policy_bytes(&restored);
    drop(l);

    // The second: a root that is not the log's at its size. The third: bytes that do not match their SHA-256.
    tamper(&backend.path(), "UPDATE policy_snapshots SET root = ? WHERE size = ?", sizes[1], vec![0x5a; 32]).await;
    let mut third = kept[2].state.clone();
    let last = third.len() - 2;
    third[last] ^= 0x01;
    tamper(&backend.path(), "UPDATE policy_snapshots SET state = ? WHERE size = ?", sizes[2], third).await;
    let (l, fallback) = open(&backend, false).await;
    assert_eq!((l.stats().replayed_from, l.stats().replay_rows_read), (0, head), "a replay from zero");
    assert!(policy_bytes(&fallback) == older_bytes, "the fallback state differs from the older snapshot's");

    // The ledger still admits exactly what it admitted: the rules see the same state.
    let out = l.ingest(city.probes()).await.expect("ingest probes");
    assert!(matches!(out[0], IngestOutcome::Accepted { .. }), "{out:?}");
    assert!(matches!(&out[1], IngestOutcome::Rejected(r) if r.code() == "rule"), "{out:?}");
    assert!(matches!(out[2], IngestOutcome::Accepted { .. }), "{out:?}");
    assert!(matches!(&out[3], IngestOutcome::Rejected(r) if r.code() == "registry"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_known_only_through_the_snapshot_still_authorise_records_after_reopening() {
    // The same records into two logs; one reopens from its snapshot, the other replays from zero.
    let (with_snapshot, from_zero) = (Sqlite::new(), Sqlite::new());
    let mut city = City::new();
    let setup = city.setup();
    let readings: Vec<Vec<Envelope>> = (0..14).map(|_| city.readings(50)).collect();
    let probes = city.probes();
    let mut answers = Vec::new();
    for (backend, zero) in [(&with_snapshot, false), (&from_zero, true)] {
        let (l, _) = open(backend, false).await;
        ingest_all(&l, setup.clone()).await;
        let setup_end = l.head() - 1;
        for batch in &readings {
            ingest_all(&l, batch.clone()).await;
        }
        l.checkpoint_now().await.expect("checkpoint");
        drop(l);
        let (l, _) = open(backend, zero).await;
        if zero {
            assert_eq!(l.stats().replayed_from, 0);
        } else {
            // The registry, the keys' holders and the workers are known only through the snapshot: none of their
            // records is among those replayed.
            assert!(l.stats().replayed_from > setup_end, "{:?}", l.stats());
        }
        let out = l.ingest(probes.clone()).await.expect("ingest probes");
        answers.push(out.into_iter().map(|o| outcome(&o)).collect::<Vec<_>>());
    }
    assert_eq!(answers[0], answers[1], "the same decisions with and without the snapshot");
    let expected = ["accepted", "rule", "accepted", "registry"];
    assert_eq!(answers[0].iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>(), expected, "{answers:?}");
}

/// An outcome as a code and its message (positions aside: the two logs' genesis records differ in time only).
fn outcome(o: &IngestOutcome) -> (String, String) {
    match o {
        IngestOutcome::Accepted { .. } => ("accepted".into(), String::new()),
        IngestOutcome::Duplicate { .. } => ("duplicate".into(), String::new()),
        IngestOutcome::Rejected(r) => (r.code().to_owned(), r.to_string()),
    }
}
