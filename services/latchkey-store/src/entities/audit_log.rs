//! The `audit_log` table.

use sea_orm::entity::prelude::*;

/// One audit line.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    /// Assigned by the database, in insertion order.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Milliseconds since the epoch.
    pub at: i64,
    /// The action's stored spelling.
    pub action: String,
    /// Who acted.
    pub actor: String,
    /// The consumer concerned; no foreign key, the log outlives consumers.
    pub consumer_key: Option<String>,
    /// The user concerned.
    pub user_id: Option<String>,
    /// The token concerned.
    pub token_id: Option<Uuid>,
    /// Free text, never a secret.
    pub detail: String,
}

/// The log points at nothing it must keep alive.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
