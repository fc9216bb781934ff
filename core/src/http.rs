//! Owned HTTP request and response descriptions exchanged with the driver.
//!
//! The core builds [`HttpRequest`]s and consumes [`HttpResponse`]s; it never performs I/O.
//! With the `http` feature they convert to and from the `http` crate's types.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// The largest response body the core accepts (1 MiB). Drivers SHOULD stop reading there.
pub const MAX_RESPONSE_BODY: usize = 1 << 20;

/// HTTP methods the core emits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`, for discovery and JWKS.
    Get,
    /// `POST`, for the token endpoint.
    Post,
}

impl Method {
    /// The method name as sent on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// A request the driver must send.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// The method.
    pub method: Method,
    /// The absolute `https` URL.
    pub url: String,
    /// Header names (lower case) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body; empty for `GET`.
    pub body: Vec<u8>,
}

impl fmt::Debug for HttpRequest {
    // The body of a token request holds credentials: never print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl HttpRequest {
    /// A `GET` of `url` accepting JSON.
    pub fn get(url: impl Into<String>) -> Self {
        Self {
            method: Method::Get,
            url: url.into(),
            headers: alloc::vec![(String::from("accept"), String::from("application/json"))],
            body: Vec::new(),
        }
    }

    /// The first value of header `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// What the server answered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Header names and values, in order (names compared case-insensitively).
    pub headers: Vec<(String, String)>,
    /// The body, at most [`MAX_RESPONSE_BODY`] bytes (a longer one is refused).
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// A response with this status, a `content-type` header and body.
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            headers: alloc::vec![(String::from("content-type"), String::from(content_type))],
            body: body.into(),
        }
    }

    /// A `200` JSON response with this body.
    pub fn json(body: impl Into<Vec<u8>>) -> Self {
        Self::new(200, "application/json", body)
    }

    /// The first value of header `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The media type of the `content-type` header, without parameters, lower-cased.
    pub fn media_type(&self) -> Option<String> {
        let value = self.header("content-type")?;
        let essence = value.split(';').next().unwrap_or("").trim();
        Some(essence.to_ascii_lowercase())
    }

    /// Whether the body is declared JSON: `application/json`, or a structured-syntax
    /// `application/<name>+json` type (RFC 6838 section 4.2.8) whose name starts with a letter
    /// or digit (section 4.2), such as `application/jwk-set+json`.
    pub fn is_json(&self) -> bool {
        self.media_type().is_some_and(|media| {
            media == "application/json"
                || media
                    .strip_prefix("application/")
                    .and_then(|subtype| subtype.strip_suffix("+json"))
                    .is_some_and(|name| name.starts_with(|c: char| c.is_ascii_alphanumeric()))
        })
    }

    /// True for a `2xx` status.
    pub const fn is_success(&self) -> bool {
        self.status >= 200 && self.status < 300
    }
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Why a request produced no response, as reported by the driver.
#[derive(Debug)]
pub struct TransportError {
    kind: TransportErrorKind,
    source: Option<Box<dyn core::error::Error + Send + Sync>>,
}

/// The broad class of a transport failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// Connecting failed (DNS, refused, TLS handshake).
    Connect,
    /// The connect or total timeout elapsed.
    Timeout,
    /// The body exceeded [`MAX_RESPONSE_BODY`].
    BodyTooLarge,
    /// The server answered with a redirect, which is never followed.
    Redirect,
    /// No transport is available for this URL (for example a fixture set without it).
    Unavailable,
    /// Anything else.
    Other,
}

impl TransportError {
    /// A failure of this kind.
    pub fn new(kind: TransportErrorKind) -> Self {
        Self { kind, source: None }
    }

    /// A failure of this kind caused by the driver's own error, reachable through `source()`.
    pub fn with_source(
        kind: TransportErrorKind,
        source: impl Into<Box<dyn core::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            kind,
            source: Some(source.into()),
        }
    }

    /// The class of failure.
    pub const fn kind(&self) -> TransportErrorKind {
        self.kind
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            TransportErrorKind::Connect => "connection failed",
            TransportErrorKind::Timeout => "request timed out",
            TransportErrorKind::BodyTooLarge => "response body too large",
            TransportErrorKind::Redirect => "redirect not followed",
            TransportErrorKind::Unavailable => "no transport for this url",
            TransportErrorKind::Other => "transport failure",
        };
        f.write_str(what)
    }
}

impl core::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn core::error::Error + 'static))
    }
}

/// The outcome of sending an [`HttpRequest`], fed back to a flow.
pub type HttpOutcome = Result<HttpResponse, TransportError>;

#[cfg(feature = "http")]
mod convert {
    use super::*;

    impl From<HttpRequest> for ::http::Request<Vec<u8>> {
        fn from(req: HttpRequest) -> Self {
            let mut builder = ::http::Request::builder()
                .method(req.method.as_str())
                .uri(req.url.as_str());
            for (name, value) in &req.headers {
                builder = builder.header(name.as_str(), value.as_str());
            }
            // The core only emits valid methods, absolute URLs and token-safe header values;
            // an invalid one is a bug in the core, reported as an empty request to a driver
            // that then fails to send it, rather than a panic.
            builder.body(req.body).unwrap_or_default()
        }
    }

    impl<B: AsRef<[u8]>> From<::http::Response<B>> for HttpResponse {
        fn from(resp: ::http::Response<B>) -> Self {
            let headers = resp
                .headers()
                .iter()
                .filter_map(|(n, v)| {
                    Some((String::from(n.as_str()), String::from(v.to_str().ok()?)))
                })
                .collect();
            Self {
                status: resp.status().as_u16(),
                headers,
                body: resp.body().as_ref().to_vec(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_media_types() {
        let cases = [
            ("application/json", true),
            ("Application/JSON; charset=utf-8", true),
            ("application/jwk-set+json", true),
            ("application/problem+json", true),
            ("application/+json", false),
            ("application/-x+json", false),
            ("text/json", false),
            ("text/html", false),
            ("application/jsonx", false),
            ("application/json+xml", false),
            ("", false),
        ];
        for (content_type, json) in cases {
            let r = HttpResponse::new(200, content_type, "{}");
            assert_eq!(r.is_json(), json, "{content_type:?}");
        }
    }

    #[test]
    fn media_type_ignores_parameters_and_case() {
        let r = HttpResponse::new(200, "Application/JSON; charset=utf-8", "{}");
        assert_eq!(r.media_type().as_deref(), Some("application/json"));
        assert!(r.is_success());
        assert!(!HttpResponse::new(302, "text/html", "").is_success());
    }

    #[test]
    fn request_debug_hides_the_body() {
        let mut r = HttpRequest::get("https://t.example/");
        r.body = b"client_secret=hunter2".to_vec();
        assert!(!alloc::format!("{r:?}").contains("hunter2"));
    }
}
