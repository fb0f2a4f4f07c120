//! Dashboard pages of 监管协同 (inspections, testing, 危大工程, BIM, coordination tasks). (Scaffold: the subsystem's issue fills it in.)

use axum::Router;

use crate::state::AppState;

/// The pages of this area (merged into the dashboard's routes).
pub fn routes() -> Router<AppState> {
    Router::new()
}
