//! Fixtures shared by the ledger tests: keys, signers, envelopes, and backends (real SQLite files, a real
//! PostgreSQL started by the test harness).

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::json;
use siteledger_client::KeyedChain;
use siteledger_ledger::postgres::PgStore;
use siteledger_ledger::sqlite::SqliteStore;
use siteledger_ledger::system::{KEY_ENROLLED_KIND, KeyEnrollment};
use siteledger_ledger::{EventStore, Ledger, LedgerConfig};
use siteledger_signer::{Envelope, NoteSigner, PublicKey, SigningKey};
use uuid::Uuid;

pub const ORIGIN: &str = "test.siteledger.example/log";

pub fn log_signer() -> NoteSigner {
    NoteSigner::new(ORIGIN, SigningKey::from_seed(&[0x10; 32])).expect("log signer")
}

pub fn city_key() -> SigningKey {
    SigningKey::from_seed(&[0x21; 32])
}

/// A ledger configuration whose root of trust is the city key.
pub fn config() -> LedgerConfig {
    let mut c = LedgerConfig::new(log_signer(), SigningKey::from_seed(&[0x11; 32]));
    c.trust_roots = vec![*city_key().public()];
    c.checkpoint_every = 64;
    c.checkpoint_interval = Duration::from_millis(200);
    c
}

static COUNTER: AtomicU64 = AtomicU64::new(1);

/// A fresh UUIDv7 (unique across the test process).
pub fn new_id() -> Uuid {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut rand = [0u8; 10];
    rand[..8].copy_from_slice(&n.to_be_bytes());
    rand[8..].copy_from_slice(&std::process::id().to_be_bytes()[2..]);
    uuid::Builder::from_unix_timestamp_millis(1_790_000_000_000 + n, &rand).into_uuid()
}

pub fn enrollment(key: &PublicKey, subject: &str, role: &str) -> serde_json::Map<String, serde_json::Value> {
    KeyEnrollment {
        key_id: key.key_id().to_string(),
        public_key: key.to_base64(),
        subject: subject.into(),
        role: role.into(),
        valid_from: "2026-01-01T00:00:00+08:00".into(),
        valid_until: Some("2030-01-01T00:00:00+08:00".into()),
    }
    .to_payload()
}

/// The city bureau (root of trust) and helpers to enrol gateways and sign readings.
pub struct World {
    pub city: KeyedChain,
}

impl World {
    pub fn new() -> World {
        World { city: KeyedChain::new(city_key()) }
    }

    /// The city's self-enrollment (the first record a fresh ledger needs).
    pub fn root(&mut self) -> Envelope {
        let pk = *self.city.key().public();
        self.city
            .sign(
                new_id(),
                "registry/keys",
                KEY_ENROLLED_KIND,
                "2026-01-01T08:00:00+08:00",
                enrollment(&pk, "宁波市住建局", "city_bureau"),
            )
            .expect("sign")
    }

    /// A new gateway key and the city's record enrolling it.
    pub fn gateway(&mut self, seed: u8) -> (KeyedChain, Envelope) {
        let gw = KeyedChain::new(SigningKey::from_seed(&[seed; 32]));
        let pk = *gw.key().public();
        let env = self
            .city
            .sign(
                new_id(),
                "registry/keys",
                KEY_ENROLLED_KIND,
                "2026-01-02T08:00:00+08:00",
                enrollment(&pk, &format!("gateway-{seed}"), "gateway"),
            )
            .expect("sign");
        (gw, env)
    }
}

/// A dust reading on `stream`.
pub fn reading(gw: &mut KeyedChain, stream: &str, n: u64) -> Envelope {
    let at = format!("2026-03-01T{:02}:{:02}:{:02}+08:00", 8 + (n / 3600) % 12, (n / 60) % 60, n % 60);
    let payload = json!({"pm10_ug_m3": format!("{}.{}", 40 + n % 50, n % 10), "n": n});
    gw.sign(new_id(), stream, "iot.dust.reading.v1", &at, payload.as_object().expect("obj").clone()).expect("sign")
}

/// Something that can open stores on one database, again and again (to test restarts).
pub trait Backend: Send + Sync + 'static {
    type Store: EventStore;
    fn open(&self) -> impl Future<Output = Self::Store> + Send;
    fn name(&self) -> &'static str;
}

pub struct Sqlite {
    pub dir: tempfile::TempDir,
}

impl Sqlite {
    pub fn new() -> Sqlite {
        Sqlite { dir: tempfile::tempdir().expect("tempdir") }
    }
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("ledger.db")
    }
}

impl Backend for Sqlite {
    type Store = SqliteStore;
    async fn open(&self) -> SqliteStore {
        SqliteStore::open(&self.path()).await.expect("open sqlite store")
    }
    fn name(&self) -> &'static str {
        "sqlite"
    }
}

pub struct Postgres {
    pub url: String,
}

impl Postgres {
    pub fn new() -> Postgres {
        let pg = siteledger_testkit::shared_postgres();
        let url = pg.create_unique_database("ledger").expect("create database");
        Postgres { url }
    }
}

impl Backend for Postgres {
    type Store = PgStore;
    async fn open(&self) -> PgStore {
        PgStore::connect(&self.url).await.expect("connect postgres store")
    }
    fn name(&self) -> &'static str {
        "postgres"
    }
}

/// A ledger on a fresh store of `backend`, with the city root enrolled.
pub async fn ledger<B: Backend>(backend: &B, world: &mut World) -> Ledger<B::Store> {
    let l = Ledger::open(backend.open().await, config()).await.expect("open ledger");
    let out = l.ingest(vec![world.root()]).await.expect("ingest root");
    assert!(matches!(out[0], siteledger_ledger::IngestOutcome::Accepted { .. }), "{out:?}");
    l
}
