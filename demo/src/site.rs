//! The demo city's site IoT (设备监测) through the real gateway agent: for six projects (in six districts), one
//! in-process `gateway-agent` each ([`siteledger_gateway_agent::Agent`]), with simulated devices talking to it over
//! real loopback sockets — two HJ 212-2017 dust/noise monitors over TCP (one sending µg/m³, one mg/m³; one asking
//! for 9014 replies), a tower crane black box, a hoist and an electricity/water meter on the agent's JSON intake,
//! and GB/T 28181 cameras speaking SIP to the agent's `[gb28181]` address: an NVR (118) with four camera channels
//! over UDP and an IPC (132) over TCP, registering with digest authentication, sending keepalives, answering the
//! catalog, raising an alarm now and then and now and then going silent, so the site pages show measured online
//! time ([`siteledger_gateway_agent::simulate::spawn_site`]). The cameras' names and positions (大门, 加工区 …) still
//! come through the JSON intake (`registered`: the signalling carries neither). Each agent signs with its own key, enrolled by
//! its district bureau as a `gateway` key with subject `project/<id>/gateway/GW-AGENT`, queues durably under
//! `<data_dir>/site-agents/<project>/` and uploads to this server's `POST /v1/events` with a gateway token bound
//! to its key — exactly as on a site, only on loopback.
//!
//! The keys are enrolled during the demo's setup ([`setup`]); the agents and their devices start when the demo
//! goes live ([`start_agents`]). Restarts are safe: keys are `<data_dir>/keys/demo-agent-<project>.key`; an
//! enrolled key is not enrolled again; each agent's signer chain resumes from its queue.

use std::time::Duration;

use siteledger_client::MemoryChain;
use siteledger_gateway_agent::config::{Gb28181Config, Gb28181Device};
use siteledger_gateway_agent::gb28181::DeviceId;
use siteledger_gateway_agent::simulate::{Intake, SipOptions, SipSite, nvr_channels, sip_devices, spawn_site};
use siteledger_gateway_agent::{Agent, AgentConfig, DeviceConfig, DeviceKind, ParticulateUnit};
use siteledger_ledger::EventStore;
use siteledger_signer::SigningKey;
use uuid::Uuid;

use super::city::{DISTRICTS, ProjectSpec, enrollment};
use super::{DemoContext, TOKEN_PREFIX, cst_text, post_with_retries};
use siteledger_api::auth::Role;

/// How many projects run a gateway agent.
const AGENT_PROJECTS: usize = 6;
/// The agents' gateway id.
const GATEWAY_ID: &str = "GW-AGENT";

/// The projects with an agent: one in each of the first districts with a numeric code (cameras' GB/T 28181 ids
/// start with it).
fn chosen(ctx: &DemoContext) -> Vec<&ProjectSpec> {
    let mut chosen: Vec<&ProjectSpec> = Vec::new();
    for (d, district) in DISTRICTS.iter().enumerate() {
        if chosen.len() >= AGENT_PROJECTS || !district.code.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Some(p) = ctx.plan.projects.iter().find(|p| p.district == d) {
            chosen.push(p);
        }
    }
    chosen
}

/// Enrols the agents' keys that are not enrolled yet (the district bureaus sign).
pub(super) async fn setup(ctx: &DemoContext) -> anyhow::Result<()> {
    for spec in chosen(ctx) {
        let key = ctx.key(&format!("agent-{}", spec.project_id))?;
        enrol(ctx, spec, &key).await.map_err(|e| anyhow::anyhow!("agent of {}: {e:#}", spec.project_id))?;
    }
    Ok(())
}

/// Starts the agents and their simulated devices (live traffic; they stop at the server's shutdown).
pub(super) async fn start_agents(ctx: &DemoContext) -> anyhow::Result<()> {
    let base = ctx.ingest.events_url().trim_end_matches("/v1/events").to_owned();
    let mut started = 0;
    for (i, spec) in chosen(ctx).into_iter().enumerate() {
        match start_agent(ctx, &base, i, spec).await {
            Ok(()) => started += 1,
            Err(e) => tracing::warn!(project = %spec.project_id, error = %e, "demo gateway agent did not start"),
        }
    }
    tracing::info!(
        agents = started,
        "demo site agents running: HJ 212 monitors, a crane, a hoist, a meter and GB/T 28181 cameras (an NVR with \
         4 channels and an IPC) per project, through the gateway agent (signed at the edge, durable queue, uploaded \
         to POST /v1/events)"
    );
    Ok(())
}

/// Channels of each demo NVR.
const NVR_CHANNELS: u32 = 4;

/// The GB/T 28181 ids of project number `i` in district `code` (8-digit centre code: the district's 6 digits and
/// `00`; industry `00`; network `0`; serial `i + 1`): the agent's platform id (200), the NVR (118) and the IPC (132).
fn sip_ids(i: usize, code: &str) -> anyhow::Result<[DeviceId; 3]> {
    let id = |type_code: u16| {
        let s = format!("{code}0000{type_code}{:07}", i + 1);
        DeviceId::parse(&s).map_err(|e| anyhow::anyhow!("GB/T 28181 id {s}: {e}"))
    };
    Ok([id(200)?, id(118)?, id(132)?])
}

/// The demo devices of project number `i` in district `code`. The cameras (the NVR's channels and the IPC) are in
/// the list only for their names and positions (`registered` on the JSON intake); they register over GB/T 28181.
fn devices(i: usize, code: &str) -> anyhow::Result<Vec<DeviceConfig>> {
    let dev = |id: String, kind: DeviceKind, mn: Option<String>, unit: ParticulateUnit| DeviceConfig {
        id,
        kind,
        mn,
        particulate_unit: unit,
        thresholds: Default::default(),
    };
    let mn = |n: usize| format!("0100{code}{:014X}", 0xA890_0016_F000_u64 + (i * 16 + n) as u64);
    let [_, nvr, ipc] = sip_ids(i, code)?;
    let mut devices = vec![
        dev("HJ-01".into(), DeviceKind::Hj212, Some(mn(1)), ParticulateUnit::Microgram),
        dev("HJ-02".into(), DeviceKind::Hj212, Some(mn(2)), ParticulateUnit::Milligram),
        dev("TC-01".into(), DeviceKind::Crane, None, ParticulateUnit::Microgram),
        dev("SC-01".into(), DeviceKind::Hoist, None, ParticulateUnit::Microgram),
        dev("DB-01".into(), DeviceKind::Meter, None, ParticulateUnit::Microgram),
        // The IPC keeps the id the demo's JSON camera had, so a restarted demo continues its history.
        dev(ipc.to_string(), DeviceKind::Camera, None, ParticulateUnit::Microgram),
    ];
    for channel in nvr_channels(&nvr, NVR_CHANNELS) {
        devices.push(dev(channel.to_string(), DeviceKind::Camera, None, ParticulateUnit::Microgram));
    }
    Ok(devices)
}

/// The agent's `[gb28181]` section: its platform id, an NVR and an IPC with passwords in files under `dir`.
///
/// The demo's simulated cameras and its agents run in one process, so here (and only here) the server side writes
/// and holds the cameras' SIP passwords: on a site they are set on the cameras and given to the agent alone. The
/// files are 0600, made once with fresh randomness and read again after a restart.
fn gb28181_config(i: usize, code: &str, dir: &std::path::Path, tick: Duration) -> anyhow::Result<Gb28181Config> {
    let [platform, nvr, ipc] = sip_ids(i, code)?;
    let mut g = Gb28181Config::new(std::net::SocketAddr::from(([127, 0, 0, 1], 0)), platform.as_str());
    // Keepalives every four ticks (20 s on the default tick), offline after three missed.
    g.keepalive_interval_secs = u32::try_from((tick * 4).as_secs()).unwrap_or(60).clamp(1, 60);
    g.keepalive_count = 3;
    let secrets = dir.join("gb28181");
    std::fs::create_dir_all(&secrets)?;
    for id in [nvr, ipc] {
        let path = secrets.join(format!("{id}.password"));
        if !path.exists() {
            siteledger_client::keys::write_secret(&path, &siteledger_gateway_agent::config::new_intake_token()?)?;
        }
        g.devices.push(Gb28181Device { id: id.to_string(), password: None, password_file: Some(path) });
    }
    Ok(g)
}

async fn start_agent(ctx: &DemoContext, base: &str, i: usize, spec: &ProjectSpec) -> anyhow::Result<()> {
    let key = ctx.key(&format!("agent-{}", spec.project_id))?;
    let key_id = key.key_id().to_string();
    // Enrolled during setup; a no-op unless that failed then.
    enrol(ctx, spec, &key).await?;
    let token = ctx
        .state
        .tokens
        .create_demo(
            &format!("{TOKEN_PREFIX}site agent {} {GATEWAY_ID}", spec.project_id),
            Role::Gateway,
            Some(&key_id),
            30,
        )
        .await
        .map_err(|e| anyhow::anyhow!("gateway token: {e}"))?;
    let dir = ctx.state.config.data_dir.join("site-agents").join(&spec.project_id);
    let mut config =
        AgentConfig::new(base, &spec.project_id, GATEWAY_ID, &ctx.state.config.key_dir().join("unused"), &dir);
    config.queue_max_bytes = 256 * 1024 * 1024;
    config.heartbeat_secs = 60;
    config.upload_batch = 200;
    let code = spec.district().code;
    config.devices = devices(i, code)?;
    let tick = ctx.tick.mul_f64(1.0 + (i as f64) * 0.1);
    let gb28181 = gb28181_config(i, code, &dir, tick)?;
    config.gb28181 = Some(gb28181.clone());
    // The simulated devices' local intake token (the agent keeps only its hash).
    let intake_token = siteledger_gateway_agent::config::new_intake_token()?;
    config.intake_token_sha256 = Some(siteledger_gateway_agent::config::intake_token_sha256(&intake_token));
    let agent = Agent::start(config.clone(), key, token.secret).await?;
    let (Some(hj212), Some(intake), Some(sip)) = (agent.hj212_addr, agent.intake_url(), agent.gb28181_addr) else {
        anyhow::bail!("the demo agent of {} has no listeners", spec.project_id);
    };
    let sip_options =
        SipOptions { nvr_channels: NVR_CHANNELS, alarm_chance: 0.01, silence_chance: 0.003, ..SipOptions::default() };
    let sip = SipSite { addr: sip, devices: sip_devices(&gb28181, &sip_options, ctx.seed ^ (i as u64 + 1))? };
    let mut sims = spawn_site(
        hj212,
        Some(&Intake::new(&intake, &intake_token)),
        &config.devices,
        Some(&sip),
        tick,
        ctx.seed ^ (i as u64 + 1),
        spec.district().pm10_base,
        &ctx.shutdown,
    );
    let mut stop = ctx.shutdown.clone();
    tokio::spawn(async move {
        let _ = stop.wait_for(|s| *s).await;
        while sims.join_next().await.is_some() {}
        agent.shutdown().await;
    });
    tracing::info!(project = %spec.project_id, %key_id, "demo gateway agent started");
    Ok(())
}

/// Enrols `key` as the project's agent gateway, signed by the district bureau (once; retried if another demo
/// producer moved the bureau's chain at the same moment).
async fn enrol(ctx: &DemoContext, spec: &ProjectSpec, key: &SigningKey) -> anyhow::Result<()> {
    let key_id = key.key_id().to_string();
    let store = ctx.state.ledger.store();
    if store.keys().await?.iter().any(|k| k.key_id == key_id) {
        return Ok(());
    }
    let district = &ctx.districts[spec.district];
    let district_id = district.key_id().to_string();
    let token = ctx
        .state
        .tokens
        .create_demo(&format!("{TOKEN_PREFIX}site agents enrolment"), Role::City, None, 1)
        .await
        .map_err(|e| anyhow::anyhow!("setup token: {e}"))?;
    let subject = format!("project/{}/gateway/{GATEWAY_ID}", spec.project_id);
    let mut result = Err(anyhow::anyhow!("not attempted"));
    let lock = ctx.locks.of(&district_id);
    for _ in 0..5 {
        // Other areas sign with the same district key: read its head, sign and post under its lock.
        let held = lock.lock().await;
        let mut chain = match store.signer_head(&district_id).await? {
            Some(h) => MemoryChain::after(h.signer_seq, h.leaf_hash),
            None => MemoryChain::new(),
        };
        let env = chain.sign(
            district,
            Uuid::now_v7(),
            "registry/keys",
            "ledger.key.enrolled.v1",
            &cst_text(time::OffsetDateTime::now_utc()),
            enrollment(key.public(), &subject, "gateway"),
        )?;
        let answer = post_with_retries(&ctx.ingest, &token.secret, &[env], &ctx.shutdown).await?;
        drop(held);
        match answer.rejections().next() {
            None => {
                result = Ok(());
                break;
            }
            Some(r) if matches!(r.code.as_deref(), Some("chain_mismatch" | "equivocation")) => {
                result = Err(anyhow::anyhow!("district chain moved: {:?}", r.message));
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Some(r) => {
                result = Err(anyhow::anyhow!(
                    "enrolment rejected: {} {}",
                    r.code.clone().unwrap_or_default(),
                    r.message.clone().unwrap_or_default()
                ));
                break;
            }
        }
    }
    let _ = ctx.state.tokens.revoke(&token.id).await;
    result
}
