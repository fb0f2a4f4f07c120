//! Extractors whose rejections are the API's JSON errors (axum's defaults answer in plain text).
//!
//! [`Json`] replaces `axum::Json` for request bodies: axum's rejection is plain text and quotes the value that did
//! not fit (`invalid type: integer `33020319800101001`, expected a string`), which echoed the 17-digit ID prefix a
//! client sent as a JSON number. Ours answers `{code, message}` naming the member and the expected type, never the
//! value.

use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// `axum::extract::Query` with JSON errors.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

/// `axum::extract::Path` with JSON errors.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::BadRequest(format!("查询参数错误 / bad query parameters: {}", r.body_text()))
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::BadRequest(format!("路径参数错误 / bad path parameter: {}", r.body_text()))
    }
}

/// Fallback for unknown routes: a JSON 404.
pub async fn not_found() -> ApiError {
    ApiError::NotFound("没有这个接口 / no such endpoint; see /openapi.json".into())
}

/// A JSON request body (`Content-Type: application/json` or `…+json`) deserialized as `T`; bad bodies are answered
/// with the API's JSON error, naming the member and the expected type but never repeating the value sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !json_content_type(req.headers()) {
            return Err(ApiError::BadRequest(
                "请求体须为 JSON / the body must be JSON: send Content-Type: application/json".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge("请求体过大 / the body exceeds the size limit".into())
            } else {
                ApiError::BadRequest("请求体读取失败 / the body could not be read".into())
            }
        })?;
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        let value =
            serde_path_to_error::deserialize(&mut de).map_err(|e| body_error(&e.path().to_string(), e.inner()))?;
        de.end().map_err(|e| body_error(".", &e))?;
        Ok(Json(value))
    }
}

fn json_content_type(headers: &HeaderMap) -> bool {
    let Some(ct) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    let mime = ct.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// The API error for a body that does not deserialize: where (the member's path) and what was expected, without
/// the value.
fn body_error(path: &str, e: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    let at = format!("line {} column {}", e.line(), e.column());
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            ApiError::BadRequest(format!("请求体不是有效的 JSON / the body is not valid JSON ({at})"))
        }
        Category::Data => {
            let member = safe_path(path);
            ApiError::BadRequest(format!(
                "请求体字段错误 / bad member {member} in the body: {} ({at})",
                redact_serde_message(&e.to_string())
            ))
        }
    }
}

/// The member's path (`workerList[0].idCardNumber`) if it is made of plain names and indices; a map key sent by the
/// client could be anything, including a number.
fn safe_path(path: &str) -> String {
    let plain = path.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']' | '-'))
        && path.len() <= 200
        && !siteledger_domain::personal::looks_like_personal_number(path);
    if path == "." {
        "(the body itself)".into()
    } else if plain {
        format!("`{path}`")
    } else {
        "(a member whose name is not shown)".into()
    }
}

/// serde's data error without the value it quotes: `invalid type: integer `33020319800101001`, expected a string`
/// becomes `invalid type: integer, expected a string`; `unknown variant `x`, expected one of …` keeps the
/// expected list (the API's own codes). Anything left that still looks like a personal number is dropped whole.
pub fn redact_serde_message(raw: &str) -> String {
    // serde_json appends " at line L column C": the caller reports the position itself.
    let msg = raw.rsplit_once(" at line ").map_or(raw, |(m, _)| m);
    let out = if let Some(rest) = msg.strip_prefix("invalid type: ").or_else(|| msg.strip_prefix("invalid value: ")) {
        let what = if msg.starts_with("invalid type") { "invalid type" } else { "invalid value" };
        let (unexpected, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
        let category = unexpected.split(['`', '"']).next().unwrap_or_default().trim();
        if expected.is_empty() {
            format!("{what}: {category}")
        } else {
            format!("{what}: {category}, expected {expected}")
        }
    } else if let Some(rest) = msg.strip_prefix("unknown variant ") {
        let expected = rest.split_once(", ").map_or("", |(_, e)| e);
        format!("unknown value, {expected}")
    } else if let Some(rest) = msg.strip_prefix("unknown field ") {
        let (name, expected) = rest.split_once(", ").unwrap_or((rest, ""));
        let name = name.trim_matches('`');
        let shown = if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && name.len() <= 64
            && !siteledger_domain::personal::looks_like_personal_number(name)
        {
            format!("`{name}`")
        } else {
            "(not shown)".into()
        };
        format!("unknown field {shown}, {expected}")
    } else {
        msg.to_owned()
    };
    if siteledger_domain::personal::looks_like_personal_number(&out) { "invalid value (not shown)".into() } else { out }
}
