//! The storage contract. The core states what it needs; `latchkey-store` provides it
//! on sea-orm for Postgres and SQLite.
//!
//! Every method that changes state takes the audit event to write with it, and writes
//! both in one transaction: a change is never recorded without its audit line, nor the
//! other way round. Methods that guard a transition ("only if still pending") make the
//! check and the change one conditional statement, so concurrent callers on any number
//! of replicas cannot both win.

use crate::records::{
    AccessTokenRecord, AuditEvent, ConsumerRecord, ConsumerTokenRecord, EndedAccessTokens,
    GrantRecord, NonceRecord, RequestTokenDecision, RequestTokenRecord, RevocationSelector,
};
use crate::secret::TokenHash;
use crate::sweep::SweepJob;
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use std::sync::atomic::{AtomicBool, Ordering};
use uuid::Uuid;

/// Why a store call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or timed out; retrying may work.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A unique key already exists (for example a consumer key).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Anything else: a bug or a corrupt row.
    #[error("store failure: {0}")]
    Internal(String),
}

/// A change to a record the authority caches, made by any process on the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChange {
    /// A consumer changed or went.
    Consumer(String),
    /// An OAuth 2.0 client changed or went.
    OAuth2Client(String),
    /// Tokens were revoked (OAuth 1.0a access tokens, or OAuth 2.0 tokens): every
    /// cached token must be read again. Tokens that change with their consumer or
    /// client (a shortened lifetime, a deletion) are announced by that change.
    Tokens,
    /// The feed is connected: from now on every change is heard.
    Connected,
    /// The feed is lost: changes may go unheard until [`StoreChange::Connected`].
    Lost,
    /// Every change committed before this instant has been announced ahead of this
    /// message. A connected feed says so every [`FEED_HEARTBEAT`] while its caches
    /// are read ([`FeedDemand`]); each one vouches for the caches for [`FEED_LEASE`]
    /// from its instant.
    Heard(std::time::Instant),
}

/// How long a [`StoreChange::Heard`] lets the caches serve what they hold. A replica
/// that has not heard its feed for longer reads the store. So once a change has
/// committed and this long has passed, no replica serves a record from before it:
/// every replica has either heard the change or stopped trusting its caches. Calls
/// that revoke or narrow access wait this long before they answer (on a store with a
/// feed), which makes revocation immediate everywhere as seen by their callers.
pub const FEED_LEASE: std::time::Duration = std::time::Duration::from_millis(50);

/// How often a connected feed whose caches are read announces [`StoreChange::Heard`]:
/// a fifth of the lease, so that a round trip to the database may take most of a
/// lease before the caches stop being trusted.
pub const FEED_HEARTBEAT: std::time::Duration = std::time::Duration::from_millis(10);

/// The changes a store hears, for the authority's caches
/// ([`crate::record_cache`]).
#[derive(Debug)]
pub struct ChangeFeed {
    /// Every change from the moment of subscribing.
    pub changes: tokio::sync::broadcast::Receiver<StoreChange>,
    /// Whether the feed was connected when subscribed (read after subscribing, so no
    /// change in between is missed).
    pub connected: bool,
    /// Where the caches say they are being read, so that the feed beats its heartbeat
    /// only then.
    pub demand: std::sync::Arc<FeedDemand>,
}

/// Whether the caches a feed vouches for are being read. A feed beats every
/// [`FEED_HEARTBEAT`] while they are; when no one has read them for a while it beats
/// only now and then, to drain notifications and notice a lost session, and the
/// first read after that wakes it. An idle replica thus sends about one query a
/// second, not a hundred; the reads just after it wakes go to the store until the
/// first beat has answered.
#[derive(Debug, Default)]
pub struct FeedDemand {
    read: AtomicBool,
    woken: tokio::sync::Notify,
}

impl FeedDemand {
    /// The caches were read: keeps the heartbeat going, and wakes it if it idles.
    pub fn note_read(&self) {
        // Most reads find the flag already set: a load, no write to the shared line.
        if !self.read.load(Ordering::Relaxed) {
            self.read.store(true, Ordering::Relaxed);
            self.woken.notify_one();
        }
    }

    /// Whether the caches were read since the last call.
    pub fn take_read(&self) -> bool {
        self.read.swap(false, Ordering::Relaxed)
    }

    /// Returns at the next read (at once if one came since the last wait).
    pub async fn next_read(&self) {
        self.woken.notified().await;
    }
}

/// Everything the authority keeps. The OAuth 2.0 half is
/// [`crate::oauth2::store::OAuth2Store`].
#[async_trait]
pub trait Store: crate::oauth2::store::OAuth2Store + Send + Sync + 'static {
    /// Answers when the database is reachable.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Changes to consumers and OAuth 2.0 clients, whichever process makes them.
    /// `None` when the store cannot hear other processes (SQLite).
    fn change_feed(&self) -> Option<ChangeFeed> {
        None
    }

    // ---- consumers ----

    /// Inserts a consumer; [`StoreError::Conflict`] when the key is taken.
    async fn insert_consumer(
        &self,
        consumer: &ConsumerRecord,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;

    /// The consumer with this key.
    async fn get_consumer(&self, key: &str) -> Result<Option<ConsumerRecord>, StoreError>;

    /// Up to `limit` consumers ordered by key, starting after `after_key`.
    async fn list_consumers(
        &self,
        after_key: Option<&str>,
        limit: u64,
    ) -> Result<Vec<ConsumerRecord>, StoreError>;

    /// Replaces every field of the consumer with `consumer.key`; `None` when there is
    /// no such consumer. With `shorten_issued_to`, in the same transaction, every
    /// unrevoked access token of the consumer that would outlive
    /// `created_at + shorten_issued_to` is cut to that; returns how many were cut.
    async fn update_consumer(
        &self,
        consumer: &ConsumerRecord,
        shorten_issued_to: Option<Duration>,
        audit: &AuditEvent,
    ) -> Result<Option<u64>, StoreError>;

    /// Deletes a consumer with its request tokens, access tokens and nonces. `None`
    /// when there is no such consumer, else how many access tokens went with it.
    async fn delete_consumer(
        &self,
        key: &str,
        audit: &AuditEvent,
    ) -> Result<Option<u64>, StoreError>;

    // ---- nonces ----

    /// Records a nonce; `false` when this consumer already used it and that record has
    /// not expired at `now` (the replay case). An expired record is replaced, so
    /// replay protection never depends on the sweeper. Atomic across replicas: a
    /// unique key on (consumer, nonce) decides.
    async fn use_nonce(&self, nonce: &NonceRecord, now: DateTime<Utc>) -> Result<bool, StoreError>;

    // ---- request tokens ----

    /// Stores a new request token.
    async fn insert_request_token(
        &self,
        token: &RequestTokenRecord,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;

    /// The request token with this hash.
    async fn find_request_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<RequestTokenRecord>, StoreError>;

    /// Records the user's decision, only if the token is still pending and
    /// `expires_at > now`. `true` when this call made the change.
    async fn decide_request_token(
        &self,
        id: Uuid,
        decision: &RequestTokenDecision,
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError>;

    /// Counts a wrong verifier against an approved token and, when the count reaches
    /// `max_failures`, kills it (state `dead`). Returns the new count; 0 when the token
    /// was no longer approved (nothing changed).
    async fn record_verifier_failure(
        &self,
        id: Uuid,
        max_failures: u32,
        audit: &AuditEvent,
    ) -> Result<u32, StoreError>;

    /// Moves an approved, unexpired (`expires_at > now`) request token to `exchanged`
    /// and inserts `access`, in one transaction. `false`, with nothing written, when
    /// the token was not approved any more (another exchange won) or had expired.
    async fn exchange_request_token(
        &self,
        request_token_id: Uuid,
        now: DateTime<Utc>,
        access: &AccessTokenRecord,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError>;

    // ---- access tokens ----

    /// The access token with this hash, revoked or not.
    async fn find_access_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<AccessTokenRecord>, StoreError>;

    /// The access token with this id, revoked or not.
    async fn get_access_token(&self, id: Uuid) -> Result<Option<AccessTokenRecord>, StoreError>;

    /// Sets `revoked_at = now` on every selected token that is neither revoked nor
    /// expired at `now`; returns how many. Writes the audit event only when the count
    /// is not zero.
    async fn revoke_access_tokens(
        &self,
        selector: &RevocationSelector,
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<u64, StoreError>;

    /// Records a use of the access token at `at`, unless a later one is recorded.
    async fn record_access_token_use(&self, id: Uuid, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// A user's access tokens that are neither revoked nor expired at `now`, newest
    /// first, with their consumers' names.
    async fn list_live_grants(
        &self,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<GrantRecord>, StoreError>;

    /// Up to `limit` of a consumer's access tokens that are neither revoked nor expired
    /// at `now`, newest first.
    async fn list_live_consumer_tokens(
        &self,
        consumer_key: &str,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<ConsumerTokenRecord>, StoreError>;

    // ---- sweeping ----

    /// How long one sweeper batch should hold the database (see [`crate::sweep`]). A
    /// store whose writes queue behind one another (SQLite's one writer) asks for
    /// shorter batches than one whose deletes and inserts go side by side.
    fn sweep_batch_budget(&self) -> std::time::Duration {
        crate::sweep::BATCH_TIME_BUDGET
    }

    /// Takes the cross-replica lock for one sweep job without waiting: `None` when
    /// another process holds it. The lock ends when the lease is released or dropped,
    /// or when the process dies.
    async fn try_lock_sweep(
        &self,
        job: SweepJob,
    ) -> Result<Option<Box<dyn SweepLease>>, StoreError>;

    /// Deletes up to `limit` nonce records with `expires_at <= now`; returns how many.
    async fn delete_expired_nonces(
        &self,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<u64, StoreError>;

    /// Deletes up to `limit` request tokens, whatever their state, with
    /// `expires_at <= by`; returns how many.
    async fn delete_request_tokens_expired_by(
        &self,
        by: DateTime<Utc>,
        limit: u64,
    ) -> Result<u64, StoreError>;

    /// Deletes up to `limit` of the selected access tokens; returns how many.
    async fn delete_ended_access_tokens(
        &self,
        which: &EndedAccessTokens,
        limit: u64,
    ) -> Result<u64, StoreError>;
}

/// A held sweep lock.
#[async_trait]
pub trait SweepLease: Send {
    /// Gives the lock back.
    async fn release(self: Box<Self>) -> Result<(), StoreError>;
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration as Wait;

    #[tokio::test]
    async fn a_read_wakes_an_idle_heartbeat_and_is_counted_once() {
        let demand = Arc::new(FeedDemand::default());
        let waiting = tokio::spawn({
            let demand = demand.clone();
            async move { demand.next_read().await }
        });
        tokio::time::sleep(Wait::from_millis(20)).await;
        assert!(!waiting.is_finished(), "no read yet: the heartbeat idles");
        demand.note_read();
        demand.note_read();
        tokio::time::timeout(Wait::from_secs(5), waiting)
            .await
            .expect("the read woke it")
            .unwrap();
        assert!(demand.take_read());
        assert!(
            !demand.take_read(),
            "taken, the flag is clear until the next read"
        );
    }
}
