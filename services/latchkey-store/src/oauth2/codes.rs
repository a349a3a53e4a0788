//! Authorization codes: issue, look up, redeem once, sweep.
//!
//! Redemption is the OAuth 1.0a request-token exchange again: one conditional
//! `UPDATE ... WHERE id = ? AND redeemed_at IS NULL AND expires_at > now`, first in its
//! transaction, whose affected-row count names the one winner; the grant and its first
//! tokens are inserted in the same transaction.

use super::clients::split_scopes;
use super::tokens as oauth2_tokens;
use crate::audit;
use crate::batch::delete_batch;
use crate::connect::SeaStore;
use crate::convert::{corrupt, hash, instant, millis, optional_instant};
use crate::entities::{oauth2_codes, oauth2_grants};
use crate::error::{conflict_or_db_err, db_err};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use latchkey_core::error::StoreError;
use latchkey_core::oauth2::pkce::PkceMethod;
use latchkey_core::oauth2::records::{
    AuthorizationCodeRecord, OAuth2GrantRecord, OAuth2TokenRecord,
};
use latchkey_core::oauth2::store::AuthorizationCodeStore;
use latchkey_core::records::AuditEvent;
use latchkey_core::secret::TokenHash;
use sea_orm::Condition;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter};
use uuid::Uuid;

use oauth2_codes::Column;

fn record(row: oauth2_codes::Model) -> Result<AuthorizationCodeRecord, StoreError> {
    let pkce = match (row.code_challenge, row.code_challenge_method) {
        (Some(challenge), Some(method)) => Some((
            challenge,
            PkceMethod::parse(&method)
                .ok_or_else(|| corrupt("oauth2_codes.code_challenge_method", "unknown"))?,
        )),
        (None, None) => None,
        _ => return Err(corrupt("oauth2_codes.code_challenge", "half a PKCE pair")),
    };
    Ok(AuthorizationCodeRecord {
        id: row.id,
        code_hash: hash("oauth2_codes.code_hash", &row.code_hash)?,
        scopes: split_scopes(&row.scopes),
        pkce,
        created_at: instant("oauth2_codes.created_at", row.created_at)?,
        expires_at: instant("oauth2_codes.expires_at", row.expires_at)?,
        redeemed_at: optional_instant("oauth2_codes.redeemed_at", row.redeemed_at)?,
        grant_id: row.grant_id,
        client_id: row.client_id,
        user_id: row.user_id,
        redirect_uri: row.redirect_uri,
    })
}

fn row(code: &AuthorizationCodeRecord) -> oauth2_codes::Model {
    oauth2_codes::Model {
        id: code.id,
        code_hash: code.code_hash.as_bytes().to_vec(),
        client_id: code.client_id.clone(),
        user_id: code.user_id.clone(),
        redirect_uri: code.redirect_uri.clone(),
        scopes: code.scopes.join(" "),
        code_challenge: code.pkce.as_ref().map(|(c, _)| c.clone()),
        code_challenge_method: code.pkce.as_ref().map(|(_, m)| m.as_str().to_owned()),
        created_at: millis(code.created_at),
        expires_at: millis(code.expires_at),
        redeemed_at: code.redeemed_at.map(millis),
        grant_id: code.grant_id,
    }
}

pub(crate) fn grant_row(grant: &OAuth2GrantRecord) -> oauth2_grants::Model {
    oauth2_grants::Model {
        id: grant.id,
        client_id: grant.client_id.clone(),
        user_id: grant.user_id.clone(),
        scopes: grant.scopes.join(" "),
        code_id: grant.code_id,
        created_at: millis(grant.created_at),
        expires_at: millis(grant.expires_at),
        refreshed_at: millis(grant.refreshed_at),
        revoked_at: grant.revoked_at.map(millis),
    }
}

#[async_trait]
impl AuthorizationCodeStore for SeaStore {
    async fn insert_authorization_code(
        &self,
        code: &AuthorizationCodeRecord,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let txn = self.begin_write().await?;
        oauth2_codes::Entity::insert(row(code).into_active_model())
            .exec_without_returning(&txn)
            .await
            .map_err(|err| conflict_or_db_err(err, "a code with this id or hash exists"))?;
        audit::write(&txn, audit).await?;
        txn.commit().await.map_err(db_err)
    }

    async fn find_authorization_code(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<AuthorizationCodeRecord>, StoreError> {
        oauth2_codes::Entity::find()
            .filter(Column::CodeHash.eq(hash.as_bytes().to_vec()))
            .one(self.connection())
            .await
            .map_err(db_err)?
            .map(record)
            .transpose()
    }

    async fn redeem_authorization_code(
        &self,
        code_id: Uuid,
        now: DateTime<Utc>,
        grant: &OAuth2GrantRecord,
        tokens: &[OAuth2TokenRecord],
        audit: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let txn = self.begin_write().await?;
        let changed = oauth2_codes::Entity::update_many()
            .col_expr(Column::RedeemedAt, Expr::value(millis(now)))
            .col_expr(Column::GrantId, Expr::value(grant.id))
            .filter(Column::Id.eq(code_id))
            .filter(Column::RedeemedAt.is_null())
            .filter(Column::ExpiresAt.gt(millis(now)))
            .exec(&txn)
            .await
            .map_err(db_err)?
            .rows_affected;
        if changed == 0 {
            txn.rollback().await.map_err(db_err)?;
            return Ok(false);
        }
        oauth2_grants::Entity::insert(grant_row(grant).into_active_model())
            .exec_without_returning(&txn)
            .await
            .map_err(db_err)?;
        oauth2_tokens::insert_all(&txn, tokens).await?;
        audit::write(&txn, audit).await?;
        txn.commit().await.map_err(db_err)?;
        Ok(true)
    }

    /// Deletes up to `limit` codes expired by `by`, redeemed or not.
    async fn delete_authorization_codes_expired_by(
        &self,
        by: DateTime<Utc>,
        limit: u64,
    ) -> Result<u64, StoreError> {
        let expired = Condition::all().add(Column::ExpiresAt.lte(millis(by)));
        delete_batch::<oauth2_codes::Entity>(self, Column::Id, expired, limit).await
    }
}
