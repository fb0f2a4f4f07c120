//! A small signed city for API tests: three enterprises, three projects in two districts, two site gateways
//! ([`build`]); and a city with data in every area for the access matrix ([`build_city`]).

use serde_json::json;
use siteledger_client::{KeyedChain, MemoryChain};
use siteledger_signer::{Envelope, SigningKey};

use crate::helpers::{TestApp, enrollment, new_id, obj};

pub const YINZHOU: &str = "330212";
pub const HAISHU: &str = "330203";

/// Valid GB 32100 credit codes (check characters computed).
pub fn credit_code(body17: &str) -> String {
    const CHARS: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
    const W: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
    let sum: u32 = body17.chars().zip(W).map(|(c, w)| CHARS.find(c).expect("charset") as u32 * w).sum();
    let check = (31 - sum % 31) % 31;
    format!("{body17}{}", CHARS.chars().nth(check as usize).expect("char"))
}

pub struct World {
    pub owner_a: String,
    pub contractor_b: String,
    pub contractor_c: String,
    pub gw1: KeyedChain,
    pub gw2: KeyedChain,
}

pub async fn build(app: &mut TestApp) -> World {
    let a = credit_code("91330200MA2AAAAA0");
    let b = credit_code("91330200MA2BBBBB0");
    let c = credit_code("91330200MA2CCCCC0");
    let mut envs: Vec<Envelope> = vec![app.root_enrollment()];
    let reg = |city: &mut KeyedChain, kind: &str, payload: serde_json::Value| {
        city.sign(new_id(), "registry/orgs", kind, "2026-01-05T09:00:00+08:00", obj(payload)).expect("sign")
    };
    for (code, name, types) in [
        (&a, "宁波甬城置业有限公司", json!(["owner"])),
        (&b, "浙江甬建建设集团有限公司", json!(["construction"])),
        (&c, "宁波海曙建工有限公司", json!(["construction"])),
    ] {
        envs.push(reg(
            &mut app.city,
            "registry.enterprise.registered.v1",
            json!({"credit_code": code, "name": name, "types": types}),
        ));
    }
    let project = |id: &str, name: &str, district: &str, owner: &str, gc: &str| {
        json!({
            "project_id": id, "name": name, "district": district, "central_urban": true,
            "floor_area_m2": "52000.00", "contract_cost_fen": 18_000_000_000_i64, "start_date": "2026-03-01",
            "participants": [{"role": "owner", "credit_code": owner}, {"role": "general_contractor", "credit_code": gc}],
        })
    };
    envs.push(reg(
        &mut app.city,
        "registry.project.registered.v1",
        project("NB-2026-0001", "鄞州中心区安置房一期", YINZHOU, &a, &b),
    ));
    envs.push(reg(
        &mut app.city,
        "registry.project.registered.v1",
        project("NB-2026-0002", "海曙西门商业综合体", HAISHU, &a, &c),
    ));
    envs.push(reg(
        &mut app.city,
        "registry.project.registered.v1",
        project("NB-2026-0003", "鄞州南部新城学校", YINZHOU, &a, &c),
    ));
    let gw1 = KeyedChain::new(SigningKey::from_seed(&[0x61; 32]));
    let gw2 = KeyedChain::new(SigningKey::from_seed(&[0x62; 32]));
    for (gw, subject) in [(&gw1, "project/NB-2026-0001/gateway/GW-1"), (&gw2, "project/NB-2026-0002/gateway/GW-1")] {
        let pk = *gw.key().public();
        envs.push(
            app.city
                .sign(
                    new_id(),
                    "registry/keys",
                    "ledger.key.enrolled.v1",
                    "2026-01-06T09:00:00+08:00",
                    enrollment(&pk, subject, "gateway"),
                )
                .expect("sign"),
        );
    }
    app.ingest_ok(&envs).await;
    World { owner_a: a, contractor_b: b, contractor_c: c, gw1, gw2 }
}

pub fn reading(gw: &mut KeyedChain, project: &str, n: u64) -> Envelope {
    let at = format!("2026-03-02T{:02}:{:02}:00+08:00", 8 + n / 60 % 12, n % 60);
    gw.sign(
        new_id(),
        &format!("project/{project}/device/DUST-1"),
        "env.dust_noise.reading.v1",
        &at,
        obj(json!({"project_id": project, "device_id": "DUST-1", "pm10_ug_m3": format!("{}.5", 40 + n % 60), "pm25_ug_m3": "30.1", "noise_db_a": "61.2"})),
    )
    .expect("sign")
}

pub fn alarm(gw: &mut KeyedChain, project: &str, n: u64) -> Envelope {
    gw.sign(
        new_id(),
        &format!("project/{project}/alarms"),
        "alarm.raised.v1",
        "2026-03-02T10:00:00+08:00",
        obj(json!({"project_id": project, "alarm_id": format!("A-{n}"), "source": "DUST-1", "category": "dust", "level": "warning", "message": "PM10 超过预警值", "value": "95.0", "threshold": "80.0"})),
    )
    .expect("sign")
}

// ---------------------------------------------------------------------------------------------------------------
// A city with data in every area, for the access matrix (`access_matrix.rs`).

/// 鄞州 project of contractor C1 (owner O1): the subject of every path parameter in the access matrix.
pub const P1: &str = "NB-2026-0101";
/// 海曙 project of contractor C2 (owner O2).
pub const P2: &str = "NB-2026-0202";
/// 鄞州 project of contractor C2 (owner O1): C2 works in both districts.
pub const P3: &str = "NB-2026-0103";

/// A synthetic, checksum-valid resident ID number (宁波鄞州 330212), born in the 1980s.
pub fn id_number(i: usize) -> String {
    let first17 = format!("330212{:04}{:02}{:02}{:03}", 1980 + i % 10, 1 + i % 12, 1 + i % 28, 300 + i % 600);
    let check = siteledger_domain::IdNumber::check_character(&first17).expect("17 digits");
    format!("{first17}{check}")
}

/// A 19-digit UnionPay-style bank card number.
pub fn card_number(i: usize) -> String {
    format!("6217001{:012}", 730_000 + i)
}

/// Everything the access matrix needs to name: ids of every kind, with their scopes.
pub struct City {
    /// 施工总承包 of P1 only ("enterprise own").
    pub c1: String,
    /// 施工总承包 of P2 (海曙) and P3 (鄞州) ("enterprise other").
    pub c2: String,
    /// P1's site gateway (the gateway role's key).
    pub gw1: KeyedChain,
    /// Project id → name.
    pub names: Vec<(&'static str, &'static str)>,
    /// A record of P1 (a dust reading).
    pub p1_event: String,
    /// A person of P1 taken into the vault by C1.
    pub p1_person: String,
    /// Every ID number and card number the city's people have.
    pub id_numbers: Vec<String>,
    /// Card numbers.
    pub card_numbers: Vec<String>,
    /// Position of the last record: a signer-gap notice in a `ledger/` stream, which every scope sees.
    pub sentinel: u64,
    /// SHA-256 of [`REPORT_PDF`], uploaded by the lab and cited by P1's test report (`report_sha256`).
    pub report_pdf: String,
}

/// The test report PDF the laboratory issues on P1 (an attachment, `POST /v1/blobs`).
pub const REPORT_PDF: &[u8] = b"%PDF-1.4\n% test report YP-1 (C35, 28d)\n1 0 obj << /Type /Catalog >> endobj\n\
    trailer << /Root 1 0 R >>\n%%EOF\n";

/// Uploads `bytes` as an attachment with `token`; returns the answer's status and JSON.
pub async fn upload(app: &TestApp, token: &str, query: &str, bytes: &[u8]) -> (u16, serde_json::Value) {
    let r = app
        .client
        .post(app.url(&format!("/v1/blobs{query}")))
        .bearer_auth(token)
        .header(reqwest::header::CONTENT_TYPE, "application/pdf")
        .body(bytes.to_vec())
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or_default())
}

fn sign(s: &mut KeyedChain, stream: &str, kind: &str, at: &str, payload: serde_json::Value) -> Envelope {
    s.sign(new_id(), stream, kind, at, obj(payload)).unwrap_or_else(|e| panic!("sign {kind}: {e}"))
}

/// An RFC 3339 time `days` days before now, in Asia/Shanghai (records that must count "today").
pub fn days_ago(days: i64) -> String {
    (time::OffsetDateTime::now_utc() - time::Duration::days(days))
        .to_offset(siteledger_domain::time::SHANGHAI)
        .replace_nanosecond(0)
        .expect("ns")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("time")
}

/// A person in the vault and what the signed records carry of them.
pub struct Person {
    /// Reference.
    pub person_ref: String,
    id_commitment: String,
    id_masked: String,
    birth_month: String,
    card_commitment: String,
    card_masked: String,
}

/// Takes a person into the vault through the API, as enterprise `token`, with one card.
pub async fn intake(app: &TestApp, token: &str, i: usize) -> Person {
    let r = app
        .client
        .post(app.url("/v1/workforce/people"))
        .bearer_auth(token)
        .json(&json!({"id_type": "01", "id_number": id_number(i), "name": format!("工人{i}"), "phone": "13900000000"}))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200, "intake: {}", r.text().await.unwrap_or_default());
    let p: serde_json::Value = r.json().await.expect("json");
    let person_ref = p["person_ref"].as_str().expect("ref").to_owned();
    let r = app
        .client
        .post(app.url(&format!("/v1/workforce/people/{person_ref}/cards")))
        .bearer_auth(token)
        .json(&json!({"card_number": card_number(i)}))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200, "card: {}", r.text().await.unwrap_or_default());
    let c: serde_json::Value = r.json().await.expect("json");
    let s = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap_or_else(|| panic!("{k} in {v}")).to_owned();
    Person {
        id_commitment: s(&p, "id_commitment"),
        id_masked: s(&p, "id_masked"),
        birth_month: s(&p, "birth_month"),
        card_commitment: s(&c, "card_commitment"),
        card_masked: s(&c, "card_masked"),
        person_ref,
    }
}

/// Builds the city: two districts, six enterprises, three projects; site readings, alarms, HJ 212 data and a crane
/// sample; inspections, findings, rectification notices, stop-work orders, hazardous works, BIM nodes, testing
/// with an unqualified report, tasks; workers through the vault with attendance, payroll and a missing transfer;
/// rating policy, credit rules, signed decisions and reports. Ends with a signer-gap notice (see [`City::sentinel`]).
/// The read models may still be catching up when it returns.
pub async fn build_city(app: &mut TestApp) -> City {
    let code = |body: &str| credit_code(body);
    let (o1, o2, c1, c2, lab, sup) = (
        code("91330200MA2DDDDD0"),
        code("91330200MA2EEEEE0"),
        code("91330200MA2FFFFF0"),
        code("91330200MA2GGGGG0"),
        code("91330200MA2HHHHH0"),
        code("91330200MA2JJJJJ0"),
    );
    let names = vec![(P1, "鄞州东部新城安置房三期"), (P2, "海曙望春工业园厂房"), (P3, "鄞州姜山中学迁建")];
    let mut gw1 = KeyedChain::new(SigningKey::from_seed(&[0x81; 32]));
    let mut gw2 = KeyedChain::new(SigningKey::from_seed(&[0x82; 32]));
    let mut gw3 = KeyedChain::new(SigningKey::from_seed(&[0x83; 32]));
    let mut k_c1 = KeyedChain::new(SigningKey::from_seed(&[0x91; 32]));
    let mut k_c2 = KeyedChain::new(SigningKey::from_seed(&[0x92; 32]));
    let mut k_o1 = KeyedChain::new(SigningKey::from_seed(&[0x93; 32]));
    let mut k_lab = KeyedChain::new(SigningKey::from_seed(&[0x95; 32]));
    // Registry and keys.
    let mut envs: Vec<Envelope> = vec![app.root_enrollment()];
    let city = &mut app.city;
    let reg = "registry/orgs";
    let at = "2026-01-05T09:00:00+08:00";
    for (c, name, types) in [
        (&o1, "宁波东城置业有限公司", json!(["owner"])),
        (&o2, "宁波望春投资有限公司", json!(["owner"])),
        (&c1, "宁波东钱湖建设有限公司", json!(["construction"])),
        (&c2, "浙江四明建工集团有限公司", json!(["construction"])),
        (&lab, "宁波甬正工程检测有限公司", json!(["testing_lab"])),
        (&sup, "宁波诚信工程监理有限公司", json!(["supervision"])),
    ] {
        envs.push(sign(
            city,
            reg,
            "registry.enterprise.registered.v1",
            at,
            json!({"credit_code": c, "name": name, "types": types}),
        ));
    }
    for (id, name, district, owner, gc) in
        [(P1, names[0].1, YINZHOU, &o1, &c1), (P2, names[1].1, HAISHU, &o2, &c2), (P3, names[2].1, YINZHOU, &o1, &c2)]
    {
        envs.push(sign(city, reg, "registry.project.registered.v1", at, json!({
            "project_id": id, "name": name, "district": district, "central_urban": true,
            "floor_area_m2": "52000.00", "contract_cost_fen": 18_000_000_000_i64, "start_date": "2026-03-01",
            "participants": [{"role": "owner", "credit_code": owner}, {"role": "general_contractor", "credit_code": gc},
                             {"role": "supervisor", "credit_code": sup}],
        })));
    }
    let at = "2026-01-06T09:00:00+08:00";
    for (k, subject, role) in [
        (&gw1, format!("project/{P1}/gateway/GW-1"), "gateway"),
        (&gw2, format!("project/{P2}/gateway/GW-1"), "gateway"),
        (&gw3, format!("project/{P3}/gateway/GW-1"), "gateway"),
        (&k_c1, c1.clone(), "enterprise"),
        (&k_c2, c2.clone(), "enterprise"),
        (&k_o1, o1.clone(), "enterprise"),
        (&k_lab, lab.clone(), "testing_lab"),
    ] {
        let pk = *k.key().public();
        envs.push(sign(
            city,
            "registry/keys",
            "ledger.key.enrolled.v1",
            at,
            serde_json::Value::Object(enrollment(&pk, &subject, role)),
        ));
    }
    let policy = serde_json::to_value(siteledger_domain::rating::policy::notice_2020_72()).expect("json");
    let rules = serde_json::to_value(siteledger_domain::rating::credit::proposal_v1()).expect("json");
    envs.push(sign(city, "city/policy/rating", "rating.policy.v1", "2026-01-02T09:00:00+08:00", policy));
    envs.push(sign(city, "city/policy/credit", "credit.rules.v1", "2026-01-02T09:00:00+08:00", rules));
    app.ingest_ok(&envs).await;

    // Site: five days of dust readings, a recent violation alarm (a credit record today), night noise over HJ 212.
    let mut envs = Vec::new();
    let mut p1_event = String::new();
    for (gw, p) in [(&mut gw1, P1), (&mut gw2, P2), (&mut gw3, P3)] {
        for d in 2..7 {
            let at = format!("2026-03-{d:02}T10:00:00+08:00");
            let e = sign(
                gw,
                &format!("project/{p}/env/DUST-1"),
                "env.dust_noise.reading.v1",
                &at,
                json!({"project_id": p, "device_id": "DUST-1", "pm10_ug_m3": "61.5", "pm25_ug_m3": "30.1", "noise_db_a": "58.0"}),
            );
            if p == P1 && p1_event.is_empty() {
                p1_event = e.id().to_string();
            }
            envs.push(e);
        }
        envs.push(sign(gw, &format!("project/{p}/alarms"), "alarm.raised.v1", &days_ago(2),
            json!({"project_id": p, "alarm_id": format!("V-{p}"), "source": "DUST-1", "category": "dust", "level": "violation",
                   "message": "PM10 超过限值", "value": "180.0", "threshold": "150.0"})));
        envs.push(sign(
            gw,
            &format!("project/{p}/site/DUST-1"),
            "env.hj212.data.v1",
            "2026-03-02T22:20:00+08:00",
            json!({"project_id": p, "device_id": "DUST-1", "mn": "010000A8900016F000169DC0", "st": "39", "cn": "2011",
                   "data_time": "2026-03-02T22:20:00+08:00", "deviations": ["missing_qn"],
                   "items": [{"code": "LA", "unit": "dB(A)", "rtd": "55.1", "flag": "N"}]}),
        ));
        envs.push(sign(gw, &format!("project/{p}/site/TC-01"), "crane.sample.v1", "2026-03-02T09:00:00+08:00",
            json!({"project_id": p, "device_id": "TC-01", "sampled_at": "2026-03-02T09:00:00+08:00", "load_t": "0",
                   "moment_pct": "100", "height_m": "40", "radius_m": "30", "slew_deg": "10", "wind_m_s": "12", "tilt_deg": "0.1"})));
    }
    app.ingest_ok(&envs).await;

    // Supervision: the bureau's inspections, findings, notices, stop-work orders and tasks; the contractors'
    // hazardous works and BIM nodes; the owner's testing commission and the lab's unqualified report.
    let mut envs = Vec::new();
    let city = &mut app.city;
    for (i, (p, district, gc)) in [(P1, YINZHOU, &c1), (P2, HAISHU, &c2), (P3, YINZHOU, &c2)].into_iter().enumerate() {
        let k_gc = if p == P1 { &mut k_c1 } else { &mut k_c2 };
        let s = format!("project/{p}/supervision");
        let at = "2026-03-10T09:00:00+08:00";
        envs.push(sign(
            city,
            &s,
            "inspection.inspection.recorded.v1",
            at,
            json!({
            "project_id": p, "inspection_id": format!("JC-{i}"), "inspection_kind": "safety", "inspector": "王建国",
            "scope": "主体结构", "inspected_party": gc}),
        ));
        envs.push(sign(
            city,
            &s,
            "inspection.finding.recorded.v1",
            at,
            json!({
            "project_id": p, "inspection_id": format!("JC-{i}"), "finding_id": format!("F-{i}"), "level": "serious",
            "category": "临边防护", "description": "未设防护栏杆"}),
        ));
        envs.push(sign(
            city,
            &s,
            "inspection.rectification.noticed.v1",
            at,
            json!({
            "project_id": p, "finding_id": format!("F-{i}"), "notice_id": format!("ZG-{i}"),
            "deadline": "2026-03-13T17:00:00+08:00", "responsible": gc, "requirement": "限期整改"}),
        ));
        envs.push(sign(
            city,
            &s,
            "inspection.stop_work.ordered.v1",
            "2026-03-11T09:00:00+08:00",
            json!({
            "project_id": p, "order_id": format!("TG-{i}"), "inspection_id": format!("JC-{i}"),
            "reason": "临边防护严重缺失", "scope": "5层及以上主体结构施工"}),
        ));
        envs.push(sign(city, &format!("project/{p}/tasks"), "task.dispatched.v1", "2026-03-12T09:00:00+08:00", json!({
            "task_id": format!("RW-{p}"), "district": district, "project_id": p, "source_kind": "finding",
            "source_event_id": format!("F-{i}"), "title": "临边防护整改督办", "assignee_kind": "enterprise", "assignee": gc,
            "level": "project", "sla_hours": 48})));
        envs.push(sign(
            k_gc,
            &s,
            "hazard.work.listed.v1",
            "2026-03-08T09:00:00+08:00",
            json!({
            "project_id": p, "work_id": "WD-01", "name": "1#楼深基坑开挖及支护", "category": "excavation",
            "parameters": {"depth_m": "6.5"}}),
        ));
        envs.push(sign(
            k_gc,
            &s,
            "bim.model.registered.v1",
            "2026-03-08T09:00:00+08:00",
            json!({
            "project_id": p, "model_id": "STRU", "version": 1,
            "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "format": "ifc",
            "file_name": format!("{p}-结构-v1.ifc")}),
        ));
        envs.push(sign(
            k_gc,
            &s,
            "bim.node.planned.v1",
            "2026-03-08T09:10:00+08:00",
            json!({
            "project_id": p, "node_id": "JD-01", "name": "基础及地下室结构", "model_id": "STRU",
            "element_ids": ["2xA$JD-01"], "planned_start": "2026-03-01", "planned_finish": "2026-03-31"}),
        ));
    }
    // Testing on P1: commissioned and sampled by the owner, received and reported unqualified by the lab, whose
    // report cites its PDF, uploaded first by the lab's own token.
    let lab_token = app.token(siteledger_api::auth::Role::Enterprise, Some(&lab)).await;
    let (status, stored) = upload(app, &lab_token, "", REPORT_PDF).await;
    assert!(status == 201 || status == 200, "upload: {status} {stored}");
    let report_pdf = stored["sha256"].as_str().expect("sha256").to_owned();
    let s1 = format!("project/{P1}/supervision");
    envs.push(sign(
        &mut k_o1,
        &s1,
        "testing.commissioned.v1",
        "2026-03-09T09:00:00+08:00",
        json!({
        "project_id": P1, "commission_id": "C-01", "lab": lab, "item": "混凝土抗压强度(C35)", "structural": true}),
    ));
    envs.push(sign(&mut k_o1, &s1, "testing.sample.taken.v1", "2026-03-09T09:10:00+08:00", json!({
        "project_id": P1, "commission_id": "C-01", "sample_id": "YP-1", "seal_id": "FZ-1-01", "witness": "见证员 何丽萍",
        "sampler": "取样员 吴海军"})));
    envs.push(sign(
        &mut k_lab,
        &s1,
        "testing.sample.received.v1",
        "2026-03-09T15:00:00+08:00",
        json!({
        "project_id": P1, "sample_id": "YP-1", "seal_id": "FZ-1-01", "seal_intact": true, "condition": "封志完好"}),
    ));
    envs.push(sign(
        &mut k_lab,
        &s1,
        "testing.report.issued.v1",
        "2026-03-10T15:00:00+08:00",
        json!({
        "project_id": P1, "sample_id": "YP-1", "report_year": 2026, "report_seq": 101, "tester": "检测员 陈志远",
        "reviewer": "审核 林美华", "approver": "授权签字人 沈国强", "result": "unqualified",
        "summary": "28d抗压强度代表值 29.6 MPa，低于设计强度等级 C35", "report_sha256": report_pdf}),
    ));
    app.ingest_ok(&envs).await;

    // Workforce: two workers each on P1 (C1's) and P2 (C2's), through the vault; attendance, payroll, one
    // transfer missing (an arrears finding).
    let t1 = app.token(siteledger_api::auth::Role::Enterprise, Some(&c1)).await;
    let t2 = app.token(siteledger_api::auth::Role::Enterprise, Some(&c2)).await;
    let mut people = Vec::new();
    for (i, token) in [(0, &t1), (1, &t1), (2, &t2), (3, &t2)] {
        people.push(intake(app, token, i).await);
    }
    let p1_person = people[0].person_ref.clone();
    let mut envs = Vec::new();
    for (p, gc, k_gc, gw, persons) in
        [(P1, &c1, &mut k_c1, &mut gw1, &people[0..2]), (P2, &c2, &mut k_c2, &mut gw2, &people[2..4])]
    {
        let wf = format!("project/{p}/workforce");
        let wage = format!("project/{p}/wage");
        envs.push(sign(
            k_gc,
            &wf,
            "worker.team.formed.v1",
            "2026-03-20T09:00:00+08:00",
            json!({"project_id": p, "team_id": "T-01", "name": "钢筋班组", "employer": gc}),
        ));
        envs.push(sign(k_gc, &wage, "wage.account.opened.v1", "2026-03-25T09:00:00+08:00",
            json!({"project_id": p, "opened_by": gc, "bank_name": "中国建设银行宁波分行", "account_masked": "3310 **** **** 0088", "pay_day": 15})));
        for x in persons {
            let r = &x.person_ref;
            envs.push(sign(k_gc, &wf, "worker.registered.v1", "2026-03-28T09:00:00+08:00", json!({
                "project_id": p, "person_ref": r, "id_type": "01", "id_commitment": x.id_commitment, "id_masked": x.id_masked,
                "birth_month": x.birth_month, "employer": gc, "team_id": "T-01", "trade": "020", "work_role": "20"})));
            envs.push(sign(
                k_gc,
                &wf,
                "worker.card.registered.v1",
                "2026-03-28T09:10:00+08:00",
                json!({
                "project_id": p, "person_ref": r, "card_commitment": x.card_commitment, "card_masked": x.card_masked,
                "bank_name": "中国建设银行"}),
            ));
            envs.push(sign(
                k_gc,
                &wf,
                "worker.contract.signed.v1",
                "2026-03-28T09:20:00+08:00",
                json!({
                "project_id": p, "person_ref": r, "contract_id": format!("HT-{}", &r[2..10]), "employer": gc,
                "period_type": "1", "start_date": "2026-03-28"}),
            ));
            envs.push(sign(
                k_gc,
                &wf,
                "worker.entered.v1",
                "2026-04-01T07:00:00+08:00",
                json!({"project_id": p, "person_ref": r, "date": "2026-04-01"}),
            ));
        }
        for d in 1..=2 {
            for x in persons {
                envs.push(sign(gw, &format!("{wf}/gate"), "worker.passage.v1", &format!("2026-04-{d:02}T07:30:00+08:00"),
                    json!({"project_id": p, "person_ref": x.person_ref, "gate": "GATE-1", "direction": "in", "method": "face"})));
            }
        }
        let lines: Vec<serde_json::Value> = persons
            .iter()
            .map(|x| {
                json!({"person_ref": x.person_ref, "days": 2, "hours": 16, "payable_fen": 80_000, "actual_fen": 80_000,
                            "card_commitment": x.card_commitment, "card_masked": x.card_masked, "back_pay": false})
            })
            .collect();
        envs.push(sign(k_gc, &wage, "wage.payroll.submitted.v1", "2026-05-05T10:00:00+08:00", json!({
            "project_id": p, "payroll_id": "PR-2026-04-T01", "team_id": "T-01", "employer": gc, "month": "2026-04", "lines": lines})));
        let x = &persons[0];
        envs.push(sign(k_gc, &wage, "wage.transfer.made.v1", "2026-05-10T10:00:00+08:00", json!({
            "project_id": p, "transfer_id": "TX-0001", "payroll_id": "PR-2026-04-T01", "person_ref": x.person_ref,
            "amount_fen": 80_000, "card_commitment": x.card_commitment, "card_masked": x.card_masked, "paid_on": "2026-05-10",
            "back_pay": false})));
    }
    app.ingest_ok(&envs).await;

    // Ratings: each project's decision computed from the log and signed; the city's and 鄞州's annual reports.
    let store = app.server.state.ledger.store();
    let n = siteledger_ledger::EventStore::head(store).await.expect("head");
    let prefix = siteledger_api::ratings::LogPrefix::load(store, n, None).await.expect("prefix");
    let as_of = siteledger_domain::LocalDate::parse("2026-03-26").expect("date");
    let mut envs = Vec::new();
    for p in [P1, P2, P3] {
        let id = siteledger_domain::ids::ProjectId::parse(p).expect("id");
        let d = siteledger_api::ratings::decision(&prefix, &id, 1, as_of).expect("decision");
        envs.push(sign(
            &mut app.city,
            &format!("project/{p}/rating"),
            "rating.decision.v1",
            "2026-03-26T18:00:00+08:00",
            serde_json::to_value(&d).expect("json"),
        ));
    }
    for district in [None, Some(YINZHOU)] {
        let req = siteledger_api::reports::ReportRequest {
            year: 2026,
            district: district.map(|d| siteledger_domain::district::DistrictCode::parse(d).expect("code")),
            at_size: n,
            policy_version: None,
            as_of: None,
        };
        let r = siteledger_api::reports::annual(store, &req).await.expect("report");
        let stream = district.map_or_else(|| "city/reports".to_owned(), |d| format!("district/{d}/reports"));
        envs.push(sign(
            &mut app.city,
            &stream,
            "report.annual.v1",
            "2026-03-27T09:00:00+08:00",
            serde_json::to_value(&r.record).expect("json"),
        ));
    }
    app.ingest_ok(&envs).await;

    // The sentinel: P3's gateway skips a sequence number; the ledger appends a gap notice after the record.
    gw3.set_chain(MemoryChain::at(gw3.next_seq() + 1, gw3.prev()));
    let last = sign(
        &mut gw3,
        &format!("project/{P3}/env/DUST-1"),
        "env.dust_noise.reading.v1",
        "2026-03-07T10:00:00+08:00",
        json!({"project_id": P3, "device_id": "DUST-1", "pm10_ug_m3": "60.5", "pm25_ug_m3": "30.1", "noise_db_a": "58.0"}),
    );
    app.ingest_ok(&[last]).await;
    let head = siteledger_ledger::EventStore::head(store).await.expect("head");
    let tail = siteledger_ledger::EventStore::read_all(store, head - 1, 1).await.expect("read");
    assert!(tail[0].stream.starts_with("ledger/"), "the log ends with the gap notice, not {}", tail[0].stream);

    City {
        c1,
        c2,
        gw1,
        names,
        p1_event,
        p1_person,
        id_numbers: (0..4).map(id_number).collect(),
        card_numbers: (0..4).map(card_number).collect(),
        sentinel: head - 1,
        report_pdf,
    }
}
