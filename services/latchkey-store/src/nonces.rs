//! Nonces: the replay check. One `INSERT ... ON CONFLICT` decides, so of any number of
//! concurrent uses of one nonce, on any number of replicas, exactly one sees `true`.
//! A record whose window has passed is overwritten in the same statement, so replay
//! protection never waits for the sweeper, and the sweeper only keeps the table small.

use crate::connect::SeaStore;
use crate::convert::millis;
use crate::entities::nonces;
use crate::error::{db_err, is_unique_violation};
use chrono::{DateTime, Utc};
use latchkey_core::records::NonceRecord;
use latchkey_core::store::StoreError;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, Set};

use nonces::Column;

pub(crate) async fn use_nonce(
    store: &SeaStore,
    nonce: &NonceRecord,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let row = nonces::ActiveModel {
        consumer_key: Set(nonce.consumer_key.clone()),
        nonce: Set(nonce.nonce.clone()),
        timestamp: Set(nonce.timestamp),
        expires_at: Set(millis(nonce.expires_at)),
    };
    let inserted = nonces::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([Column::ConsumerKey, Column::Nonce])
                .update_columns([Column::Timestamp, Column::ExpiresAt])
                // Only a forgotten (expired) record may be taken over.
                .action_and_where(Expr::col((nonces::Entity, Column::ExpiresAt)).lte(millis(now)))
                .to_owned(),
        )
        .exec_without_returning(store.connection())
        .await;
    match inserted {
        Ok(rows) => Ok(rows == 1),
        // A backend may report the lost race as an error rather than as 0 rows.
        Err(DbErr::RecordNotInserted) => Ok(false),
        Err(err) if is_unique_violation(&err) => Ok(false),
        Err(err) => Err(db_err(err)),
    }
}

/// Deletes up to `limit` records whose window has passed; the keys come from one range
/// of the `expires_at` index.
pub(crate) async fn delete_expired(
    store: &SeaStore,
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
        .exec(store.connection())
        .await
        .map_err(db_err)?
        .rows_affected)
}
