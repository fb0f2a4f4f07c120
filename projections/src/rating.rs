//! Read models of star ratings, credit evaluation and annual reports.
//!
//! The projection `rating` folds:
//! * every project-scoped record whose kind has an application's prefix (the shared table of the notice's
//!   eleven applications, [`APPLICATIONS`]) into `rating_app_days` (project × application × Asia/Shanghai day →
//!   records), which the dashboard shows as "days with data";
//! * `rating.decision.v1` into `rating_decisions` (a project's rating history), `rating.policy.v1` and
//!   `credit.rules.v1` into `rating_policies`, `report.annual.v1` into `rating_reports`,
//!   `rating.standard_site.enrolled.v1` and `credit.award.granted.v1` into `rating_facts`.
//!
//! These tables are for display only: decisions, scores and reports are always computed from the log itself
//! (`siteledger_api::ratings`), never from here, so that they are reproducible. Queries take a [`Scope`].

use serde::Serialize;

use crate::Scope;
use crate::db::{ReadDb, Sql, Tx, to_u64};
use crate::error::ProjectionError;
use crate::fold::{Prepared, int_field, str_field};
use crate::queries::project_visible as visible;

/// Name in `projection_checkpoints`.
pub(crate) const NAME: &str = "rating";
/// Code version: bump it when the fold or the tables change; the tables are re-created and refolded.
pub(crate) const VERSION: i64 = 2;
/// Tables this projection owns.
pub(crate) const TABLES: &[&str] =
    &["rating_app_days", "rating_decisions", "rating_policies", "rating_reports", "rating_facts"];
/// Their `CREATE TABLE IF NOT EXISTS` / `CREATE INDEX IF NOT EXISTS` statements (SQLite and PostgreSQL).
pub(crate) const DDL: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS rating_app_days (project_id TEXT NOT NULL, application TEXT NOT NULL, \
     day TEXT NOT NULL, records BIGINT NOT NULL, PRIMARY KEY (project_id, application, day))",
    "CREATE TABLE IF NOT EXISTS rating_decisions (position BIGINT PRIMARY KEY, event_id TEXT NOT NULL, \
     project_id TEXT NOT NULL, policy_version BIGINT NOT NULL, tree_size BIGINT NOT NULL, as_of TEXT NOT NULL, \
     required BIGINT, achieved BIGINT NOT NULL, meets BIGINT, evidence_sha256 TEXT NOT NULL, \
     occurred_at TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS rating_decisions_project ON rating_decisions (project_id, position)",
    "CREATE TABLE IF NOT EXISTS rating_policies (kind TEXT NOT NULL, version BIGINT NOT NULL, \
     position BIGINT NOT NULL, event_id TEXT NOT NULL, title TEXT NOT NULL, occurred_at TEXT NOT NULL, \
     PRIMARY KEY (kind, version))",
    "CREATE TABLE IF NOT EXISTS rating_reports (position BIGINT PRIMARY KEY, event_id TEXT NOT NULL, \
     year BIGINT NOT NULL, district TEXT NOT NULL, tree_size BIGINT NOT NULL, policy_version BIGINT NOT NULL, \
     as_of TEXT NOT NULL, content_sha256 TEXT NOT NULL, html_sha256 TEXT NOT NULL, csv_sha256 TEXT NOT NULL, \
     occurred_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS rating_facts (position BIGINT PRIMARY KEY, event_id TEXT NOT NULL, \
     kind TEXT NOT NULL, project_id TEXT NOT NULL, year BIGINT NOT NULL, note TEXT NOT NULL)",
];

/// The notice's eleven applications and their kind prefixes (the shared vocabulary of the subsystems).
pub const APPLICATIONS: &[(&str, &str, &[&str])] = &[
    ("video", "远程视频监控", &["video."]),
    ("realname", "人员实名制管理", &["worker."]),
    ("dust_noise", "扬尘噪声监测", &["env."]),
    ("wage_account", "工资专用账户管理", &["wage."]),
    ("crane", "起重机械安全监控", &["crane.", "hoist."]),
    ("safety_quality", "工程安全质量监管", &["inspection."]),
    ("quality_testing", "工程质量检测监管", &["testing."]),
    ("power_water", "施工用电用水监测", &["meter."]),
    ("hazardous_works", "危险性较大的分部分项工程安全管理", &["hazard."]),
    ("bim", "BIM施工", &["bim."]),
    ("coordination", "政府协同联动", &["task."]),
];

/// The application of a kind, if any.
pub fn application_of(kind: &str) -> Option<&'static str> {
    APPLICATIONS.iter().find(|(_, _, prefixes)| prefixes.iter().any(|p| kind.starts_with(p))).map(|(id, _, _)| *id)
}

/// Folds `events` (consecutive, this projection's checkpoint first) into the tables, inside the batch's
/// transaction.
pub(crate) async fn fold(tx: &mut Tx, events: &[Prepared<'_>]) -> Result<(), sqlx::Error> {
    for x in events {
        let kind = x.e.kind.as_str();
        let p = &x.payload;
        let pos = x.e.position;
        let event_id = x.e.event_id.to_string();
        if let (Some(project), Some(app)) = (x.project, application_of(kind)) {
            tx.execute(
                &Sql::new(
                    "INSERT INTO rating_app_days (project_id, application, day, records) VALUES (?, ?, ?, 1) \
                     ON CONFLICT (project_id, application, day) DO UPDATE SET records = rating_app_days.records + 1",
                )
                .arg(project)
                .arg(app)
                .arg(x.day.as_str()),
            )
            .await?;
            continue;
        }
        match kind {
            "rating.decision.v1" => {
                let Some(project) = str_field(p, "project_id") else { continue };
                let meets = match p.get("meets") {
                    Some(serde_json::Value::Bool(b)) => Some(i64::from(*b)),
                    _ => None,
                };
                tx.execute(
                    &Sql::new(
                        "INSERT INTO rating_decisions (position, event_id, project_id, policy_version, tree_size, \
                         as_of, required, achieved, meets, evidence_sha256, occurred_at) \
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (position) DO NOTHING",
                    )
                    .arg(pos)
                    .arg(event_id)
                    .arg(project)
                    .arg(int_field(p, "policy_version").unwrap_or(0))
                    .arg(int_field(p, "tree_size").unwrap_or(0))
                    .arg(str_field(p, "as_of").unwrap_or_default())
                    .arg(int_field(p, "required"))
                    .arg(int_field(p, "achieved").unwrap_or(0))
                    .arg(meets)
                    .arg(str_field(p, "evidence_sha256").unwrap_or_default())
                    .arg(x.e.occurred_at.as_str()),
                )
                .await?;
            }
            "rating.policy.v1" | "credit.rules.v1" => {
                tx.execute(
                    &Sql::new(
                        "INSERT INTO rating_policies (kind, version, position, event_id, title, occurred_at) \
                         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (kind, version) DO NOTHING",
                    )
                    .arg(kind)
                    .arg(int_field(p, "version").unwrap_or(0))
                    .arg(pos)
                    .arg(event_id)
                    .arg(str_field(p, "title").unwrap_or_default())
                    .arg(x.e.occurred_at.as_str()),
                )
                .await?;
            }
            "report.annual.v1" => {
                tx.execute(
                    &Sql::new(
                        "INSERT INTO rating_reports (position, event_id, year, district, tree_size, policy_version, \
                         as_of, content_sha256, html_sha256, csv_sha256, occurred_at) \
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (position) DO NOTHING",
                    )
                    .arg(pos)
                    .arg(event_id)
                    .arg(int_field(p, "year").unwrap_or(0))
                    .arg(str_field(p, "district").unwrap_or_default())
                    .arg(int_field(p, "tree_size").unwrap_or(0))
                    .arg(int_field(p, "policy_version").unwrap_or(0))
                    .arg(str_field(p, "as_of").unwrap_or_default())
                    .arg(str_field(p, "content_sha256").unwrap_or_default())
                    .arg(str_field(p, "html_sha256").unwrap_or_default())
                    .arg(str_field(p, "csv_sha256").unwrap_or_default())
                    .arg(x.e.occurred_at.as_str()),
                )
                .await?;
            }
            "rating.standard_site.enrolled.v1" | "credit.award.granted.v1" => {
                let Some(project) = str_field(p, "project_id") else { continue };
                let note = str_field(p, "note").or_else(|| str_field(p, "title")).unwrap_or_default();
                tx.execute(
                    &Sql::new(
                        "INSERT INTO rating_facts (position, event_id, kind, project_id, year, note) \
                         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (position) DO NOTHING",
                    )
                    .arg(pos)
                    .arg(event_id)
                    .arg(kind)
                    .arg(project)
                    .arg(int_field(p, "year").unwrap_or(0))
                    .arg(note),
                )
                .await?;
            }
            _ => {}
        }
    }
    Ok(())
}

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
