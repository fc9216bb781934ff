//! The token request: form body, input checks, reserved-parameter guard, and the
//! [`HttpRequest`] for the token endpoint.
//!
//! - [`FormParams`] is an ordered list of name/value pairs serialised as
//!   `application/x-www-form-urlencoded` (WHATWG URL standard, "urlencoded serializer").
//! - [`ExtraParameters`] are caller-chosen parameters; they can never override a
//!   [`RESERVED_PARAMETERS`] name (compared ignoring ASCII case, so `Scope` is refused too;
//!   upstream drops them silently and case-sensitively), and are bounded in count and size.
//! - [`validate_subject_token`], [`validate_actor`], [`validate_organization`] run before any
//!   request is emitted (RFC 8693 section 2.1).
//! - [`token_request`] builds the `POST` with `Accept: application/json` and the
//!   `Auth0-Client` telemetry header ([`Telemetry`]).
//!
//! Extra parameters may be logged by the server: never put personal data in them.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::error::{ExchangeError, InputError};
use crate::http::{HttpRequest, Method};
use crate::percent;

/// Parameter names an extra parameter may never use (compared ignoring ASCII case): grant type,
/// client credentials, subject and actor fields, and the names whose meaning the flows own.
pub const RESERVED_PARAMETERS: &[&str] = &[
    "grant_type",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
    "subject_token",
    "subject_token_type",
    "actor_token",
    "actor_token_type",
    "requested_token_type",
    "audience",
    "aud",
    "resource",
    "resources",
    "resource_indicator",
    "scope",
    "connection",
    "login_hint",
    "organization",
    "assertion",
];

/// At most this many values per extra parameter name.
pub const MAX_VALUES_PER_PARAMETER: usize = 20;

/// At most this many distinct extra parameter names.
pub const MAX_EXTRA_PARAMETERS: usize = 50;

/// At most this many bytes in one extra parameter value (before encoding).
pub const MAX_PARAMETER_VALUE_LEN: usize = 8 * 1024;

/// True when `name` is reserved ([`RESERVED_PARAMETERS`], ignoring ASCII case).
pub(crate) fn is_reserved(name: &str) -> bool {
    RESERVED_PARAMETERS
        .iter()
        .any(|r| r.eq_ignore_ascii_case(name))
}

/// An ordered list of form parameters, the body of a token request.
///
/// `Debug` prints names only: values include tokens and client secrets.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct FormParams {
    pairs: Vec<(String, String)>,
}

impl fmt::Debug for FormParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.pairs.iter().map(|(n, _)| n))
            .finish()
    }
}

impl FormParams {
    /// An empty list.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Appends `name=value` (names may repeat).
    pub(crate) fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.pairs.push((name.into(), value.into()));
    }

    #[cfg(test)]
    /// The pairs in order.
    ///
    /// # Security
    /// Values include the subject token and may include the client secret or assertion.
    pub(crate) fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// The first value of `name` (exact match).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `application/x-www-form-urlencoded` serialisation: `name=value` pairs joined by
    /// `&`, each side encoded by [`encode_component`].
    pub(crate) fn encode(&self) -> String {
        let mut out = String::new();
        for (i, (name, value)) in self.pairs.iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            encode_component(name, &mut out);
            out.push('=');
            encode_component(value, &mut out);
        }
        out
    }
}

/// Appends `s` form-urlencoded to `out` (WHATWG URL standard, application/x-www-form-urlencoded
/// percent-encode set): ASCII alphanumerics and `*-._` are kept, space becomes `+`, every other
/// UTF-8 byte becomes `%XX` with upper-case hex digits.
pub(crate) fn encode_component(s: &str, out: &mut String) {
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => percent::push_escape(out, b),
        }
    }
}

#[cfg(test)]
/// Why a form body could not be decoded by [`decode_form`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum FormDecodeError {
    /// A `%` not followed by two hex digits.
    InvalidPercentEncoding,
    /// The decoded bytes are not UTF-8.
    InvalidUtf8,
}

#[cfg(test)]
impl fmt::Display for FormDecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FormDecodeError::InvalidPercentEncoding => "invalid percent-encoding in form body",
            FormDecodeError::InvalidUtf8 => "form body is not utf-8",
        })
    }
}

#[cfg(test)]
impl core::error::Error for FormDecodeError {}

#[cfg(test)]
/// Decodes an `application/x-www-form-urlencoded` body into its pairs, in order.
///
/// Stricter than the WHATWG parser, which passes malformed escapes through: a `%` must start a
/// valid escape and the result must be UTF-8. Empty sequences between `&` are skipped; a
/// sequence without `=` is a name with an empty value.
///
/// # Errors
/// [`FormDecodeError`] for a malformed escape or non-UTF-8 result.
pub(crate) fn decode_form(body: &str) -> Result<Vec<(String, String)>, FormDecodeError> {
    let mut pairs = Vec::new();
    for part in body.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = part.split_once('=').unwrap_or((part, ""));
        pairs.push((decode_component(name)?, decode_component(value)?));
    }
    Ok(pairs)
}

#[cfg(test)]
fn decode_component(s: &str) -> Result<String, FormDecodeError> {
    let bytes = percent::form_decoded(s.as_bytes())
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|percent::BadEscape| FormDecodeError::InvalidPercentEncoding)?;
    String::from_utf8(bytes).map_err(|_| FormDecodeError::InvalidUtf8)
}

/// Caller-chosen extra parameters of a token exchange, each name with one or more values.
///
/// Checked by [`ExtraParameters::validate`]: names non-empty without control characters and
/// not reserved ([`RESERVED_PARAMETERS`]), at most [`MAX_EXTRA_PARAMETERS`] names,
/// [`MAX_VALUES_PER_PARAMETER`] values per name and [`MAX_PARAMETER_VALUE_LEN`] bytes per value.
/// `Debug` prints names only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ExtraParameters {
    entries: Vec<(String, Vec<String>)>,
}

impl fmt::Debug for ExtraParameters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|(n, _)| n))
            .finish()
    }
}

impl ExtraParameters {
    /// No extra parameters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one value to `name` (a name given twice collects both values).
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.insert(name, value);
        self
    }

    /// Adds one value to `name`.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        let value = value.into();
        match self.entries.iter_mut().find(|(n, _)| *n == name) {
            Some((_, values)) => values.push(value),
            None => self.entries.push((name, alloc::vec![value])),
        }
    }

    /// Adds every value of `values` to `name` (an array-valued parameter).
    pub fn insert_all<I, V>(&mut self, name: impl Into<String>, values: I)
    where
        I: IntoIterator<Item = V>,
        V: Into<String>,
    {
        let name = name.into();
        for v in values {
            self.insert(name.clone(), v);
        }
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The names and their values, in insertion order.
    pub fn entries(&self) -> &[(String, Vec<String>)] {
        &self.entries
    }

    /// Checks the rules listed on the type.
    ///
    /// # Errors
    /// [`InputError::ReservedParameter`], [`InputError::InvalidParameterName`],
    /// [`InputError::TooManyParameters`], [`InputError::TooManyValues`],
    /// [`InputError::ParameterTooLong`].
    pub fn validate(&self) -> Result<(), ExchangeError> {
        if self.entries.len() > MAX_EXTRA_PARAMETERS {
            return Err(ExchangeError::Input(InputError::TooManyParameters));
        }
        for (name, values) in &self.entries {
            if name.is_empty() || name.chars().any(char::is_control) {
                return Err(ExchangeError::Input(InputError::InvalidParameterName));
            }
            // RFC 8693 section 2.1 and upstream PARAM_DENYLIST: a caller value must never
            // replace a protocol or security parameter. Refused, not dropped, so the caller
            // learns about it; case-insensitive because servers differ in how they match.
            if is_reserved(name) {
                return Err(ExchangeError::Input(InputError::ReservedParameter {
                    name: name.clone(),
                }));
            }
            if values.len() > MAX_VALUES_PER_PARAMETER {
                return Err(ExchangeError::Input(InputError::TooManyValues {
                    name: name.clone(),
                }));
            }
            if values.iter().any(|v| v.len() > MAX_PARAMETER_VALUE_LEN) {
                return Err(ExchangeError::Input(InputError::ParameterTooLong {
                    name: name.clone(),
                }));
            }
        }
        Ok(())
    }

    /// Validates, then appends every value to `form` (a repeated name for an array).
    ///
    /// # Errors
    /// As [`ExtraParameters::validate`]; `form` is unchanged on error.
    pub(crate) fn append_to(&self, form: &mut FormParams) -> Result<(), ExchangeError> {
        self.validate()?;
        for (name, values) in &self.entries {
            for value in values {
                form.push(name.as_str(), value.as_str());
            }
        }
        Ok(())
    }
}

/// True for a token that breaks the subject-token rules.
fn is_malformed_token(token: &str) -> bool {
    let surrounded = token.starts_with(char::is_whitespace) || token.ends_with(char::is_whitespace);
    // A token pasted with its scheme ("Bearer x", "bearer\tx"): the scheme name followed by
    // any white space, in any case (RFC 6750 section 2.1 schemes are case-insensitive).
    let bearer_prefix = token
        .get(..6)
        .is_some_and(|p| p.eq_ignore_ascii_case("bearer"))
        && token
            .get(6..)
            .is_some_and(|rest| rest.starts_with(char::is_whitespace));
    token.is_empty() || surrounded || bearer_prefix
}

/// Checks a subject token: non-empty, no surrounding white space, no `Bearer ` prefix
/// (any case, any white space after it).
///
/// # Errors
/// [`InputError::InvalidSubjectToken`].
pub(crate) fn validate_subject_token(token: &str) -> Result<(), ExchangeError> {
    if is_malformed_token(token) {
        return Err(ExchangeError::Input(InputError::InvalidSubjectToken));
    }
    Ok(())
}

/// Checks the optional actor: `actor_token` and `actor_token_type` come together (RFC 8693
/// section 2.1), the token follows the subject-token rules and the type is not blank.
///
/// # Errors
/// [`InputError::ActorTokenTypeMismatch`], [`InputError::InvalidActorToken`].
pub(crate) fn validate_actor(
    actor_token: Option<&str>,
    actor_token_type: Option<&str>,
) -> Result<(), ExchangeError> {
    match (actor_token, actor_token_type) {
        (None, None) => Ok(()),
        (Some(token), Some(token_type)) => {
            if is_malformed_token(token) {
                Err(ExchangeError::Input(InputError::InvalidActorToken))
            } else if token_type.trim().is_empty() {
                Err(ExchangeError::Input(InputError::ActorTokenTypeMismatch))
            } else {
                Ok(())
            }
        }
        _ => Err(ExchangeError::Input(InputError::ActorTokenTypeMismatch)),
    }
}

/// Checks an organization (id or name): not empty and not only white space.
///
/// # Errors
/// [`InputError::InvalidOrganization`].
pub(crate) fn validate_organization(organization: &str) -> Result<(), ExchangeError> {
    if organization.trim().is_empty() {
        return Err(ExchangeError::Input(InputError::InvalidOrganization));
    }
    Ok(())
}

/// The `Auth0-Client` telemetry header: base64 of `{"name":..,"version":..}`.
///
/// Defaults to this crate's name and version; [`Telemetry::disabled`] sends no header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Telemetry {
    client: Option<(String, String)>,
}

impl Default for Telemetry {
    fn default() -> Self {
        Self::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    }
}

impl Telemetry {
    /// The header name, lower case as [`HttpRequest`] headers are.
    pub(crate) const HEADER: &'static str = "auth0-client";

    /// Telemetry naming another client (for a wrapper crate).
    pub(crate) fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            client: Some((name.into(), version.into())),
        }
    }

    /// No telemetry header.
    pub(crate) const fn disabled() -> Self {
        Self { client: None }
    }

    /// The header value: standard base64 (with padding) of the JSON object, or `None` when
    /// disabled.
    pub(crate) fn header_value(&self) -> Option<String> {
        let (name, version) = self.client.as_ref()?;
        let mut json = serde_json::Map::new();
        json.insert("name".into(), name.as_str().into());
        json.insert("version".into(), version.as_str().into());
        let bytes = serde_json::to_vec(&json).ok()?;
        Some(STANDARD.encode(bytes))
    }
}

/// True for an absolute `https` URL with a host: credentials go nowhere else.
fn is_https_url(url: &str) -> bool {
    let Some(scheme) = url.get(..8) else {
        return false;
    };
    let rest = url.get(8..).unwrap_or("");
    scheme.eq_ignore_ascii_case("https://")
        && !rest.is_empty()
        && !rest.starts_with(['/', '?', '#', '@', ':'])
        && !url.chars().any(|c| c.is_control() || c.is_whitespace())
}

/// Builds the token request: `POST token_endpoint` with the form body,
/// `content-type: application/x-www-form-urlencoded`, `accept: application/json`, the
/// optional `authorization` header (client_secret_basic) and the telemetry header.
///
/// # Errors
/// [`InputError::InsecureTokenEndpoint`] unless `token_endpoint` is an absolute `https`
/// URL (T-75: client credentials are never sent in clear).
pub(crate) fn token_request(
    token_endpoint: &str,
    form: &FormParams,
    authorization: Option<String>,
    telemetry: &Telemetry,
) -> Result<HttpRequest, ExchangeError> {
    if !is_https_url(token_endpoint) {
        return Err(ExchangeError::Input(InputError::InsecureTokenEndpoint));
    }
    let mut headers = alloc::vec![
        (
            String::from("content-type"),
            String::from("application/x-www-form-urlencoded")
        ),
        (String::from("accept"), String::from("application/json")),
    ];
    if let Some(value) = authorization {
        headers.push((String::from("authorization"), value));
    }
    if let Some(value) = telemetry.header_value() {
        headers.push((String::from(Telemetry::HEADER), value));
    }
    Ok(HttpRequest {
        method: Method::Post,
        url: String::from(token_endpoint),
        headers,
        body: form.encode().into_bytes(),
    })
}

#[cfg(test)]
mod tests {
    use alloc::format;
    use alloc::string::ToString;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn encoding_table() {
        let cases: &[(&str, &str)] = &[
            ("", ""),
            ("abcXYZ019", "abcXYZ019"),
            ("*-._", "*-._"),
            ("a b", "a+b"),
            ("a+b", "a%2Bb"),
            ("a&b=c", "a%26b%3Dc"),
            ("100%", "100%25"),
            ("~!'()", "%7E%21%27%28%29"),
            ("\r\n\0", "%0D%0A%00"),
            ("é€😀", "%C3%A9%E2%82%AC%F0%9F%98%80"),
            ("urn:ietf:params", "urn%3Aietf%3Aparams"),
        ];
        for (input, expected) in cases {
            let mut out = String::new();
            encode_component(input, &mut out);
            assert_eq!(&out, expected, "input {input:?}");
        }
        let mut f = FormParams::new();
        f.push("grant_type", "urn:x");
        f.push("scope", "read write");
        f.push("scope", "");
        assert_eq!(f.encode(), "grant_type=urn%3Ax&scope=read+write&scope=");
        assert_eq!(f.get("scope"), Some("read write"));
    }

    #[test]
    fn decoding_is_strict() {
        assert_eq!(
            decode_form("a=1&&b&c=%41+%2b").unwrap(),
            alloc::vec![
                ("a".to_string(), "1".to_string()),
                ("b".to_string(), String::new()),
                ("c".to_string(), "A +".to_string())
            ]
        );
        for bad in ["a=%", "a=%4", "a=%zz", "%g0=1"] {
            assert_eq!(
                decode_form(bad),
                Err(FormDecodeError::InvalidPercentEncoding),
                "{bad}"
            );
        }
        assert_eq!(decode_form("a=%ff"), Err(FormDecodeError::InvalidUtf8));
    }

    #[test]
    fn reserved_names_are_refused_in_any_case() {
        for name in RESERVED_PARAMETERS {
            for variant in [name.to_string(), name.to_ascii_uppercase(), {
                let mut s = name.to_string();
                s[..1].make_ascii_uppercase();
                s
            }] {
                let extra = ExtraParameters::new().with(variant.clone(), "x");
                match extra.validate() {
                    Err(ExchangeError::Input(InputError::ReservedParameter { name })) => {
                        assert_eq!(name, variant)
                    }
                    other => panic!("{variant}: {other:?}"),
                }
            }
        }
        let ok = ExtraParameters::new()
            .with("custom", "1")
            .with("scopes", "2");
        assert!(ok.validate().is_ok());
    }

    #[test]
    fn extra_parameter_limits() {
        let mut many = ExtraParameters::new();
        many.insert_all("tags", (0..MAX_VALUES_PER_PARAMETER).map(|i| i.to_string()));
        assert!(many.validate().is_ok());
        many.insert("tags", "one too many");
        assert!(
            matches!(many.validate(), Err(ExchangeError::Input(InputError::TooManyValues { name })) if name == "tags")
        );

        let mut names = ExtraParameters::new();
        for i in 0..=MAX_EXTRA_PARAMETERS {
            names.insert(format!("p{i}"), "v");
        }
        assert!(matches!(
            names.validate(),
            Err(ExchangeError::Input(InputError::TooManyParameters))
        ));

        let long = ExtraParameters::new().with("p", "x".repeat(MAX_PARAMETER_VALUE_LEN + 1));
        assert!(matches!(
            long.validate(),
            Err(ExchangeError::Input(InputError::ParameterTooLong { .. }))
        ));
        for bad in ["", "a\nb", "\0"] {
            let e = ExtraParameters::new().with(bad, "v");
            assert!(
                matches!(
                    e.validate(),
                    Err(ExchangeError::Input(InputError::InvalidParameterName))
                ),
                "{bad:?}"
            );
        }

        let mut form = FormParams::new();
        let bad = ExtraParameters::new()
            .with("x", "1")
            .with("Audience", "evil");
        assert!(bad.append_to(&mut form).is_err());
        assert!(form.pairs().is_empty());
        let good = ExtraParameters::new()
            .with("x", "1")
            .with("y", "2")
            .with("x", "3");
        good.append_to(&mut form).unwrap();
        assert_eq!(form.encode(), "x=1&x=3&y=2");
    }

    #[test]
    fn subject_token_rules() {
        let bad = [
            "",
            " ",
            "tok ",
            " tok",
            "\ttok",
            "tok\n",
            "Bearer x",
            "bearer\tx",
            "BEARER  x",
            "\u{a0}tok",
        ];
        for t in bad {
            assert!(
                matches!(
                    validate_subject_token(t),
                    Err(ExchangeError::Input(InputError::InvalidSubjectToken))
                ),
                "{t:?}"
            );
        }
        for t in ["eyJ.a.b", "Bearerx", "bearer", "tok with inner space"] {
            assert!(validate_subject_token(t).is_ok(), "{t:?}");
        }
    }

    #[test]
    fn actor_and_organization_rules() {
        let cases: &[(Option<&str>, Option<&str>, bool)] = &[
            (None, None, true),
            (
                Some("a.b.c"),
                Some("urn:ietf:params:oauth:token-type:jwt"),
                true,
            ),
            (Some("a.b.c"), None, false),
            (None, Some("urn:x"), false),
            (Some("a.b.c"), Some(" "), false),
            (Some("Bearer a"), Some("urn:x"), false),
        ];
        for (token, ty, ok) in cases {
            assert_eq!(validate_actor(*token, *ty).is_ok(), *ok, "{token:?} {ty:?}");
        }
        assert!(matches!(
            validate_actor(Some(" x"), Some("t")),
            Err(ExchangeError::Input(InputError::InvalidActorToken))
        ));
        for org in ["", " ", "\t\n"] {
            assert!(matches!(
                validate_organization(org),
                Err(ExchangeError::Input(InputError::InvalidOrganization))
            ));
        }
        assert!(validate_organization("org_123").is_ok());
    }

    #[test]
    fn telemetry_header() {
        let t = Telemetry::new("auth0-api", "0.1.0");
        let decoded = STANDARD.decode(t.header_value().unwrap()).unwrap();
        assert_eq!(decoded, br#"{"name":"auth0-api","version":"0.1.0"}"#);
        let default = Telemetry::default().header_value().unwrap();
        let json: serde_json::Value =
            serde_json::from_slice(&STANDARD.decode(default).unwrap()).unwrap();
        assert_eq!(json["name"], env!("CARGO_PKG_NAME"));
        assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(Telemetry::disabled().header_value(), None);
    }

    #[test]
    fn request_shape() {
        let mut form = FormParams::new();
        form.push("subject_token", "secret token");
        let req = token_request(
            "https://t.example/oauth/token",
            &form,
            None,
            &Telemetry::default(),
        )
        .unwrap();
        assert_eq!(req.method, Method::Post);
        assert_eq!(
            req.header("Content-Type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(req.header("accept"), Some("application/json"));
        assert!(req.header("auth0-client").is_some());
        assert_eq!(req.header("authorization"), None);
        assert_eq!(req.body, b"subject_token=secret+token");
        assert!(!format!("{form:?}{req:?}").contains("secret token"));

        let req = token_request(
            "https://t.example/t",
            &form,
            Some("Basic x".into()),
            &Telemetry::disabled(),
        )
        .unwrap();
        assert_eq!(req.header("authorization"), Some("Basic x"));
        assert_eq!(req.header("auth0-client"), None);

        for bad in [
            "http://t.example/token",
            "https://",
            "https:///x",
            "t.example/token",
            "https://t.example/\r\nx",
            "ftp://x",
            "",
        ] {
            assert!(
                matches!(
                    token_request(bad, &form, None, &Telemetry::default()),
                    Err(ExchangeError::Input(InputError::InsecureTokenEndpoint))
                ),
                "{bad:?}"
            );
        }
        assert!(
            token_request(
                "HTTPS://T.example:8443/token",
                &form,
                None,
                &Telemetry::default()
            )
            .is_ok()
        );
    }

    fn sorted(mut v: Vec<(String, String)>) -> Vec<(String, String)> {
        v.sort();
        v
    }

    proptest! {
        /// T-73: any names and values survive encoding as a multiset of pairs; no value can
        /// smuggle a parameter.
        #[test]
        fn form_round_trip(pairs in proptest::collection::vec((".*", ".*"), 0..8)) {
            let mut form = FormParams::new();
            for (n, v) in &pairs {
                form.push(n.as_str(), v.as_str());
            }
            let body = form.encode();
            prop_assert!(body.bytes().all(|b| b.is_ascii_graphic()));
            let decoded = decode_form(&body).unwrap();
            // Pairs with an empty name and empty value encode as "=" and decode as ("", "").
            prop_assert_eq!(sorted(decoded), sorted(pairs));
        }

        #[test]
        fn hostile_values_round_trip(v in "[&=+% \r\n\0a-z]{0,40}") {
            let mut form = FormParams::new();
            form.push("a", v.as_str());
            form.push("b", "1");
            let decoded = decode_form(&form.encode()).unwrap();
            prop_assert_eq!(decoded.len(), 2);
            prop_assert_eq!(&decoded[0].1, &v);
        }

        #[test]
        fn decoder_never_panics(s in ".*") {
            let _ = decode_form(&s);
        }
    }
}
