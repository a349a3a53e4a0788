//! Request tokens: issue, look up, decide, count wrong verifiers, exchange.
//!
//! Every transition is one conditional `UPDATE ... WHERE id = ? AND state = ?` whose
//! affected-row count says whether this call won. On Postgres, READ COMMITTED
//! re-evaluates the `WHERE` after waiting for a concurrent writer's row lock, so the
//! loser sees 0 rows; on SQLite the writers are serialised by `BEGIN IMMEDIATE`. The
//! `UPDATE` is each transaction's first statement: nothing is read and then decided.
//! On Postgres, issuing, deciding and exchanging are each one statement with their
//! audit line (see [`super::dance_statements`]).

use super::dance_statements;
use super::rows;
use crate::audit;
use crate::batch::delete_batch;
use crate::connect::SeaStore;
use crate::convert::millis;
use crate::entities::{access_tokens, request_tokens};
use crate::error::{conflict_or_db_err, db_err};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use latchkey_core::error::StoreError;
use latchkey_core::oauth1::records::{
    AccessTokenRecord, RequestTokenDecision, RequestTokenRecord, RequestTokenState,
};
use latchkey_core::oauth1::store::RequestTokenStore;
use latchkey_core::records::{AuditAction, AuditEvent};
use latchkey_core::secret::TokenHash;
use sea_orm::Condition;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QuerySelect};
use uuid::Uuid;

use request_tokens::Column;

/// The conflict when a request token's id or hash is taken.
pub(crate) const REQUEST_TOKEN_TAKEN: &str = "a request token with this id or hash exists";
/// The conflict when an access token's id, hash or request token is taken.
pub(crate) const ACCESS_TOKEN_TAKEN: &str =
    "an access token with this id, hash or request token exists";

#[async_trait]
impl RequestTokenStore for SeaStore {
    async fn insert_request_token(
        &self,
        token: &RequestTokenRecord,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let row = rows::request_token_row(token)?;
        if self.is_postgres() {
            return dance_statements::insert_request_token(self.write_connection(), &row, audit)
                .await;
        }
        let row = row.into_active_model();
        let txn = self.begin_write().await?;
        request_tokens::Entity::insert(row)
            .exec_without_returning(&txn)
            .await
            .map_err(|err| conflict_or_db_err(err, REQUEST_TOKEN_TAKEN))?;
        audit::write(&txn, audit).await?;
        txn.commit().await.map_err(db_err)
    }

    async fn find_request_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<RequestTokenRecord>, StoreError> {
        request_tokens::Entity::find()
            .filter(Column::TokenHash.eq(hash.as_bytes().to_vec()))
            .one(self.connection())
            .await
            .map_err(db_err)?
            .map(rows::request_token)
            .transpose()
    }

    async fn decide_request_token(
        &self,
        id: Uuid,
        decision: &RequestTokenDecision,
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError> {
        if self.is_postgres() {
            let (state, user_id, verifier_hash) = match decision {
                RequestTokenDecision::Approve {
                    user_id,
                    verifier_hash,
                } => (
                    RequestTokenState::Approved,
                    user_id,
                    Some(verifier_hash.as_bytes().to_vec()),
                ),
                RequestTokenDecision::Deny { user_id } => {
                    (RequestTokenState::Denied, user_id, None)
                }
            };
            return dance_statements::decide_request_token(
                self.write_connection(),
                id,
                state,
                user_id,
                verifier_hash,
                millis(now),
                audit,
            )
            .await;
        }
        let mut update = request_tokens::Entity::update_many()
            .col_expr(Column::DecidedAt, Expr::value(millis(now)));
        update = match decision {
            RequestTokenDecision::Approve {
                user_id,
                verifier_hash,
            } => update
                .col_expr(
                    Column::State,
                    Expr::value(RequestTokenState::Approved.as_str()),
                )
                .col_expr(Column::UserId, Expr::value(user_id.as_str()))
                .col_expr(
                    Column::VerifierHash,
                    Expr::value(verifier_hash.as_bytes().to_vec()),
                ),
            RequestTokenDecision::Deny { user_id } => update
                .col_expr(
                    Column::State,
                    Expr::value(RequestTokenState::Denied.as_str()),
                )
                .col_expr(Column::UserId, Expr::value(user_id.as_str())),
        };
        let txn = self.begin_write().await?;
        let changed = update
            .filter(Column::Id.eq(id))
            .filter(Column::State.eq(RequestTokenState::Pending.as_str()))
            .filter(Column::ExpiresAt.gt(millis(now)))
            .exec(&txn)
            .await
            .map_err(db_err)?
            .rows_affected;
        if changed == 0 {
            txn.rollback().await.map_err(db_err)?;
            return Ok(false);
        }
        audit::write(&txn, audit).await?;
        txn.commit().await.map_err(db_err)?;
        Ok(true)
    }

    async fn record_verifier_failure(
        &self,
        id: Uuid,
        max_failures: u32,
        audit: &AuditEvent,
    ) -> Result<u32, StoreError> {
        let approved = RequestTokenState::Approved.as_str();
        let txn = self.begin_write().await?;
        let changed = request_tokens::Entity::update_many()
            .col_expr(
                Column::VerifierFailures,
                Expr::col(Column::VerifierFailures).add(1),
            )
            .filter(Column::Id.eq(id))
            .filter(Column::State.eq(approved))
            .exec(&txn)
            .await
            .map_err(db_err)?
            .rows_affected;
        if changed == 0 {
            txn.rollback().await.map_err(db_err)?;
            return Ok(0);
        }
        // The row is ours until commit (row lock on Postgres, write lock on SQLite).
        let count: Option<i32> = request_tokens::Entity::find_by_id(id)
            .select_only()
            .column(Column::VerifierFailures)
            .into_tuple()
            .one(&txn)
            .await
            .map_err(db_err)?;
        let count = count
            .ok_or_else(|| {
                StoreError::Internal("request token vanished inside its transaction".to_owned())
            })
            .and_then(rows::failures)?;
        audit::write(&txn, audit).await?;
        if count >= max_failures {
            request_tokens::Entity::update_many()
                .col_expr(Column::State, Expr::value(RequestTokenState::Dead.as_str()))
                .filter(Column::Id.eq(id))
                .filter(Column::State.eq(approved))
                .exec(&txn)
                .await
                .map_err(db_err)?;
            let killed = audit::derived(
                audit,
                AuditAction::RequestTokenKilled,
                format!("killed after {count} wrong verifiers"),
            );
            audit::write(&txn, &killed).await?;
        }
        txn.commit().await.map_err(db_err)?;
        Ok(count)
    }

    async fn exchange_request_token(
        &self,
        request_token_id: Uuid,
        now: DateTime<Utc>,
        access: &AccessTokenRecord,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let access_row = rows::access_token_row(access);
        if self.is_postgres() {
            return dance_statements::exchange_request_token(
                self.write_connection(),
                request_token_id,
                millis(now),
                &access_row,
                audit,
            )
            .await;
        }
        let access_row = access_row.into_active_model();
        let txn = self.begin_write().await?;
        let changed = request_tokens::Entity::update_many()
            .col_expr(
                Column::State,
                Expr::value(RequestTokenState::Exchanged.as_str()),
            )
            .filter(Column::Id.eq(request_token_id))
            .filter(Column::State.eq(RequestTokenState::Approved.as_str()))
            .filter(Column::ExpiresAt.gt(millis(now)))
            .exec(&txn)
            .await
            .map_err(db_err)?
            .rows_affected;
        if changed == 0 {
            txn.rollback().await.map_err(db_err)?;
            return Ok(false);
        }
        access_tokens::Entity::insert(access_row)
            .exec_without_returning(&txn)
            .await
            .map_err(|err| conflict_or_db_err(err, ACCESS_TOKEN_TAKEN))?;
        audit::write(&txn, audit).await?;
        txn.commit().await.map_err(db_err)?;
        Ok(true)
    }

    /// Deletes up to `limit` request tokens expired by `by`, whatever their state; the ids
    /// come from one range of the `expires_at` index.
    async fn delete_request_tokens_expired_by(
        &self,
        by: DateTime<Utc>,
        limit: u64,
    ) -> Result<u64, StoreError> {
        let expired = Condition::all().add(Column::ExpiresAt.lte(millis(by)));
        delete_batch::<request_tokens::Entity>(self, Column::Id, expired, limit).await
    }
}
