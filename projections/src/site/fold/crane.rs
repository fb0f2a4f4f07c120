//! 塔式起重机: samples (moment/load, wind, operator episodes), work cycles, operator sessions, black-box alarms
//! and control-circuit cut-offs.

use siteledger_domain::site::alarms;
use siteledger_domain::site::rules::Band;
use siteledger_domain::site::{
    CraneAlarm, CraneCutoff, CraneCycle, CraneSample, OperatorLogin, OperatorLogout, SiteEvent,
};

use super::store::{self, Place};
use super::{Batch, Rec, local_day, micros, session};
use crate::db::{Sql, Tx};

/// `crane.sample.v1`: the crane's latest state and its episodes.
pub(super) async fn sample(
    tx: &mut Tx,
    b: &mut Batch,
    rec: &Rec<'_>,
    s: &CraneSample,
    e: &SiteEvent,
) -> Result<(), sqlx::Error> {
    let (project, device) = (s.project_id.as_str(), s.device_id.as_str());
    let district = b.district(tx, project).await?;
    let at = s.sampled_at.instant();
    let at_us = micros(at);
    b.device_latest((project, device), "crane", || e.to_payload(), at_us, &rec.event_id);
    let sess = session(tx, &mut b.memo, project, device).await?;
    let judged = alarms::judge_crane_sample(b.crane_at(&district, at), s, sess.as_ref().map(|(s, _)| s), &rec.event_id);
    let place = Place { project, district: &district, device };
    for j in judged {
        store::episode(tx, &mut b.memo, &place, j, at_us, rec).await?;
    }
    Ok(())
}

/// `crane.cycle.v1`: the cycle's row (band, operator issue) if it started within the raw period, its day's counts
/// (`site_crane_days`), and its one-off alarms.
pub(super) async fn cycle(tx: &mut Tx, b: &mut Batch, rec: &Rec<'_>, c: &CraneCycle) -> Result<(), sqlx::Error> {
    let (project, device) = (c.project_id.as_str(), c.device_id.as_str());
    let district = b.district(tx, project).await?;
    let at = c.started_at.instant();
    let sess = session(tx, &mut b.memo, project, device).await?;
    let login = sess.as_ref().map(|(s, login)| (s, login.as_str()));
    let j = alarms::judge_crane_cycle(b.crane_at(&district, at), c, login, &rec.event_id);
    let started_us = micros(at);
    b.advance_horizon(started_us, rec.occurred_us);
    // A cycle from before the raw period (a gateway back after weeks) is counted in its day, not stored raw.
    let raw = started_us >= b.raw_from(tx.raw_retention_days());
    let inserted = if raw { insert_cycle(tx, rec, c, &j).await? } else { 1 };
    if inserted == 1 {
        count_day(tx, project, device, started_us, c, &j).await?;
    }
    let place = Place { project, district: &district, device };
    for a in &j.alarms {
        store::one_off(tx, &mut b.memo, &place, a, micros(at), rec).await?;
    }
    Ok(())
}

/// Adds a cycle to its crane's day (Asia/Shanghai day of its start).
async fn count_day(
    tx: &mut Tx,
    project: &str,
    device: &str,
    started_us: i64,
    c: &CraneCycle,
    j: &alarms::CycleJudgement,
) -> Result<(), sqlx::Error> {
    tx.execute(
        &Sql::new(
            "INSERT INTO site_crane_days (project_id, device_id, day, cycles, warning, violation, over_moment, \
             operator_issues) VALUES (?, ?, ?, 1, ?, ?, ?, ?) ON CONFLICT (project_id, device_id, day) DO UPDATE \
             SET cycles = site_crane_days.cycles + 1, warning = site_crane_days.warning + excluded.warning, \
             violation = site_crane_days.violation + excluded.violation, \
             over_moment = site_crane_days.over_moment + excluded.over_moment, \
             operator_issues = site_crane_days.operator_issues + excluded.operator_issues",
        )
        .arg(project)
        .arg(device)
        .arg(local_day(started_us))
        .arg(j.band == Band::Warning)
        .arg(j.band == Band::Violation)
        .arg(i64::from(c.over_moment_count))
        .arg(j.operator_issue.is_some()),
    )
    .await?;
    Ok(())
}

/// Stores a cycle's row; returns 1 if it was new.
async fn insert_cycle(
    tx: &mut Tx,
    rec: &Rec<'_>,
    c: &CraneCycle,
    j: &alarms::CycleJudgement,
) -> Result<u64, sqlx::Error> {
    let at = c.started_at.instant();
    let (project, device) = (c.project_id.as_str(), c.device_id.as_str());
    tx.execute(
        &Sql::new(
            "INSERT INTO site_crane_cycles (event_id, project_id, device_id, started_us, started_at, ended_at, \
             max_load_t, max_moment_pct, max_wind_m_s, radius_m, height_m, over_moment_count, operator_ref, \
             band, operator_issue, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (event_id) DO NOTHING",
        )
        .arg(rec.event_id.clone())
        .arg(project)
        .arg(device)
        .arg(micros(at))
        .arg(c.started_at.as_str())
        .arg(c.ended_at.as_str())
        .arg(c.max_load_t.as_str())
        .arg(c.max_moment_pct.as_str())
        .arg(c.max_wind_m_s.as_str())
        .arg(c.radius_m.as_str())
        .arg(c.height_m.as_str())
        .arg(i64::from(c.over_moment_count))
        .arg(c.operator_ref.as_ref().map(ToString::to_string))
        .arg(j.band.as_str())
        .arg(j.operator_issue.as_ref().map(|i| i.message()))
        .arg(rec.position),
    )
    .await
}

/// `crane.operator.login.v1` (cranes and hoists): the session a later operation is judged against.
pub(super) async fn login(tx: &mut Tx, b: &mut Batch, rec: &Rec<'_>, l: &OperatorLogin) -> Result<(), sqlx::Error> {
    let (project, device) = (l.project_id.as_str(), l.device_id.as_str());
    b.write_device(tx, project, device).await?;
    b.memo.sessions.remove(&(project.to_owned(), device.to_owned()));
    tx.execute(
        &Sql::new(
            "INSERT INTO site_devices (project_id, device_id, family, latest, at_us, operator_ref, \
             cert_valid_until, login_event_id, event_id) VALUES (?, ?, 'crane', '{}', 0, ?, ?, ?, ?) \
             ON CONFLICT (project_id, device_id) DO UPDATE SET operator_ref = excluded.operator_ref, \
             cert_valid_until = excluded.cert_valid_until, login_event_id = excluded.login_event_id",
        )
        .arg(l.project_id.as_str())
        .arg(l.device_id.as_str())
        .arg(l.operator_ref.as_str())
        .arg(l.certificate_valid_until.to_string())
        .arg(rec.event_id.clone())
        .arg(rec.event_id.clone()),
    )
    .await?;
    Ok(())
}

/// `crane.operator.logout.v1`: ends the session of that operator (another operator's session stays).
pub(super) async fn logout(tx: &mut Tx, b: &mut Batch, l: &OperatorLogout) -> Result<(), sqlx::Error> {
    let (project, device) = (l.project_id.as_str(), l.device_id.as_str());
    b.write_device(tx, project, device).await?;
    b.memo.sessions.remove(&(project.to_owned(), device.to_owned()));
    tx.execute(
        &Sql::new(
            "UPDATE site_devices SET operator_ref = NULL, cert_valid_until = NULL, login_event_id = NULL \
             WHERE project_id = ? AND device_id = ? AND operator_ref = ?",
        )
        .arg(l.project_id.as_str())
        .arg(l.device_id.as_str())
        .arg(l.operator_ref.as_str()),
    )
    .await?;
    Ok(())
}

/// `crane.alarm.v1`: the black box raises and clears its own episode.
pub(super) async fn black_box_alarm(
    tx: &mut Tx,
    b: &mut Batch,
    rec: &Rec<'_>,
    a: &CraneAlarm,
) -> Result<(), sqlx::Error> {
    let project = a.project_id.as_str();
    let district = b.district(tx, project).await?;
    let place = Place { project, district: &district, device: a.device_id.as_str() };
    store::episode(tx, &mut b.memo, &place, alarms::judge_crane_alarm(a, &rec.event_id), rec.occurred_us, rec).await
}

/// `crane.cutoff.v1`: a one-off violation.
pub(super) async fn cutoff(tx: &mut Tx, b: &mut Batch, rec: &Rec<'_>, c: &CraneCutoff) -> Result<(), sqlx::Error> {
    let project = c.project_id.as_str();
    let district = b.district(tx, project).await?;
    let place = Place { project, district: &district, device: c.device_id.as_str() };
    store::one_off(tx, &mut b.memo, &place, &alarms::judge_cutoff(c, &rec.event_id), rec.occurred_us, rec).await
}
