//! 工程安全质量监管: inspection → findings → rectification notice → submission with photos → review (a failed review
//! reopens the notice) → closure; stop-work orders (停工令) and resumption (复工).
//!
//! | kind | signer | rule |
//! |---|---|---|
//! | `inspection.inspection.recorded.v1` | bureau of the project | id unused; the party inspected takes part in the project |
//! | `inspection.finding.recorded.v1` | bureau | the inspection exists; id unused |
//! | `inspection.rectification.noticed.v1` | bureau | the finding exists and has no notice; deadline after the notice; responsible party takes part |
//! | `inspection.rectification.submitted.v1` | the responsible party's enterprise key | notice open or reopened; ≥ 1 photo hash |
//! | `inspection.rectification.reviewed.v1` | bureau | a submission awaits review |
//! | `inspection.rectification.closed.v1` | bureau | the last review passed |
//! | `inspection.stop_work.ordered.v1` | bureau | no order with this id |
//! | `inspection.stop_work.lifted.v1` | bureau | the order is in force; no rectification of its inspection is still open |
//!
//! Overdue is a function of time ([`overdue`], [`is_overdue`]), never a folded state.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{RecordId, Sha256Hex, Timestamp, key, participant, project_bureau, unix_of};
use crate::ids::{CreditCode, ProjectId};
use crate::registry::{ParticipantRole, RegistryState};
use crate::rules::{RecordContext, RuleError};
use crate::schema::{Member, each, is, opt, req};
use crate::text::{Name, Text};

/// Kind of [`InspectionRecorded`].
pub const INSPECTION_RECORDED: &str = "inspection.inspection.recorded.v1";
/// Kind of [`FindingRecorded`].
pub const FINDING_RECORDED: &str = "inspection.finding.recorded.v1";
/// Kind of [`NoticeIssued`].
pub const NOTICE_ISSUED: &str = "inspection.rectification.noticed.v1";
/// Kind of [`RectificationSubmitted`].
pub const RECTIFICATION_SUBMITTED: &str = "inspection.rectification.submitted.v1";
/// Kind of [`RectificationReviewed`].
pub const RECTIFICATION_REVIEWED: &str = "inspection.rectification.reviewed.v1";
/// Kind of [`RectificationClosed`].
pub const RECTIFICATION_CLOSED: &str = "inspection.rectification.closed.v1";
/// Kind of [`StopWorkOrdered`].
pub const STOP_WORK_ORDERED: &str = "inspection.stop_work.ordered.v1";
/// Kind of [`StopWorkLifted`].
pub const STOP_WORK_LIFTED: &str = "inspection.stop_work.lifted.v1";

/// 安全 or 质量.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InspectionKind {
    /// 安全检查.
    Safety,
    /// 质量检查.
    Quality,
}

impl InspectionKind {
    /// The JSON name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Safety => "safety",
            Self::Quality => "quality",
        }
    }
}

/// 问题等级 (Yunzhu `problemLevel` 0/1/2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingLevel {
    /// 轻微 (0).
    Minor,
    /// 一般 (1).
    General,
    /// 严重 (2).
    Serious,
}

impl FindingLevel {
    /// The JSON name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Minor => "minor",
            Self::General => "general",
            Self::Serious => "serious",
        }
    }

    /// The Chinese term.
    pub const fn name_zh(self) -> &'static str {
        match self {
            Self::Minor => "轻微",
            Self::General => "一般",
            Self::Serious => "严重",
        }
    }
}

/// 复查结论.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewResult {
    /// 复查通过.
    Pass,
    /// 复查未通过: the notice reopens.
    Fail,
}

impl ReviewResult {
    /// The JSON name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
        }
    }
}

/// Payload of `inspection.inspection.recorded.v1`: a 监督检查 by a bureau inspector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InspectionRecorded {
    /// The project.
    pub project_id: ProjectId,
    /// Unique within the project.
    pub inspection_id: RecordId,
    /// 安全 or 质量.
    pub inspection_kind: InspectionKind,
    /// 检查人 (the inspector's name).
    pub inspector: Name,
    /// 检查范围.
    pub scope: Text,
    /// 受检单位 (credit code of the party inspected).
    pub inspected_party: CreditCode,
}

/// Payload of `inspection.finding.recorded.v1`: a 问题 found in an inspection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingRecorded {
    /// The project.
    pub project_id: ProjectId,
    /// The inspection.
    pub inspection_id: RecordId,
    /// Unique within the project.
    pub finding_id: RecordId,
    /// 问题等级.
    pub level: FindingLevel,
    /// 问题类别 (e.g. 临边防护, 脚手架, 混凝土强度).
    pub category: Name,
    /// 问题描述.
    pub description: Text,
    /// 检查照片 (SHA-256 of each photo).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub photo_hashes: Vec<Sha256Hex>,
}

/// Payload of `inspection.rectification.noticed.v1`: 整改通知单.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoticeIssued {
    /// The project.
    pub project_id: ProjectId,
    /// The finding to rectify.
    pub finding_id: RecordId,
    /// Unique within the project.
    pub notice_id: RecordId,
    /// 整改期限.
    pub deadline: Timestamp,
    /// 整改责任单位 (credit code; a participant of the project).
    pub responsible: CreditCode,
    /// 整改要求.
    pub requirement: Text,
}

/// Payload of `inspection.rectification.submitted.v1`: 整改回复 with 整改照片.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RectificationSubmitted {
    /// The project.
    pub project_id: ProjectId,
    /// The notice.
    pub notice_id: RecordId,
    /// 整改照片 (SHA-256 hex of each photo, at least one).
    pub photo_hashes: Vec<Sha256Hex>,
    /// 整改说明.
    pub note: Text,
}

/// Payload of `inspection.rectification.reviewed.v1`: 复查.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RectificationReviewed {
    /// The project.
    pub project_id: ProjectId,
    /// The notice.
    pub notice_id: RecordId,
    /// 复查结论.
    pub result: ReviewResult,
    /// 复查人.
    pub reviewer: Name,
    /// 复查意见.
    pub note: Text,
    /// 复查照片.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub photo_hashes: Vec<Sha256Hex>,
}

/// Payload of `inspection.rectification.closed.v1`: 销号.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RectificationClosed {
    /// The project.
    pub project_id: ProjectId,
    /// The notice.
    pub notice_id: RecordId,
}

/// Payload of `inspection.stop_work.ordered.v1`: 停工令 (whole project or part).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopWorkOrdered {
    /// The project.
    pub project_id: ProjectId,
    /// Unique within the project.
    pub order_id: RecordId,
    /// The inspection it follows, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inspection_id: Option<RecordId>,
    /// 停工原因.
    pub reason: Text,
    /// 停工范围.
    pub scope: Text,
}

/// Payload of `inspection.stop_work.lifted.v1`: 复工.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopWorkLifted {
    /// The project.
    pub project_id: ProjectId,
    /// The order.
    pub order_id: RecordId,
    /// 复工意见.
    pub note: Text,
}

mod t {
    pub(super) use super::super::{RecordId, Sha256Hex, Timestamp};
    pub(super) use super::{FindingLevel, InspectionKind, ReviewResult};
    pub(super) use crate::ids::{CreditCode, ProjectId};
    pub(super) use crate::text::{Name, Text};
}

const INSPECTION: &[Member] = &[
    req("project_id", is::<t::ProjectId>),
    req("inspection_id", is::<t::RecordId>),
    req("inspection_kind", is::<t::InspectionKind>),
    req("inspector", is::<t::Name>),
    req("scope", is::<t::Text>),
    req("inspected_party", is::<t::CreditCode>),
];
const FINDING: &[Member] = &[
    req("project_id", is::<t::ProjectId>),
    req("inspection_id", is::<t::RecordId>),
    req("finding_id", is::<t::RecordId>),
    req("level", is::<t::FindingLevel>),
    req("category", is::<t::Name>),
    req("description", is::<t::Text>),
    opt("photo_hashes", each::<t::Sha256Hex>),
];
const NOTICE: &[Member] = &[
    req("project_id", is::<t::ProjectId>),
    req("finding_id", is::<t::RecordId>),
    req("notice_id", is::<t::RecordId>),
    req("deadline", is::<t::Timestamp>),
    req("responsible", is::<t::CreditCode>),
    req("requirement", is::<t::Text>),
];
const SUBMITTED: &[Member] = &[
    req("project_id", is::<t::ProjectId>),
    req("notice_id", is::<t::RecordId>),
    req("photo_hashes", each::<t::Sha256Hex>),
    req("note", is::<t::Text>),
];
const REVIEWED: &[Member] = &[
    req("project_id", is::<t::ProjectId>),
    req("notice_id", is::<t::RecordId>),
    req("result", is::<t::ReviewResult>),
    req("reviewer", is::<t::Name>),
    req("note", is::<t::Text>),
    opt("photo_hashes", each::<t::Sha256Hex>),
];
const CLOSED: &[Member] = &[req("project_id", is::<t::ProjectId>), req("notice_id", is::<t::RecordId>)];
const ORDERED: &[Member] = &[
    req("project_id", is::<t::ProjectId>),
    req("order_id", is::<t::RecordId>),
    opt("inspection_id", is::<t::RecordId>),
    req("reason", is::<t::Text>),
    req("scope", is::<t::Text>),
];
const LIFTED: &[Member] =
    &[req("project_id", is::<t::ProjectId>), req("order_id", is::<t::RecordId>), req("note", is::<t::Text>)];

event_enum! {
    /// A typed `inspection.*` event.
    InspectionEvent {
        /// `inspection.inspection.recorded.v1`.
        Inspected(InspectionRecorded) = "inspection.inspection.recorded.v1", INSPECTION;
        /// `inspection.finding.recorded.v1`.
        Finding(FindingRecorded) = "inspection.finding.recorded.v1", FINDING;
        /// `inspection.rectification.noticed.v1`.
        Notice(NoticeIssued) = "inspection.rectification.noticed.v1", NOTICE;
        /// `inspection.rectification.submitted.v1`.
        Submitted(RectificationSubmitted) = "inspection.rectification.submitted.v1", SUBMITTED;
        /// `inspection.rectification.reviewed.v1`.
        Reviewed(RectificationReviewed) = "inspection.rectification.reviewed.v1", REVIEWED;
        /// `inspection.rectification.closed.v1`.
        Closed(RectificationClosed) = "inspection.rectification.closed.v1", CLOSED;
        /// `inspection.stop_work.ordered.v1`.
        StopWork(StopWorkOrdered) = "inspection.stop_work.ordered.v1", ORDERED;
        /// `inspection.stop_work.lifted.v1`.
        Resumed(StopWorkLifted) = "inspection.stop_work.lifted.v1", LIFTED;
    }
}

impl InspectionEvent {
    /// The project.
    pub fn project(&self) -> &ProjectId {
        match self {
            Self::Inspected(p) => &p.project_id,
            Self::Finding(p) => &p.project_id,
            Self::Notice(p) => &p.project_id,
            Self::Submitted(p) => &p.project_id,
            Self::Reviewed(p) => &p.project_id,
            Self::Closed(p) => &p.project_id,
            Self::StopWork(p) => &p.project_id,
            Self::Resumed(p) => &p.project_id,
        }
    }
}

/// Where a rectification notice stands (Yunzhu `rectifyStatus`: 1 待整改, 2 待复查, 3 复查通过, 4 复查未通过).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RectificationStatus {
    /// 待整改: noticed, nothing submitted.
    Open,
    /// 待复查: submitted, awaiting review.
    Submitted,
    /// 复查未通过: to rectify again.
    Reopened,
    /// 复查通过: may be closed.
    Passed,
    /// 已销号.
    Closed,
}

impl RectificationStatus {
    /// The JSON name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Submitted => "submitted",
            Self::Reopened => "reopened",
            Self::Passed => "passed",
            Self::Closed => "closed",
        }
    }

    /// The Chinese term.
    pub const fn name_zh(self) -> &'static str {
        match self {
            Self::Open => "待整改",
            Self::Submitted => "待复查",
            Self::Reopened => "复查未通过",
            Self::Passed => "复查通过",
            Self::Closed => "已销号",
        }
    }

    /// Parses the JSON name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Open, Self::Submitted, Self::Reopened, Self::Passed, Self::Closed].into_iter().find(|x| x.as_str() == s)
    }

    /// Whether the responsible party still owes a rectification (the deadline runs).
    pub const fn awaits_rectification(self) -> bool {
        matches!(self, Self::Open | Self::Reopened)
    }
}

/// Whether a notice in `status` with `deadline_unix` is overdue at `now_unix`: the responsible party still owes
/// the rectification (待整改 or 复查未通过) and the deadline has passed. The one definition, used by the state
/// ([`overdue`]) and by the read models' command view.
pub const fn is_overdue(status: RectificationStatus, deadline_unix: i64, now_unix: i64) -> bool {
    status.awaits_rectification() && now_unix > deadline_unix
}

/// A rectification notice as the rules remember it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notice {
    /// Where it stands.
    pub status: RectificationStatus,
    /// 整改期限, Unix seconds.
    pub deadline_unix: i64,
    /// 整改责任单位.
    pub responsible: CreditCode,
    /// The inspection the finding came from.
    pub inspection_id: RecordId,
}

/// What the inspection rules remember.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InspectionState {
    /// Inspections by (project, id).
    pub inspections: BTreeSet<(ProjectId, RecordId)>,
    /// Findings by (project, id): their inspection, and whether a notice was issued.
    #[serde(with = "crate::snapshot::pairs")]
    pub findings: BTreeMap<(ProjectId, RecordId), (RecordId, bool)>,
    /// Notices by (project, id).
    #[serde(with = "crate::snapshot::pairs")]
    pub notices: BTreeMap<(ProjectId, RecordId), Notice>,
    /// Stop-work orders by (project, id): whether in force, and the inspection they follow.
    #[serde(with = "crate::snapshot::pairs")]
    pub stop_orders: BTreeMap<(ProjectId, RecordId), (bool, Option<RecordId>)>,
}

/// The notices overdue at `now_unix` (see [`is_overdue`]).
pub fn overdue(state: &InspectionState, now_unix: i64) -> Vec<(&ProjectId, &RecordId, &Notice)> {
    state
        .notices
        .iter()
        .filter(|(_, n)| is_overdue(n.status, n.deadline_unix, now_unix))
        .map(|((p, id), n)| (p, id, n))
        .collect()
}

fn err(rule: &str, message: impl Into<String>) -> RuleError {
    RuleError::new(rule, message)
}

impl InspectionState {
    fn notice(&self, project: &ProjectId, id: &RecordId, rule: &str) -> Result<&Notice, RuleError> {
        self.notices.get(&key(project, id)).ok_or_else(|| {
            err(rule, format!("no rectification notice {id} in project {project}: issue the notice first"))
        })
    }

    /// Every rule of `inspection.*`.
    pub fn decide(
        &self,
        ctx: &RecordContext<'_>,
        registry: &RegistryState,
        event: &InspectionEvent,
    ) -> Result<(), RuleError> {
        let project = event.project();
        match event {
            InspectionEvent::Inspected(p) => {
                project_bureau(ctx, registry, project, "inspection.signer", "an inspection")?;
                if self.inspections.contains(&key(project, &p.inspection_id)) {
                    return Err(err(
                        "inspection.unique_id",
                        format!("inspection {} already recorded in project {project}", p.inspection_id),
                    ));
                }
                let known = registry.project(project).is_some_and(|x| x.has_participant(&p.inspected_party));
                if !known {
                    return Err(err(
                        "inspection.party_inspected",
                        format!("{} does not take part in project {project}", p.inspected_party),
                    ));
                }
                Ok(())
            }
            InspectionEvent::Finding(p) => {
                project_bureau(ctx, registry, project, "inspection.signer", "a finding")?;
                if !self.inspections.contains(&key(project, &p.inspection_id)) {
                    return Err(err(
                        "inspection.finding_needs_inspection",
                        format!("no inspection {} in project {project}: record the inspection first", p.inspection_id),
                    ));
                }
                if self.findings.contains_key(&key(project, &p.finding_id)) {
                    return Err(err("inspection.unique_id", format!("finding {} already recorded", p.finding_id)));
                }
                Ok(())
            }
            InspectionEvent::Notice(p) => {
                project_bureau(ctx, registry, project, "inspection.signer", "a rectification notice")?;
                match self.findings.get(&key(project, &p.finding_id)) {
                    None => {
                        return Err(err(
                            "inspection.notice_needs_finding",
                            format!("no finding {} in project {project}: record the finding first", p.finding_id),
                        ));
                    }
                    Some((_, true)) => {
                        return Err(err(
                            "inspection.one_notice_per_finding",
                            format!("finding {} already has a rectification notice", p.finding_id),
                        ));
                    }
                    Some((_, false)) => {}
                }
                if self.notices.contains_key(&key(project, &p.notice_id)) {
                    return Err(err("inspection.unique_id", format!("notice {} already issued", p.notice_id)));
                }
                if p.deadline.unix() <= unix_of(ctx.occurred_at) {
                    return Err(err(
                        "inspection.deadline_after_notice",
                        format!("deadline {} is not after the notice ({})", p.deadline, ctx.occurred_at),
                    ));
                }
                let known = registry.project(project).is_some_and(|x| x.has_participant(&p.responsible));
                if !known {
                    return Err(err(
                        "inspection.responsible_party",
                        format!("{} does not take part in project {project}", p.responsible),
                    ));
                }
                Ok(())
            }
            InspectionEvent::Submitted(p) => {
                let n = self.notice(project, &p.notice_id, "inspection.submission_needs_notice")?;
                let signer = participant(
                    ctx,
                    registry,
                    project,
                    &ParticipantRole::ALL,
                    "inspection.submission_signer",
                    "a rectification submission",
                )?;
                if signer != n.responsible {
                    return Err(err(
                        "inspection.submission_signer",
                        format!(
                            "only the responsible party {} may submit the rectification, not {signer}",
                            n.responsible
                        ),
                    ));
                }
                if !n.status.awaits_rectification() {
                    return Err(err(
                        "inspection.submission_when_open",
                        format!(
                            "notice {} is {} ({}): a rectification is submitted only while 待整改 or after a failed review",
                            p.notice_id,
                            n.status.name_zh(),
                            n.status.as_str()
                        ),
                    ));
                }
                if p.photo_hashes.is_empty() {
                    return Err(err(
                        "inspection.submission_needs_photos",
                        "a rectification submission carries at least one photo hash (整改照片)",
                    ));
                }
                Ok(())
            }
            InspectionEvent::Reviewed(p) => {
                project_bureau(ctx, registry, project, "inspection.signer", "a review")?;
                let n = self.notice(project, &p.notice_id, "inspection.review_needs_notice")?;
                if n.status != RectificationStatus::Submitted {
                    return Err(err(
                        "inspection.review_needs_submission",
                        format!(
                            "notice {} is {} ({}): review only after a rectification has been submitted",
                            p.notice_id,
                            n.status.name_zh(),
                            n.status.as_str()
                        ),
                    ));
                }
                Ok(())
            }
            InspectionEvent::Closed(p) => {
                project_bureau(ctx, registry, project, "inspection.signer", "a closure")?;
                let n = self.notice(project, &p.notice_id, "inspection.closure_needs_notice")?;
                if n.status != RectificationStatus::Passed {
                    return Err(err(
                        "inspection.closure_needs_passed_review",
                        format!(
                            "notice {} is {} ({}): close only after a passed review",
                            p.notice_id,
                            n.status.name_zh(),
                            n.status.as_str()
                        ),
                    ));
                }
                Ok(())
            }
            InspectionEvent::StopWork(p) => {
                project_bureau(ctx, registry, project, "inspection.signer", "a stop-work order")?;
                if self.stop_orders.contains_key(&key(project, &p.order_id)) {
                    return Err(err("inspection.unique_id", format!("stop-work order {} already issued", p.order_id)));
                }
                if let Some(i) = &p.inspection_id
                    && !self.inspections.contains(&key(project, i))
                {
                    return Err(err(
                        "inspection.stop_work_needs_inspection",
                        format!("no inspection {i} in project {project}"),
                    ));
                }
                Ok(())
            }
            InspectionEvent::Resumed(p) => {
                project_bureau(ctx, registry, project, "inspection.signer", "a resumption")?;
                let Some((in_force, inspection)) = self.stop_orders.get(&key(project, &p.order_id)) else {
                    return Err(err(
                        "inspection.resumption_needs_order",
                        format!("no stop-work order {} in project {project}", p.order_id),
                    ));
                };
                if !in_force {
                    return Err(err(
                        "inspection.resumption_needs_order",
                        format!("stop-work order {} was already lifted", p.order_id),
                    ));
                }
                if let Some(i) = inspection
                    && let Some(((_, id), n)) = self.notices.iter().find(|((pr, _), n)| {
                        pr == project && &n.inspection_id == i && n.status != RectificationStatus::Closed
                    })
                {
                    return Err(err(
                        "inspection.resumption_needs_rectification",
                        format!(
                            "notice {id} of inspection {i} is {} ({}): close every rectification of the inspection before lifting the order",
                            n.status.name_zh(),
                            n.status.as_str()
                        ),
                    ));
                }
                Ok(())
            }
        }
    }

    /// Folds an accepted record.
    pub fn evolve(&mut self, _ctx: &RecordContext<'_>, event: &InspectionEvent) {
        let project = event.project();
        match event {
            InspectionEvent::Inspected(p) => {
                self.inspections.insert(key(project, &p.inspection_id));
            }
            InspectionEvent::Finding(p) => {
                self.findings.insert(key(project, &p.finding_id), (p.inspection_id.clone(), false));
            }
            InspectionEvent::Notice(p) => {
                let inspection_id = match self.findings.get_mut(&key(project, &p.finding_id)) {
                    Some(f) => {
                        f.1 = true;
                        f.0.clone()
                    }
                    None => p.finding_id.clone(),
                };
                self.notices.insert(
                    key(project, &p.notice_id),
                    Notice {
                        status: RectificationStatus::Open,
                        deadline_unix: p.deadline.unix(),
                        responsible: p.responsible.clone(),
                        inspection_id,
                    },
                );
            }
            InspectionEvent::Submitted(p) => self.set(project, &p.notice_id, RectificationStatus::Submitted),
            InspectionEvent::Reviewed(p) => {
                let s = match p.result {
                    ReviewResult::Pass => RectificationStatus::Passed,
                    ReviewResult::Fail => RectificationStatus::Reopened,
                };
                self.set(project, &p.notice_id, s);
            }
            InspectionEvent::Closed(p) => self.set(project, &p.notice_id, RectificationStatus::Closed),
            InspectionEvent::StopWork(p) => {
                self.stop_orders.insert(key(project, &p.order_id), (true, p.inspection_id.clone()));
            }
            InspectionEvent::Resumed(p) => {
                if let Some(o) = self.stop_orders.get_mut(&key(project, &p.order_id)) {
                    o.0 = false;
                }
            }
        }
    }

    fn set(&mut self, project: &ProjectId, id: &RecordId, status: RectificationStatus) {
        if let Some(n) = self.notices.get_mut(&key(project, id)) {
            n.status = status;
        }
    }
}
