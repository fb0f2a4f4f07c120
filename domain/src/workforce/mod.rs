//! 实名制 (real-name worker management) and 工资专用账户 (dedicated wage account): workers, teams, contracts,
//! certificates, entries and exits, gate passages, payroll, transfers, and the arrears rules.
//!
//! Kinds of this module start with `worker.` (application `realname`) and `wage.` (application `wage_account`);
//! they live in `project/<ProjectId>/workforce[/…]` and `project/<ProjectId>/wage[/…]` streams.
//!
//! Personal data never enters a payload in clear (payloads are public leaves of the log): a worker is a random
//! [`PersonRef`]; ID and card numbers appear only as a [`Commitment`] (HMAC under the person's vault key) and a
//! [`Masked`] form whose parser refuses plaintext numbers. The plaintext lives in the API's vault
//! (`docs/PERSONAL-DATA.md`).
//!
//! | submodule | what |
//! |---|---|
//! | [`types`] | value types (person ref, commitment, masked, month, 工种, 证件类型 …) |
//! | [`state`] | [`WorkforceState`]: `decide` (every admission rule, each naming its article) and `evolve` |
//! | [`arrears`] | pure arrears and anomaly rules over a project-month, each finding citing its event ids |
//! | [`vault`] | `vault.access.v1`: the platform's signed record of each access to the personal-data vault |
//!
//! A computed finding becomes a signed record with `wage.finding.recorded.v1` (a 住建 bureau publishes it, in
//! `project/<ProjectId>/wage/findings`): from then on it is an event itself, a task can reference it and the credit
//! rules count it.

pub mod arrears;
pub mod state;
pub mod types;
pub mod vault;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::date::LocalDate;
use crate::ids::{CreditCode, DeviceId, ProjectId};
use crate::payload::{PayloadError, to_map};
use crate::quantity::MoneyFen;
use crate::schema::{Issue, Member, each, each_object, is, opt, req, typed};
use crate::stream;
use crate::text::{Name, Text};

pub use arrears::FindingRule;
pub use state::WorkforceState;
pub use types::{
    Commitment, ContractId, ContractPeriod, Direction, FindingId, GuaranteeForm, IdType, Masked, PassMethod, PayrollId,
    PersonRef, TeamId, Trade, TransferId, ValueError, WorkRole, YearMonth,
};

/// `worker.team.formed.v1`.
pub const TEAM_FORMED: &str = "worker.team.formed.v1";
/// `worker.registered.v1`.
pub const WORKER_REGISTERED: &str = "worker.registered.v1";
/// `worker.card.registered.v1`.
pub const CARD_REGISTERED: &str = "worker.card.registered.v1";
/// `worker.contract.signed.v1`.
pub const CONTRACT_SIGNED: &str = "worker.contract.signed.v1";
/// `worker.training.completed.v1`.
pub const TRAINING_COMPLETED: &str = "worker.training.completed.v1";
/// `worker.certificate.recorded.v1`.
pub const CERTIFICATE_RECORDED: &str = "worker.certificate.recorded.v1";
/// `worker.entered.v1`.
pub const ENTERED: &str = "worker.entered.v1";
/// `worker.exited.v1`.
pub const EXITED: &str = "worker.exited.v1";
/// `worker.passage.v1`.
pub const PASSAGE: &str = "worker.passage.v1";
/// `worker.wage_clerk.appointed.v1`.
pub const WAGE_CLERK_APPOINTED: &str = "worker.wage_clerk.appointed.v1";
/// `wage.account.opened.v1`.
pub const ACCOUNT_OPENED: &str = "wage.account.opened.v1";
/// `wage.labour_cost.deposited.v1`.
pub const LABOUR_COST_DEPOSITED: &str = "wage.labour_cost.deposited.v1";
/// `wage.payroll.submitted.v1`.
pub const PAYROLL_SUBMITTED: &str = "wage.payroll.submitted.v1";
/// `wage.payroll.confirmed.v1`.
pub const PAYROLL_CONFIRMED: &str = "wage.payroll.confirmed.v1";
/// `wage.transfer.made.v1`.
pub const TRANSFER_MADE: &str = "wage.transfer.made.v1";
/// `wage.guarantee.deposited.v1`.
pub const GUARANTEE_DEPOSITED: &str = "wage.guarantee.deposited.v1";
/// `wage.finding.recorded.v1`.
pub const FINDING_RECORDED: &str = "wage.finding.recorded.v1";

/// The sub-stream of published findings: `project/<ProjectId>/wage/findings`.
pub const FINDINGS_STREAM_AREA: &str = "wage/findings";

/// Every kind of this module.
pub const KINDS: &[&str] = &[
    TEAM_FORMED,
    WORKER_REGISTERED,
    CARD_REGISTERED,
    CONTRACT_SIGNED,
    TRAINING_COMPLETED,
    CERTIFICATE_RECORDED,
    ENTERED,
    EXITED,
    PASSAGE,
    WAGE_CLERK_APPOINTED,
    ACCOUNT_OPENED,
    LABOUR_COST_DEPOSITED,
    PAYROLL_SUBMITTED,
    PAYROLL_CONFIRMED,
    TRANSFER_MADE,
    GUARANTEE_DEPOSITED,
    FINDING_RECORDED,
];

/// `worker.team.formed.v1`: a 班组 of an employer (总包 or 分包) on the project, with its 班组长.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamFormed {
    /// The project.
    pub project_id: ProjectId,
    /// The team's id (`teamSysNo`).
    pub team_id: TeamId,
    /// 班组名称.
    pub name: Name,
    /// The employing enterprise (a participant of the project).
    pub employer: CreditCode,
    /// 班组长, once registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader: Option<PersonRef>,
}

/// `worker.registered.v1`: 用工实名登记 of a worker on the project (`ProjectWorker.Add`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerRegistered {
    /// The project.
    pub project_id: ProjectId,
    /// The person (from the vault intake).
    pub person_ref: PersonRef,
    /// 证件类型.
    pub id_type: IdType,
    /// Commitment to the document number (vault).
    pub id_commitment: Commitment,
    /// Masked document number, e.g. `3302**********123X`.
    pub id_masked: Masked,
    /// 出生年月 (month only: enough for the working-age rule, less revealing than the date).
    pub birth_month: YearMonth,
    /// The employing enterprise.
    pub employer: CreditCode,
    /// 班组.
    pub team_id: TeamId,
    /// 工种.
    pub trade: Trade,
    /// 管理人员 or 建筑工人.
    pub work_role: WorkRole,
}

/// `worker.card.registered.v1`: the worker's own wage card (工资卡, in his name: 条例第三十一条).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardRegistered {
    /// The project.
    pub project_id: ProjectId,
    /// The person.
    pub person_ref: PersonRef,
    /// Commitment to the card number.
    pub card_commitment: Commitment,
    /// Masked card number `6222 **** **** 1234`.
    pub card_masked: Masked,
    /// 开户银行.
    pub bank_name: Name,
}

/// `worker.contract.signed.v1`: 劳动合同 (`WorkerContract.Add`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractSigned {
    /// The project.
    pub project_id: ProjectId,
    /// The person.
    pub person_ref: PersonRef,
    /// The contract.
    pub contract_id: ContractId,
    /// The employer.
    pub employer: CreditCode,
    /// `contractPeriodType`.
    pub period_type: ContractPeriod,
    /// 起始日期.
    pub start_date: LocalDate,
    /// 终止日期 (none for a task contract until the task ends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<LocalDate>,
}

/// `worker.training.completed.v1`: 安全教育培训 (`ProjectTraining.Add`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingCompleted {
    /// The project.
    pub project_id: ProjectId,
    /// The person.
    pub person_ref: PersonRef,
    /// 培训名称, e.g. `三级安全教育`.
    pub course: Text,
    /// Date.
    pub completed_on: LocalDate,
    /// 学时.
    pub hours: u32,
}

/// `worker.certificate.recorded.v1`: 特种作业操作资格证 (type, number, issuer, expiry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateRecorded {
    /// The project.
    pub project_id: ProjectId,
    /// The person.
    pub person_ref: PersonRef,
    /// The trade it qualifies for.
    pub trade: Trade,
    /// 证书类型, e.g. `建筑施工特种作业操作资格证`.
    pub cert_type: Text,
    /// 证书编号 (a public register number, not personal data).
    pub cert_number: Text,
    /// 发证机关.
    pub issuer: Name,
    /// 有效期至.
    pub valid_until: LocalDate,
}

/// `worker.entered.v1` / `worker.exited.v1`: 进场 / 退场 (`WorkerEntryExit`, type 1 / 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryExit {
    /// The project.
    pub project_id: ProjectId,
    /// The person.
    pub person_ref: PersonRef,
    /// Date.
    pub date: LocalDate,
}

/// `worker.passage.v1`: one pass through a site gate (考勤, `WorkerAttendance`), at the envelope's `occurred_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Passage {
    /// The project.
    pub project_id: ProjectId,
    /// The person.
    pub person_ref: PersonRef,
    /// The gate device.
    pub gate: DeviceId,
    /// In or out.
    pub direction: Direction,
    /// Face, card or fingerprint.
    pub method: PassMethod,
}

/// `worker.wage_clerk.appointed.v1`: the 总包 appoints the 劳资专管员 (条例第二十八条).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WageClerkAppointed {
    /// The project.
    pub project_id: ProjectId,
    /// The person (registered on the project).
    pub person_ref: PersonRef,
    /// The general contractor appointing.
    pub appointed_by: CreditCode,
}

/// `wage.account.opened.v1`: the 农民工工资专用账户 (条例第二十六条), opened by the general contractor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountOpened {
    /// The project.
    pub project_id: ProjectId,
    /// The general contractor.
    pub opened_by: CreditCode,
    /// 开户银行.
    pub bank_name: Name,
    /// The account (an enterprise account, masked all the same).
    pub account_masked: Masked,
    /// 发薪日: day of the month after the work month by which wages are due (1–31; 31 = end of month).
    pub pay_day: u8,
}

/// `wage.labour_cost.deposited.v1`: 人工费用 paid into the account by the 建设单位 (第二十四、二十九条).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabourCostDeposited {
    /// The project.
    pub project_id: ProjectId,
    /// The owner paying.
    pub payer: CreditCode,
    /// Amount.
    pub amount_fen: MoneyFen,
    /// Value date.
    pub deposited_on: LocalDate,
    /// The work month it funds.
    pub for_month: YearMonth,
}

/// One worker's line of a payroll (`Payroll.detailList[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayrollLine {
    /// The person.
    pub person_ref: PersonRef,
    /// 出勤天数.
    pub days: u32,
    /// 工时.
    pub hours: u32,
    /// 应发金额 (`totalPayAmount`).
    pub payable_fen: MoneyFen,
    /// 实发金额 (`actualAmount`).
    pub actual_fen: MoneyFen,
    /// Commitment to the payee card.
    pub card_commitment: Commitment,
    /// Masked payee card.
    pub card_masked: Masked,
    /// 补发 (back pay for an earlier month).
    pub back_pay: bool,
}

/// `wage.payroll.submitted.v1`: a team's monthly 工资支付表 (第三十一条).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayrollSubmitted {
    /// The project.
    pub project_id: ProjectId,
    /// The payroll.
    pub payroll_id: PayrollId,
    /// The team.
    pub team_id: TeamId,
    /// The employer (`corpCode`).
    pub employer: CreditCode,
    /// 工资所属月份 (`payMonth`).
    pub month: YearMonth,
    /// Lines.
    pub lines: Vec<PayrollLine>,
}

/// `wage.payroll.confirmed.v1`: 农民工本人签字确认 of his line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayrollConfirmed {
    /// The project.
    pub project_id: ProjectId,
    /// The payroll.
    pub payroll_id: PayrollId,
    /// The person confirming.
    pub person_ref: PersonRef,
}

/// `wage.transfer.made.v1`: 总包代发 from the dedicated account to the worker's own card (第三十一条), signed by
/// the bank's key or the general contractor's enterprise key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferMade {
    /// The project.
    pub project_id: ProjectId,
    /// 银行流水号.
    pub transfer_id: TransferId,
    /// The payroll paid.
    pub payroll_id: PayrollId,
    /// The payee.
    pub person_ref: PersonRef,
    /// Amount.
    pub amount_fen: MoneyFen,
    /// Commitment to the payee card.
    pub card_commitment: Commitment,
    /// Masked payee card.
    pub card_masked: Masked,
    /// Value date.
    pub paid_on: LocalDate,
    /// 补发.
    pub back_pay: bool,
}

/// `wage.guarantee.deposited.v1`: 工资保证金 (第三十二条).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuaranteeDeposited {
    /// The project.
    pub project_id: ProjectId,
    /// The depositing enterprise.
    pub by: CreditCode,
    /// Amount.
    pub amount_fen: MoneyFen,
    /// Cash or 银行保函.
    pub form: GuaranteeForm,
}

/// `wage.finding.recorded.v1`: a 住建 bureau (city, or the project's district) publishes an arrears or anomaly
/// finding of the read model as a signed record, once per finding id and project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingRecorded {
    /// The project.
    pub project_id: ProjectId,
    /// The finding's stable key ([`arrears::Finding::key`]: `<rule>:<YYYY-MM>[:<person_ref>]`).
    pub finding_id: FindingId,
    /// The arrears rule token (`arrears_suspected`, `underpayment` …).
    pub rule: FindingRule,
    /// The month concerned.
    pub month: YearMonth,
    /// What was found, in Chinese (masked forms and worker refs only, never a document or card number).
    pub summary: Text,
    /// The event ids the finding rests on (at least one).
    pub evidence: Vec<crate::supervision::RecordId>,
}

/// A typed event of this subsystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkforceEvent {
    /// `worker.team.formed.v1`.
    TeamFormed(TeamFormed),
    /// `worker.registered.v1`.
    WorkerRegistered(WorkerRegistered),
    /// `worker.card.registered.v1`.
    CardRegistered(CardRegistered),
    /// `worker.contract.signed.v1`.
    ContractSigned(ContractSigned),
    /// `worker.training.completed.v1`.
    TrainingCompleted(TrainingCompleted),
    /// `worker.certificate.recorded.v1`.
    CertificateRecorded(CertificateRecorded),
    /// `worker.entered.v1`.
    Entered(EntryExit),
    /// `worker.exited.v1`.
    Exited(EntryExit),
    /// `worker.passage.v1`.
    Passage(Passage),
    /// `worker.wage_clerk.appointed.v1`.
    WageClerkAppointed(WageClerkAppointed),
    /// `wage.account.opened.v1`.
    AccountOpened(AccountOpened),
    /// `wage.labour_cost.deposited.v1`.
    LabourCostDeposited(LabourCostDeposited),
    /// `wage.payroll.submitted.v1`.
    PayrollSubmitted(PayrollSubmitted),
    /// `wage.payroll.confirmed.v1`.
    PayrollConfirmed(PayrollConfirmed),
    /// `wage.transfer.made.v1`.
    TransferMade(TransferMade),
    /// `wage.guarantee.deposited.v1`.
    GuaranteeDeposited(GuaranteeDeposited),
    /// `wage.finding.recorded.v1`.
    FindingRecorded(FindingRecorded),
}

mod t {
    pub(super) use super::arrears::FindingRule;
    pub(super) use super::types::*;
    pub(super) use crate::date::LocalDate;
    pub(super) use crate::ids::{CreditCode, DeviceId, ProjectId};
    pub(super) use crate::quantity::MoneyFen;
    pub(super) use crate::supervision::RecordId;
    pub(super) use crate::text::{Name, Text};
}

fn pay_day(v: &Value) -> Result<(), Issue> {
    match v.as_u64() {
        Some(1..=31) => Ok(()),
        _ => Err(Issue::invalid("pay_day must be an integer 1-31 (day of the month after the work month)")),
    }
}

fn days(v: &Value) -> Result<(), Issue> {
    match v.as_u64() {
        Some(0..=31) => Ok(()),
        _ => Err(Issue::invalid("days must be an integer 0-31")),
    }
}

fn hours(v: &Value) -> Result<(), Issue> {
    match v.as_u64() {
        Some(0..=744) => Ok(()),
        _ => Err(Issue::invalid("hours must be an integer 0-744 (24 × 31)")),
    }
}

const TEAM: &[Member] = &[
    req("project_id", is::<t::ProjectId>),
    req("team_id", is::<t::TeamId>),
    req("name", is::<t::Name>),
    req("employer", is::<t::CreditCode>),
    opt("leader", is::<t::PersonRef>),
];
const REGISTERED: &[Member] = &[
    req("project_id", is::<t::ProjectId>),
    req("person_ref", is::<t::PersonRef>),
    req("id_type", is::<t::IdType>),
    req("id_commitment", is::<t::Commitment>),
    req("id_masked", is::<t::Masked>),
    req("birth_month", is::<t::YearMonth>),
    req("employer", is::<t::CreditCode>),
    req("team_id", is::<t::TeamId>),
    req("trade", is::<t::Trade>),
    req("work_role", is::<t::WorkRole>),
];
const CARD: &[Member] = &[
    req("project_id", is::<t::ProjectId>),
    req("person_ref", is::<t::PersonRef>),
    req("card_commitment", is::<t::Commitment>),
    req("card_masked", is::<t::Masked>),
    req("bank_name", is::<t::Name>),
];
const CONTRACT: &[Member] = &[
    req("project_id", is::<t::ProjectId>),
    req("person_ref", is::<t::PersonRef>),
    req("contract_id", is::<t::ContractId>),
    req("employer", is::<t::CreditCode>),
    req("period_type", is::<t::ContractPeriod>),
    req("start_date", is::<t::LocalDate>),
    opt("end_date", is::<t::LocalDate>),
];
const TRAINING: &[Member] = &[
    req("project_id", is::<t::ProjectId>),
    req("person_ref", is::<t::PersonRef>),
    req("course", is::<t::Text>),
    req("completed_on", is::<t::LocalDate>),
    req("hours", hours),
];
const CERTIFICATE: &[Member] = &[
    req("project_id", is::<t::ProjectId>),
    req("person_ref", is::<t::PersonRef>),
    req("trade", is::<t::Trade>),
    req("cert_type", is::<t::Text>),
    req("cert_number", is::<t::Text>),
    req("issuer", is::<t::Name>),
    req("valid_until", is::<t::LocalDate>),
];
const ENTRY_EXIT: &[Member] =
    &[req("project_id", is::<t::ProjectId>), req("person_ref", is::<t::PersonRef>), req("date", is::<t::LocalDate>)];
const PASSAGE_M: &[Member] = &[
    req("project_id", is::<t::ProjectId>),
    req("person_ref", is::<t::PersonRef>),
    req("gate", is::<t::DeviceId>),
    req("direction", is::<t::Direction>),
    req("method", is::<t::PassMethod>),
];
const CLERK: &[Member] = &[
    req("project_id", is::<t::ProjectId>),
    req("person_ref", is::<t::PersonRef>),
    req("appointed_by", is::<t::CreditCode>),
];
const ACCOUNT: &[Member] = &[
    req("project_id", is::<t::ProjectId>),
    req("opened_by", is::<t::CreditCode>),
    req("bank_name", is::<t::Name>),
    req("account_masked", is::<t::Masked>),
    req("pay_day", pay_day),
];
const DEPOSIT: &[Member] = &[
    req("project_id", is::<t::ProjectId>),
    req("payer", is::<t::CreditCode>),
    req("amount_fen", is::<t::MoneyFen>),
    req("deposited_on", is::<t::LocalDate>),
    req("for_month", is::<t::YearMonth>),
];
const LINE: &[Member] = &[
    req("person_ref", is::<t::PersonRef>),
    req("days", days),
    req("hours", hours),
    req("payable_fen", is::<t::MoneyFen>),
    req("actual_fen", is::<t::MoneyFen>),
    req("card_commitment", is::<t::Commitment>),
    req("card_masked", is::<t::Masked>),
    req("back_pay", is::<bool>),
];
fn lines(v: &Value) -> Result<(), Issue> {
    if v.as_array().is_some_and(Vec::is_empty) {
        return Err(Issue::invalid("a payroll needs at least one line"));
    }
    each_object(v, LINE)
}
const PAYROLL: &[Member] = &[
    req("project_id", is::<t::ProjectId>),
    req("payroll_id", is::<t::PayrollId>),
    req("team_id", is::<t::TeamId>),
    req("employer", is::<t::CreditCode>),
    req("month", is::<t::YearMonth>),
    req("lines", lines),
];
const CONFIRMED: &[Member] = &[
    req("project_id", is::<t::ProjectId>),
    req("payroll_id", is::<t::PayrollId>),
    req("person_ref", is::<t::PersonRef>),
];
const TRANSFER: &[Member] = &[
    req("project_id", is::<t::ProjectId>),
    req("transfer_id", is::<t::TransferId>),
    req("payroll_id", is::<t::PayrollId>),
    req("person_ref", is::<t::PersonRef>),
    req("amount_fen", is::<t::MoneyFen>),
    req("card_commitment", is::<t::Commitment>),
    req("card_masked", is::<t::Masked>),
    req("paid_on", is::<t::LocalDate>),
    req("back_pay", is::<bool>),
];
const GUARANTEE: &[Member] = &[
    req("project_id", is::<t::ProjectId>),
    req("by", is::<t::CreditCode>),
    req("amount_fen", is::<t::MoneyFen>),
    req("form", is::<t::GuaranteeForm>),
];

fn evidence(v: &Value) -> Result<(), Issue> {
    if v.as_array().is_some_and(Vec::is_empty) {
        return Err(Issue::invalid("a finding cites at least one event id"));
    }
    each::<t::RecordId>(v)
}

const FINDING: &[Member] = &[
    req("project_id", is::<t::ProjectId>),
    req("finding_id", is::<t::FindingId>),
    req("rule", is::<t::FindingRule>),
    req("month", is::<t::YearMonth>),
    req("summary", is::<t::Text>),
    req("evidence", evidence),
];

/// The schema members of a kind of this module (top level), for tests that keep schemas and types in step.
#[doc(hidden)]
pub fn schema_members(kind: &str) -> Option<Vec<(&'static str, bool)>> {
    let m = match kind {
        TEAM_FORMED => TEAM,
        WORKER_REGISTERED => REGISTERED,
        CARD_REGISTERED => CARD,
        CONTRACT_SIGNED => CONTRACT,
        TRAINING_COMPLETED => TRAINING,
        CERTIFICATE_RECORDED => CERTIFICATE,
        ENTERED | EXITED => ENTRY_EXIT,
        PASSAGE => PASSAGE_M,
        WAGE_CLERK_APPOINTED => CLERK,
        ACCOUNT_OPENED => ACCOUNT,
        LABOUR_COST_DEPOSITED => DEPOSIT,
        PAYROLL_SUBMITTED => PAYROLL,
        PAYROLL_CONFIRMED => CONFIRMED,
        TRANSFER_MADE => TRANSFER,
        GUARANTEE_DEPOSITED => GUARANTEE,
        FINDING_RECORDED => FINDING,
        _ => return None,
    };
    Some(m.iter().map(|m| (m.name, m.required)).collect())
}

impl WorkforceEvent {
    /// Type-checks `payload` as `kind`; `None` if the kind is not this module's.
    pub fn parse(kind: &str, payload: &Map<String, Value>) -> Option<Result<Self, PayloadError>> {
        Some(match kind {
            TEAM_FORMED => typed(TEAM_FORMED, payload, TEAM).map(Self::TeamFormed),
            WORKER_REGISTERED => typed(WORKER_REGISTERED, payload, REGISTERED).map(Self::WorkerRegistered),
            CARD_REGISTERED => typed(CARD_REGISTERED, payload, CARD).map(Self::CardRegistered),
            CONTRACT_SIGNED => typed(CONTRACT_SIGNED, payload, CONTRACT).map(Self::ContractSigned),
            TRAINING_COMPLETED => typed(TRAINING_COMPLETED, payload, TRAINING).map(Self::TrainingCompleted),
            CERTIFICATE_RECORDED => typed(CERTIFICATE_RECORDED, payload, CERTIFICATE).map(Self::CertificateRecorded),
            ENTERED => typed(ENTERED, payload, ENTRY_EXIT).map(Self::Entered),
            EXITED => typed(EXITED, payload, ENTRY_EXIT).map(Self::Exited),
            PASSAGE => typed(PASSAGE, payload, PASSAGE_M).map(Self::Passage),
            WAGE_CLERK_APPOINTED => typed(WAGE_CLERK_APPOINTED, payload, CLERK).map(Self::WageClerkAppointed),
            ACCOUNT_OPENED => typed(ACCOUNT_OPENED, payload, ACCOUNT).map(Self::AccountOpened),
            LABOUR_COST_DEPOSITED => typed(LABOUR_COST_DEPOSITED, payload, DEPOSIT).map(Self::LabourCostDeposited),
            PAYROLL_SUBMITTED => typed(PAYROLL_SUBMITTED, payload, PAYROLL).map(Self::PayrollSubmitted),
            PAYROLL_CONFIRMED => typed(PAYROLL_CONFIRMED, payload, CONFIRMED).map(Self::PayrollConfirmed),
            TRANSFER_MADE => typed(TRANSFER_MADE, payload, TRANSFER).map(Self::TransferMade),
            GUARANTEE_DEPOSITED => typed(GUARANTEE_DEPOSITED, payload, GUARANTEE).map(Self::GuaranteeDeposited),
            FINDING_RECORDED => typed(FINDING_RECORDED, payload, FINDING).map(Self::FindingRecorded),
            _ => return None,
        })
    }

    /// The versioned kind name.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::TeamFormed(_) => TEAM_FORMED,
            Self::WorkerRegistered(_) => WORKER_REGISTERED,
            Self::CardRegistered(_) => CARD_REGISTERED,
            Self::ContractSigned(_) => CONTRACT_SIGNED,
            Self::TrainingCompleted(_) => TRAINING_COMPLETED,
            Self::CertificateRecorded(_) => CERTIFICATE_RECORDED,
            Self::Entered(_) => ENTERED,
            Self::Exited(_) => EXITED,
            Self::Passage(_) => PASSAGE,
            Self::WageClerkAppointed(_) => WAGE_CLERK_APPOINTED,
            Self::AccountOpened(_) => ACCOUNT_OPENED,
            Self::LabourCostDeposited(_) => LABOUR_COST_DEPOSITED,
            Self::PayrollSubmitted(_) => PAYROLL_SUBMITTED,
            Self::PayrollConfirmed(_) => PAYROLL_CONFIRMED,
            Self::TransferMade(_) => TRANSFER_MADE,
            Self::GuaranteeDeposited(_) => GUARANTEE_DEPOSITED,
            Self::FindingRecorded(_) => FINDING_RECORDED,
        }
    }

    /// The envelope payload.
    pub fn to_payload(&self) -> Map<String, Value> {
        match self {
            Self::TeamFormed(p) => to_map(p),
            Self::WorkerRegistered(p) => to_map(p),
            Self::CardRegistered(p) => to_map(p),
            Self::ContractSigned(p) => to_map(p),
            Self::TrainingCompleted(p) => to_map(p),
            Self::CertificateRecorded(p) => to_map(p),
            Self::Entered(p) | Self::Exited(p) => to_map(p),
            Self::Passage(p) => to_map(p),
            Self::WageClerkAppointed(p) => to_map(p),
            Self::AccountOpened(p) => to_map(p),
            Self::LabourCostDeposited(p) => to_map(p),
            Self::PayrollSubmitted(p) => to_map(p),
            Self::PayrollConfirmed(p) => to_map(p),
            Self::TransferMade(p) => to_map(p),
            Self::GuaranteeDeposited(p) => to_map(p),
            Self::FindingRecorded(p) => to_map(p),
        }
    }

    /// The project concerned, if any.
    pub fn project_id(&self) -> Option<&ProjectId> {
        Some(match self {
            Self::TeamFormed(p) => &p.project_id,
            Self::WorkerRegistered(p) => &p.project_id,
            Self::CardRegistered(p) => &p.project_id,
            Self::ContractSigned(p) => &p.project_id,
            Self::TrainingCompleted(p) => &p.project_id,
            Self::CertificateRecorded(p) => &p.project_id,
            Self::Entered(p) | Self::Exited(p) => &p.project_id,
            Self::Passage(p) => &p.project_id,
            Self::WageClerkAppointed(p) => &p.project_id,
            Self::AccountOpened(p) => &p.project_id,
            Self::LabourCostDeposited(p) => &p.project_id,
            Self::PayrollSubmitted(p) => &p.project_id,
            Self::PayrollConfirmed(p) => &p.project_id,
            Self::TransferMade(p) => &p.project_id,
            Self::GuaranteeDeposited(p) => &p.project_id,
            Self::FindingRecorded(p) => &p.project_id,
        })
    }

    /// The stream area of the kind: `workforce` for `worker.*`, `wage/findings` for published findings, `wage`
    /// for the other `wage.*`.
    pub fn area(&self) -> &'static str {
        if matches!(self, Self::FindingRecorded(_)) {
            FINDINGS_STREAM_AREA
        } else if self.kind().starts_with("wage.") {
            "wage"
        } else {
            "workforce"
        }
    }

    /// The conventional stream: `project/<ProjectId>/workforce` or `project/<ProjectId>/wage`.
    pub fn stream(&self) -> String {
        self.project_id().map_or_else(String::new, |p| stream::project_stream(p, self.area()))
    }

    /// Whether `stream` fits the event: `project/<project_id>/workforce[/…]` for `worker.*`,
    /// `project/<project_id>/wage[/…]` for `wage.*`, exactly `project/<project_id>/wage/findings` for a published
    /// finding; `Err` describes the expected stream.
    pub fn check_stream(&self, stream: &str) -> Result<(), String> {
        let base = self.stream();
        if matches!(self, Self::FindingRecorded(_)) {
            return if stream == base { Ok(()) } else { Err(base) };
        }
        let ok = stream == base || stream.strip_prefix(base.as_str()).is_some_and(|rest| rest.starts_with('/'));
        if ok { Ok(()) } else { Err(format!("{base}[/…]")) }
    }
}
