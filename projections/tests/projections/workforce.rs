//! The workforce projection on SQLite and PostgreSQL: the same records folded in different batch sizes give the
//! same roster, attendance and arrears (deterministic, idempotent per batch, rebuildable).

use serde_json::{Map, Value, json};
use siteledger_client::KeyedChain;
use siteledger_ledger::StoredEvent;
use siteledger_projections::{ReadDb, Scope, apply_events};
use siteledger_signer::SigningKey;

use super::stored_at;

const P: &str = "NB-2026-0001";
const OWNER: &str = "91330200MA2AAAAA76";

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn person(w: usize) -> String {
    format!("P-{w:032x}")
}

/// A small project month: 5 workers, 10 days in and out, a payroll with worker 1 underpaid and worker 2 unpaid.
fn records() -> Vec<StoredEvent> {
    records_of(P, 0)
}

/// [`records`] of project `p`, signed by a key of its own and with event ids of its own (`n`), positions from 0.
fn records_of(p: &str, n: u8) -> Vec<StoredEvent> {
    let mut signer = KeyedChain::new(SigningKey::from_seed(&[9_u8.wrapping_add(n.wrapping_mul(16)); 32]));
    let mut out: Vec<StoredEvent> = Vec::new();
    let mut push = |stream: &str, kind: &str, at: &str, payload: Value| {
        let id =
            uuid::Builder::from_unix_timestamp_millis(1_790_000_000_000 + out.len() as u64, &[1 + n; 10]).into_uuid();
        let e = signer.sign(id, stream, kind, at, obj(payload)).expect("sign");
        out.push(stored_at(&e, out.len() as u64));
    };
    push(
        "registry/projects",
        "registry.project.registered.v1",
        "2026-03-01T09:00:00+08:00",
        json!({
        "project_id": p, "name": "测试项目", "district": "330212", "central_urban": true, "floor_area_m2": "1000",
        "contract_cost_fen": 1_000_000, "start_date": "2026-03-01",
        "participants": [{"role": "owner", "credit_code": OWNER}, {"role": "general_contractor", "credit_code": OWNER}]}),
    );
    let wf = format!("project/{p}/workforce");
    let wage = format!("project/{p}/wage");
    push(
        &wf,
        "worker.team.formed.v1",
        "2026-03-02T09:00:00+08:00",
        json!({"project_id": p, "team_id": "T1", "name": "班组", "employer": OWNER}),
    );
    push(
        &wage,
        "wage.account.opened.v1",
        "2026-03-02T09:00:00+08:00",
        json!({"project_id": p, "opened_by": OWNER, "bank_name": "银行", "account_masked": "3901 **** **** 0088", "pay_day": 15}),
    );
    for w in 0..5 {
        push(
            &wf,
            "worker.registered.v1",
            "2026-03-02T09:00:00+08:00",
            json!({"project_id": p, "person_ref": person(w), "id_type": "01", "id_commitment": format!("hmac-sha256:{w:064x}"), "id_masked": "3302**********123X", "birth_month": "1980-01", "employer": OWNER, "team_id": "T1", "trade": "020", "work_role": "20"}),
        );
        push(
            &wf,
            "worker.card.registered.v1",
            "2026-03-02T09:00:00+08:00",
            json!({"project_id": p, "person_ref": person(w), "card_commitment": format!("hmac-sha256:{:064x}", 100 + w), "card_masked": "6222 **** **** 1234", "bank_name": "银行"}),
        );
        push(
            &wf,
            "worker.entered.v1",
            "2026-04-01T07:00:00+08:00",
            json!({"project_id": p, "person_ref": person(w), "date": "2026-04-01"}),
        );
    }
    push(
        &wage,
        "wage.labour_cost.deposited.v1",
        "2026-04-01T09:00:00+08:00",
        json!({"project_id": p, "payer": OWNER, "amount_fen": 1_000_000, "deposited_on": "2026-04-01", "for_month": "2026-04"}),
    );
    for d in 1..=10 {
        for w in 0..5 {
            for (hm, dir) in [("07:30", "in"), ("17:30", "out")] {
                push(
                    &format!("{wf}/gate"),
                    "worker.passage.v1",
                    &format!("2026-04-{d:02}T{hm}:00+08:00"),
                    json!({"project_id": p, "person_ref": person(w), "gate": "G1", "direction": dir, "method": "face"}),
                );
            }
        }
    }
    let lines: Vec<Value> = (0..5)
        .map(|w| json!({"person_ref": person(w), "days": 10, "hours": 80, "payable_fen": 300_000, "actual_fen": if w == 1 { 200_000 } else { 300_000 }, "card_commitment": format!("hmac-sha256:{:064x}", 100 + w), "card_masked": "6222 **** **** 1234", "back_pay": false}))
        .collect();
    push(
        &wage,
        "wage.payroll.submitted.v1",
        "2026-05-05T09:00:00+08:00",
        json!({"project_id": p, "payroll_id": "PR1", "team_id": "T1", "employer": OWNER, "month": "2026-04", "lines": lines}),
    );
    push(
        &wage,
        "wage.labour_cost.deposited.v1",
        "2026-05-01T09:00:00+08:00",
        json!({"project_id": p, "payer": OWNER, "amount_fen": 1_000_000, "deposited_on": "2026-05-01", "for_month": "2026-05"}),
    );
    for w in [0usize, 1, 3, 4] {
        let amount = if w == 1 { 200_000 } else { 300_000 };
        push(
            &wage,
            "wage.transfer.made.v1",
            "2026-05-10T09:00:00+08:00",
            json!({"project_id": p, "transfer_id": format!("TX{w}"), "payroll_id": "PR1", "person_ref": person(w), "amount_fen": amount, "card_commitment": format!("hmac-sha256:{:064x}", 100 + w), "card_masked": "6222 **** **** 1234", "paid_on": "2026-05-10", "back_pay": false}),
        );
    }
    push(
        &wf,
        "worker.exited.v1",
        "2026-05-20T09:00:00+08:00",
        json!({"project_id": p, "person_ref": person(4), "date": "2026-05-20"}),
    );
    out
}

async fn fold(db: &ReadDb, events: &[StoredEvent], batch: usize) {
    for chunk in events.chunks(batch) {
        apply_events(db, chunk).await.expect("fold");
    }
}

async fn view(db: &ReadDb) -> (Value, Value, Value, Option<String>) {
    let s = Scope::All;
    let arrears = db.workforce_arrears(&s, None, None, 1).await.expect("arrears");
    let roster = db.workforce_roster(&s, Some(P), false, &Default::default()).await.expect("roster");
    let day = db.workforce_attendance(&s, P, "2026-04-03").await.expect("attendance");
    (
        serde_json::to_value(arrears).expect("json"),
        serde_json::to_value(roster).expect("json"),
        serde_json::to_value(day).expect("json"),
        db.workforce_latest_day().await.expect("latest"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_records_same_rows_on_both_backends_and_any_batching() {
    let events = records();
    let (sqlite, _dir) = super::sqlite_db().await;
    fold(&sqlite, &events, 1000).await;
    let reference = view(&sqlite).await;
    let rules: Vec<&str> =
        reference.0.as_array().expect("array").iter().map(|f| f["rule"].as_str().expect("rule")).collect();
    assert_eq!(rules, vec!["arrears_suspected", "underpayment"], "{:#}", reference.0);
    assert_eq!(reference.2.as_array().expect("array").len(), 5);
    assert!(reference.2.as_array().expect("array").iter().all(|r| r["passages"] == 2));
    assert_eq!(reference.3.as_deref(), Some("2026-05-20"));
    let on_site = reference.1.as_array().expect("array").iter().filter(|w| w["on_site"] == 1).count();
    assert_eq!(on_site, 4);

    let (small, _dir2) = super::sqlite_db().await;
    fold(&small, &events, 7).await;
    assert_eq!(view(&small).await, reference, "batch size changes nothing");

    let pg = super::postgres_db().await;
    fold(&pg, &events, 13).await;
    assert_eq!(view(&pg).await, reference, "PostgreSQL gives the same rows");
}

/// `records()` and then a district bureau's `wage.finding.recorded.v1` publishing worker 2's arrears (a day after
/// the last workforce record).
fn with_published_finding() -> (Vec<StoredEvent>, String) {
    let mut out = records();
    let mut bureau = KeyedChain::new(SigningKey::from_seed(&[10; 32]));
    let id = uuid::Builder::from_unix_timestamp_millis(1_790_100_000_000, &[2; 10]).into_uuid();
    let e = bureau
        .sign(
            id,
            &format!("project/{P}/wage/findings"),
            "wage.finding.recorded.v1",
            "2026-06-01T09:00:00+08:00",
            obj(json!({"project_id": P, "finding_id": format!("arrears_suspected:2026-04:{}", person(2)),
                       "rule": "arrears_suspected", "month": "2026-04",
                       "summary": "2026-04 有 10 天考勤，发薪日已过，未见工资转账", "evidence": [out[3].event_id.to_string()]})),
        )
        .expect("sign");
    out.push(stored_at(&e, out.len() as u64));
    (out, id.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_finding_marks_its_computed_row_and_changes_nothing_else() {
    let (events, published) = with_published_finding();
    let (plain, _d0) = super::sqlite_db().await;
    fold(&plain, &records(), 1000).await;
    let before = view(&plain).await;

    let (db, _d1) = super::sqlite_db().await;
    fold(&db, &events, 1000).await;
    let after = view(&db).await;
    let rows = after.0.as_array().expect("array");
    let keys: Vec<(&str, Option<&str>)> =
        rows.iter().map(|f| (f["finding_id"].as_str().expect("id"), f["published_event_id"].as_str())).collect();
    assert_eq!(
        keys,
        vec![
            (format!("arrears_suspected:2026-04:{}", person(2)).as_str(), Some(published.as_str())),
            (format!("underpayment:2026-04:{}", person(1)).as_str(), None),
        ],
        "{:#}",
        after.0
    );
    // The computation is unchanged, and the publication (a later day) does not move the view's "as of".
    let strip = |v: &Value| -> Value {
        let mut v = v.clone();
        for f in v.as_array_mut().expect("array") {
            f.as_object_mut().expect("object").remove("published_event_id");
        }
        v
    };
    assert_eq!(strip(&after.0), strip(&before.0));
    assert_eq!(after.3.as_deref(), Some("2026-05-20"));
    assert_eq!((&after.1, &after.2), (&before.1, &before.2));
    // The stored findings (computed before the publication was folded) show it too: publications are joined when
    // read, and a publication does not make the project due.
    let (stored, _d3) = super::sqlite_db().await;
    fold(&stored, &events[..events.len() - 1], 1000).await;
    assert_eq!(stored.refresh_workforce_findings().await.expect("refresh"), 1);
    fold(&stored, &events[events.len() - 1..], 1000).await;
    assert!(stored.workforce_findings_due().await.expect("due").is_empty());
    let shown = stored.workforce_arrears_view(&Scope::All, None, None, 1).await.expect("view");
    assert_eq!(serde_json::to_value(&shown.rows).expect("json"), after.0);

    // Redelivered in small batches: the same rows.
    let (small, _d2) = super::sqlite_db().await;
    fold(&small, &events, 3).await;
    fold(&small, &events[events.len() - 2..], 3).await;
    assert_eq!(view(&small).await, after);
}

/// A stored event of `e` at `position`.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_dated_2099_does_not_move_other_projects_arrears() {
    // Another project's gateway (enrolled; before issue 12 the ledger accepted any date) registers a worker on the
    // last day of 2099. The arrears view's default "as of" is per project, so P's findings stay as they were.
    let other = "NB-2026-0099";
    let mut events = records();
    let (db, _dir) = super::sqlite_db().await;
    fold(&db, &events, 1000).await;
    let s = Scope::All;
    let before = db.workforce_arrears(&s, Some(P), None, 1).await.expect("arrears");
    assert!(!before.is_empty());
    assert!(before.iter().all(|r| r.as_of == "2026-05-20"), "checked as of P's latest workforce day");

    let mut gw = KeyedChain::new(SigningKey::from_seed(&[0x99; 32]));
    let far = gw
        .sign(
            uuid::Builder::from_unix_timestamp_millis(1_790_200_000_000, &[3; 10]).into_uuid(),
            &format!("project/{other}/workforce"),
            "worker.registered.v1",
            "2099-12-31T09:00:00+08:00",
            obj(json!({"project_id": other, "person_ref": person(9), "id_type": "01",
                       "id_commitment": format!("hmac-sha256:{:064x}", 9), "id_masked": "3302**********123X",
                       "birth_month": "1980-01", "employer": OWNER, "team_id": "T1", "trade": "020", "work_role": "20"})),
        )
        .expect("sign");
    events.push(stored_at(&far, events.len() as u64));
    fold(&db, &events, 1000).await;

    let after = db.workforce_arrears(&s, Some(P), None, 1).await.expect("arrears");
    assert_eq!(
        serde_json::to_value(&after).expect("json"),
        serde_json::to_value(&before).expect("json"),
        "another project's record does not change P's findings"
    );
    let all = db.workforce_arrears(&s, None, None, 1).await.expect("arrears");
    let p_rows: Vec<_> = all.iter().filter(|r| r.project_id == P).cloned().collect();
    assert_eq!(serde_json::to_value(&p_rows).expect("json"), serde_json::to_value(&before).expect("json"));
    // What a global "latest day of any record" would have done: as of 2099, P's findings differ.
    let in_2099 = siteledger_domain::LocalDate::parse("2099-12-31").expect("date");
    let moved = db.workforce_arrears(&s, Some(P), Some(in_2099), 1).await.expect("arrears");
    assert_ne!(moved.len(), before.len(), "the test data is sensitive to the as-of date");
    assert_eq!(db.workforce_project_latest_day(P).await.expect("latest").as_deref(), Some("2026-05-20"));
    assert_eq!(db.workforce_project_latest_day(other).await.expect("latest").as_deref(), Some("2099-12-31"));
}

/// The projects of [`city_of`]: `NB-2026-1000` … in one log, positions renumbered.
fn city_of(projects: u8) -> (Vec<String>, Vec<StoredEvent>) {
    let ids: Vec<String> = (0..projects).map(|i| format!("NB-2026-{:04}", 1000 + u32::from(i))).collect();
    let mut events = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        for mut e in records_of(id, u8::try_from(i).expect("few") + 1) {
            e.position = events.len() as u64;
            events.push(e);
        }
    }
    (ids, events)
}

fn json_of<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("json")
}

/// The arrears view over many projects (the city's, a district's, an enterprise's) reads the findings the runtime
/// stores per project instead of every project's workforce history: after a refresh it equals the computation
/// from the facts for every scope, reading fewer rows; a refresh computes the projects whose facts changed and no
/// other; up to `READ_THROUGH_PROJECTS` due projects are computed on the spot, more are all counted as pending
/// (never a wrong finding: a project never computed is simply not in the answer yet).
/// The counted page of the default view ([`ReadDb::workforce_findings_page`]) agrees with `rows` (the view it
/// pages): its counts per project and rule are those of `rows`, its rows the first `limit` of them, its general
/// contractors ([`ReadDb::workforce_general_contractors`]) theirs. Returns its pending count.
async fn page_agrees(db: &ReadDb, scope: &Scope, rows: &[siteledger_projections::workforce::ArrearsRow]) -> usize {
    use std::collections::BTreeMap;
    const LIMIT: usize = 7;
    let page = db.workforce_findings_page(scope, None, None, 1, LIMIT).await.expect("page");
    let mut counts: BTreeMap<(String, String, String, String), i64> = BTreeMap::new();
    for r in rows {
        *counts.entry((r.project_id.clone(), r.district.clone(), r.rule.clone(), r.rule_zh.clone())).or_default() += 1;
    }
    let paged: BTreeMap<(String, String, String, String), i64> = page
        .counts
        .iter()
        .map(|c| ((c.project_id.clone(), c.district.clone(), c.rule.clone(), c.rule_zh.clone()), c.n))
        .collect();
    assert_eq!(paged, counts, "{scope:?}");
    assert_eq!(page.counts.len(), counts.len(), "one count per project and rule");
    assert_eq!(json_of(&page.rows), json_of(&rows.iter().take(LIMIT).collect::<Vec<_>>()), "{scope:?}");
    let contractors = db.workforce_general_contractors(scope, None).await.expect("contractors");
    for r in rows {
        let gcs = contractors.get(&r.project_id).map(|g| g.join(",")).unwrap_or_default();
        assert_eq!(gcs, r.general_contractor, "{scope:?} {}", r.project_id);
    }
    page.pending
}

async fn stored_findings_on(db: &ReadDb) {
    use siteledger_projections::workforce::READ_THROUGH_PROJECTS;
    let n = u8::try_from(READ_THROUGH_PROJECTS).expect("small") + 4;
    let (ids, events) = city_of(n);
    fold(db, &events, 500).await;
    let all = Scope::All;
    let exact = db.workforce_arrears(&all, None, None, 1).await.expect("arrears");
    assert_eq!(exact.len(), 2 * usize::from(n), "two findings per project: {:#}", json_of(&exact));

    // Nothing computed yet and more projects due than a request computes: none is computed, all are pending (a
    // project never computed is not in the answer yet; nothing shown is wrong).
    let before = db.workforce_arrears_view(&all, None, None, 1).await.expect("view");
    assert_eq!(before.pending, usize::from(n));
    assert!(before.rows.is_empty());
    // A district with no workforce project has nothing due: exact, nothing pending.
    let other = db.workforce_arrears_view(&Scope::District("330203".into()), None, None, 1).await.expect("view");
    assert_eq!((other.rows.len(), other.pending), (0, 0));

    // A refresh computes every project once; a second one finds nothing due.
    assert_eq!(db.refresh_workforce_findings().await.expect("refresh"), usize::from(n));
    assert_eq!(db.refresh_workforce_findings().await.expect("refresh"), 0, "nothing changed since");
    let scopes = [
        all.clone(),
        Scope::District("330212".into()),
        Scope::District("330203".into()),
        Scope::Enterprise(OWNER.into()),
        Scope::Enterprise("91330200MA2BBBBB7X".into()),
    ];
    for scope in &scopes {
        let view = db.workforce_arrears_view(scope, None, None, 1).await.expect("view");
        let computed = db.workforce_arrears(scope, None, None, 1).await.expect("arrears");
        assert_eq!(json_of(&view.rows), json_of(&computed), "{scope:?}");
        assert_eq!(view.pending, 0, "{scope:?}");
        assert_eq!(page_agrees(db, scope, &computed).await, 0, "{scope:?}");
    }

    // Counted work: the stored view reads its findings and a row per project, not the attendance behind them.
    let w0 = db.query_work();
    let _ = db.workforce_arrears_view(&all, None, None, 1).await.expect("view");
    let w1 = db.query_work();
    let _ = db.workforce_arrears(&all, None, None, 1).await.expect("arrears");
    let w2 = db.query_work();
    let (stored_rows, computed_rows) = (w1.rows - w0.rows, w2.rows - w1.rows);
    assert!(stored_rows <= exact.len() as u64 + u64::from(n), "{stored_rows} rows for {} findings", exact.len());
    assert!(stored_rows * 4 < computed_rows, "stored {stored_rows} rows, computed {computed_rows}");

    // One project's new fact: that project alone is due, and the refresh brings the view back to the facts.
    let p3 = &ids[3];
    let mut gate = KeyedChain::new(SigningKey::from_seed(&[0x77; 32]));
    let exit = gate
        .sign(
            uuid::Builder::from_unix_timestamp_millis(1_790_300_000_000, &[7; 10]).into_uuid(),
            &format!("project/{p3}/workforce"),
            "worker.exited.v1",
            "2026-07-20T09:00:00+08:00",
            obj(json!({"project_id": p3, "person_ref": person(0), "date": "2026-07-20"})),
        )
        .expect("sign");
    apply_events(db, &[stored_at(&exit, events.len() as u64)]).await.expect("fold");
    let due = db.workforce_findings_due().await.expect("due");
    assert_eq!(due.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(), [p3.as_str()]);
    let changed = db.workforce_arrears(&all, Some(p3), None, 1).await.expect("arrears");
    assert_ne!(json_of(&changed), json_of(&exact.iter().filter(|r| &r.project_id == p3).collect::<Vec<_>>()));
    // Read through before the refresh (one project due), stored after it: the same, and right.
    let now = db.workforce_arrears(&all, None, None, 1).await.expect("arrears");
    assert_eq!(json_of(&db.workforce_arrears_view(&all, None, None, 1).await.expect("view").rows), json_of(&now));
    assert_eq!(page_agrees(db, &all, &now).await, 0, "the due project computed for the page too");
    assert_eq!(db.refresh_workforce_findings().await.expect("refresh"), 1, "only the changed project");
    assert_eq!(json_of(&db.workforce_arrears_view(&all, None, None, 1).await.expect("view").rows), json_of(&now));

    // A busy hour: every project has a newer fact. The view answers with the stored findings of all (what the
    // last pass computed) and counts them as pending; the next pass catches up.
    let later: Vec<StoredEvent> = ids
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let e = gate
                .sign(
                    uuid::Builder::from_unix_timestamp_millis(1_790_400_000_000 + i as u64, &[8; 10]).into_uuid(),
                    &format!("project/{p}/workforce"),
                    "worker.exited.v1",
                    "2026-08-20T09:00:00+08:00",
                    obj(json!({"project_id": p, "person_ref": person(1), "date": "2026-08-20"})),
                )
                .expect("sign");
            stored_at(&e, events.len() as u64 + 1 + i as u64)
        })
        .collect();
    apply_events(db, &later).await.expect("fold");
    let busy = db.workforce_arrears_view(&all, None, None, 1).await.expect("view");
    assert_eq!(busy.pending, usize::from(n));
    assert_eq!(json_of(&busy.rows), json_of(&now), "the stored findings, not a partial computation");
    assert_eq!(page_agrees(db, &all, &now).await, usize::from(n), "the page counts the stored findings too");
    assert_eq!(db.refresh_workforce_findings().await.expect("refresh"), usize::from(n));
    let caught_up = db.workforce_arrears_view(&all, None, None, 1).await.expect("view");
    assert_eq!(caught_up.pending, 0);
    assert_eq!(json_of(&caught_up.rows), json_of(&db.workforce_arrears(&all, None, None, 1).await.expect("arrears")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_city_s_arrears_view_reads_stored_findings_and_a_refresh_computes_only_changed_projects() {
    let (sqlite, _dir) = super::sqlite_db().await;
    stored_findings_on(&sqlite).await;
    let pg = super::postgres_db().await;
    stored_findings_on(&pg).await;
}
