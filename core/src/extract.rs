//! Access token extraction from an HTTP request (RFC 6750 section 2, plus the `DPoP` scheme
//! of RFC 9449 section 7.1).
//!
//! Three methods exist: the `Authorization` header (`Bearer <token>` or `DPoP <token>`, the
//! scheme compared ignoring case), the `access_token` query parameter (RFC 6750 section 2.3)
//! and the `access_token` form field when the content type is
//! `application/x-www-form-urlencoded` (section 2.2). Exactly one method must be used.
//!
//! The rules are stricter than the reference SDK's `^Bearer (.+)$`, so that the token handed
//! to the verifier (and hashed for the DPoP `ath`) is exactly what the client sent:
//!
//! - the header value is the scheme, one space and a `token68` (RFC 9110 section 11.2), with
//!   nothing before or after: `Bearer  t`, `Bearer t x`, `Bearer\tt`, `Bearer` and a trailing
//!   CR or LF are malformed;
//! - several `Authorization` headers are refused, whatever their schemes;
//! - an `Authorization` header with another scheme (`Basic ...`) is not a token and is
//!   ignored, as in the reference SDK;
//! - query and form values are percent-decoded with `+` as space (WHATWG
//!   `application/x-www-form-urlencoded`); parameter names are decoded before comparison;
//!   a repeated or empty `access_token`, an invalid percent escape in it, or a decoded value
//!   that is not `token68` is malformed;
//! - a token longer than [`MAX_TOKEN_LEN`] or a form body longer than [`MAX_FORM_BODY`] is
//!   refused before any copy, so the work is linear in the input and allocation is bounded.
//!
//! RFC 6750 section 5.3 discourages query tokens (they leak into logs and `Referer`); they
//! are accepted because RFC 6750 and the reference SDK accept them.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::percent;

/// The longest token accepted by extraction (64 KiB). The verifier applies its own limit.
pub const MAX_TOKEN_LEN: usize = 64 * 1024;

/// The longest form body searched for `access_token` (1 MiB).
pub const MAX_FORM_BODY: usize = 1 << 20;

/// An authentication scheme that carries an access token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthScheme {
    /// `Bearer` (RFC 6750 section 2.1). Query and form tokens are bearer tokens.
    Bearer,
    /// `DPoP` (RFC 9449 section 7.1).
    DPoP,
}

impl AuthScheme {
    /// The scheme's name as registered: `Bearer` or `DPoP`.
    pub const fn as_str(self) -> &'static str {
        match self {
            AuthScheme::Bearer => "Bearer",
            AuthScheme::DPoP => "DPoP",
        }
    }

    /// Reads a scheme name, ignoring ASCII case (RFC 9110 section 11.1); `None` for other
    /// schemes.
    pub fn from_name(name: &str) -> Option<Self> {
        if name.eq_ignore_ascii_case("bearer") {
            Some(AuthScheme::Bearer)
        } else if name.eq_ignore_ascii_case("dpop") {
            Some(AuthScheme::DPoP)
        } else {
            None
        }
    }
}

impl fmt::Display for AuthScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a token was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenLocation {
    /// The `Authorization` header (RFC 6750 section 2.1).
    Header,
    /// A form-encoded body field (RFC 6750 section 2.2).
    Form,
    /// A URI query parameter (RFC 6750 section 2.3).
    Query,
}

/// A token found in a request, with its scheme and where it was. `Debug` hides the token.
#[derive(Clone, PartialEq, Eq)]
pub struct ExtractedToken {
    token: String,
    scheme: AuthScheme,
    location: TokenLocation,
}

impl ExtractedToken {
    /// The token, exactly as sent (after percent-decoding for query and form tokens).
    ///
    /// # Security
    /// This is a credential: do not log it.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The token, by value.
    ///
    /// # Security
    /// This is a credential: do not log it.
    pub fn into_token(self) -> String {
        self.token
    }

    /// The scheme: as given in the header, [`AuthScheme::Bearer`] for query and form.
    pub fn scheme(&self) -> AuthScheme {
        self.scheme
    }

    /// Where the token was found.
    pub fn location(&self) -> TokenLocation {
        self.location
    }
}

impl fmt::Debug for ExtractedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExtractedToken")
            .field("token", &"[redacted]")
            .field("scheme", &self.scheme)
            .field("location", &self.location)
            .finish()
    }
}

/// Finds the access token of a request (RFC 6750 section 2).
///
/// `headers` are the request's header fields (names compared ignoring case), `query` the
/// raw query string without `?`, and `body` the raw body, searched only when the single
/// `Content-Type` header is `application/x-www-form-urlencoded` (parameters allowed).
///
/// # Errors
/// An [`ExtractError`], whose [`code`](ExtractError::code) is always `invalid_request`:
/// no token, more than one method, several `Authorization` headers, a malformed header or
/// parameter, a repeated `access_token`, or a token or body over the limits.
///
/// # Examples
/// ```
/// use auth0_api::extract::{extract_token, AuthScheme};
/// let found = extract_token([("Authorization", "DPoP mF_9.B5f-4.1JqM")], None, None).unwrap();
/// assert_eq!((found.token(), found.scheme()), ("mF_9.B5f-4.1JqM", AuthScheme::DPoP));
/// let found = extract_token([("x", "y")], Some("a=1&access_token=mF_9.B5f-4.1JqM"), None);
/// assert_eq!(found.unwrap().scheme(), AuthScheme::Bearer);
/// assert!(extract_token([("x", "y")], Some("access_token=a&access_token=b"), None).is_err());
/// ```
pub fn extract_token<I, N, V>(
    headers: I,
    query: Option<&str>,
    body: Option<&[u8]>,
) -> Result<ExtractedToken, ExtractError>
where
    I: IntoIterator<Item = (N, V)>,
    N: AsRef<str>,
    V: AsRef<str>,
{
    let mut authorization: Option<V> = None;
    let mut authorization_count = 0usize;
    let mut content_type: Option<V> = None;
    let mut content_type_count = 0usize;
    for (name, value) in headers {
        let name = name.as_ref();
        if name.eq_ignore_ascii_case("authorization") {
            authorization_count = authorization_count.saturating_add(1);
            authorization = Some(value);
        } else if name.eq_ignore_ascii_case("content-type") {
            content_type_count = content_type_count.saturating_add(1);
            content_type = Some(value);
        }
    }
    if authorization_count > 1 {
        return Err(ExtractError::SeveralAuthorizationHeaders);
    }

    let from_header = match &authorization {
        Some(value) => from_authorization(value.as_ref())?,
        None => None,
    };
    let from_query = match query {
        Some(query) => from_urlencoded(query.as_bytes())?,
        None => None,
    };
    // Several Content-Type headers make the body's type ambiguous: do not read it as a form.
    let is_form = content_type_count == 1
        && content_type
            .as_ref()
            .is_some_and(|ct| is_form_content_type(ct.as_ref()));
    let from_form = match body {
        Some(body) if is_form => {
            if body.len() > MAX_FORM_BODY {
                return Err(ExtractError::TooLarge);
            }
            from_urlencoded(body)?
        }
        _ => None,
    };

    let found = [
        from_header.map(|(scheme, token)| (scheme, token, TokenLocation::Header)),
        from_query.map(|token| (AuthScheme::Bearer, token, TokenLocation::Query)),
        from_form.map(|token| (AuthScheme::Bearer, token, TokenLocation::Form)),
    ];
    let mut found = found.into_iter().flatten();
    match (found.next(), found.next()) {
        (None, _) => Err(ExtractError::NotFound),
        (Some(_), Some(_)) => Err(ExtractError::MultipleMethods),
        (Some((scheme, token, location)), None) => Ok(ExtractedToken {
            token,
            scheme,
            location,
        }),
    }
}

/// [`extract_token`] over an `http::Request`: its headers, URI query and body.
///
/// Header values that are not UTF-8 are read lossily; any non-ASCII byte then makes an
/// `Authorization` value malformed (never ignored) and a `Content-Type` value not a form.
///
/// # Errors
/// As for [`extract_token`].
#[cfg(feature = "http")]
pub fn extract_token_from_request<B: AsRef<[u8]>>(
    request: &::http::Request<B>,
) -> Result<ExtractedToken, ExtractError> {
    let headers = request.headers().iter().map(|(name, value)| {
        (
            name.as_str(),
            alloc::string::String::from_utf8_lossy(value.as_bytes()),
        )
    });
    extract_token(
        headers,
        request.uri().query(),
        Some(request.body().as_ref()),
    )
}

/// `Bearer <token68>` or `DPoP <token68>`; `Ok(None)` for other schemes.
fn from_authorization(value: &str) -> Result<Option<(AuthScheme, String)>, ExtractError> {
    // RFC 9110 section 11.4: credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ].
    let scheme_end = value.find(|c: char| !is_tchar(c)).unwrap_or(value.len());
    let (scheme, rest) = value.split_at(scheme_end);
    let Some(scheme) = AuthScheme::from_name(scheme) else {
        return Ok(None);
    };
    // Exactly one space, then the token to the end of the value.
    let token = rest
        .strip_prefix(' ')
        .ok_or(ExtractError::MalformedAuthorization)?;
    if token.len() > MAX_TOKEN_LEN {
        return Err(ExtractError::TooLarge);
    }
    if !is_token68(token.as_bytes()) {
        return Err(ExtractError::MalformedAuthorization);
    }
    Ok(Some((scheme, String::from(token))))
}

/// The single `access_token` of a form-encoded string, if any.
fn from_urlencoded(input: &[u8]) -> Result<Option<String>, ExtractError> {
    let mut found = None;
    for pair in input.split(|&b| b == b'&') {
        if pair.is_empty() {
            continue;
        }
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(eq) => pair.split_at(eq),
            None => (pair, &b"="[..]),
        };
        if !decoded_name_is(name, b"access_token") {
            continue;
        }
        if found.is_some() {
            return Err(ExtractError::DuplicateParameter);
        }
        let value = value.get(1..).unwrap_or_default();
        found = Some(decode_token(value)?);
    }
    Ok(found)
}

/// Percent-decodes `value` (`+` as space) into a `token68` string.
fn decode_token(value: &[u8]) -> Result<String, ExtractError> {
    // Decoding never lengthens, and each output byte needs at most 3 input bytes.
    if value.len() > MAX_TOKEN_LEN.saturating_mul(3) {
        return Err(ExtractError::TooLarge);
    }
    let mut out = Vec::with_capacity(value.len().min(MAX_TOKEN_LEN));
    for decoded in percent::form_decoded(value) {
        let decoded = decoded.map_err(|percent::BadEscape| ExtractError::MalformedParameter)?;
        if out.len() >= MAX_TOKEN_LEN {
            return Err(ExtractError::TooLarge);
        }
        out.push(decoded);
    }
    if !is_token68(&out) {
        return Err(ExtractError::MalformedParameter);
    }
    // token68 is ASCII, so this cannot fail; map rather than assume.
    String::from_utf8(out).map_err(|_| ExtractError::MalformedParameter)
}

/// Whether the form-decoded `raw` equals `expected`, without allocating. An invalid escape
/// makes the name differ.
fn decoded_name_is(raw: &[u8], expected: &[u8]) -> bool {
    percent::form_decoded(raw).eq(expected.iter().map(|&b| Ok(b)))
}

/// `application/x-www-form-urlencoded`, ignoring case and parameters (RFC 9110 section 8.3.1).
fn is_form_content_type(value: &str) -> bool {
    let media_type = value.split(';').next().unwrap_or_default();
    media_type
        .trim_matches([' ', '\t'])
        .eq_ignore_ascii_case("application/x-www-form-urlencoded")
}

/// RFC 9110 section 11.2: `token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" )
/// *"="`.
fn is_token68(token: &[u8]) -> bool {
    // The padding is the trailing run of `=`; the body before it admits no `=`.
    let padding = token.iter().rev().take_while(|&&b| b == b'=').count();
    let body = token.get(..token.len() - padding).unwrap_or_default();
    // Without an early exit per byte, the fold compiles to vector code: a token may be
    // 16 KiB long and is checked on every request.
    !body.is_empty()
        && body
            .chunks(256)
            .all(|chunk| chunk.iter().fold(true, |ok, &b| ok & is_token68_byte(b)))
}

/// `ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/"`, the bytes of a `token68` before
/// its padding, written with branch-free comparisons.
const fn is_token68_byte(b: u8) -> bool {
    let letter = (b | 0x20).wrapping_sub(b'a') < 26;
    let digit = b.wrapping_sub(b'0') < 10;
    letter
        | digit
        | (b == b'-')
        | (b == b'.')
        | (b == b'_')
        | (b == b'~')
        | (b == b'+')
        | (b == b'/')
}

/// RFC 9110 section 5.6.2 `tchar`.
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// Why no single token could be taken from a request. Every case is `invalid_request`
/// (RFC 6750 section 3.1); messages never contain the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExtractError {
    /// No token in the header, the query or the form body.
    NotFound,
    /// Tokens in more than one place (RFC 6750 section 2: exactly one method).
    MultipleMethods,
    /// More than one `Authorization` header.
    SeveralAuthorizationHeaders,
    /// A `Bearer` or `DPoP` header that is not the scheme, one space and a `token68`.
    MalformedAuthorization,
    /// An `access_token` parameter that is empty, badly escaped or not `token68`.
    MalformedParameter,
    /// `access_token` given twice in the query or in the body.
    DuplicateParameter,
    /// A token longer than [`MAX_TOKEN_LEN`] or a form body longer than [`MAX_FORM_BODY`].
    TooLarge,
}

impl ExtractError {
    /// The OAuth error code: always `invalid_request` (RFC 6750 section 3.1).
    pub const fn code(&self) -> &'static str {
        "invalid_request"
    }
}

impl fmt::Display for ExtractError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExtractError::NotFound => "no access token found in request",
            ExtractError::MultipleMethods => "more than one method used for authentication",
            ExtractError::SeveralAuthorizationHeaders => "more than one authorization header",
            ExtractError::MalformedAuthorization => "malformed authorization header",
            ExtractError::MalformedParameter => "malformed access_token parameter",
            ExtractError::DuplicateParameter => "access_token parameter given more than once",
            ExtractError::TooLarge => "access token or form body too large",
        })
    }
}

impl core::error::Error for ExtractError {}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::ToString;
    use alloc::vec;
    use proptest::prelude::*;

    const FORM: &str = "application/x-www-form-urlencoded";
    const TOK: &str = "eyJ0.eyJ1.c2ln";

    type Outcome = Result<(&'static str, AuthScheme, TokenLocation), ExtractError>;

    fn run(
        headers: &[(&str, &str)],
        query: Option<&str>,
        body: Option<&str>,
        expected: &Outcome,
    ) -> bool {
        let got = extract_token(headers.iter().copied(), query, body.map(str::as_bytes));
        let got = got
            .as_ref()
            .map(|t| (t.token(), t.scheme(), t.location()))
            .map_err(|e| *e);
        got == *expected
    }

    #[test]
    fn table() {
        use AuthScheme::{Bearer, DPoP};
        use ExtractError as E;
        use TokenLocation::{Form, Header, Query};
        let auth = |v: &'static str| vec![("Authorization", v)];
        let form = |v: &'static str| vec![("Content-Type", v)];
        #[allow(clippy::type_complexity)]
        let cases: Vec<(&str, Vec<(&str, &str)>, Option<&str>, Option<&str>, Outcome)> = vec![
            (
                "bearer",
                auth("Bearer eyJ0.eyJ1.c2ln"),
                None,
                None,
                Ok((TOK, Bearer, Header)),
            ),
            (
                "bearer lower",
                auth("bearer eyJ0.eyJ1.c2ln"),
                None,
                None,
                Ok((TOK, Bearer, Header)),
            ),
            (
                "bearer upper",
                auth("BEARER eyJ0.eyJ1.c2ln"),
                None,
                None,
                Ok((TOK, Bearer, Header)),
            ),
            (
                "dpop",
                auth("DPoP eyJ0.eyJ1.c2ln"),
                None,
                None,
                Ok((TOK, DPoP, Header)),
            ),
            (
                "dpop lower",
                auth("dpop eyJ0.eyJ1.c2ln"),
                None,
                None,
                Ok((TOK, DPoP, Header)),
            ),
            (
                "header name case",
                vec![("AUTHORIZATION", "Bearer eyJ0.eyJ1.c2ln")],
                None,
                None,
                Ok((TOK, Bearer, Header)),
            ),
            (
                "token68 chars",
                auth("Bearer aZ09-._~+/=="),
                None,
                None,
                Ok(("aZ09-._~+/==", Bearer, Header)),
            ),
            // T-82: malformed headers.
            (
                "two spaces",
                auth("Bearer  tok"),
                None,
                None,
                Err(E::MalformedAuthorization),
            ),
            (
                "extra part",
                auth("Bearer tok extra"),
                None,
                None,
                Err(E::MalformedAuthorization),
            ),
            (
                "no token",
                auth("Bearer"),
                None,
                None,
                Err(E::MalformedAuthorization),
            ),
            (
                "empty token",
                auth("Bearer "),
                None,
                None,
                Err(E::MalformedAuthorization),
            ),
            (
                "tab",
                auth("Bearer\ttok"),
                None,
                None,
                Err(E::MalformedAuthorization),
            ),
            (
                "trailing cr",
                auth("Bearer tok\r"),
                None,
                None,
                Err(E::MalformedAuthorization),
            ),
            (
                "trailing lf",
                auth("Bearer tok\n"),
                None,
                None,
                Err(E::MalformedAuthorization),
            ),
            (
                "trailing space",
                auth("Bearer tok "),
                None,
                None,
                Err(E::MalformedAuthorization),
            ),
            (
                "leading space",
                auth(" Bearer tok"),
                None,
                None,
                Err(E::NotFound),
            ),
            (
                "comma list",
                auth("Bearer a, Bearer b"),
                None,
                None,
                Err(E::MalformedAuthorization),
            ),
            (
                "padding inside",
                auth("Bearer a=b"),
                None,
                None,
                Err(E::MalformedAuthorization),
            ),
            (
                "only padding",
                auth("Bearer =="),
                None,
                None,
                Err(E::MalformedAuthorization),
            ),
            (
                "non-ascii",
                auth("Bearer t\u{e9}k"),
                None,
                None,
                Err(E::MalformedAuthorization),
            ),
            (
                "quote",
                auth("Bearer \"tok\""),
                None,
                None,
                Err(E::MalformedAuthorization),
            ),
            (
                "basic ignored",
                auth("Basic dXNlcjpwYXNz"),
                None,
                None,
                Err(E::NotFound),
            ),
            (
                "basic + query",
                auth("Basic x"),
                Some("access_token=eyJ0.eyJ1.c2ln"),
                None,
                Ok((TOK, Bearer, Query)),
            ),
            (
                "scheme glued",
                auth("Bearertok"),
                None,
                None,
                Err(E::NotFound),
            ),
            (
                "two headers",
                vec![("Authorization", "Bearer a"), ("authorization", "Bearer a")],
                None,
                None,
                Err(E::SeveralAuthorizationHeaders),
            ),
            (
                "two headers other scheme",
                vec![("Authorization", "Basic a"), ("authorization", "Bearer a")],
                None,
                None,
                Err(E::SeveralAuthorizationHeaders),
            ),
            // Query.
            (
                "query",
                vec![],
                Some("access_token=eyJ0.eyJ1.c2ln"),
                None,
                Ok((TOK, Bearer, Query)),
            ),
            (
                "query among others",
                vec![],
                Some("a=1&&b&access_token=eyJ0.eyJ1.c2ln&c=%zz"),
                None,
                Ok((TOK, Bearer, Query)),
            ),
            (
                "query encoded",
                vec![],
                Some("access_token=eyJ0%2EeyJ1.c2ln"),
                None,
                Ok((TOK, Bearer, Query)),
            ),
            (
                "query encoded plus",
                vec![],
                Some("access_token=a%2Bb"),
                None,
                Ok(("a+b", Bearer, Query)),
            ),
            (
                "query plus is space",
                vec![],
                Some("access_token=a+b"),
                None,
                Err(E::MalformedParameter),
            ),
            (
                "query encoded name",
                vec![],
                Some("access%5Ftoken=eyJ0.eyJ1.c2ln"),
                None,
                Ok((TOK, Bearer, Query)),
            ),
            (
                "query bad escape",
                vec![],
                Some("access_token=a%2"),
                None,
                Err(E::MalformedParameter),
            ),
            (
                "query bad hex",
                vec![],
                Some("access_token=a%g0"),
                None,
                Err(E::MalformedParameter),
            ),
            (
                "query empty",
                vec![],
                Some("access_token="),
                None,
                Err(E::MalformedParameter),
            ),
            (
                "query no value",
                vec![],
                Some("access_token"),
                None,
                Err(E::MalformedParameter),
            ),
            (
                "query duplicate",
                vec![],
                Some("access_token=a&access_token=a"),
                None,
                Err(E::DuplicateParameter),
            ),
            (
                "query other name",
                vec![],
                Some("access_tokens=a&Access_token=b"),
                None,
                Err(E::NotFound),
            ),
            (
                "query empty string",
                vec![],
                Some(""),
                None,
                Err(E::NotFound),
            ),
            (
                "header + query",
                auth("Bearer a"),
                Some("access_token=b"),
                None,
                Err(E::MultipleMethods),
            ),
            // Form.
            (
                "form",
                form(FORM),
                None,
                Some("access_token=eyJ0.eyJ1.c2ln"),
                Ok((TOK, Bearer, Form)),
            ),
            (
                "form charset",
                form("Application/X-WWW-Form-URLEncoded ; charset=utf-8"),
                None,
                Some("x=1&access_token=eyJ0.eyJ1.c2ln"),
                Ok((TOK, Bearer, Form)),
            ),
            (
                "form wrong type",
                form("application/json"),
                None,
                Some("access_token=a"),
                Err(E::NotFound),
            ),
            (
                "form type prefix only",
                form("application/x-www-form-urlencoded-ish"),
                None,
                Some("access_token=a"),
                Err(E::NotFound),
            ),
            (
                "form no type",
                vec![],
                None,
                Some("access_token=a"),
                Err(E::NotFound),
            ),
            (
                "form two types",
                vec![("content-type", FORM), ("content-type", FORM)],
                None,
                Some("access_token=a"),
                Err(E::NotFound),
            ),
            (
                "form duplicate",
                form(FORM),
                None,
                Some("access_token=a&access_token=b"),
                Err(E::DuplicateParameter),
            ),
            (
                "query + form",
                form(FORM),
                Some("access_token=a"),
                Some("access_token=b"),
                Err(E::MultipleMethods),
            ),
            (
                "header + form",
                vec![("authorization", "DPoP a"), ("content-type", FORM)],
                None,
                Some("access_token=b"),
                Err(E::MultipleMethods),
            ),
            (
                "header + unrelated form",
                vec![("authorization", "DPoP a"), ("content-type", FORM)],
                None,
                Some("x=b"),
                Ok(("a", DPoP, Header)),
            ),
            ("nothing", vec![], None, None, Err(E::NotFound)),
            (
                "malformed header wins",
                auth("Bearer  a"),
                Some("access_token=b"),
                None,
                Err(E::MalformedAuthorization),
            ),
        ];
        for (name, headers, query, body, expected) in cases {
            assert!(run(&headers, query, body, &expected), "case {name}");
        }
    }

    #[test]
    fn limits() {
        let long = "a".repeat(MAX_TOKEN_LEN);
        let header = format!("Bearer {long}");
        assert_eq!(
            extract_token([("authorization", header.as_str())], None, None)
                .unwrap()
                .token(),
            long
        );
        let header = format!("Bearer {long}a");
        assert_eq!(
            extract_token([("authorization", header.as_str())], None, None),
            Err(ExtractError::TooLarge)
        );
        let query = format!("access_token={long}a");
        assert_eq!(
            extract_token([("x", "y")], Some(&query), None),
            Err(ExtractError::TooLarge)
        );
        let query = format!("access_token={}", "%41".repeat(MAX_TOKEN_LEN + 1));
        assert_eq!(
            extract_token([("x", "y")], Some(&query), None),
            Err(ExtractError::TooLarge)
        );
        let body = vec![b'x'; MAX_FORM_BODY + 1];
        assert_eq!(
            extract_token([("content-type", FORM)], None, Some(&body)),
            Err(ExtractError::TooLarge)
        );
        // Many parameters are scanned without allocation and found.
        let query = "a=1&".repeat(100_000) + "access_token=t";
        assert_eq!(
            extract_token([("x", "y")], Some(&query), None)
                .unwrap()
                .token(),
            "t"
        );
    }

    #[test]
    fn debug_and_display_hide_the_token() {
        let found = extract_token([("authorization", "Bearer s3cr3t")], None, None).unwrap();
        let debug = format!("{found:?}");
        assert!(!debug.contains("s3cr3t"), "{debug}");
        assert!(debug.contains("[redacted]"));
        assert_eq!(found.clone().into_token(), "s3cr3t");
        assert_eq!(ExtractError::MultipleMethods.code(), "invalid_request");
        assert_eq!(AuthScheme::DPoP.to_string(), "DPoP");
        assert_eq!(AuthScheme::from_name("DPOP"), Some(AuthScheme::DPoP));
        assert_eq!(AuthScheme::from_name("Basic"), None);
    }

    #[cfg(feature = "http")]
    #[test]
    fn http_request() {
        let request = ::http::Request::builder()
            .uri("https://api.example.com/x?access_token=abc")
            .header("content-type", FORM)
            .body(b"y=1".to_vec())
            .unwrap();
        let found = extract_token_from_request(&request).unwrap();
        assert_eq!(
            (found.token(), found.location()),
            ("abc", TokenLocation::Query)
        );
        let request = ::http::Request::builder()
            .header("authorization", &b"Bearer t\xe9"[..])
            .body(Vec::new())
            .unwrap();
        assert_eq!(
            extract_token_from_request(&request),
            Err(ExtractError::MalformedAuthorization)
        );
    }

    #[test]
    fn token68_table_is_the_grammar() {
        // RFC 9110 section 11.2, written out as a string rather than as ranges.
        const ALLOWED: &[u8] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/";
        for b in 0..=255u8 {
            assert_eq!(is_token68_byte(b), ALLOWED.contains(&b), "byte {b}");
            let token = [b'a', b, b'='];
            assert_eq!(
                is_token68(&token),
                ALLOWED.contains(&b) || b == b'=',
                "byte {b}"
            );
        }
    }

    proptest! {
        #[test]
        fn token68_agrees_with_the_grammar(
            token in proptest::collection::vec(
                proptest::sample::select(b"aZ09-._~+/= %\x00\xff".to_vec()),
                0..300,
            )
        ) {
            // 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=", read left to right.
            let allowed = |b: &u8| b.is_ascii_alphanumeric() || b"-._~+/".contains(b);
            let body = token.iter().take_while(|b| allowed(b)).count();
            let model = body > 0 && token[body..].iter().all(|&b| b == b'=');
            prop_assert_eq!(is_token68(&token), model);
        }

        #[test]
        fn never_panics(
            auth in proptest::option::of(any::<String>()),
            content_type in proptest::option::of("[a-zA-Z/; =-]{0,40}"),
            query in proptest::option::of(any::<String>()),
            body in proptest::option::of(any::<Vec<u8>>()),
        ) {
            let mut headers = vec![];
            if let Some(a) = &auth { headers.push(("authorization", a.as_str())); }
            if let Some(c) = &content_type { headers.push(("content-type", c.as_str())); }
            let _ = extract_token(headers, query.as_deref(), body.as_deref());
        }

        #[test]
        fn header_token_round_trips(token in "[A-Za-z0-9._~+/-]{1,200}={0,2}", dpop in any::<bool>()) {
            let scheme = if dpop { "dpop" } else { "Bearer" };
            let header = format!("{scheme} {token}");
            let found = extract_token([("Authorization", header.as_str())], None, None).unwrap();
            prop_assert_eq!(found.token(), token.as_str());
        }

        #[test]
        fn encoded_query_token_round_trips(token in "[A-Za-z0-9._~+/-]{1,200}={0,2}", prefix in "[a-z=&]{0,20}") {
            let encoded: String = token.bytes().map(|b| format!("%{b:02x}")).collect();
            let query = format!("{prefix}&access_token={encoded}");
            let found = extract_token([("x", "y")], Some(&query), None);
            if prefix.split('&').any(|p| p.split('=').next() == Some("access_token")) {
                prop_assert!(found.is_err());
            } else {
                let found = found.unwrap();
                prop_assert_eq!(found.token(), token.as_str());
            }
        }
    }
}
