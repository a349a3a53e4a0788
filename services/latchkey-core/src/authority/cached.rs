//! The hot path's reads of consumers and OAuth 2.0 clients, through
//! [`crate::record_cache`]. Only `ValidateAccess` (and the signed requests that share
//! its checks) read through the cache; administration and the token endpoint read the
//! store. This process forgets a record as soon as it changes it, and the store's
//! [`ChangeFeed`] (Postgres LISTEN/NOTIFY) tells every process of changes made anywhere.

use super::Authority;
use crate::error::AuthorityResult;
use crate::oauth2::records::OAuth2ClientRecord;
use crate::record_cache::{CAPACITY, CacheCounts, RecordCache, UNWATCHED_TTL, WATCHED_TTL};
use crate::records::ConsumerRecord;
use crate::store::{ChangeFeed, StoreChange};
use std::sync::{Arc, Weak};
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;

/// The two caches.
#[derive(Debug)]
pub(super) struct HotRecords {
    consumers: RecordCache<ConsumerRecord>,
    clients: RecordCache<OAuth2ClientRecord>,
}

/// Lookups in the hot-path caches since start-up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HotCacheCounts {
    /// Consumers.
    pub consumers: CacheCounts,
    /// OAuth 2.0 clients.
    pub oauth2_clients: CacheCounts,
}

impl HotRecords {
    fn with(ttl: std::time::Duration, reliable: bool) -> HotRecords {
        HotRecords {
            consumers: RecordCache::new(CAPACITY, ttl, reliable),
            clients: RecordCache::new(CAPACITY, ttl, reliable),
        }
    }

    /// Caches that follow `feed`, or, without one, trust this process alone with
    /// entries that age out quickly.
    pub(super) fn new(feed: Option<ChangeFeed>) -> Arc<HotRecords> {
        let Some(feed) = feed else {
            return Arc::new(HotRecords::with(UNWATCHED_TTL, true));
        };
        let hot = Arc::new(HotRecords::with(WATCHED_TTL, false));
        // Without a runtime to follow the feed on, the caches are never trusted and
        // every read goes to the store.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            if feed.connected {
                hot.set_reliable(true);
            }
            runtime.spawn(follow(Arc::downgrade(&hot), feed.changes));
        }
        hot
    }

    fn set_reliable(&self, reliable: bool) {
        self.consumers.set_reliable(reliable);
        self.clients.set_reliable(reliable);
    }
}

/// Applies the feed's changes until the feed or the caches are gone.
async fn follow(hot: Weak<HotRecords>, mut changes: Receiver<StoreChange>) {
    loop {
        let change = changes.recv().await;
        let Some(hot) = hot.upgrade() else {
            return;
        };
        match change {
            Ok(StoreChange::Consumer(key)) => hot.consumers.forget(&key),
            Ok(StoreChange::OAuth2Client(client_id)) => hot.clients.forget(&client_id),
            Ok(StoreChange::Connected) => {
                tracing::info!("change feed connected: hot-path caches in use");
                hot.set_reliable(true);
            }
            Ok(StoreChange::Lost) => {
                tracing::warn!("change feed lost: hot-path caches bypassed until it is back");
                hot.set_reliable(false);
            }
            // Some changes went by unread: anything cached may be stale.
            Err(RecvError::Lagged(_)) => {
                hot.consumers.forget_all();
                hot.clients.forget_all();
            }
            Err(RecvError::Closed) => {
                hot.set_reliable(false);
                return;
            }
        }
    }
}

impl Authority {
    /// A consumer, from the cache when it can be trusted.
    pub(super) async fn hot_consumer(&self, key: &str) -> AuthorityResult<Option<ConsumerRecord>> {
        if let Some(consumer) = self.hot.consumers.get(key) {
            return Ok(Some(consumer));
        }
        let ticket = self.hot.consumers.ticket();
        let found = self.store.get_consumer(key).await?;
        if let Some(consumer) = &found {
            self.hot.consumers.put(ticket, key, consumer.clone());
        }
        Ok(found)
    }

    /// An OAuth 2.0 client, from the cache when it can be trusted.
    pub(super) async fn hot_oauth2_client(
        &self,
        client_id: &str,
    ) -> AuthorityResult<Option<OAuth2ClientRecord>> {
        if let Some(client) = self.hot.clients.get(client_id) {
            return Ok(Some(client));
        }
        let ticket = self.hot.clients.ticket();
        let found = self.store.get_oauth2_client(client_id).await?;
        if let Some(client) = &found {
            self.hot.clients.put(ticket, client_id, client.clone());
        }
        Ok(found)
    }

    /// This process changed a consumer.
    pub(super) fn forget_consumer(&self, key: &str) {
        self.hot.consumers.forget(key);
    }

    /// This process changed an OAuth 2.0 client.
    pub(super) fn forget_oauth2_client(&self, client_id: &str) {
        self.hot.clients.forget(client_id);
    }

    /// How often the hot path found its consumer or client cached, since start-up.
    pub fn hot_cache_counts(&self) -> HotCacheCounts {
        HotCacheCounts {
            consumers: self.hot.consumers.counts(),
            oauth2_clients: self.hot.clients.counts(),
        }
    }
}
