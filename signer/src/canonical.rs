//! Strict JSON input and RFC 8785 (JCS) canonical output, restricted to the I-JSON subset SiteLedger signs.
//!
//! SiteLedger documents carry no non-integer numbers (decimals travel as strings, money as integer fen), so the
//! canonical form needs no ECMAScript float formatting and an independent verifier needs nothing beyond sorted
//! keys, the JCS string escapes and plain integers. Input is parsed strictly: duplicate member names, non-integer
//! numbers and integers outside ±(2^53 − 1) are errors rather than silently normalised, because a verifier that
//! normalises what it was given could sign off on bytes nobody signed.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Largest integer magnitude allowed in a signed document (2^53 − 1, the I-JSON safe range).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Why a JSON document is not acceptable as signed SiteLedger input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    /// The bytes are not JSON at all, or use a construct we refuse (the message names it and where).
    #[error("invalid JSON: {0}")]
    Syntax(String),
    /// A number that is not an integer in ±(2^53 − 1) was found at the given JSON path.
    #[error("number at {path} is not an integer within ±(2^53 − 1); send decimals as strings")]
    Number {
        /// JSON pointer of the offending value.
        path: String,
    },
}

/// Parses `bytes` as JSON, refusing duplicate member names and non-integer numbers.
pub fn parse_strict(bytes: &[u8]) -> Result<Value, CanonicalError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let StrictValue(value) = StrictValue::deserialize(&mut de).map_err(|e| CanonicalError::Syntax(e.to_string()))?;
    de.end().map_err(|e| CanonicalError::Syntax(e.to_string()))?;
    check_numbers(&value, &mut String::new())?;
    Ok(value)
}

/// Checks that every number in `value` is an integer in the safe range.
pub fn check_numbers(value: &Value, path: &mut String) -> Result<(), CanonicalError> {
    match value {
        Value::Number(n) => {
            if safe_integer(n) {
                Ok(())
            } else {
                Err(CanonicalError::Number { path: if path.is_empty() { "/".into() } else { path.clone() } })
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("/{i}"));
                check_numbers(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Object(map) => {
            for (k, v) in map {
                let len = path.len();
                path.push('/');
                path.push_str(&k.replace('~', "~0").replace('/', "~1"));
                check_numbers(v, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn safe_integer(n: &Number) -> bool {
    if let Some(u) = n.as_u64() {
        u <= MAX_SAFE_INTEGER
    } else if let Some(i) = n.as_i64() {
        i.unsigned_abs() <= MAX_SAFE_INTEGER
    } else {
        false
    }
}

/// The RFC 8785 canonical bytes of `value`. Callers must have checked numbers with [`check_numbers`]
/// (documents built by this crate are, documents parsed with [`parse_strict`] are).
pub fn to_canonical(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_value(value, &mut out);
    out
}

fn write_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        // Integers in the safe range print identically in ECMAScript and here.
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => write_int(u, false, out),
            (None, Some(i)) => write_int(i.unsigned_abs(), i < 0, out),
            _ => out.extend_from_slice(n.to_string().as_bytes()),
        },
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            // JCS orders members by the UTF-16 code units of their names.
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            if members.iter().all(|(k, _)| k.is_ascii()) {
                // For ASCII names, byte order is UTF-16 order; the map usually iterates sorted already.
                members.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            } else {
                members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            }
            out.push(b'{');
            for (i, (k, v)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(k, out);
                out.push(b':');
                write_value(v, out);
            }
            out.push(b'}');
        }
    }
}

/// Decimal digits of an integer, without a temporary string.
fn write_int(mut v: u64, negative: bool, out: &mut Vec<u8>) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if negative {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[i..]);
}

/// JCS string form: ECMAScript `JSON.stringify` escapes, everything else as raw UTF-8.
fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for ch in s.chars() {
        match ch {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\u{08}' => out.extend_from_slice(b"\\b"),
            '\u{09}' => out.extend_from_slice(b"\\t"),
            '\u{0A}' => out.extend_from_slice(b"\\n"),
            '\u{0C}' => out.extend_from_slice(b"\\f"),
            '\u{0D}' => out.extend_from_slice(b"\\r"),
            c if (c as u32) < 0x20 => out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes()),
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

/// A `serde_json::Value` whose deserialisation rejects duplicate object member names.
struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        // Kept as a float so that check_numbers can name where it was.
        Number::from_f64(v).map(Value::Number).ok_or_else(|| E::custom("non-finite number"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            let StrictValue(v) = access.next_value()?;
            if map.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate member name {key:?}")));
            }
            map.insert(key, v);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_by_utf16_and_escapes_like_ecmascript() {
        let v =
            parse_strict("{\"b\":1,\"a\":[true,null,\"x\\u0001\\n\\\"é\"],\"\u{1F600}\":2,\"\u{FB33}\":3}".as_bytes())
                .expect("valid");
        let got = String::from_utf8(to_canonical(&v)).expect("utf8");
        // U+1F600 is the surrogate pair D83D DE00, which sorts before U+FB33 in UTF-16 (not in UTF-8).
        assert_eq!(got, "{\"a\":[true,null,\"x\\u0001\\n\\\"é\"],\"b\":1,\"\u{1F600}\":2,\"\u{FB33}\":3}");
    }

    #[test]
    fn refuses_duplicates_floats_and_big_integers() {
        assert!(matches!(parse_strict(br#"{"a":1,"a":2}"#), Err(CanonicalError::Syntax(m)) if m.contains("duplicate")));
        assert_eq!(parse_strict(br#"{"a":{"b":[1,2.5]}}"#), Err(CanonicalError::Number { path: "/a/b/1".into() }));
        assert!(parse_strict(br#"{"a":1.0}"#).is_err());
        assert!(parse_strict(b"9007199254740992").is_err());
        assert!(parse_strict(b"-9007199254740991").is_ok());
        assert!(parse_strict(b"{} x").is_err());
    }
}
