//! Drops `idx_access_tokens_consumer_key`: `idx_access_tokens_consumer_key_last_used_at`
//! (migration 6) starts with the same column, so every lookup by consumer, the
//! consumer's cascading delete included, walks that index instead.
//!
//! An access token row was kept in ten b-trees on SQLite; each one costs every issue
//! and every sweeper delete a page write. This leaves nine.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const DROPPED: &str = "idx_access_tokens_consumer_key";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(DROPPED)
                    .table(AccessTokens::Table)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(DROPPED)
                    .table(AccessTokens::Table)
                    .col(AccessTokens::ConsumerKey)
                    .to_owned(),
            )
            .await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

#[derive(DeriveIden)]
enum AccessTokens {
    Table,
    ConsumerKey,
}
