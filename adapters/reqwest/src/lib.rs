//! Async driver for `auth0-api` on [`reqwest`]: verifies access tokens and performs token
//! exchanges over HTTPS, sharing one set of caches between tasks.
//!
//! ```no_run
//! use auth0_api::config::VerifierConfig;
//! use auth0_api::verify::context::RequestContext;
//! use auth0_api_reqwest::{Client, ClientOptions};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = VerifierConfig::new()
//!     .domain("example.auth0.com")
//!     .audience("https://api.example.com")
//!     .build()?;
//! let client = Client::new(&verifier, ClientOptions::default())?;
//! # let token = "";
//! match client.verify(&verifier, token, &RequestContext::default()).await {
//!     Ok(claims) => println!("hello {:?}", claims.sub()),
//!     Err(e) => println!("{} {:?}", e.status(), e.www_authenticate()),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! The transport: HTTPS only, redirects never followed, connect and total timeouts, response
//! bodies capped at [`MAX_RESPONSE_BODY`], no proxy unless [`ClientOptions::proxy`] names
//! one (the proxy environment variables are ignored). The caches sit behind a `std` lock held only around
//! each synchronous core call, never across an `.await`; concurrent verifications that miss
//! the same entry make one request while the others wait to be notified.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::sync::{PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use auth0_api::UnixTime;
use auth0_api::cache::Caches;
use auth0_api::claims::Claims;
use auth0_api::config::{ResolverError, ResolverInput, Verifier};
use auth0_api::flow::{Action, Flow};
use auth0_api::http::{
    HttpOutcome, HttpRequest, HttpResponse, MAX_RESPONSE_BODY, Method, TransportError,
    TransportErrorKind,
};
use auth0_api::verify::context::RequestContext;
use auth0_api::verify::error::VerifyError;
use auth0_api::verify::{Started, VerifyAccessToken};
use tokio::sync::Notify;

/// Chooses, per request, the domains whose tokens are accepted, with I/O of its own (the
/// asynchronous counterpart of [`DomainResolver`](auth0_api::config::DomainResolver)); see
/// [`Client::verify_resolving`]. Implement it with an `async fn`:
///
/// ```
/// use auth0_api::config::{ResolverError, ResolverInput};
///
/// struct Tenants;
///
/// impl auth0_api_reqwest::AsyncDomainResolver for Tenants {
///     async fn resolve<'a>(
///         &'a self,
///         input: ResolverInput<'a>,
///     ) -> Result<Vec<String>, ResolverError> {
///         // Look the request's host up in a directory, for example.
///         let _host = input.headers.iter().find(|(name, _)| *name == "host");
///         Ok(vec!["login.example.com".into(), "example.eu.auth0.com".into()])
///     }
/// }
/// ```
pub trait AsyncDomainResolver: Send + Sync {
    /// The accepted domains for this request. `input.unverified_issuer` is NOT verified yet:
    /// use it only to choose among domains you trust.
    fn resolve<'a>(
        &'a self,
        input: ResolverInput<'a>,
    ) -> impl Future<Output = Result<Vec<String>, ResolverError>> + Send + 'a;
}

/// How the client connects.
///
/// `Debug` prints the proxy URL without its user information.
#[derive(Clone)]
pub struct ClientOptions {
    /// Connect timeout. Defaults to 5 s.
    pub connect_timeout: Duration,
    /// Total time for one request. Defaults to 10 s; keep it below the cache's
    /// `fetch_timeout` (30 s by default).
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
    /// and their lower-case forms) and system proxy settings are never read: whoever controls
    /// the environment (in a CGI-style deployment, a request header becomes `HTTP_PROXY`)
    /// could otherwise route the key and token requests through a host of their choice. Read
    /// them yourself and set this option if you want them.
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

/// An async client: the transport, the clock and the shared caches. `Send + Sync`.
pub struct Client {
    http: reqwest::Client,
    clock: fn() -> UnixTime,
    caches: RwLock<Caches>,
    fetched: Notify,
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
    /// The `reqwest` error when a CA certificate or the proxy URL cannot be read or the
    /// client not built.
    pub fn new(verifier: &Verifier, options: ClientOptions) -> Result<Self, reqwest::Error> {
        Self::with_caches(verifier.new_caches(), options)
    }

    /// A client over caches you made (for example with a DPoP replay cache).
    ///
    /// # Errors
    /// The `reqwest` error when a CA certificate or the proxy URL cannot be read or the
    /// client not built.
    pub fn with_caches(caches: Caches, options: ClientOptions) -> Result<Self, reqwest::Error> {
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
        let wait_limit = caches.policy().fetch_timeout;
        Ok(Self {
            http: builder.build()?,
            clock: options.clock,
            caches: RwLock::new(caches),
            fetched: Notify::new(),
            wait_limit,
        })
    }

    /// Verifies `token` (SPEC section 2). A warm verification takes only a read lock and
    /// never awaits.
    ///
    /// A verifier with a deferred resolver needs
    /// [`verify_resolving`](Self::verify_resolving).
    ///
    /// # Errors
    /// The [`VerifyError`] to answer the client with.
    pub async fn verify(
        &self,
        verifier: &Verifier,
        token: &str,
        ctx: &RequestContext<'_>,
    ) -> Result<Claims, VerifyError> {
        let flow = verifier.verify_access_token(token, ctx)?;
        self.finish(flow).await
    }

    /// Verifies `token` with a verifier built with
    /// [`deferred_domain_resolver`](auth0_api::config::VerifierConfig::deferred_domain_resolver):
    /// `resolver` is awaited once, after the checks that need no network and before any
    /// request, and its answer is checked as a synchronous resolver's would be. Other
    /// verifiers behave as in [`verify`](Self::verify) and never call `resolver`.
    ///
    /// # Errors
    /// The [`VerifyError`] to answer the client with; a resolver failure is its
    /// [`source`](std::error::Error::source).
    pub async fn verify_resolving<R: AsyncDomainResolver>(
        &self,
        verifier: &Verifier,
        token: &str,
        ctx: &RequestContext<'_>,
        resolver: &R,
    ) -> Result<Claims, VerifyError> {
        let flow = match verifier.start_verification(token, ctx)? {
            Started::Ready(flow) => flow,
            Started::NeedDomains(pending) => {
                let answer = resolver.resolve(pending.input()).await;
                pending.resolved(answer)?
            }
        };
        self.finish(flow).await
    }

    /// Finishes a started verification: warm under a read lock, else driven.
    async fn finish(&self, mut flow: VerifyAccessToken<'_>) -> Result<Claims, VerifyError> {
        let warm = {
            let caches = self.caches.read().unwrap_or_else(PoisonError::into_inner);
            flow.poll_shared(&caches, (self.clock)())
        };
        match warm {
            Some(result) => result,
            None => self.drive(&mut flow).await,
        }
    }

    /// Drives any flow (verification or exchange) to its end.
    ///
    /// # Errors
    /// The flow's error.
    pub async fn drive<F: Flow>(&self, flow: &mut F) -> Result<F::Output, F::Error> {
        loop {
            // Registered before polling, so a fetch finishing in between still wakes us.
            let notified = self.fetched.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let action = {
                let mut caches = self.caches.write().unwrap_or_else(PoisonError::into_inner);
                flow.poll(&mut caches, (self.clock)())?
            };
            match action {
                Action::NeedHttp(request) => {
                    let outcome = self.send(request).await;
                    {
                        let mut caches =
                            self.caches.write().unwrap_or_else(PoisonError::into_inner);
                        flow.handle_response(&mut caches, outcome, (self.clock)());
                    }
                    self.fetched.notify_waiters();
                }
                Action::Wait(_) => {
                    let _ = tokio::time::timeout(self.wait_limit, notified).await;
                }
                Action::Done(output) => return Ok(output),
            }
        }
    }

    /// Sends one request: the transport every flow uses.
    pub async fn send(&self, request: HttpRequest) -> HttpOutcome {
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
