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

use serde_json::Value;

use crate::config::DpopMode;
use crate::jose::JoseError;

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
            | DpopError::MissingClaim(_)
            | DpopError::HtmMismatch
            | DpopError::InvalidHtu(_)
            | DpopError::HtuMismatch
            | DpopError::AthMismatch
            | DpopError::Replayed
            | DpopError::ReplayCacheFull => DpopErrorCode::InvalidDpopProof,
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
            | DpopError::MissingClaim(_)
            | DpopError::HtmMismatch
            | DpopError::InvalidHtu(_)
            | DpopError::HtuMismatch
            | DpopError::AthMismatch
            | DpopError::JktMismatch
            | DpopError::Replayed
            | DpopError::ReplayCacheFull => true,
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

/// An accepted authentication scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `Bearer` (RFC 6750).
    Bearer,
    /// `DPoP` (RFC 9449 section 7.1).
    Dpop,
}

impl Scheme {
    /// The scheme named `name`, compared ignoring ASCII case (RFC 9110 section 11.1); `None`
    /// for any other name.
    pub fn from_name(name: &str) -> Option<Self> {
        if name.eq_ignore_ascii_case("bearer") {
            Some(Scheme::Bearer)
        } else if name.eq_ignore_ascii_case("dpop") {
            Some(Scheme::Dpop)
        } else {
            None
        }
    }

    /// The canonical spelling, as in a challenge.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scheme::Bearer => "Bearer",
            Scheme::Dpop => "DPoP",
        }
    }
}

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
/// assert_eq!(check_scheme(DpopMode::Allowed, Some("dPoP"), none), Ok(Scheme::Dpop));
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
        (DpopMode::Required, Some(Scheme::Dpop)) => Ok(Scheme::Dpop),
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
        (DpopMode::Disabled, Scheme::Dpop) | (DpopMode::Required, Scheme::Bearer) => {
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
        (Scheme::Dpop, None) => Err(DpopError::DpopWithoutBinding),
        (Scheme::Dpop, Some(jkt)) => Ok(Binding::Proof { jkt }),
    }
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

const fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn push_percent_encoded(out: &mut String, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    for nibble in [byte >> 4, byte & 0x0f] {
        out.push(char::from(
            HEX.get(usize::from(nibble)).copied().unwrap_or(b'0'),
        ));
    }
}

/// Appends the normalised path (input is printable ASCII without `\`, `?` or `#`).
fn push_path(out: &mut String, path: &str) -> Result<(), UrlError> {
    let mut bytes = path.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hi = bytes
                .next()
                .and_then(hex_value)
                .ok_or(UrlError::PercentEncoding)?;
            let lo = bytes
                .next()
                .and_then(hex_value)
                .ok_or(UrlError::PercentEncoding)?;
            let decoded = (hi << 4) | lo;
            if is_unreserved(decoded) {
                out.push(char::from(decoded));
            } else {
                push_percent_encoded(out, decoded);
            }
        } else if is_path_char(b) {
            out.push(char::from(b));
        } else {
            push_percent_encoded(out, b);
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
            (Allowed, Some("DPoP"), proof, Ok(Scheme::Dpop)),
            (Allowed, Some("dpop"), none, Ok(Scheme::Dpop)),
            (Allowed, Some("Basic"), none, Err(NotAllowed)),
            (Allowed, Some(""), none, Err(NotAllowed)),
            (Allowed, Some(" dpop"), none, Err(NotAllowed)),
            (Allowed, None, proof, Err(ParamsNoScheme)),
            (Allowed, None, method, Err(ParamsNoScheme)),
            (Allowed, None, url, Err(ParamsNoScheme)),
            (Allowed, None, url_mcd, Ok(Scheme::Bearer)),
            (Required, Some("DPOP"), proof, Ok(Scheme::Dpop)),
            (Required, Some("dpop"), none, Ok(Scheme::Dpop)),
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
        use Scheme::{Bearer, Dpop};
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
}
