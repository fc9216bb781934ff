//! The response future of [`Protect`](crate::Protect) and [`Authorize`](crate::Authorize).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use actix_web::Error;
use actix_web::body::EitherBody;
use actix_web::dev::ServiceResponse;
use pin_project_lite::pin_project;

use crate::trace::{LocalBoxFuture, RequestSpan};

#[cfg(feature = "tracing")]
type Traced<F> = tracing::instrument::Instrumented<F>;
#[cfg(not(feature = "tracing"))]
type Traced<F> = F;

/// What the middlewares answer: the wrapped service's response, or their own refusal.
type Answer<B> = Result<ServiceResponse<EitherBody<B>>, Error>;

pin_project! {
    /// The response future of [`ProtectMiddleware`](crate::ProtectMiddleware) and
    /// [`AuthorizeMiddleware`](crate::AuthorizeMiddleware).
    ///
    /// A request decided inside `call` (a verification the caches answered, a refusal, a
    /// policy check) costs no allocation here: this is the wrapped service's future, or the
    /// ready refusal. Only a verification that waits for a key fetch is a boxed future.
    pub struct ResponseFuture<F, B> {
        #[pin]
        state: State<F, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, B> {
        Inner { #[pin] future: Traced<F>, span: RequestSpan },
        Ready { response: Option<ServiceResponse<EitherBody<B>>> },
        Waiting { future: LocalBoxFuture<'static, Answer<B>> },
    }
}

impl<F, B> ResponseFuture<F, B> {
    /// The wrapped service's future, run in `span` (with the `tracing` feature), which also
    /// records the response status.
    pub(crate) fn inner(future: F, span: RequestSpan) -> Self {
        #[cfg(feature = "tracing")]
        let future = span.instrument(future);
        Self::from(State::Inner { future, span })
    }

    /// A response decided without the wrapped service.
    pub(crate) fn ready(response: ServiceResponse<EitherBody<B>>) -> Self {
        Self::from(State::Ready {
            response: Some(response),
        })
    }

    /// A verification that waits for a fetch, then answers as [`inner`](Self::inner) or
    /// [`ready`](Self::ready).
    pub(crate) fn waiting(future: LocalBoxFuture<'static, Answer<B>>) -> Self {
        Self::from(State::Waiting { future })
    }
}

impl<F, B> From<State<F, B>> for ResponseFuture<F, B> {
    fn from(state: State<F, B>) -> Self {
        Self { state }
    }
}

impl<F, B> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
{
    type Output = Answer<B>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Inner { future, span } => {
                let response = ready!(future.poll(cx))?;
                span.record_status(response.status().as_u16());
                Poll::Ready(Ok(response.map_into_left_body()))
            }
            // Polled again after it gave its response: a caller's bug, answered by never
            // completing (as `Future` allows) rather than by a panic.
            StateProj::Ready { response } => response
                .take()
                .map_or(Poll::Pending, |r| Poll::Ready(Ok(r))),
            StateProj::Waiting { future } => future.as_mut().poll(cx),
        }
    }
}

impl<F, B> fmt::Debug for ResponseFuture<F, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
