//! 协同指挥 / 政府协同联动: any alarm, finding or anomaly (referenced by its event id) becomes a task dispatched to a
//! responsible party with an SLA; acknowledge, escalate (project → district → city), resolve with evidence, close.
//! SLA breaches are a function of time ([`sla_breached`], [`sla_breaches`]).
//!
//! | kind | signer | rule |
//! |---|---|---|
//! | `task.dispatched.v1` | a bureau (district bureaus in their district) | id unused; project (if any) in the district; SLA 1–8760 h |
//! | `task.acknowledged.v1` | the assignee | dispatched, not yet acknowledged |
//! | `task.escalated.v1` | a bureau | open; the level rises (project → district → city) |
//! | `task.resolved.v1` | the assignee | open; ≥ 1 evidence hash |
//! | `task.closed.v1` | a bureau | resolved |
//!
//! Assignees: an enterprise (its key acts), a district bureau (its key), the city bureau, or another authority
//! (`authority`: 城管, 生态环境, 应急管理 …, which has no key in this ledger: the dispatching bureau records its
//! answers — a simplification, see `docs/SUPERVISION.md`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Bureau, Count, RecordId, Sha256Hex, bureau, unix_of};
use crate::district::DistrictCode;
use crate::ids::{CreditCode, ProjectId};
use crate::registry::RegistryState;
use crate::rules::{RecordContext, RuleError};
use crate::schema::{Member, each, is, opt, req};
use crate::text::{Name, Text};

/// Kind of [`TaskDispatched`].
pub const DISPATCHED: &str = "task.dispatched.v1";
/// Kind of acknowledgement.
pub const ACKNOWLEDGED: &str = "task.acknowledged.v1";
/// Kind of [`TaskEscalated`].
pub const ESCALATED: &str = "task.escalated.v1";
/// Kind of [`TaskResolved`].
pub const RESOLVED: &str = "task.resolved.v1";
/// Kind of closure.
pub const CLOSED: &str = "task.closed.v1";

/// 处置层级.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// 项目.
    Project,
    /// 区县(市).
    District,
    /// 市.
    City,
}

impl Level {
    /// The JSON name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Project => "project",
            Self::District => "district",
            Self::City => "city",
        }
    }
}

/// Who must act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssigneeKind {
    /// An enterprise (`assignee` = credit code).
    Enterprise,
    /// A district bureau (`assignee` = district code).
    DistrictBureau,
    /// The city bureau (`assignee` = its name).
    CityBureau,
    /// Another authority (`assignee` = its name).
    Authority,
}

impl AssigneeKind {
    /// The JSON name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Enterprise => "enterprise",
            Self::DistrictBureau => "district_bureau",
            Self::CityBureau => "city_bureau",
            Self::Authority => "authority",
        }
    }
}

/// What a task comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// An alarm.
    Alarm,
    /// An inspection finding.
    Finding,
    /// A monitoring anomaly.
    Anomaly,
    /// A report-number gap or unqualified result.
    Testing,
    /// Anything else (complaint, request from another bureau).
    Other,
}

impl SourceKind {
    /// The JSON name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Alarm => "alarm",
            Self::Finding => "finding",
            Self::Anomaly => "anomaly",
            Self::Testing => "testing",
            Self::Other => "other",
        }
    }
}

/// Payload of `task.dispatched.v1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskDispatched {
    /// Unique.
    pub task_id: RecordId,
    /// The district the task belongs to.
    pub district: DistrictCode,
    /// The project, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<ProjectId>,
    /// What it comes from.
    pub source_kind: SourceKind,
    /// The source record's event id.
    pub source_event_id: RecordId,
    /// 事项.
    pub title: Text,
    /// Who must act.
    pub assignee_kind: AssigneeKind,
    /// Credit code, district code or name, by `assignee_kind`.
    pub assignee: Name,
    /// 处置层级 at dispatch.
    pub level: Level,
    /// 处置时限, hours.
    pub sla_hours: Count,
}

/// Payload of `task.acknowledged.v1` and `task.closed.v1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskNote {
    /// The task.
    pub task_id: RecordId,
    /// The district.
    pub district: DistrictCode,
    /// The project, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<ProjectId>,
    /// 说明.
    pub note: Text,
}

/// Payload of `task.escalated.v1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskEscalated {
    /// The task.
    pub task_id: RecordId,
    /// The district.
    pub district: DistrictCode,
    /// The project, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<ProjectId>,
    /// New level.
    pub to_level: Level,
    /// New assignee kind.
    pub assignee_kind: AssigneeKind,
    /// New assignee.
    pub assignee: Name,
    /// New SLA from now, hours.
    pub sla_hours: Count,
    /// 升级原因.
    pub reason: Text,
}

/// Payload of `task.resolved.v1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskResolved {
    /// The task.
    pub task_id: RecordId,
    /// The district.
    pub district: DistrictCode,
    /// The project, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<ProjectId>,
    /// Evidence (SHA-256 of photos, documents).
    pub evidence_hashes: Vec<Sha256Hex>,
    /// 处置结果.
    pub note: Text,
}

mod t {
    pub(super) use super::super::{Count, RecordId, Sha256Hex};
    pub(super) use super::{AssigneeKind, Level, SourceKind};
    pub(super) use crate::district::DistrictCode;
    pub(super) use crate::ids::ProjectId;
    pub(super) use crate::text::{Name, Text};
}

const DISPATCH: &[Member] = &[
    req("task_id", is::<t::RecordId>),
    req("district", is::<t::DistrictCode>),
    opt("project_id", is::<t::ProjectId>),
    req("source_kind", is::<t::SourceKind>),
    req("source_event_id", is::<t::RecordId>),
    req("title", is::<t::Text>),
    req("assignee_kind", is::<t::AssigneeKind>),
    req("assignee", is::<t::Name>),
    req("level", is::<t::Level>),
    req("sla_hours", is::<t::Count>),
];
const NOTE: &[Member] = &[
    req("task_id", is::<t::RecordId>),
    req("district", is::<t::DistrictCode>),
    opt("project_id", is::<t::ProjectId>),
    req("note", is::<t::Text>),
];
const ESCALATE: &[Member] = &[
    req("task_id", is::<t::RecordId>),
    req("district", is::<t::DistrictCode>),
    opt("project_id", is::<t::ProjectId>),
    req("to_level", is::<t::Level>),
    req("assignee_kind", is::<t::AssigneeKind>),
    req("assignee", is::<t::Name>),
    req("sla_hours", is::<t::Count>),
    req("reason", is::<t::Text>),
];
const RESOLVE: &[Member] = &[
    req("task_id", is::<t::RecordId>),
    req("district", is::<t::DistrictCode>),
    opt("project_id", is::<t::ProjectId>),
    req("evidence_hashes", each::<t::Sha256Hex>),
    req("note", is::<t::Text>),
];

event_enum! {
    /// A typed `task.*` event.
    TaskEvent {
        /// `task.dispatched.v1`.
        Dispatched(TaskDispatched) = "task.dispatched.v1", DISPATCH;
        /// `task.acknowledged.v1`.
        Acknowledged(TaskNote) = "task.acknowledged.v1", NOTE;
        /// `task.escalated.v1`.
        Escalated(TaskEscalated) = "task.escalated.v1", ESCALATE;
        /// `task.resolved.v1`.
        Resolved(TaskResolved) = "task.resolved.v1", RESOLVE;
        /// `task.closed.v1`.
        Closed(TaskNote) = "task.closed.v1", NOTE;
    }
}

impl TaskEvent {
    /// The task.
    pub fn task(&self) -> &RecordId {
        match self {
            Self::Dispatched(p) => &p.task_id,
            Self::Acknowledged(p) | Self::Closed(p) => &p.task_id,
            Self::Escalated(p) => &p.task_id,
            Self::Resolved(p) => &p.task_id,
        }
    }

    /// The district.
    pub fn district(&self) -> &DistrictCode {
        match self {
            Self::Dispatched(p) => &p.district,
            Self::Acknowledged(p) | Self::Closed(p) => &p.district,
            Self::Escalated(p) => &p.district,
            Self::Resolved(p) => &p.district,
        }
    }

    /// The project, if any.
    pub fn project(&self) -> Option<&ProjectId> {
        match self {
            Self::Dispatched(p) => p.project_id.as_ref(),
            Self::Acknowledged(p) | Self::Closed(p) => p.project_id.as_ref(),
            Self::Escalated(p) => p.project_id.as_ref(),
            Self::Resolved(p) => p.project_id.as_ref(),
        }
    }
}

/// 任务状态.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// 已派发.
    Dispatched,
    /// 已签收.
    Acknowledged,
    /// 已办结 (awaiting closure).
    Resolved,
    /// 已关闭.
    Closed,
}

impl TaskStatus {
    /// The JSON name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Dispatched => "dispatched",
            Self::Acknowledged => "acknowledged",
            Self::Resolved => "resolved",
            Self::Closed => "closed",
        }
    }

    /// Parses the JSON name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Dispatched, Self::Acknowledged, Self::Resolved, Self::Closed].into_iter().find(|x| x.as_str() == s)
    }

    /// Whether the assignee still has to act.
    pub const fn is_open(self) -> bool {
        matches!(self, Self::Dispatched | Self::Acknowledged)
    }
}

/// Whether a task in `status` due at `due_unix` breaches its SLA at `now_unix` (still open, past due). The one
/// definition, used by the state and by the read models.
pub const fn sla_breached(status: TaskStatus, due_unix: i64, now_unix: i64) -> bool {
    status.is_open() && now_unix > due_unix
}

/// A task as the rules remember it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Task {
    /// District.
    pub district: DistrictCode,
    /// Project.
    pub project_id: Option<ProjectId>,
    /// Status.
    pub status: TaskStatus,
    /// Level.
    pub level: Level,
    /// Who must act.
    pub assignee_kind: AssigneeKind,
    /// Who must act.
    pub assignee: Name,
    /// Due, Unix seconds.
    pub due_unix: i64,
}

/// What the task rules remember.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskState {
    /// Tasks by id.
    #[serde(with = "crate::snapshot::pairs")]
    pub tasks: BTreeMap<RecordId, Task>,
}

/// Tasks breaching their SLA at `now_unix`.
pub fn sla_breaches(state: &TaskState, now_unix: i64) -> Vec<(&RecordId, &Task)> {
    state.tasks.iter().filter(|(_, t)| sla_breached(t.status, t.due_unix, now_unix)).collect()
}

fn err(rule: &str, message: impl Into<String>) -> RuleError {
    RuleError::new(rule, message)
}

fn check_bureau_in(b: &Bureau, district: &DistrictCode, rule: &str) -> Result<(), RuleError> {
    match b {
        Bureau::District(d) if d != district => {
            Err(err(rule, format!("the {d} district bureau does not act on tasks of district {district}")))
        }
        _ => Ok(()),
    }
}

/// Whether the signer is the task's assignee.
fn is_assignee(ctx: &RecordContext<'_>, t: &Task) -> bool {
    match t.assignee_kind {
        AssigneeKind::Enterprise => super::org_of(ctx, "enterprise")
            .is_some_and(|c| CreditCode::parse(t.assignee.as_str()).is_ok_and(|a| a == c)),
        AssigneeKind::DistrictBureau => {
            ctx.signer_role == "district_bureau"
                && ctx.signer_subject.trim_start_matches("district/") == t.assignee.as_str()
        }
        AssigneeKind::CityBureau => ctx.signer_role == "city_bureau",
        // Other authorities have no key here: a bureau of the task's district (or the city) records for them.
        AssigneeKind::Authority => match ctx.signer_role {
            "city_bureau" => true,
            "district_bureau" => ctx.signer_subject.trim_start_matches("district/") == t.district.as_str(),
            _ => false,
        },
    }
}

fn check_assignee(
    kind: AssigneeKind,
    assignee: &Name,
    level: Level,
    registry: &RegistryState,
) -> Result<(), RuleError> {
    let ok = match kind {
        AssigneeKind::Enterprise => {
            CreditCode::parse(assignee.as_str()).is_ok_and(|c| registry.enterprise(&c).is_some())
                && level == Level::Project
        }
        AssigneeKind::DistrictBureau => {
            DistrictCode::parse(assignee.as_str()).is_ok_and(|d| registry.district_exists(&d)) && level != Level::City
        }
        AssigneeKind::CityBureau | AssigneeKind::Authority => true,
    };
    if ok {
        Ok(())
    } else {
        Err(err(
            "task.assignee",
            format!(
                "assignee {assignee} does not fit {kind:?} at level {}: an enterprise (registered credit code) at project level, a registered district at project or district level",
                level.as_str()
            ),
        ))
    }
}

impl TaskState {
    /// Every rule of `task.*`.
    pub fn decide(
        &self,
        ctx: &RecordContext<'_>,
        registry: &RegistryState,
        event: &TaskEvent,
    ) -> Result<(), RuleError> {
        let id = event.task();
        if let TaskEvent::Dispatched(p) = event {
            let b = bureau(ctx, "task.dispatch_signer", "a task dispatch")?;
            check_bureau_in(&b, &p.district, "task.dispatch_signer")?;
            if self.tasks.contains_key(id) {
                return Err(err("task.unique_id", format!("task {id} already dispatched")));
            }
            if !registry.district_exists(&p.district) {
                return Err(err("task.district", format!("district {} is not registered", p.district)));
            }
            if let Some(pr) = &p.project_id
                && registry.district_of(pr) != Some(&p.district)
            {
                return Err(err("task.district", format!("project {pr} is not in district {}", p.district)));
            }
            if p.sla_hours.get() > 8760 {
                return Err(err("task.sla_range", "an SLA is at most 8760 hours"));
            }
            return check_assignee(p.assignee_kind, &p.assignee, p.level, registry);
        }
        let Some(t) = self.tasks.get(id) else {
            return Err(err("task.needs_dispatch", format!("no task {id}: dispatch it first")));
        };
        if &t.district != event.district() || t.project_id.as_ref() != event.project() {
            return Err(err(
                "task.same_scope",
                format!("task {id} belongs to district {} / project {:?}", t.district, t.project_id),
            ));
        }
        match event {
            TaskEvent::Dispatched(_) => Ok(()),
            TaskEvent::Acknowledged(_) => {
                if !is_assignee(ctx, t) {
                    return Err(err(
                        "task.assignee_acts",
                        format!("only the assignee {} acknowledges task {id}", t.assignee),
                    ));
                }
                if t.status != TaskStatus::Dispatched {
                    return Err(err("task.acknowledge_once", format!("task {id} is {}", t.status.as_str())));
                }
                Ok(())
            }
            TaskEvent::Escalated(p) => {
                // A district bureau may escalate to the city: it asks the city to act.
                let b = bureau(ctx, "task.escalation_signer", "an escalation")?;
                check_bureau_in(&b, &t.district, "task.escalation_signer")?;
                if !t.status.is_open() {
                    return Err(err(
                        "task.escalate_open_only",
                        format!("task {id} is {}: only open tasks escalate", t.status.as_str()),
                    ));
                }
                if p.to_level <= t.level {
                    return Err(err(
                        "task.escalate_upwards",
                        format!(
                            "task {id} is at {} level: escalation goes project → district → city",
                            t.level.as_str()
                        ),
                    ));
                }
                if p.sla_hours.get() > 8760 {
                    return Err(err("task.sla_range", "an SLA is at most 8760 hours"));
                }
                check_assignee(p.assignee_kind, &p.assignee, p.to_level, registry)
            }
            TaskEvent::Resolved(p) => {
                if !is_assignee(ctx, t) {
                    return Err(err(
                        "task.assignee_acts",
                        format!("only the assignee {} resolves task {id}", t.assignee),
                    ));
                }
                if !t.status.is_open() {
                    return Err(err("task.resolve_open_only", format!("task {id} is {}", t.status.as_str())));
                }
                if p.evidence_hashes.is_empty() {
                    return Err(err(
                        "task.resolution_needs_evidence",
                        "a resolution carries at least one evidence hash",
                    ));
                }
                Ok(())
            }
            TaskEvent::Closed(_) => {
                let b = bureau(ctx, "task.closure_signer", "a task closure")?;
                check_bureau_in(&b, &t.district, "task.closure_signer")?;
                if t.status != TaskStatus::Resolved {
                    return Err(err(
                        "task.closure_needs_resolution",
                        format!("task {id} is {}: close only a resolved task", t.status.as_str()),
                    ));
                }
                Ok(())
            }
        }
    }

    /// Folds an accepted record.
    pub fn evolve(&mut self, ctx: &RecordContext<'_>, event: &TaskEvent) {
        let now = unix_of(ctx.occurred_at);
        match event {
            TaskEvent::Dispatched(p) => {
                self.tasks.insert(
                    p.task_id.clone(),
                    Task {
                        district: p.district.clone(),
                        project_id: p.project_id.clone(),
                        status: TaskStatus::Dispatched,
                        level: p.level,
                        assignee_kind: p.assignee_kind,
                        assignee: p.assignee.clone(),
                        due_unix: now + i64::from(p.sla_hours.get()) * 3600,
                    },
                );
            }
            TaskEvent::Acknowledged(p) => self.set(&p.task_id, TaskStatus::Acknowledged),
            TaskEvent::Escalated(p) => {
                if let Some(t) = self.tasks.get_mut(&p.task_id) {
                    t.level = p.to_level;
                    t.assignee_kind = p.assignee_kind;
                    t.assignee = p.assignee.clone();
                    t.status = TaskStatus::Dispatched;
                    t.due_unix = now + i64::from(p.sla_hours.get()) * 3600;
                }
            }
            TaskEvent::Resolved(p) => self.set(&p.task_id, TaskStatus::Resolved),
            TaskEvent::Closed(p) => self.set(&p.task_id, TaskStatus::Closed),
        }
    }

    fn set(&mut self, id: &RecordId, s: TaskStatus) {
        if let Some(t) = self.tasks.get_mut(id) {
            t.status = s;
        }
    }
}
