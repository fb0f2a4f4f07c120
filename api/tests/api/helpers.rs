//! Test helpers in the style of zero-to-production's `tests/api/helpers.rs`: every test spawns the real server on
//! port 0 with its own data directory (SQLite files) and talks to it over real TCP.

use std::time::Duration;

use serde_json::{Value, json};
use siteledger_api::auth::Role;
use siteledger_api::config::Config;
use siteledger_api::server::RunningServer;
use siteledger_client::KeyedChain;
use siteledger_signer::{Envelope, SigningKey};
use uuid::Uuid;

/// How long a test waits for something that must happen (the read models catching up, an answer) before it fails.
/// Generous on purpose: other builds and test processes may keep every core busy, and a wait is on a condition,
/// so a quiet machine never waits this long. (nextest stops a test after 300 s.)
pub const PATIENCE: Duration = Duration::from_secs(240);

/// The city bureau's root key in tests.
pub fn city_key() -> SigningKey {
    SigningKey::from_seed(&[0x21; 32])
}

pub struct TestApp {
    pub server: RunningServer,
    pub client: reqwest::Client,
    pub dir: tempfile::TempDir,
    pub city: KeyedChain,
}

static IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

pub fn new_id() -> Uuid {
    let n = IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut rand = [0u8; 10];
    rand[..8].copy_from_slice(&n.to_be_bytes());
    uuid::Builder::from_unix_timestamp_millis(1_790_000_000_000 + n, &rand).into_uuid()
}

pub fn obj(v: Value) -> serde_json::Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(f: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config {
            data_dir: dir.path().to_path_buf(),
            listen: "127.0.0.1:0".parse().expect("addr"),
            log_origin: "test.siteledger.example/log".into(),
            trust_roots: vec![city_key().public().to_base64()],
            checkpoint_interval_ms: 50,
            ..Config::default()
        };
        f(&mut config);
        let server = siteledger_api::server::spawn(config).await.expect("server starts");
        let client = reqwest::Client::builder().timeout(PATIENCE).build().expect("client");
        TestApp { server, client, dir, city: KeyedChain::new(city_key()) }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url())
    }

    pub async fn token(&self, role: Role, scope: Option<&str>) -> String {
        self.server.state.tokens.create("test", role, scope, 1).await.expect("token").secret
    }

    pub async fn post_events(&self, token: &str, body: &Value) -> reqwest::Response {
        self.client.post(self.url("/v1/events")).bearer_auth(token).json(body).send().await.expect("request")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut r = self.client.get(self.url(path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send().await.expect("request")
    }

    /// Ingests envelopes with a city token and asserts every one was accepted.
    pub async fn ingest_ok(&self, envs: &[Envelope]) -> Vec<u64> {
        let token = self.token(Role::City, None).await;
        let body = Value::Array(envs.iter().map(Envelope::to_value).collect());
        let resp = self.post_events(&token, &body).await;
        assert_eq!(resp.status(), 200);
        let v: Value = resp.json().await.expect("json");
        v["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|r| {
                assert_eq!(r["status"], "accepted", "{r}");
                r["position"].as_u64().expect("position")
            })
            .collect()
    }

    /// The city bureau's self-enrollment.
    pub fn root_enrollment(&mut self) -> Envelope {
        let pk = *self.city.key().public();
        self.city
            .sign(
                new_id(),
                "registry/keys",
                "ledger.key.enrolled.v1",
                "2026-01-01T08:00:00+08:00",
                enrollment(&pk, "宁波市住房和城乡建设局", "city_bureau"),
            )
            .expect("sign")
    }

    /// Waits until the read models have applied everything the log held when called (later records may still
    /// be arriving, so the moving head is not a target one can wait for). The wait is on the projector's own
    /// signal; [`PATIENCE`] only turns a stuck projector into a failure.
    pub async fn settle(&self) {
        let head = self.server.state.ledger.head();
        let mut applied = self.server.state.read.watch_applied();
        let caught_up = applied.wait_for(|a| *a >= head);
        match tokio::time::timeout(PATIENCE, caught_up).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => panic!("the projector stopped before applying the log's first {head} records"),
            Err(_) => panic!(
                "the read models applied {} of the log's first {head} records in {PATIENCE:?}",
                self.server.state.read.applied()
            ),
        }
    }
}

pub fn enrollment(key: &siteledger_signer::PublicKey, subject: &str, role: &str) -> serde_json::Map<String, Value> {
    obj(json!({
        "key_id": key.key_id().to_string(),
        "public_key": key.to_base64(),
        "subject": subject,
        "role": role,
        "valid_from": "2026-01-01T00:00:00+08:00",
        "valid_until": "2030-01-01T00:00:00+08:00",
    }))
}

/// The next page's path from a `Link: <…>; rel="next"` header, if the answer has one.
pub fn next_link(resp: &reqwest::Response) -> Option<String> {
    let link = resp.headers().get(reqwest::header::LINK)?.to_str().expect("ascii link");
    assert!(link.ends_with("; rel=\"next\""), "{link}");
    Some(link[link.find('<').expect("<") + 1..link.find('>').expect(">")].to_owned())
}
