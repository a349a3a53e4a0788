//! Writing audit lines. Every state change calls [`write`] with the transaction that
//! makes the change, so the log and the tables commit or roll back together.

use crate::convert::millis;
use crate::entities::audit_log;
use crate::error::db_err;
use latchkey_core::error::StoreError;
use latchkey_core::records::{AuditAction, AuditEvent};
use sea_orm::{ActiveValue::NotSet, ConnectionTrait, EntityTrait, Set};

/// Appends `event` inside the caller's transaction.
pub(crate) async fn write<C: ConnectionTrait>(
    db: &C,
    event: &AuditEvent,
) -> Result<(), StoreError> {
    let row = audit_log::ActiveModel {
        id: NotSet,
        at: Set(millis(event.at)),
        action: Set(event.action.as_str().to_owned()),
        actor: Set(event.actor.clone()),
        consumer_key: Set(event.consumer_key.clone()),
        user_id: Set(event.user_id.clone()),
        token_id: Set(event.token_id),
        detail: Set(event.detail.clone()),
    };
    audit_log::Entity::insert(row)
        .exec_without_returning(db)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// The same event under another action and detail: for a second line that one change
/// implies (a token killed by the failure that was just recorded).
pub(crate) fn derived(event: &AuditEvent, action: AuditAction, detail: String) -> AuditEvent {
    AuditEvent {
        action,
        detail,
        ..event.clone()
    }
}
