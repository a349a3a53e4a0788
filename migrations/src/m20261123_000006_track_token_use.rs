//! Adds what the expiry policies and the sweeper need:
//! - `consumers.access_token_idle_seconds`: a consumer's own idle timeout (a token unused
//!   that long ends), `NULL` for the server's setting;
//! - `access_tokens.last_used_at`: when the token last validated a request, filled with
//!   `created_at` for tokens issued before this migration, so that an idle timeout
//!   counts from issue for them;
//! - indexes the sweeper selects by, so that each bounded batch is an index range scan:
//!   `(consumer_key, last_used_at)` for idle tokens, `revoked_at` for revoked ones and
//!   `created_at` for tokens past a lowered maximum lifetime.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        manager
            .alter_table(
                Table::alter()
                    .table(Consumers::Table)
                    .add_column(
                        ColumnDef::new(Consumers::AccessTokenIdleSeconds)
                            .big_integer()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AccessTokens::Table)
                    .add_column(
                        ColumnDef::new(AccessTokens::LastUsedAt)
                            .big_integer()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::update()
                    .table(AccessTokens::Table)
                    .value(AccessTokens::LastUsedAt, Expr::col(AccessTokens::CreatedAt))
                    .and_where(Expr::col(AccessTokens::LastUsedAt).is_null())
                    .to_owned(),
            )
            .await?;
        let indexes = [
            Index::create()
                .name("idx_access_tokens_consumer_key_last_used_at")
                .table(AccessTokens::Table)
                .col(AccessTokens::ConsumerKey)
                .col(AccessTokens::LastUsedAt)
                .to_owned(),
            Index::create()
                .name("idx_access_tokens_revoked_at")
                .table(AccessTokens::Table)
                .col(AccessTokens::RevokedAt)
                .to_owned(),
            Index::create()
                .name("idx_access_tokens_created_at")
                .table(AccessTokens::Table)
                .col(AccessTokens::CreatedAt)
                .to_owned(),
        ];
        for index in indexes {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in [
            "idx_access_tokens_consumer_key_last_used_at",
            "idx_access_tokens_revoked_at",
            "idx_access_tokens_created_at",
        ] {
            manager
                .drop_index(
                    Index::drop()
                        .name(name)
                        .table(AccessTokens::Table)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(AccessTokens::Table)
                    .drop_column(AccessTokens::LastUsedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Consumers::Table)
                    .drop_column(Consumers::AccessTokenIdleSeconds)
                    .to_owned(),
            )
            .await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

#[derive(DeriveIden)]
enum Consumers {
    Table,
    AccessTokenIdleSeconds,
}

#[derive(DeriveIden)]
enum AccessTokens {
    Table,
    ConsumerKey,
    CreatedAt,
    RevokedAt,
    LastUsedAt,
}
