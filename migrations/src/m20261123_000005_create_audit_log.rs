//! Creates `audit_log`: who did what to which consumer or token, and when.
//!
//! `consumer_key` deliberately has no foreign key: the log must outlive the consumers
//! it talks about, including the line recording a consumer's deletion.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .col(
                        ColumnDef::new(AuditLog::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AuditLog::At).big_integer().not_null())
                    .col(ColumnDef::new(AuditLog::Action).text().not_null())
                    .col(ColumnDef::new(AuditLog::Actor).text().not_null())
                    .col(ColumnDef::new(AuditLog::ConsumerKey).text().null())
                    .col(ColumnDef::new(AuditLog::UserId).text().null())
                    .col(ColumnDef::new(AuditLog::TokenId).uuid().null())
                    .col(ColumnDef::new(AuditLog::Detail).text().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_audit_log_at")
                    .table(AuditLog::Table)
                    .col(AuditLog::At)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditLog::Table).to_owned())
            .await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    At,
    Action,
    Actor,
    ConsumerKey,
    UserId,
    TokenId,
    Detail,
}
