//! Creates `request_tokens`: temporary credentials, keyed by the SHA-256 of the token.
//!
//! Rows go with their consumer (`ON DELETE CASCADE`). `expires_at` is indexed for the
//! sweeper, which deletes expired rows in bounded batches.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RequestTokens::Table)
                    .col(
                        ColumnDef::new(RequestTokens::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(RequestTokens::TokenHash).blob().not_null())
                    .col(ColumnDef::new(RequestTokens::ConsumerKey).text().not_null())
                    .col(ColumnDef::new(RequestTokens::Secret).blob().not_null())
                    .col(ColumnDef::new(RequestTokens::Callback).text().not_null())
                    .col(ColumnDef::new(RequestTokens::State).text().not_null())
                    .col(ColumnDef::new(RequestTokens::UserId).text().null())
                    .col(ColumnDef::new(RequestTokens::VerifierHash).blob().null())
                    .col(
                        ColumnDef::new(RequestTokens::VerifierFailures)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(RequestTokens::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RequestTokens::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RequestTokens::DecidedAt)
                            .big_integer()
                            .null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_request_tokens_consumer_key")
                            .from(RequestTokens::Table, RequestTokens::ConsumerKey)
                            .to(Consumers::Table, Consumers::Key)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_request_tokens_token_hash")
                    .table(RequestTokens::Table)
                    .col(RequestTokens::TokenHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_request_tokens_expires_at")
                    .table(RequestTokens::Table)
                    .col(RequestTokens::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        // Deleting a consumer finds its tokens by this column.
        manager
            .create_index(
                Index::create()
                    .name("idx_request_tokens_consumer_key")
                    .table(RequestTokens::Table)
                    .col(RequestTokens::ConsumerKey)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RequestTokens::Table).to_owned())
            .await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

#[derive(DeriveIden)]
enum RequestTokens {
    Table,
    Id,
    TokenHash,
    ConsumerKey,
    Secret,
    Callback,
    State,
    UserId,
    VerifierHash,
    VerifierFailures,
    CreatedAt,
    ExpiresAt,
    DecidedAt,
}

#[derive(DeriveIden)]
enum Consumers {
    Table,
    Key,
}
