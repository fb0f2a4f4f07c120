//! Dashboard pages of 实名制与工资 (workers, attendance, payroll, arrears). (Scaffold: the subsystem's issue fills it in.)

use axum::Router;

use crate::state::AppState;

/// The pages of this area (merged into the dashboard's routes).
pub fn routes() -> Router<AppState> {
    Router::new()
}
