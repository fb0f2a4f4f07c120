//! The arrears view's stored findings: each project's findings with the default options, recomputed by the
//! runtime when its facts change ([`ReadDb::refresh_workforce_findings`]) and read for the views over many
//! projects ([`ReadDb::workforce_arrears_view`]), so that the city's view costs its findings, not its history.
//!
//! The fold marks a project due (`wf_findings_dirty.changed`, the position of its newest fact) in the transaction
//! that folds the fact; a refresh computes the project's findings from the tables and stores them with the mark
//! it saw (`computed`). A fact folded while a refresh computes moves the mark again, so the project stays due:
//! nothing is ever marked computed past what its computation could see. Stored findings are a cache of a pure
//! function of the tables: dropping them (a version bump) only costs the next refresh.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::queries::ArrearsRow;
use crate::Scope;
use crate::db::{Arg, ReadDb, Sql, to_i64};
use crate::error::ProjectionError;
use crate::queries::project_visible;

/// The rules' tolerance in days (`arrears::Options::days_tolerance`) the stored findings are computed with, and
/// the API's default.
pub const DEFAULT_DAYS_TOLERANCE: u32 = 1;

/// Projects whose facts are newer than their stored findings that a view over many projects computes itself
/// before answering, if no more are due (when more are, it serves the stored findings of all and counts them as
/// pending): a bound on what one request costs (≈ 10 statements per project), large enough that a quiet
/// system's answer is exact.
pub const READ_THROUGH_PROJECTS: usize = 16;

/// Projects a refresh computes before it writes their findings in one transaction.
const REFRESH_CHUNK: usize = 64;

/// The arrears view over many projects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArrearsView {
    /// The findings, by project id, then in the rules' order.
    pub rows: Vec<ArrearsRow>,
    /// Visible projects with facts newer than the findings shown for them (their refresh is under way).
    pub pending: usize,
}

#[derive(sqlx::FromRow)]
struct Due {
    project_id: String,
    changed: i64,
}

#[derive(sqlx::FromRow)]
struct StoredRow {
    project_id: String,
    name: String,
    district: String,
    finding_id: String,
    rule: String,
    rule_zh: String,
    basis: String,
    month: String,
    person_ref: Option<String>,
    id_masked: Option<String>,
    evidence: String,
    detail: String,
    as_of: String,
}

#[derive(sqlx::FromRow)]
struct Pair {
    project_id: String,
    v: String,
}

#[derive(sqlx::FromRow)]
struct PublishedRow {
    project_id: String,
    finding_id: String,
    event_id: String,
}

impl ReadDb {
    /// Projects whose facts are newer than their stored findings (project id, the mark to store), by project id.
    pub async fn workforce_findings_due(&self) -> Result<Vec<(String, i64)>, ProjectionError> {
        let due: Vec<Due> = self
            .fetch_all(&Sql::new(
                "SELECT project_id, changed FROM wf_findings_dirty WHERE changed > computed ORDER BY project_id",
            ))
            .await?;
        Ok(due.into_iter().map(|d| (d.project_id, d.changed)).collect())
    }

    /// Recomputes the stored findings of every project due now ([`ReadDb::workforce_findings_due`]), a chunk of
    /// projects per write transaction; returns how many it computed (counted work: a refresh computes the
    /// projects whose facts changed, not the city).
    pub async fn refresh_workforce_findings(&self) -> Result<usize, ProjectionError> {
        let due = self.workforce_findings_due().await?;
        for chunk in due.chunks(REFRESH_CHUNK) {
            self.refresh_workforce_findings_of(chunk).await?;
        }
        Ok(due.len())
    }

    /// Computes the findings of `projects` (project id, the mark their computation starts from) and stores them
    /// in one transaction.
    async fn refresh_workforce_findings_of(&self, projects: &[(String, i64)]) -> Result<(), ProjectionError> {
        let mut computed = Vec::with_capacity(projects.len());
        for (project, mark) in projects {
            let rows = if self.has_workforce_facts(project).await? {
                self.project_findings(&Scope::All, project, None, DEFAULT_DAYS_TOLERANCE).await?.unwrap_or_default()
            } else {
                Vec::new()
            };
            computed.push((project, *mark, rows));
        }
        let mut tx = self.begin().await?;
        for (project, mark, rows) in computed {
            tx.execute(&Sql::new("DELETE FROM wf_findings_current WHERE project_id = ?").arg(project.as_str())).await?;
            let rows = rows
                .into_iter()
                .enumerate()
                .map(|(seq, r)| {
                    vec![
                        Arg::from(r.project_id),
                        Arg::from(to_i64(seq as u64)),
                        Arg::from(r.finding_id),
                        Arg::from(r.rule),
                        Arg::from(r.rule_zh),
                        Arg::from(r.basis),
                        Arg::from(r.month),
                        Arg::from(r.person_ref),
                        Arg::from(r.id_masked),
                        Arg::from(r.evidence.join(" ")),
                        Arg::from(r.detail),
                        Arg::from(r.as_of),
                    ]
                })
                .collect();
            tx.execute_rows(
                "INSERT INTO wf_findings_current (project_id, seq, finding_id, rule, rule_zh, basis, month, person_ref, \
                 id_masked, evidence, detail, as_of)",
                "",
                rows,
            )
            .await?;
            tx.execute(
                &Sql::new("UPDATE wf_findings_dirty SET computed = ? WHERE project_id = ?")
                    .arg(mark)
                    .arg(project.as_str()),
            )
            .await?;
        }
        tx.commit().await?;
        self.after_commit().await;
        Ok(())
    }

    /// Whether `project` has what the arrears view computes over (workers or a wage account).
    async fn has_workforce_facts(&self, project: &str) -> Result<bool, ProjectionError> {
        let q = Sql::new(
            "SELECT project_id AS v FROM wf_workers WHERE project_id = ? \
             UNION SELECT project_id AS v FROM wf_accounts WHERE project_id = ?",
        )
        .arg(project)
        .arg(project);
        let rows: Vec<(String,)> = self.fetch_all(&q).await?;
        Ok(!rows.is_empty())
    }

    /// Every visible project's findings from the stored ones, after computing those due if they are at most
    /// `read_through`.
    pub(super) async fn stored_findings(
        &self,
        scope: &Scope,
        read_through: usize,
    ) -> Result<ArrearsView, ProjectionError> {
        let mut q = Sql::new("SELECT d.project_id, d.changed FROM wf_findings_dirty d WHERE ");
        project_visible(&mut q, scope, "d.project_id");
        q.push(" AND d.changed > d.computed ORDER BY d.project_id");
        let due: Vec<Due> = self.fetch_all(&q).await?;
        // All due projects computed now (the answer is then exactly what the facts say), or none: under load,
        // when more are due, a request costs only what it reads.
        let mut fresh: BTreeMap<String, Vec<ArrearsRow>> = BTreeMap::new();
        for d in due.iter().filter(|_| due.len() <= read_through) {
            let rows = if self.has_workforce_facts(&d.project_id).await? {
                self.project_findings(scope, &d.project_id, None, DEFAULT_DAYS_TOLERANCE).await?.unwrap_or_default()
            } else {
                Vec::new()
            };
            fresh.insert(d.project_id.clone(), rows);
        }
        let pending = due.len() - fresh.len();

        let mut q = Sql::new(
            "SELECT f.project_id, p.name, p.district, f.finding_id, f.rule, f.rule_zh, f.basis, f.month, f.person_ref, \
             f.id_masked, f.evidence, f.detail, f.as_of FROM wf_findings_current f \
             JOIN projects p ON p.project_id = f.project_id WHERE ",
        );
        project_visible(&mut q, scope, "f.project_id");
        q.push(" ORDER BY f.project_id, f.seq");
        let stored: Vec<StoredRow> = self.fetch_all(&q).await?;

        let mut q = Sql::new(
            "SELECT n.project_id, n.credit_code AS v FROM participants n WHERE n.role = 'general_contractor' AND ",
        );
        project_visible(&mut q, scope, "n.project_id");
        q.push(" ORDER BY n.project_id, n.credit_code");
        let mut gcs: HashMap<String, Vec<String>> = HashMap::new();
        for r in self.fetch_all::<Pair>(&q).await? {
            gcs.entry(r.project_id).or_default().push(r.v);
        }
        let mut q = Sql::new("SELECT w.project_id, w.finding_id, w.event_id FROM wf_findings_published w WHERE ");
        project_visible(&mut q, scope, "w.project_id");
        let mut published: HashMap<String, HashMap<String, String>> = HashMap::new();
        for r in self.fetch_all::<PublishedRow>(&q).await? {
            published.entry(r.project_id).or_default().insert(r.finding_id, r.event_id);
        }

        // Stored rows (project order) with the fresh computations in place of the due projects' stored ones.
        let computed_now: HashSet<String> = fresh.keys().cloned().collect();
        let mut by_project: BTreeMap<String, Vec<ArrearsRow>> = fresh;
        for r in stored {
            if computed_now.contains(&r.project_id) {
                continue;
            }
            by_project.entry(r.project_id.clone()).or_default().push(ArrearsRow {
                project_id: r.project_id,
                project_name: r.name,
                district: r.district,
                general_contractor: String::new(),
                rule: r.rule,
                rule_zh: r.rule_zh,
                basis: r.basis,
                month: r.month,
                person_ref: r.person_ref,
                id_masked: r.id_masked,
                evidence: r.evidence.split(' ').filter(|e| !e.is_empty()).map(str::to_owned).collect(),
                detail: r.detail,
                finding_id: r.finding_id,
                published_event_id: None,
                as_of: r.as_of,
            });
        }
        let mut rows = Vec::new();
        for (project, mut found) in by_project {
            let gc = gcs.get(&project).map(|v| v.join(",")).unwrap_or_default();
            let published = published.get(&project);
            for r in &mut found {
                r.general_contractor.clone_from(&gc);
                r.published_event_id = published.and_then(|p| p.get(&r.finding_id)).cloned();
            }
            rows.extend(found);
        }
        Ok(ArrearsView { rows, pending })
    }
}
