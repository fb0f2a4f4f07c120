//! The witness's durable state: for each log origin, the size and root of the latest checkpoint it cosigned.
//!
//! One file per origin in the state directory, named by the SHA-256 of the origin (origins are URLs with `/`),
//! holding `siteledger-witness-state-v1\n<origin>\n<size>\n<base64 root>\n`. A write goes to a temporary file that is
//! fsynced, renamed over the old one and then the directory is fsynced, so after a crash the file holds either the
//! old or the new state, never a torn one. The witness serializes check-and-update itself (see [`crate::witness`]).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest, Sha256};
use siteledger_signer::Hash;

const TAG: &str = "siteledger-witness-state-v1";

/// The latest cosigned tree of one log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogState {
    /// Its size.
    pub size: u64,
    /// Its root hash.
    pub root: Hash,
}

/// Why the state could not be read or written. The witness answers 500 and cosigns nothing.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A file system operation failed.
    #[error("witness state {path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A state file exists but is not one this witness wrote (damaged or edited by hand): refuse rather than
    /// forget the log's history, which would let a rolled-back or forked log be cosigned.
    #[error("witness state {path} is damaged: {reason}")]
    Damaged {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// The state directory.
#[derive(Debug, Clone)]
pub struct StateStore {
    dir: PathBuf,
}

impl StateStore {
    /// Opens (creating, mode 0700) the state directory.
    pub fn open(dir: &Path) -> Result<StateStore, StateError> {
        let io = |source| StateError::Io { path: dir.display().to_string(), source };
        let mut b = fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(dir).map_err(io)?;
        Ok(StateStore { dir: dir.to_owned() })
    }

    fn path(&self, origin: &str) -> PathBuf {
        self.dir.join(format!("{}.state", hex::encode(Sha256::digest(origin.as_bytes()))))
    }

    /// The latest cosigned tree for `origin`, or `None` if this witness never cosigned one.
    pub fn load(&self, origin: &str) -> Result<Option<LogState>, StateError> {
        let path = self.path(origin);
        let shown = path.display().to_string();
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StateError::Io { path: shown, source }),
        };
        let damaged = |reason: &str| StateError::Damaged { path: shown.clone(), reason: reason.to_owned() };
        let mut lines = text.strip_suffix('\n').ok_or_else(|| damaged("no final newline"))?.split('\n');
        if lines.next() != Some(TAG) {
            return Err(damaged("unknown header"));
        }
        if lines.next() != Some(origin) {
            return Err(damaged("origin differs"));
        }
        let size = lines.next().and_then(|s| s.parse().ok()).ok_or_else(|| damaged("bad size"))?;
        let root = lines
            .next()
            .and_then(|r| B64.decode(r).ok())
            .and_then(|r| r.try_into().ok())
            .ok_or_else(|| damaged("bad root"))?;
        if lines.next().is_some() {
            return Err(damaged("trailing lines"));
        }
        Ok(Some(LogState { size, root }))
    }

    /// Replaces the state of `origin` durably and atomically.
    pub fn store(&self, origin: &str, state: LogState) -> Result<(), StateError> {
        let path = self.path(origin);
        let tmp = path.with_extension("tmp");
        let io = |p: &Path| {
            let p = p.display().to_string();
            move |source| StateError::Io { path: p, source }
        };
        let body = format!("{TAG}\n{origin}\n{}\n{}\n", state.size, B64.encode(state.root));
        let mut f = fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(body.as_bytes()).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        drop(f);
        fs::rename(&tmp, &path).map_err(io(&path))?;
        fs::File::open(&self.dir).and_then(|d| d.sync_all()).map_err(io(&self.dir))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_survives_reopening_and_a_damaged_file_is_refused_not_forgotten() {
        let dir = tempfile::tempdir().expect("tmp");
        let s = StateStore::open(dir.path()).expect("open");
        assert_eq!(s.load("a.example/log").expect("load"), None);
        s.store("a.example/log", LogState { size: 5, root: [7; 32] }).expect("store");
        let s = StateStore::open(dir.path()).expect("reopen");
        assert_eq!(s.load("a.example/log").expect("load"), Some(LogState { size: 5, root: [7; 32] }));
        fs::write(s.path("a.example/log"), "garbage").expect("damage");
        assert!(matches!(s.load("a.example/log"), Err(StateError::Damaged { .. })));
    }
}
