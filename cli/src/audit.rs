//! The auditing commands of `siteledger`: `report annual`, `replay` and `evidence export`. They read the event
//! store directly (read-only), so they run beside a live server and give the same bytes as the API. `report
//! annual` resumes from the newest checked snapshot of the rating fold in the read database (and leaves one);
//! `--from-zero` folds from record 0 and gives the same bytes.
//!
//! ```text
//! siteledger report annual --year 2026 [--district 330212] --at-size 120000 [--out DIR] [--sign-key FILE] [--from-zero]
//! siteledger replay --as-of 2026-11-24T12:00:00+08:00 --project NB-2025-0017 [--out FILE]
//! siteledger replay --as-of 120000 --enterprise 91330200MA2CL3XX9U
//! siteledger evidence export --event <uuid> [--event <uuid> …] --out case.json
//! siteledger evidence export --stream project/NB-2025-0017/testing --kind testing.report --attachments --out case/
//! siteledger evidence export --stream project/NB-2025-0017/alarms --kind alarm.raised --where source=TC-01 --from 2026-11-01T00:00:00+08:00 --to 2026-12-01T00:00:00+08:00 --out case.json
//! ```
//! `evidence export` then verifies what it wrote (the code of `siteledger-verify`, with the configured witnesses and
//! TSA roots) and writes the court report of that verification beside it (`case.report.{html,pdf}`, or
//! `report.{html,pdf}` in a package directory; docs/ATTACHMENTS.md).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use siteledger_client::MemoryChain;
use siteledger_domain::LocalDate;
use siteledger_domain::district::DistrictCode;
use siteledger_domain::ids::{CreditCode, ProjectId};
use siteledger_domain::rating::AnnualReport;
use siteledger_ledger::{AnyStore, EventStore};
use siteledger_projections::ReadDb;
use siteledger_signer::SigningKey;
use siteledger_signer::bundle::{Report, verify_timestamped};
use siteledger_signer::cosignature::{WitnessPolicy, WitnessVerifier};
use siteledger_signer::court::{TrustInputs, court_report};
use siteledger_signer::note::NoteVerifier;
use uuid::Uuid;

use siteledger_api::config::Config;
use siteledger_api::evidence::{self, Selection};
use siteledger_api::replay::{self, Subject};
use siteledger_api::reports::{self, ReportRequest};

/// `report annual` arguments.
#[derive(Debug, Args)]
pub struct AnnualArgs {
    /// The year reported on.
    #[arg(long)]
    pub year: i32,
    /// A district code (`330212`, `ZONE-NBHTZ`); the whole city if absent.
    #[arg(long)]
    pub district: Option<String>,
    /// The tree size to compute at (the same size always gives the same bytes).
    #[arg(long)]
    pub at_size: u64,
    /// Policy version (default: the newest published within the first N records).
    #[arg(long)]
    pub policy_version: Option<u32>,
    /// Evidence windows end on this date (default: 31 December of the year).
    #[arg(long)]
    pub as_of: Option<String>,
    /// Directory for `report-<scope>-<year>-<N>.{html,csv,json}`.
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
    /// A bureau key file: also write the signed `report.annual.v1` envelope (a JSON array ready for
    /// `POST /v1/events`).
    #[arg(long)]
    pub sign_key: Option<PathBuf>,
    /// Fold the log from record 0 instead of resuming from the newest fold snapshot in the read database (the
    /// same bytes; what an auditor runs to check them).
    #[arg(long)]
    pub from_zero: bool,
}

/// `replay` arguments.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// A tree size, or an RFC 3339 instant (the size the ledger had then).
    #[arg(long)]
    pub as_of: String,
    /// A project id.
    #[arg(long, conflicts_with = "enterprise")]
    pub project: Option<String>,
    /// An enterprise's credit code.
    #[arg(long)]
    pub enterprise: Option<String>,
    /// Write the JSON here instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `evidence export` arguments.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// An event id (repeatable).
    #[arg(long = "event")]
    pub events: Vec<String>,
    /// A stream, or a stream prefix ending in `/` or `*`.
    #[arg(long, conflicts_with = "events")]
    pub stream: Option<String>,
    /// Only kinds starting with this (e.g. `alarm.`).
    #[arg(long)]
    pub kind: Option<String>,
    /// Records that occurred at or after this RFC 3339 instant.
    #[arg(long)]
    pub from: Option<String>,
    /// Records that occurred before this RFC 3339 instant.
    #[arg(long)]
    pub to: Option<String>,
    /// Only records whose payload member FIELD has VALUE (repeatable), e.g. `--where source=TC-01`.
    #[arg(long = "where", value_name = "FIELD=VALUE")]
    pub payload_equals: Vec<String>,
    /// The bundle file to write; with `--attachments`, the package directory. Beside it the court report of
    /// verifying what was written (电子数据核验报告, docs/ATTACHMENTS.md): `case.json` gets `case.report.html` and
    /// `case.report.pdf`; a package directory gets `report.html` and `report.pdf` inside it.
    #[arg(long)]
    pub out: PathBuf,
    /// Write an evidence package: `OUT/bundle.json` plus `OUT/attachments/<sha256>`, every file the records cite
    /// that the attachment store holds (docs/ATTACHMENTS.md); the others are listed in
    /// `OUT/attachments-not-included.txt`.
    #[arg(long)]
    pub attachments: bool,
    /// With witnesses configured: how many of them must have cosigned the checkpoint for the report's verification
    /// to pass (default: all of them).
    #[arg(long, value_name = "K")]
    pub witness_threshold: Option<usize>,
}

async fn open_store(config: &Config) -> anyhow::Result<AnyStore> {
    AnyStore::open(&config.store_url()).await.context("cannot open the event store")
}

/// The read database, for the rating fold's snapshots, if there is one: a SQLite file that does not exist yet is
/// not created (the report is then folded from record 0), and one that cannot be opened only costs time.
async fn open_snapshots(config: &Config) -> Option<ReadDb> {
    let url = config.read_url();
    if let Some(path) = url.strip_prefix("sqlite:") {
        let path = path.strip_prefix("//").unwrap_or(path);
        if !std::path::Path::new(path).exists() {
            return None;
        }
    }
    match ReadDb::open(&url).await {
        Ok(db) => Some(db),
        Err(e) => {
            eprintln!("read database not opened ({e}): folding the log from record 0");
            None
        }
    }
}

/// `siteledger report annual`.
pub async fn report_annual(config: &Config, args: AnnualArgs) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let district = args
        .district
        .as_deref()
        .map(DistrictCode::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--district: {e}"))?;
    let as_of = args.as_of.as_deref().map(LocalDate::parse).transpose().map_err(|e| anyhow::anyhow!("--as-of: {e}"))?;
    let req = ReportRequest {
        year: args.year,
        district: district.clone(),
        at_size: args.at_size,
        policy_version: args.policy_version,
        as_of,
    };
    let snapshots = if args.from_zero { None } else { open_snapshots(config).await };
    let report = reports::annual_with(&store, snapshots.as_ref(), &req).await?;
    if let Some(db) = &snapshots {
        db.close().await;
    }
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let scope = district.as_ref().map_or("city", DistrictCode::as_str);
    let base = args.out.join(format!("report-{scope}-{}-{}", args.year, args.at_size));
    let write = |ext: &str, bytes: &[u8]| -> anyhow::Result<PathBuf> {
        let p = base.with_extension(ext);
        std::fs::write(&p, bytes).with_context(|| format!("cannot write {}", p.display()))?;
        Ok(p)
    };
    let html = write("html", report.html.as_bytes())?;
    let csv = write("csv", report.csv.as_bytes())?;
    let json = write("json", &report.json)?;
    println!(
        "{}\n{}\n{}\ncontent sha256 {}\nhtml sha256 {}\ncsv sha256 {}",
        html.display(),
        csv.display(),
        json.display(),
        report.record.content_sha256,
        report.record.html_sha256,
        report.record.csv_sha256
    );
    if let Some(key_path) = &args.sign_key {
        let key =
            siteledger_client::keys::load(key_path).with_context(|| format!("cannot read {}", key_path.display()))?;
        let env = sign_report(&store, &key, &report.record).await?;
        let p = write("envelope.json", &siteledger_client::IngestClient::body(std::slice::from_ref(&env)))?;
        println!("{} (signed report.annual.v1, POST it to /v1/events)", p.display());
    }
    Ok(())
}

/// Signs a `report.annual.v1` record with `key`, continuing the key's chain as stored.
pub async fn sign_report(
    store: &AnyStore,
    key: &SigningKey,
    record: &AnnualReport,
) -> anyhow::Result<siteledger_signer::Envelope> {
    let key_id = key.key_id().to_string();
    let head = store.signer_head(&key_id).await?.map(|h| (h.signer_seq, h.leaf_hash));
    let mut chain = MemoryChain::resume(head);
    let now = time::OffsetDateTime::now_utc();
    let at = siteledger_domain::time::in_shanghai(now)
        .replace_nanosecond(0)
        .unwrap_or(now)
        .format(&time::format_description::well_known::Rfc3339)?;
    let event = siteledger_domain::rating::RatingEvent::Report(record.clone());
    let stream = event.expected_stream();
    let id = Uuid::now_v7();
    Ok(chain.sign(key, id, &stream, siteledger_domain::rating::REPORT, &at, event.to_payload())?)
}

/// `siteledger replay`.
pub async fn replay(config: &Config, args: ReplayArgs) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let subject = match (&args.project, &args.enterprise) {
        (Some(p), None) => Subject::Project(ProjectId::parse(p).map_err(|e| anyhow::anyhow!("--project: {e}"))?),
        (None, Some(c)) => Subject::Enterprise(CreditCode::parse(c).map_err(|e| anyhow::anyhow!("--enterprise: {e}"))?),
        _ => anyhow::bail!("give --project ID or --enterprise CREDIT_CODE"),
    };
    let size = siteledger_api::ratings::resolve_as_of(&store, &args.as_of).await?;
    let doc = replay::replay(&store, &subject, size).await?;
    let text = serde_json::to_string_pretty(&doc)?;
    match &args.out {
        Some(p) => {
            std::fs::write(p, text.as_bytes()).with_context(|| format!("cannot write {}", p.display()))?;
            println!("{} (tree size {size}, sha256 {})", p.display(), doc["sha256"].as_str().unwrap_or_default());
        }
        None => println!("{text}"),
    }
    Ok(())
}

fn time_arg(name: &str, v: Option<&str>) -> anyhow::Result<Option<time::OffsetDateTime>> {
    v.map(|s| siteledger_signer::envelope::parse_time(s).map_err(|e| anyhow::anyhow!("--{name} {s:?}: {e}")))
        .transpose()
}

/// `siteledger evidence export`.
pub async fn evidence_export(config: &Config, args: ExportArgs) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let selection = if args.events.is_empty() {
        let stream = args.stream.clone().ok_or_else(|| anyhow::anyhow!("give --event ID… or --stream S"))?;
        Selection::Filter {
            stream,
            kind_prefix: args.kind.clone(),
            from: time_arg("from", args.from.as_deref())?,
            to: time_arg("to", args.to.as_deref())?,
            payload_equals: args
                .payload_equals
                .iter()
                .map(|w| {
                    w.split_once('=')
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .ok_or_else(|| anyhow::anyhow!("--where {w:?}: write FIELD=VALUE"))
                })
                .collect::<anyhow::Result<_>>()?,
        }
    } else {
        let ids = args
            .events
            .iter()
            .map(|s| Uuid::parse_str(s).map_err(|_| anyhow::anyhow!("--event {s:?} is not an event id")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Selection::Ids(ids)
    };
    // The log key's name is the checkpoints' origin (FORMAT.md §6): take it from the stored checkpoint, so the
    // package names the log exactly as the running server signs it, whatever this command's configuration says.
    let mut cfg = config.clone();
    if let Some(origin) = store.latest_checkpoint().await?.and_then(|c| c.note.lines().next().map(str::to_owned)) {
        cfg.log_origin = origin;
    }
    let (vkey, _) = crate::admin::show_keys(&cfg)?;
    let mut bundle = evidence::export(&store, &vkey, &selection).await?;
    let cited = args.attachments.then(|| evidence::cite_attachments(&mut bundle));
    add_cosignatures_and_timestamps(config, &mut bundle).await?;
    // What a court reads (`report.html`, `report.pdf`): made by verifying the files just written, not from what
    // this command believes it wrote.
    let (bundle_path, attachments, html, pdf) = if let Some(cited) = cited {
        let blobs = siteledger_api::blobs::AnyBlobStore::open(&config.blob_url())
            .await
            .context("cannot open the attachment store")?;
        let package = evidence::write_package_of(&blobs, bundle, cited, &args.out).await?;
        let bundle_path = args.out.join("bundle.json");
        println!(
            "{}: {} records, {} attachments included, {} cited but not included; check with \
             siteledger-verify {} --log-key '{vkey}' --attachments {}",
            args.out.display(),
            package.bundle.records.len(),
            package.included.len(),
            package.missing.len(),
            bundle_path.display(),
            args.out.join("attachments").display()
        );
        for (h, ids) in &package.missing {
            println!("  not included / 未随附: {h} (cited by {})", ids.join(", "));
        }
        (bundle_path, Some(args.out.join("attachments")), args.out.join("report.html"), args.out.join("report.pdf"))
    } else {
        let bytes = bundle.to_bytes();
        std::fs::write(&args.out, &bytes).with_context(|| format!("cannot write {}", args.out.display()))?;
        let records = bundle.records.len();
        let checkpoint_size = bundle.checkpoint.lines().nth(1).unwrap_or_default();
        println!(
            "{}: {records} records (with their signers' enrollments), checkpoint size {checkpoint_size}; check with \
             siteledger-verify {} --log-key '{vkey}'",
            args.out.display(),
            args.out.display()
        );
        (args.out.clone(), None, args.out.with_extension("report.html"), args.out.with_extension("report.pdf"))
    };
    let report =
        write_court_report(config, &vkey, args.witness_threshold, &bundle_path, attachments.as_deref(), &html, &pdf)?;
    println!("{}\n{}", html.display(), pdf.display());
    if !report.ok {
        let failed: Vec<String> = report
            .failures()
            .map(|c| format!("{} / {} ({}): {}", c.check.zh(), c.check.en(), c.subject, c.detail))
            .collect();
        anyhow::bail!(
            "the exported files were written, but verifying them failed / 导出文件核验未通过 (see {}):\n  {}",
            html.display(),
            failed.join("\n  ")
        );
    }
    Ok(())
}

/// The stored witness cosignatures (FORMAT.md §9.1) and RFC 3161 tokens (§10.1) of the bundle's checkpoint, for
/// the witnesses and TSAs this configuration names, as the server stored them beside its tokens.
async fn add_cosignatures_and_timestamps(
    config: &Config,
    bundle: &mut siteledger_signer::Bundle,
) -> anyhow::Result<()> {
    if config.witnesses.is_empty() && config.tsas.is_empty() {
        return Ok(());
    }
    let tokens = siteledger_api::auth::TokenStore::open(&config.auth_url())
        .await
        .map_err(|e| anyhow::anyhow!("token database: {e}"))?;
    if !config.witnesses.is_empty() {
        let cosignatures = siteledger_api::witnessing::CosignatureStore::open(&tokens)
            .await
            .map_err(|e| anyhow::anyhow!("cosignatures: {e}"))?;
        siteledger_api::witnessing::cosign_bundle_with(&cosignatures, &config.witnesses, bundle)
            .await
            .map_err(|e| anyhow::anyhow!("cosignatures: {e}"))?;
    }
    if !config.tsas.is_empty() {
        let store = siteledger_api::timestamping::TimestampStore::open(&tokens)
            .await
            .map_err(|e| anyhow::anyhow!("timestamps: {e}"))?;
        let tsas = siteledger_api::timestamping::tsas(&config.tsas)?;
        siteledger_api::timestamping::timestamp_bundle_with(&store, &tsas, bundle)
            .await
            .map_err(|e| anyhow::anyhow!("timestamps: {e}"))?;
    }
    Ok(())
}

/// Verifies the written bundle (and package files) as `siteledger-verify` does, trusting the log key, the
/// configured witnesses (at least `threshold` of them, default all) and the configured TSAs' roots, and writes the
/// court report of that verification (`siteledger_signer::court`) as HTML and PDF.
fn write_court_report(
    config: &Config,
    vkey: &str,
    threshold: Option<usize>,
    bundle_path: &Path,
    attachments: Option<&Path>,
    html: &Path,
    pdf: &Path,
) -> anyhow::Result<Report> {
    let bytes = std::fs::read(bundle_path).with_context(|| format!("cannot read {}", bundle_path.display()))?;
    let log_key = NoteVerifier::parse(vkey).map_err(|e| anyhow::anyhow!("log key: {e}"))?;
    let files = attachments.map(hash_attachments).transpose()?;
    let witnesses: Vec<WitnessVerifier> =
        siteledger_api::witnessing::endpoints(&config.witnesses)?.into_iter().map(|e| e.verifier).collect();
    let policy = if witnesses.is_empty() {
        None
    } else {
        let k = threshold.unwrap_or(witnesses.len());
        Some(WitnessPolicy::new(witnesses, k).map_err(|e| anyhow::anyhow!("--witness-threshold {k}: {e}"))?)
    };
    let tsas = siteledger_api::timestamping::tsas(&config.tsas)?;
    let roots: Option<Vec<_>> = (!tsas.is_empty()).then(|| tsas.into_iter().flat_map(|t| t.roots).collect());
    let report = verify_timestamped(&bytes, &log_key, files.as_ref(), policy.as_ref(), roots.as_deref());
    let name = |p: &Path| p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned());
    let bundle_file = name(bundle_path);
    let attachments_dir = attachments.map(name);
    let tsa_root_file = match config.tsas.as_slice() {
        [one] => one.root.display().to_string(),
        _ => "TSA-ROOTS.pem".to_owned(),
    };
    let verified_at = siteledger_domain::time::shanghai_rfc3339(time::OffsetDateTime::now_utc());
    let trust = TrustInputs {
        log_key: &log_key,
        policy: policy.as_ref(),
        tsa_roots: roots.as_deref(),
        bundle_file: &bundle_file,
        attachments_dir: attachments_dir.as_deref(),
        tsa_root_file: Some(&tsa_root_file),
        verified_at: Some(&verified_at),
    };
    let court = court_report(&bytes, &report, &trust);
    std::fs::write(html, court.to_html()).with_context(|| format!("cannot write {}", html.display()))?;
    std::fs::write(pdf, court.to_pdf()).with_context(|| format!("cannot write {}", pdf.display()))?;
    Ok(report)
}

/// The SHA-256 of every file of a package's attachments directory, by name (what `siteledger-verify
/// --attachments` hashes).
fn hash_attachments(dir: &Path) -> anyhow::Result<BTreeMap<String, [u8; 32]>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
        let (_, h) = crate::backup::hash_file(&entry.path())?;
        let mut digest = [0u8; 32];
        hex::decode_to_slice(&h, &mut digest).context("a SHA-256 in hex")?;
        out.insert(entry.file_name().to_string_lossy().into_owned(), digest);
    }
    Ok(out)
}
