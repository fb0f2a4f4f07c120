//! Dashboard pages of 星级评定、信用评价与年度监督 (ratings, credit, reports, replay). (Scaffold: the subsystem's issue fills it in.)

use axum::Router;

use crate::state::AppState;

/// The pages of this area (merged into the dashboard's routes).
pub fn routes() -> Router<AppState> {
    Router::new()
}
