//! A small read cache for the records every validation reads and that change rarely:
//! consumers (OAuth 1.0a), OAuth 2.0 clients, and the tokens themselves (which change
//! only by ending). Without it, each `ValidateAccess` pays database round trips to
//! learn that its consumer still exists and that its token is still live.
//!
//! Correctness comes before hits. An entry is used only while the cache is *reliable*:
//!
//! - With a store that publishes changes ([`crate::change_feed::ChangeFeed`], Postgres
//!   LISTEN/NOTIFY), the cache is reliable while that feed is connected, and serves
//!   only under a [`Lease`] that the feed's heartbeats keep renewing. A change on any
//!   replica reaches every replica as fast as Postgres delivers a notification; a
//!   replica that has not heard from its feed for a lease stops serving from the cache
//!   until it has. When the feed is lost, the cache is emptied and bypassed, and it is
//!   emptied again when the feed is back, for what it missed in between.
//! - With a store that cannot tell (SQLite), changes made through this process's
//!   [`crate::authority::Authority`] are forgotten as they commit. Entries live only
//!   [`UNWATCHED_TTL`], which bounds how long a change made by another process (the
//!   `latchkey consumer disable` command) goes unseen.
//!
//! A read that races a change is never stored. Every invalidation bumps a generation,
//! and a record read before it is dropped instead of cached. Entries also age out after
//! a TTL, and the cache holds at most its capacity.

use crate::change_feed::FeedDemand;
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// How long an entry lives when another replica's changes are heard.
pub const WATCHED_TTL: Duration = Duration::from_secs(60);
/// How long an entry lives when they are not.
pub const UNWATCHED_TTL: Duration = Duration::from_secs(1);
/// The most entries one cache holds.
pub const CAPACITY: usize = 10_000;

/// Lookups since start-up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheCounts {
    /// Found in the cache.
    pub hits: u64,
    /// Read from the store.
    pub misses: u64,
}

/// Hit and miss counters in plain atomics, for the server's metrics.
#[derive(Debug, Default)]
pub(crate) struct Lookups {
    hits: AtomicU64,
    misses: AtomicU64,
}

impl Lookups {
    /// Counts a lookup by whether it found something, and passes its result on.
    pub(crate) fn count<T>(&self, found: Option<T>) -> Option<T> {
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// The counts so far.
    pub(crate) fn counts(&self) -> CacheCounts {
        CacheCounts {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }
}

/// Until when a change feed vouches for the caches that follow it: the last
/// [`crate::change_feed::StoreChange::Heard`] instant plus [`crate::change_feed::FEED_LEASE`].
/// Shared by every cache of one feed; read on every lookup, so one atomic. Each
/// lookup also tells the feed that its heartbeat is wanted.
#[derive(Debug)]
pub struct Lease {
    origin: Instant,
    /// Nanoseconds after `origin`; 0 until first renewed.
    until: AtomicU64,
    length: Duration,
    demand: Arc<FeedDemand>,
}

impl Lease {
    /// A lease of `length` that holds only once renewed, reporting reads to `demand`.
    pub fn new(length: Duration, demand: Arc<FeedDemand>) -> Lease {
        Lease {
            origin: Instant::now(),
            until: AtomicU64::new(0),
            length,
            demand,
        }
    }

    /// The feed had announced everything committed before `heard_at`.
    pub fn renew(&self, heard_at: Instant) {
        let until = heard_at.saturating_duration_since(self.origin) + self.length;
        let nanos = u64::try_from(until.as_nanos()).unwrap_or(u64::MAX);
        self.until.fetch_max(nanos, Ordering::AcqRel);
    }

    /// Whether the lease holds now; asking counts as a read of the caches.
    pub fn holds(&self) -> bool {
        self.demand.note_read();
        let now = u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX);
        now < self.until.load(Ordering::Acquire)
    }
}

/// Proof of when a read from the store began; see [`RecordCache::put`].
#[derive(Debug, Clone, Copy)]
pub struct ReadTicket(u64);

/// Records by key, as described in the module documentation.
#[derive(Debug)]
pub struct RecordCache<V, K = String> {
    entries: RwLock<Entries<K, V>>,
    reliable: AtomicBool,
    lease: Option<Arc<Lease>>,
    ttl: Duration,
    capacity: usize,
    lookups: Lookups,
}

#[derive(Debug)]
struct Entries<K, V> {
    by_key: HashMap<K, (V, Instant)>,
    generation: u64,
}

impl<V: Clone, K: Hash + Eq + Clone> RecordCache<V, K> {
    /// An empty cache, reliable from the start or not.
    pub fn new(capacity: usize, ttl: Duration, reliable: bool) -> Self {
        Self {
            entries: RwLock::new(Entries {
                by_key: HashMap::new(),
                generation: 0,
            }),
            reliable: AtomicBool::new(reliable),
            lease: None,
            ttl,
            capacity,
            lookups: Lookups::default(),
        }
    }

    /// The same cache, serving only while `lease` (if any) holds.
    #[must_use]
    pub fn under(mut self, lease: Option<Arc<Lease>>) -> Self {
        self.lease = lease;
        self
    }

    /// Whether entries may be served now.
    fn serving(&self) -> bool {
        self.reliable.load(Ordering::Acquire) && self.lease.as_ref().is_none_or(|l| l.holds())
    }

    /// The cached record, if the cache is reliable, its lease (if any) holds and the
    /// entry is fresh.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let found = if self.serving() {
            self.entries.read().ok().and_then(|entries| {
                entries
                    .by_key
                    .get(key)
                    .filter(|(_, stored)| stored.elapsed() < self.ttl)
                    .map(|(value, _)| value.clone())
            })
        } else {
            None
        };
        self.lookups.count(found)
    }

    /// Take this before reading the record from the store.
    pub fn ticket(&self) -> ReadTicket {
        ReadTicket(self.entries.read().map_or(u64::MAX, |e| e.generation))
    }

    /// Stores a record read under `ticket`, unless something was invalidated since
    /// (the record may predate that change) or the cache is not reliable.
    pub fn put(&self, ticket: ReadTicket, key: impl Into<K>, value: V) {
        if !self.reliable.load(Ordering::Acquire) {
            return;
        }
        let key = key.into();
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        if entries.generation != ticket.0 {
            return;
        }
        if entries.by_key.len() >= self.capacity && !entries.by_key.contains_key(&key) {
            // Full: drop the stalest entry. A scan, but only on a miss of a full cache.
            let stalest = entries
                .by_key
                .iter()
                .min_by_key(|(_, (_, stored))| *stored)
                .map(|(key, _)| key.clone());
            if let Some(stalest) = stalest {
                entries.by_key.remove(&stalest);
            }
        }
        entries.by_key.insert(key, (value, Instant::now()));
    }

    /// Reads a record with `read` and keeps it, unless a change raced the read (the
    /// ticket-then-put protocol above, in one place).
    pub async fn read_and_keep<E>(
        &self,
        key: K,
        read: impl Future<Output = Result<Option<V>, E>>,
    ) -> Result<Option<V>, E> {
        let ticket = self.ticket();
        let found = read.await?;
        if let Some(value) = &found {
            self.put(ticket, key, value.clone());
        }
        Ok(found)
    }

    /// The cached record, or else the one `read` finds, kept (see
    /// [`RecordCache::read_and_keep`]). `read` runs only on a miss.
    pub async fn get_or_read<Q, E, F>(
        &self,
        key: &Q,
        read: impl FnOnce() -> F,
    ) -> Result<Option<V>, E>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
        F: Future<Output = Result<Option<V>, E>>,
    {
        if let Some(value) = self.get(key) {
            return Ok(Some(value));
        }
        self.read_and_keep(key.to_owned(), read()).await
    }

    /// Changes a cached record in place, if it is cached, keeping its age: for a change
    /// this process made and knows the whole of (a token's last use). Unlike
    /// [`RecordCache::forget`], reads under way are not dropped.
    pub fn update<Q>(&self, key: &Q, change: impl FnOnce(&mut V))
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Ok(mut entries) = self.entries.write()
            && let Some((value, _)) = entries.by_key.get_mut(key)
        {
            change(value);
        }
    }

    /// Forgets one record: it changed.
    pub fn forget<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Ok(mut entries) = self.entries.write() {
            entries.generation += 1;
            entries.by_key.remove(key);
        }
    }

    /// Forgets everything.
    pub fn forget_all(&self) {
        if let Ok(mut entries) = self.entries.write() {
            entries.generation += 1;
            entries.by_key.clear();
        }
    }

    /// Starts or stops trusting the cache. Either way it is emptied: what it held may
    /// have changed unheard.
    pub fn set_reliable(&self, reliable: bool) {
        if !reliable {
            self.reliable.store(false, Ordering::Release);
        }
        self.forget_all();
        if reliable {
            self.reliable.store(true, Ordering::Release);
        }
    }

    /// Lookups since start-up.
    pub fn counts(&self) -> CacheCounts {
        self.lookups.counts()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn cache() -> RecordCache<&'static str> {
        RecordCache::new(3, Duration::from_secs(60), true)
    }

    #[test]
    fn a_record_read_under_a_ticket_is_served_until_forgotten() {
        let cache = cache();
        assert_eq!(cache.get("k"), None);
        let ticket = cache.ticket();
        cache.put(ticket, "k", "v1");
        assert_eq!(cache.get("k"), Some("v1"));
        cache.forget("k");
        assert_eq!(cache.get("k"), None);
        assert_eq!(cache.counts(), CacheCounts { hits: 1, misses: 2 });
    }

    #[test]
    fn a_read_that_raced_a_change_is_not_stored() {
        let cache = cache();
        let ticket = cache.ticket();
        // The record was read, then changed and invalidated before it was stored.
        cache.forget("k");
        cache.put(ticket, "k", "stale");
        assert_eq!(cache.get("k"), None);
        // A change to another key counts too: the generation is one for all keys.
        let ticket = cache.ticket();
        cache.forget("other");
        cache.put(ticket, "k", "stale");
        assert_eq!(cache.get("k"), None);
    }

    #[test]
    fn an_unreliable_cache_serves_and_stores_nothing_and_is_emptied_when_trusted_again() {
        let cache = cache();
        cache.put(cache.ticket(), "k", "v");
        cache.set_reliable(false);
        assert_eq!(cache.get("k"), None);
        cache.put(cache.ticket(), "k", "v");
        cache.set_reliable(true);
        assert_eq!(cache.get("k"), None, "nothing from before survives");
        cache.put(cache.ticket(), "k", "v2");
        assert_eq!(cache.get("k"), Some("v2"));
    }

    #[test]
    fn a_cache_under_a_lease_serves_only_while_the_feed_was_heard_within_it() {
        let length = Duration::from_millis(200);
        let demand = Arc::new(FeedDemand::default());
        let lease = Arc::new(Lease::new(length, demand.clone()));
        let cache = cache().under(Some(lease.clone()));
        cache.put(cache.ticket(), "k", "v");
        assert!(!demand.take_read(), "storing is not reading");
        assert_eq!(cache.get("k"), None, "a lease never renewed does not hold");
        assert!(
            demand.take_read(),
            "a lookup wants the heartbeat, held or not"
        );
        assert!(!demand.take_read());
        lease.renew(Instant::now());
        assert_eq!(cache.get("k"), Some("v"), "stored while the lease was out");
        // A heartbeat that began before the last one, heard late, shortens nothing.
        lease.renew(Instant::now() - length);
        assert_eq!(cache.get("k"), Some("v"));
        std::thread::sleep(length + Duration::from_millis(20));
        assert_eq!(
            cache.get("k"),
            None,
            "the feed went quiet for a whole lease"
        );
        lease.renew(Instant::now() - length);
        assert_eq!(
            cache.get("k"),
            None,
            "a heartbeat a lease old vouches for nothing"
        );
        lease.renew(Instant::now());
        assert_eq!(
            cache.get("k"),
            Some("v"),
            "heard again: what it held is current"
        );
    }

    #[test]
    fn entries_age_out_and_the_cache_never_holds_more_than_its_capacity() {
        let aging: RecordCache<&str> = RecordCache::new(10, Duration::from_millis(30), true);
        aging.put(aging.ticket(), "k", "v");
        assert_eq!(aging.get("k"), Some("v"));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(aging.get("k"), None);

        let cache = cache();
        for key in ["a", "b", "c", "d", "e"] {
            cache.put(cache.ticket(), key, "v");
            std::thread::sleep(Duration::from_millis(2));
        }
        let held = ["a", "b", "c", "d", "e"]
            .iter()
            .filter(|key| cache.get(**key).is_some())
            .count();
        assert_eq!(held, 3);
        assert_eq!(cache.get("e"), Some("v"), "the newest stays");
        assert_eq!(cache.get("a"), None, "the stalest went first");
    }
}
