//! Scoped queries over the rating read models: decisions, days with data per application, published policies and
//! annual reports.

use serde::Serialize;

use crate::Scope;
use crate::db::{ReadDb, Sql, to_u64};
use crate::error::ProjectionError;
use crate::queries::project_visible as visible;

/// A rating decision as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecisionRow {
    /// Log position of the `rating.decision.v1` record.
    pub position: u64,
    /// Its event id.
    pub event_id: String,
    /// The project.
    pub project_id: String,
    /// Policy version.
    pub policy_version: u64,
    /// Tree size computed at.
    pub tree_size: u64,
    /// As-of date.
    pub as_of: String,
    /// Required level, if any.
    pub required: Option<u64>,
    /// Achieved level.
    pub achieved: u64,
    /// Whether the requirement is met (`None`: no requirement).
    pub meets: Option<bool>,
    /// Evidence hash.
    pub evidence_sha256: String,
    /// When it was issued.
    pub occurred_at: String,
}

#[derive(sqlx::FromRow)]
struct DecisionDb {
    position: i64,
    event_id: String,
    project_id: String,
    policy_version: i64,
    tree_size: i64,
    as_of: String,
    required: Option<i64>,
    achieved: i64,
    meets: Option<i64>,
    evidence_sha256: String,
    occurred_at: String,
}

impl From<DecisionDb> for DecisionRow {
    fn from(r: DecisionDb) -> Self {
        Self {
            position: to_u64(r.position),
            event_id: r.event_id,
            project_id: r.project_id,
            policy_version: to_u64(r.policy_version),
            tree_size: to_u64(r.tree_size),
            as_of: r.as_of,
            required: r.required.map(to_u64),
            achieved: to_u64(r.achieved),
            meets: r.meets.map(|m| m != 0),
            evidence_sha256: r.evidence_sha256,
            occurred_at: r.occurred_at,
        }
    }
}

/// Days with data of one application of a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppDaysRow {
    /// Application id.
    pub application: String,
    /// Days with at least one record since the date asked.
    pub days: u64,
    /// Records since then.
    pub records: u64,
    /// Last day with data (ever).
    pub last_day: Option<String>,
}

#[derive(sqlx::FromRow)]
struct AppDaysDb {
    application: String,
    days: i64,
    records: i64,
    last_day: Option<String>,
}

/// A published policy or rules version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct PolicyRow {
    /// `rating.policy.v1` or `credit.rules.v1`.
    pub kind: String,
    /// Version.
    pub version: i64,
    /// Position.
    pub position: i64,
    /// Event id.
    pub event_id: String,
    /// Title.
    pub title: String,
    /// Published at.
    pub occurred_at: String,
}

/// A signed annual report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ReportRow {
    /// Position.
    pub position: i64,
    /// Event id.
    pub event_id: String,
    /// Year.
    pub year: i64,
    /// District code, empty for the city.
    pub district: String,
    /// Tree size.
    pub tree_size: i64,
    /// Policy version.
    pub policy_version: i64,
    /// As-of date.
    pub as_of: String,
    /// Content hash.
    pub content_sha256: String,
    /// HTML hash.
    pub html_sha256: String,
    /// CSV hash.
    pub csv_sha256: String,
    /// Signed at.
    pub occurred_at: String,
}

const DECISION_COLUMNS: &str = "d.position, d.event_id, d.project_id, d.policy_version, d.tree_size, d.as_of, \
     d.required, d.achieved, d.meets, d.evidence_sha256, d.occurred_at";

impl ReadDb {
    /// The latest issued decision of every visible project that has one, by project id.
    pub async fn rating_latest(&self, scope: &Scope) -> Result<Vec<DecisionRow>, ProjectionError> {
        let mut q = Sql::new(&format!(
            "SELECT {DECISION_COLUMNS} FROM rating_decisions d WHERE d.position = \
             (SELECT MAX(d2.position) FROM rating_decisions d2 WHERE d2.project_id = d.project_id) AND "
        ));
        visible(&mut q, scope, "d.project_id");
        q.push(" ORDER BY d.project_id");
        let rows: Vec<DecisionDb> = self.fetch_all(&q).await?;
        Ok(rows.into_iter().map(DecisionRow::from).collect())
    }

    /// [`ReadDb::rating_latest`] for the visible projects among `ids` only (a page of a list): its cost follows
    /// `ids`, not the scope.
    pub async fn rating_latest_of(&self, scope: &Scope, ids: &[String]) -> Result<Vec<DecisionRow>, ProjectionError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Sql::new(&format!(
            "SELECT {DECISION_COLUMNS} FROM rating_decisions d WHERE d.position = \
             (SELECT MAX(d2.position) FROM rating_decisions d2 WHERE d2.project_id = d.project_id) AND d.project_id IN ("
        ));
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.bind(id);
        }
        q.push(") AND ");
        visible(&mut q, scope, "d.project_id");
        q.push(" ORDER BY d.project_id");
        let rows: Vec<DecisionDb> = self.fetch_all(&q).await?;
        Ok(rows.into_iter().map(DecisionRow::from).collect())
    }

    /// A visible project's rating history, newest first.
    pub async fn rating_history(&self, scope: &Scope, project_id: &str) -> Result<Vec<DecisionRow>, ProjectionError> {
        let mut q = Sql::new(&format!("SELECT {DECISION_COLUMNS} FROM rating_decisions d WHERE d.project_id = "));
        q.bind(project_id).push(" AND ");
        visible(&mut q, scope, "d.project_id");
        q.push(" ORDER BY d.position DESC");
        let rows: Vec<DecisionDb> = self.fetch_all(&q).await?;
        Ok(rows.into_iter().map(DecisionRow::from).collect())
    }

    /// Days with data per application of a visible project, from `since` (`YYYY-MM-DD`, inclusive).
    pub async fn rating_app_days(
        &self,
        scope: &Scope,
        project_id: &str,
        since: &str,
    ) -> Result<Vec<AppDaysRow>, ProjectionError> {
        let mut q = Sql::new(
            "SELECT a.application, CAST(SUM(CASE WHEN a.day >= ? THEN 1 ELSE 0 END) AS BIGINT) AS days, \
             CAST(SUM(CASE WHEN a.day >= ? THEN a.records ELSE 0 END) AS BIGINT) AS records, MAX(a.day) AS last_day \
             FROM rating_app_days a WHERE a.project_id = ",
        )
        .arg(since)
        .arg(since);
        q.bind(project_id).push(" AND ");
        visible(&mut q, scope, "a.project_id");
        q.push(" GROUP BY a.application ORDER BY a.application");
        let rows: Vec<AppDaysDb> = self.fetch_all(&q).await?;
        Ok(rows
            .into_iter()
            .map(|r| AppDaysRow {
                application: r.application,
                days: to_u64(r.days),
                records: to_u64(r.records),
                last_day: r.last_day,
            })
            .collect())
    }

    /// Published rating policies and credit rules (public documents).
    pub async fn rating_policies(&self) -> Result<Vec<PolicyRow>, ProjectionError> {
        Ok(self
            .fetch_all(&Sql::new(
                "SELECT kind, version, position, event_id, title, occurred_at FROM rating_policies ORDER BY kind, version",
            ))
            .await?)
    }

    /// Signed annual reports the scope may see: all for city and auditors; a district's own and the city's for a
    /// district bureau; the city's for enterprises.
    pub async fn rating_reports(&self, scope: &Scope) -> Result<Vec<ReportRow>, ProjectionError> {
        let mut q = Sql::new(
            "SELECT position, event_id, year, district, tree_size, policy_version, as_of, content_sha256, \
             html_sha256, csv_sha256, occurred_at FROM rating_reports WHERE ",
        );
        match scope {
            Scope::All => {
                q.push("1 = 1");
            }
            Scope::District(d) => {
                q.push("(district = '' OR district = ");
                q.bind(d).push(")");
            }
            Scope::Enterprise(_) => {
                q.push("district = ''");
            }
            Scope::Nothing => {
                q.push("1 = 0");
            }
        }
        q.push(" ORDER BY year DESC, district, position DESC");
        Ok(self.fetch_all(&q).await?)
    }
}
