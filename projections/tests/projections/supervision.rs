//! The supervision projection on SQLite and PostgreSQL: rectifications with overdue computed from the `now` asked,
//! the testing register with report-number gaps and unreported unqualified results, 危大工程 with what they lack,
//! BIM deviation, tasks with SLA breaches, the command view, scopes, and identical results on both backends and
//! after a rebuild.

use serde_json::{Value, json};
use siteledger_client::KeyedChain;
use siteledger_ledger::Ledger;
use siteledger_ledger::sqlite::SqliteStore;
use siteledger_ledger::system::KEY_ENROLLED_KIND;
use siteledger_projections::supervision::{CommandView, RectificationFilter};
use siteledger_projections::{ReadDb, Scope, catch_up, rebuild};
use siteledger_signer::SigningKey;
use time::OffsetDateTime;
use time::macros::datetime;

use super::{accepted, enrollment, rooted_ledger, sign};

const E1: &str = "91330200MA2AAAAA1K";
const E2: &str = "91330200MA2BBBBB2Y";
const LAB: &str = "91330200MA2CCCCC3A";
const PHOTO: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const NOW: OffsetDateTime = datetime!(2026-03-01 12:00:00 +08:00);

struct World {
    ledger: Ledger<SqliteStore>,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    let reg = "2026-01-10T09:00:00+08:00";
    let (l, mut city, dir) = rooted_ledger(reg).await;
    let mut district = KeyedChain::new(SigningKey::from_seed(&[0x51; 32]));
    let mut district2 = KeyedChain::new(SigningKey::from_seed(&[0x52; 32]));
    let mut e1 = KeyedChain::new(SigningKey::from_seed(&[0x53; 32]));
    let mut lab = KeyedChain::new(SigningKey::from_seed(&[0x54; 32]));
    let mut batch = vec![
        sign(
            &mut city,
            "registry/keys",
            KEY_ENROLLED_KIND,
            reg,
            enrollment(district.key().public(), "330212", "district_bureau"),
        ),
        sign(
            &mut city,
            "registry/keys",
            KEY_ENROLLED_KIND,
            reg,
            enrollment(district2.key().public(), "330203", "district_bureau"),
        ),
        sign(&mut city, "registry/keys", KEY_ENROLLED_KIND, reg, enrollment(e1.key().public(), E1, "enterprise")),
        sign(&mut city, "registry/keys", KEY_ENROLLED_KIND, reg, enrollment(lab.key().public(), LAB, "testing_lab")),
    ];
    for (code, name, types) in [
        (E1, "宁波建工", json!(["construction"])),
        (E2, "甬城监理", json!(["supervision"])),
        (LAB, "宁波市建设工程检测中心", json!(["testing_lab"])),
    ] {
        batch.push(sign(
            &mut city,
            "registry/enterprises",
            "registry.enterprise.registered.v1",
            reg,
            json!({"credit_code": code, "name": name, "types": types}),
        ));
    }
    for (id, d) in [("PRJ1", "330212"), ("PRJ3", "330203")] {
        batch.push(sign(
            &mut city,
            "registry/projects",
            "registry.project.registered.v1",
            reg,
            json!({"project_id": id, "name": format!("项目{id}"), "district": d, "central_urban": true,
                   "floor_area_m2": "1000", "contract_cost_fen": 100, "start_date": "2026-01-15",
                   "participants": [{"role": "general_contractor", "credit_code": E1}, {"role": "supervisor", "credit_code": E2}]}),
        ));
    }
    accepted(&l.ingest(batch).await.expect("registry"));

    let s = "project/PRJ1/supervision";
    let mut d = |kind: &str, at: &str, p: Value| sign(&mut district, s, kind, at, p);
    let mut batch = vec![
        d(
            "inspection.inspection.recorded.v1",
            "2026-02-20T09:00:00+08:00",
            json!({"project_id": "PRJ1", "inspection_id": "INS-1", "inspection_kind": "safety", "inspector": "王建国", "scope": "主体", "inspected_party": E1}),
        ),
        d(
            "inspection.finding.recorded.v1",
            "2026-02-20T09:10:00+08:00",
            json!({"project_id": "PRJ1", "inspection_id": "INS-1", "finding_id": "F-1", "level": "serious", "category": "临边防护", "description": "未设防护"}),
        ),
        d(
            "inspection.finding.recorded.v1",
            "2026-02-20T09:11:00+08:00",
            json!({"project_id": "PRJ1", "inspection_id": "INS-1", "finding_id": "F-2", "level": "minor", "category": "文明施工", "description": "材料堆放"}),
        ),
        d(
            "inspection.rectification.noticed.v1",
            "2026-02-20T10:00:00+08:00",
            json!({"project_id": "PRJ1", "finding_id": "F-1", "notice_id": "N-1", "deadline": "2026-02-25T17:00:00+08:00", "responsible": E1, "requirement": "限期整改"}),
        ),
        d(
            "inspection.rectification.noticed.v1",
            "2026-02-20T10:01:00+08:00",
            json!({"project_id": "PRJ1", "finding_id": "F-2", "notice_id": "N-2", "deadline": "2026-03-05T17:00:00+08:00", "responsible": E1, "requirement": "限期整改"}),
        ),
    ];
    batch.push(sign(
        &mut e1,
        s,
        "inspection.rectification.submitted.v1",
        "2026-02-24T10:00:00+08:00",
        json!({"project_id": "PRJ1", "notice_id": "N-1", "photo_hashes": [PHOTO], "note": "已整改"}),
    ));
    batch.push(sign(
        &mut district,
        s,
        "inspection.rectification.reviewed.v1",
        "2026-02-24T15:00:00+08:00",
        json!({"project_id": "PRJ1", "notice_id": "N-1", "result": "fail", "reviewer": "王建国", "note": "未整改到位"}),
    ));
    // 危大: W-1 超规模 formwork approved without review; W-2 excavation listed only.
    batch.push(sign(&mut e1, s, "hazard.work.listed.v1", "2026-02-01T09:00:00+08:00",
        json!({"project_id": "PRJ1", "work_id": "W-1", "name": "高支模", "category": "formwork", "parameters": {"subtype": "shoring", "height_m": "8.5"}})));
    batch.push(sign(&mut e1, s, "hazard.work.listed.v1", "2026-02-01T09:01:00+08:00",
        json!({"project_id": "PRJ1", "work_id": "W-2", "name": "基坑", "category": "excavation", "parameters": {"depth_m": "3.5"}})));
    batch.push(sign(
        &mut e1,
        s,
        "hazard.plan.approved.v1",
        "2026-02-02T09:00:00+08:00",
        json!({"project_id": "PRJ1", "work_id": "W-1", "plan_version": 1, "plan_hash": PHOTO, "technical_lead": "赵"}),
    ));
    batch.push(sign(
        &mut e1,
        s,
        "hazard.plan.countersigned.v1",
        "2026-02-02T10:00:00+08:00",
        json!({"project_id": "PRJ1", "work_id": "W-1", "plan_version": 1, "chief_supervisor": "钱"}),
    ));
    // BIM.
    batch.push(sign(&mut e1, s, "bim.model.registered.v1", "2026-02-01T09:00:00+08:00",
        json!({"project_id": "PRJ1", "model_id": "STRU", "version": 1, "sha256": PHOTO, "format": "ifc", "file_name": "结构.ifc"})));
    batch.push(sign(&mut e1, s, "bim.node.planned.v1", "2026-02-01T09:01:00+08:00",
        json!({"project_id": "PRJ1", "node_id": "N-5F", "name": "5层封顶", "model_id": "STRU", "element_ids": ["a", "b"], "planned_start": "2026-02-01", "planned_finish": "2026-02-20"})));
    batch.push(sign(
        &mut e1,
        s,
        "bim.node.progressed.v1",
        "2026-02-05T09:00:00+08:00",
        json!({"project_id": "PRJ1", "node_id": "N-5F", "status": 1, "actual_start": "2026-02-03"}),
    ));
    // Testing: reports 1, 2 (unqualified, structural), 5.
    for (i, seq) in [(1, 1), (2, 2), (3, 5)] {
        batch.push(sign(&mut e1, s, "testing.commissioned.v1", "2026-02-25T09:00:00+08:00",
            json!({"project_id": "PRJ1", "commission_id": format!("C-{i}"), "lab": LAB, "item": "混凝土抗压强度", "structural": true})));
        batch.push(sign(&mut e1, s, "testing.sample.taken.v1", "2026-02-25T10:00:00+08:00",
            json!({"project_id": "PRJ1", "commission_id": format!("C-{i}"), "sample_id": format!("S-{i}"), "seal_id": format!("SEAL-{i}"), "witness": "李", "sampler": "张"})));
        batch.push(sign(&mut lab, s, "testing.sample.received.v1", "2026-02-25T15:00:00+08:00",
            json!({"project_id": "PRJ1", "sample_id": format!("S-{i}"), "seal_id": format!("SEAL-{i}"), "seal_intact": true, "condition": "完好"})));
        batch.push(sign(&mut lab, s, "testing.report.issued.v1", "2026-02-27T09:00:00+08:00",
            json!({"project_id": "PRJ1", "sample_id": format!("S-{i}"), "report_year": 2026, "report_seq": seq, "tester": "陈",
                   "reviewer": "周", "approver": "吴", "result": if seq == 2 { "unqualified" } else { "qualified" }, "summary": "28d"})));
    }
    // Tasks: T-1 on PRJ1 (24 h, breached at NOW); T-2 between bureaus in 330203 (72 h, not breached).
    batch.push(sign(&mut district, "project/PRJ1/tasks", "task.dispatched.v1", "2026-02-27T09:00:00+08:00",
        json!({"task_id": "T-1", "district": "330212", "project_id": "PRJ1", "source_kind": "finding", "source_event_id": "x-1",
               "title": "临边防护整改督办", "assignee_kind": "enterprise", "assignee": E1, "level": "project", "sla_hours": 24})));
    batch.push(sign(&mut district2, "district/330203/tasks", "task.dispatched.v1", "2026-02-28T09:00:00+08:00",
        json!({"task_id": "T-2", "district": "330203", "source_kind": "other", "source_event_id": "req-1",
               "title": "请求市局协调", "assignee_kind": "city_bureau", "assignee": "宁波市住建局", "level": "city", "sla_hours": 72})));
    accepted(&l.ingest(batch).await.expect("supervision"));
    World { ledger: l, _dir: dir }
}

async fn check(db: &ReadDb) -> CommandView {
    let all = Scope::All;
    let rect = db.rectifications(&all, &RectificationFilter::default(), NOW).await.expect("rectifications");
    assert_eq!(rect.len(), 2);
    assert_eq!(rect[0].notice_id, "N-1", "overdue first");
    assert!(rect[0].overdue);
    assert_eq!(rect[0].status, "reopened");
    assert_eq!(rect[0].failed_reviews, 1);
    assert_eq!(rect[0].level, "serious");
    assert_eq!(rect[0].responsible_name, "宁波建工");
    assert!(!rect[1].overdue);
    // The same rows asked before N-1's deadline: nothing overdue (time is an argument, not folded).
    let before = db
        .rectifications(&all, &RectificationFilter::default(), datetime!(2026-02-25 17:00:00 +08:00))
        .await
        .expect("earlier");
    assert!(before.iter().all(|r| !r.overdue));

    let ins = db.inspections(&all, None).await.expect("inspections");
    assert_eq!((ins.len(), ins[0].findings, ins[0].inspected_party_name.as_deref()), (1, 2, Some("宁波建工")));
    assert!(db.stop_orders(&all).await.expect("stop orders").is_empty());
    let reports = db.test_reports(&all, None, false).await.expect("reports");
    assert_eq!(reports.len(), 3);
    let gaps = db.report_gaps(&all).await.expect("gaps");
    assert_eq!(gaps.len(), 1);
    assert_eq!((gaps[0].year, gaps[0].from, gaps[0].to), (2026, 3, 4));
    assert_eq!(gaps[0].lab_name.as_deref(), Some("宁波市建设工程检测中心"));
    let unq = db.unqualified_register(&all, NOW).await.expect("register");
    assert_eq!(unq.len(), 1);
    assert_eq!(unq[0].reporting, "overdue");

    let hz = db.hazards(&all, None).await.expect("hazards");
    assert_eq!(hz.len(), 2);
    let w1 = hz.iter().find(|h| h.work_id == "W-1").expect("W-1");
    assert_eq!((w1.class.as_str(), w1.missing.clone()), ("major", vec!["expert_review".to_owned()]));
    let w2 = hz.iter().find(|h| h.work_id == "W-2").expect("W-2");
    assert_eq!(w2.class, "hazardous");
    assert_eq!(w2.missing, vec!["approval".to_owned(), "countersignature".to_owned()]);

    let nodes =
        db.bim_nodes(&all, None, siteledger_domain::LocalDate::parse("2026-03-01").expect("d")).await.expect("bim");
    assert_eq!(nodes.len(), 1);
    assert_eq!((nodes[0].status, nodes[0].deviation_days, nodes[0].model_version), (1, 9, 1));

    let tasks = db.tasks(&all, false, NOW).await.expect("tasks");
    assert_eq!(tasks.len(), 2);
    assert_eq!(tasks[0].task_id, "T-1", "breached first");
    assert!(tasks[0].breached);
    assert!(!tasks[1].breached);

    // Scopes: 海曙 sees its own task between bureaus and nothing of PRJ1; 鄞州 sees PRJ1 and not T-2.
    let haishu = Scope::District("330203".into());
    assert!(db.rectifications(&haishu, &RectificationFilter::default(), NOW).await.expect("r").is_empty());
    let t: Vec<String> = db.tasks(&haishu, false, NOW).await.expect("t").into_iter().map(|t| t.task_id).collect();
    assert_eq!(t, vec!["T-2".to_owned()]);
    assert!(db.report_gaps(&haishu).await.expect("g").is_empty());
    let yinzhou = Scope::District("330212".into());
    let t: Vec<String> = db.tasks(&yinzhou, false, NOW).await.expect("t").into_iter().map(|t| t.task_id).collect();
    assert_eq!(t, vec!["T-1".to_owned()]);
    assert_eq!(db.hazards(&Scope::Enterprise(E2.into()), None).await.expect("h").len(), 2);
    assert!(db.hazards(&Scope::Nothing, None).await.expect("h").is_empty());

    let cv = db.command_view(&all, NOW).await.expect("command view");
    assert_eq!(cv.overdue_rectifications.len(), 1);
    assert_eq!(cv.missing_reviews.len(), 2);
    assert_eq!(cv.report_gaps.len(), 1);
    assert!(cv.monitoring_anomalies.is_empty());
    assert_eq!(cv.unreported_unqualified.len(), 1);
    assert_eq!(cv.open_tasks.len(), 2);
    assert_eq!(cv.districts[0].code, "330212", "the district with overdue items first");
    let y = &cv.districts[0];
    assert_eq!(
        (
            y.open_tasks,
            y.breached_tasks,
            y.overdue_rectifications,
            y.missing_reviews,
            y.missing_approvals,
            y.report_gaps
        ),
        (1, 1, 1, 1, 1, 1)
    );
    cv
}

#[tokio::test]
async fn supervision_read_models_on_sqlite_and_postgres_agree() {
    let w = world().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let lite = ReadDb::open(&super::sqlite_url(&dir)).await.expect("sqlite");
    catch_up(&w.ledger, &lite).await.expect("catch up");
    let a = check(&lite).await;
    let pg = super::postgres_db().await;
    catch_up(&w.ledger, &pg).await.expect("catch up pg");
    let b = check(&pg).await;
    assert_eq!(a, b);
    rebuild(&w.ledger, &lite).await.expect("rebuild");
    assert_eq!(check(&lite).await, a, "a rebuild gives the same rows");
}
