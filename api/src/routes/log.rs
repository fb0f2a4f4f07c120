//! Transparency endpoints (public): checkpoints, the log key, leaves, proofs and evidence bundles. External
//! auditors' tools call these exact paths; see docs/FORMAT.md and docs/API.md.

use axum::Json;
use axum::body::Body;
use axum::extract::State;

use crate::extract::{Path, Query};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

const MAX_LEAVES: u64 = 1000;

fn text(body: String) -> Response {
    let mut r = body.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}

/// The latest signed checkpoint (C2SP tlog-checkpoint as a signed note).
#[utoipa::path(get, path = "/v1/log/checkpoint", tag = "transparency",
    responses((status = 200, description = "C2SP signed checkpoint note", content_type = "text/plain", body = String)))]
pub async fn checkpoint(State(state): State<AppState>) -> Result<Response, ApiError> {
    let cp = match state.ledger.latest_checkpoint().await? {
        Some(cp) => cp,
        None => state.ledger.checkpoint_now().await?,
    };
    // Witness cosignatures (docs/FORMAT.md §9) follow the log's own line, as many as the configured witnesses
    // gave; verifiers that do not know a witness ignore its line, as C2SP says.
    let mut note = cp.note;
    for line in state.cosignatures.lines(cp.size).await? {
        note.push_str(&line);
    }
    Ok(text(note))
}

/// The log's verifier key string (`<name>+<hex id>+<base64 key>`).
#[utoipa::path(get, path = "/v1/log/key", tag = "transparency",
    responses((status = 200, description = "C2SP note verifier key", content_type = "text/plain", body = String)))]
pub async fn key(State(state): State<AppState>) -> Response {
    text(format!("{}\n", state.ledger.log_verifier().vkey()))
}

/// The exact leaf bytes at an index (the canonical signed envelope).
#[utoipa::path(get, path = "/v1/log/leaves/{index}", tag = "transparency",
    params(("index" = u64, Path, description = "Leaf index")),
    responses(
        (status = 200, description = "Leaf bytes", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 404, description = "No such leaf", body = crate::error::ErrorBody)))]
pub async fn leaf(State(state): State<AppState>, Path(index): Path<u64>) -> Result<Response, ApiError> {
    let ev = state.ledger.read_all(index, 1).await?;
    let e = ev
        .into_iter()
        .next()
        .filter(|e| e.position == index)
        .ok_or_else(|| ApiError::NotFound(format!("leaf {index} does not exist yet")))?;
    let mut r = Response::new(Body::from(e.leaf));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    Ok(r)
}

/// Range of leaves.
#[derive(Debug, Deserialize, IntoParams)]
pub struct LeavesQuery {
    /// First index.
    pub from: u64,
    /// How many (at most 1000).
    pub limit: Option<u64>,
}

/// The envelopes at `[from, from+limit)` as a JSON array.
#[utoipa::path(get, path = "/v1/log/leaves", tag = "transparency", params(LeavesQuery),
    responses((status = 200, description = "Envelopes in index order", body = Vec<Object>)))]
pub async fn leaves(State(state): State<AppState>, Query(q): Query<LeavesQuery>) -> Result<Json<Vec<Value>>, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, MAX_LEAVES);
    let events = state.ledger.read_all(q.from, limit as usize).await?;
    let mut out = Vec::with_capacity(events.len());
    for e in events {
        out.push(serde_json::from_slice(&e.leaf).map_err(ApiError::internal)?);
    }
    Ok(Json(out))
}

/// Inclusion proof request.
#[derive(Debug, Deserialize, IntoParams)]
pub struct InclusionQuery {
    /// Leaf index.
    pub index: u64,
    /// Tree size (that of a published checkpoint).
    pub size: u64,
}

/// An inclusion proof.
#[derive(Debug, Serialize, ToSchema)]
pub struct InclusionProof {
    /// Leaf index.
    pub index: u64,
    /// Tree size.
    pub size: u64,
    /// Base64 hashes, RFC 9162 order.
    pub hashes: Vec<String>,
}

/// Inclusion proof of a leaf in the tree of a given size (RFC 9162 §2.1.3).
#[utoipa::path(get, path = "/v1/log/proof/inclusion", tag = "transparency", params(InclusionQuery),
    responses((status = 200, body = InclusionProof), (status = 400, description = "Index or size out of range", body = crate::error::ErrorBody)))]
pub async fn inclusion(
    State(state): State<AppState>,
    Query(q): Query<InclusionQuery>,
) -> Result<Json<InclusionProof>, ApiError> {
    let proof = state.ledger.inclusion_proof(q.index, q.size).await?;
    Ok(Json(InclusionProof { index: q.index, size: q.size, hashes: proof.iter().map(|h| B64.encode(h)).collect() }))
}

/// Consistency proof request.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ConsistencyQuery {
    /// Older tree size.
    pub from: u64,
    /// Newer tree size.
    pub to: u64,
}

/// A consistency proof.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsistencyProof {
    /// Older size.
    pub from: u64,
    /// Newer size.
    pub to: u64,
    /// Base64 hashes, RFC 9162 order.
    pub hashes: Vec<String>,
}

/// Consistency proof between two tree sizes (RFC 9162 §2.1.4).
#[utoipa::path(get, path = "/v1/log/proof/consistency", tag = "transparency", params(ConsistencyQuery),
    responses((status = 200, body = ConsistencyProof), (status = 400, description = "Sizes out of range", body = crate::error::ErrorBody)))]
pub async fn consistency(
    State(state): State<AppState>,
    Query(q): Query<ConsistencyQuery>,
) -> Result<Json<ConsistencyProof>, ApiError> {
    let proof = state.ledger.consistency_proof(q.from, q.to).await?;
    Ok(Json(ConsistencyProof { from: q.from, to: q.to, hashes: proof.iter().map(|h| B64.encode(h)).collect() }))
}

/// The evidence bundle for one record, as `siteledger-verify` checks it offline.
#[utoipa::path(get, path = "/v1/evidence/{event_id}", tag = "transparency",
    params(("event_id" = String, Path, description = "Event id (UUIDv7)")),
    responses(
        (status = 200, description = "Canonical evidence bundle (docs/FORMAT.md §7)", content_type = "application/json", body = Object),
        (status = 404, description = "No such record", body = crate::error::ErrorBody)))]
pub async fn evidence(State(state): State<AppState>, Path(event_id): Path<String>) -> Result<Response, ApiError> {
    let id =
        Uuid::parse_str(&event_id).map_err(|_| ApiError::BadRequest(format!("{event_id:?} is not an event id")))?;
    let bundle = state.ledger.evidence_bundle(&[id]).await.map_err(|e| match e {
        siteledger_ledger::LedgerError::InvalidRequest(m) => ApiError::NotFound(m),
        other => other.into(),
    })?;
    let mut r = Response::new(Body::from(bundle.to_bytes()));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let disposition = format!("attachment; filename=\"evidence-{id}.json\"");
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}
