//! What a route requires of a verified token: scopes, permissions and claim checks
//! ([`Policy`]), and the 403 `insufficient_scope` answer when a token falls short.
//!
//! Authorization runs after verification, on the verified [`Claims`], and needs no I/O.
//! [`Policy::check`] says whether the claims satisfy the policy;
//! [`Verifier::authorize`](crate::Verifier::authorize) turns a refusal into a
//! [`VerifyError`](crate::VerifyError) with status 403, code `insufficient_scope` and the
//! `WWW-Authenticate` challenges of RFC 6750 section 3.1:
//!
//! ```text
//! Bearer realm="api", error="insufficient_scope", error_description="insufficient scope", scope="read:orders write:orders"
//! ```
//!
//! A refusal never echoes a claim value: the description names the kind of requirement that
//! failed (scope, permissions or another claim), and `scope` lists the scopes the route
//! requires, which come from the policy, not from the token.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use serde_json::Value;

use crate::claims::Claims;

/// A caller-supplied check on verified claims.
type Predicate = Arc<dyn Fn(&Claims) -> bool + Send + Sync>;

/// What a route requires of verified claims. Every rule added must hold.
///
/// Scopes come from the `scope` claim (a space-separated string, RFC 9068 section 2.2.3),
/// permissions from Auth0's RBAC `permissions` claim (an array of strings). A claim of the
/// wrong type fails the rule that reads it, and an empty scope is never granted.
///
/// ```
/// use auth0_api::{Claims, Policy};
/// use serde_json::json;
///
/// let policy = Policy::new()
///     .all_scopes(["read:orders"])
///     .any_permission(["orders:admin", "orders:read"])
///     .claim_equals("org_id", "org_123");
///
/// let claims = |v: serde_json::Value| Claims::from_map(v.as_object().unwrap().clone()).unwrap();
/// let ok = claims(json!({
///     "scope": "openid read:orders",
///     "permissions": ["orders:read"],
///     "org_id": "org_123",
/// }));
/// assert!(policy.check(&ok).is_ok());
///
/// let denied = policy.check(&claims(json!({"scope": "openid"}))).unwrap_err();
/// assert_eq!(denied.required_scope(), Some("read:orders"));
/// ```
#[derive(Clone, Default)]
#[must_use]
pub struct Policy {
    rules: Vec<Rule>,
}

#[derive(Clone)]
enum Rule {
    Scopes { all: bool, values: Vec<String> },
    Permissions { all: bool, values: Vec<String> },
    ClaimEquals { name: String, value: Value },
    ClaimIncludes { name: String, values: Vec<String> },
    Predicate(Predicate),
}

impl Policy {
    /// A policy with no requirement: every verified token satisfies it.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requires every one of `scopes` in the `scope` claim. An empty list requires nothing.
    pub fn all_scopes<I, S>(self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.with(Rule::Scopes {
            all: true,
            values: strings(scopes),
        })
    }

    /// Requires at least one of `scopes` in the `scope` claim. An empty list can never be
    /// satisfied.
    pub fn any_scope<I, S>(self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.with(Rule::Scopes {
            all: false,
            values: strings(scopes),
        })
    }

    /// Requires every one of `permissions` in the `permissions` claim (Auth0 RBAC).
    pub fn all_permissions<I, S>(self, permissions: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.with(Rule::Permissions {
            all: true,
            values: strings(permissions),
        })
    }

    /// Requires at least one of `permissions` in the `permissions` claim. An empty list can
    /// never be satisfied.
    pub fn any_permission<I, S>(self, permissions: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.with(Rule::Permissions {
            all: false,
            values: strings(permissions),
        })
    }

    /// Requires claim `name` to equal `value` (JSON equality: `1` and `1.0` differ).
    pub fn claim_equals(self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.with(Rule::ClaimEquals {
            name: name.into(),
            value: value.into(),
        })
    }

    /// Requires claim `name` to include every one of `values`: an array holding them as
    /// strings, or a string holding them as space-separated words.
    pub fn claim_includes<I, S>(self, name: impl Into<String>, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.with(Rule::ClaimIncludes {
            name: name.into(),
            values: strings(values),
        })
    }

    /// Requires `predicate` to hold for the claims. A refusal says only that a claim check
    /// failed.
    pub fn predicate(self, predicate: impl Fn(&Claims) -> bool + Send + Sync + 'static) -> Self {
        self.with(Rule::Predicate(Arc::new(predicate)))
    }

    /// Whether the policy has no rule.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Checks `claims` against every rule, in the order they were added.
    ///
    /// # Errors
    /// [`Denied`] for the first rule that does not hold.
    pub fn check(&self, claims: &Claims) -> Result<(), Denied> {
        for rule in &self.rules {
            rule.check(claims)?;
        }
        Ok(())
    }

    fn with(mut self, rule: Rule) -> Self {
        self.rules.push(rule);
        self
    }
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.rules).finish()
    }
}

impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Scopes { all, values } => write!(f, "{} scopes {values:?}", quantifier(*all)),
            Rule::Permissions { all, values } => {
                write!(f, "{} permissions {values:?}", quantifier(*all))
            }
            Rule::ClaimEquals { name, .. } => write!(f, "claim {name:?} equals a value"),
            Rule::ClaimIncludes { name, values } => write!(f, "claim {name:?} includes {values:?}"),
            Rule::Predicate(_) => f.write_str("predicate"),
        }
    }
}

fn quantifier(all: bool) -> &'static str {
    if all { "all of" } else { "any of" }
}

fn strings<I, S>(values: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    values
        .into_iter()
        .map(|v| String::from(v.as_ref()))
        .collect()
}

impl Rule {
    fn check(&self, claims: &Claims) -> Result<(), Denied> {
        let holds = match self {
            Rule::Scopes { all, values } => {
                // A `scope` of another type grants nothing.
                let granted = claims.scope().ok().flatten().unwrap_or("");
                let has = |s: &String| words(granted).any(|g| g == s);
                quantify(*all, values, has)
            }
            Rule::Permissions { all, values } => {
                let granted = claims.get("permissions");
                let granted = match &granted {
                    Some(Value::Array(items)) => items.as_slice(),
                    _ => &[],
                };
                let has = |p: &String| granted.iter().any(|g| g.as_str() == Some(p.as_str()));
                quantify(*all, values, has)
            }
            Rule::ClaimEquals { name, value } => claims.get(name).as_ref() == Some(value),
            Rule::ClaimIncludes { name, values } => match claims.get(name) {
                Some(Value::Array(items)) => values
                    .iter()
                    .all(|v| items.iter().any(|i| i.as_str() == Some(v.as_str()))),
                Some(Value::String(text)) => {
                    values.iter().all(|v| words(&text).any(|w| w == v.as_str()))
                }
                _ => false,
            },
            Rule::Predicate(predicate) => predicate(claims),
        };
        if holds {
            return Ok(());
        }
        Err(match self {
            Rule::Scopes { values, .. } => Denied {
                kind: DeniedKind::Scope,
                required_scope: values.join(" "),
            },
            Rule::Permissions { .. } => Denied::of(DeniedKind::Permissions),
            _ => Denied::of(DeniedKind::Claim),
        })
    }
}

/// The space-separated words of `text`; runs of spaces make no empty word, so an empty
/// required scope is never granted.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(' ').filter(|w| !w.is_empty())
}

/// `all` (or any) of `values` satisfy `has`; "any of nothing" is false.
fn quantify(all: bool, values: &[String], has: impl Fn(&String) -> bool) -> bool {
    if all {
        values.iter().all(has)
    } else {
        values.iter().any(has)
    }
}

/// A token that does not satisfy a [`Policy`]: which kind of requirement failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denied {
    kind: DeniedKind,
    required_scope: String,
}

/// The kind of requirement a [`Denied`] token failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeniedKind {
    /// A scope rule: the `scope` claim lacks what the route requires.
    Scope,
    /// A permission rule: the `permissions` claim lacks what the route requires.
    Permissions,
    /// A claim rule or a predicate.
    Claim,
}

impl Denied {
    pub(crate) fn of(kind: DeniedKind) -> Self {
        Self {
            kind,
            required_scope: String::new(),
        }
    }

    /// The kind of requirement that failed.
    pub fn kind(&self) -> DeniedKind {
        self.kind
    }

    /// For a scope rule, the scopes it requires, space separated (the challenge's `scope`
    /// attribute); `None` for other rules or a rule listing no scope.
    pub fn required_scope(&self) -> Option<&str> {
        Some(self.required_scope.as_str()).filter(|s| !s.is_empty())
    }
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            DeniedKind::Scope => "insufficient scope",
            DeniedKind::Permissions => "insufficient permissions",
            DeniedKind::Claim => "the token does not meet the requirements of this resource",
        })
    }
}

impl core::error::Error for Denied {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn claims(v: Value) -> Claims {
        match v {
            Value::Object(map) => Claims::from_map(map).expect("claims"),
            _ => unreachable!(),
        }
    }

    #[test]
    fn scopes_all_and_any() {
        let c = claims(json!({"scope": "openid read:orders  write:orders"}));
        assert!(
            Policy::new()
                .all_scopes(["read:orders", "write:orders"])
                .check(&c)
                .is_ok()
        );
        assert!(
            Policy::new()
                .any_scope(["admin", "write:orders"])
                .check(&c)
                .is_ok()
        );
        let e = Policy::new()
            .all_scopes(["read:orders", "delete:orders"])
            .check(&c)
            .unwrap_err();
        assert_eq!(e.kind(), DeniedKind::Scope);
        assert_eq!(e.required_scope(), Some("read:orders delete:orders"));
        assert!(Policy::new().any_scope(["admin"]).check(&c).is_err());
        // Any of nothing never holds; all of nothing always does.
        assert!(Policy::new().any_scope::<_, &str>([]).check(&c).is_err());
        assert!(Policy::new().all_scopes::<_, &str>([]).check(&c).is_ok());
        // A prefix or a substring is not a scope.
        assert!(Policy::new().all_scopes(["read"]).check(&c).is_err());
        assert!(
            Policy::new()
                .all_scopes(["openid read:orders"])
                .check(&c)
                .is_err()
        );
    }

    #[test]
    fn a_scope_claim_of_another_type_grants_nothing() {
        for scope in [
            json!(["read:orders"]),
            json!(1),
            json!(null),
            json!({"a": 1}),
        ] {
            let c = claims(json!({ "scope": scope }));
            assert!(Policy::new().any_scope(["read:orders"]).check(&c).is_err());
        }
        assert!(
            Policy::new()
                .any_scope(["x"])
                .check(&Claims::default())
                .is_err()
        );
    }

    #[test]
    fn permissions_all_and_any() {
        let c = claims(json!({"permissions": ["read:orders", 7, "write:orders"]}));
        assert!(
            Policy::new()
                .all_permissions(["read:orders", "write:orders"])
                .check(&c)
                .is_ok()
        );
        assert!(
            Policy::new()
                .any_permission(["nope", "read:orders"])
                .check(&c)
                .is_ok()
        );
        let e = Policy::new()
            .all_permissions(["admin"])
            .check(&c)
            .unwrap_err();
        assert_eq!(
            (e.kind(), e.required_scope()),
            (DeniedKind::Permissions, None)
        );
        // A space-separated string is not a permissions array.
        let s = claims(json!({"permissions": "read:orders"}));
        assert!(
            Policy::new()
                .any_permission(["read:orders"])
                .check(&s)
                .is_err()
        );
    }

    #[test]
    fn claim_equals_and_includes() {
        let c = claims(json!({
            "org_id": "org_1", "level": 3, "roles": ["admin", "ops"], "groups": "a b"
        }));
        assert!(
            Policy::new()
                .claim_equals("org_id", "org_1")
                .check(&c)
                .is_ok()
        );
        assert!(Policy::new().claim_equals("level", 3).check(&c).is_ok());
        assert!(Policy::new().claim_equals("level", 3.0).check(&c).is_err());
        assert!(
            Policy::new()
                .claim_equals("org_id", "org_2")
                .check(&c)
                .is_err()
        );
        assert!(
            Policy::new()
                .claim_equals("missing", Value::Null)
                .check(&c)
                .is_err()
        );
        assert!(
            Policy::new()
                .claim_includes("roles", ["ops", "admin"])
                .check(&c)
                .is_ok()
        );
        assert!(
            Policy::new()
                .claim_includes("roles", ["root"])
                .check(&c)
                .is_err()
        );
        assert!(
            Policy::new()
                .claim_includes("groups", ["b"])
                .check(&c)
                .is_ok()
        );
        assert!(
            Policy::new()
                .claim_includes("level", ["3"])
                .check(&c)
                .is_err()
        );
        let e = Policy::new()
            .claim_equals("org_id", "org_2")
            .check(&c)
            .unwrap_err();
        assert_eq!(e.kind(), DeniedKind::Claim);
        // The description never carries a claim value or name.
        let text = alloc::format!("{e}");
        assert!(!text.contains("org"), "{text}");
    }

    #[test]
    fn predicate_and_rule_order() {
        let c = claims(json!({"sub": "user|1", "scope": "a"}));
        let p = Policy::new().predicate(|c| c.sub().ok().flatten() == Some("user|1"));
        assert!(p.check(&c).is_ok());
        // The first failing rule is reported.
        let e = Policy::new()
            .predicate(|_| false)
            .all_scopes(["b"])
            .check(&c)
            .unwrap_err();
        assert_eq!(e.kind(), DeniedKind::Claim);
        let e = Policy::new()
            .all_scopes(["b"])
            .predicate(|_| false)
            .check(&c)
            .unwrap_err();
        assert_eq!(e.kind(), DeniedKind::Scope);
        assert!(Policy::new().is_empty());
        assert!(Policy::new().check(&Claims::default()).is_ok());
        assert_eq!(
            alloc::format!("{:?}", Policy::new().all_scopes(["a"]).predicate(|_| true)),
            r#"[all of scopes ["a"], predicate]"#
        );
    }

    proptest! {
        /// Against a set model: `all_scopes(required)` holds exactly when every required
        /// scope is among the granted words, `any_scope` when one is.
        #[test]
        fn scope_rules_match_a_set_model(
            granted in proptest::collection::vec("[a-c]{1,2}", 0..5),
            required in proptest::collection::vec("[a-c]{1,2}", 0..4),
        ) {
            let c = claims(json!({"scope": granted.join(" ")}));
            let all = required.iter().all(|r| granted.contains(r));
            let any = required.iter().any(|r| granted.contains(r));
            prop_assert_eq!(Policy::new().all_scopes(required.clone()).check(&c).is_ok(), all);
            prop_assert_eq!(Policy::new().any_scope(required.clone()).check(&c).is_ok(), any);
            let perms = claims(json!({"permissions": granted}));
            prop_assert_eq!(Policy::new().all_permissions(required.clone()).check(&perms).is_ok(), all);
            prop_assert_eq!(Policy::new().any_permission(required).check(&perms).is_ok(), any);
        }
    }
}
