//! Sans-IO verification of OAuth 2 / OpenID Connect access tokens for HTTP APIs, with DPoP
//! (RFC 9449) and token exchange (RFC 8693), for Auth0 and any standards-compliant server.
//!
//! This crate never opens a socket, reads a clock, sleeps, spawns or draws randomness. A
//! network-using operation is a *flow*: a value you drive. It emits descriptions of the HTTP
//! requests it needs ([`HttpRequest`]), consumes the responses you hand it
//! ([`HttpOutcome`]), and takes the current time ([`UnixTime`]) at every step.
//!
//! # Drivers and adapters
//! Most programs do not drive flows by hand. `auth0-api-driver` runs the loop (blocking or
//! async, with shared caches, per-key wake-ups and cancellation); `auth0-api-ureq` and
//! `auth0-api-reqwest` plug an HTTP client into it, and `auth0-api-embedded` drives a flow on
//! a `no_std` target. The loop they run is short:
//!
//! ```text
//! let mut flow = verifier.verify_access_token(token, &ctx)?;   // pre-network checks fail here
//! loop {
//!     match flow.poll(&mut caches, now())? {
//!         Action::NeedHttp(request) => flow.handle_response(&mut caches, send(request), now()),
//!         Action::Wait(key) => wait_until_fetched(key),          // another flow is fetching it
//!         Action::CheckReplay(check) => flow.handle_replay(store.check_and_insert(check)),
//!         Action::Done(claims) => break claims,
//!     }
//! }
//! ```
//!
//! `CheckReplay` comes only when the caches were built with an external DPoP replay check
//! ([`Caches::with_external_replay`]): a store shared by many processes, such as Redis.
//!
//! # Example
//! The everyday types are at the crate root:
//!
//! ```
//! use auth0_api::{RequestContext, VerifierConfig};
//!
//! let verifier = VerifierConfig::new()
//!     .domain("example.auth0.com")
//!     .audience("https://api.example.com")
//!     .build()?;
//! // A request without credentials: refused before any network request.
//! let err = verifier.verify_access_token("", &RequestContext::default()).unwrap_err();
//! assert_eq!((err.status(), err.code()), (401, "verify_access_token_error"));
//! # Ok::<(), auth0_api::ConfigError>(())
//! ```
//!
//! # Entry points
//! - [`VerifierConfig`] builds a [`Verifier`]; [`Verifier::verify_access_token`] starts a
//!   [`VerifyAccessToken`] flow for a token and its [`RequestContext`], which ends in
//!   [`Claims`] or a [`VerifyError`] (status, code and `WWW-Authenticate` challenges).
//! - [`ExchangeConfig`] builds a [`TokenExchanger`]: custom token exchange, on-behalf-of and
//!   Token Vault ([`ExchangeToken`] flows).
//! - [`Flow`] and [`Action`]: what every flow implements, so one drive loop serves them all.
//! - [`Caches`]: discovery documents and JWK Sets, plain data the caller owns; a warm
//!   verification needs only shared access ([`VerifyAccessToken::poll_shared`]).
//! - [`extract_token`]: the token and its scheme from a request's headers.
//!
//! The modules hold what is used less often:
//! - [`verify`]: DPoP proofs ([`verify::dpop`]) and `WWW-Authenticate` challenges
//!   ([`verify::challenge`]).
//! - [`exchange`]: token exchange inputs, results and errors.
//! - [`cache`]: cache policy and the DPoP replay cache.
//! - [`jose`]: algorithms, JWK Sets, crypto providers and client-assertion signers.
//! - [`extract`]: token extraction details, [`delegation`]: the `act` claim chain,
//!   [`resource_metadata`]: RFC 9728 protected resource metadata.
//!
//! # Guarantees
//! - No I/O, no clock, no global state; `#![no_std]` with `alloc`.
//! - Untrusted input (tokens, JSON documents, HTTP responses) never panics, is bounded in
//!   size and nesting, and fails with a typed error that never echoes token contents.
//! - `none` and `HS*` cannot be represented as algorithms.
//!
//! # Features
//! - `std` (default): `std::error::Error` interop through `core::error::Error`.
//! - `http` (default): conversions to and from the `http` crate's types.
//! - `es384`, `es512`, `eddsa`: ES384, ES512 and EdDSA (Ed25519) signatures.
//! - `rsa-signing`: RS256/PS256 client assertions for `private_key_jwt`. The `rsa` crate's
//!   private-key operations are subject to RUSTSEC-2023-0071 (Marvin timing side channel);
//!   see [`jose::sign`]. ES256 client assertions need no feature.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

pub(crate) mod authorize;
pub mod cache;
pub(crate) mod claims;
pub(crate) mod config;
pub mod delegation;
pub(crate) mod discovery;
pub(crate) mod domain;
pub mod exchange;
pub mod extract;
pub(crate) mod flow;
pub(crate) mod http;
pub mod jose;
mod percent;
pub mod resource_metadata;
pub(crate) mod time;
pub mod verify;

// What a library author uses every day, at the crate root: `use auth0_api::{VerifierConfig,
// RequestContext};` is enough for a verification, and a driver needs nothing else.
pub use authorize::{Denied, DeniedKind, Policy};
pub use cache::{
    CachePolicy, CacheSnapshot, Caches, FetchKey, Refresh, RefreshError, Refreshed, ReplayCheck,
    ReplayOutcome, Restored, SnapshotError,
};
pub use claims::{ClaimError, ClaimRules, Claims};
pub use config::{
    ConfigError, DomainResolver, DpopMode, DpopOptions, MAX_WINDOW, ResolverError, ResolverInput,
    Verifier, VerifierConfig,
};
pub use discovery::DocumentError;
pub use domain::{DomainError, DomainPolicy, Issuer};
pub use exchange::{
    AccessTokenSet, ConnectionAccessToken, ConnectionTokenRequest, CustomTokenExchange,
    ExchangeConfig, ExchangeError, ExchangeToken, OnBehalfOf, TokenExchanger, TokenSet,
};
pub use extract::{AuthScheme, ExtractedToken, extract_token};
pub use flow::{Action, Flow};
pub use http::{
    HttpOutcome, HttpRequest, HttpResponse, MAX_RESPONSE_BODY, Method, TransportError,
    TransportErrorKind,
};
pub use jose::jwk::KeySetLimits;
pub use jose::{Algorithm, Limits};
pub use time::{NumericDate, NumericDateError, UnixTime};
pub use verify::context::RequestContext;
pub use verify::error::{Reason, VerifyError};
pub use verify::{PendingDomains, Started, VerifyAccessToken};

/// Internals reached by this workspace's tests, fuzz targets, benchmarks and tools.
///
/// Not part of the public API: anything here may change or go away in any release.
#[doc(hidden)]
pub mod internals {
    pub use crate::cache::entry::Entry;
    pub use crate::discovery::{
        DiscoveryDocument, check_https_url, check_json_response, discovery_request,
        normalize_https_url, parse_discovery,
    };
    pub use crate::exchange::response::{TokenResponse, parse_token_response};
    pub use crate::jose::compact::{CompactJws, DEFAULT_MAX_TOKEN_LEN};
    pub use crate::jose::header::Header;

    /// The bounded, strict JSON reader.
    pub mod json {
        pub use crate::jose::json::{
            DEFAULT_MAX_DEPTH, JsonError, MAX_DEPTH, parse_object, parse_value,
        };
    }
}
