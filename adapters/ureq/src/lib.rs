//! Blocking transport for `auth0-api` on [`ureq`], and a ready [`Client`]: verifies access
//! tokens and performs token exchanges over HTTPS, sharing one set of caches between threads.
//!
//! ```no_run
//! use auth0_api::VerifierConfig;
//! use auth0_api::RequestContext;
//! use auth0_api_ureq::ClientOptions;
//!
//! let verifier = VerifierConfig::new()
//!     .domain("example.auth0.com")
//!     .audience("https://api.example.com")
//!     .build()?;
//! let client = auth0_api_ureq::client(verifier, ClientOptions::default())?;
//! # let token = "";
//! match client.verify(token, &RequestContext::default()) {
//!     Ok(claims) => println!("hello {:?}", claims.sub()),
//!     Err(e) => println!("{} {:?}", e.status(), e.www_authenticate()),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The transport: HTTPS only, redirects never followed, connect and total timeouts, response
//! bodies capped at [`MAX_RESPONSE_BODY`], no proxy unless [`ClientOptions::proxy`] names
//! one (the proxy environment variables are ignored). Everything else (the locked caches,
//! per-key wake-ups, abandoning a request on panic) is [`auth0_api_driver`]'s.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::sync::Arc;

use auth0_api::Verifier;
use auth0_api::{
    HttpOutcome, HttpRequest, HttpResponse, MAX_RESPONSE_BODY, TransportError, TransportErrorKind,
};
pub use auth0_api_driver::{ClientOptions, Transport, system_clock};
use ureq::tls::{Certificate, RootCerts, TlsConfig};

/// A blocking client on ureq (its methods: `verify`, and `driver().drive` for any flow): see
/// [`client`].
pub type Client = auth0_api_driver::Client<UreqTransport>;

/// A blocking driver on ureq, for flows without a verifier (token exchanges).
pub type Driver = auth0_api_driver::Driver<UreqTransport>;

/// A ready client for `verifier`, with a transport built from `options` and caches
/// following the verifier's policy.
///
/// # Errors
/// [`BuildError`] when a CA certificate or the proxy URL cannot be read.
pub fn client(verifier: Verifier, options: ClientOptions) -> Result<Client, BuildError> {
    let transport = UreqTransport::new(&options)?;
    Ok(Client::new(verifier, transport, options.clock))
}

/// Why a transport could not be built.
#[derive(Debug)]
pub struct BuildError(String);

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BuildError {}

/// HTTPS requests with a ureq agent configured from [`ClientOptions`].
#[derive(Debug)]
pub struct UreqTransport {
    agent: ureq::Agent,
}

impl UreqTransport {
    /// A transport following `options` (the clock is the driver's).
    ///
    /// # Errors
    /// [`BuildError`] when a CA certificate or the proxy URL cannot be read.
    pub fn new(options: &ClientOptions) -> Result<Self, BuildError> {
        let mut tls = TlsConfig::builder();
        if !options.root_certificates_pem.is_empty() {
            let certs = options
                .root_certificates_pem
                .iter()
                .map(|pem| Certificate::from_pem(pem).map(|c| c.to_owned()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| BuildError(format!("cannot read a CA certificate: {e}")))?;
            tls = tls.root_certs(RootCerts::Specific(Arc::new(certs)));
        }
        // Only an explicit proxy: never one from the environment (see `ClientOptions::proxy`).
        let proxy = options
            .proxy
            .as_deref()
            .map(ureq::Proxy::new)
            .transpose()
            .map_err(|e| BuildError(format!("cannot read the proxy URL: {e}")))?;
        let agent = ureq::Agent::config_builder()
            .proxy(proxy)
            .tls_config(tls.build())
            .https_only(true)
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(options.connect_timeout))
            .timeout_global(Some(options.timeout))
            .build()
            .new_agent();
        Ok(Self { agent })
    }
}

impl Transport for UreqTransport {
    fn send(&self, request: HttpRequest) -> HttpOutcome {
        let request: ureq::http::Request<Vec<u8>> = request.into();
        let mut response = self.agent.run(request).map_err(transport_error)?;
        let status = response.status().as_u16();
        if (300..400).contains(&status) {
            return Err(TransportError::new(TransportErrorKind::Redirect));
        }
        let headers = response
            .headers()
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BODY as u64 + 1)
            .read_to_vec()
            .map_err(transport_error)?;
        if body.len() > MAX_RESPONSE_BODY {
            return Err(TransportError::new(TransportErrorKind::BodyTooLarge));
        }
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}

fn transport_error(e: ureq::Error) -> TransportError {
    let kind = match &e {
        ureq::Error::Timeout(_) => TransportErrorKind::Timeout,
        ureq::Error::BodyExceedsLimit(_) => TransportErrorKind::BodyTooLarge,
        ureq::Error::Io(_)
        | ureq::Error::ConnectionFailed
        | ureq::Error::HostNotFound
        | ureq::Error::Tls(_)
        | ureq::Error::Rustls(_) => TransportErrorKind::Connect,
        _ => TransportErrorKind::Other,
    };
    TransportError::with_source(kind, e)
}
