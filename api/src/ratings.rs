//! Rating decisions and credit scores computed from the ledger itself, never from read models: a pure function of
//! (the log's first N records, a policy version, an as-of date) → canonical JSON bytes.
//!
//! [`LogPrefix`] (in `siteledger_projections::rating::prefix`, re-exported here) reads leaves `0..N` from any
//! [`EventStore`] and folds them with [`siteledger_domain::rating::fold::RatingFold`], from record 0
//! ([`LogPrefix::load`], the auditor's recomputation) or resumed from a checked snapshot of the fold in the read
//! database ([`LogPrefix::load_with`], what the server, the dashboard and the CLI use by default); [`decision`] builds a project's decision document (the exact
//! payload of `rating.decision.v1`) and [`evidence_document`] the evidence it hashes. Canonical bytes and hashes
//! come from `siteledger-signer`'s RFC 8785 writer, the same the envelope format uses, so a third party with the
//! leaves (`GET /v1/log/leaves`) recomputes the same bytes.
//!
//! A computed result is the same for everyone; what a caller is shown of it is not. [`enterprise_visible`],
//! [`record_visible`] and [`ScopedScore`] cut a credit score down to the caller's scope (docs/RATING.md, "Who
//! sees what"): the score and grade stay whole, the records behind it are listed only for projects the caller may
//! see, and the others are summarised as a count and a sum of points, without ids, positions or projects.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use siteledger_domain::LocalDate;
use siteledger_domain::ids::{CreditCode, ProjectId};
use siteledger_domain::rating::credit::{self, CreditRecord, CreditRules, CreditScore};
use siteledger_domain::rating::fold::OnlineDay;
use siteledger_domain::rating::policy::{self, RatingPolicy};
use siteledger_domain::rating::{EvidenceLine, RatingDecision, Sha256Hex};
use siteledger_ledger::EventStore;
use siteledger_projections::{AccessCache, Scope};
use siteledger_signer::canonical::to_canonical;

pub use siteledger_projections::rating::prefix::{
    LogPrefix, RatingError, SNAPSHOT_EVERY, credit_rules_at, latest_rules_version,
};

/// SHA-256 of bytes, as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Canonical JSON bytes (RFC 8785) of a serialisable value.
pub fn canonical_bytes<T: serde::Serialize>(v: &T) -> Vec<u8> {
    to_canonical(&serde_json::to_value(v).unwrap_or(Value::Null))
}

/// The evidence document of a project: every day counted per application (what `evidence_sha256` hashes).
pub fn evidence_document(prefix: &LogPrefix, project: &ProjectId, policy: &RatingPolicy, as_of: LocalDate) -> Value {
    let ev = prefix.fold.evidence(project, policy);
    let mut apps = Map::new();
    for app in &policy.applications {
        let first = as_of.date().checked_sub(time::Duration::days(i64::from(app.window_days.max(1)) - 1));
        let days: Vec<String> = ev
            .get(&app.id)
            .into_iter()
            .flatten()
            .filter(|d| d.date() <= as_of.date() && first.is_none_or(|f| d.date() >= f))
            .map(ToString::to_string)
            .collect();
        apps.insert(app.id.as_str().to_owned(), json!(days));
    }
    let mut doc = json!({
        "project_id": project.as_str(),
        "policy_version": policy.version,
        "tree_size": prefix.size,
        "as_of": as_of.to_string(),
        "days": apps,
    });
    // Applications with a measured-online rule (policy version 2 on) also cite the cameras' online time of every
    // day of their window; a document without such an application keeps exactly its version-1 shape and bytes.
    let mut online = Map::new();
    let measured = prefix.fold.camera_online(project);
    for app in &policy.applications {
        let Some(min) = app.min_camera_online_permille else { continue };
        let first = window_start(as_of, app.window_days);
        let (mut line, _) = camera_online_line(&measured, first, as_of);
        line.insert("min_permille".into(), json!(min));
        online.insert(app.id.as_str().to_owned(), Value::Object(line));
    }
    if !online.is_empty() {
        doc["camera_online"] = Value::Object(online);
    }
    doc
}

/// The first day of a window of `window_days` days ending on `as_of`.
fn window_start(as_of: LocalDate, window_days: u32) -> LocalDate {
    as_of
        .date()
        .checked_sub(time::Duration::days(i64::from(window_days.max(1)) - 1))
        .and_then(|d| LocalDate::try_from(d).ok())
        .unwrap_or(LocalDate::MIN)
}

/// The cameras' online time from `first` to `last` (inclusive) as cited by decisions and reports: per day with
/// known time `{"online_s", "known_s", "online_permille"}`, and over the whole range `online_s`, `known_s`,
/// `online_permille` (Σ online / Σ known) and `days_measured`. Also returns the sums in µs.
pub fn camera_online_line(
    measured: &BTreeMap<LocalDate, OnlineDay>,
    first: LocalDate,
    last: LocalDate,
) -> (Map<String, Value>, OnlineDay) {
    let mut days = Map::new();
    let mut total = OnlineDay::default();
    for (d, t) in measured.range(first..=last).filter(|(_, t)| t.known_us > 0) {
        total.online_us += t.online_us;
        total.known_us += t.known_us;
        days.insert(
            d.to_string(),
            json!({"online_s": t.online_us / 1_000_000, "known_s": t.known_us / 1_000_000, "online_permille": t.permille()}),
        );
    }
    let mut line = Map::new();
    line.insert("days_measured".into(), json!(days.len()));
    line.insert("online_s".into(), json!(total.online_us / 1_000_000));
    line.insert("known_s".into(), json!(total.known_us / 1_000_000));
    line.insert("online_permille".into(), json!(total.permille()));
    line.insert("days".into(), Value::Object(days));
    (line, total)
}

/// A project's rating decision: the `rating.decision.v1` payload.
pub fn decision(
    prefix: &LogPrefix,
    project: &ProjectId,
    policy_version: u32,
    as_of: LocalDate,
) -> Result<RatingDecision, RatingError> {
    let policy = prefix.policy(policy_version)?;
    let facts = prefix.fold.facts(project).ok_or_else(|| {
        RatingError::Invalid(format!("project {project} is not registered at tree size {}", prefix.size))
    })?;
    let required = policy::required_level(&facts, policy);
    let achieved = policy::achieved_level(&prefix.fold.evidence(project, policy), policy, as_of);
    let evidence = evidence_document(prefix, project, policy, as_of);
    let evidence_sha256 =
        Sha256Hex::parse(&sha256_hex(&to_canonical(&evidence))).map_err(|e| RatingError::Corrupt(e.to_string()))?;
    Ok(RatingDecision {
        project_id: project.clone(),
        policy_version,
        tree_size: prefix.size,
        as_of,
        meets: required.as_ref().map(|r| policy::meets(r, &achieved)),
        required: required.as_ref().map(|r| r.level),
        required_rule: required.as_ref().and_then(|r| policy::ApplicationId::parse(&r.rule).ok()),
        achieved: achieved.level,
        connected: achieved.connected,
        applications: achieved
            .applications
            .iter()
            .map(|a| EvidenceLine { id: a.id.clone(), days: a.days, runs: a.runs })
            .collect(),
        evidence_sha256,
    })
}

/// The decision's canonical bytes (the bytes anyone recomputes; equal to the canonical form of the signed
/// payload).
pub fn decision_bytes(d: &RatingDecision) -> Vec<u8> {
    canonical_bytes(d)
}

/// Every registered project's decision at this prefix, by project id.
pub fn all_decisions(
    prefix: &LogPrefix,
    policy_version: u32,
    as_of: LocalDate,
) -> Result<BTreeMap<ProjectId, RatingDecision>, RatingError> {
    let ids: Vec<ProjectId> = prefix.fold.registry.projects().map(|p| p.project_id.clone()).collect();
    let mut out = BTreeMap::new();
    for id in ids {
        out.insert(id.clone(), decision(prefix, &id, policy_version, as_of)?);
    }
    Ok(out)
}

/// Every registered enterprise's credit score at this prefix (the prefix must be loaded with rules).
pub fn credit_scores(prefix: &LogPrefix, rules: &CreditRules, as_of: LocalDate) -> Vec<CreditScore> {
    let enterprises: Vec<CreditCode> = prefix.fold.registry.enterprises().map(|e| e.credit_code.clone()).collect();
    let mut scores = credit::score_all(rules, &prefix.fold.credit_records, enterprises.iter(), as_of);
    scores.sort_by(|a, b| b.score.cmp(&a.score).then_with(|| a.credit_code.cmp(&b.credit_code)));
    scores
}

/// May a caller with `scope` see the credit score of enterprise `code`, which takes part in `projects`? City and
/// auditors see every enterprise; an enterprise sees itself; a district bureau sees the enterprises taking part in
/// a project of its district.
pub fn enterprise_visible<'a>(
    access: &AccessCache,
    scope: &Scope,
    code: &CreditCode,
    mut projects: impl Iterator<Item = &'a ProjectId>,
) -> bool {
    match scope {
        Scope::All => true,
        Scope::Enterprise(c) => c == code.as_str(),
        Scope::District(_) => projects.any(|p| access.allows_project(scope, p.as_str())),
        Scope::Nothing => false,
    }
}

/// May a caller with `scope` see this credit record (its event id, position and project)? Only if it may see the
/// record's project; a record without a project only city-wide or by the enterprise concerned.
pub fn record_visible(access: &AccessCache, scope: &Scope, r: &CreditRecord) -> bool {
    match &r.project_id {
        Some(p) => access.allows_project(scope, p.as_str()),
        None => match scope {
            Scope::All => true,
            Scope::Enterprise(c) => c == r.credit_code.as_str(),
            Scope::District(_) | Scope::Nothing => false,
        },
    }
}

/// Credit records a caller may not see, summarised without ids, positions or projects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Withheld {
    /// How many records.
    pub records: usize,
    /// The sum of their points (part of the score).
    pub points: i64,
}

/// A credit score as one caller is shown it: the whole score and grade, the visible records, the rest summarised
/// (`score = base_points + Σ records.points + withheld.points`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScopedScore {
    /// The enterprise.
    pub credit_code: CreditCode,
    /// The score (all records count, seen or not).
    pub score: i64,
    /// Its grade.
    pub grade: String,
    /// The records the caller may see.
    pub records: Vec<CreditRecord>,
    /// The others: a count and a sum.
    pub withheld: Withheld,
}

impl ScopedScore {
    /// Splits `score`'s records by `visible`.
    pub fn new(score: CreditScore, visible: impl Fn(&CreditRecord) -> bool) -> ScopedScore {
        let mut withheld = Withheld::default();
        let mut records = Vec::with_capacity(score.records.len());
        for r in score.records {
            if visible(&r) {
                records.push(r);
            } else {
                withheld.records += 1;
                withheld.points += r.points;
            }
        }
        ScopedScore { credit_code: score.credit_code, score: score.score, grade: score.grade, records, withheld }
    }
}

/// The tree size "as of" an instant: the number of records the ledger had sequenced by then (records are
/// sequenced in position order, so `recorded_at` never decreases along the log).
pub async fn size_at_time<S: EventStore>(store: &S, t: time::OffsetDateTime) -> Result<u64, RatingError> {
    let head = store.head().await?;
    let (mut lo, mut hi) = (0u64, head);
    // Smallest position whose record was sequenced after t; that is the size.
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let e = store.read_all(mid, 1).await?;
        let e = e.first().ok_or_else(|| RatingError::Corrupt(format!("no record at position {mid}")))?;
        if e.recorded_at <= t {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

/// Parses `--as-of`: a tree size (digits) or an RFC 3339 instant.
pub async fn resolve_as_of<S: EventStore>(store: &S, as_of: &str) -> Result<u64, RatingError> {
    if !as_of.is_empty() && as_of.bytes().all(|b| b.is_ascii_digit()) {
        let n: u64 = as_of.parse().map_err(|_| RatingError::Invalid(format!("{as_of:?} is not a tree size")))?;
        let head = store.head().await?;
        if n > head {
            return Err(RatingError::Invalid(format!("tree size {n} exceeds the log size {head}")));
        }
        return Ok(n);
    }
    let t = siteledger_signer::envelope::parse_time(as_of).map_err(|e| {
        RatingError::Invalid(format!("--as-of {as_of:?}: neither a tree size nor an RFC 3339 time ({e})"))
    })?;
    size_at_time(store, t).await
}

/// Today's date in Asia/Shanghai (for issuing; reproduction uses the date recorded in the decision).
pub fn today_shanghai() -> LocalDate {
    LocalDate::try_from(siteledger_domain::time::shanghai_date(time::OffsetDateTime::now_utc()))
        .unwrap_or(LocalDate::MIN)
}

impl From<RatingError> for crate::error::ApiError {
    fn from(e: RatingError) -> Self {
        match e {
            RatingError::Invalid(m) => crate::error::ApiError::BadRequest(m),
            RatingError::Store(s) => crate::error::ApiError::store_unavailable(crate::error::Store::Events, s),
            RatingError::Corrupt(m) => crate::error::ApiError::Internal(m),
        }
    }
}
