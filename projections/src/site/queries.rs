//! The `site` queries: `impl ReadDb` blocks, each taking the caller's [`Scope`] (district bureaus see their
//! district's projects, enterprises the projects they take part in).

use std::collections::HashMap;

use siteledger_domain::site::rules::{self, Due};
use siteledger_domain::site::{CranePolicy, EnvPolicy};
use siteledger_domain::{DistrictCode, LocalDate};
use time::OffsetDateTime;

use super::fold::rollup::Span;
use super::rows::{
    CameraRow, CraneDayRow, CycleRow, DeviceRow, GapRow, GatewayRow, HoistCheckRow, LatestRow, MeterDayRow, MeterRow,
    Resolution, SiteAlarmRow, SiteProject, ThresholdsRow, WindowRow,
};
use super::{policy_books, policy_label};
use crate::Scope;
use crate::db::{ReadDb, Sql, to_i64};
use crate::error::ProjectionError;
use crate::queries::project_visible;

/// The thresholds of the policies in force (each with whether it is the default).
fn thresholds((ep, ep_default): &(EnvPolicy, bool), (cp, cp_default): &(CranePolicy, bool)) -> ThresholdsRow {
    ThresholdsRow {
        env_policy: policy_label(ep.jurisdiction.as_str(), ep.version.get(), *ep_default),
        noise_day: ep.noise_day_limit_db_a.to_string(),
        noise_night: ep.noise_night_limit_db_a.to_string(),
        night: format!("{}–{}", ep.night_start, ep.night_end),
        leq_window_min: ep.leq_window_min.get(),
        pm10_warn: ep.pm10_warn_ug_m3.to_string(),
        pm10_alarm: ep.pm10_alarm_ug_m3.to_string(),
        pm_window_min: ep.pm_window_min.get(),
        pm10_placeholder: ep.pm10_placeholder,
        crane_policy: policy_label(cp.jurisdiction.as_str(), cp.version.get(), *cp_default),
        moment_warn: cp.moment_warn_pct.to_string(),
        moment_violation: cp.moment_violation_pct.to_string(),
        wind_stop: cp.wind_stop_m_s.to_string(),
        leakage: cp.leakage_alarm_ma.to_string(),
    }
}

/// The columns of a judged window ([`WindowRow`]), from `site_windows w`.
const WINDOW_COLUMNS: &str = "SELECT w.project_id, w.device_id, w.metric, w.window_start_us, w.window_min, w.value, \
     w.readings, w.band, w.limit_value, w.warn_value, w.night, w.policy FROM site_windows w";

/// The columns of a roll-up row ([`RollupRow`]), from a table aliased `r`.
const ROLLUP_COLUMNS: &str = "SELECT r.project_id, r.device_id, r.metric, r.bucket_us, r.readings, r.value_sum, \
     r.min_value, r.max_value, r.exceed_min, r.warn_min";

/// The hourly roll-ups of one metric of a district's projects visible to `scope`, bucket start in
/// `[from_us, until_us)`: the statement, to be ordered or limited by the caller.
fn district_rollups(scope: &Scope, district: &str, metric: &str, (from_us, until_us): (i64, i64)) -> Sql {
    let mut q = Sql::new(&format!("{ROLLUP_COLUMNS} FROM site_rollup_hour r WHERE r.district = "));
    q.bind(district).push(" AND r.metric = ");
    q.bind(metric).push(" AND r.bucket_us >= ");
    q.bind(from_us).push(" AND r.bucket_us < ");
    q.bind(until_us).push(" AND ");
    project_visible(&mut q, scope, "r.project_id");
    q
}

/// A roll-up row as stored.
#[derive(sqlx::FromRow)]
struct RollupRow {
    project_id: String,
    device_id: String,
    metric: String,
    bucket_us: i64,
    readings: i64,
    value_sum: String,
    min_value: Option<String>,
    max_value: Option<String>,
    exceed_min: i64,
    warn_min: i64,
}

impl RollupRow {
    /// The bucket as a series row: its mean (Leq for noise, Σ 10^(L/10) being what the fold sums), rounded to 0.1
    /// as windows are, and the worst band of the windows judged in it.
    fn into_window(self, span: Span) -> WindowRow {
        let sum: f64 = self.value_sum.parse().unwrap_or(0.0);
        let n = crate::db::to_u64(self.readings);
        let value = if self.metric == "noise" {
            rules::leq_of_energy(sum, n).map(rules::round1)
        } else {
            rules::pm_mean_of_sum(sum, n)
        };
        let band = if self.exceed_min > 0 {
            "violation"
        } else if self.warn_min > 0 {
            "warning"
        } else {
            "normal"
        };
        WindowRow {
            project_id: self.project_id,
            device_id: self.device_id,
            metric: self.metric,
            window_start_us: self.bucket_us,
            window_min: span.minutes(),
            value: value.map(|v| v.to_string()).unwrap_or_default(),
            readings: self.readings,
            band: band.to_owned(),
            limit_value: None,
            warn_value: None,
            night: 0,
            policy: String::new(),
            resolution: match span {
                Span::Hour => "hour",
                Span::Day => "day",
            }
            .to_owned(),
            min_value: self.min_value,
            max_value: self.max_value,
            exceed_min: Some(self.exceed_min),
            warn_min: Some(self.warn_min),
        }
    }
}

fn span(r: Resolution) -> Span {
    match r {
        Resolution::Hour => Span::Hour,
        Resolution::Day => Span::Day,
    }
}

/// Judged windows as series rows (`resolution: "window"`).
fn windows(mut rows: Vec<WindowRow>) -> Vec<WindowRow> {
    for w in &mut rows {
        "window".clone_into(&mut w.resolution);
    }
    rows
}

/// Roll-ups before the raw period and windows in it, ordered by metric, device, time.
fn merge(mut rolled: Vec<WindowRow>, windows: Vec<WindowRow>) -> Vec<WindowRow> {
    rolled.extend(windows);
    rolled.sort_by(|a, b| {
        (&a.metric, &a.device_id, a.window_start_us).cmp(&(&b.metric, &b.device_id, b.window_start_us))
    });
    rolled
}

impl ReadDb {
    /// Derived alarms visible to `scope`, newest first; `project` restricts to one project.
    pub async fn site_alarms(
        &self,
        scope: &Scope,
        project: Option<&str>,
        open_only: bool,
        limit: u64,
    ) -> Result<Vec<SiteAlarmRow>, ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok(Vec::new());
        }
        let mut q = Sql::new(
            "SELECT a.alarm_key, a.project_id, a.district, a.device_id, a.rule, a.level, a.message, a.value, \
             a.threshold, a.at_us, a.day, a.open, a.cleared_us, a.cleared_event_id, a.samples, \
             a.event_ids FROM site_alarms a WHERE ",
        );
        project_visible(&mut q, scope, "a.project_id");
        if let Some(p) = project {
            q.push(" AND a.project_id = ");
            q.bind(p);
        }
        if open_only {
            q.push(" AND a.open = 1");
        }
        q.push(" ORDER BY a.at_us DESC, a.alarm_key LIMIT ");
        q.bind(to_i64(limit.clamp(1, 5000)));
        Ok(self.fetch_all(&q).await?)
    }

    /// Window series of a project visible to `scope` since `since_us`; `metric` restricts to one metric. Judged
    /// windows of the raw period (`resolution: "window"`), and before it ([`ReadDb::site_raw_from`]) hourly
    /// roll-ups (`resolution: "hour"`).
    pub async fn site_series(
        &self,
        scope: &Scope,
        project: &str,
        metric: Option<&str>,
        since_us: i64,
    ) -> Result<Vec<WindowRow>, ProjectionError> {
        self.series_of(scope, project, None, metric, since_us).await
    }

    /// [`ReadDb::site_series`], of one device if `device` is given (its primary-key range, for one metric).
    async fn series_of(
        &self,
        scope: &Scope,
        project: &str,
        device: Option<&str>,
        metric: Option<&str>,
        since_us: i64,
    ) -> Result<Vec<WindowRow>, ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok(Vec::new());
        }
        let raw_from = self.site_raw_from().await?;
        let mut q = Sql::new(&format!("{WINDOW_COLUMNS} WHERE "));
        project_visible(&mut q, scope, "w.project_id");
        q.push(" AND w.project_id = ");
        q.bind(project);
        if let Some(d) = device {
            q.push(" AND w.device_id = ");
            q.bind(d);
        }
        if let Some(m) = metric {
            q.push(" AND w.metric = ");
            q.bind(m);
        }
        q.push(" AND w.window_start_us >= ");
        q.bind(raw_from.map_or(since_us, |r| r.max(since_us)));
        q.push(" ORDER BY w.metric, w.device_id, w.window_start_us");
        let windows = windows(self.fetch_all(&q).await?);
        match raw_from {
            Some(r) if since_us < r => {
                let mut rolled = self.site_rollups(scope, project, metric, Resolution::Hour, (since_us, r)).await?;
                if let Some(d) = device {
                    rolled.retain(|w| w.device_id == d);
                }
                Ok(merge(rolled, windows))
            }
            _ => Ok(windows),
        }
    }

    /// Roll-ups of a project visible to `scope` with bucket start in `[from_us, until_us)`; `metric` restricts to
    /// one metric. Ordered by metric, device, time.
    pub async fn site_rollups(
        &self,
        scope: &Scope,
        project: &str,
        metric: Option<&str>,
        resolution: Resolution,
        (from_us, until_us): (i64, i64),
    ) -> Result<Vec<WindowRow>, ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok(Vec::new());
        }
        let span = span(resolution);
        let mut q = Sql::new(&format!("{ROLLUP_COLUMNS} FROM {} r WHERE ", span.table()));
        project_visible(&mut q, scope, "r.project_id");
        q.push(" AND r.project_id = ");
        q.bind(project);
        if let Some(m) = metric {
            q.push(" AND r.metric = ");
            q.bind(m);
        }
        q.push(" AND r.bucket_us >= ");
        q.bind(from_us).push(" AND r.bucket_us < ");
        q.bind(until_us).push(" ORDER BY r.metric, r.device_id, r.bucket_us");
        let rows: Vec<RollupRow> = self.fetch_all(&q).await?;
        Ok(rows.into_iter().map(|r| r.into_window(span)).collect())
    }

    /// A visible project's crane work cycles per crane and day, the newest day first, at most `limit` rows
    /// (1–1000): kept for ever, also for the days before the raw period whose cycles were deleted.
    pub async fn site_crane_days(
        &self,
        scope: &Scope,
        project: &str,
        limit: usize,
    ) -> Result<Vec<CraneDayRow>, ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok(Vec::new());
        }
        let mut q = Sql::new(
            "SELECT d.device_id, d.day, d.cycles, d.warning, d.violation, d.over_moment, d.operator_issues \
             FROM site_crane_days d WHERE ",
        );
        project_visible(&mut q, scope, "d.project_id");
        q.push(" AND d.project_id = ");
        q.bind(project).push(" ORDER BY d.day DESC, d.device_id LIMIT ");
        q.bind(to_i64(limit.clamp(1, 1000) as u64));
        Ok(self.fetch_all(&q).await?)
    }

    /// The monitors of a district visible to `scope` with the highest windows since `since_us` (one metric), for the
    /// district charts: at most `n` (project, device) pairs, highest first (ties by project, then device), and how
    /// many monitors have windows in the period. The raw period is ranked in the database (one row per monitor
    /// comes back, not every window: a district's day is tens of thousands of windows); hourly roll-ups before it
    /// ([`ReadDb::site_raw_from`]) by their hourly value, as drawn.
    pub async fn site_district_top_monitors(
        &self,
        scope: &Scope,
        district: &str,
        metric: &str,
        since_us: i64,
        n: usize,
    ) -> Result<(Vec<(String, String)>, usize), ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok((Vec::new(), 0));
        }
        let raw_from = self.site_raw_from().await?;
        let mut q = Sql::new(
            "SELECT w.project_id, w.device_id, MAX(CAST(w.value AS DOUBLE PRECISION)) FROM site_windows w \
             WHERE w.district = ",
        );
        q.bind(district).push(" AND w.metric = ");
        q.bind(metric).push(" AND w.window_start_us >= ");
        q.bind(raw_from.map_or(since_us, |r| r.max(since_us))).push(" AND ");
        project_visible(&mut q, scope, "w.project_id");
        q.push(" GROUP BY w.project_id, w.device_id");
        let ranked: Vec<(String, String, Option<f64>)> = self.fetch_all(&q).await?;
        let mut highest: HashMap<(String, String), f64> = HashMap::with_capacity(ranked.len());
        for (project, device, top) in ranked {
            highest.insert((project, device), top.unwrap_or(f64::NEG_INFINITY));
        }
        if let Some(r) = raw_from.filter(|r| since_us < *r) {
            let q = district_rollups(scope, district, metric, (since_us, r));
            let rows: Vec<RollupRow> = self.fetch_all(&q).await?;
            for w in rows.into_iter().map(|r| r.into_window(Span::Hour)) {
                let v = w.value.parse::<f64>().unwrap_or(f64::NEG_INFINITY);
                let e = highest.entry((w.project_id, w.device_id)).or_insert(f64::NEG_INFINITY);
                *e = e.max(v);
            }
        }
        let monitors = highest.len();
        let mut ranked: Vec<((String, String), f64)> = highest.into_iter().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        ranked.truncate(n);
        Ok((ranked.into_iter().map(|(k, _)| k).collect(), monitors))
    }

    /// One monitor's window series of one metric since `since_us`, if its project is visible to `scope`: judged
    /// windows of the raw period and hourly roll-ups before it (as [`ReadDb::site_series`]).
    pub async fn site_monitor_series(
        &self,
        scope: &Scope,
        project: &str,
        device: &str,
        metric: &str,
        since_us: i64,
    ) -> Result<Vec<WindowRow>, ProjectionError> {
        self.series_of(scope, project, Some(device), Some(metric), since_us).await
    }

    /// Window series of every visible project of a district since `since_us` (one metric): judged windows of the
    /// raw period, hourly roll-ups before it (as [`ReadDb::site_series`]), in (project, device, start) order, at
    /// most `limit` rows after `after` (the last row of the previous page: project, device, start µs). Returns one
    /// row more than `limit` when more follow, so the caller can say so.
    pub async fn site_district_series(
        &self,
        scope: &Scope,
        district: &str,
        metric: &str,
        since_us: i64,
        after: Option<(&str, &str, i64)>,
        limit: usize,
    ) -> Result<Vec<WindowRow>, ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok(Vec::new());
        }
        let take = to_i64(limit.saturating_add(1) as u64);
        let keyset = |q: &mut Sql, columns: &str| {
            if let Some((project, device, start)) = after {
                q.push(&format!(" AND ({columns}) > ("));
                q.bind(project).push(", ");
                q.bind(device).push(", ");
                q.bind(start).push(")");
            }
        };
        let raw_from = self.site_raw_from().await?;
        let mut q = Sql::new(&format!("{WINDOW_COLUMNS} WHERE w.district = "));
        q.bind(district).push(" AND w.metric = ");
        q.bind(metric).push(" AND w.window_start_us >= ");
        q.bind(raw_from.map_or(since_us, |r| r.max(since_us))).push(" AND ");
        project_visible(&mut q, scope, "w.project_id");
        keyset(&mut q, "w.project_id, w.device_id, w.window_start_us");
        q.push(" ORDER BY w.project_id, w.device_id, w.window_start_us LIMIT ");
        q.bind(take);
        let windows = windows(self.fetch_all(&q).await?);
        let Some(r) = raw_from.filter(|r| since_us < *r) else { return Ok(windows) };
        let mut q = district_rollups(scope, district, metric, (since_us, r));
        keyset(&mut q, "r.project_id, r.device_id, r.bucket_us");
        q.push(" ORDER BY r.project_id, r.device_id, r.bucket_us LIMIT ");
        q.bind(take);
        let rows: Vec<RollupRow> = self.fetch_all(&q).await?;
        // Both parts are in key order and never share a key (roll-ups end where the raw period starts): the page is
        // the first `limit + 1` of their merge.
        let mut all: Vec<WindowRow> = rows.into_iter().map(|r| r.into_window(Span::Hour)).collect();
        all.extend(windows);
        all.sort_by(|a, b| {
            (&a.project_id, &a.device_id, a.window_start_us).cmp(&(&b.project_id, &b.device_id, b.window_start_us))
        });
        all.truncate(limit.saturating_add(1));
        Ok(all)
    }

    /// A project's site page, if visible to `scope`: series since `since_us`, inspections judged on `today`, the
    /// thresholds in force at `now`.
    pub async fn site_project(
        &self,
        scope: &Scope,
        project: &str,
        since_us: i64,
        now: OffsetDateTime,
        today: LocalDate,
    ) -> Result<Option<SiteProject>, ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok(None);
        }
        let mut q = Sql::new("SELECT p.project_id, p.name, p.district FROM projects p WHERE ");
        project_visible(&mut q, scope, "p.project_id");
        q.push(" AND p.project_id = ");
        q.bind(project);
        let Some((project_id, name, district)): Option<(String, String, String)> = self.fetch_optional(&q).await?
        else {
            return Ok(None);
        };
        let pid = project_id.as_str();
        let by_project = |sql: &str| Sql::new(sql).arg(pid);
        let latest: Vec<LatestRow> = self
            .fetch_all(&by_project(
                "SELECT project_id, device_id, metric, at, value, flag, event_id FROM site_latest \
                 WHERE project_id = ? ORDER BY device_id, metric",
            ))
            .await?;
        let windows = self.site_series(scope, pid, None, since_us).await?;
        let alarms = self.site_alarms(scope, Some(pid), false, 200).await?;
        let cycles: Vec<CycleRow> = self
            .fetch_all(&by_project(
                "SELECT event_id, device_id, started_at, ended_at, max_load_t, max_moment_pct, max_wind_m_s, \
                 radius_m, height_m, over_moment_count, operator_ref, band, operator_issue FROM site_crane_cycles \
                 WHERE project_id = ? ORDER BY started_us DESC, event_id LIMIT 100",
            ))
            .await?;
        let devices: Vec<DeviceRow> = self
            .fetch_all(&by_project(
                "SELECT device_id, family, latest, operator_ref, cert_valid_until FROM site_devices \
                 WHERE project_id = ? ORDER BY family, device_id",
            ))
            .await?;
        let (env, crane) = self.site_policies_in_force(&district, now).await?;
        let hoists = self.site_hoists(pid, &crane.0, today).await?;
        let meters: Vec<MeterRow> = self
            .fetch_all(&by_project(
                "SELECT device_id, meter, last_total, last_read_at, residual_ma, temperature_c FROM site_meters \
                 WHERE project_id = ? ORDER BY meter, device_id",
            ))
            .await?;
        let meter_days: Vec<MeterDayRow> = self
            .fetch_all(&by_project(
                "SELECT device_id, meter, day, consumption, readings FROM site_meter_days WHERE project_id = ? \
                 ORDER BY day DESC, meter, device_id LIMIT 120",
            ))
            .await?;
        let cameras: Vec<CameraRow> = self
            .fetch_all(&by_project(
                "SELECT device_id, name, position_name, registered, status, last_keepalive_at FROM site_cameras \
                 WHERE project_id = ? ORDER BY device_id",
            ))
            .await?;
        let (cameras, camera_online_permille) = self.cameras_today(pid, cameras, now, today).await?;
        let gateways: Vec<GatewayRow> = self
            .fetch_all(&by_project(
                "SELECT gateway_id, at, queue_depth, queue_bytes, clock_skew_ms, rejected_packets, deviations \
                 FROM site_gateways WHERE project_id = ? ORDER BY gateway_id",
            ))
            .await?;
        let gaps = self.site_gaps(scope, pid).await?;
        Ok(Some(SiteProject {
            thresholds: thresholds(&env, &crane),
            project_id,
            name,
            district,
            latest,
            windows,
            alarms,
            cycles,
            devices,
            hoists,
            meters,
            meter_days,
            cameras,
            camera_online_permille,
            gateways,
            gaps,
        }))
    }

    /// The env and crane policies in force in `district` at `now`, each with whether it is the default.
    async fn site_policies_in_force(
        &self,
        district: &str,
        now: OffsetDateTime,
    ) -> Result<((EnvPolicy, bool), (CranePolicy, bool)), ProjectionError> {
        let rows: Vec<(String, String)> =
            self.fetch_all(&Sql::new("SELECT kind, payload FROM site_policies ORDER BY position")).await?;
        let (env_book, crane_book) = policy_books(rows);
        let d = DistrictCode::parse(district).ok();
        let env = env_book
            .in_force(d.as_ref(), now)
            .map_or_else(|| (EnvPolicy::default_policy(), true), |p| (p.clone(), false));
        let crane = crane_book
            .in_force(d.as_ref(), now)
            .map_or_else(|| (CranePolicy::default_policy(), true), |p| (p.clone(), false));
        Ok((env, crane))
    }

    /// A project's hoists with their inspections judged on `today` under `policy`.
    async fn site_hoists(
        &self,
        project: &str,
        policy: &CranePolicy,
        today: LocalDate,
    ) -> Result<Vec<HoistCheckRow>, ProjectionError> {
        #[derive(sqlx::FromRow)]
        struct Check {
            device_id: String,
            calibrated_on: Option<String>,
            valid_until: Option<String>,
            certificate_no: Option<String>,
            last_drop_test: Option<String>,
            last_drop_passed: Option<i64>,
            last_passed_drop: Option<String>,
        }
        let checks: Vec<Check> = self
            .fetch_all(
                &Sql::new(
                    "SELECT device_id, calibrated_on, valid_until, certificate_no, last_drop_test, last_drop_passed, \
                     last_passed_drop FROM site_hoist_checks WHERE project_id = ? ORDER BY device_id",
                )
                .arg(project),
            )
            .await?;
        let due = |d: Due| match d {
            Due::ValidUntil(x) => ("valid".to_owned(), Some(x.to_string())),
            Due::Overdue(x) => ("overdue".to_owned(), Some(x.to_string())),
            Due::Missing => ("missing".to_owned(), None),
        };
        Ok(checks
            .into_iter()
            .map(|c| {
                let cal = match (&c.calibrated_on, &c.valid_until) {
                    (Some(a), Some(b)) => LocalDate::parse(a).ok().zip(LocalDate::parse(b).ok()),
                    _ => None,
                };
                let (calibration, calibration_until) = due(rules::calibration_due(policy, cal, today));
                let passed = c.last_passed_drop.as_deref().and_then(|s| LocalDate::parse(s).ok());
                let (drop_test, drop_test_due) = due(rules::drop_test_due(policy, passed, today));
                HoistCheckRow {
                    device_id: c.device_id,
                    calibrated_on: c.calibrated_on,
                    certificate_no: c.certificate_no,
                    calibration,
                    calibration_until,
                    last_drop_test: c.last_drop_test,
                    last_drop_passed: c.last_drop_passed.map(|v| v != 0),
                    drop_test,
                    drop_test_due,
                }
            })
            .collect())
    }

    /// Signer gaps (数据缺失) of a project's keys, from the shared `alarms` table, newest first.
    pub async fn site_gaps(&self, scope: &Scope, project: &str) -> Result<Vec<GapRow>, ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok(Vec::new());
        }
        let mut q = Sql::new(
            "SELECT a.event_id, a.message, a.value, a.key_id, a.raised_at FROM alarms a \
             WHERE a.category = 'data_gap' AND ",
        );
        project_visible(&mut q, scope, "a.project_id");
        q.push(" AND a.project_id = ");
        q.bind(project);
        q.push(" ORDER BY a.position DESC LIMIT 100");
        Ok(self.fetch_all(&q).await?)
    }
}
