//! The `consumers` table.

use sea_orm::entity::prelude::*;

/// One registered consumer.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "consumers")]
pub struct Model {
    /// `oauth_consumer_key`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// Display name.
    pub name: String,
    /// Display description.
    pub description: String,
    /// Prefix every callback must lie under, if any.
    pub callback_url: Option<String>,
    /// RSA public key as SubjectPublicKeyInfo PEM.
    pub public_key_pem: Option<String>,
    /// Sealed shared secret.
    pub shared_secret: Option<Vec<u8>>,
    /// Comma-separated signature method spellings.
    pub signature_methods: String,
    /// Access token lifetime in seconds, if not the server default.
    pub access_token_ttl_seconds: Option<i64>,
    /// Access token idle timeout in seconds, if not the server setting.
    pub access_token_idle_seconds: Option<i64>,
    /// Whether it may make 2-legged requests.
    pub two_legged_allowed: bool,
    /// The user its 2-legged requests act as, if any.
    pub two_legged_execute_as: Option<String>,
    /// Whether its 2-legged requests may name a user in `xoauth_requestor_id`.
    pub two_legged_impersonation: bool,
    /// Whether requests are accepted.
    pub enabled: bool,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    /// Milliseconds since the epoch.
    pub updated_at: i64,
}

/// Tables that point at consumers.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// A consumer's access tokens.
    #[sea_orm(has_many = "super::access_tokens::Entity")]
    AccessTokens,
}

impl Related<super::access_tokens::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::AccessTokens.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
