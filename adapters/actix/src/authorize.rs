//! [`Authorize`]: a route guard checking the verified claims against a [`Policy`].

use std::fmt;
use std::future::{Ready, ready};
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::EitherBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::{Error, HttpMessage as _, HttpResponse};
use auth0_api::Policy;
use auth0_api_driver::protect::{self, Verified};

use crate::future::ResponseFuture;
use crate::middleware::Installed;
use crate::response;
use crate::trace::RequestSpan;

/// Middleware that lets a request through only when its verified claims satisfy a
/// [`Policy`]; else 403 `insufficient_scope` (RFC 6750 section 3.1), with the required
/// scopes in the challenge's `scope` when the policy names scopes.
///
/// Wrap it inside [`Protect`](crate::Protect), on the resources or scopes that need more
/// than a valid token. An anonymous request (credentials [optional](crate::Protect::optional))
/// gets 401 with the challenges; a route without `Protect` gets 500 and an error log line.
///
/// ```
/// use actix_web::{HttpResponse, web};
/// use auth0_api_actix::{Authorize, Policy};
///
/// let orders = web::resource("/orders")
///     .wrap(Authorize::new(Policy::new().all_scopes(["read:orders"])))
///     .route(web::get().to(|| async { HttpResponse::Ok() }));
/// # let _ = orders;
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct Authorize {
    policy: Arc<Policy>,
}

impl Authorize {
    /// A guard requiring `policy`.
    pub fn new(policy: Policy) -> Self {
        Self {
            policy: Arc::new(policy),
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for Authorize
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = AuthorizeMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(AuthorizeMiddleware {
            service: Rc::new(service),
            policy: Arc::clone(&self.policy),
        }))
    }
}

/// The service [`Authorize`] wraps around a route; see there.
pub struct AuthorizeMiddleware<S> {
    service: Rc<S>,
    policy: Arc<Policy>,
}

impl<S> fmt::Debug for AuthorizeMiddleware<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizeMiddleware")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<S, B> Service<ServiceRequest> for AuthorizeMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = ResponseFuture<S::Future, B>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        match self.refusal(&request) {
            // The status is recorded by `Protect`, whose span covers this service.
            None => ResponseFuture::inner(self.service.call(request), RequestSpan::none()),
            Some(refusal) => {
                ResponseFuture::ready(request.into_response(refusal).map_into_right_body())
            }
        }
    }
}

impl<S> AuthorizeMiddleware<S> {
    /// `None` when the request's claims satisfy the policy, else the response to send.
    fn refusal(&self, request: &ServiceRequest) -> Option<HttpResponse> {
        let extensions = request.extensions();
        let Some(Installed(shared)) = extensions.get::<Installed>() else {
            RequestSpan::record_in(&extensions, "server_error");
            return Some(response::not_installed(request.request()));
        };
        let verified = extensions.get::<Verified>();
        let error = protect::authorize(shared.verifier(), verified, &self.policy).err()?;
        RequestSpan::record_in(&extensions, error.error_code());
        Some(shared.refuse(&error, request.request()))
    }
}
