//! Open-API handlers of 监管协同 (inspections, testing, 危大工程, BIM, coordination tasks). (Scaffold: the subsystem's issue fills it in.)

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
