//! People sign in the browser (issue 15), in Debian's headless Chromium: a district bureau's administrator enrols
//! an inspector's browser key; the inspector records an inspection with a 严重 finding and a rectification notice;
//! a contractor's person (enrolled by their enterprise) submits a rectification with a photo; the inspector reviews
//! it as failed, then passed, and closes it; the command view shows each step; the real `siteledger-verify`
//! accepts the notice's evidence bundle and names the inspector's key as signer. Every request body the browsers
//! send is read from the DevTools protocol's Network events: none carries private key material. Refusals: another
//! enterprise's person, a signature that does not match its payload, a revoked key (its open session ends).
//!
//! Each person has their own browser context (own cookies and IndexedDB), as if on their own device.
//! Screenshots of every page and form, desktop and 390 px wide, go to `target/browser-screenshots/people/`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use chromiumoxide::cdp::browser_protocol::dom::{GetDocumentParams, QuerySelectorParams, SetFileInputFilesParams};
use chromiumoxide::cdp::browser_protocol::emulation::{
    ClearDeviceMetricsOverrideParams, SetDeviceMetricsOverrideParams,
};
use chromiumoxide::cdp::browser_protocol::network::{EventRequestWillBeSent, GetRequestPostDataParams};
use chromiumoxide::page::Page;
use futures::StreamExt;
use serde_json::{Value, json};
use siteledger_api::auth::Role;
use siteledger_api::config::Config;
use siteledger_e2e::{HeadlessChromium, SignedCity, city_key, credit_code, eval, ingest, screenshot, wait_until};
use siteledger_signer::SigningKey;
use uuid::Uuid;

pub(crate) const WAIT: std::time::Duration = siteledger_e2e::PATIENCE;

/// The bytes every PKCS #8 Ed25519 private key starts with, hex and base64: never in a request body.
const PKCS8_PREFIX_HEX: &str = "302e020100300506032b657004220420";
const PKCS8_PREFIX_B64: &str = "MC4CAQAwBQYDK2VwBCIEI";

fn shots() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().map_or(tmp.clone(), Path::to_path_buf).join("browser-screenshots").join("people")
}

/// Every request body a page sends, `(url, body)`, read from the DevTools protocol (not from the server).
pub(crate) type Bodies = Arc<Mutex<Vec<(String, String)>>>;

async fn record_bodies(page: &Page, bodies: &Bodies) -> anyhow::Result<()> {
    let mut events = page.event_listener::<EventRequestWillBeSent>().await?;
    let (page, bodies) = (page.clone(), Arc::clone(bodies));
    tokio::spawn(async move {
        while let Some(ev) = events.next().await {
            let req = &ev.request;
            if req.has_post_data != Some(true) {
                continue;
            }
            let mut body = String::new();
            for entry in req.post_data_entries.iter().flatten() {
                if let Some(b) = &entry.bytes {
                    body.push_str(&String::from_utf8_lossy(&b64_decode(b.as_ref())));
                }
            }
            if body.is_empty()
                && let Ok(r) = page.execute(GetRequestPostDataParams::new(ev.request_id.clone())).await
            {
                body = r.result.post_data.clone();
            }
            bodies.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((req.url.clone(), body));
        }
    });
    Ok(())
}

/// Standard base64 (the protocol's encoding of request bodies).
fn b64_decode(s: &str) -> Vec<u8> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|c| *c != b'=') {
        let Some(v) = A.iter().position(|a| *a == c) else { continue };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

pub(crate) async fn open_as_new_person(browser: &HeadlessChromium, url: &str, bodies: &Bodies) -> anyhow::Result<Page> {
    let page = browser.open_in_new_context(url).await?;
    record_bodies(&page, bodies).await?;
    Ok(page)
}

pub(crate) async fn goto(page: &Page, url: &str) -> anyhow::Result<()> {
    page.goto(url).await?;
    page.wait_for_navigation().await?;
    Ok(())
}

/// The page at desktop width and at a 390 px wide phone viewport.
pub(crate) async fn shoot(page: &Page, name: &str) -> anyhow::Result<()> {
    let dir = shots();
    screenshot(page, &dir.join(format!("{name}.png"))).await?;
    page.execute(SetDeviceMetricsOverrideParams::new(390, 844, 2.0, true)).await?;
    // Measured before the full-page screenshot, which sets and clears its own metrics.
    let scroll: i64 = eval(page, "document.documentElement.scrollWidth").await?;
    screenshot(page, &dir.join(format!("{name}-390.png"))).await?;
    page.execute(ClearDeviceMetricsOverrideParams::default()).await?;
    assert!(scroll <= 390, "{name} is {scroll} px wide on a 390 px phone");
    Ok(())
}

pub(crate) async fn set_file(page: &Page, selector: &str, path: &Path) -> anyhow::Result<()> {
    let doc = page.execute(GetDocumentParams::default()).await?;
    let node = page.execute(QuerySelectorParams::new(doc.result.root.node_id, selector)).await?;
    let mut p = SetFileInputFilesParams::new(vec![path.display().to_string()]);
    p.node_id = Some(node.result.node_id);
    page.execute(p).await?;
    Ok(())
}

pub(crate) async fn run(page: &Page, js: &str) -> anyhow::Result<()> {
    page.evaluate_function(format!("() => {{ {js} }}")).await?;
    Ok(())
}

/// The administrator imports the organisation's key file into their browser and signs in with it.
pub(crate) async fn admin_signs_in(page: &Page, key_file: &Path, key_id: &str) -> anyhow::Result<()> {
    wait_until(page, "document.body.dataset.webcrypto === 'yes'", "document.body.innerText.slice(0, 400)", WAIT)
        .await?;
    set_file(page, "#org-key-file", key_file).await?;
    wait_until(
        page,
        &format!("document.body.dataset.orgKeyId === '{key_id}'"),
        "document.getElementById('org-key-status').textContent",
        WAIT,
    )
    .await?;
    run(page, "document.getElementById('org-login').click();").await?;
    wait_until(page, "document.body.dataset.pending !== undefined", "document.body.innerText.slice(0, 600)", WAIT)
        .await?;
    Ok(())
}

/// A person makes a key in their browser and asks their organisation to enrol it; answers the key id.
pub(crate) async fn person_asks(
    page: &Page,
    role: &str,
    org: &str,
    handle: &str,
    name: &str,
) -> anyhow::Result<String> {
    wait_until(page, "document.body.dataset.webcrypto === 'yes'", "document.body.innerText.slice(0, 400)", WAIT)
        .await?;
    run(page, "document.getElementById('gen-key').click();").await?;
    wait_until(
        page,
        "document.body.dataset.keyState === 'new'",
        "document.getElementById('key-status').textContent",
        WAIT,
    )
    .await?;
    run(
        page,
        &format!(
            "const f = document.getElementById('enrol-form'); f.role.value = '{role}'; f.organisation.value = '{org}'; \
             f.handle.value = '{handle}'; f.name.value = '{name}'; f.requestSubmit();"
        ),
    )
    .await?;
    wait_until(
        page,
        "document.body.dataset.keyState === 'pending'",
        "document.getElementById('enrol-msg').textContent",
        WAIT,
    )
    .await?;
    eval(page, "document.body.dataset.keyId").await
}

pub(crate) async fn approve(admin: &Page, key_id: &str) -> anyhow::Result<()> {
    admin.reload().await?;
    wait_until(
        admin,
        &format!("document.querySelector('#pending tr[data-key-id=\"{key_id}\"] button.approve')"),
        "document.getElementById('pending').innerText",
        WAIT,
    )
    .await?;
    run(admin, &format!("document.querySelector('#pending tr[data-key-id=\"{key_id}\"] button.approve').click();"))
        .await?;
    wait_until(
        admin,
        &format!("document.querySelector('#enrolled tr[data-key-id=\"{key_id}\"]')"),
        "document.getElementById('admin-msg').textContent",
        WAIT,
    )
    .await?;
    Ok(())
}

pub(crate) async fn person_signs_in(page: &Page) -> anyhow::Result<()> {
    page.reload().await?;
    wait_until(
        page,
        "document.body.dataset.keyState === 'enrolled'",
        "document.getElementById('key-status').textContent",
        WAIT,
    )
    .await?;
    run(page, "document.getElementById('login-button').click();").await?;
    wait_until(
        page,
        "!document.getElementById('form-links').hidden",
        "document.getElementById('login-msg').textContent",
        WAIT,
    )
    .await?;
    Ok(())
}

/// Fills a form (`values`: field → value), checks the words shown before signing, signs; answers the result
/// list's items as `(status, kind, verify link)`.
pub(crate) async fn sign_form(
    page: &Page,
    base: &str,
    form: &str,
    values: &[(&str, &str)],
    shot: Option<&str>,
) -> anyhow::Result<Vec<(String, String, String)>> {
    goto(page, &format!("{base}/people/forms/{form}")).await?;
    wait_until(page, "document.body.dataset.webcrypto === 'yes'", "document.body.innerText.slice(0, 400)", WAIT)
        .await?;
    let mut js = String::new();
    for (k, v) in values {
        js.push_str(&format!("document.getElementById('f-{k}').value = {};", json!(v)));
    }
    js.push_str("document.getElementById('sign-form').dispatchEvent(new Event('input'));");
    run(page, &js).await?;
    let words: String = eval(page, "document.getElementById('sign-words').textContent").await?;
    assert!(
        values.iter().any(|(_, v)| words.contains(v)),
        "the words shown before signing name nothing entered: {words}"
    );
    if let Some(name) = shot {
        shoot(page, name).await?;
    }
    run(page, "document.body.dataset.signed = ''; document.getElementById('sign-form').requestSubmit();").await?;
    wait_until(page, "document.body.dataset.signed !== ''", "document.getElementById('sign-msg').textContent", WAIT)
        .await?;
    eval(
        page,
        "Array.from(document.querySelectorAll('#sign-result li')).map((li) => [li.dataset.status, li.dataset.kind, \
         li.querySelector('a') ? li.querySelector('a').getAttribute('href') : li.textContent])",
    )
    .await
}

pub(crate) fn all_stored(items: &[(String, String, String)]) -> bool {
    !items.is_empty() && items.iter().all(|(s, _, _)| s == "accepted")
}

/// Waits until the notice's row on the command view (协同指挥 › 整改), as the inspector sees it, shows `want`:
/// an accepted record reaches the read models a moment after its 200, so the page is reloaded until it does
/// (a condition; [`WAIT`] only turns a stuck projector into a failure). Returns the row's text.
async fn command_status(page: &Page, base: &str, notice: &str, want: &str) -> anyhow::Result<String> {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        goto(page, &format!("{base}/command/rectifications")).await?;
        let row: String = eval(
            page,
            &format!(
                "(Array.from(document.querySelectorAll('tr')).find((tr) => tr.textContent.includes('{notice}')) || {{}}).textContent || ''"
            ),
        )
        .await?;
        if row.contains(want) || std::time::Instant::now() > deadline {
            return Ok(row);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

fn verifier() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../signer/Cargo.toml");
    let out = Command::new(env!("CARGO"))
        .args(["build", "--locked", "--quiet", "--bin", "siteledger-verify", "--manifest-path"])
        .arg(&manifest)
        .output()
        .expect("cargo runs");
    assert!(out.status.success(), "building siteledger-verify: {}", String::from_utf8_lossy(&out.stderr));
    let exe = std::env::current_exe().expect("test binary");
    exe.parent().and_then(|d| d.parent()).expect("target dir").join("siteledger-verify")
}

pub(crate) fn enrolment(key: &SigningKey, subject: &str, role: &str) -> serde_json::Map<String, Value> {
    let v = json!({
        "key_id": key.key_id().to_string(), "public_key": key.public().to_base64(), "subject": subject,
        "role": role, "valid_from": "2026-01-01T00:00:00+08:00", "valid_until": null,
    });
    v.as_object().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_enrol_sign_and_verify_in_the_browser() -> anyhow::Result<()> {
    siteledger_e2e::chromium_or_fail();
    let dir = tempfile::tempdir()?;
    let config = Config {
        data_dir: dir.path().join("data"),
        listen: "127.0.0.1:0".parse()?,
        log_origin: "e2e.siteledger.example/people".into(),
        trust_roots: vec![city_key().public().to_base64()],
        checkpoint_interval_ms: 50,
        ..Config::default()
    };
    let server = siteledger_api::server::spawn(config).await?;
    let base = server.url();
    let token = server.state.tokens.create("e2e city", Role::City, None, 1).await?.secret;
    let client = reqwest::Client::builder().timeout(siteledger_e2e::PATIENCE).build()?;

    // The city: two projects, three enterprises; one more enterprise outside E2E-0001; the organisations' keys.
    let mut city = SignedCity::new();
    let mut envs = city.registry()?;
    let gc = credit_code("91330200MA2E2E020");
    let other = credit_code("91330200MA2E2E040");
    let district_key = SigningKey::from_seed(&[0x61; 32]);
    let gc_key = SigningKey::from_seed(&[0x62; 32]);
    let other_key = SigningKey::from_seed(&[0x63; 32]);
    let at = "2026-01-07T09:00:00+08:00";
    envs.push(city.city.sign(Uuid::now_v7(), "registry/orgs", "registry.enterprise.registered.v1", at, {
        let v = json!({"credit_code": other, "name": "宁波另一建设有限公司", "types": ["construction"]});
        v.as_object().cloned().unwrap_or_default()
    })?);
    for (key, subject, role) in [
        (&district_key, "330212", "district_bureau"),
        (&gc_key, gc.as_str(), "enterprise"),
        (&other_key, other.as_str(), "enterprise"),
    ] {
        envs.push(city.city.sign(
            Uuid::now_v7(),
            "registry/keys",
            "ledger.key.enrolled.v1",
            at,
            enrolment(key, subject, role),
        )?);
    }
    ingest(&client, &base, &token, &envs).await?;
    let district_file = dir.path().join("district.key");
    district_key.write_file(&district_file)?;
    let gc_file = dir.path().join("gc.key");
    gc_key.write_file(&gc_file)?;
    let secret_b64 = |f: &Path| -> anyhow::Result<String> {
        Ok(std::fs::read_to_string(f)?.split_whitespace().nth(1).unwrap_or_default().to_owned())
    };
    let (district_secret, gc_secret) = (secret_b64(&district_file)?, secret_b64(&gc_file)?);
    let photo = dir.path().join("rectified.png");
    std::fs::write(&photo, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde\0\0\0\x0cIDATx\x9cc\xf8\xcf\xc0\0\0\x03\x01\x01\0\xc9\xfe\x92\xef\0\0\0\0IEND\xaeB`\x82")?;

    let bodies: Bodies = Arc::default();
    let browser = HeadlessChromium::launch().await?;
    let result = async {
        // 1. The district bureau's administrator and the inspector, each in their own browser.
        let admin = open_as_new_person(&browser, &format!("{base}/people/admin"), &bodies).await?;
        admin_signs_in(&admin, &district_file, &district_key.key_id().to_string()).await?;
        let inspector = open_as_new_person(&browser, &format!("{base}/people"), &bodies).await?;
        let inspector_key = person_asks(&inspector, "inspector", "330212", "insp-wang", "王监督").await?;
        shoot(&inspector, "home-pending").await?;
        approve(&admin, &inspector_key).await?;
        shoot(&admin, "admin").await?;
        person_signs_in(&inspector).await?;
        shoot(&inspector, "home-signed-in").await?;

        // 2. Inspection with a 严重 finding, and the rectification notice.
        let out = sign_form(&inspector, &base, "inspection", &[
            ("project_id", "E2E-0001"), ("inspection_id", "INS-1"), ("inspection_kind", "safety"),
            ("inspector", "王监督"), ("scope", "主体结构施工"), ("inspected_party", &gc), ("finding_id", "F-1"),
            ("level", "serious"), ("category", "临边防护"), ("description", "五层临边防护栏杆缺失"),
        ], Some("form-inspection")).await?;
        assert!(all_stored(&out) && out.len() == 2, "{out:?}");
        let deadline = (time::OffsetDateTime::now_utc().to_offset(siteledger_domain::time::SHANGHAI) + time::Duration::days(3))
            .format(&time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]"))?;
        let out = sign_form(&inspector, &base, "notice", &[
            ("project_id", "E2E-0001"), ("finding_id", "F-1"), ("notice_id", "N-1"), ("deadline", &deadline),
            ("responsible", &gc), ("requirement", "三日内恢复临边防护并上传照片"),
        ], Some("form-notice")).await?;
        assert!(all_stored(&out), "{out:?}");
        let notice_event = out[0].2.trim_start_matches("/verify/").to_owned();
        assert!(command_status(&inspector, &base, "N-1", "待整改").await?.contains("待整改"));

        // 3. The contractor's enterprise enrols its person, who submits the rectification with a photo.
        let gc_admin = open_as_new_person(&browser, &format!("{base}/people/admin"), &bodies).await?;
        admin_signs_in(&gc_admin, &gc_file, &gc_key.key_id().to_string()).await?;
        let contractor = open_as_new_person(&browser, &format!("{base}/people"), &bodies).await?;
        let contractor_key = person_asks(&contractor, "staff", &gc, "tech-01", "李技术").await?;
        approve(&gc_admin, &contractor_key).await?;
        person_signs_in(&contractor).await?;
        let submit = |shot| {
            let contractor = contractor.clone();
            let (base, photo) = (base.clone(), photo.clone());
            async move {
                goto(&contractor, &format!("{base}/people/forms/submission")).await?;
                set_file(&contractor, "#f-photo", &photo).await?;
                wait_until(&contractor, "document.getElementById('sign-form').dataset.photoSha256", "document.getElementById('sign-msg').textContent", WAIT).await?;
                let out = sign_form_here(&contractor, &[("project_id", "E2E-0001"), ("notice_id", "N-1"), ("note", "已恢复临边防护栏杆")], shot).await?;
                anyhow::Ok(out)
            }
        };
        let out = submit(Some("form-submission")).await?;
        assert!(all_stored(&out), "{out:?}");
        assert!(command_status(&inspector, &base, "N-1", "待复查").await?.contains("待复查"));

        // 4. Review failed, submitted again, review passed, closed.
        let out = sign_form(&inspector, &base, "review", &[
            ("project_id", "E2E-0001"), ("notice_id", "N-1"), ("result", "fail"), ("reviewer", "王监督"), ("note", "栏杆高度不足"),
        ], Some("form-review")).await?;
        assert!(all_stored(&out), "{out:?}");
        assert!(command_status(&inspector, &base, "N-1", "复查未通过").await?.contains("复查未通过"));
        assert!(all_stored(&submit(None).await?));
        let out = sign_form(&inspector, &base, "review", &[
            ("project_id", "E2E-0001"), ("notice_id", "N-1"), ("result", "pass"), ("reviewer", "王监督"), ("note", "符合要求"),
        ], None).await?;
        assert!(all_stored(&out), "{out:?}");
        let out = sign_form(&inspector, &base, "closure", &[("project_id", "E2E-0001"), ("notice_id", "N-1")], Some("form-closure")).await?;
        assert!(all_stored(&out), "{out:?}");
        assert!(command_status(&inspector, &base, "N-1", "已销号").await?.contains("已销号"));
        shoot(&inspector, "command-rectifications").await?;

        // 5. A form post whose signature does not match its payload: signed in the page, altered, refused.
        goto(&inspector, &format!("{base}/people/forms/stop-work")).await?;
        shoot(&inspector, "form-stop-work").await?;
        let code: String = inspector.evaluate_function(r#"async () => {
            const p = window.siteledgerPeople;
            const rec = await p.loadKey('person');
            const head = await (await fetch('/v1/people/keys/' + rec.keyId)).json();
            const env = await p.signEnvelope(rec, { kind: 'inspection.stop_work.ordered.v1', stream: 'project/E2E-0001/supervision',
                payload: { project_id: 'E2E-0001', order_id: 'SW-X', reason: '临边防护缺失', scope: '五层' } }, head.next_seq, head.prev);
            env.payload.scope = '全部';
            const r = await fetch('/v1/events', { method: 'POST', credentials: 'same-origin', body: JSON.stringify([env]),
                headers: { 'Content-Type': 'application/json',
                           'X-SiteLedger-CSRF': document.querySelector('meta[name="siteledger-csrf"]').content } });
            return (await r.json()).results[0].code;
        }"#).await?.into_value()?;
        assert_eq!(code, "bad_signature");
        // The session cookie alone does not write: a cross-site form cannot supply the CSRF header.
        let status: u16 = inspector
            .evaluate_function("async () => (await fetch('/v1/events', { method: 'POST', credentials: 'same-origin', \
                headers: { 'Content-Type': 'application/json' }, body: '[]' })).status")
            .await?
            .into_value()?;
        assert_eq!(status, 403, "a cookie session wrote without the CSRF header");

        // 6. The evidence bundle of the notice: the real verifier accepts it and names the inspector's key.
        server.state.ledger.checkpoint_now().await?;
        let bundle = client.get(format!("{base}/v1/evidence/{notice_event}")).send().await?.bytes().await?;
        let bundle_path = dir.path().join("notice.json");
        std::fs::write(&bundle_path, &bundle)?;
        let vkey = server.state.ledger.log_verifier().vkey().to_string();
        let out = Command::new(verifier()).arg(&bundle_path).args(["--log-key", &vkey, "--json"]).output()?;
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
        let report: Value = serde_json::from_slice(&out.stdout)?;
        let notice = report["records"].as_array().into_iter().flatten()
            .find(|r| r["id"] == notice_event.as_str()).cloned().unwrap_or_default();
        assert_eq!(notice["kind"], "inspection.rectification.noticed.v1");
        assert_eq!(notice["signer"], inspector_key.as_str(), "{report}");

        // 7. Another enterprise's person, enrolled by their own enterprise, fills the rectification form for E2E-0001
        //    (their enterprise is not the responsible party) and sees the rule's name next to the form.
        let other_file = dir.path().join("other.key");
        other_key.write_file(&other_file)?;
        let other_admin = open_as_new_person(&browser, &format!("{base}/people/admin"), &bodies).await?;
        admin_signs_in(&other_admin, &other_file, &other_key.key_id().to_string()).await?;
        let stranger = open_as_new_person(&browser, &format!("{base}/people"), &bodies).await?;
        let stranger_key = person_asks(&stranger, "staff", &other, "mgr-9", "赵经理").await?;
        approve(&other_admin, &stranger_key).await?;
        person_signs_in(&stranger).await?;
        goto(&stranger, &format!("{base}/people/forms/submission")).await?;
        set_file(&stranger, "#f-photo", &photo).await?;
        wait_until(&stranger, "document.getElementById('sign-form').dataset.photoSha256", "document.getElementById('sign-msg').textContent", WAIT).await?;
        let out = sign_form_here(&stranger, &[("project_id", "E2E-0001"), ("notice_id", "N-1"), ("note", "代为整改")], None).await?;
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].0, "rejected", "{out:?}");
        let beside: String = eval(&stranger, "document.getElementById('err-form').textContent").await?;
        assert!(beside.contains("inspection.submission_signer"), "next to the form: {beside:?}");

        // 8. The administrator revokes the inspector's key (lost phone): the inspector's open session ends at once
        //    (their next page is the login page), the page says the key is revoked, and a record the key still
        //    signs is refused even when someone else's token posts it.
        run(&admin, &format!("document.querySelector('#enrolled tr[data-key-id=\"{inspector_key}\"] button.revoke').click();")).await?;
        wait_until(&admin, &format!("document.querySelector('#enrolled tr[data-key-id=\"{inspector_key}\"]').textContent.includes('已吊销')"),
            "document.getElementById('admin-msg').textContent", WAIT).await?;
        goto(&inspector, &format!("{base}/people/forms/stop-work")).await?;
        wait_until(&inspector, "window.location.pathname === '/login'", "window.location.href", WAIT).await?;
        goto(&inspector, &format!("{base}/people")).await?;
        wait_until(&inspector, "document.body.dataset.keyState === 'revoked'", "document.getElementById('key-status').textContent", WAIT).await?;
        let env: String = inspector.evaluate_function(r#"async () => {
            const p = window.siteledgerPeople;
            const rec = await p.loadKey('person');
            const head = await (await fetch('/v1/people/keys/' + rec.keyId)).json();
            const env = await p.signEnvelope(rec, { kind: 'inspection.stop_work.ordered.v1', stream: 'project/E2E-0001/supervision',
                payload: { project_id: 'E2E-0001', order_id: 'SW-2', reason: '吊销后的记录', scope: '全部' } }, head.next_seq, head.prev);
            return JSON.stringify(env);
        }"#).await?.into_value()?;
        let env: Value = serde_json::from_str(&env)?;
        let answer: Value = client.post(format!("{base}/v1/events")).bearer_auth(&token).json(&json!([env])).send().await?.json().await?;
        assert_eq!(answer["results"][0]["status"], "rejected", "{answer}");
        assert_eq!(answer["results"][0]["code"], "key_not_valid", "{answer}");

        // 9. No private key ever left a browser.
        let bodies = bodies.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        assert!(bodies.iter().any(|(u, b)| u.ends_with("/v1/people/enrolments") && b.contains("public_key")), "{bodies:?}");
        assert!(bodies.iter().filter(|(u, _)| u.ends_with("/v1/events")).count() >= 10, "{bodies:?}");
        for (url, body) in &bodies {
            for secret in [district_secret.as_str(), gc_secret.as_str(), "siteledger-ed25519-secret-v1", PKCS8_PREFIX_HEX, PKCS8_PREFIX_B64, "\"d\":"] {
                assert!(!body.contains(secret), "{url} carried private key material ({secret})");
            }
        }
        anyhow::Ok(())
    }
    .await;
    browser.close().await;
    server.shutdown().await;
    result
}

/// [`sign_form`] on the page already open (the photo was set first).
pub(crate) async fn sign_form_here(
    page: &Page,
    values: &[(&str, &str)],
    shot: Option<&str>,
) -> anyhow::Result<Vec<(String, String, String)>> {
    if !values.is_empty() {
        // Filling fires the form's input event (which also asks a computed form to compute again).
        let mut js = String::new();
        for (k, v) in values {
            js.push_str(&format!("document.getElementById('f-{k}').value = {};", json!(v)));
        }
        js.push_str("document.getElementById('sign-form').dispatchEvent(new Event('input'));");
        run(page, &js).await?;
    }
    if let Some(name) = shot {
        shoot(page, name).await?;
    }
    run(page, "document.body.dataset.signed = ''; document.getElementById('sign-form').requestSubmit();").await?;
    wait_until(page, "document.body.dataset.signed !== ''", "document.getElementById('sign-msg').textContent", WAIT)
        .await?;
    eval(
        page,
        "Array.from(document.querySelectorAll('#sign-result li')).map((li) => [li.dataset.status, li.dataset.kind, \
         li.querySelector('a') ? li.querySelector('a').getAttribute('href') : li.textContent])",
    )
    .await
}
