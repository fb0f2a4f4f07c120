//! The bureau dashboard: pages, scoping on every page, login cookie, redirects, demo banner, static assets.

use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, COOKIE, ETAG, IF_NONE_MATCH, LOCATION, SET_COOKIE};
use serde_json::json;
use siteledger_api::auth::Role;
use siteledger_client::KeyedChain;
use siteledger_signer::Envelope;
use time::OffsetDateTime;
use time::macros::format_description;

use crate::helpers::{TestApp, new_id, obj};
use crate::world::{self, HAISHU, YINZHOU, alarm, reading};

/// Now in Beijing time, as a signed `occurred_at` (so "today" counts see it).
fn now_beijing() -> String {
    let fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]+08:00");
    OffsetDateTime::now_utc().to_offset(siteledger_domain::time::SHANGHAI).format(&fmt).expect("format")
}

fn reading_now(gw: &mut KeyedChain, project: &str) -> Envelope {
    gw.sign(
        new_id(),
        &format!("project/{project}/device/DUST-1"),
        "env.dust_noise.reading.v1",
        &now_beijing(),
        obj(json!({"project_id": project, "device_id": "DUST-1", "pm10_ug_m3": "55.5", "pm25_ug_m3": "30.1", "noise_db_a": "61.2"})),
    )
    .expect("sign")
}

fn alarm_now(gw: &mut KeyedChain, project: &str, n: u64) -> Envelope {
    gw.sign(
        new_id(),
        &format!("project/{project}/alarms"),
        "alarm.raised.v1",
        &now_beijing(),
        obj(json!({"project_id": project, "alarm_id": format!("T-{n}"), "source": "DUST-1", "category": "dust", "level": "violation", "message": "PM10 超标", "value": "160.0", "threshold": "150.0"})),
    )
    .expect("sign")
}

/// An `application/x-www-form-urlencoded` body.
fn form(pairs: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => char::from(b).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

/// A client that shows redirects instead of following them.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

async fn page(app: &TestApp, path: &str, token: Option<&str>) -> (StatusCode, String) {
    let r = app.get(path, token).await;
    let status = r.status();
    let ct = r.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let body = r.text().await.expect("body");
    if status != StatusCode::SEE_OTHER {
        assert!(ct.starts_with("text/html"), "{path}: content type {ct:?}");
    }
    (status, body)
}

/// The HTML of one district card on the overview.
fn card<'a>(html: &'a str, code: &str) -> &'a str {
    let start = html.find(&format!("data-district=\"{code}\"")).unwrap_or_else(|| panic!("no card for {code}"));
    let rest = &html[start..];
    &rest[..rest.find("</a>").expect("card end")]
}

/// A small city with records dated today: NB-0001 (鄞州) gets readings and an alarm, NB-0002 (海曙) a reading.
async fn city() -> (TestApp, world::World, Vec<String>) {
    let mut app = TestApp::spawn().await;
    let mut w = world::build(&mut app).await;
    let mut envs = vec![reading_now(&mut w.gw1, "NB-2026-0001"), reading_now(&mut w.gw1, "NB-2026-0001")];
    envs.push(alarm_now(&mut w.gw1, "NB-2026-0001", 1));
    envs.push(reading_now(&mut w.gw2, "NB-2026-0002"));
    let ids = envs.iter().map(|e| e.id().to_string()).collect();
    app.ingest_ok(&envs).await;
    app.settle().await;
    (app, w, ids)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overview_shows_every_district_with_todays_counts() {
    let (app, _w, _) = city().await;
    let city_token = app.token(Role::City, None).await;
    let (status, html) = page(&app, "/", Some(&city_token)).await;
    assert_eq!(status, 200);
    assert!(html.contains("宁波市智慧工地监管平台"));
    assert!(html.contains("城市总览"));
    for name in ["海曙区", "江北区", "北仑区", "镇海区", "鄞州区", "奉化区", "象山县", "宁海县", "余姚市", "慈溪市"]
    {
        assert!(html.contains(name), "{name} missing");
    }
    let yz = card(&html, YINZHOU);
    assert!(yz.contains("<dt>项目</dt><dd>2</dd>"), "{yz}");
    assert!(yz.contains("<dt>数据在线</dt><dd>1</dd>"), "{yz}");
    assert!(yz.contains("data-field=\"alarms-today\">1<"), "{yz}");
    assert!(yz.contains("data-field=\"open-alarms\">1<"), "{yz}");
    let hs = card(&html, HAISHU);
    assert!(hs.contains("<dt>项目</dt><dd>1</dd>"), "{hs}");
    assert!(hs.contains("<dt>数据在线</dt><dd>1</dd>"), "{hs}");
    assert!(hs.contains("data-field=\"alarms-today\">0<"), "{hs}");
    // Totals, the live feed hook and the latest alarm.
    assert!(html.contains("id=\"total-projects\">3<"));
    assert!(html.contains("id=\"total-online\">2<"));
    assert!(html.contains("id=\"total-open\">1<"));
    assert!(html.contains("data-feed=\"/v1/feed\""));
    assert!(html.contains("PM10 超标"));
    assert!(!html.contains("演示模式"), "no demo banner outside demo mode");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_district_bureau_sees_only_its_district_on_every_page() {
    let (app, _w, ids) = city().await;
    let haishu = app.token(Role::District, Some(HAISHU)).await;
    let yinzhou_things = ["鄞州区", "鄞州中心区安置房一期", "NB-2026-0001", "NB-2026-0003", "鄞州南部新城学校"];
    let visible_pages = ["/", "/districts/330203", "/projects/NB-2026-0002", "/alarms", "/alarms?open=1", "/keys"];
    for path in visible_pages {
        let (status, html) = page(&app, path, Some(&haishu)).await;
        assert_eq!(status, 200, "{path}");
        for thing in yinzhou_things {
            assert!(!html.contains(thing), "{path} shows {thing}");
        }
    }
    let (_, html) = page(&app, "/", Some(&haishu)).await;
    assert!(html.contains("海曙区"));
    let (_, html) = page(&app, "/districts/330203", Some(&haishu)).await;
    assert!(html.contains("海曙西门商业综合体"));
    // Out of scope answers exactly like missing: a 404 page.
    for path in [
        "/districts/330212".to_owned(),
        "/projects/NB-2026-0001".to_owned(),
        "/projects/NB-2026-0003?before=5".to_owned(),
        "/alarms?project=NB-2026-0001".to_owned(),
        format!("/verify/{}", ids[0]),
        format!("/verify/{}", ids[2]),
    ] {
        let (status, html) = page(&app, &path, Some(&haishu)).await;
        if path.starts_with("/alarms") {
            assert_eq!(status, 200);
            assert!(!html.contains("PM10 超标"), "{path} shows another district's alarm");
            continue;
        }
        assert_eq!(status, 404, "{path}");
        assert!(html.contains("未找到"), "{path}");
        for thing in yinzhou_things {
            assert!(!html.contains(thing) || html.contains(&format!("没有项目 {thing}")), "{path} shows {thing}");
        }
    }
    let (status, _) = page(&app, "/projects/NB-2026-9999", Some(&haishu)).await;
    assert_eq!(status, 404, "a missing project is the same 404");
    // Its own record can be verified.
    let (status, html) = page(&app, &format!("/verify/{}", ids[3]), Some(&haishu)).await;
    assert_eq!(status, 200);
    assert!(html.contains("siteledger-verify evidence-"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_page_shows_participants_tiles_and_a_paged_timeline() {
    let mut app = TestApp::spawn().await;
    let mut w = world::build(&mut app).await;
    let envs: Vec<_> = (0..60).map(|n| reading(&mut w.gw1, "NB-2026-0001", n)).collect();
    let newest = envs.last().expect("env").id().to_string();
    let oldest = envs[0].id().to_string();
    app.ingest_ok(&envs).await;
    app.ingest_ok(&[alarm(&mut w.gw1, "NB-2026-0001", 7)]).await;
    app.settle().await;
    let token = app.token(Role::City, None).await;
    let (status, html) = page(&app, "/projects/NB-2026-0001", Some(&token)).await;
    assert_eq!(status, 200);
    for text in [
        "鄞州中心区安置房一期",
        "鄞州区",
        "建设单位",
        "宁波甬城置业有限公司",
        "施工总承包",
        "浙江甬建建设集团有限公司",
        "52,000.00 m²",
        "¥180,000,000.00",
        "约 1.80 亿元",
        "2026-03-01",
        "扬尘噪声",
        "告警",
        "PM10 超过预警值",
        "核验 verify",
        "data-feed=\"/v1/feed?project=NB-2026-0001\"",
    ] {
        assert!(html.contains(text), "project page lacks {text:?}");
    }
    assert!(html.contains(&format!("/verify/{newest}")), "newest record first");
    assert!(!html.contains(&format!("/verify/{oldest}")), "50 rows per page");
    let older = html.split("?before=").nth(1).and_then(|s| s.split('"').next()).expect("an older-records link");
    let (status, html2) = page(&app, &format!("/projects/NB-2026-0001?before={older}"), Some(&token)).await;
    assert_eq!(status, 200);
    assert!(html2.contains(&format!("/verify/{oldest}")));
    assert!(!html2.contains(&format!("/verify/{newest}")));

    // The verify page names the record and the offline command with the log key.
    let (status, html) = page(&app, &format!("/verify/{newest}"), Some(&token)).await;
    assert_eq!(status, 200);
    let vkey = app.get("/v1/log/key", None).await.text().await.expect("key");
    assert!(html.contains(&format!("siteledger-verify evidence-{newest}.json --log-key '{}'", vkey.trim())));
    assert!(html.contains(&format!("/v1/evidence/{newest}")));
    assert!(html.contains("/static/verify.js"));
    let (status, _) = page(&app, "/verify/not-a-uuid", Some(&token)).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_sets_an_http_only_cookie_that_authenticates() {
    let (app, _w, _) = city().await;
    let client = no_redirects();
    let (status, html) = page(&app, "/login", None).await;
    assert_eq!(status, 200);
    assert!(html.contains("name=\"token\""));

    let bad = client
        .post(app.url("/login"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form(&[("token", "slt_nope"), ("next", "/")]))
        .send()
        .await
        .expect("post");
    assert_eq!(bad.status(), 401);
    assert!(bad.headers().get(SET_COOKIE).is_none());

    let secret = app.token(Role::District, Some(YINZHOU)).await;
    let r = client
        .post(app.url("/login"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form(&[("token", secret.as_str()), ("next", "/districts/330212")]))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()[LOCATION], "/districts/330212");
    let cookie = r.headers()[SET_COOKIE].to_str().expect("ascii").to_owned();
    assert!(cookie.starts_with(&format!("siteledger_token={secret};")), "{cookie}");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie} lacks {attr}");
    }
    let pair = cookie.split(';').next().expect("pair").to_owned();
    let r = client.get(app.url("/")).header(COOKIE, &pair).send().await.expect("get");
    assert_eq!(r.status(), 200);
    let html = r.text().await.expect("body");
    assert!(html.contains("鄞州区") && !html.contains("海曙区"), "the cookie carries the district scope");
    assert!(html.contains("退出"), "signed-in header");
    // The API accepts the cookie too (the live feed relies on it).
    let r = client.get(app.url("/v1/whoami")).header(COOKIE, &pair).send().await.expect("get");
    assert_eq!(r.status(), 200);

    // Open redirects are refused; cross-origin form posts too.
    let r = client
        .post(app.url("/login"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form(&[("token", secret.as_str()), ("next", "//evil.example/")]))
        .send()
        .await
        .expect("post");
    assert_eq!(r.headers()[LOCATION], "/");
    let r = client
        .post(app.url("/login"))
        .header("origin", "http://evil.example")
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form(&[("token", secret.as_str())]))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 403);
    assert!(r.headers().get(SET_COOKIE).is_none());

    // Gateway tokens cannot sign in.
    let gw = app.token(Role::Gateway, Some("00000000000000000000000000000000")).await;
    let r = client
        .post(app.url("/login"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form(&[("token", gw.as_str())]))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 403);

    // Logout clears the cookie.
    let r = client.post(app.url("/logout")).header(COOKIE, &pair).send().await.expect("post");
    assert_eq!(r.status(), 303);
    let cleared = r.headers()[SET_COOKIE].to_str().expect("ascii");
    assert!(cleared.starts_with("siteledger_token=;") && cleared.contains("Max-Age=0"), "{cleared}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_pages_redirect_to_login() {
    let app = TestApp::spawn().await;
    let client = no_redirects();
    for (path, next) in [
        ("/", "/"),
        ("/alarms?open=1", "/alarms%3Fopen%3D1"),
        ("/projects/NB-2026-0001", "/projects/NB-2026-0001"),
        ("/keys", "/keys"),
    ] {
        let r = client.get(app.url(path)).send().await.expect("get");
        assert_eq!(r.status(), 303, "{path}");
        assert_eq!(r.headers()[LOCATION], format!("/login?next={next}"), "{path}");
    }
    // An invalid (expired, revoked) cookie is dropped on the way to the login page.
    let r = client.get(app.url("/")).header(COOKIE, "siteledger_token=slt_revoked").send().await.expect("get");
    assert_eq!(r.status(), 303);
    assert!(r.headers()[SET_COOKIE].to_str().expect("ascii").contains("Max-Age=0"));
    // The login page and the static files need no token.
    assert_eq!(client.get(app.url("/login")).send().await.expect("get").status(), 200);
    assert_eq!(client.get(app.url("/static/app.css")).send().await.expect("get").status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_mode_shows_the_banner_to_anonymous_visitors() {
    let app = TestApp::spawn_with(|c| c.demo = true).await;
    let (status, html) = page(&app, "/", None).await;
    assert_eq!(status, 200);
    assert!(html.contains("演示模式 · 模拟数据"));
    assert!(html.contains("demo mode, simulated data"));
    assert!(html.contains("海曙区") && html.contains("鄞州区"), "the demo visitor sees the whole city");
    let (status, html) = page(&app, "/login", None).await;
    assert_eq!(status, 200);
    assert!(html.contains("演示模式"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_assets_have_content_types_and_cache_headers() {
    let app = TestApp::spawn().await;
    let client = no_redirects();
    for (name, ct) in [
        ("app.css", "text/css; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("verify.js", "text/javascript; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
    ] {
        let r = client.get(app.url(&format!("/static/{name}"))).send().await.expect("get");
        assert_eq!(r.status(), 200, "{name}");
        assert_eq!(r.headers()[CONTENT_TYPE], ct, "{name}");
        assert_eq!(r.headers()[CACHE_CONTROL], "no-cache", "{name}");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        let etag = r.headers()[ETAG].clone();
        assert!(!r.bytes().await.expect("body").is_empty());
        let again =
            client.get(app.url(&format!("/static/{name}"))).header(IF_NONE_MATCH, etag).send().await.expect("get");
        assert_eq!(again.status(), 304, "{name}");
    }
    // Pages link versioned URLs, which are cached for good.
    let r = client.get(app.url("/login")).send().await.expect("get");
    let html = r.text().await.expect("body");
    let v = html.split("/static/app.css?v=").nth(1).and_then(|s| s.split('"').next()).expect("versioned link");
    let r = client.get(app.url(&format!("/static/app.css?v={v}"))).send().await.expect("get");
    assert_eq!(r.headers()[CACHE_CONTROL], "public, max-age=31536000, immutable");
    assert_eq!(client.get(app.url("/static/nope.js")).send().await.expect("get").status(), 404);
    // Pages carry a strict content security policy: no inline or external scripts.
    let r = client.get(app.url("/login")).send().await.expect("get");
    let csp = r.headers()["content-security-policy"].to_str().expect("ascii");
    assert!(csp.contains("script-src 'self'"), "{csp}");
}
