//! Auditor replay (审计回放): the state of a project or an enterprise as the log stood at tree size N (or at an
//! instant, resolved to the size the ledger had then), with the records that produced it and an inclusion proof
//! of each into the tree of size N. The root of size N is tied to a signed checkpoint: the stored checkpoint of
//! exactly that size if there is one, else the first later checkpoint with a consistency proof from N.
//!
//! Rebuilding at the same N gives the same document (its SHA-256 is part of the output), whatever was appended
//! since. One read of the prefix: the fold from record 0 collects a project's records on the way
//! ([`LogPrefix::load_observing`]); the records an enterprise's credit score names are read by position after.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use siteledger_domain::LocalDate;
use siteledger_domain::ids::{CreditCode, ProjectId};
use siteledger_domain::rating::policy;
use siteledger_ledger::{EventStore, StoredEvent};
use siteledger_signer::Envelope;

use crate::evidence::{consistency, inclusion, root_at};
use crate::ratings::{self, LogPrefix, RatingError};

/// Whose state.
#[derive(Debug, Clone)]
pub enum Subject {
    /// A project.
    Project(ProjectId),
    /// An enterprise.
    Enterprise(CreditCode),
}

/// Inclusion proofs are attached to at most this many records (the newest); the others are listed with their
/// leaf hash, and `GET /v1/log/proof/inclusion?index=&size=` proves them.
pub const PROOF_LIMIT: usize = 2000;

/// The replay document.
pub async fn replay<S: EventStore>(store: &S, subject: &Subject, size: u64) -> Result<Value, RatingError> {
    if size == 0 {
        return Err(RatingError::Invalid("tree size 0 holds no records".into()));
    }
    let rules_version = ratings::latest_rules_version(store, size).await?;
    // One read of the prefix: the fold from record 0 and, for a project, its records on the way.
    let project = match subject {
        Subject::Project(p) => Some(p.clone()),
        Subject::Enterprise(_) => None,
    };
    let (prefix, collected) = LogPrefix::load_observing(
        store,
        size,
        rules_version,
        ProjectRecords { project, listed: BTreeMap::new() },
        ProjectRecords::observe,
    )
    .await?;
    // The as-of date of evidence windows: the day (Asia/Shanghai) the ledger sequenced record N − 1.
    let last = store.read_all(size - 1, 1).await?;
    let last = last.first().ok_or_else(|| RatingError::Corrupt(format!("no record at {}", size - 1)))?;
    let as_of = LocalDate::try_from(siteledger_domain::time::shanghai_date(last.recorded_at)).unwrap_or(LocalDate::MIN);

    let (state, positions) = match subject {
        Subject::Project(p) => project_state(&prefix, p, size, as_of)?,
        Subject::Enterprise(c) => enterprise_state(&prefix, c, as_of, rules_version)?,
    };
    let root = root_at(store, size).await?;
    let anchor = match store.checkpoint_at(size).await? {
        Some(cp) => json!({"checkpoint": cp.note, "size": size, "consistency": []}),
        None => match store.checkpoints(size, 1).await?.into_iter().next() {
            Some(cp) => {
                let proof = consistency(store, size, cp.size).await?;
                json!({"checkpoint": cp.note, "size": cp.size, "consistency": proof.iter().map(|h| B64.encode(h)).collect::<Vec<_>>()})
            }
            None => Value::Null,
        },
    };
    // The records the state names that were not collected on the way (an enterprise's credit records, a
    // project's signer gaps), each read by its position.
    let mut listed = collected.listed;
    for position in positions {
        if listed.contains_key(&position) {
            continue;
        }
        let read = store.read_all(position, 1).await?;
        match read.first() {
            Some(e) if e.position == position => {
                listed.insert(position, listing(e));
            }
            _ => return Err(RatingError::Corrupt(format!("no record at {position}"))),
        }
    }
    let proved: BTreeSet<u64> = listed.keys().rev().take(PROOF_LIMIT).copied().collect();
    let mut events: Vec<Value> = listed.into_values().collect();
    for ev in &mut events {
        let index = ev["index"].as_u64().unwrap_or(0);
        if proved.contains(&index) {
            let proof = inclusion(store, index, size).await?;
            ev["inclusion"] = json!(proof.iter().map(|h| B64.encode(h)).collect::<Vec<_>>());
        }
    }
    let body = json!({
        "tree_size": size,
        "root": B64.encode(root),
        "as_of": as_of.to_string(),
        "subject": match subject { Subject::Project(p) => json!({"project_id": p.as_str()}), Subject::Enterprise(c) => json!({"credit_code": c.as_str()}) },
        "state": state,
        "events": events,
    });
    let digest = ratings::sha256_hex(&ratings::canonical_bytes(&body));
    Ok(json!({"replay": body, "sha256": digest, "anchor": anchor, "proof_limit": PROOF_LIMIT}))
}

/// A record as the replay document lists it (its inclusion proof is added after).
fn listing(e: &StoredEvent) -> Value {
    json!({
        "index": e.position, "event_id": e.event_id.to_string(), "stream": e.stream, "kind": e.kind,
        "occurred_at": e.occurred_at, "leaf_hash": hex::encode(e.leaf_hash),
    })
}

/// What a project's replay collects while the prefix is folded: the records in the project's streams (key
/// enrollments aside, as the fold counts them) and the registry records about the project (registration,
/// participants), by position. The fold does not keep positions (its state would grow with the log).
struct ProjectRecords {
    /// The project (`None`: an enterprise's replay, which collects nothing on the way).
    project: Option<ProjectId>,
    listed: BTreeMap<u64, Value>,
}

impl ProjectRecords {
    fn observe(&mut self, e: &StoredEvent, env: &Envelope) {
        let Some(p) = &self.project else { return };
        let in_streams = e.kind != siteledger_domain::rating::fold::KEY_ENROLLED
            && siteledger_domain::stream::project_of_stream(&e.stream).as_ref() == Some(p);
        let about = e.kind.starts_with("registry.project.")
            && env.payload().get("project_id").and_then(Value::as_str) == Some(p.as_str());
        if in_streams || about {
            self.listed.insert(e.position, listing(e));
        }
    }
}

/// A project's state, and the positions of the records it names beyond those collected (its signer gaps).
fn project_state(
    prefix: &LogPrefix,
    p: &ProjectId,
    size: u64,
    as_of: LocalDate,
) -> Result<(Value, Vec<u64>), RatingError> {
    let project = prefix
        .fold
        .registry
        .project(p)
        .ok_or_else(|| RatingError::Invalid(format!("project {p} is not registered at tree size {size}")))?;
    let log = prefix.fold.projects.get(p).cloned().unwrap_or_default();
    let rating = match prefix.latest_policy_version() {
        Some(v) => serde_json::to_value(ratings::decision(prefix, p, v, as_of)?).unwrap_or(Value::Null),
        None => Value::Null,
    };
    let open_alarms: Vec<Value> = log
        .alarms
        .iter()
        .filter(|(_, a)| a.cleared_at.is_none())
        .map(|(id, a)| json!({"alarm_id": id, "category": a.category, "level": a.level, "raised_at": a.raised_at}))
        .collect();
    let decisions: Vec<Value> = log
        .decisions
        .iter()
        .map(|d| {
            json!({"index": d.position, "event_id": d.event_id, "achieved": d.decision.achieved.get(),
                         "required": d.decision.required.map(policy::StarLevel::get), "tree_size": d.decision.tree_size,
                         "policy_version": d.decision.policy_version, "as_of": d.decision.as_of.to_string()})
        })
        .collect();
    let state = json!({
        "project_id": p.as_str(),
        "name": project.name.as_str(),
        "district": project.district.as_str(),
        "central_urban": project.central_urban,
        "floor_area_m2": project.floor_area_m2.to_string(),
        "contract_cost_fen": project.contract_cost_fen.fen(),
        "start_date": project.start_date.to_string(),
        "participants": project.participants.iter().map(|x| json!({"role": x.role.as_str(), "credit_code": x.credit_code.as_str()})).collect::<Vec<_>>(),
        "records_by_kind": log.kind_counts,
        "alarms_total": log.alarms.len(),
        "open_alarms": open_alarms,
        "signer_gaps": log.gaps.iter().map(|(pos, id, missing)| json!({"index": pos, "event_id": id, "missing": missing})).collect::<Vec<_>>(),
        "rating_decisions": decisions,
        "rating_recomputed": rating,
    });
    Ok((state, log.gaps.iter().map(|(pos, _, _)| *pos).collect()))
}

fn enterprise_state(
    prefix: &LogPrefix,
    c: &CreditCode,
    as_of: LocalDate,
    rules_version: Option<u32>,
) -> Result<(Value, Vec<u64>), RatingError> {
    let e = prefix.fold.registry.enterprise(c).ok_or_else(|| {
        RatingError::Invalid(format!("enterprise {c} is not registered at tree size {}", prefix.size))
    })?;
    let projects: Vec<Value> = prefix
        .fold
        .registry
        .projects_of_enterprise(c)
        .map(|p| {
            let roles: Vec<&str> =
                p.participants.iter().filter(|x| &x.credit_code == c).map(|x| x.role.as_str()).collect();
            json!({"project_id": p.project_id.as_str(), "name": p.name.as_str(), "roles": roles})
        })
        .collect();
    let (credit, positions) = match rules_version {
        Some(v) => {
            let rules = prefix
                .fold
                .credit_rules
                .get(&v)
                .map(|(_, r)| r.clone())
                .ok_or_else(|| RatingError::Corrupt(format!("credit rules v{v}")))?;
            let scores = ratings::credit_scores(prefix, &rules, as_of);
            let score = scores.into_iter().find(|s| &s.credit_code == c);
            let positions = score.as_ref().map(|s| s.records.iter().map(|r| r.position).collect()).unwrap_or_default();
            (json!({"rules_version": v, "score": score}), positions)
        }
        None => (json!({"rules_version": null, "note": "no credit.rules.v1 published at this size"}), Vec::new()),
    };
    let state = json!({
        "credit_code": c.as_str(),
        "name": e.name.as_str(),
        "types": e.types.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
        "projects": projects,
        "credit": credit,
    });
    Ok((state, positions))
}
