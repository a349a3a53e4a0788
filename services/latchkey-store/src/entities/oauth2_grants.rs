//! The `oauth2_grants` table.

use sea_orm::entity::prelude::*;

/// One grant: the family of tokens one code started.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth2_grants")]
pub struct Model {
    /// Internal id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The client.
    pub client_id: String,
    /// The user.
    pub user_id: String,
    /// Space-separated scopes.
    pub scopes: String,
    /// The code it came from.
    pub code_id: Uuid,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    /// Milliseconds since the epoch.
    pub expires_at: i64,
    /// Milliseconds since the epoch.
    pub refreshed_at: i64,
    /// Milliseconds since the epoch.
    pub revoked_at: Option<i64>,
}

/// No relations are navigated.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
