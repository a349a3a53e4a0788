//! The `oauth2_tokens` table.

use sea_orm::entity::prelude::*;

/// One access or refresh token.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth2_tokens")]
pub struct Model {
    /// Internal id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// SHA-256 of the token.
    pub token_hash: Vec<u8>,
    /// `access` or `refresh`.
    pub kind: String,
    /// Its grant.
    pub grant_id: Uuid,
    /// The client.
    pub client_id: String,
    /// The user.
    pub user_id: String,
    /// Space-separated scopes.
    pub scopes: String,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    /// Milliseconds since the epoch.
    pub expires_at: i64,
    /// Milliseconds since the epoch.
    pub revoked_at: Option<i64>,
    /// Milliseconds since the epoch.
    pub rotated_at: Option<i64>,
}

/// No relations are navigated.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
