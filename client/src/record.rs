//! A record before signing: kind, stream, `occurred_at` and payload. Built from the domain's payload types
//! ([`Record::from_event`], [`Record::site`], [`Record::workforce`]) or from parts a caller read elsewhere
//! ([`Record::parts`], e.g. a JSON Lines import), and checked with [`siteledger_domain::validate_envelope`] before
//! it is signed ([`Record::validate`]), so a producer learns of a bad payload locally, with the member named,
//! instead of from a refusal after the record is already in its chain.
//!
//! Messages never repeat a value shaped like an ID or bank card number ([`redact`]): the domain's own errors do
//! not, and a member *name* or a stream holding one is masked here.

use serde_json::{Map, Value};
use siteledger_domain::site::SiteEvent;
use siteledger_domain::time::shanghai_rfc3339_millis;
use siteledger_domain::workforce::WorkforceEvent;
use siteledger_domain::{DomainEvent, PayloadError, validate_envelope};
use time::OffsetDateTime;

/// A record before signing: where, what, when, and the payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The stream, e.g. `project/<id>/site/<device>`.
    pub stream: String,
    /// The kind, e.g. `env.hj212.data.v1`.
    pub kind: String,
    /// RFC 3339 time of the fact (the envelope's `occurred_at`).
    pub occurred_at: String,
    /// The payload (the kind's members).
    pub payload: Map<String, Value>,
    /// Built by [`Record::site`] or [`Record::workforce`]: kind, stream and payload come from a domain type, so
    /// they fit by construction and the outbox does not parse them again (the site agent signs tens of thousands
    /// of readings a second). A caller that changes such a record's fields afterwards gets them checked by the
    /// platform only.
    typed: bool,
    /// For a typed record: the digests of the files its payload cites (`DomainEvent::cited_hashes`).
    cites: Vec<String>,
}

/// Why a record cannot be signed. The message names the member and never repeats a personal number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The payload does not fit its kind, or the stream does not fit the kind.
    #[error("{}", redact(&.0.to_string()))]
    Payload(PayloadError),
    /// `occurred_at` is not a date-time of docs/FORMAT.md §4.
    #[error("occurred_at: {0}")]
    OccurredAt(String),
}

impl RecordError {
    /// The payload member concerned (`lines[3].person_ref`), or `stream`, `kind`, `occurred_at`; masked when the
    /// member's name itself looks like a personal number.
    pub fn member(&self) -> String {
        let m = match self {
            RecordError::Payload(PayloadError::MissingField { field, .. })
            | RecordError::Payload(PayloadError::UnknownField { field, .. })
            | RecordError::Payload(PayloadError::InvalidField { field, .. }) => field.as_str(),
            RecordError::Payload(PayloadError::WrongStream { .. }) => "stream",
            RecordError::Payload(PayloadError::UnknownKind { .. }) => "kind",
            RecordError::Payload(PayloadError::Invalid { .. }) => "payload",
            RecordError::OccurredAt(_) => "occurred_at",
        };
        redact(m)
    }
}

impl Record {
    /// The record of a typed site payload: its kind and conventional stream from the domain
    /// (`project/<id>/site/<device>`; a gateway's own records `…/site/gateway-<id>`), its payload serialised from
    /// the type.
    pub fn new(event: &SiteEvent, occurred_at: String) -> Record {
        Record::site(event, occurred_at)
    }

    /// Same as [`Record::new`].
    pub fn site(event: &SiteEvent, occurred_at: impl Into<String>) -> Record {
        Record {
            stream: event.stream(),
            kind: event.kind().to_owned(),
            occurred_at: occurred_at.into(),
            payload: event.to_payload(),
            typed: true,
            cites: Vec::new(),
        }
    }

    /// The record of a workforce payload (实名制, 工资专用账户) in its kind's conventional stream.
    pub fn workforce(event: &WorkforceEvent, occurred_at: impl Into<String>) -> Record {
        Record {
            stream: event.stream(),
            kind: event.kind().to_owned(),
            occurred_at: occurred_at.into(),
            payload: event.to_payload(),
            typed: true,
            cites: Vec::new(),
        }
    }

    /// The record of any typed domain event (a payload the caller already parsed with the domain's types), in
    /// `stream`, which is checked against the kind's convention ([`siteledger_domain::check_stream`]). The payload
    /// is not parsed again: the agent's `POST /v1/records` reads each body once.
    pub fn from_event(
        event: &DomainEvent,
        stream: impl Into<String>,
        occurred_at: impl Into<String>,
    ) -> Result<Record, RecordError> {
        let stream = stream.into();
        siteledger_domain::check_stream(event, &stream).map_err(RecordError::Payload)?;
        Ok(Record {
            stream,
            kind: event.kind().to_owned(),
            occurred_at: occurred_at.into(),
            payload: event.to_payload(),
            typed: true,
            cites: event.cited_hashes().into_iter().map(|h| h.as_str().to_owned()).collect(),
        })
    }

    /// [`Record::validate`] once, for a record built from parts: the record comes back marked as checked (the
    /// outbox does not parse its payload again) and knowing the files it cites ([`Record::cites`]).
    pub fn checked(mut self) -> Result<Record, RecordError> {
        if !self.typed {
            self.cites = self.validate()?;
            self.typed = true;
        }
        Ok(self)
    }

    /// The digests of the files a checked record cites ([`Record::checked`], [`Record::from_event`]); empty for a
    /// record not checked yet.
    pub fn cites(&self) -> &[String] {
        &self.cites
    }

    /// A record from parts read elsewhere (a JSON Lines import); [`Record::validate`] says whether they fit.
    pub fn parts(
        kind: impl Into<String>,
        stream: impl Into<String>,
        occurred_at: impl Into<String>,
        payload: Map<String, Value>,
    ) -> Record {
        Record {
            stream: stream.into(),
            kind: kind.into(),
            occurred_at: occurred_at.into(),
            payload,
            typed: false,
            cites: Vec::new(),
        }
    }

    /// [`Record::validate`], except for a record built from a domain type ([`Record::site`], [`Record::workforce`],
    /// [`Record::from_event`]), which fits by construction; the time is checked either way. What the outbox calls
    /// before signing. Returns the digests of the files the record cites (sorted, each once; usually none).
    pub fn check(&self) -> Result<Vec<String>, RecordError> {
        if self.typed {
            siteledger_signer::envelope::parse_time(&self.occurred_at)
                .map_err(|e| RecordError::OccurredAt(redact(&e)))?;
            Ok(self.cites.clone())
        } else {
            self.validate()
        }
    }

    /// Checks the record as the platform will: the payload against its kind's type, the stream against the kind's
    /// convention ([`validate_envelope`]) and the time's grammar. The ledger's own `ledger.*` kinds (key
    /// enrolments, revocations) are not domain payloads: the ledger checks them, so they pass here. Returns the
    /// digests of the files the record cites (`DomainEvent::cited_hashes`: sorted, each once; usually none).
    pub fn validate(&self) -> Result<Vec<String>, RecordError> {
        siteledger_signer::envelope::parse_time(&self.occurred_at).map_err(|e| RecordError::OccurredAt(redact(&e)))?;
        match validate_envelope(&self.kind, &self.stream, &self.payload) {
            Ok(event) => Ok(event.cited_hashes().into_iter().map(|h| h.as_str().to_owned()).collect()),
            Err(PayloadError::UnknownKind { .. }) if self.kind.starts_with("ledger.") => Ok(Vec::new()),
            Err(e) => Err(RecordError::Payload(e)),
        }
    }
}

/// Where in `payload` the digest `sha256` is cited, as `report_sha256` or `photo_hashes[1]`; `None` when it is
/// not. Member names are as sent: redact them before showing them.
pub fn cited_at(payload: &Map<String, Value>, sha256: &str) -> Option<String> {
    fn find(v: &Value, sha256: &str, path: &mut String) -> bool {
        let descend = |step: String, item: &Value, path: &mut String| {
            let len = path.len();
            path.push_str(&step);
            let hit = find(item, sha256, path);
            if !hit {
                path.truncate(len);
            }
            hit
        };
        match v {
            Value::String(s) => s == sha256,
            Value::Array(items) => items.iter().enumerate().any(|(i, item)| descend(format!("[{i}]"), item, path)),
            Value::Object(m) => m.iter().any(|(k, item)| descend(format!(".{k}"), item, path)),
            _ => false,
        }
    }
    let mut path = String::new();
    let hit = payload.iter().any(|(k, v)| {
        path.clear();
        path.push_str(k);
        find(v, sha256, &mut path)
    });
    hit.then_some(path)
}

/// `YYYY-MM-DDThh:mm:ss.mmm+08:00` for now: the receive time of what a producer records.
pub fn now_text() -> String {
    shanghai_rfc3339_millis(OffsetDateTime::now_utc())
}

/// `text` with every run of 15 or more digits (optionally split by single spaces or dashes, as ID and card numbers
/// are written) replaced by `[number withheld]`; if anything shaped like a personal number is still left (full-width
/// digits), the whole text is withheld. For messages that may quote what a caller sent.
pub fn redact(text: &str) -> String {
    const WITHHELD: &str = "[number withheld]";
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        // The run: digits, single separators between digits, and a trailing check character X.
        let mut j = i;
        let mut digits = 0;
        while j < chars.len() {
            let c = chars[j];
            if c.is_ascii_digit() {
                digits += 1;
                j += 1;
            } else if (c == ' ' || c == '-') && chars.get(j + 1).is_some_and(char::is_ascii_digit) {
                j += 1;
            } else if (c == 'X' || c == 'x') && digits >= 14 {
                j += 1;
                break;
            } else {
                break;
            }
        }
        if digits >= 15 {
            out.push_str(WITHHELD);
        } else {
            out.extend(&chars[i..j]);
        }
        i = j;
    }
    if siteledger_domain::personal::looks_like_personal_number(&out) {
        return WITHHELD.to_owned();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn a_bad_payload_is_refused_locally_naming_the_member() {
        let r = Record::parts(
            "env.dust_noise.reading.v1",
            "project/NB-2026-0001/env/DUST-01",
            "2026-11-24T10:00:00+08:00",
            obj(json!({"project_id": "NB-2026-0001", "device_id": "DUST-01", "pm10_ug_m3": "heavy",
                "pm25_ug_m3": "40.1", "noise_db_a": "55.0"})),
        );
        let e = r.validate().expect_err("not a decimal");
        assert_eq!(e.member(), "pm10_ug_m3", "{e}");
        let mut ok = r.clone();
        ok.payload.insert("pm10_ug_m3".into(), json!("80.5"));
        ok.validate().expect("valid");
        let mut elsewhere = ok.clone();
        elsewhere.stream = "project/NB-2026-0002/env/DUST-01".into();
        assert_eq!(elsewhere.validate().expect_err("wrong project").member(), "stream");
        let mut late = ok;
        late.occurred_at = "yesterday".into();
        assert_eq!(late.validate().expect_err("bad time").member(), "occurred_at");
    }

    #[test]
    fn the_member_citing_a_file_is_found() {
        let sha = "ab".repeat(32);
        let p = obj(json!({"project_id": "NB-2026-0001", "photo_hashes": ["cd".repeat(32), sha.clone()],
            "nested": {"list": [{"f": "ef".repeat(32)}]}}));
        assert_eq!(cited_at(&p, &sha).as_deref(), Some("photo_hashes[1]"));
        assert_eq!(cited_at(&p, &"ef".repeat(32)).as_deref(), Some("nested.list[0].f"));
        assert_eq!(cited_at(&p, &"01".repeat(32)), None);
    }

    #[test]
    fn an_id_number_as_a_member_name_or_in_a_stream_is_never_repeated() {
        let id = "330203199001011234";
        let r = Record::parts(
            "env.dust_noise.reading.v1",
            format!("project/NB-2026-0001/env/{id}"),
            "2026-11-24T10:00:00+08:00",
            obj(json!({"project_id": "NB-2026-0001", "device_id": "DUST-01", "pm10_ug_m3": "1",
                "pm25_ug_m3": "1", "noise_db_a": "1", id: "x"})),
        );
        let e = r.validate().expect_err("unknown member");
        assert!(!e.to_string().contains(id) && !e.member().contains(id), "{e} / {}", e.member());
        assert_eq!(redact("card 6222 0212 3456 7890 123 on file"), "card [number withheld] on file");
        assert_eq!(redact("line 12: 2026-10-20 ok"), "line 12: 2026-10-20 ok");
    }
}
