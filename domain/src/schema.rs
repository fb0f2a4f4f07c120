//! The schema machinery every payload kind uses: object members, required or optional, each checked by a newtype
//! parser, with errors that carry the path of the member (`participants[1].credit_code`).
//!
//! Subsystem modules declare `const X: &[Member] = &[req("project_id", is::<ProjectId>), …]` and call
//! [`typed`] from their `parse` function.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::payload::PayloadError;

/// What is wrong, and where (relative path: empty, `name`, `[2]`, `[2].name`).
#[derive(Debug)]
pub(crate) struct Issue {
    pub(crate) path: String,
    pub(crate) problem: Problem,
}

#[derive(Debug)]
pub(crate) enum Problem {
    Missing,
    Unknown,
    Invalid(String),
}

impl Issue {
    pub(crate) fn invalid(rule: impl Into<String>) -> Self {
        Self { path: String::new(), problem: Problem::Invalid(rule.into()) }
    }

    /// Prefixes the path with a member name or an index (`[i]`).
    pub(crate) fn under(mut self, segment: &str) -> Self {
        self.path = if self.path.is_empty() {
            segment.to_owned()
        } else if self.path.starts_with('[') {
            format!("{segment}{}", self.path)
        } else {
            format!("{segment}.{}", self.path)
        };
        self
    }

    fn into_error(self, kind: &'static str) -> PayloadError {
        let field = self.path;
        match self.problem {
            Problem::Missing => PayloadError::MissingField { kind, field },
            Problem::Unknown => PayloadError::UnknownField { kind, field },
            Problem::Invalid(rule) => PayloadError::InvalidField { kind, field, rule },
        }
    }
}

/// One member of an object schema. Optional members may also be `null`.
pub(crate) struct Member {
    pub(crate) name: &'static str,
    pub(crate) required: bool,
    pub(crate) check: fn(&Value) -> Result<(), Issue>,
}

pub(crate) const fn req(name: &'static str, check: fn(&Value) -> Result<(), Issue>) -> Member {
    Member { name, required: true, check }
}

pub(crate) const fn opt(name: &'static str, check: fn(&Value) -> Result<(), Issue>) -> Member {
    Member { name, required: false, check }
}

/// The value deserializes as `T` (running `T`'s parser).
pub(crate) fn is<T: DeserializeOwned>(v: &Value) -> Result<(), Issue> {
    T::deserialize(v).map(drop).map_err(|e| Issue::invalid(e.to_string()))
}

/// An array whose every element deserializes as `T`.
pub(crate) fn each<T: DeserializeOwned>(v: &Value) -> Result<(), Issue> {
    let items = v.as_array().ok_or_else(|| Issue::invalid("expected an array"))?;
    for (i, item) in items.iter().enumerate() {
        is::<T>(item).map_err(|e| e.under(&format!("[{i}]")))?;
    }
    Ok(())
}

/// An array of objects, each matching `members`.
pub(crate) fn each_object(v: &Value, members: &[Member]) -> Result<(), Issue> {
    let items = v.as_array().ok_or_else(|| Issue::invalid("expected an array"))?;
    for (i, item) in items.iter().enumerate() {
        let obj = item.as_object().ok_or_else(|| Issue::invalid("expected an object").under(&format!("[{i}]")))?;
        check_members(obj, members).map_err(|e| e.under(&format!("[{i}]")))?;
    }
    Ok(())
}

pub(crate) fn check_members(obj: &Map<String, Value>, members: &[Member]) -> Result<(), Issue> {
    if let Some(name) = obj.keys().find(|k| !members.iter().any(|m| m.name == k.as_str())) {
        return Err(Issue { path: name.clone(), problem: Problem::Unknown });
    }
    for m in members {
        match obj.get(m.name) {
            None if m.required => return Err(Issue { path: m.name.to_owned(), problem: Problem::Missing }),
            None => {}
            Some(Value::Null) if !m.required => {}
            Some(v) => (m.check)(v).map_err(|e| e.under(m.name))?,
        }
    }
    Ok(())
}

/// Checks `payload` against `members`, then deserializes it as `T`.
pub(crate) fn typed<T: DeserializeOwned>(
    kind: &'static str,
    payload: &Map<String, Value>,
    members: &[Member],
) -> Result<T, PayloadError> {
    check_members(payload, members).map_err(|e| e.into_error(kind))?;
    serde_json::from_value(Value::Object(payload.clone()))
        .map_err(|e| PayloadError::Invalid { kind, reason: e.to_string() })
}
