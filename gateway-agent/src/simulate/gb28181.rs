//! Simulated GB/T 28181 cameras (IPC, 132) and NVRs (118) with their channels, for `gateway-agent simulate`, the
//! demo and the end-to-end tests: the device role ([`crate::gb28181::device::Device`], sans-I/O) on a real UDP
//! socket or TCP connection to the agent's SIP address. Each device registers with digest authentication (its
//! password read from the same `password_file` the agent reads, with the same 0600 rule), sends keepalives every
//! `keepalive_interval_secs`, answers the agent's `Catalog` and `DeviceInfo` queries, raises an alarm now and then,
//! and now and then goes silent (no keepalives, no answers) for longer than `keepalive_interval_secs ×
//! keepalive_count`, so the agent records it offline, then registers again. A device never panics on what the
//! agent sends (unparsable input is counted and dropped) and stops at `shutdown`.

use std::net::SocketAddr;
use std::time::Duration;

use siteledger_domain::site::{AlarmMethod, AlarmPriority};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::Rng;
use crate::config::Gb28181Config;
use crate::error::AgentError;
use crate::gb28181::device::{Device, DeviceConfig};
use crate::gb28181::manscdp::AlarmNotify;
use crate::gb28181::{DeviceClass, DeviceId, Limits, Message, Password, StreamFramer, parse_datagram};

/// How a simulated device reaches the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// SIP over UDP (most cameras).
    Udp,
    /// SIP over TCP.
    Tcp,
}

/// One simulated GB/T 28181 device.
#[derive(Debug, Clone)]
pub struct SipDeviceSpec {
    /// Its id (132 an IPC, 118 an NVR …).
    pub id: DeviceId,
    /// Its password (never shown by `Debug`).
    pub password: Password,
    /// The agent's platform id (SIP 服务器编码).
    pub platform: DeviceId,
    /// The cameras of its catalog (an NVR's channels) with their names; empty for a camera.
    pub channels: Vec<(DeviceId, String)>,
    /// UDP or TCP.
    pub transport: Transport,
    /// 心跳周期, as configured on the agent.
    pub keepalive_interval: Duration,
    /// Registration lifetime asked for, seconds.
    pub expires: u32,
    /// Chance per keepalive of an alarm (on a random channel, or the camera itself).
    pub alarm_chance: f64,
    /// Chance per keepalive of going silent.
    pub silence_chance: f64,
    /// Shortest and longest silence.
    pub silence: (Duration, Duration),
    /// Random seed.
    pub seed: u64,
}

/// What a simulated device did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SipDeviceReport {
    /// Registrations the agent accepted (`200` to an authenticated `REGISTER`).
    pub registrations: u64,
    /// Keepalives sent.
    pub keepalives: u64,
    /// Alarms sent.
    pub alarms: u64,
    /// Requests of the agent answered (catalog, device info …).
    pub answered: u64,
    /// Silences (each followed by a new registration).
    pub silences: u64,
    /// Connections (TCP) or sockets (UDP) opened.
    pub connections: u64,
    /// Bytes from the agent that were not SIP (dropped).
    pub unparsable: u64,
}

/// How `gateway-agent simulate` and the demo simulate the devices of a `[gb28181]` section.
#[derive(Debug, Clone)]
pub struct SipOptions {
    /// Channels (cameras, 131) of each simulated recorder (NVR 118, DVR 111 …).
    pub nvr_channels: u32,
    /// Chance per keepalive of an alarm.
    pub alarm_chance: f64,
    /// Chance per keepalive of a silence.
    pub silence_chance: f64,
    /// A silence lasts this many to this many keepalive timeouts (`interval × count`); above 1, so the agent
    /// records the device offline.
    pub silence_timeouts: (u32, u32),
}

impl Default for SipOptions {
    fn default() -> Self {
        SipOptions { nvr_channels: 4, alarm_chance: 0.01, silence_chance: 0.002, silence_timeouts: (2, 6) }
    }
}

/// The ids of `n` channels (cameras, type 131) of recorder `nvr`: the recorder's centre and industry codes and
/// network digit, serial `(recorder serial mod 10000) × 100 + k` for k = 1…n (n at most 99).
pub fn nvr_channels(nvr: &DeviceId, n: u32) -> Vec<DeviceId> {
    let serial: u32 = nvr.serial().parse().unwrap_or(0);
    (1..=n.min(99))
        .filter_map(|k| {
            let id =
                format!("{}{}131{}{:06}", nvr.centre(), nvr.industry(), nvr.network(), (serial % 10_000) * 100 + k);
            DeviceId::parse(&id).ok()
        })
        .collect()
}

/// The simulated devices of `config` (a `[gb28181]` section): one per configured device, its password read as the
/// agent reads it (a `password_file` others may read is refused); each recorder with `options.nvr_channels`
/// channels ([`nvr_channels`]); the first camera over TCP, every other device over UDP.
pub fn sip_devices(config: &Gb28181Config, options: &SipOptions, seed: u64) -> Result<Vec<SipDeviceSpec>, AgentError> {
    config.check()?;
    let platform =
        DeviceId::parse(&config.platform_id).map_err(|e| AgentError::Config(format!("gb28181.platform_id: {e}")))?;
    let interval = Duration::from_secs(u64::from(config.keepalive_interval_secs));
    let timeout = interval * config.keepalive_count;
    let (lo, hi) = options.silence_timeouts;
    let mut tcp_given = false;
    let mut specs = Vec::new();
    for (i, (id, password)) in config.passwords()?.into_iter().enumerate() {
        let channels = if id.class() == DeviceClass::Recorder {
            nvr_channels(&id, options.nvr_channels)
                .into_iter()
                .enumerate()
                .map(|(k, c)| (c, format!("通道{}", k + 1)))
                .collect()
        } else {
            Vec::new()
        };
        let transport = if !tcp_given && id.class() == DeviceClass::Camera {
            tcp_given = true;
            Transport::Tcp
        } else {
            Transport::Udp
        };
        specs.push(SipDeviceSpec {
            id,
            password,
            platform: platform.clone(),
            channels,
            transport,
            keepalive_interval: interval,
            expires: config.max_expires.min(3600),
            alarm_chance: options.alarm_chance,
            silence_chance: options.silence_chance,
            silence: (timeout * lo.max(2), timeout * hi.max(lo.max(2))),
            seed: seed.wrapping_mul(31).wrapping_add(i as u64),
        });
    }
    Ok(specs)
}

/// Starts [`run_sip_device`] for each of `specs` against the agent at `agent`.
pub fn spawn_sip_devices(
    agent: SocketAddr,
    specs: &[SipDeviceSpec],
    set: &mut JoinSet<()>,
    shutdown: &watch::Receiver<bool>,
) {
    for spec in specs {
        let (spec, stop) = (spec.clone(), shutdown.clone());
        set.spawn(async move {
            let id = spec.id.clone();
            let report = run_sip_device(agent, spec, stop).await;
            tracing::debug!(device = %id, ?report, "simulated GB/T 28181 device stopped");
        });
    }
}

/// The device's socket to the agent.
enum Link {
    Udp(UdpSocket, SocketAddr),
    Tcp(TcpStream, Box<StreamFramer>),
}

/// What woke the device up.
enum Wake {
    Received(Option<Message>),
    Broken,
    Tick,
    Stop,
}

impl Link {
    async fn open(agent: SocketAddr, transport: Transport) -> std::io::Result<Link> {
        let local = if agent.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
        Ok(match transport {
            Transport::Udp => Link::Udp(UdpSocket::bind(local).await?, agent),
            Transport::Tcp => {
                let stream = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(agent))
                    .await
                    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
                let _ = stream.set_nodelay(true);
                Link::Tcp(stream, Box::new(StreamFramer::new(Limits::default())))
            }
        })
    }

    /// `host:port` as the agent sees it (the loopback or local address towards it).
    fn host(&self, agent: SocketAddr) -> String {
        match self {
            Link::Udp(s, _) => s.local_addr().map(|a| SocketAddr::new(agent.ip(), a.port())),
            Link::Tcp(s, _) => s.local_addr(),
        }
        .map_or_else(|_| agent.to_string(), |a| a.to_string())
    }

    /// Sends `m`; `false` when the connection is gone (TCP). A UDP send that fails is lost, as on a network.
    async fn send(&mut self, m: &Message) -> bool {
        match self {
            Link::Udp(s, to) => {
                if let Err(e) = s.send_to(&m.encode(), *to).await {
                    tracing::debug!(error = %e, "simulated GB/T 28181 device: UDP send failed");
                }
                true
            }
            Link::Tcp(s, _) => {
                tokio::time::timeout(Duration::from_secs(10), s.write_all(&m.encode())).await.is_ok_and(|r| r.is_ok())
            }
        }
    }

    /// The next message; `Ok(None)` for input that is not SIP (dropped), `Err` when the connection is gone.
    async fn recv(&mut self, buf: &mut [u8]) -> Result<Option<Message>, ()> {
        match self {
            Link::Udp(s, _) => match s.recv_from(buf).await {
                Ok((n, _)) => Ok(parse_datagram(&buf[..n], &Limits::default()).ok().flatten()),
                Err(e) => {
                    // An ICMP error from an earlier send: not fatal, but do not spin on it.
                    tracing::debug!(error = %e, "simulated GB/T 28181 device: UDP receive failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    Ok(None)
                }
            },
            Link::Tcp(s, framer) => loop {
                match framer.next_message() {
                    Ok(Some(m)) => return Ok(Some(m)),
                    Ok(None) => {}
                    Err(crate::gb28181::StreamError::Skipped(_)) => return Ok(None),
                    Err(_) => return Err(()),
                }
                let room = framer.room().clamp(1, buf.len());
                match s.read(&mut buf[..room]).await {
                    Ok(0) | Err(_) => return Err(()),
                    Ok(n) => {
                        if framer.push(&buf[..n]).is_err() {
                            return Err(());
                        }
                    }
                }
            },
        }
    }
}

fn is_keepalive(m: &Message) -> bool {
    m.body.windows(9).any(|w| w == b"Keepalive")
}

/// An alarm of the simulated device: on a random channel of a recorder, or the camera itself.
fn alarm(spec: &SipDeviceSpec, rng: &mut Rng) -> Option<AlarmNotify> {
    const KINDS: [(u16, &str); 3] = [
        (6, "入侵检测：围挡区域有人员进入"),
        (2, "运动目标检测：夜间作业面有移动目标"),
        (11, "视频异常检测：画面遮挡"),
    ];
    let device_id = if spec.channels.is_empty() {
        spec.id.clone()
    } else {
        spec.channels[(rng.next_u64() % spec.channels.len() as u64) as usize].0.clone()
    };
    let (alarm_type, description) = KINDS[(rng.next_u64() % KINDS.len() as u64) as usize];
    Some(AlarmNotify {
        sn: 0,
        device_id,
        priority: AlarmPriority::new(3).ok()?,
        method: AlarmMethod::new(5).ok()?,
        alarm_type: Some(alarm_type),
        time: OffsetDateTime::now_utc(),
        description: Some(description.to_owned()),
    })
}

fn between(rng: &mut Rng, (lo, hi): (Duration, Duration)) -> Duration {
    if hi <= lo { lo } else { lo + (hi - lo).mul_f64(rng.f64()) }
}

/// Runs one simulated device against the agent's SIP address `agent` until `shutdown` (reconnecting a TCP
/// connection the agent closed, registering again after a refusal or a lost answer, with backoff).
pub async fn run_sip_device(
    agent: SocketAddr,
    spec: SipDeviceSpec,
    mut shutdown: watch::Receiver<bool>,
) -> SipDeviceReport {
    let mut report = SipDeviceReport::default();
    let mut rng = Rng::new(spec.seed);
    let mut backoff = Duration::from_millis(200);
    let step = (spec.keepalive_interval / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
    let retry = spec.keepalive_interval.clamp(Duration::from_secs(2), Duration::from_secs(30));
    let mut buf = vec![0u8; 65_536];
    'connection: while !*shutdown.borrow() {
        let mut link = match Link::open(agent, spec.transport).await {
            Ok(link) => link,
            Err(e) => {
                tracing::debug!(device = %spec.id, error = %e, "simulated GB/T 28181 device cannot reach the agent");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = crate::agent::stopped(&mut shutdown) => break,
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
                continue;
            }
        };
        report.connections += 1;
        backoff = Duration::from_millis(200);
        let mut device = Device::new(DeviceConfig {
            id: spec.id.clone(),
            password: spec.password.clone(),
            platform: spec.platform.clone(),
            host: link.host(agent),
            transport: if spec.transport == Transport::Udp { "UDP" } else { "TCP" },
            expires: spec.expires,
            keepalive_interval: time::Duration::try_from(spec.keepalive_interval).unwrap_or(time::Duration::MINUTE),
            channels: spec.channels.clone(),
        });
        let mut register_sent: Option<tokio::time::Instant> = None;
        let mut register_wait = retry;
        let mut silent_until: Option<tokio::time::Instant> = None;
        loop {
            let now = tokio::time::Instant::now();
            let mut out = Vec::new();
            if silent_until.is_some_and(|until| now >= until) {
                // Back on the network: register again (the agent has recorded it offline meanwhile).
                silent_until = None;
                device.set_silent(false);
                register_sent = Some(now);
                register_wait = retry;
                out.push(device.register());
            }
            if silent_until.is_none()
                && !device.is_registered()
                && register_sent.is_none_or(|t| now - t >= register_wait)
            {
                if register_sent.is_some() {
                    // No answer, or refused (a wrong password is answered 403): try again, less often.
                    register_wait = (register_wait * 2).min(Duration::from_secs(60));
                }
                register_sent = Some(now);
                out.push(device.register());
            }
            for m in out {
                if !link.send(&m).await {
                    continue 'connection;
                }
            }
            let wake = tokio::select! {
                m = link.recv(&mut buf) => match m {
                    Ok(m) => Wake::Received(m),
                    Err(()) => Wake::Broken,
                },
                () = tokio::time::sleep(step) => Wake::Tick,
                () = crate::agent::stopped(&mut shutdown) => Wake::Stop,
            };
            let mut out = Vec::new();
            match wake {
                Wake::Stop => break 'connection,
                Wake::Broken => {
                    tracing::debug!(device = %spec.id, "simulated GB/T 28181 device: connection closed; reconnecting");
                    break;
                }
                Wake::Received(None) => report.unparsable += 1,
                // Off the network: what arrives is lost.
                Wake::Received(Some(_)) if silent_until.is_some() => {}
                Wake::Received(Some(m)) => {
                    let request = m.status().is_none();
                    if m.status() == Some(200)
                        && m.cseq().is_some_and(|(_, method)| method == "REGISTER")
                        && m.expires() != Some(0)
                    {
                        report.registrations += 1;
                        register_wait = retry;
                    }
                    let answers = device.receive(&m, OffsetDateTime::now_utc());
                    report.answered += u64::from(request && !answers.is_empty());
                    out.extend(answers);
                }
                Wake::Tick if silent_until.is_some() => {}
                Wake::Tick => {
                    for m in device.poll(OffsetDateTime::now_utc()) {
                        if m.cseq().is_some_and(|(_, method)| method == "REGISTER") {
                            // The device refreshes its registration before it expires.
                            register_sent = Some(tokio::time::Instant::now());
                        }
                        let keepalive = is_keepalive(&m);
                        out.push(m);
                        if !keepalive {
                            continue;
                        }
                        report.keepalives += 1;
                        if rng.f64() < spec.alarm_chance
                            && let Some(a) = alarm(&spec, &mut rng)
                        {
                            report.alarms += 1;
                            out.push(device.alarm(a));
                        }
                        if rng.f64() < spec.silence_chance {
                            let length = between(&mut rng, spec.silence);
                            tracing::debug!(device = %spec.id, ?length, "simulated GB/T 28181 device goes silent");
                            report.silences += 1;
                            silent_until = Some(tokio::time::Instant::now() + length);
                            device.set_silent(true);
                        }
                    }
                }
            }
            for m in out {
                if !link.send(&m).await {
                    continue 'connection;
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = crate::agent::stopped(&mut shutdown) => break,
        }
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
    report
}
