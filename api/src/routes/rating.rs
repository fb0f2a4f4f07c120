//! Open-API handlers of 星级评定、信用评价与年度监督 (ratings, credit, reports, replay). (Scaffold: the subsystem's issue fills it in.)

use axum::Router;
use utoipa::OpenApi;

use crate::state::AppState;

/// The routes of this area (merged into the server's router).
pub fn router() -> Router<AppState> {
    Router::new()
}

/// This area's part of the OpenAPI document (merged into `/openapi.json`).
#[derive(Debug, OpenApi)]
#[openapi()]
pub struct Doc;
