//! Creates the OAuth 2.0 tables: `oauth2_clients`, `oauth2_codes`, `oauth2_grants`
//! and `oauth2_tokens`.
//!
//! Codes and tokens are keyed by the SHA-256 of their value (unique); client secrets
//! are argon2 PHC strings. Codes, grants and tokens cascade with their client. Tokens
//! name their grant without a foreign key, as access tokens name their request token:
//! the sweeper removes grants and tokens on their own schedules. Redirect URIs are kept
//! newline-separated and scopes space-separated, as neither may contain those.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn cascade_to_client(
    name: &str,
    table: impl IntoIden + 'static,
    column: impl IntoIden + 'static,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, column)
        .to(OAuth2Clients::Table, OAuth2Clients::ClientId)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OAuth2Clients::Table)
                    .col(
                        ColumnDef::new(OAuth2Clients::ClientId)
                            .text()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(OAuth2Clients::Name).text().not_null())
                    .col(ColumnDef::new(OAuth2Clients::SecretHash).text().null())
                    .col(
                        ColumnDef::new(OAuth2Clients::RedirectUris)
                            .text()
                            .not_null(),
                    )
                    .col(ColumnDef::new(OAuth2Clients::Scopes).text().not_null())
                    .col(
                        ColumnDef::new(OAuth2Clients::AccessTokenTtlSeconds)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(OAuth2Clients::RefreshTokenIdleSeconds)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(OAuth2Clients::RefreshTokenMaxSeconds)
                            .big_integer()
                            .null(),
                    )
                    .col(ColumnDef::new(OAuth2Clients::Enabled).boolean().not_null())
                    .col(
                        ColumnDef::new(OAuth2Clients::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OAuth2Clients::UpdatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OAuth2Codes::Table)
                    .col(
                        ColumnDef::new(OAuth2Codes::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(OAuth2Codes::CodeHash).blob().not_null())
                    .col(ColumnDef::new(OAuth2Codes::ClientId).text().not_null())
                    .col(ColumnDef::new(OAuth2Codes::UserId).text().not_null())
                    .col(ColumnDef::new(OAuth2Codes::RedirectUri).text().not_null())
                    .col(ColumnDef::new(OAuth2Codes::Scopes).text().not_null())
                    .col(ColumnDef::new(OAuth2Codes::CodeChallenge).text().null())
                    .col(
                        ColumnDef::new(OAuth2Codes::CodeChallengeMethod)
                            .text()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(OAuth2Codes::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OAuth2Codes::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(OAuth2Codes::RedeemedAt).big_integer().null())
                    .col(ColumnDef::new(OAuth2Codes::GrantId).uuid().null())
                    .foreign_key(&mut cascade_to_client(
                        "fk_oauth2_codes_client_id",
                        OAuth2Codes::Table,
                        OAuth2Codes::ClientId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OAuth2Grants::Table)
                    .col(
                        ColumnDef::new(OAuth2Grants::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(OAuth2Grants::ClientId).text().not_null())
                    .col(ColumnDef::new(OAuth2Grants::UserId).text().not_null())
                    .col(ColumnDef::new(OAuth2Grants::Scopes).text().not_null())
                    .col(ColumnDef::new(OAuth2Grants::CodeId).uuid().not_null())
                    .col(
                        ColumnDef::new(OAuth2Grants::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OAuth2Grants::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OAuth2Grants::RefreshedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(OAuth2Grants::RevokedAt).big_integer().null())
                    .foreign_key(&mut cascade_to_client(
                        "fk_oauth2_grants_client_id",
                        OAuth2Grants::Table,
                        OAuth2Grants::ClientId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OAuth2Tokens::Table)
                    .col(
                        ColumnDef::new(OAuth2Tokens::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(OAuth2Tokens::TokenHash).blob().not_null())
                    .col(ColumnDef::new(OAuth2Tokens::Kind).text().not_null())
                    .col(ColumnDef::new(OAuth2Tokens::GrantId).uuid().not_null())
                    .col(ColumnDef::new(OAuth2Tokens::ClientId).text().not_null())
                    .col(ColumnDef::new(OAuth2Tokens::UserId).text().not_null())
                    .col(ColumnDef::new(OAuth2Tokens::Scopes).text().not_null())
                    .col(
                        ColumnDef::new(OAuth2Tokens::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OAuth2Tokens::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(OAuth2Tokens::RevokedAt).big_integer().null())
                    .col(ColumnDef::new(OAuth2Tokens::RotatedAt).big_integer().null())
                    .foreign_key(&mut cascade_to_client(
                        "fk_oauth2_tokens_client_id",
                        OAuth2Tokens::Table,
                        OAuth2Tokens::ClientId,
                    ))
                    .to_owned(),
            )
            .await?;
        let indexes = [
            Index::create()
                .name("uq_oauth2_codes_code_hash")
                .table(OAuth2Codes::Table)
                .col(OAuth2Codes::CodeHash)
                .unique()
                .to_owned(),
            Index::create()
                .name("idx_oauth2_codes_expires_at")
                .table(OAuth2Codes::Table)
                .col(OAuth2Codes::ExpiresAt)
                .to_owned(),
            Index::create()
                .name("idx_oauth2_codes_client_id")
                .table(OAuth2Codes::Table)
                .col(OAuth2Codes::ClientId)
                .to_owned(),
            Index::create()
                .name("idx_oauth2_grants_user_id")
                .table(OAuth2Grants::Table)
                .col(OAuth2Grants::UserId)
                .to_owned(),
            Index::create()
                .name("idx_oauth2_grants_client_id")
                .table(OAuth2Grants::Table)
                .col(OAuth2Grants::ClientId)
                .to_owned(),
            Index::create()
                .name("idx_oauth2_grants_expires_at")
                .table(OAuth2Grants::Table)
                .col(OAuth2Grants::ExpiresAt)
                .to_owned(),
            Index::create()
                .name("idx_oauth2_grants_revoked_at")
                .table(OAuth2Grants::Table)
                .col(OAuth2Grants::RevokedAt)
                .to_owned(),
            Index::create()
                .name("uq_oauth2_tokens_token_hash")
                .table(OAuth2Tokens::Table)
                .col(OAuth2Tokens::TokenHash)
                .unique()
                .to_owned(),
            Index::create()
                .name("idx_oauth2_tokens_grant_id")
                .table(OAuth2Tokens::Table)
                .col(OAuth2Tokens::GrantId)
                .to_owned(),
            Index::create()
                .name("idx_oauth2_tokens_client_id")
                .table(OAuth2Tokens::Table)
                .col(OAuth2Tokens::ClientId)
                .to_owned(),
            Index::create()
                .name("idx_oauth2_tokens_expires_at")
                .table(OAuth2Tokens::Table)
                .col(OAuth2Tokens::ExpiresAt)
                .to_owned(),
            Index::create()
                .name("idx_oauth2_tokens_revoked_at")
                .table(OAuth2Tokens::Table)
                .col(OAuth2Tokens::RevokedAt)
                .to_owned(),
        ];
        for index in indexes {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            OAuth2Tokens::Table.into_iden(),
            OAuth2Grants::Table.into_iden(),
            OAuth2Codes::Table.into_iden(),
            OAuth2Clients::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

#[derive(DeriveIden)]
enum OAuth2Clients {
    #[sea_orm(iden = "oauth2_clients")]
    Table,
    ClientId,
    Name,
    SecretHash,
    RedirectUris,
    Scopes,
    AccessTokenTtlSeconds,
    RefreshTokenIdleSeconds,
    RefreshTokenMaxSeconds,
    Enabled,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OAuth2Codes {
    #[sea_orm(iden = "oauth2_codes")]
    Table,
    Id,
    CodeHash,
    ClientId,
    UserId,
    RedirectUri,
    Scopes,
    CodeChallenge,
    CodeChallengeMethod,
    CreatedAt,
    ExpiresAt,
    RedeemedAt,
    GrantId,
}

#[derive(DeriveIden)]
enum OAuth2Grants {
    #[sea_orm(iden = "oauth2_grants")]
    Table,
    Id,
    ClientId,
    UserId,
    Scopes,
    CodeId,
    CreatedAt,
    ExpiresAt,
    RefreshedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum OAuth2Tokens {
    #[sea_orm(iden = "oauth2_tokens")]
    Table,
    Id,
    TokenHash,
    Kind,
    GrantId,
    ClientId,
    UserId,
    Scopes,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
    RotatedAt,
}
