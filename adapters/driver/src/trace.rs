//! Observability (feature `tracing`): a span per verification, an event per upstream request.
//!
//! The span `auth0_api::verify` carries the expected issuer, the token's `alg` and `kid`
//! (escaped and cut at [`MAX_KID_CHARS`]), `cache` (`hit` when the verification needed no
//! request and no wait, `miss` otherwise) and `outcome` (`ok`, or the RFC error code such as
//! `invalid_token`). Each discovery, JWKS or token-endpoint request is an event in the span
//! of the flow that sent it, with method, URL, status (or the transport failure's kind) and
//! duration in milliseconds.
//!
//! Never recorded: a token, a DPoP proof, a request body (client secrets and assertions live
//! there), a claim value. Without the feature every function here is empty and inlined away.

use std::future::Future;
use std::time::Duration;

use auth0_api::{Claims, HttpOutcome, HttpRequest, VerifyAccessToken, VerifyError};

/// The longest `kid` recorded, in characters: the header is attacker-controlled.
pub const MAX_KID_CHARS: usize = 64;

/// The span of one verification.
pub(crate) struct Verification {
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

impl Verification {
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub(crate) fn start(flow: &VerifyAccessToken<'_>) -> Self {
        Self {
            #[cfg(feature = "tracing")]
            span: tracing::info_span!(
                target: "auth0_api",
                "verify",
                issuer = flow.issuer().as_str(),
                alg = flow.alg().name(),
                kid = ?flow.kid().map(bounded),
                cache = tracing::field::Empty,
                outcome = tracing::field::Empty,
            ),
        }
    }

    /// Runs the cold path of the verification inside the span, so its request events nest.
    pub(crate) fn run<F: Future>(&self, future: F) -> impl Future<Output = F::Output> {
        #[cfg(feature = "tracing")]
        {
            tracing::Instrument::instrument(future, self.span.clone())
        }
        #[cfg(not(feature = "tracing"))]
        future
    }

    /// Runs the blocking cold path of the verification inside the span.
    pub(crate) fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        #[cfg(feature = "tracing")]
        {
            self.span.in_scope(f)
        }
        #[cfg(not(feature = "tracing"))]
        f()
    }

    /// Records whether the caches answered alone, and the outcome.
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub(crate) fn finish(self, cache_hit: bool, result: &Result<Claims, VerifyError>) {
        #[cfg(feature = "tracing")]
        {
            self.span
                .record("cache", if cache_hit { "hit" } else { "miss" });
            match result {
                Ok(_) => self.span.record("outcome", "ok"),
                Err(e) => self.span.record("outcome", e.error_code().as_str()),
            };
        }
    }
}

#[cfg(feature = "tracing")]
fn bounded(kid: &str) -> &str {
    match kid.char_indices().nth(MAX_KID_CHARS) {
        Some((end, _)) => kid.get(..end).unwrap_or(kid),
        None => kid,
    }
}

/// What an upstream request event says about its request, taken before it is sent.
pub(crate) struct Request {
    #[cfg(feature = "tracing")]
    method: auth0_api::Method,
    #[cfg(feature = "tracing")]
    url: String,
}

impl Request {
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub(crate) fn of(request: &HttpRequest) -> Self {
        Self {
            #[cfg(feature = "tracing")]
            method: request.method,
            #[cfg(feature = "tracing")]
            url: request.url.clone(),
        }
    }

    /// The event for the request's outcome.
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub(crate) fn done(self, outcome: &HttpOutcome, elapsed: Duration) {
        #[cfg(feature = "tracing")]
        {
            let ms = elapsed.as_secs_f64() * 1000.0;
            let method = self.method.as_str();
            match outcome {
                Ok(response) => tracing::debug!(
                    target: "auth0_api",
                    method,
                    url = %self.url,
                    status = response.status,
                    duration_ms = ms,
                    "upstream request"
                ),
                Err(e) => tracing::warn!(
                    target: "auth0_api",
                    method,
                    url = %self.url,
                    error = ?e.kind(),
                    duration_ms = ms,
                    "upstream request failed"
                ),
            }
        }
    }
}
