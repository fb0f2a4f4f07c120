//! The local intake's bearer token: every route (`/v1/devices/…`, `/v1/records`, `/v1/status`) answers 401 unless
//! the request carries `Authorization: Bearer <token>` whose SHA-256 is the configured one
//! ([`crate::config::IntakeToken`], compared without an early exit). Anyone on the site network could otherwise
//! make the agent sign records in its key's name. The token is never logged; a refusal says which of missing or
//! wrong, and nothing else.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::agent::Shared;

/// Why a request is not let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// No `Authorization: Bearer …` header.
    Missing,
    /// A bearer token that is not this agent's.
    Wrong,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (message, challenge) = match self {
            Refusal::Missing => (
                "缺少本地接入令牌 / the local intake token is missing: send `Authorization: Bearer <token>` (the \
                 token whose SHA-256 is the agent's intake_token_sha256, or the content of its intake_token_file)",
                r#"Bearer realm="siteledger-agent""#,
            ),
            Refusal::Wrong => (
                "本地接入令牌无效 / the local intake token is wrong: ask the agent's operator for this agent's token",
                r#"Bearer realm="siteledger-agent", error="invalid_token""#,
            ),
        };
        let mut resp = (StatusCode::UNAUTHORIZED, axum::Json(json!({ "error": message }))).into_response();
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        resp
    }
}

/// The bearer token of `Authorization`, if the header is one (scheme case-insensitive, RFC 6750 §2.1).
fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// Lets a request through only with the agent's intake token (middleware on the whole intake router).
pub async fn require_token(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let verdict = match (bearer(&req), shared.intake_token.as_ref()) {
        (None, _) => Err(Refusal::Missing),
        (Some(t), Some(expected)) if expected.verify(t) => Ok(()),
        // No token configured cannot happen for a listening intake (`AgentConfig::check`); refuse all if it does.
        (Some(_), _) => Err(Refusal::Wrong),
    };
    match verdict {
        Ok(()) => next.run(req).await,
        Err(refusal) => {
            tracing::debug!(path = %req.uri().path(), ?refusal, "local intake request refused: no valid token");
            refusal.into_response()
        }
    }
}
