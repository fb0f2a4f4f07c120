//! Fold rate of a mixed log through every projection: registry and key records, then rounds of 扬尘噪声 readings,
//! alarms, gate passages, inspections with their rectifications, testing, 危大 monitoring, BIM progress and
//! coordination tasks, as one project's traffic interleaves them. A plain timing harness (a rate over a large run, not a micro-benchmark):
//! `cargo bench -p siteledger-projections --bench fold_all` with `FOLD_BENCH_PROJECTS` (default 20) and
//! `FOLD_BENCH_ROUNDS` (100) (and `FOLD_BENCH_KEEP=PATH` to keep the read database); one round is 40 records per project. Every payload is checked with the domain's
//! `validate_envelope` first, so each record is one the server would accept and every projection folds it.
//! Results: BENCHMARKS.md, section "Projections: fold rate of a mixed log".

#[path = "common/mod.rs"]
mod common;

use std::time::Instant;

use serde_json::{Value, json};
use siteledger_client::KeyedChain;
use siteledger_ledger::system::{KEY_ENROLLED_KIND, KeyEnrollment};
use siteledger_projections::{BATCH_EVENTS, ReadDb, apply_events};
use siteledger_signer::SigningKey;

use common::{Log, env};

const GC: &str = "91330200MA2AAAAA76";
const LAB: &str = "91330200MA2CCCCC3A";
const PHOTO: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const WORKERS: usize = 5;

fn setup(log: &mut Log, city: &mut KeyedChain, gw: siteledger_signer::PublicKey, projects: usize) {
    let reg = "2026-03-01T09:00:00+08:00";
    let pk = *city.key().public();
    for (key, subject, role) in [(pk, "宁波市住建局", "city_bureau"), (gw, "project/NB-2026-0001/gw-1", "gateway")]
    {
        let enrollment = KeyEnrollment {
            key_id: key.key_id().to_string(),
            public_key: key.to_base64(),
            subject: subject.into(),
            role: role.into(),
            valid_from: "2026-01-01T00:00:00+08:00".into(),
            valid_until: None,
        };
        log.push(city, "registry/keys", KEY_ENROLLED_KIND, reg, Value::Object(enrollment.to_payload()));
    }
    log.push(
        city,
        "registry/enterprises",
        "registry.enterprise.registered.v1",
        reg,
        json!({"credit_code": GC, "name": "基准建工", "types": ["construction"]}),
    );
    log.push(
        city,
        "registry/enterprises",
        "registry.enterprise.registered.v1",
        reg,
        json!({"credit_code": LAB, "name": "基准检测中心", "types": ["testing_lab"]}),
    );
    for p in 0..projects {
        let pid = format!("NB-2026-{:04}", p + 1);
        log.push(
            city,
            "registry/projects",
            "registry.project.registered.v1",
            reg,
            json!({
            "project_id": pid, "name": format!("基准项目{p}"), "district": "330212", "central_urban": true,
            "floor_area_m2": "50000", "contract_cost_fen": 100_000_000_000_i64, "start_date": "2026-03-01",
            "participants": [{"role": "general_contractor", "credit_code": GC}]}),
        );
        let wf = format!("project/{pid}/workforce");
        log.push(
            city,
            &wf,
            "worker.team.formed.v1",
            reg,
            json!({"project_id": pid, "team_id": "T1", "name": "班组", "employer": GC}),
        );
        for w in 0..WORKERS {
            log.push(
                city,
                &wf,
                "worker.registered.v1",
                reg,
                json!({"project_id": pid, "person_ref": person(p, w), "id_type": "01",
                       "id_commitment": format!("hmac-sha256:{:064x}", p * 100_000 + w), "id_masked": "3302**********123X",
                       "birth_month": "1980-01", "employer": GC, "team_id": "T1", "trade": "020", "work_role": "20"}),
            );
        }
        let sv = format!("project/{pid}/supervision");
        log.push(
            city,
            &sv,
            "hazard.work.listed.v1",
            reg,
            json!({"project_id": pid, "work_id": "W-1", "name": "深基坑", "category": "excavation",
                   "parameters": {"depth_m": "6.5"}}),
        );
        log.push(
            city,
            &sv,
            "hazard.plan.approved.v1",
            reg,
            json!({"project_id": pid, "work_id": "W-1", "plan_version": 1, "plan_hash": PHOTO, "technical_lead": "赵"}),
        );
        log.push(
            city,
            &sv,
            "bim.model.registered.v1",
            reg,
            json!({"project_id": pid, "model_id": "STRU", "version": 1, "sha256": PHOTO, "format": "ifc",
                   "file_name": "结构.ifc"}),
        );
        log.push(
            city,
            &sv,
            "bim.node.planned.v1",
            reg,
            json!({"project_id": pid, "node_id": "N-5F", "name": "5层封顶", "model_id": "STRU", "element_ids": ["a", "b"],
                   "planned_start": "2026-03-01", "planned_finish": "2026-06-30"}),
        );
        log.push(
            city,
            &format!("project/{pid}/rating"),
            "rating.standard_site.enrolled.v1",
            reg,
            json!({"project_id": pid, "year": 2026, "note": "2026年标准化工地创建名单"}),
        );
    }
}

fn person(p: usize, w: usize) -> String {
    format!("P-{p:016x}{w:016x}")
}

/// One round of one project's traffic: 40 records.
fn round(log: &mut Log, gw: &mut KeyedChain, bureau: &mut KeyedChain, p: usize, r: usize, seq: usize) {
    let pid = format!("NB-2026-{:04}", p + 1);
    let day = r % 28 + 1;
    let t = |h: usize, m: usize| format!("2026-04-{day:02}T{h:02}:{m:02}:00+08:00");
    let envs = format!("project/{pid}/env/DEV-1");
    for i in 0..10 {
        log.push(
            gw,
            &envs,
            "env.dust_noise.reading.v1",
            &t(8, i),
            json!({"project_id": pid, "device_id": "DEV-1", "pm10_ug_m3": format!("{}.{}", 60 + i, r % 10),
                   "pm25_ug_m3": "35.0", "noise_db_a": "62.5"}),
        );
    }
    let alarms = format!("project/{pid}/alarms");
    let alarm = format!("A-{r}");
    log.push(
        gw,
        &alarms,
        "alarm.raised.v1",
        &t(9, 0),
        json!({"project_id": pid, "alarm_id": alarm, "source": "DEV-1", "category": "dust", "level": "warning",
               "message": "PM10 偏高", "value": "69.0", "threshold": "150"}),
    );
    log.push(
        gw,
        &alarms,
        "alarm.cleared.v1",
        &t(9, 30),
        json!({"project_id": pid, "alarm_id": alarm, "note": "已喷淋"}),
    );
    let gate = format!("project/{pid}/workforce/gate");
    for w in 0..WORKERS {
        for (h, dir) in [(7, "in"), (17, "out")] {
            log.push(
                gw,
                &gate,
                "worker.passage.v1",
                &t(h, w),
                json!({"project_id": pid, "person_ref": person(p, w), "gate": "GATE-1", "direction": dir, "method": "face"}),
            );
        }
    }
    let sv = format!("project/{pid}/supervision");
    let ins = format!("INS-{r}");
    log.push(
        bureau,
        &sv,
        "inspection.inspection.recorded.v1",
        &t(10, 0),
        json!({"project_id": pid, "inspection_id": ins, "inspection_kind": "safety", "inspector": "王建国",
               "scope": "主体", "inspected_party": GC}),
    );
    for k in 0..2 {
        log.push(
            bureau,
            &sv,
            "inspection.finding.recorded.v1",
            &t(10, 10 + k),
            json!({"project_id": pid, "inspection_id": ins, "finding_id": format!("F-{r}-{k}"), "level": "general",
                   "category": "临边防护", "description": "未设防护"}),
        );
        log.push(
            bureau,
            &sv,
            "inspection.rectification.noticed.v1",
            &t(11, k),
            json!({"project_id": pid, "finding_id": format!("F-{r}-{k}"), "notice_id": format!("N-{r}-{k}"),
                   "deadline": "2026-05-30T17:00:00+08:00", "responsible": GC, "requirement": "限期整改"}),
        );
    }
    let notice = format!("N-{r}-0");
    log.push(
        gw,
        &sv,
        "inspection.rectification.submitted.v1",
        &t(14, 0),
        json!({"project_id": pid, "notice_id": notice, "photo_hashes": [PHOTO], "note": "已整改"}),
    );
    log.push(
        bureau,
        &sv,
        "inspection.rectification.reviewed.v1",
        &t(15, 0),
        json!({"project_id": pid, "notice_id": notice, "result": "pass", "reviewer": "王建国", "note": "通过"}),
    );
    log.push(
        bureau,
        &sv,
        "inspection.rectification.closed.v1",
        &t(15, 30),
        json!({"project_id": pid, "notice_id": notice}),
    );
    log.push(
        gw,
        &sv,
        "hazard.monitoring.recorded.v1",
        &t(12, 0),
        json!({"project_id": pid, "work_id": "W-1", "point": "JC-1", "item": "水平位移", "value": "3.2",
               "alarm_value": "30", "anomaly": false}),
    );
    log.push(
        gw,
        &sv,
        "bim.node.progressed.v1",
        &t(12, 30),
        json!({"project_id": pid, "node_id": "N-5F", "status": 1, "actual_start": "2026-03-02"}),
    );
    let (commission, sample) = (format!("C-{r}"), format!("S-{r}"));
    log.push(
        gw,
        &sv,
        "testing.commissioned.v1",
        &t(13, 0),
        json!({"project_id": pid, "commission_id": commission, "lab": LAB, "item": "混凝土抗压强度", "structural": true}),
    );
    log.push(
        gw,
        &sv,
        "testing.sample.taken.v1",
        &t(13, 10),
        json!({"project_id": pid, "commission_id": commission, "sample_id": sample, "seal_id": format!("SEAL-{r}"),
               "witness": "李", "sampler": "张"}),
    );
    log.push(
        bureau,
        &sv,
        "testing.sample.received.v1",
        &t(13, 20),
        json!({"project_id": pid, "sample_id": sample, "seal_id": format!("SEAL-{r}"), "seal_intact": true,
               "condition": "完好"}),
    );
    log.push(
        bureau,
        &sv,
        "testing.report.issued.v1",
        &t(13, 30),
        json!({"project_id": pid, "sample_id": sample, "report_year": 2026, "report_seq": seq, "tester": "陈",
               "reviewer": "周", "approver": "吴", "result": if r % 10 == 3 { "unqualified" } else { "qualified" },
               "summary": "28d"}),
    );
    let tasks = format!("project/{pid}/tasks");
    let task = format!("T-{p}-{r}");
    log.push(
        bureau,
        &tasks,
        "task.dispatched.v1",
        &t(16, 0),
        json!({"task_id": task, "district": "330212", "project_id": pid, "source_kind": "finding",
               "source_event_id": "x-1", "title": "整改督办", "assignee_kind": "enterprise", "assignee": GC,
               "level": "project", "sla_hours": 24}),
    );
    for (kind, m) in [("task.acknowledged.v1", 10), ("task.closed.v1", 40)] {
        log.push(
            bureau,
            &tasks,
            kind,
            &t(16, m),
            json!({"task_id": task, "district": "330212", "project_id": pid, "note": "已处理"}),
        );
    }
    log.push(
        bureau,
        &tasks,
        "task.resolved.v1",
        &t(16, 30),
        json!({"task_id": task, "district": "330212", "project_id": pid, "evidence_hashes": [PHOTO], "note": "已办结"}),
    );
}

fn main() {
    let projects = env("FOLD_BENCH_PROJECTS", 20);
    let rounds = env("FOLD_BENCH_ROUNDS", 100);
    let mut log = Log::default();
    let mut city = KeyedChain::new(SigningKey::from_seed(&[7; 32]));
    let mut gw = KeyedChain::new(SigningKey::from_seed(&[8; 32]));
    let mut bureau = KeyedChain::new(SigningKey::from_seed(&[9; 32]));
    let t = Instant::now();
    setup(&mut log, &mut city, *gw.key().public(), projects);
    let setup_len = log.events.len();
    for r in 0..rounds {
        for p in 0..projects {
            round(&mut log, &mut gw, &mut bureau, p, r, r * projects + p + 1);
        }
    }
    let records = log.events.len() - setup_len;
    eprintln!("signed {} records in {:.1} s", log.events.len(), t.elapsed().as_secs_f64());

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        // `FOLD_BENCH_KEEP=PATH` keeps the read database there (to compare what two builds fold).
        let path = std::env::var("FOLD_BENCH_KEEP").unwrap_or_else(|_| dir.path().join("read.db").display().to_string());
        let db = ReadDb::open(&format!("sqlite:{path}")).await.expect("open");
        for chunk in log.events[..setup_len].chunks(BATCH_EVENTS) {
            apply_events(&db, chunk).await.expect("fold");
        }
        let t = Instant::now();
        for chunk in log.events[setup_len..].chunks(BATCH_EVENTS) {
            apply_events(&db, chunk).await.expect("fold");
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "mixed fold: {records} records ({projects} projects × {rounds} rounds × 40: 10 readings, 2 alarms, 10 passages, \
             8 inspection, 4 testing, 2 hazard/BIM, 4 task records) in {secs:.2} s = {:.0} records/s (all projections, SQLite, batches of {BATCH_EVENTS})",
            records as f64 / secs
        );
        let errors = db.fold_error_count().await.expect("fold errors");
        assert_eq!(errors, 0, "every record folds");
    });
}
