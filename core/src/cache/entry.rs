//! The state a cache keeps per resource: the value, its in-flight mark and its cooldown.

use super::CachePolicy;
use crate::time::UnixTime;

/// What a cache knows about one resource.
#[derive(Debug)]
pub struct Entry<T> {
    pub(super) value: Option<(T, UnixTime)>,
    pub(super) fetching_since: Option<UnixTime>,
    pub(super) last_attempt: Option<UnixTime>,
    pub(super) last_failed: bool,
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

    /// The cached value if it may be used at `now`, and whether a background refresh of it
    /// is due. A value is usable while fresh, and after its TTL for
    /// [`CachePolicy::max_stale`] more when a refetch failed since it was fetched (the tenant
    /// is down). A refresh is due in the last [`CachePolicy::refresh_ahead_percent`] of the
    /// TTL, and for a stale value once the cooldown since the failed refetch ended; never
    /// while a fetch is in flight.
    ///
    /// On the fresh path before the refresh window this is one addition and two comparisons.
    pub fn usable(&self, policy: &CachePolicy, now: UnixTime) -> Option<(&T, bool)> {
        let (value, fetched_at) = self.value.as_ref()?;
        let expires = fetched_at.checked_add(policy.ttl)?;
        if now < expires {
            let refresh_at = expires.saturating_sub(policy.refresh_lead());
            let due = now >= refresh_at && self.refresh_allowed(policy, now);
            return Some((value, due));
        }
        let stale_until = expires.checked_add(policy.max_stale)?;
        if self.last_failed && now < stale_until {
            return Some((value, self.refresh_allowed(policy, now)));
        }
        None
    }

    /// Whether a refresh may start at `now`: nothing in flight, and after a failure the
    /// cooldown is over.
    pub(super) fn refresh_allowed(&self, policy: &CachePolicy, now: UnixTime) -> bool {
        !self.is_fetching(policy, now) && (!self.last_failed || self.cooldown_over(policy, now))
    }

    /// Whether a refresh of this entry is due at `now` (see [`usable`](Self::usable)).
    pub(super) fn refresh_due(&self, policy: &CachePolicy, now: UnixTime) -> bool {
        self.usable(policy, now).is_some_and(|(_, due)| due)
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

    /// Whether eviction may drop this entry at `now`: not while it is being fetched or its
    /// last fetch is within the cooldown, or its limits would be forgotten with it.
    pub(super) fn evictable(&self, policy: &CachePolicy, now: UnixTime) -> bool {
        !self.is_fetching(policy, now) && self.cooldown_over(policy, now)
    }

    pub(super) fn begin(&mut self, now: UnixTime) {
        self.fetching_since = Some(now);
        self.last_attempt = Some(now);
    }

    /// Clears the in-flight mark set at `since`, recording nothing else. A mark set later
    /// (by another flow, after this one's timed out) is left alone.
    pub(super) fn abandon(&mut self, since: UnixTime) {
        if self.fetching_since == Some(since) {
            self.fetching_since = None;
        }
    }
}
