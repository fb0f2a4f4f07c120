//! Read models of supervision workflows: inspections and rectifications (工程安全质量监管), the testing register with
//! its unqualified results and report-number gaps (工程质量检测), 危大工程 with classification and what each still
//! lacks, BIM progress nodes with deviation, and coordination tasks (协同指挥); plus the command view (指挥视图).
//!
//! The projection `supervision` folds `inspection.*`, `testing.*`, `hazard.*`, `bim.*` and `task.*` records into its
//! `sv_*` tables. Folds store facts only (statuses, deadlines in µs); everything that depends on the time of the
//! question — overdue rectifications, SLA breaches, non-conformities not reported in time, BIM deviation — is
//! computed by the queries from a `now` the caller passes, with the domain's own functions
//! ([`inspection::is_overdue`], [`task::sla_breached`], [`hazard::missing`], [`bim::deviation_days`],
//! [`testing::gaps`]), so the rules live in one place and a rebuild gives the same rows.
//!
//! Queries are `impl ReadDb` blocks taking a [`Scope`]. Tasks without a project belong to their district's scope.
//! Report-number gaps are per laboratory and year across all projects (numbering is the laboratory's): a scoped
//! caller sees the gaps of laboratories that issued at least one report on a visible project.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use siteledger_domain::LocalDate;
use siteledger_domain::supervision::hazard::{self, Category, Class, Parameters, ReviewOutcome};
use siteledger_domain::supervision::inspection::{self, RectificationStatus};
use siteledger_domain::supervision::task::{self, TaskStatus};
use siteledger_domain::supervision::{bim, testing};
use time::OffsetDateTime;

use crate::Scope;
use crate::db::{ReadDb, Sql, Tx, to_u64};
use crate::error::ProjectionError;
use crate::fold::{Prepared, bool_field, int_field, skip, str_field, text_field};
use crate::queries::project_visible;

/// Name in `projection_checkpoints`.
pub(crate) const NAME: &str = "supervision";
/// Code version: bump it when the fold or the tables change; the tables are re-created and refolded.
pub(crate) const VERSION: i64 = 2;
/// Tables this projection owns.
pub(crate) const TABLES: &[&str] = &[
    "sv_inspections",
    "sv_findings",
    "sv_rectifications",
    "sv_stop_orders",
    "sv_settings",
    "sv_commissions",
    "sv_samples",
    "sv_test_reports",
    "sv_hazards",
    "sv_bim_models",
    "sv_bim_nodes",
    "sv_tasks",
];
/// Their `CREATE TABLE IF NOT EXISTS` / `CREATE INDEX IF NOT EXISTS` statements (SQLite and PostgreSQL).
pub(crate) const DDL: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS sv_inspections (
        ins_key TEXT PRIMARY KEY, project_id TEXT NOT NULL, inspection_id TEXT NOT NULL, inspection_kind TEXT NOT NULL,
        inspector TEXT NOT NULL, scope TEXT NOT NULL, inspected_party TEXT NOT NULL, at TEXT NOT NULL,
        event_id TEXT NOT NULL, position BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sv_findings (
        finding_key TEXT PRIMARY KEY, project_id TEXT NOT NULL, inspection_id TEXT NOT NULL, finding_id TEXT NOT NULL,
        level TEXT NOT NULL, category TEXT NOT NULL, description TEXT NOT NULL, at TEXT NOT NULL,
        event_id TEXT NOT NULL, position BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sv_rectifications (
        notice_key TEXT PRIMARY KEY, project_id TEXT NOT NULL, notice_id TEXT NOT NULL, finding_id TEXT NOT NULL,
        inspection_id TEXT NOT NULL, level TEXT NOT NULL, category TEXT NOT NULL, description TEXT NOT NULL,
        responsible TEXT NOT NULL, requirement TEXT NOT NULL, deadline TEXT NOT NULL, deadline_us BIGINT NOT NULL,
        status TEXT NOT NULL, submissions BIGINT NOT NULL, failed_reviews BIGINT NOT NULL, noticed_at TEXT NOT NULL,
        submitted_at TEXT, reviewed_at TEXT, closed_at TEXT, event_id TEXT NOT NULL, position BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS sv_rectifications_project ON sv_rectifications (project_id)",
    "CREATE TABLE IF NOT EXISTS sv_stop_orders (
        order_key TEXT PRIMARY KEY, project_id TEXT NOT NULL, order_id TEXT NOT NULL, reason TEXT NOT NULL,
        scope TEXT NOT NULL, ordered_at TEXT NOT NULL, lifted_at TEXT, event_id TEXT NOT NULL, position BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sv_settings (name TEXT PRIMARY KEY, value BIGINT NOT NULL, position BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sv_samples (
        sample_key TEXT PRIMARY KEY, project_id TEXT NOT NULL, commission_id TEXT NOT NULL, sample_id TEXT NOT NULL,
        lab TEXT NOT NULL, item TEXT NOT NULL, structural BIGINT NOT NULL, seal_id TEXT NOT NULL, witness TEXT NOT NULL,
        sampler TEXT NOT NULL, taken_at TEXT NOT NULL, received_at TEXT, seal_intact BIGINT, position BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sv_commissions (
        commission_key TEXT PRIMARY KEY, project_id TEXT NOT NULL, lab TEXT NOT NULL, item TEXT NOT NULL,
        structural BIGINT NOT NULL, position BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sv_test_reports (
        report_key TEXT PRIMARY KEY, project_id TEXT NOT NULL, lab TEXT NOT NULL, report_year BIGINT NOT NULL,
        report_seq BIGINT NOT NULL, sample_id TEXT NOT NULL, item TEXT NOT NULL, structural BIGINT NOT NULL,
        result TEXT NOT NULL, tester TEXT NOT NULL, summary TEXT NOT NULL, issued_at TEXT NOT NULL,
        issued_us BIGINT NOT NULL, due_us BIGINT NOT NULL, reported_at TEXT, reported_us BIGINT,
        event_id TEXT NOT NULL, position BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS sv_test_reports_lab ON sv_test_reports (lab, report_year)",
    "CREATE TABLE IF NOT EXISTS sv_hazards (
        work_key TEXT PRIMARY KEY, project_id TEXT NOT NULL, work_id TEXT NOT NULL, name TEXT NOT NULL,
        category TEXT NOT NULL, class TEXT NOT NULL, parameters TEXT NOT NULL, approved_version BIGINT NOT NULL,
        countersigned_version BIGINT NOT NULL, review_version BIGINT, review_outcome TEXT, site_notice BIGINT NOT NULL,
        briefing BIGINT NOT NULL, readings BIGINT NOT NULL, anomalies BIGINT NOT NULL, started_at TEXT,
        accepted_at TEXT, listed_at TEXT NOT NULL, event_id TEXT NOT NULL, position BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sv_bim_models (
        model_key TEXT PRIMARY KEY, project_id TEXT NOT NULL, model_id TEXT NOT NULL, version BIGINT NOT NULL,
        sha256 TEXT NOT NULL, format TEXT NOT NULL, file_name TEXT NOT NULL, at TEXT NOT NULL, event_id TEXT NOT NULL,
        position BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sv_bim_nodes (
        node_key TEXT PRIMARY KEY, project_id TEXT NOT NULL, node_id TEXT NOT NULL, name TEXT NOT NULL,
        model_id TEXT NOT NULL, elements BIGINT NOT NULL, planned_start TEXT NOT NULL, planned_finish TEXT NOT NULL,
        status BIGINT NOT NULL, actual_start TEXT, actual_finish TEXT, position BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sv_tasks (
        task_id TEXT PRIMARY KEY, district TEXT NOT NULL, project_id TEXT, title TEXT NOT NULL,
        source_kind TEXT NOT NULL, source_event_id TEXT NOT NULL, assignee_kind TEXT NOT NULL, assignee TEXT NOT NULL,
        level TEXT NOT NULL, status TEXT NOT NULL, sla_hours BIGINT NOT NULL, dispatched_at TEXT NOT NULL,
        due_us BIGINT NOT NULL, escalations BIGINT NOT NULL, resolved_at TEXT, closed_at TEXT, note TEXT,
        event_id TEXT NOT NULL, position BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS sv_tasks_district ON sv_tasks (district)",
];

const US: i64 = 1_000_000;

fn k2(project: &str, id: &str) -> String {
    format!("{project}/{id}")
}

/// Folds `events` (consecutive, this projection's checkpoint first) into the tables, inside the batch's
/// transaction.
pub(crate) async fn fold(tx: &mut Tx, events: &[Prepared<'_>]) -> Result<(), sqlx::Error> {
    for x in events {
        let kind = x.e.kind.as_str();
        let prefix = kind.split('.').next().unwrap_or("");
        if !matches!(prefix, "inspection" | "testing" | "hazard" | "bim" | "task") {
            continue;
        }
        let p = &x.payload;
        let project = str_field(p, "project_id").or_else(|| x.project.map(str::to_owned));
        let at = x.e.occurred_at.clone();
        let eid = x.e.event_id.to_string();
        let pos = x.e.position;
        match kind {
            inspection::INSPECTION_RECORDED => {
                let (Some(pr), Some(id)) = (project, str_field(p, "inspection_id")) else {
                    skip(x, "project_id/inspection_id");
                    continue;
                };
                tx.execute(
                    &Sql::new(
                        "INSERT INTO sv_inspections (ins_key, project_id, inspection_id, inspection_kind, inspector, \
                         scope, inspected_party, at, event_id, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                         ON CONFLICT (ins_key) DO NOTHING",
                    )
                    .arg(k2(&pr, &id))
                    .arg(pr.as_str())
                    .arg(id)
                    .arg(text_field(p, "inspection_kind").unwrap_or_default())
                    .arg(text_field(p, "inspector").unwrap_or_default())
                    .arg(text_field(p, "scope").unwrap_or_default())
                    .arg(text_field(p, "inspected_party").unwrap_or_default())
                    .arg(at)
                    .arg(eid)
                    .arg(pos),
                )
                .await?;
            }
            inspection::FINDING_RECORDED => {
                let (Some(pr), Some(id)) = (project, str_field(p, "finding_id")) else {
                    skip(x, "project_id/finding_id");
                    continue;
                };
                tx.execute(
                    &Sql::new(
                        "INSERT INTO sv_findings (finding_key, project_id, inspection_id, finding_id, level, category, \
                         description, at, event_id, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                         ON CONFLICT (finding_key) DO NOTHING",
                    )
                    .arg(k2(&pr, &id))
                    .arg(pr.as_str())
                    .arg(text_field(p, "inspection_id").unwrap_or_default())
                    .arg(id)
                    .arg(text_field(p, "level").unwrap_or_default())
                    .arg(text_field(p, "category").unwrap_or_default())
                    .arg(text_field(p, "description").unwrap_or_default())
                    .arg(at)
                    .arg(eid)
                    .arg(pos),
                )
                .await?;
            }
            inspection::NOTICE_ISSUED => {
                let (Some(pr), Some(id), Some(fid)) = (project, str_field(p, "notice_id"), str_field(p, "finding_id"))
                else {
                    skip(x, "project_id/notice_id/finding_id");
                    continue;
                };
                let deadline = text_field(p, "deadline").unwrap_or_default();
                let deadline_us = siteledger_domain::supervision::unix_of(&deadline).saturating_mul(US);
                let finding: Option<(String, String, String, String)> = tx
                    .fetch_optional(
                        &Sql::new(
                            "SELECT inspection_id, level, category, description FROM sv_findings WHERE finding_key = ?",
                        )
                        .arg(k2(&pr, &fid)),
                    )
                    .await?;
                let (ins, level, category, description) = finding.unwrap_or_default();
                tx.execute(
                    &Sql::new(
                        "INSERT INTO sv_rectifications (notice_key, project_id, notice_id, finding_id, inspection_id, \
                         level, category, description, responsible, requirement, deadline, deadline_us, status, \
                         submissions, failed_reviews, noticed_at, event_id, position) \
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', 0, 0, ?, ?, ?) \
                         ON CONFLICT (notice_key) DO NOTHING",
                    )
                    .arg(k2(&pr, &id))
                    .arg(pr.as_str())
                    .arg(id)
                    .arg(fid)
                    .arg(ins)
                    .arg(level)
                    .arg(category)
                    .arg(description)
                    .arg(text_field(p, "responsible").unwrap_or_default())
                    .arg(text_field(p, "requirement").unwrap_or_default())
                    .arg(deadline)
                    .arg(deadline_us)
                    .arg(at)
                    .arg(eid)
                    .arg(pos),
                )
                .await?;
            }
            inspection::RECTIFICATION_SUBMITTED
            | inspection::RECTIFICATION_REVIEWED
            | inspection::RECTIFICATION_CLOSED => {
                let (Some(pr), Some(id)) = (project, str_field(p, "notice_id")) else {
                    skip(x, "project_id/notice_id");
                    continue;
                };
                let q = match kind {
                    inspection::RECTIFICATION_SUBMITTED => Sql::new(
                        "UPDATE sv_rectifications SET status = 'submitted', submissions = submissions + 1, \
                         submitted_at = ?, position = ? WHERE notice_key = ?",
                    )
                    .arg(at)
                    .arg(pos),
                    inspection::RECTIFICATION_REVIEWED => {
                        let pass = str_field(p, "result").as_deref() == Some("pass");
                        Sql::new(
                            "UPDATE sv_rectifications SET status = ?, failed_reviews = failed_reviews + ?, \
                             reviewed_at = ?, position = ? WHERE notice_key = ?",
                        )
                        .arg(if pass { "passed" } else { "reopened" })
                        .arg(i64::from(!pass))
                        .arg(at)
                        .arg(pos)
                    }
                    _ => Sql::new(
                        "UPDATE sv_rectifications SET status = 'closed', closed_at = ?, position = ? WHERE notice_key = ?",
                    )
                    .arg(at)
                    .arg(pos),
                };
                tx.execute(&q.arg(k2(&pr, &id))).await?;
            }
            inspection::STOP_WORK_ORDERED => {
                let (Some(pr), Some(id)) = (project, str_field(p, "order_id")) else {
                    skip(x, "project_id/order_id");
                    continue;
                };
                tx.execute(
                    &Sql::new(
                        "INSERT INTO sv_stop_orders (order_key, project_id, order_id, reason, scope, ordered_at, \
                         event_id, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (order_key) DO NOTHING",
                    )
                    .arg(k2(&pr, &id))
                    .arg(pr.as_str())
                    .arg(id)
                    .arg(text_field(p, "reason").unwrap_or_default())
                    .arg(text_field(p, "scope").unwrap_or_default())
                    .arg(at)
                    .arg(eid)
                    .arg(pos),
                )
                .await?;
            }
            inspection::STOP_WORK_LIFTED => {
                let (Some(pr), Some(id)) = (project, str_field(p, "order_id")) else {
                    skip(x, "project_id/order_id");
                    continue;
                };
                tx.execute(
                    &Sql::new("UPDATE sv_stop_orders SET lifted_at = ?, position = ? WHERE order_key = ?")
                        .arg(at)
                        .arg(pos)
                        .arg(k2(&pr, &id)),
                )
                .await?;
            }
            testing::POLICY_SET => {
                let hours = int_field(p, "nonconformity_deadline_hours").unwrap_or(24);
                tx.execute(
                    &Sql::new(
                        "INSERT INTO sv_settings (name, value, position) VALUES ('nonconformity_deadline_hours', ?, ?) \
                         ON CONFLICT (name) DO UPDATE SET value = excluded.value, position = excluded.position",
                    )
                    .arg(hours)
                    .arg(pos),
                )
                .await?;
            }
            testing::COMMISSIONED => {
                let (Some(pr), Some(id)) = (project, str_field(p, "commission_id")) else {
                    skip(x, "project_id/commission_id");
                    continue;
                };
                tx.execute(
                    &Sql::new(
                        "INSERT INTO sv_commissions (commission_key, project_id, lab, item, structural, position) \
                         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (commission_key) DO NOTHING",
                    )
                    .arg(k2(&pr, &id))
                    .arg(pr.as_str())
                    .arg(text_field(p, "lab").unwrap_or_default())
                    .arg(text_field(p, "item").unwrap_or_default())
                    .arg(bool_field(p, "structural").unwrap_or(false))
                    .arg(pos),
                )
                .await?;
            }
            testing::SAMPLE_TAKEN => {
                let (Some(pr), Some(id), Some(cid)) =
                    (project, str_field(p, "sample_id"), str_field(p, "commission_id"))
                else {
                    skip(x, "project_id/sample_id/commission_id");
                    continue;
                };
                let c: Option<(String, String, i64)> = tx
                    .fetch_optional(
                        &Sql::new("SELECT lab, item, structural FROM sv_commissions WHERE commission_key = ?")
                            .arg(k2(&pr, &cid)),
                    )
                    .await?;
                let (lab, item, structural) = c.unwrap_or_default();
                tx.execute(
                    &Sql::new(
                        "INSERT INTO sv_samples (sample_key, project_id, commission_id, sample_id, lab, item, structural, \
                         seal_id, witness, sampler, taken_at, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                         ON CONFLICT (sample_key) DO NOTHING",
                    )
                    .arg(k2(&pr, &id))
                    .arg(pr.as_str())
                    .arg(cid)
                    .arg(id)
                    .arg(lab)
                    .arg(item)
                    .arg(structural)
                    .arg(text_field(p, "seal_id").unwrap_or_default())
                    .arg(text_field(p, "witness").unwrap_or_default())
                    .arg(text_field(p, "sampler").unwrap_or_default())
                    .arg(at)
                    .arg(pos),
                )
                .await?;
            }
            testing::SAMPLE_RECEIVED => {
                let (Some(pr), Some(id)) = (project, str_field(p, "sample_id")) else {
                    skip(x, "project_id/sample_id");
                    continue;
                };
                tx.execute(
                    &Sql::new("UPDATE sv_samples SET received_at = ?, seal_intact = ? WHERE sample_key = ?")
                        .arg(at)
                        .arg(bool_field(p, "seal_intact").unwrap_or(false))
                        .arg(k2(&pr, &id)),
                )
                .await?;
            }
            testing::REPORT_ISSUED => {
                let (Some(pr), Some(sid), Some(year), Some(seq)) =
                    (project, str_field(p, "sample_id"), int_field(p, "report_year"), int_field(p, "report_seq"))
                else {
                    skip(x, "project_id/sample_id/report_year/report_seq");
                    continue;
                };
                let s: Option<(String, String, i64)> = tx
                    .fetch_optional(
                        &Sql::new("SELECT lab, item, structural FROM sv_samples WHERE sample_key = ?")
                            .arg(k2(&pr, &sid)),
                    )
                    .await?;
                let (lab, item, structural) = s.unwrap_or_default();
                let hours: Option<(i64,)> = tx
                    .fetch_optional(&Sql::new(
                        "SELECT value FROM sv_settings WHERE name = 'nonconformity_deadline_hours'",
                    ))
                    .await?;
                let hours = hours.map_or(i64::from(testing::DEFAULT_NONCONFORMITY_HOURS), |(h,)| h);
                tx.execute(
                    &Sql::new(
                        "INSERT INTO sv_test_reports (report_key, project_id, lab, report_year, report_seq, sample_id, \
                         item, structural, result, tester, summary, issued_at, issued_us, due_us, event_id, position) \
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (report_key) DO NOTHING",
                    )
                    .arg(format!("{lab}/{year}/{seq}"))
                    .arg(pr.as_str())
                    .arg(lab)
                    .arg(year)
                    .arg(seq)
                    .arg(sid)
                    .arg(item)
                    .arg(structural)
                    .arg(text_field(p, "result").unwrap_or_default())
                    .arg(text_field(p, "tester").unwrap_or_default())
                    .arg(text_field(p, "summary").unwrap_or_default())
                    .arg(at)
                    .arg(x.occurred_us)
                    .arg(x.occurred_us.saturating_add(hours.saturating_mul(3600 * US)))
                    .arg(eid)
                    .arg(pos),
                )
                .await?;
            }
            testing::NONCONFORMITY_REPORTED => {
                let (Some(year), Some(seq)) = (int_field(p, "report_year"), int_field(p, "report_seq")) else {
                    skip(x, "report_year/report_seq");
                    continue;
                };
                // The laboratory is the signer: its key's subject is its credit code.
                let lab: Option<(String,)> = tx
                    .fetch_optional(
                        &Sql::new("SELECT subject FROM signer_keys WHERE key_id = ?").arg(x.e.signer.clone()),
                    )
                    .await?;
                let lab = lab.map(|(s,)| s.trim_start_matches("enterprise/").to_owned()).unwrap_or_default();
                tx.execute(
                    &Sql::new(
                        "UPDATE sv_test_reports SET reported_at = ?, reported_us = ? WHERE report_key = ? \
                         AND reported_at IS NULL",
                    )
                    .arg(at)
                    .arg(x.occurred_us)
                    .arg(format!("{lab}/{year}/{seq}")),
                )
                .await?;
            }
            hazard::WORK_LISTED => {
                let (Some(pr), Some(id)) = (project, str_field(p, "work_id")) else {
                    skip(x, "project_id/work_id");
                    continue;
                };
                let category: Option<Category> = p.get("category").and_then(|v| serde_json::from_value(v.clone()).ok());
                let params: Option<Parameters> =
                    p.get("parameters").and_then(|v| serde_json::from_value(v.clone()).ok());
                let Some(class) = category.zip(params).and_then(|(c, ps)| hazard::classify(c, &ps)) else {
                    skip(x, "category/parameters");
                    continue;
                };
                tx.execute(
                    &Sql::new(
                        "INSERT INTO sv_hazards (work_key, project_id, work_id, name, category, class, parameters, \
                         approved_version, countersigned_version, site_notice, briefing, readings, anomalies, \
                         listed_at, event_id, position) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, 0, 0, 0, 0, ?, ?, ?) \
                         ON CONFLICT (work_key) DO NOTHING",
                    )
                    .arg(k2(&pr, &id))
                    .arg(pr.as_str())
                    .arg(id)
                    .arg(text_field(p, "name").unwrap_or_default())
                    .arg(text_field(p, "category").unwrap_or_default())
                    .arg(class.as_str())
                    .arg(p.get("parameters").map(Value::to_string).unwrap_or_default())
                    .arg(at)
                    .arg(eid)
                    .arg(pos),
                )
                .await?;
            }
            hazard::PLAN_APPROVED
            | hazard::PLAN_COUNTERSIGNED
            | hazard::EXPERT_REVIEW_HELD
            | hazard::SITE_NOTICE_POSTED
            | hazard::BRIEFING_HELD
            | hazard::WORK_STARTED
            | hazard::MONITORING_RECORDED
            | hazard::WORK_ACCEPTED => {
                let (Some(pr), Some(id)) = (project, str_field(p, "work_id")) else {
                    skip(x, "project_id/work_id");
                    continue;
                };
                let v = int_field(p, "plan_version").unwrap_or(0);
                let q = match kind {
                    hazard::PLAN_APPROVED => {
                        Sql::new("UPDATE sv_hazards SET approved_version = ?, position = ?").arg(v)
                    }
                    hazard::PLAN_COUNTERSIGNED => {
                        Sql::new("UPDATE sv_hazards SET countersigned_version = ?, position = ?").arg(v)
                    }
                    hazard::EXPERT_REVIEW_HELD => {
                        Sql::new("UPDATE sv_hazards SET review_version = ?, review_outcome = ?, position = ?")
                            .arg(v)
                            .arg(text_field(p, "outcome").unwrap_or_default())
                    }
                    hazard::SITE_NOTICE_POSTED => Sql::new("UPDATE sv_hazards SET site_notice = 1, position = ?"),
                    hazard::BRIEFING_HELD => Sql::new("UPDATE sv_hazards SET briefing = 1, position = ?"),
                    hazard::WORK_STARTED => Sql::new("UPDATE sv_hazards SET started_at = ?, position = ?").arg(at),
                    hazard::MONITORING_RECORDED => Sql::new(
                        "UPDATE sv_hazards SET readings = readings + 1, anomalies = anomalies + ?, position = ?",
                    )
                    .arg(i64::from(bool_field(p, "anomaly").unwrap_or(false))),
                    _ => Sql::new("UPDATE sv_hazards SET accepted_at = ?, position = ?").arg(at),
                };
                let mut q = q.arg(pos);
                q.push(" WHERE work_key = ");
                q.bind(k2(&pr, &id));
                tx.execute(&q).await?;
            }
            bim::MODEL_REGISTERED => {
                let (Some(pr), Some(id), Some(v)) = (project, str_field(p, "model_id"), int_field(p, "version")) else {
                    skip(x, "project_id/model_id/version");
                    continue;
                };
                tx.execute(
                    &Sql::new(
                        "INSERT INTO sv_bim_models (model_key, project_id, model_id, version, sha256, format, file_name, \
                         at, event_id, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (model_key) DO NOTHING",
                    )
                    .arg(format!("{pr}/{id}/{v}"))
                    .arg(pr.as_str())
                    .arg(id)
                    .arg(v)
                    .arg(text_field(p, "sha256").unwrap_or_default())
                    .arg(text_field(p, "format").unwrap_or_default())
                    .arg(text_field(p, "file_name").unwrap_or_default())
                    .arg(at)
                    .arg(eid)
                    .arg(pos),
                )
                .await?;
            }
            bim::NODE_PLANNED => {
                let (Some(pr), Some(id)) = (project, str_field(p, "node_id")) else {
                    skip(x, "project_id/node_id");
                    continue;
                };
                let elements = p.get("element_ids").and_then(Value::as_array).map_or(0, Vec::len);
                tx.execute(
                    &Sql::new(
                        "INSERT INTO sv_bim_nodes (node_key, project_id, node_id, name, model_id, elements, \
                         planned_start, planned_finish, status, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?) \
                         ON CONFLICT (node_key) DO NOTHING",
                    )
                    .arg(k2(&pr, &id))
                    .arg(pr.as_str())
                    .arg(id)
                    .arg(text_field(p, "name").unwrap_or_default())
                    .arg(text_field(p, "model_id").unwrap_or_default())
                    .arg(i64::try_from(elements).unwrap_or(0))
                    .arg(text_field(p, "planned_start").unwrap_or_default())
                    .arg(text_field(p, "planned_finish").unwrap_or_default())
                    .arg(pos),
                )
                .await?;
            }
            bim::NODE_PROGRESSED => {
                let (Some(pr), Some(id)) = (project, str_field(p, "node_id")) else {
                    skip(x, "project_id/node_id");
                    continue;
                };
                tx.execute(
                    &Sql::new(
                        "UPDATE sv_bim_nodes SET status = ?, actual_start = COALESCE(?, actual_start), \
                         actual_finish = COALESCE(?, actual_finish), position = ? WHERE node_key = ?",
                    )
                    .arg(int_field(p, "status").unwrap_or(0))
                    .arg(str_field(p, "actual_start"))
                    .arg(str_field(p, "actual_finish"))
                    .arg(pos)
                    .arg(k2(&pr, &id)),
                )
                .await?;
            }
            task::DISPATCHED => {
                let (Some(id), Some(district)) = (str_field(p, "task_id"), str_field(p, "district")) else {
                    skip(x, "task_id/district");
                    continue;
                };
                let sla = int_field(p, "sla_hours").unwrap_or(24);
                tx.execute(
                    &Sql::new(
                        "INSERT INTO sv_tasks (task_id, district, project_id, title, source_kind, source_event_id, \
                         assignee_kind, assignee, level, status, sla_hours, dispatched_at, due_us, escalations, \
                         event_id, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'dispatched', ?, ?, ?, 0, ?, ?) \
                         ON CONFLICT (task_id) DO NOTHING",
                    )
                    .arg(id)
                    .arg(district)
                    .arg(str_field(p, "project_id"))
                    .arg(text_field(p, "title").unwrap_or_default())
                    .arg(text_field(p, "source_kind").unwrap_or_default())
                    .arg(text_field(p, "source_event_id").unwrap_or_default())
                    .arg(text_field(p, "assignee_kind").unwrap_or_default())
                    .arg(text_field(p, "assignee").unwrap_or_default())
                    .arg(text_field(p, "level").unwrap_or_default())
                    .arg(sla)
                    .arg(at)
                    .arg(x.occurred_us.saturating_add(sla.saturating_mul(3600 * US)))
                    .arg(eid)
                    .arg(pos),
                )
                .await?;
            }
            task::ACKNOWLEDGED | task::ESCALATED | task::RESOLVED | task::CLOSED => {
                let Some(id) = str_field(p, "task_id") else {
                    skip(x, "task_id");
                    continue;
                };
                let note = text_field(p, "note").or_else(|| text_field(p, "reason"));
                let mut q = match kind {
                    task::ACKNOWLEDGED => Sql::new("UPDATE sv_tasks SET status = 'acknowledged', note = ?").arg(note),
                    task::ESCALATED => {
                        let sla = int_field(p, "sla_hours").unwrap_or(24);
                        Sql::new(
                            "UPDATE sv_tasks SET status = 'dispatched', level = ?, assignee_kind = ?, assignee = ?, \
                             sla_hours = ?, due_us = ?, escalations = escalations + 1, note = ?",
                        )
                        .arg(text_field(p, "to_level").unwrap_or_default())
                        .arg(text_field(p, "assignee_kind").unwrap_or_default())
                        .arg(text_field(p, "assignee").unwrap_or_default())
                        .arg(sla)
                        .arg(x.occurred_us.saturating_add(sla.saturating_mul(3600 * US)))
                        .arg(note)
                    }
                    task::RESOLVED => {
                        Sql::new("UPDATE sv_tasks SET status = 'resolved', resolved_at = ?, note = ?").arg(at).arg(note)
                    }
                    _ => Sql::new("UPDATE sv_tasks SET status = 'closed', closed_at = ?, note = ?").arg(at).arg(note),
                };
                q.push(", position = ");
                q.bind(pos);
                q.push(" WHERE task_id = ");
                q.bind(id);
                tx.execute(&q).await?;
            }
            _ => {}
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------
// queries

fn now_unix(now: OffsetDateTime) -> i64 {
    now.unix_timestamp()
}

fn us_text(us: i64) -> String {
    OffsetDateTime::from_unix_timestamp(us / US)
        .map(|t| {
            let t = crate::shanghai(t);
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+08:00",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            )
        })
        .unwrap_or_default()
}

/// One rectification notice (整改通知) with its state at `now`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RectificationRow {
    /// Project.
    pub project_id: String,
    /// Project name.
    pub project_name: String,
    /// District code.
    pub district: String,
    /// District name.
    pub district_name: String,
    /// Notice id.
    pub notice_id: String,
    /// Finding id.
    pub finding_id: String,
    /// Inspection id.
    pub inspection_id: String,
    /// `minor` / `general` / `serious`.
    pub level: String,
    /// 问题类别.
    pub category: String,
    /// 问题描述.
    pub description: String,
    /// Responsible party (credit code).
    pub responsible: String,
    /// Its name, if registered.
    pub responsible_name: String,
    /// 整改期限.
    pub deadline: String,
    /// `open` / `submitted` / `reopened` / `passed` / `closed`.
    pub status: String,
    /// Chinese status.
    pub status_zh: String,
    /// Submissions so far.
    pub submissions: i64,
    /// Failed reviews so far.
    pub failed_reviews: i64,
    /// Overdue at the time asked.
    pub overdue: bool,
    /// Hours past the deadline (0 if not overdue).
    pub overdue_hours: i64,
    /// 下发时间.
    pub noticed_at: String,
    /// Closed at.
    pub closed_at: Option<String>,
    /// The notice's event id.
    pub event_id: String,
    /// Log position of the last change.
    pub position: u64,
}

#[derive(sqlx::FromRow)]
struct RectDb {
    project_id: String,
    project_name: Option<String>,
    district: Option<String>,
    district_name: Option<String>,
    notice_id: String,
    finding_id: String,
    inspection_id: String,
    level: String,
    category: String,
    description: String,
    responsible: String,
    responsible_name: Option<String>,
    deadline: String,
    deadline_us: i64,
    status: String,
    submissions: i64,
    failed_reviews: i64,
    noticed_at: String,
    closed_at: Option<String>,
    event_id: String,
    position: i64,
}

/// One test report in the register (检测报告台账).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct TestReportRow {
    /// Project.
    pub project_id: String,
    /// Laboratory credit code.
    pub lab: String,
    /// Laboratory name, if registered.
    pub lab_name: Option<String>,
    /// Year.
    pub report_year: i64,
    /// Sequence.
    pub report_seq: i64,
    /// Sample.
    pub sample_id: String,
    /// 检测项目.
    pub item: String,
    /// 结构安全.
    pub structural: i64,
    /// `qualified` / `unqualified`.
    pub result: String,
    /// 检测人.
    pub tester: String,
    /// Summary.
    pub summary: String,
    /// Issued at.
    pub issued_at: String,
    /// Due for the non-conformity report (µs).
    #[serde(skip)]
    pub due_us: i64,
    /// Reported at.
    pub reported_at: Option<String>,
    /// Event id.
    pub event_id: String,
    /// Position.
    pub position: i64,
}

/// An unqualified result in the 不合格项目台账 with its reporting state at `now`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnqualifiedRow {
    /// The report.
    #[serde(flatten)]
    pub report: TestReportRow,
    /// Report due at.
    pub due_at: String,
    /// `reported` / `reported_late` / `pending` / `overdue`.
    pub reporting: String,
}

/// A gap in a laboratory's report numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportGapRow {
    /// Laboratory credit code.
    pub lab: String,
    /// Its name, if registered.
    pub lab_name: Option<String>,
    /// Year.
    pub year: i64,
    /// First missing number.
    pub from: u32,
    /// Last missing number.
    pub to: u32,
    /// Districts of the projects the laboratory reported on (for the command view).
    pub districts: Vec<String>,
}

/// A 危大工程 with its classification and what it still lacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HazardRow {
    /// Project.
    pub project_id: String,
    /// Project name.
    pub project_name: String,
    /// District.
    pub district: String,
    /// District name.
    pub district_name: String,
    /// Work id.
    pub work_id: String,
    /// Name.
    pub name: String,
    /// Category (JSON name).
    pub category: String,
    /// `hazardous` / `major`.
    pub class: String,
    /// 危大工程 / 超过一定规模.
    pub class_zh: String,
    /// Parameters as listed (JSON text).
    pub parameters: String,
    /// Approved plan version.
    pub approved_version: i64,
    /// Countersigned plan version.
    pub countersigned_version: i64,
    /// Last review outcome.
    pub review_outcome: Option<String>,
    /// Missing before start (`approval`, `countersignature`, `expert_review`).
    pub missing: Vec<String>,
    /// Missing, in Chinese.
    pub missing_zh: Vec<String>,
    /// Started (even though something is missing would be impossible: decide refuses it).
    pub started_at: Option<String>,
    /// Accepted.
    pub accepted_at: Option<String>,
    /// Monitoring readings.
    pub readings: i64,
    /// Anomalies.
    pub anomalies: i64,
    /// Listed at.
    pub listed_at: String,
    /// Position.
    pub position: i64,
}

#[derive(sqlx::FromRow)]
struct HazardDb {
    project_id: String,
    project_name: Option<String>,
    district: Option<String>,
    district_name: Option<String>,
    work_id: String,
    name: String,
    category: String,
    class: String,
    parameters: String,
    approved_version: i64,
    countersigned_version: i64,
    review_version: Option<i64>,
    review_outcome: Option<String>,
    started_at: Option<String>,
    accepted_at: Option<String>,
    readings: i64,
    anomalies: i64,
    listed_at: String,
    position: i64,
}

/// A BIM progress node with its deviation on `today`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BimNodeRow {
    /// Project.
    pub project_id: String,
    /// Project name.
    pub project_name: String,
    /// Node id.
    pub node_id: String,
    /// Name.
    pub name: String,
    /// Model.
    pub model_id: String,
    /// Latest model version.
    pub model_version: i64,
    /// Elements linked.
    pub elements: i64,
    /// Planned start.
    pub planned_start: String,
    /// Planned finish.
    pub planned_finish: String,
    /// 0/1/2.
    pub status: i64,
    /// 未开始/进行中/已完成.
    pub status_zh: String,
    /// Actual start.
    pub actual_start: Option<String>,
    /// Actual finish.
    pub actual_finish: Option<String>,
    /// Days late (negative: early).
    pub deviation_days: i64,
}

#[derive(sqlx::FromRow)]
struct BimDb {
    project_id: String,
    project_name: Option<String>,
    node_id: String,
    name: String,
    model_id: String,
    model_version: Option<i64>,
    elements: i64,
    planned_start: String,
    planned_finish: String,
    status: i64,
    actual_start: Option<String>,
    actual_finish: Option<String>,
}

/// A coordination task with its SLA state at `now`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskRow {
    /// Task id.
    pub task_id: String,
    /// District.
    pub district: String,
    /// District name.
    pub district_name: String,
    /// Project.
    pub project_id: Option<String>,
    /// Project name.
    pub project_name: Option<String>,
    /// 事项.
    pub title: String,
    /// Source kind.
    pub source_kind: String,
    /// Source event id.
    pub source_event_id: String,
    /// Assignee kind.
    pub assignee_kind: String,
    /// Assignee.
    pub assignee: String,
    /// Level.
    pub level: String,
    /// Status.
    pub status: String,
    /// SLA hours.
    pub sla_hours: i64,
    /// Dispatched at.
    pub dispatched_at: String,
    /// Due at.
    pub due_at: String,
    /// SLA breached at the time asked.
    pub breached: bool,
    /// Hours past due (0 if not breached).
    pub overdue_hours: i64,
    /// Escalations.
    pub escalations: i64,
    /// Resolved at.
    pub resolved_at: Option<String>,
    /// Closed at.
    pub closed_at: Option<String>,
    /// Last note.
    pub note: Option<String>,
    /// Event id of the dispatch.
    pub event_id: String,
    /// Position.
    pub position: i64,
}

#[derive(sqlx::FromRow)]
struct TaskDb {
    task_id: String,
    district: String,
    district_name: Option<String>,
    project_id: Option<String>,
    project_name: Option<String>,
    title: String,
    source_kind: String,
    source_event_id: String,
    assignee_kind: String,
    assignee: String,
    level: String,
    status: String,
    sla_hours: i64,
    dispatched_at: String,
    due_us: i64,
    escalations: i64,
    resolved_at: Option<String>,
    closed_at: Option<String>,
    note: Option<String>,
    event_id: String,
    position: i64,
}

/// Per-district counts of the command view.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CommandDistrict {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Open tasks.
    pub open_tasks: usize,
    /// Of which past their SLA.
    pub breached_tasks: usize,
    /// Overdue rectifications.
    pub overdue_rectifications: usize,
    /// 超规模 works without a valid expert review.
    pub missing_reviews: usize,
    /// 危大 works without approval / countersignature.
    pub missing_approvals: usize,
    /// Report-number gaps of labs working here.
    pub report_gaps: usize,
    /// Unqualified results not reported in time.
    pub unreported_unqualified: usize,
}

/// The command view (指挥视图): what needs action, overdue first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CommandView {
    /// The time the view was computed for.
    pub now: String,
    /// Per district, the districts with the most overdue items first.
    pub districts: Vec<CommandDistrict>,
    /// Open tasks, breached first, then by due time.
    pub open_tasks: Vec<TaskRow>,
    /// Overdue rectifications, most overdue first.
    pub overdue_rectifications: Vec<RectificationRow>,
    /// 超规模 works lacking a valid expert review (and others lacking approval), not yet accepted.
    pub missing_reviews: Vec<HazardRow>,
    /// 危大工程 with monitoring anomalies (第三方监测异常), not yet accepted.
    pub monitoring_anomalies: Vec<HazardRow>,
    /// Report-number gaps.
    pub report_gaps: Vec<ReportGapRow>,
    /// Unqualified results not reported by their deadline.
    pub unreported_unqualified: Vec<UnqualifiedRow>,
}

/// An inspection (监督检查) with its number of findings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct InspectionRow {
    /// Project.
    pub project_id: String,
    /// Project name.
    pub project_name: Option<String>,
    /// Inspection id.
    pub inspection_id: String,
    /// `safety` / `quality`.
    pub inspection_kind: String,
    /// 检查人.
    pub inspector: String,
    /// 检查范围.
    pub scope: String,
    /// 受检单位 (credit code).
    pub inspected_party: String,
    /// Its name, if registered.
    pub inspected_party_name: Option<String>,
    /// When.
    pub at: String,
    /// Findings recorded.
    pub findings: i64,
    /// Event id.
    pub event_id: String,
    /// Position.
    pub position: i64,
}

/// A stop-work order (停工令).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct StopOrderRow {
    /// Project.
    pub project_id: String,
    /// Project name.
    pub project_name: Option<String>,
    /// Order id.
    pub order_id: String,
    /// 停工原因.
    pub reason: String,
    /// 停工范围.
    pub scope: String,
    /// Ordered at.
    pub ordered_at: String,
    /// Lifted at (复工), if lifted.
    pub lifted_at: Option<String>,
    /// Event id.
    pub event_id: String,
    /// Position.
    pub position: i64,
}

/// Filter of [`ReadDb::rectifications`].
#[derive(Debug, Clone, Default)]
pub struct RectificationFilter {
    /// Only this project.
    pub project: Option<String>,
    /// Only notices not yet closed.
    pub open_only: bool,
    /// Only overdue notices.
    pub overdue_only: bool,
}

const PROJECT_JOIN: &str = " LEFT JOIN projects pj ON pj.project_id = t.project_id \
     LEFT JOIN districts dj ON dj.code = pj.district ";

impl ReadDb {
    /// Rectification notices with their state at `now`: overdue first (most overdue first), then newest.
    pub async fn rectifications(
        &self,
        scope: &Scope,
        filter: &RectificationFilter,
        now: OffsetDateTime,
    ) -> Result<Vec<RectificationRow>, ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok(Vec::new());
        }
        let mut q = Sql::new(
            "SELECT t.project_id, pj.name AS project_name, pj.district, dj.name AS district_name, t.notice_id, \
             t.finding_id, t.inspection_id, t.level, t.category, t.description, t.responsible, \
             e.name AS responsible_name, t.deadline, t.deadline_us, t.status, t.submissions, t.failed_reviews, \
             t.noticed_at, t.closed_at, t.event_id, t.position FROM sv_rectifications t",
        );
        q.push(PROJECT_JOIN);
        q.push(" LEFT JOIN enterprises e ON e.credit_code = t.responsible WHERE ");
        project_visible(&mut q, scope, "t.project_id");
        if let Some(p) = &filter.project {
            q.push(" AND t.project_id = ");
            q.bind(p);
        }
        if filter.open_only || filter.overdue_only {
            q.push(" AND t.status <> 'closed'");
        }
        q.push(" ORDER BY t.position DESC LIMIT 5000");
        let rows: Vec<RectDb> = self.fetch_all(&q).await?;
        let now_s = now_unix(now);
        let mut out: Vec<RectificationRow> = rows
            .into_iter()
            .map(|r| {
                let status = RectificationStatus::parse(&r.status).unwrap_or(RectificationStatus::Open);
                let deadline = r.deadline_us / US;
                let overdue = inspection::is_overdue(status, deadline, now_s);
                RectificationRow {
                    project_id: r.project_id,
                    project_name: r.project_name.unwrap_or_default(),
                    district: r.district.clone().unwrap_or_default(),
                    district_name: r.district_name.or(r.district).unwrap_or_default(),
                    notice_id: r.notice_id,
                    finding_id: r.finding_id,
                    inspection_id: r.inspection_id,
                    level: r.level,
                    category: r.category,
                    description: r.description,
                    responsible: r.responsible,
                    responsible_name: r.responsible_name.unwrap_or_default(),
                    deadline: r.deadline,
                    status: status.as_str().to_owned(),
                    status_zh: status.name_zh().to_owned(),
                    submissions: r.submissions,
                    failed_reviews: r.failed_reviews,
                    overdue,
                    overdue_hours: if overdue { now_s.saturating_sub(deadline) / 3600 } else { 0 },
                    noticed_at: r.noticed_at,
                    closed_at: r.closed_at,
                    event_id: r.event_id,
                    position: to_u64(r.position),
                }
            })
            .filter(|r| !filter.overdue_only || r.overdue)
            .collect();
        out.sort_by_key(|r| (!r.overdue, -r.overdue_hours, std::cmp::Reverse(r.position)));
        Ok(out)
    }

    /// Inspections, newest first.
    pub async fn inspections(
        &self,
        scope: &Scope,
        project: Option<&str>,
    ) -> Result<Vec<InspectionRow>, ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok(Vec::new());
        }
        let mut q = Sql::new(
            "SELECT t.project_id, pj.name AS project_name, t.inspection_id, t.inspection_kind, t.inspector, t.scope, \
             t.inspected_party, e.name AS inspected_party_name, t.at, CAST((SELECT COUNT(*) FROM sv_findings f \
             WHERE f.project_id = t.project_id AND f.inspection_id = t.inspection_id) AS BIGINT) AS findings, \
             t.event_id, t.position FROM sv_inspections t",
        );
        q.push(PROJECT_JOIN);
        q.push(" LEFT JOIN enterprises e ON e.credit_code = t.inspected_party WHERE ");
        project_visible(&mut q, scope, "t.project_id");
        if let Some(p) = project {
            q.push(" AND t.project_id = ");
            q.bind(p);
        }
        q.push(" ORDER BY t.position DESC LIMIT 5000");
        Ok(self.fetch_all(&q).await?)
    }

    /// Stop-work orders, those in force first.
    pub async fn stop_orders(&self, scope: &Scope) -> Result<Vec<StopOrderRow>, ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok(Vec::new());
        }
        let mut q = Sql::new(
            "SELECT t.project_id, pj.name AS project_name, t.order_id, t.reason, t.scope, t.ordered_at, t.lifted_at, \
             t.event_id, t.position FROM sv_stop_orders t",
        );
        q.push(PROJECT_JOIN);
        q.push(" WHERE ");
        project_visible(&mut q, scope, "t.project_id");
        q.push(" ORDER BY CASE WHEN t.lifted_at IS NULL THEN 0 ELSE 1 END, t.position DESC LIMIT 5000");
        Ok(self.fetch_all(&q).await?)
    }

    /// Test reports (检测报告台账), newest first; `unqualified_only` for the 不合格项目台账.
    pub async fn test_reports(
        &self,
        scope: &Scope,
        project: Option<&str>,
        unqualified_only: bool,
    ) -> Result<Vec<TestReportRow>, ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok(Vec::new());
        }
        let mut q = Sql::new(
            "SELECT t.project_id, t.lab, e.name AS lab_name, t.report_year, t.report_seq, t.sample_id, t.item, \
             t.structural, t.result, t.tester, t.summary, t.issued_at, t.due_us, t.reported_at, t.event_id, \
             t.position FROM sv_test_reports t LEFT JOIN enterprises e ON e.credit_code = t.lab WHERE ",
        );
        project_visible(&mut q, scope, "t.project_id");
        if let Some(p) = project {
            q.push(" AND t.project_id = ");
            q.bind(p);
        }
        if unqualified_only {
            q.push(" AND t.result = 'unqualified'");
        }
        q.push(" ORDER BY t.position DESC LIMIT 5000");
        Ok(self.fetch_all(&q).await?)
    }

    /// The 不合格项目台账 with each result's reporting state at `now` (structural and overdue first).
    pub async fn unqualified_register(
        &self,
        scope: &Scope,
        now: OffsetDateTime,
    ) -> Result<Vec<UnqualifiedRow>, ProjectionError> {
        let rows = self.test_reports(scope, None, true).await?;
        let now_us = now_unix(now) * US;
        let reported: BTreeMap<String, i64> = {
            let q = Sql::new(
                "SELECT report_key, reported_us FROM sv_test_reports WHERE result = 'unqualified' AND reported_us IS NOT NULL",
            );
            let r: Vec<(String, i64)> = self.fetch_all(&q).await?;
            r.into_iter().collect()
        };
        let mut out: Vec<UnqualifiedRow> = rows
            .into_iter()
            .map(|r| {
                let key = format!("{}/{}/{}", r.lab, r.report_year, r.report_seq);
                let reporting = match reported.get(&key) {
                    Some(at) if *at > r.due_us => "reported_late",
                    Some(_) => "reported",
                    None if now_us > r.due_us => "overdue",
                    None => "pending",
                };
                UnqualifiedRow { due_at: us_text(r.due_us), reporting: reporting.to_owned(), report: r }
            })
            .collect();
        out.sort_by_key(|u| (u.reporting != "overdue", u.report.structural == 0, std::cmp::Reverse(u.report.position)));
        Ok(out)
    }

    /// Gaps in report numbers per laboratory and year (the laboratory's whole numbering; see the module docs for
    /// scoping).
    pub async fn report_gaps(&self, scope: &Scope) -> Result<Vec<ReportGapRow>, ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok(Vec::new());
        }
        let mut q = Sql::new("SELECT DISTINCT t.lab FROM sv_test_reports t WHERE ");
        project_visible(&mut q, scope, "t.project_id");
        let labs: Vec<(String,)> = self.fetch_all(&q).await?;
        let mut out = Vec::new();
        for (lab,) in labs {
            let rows: Vec<(i64, i64, Option<String>, Option<String>)> = self
                .fetch_all(
                    &Sql::new(
                        "SELECT t.report_year, t.report_seq, p.district, e.name FROM sv_test_reports t \
                         LEFT JOIN projects p ON p.project_id = t.project_id \
                         LEFT JOIN enterprises e ON e.credit_code = t.lab WHERE t.lab = ? ORDER BY t.report_year",
                    )
                    .arg(lab.as_str()),
                )
                .await?;
            let mut by_year: BTreeMap<i64, Vec<u32>> = BTreeMap::new();
            let mut districts: Vec<String> = Vec::new();
            let mut name = None;
            for (year, seq, d, n) in rows {
                by_year.entry(year).or_default().push(u32::try_from(seq).unwrap_or(0));
                if let Some(d) = d
                    && !districts.contains(&d)
                {
                    districts.push(d);
                }
                name = name.or(n);
            }
            districts.sort();
            for (year, seqs) in by_year {
                for g in testing::gaps(seqs) {
                    out.push(ReportGapRow {
                        lab: lab.clone(),
                        lab_name: name.clone(),
                        year,
                        from: g.from,
                        to: g.to,
                        districts: districts.clone(),
                    });
                }
            }
        }
        Ok(out)
    }

    /// 危大工程 with classification and what they lack (lacking first).
    pub async fn hazards(&self, scope: &Scope, project: Option<&str>) -> Result<Vec<HazardRow>, ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok(Vec::new());
        }
        let mut q = Sql::new(
            "SELECT t.project_id, pj.name AS project_name, pj.district, dj.name AS district_name, t.work_id, t.name, \
             t.category, t.class, t.parameters, t.approved_version, t.countersigned_version, t.review_version, \
             t.review_outcome, t.started_at, t.accepted_at, t.readings, t.anomalies, t.listed_at, t.position \
             FROM sv_hazards t",
        );
        q.push(PROJECT_JOIN);
        q.push(" WHERE ");
        project_visible(&mut q, scope, "t.project_id");
        if let Some(p) = project {
            q.push(" AND t.project_id = ");
            q.bind(p);
        }
        q.push(" ORDER BY t.position DESC LIMIT 5000");
        let rows: Vec<HazardDb> = self.fetch_all(&q).await?;
        let mut out: Vec<HazardRow> = rows
            .into_iter()
            .map(|r| {
                let class = if r.class == "major" { Class::Major } else { Class::Hazardous };
                let outcome = match r.review_outcome.as_deref() {
                    Some("passed") => Some(ReviewOutcome::Passed),
                    Some("passed_with_changes") => Some(ReviewOutcome::PassedWithChanges),
                    Some("failed") => Some(ReviewOutcome::Failed),
                    _ => None,
                };
                let review = r.review_version.zip(outcome).map(|(v, o)| (u32::try_from(v).unwrap_or(0), o));
                let v = |x: i64| u32::try_from(x).unwrap_or(0);
                let missing = if r.accepted_at.is_some() {
                    Vec::new()
                } else {
                    hazard::missing(class, v(r.approved_version), v(r.countersigned_version), review)
                };
                HazardRow {
                    project_id: r.project_id,
                    project_name: r.project_name.unwrap_or_default(),
                    district: r.district.clone().unwrap_or_default(),
                    district_name: r.district_name.or(r.district).unwrap_or_default(),
                    work_id: r.work_id,
                    name: r.name,
                    category: r.category,
                    class: class.as_str().to_owned(),
                    class_zh: class.name_zh().to_owned(),
                    parameters: r.parameters,
                    approved_version: r.approved_version,
                    countersigned_version: r.countersigned_version,
                    review_outcome: r.review_outcome,
                    missing: missing.iter().map(|m| m.as_str().to_owned()).collect(),
                    missing_zh: missing.iter().map(|m| m.name_zh().to_owned()).collect(),
                    started_at: r.started_at,
                    accepted_at: r.accepted_at,
                    readings: r.readings,
                    anomalies: r.anomalies,
                    listed_at: r.listed_at,
                    position: r.position,
                }
            })
            .collect();
        out.sort_by_key(|h| (h.missing.is_empty(), h.class != "major", std::cmp::Reverse(h.position)));
        Ok(out)
    }

    /// BIM progress nodes with their deviation on `today` (latest first).
    pub async fn bim_nodes(
        &self,
        scope: &Scope,
        project: Option<&str>,
        today: LocalDate,
    ) -> Result<Vec<BimNodeRow>, ProjectionError> {
        if *scope == Scope::Nothing {
            return Ok(Vec::new());
        }
        let mut q = Sql::new(
            "SELECT t.project_id, pj.name AS project_name, t.node_id, t.name, t.model_id, \
             (SELECT MAX(m.version) FROM sv_bim_models m WHERE m.project_id = t.project_id AND m.model_id = t.model_id) \
             AS model_version, t.elements, t.planned_start, t.planned_finish, t.status, t.actual_start, \
             t.actual_finish FROM sv_bim_nodes t",
        );
        q.push(PROJECT_JOIN);
        q.push(" WHERE ");
        project_visible(&mut q, scope, "t.project_id");
        if let Some(p) = project {
            q.push(" AND t.project_id = ");
            q.bind(p);
        }
        q.push(" ORDER BY t.project_id, t.planned_finish LIMIT 5000");
        let rows: Vec<BimDb> = self.fetch_all(&q).await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let planned = LocalDate::parse(&r.planned_finish).ok();
                let actual = r.actual_finish.as_deref().and_then(|s| LocalDate::parse(s).ok());
                let deviation = planned.map_or(0, |p| bim::deviation_days(p, actual, today));
                BimNodeRow {
                    project_id: r.project_id,
                    project_name: r.project_name.unwrap_or_default(),
                    node_id: r.node_id,
                    name: r.name,
                    model_id: r.model_id,
                    model_version: r.model_version.unwrap_or(0),
                    elements: r.elements,
                    planned_start: r.planned_start,
                    planned_finish: r.planned_finish,
                    status: r.status,
                    status_zh: bim::NodeStatus::from_code(r.status).map_or("", |s| s.name_zh()).to_owned(),
                    actual_start: r.actual_start,
                    actual_finish: r.actual_finish,
                    deviation_days: deviation,
                }
            })
            .collect())
    }

    /// Coordination tasks with their SLA state at `now`: open and breached first.
    pub async fn tasks(
        &self,
        scope: &Scope,
        open_only: bool,
        now: OffsetDateTime,
    ) -> Result<Vec<TaskRow>, ProjectionError> {
        let mut q = Sql::new(
            "SELECT t.task_id, t.district, d.name AS district_name, t.project_id, pj.name AS project_name, t.title, \
             t.source_kind, t.source_event_id, t.assignee_kind, t.assignee, t.level, t.status, t.sla_hours, \
             t.dispatched_at, t.due_us, t.escalations, t.resolved_at, t.closed_at, t.note, t.event_id, t.position \
             FROM sv_tasks t LEFT JOIN projects pj ON pj.project_id = t.project_id \
             LEFT JOIN districts d ON d.code = t.district WHERE ",
        );
        match scope {
            Scope::Nothing => return Ok(Vec::new()),
            Scope::All => {
                q.push("1 = 1");
            }
            Scope::District(code) => {
                q.push("((t.project_id IS NULL AND t.district = ");
                q.bind(code.as_str());
                q.push(") OR (t.project_id IS NOT NULL AND ");
                project_visible(&mut q, scope, "t.project_id");
                q.push("))");
            }
            Scope::Enterprise(code) => {
                q.push("(t.assignee = ");
                q.bind(code.as_str());
                q.push(" OR (t.project_id IS NOT NULL AND ");
                project_visible(&mut q, scope, "t.project_id");
                q.push("))");
            }
        }
        if open_only {
            q.push(" AND t.status IN ('dispatched', 'acknowledged')");
        }
        q.push(" ORDER BY t.position DESC LIMIT 5000");
        let rows: Vec<TaskDb> = self.fetch_all(&q).await?;
        let now_s = now_unix(now);
        let mut out: Vec<TaskRow> = rows
            .into_iter()
            .map(|r| {
                let status = TaskStatus::parse(&r.status).unwrap_or(TaskStatus::Dispatched);
                let due = r.due_us / US;
                let breached = task::sla_breached(status, due, now_s);
                TaskRow {
                    task_id: r.task_id,
                    district_name: r.district_name.unwrap_or_else(|| r.district.clone()),
                    district: r.district,
                    project_id: r.project_id,
                    project_name: r.project_name,
                    title: r.title,
                    source_kind: r.source_kind,
                    source_event_id: r.source_event_id,
                    assignee_kind: r.assignee_kind,
                    assignee: r.assignee,
                    level: r.level,
                    status: r.status,
                    sla_hours: r.sla_hours,
                    dispatched_at: r.dispatched_at,
                    due_at: us_text(r.due_us),
                    breached,
                    overdue_hours: if breached { now_s.saturating_sub(due) / 3600 } else { 0 },
                    escalations: r.escalations,
                    resolved_at: r.resolved_at,
                    closed_at: r.closed_at,
                    note: r.note,
                    event_id: r.event_id,
                    position: r.position,
                }
            })
            .collect();
        out.sort_by_key(|t| {
            (
                !TaskStatus::parse(&t.status).is_some_and(TaskStatus::is_open),
                !t.breached,
                -t.overdue_hours,
                t.due_at.clone(),
            )
        });
        Ok(out)
    }

    /// The command view at `now`: open tasks, overdue rectifications, missing expert reviews and approvals,
    /// report-number gaps and unreported unqualified results, per district, overdue first.
    pub async fn command_view(&self, scope: &Scope, now: OffsetDateTime) -> Result<CommandView, ProjectionError> {
        let open_tasks = self.tasks(scope, true, now).await?;
        let filter = RectificationFilter { overdue_only: true, ..RectificationFilter::default() };
        let overdue_rectifications = self.rectifications(scope, &filter, now).await?;
        let hazards = self.hazards(scope, None).await?;
        let monitoring_anomalies: Vec<HazardRow> =
            hazards.iter().filter(|h| h.anomalies > 0 && h.accepted_at.is_none()).cloned().collect();
        let missing_reviews: Vec<HazardRow> = hazards.into_iter().filter(|h| !h.missing.is_empty()).collect();
        let report_gaps = self.report_gaps(scope).await?;
        let unreported_unqualified: Vec<UnqualifiedRow> =
            self.unqualified_register(scope, now).await?.into_iter().filter(|u| u.reporting == "overdue").collect();

        let names: Vec<(String, String)> = self.fetch_all(&Sql::new("SELECT code, name FROM districts")).await?;
        let names: BTreeMap<String, String> = names.into_iter().collect();
        let mut by: BTreeMap<String, CommandDistrict> = BTreeMap::new();
        fn slot<'a>(
            by: &'a mut BTreeMap<String, CommandDistrict>,
            names: &BTreeMap<String, String>,
            code: &str,
        ) -> &'a mut CommandDistrict {
            by.entry(code.to_owned()).or_insert_with(|| CommandDistrict {
                code: code.to_owned(),
                name: names.get(code).cloned().unwrap_or_else(|| code.to_owned()),
                ..CommandDistrict::default()
            })
        }
        macro_rules! entry {
            ($code:expr) => {
                slot(&mut by, &names, $code)
            };
        }
        for t in &open_tasks {
            let d = entry!(&t.district);
            d.open_tasks += 1;
            d.breached_tasks += usize::from(t.breached);
        }
        for r in &overdue_rectifications {
            entry!(&r.district).overdue_rectifications += 1;
        }
        for h in &missing_reviews {
            let d = entry!(&h.district);
            if h.missing.iter().any(|m| m == "expert_review") {
                d.missing_reviews += 1;
            } else {
                d.missing_approvals += 1;
            }
        }
        for g in &report_gaps {
            for code in &g.districts {
                if let Scope::District(own) = scope
                    && own != code
                {
                    continue;
                }
                entry!(code).report_gaps += 1;
            }
        }
        let districts_of: BTreeMap<String, String> = {
            let rows: Vec<(String, String)> =
                self.fetch_all(&Sql::new("SELECT project_id, district FROM projects")).await?;
            rows.into_iter().collect()
        };
        for u in &unreported_unqualified {
            if let Some(d) = districts_of.get(&u.report.project_id) {
                entry!(d).unreported_unqualified += 1;
            }
        }
        let mut districts: Vec<CommandDistrict> = by.into_values().collect();
        districts.sort_by_key(|d| {
            let urgent = d.breached_tasks + d.overdue_rectifications + d.unreported_unqualified;
            (
                std::cmp::Reverse(urgent),
                std::cmp::Reverse(d.missing_reviews + d.report_gaps + d.open_tasks),
                d.code.clone(),
            )
        });
        Ok(CommandView {
            now: us_text(now_unix(now) * US),
            districts,
            open_tasks,
            overdue_rectifications,
            missing_reviews,
            monitoring_anomalies,
            report_gaps,
            unreported_unqualified,
        })
    }
}
