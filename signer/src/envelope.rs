//! The signed event envelope (docs/FORMAT.md §4): fields, validation, canonical bytes, signing and verification.
//!
//! An [`Envelope`] can only be obtained by parsing bytes ([`Envelope::parse`], which validates every field and
//! the strict-JSON rules) or by signing an [`UnsignedEnvelope`]; so holding one means its shape is valid. Whether
//! its signature holds is a separate question ([`Envelope::verify`]), because the key comes from elsewhere.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value};
use std::ops::Range;

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};
use uuid::Uuid;

use crate::canonical::{self, CanonicalError, MAX_SAFE_INTEGER};
use crate::keys::{EnvelopeSigner, KeyId, PublicKey, SIGNATURE_LEN, SignatureError, SignerKey};
use crate::merkle::{Hash, leaf_hash};

/// The only envelope format version this code reads and writes.
pub const FORMAT_VERSION: u64 = 1;
/// Domain-separation prefix of every envelope signature: these bytes, then the canonical unsigned envelope.
pub const SIGNATURE_CONTEXT: &[u8] = b"siteledger-envelope-v1\x00";
/// Largest accepted leaf (canonical signed envelope), in bytes.
pub const MAX_ENVELOPE_BYTES: usize = 64 * 1024;

/// What is wrong with an envelope. Each variant names the field so a producer can fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// Not strict JSON (duplicate names, floats, …).
    #[error(transparent)]
    Json(#[from] CanonicalError),
    /// The envelope is larger than [`MAX_ENVELOPE_BYTES`].
    #[error("envelope is {0} bytes; the limit is {MAX_ENVELOPE_BYTES}")]
    TooLarge(usize),
    /// A required field is missing.
    #[error("field `{0}` is missing")]
    Missing(&'static str),
    /// A field that the format does not define is present.
    #[error("field `{0}` is not part of envelope format v1")]
    Unknown(String),
    /// A field has the wrong type or value.
    #[error("field `{field}`: {reason}")]
    Field {
        /// The field name.
        field: &'static str,
        /// What was expected.
        reason: String,
    },
}

fn field(field: &'static str, reason: impl Into<String>) -> EnvelopeError {
    EnvelopeError::Field { field, reason: reason.into() }
}

/// An envelope before signing. Build it, then call [`UnsignedEnvelope::sign`].
#[derive(Debug, Clone, PartialEq)]
pub struct UnsignedEnvelope {
    /// Event id, a UUIDv7.
    pub id: Uuid,
    /// The stream (aggregate) the event belongs to.
    pub stream: String,
    /// Versioned type name, e.g. `iot.dust.reading.v1`.
    pub kind: String,
    /// When it happened, RFC 3339 with offset, as the signer wrote it.
    pub occurred_at: String,
    /// The signer's own sequence number, from 1.
    pub seq: u64,
    /// Leaf hash of the signer's previous envelope; `None` only for `seq == 1`.
    pub prev: Option<Hash>,
    /// The event payload.
    pub payload: Map<String, Value>,
}

impl UnsignedEnvelope {
    /// Signs with `key` (Ed25519 or SM2: the message is the same, docs/FORMAT.md §4), validating every field first.
    pub fn sign<K: EnvelopeSigner + ?Sized>(self, key: &K) -> Result<Envelope, EnvelopeError> {
        let mut obj = Map::new();
        obj.insert("v".into(), Value::from(FORMAT_VERSION));
        obj.insert("id".into(), Value::String(self.id.hyphenated().to_string()));
        obj.insert("stream".into(), Value::String(self.stream));
        obj.insert("kind".into(), Value::String(self.kind));
        obj.insert("occurred_at".into(), Value::String(self.occurred_at));
        obj.insert("signer".into(), Value::String(key.key_id().to_string()));
        obj.insert("seq".into(), Value::from(self.seq));
        obj.insert("prev".into(), self.prev.map_or(Value::Null, |h| Value::String(hex::encode(h))));
        obj.insert("payload".into(), Value::Object(self.payload));
        let value = Value::Object(obj);
        canonical::check_numbers(&value, &mut String::new())?;
        let unsigned = canonical::to_canonical(&value);
        let mut message = Vec::with_capacity(SIGNATURE_CONTEXT.len() + unsigned.len());
        message.extend_from_slice(SIGNATURE_CONTEXT);
        message.extend_from_slice(&unsigned);
        let sig = key.sign(&message);
        let Value::Object(mut obj) = value else { unreachable!("built as an object above") };
        obj.insert("sig".into(), Value::String(B64.encode(sig)));
        // Numbers were checked and the signed message computed above: validate the fields without doing either
        // again (the sign path is the gateway's hot loop).
        Envelope::from_checked_object(obj, Some(message))
    }
}

/// Where a signer's hash chain stands (docs/FORMAT.md §4): the next sequence number and the leaf hash of the
/// signer's previous envelope. Signs the next envelope of the chain and advances; resume after a restart with
/// [`SignerChain::after`] from the last stored record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignerChain {
    /// Next sequence number.
    pub next_seq: u64,
    /// Leaf hash of the previous envelope (None before the first).
    pub prev: Option<Hash>,
}

impl Default for SignerChain {
    fn default() -> Self {
        SignerChain::new()
    }
}

impl SignerChain {
    /// A fresh chain (next seq 1).
    pub fn new() -> SignerChain {
        SignerChain { next_seq: 1, prev: None }
    }

    /// The chain after the stored record with `seq` and `leaf_hash`.
    pub fn after(seq: u64, leaf_hash: Hash) -> SignerChain {
        SignerChain { next_seq: seq + 1, prev: Some(leaf_hash) }
    }

    /// Signs the next envelope with `key` (Ed25519 or SM2) and advances the chain.
    pub fn sign<K: EnvelopeSigner + ?Sized>(
        &mut self,
        key: &K,
        id: Uuid,
        stream: &str,
        kind: &str,
        occurred_at: &str,
        payload: Map<String, Value>,
    ) -> Result<Envelope, EnvelopeError> {
        let env = UnsignedEnvelope {
            id,
            stream: stream.to_owned(),
            kind: kind.to_owned(),
            occurred_at: occurred_at.to_owned(),
            seq: self.next_seq,
            prev: self.prev,
            payload,
        }
        .sign(key)?;
        self.next_seq += 1;
        self.prev = Some(env.leaf_hash());
        Ok(env)
    }
}

/// A signed envelope whose shape has been validated. Immutable.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    id: Uuid,
    stream: String,
    kind: String,
    occurred_at: String,
    occurred: OffsetDateTime,
    signer: KeyId,
    seq: u64,
    prev: Option<Hash>,
    payload: Map<String, Value>,
    sig: [u8; SIGNATURE_LEN],
    /// Canonical bytes of the whole signed envelope (the Merkle leaf).
    leaf: Vec<u8>,
    /// Length of the canonical unsigned form inside `message`.
    message: Vec<u8>,
}

impl Envelope {
    /// Parses and validates an envelope from JSON bytes (any whitespace; canonical form is recomputed).
    pub fn parse(bytes: &[u8]) -> Result<Envelope, EnvelopeError> {
        if bytes.len() > MAX_ENVELOPE_BYTES * 2 {
            return Err(EnvelopeError::TooLarge(bytes.len()));
        }
        Envelope::from_strict_value(canonical::parse_strict_nested(bytes, canonical::MAX_ENVELOPE_DEPTH)?)
    }

    /// Validates an already-parsed JSON value (numbers must satisfy the strict rules).
    pub fn from_value(value: Value) -> Result<Envelope, EnvelopeError> {
        canonical::check_numbers(&value, &mut String::new())?;
        Envelope::from_strict_value(value)
    }

    /// [`Envelope::from_value`] for a value that came from the strict parser, whose numbers are already checked.
    pub(crate) fn from_strict_value(value: Value) -> Result<Envelope, EnvelopeError> {
        let Value::Object(obj) = value else {
            return Err(field("(envelope)", "must be a JSON object"));
        };
        Envelope::from_checked_object(obj, None)
    }

    /// [`Envelope::from_value`] for an object whose numbers are checked; `message` is its signed message
    /// (context + canonical form without `sig`) when the caller has just computed it.
    fn from_checked_object(mut obj: Map<String, Value>, message: Option<Vec<u8>>) -> Result<Envelope, EnvelopeError> {
        // One canonicalisation gives both the leaf and, by cutting `sig` out of it, the signed message.
        let (leaf, sig_span) = canonical::to_canonical_with_member(&obj, "sig");
        if leaf.len() > MAX_ENVELOPE_BYTES {
            return Err(EnvelopeError::TooLarge(leaf.len()));
        }
        let sig_value = obj.remove("sig").ok_or(EnvelopeError::Missing("sig"))?;
        let message = match (message, sig_span) {
            (Some(m), _) => m,
            (None, Some(span)) => {
                let mut message = Vec::with_capacity(SIGNATURE_CONTEXT.len() + leaf.len() - span.len());
                message.extend_from_slice(SIGNATURE_CONTEXT);
                message.extend_from_slice(&leaf[..span.start]);
                message.extend_from_slice(&leaf[span.end..]);
                message
            }
            (None, None) => return Err(EnvelopeError::Missing("sig")),
        };

        let mut take = |name: &'static str| obj.remove(name).ok_or(EnvelopeError::Missing(name));
        let v = take("v")?;
        if v.as_u64() != Some(FORMAT_VERSION) {
            return Err(field("v", format!("format version must be {FORMAT_VERSION}, got {v}")));
        }
        let id = parse_id(take("id")?)?;
        let stream = string(take("stream")?, "stream")?;
        check_stream(&stream)?;
        let kind = string(take("kind")?, "kind")?;
        check_kind(&kind)?;
        let occurred_at = string(take("occurred_at")?, "occurred_at")?;
        let occurred = parse_time(&occurred_at).map_err(|r| field("occurred_at", r))?;
        let signer = KeyId::parse(&string(take("signer")?, "signer")?).map_err(|e| field("signer", e.to_string()))?;
        let seq = take("seq")?
            .as_u64()
            .filter(|s| (1..=MAX_SAFE_INTEGER).contains(s))
            .ok_or_else(|| field("seq", "must be an integer from 1 to 2^53 − 1"))?;
        let prev = match take("prev")? {
            Value::Null => None,
            Value::String(s) => Some(parse_hash_hex(&s).map_err(|r| field("prev", r))?),
            _ => return Err(field("prev", "must be null or 64 lowercase hex characters")),
        };
        if (seq == 1) != prev.is_none() {
            return Err(field("prev", "must be null exactly when seq is 1"));
        }
        let payload = match take("payload")? {
            Value::Object(m) => m,
            _ => return Err(field("payload", "must be a JSON object")),
        };
        if let Some(name) = obj.keys().next() {
            return Err(EnvelopeError::Unknown(name.clone()));
        }
        let sig = parse_sig(&sig_value)?;
        Ok(Envelope { id, stream, kind, occurred_at, occurred, signer, seq, prev, payload, sig, leaf, message })
    }

    /// Event id.
    pub fn id(&self) -> Uuid {
        self.id
    }
    /// Stream name.
    pub fn stream(&self) -> &str {
        &self.stream
    }
    /// Versioned kind.
    pub fn kind(&self) -> &str {
        &self.kind
    }
    /// The occurred-at text exactly as signed.
    pub fn occurred_at(&self) -> &str {
        &self.occurred_at
    }
    /// The occurred-at instant.
    pub fn occurred(&self) -> OffsetDateTime {
        self.occurred
    }
    /// Signer key id.
    pub fn signer(&self) -> KeyId {
        self.signer
    }
    /// Signer sequence number.
    pub fn seq(&self) -> u64 {
        self.seq
    }
    /// Leaf hash of the signer's previous envelope.
    pub fn prev(&self) -> Option<&Hash> {
        self.prev.as_ref()
    }
    /// The payload object.
    pub fn payload(&self) -> &Map<String, Value> {
        &self.payload
    }
    /// The raw signature.
    pub fn signature(&self) -> &[u8; SIGNATURE_LEN] {
        &self.sig
    }
    /// The Merkle leaf: canonical bytes of the signed envelope.
    pub fn leaf_bytes(&self) -> &[u8] {
        &self.leaf
    }
    /// RFC 9162 leaf hash of this envelope; also what the signer's next envelope puts in `prev`.
    pub fn leaf_hash(&self) -> Hash {
        leaf_hash(&self.leaf)
    }
    /// The exact bytes the signature covers (context prefix + canonical unsigned envelope).
    pub fn signed_message(&self) -> &[u8] {
        &self.message
    }
    /// The envelope as a JSON value (the canonical form parsed back).
    pub fn to_value(&self) -> Value {
        canonical::parse_strict(&self.leaf).unwrap_or(Value::Null)
    }

    /// Verifies the signature with `key`, which must be the key named by `signer`.
    pub fn verify(&self, key: &PublicKey) -> Result<(), VerifyError> {
        if key.key_id() != self.signer {
            return Err(VerifyError::WrongKey { expected: self.signer, given: key.key_id() });
        }
        key.verify(&self.message, &self.sig).map_err(VerifyError::Signature)
    }

    /// Verifies the signature with a key of either algorithm, which must be the key named by `signer`.
    pub fn verify_signer(&self, key: &SignerKey) -> Result<(), VerifyError> {
        if key.key_id() != self.signer {
            return Err(VerifyError::WrongKey { expected: self.signer, given: key.key_id() });
        }
        key.verify(&self.message, &self.sig).map_err(VerifyError::Signature)
    }
}

/// Why an envelope's signature does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The key given is not the envelope's signer.
    #[error("envelope is signed by key {expected}, not {given}")]
    WrongKey {
        /// The `signer` field.
        expected: KeyId,
        /// The key offered.
        given: KeyId,
    },
    /// The signature is invalid.
    #[error(transparent)]
    Signature(SignatureError),
}

fn string(v: Value, name: &'static str) -> Result<String, EnvelopeError> {
    match v {
        Value::String(s) => Ok(s),
        _ => Err(field(name, "must be a string")),
    }
}

fn parse_id(v: Value) -> Result<Uuid, EnvelopeError> {
    let s = string(v, "id")?;
    let id = Uuid::parse_str(&s).map_err(|e| field("id", format!("not a UUID: {e}")))?;
    if id.get_version_num() != 7 || id.get_variant() != uuid::Variant::RFC4122 {
        return Err(field("id", "must be a UUID version 7 with the RFC 9562 variant"));
    }
    if id.hyphenated().to_string() != s {
        return Err(field("id", "must be in lowercase hyphenated form"));
    }
    Ok(id)
}

/// Stream names: 1–200 ASCII characters from `A–Z a–z 0–9 . _ : / -`, starting with a letter or digit.
pub fn check_stream(s: &str) -> Result<(), EnvelopeError> {
    let ok = (1..=200).contains(&s.len())
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:/-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(field("stream", "must be 1–200 characters of A–Z a–z 0–9 . _ : / -, starting with a letter or digit"))
    }
}

/// Kinds: dot-separated lowercase segments ending in a version segment, e.g. `iot.dust.reading.v1`.
pub fn check_kind(s: &str) -> Result<(), EnvelopeError> {
    let segments: Vec<&str> = s.split('.').collect();
    let word = |w: &str| {
        !w.is_empty()
            && w.as_bytes()[0].is_ascii_lowercase()
            && w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    };
    let version = segments
        .last()
        .and_then(|v| v.strip_prefix('v'))
        .is_some_and(|n| !n.is_empty() && !n.starts_with('0') && n.len() <= 6 && n.bytes().all(|b| b.is_ascii_digit()));
    if s.len() <= 100 && segments.len() >= 2 && segments[..segments.len() - 1].iter().all(|w| word(w)) && version {
        Ok(())
    } else {
        Err(field("kind", format!("{s:?} must look like `area.thing.v1` (lowercase segments, then a version)")))
    }
}

/// The date-time form docs/FORMAT.md §4 allows, and nothing else (it is used for `occurred_at`, an enrollment's
/// `valid_from`/`valid_until` and a revocation's `revoked_at`): `YYYY-MM-DDTHH:MM:SS[.f](Z|±hh:mm)` with an
/// uppercase `T` and `Z`, 1–9 fraction digits, a real calendar date in the years 2000–9999 (as written, before
/// applying the offset), hours 00–23, minutes and seconds 00–59 (no leap second `60`), offsets up to ±23:59
/// (`-00:00` is UTC). The grammar is checked byte by byte here rather than with `time`'s RFC 3339 parser,
/// which also takes a space or any other separator, a lowercase `z`, leap seconds and unlimited fractions, none
/// of which an independent verifier built from FORMAT.md accepts.
pub fn parse_time(s: &str) -> Result<OffsetDateTime, String> {
    let bad = |why: &str| {
        let shown: String = s.chars().take(48).collect();
        let more = if shown.len() < s.len() { "…" } else { "" };
        format!(
            "{shown:?}{more} is not a date-time of the form YYYY-MM-DDTHH:MM:SS[.fraction](Z|±hh:mm) \
             (docs/FORMAT.md §4): {why}"
        )
    };
    let b = s.as_bytes();
    let num = |r: Range<usize>| -> Option<u32> {
        let d = b.get(r)?;
        d.iter().try_fold(0u32, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0')))
    };
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    let year = num(0..4).ok_or_else(|| bad("the year must be four digits"))?;
    let month = num(5..7).filter(|_| at(4, b'-')).ok_or_else(|| bad("expected -MM after the year"))?;
    let day = num(8..10).filter(|_| at(7, b'-')).ok_or_else(|| bad("expected -DD after the month"))?;
    match b.get(10) {
        Some(b'T') => {}
        Some(b't') => return Err(bad("the date and time are separated by an uppercase \"T\", not \"t\"")),
        Some(b' ') => return Err(bad("the date and time are separated by \"T\", not a space")),
        Some(_) => return Err(bad("the date and time are separated by \"T\"")),
        None => return Err(bad("the time and offset are missing")),
    }
    let hour = num(11..13).ok_or_else(|| bad("expected HH after \"T\""))?;
    let minute = num(14..16).filter(|_| at(13, b':')).ok_or_else(|| bad("expected :MM after the hour"))?;
    let second = num(17..19).filter(|_| at(16, b':')).ok_or_else(|| bad("expected :SS after the minute"))?;
    let mut rest = &b[19.min(b.len())..];
    let mut nanos = 0u32;
    if let Some(frac) = rest.strip_prefix(b".") {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return Err(bad("a decimal point must be followed by digits"));
        }
        if n > 9 {
            return Err(bad("at most 9 fraction digits (nanoseconds)"));
        }
        for &c in &frac[..n] {
            nanos = nanos * 10 + u32::from(c - b'0');
        }
        nanos *= 10u32.pow(9 - n as u32);
        rest = &frac[n..];
    }
    let (sign, off_h, off_m) = match rest {
        b"Z" => (1, 0, 0),
        b"z" => return Err(bad("UTC is written with an uppercase \"Z\"")),
        [] => return Err(bad("the offset is missing (Z or ±hh:mm)")),
        [s @ (b'+' | b'-'), h1, h2, b':', m1, m2] if [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()) => {
            let two = |a: &u8, b: &u8| u32::from(a - b'0') * 10 + u32::from(b - b'0');
            (if *s == b'-' { -1 } else { 1 }, two(h1, h2), two(m1, m2))
        }
        _ => return Err(bad("the offset must be Z or ±hh:mm, and nothing may follow it")),
    };
    if !(2000..=9999).contains(&year) {
        return Err(bad("the year must be from 2000 to 9999"));
    }
    let month = u8::try_from(month).ok().and_then(|m| Month::try_from(m).ok()).ok_or_else(|| bad("no such month"))?;
    let date = u8::try_from(day)
        .ok()
        .and_then(|d| Date::from_calendar_date(year as i32, month, d).ok())
        .ok_or_else(|| bad("no such day in that month"))?;
    if hour > 23 || minute > 59 {
        return Err(bad("hours run 00–23 and minutes 00–59"));
    }
    if second > 59 {
        return Err(bad("seconds run 00–59 (a leap second 60 is not accepted)"));
    }
    let time = Time::from_hms_nano(hour as u8, minute as u8, second as u8, nanos).map_err(|e| bad(&e.to_string()))?;
    if off_h > 23 || off_m > 59 {
        return Err(bad("the offset must be within ±23:59"));
    }
    let offset = UtcOffset::from_hms(sign * off_h as i8, sign * off_m as i8, 0).map_err(|e| bad(&e.to_string()))?;
    Ok(PrimitiveDateTime::new(date, time).assume_offset(offset))
}

/// 64 lowercase hex characters.
pub fn parse_hash_hex(s: &str) -> Result<Hash, String> {
    if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err("must be 64 lowercase hex characters".into());
    }
    let mut h = [0u8; 32];
    hex::decode_to_slice(s, &mut h).map_err(|e| e.to_string())?;
    Ok(h)
}

fn parse_sig(v: &Value) -> Result<[u8; SIGNATURE_LEN], EnvelopeError> {
    let Value::String(s) = v else {
        return Err(field("sig", "must be a base64 string"));
    };
    let raw = B64.decode(s).map_err(|e| field("sig", format!("not canonical base64: {e}")))?;
    raw.try_into().map_err(|_| field("sig", "must decode to 64 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SigningKey;
    use serde_json::json;

    fn sample(key: &SigningKey) -> Envelope {
        let payload = json!({"pm10_ug_m3": "85.2", "mn": "010000A8900016F000169DC0"});
        UnsignedEnvelope {
            id: Uuid::parse_str("0190f5c0-2a5e-7cc1-8e11-4a0b2c3d4e5f").expect("uuid"),
            stream: "project/P-001/device/D-7".into(),
            kind: "iot.dust.reading.v1".into(),
            occurred_at: "2026-11-24T10:00:00+08:00".into(),
            seq: 1,
            prev: None,
            payload: payload.as_object().expect("object").clone(),
        }
        .sign(key)
        .expect("valid")
    }

    #[test]
    fn round_trips_and_verifies() {
        let key = SigningKey::from_seed(&[7; 32]);
        let env = sample(&key);
        env.verify(key.public()).expect("verifies");
        let back = Envelope::parse(env.leaf_bytes()).expect("parses");
        assert_eq!(back, env);
        let other = SigningKey::from_seed(&[8; 32]);
        assert!(matches!(env.verify(other.public()), Err(VerifyError::WrongKey { .. })));
    }

    #[test]
    fn any_change_to_signed_fields_breaks_the_signature() {
        let key = SigningKey::from_seed(&[7; 32]);
        let env = sample(&key);
        let text = String::from_utf8(env.leaf_bytes().to_vec()).expect("utf8");
        let tampered = text.replace("85.2", "35.2");
        let t = Envelope::parse(tampered.as_bytes()).expect("still well formed");
        assert!(t.verify(key.public()).is_err());
    }

    /// Seconds (and nanoseconds) since 1970 UTC of a time that must parse.
    fn instant(s: &str) -> i128 {
        parse_time(s).unwrap_or_else(|e| panic!("{s} should parse: {e}")).unix_timestamp_nanos()
    }

    #[test]
    fn parse_time_takes_the_format_md_forms_as_instants() {
        let base = instant("2026-03-01T00:00:00Z");
        assert_eq!(instant("2026-03-01T08:00:00+08:00"), base);
        assert_eq!(instant("2026-02-28T19:00:00-05:00"), base);
        assert_eq!(instant("2026-03-01T00:00:00-00:00"), base, "-00:00 is UTC (RFC 3339 §4.3)");
        assert_eq!(instant("2026-03-01T00:00:00+00:00"), base);
        assert_eq!(instant("2026-03-01T00:00:00.5Z"), base + 500_000_000);
        assert_eq!(instant("2026-03-01T00:00:00.000000001Z"), base + 1);
        assert_eq!(instant("2026-03-01T00:00:00.123456789Z"), base + 123_456_789);
        assert_eq!(instant("2028-02-29T12:00:00Z") - instant("2028-02-28T12:00:00Z"), 86_400 * 1_000_000_000);
        // The year rule applies to the year as written: this is 1999 in UTC, and allowed.
        assert!(instant("2000-01-01T00:00:00+08:00") < instant("2000-01-01T00:00:00Z"));
        // And this one is year 10000 in UTC, also allowed, and still ordered.
        assert!(instant("9999-12-31T23:59:59-23:59") > instant("9999-12-31T23:59:59Z"));
        assert_eq!(instant("2026-03-01T23:59:59+23:59") + 86_340 * 1_000_000_000, instant("2026-03-01T23:59:59Z"));
    }

    #[test]
    fn parse_time_refuses_what_format_md_does_not_allow_and_says_why() {
        for (s, why) in [
            ("2026-03-01 08:00:00+08:00", "not a space"),
            ("2026-03-01t08:00:00+08:00", "uppercase \"T\""),
            ("2026-03-01T08:00:00z", "uppercase \"Z\""),
            ("2026-03-01T08:00:00", "offset is missing"),
            ("2026-03-01T08:00:00+0800", "±hh:mm"),
            ("2026-03-01T08:00:00+08", "±hh:mm"),
            ("2026-03-01T08:00:00+08:00 ", "nothing may follow"),
            ("2026-03-01T08:00:00+24:00", "±23:59"),
            ("2026-03-01T08:00:00+08:60", "±23:59"),
            ("1999-12-31T23:59:59Z", "2000 to 9999"),
            ("10000-01-01T00:00:00Z", "-MM after the year"),
            ("2026-03-01T24:00:00Z", "hours run 00–23"),
            ("2026-03-01T23:60:00Z", "minutes 00–59"),
            ("2026-12-31T23:59:60Z", "leap second"),
            ("2026-13-01T00:00:00Z", "no such month"),
            ("2026-00-01T00:00:00Z", "no such month"),
            ("2026-02-29T00:00:00Z", "no such day"),
            ("2026-04-31T00:00:00Z", "no such day"),
            ("2026-04-00T00:00:00Z", "no such day"),
            ("2026-03-01T08:00:00.+08:00", "followed by digits"),
            ("2026-03-01T08:00:00,5+08:00", "±hh:mm"),
            ("2026-03-01T08:00:00.1234567891Z", "at most 9 fraction digits"),
            ("2026-3-01T08:00:00Z", "-MM after the year"),
            ("\u{0662}026-03-01T08:00:00Z", "four digits"),
            ("+2026-03-01T08:00:00Z", "four digits"),
            ("2026-03-01T08:00:00\u{FF3A}", "±hh:mm"),
            ("", "four digits"),
        ] {
            let e = parse_time(s).expect_err(s);
            assert!(e.contains(why), "{s:?}: {e}");
        }
    }

    #[test]
    fn occurred_at_with_a_space_or_lowercase_letters_is_refused_naming_the_field() {
        let key = SigningKey::from_seed(&[7; 32]);
        for t in ["2026-11-24 10:00:00+08:00", "2026-11-24t10:00:00+08:00", "2026-11-24T02:00:00z"] {
            let mut v = sample(&key).to_value();
            v["occurred_at"] = json!(t);
            let e = Envelope::from_value(v).expect_err(t);
            assert!(matches!(e, EnvelopeError::Field { field: "occurred_at", .. }), "{e}");
            assert!(e.to_string().starts_with("field `occurred_at`"), "{e}");
        }
    }

    #[test]
    fn names_the_bad_field() {
        let key = SigningKey::from_seed(&[7; 32]);
        let mut v = sample(&key).to_value();
        v["seq"] = json!(0);
        assert!(matches!(Envelope::from_value(v.clone()), Err(EnvelopeError::Field { field: "seq", .. })));
        v["seq"] = json!(1);
        v["extra"] = json!(true);
        assert_eq!(Envelope::from_value(v.clone()), Err(EnvelopeError::Unknown("extra".into())));
        let mut v = sample(&key).to_value();
        v["kind"] = json!("Dust");
        assert!(matches!(Envelope::from_value(v), Err(EnvelopeError::Field { field: "kind", .. })));
        let mut v = sample(&key).to_value();
        v["occurred_at"] = json!("2026-11-24 10:00:00");
        assert!(matches!(Envelope::from_value(v), Err(EnvelopeError::Field { field: "occurred_at", .. })));
        let mut v = sample(&key).to_value();
        v["id"] = json!("0190F5C0-2A5E-7CC1-8E11-4A0B2C3D4E5F");
        assert!(matches!(Envelope::from_value(v), Err(EnvelopeError::Field { field: "id", .. })));
    }
}
