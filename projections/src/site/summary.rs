//! The site overview's stored project summaries: per project, whether it has site data, its latest values (the
//! highest over its monitors) and its cameras and lifting devices, recomputed by the runtime when the project's
//! site records change ([`ReadDb::refresh_site_summaries`]) and read by the overview ([`ReadDb::site_overview`]),
//! so that the city's overview costs its projects, not their devices' rows.
//!
//! The fold marks a project due (`site_summary.changed`, the position of its newest site record) in the
//! transaction that folds the record; a refresh computes the summary from the tables and stores it with the mark it
//! saw (`computed`): a record folded meanwhile moves the mark again and the project stays due, as for the
//! workforce findings (`workforce::findings`). The alarm counts are not stored: the overview counts them per
//! request from the day's and the open alarms (indexed by day and by open, so bounded by those, not by history).

use std::collections::{HashMap, HashSet};

use siteledger_domain::quantity::Decimal;

use super::rows::SiteOverviewRow;
use crate::Scope;
use crate::db::{Arg, ReadDb, Sql};
use crate::error::ProjectionError;
use crate::queries::project_visible;

/// Projects due that the overview computes itself before answering, if no more are due (when more are, it serves
/// the stored summaries and counts the due ones as pending): a bound on what a request costs, large enough that a
/// quiet system's answer is exact.
pub const SUMMARY_READ_THROUGH: usize = 16;

/// Projects a refresh computes (four statements) and stores (multi-row statements) in one transaction.
const REFRESH_CHUNK: usize = 128;

/// A project's summary as computed from the site tables (and stored in `site_summary`).
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
struct Summary {
    /// Whether the project has site data: latest values, devices, cameras or meters.
    has_data: i64,
    pm10: Option<String>,
    pm25: Option<String>,
    noise: Option<String>,
    wind: Option<String>,
    latest_at: Option<String>,
    cameras: i64,
    cameras_online: i64,
    lifting_devices: i64,
}

/// The overview of the projects visible to a caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteOverview {
    /// Projects with site data, by district then project id.
    pub rows: Vec<SiteOverviewRow>,
    /// Visible projects whose site records are newer than the summary shown for them (their refresh is under way;
    /// their alarm counts are current).
    pub pending: usize,
}

/// Appends ` IN (?, ?, …)` bound to `ids` (which must not be empty).
fn push_in(q: &mut Sql, ids: &[String]) {
    q.push(" IN ").bind_list(ids.iter().map(String::as_str));
}

/// The summary of `p` being computed (a project with any row has site data).
fn entry<'a>(out: &'a mut HashMap<String, Summary>, p: &str) -> &'a mut Summary {
    out.entry(p.to_owned()).or_insert_with(|| Summary { has_data: 1, ..Summary::default() })
}

fn max_decimal<'a>(vals: impl Iterator<Item = &'a str>) -> Option<String> {
    vals.filter_map(|v| Decimal::parse(v).ok()).max_by(Decimal::cmp_value).map(|d| d.to_string())
}

#[derive(sqlx::FromRow)]
struct Due {
    project_id: String,
    changed: i64,
}

#[derive(sqlx::FromRow)]
struct LatestValue {
    project_id: String,
    metric: String,
    at: String,
    value: String,
}

#[derive(sqlx::FromRow)]
struct Count {
    project_id: String,
    n: i64,
}

#[derive(sqlx::FromRow)]
struct Counted {
    project_id: String,
    n: i64,
    m: i64,
}

#[derive(sqlx::FromRow)]
struct Stored {
    project_id: String,
    name: String,
    district: String,
    #[sqlx(flatten)]
    summary: Summary,
}

impl ReadDb {
    /// Projects whose site records are newer than their stored summary (project id, the mark to store).
    pub async fn site_summaries_due(&self) -> Result<Vec<(String, i64)>, ProjectionError> {
        let due: Vec<Due> = self
            .fetch_all(&Sql::new(
                "SELECT project_id, changed FROM site_summary WHERE changed > computed ORDER BY project_id",
            ))
            .await?;
        Ok(due.into_iter().map(|d| (d.project_id, d.changed)).collect())
    }

    /// Recomputes the stored summary of every project due now ([`ReadDb::site_summaries_due`]), a chunk of projects
    /// per write transaction; returns how many it computed (the projects whose site records changed, not the city).
    pub async fn refresh_site_summaries(&self) -> Result<usize, ProjectionError> {
        let due = self.site_summaries_due().await?;
        for chunk in due.chunks(REFRESH_CHUNK) {
            let ids: Vec<String> = chunk.iter().map(|(p, _)| p.clone()).collect();
            let computed = self.compute_summaries(&ids).await?;
            // Every due project's row exists (the fold inserted it): the upsert only ever updates, many rows per
            // statement, and leaves `changed` to the fold.
            let rows = chunk
                .iter()
                .map(|(project, mark)| {
                    let s = computed.get(project).cloned().unwrap_or_default();
                    vec![
                        Arg::from(project.clone()),
                        Arg::from(*mark),
                        Arg::from(*mark),
                        Arg::from(s.has_data),
                        Arg::from(s.pm10),
                        Arg::from(s.pm25),
                        Arg::from(s.noise),
                        Arg::from(s.wind),
                        Arg::from(s.latest_at),
                        Arg::from(s.cameras),
                        Arg::from(s.cameras_online),
                        Arg::from(s.lifting_devices),
                    ]
                })
                .collect();
            let mut tx = self.begin().await?;
            tx.execute_rows(
                "INSERT INTO site_summary (project_id, changed, computed, has_data, pm10, pm25, noise, wind, latest_at, \
                 cameras, cameras_online, lifting_devices)",
                "ON CONFLICT (project_id) DO UPDATE SET computed = excluded.computed, has_data = excluded.has_data, \
                 pm10 = excluded.pm10, pm25 = excluded.pm25, noise = excluded.noise, wind = excluded.wind, \
                 latest_at = excluded.latest_at, cameras = excluded.cameras, cameras_online = excluded.cameras_online, \
                 lifting_devices = excluded.lifting_devices",
                rows,
            )
            .await?;
            tx.commit().await?;
            self.note_derived_pass();
            self.after_commit().await;
        }
        Ok(due.len())
    }

    /// The summaries of `ids` (not empty) from the site tables, four statements for all of them; a project without
    /// site data has none.
    async fn compute_summaries(&self, ids: &[String]) -> Result<HashMap<String, Summary>, ProjectionError> {
        let mut out: HashMap<String, Summary> = HashMap::new();
        let mut q = Sql::new("SELECT project_id, metric, at, value FROM site_latest WHERE project_id");
        push_in(&mut q, ids);
        let latest: Vec<LatestValue> = self.fetch_all(&q).await?;
        let mut by_project: HashMap<&str, Vec<&LatestValue>> = HashMap::new();
        for l in &latest {
            by_project.entry(l.project_id.as_str()).or_default().push(l);
        }
        for (project, values) in by_project {
            let of = |m: &str| max_decimal(values.iter().filter(|l| l.metric == m).map(|l| l.value.as_str()));
            let s = entry(&mut out, project);
            s.pm10 = of("pm10");
            s.pm25 = of("pm25");
            s.noise = of("noise");
            s.wind = of("wind");
            s.latest_at = values.iter().map(|l| l.at.clone()).max();
        }
        let mut q = Sql::new(
            "SELECT project_id, COUNT(*) AS n, \
             CAST(SUM(CASE WHEN status = 'online' THEN 1 ELSE 0 END) AS BIGINT) AS m FROM site_cameras WHERE project_id",
        );
        push_in(&mut q, ids);
        q.push(" GROUP BY project_id");
        for c in self.fetch_all::<Counted>(&q).await? {
            let s = entry(&mut out, &c.project_id);
            s.cameras = c.n;
            s.cameras_online = c.m;
        }
        let mut q = Sql::new(
            "SELECT project_id, COUNT(*) AS n, \
             CAST(SUM(CASE WHEN family IN ('crane', 'hoist') THEN 1 ELSE 0 END) AS BIGINT) AS m FROM site_devices \
             WHERE project_id",
        );
        push_in(&mut q, ids);
        q.push(" GROUP BY project_id");
        for c in self.fetch_all::<Counted>(&q).await? {
            entry(&mut out, &c.project_id).lifting_devices = c.m;
        }
        let mut q = Sql::new("SELECT DISTINCT project_id FROM site_meters WHERE project_id");
        push_in(&mut q, ids);
        for (p,) in self.fetch_all::<(String,)>(&q).await? {
            entry(&mut out, &p);
        }
        Ok(out)
    }

    /// Projects with site data visible to `scope` (in `district` if given), with their latest values, cameras and
    /// lifting devices from the stored summaries (those due computed now if they are at most
    /// [`SUMMARY_READ_THROUGH`]), and their alarms raised on `day` (`YYYY-MM-DD`) and open now, counted now.
    pub async fn site_overview(
        &self,
        scope: &Scope,
        day: &str,
        district: Option<&str>,
    ) -> Result<SiteOverview, ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok(SiteOverview::default());
        }
        let narrow = |q: &mut Sql, col: &str| {
            project_visible(q, scope, col);
            if let Some(d) = district {
                q.push(&format!(
                    " AND EXISTS (SELECT 1 FROM projects dp WHERE dp.project_id = {col} AND dp.district = "
                ));
                q.bind(d).push(")");
            }
        };
        let mut q = Sql::new("SELECT s.project_id, s.changed FROM site_summary s WHERE ");
        narrow(&mut q, "s.project_id");
        q.push(" AND s.changed > s.computed ORDER BY s.project_id");
        let due: Vec<Due> = self.fetch_all(&q).await?;
        // All due projects computed now (the answer is then what the tables say), or none: under load, when more
        // are due, a request costs only what it reads.
        let computed_now = !due.is_empty() && due.len() <= SUMMARY_READ_THROUGH;
        let fresh = if computed_now {
            let ids: Vec<String> = due.iter().map(|d| d.project_id.clone()).collect();
            self.compute_summaries(&ids).await?
        } else {
            HashMap::new()
        };
        let pending = if computed_now { 0 } else { due.len() };
        let due: HashSet<String> =
            if computed_now { due.into_iter().map(|d| d.project_id).collect() } else { HashSet::new() };

        let mut q = Sql::new(
            "SELECT s.project_id, p.name, p.district, s.has_data, s.pm10, s.pm25, s.noise, s.wind, s.latest_at, s.cameras, \
             s.cameras_online, s.lifting_devices FROM site_summary s JOIN projects p ON p.project_id = s.project_id \
             WHERE ",
        );
        narrow(&mut q, "s.project_id");
        q.push(" AND (s.has_data = 1 OR s.changed > s.computed) ORDER BY p.district, s.project_id");
        let stored: Vec<Stored> = self.fetch_all(&q).await?;

        let mut q = Sql::new("SELECT a.project_id, COUNT(*) AS n FROM site_alarms a WHERE a.day = ");
        q.bind(day).push(" AND ");
        narrow(&mut q, "a.project_id");
        q.push(" GROUP BY a.project_id");
        let today: HashMap<String, i64> =
            self.fetch_all::<Count>(&q).await?.into_iter().map(|c| (c.project_id, c.n)).collect();
        let mut q = Sql::new("SELECT a.project_id, COUNT(*) AS n FROM site_alarms a WHERE a.open = 1 AND ");
        narrow(&mut q, "a.project_id");
        q.push(" GROUP BY a.project_id");
        let open: HashMap<String, i64> =
            self.fetch_all::<Count>(&q).await?.into_iter().map(|c| (c.project_id, c.n)).collect();

        let rows = stored
            .into_iter()
            .filter_map(|r| {
                let s = if due.contains(&r.project_id) {
                    // Computed now: no summary means no site data (any more).
                    fresh.get(&r.project_id)?.clone()
                } else if r.summary.has_data == 1 {
                    r.summary
                } else {
                    // Never computed, or without site data when last computed: listed once a refresh finds some.
                    return None;
                };
                Some(SiteOverviewRow {
                    alarms_today: today.get(&r.project_id).copied().unwrap_or(0),
                    open_alarms: open.get(&r.project_id).copied().unwrap_or(0),
                    project_id: r.project_id,
                    name: r.name,
                    district: r.district,
                    pm10: s.pm10,
                    pm25: s.pm25,
                    noise: s.noise,
                    wind: s.wind,
                    latest_at: s.latest_at,
                    cameras: s.cameras,
                    cameras_online: s.cameras_online,
                    lifting_devices: s.lifting_devices,
                })
            })
            .collect();
        Ok(SiteOverview { rows, pending })
    }
}
