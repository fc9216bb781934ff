//! A bounded map with least-recently-used eviction, as plain data.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicUsize, Ordering};

/// A map from string keys to values holding at most `capacity` entries.
///
/// Every entry carries a recency stamp. Writes ([`Lru::get_mut`], [`Lru::touch`],
/// [`Lru::insert`]) refresh it under exclusive access; [`Lru::get_used`] refreshes it through a
/// shared reference, so warm lookups made under a read lock still count as uses and a busy
/// entry is not the first evicted. The stamps are atomics used only with plain loads and
/// stores (no read-modify-write), which every target with pointer-sized atomics provides.
/// [`Lru::get`] reads without refreshing.
#[derive(Debug)]
pub(crate) struct Lru<V> {
    entries: BTreeMap<String, Slot<V>>,
    capacity: usize,
    /// The stamp the next write gives; shared reads stamp with it too, so an entry read after
    /// the last write counts as more recent than every entry written before.
    next: AtomicUsize,
}

#[derive(Debug)]
struct Slot<V> {
    value: V,
    used: AtomicUsize,
}

impl<V: Clone> Clone for Lru<V> {
    fn clone(&self) -> Self {
        Self {
            entries: self
                .entries
                .iter()
                .map(|(k, slot)| {
                    let slot = Slot {
                        value: slot.value.clone(),
                        used: AtomicUsize::new(slot.used.load(Ordering::Relaxed)),
                    };
                    (k.clone(), slot)
                })
                .collect(),
            capacity: self.capacity,
            next: AtomicUsize::new(self.next.load(Ordering::Relaxed)),
        }
    }
}

impl<V> Lru<V> {
    /// An empty map that holds at most `capacity` entries (0 holds none).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            entries: BTreeMap::new(),
            capacity,
            next: AtomicUsize::new(0),
        }
    }

    /// The value for `key`, without refreshing its recency.
    pub(crate) fn get(&self, key: &str) -> Option<&V> {
        self.entries.get(key).map(|slot| &slot.value)
    }

    /// The value for `key`, marked most recently used through a shared reference (for warm
    /// lookups made under a read lock).
    pub(crate) fn get_used(&self, key: &str) -> Option<&V> {
        let slot = self.entries.get(key)?;
        slot.used
            .store(self.next.load(Ordering::Relaxed), Ordering::Relaxed);
        Some(&slot.value)
    }

    /// The value for `key`, marked most recently used.
    pub(crate) fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        if !self.entries.contains_key(key) {
            return None;
        }
        let stamp = self.stamp();
        self.entries.get_mut(key).map(|slot| {
            *slot.used.get_mut() = stamp;
            &mut slot.value
        })
    }

    /// Every entry, in key order, without refreshing recency.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.entries
            .iter()
            .map(|(k, slot)| (k.as_str(), &slot.value))
    }

    /// Marks `key` most recently used.
    pub(crate) fn touch(&mut self, key: &str) {
        let _ = self.get_mut(key);
    }

    #[cfg(test)]
    /// Inserts or replaces `key`, evicting the least recently used entry when full.
    /// With capacity 0 nothing is stored.
    pub(crate) fn insert(&mut self, key: String, value: V) {
        let _ = self.insert_evicting(key, value, |_| true);
    }

    /// Inserts or replaces `key`. When the map is full, the least recently used entry for
    /// which `evictable` holds makes room; when there is none, nothing changes and `value` is
    /// handed back. With capacity 0 nothing is ever stored.
    ///
    /// # Errors
    /// `value`, when no entry may be evicted to make room for it.
    pub(crate) fn insert_evicting(
        &mut self,
        key: String,
        value: V,
        evictable: impl Fn(&V) -> bool,
    ) -> Result<(), V> {
        if self.capacity == 0 {
            return Err(value);
        }
        if !self.entries.contains_key(&key) && self.entries.len() >= self.capacity {
            let oldest = self
                .entries
                .iter()
                .filter(|(_, slot)| evictable(&slot.value))
                .min_by_key(|(_, slot)| slot.used.load(Ordering::Relaxed))
                .map(|(k, _)| k.clone());
            match oldest {
                Some(oldest) => {
                    self.entries.remove(&oldest);
                }
                None => return Err(value),
            }
        }
        let used = AtomicUsize::new(self.stamp());
        self.entries.insert(key, Slot { value, used });
        Ok(())
    }

    #[cfg(test)]
    /// The number of entries.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    #[cfg(test)]
    /// Whether the map is empty.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The stamp for a write. When the counter would wrap, the stamps are renumbered in
    /// their order first, so recency survives any number of writes.
    fn stamp(&mut self) -> usize {
        if *self.next.get_mut() == usize::MAX {
            let mut order: Vec<(usize, &mut AtomicUsize)> = self
                .entries
                .values_mut()
                .map(|slot| (*slot.used.get_mut(), &mut slot.used))
                .collect();
            order.sort_unstable_by_key(|(used, _)| *used);
            let mut n = 0;
            for (_, used) in order {
                *used.get_mut() = n;
                n += 1;
            }
            *self.next.get_mut() = n;
        }
        let next = self.next.get_mut();
        let stamp = *next;
        *next += 1;
        stamp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_used() {
        let mut lru = Lru::new(2);
        lru.insert("a".into(), 1);
        lru.insert("b".into(), 2);
        lru.touch("a");
        lru.insert("c".into(), 3);
        assert_eq!(lru.get("a"), Some(&1));
        assert_eq!(lru.get("b"), None);
        assert_eq!(lru.get("c"), Some(&3));
        lru.insert("a".into(), 10);
        assert_eq!(lru.len(), 2);
        assert_eq!(lru.get("a"), Some(&10));
    }

    #[test]
    fn shared_reads_count_as_uses() {
        let mut lru = Lru::new(2);
        lru.insert("busy".into(), 1);
        lru.insert("idle".into(), 2);
        // Read through a shared reference only, as a warm verification under a read lock.
        let shared: &Lru<i32> = &lru;
        assert_eq!(shared.get_used("busy"), Some(&1));
        lru.insert("new".into(), 3);
        assert_eq!(lru.get("busy"), Some(&1));
        assert_eq!(lru.get("idle"), None);
        // `get` alone does not refresh.
        lru.get("busy");
        lru.touch("new");
        lru.insert("newer".into(), 4);
        assert_eq!(lru.get("busy"), None);
    }

    #[test]
    fn protected_entries_are_not_evicted() {
        let mut lru = Lru::new(2);
        lru.insert("a".into(), 1);
        lru.insert("b".into(), 2);
        // `a` is the oldest but protected: `b` makes room.
        assert_eq!(lru.insert_evicting("c".into(), 3, |v| *v != 1), Ok(()));
        assert_eq!(lru.get("a"), Some(&1));
        assert_eq!(lru.get("b"), None);
        // Nothing evictable: the value is handed back and nothing changes.
        assert_eq!(lru.insert_evicting("d".into(), 4, |_| false), Err(4));
        assert_eq!(lru.len(), 2);
        assert_eq!(lru.get("d"), None);
        // Replacing an existing key needs no room.
        assert_eq!(lru.insert_evicting("a".into(), 10, |_| false), Ok(()));
        assert_eq!(lru.get("a"), Some(&10));
    }

    #[test]
    fn recency_survives_the_counter_wrapping() {
        let mut lru = Lru::new(2);
        lru.insert("old".into(), 1);
        lru.insert("new".into(), 2);
        *lru.next.get_mut() = usize::MAX;
        lru.touch("old");
        lru.touch("new");
        lru.insert("c".into(), 3);
        assert_eq!(lru.get("old"), None);
        assert_eq!(lru.get("new"), Some(&2));
        assert!(*lru.next.get_mut() < 10);
    }

    #[test]
    fn capacity_zero_stores_nothing() {
        let mut lru = Lru::new(0);
        lru.insert("a".into(), 1);
        assert!(lru.is_empty());
        assert_eq!(lru.insert_evicting("a".into(), 1, |_| true), Err(1));
    }

    #[test]
    fn bounded_under_many_keys() {
        let mut lru = Lru::new(100);
        for i in 0..1000 {
            lru.insert(alloc::format!("k{i}"), i);
        }
        assert_eq!(lru.len(), 100);
        assert_eq!(lru.get("k999"), Some(&999));
        assert_eq!(lru.get("k0"), None);
    }
}
