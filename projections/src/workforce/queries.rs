//! Scoped queries over the workforce read models: roster, attendance, payroll against attendance, payroll lines
//! for exports, and the arrears view (the domain's pure rules run over the project's facts as of a day).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use siteledger_domain::workforce::arrears::{
    self, AttendanceDay, DepositFact, Finding, LineFact, Options, ProjectFacts, TransferFact, WorkerFacts,
};
use siteledger_domain::workforce::{Commitment, PayrollId, PersonRef, Trade, YearMonth};
use siteledger_domain::{LocalDate, MoneyFen};

use super::findings::{ArrearsView, DEFAULT_DAYS_TOLERANCE, READ_THROUGH_PROJECTS};
use super::schema::latest_day_key;
use crate::Scope;
use crate::db::{ReadDb, Sql, to_i64};
use crate::error::ProjectionError;
use crate::queries::project_visible;

/// A worker on a project's roster (masked data only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct WorkerRow {
    /// Project.
    pub project_id: String,
    /// The person's reference.
    pub person_ref: String,
    /// 证件类型 code.
    pub id_type: String,
    /// Masked document number.
    pub id_masked: String,
    /// Employer credit code.
    pub employer: String,
    /// Team.
    pub team_id: String,
    /// 工种 code.
    pub trade: String,
    /// Registration day.
    pub registered_on: String,
    /// Contract period.
    pub contract_start: Option<String>,
    /// Contract end.
    pub contract_end: Option<String>,
    /// Entered and not exited.
    pub on_site: i64,
    /// Last gate direction (`in`/`out`).
    pub last_direction: Option<String>,
    /// Last gate.
    pub last_gate: Option<String>,
    /// 劳资专管员.
    pub wage_clerk: i64,
}

/// One worker-day of attendance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct AttendanceRow {
    /// Project.
    pub project_id: String,
    /// Person.
    pub person_ref: String,
    /// Day `YYYY-MM-DD`.
    pub day: String,
    /// The day's first passage.
    pub first_event_id: String,
    /// Passages that day.
    pub passages: i64,
}

/// Payroll against attendance for one worker and month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PayrollVsAttendance {
    /// Project.
    pub project_id: String,
    /// Person.
    pub person_ref: String,
    /// Masked ID.
    pub id_masked: String,
    /// Month.
    pub month: String,
    /// Days with a passage.
    pub attendance_days: i64,
    /// Days on the payroll.
    pub payroll_days: i64,
    /// 应发 (fen).
    pub payable_fen: i64,
    /// 实发 (fen).
    pub actual_fen: i64,
    /// Transferred (fen).
    pub paid_fen: i64,
}

/// Which workers [`ReadDb::workforce_roster`] lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RosterPage {
    /// Only the workers after this one in roster order ([`ReadDb::workforce_roster_cursor`]).
    pub after: Option<RosterCursor>,
    /// At most this many (`None`: all).
    pub limit: Option<usize>,
}

/// A worker's place in the roster's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterCursor {
    /// Project.
    pub project_id: String,
    /// Team.
    pub team_id: String,
    /// Worker.
    pub person_ref: String,
}

/// A finding of the arrears view, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArrearsRow {
    /// Project.
    pub project_id: String,
    /// Project name.
    pub project_name: String,
    /// District code.
    pub district: String,
    /// The general contractor(s) responsible (第三十条).
    pub general_contractor: String,
    /// Rule (`arrears_suspected` …).
    pub rule: String,
    /// Chinese name of the rule.
    pub rule_zh: String,
    /// The article.
    pub basis: String,
    /// Month `YYYY-MM`.
    pub month: String,
    /// Worker, if any.
    pub person_ref: Option<String>,
    /// Masked ID of the worker, if any.
    pub id_masked: Option<String>,
    /// The event ids it rests on.
    pub evidence: Vec<String>,
    /// What was found.
    pub detail: String,
    /// The finding's stable key ([`Finding::key`]), the `finding_id` it is published under.
    pub finding_id: String,
    /// The event id of its `wage.finding.recorded.v1`, once a bureau has published it.
    pub published_event_id: Option<String>,
    /// The day the rules were checked as of: the caller's, or by default the project's latest workforce day.
    pub as_of: String,
}

#[derive(sqlx::FromRow)]
struct Str1 {
    v: String,
}

#[derive(sqlx::FromRow)]
struct Published {
    finding_id: String,
    event_id: String,
}

#[derive(sqlx::FromRow)]
struct ProjectHead {
    project_id: String,
    name: String,
    district: String,
}

#[derive(sqlx::FromRow)]
struct AttDb {
    person_ref: String,
    day: String,
    first_event_id: String,
}

#[derive(sqlx::FromRow)]
struct LineDb {
    payroll_id: String,
    person_ref: String,
    month: String,
    days: i64,
    payable_fen: i64,
    actual_fen: i64,
    back_pay: i64,
    event_id: String,
}

#[derive(sqlx::FromRow)]
struct TransferDb {
    event_id: String,
    payroll_id: String,
    person_ref: String,
    amount_fen: i64,
    card_commitment: String,
}

#[derive(sqlx::FromRow)]
struct WorkerDb {
    person_ref: String,
    trade: String,
    id_masked: String,
}

#[derive(sqlx::FromRow)]
struct CardDb {
    person_ref: String,
    card_commitment: String,
    event_id: String,
}

#[derive(sqlx::FromRow)]
struct CertDb {
    person_ref: String,
    valid_until: String,
    event_id: String,
}

#[derive(sqlx::FromRow)]
struct AccountDb {
    opened_on: String,
    event_id: String,
    pay_day: i64,
}

#[derive(sqlx::FromRow)]
struct DepositDb {
    event_id: String,
    deposited_on: String,
}

fn date(s: &str) -> Option<LocalDate> {
    LocalDate::parse(s).ok()
}

impl ReadDb {
    /// The latest day (Asia/Shanghai) of any `worker.*`/`wage.*` record folded, of any project (for display; the
    /// arrears view's default "as of" is per project: [`ReadDb::workforce_project_latest_day`]).
    pub async fn workforce_latest_day(&self) -> Result<Option<String>, ProjectionError> {
        let row: Option<Str1> =
            self.fetch_optional(&Sql::new("SELECT value AS v FROM wf_meta WHERE key = 'latest_day'")).await?;
        Ok(row.map(|r| r.v))
    }

    /// The latest day (Asia/Shanghai) of `project`'s `worker.*`/`wage.*` records (published findings aside): the
    /// arrears view's default "as of" for that project.
    pub async fn workforce_project_latest_day(&self, project: &str) -> Result<Option<String>, ProjectionError> {
        let row: Option<Str1> = self
            .fetch_optional(&Sql::new("SELECT value AS v FROM wf_meta WHERE key = ?").arg(latest_day_key(project)))
            .await?;
        Ok(row.map(|r| r.v))
    }

    /// Where worker `person_ref` of `project` visible to `scope` stands in the roster ([`RosterPage::after`]), if
    /// there is one.
    pub async fn workforce_roster_cursor(
        &self,
        scope: &Scope,
        project: &str,
        person_ref: &str,
    ) -> Result<Option<RosterCursor>, ProjectionError> {
        let mut q = Sql::new("SELECT w.team_id AS v FROM wf_workers w WHERE ");
        project_visible(&mut q, scope, "w.project_id");
        q.push(" AND w.project_id = ").bind(project);
        q.push(" AND w.person_ref = ").bind(person_ref);
        let team: Option<Str1> = self.fetch_optional(&q).await?;
        Ok(team.map(|t| RosterCursor {
            project_id: project.to_owned(),
            team_id: t.v,
            person_ref: person_ref.to_owned(),
        }))
    }

    /// The roster of a project (or of every visible project), `on_site_only` for who is on site now, by project,
    /// team and person: the `limit` workers after `page.after` if given, all of them otherwise.
    pub async fn workforce_roster(
        &self,
        scope: &Scope,
        project: Option<&str>,
        on_site_only: bool,
        page: &RosterPage,
    ) -> Result<Vec<WorkerRow>, ProjectionError> {
        let mut q = Sql::new(
            "SELECT w.project_id, w.person_ref, w.id_type, w.id_masked, w.employer, w.team_id, w.trade, w.registered_on, \
             w.contract_start, w.contract_end, w.on_site, w.last_direction, w.last_gate, w.wage_clerk FROM wf_workers w WHERE ",
        );
        project_visible(&mut q, scope, "w.project_id");
        if let Some(p) = project {
            q.push(" AND w.project_id = ").bind(p);
        }
        if on_site_only {
            q.push(" AND w.on_site = 1 AND w.last_direction = 'in'");
        }
        if let Some(RosterCursor { project_id, team_id, person_ref }) = &page.after {
            // A row value: both databases seek the roster index (`wf_workers_roster`) to it.
            q.push(" AND (w.project_id, w.team_id, w.person_ref) > (").bind(project_id.as_str());
            q.push(", ").bind(team_id.as_str()).push(", ").bind(person_ref.as_str()).push(")");
        }
        q.push(" ORDER BY w.project_id, w.team_id, w.person_ref");
        if let Some(limit) = page.limit {
            q.push(" LIMIT ").bind(to_i64(limit as u64));
        }
        Ok(self.fetch_all(&q).await?)
    }

    /// Workers registered and on site now (entered, last passage inward) on the visible projects, or on
    /// `project`: counted by the database, not by listing the roster.
    pub async fn workforce_counts(&self, scope: &Scope, project: Option<&str>) -> Result<(u64, u64), ProjectionError> {
        let mut q = Sql::new(
            "SELECT CAST(COUNT(*) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN w.on_site = 1 AND w.last_direction = 'in' THEN 1 ELSE 0 END), 0) AS BIGINT) \
             FROM wf_workers w WHERE ",
        );
        project_visible(&mut q, scope, "w.project_id");
        if let Some(p) = project {
            q.push(" AND w.project_id = ").bind(p);
        }
        let (registered, on_site): (i64, i64) = self.fetch_optional(&q).await?.unwrap_or_default();
        Ok((u64::try_from(registered).unwrap_or(0), u64::try_from(on_site).unwrap_or(0)))
    }

    /// Daily attendance of a project on `day`.
    pub async fn workforce_attendance(
        &self,
        scope: &Scope,
        project: &str,
        day: &str,
    ) -> Result<Vec<AttendanceRow>, ProjectionError> {
        let mut q = Sql::new(
            "SELECT a.project_id, a.person_ref, a.day, a.first_event_id, a.passages FROM wf_attendance a WHERE ",
        );
        project_visible(&mut q, scope, "a.project_id");
        q.push(" AND a.project_id = ").bind(project);
        q.push(" AND a.day = ").bind(day);
        q.push(" ORDER BY a.person_ref");
        Ok(self.fetch_all(&q).await?)
    }

    /// Payroll against attendance for `project` and `month` (`YYYY-MM`), one row per worker on either side.
    pub async fn workforce_payroll_vs_attendance(
        &self,
        scope: &Scope,
        project: &str,
        month: &str,
    ) -> Result<Vec<PayrollVsAttendance>, ProjectionError> {
        let facts = self.workforce_facts(scope, project).await?;
        let Some((_, facts, masked)) = facts else { return Ok(Vec::new()) };
        let mut rows: BTreeMap<String, PayrollVsAttendance> = BTreeMap::new();
        let blank = |p: &str| PayrollVsAttendance {
            project_id: project.to_owned(),
            person_ref: p.to_owned(),
            id_masked: masked.get(p).cloned().unwrap_or_default(),
            month: month.to_owned(),
            attendance_days: 0,
            payroll_days: 0,
            payable_fen: 0,
            actual_fen: 0,
            paid_fen: 0,
        };
        for a in facts.attendance.iter().filter(|a| YearMonth::of(a.day).as_string() == month) {
            rows.entry(a.person_ref.as_str().to_owned())
                .or_insert_with(|| blank(a.person_ref.as_str()))
                .attendance_days += 1;
        }
        let mut payrolls = Vec::new();
        for l in facts.lines.iter().filter(|l| l.month.as_string() == month) {
            let r = rows.entry(l.person_ref.as_str().to_owned()).or_insert_with(|| blank(l.person_ref.as_str()));
            r.payroll_days = r.payroll_days.saturating_add(i64::from(l.days));
            r.payable_fen = r.payable_fen.saturating_add(l.payable.fen());
            r.actual_fen = r.actual_fen.saturating_add(l.actual.fen());
            payrolls.push((l.payroll_id.clone(), l.person_ref.clone()));
        }
        for t in &facts.transfers {
            if payrolls.iter().any(|(p, who)| p == &t.payroll_id && who == &t.person_ref)
                && let Some(r) = rows.get_mut(t.person_ref.as_str())
            {
                r.paid_fen = r.paid_fen.saturating_add(t.amount.fen());
            }
        }
        Ok(rows.into_values().collect())
    }

    /// Loads the facts of one visible project: (project head, facts, person → masked ID).
    async fn workforce_facts(
        &self,
        scope: &Scope,
        project: &str,
    ) -> Result<Option<(ProjectHead, ProjectFacts, HashMap<String, String>)>, ProjectionError> {
        let mut q = Sql::new("SELECT p.project_id, p.name, p.district FROM projects p WHERE ");
        project_visible(&mut q, scope, "p.project_id");
        q.push(" AND p.project_id = ").bind(project);
        let Some(head) = self.fetch_optional::<ProjectHead>(&q).await? else { return Ok(None) };
        let mut f = ProjectFacts::default();
        let att: Vec<AttDb> = self
            .fetch_all(
                &Sql::new("SELECT person_ref, day, first_event_id FROM wf_attendance WHERE project_id = ? ORDER BY person_ref, day")
                    .arg(project),
            )
            .await?;
        f.attendance = att
            .into_iter()
            .filter_map(|a| {
                Some(AttendanceDay {
                    person_ref: PersonRef::parse(&a.person_ref).ok()?,
                    day: date(&a.day)?,
                    event_id: a.first_event_id,
                })
            })
            .collect();
        let lines: Vec<LineDb> = self
            .fetch_all(
                &Sql::new(
                    "SELECT payroll_id, person_ref, month, days, payable_fen, actual_fen, back_pay, event_id \
                     FROM wf_payroll_lines WHERE project_id = ? ORDER BY payroll_id, person_ref",
                )
                .arg(project),
            )
            .await?;
        f.lines = lines
            .into_iter()
            .filter_map(|l| {
                Some(LineFact {
                    event_id: l.event_id,
                    payroll_id: PayrollId::parse(&l.payroll_id).ok()?,
                    month: YearMonth::parse(&l.month).ok()?,
                    person_ref: PersonRef::parse(&l.person_ref).ok()?,
                    days: u32::try_from(l.days).ok()?,
                    payable: MoneyFen::parse(l.payable_fen).ok()?,
                    actual: MoneyFen::parse(l.actual_fen).ok()?,
                    back_pay: l.back_pay != 0,
                })
            })
            .collect();
        let transfers: Vec<TransferDb> = self
            .fetch_all(
                &Sql::new(
                    "SELECT event_id, payroll_id, person_ref, amount_fen, card_commitment FROM wf_transfers \
                     WHERE project_id = ? ORDER BY event_id",
                )
                .arg(project),
            )
            .await?;
        f.transfers = transfers
            .into_iter()
            .filter_map(|t| {
                Some(TransferFact {
                    event_id: t.event_id,
                    payroll_id: PayrollId::parse(&t.payroll_id).ok()?,
                    person_ref: PersonRef::parse(&t.person_ref).ok()?,
                    amount: MoneyFen::parse(t.amount_fen).ok()?,
                    card: Commitment::parse(&t.card_commitment).ok()?,
                })
            })
            .collect();
        let workers: Vec<WorkerDb> = self
            .fetch_all(
                &Sql::new("SELECT person_ref, trade, id_masked FROM wf_workers WHERE project_id = ?").arg(project),
            )
            .await?;
        let mut masked = HashMap::new();
        for w in workers {
            let Ok(p) = PersonRef::parse(&w.person_ref) else { continue };
            f.workers.insert(p, WorkerFacts { trade: Trade::parse(&w.trade).ok(), ..WorkerFacts::default() });
            masked.insert(w.person_ref, w.id_masked);
        }
        let cards: Vec<CardDb> = self
            .fetch_all(
                &Sql::new("SELECT person_ref, card_commitment, event_id FROM wf_cards WHERE project_id = ?")
                    .arg(project),
            )
            .await?;
        for c in cards {
            let (Ok(p), Ok(cm)) = (PersonRef::parse(&c.person_ref), Commitment::parse(&c.card_commitment)) else {
                continue;
            };
            f.workers.entry(p).or_default().cards.push((cm, c.event_id));
        }
        let certs: Vec<CertDb> = self
            .fetch_all(
                &Sql::new("SELECT person_ref, valid_until, event_id FROM wf_certificates WHERE project_id = ?")
                    .arg(project),
            )
            .await?;
        for c in certs {
            let (Ok(p), Some(until)) = (PersonRef::parse(&c.person_ref), date(&c.valid_until)) else { continue };
            f.workers.entry(p).or_default().certificates.push((until, c.event_id));
        }
        let account: Option<AccountDb> = self
            .fetch_optional(
                &Sql::new("SELECT opened_on, event_id, pay_day FROM wf_accounts WHERE project_id = ?").arg(project),
            )
            .await?;
        f.account = account.and_then(|a| Some((date(&a.opened_on)?, a.event_id, u8::try_from(a.pay_day).ok()?)));
        let deposits: Vec<DepositDb> = self
            .fetch_all(&Sql::new("SELECT event_id, deposited_on FROM wf_deposits WHERE project_id = ?").arg(project))
            .await?;
        f.deposits = deposits
            .into_iter()
            .filter_map(|d| Some(DepositFact { deposited_on: date(&d.deposited_on)?, event_id: d.event_id }))
            .collect();
        Ok(Some((head, f, masked)))
    }

    /// The arrears view: every finding of every visible project with workforce records (or of `project`), as of
    /// `as_of` (default, per project: the latest day of that project's workforce records — the log's "now" for
    /// it, never the wall clock, and never moved by another project's records), computed from the facts now: over
    /// many projects this costs their whole workforce history (≈ 24 s for the city's 3,000 after one day, more
    /// every day). The API and the dashboard answer with [`ReadDb::workforce_arrears_view`].
    pub async fn workforce_arrears(
        &self,
        scope: &Scope,
        project: Option<&str>,
        as_of: Option<LocalDate>,
        days_tolerance: u32,
    ) -> Result<Vec<ArrearsRow>, ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok(Vec::new());
        }
        let projects: Vec<String> = match project {
            Some(p) => vec![p.to_owned()],
            None => {
                let mut q = Sql::new("SELECT DISTINCT w.project_id AS v FROM wf_workers w WHERE ");
                project_visible(&mut q, scope, "w.project_id");
                q.push(" UNION SELECT a.project_id AS v FROM wf_accounts a WHERE ");
                project_visible(&mut q, scope, "a.project_id");
                let rows: Vec<Str1> = self.fetch_all(&q).await?;
                let mut v: Vec<String> = rows.into_iter().map(|r| r.v).collect();
                v.sort();
                v.dedup();
                v
            }
        };
        let mut out = Vec::new();
        for p in projects {
            let Some(mut rows) = self.project_findings(scope, &p, as_of, days_tolerance).await? else { continue };
            let gcs: Vec<Str1> = self
                .fetch_all(
                    &Sql::new(
                        "SELECT credit_code AS v FROM participants WHERE project_id = ? AND role = 'general_contractor' \
                         ORDER BY credit_code",
                    )
                    .arg(p.as_str()),
                )
                .await?;
            let gc = gcs.into_iter().map(|r| r.v).collect::<Vec<_>>().join(",");
            let published: HashMap<String, String> = self
                .fetch_all::<Published>(
                    &Sql::new("SELECT finding_id, event_id FROM wf_findings_published WHERE project_id = ?")
                        .arg(p.as_str()),
                )
                .await?
                .into_iter()
                .map(|r| (r.finding_id, r.event_id))
                .collect();
            for r in &mut rows {
                r.general_contractor.clone_from(&gc);
                r.published_event_id = published.get(&r.finding_id).cloned();
            }
            out.extend(rows);
        }
        Ok(out)
    }

    /// The arrears view as the API and the dashboard answer it. One project's, or any view with `as_of` or a
    /// tolerance other than [`DEFAULT_DAYS_TOLERANCE`], is [`ReadDb::workforce_arrears`]. Every visible project's
    /// with the default options (the city's, a district's, an enterprise's) is read from the findings the runtime
    /// keeps for each project ([`ReadDb::refresh_workforce_findings`]), so that it costs the findings rather than
    /// the history. Projects with facts newer than their stored findings are computed now if they are at most
    /// [`READ_THROUGH_PROJECTS`]; if more are due, all are served as stored and counted in
    /// [`ArrearsView::pending`].
    pub async fn workforce_arrears_view(
        &self,
        scope: &Scope,
        project: Option<&str>,
        as_of: Option<LocalDate>,
        days_tolerance: u32,
    ) -> Result<ArrearsView, ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok(ArrearsView::default());
        }
        if project.is_none() && as_of.is_none() && days_tolerance == DEFAULT_DAYS_TOLERANCE {
            return self.stored_findings(scope, READ_THROUGH_PROJECTS).await;
        }
        let rows = self.workforce_arrears(scope, project, as_of, days_tolerance).await?;
        Ok(ArrearsView { rows, pending: 0 })
    }

    /// The findings of `project` (if `scope` sees it and it has workforce facts) as of `as_of` (default: its latest
    /// workforce day; `None` without one), in the order the rules give them, without the general contractors and
    /// publications (the caller's join).
    pub(super) async fn project_findings(
        &self,
        scope: &Scope,
        project: &str,
        as_of: Option<LocalDate>,
        days_tolerance: u32,
    ) -> Result<Option<Vec<ArrearsRow>>, ProjectionError> {
        let as_of = match as_of {
            Some(d) => d,
            None => match self.workforce_project_latest_day(project).await?.as_deref().and_then(date) {
                Some(d) => d,
                None => return Ok(None),
            },
        };
        let Some((head, facts, masked)) = self.workforce_facts(scope, project).await? else { return Ok(None) };
        let rows = arrears::findings(&facts, Options { as_of, days_tolerance })
            .into_iter()
            .map(|f| {
                let finding_id = f.key();
                let Finding { rule, month, person_ref, evidence, detail } = f;
                ArrearsRow {
                    published_event_id: None,
                    finding_id,
                    project_id: head.project_id.clone(),
                    project_name: head.name.clone(),
                    district: head.district.clone(),
                    general_contractor: String::new(),
                    rule: rule.as_str().to_owned(),
                    rule_zh: rule.name_zh().to_owned(),
                    basis: rule.basis().to_owned(),
                    month: month.as_string(),
                    id_masked: person_ref.as_ref().and_then(|p| masked.get(p.as_str()).cloned()),
                    person_ref: person_ref.map(|p| p.as_str().to_owned()),
                    evidence,
                    detail,
                    as_of: as_of.to_string(),
                }
            })
            .collect();
        Ok(Some(rows))
    }
}

/// A payroll line with the worker's masked ID, for exports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct PayrollLineRow {
    /// Project.
    pub project_id: String,
    /// Payroll.
    pub payroll_id: String,
    /// Team.
    pub team_id: String,
    /// Employer credit code.
    pub employer: String,
    /// Month.
    pub month: String,
    /// Person.
    pub person_ref: String,
    /// 证件类型.
    pub id_type: Option<String>,
    /// Masked ID.
    pub id_masked: Option<String>,
    /// Days.
    pub days: i64,
    /// Hours.
    pub hours: i64,
    /// 应发 (fen).
    pub payable_fen: i64,
    /// 实发 (fen).
    pub actual_fen: i64,
    /// Masked card.
    pub card_masked: String,
    /// 补发.
    pub back_pay: i64,
    /// Latest transfer date for the line, if paid.
    pub paid_on: Option<String>,
}

impl ReadDb {
    /// The payroll lines of `project` for `month`, with masked IDs and the latest transfer date.
    pub async fn workforce_payroll_lines(
        &self,
        scope: &Scope,
        project: &str,
        month: &str,
    ) -> Result<Vec<PayrollLineRow>, ProjectionError> {
        let mut q = Sql::new(
            "SELECT l.project_id, l.payroll_id, l.team_id, l.employer, l.month, l.person_ref, w.id_type, w.id_masked, \
             l.days, l.hours, l.payable_fen, l.actual_fen, l.card_masked, l.back_pay, \
             (SELECT MAX(t.paid_on) FROM wf_transfers t WHERE t.project_id = l.project_id AND t.payroll_id = l.payroll_id \
              AND t.person_ref = l.person_ref) AS paid_on \
             FROM wf_payroll_lines l LEFT JOIN wf_workers w ON w.project_id = l.project_id AND w.person_ref = l.person_ref WHERE ",
        );
        project_visible(&mut q, scope, "l.project_id");
        q.push(" AND l.project_id = ").bind(project);
        q.push(" AND l.month = ").bind(month);
        q.push(" ORDER BY l.payroll_id, l.person_ref");
        Ok(self.fetch_all(&q).await?)
    }
}
