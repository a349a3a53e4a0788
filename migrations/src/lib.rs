//! Latchkey's schema as an ordered list of append-only migrations.
//!
//! Each file creates or changes one thing and is never edited once released: a
//! database that ran it must keep agreeing with it. Migrations use sea-query's schema
//! builder with `Iden` enums declared inside the file, never the store's entities, so
//! today's entity code can change without rewriting history.
//!
//! Every timestamp column is a `BIGINT` of milliseconds since the Unix epoch: it sorts
//! and compares identically on Postgres and SQLite, where SQL time types do not.
//! Secrets and token hashes are binary (`bytea` on Postgres, `blob` on SQLite).

pub use sea_orm_migration::MigratorTrait;
use sea_orm_migration::prelude::*;

mod m20261123_000001_create_consumers;
mod m20261123_000002_create_request_tokens;
mod m20261123_000003_create_access_tokens;
mod m20261123_000004_create_nonces;
mod m20261123_000005_create_audit_log;
mod m20261123_000006_track_token_use;
mod m20261123_000007_create_oauth2;
mod m20261123_000008_drop_redundant_access_token_index;
mod m20261204_000010_two_legged_links;

/// Runs Latchkey's migrations in order.
#[derive(Debug, Clone, Copy, Default)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_consumers::Migration),
            Box::new(m20261123_000002_create_request_tokens::Migration),
            Box::new(m20261123_000003_create_access_tokens::Migration),
            Box::new(m20261123_000004_create_nonces::Migration),
            Box::new(m20261123_000005_create_audit_log::Migration),
            Box::new(m20261123_000006_track_token_use::Migration),
            Box::new(m20261123_000007_create_oauth2::Migration),
            Box::new(m20261123_000008_drop_redundant_access_token_index::Migration),
            Box::new(m20261204_000010_two_legged_links::Migration),
        ]
    }
}
