//! `siteledger submit`: sign records with a producer's key and post them, for scripts and batch imports (a month's
//! payroll exported from a contractor's ERP, a gate system's attendance). The chain and the records wait in a local
//! SQLite state file (the client crate's outbox) until the platform has answered for them, so a failure or a kill
//! loses nothing and a re-run sends nothing twice.
//!
//! ```text
//! siteledger submit --url URL --token-file F --key KEYFILE --state STATE.db --stream S --kind K --payload JSON
//! siteledger submit --url URL --token-file F --key KEYFILE --state STATE.db --file records.jsonl
//! ```
//!
//! One JSON Lines line is one record: `{"kind": "...", "stream": "...", "payload": {...}, "occurred_at": "..."}`
//! (`occurred_at` optional: the time it is signed). Each line is checked against the domain before it is signed; a
//! bad line is reported (line number, member, why; never a value shaped like an ID or card number) and skipped,
//! the good ones go on. Each line's source key is `<sha256 of the file>:<line number>`: a line already signed from
//! the same file by an earlier run is not signed again. Editing the file makes it another file (every line is
//! signed again as a new record). The exit status is non-zero if any line was refused, locally or by the platform.
//!
//! Attachments (附件): a line may name local files, `"attachments": ["reports/2026-0017.pdf"]` (paths relative to
//! the JSON Lines file; `--attach FILE` for one record), whose SHA-256 its payload cites (`report_sha256`,
//! `photo_hashes`…). Each is copied into the local attachment store beside the state file (`STATE.blobs/`) before
//! the line's record is signed, and the uploader sends it to the platform's `POST /v1/blobs` before the record. A
//! line that attaches a file its payload does not cite, or cites a file it does not attach (and no earlier run
//! stored), is refused naming the member.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde_json::{Map, Value};
use siteledger_client::blobs::LocalBlobs;
use siteledger_client::idempotency::{file_line, sha256_hex};
use siteledger_client::outbox::{Outbox, OutboxError, OutboxHandle, Place, Submitted};
use siteledger_client::record::{Record, cited_at, now_text, redact};
use siteledger_client::uploader::{Tally, UploadStats, Uploader};
use siteledger_client::{IngestClient, keys};

/// `siteledger submit`.
#[derive(Debug, clap::Args)]
pub struct SubmitArgs {
    /// The platform's base URL, e.g. `https://siteledger.example`.
    #[arg(long)]
    url: String,
    /// File holding the bearer token (readable by its owner only, like a key file).
    #[arg(long)]
    token_file: PathBuf,
    /// The producer's Ed25519 key file (0600), enrolled on the platform.
    #[arg(long)]
    key: PathBuf,
    /// The chain-state file (SQLite; created on first use). Keep one per key and never copy it: two state files
    /// of one key would fork its chain.
    #[arg(long)]
    state: PathBuf,
    /// One record: its stream.
    #[arg(long, requires_all = ["kind", "payload"], conflicts_with = "file")]
    stream: Option<String>,
    /// One record: its kind, e.g. `wage.payroll.submitted.v1`.
    #[arg(long, requires_all = ["stream", "payload"], conflicts_with = "file")]
    kind: Option<String>,
    /// One record: its payload, a JSON object.
    #[arg(long, requires_all = ["stream", "kind"], conflicts_with = "file")]
    payload: Option<String>,
    /// One record: when it happened (RFC 3339; default now).
    #[arg(long, requires = "stream")]
    occurred_at: Option<String>,
    /// One record: a file its payload cites by SHA-256 (a report PDF, a photo); repeat for several. Sent to the
    /// platform before the record.
    #[arg(long = "attach", requires = "stream")]
    attach: Vec<PathBuf>,
    /// A JSON Lines file of records (one `{"kind", "stream", "payload", "occurred_at"?}` per line).
    #[arg(long, required_unless_present = "stream")]
    file: Option<PathBuf>,
    /// Records per request.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Give up uploading after this many seconds of consecutive failures (what is signed stays in the state file).
    #[arg(long, default_value_t = 300)]
    give_up_after_secs: u64,
    /// Days the copy of an attached file is kept in `STATE.blobs/` after the platform took it and no record in the
    /// state file still cites it (0: kept for ever); pruned at the end of each run.
    #[arg(long, default_value_t = 7)]
    keep_files_days: u32,
}

/// Bytes the state file may hold before new records are refused.
const STATE_MAX_BYTES: u64 = 4 << 30;
/// Records handed to the outbox before their commits are awaited (they share group commits).
const WINDOW: usize = 4096;

/// A line that was not signed: where and why.
struct LineError {
    line: usize,
    member: String,
    why: String,
}

/// What the lines became locally.
#[derive(Default)]
struct Local {
    lines: usize,
    signed_now: Vec<u64>,
    earlier: Vec<u64>,
    invalid: Vec<LineError>,
}

/// Runs `siteledger submit`.
pub async fn run(args: SubmitArgs) -> anyhow::Result<()> {
    let token = keys::read_secret("token", &args.token_file)?;
    // An Ed25519 or SM2 key file (docs/PRODUCERS.md).
    let key = keys::load_any(&args.key)?;
    let (outbox, handle) = Outbox::open(&args.state, key, STATE_MAX_BYTES)
        .await
        .with_context(|| format!("state file {}", args.state.display()))?;
    let blobs = LocalBlobs::open(&blobs_dir(&args.state))?;
    let mut local = Local::default();
    let started = std::time::Instant::now();
    let sha = match (&args.file, &args.stream, &args.kind, &args.payload) {
        (Some(file), ..) => Some(submit_file(&handle, &blobs, file, &mut local).await?),
        (None, Some(stream), Some(kind), Some(payload)) => {
            local.lines = 1;
            let one = serde_json::from_str::<Value>(payload)
                .map_err(|e| ("payload".to_owned(), format!("not JSON: {e}")))
                .and_then(|v| match v {
                    Value::Object(m) => Ok(m),
                    _ => Err(("payload".to_owned(), "must be a JSON object".to_owned())),
                });
            match one {
                Ok(payload) => {
                    let at = args.occurred_at.clone().unwrap_or_else(now_text);
                    let files: Vec<String> = args.attach.iter().map(|p| p.display().to_string()).collect();
                    match attach(&blobs, Path::new(""), Record::parts(kind, stream, at, payload), &files, "--attach") {
                        Ok(record) => match handle.submit(record).await {
                            Ok(seq) => local.signed_now.push(seq),
                            Err(OutboxError::Invalid(e)) => {
                                local.invalid.push(LineError { line: 1, member: e.member(), why: e.to_string() })
                            }
                            Err(e) => return Err(e.into()),
                        },
                        Err((member, why)) => local.invalid.push(LineError { line: 1, member, why }),
                    }
                }
                Err((member, why)) => local.invalid.push(LineError { line: 1, member, why }),
            }
            None
        }
        _ => anyhow::bail!("give either --file, or --stream, --kind and --payload"),
    };
    drop(handle);
    let secs = started.elapsed().as_secs_f64();
    let stored = local.signed_now.len();
    eprintln!(
        "signed and stored durably: {stored} record(s) in {secs:.2} s ({:.0} records/s); uploading…",
        stored as f64 / secs.max(1e-9)
    );
    for e in &local.invalid {
        eprintln!("line {}: member `{}`: {}", e.line, e.member, redact(&e.why));
    }
    // Where the lines an earlier run signed are now (before this run sends the queued ones).
    let before = outbox.places(&local.earlier).await?;
    let (mut sent_before, mut queued_before) = (0, 0);
    let mut refused_before: BTreeMap<String, u64> = BTreeMap::new();
    for seq in &local.earlier {
        match before.get(seq) {
            None => sent_before += 1,
            Some(Place::Queued) => queued_before += 1,
            Some(Place::Parked { code }) => *refused_before.entry(code.clone()).or_default() += 1,
        }
    }
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let mut uploader = Uploader {
        outbox,
        ingest: IngestClient::new(&args.url).context("HTTP client")?,
        token,
        batch: args.batch.max(1),
        blobs: Some(blobs),
        stats: std::sync::Arc::new(UploadStats::default()),
        shutdown,
    };
    let drained = uploader.drain(Duration::from_secs(args.give_up_after_secs)).await;
    if let (Some(blobs), true) = (&uploader.blobs, args.keep_files_days > 0) {
        let keep = Duration::from_secs(u64::from(args.keep_files_days) * 86_400);
        match siteledger_client::retention::prune_blobs(&uploader.outbox, blobs, keep, time::OffsetDateTime::now_utc())
            .await
        {
            Ok(p) if p.files > 0 => {
                eprintln!("pruned {} local file copies ({} bytes) the platform holds", p.files, p.bytes)
            }
            Ok(_) => {}
            Err(e) => eprintln!("warning: pruning local file copies failed: {e}"),
        }
    }
    let (tally, failure) = match drained {
        Ok(t) => (t, None),
        Err(e) => (e.sent.clone(), Some(e)),
    };
    println!("{}", summary(&local, sha.as_deref(), sent_before, queued_before, &refused_before, &tally));
    if let Some(e) = failure {
        return Err(e.into());
    }
    let refused = local.invalid.len() as u64 + tally.refused() + refused_before.values().sum::<u64>();
    if refused > 0 {
        anyhow::bail!("{refused} record(s) refused (see above); the others are in the log");
    }
    Ok(())
}

/// The local attachment store of the state file `state`: `STATE.blobs/` beside it.
fn blobs_dir(state: &Path) -> PathBuf {
    let mut name = state.file_name().map(|n| n.to_os_string()).unwrap_or_else(|| "state".into());
    name.push(".blobs");
    state.with_file_name(name)
}

/// `record` checked once, with its `files` (paths relative to `base`) in the local attachment store: each must be
/// cited by the payload, and every file the payload cites must be attached or held from an earlier run. Or the
/// member at fault and why.
fn attach(
    blobs: &LocalBlobs,
    base: &Path,
    record: Record,
    files: &[String],
    member: &str,
) -> Result<Record, (String, String)> {
    let record = record.checked().map_err(|e| (e.member(), e.to_string()))?;
    for (i, file) in files.iter().enumerate() {
        let at = || format!("{member}[{i}]");
        let stored = blobs.put_file(&base.join(file)).map_err(|e| (at(), format!("file {}: {e}", redact(file))))?;
        if !record.cites().contains(&stored.sha256) {
            return Err((
                at(),
                format!(
                    "the payload does not cite this file (SHA-256 {}): put the digest in the member that cites it \
                     (report_sha256, photo_hashes…), or leave the file out",
                    stored.sha256
                ),
            ));
        }
    }
    if let Some(sha) = record.cites().iter().find(|h| !blobs.contains(h)) {
        let at = cited_at(&record.payload, sha).map_or_else(|| "payload".to_owned(), |p| redact(&p));
        return Err((
            at,
            format!(
                "cites the file {sha}, which is neither attached nor stored by an earlier run: name the file in \
                 `attachments` (a JSON Lines line) or `--attach` (one record)"
            ),
        ));
    }
    Ok(record)
}

/// Signs every good line of `file` into the outbox (each with its source key, its attachments stored first);
/// returns the file's SHA-256.
async fn submit_file(
    handle: &OutboxHandle,
    blobs: &LocalBlobs,
    file: &Path,
    local: &mut Local,
) -> anyhow::Result<String> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let sha = sha256_hex(&bytes);
    let mut window: Vec<(usize, _)> = Vec::with_capacity(WINDOW);
    for (i, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let n = i + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        local.lines += 1;
        let record = match line_record(raw).and_then(|(r, files)| attach(blobs, &base, r, &files, "attachments")) {
            Ok(r) => r,
            Err((member, why)) => {
                local.invalid.push(LineError { line: n, member, why });
                continue;
            }
        };
        match handle.enqueue_once(record, file_line(&sha, n)).await {
            Ok(pending) => window.push((n, pending)),
            Err(OutboxError::Invalid(e)) => {
                local.invalid.push(LineError { line: n, member: e.member(), why: e.to_string() })
            }
            Err(e) => return Err(anyhow::Error::from(e).context(format!("line {n}: not stored"))),
        }
        if window.len() >= WINDOW {
            settle_window(&mut window, local).await?;
        }
    }
    settle_window(&mut window, local).await?;
    Ok(sha)
}

async fn settle_window(
    window: &mut Vec<(usize, impl Future<Output = Result<Submitted, OutboxError>>)>,
    local: &mut Local,
) -> anyhow::Result<()> {
    for (n, pending) in window.drain(..) {
        match pending.await {
            Ok(Submitted { seq, earlier: false }) => local.signed_now.push(seq),
            Ok(Submitted { seq, earlier: true }) => local.earlier.push(seq),
            Err(e) => return Err(anyhow::Error::from(e).context(format!("line {n}: not stored"))),
        }
    }
    Ok(())
}

/// The record of one JSON Lines line and the files it attaches, or the member at fault and why (never the value).
fn line_record(raw: &[u8]) -> Result<(Record, Vec<String>), (String, String)> {
    let text = std::str::from_utf8(raw).map_err(|_| ("line".to_owned(), "not UTF-8".to_owned()))?;
    // Parsed as a JSON value first: a syntax error says where, never what.
    let value: Value = serde_json::from_str(text).map_err(|e| ("line".to_owned(), format!("not JSON: {e}")))?;
    let Value::Object(mut obj) = value else {
        return Err(("line".to_owned(), "must be a JSON object {\"kind\", \"stream\", \"payload\"}".to_owned()));
    };
    let mut text_member = |name: &str, required: bool| -> Result<Option<String>, (String, String)> {
        match obj.remove(name) {
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err((name.to_owned(), "must be a string".to_owned())),
            None if required => Err((name.to_owned(), "missing".to_owned())),
            None => Ok(None),
        }
    };
    let kind = text_member("kind", true)?.unwrap_or_default();
    let stream = text_member("stream", true)?.unwrap_or_default();
    let occurred_at = text_member("occurred_at", false)?.unwrap_or_else(now_text);
    let payload: Map<String, Value> = match obj.remove("payload") {
        Some(Value::Object(m)) => m,
        Some(_) => return Err(("payload".to_owned(), "must be a JSON object".to_owned())),
        None => return Err(("payload".to_owned(), "missing".to_owned())),
    };
    let files = match obj.remove("attachments") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) if !s.is_empty() => Ok(s),
                _ => Err((format!("attachments[{i}]"), "must be a file path (a non-empty string)".to_owned())),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(("attachments".to_owned(), "must be an array of file paths".to_owned())),
    };
    if let Some(other) = obj.keys().next() {
        return Err((
            redact(other),
            "is not a member of a record line (kind, stream, payload, occurred_at, attachments)".to_owned(),
        ));
    }
    Ok((Record::parts(kind, stream, occurred_at, payload), files))
}

fn summary(
    local: &Local,
    sha: Option<&str>,
    sent_before: u64,
    queued_before: u64,
    refused_before: &BTreeMap<String, u64>,
    tally: &Tally,
) -> String {
    let codes = |m: &BTreeMap<String, u64>| {
        if m.is_empty() {
            "none".to_owned()
        } else {
            m.iter().map(|(c, n)| format!("{c} {n}")).collect::<Vec<_>>().join(", ")
        }
    };
    let mut out = format!("lines: {}", local.lines);
    if let Some(sha) = sha {
        out.push_str(&format!(" (file sha256 {sha})"));
    }
    out.push_str(&format!(
        "\nsigned now: {}\nalready signed by an earlier run: {} (in the log before: {sent_before}, still queued: \
         {queued_before}, refused before: {})\ninvalid, not signed: {}",
        local.signed_now.len(),
        local.earlier.len(),
        codes(refused_before),
        local.invalid.len()
    ));
    out.push_str(&format!(
        "\nuploaded this run: accepted {}, duplicate {}, refused: {}",
        tally.accepted,
        tally.duplicate,
        codes(&tally.rejected)
    ));
    out
}
