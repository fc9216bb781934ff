//! A bounded map with least-recently-used eviction, as plain data.

use alloc::collections::BTreeMap;
use alloc::string::String;

/// A map from string keys to values holding at most `capacity` entries.
///
/// Reads through [`Lru::get`] take `&self` so warm verifications can share the cache; they do
/// not refresh recency. [`Lru::touch`] and [`Lru::insert`] do, under exclusive access.
#[derive(Clone, Debug)]
pub struct Lru<V> {
    entries: BTreeMap<String, (V, u64)>,
    capacity: usize,
    clock: u64,
}

impl<V> Lru<V> {
    /// An empty map that holds at most `capacity` entries (0 holds none).
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: BTreeMap::new(),
            capacity,
            clock: 0,
        }
    }

    /// The value for `key`, without refreshing its recency.
    pub fn get(&self, key: &str) -> Option<&V> {
        self.entries.get(key).map(|(v, _)| v)
    }

    /// The value for `key`, marked most recently used.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        self.clock = self.clock.wrapping_add(1);
        let clock = self.clock;
        self.entries.get_mut(key).map(|(v, used)| {
            *used = clock;
            v
        })
    }

    /// Marks `key` most recently used.
    pub fn touch(&mut self, key: &str) {
        let _ = self.get_mut(key);
    }

    /// Inserts or replaces `key`, evicting the least recently used entry when full.
    /// With capacity 0 nothing is stored.
    pub fn insert(&mut self, key: String, value: V) {
        if self.capacity == 0 {
            return;
        }
        if !self.entries.contains_key(&key) && self.entries.len() >= self.capacity {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                self.entries.remove(&oldest);
            }
        }
        self.clock = self.clock.wrapping_add(1);
        self.entries.insert(key, (value, self.clock));
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: &str) -> Option<V> {
        self.entries.remove(key).map(|(v, _)| v)
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The most entries held.
    pub fn capacity(&self) -> usize {
        self.capacity
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
    fn capacity_zero_stores_nothing() {
        let mut lru = Lru::new(0);
        lru.insert("a".into(), 1);
        assert!(lru.is_empty());
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
