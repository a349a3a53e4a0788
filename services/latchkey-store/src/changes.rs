//! The change feed behind the authority's hot-path caches, on Postgres
//! LISTEN/NOTIFY.
//!
//! Every transaction that changes or deletes a consumer or an OAuth 2.0 client, or
//! revokes tokens, also runs `pg_notify`. Postgres delivers the notification when, and only if, the
//! transaction commits, to every session listening on the channel. Each replica keeps
//! one such session, and [`ChangeHub`] fans what arrives out to its subscribers. When
//! that session is lost, subscribers hear [`StoreChange::Lost`] and stop trusting their
//! caches. The session is then re-established every 2 s; once it is back they hear
//! [`StoreChange::Connected`].
//!
//! The session is also the caches' heartbeat. Every [`FEED_HEARTBEAT`] it sends a
//! `SELECT 1` and reads what comes back. Postgres sends a listening session the
//! notifications of every transaction that committed before a query ahead of that
//! query's answer, so once the answer is in, every change committed before the query
//! was sent has been announced, and subscribers hear [`StoreChange::Heard`] with the
//! instant it was sent. Notifications are read by these round trips, so they reach
//! subscribers within a heartbeat. When the caches have not been read for
//! [`IDLE_AFTER`], the session beats only every [`IDLE_HEARTBEAT`] (which still
//! drains notifications and notices a lost session) until the next read
//! ([`FeedDemand`]) wakes it.
//!
//! SQLite has no such feed: a SQLite database is served by one process, which hears
//! its own changes (see `latchkey_core::record_cache`).

use crate::error::db_err;
use latchkey_core::change_feed::{ChangeFeed, FEED_HEARTBEAT, FeedDemand, StoreChange};
use latchkey_core::error::StoreError;
use sea_orm::sqlx::postgres::{PgListener, PgPool};
use sea_orm::sqlx::{self, Executor};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

/// The notification channel.
const CHANNEL: &str = "latchkey_changes";
/// The listening session's `application_name`.
pub const SESSION_NAME: &str = "latchkey change feed";
/// How long to wait before listening again after the session is lost.
const RETRY: Duration = Duration::from_secs(2);
/// How long the caches go unread before the heartbeat idles.
const IDLE_AFTER: Duration = Duration::from_secs(5);
/// How often an idle session beats.
const IDLE_HEARTBEAT: Duration = Duration::from_secs(1);
/// Changes a slow subscriber may fall behind by before it must forget everything.
const BACKLOG: usize = 1024;

/// Announces `change` with the transaction `txn` (Postgres only).
pub(crate) async fn publish<C: ConnectionTrait>(
    txn: &C,
    change: &StoreChange,
) -> Result<(), StoreError> {
    if txn.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let payload = match change {
        StoreChange::Consumer(key) => format!("consumer:{key}"),
        StoreChange::OAuth2Client(client_id) => format!("oauth2_client:{client_id}"),
        StoreChange::Tokens => "tokens:".to_owned(),
        StoreChange::Connected | StoreChange::Lost | StoreChange::Heard(_) => return Ok(()),
    };
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_notify($1, $2)",
        [CHANNEL.into(), payload.into()],
    ))
    .await
    .map_err(db_err)?;
    Ok(())
}

fn parse(payload: &str) -> Option<StoreChange> {
    match payload.split_once(':')? {
        ("consumer", key) => Some(StoreChange::Consumer(key.to_owned())),
        ("oauth2_client", client_id) => Some(StoreChange::OAuth2Client(client_id.to_owned())),
        ("tokens", _) => Some(StoreChange::Tokens),
        _ => None,
    }
}

/// One replica's listening session and its subscribers.
pub(crate) struct ChangeHub {
    sender: broadcast::Sender<StoreChange>,
    connected: AtomicBool,
    demand: Arc<FeedDemand>,
}

impl std::fmt::Debug for ChangeHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeHub")
            .field("connected", &self.connected.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl ChangeHub {
    /// Starts listening over a connection of `pool`'s settings. The session ends
    /// when the hub is dropped.
    pub(crate) fn start(pool: PgPool) -> Arc<ChangeHub> {
        let (sender, _) = broadcast::channel(BACKLOG);
        let hub = Arc::new(ChangeHub {
            sender,
            connected: AtomicBool::new(false),
            demand: Arc::new(FeedDemand::default()),
        });
        tokio::spawn(listen(pool, Arc::downgrade(&hub)));
        hub
    }

    /// A new subscriber, told whether the session is up as of subscribing.
    pub(crate) fn subscribe(&self) -> ChangeFeed {
        let changes = self.sender.subscribe();
        ChangeFeed {
            changes,
            connected: self.connected.load(Ordering::SeqCst),
            demand: self.demand.clone(),
        }
    }

    fn announce(&self, change: StoreChange) {
        match change {
            StoreChange::Connected => self.connected.store(true, Ordering::SeqCst),
            StoreChange::Lost => self.connected.store(false, Ordering::SeqCst),
            _ => {}
        }
        // No subscriber yet is not an error.
        let _ = self.sender.send(change);
    }
}

async fn listen(pool: PgPool, hub: Weak<ChangeHub>) {
    loop {
        let session = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            // Named, so that an operator can tell it in `pg_stat_activity`.
            listener
                .execute(sqlx::AssertSqlSafe(format!(
                    "SET application_name = '{SESSION_NAME}'"
                )))
                .await?;
            listener.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        }
        .await;
        match session {
            Ok(listener) => {
                let Some(up) = hub.upgrade() else { return };
                up.announce(StoreChange::Connected);
                drop(up);
                let end = follow_session(listener, &pool, &hub).await;
                let Some(up) = hub.upgrade() else { return };
                up.announce(StoreChange::Lost);
                match end {
                    SessionEnd::Lost(error) => {
                        tracing::warn!(%error, "the change feed's Postgres session was lost; listening again");
                    }
                    SessionEnd::PoolClosed | SessionEnd::Unwanted => return,
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for changes; trying again");
            }
        }
        if hub.strong_count() == 0 {
            return;
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// Why a listening session ended.
enum SessionEnd {
    Lost(sqlx::Error),
    /// The store is closing: its pool waits for this session's connection.
    PoolClosed,
    /// The hub is gone.
    Unwanted,
}

/// Beats the heartbeat on `listener`, announcing what each beat brings, until the
/// session, the pool or the hub ends.
async fn follow_session(
    mut listener: PgListener,
    pool: &PgPool,
    hub: &Weak<ChangeHub>,
) -> SessionEnd {
    let Some(demand) = hub.upgrade().map(|up| up.demand.clone()) else {
        return SessionEnd::Unwanted;
    };
    let mut last_read = Instant::now();
    loop {
        let idle = last_read.elapsed() >= IDLE_AFTER;
        let pause = if idle { IDLE_HEARTBEAT } else { FEED_HEARTBEAT };
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = demand.next_read(), if idle => {}
            // Closing the pool waits for this session's connection: let it go.
            () = pool.close_event() => return SessionEnd::PoolClosed,
        }
        if demand.take_read() {
            last_read = Instant::now();
        }
        let sent = Instant::now();
        if let Err(error) = listener.execute("SELECT 1").await {
            return SessionEnd::Lost(error);
        }
        let Some(up) = hub.upgrade() else {
            return SessionEnd::Unwanted;
        };
        while let Some(notification) = listener.next_buffered() {
            if let Some(change) = parse(notification.payload()) {
                up.announce(change);
            }
        }
        up.announce(StoreChange::Heard(sent));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_name_the_kind_and_the_key_which_may_hold_colons() {
        assert_eq!(
            parse("consumer:jira:prod"),
            Some(StoreChange::Consumer("jira:prod".into()))
        );
        assert_eq!(
            parse("oauth2_client:web"),
            Some(StoreChange::OAuth2Client("web".into()))
        );
        assert_eq!(parse("token:x"), None);
        assert_eq!(parse("consumer"), None);
    }
}
