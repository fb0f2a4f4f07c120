//! The witness's configuration file (TOML): who it is and which logs it follows.
//!
//! ```toml
//! name = "witness.example/w1"          # the witness's key name (a schema-less URL)
//! key_file = "witness.key"             # its Ed25519 key, mode 0600 (siteledger witness init writes one)
//! state_dir = "state"                  # one state file per log origin
//! listen = "127.0.0.1:7380"
//! [[log]]
//! key = "siteledger.example/ningbo/log+1a2b3c4d+AR..."   # the log's verifier key; its name is the origin
//! ```
//!
//! Relative paths are relative to the configuration file's directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use siteledger_signer::SigningKey;
use siteledger_signer::cosignature::Cosigner;
use siteledger_signer::note::NoteVerifier;

use crate::state::StateStore;
use crate::witness::{Clock, Witness};

/// The file's contents.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessConfig {
    /// The witness's name.
    pub name: String,
    /// Its key file.
    pub key_file: PathBuf,
    /// Its state directory.
    pub state_dir: PathBuf,
    /// Where it listens.
    pub listen: SocketAddr,
    /// The logs it witnesses.
    #[serde(rename = "log", default)]
    pub logs: Vec<LogEntry>,
    /// The file it was read from (for error messages).
    #[serde(skip)]
    pub source: PathBuf,
}

/// One followed log.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogEntry {
    /// The log's verifier key string (`<origin>+<hex id>+<base64(0x01 ‖ key)>`).
    pub key: String,
}

/// Why the configuration is unusable (the witness does not start).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read witness config {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not valid configuration (the message names the member).
    #[error("witness config {path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong, where.
        message: String,
    },
}

impl WitnessConfig {
    /// Reads and checks a configuration file, resolving relative paths against its directory.
    pub fn read(path: &Path) -> Result<WitnessConfig, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: shown.clone(), source })?;
        let mut cfg: WitnessConfig =
            toml::from_str(&text).map_err(|e| ConfigError::Invalid { path: shown.clone(), message: e.to_string() })?;
        let base = path.parent().unwrap_or(Path::new("."));
        cfg.key_file = base.join(&cfg.key_file);
        cfg.state_dir = base.join(&cfg.state_dir);
        cfg.source = path.to_owned();
        if cfg.logs.is_empty() {
            return Err(ConfigError::Invalid { path: shown, message: "no [[log]] to witness".into() });
        }
        Ok(cfg)
    }

    /// Builds the witness: reads the key file (refusing one readable by others), parses every log key (refusing a
    /// log named twice), opens the state directory.
    pub fn witness(&self, clock: Clock) -> Result<Witness, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid { path: self.source.display().to_string(), message };
        let key = SigningKey::read_file(&self.key_file).map_err(|e| invalid(format!("key_file: {e}")))?;
        let cosigner = Cosigner::new(&self.name, key).map_err(|e| invalid(format!("name: {e}")))?;
        let mut logs: Vec<NoteVerifier> = Vec::new();
        for (i, l) in self.logs.iter().enumerate() {
            let v = NoteVerifier::parse(&l.key).map_err(|e| invalid(format!("log[{i}].key: {e}")))?;
            if logs.iter().any(|o| o.name() == v.name()) {
                return Err(invalid(format!("log[{i}]: origin {:?} is configured twice", v.name())));
            }
            logs.push(v);
        }
        let state = StateStore::open(&self.state_dir).map_err(|e| invalid(format!("state_dir: {e}")))?;
        Ok(Witness::new(cosigner, logs, state, clock))
    }
}
