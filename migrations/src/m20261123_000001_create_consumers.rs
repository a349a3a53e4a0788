//! Creates `consumers`: the registered applications, keyed by `oauth_consumer_key`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Consumers::Table)
                    .col(
                        ColumnDef::new(Consumers::Key)
                            .text()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Consumers::Name).text().not_null())
                    .col(ColumnDef::new(Consumers::Description).text().not_null())
                    .col(ColumnDef::new(Consumers::CallbackUrl).text().null())
                    .col(ColumnDef::new(Consumers::PublicKeyPem).text().null())
                    // Sealed bytes, never the secret in the clear.
                    .col(ColumnDef::new(Consumers::SharedSecret).blob().null())
                    // Comma-separated `oauth_signature_method` spellings.
                    .col(
                        ColumnDef::new(Consumers::SignatureMethods)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Consumers::AccessTokenTtlSeconds)
                            .big_integer()
                            .null(),
                    )
                    .col(ColumnDef::new(Consumers::Enabled).boolean().not_null())
                    .col(
                        ColumnDef::new(Consumers::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Consumers::UpdatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Consumers::Table).to_owned())
            .await
    }

    fn use_transaction(&self) -> Option<bool> {
        // SQLite runs DDL in transactions too; all or nothing on both backends.
        Some(true)
    }
}

#[derive(DeriveIden)]
enum Consumers {
    Table,
    Key,
    Name,
    Description,
    CallbackUrl,
    PublicKeyPem,
    SharedSecret,
    SignatureMethods,
    AccessTokenTtlSeconds,
    Enabled,
    CreatedAt,
    UpdatedAt,
}
