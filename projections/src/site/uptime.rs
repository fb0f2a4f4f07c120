//! 在线率 over time, read side: the folded day rows of a project's cameras plus each camera's open span up to the
//! time asked, credited by `domain::site::uptime` (silence beyond the hourly report counts offline). Bounded: one
//! state row per camera and one day row per camera and day asked.

use std::collections::BTreeMap;

use siteledger_domain::LocalDate;
use siteledger_domain::site::uptime::{self, Timeline};
use time::OffsetDateTime;

use super::rows::{CameraDayRow, CameraRow};
use crate::Scope;
use crate::db::{ReadDb, Sql};
use crate::error::ProjectionError;
use crate::queries::project_visible;

/// The most days one question covers.
pub const MAX_CAMERA_DAYS: i64 = 62;

fn micros(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1000).unwrap_or(0)
}

fn day_of(us: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    crate::shanghai(t).date().to_string()
}

impl ReadDb {
    /// Online time per camera and day of `project` from `from` to `to` (inclusive, at most [`MAX_CAMERA_DAYS`]
    /// days from `from`), as known at `now`: the folded spans between reports, and each camera's open span from
    /// its latest report to `now`. `None` if the project is not visible to `scope` (or does not exist). Rows are
    /// ordered by camera and day; a day the camera's reports do not cover has no row.
    pub async fn site_camera_days(
        &self,
        scope: &Scope,
        project: &str,
        from: LocalDate,
        to: LocalDate,
        now: OffsetDateTime,
    ) -> Result<Option<Vec<CameraDayRow>>, ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok(None);
        }
        let mut q = Sql::new("SELECT p.project_id FROM projects p WHERE ");
        project_visible(&mut q, scope, "p.project_id");
        q.push(" AND p.project_id = ");
        q.bind(project);
        let Some((pid,)): Option<(String,)> = self.fetch_optional(&q).await? else { return Ok(None) };
        let last = from.date().checked_add(time::Duration::days(MAX_CAMERA_DAYS - 1)).unwrap_or(from.date());
        let (from, to) = (from.to_string(), to.date().min(last).to_string());
        Ok(Some(self.camera_days(&pid, &from, &to, micros(now)).await?))
    }

    /// [`ReadDb::site_camera_days`] of a project already checked visible, days as `YYYY-MM-DD`.
    pub(super) async fn camera_days(
        &self,
        project: &str,
        from: &str,
        to: &str,
        now_us: i64,
    ) -> Result<Vec<CameraDayRow>, ProjectionError> {
        let stored: Vec<(String, String, i64, i64)> = self
            .fetch_all(
                &Sql::new(
                    "SELECT device_id, day, online_us, known_us FROM site_camera_days \
                     WHERE project_id = ? AND day >= ? AND day <= ? ORDER BY device_id, day",
                )
                .arg(project)
                .arg(from)
                .arg(to),
            )
            .await?;
        let mut days: BTreeMap<(String, String), (i64, i64)> =
            stored.into_iter().map(|(dev, day, on, known)| ((dev, day), (on, known))).collect();
        let states: Vec<(String, i64, i64)> = self
            .fetch_all(
                &Sql::new("SELECT device_id, online, at_us FROM site_camera_state WHERE project_id = ?").arg(project),
            )
            .await?;
        for (dev, online, at_us) in states {
            let t = Timeline { online: online != 0, at_us };
            for d in uptime::open_span(t, now_us, uptime::SILENCE_US) {
                let day = day_of(d.day_start_us);
                if day.as_str() < from || day.as_str() > to {
                    continue;
                }
                let e = days.entry((dev.clone(), day)).or_default();
                e.0 += d.online_us;
                e.1 += d.known_us;
            }
        }
        Ok(days
            .into_iter()
            .map(|((device_id, day), (on, known))| CameraDayRow {
                device_id,
                day,
                online_s: on / 1_000_000,
                known_s: known / 1_000_000,
                online_permille: uptime::share_permille(on, known),
            })
            .collect())
    }

    /// The site page's cameras with their online share of `today` up to `now`, and the share of all of them (their
    /// online time over their known time).
    pub(super) async fn cameras_today(
        &self,
        project: &str,
        mut cameras: Vec<CameraRow>,
        now: OffsetDateTime,
        today: LocalDate,
    ) -> Result<(Vec<CameraRow>, Option<u64>), ProjectionError> {
        let day = today.to_string();
        let rows = self.camera_days(project, &day, &day, micros(now)).await?;
        let (mut on, mut known) = (0, 0);
        for r in &rows {
            on += r.online_s;
            known += r.known_s;
            if let Some(c) = cameras.iter_mut().find(|c| c.device_id == r.device_id) {
                c.day_online_permille = r.online_permille;
            }
        }
        Ok((cameras, uptime::share_permille(on, known)))
    }
}
