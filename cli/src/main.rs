//! `siteledger`: the platform server and its administration commands. The server is `siteledger-api`'s library;
//! `serve --demo` adds the simulated city and `bench` the load bench, both from `siteledger-demo`, so the server
//! library itself links neither.
//!
//! ```text
//! siteledger serve [--demo] [--replay-from-zero] [--data-dir DIR] [--listen ADDR] [--store-url URL] [--config FILE]
//! siteledger token create --role district --scope 330212 --name "鄞州区住建局 监管科"
//! siteledger token revoke ID | token list
//! siteledger projections rebuild
//! siteledger ledger verify-snapshot
//! siteledger keys show
//! siteledger keys new --out FILE [--alg ed25519|sm2] [--sm2-id ID] [--subject S --role R --valid-from T]
//! siteledger report annual --year Y [--district D] --at-size N [--out DIR] [--sign-key FILE]
//! siteledger simulate city [--projects N] [--sim-hours H] [--speed X] [--burst] [--offline-gateway] [--clock-fault]
//! siteledger replay --as-of <RFC 3339 time | tree size> (--project ID | --enterprise CREDIT_CODE)
//! siteledger evidence export (--event ID… | --stream S [--kind PREFIX] [--from T] [--to T]) --out FILE
//! siteledger backup --out BACKUP [--without-keys]
//! siteledger restore --from BACKUP --data-dir NEW [--keys KEYDIR]
//! siteledger witness init --name NAME --key-file FILE | witness serve --witness-config FILE
//! siteledger submit --url URL --token-file F --key KEYFILE --state STATE.db (--file records.jsonl | --stream S --kind K --payload JSON)
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;

mod admin;
mod audit;
mod backup;
mod submit;
mod witness;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use siteledger_api::auth::{Role, TokenStore};
use siteledger_api::config::Config;

/// mimalloc instead of glibc's malloc: the server allocates and frees many small objects on several threads (parsed
/// envelopes, rows, JSON values), and under a city's load glibc's allocator took about half of the process's CPU
/// (`_int_malloc`, `malloc_consolidate`, `unlink_chunk`); with mimalloc the same city run took 38 % less CPU
/// (BENCHMARKS.md "The read models under flat-out ingest on PostgreSQL").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(name = "siteledger", version, about = "SiteLedger 智慧工地监管平台: the platform server and its tools")]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct Common {
    /// TOML configuration file (values there are overridden by environment variables and flags).
    #[arg(long, global = true, env = "SITELEDGER_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (embedded stores, key files).
    #[arg(long, global = true, env = "SITELEDGER_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Event store URL: sqlite:PATH, postgres://…, kurrentdb://…
    #[arg(long, global = true, env = "SITELEDGER_STORE_URL")]
    store_url: Option<String>,
    /// Read-model database URL: sqlite:PATH or postgres://…
    #[arg(long, global = true, env = "SITELEDGER_READ_URL")]
    read_url: Option<String>,
    /// Token database URL: sqlite:PATH or postgres://…
    #[arg(long, global = true, env = "SITELEDGER_AUTH_URL")]
    auth_url: Option<String>,
    /// Log as JSON lines.
    #[arg(long, global = true, env = "SITELEDGER_LOG_JSON")]
    log_json: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the platform server.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "SITELEDGER_LISTEN")]
        listen: Option<SocketAddr>,
        /// Run the simulated demo city and open the dashboard read-only to anonymous visitors.
        #[arg(long)]
        demo: bool,
        /// The log's origin (and checkpoint key name).
        #[arg(long, env = "SITELEDGER_LOG_ORIGIN")]
        log_origin: Option<String>,
        /// The log key's algorithm when the log is created: `ed25519` (default) or `sm2` (SM2-signed checkpoints,
        /// docs/FORMAT.md §12). An existing log keeps its key; a different value is refused.
        #[arg(long, env = "SITELEDGER_LOG_KEY_ALG")]
        log_key_alg: Option<String>,
        /// Base64 public key allowed to enrol itself (the city bureau's root key); repeatable.
        #[arg(long = "trust-root")]
        trust_roots: Vec<String>,
        /// Ignore the stored admission-state snapshots and rebuild the admission state from the whole log.
        #[arg(long)]
        replay_from_zero: bool,
    },
    /// The event log itself.
    Ledger {
        #[command(subcommand)]
        action: LedgerCmd,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        action: TokenCmd,
    },
    /// Manage read models.
    Projections {
        #[command(subcommand)]
        action: ProjectionsCmd,
    },
    /// Show the server's public keys; create a producer's signing key file (Ed25519 or SM2).
    Keys {
        #[command(subcommand)]
        action: KeysCmd,
    },
    /// Load-test a server on this machine (ingest, queries, live feed) and print a Markdown table.
    Bench(siteledger_demo::bench::BenchArgs),
    /// Simulate load on a server on this machine (issue 16): `simulate city` runs Ningbo's sites at accelerated time.
    Simulate {
        #[command(subcommand)]
        what: SimulateCmd,
    },
    /// Supervision reports (年度督查报告), regenerable bit for bit from the log.
    Report {
        #[command(subcommand)]
        action: ReportCmd,
    },
    /// Auditor replay: a project's or enterprise's state at a tree size or instant, with proofs.
    Replay(audit::ReplayArgs),
    /// Court evidence packages (证据包) that siteledger-verify checks offline.
    Evidence {
        #[command(subcommand)]
        action: EvidenceCmd,
    },
    /// Copy the data directory (or a PostgreSQL log) into a verified backup while the server writes.
    Backup(backup::BackupArgs),
    /// Restore a backup into a fresh data directory, verifying every file and the whole log first.
    Restore(backup::RestoreArgs),
    /// Sign records with a producer's key and post them: one record, or a JSON Lines file (idempotent re-runs).
    Submit(submit::SubmitArgs),
    /// Run a C2SP tlog-witness that cosigns other logs' checkpoints after checking their consistency.
    Witness {
        #[command(subcommand)]
        action: witness::WitnessCmd,
    },
}

#[derive(Debug, Subcommand)]
enum SimulateCmd {
    /// N projects over the ten 区县(市) and the zone, their devices, gates, payroll, inspections and tests, signed
    /// by simulated parties and posted through the real ingest; prints a Markdown report, writes a CSV and a PNG.
    City(siteledger_demo::citysim::CityArgs),
}

#[derive(Debug, Subcommand)]
enum ReportCmd {
    /// The annual supervision report of a district or the city: HTML, CSV and JSON, with their SHA-256.
    Annual(audit::AnnualArgs),
}

#[derive(Debug, Subcommand)]
enum EvidenceCmd {
    /// One evidence bundle for records chosen by event id or by stream, kind and time range.
    Export(audit::ExportArgs),
}

#[derive(Debug, Subcommand)]
enum TokenCmd {
    /// Create a token; its secret is printed once and stored only as a hash.
    Create {
        /// city, district, enterprise, auditor or gateway.
        #[arg(long)]
        role: Role,
        /// District code (district), credit code (enterprise) or signer key id (gateway).
        #[arg(long)]
        scope: Option<String>,
        /// Who holds it (shown in logs and listings).
        #[arg(long)]
        name: String,
        /// Days until it expires.
        #[arg(long, default_value_t = 90)]
        days: u32,
    },
    /// Revoke a token by id.
    Revoke {
        /// The token id shown at creation or by `token list`.
        id: String,
    },
    /// List tokens (never their secrets).
    List,
}

#[derive(Debug, Subcommand)]
enum LedgerCmd {
    /// Replay the log from zero up to the newest admission-state snapshot and compare the two byte for byte
    /// (exit status 1 if they differ). Reads only.
    VerifySnapshot,
}

#[derive(Debug, Subcommand)]
enum ProjectionsCmd {
    /// Drop every read model and rebuild it from the log.
    Rebuild,
}

#[derive(Debug, Subcommand)]
enum KeysCmd {
    /// Print the log key string and the system key id.
    Show,
    /// Create a producer's signing key file (mode 0600, never overwriting) and print its key id, public key and
    /// the `ledger.key.enrolled.v1` payload the enrolling authority signs (docs/PRODUCERS.md).
    New(admin::NewKeyArgs),
}

fn load_config(common: &Common) -> anyhow::Result<Config> {
    let mut c = match &common.config {
        Some(p) => Config::from_file(p).map_err(anyhow::Error::msg)?,
        None => Config::default(),
    };
    if let Some(d) = &common.data_dir {
        c.data_dir = d.clone();
    }
    if common.store_url.is_some() {
        c.store_url = common.store_url.clone();
    }
    if common.read_url.is_some() {
        c.read_url = common.read_url.clone();
    }
    if common.auth_url.is_some() {
        c.auth_url = common.auth_url.clone();
    }
    Ok(c)
}

fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("siteledger: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One readable line (with its causes), never a backtrace, whatever RUST_BACKTRACE says.
            eprintln!("siteledger: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    init_tracing(cli.common.log_json);
    let mut config = load_config(&cli.common)?;
    match cli.command {
        Command::Serve { listen, demo, log_origin, log_key_alg, trust_roots, replay_from_zero } => {
            config.replay_from_zero |= replay_from_zero;
            if let Some(l) = listen {
                config.listen = l;
            }
            if let Some(o) = log_origin {
                config.log_origin = o;
            }
            if log_key_alg.is_some() {
                config.log_key_alg = log_key_alg;
            }
            config.trust_roots.extend(trust_roots);
            config.demo |= demo;
            let simulate = config.demo && config.demo_simulation;
            let server = siteledger_api::server::spawn(config).await?;
            if simulate {
                // The demo city posts through the server's own API (its first requests may meet a server that is
                // still starting its background work: they are retried).
                let demo = siteledger_demo::DemoConfig::from_env();
                siteledger_demo::start(server.state.clone(), server.addr, server.shutdown_signal(), demo).await?;
            }
            let url = server.url();
            eprintln!(
                "SiteLedger 智慧工地监管平台 is running: {url}/  (API: {url}/openapi.json, log key: {url}/v1/log/key)"
            );
            shutdown_signal().await;
            eprintln!("shutting down…");
            server.shutdown().await;
        }
        Command::Token { action } => {
            std::fs::create_dir_all(&config.data_dir).ok();
            let store = TokenStore::open(&config.auth_url()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            match action {
                TokenCmd::Create { role, scope, name, days } => {
                    let t =
                        store.create(&name, role, scope.as_deref(), days).await.map_err(|e| anyhow::anyhow!("{e}"))?;
                    println!("token id: {}\nsecret (shown once, store it now): {}", t.id, t.secret);
                }
                TokenCmd::Revoke { id } => {
                    if store.revoke(&id).await.map_err(|e| anyhow::anyhow!("{e}"))? {
                        println!("revoked {id}");
                    } else {
                        anyhow::bail!("no active token with id {id}");
                    }
                }
                TokenCmd::List => {
                    for t in store.list().await.map_err(|e| anyhow::anyhow!("{e}"))? {
                        println!(
                            "{}  {:<10} {:<20} {:<30} expires {}{}{}",
                            t.id,
                            t.role,
                            t.scope.unwrap_or_default(),
                            t.name,
                            t.expires_at,
                            if t.demo { "  DEMO" } else { "" },
                            t.revoked_at.map(|r| format!("  REVOKED {r}")).unwrap_or_default()
                        );
                    }
                }
            }
        }
        Command::Projections { action: ProjectionsCmd::Rebuild } => {
            let n = admin::rebuild_projections(&config).await.context("rebuild failed")?;
            println!("read models rebuilt from {n} records");
        }
        Command::Ledger { action: LedgerCmd::VerifySnapshot } => {
            let Some(check) = admin::verify_snapshot(&config).await.context("verifying the snapshot failed")? else {
                println!("no admission-state snapshot is stored: the server replays the log from zero at start-up");
                return Ok(());
            };
            println!(
                "snapshot at tree size {} (format {}, {} bytes)\n\
                 root matches the log:      {}\n\
                 recorded SHA-256:          {}\n\
                 stored bytes SHA-256:      {}\n\
                 from-zero replay SHA-256:  {} ({} bytes)",
                check.size,
                check.format,
                check.stored_len,
                if check.root_matches { "yes" } else { "NO" },
                hex(&check.recorded_sha256),
                hex(&check.stored_sha256),
                hex(&check.replayed_sha256),
                check.replayed_len,
            );
            if !check.equal() {
                anyhow::bail!(
                    "the snapshot at tree size {} is NOT what a replay from zero gives: start the server with \
                     --replay-from-zero",
                    check.size
                );
            }
            println!("equal: the snapshot is byte for byte the replay from zero");
        }
        Command::Keys { action: KeysCmd::New(args) } => {
            print!("{}", admin::new_key(&args)?);
        }
        Command::Keys { action: KeysCmd::Show } => {
            let (vkey, system) = admin::show_keys(&config)?;
            println!("log key: {vkey}\nsystem key id: {system}");
        }
        Command::Bench(args) => siteledger_demo::bench::run(args).await?,
        Command::Simulate { what: SimulateCmd::City(args) } => siteledger_demo::citysim::run(args).await?,
        Command::Report { action: ReportCmd::Annual(args) } => {
            audit::report_annual(&config, args).await?;
        }
        Command::Replay(args) => audit::replay(&config, args).await?,
        Command::Evidence { action: EvidenceCmd::Export(args) } => {
            audit::evidence_export(&config, args).await?;
        }
        Command::Submit(args) => submit::run(args).await?,
        Command::Witness { action } => witness::run(action).await?,
        Command::Backup(args) => {
            let done = backup::backup(&config, &args).await.context("backup failed")?;
            let log = &done.manifest.log;
            println!(
                "backup written to {}\n\
                 records:            {}\n\
                 root:               {}\n\
                 latest checkpoint:  tree size {} (signature and root verified, {} checkpoints in all)\n\
                 files:              {} ({} bytes){}",
                args.out.display(),
                log.tree_size,
                log.root,
                log.checkpoint.size,
                done.check.checkpoints,
                done.manifest.files.len(),
                done.manifest.files.iter().map(|f| f.bytes).sum::<u64>(),
                if done.manifest.keys_included {
                    "\nkeys included: this backup is as sensitive as the server itself"
                } else {
                    "\nkeys left out: restore needs --keys"
                },
            );
        }
        Command::Restore(args) => {
            let done = backup::restore(&config, &args).await.context("restore failed")?;
            println!(
                "restored into {}\n\
                 records:            {} (every leaf hashed again, {} Merkle nodes compared)\n\
                 root:               {}\n\
                 latest checkpoint:  tree size {} (signature verified with {}; {} checkpoints in all)\n\
                 read models are rebuilt from the log when the server starts: siteledger serve --data-dir {}",
                config.data_dir.display(),
                done.check.size,
                done.check.nodes,
                done.manifest.log.root,
                done.manifest.log.checkpoint.size,
                done.manifest.log.vkey,
                done.check.checkpoints,
                config.data_dir.display(),
            );
        }
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Lowercase hex of a hash.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
