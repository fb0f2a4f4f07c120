//! Dashboard pages of 设备监测 (dust/noise, cranes, hoists, meters, cameras). (Scaffold: the subsystem's issue fills it in.)

use axum::Router;

use crate::state::AppState;

/// The pages of this area (merged into the dashboard's routes).
pub fn routes() -> Router<AppState> {
    Router::new()
}
