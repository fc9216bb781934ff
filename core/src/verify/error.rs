//! [`VerifyError`] and [`Reason`]: the failed check, its wire code, status and challenges.
//!
//! The mapping from cause to code, status and challenge is written once, here.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::error::Error;
use core::fmt;

use super::challenge::{ChallengeBuilder, ErrorCode};
use super::dpop::{DpopError, DpopErrorCode};
use crate::authorize::Denied;
use crate::claims::ClaimError;
use crate::config::{DpopMode, ResolverError};
use crate::discovery::DocumentError;
use crate::extract::{AuthScheme, ExtractError};
use crate::jose::JoseError;

/// The check that rejected a token, in the order SPEC section 2 runs them.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// No token was given (the challenge carries no error code, RFC 6750 section 3.1).
    MissingToken,
    /// No single token could be taken from the request (RFC 6750 section 2): several
    /// methods, a malformed `Authorization` header or `access_token` parameter.
    /// `invalid_request`, 400. [`ExtractError::NotFound`] becomes [`Reason::MissingToken`].
    Extraction(ExtractError),
    /// A scheme rule or a DPoP binding rule failed (SPEC section 3).
    Dpop(DpopError),
    /// The token is not a well-formed compact JWS, or its `alg` is never accepted.
    Malformed(JoseError),
    /// The token's payload is not a strict JSON object.
    MalformedClaims(ClaimError),
    /// The token's `alg` is not in the allowed list.
    AlgorithmNotAllowed,
    /// The header `typ` names another kind of JWT (`dpop+jwt`, `id_token+jwt`, ...), or is
    /// not `at+jwt` when that is required (RFC 8725 section 3.11, RFC 9068 section 2.1).
    TokenType,
    /// With multiple custom domains: the token has no string `iss`.
    MissingIssuer,
    /// With multiple custom domains: `iss` is not among the allowed domains.
    IssuerNotAllowed,
    /// The domain resolver failed or returned nothing usable.
    ResolverFailed,
    /// Discovery failed (transport, status, body or issuer check).
    DiscoveryFailed(Option<DocumentError>),
    /// "JWKS request failed": a transport failure, non-2xx status or unusable body.
    JwksFetchFailed(Option<DocumentError>),
    /// The JWK Set is not usable.
    InvalidJwks(JoseError),
    /// No key in the issuer's set matches the token (after at most one refetch).
    UnknownKid,
    /// The key set cannot verify this token (ambiguous keys, key/alg mismatch).
    KeyMismatch(JoseError),
    /// The signature does not verify.
    InvalidSignature,
    /// A claim check failed.
    Claims(ClaimError),
    /// The token is valid but does not satisfy the route's [`Policy`](crate::Policy)
    /// (403 `insufficient_scope`, RFC 6750 section 3.1).
    Forbidden(Denied),
    /// The flow was driven out of order (a response with nothing outstanding, a poll after
    /// the end). A bug in the driver.
    Misuse,
    /// The shared DPoP replay store could not say whether the proof was used before
    /// (unreachable, timed out, an unexpected reply): the request is refused, failing closed,
    /// with HTTP 503 and code `replay_store_unavailable`, not as an invalid token. Only with
    /// an [external replay check](crate::Caches::with_external_replay).
    ReplayStoreUnavailable,
}

/// [`ExtractError::NotFound`] is [`Reason::MissingToken`] (401 without an error code, RFC
/// 6750 section 3.1); every other extraction failure is [`Reason::Extraction`] (400
/// `invalid_request`).
impl From<ExtractError> for Reason {
    fn from(e: ExtractError) -> Self {
        match e {
            ExtractError::NotFound => Reason::MissingToken,
            other => Reason::Extraction(other),
        }
    }
}

impl From<DpopError> for Reason {
    fn from(e: DpopError) -> Self {
        Reason::Dpop(e)
    }
}

impl Reason {
    /// The `error_description` sent to the caller: what is wrong with the token or the
    /// request, never the verifier's internal state (upstream statuses, the discovery
    /// document's issuer, the tenant's URLs). The full cause stays in [`Display`](fmt::Display)
    /// for the server's own logs.
    pub fn public_description(&self) -> String {
        match self {
            Reason::DiscoveryFailed(_) => String::from("discovery request failed"),
            Reason::JwksFetchFailed(_) => String::from("jwks request failed"),
            Reason::InvalidJwks(_) => String::from("invalid jwks"),
            _ => alloc::format!("{self}"),
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::MissingToken => f.write_str("no access token"),
            Reason::Extraction(e) => write!(f, "{e}"),
            Reason::Dpop(e) => write!(f, "{e}"),
            Reason::Malformed(e) => write!(f, "malformed token: {e}"),
            Reason::MalformedClaims(e) => write!(f, "malformed token: {e}"),
            Reason::AlgorithmNotAllowed => f.write_str("algorithm not allowed"),
            Reason::TokenType => f.write_str("token typ is not an access token type"),
            Reason::MissingIssuer => f.write_str("token has no issuer"),
            Reason::IssuerNotAllowed => f.write_str("issuer not allowed"),
            Reason::ResolverFailed => f.write_str("domain resolution failed"),
            Reason::DiscoveryFailed(None) => f.write_str("discovery request failed"),
            Reason::DiscoveryFailed(Some(e)) => write!(f, "discovery failed: {e}"),
            Reason::JwksFetchFailed(None) => f.write_str("jwks request failed"),
            Reason::JwksFetchFailed(Some(e)) => write!(f, "jwks request failed: {e}"),
            Reason::InvalidJwks(e) => write!(f, "invalid jwks: {e}"),
            Reason::UnknownKid => f.write_str("no matching key"),
            Reason::KeyMismatch(e) => write!(f, "{e}"),
            Reason::InvalidSignature => f.write_str("invalid signature"),
            Reason::Claims(e) => write!(f, "{e}"),
            Reason::Forbidden(e) => write!(f, "{e}"),
            Reason::Misuse => f.write_str("flow driven out of order"),
            Reason::ReplayStoreUnavailable => f.write_str("dpop replay store unavailable"),
        }
    }
}

/// A rejected verification: what failed, how to answer the client.
///
/// Equality compares the reason and the challenges, not the [`source`](Error::source).
#[derive(Clone, Debug)]
pub struct VerifyError {
    reason: Reason,
    challenges: Vec<String>,
    /// A domain resolver's failure.
    source: Option<Arc<ResolverError>>,
}

impl PartialEq for VerifyError {
    fn eq(&self, other: &Self) -> bool {
        self.reason == other.reason && self.challenges == other.challenges
    }
}

impl Eq for VerifyError {}

impl VerifyError {
    /// The error for `reason` under `mode`; `dpop_scheme` tells whether the request used the
    /// `DPoP` scheme, `resource_metadata` is the RFC 9728 URL to advertise, if any.
    pub fn new(
        reason: Reason,
        mode: DpopMode,
        dpop_scheme: bool,
        resource_metadata: Option<&str>,
    ) -> Self {
        let has_error = match &reason {
            // Nothing is wrong with the credentials: a bare challenge, as for no token.
            Reason::MissingToken | Reason::ReplayStoreUnavailable => false,
            Reason::Dpop(e) => e.challenge_has_error(),
            _ => true,
        };
        let on_dpop = dpop_scheme || matches!(&reason, Reason::Dpop(e) if e.is_dpop_specific());
        let description = reason.public_description();
        let target = if on_dpop {
            AuthScheme::DPoP
        } else {
            AuthScheme::Bearer
        };
        let mut builder = ChallengeBuilder::new(mode);
        if has_error {
            builder = builder.error(wire_code(&reason), &description, target);
        }
        if let Reason::Forbidden(denied) = &reason {
            builder = builder.scope(denied.required_scope().unwrap_or(""));
        }
        if let Some(url) = resource_metadata {
            builder = builder.resource_metadata(url);
        }
        let challenges = builder.build();
        Self {
            reason,
            challenges,
            source: None,
        }
    }

    /// Keeps a resolver's failure as the source.
    pub(crate) fn with_source(mut self, source: ResolverError) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    /// The failed check.
    pub fn reason(&self) -> &Reason {
        &self.reason
    }

    /// The error code: `verify_access_token_error`, `invalid_request`, `invalid_dpop_proof`,
    /// `insufficient_scope` for a [`Policy`](crate::Policy) refusal, or
    /// `replay_store_unavailable` when the shared DPoP replay store could not answer.
    pub fn code(&self) -> &'static str {
        match wire_code(&self.reason) {
            ErrorCode::InvalidToken => "verify_access_token_error",
            // The only reason with this wire code; the SDK code names the cause.
            ErrorCode::TemporarilyUnavailable => "replay_store_unavailable",
            other => other.as_str(),
        }
    }

    /// The HTTP status to answer with, from the code alone (SPEC section 4): 401 for
    /// `verify_access_token_error` (also an empty token), 400 for `invalid_request` (also
    /// when the challenge carries no `error`, as for a wrong scheme) and
    /// `invalid_dpop_proof`, 403 for `insufficient_scope`, 503 for `replay_store_unavailable`
    /// (the verifier could not finish, the client may retry: its challenge carries no
    /// `error`).
    pub fn status(&self) -> u16 {
        match wire_code(&self.reason) {
            ErrorCode::InvalidToken => 401,
            ErrorCode::InsufficientScope => 403,
            ErrorCode::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }

    /// The error code as HTTP APIs send it (RFC 6750 section 3.1, RFC 9449 section 7.1):
    /// `invalid_token` where [`code`](Self::code) says `verify_access_token_error`, for a
    /// response body such as `{"error": "invalid_token", "error_description": "..."}`.
    ///
    /// ```
    /// use auth0_api::{RequestContext, VerifierConfig};
    /// let verifier = VerifierConfig::new().domain("example.auth0.com").audience("api").build()?;
    /// let err = verifier.verify_access_token("", &RequestContext::default()).unwrap_err();
    /// assert_eq!(err.error_code().as_str(), "invalid_token");
    /// assert_eq!(err.description(), "no access token");
    /// # Ok::<(), auth0_api::ConfigError>(())
    /// ```
    pub fn error_code(&self) -> ErrorCode {
        wire_code(&self.reason)
    }

    /// The `error_description` sent to the caller (see [`Reason::public_description`]).
    pub fn description(&self) -> String {
        self.reason.public_description()
    }

    /// The `WWW-Authenticate` values to send, in order.
    pub fn www_authenticate(&self) -> &[String] {
        &self.challenges
    }
}

/// The `error` value of the challenge (RFC 6750 section 3.1, RFC 9449 section 7.1).
///
/// An empty token is `invalid_token` (code `verify_access_token_error`, 401) although its
/// challenge names no error: there was no token to judge (RFC 6750 section 3.1).
fn wire_code(reason: &Reason) -> ErrorCode {
    match reason {
        Reason::MissingToken => ErrorCode::InvalidToken,
        Reason::Forbidden(_) => ErrorCode::InsufficientScope,
        Reason::ReplayStoreUnavailable => ErrorCode::TemporarilyUnavailable,
        Reason::Extraction(_) => ErrorCode::InvalidRequest,
        Reason::Dpop(e) => match e.code() {
            DpopErrorCode::InvalidRequest => ErrorCode::InvalidRequest,
            DpopErrorCode::InvalidDpopProof => ErrorCode::InvalidDpopProof,
            _ => ErrorCode::InvalidToken,
        },
        _ => ErrorCode::InvalidToken,
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.reason)
    }
}

impl Error for VerifyError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn Error + 'static))
    }
}
