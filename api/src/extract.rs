//! Extractors whose rejections are the API's JSON errors (axum's defaults answer in plain text).

use axum::extract::FromRequestParts;
use axum::extract::rejection::{PathRejection, QueryRejection};

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
