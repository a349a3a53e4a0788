//! OAuth 2.0 clients: register, read, replace, delete with everything they hold.

use crate::audit;
use crate::changes;
use crate::connect::SeaStore;
use crate::convert::{corrupt, instant, millis};
use crate::entities::{oauth2_clients, oauth2_codes, oauth2_grants, oauth2_tokens};
use crate::error::{conflict_or_db_err, db_err};
use async_trait::async_trait;
use latchkey_core::change_feed::StoreChange;
use latchkey_core::error::StoreError;
use latchkey_core::oauth2::records::OAuth2ClientRecord;
use latchkey_core::oauth2::store::OAuth2ClientStore;
use latchkey_core::records::AuditEvent;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QuerySelect};

fn record(row: oauth2_clients::Model) -> Result<OAuth2ClientRecord, StoreError> {
    if row.redirect_uris.is_empty() {
        return Err(corrupt("oauth2_clients.redirect_uris", "empty"));
    }
    Ok(OAuth2ClientRecord {
        created_at: instant("oauth2_clients.created_at", row.created_at)?,
        updated_at: instant("oauth2_clients.updated_at", row.updated_at)?,
        redirect_uris: row.redirect_uris.split('\n').map(str::to_owned).collect(),
        scopes: split_scopes(&row.scopes),
        client_id: row.client_id,
        name: row.name,
        secret_hash: row.secret_hash,
        access_token_ttl_seconds: row.access_token_ttl_seconds,
        refresh_token_idle_seconds: row.refresh_token_idle_seconds,
        refresh_token_max_seconds: row.refresh_token_max_seconds,
        enabled: row.enabled,
    })
}

/// Scopes as stored: space-separated.
pub(crate) fn split_scopes(text: &str) -> Vec<String> {
    text.split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn row(client: &OAuth2ClientRecord) -> oauth2_clients::Model {
    oauth2_clients::Model {
        client_id: client.client_id.clone(),
        name: client.name.clone(),
        secret_hash: client.secret_hash.clone(),
        redirect_uris: client.redirect_uris.join("\n"),
        scopes: client.scopes.join(" "),
        access_token_ttl_seconds: client.access_token_ttl_seconds,
        refresh_token_idle_seconds: client.refresh_token_idle_seconds,
        refresh_token_max_seconds: client.refresh_token_max_seconds,
        enabled: client.enabled,
        created_at: millis(client.created_at),
        updated_at: millis(client.updated_at),
    }
}

#[async_trait]
impl OAuth2ClientStore for SeaStore {
    async fn insert_oauth2_client(
        &self,
        client: &OAuth2ClientRecord,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let txn = self.begin_write().await?;
        oauth2_clients::Entity::insert(row(client).into_active_model())
            .exec_without_returning(&txn)
            .await
            .map_err(|err| conflict_or_db_err(err, "an OAuth 2.0 client with this id exists"))?;
        audit::write(&txn, audit).await?;
        txn.commit().await.map_err(db_err)
    }

    async fn get_oauth2_client(
        &self,
        client_id: &str,
    ) -> Result<Option<OAuth2ClientRecord>, StoreError> {
        oauth2_clients::Entity::find_by_id(client_id.to_owned())
            .one(self.connection())
            .await
            .map_err(db_err)?
            .map(record)
            .transpose()
    }

    async fn update_oauth2_client(
        &self,
        client: &OAuth2ClientRecord,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError> {
        use oauth2_clients::Column;
        let row = row(client);
        let txn = self.begin_write().await?;
        let changed = oauth2_clients::Entity::update_many()
            .col_expr(Column::Name, Expr::value(row.name))
            .col_expr(Column::SecretHash, Expr::value(row.secret_hash))
            .col_expr(Column::RedirectUris, Expr::value(row.redirect_uris))
            .col_expr(Column::Scopes, Expr::value(row.scopes))
            .col_expr(
                Column::AccessTokenTtlSeconds,
                Expr::value(row.access_token_ttl_seconds),
            )
            .col_expr(
                Column::RefreshTokenIdleSeconds,
                Expr::value(row.refresh_token_idle_seconds),
            )
            .col_expr(
                Column::RefreshTokenMaxSeconds,
                Expr::value(row.refresh_token_max_seconds),
            )
            .col_expr(Column::Enabled, Expr::value(row.enabled))
            .col_expr(Column::UpdatedAt, Expr::value(row.updated_at))
            .filter(Column::ClientId.eq(row.client_id))
            .exec(&txn)
            .await
            .map_err(db_err)?
            .rows_affected;
        if changed == 0 {
            txn.rollback().await.map_err(db_err)?;
            return Ok(false);
        }
        changes::publish(&txn, &StoreChange::OAuth2Client(client.client_id.clone())).await?;
        audit::write(&txn, audit).await?;
        txn.commit().await.map_err(db_err)?;
        Ok(true)
    }

    async fn delete_oauth2_client(
        &self,
        client_id: &str,
        audit: &AuditEvent,
    ) -> Result<Option<u64>, StoreError> {
        let txn = self.begin_write().await?;
        // Lock the client first, as deleting a consumer does: nothing is issued to it
        // while it goes.
        let found = oauth2_clients::Entity::find_by_id(client_id.to_owned())
            .lock_exclusive()
            .one(&txn)
            .await
            .map_err(db_err)?;
        if found.is_none() {
            txn.rollback().await.map_err(db_err)?;
            return Ok(None);
        }
        let tokens = oauth2_tokens::Entity::delete_many()
            .filter(oauth2_tokens::Column::ClientId.eq(client_id))
            .exec(&txn)
            .await
            .map_err(db_err)?
            .rows_affected;
        oauth2_grants::Entity::delete_many()
            .filter(oauth2_grants::Column::ClientId.eq(client_id))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        oauth2_codes::Entity::delete_many()
            .filter(oauth2_codes::Column::ClientId.eq(client_id))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        oauth2_clients::Entity::delete_by_id(client_id.to_owned())
            .exec(&txn)
            .await
            .map_err(db_err)?;
        changes::publish(&txn, &StoreChange::OAuth2Client(client_id.to_owned())).await?;
        audit::write(&txn, audit).await?;
        txn.commit().await.map_err(db_err)?;
        Ok(Some(tokens))
    }
}
