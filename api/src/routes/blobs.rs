//! `POST /v1/blobs` and `GET /v1/blobs/{sha256}`: attachments (附件) in and out (docs/ATTACHMENTS.md).
//!
//! Upload: any token that may write records; the raw bytes as the body; the answer names the SHA-256 a record
//! then cites. Download: a caller gets a file only if it may read at least one record citing its digest, or if it
//! uploaded it; anything else is 404, exactly like a digest the store does not hold, so digests do not leak.
//! Personal attachments (ID card photos, labour contracts) are sealed in the vault under the person's data key
//! (`?person_ref=`): read like the person's other plaintext (city bureau or an owner enterprise, with a purpose
//! code, every read a signed `vault.access.v1` record) and crypto-shredded with the person.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use siteledger_domain::workforce::vault::VaultPurpose;
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::auth::Principal;
use crate::blobs::{BlobStore, NewBlob, is_sha256_hex, sniff};
use crate::error::ApiError;
use crate::extract::{Path, Query};
use crate::routes::workforce::{accessor, may_see};
use crate::state::AppState;

/// The upload path (its body limit is `max_blob_bytes`, not `max_body_bytes`).
pub const PATH: &str = "/v1/blobs";

/// The routes of this area (merged into the server's router).
pub fn router() -> Router<AppState> {
    Router::new().route(PATH, post(upload)).route("/v1/blobs/{sha256}", get(download))
}

/// This area's part of the OpenAPI document (merged into `/openapi.json`).
#[derive(Debug, OpenApi)]
#[openapi(
    paths(upload, download),
    components(schemas(Stored)),
    tags((name = "attachments", description = "附件: content-addressed files cited by SHA-256 in signed records"))
)]
pub struct Doc;

/// What was stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct Stored {
    /// SHA-256 of the bytes, 64 lowercase hex characters: the digest a record cites.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
    /// The media type found in the bytes (what downloads are served as).
    pub media_type: String,
    /// For a personal attachment: the person it is sealed for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person_ref: Option<String>,
}

/// Options of an upload or a download.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct BlobQuery {
    /// A personal attachment (ID card photo, labour contract): the person's reference (`P-…`). Uploading seals
    /// the bytes in the vault under the person's data key; downloading needs `purpose`.
    pub person_ref: Option<String>,
    /// Download of a personal attachment: the purpose code, as for the person's plaintext (`labour_dispute`,
    /// `wage_complaint`, `inspection`, `subject_request`, `wage_payment`, `platform_report`).
    pub purpose: Option<String>,
}

fn bad_hash(got: &str) -> ApiError {
    let shown: String = got.chars().take(80).collect();
    ApiError::BadRequest(format!(
        "附件哈希无效 / {shown:?} is not a SHA-256 digest: write 64 lowercase hex characters (0-9, a-f)"
    ))
}

/// Store an attachment: the raw bytes as the body (any `Content-Type`; it is recorded, the served type is
/// found in the bytes). The same bytes again answer 200 with the same digest (idempotent).
#[utoipa::path(post, path = "/v1/blobs", tag = "attachments", params(BlobQuery),
    request_body(content = Vec<u8>, description = "The file's bytes", content_type = "application/octet-stream"),
    responses(
        (status = 201, description = "Stored", body = Stored),
        (status = 200, description = "Already stored (the same bytes)", body = Stored),
        (status = 400, description = "Empty body, or a bad person reference", body = crate::error::ErrorBody),
        (status = 401, description = "No valid token", body = crate::error::ErrorBody),
        (status = 403, description = "The token may not write", body = crate::error::ErrorBody),
        (status = 404, description = "Personal: no such person for this caller", body = crate::error::ErrorBody),
        (status = 413, description = "Larger than the configured limit", body = crate::error::ErrorBody),
        (status = 503, description = "Store unavailable (or the vault access not recorded): nothing stored", body = crate::error::ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn upload(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<BlobQuery>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    if !principal.may_write() {
        return Err(ApiError::Forbidden("审计员令牌只读 / auditor tokens are read-only".into()));
    }
    let limit = state.config.max_blob_bytes;
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(format!(
                "附件超过 {limit} 字节 / the attachment exceeds {limit} bytes (max_blob_bytes)"
            ))
        } else {
            ApiError::BadRequest(format!("无法读取请求体 / cannot read the body: {}", e.body_text()))
        }
    })?;
    if body.is_empty() {
        return Err(ApiError::BadRequest("请求体为空 / the body is empty: send the file's bytes".into()));
    }
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(200).collect::<String>());
    if let Some(person) = q.person_ref.as_deref() {
        let owners = state.vault.owners(person).await?;
        if !may_see(&principal, &owners) {
            return Err(ApiError::NotFound(format!("no person {person} in the vault")));
        }
        let who = accessor(&principal)?;
        let sealed = state.vault.seal_attachment(&who, person, &body, sniff(&body)).await?;
        let status = if sealed.fresh { StatusCode::CREATED } else { StatusCode::OK };
        let stored = Stored {
            sha256: sealed.sha256,
            bytes: body.len() as u64,
            media_type: sniff(&body).to_owned(),
            person_ref: Some(person.to_owned()),
        };
        return Ok((status, Json(stored)).into_response());
    }
    let blob = NewBlob::new(&body, declared, &principal.token_id);
    let (meta, fresh) = state.blobs.put(&blob).await?;
    tracing::info!(sha256 = %meta.sha256, bytes = meta.bytes, media_type = %meta.media_type, token = %principal.token_id, fresh, "attachment stored");
    let status = if fresh { StatusCode::CREATED } else { StatusCode::OK };
    let stored = Stored { sha256: meta.sha256, bytes: meta.bytes, media_type: meta.media_type, person_ref: None };
    Ok((status, Json(stored)).into_response())
}

fn file_response(sha256: &str, media_type: &str, bytes: Vec<u8>) -> Response {
    let mut resp = Response::new(Body::from(bytes));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(media_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    // Served as a download named by its digest; the browser must not guess another type.
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{sha256}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=3600"));
    h.insert("x-content-sha256", HeaderValue::from_str(sha256).unwrap_or(HeaderValue::from_static("")));
    resp
}

/// Fetch an attachment. Answered only to a caller who may read a record citing the digest (city and auditors:
/// any; a district bureau: its district's projects; an enterprise: the projects it takes part in; the demo's
/// visitors: the demo city's records) or who uploaded it; 404 otherwise, as for a digest not stored. A personal
/// attachment needs `person_ref` and `purpose` and follows the vault's rules; each such read is recorded.
#[utoipa::path(get, path = "/v1/blobs/{sha256}", tag = "attachments",
    params(("sha256" = String, Path, description = "SHA-256, 64 lowercase hex"), BlobQuery),
    responses(
        (status = 200, description = "The bytes, served as the media type found in them", content_type = "application/octet-stream"),
        (status = 400, description = "Not a SHA-256 digest, or a missing purpose code", body = crate::error::ErrorBody),
        (status = 401, description = "No valid token", body = crate::error::ErrorBody),
        (status = 404, description = "Not stored, or not visible to the caller", body = crate::error::ErrorBody),
        (status = 503, description = "Store unavailable (or the vault access not recorded)", body = crate::error::ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn download(
    State(state): State<AppState>,
    principal: Principal,
    Path(sha256): Path<String>,
    Query(q): Query<BlobQuery>,
) -> Result<Response, ApiError> {
    if !is_sha256_hex(&sha256) {
        return Err(bad_hash(&sha256));
    }
    let not_found = || ApiError::NotFound(format!("no attachment {sha256} visible to this caller"));
    if let Some(person) = q.person_ref.as_deref() {
        let purpose = VaultPurpose::parse(q.purpose.as_deref().unwrap_or(""))
            .map_err(|e| ApiError::BadRequest(format!("用途代码 / purpose code required: {e}")))?;
        let owners = state.vault.owners(person).await?;
        if !may_see(&principal, &owners) {
            return Err(not_found());
        }
        let who = accessor(&principal)?;
        let opened = state.vault.open_attachment(&who, person, &sha256, purpose).await?.ok_or_else(not_found)?;
        return Ok(file_response(&sha256, &opened.media_type, opened.bytes.to_vec()));
    }
    let Some(meta) = state.blobs.meta(&sha256).await? else { return Err(not_found()) };
    // The demo visitor shares one pseudo token id: "uploaded by" never applies to it (it cannot write anyway).
    let uploader = principal.token_id != Principal::demo_visitor().token_id
        && state.blobs.uploaded_by(&sha256, &principal.token_id).await?;
    if !uploader && state.read.blob_citations(&principal.scope(), &sha256, 1).await?.is_empty() {
        return Err(not_found());
    }
    let bytes = state.blobs.read(&sha256).await?.ok_or_else(not_found)?;
    Ok(file_response(&sha256, &meta.media_type, bytes))
}
