//! Strict JSON input and RFC 8785 (JCS) canonical output, restricted to the I-JSON subset SiteLedger signs.
//!
//! SiteLedger documents carry no non-integer numbers (decimals travel as strings, money as integer fen), so the
//! canonical form needs no ECMAScript float formatting and an independent verifier needs nothing beyond sorted
//! keys, the JCS string escapes and plain integers. Input is parsed strictly (docs/FORMAT.md §2): duplicate member
//! names, non-integer numbers, integers outside ±(2^53 − 1), escaped lone surrogates and a byte-order mark are
//! errors rather than silently normalised, because a verifier that normalises what it was given could sign off on
//! bytes nobody signed (two parsers reading different records from one signature).
//!
//! The parser is our own rather than serde_json's: serde_json keeps the last of two equal member names, turns
//! `-0` into a float (FORMAT.md says it is the integer zero) and cannot go on after one bad item of a batch. This
//! one reports the first rule a document breaks with its JSON pointer, and [`Parser`] lets
//! [`crate::batch`] parse every item of a request body exactly once, refusing only the items that break a rule.

use std::ops::Range;

use serde_json::map::Entry;
use serde_json::{Map, Number, Value};

/// Largest integer magnitude allowed in a signed document (2^53 − 1, the I-JSON safe range).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Deepest nesting of arrays and objects accepted in one document (an evidence bundle, say).
pub const MAX_DEPTH: usize = 128;

/// Deepest nesting accepted in one envelope: four levels less than [`MAX_DEPTH`], so that every accepted envelope
/// still parses inside an evidence bundle (bundle, `records`, record, `envelope`) and with serde_json's default
/// limit (127 levels), which readers of stored leaves use. Deeper envelopes were never storable anyway: the old
/// ingest path (serde_json, the request array counting as one level) stopped at 126.
pub const MAX_ENVELOPE_DEPTH: usize = MAX_DEPTH - 4;

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
    /// An object repeats a member name (RFC 8785 / I-JSON forbid it: two parsers could read different values).
    #[error(
        "duplicate member name {name:?} in the object at {}; a name may appear once per object (docs/FORMAT.md §2)",
        where_(path)
    )]
    Duplicate {
        /// The repeated name.
        name: String,
        /// JSON pointer of the object that repeats it (empty for the top level).
        path: String,
    },
    /// A string holds a `\uXXXX` escape of a surrogate without its pair.
    #[error("string at {} has an escaped lone surrogate (\\ud800–\\udfff without its pair)", where_(path))]
    LoneSurrogate {
        /// JSON pointer of the string (or of the object, for a member name).
        path: String,
    },
}

fn where_(path: &str) -> &str {
    if path.is_empty() { "the top level" } else { path }
}

/// Parses `bytes` as one strict JSON document (docs/FORMAT.md §2 input rules).
pub fn parse_strict(bytes: &[u8]) -> Result<Value, CanonicalError> {
    parse_strict_nested(bytes, MAX_DEPTH)
}

/// [`parse_strict`] with a nesting limit of `max_depth` levels.
pub fn parse_strict_nested(bytes: &[u8], max_depth: usize) -> Result<Value, CanonicalError> {
    let mut p = Parser::new(bytes)?.max_depth(max_depth);
    let (value, problem) = p.document()?;
    p.end()?;
    match problem {
        Some(e) => Err(e),
        None => Ok(value),
    }
}

/// One step of the JSON pointer to the place a rule was broken, collected innermost first.
#[derive(Debug)]
enum Segment {
    Key(String),
    Index(usize),
}

#[derive(Debug)]
enum ProblemKind {
    Number,
    Duplicate(String),
    LoneSurrogate,
}

/// The first rule a document broke; parsing goes on to the document's end so that a batch can refuse just it.
#[derive(Debug)]
struct Problem {
    kind: ProblemKind,
    /// Path segments, innermost first (each enclosing container adds its own as the parse unwinds).
    path: Vec<Segment>,
}

impl Problem {
    fn into_error(self) -> CanonicalError {
        let mut path = String::new();
        for seg in self.path.iter().rev() {
            path.push('/');
            match seg {
                Segment::Key(k) => path.push_str(&k.replace('~', "~0").replace('/', "~1")),
                Segment::Index(i) => path.push_str(&i.to_string()),
            }
        }
        match self.kind {
            ProblemKind::Number => CanonicalError::Number { path: if path.is_empty() { "/".into() } else { path } },
            ProblemKind::Duplicate(name) => CanonicalError::Duplicate { name, path },
            ProblemKind::LoneSurrogate => CanonicalError::LoneSurrogate { path },
        }
    }
}

/// A strict JSON reader over bytes. Syntax errors end the parse (the bytes are not JSON); rule violations inside
/// well-formed JSON (duplicates, numbers, lone surrogates) are remembered and the parse continues, so a caller
/// reading a sequence of documents can refuse one and go on with the next.
#[derive(Debug)]
pub struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
    max_depth: usize,
    problem: Option<Problem>,
}

impl<'a> Parser<'a> {
    /// A parser at the start of `bytes`; refuses a UTF-8 byte-order mark.
    pub fn new(bytes: &'a [u8]) -> Result<Parser<'a>, CanonicalError> {
        if bytes.starts_with(b"\xEF\xBB\xBF") {
            return Err(CanonicalError::Syntax(
                "byte-order mark at byte 0; send UTF-8 JSON without a BOM (docs/FORMAT.md §2)".into(),
            ));
        }
        Ok(Parser { bytes, pos: 0, depth: 0, max_depth: MAX_DEPTH, problem: None })
    }

    /// Sets how deeply each document may nest (default [`MAX_DEPTH`]).
    pub fn max_depth(mut self, levels: usize) -> Parser<'a> {
        self.max_depth = levels;
        self
    }

    /// Byte offset of the next unread byte.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Reads one JSON value as a document of its own: depth counts from it, and the first rule it breaks is
    /// returned beside the value (the value is then incomplete and must not be used).
    pub fn document(&mut self) -> Result<(Value, Option<CanonicalError>), CanonicalError> {
        let (depth, problem) = (self.depth, self.problem.take());
        self.depth = 0;
        let value = self.value();
        self.depth = depth;
        let found = std::mem::replace(&mut self.problem, problem);
        Ok((value?, found.map(Problem::into_error)))
    }

    /// [`Parser::document`] and the byte range it spanned (without surrounding whitespace).
    pub fn spanned_document(&mut self) -> Result<(Value, Option<CanonicalError>, Range<usize>), CanonicalError> {
        self.skip_ws();
        let start = self.pos;
        let (v, problem) = self.document()?;
        Ok((v, problem, start..self.pos))
    }

    /// Skips whitespace and fails unless the input is exhausted.
    pub fn end(&mut self) -> Result<(), CanonicalError> {
        self.skip_ws();
        if self.pos < self.bytes.len() { Err(self.syntax("trailing characters after the JSON value")) } else { Ok(()) }
    }

    /// Skips whitespace, then consumes `byte` if it is next.
    pub fn eat(&mut self, byte: u8) -> bool {
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&byte) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Skips whitespace and returns the next byte without consuming it.
    pub fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.bytes.get(self.pos).copied()
    }

    /// Reads a string (the next byte must be `"`). A lone surrogate is a syntax error here.
    pub fn string(&mut self) -> Result<String, CanonicalError> {
        let had = self.problem.is_some();
        let s = self.string_inner()?;
        if !had && self.problem.is_some() {
            self.problem = None;
            return Err(self.syntax("escaped lone surrogate in a member name"));
        }
        Ok(s)
    }

    /// A syntax error at the current position.
    pub fn syntax(&self, what: &str) -> CanonicalError {
        CanonicalError::Syntax(format!("{what} at byte {}", self.pos))
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn note(&mut self, kind: ProblemKind) {
        if self.problem.is_none() {
            self.problem = Some(Problem { kind, path: Vec::new() });
        }
    }

    fn value(&mut self) -> Result<Value, CanonicalError> {
        self.skip_ws();
        match self.bytes.get(self.pos) {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => self.string_inner().map(Value::String),
            Some(b't') => self.literal(b"true", Value::Bool(true)),
            Some(b'f') => self.literal(b"false", Value::Bool(false)),
            Some(b'n') => self.literal(b"null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.syntax("expected a JSON value")),
            None => Err(self.syntax("unexpected end of input, expected a JSON value")),
        }
    }

    fn literal(&mut self, word: &[u8], v: Value) -> Result<Value, CanonicalError> {
        if self.bytes[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(v)
        } else {
            Err(self.syntax("expected a JSON value"))
        }
    }

    fn enter(&mut self) -> Result<(), CanonicalError> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(self.syntax(&format!("nested deeper than {} levels", self.max_depth)));
        }
        self.pos += 1;
        Ok(())
    }

    fn object(&mut self) -> Result<Value, CanonicalError> {
        self.enter()?;
        let mut map = Map::new();
        if self.eat(b'}') {
            self.depth -= 1;
            return Ok(Value::Object(map));
        }
        loop {
            self.skip_ws();
            if self.bytes.get(self.pos) != Some(&b'"') {
                return Err(self.syntax("expected a member name in double quotes"));
            }
            let key = self.string_inner()?;
            if !self.eat(b':') {
                return Err(self.syntax("expected ':' after a member name"));
            }
            let had = self.problem.is_some();
            let v = self.value()?;
            if !had && let Some(p) = &mut self.problem {
                p.path.push(Segment::Key(key.clone()));
            }
            match map.entry(key) {
                Entry::Vacant(e) => {
                    e.insert(v);
                }
                Entry::Occupied(e) => {
                    let name = e.key().clone();
                    self.note(ProblemKind::Duplicate(name));
                }
            }
            if self.eat(b',') {
                continue;
            }
            if self.eat(b'}') {
                break;
            }
            return Err(self.syntax("expected ',' or '}' in an object"));
        }
        self.depth -= 1;
        Ok(Value::Object(map))
    }

    fn array(&mut self) -> Result<Value, CanonicalError> {
        self.enter()?;
        let mut items = Vec::new();
        if self.eat(b']') {
            self.depth -= 1;
            return Ok(Value::Array(items));
        }
        loop {
            let had = self.problem.is_some();
            let v = self.value()?;
            if !had && let Some(p) = &mut self.problem {
                p.path.push(Segment::Index(items.len()));
            }
            items.push(v);
            if self.eat(b',') {
                continue;
            }
            if self.eat(b']') {
                break;
            }
            return Err(self.syntax("expected ',' or ']' in an array"));
        }
        self.depth -= 1;
        Ok(Value::Array(items))
    }

    /// RFC 8259 number grammar; only integers in the safe range are values, anything else is noted as a
    /// problem (after consuming the whole number, so the parse can go on).
    fn number(&mut self) -> Result<Value, CanonicalError> {
        let b = self.bytes;
        let negative = b[self.pos] == b'-';
        if negative {
            self.pos += 1;
        }
        let digits_start = self.pos;
        match b.get(self.pos) {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                while let Some(b'0'..=b'9') = b.get(self.pos) {
                    self.pos += 1;
                }
            }
            _ => return Err(self.syntax("expected a digit in a number")),
        }
        let digits_end = self.pos;
        let mut integer = true;
        if b.get(self.pos) == Some(&b'.') {
            integer = false;
            self.pos += 1;
            if !matches!(b.get(self.pos), Some(b'0'..=b'9')) {
                return Err(self.syntax("expected a digit after the decimal point"));
            }
            while let Some(b'0'..=b'9') = b.get(self.pos) {
                self.pos += 1;
            }
        }
        if let Some(b'e' | b'E') = b.get(self.pos) {
            integer = false;
            self.pos += 1;
            if let Some(b'+' | b'-') = b.get(self.pos) {
                self.pos += 1;
            }
            if !matches!(b.get(self.pos), Some(b'0'..=b'9')) {
                return Err(self.syntax("expected a digit in the exponent"));
            }
            while let Some(b'0'..=b'9') = b.get(self.pos) {
                self.pos += 1;
            }
        }
        // 2^53 − 1 has 16 digits; longer integers are out of range whatever they say.
        if !integer || digits_end - digits_start > 16 {
            self.note(ProblemKind::Number);
            return Ok(Value::Null);
        }
        let mut magnitude = 0u64;
        for &d in &b[digits_start..digits_end] {
            magnitude = magnitude * 10 + u64::from(d - b'0');
        }
        if magnitude > MAX_SAFE_INTEGER {
            self.note(ProblemKind::Number);
            return Ok(Value::Null);
        }
        // `-0` is the integer zero (FORMAT.md §2), canonical `0`.
        Ok(Value::Number(if negative && magnitude != 0 {
            Number::from(-(magnitude as i64))
        } else {
            Number::from(magnitude)
        }))
    }

    /// Reads a string at `"`: UTF-8 checked, control characters refused, escapes decoded, lone surrogates noted.
    fn string_inner(&mut self) -> Result<String, CanonicalError> {
        let b = self.bytes;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let run_start = self.pos;
            while let Some(&c) = b.get(self.pos) {
                if c == b'"' || c == b'\\' || c < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            if self.pos > run_start {
                // A run ends at an ASCII byte or the input's end, so it never splits a UTF-8 sequence.
                let run = std::str::from_utf8(&b[run_start..self.pos]).map_err(|e| {
                    CanonicalError::Syntax(format!("invalid UTF-8 at byte {}", run_start + e.valid_up_to()))
                })?;
                if out.is_empty() && b.get(self.pos) == Some(&b'"') {
                    self.pos += 1;
                    return Ok(run.to_owned());
                }
                out.push_str(run);
            }
            match b.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    self.escape(&mut out)?;
                }
                Some(_) => return Err(self.syntax("unescaped control character in a string")),
                None => return Err(self.syntax("unterminated string")),
            }
        }
    }

    fn escape(&mut self, out: &mut String) -> Result<(), CanonicalError> {
        let c = match self.bytes.get(self.pos) {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{08}',
            Some(b'f') => '\u{0C}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.pos += 1;
                let unit = self.hex4()?;
                let c = match unit {
                    0xD800..=0xDBFF => {
                        // A high surrogate must be followed by an escaped low one; otherwise it stands alone
                        // and the next escape (if any) is read on its own.
                        let rest = &self.bytes[self.pos..];
                        let low = if rest.len() >= 6 && rest[0] == b'\\' && rest[1] == b'u' {
                            hex4_value(&rest[2..6]).filter(|l| (0xDC00..=0xDFFF).contains(l))
                        } else {
                            None
                        };
                        match low {
                            Some(low) => {
                                self.pos += 6;
                                char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
                            }
                            None => None,
                        }
                    }
                    0xDC00..=0xDFFF => None,
                    u => char::from_u32(u),
                };
                match c {
                    Some(c) => out.push(c),
                    None => {
                        self.note(ProblemKind::LoneSurrogate);
                        out.push(char::REPLACEMENT_CHARACTER);
                    }
                }
                return Ok(());
            }
            _ => return Err(self.syntax("invalid escape in a string")),
        };
        self.pos += 1;
        out.push(c);
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, CanonicalError> {
        match self.bytes.get(self.pos..self.pos + 4).and_then(hex4_value) {
            Some(v) => {
                self.pos += 4;
                Ok(v)
            }
            None => Err(self.syntax("expected four hex digits after \\u")),
        }
    }
}

fn hex4_value(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |acc, &d| Some(acc * 16 + (d as char).to_digit(16)?))
}

/// Checks that every number in `value` is an integer in the safe range; the error names the first that is not by
/// its JSON Pointer under `path`.
pub fn check_numbers(value: &Value, path: &mut String) -> Result<(), CanonicalError> {
    // Every envelope signed or read passes here (the gateway signs thousands a second): walk without building
    // paths, and build the pointer only for a value that fails.
    if numbers_are_safe(value) { Ok(()) } else { locate_unsafe_number(value, path) }
}

fn numbers_are_safe(value: &Value) -> bool {
    match value {
        Value::Number(n) => safe_integer(n),
        Value::Array(items) => items.iter().all(numbers_are_safe),
        Value::Object(map) => map.values().all(numbers_are_safe),
        _ => true,
    }
}

fn locate_unsafe_number(value: &Value, path: &mut String) -> Result<(), CanonicalError> {
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
                locate_unsafe_number(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Object(map) => {
            for (k, v) in map {
                let len = path.len();
                path.push('/');
                path.push_str(&k.replace('~', "~0").replace('/', "~1"));
                locate_unsafe_number(v, path)?;
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

/// The canonical bytes of an object, and the byte range that member `name` (with one separating comma) occupies
/// in them: cutting that range out gives exactly the canonical bytes of the object without the member. The
/// envelope uses it to get its leaf (with `sig`) and its signed message (without) from one canonicalisation.
pub fn to_canonical_with_member(map: &Map<String, Value>, name: &str) -> (Vec<u8>, Option<Range<usize>>) {
    let mut out = Vec::with_capacity(512);
    let mut span = None;
    write_object(map, &mut out, Some((name, &mut span)));
    (out, span)
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
        Value::Object(map) => write_object(map, out, None),
    }
}

fn write_object(map: &Map<String, Value>, out: &mut Vec<u8>, mut mark: Option<(&str, &mut Option<Range<usize>>)>) {
    out.push(b'{');
    let mut member = |i: usize, k: &str, v: &Value, out: &mut Vec<u8>| {
        let start = out.len();
        if i > 0 {
            out.push(b',');
        }
        write_string(k, out);
        out.push(b':');
        write_value(v, out);
        if let Some((name, span)) = &mut mark
            && *name == k
        {
            // The first member takes the comma after it, any other the comma before it.
            let end = if i == 0 && map.len() > 1 { out.len() + 1 } else { out.len() };
            **span = Some(start..end);
        }
    };
    // JCS orders members by the UTF-16 code units of their names. For ASCII names that is byte order, which is the
    // order the map iterates in (serde_json's map is a BTreeMap here), so the common case needs no sort.
    if map.keys().all(|k| k.is_ascii()) {
        for (i, (k, v)) in map.iter().enumerate() {
            member(i, k, v, out);
        }
    } else {
        let mut members: Vec<(&String, &Value)> = map.iter().collect();
        members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
        for (i, (k, v)) in members.into_iter().enumerate() {
            member(i, k, v, out);
        }
    }
    out.push(b'}');
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

/// JCS string form: ECMAScript `JSON.stringify` escapes, everything else as raw UTF-8. Every escaped character is
/// ASCII, so runs of other bytes are copied whole.
fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x09 => b"\\t",
            0x0A => b"\\n",
            0x0C => b"\\f",
            0x0D => b"\\r",
            0x00..=0x1F => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[run..i]);
        run = i + 1;
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        } else {
            out.extend_from_slice(esc);
        }
    }
    out.extend_from_slice(&bytes[run..]);
    out.push(b'"');
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
        assert_eq!(
            parse_strict(br#"{"a":1,"a":2}"#),
            Err(CanonicalError::Duplicate { name: "a".into(), path: String::new() })
        );
        assert_eq!(
            parse_strict(br#"{"x":[{"b":1},{"c":{"b":1,"b":1}}]}"#),
            Err(CanonicalError::Duplicate { name: "b".into(), path: "/x/1/c".into() })
        );
        assert_eq!(parse_strict(br#"{"a":{"b":[1,2.5]}}"#), Err(CanonicalError::Number { path: "/a/b/1".into() }));
        assert!(parse_strict(br#"{"a":1.0}"#).is_err());
        assert!(parse_strict(b"9007199254740992").is_err());
        assert!(parse_strict(b"-9007199254740991").is_ok());
        assert!(parse_strict(b"{} x").is_err());
    }

    #[test]
    fn minus_zero_is_the_integer_zero_and_minus_zero_point_zero_is_a_float() {
        // FORMAT.md §2; serde_json would read `-0` as the float -0.0 and refuse it.
        let v = parse_strict(br#"{"a":-0,"b":[0,-1]}"#).expect("-0 is an integer");
        assert_eq!(to_canonical(&v), br#"{"a":0,"b":[0,-1]}"#);
        for bad in
            [&br#"{"a":-0.0}"#[..], br#"{"a":0e0}"#, br#"{"a":-0E1}"#, br#"{"a":123456789012345678901234567890}"#]
        {
            assert_eq!(parse_strict(bad), Err(CanonicalError::Number { path: "/a".into() }));
        }
        for bad in [&b"{\"a\":01}"[..], b"{\"a\":-}", b"{\"a\":1.}", b"{\"a\":.5}", b"{\"a\":1e}", b"{\"a\":+1}"] {
            assert!(matches!(parse_strict(bad), Err(CanonicalError::Syntax(_))), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn strings_follow_the_input_rules() {
        assert_eq!(parse_strict(br#"["\ud83d\ude00","\u00e9\/"]"#), Ok(serde_json::json!(["\u{1F600}", "é/"])));
        for (bad, path) in
            [(&br#"{"a":"\ud800"}"#[..], "/a"), (br#"["x","\udc00"]"#, "/1"), (br#"["\ude00\ud83d"]"#, "/0")]
        {
            assert_eq!(parse_strict(bad), Err(CanonicalError::LoneSurrogate { path: path.into() }));
        }
        // A lone high surrogate followed by another escape: both are read, the pair is not formed.
        assert_eq!(parse_strict(br#"["\ud83d\u0041"]"#), Err(CanonicalError::LoneSurrogate { path: "/0".into() }));
        for bad in
            [&b"\xEF\xBB\xBF{}"[..], b"[\"\x01\"]", b"[\"\xff\"]", b"[\"\xed\xa0\x80\"]", b"[\"\\x\"]", b"[\"\\u12\"]"]
        {
            assert!(matches!(parse_strict(bad), Err(CanonicalError::Syntax(_))), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn nesting_is_bounded_without_overflowing_the_stack() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse_strict(ok.as_bytes()).is_ok());
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(matches!(parse_strict(deep.as_bytes()), Err(CanonicalError::Syntax(m)) if m.contains("nested")));
    }

    #[test]
    fn cutting_a_member_out_of_the_canonical_form_gives_the_canonical_form_without_it() {
        for doc in [r#"{"a":1,"sig":"x","z":[1]}"#, r#"{"sig":"x","z":2}"#, r#"{"a":1,"sig":"x"}"#, r#"{"sig":"x"}"#] {
            let Value::Object(mut map) = parse_strict(doc.as_bytes()).expect("valid") else { panic!("object") };
            let (full, span) = to_canonical_with_member(&map, "sig");
            let span = span.expect("member present");
            map.remove("sig");
            let mut cut = full[..span.start].to_vec();
            cut.extend_from_slice(&full[span.end..]);
            assert_eq!(cut, to_canonical(&Value::Object(map)), "{doc}");
        }
    }
}
