//! 工程质量检测 (住建部令第57号《建设工程质量检测管理办法》): commission by the 建设单位 → witnessed sampling with a seal
//! (见证取样, 封志) → laboratory receipt with the seal checked → report signed by the laboratory's key, numbered per
//! laboratory and year → an unqualified result reported to the authority within a configured deadline
//! (不合格项目台账).
//!
//! | kind | signer | rule |
//! |---|---|---|
//! | `testing.policy.set.v1` | city bureau | deadline 1–720 h |
//! | `testing.commissioned.v1` | the project's 建设单位 (owner) enterprise key | id unused |
//! | `testing.sample.taken.v1` | owner or supervisor enterprise key | commission exists; witness ≠ sampler; id unused |
//! | `testing.sample.received.v1` | the commissioned lab's `testing_lab` key | sample exists, not received; seal id matches |
//! | `testing.report.issued.v1` | the commissioned lab's `testing_lab` key | sample received with seal intact; report number unused for the lab; tester is neither witness nor sampler |
//! | `testing.nonconformity.reported.v1` | the lab | the report exists, is unqualified, not reported yet |
//!
//! Report numbers are **not** rejected for gaps: a gap is a fact to show ([`gaps`], [`TestingState::report_gaps`]),
//! not something the sender could fix by resending. Only a re-used number is refused.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{Count, RecordId, Sha256Hex, key, participant, unix_of};
use crate::ids::{CreditCode, ProjectId};
use crate::registry::{ParticipantRole, RegistryState};
use crate::rules::{RecordContext, RuleError};
use crate::schema::{Member, is, opt, req};
use crate::text::{Name, Text};

/// Kind of [`PolicySet`].
pub const POLICY_SET: &str = "testing.policy.set.v1";
/// Kind of [`Commissioned`].
pub const COMMISSIONED: &str = "testing.commissioned.v1";
/// Kind of [`SampleTaken`].
pub const SAMPLE_TAKEN: &str = "testing.sample.taken.v1";
/// Kind of [`SampleReceived`].
pub const SAMPLE_RECEIVED: &str = "testing.sample.received.v1";
/// Kind of [`ReportIssued`].
pub const REPORT_ISSUED: &str = "testing.report.issued.v1";
/// Kind of [`NonconformityReported`].
pub const NONCONFORMITY_REPORTED: &str = "testing.nonconformity.reported.v1";

/// Deadline for reporting an unqualified result when no policy was set: 24 hours.
pub const DEFAULT_NONCONFORMITY_HOURS: u32 = 24;

/// Payload of `testing.policy.set.v1`: the city's configuration of this workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySet {
    /// Hours within which a laboratory reports an unqualified result (57号令 says "及时").
    pub nonconformity_deadline_hours: Count,
}

/// Payload of `testing.commissioned.v1`: 委托检测 by the 建设单位.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Commissioned {
    /// The project.
    pub project_id: ProjectId,
    /// 委托单编号, unique within the project.
    pub commission_id: RecordId,
    /// 检测机构 (credit code of the laboratory).
    pub lab: CreditCode,
    /// 检测项目 (e.g. 混凝土抗压强度, 钢筋力学性能).
    pub item: Name,
    /// Whether the item concerns 结构安全 (its failure must be reported within the deadline).
    pub structural: bool,
}

/// Payload of `testing.sample.taken.v1`: 见证取样 with the sample's 封志.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleTaken {
    /// The project.
    pub project_id: ProjectId,
    /// The commission.
    pub commission_id: RecordId,
    /// 样品编号, unique within the project.
    pub sample_id: RecordId,
    /// 封志编号.
    pub seal_id: RecordId,
    /// 见证人.
    pub witness: Name,
    /// 取样人.
    pub sampler: Name,
}

/// Payload of `testing.sample.received.v1`: 样品接收 with the seal and condition checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleReceived {
    /// The project.
    pub project_id: ProjectId,
    /// The sample.
    pub sample_id: RecordId,
    /// 封志编号 as found.
    pub seal_id: RecordId,
    /// Whether the seal was intact.
    pub seal_intact: bool,
    /// 样品状态.
    pub condition: Text,
}

/// 检测结论.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestResult {
    /// 合格.
    Qualified,
    /// 不合格.
    Unqualified,
}

impl TestResult {
    /// The JSON name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Qualified => "qualified",
            Self::Unqualified => "unqualified",
        }
    }
}

/// Payload of `testing.report.issued.v1`: 检测报告.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportIssued {
    /// The project.
    pub project_id: ProjectId,
    /// The sample.
    pub sample_id: RecordId,
    /// 报告年度.
    pub report_year: Count,
    /// 报告序号 within the laboratory and year (contiguous: 按年度统一编号，编号连续).
    pub report_seq: Count,
    /// 检测人.
    pub tester: Name,
    /// 审核人.
    pub reviewer: Name,
    /// 批准人 (法定代表人或其授权签字人).
    pub approver: Name,
    /// 检测结论.
    pub result: TestResult,
    /// 检测数据摘要.
    pub summary: Text,
    /// SHA-256 of the report document (the signed PDF), stored as an attachment (附件, `POST /v1/blobs`).
    /// Optional: records issued before attachments existed have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_sha256: Option<Sha256Hex>,
}

/// Payload of `testing.nonconformity.reported.v1`: the laboratory reports an unqualified result to the authority.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NonconformityReported {
    /// The project.
    pub project_id: ProjectId,
    /// 报告年度.
    pub report_year: Count,
    /// 报告序号.
    pub report_seq: Count,
    /// 说明.
    pub note: Text,
    /// Optional reference to the report's event id (for readers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<RecordId>,
}

mod t {
    pub(super) use super::super::{Count, RecordId, Sha256Hex};
    pub(super) use super::TestResult;
    pub(super) use crate::ids::{CreditCode, ProjectId};
    pub(super) use crate::text::{Name, Text};
}

const POLICY: &[Member] = &[req("nonconformity_deadline_hours", is::<t::Count>)];
const COMMISSION: &[Member] = &[
    req("project_id", is::<t::ProjectId>),
    req("commission_id", is::<t::RecordId>),
    req("lab", is::<t::CreditCode>),
    req("item", is::<t::Name>),
    req("structural", is::<bool>),
];
const TAKEN: &[Member] = &[
    req("project_id", is::<t::ProjectId>),
    req("commission_id", is::<t::RecordId>),
    req("sample_id", is::<t::RecordId>),
    req("seal_id", is::<t::RecordId>),
    req("witness", is::<t::Name>),
    req("sampler", is::<t::Name>),
];
const RECEIVED: &[Member] = &[
    req("project_id", is::<t::ProjectId>),
    req("sample_id", is::<t::RecordId>),
    req("seal_id", is::<t::RecordId>),
    req("seal_intact", is::<bool>),
    req("condition", is::<t::Text>),
];
const REPORT: &[Member] = &[
    req("project_id", is::<t::ProjectId>),
    req("sample_id", is::<t::RecordId>),
    req("report_year", is::<t::Count>),
    req("report_seq", is::<t::Count>),
    req("tester", is::<t::Name>),
    req("reviewer", is::<t::Name>),
    req("approver", is::<t::Name>),
    req("result", is::<t::TestResult>),
    req("summary", is::<t::Text>),
    opt("report_sha256", is::<t::Sha256Hex>),
];
const NONCONFORMITY: &[Member] = &[
    req("project_id", is::<t::ProjectId>),
    req("report_year", is::<t::Count>),
    req("report_seq", is::<t::Count>),
    req("note", is::<t::Text>),
    opt("reference", is::<t::RecordId>),
];

event_enum! {
    /// A typed `testing.*` event.
    TestingEvent {
        /// `testing.policy.set.v1`.
        PolicySet(PolicySet) = "testing.policy.set.v1", POLICY;
        /// `testing.commissioned.v1`.
        Commissioned(Commissioned) = "testing.commissioned.v1", COMMISSION;
        /// `testing.sample.taken.v1`.
        SampleTaken(SampleTaken) = "testing.sample.taken.v1", TAKEN;
        /// `testing.sample.received.v1`.
        SampleReceived(SampleReceived) = "testing.sample.received.v1", RECEIVED;
        /// `testing.report.issued.v1`.
        ReportIssued(ReportIssued) = "testing.report.issued.v1", REPORT;
        /// `testing.nonconformity.reported.v1`.
        Nonconformity(NonconformityReported) = "testing.nonconformity.reported.v1", NONCONFORMITY;
    }
}

impl TestingEvent {
    /// The project (none for the policy).
    pub fn project(&self) -> Option<&ProjectId> {
        match self {
            Self::PolicySet(_) => None,
            Self::Commissioned(p) => Some(&p.project_id),
            Self::SampleTaken(p) => Some(&p.project_id),
            Self::SampleReceived(p) => Some(&p.project_id),
            Self::ReportIssued(p) => Some(&p.project_id),
            Self::Nonconformity(p) => Some(&p.project_id),
        }
    }
}

/// A sample as the rules remember it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sample {
    /// The laboratory commissioned.
    pub lab: CreditCode,
    /// 封志编号.
    pub seal_id: RecordId,
    /// 见证人, 取样人.
    pub witness: Name,
    /// 取样人.
    pub sampler: Name,
    /// Whether structural.
    pub structural: bool,
    /// `None` not received; `Some(intact)` received.
    pub received: Option<bool>,
    /// Whether a report was issued.
    pub reported: bool,
}

/// An unqualified result awaiting or having its non-conformity report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unqualified {
    /// The project.
    pub project_id: ProjectId,
    /// Whether structural.
    pub structural: bool,
    /// When the report was issued (Unix seconds).
    pub issued_unix: i64,
    /// Deadline (Unix seconds) under the policy in force at issue.
    pub due_unix: i64,
    /// When reported, if reported.
    pub reported_unix: Option<i64>,
}

/// What the testing rules remember.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestingState {
    /// Configured deadline; `None` means [`DEFAULT_NONCONFORMITY_HOURS`].
    pub deadline_hours: Option<u32>,
    /// Commissions by (project, id): lab and whether structural.
    #[serde(with = "crate::snapshot::pairs")]
    pub commissions: BTreeMap<(ProjectId, RecordId), (CreditCode, bool)>,
    /// Samples by (project, id).
    #[serde(with = "crate::snapshot::pairs")]
    pub samples: BTreeMap<(ProjectId, RecordId), Sample>,
    /// Report numbers used, per (lab, year).
    #[serde(with = "crate::snapshot::pairs")]
    pub numbers: BTreeMap<(CreditCode, u32), BTreeSet<u32>>,
    /// Unqualified results by (lab, year, seq).
    #[serde(with = "crate::snapshot::pairs")]
    pub unqualified: BTreeMap<(CreditCode, u32, u32), Unqualified>,
}

/// A gap in a laboratory's report numbers: `from..=to` are missing between numbers that were issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    /// First missing number.
    pub from: u32,
    /// Last missing number.
    pub to: u32,
}

/// The gaps in a set of issued numbers, between the lowest and the highest (the first number the ledger sees is
/// the baseline: a laboratory may have issued earlier reports before joining).
pub fn gaps(numbers: impl IntoIterator<Item = u32>) -> Vec<Gap> {
    let sorted: BTreeSet<u32> = numbers.into_iter().collect();
    let mut out = Vec::new();
    let mut prev: Option<u32> = None;
    for n in sorted {
        if let Some(p) = prev
            && n > p + 1
        {
            out.push(Gap { from: p + 1, to: n - 1 });
        }
        prev = Some(n);
    }
    out
}

/// Unqualified results not reported by their deadline at `now_unix` (structural ones first).
pub fn unreported_overdue(state: &TestingState, now_unix: i64) -> Vec<(&(CreditCode, u32, u32), &Unqualified)> {
    let mut v: Vec<_> =
        state.unqualified.iter().filter(|(_, u)| u.reported_unix.is_none() && now_unix > u.due_unix).collect();
    v.sort_by_key(|(_, u)| (!u.structural, u.due_unix));
    v
}

fn err(rule: &str, message: impl Into<String>) -> RuleError {
    RuleError::new(rule, message)
}

impl TestingState {
    /// The deadline for reporting an unqualified result, in hours.
    pub fn deadline_hours(&self) -> u32 {
        self.deadline_hours.unwrap_or(DEFAULT_NONCONFORMITY_HOURS)
    }

    /// Every gap per (lab, year).
    pub fn report_gaps(&self) -> Vec<(&CreditCode, u32, Gap)> {
        self.numbers
            .iter()
            .flat_map(|((lab, year), set)| gaps(set.iter().copied()).into_iter().map(move |g| (lab, *year, g)))
            .collect()
    }

    fn lab_signer(ctx: &RecordContext<'_>, lab: &CreditCode, what: &str) -> Result<(), RuleError> {
        match super::org_of(ctx, "testing_lab") {
            Some(c) if &c == lab => Ok(()),
            Some(c) => {
                Err(err("testing.lab_signer", format!("{what}: laboratory {c} was not commissioned; {lab} was")))
            }
            None => Err(err(
                "testing.lab_signer",
                format!(
                    "{what} must be signed by the commissioned laboratory's testing_lab key, not a {} key",
                    ctx.signer_role
                ),
            )),
        }
    }

    /// Every rule of `testing.*`.
    pub fn decide(
        &self,
        ctx: &RecordContext<'_>,
        registry: &RegistryState,
        event: &TestingEvent,
    ) -> Result<(), RuleError> {
        match event {
            TestingEvent::PolicySet(p) => {
                if ctx.signer_role != "city_bureau" {
                    return Err(err("testing.policy_signer", "the testing policy is set by the city bureau's key"));
                }
                if p.nonconformity_deadline_hours.get() > 720 {
                    return Err(err("testing.policy_range", "the non-conformity deadline is at most 720 hours"));
                }
                Ok(())
            }
            TestingEvent::Commissioned(p) => {
                participant(
                    ctx,
                    registry,
                    &p.project_id,
                    &[ParticipantRole::Owner],
                    "57号令.commissioned_by_owner",
                    "a testing commission",
                )?;
                if self.commissions.contains_key(&key(&p.project_id, &p.commission_id)) {
                    return Err(err("testing.unique_id", format!("commission {} already recorded", p.commission_id)));
                }
                Ok(())
            }
            TestingEvent::SampleTaken(p) => {
                participant(
                    ctx,
                    registry,
                    &p.project_id,
                    &[ParticipantRole::Owner, ParticipantRole::Supervisor],
                    "57号令.witnessed_sampling",
                    "a witnessed sampling record",
                )?;
                if !self.commissions.contains_key(&key(&p.project_id, &p.commission_id)) {
                    return Err(err(
                        "testing.sample_needs_commission",
                        format!(
                            "no commission {} in project {}: commission the test first",
                            p.commission_id, p.project_id
                        ),
                    ));
                }
                if p.witness == p.sampler {
                    return Err(err(
                        "57号令.witness_not_sampler",
                        format!("witness and sampler are both {}", p.witness),
                    ));
                }
                if self.samples.contains_key(&key(&p.project_id, &p.sample_id)) {
                    return Err(err("testing.unique_id", format!("sample {} already recorded", p.sample_id)));
                }
                Ok(())
            }
            TestingEvent::SampleReceived(p) => {
                let Some(s) = self.samples.get(&key(&p.project_id, &p.sample_id)) else {
                    return Err(err(
                        "testing.receipt_needs_sample",
                        format!("no sample {} in project {}", p.sample_id, p.project_id),
                    ));
                };
                Self::lab_signer(ctx, &s.lab, "a sample receipt")?;
                if s.received.is_some() {
                    return Err(err("testing.receipt_once", format!("sample {} was already received", p.sample_id)));
                }
                if p.seal_id != s.seal_id {
                    return Err(err(
                        "57号令.seal_check",
                        format!("seal {} does not match the seal {} recorded at sampling", p.seal_id, s.seal_id),
                    ));
                }
                Ok(())
            }
            TestingEvent::ReportIssued(p) => {
                let Some(s) = self.samples.get(&key(&p.project_id, &p.sample_id)) else {
                    return Err(err(
                        "testing.report_needs_sample",
                        format!("no sample {} in project {}", p.sample_id, p.project_id),
                    ));
                };
                Self::lab_signer(ctx, &s.lab, "a test report")?;
                match s.received {
                    None => {
                        return Err(err(
                            "testing.report_needs_receipt",
                            format!("sample {} has not been received by the laboratory", p.sample_id),
                        ));
                    }
                    Some(false) => {
                        return Err(err(
                            "57号令.seal_check",
                            format!("sample {} arrived with a broken seal: take a new witnessed sample", p.sample_id),
                        ));
                    }
                    Some(true) => {}
                }
                if s.reported {
                    return Err(err(
                        "testing.one_report_per_sample",
                        format!("sample {} already has a report", p.sample_id),
                    ));
                }
                if p.tester == s.witness || p.tester == s.sampler {
                    return Err(err(
                        "57号令.witness_not_tester",
                        format!("tester {} was the witness or sampler of sample {}", p.tester, p.sample_id),
                    ));
                }
                let year = super::year_in_china(ctx.occurred_at);
                if year.is_some_and(|y| i64::from(p.report_year.get()) != i64::from(y)) {
                    return Err(err(
                        "57号令.report_numbered_by_year",
                        format!(
                            "report year {} is not the year of issue ({}): numbers run per laboratory and calendar year",
                            p.report_year.get(),
                            year.unwrap_or_default()
                        ),
                    ));
                }
                let used = self
                    .numbers
                    .get(&(s.lab.clone(), p.report_year.get()))
                    .is_some_and(|n| n.contains(&p.report_seq.get()));
                if used {
                    return Err(err(
                        "57号令.report_number_unique",
                        format!(
                            "report number {}-{} of laboratory {} is already used",
                            p.report_year.get(),
                            p.report_seq.get(),
                            s.lab
                        ),
                    ));
                }
                Ok(())
            }
            TestingEvent::Nonconformity(p) => {
                let lab = super::org_of(ctx, "testing_lab").ok_or_else(|| {
                    err(
                        "testing.lab_signer",
                        format!(
                            "a non-conformity report is signed by the laboratory's testing_lab key, not a {} key",
                            ctx.signer_role
                        ),
                    )
                })?;
                let Some(u) = self.unqualified.get(&(lab.clone(), p.report_year.get(), p.report_seq.get())) else {
                    return Err(err(
                        "testing.nonconformity_needs_unqualified_report",
                        format!(
                            "laboratory {lab} has no unqualified report {}-{}",
                            p.report_year.get(),
                            p.report_seq.get()
                        ),
                    ));
                };
                if u.project_id != p.project_id {
                    return Err(err(
                        "testing.nonconformity_needs_unqualified_report",
                        format!("report belongs to project {}", u.project_id),
                    ));
                }
                if u.reported_unix.is_some() {
                    return Err(err("testing.nonconformity_once", "this unqualified result was already reported"));
                }
                Ok(())
            }
        }
    }

    /// Folds an accepted record.
    pub fn evolve(&mut self, ctx: &RecordContext<'_>, event: &TestingEvent) {
        match event {
            TestingEvent::PolicySet(p) => self.deadline_hours = Some(p.nonconformity_deadline_hours.get()),
            TestingEvent::Commissioned(p) => {
                self.commissions.insert(key(&p.project_id, &p.commission_id), (p.lab.clone(), p.structural));
            }
            TestingEvent::SampleTaken(p) => {
                if let Some((lab, structural)) = self.commissions.get(&key(&p.project_id, &p.commission_id)) {
                    let s = Sample {
                        lab: lab.clone(),
                        seal_id: p.seal_id.clone(),
                        witness: p.witness.clone(),
                        sampler: p.sampler.clone(),
                        structural: *structural,
                        received: None,
                        reported: false,
                    };
                    self.samples.insert(key(&p.project_id, &p.sample_id), s);
                }
            }
            TestingEvent::SampleReceived(p) => {
                if let Some(s) = self.samples.get_mut(&key(&p.project_id, &p.sample_id)) {
                    s.received = Some(p.seal_intact);
                }
            }
            TestingEvent::ReportIssued(p) => {
                let hours = i64::from(self.deadline_hours());
                if let Some(s) = self.samples.get_mut(&key(&p.project_id, &p.sample_id)) {
                    s.reported = true;
                    let (year, seq) = (p.report_year.get(), p.report_seq.get());
                    self.numbers.entry((s.lab.clone(), year)).or_default().insert(seq);
                    if p.result == TestResult::Unqualified {
                        let issued = unix_of(ctx.occurred_at);
                        self.unqualified.insert(
                            (s.lab.clone(), year, seq),
                            Unqualified {
                                project_id: p.project_id.clone(),
                                structural: s.structural,
                                issued_unix: issued,
                                due_unix: issued + hours * 3600,
                                reported_unix: None,
                            },
                        );
                    }
                }
            }
            TestingEvent::Nonconformity(p) => {
                if let Some(lab) = super::org_of(ctx, "testing_lab")
                    && let Some(u) = self.unqualified.get_mut(&(lab, p.report_year.get(), p.report_seq.get()))
                {
                    u.reported_unix = Some(unix_of(ctx.occurred_at));
                }
            }
        }
    }
}
