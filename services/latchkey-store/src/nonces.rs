//! Nonces: the replay check. One `INSERT ... ON CONFLICT DO NOTHING` decides, so of
//! any number of concurrent uses of one nonce, on any number of replicas, exactly one
//! sees `true`.

use crate::connect::SeaStore;
use crate::convert::millis;
use crate::entities::nonces;
use crate::error::{db_err, is_unique_violation};
use latchkey_core::records::NonceRecord;
use latchkey_core::store::StoreError;
use sea_orm::sea_query::OnConflict;
use sea_orm::{DbErr, EntityTrait, Set};

pub(crate) async fn use_nonce(store: &SeaStore, nonce: &NonceRecord) -> Result<bool, StoreError> {
    let row = nonces::ActiveModel {
        consumer_key: Set(nonce.consumer_key.clone()),
        nonce: Set(nonce.nonce.clone()),
        timestamp: Set(nonce.timestamp),
        expires_at: Set(millis(nonce.expires_at)),
    };
    let inserted = nonces::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([nonces::Column::ConsumerKey, nonces::Column::Nonce])
                .do_nothing()
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
