//! Court packages (证据包): one evidence bundle (docs/FORMAT.md §7) for a set of records chosen by event id or by a
//! filter (one stream or stream prefix, optionally a kind prefix, over a time range), read-only from the store,
//! so `siteledger evidence export` can run beside a live server. `siteledger-verify` checks the file offline.
//!
//! The bundle proves every record into the newest stored checkpoint and carries the enrollment record of every
//! signer, up to the roots of trust, exactly as `GET /v1/evidence/{id}` does for one record.
//!
//! An **evidence package** ([`write_package`], `siteledger evidence export --attachments --out DIR`) adds the files
//! the records cite (附件): `DIR/bundle.json` (format v1.1 when some record cites a file, docs/FORMAT.md §7.3),
//! `DIR/attachments/<sha256>` for every cited file the attachment store holds, and
//! `DIR/attachments-not-included.txt` naming those it does not hold. Which members cite files is the domain's
//! `DomainEvent::cited_hashes`. Over HTTP (`POST /v1/evidence/export` with `"attachments": true`) the same package
//! is one tar archive ([`package_tar`]): `tar -x` gives the directory `siteledger-verify --attachments` reads.

use std::collections::{BTreeMap, BTreeSet};

use siteledger_domain::DomainEvent;
use siteledger_ledger::{EventStore, StoredEvent};
use siteledger_signer::Envelope;
use siteledger_signer::bundle::{
    BUNDLE_FORMAT, BUNDLE_FORMAT_V1_1, Bundle, BundleKey, bundle_record, signer_bundle_key,
};
use siteledger_signer::merkle::{Hash, ProofPlan};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::ratings::RatingError;

/// Records per store page when scanning.
const PAGE: usize = 1000;
/// At most this many records in one package (a court package is read by people).
pub const MAX_RECORDS: usize = 20_000;

/// Which records go into the package.
#[derive(Debug, Clone)]
pub enum Selection {
    /// These event ids.
    Ids(Vec<Uuid>),
    /// Records whose stream is `stream` or starts with `stream` + `/` (or, when `stream` ends with `/` or `*`, starts
    /// with it), of kinds starting with `kind_prefix`, that occurred in `[from, to)`.
    Filter {
        /// Stream or stream prefix.
        stream: String,
        /// Kind prefix (e.g. `alarm.`), if any.
        kind_prefix: Option<String>,
        /// Earliest `occurred_at` (inclusive).
        from: Option<OffsetDateTime>,
        /// Latest `occurred_at` (exclusive).
        to: Option<OffsetDateTime>,
        /// Payload members that must have these values (strings as written, numbers in decimal), e.g.
        /// `source = TC-01` for one crane's alarms or a worker's id for one worker's wage records.
        payload_equals: Vec<(String, String)>,
    },
}

fn stream_matches(pattern: &str, stream: &str) -> bool {
    if let Some(p) = pattern.strip_suffix('*') {
        return stream.starts_with(p);
    }
    if pattern.ends_with('/') {
        return stream.starts_with(pattern);
    }
    stream == pattern || stream.strip_prefix(pattern).is_some_and(|r| r.starts_with('/'))
}

fn payload_matches(leaf: &[u8], wanted: &[(String, String)]) -> bool {
    let Ok(env) = Envelope::parse(leaf) else { return false };
    wanted.iter().all(|(k, v)| match env.payload().get(k) {
        Some(serde_json::Value::String(s)) => s == v,
        Some(serde_json::Value::Number(n)) => n.to_string() == *v,
        Some(serde_json::Value::Bool(b)) => b.to_string() == *v,
        _ => false,
    })
}

/// Inclusion proof of `index` in the tree of `size`, from the store's nodes.
pub async fn inclusion<S: EventStore>(store: &S, index: u64, size: u64) -> Result<Vec<Hash>, RatingError> {
    let plan = ProofPlan::inclusion(index, size).map_err(|e| RatingError::Invalid(e.to_string()))?;
    let nodes = store.read_nodes(&plan.nodes()).await?;
    plan.assemble(&nodes).map_err(|e| RatingError::Corrupt(e.to_string()))
}

/// Consistency proof from `old` to `new`, from the store's nodes.
pub async fn consistency<S: EventStore>(store: &S, old: u64, new: u64) -> Result<Vec<Hash>, RatingError> {
    let plan = ProofPlan::consistency(old, new).map_err(|e| RatingError::Invalid(e.to_string()))?;
    let nodes = store.read_nodes(&plan.nodes()).await?;
    plan.assemble(&nodes).map_err(|e| RatingError::Corrupt(e.to_string()))
}

/// Root hash of the first `size` leaves.
pub async fn root_at<S: EventStore>(store: &S, size: u64) -> Result<Hash, RatingError> {
    let nodes = store.read_nodes(&siteledger_signer::merkle::range_nodes(0, size)).await?;
    Ok(siteledger_signer::merkle::fold_range(&nodes))
}

/// The records a selection names, in position order.
pub async fn select<S: EventStore>(store: &S, sel: &Selection) -> Result<Vec<StoredEvent>, RatingError> {
    let mut found = match sel {
        Selection::Ids(ids) => {
            let found = store.events_by_id(ids).await?;
            let have: BTreeSet<Uuid> = found.iter().map(|e| e.event_id).collect();
            let missing: Vec<String> = ids.iter().filter(|i| !have.contains(i)).map(ToString::to_string).collect();
            if !missing.is_empty() {
                return Err(RatingError::Invalid(format!("no such event: {}", missing.join(", "))));
            }
            found
        }
        Selection::Filter { stream, kind_prefix, from, to, payload_equals } => {
            let head = store.head().await?;
            let mut out = Vec::new();
            let mut next = 0u64;
            while next < head {
                let page = store.read_all(next, PAGE).await?;
                let Some(last) = page.last() else { break };
                next = last.position + 1;
                for e in page {
                    if !stream_matches(stream, &e.stream)
                        || kind_prefix.as_ref().is_some_and(|k| !e.kind.starts_with(k.as_str()))
                    {
                        continue;
                    }
                    let t = siteledger_signer::envelope::parse_time(&e.occurred_at).unwrap_or(e.recorded_at);
                    if from.is_some_and(|f| t < f) || to.is_some_and(|u| t >= u) {
                        continue;
                    }
                    if !payload_equals.is_empty() && !payload_matches(&e.leaf, payload_equals) {
                        continue;
                    }
                    out.push(e);
                    if out.len() > MAX_RECORDS {
                        return Err(RatingError::Invalid(format!(
                            "more than {MAX_RECORDS} records match; narrow the stream, kind or time range"
                        )));
                    }
                }
            }
            out
        }
    };
    found.sort_by_key(|e| e.position);
    found.dedup_by_key(|e| e.position);
    if found.is_empty() {
        return Err(RatingError::Invalid("no record matches the selection".into()));
    }
    Ok(found)
}

/// Builds one evidence bundle for the selected records, proven into the newest stored checkpoint (a filter selects
/// among the records that checkpoint covers). `log_key` is the log's verifier key string (`GET /v1/log/key`).
pub async fn export<S: EventStore>(store: &S, log_key: &str, sel: &Selection) -> Result<Bundle, RatingError> {
    let cp = store
        .latest_checkpoint()
        .await?
        .ok_or_else(|| RatingError::Invalid("the log has no signed checkpoint yet; retry shortly".into()))?;
    let mut found = select(store, sel).await?;
    // A filter selects from the log the checkpoint covers (records sequenced after it cannot be proven into it
    // yet, and a writing server always has some); records asked for by id must all be there.
    if matches!(sel, Selection::Filter { .. }) {
        found.retain(|e| e.position < cp.size);
        if found.is_empty() {
            return Err(RatingError::Invalid(format!(
                "no record matches the selection within the latest checkpoint (size {}); retry after the next checkpoint",
                cp.size
            )));
        }
    }
    if let Some(e) = found.iter().find(|e| e.position >= cp.size) {
        return Err(RatingError::Invalid(format!(
            "record {} (position {}) is newer than the latest checkpoint (size {}); retry after the next checkpoint",
            e.event_id, e.position, cp.size
        )));
    }
    // The enrollment record of every signer, up to the roots of trust.
    let keys = store.keys().await?;
    let by_id: BTreeMap<&str, &siteledger_ledger::StoredKey> = keys.iter().map(|k| (k.key_id.as_str(), k)).collect();
    let mut pending: Vec<String> = found.iter().map(|e| e.signer.clone()).collect();
    let mut entries: BTreeMap<String, BundleKey> = BTreeMap::new();
    while let Some(s) = pending.pop() {
        if entries.contains_key(&s) {
            continue;
        }
        let k = by_id.get(s.as_str()).ok_or_else(|| RatingError::Corrupt(format!("signer {s} has no key row")))?;
        let public = k.signer_key().map_err(|e| RatingError::Corrupt(format!("key {}: {e}", k.key_id)))?;
        entries.insert(s.clone(), signer_bundle_key(&public, Some(k.enrolled_by)));
        for e in store.events_by_id(&[k.enrolled_by]).await? {
            if e.position >= cp.size {
                return Err(RatingError::Invalid(format!(
                    "the enrollment of key {s} is newer than the latest checkpoint; retry after the next checkpoint"
                )));
            }
            pending.push(e.signer.clone());
            if !found.iter().any(|f| f.event_id == e.event_id) {
                found.push(e);
            }
        }
    }
    found.sort_by_key(|e| e.position);
    found.dedup_by_key(|e| e.position);
    let mut records = Vec::with_capacity(found.len());
    for e in &found {
        let proof = inclusion(store, e.position, cp.size).await?;
        let env = Envelope::parse(&e.leaf).map_err(|err| RatingError::Corrupt(err.to_string()))?;
        records.push(bundle_record(e.position, &env, &proof));
    }
    let mut bundle = Bundle {
        format: BUNDLE_FORMAT.to_owned(),
        log_key: log_key.to_owned(),
        checkpoint: cp.note,
        keys: entries.into_values().collect(),
        records,
        consistency: None,
        witnesses: None,
        timestamps: None,
    };
    // An SM2 signer makes it version 1.4 (docs/FORMAT.md §11); the later steps only ever raise the version.
    bundle.fit_key_format();
    Ok(bundle)
}

/// Lists, on each record of `bundle`, the attachments its payload cites (`DomainEvent::cited_hashes`), and turns
/// the bundle into format v1.1 if any does. Returns every cited digest with the event ids citing it. A bundle
/// whose records cite nothing is left a v1 bundle, byte for byte.
pub fn cite_attachments(bundle: &mut Bundle) -> BTreeMap<String, Vec<String>> {
    let mut cited: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in &mut bundle.records {
        let (Some(kind), Some(serde_json::Value::Object(payload))) =
            (r.envelope.get("kind").and_then(|k| k.as_str()), r.envelope.get("payload"))
        else {
            continue;
        };
        let Ok(event) = DomainEvent::parse(kind, payload) else { continue };
        let list: Vec<String> = event.cited_hashes().into_iter().map(|h| h.as_str().to_owned()).collect();
        if list.is_empty() {
            continue;
        }
        let id = r.envelope.get("id").and_then(|i| i.as_str()).unwrap_or_default().to_owned();
        for h in &list {
            cited.entry(h.clone()).or_default().push(id.clone());
        }
        r.attachments = Some(list);
    }
    if !cited.is_empty() {
        bundle.raise_format(BUNDLE_FORMAT_V1_1);
    }
    cited
}

/// What [`write_package`] wrote.
#[derive(Debug, Clone)]
pub struct PackageSummary {
    /// The bundle written to `bundle.json`.
    pub bundle: Bundle,
    /// Digests written to `attachments/`.
    pub included: Vec<String>,
    /// Digests cited but not held by the attachment store (or personal, sealed in the vault), with the citing
    /// event ids.
    pub missing: Vec<(String, Vec<String>)>,
}

/// Why a package could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// Selecting or proving the records failed.
    #[error(transparent)]
    Records(#[from] RatingError),
    /// Reading an attachment failed.
    #[error(transparent)]
    Blob(#[from] crate::blobs::BlobError),
    /// Writing the package failed.
    #[error("cannot write {0}: {1}")]
    Io(String, std::io::Error),
}

/// Writes an evidence package into `dir` (created if missing): `bundle.json`, `attachments/<sha256>` for each
/// cited file `blobs` holds, and `attachments-not-included.txt` if some cited file is not held. Personal
/// attachments (sealed in the vault) are never exported: they are listed as not included.
pub async fn write_package<S: EventStore, B: crate::blobs::BlobStore>(
    store: &S,
    blobs: &B,
    log_key: &str,
    sel: &Selection,
    dir: &std::path::Path,
) -> Result<PackageSummary, PackageError> {
    let mut bundle = export(store, log_key, sel).await?;
    let cited = cite_attachments(&mut bundle);
    write_package_of(blobs, bundle, cited, dir).await
}

/// [`write_package`] of a bundle already exported with its attachments cited ([`cite_attachments`], whose map is
/// `cited`), for callers that add cosignatures and timestamp tokens in between (`siteledger evidence export`).
pub async fn write_package_of<B: crate::blobs::BlobStore>(
    blobs: &B,
    bundle: Bundle,
    cited: BTreeMap<String, Vec<String>>,
    dir: &std::path::Path,
) -> Result<PackageSummary, PackageError> {
    let io = |p: &std::path::Path| {
        let shown = p.display().to_string();
        move |e| PackageError::Io(shown, e)
    };
    let att = dir.join("attachments");
    std::fs::create_dir_all(&att).map_err(io(&att))?;
    // A package written before into the same directory must not leave files this bundle does not cite.
    for entry in std::fs::read_dir(&att).map_err(io(&att))?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if crate::blobs::is_sha256_hex(&name) && !cited.contains_key(&name) {
            std::fs::remove_file(entry.path()).map_err(io(&entry.path()))?;
        }
    }
    let (mut included, mut missing) = (Vec::new(), Vec::new());
    for (h, ids) in cited {
        match blobs.read(&h).await? {
            Some(bytes) => {
                let p = att.join(&h);
                std::fs::write(&p, bytes).map_err(io(&p))?;
                included.push(h);
            }
            None => missing.push((h, ids)),
        }
    }
    let p = dir.join("bundle.json");
    std::fs::write(&p, bundle.to_bytes()).map_err(io(&p))?;
    let note = dir.join("attachments-not-included.txt");
    if missing.is_empty() {
        let _ = std::fs::remove_file(&note);
    } else {
        std::fs::write(&note, not_included_text(&missing)).map_err(io(&note))?;
    }
    Ok(PackageSummary { bundle, included, missing })
}

/// `attachments-not-included.txt`: one line per digest cited but not in the package, with the citing event ids.
pub fn not_included_text(missing: &[(String, Vec<String>)]) -> String {
    let mut text = String::from(
        "# 记录引用、但未随附的附件 / attachments cited by the records but not included (not held by the store, or personal)\n",
    );
    for (h, ids) in missing {
        text.push_str(&format!("{h} cited by {}\n", ids.join(", ")));
    }
    text
}

/// An evidence package as one POSIX tar archive (ustar): `bundle.json`, the directory `attachments/` with one file
/// per included digest, and `attachments-not-included.txt` when something cited is not included. Extracted, it is
/// exactly the directory [`write_package`] writes.
pub fn package_tar(bundle: &Bundle, files: &[(String, Vec<u8>)], missing: &[(String, Vec<String>)]) -> Vec<u8> {
    let mut out = Vec::new();
    tar_entry(&mut out, "bundle.json", Some(&bundle.to_bytes()));
    tar_entry(&mut out, "attachments/", None);
    for (h, bytes) in files {
        tar_entry(&mut out, &format!("attachments/{h}"), Some(bytes));
    }
    if !missing.is_empty() {
        tar_entry(&mut out, "attachments-not-included.txt", Some(not_included_text(missing).as_bytes()));
    }
    // End of archive: two zero blocks.
    out.resize(out.len() + 1024, 0);
    out
}

/// One ustar entry: a regular file (`Some(bytes)`) or a directory (`None`). Names are at most 100 bytes (ours:
/// `attachments/` + 64 hex digits).
fn tar_entry(out: &mut Vec<u8>, name: &str, bytes: Option<&[u8]>) {
    let mut h = [0u8; 512];
    let field = |h: &mut [u8; 512], at: usize, len: usize, value: &[u8]| {
        let n = value.len().min(len);
        h[at..at + n].copy_from_slice(&value[..n]);
    };
    let octal = |value: u64, width: usize| format!("{value:0w$o}\0", w = width - 1).into_bytes();
    let size = bytes.map_or(0, |b| b.len() as u64);
    field(&mut h, 0, 100, name.as_bytes());
    field(&mut h, 100, 8, &octal(if bytes.is_some() { 0o644 } else { 0o755 }, 8));
    field(&mut h, 108, 8, &octal(0, 8));
    field(&mut h, 116, 8, &octal(0, 8));
    field(&mut h, 124, 12, &octal(size, 12));
    field(&mut h, 136, 12, &octal(OffsetDateTime::now_utc().unix_timestamp().max(0) as u64, 12));
    h[156] = if bytes.is_some() { b'0' } else { b'5' };
    field(&mut h, 257, 6, b"ustar\0");
    field(&mut h, 263, 2, b"00");
    // The checksum is computed with its own field as eight spaces.
    h[148..156].copy_from_slice(b"        ");
    let sum: u64 = h.iter().map(|b| u64::from(*b)).sum();
    field(&mut h, 148, 8, format!("{sum:06o}\0 ").as_bytes());
    out.extend_from_slice(&h);
    if let Some(b) = bytes {
        out.extend_from_slice(b);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
}
