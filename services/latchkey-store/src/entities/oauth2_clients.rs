//! The `oauth2_clients` table.

use sea_orm::entity::prelude::*;

/// One OAuth 2.0 client.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth2_clients")]
pub struct Model {
    /// `client_id`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub client_id: String,
    /// Display name.
    pub name: String,
    /// argon2 PHC hash of the secret; `NULL` for a public client.
    pub secret_hash: Option<String>,
    /// Newline-separated redirect URIs.
    pub redirect_uris: String,
    /// Space-separated scopes.
    pub scopes: String,
    /// Seconds.
    pub access_token_ttl_seconds: Option<i64>,
    /// Seconds.
    pub refresh_token_idle_seconds: Option<i64>,
    /// Seconds.
    pub refresh_token_max_seconds: Option<i64>,
    /// Whether it may authenticate.
    pub enabled: bool,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    /// Milliseconds since the epoch.
    pub updated_at: i64,
}

/// No relations are navigated.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
