//! The rows the `site` queries answer (served as JSON by `/v1/site/*` and shown on the `/site` pages).

use serde::Serialize;

/// A derived site alarm or exceedance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct SiteAlarmRow {
    /// Unique key.
    pub alarm_key: String,
    /// Project.
    pub project_id: String,
    /// District code.
    pub district: String,
    /// Device.
    pub device_id: String,
    /// The rule's code ([`AlarmRule`](siteledger_domain::site::alarms::AlarmRule)).
    pub rule: String,
    /// `warning` or `violation` ([`AlarmLevel`](siteledger_domain::site::alarms::AlarmLevel)).
    pub level: String,
    /// Chinese first.
    pub message: String,
    /// Value (decimal string).
    pub value: Option<String>,
    /// Threshold (decimal string).
    pub threshold: Option<String>,
    /// When (µs since the epoch): window start, first offending record, or the record's time.
    pub at_us: i64,
    /// Local day.
    pub day: String,
    /// Episode still open (0/1).
    #[serde(serialize_with = "as_bool")]
    pub open: i64,
    /// Cleared when (µs), for episodes.
    pub cleared_us: Option<i64>,
    /// The record that cleared it.
    pub cleared_event_id: Option<String>,
    /// How many records rest on it.
    pub samples: i64,
    /// The event ids it rests on (at most 50; stored as a JSON array).
    #[serde(serialize_with = "as_json_array")]
    pub event_ids: String,
}

fn as_bool<S: serde::Serializer>(v: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bool(*v != 0)
}

fn as_json_array<S: serde::Serializer>(v: &str, s: S) -> Result<S::Ok, S::Error> {
    let ids: Vec<String> = serde_json::from_str(v).unwrap_or_default();
    serde::Serialize::serialize(&ids, s)
}

impl SiteAlarmRow {
    /// The event ids it rests on.
    pub fn cited(&self) -> Vec<String> {
        serde_json::from_str(&self.event_ids).unwrap_or_default()
    }
    /// Whether the episode is still open.
    pub fn is_open(&self) -> bool {
        self.open != 0
    }
}

/// A window value of a series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct WindowRow {
    /// Project.
    pub project_id: String,
    /// Device.
    pub device_id: String,
    /// `pm10`, `pm25`, `noise`, `wind`.
    pub metric: String,
    /// Window start, µs.
    pub window_start_us: i64,
    /// Window length.
    pub window_min: i64,
    /// Mean or Leq (decimal string, 0.1).
    pub value: String,
    /// Readings used.
    pub readings: i64,
    /// `normal`, `warning`, `violation`.
    pub band: String,
    /// The limit (noise: day/night limit; PM10: alarm threshold).
    pub limit_value: Option<String>,
    /// PM10 warning threshold.
    pub warn_value: Option<String>,
    /// Night window.
    pub night: i64,
    /// Policy used (`default` or `<jurisdiction>#v<n>`; empty for a roll-up).
    pub policy: String,
    /// `window` (a judged window of the raw period), `hour` or `day` (a roll-up: `value` is the mean, or the Leq
    /// for noise, of the bucket's finest data; `band` the worst band of the windows judged in it).
    #[sqlx(default)]
    pub resolution: String,
    /// Roll-ups: the smallest reading as sent.
    #[sqlx(default)]
    pub min_value: Option<String>,
    /// Roll-ups: the largest reading as sent.
    #[sqlx(default)]
    pub max_value: Option<String>,
    /// Roll-ups: minutes of windows starting in the bucket judged in the violation band (超标分钟).
    #[sqlx(default)]
    pub exceed_min: Option<i64>,
    /// Roll-ups: minutes of windows starting in the bucket judged in the warning band (预警分钟).
    #[sqlx(default)]
    pub warn_min: Option<i64>,
}

/// How finely a series is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// Hourly roll-ups.
    Hour,
    /// Daily roll-ups (Asia/Shanghai days).
    Day,
}

/// A latest value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct LatestRow {
    /// Project.
    pub project_id: String,
    /// Device.
    pub device_id: String,
    /// Metric.
    pub metric: String,
    /// When, RFC 3339 (Asia/Shanghai).
    pub at: String,
    /// Value as sent (decimal string).
    pub value: String,
    /// Data flag, if any.
    pub flag: Option<String>,
    /// Event id.
    pub event_id: String,
}

/// A crane work cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct CycleRow {
    /// Event id of the cycle record.
    pub event_id: String,
    /// Crane.
    pub device_id: String,
    /// Start.
    pub started_at: String,
    /// End.
    pub ended_at: String,
    /// Max load t.
    pub max_load_t: String,
    /// Max moment %.
    pub max_moment_pct: String,
    /// Max wind m/s.
    pub max_wind_m_s: String,
    /// Radius m.
    pub radius_m: String,
    /// Height m.
    pub height_m: String,
    /// 超力矩次数.
    pub over_moment_count: i64,
    /// Operator.
    pub operator_ref: Option<String>,
    /// Moment band.
    pub band: String,
    /// Why the operator was not valid, if not.
    pub operator_issue: Option<String>,
}

/// A crane's work cycles on one Asia/Shanghai day (`site_crane_days`): what the project page shows of days before
/// the raw period, whose cycles are no longer kept one by one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct CraneDayRow {
    /// Crane.
    pub device_id: String,
    /// Day (`YYYY-MM-DD`) of the cycles' start.
    pub day: String,
    /// Work cycles.
    pub cycles: i64,
    /// Cycles in the moment warning band (预警).
    pub warning: i64,
    /// Cycles in the moment violation band (超限).
    pub violation: i64,
    /// 超力矩次数 over the day's cycles.
    pub over_moment: i64,
    /// Cycles whose operator was not valid.
    pub operator_issues: i64,
}

/// A device's latest state (cranes, hoists, env monitors).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct DeviceRow {
    /// Device.
    pub device_id: String,
    /// `crane`, `hoist`, `env`.
    pub family: String,
    /// The latest record's payload (JSON).
    pub latest: String,
    /// Logged-in operator.
    pub operator_ref: Option<String>,
    /// Certificate expiry.
    pub cert_valid_until: Option<String>,
}

/// A hoist's inspections and their due status on the day asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HoistCheckRow {
    /// Hoist.
    pub device_id: String,
    /// Calibration date.
    pub calibrated_on: Option<String>,
    /// Certificate number.
    pub certificate_no: Option<String>,
    /// `valid`, `overdue`, `missing`.
    pub calibration: String,
    /// Valid through / overdue since.
    pub calibration_until: Option<String>,
    /// Last drop test.
    pub last_drop_test: Option<String>,
    /// Whether it passed.
    pub last_drop_passed: Option<bool>,
    /// `valid`, `overdue`, `missing`.
    pub drop_test: String,
    /// Next due.
    pub drop_test_due: Option<String>,
}

/// A meter and its consumption per day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct MeterRow {
    /// Meter.
    pub device_id: String,
    /// `electricity` or `water`.
    pub meter: String,
    /// Last total.
    pub last_total: String,
    /// Last read.
    pub last_read_at: String,
    /// Residual current mA.
    pub residual_ma: Option<String>,
    /// Temperature °C.
    pub temperature_c: Option<String>,
}

/// Consumption of one meter on one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct MeterDayRow {
    /// Meter.
    pub device_id: String,
    /// `electricity` or `water`.
    pub meter: String,
    /// Local day.
    pub day: String,
    /// kWh or m³ (decimal string).
    pub consumption: String,
    /// Readings that day.
    pub readings: i64,
}

/// A camera.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct CameraRow {
    /// GB/T 28181 id.
    pub device_id: String,
    /// Name.
    pub name: String,
    /// Position.
    pub position_name: String,
    /// Registered.
    pub registered: i64,
    /// `online` or `offline` (its latest report in time order).
    pub status: String,
    /// Last keepalive.
    pub last_keepalive_at: Option<String>,
    /// Online time per mille of the time known on the day asked, up to the time asked (`domain::site::uptime`);
    /// `None` before its first status report.
    #[sqlx(skip)]
    pub day_online_permille: Option<u64>,
}

/// A camera's online time on one day (在线率 over time, `domain::site::uptime`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CameraDayRow {
    /// GB/T 28181 id.
    pub device_id: String,
    /// Asia/Shanghai day.
    pub day: String,
    /// Seconds credited online.
    pub online_s: i64,
    /// Seconds its status reports cover (the share's denominator: 86,400 for a whole day).
    pub known_s: i64,
    /// `online_s` per mille of `known_s`.
    pub online_permille: Option<u64>,
}

/// A gateway's last heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct GatewayRow {
    /// Gateway.
    pub gateway_id: String,
    /// When.
    pub at: String,
    /// Queue depth.
    pub queue_depth: i64,
    /// Queue bytes.
    pub queue_bytes: i64,
    /// Clock skew ms.
    pub clock_skew_ms: Option<i64>,
    /// Rejected packets.
    pub rejected_packets: i64,
    /// Deviations.
    pub deviations: i64,
}

/// A signer gap (数据缺失) on a project's keys, from the shared `alarms` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct GapRow {
    /// The ledger notice's event id.
    pub event_id: String,
    /// Message.
    pub message: String,
    /// Records missing.
    pub value: Option<String>,
    /// Signer key.
    pub key_id: Option<String>,
    /// When.
    pub raised_at: String,
}

/// The thresholds in force for a project (at the time asked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ThresholdsRow {
    /// `default` or `<jurisdiction>#v<n>`.
    pub env_policy: String,
    /// Day limit dB(A).
    pub noise_day: String,
    /// Night limit dB(A).
    pub noise_night: String,
    /// Night hours `22:00–06:00`.
    pub night: String,
    /// Leq window minutes.
    pub leq_window_min: u16,
    /// PM10 warn µg/m³.
    pub pm10_warn: String,
    /// PM10 alarm µg/m³.
    pub pm10_alarm: String,
    /// PM window minutes.
    pub pm_window_min: u16,
    /// PM10 thresholds are placeholders.
    pub pm10_placeholder: bool,
    /// `default` or `<jurisdiction>#v<n>`.
    pub crane_policy: String,
    /// Moment warn %.
    pub moment_warn: String,
    /// Moment violation %.
    pub moment_violation: String,
    /// Wind stop m/s.
    pub wind_stop: String,
    /// Leakage mA.
    pub leakage: String,
}

/// Everything of one project's site page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SiteProject {
    /// Project.
    pub project_id: String,
    /// Name.
    pub name: String,
    /// District.
    pub district: String,
    /// Thresholds in force now.
    pub thresholds: ThresholdsRow,
    /// Latest values per device and metric.
    pub latest: Vec<LatestRow>,
    /// Window series since the time asked.
    pub windows: Vec<WindowRow>,
    /// Derived alarms, newest first.
    pub alarms: Vec<SiteAlarmRow>,
    /// Crane work cycles, newest first.
    pub cycles: Vec<CycleRow>,
    /// Cranes, hoists, monitors.
    pub devices: Vec<DeviceRow>,
    /// Hoist inspections.
    pub hoists: Vec<HoistCheckRow>,
    /// Meters.
    pub meters: Vec<MeterRow>,
    /// Consumption per day, newest first.
    pub meter_days: Vec<MeterDayRow>,
    /// Cameras.
    pub cameras: Vec<CameraRow>,
    /// The cameras' online time per mille of their known time on the day asked, up to the time asked (not the
    /// share of cameras online at that moment).
    pub camera_online_permille: Option<u64>,
    /// Gateways.
    pub gateways: Vec<GatewayRow>,
    /// Signer gaps.
    pub gaps: Vec<GapRow>,
}

/// One project on the site overview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct SiteOverviewRow {
    /// Project.
    pub project_id: String,
    /// Name.
    pub name: String,
    /// District code.
    pub district: String,
    /// Latest PM10 (max over monitors).
    pub pm10: Option<String>,
    /// Latest PM2.5.
    pub pm25: Option<String>,
    /// Latest noise.
    pub noise: Option<String>,
    /// Latest wind.
    pub wind: Option<String>,
    /// When the latest env value was taken.
    pub latest_at: Option<String>,
    /// Derived alarms raised on the day asked.
    pub alarms_today: i64,
    /// Episodes open.
    pub open_alarms: i64,
    /// Cameras registered.
    pub cameras: i64,
    /// Cameras online.
    pub cameras_online: i64,
    /// Cranes and hoists reporting.
    pub lifting_devices: i64,
}
