//! Nonces: the replay check, written by group commit.
//!
//! Every OAuth 1.0a validation spends a nonce, so every validation writes. Rather than
//! one statement and one commit per call, the calls waiting at one moment share one
//! multi-row `INSERT ... ON CONFLICT ... RETURNING`. No call waits for a timer: a
//! writer takes the first waiting nonce and everything else already queued (up to
//! [`MAX_BATCH`]), writes them in one round trip, and answers each; the calls that
//! arrive meanwhile form the next batch. Under light load a batch is one nonce; under
//! heavy load hundreds share a round trip and a commit.
//!
//! The rule is the one a single `INSERT ... ON CONFLICT` per nonce kept: of any number
//! of concurrent uses of one nonce, on any number of replicas, exactly one wins. The
//! rows the statement returns are those it inserted, or took over from a record whose
//! window had passed (so replay protection never waits for the sweeper): those uses
//! won. A nonce twice in one batch is decided before the statement (the first use
//! contends, the second has lost), and the batch is written in key order, so two
//! replicas' batches lock rows in one order and cannot deadlock. A record is taken over
//! only if it had expired by the earliest call of the batch: never early.
//!
//! On Postgres the batch goes as four arrays into one fixed statement (`INSERT ...
//! SELECT FROM unnest(...)`), prepared once per connection: a multi-row `VALUES` list
//! is a new statement text, parsed and planned again, for every batch size, and binds
//! four parameters per nonce. Each Postgres writer also keeps one pooled connection
//! for its batches rather than taking one from the pool and giving it back each time:
//! sqlx tests every connection given back with a round trip of its own, which cost
//! the server about as much as the batch. SQLite, whose statements are function calls,
//! keeps the multi-row insert.

use crate::connect::SeaStore;
use crate::convert::millis;
use crate::entities::nonces;
use crate::error::{db_err, is_unique_violation};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use latchkey_core::error::StoreError;
use latchkey_core::oauth1::records::NonceRecord;
use latchkey_core::oauth1::store::NonceStore;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::sqlx::pool::PoolConnection;
use sea_orm::sqlx::{self, PgPool, Postgres};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter, RuntimeErr, Set,
};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, mpsc, oneshot};

use nonces::Column;

/// The most nonces one statement writes (four bound values each).
const MAX_BATCH: usize = 512;
/// Calls that may wait for a writer before `spend` itself waits.
const QUEUE_DEPTH: usize = 16_384;

/// One call's nonce and where its answer goes.
struct Spend {
    record: NonceRecord,
    now: DateTime<Utc>,
    answer: oneshot::Sender<Result<bool, StoreError>>,
}

impl Spend {
    /// What makes two uses the same nonce: its consumer and its value.
    fn key(&self) -> (&str, &str) {
        (&self.record.consumer_key, &self.record.nonce)
    }
}

/// The queue in front of the nonce writers.
#[derive(Clone)]
pub(crate) struct NonceWriter {
    queue: mpsc::Sender<Spend>,
}

impl std::fmt::Debug for NonceWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonceWriter").finish_non_exhaustive()
    }
}

impl NonceWriter {
    /// Starts `writers` tasks writing over `db`, each keeping its Postgres connection
    /// between batches if `keep_connections`. They end when the last `NonceWriter`
    /// clone is dropped.
    pub(crate) fn start(
        db: DatabaseConnection,
        writers: usize,
        keep_connections: bool,
    ) -> NonceWriter {
        let (queue, waiting) = mpsc::channel(QUEUE_DEPTH);
        let waiting = Arc::new(Mutex::new(waiting));
        for _ in 0..writers.max(1) {
            tokio::spawn(write_batches(db.clone(), waiting.clone(), keep_connections));
        }
        NonceWriter { queue }
    }

    /// Spends `record`: `true` if this use is the first.
    pub(crate) async fn spend(
        &self,
        record: &NonceRecord,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let stopped = || StoreError::Unavailable("the nonce writer has stopped".to_owned());
        let (answer, answered) = oneshot::channel();
        let spend = Spend {
            record: record.clone(),
            now,
            answer,
        };
        self.queue.send(spend).await.map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())?
    }
}

/// After a batch found the database unavailable, the batches taken within this long
/// are refused with the same error at once instead of each waiting out the pool's
/// acquire timeout in turn: otherwise a call queued behind a failing batch would wait
/// for that batch and then for its own, twice the timeout. The first batch after it
/// tries again, so the writer recovers by itself within this long of the database.
const OUTAGE_RETRY_AFTER: Duration = Duration::from_millis(500);

/// One writer: takes a batch, writes it, answers, again.
async fn write_batches(
    db: DatabaseConnection,
    waiting: Arc<Mutex<mpsc::Receiver<Spend>>>,
    keep_connection: bool,
) {
    let mut held: Held = None;
    let mut outage: Option<(Instant, StoreError)> = None;
    loop {
        let taking = take_batch(&waiting);
        let batch = if held.is_some() {
            // Closing the pool waits for every connection to come back: a kept one
            // goes back as soon as closing starts, whether this writer is waiting for
            // nonces or for another writer to stop waiting for them. (Both waits are
            // cancel-safe: no nonce is lost.)
            let closing = db.get_postgres_connection_pool().close_event();
            tokio::select! {
                batch = taking => batch,
                () = closing => {
                    held = None;
                    continue;
                }
            }
        } else {
            taking.await
        };
        let Some(batch) = batch else { return };
        if let Some((since, error)) = &outage
            && since.elapsed() < OUTAGE_RETRY_AFTER
        {
            for spend in batch {
                let _ = spend.answer.send(Err(error.clone()));
            }
            continue;
        }
        outage = write_batch(&db, &mut held, batch)
            .await
            .map(|error| (Instant::now(), error));
        if !keep_connection {
            held = None;
        }
    }
}

/// The first waiting nonce and up to [`MAX_BATCH`] already queued behind it; `None`
/// once every `NonceWriter` is gone.
async fn take_batch(waiting: &Mutex<mpsc::Receiver<Spend>>) -> Option<Vec<Spend>> {
    let mut waiting = waiting.lock().await;
    let mut batch = vec![waiting.recv().await?];
    while batch.len() < MAX_BATCH {
        match waiting.try_recv() {
            Ok(next) => batch.push(next),
            Err(_) => break,
        }
    }
    Some(batch)
}

/// The Postgres connection a writer keeps between batches, once it has one.
type Held = Option<PoolConnection<Postgres>>;

/// Writes and answers one batch; returns the error when the database was unavailable.
async fn write_batch(
    db: &DatabaseConnection,
    held: &mut Held,
    mut batch: Vec<Spend>,
) -> Option<StoreError> {
    batch.sort_by(|a, b| a.key().cmp(&b.key()));
    // Sorted, so a nonce twice in the batch sits next to its first use.
    let mut contenders: Vec<Spend> = Vec::with_capacity(batch.len());
    for spend in batch {
        let repeated = contenders
            .last()
            .is_some_and(|first| first.key() == spend.key());
        if repeated {
            let _ = spend.answer.send(Ok(false));
        } else {
            contenders.push(spend);
        }
    }
    // An empty batch writes nothing, so it finds no outage either.
    let earliest = contenders.iter().map(|spend| spend.now).min()?;
    let written = match db.get_database_backend() {
        DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            spend_on_postgres(pool, held, &contenders, earliest).await
        }
        _ => spend_as_rows(db, &contenders, earliest).await,
    };
    let won = match written {
        Ok(won) => won,
        Err(err) => {
            let error = db_err(err);
            let unavailable = matches!(error, StoreError::Unavailable(_));
            if unavailable || contenders.len() == 1 {
                for spend in contenders {
                    let _ = spend.answer.send(Err(error.clone()));
                }
                return unavailable.then_some(error);
            } else {
                // One bad row (a consumer deleted meanwhile) fails the whole statement:
                // each nonce is written alone, so only that one fails.
                for spend in contenders {
                    let answer = spend_one(db, &spend.record, spend.now).await;
                    let _ = spend.answer.send(answer);
                }
            }
            return None;
        }
    };
    for Spend { record, answer, .. } in contenders {
        let _ = answer.send(Ok(won.contains(&(record.consumer_key, record.nonce))));
    }
    None
}

/// The keys of the nonces a batch statement wrote: the uses that won.
type Won = HashSet<(String, String)>;

/// Postgres: the batch in one statement of fixed text, whatever its size.
const SPEND_ON_POSTGRES: &str = r#"INSERT INTO "nonces" ("consumer_key", "nonce", "timestamp", "expires_at")
SELECT * FROM unnest($1::text[], $2::text[], $3::int8[], $4::int8[])
ON CONFLICT ("consumer_key", "nonce") DO UPDATE
SET "timestamp" = excluded."timestamp", "expires_at" = excluded."expires_at"
WHERE "nonces"."expires_at" <= $5
RETURNING "consumer_key", "nonce""#;

/// Writes the batch over the held connection, taking one from the pool first if none
/// is held. After a failed statement the connection goes back to the pool, which
/// tests it, and the next batch takes another.
async fn spend_on_postgres(
    pool: &PgPool,
    held: &mut Held,
    contenders: &[Spend],
    earliest: DateTime<Utc>,
) -> Result<Won, DbErr> {
    let as_db_err = |err| DbErr::Query(RuntimeErr::SqlxError(Arc::new(err)));
    let connection = match held {
        Some(connection) => connection,
        None => held.insert(pool.acquire().await.map_err(as_db_err)?),
    };
    let records = || contenders.iter().map(|spend| &spend.record);
    let consumer_keys: Vec<&str> = records().map(|r| r.consumer_key.as_str()).collect();
    let nonces: Vec<&str> = records().map(|r| r.nonce.as_str()).collect();
    let timestamps: Vec<i64> = records().map(|r| r.timestamp).collect();
    let expiries: Vec<i64> = records().map(|r| millis(r.expires_at)).collect();
    let rows: Result<Vec<(String, String)>, _> = sqlx::query_as(SPEND_ON_POSTGRES)
        .bind(consumer_keys)
        .bind(nonces)
        .bind(timestamps)
        .bind(expiries)
        .bind(millis(earliest))
        .fetch_all(&mut **connection)
        .await;
    match rows {
        Ok(rows) => Ok(rows.into_iter().collect()),
        Err(err) => {
            *held = None;
            Err(as_db_err(err))
        }
    }
}

/// SQLite: the batch as one multi-row insert.
async fn spend_as_rows(
    db: &DatabaseConnection,
    contenders: &[Spend],
    earliest: DateTime<Utc>,
) -> Result<Won, DbErr> {
    let rows = contenders.iter().map(|spend| row_of(&spend.record));
    let written = nonces::Entity::insert_many(rows)
        .on_conflict(take_over_if_expired_by(earliest))
        .exec_with_returning(db)
        .await;
    match written {
        Ok(rows) => Ok(rows
            .into_iter()
            .map(|row| (row.consumer_key, row.nonce))
            .collect()),
        // Every use lost, reported as an error rather than as no rows.
        Err(DbErr::RecordNotInserted) => Ok(Won::new()),
        Err(err) => Err(err),
    }
}

fn row_of(record: &NonceRecord) -> nonces::ActiveModel {
    nonces::ActiveModel {
        consumer_key: Set(record.consumer_key.clone()),
        nonce: Set(record.nonce.clone()),
        timestamp: Set(record.timestamp),
        expires_at: Set(millis(record.expires_at)),
    }
}

/// On a nonce already recorded: take the record over only if its window had passed by
/// `now` (the use is then the first since it was forgotten); otherwise leave it.
fn take_over_if_expired_by(now: DateTime<Utc>) -> OnConflict {
    OnConflict::columns([Column::ConsumerKey, Column::Nonce])
        .update_columns([Column::Timestamp, Column::ExpiresAt])
        .action_and_where(Expr::col((nonces::Entity, Column::ExpiresAt)).lte(millis(now)))
        .to_owned()
}

/// One nonce in its own statement.
async fn spend_one(
    db: &DatabaseConnection,
    record: &NonceRecord,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let inserted = nonces::Entity::insert(row_of(record))
        .on_conflict(take_over_if_expired_by(now))
        .exec_without_returning(db)
        .await;
    match inserted {
        Ok(rows) => Ok(rows == 1),
        // A backend may report the lost race as an error rather than as 0 rows.
        Err(DbErr::RecordNotInserted) => Ok(false),
        Err(err) if is_unique_violation(&err) => Ok(false),
        Err(err) => Err(db_err(err)),
    }
}

#[async_trait]
impl NonceStore for SeaStore {
    async fn use_nonce(&self, nonce: &NonceRecord, now: DateTime<Utc>) -> Result<bool, StoreError> {
        self.nonce_writer().spend(nonce, now).await
    }

    /// Deletes up to `limit` records whose window has passed; the keys come from one range
    /// of the `expires_at` index.
    async fn delete_expired_nonces(
        &self,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<u64, StoreError> {
        let keys = Query::select()
            .columns([Column::ConsumerKey, Column::Nonce])
            .from(nonces::Entity)
            .and_where(Column::ExpiresAt.lte(millis(now)))
            .limit(limit)
            .to_owned();
        Ok(nonces::Entity::delete_many()
            .filter(
                Expr::tuple([Expr::col(Column::ConsumerKey), Expr::col(Column::Nonce)])
                    .in_subquery(keys),
            )
            .exec(self.write_connection())
            .await
            .map_err(db_err)?
            .rows_affected)
    }
}
