//! Observability (feature `tracing`): a span per protected request; log lines otherwise.
//!
//! The span `request` (target `auth0_api_actix`) carries the method, `outcome` (`ok`,
//! `anonymous` for a request without credentials where they are optional, or the error
//! code: `invalid_token`, `invalid_request`, `invalid_dpop_proof`, `insufficient_scope`,
//! `server_error`) and the response `status`. The request target is never recorded: it may
//! hold an `access_token` parameter.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Extensions;
use auth0_api_driver::protect::{ProtectError, Verified};

/// A boxed future of a single-threaded actix-web worker.
pub(crate) type LocalBoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// The span of one protected request. Cloned into the request extensions, so that the
/// guard and the extractor record their refusals on it.
#[derive(Clone)]
pub(crate) struct RequestSpan {
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

impl RequestSpan {
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub(crate) fn start(method: &str) -> Self {
        Self {
            #[cfg(feature = "tracing")]
            span: tracing::info_span!(
                target: "auth0_api_actix",
                "request",
                method,
                outcome = tracing::field::Empty,
                status = tracing::field::Empty,
            ),
        }
    }

    /// The span of a request that was not verified here (a route guard's): records nothing.
    pub(crate) fn none() -> Self {
        Self {
            #[cfg(feature = "tracing")]
            span: tracing::Span::none(),
        }
    }

    /// Runs `f` inside the span, so that the driver's verification span nests in it.
    pub(crate) fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        #[cfg(feature = "tracing")]
        {
            self.span.in_scope(f)
        }
        #[cfg(not(feature = "tracing"))]
        f()
    }

    /// `future`, run inside the span.
    #[cfg(feature = "tracing")]
    pub(crate) fn instrument<F>(&self, future: F) -> tracing::instrument::Instrumented<F> {
        tracing::Instrument::instrument(future, self.span.clone())
    }

    /// Boxes `future`, run inside the span (a verification waiting for a fetch, then the
    /// wrapped service).
    pub(crate) fn boxed<F: Future + 'static>(
        &self,
        future: F,
    ) -> LocalBoxFuture<'static, F::Output> {
        #[cfg(feature = "tracing")]
        {
            Box::pin(self.instrument(future))
        }
        #[cfg(not(feature = "tracing"))]
        Box::pin(future)
    }

    /// Leaves the span in the request extensions for [`record_in`](Self::record_in).
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub(crate) fn attach(&self, extensions: &mut Extensions) {
        #[cfg(feature = "tracing")]
        extensions.insert(self.clone());
    }

    /// Records the verification's outcome.
    pub(crate) fn record_outcome(&self, outcome: &Result<Option<Verified>, ProtectError>) {
        self.record_code(match outcome {
            Ok(Some(_)) => "ok",
            Ok(None) => "anonymous",
            Err(error) => error.error_code(),
        });
    }

    /// Records a refusal's error code (or `ok`) as the outcome.
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub(crate) fn record_code(&self, code: &str) {
        #[cfg(feature = "tracing")]
        self.span.record("outcome", code);
    }

    /// Records the response status.
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub(crate) fn record_status(&self, status: u16) {
        #[cfg(feature = "tracing")]
        self.span.record("status", status);
    }

    /// Records a later refusal (the guard's, the extractor's) on the span of the request
    /// whose `extensions` these are, if any.
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub(crate) fn record_in(extensions: &Extensions, code: &str) {
        #[cfg(feature = "tracing")]
        if let Some(span) = extensions.get::<RequestSpan>() {
            span.record_code(code);
        }
    }
}

/// Logs an error: a `tracing` event with the feature, a `log` record without.
pub(crate) fn error(message: fmt::Arguments<'_>) {
    #[cfg(feature = "tracing")]
    tracing::error!(target: "auth0_api_actix", "{message}");
    #[cfg(not(feature = "tracing"))]
    log::error!(target: "auth0_api_actix", "{message}");
}
