//! The server's own keys: the log key (signs checkpoints), the system key (signs the ledger's own records) and
//! the vault-audit key (`vault-audit.key`, role `platform`: signs `vault.access.v1`, enrolled by the system key at
//! start). Created on first start under `<data_dir>/keys/` with mode 0600 and reused afterwards. The log key is
//! Ed25519 unless the configuration's `log_key_alg` asks for SM2 when the log is created (docs/FORMAT.md §12); the
//! others are always Ed25519.

use std::path::Path;

use siteledger_signer::SigningKey;
use siteledger_signer::keys::{AnySigningKey, KeyAlgorithm};
use siteledger_signer::sm2::{DEFAULT_ID, Sm2SigningKey};

/// Loads the log key (`keys/log.key`, either algorithm), or creates one of `alg` (default Ed25519) if there is
/// none. A log's key is fixed when its first checkpoint is signed (witnesses, auditors and every bundle pin it), so a
/// configured algorithm that differs from the existing file's is an error, never a new key.
pub fn load_or_create_log_key(path: &Path, alg: Option<KeyAlgorithm>) -> anyhow::Result<AnySigningKey> {
    if path.exists() {
        let key = AnySigningKey::read_file(path)?;
        if let Some(want) = alg.filter(|a| *a != key.algorithm()) {
            anyhow::bail!(
                "{} is an {} log key, but log_key_alg is {:?}: a log's key is fixed when the log is created \
                 (its checkpoints, witnesses and evidence bundles pin it). Remove log_key_alg, or create a new log in \
                 an empty data directory",
                path.display(),
                key.algorithm(),
                want.as_str()
            );
        }
        return Ok(key);
    }
    make_key_dir(path)?;
    let key = match alg.unwrap_or(KeyAlgorithm::Ed25519) {
        KeyAlgorithm::Ed25519 => AnySigningKey::Ed25519(SigningKey::generate()?),
        KeyAlgorithm::Sm2 => AnySigningKey::Sm2(Sm2SigningKey::generate(DEFAULT_ID)?),
    };
    key.write_file(path)?;
    tracing::info!(path = %path.display(), alg = %key.algorithm(), "created a new log key file (0600)");
    Ok(key)
}

fn make_key_dir(path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    Ok(())
}

/// Loads a key file, or creates it (0600) if it does not exist.
pub fn load_or_create(path: &Path) -> anyhow::Result<SigningKey> {
    if path.exists() {
        return Ok(SigningKey::read_file(path)?);
    }
    make_key_dir(path)?;
    let key = SigningKey::generate()?;
    key.write_file(path)?;
    tracing::info!(path = %path.display(), key_id = %key.key_id(), "created a new key file (0600)");
    Ok(key)
}
