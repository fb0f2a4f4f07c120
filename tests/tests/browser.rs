//! The bureau dashboard in a real browser: Debian's headless Chromium loads the pages from a server spawned in
//! this process (demo mode), sees live records arrive over SSE, and checks a record's proofs with WebCrypto.
//! Screenshots go to `target/browser-screenshots/`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use siteledger_api::auth::Role;
use siteledger_api::config::Config;
use siteledger_e2e::{HeadlessChromium, SignedCity, city_key, eval, ingest, screenshot, wait_until};

/// Each in-page wait's budget (a condition polled in the page; the budget only turns a hang into a failure).
const WAIT: Duration = siteledger_e2e::PATIENCE;

pub(crate) fn screenshot_dir() -> PathBuf {
    // CARGO_TARGET_TMPDIR is `<target>/tmp`; the screenshots sit beside it.
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().map_or(tmp.clone(), |t| t.to_path_buf()).join("browser-screenshots")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_works_in_a_real_browser() -> anyhow::Result<()> {
    siteledger_e2e::chromium_or_fail();
    let dir = tempfile::tempdir()?;
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse()?,
        demo: true,
        log_origin: "e2e.siteledger.example/log".into(),
        trust_roots: vec![city_key().public().to_base64()],
        checkpoint_interval_ms: 50,
        ..Config::default()
    };
    // A log key whose key string contains '+' and '/': the browser must parse it right every time.
    std::fs::create_dir_all(config.key_dir())?;
    siteledger_e2e::awkward_log_key(&config.log_origin).write_file(&config.key_dir().join("log.key"))?;
    let server = siteledger_api::server::spawn(config).await?;
    let vkey = server.state.ledger.log_verifier().vkey();
    assert!(vkey.splitn(3, '+').nth(2).is_some_and(|k| k.contains('+')), "{vkey}");
    let base = server.url();

    // Our own signed data, so the test does not depend on the demo simulator.
    let token = server.state.tokens.create("e2e", Role::City, None, 1).await?.secret;
    let client = reqwest::Client::builder().timeout(siteledger_e2e::PATIENCE).build()?;
    let mut city = SignedCity::new();
    let mut envs = city.registry()?;
    for n in 0..5 {
        envs.push(city.reading(0, n)?);
        envs.push(city.reading(1, n)?);
    }
    envs.push(city.alarm(0)?);
    ingest(&client, &base, &token, &envs).await?;

    // Keep records coming while the browser looks: one reading every 300 ms, an alarm every tenth.
    let sent = Arc::new(AtomicU64::new(0));
    let producer = {
        let (client, base, token, sent) = (client.clone(), base.clone(), token.clone(), Arc::clone(&sent));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(300));
            let mut n = 100;
            loop {
                tick.tick().await;
                n += 1;
                let env = if n % 10 == 0 { city.alarm(0) } else { city.reading((n % 2) as usize, n) };
                let Ok(env) = env else { continue };
                match ingest(&client, &base, &token, &[env]).await {
                    Ok(()) => {
                        sent.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => eprintln!("live producer: {e}"),
                }
            }
        })
    };

    let shots = screenshot_dir();
    let browser = HeadlessChromium::launch().await?;
    let result = async {
        // 1. City overview: title, district cards, live counter moving.
        let page = browser.open(&format!("{base}/")).await?;
        wait_until(
            &page,
            "document.title.includes('城市总览') && document.querySelectorAll('.card.district').length >= 10",
            "({title: document.title, cards: document.querySelectorAll('.card.district').length})",
            WAIT,
        )
        .await?;
        let title: String = eval(&page, "document.title").await?;
        assert!(title.contains("宁波市智慧工地监管平台"), "title {title:?}");
        let banner: String = eval(&page, "document.querySelector('.demo-banner').textContent").await?;
        assert!(banner.contains("演示模式"), "banner {banner:?}");
        let yinzhou: String =
            eval(&page, "document.querySelector('.card.district[data-district=\"330212\"]').textContent").await?;
        assert!(yinzhou.contains("鄞州区"), "{yinzhou}");
        wait_until(
            &page,
            "document.getElementById('live').classList.contains('on') && \
             Number(document.getElementById('live-count').textContent) >= 3",
            "({state: document.getElementById('live-state').textContent, \
              count: document.getElementById('live-count').textContent})",
            WAIT,
        )
        .await?;
        // A live alarm reaches the latest-alarms list.
        wait_until(
            &page,
            "document.querySelector('#alarm-feed .alarm-item.fresh') !== null",
            "document.getElementById('alarm-feed').textContent",
            WAIT,
        )
        .await?;
        screenshot(&page, &shots.join("overview.png")).await?;

        // 2. The project page: participants, tiles, timeline; a live row arrives.
        let page = browser.open(&format!("{base}/projects/E2E-0001")).await?;
        wait_until(
            &page,
            "document.querySelectorAll('#timeline tbody tr').length >= 5",
            "document.body.innerText.slice(0, 500)",
            WAIT,
        )
        .await?;
        let facts: String = eval(&page, "document.querySelector('.facts').textContent").await?;
        for text in ["浙江甬城建设集团有限公司", "施工总承包", "建设单位", "监理", "¥2,350,000,000.00"]
        {
            assert!(facts.contains(text), "project facts lack {text:?}: {facts}");
        }
        let tiles: String = eval(&page, "document.getElementById('tiles').textContent").await?;
        assert!(tiles.contains("扬尘噪声"), "{tiles}");
        wait_until(
            &page,
            "document.querySelector('#timeline tbody tr.fresh') !== null && \
             Number(document.getElementById('live-count').textContent) >= 1",
            "({count: document.getElementById('live-count').textContent, \
              rows: document.querySelectorAll('#timeline tbody tr').length})",
            WAIT,
        )
        .await?;
        screenshot(&page, &shots.join("project.png")).await?;

        // 3. Verify a real record (the newest server-rendered row) in the browser.
        let href: String =
            eval(&page, "document.querySelector('#timeline tbody tr:not(.fresh) a.verify-link').getAttribute('href')")
                .await?;
        assert!(href.starts_with("/verify/"), "{href}");
        let page = browser.open(&format!("{base}{href}")).await?;
        wait_until(
            &page,
            "document.getElementById('verdict').dataset.result !== undefined",
            "document.getElementById('checks').innerText",
            WAIT,
        )
        .await?;
        let checks: String = eval(&page, "document.getElementById('checks').innerText").await?;
        let verdict: String = eval(&page, "document.getElementById('verdict').dataset.result").await?;
        assert_eq!(verdict, "pass", "verification failed in the browser:\n{checks}");
        let passed: u64 = eval(&page, "document.querySelectorAll('#checks .check.pass').length").await?;
        let all: u64 = eval(&page, "document.querySelectorAll('#checks .check').length").await?;
        assert_eq!((passed, all), (5, 5), "{checks}");
        assert!(!checks.contains("未通过"), "{checks}");
        assert_eq!(checks.matches("通过").count(), 5, "{checks}");
        let cmd: String = eval(&page, "document.getElementById('verify-cmd').textContent").await?;
        assert!(cmd.starts_with("siteledger-verify evidence-") && cmd.contains("--log-key"), "{cmd}");
        screenshot(&page, &shots.join("verify.png")).await?;

        // 4. The checks are real: a bundle whose record was altered in transit fails in the browser.
        let tamper = r#"(() => {
            const fetch0 = window.fetch.bind(window);
            window.fetch = (url, opts) => fetch0(url, opts).then((r) => {
                if (String(url).indexOf('/v1/evidence/') < 0) return r;
                return r.text().then((text) => {
                    const b = JSON.parse(text);
                    const id = location.pathname.split('/').pop();
                    b.records.forEach((rec) => { if (rec.envelope.id === id) rec.envelope.occurred_at = '2026-01-01T00:00:00+08:00'; });
                    return new Response(JSON.stringify(b), { status: r.status, headers: r.headers });
                });
            });
        })();"#;
        let page = browser.open_with_init_script(&format!("{base}{href}"), tamper).await?;
        wait_until(
            &page,
            "document.getElementById('verdict').dataset.result !== undefined",
            "document.getElementById('checks').innerText",
            WAIT,
        )
        .await?;
        let verdict: String = eval(&page, "document.getElementById('verdict').dataset.result").await?;
        let states: Vec<String> = eval(
            &page,
            "Array.from(document.querySelectorAll('#checks .check')).map((li) => li.dataset.check + '=' + \
             (li.classList.contains('pass') ? 'pass' : 'fail'))",
        )
        .await?;
        assert_eq!(verdict, "fail", "{states:?}");
        assert_eq!(
            states,
            [
                "log_key=pass",
                "checkpoint_signature=pass",
                "inclusion=fail",
                "signature=fail",
                "key_enrollment=pass"
            ],
            "a tampered record must fail exactly its inclusion and signature checks"
        );
        screenshot(&page, &shots.join("verify-tampered.png")).await?;

        // 5. The other pages render (screenshots for a look): district, alarms, keys, a 404.
        for (path, ready, name) in [
            ("/districts/330212", "document.querySelectorAll('#projects tbody tr').length >= 1", "district.png"),
            ("/alarms", "document.querySelectorAll('#alarms tbody tr').length >= 1", "alarms.png"),
            ("/keys", "document.querySelectorAll('#keys tbody tr').length >= 3", "keys.png"),
            ("/projects/NO-SUCH-PROJECT", "document.querySelector('.error-code').textContent === '404'", "not-found.png"),
        ] {
            let page = browser.open(&format!("{base}{path}")).await?;
            wait_until(&page, ready, "document.body.innerText.slice(0, 300)", WAIT).await?;
            screenshot(&page, &shots.join(name)).await?;
        }
        let page = browser.open(&format!("{base}/districts/330212")).await?;
        let district: String = eval(&page, "document.getElementById('projects').innerText").await?;
        assert!(district.contains("鄞州区东部新城人才公寓") && district.contains("浙江甬城建设集团有限公司"), "{district}");
        anyhow::Ok(())
    }
    .await;

    browser.close().await;
    producer.abort();
    assert!(sent.load(Ordering::Relaxed) > 0, "the live producer sent nothing");
    server.shutdown().await;
    result?;
    eprintln!("screenshots: {}", shots.display());
    Ok(())
}
