//! DPoP (RFC 9449): scheme rules, token binding, proof checks and `htu` normalisation.
//!
//! A verification with DPoP goes through three steps, in this order:
//!
//! 1. The scheme rules, before any network request (SPEC section 3, first bullets): which
//!    authentication schemes the [`DpopMode`](crate::DpopMode) accepts, and
//!    DPoP-only request parameters given without an explicit scheme.
//! 2. The token binding, after the access token's signature and claims are verified: the
//!    token's `cnf.jkt` against the scheme and the presence of a proof (RFC 9449 section 7.1
//!    and 7.2). It says whether a proof must be verified, and against which thumbprint.
//! 3. [`verify_proof`], when a proof must be verified: the checks of RFC 9449 section 4.3,
//!    plus `ath` and `jkt` (section 7.1), plus the optional `jti` replay cache
//!    ([`ReplayCache`](crate::cache::ReplayCache), section 11.1).
//!
//! Errors are [`DpopError`]s; [`DpopError::code`] gives the OAuth error code
//! (`invalid_request`, `invalid_token` or `invalid_dpop_proof`) and
//! [`DpopError::is_dpop_specific`] whether the error belongs on the `DPoP` challenge.
//!
//! DPoP nonces (RFC 9449 sections 8, 9 and 11.3) are not supported.
//!
//! The verifier runs all three; [`verify_proof`], [`access_token_hash`] and [`normalize_htu`]
//! are public for callers that check proofs themselves (and for tests).
//!
//! The module's parts, leaves first: `htu` normalisation, the `error` types, the `scheme`
//! rules and token binding, and the `proof` checks.

mod error;
mod htu;
mod proof;
mod scheme;

pub use error::{DpopError, DpopErrorCode};
pub use htu::{MAX_HTU_LEN, UrlError, normalize_htu};
pub use proof::{
    DEFAULT_IAT_LEEWAY, DEFAULT_IAT_OFFSET, MAX_JTI_LEN, ProofInput, VerifiedProof,
    access_token_hash, verify_proof,
};
#[cfg(test)]
use scheme::cnf_jkt;
pub(crate) use scheme::{Binding, DpopParams, Scheme, check_binding, check_scheme};

#[cfg(test)]
mod tests;
