//! 实名制 and 工资专用账户: payload schemas (plaintext refused), admission rules as given/when/then tables, and the
//! arrears rules as given/when/then tables.

use serde_json::{Value, json};
use siteledger_domain::registry::ParticipantRole as R;
use siteledger_domain::workforce::arrears::{
    self, AttendanceDay, DepositFact, FindingRule, LineFact, Options, ProjectFacts, TransferFact, WorkerFacts,
};
use siteledger_domain::workforce::{Commitment, Masked, PayrollId, PersonRef, Trade, WorkforceEvent, YearMonth};
use siteledger_domain::{
    DomainEvent, DomainState, LocalDate, MoneyFen, PayloadError, RecordContext, validate_envelope,
};

use super::fixtures::{enterprises, gc, owner, part, project_payload, sub, supervisor};

const P: &str = "NB-2026-0001";

fn person(n: u32) -> String {
    format!("P-{n:032x}")
}

fn commit(n: u32) -> String {
    format!("hmac-sha256:{n:064x}")
}

/// (kind, payload, signer role, signer subject, occurred date)
type Rec = (&'static str, Value, &'static str, String, &'static str);

fn ent(kind: &'static str, payload: Value) -> Rec {
    (kind, payload, "enterprise", gc().as_str().to_owned(), "2026-04-01")
}

fn at(mut r: Rec, date: &'static str) -> Rec {
    r.4 = date;
    r
}

fn signed_by(mut r: Rec, role: &'static str, subject: String) -> Rec {
    r.2 = role;
    r.3 = subject;
    r
}

fn team() -> Rec {
    ent(
        "worker.team.formed.v1",
        json!({"project_id": P, "team_id": "T1", "name": "钢筋班组", "employer": sub().as_str()}),
    )
}

fn registered(n: u32, trade: &str, birth: &str) -> Rec {
    ent(
        "worker.registered.v1",
        json!({"project_id": P, "person_ref": person(n), "id_type": "01", "id_commitment": commit(n),
               "id_masked": "3302**********123X", "birth_month": birth, "employer": sub().as_str(),
               "team_id": "T1", "trade": trade, "work_role": "20"}),
    )
}

fn contract(n: u32, start: &str, end: Option<&str>) -> Rec {
    ent(
        "worker.contract.signed.v1",
        json!({"project_id": P, "person_ref": person(n), "contract_id": format!("C{n}"), "employer": sub().as_str(),
               "period_type": "0", "start_date": start, "end_date": end}),
    )
}

fn entered(n: u32) -> Rec {
    ent("worker.entered.v1", json!({"project_id": P, "person_ref": person(n), "date": "2026-04-01"}))
}

fn passage(n: u32) -> Rec {
    signed_by(
        ent(
            "worker.passage.v1",
            json!({"project_id": P, "person_ref": person(n), "gate": "GATE-1", "direction": "in", "method": "face"}),
        ),
        "gateway",
        format!("project/{P}/gateway/GW-01"),
    )
}

fn account() -> Rec {
    ent(
        "wage.account.opened.v1",
        json!({"project_id": P, "opened_by": gc().as_str(), "bank_name": "中国农业银行宁波分行", "account_masked": "3901 **** **** 0088", "pay_day": 15}),
    )
}

fn payroll(id: &str, people: &[u32]) -> Rec {
    let lines: Vec<Value> = people
        .iter()
        .map(|&n| {
            json!({"person_ref": person(n), "days": 20, "hours": 160, "payable_fen": 800_000, "actual_fen": 800_000,
                          "card_commitment": commit(1000 + n), "card_masked": "6222 **** **** 1234", "back_pay": false})
        })
        .collect();
    ent(
        "wage.payroll.submitted.v1",
        json!({"project_id": P, "payroll_id": id, "team_id": "T1", "employer": sub().as_str(), "month": "2026-04", "lines": lines}),
    )
}

fn transfer(n: u32, payroll_id: &str) -> Rec {
    signed_by(
        ent(
            "wage.transfer.made.v1",
            json!({"project_id": P, "transfer_id": format!("TX{n}"), "payroll_id": payroll_id, "person_ref": person(n),
                   "amount_fen": 800_000, "card_commitment": commit(1000 + n), "card_masked": "6222 **** **** 1234",
                   "paid_on": "2026-05-10", "back_pay": false}),
        ),
        "bank",
        "91110000100003962T".to_owned(),
    )
}

fn stream_of(kind: &str) -> String {
    stream_in(kind, P)
}

fn stream_in(kind: &str, project: &str) -> String {
    let area = if kind == "wage.finding.recorded.v1" {
        "wage/findings"
    } else if kind.starts_with("wage.") {
        "wage"
    } else {
        "workforce"
    };
    format!("project/{project}/{area}")
}

fn base_state() -> DomainState {
    let mut st = DomainState::new();
    let mut participants =
        vec![part(R::Owner, &owner()), part(R::GeneralContractor, &gc()), part(R::Supervisor, &supervisor())];
    participants.push(part(R::Subcontractor, &sub()));
    let mut events = enterprises();
    events.push(siteledger_domain::registry::RegistryEvent::ProjectRegistered(project_payload(
        P,
        "330212",
        participants,
    )));
    for e in events {
        siteledger_domain::registry::evolve(&mut st.registry, &e);
    }
    st
}

fn apply(st: &DomainState, r: &Rec, id: usize) -> Result<DomainEvent, String> {
    let payload = r.1.as_object().expect("object").clone();
    let stream = stream_in(r.0, r.1["project_id"].as_str().unwrap_or(P));
    let event = validate_envelope(r.0, &stream, &payload).map_err(|e| e.to_string())?;
    let occurred = format!("{}T08:00:00+08:00", r.4);
    let event_id = format!("e{id}");
    let ctx = RecordContext {
        event_id: &event_id,
        stream: &stream,
        occurred_at: &occurred,
        signer_key_id: "k",
        signer_role: r.2,
        signer_subject: &r.3,
    };
    st.decide(&ctx, &event).map_err(|e| e.to_string())?;
    Ok(event)
}

fn run(given: &[Rec], when: &Rec) -> Result<(), String> {
    let mut st = base_state();
    for (i, r) in given.iter().enumerate() {
        let event = apply(&st, r, i).unwrap_or_else(|e| panic!("given record {i} ({}) refused: {e}", r.0));
        let stream = stream_of(r.0);
        let occurred = format!("{}T08:00:00+08:00", r.4);
        let ctx = RecordContext {
            event_id: "g",
            stream: &stream,
            occurred_at: &occurred,
            signer_key_id: "k",
            signer_role: r.2,
            signer_subject: &r.3,
        };
        st.evolve(&ctx, &event);
    }
    apply(&st, when, given.len()).map(drop)
}

fn onboarded(n: u32) -> Vec<Rec> {
    vec![registered(n, "020", "1990-05"), contract(n, "2026-03-01", Some("2026-12-31")), entered(n)]
}

#[test]
fn admission_rules_given_when_then() {
    let with_team = vec![team()];
    let mut worker1 = with_team.clone();
    worker1.extend(onboarded(1));
    let mut paid_setup = worker1.clone();
    paid_setup.push(account());
    paid_setup.push(payroll("PR-2026-04-T1", &[1]));

    // (name, given, when, expected: None = accepted, Some(fragment of the error))
    let cases: Vec<(&str, Vec<Rec>, Rec, Option<&str>)> = vec![
        ("team formed by a participant", vec![], team(), None),
        ("team twice", with_team.clone(), team(), Some("workforce.team_unique")),
        ("registration needs the team", vec![], registered(1, "020", "1990-05"), Some("workforce.team_known")),
        ("registration of an adult", with_team.clone(), registered(1, "020", "1990-05"), None),
        ("registration under 16 refused", with_team.clone(), registered(1, "020", "2010-05"), Some("劳动法第十五条")),
        ("registration at exactly 16 years (by month)", with_team.clone(), registered(1, "020", "2010-04"), None),
        ("registration twice", worker1.clone(), registered(1, "020", "1990-05"), Some("workforce.registered_once")),
        (
            "registration signed by a stranger enterprise",
            with_team.clone(),
            signed_by(registered(1, "020", "1990-05"), "enterprise", "91330211MA2G00007X".to_owned()),
            Some("workforce.signer"),
        ),
        ("contract without registration", with_team.clone(), contract(1, "2026-03-01", None), Some("条例第二十八条")),
        (
            "contract ending before it starts",
            vec![team(), registered(1, "020", "1990-05")],
            contract(1, "2026-03-01", Some("2026-02-01")),
            Some("workforce.contract_dates"),
        ),
        ("entry without contract", vec![team(), registered(1, "020", "1990-05")], entered(1), Some("条例第二十八条")),
        (
            "entry after the contract ended",
            vec![team(), registered(1, "020", "1990-05"), contract(1, "2026-01-01", Some("2026-03-31"))],
            entered(1),
            Some("条例第二十八条"),
        ),
        (
            "entry with registration and contract",
            vec![team(), registered(1, "020", "1990-05"), contract(1, "2026-03-01", None)],
            entered(1),
            None,
        ),
        ("passage of an unregistered person", with_team.clone(), passage(1), Some("条例第二十八条")),
        (
            "passage before entry",
            vec![team(), registered(1, "020", "1990-05"), contract(1, "2026-03-01", None)],
            passage(1),
            Some("条例第二十八条"),
        ),
        ("passage of an onboarded worker, gate of the project", worker1.clone(), passage(1), None),
        (
            "passage signed by another project's gateway",
            worker1.clone(),
            signed_by(passage(1), "gateway", "project/NB-2026-0002/gateway/GW-01".to_owned()),
            Some("workforce.signer"),
        ),
        ("passage after the contract ended", worker1.clone(), at(passage(1), "2027-01-05"), Some("条例第二十八条")),
        (
            "passage of an electrician without certificate is accepted (finding, not refusal)",
            {
                let mut g = with_team.clone();
                g.extend(vec![registered(2, "130", "1985-01"), contract(2, "2026-03-01", None), entered(2)]);
                g
            },
            passage(2),
            None,
        ),
        (
            "account opened by a subcontractor",
            worker1.clone(),
            signed_by(
                ent(
                    "wage.account.opened.v1",
                    json!({"project_id": P, "opened_by": sub().as_str(), "bank_name": "中国农业银行宁波分行", "account_masked": "3901 **** **** 0088", "pay_day": 15}),
                ),
                "enterprise",
                sub().as_str().to_owned(),
            ),
            Some("条例第二十六条"),
        ),
        ("second account", paid_setup.clone(), account(), Some("条例第二十六条")),
        (
            "deposit by the owner",
            paid_setup.clone(),
            signed_by(
                ent(
                    "wage.labour_cost.deposited.v1",
                    json!({"project_id": P, "payer": owner().as_str(), "amount_fen": 50_000_000, "deposited_on": "2026-04-05", "for_month": "2026-04"}),
                ),
                "enterprise",
                owner().as_str().to_owned(),
            ),
            None,
        ),
        (
            "deposit by someone else than the owner",
            paid_setup.clone(),
            ent(
                "wage.labour_cost.deposited.v1",
                json!({"project_id": P, "payer": gc().as_str(), "amount_fen": 50_000_000, "deposited_on": "2026-04-05", "for_month": "2026-04"}),
            ),
            Some("条例第二十九条"),
        ),
        ("payroll with an unregistered worker", worker1.clone(), payroll("PR-X", &[1, 9]), Some("lines[1]")),
        ("payroll of registered workers", worker1.clone(), payroll("PR-X", &[1]), None),
        ("payroll id twice", paid_setup.clone(), payroll("PR-2026-04-T1", &[1]), Some("workforce.payroll_unique")),
        ("transfer by the bank", paid_setup.clone(), transfer(1, "PR-2026-04-T1"), None),
        (
            "transfer signed by the subcontractor",
            paid_setup.clone(),
            signed_by(transfer(1, "PR-2026-04-T1"), "enterprise", sub().as_str().to_owned()),
            Some("条例第三十一条"),
        ),
        (
            "transfer before the account exists",
            {
                let mut g = worker1.clone();
                g.push(payroll("PR-2026-04-T1", &[1]));
                g
            },
            transfer(1, "PR-2026-04-T1"),
            Some("条例第三十一条"),
        ),
        (
            "transfer to someone not in the payroll",
            paid_setup.clone(),
            transfer(2, "PR-2026-04-T1"),
            Some("条例第三十一条"),
        ),
        (
            "confirmation of one's line",
            paid_setup.clone(),
            ent(
                "wage.payroll.confirmed.v1",
                json!({"project_id": P, "payroll_id": "PR-2026-04-T1", "person_ref": person(1)}),
            ),
            None,
        ),
        (
            "wage clerk appointed by the subcontractor",
            worker1.clone(),
            ent(
                "worker.wage_clerk.appointed.v1",
                json!({"project_id": P, "person_ref": person(1), "appointed_by": sub().as_str()}),
            ),
            Some("条例第二十八条"),
        ),
        (
            "unknown project",
            vec![],
            ent(
                "worker.team.formed.v1",
                json!({"project_id": "NB-2026-0999", "team_id": "T1", "name": "钢筋班组", "employer": sub().as_str()}),
            ),
            Some("workforce.project_registered"),
        ),
    ];
    let mut failures = Vec::new();
    for (name, given, when, expected) in &cases {
        let got = run(given, when);
        let ok = match (expected, &got) {
            (None, Ok(())) => true,
            (Some(frag), Err(e)) => e.contains(frag),
            _ => false,
        };
        if !ok {
            failures.push(format!("{name}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn refusals_name_the_rule_and_what_to_do() {
    let err = run(&[team()], &passage(1)).expect_err("refused");
    assert!(err.starts_with("条例第二十八条 rule: "), "{err}");
    assert!(err.contains("worker.registered.v1"), "{err}");
}

#[test]
fn payloads_refuse_plaintext_numbers_and_name_the_field() {
    let mut r = registered(1, "020", "1990-05");
    r.1["id_masked"] = json!("33020319800101001X");
    let err = apply(&base_state(), &r, 0).expect_err("refused");
    assert!(err.contains("id_masked") && err.contains("never a plaintext number"), "{err}");

    let mut p = payroll("PR", &[1]);
    p.1["lines"][0]["card_masked"] = json!("6222021234567891234");
    let err = apply(&base_state(), &p, 0).expect_err("refused");
    assert!(err.contains("lines[0].card_masked"), "{err}");

    let mut t = team();
    t.1["employer"] = json!("91331122MA2A0M9B7M");
    let err = apply(&base_state(), &t, 0).expect_err("refused");
    assert!(err.contains("employer") && err.contains("check character mismatch"), "{err}");

    assert!(Masked::parse("3302**********123X").is_ok());
    assert!(Masked::parse("6222 **** **** 1234").is_ok());
    assert!(Masked::parse("622202123456789012").is_err());
    assert!(PersonRef::parse("P-0123").is_err());
    assert!(Commitment::parse(&commit(7)).is_ok());
    assert!(Commitment::parse("hmac-sha256:ABC").is_err());
}

#[test]
fn every_kind_round_trips_and_lives_in_its_stream() {
    let recs = [
        team(),
        registered(1, "020", "1990-05"),
        contract(1, "2026-03-01", None),
        entered(1),
        passage(1),
        account(),
        payroll("PR", &[1]),
        transfer(1, "PR"),
    ];
    for r in recs {
        let payload = r.1.as_object().expect("object").clone();
        let event = WorkforceEvent::parse(r.0, &payload).expect("a workforce kind").expect("valid");
        assert_eq!(event.kind(), r.0);
        let back = WorkforceEvent::parse(r.0, &event.to_payload()).expect("kind").expect("valid");
        assert_eq!(back, event);
        assert!(event.check_stream(&stream_of(r.0)).is_ok());
        assert!(event.check_stream(&format!("{}/gate-1", stream_of(r.0))).is_ok());
        assert!(event.check_stream(&format!("project/{P}/site")).is_err());
        let err = validate_envelope(r.0, &format!("project/{P}/site"), &payload).expect_err("refused");
        assert!(matches!(err, PayloadError::WrongStream { .. }), "{err}");
    }
}

// ------------------------------------------------------------------------------------------------------------
// Published findings (wage.finding.recorded.v1)
// ------------------------------------------------------------------------------------------------------------

fn finding_id(n: u32) -> String {
    format!("arrears_suspected:2026-04:{}", person(n))
}

fn published(n: u32, role: &'static str, subject: &str) -> Rec {
    signed_by(
        at(
            ent(
                "wage.finding.recorded.v1",
                json!({"project_id": P, "finding_id": finding_id(n), "rule": "arrears_suspected", "month": "2026-04",
                       "summary": "2026-04 有 20 天考勤，发薪日 2026-05-15 已过，未见工资转账",
                       "evidence": ["e1", "e2"]}),
            ),
            "2026-05-20",
        ),
        role,
        subject.to_owned(),
    )
}

#[test]
fn finding_publication_rules_given_when_then() {
    let district = published(1, "district_bureau", "district/330212");
    // (name, given, when, expected: None = accepted, Some(fragment of the error))
    let cases: Vec<(&str, Vec<Rec>, Rec, Option<&str>)> = vec![
        ("the project's district bureau publishes", vec![], district.clone(), None),
        ("the city bureau publishes", vec![], published(1, "city_bureau", "city/330200"), None),
        (
            "another district's bureau is refused",
            vec![],
            published(1, "district_bureau", "district/330203"),
            Some("workforce.finding_signer"),
        ),
        (
            "an enterprise key is refused",
            vec![],
            published(1, "enterprise", gc().as_str()),
            Some("workforce.finding_signer"),
        ),
        ("a bank key is refused", vec![], published(1, "bank", "91110000100003962T"), Some("workforce.finding_signer")),
        (
            "the same finding twice is refused, naming the rule",
            vec![district.clone()],
            published(1, "city_bureau", "city/330200"),
            Some("workforce.finding_once"),
        ),
        (
            "another finding of the project",
            vec![district.clone()],
            published(2, "district_bureau", "district/330212"),
            None,
        ),
        (
            "a finding on an unregistered project",
            vec![],
            {
                let mut r = district.clone();
                r.1["project_id"] = json!("NB-2026-0999");
                r
            },
            Some("workforce.project_registered"),
        ),
    ];
    let mut failures = Vec::new();
    for (name, given, when, expected) in &cases {
        let got = run(given, when);
        let ok = match (expected, &got) {
            (None, Ok(())) => true,
            (Some(frag), Err(e)) => e.contains(frag),
            _ => false,
        };
        if !ok {
            failures.push(format!("{name}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let dup = run(std::slice::from_ref(&district), &published(1, "city_bureau", "city/330200")).expect_err("refused");
    assert!(dup.starts_with("workforce.finding_once rule: ") && dup.contains("arrears_suspected"), "{dup}");
}

#[test]
fn finding_payloads_are_checked_and_live_in_the_findings_stream() {
    let r = published(1, "district_bureau", "district/330212");
    let payload = r.1.as_object().expect("object").clone();
    let event = WorkforceEvent::parse(r.0, &payload).expect("a workforce kind").expect("valid");
    assert_eq!(event.kind(), "wage.finding.recorded.v1");
    assert_eq!(WorkforceEvent::parse(r.0, &event.to_payload()).expect("kind").expect("valid"), event);
    assert!(event.check_stream(&format!("project/{P}/wage/findings")).is_ok());
    assert!(event.check_stream(&format!("project/{P}/wage")).is_err());
    assert!(event.check_stream(&format!("project/{P}/wage/findings/x")).is_err());

    // (field, bad value, fragment of the error)
    let bad: [(&str, Value, &str); 6] = [
        ("evidence", json!([]), "evidence"),
        ("evidence", json!(["ok", ""]), "evidence[1]"),
        ("rule", json!("wage_theft"), "rule"),
        ("month", json!("2026-13"), "month"),
        ("finding_id", json!("has space"), "finding_id"),
        ("summary", json!("身份证 330203198001010010 欠薪"), "summary"),
    ];
    for (field, value, frag) in bad {
        let mut p = r.clone();
        p.1[field] = value;
        let err = apply(&base_state(), &p, 0).expect_err(field);
        assert!(err.contains(frag), "{field}: {err}");
    }
}

#[test]
fn a_computed_findings_key_is_the_published_finding_id() {
    let mut f = clean();
    f.transfers.clear();
    let found = arrears::findings(&f, opts("2026-06-01"));
    let arrears: Vec<_> = found.iter().filter(|x| x.rule == FindingRule::ArrearsSuspected).collect();
    assert!(!arrears.is_empty(), "{found:?}");
    for a in arrears {
        let key = a.key();
        assert_eq!(key, format!("arrears_suspected:{}:{}", a.month, a.person_ref.as_ref().expect("a worker")));
        assert!(siteledger_domain::workforce::FindingId::parse(&key).is_ok(), "{key}");
    }
}

// ------------------------------------------------------------------------------------------------------------
// Arrears rules
// ------------------------------------------------------------------------------------------------------------

fn pr(n: u32) -> PersonRef {
    PersonRef::parse(&person(n)).expect("ref")
}

fn cm(n: u32) -> Commitment {
    Commitment::parse(&commit(n)).expect("commitment")
}

fn d(s: &str) -> LocalDate {
    LocalDate::parse(s).expect("date")
}

fn fen(n: i64) -> MoneyFen {
    MoneyFen::parse(n).expect("fen")
}

fn attendance(n: u32, days: u32) -> Vec<AttendanceDay> {
    (1..=days)
        .map(|i| AttendanceDay { person_ref: pr(n), day: d(&format!("2026-04-{i:02}")), event_id: format!("a{n}-{i}") })
        .collect()
}

fn line(n: u32, days: u32, payable: i64, actual: i64) -> LineFact {
    LineFact {
        event_id: "payroll-1".into(),
        payroll_id: PayrollId::parse("PR-1").expect("id"),
        month: YearMonth::parse("2026-04").expect("month"),
        person_ref: pr(n),
        days,
        payable: fen(payable),
        actual: fen(actual),
        back_pay: false,
    }
}

fn paid(n: u32, amount: i64, card: u32) -> TransferFact {
    TransferFact {
        event_id: format!("t{n}"),
        payroll_id: PayrollId::parse("PR-1").expect("id"),
        person_ref: pr(n),
        amount: fen(amount),
        card: cm(card),
    }
}

fn worker(trade: Trade, card: u32) -> WorkerFacts {
    WorkerFacts { trade: Some(trade), cards: vec![(cm(card), format!("card{card}"))], certificates: vec![] }
}

/// A clean month for worker 1: 20 days, payroll 20 days, paid in full to the registered card, deposits monthly.
fn clean() -> ProjectFacts {
    let mut f = ProjectFacts {
        attendance: attendance(1, 20),
        lines: vec![line(1, 20, 800_000, 800_000)],
        transfers: vec![paid(1, 800_000, 101)],
        ..ProjectFacts::default()
    };
    f.workers.insert(pr(1), worker(Trade::Rebar, 101));
    f.account = Some((d("2026-03-20"), "acct".into(), 15));
    f.deposits = vec![
        DepositFact { event_id: "dep-4".into(), deposited_on: d("2026-04-05") },
        DepositFact { event_id: "dep-5".into(), deposited_on: d("2026-05-05") },
    ];
    f
}

fn opts(as_of: &str) -> Options {
    Options { as_of: d(as_of), days_tolerance: 1 }
}

#[test]
fn arrears_rules_given_when_then() {
    type Change = fn(&mut ProjectFacts);
    // (name, change to the clean month, as_of, expected rules)
    let cases: Vec<(&str, Change, &str, Vec<FindingRule>)> = vec![
        ("clean month", |_| {}, "2026-05-20", vec![]),
        ("no transfer, before the pay date", |f| f.transfers.clear(), "2026-05-15", vec![]),
        ("no transfer, after the pay date", |f| f.transfers.clear(), "2026-05-16", vec![FindingRule::ArrearsSuspected]),
        (
            "actual below payable",
            |f| f.lines[0].actual = fen(700_000),
            "2026-05-20",
            vec![FindingRule::TransferMismatch, FindingRule::Underpayment],
        ),
        (
            "transfer differs from actual",
            |f| f.transfers[0].amount = fen(600_000),
            "2026-05-20",
            vec![FindingRule::TransferMismatch],
        ),
        ("paid without attendance", |f| f.attendance.clear(), "2026-05-20", vec![FindingRule::GhostPayroll]),
        (
            "attendance, no payroll, after the pay date",
            |f| {
                f.lines.clear();
                f.transfers.clear();
            },
            "2026-05-20",
            vec![FindingRule::ArrearsSuspected, FindingRule::MissingFromPayroll],
        ),
        ("payroll days off by 1 (tolerated)", |f| f.lines[0].days = 21, "2026-05-20", vec![]),
        ("payroll days off by 6", |f| f.lines[0].days = 26, "2026-05-20", vec![FindingRule::DaysMismatch]),
        ("paid to another card", |f| f.transfers[0].card = cm(999), "2026-05-20", vec![FindingRule::UnregisteredCard]),
        (
            "deposit gap over a month",
            |f| f.deposits[1].deposited_on = d("2026-05-20"),
            "2026-05-25",
            vec![FindingRule::LabourCostLate],
        ),
        ("no deposit for over a month", |_| {}, "2026-06-06", vec![FindingRule::LabourCostLate]),
        (
            "electrician without certificate",
            |f| {
                if let Some(w) = f.workers.get_mut(&pr(1)) {
                    w.trade = Some(Trade::Electrician);
                }
            },
            "2026-05-20",
            vec![FindingRule::CertificateMissing],
        ),
        (
            "electrician with a certificate expiring mid-month",
            |f| {
                if let Some(w) = f.workers.get_mut(&pr(1)) {
                    w.trade = Some(Trade::Electrician);
                    w.certificates = vec![(d("2026-04-10"), "cert".into())];
                }
            },
            "2026-05-20",
            vec![FindingRule::CertificateMissing],
        ),
        (
            "electrician with a valid certificate",
            |f| {
                if let Some(w) = f.workers.get_mut(&pr(1)) {
                    w.trade = Some(Trade::Electrician);
                    w.certificates = vec![(d("2028-01-01"), "cert".into())];
                }
            },
            "2026-05-20",
            vec![],
        ),
    ];
    let mut failures = Vec::new();
    for (name, change, as_of, expected) in cases {
        let mut f = clean();
        change(&mut f);
        let got: Vec<FindingRule> = arrears::findings(&f, opts(as_of)).iter().map(|x| x.rule).collect();
        let mut want = expected.clone();
        want.sort();
        if got != want {
            failures.push(format!("{name}: expected {want:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn findings_cite_their_events() {
    let mut f = clean();
    f.transfers.clear();
    let found = arrears::findings(&f, opts("2026-05-20"));
    assert_eq!(found.len(), 1);
    let x = &found[0];
    assert_eq!(x.person_ref, Some(pr(1)));
    assert!(
        x.evidence.contains(&"a1-1".to_owned()) && x.evidence.contains(&"payroll-1".to_owned()),
        "{:?}",
        x.evidence
    );
    assert_eq!(x.evidence.len(), 21);

    let mut f = clean();
    f.transfers[0].card = cm(999);
    let found = arrears::findings(&f, opts("2026-05-20"));
    assert_eq!(found[0].evidence, vec!["t1".to_owned()]);
}

#[test]
fn pay_date_defaults_to_the_end_of_the_next_month() {
    let m = YearMonth::parse("2026-01").expect("month");
    assert_eq!(arrears::pay_date(m, None), d("2026-02-28"));
    assert_eq!(arrears::pay_date(m, Some(31)), d("2026-02-28"));
    assert_eq!(arrears::pay_date(m, Some(15)), d("2026-02-15"));
    assert_eq!(arrears::pay_date(YearMonth::parse("2026-12").expect("m"), Some(10)), d("2027-01-10"));
}

proptest::proptest! {
    /// The `Masked` guard refuses every plaintext resident ID number and card number, and accepts their masks.
    #[test]
    fn masked_refuses_plaintext_numbers(body in "[1-6][0-9]{5}(19[5-9][0-9]|200[0-8])(0[1-9]|1[0-2])(0[1-9]|1[0-9]|2[0-8])[0-9]{3}", card in "[0-9]{12,19}") {
        let check = siteledger_domain::IdNumber::check_character(&body).expect("17 digits");
        let number = format!("{body}{check}");
        proptest::prop_assert!(Masked::parse(&number).is_err());
        proptest::prop_assert!(Masked::parse(&card).is_err());
        proptest::prop_assert!(Masked::parse(&Masked::card(&card)).is_ok());
        if let Ok(id) = siteledger_domain::IdNumber::parse(&number) {
            proptest::prop_assert!(Masked::parse(&id.masked()).is_ok());
        }
    }
}
