//! Static files of the dashboard, compiled into the binary: `GET /static/{name}`.
//!
//! Every file gets a strong `ETag` (a SHA-256 prefix of its bytes) and answers `If-None-Match` with 304. Pages link
//! to `/static/NAME?v=VERSION`, where VERSION is a digest of all files: such a URL never changes meaning, so it is
//! cached for a year (`immutable`); any other URL must be revalidated (`no-cache`).

use std::sync::OnceLock;

use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset { name: "app.css", content_type: "text/css; charset=utf-8", bytes: include_bytes!("../../static/app.css") },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../static/app.js"),
    },
    Asset {
        name: "canonical.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../static/canonical.js"),
    },
    Asset {
        name: "people.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../static/people.js"),
    },
    Asset {
        name: "people_forms.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../static/people_forms.js"),
    },
    Asset {
        name: "people_sign.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../static/people_sign.js"),
    },
    Asset {
        name: "sm2.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../static/sm2.js"),
    },
    Asset {
        name: "verify.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../static/verify.js"),
    },
    Asset {
        name: "site.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../static/site.js"),
    },
    Asset {
        name: "supervision.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../static/supervision.js"),
    },
    Asset { name: "favicon.svg", content_type: "image/svg+xml", bytes: include_bytes!("../../static/favicon.svg") },
];

struct Digests {
    etags: Vec<String>,
    version: String,
}

fn digests() -> &'static Digests {
    static D: OnceLock<Digests> = OnceLock::new();
    D.get_or_init(|| {
        let mut all = Sha256::new();
        let etags = ASSETS
            .iter()
            .map(|a| {
                all.update(a.name.as_bytes());
                all.update(a.bytes);
                format!("\"{}\"", hex::encode(&Sha256::digest(a.bytes)[..12]))
            })
            .collect();
        Digests { etags, version: hex::encode(&all.finalize()[..6]) }
    })
}

/// The cache-busting version appended to asset URLs (`?v=…`).
pub fn version() -> &'static str {
    &digests().version
}

/// `GET /static/{name}`.
pub async fn serve(Path(name): Path<String>, RawQuery(query): RawQuery, headers: HeaderMap) -> Response {
    let Some(i) = ASSETS.iter().position(|a| a.name == name) else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "没有这个文件 / not found\n",
        )
            .into_response();
    };
    let asset = &ASSETS[i];
    let etag = &digests().etags[i];
    let versioned = query.as_deref().is_some_and(|q| q.split('&').any(|kv| kv == format!("v={}", version())));
    let cache = if versioned { "public, max-age=31536000, immutable" } else { "no-cache" };
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut resp = if matches { StatusCode::NOT_MODIFIED.into_response() } else { asset.bytes.into_response() };
    let h = resp.headers_mut();
    if !matches {
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    resp
}
