//! The `workforce` fold, by sub-kind: the roster (teams, workers, cards, certificates, contracts, training, entry
//! and exit, wage clerks), the wage account (account, deposits, guarantees, published findings), payrolls and
//! transfers, and gate passages aggregated per (project, person, day) inside the batch before one upsert each.

use std::collections::BTreeMap;

use siteledger_domain::DomainEvent;
use siteledger_domain::workforce::{PersonRef, WorkforceEvent as E};

use super::schema::latest_day_key;
use crate::db::{Arg, Sql, Tx};
use crate::prepare::Prepared;

#[derive(Default)]
struct DayAgg {
    first_event_id: String,
    first_us: i64,
    last_us: i64,
    passages: i64,
}

/// What a batch aggregates before writing: attendance per worker-day, each worker's last passage, and the latest
/// day of workforce facts (overall and per project).
#[derive(Default)]
struct Batch<'a> {
    days: BTreeMap<(String, String, String), DayAgg>,
    last_seen: BTreeMap<(String, String), (i64, String, String)>,
    latest_day: Option<&'a str>,
    project_latest: BTreeMap<String, &'a str>,
    /// The position of each project's newest fact in the batch: its stored findings are due again.
    project_changed: BTreeMap<String, u64>,
}

impl<'a> Batch<'a> {
    /// A workforce fact of `project` on `day` moves the view's "as of".
    fn saw(&mut self, project: &str, day: &'a str) {
        if self.latest_day.is_none_or(|d| d < day) {
            self.latest_day = Some(day);
        }
        let d = self.project_latest.entry(project.to_owned()).or_insert(day);
        if *d < day {
            *d = day;
        }
    }

    /// A gate passage: counted into its worker-day and its worker's last passage.
    fn passage(&mut self, x: &Prepared<'_>, pid: &str, id: &str, p: &siteledger_domain::workforce::Passage) {
        let key = (pid.to_owned(), p.person_ref.as_str().to_owned(), x.day.clone());
        let agg = self.days.entry(key).or_default();
        if agg.passages == 0 || x.occurred_us < agg.first_us {
            id.clone_into(&mut agg.first_event_id);
            agg.first_us = x.occurred_us;
        }
        agg.last_us = agg.last_us.max(x.occurred_us);
        agg.passages += 1;
        let k = (pid.to_owned(), p.person_ref.as_str().to_owned());
        if self.last_seen.get(&k).is_none_or(|(us, _, _)| *us <= x.occurred_us) {
            self.last_seen.insert(k, (x.occurred_us, p.direction.as_str().to_owned(), p.gate.as_str().to_owned()));
        }
    }
}

/// Folds `events` (consecutive, this projection's checkpoint first) into the tables, inside the batch's
/// transaction.
pub(super) async fn fold(tx: &mut Tx, events: &[Prepared<'_>]) -> Result<(), sqlx::Error> {
    let mut b = Batch::default();
    for x in events {
        let Some(DomainEvent::Workforce(event)) = x.domain() else { continue };
        let id = x.e.event_id.to_string();
        let pid = event.project_id().map(|p| p.as_str()).unwrap_or_default();
        // A published finding is the bureau's record about the facts, not a fact: it does not move the view's
        // "as of" (which would otherwise compute new findings from the publication date).
        if !matches!(event, E::FindingRecorded(_)) {
            b.saw(pid, &x.day);
            let changed = b.project_changed.entry(pid.to_owned()).or_default();
            *changed = (*changed).max(x.e.position);
        }
        match event {
            E::Passage(p) => b.passage(x, pid, &id, p),
            E::TeamFormed(_) | E::WorkerRegistered(_) | E::CardRegistered(_) | E::CertificateRecorded(_) => {
                roster(tx, x, pid, &id, event).await?;
            }
            E::ContractSigned(_)
            | E::TrainingCompleted(_)
            | E::Entered(_)
            | E::Exited(_)
            | E::WageClerkAppointed(_) => worker_state(tx, pid, event).await?,
            E::PayrollSubmitted(_) | E::PayrollConfirmed(_) | E::TransferMade(_) => {
                payroll(tx, x, pid, &id, event).await?;
            }
            E::AccountOpened(_) | E::LabourCostDeposited(_) | E::GuaranteeDeposited(_) | E::FindingRecorded(_) => {
                account(tx, x, pid, &id, event).await?;
            }
        }
    }
    write_batch(tx, b).await
}

/// Teams, workers, cards and certificates (first record wins: `DO NOTHING`).
async fn roster(tx: &mut Tx, x: &Prepared<'_>, pid: &str, id: &str, event: &E) -> Result<(), sqlx::Error> {
    match event {
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
        _ => {}
    }
    Ok(())
}

/// Contracts, training, entry and exit, wage clerks: updates of a registered worker.
async fn worker_state(tx: &mut Tx, pid: &str, event: &E) -> Result<(), sqlx::Error> {
    match event {
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
        E::Entered(e) | E::Exited(e) => {
            let entering = matches!(event, E::Entered(_));
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
        _ => {}
    }
    Ok(())
}

/// Payrolls, their confirmations and the transfers that pay them.
async fn payroll(tx: &mut Tx, x: &Prepared<'_>, pid: &str, id: &str, event: &E) -> Result<(), sqlx::Error> {
    match event {
        E::PayrollSubmitted(e) => {
            for l in &e.lines {
                tx.execute(
                    &Sql::new(
                        "INSERT INTO wf_payroll_lines (project_id, payroll_id, person_ref, month, team_id, employer, days, \
                         hours, payable_fen, actual_fen, card_commitment, card_masked, back_pay, event_id) \
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                         ON CONFLICT (project_id, payroll_id, person_ref) DO NOTHING",
                    )
                    .arg(pid)
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
                    .arg(id),
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
        _ => {}
    }
    Ok(())
}

/// The wage account, labour-cost deposits, wage guarantees and published findings.
async fn account(tx: &mut Tx, x: &Prepared<'_>, pid: &str, id: &str, event: &E) -> Result<(), sqlx::Error> {
    match event {
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
        _ => {}
    }
    Ok(())
}

/// Writes what the batch aggregated: attendance, last passages, latest days, many rows per statement (a city's
/// batch holds about one passage per worker).
async fn write_batch(tx: &mut Tx, b: Batch<'_>) -> Result<(), sqlx::Error> {
    let days = b
        .days
        .into_iter()
        .map(|((project, person, day), agg)| {
            vec![
                Arg::from(project),
                Arg::from(person),
                Arg::from(day),
                Arg::from(agg.first_event_id),
                Arg::from(agg.first_us),
                Arg::from(agg.last_us),
                Arg::from(agg.passages),
            ]
        })
        .collect();
    tx.execute_rows(
        "INSERT INTO wf_attendance (project_id, person_ref, day, first_event_id, first_us, last_us, passages)",
        "ON CONFLICT (project_id, person_ref, day) DO UPDATE SET \
         first_event_id = CASE WHEN excluded.first_us < wf_attendance.first_us THEN excluded.first_event_id \
         ELSE wf_attendance.first_event_id END, \
         first_us = CASE WHEN excluded.first_us < wf_attendance.first_us THEN excluded.first_us ELSE wf_attendance.first_us END, \
         last_us = CASE WHEN excluded.last_us > wf_attendance.last_us THEN excluded.last_us ELSE wf_attendance.last_us END, \
         passages = wf_attendance.passages + excluded.passages",
        days,
    )
    .await?;
    let seen = b
        .last_seen
        .into_iter()
        .map(|((project, person), (us, direction, gate))| {
            vec![Arg::from(us), Arg::from(direction), Arg::from(gate), Arg::from(project), Arg::from(person)]
        })
        .collect();
    tx.execute_rows_as(
        "UPDATE wf_workers SET last_passage_us = v.column1, last_direction = v.column2, last_gate = v.column3 FROM (",
        Some("(CAST(? AS BIGINT), ?, ?, ?, ?)"),
        ") AS v WHERE wf_workers.project_id = v.column4 AND wf_workers.person_ref = v.column5 \
         AND (wf_workers.last_passage_us IS NULL OR wf_workers.last_passage_us <= v.column1)",
        seen,
    )
    .await?;
    let keyed = b.latest_day.map(|d| ("latest_day".to_owned(), d));
    let meta = keyed
        .into_iter()
        .chain(b.project_latest.into_iter().map(|(p, d)| (latest_day_key(&p), d)))
        .map(|(key, day)| vec![Arg::from(key), Arg::from(day)])
        .collect();
    tx.execute_rows(
        "INSERT INTO wf_meta (key, value)",
        "ON CONFLICT (key) DO UPDATE SET \
         value = CASE WHEN excluded.value > wf_meta.value THEN excluded.value ELSE wf_meta.value END",
        meta,
    )
    .await?;
    let changed = b
        .project_changed
        .into_iter()
        .map(|(project, position)| vec![Arg::from(project), Arg::from(position), Arg::from(-1_i64)])
        .collect();
    tx.execute_rows(
        "INSERT INTO wf_findings_dirty (project_id, changed, computed)",
        "ON CONFLICT (project_id) DO UPDATE SET changed = CASE WHEN excluded.changed > wf_findings_dirty.changed \
         THEN excluded.changed ELSE wf_findings_dirty.changed END",
        changed,
    )
    .await?;
    Ok(())
}
