//! Site devices beyond the minimal dust/noise reading: HJ 212 data packets of 扬尘噪声 monitors, 塔式起重机 and
//! 施工升降机 monitors, electricity and water meters (施工用电用水), GB/T 28181 cameras (远程视频监控), gateway
//! health, and the bureaus' signed threshold policies.
//!
//! | module | what |
//! |---|---|
//! | [`alarms`] | derived alarms: the rule table (code, label, levels, citation) and pure evaluators over readings |
//! | [`factors`] | the HJ 212 factor codes of a site (附录 B): unit, particulate, which series they feed |
//! | [`types`] | value types: [`Timestamp`], [`OperatorRef`], HJ 212 tokens, [`CameraId`], coded enums |
//! | [`payload`] | one payload struct per device kind, and their schemas |
//! | [`policy`] | `env.policy.v1`, `crane.policy.v1`: versioned thresholds per jurisdiction, [`policy::PolicyBook`] |
//! | [`rules`] | pure functions: Leq, PM means, crane bands, wind stop, certified operator, hoist due dates, meters |
//! | [`uptime`] | 在线率 over time: a camera's online time per day from its status transitions and keepalive gaps |
//!
//! Admission ([`SiteState::decide`]) refuses only records that cannot be right: device records signed by a key
//! that is not the project's gateway/device (or, for manual records, a participating enterprise), an unregistered
//! project, a cycle that ends before it starts, a calibration valid before it was made, a policy signed by a
//! non-bureau key or for another district, a policy version that does not increase. Exceedances are not
//! refusals: the projections derive alarms from readings and the policy in force at the reading's time.

pub mod alarms;
pub mod factors;
pub mod payload;
pub mod policy;
pub mod rules;
pub mod types;
pub mod uptime;

use std::collections::BTreeMap;

use serde_json::{Map, Value};

pub use self::payload::*;
pub use self::policy::{ClockTime, CranePolicy, EnvPolicy, Jurisdiction, PolicyBook, PolicyVersion, WindowMinutes};
pub use self::types::*;
use crate::ids::ProjectId;
use crate::payload::{PayloadError, to_map};
use crate::registry::RegistryState;
use crate::rules::{RecordContext, RuleError};
use crate::schema::typed;
use crate::stream;

/// `env.hj212.data.v1`.
pub const HJ212_DATA: &str = "env.hj212.data.v1";
/// `crane.sample.v1`.
pub const CRANE_SAMPLE: &str = "crane.sample.v1";
/// `crane.cycle.v1`.
pub const CRANE_CYCLE: &str = "crane.cycle.v1";
/// `crane.operator.login.v1`.
pub const OPERATOR_LOGIN: &str = "crane.operator.login.v1";
/// `crane.operator.logout.v1`.
pub const OPERATOR_LOGOUT: &str = "crane.operator.logout.v1";
/// `crane.alarm.v1`.
pub const CRANE_ALARM: &str = "crane.alarm.v1";
/// `crane.cutoff.v1`.
pub const CRANE_CUTOFF: &str = "crane.cutoff.v1";
/// `hoist.sample.v1`.
pub const HOIST_SAMPLE: &str = "hoist.sample.v1";
/// `hoist.safety_gear.calibrated.v1`.
pub const SAFETY_GEAR_CALIBRATED: &str = "hoist.safety_gear.calibrated.v1";
/// `hoist.drop_test.performed.v1`.
pub const DROP_TEST_PERFORMED: &str = "hoist.drop_test.performed.v1";
/// `meter.reading.v1`.
pub const METER_READING: &str = "meter.reading.v1";
/// `video.camera.registered.v1`.
pub const CAMERA_REGISTERED: &str = "video.camera.registered.v1";
/// `video.camera.status.v1`.
pub const CAMERA_STATUS: &str = "video.camera.status.v1";
/// `video.camera.alarm.v1`.
pub const CAMERA_ALARM: &str = "video.camera.alarm.v1";
/// `gateway.heartbeat.v1`.
pub const GATEWAY_HEARTBEAT: &str = "gateway.heartbeat.v1";
/// `env.policy.v1`.
pub const ENV_POLICY: &str = "env.policy.v1";
/// `crane.policy.v1`.
pub const CRANE_POLICY: &str = "crane.policy.v1";

/// Every kind of this module.
pub const KINDS: &[&str] = &[
    HJ212_DATA,
    CRANE_SAMPLE,
    CRANE_CYCLE,
    OPERATOR_LOGIN,
    OPERATOR_LOGOUT,
    CRANE_ALARM,
    CRANE_CUTOFF,
    HOIST_SAMPLE,
    SAFETY_GEAR_CALIBRATED,
    DROP_TEST_PERFORMED,
    METER_READING,
    CAMERA_REGISTERED,
    CAMERA_STATUS,
    CAMERA_ALARM,
    GATEWAY_HEARTBEAT,
    ENV_POLICY,
    CRANE_POLICY,
];

/// A typed event of this subsystem (payloads boxed: they are large and many kinds share the enum).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiteEvent {
    /// `env.hj212.data.v1`.
    Hj212Data(Box<Hj212Data>),
    /// `crane.sample.v1`.
    CraneSample(Box<CraneSample>),
    /// `crane.cycle.v1`.
    CraneCycle(Box<CraneCycle>),
    /// `crane.operator.login.v1`.
    OperatorLogin(Box<OperatorLogin>),
    /// `crane.operator.logout.v1`.
    OperatorLogout(Box<OperatorLogout>),
    /// `crane.alarm.v1`.
    CraneAlarm(Box<CraneAlarm>),
    /// `crane.cutoff.v1`.
    CraneCutoff(Box<CraneCutoff>),
    /// `hoist.sample.v1`.
    HoistSample(Box<HoistSample>),
    /// `hoist.safety_gear.calibrated.v1`.
    SafetyGearCalibrated(Box<SafetyGearCalibrated>),
    /// `hoist.drop_test.performed.v1`.
    DropTestPerformed(Box<DropTestPerformed>),
    /// `meter.reading.v1`.
    MeterReading(Box<MeterReading>),
    /// `video.camera.registered.v1`.
    CameraRegistered(Box<CameraRegistered>),
    /// `video.camera.status.v1`.
    CameraStatus(Box<CameraStatusChanged>),
    /// `video.camera.alarm.v1`.
    CameraAlarm(Box<CameraAlarm>),
    /// `gateway.heartbeat.v1`.
    GatewayHeartbeat(Box<GatewayHeartbeat>),
    /// `env.policy.v1`.
    EnvPolicy(Box<EnvPolicy>),
    /// `crane.policy.v1`.
    CranePolicy(Box<CranePolicy>),
}

impl SiteEvent {
    /// Type-checks `payload` as `kind`; `None` if the kind is not this module's.
    pub fn parse(kind: &str, payload: &Map<String, Value>) -> Option<Result<Self, PayloadError>> {
        use self::payload as p;
        Some(match kind {
            HJ212_DATA => typed(HJ212_DATA, payload, p::HJ212).map(|p| Self::Hj212Data(Box::new(p))),
            CRANE_SAMPLE => typed(CRANE_SAMPLE, payload, p::CRANE_SAMPLE).map(|p| Self::CraneSample(Box::new(p))),
            CRANE_CYCLE => typed(CRANE_CYCLE, payload, p::CRANE_CYCLE).map(|p| Self::CraneCycle(Box::new(p))),
            OPERATOR_LOGIN => typed(OPERATOR_LOGIN, payload, p::LOGIN).map(|p| Self::OperatorLogin(Box::new(p))),
            OPERATOR_LOGOUT => typed(OPERATOR_LOGOUT, payload, p::LOGOUT).map(|p| Self::OperatorLogout(Box::new(p))),
            CRANE_ALARM => typed(CRANE_ALARM, payload, p::CRANE_ALARM).map(|p| Self::CraneAlarm(Box::new(p))),
            CRANE_CUTOFF => typed(CRANE_CUTOFF, payload, p::CUTOFF).map(|p| Self::CraneCutoff(Box::new(p))),
            HOIST_SAMPLE => typed(HOIST_SAMPLE, payload, p::HOIST_SAMPLE).map(|p| Self::HoistSample(Box::new(p))),
            SAFETY_GEAR_CALIBRATED => {
                typed(SAFETY_GEAR_CALIBRATED, payload, p::CALIBRATED).map(|p| Self::SafetyGearCalibrated(Box::new(p)))
            }
            DROP_TEST_PERFORMED => {
                typed(DROP_TEST_PERFORMED, payload, p::DROP_TEST).map(|p| Self::DropTestPerformed(Box::new(p)))
            }
            METER_READING => typed(METER_READING, payload, p::METER).map(|p| Self::MeterReading(Box::new(p))),
            CAMERA_REGISTERED => {
                typed(CAMERA_REGISTERED, payload, p::CAMERA_REGISTERED).map(|p| Self::CameraRegistered(Box::new(p)))
            }
            CAMERA_STATUS => typed(CAMERA_STATUS, payload, p::CAMERA_STATUS).map(|p| Self::CameraStatus(Box::new(p))),
            CAMERA_ALARM => typed(CAMERA_ALARM, payload, p::CAMERA_ALARM).map(|p| Self::CameraAlarm(Box::new(p))),
            GATEWAY_HEARTBEAT => {
                typed(GATEWAY_HEARTBEAT, payload, p::HEARTBEAT).map(|p| Self::GatewayHeartbeat(Box::new(p)))
            }
            ENV_POLICY => typed(ENV_POLICY, payload, policy::ENV_POLICY).map(|p| Self::EnvPolicy(Box::new(p))),
            CRANE_POLICY => typed(CRANE_POLICY, payload, policy::CRANE_POLICY).map(|p| Self::CranePolicy(Box::new(p))),
            _ => return None,
        })
    }

    /// The versioned kind name.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Hj212Data(_) => HJ212_DATA,
            Self::CraneSample(_) => CRANE_SAMPLE,
            Self::CraneCycle(_) => CRANE_CYCLE,
            Self::OperatorLogin(_) => OPERATOR_LOGIN,
            Self::OperatorLogout(_) => OPERATOR_LOGOUT,
            Self::CraneAlarm(_) => CRANE_ALARM,
            Self::CraneCutoff(_) => CRANE_CUTOFF,
            Self::HoistSample(_) => HOIST_SAMPLE,
            Self::SafetyGearCalibrated(_) => SAFETY_GEAR_CALIBRATED,
            Self::DropTestPerformed(_) => DROP_TEST_PERFORMED,
            Self::MeterReading(_) => METER_READING,
            Self::CameraRegistered(_) => CAMERA_REGISTERED,
            Self::CameraStatus(_) => CAMERA_STATUS,
            Self::CameraAlarm(_) => CAMERA_ALARM,
            Self::GatewayHeartbeat(_) => GATEWAY_HEARTBEAT,
            Self::EnvPolicy(_) => ENV_POLICY,
            Self::CranePolicy(_) => CRANE_POLICY,
        }
    }

    /// The envelope payload.
    pub fn to_payload(&self) -> Map<String, Value> {
        match self {
            Self::Hj212Data(p) => to_map(p),
            Self::CraneSample(p) => to_map(p),
            Self::CraneCycle(p) => to_map(p),
            Self::OperatorLogin(p) => to_map(p),
            Self::OperatorLogout(p) => to_map(p),
            Self::CraneAlarm(p) => to_map(p),
            Self::CraneCutoff(p) => to_map(p),
            Self::HoistSample(p) => to_map(p),
            Self::SafetyGearCalibrated(p) => to_map(p),
            Self::DropTestPerformed(p) => to_map(p),
            Self::MeterReading(p) => to_map(p),
            Self::CameraRegistered(p) => to_map(p),
            Self::CameraStatus(p) => to_map(p),
            Self::CameraAlarm(p) => to_map(p),
            Self::GatewayHeartbeat(p) => to_map(p),
            Self::EnvPolicy(p) => to_map(p),
            Self::CranePolicy(p) => to_map(p),
        }
    }

    /// The project concerned, if any (policies have none).
    pub fn project_id(&self) -> Option<&ProjectId> {
        Some(match self {
            Self::Hj212Data(p) => &p.project_id,
            Self::CraneSample(p) => &p.project_id,
            Self::CraneCycle(p) => &p.project_id,
            Self::OperatorLogin(p) => &p.project_id,
            Self::OperatorLogout(p) => &p.project_id,
            Self::CraneAlarm(p) => &p.project_id,
            Self::CraneCutoff(p) => &p.project_id,
            Self::HoistSample(p) => &p.project_id,
            Self::SafetyGearCalibrated(p) => &p.project_id,
            Self::DropTestPerformed(p) => &p.project_id,
            Self::MeterReading(p) => &p.project_id,
            Self::CameraRegistered(p) => &p.project_id,
            Self::CameraStatus(p) => &p.project_id,
            Self::CameraAlarm(p) => &p.project_id,
            Self::GatewayHeartbeat(p) => &p.project_id,
            Self::EnvPolicy(_) | Self::CranePolicy(_) => return None,
        })
    }

    /// The device the record is about (for a heartbeat, `gateway-<gateway_id>`); `None` for policies.
    pub fn device_segment(&self) -> Option<String> {
        Some(match self {
            Self::Hj212Data(p) => p.device_id.to_string(),
            Self::CraneSample(p) => p.device_id.to_string(),
            Self::CraneCycle(p) => p.device_id.to_string(),
            Self::OperatorLogin(p) => p.device_id.to_string(),
            Self::OperatorLogout(p) => p.device_id.to_string(),
            Self::CraneAlarm(p) => p.device_id.to_string(),
            Self::CraneCutoff(p) => p.device_id.to_string(),
            Self::HoistSample(p) => p.device_id.to_string(),
            Self::SafetyGearCalibrated(p) => p.device_id.to_string(),
            Self::DropTestPerformed(p) => p.device_id.to_string(),
            Self::MeterReading(p) => p.device_id.to_string(),
            Self::CameraRegistered(p) => p.device_id.to_string(),
            Self::CameraStatus(p) => p.device_id.to_string(),
            Self::CameraAlarm(p) => p.device_id.to_string(),
            Self::GatewayHeartbeat(p) => format!("gateway-{}", p.gateway_id),
            Self::EnvPolicy(_) | Self::CranePolicy(_) => return None,
        })
    }

    /// The conventional stream: `project/<id>/site/<device_id>` (gateway records `…/site/gateway-<id>`); policies
    /// `city/policy/<env|crane>` or `district/<code>/policy/<env|crane>`.
    pub fn stream(&self) -> String {
        match self {
            Self::EnvPolicy(p) => p.jurisdiction.policy_stream("env"),
            Self::CranePolicy(p) => p.jurisdiction.policy_stream("crane"),
            _ => match (self.project_id(), self.device_segment()) {
                (Some(pid), Some(dev)) => stream::project_stream(pid, &format!("site/{dev}")),
                _ => String::new(),
            },
        }
    }

    /// Whether `stream` fits the event; `Err` describes the expected stream.
    pub fn check_stream(&self, stream: &str) -> Result<(), String> {
        let expected = self.stream();
        if stream == expected { Ok(()) } else { Err(expected) }
    }
}

/// The last version of each policy kind per jurisdiction (small: a few dozen entries at most).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteState {
    policies: BTreeMap<(&'static str, Jurisdiction), u32>,
}

/// Snapshot form: `[[kind, jurisdiction], version]` pairs in key order (see [`crate::snapshot`]). The kind is one
/// of the two policy kinds; anything else is refused.
impl serde::Serialize for SiteState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.policies.iter())
    }
}

impl<'de> serde::Deserialize<'de> for SiteState {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let items = <Vec<((String, Jurisdiction), u32)>>::deserialize(d)?;
        let mut policies = BTreeMap::new();
        for ((kind, jurisdiction), version) in items {
            let kind = [ENV_POLICY, CRANE_POLICY]
                .into_iter()
                .find(|k| *k == kind)
                .ok_or_else(|| <D::Error as serde::de::Error>::custom(format!("{kind} is not a site policy kind")))?;
            policies.insert((kind, jurisdiction), version);
        }
        Ok(Self { policies })
    }
}

/// Roles whose keys sign device records: the project's gateways and devices.
const DEVICE_ROLES: &[&str] = &["gateway", "device"];

impl SiteState {
    /// Whether records of `kind` change this state (only policies: readings leave it alone).
    pub fn wants(kind: &str) -> bool {
        kind == ENV_POLICY || kind == CRANE_POLICY
    }

    /// The last accepted version of `kind` (`env.policy.v1`, `crane.policy.v1`) for `jurisdiction`.
    pub fn policy_version(&self, kind: &str, jurisdiction: &Jurisdiction) -> Option<u32> {
        self.policies.iter().find(|((k, j), _)| *k == kind && j == jurisdiction).map(|(_, v)| *v)
    }

    /// May this record be accepted now? Every admission rule of the subsystem.
    pub fn decide(
        &self,
        ctx: &RecordContext<'_>,
        registry: &RegistryState,
        event: &SiteEvent,
    ) -> Result<(), RuleError> {
        match event {
            SiteEvent::EnvPolicy(p) => self.decide_policy(ctx, registry, ENV_POLICY, &p.jurisdiction, p.version),
            SiteEvent::CranePolicy(p) => {
                self.decide_policy(ctx, registry, CRANE_POLICY, &p.jurisdiction, p.version)?;
                for (name, v) in [("moment", &p.moment_warn_pct), ("load", &p.load_warn_pct)] {
                    let violation = if name == "moment" { &p.moment_violation_pct } else { &p.load_violation_pct };
                    if v.cmp_value(violation).is_gt() {
                        return Err(RuleError::new(
                            "site.policy_bands",
                            format!(
                                "{name}_warn_pct {v} is above {name}_violation_pct {violation}: 预警 must not exceed the violation band"
                            ),
                        ));
                    }
                }
                Ok(())
            }
            device => {
                let project = device.project_id().ok_or_else(|| RuleError::new("site", "record without a project"))?;
                let Some(registered) = registry.project(project) else {
                    return Err(RuleError::new(
                        "site.project_registered",
                        format!("project {project} is not registered: register it before its devices report"),
                    ));
                };
                let manual = matches!(
                    device,
                    SiteEvent::SafetyGearCalibrated(_)
                        | SiteEvent::DropTestPerformed(_)
                        | SiteEvent::CameraRegistered(_)
                );
                let by_device = DEVICE_ROLES.contains(&ctx.signer_role);
                let by_participant = manual
                    && ctx.signer_role == "enterprise"
                    && crate::CreditCode::parse(ctx.signer_subject).is_ok_and(|c| registered.has_participant(&c));
                if !by_device && !by_participant {
                    let who = if manual {
                        "the project's gateway or device key, or a participating enterprise's key"
                    } else {
                        "the project's gateway or device key"
                    };
                    return Err(RuleError::new(
                        "site.device_signer",
                        format!("{} records must be signed by {who}, not by a {} key", device.kind(), ctx.signer_role),
                    ));
                }
                match device {
                    SiteEvent::CraneCycle(c) if c.ended_at.instant() < c.started_at.instant() => Err(RuleError::new(
                        "site.cycle_order",
                        format!("work cycle ends ({}) before it starts ({})", c.ended_at, c.started_at),
                    )),
                    SiteEvent::SafetyGearCalibrated(c) if c.valid_until <= c.calibrated_on => Err(RuleError::new(
                        "site.calibration_dates",
                        format!("valid_until {} must be after calibrated_on {}", c.valid_until, c.calibrated_on),
                    )),
                    _ => Ok(()),
                }
            }
        }
    }

    fn decide_policy(
        &self,
        ctx: &RecordContext<'_>,
        registry: &RegistryState,
        kind: &'static str,
        jurisdiction: &Jurisdiction,
        version: PolicyVersion,
    ) -> Result<(), RuleError> {
        let subject = ctx.signer_subject.strip_prefix("district/").unwrap_or(ctx.signer_subject);
        let allowed = match (ctx.signer_role, jurisdiction) {
            ("city_bureau", _) => true,
            ("district_bureau", Jurisdiction::District(d)) => subject == d.as_str(),
            _ => false,
        };
        if !allowed {
            return Err(RuleError::new(
                "site.policy_signer",
                format!(
                    "{kind} for {jurisdiction} must be signed by the city bureau{}, not by a {} key ({})",
                    if matches!(jurisdiction, Jurisdiction::District(_)) { " or that district's bureau" } else { "" },
                    ctx.signer_role,
                    ctx.signer_subject
                ),
            ));
        }
        if let Jurisdiction::District(d) = jurisdiction
            && !registry.district_exists(d)
        {
            return Err(RuleError::new("site.policy_jurisdiction", format!("district {d} is not registered")));
        }
        if let Some(last) = self.policy_version(kind, jurisdiction)
            && version.get() <= last
        {
            return Err(RuleError::new(
                "site.policy_version",
                format!(
                    "{kind} for {jurisdiction}: version {} does not follow the last accepted version {last}; send version {} or later",
                    version.get(),
                    last + 1
                ),
            ));
        }
        Ok(())
    }

    /// Folds an accepted record; no rules.
    pub fn evolve(&mut self, ctx: &RecordContext<'_>, event: &SiteEvent) {
        let _ = ctx;
        match event {
            SiteEvent::EnvPolicy(p) => {
                self.policies.insert((ENV_POLICY, p.jurisdiction.clone()), p.version.get());
            }
            SiteEvent::CranePolicy(p) => {
                self.policies.insert((CRANE_POLICY, p.jurisdiction.clone()), p.version.get());
            }
            _ => {}
        }
    }
}
