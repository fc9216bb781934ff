//! One std driver for every flow of `auth0-api`, blocking and async, over a small transport
//! trait.
//!
//! The core is a sans-IO state machine: it says which request it needs, takes the response,
//! and is given the time. This crate runs it for real, once, for every adapter:
//!
//! - the shared [`Caches`] sit behind a lock held only around each synchronous core call,
//!   never across a request; warm verifications take only a read lock;
//! - a flow told to wait for another flow's fetch sleeps until *that* key is fetched (per-key
//!   wake-ups), not until any fetch ends;
//! - a request whose driver is cancelled (a dropped future, a panicking transport) is
//!   abandoned: its in-flight mark is cleared at once, so the flows waiting for it fetch it
//!   themselves instead of stalling for the cache's `fetch_timeout`;
//! - [`Client::verify_cached`] answers a verification from warm caches without waiting, so
//!   a framework layer handles most requests inside its `call` and builds a future only for
//!   the rest;
//! - the clock and the client options are here, once;
//! - with a [`ReplayStore`] ([`Client::with_replay_store`]), DPoP proofs are checked for
//!   replay in a store every instance shares (Redis, in `auth0-api-redis`) instead of in
//!   process memory.
//!
//! An adapter implements one trait, [`Transport`] (blocking) or [`AsyncTransport`], which
//! sends one [`HttpRequest`] and returns an [`HttpOutcome`]:
//!
//! ```
//! use auth0_api::VerifierConfig;
//! use auth0_api::{HttpOutcome, HttpRequest, HttpResponse};
//! use auth0_api_driver::{Client, Transport, system_clock};
//!
//! /// Answers every request from memory (a real adapter sends it over HTTPS, follows no
//! /// redirect, caps the body at `MAX_RESPONSE_BODY` and applies a timeout).
//! struct Canned;
//!
//! impl Transport for Canned {
//!     fn send(&self, request: HttpRequest) -> HttpOutcome {
//!         let body = if request.url.ends_with("openid-configuration") {
//!             r#"{"issuer":"https://example.auth0.com/","jwks_uri":"https://example.auth0.com/.well-known/jwks.json"}"#
//!         } else {
//!             r#"{"keys":[]}"#
//!         };
//!         Ok(HttpResponse::json(body))
//!     }
//! }
//!
//! let verifier = VerifierConfig::new()
//!     .domain("example.auth0.com")
//!     .audience("https://api.example.com")
//!     .build()?;
//! let client = Client::new(verifier, Canned, system_clock);
//! let token = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJ1c2VyIn0.c2ln";
//! let err = client.verify(token, &Default::default()).unwrap_err();
//! assert_eq!(err.status(), 401); // no key `k1` in the (empty) key set
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod fixture;
pub mod lifecycle;
pub mod protect;
pub mod trace;
mod waiters;

pub use fixture::FixtureTransport;
pub use lifecycle::{RefreshReport, Refresher, SnapshotFileError};
pub use protect::{
    Credentials, ErrorResponse, Misconfiguration, ProtectError, ProtectOptions, PublicOrigin,
    UrlSource, Verified,
};

use std::fmt;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use auth0_api::Claims;
use auth0_api::RequestContext;
use auth0_api::VerifyError;
use auth0_api::cache::Caches;
use auth0_api::verify::{Started, VerifyAccessToken};
use auth0_api::{Action, Flow};
use auth0_api::{FetchKey, UnixTime};
use auth0_api::{HttpOutcome, HttpRequest};
use auth0_api::{ReplayCheck, ReplayOutcome};
use auth0_api::{ResolverError, ResolverInput, Verifier};

use crate::waiters::{Ticket, Waiters};

/// Sends one request, blocking.
///
/// Implementations MUST NOT follow redirects (a `3xx` answer is
/// [`TransportErrorKind::Redirect`](auth0_api::TransportErrorKind::Redirect)), MUST
/// refuse a body longer than [`MAX_RESPONSE_BODY`](auth0_api::MAX_RESPONSE_BODY),
/// MUST authenticate the server of an `https` URL and SHOULD time out well within the
/// cache's [`fetch_timeout`](auth0_api::cache::CachePolicy::fetch_timeout).
pub trait Transport {
    /// Sends `request` once and returns the answer, whatever its status.
    fn send(&self, request: HttpRequest) -> HttpOutcome;
}

/// Sends one request, asynchronously; the rules of [`Transport`] apply.
///
/// Implement it with an `async fn`. The future is dropped when the verification is
/// cancelled: the driver then abandons the request.
pub trait AsyncTransport: Send + Sync {
    /// Sends `request` once and returns the answer, whatever its status.
    fn send(&self, request: HttpRequest) -> impl Future<Output = HttpOutcome> + Send;
}

/// Chooses, per request, the domains whose tokens are accepted, with I/O of its own (the
/// asynchronous counterpart of [`DomainResolver`](auth0_api::DomainResolver)); see
/// [`Client::verify_resolving`]. Implement it with an `async fn`.
pub trait AsyncDomainResolver: Send + Sync {
    /// The accepted domains for this request. `input.unverified_issuer` is NOT verified yet:
    /// use it only to choose among domains you trust.
    fn resolve<'a>(
        &'a self,
        input: ResolverInput<'a>,
    ) -> impl Future<Output = Result<Vec<String>, ResolverError>> + Send + 'a;
}

/// What [`ReplayStore::check_and_insert`] returns: a boxed future, so that a client can hold
/// any store.
pub type ReplayFuture<'a> = Pin<Box<dyn Future<Output = ReplayOutcome> + Send + 'a>>;

/// A DPoP replay store shared by every instance of an API (RFC 9449 section 11.1): answers
/// the core's [`Action::CheckReplay`] for both the blocking and the async driver (see
/// [`Client::with_replay_store`]).
///
/// `auth0-api-redis` implements it on Redis. The future is polled by whichever driver runs
/// the verification: by the caller's executor in [`Client::verify_async`], by a parking
/// loop on the caller's thread in [`Client::verify`]. A store that needs a runtime of its
/// own must run its I/O there and only await the result here.
///
/// ```
/// use std::collections::HashSet;
/// use std::sync::Mutex;
/// use auth0_api::{ReplayCheck, ReplayOutcome, UnixTime};
/// use auth0_api::cache::ReplayKey;
/// use auth0_api_driver::{ReplayFuture, ReplayStore};
///
/// /// One process only, and it never forgets: a sketch, not a store to deploy.
/// #[derive(Default)]
/// struct Seen(Mutex<HashSet<[u8; 32]>>);
///
/// impl ReplayStore for Seen {
///     fn check_and_insert(&self, check: ReplayCheck, _now: UnixTime) -> ReplayFuture<'_> {
///         let Ok(mut seen) = self.0.lock() else {
///             return Box::pin(async { ReplayOutcome::Unavailable });
///         };
///         let outcome = if seen.insert(*check.key().as_bytes()) {
///             ReplayOutcome::FirstSeen
///         } else {
///             ReplayOutcome::SeenBefore
///         };
///         Box::pin(async move { outcome })
///     }
/// }
///
/// let store = Seen::default();
/// let now = UnixTime::from_secs(1_700_000_000);
/// let check = ReplayCheck::new(ReplayKey::new("jkt", "jti"), now);
/// let first = store.check_and_insert(check, now);
/// # let block_on = |f: ReplayFuture<'_>| {
/// #     use std::task::{Context, Poll, Waker};
/// #     let mut f = f;
/// #     match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) { Poll::Ready(o) => o, _ => unreachable!() }
/// # };
/// assert_eq!(block_on(first), ReplayOutcome::FirstSeen);
/// assert_eq!(block_on(store.check_and_insert(check, now)), ReplayOutcome::SeenBefore);
/// ```
pub trait ReplayStore: Send + Sync {
    /// Checks and inserts `check`'s key in one atomic step, to be kept through
    /// [`check.until()`](ReplayCheck::until) (for `check.ttl(now)` from `now`, the driver's
    /// clock): [`ReplayOutcome::FirstSeen`] when it was not held,
    /// [`ReplayOutcome::SeenBefore`] when it was, [`ReplayOutcome::Unavailable`] when the
    /// store cannot tell (the request is then refused with HTTP 503), unless the store is
    /// configured to fail open.
    fn check_and_insert(&self, check: ReplayCheck, now: UnixTime) -> ReplayFuture<'_>;
}

/// How a client connects: read by the HTTP adapters when they build their transport, and
/// the clock the driver uses.
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
    /// The clock. Defaults to [`system_clock`].
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

impl fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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
    match rest.get(..authority_end).and_then(|a| a.rfind('@')) {
        Some(at) => {
            let sep = if scheme.is_empty() { "" } else { "://" };
            format!("{scheme}{sep}[redacted]{}", rest.get(at..).unwrap_or(""))
        }
        None => url.to_owned(),
    }
}

/// The system clock as [`UnixTime`] (0 if the clock is before the epoch).
pub fn system_clock() -> UnixTime {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    UnixTime::from_secs(secs)
}

/// The current time, as the driver reads it before each core call.
type Clock = Box<dyn Fn() -> UnixTime + Send + Sync>;

/// The caches, the waiters and the clock: what every driver shares between its flows.
struct Shared {
    caches: RwLock<Caches>,
    waiters: Waiters,
    clock: Clock,
    /// How long a waiter sleeps at most: the cache's `fetch_timeout`, after which the core
    /// gives up on the in-flight mark and the waiter may fetch the resource itself.
    wait_limit: Duration,
    /// Raised when a lookup used a value due for a background refresh.
    signal: lifecycle::RefreshSignal,
}

impl Shared {
    fn new(caches: Caches, clock: Clock) -> Self {
        let wait_limit = caches.policy().fetch_timeout;
        Self {
            caches: RwLock::new(caches),
            waiters: Waiters::default(),
            clock,
            wait_limit,
            signal: lifecycle::RefreshSignal::default(),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Caches> {
        self.caches.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Caches> {
        self.caches.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn now(&self) -> UnixTime {
        (self.clock)()
    }

    /// Polls `flow` under the write lock; a `Wait` takes its ticket under the same lock.
    fn poll<F: Flow>(&self, flow: &mut F) -> Result<Next<F::Output>, F::Error> {
        let mut caches = self.write();
        let polled = flow.poll(&mut caches, self.now());
        if caches.refresh_wanted() {
            self.signal.raise();
        }
        Ok(match polled? {
            Action::NeedHttp(request) => Next::Send(request, flow.fetching()),
            Action::Wait(key) => Next::Wait(self.waiters.ticket(key)),
            Action::CheckReplay(check) => Next::CheckReplay(check),
            Action::Done(output) => Next::Done(output),
        })
    }

    /// A warm verification under the read lock, if everything it needs is cached.
    /// A use of a value due for a refresh raises the refresh signal (two loads when it is
    /// already raised or nothing is due).
    fn warm(&self, flow: &mut VerifyAccessToken<'_>) -> Option<Result<Claims, VerifyError>> {
        let caches = self.read();
        let result = flow.poll_shared(&caches, self.now());
        if caches.refresh_wanted() {
            self.signal.raise();
        }
        result
    }
}

/// What a drive loop does after a poll.
enum Next<T> {
    Send(HttpRequest, Option<FetchKey>),
    Wait(Ticket),
    CheckReplay(ReplayCheck),
    Done(T),
}

/// A request sent and not yet answered. Answered, it hands the outcome to the flow and wakes
/// the key's waiters; dropped unanswered (a cancelled future, a panic in the transport), it
/// abandons the request and wakes them too, so they fetch it themselves at once.
struct Outstanding<'d, F: Flow> {
    shared: &'d Shared,
    flow: &'d mut F,
    key: Option<FetchKey>,
    answered: bool,
}

impl<'d, F: Flow> Outstanding<'d, F> {
    fn new(shared: &'d Shared, flow: &'d mut F, key: Option<FetchKey>) -> Self {
        Self {
            shared,
            flow,
            key,
            answered: false,
        }
    }

    fn answer(mut self, outcome: HttpOutcome) {
        self.answered = true;
        let mut caches = self.shared.write();
        self.flow
            .handle_response(&mut caches, outcome, self.shared.now());
        if let Some(key) = &self.key {
            self.shared.waiters.complete(key);
        }
    }
}

impl<F: Flow> Drop for Outstanding<'_, F> {
    fn drop(&mut self) {
        if !self.answered {
            let mut caches = self.shared.write();
            self.flow.abandon(&mut caches);
            if let Some(key) = &self.key {
                self.shared.waiters.complete(key);
            }
        }
    }
}

/// Drives any flow (verification, token exchange) over shared caches: blocking with a
/// [`Transport`] ([`drive`](Self::drive)), async with an [`AsyncTransport`]
/// ([`drive_async`](Self::drive_async)). `Send + Sync` when the transport is: share it
/// between threads or tasks.
pub struct Driver<T> {
    shared: Shared,
    transport: T,
    /// The shared DPoP replay store, if any.
    replay: Option<Arc<dyn ReplayStore>>,
}

impl<T> Driver<T> {
    /// A driver over `caches`, sending through `transport`, reading time from `clock`
    /// ([`system_clock`], or a fixed instant for replays and tests).
    pub fn new(
        caches: Caches,
        transport: T,
        clock: impl Fn() -> UnixTime + Send + Sync + 'static,
    ) -> Self {
        Self {
            shared: Shared::new(caches, Box::new(clock)),
            transport,
            replay: None,
        }
    }

    /// Checks DPoP proofs for replay in `store`, shared with other instances, instead of in
    /// process memory: the caches are switched to an
    /// [external replay check](Caches::with_external_replay) (replacing any in-memory
    /// [`ReplayCache`](auth0_api::cache::ReplayCache)), and every
    /// [`Action::CheckReplay`] is answered by `store`.
    ///
    /// Without a store, a driver whose caches were built with an external check answers
    /// every check [`ReplayOutcome::Unavailable`] (HTTP 503): it fails closed.
    #[must_use]
    pub fn with_replay_store(mut self, store: impl ReplayStore + 'static) -> Self {
        self.shared
            .caches
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .set_external_replay();
        self.replay = Some(Arc::new(store));
        self
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// How many waits for another flow's fetch have ended so far (a counter for metrics:
    /// with per-key wake-ups, a waiter resumes only when its own key is fetched).
    pub fn wakeups(&self) -> u64 {
        self.shared.waiters.wakeups()
    }

    /// The one drive loop: each request is sent once through `send` and its outcome handed
    /// back; a wait sleeps until the awaited key is fetched (or the cache's
    /// `fetch_timeout` passed). Dropped while a request is out, it abandons the request.
    async fn run<F, S, Fut>(&self, flow: &mut F, send: S) -> Result<F::Output, F::Error>
    where
        F: Flow,
        S: Fn(HttpRequest) -> Fut,
        Fut: Future<Output = HttpOutcome>,
    {
        loop {
            match self.shared.poll(flow)? {
                Next::Send(request, key) => {
                    let outstanding = Outstanding::new(&self.shared, flow, key);
                    let (event, started) = (trace::Request::of(&request), Instant::now());
                    let outcome = send(request).await;
                    event.done(&outcome, started.elapsed());
                    outstanding.answer(outcome);
                }
                Next::Wait(ticket) => {
                    let deadline = Instant::now() + self.shared.wait_limit;
                    self.shared.waiters.wait(ticket, deadline).await;
                }
                // No lock is held: the store may take a network round trip. Cancelled here,
                // the flow is dropped with nothing of the caches to give back.
                Next::CheckReplay(check) => {
                    let outcome = match &self.replay {
                        Some(store) => store.check_and_insert(check, self.shared.now()).await,
                        None => ReplayOutcome::Unavailable,
                    };
                    flow.handle_replay(outcome);
                }
                Next::Done(output) => return Ok(output),
            }
        }
    }
}

impl<T: Transport> Driver<T> {
    /// Drives `flow` to its end on this thread, blocking on each request and wait.
    ///
    /// # Errors
    /// The flow's error.
    pub fn drive<F: Flow>(&self, flow: &mut F) -> Result<F::Output, F::Error> {
        let send = |request| std::future::ready(self.transport.send(request));
        block_on(self.run(flow, send), self.shared.wait_limit)
    }
}

impl<T: AsyncTransport> Driver<T> {
    /// Drives `flow` to its end. The lock is never held across an `.await`; dropping the
    /// future while a request is out abandons the request (see the [crate docs](crate)).
    ///
    /// # Errors
    /// The flow's error.
    pub async fn drive_async<F: Flow>(&self, flow: &mut F) -> Result<F::Output, F::Error> {
        self.run(flow, |request| self.transport.send(request)).await
    }
}

impl<T> fmt::Debug for Driver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver").finish_non_exhaustive()
    }
}

/// Runs `future` on this thread, parking between polls (for at most `limit` at a time, so a
/// wait's deadline is seen even without a wake-up).
fn block_on<F: Future>(future: F, limit: Duration) -> F::Output {
    struct Unpark(std::thread::Thread);

    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }

    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::thread::park_timeout(limit);
    }
}

/// A client that owns its [`Verifier`] and the caches built from it: blocking with a
/// [`Transport`] ([`verify`](Self::verify)), async with an [`AsyncTransport`]
/// ([`verify_async`](Self::verify_async)).
pub struct Client<T> {
    verifier: Verifier,
    driver: Driver<T>,
}

impl<T> Client<T> {
    /// A client for `verifier`, with caches following its policy.
    pub fn new(
        verifier: Verifier,
        transport: T,
        clock: impl Fn() -> UnixTime + Send + Sync + 'static,
    ) -> Self {
        let caches = verifier.new_caches();
        Self::with_caches(verifier, caches, transport, clock)
    }

    /// A client over caches you made (for example with a DPoP replay cache).
    pub fn with_caches(
        verifier: Verifier,
        caches: Caches,
        transport: T,
        clock: impl Fn() -> UnixTime + Send + Sync + 'static,
    ) -> Self {
        Self {
            verifier,
            driver: Driver::new(caches, transport, clock),
        }
    }

    /// The verifier.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// The driver: the caches, the transport and the clock. Drive any flow over them with
    /// it (a token exchange, say).
    pub fn driver(&self) -> &Driver<T> {
        &self.driver
    }

    /// Checks DPoP proofs for replay in `store`, shared by every instance of the API,
    /// instead of in process memory (see [`Driver::with_replay_store`]). Bearer tokens never
    /// reach the store; a DPoP proof reaches it only after the token and the proof passed
    /// every other check.
    #[must_use]
    pub fn with_replay_store(mut self, store: impl ReplayStore + 'static) -> Self {
        self.driver = self.driver.with_replay_store(store);
        self
    }

    /// Verifies `token` from the caches alone, without waiting: `Some` with the outcome when
    /// the verification needed nothing else (the discovery document and the key cached and
    /// fresh, no DPoP replay check), or when it failed before needing anything; `None` when
    /// it needs a request, a wait for another request's fetch, a replay check or a deferred
    /// resolver: then call [`verify_async`](Self::verify_async) (or
    /// [`verify_resolving`](Self::verify_resolving)), which starts over.
    ///
    /// A framework layer answers most requests with this inside its `call`, and boxes a
    /// future only for the others.
    ///
    /// ```
    /// use auth0_api::{Reason, RequestContext, UnixTime, VerifierConfig};
    /// use auth0_api_driver::Client;
    ///
    /// let verifier = VerifierConfig::new().domain("tenant.example").audience("api").build()?;
    /// let client = Client::new(verifier, (), || UnixTime::from_secs(1_700_000_000));
    /// // Not a JWS: refused at once, whatever the caches hold.
    /// let refused = client.verify_cached("not-a-jws", &RequestContext::default());
    /// assert!(matches!(refused, Some(Err(e)) if matches!(e.reason(), Reason::Malformed(_))));
    /// // A well-formed token and cold caches: the keys must be fetched first.
    /// let token = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJ4In0.c2ln";
    /// assert!(client.verify_cached(token, &RequestContext::default()).is_none());
    /// # Ok::<(), auth0_api::ConfigError>(())
    /// ```
    pub fn verify_cached(
        &self,
        token: &str,
        ctx: &RequestContext<'_>,
    ) -> Option<Result<Claims, VerifyError>> {
        let mut flow = match self.verifier.start_verification(token, ctx) {
            Ok(Started::Ready(flow)) => flow,
            Ok(Started::NeedDomains(_)) => return None,
            Err(error) => return Some(Err(error)),
        };
        self.cached(&mut flow)
    }

    /// The warm path of a started verification, traced as a cache hit: `None` when the
    /// caches cannot answer alone.
    fn cached(&self, flow: &mut VerifyAccessToken<'_>) -> Option<Result<Claims, VerifyError>> {
        let result = self.driver.shared.warm(flow)?;
        trace::Verification::start(flow).finish(true, &result);
        Some(result)
    }
}

impl<T: Transport> Client<T> {
    /// Verifies `token` (SPEC section 2). A warm verification takes only a read lock.
    ///
    /// # Errors
    /// The [`VerifyError`] to answer the client with.
    pub fn verify(&self, token: &str, ctx: &RequestContext<'_>) -> Result<Claims, VerifyError> {
        let mut flow = self.verifier.verify_access_token(token, ctx)?;
        if let Some(result) = self.cached(&mut flow) {
            return result;
        }
        let trace = trace::Verification::start(&flow);
        let result = trace.in_scope(|| self.driver.drive(&mut flow));
        trace.finish(false, &result);
        result
    }
}

impl<T: AsyncTransport> Client<T> {
    /// Verifies `token` (SPEC section 2). A warm verification takes only a read lock and
    /// never awaits. A verifier with a deferred resolver needs
    /// [`verify_resolving`](Self::verify_resolving).
    ///
    /// # Errors
    /// The [`VerifyError`] to answer the client with.
    pub async fn verify_async(
        &self,
        token: &str,
        ctx: &RequestContext<'_>,
    ) -> Result<Claims, VerifyError> {
        let flow = self.verifier.verify_access_token(token, ctx)?;
        self.finish(flow).await
    }

    /// Verifies `token` with a verifier built with
    /// [`deferred_domain_resolver`](auth0_api::VerifierConfig::deferred_domain_resolver):
    /// `resolver` is awaited once, after the checks that need no network and before any
    /// request, and its answer is checked as a synchronous resolver's would be. Other
    /// verifiers behave as in [`verify_async`](Self::verify_async) and never call `resolver`.
    ///
    /// # Errors
    /// The [`VerifyError`] to answer the client with; a resolver failure is its
    /// [`source`](std::error::Error::source).
    pub async fn verify_resolving<R: AsyncDomainResolver>(
        &self,
        token: &str,
        ctx: &RequestContext<'_>,
        resolver: &R,
    ) -> Result<Claims, VerifyError> {
        let flow = match self.verifier.start_verification(token, ctx)? {
            Started::Ready(flow) => flow,
            Started::NeedDomains(pending) => {
                let answer = resolver.resolve(pending.input()).await;
                pending.resolved(answer)?
            }
        };
        self.finish(flow).await
    }

    async fn finish(&self, mut flow: VerifyAccessToken<'_>) -> Result<Claims, VerifyError> {
        if let Some(result) = self.cached(&mut flow) {
            return result;
        }
        let trace = trace::Verification::start(&flow);
        let result = trace.run(self.driver.drive_async(&mut flow)).await;
        trace.finish(false, &result);
        result
    }
}

impl<T> fmt::Debug for Client<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("verifier", &self.verifier)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use auth0_api::{HttpResponse, VerifierConfig};
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use p256::ecdsa::{Signature, SigningKey, signature::Signer as _};
    use serde_json::{Value, json};

    const ISSUER: &str = "https://tenant.example/";
    const NOW: u64 = 1_700_000_000;
    const URL: &str = "https://api.example/orders";

    fn public_jwk(key: &SigningKey) -> Value {
        let point = key.verifying_key().to_sec1_point(false);
        let bytes = point.as_bytes();
        json!({"kty": "EC", "crv": "P-256",
               "x": B64.encode(&bytes[1..33]), "y": B64.encode(&bytes[33..65])})
    }

    fn sign(key: &SigningKey, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let sig: Signature = key.sign(input.as_bytes());
        format!("{input}.{}", B64.encode(sig.to_bytes()))
    }

    /// A client over fixtures for `caches`, a DPoP-bound token, its proof, and a bearer token.
    fn dpop_setup(external: bool) -> (Client<FixtureTransport>, String, String, String) {
        let issuer_key = SigningKey::from_slice(&[7; 32]).unwrap();
        let proof_key = SigningKey::from_slice(&[9; 32]).unwrap();
        let mut jwk = public_jwk(&issuer_key);
        jwk["kid"] = json!("k1");
        let fixtures = FixtureTransport::new()
            .with_get(
                format!("{ISSUER}.well-known/openid-configuration"),
                HttpResponse::json(
                    json!({"issuer": ISSUER, "jwks_uri": format!("{ISSUER}jwks")}).to_string(),
                ),
            )
            .with_get(
                format!("{ISSUER}jwks"),
                HttpResponse::json(json!({ "keys": [jwk] }).to_string()),
            );
        let proof_jwk = public_jwk(&proof_key);
        let jkt = auth0_api::jose::jwk::Jwk::from_members(
            proof_jwk.as_object().unwrap(),
            &auth0_api::jose::verify::RUST_CRYPTO,
        )
        .unwrap()
        .thumbprint();
        let claims = |cnf: bool| {
            let mut c = json!({"iss": ISSUER, "sub": "user", "aud": "api://orders",
                               "iat": NOW, "exp": NOW + 3600});
            if cnf {
                c["cnf"] = json!({ "jkt": jkt });
            }
            c
        };
        let header = json!({"alg": "ES256", "kid": "k1"});
        let bound = sign(&issuer_key, &header, &claims(true));
        let bearer = sign(&issuer_key, &header, &claims(false));
        let proof = sign(
            &proof_key,
            &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": proof_jwk}),
            &json!({"jti": "j1", "htm": "GET", "htu": URL, "iat": NOW,
                    "ath": auth0_api::verify::dpop::access_token_hash(&bound)}),
        );
        let verifier = VerifierConfig::new()
            .domain("tenant.example")
            .audience("api://orders")
            .algorithms(["ES256"])
            .build()
            .unwrap();
        let caches = if external {
            verifier.new_caches().with_external_replay()
        } else {
            verifier.new_caches()
        };
        let client =
            Client::with_caches(verifier, caches, fixtures, || UnixTime::from_secs(NOW + 1));
        (client, bound, proof, bearer)
    }

    fn dpop_ctx(proof: &str) -> RequestContext<'_> {
        RequestContext {
            scheme: Some("DPoP"),
            dpop_proof: Some(proof),
            http_method: Some("GET"),
            http_url: Some(URL),
            ..RequestContext::default()
        }
    }

    /// Caches asking for an external replay check, and no store to ask: DPoP requests are
    /// refused with 503 (fail closed), bearer requests are served as before.
    #[test]
    fn an_external_check_without_a_store_fails_closed() {
        let (client, bound, proof, bearer) = dpop_setup(true);
        for _ in 0..2 {
            let err = client.verify(&bound, &dpop_ctx(&proof)).unwrap_err();
            assert_eq!(*err.reason(), auth0_api::Reason::ReplayStoreUnavailable);
            assert_eq!(
                (err.status(), err.code()),
                (503, "replay_store_unavailable")
            );
        }
        let claims = client.verify(&bearer, &RequestContext::default()).unwrap();
        assert_eq!(claims.get("sub"), Some(json!("user")));
    }

    /// Without a store and with default caches the driver behaves as before: no replay
    /// step, so (with no in-memory cache either) the same proof passes twice.
    #[test]
    fn no_store_no_external_check_keeps_the_old_behaviour() {
        let (client, bound, proof, _) = dpop_setup(false);
        client.verify(&bound, &dpop_ctx(&proof)).unwrap();
        client.verify(&bound, &dpop_ctx(&proof)).unwrap();
    }

    /// The caches alone answer only what needs nothing else: cold caches and a DPoP
    /// request with a replay step wait for the full path; a warm bearer request and a
    /// malformed token are answered at once, as the full path answers them.
    #[test]
    fn verify_cached_answers_only_from_warm_caches() {
        let (client, bound, proof, bearer) = dpop_setup(true);
        let jwks = format!("{ISSUER}jwks");
        let bearer_ctx = RequestContext::default();
        assert!(client.verify_cached(&bearer, &bearer_ctx).is_none());
        assert_eq!(
            client.driver().transport().requests(&jwks),
            0,
            "no request sent"
        );

        let full = client.verify(&bearer, &bearer_ctx).unwrap();
        assert_eq!(client.driver().transport().requests(&jwks), 1);
        let cached = client.verify_cached(&bearer, &bearer_ctx);
        assert_eq!(cached.map(Result::unwrap), Some(full));
        assert_eq!(client.driver().transport().requests(&jwks), 1);

        // The replay step needs the store, even with warm keys.
        assert!(client.verify_cached(&bound, &dpop_ctx(&proof)).is_none());

        let refused = client
            .verify_cached("a.b", &bearer_ctx)
            .unwrap()
            .unwrap_err();
        let full = client.verify("a.b", &bearer_ctx).unwrap_err();
        assert_eq!(
            (refused.status(), refused.reason()),
            (full.status(), full.reason())
        );
    }

    #[test]
    fn options_debug_hides_proxy_credentials() {
        let options = ClientOptions {
            proxy: Some("http://user:secret@proxy.example:3128/".into()),
            ..ClientOptions::default()
        };
        let text = format!("{options:?}");
        assert!(!text.contains("secret") && !text.contains("user"), "{text}");
        assert!(
            text.contains("http://[redacted]@proxy.example:3128/"),
            "{text}"
        );
        assert_eq!(without_userinfo("https://p.example"), "https://p.example");
    }
}
