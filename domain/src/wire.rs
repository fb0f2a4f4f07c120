//! The answer of `POST /v1/events`, one item per envelope sent: the one definition the server writes and the
//! gateway agent, the client library and the tests read. Field names and values are a contract (the OpenAPI
//! document snapshots them); add, never rename.

use serde::{Deserialize, Serialize};

/// What happened to one submitted envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// Newly appended to the log.
    Accepted,
    /// Already in the log with the same bytes (an idempotent resend): nothing to do.
    Duplicate,
    /// Refused: `code` and `message` say why; resending the same bytes will be refused again.
    Rejected,
}

impl ItemStatus {
    /// `accepted`, `duplicate` or `rejected`.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemStatus::Accepted => "accepted",
            ItemStatus::Duplicate => "duplicate",
            ItemStatus::Rejected => "rejected",
        }
    }
}

/// The answer for one item, in request order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ItemResult {
    /// Index in the request.
    pub index: usize,
    /// `accepted`, `duplicate` or `rejected`.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub status: ItemStatus,
    /// Log position (accepted and duplicate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
    /// Event id, when the envelope could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// Stable rejection code (rejected only), e.g. `bad_signature`, `chain_mismatch`, `malformed`, `schema` (the
    /// payload does not fit its kind), `rule` (a domain rule refuses the record; the message starts with the rule's
    /// name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// What is wrong and what to do (rejected only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl ItemResult {
    /// An accepted (or, with `duplicate`, an already present) item at `position`.
    pub fn stored(index: usize, event_id: String, position: u64, duplicate: bool) -> ItemResult {
        ItemResult {
            index,
            status: if duplicate { ItemStatus::Duplicate } else { ItemStatus::Accepted },
            position: Some(position),
            event_id: Some(event_id),
            code: None,
            message: None,
        }
    }

    /// A refused item.
    pub fn rejected(index: usize, event_id: Option<String>, code: &str, message: String) -> ItemResult {
        ItemResult {
            index,
            status: ItemStatus::Rejected,
            position: None,
            event_id,
            code: Some(code.to_owned()),
            message: Some(message),
        }
    }
}

/// The response: per-item results and totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IngestResponse {
    /// Newly appended.
    pub accepted: usize,
    /// Already in the log.
    pub duplicates: usize,
    /// Refused (the others are unaffected).
    pub rejected: usize,
    /// One entry per request item.
    pub results: Vec<ItemResult>,
}

impl IngestResponse {
    /// The response for `results`, with the totals counted from them.
    pub fn new(results: Vec<ItemResult>) -> IngestResponse {
        let count = |s: ItemStatus| results.iter().filter(|r| r.status == s).count();
        IngestResponse {
            accepted: count(ItemStatus::Accepted),
            duplicates: count(ItemStatus::Duplicate),
            rejected: count(ItemStatus::Rejected),
            results,
        }
    }

    /// The refused items.
    pub fn rejections(&self) -> impl Iterator<Item = &ItemResult> {
        self.results.iter().filter(|r| r.status == ItemStatus::Rejected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_form_is_the_documented_one() {
        let r = IngestResponse::new(vec![
            ItemResult::stored(0, "e0".into(), 7, false),
            ItemResult::rejected(1, None, "malformed", "field `kind` is missing".into()),
        ]);
        let v = serde_json::to_value(&r).expect("serialises");
        assert_eq!(
            v,
            serde_json::json!({"accepted": 1, "duplicates": 0, "rejected": 1, "results": [
                {"index": 0, "status": "accepted", "position": 7, "event_id": "e0"},
                {"index": 1, "status": "rejected", "code": "malformed", "message": "field `kind` is missing"}]})
        );
        let back: IngestResponse = serde_json::from_value(v).expect("reads back");
        assert_eq!(back, r);
    }
}
