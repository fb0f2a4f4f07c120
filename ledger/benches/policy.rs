//! CPU cost of the platform's ingest policy ([`DomainPolicy`]): what deciding a domain record costs between the
//! signature check and the sequencer's chain checks, without signatures or storage.
//!
//! ```text
//! cargo bench -p siteledger-ledger --bench policy
//! ```
//!
//! One project with 200 registered workers under contract and on site (实名制), then:
//! * `policy/passages_1000`: 1,000 gate passages (`worker.passage.v1`, signed by the project's gateway) through the
//!   policy's check and its fold of the accepted record, as the sequencer runs them in one group;
//! * `policy/readings_1000`: the same for 1,000 dust/noise readings (`env.dust_noise.reading.v1`);
//! * `policy/body_to_decision_100`: an HTTP body of 100 passages read with `siteledger_signer::batch` (one strict
//!   parse and canonicalisation per item), then decided: the CPU path from `POST /v1/events` to the policy's verdict,
//!   signatures and the commit aside.
//!
//! Each iteration ends by discarding the group (`settled(false)`), so every iteration decides against the same state.
//! Times are the benchmark thread's **CPU time** (`CLOCK_THREAD_CPUTIME_ID`), not wall time: the figure is the
//! work done, and holds on a machine shared with other jobs. Results: BENCHMARKS.md, section "Ingest policy".

use std::hint::black_box;

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Map, Value, json};
use siteledger_client::KeyedChain;
use siteledger_domain::registry::{
    EnterpriseRegistered, EnterpriseType, Participant, ParticipantRole, ProjectRegistered, RegistryEvent,
};
use siteledger_domain::{AreaM2, CreditCode, DistrictCode, DomainEvent, LocalDate, MoneyFen, Name, ProjectId};
use siteledger_ledger::system::{KEY_ENROLLED_KIND, KeyEnrollment, Policy, Record};
use siteledger_ledger::{DomainPolicy, StoredKey};
use siteledger_signer::{Envelope, SigningKey, batch};

const PROJECT: &str = "NB-2026-0001";
const WORKERS: u32 = 200;

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

/// A signer with its enrolment as the ledger stores it.
struct Signer {
    chain: KeyedChain,
    key: StoredKey,
}

impl Signer {
    fn new(seed: u8, role: &str, subject: &str) -> Signer {
        let key = SigningKey::from_seed(&[seed; 32]);
        let stored = StoredKey {
            key_id: key.key_id().to_string(),
            public_key: key.public().as_bytes().to_vec(),
            alg: siteledger_signer::keys::KeyAlgorithm::Ed25519,
            sm2_id: None,
            subject: subject.to_owned(),
            role: role.to_owned(),
            valid_from: "2026-01-01T00:00:00+08:00".to_owned(),
            valid_until: None,
            enrolled_by: uuid::Uuid::nil(),
            enrolled_at: 0,
            revoked_at: None,
        };
        Signer { chain: KeyedChain::new(key), key: stored }
    }

    fn sign(&mut self, n: &mut u64, stream: &str, kind: &str, at: &str, payload: Map<String, Value>) -> Envelope {
        *n += 1;
        let id = uuid::Builder::from_unix_timestamp_millis(1_790_000_000_000 + *n, &[9; 10]).into_uuid();
        self.chain.sign(id, stream, kind, at, payload).expect("sign")
    }

    /// The enrolment record of this key, signed by `by`.
    fn enrolment(&self, by: &mut Signer, n: &mut u64) -> Envelope {
        let payload = KeyEnrollment {
            key_id: self.key.key_id.clone(),
            public_key: base64_key(&self.key.public_key),
            subject: self.key.subject.clone(),
            role: self.key.role.clone(),
            valid_from: self.key.valid_from.clone(),
            valid_until: None,
        }
        .to_payload();
        by.sign(n, "ledger/keys", KEY_ENROLLED_KIND, "2026-01-01T08:00:00+08:00", payload)
    }
}

fn base64_key(bytes: &[u8]) -> String {
    siteledger_signer::PublicKey::from_bytes(bytes.try_into().expect("32 bytes")).expect("key").to_base64()
}

/// Decides one record and, if accepted, folds what the policy parsed: what the sequencer asks of its policy per
/// record.
fn decide(policy: &DomainPolicy, env: &Envelope, signer: &StoredKey) -> bool {
    match policy.check(env, signer) {
        Ok(admitted) => {
            let record = Record {
                event_id: env.id(),
                stream: env.stream(),
                occurred_at: env.occurred_at(),
                signer_key_id: &signer.key_id,
                signer: Some(signer),
            };
            policy.accepted(&record, &admitted);
            true
        }
        Err(_) => false,
    }
}

struct Fixture {
    policy: DomainPolicy,
    gateway: StoredKey,
    passages: Vec<Envelope>,
    readings: Vec<Envelope>,
    body: Vec<u8>,
}

fn fixture() -> Fixture {
    let mut n = 0;
    let mut city = Signer::new(0x21, "city_bureau", "宁波市住建局");
    let gc = credit_code("91330200MA2C00003");
    let owner = credit_code("91330212MA2A00001");
    let mut enterprise = Signer::new(0x22, "enterprise", gc.as_str());
    let mut gateway = Signer::new(0x23, "gateway", &format!("project/{PROJECT}/gateway/GW-01"));
    let policy = DomainPolicy::default();
    let mut setup: Vec<(Envelope, StoredKey)> = Vec::new();
    for s in [&enterprise, &gateway] {
        let e = s.enrolment(&mut city, &mut n);
        setup.push((e, city.key.clone()));
    }
    let registry = |e: RegistryEvent| DomainEvent::Registry(e).to_payload();
    for (code, t) in [(&owner, EnterpriseType::Owner), (&gc, EnterpriseType::Construction)] {
        let p = registry(RegistryEvent::EnterpriseRegistered(EnterpriseRegistered {
            credit_code: code.clone(),
            name: Name::parse(&format!("企业{}", code.as_str())).expect("name"),
            types: vec![t],
        }));
        setup.push((
            city.sign(&mut n, "registry/orgs", "registry.enterprise.registered.v1", "2026-03-01T09:00:00+08:00", p),
            city.key.clone(),
        ));
    }
    let project = registry(RegistryEvent::ProjectRegistered(ProjectRegistered {
        project_id: ProjectId::parse(PROJECT).expect("project id"),
        name: Name::parse("基准住宅项目").expect("name"),
        district: DistrictCode::parse("330212").expect("district"),
        central_urban: true,
        floor_area_m2: AreaM2::parse("52000.5").expect("area"),
        contract_cost_fen: MoneyFen::parse(12_000_000_000).expect("money"),
        start_date: LocalDate::parse("2026-03-01").expect("date"),
        participants: vec![
            Participant { role: ParticipantRole::Owner, credit_code: owner.clone() },
            Participant { role: ParticipantRole::GeneralContractor, credit_code: gc.clone() },
        ],
    }));
    setup.push((
        city.sign(&mut n, "registry/orgs", "registry.project.registered.v1", "2026-03-01T09:00:00+08:00", project),
        city.key.clone(),
    ));
    let wf = format!("project/{PROJECT}/workforce");
    let at = "2026-04-01T08:00:00+08:00";
    let team = json!({"project_id": PROJECT, "team_id": "T1", "name": "钢筋班组", "employer": gc.as_str()});
    setup.push((enterprise.sign(&mut n, &wf, "worker.team.formed.v1", at, obj(team)), enterprise.key.clone()));
    for w in 0..WORKERS {
        let records = [
            (
                "worker.registered.v1",
                json!({"project_id": PROJECT, "person_ref": person(w), "id_type": "01",
                       "id_commitment": format!("hmac-sha256:{w:064x}"), "id_masked": "3302**********123X",
                       "birth_month": "1980-01", "employer": gc.as_str(), "team_id": "T1", "trade": "020",
                       "work_role": "20"}),
            ),
            (
                "worker.contract.signed.v1",
                json!({"project_id": PROJECT, "person_ref": person(w), "contract_id": format!("C{w}"),
                       "employer": gc.as_str(), "period_type": "0", "start_date": "2026-04-01", "end_date": null}),
            ),
            ("worker.entered.v1", json!({"project_id": PROJECT, "person_ref": person(w), "date": "2026-04-01"})),
        ];
        for (kind, payload) in records {
            setup.push((enterprise.sign(&mut n, &wf, kind, at, obj(payload)), enterprise.key.clone()));
        }
    }
    for (env, signer) in &setup {
        assert!(decide(&policy, env, signer), "setup record {} refused", env.kind());
    }
    policy.settled(true);

    let gate = format!("project/{PROJECT}/workforce/gate");
    let passages: Vec<Envelope> = (0..1000u32)
        .map(|i| {
            let w = i % WORKERS;
            let at = format!("2026-04-02T{:02}:{:02}:{:02}+08:00", 7 + i / 200, (i / 4) % 60, i % 60);
            let dir = if i < 500 { "in" } else { "out" };
            let p = json!({"project_id": PROJECT, "person_ref": person(w), "gate": "GATE-1", "direction": dir,
                           "method": "face"});
            gateway.sign(&mut n, &gate, "worker.passage.v1", &at, obj(p))
        })
        .collect();
    let device = format!("project/{PROJECT}/device/DUST-01");
    let readings: Vec<Envelope> = (0..1000u32)
        .map(|i| {
            let at = format!("2026-04-02T{:02}:{:02}:{:02}+08:00", 8 + i / 120, (i / 2) % 60, 30 * (i % 2));
            let p = json!({"project_id": PROJECT, "device_id": "DUST-01",
                           "pm10_ug_m3": format!("{}.{}", 40 + i % 90, i % 10),
                           "pm25_ug_m3": format!("{}.{}", 20 + i % 40, i % 7),
                           "noise_db_a": format!("{}.{}", 50 + i % 30, i % 9)});
            gateway.sign(&mut n, &device, "env.dust_noise.reading.v1", &at, obj(p))
        })
        .collect();
    let body =
        serde_json::to_vec(&Value::Array(passages[..100].iter().map(Envelope::to_value).collect())).expect("body");
    Fixture { policy, gateway: gateway.key, passages, readings, body }
}

/// CPU time of the calling thread, nanoseconds (`CLOCK_THREAD_CPUTIME_ID`).
fn thread_cpu_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    u64::try_from(t.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(t.tv_nsec).unwrap_or(0)
}

/// Criterion measurement: CPU time of the benchmark thread.
struct CpuTime;

impl Measurement for CpuTime {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, start: u64) -> u64 {
        thread_cpu_ns().saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        self
    }
}

impl ValueFormatter for CpuTime {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = match typical {
            t if t < 1e3 => (1.0, "ns (cpu)"),
            t if t < 1e6 => (1e-3, "µs (cpu)"),
            t if t < 1e9 => (1e-6, "ms (cpu)"),
            _ => (1e-9, "s (cpu)"),
        };
        values.iter_mut().for_each(|v| *v *= factor);
        unit
    }
    fn scale_throughputs(&self, _typical: f64, throughput: &Throughput, values: &mut [f64]) -> &'static str {
        let n = match throughput {
            Throughput::Elements(n) | Throughput::Bytes(n) | Throughput::BytesDecimal(n) => *n as f64,
            Throughput::ElementsAndBytes { elements, .. } => *elements as f64,
            _ => 1.0,
        };
        values.iter_mut().for_each(|v| *v = n * 1e9 / *v);
        "elem/s (cpu)"
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

fn bench_policy(c: &mut Criterion<CpuTime>) {
    let f = fixture();
    for (name, records) in [("passages_1000", &f.passages), ("readings_1000", &f.readings)] {
        // Every record must pass, or the bench measures refusals.
        assert!(records.iter().all(|e| decide(&f.policy, e, &f.gateway)), "{name}: a record was refused");
        f.policy.settled(false);
    }
    let mut group = c.benchmark_group("policy");
    for (name, records) in [("passages_1000", &f.passages), ("readings_1000", &f.readings)] {
        group.throughput(Throughput::Elements(records.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                for env in black_box(records) {
                    decide(&f.policy, env, &f.gateway);
                }
                f.policy.settled(false);
            })
        });
    }
    group.throughput(Throughput::Elements(100));
    group.bench_function("body_to_decision_100", |b| {
        b.iter(|| {
            for item in batch::parse_body(black_box(&f.body)).expect("body") {
                let env = item.result.expect("envelope");
                decide(&f.policy, &env, &f.gateway);
            }
            f.policy.settled(false);
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(CpuTime);
    targets = bench_policy
}
criterion_main!(benches);
