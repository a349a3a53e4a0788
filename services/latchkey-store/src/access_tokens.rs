//! Access tokens: lookup, revocation and the list of a user's live grants.
//!
//! "Live" is computed, never stored: not revoked and `expires_at > now`, with `now`
//! passed in by the caller so tests need no sleeping.

use crate::audit;
use crate::connect::SeaStore;
use crate::convert::{self, millis};
use crate::entities::{access_tokens, consumers};
use crate::error::db_err;
use chrono::{DateTime, Utc};
use latchkey_core::records::{AccessTokenRecord, AuditEvent, GrantRecord, RevocationSelector};
use latchkey_core::secret::TokenHash;
use latchkey_core::store::StoreError;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use access_tokens::Column;

pub(crate) async fn find(
    store: &SeaStore,
    hash: &TokenHash,
) -> Result<Option<AccessTokenRecord>, StoreError> {
    access_tokens::Entity::find()
        .filter(Column::TokenHash.eq(hash.as_bytes().to_vec()))
        .one(store.connection())
        .await
        .map_err(db_err)?
        .map(convert::access_token)
        .transpose()
}

pub(crate) async fn get(
    store: &SeaStore,
    id: Uuid,
) -> Result<Option<AccessTokenRecord>, StoreError> {
    access_tokens::Entity::find_by_id(id)
        .one(store.connection())
        .await
        .map_err(db_err)?
        .map(convert::access_token)
        .transpose()
}

fn selected(selector: &RevocationSelector) -> Condition {
    match selector {
        RevocationSelector::Token(id) => Condition::all().add(Column::Id.eq(*id)),
        RevocationSelector::UserGrants {
            user_id,
            consumer_key,
        } => Condition::all()
            .add(Column::UserId.eq(user_id.as_str()))
            .add(Column::ConsumerKey.eq(consumer_key.as_str())),
        RevocationSelector::Consumer(key) => {
            Condition::all().add(Column::ConsumerKey.eq(key.as_str()))
        }
    }
}

pub(crate) async fn revoke(
    store: &SeaStore,
    selector: &RevocationSelector,
    now: DateTime<Utc>,
    audit: &AuditEvent,
) -> Result<u64, StoreError> {
    let txn = store.begin_write().await?;
    let revoked = access_tokens::Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::value(millis(now)))
        .filter(selected(selector))
        .filter(Column::RevokedAt.is_null())
        .filter(Column::ExpiresAt.gt(millis(now)))
        .exec(&txn)
        .await
        .map_err(db_err)?
        .rows_affected;
    if revoked == 0 {
        txn.rollback().await.map_err(db_err)?;
        return Ok(0);
    }
    audit::write(&txn, audit).await?;
    txn.commit().await.map_err(db_err)?;
    Ok(revoked)
}

/// One row of the grants query.
#[derive(Debug, FromQueryResult)]
struct GrantRow {
    id: Uuid,
    consumer_key: String,
    consumer_name: String,
    created_at: i64,
    expires_at: i64,
}

pub(crate) async fn list_live_grants(
    store: &SeaStore,
    user_id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<GrantRecord>, StoreError> {
    let rows = access_tokens::Entity::find()
        .select_only()
        .column(Column::Id)
        .column(Column::ConsumerKey)
        .column_as(consumers::Column::Name, "consumer_name")
        .column(Column::CreatedAt)
        .column(Column::ExpiresAt)
        .inner_join(consumers::Entity)
        .filter(Column::UserId.eq(user_id))
        .filter(Column::RevokedAt.is_null())
        .filter(Column::ExpiresAt.gt(millis(now)))
        .order_by_desc(Column::CreatedAt)
        .order_by_desc(Column::Id)
        .into_model::<GrantRow>()
        .all(store.connection())
        .await
        .map_err(db_err)?;
    rows.into_iter()
        .map(|row| {
            Ok(GrantRecord {
                token_id: row.id,
                issued_at: convert::instant("access_tokens.created_at", row.created_at)?,
                expires_at: convert::instant("access_tokens.expires_at", row.expires_at)?,
                consumer_key: row.consumer_key,
                consumer_name: row.consumer_name,
            })
        })
        .collect()
}
