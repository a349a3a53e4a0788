//! The `oauth2_codes` table.

use sea_orm::entity::prelude::*;

/// One authorization code.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth2_codes")]
pub struct Model {
    /// Internal id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// SHA-256 of the code.
    pub code_hash: Vec<u8>,
    /// The client.
    pub client_id: String,
    /// The approving user.
    pub user_id: String,
    /// As the authorization request carried it.
    pub redirect_uri: String,
    /// Space-separated scopes.
    pub scopes: String,
    /// PKCE challenge.
    pub code_challenge: Option<String>,
    /// `S256` or `plain`.
    pub code_challenge_method: Option<String>,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    /// Milliseconds since the epoch.
    pub expires_at: i64,
    /// Milliseconds since the epoch.
    pub redeemed_at: Option<i64>,
    /// The grant its redemption started.
    pub grant_id: Option<Uuid>,
}

/// No relations are navigated.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
