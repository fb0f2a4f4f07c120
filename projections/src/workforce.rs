//! Read models of 实名制 and 工资专用账户: roster and who is on site, daily attendance, payroll lines, transfers,
//! cards, certificates, accounts and deposits; and the arrears view, which runs the domain's pure rules
//! ([`siteledger_domain::workforce::arrears`]) over those tables.
//!
//! The fold parses each `worker.*`/`wage.*` payload with the domain's types (an accepted record always parses) and
//! aggregates gate passages per (project, person, day) inside the batch before writing, so a batch of passages
//! costs one upsert per worker-day, not one per passage. Findings are not stored: they depend on "as of" (a
//! date taken from the log — the latest `occurred_at` day folded of that project's workforce records, so no other
//! project's traffic moves a project's findings — or given by the caller), and computing them from the tables at
//! query time keeps the fold deterministic and idempotent. Only masked forms and commitments are
//! stored: this database never holds a plaintext ID or card number.
//!
//! Published findings (`wage.finding.recorded.v1`) are folded into `wf_findings_published` (finding id → the
//! signed record's event id): the arrears view marks each computed finding with its publication, if any; the
//! computation itself does not look at them.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use siteledger_domain::workforce::arrears::{
    self, AttendanceDay, DepositFact, Finding, LineFact, Options, ProjectFacts, TransferFact, WorkerFacts,
};
use siteledger_domain::workforce::{Commitment, PayrollId, PersonRef, Trade, WorkforceEvent, YearMonth};
use siteledger_domain::{LocalDate, MoneyFen};

use crate::Scope;
use crate::db::{ReadDb, Sql, Tx};
use crate::error::ProjectionError;
use crate::fold::Prepared;
use crate::queries::project_visible;

/// Name in `projection_checkpoints`.
pub(crate) const NAME: &str = "workforce";
/// Code version: bump it when the fold or the tables change; the tables are re-created and refolded.
pub(crate) const VERSION: i64 = 5;
/// Tables this projection owns.
pub(crate) const TABLES: &[&str] = &[
    "wf_findings_published",
    "wf_teams",
    "wf_workers",
    "wf_cards",
    "wf_certificates",
    "wf_attendance",
    "wf_payroll_lines",
    "wf_transfers",
    "wf_accounts",
    "wf_deposits",
    "wf_guarantees",
    "wf_meta",
];
/// Their `CREATE TABLE IF NOT EXISTS` / `CREATE INDEX IF NOT EXISTS` statements (SQLite and PostgreSQL).
pub(crate) const DDL: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS wf_teams (project_id TEXT NOT NULL, team_id TEXT NOT NULL, name TEXT NOT NULL, \
     employer TEXT NOT NULL, leader TEXT, event_id TEXT NOT NULL, PRIMARY KEY (project_id, team_id))",
    "CREATE TABLE IF NOT EXISTS wf_workers (project_id TEXT NOT NULL, person_ref TEXT NOT NULL, id_type TEXT NOT NULL, \
     id_masked TEXT NOT NULL, birth_month TEXT NOT NULL, employer TEXT NOT NULL, team_id TEXT NOT NULL, \
     trade TEXT NOT NULL, work_role TEXT NOT NULL, registered_on TEXT NOT NULL, event_id TEXT NOT NULL, \
     contract_id TEXT, contract_start TEXT, contract_end TEXT, trained BIGINT NOT NULL DEFAULT 0, \
     on_site BIGINT NOT NULL DEFAULT 0, entered_on TEXT, exited_on TEXT, last_direction TEXT, last_gate TEXT, \
     last_passage_us BIGINT, wage_clerk BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (project_id, person_ref))",
    "CREATE TABLE IF NOT EXISTS wf_cards (project_id TEXT NOT NULL, person_ref TEXT NOT NULL, card_commitment TEXT NOT NULL, \
     card_masked TEXT NOT NULL, bank_name TEXT NOT NULL, event_id TEXT NOT NULL, \
     PRIMARY KEY (project_id, person_ref, card_commitment))",
    "CREATE TABLE IF NOT EXISTS wf_certificates (event_id TEXT PRIMARY KEY, project_id TEXT NOT NULL, person_ref TEXT NOT NULL, \
     trade TEXT NOT NULL, cert_type TEXT NOT NULL, cert_number TEXT NOT NULL, issuer TEXT NOT NULL, valid_until TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS wf_certificates_person ON wf_certificates (project_id, person_ref)",
    "CREATE TABLE IF NOT EXISTS wf_attendance (project_id TEXT NOT NULL, person_ref TEXT NOT NULL, day TEXT NOT NULL, \
     first_event_id TEXT NOT NULL, first_us BIGINT NOT NULL, last_us BIGINT NOT NULL, passages BIGINT NOT NULL, \
     PRIMARY KEY (project_id, person_ref, day))",
    "CREATE INDEX IF NOT EXISTS wf_attendance_day ON wf_attendance (project_id, day)",
    "CREATE TABLE IF NOT EXISTS wf_payroll_lines (project_id TEXT NOT NULL, payroll_id TEXT NOT NULL, person_ref TEXT NOT NULL, \
     month TEXT NOT NULL, team_id TEXT NOT NULL, employer TEXT NOT NULL, days BIGINT NOT NULL, hours BIGINT NOT NULL, \
     payable_fen BIGINT NOT NULL, actual_fen BIGINT NOT NULL, card_commitment TEXT NOT NULL, card_masked TEXT NOT NULL, \
     back_pay BIGINT NOT NULL, event_id TEXT NOT NULL, confirmed BIGINT NOT NULL DEFAULT 0, \
     PRIMARY KEY (project_id, payroll_id, person_ref))",
    "CREATE INDEX IF NOT EXISTS wf_payroll_lines_month ON wf_payroll_lines (project_id, month)",
    "CREATE TABLE IF NOT EXISTS wf_transfers (event_id TEXT PRIMARY KEY, project_id TEXT NOT NULL, transfer_id TEXT NOT NULL, \
     payroll_id TEXT NOT NULL, person_ref TEXT NOT NULL, amount_fen BIGINT NOT NULL, card_commitment TEXT NOT NULL, \
     card_masked TEXT NOT NULL, paid_on TEXT NOT NULL, back_pay BIGINT NOT NULL, signer TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS wf_transfers_project ON wf_transfers (project_id, payroll_id)",
    "CREATE TABLE IF NOT EXISTS wf_accounts (project_id TEXT PRIMARY KEY, opened_by TEXT NOT NULL, bank_name TEXT NOT NULL, \
     account_masked TEXT NOT NULL, pay_day BIGINT NOT NULL, opened_on TEXT NOT NULL, event_id TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS wf_deposits (event_id TEXT PRIMARY KEY, project_id TEXT NOT NULL, payer TEXT NOT NULL, \
     amount_fen BIGINT NOT NULL, deposited_on TEXT NOT NULL, for_month TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS wf_guarantees (event_id TEXT PRIMARY KEY, project_id TEXT NOT NULL, by_enterprise TEXT NOT NULL, \
     amount_fen BIGINT NOT NULL, form TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS wf_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS wf_findings_published (project_id TEXT NOT NULL, finding_id TEXT NOT NULL, \
     rule TEXT NOT NULL, month TEXT NOT NULL, event_id TEXT NOT NULL, signer TEXT NOT NULL, recorded_us BIGINT NOT NULL, \
     PRIMARY KEY (project_id, finding_id))",
];

#[derive(Default)]
struct DayAgg {
    first_event_id: String,
    first_us: i64,
    last_us: i64,
    passages: i64,
}

/// Folds `events` (consecutive, this projection's checkpoint first) into the tables, inside the batch's
/// transaction.
pub(crate) async fn fold(tx: &mut Tx, events: &[Prepared<'_>]) -> Result<(), sqlx::Error> {
    use WorkforceEvent as E;
    let mut days: BTreeMap<(String, String, String), DayAgg> = BTreeMap::new();
    let mut last_seen: BTreeMap<(String, String), (i64, String, String)> = BTreeMap::new();
    let mut latest_day: Option<&str> = None;
    let mut project_latest: BTreeMap<String, &str> = BTreeMap::new();
    for x in events {
        let kind = x.e.kind.as_str();
        if !(kind.starts_with("worker.") || kind.starts_with("wage.")) {
            continue;
        }
        let Some(Ok(event)) = WorkforceEvent::parse(kind, &x.payload) else {
            crate::fold::skip(x, "payload");
            continue;
        };
        // A published finding is the bureau's record about the facts, not a fact: it does not move the view's
        // "as of" (which would otherwise compute new findings from the publication date).
        let id = x.e.event_id.to_string();
        let pid = event.project_id().map(|p| p.as_str().to_owned()).unwrap_or_default();
        if !matches!(event, E::FindingRecorded(_)) {
            if latest_day.is_none_or(|d| d < x.day.as_str()) {
                latest_day = Some(x.day.as_str());
            }
            let d = project_latest.entry(pid.clone()).or_insert(x.day.as_str());
            if *d < x.day.as_str() {
                *d = x.day.as_str();
            }
        }
        match event {
            E::Passage(p) => {
                let key = (pid.clone(), p.person_ref.as_str().to_owned(), x.day.clone());
                let agg = days.entry(key).or_default();
                if agg.passages == 0 || x.occurred_us < agg.first_us {
                    agg.first_event_id.clone_from(&id);
                    agg.first_us = x.occurred_us;
                }
                agg.last_us = agg.last_us.max(x.occurred_us);
                agg.passages += 1;
                let k = (pid, p.person_ref.as_str().to_owned());
                if last_seen.get(&k).is_none_or(|(us, _, _)| *us <= x.occurred_us) {
                    last_seen.insert(k, (x.occurred_us, p.direction.as_str().to_owned(), p.gate.as_str().to_owned()));
                }
            }
            E::TeamFormed(e) => {
                tx.execute(
                    &Sql::new(
                        "INSERT INTO wf_teams (project_id, team_id, name, employer, leader, event_id) VALUES (?, ?, ?, ?, ?, ?) \
                         ON CONFLICT (project_id, team_id) DO NOTHING",
                    )
                    .arg(pid)
                    .arg(e.team_id.as_str())
                    .arg(e.name.as_str())
                    .arg(e.employer.as_str())
                    .arg(e.leader.as_ref().map(PersonRef::as_str))
                    .arg(id),
                )
                .await?;
            }
            E::WorkerRegistered(e) => {
                tx.execute(
                    &Sql::new(
                        "INSERT INTO wf_workers (project_id, person_ref, id_type, id_masked, birth_month, employer, team_id, \
                         trade, work_role, registered_on, event_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                         ON CONFLICT (project_id, person_ref) DO NOTHING",
                    )
                    .arg(pid)
                    .arg(e.person_ref.as_str())
                    .arg(e.id_type.as_str())
                    .arg(e.id_masked.as_str())
                    .arg(e.birth_month.as_string())
                    .arg(e.employer.as_str())
                    .arg(e.team_id.as_str())
                    .arg(e.trade.as_str())
                    .arg(e.work_role.as_str())
                    .arg(x.day.as_str())
                    .arg(id),
                )
                .await?;
            }
            E::CardRegistered(e) => {
                tx.execute(
                    &Sql::new(
                        "INSERT INTO wf_cards (project_id, person_ref, card_commitment, card_masked, bank_name, event_id) \
                         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (project_id, person_ref, card_commitment) DO NOTHING",
                    )
                    .arg(pid)
                    .arg(e.person_ref.as_str())
                    .arg(e.card_commitment.as_str())
                    .arg(e.card_masked.as_str())
                    .arg(e.bank_name.as_str())
                    .arg(id),
                )
                .await?;
            }
            E::ContractSigned(e) => {
                tx.execute(
                    &Sql::new(
                        "UPDATE wf_workers SET contract_id = ?, contract_start = ?, contract_end = ? \
                         WHERE project_id = ? AND person_ref = ?",
                    )
                    .arg(e.contract_id.as_str())
                    .arg(e.start_date.to_string())
                    .arg(e.end_date.map(|d| d.to_string()))
                    .arg(pid)
                    .arg(e.person_ref.as_str()),
                )
                .await?;
            }
            E::TrainingCompleted(e) => {
                tx.execute(
                    &Sql::new("UPDATE wf_workers SET trained = 1 WHERE project_id = ? AND person_ref = ?")
                        .arg(pid)
                        .arg(e.person_ref.as_str()),
                )
                .await?;
            }
            E::CertificateRecorded(e) => {
                tx.execute(
                    &Sql::new(
                        "INSERT INTO wf_certificates (event_id, project_id, person_ref, trade, cert_type, cert_number, issuer, \
                         valid_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING",
                    )
                    .arg(id)
                    .arg(pid)
                    .arg(e.person_ref.as_str())
                    .arg(e.trade.as_str())
                    .arg(e.cert_type.as_str())
                    .arg(e.cert_number.as_str())
                    .arg(e.issuer.as_str())
                    .arg(e.valid_until.to_string()),
                )
                .await?;
            }
            E::Entered(e) | E::Exited(e) => {
                let entering = x.e.kind == siteledger_domain::workforce::ENTERED;
                let sql = if entering {
                    "UPDATE wf_workers SET on_site = 1, entered_on = ?, exited_on = NULL WHERE project_id = ? AND person_ref = ?"
                } else {
                    "UPDATE wf_workers SET on_site = 0, exited_on = ? WHERE project_id = ? AND person_ref = ?"
                };
                tx.execute(&Sql::new(sql).arg(e.date.to_string()).arg(pid).arg(e.person_ref.as_str())).await?;
            }
            E::WageClerkAppointed(e) => {
                tx.execute(
                    &Sql::new("UPDATE wf_workers SET wage_clerk = 1 WHERE project_id = ? AND person_ref = ?")
                        .arg(pid)
                        .arg(e.person_ref.as_str()),
                )
                .await?;
            }
            E::AccountOpened(e) => {
                tx.execute(
                    &Sql::new(
                        "INSERT INTO wf_accounts (project_id, opened_by, bank_name, account_masked, pay_day, opened_on, event_id) \
                         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (project_id) DO NOTHING",
                    )
                    .arg(pid)
                    .arg(e.opened_by.as_str())
                    .arg(e.bank_name.as_str())
                    .arg(e.account_masked.as_str())
                    .arg(i64::from(e.pay_day))
                    .arg(x.day.as_str())
                    .arg(id),
                )
                .await?;
            }
            E::LabourCostDeposited(e) => {
                tx.execute(
                    &Sql::new(
                        "INSERT INTO wf_deposits (event_id, project_id, payer, amount_fen, deposited_on, for_month) \
                         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING",
                    )
                    .arg(id)
                    .arg(pid)
                    .arg(e.payer.as_str())
                    .arg(e.amount_fen.fen())
                    .arg(e.deposited_on.to_string())
                    .arg(e.for_month.as_string()),
                )
                .await?;
            }
            E::PayrollSubmitted(e) => {
                for l in &e.lines {
                    tx.execute(
                        &Sql::new(
                            "INSERT INTO wf_payroll_lines (project_id, payroll_id, person_ref, month, team_id, employer, days, \
                             hours, payable_fen, actual_fen, card_commitment, card_masked, back_pay, event_id) \
                             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                             ON CONFLICT (project_id, payroll_id, person_ref) DO NOTHING",
                        )
                        .arg(pid.as_str())
                        .arg(e.payroll_id.as_str())
                        .arg(l.person_ref.as_str())
                        .arg(e.month.as_string())
                        .arg(e.team_id.as_str())
                        .arg(e.employer.as_str())
                        .arg(i64::from(l.days))
                        .arg(i64::from(l.hours))
                        .arg(l.payable_fen.fen())
                        .arg(l.actual_fen.fen())
                        .arg(l.card_commitment.as_str())
                        .arg(l.card_masked.as_str())
                        .arg(l.back_pay)
                        .arg(id.as_str()),
                    )
                    .await?;
                }
            }
            E::PayrollConfirmed(e) => {
                tx.execute(
                    &Sql::new(
                        "UPDATE wf_payroll_lines SET confirmed = 1 WHERE project_id = ? AND payroll_id = ? AND person_ref = ?",
                    )
                    .arg(pid)
                    .arg(e.payroll_id.as_str())
                    .arg(e.person_ref.as_str()),
                )
                .await?;
            }
            E::TransferMade(e) => {
                tx.execute(
                    &Sql::new(
                        "INSERT INTO wf_transfers (event_id, project_id, transfer_id, payroll_id, person_ref, amount_fen, \
                         card_commitment, card_masked, paid_on, back_pay, signer) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                         ON CONFLICT (event_id) DO NOTHING",
                    )
                    .arg(id)
                    .arg(pid)
                    .arg(e.transfer_id.as_str())
                    .arg(e.payroll_id.as_str())
                    .arg(e.person_ref.as_str())
                    .arg(e.amount_fen.fen())
                    .arg(e.card_commitment.as_str())
                    .arg(e.card_masked.as_str())
                    .arg(e.paid_on.to_string())
                    .arg(e.back_pay)
                    .arg(x.e.signer.as_str()),
                )
                .await?;
            }
            E::GuaranteeDeposited(e) => {
                tx.execute(
                    &Sql::new(
                        "INSERT INTO wf_guarantees (event_id, project_id, by_enterprise, amount_fen, form) VALUES (?, ?, ?, ?, ?) \
                         ON CONFLICT (event_id) DO NOTHING",
                    )
                    .arg(id)
                    .arg(pid)
                    .arg(e.by.as_str())
                    .arg(e.amount_fen.fen())
                    .arg(match e.form {
                        siteledger_domain::workforce::GuaranteeForm::Cash => "cash",
                        siteledger_domain::workforce::GuaranteeForm::BankGuarantee => "bank_guarantee",
                    }),
                )
                .await?;
            }
            E::FindingRecorded(e) => {
                // Once per (project, finding) by the rules; DO NOTHING keeps a redelivered batch idempotent.
                tx.execute(
                    &Sql::new(
                        "INSERT INTO wf_findings_published (project_id, finding_id, rule, month, event_id, signer, \
                         recorded_us) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (project_id, finding_id) DO NOTHING",
                    )
                    .arg(pid)
                    .arg(e.finding_id.as_str())
                    .arg(e.rule.as_str())
                    .arg(e.month.as_string())
                    .arg(id)
                    .arg(x.e.signer.as_str())
                    .arg(x.occurred_us),
                )
                .await?;
            }
        }
    }
    for ((project, person, day), agg) in days {
        tx.execute(
            &Sql::new(
                "INSERT INTO wf_attendance (project_id, person_ref, day, first_event_id, first_us, last_us, passages) \
                 VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (project_id, person_ref, day) DO UPDATE SET \
                 first_event_id = CASE WHEN excluded.first_us < wf_attendance.first_us THEN excluded.first_event_id \
                 ELSE wf_attendance.first_event_id END, \
                 first_us = CASE WHEN excluded.first_us < wf_attendance.first_us THEN excluded.first_us ELSE wf_attendance.first_us END, \
                 last_us = CASE WHEN excluded.last_us > wf_attendance.last_us THEN excluded.last_us ELSE wf_attendance.last_us END, \
                 passages = wf_attendance.passages + excluded.passages",
            )
            .arg(project)
            .arg(person)
            .arg(day)
            .arg(agg.first_event_id)
            .arg(agg.first_us)
            .arg(agg.last_us)
            .arg(agg.passages),
        )
        .await?;
    }
    for ((project, person), (us, direction, gate)) in last_seen {
        tx.execute(
            &Sql::new(
                "UPDATE wf_workers SET last_passage_us = ?, last_direction = ?, last_gate = ? \
                 WHERE project_id = ? AND person_ref = ? AND (last_passage_us IS NULL OR last_passage_us <= ?)",
            )
            .arg(us)
            .arg(direction)
            .arg(gate)
            .arg(project)
            .arg(person)
            .arg(us),
        )
        .await?;
    }
    let keyed = latest_day.map(|d| ("latest_day".to_owned(), d));
    for (key, day) in keyed.into_iter().chain(project_latest.into_iter().map(|(p, d)| (latest_day_key(&p), d))) {
        tx.execute(
            &Sql::new(
                "INSERT INTO wf_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET \
                 value = CASE WHEN excluded.value > wf_meta.value THEN excluded.value ELSE wf_meta.value END",
            )
            .arg(key)
            .arg(day),
        )
        .await?;
    }
    Ok(())
}

// -----------------------------------------------------------------------------------------------------------------
// Queries
// -----------------------------------------------------------------------------------------------------------------

/// A worker on a project's roster (masked data only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct WorkerRow {
    /// Project.
    pub project_id: String,
    /// The person's reference.
    pub person_ref: String,
    /// 证件类型 code.
    pub id_type: String,
    /// Masked document number.
    pub id_masked: String,
    /// Employer credit code.
    pub employer: String,
    /// Team.
    pub team_id: String,
    /// 工种 code.
    pub trade: String,
    /// Registration day.
    pub registered_on: String,
    /// Contract period.
    pub contract_start: Option<String>,
    /// Contract end.
    pub contract_end: Option<String>,
    /// Entered and not exited.
    pub on_site: i64,
    /// Last gate direction (`in`/`out`).
    pub last_direction: Option<String>,
    /// Last gate.
    pub last_gate: Option<String>,
    /// 劳资专管员.
    pub wage_clerk: i64,
}

/// One worker-day of attendance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct AttendanceRow {
    /// Project.
    pub project_id: String,
    /// Person.
    pub person_ref: String,
    /// Day `YYYY-MM-DD`.
    pub day: String,
    /// The day's first passage.
    pub first_event_id: String,
    /// Passages that day.
    pub passages: i64,
}

/// Payroll against attendance for one worker and month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PayrollVsAttendance {
    /// Project.
    pub project_id: String,
    /// Person.
    pub person_ref: String,
    /// Masked ID.
    pub id_masked: String,
    /// Month.
    pub month: String,
    /// Days with a passage.
    pub attendance_days: i64,
    /// Days on the payroll.
    pub payroll_days: i64,
    /// 应发 (fen).
    pub payable_fen: i64,
    /// 实发 (fen).
    pub actual_fen: i64,
    /// Transferred (fen).
    pub paid_fen: i64,
}

/// A finding of the arrears view, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArrearsRow {
    /// Project.
    pub project_id: String,
    /// Project name.
    pub project_name: String,
    /// District code.
    pub district: String,
    /// The general contractor(s) responsible (第三十条).
    pub general_contractor: String,
    /// Rule (`arrears_suspected` …).
    pub rule: String,
    /// Chinese name of the rule.
    pub rule_zh: String,
    /// The article.
    pub basis: String,
    /// Month `YYYY-MM`.
    pub month: String,
    /// Worker, if any.
    pub person_ref: Option<String>,
    /// Masked ID of the worker, if any.
    pub id_masked: Option<String>,
    /// The event ids it rests on.
    pub evidence: Vec<String>,
    /// What was found.
    pub detail: String,
    /// The finding's stable key ([`Finding::key`]), the `finding_id` it is published under.
    pub finding_id: String,
    /// The event id of its `wage.finding.recorded.v1`, once a bureau has published it.
    pub published_event_id: Option<String>,
    /// The day the rules were checked as of: the caller's, or by default the project's latest workforce day.
    pub as_of: String,
}

#[derive(sqlx::FromRow)]
struct Str1 {
    v: String,
}

#[derive(sqlx::FromRow)]
struct Published {
    finding_id: String,
    event_id: String,
}

#[derive(sqlx::FromRow)]
struct ProjectHead {
    project_id: String,
    name: String,
    district: String,
}

#[derive(sqlx::FromRow)]
struct AttDb {
    person_ref: String,
    day: String,
    first_event_id: String,
}

#[derive(sqlx::FromRow)]
struct LineDb {
    payroll_id: String,
    person_ref: String,
    month: String,
    days: i64,
    payable_fen: i64,
    actual_fen: i64,
    back_pay: i64,
    event_id: String,
}

#[derive(sqlx::FromRow)]
struct TransferDb {
    event_id: String,
    payroll_id: String,
    person_ref: String,
    amount_fen: i64,
    card_commitment: String,
}

#[derive(sqlx::FromRow)]
struct WorkerDb {
    person_ref: String,
    trade: String,
    id_masked: String,
}

#[derive(sqlx::FromRow)]
struct CardDb {
    person_ref: String,
    card_commitment: String,
    event_id: String,
}

#[derive(sqlx::FromRow)]
struct CertDb {
    person_ref: String,
    valid_until: String,
    event_id: String,
}

#[derive(sqlx::FromRow)]
struct AccountDb {
    opened_on: String,
    event_id: String,
    pay_day: i64,
}

#[derive(sqlx::FromRow)]
struct DepositDb {
    event_id: String,
    deposited_on: String,
}

fn date(s: &str) -> Option<LocalDate> {
    LocalDate::parse(s).ok()
}

/// `wf_meta` key of a project's latest workforce day.
fn latest_day_key(project: &str) -> String {
    format!("latest_day/{project}")
}

impl ReadDb {
    /// The latest day (Asia/Shanghai) of any `worker.*`/`wage.*` record folded, of any project (for display; the
    /// arrears view's default "as of" is per project: [`ReadDb::workforce_project_latest_day`]).
    pub async fn workforce_latest_day(&self) -> Result<Option<String>, ProjectionError> {
        let row: Option<Str1> =
            self.fetch_optional(&Sql::new("SELECT value AS v FROM wf_meta WHERE key = 'latest_day'")).await?;
        Ok(row.map(|r| r.v))
    }

    /// The latest day (Asia/Shanghai) of `project`'s `worker.*`/`wage.*` records (published findings aside): the
    /// arrears view's default "as of" for that project.
    pub async fn workforce_project_latest_day(&self, project: &str) -> Result<Option<String>, ProjectionError> {
        let row: Option<Str1> = self
            .fetch_optional(&Sql::new("SELECT value AS v FROM wf_meta WHERE key = ?").arg(latest_day_key(project)))
            .await?;
        Ok(row.map(|r| r.v))
    }

    /// The roster of a project (or of every visible project), `on_site_only` for who is on site now.
    pub async fn workforce_roster(
        &self,
        scope: &Scope,
        project: Option<&str>,
        on_site_only: bool,
    ) -> Result<Vec<WorkerRow>, ProjectionError> {
        let mut q = Sql::new(
            "SELECT w.project_id, w.person_ref, w.id_type, w.id_masked, w.employer, w.team_id, w.trade, w.registered_on, \
             w.contract_start, w.contract_end, w.on_site, w.last_direction, w.last_gate, w.wage_clerk FROM wf_workers w WHERE ",
        );
        project_visible(&mut q, scope, "w.project_id");
        if let Some(p) = project {
            q.push(" AND w.project_id = ").bind(p);
        }
        if on_site_only {
            q.push(" AND w.on_site = 1 AND w.last_direction = 'in'");
        }
        q.push(" ORDER BY w.project_id, w.team_id, w.person_ref LIMIT 20000");
        Ok(self.fetch_all(&q).await?)
    }

    /// Daily attendance of a project on `day`.
    pub async fn workforce_attendance(
        &self,
        scope: &Scope,
        project: &str,
        day: &str,
    ) -> Result<Vec<AttendanceRow>, ProjectionError> {
        let mut q = Sql::new(
            "SELECT a.project_id, a.person_ref, a.day, a.first_event_id, a.passages FROM wf_attendance a WHERE ",
        );
        project_visible(&mut q, scope, "a.project_id");
        q.push(" AND a.project_id = ").bind(project);
        q.push(" AND a.day = ").bind(day);
        q.push(" ORDER BY a.person_ref");
        Ok(self.fetch_all(&q).await?)
    }

    /// Payroll against attendance for `project` and `month` (`YYYY-MM`), one row per worker on either side.
    pub async fn workforce_payroll_vs_attendance(
        &self,
        scope: &Scope,
        project: &str,
        month: &str,
    ) -> Result<Vec<PayrollVsAttendance>, ProjectionError> {
        let facts = self.workforce_facts(scope, project).await?;
        let Some((_, facts, masked)) = facts else { return Ok(Vec::new()) };
        let mut rows: BTreeMap<String, PayrollVsAttendance> = BTreeMap::new();
        let blank = |p: &str| PayrollVsAttendance {
            project_id: project.to_owned(),
            person_ref: p.to_owned(),
            id_masked: masked.get(p).cloned().unwrap_or_default(),
            month: month.to_owned(),
            attendance_days: 0,
            payroll_days: 0,
            payable_fen: 0,
            actual_fen: 0,
            paid_fen: 0,
        };
        for a in facts.attendance.iter().filter(|a| YearMonth::of(a.day).as_string() == month) {
            rows.entry(a.person_ref.as_str().to_owned())
                .or_insert_with(|| blank(a.person_ref.as_str()))
                .attendance_days += 1;
        }
        let mut payrolls = Vec::new();
        for l in facts.lines.iter().filter(|l| l.month.as_string() == month) {
            let r = rows.entry(l.person_ref.as_str().to_owned()).or_insert_with(|| blank(l.person_ref.as_str()));
            r.payroll_days = r.payroll_days.saturating_add(i64::from(l.days));
            r.payable_fen = r.payable_fen.saturating_add(l.payable.fen());
            r.actual_fen = r.actual_fen.saturating_add(l.actual.fen());
            payrolls.push((l.payroll_id.clone(), l.person_ref.clone()));
        }
        for t in &facts.transfers {
            if payrolls.iter().any(|(p, who)| p == &t.payroll_id && who == &t.person_ref)
                && let Some(r) = rows.get_mut(t.person_ref.as_str())
            {
                r.paid_fen = r.paid_fen.saturating_add(t.amount.fen());
            }
        }
        Ok(rows.into_values().collect())
    }

    /// Loads the facts of one visible project: (project head, facts, person → masked ID).
    async fn workforce_facts(
        &self,
        scope: &Scope,
        project: &str,
    ) -> Result<Option<(ProjectHead, ProjectFacts, HashMap<String, String>)>, ProjectionError> {
        let mut q = Sql::new("SELECT p.project_id, p.name, p.district FROM projects p WHERE ");
        project_visible(&mut q, scope, "p.project_id");
        q.push(" AND p.project_id = ").bind(project);
        let Some(head) = self.fetch_optional::<ProjectHead>(&q).await? else { return Ok(None) };
        let mut f = ProjectFacts::default();
        let att: Vec<AttDb> = self
            .fetch_all(
                &Sql::new("SELECT person_ref, day, first_event_id FROM wf_attendance WHERE project_id = ? ORDER BY person_ref, day")
                    .arg(project),
            )
            .await?;
        f.attendance = att
            .into_iter()
            .filter_map(|a| {
                Some(AttendanceDay {
                    person_ref: PersonRef::parse(&a.person_ref).ok()?,
                    day: date(&a.day)?,
                    event_id: a.first_event_id,
                })
            })
            .collect();
        let lines: Vec<LineDb> = self
            .fetch_all(
                &Sql::new(
                    "SELECT payroll_id, person_ref, month, days, payable_fen, actual_fen, back_pay, event_id \
                     FROM wf_payroll_lines WHERE project_id = ? ORDER BY payroll_id, person_ref",
                )
                .arg(project),
            )
            .await?;
        f.lines = lines
            .into_iter()
            .filter_map(|l| {
                Some(LineFact {
                    event_id: l.event_id,
                    payroll_id: PayrollId::parse(&l.payroll_id).ok()?,
                    month: YearMonth::parse(&l.month).ok()?,
                    person_ref: PersonRef::parse(&l.person_ref).ok()?,
                    days: u32::try_from(l.days).ok()?,
                    payable: MoneyFen::parse(l.payable_fen).ok()?,
                    actual: MoneyFen::parse(l.actual_fen).ok()?,
                    back_pay: l.back_pay != 0,
                })
            })
            .collect();
        let transfers: Vec<TransferDb> = self
            .fetch_all(
                &Sql::new(
                    "SELECT event_id, payroll_id, person_ref, amount_fen, card_commitment FROM wf_transfers \
                     WHERE project_id = ? ORDER BY event_id",
                )
                .arg(project),
            )
            .await?;
        f.transfers = transfers
            .into_iter()
            .filter_map(|t| {
                Some(TransferFact {
                    event_id: t.event_id,
                    payroll_id: PayrollId::parse(&t.payroll_id).ok()?,
                    person_ref: PersonRef::parse(&t.person_ref).ok()?,
                    amount: MoneyFen::parse(t.amount_fen).ok()?,
                    card: Commitment::parse(&t.card_commitment).ok()?,
                })
            })
            .collect();
        let workers: Vec<WorkerDb> = self
            .fetch_all(
                &Sql::new("SELECT person_ref, trade, id_masked FROM wf_workers WHERE project_id = ?").arg(project),
            )
            .await?;
        let mut masked = HashMap::new();
        for w in workers {
            let Ok(p) = PersonRef::parse(&w.person_ref) else { continue };
            f.workers.insert(p, WorkerFacts { trade: Trade::parse(&w.trade).ok(), ..WorkerFacts::default() });
            masked.insert(w.person_ref, w.id_masked);
        }
        let cards: Vec<CardDb> = self
            .fetch_all(
                &Sql::new("SELECT person_ref, card_commitment, event_id FROM wf_cards WHERE project_id = ?")
                    .arg(project),
            )
            .await?;
        for c in cards {
            let (Ok(p), Ok(cm)) = (PersonRef::parse(&c.person_ref), Commitment::parse(&c.card_commitment)) else {
                continue;
            };
            f.workers.entry(p).or_default().cards.push((cm, c.event_id));
        }
        let certs: Vec<CertDb> = self
            .fetch_all(
                &Sql::new("SELECT person_ref, valid_until, event_id FROM wf_certificates WHERE project_id = ?")
                    .arg(project),
            )
            .await?;
        for c in certs {
            let (Ok(p), Some(until)) = (PersonRef::parse(&c.person_ref), date(&c.valid_until)) else { continue };
            f.workers.entry(p).or_default().certificates.push((until, c.event_id));
        }
        let account: Option<AccountDb> = self
            .fetch_optional(
                &Sql::new("SELECT opened_on, event_id, pay_day FROM wf_accounts WHERE project_id = ?").arg(project),
            )
            .await?;
        f.account = account.and_then(|a| Some((date(&a.opened_on)?, a.event_id, u8::try_from(a.pay_day).ok()?)));
        let deposits: Vec<DepositDb> = self
            .fetch_all(&Sql::new("SELECT event_id, deposited_on FROM wf_deposits WHERE project_id = ?").arg(project))
            .await?;
        f.deposits = deposits
            .into_iter()
            .filter_map(|d| Some(DepositFact { deposited_on: date(&d.deposited_on)?, event_id: d.event_id }))
            .collect();
        Ok(Some((head, f, masked)))
    }

    /// The arrears view: every finding of every visible project with workforce records (or of `project`), as of
    /// `as_of` (default, per project: the latest day of that project's workforce records — the log's "now" for
    /// it, never the wall clock, and never moved by another project's records).
    pub async fn workforce_arrears(
        &self,
        scope: &Scope,
        project: Option<&str>,
        as_of: Option<LocalDate>,
        days_tolerance: u32,
    ) -> Result<Vec<ArrearsRow>, ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok(Vec::new());
        }
        let projects: Vec<String> = match project {
            Some(p) => vec![p.to_owned()],
            None => {
                let mut q = Sql::new("SELECT DISTINCT w.project_id AS v FROM wf_workers w WHERE ");
                project_visible(&mut q, scope, "w.project_id");
                q.push(" UNION SELECT a.project_id AS v FROM wf_accounts a WHERE ");
                project_visible(&mut q, scope, "a.project_id");
                let rows: Vec<Str1> = self.fetch_all(&q).await?;
                let mut v: Vec<String> = rows.into_iter().map(|r| r.v).collect();
                v.sort();
                v.dedup();
                v
            }
        };
        let mut out = Vec::new();
        for p in projects {
            let as_of = match as_of {
                Some(d) => d,
                None => match self.workforce_project_latest_day(&p).await?.as_deref().and_then(date) {
                    Some(d) => d,
                    None => continue,
                },
            };
            let Some((head, facts, masked)) = self.workforce_facts(scope, &p).await? else { continue };
            let gcs: Vec<Str1> = self
                .fetch_all(
                    &Sql::new(
                        "SELECT credit_code AS v FROM participants WHERE project_id = ? AND role = 'general_contractor' \
                         ORDER BY credit_code",
                    )
                    .arg(p.as_str()),
                )
                .await?;
            let gc = gcs.into_iter().map(|r| r.v).collect::<Vec<_>>().join(",");
            let published: HashMap<String, String> = self
                .fetch_all::<Published>(
                    &Sql::new("SELECT finding_id, event_id FROM wf_findings_published WHERE project_id = ?")
                        .arg(p.as_str()),
                )
                .await?
                .into_iter()
                .map(|r| (r.finding_id, r.event_id))
                .collect();
            for f in arrears::findings(&facts, Options { as_of, days_tolerance }) {
                let finding_id = f.key();
                let Finding { rule, month, person_ref, evidence, detail } = f;
                out.push(ArrearsRow {
                    published_event_id: published.get(&finding_id).cloned(),
                    finding_id,
                    project_id: head.project_id.clone(),
                    project_name: head.name.clone(),
                    district: head.district.clone(),
                    general_contractor: gc.clone(),
                    rule: rule.as_str().to_owned(),
                    rule_zh: rule.name_zh().to_owned(),
                    basis: rule.basis().to_owned(),
                    month: month.as_string(),
                    id_masked: person_ref.as_ref().and_then(|p| masked.get(p.as_str()).cloned()),
                    person_ref: person_ref.map(|p| p.as_str().to_owned()),
                    evidence,
                    detail,
                    as_of: as_of.to_string(),
                });
            }
        }
        Ok(out)
    }
}

/// A payroll line with the worker's masked ID, for exports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct PayrollLineRow {
    /// Project.
    pub project_id: String,
    /// Payroll.
    pub payroll_id: String,
    /// Team.
    pub team_id: String,
    /// Employer credit code.
    pub employer: String,
    /// Month.
    pub month: String,
    /// Person.
    pub person_ref: String,
    /// 证件类型.
    pub id_type: Option<String>,
    /// Masked ID.
    pub id_masked: Option<String>,
    /// Days.
    pub days: i64,
    /// Hours.
    pub hours: i64,
    /// 应发 (fen).
    pub payable_fen: i64,
    /// 实发 (fen).
    pub actual_fen: i64,
    /// Masked card.
    pub card_masked: String,
    /// 补发.
    pub back_pay: i64,
    /// Latest transfer date for the line, if paid.
    pub paid_on: Option<String>,
}

impl ReadDb {
    /// The payroll lines of `project` for `month`, with masked IDs and the latest transfer date.
    pub async fn workforce_payroll_lines(
        &self,
        scope: &Scope,
        project: &str,
        month: &str,
    ) -> Result<Vec<PayrollLineRow>, ProjectionError> {
        let mut q = Sql::new(
            "SELECT l.project_id, l.payroll_id, l.team_id, l.employer, l.month, l.person_ref, w.id_type, w.id_masked, \
             l.days, l.hours, l.payable_fen, l.actual_fen, l.card_masked, l.back_pay, \
             (SELECT MAX(t.paid_on) FROM wf_transfers t WHERE t.project_id = l.project_id AND t.payroll_id = l.payroll_id \
              AND t.person_ref = l.person_ref) AS paid_on \
             FROM wf_payroll_lines l LEFT JOIN wf_workers w ON w.project_id = l.project_id AND w.person_ref = l.person_ref WHERE ",
        );
        project_visible(&mut q, scope, "l.project_id");
        q.push(" AND l.project_id = ").bind(project);
        q.push(" AND l.month = ").bind(month);
        q.push(" ORDER BY l.payroll_id, l.person_ref");
        Ok(self.fetch_all(&q).await?)
    }
}
