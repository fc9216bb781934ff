//! Why a DPoP check failed, and the OAuth error code each failure maps to.

use core::fmt;

use super::htu::UrlError;
use crate::cache::replay::ReplayError;
use crate::jose::JoseError;

/// The OAuth error code a [`DpopError`] maps to (SPEC section 4, RFC 9449 section 7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DpopErrorCode {
    /// `invalid_request` (HTTP 400): the request is malformed.
    InvalidRequest,
    /// `invalid_token` (HTTP 401): the token cannot be used this way.
    InvalidToken,
    /// `invalid_dpop_proof` (HTTP 400): the DPoP proof is invalid.
    InvalidDpopProof,
}

impl DpopErrorCode {
    /// The wire value, as in a `WWW-Authenticate` `error` parameter.
    pub const fn as_str(self) -> &'static str {
        match self {
            DpopErrorCode::InvalidRequest => "invalid_request",
            DpopErrorCode::InvalidToken => "invalid_token",
            DpopErrorCode::InvalidDpopProof => "invalid_dpop_proof",
        }
    }
}

impl fmt::Display for DpopErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed DPoP or scheme check. Variants are in the order the checks run.
///
/// Never carries token or proof contents.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DpopError {
    // --- check_scheme ---
    /// The authentication scheme is not accepted in this mode (only `Bearer` and `DPoP` at
    /// all; only `DPoP` when required; only `Bearer` when disabled).
    SchemeNotAllowed,
    /// A DPoP proof, method or URL was given without an explicit scheme.
    DpopParamsWithoutScheme,

    // --- check_binding ---
    /// The token's `cnf` claim is not an object, or its `jkt` is not a non-empty string.
    InvalidBinding,
    /// A DPoP proof came with the `Bearer` scheme and an unbound token.
    BearerWithProof,
    /// The `DPoP` scheme was used with a token that has no `cnf.jkt`.
    DpopWithoutBinding,
    /// A DPoP-bound token (`cnf.jkt`) was presented with the `Bearer` scheme
    /// (RFC 9449 section 7.2).
    BoundTokenAsBearer,

    // --- verify_proof: the request ---
    /// No DPoP proof was given.
    MissingProof,
    /// The DPoP value holds a comma: more than one proof (RFC 9449 section 4.3, check 1).
    MultipleProofs,
    /// No HTTP method was given to check `htm` against.
    MissingMethod,
    /// No request URL was given to check `htu` against.
    MissingUrl,
    /// The request URL cannot be normalised.
    InvalidRequestUrl(UrlError),

    // --- verify_proof: the proof JWS ---
    /// The proof is longer than the token size limit (checked before decoding).
    ProofTooLarge,
    /// The proof is not a well-formed compact JWS with strict JSON header and payload.
    InvalidProofSyntax(JoseError),
    /// The header `typ` is not `dpop+jwt` (RFC 9449 section 4.3, check 4).
    InvalidTyp,
    /// The header `alg` is not `ES256`, the only algorithm accepted for proofs.
    UnsupportedAlg,
    /// The header has no `jwk` (RFC 9449 section 4.2).
    MissingJwk,
    /// The header `jwk` is not a usable P-256 public key: private members, wrong key type
    /// or curve, malformed or off-curve coordinates (RFC 9449 section 4.3, check 7).
    InvalidJwk(JoseError),
    /// The signature does not verify with the embedded key (RFC 9449 section 4.3, check 6).
    InvalidSignature,

    // --- verify_proof: the proof claims ---
    /// `jti` is missing, not a string, empty or longer than [`MAX_JTI_LEN`](super::MAX_JTI_LEN).
    InvalidJti,
    /// `iat` is missing or not a number.
    InvalidIat,
    /// `iat` is outside `[now - iat_offset, now + iat_leeway]` (RFC 9449 section 4.3,
    /// check 11).
    IatOutOfWindow,
    /// `exp` or `nbf` is present but not a non-negative JSON number below 2^64.
    InvalidTimeClaim(&'static str),
    /// `exp` is present and not after now (RFC 7519 section 4.1.4).
    ProofExpired,
    /// `nbf` is present and after now (RFC 7519 section 4.1.5).
    ProofNotYetValid,
    /// A required claim (`htm`, `htu` or `ath`) is missing or not a string.
    MissingClaim(&'static str),
    /// `htm` differs from the request method (compared ignoring ASCII case).
    HtmMismatch,
    /// `htu` cannot be normalised.
    InvalidHtu(UrlError),
    /// The normalised `htu` differs from the normalised request URL.
    HtuMismatch,
    /// `ath` differs from the hash of the access token (RFC 9449 section 4.3, check 12).
    AthMismatch,
    /// The proof key's thumbprint differs from the token's `cnf.jkt` (RFC 9449 section 7.1).
    JktMismatch,

    // --- replay cache ---
    /// The proof (same key and `jti`) was already used within its window
    /// (RFC 9449 section 11.1).
    Replayed,
    /// The replay cache is full of unexpired entries; the proof is refused rather than an
    /// entry forgotten.
    ReplayCacheFull,
    /// The proof key already holds its quota of unexpired entries in the replay cache; its
    /// proofs are refused until some expire, while other keys are still served.
    ReplayQuotaExceeded,
}

impl DpopError {
    /// The OAuth error code for this failure (SPEC sections 3 and 4).
    pub const fn code(&self) -> DpopErrorCode {
        match self {
            DpopError::SchemeNotAllowed
            | DpopError::DpopParamsWithoutScheme
            | DpopError::BearerWithProof
            | DpopError::MissingProof
            | DpopError::MissingMethod
            | DpopError::MissingUrl
            | DpopError::InvalidRequestUrl(_) => DpopErrorCode::InvalidRequest,
            DpopError::InvalidBinding
            | DpopError::DpopWithoutBinding
            | DpopError::BoundTokenAsBearer
            | DpopError::JktMismatch => DpopErrorCode::InvalidToken,
            DpopError::MultipleProofs
            | DpopError::ProofTooLarge
            | DpopError::InvalidProofSyntax(_)
            | DpopError::InvalidTyp
            | DpopError::UnsupportedAlg
            | DpopError::MissingJwk
            | DpopError::InvalidJwk(_)
            | DpopError::InvalidSignature
            | DpopError::InvalidJti
            | DpopError::InvalidIat
            | DpopError::IatOutOfWindow
            | DpopError::InvalidTimeClaim(_)
            | DpopError::ProofExpired
            | DpopError::ProofNotYetValid
            | DpopError::MissingClaim(_)
            | DpopError::HtmMismatch
            | DpopError::InvalidHtu(_)
            | DpopError::HtuMismatch
            | DpopError::AthMismatch
            | DpopError::Replayed
            | DpopError::ReplayCacheFull
            | DpopError::ReplayQuotaExceeded => DpopErrorCode::InvalidDpopProof,
        }
    }

    /// Whether the `error` parameters belong on the `DPoP` challenge rather than the `Bearer`
    /// one (SPEC section 4). When the request used the `DPoP` scheme they go there anyway.
    pub const fn is_dpop_specific(&self) -> bool {
        match self {
            DpopError::SchemeNotAllowed
            | DpopError::InvalidBinding
            | DpopError::BearerWithProof
            | DpopError::BoundTokenAsBearer => false,
            DpopError::DpopParamsWithoutScheme
            | DpopError::DpopWithoutBinding
            | DpopError::MissingProof
            | DpopError::MultipleProofs
            | DpopError::MissingMethod
            | DpopError::MissingUrl
            | DpopError::InvalidRequestUrl(_)
            | DpopError::ProofTooLarge
            | DpopError::InvalidProofSyntax(_)
            | DpopError::InvalidTyp
            | DpopError::UnsupportedAlg
            | DpopError::MissingJwk
            | DpopError::InvalidJwk(_)
            | DpopError::InvalidSignature
            | DpopError::InvalidJti
            | DpopError::InvalidIat
            | DpopError::IatOutOfWindow
            | DpopError::InvalidTimeClaim(_)
            | DpopError::ProofExpired
            | DpopError::ProofNotYetValid
            | DpopError::MissingClaim(_)
            | DpopError::HtmMismatch
            | DpopError::InvalidHtu(_)
            | DpopError::HtuMismatch
            | DpopError::AthMismatch
            | DpopError::JktMismatch
            | DpopError::Replayed
            | DpopError::ReplayCacheFull
            | DpopError::ReplayQuotaExceeded => true,
        }
    }

    /// Whether the challenge carries `error` and `error_description` at all.
    ///
    /// False for a wrong scheme and for a missing proof: like a request without any
    /// credentials, they get a bare challenge (SPEC section 4, RFC 6750 section 3.1).
    pub const fn challenge_has_error(&self) -> bool {
        !matches!(
            self,
            DpopError::SchemeNotAllowed
                | DpopError::DpopParamsWithoutScheme
                | DpopError::MissingProof
        )
    }
}

impl fmt::Display for DpopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DpopError::SchemeNotAllowed => f.write_str("authentication scheme not allowed"),
            DpopError::DpopParamsWithoutScheme => {
                f.write_str("dpop parameters given without an authentication scheme")
            }
            DpopError::InvalidBinding => f.write_str("invalid cnf confirmation claim"),
            DpopError::BearerWithProof => {
                f.write_str("dpop proof requires the dpop authentication scheme, not bearer")
            }
            DpopError::DpopWithoutBinding => {
                f.write_str("access token has no jkt confirmation claim")
            }
            DpopError::BoundTokenAsBearer => {
                f.write_str("dpop-bound token requires the dpop authentication scheme, not bearer")
            }
            DpopError::MissingProof => f.write_str("missing dpop proof"),
            DpopError::MultipleProofs => f.write_str("multiple dpop proofs are not allowed"),
            DpopError::MissingMethod => f.write_str("http method is required for dpop validation"),
            DpopError::MissingUrl => f.write_str("http url is required for dpop validation"),
            DpopError::InvalidRequestUrl(e) => write!(f, "invalid request url: {e}"),
            DpopError::ProofTooLarge => f.write_str("dpop proof too large"),
            DpopError::InvalidProofSyntax(e) => write!(f, "malformed dpop proof: {e}"),
            DpopError::InvalidTyp => f.write_str("dpop proof typ is not dpop+jwt"),
            DpopError::UnsupportedAlg => f.write_str("dpop proof alg is not es256"),
            DpopError::MissingJwk => f.write_str("dpop proof header has no jwk"),
            DpopError::InvalidJwk(e) => write!(f, "invalid dpop proof jwk: {e}"),
            DpopError::InvalidSignature => f.write_str("dpop proof signature does not verify"),
            DpopError::InvalidJti => f.write_str("dpop proof jti is missing or invalid"),
            DpopError::InvalidIat => f.write_str("dpop proof iat is missing or not a number"),
            DpopError::IatOutOfWindow => {
                f.write_str("dpop proof iat is outside the acceptable range")
            }
            DpopError::InvalidTimeClaim(name) => {
                write!(f, "dpop proof {name} claim is not a valid number")
            }
            DpopError::ProofExpired => f.write_str("dpop proof is expired"),
            DpopError::ProofNotYetValid => f.write_str("dpop proof is not yet valid"),
            DpopError::MissingClaim(name) => {
                write!(f, "dpop proof {name} claim is missing or not a string")
            }
            DpopError::HtmMismatch => f.write_str("dpop proof htm mismatch"),
            DpopError::InvalidHtu(e) => write!(f, "invalid dpop proof htu: {e}"),
            DpopError::HtuMismatch => f.write_str("dpop proof htu mismatch"),
            DpopError::AthMismatch => f.write_str("dpop proof ath mismatch"),
            DpopError::JktMismatch => f.write_str("dpop proof key does not match cnf.jkt"),
            DpopError::Replayed => f.write_str("dpop proof replayed"),
            DpopError::ReplayCacheFull => f.write_str("dpop replay cache is full"),
            DpopError::ReplayQuotaExceeded => {
                f.write_str("dpop proof key has too many recent proofs")
            }
        }
    }
}

impl From<ReplayError> for DpopError {
    fn from(e: ReplayError) -> Self {
        match e {
            ReplayError::Replayed => DpopError::Replayed,
            ReplayError::Full => DpopError::ReplayCacheFull,
            ReplayError::QuotaExceeded => DpopError::ReplayQuotaExceeded,
        }
    }
}

impl core::error::Error for DpopError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            DpopError::InvalidRequestUrl(e) | DpopError::InvalidHtu(e) => Some(e),
            DpopError::InvalidProofSyntax(e) | DpopError::InvalidJwk(e) => Some(e),
            _ => None,
        }
    }
}
