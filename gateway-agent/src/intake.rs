//! The local JSON/HTTP intake for devices without HJ 212: tower-crane black boxes, hoist monitors, meters and
//! cameras (vendors' protocols vary; a site adapter posts here). `POST /v1/devices/{device_id}/{record}` with a JSON
//! object of the record's members (the contract's payload without `project_id` and `device_id`, which the agent
//! adds from its configuration). One schema per device kind and record, [`SCHEMAS`], documented in
//! `docs/GATEWAY.md`. The answer is `201` once the signed record is durable in the queue; `4xx` name the field;
//! `507` when the queue is full (nothing stored: resend later); `503` when the queue fails.
//!
//! Operator references and texts are checked with the platform's own types ([`OperatorRef`], [`Text`]), so
//! the agent refuses what the platform would: above all anything shaped like a resident ID or bank card number
//! (the signed record is public and can never be erased). Errors never repeat the value sent.
//!
//! `GET /v1/status` gives the agent's counters (queue depth and bytes, rejected packets, clock skew).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};
use siteledger_domain::Text as DomainText;
use siteledger_domain::site::OperatorRef;
use time::format_description::well_known::Rfc3339;

use crate::agent::Shared;
use crate::config::DeviceKind;
use crate::queue::QueueError;
use crate::record::{Record, is_decimal, now_text};

/// The type of one member.
#[derive(Debug, Clone, Copy)]
pub enum Ty {
    /// A decimal string (a JSON number is accepted and kept as written).
    Dec,
    /// A JSON integer within the range.
    Int(i64, i64),
    /// RFC 3339 time with offset.
    Time,
    /// `YYYY-MM-DD`.
    Date,
    /// Text of 1–200 characters (the platform's `Text`: no control characters, no ID or card number).
    Text,
    /// A boolean.
    Bool,
    /// One of the listed strings.
    OneOf(&'static [&'static str]),
    /// An opaque reference: the platform's [`OperatorRef`], `[A-Za-z0-9_-]{1,64}`, never a name or an ID or card
    /// number.
    Ref,
}

/// The operator login of a crane or hoist driver (the same record on either device).
const OPERATOR_LOGIN: &[(&str, Ty, bool)] = &[
    ("operator_ref", Ty::Ref, true),
    ("method", Ty::OneOf(&["face", "fingerprint", "card"]), true),
    ("certificate_type", Ty::Ref, true),
    ("certificate_valid_until", Ty::Date, true),
];

/// One record a device kind may post.
#[derive(Debug)]
pub struct Schema {
    /// Device kind.
    pub device: DeviceKind,
    /// The path segment.
    pub record: &'static str,
    /// The contract kind.
    pub kind: &'static str,
    /// Members: name, type, required.
    pub fields: &'static [(&'static str, Ty, bool)],
}

use Ty::{Bool, Date, Dec, Int, OneOf, Ref, Text, Time};

/// Every device record the intake takes.
pub const SCHEMAS: &[Schema] = &[
    Schema {
        device: DeviceKind::Crane,
        record: "sample",
        kind: "crane.sample.v1",
        fields: &[
            ("sampled_at", Time, true),
            ("load_t", Dec, true),
            ("rated_load_t", Dec, false),
            ("moment_pct", Dec, true),
            ("height_m", Dec, true),
            ("radius_m", Dec, true),
            ("slew_deg", Dec, true),
            ("travel_m", Dec, false),
            ("wind_m_s", Dec, true),
            ("tilt_deg", Dec, true),
            ("operator_ref", Ref, false),
        ],
    },
    Schema {
        device: DeviceKind::Crane,
        record: "cycle",
        kind: "crane.cycle.v1",
        fields: &[
            ("started_at", Time, true),
            ("ended_at", Time, true),
            ("max_load_t", Dec, true),
            ("max_moment_pct", Dec, true),
            ("max_wind_m_s", Dec, true),
            ("radius_m", Dec, true),
            ("height_m", Dec, true),
            ("over_moment_count", Int(0, 1_000_000), true),
            ("operator_ref", Ref, false),
        ],
    },
    Schema {
        device: DeviceKind::Crane,
        record: "operator_login",
        kind: "crane.operator.login.v1",
        fields: OPERATOR_LOGIN,
    },
    Schema {
        // 施工升降机司机 log in on the hoist's own device id with the same record as crane drivers.
        device: DeviceKind::Hoist,
        record: "operator_login",
        kind: "crane.operator.login.v1",
        fields: OPERATOR_LOGIN,
    },
    Schema {
        device: DeviceKind::Crane,
        record: "operator_logout",
        kind: "crane.operator.logout.v1",
        fields: &[("operator_ref", Ref, true)],
    },
    Schema {
        device: DeviceKind::Crane,
        record: "alarm",
        kind: "crane.alarm.v1",
        fields: &[
            ("alarm_code", Int(0, 255), true),
            ("action", OneOf(&["raised", "cleared"]), true),
            ("value", Dec, false),
            ("message", Text, false),
        ],
    },
    Schema { device: DeviceKind::Crane, record: "cutoff", kind: "crane.cutoff.v1", fields: &[("reason", Text, true)] },
    Schema {
        device: DeviceKind::Hoist,
        record: "sample",
        kind: "hoist.sample.v1",
        fields: &[
            ("sampled_at", Time, true),
            ("load_kg", Dec, true),
            ("load_pct", Dec, true),
            ("people", Int(0, 100), true),
            ("cage", Int(0, 2), true),
            ("direction", Int(0, 2), true),
            ("height_m", Dec, true),
            ("floor", Int(-10, 300), false),
            ("speed_m_s", Dec, true),
            ("wind_m_s", Dec, true),
            ("tilt_deg", Dec, true),
            ("operator_ref", Ref, false),
        ],
    },
    Schema {
        device: DeviceKind::Hoist,
        record: "safety_gear_calibrated",
        kind: "hoist.safety_gear.calibrated.v1",
        fields: &[("calibrated_on", Date, true), ("valid_until", Date, true), ("certificate_no", Text, true)],
    },
    Schema {
        device: DeviceKind::Hoist,
        record: "drop_test",
        kind: "hoist.drop_test.performed.v1",
        fields: &[("performed_on", Date, true), ("passed", Bool, true)],
    },
    Schema {
        device: DeviceKind::Meter,
        record: "reading",
        kind: "meter.reading.v1",
        fields: &[
            ("meter", OneOf(&["electricity", "water"]), true),
            ("read_at", Time, true),
            ("total", Dec, true),
            ("residual_current_ma", Dec, false),
            ("temperature_c", Dec, false),
        ],
    },
    Schema {
        device: DeviceKind::Camera,
        record: "registered",
        kind: "video.camera.registered.v1",
        fields: &[("name", Text, true), ("position", Text, true)],
    },
    Schema {
        device: DeviceKind::Camera,
        record: "status",
        kind: "video.camera.status.v1",
        fields: &[("status", OneOf(&["online", "offline"]), true), ("last_keepalive_at", Time, false)],
    },
    Schema {
        device: DeviceKind::Camera,
        record: "alarm",
        kind: "video.camera.alarm.v1",
        fields: &[
            ("priority", Int(1, 4), true),
            ("method", Int(1, 7), true),
            ("alarm_type", Int(0, 99), true),
            ("description", Text, false),
            ("alarm_at", Time, true),
        ],
    },
];

/// Checks `body` against `schema`; the error names the member and says what is expected.
pub fn check(schema: &Schema, body: &Map<String, Value>) -> Result<Map<String, Value>, (String, String)> {
    let mut out = Map::new();
    for name in body.keys() {
        if !schema.fields.iter().any(|(f, _, _)| f == name) {
            let known: Vec<&str> = schema.fields.iter().map(|(f, _, _)| *f).collect();
            return Err((name.clone(), format!("is not a member of {}; members: {}", schema.kind, known.join(", "))));
        }
    }
    for (name, ty, required) in schema.fields {
        let v = match body.get(*name) {
            None | Some(Value::Null) if *required => return Err(((*name).into(), "is required".into())),
            None | Some(Value::Null) => continue,
            Some(v) => v,
        };
        // The value is not repeated: a wrong member may well hold personal data.
        let bad = |what: &str| Err(((*name).to_owned(), format!("must be {what}, got {}", json_type(v))));
        let value = match ty {
            Dec => match v {
                Value::String(s) if is_decimal(s) => v.clone(),
                Value::Number(n) if is_decimal(&n.to_string()) => Value::String(n.to_string()),
                _ => return bad("a decimal, e.g. \"12.5\""),
            },
            Int(lo, hi) => match v.as_i64() {
                Some(i) if (*lo..=*hi).contains(&i) => v.clone(),
                _ => return bad(&format!("an integer from {lo} to {hi}")),
            },
            Time => match v.as_str() {
                Some(s) if time::OffsetDateTime::parse(s, &Rfc3339).is_ok() => v.clone(),
                _ => return bad("an RFC 3339 time with offset, e.g. \"2026-11-24T10:15:00+08:00\""),
            },
            Date => match v.as_str() {
                Some(s)
                    if s.len() == 10
                        && time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).is_ok() =>
                {
                    v.clone()
                }
                _ => return bad("a date YYYY-MM-DD"),
            },
            Text => match v.as_str() {
                Some(s) if (1..=200).contains(&s.chars().count()) => match DomainText::parse(s) {
                    Ok(_) => v.clone(),
                    Err(e) => return Err(((*name).to_owned(), e.to_string())),
                },
                _ => return bad("text of 1–200 characters"),
            },
            Bool => match v {
                Value::Bool(_) => v.clone(),
                _ => return bad("true or false"),
            },
            OneOf(options) => match v.as_str() {
                Some(s) if options.contains(&s) => v.clone(),
                _ => return bad(&format!("one of {}", options.join(", "))),
            },
            Ref => match v.as_str().map(OperatorRef::parse) {
                Some(Ok(_)) => v.clone(),
                Some(Err(e)) => {
                    return Err((
                        (*name).to_owned(),
                        format!("must be an opaque reference [A-Za-z0-9_-]{{1,64}} (never a name or ID number): {e}"),
                    ));
                }
                None => return bad("an opaque reference [A-Za-z0-9_-]{1,64} (never a name or ID number)"),
            },
        };
        out.insert((*name).into(), value);
    }
    Ok(out)
}

/// The JSON type of a value, for messages that must not repeat it.
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string that does not fit",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn error(status: StatusCode, field: Option<&str>, message: String) -> Response {
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
        return error(
            StatusCode::NOT_FOUND,
            None,
            format!("device {device_id:?} is not in this gateway's device list"),
        );
    };
    let Some(schema) = SCHEMAS.iter().find(|s| s.device == device.kind && s.record == record) else {
        let options: Vec<&str> = SCHEMAS.iter().filter(|s| s.device == device.kind).map(|s| s.record).collect();
        return error(
            StatusCode::NOT_FOUND,
            None,
            format!(
                "a {} device has no record {record:?}; records: {}",
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
    let members = match check(schema, &body) {
        Ok(m) => m,
        Err((field, why)) => {
            return error(StatusCode::UNPROCESSABLE_ENTITY, Some(&field), format!("{}.{field} {why}", schema.kind));
        }
    };
    let mut payload = Map::new();
    payload.insert("project_id".into(), json!(shared.config.project_id));
    payload.insert("device_id".into(), json!(device.id));
    payload.extend(members);
    let rec = Record {
        stream: shared.config.device_stream(&device.id),
        kind: schema.kind.into(),
        occurred_at: now_text(),
        payload,
    };
    match shared.queue.submit(rec).await {
        Ok(seq) => {
            (StatusCode::CREATED, Json(json!({"status": "stored", "kind": schema.kind, "seq": seq}))).into_response()
        }
        Err(e @ QueueError::Full { .. }) => error(StatusCode::INSUFFICIENT_STORAGE, None, e.to_string()),
        Err(e) => {
            tracing::error!(error = %e, "intake record not stored");
            error(StatusCode::SERVICE_UNAVAILABLE, None, "the local queue is unavailable; resend later".into())
        }
    }
}

async fn status(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(shared.status())
}

/// The intake's router.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/devices/{device_id}/{record}", post(post_record))
        .route("/v1/status", get(status))
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
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
