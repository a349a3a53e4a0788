//! The `nonces` table.

use sea_orm::entity::prelude::*;

/// One used nonce.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "nonces")]
pub struct Model {
    /// The consumer that used it.
    #[sea_orm(primary_key, auto_increment = false)]
    pub consumer_key: String,
    /// The nonce.
    #[sea_orm(primary_key, auto_increment = false)]
    pub nonce: String,
    /// The request's `oauth_timestamp`.
    pub timestamp: i64,
    /// Milliseconds since the epoch.
    pub expires_at: i64,
}

/// No relations are navigated from nonces.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
