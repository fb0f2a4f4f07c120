//! `siteledger backup` and `siteledger restore`: a data directory copied while the server writes, and restored into
//! a fresh one only after every file and the whole log verify. The layout, what is and is not copied and why, and
//! the PostgreSQL path are in `docs/DEPLOY.md` ("Backups").
//!
//! ```text
//! siteledger backup --data-dir DIR --out BACKUP [--without-keys]
//! siteledger restore --data-dir NEW --from BACKUP [--keys KEYDIR]
//! ```
//!
//! * **Consistent while the server writes.** Each SQLite database is copied with `VACUUM INTO`
//!   ([`siteledger_ledger::sqlite::vacuum_into`]): one read transaction, so one commit's state. The ledger goes first,
//!   then the vault, the tokens and people, the attachment metadata, then the attachment files: everything the copied
//!   log cites was stored before it (files before records, the vault's entries before their access records), and an
//!   erasure done meanwhile is in the copy of the vault.
//! * **A PostgreSQL event store** is exported to the same layout: its log is read in one `REPEATABLE READ` snapshot
//!   and written as a SQLite ledger file (`siteledger_ledger::export`), so one restore path serves both.
//! * **Read models are not copied**: they are folded from the log again when the restored server starts.
//! * **Nothing half-done.** Both commands build their result in a hidden directory beside the target and rename it
//!   into place only once everything verified; on any failure the hidden directory is removed.

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use siteledger_ledger::integrity::{TreeCheck, verify_store};
use siteledger_ledger::sqlite::{SqliteStore, vacuum_into};
use siteledger_ledger::{AnyStore, EventStore};
use siteledger_signer::keys::AnySigningKey;
use siteledger_signer::{NoteSigner, NoteVerifier};

use siteledger_api::blobs::{FsBlobStore, PgBlobStore};
use siteledger_api::config::Config;

/// The manifest's format: bump it when the layout or the manifest changes.
pub const FORMAT: &str = "siteledger.backup.v1";
/// The manifest's file name inside a backup.
pub const MANIFEST: &str = "manifest.json";
/// SQLite databases of a data directory copied besides the ledger, in this order (after the ledger).
const DATABASES: [&str; 3] = ["vault.db", "auth.db", "blobs.db"];
/// The key files the server needs to serve the same log and open the same vault.
const REQUIRED_KEYS: [&str; 4] = ["log.key", "system.key", "vault-audit.key", "vault.key"];

/// `backup` arguments.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Directory to write the backup into (must not exist, or be empty).
    #[arg(long)]
    pub out: PathBuf,
    /// Leave the key files out (the log's, the system's and the vault's keys): `restore` then needs `--keys`.
    #[arg(long)]
    pub without_keys: bool,
}

/// `restore` arguments (the target is `--data-dir`).
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup directory (`siteledger backup --out`).
    #[arg(long)]
    pub from: PathBuf,
    /// A directory holding the key files, for a backup made `--without-keys`.
    #[arg(long)]
    pub keys: Option<PathBuf>,
}

/// `manifest.json`: what the backup holds and how to check it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// When the backup was taken (RFC 3339, UTC).
    pub created_at: String,
    /// The event store it was taken from: `sqlite` or `postgres`.
    pub source_store: String,
    /// The log it holds.
    pub log: LogManifest,
    /// Whether the key files are in the backup.
    pub keys_included: bool,
    /// Every file, relative to the backup directory.
    pub files: Vec<FileEntry>,
}

/// The log a backup holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LogManifest {
    /// The log's origin line (the server's `log_origin`).
    pub origin: String,
    /// The log's public key (C2SP vkey), as `GET /v1/log/key` gives it.
    pub vkey: String,
    /// Number of records in the backup.
    pub tree_size: u64,
    /// The tree's root at `tree_size`, hex.
    pub root: String,
    /// The newest signed checkpoint the backup holds.
    pub checkpoint: CheckpointManifest,
}

/// A signed checkpoint in the manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CheckpointManifest {
    /// Its tree size.
    pub size: u64,
    /// Its root, hex.
    pub root: String,
    /// The signed note, verbatim.
    pub note: String,
}

/// One file of a backup.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Path relative to the backup directory (`/`-separated, no `..`).
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 of the contents, hex.
    pub sha256: String,
    /// Unix permission bits, octal (`0600` for key files).
    pub mode: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Copies `from` to `to` (created, mode `mode`), fsyncs it, and returns (bytes, SHA-256 hex).
fn copy_hashed(from: &Path, to: &Path, mode: u32) -> anyhow::Result<(u64, String)> {
    let mut src = std::fs::File::open(from).with_context(|| format!("opening {}", from.display()))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    let mut dst = options.open(to).with_context(|| format!("creating {}", to.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = src.read(&mut buf).with_context(|| format!("reading {}", from.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        dst.write_all(&buf[..n]).with_context(|| format!("writing {}", to.display()))?;
        total += n as u64;
    }
    set_mode(to, mode)?;
    dst.sync_all().with_context(|| format!("fsync {}", to.display()))?;
    Ok((total, hex(&hasher.finalize())))
}

/// SHA-256 (hex) and size of a file.
pub(crate) fn hash_file(path: &Path) -> anyhow::Result<(u64, String)> {
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf).with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((total, hex(&hasher.finalize())))
}

fn set_mode(path: &Path, mode: u32) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("chmod {mode:o} {}", path.display()))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

/// Refuses a target that exists and is not an empty directory.
fn require_fresh(target: &Path, what: &str) -> anyhow::Result<()> {
    match std::fs::read_dir(target) {
        Ok(mut entries) => {
            if let Some(first) = entries.next() {
                let first = first.map(|e| e.file_name().to_string_lossy().into_owned()).unwrap_or_default();
                bail!(
                    "{what} {} is not empty (it holds {first:?}, among others perhaps): choose a new directory; \
                     nothing was written",
                    target.display()
                );
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            bail!("{what} {} is a file, not a directory: nothing was written", target.display())
        }
        Err(e) => Err(e).with_context(|| format!("reading {what} {}", target.display())),
    }
}

/// A hidden directory beside `target` that is removed unless [`Staging::finish`] renames it into place.
struct Staging {
    dir: PathBuf,
    target: PathBuf,
    done: bool,
}

impl Staging {
    fn new(target: &Path) -> anyhow::Result<Staging> {
        let name = target.file_name().with_context(|| format!("{} has no directory name", target.display()))?;
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
        let dir = parent.join(format!(".{}.partial-{}", name.to_string_lossy(), std::process::id()));
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("removing a stale {}", dir.display()))?;
        }
        std::fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
        set_mode(&dir, 0o700)?;
        Ok(Staging { dir, target: target.to_path_buf(), done: false })
    }

    /// Renames the staging directory to the target (an empty target directory is replaced).
    fn finish(mut self) -> anyhow::Result<()> {
        std::fs::rename(&self.dir, &self.target)
            .with_context(|| format!("renaming {} to {}", self.dir.display(), self.target.display()))?;
        if let Some(parent) = self.target.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::File::open(parent).and_then(|d| d.sync_all()).ok();
        }
        self.done = true;
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The log key's verifier for `origin`, from a key file.
fn verifier_from(key_file: &Path, origin: &str) -> anyhow::Result<NoteVerifier> {
    let key =
        AnySigningKey::read_file(key_file).with_context(|| format!("reading the log key {}", key_file.display()))?;
    Ok(NoteSigner::new(origin, key)?.verifier())
}

/// What `backup` wrote.
#[derive(Debug)]
pub struct BackupSummary {
    /// The manifest written.
    pub manifest: Manifest,
    /// The verification of the copied log.
    pub check: TreeCheck,
}

/// Takes a backup of the data directory `config` names into `args.out`.
pub async fn backup(config: &Config, args: &BackupArgs) -> anyhow::Result<BackupSummary> {
    require_fresh(&args.out, "the backup directory")?;
    let data = &config.data_dir;
    let log_key = config.key_dir().join("log.key");
    if !log_key.exists() {
        bail!("{} holds no log key (keys/log.key): is it a SiteLedger data directory?", data.display());
    }
    let staging = Staging::new(&args.out)?;
    let mut files = Vec::new();

    // 1. The log, first: everything else it cites was stored before it.
    let store_url = config.store_url();
    let staged_ledger = staging.dir.join("ledger.db");
    let source_store = if let Some(path) = store_url.strip_prefix("sqlite:") {
        let path = Path::new(path.strip_prefix("//").unwrap_or(path));
        if !path.exists() {
            bail!("the event store {} does not exist", path.display());
        }
        vacuum_into(path, &staged_ledger).await.context("copying the ledger")?;
        "sqlite"
    } else if store_url.starts_with("postgres://") || store_url.starts_with("postgresql://") {
        let source = AnyStore::open(&store_url).await.context("opening the event store")?;
        let AnyStore::Postgres(pg) = &source else { unreachable!("a postgres URL opens PostgreSQL") };
        let target = SqliteStore::open(&staged_ledger).await.context("creating the exported ledger file")?;
        let exported =
            siteledger_ledger::sql::export::export_postgres(pg, &target).await.context("exporting the log")?;
        target.close().await;
        eprintln!("exported {exported} records of the PostgreSQL log from one snapshot");
        "postgres"
    } else {
        bail!("siteledger backup copies SQLite and PostgreSQL event stores, not {store_url:?}");
    };
    // Verify what was copied, and take the manifest's figures from the verified copy. The origin is the one the
    // log's checkpoints name (the server's `log_origin`); the signature check below proves it.
    let (check, verifier) = {
        let store = SqliteStore::open(&staged_ledger).await.context("opening the copied ledger")?;
        let Some(newest) = store.latest_checkpoint().await? else {
            bail!("the log holds no signed checkpoint yet: start the server once so it signs one, then back it up");
        };
        let origin = newest.note.lines().next().unwrap_or_default().to_owned();
        let verifier = verifier_from(&log_key, &origin)?;
        let check = verify_store(&store, &verifier).await.context("the copied log does not verify")?;
        store.close().await;
        (check, verifier)
    };
    let Some(latest) = check.latest.clone() else {
        bail!("the log holds no signed checkpoint yet: start the server once so it signs one, then back it up");
    };
    settle_wal(&staged_ledger)?;
    let (bytes, sha256) = hash_file(&staged_ledger)?;
    files.push(FileEntry { path: "ledger.db".into(), bytes, sha256, mode: "0600".into() });
    set_mode(&staged_ledger, 0o600)?;

    // 2. The other databases of the data directory (attachments kept in PostgreSQL come in 3b instead).
    let blob_url = config.blob_url();
    let blobs_in_pg = blob_url.starts_with("postgres://") || blob_url.starts_with("postgresql://");
    for name in DATABASES {
        let source = data.join(name);
        if !source.exists() || (blobs_in_pg && name == "blobs.db") {
            continue;
        }
        let staged = staging.dir.join(name);
        vacuum_into(&source, &staged).await.with_context(|| format!("copying {name}"))?;
        set_mode(&staged, 0o600)?;
        let (bytes, sha256) = hash_file(&staged)?;
        files.push(FileEntry { path: name.into(), bytes, sha256, mode: "0600".into() });
    }

    // 3. Attachment files: content-addressed and written before their metadata row, so every file the copied
    // metadata lists is there (files of uploads still in flight come along too: harmless).
    let blobs = data.join("blobs");
    if blobs.is_dir() && !blobs_in_pg {
        let mut stack = vec![PathBuf::from("blobs")];
        while let Some(rel) = stack.pop() {
            let dir = data.join(&rel);
            std::fs::create_dir_all(staging.dir.join(&rel))?;
            for entry in std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
                let entry = entry?;
                let name = entry.file_name();
                let child = rel.join(&name);
                let kind = entry.file_type()?;
                if kind.is_dir() {
                    if rel == Path::new("blobs") && name == "tmp" {
                        // Uploads being written: never cited yet.
                        continue;
                    }
                    stack.push(child);
                } else if kind.is_file() {
                    let (bytes, sha256) = copy_hashed(&entry.path(), &staging.dir.join(&child), 0o600)?;
                    if name.to_string_lossy() != sha256 {
                        eprintln!("warning: the attachment {} does not hash to its name any more", child.display());
                    }
                    files.push(FileEntry { path: slash_path(&child)?, bytes, sha256, mode: "0600".into() });
                }
            }
        }
    }

    // 3b. Attachments kept in PostgreSQL (the default beside a PostgreSQL log): exported from one snapshot, taken
    // after the log's, into the data directory's layout (`blobs.db` and `blobs/ab/cd/<sha256>`), so the one restore
    // path serves them too.
    if blobs_in_pg {
        let source = PgBlobStore::open(&blob_url).await.context("opening the attachment store")?;
        let root = staging.dir.join("blobs");
        let db = staging.dir.join("blobs.db");
        let target = FsBlobStore::open(&root, &db).await.context("creating the exported attachment store")?;
        let exported = source.export_into(&target).await.context("exporting the attachments")?;
        target.close().await;
        eprintln!("exported {exported} attachment(s) from PostgreSQL");
        std::fs::remove_dir_all(root.join("tmp")).ok();
        settle_wal(&db)?;
        set_mode(&db, 0o600)?;
        let (bytes, sha256) = hash_file(&db)?;
        files.push(FileEntry { path: "blobs.db".into(), bytes, sha256, mode: "0600".into() });
        let mut stack = vec![root];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
                let entry = entry?;
                if entry.file_type()?.is_dir() {
                    stack.push(entry.path());
                    continue;
                }
                set_mode(&entry.path(), 0o600)?;
                let (bytes, sha256) = hash_file(&entry.path())?;
                let rel = entry.path().strip_prefix(&staging.dir).map(Path::to_path_buf)?;
                files.push(FileEntry { path: slash_path(&rel)?, bytes, sha256, mode: "0600".into() });
            }
        }
    }

    // 4. Keys, unless left out.
    if !args.without_keys {
        let keys = config.key_dir();
        std::fs::create_dir_all(staging.dir.join("keys"))?;
        set_mode(&staging.dir.join("keys"), 0o700)?;
        let mut names: Vec<_> = std::fs::read_dir(&keys)
            .with_context(|| format!("listing {}", keys.display()))?
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| e.file_name())
            .collect();
        names.sort();
        for name in names {
            let rel = Path::new("keys").join(&name);
            let (bytes, sha256) = copy_hashed(&keys.join(&name), &staging.dir.join(&rel), 0o600)?;
            files.push(FileEntry { path: slash_path(&rel)?, bytes, sha256, mode: "0600".into() });
        }
    }

    let manifest = Manifest {
        format: FORMAT.into(),
        created_at: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        source_store: source_store.into(),
        log: LogManifest {
            origin: verifier.name().to_owned(),
            vkey: verifier.vkey(),
            tree_size: check.size,
            root: hex(&check.root),
            checkpoint: CheckpointManifest { size: latest.size, root: hex(&latest.root), note: latest.note.clone() },
        },
        keys_included: !args.without_keys,
        files,
    };
    let text = serde_json::to_string_pretty(&manifest)? + "\n";
    let path = staging.dir.join(MANIFEST);
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    std::fs::File::open(&path)?.sync_all()?;
    staging.finish()?;
    Ok(BackupSummary { manifest, check })
}

/// After the last connection closed, SQLite has folded its WAL into the file; an empty `-wal`/`-shm` pair may stay
/// behind. Anything else would be data outside the file the manifest hashes: refuse rather than lose it.
fn settle_wal(db: &Path) -> anyhow::Result<()> {
    for suffix in ["-wal", "-shm"] {
        let mut side = db.as_os_str().to_owned();
        side.push(suffix);
        let side = PathBuf::from(side);
        match std::fs::metadata(&side) {
            Ok(m) if suffix == "-wal" && m.len() > 0 => {
                bail!("{} still holds {} bytes after closing: the copy is not complete", side.display(), m.len())
            }
            Ok(_) => std::fs::remove_file(&side).with_context(|| format!("removing {}", side.display()))?,
            Err(_) => {}
        }
    }
    Ok(())
}

fn slash_path(rel: &Path) -> anyhow::Result<String> {
    let parts: Vec<&str> = rel
        .components()
        .map(|c| c.as_os_str().to_str().with_context(|| format!("{} is not a UTF-8 path", rel.display())))
        .collect::<anyhow::Result<_>>()?;
    Ok(parts.join("/"))
}

/// A manifest path as a relative path that stays inside the directory (no `..`, no root, no empty parts).
fn safe_relative(path: &str) -> anyhow::Result<PathBuf> {
    let p = Path::new(path);
    if path.is_empty() || !p.components().all(|c| matches!(c, Component::Normal(_))) {
        bail!("the manifest names the file {path:?}, which is not a plain relative path: refused");
    }
    Ok(p.to_path_buf())
}

fn parse_mode(mode: &str, path: &str) -> anyhow::Result<u32> {
    let m = u32::from_str_radix(mode, 8)
        .ok()
        .filter(|m| *m <= 0o777)
        .with_context(|| format!("the manifest gives {path} the mode {mode:?}, not octal permission bits"))?;
    // Key files and databases never become readable by others, whatever the manifest says.
    Ok(m & 0o700)
}

/// What `restore` did.
#[derive(Debug)]
pub struct RestoreSummary {
    /// The backup's manifest.
    pub manifest: Manifest,
    /// The verification of the restored log.
    pub check: TreeCheck,
}

/// Restores the backup `args.from` into the fresh data directory `config.data_dir`, verifying every file and the
/// whole log first; on any failure nothing is left behind.
pub async fn restore(config: &Config, args: &RestoreArgs) -> anyhow::Result<RestoreSummary> {
    let target = &config.data_dir;
    require_fresh(target, "the restore target")?;
    if config.store_url.is_some() {
        bail!(
            "siteledger restore writes a data directory with a SQLite ledger (ledger.db); it does not write into \
             --store-url. To run the restored log on PostgreSQL, see docs/DEPLOY.md (Backups)"
        );
    }
    let manifest_path = args.from.join(MANIFEST);
    let text = std::fs::read_to_string(&manifest_path)
        .with_context(|| format!("reading {}: is {} a backup?", manifest_path.display(), args.from.display()))?;
    let manifest: Manifest =
        serde_json::from_str(&text).with_context(|| format!("{} is not a backup manifest", manifest_path.display()))?;
    if manifest.format != FORMAT {
        bail!("the backup's format is {:?}; this build restores {FORMAT:?}", manifest.format);
    }
    match (&args.keys, manifest.keys_included) {
        (Some(_), true) => bail!("the backup holds its key files; --keys is for a backup made with --without-keys"),
        (None, false) => bail!(
            "the backup was made --without-keys: give the key directory it needs ({}) with --keys DIR",
            REQUIRED_KEYS.join(", ")
        ),
        _ => {}
    }
    if !manifest.files.iter().any(|f| f.path == "ledger.db") {
        bail!("the manifest lists no ledger.db: nothing to restore");
    }

    let staging = Staging::new(target)?;
    // 1. Every file, checked against the manifest while it is copied.
    for entry in &manifest.files {
        let rel = safe_relative(&entry.path)?;
        let mode = parse_mode(&entry.mode, &entry.path)?;
        let to = staging.dir.join(&rel);
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let from = args.from.join(&rel);
        if !from.is_file() {
            bail!("the backup lacks {} that its manifest lists: refused, nothing restored", entry.path);
        }
        let (bytes, sha256) = copy_hashed(&from, &to, mode)?;
        if sha256 != entry.sha256 || bytes != entry.bytes {
            bail!(
                "{} is damaged or was altered: its SHA-256 is {sha256} ({bytes} bytes), the manifest says {} \
                 ({} bytes); refused, nothing restored",
                entry.path,
                entry.sha256,
                entry.bytes
            );
        }
    }
    let keys = staging.dir.join("keys");
    std::fs::create_dir_all(&keys)?;
    set_mode(&keys, 0o700)?;
    if let Some(dir) = &args.keys {
        for name in REQUIRED_KEYS {
            let from = dir.join(name);
            if !from.is_file() {
                bail!("the key directory {} lacks {name}: refused, nothing restored", dir.display());
            }
            copy_hashed(&from, &keys.join(name), 0o600)?;
        }
    }
    for name in REQUIRED_KEYS {
        if !keys.join(name).is_file() {
            bail!("the backup lacks keys/{name}: the server could not serve the same log and vault without it");
        }
    }

    // 2. The log: its key is the manifest's, and the tree the leaves give is the one its checkpoints sign.
    let verifier = verifier_from(&keys.join("log.key"), &manifest.log.origin)?;
    if verifier.vkey() != manifest.log.vkey {
        bail!(
            "the log key in the backup ({}) is not the key the manifest names ({}): refused, nothing restored",
            verifier.vkey(),
            manifest.log.vkey
        );
    }
    let check = {
        let store = SqliteStore::open(&staging.dir.join("ledger.db")).await.context("opening the restored ledger")?;
        let check = verify_store(&store, &verifier).await;
        store.close().await;
        check.context("the restored log does not verify: refused, nothing restored")?
    };
    let wrong = |what: String| anyhow::anyhow!("{what}: the backup's tree does not match; refused, nothing restored");
    if check.size != manifest.log.tree_size {
        return Err(wrong(format!(
            "the manifest says {} records, the log holds {}",
            manifest.log.tree_size, check.size
        )));
    }
    if hex(&check.root) != manifest.log.root {
        return Err(wrong(format!(
            "the manifest's root at tree size {} is {}, the leaves give {}",
            check.size,
            manifest.log.root,
            hex(&check.root)
        )));
    }
    let Some(latest) = check.latest.clone() else {
        return Err(wrong("the log holds no signed checkpoint".into()));
    };
    let cp = &manifest.log.checkpoint;
    if latest.size != cp.size || hex(&latest.root) != cp.root || latest.note != cp.note {
        return Err(wrong(format!(
            "the manifest's checkpoint (size {}, root {}) is not the newest one the log holds (size {}, root {})",
            cp.size,
            cp.root,
            latest.size,
            hex(&latest.root)
        )));
    }
    staging.finish()?;
    Ok(RestoreSummary { manifest, check })
}
