//! [`FixtureTransport`]: answers from a table, with no I/O, for tests, replays and the CLI.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use auth0_api::{
    HttpOutcome, HttpRequest, HttpResponse, Method, TransportError, TransportErrorKind,
};

use crate::{AsyncTransport, Transport};

#[derive(Default)]
struct Table {
    answers: HashMap<(Method, String), HttpResponse>,
    asked: HashMap<String, u64>,
}

/// Answers each request with the response set for its method and URL; any other request is
/// a transport failure ([`TransportErrorKind::Unavailable`]). No network I/O happens. Counts
/// the requests per URL, and its answers can be changed while in use (a key rotation, an
/// outage), so it serves both as a blocking and as an async transport in tests.
///
/// ```
/// use auth0_api::{HttpRequest, HttpResponse};
/// use auth0_api_driver::{FixtureTransport, Transport};
///
/// let fixtures = FixtureTransport::new()
///     .with_get("https://t.example/.well-known/jwks.json", HttpResponse::json(r#"{"keys":[]}"#));
/// let answer = fixtures.send(HttpRequest::get("https://t.example/.well-known/jwks.json"));
/// assert_eq!(answer.unwrap().status, 200);
/// assert!(fixtures.send(HttpRequest::get("https://t.example/other")).is_err());
/// assert_eq!(fixtures.requests("https://t.example/.well-known/jwks.json"), 1);
/// ```
#[derive(Default)]
pub struct FixtureTransport {
    table: Mutex<Table>,
}

impl FixtureTransport {
    /// No answers yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Answers a GET of `url` with `response`.
    #[must_use]
    pub fn with_get(self, url: impl Into<String>, response: HttpResponse) -> Self {
        self.set(Method::Get, url, response);
        self
    }

    /// Answers a POST to `url` with `response`.
    #[must_use]
    pub fn with_post(self, url: impl Into<String>, response: HttpResponse) -> Self {
        self.set(Method::Post, url, response);
        self
    }

    /// Sets (or replaces) the answer to `method` on `url`, also while the transport is in use.
    pub fn set(&self, method: Method, url: impl Into<String>, response: HttpResponse) {
        self.table().answers.insert((method, url.into()), response);
    }

    /// How many requests for `url` were sent so far, answered or not.
    pub fn requests(&self, url: &str) -> u64 {
        self.table().asked.get(url).copied().unwrap_or(0)
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::fmt::Debug for FixtureTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FixtureTransport")
            .field("answers", &self.table().answers.len())
            .finish()
    }
}

impl Transport for FixtureTransport {
    fn send(&self, request: HttpRequest) -> HttpOutcome {
        let mut table = self.table();
        *table.asked.entry(request.url.clone()).or_default() += 1;
        table
            .answers
            .get(&(request.method, request.url))
            .cloned()
            .ok_or_else(|| TransportError::new(TransportErrorKind::Unavailable))
    }
}

impl AsyncTransport for FixtureTransport {
    async fn send(&self, request: HttpRequest) -> HttpOutcome {
        Transport::send(self, request)
    }
}
