//! The producer's local attachment store (附件): the files its records cite, kept content-addressed beside the
//! outbox until the uploader has sent them to the platform's `POST /v1/blobs` ahead of the records that cite them
//! (docs/ATTACHMENTS.md). The site agent keeps it in `queue_dir/blobs/`, `siteledger submit` beside its state file.
//!
//! A file lives at `root/ab/cd/<sha256>`, as in the platform's store. It is written to `root/tmp/`, fsynced, renamed
//! into place and its directory fsynced before [`LocalBlobs::put`] returns: a crash never leaves a partial file
//! under a digest, and a producer told "stored" can cite the digest. Reads recompute the digest, so a file damaged
//! on disk is never sent as the cited one.
//!
//! The store is synchronous (plain files); async callers run it on a blocking thread.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::idempotency::sha256_hex;

/// Why the local attachment store failed.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// A file-system failure (the path and the error).
    #[error("local attachment store: {path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// A stored file no longer hashes to its name (disk damage): it is not sent.
    #[error("local attachment {0} does not match its SHA-256 any more")]
    Corrupt(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BlobError + '_ {
    move |source| BlobError::Io { path: path.display().to_string(), source }
}

/// What [`LocalBlobs::put`] stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalBlob {
    /// SHA-256 of the bytes, 64 lowercase hex characters: the digest a record cites.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
    /// The media type found in the bytes ([`siteledger_domain::attachment::sniff`]).
    pub media_type: &'static str,
    /// False when the store already held these bytes.
    pub fresh: bool,
}

/// Files under one directory, named by their SHA-256.
#[derive(Debug, Clone)]
pub struct LocalBlobs {
    root: PathBuf,
}

impl LocalBlobs {
    /// Opens (creating) the store at `root`.
    pub fn open(root: &Path) -> Result<LocalBlobs, BlobError> {
        let tmp = root.join("tmp");
        std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
        Ok(LocalBlobs { root: root.to_path_buf() })
    }

    /// The store's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the file of `sha256` lives: `root/ab/cd/<sha256>`; `None` for anything but 64 lowercase hex
    /// characters (a digest is never a path).
    pub fn path_of(&self, sha256: &str) -> Option<PathBuf> {
        if !siteledger_signer::bundle::is_sha256_hex(sha256) {
            return None;
        }
        Some(self.root.join(&sha256[0..2]).join(&sha256[2..4]).join(sha256))
    }

    /// Whether the store holds a file named `sha256`.
    pub fn contains(&self, sha256: &str) -> bool {
        self.path_of(sha256).is_some_and(|p| p.is_file())
    }

    /// Stores `bytes` durably (temporary file, fsync, rename, fsync of the directory) unless already held.
    pub fn put(&self, bytes: &[u8]) -> Result<LocalBlob, BlobError> {
        let sha256 = sha256_hex(bytes);
        let media_type = siteledger_domain::attachment::sniff(bytes);
        let size = bytes.len() as u64;
        let path = self.path_of(&sha256).ok_or_else(|| BlobError::Corrupt(sha256.clone()))?;
        // Held and intact: nothing to write. A damaged file under the digest is replaced by the good bytes.
        if path.is_file() && matches!(self.read(&sha256), Ok(Some(_))) {
            return Ok(LocalBlob { sha256, bytes: size, media_type, fresh: false });
        }
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| self.root.clone());
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce)
            .map_err(|e| BlobError::Io { path: "getrandom".into(), source: std::io::Error::other(e.to_string()) })?;
        let tmp = self.root.join("tmp").join(hex::encode(nonce));
        let written = (|| {
            let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            std::fs::File::open(&dir)?.sync_all()
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(&path)(e));
        }
        Ok(LocalBlob { sha256, bytes: size, media_type, fresh: true })
    }

    /// Reads a file and stores its bytes ([`LocalBlobs::put`]): how `siteledger submit` attaches a file.
    pub fn put_file(&self, file: &Path) -> Result<LocalBlob, BlobError> {
        let bytes = std::fs::read(file).map_err(io(file))?;
        self.put(&bytes)
    }

    /// Deletes the file of `sha256`; its size when it was held, `None` when it was not.
    pub fn remove(&self, sha256: &str) -> Result<Option<u64>, BlobError> {
        let Some(path) = self.path_of(sha256) else { return Ok(None) };
        let bytes = match std::fs::metadata(&path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path)(e)),
        };
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// The bytes stored under `sha256`, checked against it; `None` when not held.
    pub fn read(&self, sha256: &str) -> Result<Option<Vec<u8>>, BlobError> {
        let Some(path) = self.path_of(sha256) else { return Ok(None) };
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path)(e)),
        };
        if sha256_hex(&bytes) != sha256 {
            return Err(BlobError::Corrupt(sha256.to_owned()));
        }
        Ok(Some(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_file_is_found_by_its_digest_and_a_damaged_one_is_never_served() {
        let dir = tempfile::tempdir().expect("dir");
        let store = LocalBlobs::open(dir.path()).expect("open");
        let pdf = b"%PDF-1.4\n% a test report\n".to_vec();
        let first = store.put(&pdf).expect("put");
        assert!(first.fresh);
        assert_eq!(first.media_type, "application/pdf");
        assert_eq!(first.sha256, sha256_hex(&pdf));
        assert!(!store.put(&pdf).expect("again").fresh, "the same bytes again are already held");
        assert_eq!(store.read(&first.sha256).expect("read"), Some(pdf.clone()));
        assert_eq!(std::fs::read_dir(dir.path().join("tmp")).expect("tmp").count(), 0, "no temporary file left");
        // One byte flipped on disk: the read refuses it, and storing the good bytes again repairs it.
        let path = store.path_of(&first.sha256).expect("path");
        let mut bad = pdf.clone();
        bad[3] ^= 1;
        std::fs::write(&path, &bad).expect("damage");
        assert!(matches!(store.read(&first.sha256), Err(BlobError::Corrupt(_))));
        assert!(store.put(&pdf).expect("repair").fresh);
        assert_eq!(store.read(&first.sha256).expect("read"), Some(pdf));
        assert!(store.path_of("../../etc/passwd").is_none(), "a digest is never a path");
        assert!(!store.contains(&"0".repeat(64)));
    }
}
