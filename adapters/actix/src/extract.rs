//! [`Authenticated`]: the verified claims, as the handler's argument.

use std::future::{Ready, ready};
use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::error::InternalError;
use actix_web::{FromRequest, HttpMessage as _, HttpRequest};
use auth0_api::{AuthScheme, Claims, Reason};
use auth0_api_driver::protect::{Misconfiguration, ProtectError, Verified};
use serde::de::DeserializeOwned;

use crate::middleware::Installed;
use crate::response;
use crate::trace::RequestSpan;

/// The verified claims of the request, as [`Claims`] or deserialised into your type `T`.
///
/// Needs the [`Protect`](crate::Protect) middleware on the route. The extraction fails with:
///
/// - 401 and the challenges without an error code, when credentials are
///   [optional](crate::Protect::optional) and the request has none (use
///   `Option<Authenticated>` on routes that also serve anonymous requests);
/// - 401 `invalid_token` ("claims do not fit the requested type") when the claims do not
///   deserialise into `T`: the token lacks what the route needs;
/// - 500 `server_error` and an error log line when the middleware is not installed.
///
/// ```
/// use actix_web::{HttpResponse, web};
/// use auth0_api_actix::Authenticated;
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct Member {
///     sub: String,
///     org_id: String,
/// }
///
/// async fn me(user: Authenticated) -> HttpResponse {
///     // Derefs to `Claims`.
///     HttpResponse::Ok().body(user.sub().ok().flatten().unwrap_or_default().to_owned())
/// }
///
/// async fn org(member: Authenticated<Member>) -> HttpResponse {
///     let member = member.into_inner();
///     HttpResponse::Ok().body(format!("{} in {}", member.sub, member.org_id))
/// }
///
/// async fn hello(user: Option<Authenticated>) -> HttpResponse {
///     let name = user.as_ref().and_then(|u| u.sub().ok().flatten()).unwrap_or("stranger");
///     HttpResponse::Ok().body(format!("hello {name}"))
/// }
/// # let _ = (web::get().to(me), web::get().to(org), web::get().to(hello));
/// ```
#[derive(Clone, Debug)]
pub struct Authenticated<T = Claims> {
    value: T,
    scheme: AuthScheme,
}

impl<T> Authenticated<T> {
    /// The claims.
    pub fn into_inner(self) -> T {
        self.value
    }

    /// The scheme the token came with: `Bearer`, or `DPoP` for a proof-of-possession token.
    pub fn scheme(&self) -> AuthScheme {
        self.scheme
    }
}

impl<T> Deref for Authenticated<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Authenticated<T> {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticated(request))
    }
}

fn authenticated<T: DeserializeOwned + 'static>(
    request: &HttpRequest,
) -> Result<Authenticated<T>, actix_web::Error> {
    let extensions = request.extensions();
    let refusal = |error: ProtectError, response| {
        RequestSpan::record_in(&extensions, error.error_code());
        InternalError::from_response(error, response).into()
    };
    let Some(Installed(shared)) = extensions.get::<Installed>() else {
        let error = ProtectError::Misconfigured(Misconfiguration::NotInstalled);
        return Err(refusal(error, response::not_installed(request)));
    };
    let Some(verified) = extensions.get::<Verified>() else {
        let error = ProtectError::Rejected(
            shared
                .verifier()
                .reject(Reason::MissingToken, AuthScheme::Bearer),
        );
        let response = shared.refuse(&error, request);
        return Err(refusal(error, response));
    };
    match verified.claims_as() {
        Ok(value) => Ok(Authenticated {
            value,
            scheme: verified.scheme,
        }),
        Err(cause) => {
            let error = ProtectError::Rejected(
                shared
                    .verifier()
                    .reject(Reason::Claims(cause), verified.scheme),
            );
            let response = shared.refuse(&error, request);
            Err(refusal(error, response))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use auth0_api::ClaimError;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Member {
        sub: String,
        org_id: String,
    }

    fn claims(json: &str) -> Claims {
        Claims::from_payload(json.as_bytes(), 16).unwrap()
    }

    fn verified(claims: &Claims) -> Verified {
        Verified {
            claims: claims.clone(),
            scheme: AuthScheme::Bearer,
        }
    }

    #[test]
    fn claims_convert_to_themselves_or_to_the_callers_type() {
        let all = claims(r#"{"sub":"u","org_id":"o","n":1}"#);
        assert_eq!(verified(&all).claims_as::<Claims>().unwrap(), all);
        assert_eq!(
            verified(&all).claims_as::<Member>().unwrap(),
            Member {
                sub: "u".into(),
                org_id: "o".into()
            }
        );
        assert_eq!(
            verified(&claims(r#"{"sub":"u"}"#)).claims_as::<Member>(),
            Err(ClaimError::Deserialize)
        );
        assert_eq!(
            verified(&claims(r#"{"sub":"u","org_id":7}"#)).claims_as::<Member>(),
            Err(ClaimError::Deserialize)
        );
    }
}
