//! The hot path's reads of consumers, OAuth 2.0 clients and tokens, through
//! [`crate::record_cache`]. Only `ValidateAccess` (and the signed requests that share
//! its checks) read through the caches; administration and the token endpoint read the
//! store. This process forgets a record as soon as it changes it, and the store's
//! [`ChangeFeed`] (Postgres LISTEN/NOTIFY) tells every process of changes made anywhere.
//!
//! A notification reaches the other replicas a millisecond or so after the change
//! commits, so on its own it would leave a window in which another replica still
//! serves a revoked token. The caches therefore serve only under a [`Lease`] that the
//! feed's heartbeats renew ([`FEED_LEASE`]), and a call that revokes or changes
//! a record waits out one lease before it answers. When it answers, every replica has
//! either heard the change or stopped serving from its caches: no validation that
//! starts after a `Revoke` returns passes with the revoked token, on any replica.
//!
//! Tokens are many and change only by ending, so their caches are not told which token
//! ended: any revocation empties them, on every replica, and so does any change to a
//! consumer (its tokens' lifetimes may have been shortened, or they were deleted with
//! it) or to an OAuth 2.0 client. A cached token's own fields still decide its fate
//! on each call (revoked, expired, idle), read against the clock of that call; a
//! refusal that rests on the cached copy's last use is checked against the store
//! before it is given, since another replica may have used the token since.

use super::Authority;
use crate::change_feed::{ChangeFeed, FEED_LEASE, StoreChange};
use crate::error::AuthorityResult;
use crate::error::StoreError;
use crate::oauth1::opened_secrets::OpenedSecrets;
use crate::oauth1::records::{AccessTokenRecord, ConsumerRecord};
use crate::oauth1::verify::consumer_secret_context;
use crate::oauth2::records::{OAuth2ClientRecord, OAuth2TokenRecord};
use crate::record_cache::{CAPACITY, CacheCounts, Lease, RecordCache, UNWATCHED_TTL, WATCHED_TTL};
use crate::secret::TokenHash;
use chrono::{DateTime, Utc};
use std::sync::{Arc, Weak};
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;

/// The caches.
#[derive(Debug)]
pub(crate) struct HotRecords {
    consumers: RecordCache<ConsumerRecord>,
    clients: RecordCache<OAuth2ClientRecord>,
    access_tokens: RecordCache<AccessTokenRecord, TokenHash>,
    oauth2_tokens: RecordCache<OAuth2TokenRecord, TokenHash>,
    /// The secrets of the consumers and access tokens above, kept opened; they go
    /// whenever their records go.
    pub(crate) secrets: OpenedSecrets,
    /// The feed's lease over all four, when there is a feed.
    lease: Option<Arc<Lease>>,
}

/// Lookups in the hot-path caches since start-up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HotCacheCounts {
    /// Consumers.
    pub consumers: CacheCounts,
    /// OAuth 2.0 clients.
    pub oauth2_clients: CacheCounts,
    /// OAuth 1.0a access tokens.
    pub access_tokens: CacheCounts,
    /// OAuth 2.0 access tokens.
    pub oauth2_tokens: CacheCounts,
}

impl HotRecords {
    fn with(ttl: std::time::Duration, reliable: bool, lease: Option<Arc<Lease>>) -> HotRecords {
        HotRecords {
            consumers: RecordCache::new(CAPACITY, ttl, reliable).under(lease.clone()),
            clients: RecordCache::new(CAPACITY, ttl, reliable).under(lease.clone()),
            access_tokens: RecordCache::new(TOKEN_CAPACITY, ttl, reliable).under(lease.clone()),
            oauth2_tokens: RecordCache::new(TOKEN_CAPACITY, ttl, reliable).under(lease.clone()),
            secrets: OpenedSecrets::new(ttl),
            lease,
        }
    }

    /// Caches that follow `feed` under its lease, or, without one, trust this process
    /// alone with entries that age out quickly.
    pub(crate) fn new(feed: Option<ChangeFeed>) -> Arc<HotRecords> {
        let Some(feed) = feed else {
            return Arc::new(HotRecords::with(UNWATCHED_TTL, true, None));
        };
        let lease = Arc::new(Lease::new(FEED_LEASE, feed.demand.clone()));
        let hot = Arc::new(HotRecords::with(WATCHED_TTL, false, Some(lease)));
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
        if !reliable {
            // Unheard changes may have replaced or revoked anything.
            self.secrets.forget_all();
        }
        self.consumers.set_reliable(reliable);
        self.clients.set_reliable(reliable);
        self.access_tokens.set_reliable(reliable);
        self.oauth2_tokens.set_reliable(reliable);
    }

    fn forget_all(&self) {
        self.consumers.forget_all();
        self.clients.forget_all();
        self.forget_tokens();
        self.secrets.forget_all();
    }

    fn forget_consumer(&self, key: &str) {
        self.consumers.forget(key);
        self.access_tokens.forget_all();
        self.secrets.forget(&consumer_secret_context(key));
        self.secrets.forget_access_tokens();
    }

    fn forget_oauth2_client(&self, client_id: &str) {
        self.clients.forget(client_id);
        self.oauth2_tokens.forget_all();
    }

    fn forget_tokens(&self) {
        self.access_tokens.forget_all();
        self.oauth2_tokens.forget_all();
        self.secrets.forget_access_tokens();
    }
}

/// The most tokens each token cache holds: the live tokens of a large deployment's
/// busiest hour, at a few hundred bytes each.
const TOKEN_CAPACITY: usize = 100_000;

/// Where a token record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// The cache: as fresh as the change feed.
    Cache,
    /// The store, just now.
    Store,
}

/// Applies the feed's changes until the feed or the caches are gone.
async fn follow(hot: Weak<HotRecords>, mut changes: Receiver<StoreChange>) {
    loop {
        let change = changes.recv().await;
        let Some(hot) = hot.upgrade() else {
            return;
        };
        match change {
            Ok(StoreChange::Consumer(key)) => hot.forget_consumer(&key),
            Ok(StoreChange::OAuth2Client(client_id)) => hot.forget_oauth2_client(&client_id),
            Ok(StoreChange::Tokens) => hot.forget_tokens(),
            Ok(StoreChange::Heard(at)) => {
                if let Some(lease) = &hot.lease {
                    lease.renew(at);
                }
            }
            Ok(StoreChange::Connected) => {
                tracing::info!("change feed connected: hot-path caches in use");
                hot.set_reliable(true);
            }
            Ok(StoreChange::Lost) => {
                tracing::warn!("change feed lost: hot-path caches bypassed until it is back");
                hot.set_reliable(false);
            }
            // Some changes went by unread: anything cached may be stale.
            Err(RecvError::Lagged(_)) => hot.forget_all(),
            Err(RecvError::Closed) => {
                hot.set_reliable(false);
                return;
            }
        }
    }
}

impl Authority {
    /// A consumer, from the cache when it can be trusted.
    pub(crate) async fn hot_consumer(&self, key: &str) -> AuthorityResult<Option<ConsumerRecord>> {
        Ok(self
            .hot
            .consumers
            .get_or_read(key, || self.store.get_consumer(key))
            .await?)
    }

    /// An OAuth 2.0 client, from the cache when it can be trusted.
    pub(crate) async fn hot_oauth2_client(
        &self,
        client_id: &str,
    ) -> AuthorityResult<Option<OAuth2ClientRecord>> {
        Ok(self
            .hot
            .clients
            .get_or_read(client_id, || self.store.get_oauth2_client(client_id))
            .await?)
    }

    /// An OAuth 1.0a access token, from the cache when it can be trusted.
    pub(crate) async fn hot_access_token(
        &self,
        hash: &TokenHash,
    ) -> AuthorityResult<Option<(AccessTokenRecord, Source)>> {
        if let Some(token) = self.hot.access_tokens.get(hash) {
            return Ok(Some((token, Source::Cache)));
        }
        let found = self.fresh_access_token(hash).await?;
        Ok(found.map(|token| (token, Source::Store)))
    }

    /// An OAuth 1.0a access token read from the store, and cached: for a miss, or for a
    /// refusal that a stale cached copy could have caused.
    pub(crate) async fn fresh_access_token(
        &self,
        hash: &TokenHash,
    ) -> AuthorityResult<Option<AccessTokenRecord>> {
        Ok(self
            .hot
            .access_tokens
            .read_and_keep(*hash, self.store.find_access_token(hash))
            .await?)
    }

    /// This process recorded a use of a cached access token.
    pub(crate) fn note_access_token_use(&self, hash: &TokenHash, at: DateTime<Utc>) {
        self.hot
            .access_tokens
            .update(hash, |token| token.last_used_at = at);
    }

    /// An OAuth 2.0 token, from the cache when it can be trusted.
    pub(crate) async fn hot_oauth2_token(
        &self,
        hash: &TokenHash,
    ) -> AuthorityResult<Option<OAuth2TokenRecord>> {
        Ok(self
            .hot
            .oauth2_tokens
            .get_or_read(hash, || self.store.find_oauth2_token(hash))
            .await?)
    }

    /// This process changed a consumer: forgets it here, and returns once no replica
    /// can serve the old record.
    pub(crate) async fn consumer_changed(&self, key: &str) {
        self.hot.forget_consumer(key);
        self.until_every_replica_knows().await;
    }

    /// This process changed an OAuth 2.0 client: as [`Authority::consumer_changed`].
    pub(crate) async fn oauth2_client_changed(&self, client_id: &str) {
        self.hot.forget_oauth2_client(client_id);
        self.until_every_replica_knows().await;
    }

    /// Runs a revoking store call, then forgets cached tokens whatever it answered (a
    /// call that reports an error may still have committed), and returns once no
    /// replica can serve them; the store tells the other replicas.
    pub(crate) async fn revoking<T>(
        &self,
        revoke: impl Future<Output = Result<T, StoreError>>,
    ) -> AuthorityResult<T> {
        let revoked = revoke.await;
        self.hot.forget_tokens();
        self.until_every_replica_knows().await;
        Ok(revoked?)
    }

    /// Waits out one [`FEED_LEASE`] after a change has committed, when other replicas
    /// may be caching: by then each has heard the change or stopped trusting its
    /// caches. Without a feed there are no other replicas' caches to wait for.
    async fn until_every_replica_knows(&self) {
        if self.hot.lease.is_some() {
            tokio::time::sleep(FEED_LEASE).await;
        }
    }

    /// How often the hot path found its consumer or client cached, since start-up.
    pub fn hot_cache_counts(&self) -> HotCacheCounts {
        HotCacheCounts {
            consumers: self.hot.consumers.counts(),
            oauth2_clients: self.hot.clients.counts(),
            access_tokens: self.hot.access_tokens.counts(),
            oauth2_tokens: self.hot.oauth2_tokens.counts(),
        }
    }
}
