//! Consumers: registration, lookup, paging, replacement and deletion with everything
//! that belongs to them.

use super::rows;
use crate::audit;
use crate::changes;
use crate::connect::SeaStore;
use crate::entities::{access_tokens, consumers, nonces, request_tokens};
use crate::error::{conflict_or_db_err, db_err};
use async_trait::async_trait;
use chrono::Duration;
use latchkey_core::change_feed::StoreChange;
use latchkey_core::error::StoreError;
use latchkey_core::oauth1::records::ConsumerRecord;
use latchkey_core::oauth1::store::ConsumerStore;
use latchkey_core::records::AuditEvent;
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect,
};

#[async_trait]
impl ConsumerStore for SeaStore {
    async fn insert_consumer(
        &self,
        consumer: &ConsumerRecord,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let txn = self.begin_write().await?;
        let row = rows::consumer_row(consumer).into_active_model();
        consumers::Entity::insert(row)
            .exec_without_returning(&txn)
            .await
            .map_err(|err| conflict_or_db_err(err, "a consumer with this key already exists"))?;
        audit::write(&txn, audit).await?;
        txn.commit().await.map_err(db_err)
    }

    async fn get_consumer(&self, key: &str) -> Result<Option<ConsumerRecord>, StoreError> {
        consumers::Entity::find_by_id(key.to_owned())
            .one(self.connection())
            .await
            .map_err(db_err)?
            .map(rows::consumer)
            .transpose()
    }

    async fn list_consumers(
        &self,
        after_key: Option<&str>,
        limit: u64,
    ) -> Result<Vec<ConsumerRecord>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut query = consumers::Entity::find().order_by_asc(consumers::Column::Key);
        if let Some(after) = after_key {
            query = query.filter(consumers::Column::Key.gt(after));
        }
        // Postgres binds LIMIT as a signed BIGINT.
        let limit = limit.min(i64::MAX as u64);
        query
            .limit(limit)
            .all(self.connection())
            .await
            .map_err(db_err)?
            .into_iter()
            .map(rows::consumer)
            .collect()
    }

    async fn update_consumer(
        &self,
        consumer: &ConsumerRecord,
        shorten_issued_to: Option<Duration>,
        audit: &AuditEvent,
    ) -> Result<Option<u64>, StoreError> {
        let txn = self.begin_write().await?;
        let mut changes = rows::consumer_row(consumer).into_active_model().reset_all();
        changes.key = NotSet;
        let updated = consumers::Entity::update_many()
            .set(changes)
            .filter(consumers::Column::Key.eq(consumer.key.as_str()))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        if updated.rows_affected == 0 {
            txn.rollback().await.map_err(db_err)?;
            return Ok(None);
        }
        let shortened = match shorten_issued_to {
            Some(ttl) => super::access_tokens::shorten(&txn, &consumer.key, ttl).await?,
            None => 0,
        };
        changes::publish(&txn, &StoreChange::Consumer(consumer.key.clone())).await?;
        audit::write(&txn, audit).await?;
        txn.commit().await.map_err(db_err)?;
        Ok(Some(shortened))
    }

    async fn delete_consumer(
        &self,
        key: &str,
        audit: &AuditEvent,
    ) -> Result<Option<u64>, StoreError> {
        let txn = self.begin_write().await?;
        // Lock the consumer row first (FOR UPDATE on Postgres; SQLite already holds the
        // write lock): no token can be issued to it while it goes, so the count is exact.
        let found = consumers::Entity::find_by_id(key.to_owned())
            .lock_exclusive()
            .one(&txn)
            .await
            .map_err(db_err)?;
        if found.is_none() {
            txn.rollback().await.map_err(db_err)?;
            return Ok(None);
        }
        // Children first, explicitly: the cascade is a second line of defence, not the
        // mechanism, since a SQLite connection could have foreign keys off.
        nonces::Entity::delete_many()
            .filter(nonces::Column::ConsumerKey.eq(key))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        let tokens = access_tokens::Entity::delete_many()
            .filter(access_tokens::Column::ConsumerKey.eq(key))
            .exec(&txn)
            .await
            .map_err(db_err)?
            .rows_affected;
        request_tokens::Entity::delete_many()
            .filter(request_tokens::Column::ConsumerKey.eq(key))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        consumers::Entity::delete_by_id(key.to_owned())
            .exec(&txn)
            .await
            .map_err(db_err)?;
        changes::publish(&txn, &StoreChange::Consumer(key.to_owned())).await?;
        audit::write(&txn, audit).await?;
        txn.commit().await.map_err(db_err)?;
        Ok(Some(tokens))
    }
}
