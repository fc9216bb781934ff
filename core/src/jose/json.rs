//! Strict JSON for untrusted documents: duplicate member names and deep nesting are errors.
//!
//! RFC 7515 section 5.2 and RFC 8725 section 2.6: a JSON object with duplicate member names
//! is ambiguous (parsers disagree on which one wins), so it is rejected rather than read
//! "last wins". Nesting is bounded so that hostile documents cannot exhaust the stack.

use alloc::string::String;
use core::cell::Cell;
use core::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// The default bound on nesting depth of any parsed document (objects and arrays).
pub const DEFAULT_MAX_DEPTH: usize = 32;

/// Why a JSON document was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JsonError {
    /// Not valid JSON text (including invalid UTF-8 and trailing data).
    Syntax,
    /// Nested deeper than allowed.
    TooDeep,
    /// An object has two members with the same name (after unescaping).
    DuplicateMember,
    /// The document is valid JSON but not an object.
    NotAnObject,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JsonError::Syntax => "invalid json",
            JsonError::TooDeep => "json nested too deeply",
            JsonError::DuplicateMember => "duplicate json member name",
            JsonError::NotAnObject => "json document is not an object",
        })
    }
}

impl core::error::Error for JsonError {}

/// Parses `bytes` as a JSON object, refusing duplicate member names and nesting deeper than
/// `max_depth` (the top-level object counts as depth 1).
///
/// # Errors
/// [`JsonError`] naming the first problem found.
pub fn parse_object(bytes: &[u8], max_depth: usize) -> Result<Map<String, Value>, JsonError> {
    match parse_value(bytes, max_depth)? {
        Value::Object(map) => Ok(map),
        _ => Err(JsonError::NotAnObject),
    }
}

/// Parses `bytes` as any JSON value with the rules of [`parse_object`].
///
/// # Errors
/// [`JsonError`] naming the first problem found.
pub fn parse_value(bytes: &[u8], max_depth: usize) -> Result<Value, JsonError> {
    let problem = Cell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let seed = Strict {
        depth_left: max_depth,
        problem: &problem,
    };
    let value = seed
        .deserialize(&mut de)
        .map_err(|_| problem.get().unwrap_or(JsonError::Syntax))?;
    de.end().map_err(|_| JsonError::Syntax)?;
    Ok(value)
}

/// The string member `name` of `members`, `None` when absent; `error(name)` when present with
/// another JSON type (never read as absent).
pub(crate) fn optional_string<E>(
    members: &Map<String, Value>,
    name: &'static str,
    error: impl FnOnce(&'static str) -> E,
) -> Result<Option<String>, E> {
    match members.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(error(name)),
    }
}

struct Strict<'p> {
    depth_left: usize,
    problem: &'p Cell<Option<JsonError>>,
}

impl Strict<'_> {
    fn fail<E: de::Error>(&self, problem: JsonError) -> E {
        self.problem.set(Some(problem));
        E::custom(problem)
    }

    fn nested<E: de::Error>(&self) -> Result<Self, E> {
        match self.depth_left.checked_sub(1) {
            Some(depth_left) => Ok(Strict {
                depth_left,
                problem: self.problem,
            }),
            None => Err(self.fail(JsonError::TooDeep)),
        }
    }
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a json value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| self.fail(JsonError::Syntax))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(String::from(v)))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = alloc::vec::Vec::new();
        while let Some(item) = seq.next_element_seed(self.nested()?)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            let value = map.next_value_seed(self.nested()?)?;
            if members.contains_key(&name) {
                return Err(self.fail(JsonError::DuplicateMember));
            }
            members.insert(name, value);
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn table() {
        let cases: &[(&str, &[u8], Result<(), JsonError>)] = &[
            (
                "plain",
                br#"{"a":1,"b":[true,null,"x"],"c":{"d":1.5}}"#,
                Ok(()),
            ),
            (
                "duplicate",
                br#"{"a":1,"a":2}"#,
                Err(JsonError::DuplicateMember),
            ),
            (
                "escaped duplicate",
                br#"{"alg":1,"\u0061lg":2}"#,
                Err(JsonError::DuplicateMember),
            ),
            (
                "nested duplicate",
                br#"{"a":{"x":1,"x":1}}"#,
                Err(JsonError::DuplicateMember),
            ),
            ("array", b"[1]", Err(JsonError::NotAnObject)),
            ("trailing", b"{} {}", Err(JsonError::Syntax)),
            ("truncated", b"{\"a\":", Err(JsonError::Syntax)),
            ("bad utf8", b"{\"a\":\"\xff\"}", Err(JsonError::Syntax)),
            (
                "lone surrogate",
                br#"{"a":"\ud800"}"#,
                Err(JsonError::Syntax),
            ),
            ("bom", b"\xef\xbb\xbf{}", Err(JsonError::Syntax)),
        ];
        for (name, input, expected) in cases {
            let got = parse_object(input, DEFAULT_MAX_DEPTH).map(|_| ());
            assert_eq!(&got, expected, "case {name}");
        }
    }

    #[test]
    fn depth_is_bounded_without_stack_overflow() {
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        let doc = "{\"a\":".to_string() + &deep + "}";
        assert_eq!(
            parse_object(doc.as_bytes(), DEFAULT_MAX_DEPTH),
            Err(JsonError::TooDeep)
        );
        let ok = "{\"a\":[[[]]]}";
        assert!(parse_object(ok.as_bytes(), 4).is_ok());
        assert_eq!(parse_object(ok.as_bytes(), 3), Err(JsonError::TooDeep));
    }
}
