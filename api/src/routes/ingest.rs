//! `POST /v1/events`: a batch of signed envelopes in, one answer per item out.
//!
//! The handler takes the raw body and reads it with `siteledger_signer::batch`, which parses every item strictly
//! once (docs/FORMAT.md §2): a repeated member name, a float or a lone surrogate refuses that item (`malformed`,
//! naming the member and where) and no other. Reading into `serde_json::Value` first, as axum's `Json` does,
//! would keep the last of two equal names and so store a record other than the one whose bytes were signed.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use serde_json::Value;
use siteledger_ledger::IngestOutcome;
use siteledger_signer::batch;
use utoipa::ToSchema;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

/// The request: either a JSON array of envelopes or `{"events": [...]}`.
// The OpenAPI shape only: the handler reads the body with `siteledger_signer::batch`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum IngestRequest {
    /// `[envelope, …]`
    List(Vec<Value>),
    /// `{"events": [envelope, …]}`
    Wrapped {
        /// The envelopes (docs/FORMAT.md §4).
        events: Vec<Value>,
    },
}

pub use siteledger_domain::wire::{IngestResponse, ItemResult};

/// Submit signed records.
#[utoipa::path(
    post,
    path = "/v1/events",
    tag = "ingest",
    request_body(content = IngestRequest, description = "Signed envelopes (docs/FORMAT.md §4)"),
    responses(
        (status = 200, description = "Per-item results; bad items never affect good ones", body = IngestResponse),
        (status = 400, description = "The body is not a JSON array of objects", body = crate::error::ErrorBody),
        (status = 401, description = "No valid token", body = crate::error::ErrorBody),
        (status = 403, description = "The token may not write", body = crate::error::ErrorBody),
        (status = 413, description = "Body or batch too large", body = crate::error::ErrorBody),
        (status = 503, description = "Store unavailable: nothing was acknowledged, retry", body = crate::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn ingest(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<IngestResponse>, ApiError> {
    if !principal.may_write() {
        return Err(ApiError::Forbidden("审计员令牌只读 / auditor tokens are read-only".into()));
    }
    let not_a_batch = |why: &dyn std::fmt::Display| {
        ApiError::BadRequest(format!("请求体不是信封数组 / the body is not a JSON array of envelopes: {why}"))
    };
    if !json_content_type(&headers) {
        return Err(not_a_batch(&"Expected request with `Content-Type: application/json`"));
    }
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(format!(
                "请求体超过 {} 字节 / the body exceeds {} bytes; split the batch",
                state.config.max_body_bytes, state.config.max_body_bytes
            ))
        } else {
            not_a_batch(&e.body_text())
        }
    })?;
    let items = batch::split_body(&body).map_err(|e| not_a_batch(&e))?;
    if items.len() > state.config.max_batch {
        return Err(ApiError::PayloadTooLarge(format!(
            "批量 {} 条超过上限 {} / a batch holds at most {} records, got {}",
            items.len(),
            state.config.max_batch,
            state.config.max_batch,
            items.len()
        )));
    }
    // A person's session (docs/PEOPLE.md) may post only records its own key signed.
    let person_key = match principal.role {
        crate::auth::Role::Gateway => None,
        _ => state.people.sessions.key_of(&principal.token_id).await?,
    };
    let mut results: Vec<Option<ItemResult>> = Vec::with_capacity(items.len());
    let mut envelopes = Vec::new();
    let mut slots = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let item = item.into_item();
        match item.result {
            Ok(env) => {
                if let Some(bound) = principal.signer_binding()
                    && env.signer().to_string() != bound
                {
                    results.push(Some(ItemResult::rejected(
                        index,
                        Some(env.id().to_string()),
                        "forbidden_signer",
                        format!(
                            "this gateway token may submit only records signed by key {bound}, not {}",
                            env.signer()
                        ),
                    )));
                    continue;
                }
                if let Some(own) = &person_key
                    && env.signer().to_string() != *own
                {
                    results.push(Some(ItemResult::rejected(
                        index,
                        Some(env.id().to_string()),
                        "forbidden_signer",
                        format!(
                            "此会话属于密钥 {own}，只能提交本人密钥签署的记录 / this session was opened by key {own}: \
                             it may submit only records signed by that key, not by {}",
                            env.signer()
                        ),
                    )));
                    continue;
                }
                results.push(None);
                slots.push(index);
                envelopes.push(env);
            }
            Err(e) => results.push(Some(ItemResult::rejected(index, item.id_hint, "malformed", e.to_string()))),
        }
    }
    let ids: Vec<String> = envelopes.iter().map(|e| e.id().to_string()).collect();
    // The keys these records revoke: once admitted, their people's open sessions end at every instance.
    let revokes: Vec<Option<String>> = envelopes
        .iter()
        .map(|e| {
            (e.kind() == siteledger_ledger::system::KEY_REVOKED_KIND)
                .then(|| e.payload().get("key_id").and_then(|k| k.as_str()).map(str::to_owned))
                .flatten()
        })
        .collect();
    let outcomes = state.ledger.ingest(envelopes).await?;
    for (((slot, outcome), id), revoked) in slots.into_iter().zip(outcomes).zip(ids).zip(revokes) {
        if let (IngestOutcome::Accepted { .. }, Some(key_id)) = (&outcome, revoked)
            && let Some(at) = state.ledger.revoked_at(&key_id)
        {
            state.people.sessions.note_revoked(&key_id, &at).await?;
        }
        results[slot] = Some(match outcome {
            IngestOutcome::Accepted { position } => ItemResult::stored(slot, id, position, false),
            IngestOutcome::Duplicate { position } => ItemResult::stored(slot, id, position, true),
            IngestOutcome::Rejected(r) => ItemResult::rejected(slot, Some(id), r.code(), r.to_string()),
        });
    }
    let results: Vec<ItemResult> = results.into_iter().flatten().collect();
    state.metrics.record_ingest(&results);
    Ok(Json(IngestResponse::new(results)))
}

/// What axum's `Json` extractor accepts: `application/json` or `application/<anything>+json`, parameters allowed.
fn json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    match essence.split_once('/') {
        Some(("application", sub)) => sub == "json" || sub.ends_with("+json"),
        _ => false,
    }
}
