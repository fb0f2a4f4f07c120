//! BIM施工: model versions registered by content hash (the IFC or other file stays outside the ledger), progress
//! nodes linked to model elements with planned and actual dates and status (0 未开始 / 1 进行中 / 2 已完成), and the
//! progress deviation ([`deviation_days`]).
//!
//! | kind | signer | rule |
//! |---|---|---|
//! | `bim.model.registered.v1` | general contractor (or owner) | version = last + 1; hash differs from the last version |
//! | `bim.node.planned.v1` | general contractor (or owner) | the model exists; finish ≥ start; id unused |
//! | `bim.node.progressed.v1` | general contractor | node planned; status never goes back; 1 needs an actual start, 2 an actual finish ≥ start |

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Count, RecordId, Sha256Hex, key, participant};
use crate::date::LocalDate;
use crate::ids::ProjectId;
use crate::registry::{ParticipantRole, RegistryState};
use crate::rules::{RecordContext, RuleError};
use crate::schema::{Member, each, is, opt, req};
use crate::text::Name;

/// Kind of [`ModelRegistered`].
pub const MODEL_REGISTERED: &str = "bim.model.registered.v1";
/// Kind of [`NodePlanned`].
pub const NODE_PLANNED: &str = "bim.node.planned.v1";
/// Kind of [`NodeProgressed`].
pub const NODE_PROGRESSED: &str = "bim.node.progressed.v1";

/// Payload of `bim.model.registered.v1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelRegistered {
    /// The project.
    pub project_id: ProjectId,
    /// The model (e.g. `ARCH`, `STRU`, `MEP`).
    pub model_id: RecordId,
    /// Version (1, 2, …).
    pub version: Count,
    /// SHA-256 of the model file.
    pub sha256: Sha256Hex,
    /// Format (`ifc`, `rvt`, `nwd`, …).
    pub format: RecordId,
    /// File name.
    pub file_name: Name,
}

/// Payload of `bim.node.planned.v1`: a 进度节点 linked to model elements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodePlanned {
    /// The project.
    pub project_id: ProjectId,
    /// Unique within the project.
    pub node_id: RecordId,
    /// 节点名称.
    pub name: Name,
    /// The model.
    pub model_id: RecordId,
    /// Model element ids (IFC GlobalId or the authoring tool's ids).
    pub element_ids: Vec<Name>,
    /// 计划开始.
    pub planned_start: LocalDate,
    /// 计划完成.
    pub planned_finish: LocalDate,
}

/// 节点状态.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeStatus {
    /// 0 未开始.
    NotStarted,
    /// 1 进行中.
    InProgress,
    /// 2 已完成.
    Done,
}

impl NodeStatus {
    /// The code 0/1/2.
    pub const fn code(self) -> i64 {
        match self {
            Self::NotStarted => 0,
            Self::InProgress => 1,
            Self::Done => 2,
        }
    }

    /// From the code.
    pub const fn from_code(c: i64) -> Option<Self> {
        match c {
            0 => Some(Self::NotStarted),
            1 => Some(Self::InProgress),
            2 => Some(Self::Done),
            _ => None,
        }
    }

    /// The Chinese term.
    pub const fn name_zh(self) -> &'static str {
        match self {
            Self::NotStarted => "未开始",
            Self::InProgress => "进行中",
            Self::Done => "已完成",
        }
    }
}

impl Serialize for NodeStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.code())
    }
}

impl<'de> Deserialize<'de> for NodeStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let c = i64::deserialize(d)?;
        Self::from_code(c)
            .ok_or_else(|| <D::Error as serde::de::Error>::custom("status must be 0 未开始, 1 进行中 or 2 已完成"))
    }
}

/// Payload of `bim.node.progressed.v1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeProgressed {
    /// The project.
    pub project_id: ProjectId,
    /// The node.
    pub node_id: RecordId,
    /// 0 / 1 / 2.
    pub status: NodeStatus,
    /// 实际开始.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual_start: Option<LocalDate>,
    /// 实际完成.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual_finish: Option<LocalDate>,
}

mod t {
    pub(super) use super::super::{Count, RecordId, Sha256Hex};
    pub(super) use super::NodeStatus;
    pub(super) use crate::date::LocalDate;
    pub(super) use crate::ids::ProjectId;
    pub(super) use crate::text::Name;
}

const MODEL: &[Member] = &[
    req("project_id", is::<t::ProjectId>),
    req("model_id", is::<t::RecordId>),
    req("version", is::<t::Count>),
    req("sha256", is::<t::Sha256Hex>),
    req("format", is::<t::RecordId>),
    req("file_name", is::<t::Name>),
];
const PLANNED: &[Member] = &[
    req("project_id", is::<t::ProjectId>),
    req("node_id", is::<t::RecordId>),
    req("name", is::<t::Name>),
    req("model_id", is::<t::RecordId>),
    req("element_ids", each::<t::Name>),
    req("planned_start", is::<t::LocalDate>),
    req("planned_finish", is::<t::LocalDate>),
];
const PROGRESSED: &[Member] = &[
    req("project_id", is::<t::ProjectId>),
    req("node_id", is::<t::RecordId>),
    req("status", is::<t::NodeStatus>),
    opt("actual_start", is::<t::LocalDate>),
    opt("actual_finish", is::<t::LocalDate>),
];

event_enum! {
    /// A typed `bim.*` event.
    BimEvent {
        /// `bim.model.registered.v1`.
        Model(ModelRegistered) = "bim.model.registered.v1", MODEL;
        /// `bim.node.planned.v1`.
        Planned(NodePlanned) = "bim.node.planned.v1", PLANNED;
        /// `bim.node.progressed.v1`.
        Progressed(NodeProgressed) = "bim.node.progressed.v1", PROGRESSED;
    }
}

impl BimEvent {
    /// The project.
    pub fn project(&self) -> &ProjectId {
        match self {
            Self::Model(p) => &p.project_id,
            Self::Planned(p) => &p.project_id,
            Self::Progressed(p) => &p.project_id,
        }
    }
}

/// Progress deviation in days of a node: positive = late. A finished node: actual − planned finish; an unfinished
/// one: how far `today` is past the planned finish (0 if not yet due).
pub fn deviation_days(planned_finish: LocalDate, actual_finish: Option<LocalDate>, today: LocalDate) -> i64 {
    match actual_finish {
        Some(a) => (a.date() - planned_finish.date()).whole_days(),
        None => (today.date() - planned_finish.date()).whole_days().max(0),
    }
}

/// What the BIM rules remember.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BimState {
    /// Models by (project, id): last version and its hash.
    #[serde(with = "crate::snapshot::pairs")]
    pub models: BTreeMap<(ProjectId, RecordId), (u32, Sha256Hex)>,
    /// Nodes by (project, id): status and actual start.
    #[serde(with = "crate::snapshot::pairs")]
    pub nodes: BTreeMap<(ProjectId, RecordId), (NodeStatus, Option<LocalDate>)>,
}

fn err(rule: &str, message: impl Into<String>) -> RuleError {
    RuleError::new(rule, message)
}

impl BimState {
    /// Every rule of `bim.*`.
    pub fn decide(&self, ctx: &RecordContext<'_>, registry: &RegistryState, event: &BimEvent) -> Result<(), RuleError> {
        let project = event.project();
        let roles = [ParticipantRole::GeneralContractor, ParticipantRole::Owner];
        participant(ctx, registry, project, &roles, "bim.signer", "a BIM record")?;
        match event {
            BimEvent::Model(p) => {
                let last = self.models.get(&key(project, &p.model_id));
                let expected = last.map_or(1, |(v, _)| v + 1);
                if p.version.get() != expected {
                    return Err(err("bim.model_version", format!("model {} version must be {expected}", p.model_id)));
                }
                if last.is_some_and(|(_, h)| h == &p.sha256) {
                    return Err(err("bim.model_changed", "the new version has the same content hash as the last one"));
                }
                Ok(())
            }
            BimEvent::Planned(p) => {
                if !self.models.contains_key(&key(project, &p.model_id)) {
                    return Err(err(
                        "bim.node_needs_model",
                        format!("no model {} registered in project {project}", p.model_id),
                    ));
                }
                if self.nodes.contains_key(&key(project, &p.node_id)) {
                    return Err(err("bim.unique_id", format!("node {} already planned", p.node_id)));
                }
                if p.planned_finish < p.planned_start {
                    return Err(err("bim.plan_dates", "planned finish is before planned start"));
                }
                if p.element_ids.is_empty() {
                    return Err(err("bim.node_elements", "a progress node links at least one model element"));
                }
                Ok(())
            }
            BimEvent::Progressed(p) => {
                let Some((status, start)) = self.nodes.get(&key(project, &p.node_id)) else {
                    return Err(err("bim.progress_needs_node", format!("no node {} in project {project}", p.node_id)));
                };
                if p.status < *status {
                    return Err(err(
                        "bim.status_forward_only",
                        format!(
                            "node {} is {} and cannot go back to {}",
                            p.node_id,
                            status.name_zh(),
                            p.status.name_zh()
                        ),
                    ));
                }
                let actual_start = p.actual_start.or(*start);
                if p.status >= NodeStatus::InProgress && actual_start.is_none() {
                    return Err(err("bim.actual_dates", "status 1/2 needs actual_start"));
                }
                if p.status == NodeStatus::Done {
                    match (p.actual_finish, actual_start) {
                        (None, _) => return Err(err("bim.actual_dates", "status 2 (已完成) needs actual_finish")),
                        (Some(f), Some(s)) if f < s => {
                            return Err(err("bim.actual_dates", "actual finish is before actual start"));
                        }
                        _ => {}
                    }
                } else if p.actual_finish.is_some() {
                    return Err(err("bim.actual_dates", "actual_finish is given only with status 2 (已完成)"));
                }
                Ok(())
            }
        }
    }

    /// Folds an accepted record.
    pub fn evolve(&mut self, _ctx: &RecordContext<'_>, event: &BimEvent) {
        let project = event.project();
        match event {
            BimEvent::Model(p) => {
                self.models.insert(key(project, &p.model_id), (p.version.get(), p.sha256.clone()));
            }
            BimEvent::Planned(p) => {
                self.nodes.insert(key(project, &p.node_id), (NodeStatus::NotStarted, None));
            }
            BimEvent::Progressed(p) => {
                if let Some(n) = self.nodes.get_mut(&key(project, &p.node_id)) {
                    n.0 = p.status;
                    n.1 = p.actual_start.or(n.1);
                }
            }
        }
    }
}
