//! `POST /v1/blobs` on the agent's local listener: a producer's system hands the agent a file its records will
//! cite (a test report's PDF, a rectification photo), behind the same local bearer token as every route. The body
//! is the raw bytes (at most `max_blob_bytes` of the configuration). The agent stores the file durably in its
//! local attachment store (`queue_dir/blobs`, content-addressed: temporary file, fsync, rename) before it answers
//! `201 {"sha256", "bytes", "media_type"}` (`200` with the same body when it already held the bytes); the media
//! type is found in the bytes (`domain::attachment::sniff`), as the platform does. The uploader sends the file to
//! the platform's `POST /v1/blobs` before the first record citing it (docs/ATTACHMENTS.md).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, extract::DefaultBodyLimit};
use serde_json::json;

use super::error;
use crate::agent::Shared;

/// The body limit of the route: `max_blob_bytes`, not the records' 64 KiB.
pub fn limit(shared: &Shared) -> DefaultBodyLimit {
    DefaultBodyLimit::max(shared.config.max_blob_bytes)
}

/// Stores a file the producer's records will cite.
pub async fn post_blob(State(shared): State<Arc<Shared>>, body: Result<Bytes, BytesRejection>) -> Response {
    let max = shared.config.max_blob_bytes;
    let bytes = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                None,
                format!(
                    "附件超过 {max} 字节 / the file exceeds {max} bytes (max_blob_bytes of the agent's configuration)"
                ),
            );
        }
        Err(e) => {
            return error(StatusCode::BAD_REQUEST, None, format!("the body could not be read: {}", e.body_text()));
        }
    };
    if bytes.is_empty() {
        return error(StatusCode::BAD_REQUEST, None, "请求体为空 / the body is empty: send the file's bytes".into());
    }
    let store = shared.blobs.clone();
    match tokio::task::spawn_blocking(move || store.put(&bytes)).await {
        Ok(Ok(stored)) => {
            tracing::info!(sha256 = %stored.sha256, bytes = stored.bytes, media_type = stored.media_type, fresh = stored.fresh, "attachment stored locally");
            let status = if stored.fresh { StatusCode::CREATED } else { StatusCode::OK };
            let body = json!({"sha256": stored.sha256, "bytes": stored.bytes, "media_type": stored.media_type});
            (status, Json(body)).into_response()
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "attachment not stored");
            error(StatusCode::SERVICE_UNAVAILABLE, None, "the local attachment store failed; resend later".into())
        }
        Err(e) => {
            tracing::error!(error = %e, "attachment store task failed");
            error(StatusCode::SERVICE_UNAVAILABLE, None, "the local attachment store failed; resend later".into())
        }
    }
}
