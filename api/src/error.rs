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
    /// Temporarily unable to serve (store down, shutting down): retry with backoff.
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

    /// Logs-and-hides helper for infrastructure errors.
    pub fn internal(e: impl std::fmt::Display) -> ApiError {
        ApiError::Internal(e.to_string())
    }
}

impl From<siteledger_ledger::LedgerError> for ApiError {
    fn from(e: siteledger_ledger::LedgerError) -> Self {
        match e {
            siteledger_ledger::LedgerError::InvalidRequest(m) => ApiError::BadRequest(m),
            siteledger_ledger::LedgerError::Closed => ApiError::Unavailable("the server is shutting down".into()),
            siteledger_ledger::LedgerError::Store(s) => ApiError::Unavailable(format!("store: {s}")),
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
            ApiError::Unavailable(detail) => {
                tracing::warn!(%detail, "unavailable");
                "服务暂不可用，请稍后重试 / temporarily unavailable; retry with backoff".to_owned()
            }
            other => other.to_string(),
        };
        (status, Json(ErrorBody { code, message })).into_response()
    }
}
