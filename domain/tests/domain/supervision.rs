//! Given/when/then tables for the supervision workflows, decided through `DomainState::decide` exactly as the
//! ingest policy does: every forbidden transition (and who may sign it) is rejected with the rule it breaks; the
//! allowed paths pass. Plus the 危大工程 classification boundaries, report-number gap detection, and the time
//! functions (overdue, SLA, unreported non-conformities).

use serde_json::{Value, json};
use siteledger_domain::supervision::hazard::{Category, Class, Parameters, classify};
use siteledger_domain::supervision::{inspection, task, testing};
use siteledger_domain::{Decimal, DomainEvent, DomainState, RecordContext, RuleError};

use crate::fixtures::*;

const P: &str = "NB-2026-0001";
const DISTRICT: &str = "330212";
const OTHER_DISTRICT: &str = "330203";

/// Who signs a record: (role, subject).
#[derive(Clone, Copy)]
struct Signer(&'static str, &'static str);

fn bureau() -> Signer {
    Signer("district_bureau", DISTRICT)
}
fn city() -> Signer {
    Signer("city_bureau", "宁波市住房和城乡建设局")
}
fn other_bureau() -> Signer {
    Signer("district_bureau", OTHER_DISTRICT)
}
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}
fn ent(code: &siteledger_domain::CreditCode) -> Signer {
    Signer("enterprise", leak(code.to_string()))
}
fn lab() -> Signer {
    Signer("testing_lab", leak(lab_code().to_string()))
}
fn lab_code() -> siteledger_domain::CreditCode {
    cc("91330201MA2H00008")
}
fn gateway() -> Signer {
    Signer("gateway", "project/NB-2026-0001/gateway/GW-01")
}

/// One record: kind, payload, signer, time.
#[derive(Clone)]
struct Rec {
    kind: &'static str,
    payload: Value,
    signer: Signer,
    at: &'static str,
}

fn rec(kind: &'static str, signer: Signer, payload: Value) -> Rec {
    Rec { kind, payload, signer, at: "2026-03-10T09:00:00+08:00" }
}

impl Rec {
    fn at(mut self, at: &'static str) -> Rec {
        self.at = at;
        self
    }
    fn by(mut self, s: Signer) -> Rec {
        self.signer = s;
        self
    }
    fn with(mut self, k: &str, v: Value) -> Rec {
        self.payload[k] = v;
        self
    }
}

fn registry_state() -> DomainState {
    let mut s = DomainState::new();
    let ctx = RecordContext {
        event_id: "r",
        stream: "registry/x",
        occurred_at: "2026-01-01T00:00:00+08:00",
        signer_key_id: "k",
        signer_role: "city_bureau",
        signer_subject: "x",
    };
    let mut events = enterprises();
    events.push(project(P, DISTRICT));
    for e in events {
        s.evolve(&ctx, &DomainEvent::Registry(e));
    }
    s
}

/// Decides `r` against `s`; folds it if accepted.
fn apply(s: &mut DomainState, r: &Rec, i: usize) -> Result<(), RuleError> {
    let payload = r.payload.as_object().expect("object").clone();
    let event =
        DomainEvent::parse(r.kind, &payload).unwrap_or_else(|e| panic!("{}: payload does not parse: {e}", r.kind));
    let id = format!("e{i}");
    let ctx = RecordContext {
        event_id: &id,
        stream: "project/NB-2026-0001/supervision",
        occurred_at: r.at,
        signer_key_id: "k",
        signer_role: r.signer.0,
        signer_subject: r.signer.1,
    };
    s.decide(&ctx, &event)?;
    s.evolve(&ctx, &event);
    Ok(())
}

fn run(given: &[Rec], when: &Rec) -> Result<(), RuleError> {
    let mut s = registry_state();
    for (i, r) in given.iter().enumerate() {
        apply(&mut s, r, i).unwrap_or_else(|e| panic!("given record {i} ({}) rejected: {e}", r.kind));
    }
    apply(&mut s, when, given.len())
}

/// A table row: name, given, when, `None` = accepted or `Some(rule)` = rejected by that rule.
type Row = (&'static str, Vec<Rec>, Rec, Option<&'static str>);

fn check(rows: Vec<Row>) {
    let mut failures = Vec::new();
    for (name, given, when, then) in rows {
        let got = run(&given, &when);
        match (&got, then) {
            (Ok(()), None) => {}
            (Err(e), Some(rule)) if e.rule == rule => {
                assert!(!e.message.is_empty(), "{name}: empty message");
                assert!(e.to_string().starts_with(&format!("{rule} rule: ")), "{name}: {e}");
            }
            _ => failures.push(format!("{name}: expected {then:?}, got {got:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------------------------
// 工程安全质量监管

fn inspected() -> Rec {
    rec(
        inspection::INSPECTION_RECORDED,
        bureau(),
        json!({"project_id": P, "inspection_id": "INS-1", "inspection_kind": "safety", "inspector": "王建国",
               "scope": "主体结构施工现场", "inspected_party": gc().to_string()}),
    )
}
fn finding() -> Rec {
    rec(
        inspection::FINDING_RECORDED,
        bureau(),
        json!({"project_id": P, "inspection_id": "INS-1", "finding_id": "F-1", "level": "serious",
               "category": "临边防护", "description": "5层楼板临边未设防护栏杆"}),
    )
}
fn notice() -> Rec {
    rec(
        inspection::NOTICE_ISSUED,
        bureau(),
        json!({"project_id": P, "finding_id": "F-1", "notice_id": "N-1", "deadline": "2026-03-13T17:00:00+08:00",
               "responsible": gc().to_string(), "requirement": "三日内整改完毕"}),
    )
}
const PHOTO: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
fn submitted() -> Rec {
    rec(
        inspection::RECTIFICATION_SUBMITTED,
        ent(&gc()),
        json!({"project_id": P, "notice_id": "N-1", "photo_hashes": [PHOTO], "note": "已设置防护栏杆"}),
    )
    .at("2026-03-12T10:00:00+08:00")
}
fn reviewed(result: &str) -> Rec {
    rec(
        inspection::RECTIFICATION_REVIEWED,
        bureau(),
        json!({"project_id": P, "notice_id": "N-1", "result": result, "reviewer": "王建国", "note": "复查"}),
    )
    .at("2026-03-12T15:00:00+08:00")
}
fn closed() -> Rec {
    rec(inspection::RECTIFICATION_CLOSED, bureau(), json!({"project_id": P, "notice_id": "N-1"}))
}
fn stop() -> Rec {
    rec(
        inspection::STOP_WORK_ORDERED,
        bureau(),
        json!({"project_id": P, "order_id": "S-1", "inspection_id": "INS-1", "reason": "重大隐患", "scope": "5层以上"}),
    )
}
fn resume() -> Rec {
    rec(inspection::STOP_WORK_LIFTED, bureau(), json!({"project_id": P, "order_id": "S-1", "note": "同意复工"}))
}

#[test]
fn inspection_allowed_paths() {
    let base = vec![inspected(), finding(), notice()];
    let cat = |v: &[Rec], more: &[Rec]| -> Vec<Rec> { v.iter().chain(more).cloned().collect() };
    check(vec![
        ("inspection by the district bureau", vec![], inspected(), None),
        ("inspection by the city bureau", vec![], inspected().by(city()), None),
        ("finding", vec![inspected()], finding(), None),
        ("notice", vec![inspected(), finding()], notice(), None),
        ("submission by the responsible party", base.clone(), submitted(), None),
        ("review after submission", cat(&base, &[submitted()]), reviewed("pass"), None),
        ("closure after a passed review", cat(&base, &[submitted(), reviewed("pass")]), closed(), None),
        ("failed review reopens: submit again", cat(&base, &[submitted(), reviewed("fail")]), submitted(), None),
        (
            "fail, resubmit, pass, close",
            cat(&base, &[submitted(), reviewed("fail"), submitted(), reviewed("pass")]),
            closed(),
            None,
        ),
        ("stop-work order", vec![inspected()], stop(), None),
        ("resumption once rectified", cat(&base, &[stop(), submitted(), reviewed("pass"), closed()]), resume(), None),
    ]);
}

#[test]
fn inspection_forbidden_transitions() {
    let base = vec![inspected(), finding(), notice()];
    let cat = |v: &[Rec], more: &[Rec]| -> Vec<Rec> { v.iter().chain(more).cloned().collect() };
    check(vec![
        ("inspection signed by an enterprise", vec![], inspected().by(ent(&gc())), Some("inspection.signer")),
        ("inspection signed by a gateway", vec![], inspected().by(gateway()), Some("inspection.signer")),
        ("inspection by another district's bureau", vec![], inspected().by(other_bureau()), Some("inspection.signer")),
        ("inspection id reused", vec![inspected()], inspected(), Some("inspection.unique_id")),
        (
            "party inspected not in the project",
            vec![],
            inspected().with("inspected_party", json!(stranger().to_string())),
            Some("inspection.party_inspected"),
        ),
        ("finding without inspection", vec![], finding(), Some("inspection.finding_needs_inspection")),
        ("finding id reused", vec![inspected(), finding()], finding(), Some("inspection.unique_id")),
        ("notice without finding", vec![inspected()], notice(), Some("inspection.notice_needs_finding")),
        (
            "second notice for a finding",
            base.clone(),
            notice().with("notice_id", json!("N-2")),
            Some("inspection.one_notice_per_finding"),
        ),
        (
            "deadline before the notice",
            vec![inspected(), finding()],
            notice().with("deadline", json!("2026-03-09T17:00:00+08:00")),
            Some("inspection.deadline_after_notice"),
        ),
        (
            "responsible party not in the project",
            vec![inspected(), finding()],
            notice().with("responsible", json!(stranger().to_string())),
            Some("inspection.responsible_party"),
        ),
        (
            "submission without notice",
            vec![inspected(), finding()],
            submitted(),
            Some("inspection.submission_needs_notice"),
        ),
        (
            "submission by another participant",
            base.clone(),
            submitted().by(ent(&supervisor())),
            Some("inspection.submission_signer"),
        ),
        ("submission by a bureau", base.clone(), submitted().by(bureau()), Some("inspection.submission_signer")),
        (
            "submission without photos",
            base.clone(),
            submitted().with("photo_hashes", json!([])),
            Some("inspection.submission_needs_photos"),
        ),
        (
            "second submission awaiting review",
            cat(&base, &[submitted()]),
            submitted(),
            Some("inspection.submission_when_open"),
        ),
        (
            "submission after a passed review",
            cat(&base, &[submitted(), reviewed("pass")]),
            submitted(),
            Some("inspection.submission_when_open"),
        ),
        ("review before a submission", base.clone(), reviewed("pass"), Some("inspection.review_needs_submission")),
        (
            "review after a failed review without resubmission",
            cat(&base, &[submitted(), reviewed("fail")]),
            reviewed("pass"),
            Some("inspection.review_needs_submission"),
        ),
        (
            "review twice",
            cat(&base, &[submitted(), reviewed("pass")]),
            reviewed("pass"),
            Some("inspection.review_needs_submission"),
        ),
        (
            "review by the contractor",
            cat(&base, &[submitted()]),
            reviewed("pass").by(ent(&gc())),
            Some("inspection.signer"),
        ),
        (
            "review of an unknown notice",
            vec![inspected(), finding()],
            reviewed("pass"),
            Some("inspection.review_needs_notice"),
        ),
        ("closure without any review", base.clone(), closed(), Some("inspection.closure_needs_passed_review")),
        (
            "closure awaiting review",
            cat(&base, &[submitted()]),
            closed(),
            Some("inspection.closure_needs_passed_review"),
        ),
        (
            "closure after a failed review",
            cat(&base, &[submitted(), reviewed("fail")]),
            closed(),
            Some("inspection.closure_needs_passed_review"),
        ),
        (
            "closure twice",
            cat(&base, &[submitted(), reviewed("pass"), closed()]),
            closed(),
            Some("inspection.closure_needs_passed_review"),
        ),
        ("closure of an unknown notice", vec![], closed(), Some("inspection.closure_needs_notice")),
        ("stop-work order reused", vec![inspected(), stop()], stop(), Some("inspection.unique_id")),
        ("stop-work for an unknown inspection", vec![], stop(), Some("inspection.stop_work_needs_inspection")),
        ("stop-work by an enterprise", vec![inspected()], stop().by(ent(&owner())), Some("inspection.signer")),
        ("resumption without order", vec![], resume(), Some("inspection.resumption_needs_order")),
        ("resumption twice", vec![inspected(), stop(), resume()], resume(), Some("inspection.resumption_needs_order")),
        (
            "resumption with an open rectification",
            cat(&base, &[stop(), submitted()]),
            resume(),
            Some("inspection.resumption_needs_rectification"),
        ),
    ]);
}

#[test]
fn overdue_is_a_function_of_time() {
    let mut s = registry_state();
    for (i, r) in [inspected(), finding(), notice()].iter().enumerate() {
        apply(&mut s, r, i).expect("accepted");
    }
    let deadline = siteledger_domain::supervision::unix_of("2026-03-13T17:00:00+08:00");
    assert!(inspection::overdue(&s.supervision.inspection, deadline).is_empty(), "due, not overdue, at the deadline");
    assert_eq!(inspection::overdue(&s.supervision.inspection, deadline + 1).len(), 1);
    apply(&mut s, &submitted(), 3).expect("submitted");
    assert!(inspection::overdue(&s.supervision.inspection, deadline + 1).is_empty(), "awaiting review is not overdue");
    apply(&mut s, &reviewed("fail"), 4).expect("reviewed");
    assert_eq!(inspection::overdue(&s.supervision.inspection, deadline + 1).len(), 1, "a failed review reopens");
}

// ---------------------------------------------------------------------------------------------------------------
// 工程质量检测

fn commissioned() -> Rec {
    rec(
        testing::COMMISSIONED,
        ent(&owner()),
        json!({"project_id": P, "commission_id": "C-1", "lab": lab_code().to_string(), "item": "混凝土抗压强度", "structural": true}),
    )
}
fn taken() -> Rec {
    rec(
        testing::SAMPLE_TAKEN,
        ent(&supervisor()),
        json!({"project_id": P, "commission_id": "C-1", "sample_id": "S-1", "seal_id": "SEAL-001", "witness": "李监理", "sampler": "张取样"}),
    )
}
fn received() -> Rec {
    rec(
        testing::SAMPLE_RECEIVED,
        lab(),
        json!({"project_id": P, "sample_id": "S-1", "seal_id": "SEAL-001", "seal_intact": true, "condition": "试块完好"}),
    )
}
fn report(seq: i64, result: &str) -> Rec {
    rec(
        testing::REPORT_ISSUED,
        lab(),
        json!({"project_id": P, "sample_id": "S-1", "report_year": 2026, "report_seq": seq, "tester": "陈检测",
               "reviewer": "周审核", "approver": "吴批准", "result": result, "summary": "28d 抗压强度 26.1 MPa"}),
    )
}
fn sample(n: u32) -> Vec<Rec> {
    let s = format!("S-{n}");
    let seal = format!("SEAL-{n:03}");
    vec![
        taken().with("sample_id", json!(s)).with("seal_id", json!(seal)),
        received().with("sample_id", json!(s)).with("seal_id", json!(seal)),
    ]
}
fn nonconformity(seq: i64) -> Rec {
    rec(
        testing::NONCONFORMITY_REPORTED,
        lab(),
        json!({"project_id": P, "report_year": 2026, "report_seq": seq, "note": "结构安全项不合格，已报告"}),
    )
}

#[test]
fn testing_allowed_and_forbidden() {
    let ready = vec![commissioned(), taken(), received()];
    let cat = |v: &[Rec], more: &[Rec]| -> Vec<Rec> { v.iter().chain(more).cloned().collect() };
    check(vec![
        ("commission by the owner", vec![], commissioned(), None),
        ("commission by the contractor", vec![], commissioned().by(ent(&gc())), Some("57号令.commissioned_by_owner")),
        ("commission by a lab", vec![], commissioned().by(lab()), Some("57号令.commissioned_by_owner")),
        ("commission id reused", vec![commissioned()], commissioned(), Some("testing.unique_id")),
        ("witnessed sampling by the supervisor", vec![commissioned()], taken(), None),
        ("witnessed sampling by the owner", vec![commissioned()], taken().by(ent(&owner())), None),
        ("sampling by the contractor", vec![commissioned()], taken().by(ent(&gc())), Some("57号令.witnessed_sampling")),
        ("sampling without commission", vec![], taken(), Some("testing.sample_needs_commission")),
        (
            "witness is the sampler",
            vec![commissioned()],
            taken().with("sampler", json!("李监理")),
            Some("57号令.witness_not_sampler"),
        ),
        ("sample id reused", vec![commissioned(), taken()], taken(), Some("testing.unique_id")),
        ("receipt by the lab", vec![commissioned(), taken()], received(), None),
        ("receipt without sample", vec![commissioned()], received(), Some("testing.receipt_needs_sample")),
        (
            "receipt by another key",
            vec![commissioned(), taken()],
            received().by(ent(&owner())),
            Some("testing.lab_signer"),
        ),
        (
            "receipt by another lab",
            vec![commissioned(), taken()],
            received().by(Signer("testing_lab", leak(stranger().to_string()))),
            Some("testing.lab_signer"),
        ),
        (
            "seal mismatch",
            vec![commissioned(), taken()],
            received().with("seal_id", json!("SEAL-999")),
            Some("57号令.seal_check"),
        ),
        ("receipt twice", ready.clone(), received(), Some("testing.receipt_once")),
        ("report", ready.clone(), report(1, "qualified"), None),
        (
            "report before receipt",
            vec![commissioned(), taken()],
            report(1, "qualified"),
            Some("testing.report_needs_receipt"),
        ),
        (
            "report on a broken seal",
            vec![commissioned(), taken(), received().with("seal_intact", json!(false))],
            report(1, "qualified"),
            Some("57号令.seal_check"),
        ),
        (
            "report signed by the owner",
            ready.clone(),
            report(1, "qualified").by(ent(&owner())),
            Some("testing.lab_signer"),
        ),
        (
            "tester was the witness",
            ready.clone(),
            report(1, "qualified").with("tester", json!("李监理")),
            Some("57号令.witness_not_tester"),
        ),
        (
            "tester was the sampler",
            ready.clone(),
            report(1, "qualified").with("tester", json!("张取样")),
            Some("57号令.witness_not_tester"),
        ),
        (
            "report year is not the year of issue",
            ready.clone(),
            report(1, "qualified").with("report_year", json!(2025)),
            Some("57号令.report_numbered_by_year"),
        ),
        (
            "report year in China's time zone",
            ready.clone(),
            report(1, "qualified").with("report_year", json!(2027)).at("2026-12-31T16:30:00Z"),
            None,
        ),
        (
            "second report on a sample",
            cat(&ready, &[report(1, "qualified")]),
            report(2, "qualified"),
            Some("testing.one_report_per_sample"),
        ),
        (
            "report number reused",
            cat(&ready, &[report(1, "qualified")]).into_iter().chain(sample(2)).collect(),
            report(1, "qualified").with("sample_id", json!("S-2")),
            Some("57号令.report_number_unique"),
        ),
        (
            "a gap is not rejected",
            cat(&ready, &[report(1, "qualified")]).into_iter().chain(sample(2)).collect(),
            report(5, "qualified").with("sample_id", json!("S-2")),
            None,
        ),
        ("non-conformity report", cat(&ready, &[report(1, "unqualified")]), nonconformity(1), None),
        (
            "non-conformity of a qualified report",
            cat(&ready, &[report(1, "qualified")]),
            nonconformity(1),
            Some("testing.nonconformity_needs_unqualified_report"),
        ),
        (
            "non-conformity reported twice",
            cat(&ready, &[report(1, "unqualified"), nonconformity(1)]),
            nonconformity(1),
            Some("testing.nonconformity_once"),
        ),
        (
            "non-conformity by the owner",
            cat(&ready, &[report(1, "unqualified")]),
            nonconformity(1).by(ent(&owner())),
            Some("testing.lab_signer"),
        ),
        (
            "policy by the city",
            vec![],
            Rec {
                kind: testing::POLICY_SET,
                payload: json!({"nonconformity_deadline_hours": 12}),
                signer: city(),
                at: "2026-03-10T09:00:00+08:00",
            },
            None,
        ),
        (
            "policy by a district",
            vec![],
            Rec {
                kind: testing::POLICY_SET,
                payload: json!({"nonconformity_deadline_hours": 12}),
                signer: bureau(),
                at: "2026-03-10T09:00:00+08:00",
            },
            Some("testing.policy_signer"),
        ),
    ]);
}

#[test]
fn report_number_gaps() {
    use testing::{Gap, gaps};
    assert_eq!(gaps([1, 2, 3]), vec![]);
    assert_eq!(gaps([]), vec![]);
    assert_eq!(gaps([7]), vec![]);
    assert_eq!(gaps([1, 2, 4]), vec![Gap { from: 3, to: 3 }]);
    assert_eq!(gaps([3, 1, 9, 2]), vec![Gap { from: 4, to: 8 }]);
    assert_eq!(gaps([10, 12, 15]), vec![Gap { from: 11, to: 11 }, Gap { from: 13, to: 14 }]);
    assert_eq!(gaps([5, 6]), vec![], "the first number seen is the baseline");
}

#[test]
fn unqualified_results_must_be_reported_in_time() {
    let mut s = registry_state();
    let mut recs = vec![commissioned(), taken(), received(), report(1, "unqualified").at("2026-03-10T09:00:00+08:00")];
    recs.extend(sample(2));
    recs.push(report(3, "qualified").with("sample_id", json!("S-2")));
    for (i, r) in recs.iter().enumerate() {
        apply(&mut s, r, i).unwrap_or_else(|e| panic!("{i}: {e}"));
    }
    let issued = siteledger_domain::supervision::unix_of("2026-03-10T09:00:00+08:00");
    let t = &s.supervision.testing;
    assert!(testing::unreported_overdue(t, issued + 24 * 3600).is_empty(), "24 h by default, inclusive");
    assert_eq!(testing::unreported_overdue(t, issued + 24 * 3600 + 1).len(), 1);
    let g = t.report_gaps();
    assert_eq!(g.len(), 1);
    assert_eq!((g[0].1, g[0].2), (2026, testing::Gap { from: 2, to: 2 }));
    apply(&mut s, &nonconformity(1), 99).expect("reported late but recorded");
    assert!(testing::unreported_overdue(&s.supervision.testing, issued + 48 * 3600).is_empty());
}

#[test]
fn the_deadline_is_configurable() {
    let mut s = registry_state();
    let policy = Rec {
        kind: testing::POLICY_SET,
        payload: json!({"nonconformity_deadline_hours": 4}),
        signer: city(),
        at: "2026-03-01T00:00:00+08:00",
    };
    for (i, r) in [policy, commissioned(), taken(), received(), report(1, "unqualified")].iter().enumerate() {
        apply(&mut s, r, i).expect("accepted");
    }
    let issued = siteledger_domain::supervision::unix_of("2026-03-10T09:00:00+08:00");
    assert_eq!(testing::unreported_overdue(&s.supervision.testing, issued + 4 * 3600 + 1).len(), 1);
}

// ---------------------------------------------------------------------------------------------------------------
// 危大工程

fn params(v: Value) -> Parameters {
    serde_json::from_value(v).expect("parameters")
}

#[test]
fn classification_boundaries() {
    use Category as C;
    use Class::{Hazardous as H, Major as M};
    let rows: Vec<(&str, Category, Value, Option<Class>)> = vec![
        ("excavation 2.9 m", C::Excavation, json!({"depth_m": "2.9"}), None),
        ("excavation 2.9 m complex", C::Excavation, json!({"depth_m": "2.9", "complex_conditions": true}), Some(H)),
        ("excavation 3.0 m", C::Excavation, json!({"depth_m": "3.0"}), Some(H)),
        ("excavation 4.9 m", C::Excavation, json!({"depth_m": "4.9"}), Some(H)),
        ("excavation 5.0 m", C::Excavation, json!({"depth_m": "5.0"}), Some(M)),
        ("excavation 5 m", C::Excavation, json!({"depth_m": "5"}), Some(M)),
        ("formwork 4.9 m", C::Formwork, json!({"subtype": "shoring", "height_m": "4.9"}), None),
        ("formwork 5.0 m", C::Formwork, json!({"subtype": "shoring", "height_m": "5.0"}), Some(H)),
        ("formwork 7.9 m", C::Formwork, json!({"subtype": "shoring", "height_m": "7.9"}), Some(H)),
        ("formwork 8.0 m", C::Formwork, json!({"subtype": "shoring", "height_m": "8.0"}), Some(M)),
        ("span 9.9 m", C::Formwork, json!({"span_m": "9.9"}), None),
        ("span 10 m", C::Formwork, json!({"span_m": "10"}), Some(H)),
        ("span 17.9 m", C::Formwork, json!({"span_m": "17.9"}), Some(H)),
        ("span 18 m", C::Formwork, json!({"span_m": "18"}), Some(M)),
        ("load 9.9 kN/m²", C::Formwork, json!({"area_load_kn_m2": "9.9"}), None),
        ("load 10 kN/m²", C::Formwork, json!({"area_load_kn_m2": "10"}), Some(H)),
        ("load 14.9 kN/m²", C::Formwork, json!({"area_load_kn_m2": "14.9"}), Some(H)),
        ("load 15 kN/m²", C::Formwork, json!({"area_load_kn_m2": "15"}), Some(M)),
        ("line load 14.9 kN/m", C::Formwork, json!({"line_load_kn_m": "14.9"}), None),
        ("line load 15 kN/m", C::Formwork, json!({"line_load_kn_m": "15"}), Some(H)),
        ("line load 19.9 kN/m", C::Formwork, json!({"line_load_kn_m": "19.9"}), Some(H)),
        ("line load 20 kN/m", C::Formwork, json!({"line_load_kn_m": "20"}), Some(M)),
        ("tool formwork", C::Formwork, json!({"subtype": "tool_formwork"}), Some(M)),
        (
            "load-bearing 6.9 kN",
            C::Formwork,
            json!({"subtype": "load_bearing_shoring", "point_load_kn": "6.9"}),
            Some(H),
        ),
        ("load-bearing 7 kN", C::Formwork, json!({"subtype": "load_bearing_shoring", "point_load_kn": "7"}), Some(M)),
        ("non-standard lift 9.9 kN", C::Lifting, json!({"subtype": "non_standard_lift", "load_kn": "9.9"}), None),
        ("non-standard lift 10 kN", C::Lifting, json!({"subtype": "non_standard_lift", "load_kn": "10"}), Some(H)),
        ("non-standard lift 99.9 kN", C::Lifting, json!({"subtype": "non_standard_lift", "load_kn": "99.9"}), Some(H)),
        ("non-standard lift 100 kN", C::Lifting, json!({"subtype": "non_standard_lift", "load_kn": "100"}), Some(M)),
        (
            "crane erection 299 kN",
            C::Lifting,
            json!({"subtype": "crane_erection", "crane_capacity_kn": "299"}),
            Some(H),
        ),
        (
            "crane erection 300 kN",
            C::Lifting,
            json!({"subtype": "crane_erection", "crane_capacity_kn": "300"}),
            Some(M),
        ),
        ("crane erection 200 m", C::Lifting, json!({"subtype": "crane_erection", "height_m": "200"}), Some(M)),
        (
            "crane base elevation 200 m",
            C::Lifting,
            json!({"subtype": "crane_erection", "base_elevation_m": "200"}),
            Some(M),
        ),
        ("lifting without subtype", C::Lifting, json!({}), None),
        ("ground scaffold 23.9 m", C::Scaffolding, json!({"subtype": "ground", "height_m": "23.9"}), None),
        ("ground scaffold 24 m", C::Scaffolding, json!({"subtype": "ground", "height_m": "24"}), Some(H)),
        ("ground scaffold 49.9 m", C::Scaffolding, json!({"subtype": "ground", "height_m": "49.9"}), Some(H)),
        ("ground scaffold 50 m", C::Scaffolding, json!({"subtype": "ground", "height_m": "50"}), Some(M)),
        (
            "attached lifting 149 m",
            C::Scaffolding,
            json!({"subtype": "attached_lifting", "lift_height_m": "149"}),
            Some(H),
        ),
        (
            "attached lifting 150 m",
            C::Scaffolding,
            json!({"subtype": "attached_lifting", "lift_height_m": "150"}),
            Some(M),
        ),
        ("cantilever 19.9 m", C::Scaffolding, json!({"subtype": "cantilever", "height_m": "19.9"}), Some(H)),
        ("cantilever 20 m", C::Scaffolding, json!({"subtype": "cantilever", "height_m": "20"}), Some(M)),
        ("hanging basket", C::Scaffolding, json!({"subtype": "hanging_basket"}), Some(H)),
        ("demolition", C::Demolition, json!({}), Some(H)),
        ("demolition of a bridge", C::Demolition, json!({"special_demolition": true}), Some(M)),
        ("underground", C::Underground, json!({}), Some(M)),
        ("curtain wall 49.9 m", C::Other, json!({"subtype": "curtain_wall", "height_m": "49.9"}), Some(H)),
        ("curtain wall 50 m", C::Other, json!({"subtype": "curtain_wall", "height_m": "50"}), Some(M)),
        ("steel span 35.9 m", C::Other, json!({"subtype": "steel_structure", "span_m": "35.9"}), Some(H)),
        ("steel span 36 m", C::Other, json!({"subtype": "steel_structure", "span_m": "36"}), Some(M)),
        ("space frame 59.9 m", C::Other, json!({"subtype": "space_frame", "span_m": "59.9"}), Some(H)),
        ("space frame 60 m", C::Other, json!({"subtype": "space_frame", "span_m": "60"}), Some(M)),
        ("manual pile 15.9 m", C::Other, json!({"subtype": "manual_pile", "depth_m": "15.9"}), Some(H)),
        ("manual pile 16 m", C::Other, json!({"subtype": "manual_pile", "depth_m": "16"}), Some(M)),
        ("jacking 999 kN", C::Other, json!({"subtype": "jacking", "load_kn": "999"}), Some(H)),
        ("jacking 1000 kN", C::Other, json!({"subtype": "jacking", "load_kn": "1000"}), Some(M)),
        ("underwater", C::Other, json!({"subtype": "underwater"}), Some(M)),
        ("prefabricated", C::Other, json!({"subtype": "prefabricated"}), Some(H)),
    ];
    let mut failures = Vec::new();
    for (name, cat, p, want) in rows {
        let got = classify(cat, &params(p));
        if got != want {
            failures.push(format!("{name}: expected {want:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Numeric, not textual: 8.00 equals 8.
    assert_eq!(
        Decimal::parse("8.00").expect("d").cmp_value(&Decimal::parse("8").expect("d")),
        std::cmp::Ordering::Equal
    );
}

fn listed(height: &str) -> Rec {
    rec(
        "hazard.work.listed.v1",
        ent(&gc()),
        json!({"project_id": P, "work_id": "W-1", "name": "2#楼高支模", "category": "formwork",
               "parameters": {"subtype": "shoring", "height_m": height, "span_m": "12"}}),
    )
}
fn approved(v: i64) -> Rec {
    rec(
        "hazard.plan.approved.v1",
        ent(&gc()),
        json!({"project_id": P, "work_id": "W-1", "plan_version": v, "plan_hash": PHOTO, "technical_lead": "赵技术"}),
    )
}
fn countersigned(v: i64) -> Rec {
    rec(
        "hazard.plan.countersigned.v1",
        ent(&supervisor()),
        json!({"project_id": P, "work_id": "W-1", "plan_version": v, "chief_supervisor": "钱总监"}),
    )
}
fn experts(n: usize) -> Value {
    let codes = [
        "91330201MA2J00011",
        "91330201MA2J00012",
        "91330201MA2J00013",
        "91330201MA2J00014",
        "91330201MA2J00015",
        "91330201MA2J00016",
    ];
    let names = ["孙专家", "李专家", "周专家", "吴专家", "郑专家", "冯专家"];
    Value::Array((0..n).map(|i| json!({"name": names[i], "employer": cc(codes[i]).to_string()})).collect())
}
fn review(v: i64, outcome: &str) -> Rec {
    rec(
        "hazard.expert_review.held.v1",
        ent(&gc()),
        json!({"project_id": P, "work_id": "W-1", "plan_version": v, "experts": experts(5), "outcome": outcome, "report": "论证报告"}),
    )
}
fn step(kind: &'static str) -> Rec {
    rec(kind, ent(&gc()), json!({"project_id": P, "work_id": "W-1", "note": "说明"}))
}
fn started() -> Rec {
    step("hazard.work.started.v1")
}
fn accepted() -> Rec {
    rec(
        "hazard.work.accepted.v1",
        ent(&supervisor()),
        json!({"project_id": P, "work_id": "W-1", "technical_lead": "赵技术", "chief_supervisor": "钱总监", "note": "验收合格"}),
    )
}
fn monitoring() -> Rec {
    rec(
        "hazard.monitoring.recorded.v1",
        lab(),
        json!({"project_id": P, "work_id": "W-1", "point": "JC-01", "item": "立杆沉降", "value": "12.5", "alarm_value": "10", "anomaly": true}),
    )
}

#[test]
fn hazardous_works_allowed_and_forbidden() {
    let small = |more: &[Rec]| -> Vec<Rec> { std::iter::once(listed("6")).chain(more.iter().cloned()).collect() };
    let major = |more: &[Rec]| -> Vec<Rec> { std::iter::once(listed("8.0")).chain(more.iter().cloned()).collect() };
    check(vec![
        ("listing by the contractor", vec![], listed("6"), None),
        ("listing by the owner", vec![], listed("6").by(ent(&owner())), None),
        ("listing by the supervisor", vec![], listed("6").by(ent(&supervisor())), Some("37号令第七条.listing_signer")),
        (
            "listing below the thresholds",
            vec![],
            listed("4.9").with("parameters", json!({"subtype": "shoring", "height_m": "4.9"})),
            Some("31号文附件1.below_threshold"),
        ),
        ("listing twice", small(&[]), listed("6"), Some("hazard.unique_id")),
        ("approval v1", small(&[]), approved(1), None),
        ("approval by the supervisor", small(&[]), approved(1).by(ent(&supervisor())), Some("37号令第十一条.approval_signer")),
        ("approval skips a version", small(&[]), approved(2), Some("hazard.plan_version")),
        ("approval of an unlisted work", vec![], approved(1), Some("hazard.approval_needs_listing")),
        ("countersign", small(&[approved(1)]), countersigned(1), None),
        ("countersign before approval", small(&[]), countersigned(1), Some("37号令第十一条.countersign_needs_approval")),
        ("countersign by the contractor", small(&[approved(1)]), countersigned(1).by(ent(&gc())), Some("37号令第十一条.countersign_signer")),
        ("countersign twice", small(&[approved(1), countersigned(1)]), countersigned(1), Some("hazard.countersign_once")),
        ("start 危大 after approval", small(&[approved(1), countersigned(1)]), started(), None),
        ("start before any approval", small(&[]), started(), Some("37号令第十条.no_start_without_approval")),
        ("start without countersignature", small(&[approved(1)]), started(), Some("37号令第十条.no_start_without_approval")),
        ("start twice", small(&[approved(1), countersigned(1), started()]), started(), Some("hazard.start_once")),
        ("start by the owner", small(&[approved(1), countersigned(1)]), started().by(ent(&owner())), Some("37号令第十七条.contractor_signer")),
        (
            "超规模 start without review",
            major(&[approved(1), countersigned(1)]),
            started(),
            Some("37号令第十二条.no_start_without_review"),
        ),
        ("超规模 review", major(&[approved(1), countersigned(1)]), review(1, "passed"), None),
        ("超规模 start after 通过", major(&[approved(1), countersigned(1), review(1, "passed")]), started(), None),
        (
            "超规模 start after 不通过",
            major(&[approved(1), countersigned(1), review(1, "failed")]),
            started(),
            Some("37号令第十二条.no_start_without_review"),
        ),
        (
            "超规模 start after 修改后通过 without re-approval",
            major(&[approved(1), countersigned(1), review(1, "passed_with_changes")]),
            started(),
            Some("37号令第十二条.no_start_without_review"),
        ),
        (
            "超规模 start after 修改后通过, approved again but not countersigned",
            major(&[approved(1), countersigned(1), review(1, "passed_with_changes"), approved(2)]),
            started(),
            Some("37号令第十条.no_start_without_approval"),
        ),
        (
            "超规模 start after 修改后通过 and re-approval",
            major(&[approved(1), countersigned(1), review(1, "passed_with_changes"), approved(2), countersigned(2)]),
            started(),
            None,
        ),
        (
            "超规模 after 不通过, revised and reviewed again",
            major(&[approved(1), countersigned(1), review(1, "failed"), approved(2), countersigned(2), review(2, "passed")]),
            started(),
            None,
        ),
        ("review before approval", major(&[]), review(1, "passed"), Some("37号令第十二条.review_after_approval")),
        (
            "review before countersignature",
            major(&[approved(1)]),
            review(1, "passed"),
            Some("37号令第十二条.review_after_approval"),
        ),
        (
            "review with 4 experts",
            major(&[approved(1), countersigned(1)]),
            review(1, "passed").with("experts", experts(4)),
            Some("31号文.at_least_5_experts"),
        ),
        (
            "review with 6 experts",
            major(&[approved(1), countersigned(1)]),
            review(1, "passed").with("experts", experts(6)),
            None,
        ),
        (
            "review with an interested expert",
            major(&[approved(1), countersigned(1)]),
            review(1, "passed").with(
                "experts",
                json!([{"name": "甲", "employer": gc().to_string()}, {"name": "乙", "employer": cc("91330201MA2J00012").to_string()},
                       {"name": "丙", "employer": cc("91330201MA2J00013").to_string()}, {"name": "丁", "employer": cc("91330201MA2J00014").to_string()},
                       {"name": "戊", "employer": cc("91330201MA2J00015").to_string()}]),
            ),
            Some("37号令第十二条.no_interested_experts"),
        ),
        (
            "review with an expert twice",
            major(&[approved(1), countersigned(1)]),
            review(1, "passed").with(
                "experts",
                json!([{"name": "甲", "employer": cc("91330201MA2J00011").to_string()}, {"name": "甲", "employer": cc("91330201MA2J00012").to_string()},
                       {"name": "丙", "employer": cc("91330201MA2J00013").to_string()}, {"name": "丁", "employer": cc("91330201MA2J00014").to_string()},
                       {"name": "戊", "employer": cc("91330201MA2J00015").to_string()}]),
            ),
            Some("31号文.at_least_5_experts"),
        ),
        ("review of a 危大 (not 超规模) work", small(&[approved(1), countersigned(1)]), review(1, "passed"), Some("37号令第十二条.review_for_major_only")),
        ("site notice after approval", small(&[approved(1), countersigned(1)]), step("hazard.site_notice.posted.v1"), None),
        ("site notice before approval", small(&[approved(1)]), step("hazard.site_notice.posted.v1"), Some("37号令第十四条.needs_approved_plan")),
        ("briefing before approval", small(&[]), step("hazard.briefing.held.v1"), Some("37号令第十四条.needs_approved_plan")),
        ("monitoring by a lab", small(&[]), monitoring(), None),
        ("monitoring by a gateway", small(&[]), monitoring().by(gateway()), Some("37号令第二十条.monitoring_signer")),
        ("monitoring of an unlisted work", vec![], monitoring(), Some("hazard.monitoring_needs_listing")),
        (
            "start during a stop-work order",
            vec![inspected(), stop()].into_iter().chain(small(&[approved(1), countersigned(1)])).collect(),
            started(),
            Some("inspection.stop_work_in_force"),
        ),
        (
            "start after resumption",
            vec![inspected(), stop(), resume()].into_iter().chain(small(&[approved(1), countersigned(1)])).collect(),
            started(),
            None,
        ),
        ("acceptance", small(&[approved(1), countersigned(1), started()]), accepted(), None),
        ("acceptance before approval", small(&[]), accepted(), Some("37号令第二十一条.no_acceptance_without_approval")),
        ("acceptance before start", small(&[approved(1), countersigned(1)]), accepted(), Some("37号令第二十一条.acceptance_after_start")),
        (
            "acceptance by the contractor alone",
            small(&[approved(1), countersigned(1), started()]),
            accepted().by(ent(&gc())),
            Some("37号令第二十一条.acceptance_signer"),
        ),
        ("acceptance twice", small(&[approved(1), countersigned(1), started(), accepted()]), accepted(), Some("hazard.accepted_is_final")),
        ("approval after acceptance", small(&[approved(1), countersigned(1), started(), accepted()]), approved(2), Some("hazard.accepted_is_final")),
    ]);
}

// ---------------------------------------------------------------------------------------------------------------
// BIM施工

const HASH2: &str = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752";

fn model(v: i64, hash: &str) -> Rec {
    rec(
        "bim.model.registered.v1",
        ent(&gc()),
        json!({"project_id": P, "model_id": "STRU", "version": v, "sha256": hash, "format": "ifc", "file_name": "结构模型.ifc"}),
    )
}
fn node() -> Rec {
    rec(
        "bim.node.planned.v1",
        ent(&gc()),
        json!({"project_id": P, "node_id": "N-5F", "name": "5层结构封顶", "model_id": "STRU", "element_ids": ["2O2Fr$t4X7Zf8NOew3FLOH"],
               "planned_start": "2026-03-01", "planned_finish": "2026-03-20"}),
    )
}
fn progress(status: i64, start: Option<&str>, finish: Option<&str>) -> Rec {
    let mut p = json!({"project_id": P, "node_id": "N-5F", "status": status});
    if let Some(s) = start {
        p["actual_start"] = json!(s);
    }
    if let Some(f) = finish {
        p["actual_finish"] = json!(f);
    }
    rec("bim.node.progressed.v1", ent(&gc()), p)
}

#[test]
fn bim_allowed_and_forbidden() {
    check(vec![
        ("model v1", vec![], model(1, PHOTO), None),
        ("model v2", vec![model(1, PHOTO)], model(2, HASH2), None),
        ("model v2 first", vec![], model(2, PHOTO), Some("bim.model_version")),
        ("model same hash", vec![model(1, PHOTO)], model(2, PHOTO), Some("bim.model_changed")),
        ("model by the supervisor", vec![], model(1, PHOTO).by(ent(&supervisor())), Some("bim.signer")),
        ("node", vec![model(1, PHOTO)], node(), None),
        ("node without model", vec![], node(), Some("bim.node_needs_model")),
        ("node twice", vec![model(1, PHOTO), node()], node(), Some("bim.unique_id")),
        (
            "node dates reversed",
            vec![model(1, PHOTO)],
            node().with("planned_finish", json!("2026-02-01")),
            Some("bim.plan_dates"),
        ),
        (
            "node without elements",
            vec![model(1, PHOTO)],
            node().with("element_ids", json!([])),
            Some("bim.node_elements"),
        ),
        ("progress 1", vec![model(1, PHOTO), node()], progress(1, Some("2026-03-02"), None), None),
        (
            "progress 2",
            vec![model(1, PHOTO), node(), progress(1, Some("2026-03-02"), None)],
            progress(2, None, Some("2026-03-25")),
            None,
        ),
        ("progress 1 without start", vec![model(1, PHOTO), node()], progress(1, None, None), Some("bim.actual_dates")),
        (
            "progress 2 without finish",
            vec![model(1, PHOTO), node()],
            progress(2, Some("2026-03-02"), None),
            Some("bim.actual_dates"),
        ),
        (
            "finish before start",
            vec![model(1, PHOTO), node()],
            progress(2, Some("2026-03-02"), Some("2026-03-01")),
            Some("bim.actual_dates"),
        ),
        (
            "status goes back",
            vec![model(1, PHOTO), node(), progress(2, Some("2026-03-02"), Some("2026-03-25"))],
            progress(1, None, None),
            Some("bim.status_forward_only"),
        ),
        (
            "progress of an unknown node",
            vec![model(1, PHOTO)],
            progress(1, Some("2026-03-02"), None),
            Some("bim.progress_needs_node"),
        ),
    ]);
    use siteledger_domain::LocalDate;
    use siteledger_domain::supervision::bim::deviation_days;
    let d = |s: &str| LocalDate::parse(s).expect("date");
    assert_eq!(deviation_days(d("2026-03-20"), Some(d("2026-03-25")), d("2026-04-01")), 5);
    assert_eq!(deviation_days(d("2026-03-20"), Some(d("2026-03-18")), d("2026-04-01")), -2);
    assert_eq!(deviation_days(d("2026-03-20"), None, d("2026-03-10")), 0);
    assert_eq!(deviation_days(d("2026-03-20"), None, d("2026-03-23")), 3);
}

// ---------------------------------------------------------------------------------------------------------------
// 协同指挥

fn dispatched() -> Rec {
    rec(
        task::DISPATCHED,
        bureau(),
        json!({"task_id": "T-1", "district": DISTRICT, "project_id": P, "source_kind": "alarm",
               "source_event_id": "0190a4c2-0000-7000-8000-000000000001", "title": "扬尘超标处置",
               "assignee_kind": "enterprise", "assignee": gc().to_string(), "level": "project", "sla_hours": 24}),
    )
}
fn tnote(kind: &'static str, s: Signer) -> Rec {
    rec(kind, s, json!({"task_id": "T-1", "district": DISTRICT, "project_id": P, "note": "说明"}))
}
fn escalated(level: &str, kind: &str, assignee: &str) -> Rec {
    rec(
        task::ESCALATED,
        bureau(),
        json!({"task_id": "T-1", "district": DISTRICT, "project_id": P, "to_level": level, "assignee_kind": kind,
               "assignee": assignee, "sla_hours": 48, "reason": "企业逾期未处置"}),
    )
}
fn resolved(s: Signer) -> Rec {
    rec(
        task::RESOLVED,
        s,
        json!({"task_id": "T-1", "district": DISTRICT, "project_id": P, "evidence_hashes": [PHOTO], "note": "已处置"}),
    )
}

#[test]
fn tasks_allowed_and_forbidden() {
    let d = || dispatched();
    check(vec![
        ("dispatch", vec![], d(), None),
        ("dispatch by the city", vec![], d().by(city()), None),
        ("dispatch by an enterprise", vec![], d().by(ent(&gc())), Some("task.dispatch_signer")),
        ("dispatch by another district", vec![], d().by(other_bureau()), Some("task.dispatch_signer")),
        ("dispatch twice", vec![d()], d(), Some("task.unique_id")),
        (
            "dispatch project in another district",
            vec![],
            d().with("district", json!(OTHER_DISTRICT)).by(city()),
            Some("task.district"),
        ),
        (
            "dispatch to an unregistered enterprise",
            vec![],
            d().with("assignee", json!(stranger().to_string())),
            Some("task.assignee"),
        ),
        ("acknowledge by the assignee", vec![d()], tnote(task::ACKNOWLEDGED, ent(&gc())), None),
        (
            "acknowledge by someone else",
            vec![d()],
            tnote(task::ACKNOWLEDGED, ent(&owner())),
            Some("task.assignee_acts"),
        ),
        (
            "acknowledge twice",
            vec![d(), tnote(task::ACKNOWLEDGED, ent(&gc()))],
            tnote(task::ACKNOWLEDGED, ent(&gc())),
            Some("task.acknowledge_once"),
        ),
        ("acknowledge unknown task", vec![], tnote(task::ACKNOWLEDGED, ent(&gc())), Some("task.needs_dispatch")),
        (
            "acknowledge with another district",
            vec![d()],
            tnote(task::ACKNOWLEDGED, ent(&gc())).with("district", json!(OTHER_DISTRICT)),
            Some("task.same_scope"),
        ),
        ("escalate to the district", vec![d()], escalated("district", "district_bureau", DISTRICT), None),
        (
            "escalate district → city",
            vec![d(), escalated("district", "district_bureau", DISTRICT)],
            escalated("city", "city_bureau", "宁波市住房和城乡建设局"),
            None,
        ),
        (
            "escalate sideways",
            vec![d()],
            escalated("project", "enterprise", gc().as_ref()),
            Some("task.escalate_upwards"),
        ),
        (
            "escalate downwards",
            vec![d(), escalated("city", "city_bureau", "宁波市住房和城乡建设局")],
            escalated("district", "district_bureau", DISTRICT),
            Some("task.escalate_upwards"),
        ),
        (
            "escalate by an enterprise",
            vec![d()],
            escalated("district", "district_bureau", DISTRICT).by(ent(&gc())),
            Some("task.escalation_signer"),
        ),
        (
            "escalate a resolved task",
            vec![d(), resolved(ent(&gc()))],
            escalated("district", "district_bureau", DISTRICT),
            Some("task.escalate_open_only"),
        ),
        ("resolve by the assignee", vec![d()], resolved(ent(&gc())), None),
        (
            "resolve by the district after escalation",
            vec![d(), escalated("district", "district_bureau", DISTRICT)],
            resolved(bureau()),
            None,
        ),
        (
            "resolve by the old assignee after escalation",
            vec![d(), escalated("district", "district_bureau", DISTRICT)],
            resolved(ent(&gc())),
            Some("task.assignee_acts"),
        ),
        (
            "resolve without evidence",
            vec![d()],
            resolved(ent(&gc())).with("evidence_hashes", json!([])),
            Some("task.resolution_needs_evidence"),
        ),
        ("resolve twice", vec![d(), resolved(ent(&gc()))], resolved(ent(&gc())), Some("task.resolve_open_only")),
        ("close after resolution", vec![d(), resolved(ent(&gc()))], tnote(task::CLOSED, bureau()), None),
        ("close before resolution", vec![d()], tnote(task::CLOSED, bureau()), Some("task.closure_needs_resolution")),
        (
            "close by the assignee",
            vec![d(), resolved(ent(&gc()))],
            tnote(task::CLOSED, ent(&gc())),
            Some("task.closure_signer"),
        ),
        (
            "close twice",
            vec![d(), resolved(ent(&gc())), tnote(task::CLOSED, bureau())],
            tnote(task::CLOSED, bureau()),
            Some("task.closure_needs_resolution"),
        ),
        (
            "task between bureaus: district asks the city",
            vec![],
            rec(
                task::DISPATCHED,
                bureau(),
                json!({"task_id": "T-9", "district": DISTRICT, "source_kind": "other", "source_event_id": "req-1",
                       "title": "请求市局协调跨区渣土运输", "assignee_kind": "city_bureau", "assignee": "宁波市住房和城乡建设局",
                       "level": "city", "sla_hours": 72}),
            ),
            None,
        ),
    ]);
}

#[test]
fn sla_breaches_are_a_function_of_time() {
    let mut s = registry_state();
    apply(&mut s, &dispatched(), 0).expect("dispatched");
    let at = siteledger_domain::supervision::unix_of("2026-03-10T09:00:00+08:00");
    assert!(task::sla_breaches(&s.supervision.task, at + 24 * 3600).is_empty());
    assert_eq!(task::sla_breaches(&s.supervision.task, at + 24 * 3600 + 1).len(), 1);
    apply(&mut s, &resolved(ent(&gc())), 1).expect("resolved");
    assert!(task::sla_breaches(&s.supervision.task, at + 48 * 3600).is_empty());
}

#[test]
fn every_kind_has_a_stream_rule() {
    use siteledger_domain::validate_envelope;
    let p = dispatched().payload.as_object().expect("o").clone();
    assert!(validate_envelope(task::DISPATCHED, "project/NB-2026-0001/tasks", &p).is_ok());
    assert!(validate_envelope(task::DISPATCHED, "district/330212/tasks", &p).is_err());
    let mut q = p.clone();
    q.remove("project_id");
    assert!(validate_envelope(task::DISPATCHED, "district/330212/tasks", &q).is_ok());
    assert!(validate_envelope(task::DISPATCHED, "district/330203/tasks", &q).is_err());
    let pol = json!({"nonconformity_deadline_hours": 24}).as_object().expect("o").clone();
    assert!(validate_envelope(testing::POLICY_SET, "city/testing", &pol).is_ok());
    assert!(validate_envelope(testing::POLICY_SET, "registry/x", &pol).is_err());
    for k in siteledger_domain::supervision::KINDS {
        assert!(siteledger_domain::all_kinds().contains(k));
    }
}

/// The read models store these enums by `as_str`: it must be exactly the JSON name a record carries, or a read
/// model would show a value no record ever had.
#[test]
fn enum_names_read_models_store_are_the_json_names() {
    use siteledger_domain::supervision::inspection::{FindingLevel, InspectionKind, ReviewResult};
    use siteledger_domain::supervision::task::{AssigneeKind, SourceKind};
    use siteledger_domain::supervision::testing::TestResult;
    fn same<T: serde::Serialize>(v: T, name: &str) {
        assert_eq!(serde_json::to_value(&v).expect("serialises"), json!(name));
    }
    for v in [InspectionKind::Safety, InspectionKind::Quality] {
        same(v, v.as_str());
    }
    for v in [FindingLevel::Minor, FindingLevel::General, FindingLevel::Serious] {
        same(v, v.as_str());
    }
    for v in [ReviewResult::Pass, ReviewResult::Fail] {
        same(v, v.as_str());
    }
    for v in [TestResult::Qualified, TestResult::Unqualified] {
        same(v, v.as_str());
    }
    for v in [
        Category::Excavation,
        Category::Formwork,
        Category::Lifting,
        Category::Scaffolding,
        Category::Demolition,
        Category::Underground,
        Category::Other,
    ] {
        same(v, v.as_str());
    }
    for v in [AssigneeKind::Enterprise, AssigneeKind::DistrictBureau, AssigneeKind::CityBureau, AssigneeKind::Authority]
    {
        same(v, v.as_str());
    }
    for v in [SourceKind::Alarm, SourceKind::Finding, SourceKind::Anomaly, SourceKind::Testing, SourceKind::Other] {
        same(v, v.as_str());
    }
}

fn typed(r: &Rec) -> DomainEvent {
    let Value::Object(m) = &r.payload else { panic!("payload of {} is not an object", r.kind) };
    DomainEvent::parse(r.kind, m).unwrap_or_else(|e| panic!("{}: {e}", r.kind))
}

const PDF_HASH: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";

/// A test report issued before attachments existed (no `report_sha256`) still parses, and cites nothing.
#[test]
fn report_issued_without_report_sha256_still_parses() {
    assert!(typed(&report(1, "qualified")).cited_hashes().is_empty());
}

#[test]
fn report_issued_cites_its_pdf() {
    let e = typed(&report(1, "qualified").with("report_sha256", json!(PDF_HASH)));
    let cited: Vec<&str> = e.cited_hashes().into_iter().map(|h| h.as_str()).collect();
    assert_eq!(cited, [PDF_HASH]);
    // Round trip: the member is written back exactly when present.
    assert_eq!(e.to_payload().get("report_sha256"), Some(&json!(PDF_HASH)));
    assert!(typed(&report(1, "qualified")).to_payload().get("report_sha256").is_none());
}

#[test]
fn report_sha256_must_be_lowercase_hex() {
    let r = report(1, "qualified").with("report_sha256", json!(PDF_HASH.to_uppercase()));
    let Value::Object(m) = &r.payload else { unreachable!() };
    let err = DomainEvent::parse(r.kind, m).expect_err("an uppercase digest is refused").to_string();
    assert!(err.contains("report_sha256"), "{err}");
}

/// Every member that cites a file is found, each hash once, sorted; kinds without attachments cite nothing.
#[test]
fn cited_hashes_lists_every_attachment_member() {
    let a = "1".repeat(64);
    let b = "2".repeat(64);
    let (a, b) = (a.as_str(), b.as_str());
    let cases: Vec<(Rec, Vec<&str>)> = vec![
        (submitted().with("photo_hashes", json!([b, a, b])), vec![a, b]),
        (finding().with("photo_hashes", json!([a])), vec![a]),
        (reviewed("pass").with("photo_hashes", json!([b])), vec![b]),
        (approved(1), vec![PHOTO]),
        (model(1, HASH2), vec![HASH2]),
        (resolved(bureau()), vec![PHOTO]),
        (inspected(), vec![]),
        (notice(), vec![]),
        (countersigned(1), vec![]),
    ];
    for (r, want) in cases {
        let e = typed(&r);
        let got: Vec<&str> = e.cited_hashes().into_iter().map(|h| h.as_str()).collect();
        assert_eq!(got, want, "{}", r.kind);
    }
}
