//! The cache protocol for "the verifying key for this issuer and header", written once.
//!
//! [`KeyFetch`] is the sub-machine that every flow needing the tenant's keys embeds (the
//! verification flow for the access token, the exchange flows for a returned ID token): it
//! reads the caches, waits for another flow's fetch, refuses within the failure cooldown,
//! fetches the discovery document and then the JWK Set, and refetches the set once for an
//! unknown `kid`. Only this module and the cache itself set or clear in-flight marks.
//!
//! ```text
//!  Discovery ──(fresh)──────────────> Keys ──(hit)──> key
//!     │  ▲                            │  ▲
//!     │  └─(wait: another flow)       │  └─(wait: another flow)
//!     └─> ExpectDiscovery ──(parsed)──┘  └─> ExpectJwks (cold, stale, or one refetch
//!                                                        for an unknown kid)
//! ```

use alloc::string::String;

use super::jwks::KeyLookup;
use super::replay::ReplayCache;
use super::{Caches, DiscoveryStep};
use crate::discovery::{self, DiscoveryDocument, DocumentError, check_json_response};
use crate::http::{HttpOutcome, HttpRequest};
use crate::jose::JoseError;
use crate::jose::header::Header;
use crate::jose::jwk::{Jwk, JwkSet, KeySetLimits};
use crate::jose::provider::CryptoProvider;
use crate::time::UnixTime;

/// Names a cache slot being fetched, so a driver can wake the flows waiting for it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FetchKey {
    /// The discovery document of this issuer (`https://host[:port]/`).
    Discovery(String),
    /// The JWK Set at this URI.
    Jwks(String),
}

/// What the sub-machine needs next, or what it found.
#[derive(Debug)]
pub(crate) enum Step<T> {
    /// Found: the discovery document, or the key.
    Ready(T),
    /// Another flow is fetching this slot.
    Wait(FetchKey),
    /// Send this request and hand its outcome to [`KeyFetch::handle_response`].
    Fetch(HttpRequest),
}

/// Which request [`KeyFetch::handle_response`] took.
#[derive(Debug)]
pub(crate) enum Fetched {
    /// The discovery document, with its token endpoint as received.
    Discovery { token_endpoint: Option<String> },
    /// The JWK Set.
    KeySet,
}

/// Why no key could be had. Each flow maps these to its own error type, so verification
/// and exchange report the same causes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum FetchError {
    /// Discovery failed (`None`: a transport failure, or within the failure cooldown).
    Discovery(Option<DocumentError>),
    /// The JWKS request failed (`None`: a transport failure, or within the cooldown).
    Jwks(Option<DocumentError>),
    /// The JWK Set was fetched but is not usable.
    InvalidJwks(JoseError),
    /// No key in the set matches the header, after at most one refetch.
    UnknownKid,
    /// The set cannot verify this header (ambiguous keys, a key that may not be used with
    /// this `alg`).
    Unusable(JoseError),
    /// A call out of order: a response with nothing outstanding.
    Misuse,
}

/// Where the fetch is.
#[derive(Debug)]
enum State {
    /// Looking for the issuer's discovery document.
    Discovery,
    /// The discovery request is out; `since` is when its in-flight mark was set.
    ExpectDiscovery { since: UnixTime },
    /// Looking for the key; `local` holds a set this flow fetched when caching is off;
    /// `failed` is this flow's failed refetch, reported unless the stale set has the key.
    Keys {
        jwks_uri: String,
        local: Option<JwkSet>,
        refetched: bool,
        failed: Option<FetchError>,
    },
    /// The JWKS request is out.
    ExpectJwks { jwks_uri: String, since: UnixTime },
    /// Abandoned or failed: no more requests.
    Closed,
}

/// One flow's walk through the shared caches to the key for one issuer. See the
/// [module docs](self).
#[derive(Debug)]
pub(crate) struct KeyFetch {
    state: State,
}

impl KeyFetch {
    /// A fetch that starts from the issuer's discovery document.
    pub(crate) const fn new() -> Self {
        Self {
            state: State::Discovery,
        }
    }

    /// The discovery document of `issuer`: cached, or to be fetched (or waited for). Once
    /// known, the fetch moves on to the keys.
    pub(crate) fn poll_discovery<'c>(
        &mut self,
        caches: &'c mut Caches,
        issuer: &str,
        now: UnixTime,
    ) -> Result<Step<&'c DiscoveryDocument>, FetchError> {
        if !matches!(self.state, State::Discovery) {
            return Err(self.close(FetchError::Misuse));
        }
        match caches.discovery_step(issuer, now) {
            DiscoveryStep::Fresh(doc) => {
                self.state = State::Keys {
                    jwks_uri: doc.jwks_uri.clone(),
                    local: None,
                    refetched: false,
                    failed: None,
                };
                Ok(Step::Ready(doc))
            }
            DiscoveryStep::Wait(key) => Ok(Step::Wait(key)),
            DiscoveryStep::RecentlyFailed => Err(self.close(FetchError::Discovery(None))),
            DiscoveryStep::Fetch(request) => {
                self.state = State::ExpectDiscovery { since: now };
                Ok(Step::Fetch(request))
            }
        }
    }

    /// Whether the discovery document is still to be had ([`poll_discovery`] comes next).
    ///
    /// [`poll_discovery`]: Self::poll_discovery
    pub(crate) fn needs_discovery(&self) -> bool {
        matches!(self.state, State::Discovery)
    }

    /// Whether the key for `header` is at hand: in the caches, in the set this flow
    /// fetched, or to be fetched (at most one refetch for an unknown `kid`). On
    /// [`Step::Ready`], [`key`](Self::key) lends it.
    pub(crate) fn poll_key(
        &mut self,
        caches: &mut Caches,
        header: &Header,
        now: UnixTime,
    ) -> Result<Step<()>, FetchError> {
        let State::Keys {
            jwks_uri,
            local,
            refetched,
            failed,
        } = &self.state
        else {
            return Err(self.close(FetchError::Misuse));
        };
        if let Some(set) = local {
            return match set.select(header) {
                Ok(_) => Ok(Step::Ready(())),
                Err(_) => Err(self.close(FetchError::UnknownKid)),
            };
        }
        let error = match caches.key(jwks_uri, header, now) {
            KeyLookup::Hit(_) => return Ok(Step::Ready(())),
            KeyLookup::Wait => return Ok(Step::Wait(FetchKey::Jwks(jwks_uri.clone()))),
            // One fetch per flow: after a refetch, an unknown kid is final.
            KeyLookup::Fetch if !*refetched => None,
            KeyLookup::Fetch | KeyLookup::UnknownKey => Some(FetchError::UnknownKid),
            KeyLookup::RecentlyFailed => Some(FetchError::Jwks(None)),
            KeyLookup::Unusable(e) => Some(FetchError::Unusable(e)),
        };
        // The stale set did not have the key: the failed refetch is the cause.
        let error = error.map(|e| failed.clone().unwrap_or(e));
        if let Some(error) = error {
            return Err(self.close(error));
        }
        let jwks_uri = jwks_uri.clone();
        if !caches.begin_jwks(&jwks_uri, now) {
            // The cache is full of resources within their cooldown.
            return Err(self.close(FetchError::Jwks(None)));
        }
        let request = HttpRequest::get(jwks_uri.clone());
        self.state = State::ExpectJwks {
            jwks_uri,
            since: now,
        };
        Ok(Step::Fetch(request))
    }

    /// The key [`poll_key`](Self::poll_key) found for `header`, with the DPoP replay cache
    /// borrowed beside it; the cached set is marked most recently used. `None` if
    /// `poll_key` did not answer [`Step::Ready`] for this header.
    pub(crate) fn key<'c>(
        &'c self,
        caches: &'c mut Caches,
        header: &Header,
        now: UnixTime,
    ) -> Option<(&'c Jwk, Option<&'c mut ReplayCache>)> {
        let State::Keys {
            jwks_uri, local, ..
        } = &self.state
        else {
            return None;
        };
        match local {
            Some(set) => set
                .select(header)
                .ok()
                .map(|key| (key, caches.replay_mut())),
            None => match caches.key_and_replay(jwks_uri, header, now) {
                (KeyLookup::Hit(key), replay) => Some((key, replay)),
                _ => None,
            },
        }
    }

    /// Takes the outcome of the request the last poll asked for and records it in the
    /// caches (which clears the in-flight mark and wakes nothing by itself). Says which
    /// request it was; for discovery it carries the token endpoint, which a flow reads from
    /// the document as received (the caches do not keep it with TTL 0).
    ///
    /// # Errors
    /// The typed cause of a failed fetch; [`FetchError::Misuse`] with nothing outstanding.
    pub(crate) fn handle_response(
        &mut self,
        caches: &mut Caches,
        outcome: &HttpOutcome,
        issuer: &str,
        keys: (&dyn CryptoProvider, &KeySetLimits),
        now: UnixTime,
    ) -> Result<Fetched, FetchError> {
        match core::mem::replace(&mut self.state, State::Closed) {
            State::ExpectDiscovery { since } => {
                let parsed = match outcome {
                    Ok(response) => discovery::parse_discovery(issuer, response).map_err(Some),
                    Err(_) => Err(None),
                };
                match parsed {
                    Ok(doc) => {
                        let fetched = self.use_document(&doc);
                        caches.finish_discovery(issuer, Some(doc), since, now);
                        Ok(fetched)
                    }
                    Err(e) => {
                        caches.finish_discovery(issuer, None, since, now);
                        // The tenant is down: a stale document still names the key set.
                        match caches.usable_discovery(issuer, now) {
                            Some(doc) => Ok(self.use_document(doc)),
                            None => Err(FetchError::Discovery(e)),
                        }
                    }
                }
            }
            State::ExpectJwks { jwks_uri, since } => {
                let (provider, limits) = keys;
                let keep_body = !caches.policy().ttl.is_zero();
                match parse_key_set(outcome, provider, limits, keep_body) {
                    Ok(set) => {
                        let local = caches.finish_jwks(&jwks_uri, Some(set), since, now);
                        self.state = State::Keys {
                            jwks_uri,
                            local,
                            refetched: true,
                            failed: None,
                        };
                        Ok(Fetched::KeySet)
                    }
                    Err(e) => {
                        caches.finish_jwks(&jwks_uri, None, since, now);
                        // The tenant is down: a stale set may still hold the key.
                        if caches.has_usable_jwks(&jwks_uri, now) {
                            self.state = State::Keys {
                                jwks_uri,
                                local: None,
                                refetched: true,
                                failed: Some(e),
                            };
                            return Ok(Fetched::KeySet);
                        }
                        Err(e)
                    }
                }
            }
            other => {
                self.state = other;
                Err(FetchError::Misuse)
            }
        }
    }

    /// Whether a request of this fetch is outstanding.
    pub(crate) fn is_outstanding(&self) -> bool {
        matches!(
            self.state,
            State::ExpectDiscovery { .. } | State::ExpectJwks { .. }
        )
    }

    /// The slot the outstanding request fetches, if any.
    pub(crate) fn fetching(&self, issuer: &str) -> Option<FetchKey> {
        match &self.state {
            State::ExpectDiscovery { .. } => Some(FetchKey::Discovery(String::from(issuer))),
            State::ExpectJwks { jwks_uri, .. } => Some(FetchKey::Jwks(jwks_uri.clone())),
            _ => None,
        }
    }

    /// Moves on to the key set `doc` names.
    fn use_document(&mut self, doc: &DiscoveryDocument) -> Fetched {
        self.state = State::Keys {
            jwks_uri: doc.jwks_uri.clone(),
            local: None,
            refetched: false,
            failed: None,
        };
        Fetched::Discovery {
            token_endpoint: doc.token_endpoint.clone(),
        }
    }

    /// Gives up the outstanding request, if any: its in-flight mark is cleared at once and
    /// no failure is recorded, so the flows waiting for it go on (and fetch it themselves).
    /// The fetch is closed afterwards.
    pub(crate) fn abandon(&mut self, caches: &mut Caches, issuer: &str) {
        match core::mem::replace(&mut self.state, State::Closed) {
            State::ExpectDiscovery { since } => {
                caches.abandon(&FetchKey::Discovery(String::from(issuer)), since);
            }
            State::ExpectJwks { jwks_uri, since } => {
                caches.abandon(&FetchKey::Jwks(jwks_uri), since);
            }
            _ => {}
        }
    }

    fn close(&mut self, error: FetchError) -> FetchError {
        self.state = State::Closed;
        error
    }
}

/// Checks and parses a JWKS response; with `keep_body`, the set keeps the bytes received
/// (for [snapshots](super::snapshot)).
pub(super) fn parse_key_set(
    outcome: &HttpOutcome,
    provider: &dyn CryptoProvider,
    limits: &KeySetLimits,
    keep_body: bool,
) -> Result<JwkSet, FetchError> {
    let response = outcome.as_ref().map_err(|_| FetchError::Jwks(None))?;
    let body = check_json_response(response).map_err(|e| FetchError::Jwks(Some(e)))?;
    let set = JwkSet::parse_with(body, provider, limits).map_err(FetchError::InvalidJwks)?;
    Ok(if keep_body {
        set.with_source(body)
    } else {
        set
    })
}
