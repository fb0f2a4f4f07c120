//! The server's own keys: the log key (signs checkpoints), the system key (signs the ledger's own records) and
//! the vault-audit key (`vault-audit.key`, role `platform`: signs `vault.access.v1`, enrolled by the system key at
//! start). Created on first start under `<data_dir>/keys/` with mode 0600 and reused afterwards.

use std::path::Path;

use siteledger_signer::SigningKey;

/// Loads a key file, or creates it (0600) if it does not exist.
pub fn load_or_create(path: &Path) -> anyhow::Result<SigningKey> {
    if path.exists() {
        return Ok(SigningKey::read_file(path)?);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    let key = SigningKey::generate()?;
    key.write_file(path)?;
    tracing::info!(path = %path.display(), key_id = %key.key_id(), "created a new key file (0600)");
    Ok(key)
}
