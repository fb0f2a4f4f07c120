//! Reading a batch of envelopes as the ingest API receives it (`POST /v1/events`), with no I/O.
//!
//! A body is either a JSON array of envelopes or an object `{"events": [...]}`. Every item is parsed strictly
//! exactly once (docs/FORMAT.md §2: no duplicate member names, integers only, no lone surrogates) and
//! canonicalised once; an item that breaks a rule is refused on its own, with the rule, the member and where, and
//! the others go on. Only a body that is not JSON at all (including an item nested deeper than
//! [`MAX_ENVELOPE_DEPTH`]), or not one of the two shapes (including a wrapper that repeats a member name), is
//! refused whole.
//!
//! The server's handler and the fuzz target (`signer/fuzz/`) both call [`parse_body`], so what is fuzzed is what
//! serves. [`split_body`] is the first half (strict JSON only), for a caller that wants to count the items before
//! doing the envelope work.

use std::ops::Range;

use serde_json::Value;

use crate::canonical::{CanonicalError, MAX_ENVELOPE_DEPTH, Parser};
use crate::envelope::{Envelope, EnvelopeError};

/// Why a whole body is refused (as opposed to single items).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// The body is not strict JSON syntax (the message says what and at which byte).
    #[error(transparent)]
    Json(#[from] CanonicalError),
    /// Well-formed JSON, but neither an array nor `{"events": [...]}`.
    #[error("expected a JSON array of envelopes or {{\"events\": [...]}}: {0}")]
    Shape(&'static str),
    /// The `{"events": ...}` wrapper repeats a member name, so two readers could see different batches.
    #[error("the request object repeats the member {0:?}; a name may appear once per object (docs/FORMAT.md §2)")]
    DuplicateMember(String),
}

/// One item of a body, parsed as strict JSON but not yet validated as an envelope.
#[derive(Debug)]
pub struct RawItem {
    /// Where the item is in the body (without surrounding whitespace).
    pub span: Range<usize>,
    value: Value,
    problem: Option<CanonicalError>,
}

/// One item of a body: the envelope, or why this item is refused.
#[derive(Debug)]
pub struct BodyItem {
    /// Where the item is in the body (without surrounding whitespace).
    pub span: Range<usize>,
    /// The item's top-level `id` member when it is a string (and not itself repeated), so that an answer about a
    /// refused item can name the event the client meant.
    pub id_hint: Option<String>,
    /// The validated envelope, or the first rule the item breaks.
    pub result: Result<Envelope, EnvelopeError>,
}

impl RawItem {
    /// Validates the item as an envelope (one canonicalisation; no signature check: that needs the signer's key).
    pub fn into_item(self) -> BodyItem {
        let RawItem { span, value, problem } = self;
        let id_hint = match &problem {
            Some(CanonicalError::Duplicate { name, path }) if name == "id" && path.is_empty() => None,
            _ => value.get("id").and_then(Value::as_str).map(str::to_owned),
        };
        let result = match problem {
            Some(e) => Err(EnvelopeError::Json(e)),
            None => Envelope::from_strict_value(value),
        };
        BodyItem { span, id_hint, result }
    }
}

/// Splits a body into its items, each parsed as strict JSON once.
pub fn split_body(bytes: &[u8]) -> Result<Vec<RawItem>, BodyError> {
    let mut p = Parser::new(bytes)?.max_depth(MAX_ENVELOPE_DEPTH);
    let items = match p.peek() {
        Some(b'[') => items(&mut p)?,
        Some(b'{') => wrapped(&mut p)?,
        Some(_) => {
            // Say "not JSON" for what is not JSON, and "wrong shape" for a scalar.
            p.document()?;
            return Err(BodyError::Shape("the body is a single JSON value"));
        }
        None => return Err(p.syntax("empty body, expected a JSON array").into()),
    };
    p.end()?;
    Ok(items)
}

/// Every item of a body as an envelope or a refusal, in order.
pub fn parse_body(bytes: &[u8]) -> Result<Vec<BodyItem>, BodyError> {
    Ok(split_body(bytes)?.into_iter().map(RawItem::into_item).collect())
}

/// `[item, …]`, each item a document of its own.
fn items(p: &mut Parser<'_>) -> Result<Vec<RawItem>, BodyError> {
    let mut out = Vec::new();
    p.eat(b'[');
    if p.eat(b']') {
        return Ok(out);
    }
    loop {
        let (value, problem, span) = p.spanned_document()?;
        out.push(RawItem { span, value, problem });
        if p.eat(b',') {
            continue;
        }
        if p.eat(b']') {
            return Ok(out);
        }
        return Err(p.syntax("expected ',' or ']' after an envelope").into());
    }
}

/// `{"events": [item, …]}`. Other members are ignored as before, but must be strict JSON too.
fn wrapped(p: &mut Parser<'_>) -> Result<Vec<RawItem>, BodyError> {
    p.eat(b'{');
    let mut names: Vec<String> = Vec::new();
    let mut events = None;
    if !p.eat(b'}') {
        loop {
            if p.peek() != Some(b'"') {
                return Err(p.syntax("expected a member name in double quotes").into());
            }
            let name = p.string()?;
            if names.contains(&name) {
                return Err(BodyError::DuplicateMember(name));
            }
            if !p.eat(b':') {
                return Err(p.syntax("expected ':' after a member name").into());
            }
            if name == "events" {
                if p.peek() != Some(b'[') {
                    // Still report a syntax error as such.
                    p.document()?;
                    return Err(BodyError::Shape("\"events\" must be an array"));
                }
                events = Some(items(p)?);
            } else if let (_, Some(e)) = p.document()? {
                return Err(e.into());
            }
            names.push(name);
            if p.eat(b',') {
                continue;
            }
            if p.eat(b'}') {
                break;
            }
            return Err(p.syntax("expected ',' or '}' in the request object").into());
        }
    }
    events.ok_or(BodyError::Shape("the object has no \"events\" member"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_body_forms_give_the_same_items() {
        let list = parse_body(br#" [ {"id":"x"} , 5 ] "#).expect("list");
        let wrapped = parse_body(br#"{"note":{"a":[1]},"events":[{"id":"x"},5]}"#).expect("wrapped");
        assert_eq!(list.len(), 2);
        assert_eq!(wrapped.len(), 2);
        assert_eq!(list[0].id_hint.as_deref(), Some("x"));
        assert!(matches!(list[1].result, Err(EnvelopeError::Field { field: "(envelope)", .. })));
        assert_eq!(&br#" [ {"id":"x"} , 5 ] "#[list[0].span.clone()], br#"{"id":"x"}"#);
    }

    #[test]
    fn a_duplicate_refuses_its_item_only_and_says_where() {
        let items = parse_body(br#"[{"a":{"b":1,"b":2}},{"id":"1","id":"2"},{"id":"y","n":1.5}]"#).expect("body");
        let errs: Vec<String> = items.iter().map(|i| i.result.as_ref().expect_err("refused").to_string()).collect();
        assert!(errs[0].contains("\"b\"") && errs[0].contains("/a"), "{}", errs[0]);
        assert_eq!(items[1].id_hint, None, "a repeated id names no event");
        assert!(errs[2].contains("/n"), "{}", errs[2]);
        assert_eq!(items[2].id_hint.as_deref(), Some("y"));
    }

    #[test]
    fn items_nest_at_most_max_envelope_depth_so_every_leaf_fits_in_a_bundle() {
        let nested = |levels: usize| format!("[{}{}]", "[".repeat(levels), "]".repeat(levels));
        assert_eq!(parse_body(nested(MAX_ENVELOPE_DEPTH).as_bytes()).expect("at the limit").len(), 1);
        let e = split_body(nested(MAX_ENVELOPE_DEPTH + 1).as_bytes()).expect_err("too deep").to_string();
        assert!(e.contains("nested deeper than 124 levels"), "{e}");
    }

    #[test]
    fn whole_body_refusals() {
        for (body, want) in [
            (&br#"{"events":[],"events":[]}"#[..], "repeats the member \"events\""),
            (br#"{"events":{}}"#, "must be an array"),
            (br#"{"other":[]}"#, "no \"events\""),
            (br#"{"x":{"a":1,"a":1},"events":[]}"#, "duplicate member name \"a\""),
            (b"\"x\"", "single JSON value"),
            (b"", "empty body"),
            (b"[1,]", "expected a JSON value"),
            (b"[] []", "trailing characters"),
            (b"\xEF\xBB\xBF[]", "byte-order mark"),
            (b"{not json", "member name"),
        ] {
            let e = split_body(body).expect_err("refused").to_string();
            assert!(e.contains(want), "{:?}: {e}", String::from_utf8_lossy(body));
        }
    }
}
