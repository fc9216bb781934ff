//! Async transport for `auth0-api` on [`reqwest`], and a ready [`Client`]: verifies access
//! tokens and performs token exchanges over HTTPS, sharing one set of caches between tasks.
//!
//! ```no_run
//! use auth0_api::VerifierConfig;
//! use auth0_api::RequestContext;
//! use auth0_api_reqwest::ClientOptions;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = VerifierConfig::new()
//!     .domain("example.auth0.com")
//!     .audience("https://api.example.com")
//!     .build()?;
//! let client = auth0_api_reqwest::client(verifier, ClientOptions::default())?;
//! # let token = "";
//! match client.verify_async(token, &RequestContext::default()).await {
//!     Ok(claims) => println!("hello {:?}", claims.sub()),
//!     Err(e) => println!("{} {:?}", e.status(), e.www_authenticate()),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! The transport: HTTPS only, redirects never followed, connect and total timeouts, response
//! bodies capped at [`MAX_RESPONSE_BODY`], no proxy unless [`ClientOptions::proxy`] names
//! one (the proxy environment variables are ignored). Everything else (the locked caches,
//! per-key wake-ups, abandoning the request of a dropped future) is [`auth0_api_driver`]'s;
//! the client's futures are `Send` and cancellation-safe.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use auth0_api::Verifier;
use auth0_api::{
    HttpOutcome, HttpRequest, HttpResponse, MAX_RESPONSE_BODY, Method, TransportError,
    TransportErrorKind,
};
pub use auth0_api_driver::{AsyncDomainResolver, AsyncTransport, ClientOptions, system_clock};

/// An async client on reqwest (its methods: `verify_async`, `verify_resolving`, and
/// `driver().drive_async` for any flow): see [`client`].
pub type Client = auth0_api_driver::Client<ReqwestTransport>;

/// An async driver on reqwest, for flows without a verifier (token exchanges).
pub type Driver = auth0_api_driver::Driver<ReqwestTransport>;

/// A ready client for `verifier`, with a transport built from `options` and caches
/// following the verifier's policy.
///
/// # Errors
/// The `reqwest` error when a CA certificate or the proxy URL cannot be read or the client
/// not built.
pub fn client(verifier: Verifier, options: ClientOptions) -> Result<Client, reqwest::Error> {
    let transport = ReqwestTransport::new(&options)?;
    Ok(Client::new(verifier, transport, options.clock))
}

/// HTTPS requests with a reqwest client configured from [`ClientOptions`].
#[derive(Debug)]
pub struct ReqwestTransport {
    http: reqwest::Client,
}

impl ReqwestTransport {
    /// A transport following `options` (the clock is the driver's).
    ///
    /// # Errors
    /// The `reqwest` error when a CA certificate or the proxy URL cannot be read or the
    /// client not built.
    pub fn new(options: &ClientOptions) -> Result<Self, reqwest::Error> {
        let mut builder = reqwest::Client::builder()
            .https_only(true)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(options.connect_timeout)
            .timeout(options.timeout)
            // Only an explicit proxy: never one from the environment (see `ClientOptions::proxy`).
            .no_proxy();
        if let Some(proxy) = &options.proxy {
            builder = builder.proxy(reqwest::Proxy::all(proxy)?);
        }
        if !options.root_certificates_pem.is_empty() {
            builder = builder.tls_built_in_root_certs(false);
            for pem in &options.root_certificates_pem {
                builder = builder.add_root_certificate(reqwest::Certificate::from_pem(pem)?);
            }
        }
        Ok(Self {
            http: builder.build()?,
        })
    }
}

impl AsyncTransport for ReqwestTransport {
    async fn send(&self, request: HttpRequest) -> HttpOutcome {
        let method = match request.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
        };
        let mut builder = self.http.request(method, &request.url).body(request.body);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let mut response = builder.send().await.map_err(transport_error)?;
        let status = response.status().as_u16();
        if (300..400).contains(&status) {
            return Err(TransportError::new(TransportErrorKind::Redirect));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_RESPONSE_BODY as u64)
        {
            return Err(TransportError::new(TransportErrorKind::BodyTooLarge));
        }
        let headers = response
            .headers()
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
            if body.len() + chunk.len() > MAX_RESPONSE_BODY {
                return Err(TransportError::new(TransportErrorKind::BodyTooLarge));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}

fn transport_error(e: reqwest::Error) -> TransportError {
    let kind = if e.is_timeout() {
        TransportErrorKind::Timeout
    } else if e.is_connect() {
        TransportErrorKind::Connect
    } else if e.is_redirect() {
        TransportErrorKind::Redirect
    } else {
        TransportErrorKind::Other
    };
    TransportError::with_source(kind, e)
}
