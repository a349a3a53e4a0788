//! The `access_tokens` table.

use sea_orm::entity::prelude::*;

/// One access token.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "access_tokens")]
pub struct Model {
    /// Internal id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// SHA-256 of the token value.
    pub token_hash: Vec<u8>,
    /// The consumer it was issued to.
    pub consumer_key: String,
    /// The user who granted it.
    pub user_id: String,
    /// Sealed token secret.
    pub secret: Vec<u8>,
    /// The request token it came from; unique.
    pub request_token_id: Uuid,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    /// Milliseconds since the epoch.
    pub expires_at: i64,
    /// Milliseconds since the epoch.
    pub revoked_at: Option<i64>,
    /// Milliseconds since the epoch; `created_at` until first recorded use. Never
    /// `NULL` in practice (the migration that added it filled it in).
    pub last_used_at: Option<i64>,
}

/// Access tokens belong to a consumer.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The consumer it was issued to.
    #[sea_orm(
        belongs_to = "super::consumers::Entity",
        from = "Column::ConsumerKey",
        to = "super::consumers::Column::Key",
        on_delete = "Cascade"
    )]
    Consumer,
}

impl Related<super::consumers::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Consumer.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
