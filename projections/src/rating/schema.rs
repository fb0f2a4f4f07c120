//! The `rating` projection's name, version, tables and DDL.

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
