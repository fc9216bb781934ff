//! `no_std` async driver for `auth0-api` on embedded HTTP stacks.
//!
//! The core crate is a sans-IO state machine; this crate drives it over a minimal async
//! [`Transport`] and a [`Clock`], both supplied by the application:
//!
//! ```no_run
//! # async fn run(
//! #     transport: &mut impl auth0_api_embedded::Transport,
//! #     clock: &impl auth0_api_embedded::Clock,
//! # ) -> Result<(), auth0_api::VerifyError> {
//! use auth0_api::VerifierConfig;
//! use auth0_api::RequestContext;
//!
//! let verifier = VerifierConfig::new()
//!     .domain("example.eu.auth0.com")
//!     .audience("https://api.example.com/")
//!     .build()
//!     .expect("valid configuration");
//! let mut caches = verifier.new_caches();
//! let claims = auth0_api_embedded::verify(
//!     &verifier,
//!     &mut caches,
//!     transport,
//!     clock,
//!     "eyJ...",
//!     &RequestContext::default(),
//! )
//! .await?;
//! # let _ = claims;
//! # Ok(())
//! # }
//! ```
//!
//! With the `reqwless` feature (default), `https::HttpsTransport` implements [`Transport`]
//! over any `embedded-nal-async` TCP stack, with TLS 1.3 by `embedded-tls` and HTTP/1.1
//! framing by `reqwless`.
//!
//! # Trusting the tenant: key pins
//!
//! The tenant's server is trusted by its public key, not by a certificate authority:
//! `pin::Pinned`, the default provider, accepts a server only if the SHA-256 of its leaf
//! certificate's SubjectPublicKeyInfo is one of the application's pins and it signs the TLS
//! handshake with that key. Several pins may be given, so keys rotate without an outage.
//! A refused server is sent nothing, and the transport's error says why
//! (`https::HttpsError::Pin`). The `pin` module shows how to compute a pin with `openssl`
//! and how to rotate; `https` explains why `embedded-tls`'s own certificate verifiers are
//! not enough with a public CA.
//!
//! # Single task, exclusive caches
//!
//! The driver holds `&mut Caches` for the whole verification, so no other flow can be
//! fetching into them: [`Action::Wait`] cannot come from a live fetch. It can only come from
//! a stale in-flight mark (caches restored from a snapshot taken mid-fetch), and is then
//! reported as the flow's own error rather than waited for.
//!
//! # Time limits and cancellation
//!
//! The driver sets no timeouts: embedded executors each have their own timer. Wrap
//! [`verify`] or [`drive`] in one (for example `embassy_time::with_timeout`), with a limit no
//! longer than [`CachePolicy::fetch_timeout`](auth0_api::cache::CachePolicy::fetch_timeout).
//! Dropping the future while a request is outstanding is safe: the flow abandons it
//! ([`Flow::abandon`]), which clears its in-flight mark at once without recording a failure,
//! so the next verification fetches the resource itself.

#![no_std]
// The traits are for single-task embedded executors; no `Send` bound is wanted on the
// futures they return.
#![allow(async_fn_in_trait)]
#![warn(missing_docs)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[cfg(any(feature = "reqwless", test))]
extern crate alloc;

#[cfg(feature = "reqwless")]
pub mod https;
#[cfg(feature = "reqwless")]
pub mod pin;

use auth0_api::Claims;
use auth0_api::RequestContext;
use auth0_api::UnixTime;
use auth0_api::Verifier;
use auth0_api::VerifyError;
use auth0_api::cache::Caches;
use auth0_api::{Action, Flow};
use auth0_api::{HttpOutcome, HttpRequest, TransportError, TransportErrorKind};

/// Sends the requests a flow asks for.
///
/// Implementations MUST NOT follow redirects (a `3xx` answer is
/// [`TransportErrorKind::Redirect`]), MUST refuse a body longer than
/// [`MAX_RESPONSE_BODY`](auth0_api::MAX_RESPONSE_BODY)
/// ([`TransportErrorKind::BodyTooLarge`]) and MUST authenticate the server of an `https`
/// URL.
pub trait Transport {
    /// Sends `request` once and returns the answer, whatever its status.
    ///
    /// # Errors
    /// A [`TransportError`] when no complete response was received.
    async fn send(&mut self, request: &HttpRequest) -> HttpOutcome;
}

impl<T: Transport + ?Sized> Transport for &mut T {
    async fn send(&mut self, request: &HttpRequest) -> HttpOutcome {
        (**self).send(request).await
    }
}

/// The current time, from the device's real-time clock or network time.
pub trait Clock {
    /// Seconds since the Unix epoch, now.
    fn now(&self) -> UnixTime;
}

impl<F: Fn() -> UnixTime> Clock for F {
    fn now(&self) -> UnixTime {
        self()
    }
}

/// Verifies an access token, fetching discovery and keys through `transport` as needed.
///
/// A warm verification (discovery document and key cached and fresh) sends nothing.
///
/// # Errors
/// The [`VerifyError`] of the failed check, with its `WWW-Authenticate` values; a transport
/// failure is a failed discovery or JWKS fetch.
pub async fn verify<T, C>(
    verifier: &Verifier,
    caches: &mut Caches,
    transport: &mut T,
    clock: &C,
    token: &str,
    ctx: &RequestContext<'_>,
) -> Result<Claims, VerifyError>
where
    T: Transport + ?Sized,
    C: Clock + ?Sized,
{
    let mut flow = verifier.verify_access_token(token, ctx)?;
    drive(&mut flow, caches, transport, clock).await
}

/// Drives any flow (verification, token exchange) to its end.
///
/// Each `NeedHttp` request is sent exactly once and its outcome fed back before the next
/// poll. An `Action::Wait` (a stale in-flight mark: see the [crate docs](crate)) is answered
/// with a transport failure, which the flow turns into its sticky error. An
/// `Action::CheckReplay` (caches built with an external DPoP replay check, which a single
/// embedded device has no store for) is answered `ReplayOutcome::Unavailable`: the proof is
/// refused with HTTP 503 rather than accepted unchecked. Keep an in-memory replay cache in
/// the caches instead.
///
/// # Errors
/// The flow's error.
pub async fn drive<F, T, C>(
    flow: &mut F,
    caches: &mut Caches,
    transport: &mut T,
    clock: &C,
) -> Result<F::Output, F::Error>
where
    F: Flow,
    T: Transport + ?Sized,
    C: Clock + ?Sized,
{
    // Each round either finishes, fails, or answers one request; a `Wait` answered with a
    // failure makes the next poll fail, so a wedged flow cannot spin here.
    loop {
        match flow.poll(caches, clock.now())? {
            Action::NeedHttp(request) => {
                let outstanding = Outstanding {
                    flow: &mut *flow,
                    caches: &mut *caches,
                    clock,
                    answered: false,
                };
                let outcome = transport.send(&request).await;
                outstanding.answer(outcome);
            }
            Action::Wait(_) => {
                let outcome = Err(TransportError::new(TransportErrorKind::Unavailable));
                flow.handle_response(caches, outcome, clock.now());
            }
            Action::CheckReplay(_) => flow.handle_replay(auth0_api::ReplayOutcome::Unavailable),
            Action::Done(output) => return Ok(output),
        }
    }
}

/// A request sent and not yet answered. Dropped unanswered (the future was cancelled), it
/// abandons the request, so the caches are not left with an in-flight mark.
struct Outstanding<'d, F: Flow, C: Clock + ?Sized> {
    flow: &'d mut F,
    caches: &'d mut Caches,
    clock: &'d C,
    answered: bool,
}

impl<F: Flow, C: Clock + ?Sized> Outstanding<'_, F, C> {
    fn answer(mut self, outcome: HttpOutcome) {
        self.answered = true;
        self.flow
            .handle_response(self.caches, outcome, self.clock.now());
    }
}

impl<F: Flow, C: Clock + ?Sized> Drop for Outstanding<'_, F, C> {
    fn drop(&mut self) {
        if !self.answered {
            self.flow.abandon(self.caches);
        }
    }
}

#[cfg(test)]
mod tests;
