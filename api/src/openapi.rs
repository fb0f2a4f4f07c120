//! The OpenAPI 3.1 document at `/openapi.json`, generated from the handlers' annotations and snapshot-tested.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("slt_…").build()),
        );
    }
}

/// The whole API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "SiteLedger 智慧工地监管平台 API",
        description = "Open data interface of the Ningbo smart construction site platform (甬建发〔2020〕72号: 系统数据接口对企业免费开放，实现数据实时传输). Signed records in, scoped queries and a live feed out, and public transparency endpoints for offline verification (docs/FORMAT.md).",
        license(name = "Apache-2.0")
    ),
    paths(
        crate::routes::ingest::ingest,
        crate::routes::query::events,
        crate::routes::log::checkpoint,
        crate::routes::log::key,
        crate::routes::log::leaf,
        crate::routes::log::leaves,
        crate::routes::log::inclusion,
        crate::routes::log::consistency,
        crate::routes::log::evidence,
        crate::routes::feed::feed,
        crate::routes::query::whoami,
        crate::routes::query::districts,
        crate::routes::query::projects,
        crate::routes::query::project,
        crate::routes::query::project_events,
        crate::routes::query::alarms,
        crate::routes::query::keys,
        crate::routes::ops::healthz,
        crate::routes::ops::readyz,
        crate::routes::ops::metrics,
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "ingest", description = "Submit signed records"),
        (name = "transparency", description = "Public, unauthenticated: checkpoints, leaves, proofs, evidence"),
        (name = "feed", description = "Live records over Server-Sent Events"),
        (name = "query", description = "Scoped read models"),
        (name = "operations", description = "Health and metrics"),
    )
)]
#[derive(Debug)]
pub struct ApiDoc;

/// The whole document: the core API and each subsystem's part.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(crate::routes::workforce::Doc::openapi());
    doc.merge(crate::routes::site::Doc::openapi());
    doc.merge(crate::routes::supervision::Doc::openapi());
    doc.merge(crate::routes::rating::Doc::openapi());
    doc.merge(crate::routes::blobs::Doc::openapi());
    doc.merge(crate::people::Doc::openapi());
    doc
}

/// `GET /openapi.json`.
pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(document())
}
