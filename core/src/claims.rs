//! JWT claims: every claim kept, typed accessors, and the `iss`/`aud`/`exp`/`nbf`/`iat`
//! checks of RFC 7519 section 4.1 with the current time as an input.
//!
//! A registered claim of the wrong JSON type is always an error, never "absent": a string
//! `exp` must not skip the expiry check (CVE-2026-25537), an array `aud` must not become an
//! empty audience (CVE-2020-26160), and an out-of-range date is refused, never saturated.
//!
//! # NumericDate
//! RFC 7519 section 2 allows non-integer NumericDate values. They are read exactly from the
//! JSON text ([`NumericDate`]) and compared exactly with the caller's whole-second
//! [`UnixTime`], never rounded toward acceptance: `exp = now + 0.5` is still valid,
//! `nbf = now + 0.5` is not yet valid. Negative values and values of 2^64 seconds or more are
//! refused with [`ClaimError::OutOfRange`]; JSON numbers beyond `f64` (`1e400`) do not parse
//! at all.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::jose::json::{self, JsonError, NotAString, ObjectIndex};
use crate::time::{NumericDate, NumericDateError, UnixTime};

/// The claims of a JWT, all of them: the payload's JSON text as received, checked strictly
/// and indexed by member name.
///
/// Built from a payload with [`Claims::from_payload`] (strict JSON: duplicate member names
/// and deep nesting are refused) or from a map with [`Claims::from_map`]. Members are parsed
/// when asked for, so verification reads only the registered claims it checks: typed
/// accessors for those, [`Claims::get`] for any member as a [`Value`],
/// [`Claims::deserialize`] into a type of the caller's, and [`Claims::json`] for the text
/// itself. Accessors for registered claims return `Ok(None)` when the claim is absent and
/// [`ClaimError::InvalidType`] / [`ClaimError::OutOfRange`] when it is present but unusable.
#[derive(Clone)]
pub struct Claims {
    json: String,
    index: ObjectIndex,
}

impl Default for Claims {
    fn default() -> Self {
        Self {
            json: String::from("{}"),
            index: ObjectIndex::default(),
        }
    }
}

impl Claims {
    /// Parses a JWT payload (the decoded JSON bytes) into claims.
    ///
    /// `max_depth` bounds nesting (the top-level object counts as 1); see
    /// [`json::DEFAULT_MAX_DEPTH`].
    ///
    /// # Errors
    /// [`ClaimError::Malformed`] when the payload is not a strict JSON object.
    pub fn from_payload(bytes: &[u8], max_depth: usize) -> Result<Self, ClaimError> {
        Self::from_vec(bytes.to_vec(), max_depth)
    }

    /// As [`Claims::from_payload`], keeping the buffer.
    pub(crate) fn from_vec(bytes: Vec<u8>, max_depth: usize) -> Result<Self, ClaimError> {
        let json =
            String::from_utf8(bytes).map_err(|_| ClaimError::Malformed(JsonError::Syntax))?;
        let index = ObjectIndex::parse(&json, max_depth).map_err(ClaimError::Malformed)?;
        Ok(Self { json, index })
    }

    /// Claims made of `map`'s members.
    ///
    /// # Errors
    /// [`ClaimError::Malformed`] when a value is nested deeper than
    /// [`json::DEFAULT_MAX_DEPTH`].
    pub fn from_map(map: Map<String, Value>) -> Result<Self, ClaimError> {
        let json =
            serde_json::to_string(&map).map_err(|_| ClaimError::Malformed(JsonError::Syntax))?;
        let index =
            ObjectIndex::parse(&json, json::DEFAULT_MAX_DEPTH).map_err(ClaimError::Malformed)?;
        Ok(Self { json, index })
    }

    /// The payload's JSON text, exactly as received.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// The value of claim `name`, if present (including JSON `null`), parsed from the text.
    #[inline]
    pub fn get(&self, name: &str) -> Option<Value> {
        self.raw(name).and_then(parse_value)
    }

    /// The JSON text of claim `name`, if present.
    #[inline]
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.index.raw(&self.json, name)
    }

    /// Whether claim `name` is present (with any value, `null` included).
    pub fn contains(&self, name: &str) -> bool {
        self.raw(name).is_some()
    }

    /// The number of claims.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether there are no claims.
    pub fn is_empty(&self) -> bool {
        self.index.len() == 0
    }

    /// The claim names with their JSON text, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.index.iter(&self.json)
    }

    /// Claim `name` when it is a JSON string.
    ///
    /// # Errors
    /// [`ClaimError::InvalidType`] when present with another type; the error names `name`
    /// only when it is a registered claim this crate knows, else it says `"claim"`.
    pub fn get_str(&self, name: &str) -> Result<Option<&str>, ClaimError> {
        self.index
            .string(&self.json, name)
            .map_err(|NotAString| ClaimError::InvalidType(registered_name(name)))
    }

    /// All claims, deserialized into `T` (a struct of the claims a caller uses).
    ///
    /// # Errors
    /// [`ClaimError::Deserialize`] when the claims do not fit `T`.
    pub fn deserialize<'c, T: Deserialize<'c>>(&'c self) -> Result<T, ClaimError> {
        serde_json::from_str(&self.json).map_err(|_| ClaimError::Deserialize)
    }

    /// All claims as a map.
    pub fn to_map(&self) -> Map<String, Value> {
        self.iter()
            .filter_map(|(name, raw)| Some((String::from(name), parse_value(raw)?)))
            .collect()
    }

    /// All claims as a map, by value.
    pub fn into_map(self) -> Map<String, Value> {
        self.to_map()
    }

    /// The `iss` (issuer) claim, RFC 7519 section 4.1.1.
    ///
    /// # Errors
    /// [`ClaimError::InvalidType`] when present but not a string.
    #[inline]
    pub fn iss(&self) -> Result<Option<&str>, ClaimError> {
        self.string("iss")
    }

    /// The `sub` (subject) claim, RFC 7519 section 4.1.2.
    ///
    /// # Errors
    /// [`ClaimError::InvalidType`] when present but not a string.
    pub fn sub(&self) -> Result<Option<&str>, ClaimError> {
        self.string("sub")
    }

    /// The `aud` (audience) claim as a list, RFC 7519 section 4.1.3: a single string is a
    /// list of one.
    ///
    /// # Errors
    /// [`ClaimError::InvalidType`] when present but neither a string nor an array of
    /// strings.
    pub fn aud(&self) -> Result<Option<Vec<Cow<'_, str>>>, ClaimError> {
        let Some(aud) = self.index.raw_with_escapes(&self.json, "aud") else {
            return Ok(None);
        };
        let mut audiences = Vec::new();
        for_each_audience(aud, |aud| audiences.push(aud))?;
        Ok(Some(audiences))
    }

    /// The `exp` (expiration time) claim, RFC 7519 section 4.1.4.
    ///
    /// # Errors
    /// [`ClaimError::InvalidType`] when not a number, [`ClaimError::OutOfRange`] when
    /// negative or too large (see the module docs on NumericDate).
    #[inline]
    pub fn exp(&self) -> Result<Option<NumericDate>, ClaimError> {
        self.numeric_date("exp")
    }

    /// The `nbf` (not before) claim, RFC 7519 section 4.1.5.
    ///
    /// # Errors
    /// As for [`Claims::exp`].
    #[inline]
    pub fn nbf(&self) -> Result<Option<NumericDate>, ClaimError> {
        self.numeric_date("nbf")
    }

    /// The `iat` (issued at) claim, RFC 7519 section 4.1.6.
    ///
    /// # Errors
    /// As for [`Claims::exp`].
    #[inline]
    pub fn iat(&self) -> Result<Option<NumericDate>, ClaimError> {
        self.numeric_date("iat")
    }

    /// The `scope` claim as sent: a space-separated list (RFC 8693 section 4.2,
    /// RFC 9068 section 2.2.3).
    ///
    /// # Errors
    /// [`ClaimError::InvalidType`] when present but not a string.
    pub fn scope(&self) -> Result<Option<&str>, ClaimError> {
        self.string("scope")
    }

    /// The scopes of the `scope` claim, split on spaces; empty when the claim is absent.
    ///
    /// # Errors
    /// [`ClaimError::InvalidType`] when present but not a string.
    pub fn scopes(&self) -> Result<Vec<&str>, ClaimError> {
        Ok(self
            .scope()?
            .map(|s| s.split(' ').filter(|s| !s.is_empty()).collect())
            .unwrap_or_default())
    }

    /// The DPoP key binding `cnf.jkt` (RFC 9449 section 6.1; `cnf` from RFC 7800 section 3.1).
    ///
    /// `Ok(None)` when there is no `cnf`, or `cnf` is an object without `jkt` (another kind of
    /// confirmation). A malformed binding is an error rather than "unbound", so that a token
    /// meant to be bound is never accepted as a bearer token.
    ///
    /// # Errors
    /// [`ClaimError::InvalidType`] naming `cnf` when it is not an object, or `cnf.jkt` when
    /// `jkt` is not a non-empty string.
    pub fn cnf_jkt(&self) -> Result<Option<String>, ClaimError> {
        let cnf = match self.get("cnf") {
            None => return Ok(None),
            Some(Value::Object(cnf)) => cnf,
            Some(_) => return Err(ClaimError::InvalidType("cnf")),
        };
        match cnf.get("jkt") {
            None => Ok(None),
            Some(Value::String(jkt)) if !jkt.is_empty() => Ok(Some(jkt.clone())),
            Some(_) => Err(ClaimError::InvalidType("cnf.jkt")),
        }
    }

    /// Checks the claims against `rules` at time `now` (SPEC section 2 step 7).
    ///
    /// In order: `iss` equals [`ClaimRules::issuer`] exactly (RFC 7519 section 4.1.1, no
    /// normalisation); `aud` is a string or an array of strings containing
    /// [`ClaimRules::audience`] (section 4.1.3); `exp` is present and `now < exp + leeway`
    /// (section 4.1.4: `exp == now` is expired); `nbf`, when present, is `<= now + leeway`
    /// (section 4.1.5); `iat` is present (section 4.1.6; a future `iat` is not refused, as
    /// in the reference SDK); then every name in [`ClaimRules::required`] is present and not
    /// JSON `null`.
    ///
    /// Leeway arithmetic is checked: an `exp` near the end of time cannot wrap around.
    ///
    /// # Errors
    /// The first failed check: [`ClaimError::Missing`], [`ClaimError::InvalidType`],
    /// [`ClaimError::OutOfRange`], [`ClaimError::IssuerMismatch`],
    /// [`ClaimError::AudienceMismatch`], [`ClaimError::Expired`] or
    /// [`ClaimError::NotYetValid`].
    pub fn validate(&self, rules: &ClaimRules<'_>, now: UnixTime) -> Result<(), ClaimError> {
        let iss = self
            .iss()?
            .ok_or_else(|| ClaimError::Missing(String::from("iss")))?;
        if iss != rules.issuer {
            return Err(ClaimError::IssuerMismatch);
        }

        let aud = self
            .index
            .raw_with_escapes(&self.json, "aud")
            .ok_or_else(|| ClaimError::Missing(String::from("aud")))?;
        // Every element is type-checked, even after a match.
        let mut found = false;
        for_each_audience(aud, |a| {
            found |= a == rules.audience || rules.other_audiences.iter().any(|o| *o == a);
        })?;
        if !found {
            return Err(ClaimError::AudienceMismatch);
        }

        let exp = self
            .exp()?
            .ok_or_else(|| ClaimError::Missing(String::from("exp")))?;
        // `None`: exp + leeway is beyond any representable `now`, so not expired.
        if exp
            .checked_add(rules.leeway)
            .is_some_and(|limit| !limit.is_after(now))
        {
            return Err(ClaimError::Expired);
        }

        if let Some(nbf) = self.nbf()? {
            // `None`: now + leeway is beyond any representable `nbf`, so valid.
            if now
                .checked_add(rules.leeway)
                .is_some_and(|limit| nbf.is_after(limit))
            {
                return Err(ClaimError::NotYetValid);
            }
        }

        if self.iat()?.is_none() {
            return Err(ClaimError::Missing(String::from("iat")));
        }

        if let Some(name) = self.first_missing(rules.required) {
            return Err(ClaimError::Missing(name.clone()));
        }
        Ok(())
    }

    /// The first of `names` that is absent or JSON `null`.
    ///
    /// A required claim present as `null` counts as absent (the reference SDK counts it as
    /// present): `null` carries no value a caller could rely on.
    pub(crate) fn first_missing<'n>(&self, names: &'n [String]) -> Option<&'n String> {
        names
            .iter()
            .find(|name| matches!(self.raw(name), None | Some("null")))
    }

    #[inline(always)]
    fn string(&self, name: &'static str) -> Result<Option<&str>, ClaimError> {
        self.index
            .string(&self.json, name)
            .map_err(|NotAString| ClaimError::InvalidType(name))
    }

    #[inline(always)]
    fn numeric_date(&self, name: &'static str) -> Result<Option<NumericDate>, ClaimError> {
        let Some(raw) = self.index.raw(&self.json, name) else {
            return Ok(None);
        };
        match NumericDate::from_json(raw) {
            Ok(date) => Ok(Some(date)),
            Err(NumericDateError::NotANumber) => Err(ClaimError::InvalidType(name)),
            Err(_) => Err(ClaimError::OutOfRange(name)),
        }
    }
}

/// Parses a value of validated text; `None` cannot happen for text the index accepted.
fn parse_value(raw: &str) -> Option<Value> {
    serde_json::from_str(raw).ok()
}

/// The name to report for a claim: a registered claim this crate knows, else `"claim"`.
pub(crate) fn registered_name(name: &str) -> &'static str {
    const REGISTERED: &[&str] = &[
        "iss",
        "sub",
        "aud",
        "exp",
        "nbf",
        "iat",
        "jti",
        "azp",
        "scope",
        "client_id",
        "org_id",
        "org_name",
        "nonce",
        "cnf",
    ];
    REGISTERED
        .iter()
        .find(|r| **r == name)
        .copied()
        .unwrap_or("claim")
}

/// Calls `visit` with each audience of the `aud` text (a string, or an array of strings).
///
/// `aud` is the text of a member the index validated and whether a string in it is written
/// with escapes. Without escapes (the usual case) it is read directly; with escapes, through
/// `serde_json`.
fn for_each_audience<'t>(
    (raw, escapes): (&'t str, bool),
    mut visit: impl FnMut(Cow<'t, str>),
) -> Result<(), ClaimError> {
    if escapes {
        escaped_audiences(raw, visit)
    } else {
        plain_audiences(raw, &mut visit)
    }
}

/// [`for_each_audience`] for validated JSON text without a backslash: a string is the bytes
/// between its quotes.
fn plain_audiences<'t>(
    raw: &'t str,
    visit: &mut impl FnMut(Cow<'t, str>),
) -> Result<(), ClaimError> {
    let skip_ws = |s: &'t str| {
        let n = s
            .bytes()
            .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
            .count();
        s.get(n..).unwrap_or("")
    };
    // The string starting at the quote `s` begins with, and the text after it.
    let string = |s: &'t str| {
        let content = s.strip_prefix('"')?;
        let end = json::special_byte(content.as_bytes());
        Some((content.get(..end)?, content.get(end..)?.strip_prefix('"')?))
    };
    let invalid = || ClaimError::InvalidType("aud");
    if raw.starts_with('"') {
        let (aud, _) = string(raw).ok_or_else(invalid)?;
        visit(Cow::Borrowed(aud));
        return Ok(());
    }
    let mut rest = skip_ws(raw.strip_prefix('[').ok_or_else(invalid)?);
    if rest == "]" {
        return Ok(());
    }
    loop {
        let (aud, after) = string(rest).ok_or_else(invalid)?;
        visit(Cow::Borrowed(aud));
        rest = skip_ws(after);
        match rest.strip_prefix(',') {
            Some(next) => rest = skip_ws(next),
            None if rest == "]" => return Ok(()),
            None => return Err(invalid()),
        }
    }
}

/// [`for_each_audience`] for any JSON text.
fn escaped_audiences<'t>(raw: &'t str, visit: impl FnMut(Cow<'t, str>)) -> Result<(), ClaimError> {
    struct Audiences<F>(F);

    impl<'de, F: FnMut(Cow<'de, str>)> Visitor<'de> for Audiences<F> {
        type Value = ();

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or an array of strings")
        }

        fn visit_borrowed_str<E>(mut self, v: &'de str) -> Result<(), E> {
            (self.0)(Cow::Borrowed(v));
            Ok(())
        }

        fn visit_str<E>(mut self, v: &str) -> Result<(), E> {
            (self.0)(Cow::Owned(String::from(v)));
            Ok(())
        }

        fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
            while let Some(aud) = seq.next_element::<AudString<'de>>()? {
                (self.0)(aud.0);
            }
            Ok(())
        }
    }

    struct AudString<'de>(Cow<'de, str>);

    impl<'de> Deserialize<'de> for AudString<'de> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct One;
            impl<'de> Visitor<'de> for One {
                type Value = AudString<'de>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a string")
                }
                fn visit_borrowed_str<E>(self, v: &'de str) -> Result<AudString<'de>, E> {
                    Ok(AudString(Cow::Borrowed(v)))
                }
                fn visit_str<E>(self, v: &str) -> Result<AudString<'de>, E> {
                    Ok(AudString(Cow::Owned(String::from(v))))
                }
            }
            deserializer.deserialize_str(One)
        }
    }

    let mut de = serde_json::Deserializer::from_str(raw);
    de::Deserializer::deserialize_any(&mut de, Audiences(visit))
        .map_err(|_| ClaimError::InvalidType("aud"))
}

impl fmt::Debug for Claims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Claims").field(&self.json).finish()
    }
}

/// Claims are equal when they have the same members with equal values, however written.
impl PartialEq for Claims {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.to_map() == other.to_map()
    }
}

/// Serialized as the JSON object of all claims.
impl Serialize for Claims {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (name, raw) in self.iter() {
            map.serialize_entry(name, &parse_value(raw).unwrap_or(Value::Null))?;
        }
        map.end()
    }
}

/// Deserialized from a JSON object (as [`Claims::from_map`]), so `Claims` can stand where a
/// `T: DeserializeOwned` is expected, such as a framework extractor's claims type.
impl<'de> Deserialize<'de> for Claims {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = Map::<String, Value>::deserialize(deserializer)?;
        Claims::from_map(map).map_err(de::Error::custom)
    }
}

/// What [`Claims::validate`] requires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClaimRules<'a> {
    /// The expected `iss`, compared as an exact string.
    pub issuer: &'a str,
    /// The audience `aud` must contain, compared as an exact string.
    pub audience: &'a str,
    /// Other accepted audiences: `aud` may contain any of these instead of `audience`.
    pub other_audiences: &'a [String],
    /// Further claims that must be present (and not `null`).
    pub required: &'a [String],
    /// Clock skew allowed on `exp` and `nbf`. Defaults to zero; sub-second parts are ignored.
    pub leeway: Duration,
}

impl<'a> ClaimRules<'a> {
    /// Rules for `issuer` and `audience`, with no extra required claims and no leeway.
    pub const fn new(issuer: &'a str, audience: &'a str) -> Self {
        Self {
            issuer,
            audience,
            other_audiences: &[],
            required: &[],
            leeway: Duration::ZERO,
        }
    }

    /// Also accepts a token whose `aud` contains any of `others`.
    pub const fn with_other_audiences(mut self, others: &'a [String]) -> Self {
        self.other_audiences = others;
        self
    }

    /// Also requires each claim in `required`.
    pub const fn with_required(mut self, required: &'a [String]) -> Self {
        self.required = required;
        self
    }

    /// Allows `leeway` of clock skew on `exp` and `nbf`.
    pub const fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }
}

/// Why claims were refused. The message names the claim, never its value.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClaimError {
    /// The payload is not a strict JSON object.
    Malformed(JsonError),
    /// A required claim is absent (or, for custom required claims, `null`).
    Missing(String),
    /// A registered claim has the wrong JSON type (`cnf.jkt` also when empty).
    InvalidType(&'static str),
    /// A NumericDate claim is negative or too large to represent.
    OutOfRange(&'static str),
    /// `iss` is not the expected issuer.
    IssuerMismatch,
    /// `aud` does not contain the expected audience.
    AudienceMismatch,
    /// `exp` is not after now.
    Expired,
    /// `nbf` is after now.
    NotYetValid,
    /// The claims do not fit the type asked of [`Claims::deserialize`].
    Deserialize,
}

impl fmt::Display for ClaimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClaimError::Malformed(e) => write!(f, "malformed claims: {e}"),
            ClaimError::Missing(name) => write!(f, "missing required {:?} claim", name.as_str()),
            ClaimError::InvalidType(name) => write!(f, "invalid type for {name:?} claim"),
            ClaimError::OutOfRange(name) => write!(f, "{name:?} claim out of range"),
            ClaimError::IssuerMismatch => f.write_str("unexpected \"iss\" claim value"),
            ClaimError::AudienceMismatch => f.write_str("unexpected \"aud\" claim value"),
            ClaimError::Expired => f.write_str("\"exp\" claim timestamp check failed"),
            ClaimError::NotYetValid => f.write_str("\"nbf\" claim timestamp check failed"),
            ClaimError::Deserialize => f.write_str("claims do not fit the requested type"),
        }
    }
}

impl core::error::Error for ClaimError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            ClaimError::Malformed(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_deserialize_from_an_object_only() {
        let claims: Claims = serde_json::from_str(r#"{"sub":"a","scope":"x y"}"#).unwrap();
        assert_eq!(
            (claims.sub(), claims.scope()),
            (Ok(Some("a")), Ok(Some("x y")))
        );
        assert!(serde_json::from_str::<Claims>("[1]").is_err());
        let deep = alloc::format!("{{\"a\":{}1{}}}", "[".repeat(200), "]".repeat(200));
        assert!(serde_json::from_str::<Claims>(&deep).is_err());
    }
    use alloc::format;
    use alloc::string::ToString;
    use alloc::vec;
    use proptest::prelude::*;

    const ISS: &str = "https://tenant.auth0.com/";
    const AUD: &str = "https://api.example.com";
    const NOW: u64 = 1_700_000_000;

    fn claims(json: &str) -> Claims {
        Claims::from_payload(json.as_bytes(), json::DEFAULT_MAX_DEPTH).unwrap()
    }

    /// A valid payload with `extra` members replacing or adding to the defaults.
    fn payload(extra: &[(&str, &str)]) -> String {
        let mut members: Vec<(String, String)> = vec![
            ("iss".into(), format!("{ISS:?}")),
            ("aud".into(), format!("{AUD:?}")),
            ("exp".into(), (NOW + 60).to_string()),
            ("iat".into(), (NOW - 60).to_string()),
        ];
        for (name, value) in extra {
            members.retain(|(n, _)| n != name);
            if *value != "<absent>" {
                members.push((name.to_string(), value.to_string()));
            }
        }
        let body: Vec<String> = members.iter().map(|(n, v)| format!("{n:?}:{v}")).collect();
        format!("{{{}}}", body.join(","))
    }

    fn check(extra: &[(&str, &str)]) -> Result<(), ClaimError> {
        let required = vec!["org_id".to_string()];
        let rules = ClaimRules::new(ISS, AUD).with_required(&required);
        let mut extra = extra.to_vec();
        if !extra.iter().any(|(n, _)| *n == "org_id") {
            extra.push(("org_id", "\"org_1\""));
        }
        claims(&payload(&extra)).validate(&rules, UnixTime::from_secs(NOW))
    }

    fn missing(name: &str) -> Result<(), ClaimError> {
        Err(ClaimError::Missing(name.to_string()))
    }

    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Result<(), ClaimError>);

    #[test]
    fn validation_table() {
        let exp_now = NOW.to_string();
        let nbf_now = NOW.to_string();
        let nbf_next = (NOW + 1).to_string();
        let exp_frac = format!("{}.5", NOW);
        let exp_frac_past = format!("{}.999", NOW - 1);
        let nbf_frac = format!("{}.5", NOW);
        let nbf_frac_past = format!("{}.5", NOW - 1);
        let cases: &[Case<'_>] = &[
            ("valid", vec![], Ok(())),
            // T-38: exact issuer match.
            ("iss missing", vec![("iss", "<absent>")], missing("iss")),
            (
                "iss no slash",
                vec![("iss", "\"https://tenant.auth0.com\"")],
                Err(ClaimError::IssuerMismatch),
            ),
            (
                "iss case",
                vec![("iss", "\"https://Tenant.auth0.com/\"")],
                Err(ClaimError::IssuerMismatch),
            ),
            (
                "iss port",
                vec![("iss", "\"https://tenant.auth0.com:443/\"")],
                Err(ClaimError::IssuerMismatch),
            ),
            (
                "iss encoded",
                vec![("iss", "\"https://tenant%2Eauth0.com/\"")],
                Err(ClaimError::IssuerMismatch),
            ),
            (
                "iss homoglyph",
                vec![("iss", "\"https://t\u{0435}nant.auth0.com/\"")],
                Err(ClaimError::IssuerMismatch),
            ),
            (
                "iss array",
                vec![("iss", "[\"https://tenant.auth0.com/\"]")],
                Err(ClaimError::InvalidType("iss")),
            ),
            (
                "iss null",
                vec![("iss", "null")],
                Err(ClaimError::InvalidType("iss")),
            ),
            // T-39 and T-28: audience.
            (
                "aud array",
                vec![("aud", "[\"other\",\"https://api.example.com\"]")],
                Ok(()),
            ),
            (
                "aud array without",
                vec![("aud", "[\"other\"]")],
                Err(ClaimError::AudienceMismatch),
            ),
            (
                "aud empty array",
                vec![("aud", "[]")],
                Err(ClaimError::AudienceMismatch),
            ),
            (
                "aud slash",
                vec![("aud", "\"https://api.example.com/\"")],
                Err(ClaimError::AudienceMismatch),
            ),
            ("aud missing", vec![("aud", "<absent>")], missing("aud")),
            (
                "aud number",
                vec![("aud", "1")],
                Err(ClaimError::InvalidType("aud")),
            ),
            (
                "aud non-string element",
                vec![("aud", "[\"https://api.example.com\",1]")],
                Err(ClaimError::InvalidType("aud")),
            ),
            (
                "aud null",
                vec![("aud", "null")],
                Err(ClaimError::InvalidType("aud")),
            ),
            // T-40: boundaries.
            (
                "exp == now",
                vec![("exp", &exp_now)],
                Err(ClaimError::Expired),
            ),
            // NumericDate fractions are compared exactly (RFC 7519 section 2).
            ("exp now + 0.5", vec![("exp", &exp_frac)], Ok(())),
            (
                "exp now - 0.001",
                vec![("exp", &exp_frac_past)],
                Err(ClaimError::Expired),
            ),
            (
                "nbf now + 0.5",
                vec![("nbf", &nbf_frac)],
                Err(ClaimError::NotYetValid),
            ),
            ("nbf now - 0.5", vec![("nbf", &nbf_frac_past)], Ok(())),
            ("exp missing", vec![("exp", "<absent>")], missing("exp")),
            ("nbf == now", vec![("nbf", &nbf_now)], Ok(())),
            (
                "nbf == now + 1",
                vec![("nbf", &nbf_next)],
                Err(ClaimError::NotYetValid),
            ),
            ("iat missing", vec![("iat", "<absent>")], missing("iat")),
            ("iat in the future", vec![("iat", "99999999999")], Ok(())),
            // T-27: wrong types and extreme values are never "absent".
            (
                "exp string",
                vec![("exp", "\"9999999999\"")],
                Err(ClaimError::InvalidType("exp")),
            ),
            (
                "exp bool",
                vec![("exp", "true")],
                Err(ClaimError::InvalidType("exp")),
            ),
            (
                "exp null",
                vec![("exp", "null")],
                Err(ClaimError::InvalidType("exp")),
            ),
            (
                "exp array",
                vec![("exp", "[9999999999]")],
                Err(ClaimError::InvalidType("exp")),
            ),
            (
                "exp object",
                vec![("exp", "{}")],
                Err(ClaimError::InvalidType("exp")),
            ),
            (
                "exp negative",
                vec![("exp", "-1")],
                Err(ClaimError::OutOfRange("exp")),
            ),
            (
                "exp -2^63-1",
                vec![("exp", "-9223372036854775809")],
                Err(ClaimError::OutOfRange("exp")),
            ),
            ("exp 2^63", vec![("exp", "9223372036854775808")], Ok(())),
            ("exp i64::MAX", vec![("exp", "9223372036854775807")], Ok(())),
            (
                "exp u64::MAX",
                vec![("exp", "18446744073709551615")],
                Ok(()),
            ),
            (
                "exp 2^64",
                vec![("exp", "18446744073709551616")],
                Err(ClaimError::OutOfRange("exp")),
            ),
            (
                "exp 1e20",
                vec![("exp", "1e20")],
                Err(ClaimError::OutOfRange("exp")),
            ),
            (
                "exp -1e20",
                vec![("exp", "-1e20")],
                Err(ClaimError::OutOfRange("exp")),
            ),
            (
                "nbf string",
                vec![("nbf", "\"0\"")],
                Err(ClaimError::InvalidType("nbf")),
            ),
            (
                "nbf null",
                vec![("nbf", "null")],
                Err(ClaimError::InvalidType("nbf")),
            ),
            (
                "nbf negative",
                vec![("nbf", "-5")],
                Err(ClaimError::OutOfRange("nbf")),
            ),
            ("nbf 1.5", vec![("nbf", "1.5")], Ok(())),
            (
                "iat string",
                vec![("iat", "\"1\"")],
                Err(ClaimError::InvalidType("iat")),
            ),
            (
                "iat null",
                vec![("iat", "null")],
                Err(ClaimError::InvalidType("iat")),
            ),
            ("iat 1.5", vec![("iat", "1.5")], Ok(())),
            (
                "iat 2^64",
                vec![("iat", "18446744073709551616")],
                Err(ClaimError::OutOfRange("iat")),
            ),
            // T-41: required custom claims.
            (
                "required absent",
                vec![("org_id", "<absent>")],
                missing("org_id"),
            ),
            ("required null", vec![("org_id", "null")], missing("org_id")),
            ("required false", vec![("org_id", "false")], Ok(())),
            ("required empty string", vec![("org_id", "\"\"")], Ok(())),
        ];
        for (name, extra, expected) in cases {
            assert_eq!(&check(extra), expected, "case {name}");
        }
    }

    #[test]
    fn huge_numbers_do_not_parse() {
        for doc in [r#"{"exp":1e400}"#, r#"{"exp":-1e400}"#] {
            assert_eq!(
                Claims::from_payload(doc.as_bytes(), 8),
                Err(ClaimError::Malformed(JsonError::Syntax)),
                "{doc}"
            );
        }
        assert_eq!(
            Claims::from_payload(br#"{"a":1,"a":2}"#, 8),
            Err(ClaimError::Malformed(JsonError::DuplicateMember))
        );
        assert_eq!(
            Claims::from_payload(b"[]", 8),
            Err(ClaimError::Malformed(JsonError::NotAnObject))
        );
    }

    #[test]
    fn leeway_is_checked_arithmetic() {
        let rules = ClaimRules::new(ISS, AUD).with_leeway(Duration::from_secs(30));
        let at = |exp: &str, nbf: &str, now: u64| {
            claims(&payload(&[("exp", exp), ("nbf", nbf), ("iat", "0")]))
                .validate(&rules, UnixTime::from_secs(now))
        };
        // exp near u64::MAX plus leeway must not wrap into the past.
        assert_eq!(at("18446744073709551615", "0", NOW), Ok(()));
        assert_eq!(
            at("9223372036854775807", "0", u64::MAX),
            Err(ClaimError::Expired)
        );
        // Leeway extends exp and nbf by exactly 30 s.
        assert_eq!(at(&NOW.to_string(), "0", NOW + 29), Ok(()));
        assert_eq!(
            at(&NOW.to_string(), "0", NOW + 30),
            Err(ClaimError::Expired)
        );
        assert_eq!(
            at("18446744073709551615", &(NOW + 30).to_string(), NOW),
            Ok(())
        );
        assert_eq!(
            at("18446744073709551615", &(NOW + 31).to_string(), NOW),
            Err(ClaimError::NotYetValid)
        );
        // now + leeway overflowing: every nbf is in the past.
        assert_eq!(
            at("18446744073709551615", "18446744073709551615", u64::MAX - 1),
            Ok(())
        );
        let no_exp_limit = ClaimRules::new(ISS, AUD).with_leeway(Duration::from_secs(u64::MAX));
        let c = claims(&payload(&[("nbf", "18446744073709551615")]));
        assert_eq!(c.validate(&no_exp_limit, UnixTime::from_secs(NOW)), Ok(()));
    }

    #[test]
    fn accessors() {
        let c = claims(
            r#"{"iss":"i","sub":"s","aud":"a","exp":2,"nbf":1,"iat":1.9,"scope":"read  write",
                "cnf":{"jkt":"abc"},"custom":{"x":[1]}}"#,
        );
        assert_eq!(c.iss(), Ok(Some("i")));
        assert_eq!(c.sub(), Ok(Some("s")));
        assert_eq!(c.aud(), Ok(Some(vec![Cow::Borrowed("a")])));
        assert_eq!(c.exp(), Ok(Some(NumericDate::from_secs(2))));
        assert_eq!(c.iat(), Ok(Some(NumericDate::from_json("1.9").unwrap())));
        assert_eq!(c.iat().unwrap().unwrap().floor(), UnixTime::from_secs(1));
        assert_eq!(c.scopes(), Ok(vec!["read", "write"]));
        assert_eq!(c.cnf_jkt(), Ok(Some("abc".to_string())));
        assert_eq!(
            c.get("custom").and_then(|v| v.get("x").cloned()),
            Some(serde_json::json!([1]))
        );
        assert_eq!(c.raw("custom"), Some(r#"{"x":[1]}"#));
        assert_eq!(c.len(), 9);
        let empty = Claims::default();
        assert_eq!(empty.aud(), Ok(None));
        assert_eq!(empty.scopes(), Ok(vec![]));
        assert_eq!(empty.cnf_jkt(), Ok(None));
        assert_eq!(c.clone().into_map(), c.to_map());
        assert_eq!(Claims::from_map(c.to_map()), Ok(c.clone()));
        assert_eq!(
            serde_json::to_string(&claims(r#"{"a":1}"#)).unwrap(),
            r#"{"a":1}"#
        );
    }

    #[test]
    fn cnf_table() {
        let cases: &[(&str, Result<Option<&str>, ClaimError>)] = &[
            (r#"{}"#, Ok(None)),
            (r#"{"cnf":{}}"#, Ok(None)),
            (r#"{"cnf":{"x5t#S256":"x"}}"#, Ok(None)),
            (r#"{"cnf":{"jkt":"k"}}"#, Ok(Some("k"))),
            (r#"{"cnf":"k"}"#, Err(ClaimError::InvalidType("cnf"))),
            (r#"{"cnf":null}"#, Err(ClaimError::InvalidType("cnf"))),
            (
                r#"{"cnf":[{"jkt":"k"}]}"#,
                Err(ClaimError::InvalidType("cnf")),
            ),
            (
                r#"{"cnf":{"jkt":1}}"#,
                Err(ClaimError::InvalidType("cnf.jkt")),
            ),
            (
                r#"{"cnf":{"jkt":""}}"#,
                Err(ClaimError::InvalidType("cnf.jkt")),
            ),
            (
                r#"{"cnf":{"jkt":null}}"#,
                Err(ClaimError::InvalidType("cnf.jkt")),
            ),
        ];
        for (doc, expected) in cases {
            let expected = expected.clone().map(|jkt| jkt.map(String::from));
            assert_eq!(claims(doc).cnf_jkt(), expected, "{doc}");
        }
        assert_eq!(
            claims(r#"{"scope":["a"]}"#).scope(),
            Err(ClaimError::InvalidType("scope"))
        );
        assert_eq!(
            claims(r#"{"sub":1}"#).sub(),
            Err(ClaimError::InvalidType("sub"))
        );
    }

    #[test]
    fn display_names_the_claim_not_the_value() {
        let c = claims(&payload(&[("iss", "\"https://secret-value.example/\"")]));
        let err = c
            .validate(&ClaimRules::new(ISS, AUD), UnixTime::from_secs(NOW))
            .unwrap_err();
        let text = err.to_string();
        assert!(!text.contains("secret-value"), "{text}");
        assert_eq!(text, "unexpected \"iss\" claim value");
        assert_eq!(
            ClaimError::Missing("org_id".into()).to_string(),
            "missing required \"org_id\" claim"
        );
        assert_eq!(
            ClaimError::InvalidType("cnf.jkt").to_string(),
            "invalid type for \"cnf.jkt\" claim"
        );
    }

    /// JSON text without backslashes as an `aud` may be written: strings, arrays of strings
    /// and of anything else, with white space anywhere between tokens.
    fn aud_text() -> impl Strategy<Value = String> {
        let ws = prop_oneof![Just(""), Just(" "), Just("\n\t "), Just("\r")];
        let string = "[a-z:/. \\[\\],{}]{0,6}".prop_map(|s| format!("\"{s}\""));
        let element = prop_oneof![
            4 => string.clone(),
            1 => Just("1".to_string()),
            1 => Just("null".to_string()),
            1 => Just("[\"a\"]".to_string()),
            1 => Just("{\"a\":\"b\"}".to_string()),
        ];
        let array =
            proptest::collection::vec((ws.clone(), element, ws.clone()), 0..4).prop_map(|items| {
                let items: Vec<String> = items
                    .into_iter()
                    .map(|(a, e, b)| format!("{a}{e}{b}"))
                    .collect();
                format!("[{}]", items.join(","))
            });
        let empty = ws.prop_map(|w| format!("[{w}]"));
        prop_oneof![
            string,
            array,
            empty,
            Just("7".to_string()),
            Just("{}".to_string())
        ]
    }

    proptest! {
        #[test]
        fn any_number_for_exp_is_defined(n in any::<f64>().prop_filter("finite", |f| f.is_finite())) {
            let c = Claims::from_map(
                [("exp".to_string(), serde_json::json!(n))].into_iter().collect(),
            ).unwrap();
            match c.exp() {
                Ok(Some(t)) => {
                    prop_assert!(n >= 0.0);
                    prop_assert!((t.floor().as_secs() as f64) <= n);
                    prop_assert_eq!(t.has_fraction(), n.fract() != 0.0);
                }
                Err(ClaimError::OutOfRange("exp")) => prop_assert!(!(0.0..1.8e19).contains(&n)),
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }

        #[test]
        fn plain_audiences_read_as_serde_json_reads_them(raw in aud_text()) {
            // The text of a member the index accepted, as `for_each_audience` is given.
            let doc = format!("{{\"aud\":{raw}}}");
            prop_assume!(Claims::from_payload(doc.as_bytes(), 8).is_ok());
            let (mut fast, mut reference) = (vec![], vec![]);
            let fast_result = plain_audiences(&raw, &mut |a: Cow<'_, str>| fast.push(a.into_owned()));
            let reference_result = escaped_audiences(&raw, |a| reference.push(a.into_owned()));
            prop_assert_eq!(fast_result, reference_result, "{}", raw);
            prop_assert_eq!(fast, reference, "{}", raw);
        }

        #[test]
        fn validate_never_panics(exp in any::<i128>(), nbf in any::<u64>(), now in any::<u64>(), leeway in any::<u64>()) {
            let doc = payload(&[("exp", &exp.to_string()), ("nbf", &nbf.to_string())]);
            if let Ok(c) = Claims::from_payload(doc.as_bytes(), 8) {
                let rules = ClaimRules::new(ISS, AUD).with_leeway(Duration::from_secs(leeway));
                let _ = c.validate(&rules, UnixTime::from_secs(now));
            }
        }
    }
}
