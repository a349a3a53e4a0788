//! Creates `nonces`: each consumer's used `oauth_nonce` values, kept while their
//! timestamps are inside the window.
//!
//! The primary key (consumer_key, nonce) is what makes replay detection atomic across
//! replicas: of two concurrent inserts of one nonce, exactly one succeeds.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Nonces::Table)
                    .col(ColumnDef::new(Nonces::ConsumerKey).text().not_null())
                    .col(ColumnDef::new(Nonces::Nonce).text().not_null())
                    .col(ColumnDef::new(Nonces::Timestamp).big_integer().not_null())
                    .col(ColumnDef::new(Nonces::ExpiresAt).big_integer().not_null())
                    .primary_key(
                        Index::create()
                            .name("pk_nonces")
                            .col(Nonces::ConsumerKey)
                            .col(Nonces::Nonce),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_nonces_consumer_key")
                            .from(Nonces::Table, Nonces::ConsumerKey)
                            .to(Consumers::Table, Consumers::Key)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_nonces_expires_at")
                    .table(Nonces::Table)
                    .col(Nonces::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Nonces::Table).to_owned())
            .await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

#[derive(DeriveIden)]
enum Nonces {
    Table,
    ConsumerKey,
    Nonce,
    Timestamp,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Consumers {
    Table,
    Key,
}
