//! `POST /v1/records`: any record the agent's key may sign, for the systems a producer already runs (a contractor's
//! real-name system and gates, a bank's wage-account system, a laboratory's LIMS). The body is
//! `{"kind": "...", "stream": "...", "payload": {...}, "occurred_at": "..."?}`; `occurred_at` defaults to the time
//! the agent received it (FORMAT.md §4, Asia/Shanghai, milliseconds).
//!
//! What the agent checks before signing, in this order, with the domain's own rules (so it signs nothing the
//! platform would refuse for these reasons, and never signs in the name of a role its key does not hold):
//! 1. the body is a JSON object with exactly these members (400, 422);
//! 2. the kind is one the key's role may sign (`domain::authority::may_sign_kind`: 403 naming the kind, the role and
//!    the roles that may);
//! 3. the payload and stream fit the kind (`domain::validate_envelope`: 422 naming the member);
//! 4. a gateway or device key signs only for its own project (`domain::authority::may_sign`: 403).
//!
//! Messages never repeat a value shaped like an ID or bank card number ([`guarded`]). Rules that need the ledger's
//! state (is the worker registered, was this lab commissioned) are the platform's: a record it refuses is parked in
//! the queue with the platform's code and message (docs/GATEWAY.md, "Upload").

use serde_json::{Map, Value};
use siteledger_domain::authority::{self, Role};
use siteledger_domain::personal::looks_like_personal_number;
use siteledger_domain::{PayloadError, RecordContext, validate_envelope};
use time::OffsetDateTime;

use super::body::shown;
use crate::agent::Signer;
use crate::record::{Record, now_text};

/// The members of a `POST /v1/records` body.
pub const MEMBERS: [&str; 4] = ["kind", "stream", "payload", "occurred_at"];

/// How far ahead of the agent's clock an `occurred_at` may be (the platform refuses records from the future).
const MAX_AHEAD: time::Duration = time::Duration::minutes(5);

/// Why a body is not a record the agent signs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordRefusal {
    /// Not a JSON object (400).
    #[error("{0}")]
    NotAnObject(String),
    /// A member is missing or does not fit (422); `field` is `None` when the sender's member name is not repeated.
    #[error("{message}")]
    Member {
        /// The member's path: `kind`, `stream`, `occurred_at`, `payload.lines[0].days`.
        field: Option<String>,
        /// What is wrong; never a value shaped like an ID or card number.
        message: String,
    },
    /// The key may not sign this (403): the domain's rule and its message.
    #[error("{rule} rule: {message}")]
    NotPermitted {
        /// The rule, e.g. `authority.signer_role`.
        rule: String,
        /// Which kind, which role, which roles may.
        message: String,
    },
}

/// `message`, or a version without the value when it holds something shaped like an ID or card number.
pub fn guarded(message: String, what: &str) -> String {
    if looks_like_personal_number(&message) {
        format!(
            "{what} does not fit (the reason is not repeated: it would show a value shaped like an ID or card number)"
        )
    } else {
        message
    }
}

/// A member path as the sender may see it again: each name plain and not shaped like a personal number.
fn shown_path(path: &str) -> Option<&str> {
    let plain = path
        .split(['.', '[', ']'])
        .filter(|s| !s.is_empty())
        .all(|s| shown(s).is_some() || s.bytes().all(|b| b.is_ascii_digit()) && s.len() < 6);
    (plain && !path.is_empty()).then_some(path)
}

fn member(field: &str, message: impl Into<String>) -> RecordRefusal {
    RecordRefusal::Member { field: Some(field.to_owned()), message: message.into() }
}

fn text<'a>(body: &'a Map<String, Value>, name: &str, example: &str) -> Result<&'a str, RecordRefusal> {
    match body.get(name) {
        Some(Value::String(s)) => Ok(s),
        None | Some(Value::Null) => Err(member(name, format!("`{name}` is required, e.g. {example}"))),
        Some(_) => Err(member(name, format!("`{name}` must be a string, e.g. {example}"))),
    }
}

/// The payload error as a 422 on `payload.<member>` (or `kind`, `stream`).
fn payload_refusal(e: PayloadError) -> RecordRefusal {
    let at = |field: &str| format!("payload.{field}");
    let (field, message) = match &e {
        PayloadError::UnknownKind { .. } => (Some("kind".to_owned()), e.to_string()),
        PayloadError::WrongStream { .. } => (Some("stream".to_owned()), e.to_string()),
        PayloadError::MissingField { field, .. }
        | PayloadError::UnknownField { field, .. }
        | PayloadError::InvalidField { field, .. } => match shown_path(field) {
            Some(f) => (Some(at(f)), e.to_string()),
            None => (None, format!("{}: a payload member whose name is not repeated does not fit", kind_of(&e))),
        },
        PayloadError::Invalid { .. } => (Some("payload".to_owned()), e.to_string()),
    };
    RecordRefusal::Member { field, message: guarded(message, "the payload") }
}

fn kind_of(e: &PayloadError) -> &'static str {
    match e {
        PayloadError::MissingField { kind, .. }
        | PayloadError::UnknownField { kind, .. }
        | PayloadError::InvalidField { kind, .. }
        | PayloadError::Invalid { kind, .. }
        | PayloadError::WrongStream { kind, .. } => kind,
        PayloadError::UnknownKind { .. } => "the record",
    }
}

/// The record `body` asks `signer`'s key to sign, received at `now`, or why not.
pub fn read(signer: &Signer, body: &[u8], now: OffsetDateTime) -> Result<Record, RecordRefusal> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        RecordRefusal::NotAnObject(format!(
            "请求体不是 JSON / the body is not JSON: {e} (send Content-Type: application/json)"
        ))
    })?;
    let Value::Object(body) = value else {
        return Err(RecordRefusal::NotAnObject(
            "请求体须为 JSON 对象 / the body must be a JSON object {\"kind\", \"stream\", \"payload\", \"occurred_at\"?}"
                .into(),
        ));
    };
    if let Some(name) = body.keys().find(|k| !MEMBERS.contains(&k.as_str())) {
        let members = MEMBERS.join(", ");
        return Err(match shown(name) {
            Some(n) => member(n, format!("`{n}` is not a member of a record; members: {members}")),
            None => RecordRefusal::Member {
                field: None,
                message: format!("a member whose name is not repeated is not a member of a record; members: {members}"),
            },
        });
    }
    let kind = text(&body, "kind", "\"testing.report.issued.v1\"")?;
    let stream = text(&body, "stream", "\"project/NB-2026-0001/testing\"")?;
    let payload = match body.get("payload") {
        Some(Value::Object(p)) => p,
        None | Some(Value::Null) => return Err(member("payload", "`payload` is required: the record's members")),
        Some(_) => return Err(member("payload", "`payload` must be a JSON object: the record's members")),
    };
    let occurred_at = match body.get("occurred_at") {
        None | Some(Value::Null) => now_text(),
        Some(Value::String(t)) => {
            let at = siteledger_signer::envelope::parse_time(t)
                .map_err(|e| member("occurred_at", guarded(format!("occurred_at: {e}"), "occurred_at")))?;
            if at > now + MAX_AHEAD {
                return Err(member(
                    "occurred_at",
                    "occurred_at is more than 5 minutes ahead of the agent's clock: the platform refuses records from \
                     the future (check the sending system's clock and time zone)",
                ));
            }
            t.clone()
        }
        Some(_) => {
            return Err(member("occurred_at", "`occurred_at` must be a string, e.g. \"2026-03-10T10:00:00+08:00\""));
        }
    };
    if authority::kind_signers(kind).is_none() {
        let named = shown(kind).map_or_else(|| "named".to_owned(), |k| format!("{k:?}"));
        return Err(member(
            "kind",
            format!(
                "kind {named} is not a record kind of the domain (docs/KINDS.md lists them; the ledger's own ledger.* kinds are not posted here)"
            ),
        ));
    }
    authority::may_sign_kind(signer.role.as_str(), kind)
        .map_err(|e| RecordRefusal::NotPermitted { rule: e.rule, message: e.message })?;
    let event = validate_envelope(kind, stream, payload).map_err(payload_refusal)?;
    let ctx = RecordContext {
        event_id: "",
        stream,
        occurred_at: &occurred_at,
        signer_key_id: &signer.key_id,
        signer_role: signer.role.as_str(),
        signer_subject: &signer.subject,
    };
    authority::may_sign(&ctx, &event)
        .map_err(|e| RecordRefusal::NotPermitted { rule: e.rule, message: guarded(e.message, "the stream") })?;
    // Parsed once: the stream was checked with the payload above, the record is built from the typed event.
    Record::from_event(&event, stream, occurred_at)
        .map_err(|e| RecordRefusal::Member { field: Some(e.member()), message: guarded(e.to_string(), "the record") })
}

/// Where in `payload` the digest `sha256` is cited, as `payload.report_sha256` or `payload.photo_hashes[1]`
/// (`None` when the path holds a name that is not repeated).
pub fn citing_member(payload: &Map<String, Value>, sha256: &str) -> Option<String> {
    let path = format!("payload.{}", siteledger_client::record::cited_at(payload, sha256)?);
    shown_path(&path).map(str::to_owned)
}

/// The kinds a key of `role` may post (for messages and docs).
pub fn kinds_for(role: Role) -> Vec<&'static str> {
    authority::KIND_SIGNERS.iter().filter(|k| k.roles.contains(&role)).map(|k| k.kind).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn lab() -> Signer {
        Signer { key_id: "k".into(), role: Role::TestingLab, subject: "91330200MA2LAB001H".into() }
    }

    fn now() -> OffsetDateTime {
        siteledger_domain::time::parse_rfc3339("2026-03-10T12:00:00+08:00").expect("time")
    }

    fn body(v: Value) -> Vec<u8> {
        serde_json::to_vec(&v).expect("json")
    }

    /// A member holding an ID number where the type wants something else: the 422 names the member and does not
    /// repeat the number (the validator's own message would, via the occurred_at grammar's echo).
    #[test]
    fn an_id_number_in_occurred_at_is_not_repeated() {
        let id = "330203199001011234";
        let b = body(json!({"kind": "testing.report.issued.v1", "stream": "project/NB-2026-0001/testing",
                             "payload": {}, "occurred_at": id}));
        match read(&lab(), &b, now()) {
            Err(RecordRefusal::Member { field, message }) => {
                assert_eq!(field.as_deref(), Some("occurred_at"));
                assert!(!message.contains("3302031990"), "{message}");
            }
            other => panic!("expected a 422, got {other:?}"),
        }
    }

    #[test]
    fn the_member_citing_a_file_is_named() {
        let sha = "ab".repeat(32);
        let p = json!({"project_id": "NB-2026-0001", "photo_hashes": ["cd".repeat(32), sha.clone()]});
        let p = p.as_object().expect("object");
        assert_eq!(citing_member(p, &sha).as_deref(), Some("payload.photo_hashes[1]"));
        assert_eq!(citing_member(p, &"ef".repeat(32)), None);
    }

    #[test]
    fn a_member_named_like_a_card_number_is_not_repeated() {
        let b = body(json!({"kind": "x", "stream": "y", "payload": {}, "6222021234567890123": 1}));
        match read(&lab(), &b, now()) {
            Err(RecordRefusal::Member { field: None, message }) => assert!(!message.contains("6222"), "{message}"),
            other => panic!("expected a 422 without the name, got {other:?}"),
        }
    }
}
