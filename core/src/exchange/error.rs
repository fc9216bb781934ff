//! [`ExchangeError`]: why a token exchange failed, before, during or after the request.

use alloc::string::String;
use alloc::sync::Arc;
use core::fmt;
use core::time::Duration;

use crate::discovery::DocumentError;
use crate::http::TransportError;
use crate::jose::JoseError;
use crate::jose::json::JsonError;
use crate::jose::sign::SignError;

/// How long characters of server-supplied text (`error`, `error_description`) may be when
/// rendered by `Display`; the fields themselves keep the full value.
const DISPLAY_LIMIT: usize = 128;

/// The `Retry-After` header of an error response (RFC 9110 section 10.2.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RetryAfter {
    /// `delay-seconds`.
    Delay(Duration),
    /// An `HTTP-date`, kept as sent (at most 64 visible ASCII characters).
    Date(String),
}

/// Why a returned ID token was not accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdTokenError {
    /// Malformed, unsigned, symmetric (`HS*`) or with a signature that does not verify.
    Jose(JoseError),
    /// A required claim is missing, has the wrong JSON type or is out of range (the claim
    /// name; `claims` when the payload is not a JSON object).
    MissingClaim(&'static str),
    /// A claim has a value that does not match (`iss`, `aud`, `azp`, `org_id`, `org_name`).
    ClaimMismatch(&'static str),
    /// `exp` is in the past.
    Expired,
}

impl fmt::Display for IdTokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdTokenError::Jose(e) => write!(f, "{e}"),
            IdTokenError::MissingClaim(c) => write!(f, "missing or invalid {c} claim"),
            IdTokenError::ClaimMismatch(c) => write!(f, "unexpected {c} claim value"),
            IdTokenError::Expired => f.write_str("id token expired"),
        }
    }
}

impl core::error::Error for IdTokenError {}

/// A token-exchange failure (RFC 8693, RFC 6749 section 5.2), grouped by whose fault it is.
///
/// [`ExchangeError::Input`] is raised before any request is emitted. `Display` is lower case,
/// never shows tokens or secrets, and shows server-supplied text only escaped and truncated.
/// `Display` and `source()` are those of the wrapped error: the group adds no text.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ExchangeError {
    /// The caller's request, configuration or signer was refused; no request was sent.
    Input(InputError),
    /// The request produced no response (the driver's error is the `source()`).
    Transport(Arc<TransportError>),
    /// The token endpoint answered with an OAuth error response (RFC 6749 section 5.2).
    Server(ServerError),
    /// An answer (token response, discovery document, JWK Set, ID token) was malformed or
    /// not acceptable.
    Response(ResponseError),
    /// The flow was driven out of order (a response with nothing outstanding, a poll after
    /// the end). A bug in the driver.
    Misuse,
}

/// The caller's side of a token exchange was refused: the request, the client configuration
/// or the client-assertion signer. Raised before any request is emitted.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InputError {
    /// No client id or no client authentication (secret or signing key) is configured.
    MissingClientAuthentication,
    /// The subject token is empty, has surrounding white space or a `Bearer ` prefix.
    InvalidSubjectToken,
    /// The actor token breaks the subject-token rules.
    InvalidActorToken,
    /// `actor_token` without `actor_token_type`, or the reverse (RFC 8693 section 2.1).
    ActorTokenTypeMismatch,
    /// The organization is empty or only white space.
    InvalidOrganization,
    /// A required request parameter (`audience`, `connection`) is empty or only white space.
    MissingParameter {
        /// The parameter name.
        name: &'static str,
    },
    /// An extra parameter has a reserved name (compared ignoring ASCII case).
    ReservedParameter {
        /// The name as the caller gave it.
        name: String,
    },
    /// An extra parameter name is empty or contains control characters.
    InvalidParameterName,
    /// An extra parameter has more values than allowed (20).
    TooManyValues {
        /// The parameter name.
        name: String,
    },
    /// More extra parameters than allowed.
    TooManyParameters,
    /// An extra parameter value is longer than allowed.
    ParameterTooLong {
        /// The parameter name.
        name: String,
    },
    /// The token endpoint is not an absolute `https` URL; credentials are never sent there.
    InsecureTokenEndpoint,
    /// Time arithmetic overflowed (`now` near the end of `u64` seconds).
    TimeOverflow,
    /// The client assertion could not be signed.
    Signing(SignError),
}

/// An error response of the token endpoint (RFC 6749 section 5.2): an error status, with the
/// OAuth fields when the body was a JSON error object. They are the server's words, verbatim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerError {
    /// The HTTP status.
    pub status: u16,
    /// The OAuth `error` code, when the body carried one.
    pub error: Option<String>,
    /// `error_description`, when present.
    pub error_description: Option<String>,
    /// `error_uri`, when present.
    pub error_uri: Option<String>,
    /// The `Retry-After` header (kept for 429 and 503).
    pub retry_after: Option<RetryAfter>,
}

/// An answer was malformed or not acceptable: the token response, the discovery document or
/// JWK Set fetched on the way, or the returned ID token.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseError {
    /// The token endpoint answered with a redirect (3xx), which is never followed.
    Redirect {
        /// The status code.
        status: u16,
    },
    /// The response body is larger than [`crate::http::MAX_RESPONSE_BODY`].
    BodyTooLarge,
    /// A success response without `content-type: application/json`.
    InvalidContentType,
    /// A success response whose body is not a strict JSON object.
    InvalidJson(JsonError),
    /// A required member of the token response is absent.
    MissingField {
        /// The member name.
        field: &'static str,
    },
    /// A member of the token response has the wrong type or an unacceptable value.
    InvalidField {
        /// The member name.
        field: &'static str,
    },
    /// `token_type` or `issued_token_type` names another kind of token than the one
    /// requested (see [`TokenResponse::check_types`](super::response::TokenResponse::check_types)).
    UnexpectedTokenType {
        /// The member name.
        field: &'static str,
    },
    /// The returned ID token was rejected.
    IdToken(IdTokenError),
    /// Discovery of the token endpoint failed (`None`: a transport failure).
    Discovery(Option<DocumentError>),
    /// The discovery document has no `token_endpoint`.
    MissingTokenEndpoint,
    /// The JWK Set needed to validate the ID token could not be had (`None`: a transport
    /// failure, or a recent failure within the cooldown).
    Jwks(Option<DocumentError>),
    /// The JWK Set needed to validate the ID token was fetched but is not usable (the same
    /// cause verification reports as an invalid JWKS).
    InvalidJwks(JoseError),
}

impl ExchangeError {
    /// The OAuth `error` code of a server error, if any.
    pub fn oauth_error(&self) -> Option<&str> {
        match self {
            ExchangeError::Server(e) => e.error.as_deref(),
            _ => None,
        }
    }

    /// The HTTP status of a server answer, if the failure came from one (an OAuth error
    /// response or a redirect).
    pub fn status(&self) -> Option<u16> {
        match self {
            ExchangeError::Server(e) => Some(e.status),
            ExchangeError::Response(ResponseError::Redirect { status }) => Some(*status),
            _ => None,
        }
    }
}

/// Writes `s` escaped (`escape_debug`, so quotes, backslashes and control characters are
/// visible escapes) and truncated to [`DISPLAY_LIMIT`] characters.
fn write_limited(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    let mut chars = s.chars();
    for c in chars.by_ref().take(DISPLAY_LIMIT) {
        write!(f, "{}", c.escape_debug())?;
    }
    if chars.next().is_some() {
        f.write_str("...")?;
    }
    Ok(())
}

impl fmt::Display for ExchangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExchangeError::Input(e) => write!(f, "{e}"),
            ExchangeError::Transport(e) => write!(f, "token request failed: {e}"),
            ExchangeError::Server(e) => write!(f, "{e}"),
            ExchangeError::Response(e) => write!(f, "{e}"),
            ExchangeError::Misuse => f.write_str("flow driven out of order"),
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::MissingClientAuthentication => {
                f.write_str("missing client authentication: set a client id and a secret or key")
            }
            InputError::InvalidSubjectToken => f.write_str(
                "invalid subject token: empty, surrounding white space or a bearer prefix",
            ),
            InputError::InvalidActorToken => f.write_str(
                "invalid actor token: empty, surrounding white space or a bearer prefix",
            ),
            InputError::ActorTokenTypeMismatch => {
                f.write_str("actor_token and actor_token_type must be given together")
            }
            InputError::InvalidOrganization => f.write_str("organization must not be blank"),
            InputError::MissingParameter { name } => write!(f, "{name} must not be blank"),
            InputError::ReservedParameter { name } => {
                f.write_str("extra parameter \"")?;
                write_limited(f, name)?;
                f.write_str("\" is reserved")
            }
            InputError::InvalidParameterName => f.write_str("invalid extra parameter name"),
            InputError::TooManyValues { name } => {
                f.write_str("too many values for extra parameter \"")?;
                write_limited(f, name)?;
                f.write_str("\"")
            }
            InputError::TooManyParameters => f.write_str("too many extra parameters"),
            InputError::ParameterTooLong { name } => {
                f.write_str("value of extra parameter \"")?;
                write_limited(f, name)?;
                f.write_str("\" too long")
            }
            InputError::InsecureTokenEndpoint => f.write_str("token endpoint is not an https url"),
            InputError::TimeOverflow => f.write_str("time arithmetic overflow"),
            InputError::Signing(e) => write!(f, "client assertion: {e}"),
        }
    }
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "token endpoint answered {}", self.status)?;
        if let Some(error) = &self.error {
            f.write_str(": ")?;
            write_limited(f, error)?;
            if let Some(description) = &self.error_description {
                f.write_str(" (")?;
                write_limited(f, description)?;
                f.write_str(")")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseError::Redirect { status } => {
                write!(f, "token endpoint answered {status} redirect, not followed")
            }
            ResponseError::BodyTooLarge => f.write_str("token response body too large"),
            ResponseError::InvalidContentType => {
                f.write_str("token response is not application/json")
            }
            ResponseError::InvalidJson(e) => write!(f, "token response: {e}"),
            ResponseError::MissingField { field } => write!(f, "token response has no {field}"),
            ResponseError::InvalidField { field } => {
                write!(f, "token response has an invalid {field}")
            }
            ResponseError::UnexpectedTokenType { field } => {
                write!(f, "token response has an unexpected {field}")
            }
            ResponseError::IdToken(e) => write!(f, "id token rejected: {e}"),
            ResponseError::Discovery(None) => f.write_str("discovery request failed"),
            ResponseError::Discovery(Some(e)) => write!(f, "discovery failed: {e}"),
            ResponseError::MissingTokenEndpoint => {
                f.write_str("discovery document has no token_endpoint")
            }
            ResponseError::Jwks(None) => f.write_str("jwks request failed"),
            ResponseError::Jwks(Some(e)) => write!(f, "jwks request failed: {e}"),
            ResponseError::InvalidJwks(e) => write!(f, "invalid jwks: {e}"),
        }
    }
}

impl core::error::Error for ExchangeError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        // The group is transparent: its Display is the wrapped error's, so the chain goes on
        // with the wrapped error's source.
        match self {
            ExchangeError::Input(e) => e.source(),
            ExchangeError::Transport(e) => Some(&**e),
            ExchangeError::Response(e) => e.source(),
            ExchangeError::Server(_) | ExchangeError::Misuse => None,
        }
    }
}

impl core::error::Error for InputError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            InputError::Signing(e) => Some(e),
            _ => None,
        }
    }
}

impl core::error::Error for ServerError {}

impl core::error::Error for ResponseError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            ResponseError::InvalidJson(e) => Some(e),
            ResponseError::IdToken(e) => Some(e),
            _ => None,
        }
    }
}

impl From<InputError> for ExchangeError {
    fn from(e: InputError) -> Self {
        ExchangeError::Input(e)
    }
}

impl From<ServerError> for ExchangeError {
    fn from(e: ServerError) -> Self {
        ExchangeError::Server(e)
    }
}

impl From<ResponseError> for ExchangeError {
    fn from(e: ResponseError) -> Self {
        ExchangeError::Response(e)
    }
}

impl From<SignError> for ExchangeError {
    fn from(e: SignError) -> Self {
        ExchangeError::Input(InputError::Signing(e))
    }
}

impl From<TransportError> for ExchangeError {
    fn from(e: TransportError) -> Self {
        ExchangeError::Transport(Arc::new(e))
    }
}

impl From<IdTokenError> for ExchangeError {
    fn from(e: IdTokenError) -> Self {
        ExchangeError::Response(ResponseError::IdToken(e))
    }
}

#[cfg(test)]
mod tests {
    use alloc::string::ToString;

    use super::*;
    use crate::http::TransportErrorKind;

    fn server(error: &str, description: &str) -> ExchangeError {
        ExchangeError::Server(ServerError {
            status: 400,
            error: Some(error.to_string()),
            error_description: Some(description.to_string()),
            error_uri: None,
            retry_after: None,
        })
    }

    #[test]
    fn display_is_lower_case_without_period() {
        let all = [
            ExchangeError::Input(InputError::MissingClientAuthentication),
            ExchangeError::Input(InputError::InvalidSubjectToken),
            ExchangeError::Input(InputError::InvalidActorToken),
            ExchangeError::Input(InputError::ActorTokenTypeMismatch),
            ExchangeError::Input(InputError::InvalidOrganization),
            ExchangeError::Input(InputError::ReservedParameter {
                name: "scope".into(),
            }),
            ExchangeError::Input(InputError::InvalidParameterName),
            ExchangeError::Input(InputError::TooManyValues { name: "x".into() }),
            ExchangeError::Input(InputError::TooManyParameters),
            ExchangeError::Input(InputError::ParameterTooLong { name: "x".into() }),
            ExchangeError::Input(InputError::InsecureTokenEndpoint),
            ExchangeError::Input(InputError::TimeOverflow),
            ExchangeError::Input(InputError::Signing(SignError::Signing)),
            TransportError::new(TransportErrorKind::Timeout).into(),
            ExchangeError::Response(ResponseError::Redirect { status: 302 }),
            ExchangeError::Response(ResponseError::BodyTooLarge),
            server("invalid_grant", "bad"),
            ExchangeError::Response(ResponseError::InvalidContentType),
            ExchangeError::Response(ResponseError::InvalidJson(JsonError::Syntax)),
            ExchangeError::Response(ResponseError::MissingField {
                field: "access_token",
            }),
            ExchangeError::Response(ResponseError::InvalidField {
                field: "expires_in",
            }),
            ExchangeError::Response(ResponseError::UnexpectedTokenType {
                field: "token_type",
            }),
            ExchangeError::Response(ResponseError::IdToken(IdTokenError::Expired)),
            ExchangeError::Input(InputError::MissingParameter { name: "audience" }),
            ExchangeError::Response(ResponseError::Discovery(None)),
            ExchangeError::Response(ResponseError::Discovery(Some(DocumentError::Status(500)))),
            ExchangeError::Response(ResponseError::MissingTokenEndpoint),
            ExchangeError::Response(ResponseError::Jwks(None)),
            ExchangeError::Response(ResponseError::InvalidJwks(JoseError::NoMatchingKey)),
            ExchangeError::Misuse,
        ];
        for e in &all {
            let s = e.to_string();
            assert!(!s.is_empty() && !s.ends_with('.'), "{s}");
            assert_eq!(
                s.chars().next(),
                s.chars().next().map(|c| c.to_ascii_lowercase()),
                "{s}"
            );
        }
    }

    #[test]
    fn server_text_is_escaped_and_truncated() {
        let hostile = "a\"b\\c\r\nSet-Cookie: x\0<script>";
        let long = "x".repeat(1 << 20);
        let s = server(hostile, &long).to_string();
        assert!(
            !s.contains('\r') && !s.contains('\n') && !s.contains('\0'),
            "{s}"
        );
        assert!(s.contains("a\\\"b\\\\c\\r\\n"), "{s}");
        assert!(s.len() < 600, "{}", s.len());
        assert!(s.ends_with("...)"), "{s}");
        assert_eq!(server("e", "d").oauth_error(), Some("e"));
        assert_eq!(server("e", "d").status(), Some(400));
        assert_eq!(
            ExchangeError::Response(ResponseError::BodyTooLarge).status(),
            None
        );
    }

    #[test]
    fn transport_source_is_reachable() {
        use core::error::Error as _;
        let e: ExchangeError = TransportError::new(TransportErrorKind::Connect).into();
        let source = e.source().unwrap();
        assert_eq!(source.to_string(), "connection failed");
    }

    /// The group adds no text and no link to the source chain: each error reads as it did
    /// before the grouping, and the chain does not repeat it.
    #[test]
    fn groups_are_transparent() {
        use core::error::Error as _;
        let cases: [(ExchangeError, &str); 4] = [
            (
                InputError::InvalidSubjectToken.into(),
                "invalid subject token: empty, surrounding white space or a bearer prefix",
            ),
            (
                InputError::MissingParameter { name: "connection" }.into(),
                "connection must not be blank",
            ),
            (
                ResponseError::MissingField {
                    field: "access_token",
                }
                .into(),
                "token response has no access_token",
            ),
            (
                server("invalid_grant", "bad"),
                "token endpoint answered 400: invalid_grant (bad)",
            ),
        ];
        for (e, text) in cases {
            assert_eq!(e.to_string(), text);
            assert!(e.source().is_none(), "{e}");
        }
        let signing: ExchangeError = SignError::Signing.into();
        assert!(matches!(
            signing,
            ExchangeError::Input(InputError::Signing(_))
        ));
        let source = signing.source().unwrap();
        assert_eq!(source.to_string(), SignError::Signing.to_string());
        assert!(source.source().is_none());
        let json = ExchangeError::Response(ResponseError::InvalidJson(JsonError::Syntax));
        assert_eq!(
            json.source().unwrap().to_string(),
            JsonError::Syntax.to_string()
        );
        let id: ExchangeError = IdTokenError::Expired.into();
        assert!(matches!(
            id,
            ExchangeError::Response(ResponseError::IdToken(_))
        ));
        assert_eq!(id.source().unwrap().to_string(), "id token expired");
    }
}
