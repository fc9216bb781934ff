//! Refusals as actix-web responses.

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use actix_web::{HttpRequest, HttpResponse};
use auth0_api_driver::protect::{ErrorResponse, Misconfiguration, ProtectError};

/// The default answer: the status, each `WWW-Authenticate` value as its own header (RFC
/// 9110 section 11.6.1 allows one field per challenge; several challenges in one field are
/// hard to parse), and the JSON body `{"error": ..., "error_description": ...}`.
pub(crate) fn error_response(error: &ProtectError) -> HttpResponse {
    let answer = ErrorResponse::from(error);
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    for challenge in &answer.www_authenticate {
        response.append_header((WWW_AUTHENTICATE, challenge.as_str()));
    }
    response
        .insert_header((CONTENT_TYPE, ErrorResponse::CONTENT_TYPE))
        .body(answer.body)
}

/// Logs why a request cannot be served as configured, with the route it was for (its
/// pattern, never the request target, which may hold a token).
pub(crate) fn log_misconfiguration(cause: &Misconfiguration, request: &HttpRequest) {
    let route = request.match_pattern();
    let route = route.as_deref().unwrap_or("(no matching route)");
    crate::trace::error(format_args!(
        "auth0-api-actix: {cause} (route {route}, method {})",
        request.method()
    ));
}

/// The refusal when the route has no [`Protect`](crate::Protect) middleware: 500, logged.
pub(crate) fn not_installed(request: &HttpRequest) -> HttpResponse {
    let cause = Misconfiguration::NotInstalled;
    log_misconfiguration(&cause, request);
    error_response(&ProtectError::Misconfigured(cause))
}
