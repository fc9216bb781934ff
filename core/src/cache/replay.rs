//! Optional bounded DPoP `jti` replay cache (RFC 9449 section 11.1).

use alloc::collections::{BTreeMap, BTreeSet};
use core::time::Duration;

use sha2::{Digest, Sha256};

use crate::time::UnixTime;

/// Why [`ReplayCache::check_and_insert`] refused a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayError {
    /// The key is held and unexpired: the proof was used before.
    Replayed,
    /// The cache holds its capacity of unexpired entries; nothing is forgotten to make room.
    Full,
    /// The proof key holds its [quota](ReplayCache::per_key_quota) of unexpired entries.
    QuotaExceeded,
}

impl core::fmt::Display for ReplayError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            ReplayError::Replayed => "replayed",
            ReplayError::Full => "replay cache is full",
            ReplayError::QuotaExceeded => "proof key has too many recent proofs",
        })
    }
}

impl core::error::Error for ReplayError {}

/// A replay-cache key: SHA-256 over the proof key thumbprint and the proof `jti`, with the
/// holder (a digest of the thumbprint alone) that the per-key quota counts by.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReplayKey {
    digest: [u8; 32],
    holder: Holder,
}

/// The first 16 bytes of SHA-256 over the length-prefixed thumbprint: enough that no one can
/// find a thumbprint sharing another key's quota (a second preimage), at a fixed small size.
type Holder = [u8; 16];

impl ReplayKey {
    /// The key for a proof signed by the key with thumbprint `jkt` and carrying `jti`.
    ///
    /// Both inputs are length-prefixed (64-bit big-endian) before hashing, so no pair of
    /// inputs can collide by shifting bytes from one to the other.
    pub fn new(jkt: &str, jti: &str) -> Self {
        let mut hasher = Sha256::new();
        hasher.update((jkt.len() as u64).to_be_bytes());
        hasher.update(jkt.as_bytes());
        let mut holder = [0u8; 16];
        for (out, byte) in holder.iter_mut().zip(hasher.clone().finalize()) {
            *out = byte;
        }
        hasher.update((jti.len() as u64).to_be_bytes());
        hasher.update(jti.as_bytes());
        let mut digest = [0u8; 32];
        digest.copy_from_slice(&hasher.finalize());
        Self { digest, holder }
    }

    /// The raw 32-byte digest over the thumbprint and the `jti`.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.digest
    }

    /// Whether both keys come from the same proof key (thumbprint).
    pub fn same_holder(&self, other: &ReplayKey) -> bool {
        self.holder == other.holder
    }
}

/// The whole digest in lower-case hexadecimal (64 characters): `format!("{key:x}")`, a name
/// for the key in an external store.
impl core::fmt::LowerHex for ReplayKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.digest.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl core::fmt::Debug for ReplayKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ReplayKey(")?;
        for b in self.digest.iter().take(4) {
            write!(f, "{b:02x}")?;
        }
        f.write_str("..)")
    }
}

/// What a flow asks its driver when the DPoP replay check is external
/// ([`Caches::with_external_replay`](crate::cache::Caches::with_external_replay)): remember
/// [`key`](Self::key) through [`until`](Self::until), and say whether it was already held.
///
/// It comes in [`Action::CheckReplay`](crate::Action::CheckReplay), after the access token's
/// signature and claims and the whole DPoP proof have been verified, so only fully valid
/// proofs ever reach the store. The answer goes to the flow's
/// [`handle_replay`](crate::Flow::handle_replay) as a [`ReplayOutcome`].
///
/// The check MUST be atomic across every process sharing the store (one check-and-insert,
/// such as Redis `SET key 1 NX PX ttl`): two concurrent checks of one key must not both see
/// it as new.
///
/// ```
/// use core::time::Duration;
/// use auth0_api::cache::{ReplayCheck, ReplayKey};
/// use auth0_api::UnixTime;
///
/// let now = UnixTime::from_secs(1_700_000_000);
/// let check = ReplayCheck::new(ReplayKey::new("jkt", "jti-1"), now.saturating_add(Duration::from_secs(330)));
/// assert_eq!(check.until(), UnixTime::from_secs(1_700_000_330));
/// // Held through the last second of the window.
/// assert_eq!(check.ttl(now), Duration::from_secs(331));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplayCheck {
    key: ReplayKey,
    until: UnixTime,
}

impl ReplayCheck {
    /// A check of `key`, to be remembered through `until` (inclusive).
    pub const fn new(key: ReplayKey, until: UnixTime) -> Self {
        Self { key, until }
    }

    /// The hashed `(jkt, jti)` key (see [`ReplayKey`]).
    pub const fn key(&self) -> &ReplayKey {
        &self.key
    }

    /// The last instant (whole seconds, inclusive) at which the proof could still be
    /// accepted: `now + iat_offset + iat_leeway` at the check, like the in-memory
    /// [`ReplayCache`]'s lifetime.
    pub const fn until(&self) -> UnixTime {
        self.until
    }

    /// How long a store holding the key from `now` must keep it: through the whole second
    /// `until`, so `until - now + 1 s` (1 s when `until` has passed). Never zero.
    pub const fn ttl(&self, now: UnixTime) -> Duration {
        self.until
            .saturating_duration_since(now)
            .saturating_add(Duration::from_secs(1))
    }
}

/// A replay store's answer to a [`ReplayCheck`], handed to
/// [`Flow::handle_replay`](crate::Flow::handle_replay).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReplayOutcome {
    /// The key was not held; it is now, until the check's `until`. The proof is accepted.
    FirstSeen,
    /// The key was held: the proof was used before. Refused as
    /// [`DpopError::Replayed`](crate::verify::dpop::DpopError::Replayed), as with the
    /// in-memory cache.
    SeenBefore,
    /// The store could not answer (unreachable, timed out, an unexpected reply). Refused with
    /// [`Reason::ReplayStoreUnavailable`](crate::Reason::ReplayStoreUnavailable) (HTTP 503),
    /// not as an invalid token: the request may be retried. A store configured to fail open
    /// answers [`FirstSeen`](Self::FirstSeen) instead.
    Unavailable,
}

/// A bounded set of recently seen DPoP proofs (RFC 9449 section 11.1), with a quota per
/// proof key.
///
/// Without a replay cache, a captured access token and DPoP proof can be replayed at the same
/// method and URL for the whole acceptance window of the proof (`iat_offset + iat_leeway`,
/// 330 s by default). [`ReplayCache`] remembers every accepted proof for that window and
/// rejects a second use.
///
/// # Keys
/// A [`ReplayKey`] is the SHA-256 of the proof key's RFC 7638 thumbprint and the proof `jti`
/// (each length-prefixed), so the cache never stores attacker-chosen strings and its memory
/// per entry is fixed. RFC 9449 section 11.1 asks for `jti` uniqueness per target URI; keying
/// by `(jkt, jti)` instead is stricter: the same `jti` from the same key is refused at *any*
/// URI, and in particular at two URLs that normalise equal. Honest clients draw a fresh `jti`
/// for every proof, so they are not affected; a different key cannot consume another key's
/// `jti` values.
///
/// # Lifetime and bound
/// An entry lives for the cache's `lifetime` (normally `iat_offset + iat_leeway`) from its
/// insertion: a proof accepted at `t` has `iat <= t + iat_leeway` and so stays acceptable
/// until `t + iat_leeway + iat_offset` at most. The number of entries is fixed at
/// construction. When the cache is full of unexpired entries it **fails closed**: the new
/// proof is rejected with [`ReplayError::Full`] rather than forgetting an entry that
/// could then be replayed.
///
/// # Per-key quota
/// Failing closed would let one client lock everyone out: any holder of a valid DPoP-bound
/// token can send fresh proofs until the cache is full. So each proof key (`jkt`) may hold at
/// most [`ReplayCache::per_key_quota`] unexpired entries, by default a tenth of the capacity
/// (at least 1; see [`ReplayCache::with_per_key_quota`]). A key over its quota gets
/// [`ReplayError::QuotaExceeded`]; other keys are still served. Filling the cache then
/// takes proofs from at least `capacity / quota` distinct keys, each bound to its own access
/// token.
///
/// # Sizing
/// Every accepted proof stays in the cache for its whole lifetime, so the cache holds about
/// `rate x lifetime` entries at a steady `rate` of accepted DPoP requests. Choose
///
/// ```text
/// capacity      >= peak rate (proofs/s, all clients)  x (iat_offset + iat_leeway)
/// per-key quota >= peak rate of one client key        x (iat_offset + iat_leeway)
/// ```
///
/// With the default window of 330 s, the default 10 000 entries serve about 30 proofs/s in
/// all, and the default quota of 1 000 about 3 proofs/s per key; 100 proofs/s in all needs
/// 33 000 entries. Each entry costs about 150 bytes. A shorter `iat_offset` shortens the
/// window and shrinks the cache needed for the same rate.
///
/// The cache is plain data (no locks, no `Arc`: share it between threads behind the
/// adapter's lock); time is an input. It knows nothing of DPoP
/// proofs: the proof check (`verify::dpop`) maps each [`ReplayError`] to a `DpopError`.
///
/// # Examples
/// ```
/// use core::time::Duration;
/// use auth0_api::cache::{ReplayCache, ReplayKey};
/// use auth0_api::UnixTime;
///
/// let mut cache = ReplayCache::new(1000, Duration::from_secs(330));
/// let key = ReplayKey::new("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I", "e1j3V_bKic8-LAEB");
/// let now = UnixTime::from_secs(1_562_262_618);
/// assert!(cache.check_and_insert(key, now).is_ok());
/// assert!(cache.check_and_insert(key, now).is_err()); // replayed
/// ```
#[derive(Clone, Debug)]
pub struct ReplayCache {
    capacity: usize,
    lifetime: Duration,
    per_key_quota: usize,
    /// Key to the instant after which the entry is forgotten.
    entries: BTreeMap<ReplayKey, UnixTime>,
    /// The same entries ordered by expiry, so purging is cheap.
    by_expiry: BTreeSet<(UnixTime, ReplayKey)>,
    /// The number of entries of each holder (never 0: emptied holders are removed).
    per_holder: BTreeMap<Holder, usize>,
}

impl ReplayCache {
    /// The default number of entries, used by [`ReplayCache::for_window`] callers that have
    /// no better figure: 10 000 entries of about 100 bytes each.
    pub const DEFAULT_CAPACITY: usize = 10_000;

    /// The share of the capacity one proof key may hold by default: a tenth.
    pub const DEFAULT_QUOTA_DIVISOR: usize = 10;

    /// An empty cache holding at most `capacity` entries, each for `lifetime` after insertion,
    /// and at most a tenth of them ([`DEFAULT_QUOTA_DIVISOR`](Self::DEFAULT_QUOTA_DIVISOR),
    /// rounded up) for any one proof key.
    ///
    /// A `capacity` of 0 rejects every proof (fail closed); pass no cache at all to disable
    /// replay protection.
    pub fn new(capacity: usize, lifetime: Duration) -> Self {
        Self {
            capacity,
            lifetime,
            per_key_quota: capacity.div_ceil(Self::DEFAULT_QUOTA_DIVISOR),
            entries: BTreeMap::new(),
            by_expiry: BTreeSet::new(),
            per_holder: BTreeMap::new(),
        }
    }

    /// Sets the most unexpired entries one proof key (`jkt`) may hold: size it as the peak
    /// proof rate of one client key times the lifetime. A quota at or above the capacity
    /// lets one key fill the cache and lock every other caller out; a quota of 0 refuses
    /// every proof (fail closed).
    #[must_use]
    pub fn with_per_key_quota(mut self, quota: usize) -> Self {
        self.per_key_quota = quota;
        self
    }

    /// The most unexpired entries one proof key may hold.
    pub const fn per_key_quota(&self) -> usize {
        self.per_key_quota
    }

    /// An empty cache whose entries live for the DPoP `iat` window, `iat_offset + iat_leeway`
    /// (saturating).
    pub fn for_window(capacity: usize, iat_offset: Duration, iat_leeway: Duration) -> Self {
        Self::new(capacity, iat_offset.saturating_add(iat_leeway))
    }

    /// The maximum number of entries, fixed at construction.
    pub const fn capacity(&self) -> usize {
        self.capacity
    }

    /// How long an entry lives after insertion.
    pub const fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// The number of entries currently held, including expired ones not yet purged.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `key` is held and unexpired at `now`.
    pub fn contains(&self, key: &ReplayKey, now: UnixTime) -> bool {
        self.entries.get(key).is_some_and(|expires| now <= *expires)
    }

    /// Forgets every entry that expired before `now`.
    pub fn purge_expired(&mut self, now: UnixTime) {
        while let Some(&(expires, key)) = self.by_expiry.first() {
            if expires >= now {
                break;
            }
            self.by_expiry.remove(&(expires, key));
            self.entries.remove(&key);
            if let Some(count) = self.per_holder.get_mut(&key.holder) {
                *count -= 1;
                if *count == 0 {
                    self.per_holder.remove(&key.holder);
                }
            }
        }
    }

    /// Records `key` as used at `now`, or refuses it if it was already used.
    ///
    /// Expired entries are purged first. An entry inserted at `t` is live up to and including
    /// `t + lifetime`.
    ///
    /// # Errors
    /// [`ReplayError::Replayed`] if `key` is held and unexpired; [`ReplayError::Full`]
    /// if the cache holds `capacity` unexpired entries (nothing is forgotten to make room);
    /// [`ReplayError::QuotaExceeded`] if the proof key of `key` holds its
    /// [quota](Self::per_key_quota) of unexpired entries.
    pub fn check_and_insert(&mut self, key: ReplayKey, now: UnixTime) -> Result<(), ReplayError> {
        self.purge_expired(now);
        // After the purge every held entry is live at `now`.
        if self.entries.contains_key(&key) {
            return Err(ReplayError::Replayed);
        }
        if self.entries.len() >= self.capacity {
            return Err(ReplayError::Full);
        }
        let held = self.held_by(&key);
        if held >= self.per_key_quota {
            return Err(ReplayError::QuotaExceeded);
        }
        let expires = now.saturating_add(self.lifetime);
        self.entries.insert(key, expires);
        self.by_expiry.insert((expires, key));
        self.per_holder.insert(key.holder, held + 1);
        Ok(())
    }

    /// The number of entries held (unexpired or not yet purged) for the proof key of `key`.
    pub fn held_by(&self, key: &ReplayKey) -> usize {
        self.per_holder.get(&key.holder).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use alloc::format;

    use super::*;

    fn t(secs: u64) -> UnixTime {
        UnixTime::from_secs(secs)
    }

    fn key(jti: &str) -> ReplayKey {
        ReplayKey::new("jkt", jti)
    }

    #[test]
    fn keys_are_hashes_of_both_parts() {
        assert_eq!(key("a"), key("a"));
        assert_ne!(key("a"), key("b"));
        assert_ne!(ReplayKey::new("k1", "a"), ReplayKey::new("k2", "a"));
        // Length prefixes: moving bytes between the parts changes the key.
        assert_ne!(ReplayKey::new("ab", "c"), ReplayKey::new("a", "bc"));
        assert_ne!(ReplayKey::new("", "ab"), ReplayKey::new("ab", ""));
        // The key does not contain the raw jti.
        let k = ReplayKey::new("jkt", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        assert_ne!(k.as_bytes(), b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        assert!(format!("{k:?}").starts_with("ReplayKey("));
    }

    /// Transcript: (step, now, jti, expected outcome).
    #[test]
    fn transcript_replay_and_expiry() {
        let mut cache =
            ReplayCache::for_window(10, Duration::from_secs(300), Duration::from_secs(30))
                .with_per_key_quota(10);
        assert_eq!(cache.lifetime(), Duration::from_secs(330));
        let steps: &[(&str, u64, &str, Result<(), ReplayError>)] = &[
            ("first use", 1000, "a", Ok(())),
            ("second use at once", 1000, "a", Err(ReplayError::Replayed)),
            ("other jti", 1001, "b", Ok(())),
            (
                "replay within window",
                1200,
                "a",
                Err(ReplayError::Replayed),
            ),
            (
                "replay on the last second",
                1330,
                "a",
                Err(ReplayError::Replayed),
            ),
            ("after the window", 1331, "a", Ok(())),
            ("b still live", 1331, "b", Err(ReplayError::Replayed)),
            ("b expired", 1332, "b", Ok(())),
        ];
        for (name, now, jti, expected) in steps {
            assert_eq!(
                cache.check_and_insert(key(jti), t(*now)),
                *expected,
                "{name}"
            );
        }
    }

    /// Item 10: one proof key filling its quota is refused; other keys still get through,
    /// and the key is served again as its entries expire.
    #[test]
    fn one_key_cannot_lock_the_others_out() {
        let mut cache = ReplayCache::new(100, Duration::from_secs(10));
        assert_eq!(cache.per_key_quota(), 10);
        let greedy = |jti: u32| ReplayKey::new("greedy-jkt", &format!("{jti}"));
        for jti in 0..10 {
            assert_eq!(cache.check_and_insert(greedy(jti), t(100)), Ok(()));
        }
        for jti in 10..200 {
            assert_eq!(
                cache.check_and_insert(greedy(jti), t(101)),
                Err(ReplayError::QuotaExceeded),
                "{jti}"
            );
        }
        assert_eq!(cache.len(), 10);
        assert_eq!(cache.held_by(&greedy(0)), 10);
        // Replays of held proofs are still replays.
        assert_eq!(
            cache.check_and_insert(greedy(3), t(101)),
            Err(ReplayError::Replayed)
        );
        // Every other key is served, each up to its own quota.
        for other in 0..9 {
            let jkt = format!("other-{other}");
            for jti in 0..10 {
                let key = ReplayKey::new(&jkt, &format!("{jti}"));
                assert_eq!(cache.check_and_insert(key, t(102)), Ok(()), "{jkt} {jti}");
            }
        }
        assert_eq!(cache.len(), 100);
        // The greedy key's entries expire after 110: it is served again.
        assert_eq!(cache.check_and_insert(greedy(500), t(111)), Ok(()));
        assert_eq!(cache.held_by(&greedy(0)), 1);
        assert_eq!(cache.per_holder.values().sum::<usize>(), cache.len());
    }

    #[test]
    fn quota_is_configurable() {
        // Small caches still give every key at least one entry.
        assert_eq!(
            ReplayCache::new(3, Duration::from_secs(1)).per_key_quota(),
            1
        );
        assert_eq!(
            ReplayCache::new(0, Duration::from_secs(1)).per_key_quota(),
            0
        );
        let mut cache = ReplayCache::new(10, Duration::from_secs(10)).with_per_key_quota(2);
        assert_eq!(cache.check_and_insert(key("a"), t(1)), Ok(()));
        assert_eq!(cache.check_and_insert(key("b"), t(1)), Ok(()));
        assert_eq!(
            cache.check_and_insert(key("c"), t(1)),
            Err(ReplayError::QuotaExceeded)
        );
        let mut closed = ReplayCache::new(10, Duration::from_secs(10)).with_per_key_quota(0);
        assert_eq!(
            closed.check_and_insert(key("a"), t(1)),
            Err(ReplayError::QuotaExceeded)
        );
        assert!(ReplayKey::new("k", "a").same_holder(&ReplayKey::new("k", "b")));
        assert!(!ReplayKey::new("k", "a").same_holder(&ReplayKey::new("k2", "a")));
    }

    #[test]
    fn full_cache_fails_closed_until_entries_expire() {
        let mut cache = ReplayCache::new(2, Duration::from_secs(10)).with_per_key_quota(2);
        assert_eq!(cache.check_and_insert(key("a"), t(100)), Ok(()));
        assert_eq!(cache.check_and_insert(key("b"), t(105)), Ok(()));
        assert_eq!(cache.len(), 2);
        // Full of unexpired entries: refuse, forget nothing.
        assert_eq!(
            cache.check_and_insert(key("c"), t(106)),
            Err(ReplayError::Full)
        );
        assert_eq!(
            cache.check_and_insert(key("a"), t(106)),
            Err(ReplayError::Replayed)
        );
        assert!(cache.contains(&key("a"), t(106)));
        assert!(!cache.contains(&key("c"), t(106)));
        // `a` expires after 110: one slot frees up.
        assert_eq!(cache.check_and_insert(key("c"), t(111)), Ok(()));
        assert_eq!(
            cache.check_and_insert(key("d"), t(111)),
            Err(ReplayError::Full)
        );
        assert_eq!(cache.len(), 2);
        // Much later everything has expired.
        assert_eq!(cache.check_and_insert(key("d"), t(1000)), Ok(()));
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.capacity(), 2);
    }

    #[test]
    fn zero_capacity_rejects_everything() {
        let mut cache = ReplayCache::new(0, Duration::from_secs(10));
        assert_eq!(
            cache.check_and_insert(key("a"), t(1)),
            Err(ReplayError::Full)
        );
        assert!(cache.is_empty());
    }

    #[test]
    fn lifetime_saturates_at_the_end_of_time() {
        let mut cache = ReplayCache::new(4, Duration::from_secs(u64::MAX)).with_per_key_quota(4);
        assert_eq!(cache.check_and_insert(key("a"), t(u64::MAX - 1)), Ok(()));
        assert_eq!(
            cache.check_and_insert(key("a"), t(u64::MAX)),
            Err(ReplayError::Replayed)
        );
        let mut cache =
            ReplayCache::for_window(4, Duration::MAX, Duration::MAX).with_per_key_quota(4);
        assert_eq!(cache.check_and_insert(key("a"), t(5)), Ok(()));
        assert_eq!(
            cache.check_and_insert(key("a"), t(u64::MAX)),
            Err(ReplayError::Replayed)
        );
    }

    #[test]
    fn time_going_backwards_keeps_entries() {
        let mut cache = ReplayCache::new(4, Duration::from_secs(10)).with_per_key_quota(4);
        assert_eq!(cache.check_and_insert(key("a"), t(100)), Ok(()));
        assert_eq!(
            cache.check_and_insert(key("a"), t(50)),
            Err(ReplayError::Replayed)
        );
        assert_eq!(cache.check_and_insert(key("b"), t(200)), Ok(()));
        // Back in time again: `a` was purged at 200 and is accepted anew.
        assert_eq!(cache.check_and_insert(key("a"), t(100)), Ok(()));
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.by_expiry.len(), cache.entries.len());
    }

    #[test]
    fn index_stays_consistent() {
        let mut cache = ReplayCache::new(50, Duration::from_secs(7)).with_per_key_quota(20);
        for i in 0..500u64 {
            let jkt = format!("jkt{}", i % 3);
            let _ = cache.check_and_insert(ReplayKey::new(&jkt, &format!("{}", i % 37)), t(i / 3));
            assert_eq!(cache.by_expiry.len(), cache.entries.len());
            assert_eq!(cache.per_holder.values().sum::<usize>(), cache.len());
            assert!(cache.per_holder.values().all(|n| *n > 0 && *n <= 20));
            assert!(cache.len() <= cache.capacity());
        }
    }
}
