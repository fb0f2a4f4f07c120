//! Supervision workflows: 工程安全质量监管 inspections, 工程质量检测 testing, 危大工程 hazardous works, BIM施工, and
//! 协同指挥 coordination tasks.
//!
//! Kinds of this module start with `inspection.`, `testing.`, `hazard.`, `bim.` and `task.`; each prefix has its
//! submodule ([`inspection`], [`testing`], [`hazard`], [`bim`], [`task`]) with its payload types, its part of
//! [`SupervisionState`], its `decide` (every rule, including who may sign what) and its `evolve` (no rule).
//!
//! Time-dependent states (an overdue rectification, a breached SLA, a non-conformity not reported in time) are
//! never folded: they are pure functions of the state and a `now` passed in ([`inspection::overdue`],
//! [`task::sla_breaches`], [`testing::unreported_overdue`]), so a fold never reads a clock.
//!
//! Signers (see `docs/SUPERVISION.md`): bureaus are `district_bureau` keys (subject: the district code, acting on
//! projects of their district) or `city_bureau` keys; an enterprise acts with its `enterprise` key (subject: its
//! 统一社会信用代码, optionally written `enterprise/<code>`) in the role the registry gives it on the project; a
//! laboratory signs with its `testing_lab` key.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::district::DistrictCode;
use crate::ids::{AlarmId, CreditCode, ProjectId};
use crate::payload::PayloadError;
use crate::registry::{ParticipantRole, RegistryState};
use crate::rules::{RecordContext, RuleError};

/// Generates a typed event enum from `Variant(Type) = "kind", SCHEMA;` lines: its kinds, `parse`, `kind`,
/// `to_payload`.
macro_rules! event_enum {
    ($(#[$m:meta])* $name:ident { $( $(#[$vm:meta])* $var:ident($ty:ty) = $kind:literal, $schema:ident; )* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum $name { $( $(#[$vm])* $var($ty), )* }

        impl $name {
            /// The kinds of this enum.
            pub const KINDS: &'static [&'static str] = &[$($kind),*];

            /// Type-checks `payload` as `kind`; `None` if the kind is not this enum's.
            pub fn parse(kind: &str, payload: &::serde_json::Map<String, ::serde_json::Value>)
                -> Option<Result<Self, $crate::payload::PayloadError>> {
                match kind {
                    $( $kind => Some($crate::schema::typed($kind, payload, $schema).map(Self::$var)), )*
                    _ => None,
                }
            }

            /// The versioned kind name.
            pub fn kind(&self) -> &'static str {
                match self { $( Self::$var(_) => $kind, )* }
            }

            /// The envelope payload.
            pub fn to_payload(&self) -> ::serde_json::Map<String, ::serde_json::Value> {
                match self { $( Self::$var(p) => $crate::payload::to_map(p), )* }
            }
        }
    };
}

pub mod bim;
pub mod hazard;
pub mod inspection;
pub mod task;
pub mod testing;

pub use bim::BimEvent;
pub use hazard::HazardEvent;
pub use inspection::InspectionEvent;
pub use task::TaskEvent;
pub use testing::TestingEvent;

/// Every kind of this module.
pub const KINDS: &[&str] = &[
    inspection::INSPECTION_RECORDED,
    inspection::FINDING_RECORDED,
    inspection::NOTICE_ISSUED,
    inspection::RECTIFICATION_SUBMITTED,
    inspection::RECTIFICATION_REVIEWED,
    inspection::RECTIFICATION_CLOSED,
    inspection::STOP_WORK_ORDERED,
    inspection::STOP_WORK_LIFTED,
    testing::POLICY_SET,
    testing::COMMISSIONED,
    testing::SAMPLE_TAKEN,
    testing::SAMPLE_RECEIVED,
    testing::REPORT_ISSUED,
    testing::NONCONFORMITY_REPORTED,
    hazard::WORK_LISTED,
    hazard::PLAN_APPROVED,
    hazard::PLAN_COUNTERSIGNED,
    hazard::EXPERT_REVIEW_HELD,
    hazard::SITE_NOTICE_POSTED,
    hazard::BRIEFING_HELD,
    hazard::WORK_STARTED,
    hazard::MONITORING_RECORDED,
    hazard::WORK_ACCEPTED,
    bim::MODEL_REGISTERED,
    bim::NODE_PLANNED,
    bim::NODE_PROGRESSED,
    task::DISPATCHED,
    task::ACKNOWLEDGED,
    task::ESCALATED,
    task::RESOLVED,
    task::CLOSED,
];

/// A typed event of this subsystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SupervisionEvent {
    /// `inspection.*` (工程安全质量监管).
    Inspection(InspectionEvent),
    /// `testing.*` (工程质量检测).
    Testing(TestingEvent),
    /// `hazard.*` (危大工程).
    Hazard(HazardEvent),
    /// `bim.*` (BIM施工).
    Bim(BimEvent),
    /// `task.*` (协同指挥).
    Task(TaskEvent),
}

impl SupervisionEvent {
    /// Type-checks `payload` as `kind`; `None` if the kind is not this module's.
    pub fn parse(kind: &str, payload: &Map<String, Value>) -> Option<Result<Self, PayloadError>> {
        if let Some(r) = InspectionEvent::parse(kind, payload) {
            return Some(r.map(Self::Inspection));
        }
        if let Some(r) = TestingEvent::parse(kind, payload) {
            return Some(r.map(Self::Testing));
        }
        if let Some(r) = HazardEvent::parse(kind, payload) {
            return Some(r.map(Self::Hazard));
        }
        if let Some(r) = BimEvent::parse(kind, payload) {
            return Some(r.map(Self::Bim));
        }
        TaskEvent::parse(kind, payload).map(|r| r.map(Self::Task))
    }

    /// The versioned kind name.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Inspection(e) => e.kind(),
            Self::Testing(e) => e.kind(),
            Self::Hazard(e) => e.kind(),
            Self::Bim(e) => e.kind(),
            Self::Task(e) => e.kind(),
        }
    }

    /// The envelope payload.
    pub fn to_payload(&self) -> Map<String, Value> {
        match self {
            Self::Inspection(e) => e.to_payload(),
            Self::Testing(e) => e.to_payload(),
            Self::Hazard(e) => e.to_payload(),
            Self::Bim(e) => e.to_payload(),
            Self::Task(e) => e.to_payload(),
        }
    }

    /// The project concerned, if any (a task between bureaus and the testing policy have none).
    pub fn project_id(&self) -> Option<&ProjectId> {
        match self {
            Self::Inspection(e) => Some(e.project()),
            Self::Testing(e) => e.project(),
            Self::Hazard(e) => Some(e.project()),
            Self::Bim(e) => Some(e.project()),
            Self::Task(e) => e.project(),
        }
    }

    /// The SHA-256 digests of the files (附件) this record cites: inspection and rectification photos, the
    /// hazardous-works plan document, the BIM model file, a task's evidence, the test report's PDF. Sorted, each
    /// once. This is the one list of which payload members cite attachments: the citation read model, the evidence
    /// export and its attachment package all use it (docs/ATTACHMENTS.md).
    pub fn cited_hashes(&self) -> Vec<&Sha256Hex> {
        let mut out: Vec<&Sha256Hex> = match self {
            Self::Inspection(InspectionEvent::Finding(p)) => p.photo_hashes.iter().collect(),
            Self::Inspection(InspectionEvent::Submitted(p)) => p.photo_hashes.iter().collect(),
            Self::Inspection(InspectionEvent::Reviewed(p)) => p.photo_hashes.iter().collect(),
            Self::Testing(TestingEvent::ReportIssued(p)) => p.report_sha256.iter().collect(),
            Self::Hazard(HazardEvent::Approved(p)) => vec![&p.plan_hash],
            Self::Bim(BimEvent::Model(p)) => vec![&p.sha256],
            Self::Task(TaskEvent::Resolved(p)) => p.evidence_hashes.iter().collect(),
            _ => Vec::new(),
        };
        out.sort();
        out.dedup();
        out
    }

    /// Whether `stream` fits the event; `Err` describes the expected stream.
    ///
    /// Project records live in `project/<project_id>/…`; a task without a project in `district/<district>/…`;
    /// the testing policy in `city/…`.
    pub fn check_stream(&self, stream: &str) -> Result<(), String> {
        if let Self::Testing(TestingEvent::PolicySet(_)) = self {
            return if stream.strip_prefix("city/").is_some_and(|r| !r.is_empty()) {
                Ok(())
            } else {
                Err("city/… (e.g. city/testing)".into())
            };
        }
        if let Some(project) = self.project_id() {
            return if crate::stream::project_of_stream(stream).as_ref() == Some(project) {
                Ok(())
            } else {
                Err(format!("project/{project}/…"))
            };
        }
        if let Self::Task(e) = self {
            let d = e.district();
            return if crate::stream::district_of_stream(stream).as_ref() == Some(d) {
                Ok(())
            } else {
                Err(format!("district/{d}/… (a task without project_id lives in its district's stream)"))
            };
        }
        Ok(())
    }
}

/// What the admission rules of this subsystem remember.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupervisionState {
    /// Inspections, findings, rectification notices, stop-work orders.
    pub inspection: inspection::InspectionState,
    /// Commissions, samples, reports and their numbers, non-conformity reports.
    pub testing: testing::TestingState,
    /// 危大工程 and their approvals, reviews, start, acceptance.
    pub hazard: hazard::HazardState,
    /// BIM model versions and progress nodes.
    pub bim: bim::BimState,
    /// Coordination tasks.
    pub task: task::TaskState,
}

impl SupervisionState {
    /// Whether records of `kind` change this state.
    pub fn wants(kind: &str) -> bool {
        KINDS.contains(&kind)
    }

    /// May this record be accepted now? Every rule of the subsystem.
    pub fn decide(
        &self,
        ctx: &RecordContext<'_>,
        registry: &RegistryState,
        event: &SupervisionEvent,
    ) -> Result<(), RuleError> {
        // A stop-work order in force (停工令) blocks the start of hazardous works on the project until lifted.
        if let SupervisionEvent::Hazard(HazardEvent::Started(p)) = event
            && let Some(((_, order), _)) =
                self.inspection.stop_orders.iter().find(|((pr, _), (in_force, _))| pr == &p.project_id && *in_force)
        {
            return Err(RuleError::new(
                "inspection.stop_work_in_force",
                format!(
                    "stop-work order {order} is in force on project {}: lift it (复工) before starting work",
                    p.project_id
                ),
            ));
        }
        match event {
            SupervisionEvent::Inspection(e) => self.inspection.decide(ctx, registry, e),
            SupervisionEvent::Testing(e) => self.testing.decide(ctx, registry, e),
            SupervisionEvent::Hazard(e) => self.hazard.decide(ctx, registry, e),
            SupervisionEvent::Bim(e) => self.bim.decide(ctx, registry, e),
            SupervisionEvent::Task(e) => self.task.decide(ctx, registry, e),
        }
    }

    /// Folds an accepted record; no rules.
    pub fn evolve(&mut self, ctx: &RecordContext<'_>, event: &SupervisionEvent) {
        match event {
            SupervisionEvent::Inspection(e) => self.inspection.evolve(ctx, e),
            SupervisionEvent::Testing(e) => self.testing.evolve(ctx, e),
            SupervisionEvent::Hazard(e) => self.hazard.evolve(ctx, e),
            SupervisionEvent::Bim(e) => self.bim.evolve(ctx, e),
            SupervisionEvent::Task(e) => self.task.evolve(ctx, e),
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Shared value types

/// An identifier chosen by the sender (inspection, finding, notice, sample, work, node, task ids): 1–64 characters
/// from `A–Z a–z 0–9 . _ : -`, the first a letter or digit (the charset of every token in this crate).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordId(String);

impl RecordId {
    /// Parses an id.
    pub fn parse(s: &str) -> Result<Self, crate::ids::TokenError> {
        AlarmId::parse(s).map(|_| Self(s.to_owned()))
    }

    /// The id as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_newtype!(RecordId, crate::ids::TokenError);

/// Why a string is not a [`Sha256Hex`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SHA-256 digest must be 64 lowercase hex characters")]
pub struct Sha256Error;

/// A SHA-256 digest in lowercase hex (64 characters): a photo, a plan document, a model file; the file itself
/// stays outside the ledger.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha256Hex(String);

impl Sha256Hex {
    /// Parses 64 lowercase hex characters.
    pub fn parse(s: &str) -> Result<Self, Sha256Error> {
        if s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            Ok(Self(s.to_owned()))
        } else {
            Err(Sha256Error)
        }
    }

    /// The digest as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_newtype!(Sha256Hex, Sha256Error);

/// Why a string is not a [`Timestamp`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("timestamp must be RFC 3339 with an offset, e.g. 2026-03-01T17:00:00+08:00")]
pub struct TimestampError;

/// An instant written in RFC 3339 with an offset (deadlines): kept as written, compared as an instant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Timestamp {
    text: String,
    unix: i64,
}

impl Timestamp {
    /// Parses RFC 3339.
    pub fn parse(s: &str) -> Result<Self, TimestampError> {
        let t = OffsetDateTime::parse(s, &Rfc3339).map_err(|_| TimestampError)?;
        Ok(Self { text: s.to_owned(), unix: t.unix_timestamp() })
    }

    /// The text as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Seconds since the Unix epoch.
    pub fn unix(&self) -> i64 {
        self.unix
    }
}

string_newtype!(Timestamp, TimestampError);

/// Seconds since the Unix epoch of an RFC 3339 instant (the envelope's `occurred_at`, already checked by the
/// envelope parser; 0 if it somehow does not parse, which only makes deadlines stricter).
pub fn unix_of(rfc3339: &str) -> i64 {
    OffsetDateTime::parse(rfc3339, &Rfc3339).map_or(0, OffsetDateTime::unix_timestamp)
}

/// The calendar year in China (UTC+08:00) of an RFC 3339 instant.
pub fn year_in_china(rfc3339: &str) -> Option<i32> {
    crate::time::year_in_china(rfc3339)
}

/// A whole number within `1..=max`, as JSON integer (hours, counts, versions, sequence numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Count(u32);

impl Count {
    /// The largest value accepted.
    pub const MAX: u32 = 99_999_999;

    /// Parses `1..=MAX`.
    pub fn new(v: i64) -> Result<Self, String> {
        u32::try_from(v)
            .ok()
            .filter(|v| (1..=Self::MAX).contains(v))
            .map(Self)
            .ok_or_else(|| format!("must be a whole number from 1 to {}, got {v}", Self::MAX))
    }

    /// The value.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = i64::deserialize(d)?;
        Self::new(v).map_err(<D::Error as serde::de::Error>::custom)
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Who signs

/// A bureau signer: the city bureau (anywhere) or a district bureau (its district).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Bureau {
    City,
    District(DistrictCode),
}

/// The signer as a bureau, or the rule `rule` broken.
pub(crate) fn bureau(ctx: &RecordContext<'_>, rule: &str, what: &str) -> Result<Bureau, RuleError> {
    match ctx.signer_role {
        "city_bureau" => Ok(Bureau::City),
        "district_bureau" => DistrictCode::parse(ctx.signer_subject.trim_start_matches("district/"))
            .map(Bureau::District)
            .map_err(|_| RuleError::new(rule, format!("{what}: the district bureau key has an unreadable subject"))),
        other => Err(RuleError::new(
            rule,
            format!("{what} must be signed by a 住建 bureau key (city_bureau or district_bureau), not a {other} key"),
        )),
    }
}

/// The signer as a bureau with jurisdiction over `project` (the city bureau, or the project's district bureau).
pub(crate) fn project_bureau(
    ctx: &RecordContext<'_>,
    registry: &RegistryState,
    project: &ProjectId,
    rule: &str,
    what: &str,
) -> Result<Bureau, RuleError> {
    let b = bureau(ctx, rule, what)?;
    let district = registry
        .district_of(project)
        .ok_or_else(|| RuleError::new("registry.project_registered", format!("project {project} is not registered")))?;
    match &b {
        Bureau::District(d) if d != district => Err(RuleError::new(
            rule,
            format!("{what}: the {d} district bureau has no jurisdiction over project {project} (district {district})"),
        )),
        _ => Ok(b),
    }
}

/// The signer's credit code if it signs with a key of `role` (`enterprise`, `testing_lab`).
pub(crate) fn org_of(ctx: &RecordContext<'_>, role: &str) -> Option<CreditCode> {
    if ctx.signer_role != role {
        return None;
    }
    CreditCode::parse(ctx.signer_subject.trim_start_matches("enterprise/")).ok()
}

/// The signer as an enterprise taking part in `project` in one of `roles`.
pub(crate) fn participant(
    ctx: &RecordContext<'_>,
    registry: &RegistryState,
    project: &ProjectId,
    roles: &[ParticipantRole],
    rule: &str,
    what: &str,
) -> Result<CreditCode, RuleError> {
    let wanted = roles.iter().map(|r| r.name_zh()).collect::<Vec<_>>().join(" / ");
    let p = registry
        .project(project)
        .ok_or_else(|| RuleError::new("registry.project_registered", format!("project {project} is not registered")))?;
    let Some(code) = org_of(ctx, "enterprise") else {
        return Err(RuleError::new(
            rule,
            format!(
                "{what} must be signed by the enterprise key of the project's {wanted}, not a {} key",
                ctx.signer_role
            ),
        ));
    };
    if p.participants.iter().any(|x| x.credit_code == code && roles.contains(&x.role)) {
        Ok(code)
    } else {
        Err(RuleError::new(rule, format!("{what}: enterprise {code} is not the {wanted} of project {project}")))
    }
}

/// The key of a per-project record id in the state maps.
pub(crate) fn key(project: &ProjectId, id: &RecordId) -> (ProjectId, RecordId) {
    (project.clone(), id.clone())
}
