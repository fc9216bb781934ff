//! OAuth 2.0 Protected Resource Metadata (RFC 9728): a builder, the JSON document and the
//! well-known URL it is served at.
//!
//! ```
//! use auth0_api::resource_metadata::{metadata_url, BearerMethod, ProtectedResourceMetadataBuilder};
//! let metadata = ProtectedResourceMetadataBuilder::new(
//!     "https://api.example.com",
//!     ["https://tenant.auth0.com/"],
//! )
//! .scopes_supported(["read:items"])
//! .bearer_methods_supported([BearerMethod::Header])
//! .build()
//! .unwrap();
//! assert_eq!(
//!     metadata.to_json(),
//!     r#"{"resource":"https://api.example.com","authorization_servers":["https://tenant.auth0.com/"],"scopes_supported":["read:items"],"bearer_methods_supported":["header"]}"#
//! );
//! assert_eq!(
//!     metadata_url("https://api.example.com/v1").unwrap(),
//!     "https://api.example.com/.well-known/oauth-protected-resource/v1"
//! );
//! ```

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::Serialize;

/// The well-known path suffix registered by RFC 9728 section 3.
pub const WELL_KNOWN_SUFFIX: &str = "oauth-protected-resource";

/// A way of sending a bearer token (RFC 9728 section 2, `bearer_methods_supported`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BearerMethod {
    /// The `Authorization` header (RFC 6750 section 2.1).
    Header,
    /// A form-encoded body field (RFC 6750 section 2.2).
    Body,
    /// A URI query parameter (RFC 6750 section 2.3).
    Query,
}

/// Protected Resource Metadata (RFC 9728 section 2), validated. Serialises to the JSON
/// document with absent fields omitted, members in the RFC's order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProtectedResourceMetadata {
    resource: String,
    authorization_servers: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jwks_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scopes_supported: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bearer_methods_supported: Option<Vec<BearerMethod>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_signing_alg_values_supported: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_documentation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_policy_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_tos_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_client_certificate_bound_access_tokens: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    authorization_details_types_supported: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dpop_signing_alg_values_supported: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dpop_bound_access_tokens_required: Option<bool>,
}

impl ProtectedResourceMetadata {
    /// The resource identifier.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The authorization server issuer identifiers, never empty.
    pub fn authorization_servers(&self) -> &[String] {
        &self.authorization_servers
    }

    /// The JSON document (RFC 9728 section 3.2), absent fields omitted.
    pub fn to_json(&self) -> String {
        // Serialising strings, booleans and lists into memory cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The URL this document is served at; see [`metadata_url`].
    pub fn metadata_url(&self) -> String {
        // `build` checked the resource, so it always splits.
        metadata_url(&self.resource).unwrap_or_default()
    }
}

/// Builds [`ProtectedResourceMetadata`]. Setters take the wire names of RFC 9728 section 2.
#[derive(Clone, Debug)]
#[must_use]
pub struct ProtectedResourceMetadataBuilder {
    metadata: ProtectedResourceMetadata,
}

impl ProtectedResourceMetadataBuilder {
    /// Starts with the two required members: the resource identifier and the issuer
    /// identifiers of the authorization servers that can be used with it.
    pub fn new<S: Into<String>>(
        resource: impl Into<String>,
        authorization_servers: impl IntoIterator<Item = S>,
    ) -> Self {
        Self {
            metadata: ProtectedResourceMetadata {
                resource: resource.into(),
                authorization_servers: authorization_servers.into_iter().map(Into::into).collect(),
                jwks_uri: None,
                scopes_supported: None,
                bearer_methods_supported: None,
                resource_signing_alg_values_supported: None,
                resource_name: None,
                resource_documentation: None,
                resource_policy_uri: None,
                resource_tos_uri: None,
                tls_client_certificate_bound_access_tokens: None,
                authorization_details_types_supported: None,
                dpop_signing_alg_values_supported: None,
                dpop_bound_access_tokens_required: None,
            },
        }
    }

    /// `jwks_uri`: the resource's own JWK Set (an `https` URL).
    pub fn jwks_uri(mut self, uri: impl Into<String>) -> Self {
        self.metadata.jwks_uri = Some(uri.into());
        self
    }

    /// `scopes_supported`.
    pub fn scopes_supported<S: Into<String>>(
        mut self,
        scopes: impl IntoIterator<Item = S>,
    ) -> Self {
        self.metadata.scopes_supported = Some(strings(scopes));
        self
    }

    /// `bearer_methods_supported`; an empty list means no bearer method is supported.
    pub fn bearer_methods_supported(
        mut self,
        methods: impl IntoIterator<Item = BearerMethod>,
    ) -> Self {
        self.metadata.bearer_methods_supported = Some(methods.into_iter().collect());
        self
    }

    /// `resource_signing_alg_values_supported` (`none` is refused by `build`).
    pub fn resource_signing_alg_values_supported<S: Into<String>>(
        mut self,
        algs: impl IntoIterator<Item = S>,
    ) -> Self {
        self.metadata.resource_signing_alg_values_supported = Some(strings(algs));
        self
    }

    /// `resource_name`: a human-readable name.
    pub fn resource_name(mut self, name: impl Into<String>) -> Self {
        self.metadata.resource_name = Some(name.into());
        self
    }

    /// `resource_documentation`: a URL of developer documentation.
    pub fn resource_documentation(mut self, uri: impl Into<String>) -> Self {
        self.metadata.resource_documentation = Some(uri.into());
        self
    }

    /// `resource_policy_uri`: a URL of the data usage policy.
    pub fn resource_policy_uri(mut self, uri: impl Into<String>) -> Self {
        self.metadata.resource_policy_uri = Some(uri.into());
        self
    }

    /// `resource_tos_uri`: a URL of the terms of service.
    pub fn resource_tos_uri(mut self, uri: impl Into<String>) -> Self {
        self.metadata.resource_tos_uri = Some(uri.into());
        self
    }

    /// `tls_client_certificate_bound_access_tokens` (RFC 8705).
    pub fn tls_client_certificate_bound_access_tokens(mut self, bound: bool) -> Self {
        self.metadata.tls_client_certificate_bound_access_tokens = Some(bound);
        self
    }

    /// `authorization_details_types_supported` (RFC 9396).
    pub fn authorization_details_types_supported<S: Into<String>>(
        mut self,
        types: impl IntoIterator<Item = S>,
    ) -> Self {
        self.metadata.authorization_details_types_supported = Some(strings(types));
        self
    }

    /// `dpop_signing_alg_values_supported` (RFC 9449).
    pub fn dpop_signing_alg_values_supported<S: Into<String>>(
        mut self,
        algs: impl IntoIterator<Item = S>,
    ) -> Self {
        self.metadata.dpop_signing_alg_values_supported = Some(strings(algs));
        self
    }

    /// `dpop_bound_access_tokens_required` (RFC 9449).
    pub fn dpop_bound_access_tokens_required(mut self, required: bool) -> Self {
        self.metadata.dpop_bound_access_tokens_required = Some(required);
        self
    }

    /// Validates and returns the metadata.
    ///
    /// # Errors
    /// - [`ResourceMetadataError::InvalidResource`]: `resource` is not an `https` URL with a
    ///   host and without fragment (RFC 9728 section 1.2).
    /// - [`ResourceMetadataError::MissingAuthorizationServers`]: the list is empty.
    /// - [`ResourceMetadataError::InvalidAuthorizationServer`]: an entry is not an issuer
    ///   identifier (`https`, no query, no fragment; RFC 8414 section 2).
    /// - [`ResourceMetadataError::InvalidJwksUri`]: `jwks_uri` is not an `https` URL.
    /// - [`ResourceMetadataError::UnsecuredAlgorithm`]: `none` among the signing algorithms
    ///   (RFC 9728 section 2).
    pub fn build(self) -> Result<ProtectedResourceMetadata, ResourceMetadataError> {
        let m = self.metadata;
        if split_https(&m.resource).is_none_or(|url| url.fragment) {
            return Err(ResourceMetadataError::InvalidResource);
        }
        if m.authorization_servers.is_empty() {
            return Err(ResourceMetadataError::MissingAuthorizationServers);
        }
        let is_issuer = |s: &String| split_https(s).is_some_and(|u| !u.query && !u.fragment);
        if !m.authorization_servers.iter().all(is_issuer) {
            return Err(ResourceMetadataError::InvalidAuthorizationServer);
        }
        if m.jwks_uri
            .as_deref()
            .is_some_and(|uri| split_https(uri).is_none_or(|u| u.fragment))
        {
            return Err(ResourceMetadataError::InvalidJwksUri);
        }
        let has_none = m
            .resource_signing_alg_values_supported
            .iter()
            .chain(m.dpop_signing_alg_values_supported.iter())
            .flatten()
            .any(|alg| alg == "none");
        if has_none {
            return Err(ResourceMetadataError::UnsecuredAlgorithm);
        }
        Ok(m)
    }
}

fn strings<S: Into<String>>(items: impl IntoIterator<Item = S>) -> Vec<String> {
    items.into_iter().map(Into::into).collect()
}

/// The well-known URL of a resource's metadata (RFC 9728 section 3.1):
/// `/.well-known/oauth-protected-resource` goes between the host (and port) and the path
/// and query, after removing a path that is only `/`.
///
/// `https://api.example.com/` and `https://api.example.com` give
/// `https://api.example.com/.well-known/oauth-protected-resource`;
/// `https://api.example.com/v1?x=1` gives
/// `https://api.example.com/.well-known/oauth-protected-resource/v1?x=1`.
///
/// # Errors
/// [`ResourceMetadataError::InvalidResource`] when `resource` is not an `https` URL with a
/// host and without fragment.
pub fn metadata_url(resource: &str) -> Result<String, ResourceMetadataError> {
    let url = split_https(resource).ok_or(ResourceMetadataError::InvalidResource)?;
    if url.fragment {
        return Err(ResourceMetadataError::InvalidResource);
    }
    let path_and_query = url
        .path_and_query
        .strip_prefix('/')
        .unwrap_or(url.path_and_query);
    let path_and_query = match path_and_query.strip_prefix('?') {
        // Only a query: it follows the suffix directly.
        Some(query) => format!("?{query}"),
        None if path_and_query.is_empty() => String::new(),
        None => format!("/{path_and_query}"),
    };
    Ok(format!(
        "{}/.well-known/{WELL_KNOWN_SUFFIX}{path_and_query}",
        url.origin
    ))
}

/// An `https` URL cut at the end of its authority.
struct HttpsUrl<'a> {
    /// `https://authority`.
    origin: &'a str,
    /// Everything after the authority, up to a fragment.
    path_and_query: &'a str,
    /// Whether a query is present.
    query: bool,
    /// Whether a fragment (`#`, even empty) is present.
    fragment: bool,
}

/// Splits an absolute `https` URL (scheme ignoring case), requiring a non-empty authority
/// without user info and no white space or control characters anywhere.
fn split_https(url: &str) -> Option<HttpsUrl<'_>> {
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) || url.contains('\\') {
        return None;
    }
    let scheme = url.get(..8)?;
    if !scheme.eq_ignore_ascii_case("https://") {
        return None;
    }
    let after = url.get(8..)?;
    let authority_len = after.find(['/', '?', '#']).unwrap_or(after.len());
    let authority = after.get(..authority_len)?;
    if authority.is_empty() || authority.starts_with(':') || authority.contains('@') {
        return None;
    }
    let origin = url.get(..authority_len.checked_add(8)?)?;
    let rest = after.get(authority_len..)?;
    let (path_and_query, fragment) = match rest.split_once('#') {
        Some((before, _)) => (before, true),
        None => (rest, false),
    };
    Some(HttpsUrl {
        origin,
        path_and_query,
        query: path_and_query.contains('?'),
        fragment,
    })
}

/// Why Protected Resource Metadata is invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResourceMetadataError {
    /// `resource` is not an `https` URL with a host and without fragment.
    InvalidResource,
    /// `authorization_servers` is empty.
    MissingAuthorizationServers,
    /// An authorization server is not an `https` issuer identifier.
    InvalidAuthorizationServer,
    /// `jwks_uri` is not an `https` URL.
    InvalidJwksUri,
    /// `none` is listed as a signing algorithm.
    UnsecuredAlgorithm,
}

impl ResourceMetadataError {
    /// The configuration error code shared with the rest of the crate:
    /// `missing_required_argument_error` for an empty server list,
    /// `invalid_configuration_error` otherwise.
    pub const fn code(&self) -> &'static str {
        match self {
            ResourceMetadataError::MissingAuthorizationServers => "missing_required_argument_error",
            _ => "invalid_configuration_error",
        }
    }
}

impl fmt::Display for ResourceMetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResourceMetadataError::InvalidResource => {
                "resource must be an https url without fragment"
            }
            ResourceMetadataError::MissingAuthorizationServers => {
                "authorization_servers must not be empty"
            }
            ResourceMetadataError::InvalidAuthorizationServer => {
                "authorization server must be an https url without query or fragment"
            }
            ResourceMetadataError::InvalidJwksUri => "jwks_uri must be an https url",
            ResourceMetadataError::UnsecuredAlgorithm => "signing algorithm none is not allowed",
        })
    }
}

impl core::error::Error for ResourceMetadataError {}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    const AS: &str = "https://tenant.auth0.com/";

    #[test]
    fn full_document_in_rfc_order() {
        let metadata = ProtectedResourceMetadataBuilder::new("https://api.example.com", [AS])
            .jwks_uri("https://api.example.com/jwks.json")
            .scopes_supported(["read", "write"])
            .bearer_methods_supported([
                BearerMethod::Header,
                BearerMethod::Body,
                BearerMethod::Query,
            ])
            .resource_signing_alg_values_supported(["RS256"])
            .resource_name("Example \"API\"")
            .resource_documentation("https://docs.example.com")
            .resource_policy_uri("https://example.com/policy")
            .resource_tos_uri("https://example.com/tos")
            .tls_client_certificate_bound_access_tokens(false)
            .authorization_details_types_supported(["payment"])
            .dpop_signing_alg_values_supported(["ES256"])
            .dpop_bound_access_tokens_required(true)
            .build()
            .unwrap();
        let expected = concat!(
            r#"{"resource":"https://api.example.com","#,
            r#""authorization_servers":["https://tenant.auth0.com/"],"#,
            r#""jwks_uri":"https://api.example.com/jwks.json","#,
            r#""scopes_supported":["read","write"],"#,
            r#""bearer_methods_supported":["header","body","query"],"#,
            r#""resource_signing_alg_values_supported":["RS256"],"#,
            r#""resource_name":"Example \"API\"","#,
            r#""resource_documentation":"https://docs.example.com","#,
            r#""resource_policy_uri":"https://example.com/policy","#,
            r#""resource_tos_uri":"https://example.com/tos","#,
            r#""tls_client_certificate_bound_access_tokens":false,"#,
            r#""authorization_details_types_supported":["payment"],"#,
            r#""dpop_signing_alg_values_supported":["ES256"],"#,
            r#""dpop_bound_access_tokens_required":true}"#,
        );
        assert_eq!(metadata.to_json(), expected);
        assert_eq!(metadata.resource(), "https://api.example.com");
        assert_eq!(metadata.authorization_servers(), [AS.to_string()]);
        assert_eq!(
            metadata.metadata_url(),
            "https://api.example.com/.well-known/oauth-protected-resource"
        );
    }

    #[test]
    fn minimal_document_omits_absent_fields() {
        let metadata = ProtectedResourceMetadataBuilder::new("https://api.example.com/", vec![AS])
            .scopes_supported(Vec::<String>::new())
            .build()
            .unwrap();
        assert_eq!(
            metadata.to_json(),
            r#"{"resource":"https://api.example.com/","authorization_servers":["https://tenant.auth0.com/"],"scopes_supported":[]}"#
        );
    }

    #[test]
    fn build_errors() {
        use ResourceMetadataError as E;
        let build = |resource: &str, servers: &[&str]| {
            ProtectedResourceMetadataBuilder::new(resource, servers.iter().copied()).build()
        };
        let cases: &[(&str, &[&str], Result<(), ResourceMetadataError>)] = &[
            ("https://api.example.com", &[AS], Ok(())),
            (
                "HTTPS://api.example.com/v1?x=1",
                &[AS, "https://other.example.com"],
                Ok(()),
            ),
            ("", &[AS], Err(E::InvalidResource)),
            ("api.example.com", &[AS], Err(E::InvalidResource)),
            ("http://api.example.com", &[AS], Err(E::InvalidResource)),
            ("https://", &[AS], Err(E::InvalidResource)),
            ("https:///x", &[AS], Err(E::InvalidResource)),
            ("https://:443/", &[AS], Err(E::InvalidResource)),
            ("https://u@api.example.com", &[AS], Err(E::InvalidResource)),
            ("https://api.example.com#", &[AS], Err(E::InvalidResource)),
            ("https://api.example.com/#x", &[AS], Err(E::InvalidResource)),
            (
                "https://api.example.com/a b",
                &[AS],
                Err(E::InvalidResource),
            ),
            (
                "https://api.example.com\r\n",
                &[AS],
                Err(E::InvalidResource),
            ),
            (
                "https://api.example.com",
                &[],
                Err(E::MissingAuthorizationServers),
            ),
            (
                "https://api.example.com",
                &["tenant.auth0.com"],
                Err(E::InvalidAuthorizationServer),
            ),
            (
                "https://api.example.com",
                &[AS, "http://t/"],
                Err(E::InvalidAuthorizationServer),
            ),
            (
                "https://api.example.com",
                &["https://t/?x"],
                Err(E::InvalidAuthorizationServer),
            ),
            (
                "https://api.example.com",
                &["https://t/#"],
                Err(E::InvalidAuthorizationServer),
            ),
        ];
        for (resource, servers, expected) in cases {
            assert_eq!(
                &build(resource, servers).map(|_| ()),
                expected,
                "{resource:?} {servers:?}"
            );
        }
        let with = |b: ProtectedResourceMetadataBuilder| b.build().map(|_| ());
        let base = || ProtectedResourceMetadataBuilder::new("https://api.example.com", [AS]);
        assert_eq!(
            with(base().jwks_uri("http://x/jwks")),
            Err(E::InvalidJwksUri)
        );
        assert_eq!(with(base().jwks_uri("https://x/jwks")), Ok(()));
        assert_eq!(
            with(base().resource_signing_alg_values_supported(["none"])),
            Err(E::UnsecuredAlgorithm)
        );
        assert_eq!(
            with(base().dpop_signing_alg_values_supported(["ES256", "none"])),
            Err(E::UnsecuredAlgorithm)
        );
        assert_eq!(
            E::MissingAuthorizationServers.code(),
            "missing_required_argument_error"
        );
        assert_eq!(E::InvalidResource.code(), "invalid_configuration_error");
        assert_eq!(
            E::InvalidJwksUri.to_string(),
            "jwks_uri must be an https url"
        );
    }

    #[test]
    fn well_known_url_table() {
        let cases: &[(&str, Result<&str, ResourceMetadataError>)] = &[
            (
                "https://api.example.com",
                Ok("https://api.example.com/.well-known/oauth-protected-resource"),
            ),
            (
                "https://api.example.com/",
                Ok("https://api.example.com/.well-known/oauth-protected-resource"),
            ),
            (
                "https://resource.example.com/resource1",
                Ok("https://resource.example.com/.well-known/oauth-protected-resource/resource1"),
            ),
            (
                "https://api.example.com/v1/",
                Ok("https://api.example.com/.well-known/oauth-protected-resource/v1/"),
            ),
            (
                "https://api.example.com:8443/v1",
                Ok("https://api.example.com:8443/.well-known/oauth-protected-resource/v1"),
            ),
            (
                "https://api.example.com?x=1",
                Ok("https://api.example.com/.well-known/oauth-protected-resource?x=1"),
            ),
            (
                "https://api.example.com/?x=1",
                Ok("https://api.example.com/.well-known/oauth-protected-resource?x=1"),
            ),
            (
                "https://api.example.com/v1?x=1",
                Ok("https://api.example.com/.well-known/oauth-protected-resource/v1?x=1"),
            ),
            (
                "https://api.example.com/#f",
                Err(ResourceMetadataError::InvalidResource),
            ),
            (
                "http://api.example.com/",
                Err(ResourceMetadataError::InvalidResource),
            ),
            ("https://", Err(ResourceMetadataError::InvalidResource)),
            ("https:/", Err(ResourceMetadataError::InvalidResource)),
            (
                "h\u{e9}ttps://x",
                Err(ResourceMetadataError::InvalidResource),
            ),
        ];
        for (resource, expected) in cases {
            assert_eq!(
                metadata_url(resource).as_deref(),
                expected.as_ref().copied(),
                "{resource:?}"
            );
        }
    }
}
