//! Invariants of reading a `POST /v1/events` body, shared by the fuzz target (`fuzz_targets/ingest_body.rs`) and
//! the corpus replay test (`signer/tests/signer/fuzz_corpus.rs`), which include this file by path.
//!
//! The oracles here are deliberately other implementations: serde_json with a duplicate-detecting visitor for the
//! JSON rules, and a separate reading of the FORMAT.md §4 date-time grammar.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use siteledger_signer::batch::{self, BodyError, BodyItem};
use siteledger_signer::canonical::{self, CanonicalError};
use siteledger_signer::envelope::{Envelope, EnvelopeError, MAX_ENVELOPE_BYTES, SIGNATURE_CONTEXT};

/// Reads `body` as the server does and panics if an invariant breaks. Returns what the server would answer.
pub fn check(body: &[u8]) -> Result<Vec<BodyItem>, BodyError> {
    let parsed = batch::parse_body(body);
    let Ok(items) = &parsed else { return parsed };
    let mut end = 0;
    for item in items {
        assert!(end <= item.span.start && item.span.end <= body.len(), "spans are in order and inside the body");
        end = item.span.end;
        let raw = &body[item.span.clone()];
        if raw.len() <= 2 * MAX_ENVELOPE_BYTES {
            // An item alone reads exactly as it does inside a body.
            assert_eq!(Envelope::parse(raw), item.result, "single and batch verdicts differ");
        }
        match &item.result {
            Ok(env) => accepted(env, raw),
            Err(e) => refused(e, raw),
        }
    }
    parsed
}

fn accepted(env: &Envelope, raw: &[u8]) {
    let leaf = env.leaf_bytes();
    assert!(leaf.len() <= MAX_ENVELOPE_BYTES);
    // The leaf is canonical: it re-parses to the same envelope, and canonicalising it again changes nothing.
    assert_eq!(Envelope::parse(leaf).as_ref(), Ok(env), "a leaf re-parses to its envelope");
    let value = canonical::parse_strict(leaf).expect("a leaf is strict JSON");
    assert_eq!(canonical::to_canonical(&value), leaf, "canonicalisation is idempotent");
    // The signed message is the context and the canonical envelope without `sig`.
    let mut unsigned = value.clone();
    unsigned.as_object_mut().expect("an envelope is an object").remove("sig");
    assert_eq!(env.signed_message(), [SIGNATURE_CONTEXT, &canonical::to_canonical(&unsigned)].concat());
    // §2: no repeated member name anywhere in what was sent, numbers are safe integers.
    assert_eq!(duplicate_free(raw), Some(true), "an accepted item repeats a member name (or serde_json refused it)");
    assert!(canonical::check_numbers(&value, &mut String::new()).is_ok());
    // serde_json reads the same document (except that it turns `-0` into a float).
    let theirs: serde_json::Value = serde_json::from_slice(raw).expect("serde_json reads an accepted item");
    if canonical::check_numbers(&theirs, &mut String::new()).is_ok() {
        assert_eq!(canonical::to_canonical(&theirs), leaf, "serde_json and our parser read different documents");
    }
    // §4: the date-time grammar, read independently.
    assert!(format_md_time(env.occurred_at()), "accepted occurred_at {:?}", env.occurred_at());
}

fn refused(e: &EnvelopeError, raw: &[u8]) {
    match e {
        EnvelopeError::Json(CanonicalError::Duplicate { .. }) => {
            assert_ne!(duplicate_free(raw), Some(true), "refused as a duplicate, but no name repeats");
        }
        EnvelopeError::Field { field: "occurred_at", .. } => {
            let v: serde_json::Value = serde_json::from_slice(raw).expect("JSON");
            if let Some(t) = v.get("occurred_at").and_then(|t| t.as_str()) {
                assert!(!format_md_time(t), "refused occurred_at {t:?} that FORMAT.md allows");
            }
        }
        _ => {}
    }
    // Whatever serde_json reads without a duplicate, a float or a big integer is strict JSON to us as well.
    if duplicate_free(raw) == Some(true)
        && let Ok(theirs) = serde_json::from_slice::<serde_json::Value>(raw)
        && canonical::check_numbers(&theirs, &mut String::new()).is_ok()
    {
        assert!(canonical::parse_strict(raw).is_ok(), "strict JSON refused: {e}");
    }
}

/// `Some(true)` if serde_json reads `raw` and no object repeats a name; `Some(false)` if one does; `None` if
/// serde_json refuses the text for another reason.
pub fn duplicate_free(raw: &[u8]) -> Option<bool> {
    let mut de = serde_json::Deserializer::from_slice(raw);
    match de.deserialize_any(NoDuplicates) {
        Ok(()) => de.end().ok().map(|()| true),
        Err(e) if e.to_string().starts_with("repeated member") => Some(false),
        Err(_) => None,
    }
}

struct NoDuplicates;

impl<'de> de::DeserializeSeed<'de> for NoDuplicates {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(NoDuplicates)
    }
}

impl<'de> Visitor<'de> for NoDuplicates {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(NoDuplicates)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(k) = map.next_key::<String>()? {
            if !seen.insert(k) {
                // Consume nothing more: the verdict is known.
                return Err(de::Error::custom("repeated member"));
            }
            map.next_value_seed(NoDuplicates)?;
        }
        Ok(())
    }
}

/// FORMAT.md §4 date-times, read from the text of the rule: `YYYY-MM-DDTHH:MM:SS[.1-9 digits](Z|±HH:MM)`.
pub fn format_md_time(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |from: usize, n: usize| -> Option<u32> {
        let part = b.get(from..from + n)?;
        part.iter().all(u8::is_ascii_digit).then(|| part.iter().fold(0, |a, &c| a * 10 + u32::from(c - b'0')))
    };
    let lit = |i: usize, c: u8| b.get(i) == Some(&c);
    let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(sec)) =
        (digits(0, 4), digits(5, 2), digits(8, 2), digits(11, 2), digits(14, 2), digits(17, 2))
    else {
        return false;
    };
    if !(lit(4, b'-') && lit(7, b'-') && lit(10, b'T') && lit(13, b':') && lit(16, b':')) {
        return false;
    }
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let date_ok = (2000..=9999).contains(&y) && (1..=12).contains(&mo) && d >= 1 && d <= month_days[mo as usize - 1];
    if !date_ok || h > 23 || mi > 59 || sec > 59 {
        return false;
    }
    let mut i = 19;
    if lit(i, b'.') {
        let n = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if !(1..=9).contains(&n) {
            return false;
        }
        i += 1 + n;
    }
    match &b[i..] {
        b"Z" => true,
        [b'+' | b'-', ..] if b.len() == i + 6 && lit(i + 3, b':') => {
            matches!((digits(i + 1, 2), digits(i + 4, 2)), (Some(oh), Some(om)) if oh <= 23 && om <= 59)
        }
        _ => false,
    }
}
