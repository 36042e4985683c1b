//! The delivery response cache: finished response bodies with their ETags, keyed by request,
//! valid while nothing they were made from has changed.
//!
//! Every write goes through `storage`, which counts changes per table (before and after the
//! write); a response is kept with the counts of the tables it may contain (its type's, those
//! of every type its relations reach, the media table's) and the policy's, and is served only
//! while they are all the same. A write to tags leaves cached articles alone unless articles
//! relate to tags. A response showing one entry is kept with the mark of that entry instead
//! of its own table's count ([`Cached::entry`]), so a write to one article leaves the other
//! articles' cached answers alone (lists of articles go with it). Writes made by other nodes
//! reach the counts through the change-event log (see `lib.rs`, the cache follower).
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
    /// For a response showing one entry: its id and the entry's change mark it was made under
    /// (`storage::Store::entry_mark`), which the caller checks beside the counts.
    pub entry: Option<(String, u64)>,
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
    /// Each response, with the change counts it was made under.
    entries: HashMap<String, (Vec<u64>, Cached)>,
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

    /// The response for `key`, if it was made under the change counts `generation`.
    pub fn get(&self, key: &str, generation: &[u64]) -> Option<Cached> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        match inner.entries.get(key) {
            Some((made, value)) if made.as_slice() == generation => Some(value.clone()),
            _ => None,
        }
    }

    /// Keeps `value`, made under the change counts `generation` (read before the work
    /// started, so a write during the work makes the entry stale at once).
    pub fn put(&self, key: String, generation: Vec<u64>, value: Cached) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if value.body.len() > MAX_BYTES / 16 {
            return;
        }
        if inner.entries.len() >= MAX_ENTRIES || inner.bytes + value.body.len() > MAX_BYTES {
            inner.entries.clear();
            inner.bytes = 0;
        }
        inner.bytes += value.body.len();
        if let Some((_, old)) = inner.entries.insert(key, (generation, value)) {
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
            entry: None,
        }
    }

    #[test]
    fn entries_live_until_what_they_were_made_from_changes() {
        let c = ResponseCache::default();
        c.put("a".into(), vec![0, 3, 7], cached("one"));
        assert_eq!(c.get("a", &[0, 3, 7]).unwrap().body, "one");
        assert!(
            c.get("a", &[0, 4, 7]).is_none(),
            "a write to its table happened since"
        );
        assert!(c.get("a", &[1, 3, 7]).is_none(), "the policy changed");
        assert!(c.get("b", &[0, 3, 7]).is_none());
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
    fn work_that_raced_a_write_is_never_served() {
        let c = ResponseCache::default();
        // Made under count 4 while a write moved it to 5: kept, but nobody asks for 4 again.
        c.put("b".into(), vec![0, 4], cached("old"));
        assert!(c.get("b", &[0, 5]).is_none());
        c.put("b".into(), vec![0, 5], cached("new"));
        assert_eq!(c.get("b", &[0, 5]).unwrap().body, "new");
    }
}
