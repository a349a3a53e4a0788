//! The sweeper's one delete statement: `DELETE ... WHERE id IN (SELECT id ... WHERE
//! <condition> LIMIT n)`. The subquery walks one indexed range and stops after `n`
//! rows, so each batch is a short statement that locks only the rows it deletes.

use crate::connect::SeaStore;
use crate::error::db_err;
use latchkey_core::error::StoreError;
use sea_orm::sea_query::{Condition, Query};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

/// Deletes up to `limit` rows of `E` that meet `condition`, chosen by their `id`
/// column; returns how many went.
pub(crate) async fn delete_batch<E>(
    store: &SeaStore,
    id: E::Column,
    condition: Condition,
    limit: u64,
) -> Result<u64, StoreError>
where
    E: EntityTrait + Default,
{
    let ids = Query::select()
        .column(id)
        .from(E::default())
        .cond_where(condition)
        .limit(limit)
        .to_owned();
    Ok(E::delete_many()
        .filter(id.in_subquery(ids))
        .exec(store.write_connection())
        .await
        .map_err(db_err)?
        .rows_affected)
}
