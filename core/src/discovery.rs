//! OpenID Connect discovery (OpenID Connect Discovery 1.0 section 4; RFC 8414 section 3).

use alloc::string::String;

use serde_json::Value;

use crate::domain::{DomainPolicy, Issuer};
use crate::http::{HttpRequest, HttpResponse, MAX_RESPONSE_BODY};
use crate::jose::json::{self, DEFAULT_MAX_DEPTH, JsonError};

/// The members of a discovery document this crate uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiscoveryDocument {
    /// `issuer`, equal to the expected issuer.
    pub issuer: String,
    /// `jwks_uri`, an `https` URL.
    pub jwks_uri: String,
    /// `token_endpoint`, an `https` URL, when present.
    pub token_endpoint: Option<String>,
}

/// Why a discovery or JWKS response was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DocumentError {
    /// A status other than 200 OK: another 2xx carries no document, and redirects are
    /// never followed.
    Status(u16),
    /// The content type is not JSON.
    ContentType,
    /// The body is larger than 1 MiB.
    TooLarge,
    /// The body is not a strict JSON object.
    Json(JsonError),
    /// `issuer` differs from the expected issuer (OpenID Connect Discovery 1.0 section 4.3).
    IssuerMismatch,
    /// A required member is missing or not a string.
    MissingMember(&'static str),
    /// A URL member is not an absolute `https` URL without user info or fragment.
    InvalidUrl(&'static str),
}

impl core::fmt::Display for DocumentError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DocumentError::Status(s) => write!(f, "unexpected status {s}"),
            DocumentError::ContentType => f.write_str("content type is not json"),
            DocumentError::TooLarge => f.write_str("body too large"),
            DocumentError::Json(e) => write!(f, "{e}"),
            DocumentError::IssuerMismatch => {
                f.write_str("issuer does not match the expected issuer")
            }
            DocumentError::MissingMember(m) => write!(f, "missing or invalid member {m}"),
            DocumentError::InvalidUrl(m) => write!(f, "{m} is not an https url"),
        }
    }
}

impl core::error::Error for DocumentError {}

/// The discovery request for `issuer` (`https://host[:port]/`).
pub fn discovery_request(issuer: &str) -> HttpRequest {
    HttpRequest::get(alloc::format!("{issuer}.well-known/openid-configuration"))
}

/// Checks status, content type and size of a JSON document response (discovery, JWKS).
///
/// # Errors
/// [`DocumentError::Status`], [`DocumentError::ContentType`] or [`DocumentError::TooLarge`].
pub fn check_json_response(response: &HttpResponse) -> Result<&[u8], DocumentError> {
    if response.status != 200 {
        return Err(DocumentError::Status(response.status));
    }
    if response.body.len() > MAX_RESPONSE_BODY {
        return Err(DocumentError::TooLarge);
    }
    if !response.is_json() {
        return Err(DocumentError::ContentType);
    }
    Ok(&response.body)
}

/// Parses a discovery response and checks it against `expected_issuer`.
///
/// # Errors
/// The [`DocumentError`] naming the failed check.
pub fn parse_discovery(
    expected_issuer: &str,
    response: &HttpResponse,
) -> Result<DiscoveryDocument, DocumentError> {
    let body = check_json_response(response)?;
    let doc = json::parse_object(body, DEFAULT_MAX_DEPTH).map_err(DocumentError::Json)?;
    let string = |name: &'static str| match doc.get(name) {
        Some(Value::String(s)) => Ok(s.as_str()),
        _ => Err(DocumentError::MissingMember(name)),
    };
    let issuer = string("issuer")?;
    // Exact string comparison: no normalisation of the server's answer (mix-up defence).
    if issuer != expected_issuer {
        return Err(DocumentError::IssuerMismatch);
    }
    let named = is_dns_named(authority_of(expected_issuer));
    let url = |value: &str, member| {
        let url = normalize_https_url(value, member)?;
        // An issuer with a DNS name only sends its requests to DNS names: a document that
        // names an address (cloud metadata, a private network) or `localhost` is refused
        // (SECURITY H-22, T-44). An issuer that is itself one was allowed by its operator.
        if named && !is_dns_named(authority_of(&url)) {
            return Err(DocumentError::InvalidUrl(member));
        }
        Ok(url)
    };
    let jwks_uri = url(string("jwks_uri")?, "jwks_uri")?;
    let token_endpoint = match doc.get("token_endpoint") {
        None => None,
        Some(Value::String(s)) => Some(url(s, "token_endpoint")?),
        Some(_) => return Err(DocumentError::MissingMember("token_endpoint")),
    };
    Ok(DiscoveryDocument {
        issuer: String::from(issuer),
        jwks_uri,
        token_endpoint,
    })
}

/// [`check_https_url`], then the URL with its scheme and host in lower case (RFC 3986
/// section 6.2.2.1), so that requests, caches and single-flight keys see one spelling of
/// it. Port, path and query are kept as given.
///
/// # Errors
/// [`DocumentError::InvalidUrl`] naming `member`.
pub fn normalize_https_url(url: &str, member: &'static str) -> Result<String, DocumentError> {
    check_https_url(url, member)?;
    let authority = authority_of(url);
    let tail = &url[SCHEME.len() + authority.len()..];
    let mut out = String::with_capacity(url.len());
    out.push_str(SCHEME);
    out.push_str(&authority.to_ascii_lowercase());
    out.push_str(tail);
    Ok(out)
}

const SCHEME: &str = "https://";

/// The `host[:port]` of an `https://` URL: what lies between the scheme and the first `/`
/// or `?` (empty when the URL is shorter than the scheme).
fn authority_of(url: &str) -> &str {
    let rest = url.get(SCHEME.len()..).unwrap_or("");
    rest.split(['/', '?']).next().unwrap_or("")
}

/// Whether `authority` names its host by a DNS name, as an issuer with
/// [`DomainPolicy::STRICT`] must: not an IP literal in any form, not `localhost`.
fn is_dns_named(authority: &str) -> bool {
    Issuer::from_domain_with(authority, &DomainPolicy::STRICT).is_ok()
}

/// Accepts an absolute `https` URL (the scheme in any case) with a non-empty host, no user info, no fragment, and no
/// white space, control characters or backslashes.
///
/// # Errors
/// [`DocumentError::InvalidUrl`] naming `member`.
pub fn check_https_url(url: &str, member: &'static str) -> Result<(), DocumentError> {
    let https = url
        .get(..SCHEME.len())
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case(SCHEME));
    let authority = authority_of(url);
    if !https
        || url.len() > 2048
        || url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '\\' || c == '#')
        || authority.is_empty()
        || authority.contains('@')
        || authority.starts_with(':')
    {
        return Err(DocumentError::InvalidUrl(member));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISS: &str = "https://tenant.example/";

    fn doc(body: &str) -> Result<DiscoveryDocument, DocumentError> {
        parse_discovery(ISS, &HttpResponse::json(body))
    }

    #[test]
    fn table() {
        use DocumentError::*;
        let ok = r#"{"issuer":"https://tenant.example/","jwks_uri":"https://tenant.example/.well-known/jwks.json","token_endpoint":"https://tenant.example/oauth/token"}"#;
        assert_eq!(
            doc(ok).unwrap().jwks_uri,
            "https://tenant.example/.well-known/jwks.json"
        );
        let cases: &[(&str, DocumentError)] = &[
            (
                r#"{"issuer":"https://tenant.example","jwks_uri":"https://t/j"}"#,
                IssuerMismatch,
            ),
            (
                r#"{"issuer":"https://TENANT.example/","jwks_uri":"https://t/j"}"#,
                IssuerMismatch,
            ),
            (
                r#"{"issuer":"https://tenant.example/"}"#,
                MissingMember("jwks_uri"),
            ),
            (r#"{"jwks_uri":"https://t/j"}"#, MissingMember("issuer")),
            (
                r#"{"issuer":"https://tenant.example/","jwks_uri":"http://t/j"}"#,
                InvalidUrl("jwks_uri"),
            ),
            (
                r#"{"issuer":"https://tenant.example/","jwks_uri":"file:///etc/passwd"}"#,
                InvalidUrl("jwks_uri"),
            ),
            (
                r#"{"issuer":"https://tenant.example/","jwks_uri":"https://user@evil/j"}"#,
                InvalidUrl("jwks_uri"),
            ),
            (
                r#"{"issuer":"https://tenant.example/","jwks_uri":"https:///j"}"#,
                InvalidUrl("jwks_uri"),
            ),
            (
                r#"{"issuer":"https://tenant.example/","jwks_uri":7}"#,
                MissingMember("jwks_uri"),
            ),
            (
                r#"{"issuer":"https://tenant.example/","issuer":"https://tenant.example/","jwks_uri":"https://t/j"}"#,
                Json(JsonError::DuplicateMember),
            ),
            (r#"[]"#, Json(JsonError::NotAnObject)),
            // T-42: the issuer is compared exactly: no default port, no other path.
            (
                r#"{"issuer":"https://tenant.example:443/","jwks_uri":"https://t/j"}"#,
                IssuerMismatch,
            ),
            (
                r#"{"issuer":"https://tenant.example/x/","jwks_uri":"https://t/j"}"#,
                IssuerMismatch,
            ),
            (
                r#"{"issuer":["https://tenant.example/"],"jwks_uri":"https://t/j"}"#,
                MissingMember("issuer"),
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(doc(body).as_ref().err(), Some(expected), "{body}");
        }
    }

    /// SECURITY T-44: a tenant with a DNS name cannot send the verifier's requests to an
    /// address or to `localhost`, in any spelling a URL parser reads as one; a tenant that is
    /// itself an address (allowed by its operator's `DomainPolicy`) can.
    #[test]
    fn a_named_issuer_cannot_point_at_an_address() {
        let with = |jwks: &str, token: &str| {
            let body = alloc::format!(
                r#"{{"issuer":"{ISS}","jwks_uri":"{jwks}","token_endpoint":"{token}"}}"#
            );
            doc(&body).map(|_| ())
        };
        let named = "https://keys.example/jwks";
        let token = "https://tenant.example/oauth/token";
        for address in [
            "https://169.254.169.254/latest/meta-data",
            "https://10.0.0.1/jwks",
            "https://192.168.1.1:8443/jwks",
            "https://127.0.0.1/jwks",
            "https://127.1/jwks",
            "https://2130706433/jwks",
            "https://0x7f000001/jwks",
            "https://[::1]/jwks",
            "https://[fd00::1]/jwks",
            "https://localhost/jwks",
            "https://api.localhost/jwks",
            "https://8.8.8.8/jwks",
        ] {
            assert_eq!(
                with(address, token),
                Err(DocumentError::InvalidUrl("jwks_uri")),
                "{address}"
            );
            assert_eq!(
                with(named, address),
                Err(DocumentError::InvalidUrl("token_endpoint")),
                "{address}"
            );
        }
        // Another DNS name is not refused: a provider may serve its keys from another host.
        assert_eq!(with(named, token), Ok(()));
        // An issuer that is an address may name addresses.
        let local = "https://127.0.0.1:8443/";
        let body = r#"{"issuer":"https://127.0.0.1:8443/","jwks_uri":"https://127.0.0.1:8443/jwks","token_endpoint":"https://localhost:8443/token"}"#;
        assert!(parse_discovery(local, &HttpResponse::json(body)).is_ok());
    }

    /// RFC 3986 section 6.2.2.1: scheme and host compare ignoring case, so the discovered
    /// URLs are requested (and cached) with both in lower case; the rest is kept.
    #[test]
    fn discovered_urls_have_a_lower_case_host() {
        let body = r#"{"issuer":"https://tenant.example/","jwks_uri":"HTTPS://Tenant.EXAMPLE:8443/Keys/JWKS.json?Kid=A","token_endpoint":"https://TENANT.example/OAuth/Token"}"#;
        let d = doc(body).unwrap();
        assert_eq!(
            d.jwks_uri,
            "https://tenant.example:8443/Keys/JWKS.json?Kid=A"
        );
        assert_eq!(
            d.token_endpoint.as_deref(),
            Some("https://tenant.example/OAuth/Token")
        );
        let query_only = normalize_https_url("https://A.example?X=Y", "jwks_uri").unwrap();
        assert_eq!(query_only, "https://a.example?X=Y");
        assert_eq!(
            normalize_https_url("HTTP://a.example/", "jwks_uri"),
            Err(DocumentError::InvalidUrl("jwks_uri"))
        );
    }

    #[test]
    fn response_checks() {
        // Only 200 carries the document: other 2xx statuses fail like any other status.
        let doc =
            r#"{"issuer":"https://tenant.example/","jwks_uri":"https://tenant.example/jwks"}"#;
        for status in [201, 203, 204, 206, 302, 304, 404, 500] {
            let r = HttpResponse::new(status, "application/json", doc);
            assert_eq!(
                parse_discovery(ISS, &r).err(),
                Some(DocumentError::Status(status))
            );
        }
        let r = HttpResponse::new(200, "application/json", doc);
        assert!(parse_discovery(ISS, &r).is_ok());
        let r = HttpResponse::new(200, "text/html", "<html>");
        assert_eq!(
            parse_discovery(ISS, &r).err(),
            Some(DocumentError::ContentType)
        );
        let r = HttpResponse::json(alloc::vec![b' '; MAX_RESPONSE_BODY + 1]);
        assert_eq!(
            parse_discovery(ISS, &r).err(),
            Some(DocumentError::TooLarge)
        );
        assert_eq!(
            discovery_request(ISS).url,
            "https://tenant.example/.well-known/openid-configuration"
        );
    }
}
