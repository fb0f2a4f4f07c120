//! 远程视频监控: GB/T 28181 cameras (registration, status and online time per day) and their alarms (one-off).

use siteledger_domain::site::alarms;
use siteledger_domain::site::uptime::{self, Report, Step, Timeline};
use siteledger_domain::site::{CameraAlarm, CameraRegistered, CameraStatus, CameraStatusChanged};

use super::store::{self, Place};
use super::{Batch, Rec, local_day, micros};
use crate::db::{Sql, Tx};

/// `video.camera.registered.v1`.
pub(super) async fn registered(tx: &mut Tx, rec: &Rec<'_>, c: &CameraRegistered) -> Result<(), sqlx::Error> {
    tx.execute(
        &Sql::new(
            "INSERT INTO site_cameras (project_id, device_id, name, position_name, registered, status, \
             status_us, last_keepalive_at, event_id) VALUES (?, ?, ?, ?, 1, 'offline', 0, NULL, ?) \
             ON CONFLICT (project_id, device_id) DO UPDATE SET name = excluded.name, \
             position_name = excluded.position_name, registered = 1",
        )
        .arg(c.project_id.as_str())
        .arg(c.device_id.as_str())
        .arg(c.name.as_str())
        .arg(c.position.as_str())
        .arg(rec.event_id.clone()),
    )
    .await?;
    Ok(())
}

/// `video.camera.status.v1` (a camera not registered yet gets a row named by its id): the status shown, and the
/// online time of the span the report closes (`domain::site::uptime`). A report signed before the camera's latest
/// one is late: it changes neither the status nor the time, and is counted in `site_camera_state.late_reports`.
pub(super) async fn status(tx: &mut Tx, rec: &Rec<'_>, s: &CameraStatusChanged) -> Result<(), sqlx::Error> {
    let (project, device) = (s.project_id.as_str(), s.device_id.as_str());
    let prev: Option<(i64, i64)> = tx
        .fetch_optional(
            &Sql::new("SELECT online, at_us FROM site_camera_state WHERE project_id = ? AND device_id = ?")
                .arg(project)
                .arg(device),
        )
        .await?;
    let report = Report {
        online: s.status == CameraStatus::Online,
        at_us: rec.occurred_us,
        last_keepalive_us: s.last_keepalive_at.as_ref().map(|k| micros(k.instant())),
    };
    let prev = prev.map(|(online, at_us)| Timeline { online: online != 0, at_us });
    let (timeline, days) = match uptime::step(prev, report, uptime::SILENCE_US) {
        Step::Late => {
            tx.execute(
                &Sql::new(
                    "UPDATE site_camera_state SET late_reports = late_reports + 1 \
                     WHERE project_id = ? AND device_id = ?",
                )
                .arg(project)
                .arg(device),
            )
            .await?;
            return Ok(());
        }
        Step::Advanced { timeline, days } => (timeline, days),
    };
    tx.execute(
        &Sql::new(
            "INSERT INTO site_camera_state (project_id, device_id, online, at_us, late_reports) \
             VALUES (?, ?, ?, ?, 0) ON CONFLICT (project_id, device_id) DO UPDATE SET online = excluded.online, \
             at_us = excluded.at_us",
        )
        .arg(project)
        .arg(device)
        .arg(i64::from(timeline.online))
        .arg(timeline.at_us),
    )
    .await?;
    for d in days {
        tx.execute(
            &Sql::new(
                "INSERT INTO site_camera_days (project_id, device_id, day, online_us, known_us) \
                 VALUES (?, ?, ?, ?, ?) ON CONFLICT (project_id, device_id, day) DO UPDATE SET \
                 online_us = site_camera_days.online_us + excluded.online_us, \
                 known_us = site_camera_days.known_us + excluded.known_us",
            )
            .arg(project)
            .arg(device)
            .arg(local_day(d.day_start_us))
            .arg(d.online_us)
            .arg(d.known_us),
        )
        .await?;
    }
    let status = match s.status {
        CameraStatus::Online => "online",
        CameraStatus::Offline => "offline",
    };
    tx.execute(
        &Sql::new(
            "INSERT INTO site_cameras (project_id, device_id, name, position_name, registered, status, \
             status_us, last_keepalive_at, event_id) VALUES (?, ?, ?, '', 0, ?, ?, ?, ?) \
             ON CONFLICT (project_id, device_id) DO UPDATE SET status = excluded.status, \
             status_us = excluded.status_us, last_keepalive_at = excluded.last_keepalive_at, \
             event_id = excluded.event_id",
        )
        .arg(s.project_id.as_str())
        .arg(s.device_id.as_str())
        .arg(s.device_id.as_str())
        .arg(status)
        .arg(rec.occurred_us)
        .arg(s.last_keepalive_at.as_ref().map(ToString::to_string))
        .arg(rec.event_id.clone()),
    )
    .await?;
    Ok(())
}

/// `video.camera.alarm.v1`: a one-off alarm at the camera's alarm time.
pub(super) async fn alarm(tx: &mut Tx, b: &mut Batch, rec: &Rec<'_>, c: &CameraAlarm) -> Result<(), sqlx::Error> {
    let project = c.project_id.as_str();
    let district = b.district(tx, project).await?;
    let place = Place { project, district: &district, device: c.device_id.as_str() };
    let a = alarms::judge_camera_alarm(c, &rec.event_id);
    store::one_off(tx, &mut b.memo, &place, &a, micros(c.alarm_at.instant()), rec).await
}
