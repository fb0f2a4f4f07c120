//! The agent's local JSON/HTTP intake, every route behind the local bearer token ([`auth`]: 401 without it).
//!
//! * `POST /v1/devices/{device_id}/{record}` for devices without HJ 212: tower-crane black boxes, hoist monitors,
//!   meters and cameras (vendors' protocols vary; a site adapter posts here), with a JSON object of the record's
//!   members: the contract's payload without `project_id` and `device_id`, which the agent adds from its
//!   configuration. [`RECORDS`] says which records each device kind posts and which domain payload type each is
//!   read into ([`body::read`]): the type is the schema, with the platform's own checks, so the agent refuses what
//!   the platform would, above all anything shaped like a resident ID or bank card number (the signed record is
//!   public and can never be erased).
//! * `POST /v1/records` for any kind the key's role may sign ([`records`]); the files a record cites must be in
//!   the agent's local attachment store first (422 naming the member otherwise).
//! * `POST /v1/blobs`: a file records will cite, stored durably before the answer ([`blobs`]).
//! * `GET /v1/status`: the agent's counters (queue depth and bytes, rejected packets, clock skew).
//!
//! The answer to a record is `201` once the signed record is durable in the queue; `4xx` name the member and never
//! repeat the value sent; `507` when the queue is full (nothing stored: resend later); `503` when the queue fails.

pub mod auth;
pub mod blobs;
pub mod body;
pub mod records;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};
use siteledger_domain::site::{self, SiteEvent};

use self::body::{BodyError, Problem};
use self::records::RecordRefusal;
use crate::agent::Shared;
use crate::config::{AgentConfig, DeviceConfig, DeviceKind};
use crate::record::{Record, now_text};
use siteledger_client::outbox::OutboxError;

/// The largest body the intake reads.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// One record a device kind may post: the path segment and the domain payload type it is read into.
#[derive(Debug, Clone, Copy)]
pub struct IntakeRecord {
    /// The device kind that posts it.
    pub device: DeviceKind,
    /// The path segment, `/v1/devices/{device_id}/{record}`.
    pub record: &'static str,
    /// The kind it is recorded as.
    pub kind: &'static str,
    /// Reads the payload (the body with `project_id` and `device_id`) as the kind's type.
    read: fn(&Map<String, Value>) -> Result<SiteEvent, BodyError>,
}

/// A row of [`RECORDS`]: device kind, path segment, kind, and the [`SiteEvent`] variant whose payload type reads it.
macro_rules! record {
    ($device:ident, $record:literal, $kind:path, $variant:ident) => {
        IntakeRecord {
            device: DeviceKind::$device,
            record: $record,
            kind: $kind,
            read: |payload| body::read(payload).map(|p| SiteEvent::$variant(Box::new(p))),
        }
    };
}

/// Every device record the intake takes.
pub const RECORDS: &[IntakeRecord] = &[
    record!(Crane, "sample", site::CRANE_SAMPLE, CraneSample),
    record!(Crane, "cycle", site::CRANE_CYCLE, CraneCycle),
    record!(Crane, "operator_login", site::OPERATOR_LOGIN, OperatorLogin),
    record!(Crane, "operator_logout", site::OPERATOR_LOGOUT, OperatorLogout),
    record!(Crane, "alarm", site::CRANE_ALARM, CraneAlarm),
    record!(Crane, "cutoff", site::CRANE_CUTOFF, CraneCutoff),
    record!(Hoist, "sample", site::HOIST_SAMPLE, HoistSample),
    // 施工升降机司机 log in on the hoist's own device id with the same record as crane drivers.
    record!(Hoist, "operator_login", site::OPERATOR_LOGIN, OperatorLogin),
    record!(Hoist, "safety_gear_calibrated", site::SAFETY_GEAR_CALIBRATED, SafetyGearCalibrated),
    record!(Hoist, "drop_test", site::DROP_TEST_PERFORMED, DropTestPerformed),
    record!(Meter, "reading", site::METER_READING, MeterReading),
    record!(Camera, "registered", site::CAMERA_REGISTERED, CameraRegistered),
    record!(Camera, "status", site::CAMERA_STATUS, CameraStatus),
    record!(Camera, "alarm", site::CAMERA_ALARM, CameraAlarm),
];

/// Members the agent fills from its configuration; a body must not carry them.
const FROM_CONFIGURATION: [&str; 2] = ["project_id", "device_id"];

/// Why an intake body is not a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntakeError {
    /// A member is missing, unknown or does not fit (422). `field` is `None` when the sender's member name is not
    /// repeated; the message never holds the value sent.
    #[error("{message}")]
    Member {
        /// The member's path, e.g. `load_t`.
        field: Option<String>,
        /// What is wrong, e.g. `crane.sample.v1.load_t is required`.
        message: String,
    },
    /// The configured project or device id does not fit the contract (500; `AgentConfig::check` refuses such a
    /// configuration at start).
    #[error("the gateway's configuration does not fit the record contract: {0}")]
    Configuration(String),
}

/// The record `body` makes for `device` as `row` (a [`RECORDS`] row of the device's kind), received now.
pub fn read(
    config: &AgentConfig,
    device: &DeviceConfig,
    row: &IntakeRecord,
    body: Map<String, Value>,
) -> Result<Record, IntakeError> {
    let kind = row.kind;
    if let Some(name) = FROM_CONFIGURATION.iter().find(|m| body.contains_key(**m)) {
        return Err(IntakeError::Member {
            field: Some((*name).to_owned()),
            message: format!("{kind}.{name} is set by the gateway from its configuration: leave it out"),
        });
    }
    let mut payload = body;
    payload.insert("project_id".into(), Value::String(config.project_id.clone()));
    payload.insert("device_id".into(), Value::String(device.id.clone()));
    let event = (row.read)(&payload).map_err(|e| match e.path() {
        Some(p) if FROM_CONFIGURATION.contains(&p) => IntakeError::Configuration(e.to_string()),
        path => {
            let at = match path {
                Some("") => kind.to_owned(),
                Some(p) => format!("{kind}.{p}"),
                None => format!("{kind}: a member whose name is not repeated"),
            };
            let what = match e.problem() {
                Problem::Missing => "is required".to_owned(),
                Problem::Unknown { members } => {
                    let members: Vec<&str> =
                        members.iter().copied().filter(|m| !FROM_CONFIGURATION.contains(m)).collect();
                    format!("is not a member of {kind}; members: {}", members.join(", "))
                }
                Problem::Invalid(what) => what.clone(),
            };
            IntakeError::Member {
                field: path.filter(|p| !p.is_empty()).map(str::to_owned),
                message: format!("{at} {what}"),
            }
        }
    })?;
    Ok(Record::new(&event, now_text()))
}

pub(crate) fn error(status: StatusCode, field: Option<&str>, message: String) -> Response {
    let mut body = json!({ "error": message });
    if let Some(f) = field {
        body["field"] = json!(f);
    }
    (status, Json(body)).into_response()
}

async fn post_record(
    State(shared): State<Arc<Shared>>,
    Path((device_id, record)): Path<(String, String)>,
    body: Result<Json<Value>, JsonRejection>,
) -> Response {
    let Some(device) = shared.config.devices.iter().find(|d| d.id == device_id) else {
        let named = body::shown(&device_id).map_or_else(|| "named in the path".to_owned(), |d| format!("{d:?}"));
        return error(StatusCode::NOT_FOUND, None, format!("device {named} is not in this gateway's device list"));
    };
    let Some(row) = RECORDS.iter().find(|r| r.device == device.kind && r.record == record) else {
        let options: Vec<&str> = RECORDS.iter().filter(|r| r.device == device.kind).map(|r| r.record).collect();
        let named = body::shown(&record).map_or_else(|| "named in the path".to_owned(), |r| format!("{r:?}"));
        return error(
            StatusCode::NOT_FOUND,
            None,
            format!(
                "a {} device has no record {named}; records: {}",
                device.kind.as_str(),
                if options.is_empty() { "none (it speaks HJ 212 over TCP)".into() } else { options.join(", ") }
            ),
        );
    };
    let body = match body {
        Ok(Json(Value::Object(m))) => m,
        Ok(_) => return error(StatusCode::BAD_REQUEST, None, "the body must be a JSON object".into()),
        Err(e) => return error(StatusCode::BAD_REQUEST, None, format!("the body is not JSON: {}", e.body_text())),
    };
    let rec = match read(&shared.config, device, row, body) {
        Ok(rec) => rec,
        Err(IntakeError::Member { field, message }) => {
            return error(StatusCode::UNPROCESSABLE_ENTITY, field.as_deref(), message);
        }
        Err(e @ IntakeError::Configuration(_)) => {
            tracing::error!(error = %e, device = %device.id, "intake record not built");
            return error(StatusCode::INTERNAL_SERVER_ERROR, None, e.to_string());
        }
    };
    let kind = rec.kind.clone();
    match shared.queue.submit(rec).await {
        Ok(seq) => (StatusCode::CREATED, Json(json!({"status": "stored", "kind": kind, "seq": seq}))).into_response(),
        Err(e @ OutboxError::Full { .. }) => error(StatusCode::INSUFFICIENT_STORAGE, None, e.to_string()),
        Err(e) => {
            tracing::error!(error = %e, "intake record not stored");
            error(StatusCode::SERVICE_UNAVAILABLE, None, "the local queue is unavailable; resend later".into())
        }
    }
}

async fn post_any_record(State(shared): State<Arc<Shared>>, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                None,
                format!(
                    "请求体超过 {MAX_BODY_BYTES} 字节 / the body exceeds {MAX_BODY_BYTES} bytes (one record per \
                     request; a signed envelope holds at most 65536 bytes: cite large files by their SHA-256)"
                ),
            );
        }
        Err(e) => {
            return error(StatusCode::BAD_REQUEST, None, format!("the body could not be read: {}", e.body_text()));
        }
    };
    let rec = match records::read(&shared.signer, &body, time::OffsetDateTime::now_utc()) {
        Ok(rec) => rec,
        Err(RecordRefusal::NotAnObject(m)) => return error(StatusCode::BAD_REQUEST, None, m),
        Err(RecordRefusal::Member { field, message }) => {
            return error(StatusCode::UNPROCESSABLE_ENTITY, field.as_deref(), message);
        }
        Err(RecordRefusal::NotPermitted { rule, message }) => {
            let mut resp = error(StatusCode::FORBIDDEN, None, format!("{rule} rule: {message}"));
            if let Ok(v) = HeaderValue::from_str(&rule) {
                resp.headers_mut().insert("x-siteledger-rule", v);
            }
            return resp;
        }
    };
    // The files the record cites must be here, so the uploader sends them before it (docs/ATTACHMENTS.md).
    let cites = match rec.check() {
        Ok(cites) => cites,
        Err(e) => return error(StatusCode::UNPROCESSABLE_ENTITY, None, records::guarded(e.to_string(), "the record")),
    };
    if let Some(sha) = cites.iter().find(|h| !shared.blobs.contains(h)) {
        let field = records::citing_member(&rec.payload, sha);
        let at = field.clone().unwrap_or_else(|| "payload".to_owned());
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            field.as_deref(),
            format!(
                "{at} 引用的附件不在本代理 / {at} cites the file {sha}, which this agent does not hold: POST the file \
                 to /v1/blobs of this agent first (it sends the file to the platform before the record)"
            ),
        );
    }
    let (kind, stream) = (rec.kind.clone(), rec.stream.clone());
    match shared.queue.store(rec).await {
        Ok(stored) => (
            StatusCode::CREATED,
            Json(json!({"status": "stored", "kind": kind, "stream": stream, "signer": shared.signer.key_id,
                        "seq": stored.seq, "event_id": stored.event_id})),
        )
            .into_response(),
        Err(e @ OutboxError::Full { .. }) => error(StatusCode::INSUFFICIENT_STORAGE, None, e.to_string()),
        Err(OutboxError::Sign(why)) => error(
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            records::guarded(format!("the record cannot be signed as an envelope: {why}"), "the record"),
        ),
        Err(e) => {
            tracing::error!(error = %e, "intake record not stored");
            error(StatusCode::SERVICE_UNAVAILABLE, None, "the local queue is unavailable; resend later".into())
        }
    }
}

async fn status(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(shared.status())
}

/// The intake's router: every route behind [`auth::require_token`].
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/devices/{device_id}/{record}", post(post_record))
        .route("/v1/records", post(post_any_record))
        .route("/v1/blobs", post(blobs::post_blob).layer(blobs::limit(&shared)))
        .route("/v1/status", get(status))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        // Outermost: no route, not even a 404, answers without the token.
        .layer(axum::middleware::from_fn_with_state(shared.clone(), auth::require_token))
        .with_state(shared)
}

/// Serves the intake until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let addr: Option<SocketAddr> = listener.local_addr().ok();
    let app = router(shared);
    let stop = async move {
        let _ = shutdown.wait_for(|s| *s).await;
    };
    if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(stop).await {
        tracing::error!(?addr, error = %e, "intake server error");
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::config::ParticulateUnit;

    /// Every row's kind (named in its 422 messages) is the kind its payload type records, and every row is
    /// covered by the intake golden file (`tests/fixtures/records/intake.golden.json`).
    #[test]
    fn every_row_records_the_kind_it_names() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/records/intake.golden.json");
        let golden: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("golden file")).expect("json");
        let config = AgentConfig::new("http://127.0.0.1:9", "NB-2025-0001", "GW-01", "/k".as_ref(), "/q".as_ref());
        let mut seen = BTreeSet::new();
        for e in golden.as_array().expect("array") {
            let id = e["device_id"].as_str().expect("device_id");
            let kind = match id {
                "TC-01" => DeviceKind::Crane,
                "SC-01" => DeviceKind::Hoist,
                "DB-01" => DeviceKind::Meter,
                _ => DeviceKind::Camera,
            };
            let device = DeviceConfig {
                id: id.into(),
                kind,
                mn: None,
                particulate_unit: ParticulateUnit::Microgram,
                thresholds: Default::default(),
            };
            let row = RECORDS.iter().find(|r| r.device == kind && r.record == e["record"]).expect("a row");
            let body = e["body"].as_object().expect("object").clone();
            let rec = read(&config, &device, row, body).expect("the golden body reads");
            assert_eq!(rec.kind, row.kind, "{id}/{}", row.record);
            seen.insert((row.device.as_str(), row.record));
        }
        assert_eq!(seen.len(), RECORDS.len(), "rows without a golden body");
    }
}
