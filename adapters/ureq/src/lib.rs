//! Blocking driver for `auth0-api` on [`ureq`]: verifies access tokens and performs token
//! exchanges over HTTPS, sharing one set of caches between threads.
//!
//! ```no_run
//! use auth0_api::config::VerifierConfig;
//! use auth0_api::verify::context::RequestContext;
//! use auth0_api_ureq::{Client, ClientOptions};
//!
//! let verifier = VerifierConfig::new()
//!     .domain("example.auth0.com")
//!     .audience("https://api.example.com")
//!     .build()?;
//! let client = Client::new(&verifier, ClientOptions::default())?;
//! # let token = "";
//! match client.verify(&verifier, token, &RequestContext::default()) {
//!     Ok(claims) => println!("hello {:?}", claims.sub()),
//!     Err(e) => println!("{} {:?}", e.status(), e.www_authenticate()),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The transport: HTTPS only, redirects never followed, connect and total timeouts, response
//! bodies capped at [`MAX_RESPONSE_BODY`], no proxy unless [`ClientOptions::proxy`] names
//! one (the proxy environment variables are ignored). The caches sit behind a lock held only around each
//! synchronous core call, never across a request; concurrent verifications that miss the
//! same entry make one request while the others wait for it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use auth0_api::UnixTime;
use auth0_api::cache::Caches;
use auth0_api::claims::Claims;
use auth0_api::config::Verifier;
use auth0_api::flow::{Action, Flow};
use auth0_api::http::{
    HttpOutcome, HttpRequest, HttpResponse, MAX_RESPONSE_BODY, TransportError, TransportErrorKind,
};
use auth0_api::verify::context::RequestContext;
use auth0_api::verify::error::VerifyError;
use ureq::tls::{Certificate, RootCerts, TlsConfig};

/// How the client connects.
///
/// `Debug` prints the proxy URL without its user information.
#[derive(Clone)]
pub struct ClientOptions {
    /// Connect timeout. Defaults to 5 s.
    pub connect_timeout: Duration,
    /// Total time for one request. Defaults to 10 s; keep it below the cache's
    /// `fetch_timeout` (30 s by default) so waiting flows never take over a live fetch.
    pub timeout: Duration,
    /// Extra trusted CA certificates (PEM). When given, only these are trusted.
    pub root_certificates_pem: Vec<Vec<u8>>,
    /// The clock. Defaults to the system clock.
    pub clock: fn() -> UnixTime,
    /// A proxy for every request, as a URL: `http://host:port` or `https://host:port` (an
    /// HTTP `CONNECT` proxy; `user:password@` before the host for Basic authentication).
    /// Defaults to `None`: no proxy.
    ///
    /// The proxy environment variables (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`
    /// and their lower-case forms) are never read: whoever controls the environment (in a
    /// CGI-style deployment, a request header becomes `HTTP_PROXY`) could otherwise route
    /// the key and token requests through a host of their choice. Read them yourself and set
    /// this option if you want them.
    pub proxy: Option<String>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            root_certificates_pem: Vec::new(),
            clock: system_clock,
            proxy: None,
        }
    }
}

impl std::fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientOptions")
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("root_certificates_pem", &self.root_certificates_pem.len())
            .field("clock", &self.clock)
            .field("proxy", &self.proxy.as_deref().map(without_userinfo))
            .finish()
    }
}

/// `url` with any `user:password@` replaced by `[redacted]@`.
fn without_userinfo(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let sep = if scheme.is_empty() { "" } else { "://" };
            format!("{scheme}{sep}[redacted]{}", &rest[at..])
        }
        None => url.to_owned(),
    }
}

/// The system clock as [`UnixTime`].
pub fn system_clock() -> UnixTime {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    UnixTime::from_secs(secs)
}

/// Why a [`Client`] could not be built.
#[derive(Debug)]
pub struct BuildError(String);

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BuildError {}

/// A blocking client: the transport, the clock and the shared caches. `Send + Sync`: share
/// it (for example in an `Arc`) between threads.
pub struct Client {
    agent: ureq::Agent,
    clock: fn() -> UnixTime,
    caches: RwLock<Caches>,
    /// Bumped after every completed fetch; waiters sleep until it moves.
    fetches: Mutex<u64>,
    fetched: Condvar,
    wait_limit: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

impl Client {
    /// A client with caches following `verifier`'s policy.
    ///
    /// # Errors
    /// [`BuildError`] when a CA certificate or the proxy URL cannot be read.
    pub fn new(verifier: &Verifier, options: ClientOptions) -> Result<Self, BuildError> {
        Self::with_caches(verifier.new_caches(), options)
    }

    /// A client over caches you made (for example with a DPoP replay cache).
    ///
    /// # Errors
    /// [`BuildError`] when a CA certificate or the proxy URL cannot be read.
    pub fn with_caches(caches: Caches, options: ClientOptions) -> Result<Self, BuildError> {
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
        let wait_limit = caches.policy().fetch_timeout;
        Ok(Self {
            agent,
            clock: options.clock,
            caches: RwLock::new(caches),
            fetches: Mutex::new(0),
            fetched: Condvar::new(),
            wait_limit,
        })
    }

    /// Verifies `token` (SPEC section 2). A warm verification takes only a read lock.
    ///
    /// # Errors
    /// The [`VerifyError`] to answer the client with.
    pub fn verify(
        &self,
        verifier: &Verifier,
        token: &str,
        ctx: &RequestContext<'_>,
    ) -> Result<Claims, VerifyError> {
        let mut flow = verifier.verify_access_token(token, ctx)?;
        let warm = {
            let caches = self.caches.read().unwrap_or_else(PoisonError::into_inner);
            flow.poll_shared(&caches, (self.clock)())
        };
        match warm {
            Some(result) => result,
            None => self.drive(&mut flow),
        }
    }

    /// Drives any flow (verification or exchange) to its end.
    ///
    /// # Errors
    /// The flow's error.
    pub fn drive<F: Flow>(&self, flow: &mut F) -> Result<F::Output, F::Error> {
        loop {
            let seen = *self.fetches.lock().unwrap_or_else(PoisonError::into_inner);
            let action = {
                let mut caches = self.caches.write().unwrap_or_else(PoisonError::into_inner);
                flow.poll(&mut caches, (self.clock)())?
            };
            match action {
                Action::NeedHttp(request) => {
                    let outcome = self.send(request);
                    {
                        let mut caches =
                            self.caches.write().unwrap_or_else(PoisonError::into_inner);
                        flow.handle_response(&mut caches, outcome, (self.clock)());
                    }
                    *self.fetches.lock().unwrap_or_else(PoisonError::into_inner) += 1;
                    self.fetched.notify_all();
                }
                Action::Wait(_) => {
                    let guard = self.fetches.lock().unwrap_or_else(PoisonError::into_inner);
                    // Sleep until a fetch completes (or the in-flight mark could have expired).
                    let _ = self
                        .fetched
                        .wait_timeout_while(guard, self.wait_limit, |n| *n == seen)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                Action::Done(output) => return Ok(output),
            }
        }
    }

    /// Sends one request: the transport every flow uses.
    pub fn send(&self, request: HttpRequest) -> HttpOutcome {
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
