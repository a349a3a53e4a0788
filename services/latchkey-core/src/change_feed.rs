//! The change feed: how a store tells the authority's caches
//! ([`crate::record_cache`]) that a record changed in any process on the database,
//! and for how long what they hold may be trusted.

use std::sync::atomic::{AtomicBool, Ordering};

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
