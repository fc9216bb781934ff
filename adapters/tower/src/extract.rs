//! axum extractors for the claims a [`ProtectLayer`](crate::ProtectLayer) verified.

use std::fmt;

use auth0_api::{Claims, Reason};
use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;
use serde::de::DeserializeOwned;

use crate::{ErrorHandler, Installed, ProtectError, Verified, not_installed, respond};

/// The verified claims of the request, as [`Claims`] or deserialized into `T`.
///
/// Needs a [`ProtectLayer`](crate::ProtectLayer) in front of the route:
///
/// - without it, the extractor answers 500 (and logs why), never panics;
/// - behind a layer with optional credentials and a request that gave none, it answers 401
///   with the verifier's challenges; use `Option<Authenticated>` to accept such requests;
/// - claims that do not fit `T` (a claim missing or of another type) are 401
///   `invalid_token`, with a description that does not echo any claim value.
///
/// ```
/// use auth0_api_tower::Authenticated;
/// #[derive(serde::Deserialize)]
/// struct User {
///     sub: String,
///     #[serde(default)]
///     permissions: Vec<String>,
/// }
///
/// async fn me(Authenticated(user): Authenticated<User>) -> String {
///     format!("{} has {} permissions", user.sub, user.permissions.len())
/// }
///
/// async fn maybe(user: Option<Authenticated>) -> &'static str {
///     if user.is_some() { "signed in" } else { "anonymous" }
/// }
/// # let _ = (me, maybe);
/// ```
#[derive(Clone, Debug)]
pub struct Authenticated<T = Claims>(pub T);

/// Why [`Authenticated`] refused a request; answers as the layer would (the layer's error
/// handler, else the default JSON response).
pub struct AuthRejection {
    error: ProtectError,
    on_error: Option<ErrorHandler>,
}

impl AuthRejection {
    /// The error.
    pub fn error(&self) -> &ProtectError {
        &self.error
    }
}

impl fmt::Debug for AuthRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthRejection")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for AuthRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl std::error::Error for AuthRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        respond(&self.error, self.on_error.as_ref())
    }
}

impl<S, T> FromRequestParts<S> for Authenticated<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send + 'static,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match <Self as OptionalFromRequestParts<S>>::from_request_parts(parts, _state).await {
            Ok(Some(found)) => Ok(found),
            Ok(None) => {
                let installed = parts.extensions.get::<Installed>();
                let (error, on_error) = match installed {
                    Some(installed) => (
                        ProtectError::Rejected(
                            installed
                                .verifier()
                                .reject(Reason::MissingToken, auth0_api::AuthScheme::Bearer),
                        ),
                        installed.on_error.clone(),
                    ),
                    None => (not_installed("the Authenticated extractor"), None),
                };
                Err(AuthRejection { error, on_error })
            }
            Err(rejection) => Err(rejection),
        }
    }
}

impl<S, T> OptionalFromRequestParts<S> for Authenticated<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send + 'static,
{
    type Rejection = AuthRejection;

    /// `None` only behind a layer that let a request without credentials pass; a missing
    /// layer is still 500, never a silent "anonymous".
    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let Some(installed) = parts.extensions.get::<Installed>() else {
            return Err(AuthRejection {
                error: not_installed("the Authenticated extractor"),
                on_error: None,
            });
        };
        let Some(verified) = parts.extensions.get::<Verified>() else {
            return Ok(None);
        };
        match verified.claims_as::<T>() {
            Ok(value) => Ok(Some(Authenticated(value))),
            Err(error) => {
                // The serde message may quote a claim value: log only the target type.
                tracing::debug!(
                    target_type = std::any::type_name::<T>(),
                    "verified claims do not fit the extractor's type"
                );
                let error = installed
                    .verifier()
                    .reject(Reason::Claims(error), verified.scheme);
                Err(AuthRejection {
                    error: ProtectError::Rejected(error),
                    on_error: installed.on_error.clone(),
                })
            }
        }
    }
}
