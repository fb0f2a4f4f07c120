//! 危大工程 (住建部令第37号, 建办质〔2018〕31号): listing with parameters, classification (危大 / 超过一定规模) computed
//! from the parameters ([`classify`]), the 专项施工方案 approved by the contractor's 技术负责人 and countersigned by
//! the 总监理工程师, the expert review (专家论证) for 超过一定规模, site notice, technical briefing, start, monitoring,
//! acceptance.
//!
//! | kind | signer | rule |
//! |---|---|---|
//! | `hazard.work.listed.v1` | owner or general contractor | parameters reach at least the 危大 thresholds; id unused |
//! | `hazard.plan.approved.v1` | general contractor (技术负责人) | listed; plan version = last + 1 (or 1) |
//! | `hazard.plan.countersigned.v1` | supervisor (总监理工程师) | that version approved, not countersigned |
//! | `hazard.expert_review.held.v1` | general contractor | 超规模 only; plan fully approved at that version; ≥ 5 distinct experts, none from a participant |
//! | `hazard.site_notice.posted.v1`, `hazard.briefing.held.v1` | general contractor | plan fully approved |
//! | `hazard.work.started.v1` | general contractor | plan fully approved; 超规模: review 通过 of this version, or 修改后通过 of an earlier version then re-approved; not started |
//! | `hazard.monitoring.recorded.v1` | any participant or a lab | listed |
//! | `hazard.work.accepted.v1` | supervisor (with the contractor's 技术负责人 named) | plan fully approved; started; not accepted |

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Count, RecordId, Sha256Hex, key, participant};
use crate::ids::{CreditCode, ProjectId};
use crate::quantity::Decimal;
use crate::registry::{ParticipantRole, RegistryState};
use crate::rules::{RecordContext, RuleError};
use crate::schema::{Member, each_object, is, opt, req};
use crate::text::{Name, Text};

/// Kind of [`WorkListed`].
pub const WORK_LISTED: &str = "hazard.work.listed.v1";
/// Kind of [`PlanApproved`].
pub const PLAN_APPROVED: &str = "hazard.plan.approved.v1";
/// Kind of [`PlanCountersigned`].
pub const PLAN_COUNTERSIGNED: &str = "hazard.plan.countersigned.v1";
/// Kind of [`ExpertReviewHeld`].
pub const EXPERT_REVIEW_HELD: &str = "hazard.expert_review.held.v1";
/// Kind of [`SiteNoticePosted`].
pub const SITE_NOTICE_POSTED: &str = "hazard.site_notice.posted.v1";
/// Kind of [`BriefingHeld`].
pub const BRIEFING_HELD: &str = "hazard.briefing.held.v1";
/// Kind of [`WorkStarted`].
pub const WORK_STARTED: &str = "hazard.work.started.v1";
/// Kind of [`MonitoringRecorded`].
pub const MONITORING_RECORDED: &str = "hazard.monitoring.recorded.v1";
/// Kind of [`WorkAccepted`].
pub const WORK_ACCEPTED: &str = "hazard.work.accepted.v1";

/// Minimum number of experts of a review (第十二条 / 31号文: 不少于5名).
pub const MIN_EXPERTS: usize = 5;

/// 危大工程类别 (31号文 附件1/附件2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// 基坑工程.
    Excavation,
    /// 模板工程及支撑体系.
    Formwork,
    /// 起重吊装及起重机械安装拆卸工程.
    Lifting,
    /// 脚手架工程.
    Scaffolding,
    /// 拆除工程.
    Demolition,
    /// 暗挖工程.
    Underground,
    /// 其它.
    Other,
}

impl Category {
    /// The JSON name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Excavation => "excavation",
            Self::Formwork => "formwork",
            Self::Lifting => "lifting",
            Self::Scaffolding => "scaffolding",
            Self::Demolition => "demolition",
            Self::Underground => "underground",
            Self::Other => "other",
        }
    }

    /// The Chinese term.
    pub const fn name_zh(self) -> &'static str {
        match self {
            Self::Excavation => "基坑工程",
            Self::Formwork => "模板工程及支撑体系",
            Self::Lifting => "起重吊装及安装拆卸工程",
            Self::Scaffolding => "脚手架工程",
            Self::Demolition => "拆除工程",
            Self::Underground => "暗挖工程",
            Self::Other => "其它",
        }
    }
}

/// The sub-type within a category, where the table distinguishes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subtype {
    /// 模板: 工具式模板 (滑模、爬模、飞模、隧道模).
    ToolFormwork,
    /// 模板: 混凝土模板支撑.
    Shoring,
    /// 模板: 承重支撑体系 (满堂支撑).
    LoadBearingShoring,
    /// 起重: 非常规起重设备、方法.
    NonStandardLift,
    /// 起重: 采用起重机械进行安装的工程.
    CraneInstallation,
    /// 起重: 起重机械安装和拆卸.
    CraneErection,
    /// 脚手架: 落地式.
    Ground,
    /// 脚手架: 附着式升降.
    AttachedLifting,
    /// 脚手架: 悬挑式.
    Cantilever,
    /// 脚手架: 高处作业吊篮.
    HangingBasket,
    /// 脚手架: 卸料平台、操作平台.
    Platform,
    /// 脚手架: 异型.
    Special,
    /// 其它: 建筑幕墙安装.
    CurtainWall,
    /// 其它: 钢结构安装.
    SteelStructure,
    /// 其它: 网架和索膜结构.
    SpaceFrame,
    /// 其它: 人工挖孔桩.
    ManualPile,
    /// 其它: 水下作业.
    Underwater,
    /// 其它: 装配式建筑混凝土预制构件安装.
    Prefabricated,
    /// 其它: 顶升、平移、转体.
    Jacking,
    /// 其它: 新技术、新工艺、新材料、新设备 (尚无国家、行业及地方技术标准).
    NewTechnology,
}

/// The parameters that decide the classification (decimal strings; absent = not applicable).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parameters {
    /// Sub-type (required for formwork, lifting, scaffolding, other).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtype: Option<Subtype>,
    /// 开挖深度 / 挖孔深度, m.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth_m: Option<Decimal>,
    /// 搭设高度 / 架体高度 / 幕墙高度, m.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height_m: Option<Decimal>,
    /// 搭设跨度 / 结构跨度, m.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span_m: Option<Decimal>,
    /// 施工总荷载 (设计值), kN/m².
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area_load_kn_m2: Option<Decimal>,
    /// 集中线荷载 (设计值), kN/m.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_load_kn_m: Option<Decimal>,
    /// 单点集中荷载, kN (承重支撑体系).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub point_load_kn: Option<Decimal>,
    /// 单件起吊重量 / 顶升等荷载, kN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_kn: Option<Decimal>,
    /// 起重量 (起重机械), kN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crane_capacity_kn: Option<Decimal>,
    /// 基础标高, m (起重机械).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_elevation_m: Option<Decimal>,
    /// 提升高度, m (附着式升降脚手架).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lift_height_m: Option<Decimal>,
    /// 基坑: 地质条件、周围环境或地下管线复杂; 拆除: 可能影响行人、交通、电力设施、通讯设施或其它建构筑物.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complex_conditions: Option<bool>,
    /// 拆除: 码头、桥梁、高架、烟囱、水塔 or 有毒有害气体、粉尘、可燃易爆 or 文物保护区 (超规模).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub special_demolition: Option<bool>,
}

/// 危大工程 or 超过一定规模的危大工程.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// 危大工程 (附件1).
    Hazardous,
    /// 超过一定规模的危大工程 (附件2): expert review required.
    Major,
}

impl Class {
    /// The JSON name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Hazardous => "hazardous",
            Self::Major => "major",
        }
    }

    /// The Chinese term.
    pub const fn name_zh(self) -> &'static str {
        match self {
            Self::Hazardous => "危大工程",
            Self::Major => "超过一定规模",
        }
    }
}

fn ge(v: Option<&Decimal>, threshold: &str) -> bool {
    match (v, Decimal::parse(threshold)) {
        (Some(v), Ok(t)) => v.cmp_value(&t) != Ordering::Less,
        _ => false,
    }
}

/// Classifies a work from its category and parameters (thresholds include the figure, DOMAIN.md §7);
/// `None` if below the 危大 thresholds.
pub fn classify(category: Category, p: &Parameters) -> Option<Class> {
    use Subtype as S;
    let major;
    let hazardous;
    match category {
        Category::Excavation => {
            major = ge(p.depth_m.as_ref(), "5");
            hazardous = ge(p.depth_m.as_ref(), "3") || p.complex_conditions == Some(true);
        }
        Category::Formwork => {
            let tool = p.subtype == Some(S::ToolFormwork);
            let bearing = p.subtype == Some(S::LoadBearingShoring);
            major = tool
                || ge(p.height_m.as_ref(), "8")
                || ge(p.span_m.as_ref(), "18")
                || ge(p.area_load_kn_m2.as_ref(), "15")
                || ge(p.line_load_kn_m.as_ref(), "20")
                || (bearing && ge(p.point_load_kn.as_ref(), "7"));
            hazardous = tool
                || bearing
                || ge(p.height_m.as_ref(), "5")
                || ge(p.span_m.as_ref(), "10")
                || ge(p.area_load_kn_m2.as_ref(), "10")
                || ge(p.line_load_kn_m.as_ref(), "15");
        }
        Category::Lifting => match p.subtype {
            Some(S::NonStandardLift) => {
                major = ge(p.load_kn.as_ref(), "100");
                hazardous = ge(p.load_kn.as_ref(), "10");
            }
            Some(S::CraneInstallation) => {
                major = false;
                hazardous = true;
            }
            Some(S::CraneErection) => {
                major = ge(p.crane_capacity_kn.as_ref(), "300")
                    || ge(p.height_m.as_ref(), "200")
                    || ge(p.base_elevation_m.as_ref(), "200");
                hazardous = true;
            }
            _ => return None,
        },
        Category::Scaffolding => match p.subtype {
            Some(S::Ground) => {
                major = ge(p.height_m.as_ref(), "50");
                hazardous = ge(p.height_m.as_ref(), "24");
            }
            Some(S::AttachedLifting) => {
                major = ge(p.lift_height_m.as_ref(), "150");
                hazardous = true;
            }
            Some(S::Cantilever) => {
                major = ge(p.height_m.as_ref(), "20");
                hazardous = true;
            }
            Some(S::HangingBasket | S::Platform | S::Special) => {
                major = false;
                hazardous = true;
            }
            _ => return None,
        },
        Category::Demolition => {
            major = p.special_demolition == Some(true);
            hazardous = true;
        }
        Category::Underground => {
            major = true;
            hazardous = true;
        }
        Category::Other => match p.subtype {
            Some(S::CurtainWall) => {
                major = ge(p.height_m.as_ref(), "50");
                hazardous = true;
            }
            Some(S::SteelStructure) => {
                major = ge(p.span_m.as_ref(), "36");
                hazardous = true;
            }
            Some(S::SpaceFrame) => {
                major = ge(p.span_m.as_ref(), "60");
                hazardous = true;
            }
            Some(S::ManualPile) => {
                major = ge(p.depth_m.as_ref(), "16");
                hazardous = true;
            }
            Some(S::Underwater | S::NewTechnology) => {
                major = true;
                hazardous = true;
            }
            Some(S::Jacking) => {
                major = ge(p.load_kn.as_ref(), "1000");
                hazardous = true;
            }
            Some(S::Prefabricated) => {
                major = false;
                hazardous = true;
            }
            _ => return None,
        },
    }
    if major {
        Some(Class::Major)
    } else if hazardous {
        Some(Class::Hazardous)
    } else {
        None
    }
}

/// 论证结论.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewOutcome {
    /// 通过.
    Passed,
    /// 修改后通过: revise the plan and have it re-approved.
    PassedWithChanges,
    /// 不通过: revise and review again.
    Failed,
}

impl ReviewOutcome {
    /// The JSON name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Passed => "passed",
            Self::PassedWithChanges => "passed_with_changes",
            Self::Failed => "failed",
        }
    }
}

/// Payload of `hazard.work.listed.v1`: 危大工程清单 entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkListed {
    /// The project.
    pub project_id: ProjectId,
    /// Unique within the project.
    pub work_id: RecordId,
    /// 工程名称 (e.g. 2#楼高支模).
    pub name: Name,
    /// 类别.
    pub category: Category,
    /// 参数.
    pub parameters: Parameters,
}

/// Payload of `hazard.plan.approved.v1`: 施工单位技术负责人审核签字.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanApproved {
    /// The project.
    pub project_id: ProjectId,
    /// The work.
    pub work_id: RecordId,
    /// 方案版本 (1, 2, …).
    pub plan_version: Count,
    /// SHA-256 of the plan document.
    pub plan_hash: Sha256Hex,
    /// 施工单位技术负责人.
    pub technical_lead: Name,
}

/// Payload of `hazard.plan.countersigned.v1`: 总监理工程师审查签字.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanCountersigned {
    /// The project.
    pub project_id: ProjectId,
    /// The work.
    pub work_id: RecordId,
    /// 方案版本.
    pub plan_version: Count,
    /// 总监理工程师.
    pub chief_supervisor: Name,
}

/// One expert of a review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expert {
    /// 姓名.
    pub name: Name,
    /// 工作单位 (credit code): must not be a participant of the project (与本工程有利害关系的人员不得以专家身份参加).
    pub employer: CreditCode,
}

/// Payload of `hazard.expert_review.held.v1`: 专家论证会.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpertReviewHeld {
    /// The project.
    pub project_id: ProjectId,
    /// The work.
    pub work_id: RecordId,
    /// 论证的方案版本.
    pub plan_version: Count,
    /// 专家 (≥ 5).
    pub experts: Vec<Expert>,
    /// 结论.
    pub outcome: ReviewOutcome,
    /// 论证报告摘要.
    pub report: Text,
}

/// Payload of `hazard.site_notice.posted.v1` (公告, 第十四条) and `hazard.briefing.held.v1` (安全技术交底, 第十五条).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkStep {
    /// The project.
    pub project_id: ProjectId,
    /// The work.
    pub work_id: RecordId,
    /// 说明 (公告内容 / 交底人、专职安全员、参加人数).
    pub note: Text,
}

/// Payload of `hazard.monitoring.recorded.v1`: 第三方监测 reading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitoringRecorded {
    /// The project.
    pub project_id: ProjectId,
    /// The work.
    pub work_id: RecordId,
    /// 监测点.
    pub point: RecordId,
    /// 监测项目 (e.g. 水平位移).
    pub item: Name,
    /// Value.
    pub value: Decimal,
    /// Alarm value.
    pub alarm_value: Decimal,
    /// Whether the monitor calls it an anomaly (异常).
    pub anomaly: bool,
}

/// Payload of `hazard.work.accepted.v1`: 验收 (第二十一条).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkAccepted {
    /// The project.
    pub project_id: ProjectId,
    /// The work.
    pub work_id: RecordId,
    /// 施工单位项目技术负责人.
    pub technical_lead: Name,
    /// 总监理工程师.
    pub chief_supervisor: Name,
    /// 验收意见.
    pub note: Text,
}

mod t {
    pub(super) use super::super::{Count, RecordId, Sha256Hex};
    pub(super) use super::{Category, ReviewOutcome, Subtype};
    pub(super) use crate::ids::{CreditCode, ProjectId};
    pub(super) use crate::quantity::Decimal;
    pub(super) use crate::text::{Name, Text};
}

const PARAMETERS: &[Member] = &[
    opt("subtype", is::<t::Subtype>),
    opt("depth_m", is::<t::Decimal>),
    opt("height_m", is::<t::Decimal>),
    opt("span_m", is::<t::Decimal>),
    opt("area_load_kn_m2", is::<t::Decimal>),
    opt("line_load_kn_m", is::<t::Decimal>),
    opt("point_load_kn", is::<t::Decimal>),
    opt("load_kn", is::<t::Decimal>),
    opt("crane_capacity_kn", is::<t::Decimal>),
    opt("base_elevation_m", is::<t::Decimal>),
    opt("lift_height_m", is::<t::Decimal>),
    opt("complex_conditions", is::<bool>),
    opt("special_demolition", is::<bool>),
];

fn parameters(v: &serde_json::Value) -> Result<(), crate::schema::Issue> {
    let obj = v.as_object().ok_or_else(|| crate::schema::Issue::invalid("expected an object"))?;
    crate::schema::check_members(obj, PARAMETERS)
}

const EXPERT: &[Member] = &[req("name", is::<t::Name>), req("employer", is::<t::CreditCode>)];

fn experts(v: &serde_json::Value) -> Result<(), crate::schema::Issue> {
    each_object(v, EXPERT)
}

const LISTED: &[Member] = &[
    req("project_id", is::<t::ProjectId>),
    req("work_id", is::<t::RecordId>),
    req("name", is::<t::Name>),
    req("category", is::<t::Category>),
    req("parameters", parameters),
];
const APPROVED: &[Member] = &[
    req("project_id", is::<t::ProjectId>),
    req("work_id", is::<t::RecordId>),
    req("plan_version", is::<t::Count>),
    req("plan_hash", is::<t::Sha256Hex>),
    req("technical_lead", is::<t::Name>),
];
const COUNTERSIGNED: &[Member] = &[
    req("project_id", is::<t::ProjectId>),
    req("work_id", is::<t::RecordId>),
    req("plan_version", is::<t::Count>),
    req("chief_supervisor", is::<t::Name>),
];
const REVIEW: &[Member] = &[
    req("project_id", is::<t::ProjectId>),
    req("work_id", is::<t::RecordId>),
    req("plan_version", is::<t::Count>),
    req("experts", experts),
    req("outcome", is::<t::ReviewOutcome>),
    req("report", is::<t::Text>),
];
const STEP: &[Member] =
    &[req("project_id", is::<t::ProjectId>), req("work_id", is::<t::RecordId>), req("note", is::<t::Text>)];
const MONITORING: &[Member] = &[
    req("project_id", is::<t::ProjectId>),
    req("work_id", is::<t::RecordId>),
    req("point", is::<t::RecordId>),
    req("item", is::<t::Name>),
    req("value", is::<t::Decimal>),
    req("alarm_value", is::<t::Decimal>),
    req("anomaly", is::<bool>),
];
const ACCEPTED: &[Member] = &[
    req("project_id", is::<t::ProjectId>),
    req("work_id", is::<t::RecordId>),
    req("technical_lead", is::<t::Name>),
    req("chief_supervisor", is::<t::Name>),
    req("note", is::<t::Text>),
];

event_enum! {
    /// A typed `hazard.*` event.
    HazardEvent {
        /// `hazard.work.listed.v1`.
        Listed(Box<WorkListed>) = "hazard.work.listed.v1", LISTED;
        /// `hazard.plan.approved.v1`.
        Approved(PlanApproved) = "hazard.plan.approved.v1", APPROVED;
        /// `hazard.plan.countersigned.v1`.
        Countersigned(PlanCountersigned) = "hazard.plan.countersigned.v1", COUNTERSIGNED;
        /// `hazard.expert_review.held.v1`.
        Review(ExpertReviewHeld) = "hazard.expert_review.held.v1", REVIEW;
        /// `hazard.site_notice.posted.v1`.
        SiteNotice(WorkStep) = "hazard.site_notice.posted.v1", STEP;
        /// `hazard.briefing.held.v1`.
        Briefing(WorkStep) = "hazard.briefing.held.v1", STEP;
        /// `hazard.work.started.v1`.
        Started(WorkStep) = "hazard.work.started.v1", STEP;
        /// `hazard.monitoring.recorded.v1`.
        Monitoring(MonitoringRecorded) = "hazard.monitoring.recorded.v1", MONITORING;
        /// `hazard.work.accepted.v1`.
        Accepted(WorkAccepted) = "hazard.work.accepted.v1", ACCEPTED;
    }
}

impl HazardEvent {
    /// The project.
    pub fn project(&self) -> &ProjectId {
        match self {
            Self::Listed(p) => &p.project_id,
            Self::Approved(p) => &p.project_id,
            Self::Countersigned(p) => &p.project_id,
            Self::Review(p) => &p.project_id,
            Self::SiteNotice(p) | Self::Briefing(p) | Self::Started(p) => &p.project_id,
            Self::Monitoring(p) => &p.project_id,
            Self::Accepted(p) => &p.project_id,
        }
    }

    /// The work.
    pub fn work(&self) -> &RecordId {
        match self {
            Self::Listed(p) => &p.work_id,
            Self::Approved(p) => &p.work_id,
            Self::Countersigned(p) => &p.work_id,
            Self::Review(p) => &p.work_id,
            Self::SiteNotice(p) | Self::Briefing(p) | Self::Started(p) => &p.work_id,
            Self::Monitoring(p) => &p.work_id,
            Self::Accepted(p) => &p.work_id,
        }
    }
}

/// A work as the rules remember it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Work {
    /// 危大 or 超规模.
    pub class: Class,
    /// Last plan version approved by the contractor (0 none).
    pub approved: u32,
    /// Last plan version countersigned by the chief supervising engineer (0 none).
    pub countersigned: u32,
    /// Last expert review: (plan version, outcome).
    pub review: Option<(u32, ReviewOutcome)>,
    /// Started.
    pub started: bool,
    /// Accepted.
    pub accepted: bool,
}

/// What is still missing before a work may start, in order (empty: it may start).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Missing {
    /// No plan approved by the contractor's 技术负责人 (at the current version).
    Approval,
    /// The current version is not countersigned by the 总监理工程师.
    Countersignature,
    /// 超规模 without a valid expert review (none, 不通过, or 修改后通过 not yet followed by re-approval).
    ExpertReview,
}

impl Missing {
    /// The JSON name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Approval => "approval",
            Self::Countersignature => "countersignature",
            Self::ExpertReview => "expert_review",
        }
    }

    /// The Chinese term.
    pub const fn name_zh(self) -> &'static str {
        match self {
            Self::Approval => "专项方案未审批",
            Self::Countersignature => "总监未审查签字",
            Self::ExpertReview => "未经专家论证",
        }
    }
}

/// What a work still lacks before it may start (the one definition, used by `decide` and by the read models).
///
/// `approved`/`countersigned` are the last plan versions signed (0 none); `review` the last expert review.
pub fn missing(class: Class, approved: u32, countersigned: u32, review: Option<(u32, ReviewOutcome)>) -> Vec<Missing> {
    let mut out = Vec::new();
    if approved == 0 {
        out.push(Missing::Approval);
    }
    if approved == 0 || countersigned != approved {
        out.push(Missing::Countersignature);
    }
    if class == Class::Major {
        let ok = match review {
            Some((v, ReviewOutcome::Passed)) => v == approved,
            // 修改后通过: the revised plan (a later version) must be approved and countersigned again.
            Some((v, ReviewOutcome::PassedWithChanges)) => approved > v,
            _ => false,
        };
        if !ok {
            out.push(Missing::ExpertReview);
        }
    }
    out
}

/// What the hazardous-works rules remember.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HazardState {
    /// Works by (project, id).
    #[serde(with = "crate::snapshot::pairs")]
    pub works: BTreeMap<(ProjectId, RecordId), Work>,
}

fn err(rule: &str, message: impl Into<String>) -> RuleError {
    RuleError::new(rule, message)
}

const GC: &[ParticipantRole] = &[ParticipantRole::GeneralContractor];

impl HazardState {
    /// Every rule of `hazard.*`.
    pub fn decide(
        &self,
        ctx: &RecordContext<'_>,
        registry: &RegistryState,
        event: &HazardEvent,
    ) -> Result<(), RuleError> {
        let project = event.project();
        let id = event.work();
        let work = self.works.get(&key(project, id));
        let need = |rule: &str| {
            work.ok_or_else(|| err(rule, format!("no 危大工程 {id} listed in project {project}: list it first")))
        };
        match event {
            HazardEvent::Listed(p) => {
                participant(
                    ctx,
                    registry,
                    project,
                    &[ParticipantRole::Owner, ParticipantRole::GeneralContractor],
                    "37号令第七条.listing_signer",
                    "a 危大工程 listing",
                )?;
                if work.is_some() {
                    return Err(err("hazard.unique_id", format!("work {id} already listed")));
                }
                if classify(p.category, &p.parameters).is_none() {
                    return Err(err(
                        "31号文附件1.below_threshold",
                        format!(
                            "{} with these parameters is below the 危大工程 thresholds (31号文 附件1): not a 危大工程; check the parameters and the subtype",
                            p.category.name_zh()
                        ),
                    ));
                }
                Ok(())
            }
            HazardEvent::Approved(p) => {
                participant(ctx, registry, project, GC, "37号令第十一条.approval_signer", "a plan approval")?;
                let w = need("hazard.approval_needs_listing")?;
                if p.plan_version.get() != w.approved + 1 {
                    return Err(err(
                        "hazard.plan_version",
                        format!("plan version must be {} (last approved: {})", w.approved + 1, w.approved),
                    ));
                }
                if w.started && w.accepted {
                    return Err(err("hazard.accepted_is_final", format!("work {id} was already accepted")));
                }
                Ok(())
            }
            HazardEvent::Countersigned(p) => {
                participant(
                    ctx,
                    registry,
                    project,
                    &[ParticipantRole::Supervisor],
                    "37号令第十一条.countersign_signer",
                    "a countersignature by the 总监理工程师",
                )?;
                let w = need("hazard.countersign_needs_listing")?;
                if p.plan_version.get() != w.approved || w.approved == 0 {
                    return Err(err(
                        "37号令第十一条.countersign_needs_approval",
                        format!(
                            "plan version {} is not the version the contractor approved ({})",
                            p.plan_version.get(),
                            w.approved
                        ),
                    ));
                }
                if w.countersigned == w.approved {
                    return Err(err(
                        "hazard.countersign_once",
                        format!("plan version {} already countersigned", w.approved),
                    ));
                }
                Ok(())
            }
            HazardEvent::Review(p) => {
                participant(ctx, registry, project, GC, "37号令第十二条.review_organiser", "an expert review")?;
                let w = need("hazard.review_needs_listing")?;
                if w.class != Class::Major {
                    return Err(err(
                        "37号令第十二条.review_for_major_only",
                        format!("work {id} is 危大 but not 超过一定规模: no expert review is held for it"),
                    ));
                }
                if w.approved == 0 || w.countersigned != w.approved || p.plan_version.get() != w.approved {
                    return Err(err(
                        "37号令第十二条.review_after_approval",
                        format!(
                            "the expert review examines the plan after its approval and countersignature: version {} is not the approved and countersigned one ({})",
                            p.plan_version.get(),
                            if w.countersigned == w.approved { w.approved } else { 0 }
                        ),
                    ));
                }
                if p.experts.len() < MIN_EXPERTS {
                    return Err(err(
                        "31号文.at_least_5_experts",
                        format!("an expert review needs at least {MIN_EXPERTS} experts, got {}", p.experts.len()),
                    ));
                }
                let mut names: Vec<&Name> = p.experts.iter().map(|e| &e.name).collect();
                names.sort();
                names.dedup();
                if names.len() != p.experts.len() {
                    return Err(err("31号文.at_least_5_experts", "an expert is listed twice"));
                }
                if let Some(e) =
                    p.experts.iter().find(|e| registry.project(project).is_some_and(|x| x.has_participant(&e.employer)))
                {
                    return Err(err(
                        "37号令第十二条.no_interested_experts",
                        format!("expert {} works for {}, a participant of the project (利害关系)", e.name, e.employer),
                    ));
                }
                Ok(())
            }
            HazardEvent::SiteNotice(_) | HazardEvent::Briefing(_) => {
                participant(
                    ctx,
                    registry,
                    project,
                    GC,
                    "37号令第十四条.contractor_signer",
                    "a site notice or briefing",
                )?;
                let w = need("hazard.step_needs_listing")?;
                if w.approved == 0 || w.countersigned != w.approved {
                    return Err(err(
                        "37号令第十四条.needs_approved_plan",
                        "the site notice and the technical briefing follow the approved plan: approve and countersign it first",
                    ));
                }
                Ok(())
            }
            HazardEvent::Started(_) => {
                participant(ctx, registry, project, GC, "37号令第十七条.contractor_signer", "a work start")?;
                let w = need("hazard.start_needs_listing")?;
                if w.started {
                    return Err(err("hazard.start_once", format!("work {id} already started")));
                }
                let m = missing(w.class, w.approved, w.countersigned, w.review);
                if let Some(first) = m.first() {
                    let rule = if *first == Missing::ExpertReview {
                        "37号令第十二条.no_start_without_review"
                    } else {
                        "37号令第十条.no_start_without_approval"
                    };
                    let list: Vec<&str> = m.iter().map(|x| x.name_zh()).collect();
                    return Err(err(rule, format!("work {id} may not start: {}", list.join("、"))));
                }
                Ok(())
            }
            HazardEvent::Monitoring(_) => {
                if super::org_of(ctx, "testing_lab").is_none() {
                    participant(
                        ctx,
                        registry,
                        project,
                        &ParticipantRole::ALL,
                        "37号令第二十条.monitoring_signer",
                        "a monitoring reading",
                    )?;
                }
                need("hazard.monitoring_needs_listing")?;
                Ok(())
            }
            HazardEvent::Accepted(_) => {
                participant(
                    ctx,
                    registry,
                    project,
                    &[ParticipantRole::Supervisor],
                    "37号令第二十一条.acceptance_signer",
                    "an acceptance (countersigned by the 总监理工程师)",
                )?;
                let w = need("hazard.acceptance_needs_listing")?;
                if w.approved == 0 || w.countersigned != w.approved {
                    return Err(err(
                        "37号令第二十一条.no_acceptance_without_approval",
                        format!("work {id} has no approved and countersigned plan: nothing to accept against"),
                    ));
                }
                if !w.started {
                    return Err(err("37号令第二十一条.acceptance_after_start", format!("work {id} has not started")));
                }
                if w.accepted {
                    return Err(err("hazard.accepted_is_final", format!("work {id} was already accepted")));
                }
                Ok(())
            }
        }
    }

    /// Folds an accepted record.
    pub fn evolve(&mut self, _ctx: &RecordContext<'_>, event: &HazardEvent) {
        let k = key(event.project(), event.work());
        match event {
            HazardEvent::Listed(p) => {
                if let Some(class) = classify(p.category, &p.parameters) {
                    self.works.insert(
                        k,
                        Work { class, approved: 0, countersigned: 0, review: None, started: false, accepted: false },
                    );
                }
            }
            HazardEvent::Approved(p) => {
                if let Some(w) = self.works.get_mut(&k) {
                    w.approved = p.plan_version.get();
                }
            }
            HazardEvent::Countersigned(p) => {
                if let Some(w) = self.works.get_mut(&k) {
                    w.countersigned = p.plan_version.get();
                }
            }
            HazardEvent::Review(p) => {
                if let Some(w) = self.works.get_mut(&k) {
                    w.review = Some((p.plan_version.get(), p.outcome));
                }
            }
            HazardEvent::Started(_) => {
                if let Some(w) = self.works.get_mut(&k) {
                    w.started = true;
                }
            }
            HazardEvent::Accepted(_) => {
                if let Some(w) = self.works.get_mut(&k) {
                    w.accepted = true;
                }
            }
            HazardEvent::SiteNotice(_) | HazardEvent::Briefing(_) | HazardEvent::Monitoring(_) => {}
        }
    }
}
