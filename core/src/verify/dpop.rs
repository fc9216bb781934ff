//! DPoP (RFC 9449): scheme rules, token binding, proof checks and `htu` normalisation.
//!
//! A verification with DPoP goes through three steps, in this order:
//!
//! 1. [`check_scheme`], before any network request (SPEC section 3, first bullets): which
//!    authentication schemes the [`DpopMode`] accepts, and DPoP-only request parameters
//!    given without an explicit scheme.
//! 2. [`check_binding`], after the access token's signature and claims are verified: the
//!    token's `cnf.jkt` against the scheme and the presence of a proof (RFC 9449 section 7.1
//!    and 7.2). It says whether a proof must be verified, and against which thumbprint.
//! 3. [`verify_proof`], when a proof must be verified: the checks of RFC 9449 section 4.3,
//!    plus `ath` and `jkt` (section 7.1), plus the optional `jti` replay cache
//!    ([`ReplayCache`], section 11.1).
//!
//! Errors are [`DpopError`]s; [`DpopError::code`] gives the OAuth error code
//! (`invalid_request`, `invalid_token` or `invalid_dpop_proof`) and
//! [`DpopError::is_dpop_specific`] whether the error belongs on the `DPoP` challenge.
//!
//! DPoP nonces (RFC 9449 sections 8, 9 and 11.3) are not supported.

use alloc::string::String;
use core::fmt;
use core::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::cache::replay::{ReplayCache, ReplayError, ReplayKey};
use crate::config::DpopMode;
use crate::jose::compact::{CompactJws, Limits};
use crate::jose::json::{JsonError, ObjectIndex};
use crate::jose::jwk::Jwk;
use crate::jose::provider::{CryptoProvider, RUST_CRYPTO};
use crate::jose::{Algorithm, JoseError, KeyType};
use crate::percent;
use crate::time::{NumericDate, NumericDateError, UnixTime};

/// The longest `htu` or request URL accepted, in bytes.
pub const MAX_HTU_LEN: usize = 8 * 1024;

/// The longest proof `jti` accepted, in bytes (RFC 9449 section 11.1 asks servers to refuse
/// needlessly large values).
pub const MAX_JTI_LEN: usize = 256;

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

/// Why a URL (a proof's `htu` or the request URL) could not be normalised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlError {
    /// Longer than [`MAX_HTU_LEN`].
    TooLong,
    /// A control character, white space, backslash or non-ASCII character (an
    /// internationalised host must be given in its `xn--` form).
    Character,
    /// The scheme is missing or is not `http` or `https`.
    Scheme,
    /// No `//` authority after the scheme.
    MissingAuthority,
    /// The authority carries user information (`user:password@`).
    Userinfo,
    /// The host is empty or malformed.
    Host,
    /// The port is not a decimal number up to 65535.
    Port,
    /// A `%` not followed by two hexadecimal digits.
    PercentEncoding,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UrlError::TooLong => "url too long",
            UrlError::Character => "url contains a forbidden character",
            UrlError::Scheme => "url scheme is not http or https",
            UrlError::MissingAuthority => "url has no authority",
            UrlError::Userinfo => "url carries user information",
            UrlError::Host => "url host is empty or malformed",
            UrlError::Port => "url port is invalid",
            UrlError::PercentEncoding => "url has a malformed percent-encoding",
        })
    }
}

impl core::error::Error for UrlError {}

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
    /// `jti` is missing, not a string, empty or longer than [`MAX_JTI_LEN`].
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

// ---------------------------------------------------------------------------------------
// Scheme rules (before the network)
// ---------------------------------------------------------------------------------------

/// An accepted authentication scheme: the one token extraction reports.
pub use crate::extract::AuthScheme as Scheme;

/// Which DPoP-only request parameters a verification received, for [`check_scheme`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DpopParams {
    /// A DPoP proof (header value) was given.
    pub proof: bool,
    /// An HTTP method was given.
    pub method: bool,
    /// A request URL was given.
    pub url: bool,
    /// The verifier uses `domains` (multiple custom domains). The request URL is then also
    /// an input of the domain resolver, so it does not by itself signal DPoP.
    pub uses_domains: bool,
}

impl DpopParams {
    /// Whether any parameter that only makes sense with DPoP was given: a proof, a method,
    /// or a URL when the verifier does not use `domains` (SPEC section 3).
    pub const fn any(self) -> bool {
        self.proof || self.method || (self.url && !self.uses_domains)
    }
}

/// Applies the scheme rules of SPEC section 3, before any network request.
///
/// `scheme` is the authentication scheme as given (compared ignoring case); absent means
/// `Bearer`.
///
/// | mode | accepted schemes | DPoP parameters without a scheme |
/// |---|---|---|
/// | `Allowed` | `Bearer`, `DPoP` | rejected |
/// | `Required` | `DPoP` (absent is `Bearer`: rejected) | - |
/// | `Disabled` | `Bearer` | ignored, like all of DPoP |
///
/// # Errors
/// [`DpopError::SchemeNotAllowed`] for a scheme the mode does not accept,
/// [`DpopError::DpopParamsWithoutScheme`] for DPoP parameters without an explicit scheme.
///
/// # Examples
/// ```
/// use auth0_api::config::DpopMode;
/// use auth0_api::verify::dpop::{check_scheme, DpopParams, Scheme};
///
/// let none = DpopParams::default();
/// assert_eq!(check_scheme(DpopMode::Allowed, None, none), Ok(Scheme::Bearer));
/// assert_eq!(check_scheme(DpopMode::Allowed, Some("dPoP"), none), Ok(Scheme::DPoP));
/// assert!(check_scheme(DpopMode::Required, Some("Bearer"), none).is_err());
/// ```
pub fn check_scheme(
    mode: DpopMode,
    scheme: Option<&str>,
    params: DpopParams,
) -> Result<Scheme, DpopError> {
    let parsed = match scheme {
        None => Some(Scheme::Bearer),
        Some(name) => Scheme::from_name(name),
    };
    match (mode, parsed) {
        (DpopMode::Disabled, Some(Scheme::Bearer)) => Ok(Scheme::Bearer),
        (DpopMode::Required, Some(Scheme::DPoP)) => Ok(Scheme::DPoP),
        (DpopMode::Allowed, Some(s)) => {
            if scheme.is_none() && params.any() {
                Err(DpopError::DpopParamsWithoutScheme)
            } else {
                Ok(s)
            }
        }
        _ => Err(DpopError::SchemeNotAllowed),
    }
}

// ---------------------------------------------------------------------------------------
// Binding (after signature and claims)
// ---------------------------------------------------------------------------------------

/// What [`check_binding`] decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binding<'a> {
    /// Accept the token as a bearer token: no proof is checked.
    Bearer,
    /// Verify the DPoP proof with [`verify_proof`]; its key must have thumbprint `jkt`.
    Proof {
        /// The token's `cnf.jkt`.
        jkt: &'a str,
    },
}

/// The `jkt` member of a token's `cnf` claim (RFC 9449 section 6.1), failing closed.
///
/// `None` when there is no `cnf`, or `cnf` is an object without `jkt` (another kind of
/// confirmation, such as mutual-TLS `x5t#S256`).
///
/// # Errors
/// [`DpopError::InvalidBinding`] when `cnf` is not an object or `jkt` is not a non-empty
/// string: a malformed binding is never read as "unbound".
pub fn cnf_jkt(cnf: Option<&Value>) -> Result<Option<&str>, DpopError> {
    match cnf {
        None => Ok(None),
        Some(Value::Object(members)) => match members.get("jkt") {
            None => Ok(None),
            Some(Value::String(jkt)) if !jkt.is_empty() => Ok(Some(jkt)),
            Some(_) => Err(DpopError::InvalidBinding),
        },
        Some(_) => Err(DpopError::InvalidBinding),
    }
}

/// Applies the binding rules of SPEC section 3 and RFC 9449 section 7 once the token's
/// signature and claims are verified.
///
/// `scheme` is what [`check_scheme`] returned, `has_proof` whether a DPoP proof was given,
/// `cnf` the token's `cnf` claim.
///
/// | scheme | proof | token | result |
/// |---|---|---|---|
/// | any (mode `Disabled`) | ignored | ignored | [`Binding::Bearer`] |
/// | `Bearer` | yes | unbound | [`DpopError::BearerWithProof`] (`invalid_request`) |
/// | `Bearer` | any | bound | [`DpopError::BoundTokenAsBearer`] (`invalid_token`) |
/// | `Bearer` | no | unbound | [`Binding::Bearer`] |
/// | `DPoP` | any | unbound | [`DpopError::DpopWithoutBinding`] (`invalid_token`) |
/// | `DPoP` | any | bound | [`Binding::Proof`] (a missing proof fails in [`verify_proof`]) |
///
/// # Errors
/// The errors in the table, [`DpopError::InvalidBinding`] for a malformed `cnf`, and
/// [`DpopError::SchemeNotAllowed`] for a scheme [`check_scheme`] would have refused.
pub fn check_binding<'c>(
    mode: DpopMode,
    scheme: Scheme,
    has_proof: bool,
    cnf: Option<&'c Value>,
) -> Result<Binding<'c>, DpopError> {
    match (mode, scheme) {
        // SPEC section 3: disabled ignores DPoP entirely, `cnf` included.
        (DpopMode::Disabled, Scheme::Bearer) => return Ok(Binding::Bearer),
        (DpopMode::Disabled, Scheme::DPoP) | (DpopMode::Required, Scheme::Bearer) => {
            return Err(DpopError::SchemeNotAllowed);
        }
        _ => {}
    }
    let jkt = cnf_jkt(cnf)?;
    match (scheme, jkt) {
        (Scheme::Bearer, None) if has_proof => Err(DpopError::BearerWithProof),
        (Scheme::Bearer, None) => Ok(Binding::Bearer),
        // RFC 9449 section 7.2: a bound token received as a bearer token MUST be rejected.
        (Scheme::Bearer, Some(_)) => Err(DpopError::BoundTokenAsBearer),
        (Scheme::DPoP, None) => Err(DpopError::DpopWithoutBinding),
        (Scheme::DPoP, Some(jkt)) => Ok(Binding::Proof { jkt }),
    }
}

// ---------------------------------------------------------------------------------------
// Proof verification
// ---------------------------------------------------------------------------------------

/// The default maximum age of a proof (`iat_offset`): 300 s.
pub const DEFAULT_IAT_OFFSET: Duration = Duration::from_secs(300);

/// The default allowance for a proof `iat` in the future (`iat_leeway`): 30 s.
pub const DEFAULT_IAT_LEEWAY: Duration = Duration::from_secs(30);

/// What [`verify_proof`] checks a DPoP proof against.
///
/// `Debug` redacts the proof and the access token.
#[derive(Clone, Copy)]
pub struct ProofInput<'a> {
    /// The `DPoP` request header value. When the request carried several `DPoP` header
    /// fields, pass them joined with `,` (RFC 9110 section 5.3) so that they are refused as
    /// [`DpopError::MultipleProofs`].
    pub proof: Option<&'a str>,
    /// The access token the proof must be bound to (`ath`).
    ///
    /// # Security
    /// A bearer credential: never log it.
    pub access_token: &'a str,
    /// The token's `cnf.jkt`, from [`Binding::Proof`].
    pub jkt: &'a str,
    /// The request method, for `htm`.
    pub method: Option<&'a str>,
    /// The full request URL, for `htu` (query and fragment are ignored).
    pub url: Option<&'a str>,
    /// The current time.
    pub now: UnixTime,
    /// The maximum age of a proof. Defaults to [`DEFAULT_IAT_OFFSET`].
    pub iat_offset: Duration,
    /// How far in the future a proof `iat` may be. Defaults to [`DEFAULT_IAT_LEEWAY`].
    pub iat_leeway: Duration,
    /// Size and nesting limits; the proof gets the same limits as an access token.
    pub limits: Limits,
    /// Imports the proof's key and checks its signature; the verifier passes its own.
    /// Defaults to [`RUST_CRYPTO`].
    pub provider: &'static dyn CryptoProvider,
}

impl<'a> ProofInput<'a> {
    /// An input with the default window (300 s back, 30 s ahead) and default limits.
    pub fn new(
        proof: Option<&'a str>,
        access_token: &'a str,
        jkt: &'a str,
        method: Option<&'a str>,
        url: Option<&'a str>,
        now: UnixTime,
    ) -> Self {
        Self {
            proof,
            access_token,
            jkt,
            method,
            url,
            now,
            iat_offset: DEFAULT_IAT_OFFSET,
            iat_leeway: DEFAULT_IAT_LEEWAY,
            limits: Limits::default(),
            provider: &RUST_CRYPTO,
        }
    }
}

impl fmt::Debug for ProofInput<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProofInput")
            .field("proof", &self.proof.map(|_| "[redacted]"))
            .field("access_token", &"[redacted]")
            .field("jkt", &self.jkt)
            .field("method", &self.method)
            .field("url", &self.url)
            .field("now", &self.now)
            .field("iat_offset", &self.iat_offset)
            .field("iat_leeway", &self.iat_leeway)
            .field("limits", &self.limits)
            .field("provider", &self.provider)
            .finish()
    }
}

/// What a verified proof established.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedProof {
    /// The proof's `jti`.
    pub jti: String,
    /// The proof's `iat`, in whole seconds.
    pub iat: UnixTime,
    /// The RFC 7638 thumbprint of the proof key (equal to the token's `cnf.jkt`).
    pub jkt: String,
    /// The normalised `htu` (equal to the normalised request URL).
    pub htu: String,
}

/// Verifies a DPoP proof for a DPoP-bound access token (RFC 9449 sections 4.3 and 7.1).
///
/// Checks run in this order; the first failure is returned:
///
/// 1. the request: a non-empty proof ([`MissingProof`](DpopError::MissingProof)) without a
///    comma ([`MultipleProofs`](DpopError::MultipleProofs)), a method
///    ([`MissingMethod`](DpopError::MissingMethod)), a URL
///    ([`MissingUrl`](DpopError::MissingUrl)) that normalises
///    ([`InvalidRequestUrl`](DpopError::InvalidRequestUrl));
/// 2. the JWS, before any signature work: at most `limits.max_token_len` bytes
///    ([`ProofTooLarge`](DpopError::ProofTooLarge)), a strict compact JWS
///    ([`InvalidProofSyntax`](DpopError::InvalidProofSyntax)), `typ` `dpop+jwt`
///    ([`InvalidTyp`](DpopError::InvalidTyp)), `alg` `ES256`
///    ([`UnsupportedAlg`](DpopError::UnsupportedAlg)), an embedded public P-256 `jwk`
///    ([`MissingJwk`](DpopError::MissingJwk), [`InvalidJwk`](DpopError::InvalidJwk));
/// 3. the signature with that key ([`InvalidSignature`](DpopError::InvalidSignature));
/// 4. the claims, parsed strictly (duplicate names refused): `jti`, `iat` window, `htm`,
///    `htu`, `ath`, in RFC 9449 section 4.3 order, then the key thumbprint against `cnf.jkt`
///    ([`JktMismatch`](DpopError::JktMismatch));
/// 5. last, so that only fully valid proofs take room in it, the replay cache when one is
///    given ([`Replayed`](DpopError::Replayed),
///    [`ReplayCacheFull`](DpopError::ReplayCacheFull),
///    [`ReplayQuotaExceeded`](DpopError::ReplayQuotaExceeded)), keyed by `(jkt, jti)`.
///
/// Pinned choices:
/// - `typ` is compared as a media type (RFC 7515 section 4.1.9): ignoring ASCII case and
///   with an optional `application/` prefix, so `DPOP+JWT` and `application/dpop+jwt` are
///   accepted; anything else (missing, `JWT`, `at+jwt`, parameters) is refused.
/// - `iat` must be a JSON number, compared exactly with the window (RFC 7519 NumericDate
///   allows fractions: `now + iat_leeway + 0.5` is outside it); a negative or huge number is
///   out of the window. The window `[now - iat_offset, now + iat_leeway]` is inclusive and
///   its bounds saturate at the epoch and at the largest instant, so no arithmetic can
///   overflow.
/// - `exp` and `nbf` are optional; when present they must be numbers
///   ([`InvalidTimeClaim`](DpopError::InvalidTimeClaim)), `exp` after now
///   ([`ProofExpired`](DpopError::ProofExpired)) and `nbf` not after now
///   ([`ProofNotYetValid`](DpopError::ProofNotYetValid)), compared exactly and with no
///   leeway. A negative date is in the past; one beyond 2^64 seconds is refused.
/// - `htm` is compared ignoring ASCII case, as the reference SDK does, although RFC 9110
///   methods are case-sensitive.
/// - `htu` and the URL are compared after [`normalize_htu`] (see there for what is and is
///   not normalised).
/// - `ath` is required: at a resource server every proof accompanies an access token.
/// - `jti` is at most [`MAX_JTI_LEN`] bytes.
/// - Extra claims (such as `nonce`) and extra `jwk` members (`kid`, `use`, `alg`) are
///   ignored, though a `jwk` whose own `use`, `key_ops` or `alg` forbids ES256 verification
///   is refused.
///
/// # Errors
/// The [`DpopError`] of the first failed check, as listed above.
///
/// # Examples
/// ```
/// use auth0_api::verify::dpop::{verify_proof, DpopError, ProofInput};
/// use auth0_api::UnixTime;
///
/// let input = ProofInput::new(None, "token", "jkt", Some("GET"), Some("https://api/"),
///     UnixTime::from_secs(1_700_000_000));
/// assert_eq!(verify_proof(&input, None), Err(DpopError::MissingProof));
/// ```
pub fn verify_proof(
    input: &ProofInput<'_>,
    replay: Option<&mut ReplayCache>,
) -> Result<VerifiedProof, DpopError> {
    // 1. The request (RFC 9449 section 4.3, check 1: exactly one DPoP header).
    let proof = input
        .proof
        .filter(|p| !p.is_empty())
        .ok_or(DpopError::MissingProof)?;
    if proof.contains(',') {
        return Err(DpopError::MultipleProofs);
    }
    let method = input
        .method
        .filter(|m| !m.is_empty())
        .ok_or(DpopError::MissingMethod)?;
    let url = input
        .url
        .filter(|u| !u.is_empty())
        .ok_or(DpopError::MissingUrl)?;
    let request_htu = normalize_htu(url).map_err(DpopError::InvalidRequestUrl)?;

    // 2. The JWS (checks 2, 4, 5 and 7).
    if proof.len() > input.limits.max_token_len {
        return Err(DpopError::ProofTooLarge);
    }
    let jws = CompactJws::parse(proof, &input.limits).map_err(|e| match e {
        JoseError::TooLarge => DpopError::ProofTooLarge,
        JoseError::MissingAlgorithm
        | JoseError::UnsecuredAlgorithm
        | JoseError::SymmetricAlgorithm
        | JoseError::UnsupportedAlgorithm => DpopError::UnsupportedAlg,
        other => DpopError::InvalidProofSyntax(other),
    })?;
    let header = jws.header();
    if !header.typ.as_deref().is_some_and(is_dpop_typ) {
        return Err(DpopError::InvalidTyp);
    }
    // This project, like the reference SDK, accepts ES256 proofs only.
    if header.alg != Algorithm::ES256 {
        return Err(DpopError::UnsupportedAlg);
    }
    let members = header.jwk.as_ref().ok_or(DpopError::MissingJwk)?;
    // RFC 9449 section 4.3, check 7: the key must not be private. `Jwk::from_members`
    // refuses every private member; `d` is checked here too so the rule is visible.
    if members.contains_key("d") {
        return Err(DpopError::InvalidJwk(JoseError::PrivateKeyMaterial));
    }
    let jwk = Jwk::from_members(members, input.provider).map_err(DpopError::InvalidJwk)?;
    if jwk.key_type() != KeyType::EcP256 {
        return Err(DpopError::InvalidJwk(JoseError::KeyAlgorithmMismatch));
    }

    // 3. The signature (check 6).
    jws.verify(&jwk).map_err(|e| match e {
        JoseError::InvalidSignature => DpopError::InvalidSignature,
        other => DpopError::InvalidJwk(other),
    })?;

    // 4. The claims (checks 3, 8, 9, 11, 12; check 10, nonce, is not supported).
    let payload_error = |e| DpopError::InvalidProofSyntax(JoseError::PayloadJson(e));
    let text = core::str::from_utf8(jws.payload()).map_err(|_| payload_error(JsonError::Syntax))?;
    let claims = ObjectIndex::parse(text, input.limits.max_json_depth).map_err(payload_error)?;
    let string_claim = |name| match claims.string(text, name) {
        Ok(Some(value)) => Ok(value),
        _ => Err(DpopError::MissingClaim(name)),
    };
    let jti = match claims.string(text, "jti") {
        Ok(Some(jti)) if !jti.is_empty() && jti.len() <= MAX_JTI_LEN => jti,
        _ => return Err(DpopError::InvalidJti),
    };
    let iat = match claims.raw(text, "iat").map(NumericDate::from_json) {
        Some(Ok(iat)) => iat,
        Some(Err(NumericDateError::NotANumber)) | None => return Err(DpopError::InvalidIat),
        Some(Err(_)) => return Err(DpopError::IatOutOfWindow),
    };
    let earliest = input.now.saturating_sub(input.iat_offset);
    let latest = input.now.saturating_add(input.iat_leeway);
    if iat.is_before(earliest) || iat.is_after(latest) {
        return Err(DpopError::IatOutOfWindow);
    }
    // RFC 7519 sections 4.1.4 and 4.1.5: optional in a proof, enforced when present.
    let date = |name| match claims.raw(text, name).map(NumericDate::from_json) {
        None => Ok(None),
        Some(Ok(date)) => Ok(Some(date)),
        Some(Err(NumericDateError::Negative)) => Ok(Some(NumericDate::from_secs(0))),
        Some(Err(_)) => Err(DpopError::InvalidTimeClaim(name)),
    };
    if date("exp")?.is_some_and(|exp| !exp.is_after(input.now)) {
        return Err(DpopError::ProofExpired);
    }
    if date("nbf")?.is_some_and(|nbf| nbf.is_after(input.now)) {
        return Err(DpopError::ProofNotYetValid);
    }
    let iat = iat.floor();
    let htm = string_claim("htm")?;
    if !htm.eq_ignore_ascii_case(method) {
        return Err(DpopError::HtmMismatch);
    }
    let htu = normalize_htu(string_claim("htu")?).map_err(DpopError::InvalidHtu)?;
    if htu != request_htu {
        return Err(DpopError::HtuMismatch);
    }
    let ath = string_claim("ath")?;
    if ath != access_token_hash(input.access_token) {
        return Err(DpopError::AthMismatch);
    }
    let thumbprint = jwk.thumbprint();
    if thumbprint != input.jkt {
        return Err(DpopError::JktMismatch);
    }

    // 5. Replay (section 11.1).
    if let Some(cache) = replay {
        cache.check_and_insert(ReplayKey::new(&thumbprint, jti), input.now)
            .map_err(DpopError::from)?;
    }
    Ok(VerifiedProof {
        jti: String::from(jti),
        iat,
        jkt: thumbprint,
        htu,
    })
}

/// `ath`: base64url (no padding) of the SHA-256 of the ASCII access token
/// (RFC 9449 section 4.2).
pub fn access_token_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()))
}

/// Whether `typ` names the `application/dpop+jwt` media type (RFC 7515 section 4.1.9: the
/// `application/` prefix may be omitted; media types compare ignoring case).
fn is_dpop_typ(typ: &str) -> bool {
    const PREFIX: &str = "application/";
    let subtype = match typ.get(..PREFIX.len()) {
        Some(p) if p.eq_ignore_ascii_case(PREFIX) => typ.get(PREFIX.len()..).unwrap_or(""),
        _ => typ,
    };
    subtype.eq_ignore_ascii_case("dpop+jwt")
}

// ---------------------------------------------------------------------------------------
// htu normalisation
// ---------------------------------------------------------------------------------------

/// Normalises an `htu` claim or a request URL for comparison (RFC 9449 section 4.3, check 9;
/// RFC 3986 sections 6.2.2 and 6.2.3).
///
/// The result is `scheme://host[:port]path`:
/// - only `http` and `https`; scheme and host lower-cased;
/// - the default port (80 for `http`, 443 for `https`) and an empty port dropped, leading
///   zeros of a port dropped;
/// - query and fragment dropped; an empty path becomes `/`;
/// - in the path, a percent-encoded unreserved character (`A-Z a-z 0-9 - . _ ~`) is
///   decoded, every other percent-encoding has its hex digits upper-cased, and the
///   characters RFC 3986 does not allow in a path (`"` `<` `>` `[` `]` `^` `` ` `` `{` `|`
///   `}`) are percent-encoded, as a browser would send them.
///
/// Deliberately **not** done: dot segments are not resolved (`/a/../b` differs from `/b`),
/// slashes are not merged (`//p` differs from `/p`), a trailing slash matters (`/p` differs
/// from `/p/`), `%2F` differs from `/`, path case matters, a trailing dot in the host
/// matters, IPv6 literals are lower-cased but not otherwise rewritten, and
/// internationalised hosts are not converted (only ASCII is accepted). Each of these would
/// let a proof minted for one resource be used at another on some server; a proof whose
/// `htu` differs from the URL the client requested in these ways is rejected.
///
/// # Errors
/// [`UrlError`] when the input is longer than [`MAX_HTU_LEN`], contains a control
/// character, white space, backslash or non-ASCII byte, has a scheme other than `http` or
/// `https`, no authority, user information, an empty or malformed host (IPv6 zone
/// identifiers and IPvFuture included), a malformed port or a malformed percent-encoding.
///
/// # Examples
/// ```
/// use auth0_api::verify::dpop::normalize_htu;
///
/// assert_eq!(
///     normalize_htu("HTTPS://Example.COM:443/a%7eb%2f?q=1#f").as_deref(),
///     Ok("https://example.com/a~b%2F")
/// );
/// assert!(normalize_htu("https://user@example.com/").is_err());
/// ```
pub fn normalize_htu(url: &str) -> Result<String, UrlError> {
    if url.len() > MAX_HTU_LEN {
        return Err(UrlError::TooLong);
    }
    // Controls, space, DEL, backslash and non-ASCII are refused anywhere, query included:
    // parsers disagree on them (WHATWG turns `\` into `/` and strips tabs and newlines).
    if url
        .bytes()
        .any(|b| !(0x21..=0x7e).contains(&b) || b == b'\\')
    {
        return Err(UrlError::Character);
    }
    let (scheme, rest) = url.split_once(':').ok_or(UrlError::Scheme)?;
    let (scheme, default_port) = if scheme.eq_ignore_ascii_case("https") {
        ("https", 443)
    } else if scheme.eq_ignore_ascii_case("http") {
        ("http", 80)
    } else {
        return Err(UrlError::Scheme);
    };
    let rest = rest.strip_prefix("//").ok_or(UrlError::MissingAuthority)?;
    // The split points are ASCII characters, so they are char boundaries.
    let (authority, tail) = split_at_first(rest, &['/', '?', '#']);
    let (path, _query_and_fragment) = split_at_first(tail, &['?', '#']);
    if authority.contains('@') {
        return Err(UrlError::Userinfo);
    }
    let (host, port) = split_host_port(authority)?;

    let mut out = String::with_capacity(url.len().saturating_add(1));
    out.push_str(scheme);
    out.push_str("://");
    push_host(&mut out, host)?;
    if let Some(port) = parse_port(port)?.filter(|p| *p != default_port) {
        out.push(':');
        push_decimal(&mut out, port);
    }
    if path.is_empty() {
        out.push('/');
    } else {
        push_path(&mut out, path)?;
    }
    Ok(out)
}

/// Splits `s` before the first of `chars`, or returns `(s, "")`.
fn split_at_first<'s>(s: &'s str, chars: &[char]) -> (&'s str, &'s str) {
    s.find(chars)
        .and_then(|i| s.split_at_checked(i))
        .unwrap_or((s, ""))
}

/// Splits an authority (already free of user information) into host and optional port.
fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), UrlError> {
    let (host, after_host) = if authority.starts_with('[') {
        // RFC 3986 section 3.2.2: IP-literal = "[" ( IPv6address / IPvFuture ) "]".
        let close = authority.find(']').ok_or(UrlError::Host)?.saturating_add(1);
        authority.split_at_checked(close).ok_or(UrlError::Host)?
    } else {
        split_at_first(authority, &[':'])
    };
    if after_host.is_empty() {
        Ok((host, None))
    } else {
        after_host
            .strip_prefix(':')
            .map(|port| (host, Some(port)))
            .ok_or(UrlError::Host)
    }
}

/// Appends the lower-cased host, validating it.
fn push_host(out: &mut String, host: &str) -> Result<(), UrlError> {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        // IPv6 only: hex digits, colons and dots (embedded IPv4). No zone identifier, no
        // IPvFuture.
        let valid = inner.contains(':')
            && inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        if !valid {
            return Err(UrlError::Host);
        }
    } else {
        // A DNS name or IPv4 address. Percent-encoded and sub-delim hosts are refused.
        let valid = !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
        if !valid {
            return Err(UrlError::Host);
        }
    }
    out.extend(host.chars().map(|c| c.to_ascii_lowercase()));
    Ok(())
}

/// Parses a port: `None` when absent or empty (RFC 3986 section 6.2.3), else 0 to 65535.
fn parse_port(port: Option<&str>) -> Result<Option<u16>, UrlError> {
    let Some(port) = port.filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let mut value: u16 = 0;
    for b in port.bytes() {
        let digit = b
            .is_ascii_digit()
            .then(|| u16::from(b - b'0'))
            .ok_or(UrlError::Port)?;
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(digit))
            .ok_or(UrlError::Port)?;
    }
    Ok(Some(value))
}

fn push_decimal(out: &mut String, value: u16) {
    use core::fmt::Write as _;
    // Writing to a String cannot fail.
    let _ = write!(out, "{value}");
}

const fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Characters allowed unencoded in a path besides unreserved ones: sub-delims, `:`, `@`, `/`
/// (RFC 3986 section 3.3).
const fn is_path_char(b: u8) -> bool {
    is_unreserved(b)
        || matches!(
            b,
            b'!' | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
                | b'/'
        )
}

/// Appends the normalised path (input is printable ASCII without `\`, `?` or `#`).
fn push_path(out: &mut String, path: &str) -> Result<(), UrlError> {
    let mut bytes = path.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let decoded = percent::decode_escape(&mut bytes)
                .map_err(|percent::BadEscape| UrlError::PercentEncoding)?;
            if is_unreserved(decoded) {
                out.push(char::from(decoded));
            } else {
                percent::push_escape(out, decoded);
            }
        } else if is_path_char(b) {
            out.push(char::from(b));
        } else {
            percent::push_escape(out, b);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use alloc::format;
    use alloc::vec::Vec;

    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    // --- htu ----------------------------------------------------------------------------

    /// T-65: pairs that normalise equal.
    #[test]
    fn htu_equal_pairs() {
        let cases: &[(&str, &str)] = &[
            ("https://h:443/p", "https://h/p"),
            ("http://h:80/p", "http://h/p"),
            ("https://h:/p", "https://h/p"),
            ("https://h:0443/p", "https://h/p"),
            ("HTTPS://H.EXAMPLE.com/p", "https://h.example.com/p"),
            ("https://h/%7E", "https://h/~"),
            ("https://h/%41%62", "https://h/Ab"),
            ("https://h/%2f", "https://h/%2F"),
            ("https://h/a%2d%2E%5f", "https://h/a-._"),
            ("https://h/p?x=1", "https://h/p?y=2"),
            ("https://h/p#frag", "https://h/p"),
            ("https://h/p?", "https://h/p#"),
            ("https://h", "https://h/"),
            ("https://h?q", "https://h/"),
            ("https://h#f", "https://h/"),
            ("https://[::1]/p", "https://[::1]:443/p"),
            ("https://[FE80::AB]/p", "https://[fe80::ab]/p"),
            ("https://h/a{b}", "https://h/a%7Bb%7D"),
            ("https://h/a|b", "https://h/a%7cb"),
            (
                "https://resource.example.org/protectedresource",
                "https://resource.example.org:443/protectedresource?x#y",
            ),
        ];
        for (a, b) in cases {
            let na = normalize_htu(a).unwrap_or_else(|e| panic!("{a}: {e}"));
            let nb = normalize_htu(b).unwrap_or_else(|e| panic!("{b}: {e}"));
            assert_eq!(na, nb, "{a} vs {b}");
        }
    }

    /// T-66: pairs that normalise to different values (both valid).
    #[test]
    fn htu_different_pairs() {
        let cases: &[(&str, &str)] = &[
            ("http://h/p", "https://h/p"),
            ("https://h/p", "https://h:8443/p"),
            ("http://h:443/p", "http://h/p"),
            ("https://h/p", "https://h/P"),
            ("https://h/p", "https://h/p/"),
            ("https://h/a%2Fb", "https://h/a/b"),
            ("https://h/a/../b", "https://h/b"),
            ("https://h/./b", "https://h/b"),
            ("https://h/a/%2E%2E/b", "https://h/b"),
            ("https://h//p", "https://h/p"),
            ("https://h/p", "https://g/p"),
            ("https://h./p", "https://h/p"),
            (
                "https://xn--bcher-kva.example/p",
                "https://bucher.example/p",
            ),
            ("https://[::1]/p", "https://[0:0:0:0:0:0:0:1]/p"),
            ("https://h/%25", "https://h/%"),
        ];
        for (a, b) in cases {
            let na = normalize_htu(a);
            let nb = normalize_htu(b);
            assert!(na.is_ok(), "{a}: {na:?}");
            assert_ne!(na, nb, "{a} vs {b}");
        }
    }

    /// T-66: inputs that are rejected, with the reason.
    #[test]
    fn htu_rejected() {
        let long = format!("https://h/{}", "a".repeat(MAX_HTU_LEN));
        let cases: &[(&str, UrlError)] = &[
            ("", UrlError::Scheme),
            ("h/p", UrlError::Scheme),
            ("ws://h/p", UrlError::Scheme),
            ("wss://h/p", UrlError::Scheme),
            ("ftp://h/p", UrlError::Scheme),
            ("foo:bar", UrlError::Scheme),
            ("file:///etc/passwd", UrlError::Scheme),
            ("https:h/p", UrlError::MissingAuthority),
            ("https:/h/p", UrlError::MissingAuthority),
            ("https:///p", UrlError::Host),
            ("https://", UrlError::Host),
            ("https://:443/p", UrlError::Host),
            ("https://u:p@h/p", UrlError::Userinfo),
            ("https://u@h/p", UrlError::Userinfo),
            ("https://@h/p", UrlError::Userinfo),
            ("https://h\\p", UrlError::Character),
            ("https://h/a\\b", UrlError::Character),
            ("https://h/a b", UrlError::Character),
            ("https://h/a\tb", UrlError::Character),
            ("https://h/a\nb", UrlError::Character),
            ("https://h/a\rb", UrlError::Character),
            ("https://h/a\0b", UrlError::Character),
            ("https://h/a\x7fb", UrlError::Character),
            (" https://h/p", UrlError::Character),
            ("https://h/p ", UrlError::Character),
            ("https://h/p?q= x", UrlError::Character),
            ("https://bücher.example/p", UrlError::Character),
            ("https://h/ü", UrlError::Character),
            ("https://h:99999/p", UrlError::Port),
            ("https://h:65536/p", UrlError::Port),
            ("https://h:-1/p", UrlError::Port),
            ("https://h:8a/p", UrlError::Port),
            ("https://h:1:2/p", UrlError::Port),
            ("https://h%2e/p", UrlError::Host),
            ("https://h!/p", UrlError::Host),
            ("https://[::1/p", UrlError::Host),
            ("https://[]/p", UrlError::Host),
            ("https://[v1.x]/p", UrlError::Host),
            ("https://[fe80::1%25eth0]/p", UrlError::Host),
            ("https://[::1]x/p", UrlError::Host),
            ("https://h/%", UrlError::PercentEncoding),
            ("https://h/%4", UrlError::PercentEncoding),
            ("https://h/%zz", UrlError::PercentEncoding),
            ("https://h/%4g", UrlError::PercentEncoding),
            (&long, UrlError::TooLong),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize_htu(input), Err(*expected), "{input:?}");
        }
        // The cap is inclusive.
        let at_cap = format!("https://h/{}", "a".repeat(MAX_HTU_LEN - 10));
        assert_eq!(at_cap.len(), MAX_HTU_LEN);
        assert!(normalize_htu(&at_cap).is_ok());
    }

    #[test]
    fn htu_exact_outputs() {
        let cases: &[(&str, &str)] = &[
            (
                "HTTPS://Example.COM:443/a%7eb%2f?q=1#f",
                "https://example.com/a~b%2F",
            ),
            ("http://h:8080", "http://h:8080/"),
            ("https://h:00080/x", "https://h:80/x"),
            ("http://h:0/", "http://h:0/"),
            ("https://1.2.3.4/p", "https://1.2.3.4/p"),
            (
                "https://[2001:DB8::1]:8443/p",
                "https://[2001:db8::1]:8443/p",
            ),
            ("https://h/a\"<>^`b", "https://h/a%22%3C%3E%5E%60b"),
            ("https://h/[x]", "https://h/%5Bx%5D"),
            ("https://h/!$&'()*+,;=:@", "https://h/!$&'()*+,;=:@"),
            ("https://h/%c3%bc", "https://h/%C3%BC"),
            ("https://h/%00", "https://h/%00"),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize_htu(input).as_deref(), Ok(*expected), "{input}");
        }
    }

    fn path_strategy() -> impl Strategy<Value = Vec<String>> {
        proptest::collection::vec(
            prop_oneof![
                "[A-Za-z0-9._~-]",
                Just("/".into()),
                Just("%2F".into()),
                Just("%2f".into()),
                Just("%41".into()),
                Just("%7e".into()),
                Just("{".into()),
                Just("!".into()),
                Just(":".into()),
            ],
            0..12,
        )
    }

    fn url_strategy() -> impl Strategy<Value = (String, String, Option<u16>, Vec<String>)> {
        (
            prop_oneof![Just("http"), Just("https"), Just("HTTPS"), Just("hTtP")],
            "[a-zA-Z0-9-]{1,10}(\\.[a-zA-Z0-9-]{1,10}){0,2}",
            proptest::option::of(any::<u16>()),
            path_strategy(),
        )
            .prop_map(|(s, h, p, path)| (s.into(), h, p, path))
    }

    fn build(scheme: &str, host: &str, port: Option<u16>, parts: &[String]) -> String {
        let path = format!("/{}", parts.concat());
        match port {
            Some(p) => format!("{scheme}://{host}:{p}{path}"),
            None => format!("{scheme}://{host}{path}"),
        }
    }

    /// Percent-encodes every single-character unreserved part selected by `mask`.
    fn encode_unreserved(parts: &[String], mask: &[bool]) -> Vec<String> {
        parts
            .iter()
            .enumerate()
            .map(|(i, part)| match part.as_bytes() {
                [b] if is_unreserved(*b) && mask.get(i).copied().unwrap_or(false) => {
                    format!("%{b:02x}")
                }
                _ => part.clone(),
            })
            .collect()
    }

    proptest! {
        #[test]
        fn htu_never_panics(s in any::<String>()) {
            let _ = normalize_htu(&s);
        }

        #[test]
        fn htu_never_panics_on_url_like(s in "(https?|HTTP|ws)://[ -~]{0,40}") {
            if let Ok(n) = normalize_htu(&s) {
                prop_assert_eq!(normalize_htu(&n), Ok(n.clone()));
            }
        }

        #[test]
        fn htu_is_idempotent((scheme, host, port, path) in url_strategy()) {
            let n = normalize_htu(&build(&scheme, &host, port, &path)).unwrap();
            prop_assert_eq!(normalize_htu(&n), Ok(n.clone()));
        }

        #[test]
        fn htu_ignores_query_fragment_default_port_and_unreserved_encoding(
            (scheme, host, port, path) in url_strategy(),
            query in "[A-Za-z0-9=&%/?]{0,12}",
            fragment in "[A-Za-z0-9=&%/?#]{0,12}",
            mask in proptest::collection::vec(any::<bool>(), 0..40),
        ) {
            let base = normalize_htu(&build(&scheme, &host, port, &path)).unwrap();
            let with_extras = format!("{}?{query}#{fragment}", build(&scheme, &host, port, &path));
            prop_assert_eq!(normalize_htu(&with_extras), Ok(base.clone()));
            let encoded = build(&scheme, &host, port, &encode_unreserved(&path, &mask));
            prop_assert_eq!(normalize_htu(&encoded), Ok(base.clone()));
            if port.is_none() {
                let default = if scheme.eq_ignore_ascii_case("https") { 443 } else { 80 };
                let explicit = build(&scheme, &host, Some(default), &path);
                prop_assert_eq!(normalize_htu(&explicit), Ok(base.clone()));
            }
        }
    }

    type SchemeRow<'a> = (
        DpopMode,
        Option<&'a str>,
        DpopParams,
        Result<Scheme, DpopError>,
    );
    type CnfRow<'a> = (Option<Value>, Result<Option<&'a str>, DpopError>);
    type BindingRow<'a> = (
        DpopMode,
        Scheme,
        bool,
        &'a Option<Value>,
        Result<Binding<'a>, DpopError>,
    );

    // --- scheme rules -------------------------------------------------------------------

    #[test]
    fn scheme_rules_table() {
        use DpopError::{
            DpopParamsWithoutScheme as ParamsNoScheme, SchemeNotAllowed as NotAllowed,
        };
        use DpopMode::{Allowed, Disabled, Required};
        let none = DpopParams::default();
        let proof = DpopParams {
            proof: true,
            ..none
        };
        let method = DpopParams {
            method: true,
            ..none
        };
        let url = DpopParams { url: true, ..none };
        let url_mcd = DpopParams {
            url: true,
            uses_domains: true,
            ..none
        };
        let cases: &[SchemeRow<'_>] = &[
            (Allowed, None, none, Ok(Scheme::Bearer)),
            (Allowed, Some("Bearer"), none, Ok(Scheme::Bearer)),
            (Allowed, Some("bEARER"), proof, Ok(Scheme::Bearer)),
            (Allowed, Some("DPoP"), proof, Ok(Scheme::DPoP)),
            (Allowed, Some("dpop"), none, Ok(Scheme::DPoP)),
            (Allowed, Some("Basic"), none, Err(NotAllowed)),
            (Allowed, Some(""), none, Err(NotAllowed)),
            (Allowed, Some(" dpop"), none, Err(NotAllowed)),
            (Allowed, None, proof, Err(ParamsNoScheme)),
            (Allowed, None, method, Err(ParamsNoScheme)),
            (Allowed, None, url, Err(ParamsNoScheme)),
            (Allowed, None, url_mcd, Ok(Scheme::Bearer)),
            (Required, Some("DPOP"), proof, Ok(Scheme::DPoP)),
            (Required, Some("dpop"), none, Ok(Scheme::DPoP)),
            (Required, None, none, Err(NotAllowed)),
            (Required, None, proof, Err(NotAllowed)),
            (Required, Some("Bearer"), proof, Err(NotAllowed)),
            (Required, Some("Basic"), none, Err(NotAllowed)),
            (Disabled, None, none, Ok(Scheme::Bearer)),
            (Disabled, Some("BEARER"), none, Ok(Scheme::Bearer)),
            (Disabled, None, proof, Ok(Scheme::Bearer)),
            (Disabled, Some("Bearer"), proof, Ok(Scheme::Bearer)),
            (Disabled, Some("DPoP"), proof, Err(NotAllowed)),
            (Disabled, Some("Basic"), none, Err(NotAllowed)),
        ];
        for (i, (mode, scheme, params, expected)) in cases.iter().enumerate() {
            let got = check_scheme(*mode, *scheme, *params);
            assert_eq!(got, *expected, "row {i}: {mode:?} {scheme:?} {params:?}");
            if let Err(e) = got {
                assert_eq!(e.code(), DpopErrorCode::InvalidRequest, "row {i}");
                assert!(!e.challenge_has_error(), "row {i}");
            }
        }
    }

    // --- binding ------------------------------------------------------------------------

    #[test]
    fn cnf_fails_closed() {
        let cases: &[CnfRow<'_>] = &[
            (None, Ok(None)),
            (Some(json!({})), Ok(None)),
            (Some(json!({"x5t#S256": "abc"})), Ok(None)),
            (Some(json!({"jkt": "abc"})), Ok(Some("abc"))),
            (Some(json!({"jkt": ""})), Err(DpopError::InvalidBinding)),
            (Some(json!({"jkt": 1})), Err(DpopError::InvalidBinding)),
            (Some(json!({"jkt": null})), Err(DpopError::InvalidBinding)),
            (
                Some(json!({"jkt": ["abc"]})),
                Err(DpopError::InvalidBinding),
            ),
            (Some(json!("abc")), Err(DpopError::InvalidBinding)),
            (Some(json!(null)), Err(DpopError::InvalidBinding)),
            (Some(json!(["abc"])), Err(DpopError::InvalidBinding)),
        ];
        for (cnf, expected) in cases {
            assert_eq!(cnf_jkt(cnf.as_ref()), *expected, "{cnf:?}");
        }
    }

    /// T-67 (binding part): mode x scheme x proof x token.
    #[test]
    fn binding_matrix() {
        use DpopMode::{Allowed, Disabled, Required};
        use Scheme::{Bearer, DPoP as Dpop};
        let bound = Some(json!({"jkt": "thumb"}));
        let unbound: Option<Value> = None;
        let bad = Some(json!({"jkt": 7}));
        let ok_proof = Ok(Binding::Proof { jkt: "thumb" });
        let cases: &[BindingRow<'_>] = &[
            (Allowed, Bearer, false, &unbound, Ok(Binding::Bearer)),
            (
                Allowed,
                Bearer,
                true,
                &unbound,
                Err(DpopError::BearerWithProof),
            ),
            (
                Allowed,
                Bearer,
                false,
                &bound,
                Err(DpopError::BoundTokenAsBearer),
            ),
            (
                Allowed,
                Bearer,
                true,
                &bound,
                Err(DpopError::BoundTokenAsBearer),
            ),
            (
                Allowed,
                Dpop,
                false,
                &unbound,
                Err(DpopError::DpopWithoutBinding),
            ),
            (
                Allowed,
                Dpop,
                true,
                &unbound,
                Err(DpopError::DpopWithoutBinding),
            ),
            (Allowed, Dpop, true, &bound, ok_proof.clone()),
            (Allowed, Dpop, false, &bound, ok_proof.clone()),
            (Allowed, Bearer, false, &bad, Err(DpopError::InvalidBinding)),
            (Allowed, Dpop, true, &bad, Err(DpopError::InvalidBinding)),
            (Required, Dpop, true, &bound, ok_proof.clone()),
            (Required, Dpop, false, &bound, ok_proof.clone()),
            (
                Required,
                Dpop,
                true,
                &unbound,
                Err(DpopError::DpopWithoutBinding),
            ),
            (Required, Dpop, true, &bad, Err(DpopError::InvalidBinding)),
            (
                Required,
                Bearer,
                false,
                &bound,
                Err(DpopError::SchemeNotAllowed),
            ),
            (Disabled, Bearer, false, &unbound, Ok(Binding::Bearer)),
            (Disabled, Bearer, true, &unbound, Ok(Binding::Bearer)),
            (Disabled, Bearer, false, &bound, Ok(Binding::Bearer)),
            (Disabled, Bearer, true, &bound, Ok(Binding::Bearer)),
            (Disabled, Bearer, false, &bad, Ok(Binding::Bearer)),
            (
                Disabled,
                Dpop,
                true,
                &bound,
                Err(DpopError::SchemeNotAllowed),
            ),
        ];
        for (i, (mode, scheme, proof, cnf, expected)) in cases.iter().enumerate() {
            assert_eq!(
                check_binding(*mode, *scheme, *proof, cnf.as_ref()),
                *expected,
                "row {i}"
            );
        }
    }

    #[test]
    fn error_codes_and_targets() {
        use DpopErrorCode::{InvalidRequest as Req, InvalidToken as Tok};
        let cases: Vec<(DpopError, DpopErrorCode, bool)> = alloc::vec![
            (DpopError::BearerWithProof, Req, false),
            (DpopError::BoundTokenAsBearer, Tok, false),
            (DpopError::DpopWithoutBinding, Tok, true),
            (DpopError::InvalidBinding, Tok, false),
            (DpopError::MissingProof, Req, true),
            (DpopError::MissingMethod, Req, true),
            (DpopError::MissingUrl, Req, true),
            (DpopError::InvalidRequestUrl(UrlError::Scheme), Req, true),
            (
                DpopError::MultipleProofs,
                DpopErrorCode::InvalidDpopProof,
                true
            ),
        ];
        for (e, code, specific) in cases {
            assert_eq!(e.code(), code, "{e:?}");
            assert_eq!(e.is_dpop_specific(), specific, "{e:?}");
            let text = format!("{e}");
            assert!(!text.is_empty() && !text.ends_with('.'), "{text}");
            assert_eq!(text, text.to_lowercase(), "{text}");
        }
        assert_eq!(
            DpopErrorCode::InvalidDpopProof.as_str(),
            "invalid_dpop_proof"
        );
    }

    // --- proof verification -------------------------------------------------------------

    mod proof {
        use alloc::string::ToString;
        use alloc::vec;

        use p256::ecdsa::{Signature, SigningKey};
        use signature::Signer as _;

        use super::*;
        use crate::jose::json::JsonError;

        const NOW: u64 = 1_700_000_000;
        const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";
        const URL: &str = "https://api.example.com/orders";

        fn b64(bytes: &[u8]) -> String {
            URL_SAFE_NO_PAD.encode(bytes)
        }

        fn key(seed: u8) -> SigningKey {
            SigningKey::from_slice(&[seed; 32]).unwrap()
        }

        fn public_jwk(key: &SigningKey) -> Value {
            let point = key.verifying_key().to_sec1_point(false);
            let bytes = point.as_bytes();
            json!({"kty": "EC", "crv": "P-256", "x": b64(&bytes[1..33]), "y": b64(&bytes[33..65])})
        }

        fn jkt_of(key: &SigningKey) -> String {
            let members = public_jwk(key);
            Jwk::from_members(members.as_object().unwrap(), &RUST_CRYPTO)
                .unwrap()
                .thumbprint()
        }

        /// Test-only signer: a compact ES256 JWS over the given JSON texts (64-byte r || s).
        fn sign_raw(header: &str, payload: &str, key: &SigningKey) -> String {
            let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
            let signature: Signature = key.sign(input.as_bytes());
            format!("{input}.{}", b64(&signature.to_bytes()))
        }

        fn sign(header: &Value, payload: &Value, key: &SigningKey) -> String {
            sign_raw(&header.to_string(), &payload.to_string(), key)
        }

        fn header(key: &SigningKey) -> Value {
            json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": public_jwk(key)})
        }

        fn payload() -> Value {
            json!({
                "jti": "id-1",
                "htm": "GET",
                "htu": URL,
                "iat": NOW,
                "ath": access_token_hash(TOKEN),
            })
        }

        fn input<'a>(proof: &'a str, jkt: &'a str) -> ProofInput<'a> {
            ProofInput::new(
                Some(proof),
                TOKEN,
                jkt,
                Some("GET"),
                Some(URL),
                UnixTime::from_secs(NOW),
            )
        }

        /// Verifies a proof with `header` and `payload` signed by key 1, bound to key 1.
        fn check(header: &Value, payload: &Value) -> Result<VerifiedProof, DpopError> {
            let k = key(1);
            let proof = sign(header, payload, &k);
            verify_proof(&input(&proof, &jkt_of(&k)), None)
        }

        fn with(mut value: Value, name: &str, member: Value) -> Value {
            value.as_object_mut().unwrap().insert(name.into(), member);
            value
        }

        fn without(mut value: Value, name: &str) -> Value {
            value.as_object_mut().unwrap().remove(name);
            value
        }

        fn rfc_vector() -> Value {
            let path = format!(
                "{}/../tests/vectors/rfc/rfc9449_dpop.json",
                env!("CARGO_MANIFEST_DIR")
            );
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
        }

        #[test]
        fn fresh_proof_is_accepted() {
            let k = key(1);
            let verified = check(&header(&k), &payload()).unwrap();
            assert_eq!(verified.jti, "id-1");
            assert_eq!(verified.iat, UnixTime::from_secs(NOW));
            assert_eq!(verified.jkt, jkt_of(&k));
            assert_eq!(verified.htu, URL);
        }

        /// T-57: RFC 9449 figure 13, and one mutation at a time.
        #[test]
        fn rfc9449_figure_13() {
            let v = rfc_vector();
            let fig13 = v["proofs"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["figure"].as_str().unwrap().starts_with("13"))
                .unwrap();
            let proof = fig13["dpop"].as_str().unwrap();
            let token = v["access_token"].as_str().unwrap();
            let jkt = v["jkt"].as_str().unwrap();
            let method = fig13["request"]["method"].as_str().unwrap();
            let url = fig13["request"]["url"].as_str().unwrap();
            let iat = fig13["now"].as_u64().unwrap();
            assert_eq!(access_token_hash(token), v["ath"].as_str().unwrap());
            let base = ProofInput::new(
                Some(proof),
                token,
                jkt,
                Some(method),
                Some(url),
                UnixTime::from_secs(iat),
            );
            let verified = verify_proof(&base, None).unwrap();
            // T-68: the RFC jkt is reproduced from the embedded jwk.
            assert_eq!(verified.jkt, jkt);
            assert_eq!(verified.jti, "e1j3V_bKic8-LAEB");

            let mut token_bytes = token.as_bytes().to_vec();
            token_bytes[0] ^= 1;
            let other_token = String::from_utf8(token_bytes).unwrap();
            let other_jkt = jkt_of(&key(9));
            let at = |secs: u64| ProofInput {
                now: UnixTime::from_secs(secs),
                ..base
            };
            let cases: Vec<(&str, ProofInput<'_>, Result<(), DpopError>)> = vec![
                ("iat + offset", at(iat + 300), Ok(())),
                ("iat - leeway", at(iat - 30), Ok(())),
                (
                    "url with query",
                    ProofInput {
                        url: Some("https://resource.example.org/protectedresource?a=1"),
                        ..base
                    },
                    Ok(()),
                ),
                (
                    "method lower case",
                    ProofInput {
                        method: Some("get"),
                        ..base
                    },
                    Ok(()),
                ),
                (
                    "access token",
                    ProofInput {
                        access_token: &other_token,
                        ..base
                    },
                    Err(DpopError::AthMismatch),
                ),
                (
                    "method",
                    ProofInput {
                        method: Some("POST"),
                        ..base
                    },
                    Err(DpopError::HtmMismatch),
                ),
                (
                    "scheme",
                    ProofInput {
                        url: Some("http://resource.example.org/protectedresource"),
                        ..base
                    },
                    Err(DpopError::HtuMismatch),
                ),
                (
                    "host",
                    ProofInput {
                        url: Some("https://server.example.org/protectedresource"),
                        ..base
                    },
                    Err(DpopError::HtuMismatch),
                ),
                (
                    "port",
                    ProofInput {
                        url: Some("https://resource.example.org:8443/protectedresource"),
                        ..base
                    },
                    Err(DpopError::HtuMismatch),
                ),
                (
                    "path",
                    ProofInput {
                        url: Some("https://resource.example.org/protectedresource/"),
                        ..base
                    },
                    Err(DpopError::HtuMismatch),
                ),
                ("too old", at(iat + 301), Err(DpopError::IatOutOfWindow)),
                ("too new", at(iat - 31), Err(DpopError::IatOutOfWindow)),
                (
                    "jkt",
                    ProofInput {
                        jkt: &other_jkt,
                        ..base
                    },
                    Err(DpopError::JktMismatch),
                ),
                (
                    "offset 0",
                    ProofInput {
                        now: UnixTime::from_secs(iat + 1),
                        iat_offset: Duration::ZERO,
                        ..base
                    },
                    Err(DpopError::IatOutOfWindow),
                ),
            ];
            for (name, input, expected) in cases {
                assert_eq!(verify_proof(&input, None).map(|_| ()), expected, "{name}");
            }
            // A flipped signature character breaks the signature.
            let mut tampered = proof.as_bytes().to_vec();
            let i = tampered.len() - 20;
            tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(tampered).unwrap();
            let input = ProofInput {
                proof: Some(&tampered),
                ..base
            };
            assert_eq!(verify_proof(&input, None), Err(DpopError::InvalidSignature));
        }

        /// The token-endpoint proofs of figures 2 and 7 carry no `ath`: refused here.
        #[test]
        fn rfc9449_token_endpoint_proofs_are_refused_at_a_resource() {
            let v = rfc_vector();
            for p in v["proofs"].as_array().unwrap() {
                if p["payload"].get("ath").is_some() {
                    continue;
                }
                let input = ProofInput::new(
                    p["dpop"].as_str(),
                    v["access_token"].as_str().unwrap(),
                    v["jkt"].as_str().unwrap(),
                    p["request"]["method"].as_str(),
                    p["request"]["url"].as_str(),
                    UnixTime::from_secs(p["now"].as_u64().unwrap()),
                );
                assert_eq!(
                    verify_proof(&input, None),
                    Err(DpopError::MissingClaim("ath")),
                    "figure {}",
                    p["figure"]
                );
            }
        }

        /// T-24, T-62: request-level checks.
        #[test]
        fn request_checks() {
            let k = key(1);
            let jkt = jkt_of(&k);
            let proof = sign(&header(&k), &payload(), &k);
            let two = format!("{proof},{proof}");
            let two_spaced = format!("{proof}, {proof}");
            let big = "a".repeat(16 * 1024 + 1);
            let base = input(&proof, &jkt);
            let cases: Vec<(&str, ProofInput<'_>, DpopError)> = vec![
                (
                    "no proof",
                    ProofInput {
                        proof: None,
                        ..base
                    },
                    DpopError::MissingProof,
                ),
                (
                    "empty proof",
                    ProofInput {
                        proof: Some(""),
                        ..base
                    },
                    DpopError::MissingProof,
                ),
                (
                    "two proofs",
                    ProofInput {
                        proof: Some(&two),
                        ..base
                    },
                    DpopError::MultipleProofs,
                ),
                (
                    "two proofs, spaced",
                    ProofInput {
                        proof: Some(&two_spaced),
                        ..base
                    },
                    DpopError::MultipleProofs,
                ),
                (
                    "no method",
                    ProofInput {
                        method: None,
                        ..base
                    },
                    DpopError::MissingMethod,
                ),
                (
                    "empty method",
                    ProofInput {
                        method: Some(""),
                        ..base
                    },
                    DpopError::MissingMethod,
                ),
                (
                    "no url",
                    ProofInput { url: None, ..base },
                    DpopError::MissingUrl,
                ),
                (
                    "bad url",
                    ProofInput {
                        url: Some("ftp://h/"),
                        ..base
                    },
                    DpopError::InvalidRequestUrl(UrlError::Scheme),
                ),
                (
                    "too large",
                    ProofInput {
                        proof: Some(&big),
                        ..base
                    },
                    DpopError::ProofTooLarge,
                ),
                (
                    "smaller limit",
                    ProofInput {
                        limits: Limits {
                            max_token_len: 10,
                            ..Limits::default()
                        },
                        ..base
                    },
                    DpopError::ProofTooLarge,
                ),
                (
                    "one segment",
                    ProofInput {
                        proof: Some("abc"),
                        ..base
                    },
                    DpopError::InvalidProofSyntax(JoseError::SegmentCount),
                ),
                (
                    "two segments",
                    ProofInput {
                        proof: Some("a.b"),
                        ..base
                    },
                    DpopError::InvalidProofSyntax(JoseError::SegmentCount),
                ),
                (
                    "four segments",
                    ProofInput {
                        proof: Some("a.b.c.d"),
                        ..base
                    },
                    DpopError::InvalidProofSyntax(JoseError::SegmentCount),
                ),
                (
                    "json serialization",
                    ProofInput {
                        proof: Some("{\"payload\":\"\"}"),
                        ..base
                    },
                    DpopError::InvalidProofSyntax(JoseError::JsonSerialization),
                ),
            ];
            for (name, input, expected) in cases {
                let got = verify_proof(&input, None);
                assert_eq!(got, Err(expected), "{name}");
            }
            let four = format!("{proof}.");
            let got = verify_proof(
                &ProofInput {
                    proof: Some(&four),
                    ..base
                },
                None,
            );
            assert_eq!(
                got,
                Err(DpopError::InvalidProofSyntax(JoseError::SegmentCount))
            );
        }

        /// T-37: `typ` handling, pinned.
        #[test]
        fn typ_variants() {
            let k = key(1);
            let cases: &[(Option<Value>, bool)] = &[
                (Some(json!("dpop+jwt")), true),
                (Some(json!("DPOP+JWT")), true),
                (Some(json!("application/dpop+jwt")), true),
                (Some(json!("Application/DPoP+JWT")), true),
                (None, false),
                (Some(json!("JWT")), false),
                (Some(json!("at+jwt")), false),
                (Some(json!("jwt")), false),
                (Some(json!("dpop+jwt; charset=utf-8")), false),
                (Some(json!(" dpop+jwt")), false),
                (Some(json!("application/")), false),
                (Some(json!("application/at+jwt")), false),
                (Some(json!("dpop")), false),
            ];
            for (typ, accepted) in cases {
                let h = match typ {
                    Some(t) => with(header(&k), "typ", t.clone()),
                    None => without(header(&k), "typ"),
                };
                let got = check(&h, &payload());
                if *accepted {
                    assert!(got.is_ok(), "{typ:?}: {got:?}");
                } else {
                    assert_eq!(got, Err(DpopError::InvalidTyp), "{typ:?}");
                }
            }
            // A non-string typ is a malformed header.
            let got = check(&with(header(&k), "typ", json!(1)), &payload());
            assert!(
                matches!(got, Err(DpopError::InvalidProofSyntax(_))),
                "{got:?}"
            );
        }

        /// T-58: algorithms and keys.
        #[test]
        fn alg_and_jwk() {
            let k = key(1);
            let jwk = public_jwk(&k);
            for alg in [
                "RS256", "HS256", "none", "ES384", "ES512", "PS256", "EdDSA", "es256",
            ] {
                let got = check(&with(header(&k), "alg", json!(alg)), &payload());
                assert_eq!(got, Err(DpopError::UnsupportedAlg), "{alg}");
            }
            assert_eq!(
                check(&without(header(&k), "alg"), &payload()),
                Err(DpopError::UnsupportedAlg)
            );

            let mut off_curve = jwk.clone();
            off_curve["y"] = json!(b64(&[7u8; 32]));
            let mut long_x = jwk.clone();
            let mut x = vec![0u8];
            x.extend(URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap());
            long_x["x"] = json!(b64(&x));
            let mut short_y = jwk.clone();
            short_y["y"] = json!(b64(&[1u8; 31]));
            let rejected: Vec<(&str, Value, DpopError)> = vec![
                (
                    "with d",
                    with(jwk.clone(), "d", json!(b64(&[1u8; 32]))),
                    DpopError::InvalidJwk(JoseError::PrivateKeyMaterial),
                ),
                (
                    "kty oct",
                    json!({"kty": "oct", "k": "AAAA"}),
                    DpopError::InvalidJwk(JoseError::PrivateKeyMaterial),
                ),
                (
                    "kty oct without k",
                    json!({"kty": "oct"}),
                    DpopError::InvalidJwk(JoseError::InvalidKey("kty")),
                ),
                (
                    "kty RSA",
                    json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"}),
                    DpopError::InvalidJwk(JoseError::KeySize),
                ),
                (
                    "curve P-384",
                    with(jwk.clone(), "crv", json!("P-384")),
                    // With ES384 compiled in, P-384 is known and the P-256-sized x is wrong.
                    DpopError::InvalidJwk(JoseError::InvalidKey(if cfg!(feature = "es384") {
                        "x"
                    } else {
                        "crv"
                    })),
                ),
                (
                    "secp256k1",
                    with(jwk.clone(), "crv", json!("secp256k1")),
                    DpopError::InvalidJwk(JoseError::InvalidKey("crv")),
                ),
                (
                    "off curve",
                    off_curve,
                    DpopError::InvalidJwk(JoseError::InvalidKey("x")),
                ),
                (
                    "33-octet x",
                    long_x,
                    DpopError::InvalidJwk(JoseError::InvalidKey("x")),
                ),
                (
                    "31-octet y",
                    short_y,
                    DpopError::InvalidJwk(JoseError::InvalidKey("y")),
                ),
                (
                    "use enc",
                    with(jwk.clone(), "use", json!("enc")),
                    DpopError::InvalidJwk(JoseError::KeyAlgorithmMismatch),
                ),
                (
                    "alg RS256",
                    with(jwk.clone(), "alg", json!("RS256")),
                    DpopError::InvalidJwk(JoseError::KeyAlgorithmMismatch),
                ),
            ];
            for (name, jwk, expected) in rejected {
                let got = check(&with(header(&k), "jwk", jwk), &payload());
                match (&got, &expected) {
                    // The exact member named for an off-curve point is the JOSE layer's choice.
                    (Err(DpopError::InvalidJwk(_)), DpopError::InvalidJwk(_))
                        if name == "off curve" || name == "kty RSA" => {}
                    _ => assert_eq!(got, Err(expected), "{name}"),
                }
            }
            assert_eq!(
                check(&without(header(&k), "jwk"), &payload()),
                Err(DpopError::MissingJwk)
            );
            let got = check(&with(header(&k), "jwk", json!("key")), &payload());
            assert!(
                matches!(got, Err(DpopError::InvalidProofSyntax(_))),
                "{got:?}"
            );

            // Extra members are allowed and do not change the thumbprint (T-68).
            let extra = with(
                with(with(jwk.clone(), "kid", json!("k1")), "use", json!("sig")),
                "alg",
                json!("ES256"),
            );
            let verified = check(&with(header(&k), "jwk", extra), &payload()).unwrap();
            assert_eq!(verified.jkt, jkt_of(&k));

            // Signed by another key than the embedded one.
            let proof = sign(&header(&k), &payload(), &key(2));
            let got = verify_proof(&input(&proof, &jkt_of(&k)), None);
            assert_eq!(got, Err(DpopError::InvalidSignature));
            // Embedded key 2, signed by key 2, token bound to key 1.
            let proof = sign(&header(&key(2)), &payload(), &key(2));
            let got = verify_proof(&input(&proof, &jkt_of(&k)), None);
            assert_eq!(got, Err(DpopError::JktMismatch));
        }

        /// T-68: member order and white space of the proof `jwk` do not change the thumbprint.
        #[test]
        fn thumbprint_ignores_member_order_and_whitespace() {
            let k = key(3);
            let jwk = public_jwk(&k);
            let (x, y) = (jwk["x"].as_str().unwrap(), jwk["y"].as_str().unwrap());
            let header = format!(
                "{{ \"jwk\" : {{ \"y\":\"{y}\" , \"x\": \"{x}\",\n\"crv\":\"P-256\",\"kty\":\"EC\"}},\
                 \"alg\":\"ES256\", \"typ\":\"dpop+jwt\" }}"
            );
            let proof = sign_raw(&header, &payload().to_string(), &k);
            let verified = verify_proof(&input(&proof, &jkt_of(&k)), None).unwrap();
            assert_eq!(verified.jkt, jkt_of(&k));
        }

        /// T-59: `jti`.
        #[test]
        fn jti_rules() {
            let k = key(1);
            let long = "j".repeat(MAX_JTI_LEN + 1);
            let at_cap = "j".repeat(MAX_JTI_LEN);
            let cases: Vec<(Option<Value>, bool)> = vec![
                (None, false),
                (Some(json!("")), false),
                (Some(json!(5)), false),
                (Some(json!(null)), false),
                (Some(json!(["a"])), false),
                (Some(json!(long)), false),
                (Some(json!(at_cap)), true),
                (Some(json!("x")), true),
            ];
            for (jti, accepted) in cases {
                let p = match &jti {
                    Some(j) => with(payload(), "jti", j.clone()),
                    None => without(payload(), "jti"),
                };
                let got = check(&header(&k), &p);
                assert_eq!(got.is_ok(), accepted, "{jti:?}: {got:?}");
                if !accepted {
                    assert_eq!(got, Err(DpopError::InvalidJti), "{jti:?}");
                }
            }
        }

        /// RFC 7519 sections 4.1.4 and 4.1.5 on the proof: `exp` and `nbf` are enforced when
        /// present, compared exactly.
        #[test]
        fn proof_exp_and_nbf() {
            let k = key(1);
            let now = NOW as f64;
            let cases: Vec<(&str, &str, Value, Result<(), DpopError>)> = vec![
                ("exp", "later", json!(NOW + 60), Ok(())),
                ("exp", "half a second later", json!(now + 0.5), Ok(())),
                ("exp", "now", json!(NOW), Err(DpopError::ProofExpired)),
                ("exp", "past", json!(NOW - 1), Err(DpopError::ProofExpired)),
                ("exp", "negative", json!(-5), Err(DpopError::ProofExpired)),
                (
                    "exp",
                    "string",
                    json!("9999999999"),
                    Err(DpopError::InvalidTimeClaim("exp")),
                ),
                (
                    "exp",
                    "null",
                    json!(null),
                    Err(DpopError::InvalidTimeClaim("exp")),
                ),
                (
                    "exp",
                    "2^64",
                    json!(18_446_744_073_709_551_616.0_f64),
                    Err(DpopError::InvalidTimeClaim("exp")),
                ),
                ("nbf", "now", json!(NOW), Ok(())),
                ("nbf", "past", json!(NOW - 60), Ok(())),
                ("nbf", "negative", json!(-1), Ok(())),
                (
                    "nbf",
                    "half a second later",
                    json!(now + 0.5),
                    Err(DpopError::ProofNotYetValid),
                ),
                (
                    "nbf",
                    "later",
                    json!(NOW + 10),
                    Err(DpopError::ProofNotYetValid),
                ),
                (
                    "nbf",
                    "bool",
                    json!(true),
                    Err(DpopError::InvalidTimeClaim("nbf")),
                ),
            ];
            for (name, case, value, expected) in cases {
                let got = check(&header(&k), &with(payload(), name, value)).map(|_| ());
                assert_eq!(got, expected, "{name} {case}");
                if let Err(e) = got {
                    assert_eq!(e.code(), DpopErrorCode::InvalidDpopProof);
                }
            }
        }

        /// T-60: `iat` odd types and values.
        #[test]
        fn iat_rules() {
            let k = key(1);
            let cases: Vec<(&str, Option<Value>, Result<u64, DpopError>)> = vec![
                ("now", Some(json!(NOW)), Ok(NOW)),
                ("oldest", Some(json!(NOW - 300)), Ok(NOW - 300)),
                ("newest", Some(json!(NOW + 30)), Ok(NOW + 30)),
                // Fractions are compared exactly; the verified `iat` is floored.
                (
                    "half a second past the leeway",
                    Some(json!(NOW as f64 + 30.5)),
                    Err(DpopError::IatOutOfWindow),
                ),
                ("fraction", Some(json!(NOW as f64 - 0.5)), Ok(NOW - 1)),
                (
                    "fraction inside the oldest second",
                    Some(json!(NOW as f64 - 299.5)),
                    Ok(NOW - 300),
                ),
                ("integral float", Some(json!(NOW as f64)), Ok(NOW)),
                (
                    "too old",
                    Some(json!(NOW - 301)),
                    Err(DpopError::IatOutOfWindow),
                ),
                (
                    "too new",
                    Some(json!(NOW + 31)),
                    Err(DpopError::IatOutOfWindow),
                ),
                ("negative", Some(json!(-1)), Err(DpopError::IatOutOfWindow)),
                (
                    "negative float",
                    Some(json!(-0.5)),
                    Err(DpopError::IatOutOfWindow),
                ),
                ("zero", Some(json!(0)), Err(DpopError::IatOutOfWindow)),
                (
                    "u64 max",
                    Some(json!(u64::MAX)),
                    Err(DpopError::IatOutOfWindow),
                ),
                (
                    "huge float",
                    Some(json!(1e300)),
                    Err(DpopError::IatOutOfWindow),
                ),
                (
                    "2^64",
                    Some(json!(18_446_744_073_709_551_616.0_f64)),
                    Err(DpopError::IatOutOfWindow),
                ),
                (
                    "string",
                    Some(json!("1700000000")),
                    Err(DpopError::InvalidIat),
                ),
                ("bool", Some(json!(true)), Err(DpopError::InvalidIat)),
                ("null", Some(json!(null)), Err(DpopError::InvalidIat)),
                ("object", Some(json!({})), Err(DpopError::InvalidIat)),
                ("missing", None, Err(DpopError::InvalidIat)),
            ];
            for (name, iat, expected) in cases {
                let p = match iat {
                    Some(v) => with(payload(), "iat", v),
                    None => without(payload(), "iat"),
                };
                let got = check(&header(&k), &p).map(|v| v.iat.as_secs());
                assert_eq!(got, expected, "{name}");
            }
            // The window saturates: at the epoch and at the end of time nothing overflows.
            for now in [0, u64::MAX] {
                let p = with(payload(), "iat", json!(now));
                let proof = sign(&header(&k), &p, &k);
                let jkt = jkt_of(&k);
                let input = ProofInput {
                    now: UnixTime::from_secs(now),
                    iat_offset: Duration::MAX,
                    iat_leeway: Duration::MAX,
                    ..input(&proof, &jkt)
                };
                assert!(verify_proof(&input, None).is_ok(), "now {now}");
            }
        }

        /// T-61 and the remaining claims.
        #[test]
        fn htm_htu_ath() {
            let k = key(1);
            let cases: Vec<(&str, &str, Value, Result<(), DpopError>)> = vec![
                ("htm lower case", "htm", json!("get"), Ok(())),
                ("htm mixed case", "htm", json!("gEt"), Ok(())),
                (
                    "htm other",
                    "htm",
                    json!("POST"),
                    Err(DpopError::HtmMismatch),
                ),
                (
                    "htm with space",
                    "htm",
                    json!("GET "),
                    Err(DpopError::HtmMismatch),
                ),
                (
                    "htm number",
                    "htm",
                    json!(1),
                    Err(DpopError::MissingClaim("htm")),
                ),
                (
                    "htu default port",
                    "htu",
                    json!("https://API.example.com:443/orders?x#y"),
                    Ok(()),
                ),
                (
                    "htu encoded",
                    "htu",
                    json!("https://api.example.com/%6Frders"),
                    Ok(()),
                ),
                (
                    "htu other path",
                    "htu",
                    json!("https://api.example.com/orders/1"),
                    Err(DpopError::HtuMismatch),
                ),
                (
                    "htu dot segment",
                    "htu",
                    json!("https://api.example.com/x/../orders"),
                    Err(DpopError::HtuMismatch),
                ),
                (
                    "htu userinfo",
                    "htu",
                    json!("https://u@api.example.com/orders"),
                    Err(DpopError::InvalidHtu(UrlError::Userinfo)),
                ),
                (
                    "htu backslash",
                    "htu",
                    json!("https://api.example.com\\orders"),
                    Err(DpopError::InvalidHtu(UrlError::Character)),
                ),
                (
                    "htu ws",
                    "htu",
                    json!("wss://api.example.com/orders"),
                    Err(DpopError::InvalidHtu(UrlError::Scheme)),
                ),
                (
                    "htu array",
                    "htu",
                    json!([URL]),
                    Err(DpopError::MissingClaim("htu")),
                ),
                (
                    "ath other",
                    "ath",
                    json!(access_token_hash("other")),
                    Err(DpopError::AthMismatch),
                ),
                (
                    "ath padded",
                    "ath",
                    json!(format!("{}=", access_token_hash(TOKEN))),
                    Err(DpopError::AthMismatch),
                ),
                (
                    "ath null",
                    "ath",
                    json!(null),
                    Err(DpopError::MissingClaim("ath")),
                ),
            ];
            for (name, claim, value, expected) in cases {
                let got = check(&header(&k), &with(payload(), claim, value)).map(|_| ());
                assert_eq!(got, expected, "{name}");
            }
            for claim in ["htm", "htu", "ath"] {
                let got = check(&header(&k), &without(payload(), claim));
                assert_eq!(got, Err(DpopError::MissingClaim(claim)), "{claim}");
            }
            // Extra claims, such as a nonce, are ignored.
            assert!(check(&header(&k), &with(payload(), "nonce", json!("n"))).is_ok());
        }

        #[test]
        fn payload_must_be_strict_json() {
            let k = key(1);
            let jkt = jkt_of(&k);
            let h = header(&k).to_string();
            let dup = format!(
                r#"{{"jti":"a","jti":"b","htm":"GET","htu":"{URL}","iat":{NOW},"ath":"{}"}}"#,
                access_token_hash(TOKEN)
            );
            let cases: Vec<(&str, String, JsonError)> = vec![
                ("duplicate", dup, JsonError::DuplicateMember),
                ("array", "[]".into(), JsonError::NotAnObject),
                ("text", "hello".into(), JsonError::Syntax),
                (
                    "deep",
                    format!("{{\"a\":{}{}}}", "[".repeat(40), "]".repeat(40)),
                    JsonError::TooDeep,
                ),
            ];
            for (name, payload, expected) in cases {
                let proof = sign_raw(&h, &payload, &k);
                let got = verify_proof(&input(&proof, &jkt), None);
                assert_eq!(
                    got,
                    Err(DpopError::InvalidProofSyntax(JoseError::PayloadJson(
                        expected
                    ))),
                    "{name}"
                );
            }
        }

        /// T-63, T-64: replay cache on and off.
        #[test]
        fn replay_cache() {
            let k = key(1);
            let jkt = jkt_of(&k);
            let proof = sign(&header(&k), &payload(), &k);
            let same_jti_other_spelling = sign(
                &header(&k),
                &with(
                    payload(),
                    "htu",
                    json!("https://api.example.com:443/orders?page=2"),
                ),
                &k,
            );
            let fresh = sign(&header(&k), &with(payload(), "jti", json!("id-2")), &k);
            let bad_ath = sign(
                &header(&k),
                &with(with(payload(), "jti", json!("id-3")), "ath", json!("x")),
                &k,
            );
            let other_key = key(2);
            let other_key_proof = sign(&header(&other_key), &payload(), &other_key);
            let other_jkt = jkt_of(&other_key);

            // T-64: without a cache the same proof is accepted twice (the documented risk).
            assert!(verify_proof(&input(&proof, &jkt), None).is_ok());
            assert!(verify_proof(&input(&proof, &jkt), None).is_ok());

            let mut cache = ReplayCache::for_window(3, DEFAULT_IAT_OFFSET, DEFAULT_IAT_LEEWAY)
                .with_per_key_quota(3);
            let steps: Vec<(&str, ProofInput<'_>, Result<(), DpopError>)> = vec![
                ("first use", input(&proof, &jkt), Ok(())),
                ("replay", input(&proof, &jkt), Err(DpopError::Replayed)),
                (
                    "same jti, equal htu",
                    input(&same_jti_other_spelling, &jkt),
                    Err(DpopError::Replayed),
                ),
                (
                    "invalid proof does not enter",
                    input(&bad_ath, &jkt),
                    Err(DpopError::AthMismatch),
                ),
                (
                    "same jti, other key",
                    input(&other_key_proof, &other_jkt),
                    Ok(()),
                ),
                ("fresh jti", input(&fresh, &jkt), Ok(())),
                (
                    "invalid proof later",
                    ProofInput {
                        now: UnixTime::from_secs(NOW + 1),
                        ..input(&bad_ath, &jkt)
                    },
                    Err(DpopError::AthMismatch),
                ),
                (
                    "replay just before expiry",
                    ProofInput {
                        now: UnixTime::from_secs(NOW + 300),
                        ..input(&proof, &jkt)
                    },
                    Err(DpopError::Replayed),
                ),
            ];
            for (name, input, expected) in steps {
                assert_eq!(
                    verify_proof(&input, Some(&mut cache)).map(|_| ()),
                    expected,
                    "{name}"
                );
            }
            assert_eq!(cache.len(), 3);
            // Full of live entries: a new valid proof is refused, not an entry forgotten.
            let fourth = sign(&header(&k), &with(payload(), "jti", json!("id-4")), &k);
            let got = verify_proof(&input(&fourth, &jkt), Some(&mut cache));
            assert_eq!(got, Err(DpopError::ReplayCacheFull));
            assert_eq!(got.unwrap_err().code(), DpopErrorCode::InvalidDpopProof);
            assert!(cache.contains(&ReplayKey::new(&jkt, "id-1"), UnixTime::from_secs(NOW)));
        }

        #[test]
        fn proof_error_codes() {
            use DpopErrorCode::{InvalidDpopProof as Proof, InvalidToken as Tok};
            let cases: Vec<(DpopError, DpopErrorCode)> = vec![
                (DpopError::ProofTooLarge, Proof),
                (
                    DpopError::InvalidProofSyntax(JoseError::SegmentCount),
                    Proof,
                ),
                (DpopError::InvalidTyp, Proof),
                (DpopError::UnsupportedAlg, Proof),
                (DpopError::MissingJwk, Proof),
                (DpopError::InvalidJwk(JoseError::PrivateKeyMaterial), Proof),
                (DpopError::InvalidSignature, Proof),
                (DpopError::InvalidJti, Proof),
                (DpopError::InvalidIat, Proof),
                (DpopError::IatOutOfWindow, Proof),
                (DpopError::MissingClaim("ath"), Proof),
                (DpopError::HtmMismatch, Proof),
                (DpopError::InvalidHtu(UrlError::Host), Proof),
                (DpopError::HtuMismatch, Proof),
                (DpopError::AthMismatch, Proof),
                (DpopError::Replayed, Proof),
                (DpopError::ReplayCacheFull, Proof),
                (DpopError::ReplayQuotaExceeded, Proof),
                (DpopError::JktMismatch, Tok),
            ];
            for (e, code) in cases {
                assert_eq!(e.code(), code, "{e:?}");
                assert!(e.is_dpop_specific(), "{e:?}");
                assert!(e.challenge_has_error(), "{e:?}");
                let text = e.to_string();
                assert_eq!(text, text.to_lowercase(), "{text}");
                assert!(!text.ends_with('.'), "{text}");
            }
        }

        #[test]
        fn debug_redacts_secrets() {
            let k = key(1);
            let proof = sign(&header(&k), &payload(), &k);
            let jkt = jkt_of(&k);
            let text = format!("{:?}", input(&proof, &jkt));
            assert!(!text.contains(TOKEN) && !text.contains(&proof), "{text}");
            assert!(text.contains("[redacted]"));
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]

            #[test]
            fn proof_never_panics(proof in any::<String>(), url in any::<String>()) {
                let input = ProofInput::new(Some(&proof), TOKEN, "jkt", Some("GET"), Some(URL), UnixTime::from_secs(NOW));
                let _ = verify_proof(&input, None);
                let input = ProofInput { url: Some(&url), ..input };
                let _ = verify_proof(&input, None);
            }

            #[test]
            fn signed_arbitrary_claims_never_panic(payload in "[ -~]{0,80}", typ in "[a-zA-Z+/]{0,20}") {
                let k = key(1);
                let jkt = jkt_of(&k);
                let h = with(header(&k), "typ", json!(typ));
                let proof = sign_raw(&h.to_string(), &payload, &k);
                let _ = verify_proof(&input(&proof, &jkt), None);
            }
        }
    }
}
