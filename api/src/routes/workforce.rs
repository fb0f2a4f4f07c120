//! Open-API handlers of 实名制与工资 (workers, attendance, payroll, arrears). (Scaffold: the subsystem's issue fills it in.)

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
