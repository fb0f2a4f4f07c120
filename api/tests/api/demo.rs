//! The demo city (`serve --demo`): the registry and the producers go through the real ingest path, readings and
//! alarms flow, nothing is rejected, and a restart on the same data directory resumes every chain.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use siteledger_api::auth::Role;
use siteledger_api::state::AppState;

use crate::helpers::TestApp;

/// Fast producers for the test: each site posts every 200–600 ms.
const TICK_MS: u64 = 200;

async fn get_json(app: &TestApp, path: &str, token: &str) -> Value {
    let resp = app.get(path, Some(token)).await;
    assert_eq!(resp.status(), 200, "GET {path}");
    resp.json().await.expect("json")
}

/// Polls `check` whenever the log grows (bounded by `limit`); panics with `what` if it never holds.
async fn wait_for<F, Fut>(app: &TestApp, what: &str, limit: Duration, mut check: F) -> Value
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<Value>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    let mut head = app.server.state.ledger.watch_head();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        let _ = tokio::time::timeout(Duration::from_millis(500), head.changed()).await;
    }
}

/// Records in the log by kind, and how many the ledger's system key signed.
async fn census(state: &AppState) -> (BTreeMap<String, usize>, usize) {
    let (_, system) = siteledger_api::admin::show_keys(&state.config).expect("keys");
    // The platform's own records are signed by the server, not posted: the ledger's and the vault's access records.
    let audit =
        siteledger_signer::SigningKey::read_file(&state.config.key_dir().join(siteledger_api::vault::AUDIT_KEY_FILE))
            .expect("vault-audit key")
            .key_id()
            .to_string();
    let mut kinds = BTreeMap::new();
    let mut by_system = 0;
    let mut from = 0;
    loop {
        let page = state.ledger.read_all(from, 1000).await.expect("read");
        let Some(last) = page.last() else { break };
        from = last.position + 1;
        for e in &page {
            *kinds.entry(e.kind.clone()).or_default() += 1;
            by_system += usize::from(e.signer == system || e.signer == audit);
        }
    }
    (kinds, by_system)
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(' ')).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

fn rejection_lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.starts_with("siteledger_ingest_rejections_total{")).collect()
}

/// Projects whose streams hold at least `n` records.
fn projects_with_events(projects: &Value, n: u64) -> usize {
    projects.as_array().expect("array").iter().filter(|p| p["events"].as_u64().unwrap_or(0) >= n).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_city_runs_through_the_api_and_resumes_after_a_restart() {
    siteledger_api::demo::set_tick_ms(TICK_MS);
    let app = TestApp::spawn_with(|c| c.demo = true).await;
    let token = app.token(Role::City, None).await;

    // The registry arrives, then readings from (nearly) every site.
    let projects = wait_for(&app, "readings from 30 projects", Duration::from_secs(90), || async {
        let p = get_json(&app, "/v1/projects", &token).await;
        (p.as_array().is_some_and(|a| a.len() >= 40) && projects_with_events(&p, 3) >= 30).then_some(p)
    })
    .await;
    let rows = projects.as_array().expect("array");
    assert!(rows.len() >= 40, "{} projects", rows.len());
    assert!(rows.iter().all(|p| p["participants"].as_u64().unwrap_or(0) >= 3), "owner, contractor, supervisor");
    assert!(rows.iter().any(|p| p["name"].as_str().is_some_and(|n| n.contains("安置房"))));

    let districts = get_json(&app, "/v1/districts", &token).await;
    let with_projects: Vec<&Value> =
        districts.as_array().expect("array").iter().filter(|d| d["projects"].as_u64().unwrap_or(0) > 0).collect();
    assert!(with_projects.len() >= 10, "{districts}");
    assert!(with_projects.iter().any(|d| d["code"] == "ZONE-NBHTZ" && d["name"] == "宁波国家高新区"), "{districts}");

    // One site starts in a dust episode: an alarm comes early, with a Chinese message.
    let alarms = wait_for(&app, "a dust alarm", Duration::from_secs(60), || async {
        let a = get_json(&app, "/v1/alarms", &token).await;
        a.as_array().is_some_and(|a| a.iter().any(|x| x["category"] == "dust")).then_some(a)
    })
    .await;
    let dust = alarms.as_array().expect("array").iter().find(|a| a["category"] == "dust").expect("dust");
    assert!(dust["message"].as_str().is_some_and(|m| m.contains("PM10 小时均值")), "{dust}");
    assert_eq!(dust["threshold"], "150");

    // In demo mode an anonymous visitor may read.
    let resp = app.client.get(app.url("/v1/projects")).send().await.expect("request");
    assert_eq!(resp.status(), 200);

    // Nothing the demo sent was rejected.
    let text = app.get("/metrics", None).await.text().await.expect("text");
    assert!(rejection_lines(&text).is_empty(), "{:?}", rejection_lines(&text));

    // Shut down, then check the log: every record but the ledger's own came in through the API.
    let state = app.server.state.clone();
    let TestApp { server, dir, .. } = app;
    server.shutdown().await;
    let accepted = metric(&state.metrics.render(&[]), "siteledger_ingest_accepted_total") as usize;
    let (kinds, by_system) = census(&state).await;
    let size: usize = kinds.values().sum();
    assert_eq!(accepted + by_system, size, "{kinds:?}");
    assert!(!kinds.contains_key("ledger.signer.gap.v1") && !kinds.contains_key("ledger.signer.equivocation.v1"));
    assert_eq!(kinds.get("registry.project.registered.v1"), Some(&42));
    // The registry plan's fifteen, plus what subsystem demos register (e.g. the supervision demo's laboratory).
    assert!(kinds.get("registry.enterprise.registered.v1").is_some_and(|n| *n >= 15), "{kinds:?}");
    assert_eq!(kinds.get("registry.zone.added.v1"), Some(&1));
    assert!(kinds.get("env.dust_noise.reading.v1").is_some_and(|n| *n >= 60));
    assert!(kinds.contains_key("alarm.raised.v1"));
    let readings_before = kinds["env.dust_noise.reading.v1"];
    // Let the old instance's last checkpoint land before another instance opens the same files.
    state.ledger.checkpoint_now().await.expect("final checkpoint");
    drop(state);

    // Restart on the same data directory: the registry is not written again, every gateway chain resumes.
    let data_dir = dir.path().to_path_buf();
    let app = TestApp::spawn_with(|c| {
        c.demo = true;
        c.data_dir = data_dir.clone();
    })
    .await;
    let token = app.token(Role::City, None).await;
    // Other areas post too, so count the dust/noise readings themselves: the resumed gateway chains must add some.
    wait_for(&app, "readings after the restart", Duration::from_secs(90), || async {
        let text = app.get("/metrics", None).await.text().await.expect("text");
        assert!(rejection_lines(&text).is_empty(), "{:?}", rejection_lines(&text));
        let (kinds, _) = census(&app.server.state).await;
        (kinds.get("env.dust_noise.reading.v1").copied().unwrap_or(0) >= readings_before + 60).then_some(Value::Null)
    })
    .await;
    // One gateway per project (42), plus the six site gateway agents of `demo/site.rs` (GW-AGENT), which that area
    // enrols when it starts: the first run may have stopped before it did, so wait for the read model to show them.
    let keys = wait_for(&app, "the 48 gateway keys", Duration::from_secs(90), || async {
        let keys = get_json(&app, "/v1/keys", &token).await;
        let n = keys.as_array().expect("array").iter().filter(|k| k["role"] == "gateway").count();
        (n >= 42 + 6).then_some(keys)
    })
    .await;
    let gateways: Vec<&Value> = keys.as_array().expect("array").iter().filter(|k| k["role"] == "gateway").collect();
    assert_eq!(gateways.len(), 42 + 6);
    assert!(gateways.iter().all(|k| k["gaps"] == 0), "no chain gaps");
    let state = app.server.state.clone();
    let TestApp { server, dir: _dir2, .. } = app;
    server.shutdown().await;
    let (kinds, _) = census(&state).await;
    assert_eq!(kinds.get("registry.project.registered.v1"), Some(&42), "registry written once");
    assert!(kinds["env.dust_noise.reading.v1"] > readings_before);
    assert!(!kinds.contains_key("ledger.signer.gap.v1") && !kinds.contains_key("ledger.signer.equivocation.v1"));
    drop(dir);
}
