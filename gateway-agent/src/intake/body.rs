//! Reads a JSON body into a domain payload type through serde, so the type is the only definition of its members:
//! a deserializer over `serde_json::Value` whose errors say which member ([`BodyError::path`]: `load_t`,
//! `items[2].code`) and what was expected, and **never the value sent** (a value in the wrong member may be an ID
//! or card number). serde's own messages quote the value (`invalid type: string "…", expected u16`); here every
//! error is built by [`BodyError`]'s `serde::de::Error` methods, which only ever see the kind of value.
//!
//! One leniency for devices: where the type reads a string, a JSON number is read as its text (a black box sends
//! `"moment_pct": 71.5` for the contract's decimal string `"71.5"`); the type's own parser then checks it.

use std::fmt;

use serde::de::value::{BorrowedStrDeserializer, StrDeserializer};
use serde::de::{self, DeserializeOwned, DeserializeSeed, Expected, Unexpected, Visitor};
use serde::forward_to_deserialize_any;
use serde_json::{Map, Value};

/// What is wrong with a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A required member is absent or `null`.
    Missing,
    /// A member the type does not define; its members are listed.
    Unknown {
        /// The type's members.
        members: &'static [&'static str],
    },
    /// The value does not fit: what was expected (never the value).
    Invalid(String),
}

/// Why a body does not read as the type: where and what, never the value sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyError {
    path: Option<String>,
    problem: Problem,
}

impl BodyError {
    fn new(problem: Problem) -> Self {
        BodyError { path: Some(String::new()), problem }
    }

    /// The member's path (`load_t`, `items[2].code`; empty for the body itself), or `None` when the sender's
    /// member name is not repeated (not a plain name, or shaped like an ID or card number).
    pub fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }

    /// What is wrong.
    pub fn problem(&self) -> &Problem {
        &self.problem
    }

    /// The same error one level up: inside member `name`.
    fn in_member(mut self, name: &str) -> Self {
        self.path = match (shown(name), self.path) {
            (Some(name), Some(p)) if p.is_empty() => Some(name.to_owned()),
            (Some(name), Some(p)) if p.starts_with('[') => Some(format!("{name}{p}")),
            (Some(name), Some(p)) => Some(format!("{name}.{p}")),
            _ => None,
        };
        self
    }

    /// The same error one level up: inside element `index`.
    fn in_element(mut self, index: usize) -> Self {
        self.path = self.path.map(|p| {
            if p.is_empty() || p.starts_with('[') { format!("[{index}]{p}") } else { format!("[{index}].{p}") }
        });
        self
    }
}

/// A member name as the sender wrote it, if it may be repeated: a plain name, not shaped like an ID or card number.
pub fn shown(name: &str) -> Option<&str> {
    let plain = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    (plain && !siteledger_domain::personal::looks_like_personal_number(name)).then_some(name)
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = match self.path.as_deref() {
            Some("") => "the body".to_owned(),
            Some(p) => format!("`{p}`"),
            None => "a member whose name is not repeated".to_owned(),
        };
        match &self.problem {
            Problem::Missing => write!(f, "{at} is required"),
            Problem::Unknown { members } => write!(f, "{at} is not a member; members: {}", members.join(", ")),
            Problem::Invalid(what) => write!(f, "{at} {what}"),
        }
    }
}

impl std::error::Error for BodyError {}

/// The kind of a value, for messages that must not repeat it.
fn kind_of(unexpected: &Unexpected<'_>) -> &'static str {
    match unexpected {
        Unexpected::Bool(_) => "a boolean",
        Unexpected::Unsigned(_) | Unexpected::Signed(_) | Unexpected::Float(_) => "a number",
        Unexpected::Char(_) | Unexpected::Str(_) => "a string",
        Unexpected::Bytes(_) => "bytes",
        Unexpected::Unit => "null",
        Unexpected::Seq => "an array",
        Unexpected::Map => "an object",
        _ => "another kind of value",
    }
}

/// What serde's visitor expected, in words (`u16` → `an integer from 0 to 65535`).
fn expected(exp: &dyn Expected) -> String {
    let text = exp.to_string();
    let range = |lo: i128, hi: i128| format!("an integer from {lo} to {hi}");
    match text.as_str() {
        "u8" => range(0, u8::MAX.into()),
        "u16" => range(0, u16::MAX.into()),
        "u32" => range(0, u32::MAX.into()),
        "u64" => range(0, u64::MAX.into()),
        "i8" => range(i8::MIN.into(), i8::MAX.into()),
        "i16" => range(i16::MIN.into(), i16::MAX.into()),
        "i32" => range(i32::MIN.into(), i32::MAX.into()),
        "i64" => range(i64::MIN.into(), i64::MAX.into()),
        _ => text,
    }
}

impl de::Error for BodyError {
    /// The type's own parser refused the value: its messages name the rule, not the value (the domain's types
    /// are written that way, see `siteledger_domain::personal`).
    fn custom<T: fmt::Display>(msg: T) -> Self {
        BodyError::new(Problem::Invalid(msg.to_string()))
    }

    fn invalid_type(unexpected: Unexpected<'_>, exp: &dyn Expected) -> Self {
        if unexpected == Unexpected::Unit {
            // `null` where a value is required reads as an absent member.
            return BodyError::new(Problem::Missing);
        }
        BodyError::new(Problem::Invalid(format!("must be {}, got {}", expected(exp), kind_of(&unexpected))))
    }

    fn invalid_value(unexpected: Unexpected<'_>, exp: &dyn Expected) -> Self {
        BodyError::new(Problem::Invalid(format!(
            "must be {}, got {} that does not fit",
            expected(exp),
            kind_of(&unexpected)
        )))
    }

    fn invalid_length(len: usize, exp: &dyn Expected) -> Self {
        BodyError::new(Problem::Invalid(format!("must be {exp}, got {len} elements")))
    }

    fn unknown_variant(_variant: &str, expected: &'static [&'static str]) -> Self {
        BodyError::new(Problem::Invalid(format!("must be one of {}", expected.join(", "))))
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        BodyError { path: shown(field).map(str::to_owned), problem: Problem::Unknown { members: expected } }
    }

    fn missing_field(field: &'static str) -> Self {
        BodyError { path: Some(field.to_owned()), problem: Problem::Missing }
    }

    fn duplicate_field(field: &'static str) -> Self {
        BodyError { path: Some(field.to_owned()), problem: Problem::Invalid("appears twice".into()) }
    }
}

/// Reads `body` as a `T`.
pub fn read<T: DeserializeOwned>(body: &Map<String, Value>) -> Result<T, BodyError> {
    T::deserialize(Node::Object(body))
}

/// A JSON value being read.
#[derive(Clone, Copy)]
enum Node<'de> {
    Value(&'de Value),
    Object(&'de Map<String, Value>),
}

impl<'de> de::Deserializer<'de> for Node<'de> {
    type Error = BodyError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BodyError> {
        let value = match self {
            Node::Object(map) => return visitor.visit_map(Members { iter: map.iter(), value: None }),
            Node::Value(v) => v,
        };
        match value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(u), _, _) => visitor.visit_u64(u),
                (None, Some(i), _) => visitor.visit_i64(i),
                (None, None, Some(f)) => visitor.visit_f64(f),
                (None, None, None) => Err(BodyError::new(Problem::Invalid("is a number out of range".into()))),
            },
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Array(items) => visitor.visit_seq(Elements { iter: items.iter(), index: 0 }),
            Value::Object(map) => visitor.visit_map(Members { iter: map.iter(), value: None }),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BodyError> {
        match self {
            Node::Value(Value::Number(n)) => visitor.visit_string(n.to_string()),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BodyError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BodyError> {
        match self {
            Node::Value(Value::Null) => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, BodyError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, BodyError> {
        match self {
            // Unit variants, the only ones payloads have (`"face"`, `"raised"`, `"2011"`).
            Node::Value(Value::String(s)) => visitor.visit_enum(StrDeserializer::<BodyError>::new(s)),
            Node::Value(Value::Null) => Err(BodyError::new(Problem::Missing)),
            Node::Value(v) => Err(BodyError::new(Problem::Invalid(format!(
                "must be one of {}, got {}",
                variants.join(", "),
                kind_of(&unexpected(v))
            )))),
            Node::Object(_) => {
                Err(BodyError::new(Problem::Invalid(format!("must be one of {}, got an object", variants.join(", ")))))
            }
        }
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf unit unit_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

/// The kind of a JSON value, as serde names it (never with the value: see [`kind_of`]).
fn unexpected(v: &Value) -> Unexpected<'static> {
    match v {
        Value::Null => Unexpected::Unit,
        Value::Bool(_) => Unexpected::Bool(false),
        Value::Number(_) => Unexpected::Unsigned(0),
        Value::String(_) => Unexpected::Str(""),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

/// The members of an object, each read where its errors say its name.
struct Members<'de> {
    iter: serde_json::map::Iter<'de>,
    value: Option<(&'de str, &'de Value)>,
}

impl<'de> de::MapAccess<'de> for Members<'de> {
    type Error = BodyError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, BodyError> {
        let Some((name, value)) = self.iter.next() else { return Ok(None) };
        self.value = Some((name, value));
        seed.deserialize(BorrowedStrDeserializer::<BodyError>::new(name)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, BodyError> {
        let (name, value) = self.value.take().ok_or_else(|| de::Error::custom("a value without its member"))?;
        seed.deserialize(Node::Value(value)).map_err(|e| e.in_member(name))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// The elements of an array, each read where its errors say its index.
struct Elements<'de> {
    iter: std::slice::Iter<'de, Value>,
    index: usize,
}

impl<'de> de::SeqAccess<'de> for Elements<'de> {
    type Error = BodyError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, BodyError> {
        let Some(value) = self.iter.next() else { return Ok(None) };
        let index = self.index;
        self.index += 1;
        seed.deserialize(Node::Value(value)).map(Some).map_err(|e| e.in_element(index))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use siteledger_domain::site::{CraneAlarm, Hj212Data, HoistSample};

    use super::*;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().cloned().expect("an object")
    }

    fn err<T: DeserializeOwned + fmt::Debug>(v: Value) -> BodyError {
        read::<T>(&body(v)).expect_err("refused")
    }

    fn alarm() -> Value {
        json!({"project_id": "NB-2025-0001", "device_id": "TC-01", "alarm_code": 61, "action": "raised"})
    }

    #[test]
    fn numbers_are_read_as_decimal_strings_and_null_optionals_as_absent() {
        let mut v = alarm();
        v["value"] = json!(12.5);
        v["message"] = Value::Null;
        let a: CraneAlarm = read(&body(v)).expect("reads");
        assert_eq!((a.value.as_ref().map(|d| d.as_str()), a.message), (Some("12.5"), None));
    }

    /// serde's own message for a string in an integer member is `invalid type: string "330203199001011234",
    /// expected u16`: the value, echoed back to whoever sent it.
    #[test]
    fn a_wrong_type_names_the_member_and_never_the_value() {
        let id = "330203199001011234";
        for (member, value) in
            [("alarm_code", json!(id)), ("action", json!(id)), ("action", json!(330203199001011234u64))]
        {
            let mut v = alarm();
            v[member] = value;
            let e = err::<CraneAlarm>(v);
            assert_eq!(e.path(), Some(member));
            assert!(!e.to_string().contains("3302031990"), "{e}");
        }
        let mut v = alarm();
        v["action"] = json!("started");
        assert_eq!(err::<CraneAlarm>(v).to_string(), "`action` must be one of raised, cleared");
    }

    #[test]
    fn missing_null_unknown_and_out_of_range_members_are_named() {
        let mut v = alarm();
        v.as_object_mut().expect("object").remove("action");
        assert_eq!(err::<CraneAlarm>(v).to_string(), "`action` is required");
        let mut v = alarm();
        v["action"] = Value::Null;
        assert_eq!(err::<CraneAlarm>(v).problem(), &Problem::Missing);
        let mut v = alarm();
        v["driver_id"] = json!("x");
        let e = err::<CraneAlarm>(v);
        assert_eq!(e.path(), Some("driver_id"));
        assert!(matches!(e.problem(), Problem::Unknown { members } if members.contains(&"alarm_code")));
        let mut v = alarm();
        v["alarm_code"] = json!(70_000);
        assert_eq!(
            err::<CraneAlarm>(v).to_string(),
            "`alarm_code` must be an integer from 0 to 65535, got a number that does not fit"
        );
        let hoist = json!({"project_id": "NB-2025-0001", "device_id": "SC-01", "sampled_at": "2026-11-24T10:15:00+08:00",
            "load_kg": "1", "load_pct": "1", "people": 1, "cage": 7, "direction": 0, "height_m": "1", "speed_m_s": "1",
            "wind_m_s": "1", "tilt_deg": "1"});
        assert_eq!(err::<HoistSample>(hoist).path(), Some("cage"));
    }

    /// A member *name* can be personal data too (`{"330203199001011234": "x"}`): it is not repeated.
    #[test]
    fn an_id_number_as_member_name_is_not_repeated() {
        let mut v = alarm();
        v["330203199001011234"] = json!("x");
        let e = err::<CraneAlarm>(v);
        assert_eq!(e.path(), None);
        assert!(!e.to_string().contains("330203199001011234"), "{e}");
    }

    #[test]
    fn nested_paths_name_the_element() {
        let v = json!({"project_id": "NB-2025-0001", "device_id": "HJ-01", "mn": "X", "st": "39", "cn": "2011",
            "data_time": "2026-11-24T10:15:00+08:00", "deviations": [], "items": [{"code": "a34002"}, {"code": "a 1"}]});
        assert_eq!(err::<Hj212Data>(v).path(), Some("items[1].code"));
    }
}
