//! HTTP handlers, one module per area.

pub mod blobs;
pub mod feed;
pub mod ingest;
pub mod log;
pub mod ops;
pub mod query;
pub mod rating;
pub mod site;
pub mod supervision;
pub mod workforce;

use axum::Json;
use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::ApiError;

/// `rows` as JSON with, when another page follows, `Link: <next>; rel="next"` (`next`: the next page's path and
/// query, its values encoded with [`encode_query_value`]): the paged lists' one answer shape.
pub(crate) fn paged<T: Serialize>(rows: T, next: Option<String>) -> Result<Response, ApiError> {
    let mut resp = Json(rows).into_response();
    if let Some(next) = next {
        let link = HeaderValue::from_str(&format!("<{next}>; rel=\"next\"")).map_err(ApiError::internal)?;
        resp.headers_mut().insert(header::LINK, link);
    }
    Ok(resp)
}

/// A JSON answer already serialized (a shared one, `crate::answers`): the bytes as they are.
pub(crate) fn json_bytes(bytes: &Bytes) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], bytes.clone()).into_response()
}

/// Serializes `value` for a shared answer (`crate::answers`): kept as bytes, served by [`json_bytes`].
pub(crate) fn to_json_bytes<T: Serialize>(value: &T) -> Result<Bytes, ApiError> {
    serde_json::to_vec(value).map(Bytes::from).map_err(ApiError::internal)
}

/// Percent-encodes a query parameter value (everything but RFC 3986 unreserved characters).
pub(crate) fn encode_query_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
