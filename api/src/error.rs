//! The one error type of the HTTP boundary. Every error becomes JSON `{"code": "...", "message": "..."}` with a
//! stable code; internal errors are logged with their detail and answered with a generic message, never their text.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// The JSON body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `unauthorized`, `payload_too_large`.
    pub code: &'static str,
    /// What went wrong and what to do, for a person.
    pub message: String,
}

/// An API error: how the caller should react is in the variant.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed: fix it and retry.
    #[error("{0}")]
    BadRequest(String),
    /// No valid token: send `Authorization: Bearer <token>`.
    #[error("{0}")]
    Unauthorized(String),
    /// The token's role or scope does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// Nothing there (or not visible to the caller, which is deliberately indistinguishable).
    #[error("{0}")]
    NotFound(String),
    /// The body exceeds a limit; split it.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// Temporarily unable to serve (store down, shutting down, a bound reached): retry with backoff. The message is
    /// written for the caller and says why; a store's own error text is logged, never sent
    /// ([`ApiError::store_unavailable`]).
    #[error("{0}")]
    Unavailable(String),
    /// A bug or an infrastructure failure; details are logged, not sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    /// A store that cannot serve now: its error (`detail`) is logged, and the caller is told which store, whether
    /// it looks like a failover (the connection lost, the database read-only or starting), and that a retry is safe.
    pub fn store_unavailable(store: Store, detail: impl std::fmt::Display) -> ApiError {
        let detail = detail.to_string();
        tracing::warn!(store = store.name(), %detail, "store unavailable");
        let lower = detail.to_ascii_lowercase();
        let failover = FAILOVER_SIGNS.iter().any(|s| lower.contains(s));
        let (zh, en) = match store {
            Store::Events => ("事件库", "the event store"),
            Store::Blobs => ("附件存储", "the attachment store"),
            Store::Vault => ("个人信息库", "the personal-data vault"),
        };
        let retry = match store {
            Store::Events => "records are idempotent, so resending never duplicates one",
            Store::Blobs => "uploads are idempotent by digest",
            Store::Vault => "nothing was revealed",
        };
        ApiError::Unavailable(if failover {
            format!(
                "{zh}正在主备切换或暂时不可达，请数秒后重试 / {en} is failing over or unreachable; retry in a few seconds \
                 ({retry})"
            )
        } else {
            format!("{zh}暂不可用，请稍后重试 / {en} is unavailable right now; retry with backoff ({retry})")
        })
    }

    /// Logs-and-hides helper for infrastructure errors.
    pub fn internal(e: impl std::fmt::Display) -> ApiError {
        ApiError::Internal(e.to_string())
    }
}

/// A store behind the API, named in a 503 ([`ApiError::store_unavailable`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// The event store (the log).
    Events,
    /// The attachment store.
    Blobs,
    /// The personal-data vault.
    Vault,
}

impl Store {
    fn name(self) -> &'static str {
        match self {
            Store::Events => "events",
            Store::Blobs => "blobs",
            Store::Vault => "vault",
        }
    }
}

/// Fragments of driver and server errors seen while a PostgreSQL primary fails over (connections cut, the old
/// primary read-only, the new one starting, the pool waiting for a connection), lower case.
const FAILOVER_SIGNS: &[&str] = &[
    "read-only transaction",
    "connection refused",
    "connection reset",
    "broken pipe",
    "terminating connection",
    "the database system is",
    "pool timed out",
    "connection closed",
    "unexpected eof",
    "error communicating with database",
];

impl From<siteledger_ledger::LedgerError> for ApiError {
    fn from(e: siteledger_ledger::LedgerError) -> Self {
        match e {
            siteledger_ledger::LedgerError::InvalidRequest(m) => ApiError::BadRequest(m),
            siteledger_ledger::LedgerError::Closed => ApiError::Unavailable(
                "本服务器正在停止，请重试（其他实例或重启后） / this server is shutting down; retry (another instance, or this \
                 one after its restart)"
                    .into(),
            ),
            siteledger_ledger::LedgerError::Store(s) => ApiError::store_unavailable(Store::Events, s),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<siteledger_projections::ProjectionError> for ApiError {
    fn from(e: siteledger_projections::ProjectionError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.parts();
        let message = match &self {
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                "内部错误，已记录 / internal error; it has been logged".to_owned()
            }
            other => other.to_string(),
        };
        let mut response = (status, Json(ErrorBody { code, message })).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            // Agents and the client library back off on their own; a plain HTTP client gets a hint.
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("2"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn answer(e: ApiError) -> (StatusCode, Option<String>, ErrorBody) {
        let r = e.into_response();
        let retry = r.headers().get(axum::http::header::RETRY_AFTER).map(|v| v.to_str().unwrap_or("").to_owned());
        let status = r.status();
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 16).await.expect("body");
        let v: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        let body = ErrorBody {
            code: if v["code"] == "unavailable" { "unavailable" } else { "other" },
            message: v["message"].as_str().unwrap_or_default().to_owned(),
        };
        (status, retry, body)
    }

    #[tokio::test]
    async fn a_failover_is_named_as_one_without_the_drivers_text_and_with_a_retry_hint() {
        let detail = "error returned from database: cannot execute INSERT in a read-only transaction (host \
                      10.0.0.7 user siteledger)";
        let (status, retry, body) = answer(ApiError::store_unavailable(Store::Events, detail)).await;
        assert_eq!((status, retry.as_deref(), body.code), (StatusCode::SERVICE_UNAVAILABLE, Some("2"), "unavailable"));
        assert!(body.message.contains("failing over") && body.message.contains("事件库"), "{}", body.message);
        assert!(body.message.contains("resending never duplicates"), "{}", body.message);
        assert!(!body.message.contains("10.0.0.7") && !body.message.contains("read-only"), "{}", body.message);
        // Another store error is not called a failover.
        let (_, _, body) = answer(ApiError::store_unavailable(Store::Blobs, "disk I/O error")).await;
        assert!(body.message.contains("attachment store is unavailable") && !body.message.contains("failing over"));
    }

    #[tokio::test]
    async fn a_bound_reached_is_told_in_its_own_words_not_as_a_generic_outage() {
        let why = "该单位待审批申请过多 / too many pending requests for this organisation; ask its administrator";
        let (status, retry, body) = answer(ApiError::Unavailable(why.into())).await;
        assert_eq!(
            (status, retry.as_deref(), body.message.as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, Some("2"), why)
        );
    }
}
