//! Framework-neutral request protection: what every web framework adapter (tower/axum,
//! actix-web) does between "a request arrived" and "call the handler or answer an error".
//!
//! The pieces take plain `&str` and `&[u8]` values, never a framework's or the `http`
//! crate's types, so adapters on different `http` versions share them:
//!
//! 1. [`ProtectOptions::prepare`] reads the method, the request target and the header lines
//!    and returns the [`Credentials`] to verify: the token and its scheme (SPEC section 5,
//!    through the core's [`extract_token`]), the `DPoP` proof, the method and the full
//!    request URL for the proof's `htu`. The URL's scheme and authority come from the
//!    configured [`UrlSource`]. The token is looked for in the `Authorization` header and
//!    the `access_token` query parameter only: the body is never read, so a token sent
//!    only as a form field (RFC 6750 section 2.2) is not found.
//! 2. [`ProtectOptions::verify`] verifies them with a [`Client`] and checks the route's
//!    [`Policy`], giving the [`Verified`] claims and scheme.
//! 3. On failure, [`ErrorResponse::from`] a [`ProtectError`] gives the status, every
//!    `WWW-Authenticate` value (one header each) and the JSON body
//!    `{"error": ..., "error_description": ...}`.
//!
//! ```
//! use auth0_api::VerifierConfig;
//! use auth0_api_driver::protect::{ErrorResponse, ProtectOptions, PublicOrigin};
//!
//! let verifier = VerifierConfig::new()
//!     .domain("example.auth0.com")
//!     .audience("https://api.example.com")
//!     .build()?;
//! let options = ProtectOptions::new().public_origin("https://api.example.com".parse()?);
//!
//! // A request without credentials: 401 and a challenge without an error code.
//! let headers = [("host", &b"api.example.com"[..])];
//! let err = options.prepare(&verifier, "GET", "/orders", headers).unwrap_err();
//! let response = ErrorResponse::from(&err);
//! assert_eq!(response.status, 401);
//! assert_eq!(response.www_authenticate, [r#"Bearer realm="api""#, r#"DPoP algs="ES256""#]);
//! assert_eq!(response.body, r#"{"error":"invalid_token","error_description":"no access token"}"#);
//!
//! // A DPoP request: the URL for `htu` comes from the configured origin.
//! let headers = [
//!     ("authorization", &b"DPoP eyJ0.eyJ1.c2ln"[..]),
//!     ("dpop", &b"eyJ2.eyJ3.c2ln"[..]),
//! ];
//! let credentials = options.prepare(&verifier, "GET", "/orders?page=2", headers)?.unwrap();
//! assert_eq!(credentials.url(), Some("https://api.example.com/orders?page=2"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Where the request URL comes from
//! A server does not know the URL its client used: behind a proxy it sees another scheme
//! and host. The DPoP proof's `htu` must match the URL the client used (RFC 9449 section
//! 4.3), so [`UrlSource`] says where to take it from:
//!
//! - [`UrlSource::Fixed`] (recommended): a configured public origin such as
//!   `https://api.example.com`; request headers are not consulted.
//! - [`UrlSource::Forwarded`]: the `Forwarded` header (RFC 7239) written by a trusted
//!   proxy. Only its **last** element is read: a proxy appends its element to whatever the
//!   client sent, so the last one is the one the trusted proxy wrote (with several proxies
//!   in a chain, the nearest one must rewrite the header). The element's `proto` is
//!   required; its `host`, when absent, is taken from the `Host` header, which the trusted
//!   proxy then vouches for.
//! - [`UrlSource::XForwarded`]: `X-Forwarded-Proto` (required) and `X-Forwarded-Host`
//!   (else `Host`) from a trusted proxy, the last comma-separated value of each.
//! - [`UrlSource::Host`] (the default): the `Host` header, which the client chooses. It is
//!   never trusted for DPoP: a request that uses DPoP (the `DPoP` scheme or a `DPoP` header,
//!   when the verifier's DPoP mode is not `disabled`) fails with
//!   [`Misconfiguration::UntrustedHost`] (500), telling the operator to configure an origin.
//!   Bearer requests need no URL; they get the `Host`-derived URL (for a domain resolver)
//!   when it is well formed, and none otherwise.
//!
//! Headers named by the source must appear once (`Host`) or be a well-formed list
//! (`Forwarded`, `X-Forwarded-*`); schemes are `http` or `https`, hosts are a DNS name, an
//! IPv4 address or a bracketed IPv6 address with an optional port, at most
//! [`MAX_AUTHORITY_LEN`] bytes; no control character (CR, LF, ...) is ever accepted. A
//! malformed value is refused with 400 `invalid_request` when the URL is needed (DPoP), and
//! ignored otherwise. A trusted header that is missing when the URL is needed is
//! [`Misconfiguration::MissingHeader`] (500): the proxy is not in front, or does not set it.

use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use auth0_api::extract::ExtractError;
use auth0_api::verify::dpop::{DpopError, MAX_HTU_LEN, UrlError};
use auth0_api::{AuthScheme, ClaimError, Claims, DpopMode, Policy, Reason, RequestContext};
use auth0_api::{Verifier, VerifyError, extract_token};
use serde::de::DeserializeOwned;

use crate::{AsyncTransport, Client};

/// The longest authority (`host[:port]`) accepted from a header or an origin, in bytes.
pub const MAX_AUTHORITY_LEN: usize = 262;

/// The longest `Forwarded` or `X-Forwarded-*` value read (all lines together), in bytes.
pub const MAX_FORWARDED_LEN: usize = 8 * 1024;

/// The longest `DPoP` value read (all lines together), in bytes. The core refuses longer
/// proofs anyway; this bounds the copy.
const MAX_PROOF_LEN: usize = 64 * 1024;

// ---------------------------------------------------------------------------------------
// Origins and URL sources
// ---------------------------------------------------------------------------------------

/// A public origin, `http` or `https` scheme and authority, such as
/// `https://api.example.com` or `http://127.0.0.1:8080`.
///
/// Parsing checks the scheme and the authority's syntax and keeps the text as given (a
/// trailing `/` is allowed and dropped); the DPoP check normalises case and default ports.
///
/// ```
/// use auth0_api_driver::protect::PublicOrigin;
/// let origin: PublicOrigin = "https://api.example.com".parse()?;
/// assert_eq!(origin.url("/orders?x=1")?, "https://api.example.com/orders?x=1");
/// assert!("ftp://api.example.com".parse::<PublicOrigin>().is_err());
/// assert!("https://api.example.com/v1".parse::<PublicOrigin>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct PublicOrigin {
    /// `scheme://authority`, without a trailing slash.
    text: String,
}

impl PublicOrigin {
    /// The origin for `scheme` (`http` or `https`, any case) and `authority` (`host[:port]`).
    ///
    /// # Errors
    /// [`UrlError::Scheme`] for another scheme; the authority's syntax error otherwise.
    pub fn new(scheme: &str, authority: &str) -> Result<Self, UrlError> {
        let scheme = check_scheme(scheme)?;
        check_authority(authority)?;
        Ok(Self {
            text: format!("{scheme}://{authority}"),
        })
    }

    /// The origin as text: `scheme://authority`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The full URL of a request with this origin and `target` (the path and query, which
    /// must start with `/`).
    ///
    /// # Errors
    /// A [`UrlError`] for a target that does not start with `/`, holds a character outside
    /// visible ASCII or `#`, or makes the URL longer than the `htu` limit.
    pub fn url(&self, target: &str) -> Result<String, UrlError> {
        check_target(target)?;
        if self.text.len().saturating_add(target.len()) > MAX_HTU_LEN {
            return Err(UrlError::TooLong);
        }
        Ok(format!("{}{target}", self.text))
    }
}

impl FromStr for PublicOrigin {
    type Err = UrlError;

    fn from_str(origin: &str) -> Result<Self, UrlError> {
        let (scheme, rest) = origin.split_once("://").ok_or(UrlError::Scheme)?;
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains('@') {
            return Err(UrlError::Userinfo);
        }
        if authority.contains(['/', '?', '#']) {
            // A path, query or fragment: an origin is scheme and authority only.
            return Err(UrlError::Host);
        }
        Self::new(scheme, authority)
    }
}

impl fmt::Display for PublicOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for PublicOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicOrigin({:?})", self.text)
    }
}

/// Where the scheme and authority of the request URL (the DPoP `htu`) come from; see the
/// [module docs](self).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlSource {
    /// A fixed public origin; no header is consulted.
    Fixed(PublicOrigin),
    /// The last element of `Forwarded` (RFC 7239), written by a trusted proxy.
    Forwarded,
    /// The last values of `X-Forwarded-Proto` and `X-Forwarded-Host` (else `Host`), written
    /// by a trusted proxy.
    XForwarded,
    /// The client's `Host` header: never used for DPoP.
    #[default]
    Host,
}

/// Why a request cannot be served as the layer is configured: answered with 500, logged
/// by the adapter. The client is not at fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Misconfiguration {
    /// The request uses DPoP and the URL source is [`UrlSource::Host`]: configure a public
    /// origin or a trusted proxy header.
    UntrustedHost,
    /// The trusted proxy header (lower-case name) is missing: the proxy is not in front of
    /// this server, or does not set it.
    MissingHeader(&'static str),
    /// The adapter's layer or middleware is not installed on this route (for extractors).
    NotInstalled,
}

impl fmt::Display for Misconfiguration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Misconfiguration::UntrustedHost => f.write_str(
                "a DPoP request needs the public URL, and only the untrusted Host header is \
                 configured: set a public origin or trust the proxy's forwarded headers",
            ),
            Misconfiguration::MissingHeader(name) => write!(
                f,
                "the trusted proxy header {name} is missing: is the proxy in front of this \
                 server, and does it set the header?"
            ),
            Misconfiguration::NotInstalled => {
                f.write_str("the authentication layer is not installed on this route")
            }
        }
    }
}

impl std::error::Error for Misconfiguration {}

/// Why the request URL could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum UrlFailure {
    /// A header value or the target is malformed: the client's (or proxy's) fault.
    Invalid(UrlError),
    /// The configuration does not allow a URL for this request.
    Config(Misconfiguration),
}

impl From<UrlError> for UrlFailure {
    fn from(e: UrlError) -> Self {
        UrlFailure::Invalid(e)
    }
}

/// `http` or `https`, ignoring case.
fn check_scheme(scheme: &str) -> Result<&'static str, UrlError> {
    if scheme.eq_ignore_ascii_case("https") {
        Ok("https")
    } else if scheme.eq_ignore_ascii_case("http") {
        Ok("http")
    } else {
        Err(UrlError::Scheme)
    }
}

/// `host[:port]`: a DNS name or IPv4 address (letters, digits, `-`, `.`, `_`, `~`), or a
/// bracketed IPv6 address; a port of 1 to 5 digits up to 65535. No user information, no
/// percent-encoding, at most [`MAX_AUTHORITY_LEN`] bytes.
fn check_authority(authority: &str) -> Result<(), UrlError> {
    if authority.len() > MAX_AUTHORITY_LEN {
        return Err(UrlError::TooLong);
    }
    if authority.contains('@') {
        return Err(UrlError::Userinfo);
    }
    let (host_ok, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (inside, after) = rest.split_once(']').ok_or(UrlError::Host)?;
        let ok = !inside.is_empty()
            && inside.contains(':')
            && inside
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or(UrlError::Host)?),
        };
        (ok, port)
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        let ok = !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        (ok, port)
    };
    if !host_ok {
        return Err(UrlError::Host);
    }
    if let Some(port) = port {
        let digits_ok = (1..=5).contains(&port.len()) && port.bytes().all(|b| b.is_ascii_digit());
        if !digits_ok || port.parse::<u32>().map_or(true, |p| p > 65_535) {
            return Err(UrlError::Port);
        }
    }
    Ok(())
}

/// A request target in origin form: `/`, then visible ASCII other than `#` and `\`.
fn check_target(target: &str) -> Result<(), UrlError> {
    if target.len() > MAX_HTU_LEN {
        return Err(UrlError::TooLong);
    }
    if !target.starts_with('/') {
        return Err(UrlError::MissingAuthority);
    }
    if !target
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'#' && b != b'\\')
    {
        return Err(UrlError::Character);
    }
    Ok(())
}

/// Field-value bytes as text: visible ASCII, space and tab only (RFC 9110 section 5.5,
/// without `obs-text`); CR, LF, NUL and every other control or non-ASCII byte is refused.
fn field_text(value: &[u8]) -> Result<&str, UrlError> {
    if value
        .iter()
        .all(|&b| b.is_ascii_graphic() || b == b' ' || b == b'\t')
    {
        std::str::from_utf8(value).map_err(|_| UrlError::Character)
    } else {
        Err(UrlError::Character)
    }
}

/// The proto and host of the last element of a `Forwarded` field (RFC 7239 section 4),
/// whose lines are given in order (several lines form one list, RFC 9110 section 5.3).
///
/// Returns `(proto, host)`, each `None` when the element lacks it. Empty list elements are
/// skipped; a parameter given twice in the element, a malformed pair or quoted string, a
/// control character or a value longer than [`MAX_FORWARDED_LEN`] is an error. Parameter
/// names are compared ignoring case; `proto` is returned lower-cased and checked to be
/// `http` or `https`, `host` checked as an authority.
///
/// ```
/// use auth0_api_driver::protect::parse_forwarded;
/// let lines: [&[u8]; 2] = [b"for=1.2.3.4;proto=http;host=evil", b"for=5.6.7.8;proto=https;host=\"api.example.com:8443\""];
/// let (proto, host) = parse_forwarded(lines)?;
/// assert_eq!((proto, host.as_deref()), (Some("https"), Some("api.example.com:8443")));
/// # Ok::<(), auth0_api::verify::dpop::UrlError>(())
/// ```
///
/// # Errors
/// A [`UrlError`]: [`Character`](UrlError::Character) for a control or non-ASCII byte or a
/// malformed list, [`TooLong`](UrlError::TooLong), [`Scheme`](UrlError::Scheme) for
/// another `proto`, or the host's syntax error.
pub fn parse_forwarded<'v>(
    lines: impl IntoIterator<Item = &'v [u8]>,
) -> Result<(Option<&'static str>, Option<String>), UrlError> {
    let mut total = 0usize;
    let mut last: Option<&str> = None;
    for line in lines {
        total = total.saturating_add(line.len());
        if total > MAX_FORWARDED_LEN {
            return Err(UrlError::TooLong);
        }
        let line = field_text(line)?;
        for element in split_outside_quotes(line, ',')? {
            if !element.trim_matches([' ', '\t']).is_empty() {
                last = Some(element);
            }
        }
    }
    let Some(element) = last else {
        return Ok((None, None));
    };
    let mut proto = None;
    let mut host: Option<String> = None;
    for pair in split_outside_quotes(element, ';')? {
        let pair = pair.trim_matches([' ', '\t']);
        if pair.is_empty() {
            continue;
        }
        let (name, value) = pair.split_once('=').ok_or(UrlError::Character)?;
        if name.is_empty() || !name.bytes().all(is_tchar) {
            return Err(UrlError::Character);
        }
        let value = forwarded_value(value)?;
        if name.eq_ignore_ascii_case("proto") {
            if proto.is_some() {
                return Err(UrlError::Scheme);
            }
            proto = Some(check_scheme(&value)?);
        } else if name.eq_ignore_ascii_case("host") {
            if host.is_some() {
                return Err(UrlError::Host);
            }
            check_authority(&value)?;
            host = Some(value);
        }
    }
    Ok((proto, host))
}

/// The parts of `text` between unquoted `separator`s; a quoted string (with `\` escapes)
/// may hold the separator. An unterminated quoted string is an error.
fn split_outside_quotes(text: &str, separator: char) -> Result<Vec<&str>, UrlError> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if in_quotes {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_quotes = false;
            }
        } else if c == '"' {
            in_quotes = true;
        } else if c == separator {
            parts.push(text.get(start..i).unwrap_or_default());
            start = i + c.len_utf8();
        }
    }
    if in_quotes {
        return Err(UrlError::Character);
    }
    parts.push(text.get(start..).unwrap_or_default());
    Ok(parts)
}

/// A `Forwarded` parameter value: a token (or any visible ASCII but `"`, `,`, `;` and
/// `\`), or a quoted string with its escapes removed.
fn forwarded_value(value: &str) -> Result<String, UrlError> {
    if let Some(inner) = value.strip_prefix('"') {
        let inner = inner.strip_suffix('"').ok_or(UrlError::Character)?;
        let mut out = String::with_capacity(inner.len());
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => out.push(chars.next().ok_or(UrlError::Character)?),
                '"' => return Err(UrlError::Character),
                c => out.push(c),
            }
        }
        Ok(out)
    } else if !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b',' | b';' | b'\\'))
    {
        // RFC 7239 wants a quoted string for a value with `:` or `[]` (a host with a port,
        // an IPv6 address); proxies often write them bare. Accept them: each parameter's
        // own check (scheme, authority) decides.
        Ok(value.to_owned())
    } else {
        Err(UrlError::Character)
    }
}

/// RFC 9110 section 5.6.2 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The last non-empty comma-separated value of an `X-Forwarded-*` field, over its lines.
fn last_list_value<'v>(lines: &[&'v [u8]]) -> Result<Option<&'v str>, UrlError> {
    let mut total = 0usize;
    let mut last = None;
    for line in lines {
        total = total.saturating_add(line.len());
        if total > MAX_FORWARDED_LEN {
            return Err(UrlError::TooLong);
        }
        for value in field_text(line)?.split(',') {
            let value = value.trim_matches([' ', '\t']);
            if !value.is_empty() {
                last = Some(value);
            }
        }
    }
    Ok(last)
}

/// The single `Host` value (RFC 9112 section 3.2: several is a bad request).
fn single_host<'v>(lines: &[&'v [u8]]) -> Result<Option<&'v str>, UrlError> {
    match lines {
        [] => Ok(None),
        [one] => {
            let host = field_text(one)?.trim_matches([' ', '\t']);
            check_authority(host)?;
            Ok(Some(host))
        }
        _ => Err(UrlError::Host),
    }
}

// ---------------------------------------------------------------------------------------
// Options, credentials, verification
// ---------------------------------------------------------------------------------------

/// How a route is protected: where the request URL comes from, whether credentials are
/// optional, and the [`Policy`] verified claims must satisfy.
///
/// ```
/// use auth0_api::Policy;
/// use auth0_api_driver::protect::{ProtectOptions, UrlSource};
/// let options = ProtectOptions::new()
///     .trust_forwarded()
///     .optional(true)
///     .policy(Policy::new().all_scopes(["read:orders"]));
/// assert_eq!(options.url_source(), &UrlSource::Forwarded);
/// assert!(options.is_optional());
/// ```
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct ProtectOptions {
    url_source: UrlSource,
    optional: bool,
    policy: Option<Policy>,
}

impl ProtectOptions {
    /// Required credentials, the URL from the `Host` header (never for DPoP), no policy.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets where the request URL comes from.
    pub fn with_url_source(mut self, source: UrlSource) -> Self {
        self.url_source = source;
        self
    }

    /// The request URL is `origin` + the request's path and query ([`UrlSource::Fixed`]).
    pub fn public_origin(self, origin: PublicOrigin) -> Self {
        self.with_url_source(UrlSource::Fixed(origin))
    }

    /// Trusts the last element of `Forwarded` ([`UrlSource::Forwarded`]). Only when every
    /// request comes through a proxy that writes it.
    pub fn trust_forwarded(self) -> Self {
        self.with_url_source(UrlSource::Forwarded)
    }

    /// Trusts `X-Forwarded-Proto` and `X-Forwarded-Host` ([`UrlSource::XForwarded`]). Only
    /// when every request comes through a proxy that writes them.
    pub fn trust_x_forwarded(self) -> Self {
        self.with_url_source(UrlSource::XForwarded)
    }

    /// With `true`, a request without any credentials (no `Authorization` header, no
    /// `access_token` parameter, no `DPoP` header) passes without claims; credentials
    /// that are present are still verified, and refused when bad. Defaults to `false`.
    pub fn optional(mut self, optional: bool) -> Self {
        self.optional = optional;
        self
    }

    /// What verified claims must satisfy (403 `insufficient_scope` otherwise).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Where the request URL comes from.
    pub fn url_source(&self) -> &UrlSource {
        &self.url_source
    }

    /// Whether credentials are optional.
    pub fn is_optional(&self) -> bool {
        self.optional
    }

    /// The route's policy, if any.
    pub fn route_policy(&self) -> Option<&Policy> {
        self.policy.as_ref()
    }

    /// Reads what a verification needs from a request: `method`, `target` (the path and
    /// query as received, `/orders?page=2`) and the header lines (name, any case; value
    /// bytes; a repeated header as several lines, in order). The body is not read, so a
    /// form-encoded `access_token` (RFC 6750 section 2.2) is not seen.
    ///
    /// `Ok(None)` when credentials are [optional](Self::optional) and the request carries
    /// none.
    ///
    /// # Errors
    /// - [`ProtectError::Rejected`]: no credentials (401, no error code); an
    ///   `Authorization` scheme other than `Bearer`/`DPoP` (400, SPEC section 4) or one the
    ///   verifier's DPoP mode refuses; a failed extraction (400 `invalid_request`); a
    ///   malformed header the URL source needs, for a DPoP request (400 `invalid_request`).
    /// - [`ProtectError::Misconfigured`]: a DPoP request and no trusted URL source (500).
    pub fn prepare<'h>(
        &self,
        verifier: &Verifier,
        method: &str,
        target: &str,
        headers: impl IntoIterator<Item = (&'h str, &'h [u8])>,
    ) -> Result<Option<Credentials>, ProtectError> {
        let with_resolver = verifier.domain().is_none();
        let mut lines = Lines::default();
        let mut all = Vec::new();
        for (name, value) in headers {
            lines.add(name, value);
            if with_resolver {
                all.push((name.to_ascii_lowercase(), lossy(value)));
            }
        }

        // SPEC section 5 through the core's extraction: the header, then the query.
        let query = target.split_once('?').map(|(_, q)| q);
        let authorization = lines
            .authorization
            .iter()
            .map(|v| ("authorization", text(v)));
        let dpop_mode = verifier.dpop().mode;
        let found = match extract_token(authorization, query, None) {
            Ok(found) => found,
            Err(ExtractError::NotFound) => {
                if let [_] = lines.authorization.as_slice() {
                    // An `Authorization` header with another scheme (`Basic ...`, or none):
                    // the scheme is refused (400, challenges without an error code), as the
                    // core refuses it before looking at a token (SPEC section 3).
                    return Err(ProtectError::Rejected(verifier.reject(
                        Reason::Dpop(DpopError::SchemeNotAllowed),
                        AuthScheme::Bearer,
                    )));
                }
                if lines.dpop.is_empty() && self.optional {
                    return Ok(None);
                }
                return Err(ProtectError::Rejected(
                    verifier.reject(Reason::MissingToken, AuthScheme::Bearer),
                ));
            }
            Err(e) => {
                return Err(ProtectError::Rejected(
                    verifier.reject(e.into(), AuthScheme::Bearer),
                ));
            }
        };
        let scheme = found.scheme();

        // Several `DPoP` lines form one comma-separated value (RFC 9110 section 5.3), which
        // the core refuses as several proofs (RFC 9449 section 4.3, check 1).
        let proof = match lines.dpop.as_slice() {
            [] => None,
            values => {
                let total = values
                    .iter()
                    .fold(0usize, |sum, v| sum.saturating_add(v.len()));
                if total > MAX_PROOF_LEN {
                    return Err(ProtectError::Rejected(
                        verifier.reject(Reason::Dpop(DpopError::ProofTooLarge), AuthScheme::DPoP),
                    ));
                }
                let mut joined = String::with_capacity(total + values.len());
                for (i, value) in values.iter().enumerate() {
                    if i > 0 {
                        joined.push(',');
                    }
                    joined.push_str(&text(value));
                }
                Some(joined)
            }
        };

        let uses_dpop =
            dpop_mode != DpopMode::Disabled && (scheme == AuthScheme::DPoP || proof.is_some());
        if uses_dpop && self.url_source == UrlSource::Host {
            return Err(ProtectError::Misconfigured(Misconfiguration::UntrustedHost));
        }
        // The URL is the DPoP proof's `htu`, and an input of a domain resolver; a bearer
        // request to a single-domain verifier needs none, so none is built.
        let url = if !uses_dpop && !with_resolver {
            None
        } else {
            match self.request_url(target, &lines) {
                Ok(url) => Some(url),
                Err(_) if !uses_dpop => None,
                Err(UrlFailure::Config(m)) => return Err(ProtectError::Misconfigured(m)),
                Err(UrlFailure::Invalid(e)) => {
                    return Err(ProtectError::Rejected(verifier.reject(
                        Reason::Dpop(DpopError::InvalidRequestUrl(e)),
                        AuthScheme::DPoP,
                    )));
                }
            }
        };
        Ok(Some(Credentials {
            token: found.into_token(),
            scheme,
            proof,
            method: method_name(method),
            url,
            headers: all,
        }))
    }

    /// The request URL from the configured source; see the [module docs](self).
    fn request_url(&self, target: &str, lines: &Lines<'_>) -> Result<String, UrlFailure> {
        let origin = match &self.url_source {
            UrlSource::Fixed(origin) => return Ok(origin.url(target)?),
            UrlSource::Forwarded => {
                if lines.forwarded.is_empty() {
                    return Err(UrlFailure::Config(Misconfiguration::MissingHeader(
                        "forwarded",
                    )));
                }
                let (proto, host) = parse_forwarded(lines.forwarded.iter().copied())?;
                let proto = proto.ok_or(UrlFailure::Config(Misconfiguration::MissingHeader(
                    "forwarded",
                )))?;
                match host {
                    Some(host) => PublicOrigin::new(proto, &host)?,
                    None => PublicOrigin::new(proto, host_or_missing(lines)?)?,
                }
            }
            UrlSource::XForwarded => {
                let proto = last_list_value(&lines.x_forwarded_proto)?.ok_or(
                    UrlFailure::Config(Misconfiguration::MissingHeader("x-forwarded-proto")),
                )?;
                match last_list_value(&lines.x_forwarded_host)? {
                    Some(host) => PublicOrigin::new(proto, host)?,
                    None => PublicOrigin::new(proto, host_or_missing(lines)?)?,
                }
            }
            UrlSource::Host => {
                // Only for requests without DPoP (see `prepare`): never trusted for `htu`.
                // The scheme is unknown behind a TLS terminator; `https` is assumed.
                let host = single_host(&lines.host)?.ok_or(UrlFailure::Invalid(UrlError::Host))?;
                PublicOrigin::new("https", host)?
            }
        };
        Ok(origin.url(target)?)
    }

    /// Verifies `credentials` with `client`, then checks the route's policy.
    ///
    /// # Errors
    /// [`ProtectError::Rejected`] with the verification or policy error.
    pub async fn verify<T: AsyncTransport>(
        &self,
        client: &Client<T>,
        credentials: &Credentials,
    ) -> Result<Verified, ProtectError> {
        let headers = credentials.header_pairs();
        let ctx = credentials.context_with(&headers);
        let claims = client.verify_async(&credentials.token, &ctx).await;
        self.with_policy(client.verifier(), claims, credentials.scheme)
    }

    /// [`verify`](Self::verify) from the caches alone ([`Client::verify_cached`]): `None`
    /// when the verification needs a request or a wait; then call `verify`.
    pub fn verify_cached<T>(
        &self,
        client: &Client<T>,
        credentials: &Credentials,
    ) -> Option<Result<Verified, ProtectError>> {
        let headers = credentials.header_pairs();
        let ctx = credentials.context_with(&headers);
        let claims = client.verify_cached(&credentials.token, &ctx)?;
        Some(self.with_policy(client.verifier(), claims, credentials.scheme))
    }

    /// A verification's outcome, with the route's policy checked on verified claims.
    fn with_policy(
        &self,
        verifier: &Verifier,
        claims: Result<Claims, VerifyError>,
        scheme: AuthScheme,
    ) -> Result<Verified, ProtectError> {
        let verified = Verified {
            claims: claims.map_err(ProtectError::Rejected)?,
            scheme,
        };
        if let Some(policy) = &self.policy {
            authorize(verifier, Some(&verified), policy)?;
        }
        Ok(verified)
    }
}

/// The header lines `prepare` reads, by name.
#[derive(Default)]
struct Lines<'h> {
    authorization: Values<'h>,
    dpop: Values<'h>,
    host: Values<'h>,
    forwarded: Values<'h>,
    x_forwarded_proto: Values<'h>,
    x_forwarded_host: Values<'h>,
}

impl<'h> Lines<'h> {
    fn add(&mut self, name: &str, value: &'h [u8]) {
        let list = if name.eq_ignore_ascii_case("authorization") {
            &mut self.authorization
        } else if name.eq_ignore_ascii_case("dpop") {
            &mut self.dpop
        } else if name.eq_ignore_ascii_case("host") {
            &mut self.host
        } else if name.eq_ignore_ascii_case("forwarded") {
            &mut self.forwarded
        } else if name.eq_ignore_ascii_case("x-forwarded-proto") {
            &mut self.x_forwarded_proto
        } else if name.eq_ignore_ascii_case("x-forwarded-host") {
            &mut self.x_forwarded_host
        } else {
            return;
        };
        list.push(value);
    }
}

/// The lines of one header: the usual one or two without allocating, more on the heap.
#[derive(Default)]
struct Values<'h> {
    inline: [&'h [u8]; 2],
    len: usize,
    spilled: Vec<&'h [u8]>,
}

impl<'h> Values<'h> {
    fn push(&mut self, value: &'h [u8]) {
        if !self.spilled.is_empty() {
            self.spilled.push(value);
        } else if let Some(slot) = self.inline.get_mut(self.len) {
            *slot = value;
            self.len += 1;
        } else {
            self.spilled.extend_from_slice(&self.inline);
            self.spilled.push(value);
        }
    }

    fn as_slice(&self) -> &[&'h [u8]] {
        if self.spilled.is_empty() {
            &self.inline[..self.len]
        } else {
            &self.spilled
        }
    }
}

impl<'h> std::ops::Deref for Values<'h> {
    type Target = [&'h [u8]];

    fn deref(&self) -> &Self::Target {
        self.as_slice()
    }
}

/// The `Host` value a trusted proxy passed through; its absence is a configuration matter.
fn host_or_missing<'h>(lines: &Lines<'h>) -> Result<&'h str, UrlFailure> {
    single_host(&lines.host)?.ok_or(UrlFailure::Config(Misconfiguration::MissingHeader("host")))
}

/// The method as given; the standard ones without an allocation.
fn method_name(method: &str) -> Cow<'static, str> {
    const STANDARD: [&str; 9] = [
        "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE",
    ];
    match STANDARD.iter().find(|m| **m == method) {
        Some(m) => Cow::Borrowed(m),
        None => Cow::Owned(method.to_owned()),
    }
}

/// Header bytes as text; any non-UTF-8 byte becomes U+FFFD, which no later check accepts.
fn lossy(value: &[u8]) -> String {
    text(value).into_owned()
}

/// Header bytes as text, borrowed when they are UTF-8 (the usual case, checked at the
/// speed of `str::from_utf8`); any other byte becomes U+FFFD.
fn text(value: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(value) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(value),
    }
}

/// What [`ProtectOptions::prepare`] read from a request. `Debug` hides the token and proof.
#[derive(Clone)]
pub struct Credentials {
    token: String,
    scheme: AuthScheme,
    proof: Option<String>,
    method: Cow<'static, str>,
    url: Option<String>,
    /// Every header, lower-case names, for a domain resolver (only with `domains`).
    headers: Vec<(String, String)>,
}

impl Credentials {
    /// The access token.
    ///
    /// # Security
    /// This is a credential: do not log it.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The scheme the token came with ([`AuthScheme::Bearer`] for a query parameter).
    pub fn scheme(&self) -> AuthScheme {
        self.scheme
    }

    /// The request URL given to the verifier: built for a request that uses DPoP (the
    /// proof's `htu`) and for a verifier with several domains (its resolver's input), when
    /// it could be built; `None` for a bearer request to a single-domain verifier.
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// The verification context: the scheme (always explicit), the DPoP proof, the method
    /// and the URL. The headers for a domain resolver are added by
    /// [`ProtectOptions::verify`].
    pub fn context(&self) -> RequestContext<'_> {
        RequestContext {
            scheme: Some(self.scheme.as_str()),
            dpop_proof: self.proof.as_deref(),
            http_method: Some(&self.method),
            http_url: self.url.as_deref(),
            ..RequestContext::default()
        }
    }

    /// The headers for a domain resolver, borrowed (empty, and no allocation, without one).
    fn header_pairs(&self) -> Vec<(&str, &str)> {
        self.headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect()
    }

    /// The context with the headers for a domain resolver.
    fn context_with<'c>(&'c self, headers: &'c [(&'c str, &'c str)]) -> RequestContext<'c> {
        RequestContext {
            headers,
            ..self.context()
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("token", &"[redacted]")
            .field("scheme", &self.scheme)
            .field("proof", &self.proof.as_ref().map(|_| "[redacted]"))
            .field("method", &self.method)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// A verified request: its claims and the scheme its token came with.
#[derive(Clone, Debug, PartialEq)]
pub struct Verified {
    /// The verified claims.
    pub claims: Claims,
    /// The scheme the token came with.
    pub scheme: AuthScheme,
}

impl Verified {
    /// The claims as `T`: a copy for `T = Claims`, else deserialized (what the frameworks'
    /// `Authenticated<T>` extractors give).
    ///
    /// ```
    /// use auth0_api::{AuthScheme, Claims};
    /// use auth0_api_driver::protect::Verified;
    ///
    /// #[derive(serde::Deserialize)]
    /// struct User {
    ///     sub: String,
    /// }
    ///
    /// let claims = Claims::from_payload(br#"{"sub":"auth0|1","n":1}"#, 16)?;
    /// let verified = Verified { claims: claims.clone(), scheme: AuthScheme::Bearer };
    /// assert_eq!(verified.claims_as::<Claims>()?, claims);
    /// assert_eq!(verified.claims_as::<User>()?.sub, "auth0|1");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`ClaimError::Deserialize`] when the claims do not fit `T` (a claim missing or of
    /// another type); its message never quotes a claim value.
    pub fn claims_as<T: DeserializeOwned + 'static>(&self) -> Result<T, ClaimError> {
        if TypeId::of::<T>() == TypeId::of::<Claims>() {
            let mut copy = Some(self.claims.clone());
            if let Some(value) = (&mut copy as &mut dyn Any)
                .downcast_mut::<Option<T>>()
                .and_then(Option::take)
            {
                return Ok(value);
            }
        }
        self.claims.deserialize()
    }
}

/// A route guard's decision, behind the layer that verified the request: `verified` is what
/// the layer found (`None` for a request it let pass without credentials, refused with 401
/// and the verifier's challenges), and its claims must satisfy `policy` (403
/// `insufficient_scope` otherwise).
///
/// ```
/// use auth0_api::{Policy, VerifierConfig};
/// use auth0_api_driver::protect;
///
/// let verifier = VerifierConfig::new()
///     .domain("example.auth0.com")
///     .audience("https://api.example.com")
///     .build()?;
/// let policy = Policy::new().all_scopes(["read:orders"]);
/// // A request the layer let through without credentials.
/// let refused = protect::authorize(&verifier, None, &policy).unwrap_err();
/// assert_eq!(refused.status(), 401);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`ProtectError::Rejected`] with the refusal.
pub fn authorize(
    verifier: &Verifier,
    verified: Option<&Verified>,
    policy: &Policy,
) -> Result<(), ProtectError> {
    let refused = match verified {
        None => verifier.reject(Reason::MissingToken, AuthScheme::Bearer),
        Some(verified) => match verifier.authorize(&verified.claims, policy, verified.scheme) {
            Ok(()) => return Ok(()),
            Err(refused) => refused,
        },
    };
    Err(ProtectError::Rejected(refused))
}

/// Why a protected request is not passed on.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ProtectError {
    /// The request is refused (400, 401 or 403): answer with
    /// [`ErrorResponse::from`] this error.
    Rejected(VerifyError),
    /// The layer cannot serve this request as configured (500); log the cause.
    Misconfigured(Misconfiguration),
}

impl ProtectError {
    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        match self {
            ProtectError::Rejected(e) => e.status(),
            ProtectError::Misconfigured(_) => 500,
        }
    }

    /// The `error` code of the response body: the challenge's code, or `server_error`.
    pub fn error_code(&self) -> &'static str {
        match self {
            ProtectError::Rejected(e) => e.error_code().as_str(),
            ProtectError::Misconfigured(_) => "server_error",
        }
    }
}

impl fmt::Display for ProtectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtectError::Rejected(e) => write!(f, "request refused: {e}"),
            ProtectError::Misconfigured(e) => write!(f, "authentication misconfigured: {e}"),
        }
    }
}

impl std::error::Error for ProtectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ProtectError::Rejected(e) => Some(e),
            ProtectError::Misconfigured(e) => Some(e),
        }
    }
}

impl From<VerifyError> for ProtectError {
    fn from(e: VerifyError) -> Self {
        ProtectError::Rejected(e)
    }
}

// ---------------------------------------------------------------------------------------
// Error responses
// ---------------------------------------------------------------------------------------

/// An error response, framework-neutral: status, `WWW-Authenticate` values (send each as
/// its own header, in order) and a JSON body (content type [`ErrorResponse::CONTENT_TYPE`]).
///
/// ```
/// use auth0_api_driver::protect::{ErrorResponse, Misconfiguration, ProtectError};
/// let response = ErrorResponse::from(&ProtectError::Misconfigured(Misconfiguration::UntrustedHost));
/// assert_eq!(response.status, 500);
/// assert!(response.www_authenticate.is_empty());
/// assert_eq!(response.body, r#"{"error":"server_error","error_description":"authentication is misconfigured"}"#);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorResponse {
    /// The HTTP status.
    pub status: u16,
    /// The `WWW-Authenticate` values, one header each.
    pub www_authenticate: Vec<String>,
    /// `{"error": ..., "error_description": ...}`.
    pub body: String,
}

impl ErrorResponse {
    /// The body's content type.
    pub const CONTENT_TYPE: &'static str = "application/json";

    /// The response for a refused verification: its status, challenges, and the body with
    /// its [`error_code`](VerifyError::error_code) and [`description`](VerifyError::description)
    /// (never internal state nor claim values).
    pub fn rejected(error: &VerifyError) -> Self {
        Self {
            status: error.status(),
            www_authenticate: error.www_authenticate().to_vec(),
            body: json_body(error.error_code().as_str(), &error.description()),
        }
    }

    /// A server-side failure (500, or 503 for a dependency that is down) without
    /// challenges, with code `server_error` and `description`: say nothing internal, the
    /// cause belongs in the server's log.
    pub fn server_error(status: u16, description: &str) -> Self {
        Self {
            status,
            www_authenticate: Vec::new(),
            body: json_body("server_error", description),
        }
    }
}

impl From<&ProtectError> for ErrorResponse {
    fn from(error: &ProtectError) -> Self {
        match error {
            ProtectError::Rejected(e) => Self::rejected(e),
            ProtectError::Misconfigured(_) => {
                Self::server_error(500, "authentication is misconfigured")
            }
        }
    }
}

/// `{"error":code,"error_description":description}`, escaped by `serde_json`.
fn json_body(code: &str, description: &str) -> String {
    serde_json::json!({"error": code, "error_description": description}).to_string()
}

#[cfg(test)]
mod tests;
