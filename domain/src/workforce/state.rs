//! The admission rules of 实名制 and 工资专用账户 ([`WorkforceState::decide`]) and their fold
//! ([`WorkforceState::evolve`]).
//!
//! Every refusal names its rule: the regulation's article where there is one (`条例第二十八条` is 《保障农民工工资
//! 支付条例》 Art. 28; `劳动法第十五条`), a stable `workforce.*` name otherwise. The state is per project behind an
//! `Arc`, so cloning it per commit group copies pointers, and an update copies one project only.
//!
//! What is *not* a refusal: passages of a 特种作业 worker without a valid certificate are accepted and become a
//! finding of the read model (`特种作业无证上岗`). The gate record is a fact (the person passed the gate);
//! refusing it would erase the evidence of the violation from the ledger instead of recording it. Refusing is
//! the gate hardware's job; the ledger's is to keep the proof. The same holds for underpayment and the other
//! arrears findings ([`super::arrears`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::date::LocalDate;
use crate::ids::{CreditCode, ProjectId};
use crate::registry::{ParticipantRole, Project, RegistryState};
use crate::rules::{RecordContext, RuleError};

use super::types::{FindingId, PayrollId, PersonRef, TeamId, YearMonth};
use super::{KINDS, WorkforceEvent};

/// The legal minimum working age (劳动法第十五条: 禁止用人单位招用未满十六周岁的未成年人).
pub const MIN_WORKING_AGE_YEARS: i32 = 16;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Worker {
    contract: Option<(LocalDate, Option<LocalDate>)>,
    on_site: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectState {
    #[serde(with = "crate::snapshot::sorted_set")]
    teams: HashSet<TeamId>,
    #[serde(with = "crate::snapshot::sorted_map")]
    workers: HashMap<PersonRef, Worker>,
    account_open: bool,
    #[serde(with = "payrolls")]
    payrolls: HashMap<PayrollId, HashSet<PersonRef>>,
    /// Published finding ids (`wage.finding.recorded.v1`).
    #[serde(with = "crate::snapshot::sorted_set")]
    findings: HashSet<FindingId>,
}

/// What the admission rules of this subsystem remember: per project, its teams, registered workers (contract
/// period, on site or not), whether the dedicated account is open, and each payroll's people.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkforceState {
    #[serde(with = "projects")]
    projects: BTreeMap<ProjectId, Arc<ProjectState>>,
}

/// Snapshot form of the payrolls: `[payroll, [people…]]` pairs, both sorted (see [`crate::snapshot`]).
mod payrolls {
    use std::collections::{HashMap, HashSet};

    use serde::{Deserialize, Deserializer, Serializer};

    use super::{PayrollId, PersonRef};

    pub(super) fn serialize<S: Serializer>(
        map: &HashMap<PayrollId, HashSet<PersonRef>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut items: Vec<(&PayrollId, Vec<&PersonRef>)> = map
            .iter()
            .map(|(k, people)| {
                let mut people: Vec<&PersonRef> = people.iter().collect();
                people.sort_unstable();
                (k, people)
            })
            .collect();
        items.sort_unstable_by(|a, b| a.0.cmp(b.0));
        s.collect_seq(items)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<HashMap<PayrollId, HashSet<PersonRef>>, D::Error> {
        let items = Vec::<(PayrollId, Vec<PersonRef>)>::deserialize(d)?;
        Ok(items.into_iter().map(|(k, people)| (k, people.into_iter().collect())).collect())
    }
}

/// Snapshot form of the per-project states: `[project, state]` pairs in project order (the `Arc` is only there so
/// that cloning the state per commit group copies pointers).
mod projects {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serializer};

    use super::{ProjectId, ProjectState};

    pub(super) fn serialize<S: Serializer>(
        map: &BTreeMap<ProjectId, Arc<ProjectState>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(map.iter().map(|(k, v)| (k, v.as_ref())))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<ProjectId, Arc<ProjectState>>, D::Error> {
        let items = Vec::<(ProjectId, ProjectState)>::deserialize(d)?;
        Ok(items.into_iter().map(|(k, v)| (k, Arc::new(v))).collect())
    }
}

fn rule(name: &str, message: impl Into<String>) -> RuleError {
    RuleError::new(name, message)
}

fn date_of(ctx: &RecordContext<'_>) -> Result<LocalDate, RuleError> {
    ctx.occurred_at
        .get(0..10)
        .and_then(|d| LocalDate::parse(d).ok())
        .ok_or_else(|| rule("workforce.occurred_at", "occurred_at must start with a YYYY-MM-DD date"))
}

/// The enterprise that signed, if the signer is an `enterprise` key.
fn signer_enterprise(ctx: &RecordContext<'_>) -> Option<CreditCode> {
    if ctx.signer_role != "enterprise" {
        return None;
    }
    let s = ctx.signer_subject.strip_prefix("enterprise/").unwrap_or(ctx.signer_subject);
    CreditCode::parse(s).ok()
}

fn require_participant_signer(ctx: &RecordContext<'_>, project: &Project) -> Result<CreditCode, RuleError> {
    match signer_enterprise(ctx) {
        Some(cc) if project.has_participant(&cc) => Ok(cc),
        Some(_) => Err(rule(
            "workforce.signer",
            format!(
                "the signing enterprise does not take part in project {}: sign with a participant's key",
                project.project_id
            ),
        )),
        None => Err(rule(
            "workforce.signer",
            format!(
                "records of this kind are signed by an enterprise key of a participant, not by a {} key",
                ctx.signer_role
            ),
        )),
    }
}

fn is_gc(project: &Project, cc: &CreditCode) -> bool {
    project.participants_in(ParticipantRole::GeneralContractor).any(|c| c == cc)
}

fn contract_covers(w: &Worker, day: LocalDate) -> bool {
    w.contract.is_some_and(|(start, end)| start <= day && end.is_none_or(|e| day <= e))
}

impl WorkforceState {
    /// Whether records of `kind` change this state.
    pub fn wants(kind: &str) -> bool {
        KINDS.contains(&kind)
    }

    fn project(&self, id: &ProjectId) -> Option<&ProjectState> {
        self.projects.get(id).map(Arc::as_ref)
    }

    /// Whether `person` is registered on `project`.
    pub fn is_registered(&self, project: &ProjectId, person: &PersonRef) -> bool {
        self.project(project).is_some_and(|p| p.workers.contains_key(person))
    }

    /// Whether `person` is on site (entered and not exited) on `project`.
    pub fn is_on_site(&self, project: &ProjectId, person: &PersonRef) -> bool {
        self.project(project).and_then(|p| p.workers.get(person)).is_some_and(|w| w.on_site)
    }

    /// May this record be accepted now? Every rule of the subsystem.
    pub fn decide(
        &self,
        ctx: &RecordContext<'_>,
        registry: &RegistryState,
        event: &WorkforceEvent,
    ) -> Result<(), RuleError> {
        use WorkforceEvent as E;
        let Some(pid) = event.project_id() else { return Ok(()) };
        let project = registry.project(pid).ok_or_else(|| {
            rule("workforce.project_registered", format!("project {pid} is not registered: register it first"))
        })?;
        let empty = ProjectState::default();
        let st = self.project(pid).unwrap_or(&empty);
        let registered = |person: &PersonRef| -> Result<&Worker, RuleError> {
            st.workers.get(person).ok_or_else(|| {
                rule(
                    "条例第二十八条",
                    format!(
                        "{person} is not registered (用工实名登记) on project {pid}: send worker.registered.v1 first"
                    ),
                )
            })
        };
        let participant = |cc: &CreditCode, what: &str| -> Result<(), RuleError> {
            if project.has_participant(cc) {
                Ok(())
            } else {
                Err(rule("workforce.participant", format!("{what} {cc} does not take part in project {pid}")))
            }
        };
        match event {
            E::TeamFormed(e) => {
                require_participant_signer(ctx, project)?;
                participant(&e.employer, "employer")?;
                if st.teams.contains(&e.team_id) {
                    return Err(rule("workforce.team_unique", format!("team {} already exists on {pid}", e.team_id)));
                }
                if let Some(l) = &e.leader {
                    registered(l)?;
                }
            }
            E::WorkerRegistered(e) => {
                require_participant_signer(ctx, project)?;
                participant(&e.employer, "employer")?;
                if !st.teams.contains(&e.team_id) {
                    return Err(rule(
                        "workforce.team_known",
                        format!("team {} is not formed on {pid}: send worker.team.formed.v1 first", e.team_id),
                    ));
                }
                if st.workers.contains_key(&e.person_ref) {
                    return Err(rule(
                        "workforce.registered_once",
                        format!("{} is already registered on {pid}", e.person_ref),
                    ));
                }
                let now = YearMonth::of(date_of(ctx)?);
                // Month precision: reject when certainly under 16 (fewer than 192 months); the vault intake,
                // which sees the full birth date, checks the exact day before it issues a person_ref.
                if e.birth_month.months_until(now) < MIN_WORKING_AGE_YEARS * 12 {
                    return Err(rule(
                        "劳动法第十五条",
                        format!(
                            "a worker born {} is under the legal working age of 16 on {now}: not registered",
                            e.birth_month
                        ),
                    ));
                }
            }
            E::CardRegistered(e) => {
                require_participant_signer(ctx, project)?;
                registered(&e.person_ref)?;
            }
            E::ContractSigned(e) => {
                require_participant_signer(ctx, project)?;
                participant(&e.employer, "employer")?;
                registered(&e.person_ref)?;
                if e.end_date.is_some_and(|end| end < e.start_date) {
                    return Err(rule("workforce.contract_dates", "end_date is before start_date"));
                }
            }
            E::TrainingCompleted(e) => {
                require_participant_signer(ctx, project)?;
                registered(&e.person_ref)?;
            }
            E::CertificateRecorded(e) => {
                require_participant_signer(ctx, project)?;
                registered(&e.person_ref)?;
            }
            E::Entered(e) => {
                require_participant_signer(ctx, project)?;
                let w = registered(&e.person_ref)?;
                if !contract_covers(w, e.date) {
                    return Err(rule(
                        "条例第二十八条",
                        format!(
                            "{} has no labour contract covering {}: 未订立劳动合同的人员不得进入项目现场",
                            e.person_ref, e.date
                        ),
                    ));
                }
                if w.on_site {
                    return Err(rule("workforce.entry_once", format!("{} has already entered {pid}", e.person_ref)));
                }
            }
            E::Exited(e) => {
                require_participant_signer(ctx, project)?;
                let w = registered(&e.person_ref)?;
                if !w.on_site {
                    return Err(rule("workforce.exit_after_entry", format!("{} has not entered {pid}", e.person_ref)));
                }
            }
            E::Passage(e) => {
                let gate_ok = matches!(ctx.signer_role, "gateway" | "device")
                    && ctx.signer_subject.strip_prefix("project/").and_then(|r| r.split('/').next())
                        == Some(pid.as_str());
                if !gate_ok {
                    require_participant_signer(ctx, project)?;
                }
                let w = registered(&e.person_ref)?;
                let day = date_of(ctx)?;
                if !contract_covers(w, day) {
                    return Err(rule(
                        "条例第二十八条",
                        format!(
                            "{} has no labour contract covering {day}: no attendance without a contract",
                            e.person_ref
                        ),
                    ));
                }
                if !w.on_site {
                    return Err(rule(
                        "条例第二十八条",
                        format!(
                            "{} has not entered the site (进场, worker.entered.v1): no attendance before entry",
                            e.person_ref
                        ),
                    ));
                }
            }
            E::WageClerkAppointed(e) => {
                require_participant_signer(ctx, project)?;
                registered(&e.person_ref)?;
                if !is_gc(project, &e.appointed_by) {
                    return Err(rule(
                        "条例第二十八条",
                        "the 劳资专管员 is appointed by the general contractor (施工总承包单位)",
                    ));
                }
            }
            E::AccountOpened(e) => {
                let signer = require_participant_signer(ctx, project)?;
                if !is_gc(project, &e.opened_by) || signer != e.opened_by {
                    return Err(rule(
                        "条例第二十六条",
                        "the dedicated wage account is opened by the project's general contractor, signed with its key",
                    ));
                }
                if st.account_open {
                    return Err(rule(
                        "条例第二十六条",
                        format!("project {pid} already has its dedicated wage account"),
                    ));
                }
            }
            E::LabourCostDeposited(e) => {
                if ctx.signer_role != "bank" {
                    require_participant_signer(ctx, project)?;
                }
                if project.owner() != Some(&e.payer) {
                    return Err(rule("条例第二十九条", "人工费用 is deposited by the project's 建设单位 (owner)"));
                }
                if !st.account_open {
                    return Err(rule(
                        "条例第二十九条",
                        "no dedicated wage account yet: send wage.account.opened.v1 first",
                    ));
                }
            }
            E::PayrollSubmitted(e) => {
                require_participant_signer(ctx, project)?;
                participant(&e.employer, "employer")?;
                if !st.teams.contains(&e.team_id) {
                    return Err(rule("workforce.team_known", format!("team {} is not formed on {pid}", e.team_id)));
                }
                if st.payrolls.contains_key(&e.payroll_id) {
                    return Err(rule(
                        "workforce.payroll_unique",
                        format!("payroll {} already submitted", e.payroll_id),
                    ));
                }
                let mut seen = HashSet::new();
                for (i, line) in e.lines.iter().enumerate() {
                    registered(&line.person_ref)
                        .map_err(|err| rule(&err.rule, format!("lines[{i}]: {}", err.message)))?;
                    if !seen.insert(&line.person_ref) {
                        return Err(rule(
                            "workforce.payroll_lines",
                            format!("lines[{i}]: {} appears twice", line.person_ref),
                        ));
                    }
                }
            }
            E::PayrollConfirmed(e) => {
                require_participant_signer(ctx, project)?;
                let people = st.payrolls.get(&e.payroll_id).ok_or_else(|| {
                    rule("workforce.payroll_known", format!("payroll {} is not submitted on {pid}", e.payroll_id))
                })?;
                if !people.contains(&e.person_ref) {
                    return Err(rule(
                        "条例第三十一条",
                        format!("{} has no line in payroll {}", e.person_ref, e.payroll_id),
                    ));
                }
            }
            E::TransferMade(e) => {
                if ctx.signer_role != "bank" {
                    let cc = require_participant_signer(ctx, project)?;
                    if !is_gc(project, &cc) {
                        return Err(rule(
                            "条例第三十一条",
                            "wage transfers are signed by the bank or the general contractor (总包代发), not a subcontractor",
                        ));
                    }
                }
                if !st.account_open {
                    return Err(rule(
                        "条例第三十一条",
                        "wages are paid from the dedicated wage account, and it is not opened",
                    ));
                }
                let people = st.payrolls.get(&e.payroll_id).ok_or_else(|| {
                    rule("workforce.payroll_known", format!("payroll {} is not submitted on {pid}", e.payroll_id))
                })?;
                if !people.contains(&e.person_ref) {
                    return Err(rule(
                        "条例第三十一条",
                        format!("{} has no line in payroll {}", e.person_ref, e.payroll_id),
                    ));
                }
            }
            E::GuaranteeDeposited(e) => {
                if ctx.signer_role != "bank" {
                    require_participant_signer(ctx, project)?;
                }
                participant(&e.by, "depositor")?;
            }
            E::FindingRecorded(e) => {
                crate::supervision::project_bureau(
                    ctx,
                    registry,
                    pid,
                    "workforce.finding_signer",
                    "a wage finding (wage.finding.recorded.v1)",
                )?;
                if st.findings.contains(&e.finding_id) {
                    return Err(rule(
                        "workforce.finding_once",
                        format!(
                            "finding {} ({} {}) is already recorded on project {pid}: a finding is published once",
                            e.finding_id,
                            e.rule.as_str(),
                            e.rule.name_zh()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Folds an accepted record; no rules.
    pub fn evolve(&mut self, _ctx: &RecordContext<'_>, event: &WorkforceEvent) {
        use WorkforceEvent as E;
        let Some(pid) = event.project_id() else { return };
        // Most records (passages above all) change nothing here: return before `make_mut`, which would copy a
        // project state shared with an older snapshot.
        if !matches!(
            event,
            E::TeamFormed(_)
                | E::WorkerRegistered(_)
                | E::ContractSigned(_)
                | E::Entered(_)
                | E::Exited(_)
                | E::AccountOpened(_)
                | E::PayrollSubmitted(_)
                | E::FindingRecorded(_)
        ) {
            return;
        }
        let st = Arc::make_mut(self.projects.entry(pid.clone()).or_default());
        match event {
            E::TeamFormed(e) => {
                st.teams.insert(e.team_id.clone());
            }
            E::WorkerRegistered(e) => {
                st.workers.entry(e.person_ref.clone()).or_default();
            }
            E::ContractSigned(e) => {
                if let Some(w) = st.workers.get_mut(&e.person_ref) {
                    w.contract = Some((e.start_date, e.end_date));
                }
            }
            E::Entered(e) => {
                if let Some(w) = st.workers.get_mut(&e.person_ref) {
                    w.on_site = true;
                }
            }
            E::Exited(e) => {
                if let Some(w) = st.workers.get_mut(&e.person_ref) {
                    w.on_site = false;
                }
            }
            E::AccountOpened(_) => st.account_open = true,
            E::FindingRecorded(e) => {
                st.findings.insert(e.finding_id.clone());
            }
            E::PayrollSubmitted(e) => {
                st.payrolls.insert(e.payroll_id.clone(), e.lines.iter().map(|l| l.person_ref.clone()).collect());
            }
            E::CardRegistered(_)
            | E::TrainingCompleted(_)
            | E::CertificateRecorded(_)
            | E::Passage(_)
            | E::WageClerkAppointed(_)
            | E::LabourCostDeposited(_)
            | E::PayrollConfirmed(_)
            | E::TransferMade(_)
            | E::GuaranteeDeposited(_) => {}
        }
    }
}
