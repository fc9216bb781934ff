//! The response future of [`Protect`](crate::Protect) and [`Authorize`](crate::Authorize).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use pin_project_lite::pin_project;

use crate::{BoxFuture, RequestSpan};

#[cfg(feature = "tracing")]
type Traced<F> = tracing::instrument::Instrumented<F>;
#[cfg(not(feature = "tracing"))]
type Traced<F> = F;

pin_project! {
    /// The response future of [`Protect`](crate::Protect) and
    /// [`Authorize`](crate::Authorize).
    ///
    /// A request decided inside `call` (a verification the caches answered, a refusal, a
    /// policy check) costs no allocation here: this is the inner service's future, or the
    /// ready refusal. Only a verification that waits for a key fetch is a boxed future.
    pub struct ResponseFuture<F, B, E> {
        #[pin]
        state: State<F, B, E>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, B, E> {
        Inner { #[pin] future: Traced<F> },
        Ready { response: Option<Response<B>> },
        Waiting { future: BoxFuture<Result<Response<B>, E>> },
    }
}

impl<F, B, E> ResponseFuture<F, B, E> {
    /// The inner service's future; with the `tracing` feature, it runs in `span`.
    #[cfg_attr(not(feature = "tracing"), allow(clippy::needless_pass_by_value))]
    pub(crate) fn inner(future: F, span: RequestSpan) -> Self {
        #[cfg(feature = "tracing")]
        let future = tracing::Instrument::instrument(future, span);
        #[cfg(not(feature = "tracing"))]
        let _ = span;
        Self::from(State::Inner { future })
    }

    /// A response decided without the inner service.
    pub(crate) fn ready(response: Response<B>) -> Self {
        Self::from(State::Ready {
            response: Some(response),
        })
    }

    /// A verification that waits for a fetch, then calls the inner service.
    pub(crate) fn waiting(future: BoxFuture<Result<Response<B>, E>>) -> Self {
        Self::from(State::Waiting { future })
    }
}

impl<F, B, E> From<State<F, B, E>> for ResponseFuture<F, B, E> {
    fn from(state: State<F, B, E>) -> Self {
        Self { state }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B, E>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Inner { future } => future.poll(cx),
            // Polled again after it gave its response: a caller's bug, answered by never
            // completing (as `Future` allows) rather than by a panic.
            StateProj::Ready { response } => response
                .take()
                .map_or(Poll::Pending, |r| Poll::Ready(Ok(r))),
            StateProj::Waiting { future } => future.as_mut().poll(cx),
        }
    }
}

impl<F, B, E> fmt::Debug for ResponseFuture<F, B, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Inner { .. } => "inner",
            State::Ready { .. } => "ready",
            State::Waiting { .. } => "waiting",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish()
    }
}
