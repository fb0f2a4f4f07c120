//! Registry event kinds and payloads.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::date::LocalDate;
use crate::district::{DistrictCode, ZoneCode};
use crate::ids::{CreditCode, ProjectId};
use crate::payload::to_map;
use crate::quantity::{AreaM2, MoneyFen};
use crate::stream;
use crate::text::{Name, Text};

/// Kind of [`ZoneAdded`].
pub const ZONE_ADDED: &str = "registry.zone.added.v1";
/// Kind of [`EnterpriseRegistered`].
pub const ENTERPRISE_REGISTERED: &str = "registry.enterprise.registered.v1";
/// Kind of [`ProjectRegistered`].
pub const PROJECT_REGISTERED: &str = "registry.project.registered.v1";
/// Kind of [`ParticipantAdded`].
pub const PARTICIPANT_ADDED: &str = "registry.project.participant_added.v1";
/// Kind of [`ParticipantRemoved`].
pub const PARTICIPANT_REMOVED: &str = "registry.project.participant_removed.v1";

/// Every registry kind.
pub const KINDS: [&str; 5] =
    [ZONE_ADDED, ENTERPRISE_REGISTERED, PROJECT_REGISTERED, PARTICIPANT_ADDED, PARTICIPANT_REMOVED];

/// Payload of `registry.zone.added.v1`: the city bureau adds a 开发园区 (development zone) as a jurisdiction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneAdded {
    /// Its code, `ZONE-…`.
    pub code: ZoneCode,
    /// Its Chinese name, e.g. `宁波国家高新区`.
    pub name: Name,
}

/// What an enterprise is (an enterprise may be several).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnterpriseType {
    /// 施工企业: construction contractor.
    Construction,
    /// 监理企业: supervision (site inspection) firm.
    Supervision,
    /// 建设单位: project owner / developer.
    Owner,
    /// 检测机构: quality testing laboratory.
    TestingLab,
    /// 银行: bank (holds 工资专用账户).
    Bank,
    /// 勘察单位: survey firm.
    Survey,
    /// 设计单位: design institute.
    Design,
    /// 劳务企业: labour-service subcontractor.
    LabourService,
    /// 设备租赁/安拆单位: equipment lessor or installer (cranes, hoists).
    Equipment,
    /// 其他: anything else.
    Other,
}

impl EnterpriseType {
    /// The JSON name, e.g. `testing_lab`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Construction => "construction",
            Self::Supervision => "supervision",
            Self::Owner => "owner",
            Self::TestingLab => "testing_lab",
            Self::Bank => "bank",
            Self::Survey => "survey",
            Self::Design => "design",
            Self::LabourService => "labour_service",
            Self::Equipment => "equipment",
            Self::Other => "other",
        }
    }

    /// The Chinese term.
    pub const fn name_zh(self) -> &'static str {
        match self {
            Self::Construction => "施工企业",
            Self::Supervision => "监理企业",
            Self::Owner => "建设单位",
            Self::TestingLab => "检测机构",
            Self::Bank => "银行",
            Self::Survey => "勘察单位",
            Self::Design => "设计单位",
            Self::LabourService => "劳务企业",
            Self::Equipment => "设备租赁安拆单位",
            Self::Other => "其他",
        }
    }
}

impl fmt::Display for EnterpriseType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Payload of `registry.enterprise.registered.v1`: an organisation joins the platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnterpriseRegistered {
    /// 统一社会信用代码.
    pub credit_code: CreditCode,
    /// 企业名称.
    pub name: Name,
    /// What it is; at least one, no repeats (checked by `decide`).
    pub types: Vec<EnterpriseType>,
}

/// A party's role in a project (参建单位).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParticipantRole {
    /// 建设单位: the owner, exactly one per project.
    Owner,
    /// 施工总承包: general contractor, at least one per project.
    GeneralContractor,
    /// 监理: supervisor.
    Supervisor,
    /// 分包: subcontractor.
    Subcontractor,
}

impl ParticipantRole {
    /// All roles.
    pub const ALL: [Self; 4] = [Self::Owner, Self::GeneralContractor, Self::Supervisor, Self::Subcontractor];

    /// The JSON name, e.g. `general_contractor`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::GeneralContractor => "general_contractor",
            Self::Supervisor => "supervisor",
            Self::Subcontractor => "subcontractor",
        }
    }

    /// The Chinese term.
    pub const fn name_zh(self) -> &'static str {
        match self {
            Self::Owner => "建设单位",
            Self::GeneralContractor => "施工总承包",
            Self::Supervisor => "监理",
            Self::Subcontractor => "分包",
        }
    }
}

impl fmt::Display for ParticipantRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An enterprise in a role on a project.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Participant {
    /// Its role.
    pub role: ParticipantRole,
    /// Its 统一社会信用代码.
    pub credit_code: CreditCode,
}

/// Payload of `registry.project.registered.v1`: a construction project (工程项目) is put under supervision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectRegistered {
    /// Platform id, e.g. `NB-2026-0001`.
    pub project_id: ProjectId,
    /// 项目名称.
    pub name: Name,
    /// The supervising 区县(市) or 开发园区.
    pub district: DistrictCode,
    /// Whether the site lies in its district's 中心城区 (central urban area; the notice's 2020 scope).
    pub central_urban: bool,
    /// 建筑面积 in m² (decimal string, at most 2 decimals).
    pub floor_area_m2: AreaM2,
    /// 合同造价 in 分 (integer).
    pub contract_cost_fen: MoneyFen,
    /// 开工日期 (`YYYY-MM-DD`).
    pub start_date: LocalDate,
    /// 参建单位: exactly one owner and at least one general contractor (checked by `decide`).
    pub participants: Vec<Participant>,
}

/// Payload of `registry.project.participant_added.v1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParticipantAdded {
    /// The project.
    pub project_id: ProjectId,
    /// The new participant's role.
    pub role: ParticipantRole,
    /// The new participant.
    pub credit_code: CreditCode,
}

/// Payload of `registry.project.participant_removed.v1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParticipantRemoved {
    /// The project.
    pub project_id: ProjectId,
    /// The role it leaves.
    pub role: ParticipantRole,
    /// The participant.
    pub credit_code: CreditCode,
    /// Why (e.g. `分包合同终止`).
    pub reason: Text,
}

/// A registry event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryEvent {
    /// `registry.zone.added.v1`.
    ZoneAdded(ZoneAdded),
    /// `registry.enterprise.registered.v1`.
    EnterpriseRegistered(EnterpriseRegistered),
    /// `registry.project.registered.v1`.
    ProjectRegistered(ProjectRegistered),
    /// `registry.project.participant_added.v1`.
    ParticipantAdded(ParticipantAdded),
    /// `registry.project.participant_removed.v1`.
    ParticipantRemoved(ParticipantRemoved),
}

impl RegistryEvent {
    /// The versioned kind name.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ZoneAdded(_) => ZONE_ADDED,
            Self::EnterpriseRegistered(_) => ENTERPRISE_REGISTERED,
            Self::ProjectRegistered(_) => PROJECT_REGISTERED,
            Self::ParticipantAdded(_) => PARTICIPANT_ADDED,
            Self::ParticipantRemoved(_) => PARTICIPANT_REMOVED,
        }
    }

    /// The envelope payload.
    pub fn to_payload(&self) -> Map<String, Value> {
        match self {
            Self::ZoneAdded(p) => to_map(p),
            Self::EnterpriseRegistered(p) => to_map(p),
            Self::ProjectRegistered(p) => to_map(p),
            Self::ParticipantAdded(p) => to_map(p),
            Self::ParticipantRemoved(p) => to_map(p),
        }
    }

    /// The conventional stream: `registry/zones`, `registry/enterprises` or `registry/projects`.
    pub fn stream(&self) -> String {
        stream::registry_stream(match self {
            Self::ZoneAdded(_) => "zones",
            Self::EnterpriseRegistered(_) => "enterprises",
            Self::ProjectRegistered(_) | Self::ParticipantAdded(_) | Self::ParticipantRemoved(_) => "projects",
        })
    }

    /// The project concerned, if any.
    pub fn project_id(&self) -> Option<&ProjectId> {
        match self {
            Self::ZoneAdded(_) | Self::EnterpriseRegistered(_) => None,
            Self::ProjectRegistered(p) => Some(&p.project_id),
            Self::ParticipantAdded(p) => Some(&p.project_id),
            Self::ParticipantRemoved(p) => Some(&p.project_id),
        }
    }
}
