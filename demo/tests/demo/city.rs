//! The demo city (`serve --demo`): the registry, the history and the gateways' readings go through the real ingest
//! path, readings and alarms flow, nothing is rejected, and a restart on the same data directory resumes every
//! chain. The test drives the gateways tick by tick ([`siteledger_demo::Demo::tick`]).

use std::collections::BTreeMap;

use serde_json::Value;
use siteledger_api::auth::Role;
use siteledger_api::state::AppState;
use siteledger_demo::DemoConfig;
use siteledger_demo::city;

use crate::helpers::DemoApp;

/// Records in the log by kind, and how many the platform signed itself (the ledger's system key and the vault's
/// access records).
async fn census(state: &AppState) -> (BTreeMap<String, usize>, usize) {
    let key_id = |file: &str| {
        siteledger_signer::SigningKey::read_file(&state.config.key_dir().join(file))
            .expect("server key file")
            .key_id()
            .to_string()
    };
    let system = key_id("system.key");
    let audit = key_id(siteledger_api::vault::AUDIT_KEY_FILE);
    let mut kinds = BTreeMap::new();
    let mut by_platform = 0;
    let mut from = 0;
    loop {
        let page = state.ledger.read_all(from, 1000).await.expect("read");
        let Some(last) = page.last() else { break };
        from = last.position + 1;
        for e in &page {
            *kinds.entry(e.kind.clone()).or_default() += 1;
            by_platform += usize::from(e.signer == system || e.signer == audit);
        }
    }
    (kinds, by_platform)
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(' ')).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

/// Projects whose streams hold at least `n` records.
fn projects_with_events(projects: &Value, n: u64) -> usize {
    projects.as_array().expect("array").iter().filter(|p| p["events"].as_u64().unwrap_or(0) >= n).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_city_runs_through_the_api_and_resumes_after_a_restart() {
    let mut app = DemoApp::setup().await;
    let token = app.token(Role::City, None).await;
    let projects_planned = city::projects(siteledger_demo::PROJECT_PREFIX, &city::enterprises()).len();
    assert_eq!(projects_planned, 42);

    // Three ticks: every gateway posts a reading each time (the flaky sites' first gap comes 30 ticks in at the
    // earliest), and the hot site, in a dust episode from the start, raises a dust alarm.
    for _ in 0..3 {
        assert_eq!(app.demo.tick().await.expect("tick"), projects_planned, "every gateway posted");
    }
    app.settle().await;
    let projects = app.get_json("/v1/projects", &token).await;
    let rows = projects.as_array().expect("array");
    assert_eq!(rows.len(), projects_planned);
    assert_eq!(projects_with_events(&projects, 3), projects_planned, "{projects}");
    assert!(rows.iter().all(|p| p["participants"].as_u64().unwrap_or(0) >= 3), "owner, contractor, supervisor");
    assert!(rows.iter().any(|p| p["name"].as_str().is_some_and(|n| n.contains("安置房"))));

    let districts = app.get_json("/v1/districts", &token).await;
    let with_projects: Vec<&Value> =
        districts.as_array().expect("array").iter().filter(|d| d["projects"].as_u64().unwrap_or(0) > 0).collect();
    assert!(with_projects.len() >= 10, "{districts}");
    assert!(with_projects.iter().any(|d| d["code"] == "ZONE-NBHTZ" && d["name"] == "宁波国家高新区"), "{districts}");

    let alarms = app.get_json("/v1/alarms", &token).await;
    let dust = alarms.as_array().expect("array").iter().find(|a| a["category"] == "dust").expect("a dust alarm");
    assert!(dust["message"].as_str().is_some_and(|m| m.contains("PM10 小时均值")), "{dust}");
    assert_eq!(dust["threshold"], "150");

    // In demo mode an anonymous visitor may read.
    let resp = app.client.get(app.url("/v1/projects")).send().await.expect("request");
    assert_eq!(resp.status(), 200);

    assert!(app.rejections().await.is_empty(), "{:?}", app.rejections().await);

    // Shut down, then check the log: every record but the platform's own came in through the API.
    let state = app.server.state.clone();
    let DemoApp { server, dir, .. } = app;
    server.shutdown().await;
    let accepted = metric(&state.metrics.render(&[]), "siteledger_ingest_accepted_total") as usize;
    let (kinds, by_platform) = census(&state).await;
    let size: usize = kinds.values().sum();
    assert_eq!(accepted + by_platform, size, "{kinds:?}");
    assert!(!kinds.contains_key("ledger.signer.gap.v1") && !kinds.contains_key("ledger.signer.equivocation.v1"));
    assert_eq!(kinds.get("registry.project.registered.v1"), Some(&42));
    // The registry plan's fifteen, plus what subsystem demos register (e.g. the supervision demo's laboratory).
    assert!(kinds.get("registry.enterprise.registered.v1").is_some_and(|n| *n >= 15), "{kinds:?}");
    assert_eq!(kinds.get("registry.zone.added.v1"), Some(&1));
    assert_eq!(kinds.get("env.dust_noise.reading.v1"), Some(&(3 * projects_planned)), "{kinds:?}");
    assert!(kinds.contains_key("alarm.raised.v1"));
    let readings_before = kinds["env.dust_noise.reading.v1"];
    // Let the old instance's last checkpoint land before another instance opens the same files.
    state.ledger.checkpoint_now().await.expect("final checkpoint");
    drop(state);

    // Restart on the same data directory: the registry and history are not written again, every gateway chain
    // resumes.
    let mut app = DemoApp::setup_in(dir, DemoConfig::default()).await;
    let token = app.token(Role::City, None).await;
    for _ in 0..3 {
        assert_eq!(app.demo.tick().await.expect("tick"), projects_planned, "every gateway posted after the restart");
    }
    app.settle().await;
    assert!(app.rejections().await.is_empty(), "{:?}", app.rejections().await);
    // One gateway per project (42), plus the six site gateway agents of `demo/src/site.rs` (GW-AGENT), which that
    // area enrols during setup.
    let keys = app.get_json("/v1/keys", &token).await;
    let gateways: Vec<&Value> = keys.as_array().expect("array").iter().filter(|k| k["role"] == "gateway").collect();
    assert_eq!(gateways.len(), 42 + 6, "{keys}");
    assert!(gateways.iter().all(|k| k["gaps"] == 0), "no chain gaps");
    let state = app.server.state.clone();
    let DemoApp { server, dir: _dir, .. } = app;
    server.shutdown().await;
    let (kinds, _) = census(&state).await;
    assert_eq!(kinds.get("registry.project.registered.v1"), Some(&42), "registry written once");
    assert_eq!(kinds["env.dust_noise.reading.v1"], readings_before + 3 * projects_planned);
    assert!(!kinds.contains_key("ledger.signer.gap.v1") && !kinds.contains_key("ledger.signer.equivocation.v1"));
}
