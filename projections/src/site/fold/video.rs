//! 远程视频监控: GB/T 28181 cameras (registration, status) and their alarms (one-off).

use siteledger_domain::site::alarms;
use siteledger_domain::site::{CameraAlarm, CameraRegistered, CameraStatus, CameraStatusChanged};

use super::store::{self, Place};
use super::{Batch, Rec, micros};
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

/// `video.camera.status.v1` (a camera not registered yet gets a row named by its id).
pub(super) async fn status(tx: &mut Tx, rec: &Rec<'_>, s: &CameraStatusChanged) -> Result<(), sqlx::Error> {
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
    store::one_off(tx, &place, &a, micros(c.alarm_at.instant()), rec).await
}
