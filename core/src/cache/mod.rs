//! Caches owned by the caller: discovery documents by issuer and JWK Sets by URI.
//!
//! [`Caches`] is plain data: no locks, no `Arc`, no clock. Every lookup takes `now`. Entries
//! are bounded ([`CachePolicy::max_entries`] per cache, least recently used evicted), expire
//! after [`CachePolicy::ttl`], and carry an in-flight mark so that a second flow waits for a
//! fetch already under way instead of sending a duplicate. The mark expires after
//! [`CachePolicy::fetch_timeout`], so a fetch that is never answered cannot wedge the cache.
//! After a failed fetch, or a refetch for an unknown `kid`, no new request for the same
//! resource is made before [`CachePolicy::refetch_cooldown`] has passed: a flood of bad tokens
//! yields rejections, not requests.

pub mod jwks;
pub mod lru;
pub mod replay;

use alloc::string::String;
use core::time::Duration;

use crate::discovery::DiscoveryDocument;
use crate::jose::jwk::JwkSet;
use crate::time::UnixTime;

pub use jwks::KeyLookup;
pub use lru::Lru;
pub use replay::ReplayCache;

/// How long things are cached and how often they may be fetched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CachePolicy {
    /// Lifetime of discovery documents and JWK Sets. Defaults to 600 s; 0 disables caching.
    pub ttl: Duration,
    /// The most entries per cache. Defaults to 100.
    pub max_entries: usize,
    /// The least time between two fetches of one resource after a failure or an unknown
    /// `kid`. Defaults to 30 s.
    pub refetch_cooldown: Duration,
    /// How long an in-flight mark holds back other flows. Defaults to 30 s; drivers should
    /// use a request timeout no longer than this.
    pub fetch_timeout: Duration,
}

impl Default for CachePolicy {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(600),
            max_entries: 100,
            refetch_cooldown: Duration::from_secs(30),
            fetch_timeout: Duration::from_secs(30),
        }
    }
}

/// What a cache knows about one resource.
#[derive(Debug)]
pub struct Entry<T> {
    value: Option<(T, UnixTime)>,
    fetching_since: Option<UnixTime>,
    last_attempt: Option<UnixTime>,
    last_failed: bool,
}

impl<T> Default for Entry<T> {
    fn default() -> Self {
        Self {
            value: None,
            fetching_since: None,
            last_attempt: None,
            last_failed: false,
        }
    }
}

impl<T> Entry<T> {
    /// The cached value if it is still fresh at `now`.
    pub fn fresh(&self, policy: &CachePolicy, now: UnixTime) -> Option<&T> {
        let (value, fetched_at) = self.value.as_ref()?;
        let expires = fetched_at.checked_add(policy.ttl)?;
        (now < expires).then_some(value)
    }

    /// Whether another flow is fetching this resource at `now`.
    pub fn is_fetching(&self, policy: &CachePolicy, now: UnixTime) -> bool {
        self.fetching_since.is_some_and(|since| {
            since
                .checked_add(policy.fetch_timeout)
                .is_none_or(|end| now < end)
        })
    }

    /// Whether a new fetch is allowed by the cooldown at `now`.
    pub fn cooldown_over(&self, policy: &CachePolicy, now: UnixTime) -> bool {
        self.last_attempt.is_none_or(|at| {
            at.checked_add(policy.refetch_cooldown)
                .is_none_or(|end| now >= end)
        })
    }

    /// Whether the last completed fetch failed.
    pub fn last_failed(&self) -> bool {
        self.last_failed
    }

    fn begin(&mut self, now: UnixTime) {
        self.fetching_since = Some(now);
        self.last_attempt = Some(now);
    }
}

/// What a flow does next about an issuer's discovery document.
#[derive(Debug)]
pub enum DiscoveryStep<'c> {
    /// The document is cached and fresh (and now marked most recently used).
    Fresh(&'c DiscoveryDocument),
    /// Another flow is fetching it: wait.
    Wait(crate::FetchKey),
    /// The last fetch failed and the cooldown forbids another.
    RecentlyFailed,
    /// Send this request; the slot is now marked as being fetched.
    Fetch(crate::http::HttpRequest),
}

/// The discovery and JWKS caches of one verifier (or several sharing a policy).
#[derive(Debug)]
pub struct Caches {
    policy: CachePolicy,
    discovery: Lru<Entry<DiscoveryDocument>>,
    jwks: Lru<Entry<JwkSet>>,
    replay: Option<ReplayCache>,
}

impl Caches {
    /// Empty caches with this policy.
    pub fn new(policy: CachePolicy) -> Self {
        Self {
            policy,
            discovery: Lru::new(policy.max_entries),
            jwks: Lru::new(policy.max_entries),
            replay: None,
        }
    }

    /// Adds a DPoP `jti` replay cache (RFC 9449 section 11.1). Without one, a captured proof
    /// can be replayed within its `iat` window.
    pub fn with_replay_cache(mut self, replay: ReplayCache) -> Self {
        self.replay = Some(replay);
        self
    }

    /// The DPoP replay cache, if kept.
    pub fn replay_mut(&mut self) -> Option<&mut ReplayCache> {
        self.replay.as_mut()
    }

    /// Whether a DPoP replay cache is kept.
    pub fn has_replay_cache(&self) -> bool {
        self.replay.is_some()
    }

    /// The key for `header` from the JWK Set at `jwks_uri` (marking the set most recently
    /// used), and the replay cache, borrowed together.
    pub fn key_and_replay(
        &mut self,
        jwks_uri: &str,
        header: &crate::jose::header::Header,
        now: UnixTime,
    ) -> (KeyLookup<'_>, Option<&mut ReplayCache>) {
        self.jwks.touch(jwks_uri);
        let lookup = jwks::lookup(self.jwks.get(jwks_uri), &self.policy, header, now);
        (lookup, self.replay.as_mut())
    }

    /// The policy.
    pub fn policy(&self) -> &CachePolicy {
        &self.policy
    }

    /// The discovery entry of `issuer`, if any.
    pub fn discovery(&self, issuer: &str) -> Option<&Entry<DiscoveryDocument>> {
        self.discovery.get(issuer)
    }

    /// The JWKS entry of `jwks_uri`, if any.
    pub fn jwks(&self, jwks_uri: &str) -> Option<&Entry<JwkSet>> {
        self.jwks.get(jwks_uri)
    }

    /// The fresh discovery document of `issuer` at `now`.
    pub fn fresh_discovery(&self, issuer: &str, now: UnixTime) -> Option<&DiscoveryDocument> {
        self.discovery.get(issuer)?.fresh(&self.policy, now)
    }

    /// Decides the discovery step for `issuer` at `now`: the fresh document, a wait for
    /// another flow's fetch, a refusal within the failure cooldown, or a request to send
    /// (marking the slot as being fetched). Shared by every flow that needs discovery.
    pub fn discovery_step(&mut self, issuer: &str, now: UnixTime) -> DiscoveryStep<'_> {
        let policy = self.policy;
        match self.discovery.get(issuer) {
            Some(entry) if entry.fresh(&policy, now).is_some() => {
                let fresh = self
                    .discovery
                    .get_mut(issuer)
                    .and_then(|e| e.fresh(&policy, now));
                // Checked fresh just above; `None` cannot occur, and refusing is the safe answer.
                return fresh.map_or(DiscoveryStep::RecentlyFailed, DiscoveryStep::Fresh);
            }
            Some(entry) if entry.is_fetching(&policy, now) => {
                return DiscoveryStep::Wait(crate::FetchKey::Discovery(String::from(issuer)));
            }
            Some(entry) if entry.last_failed() && !entry.cooldown_over(&policy, now) => {
                return DiscoveryStep::RecentlyFailed;
            }
            _ => {}
        }
        self.begin_discovery(issuer, now);
        DiscoveryStep::Fetch(crate::discovery::discovery_request(issuer))
    }

    /// Marks `issuer`'s discovery document as being fetched.
    pub fn begin_discovery(&mut self, issuer: &str, now: UnixTime) {
        begin(&mut self.discovery, issuer, now);
    }

    /// Records the outcome of a discovery fetch (`None` for a failure).
    pub fn finish_discovery(
        &mut self,
        issuer: &str,
        doc: Option<DiscoveryDocument>,
        now: UnixTime,
    ) {
        finish(&mut self.discovery, &self.policy, issuer, doc, now);
    }

    /// Marks the JWK Set at `jwks_uri` as being fetched.
    pub fn begin_jwks(&mut self, jwks_uri: &str, now: UnixTime) {
        begin(&mut self.jwks, jwks_uri, now);
    }

    /// Records the outcome of a JWKS fetch (`None` for a failure). A failure keeps the keys
    /// already cached: they stay usable until their TTL runs out. With TTL 0 nothing is
    /// stored and the keys are handed back for the caller's own use.
    pub fn finish_jwks(
        &mut self,
        jwks_uri: &str,
        keys: Option<JwkSet>,
        now: UnixTime,
    ) -> Option<JwkSet> {
        finish(&mut self.jwks, &self.policy, jwks_uri, keys, now)
    }
}

fn begin<T>(lru: &mut Lru<Entry<T>>, key: &str, now: UnixTime) {
    match lru.get_mut(key) {
        Some(entry) => entry.begin(now),
        None => {
            let mut entry = Entry::default();
            entry.begin(now);
            lru.insert(String::from(key), entry);
        }
    }
}

fn finish<T>(
    lru: &mut Lru<Entry<T>>,
    policy: &CachePolicy,
    key: &str,
    value: Option<T>,
    now: UnixTime,
) -> Option<T> {
    if lru.get(key).is_none() {
        lru.insert(String::from(key), Entry::default());
    }
    if let Some(entry) = lru.get_mut(key) {
        entry.fetching_since = None;
        entry.last_attempt.get_or_insert(now);
        entry.last_failed = value.is_none();
        // TTL 0 disables caching of values; the cooldown state is still kept.
        if !policy.ttl.is_zero() {
            entry.value = value.map(|v| (v, now)).or(entry.value.take());
            return None;
        }
    }
    value
}
