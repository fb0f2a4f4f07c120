//! A real server in demo mode on port 0 with its own data directory (SQLite files), and the demo city set up on it
//! through its API ([`DemoApp::setup`]). Nothing runs on a timer unless a test calls `go_live`: the tests drive the
//! demo's steps themselves and wait on conditions (the read models' own signal), never on the wall clock.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use siteledger_api::auth::Role;
use siteledger_api::config::Config;
use siteledger_api::server::RunningServer;
use siteledger_demo::{Demo, DemoConfig};

/// How long a test waits for something that must happen before it fails. Generous on purpose: other builds and
/// test processes may keep every core busy, and every wait is on a condition, so a quiet machine never waits this
/// long. (nextest stops a test after 300 s.)
pub const PATIENCE: Duration = Duration::from_secs(240);

/// A server in demo mode (the demo city's root key trusted, anonymous visitors read) on `dir`, port 0.
pub fn demo_config(dir: &Path) -> Config {
    Config {
        data_dir: dir.to_path_buf(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        log_origin: "demo-test.siteledger.example/log".into(),
        checkpoint_interval_ms: 50,
        demo: true,
        ..Config::default()
    }
}

pub struct DemoApp {
    pub server: RunningServer,
    pub demo: Demo,
    pub client: reqwest::Client,
    pub dir: tempfile::TempDir,
}

impl DemoApp {
    /// A fresh data directory, a server in demo mode on it, and the demo city's registry and history written
    /// through its API (every area set up: asserted).
    pub async fn setup() -> DemoApp {
        DemoApp::setup_in(tempfile::tempdir().expect("tempdir"), DemoConfig::default()).await
    }

    /// The same on an existing data directory (a restart), with `config`.
    pub async fn setup_in(dir: tempfile::TempDir, config: DemoConfig) -> DemoApp {
        let server = siteledger_api::server::spawn(demo_config(dir.path())).await.expect("server starts");
        let demo = Demo::setup(server.state.clone(), server.addr, server.shutdown_signal(), config)
            .await
            .expect("the demo city is set up");
        assert!(demo.failures().is_empty(), "{:?}", demo.failures());
        let client = reqwest::Client::builder().timeout(PATIENCE).build().expect("client");
        DemoApp { server, demo, client, dir }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url())
    }

    pub async fn token(&self, role: Role, scope: Option<&str>) -> String {
        self.server.state.tokens.create("test", role, scope, 1).await.expect("token").secret
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut r = self.client.get(self.url(path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send().await.expect("request")
    }

    pub async fn get_json(&self, path: &str, token: &str) -> Value {
        let resp = self.get(path, Some(token)).await;
        assert_eq!(resp.status(), 200, "GET {path}");
        resp.json().await.expect("json")
    }

    /// Waits until the read models have applied everything the log holds now.
    pub async fn settle(&self) {
        settle(&self.server).await;
    }

    /// The `siteledger_ingest_rejections_total` lines of `/metrics`: records the server refused.
    pub async fn rejections(&self) -> Vec<String> {
        let text = self.get("/metrics", None).await.text().await.expect("text");
        text.lines().filter(|l| l.starts_with("siteledger_ingest_rejections_total{")).map(str::to_owned).collect()
    }
}

/// Waits until `server`'s read models have applied everything its log holds now (on the projector's signal;
/// [`PATIENCE`] only turns a stuck projector into a failure).
pub async fn settle(server: &RunningServer) {
    let head = server.state.ledger.head();
    let mut applied = server.state.read.watch_applied();
    match tokio::time::timeout(PATIENCE, applied.wait_for(|a| *a >= head)).await {
        Ok(Ok(_)) => {}
        Ok(Err(_)) => panic!("the projector stopped before applying the log's first {head} records"),
        Err(_) => panic!(
            "the read models applied {} of the log's first {head} records in {PATIENCE:?}",
            server.state.read.applied()
        ),
    }
}
