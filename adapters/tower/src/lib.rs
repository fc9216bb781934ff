//! Protect tower services and axum routes with `auth0-api`: a layer that verifies the access
//! token of every request, a route layer for scopes, permissions and claim checks, and (with
//! the `axum` feature) extractors for the verified claims.
//!
//! ```no_run
//! # #[cfg(feature = "axum")] mod with_axum {
//! use auth0_api::VerifierConfig;
//! use auth0_api_tower::{Authenticated, ProtectLayer};
//! use axum::{Router, routing::get};
//!
//! async fn me(Authenticated(claims): Authenticated) -> String {
//!     format!("hello {}", claims.sub().ok().flatten().unwrap_or("?"))
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = VerifierConfig::new().domain("example.auth0.com").audience("https://api").build()?;
//! let app: Router = Router::new()
//!     .route("/me", get(me))
//!     .layer(ProtectLayer::reqwest(verifier, Default::default())?);
//! # let _ = app; Ok(()) }
//! # }
//! ```
//!
//! # What the layer does
//! [`ProtectLayer`] reads the token (`Authorization: Bearer` or `DPoP`, or the
//! `access_token` query parameter; SPEC section 5), the `DPoP` proof, the method and the
//! request URL (from the configured [`UrlSource`]: a fixed public origin, or trusted proxy
//! headers; never the client's `Host` alone for DPoP), and verifies them with the shared
//! [`Client`] (caches, single flight, cancellation). Then:
//!
//! - verified: the [`Verified`] claims and scheme go into the request extensions and the
//!   inner service is called;
//! - refused: the answer is [`VerifyError::status`](auth0_api::VerifyError::status) (400,
//!   401 or 403), every `WWW-Authenticate` challenge as its own header, and the JSON body
//!   `{"error": ..., "error_description": ...}` (see [`ErrorResponse`]); a handler set with
//!   [`ProtectLayer::on_error`] can answer instead;
//! - with [optional](ProtectOptions::optional) credentials, a request without any passes
//!   on without claims; bad credentials are still refused;
//! - misconfigured (a DPoP request and no trusted URL source, a missing trusted proxy
//!   header): 500 with `{"error":"server_error",...}` and an `error` log line.
//!
//! Dropping the response future (a client that disconnects) abandons a key fetch in flight,
//! so the requests waiting for it fetch it themselves at once.
//!
//! [`AuthorizeLayer`] checks a [`Policy`] on a route (403 `insufficient_scope`, with the
//! required scopes in the challenge).
//!
//! # Features
//! - `reqwest` (default): [`ProtectLayer::reqwest`], the layer over the reqwest transport.
//! - `axum`: the `Authenticated` extractor (also `Authenticated<T>` and
//!   `Option<Authenticated>`).
//! - `tracing`: a span `auth0_api_tower.authenticate` per request, with the method, the
//!   outcome, the status and the error code, never a token, proof or claim value.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "axum")]
mod extract;
mod future;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use auth0_api::Verifier;
use auth0_api_driver::{AsyncTransport, Client, protect};
use http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderValue, Request, Response, StatusCode};
use tower_layer::Layer;
use tower_service::Service;

pub use auth0_api::{AuthScheme, Claims, Policy};
pub use auth0_api_driver::protect::{
    ErrorResponse, Misconfiguration, ProtectError, ProtectOptions, PublicOrigin, UrlSource,
    Verified,
};

#[cfg(feature = "axum")]
pub use extract::{AuthRejection, Authenticated};
pub use future::ResponseFuture;

/// Replaces the default error response: given the error (its status, challenges and body
/// come from [`ErrorResponse::from`]), returns the response to send.
pub type ErrorHandler = Arc<dyn Fn(&ProtectError) -> Response<String> + Send + Sync>;

/// A boxed response future.
type BoxFuture<O> = Pin<Box<dyn Future<Output = O> + Send>>;

/// The verifier behind an installed layer, for the route layer and extractors.
trait VerifierSource: Send + Sync {
    fn verifier(&self) -> &Verifier;
}

impl<T: Send + Sync> VerifierSource for Client<T> {
    fn verifier(&self) -> &Verifier {
        Client::verifier(self)
    }
}

/// Put in the extensions of every request [`Protect`] passes on, verified or not, so the
/// route layer and the extractors can tell a missing layer (500) from a request without
/// credentials (401).
#[derive(Clone)]
struct Installed {
    verifier: Arc<dyn VerifierSource>,
    on_error: Option<ErrorHandler>,
}

impl Installed {
    fn verifier(&self) -> &Verifier {
        self.verifier.verifier()
    }
}

/// Verifies every request's access token; see the [crate docs](crate).
///
/// Holds an `Arc` of the [`Client`]: clone the layer freely, every clone shares the caches.
pub struct ProtectLayer<T> {
    client: Arc<Client<T>>,
    options: Arc<ProtectOptions>,
    on_error: Option<ErrorHandler>,
}

impl<T: Send + Sync + 'static> ProtectLayer<T> {
    /// The mark a request this layer passes on carries.
    fn installed(&self) -> Installed {
        Installed {
            verifier: Arc::clone(&self.client) as Arc<dyn VerifierSource>,
            on_error: self.on_error.clone(),
        }
    }

    /// Marks a request this layer passes on, with its claims when it was verified.
    fn pass<B>(&self, request: &mut Request<B>, verified: Option<Verified>) {
        let extensions = request.extensions_mut();
        extensions.insert(self.installed());
        if let Some(verified) = verified {
            extensions.insert(verified);
        }
    }
}

impl<T> Clone for ProtectLayer<T> {
    fn clone(&self) -> Self {
        Self {
            client: Arc::clone(&self.client),
            options: Arc::clone(&self.options),
            on_error: self.on_error.clone(),
        }
    }
}

impl<T> fmt::Debug for ProtectLayer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProtectLayer")
            .field("client", &self.client)
            .field("options", &self.options)
            .field("on_error", &self.on_error.is_some())
            .finish()
    }
}

impl<T> ProtectLayer<T> {
    /// A layer verifying with `client`, with [`ProtectOptions::default`]: credentials
    /// required, the URL from the `Host` header (so DPoP requests are refused with 500
    /// until [`options`](Self::options) names a public origin or a trusted proxy), no policy.
    pub fn new(client: Arc<Client<T>>) -> Self {
        Self {
            client,
            options: Arc::new(ProtectOptions::default()),
            on_error: None,
        }
    }

    /// Sets the options: URL source, optional credentials, policy.
    #[must_use]
    pub fn options(mut self, options: ProtectOptions) -> Self {
        self.options = Arc::new(options);
        self
    }

    /// Answers refusals and configuration errors with `handler` instead of the default
    /// JSON response. The handler is also used by an [`AuthorizeLayer`] and the extractors
    /// behind this layer unless they have their own.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use auth0_api_driver::{Client, FixtureTransport, system_clock};
    /// use auth0_api_tower::{ErrorResponse, ProtectLayer};
    /// # let verifier = auth0_api::VerifierConfig::new().domain("example.auth0.com").audience("api").build()?;
    /// # let client = Arc::new(Client::new(verifier, FixtureTransport::new(), system_clock));
    /// let layer = ProtectLayer::new(client).on_error(|error| {
    ///     let default = ErrorResponse::from(error);
    ///     http::Response::builder()
    ///         .status(default.status)
    ///         .body(format!("denied: {}", error.error_code()))
    ///         .unwrap_or_default()
    /// });
    /// # let _ = layer;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn on_error(
        mut self,
        handler: impl Fn(&ProtectError) -> Response<String> + Send + Sync + 'static,
    ) -> Self {
        self.on_error = Some(Arc::new(handler));
        self
    }

    /// The client.
    pub fn client(&self) -> &Arc<Client<T>> {
        &self.client
    }
}

#[cfg(feature = "reqwest")]
impl ProtectLayer<auth0_api_reqwest::ReqwestTransport> {
    /// A layer over a new reqwest client for `verifier` (see
    /// [`auth0_api_reqwest::client`]).
    ///
    /// # Errors
    /// When the reqwest client cannot be built (a bad CA certificate or proxy URL).
    pub fn reqwest(
        verifier: Verifier,
        options: auth0_api_driver::ClientOptions,
    ) -> Result<Self, reqwest::Error> {
        Ok(Self::new(Arc::new(auth0_api_reqwest::client(
            verifier, options,
        )?)))
    }
}

impl<S, T> Layer<S> for ProtectLayer<T> {
    type Service = Protect<S, T>;

    fn layer(&self, inner: S) -> Self::Service {
        Protect {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service made by [`ProtectLayer`].
pub struct Protect<S, T> {
    inner: S,
    layer: ProtectLayer<T>,
}

impl<S: Clone, T> Clone for Protect<S, T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<S, T> fmt::Debug for Protect<S, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Protect")
            .field("layer", &self.layer)
            .finish_non_exhaustive()
    }
}

impl<S, T, ReqBody, ResBody> Service<Request<ReqBody>> for Protect<S, T>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Send + 'static,
    T: AsyncTransport + 'static,
    ReqBody: Send + 'static,
    ResBody: From<String> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let span = request_span(request.method());
        let layer = &self.layer;
        let prepared = {
            let headers = request
                .headers()
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_bytes()));
            let target = request
                .uri()
                .path_and_query()
                .map_or("/", |target| target.as_str());
            let verifier = layer.client.verifier();
            layer
                .options
                .prepare(verifier, request.method().as_str(), target, headers)
        };
        let credentials = match prepared {
            Ok(Some(credentials)) => credentials,
            Ok(None) => {
                record(&span, &Outcome::Anonymous);
                layer.pass(&mut request, None);
                return ResponseFuture::inner(self.inner.call(request), span);
            }
            Err(error) => {
                record(&span, &Outcome::Refused(&error));
                return ResponseFuture::ready(respond(&error, layer.on_error.as_ref()));
            }
        };
        // Most requests are answered here, from the caches, without a future of our own.
        let cached = span.in_scope(|| layer.options.verify_cached(&layer.client, &credentials));
        match cached {
            Some(Ok(verified)) => {
                record(&span, &Outcome::Verified);
                layer.pass(&mut request, Some(verified));
                ResponseFuture::inner(self.inner.call(request), span)
            }
            Some(Err(error)) => {
                record(&span, &Outcome::Refused(&error));
                ResponseFuture::ready(respond(&error, layer.on_error.as_ref()))
            }
            // A fetch, a wait or a replay check: a boxed future verifies, then calls the
            // service that was polled ready (its clone is left behind).
            None => {
                let clone = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, clone);
                let layer = self.layer.clone();
                let outcome_span = span.clone();
                let future = async move {
                    match layer.options.verify(&layer.client, &credentials).await {
                        Ok(verified) => {
                            record(&outcome_span, &Outcome::Verified);
                            layer.pass(&mut request, Some(verified));
                            inner.call(request).await
                        }
                        Err(error) => {
                            record(&outcome_span, &Outcome::Refused(&error));
                            Ok(respond(&error, layer.on_error.as_ref()))
                        }
                    }
                };
                ResponseFuture::waiting(instrument(future, span))
            }
        }
    }
}

/// Checks a [`Policy`] on verified requests (403 `insufficient_scope`); put it on a route
/// behind a [`ProtectLayer`] (in axum, with `route_layer`).
///
/// A request without claims (optional credentials and none given) is refused with 401 and
/// the verifier's challenges; a route without a [`ProtectLayer`] in front answers 500.
///
/// ```
/// use auth0_api_tower::{AuthorizeLayer, Policy};
/// let layer = AuthorizeLayer::new(Policy::new().all_scopes(["read:orders"]));
/// let same = AuthorizeLayer::scopes(["read:orders"]);
/// # let _ = (layer, same);
/// ```
#[derive(Clone)]
pub struct AuthorizeLayer {
    policy: Arc<Policy>,
    on_error: Option<ErrorHandler>,
}

impl fmt::Debug for AuthorizeLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizeLayer")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl AuthorizeLayer {
    /// Requires `policy` of the verified claims.
    pub fn new(policy: Policy) -> Self {
        Self {
            policy: Arc::new(policy),
            on_error: None,
        }
    }

    /// Requires every one of `scopes` ([`Policy::all_scopes`]).
    pub fn scopes<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::new(Policy::new().all_scopes(scopes))
    }

    /// Answers refusals with `handler` (else the [`ProtectLayer`]'s, else the default).
    #[must_use]
    pub fn on_error(
        mut self,
        handler: impl Fn(&ProtectError) -> Response<String> + Send + Sync + 'static,
    ) -> Self {
        self.on_error = Some(Arc::new(handler));
        self
    }
}

impl<S> Layer<S> for AuthorizeLayer {
    type Service = Authorize<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authorize {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service made by [`AuthorizeLayer`].
#[derive(Clone)]
pub struct Authorize<S> {
    inner: S,
    layer: AuthorizeLayer,
}

impl<S> fmt::Debug for Authorize<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorize")
            .field("layer", &self.layer)
            .finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Authorize<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: From<String> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let installed = request.extensions().get::<Installed>().cloned();
        let handler = self
            .layer
            .on_error
            .clone()
            .or_else(|| installed.as_ref().and_then(|i| i.on_error.clone()));
        let decision = match &installed {
            None => Err(not_installed("AuthorizeLayer")),
            Some(installed) => protect::authorize(
                installed.verifier(),
                request.extensions().get::<Verified>(),
                &self.layer.policy,
            ),
        };
        match decision {
            Ok(()) => ResponseFuture::inner(self.inner.call(request), no_span()),
            Err(error) => ResponseFuture::ready(respond(&error, handler.as_ref())),
        }
    }
}

/// The error for a route whose layer is missing, logged.
fn not_installed(what: &str) -> ProtectError {
    tracing::error!(
        "{what} found no ProtectLayer in front of this route: add ProtectLayer before it \
         (answering 500)"
    );
    ProtectError::Misconfigured(Misconfiguration::NotInstalled)
}

/// The response for `error`: the handler's, or the default one.
fn respond<B: From<String>>(error: &ProtectError, handler: Option<&ErrorHandler>) -> Response<B> {
    if let ProtectError::Misconfigured(cause) = error {
        tracing::error!(%cause, "auth0-api-tower: authentication misconfigured, answering 500");
    }
    let response = match handler {
        Some(handler) => handler(error),
        None => default_response(error),
    };
    response.map(B::from)
}

/// Status, one `WWW-Authenticate` header per challenge, JSON body.
fn default_response(error: &ProtectError) -> Response<String> {
    let parts = ErrorResponse::from(error);
    let mut response = Response::new(parts.body);
    *response.status_mut() =
        StatusCode::from_u16(parts.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(ErrorResponse::CONTENT_TYPE),
    );
    for challenge in &parts.www_authenticate {
        // The core builds challenges as valid field values; one that is not is dropped
        // rather than sent broken.
        if let Ok(value) = HeaderValue::from_str(challenge) {
            headers.append(WWW_AUTHENTICATE, value);
        }
    }
    response
}

/// How a request ended, for the span (unread without the `tracing` feature).
#[cfg_attr(not(feature = "tracing"), allow(dead_code))]
enum Outcome<'e> {
    Verified,
    Anonymous,
    Refused(&'e ProtectError),
}

#[cfg(feature = "tracing")]
fn request_span(method: &http::Method) -> tracing::Span {
    tracing::info_span!(
        "auth0_api_tower.authenticate",
        http.method = %method,
        outcome = tracing::field::Empty,
        status = tracing::field::Empty,
        error = tracing::field::Empty,
    )
}

/// Without the `tracing` feature, the span is nothing.
#[cfg(not(feature = "tracing"))]
#[derive(Clone)]
struct NoSpan;

#[cfg(not(feature = "tracing"))]
impl NoSpan {
    fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        f()
    }
}

#[cfg(feature = "tracing")]
type RequestSpan = tracing::Span;
#[cfg(not(feature = "tracing"))]
type RequestSpan = NoSpan;

#[cfg(not(feature = "tracing"))]
fn request_span(_: &http::Method) -> NoSpan {
    NoSpan
}

/// The span of a future that is not the layer's own (the policy layer's inner service).
fn no_span() -> RequestSpan {
    #[cfg(feature = "tracing")]
    {
        tracing::Span::none()
    }
    #[cfg(not(feature = "tracing"))]
    {
        NoSpan
    }
}

#[cfg(feature = "tracing")]
fn record(span: &tracing::Span, outcome: &Outcome<'_>) {
    match outcome {
        Outcome::Verified => {
            span.record("outcome", "verified");
        }
        Outcome::Anonymous => {
            span.record("outcome", "anonymous");
        }
        Outcome::Refused(error) => {
            let outcome = match error {
                ProtectError::Misconfigured(_) => "misconfigured",
                _ => "refused",
            };
            span.record("outcome", outcome);
            span.record("status", error.status());
            span.record("error", error.error_code());
            tracing::info!(
                status = error.status(),
                error = error.error_code(),
                "request refused"
            );
        }
    }
}

#[cfg(not(feature = "tracing"))]
fn record(_: &NoSpan, _: &Outcome<'_>) {}

#[cfg(feature = "tracing")]
fn instrument<F>(future: F, span: tracing::Span) -> BoxFuture<F::Output>
where
    F: Future + Send + 'static,
{
    use tracing::Instrument as _;
    Box::pin(future.instrument(span))
}

#[cfg(not(feature = "tracing"))]
fn instrument<F>(future: F, _: NoSpan) -> BoxFuture<F::Output>
where
    F: Future + Send + 'static,
{
    Box::pin(future)
}
