//! Open-API handlers of 设备监测 (dust/noise, cranes, hoists, meters, cameras). (Scaffold: the subsystem's issue fills it in.)

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
