//! Token policies and the sweeper, end to end: request tokens in every state end at
//! ten minutes, idle timeouts end tokens exactly (a consumer's own wins), a policy can
//! be applied to tokens already issued, the sweeper removes what each consumer's policy
//! has ended and nothing else, 200,000 expired rows go while live tokens keep
//! validating, and the scheduler sweeps on its cron schedule, survives its database
//! going away, and stops with the server.

use chrono::Duration;
use latchkey_api::v1 as pb;
use latchkey_core::store::SweepJob;
use latchkey_core::sweep::SweepOutcome;
use latchkey_server::config::Config;
use latchkey_tests::app::{ADMIN, TestDatabase, spawn_app_with, with_credential};
use latchkey_tests::flows::{
    access_token, decide, describe, grants, hmac_consumer, hmac_consumer_with_policy, request_token,
};
use latchkey_tests::{Backend, TestApp, assert_problem, logs};
use sea_orm::{ConnectionTrait, Database};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::time::{Instant, sleep};
use tonic::Code;

on_both_backends!(
    every_request_token_state_ends_at_ten_minutes,
    a_swept_nonce_cannot_be_replayed_while_its_timestamp_is_accepted,
    a_policy_applied_to_issued_tokens_cuts_them_and_never_lengthens_one,
);

on_both_backends_with!(
    idle_timeout,
    idle_one_day => an_idle_token_ends_exactly_at_its_idle_timeout_and_a_consumers_own_wins,
);

on_both_backends_with!(
    without_retention,
    no_retention =>
    the_sweeper_removes_what_each_consumers_policy_ended_and_nothing_else,
    two_hundred_thousand_expired_rows_go_while_live_tokens_keep_validating,
);

/// The scheduler's own tests: they start and stop the server themselves.
mod scheduler {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sweeps_on_its_schedule_and_stops_with_the_server_on_sqlite() {
        super::the_scheduler_sweeps_on_its_schedule_and_stops_with_the_server(
            latchkey_tests::Backend::Sqlite,
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sweeps_on_its_schedule_and_stops_with_the_server_on_postgres() {
        super::the_scheduler_sweeps_on_its_schedule_and_stops_with_the_server(
            latchkey_tests::Backend::Postgres,
        )
        .await;
    }
}

/// SQLite has no server to lose, so this one runs on Postgres only.
mod postgres_only {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_sweep_is_logged_and_the_next_tick_recovers() {
        crate::run_with(
            latchkey_tests::Backend::Postgres,
            super::every_second,
            super::a_failed_sweep_is_logged_and_the_next_tick_recovers,
        )
        .await;
    }
}

fn idle_one_day(config: &mut Config) {
    config.oauth1.access_token_idle_timeout_seconds = Some(24 * 3600);
}

fn no_retention(config: &mut Config) {
    config.sweeper.request_token_retention_seconds = 0;
    config.sweeper.access_token_retention_seconds = 0;
}

fn every_second(config: &mut Config) {
    no_retention(config);
    config.sweeper.enabled = true;
    config.sweeper.nonces_schedule = "* * * * * *".into();
    config.sweeper.request_tokens_schedule = "* * * * * *".into();
    config.sweeper.access_tokens_schedule = "* * * * * *".into();
}

async fn every_request_token_state_ends_at_ten_minutes(app: &TestApp) {
    let consumer = hmac_consumer(app, "states").await;
    let (pending, _) = request_token(app, &consumer, "oob").await;
    let (approved, approved_secret) = request_token(app, &consumer, "oob").await;
    let (denied, _) = request_token(app, &consumer, "oob").await;
    let verifier = decide(app, &approved, "ida", pb::Decision::Approve)
        .await
        .unwrap()
        .verifier;
    decide(app, &denied, "ida", pb::Decision::Deny)
        .await
        .unwrap();

    app.advance(Duration::seconds(599));
    assert_eq!(
        describe(app, &pending).await.state(),
        pb::RequestTokenState::Pending
    );
    assert_eq!(
        describe(app, &approved).await.state(),
        pb::RequestTokenState::Approved
    );
    assert_eq!(
        describe(app, &denied).await.state(),
        pb::RequestTokenState::Denied
    );

    app.advance(Duration::seconds(1));
    for token in [&pending, &approved, &denied] {
        assert_eq!(
            describe(app, token).await.state(),
            pb::RequestTokenState::Expired
        );
    }
    assert_problem(
        decide(app, &pending, "ida", pb::Decision::Approve).await,
        Code::FailedPrecondition,
        "token_expired",
    );
    let mut client = app.authority.clone();
    assert_problem(
        client
            .exchange_token(consumer.exchange(&approved, &approved_secret, &verifier))
            .await,
        Code::Unauthenticated,
        "token_expired",
    );
}

/// The timestamp check compares whole seconds, so it accepts a timestamp until one
/// second past the window; the nonce must outlive that second, sweeper or not.
async fn a_swept_nonce_cannot_be_replayed_while_its_timestamp_is_accepted(app: &TestApp) {
    use chrono::SubsecRound;
    app.clock
        .set(chrono::Utc::now().trunc_subsecs(0) + Duration::milliseconds(250));
    let consumer = hmac_consumer(app, "replayed").await;
    let signed = consumer.request_token("oob");
    let mut client = app.authority.clone();
    client.issue_request_token(signed.clone()).await.unwrap();
    // 300.75 s after a whole second: the timestamp is still inside the window.
    app.advance(Duration::milliseconds(300_500));
    app.sweeper.run(SweepJob::Nonces).await.unwrap();
    assert_problem(
        client.issue_request_token(signed).await,
        Code::Unauthenticated,
        "nonce_used",
    );
}

async fn an_idle_token_ends_exactly_at_its_idle_timeout_and_a_consumers_own_wins(app: &TestApp) {
    let daily = hmac_consumer(app, "daily").await;
    let hourly = hmac_consumer_with_policy(
        app,
        "hourly-idle",
        Some(pb::TokenPolicy {
            idle_timeout_seconds: 3600,
            ..Default::default()
        }),
    )
    .await;
    let (daily_token, daily_secret, _) = access_token(app, &daily, "ivy").await;
    let (hourly_token, hourly_secret, _) = access_token(app, &hourly, "ivy").await;
    let mut client = app.authority.clone();

    // Each use restarts the idle clock: three days of use a day apart, one second short
    // of the timeout each time.
    for _ in 0..3 {
        app.advance(Duration::days(1) - Duration::seconds(1));
        client
            .validate_access(daily.resource(&daily_token, &daily_secret))
            .await
            .unwrap();
    }
    assert_problem(
        client
            .validate_access(hourly.resource(&hourly_token, &hourly_secret))
            .await,
        Code::Unauthenticated,
        "token_expired",
    );
    let listed: Vec<_> = grants(app, "ivy")
        .await
        .into_iter()
        .map(|g| g.consumer_key)
        .collect();
    assert_eq!(listed, ["daily"], "an idle grant is not listed");

    app.advance(Duration::days(1));
    assert_problem(
        client
            .validate_access(daily.resource(&daily_token, &daily_secret))
            .await,
        Code::Unauthenticated,
        "token_expired",
    );

    // An idle timeout is read at each use: changing it reaches issued tokens at once.
    let (fresh, fresh_secret, _) = access_token(app, &daily, "ivy").await;
    app.advance(Duration::hours(2));
    let mut admin = app.admin.clone();
    admin
        .update_consumer(with_credential(
            pb::UpdateConsumerRequest {
                key: "daily".into(),
                token_policy: Some(pb::TokenPolicy {
                    idle_timeout_seconds: 3600,
                    ..Default::default()
                }),
                ..Default::default()
            },
            ADMIN,
        ))
        .await
        .unwrap();
    assert_problem(
        client
            .validate_access(daily.resource(&fresh, &fresh_secret))
            .await,
        Code::Unauthenticated,
        "token_expired",
    );
}

async fn a_policy_applied_to_issued_tokens_cuts_them_and_never_lengthens_one(app: &TestApp) {
    let cut = hmac_consumer(app, "cut").await;
    let kept = hmac_consumer(app, "kept").await;
    let (cut_token, cut_secret, _) = access_token(app, &cut, "joe").await;
    let (kept_token, kept_secret, _) = access_token(app, &kept, "joe").await;
    let mut admin = app.admin.clone();
    for (key, apply) in [("cut", true), ("kept", false)] {
        admin
            .update_consumer(with_credential(
                pb::UpdateConsumerRequest {
                    key: key.into(),
                    token_policy: Some(pb::TokenPolicy {
                        access_token_ttl_seconds: 3600,
                        ..Default::default()
                    }),
                    apply_to_issued_tokens: apply,
                    ..Default::default()
                },
                ADMIN,
            ))
            .await
            .unwrap();
    }
    let mut client = app.authority.clone();
    app.advance(Duration::seconds(3599));
    let principal = client
        .validate_access(cut.resource(&cut_token, &cut_secret))
        .await
        .unwrap()
        .into_inner()
        .principal
        .unwrap();
    let ends = principal.expires_at.unwrap().seconds;
    assert_eq!(ends, app.now_seconds() + 1, "cut to an hour from issue");
    app.advance(Duration::seconds(1));
    assert_problem(
        client
            .validate_access(cut.resource(&cut_token, &cut_secret))
            .await,
        Code::Unauthenticated,
        "token_expired",
    );
    client
        .validate_access(kept.resource(&kept_token, &kept_secret))
        .await
        .expect("without apply_to_issued_tokens, issued tokens keep their expiry");

    // Applying a longer lifetime does not lengthen the cut token.
    admin
        .update_consumer(with_credential(
            pb::UpdateConsumerRequest {
                key: "cut".into(),
                token_policy: Some(pb::TokenPolicy::default()),
                apply_to_issued_tokens: true,
                ..Default::default()
            },
            ADMIN,
        ))
        .await
        .unwrap();
    assert_problem(
        client
            .validate_access(cut.resource(&cut_token, &cut_secret))
            .await,
        Code::Unauthenticated,
        "token_expired",
    );
}

async fn the_sweeper_removes_what_each_consumers_policy_ended_and_nothing_else(app: &TestApp) {
    let short = hmac_consumer_with_policy(
        app,
        "short",
        Some(pb::TokenPolicy {
            access_token_ttl_seconds: 3600,
            ..Default::default()
        }),
    )
    .await;
    let weekly = hmac_consumer(app, "weekly").await;
    let (short_token, short_secret, _) = access_token(app, &short, "kim").await;
    let (weekly_token, weekly_secret, _) = access_token(app, &weekly, "kim").await;
    let (abandoned, _) = request_token(app, &weekly, "oob").await;
    let mut client = app.authority.clone();

    // One second before the short token ends, nothing has ended: nothing goes.
    app.advance(Duration::seconds(3599));
    sweep_all(app).await;
    assert_eq!(app.count_rows("access_tokens").await, 2);
    assert_eq!(
        app.count_rows("request_tokens").await,
        0,
        "request tokens (exchanged and abandoned) end at ten minutes"
    );
    assert_eq!(
        describe_missing(app, &abandoned).await,
        Code::NotFound,
        "the abandoned flow was swept"
    );
    assert_eq!(
        app.count_rows("nonces").await,
        0,
        "the nonces' windows have passed"
    );

    app.advance(Duration::seconds(1));
    let removed = app.sweeper.run(SweepJob::AccessTokens).await.unwrap();
    assert_eq!(removed.outcome, SweepOutcome::Completed);
    assert_eq!(removed.removed, 1, "the per-consumer lifetime is honoured");
    assert_problem(
        client
            .validate_access(short.resource(&short_token, &short_secret))
            .await,
        Code::Unauthenticated,
        "token_rejected",
    );
    client
        .validate_access(weekly.resource(&weekly_token, &weekly_secret))
        .await
        .expect("the default lifetime has a week to go");
    assert_eq!(app.count_rows("access_tokens").await, 1);
    assert_eq!(app.count_rows("nonces").await, 1, "the fresh nonce is kept");
}

async fn sweep_all(app: &TestApp) {
    for job in SweepJob::ALL {
        let report = app.sweeper.run(job).await.unwrap();
        assert_eq!(report.outcome, SweepOutcome::Completed, "{report:?}");
    }
}

async fn describe_missing(app: &TestApp, token: &str) -> Code {
    let mut client = app.authority.clone();
    client
        .describe_request_token(with_credential(
            pb::DescribeRequestTokenRequest {
                token: token.into(),
            },
            latchkey_tests::app::FRONTEND,
        ))
        .await
        .expect_err("the token is gone")
        .code()
}

const EXPIRED_ROWS: i64 = 200_000;

async fn two_hundred_thousand_expired_rows_go_while_live_tokens_keep_validating(app: &TestApp) {
    let consumer = hmac_consumer(app, "busy").await;
    let (token, secret, _) = access_token(app, &consumer, "lee").await;
    seed_expired_access_tokens(app, "busy", EXPIRED_ROWS).await;
    assert_eq!(app.count_rows("access_tokens").await, EXPIRED_ROWS + 1);

    let sweeping = Arc::new(AtomicBool::new(true));
    let validated = Arc::new(AtomicU64::new(0));
    let validator = {
        let (sweeping, validated) = (sweeping.clone(), validated.clone());
        let mut client = app.authority.clone();
        let consumer = consumer.clone();
        tokio::spawn(async move {
            while sweeping.load(Ordering::Acquire) {
                let principal = client
                    .validate_access(consumer.resource(&token, &secret))
                    .await
                    .expect("a live token validates during the sweep")
                    .into_inner()
                    .principal
                    .unwrap();
                assert_eq!(principal.user_id, "lee");
                validated.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let report = app.sweeper.run(SweepJob::AccessTokens).await.unwrap();
    sweeping.store(false, Ordering::Release);
    validator.await.expect("no validation failed");

    eprintln!(
        "{:?}: swept {} rows in {} batches in {} ms while {} validations succeeded",
        app.backend,
        report.removed,
        report.batches,
        report.elapsed.as_millis(),
        validated.load(Ordering::Relaxed)
    );
    assert_eq!(report.outcome, SweepOutcome::Completed);
    assert_eq!(report.removed, EXPIRED_ROWS as u64);
    assert!(
        report.batches >= (EXPIRED_ROWS as u64) / app.config.sweeper.batch_size,
        "deleted in bounded batches: {report:?}"
    );
    assert!(
        validated.load(Ordering::Relaxed) > 0,
        "validations ran during the sweep"
    );
    assert_eq!(app.count_rows("access_tokens").await, 1);
    assert_eq!(
        app.sweeper.totals().removed(SweepJob::AccessTokens),
        200_000
    );
}

/// Inserts `count` access tokens of `consumer_key` that expired a day ago, in one
/// statement, behind the server's back.
async fn seed_expired_access_tokens(app: &TestApp, consumer_key: &str, count: i64) {
    let now_ms = latchkey_core::clock::Clock::now(app.clock.as_ref()).timestamp_millis();
    let (issued, expired) = (now_ms - 8 * 86_400_000, now_ms - 86_400_000);
    let db = app.sql().await;
    let sql = match app.backend {
        Backend::Postgres => format!(
            "INSERT INTO access_tokens (id, token_hash, consumer_key, user_id, secret, \
             request_token_id, created_at, expires_at, revoked_at, last_used_at) \
             SELECT gen_random_uuid(), sha256(i::text::bytea), '{consumer_key}', 'seed', \
             '\\x00'::bytea, gen_random_uuid(), {issued}, {expired}, NULL, {issued} \
             FROM generate_series(1, {count}) AS i"
        ),
        Backend::Sqlite => format!(
            "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {count}) \
             INSERT INTO access_tokens (id, token_hash, consumer_key, user_id, secret, \
             request_token_id, created_at, expires_at, revoked_at, last_used_at) \
             SELECT randomblob(16), randomblob(32), '{consumer_key}', 'seed', x'00', \
             randomblob(16), {issued}, {expired}, NULL, {issued} FROM seq"
        ),
    };
    db.execute_unprepared(&sql).await.unwrap();
    let _ = db.close().await;
}

async fn the_scheduler_sweeps_on_its_schedule_and_stops_with_the_server(backend: Backend) {
    let Some(app) = spawn_app_with(backend, every_second).await else {
        return;
    };
    let consumer = hmac_consumer(&app, "ticking").await;
    request_token(&app, &consumer, "oob").await;
    request_token(&app, &consumer, "oob").await;
    app.advance(Duration::minutes(10));
    let swept = wait_until(Duration::seconds(10), "the scheduler swept", async || {
        app.count_rows("request_tokens").await == 0 && app.count_rows("nonces").await == 0
    })
    .await;
    let sweeper = app.sweeper.clone();
    let stopped = app.cleanup().await;
    swept.unwrap();
    assert!(stopped, "the server and its scheduler stopped within 5 s");
    let totals = sweeper.totals();
    assert_eq!(totals.removed(SweepJob::RequestTokens), 2);
    assert_eq!(totals.removed(SweepJob::Nonces), 2);
    assert!(totals.runs(SweepJob::AccessTokens) >= 1);
    assert!(logs::captured().contains("sweep finished"));
    // Stopped means stopped: no tick runs afterwards.
    let runs = SweepJob::ALL.map(|job| totals.runs(job));
    sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(SweepJob::ALL.map(|job| totals.runs(job)), runs);
}

async fn a_failed_sweep_is_logged_and_the_next_tick_recovers(app: &TestApp) {
    let TestDatabase::Postgres { admin_url, name } = app.database() else {
        panic!("this scenario needs Postgres")
    };
    let consumer = hmac_consumer(app, "resilient").await;
    request_token(app, &consumer, "oob").await;
    let admin = Database::connect(admin_url.as_str()).await.unwrap();
    let allow = |allowed: bool| format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS {allowed}");
    let since = logs::position();

    admin.execute_unprepared(&allow(false)).await.unwrap();
    admin
        .execute_unprepared(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        ))
        .await
        .unwrap();
    app.advance(Duration::minutes(10));
    let failed = wait_until(Duration::seconds(30), "a sweep failed", async || {
        app.sweeper.totals().failures(SweepJob::RequestTokens) > 0
    })
    .await;
    admin.execute_unprepared(&allow(true)).await.unwrap();
    let _ = admin.close().await;
    failed.expect("sweeps fail while the database is away");
    assert!(
        logs::captured_since(since).contains("sweep failed; it will be tried again"),
        "the failure is logged"
    );

    wait_until(Duration::seconds(30), "a later tick swept", async || {
        app.sweeper.totals().removed(SweepJob::RequestTokens) == 1
    })
    .await
    .expect("the scheduler recovered by itself");
    assert_eq!(app.count_rows("request_tokens").await, 0);
    // The server never went down.
    let mut client = app.authority.clone();
    client
        .issue_request_token(consumer.request_token("oob"))
        .await
        .expect("the server still answers");
}

/// Polls `done` until it holds or `within` has passed; `Err` with `what` if it never did.
async fn wait_until(
    within: Duration,
    what: &str,
    mut done: impl AsyncFnMut() -> bool,
) -> Result<(), String> {
    let deadline = Instant::now() + within.to_std().unwrap();
    while Instant::now() < deadline {
        if done().await {
            return Ok(());
        }
        sleep(std::time::Duration::from_millis(100)).await;
    }
    Err(format!("timed out waiting until {what}"))
}
