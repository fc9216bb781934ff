//! [`Protect`]: the middleware that verifies each request's credentials.

use std::fmt;
use std::future::{Ready, ready};
use std::rc::Rc;
use std::sync::Arc;

use crate::future::ResponseFuture;
use crate::response;
use crate::trace::{LocalBoxFuture, RequestSpan};
use actix_web::body::EitherBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::{Error, HttpMessage as _, HttpRequest, HttpResponse};
use auth0_api::{Policy, Verifier};
use auth0_api_driver::protect::{
    Credentials, ProtectError, ProtectOptions, PublicOrigin, Verified,
};
use auth0_api_driver::{AsyncTransport, Client};

/// A user's answer to a refused request.
type ErrorHandler = Arc<dyn Fn(&ProtectError, &HttpRequest) -> HttpResponse + Send + Sync>;

/// The verification client, whatever its transport.
trait Backend: Send + Sync {
    fn verifier(&self) -> &Verifier;

    fn verify<'a>(
        &'a self,
        options: &'a ProtectOptions,
        credentials: &'a Credentials,
    ) -> LocalBoxFuture<'a, Result<Verified, ProtectError>>;

    fn verify_cached(
        &self,
        options: &ProtectOptions,
        credentials: &Credentials,
    ) -> Option<Result<Verified, ProtectError>>;
}

impl<T: AsyncTransport + 'static> Backend for Client<T> {
    fn verifier(&self) -> &Verifier {
        Client::verifier(self)
    }

    fn verify<'a>(
        &'a self,
        options: &'a ProtectOptions,
        credentials: &'a Credentials,
    ) -> LocalBoxFuture<'a, Result<Verified, ProtectError>> {
        Box::pin(options.verify(self, credentials))
    }

    fn verify_cached(
        &self,
        options: &ProtectOptions,
        credentials: &Credentials,
    ) -> Option<Result<Verified, ProtectError>> {
        options.verify_cached(self, credentials)
    }
}

/// Middleware that verifies the access token of every request it wraps (SPEC sections 2, 3
/// and 5), then stores the verified claims in the request extensions for [`Authenticated`]
/// and [`Authorize`].
///
/// A refused request is answered at once (see the [crate docs](crate)); the wrapped service
/// is not called. Cloning is cheap: clone it into the `HttpServer` factory.
///
/// ```
/// use actix_web::{App, HttpResponse, web};
/// use auth0_api_actix::{Authenticated, Policy, Protect, VerifierConfig};
/// use auth0_api_driver::{Client, FixtureTransport, system_clock};
///
/// let verifier = VerifierConfig::new()
///     .domain("example.auth0.com")
///     .audience("https://api.example.com")
///     .build()?;
/// // Any transport: `auth0_api_actix::client` builds one on reqwest.
/// let client = Client::new(verifier, FixtureTransport::new(), system_clock);
/// let protect = Protect::new(client)
///     .public_origin("https://api.example.com".parse()?)
///     .policy(Policy::new().any_scope(["read:orders", "admin"]));
/// let app = App::new().service(
///     web::scope("/orders")
///         .wrap(protect)
///         .route("", web::get().to(|_user: Authenticated| async { HttpResponse::Ok() })),
/// );
/// # let _ = app;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// [`Authenticated`]: crate::Authenticated
/// [`Authorize`]: crate::Authorize
#[derive(Clone)]
#[must_use]
pub struct Protect {
    backend: Arc<dyn Backend>,
    options: ProtectOptions,
    on_error: Option<ErrorHandler>,
}

impl Protect {
    /// Verifies with `client` (a [`Client`] or an `Arc` of one, so one client and its caches
    /// can serve several middleware), credentials required, the request URL from the `Host`
    /// header (never used for DPoP: configure a [public origin](Self::public_origin)), no
    /// policy.
    pub fn new<T: AsyncTransport + 'static>(client: impl Into<Arc<Client<T>>>) -> Self {
        let backend: Arc<Client<T>> = client.into();
        Self {
            backend,
            options: ProtectOptions::new(),
            on_error: None,
        }
    }

    /// Replaces every option at once (URL source, optional credentials, policy).
    pub fn options(mut self, options: ProtectOptions) -> Self {
        self.options = options;
        self
    }

    /// The request URL, for the DPoP proof's `htu`, is `origin` followed by the request's
    /// path and query. The recommended setting for DPoP.
    pub fn public_origin(mut self, origin: PublicOrigin) -> Self {
        self.options = self.options.public_origin(origin);
        self
    }

    /// Takes the request URL's scheme and host from the last element of the `Forwarded`
    /// header (RFC 7239). Only when every request comes through a proxy that writes it.
    pub fn trust_forwarded(mut self) -> Self {
        self.options = self.options.trust_forwarded();
        self
    }

    /// Takes the request URL's scheme and host from `X-Forwarded-Proto` and
    /// `X-Forwarded-Host`. Only when every request comes through a proxy that writes them.
    pub fn trust_x_forwarded(mut self) -> Self {
        self.options = self.options.trust_x_forwarded();
        self
    }

    /// With `true`, a request without any credentials passes on without claims
    /// (`Option<Authenticated>` is then `None`); credentials that are present are still
    /// verified and refused when bad. Defaults to `false`.
    pub fn optional(mut self, optional: bool) -> Self {
        self.options = self.options.optional(optional);
        self
    }

    /// What the verified claims must satisfy on every wrapped route (403
    /// `insufficient_scope` otherwise). For a policy on some routes only, wrap them with
    /// [`Authorize`](crate::Authorize).
    ///
    /// With [optional](Self::optional) credentials, a request without any passes on without
    /// this check; [`Authorize`](crate::Authorize) answers such a request with 401.
    pub fn policy(mut self, policy: Policy) -> Self {
        self.options = self.options.policy(policy);
        self
    }

    /// Answers every refusal (of this middleware, and of [`Authenticated`] and
    /// [`Authorize`] on the routes it wraps) with `handler` instead of the default response.
    /// The [`ProtectError`] gives the status, the challenges and the error code.
    ///
    /// ```
    /// use actix_web::{HttpResponse, http::StatusCode};
    /// use auth0_api_actix::{Protect, ProtectError};
    ///
    /// fn with_handler(protect: Protect) -> Protect {
    ///     protect.error_handler(|error: &ProtectError, _request| {
    ///         let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::UNAUTHORIZED);
    ///         HttpResponse::build(status).body(error.error_code())
    ///     })
    /// }
    /// ```
    ///
    /// [`Authenticated`]: crate::Authenticated
    /// [`Authorize`]: crate::Authorize
    pub fn error_handler(
        mut self,
        handler: impl Fn(&ProtectError, &HttpRequest) -> HttpResponse + Send + Sync + 'static,
    ) -> Self {
        self.on_error = Some(Arc::new(handler));
        self
    }
}

impl fmt::Debug for Protect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Protect")
            .field("options", &self.options)
            .field("error_handler", &self.on_error.is_some())
            .finish_non_exhaustive()
    }
}

impl<S, B> Transform<S, ServiceRequest> for Protect
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = ProtectMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(ProtectMiddleware {
            service: Rc::new(service),
            shared: Rc::new(Shared {
                backend: Arc::clone(&self.backend),
                options: self.options.clone(),
                on_error: self.on_error.clone(),
            }),
        }))
    }
}

/// The service [`Protect`] wraps around a route; see there.
pub struct ProtectMiddleware<S> {
    service: Rc<S>,
    shared: Rc<Shared>,
}

impl<S> fmt::Debug for ProtectMiddleware<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProtectMiddleware").finish_non_exhaustive()
    }
}

impl<S, B> Service<ServiceRequest> for ProtectMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = ResponseFuture<S::Future, B>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let span = RequestSpan::start(request.method().as_str());
        let shared = &self.shared;
        let outcome = match shared.prepare(&request) {
            Ok(Some(credentials)) => {
                // Most requests are answered here, from the caches, without a future of
                // our own.
                let cached =
                    span.in_scope(|| shared.backend.verify_cached(&shared.options, &credentials));
                match cached {
                    Some(outcome) => outcome.map(Some),
                    // A fetch, a wait or a replay check: a boxed future verifies, then
                    // answers as below. Dropping it abandons the wait.
                    None => {
                        let service = Rc::clone(&self.service);
                        let shared = Rc::clone(shared);
                        let inner = span.clone();
                        return ResponseFuture::waiting(span.boxed(async move {
                            let outcome = shared.backend.verify(&shared.options, &credentials);
                            let outcome = outcome.await.map(Some);
                            answer(&service, &shared, request, outcome, inner).await
                        }));
                    }
                }
            }
            Ok(None) => Ok(None),
            Err(error) => Err(error),
        };
        answer(&self.service, shared, request, outcome, span)
    }
}

/// The answer to a request whose verification is over: the wrapped service's, with the
/// claims in the request extensions, or the refusal.
fn answer<S, B>(
    service: &S,
    shared: &Rc<Shared>,
    request: ServiceRequest,
    outcome: Result<Option<Verified>, ProtectError>,
    span: RequestSpan,
) -> ResponseFuture<S::Future, B>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    span.record_outcome(&outcome);
    match outcome {
        Ok(verified) => {
            {
                let mut extensions = request.extensions_mut();
                extensions.insert(Installed(Rc::clone(shared)));
                if let Some(verified) = verified {
                    extensions.insert(verified);
                }
                span.attach(&mut extensions);
            }
            ResponseFuture::inner(span.in_scope(|| service.call(request)), span)
        }
        Err(error) => {
            let refusal = shared.refuse(&error, request.request());
            span.record_status(refusal.status().as_u16());
            ResponseFuture::ready(request.into_response(refusal).map_into_right_body())
        }
    }
}

/// What a [`ProtectMiddleware`] shares with the extractor and the guard, through the
/// request extensions: the verifier and the error handler.
pub(crate) struct Shared {
    backend: Arc<dyn Backend>,
    options: ProtectOptions,
    on_error: Option<ErrorHandler>,
}

/// The mark [`ProtectMiddleware`] leaves on every request it passes on.
#[derive(Clone)]
pub(crate) struct Installed(pub(crate) Rc<Shared>);

impl Shared {
    /// The credentials of `request`, `None` for an anonymous request when credentials are
    /// optional.
    fn prepare(&self, request: &ServiceRequest) -> Result<Option<Credentials>, ProtectError> {
        // The target as received: `/path?query` (origin form). Plain strings and bytes
        // cross to the driver: actix-web speaks `http` 0.2, the workspace `http` 1.
        let target = request
            .uri()
            .path_and_query()
            .map_or(request.path(), |target| target.as_str());
        let headers = request
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_bytes()));
        let method = request.method().as_str();
        self.options
            .prepare(self.backend.verifier(), method, target, headers)
    }

    pub(crate) fn verifier(&self) -> &Verifier {
        self.backend.verifier()
    }

    /// The answer to a refused request: the user's handler's, or the default one. A
    /// misconfiguration is logged.
    pub(crate) fn refuse(&self, error: &ProtectError, request: &HttpRequest) -> HttpResponse {
        if let ProtectError::Misconfigured(cause) = error {
            response::log_misconfiguration(cause, request);
        }
        match &self.on_error {
            Some(handler) => handler(error, request),
            None => response::error_response(error),
        }
    }
}
