//! [`Refresh`]: one background refresh of a cached discovery document or JWK Set.
//!
//! A verification that uses a value in the refresh window of its TTL, or a stale value
//! whose cooldown ended, is answered from the cache and notes the refresh as due
//! ([`Caches::refresh_wanted`]). A driver takes the due keys
//! ([`Caches::take_due_refreshes`]) and runs this flow for each, off the request path:
//!
//! ```text
//!  poll ──(not due, or another fetch in flight)──> Done(NotDue)
//!   └──(mark set)──> NeedHttp ──handle_response──> poll ──> Done(Updated) | Err(RefreshError)
//! ```
//!
//! The flow sets and clears the same in-flight mark as every other fetch of the resource,
//! so concurrent refreshes and verifications make one request, and a verification finding
//! the mark keeps using the cached value (it waits only when it has none usable).

use super::fetch::{FetchError, parse_key_set};
use super::{Caches, FetchKey};
use crate::config::Verifier;
use crate::discovery::{self, DocumentError};
use crate::flow::{Action, Flow};
use crate::http::{HttpOutcome, HttpRequest};
use crate::jose::JoseError;
use crate::time::UnixTime;

/// What a [`Refresh`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refreshed {
    /// The resource was fetched again and the cache holds the new value.
    Updated,
    /// Nothing to do: the value is not due (fresh before its refresh window, gone, or
    /// refreshed meanwhile) or another flow is fetching it.
    NotDue,
}

/// Why a [`Refresh`] failed. The cached value is kept and stays usable for
/// [`max_stale`](super::CachePolicy::max_stale) after its TTL; the next refresh waits for
/// the cooldown.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefreshError {
    /// The discovery request failed (`None`: a transport failure).
    Discovery(Option<DocumentError>),
    /// The JWKS request failed (`None`: a transport failure).
    Jwks(Option<DocumentError>),
    /// The JWK Set was fetched but is not usable.
    InvalidJwks(JoseError),
    /// A call out of order: a poll with a response outstanding, a response with none, or a
    /// poll after the end.
    Misuse,
}

impl core::fmt::Display for RefreshError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RefreshError::Discovery(None) => f.write_str("discovery refresh failed"),
            RefreshError::Discovery(Some(e)) => write!(f, "discovery refresh failed: {e}"),
            RefreshError::Jwks(None) => f.write_str("JWKS refresh failed"),
            RefreshError::Jwks(Some(e)) => write!(f, "JWKS refresh failed: {e}"),
            RefreshError::InvalidJwks(e) => write!(f, "refreshed JWK Set is not usable: {e}"),
            RefreshError::Misuse => f.write_str("refresh driven out of order"),
        }
    }
}

impl core::error::Error for RefreshError {}

#[derive(Debug)]
enum State {
    Start,
    Expect { since: UnixTime },
    Finished(Option<Result<Refreshed, RefreshError>>),
}

/// A background refresh of one cached resource; see the [cache module docs](crate::cache). Made by
/// [`Verifier::refresh`]; a JWK Set is parsed with the verifier's provider and
/// [`KeySetLimits`](crate::KeySetLimits), as a verification's fetch would.
#[derive(Debug)]
#[must_use = "a flow does nothing until it is polled"]
pub struct Refresh<'v> {
    verifier: &'v Verifier,
    key: FetchKey,
    state: State,
}

impl Verifier {
    /// A [`Refresh`] of `key` (one of [`Caches::take_due_refreshes`]).
    ///
    /// ```
    /// use auth0_api::{Action, Refreshed, UnixTime, VerifierConfig};
    ///
    /// let verifier = VerifierConfig::new()
    ///     .domain("example.auth0.com")
    ///     .audience("https://api.example.com")
    ///     .build()?;
    /// let mut caches = verifier.new_caches();
    /// let now = UnixTime::from_secs(1_700_000_000);
    /// // Nothing cached: nothing is due, and a refresh does nothing.
    /// assert!(caches.take_due_refreshes(now).is_empty());
    /// let key = auth0_api::FetchKey::Discovery("https://example.auth0.com/".into());
    /// let mut refresh = verifier.refresh(key);
    /// assert!(matches!(refresh.poll(&mut caches, now), Ok(Action::Done(Refreshed::NotDue))));
    /// # Ok::<(), auth0_api::ConfigError>(())
    /// ```
    pub fn refresh(&self, key: FetchKey) -> Refresh<'_> {
        Refresh {
            verifier: self,
            key,
            state: State::Start,
        }
    }
}

impl Refresh<'_> {
    /// The resource refreshed.
    pub fn key(&self) -> &FetchKey {
        &self.key
    }

    /// Starts the refresh if it is still due at `now` (setting the in-flight mark), or ends.
    ///
    /// # Errors
    /// The refresh's failure once its response was handled; [`RefreshError::Misuse`] out
    /// of order.
    pub fn poll(
        &mut self,
        caches: &mut Caches,
        now: UnixTime,
    ) -> Result<Action<Refreshed>, RefreshError> {
        match &mut self.state {
            State::Start => {}
            State::Expect { .. } => return Err(RefreshError::Misuse),
            State::Finished(result) => {
                return match result.take() {
                    Some(Ok(done)) => Ok(Action::Done(done)),
                    Some(Err(e)) => Err(e),
                    None => Err(RefreshError::Misuse),
                };
            }
        }
        let policy = caches.policy;
        let (due, request) = match &self.key {
            FetchKey::Discovery(issuer) => (
                caches
                    .discovery
                    .get(issuer)
                    .is_some_and(|e| e.refresh_due(&policy, now)),
                discovery::discovery_request(issuer),
            ),
            FetchKey::Jwks(uri) => (
                caches
                    .jwks
                    .get(uri)
                    .is_some_and(|e| e.refresh_due(&policy, now)),
                HttpRequest::get(uri.clone()),
            ),
        };
        let marked = due
            && match &self.key {
                FetchKey::Discovery(issuer) => caches.begin_discovery(issuer, now),
                FetchKey::Jwks(uri) => caches.begin_jwks(uri, now),
            };
        if !marked {
            self.state = State::Finished(None);
            return Ok(Action::Done(Refreshed::NotDue));
        }
        self.state = State::Expect { since: now };
        Ok(Action::NeedHttp(request))
    }

    /// Takes the outcome of the request and records it in the caches (which clears the
    /// in-flight mark); the next [`poll`](Self::poll) reports it.
    pub fn handle_response(&mut self, caches: &mut Caches, outcome: HttpOutcome, now: UnixTime) {
        let State::Expect { since } = self.state else {
            self.state = State::Finished(Some(Err(RefreshError::Misuse)));
            return;
        };
        let result = match &self.key {
            FetchKey::Discovery(issuer) => {
                let parsed = match &outcome {
                    Ok(response) => discovery::parse_discovery(issuer, response).map_err(Some),
                    Err(_) => Err(None),
                };
                match parsed {
                    Ok(doc) => {
                        caches.finish_discovery(issuer, Some(doc), since, now);
                        Ok(Refreshed::Updated)
                    }
                    Err(e) => {
                        caches.finish_discovery(issuer, None, since, now);
                        Err(RefreshError::Discovery(e))
                    }
                }
            }
            FetchKey::Jwks(uri) => {
                let verifier = self.verifier;
                let keep_body = !caches.policy.ttl.is_zero();
                match parse_key_set(&outcome, verifier.provider, &verifier.key_limits, keep_body) {
                    Ok(set) => {
                        caches.finish_jwks(uri, Some(set), since, now);
                        Ok(Refreshed::Updated)
                    }
                    Err(e) => {
                        caches.finish_jwks(uri, None, since, now);
                        Err(match e {
                            FetchError::InvalidJwks(e) => RefreshError::InvalidJwks(e),
                            FetchError::Jwks(e) => RefreshError::Jwks(e),
                            _ => RefreshError::Misuse,
                        })
                    }
                }
            }
        };
        self.state = State::Finished(Some(result));
    }

    /// The slot the outstanding request fills, if one is outstanding.
    pub fn fetching(&self) -> Option<FetchKey> {
        matches!(self.state, State::Expect { .. }).then(|| self.key.clone())
    }

    /// Gives up the outstanding request, clearing its in-flight mark without recording a
    /// failure. The flow ends with [`RefreshError::Misuse`].
    pub fn abandon(&mut self, caches: &mut Caches) {
        if let State::Expect { since } = self.state {
            caches.abandon(&self.key, since);
        }
        self.state = State::Finished(Some(Err(RefreshError::Misuse)));
    }
}

impl Flow for Refresh<'_> {
    type Output = Refreshed;
    type Error = RefreshError;

    fn poll(
        &mut self,
        caches: &mut Caches,
        now: UnixTime,
    ) -> Result<Action<Refreshed>, RefreshError> {
        Refresh::poll(self, caches, now)
    }

    fn handle_response(&mut self, caches: &mut Caches, outcome: HttpOutcome, now: UnixTime) {
        Refresh::handle_response(self, caches, outcome, now);
    }

    fn fetching(&self) -> Option<FetchKey> {
        Refresh::fetching(self)
    }

    /// A refresh never asks for a replay check: an answer is a misuse. With a request
    /// outstanding, the flow keeps waiting for its response, which clears the in-flight mark.
    fn handle_replay(&mut self, _outcome: crate::cache::ReplayOutcome) {
        if !matches!(self.state, State::Expect { .. }) {
            self.state = State::Finished(Some(Err(RefreshError::Misuse)));
        }
    }

    fn abandon(&mut self, caches: &mut Caches) {
        Refresh::abandon(self, caches);
    }
}
