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
