//! 实名制与工资 end to end through the real server: a month of a 200-worker project (vault intake, signed records
//! through `POST /v1/events`, read models, arrears view with exactly the seeded cases), invalid identifiers refused
//! with the failed check named, no plaintext on any public endpoint or in the log and read databases, and
//! erasure by crypto-shredding with every proof still verifying.

use serde_json::{Value, json};
use siteledger_api::auth::Role;
use siteledger_client::KeyedChain;
use siteledger_domain::IdNumber;
use siteledger_signer::{Envelope, NoteVerifier, SigningKey, verify_bundle};

use crate::helpers::{TestApp, enrollment, new_id, next_link, obj};
use crate::world;

const P: &str = "NB-2026-0001";
const WORKERS: usize = 200;
const DAYS: u32 = 20;

/// A synthetic, checksum-valid resident ID number (宁波海曙 330203), born 1970–1999.
fn id_number(i: usize) -> String {
    let first17 = format!("330203{:04}{:02}{:02}{:03}", 1970 + i % 30, 1 + i % 12, 1 + i % 28, 100 + i % 900);
    let check = IdNumber::check_character(&first17).expect("17 digits");
    format!("{first17}{check}")
}

fn card_number(i: usize) -> String {
    format!("6228480{:012}", 400_000 + i)
}

struct Month {
    people: Vec<Value>,
    registrations: Vec<String>,
}

fn sign(s: &mut KeyedChain, stream: &str, kind: &str, at: &str, payload: Value) -> Envelope {
    s.sign(new_id(), stream, kind, at, obj(payload)).expect("sign")
}

async fn ingest_chunks(app: &TestApp, envs: &[Envelope]) -> Vec<u64> {
    let mut out = Vec::new();
    for chunk in envs.chunks(1000) {
        out.extend(app.ingest_ok(chunk).await);
    }
    out
}

/// Builds and ingests April 2026 for project NB-2026-0001 with 200 workers and four seeded cases:
/// worker 1 underpaid (actual < payable), worker 2 never paid, worker 3 paid to a card not his, worker 4's payroll
/// days (26) far from his attendance (20).
async fn month(app: &mut TestApp, w: &mut world::World) -> Month {
    let mut gc = KeyedChain::new(SigningKey::from_seed(&[0x71; 32]));
    let mut owner = KeyedChain::new(SigningKey::from_seed(&[0x72; 32]));
    let keys = vec![
        sign(
            &mut app.city,
            "registry/keys",
            "ledger.key.enrolled.v1",
            "2026-01-07T09:00:00+08:00",
            Value::Object(enrollment(gc.key().public(), &w.contractor_b, "enterprise")),
        ),
        sign(
            &mut app.city,
            "registry/keys",
            "ledger.key.enrolled.v1",
            "2026-01-07T09:00:00+08:00",
            Value::Object(enrollment(owner.key().public(), &w.owner_a, "enterprise")),
        ),
    ];
    app.ingest_ok(&keys).await;

    // Vault intake: plaintext in, references and commitments out.
    let token = app.token(Role::Enterprise, Some(&w.contractor_b)).await;
    let mut people = Vec::new();
    for i in 0..WORKERS {
        let r = app
            .client
            .post(app.url("/v1/workforce/people"))
            .bearer_auth(&token)
            .json(&json!({"id_type": "01", "id_number": id_number(i), "name": format!("工人{i}"), "phone": "13800000000", "cards": [card_number(i)]}))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
        let mut v: Value = r.json().await.expect("json");
        let card: Value = app
            .client
            .post(app.url(&format!("/v1/workforce/people/{}/cards", v["person_ref"].as_str().expect("ref"))))
            .bearer_auth(&token)
            .json(&json!({"card_number": card_number(i)}))
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json");
        v["card"] = card;
        people.push(v);
    }
    let wf = format!("project/{P}/workforce");
    let wage = format!("project/{P}/wage");
    let mut envs = vec![
        sign(
            &mut gc,
            &wf,
            "worker.team.formed.v1",
            "2026-03-20T09:00:00+08:00",
            json!({"project_id": P, "team_id": "T-01", "name": "钢筋班组", "employer": w.contractor_b}),
        ),
        sign(
            &mut gc,
            &wage,
            "wage.account.opened.v1",
            "2026-03-25T09:00:00+08:00",
            json!({"project_id": P, "opened_by": w.contractor_b, "bank_name": "中国农业银行宁波鄞州支行", "account_masked": "3901 **** **** 0088", "pay_day": 15}),
        ),
    ];
    let mut registrations = Vec::new();
    for p in &people {
        let r = sign(
            &mut gc,
            &wf,
            "worker.registered.v1",
            "2026-03-28T09:00:00+08:00",
            json!({"project_id": P, "person_ref": p["person_ref"], "id_type": "01", "id_commitment": p["id_commitment"], "id_masked": p["id_masked"], "birth_month": p["birth_month"], "employer": w.contractor_b, "team_id": "T-01", "trade": "020", "work_role": "20"}),
        );
        registrations.push(r.id().to_string());
        envs.push(r);
        envs.push(sign(&mut gc, &wf, "worker.card.registered.v1", "2026-03-28T09:10:00+08:00", json!({"project_id": P, "person_ref": p["person_ref"], "card_commitment": p["card"]["card_commitment"], "card_masked": p["card"]["card_masked"], "bank_name": "中国农业银行"})));
        envs.push(sign(&mut gc, &wf, "worker.contract.signed.v1", "2026-03-28T09:20:00+08:00", json!({"project_id": P, "person_ref": p["person_ref"], "contract_id": format!("HT-{}", &p["person_ref"].as_str().expect("ref")[2..10]), "employer": w.contractor_b, "period_type": "1", "start_date": "2026-03-28"})));
        envs.push(sign(
            &mut gc,
            &wf,
            "worker.entered.v1",
            "2026-04-01T07:00:00+08:00",
            json!({"project_id": P, "person_ref": p["person_ref"], "date": "2026-04-01"}),
        ));
    }
    envs.push(sign(&mut owner, &wage, "wage.labour_cost.deposited.v1", "2026-04-05T10:00:00+08:00", json!({"project_id": P, "payer": w.owner_a, "amount_fen": 180_000_000, "deposited_on": "2026-04-05", "for_month": "2026-04"})));
    // Attendance: 20 working days, in and out (the last day in only: everyone is on site now).
    for d in 1..=DAYS {
        for p in &people {
            let day = format!("2026-04-{d:02}");
            envs.push(sign(&mut w.gw1, &format!("{wf}/gate"), "worker.passage.v1", &format!("{day}T07:30:00+08:00"), json!({"project_id": P, "person_ref": p["person_ref"], "gate": "GATE-1", "direction": "in", "method": "face"})));
            if d < DAYS {
                envs.push(sign(&mut w.gw1, &format!("{wf}/gate"), "worker.passage.v1", &format!("{day}T17:30:00+08:00"), json!({"project_id": P, "person_ref": p["person_ref"], "gate": "GATE-1", "direction": "out", "method": "card"})));
            }
        }
    }
    let lines: Vec<Value> = people
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let actual = if i == 1 { 700_000 } else { 800_000 };
            let days = if i == 4 { 26 } else { DAYS };
            json!({"person_ref": p["person_ref"], "days": days, "hours": days * 8, "payable_fen": 800_000, "actual_fen": actual, "card_commitment": p["card"]["card_commitment"], "card_masked": p["card"]["card_masked"], "back_pay": false})
        })
        .collect();
    envs.push(sign(&mut gc, &wage, "wage.payroll.submitted.v1", "2026-05-05T10:00:00+08:00", json!({"project_id": P, "payroll_id": "PR-2026-04-T01", "team_id": "T-01", "employer": w.contractor_b, "month": "2026-04", "lines": lines})));
    envs.push(sign(&mut owner, &wage, "wage.labour_cost.deposited.v1", "2026-05-05T10:00:00+08:00", json!({"project_id": P, "payer": w.owner_a, "amount_fen": 180_000_000, "deposited_on": "2026-05-05", "for_month": "2026-05"})));
    for (i, p) in people.iter().enumerate() {
        if i == 2 {
            continue;
        }
        let amount = if i == 1 { 700_000 } else { 800_000 };
        let (card, masked) = if i == 3 {
            (
                "hmac-sha256:00000000000000000000000000000000000000000000000000000000000000ff".into(),
                "6222 **** **** 9999".into(),
            )
        } else {
            (
                p["card"]["card_commitment"].as_str().expect("c").to_owned(),
                p["card"]["card_masked"].as_str().expect("m").to_owned(),
            )
        };
        envs.push(sign(&mut gc, &wage, "wage.transfer.made.v1", "2026-05-10T10:00:00+08:00", json!({"project_id": P, "transfer_id": format!("TX-{i:04}"), "payroll_id": "PR-2026-04-T01", "person_ref": p["person_ref"], "amount_fen": amount, "card_commitment": card, "card_masked": masked, "paid_on": "2026-05-10", "back_pay": false})));
    }
    ingest_chunks(app, &envs).await;
    app.settle().await;
    Month { people, registrations }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_month_of_a_200_worker_project_through_the_real_ingest_path() {
    let mut app = TestApp::spawn().await;
    // The runtime's workforce findings passes without a pause, so that this test sees them done.
    app.server.state.read.set_findings_every(std::time::Duration::ZERO);
    let mut w = world::build(&mut app).await;
    let m = month(&mut app, &mut w).await;
    let city = app.token(Role::City, None).await;

    let roster: Value =
        app.get(&format!("/v1/workforce/roster?project={P}"), Some(&city)).await.json().await.expect("json");
    assert_eq!(roster.as_array().expect("array").len(), WORKERS);
    // Paged: following the `Link: <…>; rel="next"` headers gives the same workers in the same order.
    let mut paged: Vec<Value> = Vec::new();
    let mut next = Some(format!("/v1/workforce/roster?project={P}&limit=64"));
    while let Some(path) = next.take() {
        let r = app.get(&path, Some(&city)).await;
        assert_eq!(r.status(), 200, "{path}");
        next = next_link(&r);
        let page: Value = r.json().await.expect("json");
        let page = page.as_array().expect("array");
        assert!(page.len() <= 64 && !page.is_empty(), "{path}");
        paged.extend(page.iter().cloned());
        assert!(paged.len() <= WORKERS, "the pages end");
    }
    assert_eq!(Value::Array(paged), roster);
    for (bad, why) in [
        ("limit=0", "limit"),
        ("limit=20001", "limit"),
        ("after_project=NB-2026-0001", "go together"),
        ("after_project=NB-2026-0001&after_person=P-0", "no worker"),
    ] {
        let r = app.get(&format!("/v1/workforce/roster?{bad}"), Some(&city)).await;
        assert_eq!(r.status(), 400, "{bad}");
        assert!(r.text().await.expect("body").contains(why), "{bad}");
    }
    let on_site: Value = app
        .get(&format!("/v1/workforce/roster?project={P}&on_site=true"), Some(&city))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(on_site.as_array().expect("array").len(), WORKERS);
    let day: Value = app
        .get(&format!("/v1/workforce/attendance?project={P}&day=2026-04-07"), Some(&city))
        .await
        .json()
        .await
        .expect("json");
    let day = day.as_array().expect("array");
    assert_eq!(day.len(), WORKERS);
    assert!(day.iter().all(|r| r["passages"] == 2));
    let pay: Value = app
        .get(&format!("/v1/workforce/payroll?project={P}&month=2026-04"), Some(&city))
        .await
        .json()
        .await
        .expect("json");
    let pay = pay.as_array().expect("array");
    assert_eq!(pay.len(), WORKERS);
    assert!(pay.iter().all(|r| r["attendance_days"] == DAYS));

    // The arrears view finds exactly the seeded cases, as of 2026-05-20 (pay day 15).
    let found: Value = app
        .get(&format!("/v1/workforce/arrears?project={P}&as_of=2026-05-20"), Some(&city))
        .await
        .json()
        .await
        .expect("json");
    let mut got: Vec<(String, String)> = found
        .as_array()
        .expect("array")
        .iter()
        .map(|f| (f["rule"].as_str().expect("rule").to_owned(), f["person_ref"].as_str().unwrap_or("-").to_owned()))
        .collect();
    got.sort();
    let who = |i: usize| m.people[i]["person_ref"].as_str().expect("ref").to_owned();
    let mut want = vec![
        ("underpayment".to_owned(), who(1)),
        ("arrears_suspected".to_owned(), who(2)),
        ("unregistered_card".to_owned(), who(3)),
        ("days_mismatch".to_owned(), who(4)),
    ];
    want.sort();
    assert_eq!(got, want, "{found:#}");
    assert!(found.as_array().expect("array").iter().all(|f| !f["evidence"].as_array().expect("ev").is_empty()));
    // Before the pay date, the unpaid worker is not yet in arrears.
    let early: Value = app
        .get(&format!("/v1/workforce/arrears?project={P}&as_of=2026-05-12"), Some(&city))
        .await
        .json()
        .await
        .expect("json");
    assert!(early.as_array().expect("array").iter().all(|f| f["rule"] != "arrears_suspected"));
    // The city's view (no project, no as of) is the findings the server's runtime keeps for each project: it
    // recomputes the project once its facts are folded, and the view then says nothing is pending and equals the
    // computation from the facts.
    let read = &app.server.state.read;
    let waited = tokio::time::timeout(crate::helpers::PATIENCE, async {
        while !read.workforce_findings_due().await.expect("due").is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "the runtime never recomputed the project's findings");
    let resp = app.get("/v1/workforce/arrears", Some(&city)).await;
    assert_eq!(resp.headers()["x-siteledger-findings-pending"], "0");
    let city_view: Value = resp.json().await.expect("json");
    let computed = read.workforce_arrears(&siteledger_projections::Scope::All, None, None, 1).await.expect("arrears");
    assert!(!computed.is_empty());
    assert_eq!(city_view, serde_json::to_value(&computed).expect("json"));
    // CSV and summaries.
    let csv = app
        .get(&format!("/v1/workforce/arrears?project={P}&as_of=2026-05-20&format=csv"), Some(&city))
        .await
        .text()
        .await
        .expect("csv");
    assert_eq!(csv.lines().count(), 5);
    let by: Value = app
        .get("/v1/workforce/arrears/summary?by=district&as_of=2026-05-20", Some(&city))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(by[0]["key"], world::YINZHOU);
    assert_eq!(by[0]["total"], 4);
    // By general contractor (the stored findings of the default view), and for a scope with no findings at all.
    let by_gc: Value =
        app.get("/v1/workforce/arrears/summary?by=enterprise", Some(&city)).await.json().await.expect("json");
    let by_project: Value = app.get("/v1/workforce/arrears/summary", Some(&city)).await.json().await.expect("json");
    let total = |v: &Value| v.as_array().expect("array").iter().map(|g| g["total"].as_u64().expect("n")).sum::<u64>();
    assert!(total(&by_project) > 0);
    assert_eq!(total(&by_gc), total(&by_project), "one general contractor per project here: {by_gc}");
    assert!(by_gc.as_array().expect("array").iter().all(|g| g["key"].as_str().is_some_and(|k| k.len() == 18)));
    let quiet = app.token(Role::District, Some("330206")).await;
    let r = app.get("/v1/workforce/arrears/summary?by=enterprise", Some(&quiet)).await;
    assert_eq!(r.status(), 200, "a district without findings");
    assert_eq!(r.json::<Value>().await.expect("json"), serde_json::json!([]));
    let r = app.get("/v1/workforce/arrears/summary?by=month", Some(&quiet)).await;
    assert_eq!(r.status(), 400, "an unknown grouping, even with nothing to group");
    // Export in the national platform's Payroll.Add shape (masked numbers, yuan with two decimals).
    let export: Value = app
        .get(&format!("/v1/workforce/export/payroll?project={P}&month=2026-04"), Some(&city))
        .await
        .json()
        .await
        .expect("json");
    let details = export[0]["detailList"].as_array().expect("details");
    assert_eq!(details.len(), WORKERS);
    assert_eq!(export[0]["payMonth"], "2026-04");
    assert!(details.iter().all(|d| d["idCardNumber"].as_str().is_some_and(|n| n.contains("****")) && d["totalPayAmount"] == "8000.00"));
    // Scope: the other contractor sees nothing of this project.
    let other = app.token(Role::Enterprise, Some(&w.contractor_c)).await;
    let none: Value = app
        .get(&format!("/v1/workforce/arrears?project={P}&as_of=2026-05-20"), Some(&other))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(none.as_array().expect("array").len(), 0);
    let none: Value =
        app.get(&format!("/v1/workforce/roster?project={P}"), Some(&other)).await.json().await.expect("json");
    assert_eq!(none.as_array().expect("array").len(), 0);

    // No plaintext ID or card number anywhere public, nor in the log or read databases.
    let secrets: Vec<String> = (0..WORKERS).flat_map(|i| [id_number(i), card_number(i)]).collect();
    let head = app.server.state.ledger.head();
    let mut public = String::new();
    let mut from = 0;
    while from < head {
        public.push_str(
            &app.get(&format!("/v1/log/leaves?from={from}&limit=1000"), None).await.text().await.expect("leaves"),
        );
        public.push_str(
            &app.get(&format!("/v1/events?from={from}&limit=1000"), Some(&city)).await.text().await.expect("events"),
        );
        from += 1000;
    }
    for id in m.registrations.iter().take(5) {
        public.push_str(&app.get(&format!("/v1/evidence/{id}"), None).await.text().await.expect("evidence"));
    }
    for path in [
        format!("/v1/workforce/roster?project={P}"),
        "/v1/workforce/arrears?as_of=2026-05-20&format=csv".to_owned(),
        format!("/v1/projects/{P}/events?limit=1000"),
    ] {
        public.push_str(&app.get(&path, Some(&city)).await.text().await.expect("body"));
    }
    assert!(public.len() > 1_000_000, "the scan covered the log ({} bytes)", public.len());
    for s in &secrets {
        assert!(!public.contains(s.as_str()), "a plaintext number is public");
    }
    for file in ["ledger.db", "read.db", "vault.db"] {
        let bytes = std::fs::read(app.dir.path().join(file)).expect("db file");
        let text = String::from_utf8_lossy(&bytes);
        assert!(!secrets.iter().any(|s| text.contains(s.as_str())), "{file} holds a plaintext number");
    }

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode =
            std::fs::metadata(app.dir.path().join("keys").join("vault.key")).expect("vault key").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the vault key is readable by its owner only");
    }
    // The owner enterprise reads plaintext; each read is an access record; others get 404.
    let gc_token = app.token(Role::Enterprise, Some(&w.contractor_b)).await;
    let p5 = who(5);
    let r: Value = app
        .get(&format!("/v1/workforce/people/{p5}?purpose=wage_complaint"), Some(&gc_token))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(r["id_number"], id_number(5));
    assert_eq!(r["cards"][0], card_number(5));
    assert_eq!(app.get(&format!("/v1/workforce/people/{p5}?purpose=wage_complaint"), Some(&other)).await.status(), 404);
    assert_eq!(app.get(&format!("/v1/workforce/people/{p5}?purpose=wage_complaint"), None).await.status(), 401);
    let log: Value =
        app.get(&format!("/v1/workforce/vault/access?person_ref={p5}"), Some(&city)).await.json().await.expect("json");
    assert!(
        log.as_array()
            .expect("array")
            .iter()
            .any(|a| a["action"] == "reveal" && a["detail"].as_str().is_some_and(|d| d.contains("wage_complaint")))
    );

    // Erasure: the plaintext is gone, the records and their proofs are intact.
    let r = app
        .client
        .delete(app.url(&format!("/v1/workforce/people/{p5}")))
        .bearer_auth(&gc_token)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    assert_eq!(app.get(&format!("/v1/workforce/people/{p5}?purpose=inspection"), Some(&city)).await.status(), 404);
    app.server.state.ledger.checkpoint_now().await.expect("checkpoint");
    let vkey = app.get("/v1/log/key", None).await.text().await.expect("key");
    let verifier = NoteVerifier::parse(vkey.trim()).expect("verifier");
    let bundle = app.get(&format!("/v1/evidence/{}", m.registrations[5]), None).await.bytes().await.expect("bundle");
    let report = verify_bundle(&bundle, &verifier);
    assert!(report.ok, "{}", report.to_text());
    assert!(String::from_utf8_lossy(&bundle).contains(&p5), "the leaf still names the (now meaningless) reference");
    let log: Value =
        app.get(&format!("/v1/workforce/vault/access?person_ref={p5}"), Some(&city)).await.json().await.expect("json");
    assert_eq!(log[0]["action"], "erase");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_id_numbers_and_credit_codes_are_refused_naming_the_check() {
    let mut app = TestApp::spawn().await;
    let w = world::build(&mut app).await;
    let token = app.token(Role::Enterprise, Some(&w.contractor_b)).await;
    let valid = id_number(7);
    let mut wrong_check = valid.clone();
    let last = wrong_check.pop().expect("char");
    wrong_check.push(if last == '0' { '1' } else { '0' });
    let cases = [
        (wrong_check.as_str(), "check character mismatch"),
        ("330203190002290010", "birth date"),
        ("33020319800101", "must be 18 characters"),
        ("99020319800101001X", "province"),
        ("33020320150101001X", "劳动法第十五条"),
    ];
    for (number, check) in cases {
        let body = if number.len() == 18 && number.starts_with("3302032015") {
            let first17 = &number[..17];
            json!({"id_type": "01", "id_number": format!("{first17}{}", IdNumber::check_character(first17).expect("17")), "name": "少年"})
        } else {
            json!({"id_type": "01", "id_number": number, "name": "某人"})
        };
        let r = app
            .client
            .post(app.url("/v1/workforce/people"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 400);
        let v: Value = r.json().await.expect("json");
        let msg = v["message"].as_str().expect("message");
        assert!(msg.contains(check), "{number}: {msg}");
        assert!(!msg.contains(number), "the message must not echo the number");
    }

    // A credit code with a wrong check character in a signed record: refused at ingest, naming field and check.
    let mut gc = KeyedChain::new(SigningKey::from_seed(&[0x73; 32]));
    let enrol = app
        .city
        .sign(
            new_id(),
            "registry/keys",
            "ledger.key.enrolled.v1",
            "2026-01-07T09:00:00+08:00",
            enrollment(gc.key().public(), &w.contractor_b, "enterprise"),
        )
        .expect("sign");
    app.ingest_ok(&[enrol]).await;
    let bad = sign(
        &mut gc,
        &format!("project/{P}/workforce"),
        "worker.team.formed.v1",
        "2026-03-20T09:00:00+08:00",
        json!({"project_id": P, "team_id": "T-01", "name": "钢筋班组", "employer": "91331122MA2A0M9B7M"}),
    );
    let city = app.token(Role::City, None).await;
    let v: Value = app.post_events(&city, &json!([bad.to_value()])).await.json().await.expect("json");
    let r = &v["results"][0];
    assert_eq!(r["status"], "rejected", "{v}");
    let msg = r["message"].as_str().expect("message");
    assert!(msg.contains("employer") && msg.contains("check character mismatch"), "{msg}");
    // A passage of an unregistered person: refused naming 条例第二十八条.
    let mut gw = w.gw1;
    let p = sign(
        &mut gw,
        &format!("project/{P}/workforce/gate"),
        "worker.passage.v1",
        "2026-04-01T07:30:00+08:00",
        json!({"project_id": P, "person_ref": format!("P-{:032x}", 1), "gate": "GATE-1", "direction": "in", "method": "face"}),
    );
    let v: Value = app.post_events(&city, &json!([p.to_value()])).await.json().await.expect("json");
    let msg = v["results"][0]["message"].as_str().expect("message");
    assert!(msg.contains("条例第二十八条"), "{msg}");
}

/// An enterprise's real-name system feeds the ledger in the national platform's `ProjectWorker.Add` shape: the
/// vault takes the people in (a bad ID is refused per item), the answer holds payloads to sign, and the signed
/// records are accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_from_the_national_platform_shape() {
    let mut app = TestApp::spawn().await;
    let w = world::build(&mut app).await;
    let mut gc = KeyedChain::new(SigningKey::from_seed(&[0x74; 32]));
    let enrol = app
        .city
        .sign(
            new_id(),
            "registry/keys",
            "ledger.key.enrolled.v1",
            "2026-01-07T09:00:00+08:00",
            enrollment(gc.key().public(), &w.contractor_b, "enterprise"),
        )
        .expect("sign");
    let team = sign(
        &mut gc,
        &format!("project/{P}/workforce"),
        "worker.team.formed.v1",
        "2026-03-20T09:00:00+08:00",
        json!({"project_id": P, "team_id": "T-09", "name": "木工班组", "employer": w.contractor_b}),
    );
    app.ingest_ok(&[enrol, team]).await;
    let token = app.token(Role::Enterprise, Some(&w.contractor_b)).await;
    let good = [
        json!({"idCardType": "01", "idCardNumber": id_number(1), "workerName": "陈春生", "workType": "240", "workRole": "20", "payRollBankCardNumber": card_number(1), "payRollBankName": "中国工商银行"}),
        json!({"idCardType": "08", "idCardNumber": "E12345678", "workerName": "外籍工人", "workType": "240", "workRole": "20", "birthday": "1990-02-03"}),
    ];
    let bad = json!({"idCardType": "01", "idCardNumber": "330203190002290010", "workerName": "错号", "workType": "240", "workRole": "20"});
    let import = |workers: Vec<Value>| {
        let app = &app;
        let body = json!({"projectCode": P, "corpCode": w.contractor_b, "teamSysNo": "T-09", "workerList": workers});
        let token = token.clone();
        async move {
            app.client
                .post(app.url("/v1/workforce/import/project-workers"))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .expect("request")
        }
    };
    // A bad ID refuses the whole request, naming the row, the member and the check (nothing half imported).
    let r = import(vec![good[0].clone(), bad, good[1].clone()]).await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.expect("json");
    let msg = v["message"].as_str().expect("message");
    assert!(msg.contains("`workerList[1].idCardNumber`") && msg.contains("birth date"), "{v}");
    let r = import(good.to_vec()).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.expect("json");
    let items = v["items"].as_array().expect("items");
    let mut envs = Vec::new();
    for item in items {
        assert_eq!(item["status"], "ok", "{item}");
        for rec in item["records"].as_array().expect("records") {
            envs.push(sign(
                &mut gc,
                rec["stream"].as_str().expect("s"),
                rec["kind"].as_str().expect("k"),
                "2026-03-21T09:00:00+08:00",
                rec["payload"].clone(),
            ));
        }
    }
    assert_eq!(envs.len(), 3);
    let text = serde_json::to_string(&envs.iter().map(Envelope::to_value).collect::<Vec<_>>()).expect("json");
    assert!(!text.contains(&id_number(1)) && !text.contains(&card_number(1)) && !text.contains("E12345678"));
    app.ingest_ok(&envs).await;
    app.settle().await;
    let roster: Value =
        app.get(&format!("/v1/workforce/roster?project={P}"), Some(&token)).await.json().await.expect("json");
    assert_eq!(roster.as_array().expect("array").len(), 2);
}

/// A worker who changes employer keeps one reference; each enterprise that took him in reads back the ID and what
/// it registered itself (recorded), never the other's; the city bureau reads both; strangers see nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_person_many_employers() {
    let mut app = TestApp::spawn().await;
    let w = world::build(&mut app).await;
    let b = app.token(Role::Enterprise, Some(&w.contractor_b)).await;
    let c = app.token(Role::Enterprise, Some(&w.contractor_c)).await;
    let city = app.token(Role::City, None).await;
    let district = app.token(Role::District, Some(world::YINZHOU)).await;
    let intake = |token: String, name: &'static str| {
        let app = &app;
        async move {
            let r = app
                .client
                .post(app.url("/v1/workforce/people"))
                .bearer_auth(&token)
                .json(&json!({"id_type": "01", "id_number": id_number(42), "name": name}))
                .send()
                .await
                .expect("request");
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.expect("json")
        }
    };
    let first = intake(b.clone(), "周永福").await;
    let second = intake(c.clone(), "周永福（新）").await;
    assert_eq!(first["person_ref"], second["person_ref"]);
    assert_eq!(first["id_commitment"], second["id_commitment"]);
    assert_eq!((first["existing"].as_bool(), second["existing"].as_bool()), (Some(false), Some(false)));
    let p = first["person_ref"].as_str().expect("ref");
    for (token, name) in [(&b, "周永福"), (&c, "周永福（新）")] {
        let r: Value = app
            .get(&format!("/v1/workforce/people/{p}?purpose=wage_payment"), Some(token))
            .await
            .json()
            .await
            .expect("json");
        assert_eq!((r["name"].as_str(), r["id_number"].as_str()), (Some(name), Some(id_number(42).as_str())));
    }
    let r: Value =
        app.get(&format!("/v1/workforce/people/{p}?purpose=inspection"), Some(&city)).await.json().await.expect("json");
    assert_eq!(r["name"], "周永福", "the first owner's at the top");
    let names: Vec<&str> = r["owners"].as_array().expect("owners").iter().filter_map(|o| o["name"].as_str()).collect();
    assert_eq!(names, ["周永福", "周永福（新）"]);
    assert_eq!(app.get(&format!("/v1/workforce/people/{p}?purpose=inspection"), Some(&district)).await.status(), 404);
    assert_eq!(
        app.get("/v1/workforce/people/P-00000000000000000000000000000000?purpose=wage_payment", Some(&b))
            .await
            .status(),
        404
    );
}

/// A wage finding is published by a 住建 bureau with jurisdiction: an enterprise key, or the bureau of another
/// district, is refused at `POST /v1/events` naming the rule; the same finding twice is refused naming its rule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wage_finding_signed_by_an_enterprise_or_another_district_is_refused_naming_the_rule() {
    let mut app = TestApp::spawn().await;
    let w = world::build(&mut app).await;
    let mut gc = KeyedChain::new(SigningKey::from_seed(&[0x74; 32]));
    let mut haishu = KeyedChain::new(SigningKey::from_seed(&[0x75; 32]));
    let mut yinzhou = KeyedChain::new(SigningKey::from_seed(&[0x76; 32]));
    let mut enrolments = Vec::new();
    for (s, subject, role) in [
        (&gc, w.contractor_b.as_str(), "enterprise"),
        (&haishu, world::HAISHU, "district_bureau"),
        (&yinzhou, world::YINZHOU, "district_bureau"),
    ] {
        enrolments.push(
            app.city
                .sign(
                    new_id(),
                    "registry/keys",
                    "ledger.key.enrolled.v1",
                    "2026-01-07T09:00:00+08:00",
                    enrollment(s.key().public(), subject, role),
                )
                .expect("sign"),
        );
    }
    app.ingest_ok(&enrolments).await;
    let stream = format!("project/{P}/wage/findings");
    let finding = |s: &mut KeyedChain| {
        sign(
            s,
            &stream,
            "wage.finding.recorded.v1",
            "2026-10-21T09:00:00+08:00",
            json!({"project_id": P, "finding_id": format!("arrears_suspected:2026-09:P-{:032x}", 3),
                   "rule": "arrears_suspected", "month": "2026-09",
                   "summary": "疑似欠薪（条例第十二条）工人 3302**********123X：2026-09 有 24 天考勤，发薪日已过，未见工资转账",
                   "evidence": ["0192a000-0000-7000-8000-000000000001"]}),
        )
    };
    let city = app.token(Role::City, None).await;
    for (who, env, rule) in [
        ("an enterprise key", finding(&mut gc), "workforce.finding_signer rule: "),
        ("another district's bureau", finding(&mut haishu), "workforce.finding_signer rule: "),
    ] {
        let v: Value = app.post_events(&city, &json!([env.to_value()])).await.json().await.expect("json");
        let r = &v["results"][0];
        assert_eq!(r["status"], "rejected", "{who}: {v}");
        let msg = r["message"].as_str().expect("message");
        assert!(msg.contains(rule), "{who}: {msg}");
    }
    // The project's own district bureau publishes it; a second publication is refused, naming the finding's rule.
    app.ingest_ok(&[finding(&mut yinzhou)]).await;
    let v: Value = app.post_events(&city, &json!([finding(&mut yinzhou).to_value()])).await.json().await.expect("json");
    let msg = v["results"][0]["message"].as_str().expect("message");
    assert!(msg.contains("workforce.finding_once rule: ") && msg.contains("arrears_suspected"), "{msg}");
}
