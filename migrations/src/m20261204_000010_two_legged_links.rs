//! Adds Jira's incoming-link settings for 2-legged OAuth to each consumer, all off for
//! consumers registered before:
//! - `two_legged_allowed`: it may sign requests with no `oauth_token`;
//! - `two_legged_execute_as`: the user such a request acts as, `NULL` for no user;
//! - `two_legged_impersonation`: such a request may name its user in
//!   `xoauth_requestor_id`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        let columns = [
            ColumnDef::new(Consumers::TwoLeggedAllowed)
                .boolean()
                .not_null()
                .default(false)
                .to_owned(),
            ColumnDef::new(Consumers::TwoLeggedExecuteAs)
                .text()
                .null()
                .to_owned(),
            ColumnDef::new(Consumers::TwoLeggedImpersonation)
                .boolean()
                .not_null()
                .default(false)
                .to_owned(),
        ];
        for mut column in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(Consumers::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Consumers::TwoLeggedImpersonation,
            Consumers::TwoLeggedExecuteAs,
            Consumers::TwoLeggedAllowed,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Consumers::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Consumers {
    Table,
    TwoLeggedAllowed,
    TwoLeggedExecuteAs,
    TwoLeggedImpersonation,
}
