//! JWKS lookups for a token: fresh (or stale) hit, refetch on unknown `kid` within the
//! cooldown, waits.

use super::{CachePolicy, Entry};
use crate::jose::JoseError;
use crate::jose::header::Header;
use crate::jose::jwk::{Jwk, JwkSet};
use crate::time::UnixTime;

/// What the cache answers for a token's header (SECURITY H-24: refetch only on no match, at
/// most once per cooldown, one fetch in flight).
#[derive(Debug)]
pub(crate) enum KeyLookup<'c> {
    /// A usable set (fresh, or stale after a failed refetch) holds exactly one usable key for
    /// this token.
    Hit(&'c Jwk),
    /// Nothing usable, or the token's key is unknown and the cooldown allows a refetch:
    /// the caller may fetch the set.
    Fetch,
    /// Another flow is fetching the set: wait for it.
    Wait,
    /// The token's key is not in the fresh set and the cooldown forbids a refetch.
    UnknownKey,
    /// The last fetch failed and the cooldown forbids another.
    RecentlyFailed,
    /// The usable set cannot verify this token for another reason (ambiguous keys, a key
    /// named by `kid` that may not be used with this `alg`).
    Unusable(JoseError),
}

/// Looks up the key for `header` in `entry` at `now`; also says whether the set used is due
/// for a refresh.
pub(crate) fn lookup<'c>(
    entry: Option<&'c Entry<JwkSet>>,
    policy: &CachePolicy,
    header: &Header,
    now: UnixTime,
) -> (KeyLookup<'c>, bool) {
    let Some(entry) = entry else {
        return (KeyLookup::Fetch, false);
    };
    if let Some((set, due)) = entry.usable(policy, now) {
        let lookup = match set.select(header) {
            Ok(key) => KeyLookup::Hit(key),
            Err(JoseError::NoMatchingKey) if entry.is_fetching(policy, now) => KeyLookup::Wait,
            Err(JoseError::NoMatchingKey) if entry.cooldown_over(policy, now) => KeyLookup::Fetch,
            // A stale set means the last refetch failed: report it as such.
            Err(JoseError::NoMatchingKey) if entry.fresh(policy, now).is_none() => {
                KeyLookup::RecentlyFailed
            }
            Err(JoseError::NoMatchingKey) => KeyLookup::UnknownKey,
            Err(e) => KeyLookup::Unusable(e),
        };
        return (lookup, due);
    }
    let lookup = if entry.is_fetching(policy, now) {
        KeyLookup::Wait
    } else if entry.last_failed() && !entry.cooldown_over(policy, now) {
        KeyLookup::RecentlyFailed
    } else {
        KeyLookup::Fetch
    };
    (lookup, false)
}
