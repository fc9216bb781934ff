//! Sans-IO verification of OAuth 2 / OpenID Connect access tokens for HTTP APIs, with DPoP
//! (RFC 9449) and token exchange (RFC 8693), for Auth0 and any standards-compliant server.
//!
//! This crate never opens a socket, reads a clock, sleeps, spawns or draws randomness. A
//! network-using operation is a *flow*: a value you drive. It emits descriptions of the HTTP
//! requests it needs ([`http::HttpRequest`]), consumes the responses you hand it, and takes
//! the current time ([`time::UnixTime`]) at every step.
//!
//! ```text
//! let mut flow = verifier.verify_access_token(token, &ctx)?;   // pre-network checks fail here
//! loop {
//!     match flow.poll(&mut caches, now())? {
//!         Action::NeedHttp(request) => flow.handle_response(&mut caches, send(request), now()),
//!         Action::Wait(key) => wait_until_fetched(key),          // another flow is fetching it
//!         Action::Done(claims) => break claims,
//!     }
//! }
//! ```
//!
//! The flows: [`Verifier::verify_access_token`] (SPEC sections 2 to 4) and the token
//! exchanges of [`TokenExchanger`] (custom, on-behalf-of, Token Vault). Every flow
//! implements [`Flow`], so one drive loop serves them all. Caches ([`Caches`]) are plain data
//! the caller owns; a warm verification needs only shared access
//! ([`VerifyAccessToken::poll_shared`]).
//!
//! Most programs do not write the loop: `auth0-api-driver` runs it (blocking or async, with
//! shared caches, per-key wake-ups and cancellation), and `auth0-api-ureq` /
//! `auth0-api-reqwest` plug an HTTP client into it. The everyday types are re-exported here:
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
//! # Guarantees
//! - No I/O, no clock, no global state; `#![no_std]` with `alloc`.
//! - Untrusted input (tokens, JSON documents, HTTP responses) never panics, is bounded in
//!   size and nesting, and fails with a typed error that never echoes token contents.
//! - `none` and `HS*` cannot be represented as algorithms.
//!
//! # Layout
//! Modules depend on each other in one direction, leaves first: [`time`], [`http`],
//! [`domain`] and [`extract`]; [`jose`] (with its JSON reader, [`jose::json`]); then
//! [`claims`], [`discovery`] and [`cache`]; then [`flow`] and [`config`]; and last the flows,
//! [`verify`] and [`exchange`]. A lower module never names a higher one: the replay cache
//! reports its own [`cache::ReplayError`] and [`cache::CachePolicy::check`] its own
//! [`cache::PolicyError`], which the higher modules map to theirs.
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

pub mod cache;
pub mod claims;
pub mod config;
pub mod delegation;
pub mod discovery;
pub mod domain;
pub mod exchange;
pub mod extract;
pub mod flow;
pub mod http;
pub mod jose;
mod percent;
pub mod resource_metadata;
pub mod time;
pub mod verify;

// What a library author uses every day, at the crate root: `use auth0_api::{VerifierConfig,
// RequestContext};` is enough for a verification, and a driver needs nothing else.
pub use cache::{CachePolicy, Caches, FetchKey};
pub use claims::{ClaimError, Claims};
pub use config::{ConfigError, DpopMode, DpopOptions, Verifier, VerifierConfig};
pub use domain::{DomainPolicy, Issuer};
pub use exchange::error::ExchangeError;
pub use exchange::{
    AccessTokenSet, ConnectionAccessToken, ConnectionTokenRequest, CustomTokenExchange,
    ExchangeConfig, ExchangeToken, OnBehalfOf, TokenExchanger, TokenSet,
};
pub use extract::{AuthScheme, ExtractedToken, extract_token};
pub use flow::{Action, Flow};
pub use http::{HttpOutcome, HttpRequest, HttpResponse, TransportError, TransportErrorKind};
pub use jose::Algorithm;
pub use time::{NumericDate, UnixTime};
pub use verify::context::RequestContext;
pub use verify::error::{Reason, VerifyError};
pub use verify::{Started, VerifyAccessToken};
