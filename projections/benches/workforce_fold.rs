//! Fold rate of gate passages (`worker.passage.v1`) into the read models that feed the arrears view, and the time
//! of one project's arrears query. A plain timing harness (the figure is a rate over a large run, not a
//! micro-benchmark): `cargo bench -p siteledger-projections --bench workforce_fold` with
//! `WF_BENCH_PROJECTS` (default 10), `WF_BENCH_WORKERS` (300) and `WF_BENCH_DAYS` (22); two passages per worker-day.
//! Results: BENCHMARKS.md, section "Workforce".

use std::time::Instant;

use serde_json::{Map, Value, json};
use siteledger_client::KeyedChain;
use siteledger_ledger::StoredEvent;
use siteledger_projections::{BATCH_EVENTS, ReadDb, Scope, apply_events};
use siteledger_signer::SigningKey;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn main() {
    let projects = env("WF_BENCH_PROJECTS", 10);
    let workers = env("WF_BENCH_WORKERS", 300);
    let days = env("WF_BENCH_DAYS", 22);
    let mut signer = KeyedChain::new(SigningKey::from_seed(&[7; 32]));
    let mut events: Vec<StoredEvent> = Vec::new();
    let mut n: u64 = 0;
    let mut push =
        |signer: &mut KeyedChain, stream: &str, kind: &str, at: &str, payload: Value, events: &mut Vec<StoredEvent>| {
            n += 1;
            let id = uuid::Builder::from_unix_timestamp_millis(1_790_000_000_000 + n, &[0; 10]).into_uuid();
            let e = signer.sign(id, stream, kind, at, obj(payload)).expect("sign");
            events.push(StoredEvent {
                position: events.len() as u64,
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
            });
        };
    let t = Instant::now();
    let person = |p: usize, w: usize| format!("P-{:016x}{:016x}", p, w);
    for p in 0..projects {
        let pid = format!("NB-2026-{:04}", p + 1);
        push(
            &mut signer,
            "registry/projects",
            "registry.project.registered.v1",
            "2026-03-01T09:00:00+08:00",
            json!({
            "project_id": pid, "name": format!("基准项目{p}"), "district": "330212", "central_urban": true,
            "floor_area_m2": "50000", "contract_cost_fen": 100_000_000_000_i64, "start_date": "2026-03-01",
            "participants": [{"role": "owner", "credit_code": "91330200MA2AAAAA76"}]}),
            &mut events,
        );
        let wf = format!("project/{pid}/workforce");
        push(
            &mut signer,
            &wf,
            "worker.team.formed.v1",
            "2026-03-02T09:00:00+08:00",
            json!({"project_id": pid, "team_id": "T1", "name": "班组", "employer": "91330200MA2AAAAA76"}),
            &mut events,
        );
        for w in 0..workers {
            push(
                &mut signer,
                &wf,
                "worker.registered.v1",
                "2026-03-02T09:00:00+08:00",
                json!({"project_id": pid, "person_ref": person(p, w), "id_type": "01", "id_commitment": format!("hmac-sha256:{:064x}", p * 100_000 + w), "id_masked": "3302**********123X", "birth_month": "1980-01", "employer": "91330200MA2AAAAA76", "team_id": "T1", "trade": "020", "work_role": "20"}),
                &mut events,
            );
        }
    }
    let setup = events.len();
    for d in 1..=days {
        for p in 0..projects {
            let pid = format!("NB-2026-{:04}", p + 1);
            let gate = format!("project/{pid}/workforce/gate");
            for w in 0..workers {
                for (hm, dir) in [("07:30", "in"), ("17:30", "out")] {
                    let at = format!("2026-04-{:02}T{hm}:{:02}+08:00", d % 28 + 1, w % 60);
                    push(
                        &mut signer,
                        &gate,
                        "worker.passage.v1",
                        &at,
                        json!({"project_id": pid, "person_ref": person(p, w), "gate": "GATE-1", "direction": dir, "method": "face"}),
                        &mut events,
                    );
                }
            }
        }
    }
    let passages = events.len() - setup;
    eprintln!("signed {} records ({passages} passages) in {:.1} s", events.len(), t.elapsed().as_secs_f64());

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = ReadDb::open(&format!("sqlite:{}", dir.path().join("read.db").display())).await.expect("open");
        for chunk in events[..setup].chunks(BATCH_EVENTS) {
            apply_events(&db, chunk).await.expect("fold");
        }
        let t = Instant::now();
        for chunk in events[setup..].chunks(BATCH_EVENTS) {
            apply_events(&db, chunk).await.expect("fold");
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "workforce fold: {passages} passages ({projects} projects × {workers} workers × {days} days × 2) in {secs:.2} s = {:.0} passages/s (all projections, SQLite, batches of {BATCH_EVENTS})",
            passages as f64 / secs
        );
        let t = Instant::now();
        let rows = db.workforce_arrears(&Scope::All, Some("NB-2026-0001"), None, 1).await.expect("arrears");
        println!("arrears query, one project of {workers} workers × {days} days: {:.1} ms ({} findings)", t.elapsed().as_secs_f64() * 1e3, rows.len());
    });
}
