//! 施工升降机: samples (load, wind, inspections and operator episodes), safety gear calibrations and drop tests.

use siteledger_domain::LocalDate;
use siteledger_domain::site::alarms::{self, HoistChecks};
use siteledger_domain::site::{DropTestPerformed, HoistSample, SafetyGearCalibrated, SiteEvent};

use super::memo::Memo;
use super::store::{self, Place};
use super::{Batch, Rec, micros, session};
use crate::db::{Sql, Tx};

/// The hoist's last calibration and passed drop test (remembered from batch to batch).
async fn checks(tx: &mut Tx, memo: &mut Memo, project: &str, device: &str) -> Result<HoistChecks, sqlx::Error> {
    let key = (project.to_owned(), device.to_owned());
    if let Some(c) = memo.checks.get(&key) {
        return Ok(c.clone());
    }
    let row: Option<(Option<String>, Option<String>, Option<String>)> = tx
        .fetch_optional(
            &Sql::new(
                "SELECT calibrated_on, valid_until, last_passed_drop FROM site_hoist_checks \
                 WHERE project_id = ? AND device_id = ?",
            )
            .arg(project)
            .arg(device),
        )
        .await?;
    let (cal_on, cal_until, passed) = row.unwrap_or_default();
    let date = |s: &Option<String>| s.as_deref().and_then(|d| LocalDate::parse(d).ok());
    let checks = HoistChecks { calibration: date(&cal_on).zip(date(&cal_until)), last_passed_drop: date(&passed) };
    memo.checks.insert(key, checks.clone());
    Ok(checks)
}

/// `hoist.sample.v1`: the hoist's latest state and its episodes.
pub(super) async fn sample(
    tx: &mut Tx,
    b: &mut Batch,
    rec: &Rec<'_>,
    s: &HoistSample,
    e: &SiteEvent,
) -> Result<(), sqlx::Error> {
    let (project, device) = (s.project_id.as_str(), s.device_id.as_str());
    let district = b.district(tx, project).await?;
    let at = s.sampled_at.instant();
    let at_us = micros(at);
    b.device_latest((project, device), "hoist", || e.to_payload(), at_us, &rec.event_id);
    let checks = checks(tx, &mut b.memo, project, device).await?;
    let sess = session(tx, &mut b.memo, project, device).await?;
    let policy = b.crane_at(&district, at);
    let judged = alarms::judge_hoist_sample(policy, s, &checks, sess.as_ref().map(|(s, _)| s), &rec.event_id);
    let place = Place { project, district: &district, device };
    for j in judged {
        store::episode(tx, &mut b.memo, &place, j, at_us, rec).await?;
    }
    Ok(())
}

/// `hoist.safety_gear.calibrated.v1`: the last calibration.
pub(super) async fn calibrated(
    tx: &mut Tx,
    b: &mut Batch,
    rec: &Rec<'_>,
    c: &SafetyGearCalibrated,
) -> Result<(), sqlx::Error> {
    b.memo.checks.remove(&(c.project_id.as_str().to_owned(), c.device_id.as_str().to_owned()));
    tx.execute(
        &Sql::new(
            "INSERT INTO site_hoist_checks (project_id, device_id, calibrated_on, valid_until, certificate_no, \
             calibration_event_id) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (project_id, device_id) DO UPDATE SET \
             calibrated_on = excluded.calibrated_on, valid_until = excluded.valid_until, \
             certificate_no = excluded.certificate_no, calibration_event_id = excluded.calibration_event_id",
        )
        .arg(c.project_id.as_str())
        .arg(c.device_id.as_str())
        .arg(c.calibrated_on.to_string())
        .arg(c.valid_until.to_string())
        .arg(c.certificate_no.as_str())
        .arg(rec.event_id.clone()),
    )
    .await?;
    Ok(())
}

/// `hoist.drop_test.performed.v1`: the last test (and the last passed one); a failed test is a one-off alarm.
pub(super) async fn drop_test(
    tx: &mut Tx,
    b: &mut Batch,
    rec: &Rec<'_>,
    d: &DropTestPerformed,
) -> Result<(), sqlx::Error> {
    b.memo.checks.remove(&(d.project_id.as_str().to_owned(), d.device_id.as_str().to_owned()));
    let passed_date = d.passed.then(|| d.performed_on.to_string());
    tx.execute(
        &Sql::new(
            "INSERT INTO site_hoist_checks (project_id, device_id, last_drop_test, last_drop_passed, \
             last_passed_drop, drop_event_id) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (project_id, device_id) \
             DO UPDATE SET last_drop_test = excluded.last_drop_test, \
             last_drop_passed = excluded.last_drop_passed, drop_event_id = excluded.drop_event_id, \
             last_passed_drop = COALESCE(excluded.last_passed_drop, site_hoist_checks.last_passed_drop)",
        )
        .arg(d.project_id.as_str())
        .arg(d.device_id.as_str())
        .arg(d.performed_on.to_string())
        .arg(d.passed)
        .arg(passed_date)
        .arg(rec.event_id.clone()),
    )
    .await?;
    if let Some(a) = alarms::judge_drop_test(d, &rec.event_id) {
        let project = d.project_id.as_str();
        let district = b.district(tx, project).await?;
        let place = Place { project, district: &district, device: d.device_id.as_str() };
        store::one_off(tx, &mut b.memo, &place, &a, rec.occurred_us, rec).await?;
    }
    Ok(())
}
