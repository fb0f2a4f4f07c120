//! The bureau dashboard (being written).

use axum::Router;

use crate::state::AppState;

/// Dashboard routes.
pub fn routes() -> Router<AppState> {
    Router::new()
}
