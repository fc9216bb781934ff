//! Token endpoint responses: the success body (RFC 6749 section 5.1, RFC 8693 section 2.2.1)
//! and the OAuth error body (RFC 6749 section 5.2, RFC 8693 section 2.2.2).
//!
//! [`parse_token_response`] is pure: it takes the [`HttpResponse`] and `now`, and returns a
//! [`TokenResponse`] or a typed [`ExchangeError`]. Nothing is defaulted: a missing or
//! wrongly typed member is an error naming it. Checks, in order:
//!
//! 1. body over [`MAX_RESPONSE_BODY`] → [`ResponseError::BodyTooLarge`];
//! 2. 3xx → [`ResponseError::Redirect`] (never followed, credentials never re-sent);
//! 3. any other non-2xx → [`ExchangeError::Server`], with `error`, `error_description` and
//!    `error_uri` when the body is a JSON error object, and `Retry-After`;
//! 4. 2xx: `content-type` must be `application/json` (H-29: HTML is refused even when it
//!    parses), the body a strict JSON object (duplicate members refused), then the members.

use alloc::string::String;
use core::fmt;
use core::time::Duration;

use serde_json::{Map, Value};

use super::error::{ExchangeError, InputError, ResponseError, RetryAfter, ServerError};
use crate::http::{HttpResponse, MAX_RESPONSE_BODY};
use crate::jose::json::{DEFAULT_MAX_DEPTH, parse_object};
use crate::time::UnixTime;

/// The largest accepted `expires_in`: ten years. A larger lifetime is refused as
/// [`ResponseError::InvalidField`] rather than clamped.
pub const MAX_EXPIRES_IN: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60);

macro_rules! secret_string {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            /// The token itself.
            ///
            /// # Security
            /// A bearer credential: send it where it belongs, never log or display it.
            pub fn expose_secret(&self) -> &str {
                &self.0
            }

            /// Unwraps the token.
            ///
            /// # Security
            /// As [`Self::expose_secret`].
            pub fn into_secret(self) -> String {
                self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

secret_string!(
    /// An access token returned by the token endpoint. `Debug` prints `[redacted]`.
    AccessToken
);
secret_string!(
    /// An ID token returned by the token endpoint (not yet validated). `Debug` prints
    /// `[redacted]`.
    IdToken
);
secret_string!(
    /// A refresh token returned by the token endpoint. `Debug` prints `[redacted]`.
    RefreshToken
);

/// A successful token response.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenResponse {
    /// `access_token` (required).
    pub access_token: AccessToken,
    /// `expires_in` (required here, at most [`MAX_EXPIRES_IN`]).
    pub expires_in: Duration,
    /// `now + expires_in`.
    pub expires_at: UnixTime,
    /// `scope`, when returned.
    pub scope: Option<String>,
    /// `id_token`, when returned; the flow validates it.
    pub id_token: Option<IdToken>,
    /// `refresh_token`, when returned.
    pub refresh_token: Option<RefreshToken>,
    /// `token_type` as sent (`Bearer`, `N_A`, ...), when returned. The flows check it with
    /// [`TokenResponse::check_types`].
    pub token_type: Option<String>,
    /// `issued_token_type`, when returned; checked the same way.
    pub issued_token_type: Option<String>,
}

impl TokenResponse {
    /// Checks the returned types against the request (T-71), so that a token of another kind
    /// is never taken for the one asked for:
    ///
    /// - `issued_token_type`, when returned and a type was requested, must equal it exactly
    ///   (token type identifiers are URIs, RFC 8693 section 3);
    /// - `token_type` must not be `DPoP`: no proof was sent, so a DPoP-bound token is not
    ///   usable by the caller (RFC 9449 section 5);
    /// - `token_type` must not be `N_A` ("not an access token", RFC 8693 section 2.2.1) when an
    ///   access token was requested.
    ///
    /// `token_type` is compared ignoring case (RFC 6749 section 5.1). Other values are kept
    /// and returned to the caller.
    ///
    /// # Errors
    /// [`ResponseError::UnexpectedTokenType`] naming the member.
    pub fn check_types(&self, requested: Option<&str>) -> Result<(), ExchangeError> {
        if let (Some(requested), Some(issued)) = (requested, &self.issued_token_type)
            && requested != issued
        {
            return Err(ExchangeError::Response(
                ResponseError::UnexpectedTokenType {
                    field: "issued_token_type",
                },
            ));
        }
        let wants_access_token = matches!(
            requested,
            Some(super::ACCESS_TOKEN_TYPE | super::CONNECTION_TOKEN_TYPE)
        );
        match self.token_type.as_deref() {
            Some(t) if t.eq_ignore_ascii_case("DPoP") => Err(ExchangeError::Response(
                ResponseError::UnexpectedTokenType {
                    field: "token_type",
                },
            )),
            Some(t) if wants_access_token && t.eq_ignore_ascii_case("N_A") => Err(
                ExchangeError::Response(ResponseError::UnexpectedTokenType {
                    field: "token_type",
                }),
            ),
            _ => Ok(()),
        }
    }
}

/// Parses a token endpoint answer (see the module docs for the order of checks).
///
/// # Errors
/// [`ResponseError::BodyTooLarge`], [`ResponseError::Redirect`], [`ExchangeError::Server`],
/// [`ResponseError::InvalidContentType`], [`ResponseError::InvalidJson`],
/// [`ResponseError::MissingField`], [`ResponseError::InvalidField`],
/// [`InputError::TimeOverflow`].
pub fn parse_token_response(
    response: &HttpResponse,
    now: UnixTime,
) -> Result<TokenResponse, ExchangeError> {
    if response.body.len() > MAX_RESPONSE_BODY {
        return Err(ExchangeError::Response(ResponseError::BodyTooLarge));
    }
    if (300..400).contains(&response.status) {
        return Err(ExchangeError::Response(ResponseError::Redirect {
            status: response.status,
        }));
    }
    if !response.is_success() {
        return Err(error_response(response));
    }
    if !response.is_json() {
        return Err(ExchangeError::Response(ResponseError::InvalidContentType));
    }
    let body = parse_object(&response.body, DEFAULT_MAX_DEPTH)
        .map_err(|e| ExchangeError::Response(ResponseError::InvalidJson(e)))?;

    let access_token = required_string(&body, "access_token")?;
    let expires_in = match body.get("expires_in") {
        None => {
            return Err(ExchangeError::Response(ResponseError::MissingField {
                field: "expires_in",
            }));
        }
        // RFC 6749 section 5.1: a number of seconds. Strings, fractions, negative numbers and
        // values over MAX_EXPIRES_IN are refused.
        Some(v) => v
            .as_u64()
            .map(Duration::from_secs)
            .filter(|d| *d <= MAX_EXPIRES_IN)
            .ok_or(ExchangeError::Response(ResponseError::InvalidField {
                field: "expires_in",
            }))?,
    };
    let expires_at = now
        .checked_add(expires_in)
        .ok_or(ExchangeError::Input(InputError::TimeOverflow))?;
    Ok(TokenResponse {
        access_token: AccessToken(access_token),
        expires_in,
        expires_at,
        scope: optional_string(&body, "scope", true)?,
        id_token: optional_string(&body, "id_token", false)?.map(IdToken),
        refresh_token: optional_string(&body, "refresh_token", false)?.map(RefreshToken),
        token_type: optional_string(&body, "token_type", false)?,
        issued_token_type: optional_string(&body, "issued_token_type", false)?,
    })
}

fn required_string(
    body: &Map<String, Value>,
    field: &'static str,
) -> Result<String, ExchangeError> {
    match body.get(field) {
        None => Err(ExchangeError::Response(ResponseError::MissingField {
            field,
        })),
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(_) => Err(ExchangeError::Response(ResponseError::InvalidField {
            field,
        })),
    }
}

/// An optional string member; present but not a string (or empty when `allow_empty` is
/// false) is an error, never treated as absent.
fn optional_string(
    body: &Map<String, Value>,
    field: &'static str,
    allow_empty: bool,
) -> Result<Option<String>, ExchangeError> {
    match body.get(field) {
        None => Ok(None),
        Some(Value::String(s)) if allow_empty || !s.is_empty() => Ok(Some(s.clone())),
        Some(_) => Err(ExchangeError::Response(ResponseError::InvalidField {
            field,
        })),
    }
}

/// Turns a non-2xx, non-3xx answer into [`ExchangeError::Server`]. The OAuth fields are read
/// only from a JSON object whose `error` is a string; any other body (HTML from a proxy, a
/// 5xx page) gives a generic error without the body.
fn error_response(response: &HttpResponse) -> ExchangeError {
    let body = if response.is_json() || response.media_type().is_none() {
        parse_object(&response.body, DEFAULT_MAX_DEPTH).ok()
    } else {
        None
    };
    let text = |name: &str| -> Option<String> {
        body.as_ref()
            .and_then(|b| b.get(name))
            .and_then(Value::as_str)
            .map(String::from)
    };
    let error = text("error");
    let (error_description, error_uri) = match error {
        Some(_) => (text("error_description"), text("error_uri")),
        None => (None, None),
    };
    ExchangeError::Server(ServerError {
        status: response.status,
        error,
        error_description,
        error_uri,
        retry_after: response.header("retry-after").and_then(parse_retry_after),
    })
}

/// `Retry-After` (RFC 9110 section 10.2.3): delay-seconds, or an HTTP-date kept as text when
/// it is at most 64 visible ASCII characters.
fn parse_retry_after(value: &str) -> Option<RetryAfter> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits for u64 saturate: the server asked for a very long wait.
        let secs = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(RetryAfter::Delay(Duration::from_secs(secs)));
    }
    let printable = value.bytes().all(|b| b == b' ' || b.is_ascii_graphic());
    if !value.is_empty() && value.len() <= 64 && printable {
        return Some(RetryAfter::Date(String::from(value)));
    }
    None
}

#[cfg(test)]
mod tests {
    use alloc::format;
    use alloc::string::ToString;
    use alloc::vec;
    use alloc::vec::Vec;

    use super::*;

    const NOW: UnixTime = UnixTime::from_secs(1_700_000_000);

    fn with_header(mut r: HttpResponse, name: &str, value: &str) -> HttpResponse {
        r.headers.push((name.to_string(), value.to_string()));
        r
    }

    #[test]
    fn success_with_every_field() {
        let body = r#"{"access_token":"at-secret","expires_in":3600,"scope":"read:a",
            "id_token":"h.p.s","refresh_token":"rt-secret","token_type":"Bearer",
            "issued_token_type":"urn:ietf:params:oauth:token-type:access_token","extra":[1]}"#;
        let r = parse_token_response(&HttpResponse::json(body), NOW).unwrap();
        assert_eq!(r.access_token.expose_secret(), "at-secret");
        assert_eq!(r.expires_in, Duration::from_secs(3600));
        assert_eq!(r.expires_at, UnixTime::from_secs(1_700_003_600));
        assert_eq!(r.scope.as_deref(), Some("read:a"));
        assert_eq!(
            r.id_token.as_ref().map(IdToken::expose_secret),
            Some("h.p.s")
        );
        assert_eq!(
            r.refresh_token
                .clone()
                .map(RefreshToken::into_secret)
                .as_deref(),
            Some("rt-secret")
        );
        assert_eq!(r.token_type.as_deref(), Some("Bearer"));
        assert_eq!(
            r.issued_token_type.as_deref(),
            Some("urn:ietf:params:oauth:token-type:access_token")
        );
        let dbg = format!("{r:?}");
        assert!(
            !dbg.contains("at-secret") && !dbg.contains("rt-secret") && !dbg.contains("h.p.s"),
            "{dbg}"
        );
        assert!(dbg.contains("[redacted]"));

        let minimal = parse_token_response(
            &HttpResponse::new(
                200,
                "application/json; charset=utf-8",
                r#"{"access_token":"a","expires_in":0}"#,
            ),
            NOW,
        )
        .unwrap();
        assert_eq!(minimal.expires_at, NOW);
        assert_eq!(
            (minimal.scope, minimal.id_token, minimal.token_type),
            (None, None, None)
        );
    }

    /// One row per case: name, response, expected error (compared on its Debug form).
    #[test]
    fn response_table() {
        let big = vec![b' '; 5 << 20];
        let cases: Vec<(&str, HttpResponse, ExchangeError)> = vec![
            (
                "400 invalid_grant",
                HttpResponse::new(
                    400,
                    "application/json",
                    r#"{"error":"invalid_grant","error_description":"subject token expired","error_uri":"https://d/e"}"#,
                ),
                ExchangeError::Server(ServerError {
                    status: 400,
                    error: Some("invalid_grant".into()),
                    error_description: Some("subject token expired".into()),
                    error_uri: Some("https://d/e".into()),
                    retry_after: None,
                }),
            ),
            (
                "401 invalid_client",
                HttpResponse::new(401, "application/json", r#"{"error":"invalid_client"}"#),
                ExchangeError::Server(ServerError {
                    status: 401,
                    error: Some("invalid_client".into()),
                    error_description: None,
                    error_uri: None,
                    retry_after: None,
                }),
            ),
            (
                "403 access_denied",
                HttpResponse::new(
                    403,
                    "application/json",
                    r#"{"error":"access_denied","error_description":"no"}"#,
                ),
                ExchangeError::Server(ServerError {
                    status: 403,
                    error: Some("access_denied".into()),
                    error_description: Some("no".into()),
                    error_uri: None,
                    retry_after: None,
                }),
            ),
            (
                "429 with Retry-After",
                with_header(
                    HttpResponse::new(429, "application/json", r#"{"error":"too_many_requests"}"#),
                    "Retry-After",
                    "30",
                ),
                ExchangeError::Server(ServerError {
                    status: 429,
                    error: Some("too_many_requests".into()),
                    error_description: None,
                    error_uri: None,
                    retry_after: Some(RetryAfter::Delay(Duration::from_secs(30))),
                }),
            ),
            (
                "503 with date",
                with_header(
                    HttpResponse::new(503, "text/plain", "busy"),
                    "retry-after",
                    "Wed, 21 Oct 2015 07:28:00 GMT",
                ),
                ExchangeError::Server(ServerError {
                    status: 503,
                    error: None,
                    error_description: None,
                    error_uri: None,
                    retry_after: Some(RetryAfter::Date("Wed, 21 Oct 2015 07:28:00 GMT".into())),
                }),
            ),
            (
                "500 html",
                HttpResponse::new(500, "text/html", "<html>{\"error\":\"x\"} internal</html>"),
                ExchangeError::Server(ServerError {
                    status: 500,
                    error: None,
                    error_description: None,
                    error_uri: None,
                    retry_after: None,
                }),
            ),
            (
                "400 error not a string",
                HttpResponse::new(
                    400,
                    "application/json",
                    r#"{"error":7,"error_description":"d"}"#,
                ),
                ExchangeError::Server(ServerError {
                    status: 400,
                    error: None,
                    error_description: None,
                    error_uri: None,
                    retry_after: None,
                }),
            ),
            (
                "400 duplicate error member",
                HttpResponse::new(400, "application/json", r#"{"error":"a","error":"b"}"#),
                ExchangeError::Server(ServerError {
                    status: 400,
                    error: None,
                    error_description: None,
                    error_uri: None,
                    retry_after: None,
                }),
            ),
            (
                "302",
                HttpResponse::new(302, "text/html", ""),
                ExchangeError::Response(ResponseError::Redirect { status: 302 }),
            ),
            (
                "307",
                HttpResponse::new(307, "application/json", "{}"),
                ExchangeError::Response(ResponseError::Redirect { status: 307 }),
            ),
            (
                "5 MiB body",
                HttpResponse::new(200, "application/json", big.clone()),
                ExchangeError::Response(ResponseError::BodyTooLarge),
            ),
            (
                "5 MiB error body",
                HttpResponse::new(400, "application/json", big),
                ExchangeError::Response(ResponseError::BodyTooLarge),
            ),
            (
                "200 text/html with json",
                HttpResponse::new(200, "text/html", r#"{"access_token":"a","expires_in":1}"#),
                ExchangeError::Response(ResponseError::InvalidContentType),
            ),
            (
                "200 without content-type",
                HttpResponse {
                    status: 200,
                    headers: vec![],
                    body: b"{}".to_vec(),
                },
                ExchangeError::Response(ResponseError::InvalidContentType),
            ),
            (
                "200 not json",
                HttpResponse::json("access_token=a"),
                ExchangeError::Response(ResponseError::InvalidJson(
                    crate::jose::json::JsonError::Syntax,
                )),
            ),
            (
                "200 array",
                HttpResponse::json("[]"),
                ExchangeError::Response(ResponseError::InvalidJson(
                    crate::jose::json::JsonError::NotAnObject,
                )),
            ),
            (
                "200 duplicate access_token",
                HttpResponse::json(r#"{"access_token":"a","access_token":"b","expires_in":1}"#),
                ExchangeError::Response(ResponseError::InvalidJson(
                    crate::jose::json::JsonError::DuplicateMember,
                )),
            ),
            (
                "2xx missing access_token",
                HttpResponse::json(r#"{"expires_in":3600}"#),
                ExchangeError::Response(ResponseError::MissingField {
                    field: "access_token",
                }),
            ),
            (
                "access_token number",
                HttpResponse::json(r#"{"access_token":1,"expires_in":3600}"#),
                ExchangeError::Response(ResponseError::InvalidField {
                    field: "access_token",
                }),
            ),
            (
                "access_token empty",
                HttpResponse::json(r#"{"access_token":"","expires_in":3600}"#),
                ExchangeError::Response(ResponseError::InvalidField {
                    field: "access_token",
                }),
            ),
            (
                "missing expires_in",
                HttpResponse::json(r#"{"access_token":"a"}"#),
                ExchangeError::Response(ResponseError::MissingField {
                    field: "expires_in",
                }),
            ),
            (
                "expires_in as a string",
                HttpResponse::json(r#"{"access_token":"a","expires_in":"3600"}"#),
                ExchangeError::Response(ResponseError::InvalidField {
                    field: "expires_in",
                }),
            ),
            (
                "expires_in negative",
                HttpResponse::json(r#"{"access_token":"a","expires_in":-1}"#),
                ExchangeError::Response(ResponseError::InvalidField {
                    field: "expires_in",
                }),
            ),
            (
                "expires_in fraction",
                HttpResponse::json(r#"{"access_token":"a","expires_in":1.5}"#),
                ExchangeError::Response(ResponseError::InvalidField {
                    field: "expires_in",
                }),
            ),
            (
                "expires_in 1e300",
                HttpResponse::json(r#"{"access_token":"a","expires_in":1e300}"#),
                ExchangeError::Response(ResponseError::InvalidField {
                    field: "expires_in",
                }),
            ),
            (
                "expires_in 2^63",
                HttpResponse::json(r#"{"access_token":"a","expires_in":9223372036854775808}"#),
                ExchangeError::Response(ResponseError::InvalidField {
                    field: "expires_in",
                }),
            ),
            (
                "expires_in null",
                HttpResponse::json(r#"{"access_token":"a","expires_in":null}"#),
                ExchangeError::Response(ResponseError::InvalidField {
                    field: "expires_in",
                }),
            ),
            (
                "scope array",
                HttpResponse::json(r#"{"access_token":"a","expires_in":1,"scope":["a"]}"#),
                ExchangeError::Response(ResponseError::InvalidField { field: "scope" }),
            ),
            (
                "id_token null",
                HttpResponse::json(r#"{"access_token":"a","expires_in":1,"id_token":null}"#),
                ExchangeError::Response(ResponseError::InvalidField { field: "id_token" }),
            ),
            (
                "refresh_token object",
                HttpResponse::json(r#"{"access_token":"a","expires_in":1,"refresh_token":{}}"#),
                ExchangeError::Response(ResponseError::InvalidField {
                    field: "refresh_token",
                }),
            ),
            (
                "token_type number",
                HttpResponse::json(r#"{"access_token":"a","expires_in":1,"token_type":1}"#),
                ExchangeError::Response(ResponseError::InvalidField {
                    field: "token_type",
                }),
            ),
            (
                "issued_token_type empty",
                HttpResponse::json(r#"{"access_token":"a","expires_in":1,"issued_token_type":""}"#),
                ExchangeError::Response(ResponseError::InvalidField {
                    field: "issued_token_type",
                }),
            ),
        ];
        for (name, response, expected) in cases {
            let got = parse_token_response(&response, NOW);
            assert_eq!(
                format!("{got:?}"),
                format!("{:?}", Err::<TokenResponse, _>(expected)),
                "case {name}"
            );
        }
    }

    #[test]
    fn expiry_arithmetic_is_checked() {
        let body = r#"{"access_token":"a","expires_in":100}"#;
        let late = UnixTime::from_secs(u64::MAX - 50);
        assert!(matches!(
            parse_token_response(&HttpResponse::json(body), late),
            Err(ExchangeError::Input(InputError::TimeOverflow))
        ));
        let max = format!(
            r#"{{"access_token":"a","expires_in":{}}}"#,
            MAX_EXPIRES_IN.as_secs()
        );
        assert!(parse_token_response(&HttpResponse::json(max), NOW).is_ok());
        let over = format!(
            r#"{{"access_token":"a","expires_in":{}}}"#,
            MAX_EXPIRES_IN.as_secs() + 1
        );
        assert!(parse_token_response(&HttpResponse::json(over), NOW).is_err());
    }

    #[test]
    fn hostile_error_description_is_kept_as_data_and_escaped_in_display() {
        let description = "a\"b\\c\r\nd\u{0}<b>".to_string() + &"x".repeat(100_000);
        let body = serde_json::json!({"error": "invalid_grant", "error_description": description});
        let response = HttpResponse::new(400, "application/json", body.to_string());
        let err = parse_token_response(&response, NOW).unwrap_err();
        match &err {
            ExchangeError::Server(ServerError {
                error_description: Some(d),
                ..
            }) => assert_eq!(d, &description),
            other => panic!("{other:?}"),
        }
        let shown = err.to_string();
        assert!(
            shown.starts_with("token endpoint answered 400: invalid_grant ("),
            "{shown}"
        );
        assert!(
            !shown.contains(['\r', '\n', '\0']) && shown.len() < 400,
            "{shown}"
        );
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(
            parse_retry_after(" 120 "),
            Some(RetryAfter::Delay(Duration::from_secs(120)))
        );
        assert_eq!(
            parse_retry_after("99999999999999999999999"),
            Some(RetryAfter::Delay(Duration::from_secs(u64::MAX)))
        );
        assert_eq!(parse_retry_after(""), None);
        assert_eq!(parse_retry_after("a\u{1}b"), None);
        assert_eq!(parse_retry_after(&"x".repeat(65)), None);
    }

    proptest::proptest! {
        #[test]
        fn any_response_gives_ok_or_typed_error(
            status in 100u16..600,
            ct in proptest::sample::select(vec!["application/json", "text/html", "application/problem+json", ""]),
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..256),
        ) {
            let response = HttpResponse::new(status, ct, body);
            let _ = parse_token_response(&response, NOW);
        }
    }
}
