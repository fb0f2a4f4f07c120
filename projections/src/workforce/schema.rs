//! The `workforce` projection's name, version, tables and DDL.

/// Name in `projection_checkpoints`.
pub(crate) const NAME: &str = "workforce";
/// Code version: bump it when the fold or the tables change; the tables are re-created and refolded.
pub(crate) const VERSION: i64 = 6;
/// Tables this projection owns.
pub(crate) const TABLES: &[&str] = &[
    "wf_findings_published",
    "wf_teams",
    "wf_workers",
    "wf_cards",
    "wf_certificates",
    "wf_attendance",
    "wf_payroll_lines",
    "wf_transfers",
    "wf_accounts",
    "wf_deposits",
    "wf_guarantees",
    "wf_meta",
    "wf_findings_current",
    "wf_findings_dirty",
];
/// Their `CREATE TABLE IF NOT EXISTS` / `CREATE INDEX IF NOT EXISTS` statements (SQLite and PostgreSQL).
pub(crate) const DDL: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS wf_teams (project_id TEXT NOT NULL, team_id TEXT NOT NULL, name TEXT NOT NULL, \
     employer TEXT NOT NULL, leader TEXT, event_id TEXT NOT NULL, PRIMARY KEY (project_id, team_id))",
    "CREATE TABLE IF NOT EXISTS wf_workers (project_id TEXT NOT NULL, person_ref TEXT NOT NULL, id_type TEXT NOT NULL, \
     id_masked TEXT NOT NULL, birth_month TEXT NOT NULL, employer TEXT NOT NULL, team_id TEXT NOT NULL, \
     trade TEXT NOT NULL, work_role TEXT NOT NULL, registered_on TEXT NOT NULL, event_id TEXT NOT NULL, \
     contract_id TEXT, contract_start TEXT, contract_end TEXT, trained BIGINT NOT NULL DEFAULT 0, \
     on_site BIGINT NOT NULL DEFAULT 0, entered_on TEXT, exited_on TEXT, last_direction TEXT, last_gate TEXT, \
     last_passage_us BIGINT, wage_clerk BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (project_id, person_ref))",
    "CREATE TABLE IF NOT EXISTS wf_cards (project_id TEXT NOT NULL, person_ref TEXT NOT NULL, card_commitment TEXT NOT NULL, \
     card_masked TEXT NOT NULL, bank_name TEXT NOT NULL, event_id TEXT NOT NULL, \
     PRIMARY KEY (project_id, person_ref, card_commitment))",
    "CREATE TABLE IF NOT EXISTS wf_certificates (event_id TEXT PRIMARY KEY, project_id TEXT NOT NULL, person_ref TEXT NOT NULL, \
     trade TEXT NOT NULL, cert_type TEXT NOT NULL, cert_number TEXT NOT NULL, issuer TEXT NOT NULL, valid_until TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS wf_certificates_person ON wf_certificates (project_id, person_ref)",
    "CREATE TABLE IF NOT EXISTS wf_attendance (project_id TEXT NOT NULL, person_ref TEXT NOT NULL, day TEXT NOT NULL, \
     first_event_id TEXT NOT NULL, first_us BIGINT NOT NULL, last_us BIGINT NOT NULL, passages BIGINT NOT NULL, \
     PRIMARY KEY (project_id, person_ref, day))",
    "CREATE INDEX IF NOT EXISTS wf_attendance_day ON wf_attendance (project_id, day)",
    "CREATE TABLE IF NOT EXISTS wf_payroll_lines (project_id TEXT NOT NULL, payroll_id TEXT NOT NULL, person_ref TEXT NOT NULL, \
     month TEXT NOT NULL, team_id TEXT NOT NULL, employer TEXT NOT NULL, days BIGINT NOT NULL, hours BIGINT NOT NULL, \
     payable_fen BIGINT NOT NULL, actual_fen BIGINT NOT NULL, card_commitment TEXT NOT NULL, card_masked TEXT NOT NULL, \
     back_pay BIGINT NOT NULL, event_id TEXT NOT NULL, confirmed BIGINT NOT NULL DEFAULT 0, \
     PRIMARY KEY (project_id, payroll_id, person_ref))",
    "CREATE INDEX IF NOT EXISTS wf_payroll_lines_month ON wf_payroll_lines (project_id, month)",
    "CREATE TABLE IF NOT EXISTS wf_transfers (event_id TEXT PRIMARY KEY, project_id TEXT NOT NULL, transfer_id TEXT NOT NULL, \
     payroll_id TEXT NOT NULL, person_ref TEXT NOT NULL, amount_fen BIGINT NOT NULL, card_commitment TEXT NOT NULL, \
     card_masked TEXT NOT NULL, paid_on TEXT NOT NULL, back_pay BIGINT NOT NULL, signer TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS wf_transfers_project ON wf_transfers (project_id, payroll_id)",
    "CREATE TABLE IF NOT EXISTS wf_accounts (project_id TEXT PRIMARY KEY, opened_by TEXT NOT NULL, bank_name TEXT NOT NULL, \
     account_masked TEXT NOT NULL, pay_day BIGINT NOT NULL, opened_on TEXT NOT NULL, event_id TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS wf_deposits (event_id TEXT PRIMARY KEY, project_id TEXT NOT NULL, payer TEXT NOT NULL, \
     amount_fen BIGINT NOT NULL, deposited_on TEXT NOT NULL, for_month TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS wf_guarantees (event_id TEXT PRIMARY KEY, project_id TEXT NOT NULL, by_enterprise TEXT NOT NULL, \
     amount_fen BIGINT NOT NULL, form TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS wf_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS wf_findings_published (project_id TEXT NOT NULL, finding_id TEXT NOT NULL, \
     rule TEXT NOT NULL, month TEXT NOT NULL, event_id TEXT NOT NULL, signer TEXT NOT NULL, recorded_us BIGINT NOT NULL, \
     PRIMARY KEY (project_id, finding_id))",
    // The arrears view's findings of each project with the default options, as last computed by the runtime's
    // refresh pass (`ReadDb::refresh_workforce_findings`), in the order the rules give them (`seq`); the project's
    // name, district, general contractors and publications are joined when read.
    "CREATE TABLE IF NOT EXISTS wf_findings_current (project_id TEXT NOT NULL, seq BIGINT NOT NULL, \
     finding_id TEXT NOT NULL, rule TEXT NOT NULL, rule_zh TEXT NOT NULL, basis TEXT NOT NULL, month TEXT NOT NULL, \
     person_ref TEXT, id_masked TEXT, evidence TEXT NOT NULL, detail TEXT NOT NULL, as_of TEXT NOT NULL, \
     PRIMARY KEY (project_id, seq))",
    // The views' counts per project and rule (`findings::stored_findings_page`) read this index, not the rows.
    "CREATE INDEX IF NOT EXISTS wf_findings_current_rules ON wf_findings_current (project_id, rule, rule_zh)",
    // The roster's order (`ReadDb::workforce_roster`): a page reads its rows from here, not a sort of the city's.
    "CREATE INDEX IF NOT EXISTS wf_workers_roster ON wf_workers (project_id, team_id, person_ref)",
    // Who is registered and on site (`ReadDb::workforce_counts`) is counted on this index, not the workers' rows.
    "CREATE INDEX IF NOT EXISTS wf_workers_presence ON wf_workers (project_id, on_site, last_direction)",
    // Per project with workforce facts: the position of its newest fact folded (`changed`) and the `changed` its
    // stored findings were computed at (`computed`, -1: never). `changed > computed`: the findings are due again.
    "CREATE TABLE IF NOT EXISTS wf_findings_dirty (project_id TEXT PRIMARY KEY, changed BIGINT NOT NULL, \
     computed BIGINT NOT NULL)",
];

/// `wf_meta` key of a project's latest workforce day.
pub(super) fn latest_day_key(project: &str) -> String {
    format!("latest_day/{project}")
}
