//! What the caller knows about the HTTP request a token came with.

use crate::jose::Algorithm;

/// The request context of a verification (SPEC section 2, "Input").
///
/// Every field is optional: a plain bearer verification needs none.
///
/// ```
/// use auth0_api::RequestContext;
///
/// let ctx = RequestContext {
///     scheme: Some("DPoP"),
///     dpop_proof: Some("eyJ..."),
///     http_method: Some("GET"),
///     http_url: Some("https://api.example.com/orders"),
///     ..RequestContext::default()
/// };
/// assert!(ctx.headers.is_empty());
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestContext<'a> {
    /// The authentication scheme as received (`Bearer`, `DPoP`; compared ignoring case).
    /// Absent means `Bearer`.
    pub scheme: Option<&'a str>,
    /// The `DPoP` header value.
    pub dpop_proof: Option<&'a str>,
    /// The request method, for the proof's `htm`.
    pub http_method: Option<&'a str>,
    /// The full request URL, for the proof's `htu` and the domain resolver.
    pub http_url: Option<&'a str>,
    /// The request headers, for the domain resolver.
    pub headers: &'a [(&'a str, &'a str)],
    /// Claims required for this call, in addition to the configured ones.
    pub required_claims: &'a [alloc::string::String],
    /// An algorithm list for this call, replacing the configured one.
    pub algorithms: Option<&'a [Algorithm]>,
}
