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
//!
//! # Eviction keeps the fetch limits
//! An entry that is being fetched, or whose last fetch began less than
//! [`CachePolicy::refetch_cooldown`] ago, is never evicted: forgetting it would forget its
//! in-flight mark and cooldown, and tokens cycling through more resources than the cache holds
//! would each cost a request. When a full cache holds only such entries, a new resource is
//! not fetched: the flow is refused as within the cooldown (a discovery or JWKS fetch
//! failure) until an entry's cooldown ends. So each cache sends at most `max_entries` requests for new
//! resources per cooldown, whatever the tokens. [`Verifier::new_caches`] holds at least one
//! entry per configured static domain.
//!
//! # Refresh ahead of expiry
//! A value used in the last [`CachePolicy::refresh_ahead_percent`] of its TTL is still
//! served, and the caches note that a refresh is due ([`Caches::refresh_wanted`], one
//! atomic flag). A driver then takes the due resources ([`Caches::take_due_refreshes`]) and
//! runs a [`Refresh`] flow for each, off the request path: the refresh sets and clears the
//! same in-flight marks as any fetch, so there is one request per resource however many
//! verifications noticed it, and a verification that needs the value meanwhile uses the
//! cached one instead of waiting.
//!
//! # Stale values while the tenant is down
//! When a refetch fails (a refresh, a fetch after expiry, or a refetch for an unknown
//! `kid`), the value already cached stays usable after its TTL for
//! [`CachePolicy::max_stale`] more (24 h by default, 0 disables it). This holds for JWK Sets
//! and for discovery documents alike: a stale document still names the `jwks_uri` to use.
//! While stale, a refresh is due once per [`CachePolicy::refetch_cooldown`]; a token whose
//! `kid` is not in the stale set is rejected as for a fresh set, and its refetch keeps the
//! cooldown. A value whose TTL passed with no failed refetch is not served stale: the next
//! verification fetches it (and falls back to the old value if that fetch fails).
//!
//! # Snapshots
//! [`Verifier::snapshot_caches`] exports the cached discovery documents and JWK Sets (the
//! bytes received, with their fetch times) as a [`CacheSnapshot`];
//! [`Verifier::restore_caches`] loads one into caches after checking it (see
//! [`snapshot`]).
//!
//! Warm lookups through a shared reference (a warm verification's
//! [`poll_shared`](crate::VerifyAccessToken::poll_shared)) count as uses for eviction, so the busiest tenants are evicted last.
//!
//! [`Verifier::new_caches`]: crate::Verifier::new_caches
//! [`Verifier::snapshot_caches`]: crate::Verifier::snapshot_caches
//! [`Verifier::restore_caches`]: crate::Verifier::restore_caches

pub(crate) mod entry;
mod fetch;
pub(crate) mod jwks;
pub(crate) mod lru;
mod refresh;
pub(crate) mod replay;
pub mod snapshot;

pub use fetch::FetchKey;
pub(crate) use fetch::{FetchError, Fetched, KeyFetch, Step};

use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};
use core::time::Duration;

use crate::discovery::DiscoveryDocument;
use crate::jose::jwk::JwkSet;
use crate::time::UnixTime;

pub(crate) use entry::Entry;
pub(crate) use jwks::KeyLookup;
pub(crate) use lru::Lru;
pub use refresh::{Refresh, RefreshError, Refreshed};
pub use replay::{ReplayCache, ReplayCheck, ReplayError, ReplayKey, ReplayOutcome};
pub use snapshot::{CacheSnapshot, Restored, SnapshotError};

/// How long things are cached and how often they may be fetched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CachePolicy {
    /// Lifetime of discovery documents and JWK Sets. Defaults to 600 s; 0 disables caching
    /// of values (the in-flight marks and the cooldown are still kept).
    pub ttl: Duration,
    /// The most entries per cache. Defaults to 100; at least 1
    /// ([`VerifierConfig::build`](crate::config::VerifierConfig::build) refuses 0, and raises
    /// it to the number of static domains when there are more).
    pub max_entries: usize,
    /// The least time between two fetches of one resource after a failure or an unknown
    /// `kid`. Defaults to 30 s; must not be 0.
    pub refetch_cooldown: Duration,
    /// How long an in-flight mark holds back other flows. Defaults to 30 s; must not be 0.
    /// Drivers should use a request timeout no longer than this.
    pub fetch_timeout: Duration,
    /// The last part of the TTL, in percent, in which a use of a cached value makes a
    /// background refresh due (see the [module documentation](self)). Defaults to 10; 0
    /// disables refreshing ahead; at most 100.
    pub refresh_ahead_percent: u8,
    /// How long after its TTL a value stays usable when its refetch failed (the tenant is
    /// down). Defaults to 24 h; 0 disables stale use.
    pub max_stale: Duration,
}

impl Default for CachePolicy {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(600),
            max_entries: 100,
            refetch_cooldown: Duration::from_secs(30),
            fetch_timeout: Duration::from_secs(30),
            refresh_ahead_percent: 10,
            max_stale: Duration::from_secs(24 * 60 * 60),
        }
    }
}

impl CachePolicy {
    /// Checks that no value switches a protection off: `max_entries` 0 would keep no
    /// in-flight mark or cooldown at all, a zero `refetch_cooldown` would let every bad token
    /// cause a request, and a zero `fetch_timeout` would end every in-flight mark at once.
    /// [`VerifierConfig::build`](crate::config::VerifierConfig::build) calls it. A `ttl` of 0
    /// is allowed: it disables caching of values only.
    ///
    /// # Errors
    /// [`PolicyError::Zero`] naming the first such option (which the configuration reports
    /// as its own `ConfigError::Zero`).
    pub fn check(&self) -> Result<(), PolicyError> {
        if self.max_entries == 0 {
            return Err(PolicyError::Zero("cache.max_entries"));
        }
        if self.refetch_cooldown.is_zero() {
            return Err(PolicyError::Zero("cache.refetch_cooldown"));
        }
        if self.fetch_timeout.is_zero() {
            return Err(PolicyError::Zero("cache.fetch_timeout"));
        }
        if self.refresh_ahead_percent > 100 {
            return Err(PolicyError::TooLarge {
                option: "cache.refresh_ahead_percent",
                max: 100,
            });
        }
        Ok(())
    }

    /// How long before its expiry a value becomes due for a refresh.
    pub(crate) fn refresh_lead(&self) -> Duration {
        let percent = u64::from(self.refresh_ahead_percent.min(100));
        Duration::from_secs(self.ttl.as_secs().saturating_mul(percent) / 100)
    }
}

/// Why [`CachePolicy::check`] refused a policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyError {
    /// This option is zero and must not be.
    Zero(&'static str),
    /// This option is above its largest value.
    TooLarge {
        /// The option at fault.
        option: &'static str,
        /// The largest value accepted.
        max: usize,
    },
}

impl core::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PolicyError::Zero(option) => write!(f, "invalid option {option}: must not be zero"),
            PolicyError::TooLarge { option, max } => {
                write!(f, "invalid option {option}: must be at most {max}")
            }
        }
    }
}

impl core::error::Error for PolicyError {}

/// What a flow does next about an issuer's discovery document.
#[derive(Debug)]
pub(crate) enum DiscoveryStep<'c> {
    /// The document is cached and usable, fresh or stale (and now marked most recently
    /// used).
    Fresh(&'c DiscoveryDocument),
    /// Another flow is fetching it: wait.
    Wait(FetchKey),
    /// The cooldown forbids a fetch: the last one failed, or the cache is full of resources
    /// fetched within the cooldown and none can make room.
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
    replay: Replay,
    /// Set when a lookup used a value due for a refresh; cleared by
    /// [`take_due_refreshes`](Self::take_due_refreshes). Plain loads and stores only.
    refresh_wanted: AtomicBool,
}

/// Where the DPoP `jti` replay check happens.
#[derive(Debug)]
enum Replay {
    /// Nowhere: a proof can be replayed within its window.
    Off,
    /// In this process ([`Caches::with_replay_cache`]).
    Local(ReplayCache),
    /// In a store the driver asks ([`Caches::with_external_replay`]).
    External,
}

impl Caches {
    /// Empty caches with this policy. A `max_entries` of 0 is taken as 1: the caches always
    /// keep the in-flight marks and cooldowns (see [`CachePolicy::check`]).
    pub fn new(mut policy: CachePolicy) -> Self {
        policy.max_entries = policy.max_entries.max(1);
        Self {
            policy,
            discovery: Lru::new(policy.max_entries),
            jwks: Lru::new(policy.max_entries),
            replay: Replay::Off,
            refresh_wanted: AtomicBool::new(false),
        }
    }

    /// Whether a lookup used a cached value due for a refresh since the last
    /// [`take_due_refreshes`](Self::take_due_refreshes): one atomic load, cheap enough to
    /// check after every verification.
    pub fn refresh_wanted(&self) -> bool {
        self.refresh_wanted.load(Ordering::Relaxed)
    }

    /// The resources due for a refresh at `now` (in the refresh window of their TTL, or
    /// stale with their cooldown over, and not being fetched), discovery documents first;
    /// clears [`refresh_wanted`](Self::refresh_wanted). Run a [`Refresh`] flow for each
    /// (see [`Verifier::refresh`](crate::Verifier::refresh)).
    pub fn take_due_refreshes(&self, now: UnixTime) -> Vec<FetchKey> {
        self.refresh_wanted.store(false, Ordering::Relaxed);
        let policy = &self.policy;
        let discovery = self
            .discovery
            .iter()
            .filter(|(_, e)| e.refresh_due(policy, now))
            .map(|(k, _)| FetchKey::Discovery(String::from(k)));
        let jwks = self
            .jwks
            .iter()
            .filter(|(_, e)| e.refresh_due(policy, now))
            .map(|(k, _)| FetchKey::Jwks(String::from(k)));
        discovery.chain(jwks).collect()
    }

    /// Notes that a lookup used a value due for a refresh (a load first, so that a busy
    /// value does not make every lookup write the shared flag).
    fn note_due(&self, due: bool) {
        if due && !self.refresh_wanted.load(Ordering::Relaxed) {
            self.refresh_wanted.store(true, Ordering::Relaxed);
        }
    }

    /// Adds a DPoP `jti` replay cache (RFC 9449 section 11.1), in this process. Without one
    /// (or an [external check](Self::with_external_replay)), a captured proof can be replayed
    /// within its `iat` window. Replaces an external check.
    pub fn with_replay_cache(mut self, replay: ReplayCache) -> Self {
        self.replay = Replay::Local(replay);
        self
    }

    /// Checks DPoP proofs for replay in a store shared by every process (Redis, say) instead
    /// of in this process; replaces an in-memory [`ReplayCache`].
    ///
    /// A verification of a DPoP proof then stops, after every other check passed, at
    /// [`Action::CheckReplay`](crate::Action::CheckReplay): the driver asks its store to
    /// check and insert the [`ReplayCheck`]'s key and hands the [`ReplayOutcome`] to
    /// [`Flow::handle_replay`](crate::Flow::handle_replay). Bearer tokens never stop there.
    /// A driver that has no store MUST answer [`ReplayOutcome::Unavailable`].
    pub fn with_external_replay(mut self) -> Self {
        self.set_external_replay();
        self
    }

    /// Makes the replay check external in place (see
    /// [`with_external_replay`](Self::with_external_replay)), for a driver that is given a
    /// store after its caches were built.
    pub fn set_external_replay(&mut self) {
        self.replay = Replay::External;
    }

    /// The DPoP replay cache, if kept in this process.
    pub fn replay_mut(&mut self) -> Option<&mut ReplayCache> {
        match &mut self.replay {
            Replay::Local(cache) => Some(cache),
            Replay::Off | Replay::External => None,
        }
    }

    /// Whether a DPoP replay cache is kept in this process.
    pub fn has_replay_cache(&self) -> bool {
        matches!(self.replay, Replay::Local(_))
    }

    /// Whether DPoP proofs are checked for replay by the driver's store
    /// ([`with_external_replay`](Self::with_external_replay)).
    pub fn has_external_replay(&self) -> bool {
        matches!(self.replay, Replay::External)
    }

    /// The key for `header` from the JWK Set at `jwks_uri` at `now`, marking the set most
    /// recently used through a shared reference (for warm lookups under a read lock).
    pub(crate) fn key(
        &self,
        jwks_uri: &str,
        header: &crate::jose::header::Header,
        now: UnixTime,
    ) -> KeyLookup<'_> {
        let (lookup, due) = jwks::lookup(self.jwks.get_used(jwks_uri), &self.policy, header, now);
        self.note_due(due);
        lookup
    }

    /// The key for `header` from the JWK Set at `jwks_uri` (marking the set most recently
    /// used), and the replay cache, borrowed together.
    pub(crate) fn key_and_replay(
        &mut self,
        jwks_uri: &str,
        header: &crate::jose::header::Header,
        now: UnixTime,
    ) -> (KeyLookup<'_>, Option<&mut ReplayCache>) {
        self.jwks.touch(jwks_uri);
        let (lookup, due) = jwks::lookup(self.jwks.get(jwks_uri), &self.policy, header, now);
        if due {
            *self.refresh_wanted.get_mut() = true;
        }
        let replay = match &mut self.replay {
            Replay::Local(cache) => Some(cache),
            Replay::Off | Replay::External => None,
        };
        (lookup, replay)
    }

    /// The policy.
    pub fn policy(&self) -> &CachePolicy {
        &self.policy
    }

    /// The discovery entry of `issuer`, if any.
    #[doc(hidden)]
    pub fn discovery(&self, issuer: &str) -> Option<&Entry<DiscoveryDocument>> {
        self.discovery.get(issuer)
    }

    /// The JWKS entry of `jwks_uri`, if any.
    #[doc(hidden)]
    pub fn jwks(&self, jwks_uri: &str) -> Option<&Entry<JwkSet>> {
        self.jwks.get(jwks_uri)
    }

    /// The usable (fresh, or stale after a failed refetch) discovery document of `issuer` at
    /// `now`, marked most recently used through a shared reference (for warm lookups under a
    /// read lock).
    pub(crate) fn fresh_discovery(
        &self,
        issuer: &str,
        now: UnixTime,
    ) -> Option<&DiscoveryDocument> {
        let (doc, due) = self.discovery.get_used(issuer)?.usable(&self.policy, now)?;
        self.note_due(due);
        Some(doc)
    }

    /// Decides the discovery step for `issuer` at `now`: the fresh document, a wait for
    /// another flow's fetch, a refusal within the failure cooldown, or a request to send
    /// (marking the slot as being fetched). Shared by every flow that needs discovery.
    pub(crate) fn discovery_step(&mut self, issuer: &str, now: UnixTime) -> DiscoveryStep<'_> {
        let policy = self.policy;
        match self.discovery.get(issuer) {
            Some(entry) if entry.usable(&policy, now).is_some() => {
                let usable = self
                    .discovery
                    .get_mut(issuer)
                    .and_then(|e| e.usable(&policy, now));
                if usable.is_some_and(|(_, due)| due) {
                    *self.refresh_wanted.get_mut() = true;
                }
                // Checked usable just above; `None` cannot occur, and refusing is the safe
                // answer.
                return usable.map_or(DiscoveryStep::RecentlyFailed, |(doc, _)| {
                    DiscoveryStep::Fresh(doc)
                });
            }
            Some(entry) if entry.is_fetching(&policy, now) => {
                return DiscoveryStep::Wait(FetchKey::Discovery(String::from(issuer)));
            }
            Some(entry) if entry.last_failed() && !entry.cooldown_over(&policy, now) => {
                return DiscoveryStep::RecentlyFailed;
            }
            _ => {}
        }
        if !self.begin_discovery(issuer, now) {
            return DiscoveryStep::RecentlyFailed;
        }
        DiscoveryStep::Fetch(crate::discovery::discovery_request(issuer))
    }

    /// Marks `issuer`'s discovery document as being fetched. `false` when the cache is full
    /// of entries it may not evict (see the [module documentation](self)): then nothing is
    /// marked and no request may be sent.
    #[must_use = "no request may be sent when no mark was made"]
    pub(crate) fn begin_discovery(&mut self, issuer: &str, now: UnixTime) -> bool {
        begin(&mut self.discovery, &self.policy, issuer, now)
    }

    /// Records the outcome of the discovery fetch whose mark was set at `since` (`None` for
    /// a failure). An outcome whose mark is gone (superseded, see [`finish_jwks`]) is not
    /// recorded.
    ///
    /// [`finish_jwks`]: Self::finish_jwks
    pub(crate) fn finish_discovery(
        &mut self,
        issuer: &str,
        doc: Option<DiscoveryDocument>,
        since: UnixTime,
        now: UnixTime,
    ) {
        finish(&mut self.discovery, &self.policy, issuer, doc, since, now);
    }

    /// Marks the JWK Set at `jwks_uri` as being fetched. `false` when the cache is full of
    /// entries it may not evict (see the [module documentation](self)): then nothing is
    /// marked and no request may be sent.
    #[must_use = "no request may be sent when no mark was made"]
    pub(crate) fn begin_jwks(&mut self, jwks_uri: &str, now: UnixTime) -> bool {
        begin(&mut self.jwks, &self.policy, jwks_uri, now)
    }

    /// Records the outcome of the JWKS fetch whose mark was set at `since` (`None` for a
    /// failure). A failure keeps the keys already cached: they stay usable until their TTL
    /// runs out, then stale for [`CachePolicy::max_stale`] more.
    ///
    /// A fetch is superseded when its mark is no longer the entry's: it outlived
    /// [`CachePolicy::fetch_timeout`] and another fetch took over, or that one already
    /// finished. Its outcome is then neither stored nor counted as a failure, and the newer
    /// mark stays: a late answer to an old request must not overwrite a newer one or end
    /// a fetch still in flight. With TTL 0, when the cache has no room, or when the fetch
    /// was superseded, the keys are handed back for the caller's own use.
    pub(crate) fn finish_jwks(
        &mut self,
        jwks_uri: &str,
        keys: Option<JwkSet>,
        since: UnixTime,
        now: UnixTime,
    ) -> Option<JwkSet> {
        finish(&mut self.jwks, &self.policy, jwks_uri, keys, since, now)
    }
}

impl Caches {
    /// The usable (fresh or stale) discovery document of `issuer` at `now`, not counted as
    /// a use.
    pub(crate) fn usable_discovery(
        &self,
        issuer: &str,
        now: UnixTime,
    ) -> Option<&DiscoveryDocument> {
        self.discovery
            .get(issuer)?
            .usable(&self.policy, now)
            .map(|(doc, _)| doc)
    }

    /// Whether the JWK Set at `jwks_uri` is usable (fresh or stale) at `now`.
    pub(crate) fn has_usable_jwks(&self, jwks_uri: &str, now: UnixTime) -> bool {
        self.jwks
            .get(jwks_uri)
            .is_some_and(|e| e.usable(&self.policy, now).is_some())
    }

    /// Every cached discovery document with its fetch time.
    pub(crate) fn discovery_values(&self) -> impl Iterator<Item = (&DiscoveryDocument, UnixTime)> {
        self.discovery
            .iter()
            .filter_map(|(_, e)| e.value.as_ref().map(|(v, at)| (v, *at)))
    }

    /// Every cached JWK Set with its URI and fetch time.
    pub(crate) fn jwks_values(&self) -> impl Iterator<Item = (&str, &JwkSet, UnixTime)> {
        self.jwks
            .iter()
            .filter_map(|(k, e)| e.value.as_ref().map(|(v, at)| (k, v, *at)))
    }

    /// Stores a restored discovery document fetched at `fetched_at`, unless a value fetched
    /// as late is cached or there is no room. Says whether it was stored.
    pub(crate) fn restore_discovery(
        &mut self,
        doc: DiscoveryDocument,
        fetched_at: UnixTime,
        now: UnixTime,
    ) -> bool {
        let issuer = doc.issuer.clone();
        restore(
            &mut self.discovery,
            &self.policy,
            &issuer,
            doc,
            fetched_at,
            now,
        )
    }

    /// Stores a restored JWK Set fetched at `fetched_at` (see
    /// [`restore_discovery`](Self::restore_discovery)).
    pub(crate) fn restore_jwks(
        &mut self,
        jwks_uri: &str,
        set: JwkSet,
        fetched_at: UnixTime,
        now: UnixTime,
    ) -> bool {
        restore(&mut self.jwks, &self.policy, jwks_uri, set, fetched_at, now)
    }

    /// Clears the in-flight mark of `key` set at `since` by a fetch whose driver gave up
    /// (a cancelled future), without recording a failure: flows waiting for it go on at
    /// once instead of after [`CachePolicy::fetch_timeout`]. The cooldown since that fetch
    /// began still applies to refetches of a cached set, since its request was sent.
    pub(crate) fn abandon(&mut self, key: &FetchKey, since: UnixTime) {
        match key {
            FetchKey::Discovery(issuer) => {
                if let Some(entry) = self.discovery.get_mut(issuer) {
                    entry.abandon(since);
                }
            }
            FetchKey::Jwks(uri) => {
                if let Some(entry) = self.jwks.get_mut(uri) {
                    entry.abandon(since);
                }
            }
        }
    }
}

fn restore<T>(
    lru: &mut Lru<Entry<T>>,
    policy: &CachePolicy,
    key: &str,
    value: T,
    fetched_at: UnixTime,
    now: UnixTime,
) -> bool {
    if let Some(entry) = lru.get_mut(key) {
        if entry
            .value
            .as_ref()
            .is_some_and(|(_, at)| *at >= fetched_at)
        {
            return false;
        }
        entry.value = Some((value, fetched_at));
        entry.last_failed = false;
        entry.last_attempt.get_or_insert(fetched_at);
        return true;
    }
    let entry = Entry {
        value: Some((value, fetched_at)),
        fetching_since: None,
        last_attempt: Some(fetched_at),
        last_failed: false,
    };
    lru.insert_evicting(String::from(key), entry, |e| e.evictable(policy, now))
        .is_ok()
}

fn begin<T>(lru: &mut Lru<Entry<T>>, policy: &CachePolicy, key: &str, now: UnixTime) -> bool {
    if let Some(entry) = lru.get_mut(key) {
        entry.begin(now);
        return true;
    }
    let mut entry = Entry::default();
    entry.begin(now);
    lru.insert_evicting(String::from(key), entry, |e| e.evictable(policy, now))
        .is_ok()
}

fn finish<T>(
    lru: &mut Lru<Entry<T>>,
    policy: &CachePolicy,
    key: &str,
    value: Option<T>,
    since: UnixTime,
    now: UnixTime,
) -> Option<T> {
    // `begin` made the entry and its mark; an entry without that mark was evicted after the
    // mark timed out, or taken over by a later fetch: the value goes back to the caller.
    let Some(entry) = lru
        .get_mut(key)
        .filter(|entry| entry.fetching_since == Some(since))
    else {
        return value;
    };
    entry.fetching_since = None;
    entry.last_attempt.get_or_insert(now);
    entry.last_failed = value.is_none();
    // TTL 0 disables caching of values; the cooldown state is still kept.
    if policy.ttl.is_zero() {
        return value;
    }
    entry.value = value.map(|v| (v, now)).or(entry.value.take());
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: u64) -> UnixTime {
        UnixTime::from_secs(1_700_000_000 + secs)
    }

    const ISSUER: &str = "https://tenant.example/";

    /// Item 11: caches built directly with `max_entries: 0` still keep the in-flight mark and
    /// the failure cooldown.
    #[test]
    fn zero_entries_still_keep_the_fetch_limits() {
        let mut caches = Caches::new(CachePolicy {
            max_entries: 0,
            ..CachePolicy::default()
        });
        assert!(matches!(
            caches.discovery_step(ISSUER, t(0)),
            DiscoveryStep::Fetch(_)
        ));
        assert!(matches!(
            caches.discovery_step(ISSUER, t(0)),
            DiscoveryStep::Wait(_)
        ));
        caches.finish_discovery(ISSUER, None, t(0), t(1));
        for s in 1..30 {
            assert!(matches!(
                caches.discovery_step(ISSUER, t(s)),
                DiscoveryStep::RecentlyFailed
            ));
        }
        assert!(matches!(
            caches.discovery_step(ISSUER, t(30)),
            DiscoveryStep::Fetch(_)
        ));
    }

    /// Item 9: a full cache never evicts an entry in flight or in its cooldown; a new
    /// resource is refused, without a mark, until a cooldown ends.
    #[test]
    fn full_cache_keeps_entries_in_flight_or_cooling_down() {
        let mut caches = Caches::new(CachePolicy {
            max_entries: 2,
            ..CachePolicy::default()
        });
        let (a, b, c) = (
            "https://a.example/",
            "https://b.example/",
            "https://c.example/",
        );
        assert!(matches!(
            caches.discovery_step(a, t(0)),
            DiscoveryStep::Fetch(_)
        ));
        caches.finish_discovery(a, None, t(0), t(0));
        // `b` is in flight and never answered.
        assert!(matches!(
            caches.discovery_step(b, t(1)),
            DiscoveryStep::Fetch(_)
        ));
        for s in [1, 15, 29] {
            assert!(
                matches!(
                    caches.discovery_step(c, t(s)),
                    DiscoveryStep::RecentlyFailed
                ),
                "at {s}"
            );
            assert!(caches.discovery(c).is_none());
            assert!(matches!(
                caches.discovery_step(a, t(s)),
                DiscoveryStep::RecentlyFailed
            ));
            assert!(matches!(
                caches.discovery_step(b, t(s)),
                DiscoveryStep::Wait(_)
            ));
        }
        // `a`'s cooldown is over: it makes room (and `b` stays, still in flight).
        assert!(matches!(
            caches.discovery_step(c, t(30)),
            DiscoveryStep::Fetch(_)
        ));
        assert!(caches.discovery(a).is_none());
        assert!(matches!(
            caches.discovery_step(b, t(30)),
            DiscoveryStep::Wait(_)
        ));
        // The JWKS cache follows the same rule.
        assert!(caches.begin_jwks("https://a.example/jwks", t(0)));
        assert!(caches.begin_jwks("https://b.example/jwks", t(0)));
        assert!(!caches.begin_jwks("https://c.example/jwks", t(29)));
        assert!(caches.jwks("https://c.example/jwks").is_none());
        // The in-flight marks end after `fetch_timeout` (30 s) and the cooldowns with them.
        assert!(caches.begin_jwks("https://c.example/jwks", t(30)));
    }
}
