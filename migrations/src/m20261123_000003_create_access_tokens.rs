//! Creates `access_tokens`: token credentials, keyed by the SHA-256 of the token.
//!
//! `request_token_id` is unique: whatever the races, one request token can never
//! yield two access tokens. It has no foreign key because request tokens are swept
//! long before the access tokens made from them expire.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AccessTokens::Table)
                    .col(
                        ColumnDef::new(AccessTokens::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AccessTokens::TokenHash).blob().not_null())
                    .col(ColumnDef::new(AccessTokens::ConsumerKey).text().not_null())
                    .col(ColumnDef::new(AccessTokens::UserId).text().not_null())
                    .col(ColumnDef::new(AccessTokens::Secret).blob().not_null())
                    .col(
                        ColumnDef::new(AccessTokens::RequestTokenId)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AccessTokens::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AccessTokens::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(AccessTokens::RevokedAt).big_integer().null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_access_tokens_consumer_key")
                            .from(AccessTokens::Table, AccessTokens::ConsumerKey)
                            .to(Consumers::Table, Consumers::Key)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        let indexes = [
            Index::create()
                .name("uq_access_tokens_token_hash")
                .table(AccessTokens::Table)
                .col(AccessTokens::TokenHash)
                .unique()
                .to_owned(),
            Index::create()
                .name("uq_access_tokens_request_token_id")
                .table(AccessTokens::Table)
                .col(AccessTokens::RequestTokenId)
                .unique()
                .to_owned(),
            Index::create()
                .name("idx_access_tokens_expires_at")
                .table(AccessTokens::Table)
                .col(AccessTokens::ExpiresAt)
                .to_owned(),
            // A user's grants, and one user's grants for one consumer.
            Index::create()
                .name("idx_access_tokens_user_id_consumer_key")
                .table(AccessTokens::Table)
                .col(AccessTokens::UserId)
                .col(AccessTokens::ConsumerKey)
                .to_owned(),
            // Revoking or deleting everything of one consumer.
            Index::create()
                .name("idx_access_tokens_consumer_key")
                .table(AccessTokens::Table)
                .col(AccessTokens::ConsumerKey)
                .to_owned(),
        ];
        for index in indexes {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AccessTokens::Table).to_owned())
            .await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

#[derive(DeriveIden)]
enum AccessTokens {
    Table,
    Id,
    TokenHash,
    ConsumerKey,
    UserId,
    Secret,
    RequestTokenId,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Consumers {
    Table,
    Key,
}
