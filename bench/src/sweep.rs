//! Scenario 7: `ValidateAccess` while the sweeper removes a million expired rows.
//!
//! The server runs its sweeper every second. HMAC-SHA1 validations are measured first
//! on the quiet server; then one transaction adds `rows` access tokens that ended long
//! before the retention, and the same validations run until the sweeper has removed
//! every one of them. The rows go in with one SQL statement, as a backlog would look
//! after an outage: writing them through the API would take hours and measure
//! something else.

use crate::load::{self, Caller, Measured};
use crate::scenarios::HMAC_CONSUMER;
use anyhow::Context;
use latchkey_tests::Backend;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tonic::transport::Channel;

/// How long the sweep may take before the run ends without it.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(900);

/// The owner of every swept row, and the index the progress check walks.
const SWEPT_USER: &str = "bench-swept";

/// The sweeper settings the scenario's server runs with: the access-token job every
/// second, with the default batch size and retention.
pub fn settings() -> Vec<(&'static str, String)> {
    vec![("SWEEPER__ACCESS_TOKENS_SCHEDULE", "* * * * * *".into())]
}

/// What the scenario measured.
pub struct UnderSweep {
    /// Validations on the quiet server.
    pub quiet: Measured,
    /// Validations from the backlog's commit until the sweeper had removed it.
    pub during: Measured,
    /// Rows added and removed.
    pub rows: u64,
    /// From the backlog's commit to its last row gone.
    pub sweep_took: Duration,
    /// Whether the sweeper removed them all within [`GIVE_UP_AFTER`].
    pub finished: bool,
    /// How long adding the rows took (not part of either measurement).
    pub insert_took: Duration,
}

/// Runs the scenario on a server whose database is `url`, with `caller` validating
/// tokens of [`HMAC_CONSUMER`].
pub async fn measure<C: Caller>(
    caller: Arc<C>,
    channels: &[Channel],
    shape: load::Shape,
    backend: Backend,
    url: &str,
    rows: u64,
) -> anyhow::Result<UnderSweep> {
    let quiet = load::run(caller.clone(), channels, shape).await?;
    let database = Database::connect(url)
        .await
        .context("connecting to the bench database")?;
    let started = Instant::now();
    database
        .execute_unprepared(&backlog(backend, rows))
        .await
        .context("adding the expired rows")?;
    let insert_took = started.elapsed();
    let committed = Instant::now();
    let gone = async {
        // The check walks the (user_id, consumer_key) index, so it stays cheap
        // however many rows are left.
        while committed.elapsed() < GIVE_UP_AFTER && backlog_remains(&database).await {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    };
    let during = load::run_until(caller, channels, shape.concurrency, Duration::ZERO, gone).await?;
    let sweep_took = committed.elapsed();
    let finished = !backlog_remains(&database).await;
    let _ = database.close().await;
    Ok(UnderSweep {
        quiet,
        during,
        rows,
        sweep_took,
        finished,
        insert_took,
    })
}

async fn backlog_remains(database: &DatabaseConnection) -> bool {
    let query = format!("SELECT 1 FROM access_tokens WHERE user_id = '{SWEPT_USER}' LIMIT 1");
    database
        .query_one_raw(Statement::from_string(
            database.get_database_backend(),
            query,
        ))
        .await
        .map_or(true, |row| row.is_some())
}

/// One statement adding `rows` access tokens that expired in 1970, unrevoked, with
/// unique hashes and request token ids, for [`HMAC_CONSUMER`].
///
/// The server makes its ids as UUIDs that begin with the time they were made, so the
/// ids of a backlog rise with its rows: here the row's number stands in for the time,
/// followed by random bytes. Token hashes are random, as real ones are.
fn backlog(backend: Backend, rows: u64) -> String {
    let columns = "id, token_hash, consumer_key, user_id, secret, request_token_id, \
                   created_at, expires_at, last_used_at";
    // 6 bytes of the row's number, then 10 random bytes.
    let pg_id = "(lpad(to_hex(n), 12, '0') || substr(md5(random()::text), 1, 20))::uuid";
    let sqlite_id = "unhex(printf('%012x', n) || hex(randomblob(10)))";
    match backend {
        Backend::Postgres => format!(
            "INSERT INTO access_tokens ({columns}) \
             SELECT {pg_id}, sha256(int8send(n)), '{HMAC_CONSUMER}', '{SWEPT_USER}', \
                    '\\x00'::bytea, {pg_id}, 0, 1000, 0 \
             FROM generate_series(1, {rows}) AS n"
        ),
        Backend::Sqlite => format!(
            "WITH RECURSIVE series(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM series WHERE n < {rows}) \
             INSERT INTO access_tokens ({columns}) \
             SELECT {sqlite_id}, randomblob(32), '{HMAC_CONSUMER}', '{SWEPT_USER}', \
                    x'00', {sqlite_id}, 0, 1000, 0 \
             FROM series"
        ),
    }
}
