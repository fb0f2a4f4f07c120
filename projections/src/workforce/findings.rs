//! The arrears view's stored findings: each project's findings with the default options, recomputed by the
//! runtime when its facts change ([`ReadDb::refresh_workforce_findings`]) and read for the views over many
//! projects ([`ReadDb::workforce_arrears_view`]), so that the city's view costs its findings, not its history.
//!
//! The fold marks a project due (`wf_findings_dirty.changed`, the position of its newest fact) in the transaction
//! that folds the fact; a refresh computes the project's findings from the tables and stores them with the mark
//! it saw (`computed`). A fact folded while a refresh computes moves the mark again, so the project stays due:
//! nothing is ever marked computed past what its computation could see. Stored findings are a cache of a pure
//! function of the tables: dropping them (a version bump) only costs the next refresh.

use std::collections::{BTreeMap, HashMap};

use siteledger_domain::LocalDate;

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
        self.note_derived_pass();
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

    /// The arrears view's counts per project and rule and its first `limit` findings: what a page or a summary over
    /// many projects shows. The default view (no project, no `as_of`, the default tolerance) reads the stored
    /// findings (as [`ReadDb::workforce_arrears_view`]), so it costs the counts and `limit` rows; any other is
    /// computed from the facts.
    pub async fn workforce_findings_page(
        &self,
        scope: &Scope,
        project: Option<&str>,
        as_of: Option<LocalDate>,
        days_tolerance: u32,
        limit: usize,
    ) -> Result<FindingsPage, ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok(FindingsPage::default());
        }
        if project.is_none() && as_of.is_none() && days_tolerance == DEFAULT_DAYS_TOLERANCE {
            return self.stored_findings_page(scope, READ_THROUGH_PROJECTS, limit).await;
        }
        let mut rows = self.workforce_arrears(scope, project, as_of, days_tolerance).await?;
        let mut counts: BTreeMap<(String, String, String), FindingCount> = BTreeMap::new();
        for r in &rows {
            count(&mut counts, r);
        }
        rows.truncate(limit);
        Ok(FindingsPage { counts: counts.into_values().collect(), rows, pending: 0 })
    }

    /// The visible projects due, computed now if they are at most `read_through` (then none is pending), else
    /// none computed and all counted as pending.
    async fn due_findings(
        &self,
        scope: &Scope,
        read_through: usize,
    ) -> Result<(BTreeMap<String, Vec<ArrearsRow>>, usize), ProjectionError> {
        let mut q = Sql::new("SELECT d.project_id, d.changed FROM wf_findings_dirty d WHERE ");
        project_visible(&mut q, scope, "d.project_id");
        q.push(" AND d.changed > d.computed ORDER BY d.project_id");
        let due: Vec<Due> = self.fetch_all(&q).await?;
        // All due projects computed now (the answer is then exactly what the facts say), or none: under load,
        // when more are due, a request costs only what it reads.
        if due.len() > read_through {
            return Ok((BTreeMap::new(), due.len()));
        }
        let mut fresh = BTreeMap::new();
        for d in due {
            let rows = if self.has_workforce_facts(&d.project_id).await? {
                self.project_findings(scope, &d.project_id, None, DEFAULT_DAYS_TOLERANCE).await?.unwrap_or_default()
            } else {
                Vec::new()
            };
            fresh.insert(d.project_id, rows);
        }
        Ok((fresh, 0))
    }

    /// Every visible project's findings from the stored ones, after computing those due if they are at most
    /// `read_through`.
    pub(super) async fn stored_findings(
        &self,
        scope: &Scope,
        read_through: usize,
    ) -> Result<ArrearsView, ProjectionError> {
        let (fresh, pending) = self.due_findings(scope, read_through).await?;
        let stored = self.stored_rows(scope, &fresh, None).await?;
        let rows = self.with_contractors_and_publications(scope, merge(fresh, stored, usize::MAX), None).await?;
        Ok(ArrearsView { rows, pending })
    }

    /// The view's counts per project and rule and its first `limit` findings (by project id, then in the rules'
    /// order), from the stored findings after computing those due if they are at most `read_through`: what a
    /// page over the city shows, costing the counts (grouped by the database on an index) and `limit` rows.
    async fn stored_findings_page(
        &self,
        scope: &Scope,
        read_through: usize,
        limit: usize,
    ) -> Result<FindingsPage, ProjectionError> {
        let (fresh, pending) = self.due_findings(scope, read_through).await?;
        // Grouped on the covering index (`wf_findings_current_rules`), then joined: the findings' rows are not read.
        let mut q = Sql::new(
            "SELECT g.project_id, p.district, g.rule, g.rule_zh, g.n FROM (SELECT f.project_id, f.rule, f.rule_zh, \
             COUNT(*) AS n FROM wf_findings_current f WHERE ",
        );
        project_visible(&mut q, scope, "f.project_id");
        exclude(&mut q, "f.project_id", &fresh);
        q.push(" GROUP BY f.project_id, f.rule, f.rule_zh) g JOIN projects p ON p.project_id = g.project_id");
        let mut counts: BTreeMap<(String, String, String), FindingCount> = BTreeMap::new();
        for c in self.fetch_all::<FindingCount>(&q).await? {
            counts.insert((c.project_id.clone(), c.rule.clone(), c.rule_zh.clone()), c);
        }
        for r in fresh.values().flatten() {
            count(&mut counts, r);
        }
        let stored = if limit == 0 { Vec::new() } else { self.stored_rows(scope, &fresh, Some(limit)).await? };
        let first = merge(fresh, stored, limit);
        let projects: Vec<String> = first.keys().cloned().collect();
        let rows = self.with_contractors_and_publications(scope, first, Some(&projects)).await?;
        Ok(FindingsPage { counts: counts.into_values().collect(), rows, pending })
    }

    /// The stored findings visible to `scope` except those of the projects computed now (`fresh`), by project id
    /// then in the rules' order, the first `limit` if given.
    async fn stored_rows(
        &self,
        scope: &Scope,
        fresh: &BTreeMap<String, Vec<ArrearsRow>>,
        limit: Option<usize>,
    ) -> Result<Vec<StoredRow>, ProjectionError> {
        let mut q = Sql::new(
            "SELECT f.project_id, p.name, p.district, f.finding_id, f.rule, f.rule_zh, f.basis, f.month, f.person_ref, \
             f.id_masked, f.evidence, f.detail, f.as_of FROM wf_findings_current f \
             JOIN projects p ON p.project_id = f.project_id WHERE ",
        );
        project_visible(&mut q, scope, "f.project_id");
        exclude(&mut q, "f.project_id", fresh);
        q.push(" ORDER BY f.project_id, f.seq");
        if let Some(limit) = limit {
            q.push(" LIMIT ");
            q.bind(to_i64(limit as u64));
        }
        Ok(self.fetch_all(&q).await?)
    }

    /// The general contractors of the visible projects (of `projects` only, if given), by project id.
    pub async fn workforce_general_contractors(
        &self,
        scope: &Scope,
        projects: Option<&[String]>,
    ) -> Result<HashMap<String, Vec<String>>, ProjectionError> {
        if projects.is_some_and(<[String]>::is_empty) {
            return Ok(HashMap::new());
        }
        let mut q = Sql::new(
            "SELECT n.project_id, n.credit_code AS v FROM participants n WHERE n.role = 'general_contractor' AND ",
        );
        project_visible(&mut q, scope, "n.project_id");
        only(&mut q, "n.project_id", projects);
        q.push(" ORDER BY n.project_id, n.credit_code");
        let mut gcs: HashMap<String, Vec<String>> = HashMap::new();
        for r in self.fetch_all::<Pair>(&q).await? {
            gcs.entry(r.project_id).or_default().push(r.v);
        }
        Ok(gcs)
    }

    /// `by_project`'s findings in project order, with their projects' general contractors and the publications
    /// of the findings (of `projects` only, if given: the projects of `by_project`).
    async fn with_contractors_and_publications(
        &self,
        scope: &Scope,
        by_project: BTreeMap<String, Vec<ArrearsRow>>,
        projects: Option<&[String]>,
    ) -> Result<Vec<ArrearsRow>, ProjectionError> {
        if projects.is_some_and(<[String]>::is_empty) {
            return Ok(Vec::new());
        }
        let gcs = self.workforce_general_contractors(scope, projects).await?;
        let mut q = Sql::new("SELECT w.project_id, w.finding_id, w.event_id FROM wf_findings_published w WHERE ");
        project_visible(&mut q, scope, "w.project_id");
        only(&mut q, "w.project_id", projects);
        let mut published: HashMap<String, HashMap<String, String>> = HashMap::new();
        for r in self.fetch_all::<PublishedRow>(&q).await? {
            published.entry(r.project_id).or_default().insert(r.finding_id, r.event_id);
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
        Ok(rows)
    }
}

/// The arrears view's counts and first findings ([`ReadDb::workforce_findings_page`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FindingsPage {
    /// Findings per project and rule, every visible project's.
    pub counts: Vec<FindingCount>,
    /// The first findings, by project id, then in the rules' order.
    pub rows: Vec<ArrearsRow>,
    /// Visible projects with facts newer than the findings counted for them (their refresh is under way).
    pub pending: usize,
}

/// How many findings of a rule a project has.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FindingCount {
    /// Project.
    pub project_id: String,
    /// Its district.
    pub district: String,
    /// Rule.
    pub rule: String,
    /// Chinese name of the rule.
    pub rule_zh: String,
    /// Findings.
    pub n: i64,
}

/// Counts `r` under its project and rule.
fn count(counts: &mut BTreeMap<(String, String, String), FindingCount>, r: &ArrearsRow) {
    counts
        .entry((r.project_id.clone(), r.rule.clone(), r.rule_zh.clone()))
        .or_insert_with(|| FindingCount {
            project_id: r.project_id.clone(),
            district: r.district.clone(),
            rule: r.rule.clone(),
            rule_zh: r.rule_zh.clone(),
            n: 0,
        })
        .n += 1;
}

/// Appends ` AND col NOT IN (…)` for the projects computed now, if any.
fn exclude(q: &mut Sql, col: &str, fresh: &BTreeMap<String, Vec<ArrearsRow>>) {
    if fresh.is_empty() {
        return;
    }
    q.push(&format!(" AND {col} NOT IN ")).bind_list(fresh.keys().map(String::as_str));
}

/// Appends ` AND col IN (…)` for `projects` if given (the callers answer an empty list without asking).
fn only(q: &mut Sql, col: &str, projects: Option<&[String]>) {
    let Some(projects) = projects else { return };
    q.push(&format!(" AND {col} IN ")).bind_list(projects.iter().map(String::as_str));
}

/// The stored rows (project order) and the fresh computations merged by project id, the first `limit` findings.
fn merge(
    fresh: BTreeMap<String, Vec<ArrearsRow>>,
    stored: Vec<StoredRow>,
    limit: usize,
) -> BTreeMap<String, Vec<ArrearsRow>> {
    let mut by_project = fresh;
    for r in stored {
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
    let mut left = limit;
    by_project.retain(|_, rows| {
        rows.truncate(left);
        left -= rows.len();
        !rows.is_empty()
    });
    by_project
}
