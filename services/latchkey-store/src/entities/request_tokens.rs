//! The `request_tokens` table.

use sea_orm::entity::prelude::*;

/// One request token.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "request_tokens")]
pub struct Model {
    /// Internal id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// SHA-256 of the token value.
    pub token_hash: Vec<u8>,
    /// The consumer it was issued to.
    pub consumer_key: String,
    /// Sealed token secret.
    pub secret: Vec<u8>,
    /// `oauth_callback`.
    pub callback: String,
    /// `pending`, `approved`, `denied`, `exchanged` or `dead`.
    pub state: String,
    /// Who decided.
    pub user_id: Option<String>,
    /// SHA-256 of the verifier.
    pub verifier_hash: Option<Vec<u8>>,
    /// Wrong verifiers so far.
    pub verifier_failures: i32,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    /// Milliseconds since the epoch.
    pub expires_at: i64,
    /// Milliseconds since the epoch.
    pub decided_at: Option<i64>,
}

/// No relations are navigated from request tokens.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
