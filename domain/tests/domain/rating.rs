//! Star rating: the notice's phases as given/when/then tables (boundary values straight from 甬建发〔2020〕72号
//! 三(三)), achieved levels from evidence windows, the 5 % quota, policy and credit admission rules.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};
use siteledger_domain::rating::credit::{self, CreditRecord, Polarity};
use siteledger_domain::rating::fold::{LogRecord, RatingFold};
use siteledger_domain::rating::policy::{
    self, ApplicationId, EvidenceDays, ProjectFacts, StarLevel, achieved_level, required_level, three_star_quota,
};
use siteledger_domain::rating::{RatingEvent, RatingState};
use siteledger_domain::registry::RegistryState;
use siteledger_domain::{AreaM2, DomainEvent, LocalDate, MoneyFen, RecordContext};

fn facts(year: i32, central: bool, m2: &str, yuan: i64, programme: bool) -> ProjectFacts {
    ProjectFacts {
        central_urban: central,
        floor_area_m2: AreaM2::parse(m2).expect("area"),
        contract_cost_fen: MoneyFen::parse(yuan * 100).expect("money"),
        start_date: LocalDate::parse(&format!("{year}-06-01")).expect("date"),
        standard_site_programme: programme,
    }
}

#[test]
fn required_level_follows_the_notice_phase_by_phase() {
    let p = policy::notice_2020_72();
    // (start year, central urban, floor area m², cost ¥, 标准化工地 programme) → required level (None: no rule)
    // (start year, central urban, area, cost, programme, required level)
    type Case = (i32, bool, &'static str, i64, bool, Option<u8>);
    let table: &[Case] = &[
        // 2020 扩面: 中心城区 and (5000 m² or ¥50,000,000) 以上, or the programme → 1★
        (2020, true, "5000", 0, false, Some(1)),
        (2020, true, "4999.99", 0, false, None),
        (2020, true, "4999", 49_999_999, false, None),
        (2020, true, "100", 50_000_000, false, Some(1)),
        (2020, false, "200000", 900_000_000, false, None),
        (2020, false, "100", 1_000, true, Some(1)),
        // 2021 提质: city-wide, 5000 m² or ¥20,000,000 → 1★; 100,000 m² or ¥200,000,000 → 2★
        (2021, false, "5000", 0, false, Some(1)),
        (2021, false, "4999", 0, false, None),
        (2021, false, "100", 20_000_000, false, Some(1)),
        (2021, false, "100", 19_999_999, false, None),
        (2021, false, "100000", 0, false, Some(2)),
        (2021, false, "99999.99", 199_999_999, false, Some(1)),
        (2021, false, "100", 200_000_000, false, Some(2)),
        (2021, false, "100", 1_000, true, None),
        // 2022 增效 and after: every new project connected (0); 50,000 m² or ¥100,000,000 → 2★
        (2022, false, "100", 1_000, false, Some(0)),
        (2022, false, "50000", 0, false, Some(2)),
        (2022, false, "49999", 99_999_999, false, Some(0)),
        (2022, false, "100", 100_000_000, false, Some(2)),
        (2026, true, "52000", 0, false, Some(2)),
        // before the notice: nothing
        (2019, true, "900000", 900_000_000, true, None),
    ];
    for &(year, central, m2, yuan, programme, want) in table {
        let got = required_level(&facts(year, central, m2, yuan, programme), &p).map(|r| r.level.get());
        assert_eq!(got, want, "start {year}, central {central}, {m2} m², ¥{yuan}, programme {programme}");
    }
}

fn days(from: &str, n: i64) -> BTreeSet<LocalDate> {
    let start = LocalDate::parse(from).expect("date").date();
    (0..n).map(|i| LocalDate::try_from(start + time::Duration::days(i)).expect("date")).collect()
}

fn evidence(apps: &[(&str, BTreeSet<LocalDate>)]) -> EvidenceDays {
    apps.iter().map(|(a, d)| (ApplicationId::parse(a).expect("id"), d.clone())).collect()
}

#[test]
fn achieved_level_needs_every_application_of_the_level_in_its_window() {
    let p = policy::notice_2020_72();
    let as_of = LocalDate::parse("2026-11-30").expect("date");
    let month = days("2026-11-01", 30);
    let one_star = [
        ("video", month.clone()),
        ("realname", month.clone()),
        ("dust_noise", month.clone()),
        ("wage_account", days("2026-11-10", 1)),
    ];
    let e = evidence(&one_star);
    let a = achieved_level(&e, &p, as_of);
    assert_eq!(a.level, StarLevel::ONE);
    assert!(a.connected);

    // 19 of 30 days of video is not enough (the default is 20 of 30).
    let mut short = one_star.clone();
    short[0].1 = days("2026-11-12", 19);
    assert_eq!(achieved_level(&evidence(&short), &p, as_of).level, StarLevel::NONE);
    short[0].1 = days("2026-11-11", 20);
    assert_eq!(achieved_level(&evidence(&short), &p, as_of).level, StarLevel::ONE);

    // Days after as_of do not count; days before the window do not count.
    assert_eq!(achieved_level(&e, &p, LocalDate::parse("2026-10-31").expect("date")).level, StarLevel::NONE);

    // Three-star applications without the two-star ones: still one star.
    let mut partial = one_star.to_vec();
    for a in ["power_water", "hazardous_works", "bim", "coordination"] {
        partial.push((a, month.clone()));
    }
    assert_eq!(achieved_level(&evidence(&partial), &p, as_of).level, StarLevel::ONE);
    for a in ["crane", "safety_quality", "quality_testing"] {
        partial.push((a, month.clone()));
    }
    assert_eq!(achieved_level(&evidence(&partial), &p, as_of).level, StarLevel::THREE);
}

#[test]
fn three_star_quota_rounds_up() {
    // (new starts, three-star, permille) → (needed, met)
    for &(n, three, permille, needed, met) in
        &[(0, 0, 50, 0, true), (1, 0, 50, 1, false), (20, 1, 50, 1, true), (21, 1, 50, 2, false), (40, 2, 50, 2, true)]
    {
        let q = three_star_quota(n, three, permille);
        assert_eq!((q.needed, q.met), (needed, met), "{n} new starts, {three} three-star");
    }
}

fn ctx<'a>(role: &'a str, subject: &'a str, stream: &'a str) -> RecordContext<'a> {
    RecordContext {
        event_id: "0190f1a2-0000-7000-8000-000000000001",
        stream,
        occurred_at: "2026-11-24T10:00:00+08:00",
        signer_key_id: "00000000000000000000000000000000",
        signer_role: role,
        signer_subject: subject,
    }
}

fn parse(kind: &str, v: Value) -> RatingEvent {
    let map: Map<String, Value> = v.as_object().expect("object").clone();
    match DomainEvent::parse(kind, &map).expect("valid payload") {
        DomainEvent::Rating(e) => e,
        other => panic!("not a rating event: {other:?}"),
    }
}

#[test]
fn policy_versions_are_city_signed_coherent_and_in_order() {
    let v1 = serde_json::to_value(policy::notice_2020_72()).expect("json");
    let e = parse("rating.policy.v1", v1.clone());
    let registry = RegistryState::new();
    let mut state = RatingState::default();
    // given no policy, when a district bureau publishes v1, then refused
    let err =
        state.decide(&ctx("district_bureau", "330212", "city/policy/rating"), &registry, &e).expect_err("refused");
    assert_eq!(err.rule, "rating.policy_signer");
    // when the city bureau publishes v1, then accepted
    let c = ctx("city_bureau", "宁波市住房和城乡建设局", "city/policy/rating");
    state.decide(&c, &registry, &e).expect("accepted");
    state.evolve(&c, &e);
    // v1 again, or v3: refused; v2: accepted
    assert_eq!(state.decide(&c, &registry, &e).expect_err("again").rule, "rating.policy_version");
    let mut v3 = v1.clone();
    v3["version"] = json!(3);
    assert_eq!(
        state.decide(&c, &registry, &parse("rating.policy.v1", v3)).expect_err("skip").rule,
        "rating.policy_version"
    );
    let mut v2 = v1.clone();
    v2["version"] = json!(2);
    state.decide(&c, &registry, &parse("rating.policy.v1", v2.clone())).expect("v2");
    // an incoherent policy: level 2 without a level-1 application
    let mut bad = v2;
    bad["levels"][1]["applications"] = json!(["crane"]);
    assert_eq!(
        state.decide(&c, &registry, &parse("rating.policy.v1", bad)).expect_err("bad").rule,
        "rating.policy_coherent"
    );
}

#[test]
fn policy_payload_errors_name_the_field() {
    let mut v = serde_json::to_value(policy::notice_2020_72()).expect("json");
    v["applications"][2]["prefixes"] = json!(["env"]);
    let err = DomainEvent::parse("rating.policy.v1", v.as_object().expect("object")).expect_err("invalid");
    assert!(err.to_string().contains("applications[2].prefixes[0]"), "{err}");
    let mut v = serde_json::to_value(policy::notice_2020_72()).expect("json");
    v["levels"][0]["level"] = json!(4);
    let err = DomainEvent::parse("rating.policy.v1", v.as_object().expect("object")).expect_err("invalid");
    assert!(err.to_string().contains("levels[0].level"), "{err}");
}

#[test]
fn built_in_documents_round_trip_through_their_schemas() {
    for (kind, v) in [
        ("rating.policy.v1", serde_json::to_value(policy::notice_2020_72()).expect("json")),
        ("credit.rules.v1", serde_json::to_value(credit::proposal_v1()).expect("json")),
    ] {
        let e = DomainEvent::parse(kind, v.as_object().expect("object")).expect("valid");
        assert_eq!(Value::Object(e.to_payload()), v, "{kind}");
    }
    credit::proposal_v1().check().expect("coherent rules");
    policy::check_policy(&policy::notice_2020_72()).expect("coherent policy");
}

fn rec<'a>(
    pos: u64,
    id: &'a str,
    stream: &'a str,
    kind: &'a str,
    at: &'a str,
    p: &'a Map<String, Value>,
) -> LogRecord<'a> {
    LogRecord { position: pos, event_id: id, stream, kind, occurred_at: at, signer: "k", payload: p }
}

#[test]
fn credit_scores_reconstruct_from_their_cited_events() {
    let rules = credit::proposal_v1();
    let gc = crate::fixtures::gc();
    let project = serde_json::json!({
        "project_id": "NB-2026-0001", "name": "测试项目", "district": "330212", "central_urban": true,
        "floor_area_m2": "52000", "contract_cost_fen": 30_000_000_000i64, "start_date": "2026-03-01",
        "participants": [
            {"role": "owner", "credit_code": crate::fixtures::owner().as_str()},
            {"role": "general_contractor", "credit_code": gc.as_str()}
        ]
    });
    let project = project.as_object().expect("object").clone();
    let alarm = |id: &str, level: &str| {
        json!({"project_id": "NB-2026-0001", "alarm_id": id, "source": "DUST-01", "category": "dust", "level": level,
               "message": "PM10 超标"})
        .as_object()
        .expect("object")
        .clone()
    };
    let (a1, a2, a3) = (alarm("A-1", "violation"), alarm("A-2", "warning"), alarm("A-3", "violation"));
    let mut fold = RatingFold::new(Some(rules.clone()));
    fold.apply(&rec(
        0,
        "e0",
        "registry/projects",
        "registry.project.registered.v1",
        "2026-03-01T08:00:00+08:00",
        &project,
    ));
    fold.apply(&rec(1, "e1", "project/NB-2026-0001/alarms", "alarm.raised.v1", "2026-11-01T08:00:00+08:00", &a1));
    fold.apply(&rec(2, "e2", "project/NB-2026-0001/alarms", "alarm.raised.v1", "2026-11-02T08:00:00+08:00", &a2));
    fold.apply(&rec(3, "e3", "project/NB-2026-0001/alarms", "alarm.raised.v1", "2024-01-02T08:00:00+08:00", &a3));
    let as_of = LocalDate::parse("2026-11-24").expect("date");
    let scores = credit::score_all(&rules, &fold.credit_records, [&gc], as_of);
    let s = scores.iter().find(|s| s.credit_code == gc).expect("scored");
    // One violation alarm effective (the 2024 one expired after 180 days; warnings are not records).
    assert_eq!(s.records.iter().map(|r| r.event_id.as_str()).collect::<Vec<_>>(), ["e1"]);
    assert_eq!(s.score, rules.base_points - 1);
    assert_eq!(s.grade, "A");
    // Recompute from the cited events alone (plus the registry record that names the parties): same score.
    let mut again = RatingFold::new(Some(rules.clone()));
    again.apply(&rec(
        0,
        "e0",
        "registry/projects",
        "registry.project.registered.v1",
        "2026-03-01T08:00:00+08:00",
        &project,
    ));
    again.apply(&rec(1, "e1", "project/NB-2026-0001/alarms", "alarm.raised.v1", "2026-11-01T08:00:00+08:00", &a1));
    let rebuilt = credit::score_all(&rules, &again.credit_records, [&gc], as_of);
    assert_eq!(rebuilt, scores);
    let r: &CreditRecord = &s.records[0];
    assert_eq!((r.polarity, r.points, r.position), (Polarity::Bad, -1, 1));
}

fn registered(district: &str, start: &str, m2: &str) -> Map<String, Value> {
    json!({
        "project_id": "NB-2020-0001", "name": "中心城区测试项目", "district": district, "central_urban": false,
        "floor_area_m2": m2, "contract_cost_fen": 100_000i64, "start_date": start,
        "participants": [
            {"role": "owner", "credit_code": crate::fixtures::owner().as_str()},
            {"role": "general_contractor", "credit_code": crate::fixtures::gc().as_str()}
        ]
    })
    .as_object()
    .expect("object")
    .clone()
}

#[test]
fn decisions_and_reports_are_signed_by_the_right_bureau() {
    let mut registry = RegistryState::new();
    let reg = registered("330212", "2026-03-01", "100");
    if let Ok(DomainEvent::Registry(e)) = DomainEvent::parse("registry.project.registered.v1", &reg) {
        siteledger_domain::registry::evolve(&mut registry, &e);
    }
    let mut state = RatingState::default();
    let city = ctx("city_bureau", "宁波市住房和城乡建设局", "city/policy/rating");
    let policy = parse("rating.policy.v1", serde_json::to_value(policy::notice_2020_72()).expect("json"));
    state.evolve(&city, &policy);
    let decision = |version: u32, project: &str| {
        parse(
            "rating.decision.v1",
            json!({"project_id": project, "policy_version": version, "tree_size": 10, "as_of": "2026-11-24",
                   "required": 0, "required_rule": "p2022_connected", "achieved": 0, "connected": true, "meets": true,
                   "applications": [{"id": "dust_noise", "days": 20, "runs": true}], "evidence_sha256": "ab".repeat(32)}),
        )
    };
    let report = |district: Value| {
        parse(
            "report.annual.v1",
            json!({"year": 2026, "district": district, "tree_size": 10, "policy_version": 1, "as_of": "2026-11-24",
                   "content_sha256": "ab".repeat(32), "html_sha256": "cd".repeat(32), "csv_sha256": "ef".repeat(32)}),
        )
    };
    // (signer role, subject, event) → Ok or the rule broken
    let cases: Vec<(&str, &str, RatingEvent, Result<(), &str>)> = vec![
        ("city_bureau", "宁波市住房和城乡建设局", decision(1, "NB-2020-0001"), Ok(())),
        ("district_bureau", "330212", decision(1, "NB-2020-0001"), Ok(())),
        ("district_bureau", "330203", decision(1, "NB-2020-0001"), Err("rating.decision_signer")),
        ("enterprise", "91330200MA2C00003X", decision(1, "NB-2020-0001"), Err("rating.decision_signer")),
        ("city_bureau", "宁波市住房和城乡建设局", decision(2, "NB-2020-0001"), Err("rating.decision_policy")),
        ("city_bureau", "宁波市住房和城乡建设局", decision(1, "NB-2020-0009"), Err("rating.decision_signer")),
        ("city_bureau", "宁波市住房和城乡建设局", report(Value::Null), Ok(())),
        ("district_bureau", "330212", report(json!("330212")), Ok(())),
        ("district_bureau", "330212", report(json!("330203")), Err("report.signer")),
        ("district_bureau", "330212", report(Value::Null), Err("report.signer")),
    ];
    for (role, subject, event, want) in cases {
        let got = state.decide(&ctx(role, subject, "x"), &registry, &event).map_err(|e| e.rule);
        assert_eq!(
            got.as_ref().map_err(String::as_str),
            want.as_ref().map_err(|s| *s),
            "{role} {subject} {}",
            event.kind()
        );
    }
    // Streams: a decision belongs in its project's rating stream.
    let d = decision(1, "NB-2020-0001");
    assert!(d.check_stream("project/NB-2020-0001/rating").is_ok());
    assert_eq!(d.check_stream("city/rating").expect_err("wrong"), "project/NB-2020-0001/rating");
}

#[test]
fn the_fold_knows_the_programme_attributes_gaps_and_counts_evidence_by_prefix() {
    let rules = credit::proposal_v1();
    let p = policy::notice_2020_72();
    let mut fold = RatingFold::new(Some(rules.clone()));
    let reg = registered("330212", "2020-05-01", "100");
    let enrol =
        json!({"key_id": "k1", "subject": "project/NB-2020-0001/gateway/GW-01"}).as_object().expect("o").clone();
    let programme = json!({"project_id": "NB-2020-0001", "year": 2020, "note": "2020年度宁波市标准化工地创建名单"})
        .as_object()
        .expect("o")
        .clone();
    let gap = json!({"key_id": "k1", "last_seq": 4, "next_seq": 7, "missing": 2, "event_id": "x"})
        .as_object()
        .expect("o")
        .clone();
    let reading = Map::new();
    fold.apply(&rec(0, "e0", "registry/projects", "registry.project.registered.v1", "2020-05-01T08:00:00+08:00", &reg));
    let facts = fold.facts(&siteledger_domain::ProjectId::parse("NB-2020-0001").expect("id")).expect("facts");
    // Small, outside the 中心城区: nothing required in 2020 …
    assert_eq!(required_level(&facts, &p), None);
    fold.apply(&rec(1, "e1", "ledger/keys", "ledger.key.enrolled.v1", "2020-05-01T08:00:00+08:00", &enrol));
    fold.apply(&rec(
        2,
        "e2",
        "project/NB-2020-0001/rating",
        "rating.standard_site.enrolled.v1",
        "2020-05-02T08:00:00+08:00",
        &programme,
    ));
    let id = siteledger_domain::ProjectId::parse("NB-2020-0001").expect("id");
    // … until it joins the 标准化工地 programme: 一星级.
    assert_eq!(
        required_level(&fold.facts(&id).expect("facts"), &p).map(|r| (r.level.get(), r.rule)),
        Some((1, "p2020_standard_site".into()))
    );
    // Readings on two days (one just after midnight Shanghai time, written in UTC) count as two days of env.
    fold.apply(&rec(
        3,
        "e3",
        "project/NB-2020-0001/env/D1",
        "env.dust_noise.reading.v1",
        "2020-06-01T15:59:00Z",
        &reading,
    ));
    fold.apply(&rec(
        4,
        "e4",
        "project/NB-2020-0001/env/D1",
        "env.dust_noise.reading.v1",
        "2020-06-01T16:01:00Z",
        &reading,
    ));
    let ev = fold.evidence(&id, &p);
    let days: Vec<String> =
        ev[&ApplicationId::parse("dust_noise").expect("id")].iter().map(ToString::to_string).collect();
    assert_eq!(days, ["2020-06-01", "2020-06-02"]);
    // A signer gap of the project's gateway is a bad record of its general contractor.
    fold.apply(&rec(5, "e5", "ledger/system", "ledger.signer.gap.v1", "2020-06-03T08:00:00+08:00", &gap));
    let r = fold.credit_records.iter().find(|r| r.mapping == "data_gap").expect("gap record");
    assert_eq!((r.credit_code.clone(), r.points, r.event_id.as_str()), (crate::fixtures::gc(), -2, "e5"));
    assert_eq!(r.effective_until.to_string(), "2021-06-03");
}

#[test]
fn credit_rules_v1_map_the_platforms_supervision_and_crane_records() {
    // The payloads are real ones: each must pass its own kind's schema, so a renamed field or kind breaks this test.
    let rules = credit::proposal_v1();
    let gc = crate::fixtures::gc();
    let project = json!({
        "project_id": "NB-2026-0001", "name": "测试项目", "district": "330212", "central_urban": true,
        "floor_area_m2": "52000", "contract_cost_fen": 30_000_000_000i64, "start_date": "2026-03-01",
        "participants": [
            {"role": "owner", "credit_code": crate::fixtures::owner().as_str()},
            {"role": "general_contractor", "credit_code": gc.as_str()}
        ]
    });
    let finding = |id: &str, level: &str| {
        json!({"project_id": "NB-2026-0001", "inspection_id": "INS-1", "finding_id": id, "level": level,
               "category": "临边防护", "description": "五层临边防护缺失"})
    };
    let cutoff = json!({"project_id": "NB-2026-0001", "device_id": "TC-01", "reason": "力矩超过 100% 自动断电"});
    let records = [
        ("e0", "registry/projects", "registry.project.registered.v1", project),
        ("e1", "project/NB-2026-0001/inspection/INS-1", "inspection.finding.recorded.v1", finding("F-1", "serious")),
        ("e2", "project/NB-2026-0001/inspection/INS-1", "inspection.finding.recorded.v1", finding("F-2", "general")),
        ("e3", "project/NB-2026-0001/inspection/INS-1", "inspection.finding.recorded.v1", finding("F-3", "minor")),
        ("e4", "project/NB-2026-0001/site/TC-01", "crane.cutoff.v1", cutoff),
    ];
    let payloads: Vec<Map<String, Value>> =
        records.iter().map(|(_, _, _, p)| p.as_object().expect("object").clone()).collect();
    for ((_, _, kind, _), p) in records.iter().zip(&payloads) {
        siteledger_domain::validate_payload(kind, p).unwrap_or_else(|e| panic!("{kind}: {e}"));
    }
    let mut fold = RatingFold::new(Some(rules.clone()));
    for (i, ((id, stream, kind, _), p)) in records.iter().zip(&payloads).enumerate() {
        fold.apply(&rec(i as u64, id, stream, kind, "2026-11-01T08:00:00+08:00", p));
    }
    let as_of = LocalDate::parse("2026-11-24").expect("date");
    let scores = credit::score_all(&rules, &fold.credit_records, [&gc], as_of);
    let s = scores.iter().find(|s| s.credit_code == gc).expect("scored");
    let mut cited: Vec<&str> = s.records.iter().map(|r| r.event_id.as_str()).collect();
    cited.sort_unstable();
    // Serious −5, general −2, crane cut-off −3; a minor finding is not a credit record.
    assert_eq!(cited, ["e1", "e2", "e4"]);
    assert_eq!(s.score, rules.base_points - 10);
}

#[test]
fn credit_rules_v1_count_a_published_wage_finding_against_the_general_contractor() {
    // A computed arrears finding is not a credit record; the bureau's signed `wage.finding.recorded.v1` is. The
    // payloads pass their kinds' schemas, so a renamed field, kind or rule token breaks this test.
    let rules = credit::proposal_v1();
    let gc = crate::fixtures::gc();
    let project = json!({
        "project_id": "NB-2026-0001", "name": "测试项目", "district": "330212", "central_urban": true,
        "floor_area_m2": "52000", "contract_cost_fen": 30_000_000_000i64, "start_date": "2026-03-01",
        "participants": [
            {"role": "owner", "credit_code": crate::fixtures::owner().as_str()},
            {"role": "general_contractor", "credit_code": gc.as_str()}
        ]
    });
    let person = format!("P-{:032x}", 7);
    let published = |rule: &str| {
        json!({"project_id": "NB-2026-0001", "finding_id": format!("{rule}:2026-09:{person}"), "rule": rule,
               "month": "2026-09", "summary": "2026-09 有考勤，发薪日已过，未见工资转账", "evidence": ["ev-1"]})
    };
    let stream = "project/NB-2026-0001/wage/findings";
    let records = [
        ("e0", "registry/projects", "registry.project.registered.v1", project),
        ("e1", stream, "wage.finding.recorded.v1", published("arrears_suspected")),
        ("e2", stream, "wage.finding.recorded.v1", published("underpayment")),
        ("e3", stream, "wage.finding.recorded.v1", published("days_mismatch")),
    ];
    let payloads: Vec<Map<String, Value>> =
        records.iter().map(|(_, _, _, p)| p.as_object().expect("object").clone()).collect();
    for ((_, stream, kind, _), p) in records.iter().zip(&payloads) {
        siteledger_domain::validate_envelope(kind, stream, p).unwrap_or_else(|e| panic!("{kind}: {e}"));
    }
    let mut fold = RatingFold::new(Some(rules.clone()));
    for (i, ((id, stream, kind, _), p)) in records.iter().zip(&payloads).enumerate() {
        fold.apply(&rec(i as u64, id, stream, kind, "2026-11-01T08:00:00+08:00", p));
    }
    let as_of = LocalDate::parse("2026-11-24").expect("date");
    let scores = credit::score_all(&rules, &fold.credit_records, [&gc], as_of);
    let s = scores.iter().find(|s| s.credit_code == gc).expect("scored");
    let mut cited: Vec<&str> = s.records.iter().map(|r| r.event_id.as_str()).collect();
    cited.sort_unstable();
    // Arrears −10, underpayment −5; a days mismatch is an anomaly, not a credit record.
    assert_eq!(cited, ["e1", "e2"]);
    assert_eq!(s.score, rules.base_points - 15);
}

// ---- Measured camera online time (issue 19, policy version 2) ----

const CAM_A: &str = "33021200001320000001";
const CAM_B: &str = "33021200001320000002";

/// Minutes offline at the start of each day, cycled over the days: whole days online (1000 ‰), 6 of 24 h offline
/// (750 ‰), offline all day but reporting every 30 min (0 ‰), 4 h 48 min offline (800 ‰, the threshold exactly)
/// and 5 h offline (791 ‰).
const OFFLINE_MINUTES: [u32; 5] = [0, 360, 1440, 288, 300];

/// A day's expected share of camera A, ‰.
fn share_of(offline_min: u32) -> u64 {
    u64::from(1440 - offline_min) * 1000 / 1440
}

/// `(occurred_at, camera, status)` of camera A's reports over `days` days from 2026-03-01: every 30 minutes, plus
/// one at the minute it came back; offline before it, online after it.
fn camera_reports(days: u32) -> Vec<(String, &'static str, &'static str)> {
    let start = time::macros::datetime!(2026-03-01 00:00 +08:00);
    let mut out = Vec::new();
    for d in 0..days {
        let off = OFFLINE_MINUTES[d as usize % OFFLINE_MINUTES.len()];
        let mut minutes: Vec<u32> = (0..48).map(|i| i * 30).collect();
        if off > 0 && off < 1440 && !off.is_multiple_of(30) {
            minutes.push(off);
            minutes.sort_unstable();
        }
        for m in minutes {
            let t = start + time::Duration::days(i64::from(d)) + time::Duration::minutes(i64::from(m));
            let at = siteledger_domain::time::shanghai_rfc3339(t);
            out.push((at, CAM_A, if m < off { "offline" } else { "online" }));
        }
    }
    out
}

fn status(camera: &str, s: &str) -> Map<String, Value> {
    json!({"project_id": "NB-2020-0001", "device_id": camera, "status": s}).as_object().expect("o").clone()
}

/// Folds the registration and `reports` into `fold`, from position `from` of the whole sequence.
fn fold_cameras(fold: &mut RatingFold, reports: &[(String, &str, &str)], range: std::ops::Range<usize>) {
    let reg = registered("330212", "2026-02-01", "100");
    for i in range {
        if i == 0 {
            fold.apply(&rec(
                0,
                "e0",
                "registry/projects",
                "registry.project.registered.v1",
                "2026-02-01T08:00:00+08:00",
                &reg,
            ));
            continue;
        }
        let (at, cam, s) = &reports[i - 1];
        let p = status(cam, s);
        let id = format!("e{i}");
        let stream = format!("project/NB-2020-0001/video/{cam}");
        fold.apply(&rec(i as u64, &id, &stream, "video.camera.status.v1", at, &p));
    }
}

fn video_days(fold: &RatingFold, p: &policy::RatingPolicy) -> Vec<String> {
    let id = siteledger_domain::ProjectId::parse("NB-2020-0001").expect("id");
    fold.evidence(&id, p)[&ApplicationId::parse("video").expect("id")].iter().map(ToString::to_string).collect()
}

fn days_where(days: u32, keep: impl Fn(u64) -> bool) -> Vec<String> {
    (0..days)
        .filter(|d| keep(share_of(OFFLINE_MINUTES[*d as usize % OFFLINE_MINUTES.len()])))
        .map(|d| {
            let day = time::macros::date!(2026 - 03 - 01) + time::Duration::days(i64::from(d));
            LocalDate::try_from(day).expect("date").to_string()
        })
        .collect()
}

#[test]
fn policy_v2_counts_a_video_day_only_when_the_cameras_reach_the_online_share() {
    let reports = camera_reports(30);
    let mut fold = RatingFold::new(None);
    fold_cameras(&mut fold, &reports, 0..reports.len() + 1);
    let id = siteledger_domain::ProjectId::parse("NB-2020-0001").expect("id");

    // The measure is the site pages' (domain::site::uptime): 6 of 24 h offline is 18 h online of 24 h known.
    let online = fold.camera_online(&id);
    let day = |s: &str| online[&LocalDate::parse(s).expect("date")];
    assert_eq!((day("2026-03-02").online_us, day("2026-03-02").known_us), (18 * 3_600_000_000, 24 * 3_600_000_000));
    assert_eq!(day("2026-03-02").permille(), Some(750));
    assert_eq!((day("2026-03-03").online_us, day("2026-03-03").permille()), (0, Some(0)), "offline but reporting");
    assert_eq!(day("2026-03-04").permille(), Some(800));
    assert_eq!(day("2026-03-05").permille(), Some(791));
    // The prefix ends at the last report (23:30 on the 30th): the last day is known for 23.5 h, not 24.
    assert_eq!(day("2026-03-30").known_us, 47 * 1_800_000_000);

    // Version 1: any video record makes the day count — all 30, offline days too.
    let v1 = policy::notice_2020_72();
    assert_eq!(video_days(&fold, &v1).len(), 30);
    // Version 2 (800 ‰): exactly the days at or above it; 12 of 30, so 远程视频监控 no longer runs.
    let v2 = policy::notice_2020_72_v2();
    let want = days_where(30, |s| s >= 800);
    assert_eq!(want.len(), 12);
    assert_eq!(video_days(&fold, &v2), want);
    let as_of = LocalDate::parse("2026-03-30").expect("date");
    let video = |p: &policy::RatingPolicy| {
        let a = achieved_level(&fold.evidence(&id, p), p, as_of);
        let v = a.applications.iter().find(|a| a.id.as_str() == "video").expect("video").clone();
        (v.days, v.runs)
    };
    assert_eq!(video(&v1), (30, true));
    assert_eq!(video(&v2), (12, false));
    // The threshold is data: at 750 ‰ the 6-hour days count too (inclusive), the all-offline ones never.
    let mut v750 = v2.clone();
    v750.applications
        .iter_mut()
        .filter(|a| a.id.as_str() == "video")
        .for_each(|a| a.min_camera_online_permille = Some(750));
    assert_eq!(video_days(&fold, &v750), days_where(30, |s| s >= 750));
    assert_eq!(video(&v750), (24, true));
}

#[test]
fn a_camera_that_falls_silent_counts_offline_while_the_project_keeps_reporting() {
    // Camera A reports all day online; camera B reports online at 00:00 and then never again: once its silence
    // exceeds the interval (1 h 5 min) the whole of it counts offline, credited up to A's latest report (23:30),
    // as the site page shows it when asked then. The project's share is Σ online / Σ known.
    let mut reports: Vec<(String, &str, &str)> =
        camera_reports(1).into_iter().map(|(t, _, _)| (t, CAM_A, "online")).collect();
    reports.insert(1, ("2026-03-01T00:00:00+08:00".into(), CAM_B, "online"));
    let mut fold = RatingFold::new(None);
    fold_cameras(&mut fold, &reports, 0..reports.len() + 1);
    let id = siteledger_domain::ProjectId::parse("NB-2020-0001").expect("id");
    let d = fold.camera_online(&id)[&LocalDate::parse("2026-03-01").expect("date")];
    let a_known = 47 * 1_800_000_000i64;
    assert_eq!((d.online_us, d.known_us), (a_known, 2 * a_known), "A online 23.5 h, B offline 23.5 h");
    assert_eq!(d.permille(), Some(500));
}

#[test]
fn the_fold_resumed_from_its_serialised_state_is_byte_identical() {
    let reports = camera_reports(12);
    let n = reports.len() + 1;
    let mut whole = RatingFold::new(None);
    fold_cameras(&mut whole, &reports, 0..n);
    let whole_bytes = serde_json::to_vec(&whole).expect("state");
    let v2 = policy::notice_2020_72_v2();
    for cut in (1..n).step_by(37).chain([n - 1, 49, 50]) {
        let mut first = RatingFold::new(None);
        fold_cameras(&mut first, &reports, 0..cut);
        let snapshot = serde_json::to_vec(&first).expect("state");
        let mut resumed: RatingFold = serde_json::from_slice(&snapshot).expect("restore");
        fold_cameras(&mut resumed, &reports, cut..n);
        assert_eq!(serde_json::to_vec(&resumed).expect("state"), whole_bytes, "cut at {cut}");
        assert_eq!(video_days(&resumed, &v2), video_days(&whole, &v2), "cut at {cut}");
    }
    // Bounded by cameras and days, not by records: one latest report per camera, one total per day.
    let id = siteledger_domain::ProjectId::parse("NB-2020-0001").expect("id");
    let cams = &whole.projects[&id].cameras;
    assert_eq!((cams.latest.len(), cams.days.len()), (1, 12));
    // A report signed before the camera's latest one is ignored, and counted.
    let mut late = whole.clone();
    let p = status(CAM_A, "offline");
    late.apply(&rec(
        n as u64,
        "late",
        "project/NB-2020-0001/video/x",
        "video.camera.status.v1",
        "2026-03-02T10:00:00+08:00",
        &p,
    ));
    assert_eq!(late.projects[&id].cameras.days, cams.days);
    assert_eq!(late.projects[&id].cameras.late_reports, 1);
}

#[test]
fn the_online_rule_is_an_optional_member_version_1_documents_do_not_carry() {
    let v1 = serde_json::to_value(policy::notice_2020_72()).expect("json");
    assert!(!v1.to_string().contains("min_camera_online_permille"), "version 1 keeps its bytes");
    let v2 = serde_json::to_value(policy::notice_2020_72_v2()).expect("json");
    let RatingEvent::Policy(parsed) = parse("rating.policy.v1", v2.clone()) else { panic!("a policy") };
    assert_eq!(parsed, policy::notice_2020_72_v2());
    policy::check_policy(&parsed).expect("coherent");
    let video = parsed.applications.iter().find(|a| a.id.as_str() == "video").expect("video");
    assert_eq!(video.min_camera_online_permille, Some(800));
    // Out of range, or on an application that never counts camera status records: refused, saying why.
    for (app, value, words) in
        [("video", 0, "1–1000"), ("video", 1001, "1–1000"), ("realname", 800, "video.camera.status.v1")]
    {
        let mut p = policy::notice_2020_72_v2();
        p.applications
            .iter_mut()
            .filter(|a| a.id.as_str() == app)
            .for_each(|a| a.min_camera_online_permille = Some(value));
        let err = policy::check_policy(&p).expect_err("incoherent");
        assert!(err.contains(app) && err.contains(words), "{err}");
    }
    // Not a number: the schema names the member.
    let mut bad = v2;
    bad["applications"][0]["min_camera_online_permille"] = json!("800");
    let err = siteledger_domain::DomainEvent::parse("rating.policy.v1", bad.as_object().expect("o")).expect_err("bad");
    assert!(err.to_string().contains("min_camera_online_permille"), "{err}");
}
