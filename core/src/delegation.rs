//! Delegation: the RFC 8693 section 4.1 `act` (actor) claim.
//!
//! `act` is a JSON object whose `sub` names the party acting for the token's subject; it
//! may itself carry an `act` for the previous actor, and so on. The outermost `act.sub` is
//! the current actor; the chain lists actors newest to oldest.
//!
//! A malformed `act` is an `invalid_request`, as in the reference SDK: not an object
//! (JSON `null` included), or a `sub` that is not a string with a non-white-space character.
//! Unlike the reference SDK, a nested `act` that is present but not an object (`null`, `0`,
//! `""`) is also malformed rather than ending the chain, and both functions check the whole
//! chain so they never disagree. Walking is iterative and stops after
//! [`MAX_DELEGATION_DEPTH`] actors.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde_json::{Map, Value};

use crate::claims::Claims;

/// The most actors a delegation chain may hold.
pub const MAX_DELEGATION_DEPTH: usize = 32;

/// The current actor: the outermost `act.sub`, or `None` when the token has no `act`.
///
/// # Errors
/// [`DelegationError`] when any `act` in the chain is malformed or the chain is longer than
/// [`MAX_DELEGATION_DEPTH`].
pub fn current_actor(claims: &Map<String, Value>) -> Result<Option<&str>, DelegationError> {
    let mut first = None;
    walk(claims, |sub| {
        first.get_or_insert(sub);
    })?;
    Ok(first)
}

/// The actors, newest (outermost `act.sub`) to oldest; empty when the token has no `act`.
///
/// # Errors
/// As for [`current_actor`].
pub fn delegation_chain(claims: &Map<String, Value>) -> Result<Vec<&str>, DelegationError> {
    let mut chain = Vec::new();
    walk(claims, |sub| chain.push(sub))?;
    Ok(chain)
}

impl Claims {
    /// The current actor of RFC 8693 delegation; see [`current_actor`].
    ///
    /// # Errors
    /// As for [`current_actor`].
    pub fn current_actor(&self) -> Result<Option<String>, DelegationError> {
        let act = self.act();
        current_actor(&act).map(|actor| actor.map(String::from))
    }

    /// The delegation chain, newest to oldest; see [`delegation_chain`].
    ///
    /// # Errors
    /// As for [`current_actor`].
    pub fn delegation_chain(&self) -> Result<Vec<String>, DelegationError> {
        let act = self.act();
        delegation_chain(&act).map(|chain| chain.into_iter().map(String::from).collect())
    }

    /// A map holding only the `act` claim, when present: all the walk reads.
    fn act(&self) -> Map<String, Value> {
        self.get("act")
            .map(|act| (String::from("act"), act))
            .into_iter()
            .collect()
    }
}

/// Calls `visit` with each actor's `sub`, outermost first, after checking its shape.
fn walk<'c>(
    claims: &'c Map<String, Value>,
    mut visit: impl FnMut(&'c str),
) -> Result<(), DelegationError> {
    let mut next = claims.get("act");
    let mut depth = 0usize;
    while let Some(act) = next {
        depth = depth.saturating_add(1);
        if depth > MAX_DELEGATION_DEPTH {
            return Err(DelegationError::TooDeep);
        }
        let Value::Object(act) = act else {
            return Err(DelegationError::NotAnObject);
        };
        match act.get("sub") {
            Some(Value::String(sub)) if !sub.trim().is_empty() => visit(sub),
            _ => return Err(DelegationError::InvalidSubject),
        }
        next = act.get("act");
    }
    Ok(())
}

/// Why an `act` claim is malformed. Always `invalid_request`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DelegationError {
    /// An `act` is not a JSON object.
    NotAnObject,
    /// An `act` has no `sub`, or it is not a non-blank string.
    InvalidSubject,
    /// More than [`MAX_DELEGATION_DEPTH`] nested actors.
    TooDeep,
}

impl DelegationError {
    /// The OAuth error code: always `invalid_request`.
    pub const fn code(&self) -> &'static str {
        "invalid_request"
    }
}

impl fmt::Display for DelegationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DelegationError::NotAnObject => "invalid \"act\" claim: not an object",
            DelegationError::InvalidSubject => {
                "invalid \"act\" claim: sub must be a non-empty string"
            }
            DelegationError::TooDeep => "invalid \"act\" claim: delegation chain too deep",
        })
    }
}

impl core::error::Error for DelegationError {}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::ToString;
    use alloc::vec;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    type Case = (
        &'static str,
        Value,
        Result<Vec<&'static str>, DelegationError>,
    );

    #[test]
    fn table() {
        use DelegationError as E;
        let cases: &[Case] = &[
            ("no act", json!({"sub": "user"}), Ok(vec![])),
            ("one", json!({"act": {"sub": "svc-b"}}), Ok(vec!["svc-b"])),
            (
                "two",
                json!({"act": {"sub": "svc-b", "act": {"sub": "svc-a"}}}),
                Ok(vec!["svc-b", "svc-a"]),
            ),
            (
                "extra members",
                json!({"act": {"sub": "b", "iss": "x", "x": [1]}}),
                Ok(vec!["b"]),
            ),
            ("act null", json!({"act": null}), Err(E::NotAnObject)),
            ("act string", json!({"act": "svc"}), Err(E::NotAnObject)),
            (
                "act array",
                json!({"act": [{"sub": "svc"}]}),
                Err(E::NotAnObject),
            ),
            ("sub missing", json!({"act": {}}), Err(E::InvalidSubject)),
            (
                "sub empty",
                json!({"act": {"sub": ""}}),
                Err(E::InvalidSubject),
            ),
            (
                "sub blank",
                json!({"act": {"sub": " \t"}}),
                Err(E::InvalidSubject),
            ),
            (
                "sub number",
                json!({"act": {"sub": 1}}),
                Err(E::InvalidSubject),
            ),
            (
                "nested null",
                json!({"act": {"sub": "b", "act": null}}),
                Err(E::NotAnObject),
            ),
            (
                "nested zero",
                json!({"act": {"sub": "b", "act": 0}}),
                Err(E::NotAnObject),
            ),
            (
                "nested bad sub",
                json!({"act": {"sub": "b", "act": {"sub": ""}}}),
                Err(E::InvalidSubject),
            ),
        ];
        for (name, claims, expected) in cases {
            let claims = map(claims.clone());
            assert_eq!(&delegation_chain(&claims), expected, "chain {name}");
            let actor = expected
                .as_ref()
                .map(|c| c.first().copied())
                .map_err(|e| *e);
            assert_eq!(current_actor(&claims), actor, "actor {name}");
            let owned = expected
                .as_ref()
                .map(|chain| chain.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .map_err(|e| *e);
            assert_eq!(
                Claims::from_map(claims.clone()).unwrap().delegation_chain(),
                owned,
                "claims {name}"
            );
        }
    }

    fn nested(depth: usize) -> Map<String, Value> {
        let mut act = json!({"sub": "actor-0"});
        for i in 1..depth {
            act = json!({"sub": format!("actor-{i}"), "act": act});
        }
        map(json!({ "act": act }))
    }

    #[test]
    fn depth_is_bounded() {
        let ok = nested(MAX_DELEGATION_DEPTH);
        assert_eq!(delegation_chain(&ok).unwrap().len(), MAX_DELEGATION_DEPTH);
        let deep = nested(MAX_DELEGATION_DEPTH + 1);
        assert_eq!(delegation_chain(&deep), Err(DelegationError::TooDeep));
        assert_eq!(current_actor(&deep), Err(DelegationError::TooDeep));
    }

    #[test]
    fn ten_thousand_deep_without_recursion() {
        // T-29: built and dropped iteratively, walked without recursion.
        let mut act = Value::Null;
        for _ in 0..10_000 {
            let mut m = Map::new();
            m.insert("sub".to_string(), Value::String("a".to_string()));
            if !act.is_null() {
                m.insert("act".to_string(), act);
            }
            act = Value::Object(m);
        }
        let mut claims = Map::new();
        claims.insert("act".to_string(), act);
        assert_eq!(delegation_chain(&claims), Err(DelegationError::TooDeep));
        // Take the nested values apart one level at a time so dropping cannot overflow.
        let mut next = claims.remove("act");
        while let Some(Value::Object(mut m)) = next {
            next = m.remove("act");
        }
    }

    #[test]
    fn code_and_display() {
        assert_eq!(DelegationError::TooDeep.code(), "invalid_request");
        assert_eq!(
            DelegationError::NotAnObject.to_string(),
            "invalid \"act\" claim: not an object"
        );
    }
}
