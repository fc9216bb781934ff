//! actix-web middleware and extractors for `auth0-api`: verify the access token of each
//! request (Bearer or DPoP), hand the claims to the handler, require scopes, permissions or
//! claims per route, and answer refusals with the RFC 6750 / RFC 9449 challenges.
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web};
//! use auth0_api_actix::{Authenticated, ClientOptions, Protect, VerifierConfig, client};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//!     let verifier = VerifierConfig::new()
//!         .domain("example.auth0.com")
//!         .audience("https://api.example.com")
//!         .build()?;
//!     let protect = Protect::new(client(verifier, ClientOptions::default())?);
//!     HttpServer::new(move || {
//!         App::new().wrap(protect.clone()).route(
//!             "/me",
//!             web::get().to(|user: Authenticated| async move {
//!                 format!("hello {}", user.sub().ok().flatten().unwrap_or("?"))
//!             }),
//!         )
//!     })
//!     .bind(("127.0.0.1", 8080))?
//!     .run()
//!     .await?;
//! # Ok(())
//! # }
//! ```
//!
//! The pieces:
//!
//! - [`Protect`], a middleware (`wrap` it on an `App`, a scope or a resource): reads the
//!   request's credentials, verifies them with an `auth0-api-driver` [`Client`] (shared caches,
//!   one discovery and one JWKS request however many requests arrive at once), checks its
//!   optional [`Policy`], and stores the verified claims in the request extensions. A refused
//!   request never reaches the handler: it gets the status of SPEC section 4 (401, 400 or
//!   403), each `WWW-Authenticate` challenge as its own header and the JSON body
//!   `{"error": ..., "error_description": ...}`, or what your
//!   [error handler](Protect::error_handler) answers.
//! - [`Authenticated`] / `Authenticated<T>`, the extractor: the verified [`Claims`], or the
//!   claims deserialised into your type. `Option<Authenticated>` serves routes where
//!   credentials are [optional](Protect::optional).
//! - [`Authorize`], a route guard: the claims must satisfy a [`Policy`] (scopes, permissions,
//!   claim values), else 403 `insufficient_scope` with the required `scope` in the challenge.
//!
//! # The request URL and DPoP
//! A DPoP proof names the URL the client called (RFC 9449 section 4.3), which a server
//! behind a proxy does not see. Configure the [public origin](Protect::public_origin), or
//! trust the proxy's [`Forwarded`](Protect::trust_forwarded) or
//! [`X-Forwarded-*`](Protect::trust_x_forwarded) headers when every request comes through
//! it. Without either, the `Host` header is never trusted for DPoP: a DPoP request is
//! answered with 500 and a log line saying what to configure. Bearer tokens need no URL.
//!
//! # Misconfiguration
//! The extractor or the guard on a route that the middleware does not wrap answers 500 with
//! `{"error": "server_error", ...}` and logs an error naming the route; it never panics.
//! `Option<Authenticated>` cannot answer 500 (actix-web turns any extractor error into
//! `None`): there the log line is the only sign.
//!
//! # Client disconnects
//! actix-web keeps serving a half-closed HTTP/1 connection by default, so a client that
//! gives up does not stop its request: a verification waiting on a slow JWKS request runs
//! on until the transport's timeout, and requests arriving meanwhile wait for that fetch.
//! With `HttpServer::h1_allow_half_closed(false)` the request's future is dropped when the
//! client goes away; the driver then abandons its fetch and the next request fetches at
//! once.
//!
//! # Features
//! - `reqwest` (default): re-exports [`client`] and [`ClientOptions`] from
//!   `auth0-api-reqwest`, the HTTPS transport.
//! - `tracing`: a span `request` (target `auth0_api_actix`) per protected request, with the
//!   method, the outcome (`ok`, `anonymous`, or the error code such as `invalid_token`) and
//!   the status; the driver's `verify` span nests inside it. Never a token, a proof, the
//!   request target (it may hold `access_token`) or a claim value.
//!
//! [`Client`]: auth0_api_driver::Client
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod authorize;
mod extract;
mod future;
mod middleware;
mod response;
mod trace;

pub use authorize::{Authorize, AuthorizeMiddleware};
pub use extract::Authenticated;
pub use future::ResponseFuture;
pub use middleware::{Protect, ProtectMiddleware};

pub use auth0_api::{AuthScheme, Claims, Policy, VerifierConfig, VerifyError};
pub use auth0_api_driver::protect::{
    Misconfiguration, ProtectError, ProtectOptions, PublicOrigin, UrlSource,
};
#[cfg(feature = "reqwest")]
pub use auth0_api_reqwest::{ClientOptions, client};
