//! Simulated site devices, for `gateway-agent simulate`, the platform's demo and the tests:
//!
//! * [`run_monitor`]: a dust/noise monitor speaking real HJ 212-2017 over TCP to an agent — real-time data (2011)
//!   every period and minute data (2051) every tenth, PM10/PM2.5/TSP with a daily pattern, drift and dust
//!   episodes, noise louder by day than by night, wind, temperature, humidity; in µg/m³ or mg/m³ as configured;
//!   with `Flag=5` it waits for each 9014 (10 s, 3 tries, then reconnects), as the standard's defaults say.
//! * [`run_sip_device`] ([`gb28181`](mod@gb28181)): a GB/T 28181 camera or NVR speaking real SIP over UDP or TCP
//!   to the agent's `[gb28181]` address — digest registration, keepalives, catalog and device-info answers, an
//!   occasional alarm, now and then a silence (offline) and a new registration.
//! * [`run_crane`], [`run_hoist`], [`run_meter`], [`run_camera`]: devices posting to the agent's JSON intake —
//!   operator login with certificate, lifting cycles with samples, wind alarms, hoist trips, cumulative meter
//!   totals with residual current; for a camera that does not register with the agent over GB/T 28181 (one
//!   behind another video platform), registration, status and an occasional alarm.
//! * [`spawn_site`]: all devices of an agent's configuration at once (the GB/T 28181 ones over SIP; a camera of
//!   `[[devices]]` that is also a simulated GB/T 28181 camera posts only its name and position, `registered`).
//!
//! The random source is a seeded SplitMix64, so a run is reproducible up to the wall clock. Floats exist only
//! here, inside the simulated device; what goes on the wire is text, as from a real device.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::{DeviceConfig, DeviceKind, ParticulateUnit};
use crate::hj212::{Decoder, Packet, datetime, encode_frame};
use siteledger_domain::time::shanghai_rfc3339_millis as cst_text;

pub mod gb28181;
pub use gb28181::{
    SipDeviceReport, SipDeviceSpec, SipOptions, Transport, nvr_channels, run_sip_device, sip_devices, spawn_sip_devices,
};

/// SplitMix64: small, seeded, good enough for simulated sensors.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    /// The next 64 bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.f64()
    }
}

/// One simulated HJ 212 monitor.
#[derive(Debug, Clone)]
pub struct MonitorSpec {
    /// Its `MN`.
    pub mn: String,
    /// Unit it sends particulates in.
    pub unit: ParticulateUnit,
    /// `Flag=5` (asks for 9014) or `Flag=4`.
    pub ask_reply: bool,
    /// Time between real-time uploads (zero: as fast as replies come).
    pub period: Duration,
    /// Typical PM10 in µg/m³.
    pub pm10_base: f64,
    /// Random seed.
    pub seed: u64,
}

/// What a monitor did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MonitorReport {
    /// Uploads written (first tries).
    pub sent: u64,
    /// Uploads the agent acknowledged with 9014.
    pub acked: u64,
    /// Uploads given up after 3 tries.
    pub lost: u64,
}

/// A dust/noise model for one site.
#[derive(Debug, Clone)]
pub struct SiteWeather {
    rng: Rng,
    pm10_base: f64,
    drift: f64,
    episode: f64,
    wind: f64,
}

impl SiteWeather {
    /// A model around `pm10_base` µg/m³.
    pub fn new(pm10_base: f64, seed: u64) -> SiteWeather {
        let mut rng = Rng::new(seed);
        let wind = rng.range(1.0, 3.5);
        SiteWeather { rng, pm10_base, drift: 0.0, episode: 0.0, wind }
    }

    /// `(pm10, pm25, tsp, noise dB(A), wind m/s, wind direction °, temperature °C, humidity %)` at `t`.
    pub fn sample(&mut self, t: OffsetDateTime) -> [f64; 8] {
        let t = siteledger_domain::time::in_shanghai(t);
        let hour = f64::from(t.hour()) + f64::from(t.minute()) / 60.0;
        let working = (7.0..18.5).contains(&hour);
        // Morning and evening peaks (traffic, inversion), lower at noon.
        let diurnal =
            1.0 + 0.25 * ((hour - 8.0) / 24.0 * std::f64::consts::TAU).cos() + if working { 0.15 } else { -0.1 };
        self.drift = (self.drift * 0.97 + self.rng.range(-3.0, 3.0)).clamp(-30.0, 30.0);
        if self.episode < 1.0 && self.rng.f64() < 0.004 {
            // An earthwork or demolition episode.
            self.episode = self.rng.range(80.0, 220.0);
        }
        self.episode *= 0.97;
        self.wind = (self.wind + self.rng.range(-0.4, 0.4)).clamp(0.2, 11.0);
        let pm10 = (self.pm10_base * diurnal + self.drift + self.episode - self.wind * 2.0 + self.rng.range(-4.0, 4.0))
            .max(5.0);
        let pm25 = pm10 * self.rng.range(0.45, 0.62);
        let tsp = pm10 * self.rng.range(1.5, 1.9);
        let noise = if working {
            self.rng.range(56.0, 69.0)
        } else if (6.0..22.0).contains(&hour) {
            self.rng.range(50.0, 58.0)
        } else {
            self.rng.range(42.0, 53.0)
        } + if self.rng.f64() < 0.03 { self.rng.range(4.0, 9.0) } else { 0.0 };
        let dir = self.rng.range(0.0, 360.0);
        let temp = 14.0 + 6.0 * ((hour - 14.0) / 24.0 * std::f64::consts::TAU).cos() + self.rng.range(-0.5, 0.5);
        let humidity = (70.0 - 15.0 * ((hour - 14.0) / 24.0 * std::f64::consts::TAU).cos() + self.rng.range(-3.0, 3.0))
            .clamp(20.0, 99.0);
        [pm10, pm25, tsp, noise, self.wind, dir, temp, humidity]
    }
}

fn particulate(v_ug: f64, unit: ParticulateUnit) -> String {
    match unit {
        ParticulateUnit::Microgram => format!("{v_ug:.1}"),
        ParticulateUnit::Milligram => format!("{:.4}", v_ug / 1000.0),
        ParticulateUnit::Nanogram => format!("{:.0}", v_ug * 1000.0),
    }
}

/// The data segment of a real-time (2011) or minute (2051) upload.
pub fn upload_segment(spec: &MonitorSpec, qn: &str, data_time: &str, cn: u16, v: &[f64; 8]) -> String {
    let flag = if spec.ask_reply { 5 } else { 4 };
    let u = spec.unit;
    let cp = if cn == 2011 {
        format!(
            "DataTime={data_time};a34002-Rtd={},a34002-Flag=N;a34004-Rtd={},a34004-Flag=N;a34001-Rtd={},a34001-Flag=N;\
             LA-Rtd={:.1},LA-Flag=N;a01007-Rtd={:.1},a01007-Flag=N;a01008-Rtd={:.0},a01008-Flag=N;\
             a01001-Rtd={:.1},a01001-Flag=N;a01002-Rtd={:.1},a01002-Flag=N",
            particulate(v[0], u),
            particulate(v[1], u),
            particulate(v[2], u),
            v[3],
            v[4],
            v[5],
            v[6],
            v[7]
        )
    } else {
        format!(
            "DataTime={data_time};a34002-Min={},a34002-Avg={},a34002-Max={},a34002-Flag=N;\
             a34004-Min={},a34004-Avg={},a34004-Max={},a34004-Flag=N;LA-Min={:.1},LA-Avg={:.1},LA-Max={:.1},LA-Flag=N;\
             a01007-Min={:.1},a01007-Avg={:.1},a01007-Max={:.1},a01007-Flag=N",
            particulate(v[0] * 0.8, u),
            particulate(v[0], u),
            particulate(v[0] * 1.25, u),
            particulate(v[1] * 0.8, u),
            particulate(v[1], u),
            particulate(v[1] * 1.25, u),
            v[3] - 4.0,
            v[3],
            v[3] + 6.0,
            (v[4] * 0.6).max(0.1),
            v[4],
            v[4] * 1.5
        )
    };
    format!("QN={qn};ST=39;CN={cn};PW=123456;MN={};Flag={flag};CP=&&{cp}&&", spec.mn)
}

/// Waits for the 9014 with `qn` on `stream` (bounded by `timeout`); other frames are skipped.
async fn await_reply(stream: &mut TcpStream, buf: &mut Vec<u8>, qn: &str, timeout: Duration) -> std::io::Result<bool> {
    let decoder = Decoder::default();
    let deadline = tokio::time::Instant::now() + timeout;
    let mut chunk = [0u8; 1024];
    loop {
        while let Ok(Some((frame, used))) = decoder.decode(buf) {
            buf.drain(..used);
            if let Ok(p) = Packet::from_frame(frame)
                && p.cn == 9014
                && p.qn.as_deref() == Some(qn)
            {
                return Ok(true);
            }
        }
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Err(_) => return Ok(false),
            Ok(Ok(0)) => return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "agent closed")),
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Ok(Err(e)) => return Err(e),
        }
    }
}

/// Runs one monitor against the agent at `addr` until `shutdown`, or until `limit` uploads were acknowledged
/// (or, without replies, sent).
pub async fn run_monitor(
    addr: SocketAddr,
    spec: MonitorSpec,
    limit: Option<u64>,
    mut shutdown: watch::Receiver<bool>,
) -> MonitorReport {
    let mut report = MonitorReport::default();
    let mut weather = SiteWeather::new(spec.pm10_base, spec.seed);
    let mut last_qn = String::new();
    let mut n: u64 = 0;
    let mut stream: Option<TcpStream> = None;
    let mut buf = Vec::new();
    let mut reconnect_wait = Duration::from_millis(100);
    let mut rounds = 0u32;
    let done =
        |r: &MonitorReport| limit.is_some_and(|l| if spec.ask_reply { r.acked + r.lost >= l } else { r.sent >= l });
    while !done(&report) && !*shutdown.borrow() {
        if stream.is_none() {
            match TcpStream::connect(addr).await {
                Ok(s) => {
                    stream = Some(s);
                    buf.clear();
                    reconnect_wait = Duration::from_millis(100);
                }
                Err(_) => {
                    tokio::select! {
                        () = tokio::time::sleep(reconnect_wait) => {}
                        () = crate::agent::stopped(&mut shutdown) => break,
                    }
                    reconnect_wait = (reconnect_wait * 2).min(Duration::from_secs(10));
                    continue;
                }
            }
        }
        let Some(s) = stream.as_mut() else { continue };
        let now = OffsetDateTime::now_utc();
        let (data_time, mut qn) = (datetime::data_time(now), datetime::qn(now));
        if qn <= last_qn {
            // Unique QN per upload even within one millisecond.
            qn = format!("{}", last_qn.parse::<u128>().unwrap_or(0) + 1);
        }
        last_qn = qn.clone();
        n += 1;
        let values = weather.sample(now);
        let cn = if n.is_multiple_of(10) { 2051 } else { 2011 };
        let Ok(frame) = encode_frame(&upload_segment(&spec, &qn, &data_time, cn, &values)) else { continue };
        report.sent += 1;
        let mut acked = !spec.ask_reply;
        for _attempt in 0..3 {
            if s.write_all(frame.as_bytes()).await.is_err() {
                break;
            }
            if !spec.ask_reply {
                break;
            }
            match await_reply(s, &mut buf, &qn, Duration::from_secs(10)).await {
                Ok(true) => {
                    acked = true;
                    break;
                }
                Ok(false) => continue,
                Err(_) => break,
            }
        }
        if acked {
            rounds = 0;
            if spec.ask_reply {
                report.acked += 1;
            }
        } else {
            // Reconnect and send the same reading again (a real logger keeps it), for 3 rounds; then give up on it.
            stream = None;
            rounds += 1;
            if rounds >= 3 {
                rounds = 0;
                report.lost += 1;
            } else {
                report.sent -= 1;
                n -= 1;
            }
            tokio::select! {
                () = tokio::time::sleep(reconnect_wait) => {}
                () = crate::agent::stopped(&mut shutdown) => break,
            }
            reconnect_wait = (reconnect_wait * 2).min(Duration::from_secs(10));
            continue;
        }
        if !spec.period.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(spec.period) => {}
                () = crate::agent::stopped(&mut shutdown) => break,
            }
        }
    }
    report
}

/// Where a simulated device posts: the agent's intake URL and its local intake token.
#[derive(Clone)]
pub struct Intake {
    /// The HTTP client.
    pub client: reqwest::Client,
    /// `http://<intake address>`.
    pub url: String,
    /// The local intake token (not shown by `Debug`).
    pub token: String,
}

impl Intake {
    /// Posting to the intake at `url` (`http://<address>`) with the local intake `token`.
    pub fn new(url: &str, token: &str) -> Intake {
        let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(30)).build().unwrap_or_default();
        Intake { client, url: url.to_owned(), token: token.to_owned() }
    }
}

impl std::fmt::Debug for Intake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Intake").field("url", &self.url).finish_non_exhaustive()
    }
}

/// Posts one record to the intake; retries 5xx and network errors a few times.
async fn post(http: &Intake, device: &str, record: &str, body: Value) -> bool {
    let url = format!("{}/v1/devices/{device}/{record}", http.url.trim_end_matches('/'));
    for attempt in 0..3u32 {
        match http.client.post(&url).bearer_auth(&http.token).json(&body).send().await {
            Ok(r) if r.status().is_success() => return true,
            Ok(r) if r.status().is_client_error() => {
                let status = r.status();
                let text = r.text().await.unwrap_or_default();
                tracing::warn!(%url, %status, body = %text, "simulated device record refused");
                return false;
            }
            _ => tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt))).await,
        }
    }
    false
}

async fn tick(period: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        () = tokio::time::sleep(period) => true,
        () = crate::agent::stopped(shutdown) => false,
    }
}

fn d1(v: f64) -> String {
    format!("{v:.1}")
}

/// A tower crane's black box: operator login, lifting cycles (samples every `period`), wind alarms.
pub async fn run_crane(http: Intake, device: String, period: Duration, seed: u64, mut shutdown: watch::Receiver<bool>) {
    let mut rng = Rng::new(seed);
    let operator = format!("OP-{:04}", rng.next_u64() % 10_000);
    let valid_until = (OffsetDateTime::now_utc() + time::Duration::days(400)).date();
    post(
        &http,
        &device,
        "operator_login",
        json!({
            "operator_ref": operator, "method": "face", "certificate_type": "tower_crane_driver",
            "certificate_valid_until": valid_until.to_string(),
        }),
    )
    .await;
    let rated = 6.0;
    let mut slew: f64 = rng.range(0.0, 360.0);
    let mut wind: f64 = rng.range(2.0, 5.0);
    let mut wind_alarm = false;
    loop {
        // One lifting cycle: hook up with load, slew, set down: 6–12 samples.
        let started = OffsetDateTime::now_utc();
        let load = rng.range(0.4, rated * 0.95);
        let radius = rng.range(8.0, 50.0);
        // Moment % grows with load × radius against the chart (simplified: rated load at 20 m).
        let moment = (load * radius / (rated * 20.0) * 100.0).min(115.0);
        let steps = 6 + rng.next_u64() % 7;
        let (mut max_moment, mut max_wind, mut over, mut height) = (0.0f64, 0.0f64, 0i64, 0.0);
        for i in 0..steps {
            if !tick(period, &mut shutdown).await {
                return;
            }
            wind = (wind + rng.range(-0.8, 0.8)).clamp(0.3, 16.0);
            if rng.f64() < 0.01 {
                wind = rng.range(12.0, 14.5);
            }
            let phase = i as f64 / steps as f64;
            height = 40.0 * (std::f64::consts::PI * phase).sin() + 2.0;
            slew = (slew + rng.range(2.0, 9.0)) % 360.0;
            let m = moment * (0.9 + 0.1 * (std::f64::consts::PI * phase).sin());
            max_moment = max_moment.max(m);
            max_wind = max_wind.max(wind);
            if m >= 100.0 {
                over += 1;
            }
            post(&http, &device, "sample", json!({
                "sampled_at": cst_text(OffsetDateTime::now_utc()), "load_t": format!("{load:.2}"), "rated_load_t": d1(rated),
                "moment_pct": d1(m), "height_m": d1(height), "radius_m": d1(radius), "slew_deg": d1(slew),
                "wind_m_s": d1(wind), "tilt_deg": format!("{:.2}", rng.range(0.05, 0.4)), "operator_ref": operator,
            })).await;
            if wind >= 12.0 && !wind_alarm {
                wind_alarm = true;
                post(&http, &device, "alarm", json!({"alarm_code": 61, "action": "raised", "value": d1(wind), "message": "风速超限 wind over 12 m/s"})).await;
            } else if wind < 10.0 && wind_alarm {
                wind_alarm = false;
                post(&http, &device, "alarm", json!({"alarm_code": 61, "action": "cleared", "value": d1(wind)})).await;
            }
        }
        post(&http, &device, "cycle", json!({
            "started_at": cst_text(started), "ended_at": cst_text(OffsetDateTime::now_utc()), "max_load_t": format!("{load:.2}"),
            "max_moment_pct": d1(max_moment), "max_wind_m_s": d1(max_wind), "radius_m": d1(radius), "height_m": d1(height.max(2.0)),
            "over_moment_count": over, "operator_ref": operator,
        })).await;
    }
}

/// A hoist monitor: trips up and down with passengers and load.
pub async fn run_hoist(http: Intake, device: String, period: Duration, seed: u64, mut shutdown: watch::Receiver<bool>) {
    let mut rng = Rng::new(seed);
    let today = siteledger_domain::time::shanghai_date(OffsetDateTime::now_utc());
    post(&http, &device, "safety_gear_calibrated", json!({
        "calibrated_on": (today - time::Duration::days(120)).to_string(),
        "valid_until": (today + time::Duration::days(245)).to_string(), "certificate_no": format!("FZ-{}", rng.next_u64() % 100_000),
    })).await;
    post(
        &http,
        &device,
        "drop_test",
        json!({"performed_on": (today - time::Duration::days(30)).to_string(), "passed": true}),
    )
    .await;
    let operator = format!("OP-{:04}", rng.next_u64() % 10_000);
    post(
        &http,
        &device,
        "operator_login",
        json!({
            "operator_ref": operator, "method": "card", "certificate_type": "hoist_driver",
            "certificate_valid_until": (today + time::Duration::days(400)).to_string(),
        }),
    )
    .await;
    let mut floor: i64 = 1;
    loop {
        let target = 1 + (rng.next_u64() % 28) as i64;
        let people = (rng.next_u64() % 9) as i64;
        let load = people as f64 * 70.0 + rng.range(0.0, 600.0);
        while floor != target {
            if !tick(period, &mut shutdown).await {
                return;
            }
            let dir = if target > floor { 1 } else { 2 };
            floor += if dir == 1 { 1 } else { -1 };
            post(&http, &device, "sample", json!({
                "sampled_at": cst_text(OffsetDateTime::now_utc()), "load_kg": d1(load), "load_pct": d1(load / 2000.0 * 100.0),
                "people": people, "cage": 1, "direction": dir, "height_m": d1(floor as f64 * 3.0), "floor": floor,
                "speed_m_s": d1(rng.range(0.6, 0.9)), "wind_m_s": d1(rng.range(1.0, 6.0)), "tilt_deg": format!("{:.2}", rng.range(0.0, 0.2)),
                "operator_ref": operator,
            })).await;
        }
    }
}

/// An electricity and water meter: cumulative totals with residual current.
pub async fn run_meter(http: Intake, device: String, period: Duration, seed: u64, mut shutdown: watch::Receiver<bool>) {
    let mut rng = Rng::new(seed);
    let mut kwh = rng.range(10_000.0, 90_000.0);
    let mut m3 = rng.range(500.0, 8_000.0);
    let mut n = 0u64;
    while tick(period, &mut shutdown).await {
        n += 1;
        kwh += rng.range(0.5, 6.0);
        m3 += rng.range(0.01, 0.4);
        let leak = if rng.f64() < 0.02 { rng.range(30.0, 45.0) } else { rng.range(3.0, 18.0) };
        let (meter, total) =
            if n.is_multiple_of(2) { ("water", format!("{m3:.2}")) } else { ("electricity", format!("{kwh:.1}")) };
        let mut body = json!({"meter": meter, "read_at": cst_text(OffsetDateTime::now_utc()), "total": total});
        if meter == "electricity" {
            body["residual_current_ma"] = json!(d1(leak));
            body["temperature_c"] = json!(d1(rng.range(25.0, 48.0)));
        }
        post(&http, &device, "reading", body).await;
    }
}

/// A camera on the JSON intake (one that does not register with this agent over GB/T 28181, e.g. behind another
/// video platform whose adapter posts for it): registration, status (hourly and on change), an occasional alarm.
pub async fn run_camera(
    http: Intake,
    device: String,
    (name, position): (String, String),
    period: Duration,
    seed: u64,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut rng = Rng::new(seed);
    post(&http, &device, "registered", json!({"name": name, "position": position})).await;
    let mut online = true;
    let mut last_sent = std::time::Instant::now();
    post(
        &http,
        &device,
        "status",
        json!({"status": "online", "last_keepalive_at": cst_text(OffsetDateTime::now_utc())}),
    )
    .await;
    while tick(period, &mut shutdown).await {
        let flip = rng.f64() < if online { 0.01 } else { 0.2 };
        if flip {
            online = !online;
        }
        if flip || last_sent.elapsed() >= Duration::from_secs(3600) {
            last_sent = std::time::Instant::now();
            let mut body = json!({"status": if online { "online" } else { "offline" }});
            if online {
                body["last_keepalive_at"] = json!(cst_text(OffsetDateTime::now_utc()));
            }
            post(&http, &device, "status", body).await;
        }
        if online && rng.f64() < 0.005 {
            post(
                &http,
                &device,
                "alarm",
                json!({
                    "priority": 3, "method": 5, "alarm_type": 6, "description": "入侵检测：围挡区域有人员进入",
                    "alarm_at": cst_text(OffsetDateTime::now_utc()),
                }),
            )
            .await;
        }
    }
}

/// Camera positions the simulator uses (one province asks for at least gate, processing area and highest point).
const CAMERA_POSITIONS: [&str; 3] = ["大门", "加工区", "最高点"];

/// The GB/T 28181 side of a simulated site: the agent's SIP address and the devices that register there.
#[derive(Debug, Clone)]
pub struct SipSite {
    /// The agent's `[gb28181]` address (UDP and TCP).
    pub addr: SocketAddr,
    /// The simulated cameras and NVRs ([`sip_devices`]).
    pub devices: Vec<SipDeviceSpec>,
}

impl SipSite {
    /// Whether `id` is a camera of this simulation (a camera, or a channel of a recorder).
    fn has_camera(&self, id: &str) -> bool {
        self.devices.iter().any(|d| d.id.as_str() == id || d.channels.iter().any(|(c, _)| c.as_str() == id))
    }
}

/// Starts one simulator per device of `devices` against an agent (HJ 212 at `hj212`, intake at `intake`), and
/// the GB/T 28181 devices of `sip`; the monitors upload every `tick` (with `Flag=5` for every other monitor), the
/// other devices post every `tick`. A camera of `devices` that is one of `sip`'s posts only its name and position
/// (`registered`: the signalling carries neither); its status and alarms come over GB/T 28181. Devices that post
/// JSON are skipped, with a warning, when there is no `intake`.
#[expect(
    clippy::too_many_arguments,
    reason = "the site's sockets, devices and timing, as the demo and `simulate` pass them"
)]
pub fn spawn_site(
    hj212: SocketAddr,
    intake: Option<&Intake>,
    devices: &[DeviceConfig],
    sip: Option<&SipSite>,
    tick: Duration,
    seed: u64,
    pm10_base: f64,
    shutdown: &watch::Receiver<bool>,
) -> JoinSet<()> {
    let mut set = JoinSet::new();
    let mut cameras = 0usize;
    for (i, d) in devices.iter().enumerate() {
        let seed = seed.wrapping_mul(31).wrapping_add(i as u64);
        let stop = shutdown.clone();
        let id = d.id.clone();
        if d.kind == DeviceKind::Hj212 {
            let spec = MonitorSpec {
                mn: d.mn.clone().unwrap_or_default(),
                unit: d.particulate_unit,
                ask_reply: i % 2 == 0,
                period: tick,
                pm10_base,
                seed,
            };
            set.spawn(async move {
                run_monitor(hj212, spec, None, stop).await;
            });
            continue;
        }
        let Some(http) = intake.cloned() else {
            tracing::warn!(device = %id, "no local intake (http_listen) to post to: device not simulated");
            continue;
        };
        match d.kind {
            DeviceKind::Hj212 => {}
            DeviceKind::Crane => {
                set.spawn(run_crane(http, id, tick, seed, stop));
            }
            DeviceKind::Hoist => {
                set.spawn(run_hoist(http, id, tick, seed, stop));
            }
            DeviceKind::Meter => {
                set.spawn(run_meter(http, id, tick * 6, seed, stop));
            }
            DeviceKind::Camera => {
                let position = CAMERA_POSITIONS[cameras % CAMERA_POSITIONS.len()].to_owned();
                cameras += 1;
                let name = format!("{position}摄像机");
                if sip.is_some_and(|s| s.has_camera(&id)) {
                    let mut stop = stop;
                    set.spawn(async move {
                        tokio::select! {
                            _ = post(&http, &id, "registered", json!({"name": name, "position": position})) => {}
                            () = crate::agent::stopped(&mut stop) => {}
                        }
                    });
                } else {
                    set.spawn(run_camera(http, id, (name, position), tick * 6, seed, stop));
                }
            }
        }
    }
    if let Some(sip) = sip {
        spawn_sip_devices(sip.addr, &sip.devices, &mut set, shutdown);
    }
    set
}
