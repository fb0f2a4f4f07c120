//! Folding events into the read models: the projections, their checkpoints, and the exactly-once batch.

use siteledger_domain::NingboDistrict;
use std::collections::{BTreeMap, HashSet};
use std::panic::AssertUnwindSafe;

use futures::FutureExt;

use serde_json::{Map, Value};
use siteledger_ledger::StoredEvent;
use siteledger_ledger::system::{EQUIVOCATION_KIND, KEY_ENROLLED_KIND, KEY_REVOKED_KIND, SIGNER_GAP_KIND};
use siteledger_signer::Envelope;
use siteledger_signer::envelope::parse_time;

use crate::db::{ReadDb, Sql, Tx, to_i64, to_u64};
use crate::error::ProjectionError;
use crate::stream_project;
use crate::summary::summarize;

/// Kind of a zone (district) addition.
pub(crate) const ZONE_ADDED: &str = "registry.zone.added.v1";
/// Kind of an enterprise registration.
pub(crate) const ENTERPRISE_REGISTERED: &str = "registry.enterprise.registered.v1";
/// Kind of a project registration.
pub(crate) const PROJECT_REGISTERED: &str = "registry.project.registered.v1";
/// Kind of a participant joining a project.
pub(crate) const PARTICIPANT_ADDED: &str = "registry.project.participant_added.v1";
/// Kind of a participant leaving a project.
pub(crate) const PARTICIPANT_REMOVED: &str = "registry.project.participant_removed.v1";
/// Kind of a raised alarm.
pub(crate) const ALARM_RAISED: &str = "alarm.raised.v1";
/// Kind of a cleared alarm.
pub(crate) const ALARM_CLEARED: &str = "alarm.cleared.v1";

/// Ningbo's ten county-level divisions, present without any event: (code, name), from the domain's
/// `NingboDistrict` (the one list of them).
pub const FIXED_DISTRICTS: &[(&str, &str)] = &FIXED;

const FIXED: [(&str, &str); NingboDistrict::ALL.len()] = {
    let mut out = [("", ""); NingboDistrict::ALL.len()];
    let mut i = 0;
    while i < out.len() {
        out[i] = (NingboDistrict::ALL[i].code(), NingboDistrict::ALL[i].name());
        i += 1;
    }
    out
};

/// A projection: a set of tables folded from the log with its own checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Projection {
    /// Districts, enterprises, projects, participants (`registry.*`).
    Registry,
    /// Signer keys and per-signer statistics (`ledger.key.*`, gaps, equivocations, every record's signer).
    Keys,
    /// Per-project timeline, counts per kind and per day (every `project/<id>/…` record).
    Activity,
    /// Alarms (`alarm.*`, and gaps and equivocations as `data_gap` / `equivocation` violations).
    Alarms,
    /// 实名制 and wages (`worker.*`, `wage.*`): see [`crate::workforce`].
    Workforce,
    /// Site devices and environment (`crane.*`, `hoist.*`, `meter.*`, `video.*`, `gateway.*`, `env.*`).
    Site,
    /// Supervision workflows (`inspection.*`, `testing.*`, `hazard.*`, `bim.*`, `task.*`).
    Supervision,
    /// Ratings, credit and reports (`rating.*`, `credit.*`, `report.*`).
    Rating,
}

/// Every projection, in the order they fold each batch (later ones may read earlier ones' tables).
pub const PROJECTIONS: [Projection; 8] = [
    Projection::Registry,
    Projection::Keys,
    Projection::Activity,
    Projection::Alarms,
    Projection::Workforce,
    Projection::Site,
    Projection::Supervision,
    Projection::Rating,
];

impl Projection {
    /// Name in `projection_checkpoints`.
    pub fn name(self) -> &'static str {
        match self {
            Projection::Registry => "registry",
            Projection::Keys => "keys",
            Projection::Activity => "activity",
            Projection::Alarms => "alarms",
            Projection::Workforce => crate::workforce::NAME,
            Projection::Site => crate::site::NAME,
            Projection::Supervision => crate::supervision::NAME,
            Projection::Rating => crate::rating::NAME,
        }
    }

    /// Code version: bump it when the fold changes, and the projection is cleared and replayed on next open.
    pub fn version(self) -> i64 {
        match self {
            Projection::Registry | Projection::Keys | Projection::Activity | Projection::Alarms => 1,
            Projection::Workforce => crate::workforce::VERSION,
            Projection::Site => crate::site::VERSION,
            Projection::Supervision => crate::supervision::VERSION,
            Projection::Rating => crate::rating::VERSION,
        }
    }

    /// Tables this projection owns.
    pub(crate) fn tables(self) -> &'static [&'static str] {
        match self {
            Projection::Registry => &["districts", "enterprises", "projects", "participants"],
            Projection::Keys => &["signer_keys", "signer_stats"],
            Projection::Activity => &["project_events", "project_stats", "project_kinds", "project_days"],
            Projection::Alarms => &["alarms"],
            Projection::Workforce => crate::workforce::TABLES,
            Projection::Site => crate::site::TABLES,
            Projection::Supervision => crate::supervision::TABLES,
            Projection::Rating => crate::rating::TABLES,
        }
    }

    /// `CREATE TABLE`/`CREATE INDEX` statements of a subsystem projection (whose tables are dropped and re-created
    /// when its version changes); empty for the core projections, whose tables are in the base schema.
    pub(crate) fn ddl(self) -> &'static [&'static str] {
        match self {
            Projection::Registry | Projection::Keys | Projection::Activity | Projection::Alarms => &[],
            Projection::Workforce => crate::workforce::DDL,
            Projection::Site => crate::site::DDL,
            Projection::Supervision => crate::supervision::DDL,
            Projection::Rating => crate::rating::DDL,
        }
    }
}

/// An event with what every projection needs from it, computed once per batch.
pub(crate) struct Prepared<'a> {
    /// The stored event.
    pub(crate) e: &'a StoredEvent,
    /// Its payload (empty if the leaf does not parse).
    pub(crate) payload: Map<String, Value>,
    /// `occurred_at` in µs since the Unix epoch.
    pub(crate) occurred_us: i64,
    /// `occurred_at`'s day in Asia/Shanghai, `YYYY-MM-DD`.
    pub(crate) day: String,
    /// The project of a `project/<id>/…` stream.
    pub(crate) project: Option<&'a str>,
}

fn prepare(e: &StoredEvent) -> Prepared<'_> {
    let payload = match Envelope::parse(&e.leaf) {
        Ok(env) => env.payload().clone(),
        Err(err) => {
            tracing::warn!(position = e.position, error = %err, "stored leaf does not parse; folding it without payload");
            Map::new()
        }
    };
    let t = parse_time(&e.occurred_at).unwrap_or(e.recorded_at);
    let occurred_us = i64::try_from(t.unix_timestamp_nanos() / 1000).unwrap_or(0);
    let day = crate::shanghai(t).date().to_string();
    Prepared { e, payload, occurred_us, day, project: stream_project(&e.stream) }
}

/// Folds `events` (ascending, consecutive positions) into every projection in one transaction that also
/// advances the checkpoints. Each projection applies only the events at and after its checkpoint, so handing the
/// same events in again (a retry, a redelivery after a crash) changes nothing. Returns how many events the
/// furthest-behind projection applied (0 if all were already applied).
///
/// A record that cannot be folded (its fold panics, or the database refuses its data) never stops a projection:
/// the batch is folded again record by record, and that record is skipped in the projection it breaks, with the
/// reason in the `fold_errors` table ([`ReadDb::fold_errors`]) and the log; every other record and projection
/// folds as usual. Only failures of the database or the ledger themselves are returned (nothing applied; retry).
///
/// Fails with [`ProjectionError::NotContiguous`] (and applies nothing) if the slice starts after some
/// projection's checkpoint: the caller must read from [`ReadDb::applied`].
pub async fn apply_events(db: &ReadDb, events: &[StoredEvent]) -> Result<usize, ProjectionError> {
    if db.access_cache_dirty() {
        db.reload_access().await?;
        db.mark_access_clean();
    }
    let Some(first) = events.first() else {
        return Ok(0);
    };
    for (i, e) in events.iter().enumerate() {
        if e.position != first.position + i as u64 {
            return Err(ProjectionError::Corrupt(format!(
                "events to fold are not consecutive: position {} at index {i} after {}",
                e.position, first.position
            )));
        }
    }
    let prepared: Vec<Prepared<'_>> = events.iter().map(prepare).collect();
    match apply_prepared(db, &prepared, None).await {
        Ok(n) => Ok(n),
        Err(Failure::Store(e)) => Err(e),
        Err(Failure::Record { projection, reason }) => {
            tracing::warn!(
                first = first.position,
                events = events.len(),
                projection = projection.name(),
                %reason,
                "projections: a record of the batch cannot be folded; folding the batch record by record to skip it"
            );
            crate::fold_errors::isolate(db, &prepared).await
        }
    }
}

/// Why a fold did not commit.
pub(crate) enum Failure {
    /// The read database (or the ledger) failed: nothing was applied; retry later.
    Store(ProjectionError),
    /// Folding into `projection` panicked, or the database refused the data it wrote: retrying the same records
    /// cannot help. Nothing was applied.
    Record {
        /// The projection that failed.
        projection: Projection,
        /// What went wrong.
        reason: String,
    },
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Failure {
        Failure::Store(e.into())
    }
}

impl From<ProjectionError> for Failure {
    fn from(e: ProjectionError) -> Failure {
        Failure::Store(e)
    }
}

/// Folds `prepared` into every projection (or only into `only`) in one transaction. A panic of a fold is caught
/// and reported as [`Failure::Record`], as is a database refusal of the data a fold wrote.
pub(crate) async fn apply_prepared(
    db: &ReadDb,
    prepared: &[Prepared<'_>],
    only: Option<Projection>,
) -> Result<usize, Failure> {
    let mut tx = db.begin().await?;
    let lock = if tx.is_postgres() {
        "SELECT name, position FROM projection_checkpoints FOR UPDATE"
    } else {
        "SELECT name, position FROM projection_checkpoints"
    };
    let checkpoints: Vec<(String, i64)> = tx.fetch_all(&Sql::new(lock)).await?;
    let mut touched = HashSet::new();
    let mut applied = 0;
    let mut next_positions = Vec::with_capacity(PROJECTIONS.len());
    for p in PROJECTIONS {
        let cp = checkpoints
            .iter()
            .find(|(n, _)| n == p.name())
            .map(|(_, c)| to_u64(*c))
            .ok_or_else(|| ProjectionError::Corrupt(format!("no checkpoint row for projection {}", p.name())))?;
        if only.is_some_and(|o| o != p) {
            next_positions.push(cp);
            continue;
        }
        let Some(start) = prepared.iter().position(|x| x.e.position >= cp) else {
            next_positions.push(cp);
            continue;
        };
        if prepared[start].e.position != cp {
            return Err(Failure::Store(ProjectionError::NotContiguous {
                name: p.name(),
                expected: cp,
                found: prepared[start].e.position,
            }));
        }
        let slice = &prepared[start..];
        // The transaction is dropped (rolled back) after a panic, never used again.
        match AssertUnwindSafe(fold_projection(&mut tx, p, slice, &mut touched)).catch_unwind().await {
            Ok(Ok(())) => {}
            Ok(Err(e)) if crate::fold_errors::refuses_data(&e) => {
                return Err(Failure::Record { projection: p, reason: format!("the read database refused: {e}") });
            }
            Ok(Err(e)) => return Err(e.into()),
            Err(panic) => {
                return Err(Failure::Record { projection: p, reason: crate::fold_errors::panic_message(&*panic) });
            }
        }
        let next = slice.last().map_or(cp, |x| x.e.position + 1);
        tx.execute(
            &Sql::new("UPDATE projection_checkpoints SET position = ? WHERE name = ? AND position = ?")
                .arg(next)
                .arg(p.name())
                .arg(cp),
        )
        .await?;
        applied = applied.max(slice.len());
        next_positions.push(next);
    }
    tx.commit().await?;
    db.set_applied(next_positions.iter().copied().min().unwrap_or(0));
    if let Err(e) = db.refresh_access(&touched).await {
        tracing::warn!(error = %e, "could not refresh the access cache; it is reloaded before the next batch");
        db.mark_access_dirty();
    }
    Ok(applied)
}

async fn fold_projection(
    tx: &mut Tx,
    p: Projection,
    slice: &[Prepared<'_>],
    touched: &mut HashSet<String>,
) -> Result<(), sqlx::Error> {
    match p {
        Projection::Registry => fold_registry(tx, slice, touched).await,
        Projection::Keys => fold_keys(tx, slice).await,
        Projection::Activity => fold_activity(tx, slice).await,
        Projection::Alarms => fold_alarms(tx, slice).await,
        Projection::Workforce => crate::workforce::fold(tx, slice).await,
        Projection::Site => crate::site::fold(tx, slice).await,
        Projection::Supervision => crate::supervision::fold(tx, slice).await,
        Projection::Rating => crate::rating::fold(tx, slice).await,
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Payload fields

pub(crate) fn str_field(p: &Map<String, Value>, k: &str) -> Option<String> {
    match p.get(k) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// A string or a number, as text (decimal values travel as strings: the envelope format has no floats).
pub(crate) fn text_field(p: &Map<String, Value>, k: &str) -> Option<String> {
    match p.get(k) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

pub(crate) fn int_field(p: &Map<String, Value>, k: &str) -> Option<i64> {
    match p.get(k) {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    }
}

pub(crate) fn bool_field(p: &Map<String, Value>, k: &str) -> Option<bool> {
    match p.get(k) {
        Some(Value::Bool(b)) => Some(*b),
        _ => None,
    }
}

pub(crate) fn skip(x: &Prepared<'_>, missing: &str) {
    tracing::warn!(
        position = x.e.position,
        kind = %x.e.kind,
        field = missing,
        "payload lacks a required field; the record is not folded into the read models"
    );
}

macro_rules! require {
    ($x:expr, $v:expr, $name:literal) => {
        match $v {
            Some(v) => v,
            None => {
                skip($x, $name);
                continue;
            }
        }
    };
}

// ---------------------------------------------------------------------------------------------------------------
// registry

async fn fold_registry(tx: &mut Tx, events: &[Prepared<'_>], touched: &mut HashSet<String>) -> Result<(), sqlx::Error> {
    for x in events {
        let p = &x.payload;
        let pos = x.e.position;
        match x.e.kind.as_str() {
            ZONE_ADDED => {
                let code = require!(x, str_field(p, "code"), "code");
                let name = require!(x, str_field(p, "name"), "name");
                tx.execute(
                    &Sql::new(
                        "INSERT INTO districts (code, name, fixed, position) VALUES (?, ?, 0, ?) \
                         ON CONFLICT (code) DO UPDATE SET name = excluded.name, position = excluded.position",
                    )
                    .arg(code)
                    .arg(name)
                    .arg(pos),
                )
                .await?;
            }
            ENTERPRISE_REGISTERED => {
                let credit = require!(x, str_field(p, "credit_code"), "credit_code");
                let name = require!(x, str_field(p, "name"), "name");
                let types: Vec<String> = match p.get("types") {
                    Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
                    _ => Vec::new(),
                };
                let types = serde_json::to_string(&types).unwrap_or_else(|_| "[]".into());
                tx.execute(
                    &Sql::new(
                        "INSERT INTO enterprises (credit_code, name, types, position) VALUES (?, ?, ?, ?) \
                         ON CONFLICT (credit_code) DO UPDATE SET name = excluded.name, types = excluded.types, \
                         position = excluded.position",
                    )
                    .arg(credit)
                    .arg(name)
                    .arg(types)
                    .arg(pos),
                )
                .await?;
            }
            PROJECT_REGISTERED => {
                let id = require!(x, str_field(p, "project_id"), "project_id");
                let name = require!(x, str_field(p, "name"), "name");
                let district = require!(x, str_field(p, "district"), "district");
                tx.execute(
                    &Sql::new(
                        "INSERT INTO projects (project_id, name, district, central_urban, floor_area_m2, \
                         contract_cost_fen, start_date, registered_at, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
                         ON CONFLICT (project_id) DO UPDATE SET name = excluded.name, district = excluded.district, \
                         central_urban = excluded.central_urban, floor_area_m2 = excluded.floor_area_m2, \
                         contract_cost_fen = excluded.contract_cost_fen, start_date = excluded.start_date, \
                         registered_at = excluded.registered_at, position = excluded.position",
                    )
                    .arg(id.clone())
                    .arg(name)
                    .arg(district)
                    .arg(bool_field(p, "central_urban").unwrap_or(false))
                    .arg(text_field(p, "floor_area_m2").unwrap_or_default())
                    .arg(int_field(p, "contract_cost_fen").unwrap_or(0))
                    .arg(str_field(p, "start_date").unwrap_or_default())
                    .arg(x.e.occurred_at.clone())
                    .arg(pos),
                )
                .await?;
                if let Some(Value::Array(parts)) = p.get("participants") {
                    for part in parts {
                        let Some(part) = part.as_object() else { continue };
                        let (Some(role), Some(credit)) = (str_field(part, "role"), str_field(part, "credit_code"))
                        else {
                            skip(x, "participants[].role/credit_code");
                            continue;
                        };
                        insert_participant(tx, &id, &role, &credit, pos).await?;
                    }
                }
                touched.insert(id);
            }
            PARTICIPANT_ADDED => {
                let id = require!(x, str_field(p, "project_id"), "project_id");
                let role = require!(x, str_field(p, "role"), "role");
                let credit = require!(x, str_field(p, "credit_code"), "credit_code");
                insert_participant(tx, &id, &role, &credit, pos).await?;
                touched.insert(id);
            }
            PARTICIPANT_REMOVED => {
                let id = require!(x, str_field(p, "project_id"), "project_id");
                let role = require!(x, str_field(p, "role"), "role");
                let credit = require!(x, str_field(p, "credit_code"), "credit_code");
                tx.execute(
                    &Sql::new("DELETE FROM participants WHERE project_id = ? AND role = ? AND credit_code = ?")
                        .arg(id.clone())
                        .arg(role)
                        .arg(credit),
                )
                .await?;
                touched.insert(id);
            }
            _ => {}
        }
    }
    Ok(())
}

async fn insert_participant(tx: &mut Tx, id: &str, role: &str, credit: &str, pos: u64) -> Result<(), sqlx::Error> {
    tx.execute(
        &Sql::new(
            "INSERT INTO participants (project_id, role, credit_code, position) VALUES (?, ?, ?, ?) \
             ON CONFLICT (project_id, role, credit_code) DO NOTHING",
        )
        .arg(id)
        .arg(role)
        .arg(credit)
        .arg(pos),
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------
// keys

/// The project of a key subject `project/<id>[/…]`.
pub(crate) fn subject_project(subject: &str) -> Option<String> {
    stream_project(subject).map(str::to_owned)
}

/// The organisation code of a key subject: the subject itself, or the code after `district/`, `enterprise/` or
/// `org/`; none for project-scoped subjects.
pub(crate) fn subject_org(subject: &str) -> Option<String> {
    if subject.starts_with("project/") {
        return None;
    }
    for prefix in ["district/", "enterprise/", "org/"] {
        if let Some(rest) = subject.strip_prefix(prefix) {
            return rest.split('/').next().filter(|s| !s.is_empty()).map(str::to_owned);
        }
    }
    Some(subject.to_owned())
}

#[derive(Default)]
struct SignerAgg {
    records: i64,
    last: Option<(u64, String, u64)>,
    gaps: i64,
    missing: i64,
    equivocations: i64,
}

async fn fold_keys(tx: &mut Tx, events: &[Prepared<'_>]) -> Result<(), sqlx::Error> {
    let mut agg: BTreeMap<String, SignerAgg> = BTreeMap::new();
    for x in events {
        let e = x.e;
        let a = agg.entry(e.signer.clone()).or_default();
        a.records += 1;
        a.last = Some((e.position, e.occurred_at.clone(), e.signer_seq));
        let p = &x.payload;
        match e.kind.as_str() {
            KEY_ENROLLED_KIND => {
                let key_id = require!(x, str_field(p, "key_id"), "key_id");
                let public_key = require!(x, str_field(p, "public_key"), "public_key");
                let subject = require!(x, str_field(p, "subject"), "subject");
                let role = require!(x, str_field(p, "role"), "role");
                let valid_from = require!(x, str_field(p, "valid_from"), "valid_from");
                tx.execute(
                    &Sql::new(
                        "INSERT INTO signer_keys (key_id, public_key, subject, role, valid_from, valid_until, \
                         subject_project, subject_org, enrolled_by, enrolled_event_id, position) \
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                         ON CONFLICT (key_id) DO UPDATE SET public_key = excluded.public_key, \
                         subject = excluded.subject, role = excluded.role, valid_from = excluded.valid_from, \
                         valid_until = excluded.valid_until, subject_project = excluded.subject_project, \
                         subject_org = excluded.subject_org, enrolled_by = excluded.enrolled_by, \
                         enrolled_event_id = excluded.enrolled_event_id, position = excluded.position",
                    )
                    .arg(key_id)
                    .arg(public_key)
                    .arg(subject.clone())
                    .arg(role)
                    .arg(valid_from)
                    .arg(str_field(p, "valid_until"))
                    .arg(subject_project(&subject))
                    .arg(subject_org(&subject))
                    .arg(e.signer.clone())
                    .arg(e.event_id.to_string())
                    .arg(e.position),
                )
                .await?;
            }
            KEY_REVOKED_KIND => {
                let key_id = require!(x, str_field(p, "key_id"), "key_id");
                let at = require!(x, str_field(p, "revoked_at"), "revoked_at");
                tx.execute(
                    &Sql::new(
                        "UPDATE signer_keys SET revoked_at = ?, revoked_reason = ?, revoked_position = ? \
                         WHERE key_id = ?",
                    )
                    .arg(at)
                    .arg(str_field(p, "reason").unwrap_or_default())
                    .arg(e.position)
                    .arg(key_id),
                )
                .await?;
            }
            SIGNER_GAP_KIND => {
                let key_id = require!(x, str_field(p, "key_id"), "key_id");
                let g = agg.entry(key_id).or_default();
                g.gaps += 1;
                g.missing = g.missing.saturating_add(int_field(p, "missing").unwrap_or(0));
            }
            EQUIVOCATION_KIND => {
                let key_id = require!(x, str_field(p, "key_id"), "key_id");
                agg.entry(key_id).or_default().equivocations += 1;
            }
            _ => {}
        }
    }
    for (key_id, a) in agg {
        let (last_pos, last_at, last_seq) = match a.last {
            Some((p, at, s)) => (to_i64(p), at, to_i64(s)),
            None => (-1, String::new(), 0),
        };
        tx.execute(
            &Sql::new(
                "INSERT INTO signer_stats (key_id, records, last_position, last_occurred_at, last_seq, gaps, missing, \
                 equivocations) VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (key_id) DO UPDATE SET records = signer_stats.records + excluded.records, \
                 last_position = CASE WHEN excluded.last_position > signer_stats.last_position \
                   THEN excluded.last_position ELSE signer_stats.last_position END, \
                 last_occurred_at = CASE WHEN excluded.last_position > signer_stats.last_position \
                   THEN excluded.last_occurred_at ELSE signer_stats.last_occurred_at END, \
                 last_seq = CASE WHEN excluded.last_position > signer_stats.last_position \
                   THEN excluded.last_seq ELSE signer_stats.last_seq END, \
                 gaps = signer_stats.gaps + excluded.gaps, missing = signer_stats.missing + excluded.missing, \
                 equivocations = signer_stats.equivocations + excluded.equivocations",
            )
            .arg(key_id)
            .arg(a.records)
            .arg(last_pos)
            .arg(last_at)
            .arg(last_seq)
            .arg(a.gaps)
            .arg(a.missing)
            .arg(a.equivocations),
        )
        .await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------
// activity

/// Count, highest position, and the latest occurred time as (micros, position, text).
#[derive(Default)]
struct CountAgg {
    events: i64,
    last_position: u64,
    latest: Option<(i64, u64, String)>,
}

impl CountAgg {
    fn add(&mut self, x: &Prepared<'_>) {
        self.events += 1;
        self.last_position = self.last_position.max(x.e.position);
        let cand = (x.occurred_us, x.e.position);
        if self.latest.as_ref().is_none_or(|(us, pos, _)| cand > (*us, *pos)) {
            self.latest = Some((x.occurred_us, x.e.position, x.e.occurred_at.clone()));
        }
    }
}

const EVENT_ROWS_PER_INSERT: usize = 64;

async fn fold_activity(tx: &mut Tx, events: &[Prepared<'_>]) -> Result<(), sqlx::Error> {
    let mut stats: BTreeMap<&str, CountAgg> = BTreeMap::new();
    let mut kinds: BTreeMap<(&str, &str), CountAgg> = BTreeMap::new();
    let mut days: BTreeMap<(&str, &str), (i64, u64)> = BTreeMap::new();
    let rows: Vec<&Prepared<'_>> = events.iter().filter(|x| x.project.is_some()).collect();
    for x in &rows {
        let Some(project) = x.project else { continue };
        stats.entry(project).or_default().add(x);
        kinds.entry((project, x.e.kind.as_str())).or_default().add(x);
        let d = days.entry((project, x.day.as_str())).or_default();
        d.0 += 1;
        d.1 = d.1.max(x.e.position);
    }
    for chunk in rows.chunks(EVENT_ROWS_PER_INSERT) {
        let mut q = Sql::new(
            "INSERT INTO project_events (position, project_id, stream, event_id, kind, occurred_at, occurred_us, \
             signer, summary) VALUES ",
        );
        for (i, x) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push("(");
            q.bind(x.e.position).push(", ");
            q.bind(x.project.unwrap_or_default()).push(", ");
            q.bind(&x.e.stream).push(", ");
            q.bind(x.e.event_id.to_string()).push(", ");
            q.bind(&x.e.kind).push(", ");
            q.bind(&x.e.occurred_at).push(", ");
            q.bind(x.occurred_us).push(", ");
            q.bind(&x.e.signer).push(", ");
            q.bind(summarize(&x.e.kind, &x.payload)).push(")");
        }
        q.push(" ON CONFLICT (position) DO NOTHING");
        tx.execute(&q).await?;
    }
    for (project, a) in stats {
        let (us, _, at) = a.latest.unwrap_or_default();
        tx.execute(
            &Sql::new(
                "INSERT INTO project_stats (project_id, events, last_position, last_occurred_at, last_occurred_us) \
                 VALUES (?, ?, ?, ?, ?) \
                 ON CONFLICT (project_id) DO UPDATE SET events = project_stats.events + excluded.events, \
                 last_position = CASE WHEN excluded.last_position > project_stats.last_position \
                   THEN excluded.last_position ELSE project_stats.last_position END, \
                 last_occurred_at = CASE WHEN excluded.last_occurred_us >= project_stats.last_occurred_us \
                   THEN excluded.last_occurred_at ELSE project_stats.last_occurred_at END, \
                 last_occurred_us = CASE WHEN excluded.last_occurred_us >= project_stats.last_occurred_us \
                   THEN excluded.last_occurred_us ELSE project_stats.last_occurred_us END",
            )
            .arg(project)
            .arg(a.events)
            .arg(a.last_position)
            .arg(at)
            .arg(us),
        )
        .await?;
    }
    for ((project, kind), a) in kinds {
        let (us, _, at) = a.latest.unwrap_or_default();
        tx.execute(
            &Sql::new(
                "INSERT INTO project_kinds (project_id, kind, events, last_position, last_occurred_at, \
                 last_occurred_us) VALUES (?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (project_id, kind) DO UPDATE SET events = project_kinds.events + excluded.events, \
                 last_position = CASE WHEN excluded.last_position > project_kinds.last_position \
                   THEN excluded.last_position ELSE project_kinds.last_position END, \
                 last_occurred_at = CASE WHEN excluded.last_occurred_us >= project_kinds.last_occurred_us \
                   THEN excluded.last_occurred_at ELSE project_kinds.last_occurred_at END, \
                 last_occurred_us = CASE WHEN excluded.last_occurred_us >= project_kinds.last_occurred_us \
                   THEN excluded.last_occurred_us ELSE project_kinds.last_occurred_us END",
            )
            .arg(project)
            .arg(kind)
            .arg(a.events)
            .arg(a.last_position)
            .arg(at)
            .arg(us),
        )
        .await?;
    }
    for ((project, day), (n, last)) in days {
        tx.execute(
            &Sql::new(
                "INSERT INTO project_days (project_id, day, events, last_position) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (project_id, day) DO UPDATE SET events = project_days.events + excluded.events, \
                 last_position = CASE WHEN excluded.last_position > project_days.last_position \
                   THEN excluded.last_position ELSE project_days.last_position END",
            )
            .arg(project)
            .arg(day)
            .arg(n)
            .arg(last),
        )
        .await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------
// alarms

fn alarm_key(project: Option<&str>, alarm_id: &str) -> String {
    format!("{}/{alarm_id}", project.unwrap_or("-"))
}

struct NewAlarm {
    project: Option<String>,
    alarm_id: String,
    source: String,
    category: String,
    level: String,
    message: String,
    value: Option<String>,
    threshold: Option<String>,
    key_id: Option<String>,
}

async fn raise(tx: &mut Tx, x: &Prepared<'_>, a: NewAlarm) -> Result<(), sqlx::Error> {
    tx.execute(
        &Sql::new(
            "INSERT INTO alarms (alarm_key, project_id, alarm_id, source, category, level, message, value, threshold, \
             key_id, event_id, raised_at, raised_us, raised_day, position, open, cleared_at, cleared_note, \
             cleared_position, cleared_event_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, NULL, NULL, \
             NULL, NULL) \
             ON CONFLICT (alarm_key) DO UPDATE SET source = excluded.source, category = excluded.category, \
             level = excluded.level, message = excluded.message, value = excluded.value, \
             threshold = excluded.threshold, key_id = excluded.key_id, event_id = excluded.event_id, \
             raised_at = excluded.raised_at, raised_us = excluded.raised_us, raised_day = excluded.raised_day, \
             position = excluded.position, open = 1, cleared_at = NULL, cleared_note = NULL, \
             cleared_position = NULL, cleared_event_id = NULL",
        )
        .arg(alarm_key(a.project.as_deref(), &a.alarm_id))
        .arg(a.project)
        .arg(a.alarm_id)
        .arg(a.source)
        .arg(a.category)
        .arg(a.level)
        .arg(a.message)
        .arg(a.value)
        .arg(a.threshold)
        .arg(a.key_id)
        .arg(x.e.event_id.to_string())
        .arg(x.e.occurred_at.clone())
        .arg(x.occurred_us)
        .arg(x.day.clone())
        .arg(x.e.position),
    )
    .await?;
    Ok(())
}

/// The project a misbehaving key belongs to: its subject's project, else `fallback`.
async fn key_project(tx: &mut Tx, key_id: &str) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(Option<String>,)> =
        tx.fetch_optional(&Sql::new("SELECT subject_project FROM signer_keys WHERE key_id = ?").arg(key_id)).await?;
    Ok(row.and_then(|(p,)| p))
}

async fn fold_alarms(tx: &mut Tx, events: &[Prepared<'_>]) -> Result<(), sqlx::Error> {
    for x in events {
        let p = &x.payload;
        match x.e.kind.as_str() {
            ALARM_RAISED => {
                let alarm_id = require!(x, str_field(p, "alarm_id"), "alarm_id");
                let project = str_field(p, "project_id").or_else(|| x.project.map(str::to_owned));
                let a = NewAlarm {
                    project,
                    alarm_id,
                    source: str_field(p, "source").unwrap_or_default(),
                    category: str_field(p, "category").unwrap_or_default(),
                    level: str_field(p, "level").unwrap_or_else(|| "warning".into()),
                    message: str_field(p, "message").unwrap_or_default(),
                    value: text_field(p, "value"),
                    threshold: text_field(p, "threshold"),
                    key_id: Some(x.e.signer.clone()),
                };
                raise(tx, x, a).await?;
            }
            ALARM_CLEARED => {
                let alarm_id = require!(x, str_field(p, "alarm_id"), "alarm_id");
                let project = str_field(p, "project_id").or_else(|| x.project.map(str::to_owned));
                let n = tx
                    .execute(
                        &Sql::new(
                            "UPDATE alarms SET open = 0, cleared_at = ?, cleared_note = ?, cleared_position = ?, \
                             cleared_event_id = ? WHERE alarm_key = ? AND open = 1",
                        )
                        .arg(x.e.occurred_at.clone())
                        .arg(text_field(p, "note").unwrap_or_default())
                        .arg(x.e.position)
                        .arg(x.e.event_id.to_string())
                        .arg(alarm_key(project.as_deref(), &alarm_id)),
                    )
                    .await?;
                if n == 0 {
                    tracing::debug!(position = x.e.position, %alarm_id, "clearing an alarm that is not open");
                }
            }
            SIGNER_GAP_KIND => {
                let key_id = require!(x, str_field(p, "key_id"), "key_id");
                let missing = int_field(p, "missing").unwrap_or(0);
                let mut project = key_project(tx, &key_id).await?;
                if project.is_none() {
                    // The record that revealed the gap (committed just before the notice).
                    if let Some(revealing) = str_field(p, "event_id") {
                        let row: Option<(String,)> = tx
                            .fetch_optional(
                                &Sql::new("SELECT project_id FROM project_events WHERE event_id = ?").arg(revealing),
                            )
                            .await?;
                        project = row.map(|(p,)| p);
                    }
                }
                let a = NewAlarm {
                    project,
                    alarm_id: x.e.event_id.to_string(),
                    source: "ledger".into(),
                    category: "data_gap".into(),
                    level: "violation".into(),
                    message: format!(
                        "数据缺失: 签名序号 {}→{} 之间缺 {missing} 条 / signer gap: {missing} record(s) missing",
                        int_field(p, "last_seq").unwrap_or(0),
                        int_field(p, "next_seq").unwrap_or(0)
                    ),
                    value: Some(missing.to_string()),
                    threshold: None,
                    key_id: Some(key_id),
                };
                raise(tx, x, a).await?;
            }
            EQUIVOCATION_KIND => {
                let key_id = require!(x, str_field(p, "key_id"), "key_id");
                let seq = int_field(p, "seq").unwrap_or(0);
                let mut project = key_project(tx, &key_id).await?;
                if project.is_none() {
                    project = p
                        .get("refused_envelope")
                        .and_then(|v| v.get("stream"))
                        .and_then(Value::as_str)
                        .and_then(stream_project)
                        .map(str::to_owned);
                }
                let a = NewAlarm {
                    project,
                    alarm_id: x.e.event_id.to_string(),
                    source: "ledger".into(),
                    category: "equivocation".into(),
                    level: "violation".into(),
                    message: format!(
                        "重复序号: 同一签名序号 {seq} 出现两条不同记录 / equivocation: two different records for seq {seq}"
                    ),
                    value: Some(seq.to_string()),
                    threshold: None,
                    key_id: Some(key_id),
                };
                raise(tx, x, a).await?;
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{subject_org, subject_project};

    #[test]
    fn subjects() {
        assert_eq!(subject_project("project/P1/gw-1").as_deref(), Some("P1"));
        assert_eq!(subject_project("project/P1").as_deref(), Some("P1"));
        assert_eq!(subject_project("gateway-1"), None);
        assert_eq!(subject_org("330212").as_deref(), Some("330212"));
        assert_eq!(subject_org("district/330212").as_deref(), Some("330212"));
        assert_eq!(subject_org("enterprise/91330200X/ops").as_deref(), Some("91330200X"));
        assert_eq!(subject_org("project/P1/gw"), None);
    }
}
