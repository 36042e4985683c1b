//! The delivery response cache: finished response bodies with their ETags, keyed by request,
//! valid while the database has not changed since they were made.
//!
//! Every write goes through `storage`, which counts changes; an entry made at change `n` is
//! served only while the count is still `n`. That is coarse (any write empties the cache for
//! every type, since `populate` mixes types in one body) but never stale on one node. With
//! several nodes on one database, each node only sees its own writes: the change feed that
//! keeps nodes in step is not built yet.
//!
//! It knows nothing of HTTP beyond opaque bytes and header values.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;

/// Most entries kept; past it the cache starts again empty rather than tracking recency.
const MAX_ENTRIES: usize = 10_000;
/// Most body bytes kept.
const MAX_BYTES: usize = 64 * 1024 * 1024;

#[derive(Clone)]
pub struct Cached {
    pub body: Bytes,
    pub etag: String,
    pub content_type: &'static str,
    pub cache_control: String,
}

#[derive(Default)]
pub struct ResponseCache {
    inner: Mutex<Inner>,
    /// Keys being computed now: a burst of requests for a cold key waits for the first one
    /// instead of all running the same queries.
    flights: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

#[derive(Default)]
struct Inner {
    /// The change count every entry below was made at.
    generation: u64,
    entries: HashMap<String, Cached>,
    bytes: usize,
}

impl ResponseCache {
    /// The lock that serialises the computation of `key`; call [`ResponseCache::land`] with
    /// it when done.
    pub fn flight(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut flights = self.flights.lock().unwrap_or_else(|e| e.into_inner());
        flights.entry(key.to_owned()).or_default().clone()
    }

    /// Forgets the flight of `key` once nobody else waits on it.
    pub fn land(&self, key: &str, flight: Arc<tokio::sync::Mutex<()>>) {
        let mut flights = self.flights.lock().unwrap_or_else(|e| e.into_inner());
        // One reference is the map's, one is ours: nobody else is waiting.
        if Arc::strong_count(&flight) <= 2 {
            flights.remove(key);
        }
    }

    /// The entry for `key`, if it was made at change count `generation`.
    pub fn get(&self, key: &str, generation: u64) -> Option<Cached> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner.generation != generation {
            return None;
        }
        inner.entries.get(key).cloned()
    }

    /// Keeps `value`, made at change count `generation` (read before the work started, so a
    /// write during the work makes the entry stale at once).
    pub fn put(&self, key: String, generation: u64, value: Cached) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if generation < inner.generation {
            return;
        }
        if generation > inner.generation {
            inner.generation = generation;
            inner.entries.clear();
            inner.bytes = 0;
        }
        if value.body.len() > MAX_BYTES / 16 {
            return;
        }
        if inner.entries.len() >= MAX_ENTRIES || inner.bytes + value.body.len() > MAX_BYTES {
            inner.entries.clear();
            inner.bytes = 0;
        }
        inner.bytes += value.body.len();
        if let Some(old) = inner.entries.insert(key, value) {
            inner.bytes -= old.body.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cached(body: &str) -> Cached {
        Cached {
            body: Bytes::from(body.to_owned()),
            etag: "\"x\"".into(),
            content_type: "application/json",
            cache_control: "public".into(),
        }
    }

    #[test]
    fn entries_live_until_the_next_change() {
        let c = ResponseCache::default();
        c.put("a".into(), 3, cached("one"));
        assert_eq!(c.get("a", 3).unwrap().body, "one");
        assert!(c.get("a", 4).is_none(), "a write happened since");
        assert!(c.get("b", 3).is_none());
    }

    #[test]
    fn concurrent_misses_share_one_flight() {
        let c = ResponseCache::default();
        let a = c.flight("k");
        let b = c.flight("k");
        assert!(Arc::ptr_eq(&a, &b));
        c.land("k", b);
        // Someone (a) still holds it: the flight stays for late arrivals.
        assert!(Arc::ptr_eq(&a, &c.flight("k")));
        c.land("k", a);
        let fresh = c.flight("k");
        assert_eq!(
            Arc::strong_count(&fresh),
            2,
            "a new flight after the last landed"
        );
    }

    #[test]
    fn work_that_raced_a_write_is_not_kept() {
        let c = ResponseCache::default();
        c.put("a".into(), 5, cached("new"));
        c.put("b".into(), 4, cached("old"));
        assert!(c.get("b", 4).is_none());
        assert!(c.get("b", 5).is_none());
        assert_eq!(c.get("a", 5).unwrap().body, "new");
    }
}
