//! OAuth 2.0 grants and tokens: rotation, family revocation, a user's grants, sweeps.
//!
//! Rotation and family revocation are ordered by the grant row: rotation's first
//! statement is a conditional `UPDATE` of the grant (`revoked_at IS NULL`), and
//! revocation's first statement sets the grant's `revoked_at`. Whichever comes second
//! waits for the first's row lock (Postgres) or write lock (SQLite). So a revocation
//! that commits first makes the rotation fail, and a rotation that commits first has
//! its new tokens in place before the revocation's token `UPDATE` runs: no new token
//! can escape a family revocation.

use super::clients::split_scopes;
use crate::audit;
use crate::batch::delete_batch;
use crate::changes;
use crate::connect::SeaStore;
use crate::convert::{corrupt, hash, instant, millis, optional_instant};
use crate::entities::{oauth2_clients, oauth2_grants, oauth2_tokens};
use crate::error::db_err;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use latchkey_core::change_feed::StoreChange;
use latchkey_core::error::StoreError;
use latchkey_core::oauth2::records::{
    OAuth2GrantListing, OAuth2GrantRecord, OAuth2TokenKind, OAuth2TokenRecord,
};
use latchkey_core::oauth2::store::OAuth2TokenStore;
use latchkey_core::records::AuditEvent;
use latchkey_core::secret::TokenHash;
use sea_orm::Condition;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, sea_query::IntoCondition,
};
use std::collections::HashMap;
use uuid::Uuid;

fn record(row: oauth2_tokens::Model) -> Result<OAuth2TokenRecord, StoreError> {
    Ok(OAuth2TokenRecord {
        id: row.id,
        token_hash: hash("oauth2_tokens.token_hash", &row.token_hash)?,
        kind: OAuth2TokenKind::parse(&row.kind)
            .ok_or_else(|| corrupt("oauth2_tokens.kind", "unknown kind"))?,
        grant_id: row.grant_id,
        scopes: split_scopes(&row.scopes),
        created_at: instant("oauth2_tokens.created_at", row.created_at)?,
        expires_at: instant("oauth2_tokens.expires_at", row.expires_at)?,
        revoked_at: optional_instant("oauth2_tokens.revoked_at", row.revoked_at)?,
        rotated_at: optional_instant("oauth2_tokens.rotated_at", row.rotated_at)?,
        client_id: row.client_id,
        user_id: row.user_id,
    })
}

fn row(token: &OAuth2TokenRecord) -> oauth2_tokens::Model {
    oauth2_tokens::Model {
        id: token.id,
        token_hash: token.token_hash.as_bytes().to_vec(),
        kind: token.kind.as_str().to_owned(),
        grant_id: token.grant_id,
        client_id: token.client_id.clone(),
        user_id: token.user_id.clone(),
        scopes: token.scopes.join(" "),
        created_at: millis(token.created_at),
        expires_at: millis(token.expires_at),
        revoked_at: token.revoked_at.map(millis),
        rotated_at: token.rotated_at.map(millis),
    }
}

fn grant(row: oauth2_grants::Model) -> Result<OAuth2GrantRecord, StoreError> {
    Ok(OAuth2GrantRecord {
        id: row.id,
        scopes: split_scopes(&row.scopes),
        code_id: row.code_id,
        created_at: instant("oauth2_grants.created_at", row.created_at)?,
        expires_at: instant("oauth2_grants.expires_at", row.expires_at)?,
        refreshed_at: instant("oauth2_grants.refreshed_at", row.refreshed_at)?,
        revoked_at: optional_instant("oauth2_grants.revoked_at", row.revoked_at)?,
        client_id: row.client_id,
        user_id: row.user_id,
    })
}

/// Inserts tokens inside the caller's transaction.
pub(crate) async fn insert_all<C: ConnectionTrait>(
    txn: &C,
    tokens: &[OAuth2TokenRecord],
) -> Result<(), StoreError> {
    if tokens.is_empty() {
        return Ok(());
    }
    oauth2_tokens::Entity::insert_many(tokens.iter().map(|t| row(t).into_active_model()))
        .exec_without_returning(txn)
        .await
        .map_err(db_err)?;
    Ok(())
}

#[async_trait]
impl OAuth2TokenStore for SeaStore {
    async fn find_oauth2_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<OAuth2TokenRecord>, StoreError> {
        oauth2_tokens::Entity::find()
            .filter(oauth2_tokens::Column::TokenHash.eq(hash.as_bytes().to_vec()))
            .one(self.connection())
            .await
            .map_err(db_err)?
            .map(record)
            .transpose()
    }

    async fn get_oauth2_grant(&self, id: Uuid) -> Result<Option<OAuth2GrantRecord>, StoreError> {
        oauth2_grants::Entity::find_by_id(id)
            .one(self.connection())
            .await
            .map_err(db_err)?
            .map(grant)
            .transpose()
    }

    async fn rotate_refresh_token(
        &self,
        refresh_token_id: Uuid,
        grant_id: Uuid,
        now: DateTime<Utc>,
        tokens: &[OAuth2TokenRecord],
        audit: &AuditEvent,
    ) -> Result<bool, StoreError> {
        use oauth2_tokens::Column;
        let txn = self.begin_write().await?;
        let grant_live = oauth2_grants::Entity::update_many()
            .col_expr(oauth2_grants::Column::RefreshedAt, Expr::value(millis(now)))
            .filter(oauth2_grants::Column::Id.eq(grant_id))
            .filter(oauth2_grants::Column::RevokedAt.is_null())
            .exec(&txn)
            .await
            .map_err(db_err)?
            .rows_affected;
        let rotated = if grant_live == 0 {
            0
        } else {
            oauth2_tokens::Entity::update_many()
                .col_expr(Column::RotatedAt, Expr::value(millis(now)))
                .filter(Column::Id.eq(refresh_token_id))
                .filter(Column::GrantId.eq(grant_id))
                .filter(Column::RotatedAt.is_null())
                .filter(Column::RevokedAt.is_null())
                .filter(Column::ExpiresAt.gt(millis(now)))
                .exec(&txn)
                .await
                .map_err(db_err)?
                .rows_affected
        };
        if rotated == 0 {
            txn.rollback().await.map_err(db_err)?;
            return Ok(false);
        }
        insert_all(&txn, tokens).await?;
        audit::write(&txn, audit).await?;
        txn.commit().await.map_err(db_err)?;
        Ok(true)
    }

    async fn revoke_oauth2_grant(
        &self,
        grant_id: Uuid,
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<u64, StoreError> {
        use oauth2_tokens::Column;
        let txn = self.begin_write().await?;
        let grant_changed = oauth2_grants::Entity::update_many()
            .col_expr(oauth2_grants::Column::RevokedAt, Expr::value(millis(now)))
            .filter(oauth2_grants::Column::Id.eq(grant_id))
            .filter(oauth2_grants::Column::RevokedAt.is_null())
            .exec(&txn)
            .await
            .map_err(db_err)?
            .rows_affected;
        let tokens = revoke_live(&txn, Column::GrantId.eq(grant_id), now).await?;
        if grant_changed > 0 {
            audit::write(&txn, audit).await?;
        }
        txn.commit().await.map_err(db_err)?;
        Ok(tokens)
    }

    async fn revoke_oauth2_token(
        &self,
        token_id: Uuid,
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<u64, StoreError> {
        use oauth2_tokens::Column;
        let txn = self.begin_write().await?;
        let changed = revoke_live(&txn, Column::Id.eq(token_id), now).await?;
        if changed > 0 {
            audit::write(&txn, audit).await?;
        }
        txn.commit().await.map_err(db_err)?;
        Ok(changed)
    }

    async fn list_live_oauth2_grants(
        &self,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<OAuth2GrantListing>, StoreError> {
        use oauth2_grants::Column;
        let grants = oauth2_grants::Entity::find()
            .filter(Column::UserId.eq(user_id))
            .filter(Column::RevokedAt.is_null())
            .filter(Column::ExpiresAt.gt(millis(now)))
            .order_by_desc(Column::CreatedAt)
            .all(self.connection())
            .await
            .map_err(db_err)?;
        let client_ids: Vec<String> = grants.iter().map(|g| g.client_id.clone()).collect();
        let names: HashMap<String, String> = oauth2_clients::Entity::find()
            .filter(oauth2_clients::Column::ClientId.is_in(client_ids))
            .all(self.connection())
            .await
            .map_err(db_err)?
            .into_iter()
            .map(|c| (c.client_id, c.name))
            .collect();
        grants
            .into_iter()
            .map(|row| {
                let client_name = names.get(&row.client_id).cloned().unwrap_or_default();
                Ok(OAuth2GrantListing {
                    grant: grant(row)?,
                    client_name,
                })
            })
            .collect()
    }

    /// Deletes up to `limit` tokens expired, then revoked, at or before `by`; each batch
    /// takes its ids from one index range.
    async fn delete_ended_oauth2_tokens(
        &self,
        by: DateTime<Utc>,
        limit: u64,
    ) -> Result<u64, StoreError> {
        use oauth2_tokens::Column;
        let mut removed = 0;
        for column in [Column::ExpiresAt, Column::RevokedAt] {
            if removed >= limit {
                break;
            }
            let ended = Condition::all().add(column.lte(millis(by)));
            removed +=
                delete_batch::<oauth2_tokens::Entity>(self, Column::Id, ended, limit - removed)
                    .await?;
        }
        Ok(removed)
    }

    /// Deletes up to `limit` grants past their absolute end, then revoked, at or before
    /// `by`.
    async fn delete_ended_oauth2_grants(
        &self,
        by: DateTime<Utc>,
        limit: u64,
    ) -> Result<u64, StoreError> {
        use oauth2_grants::Column;
        let mut removed = 0;
        for column in [Column::ExpiresAt, Column::RevokedAt] {
            if removed >= limit {
                break;
            }
            let ended = Condition::all().add(column.lte(millis(by)));
            removed +=
                delete_batch::<oauth2_grants::Entity>(self, Column::Id, ended, limit - removed)
                    .await?;
        }
        Ok(removed)
    }
}

/// Marks the unrevoked tokens `which` selects revoked at `now`, and announces it to
/// every replica's token cache; returns how many.
async fn revoke_live(
    txn: &DatabaseTransaction,
    which: impl IntoCondition,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    use oauth2_tokens::Column;
    let revoked = oauth2_tokens::Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::value(millis(now)))
        .filter(which)
        .filter(Column::RevokedAt.is_null())
        .exec(txn)
        .await
        .map_err(db_err)?
        .rows_affected;
    if revoked > 0 {
        changes::publish(txn, &StoreChange::Tokens).await?;
    }
    Ok(revoked)
}
