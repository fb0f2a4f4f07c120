//! The `supervision` projection's name, version, tables and DDL, and the row keys its folds and queries share.

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

/// Microseconds per second.
pub(super) const US: i64 = 1_000_000;

/// The key of a record id within its project.
pub(super) fn k2(project: &str, id: &str) -> String {
    format!("{project}/{id}")
}
