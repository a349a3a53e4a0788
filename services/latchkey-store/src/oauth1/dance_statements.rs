//! Postgres: each write of the OAuth 1.0a dance as one statement, audit line included.
//!
//! A step of the dance changes one row and appends its audit line, and the two must
//! commit together. As a transaction that is four round trips (`BEGIN`, the change,
//! the audit insert, `COMMIT`), five for the exchange; the whole-dance benchmark found
//! those round trips, not the work in them, to be what a dance costs. Postgres can do
//! the same in one autocommit statement: the change runs in a data-modifying `WITH`
//! and the audit insert selects from its `RETURNING`, so the line is written exactly
//! when the change happened, and the statement is atomic.
//!
//! The guards are unchanged: each transition is still a conditional `UPDATE` whose
//! `WHERE` READ COMMITTED re-checks after a concurrent writer's row lock, so of any
//! number of concurrent calls exactly one changes the row, and only that one writes an
//! access token and an audit line. The statement's row count (audit lines written)
//! says whether this call won.
//!
//! SQLite has no data-modifying `WITH`; its callers keep the transaction, where a
//! round trip is a function call.

use super::request_tokens::{ACCESS_TOKEN_TAKEN, REQUEST_TOKEN_TAKEN};
use crate::convert::millis;
use crate::entities::{access_tokens, request_tokens};
use crate::error::{conflict_or_db_err, db_err};
use latchkey_core::error::StoreError;
use latchkey_core::oauth1::records::RequestTokenState;
use latchkey_core::records::AuditEvent;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, Value};
use uuid::Uuid;

/// The audit insert that follows a change, reading from the `WITH` named `changed`.
/// Its parameters are numbered from `first`.
fn audit_from_changed(first: usize) -> String {
    let params: Vec<String> = (first..first + 7).map(|n| format!("${n}")).collect();
    format!(
        r#"INSERT INTO "audit_log" ("at", "action", "actor", "consumer_key", "user_id", "token_id", "detail") SELECT {} FROM changed"#,
        params.join(", ")
    )
}

fn audit_values(event: &AuditEvent) -> [Value; 7] {
    [
        millis(event.at).into(),
        event.action.as_str().into(),
        event.actor.as_str().into(),
        event.consumer_key.clone().into(),
        event.user_id.clone().into(),
        event.token_id.into(),
        event.detail.as_str().into(),
    ]
}

/// Runs `sql` with `values` and reports how many audit lines it wrote.
async fn run(db: &DatabaseConnection, sql: String, values: Vec<Value>) -> Result<u64, DbErr> {
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
    .await
    .map(|done| done.rows_affected())
}

/// Inserts a request token and its audit line.
pub(crate) async fn insert_request_token(
    db: &DatabaseConnection,
    row: &request_tokens::Model,
    audit: &AuditEvent,
) -> Result<(), StoreError> {
    let sql = format!(
        r#"WITH changed AS (INSERT INTO "request_tokens" ("id", "token_hash", "consumer_key", "secret", "callback", "state", "user_id", "verifier_hash", "verifier_failures", "created_at", "expires_at", "decided_at") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING 1) {}"#,
        audit_from_changed(13)
    );
    let mut values: Vec<Value> = vec![
        row.id.into(),
        row.token_hash.clone().into(),
        row.consumer_key.as_str().into(),
        row.secret.clone().into(),
        row.callback.as_str().into(),
        row.state.as_str().into(),
        row.user_id.clone().into(),
        row.verifier_hash.clone().into(),
        row.verifier_failures.into(),
        row.created_at.into(),
        row.expires_at.into(),
        row.decided_at.into(),
    ];
    values.extend(audit_values(audit));
    run(db, sql, values)
        .await
        .map_err(|err| conflict_or_db_err(err, REQUEST_TOKEN_TAKEN))?;
    Ok(())
}

/// Records a pending token's decision if it is still pending and unexpired at `now`
/// (milliseconds); `true` if this call decided it.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn decide_request_token(
    db: &DatabaseConnection,
    id: Uuid,
    state: RequestTokenState,
    user_id: &str,
    verifier_hash: Option<Vec<u8>>,
    now: i64,
    audit: &AuditEvent,
) -> Result<bool, StoreError> {
    let sql = format!(
        r#"WITH changed AS (UPDATE "request_tokens" SET "decided_at" = $1, "state" = $2, "user_id" = $3, "verifier_hash" = $4 WHERE "id" = $5 AND "state" = $6 AND "expires_at" > $1 RETURNING 1) {}"#,
        audit_from_changed(7)
    );
    let mut values: Vec<Value> = vec![
        now.into(),
        state.as_str().into(),
        user_id.into(),
        verifier_hash.into(),
        id.into(),
        RequestTokenState::Pending.as_str().into(),
    ];
    values.extend(audit_values(audit));
    Ok(run(db, sql, values).await.map_err(db_err)? == 1)
}

/// Spends an approved, unexpired request token and inserts its access token;
/// `true` if this call spent it.
pub(crate) async fn exchange_request_token(
    db: &DatabaseConnection,
    request_token_id: Uuid,
    now: i64,
    access: &access_tokens::Model,
    audit: &AuditEvent,
) -> Result<bool, StoreError> {
    let sql = format!(
        r#"WITH spent AS (UPDATE "request_tokens" SET "state" = $1 WHERE "id" = $2 AND "state" = $3 AND "expires_at" > $4 RETURNING 1), changed AS (INSERT INTO "access_tokens" ("id", "token_hash", "consumer_key", "user_id", "secret", "request_token_id", "created_at", "expires_at", "revoked_at", "last_used_at") SELECT $5, $6, $7, $8, $9, $10, $11, $12, $13, $14 FROM spent RETURNING 1) {}"#,
        audit_from_changed(15)
    );
    let mut values: Vec<Value> = vec![
        RequestTokenState::Exchanged.as_str().into(),
        request_token_id.into(),
        RequestTokenState::Approved.as_str().into(),
        now.into(),
        access.id.into(),
        access.token_hash.clone().into(),
        access.consumer_key.as_str().into(),
        access.user_id.as_str().into(),
        access.secret.clone().into(),
        access.request_token_id.into(),
        access.created_at.into(),
        access.expires_at.into(),
        access.revoked_at.into(),
        access.last_used_at.into(),
    ];
    values.extend(audit_values(audit));
    let written = run(db, sql, values)
        .await
        .map_err(|err| conflict_or_db_err(err, ACCESS_TOKEN_TAKEN))?;
    Ok(written == 1)
}
