//! The remaining forms of issue 15 in Debian's headless Chromium: a laboratory's tester, the owner's and the
//! supervisor's staff, an inspector, the contractor's staff and the city bureau's administrator (signing with the
//! bureau's own key) each fill and sign their forms once, in the order the work happens: commission, witnessed
//! sampling, receipt, report with its PDF, the dedicated wage account and the labour-cost deposit, 危大工程 listing, plan with its PDF,
//! countersignature, briefing, monitoring, team, worker through the vault (no ID or card number in any signed
//! record), payroll, wage finding, task, rating policy and rating decision. Every record is stored and its
//! evidence bundle names the signing person's key. Screenshots of every form, desktop and 390 px wide.

use std::path::Path;
use std::sync::Arc;

use chromiumoxide::page::Page;
use serde_json::{Value, json};
use siteledger_api::auth::Role;
use siteledger_api::config::Config;
use siteledger_e2e::{HeadlessChromium, SignedCity, city_key, credit_code, eval, ingest};
use siteledger_signer::SigningKey;
use uuid::Uuid;

use super::people::{
    Bodies, WAIT, admin_signs_in, all_stored, approve, enrolment, goto, open_as_new_person, person_asks,
    person_signs_in, set_file, sign_form, sign_form_here,
};

/// A person enrolled by their organisation's administrator, each in their own browser; answers the person's page
/// (signed in) and key id.
async fn enrolled_person(
    browser: &HeadlessChromium,
    base: &str,
    bodies: &Bodies,
    org_file: &Path,
    org_key: &SigningKey,
    (role, org, handle, name): (&str, &str, &str, &str),
) -> anyhow::Result<(Page, String)> {
    let admin = open_as_new_person(browser, &format!("{base}/people/admin"), bodies).await?;
    admin_signs_in(&admin, org_file, &org_key.key_id().to_string()).await?;
    let page = open_as_new_person(browser, &format!("{base}/people"), bodies).await?;
    let key = person_asks(&page, role, org, handle, name).await?;
    approve(&admin, &key).await?;
    admin.close().await?;
    person_signs_in(&page).await?;
    Ok((page, key))
}

/// Uploads `file` into the form's file field `field` on the open form page and waits for its digest.
async fn attach(page: &Page, base: &str, form: &str, field: &str, file: &Path) -> anyhow::Result<String> {
    goto(page, &format!("{base}/people/forms/{form}")).await?;
    siteledger_e2e::wait_until(
        page,
        "document.body.dataset.webcrypto === 'yes'",
        "document.body.innerText.slice(0, 400)",
        WAIT,
    )
    .await?;
    set_file(page, &format!("#f-{field}"), file).await?;
    siteledger_e2e::wait_until(
        page,
        &format!("document.getElementById('sign-form').dataset.sha_{field}"),
        "document.getElementById('sign-msg').textContent",
        WAIT,
    )
    .await?;
    eval(page, &format!("document.getElementById('sign-form').dataset.sha_{field}")).await
}

/// Asserts every item of a form's answer was stored; remembers each record with the key that must have signed it.
fn keep(signed: &mut Vec<(String, String)>, out: Vec<(String, String, String)>, key: &str) -> anyhow::Result<()> {
    assert!(all_stored(&out), "{out:?}");
    for (_, _, link) in out {
        signed.push((link.trim_start_matches("/verify/").to_owned(), key.to_owned()));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_sign_every_remaining_form_in_the_browser() -> anyhow::Result<()> {
    siteledger_e2e::chromium_or_fail();
    let dir = tempfile::tempdir()?;
    let config = Config {
        data_dir: dir.path().join("data"),
        listen: "127.0.0.1:0".parse()?,
        log_origin: "e2e.siteledger.example/people-forms".into(),
        trust_roots: vec![city_key().public().to_base64()],
        checkpoint_interval_ms: 50,
        ..Config::default()
    };
    let server = siteledger_api::server::spawn(config).await?;
    let base = server.url();
    let token = server.state.tokens.create("e2e city", Role::City, None, 1).await?.secret;
    let client = reqwest::Client::builder().timeout(siteledger_e2e::PATIENCE).build()?;

    // The city (E2E-0001: owner, general contractor, supervisor), a laboratory, and the organisations' keys.
    let mut city = SignedCity::new();
    let mut envs = city.registry()?;
    let (owner, gc, sup) =
        (credit_code("91330200MA2E2E010"), credit_code("91330200MA2E2E020"), credit_code("91330200MA2E2E030"));
    let lab = credit_code("91330200MA2E2E050");
    let at = "2026-01-07T09:00:00+08:00";
    envs.push(city.city.sign(Uuid::now_v7(), "registry/orgs", "registry.enterprise.registered.v1", at, {
        let v = json!({"credit_code": lab, "name": "宁波检测研究院", "types": ["testing_lab"]});
        v.as_object().cloned().unwrap_or_default()
    })?);
    let keys: Vec<(SigningKey, &str, &str)> = vec![
        (SigningKey::from_seed(&[0x81; 32]), "330212", "district_bureau"),
        (SigningKey::from_seed(&[0x82; 32]), owner.as_str(), "enterprise"),
        (SigningKey::from_seed(&[0x83; 32]), gc.as_str(), "enterprise"),
        (SigningKey::from_seed(&[0x84; 32]), sup.as_str(), "enterprise"),
        (SigningKey::from_seed(&[0x85; 32]), lab.as_str(), "testing_lab"),
    ];
    for (key, subject, role) in &keys {
        envs.push(city.city.sign(
            Uuid::now_v7(),
            "registry/keys",
            "ledger.key.enrolled.v1",
            at,
            enrolment(key, subject, role),
        )?);
    }
    ingest(&client, &base, &token, &envs).await?;
    let file = |i: usize| -> anyhow::Result<std::path::PathBuf> {
        let f = dir.path().join(format!("org{i}.key"));
        keys[i].0.write_file(&f)?;
        Ok(f)
    };
    let city_file = dir.path().join("city.key");
    city_key().write_file(&city_file)?;
    let pdf = dir.path().join("report.pdf");
    std::fs::write(&pdf, b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")?;
    let plan_pdf = dir.path().join("plan.pdf");
    std::fs::write(&plan_pdf, b"%PDF-1.4\n% excavation plan\ntrailer<<>>\n%%EOF\n")?;

    let bodies: Bodies = Arc::default();
    let browser = HeadlessChromium::launch().await?;
    // Every stored record: (event id, the key that must have signed it).
    let mut signed: Vec<(String, String)> = Vec::new();
    let result = async {
        let (owner_p, owner_k) = enrolled_person(&browser, &base, &bodies, &file(1)?, &keys[1].0, ("staff", &owner, "own-01", "周建设")).await?;
        let (sup_p, sup_k) = enrolled_person(&browser, &base, &bodies, &file(3)?, &keys[3].0, ("staff", &sup, "sup-01", "吴总监")).await?;
        let (lab_p, lab_k) = enrolled_person(&browser, &base, &bodies, &file(4)?, &keys[4].0, ("tester", &lab, "lab-01", "郑检测")).await?;
        let (gc_p, gc_k) = enrolled_person(&browser, &base, &bodies, &file(2)?, &keys[2].0, ("staff", &gc, "gc-01", "钱项目")).await?;
        let (insp_p, insp_k) = enrolled_person(&browser, &base, &bodies, &file(0)?, &keys[0].0, ("inspector", "330212", "insp-01", "孙监督")).await?;
        // 1. Testing: commission (owner), witnessed sampling (supervisor), receipt and report with its PDF (lab).
        keep(&mut signed, sign_form(&owner_p, &base, "commission", &[("project_id", "E2E-0001"), ("commission_id", "C-1"), ("lab", &lab),
            ("item", "钢筋原材"), ("structural", "true")], Some("form-commission")).await?, &owner_k)?;
        // The general contractor's staff open the project's dedicated wage account (条例第二十六条), which the owner's
        // labour-cost deposit needs; typed in full, only its masked form is signed.
        keep(&mut signed, sign_form(&gc_p, &base, "wage-account", &[("project_id", "E2E-0001"), ("opened_by", &gc), ("bank_name", "宁波银行"),
            ("account", "6222 0000 1111 0001"), ("pay_day", "15")], Some("form-wage-account")).await?, &gc_k)?;
        let shown: String = eval(&gc_p, "document.getElementById('sign-payload').textContent + document.getElementById('sign-words').textContent").await?;
        assert!(shown.contains("6222 **** **** 0001") && !shown.contains("0000 1111"), "{shown}");
        keep(&mut signed, sign_form(&owner_p, &base, "labour-deposit", &[("project_id", "E2E-0001"), ("payer", &owner), ("amount_fen", "12345600"),
            ("deposited_on", "2026-01-10"), ("for_month", "2026-01")], Some("form-labour-deposit")).await?, &owner_k)?;
        keep(&mut signed, sign_form(&sup_p, &base, "sample-witness", &[("project_id", "E2E-0001"), ("commission_id", "C-1"), ("sample_id", "S-1"),
            ("seal_id", "SEAL-1"), ("witness", "吴总监"), ("sampler", "钱取样")], Some("form-sample-witness")).await?, &sup_k)?;
        keep(&mut signed, sign_form(&lab_p, &base, "sample-receipt", &[("project_id", "E2E-0001"), ("sample_id", "S-1"), ("seal_id", "SEAL-1"),
            ("seal_intact", "true"), ("condition", "封样完好，标识清晰")], Some("form-sample-receipt")).await?, &lab_k)?;
        let report_sha = attach(&lab_p, &base, "test-report", "report", &pdf).await?;
        let out = sign_form_here(&lab_p, &[("project_id", "E2E-0001"), ("sample_id", "S-1"), ("report_year", "2026"), ("report_seq", "1"),
            ("tester", "郑检测"), ("reviewer", "王审核"), ("approver", "冯批准"), ("result", "qualified"), ("summary", "屈服强度 455 MPa")],
            Some("form-test-report")).await?;
        let payload: String = eval(&lab_p, "document.getElementById('sign-payload').textContent").await?;
        assert!(payload.contains(&format!("\"report_sha256\": \"{report_sha}\"")), "{payload}");
        keep(&mut signed, out, &lab_k)?;

        // 2. 危大工程: listing, plan with its PDF (contractor), countersignature (supervisor), briefing, monitoring.
        keep(&mut signed, sign_form(&gc_p, &base, "hazard-work", &[("project_id", "E2E-0001"), ("work_id", "W-1"), ("name", "1号楼基坑"),
            ("category", "excavation"), ("depth_m", "4.2")], Some("form-hazard-work")).await?, &gc_k)?;
        attach(&gc_p, &base, "hazard-plan", "plan", &plan_pdf).await?;
        keep(&mut signed, sign_form_here(&gc_p, &[("project_id", "E2E-0001"), ("work_id", "W-1"), ("plan_version", "1"), ("technical_lead", "钱项目")],
            Some("form-hazard-plan")).await?, &gc_k)?;
        keep(&mut signed, sign_form(&sup_p, &base, "acceptance", &[("action", "countersign"), ("project_id", "E2E-0001"), ("work_id", "W-1"),
            ("plan_version", "1"), ("chief_supervisor", "吴总监")], Some("form-acceptance")).await?, &sup_k)?;
        keep(&mut signed, sign_form(&gc_p, &base, "hazard-step", &[("action", "briefing"), ("project_id", "E2E-0001"), ("work_id", "W-1"),
            ("note", "向作业班组交底支护与降水要求")], Some("form-hazard-step")).await?, &gc_k)?;
        keep(&mut signed, sign_form(&gc_p, &base, "hazard-monitoring", &[("project_id", "E2E-0001"), ("work_id", "W-1"), ("point", "CX-1"),
            ("item", "深层水平位移"), ("value", "12.5"), ("alarm_value", "30"), ("anomaly", "false")], Some("form-hazard-monitoring")).await?, &gc_k)?;

        // 3. 实名制: team, worker through the vault (numbers never signed, never shown back), payroll.
        keep(&mut signed, sign_form(&gc_p, &base, "team", &[("project_id", "E2E-0001"), ("team_id", "TEAM-1"), ("name", "钢筋班"),
            ("employer", &gc)], Some("form-team")).await?, &gc_k)?;
        let (id_number, card) = ("330203199001011236", "6222021234567890123");
        let out = sign_form(&gc_p, &base, "worker", &[("project_id", "E2E-0001"), ("employer", &gc), ("team_id", "TEAM-1"),
            ("trade", "020"), ("work_role", "20"), ("id_type", "01"), ("id_number", id_number), ("person_name", "陈工人"),
            ("card_number", card), ("bank_name", "宁波银行")], Some("form-worker")).await?;
        assert_eq!(out.len(), 2, "registration and card: {out:?}");
        let shown: String = eval(&gc_p, "document.getElementById('sign-payload').textContent + document.getElementById('sign-words').textContent").await?;
        assert!(!shown.contains(id_number) && !shown.contains(card), "a number shown back: {shown}");
        let worker: Value = serde_json::from_str(&eval::<String>(&gc_p,
            "JSON.stringify(JSON.parse(document.getElementById('sign-payload').textContent.split('\\n\\n')[1].split('\\n').slice(1).join('\\n')))").await?)?;
        keep(&mut signed, out, &gc_k)?;
        let line = format!("{}, 22, 176, 660000, 660000, {}, {}", worker["person_ref"].as_str().unwrap_or_default(),
            worker["card_commitment"].as_str().unwrap_or_default(), worker["card_masked"].as_str().unwrap_or_default());
        keep(&mut signed, sign_form(&gc_p, &base, "payroll", &[("project_id", "E2E-0001"), ("payroll_id", "PR-2026-01-1"), ("team_id", "TEAM-1"),
            ("employer", &gc), ("month", "2026-01"), ("lines", &line)], Some("form-payroll")).await?, &gc_k)?;
        let payroll_event = signed.last().map(|(id, _)| id.clone()).unwrap_or_default();

        // 4. The bureau: wage finding, task; the city bureau's own key publishes the rating policy; the decision.
        keep(&mut signed, sign_form(&insp_p, &base, "wage-finding", &[("project_id", "E2E-0001"), ("rule", "arrears_suspected"), ("month", "2026-01"),
            ("finding_id", "arrears_suspected:2026-01"), ("summary", "钢筋班 1 月工资未按时足额支付"), ("evidence", &payroll_event)],
            Some("form-wage-finding")).await?, &insp_k)?;
        keep(&mut signed, sign_form(&insp_p, &base, "task", &[("action", "dispatch"), ("task_id", "T-1"), ("district", "330212"), ("project_id", "E2E-0001"),
            ("source_kind", "other"), ("source_event_id", &payroll_event), ("title", "核查钢筋班工资发放"), ("level", "project"),
            ("assignee_kind", "enterprise"), ("assignee", &gc), ("sla_hours", "48")], Some("form-task")).await?, &insp_k)?;
        let city_admin = open_as_new_person(&browser, &format!("{base}/people/admin"), &bodies).await?;
        admin_signs_in(&city_admin, &city_file, &city_key().key_id().to_string()).await?;
        let policy = serde_json::to_string(&siteledger_domain::rating::policy::notice_2020_72())?;
        goto(&city_admin, &format!("{base}/people/forms/rating-policy")).await?;
        siteledger_e2e::wait_until(&city_admin, "document.body.dataset.webcrypto === 'yes'", "document.body.innerText.slice(0, 400)", WAIT).await?;
        let out = sign_form_here(&city_admin, &[("policy", &policy)], Some("form-rating-policy")).await?;
        let words: String = eval(&city_admin, "document.getElementById('sign-words').textContent").await?;
        assert!(words.contains("以市住建局单位密钥发布星级评定政策第 1 版"), "{words}");
        keep(&mut signed, out, &city_key().key_id().to_string())?;
        // The rating decision is computed first (计算) and shown; signing is possible only then, and signs it as shown.
        goto(&insp_p, &format!("{base}/people/forms/rating-decision")).await?;
        siteledger_e2e::wait_until(&insp_p, "document.body.dataset.webcrypto === 'yes'", "document.body.innerText.slice(0, 400)", WAIT).await?;
        let before: bool = eval(&insp_p, "(() => { document.getElementById('f-project_id').value = 'E2E-0001'; \
            document.getElementById('sign-form').dispatchEvent(new Event('input')); \
            return document.querySelector('#sign-form button[type=submit]').disabled; })()").await?;
        assert!(before, "the decision could be signed before it was computed and shown");
        let _: bool = eval(&insp_p, "(() => { document.getElementById('compute-button').click(); return true; })()").await?;
        siteledger_e2e::wait_until(&insp_p, "document.body.dataset.computed === 'yes'", "document.getElementById('sign-msg').textContent", WAIT).await?;
        let (words, shown): (String, String) = (
            eval(&insp_p, "document.getElementById('sign-words').textContent").await?,
            eval(&insp_p, "document.getElementById('sign-payload').textContent").await?,
        );
        assert!(words.contains("我签署项目 E2E-0001 的星级评定") && words.contains("依据评定政策第 1 版"), "{words}");
        assert!(shown.starts_with("rating.decision.v1") && shown.contains("\"tree_size\""), "{shown}");
        let out = sign_form_here(&insp_p, &[], Some("form-rating-decision")).await?;
        let signed_payload: String = eval(&insp_p, "document.getElementById('sign-payload').textContent").await?;
        assert_eq!(signed_payload, shown, "what was signed differs from what was shown");
        keep(&mut signed, out, &insp_k)?;

        // Every record is in the log, signed by the person's key (its evidence bundle names the key).
        server.state.ledger.checkpoint_now().await?;
        assert_eq!(signed.len(), 19, "{signed:?}");
        for (id, key) in &signed {
            let bundle = client.get(format!("{base}/v1/evidence/{id}")).bearer_auth(&token).send().await?;
            assert_eq!(bundle.status(), 200, "{id}");
            let text = bundle.text().await?;
            assert!(text.contains(id.as_str()) && text.contains(key.as_str()), "{id} not under {key}");
        }
        // No ID or card number in any record the pages signed.
        let bodies = bodies.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        for (url, body) in bodies.iter().filter(|(u, _)| u.ends_with("/v1/events")) {
            assert!(!body.contains(id_number) && !body.contains(card), "{url} carried a personal number");
        }
        anyhow::Ok(())
    }
    .await;
    browser.close().await;
    server.shutdown().await;
    result
}
