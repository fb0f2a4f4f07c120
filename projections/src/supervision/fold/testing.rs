//! `testing.*` (工程质量检测): the city's reporting deadline, commissions, samples, reports, and the reporting of
//! unqualified results.

use siteledger_domain::supervision::testing::{self, ReportIssued, SampleTaken, TestingEvent};

use crate::db::{Sql, Tx};
use crate::prepare::Prepared;
use crate::supervision::schema::{US, k2};

pub(super) async fn fold(tx: &mut Tx, x: &Prepared<'_>, event: &TestingEvent) -> Result<(), sqlx::Error> {
    let pos = x.e.position;
    match event {
        TestingEvent::PolicySet(e) => {
            tx.execute(
                &Sql::new(
                    "INSERT INTO sv_settings (name, value, position) VALUES ('nonconformity_deadline_hours', ?, ?) \
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value, position = excluded.position",
                )
                .arg(i64::from(e.nonconformity_deadline_hours.get()))
                .arg(pos),
            )
            .await?;
        }
        TestingEvent::Commissioned(e) => {
            let project = e.project_id.as_str();
            tx.execute(
                &Sql::new(
                    "INSERT INTO sv_commissions (commission_key, project_id, lab, item, structural, position) \
                     VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (commission_key) DO NOTHING",
                )
                .arg(k2(project, e.commission_id.as_str()))
                .arg(project)
                .arg(e.lab.as_str())
                .arg(e.item.as_str())
                .arg(e.structural)
                .arg(pos),
            )
            .await?;
        }
        TestingEvent::SampleTaken(e) => sample_taken(tx, x, e).await?,
        TestingEvent::SampleReceived(e) => {
            tx.execute(
                &Sql::new("UPDATE sv_samples SET received_at = ?, seal_intact = ? WHERE sample_key = ?")
                    .arg(x.e.occurred_at.as_str())
                    .arg(e.seal_intact)
                    .arg(k2(e.project_id.as_str(), e.sample_id.as_str())),
            )
            .await?;
        }
        TestingEvent::ReportIssued(e) => report_issued(tx, x, e).await?,
        TestingEvent::Nonconformity(e) => {
            // The laboratory is the signer: its key's subject is its credit code.
            let lab: Option<(String,)> = tx
                .fetch_optional(&Sql::new("SELECT subject FROM signer_keys WHERE key_id = ?").arg(x.e.signer.as_str()))
                .await?;
            let lab = lab.map(|(s,)| s.trim_start_matches("enterprise/").to_owned()).unwrap_or_default();
            tx.execute(
                &Sql::new(
                    "UPDATE sv_test_reports SET reported_at = ?, reported_us = ? WHERE report_key = ? \
                     AND reported_at IS NULL",
                )
                .arg(x.e.occurred_at.as_str())
                .arg(x.occurred_us)
                .arg(format!("{lab}/{}/{}", e.report_year.get(), e.report_seq.get())),
            )
            .await?;
        }
    }
    Ok(())
}

/// A sample copies its commission's laboratory, item and structural flag.
async fn sample_taken(tx: &mut Tx, x: &Prepared<'_>, e: &SampleTaken) -> Result<(), sqlx::Error> {
    let project = e.project_id.as_str();
    let c: Option<(String, String, i64)> = tx
        .fetch_optional(
            &Sql::new("SELECT lab, item, structural FROM sv_commissions WHERE commission_key = ?")
                .arg(k2(project, e.commission_id.as_str())),
        )
        .await?;
    let (lab, item, structural) = c.unwrap_or_default();
    tx.execute(
        &Sql::new(
            "INSERT INTO sv_samples (sample_key, project_id, commission_id, sample_id, lab, item, structural, \
             seal_id, witness, sampler, taken_at, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (sample_key) DO NOTHING",
        )
        .arg(k2(project, e.sample_id.as_str()))
        .arg(project)
        .arg(e.commission_id.as_str())
        .arg(e.sample_id.as_str())
        .arg(lab)
        .arg(item)
        .arg(structural)
        .arg(e.seal_id.as_str())
        .arg(e.witness.as_str())
        .arg(e.sampler.as_str())
        .arg(x.e.occurred_at.as_str())
        .arg(x.e.position),
    )
    .await?;
    Ok(())
}

/// A report copies its sample's laboratory, item and structural flag; an unqualified result is due to be
/// reported within the city's deadline from its issue.
async fn report_issued(tx: &mut Tx, x: &Prepared<'_>, e: &ReportIssued) -> Result<(), sqlx::Error> {
    let project = e.project_id.as_str();
    let s: Option<(String, String, i64)> = tx
        .fetch_optional(
            &Sql::new("SELECT lab, item, structural FROM sv_samples WHERE sample_key = ?")
                .arg(k2(project, e.sample_id.as_str())),
        )
        .await?;
    let (lab, item, structural) = s.unwrap_or_default();
    let hours: Option<(i64,)> = tx
        .fetch_optional(&Sql::new("SELECT value FROM sv_settings WHERE name = 'nonconformity_deadline_hours'"))
        .await?;
    let hours = hours.map_or(i64::from(testing::DEFAULT_NONCONFORMITY_HOURS), |(h,)| h);
    let (year, seq) = (i64::from(e.report_year.get()), i64::from(e.report_seq.get()));
    tx.execute(
        &Sql::new(
            "INSERT INTO sv_test_reports (report_key, project_id, lab, report_year, report_seq, sample_id, \
             item, structural, result, tester, summary, issued_at, issued_us, due_us, event_id, position) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (report_key) DO NOTHING",
        )
        .arg(format!("{lab}/{year}/{seq}"))
        .arg(project)
        .arg(lab)
        .arg(year)
        .arg(seq)
        .arg(e.sample_id.as_str())
        .arg(item)
        .arg(structural)
        .arg(e.result.as_str())
        .arg(e.tester.as_str())
        .arg(e.summary.as_str())
        .arg(x.e.occurred_at.as_str())
        .arg(x.occurred_us)
        .arg(x.occurred_us.saturating_add(hours.saturating_mul(3600 * US)))
        .arg(x.e.event_id.to_string())
        .arg(x.e.position),
    )
    .await?;
    Ok(())
}
