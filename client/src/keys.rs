//! Key files and secret files on disk. A producer's Ed25519 key is a one-line file
//! (`siteledger-ed25519-secret-v1 <base64 seed>`, the signer's format) created with mode 0600; a key or token file
//! readable by group or others is refused with the `chmod` that fixes it. Neither the key nor a token ever appears
//! in `Debug` output or logs ([`SigningKey`]'s `Debug` shows only its key id; [`Secret`] shows nothing).

use std::path::{Path, PathBuf};

use siteledger_signer::SigningKey;
use siteledger_signer::keys::{AnySigningKey, KeyError};
use siteledger_signer::sm2::Sm2SigningKey;

/// Why a key or secret file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The key file is missing, unreadable, malformed or readable by others (the message says which and how to
    /// fix it).
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A secret file is readable by group or others.
    #[error("{what} file {path} has mode {mode:o}: it must be readable by its owner only (run: chmod 600 {path})")]
    InsecurePermissions {
        /// `token`, …
        what: &'static str,
        /// The file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// A secret file could not be read.
    #[error("{what} file {path}: {source}")]
    Io {
        /// `token`, …
        what: &'static str,
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A secret file holds nothing but whitespace.
    #[error("{what} file {path} is empty")]
    Empty {
        /// `token`, …
        what: &'static str,
        /// The file.
        path: String,
    },
    /// `generate` was asked to overwrite a file.
    #[error("{path} exists; refusing to overwrite a key")]
    Exists {
        /// The file.
        path: String,
    },
}

/// Reads a key file, refusing one readable by group or others.
pub fn load(path: &Path) -> Result<SigningKey, KeyFileError> {
    Ok(SigningKey::read_file(path)?)
}

/// Reads an Ed25519 or SM2 key file (told apart by its first word), refusing one readable by group or others.
pub fn load_any(path: &Path) -> Result<AnySigningKey, KeyFileError> {
    Ok(AnySigningKey::read_file(path)?)
}

/// Generates a key and writes it to `path` with mode 0600 (creating the parent directory), refusing to overwrite.
pub fn generate(path: &Path) -> Result<SigningKey, KeyFileError> {
    prepare_new(path)?;
    let key = SigningKey::generate()?;
    key.write_file(path)?;
    Ok(key)
}

/// Generates an SM2 key with the signer identity `id` (GM/T 0009; [`siteledger_signer::sm2::DEFAULT_ID`] unless the
/// enterprise declares one) and writes it to `path` with mode 0600 (creating the parent directory), refusing to
/// overwrite.
pub fn generate_sm2(path: &Path, id: &str) -> Result<Sm2SigningKey, KeyFileError> {
    prepare_new(path)?;
    let key = Sm2SigningKey::generate(id)?;
    key.write_file(path)?;
    Ok(key)
}

/// Refuses an existing file and creates the parent directory of a new key file.
fn prepare_new(path: &Path) -> Result<(), KeyFileError> {
    if path.exists() {
        return Err(KeyFileError::Exists { path: path.display().to_string() });
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|source| KeyError::Io { path: parent.display().to_string(), source })?;
    }
    Ok(())
}

/// Loads the key at `path`, or generates it there (0600) if there is none. The flag says whether it was created.
pub fn load_or_generate(path: &Path) -> Result<(SigningKey, bool), KeyFileError> {
    if path.exists() { Ok((load(path)?, false)) } else { Ok((generate(path)?, true)) }
}

/// A secret read from a file (a bearer token). Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// A secret held in memory (from an environment variable or a test).
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

/// Reads a secret file (`what` names it in errors, e.g. `token`): the same rule as key files (readable by its owner
/// only), surrounding whitespace trimmed, refused when empty.
pub fn read_secret(what: &'static str, path: &Path) -> Result<Secret, KeyFileError> {
    let shown = || path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|source| KeyFileError::Io { what, path: shown(), source })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyFileError::InsecurePermissions { what, path: shown(), mode });
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    let text = std::fs::read_to_string(path).map_err(|source| KeyFileError::Io { what, path: shown(), source })?;
    let secret = text.trim();
    if secret.is_empty() {
        return Err(KeyFileError::Empty { what, path: shown() });
    }
    Ok(Secret(secret.to_owned()))
}

/// Writes a secret file with mode 0600 (tests and setup scripts), refusing to overwrite.
pub fn write_secret(path: &Path, secret: &str) -> Result<PathBuf, KeyFileError> {
    use std::io::Write;
    let io = |source| KeyFileError::Io { what: "secret", path: path.display().to_string(), source };
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(io)?;
    f.write_all(secret.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)?;
    Ok(path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn chmod(path: &Path, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }

    #[cfg(unix)]
    #[test]
    fn a_generated_key_is_0600_and_a_world_readable_one_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("sub").join("producer.key");
        let key = generate(&path).expect("generated");
        assert_eq!(std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777, 0o600);
        assert_eq!(load(&path).expect("loads").key_id(), key.key_id());
        assert!(matches!(generate(&path), Err(KeyFileError::Exists { .. })), "never overwrites a key");
        let file = std::fs::read_to_string(&path).expect("key file");
        let seed = file.split_whitespace().nth(1).expect("seed");
        assert!(!format!("{key:?}").contains(seed), "the key's Debug shows its secret");
        chmod(&path, 0o644);
        let err = load(&path).expect_err("refused");
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_generated_sm2_key_is_0600_loads_as_either_algorithm_and_a_world_readable_one_is_refused() {
        use siteledger_signer::keys::{EnvelopeSigner, KeyAlgorithm};
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("sub").join("enterprise-sm2.key");
        let key = generate_sm2(&path, "91330200MA2H000001").expect("generated");
        assert_eq!(std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777, 0o600);
        let back = load_any(&path).expect("loads");
        assert_eq!(back.algorithm(), KeyAlgorithm::Sm2);
        assert_eq!(back.key_id(), key.key_id());
        assert_eq!(back.public().sm2_id(), Some("91330200MA2H000001"));
        assert!(matches!(generate_sm2(&path, "x"), Err(KeyFileError::Exists { .. })), "never overwrites a key");
        assert!(load(&path).is_err(), "an SM2 key file is not an Ed25519 one");
        let ed = dir.path().join("ed.key");
        let ed_key = generate(&ed).expect("ed25519");
        assert_eq!(load_any(&ed).expect("loads").key_id(), ed_key.key_id());
        chmod(&path, 0o640);
        let err = load_any(&path).expect_err("refused");
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_token_file_readable_by_others_is_refused_and_never_shown() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("token");
        write_secret(&path, "s3cret-token\n").expect("written");
        let s = read_secret("token", &path).expect("read");
        assert_eq!(s.expose(), "s3cret-token");
        assert!(!format!("{s:?}").contains("s3cret"));
        chmod(&path, 0o604);
        let err = read_secret("token", &path).expect_err("world-readable");
        assert!(matches!(err, KeyFileError::InsecurePermissions { mode: 0o604, .. }), "{err}");
        assert!(err.to_string().contains("chmod 600"));
    }
}
