//! Access tokens: lookup, use, revocation, the list of a user's live grants, policy
//! changes applied to issued tokens, and the sweeper's batched deletes.
//!
//! "Live" is computed, never stored: not revoked and `expires_at > now`, with `now`
//! passed in by the caller so tests need no sleeping. The core narrows that further by
//! policy (maximum lifetime, idle timeout).

use super::rows;
use crate::audit;
use crate::batch::delete_batch;
use crate::changes;
use crate::connect::SeaStore;
use crate::convert;
use crate::convert::millis;
use crate::entities::{access_tokens, consumers};
use crate::error::db_err;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use latchkey_core::change_feed::StoreChange;
use latchkey_core::error::StoreError;
use latchkey_core::oauth1::records::EndedAccessTokens;
use latchkey_core::oauth1::records::TokenTimes;
use latchkey_core::oauth1::records::{
    AccessTokenRecord, ConsumerTokenRecord, GrantRecord, RevocationSelector,
};
use latchkey_core::oauth1::store::AccessTokenStore;
use latchkey_core::records::AuditEvent;
use latchkey_core::secret::TokenHash;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use access_tokens::Column;

#[async_trait]
impl AccessTokenStore for SeaStore {
    async fn find_access_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<AccessTokenRecord>, StoreError> {
        access_tokens::Entity::find()
            .filter(Column::TokenHash.eq(hash.as_bytes().to_vec()))
            .one(self.connection())
            .await
            .map_err(db_err)?
            .map(rows::access_token)
            .transpose()
    }

    async fn get_access_token(&self, id: Uuid) -> Result<Option<AccessTokenRecord>, StoreError> {
        access_tokens::Entity::find_by_id(id)
            .one(self.connection())
            .await
            .map_err(db_err)?
            .map(rows::access_token)
            .transpose()
    }

    async fn revoke_access_tokens(
        &self,
        selector: &RevocationSelector,
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<u64, StoreError> {
        let txn = self.begin_write().await?;
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
        changes::publish(&txn, &StoreChange::Tokens).await?;
        txn.commit().await.map_err(db_err)?;
        Ok(revoked)
    }

    async fn record_access_token_use(&self, id: Uuid, at: DateTime<Utc>) -> Result<(), StoreError> {
        // Conditional, so a slow caller never moves the last use backwards.
        access_tokens::Entity::update_many()
            .col_expr(Column::LastUsedAt, Expr::value(millis(at)))
            .filter(Column::Id.eq(id))
            .filter(
                Condition::any()
                    .add(Column::LastUsedAt.is_null())
                    .add(Column::LastUsedAt.lt(millis(at))),
            )
            .exec(self.write_connection())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn list_live_grants(
        &self,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<GrantRecord>, StoreError> {
        let rows = access_tokens::Entity::find()
            .select_only()
            .column(Column::Id)
            .column(Column::ConsumerKey)
            .column_as(consumers::Column::Name, "consumer_name")
            .column_as(
                consumers::Column::AccessTokenIdleSeconds,
                "consumer_idle_seconds",
            )
            .column(Column::CreatedAt)
            .column(Column::ExpiresAt)
            .column(Column::LastUsedAt)
            .inner_join(consumers::Entity)
            .filter(Column::UserId.eq(user_id))
            .filter(Column::RevokedAt.is_null())
            .filter(Column::ExpiresAt.gt(millis(now)))
            .order_by_desc(Column::CreatedAt)
            .order_by_desc(Column::Id)
            .into_model::<GrantRow>()
            .all(self.connection())
            .await
            .map_err(db_err)?;
        rows.into_iter()
            .map(|row| {
                Ok(GrantRecord {
                    token_id: row.id,
                    times: TokenTimes {
                        created_at: convert::instant("access_tokens.created_at", row.created_at)?,
                        expires_at: convert::instant("access_tokens.expires_at", row.expires_at)?,
                        last_used_at: convert::instant(
                            "access_tokens.last_used_at",
                            row.last_used_at.unwrap_or(row.created_at),
                        )?,
                    },
                    consumer_key: row.consumer_key,
                    consumer_name: row.consumer_name,
                    consumer_idle_seconds: row.consumer_idle_seconds,
                })
            })
            .collect()
    }

    async fn list_live_consumer_tokens(
        &self,
        consumer_key: &str,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<ConsumerTokenRecord>, StoreError> {
        let rows = access_tokens::Entity::find()
            .select_only()
            .column(Column::Id)
            .column(Column::UserId)
            .column(Column::CreatedAt)
            .column(Column::ExpiresAt)
            .column(Column::LastUsedAt)
            .filter(Column::ConsumerKey.eq(consumer_key))
            .filter(Column::RevokedAt.is_null())
            .filter(Column::ExpiresAt.gt(millis(now)))
            .order_by_desc(Column::CreatedAt)
            .order_by_desc(Column::Id)
            .limit(limit)
            .into_model::<ConsumerTokenRow>()
            .all(self.connection())
            .await
            .map_err(db_err)?;
        rows.into_iter()
            .map(|row| {
                Ok(ConsumerTokenRecord {
                    token_id: row.id,
                    user_id: row.user_id,
                    times: TokenTimes {
                        created_at: convert::instant("access_tokens.created_at", row.created_at)?,
                        expires_at: convert::instant("access_tokens.expires_at", row.expires_at)?,
                        last_used_at: convert::instant(
                            "access_tokens.last_used_at",
                            row.last_used_at.unwrap_or(row.created_at),
                        )?,
                    },
                })
            })
            .collect()
    }

    /// Deletes up to `limit` of the selected tokens: the ids are chosen by one indexed
    /// range in a subquery, and the delete touches only those rows.
    async fn delete_ended_access_tokens(
        &self,
        which: &EndedAccessTokens,
        limit: u64,
    ) -> Result<u64, StoreError> {
        let ended = match which {
            EndedAccessTokens::ExpiredBy(at) => {
                Condition::all().add(Column::ExpiresAt.lte(millis(*at)))
            }
            EndedAccessTokens::RevokedBy(at) => {
                Condition::all().add(Column::RevokedAt.lte(millis(*at)))
            }
            EndedAccessTokens::IssuedBy(at) => {
                Condition::all().add(Column::CreatedAt.lte(millis(*at)))
            }
            EndedAccessTokens::UnusedBy { consumer_key, at } => Condition::all()
                .add(Column::ConsumerKey.eq(consumer_key.as_str()))
                .add(Column::LastUsedAt.lte(millis(*at))),
        };
        delete_batch::<access_tokens::Entity>(self, Column::Id, ended, limit).await
    }
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

/// One row of the grants query.
#[derive(Debug, FromQueryResult)]
struct GrantRow {
    id: Uuid,
    consumer_key: String,
    consumer_name: String,
    consumer_idle_seconds: Option<i64>,
    created_at: i64,
    expires_at: i64,
    last_used_at: Option<i64>,
}

/// One row of a consumer's tokens query.
#[derive(Debug, FromQueryResult)]
struct ConsumerTokenRow {
    id: Uuid,
    user_id: String,
    created_at: i64,
    expires_at: i64,
    last_used_at: Option<i64>,
}

/// Cuts every unrevoked token of the consumer that would outlive `created_at + ttl`
/// to exactly that; runs inside the caller's transaction.
pub(crate) async fn shorten(
    txn: &impl ConnectionTrait,
    consumer_key: &str,
    ttl: chrono::Duration,
) -> Result<u64, StoreError> {
    let ttl_ms = ttl.num_milliseconds();
    let cut = Expr::col(Column::CreatedAt).add(ttl_ms);
    Ok(access_tokens::Entity::update_many()
        .col_expr(Column::ExpiresAt, cut.clone())
        .filter(Column::ConsumerKey.eq(consumer_key))
        .filter(Column::RevokedAt.is_null())
        .filter(Expr::col(Column::ExpiresAt).gt(cut))
        .exec(txn)
        .await
        .map_err(db_err)?
        .rows_affected)
}
