//! Read models folded from the ledger into SQL, with access-scoped queries.
//!
//! The ledger is the only source of truth; everything in this crate is derived from it and can be thrown away
//! and rebuilt ([`rebuild`]). The pieces:
//!
//! * [`ReadDb`]: the read database, SQLite (`sqlite:PATH`, one file in WAL mode) or PostgreSQL (`postgres://…`),
//!   from one code base: SQL is written once with `?` placeholders and numbered (`$1`, `$2`, …) at run time for
//!   PostgreSQL. The schema is created on open; `meta.schema_version` names its version, and a database of another
//!   version is dropped and rebuilt from the ledger (read models are disposable).
//! * Projections: each implements one trait (name, version, tables, DDL, fold) and is one line in one list
//!   (`projection::PROJECTIONS`), which the engine, the schema and the error isolation iterate; each has a row in
//!   `projection_checkpoints(name, position, version)`. The core ones (`core/`): `registry` (districts,
//!   enterprises, projects, participants), `keys` (signer keys and per-signer statistics), `activity` (per-project
//!   timeline, counts per kind and per day) and `alarms`; then [`workforce`], [`site`], [`supervision`] and
//!   [`rating`], each a folder `schema` / `fold` / `queries`. A batch of events is folded in **one transaction**
//!   that also advances the checkpoints, and a projection only ever applies the event at its checkpoint:
//!   re-delivering events (after a crash, a retry, a second runner) changes nothing — exactly-once effect on
//!   at-least-once delivery. When a projection's code version changes, only that projection is cleared and
//!   replayed.
//! * The runtime: [`run`] follows [`Ledger::subscribe`](siteledger_ledger::Ledger::subscribe) from the stored
//!   checkpoint until shutdown, one transaction per group of ready events (up to [`BATCH_EVENTS`]); [`catch_up`]
//!   folds up to the current head and returns; [`rebuild`] clears every read model and catches up from 0;
//!   [`apply_events`] folds a given slice (idempotent). Lag for metrics: `ledger.head() - db.applied()`
//!   ([`ReadDb::lag`], [`ReadDb::watch_applied`]).
//! * Queries ([`ReadDb::districts_overview`], [`ReadDb::projects`], [`ReadDb::project`],
//!   [`ReadDb::project_timeline`], [`ReadDb::enterprises`], [`ReadDb::keys`], [`ReadDb::alarms`]) all take a
//!   [`Scope`], so no caller can forget access control, and [`AccessCache`] answers the live feed's per-record
//!   question ("may this scope see stream X?") from memory.
//!
//! Parse once: each stored leaf of a batch is parsed once (`prepare`) into its typed event — the domain's
//! `DomainEvent`, or the ledger's own payload types for `ledger.*` kinds — and every projection folds those typed
//! events; none reads a payload member by name. A record whose payload does not type-check as its kind (only an
//! older ledger could have accepted one) is logged and folded for its envelope only (timeline, signer statistics).
//! Every row keeps the log position of the event that produced it. No record can stall a projection: one whose
//! fold fails anyway (a panic, data the read database refuses) is found record by record, skipped in that
//! projection and listed in `fold_errors` ([`ReadDb::fold_errors`], [`ReadDb::fold_error_count`]).
//!
//! Times: `occurred_at` is kept exactly as signed; "today" and per-day counts use Asia/Shanghai (UTC+08:00, no
//! daylight saving).

mod access;
mod core;
mod db;
mod error;
mod fold;
mod fold_errors;
mod prepare;
mod projection;
mod queries;
pub mod rating;
mod runtime;
pub mod site;
mod summary;
pub mod supervision;
pub mod workforce;

pub use access::{AccessCache, ProjectAccess};
pub use core::FIXED_DISTRICTS;
pub use core::citations::CitationRow;
pub use core::queries::{
    AlarmFilter, AlarmRow, DistrictRow, EnterpriseRow, KeyCounts, KeyPage, KeyRow, KeyStatus, KindCount, OpenAlarmsRow,
    ParticipantRow, ProjectDetail, ProjectLabel, ProjectRow, SubsystemTile, TimelineRow,
};
pub use db::{DEFAULT_RAW_RETENTION_DAYS, QueryWork, ReadDb, SCHEMA_VERSION};
pub use error::ProjectionError;
pub use fold::apply_events;
pub use fold_errors::FoldErrorRow;
pub use runtime::{BATCH_EVENTS, FINDINGS_EVERY, RETENTION_EVERY, SUMMARIES_EVERY, catch_up, eager_gap, rebuild, run};

/// Who is asking: every query is restricted to what this scope may see.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Everything (city bureau, auditors).
    All,
    /// A district bureau: the projects whose district is this code (e.g. `330212`).
    District(String),
    /// An enterprise: the projects in which this unified social credit code is a participant.
    Enterprise(String),
    /// No project data at all.
    Nothing,
}

pub use siteledger_domain::time::SHANGHAI;

/// `t` in Asia/Shanghai. An instant so late in the year 9999 that its local time is beyond what `time` represents
/// stays in its own offset: record data must never make a fold panic (`to_offset` would).
pub(crate) fn shanghai(t: time::OffsetDateTime) -> time::OffsetDateTime {
    siteledger_domain::time::in_shanghai(t)
}

/// The project id of a project-scoped stream `project/<PROJECT_ID>/…`.
pub fn stream_project(stream: &str) -> Option<&str> {
    let rest = stream.strip_prefix("project/")?;
    let id = rest.split('/').next().unwrap_or("");
    (!id.is_empty()).then_some(id)
}
