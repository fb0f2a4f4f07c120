//! Server configuration: defaults, then a TOML file, then `SITELEDGER_*` environment variables, then flags (the
//! last two are merged by clap in the `siteledger` command, `cli/src/main.rs`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Everything `siteledger serve` needs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the embedded stores and key files live.
    pub data_dir: PathBuf,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Event store URL: `sqlite:PATH` (default: `<data_dir>/ledger.db`), `postgres://…`, `kurrentdb://…`.
    pub store_url: Option<String>,
    /// Read-model database URL: `sqlite:PATH` (default `<data_dir>/read.db`) or `postgres://…`.
    pub read_url: Option<String>,
    /// Token database URL (default `<data_dir>/auth.db`).
    pub auth_url: Option<String>,
    /// Attachment store (附件, docs/ATTACHMENTS.md): `fs:PATH` (files under PATH, metadata in `PATH.db`) or
    /// `postgres://…`. Default: the event store's PostgreSQL database when the event store is PostgreSQL, else
    /// `fs:<data_dir>/blobs`.
    pub blob_url: Option<String>,
    /// Largest accepted attachment (`POST /v1/blobs`), bytes.
    pub max_blob_bytes: usize,
    /// The log's origin line and key name.
    pub log_origin: String,
    /// The log key's algorithm when the log is created: `ed25519` (default; Go's `sumdb/note` and every C2SP tool
    /// verify its checkpoints) or `sm2` (SM2 over SM3 checkpoints for 密评, docs/FORMAT.md §12; verified by
    /// `siteledger-verify`, the verify page and `siteledger witness`). Unset: whatever `keys/log.key` holds.
    pub log_key_alg: Option<String>,
    /// Base64 public keys allowed to enrol themselves (the city bureau's root key).
    pub trust_roots: Vec<String>,
    /// Records dated more than this many seconds ahead of the server's clock are refused (`future_occurred_at`);
    /// device clocks drift, so keep a few minutes.
    pub max_clock_skew_secs: u64,
    /// Checkpoint after this many records…
    pub checkpoint_every: u64,
    /// …or this many milliseconds after the first uncovered record.
    pub checkpoint_interval_ms: u64,
    /// Store a snapshot of the admission state with the first checkpoint this many records after the last one
    /// (0: never), so start-up replays only the records after it (docs/LEDGER.md, "Start-up").
    pub snapshot_every: u64,
    /// Days of raw site readings the read models keep before the latest reading folded (0: all); older ones are
    /// answered from hourly/daily roll-ups, the log keeps everything (docs/SITE.md, "Retention").
    pub raw_retention_days: u32,
    /// At start-up, ignore the admission-state snapshots and replay the whole log (`serve --replay-from-zero`).
    pub replay_from_zero: bool,
    /// Largest accepted request body, bytes.
    pub max_body_bytes: usize,
    /// Largest batch of records per ingest request.
    pub max_batch: usize,
    /// Events kept for live-feed subscribers before a slow one is told to resume.
    pub feed_buffer: usize,
    /// Maximum concurrent live-feed subscribers.
    pub max_feed_subscribers: usize,
    /// Demo mode: the dashboard and API open read-only to anonymous visitors, demo tokens accepted, and the demo
    /// city's root key (`<data_dir>/keys/demo-city.key`) trusted. The server does not simulate anything itself:
    /// `siteledger serve --demo` starts the simulated city (`siteledger-demo`) beside it.
    pub demo: bool,
    /// With `demo`: `siteledger serve` runs the demo city's simulation (default). `false` serves demo mode over
    /// whatever the data directory holds, without the simulation.
    pub demo_simulation: bool,
    /// Witnesses that cosign each new checkpoint (`[[witnesses]]` with `url` and `key`; docs/FORMAT.md §9).
    pub witnesses: Vec<crate::witnessing::WitnessTarget>,
    /// Time-stamping authorities asked for an RFC 3161 token for each new checkpoint (`[[tsas]]` with `url` and
    /// `root`, a PEM file; docs/FORMAT.md §10).
    pub tsas: Vec<crate::timestamping::TsaTarget>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from(".siteledger"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            store_url: None,
            read_url: None,
            auth_url: None,
            blob_url: None,
            max_blob_bytes: 32 * 1024 * 1024,
            log_origin: "siteledger.ningbo.example/log".into(),
            log_key_alg: None,
            trust_roots: Vec::new(),
            max_clock_skew_secs: siteledger_ledger::sequencer::DEFAULT_MAX_CLOCK_SKEW.as_secs(),
            checkpoint_every: 4096,
            checkpoint_interval_ms: 1000,
            snapshot_every: siteledger_ledger::sequencer::DEFAULT_SNAPSHOT_EVERY,
            raw_retention_days: siteledger_projections::DEFAULT_RAW_RETENTION_DAYS,
            replay_from_zero: false,
            max_body_bytes: 8 * 1024 * 1024,
            max_batch: 10_000,
            feed_buffer: 4096,
            max_feed_subscribers: 10_000,
            demo: false,
            demo_simulation: true,
            witnesses: Vec::new(),
            tsas: Vec::new(),
        }
    }
}

impl Config {
    /// Reads a TOML file over the defaults.
    pub fn from_file(path: &Path) -> Result<Config, String> {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("config file {}: {e}", path.display()))
    }

    /// The event store URL in effect.
    pub fn store_url(&self) -> String {
        self.store_url.clone().unwrap_or_else(|| format!("sqlite:{}", self.data_dir.join("ledger.db").display()))
    }

    /// The read-model URL in effect.
    pub fn read_url(&self) -> String {
        self.read_url.clone().unwrap_or_else(|| format!("sqlite:{}", self.data_dir.join("read.db").display()))
    }

    /// The token database URL in effect.
    pub fn auth_url(&self) -> String {
        self.auth_url.clone().unwrap_or_else(|| format!("sqlite:{}", self.data_dir.join("auth.db").display()))
    }

    /// The attachment store URL in effect.
    pub fn blob_url(&self) -> String {
        if let Some(url) = &self.blob_url {
            return url.clone();
        }
        let store = self.store_url();
        if store.starts_with("postgres://") || store.starts_with("postgresql://") {
            store
        } else {
            format!("fs:{}", self.data_dir.join("blobs").display())
        }
    }

    /// The configured log key algorithm, checked.
    pub fn log_key_algorithm(&self) -> anyhow::Result<Option<siteledger_signer::keys::KeyAlgorithm>> {
        self.log_key_alg
            .as_deref()
            .map(siteledger_signer::keys::KeyAlgorithm::parse)
            .transpose()
            .map_err(|e| anyhow::anyhow!("log_key_alg: {e}"))
    }

    /// The log key, loaded or created (`keys/log.key`, [`crate::node::load_or_create_log_key`]).
    pub fn log_key(&self) -> anyhow::Result<siteledger_signer::keys::AnySigningKey> {
        crate::node::load_or_create_log_key(&self.key_dir().join("log.key"), self.log_key_algorithm()?)
    }

    /// Directory of the server's own key files (mode 0700, files 0600).
    pub fn key_dir(&self) -> PathBuf {
        self.data_dir.join("keys")
    }
}
