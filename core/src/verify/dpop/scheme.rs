//! Scheme rules (before the network) and token binding (after signature and claims).

use serde_json::Value;

use super::error::DpopError;
use crate::config::DpopMode;

/// An accepted authentication scheme: the one token extraction reports.
pub(crate) use crate::extract::AuthScheme as Scheme;

/// Which DPoP-only request parameters a verification received, for [`check_scheme`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct DpopParams {
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
    pub(crate) const fn any(self) -> bool {
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
pub(crate) fn check_scheme(
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
pub(crate) enum Binding<'a> {
    /// Accept the token as a bearer token: no proof is checked.
    Bearer,
    /// Verify the DPoP proof with [`verify_proof`]; its key must have thumbprint `jkt`.
    ///
    /// [`verify_proof`]: super::verify_proof
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
pub(super) fn cnf_jkt(cnf: Option<&Value>) -> Result<Option<&str>, DpopError> {
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
///
/// [`verify_proof`]: super::verify_proof
pub(crate) fn check_binding<'c>(
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
