//! Payload types and schemas of the site kinds (the contract in `docs/KINDS.md`, section "Site IoT").
//!
//! Readings are recorded as sent: decimals are strings, units are those of the device configuration, HJ 212
//! fields are kept as the monitor sent them. Thresholds are policy ([`super::policy`]); exceedances are derived
//! alarms, never reasons to refuse a reading.

use serde::{Deserialize, Serialize};

use super::types::{
    AlarmAction, AlarmMethod, AlarmPriority, AsSent, Cage, CameraId, CameraStatus, DataCn, Direction, FactorCode,
    LoginMethod, MeterKind, OperatorRef, Timestamp, Token, Unit,
};
use crate::date::LocalDate;
use crate::ids::{DeviceId, ProjectId};
use crate::quantity::Decimal;
use crate::schema::{Issue, Member, each, each_object, is, opt, req};
use crate::text::{Name, Text};

/// One factor of an HJ 212 data packet (`a34002-Rtd=31;a34002-Flag=N`), values already in `unit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hj212Item {
    /// Factor code (附录 B), e.g. `a34002` PM10, `LA` A权声级.
    pub code: FactorCode,
    /// Unit of the values (device configuration), e.g. `ug/m3`, `dB(A)`, `m/s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<Unit>,
    /// Real-time value (`-Rtd`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtd: Option<Decimal>,
    /// Average over the period (`-Avg`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avg: Option<Decimal>,
    /// Minimum (`-Min`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<Decimal>,
    /// Maximum (`-Max`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<Decimal>,
    /// Cumulative value (`-Cou`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cou: Option<Decimal>,
    /// Data flag as sent (表 8: `N` normal, `F`, `M`, `S`, `D`, `C`, `T`, `B`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag: Option<AsSent>,
}

impl Hj212Item {
    /// The value that represents the period: `avg` for minute/hourly/daily data, else `rtd`.
    pub fn value(&self) -> Option<&Decimal> {
        self.avg.as_ref().or(self.rtd.as_ref())
    }

    /// Whether the data flag allows the value to count towards exceedances (表 8: only `N`; no flag counts as `N`).
    pub fn counts(&self) -> bool {
        self.flag.as_ref().is_none_or(|f| f.as_str() == "N")
    }
}

/// `env.hj212.data.v1`: one HJ 212-2017 data packet of a dust/noise monitor, as received by the gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hj212Data {
    /// The project.
    pub project_id: ProjectId,
    /// The monitor (device config id).
    pub device_id: DeviceId,
    /// `MN` as sent.
    pub mn: AsSent,
    /// `ST` as sent (39 工地扬尘, 22 空气, 23 声环境 …).
    pub st: AsSent,
    /// `CN`: 2011, 2021, 2031, 2051, 2061.
    pub cn: DataCn,
    /// `DataTime` (Asia/Shanghai).
    pub data_time: Timestamp,
    /// `QN` as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qn: Option<AsSent>,
    /// Deviations from the standard tolerated and recorded (`missing_qn`, `lowercase_crc`, …).
    pub deviations: Vec<Token>,
    /// The factors.
    pub items: Vec<Hj212Item>,
}

/// `crane.sample.v1`: one 塔式起重机 black-box sample (JGJ 332 §3.1.1 items).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CraneSample {
    /// The project.
    pub project_id: ProjectId,
    /// The crane's black box.
    pub device_id: DeviceId,
    /// When sampled.
    pub sampled_at: Timestamp,
    /// 起重量 t.
    pub load_t: Decimal,
    /// 额定起重量 at this radius and 倍率, t.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rated_load_t: Option<Decimal>,
    /// 力矩百分比 %.
    pub moment_pct: Decimal,
    /// 起升高度 m.
    pub height_m: Decimal,
    /// 幅度 m.
    pub radius_m: Decimal,
    /// 回转角度 °.
    pub slew_deg: Decimal,
    /// 运行行程 m.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub travel_m: Option<Decimal>,
    /// 风速 m/s.
    pub wind_m_s: Decimal,
    /// 倾角 °.
    pub tilt_deg: Decimal,
    /// The logged-in operator, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator_ref: Option<OperatorRef>,
}

/// `crane.cycle.v1`: one 工作循环 (lift) closed by the black box.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CraneCycle {
    /// The project.
    pub project_id: ProjectId,
    /// The crane.
    pub device_id: DeviceId,
    /// Start.
    pub started_at: Timestamp,
    /// End.
    pub ended_at: Timestamp,
    /// Max 起重量 t.
    pub max_load_t: Decimal,
    /// Max 力矩 %.
    pub max_moment_pct: Decimal,
    /// Max 风速 m/s.
    pub max_wind_m_s: Decimal,
    /// 幅度 m.
    pub radius_m: Decimal,
    /// 高度 m.
    pub height_m: Decimal,
    /// 超力矩次数.
    pub over_moment_count: u32,
    /// The logged-in operator, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator_ref: Option<OperatorRef>,
}

/// `crane.operator.login.v1`: an operator authenticated at the black box (建设部令第166号 第二十五条).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorLogin {
    /// The project.
    pub project_id: ProjectId,
    /// The crane or hoist.
    pub device_id: DeviceId,
    /// The operator.
    pub operator_ref: OperatorRef,
    /// face, fingerprint, card.
    pub method: LoginMethod,
    /// 特种作业操作资格证书 type, e.g. `tower_crane_driver`.
    pub certificate_type: Token,
    /// Certificate expiry.
    pub certificate_valid_until: LocalDate,
}

/// `crane.operator.logout.v1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorLogout {
    /// The project.
    pub project_id: ProjectId,
    /// The crane or hoist.
    pub device_id: DeviceId,
    /// The operator.
    pub operator_ref: OperatorRef,
}

/// `crane.alarm.v1`: a black-box alarm, recorded as sent (the platform derives its own alarms from samples).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CraneAlarm {
    /// The project.
    pub project_id: ProjectId,
    /// The crane.
    pub device_id: DeviceId,
    /// Black-box `AlarmType` (51 吊重, 61 风速, 71 未打卡操作, 81 倾角 …).
    pub alarm_code: u16,
    /// raised or cleared.
    pub action: AlarmAction,
    /// The measured value, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Decimal>,
    /// Message, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Text>,
}

/// `crane.cutoff.v1`: the control-circuit power cut-off of JGJ 332 §3.1.1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CraneCutoff {
    /// The project.
    pub project_id: ProjectId,
    /// The crane.
    pub device_id: DeviceId,
    /// Why.
    pub reason: Text,
}

/// `hoist.sample.v1`: one 施工升降机 sample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoistSample {
    /// The project.
    pub project_id: ProjectId,
    /// The hoist.
    pub device_id: DeviceId,
    /// When sampled.
    pub sampled_at: Timestamp,
    /// 载重 kg.
    pub load_kg: Decimal,
    /// 载重百分比 %.
    pub load_pct: Decimal,
    /// 人数.
    pub people: u32,
    /// 0 单笼, 1 左笼, 2 右笼.
    pub cage: Cage,
    /// 0 停止, 1 上行, 2 下行.
    pub direction: Direction,
    /// 高度 m.
    pub height_m: Decimal,
    /// 楼层.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor: Option<i32>,
    /// 速度 m/s.
    pub speed_m_s: Decimal,
    /// 风速 m/s.
    pub wind_m_s: Decimal,
    /// 倾角 °.
    pub tilt_deg: Decimal,
    /// The driver, if logged in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator_ref: Option<OperatorRef>,
}

/// `hoist.safety_gear.calibrated.v1`: 防坠安全器 calibration (JGJ 215-2010 §4.1.7: valid one year).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SafetyGearCalibrated {
    /// The project.
    pub project_id: ProjectId,
    /// The hoist.
    pub device_id: DeviceId,
    /// 标定日期.
    pub calibrated_on: LocalDate,
    /// 有效期至.
    pub valid_until: LocalDate,
    /// 标定证书编号.
    pub certificate_no: Name,
}

/// `hoist.drop_test.performed.v1`: 额定载重量坠落试验 (JGJ 215-2010 §5.3.6: at least every 3 months).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropTestPerformed {
    /// The project.
    pub project_id: ProjectId,
    /// The hoist.
    pub device_id: DeviceId,
    /// 试验日期.
    pub performed_on: LocalDate,
    /// Passed.
    pub passed: bool,
}

/// `meter.reading.v1`: a cumulative electricity or water meter reading (施工用电用水监测).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeterReading {
    /// The project.
    pub project_id: ProjectId,
    /// The meter.
    pub device_id: DeviceId,
    /// electricity or water.
    pub meter: MeterKind,
    /// When read.
    pub read_at: Timestamp,
    /// Cumulative total, kWh or m³.
    pub total: Decimal,
    /// 剩余电流 (leakage) mA, electricity boxes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residual_current_ma: Option<Decimal>,
    /// Box temperature °C.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature_c: Option<Decimal>,
}

/// `video.camera.registered.v1`: a GB/T 28181 camera registered at the gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraRegistered {
    /// The project.
    pub project_id: ProjectId,
    /// The GB/T 28181 20-digit id.
    pub device_id: CameraId,
    /// Camera name.
    pub name: Name,
    /// 位置 (`大门`, `加工区`, `最高点`).
    pub position: Name,
}

/// `video.camera.status.v1`: online/offline, on every change and at least hourly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraStatusChanged {
    /// The project.
    pub project_id: ProjectId,
    /// The camera.
    pub device_id: CameraId,
    /// online or offline.
    pub status: CameraStatus,
    /// Last keepalive seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_keepalive_at: Option<Timestamp>,
}

/// `video.camera.alarm.v1`: GB/T 28181 alarm metadata (no video).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraAlarm {
    /// The project.
    pub project_id: ProjectId,
    /// The camera.
    pub device_id: CameraId,
    /// `AlarmPriority` 1–4.
    pub priority: AlarmPriority,
    /// `AlarmMethod` 1–7.
    pub method: AlarmMethod,
    /// `AlarmType`.
    pub alarm_type: u16,
    /// `AlarmDescription`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Text>,
    /// `AlarmTime`.
    pub alarm_at: Timestamp,
}

/// `gateway.heartbeat.v1`: the gateway agent's own health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayHeartbeat {
    /// The project.
    pub project_id: ProjectId,
    /// The gateway.
    pub gateway_id: DeviceId,
    /// Records waiting in the local queue.
    pub queue_depth: u64,
    /// Bytes of the local queue.
    pub queue_bytes: u64,
    /// Gateway clock minus platform clock, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_skew_ms: Option<i64>,
    /// Packets rejected (bad CRC, length, framing) since start.
    pub rejected_packets: u64,
    /// Packets accepted with deviations since start.
    pub deviations: u64,
}

// ---------------------------------------------------------------------------------------------------------------
// Schemas
// ---------------------------------------------------------------------------------------------------------------

fn items(v: &Value) -> Result<(), Issue> {
    each_object(v, HJ212_ITEM)
}

use serde_json::Value;

const HJ212_ITEM: &[Member] = &[
    req("code", is::<FactorCode>),
    opt("unit", is::<Unit>),
    opt("rtd", is::<Decimal>),
    opt("avg", is::<Decimal>),
    opt("min", is::<Decimal>),
    opt("max", is::<Decimal>),
    opt("cou", is::<Decimal>),
    opt("flag", is::<AsSent>),
];

pub(super) const HJ212: &[Member] = &[
    req("project_id", is::<ProjectId>),
    req("device_id", is::<DeviceId>),
    req("mn", is::<AsSent>),
    req("st", is::<AsSent>),
    req("cn", is::<DataCn>),
    req("data_time", is::<Timestamp>),
    opt("qn", is::<AsSent>),
    req("deviations", each::<Token>),
    req("items", items),
];

pub(super) const CRANE_SAMPLE: &[Member] = &[
    req("project_id", is::<ProjectId>),
    req("device_id", is::<DeviceId>),
    req("sampled_at", is::<Timestamp>),
    req("load_t", is::<Decimal>),
    opt("rated_load_t", is::<Decimal>),
    req("moment_pct", is::<Decimal>),
    req("height_m", is::<Decimal>),
    req("radius_m", is::<Decimal>),
    req("slew_deg", is::<Decimal>),
    opt("travel_m", is::<Decimal>),
    req("wind_m_s", is::<Decimal>),
    req("tilt_deg", is::<Decimal>),
    opt("operator_ref", is::<OperatorRef>),
];

pub(super) const CRANE_CYCLE: &[Member] = &[
    req("project_id", is::<ProjectId>),
    req("device_id", is::<DeviceId>),
    req("started_at", is::<Timestamp>),
    req("ended_at", is::<Timestamp>),
    req("max_load_t", is::<Decimal>),
    req("max_moment_pct", is::<Decimal>),
    req("max_wind_m_s", is::<Decimal>),
    req("radius_m", is::<Decimal>),
    req("height_m", is::<Decimal>),
    req("over_moment_count", is::<u32>),
    opt("operator_ref", is::<OperatorRef>),
];

pub(super) const LOGIN: &[Member] = &[
    req("project_id", is::<ProjectId>),
    req("device_id", is::<DeviceId>),
    req("operator_ref", is::<OperatorRef>),
    req("method", is::<LoginMethod>),
    req("certificate_type", is::<Token>),
    req("certificate_valid_until", is::<LocalDate>),
];

pub(super) const LOGOUT: &[Member] =
    &[req("project_id", is::<ProjectId>), req("device_id", is::<DeviceId>), req("operator_ref", is::<OperatorRef>)];

pub(super) const CRANE_ALARM: &[Member] = &[
    req("project_id", is::<ProjectId>),
    req("device_id", is::<DeviceId>),
    req("alarm_code", is::<u16>),
    req("action", is::<AlarmAction>),
    opt("value", is::<Decimal>),
    opt("message", is::<Text>),
];

pub(super) const CUTOFF: &[Member] =
    &[req("project_id", is::<ProjectId>), req("device_id", is::<DeviceId>), req("reason", is::<Text>)];

pub(super) const HOIST_SAMPLE: &[Member] = &[
    req("project_id", is::<ProjectId>),
    req("device_id", is::<DeviceId>),
    req("sampled_at", is::<Timestamp>),
    req("load_kg", is::<Decimal>),
    req("load_pct", is::<Decimal>),
    req("people", is::<u32>),
    req("cage", is::<Cage>),
    req("direction", is::<Direction>),
    req("height_m", is::<Decimal>),
    opt("floor", is::<i32>),
    req("speed_m_s", is::<Decimal>),
    req("wind_m_s", is::<Decimal>),
    req("tilt_deg", is::<Decimal>),
    opt("operator_ref", is::<OperatorRef>),
];

pub(super) const CALIBRATED: &[Member] = &[
    req("project_id", is::<ProjectId>),
    req("device_id", is::<DeviceId>),
    req("calibrated_on", is::<LocalDate>),
    req("valid_until", is::<LocalDate>),
    req("certificate_no", is::<Name>),
];

pub(super) const DROP_TEST: &[Member] = &[
    req("project_id", is::<ProjectId>),
    req("device_id", is::<DeviceId>),
    req("performed_on", is::<LocalDate>),
    req("passed", is::<bool>),
];

pub(super) const METER: &[Member] = &[
    req("project_id", is::<ProjectId>),
    req("device_id", is::<DeviceId>),
    req("meter", is::<MeterKind>),
    req("read_at", is::<Timestamp>),
    req("total", is::<Decimal>),
    opt("residual_current_ma", is::<Decimal>),
    opt("temperature_c", is::<Decimal>),
];

pub(super) const CAMERA_REGISTERED: &[Member] = &[
    req("project_id", is::<ProjectId>),
    req("device_id", is::<CameraId>),
    req("name", is::<Name>),
    req("position", is::<Name>),
];

pub(super) const CAMERA_STATUS: &[Member] = &[
    req("project_id", is::<ProjectId>),
    req("device_id", is::<CameraId>),
    req("status", is::<CameraStatus>),
    opt("last_keepalive_at", is::<Timestamp>),
];

pub(super) const CAMERA_ALARM: &[Member] = &[
    req("project_id", is::<ProjectId>),
    req("device_id", is::<CameraId>),
    req("priority", is::<AlarmPriority>),
    req("method", is::<AlarmMethod>),
    req("alarm_type", is::<u16>),
    opt("description", is::<Text>),
    req("alarm_at", is::<Timestamp>),
];

pub(super) const HEARTBEAT: &[Member] = &[
    req("project_id", is::<ProjectId>),
    req("gateway_id", is::<DeviceId>),
    req("queue_depth", is::<u64>),
    req("queue_bytes", is::<u64>),
    opt("clock_skew_ms", is::<i64>),
    req("rejected_packets", is::<u64>),
    req("deviations", is::<u64>),
];
