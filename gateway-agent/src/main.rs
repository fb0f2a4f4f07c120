//! `gateway-agent`: the on-site collector (工地网关).
//!
//! * `keygen --out FILE`: a new Ed25519 gateway key (0600); prints the public key and key id for enrolment.
//! * `intake-token --out FILE`: a new local intake token (0600); prints its SHA-256 for `intake_token_sha256`.
//! * `run --config FILE`: the agent (HJ 212 TCP server, authenticated local intake, signing, durable queue,
//!   upload, heartbeat).
//! * `simulate --config FILE`: simulated devices for that configuration's devices, against its agent.
//! * `check FILE…`: runs captured HJ 212 bytes (`-` for stdin) through the framer and parser offline.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use siteledger_gateway_agent::hj212::{Decoder, Scanned, data_response, scan};
use siteledger_gateway_agent::{Agent, AgentConfig, simulate};

#[derive(Debug, Parser)]
#[command(
    name = "gateway-agent",
    version,
    about = "SiteLedger on-site gateway: HJ 212 and device intake, signed store-and-forward"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Creates the gateway's Ed25519 key (file mode 0600) and prints what the bureau enrols.
    Keygen {
        /// Where to write the key (refuses to overwrite).
        #[arg(long)]
        out: PathBuf,
    },
    /// Creates a local intake token (file mode 0600) and prints the `intake_token_sha256` line for the
    /// configuration (the token itself is printed nowhere).
    IntakeToken {
        /// Where to write the token (refuses to overwrite).
        #[arg(long)]
        out: PathBuf,
    },
    /// Runs the agent.
    Run {
        /// The TOML configuration (docs/GATEWAY.md).
        #[arg(long)]
        config: PathBuf,
    },
    /// Simulates the configuration's devices against its agent (HJ 212 over TCP, GB/T 28181 over UDP and TCP,
    /// JSON intake).
    Simulate {
        /// The agent's TOML configuration (devices and listen addresses are taken from it).
        #[arg(long)]
        config: PathBuf,
        /// Milliseconds between readings of one device.
        #[arg(long, default_value_t = 5000)]
        tick_ms: u64,
        /// Random seed.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        /// A file holding the local intake token (default: the configuration's `intake_token_file`, else the
        /// environment variable `SITELEDGER_INTAKE_TOKEN`).
        #[arg(long)]
        intake_token_file: Option<PathBuf>,
        /// Channels (cameras) of each simulated GB/T 28181 NVR of the `[gb28181]` section (1–99).
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=99))]
        nvr_channels: u32,
    },
    /// Checks captured HJ 212 bytes offline: one verdict per frame; exit 1 when something was rejected.
    Check {
        /// Capture files (`-` for stdin).
        #[arg(required = true)]
        files: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Check { files } => return check(&files),
        Command::Keygen { out } => keygen(&out),
        Command::IntakeToken { out } => intake_token(&out),
        Command::Run { config } => runtime().and_then(|rt| rt.block_on(run(config))),
        Command::Simulate { config, tick_ms, seed, intake_token_file, nvr_channels } => {
            let options = simulate::SipOptions { nvr_channels, ..simulate::SipOptions::default() };
            runtime().and_then(|rt| rt.block_on(sim(config, tick_ms, seed, intake_token_file, options)))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gateway-agent: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

fn keygen(out: &std::path::Path) -> anyhow::Result<()> {
    let key = siteledger_client::keys::generate(out)?;
    println!("key file:   {} (mode 0600)", out.display());
    println!("public key: {}", key.public().to_base64());
    println!("key id:     {}", key.key_id());
    println!(
        "Ask the district bureau to enrol this public key (ledger.key.enrolled.v1, role `gateway`, subject \
         `project/<project_id>/gateway/<gateway_id>`) and to issue a gateway token bound to this key id."
    );
    Ok(())
}

fn intake_token(out: &std::path::Path) -> anyhow::Result<()> {
    use std::io::Write;
    let token = siteledger_gateway_agent::config::new_intake_token()?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut file = opts.open(out).with_context(|| format!("creating {} (it must not exist yet)", out.display()))?;
    file.write_all(token.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", out.display()))?;
    println!(
        "token file: {} (mode 0600; give it to the devices and local systems that post to this agent)",
        out.display()
    );
    println!(
        "configuration: intake_token_sha256 = \"{}\"   (or intake_token_file = \"{}\")",
        siteledger_gateway_agent::config::intake_token_sha256(&token),
        out.display()
    );
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

async fn run(path: PathBuf) -> anyhow::Result<()> {
    let config = AgentConfig::from_file(&path)?;
    let token = config.resolve_token()?;
    let key = siteledger_client::keys::load(&config.key_file)?;
    tracing::info!(key_id = %key.key_id(), "gateway key loaded");
    let agent = Agent::start(config, key, token).await?;
    shutdown_signal().await;
    tracing::info!("shutting down: closing connections, finishing the current upload");
    agent.shutdown().await;
    Ok(())
}

async fn sim(
    path: PathBuf,
    tick_ms: u64,
    seed: u64,
    token_file: Option<PathBuf>,
    options: simulate::SipOptions,
) -> anyhow::Result<()> {
    let config = AgentConfig::from_file(&path)?;
    let loopback = |a: std::net::SocketAddr| {
        if a.ip().is_unspecified() { std::net::SocketAddr::from(([127, 0, 0, 1], a.port())) } else { a }
    };
    // A monitor needs the HJ 212 listener only if the configuration has monitors; an unused address otherwise.
    let hj212 = loopback(config.hj212_listen.unwrap_or_else(|| std::net::SocketAddr::from(([127, 0, 0, 1], 0))));
    // The JSON intake is needed only for devices that post to it (cranes, hoists, meters, JSON cameras).
    let posting = config.devices.iter().any(|d| d.kind != siteledger_gateway_agent::DeviceKind::Hj212);
    let intake = match (config.http_listen, posting) {
        (Some(http), true) => {
            let token = match token_file.as_ref().or(config.intake_token_file.as_ref()) {
                Some(f) => std::fs::read_to_string(f).with_context(|| format!("intake token file {}", f.display()))?,
                None => std::env::var("SITELEDGER_INTAKE_TOKEN")
                    .context("no intake token: pass --intake-token-file or set SITELEDGER_INTAKE_TOKEN")?,
            };
            Some(simulate::Intake::new(&format!("http://{}", loopback(http)), token.trim()))
        }
        (None, true) => anyhow::bail!(
            "the configuration has devices that post to the local intake (crane, hoist, meter, camera) but no \
             http_listen: nothing to simulate them against"
        ),
        (_, false) => None,
    };
    let sip = match &config.gb28181 {
        Some(g) => {
            anyhow::ensure!(
                g.listen.port() != 0,
                "gb28181.listen has port 0: the simulated cameras cannot know where the agent listens; set a port"
            );
            let devices = simulate::sip_devices(g, &options, seed)?;
            Some(simulate::SipSite { addr: loopback(g.listen), devices })
        }
        None => None,
    };
    anyhow::ensure!(
        !config.devices.is_empty() || sip.as_ref().is_some_and(|s| !s.devices.is_empty()),
        "the configuration has no devices ([[devices]] or [[gb28181.devices]]): nothing to simulate"
    );
    let (tx, rx) = tokio::sync::watch::channel(false);
    let mut set = simulate::spawn_site(
        hj212,
        intake.as_ref(),
        &config.devices,
        sip.as_ref(),
        Duration::from_millis(tick_ms.max(10)),
        seed,
        70.0,
        &rx,
    );
    tracing::info!(
        devices = config.devices.len(),
        gb28181_devices = sip.as_ref().map_or(0, |s| s.devices.len()),
        %hj212,
        intake = intake.as_ref().map(|i| i.url.as_str()),
        sip = ?sip.as_ref().map(|s| s.addr),
        "simulating devices; Ctrl-C stops"
    );
    shutdown_signal().await;
    let _ = tx.send(true);
    while set.join_next().await.is_some() {}
    Ok(())
}

fn check(files: &[String]) -> ExitCode {
    let decoder = Decoder::default();
    let mut rejected = false;
    for file in files {
        let bytes = match read(file) {
            Ok(bytes) => bytes,
            Err(e) => {
                eprintln!("gateway-agent: {file}: {e}");
                return ExitCode::from(2);
            }
        };
        for item in scan(&decoder, &bytes) {
            let range = item.raw();
            match item {
                Scanned::Packet { packet, .. } => {
                    let deviations: Vec<String> = packet.deviations.iter().map(ToString::to_string).collect();
                    println!(
                        "{file}: OK   {}..{} CN={:04} QN={} MN={}{}{}",
                        range.start,
                        range.end,
                        packet.cn,
                        packet.qn.as_deref().unwrap_or("-"),
                        packet.mn.as_deref().unwrap_or("-"),
                        if deviations.is_empty() { String::new() } else { format!(" [{}]", deviations.join("; ")) },
                        if data_response(&packet).is_some() { " +9014" } else { "" },
                    );
                }
                Scanned::Rejected { error, .. } => {
                    rejected = true;
                    println!("{file}: BAD  {}..{} {error}", range.start, range.end);
                }
            }
        }
    }
    if rejected { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

fn read(file: &str) -> std::io::Result<Vec<u8>> {
    if file == "-" {
        let mut bytes = Vec::new();
        std::io::stdin().read_to_end(&mut bytes)?;
        Ok(bytes)
    } else {
        std::fs::read(file)
    }
}
