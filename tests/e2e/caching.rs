//! The hot path's consumer and client caches never outlive a change: not on the
//! replica that made it, not on another replica of the same Postgres database, and not
//! while the change feed is down. Each test first proves the cache is in use (its hit
//! counter moves), so that it would fail if a stale entry were served.

use crate::ecosystem::{sample, scrape};
use latchkey_api::v1 as pb;
use latchkey_tests::app::{ADMIN, with_credential};
use latchkey_tests::flows::{access_token, hmac_consumer, set_enabled};
use latchkey_tests::oauth2::{grant, register_client, validate};
use latchkey_tests::{TestApp, TestConsumer, assert_problem};
use sea_orm::ConnectionTrait;
use std::time::{Duration, Instant};
use tonic::Code;

on_both_backends!(a_consumer_changed_through_this_replica_is_refused_at_once,);

// Two replicas need a database server to share.
on_postgres_only!(
    a_consumer_disabled_on_one_replica_is_refused_on_another,
    an_oauth2_client_deleted_on_one_replica_is_refused_on_another,
    while_the_change_feed_is_down_no_replica_serves_a_stale_consumer,
);

/// How long another replica may take to hear a change. Notifications arrive in
/// milliseconds; this only bounds a failing test.
const HEARD_WITHIN: Duration = Duration::from_secs(5);
/// How long a replica may take to notice its listening session is gone: under the
/// 2 s it waits before listening again, whose fresh start would hide a missed loss.
const NOTICED_WITHIN: Duration = Duration::from_secs(1);

async fn cache_hits(app: &TestApp, cache: &str) -> f64 {
    let text = scrape(app).await;
    sample(
        &text,
        "latchkey_record_cache_lookups_total",
        &[("cache", cache), ("result", "hit")],
    )
    .unwrap_or(0.0)
}

async fn validate_signed(
    app: &TestApp,
    consumer: &TestConsumer,
    token: &str,
    secret: &str,
) -> Result<pb::ValidateAccessResponse, tonic::Status> {
    app.authority
        .clone()
        .validate_access(consumer.resource(token, secret))
        .await
        .map(tonic::Response::into_inner)
}

/// Validates on `app` until the consumer is refused as disabled; fails after
/// `within`.
async fn refused_within(
    within: Duration,
    app: &TestApp,
    consumer: &TestConsumer,
    token: &str,
    secret: &str,
) {
    let started = Instant::now();
    loop {
        match validate_signed(app, consumer, token, secret).await {
            Ok(_) if started.elapsed() < within => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            result => {
                assert_problem(result, Code::Unauthenticated, "consumer_key_rejected");
                return;
            }
        }
    }
}

async fn a_consumer_changed_through_this_replica_is_refused_at_once(app: &TestApp) {
    let consumer = hmac_consumer(app, "cached-here").await;
    let (token, secret, _) = access_token(app, &consumer, "ann").await;
    for _ in 0..3 {
        validate_signed(app, &consumer, &token, &secret)
            .await
            .unwrap();
    }
    assert!(
        cache_hits(app, "consumers").await >= 2.0,
        "the cache is in use"
    );
    set_enabled(app, "cached-here", false).await;
    assert_problem(
        validate_signed(app, &consumer, &token, &secret).await,
        Code::Unauthenticated,
        "consumer_key_rejected",
    );
    set_enabled(app, "cached-here", true).await;
    validate_signed(app, &consumer, &token, &secret)
        .await
        .unwrap();
}

async fn a_consumer_disabled_on_one_replica_is_refused_on_another(app: &TestApp) {
    let other = app.spawn_replica().await;
    let consumer = hmac_consumer(app, "cached-there").await;
    let (token, secret, _) = access_token(app, &consumer, "ann").await;
    for _ in 0..3 {
        validate_signed(&other, &consumer, &token, &secret)
            .await
            .unwrap();
    }
    assert!(
        cache_hits(&other, "consumers").await >= 2.0,
        "the cache is in use"
    );

    set_enabled(app, "cached-there", false).await;
    refused_within(HEARD_WITHIN, &other, &consumer, &token, &secret).await;
    // Enabled again, the other replica hears that too.
    set_enabled(app, "cached-there", true).await;
    let started = Instant::now();
    while validate_signed(&other, &consumer, &token, &secret)
        .await
        .is_err()
    {
        assert!(started.elapsed() < HEARD_WITHIN, "never enabled again");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(other.cleanup().await);
}

/// Deleting a client takes its tokens too, so this holds with or without the cache;
/// it is here so that the cache can never change that.
async fn an_oauth2_client_deleted_on_one_replica_is_refused_on_another(app: &TestApp) {
    let other = app.spawn_replica().await;
    let client = register_client(app, "cached-client", true).await;
    let tokens = grant(app, &client).await;
    for _ in 0..3 {
        validate(&other, &tokens.access_token).await.unwrap();
    }
    assert!(
        cache_hits(&other, "oauth2_clients").await >= 2.0,
        "the cache is in use"
    );

    app.admin
        .clone()
        .delete_o_auth2_client(with_credential(
            pb::DeleteOAuth2ClientRequest {
                client_id: "cached-client".into(),
            },
            ADMIN,
        ))
        .await
        .unwrap();
    let started = Instant::now();
    while validate(&other, &tokens.access_token).await.is_ok() {
        assert!(
            started.elapsed() < HEARD_WITHIN,
            "the deleted client's token still works"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(other.cleanup().await);
}

async fn while_the_change_feed_is_down_no_replica_serves_a_stale_consumer(app: &TestApp) {
    let other = app.spawn_replica().await;
    let consumer = hmac_consumer(app, "feed-down").await;
    let (token, secret, _) = access_token(app, &consumer, "ann").await;
    for _ in 0..3 {
        validate_signed(&other, &consumer, &token, &secret)
            .await
            .unwrap();
    }
    assert!(
        cache_hits(&other, "consumers").await >= 2.0,
        "the cache is in use"
    );

    // Cut every listening session on this database, then change the consumer behind
    // the replicas' backs, with a statement of the test's own that notifies no one.
    let sql = app.sql().await;
    sql.execute_unprepared(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .await
    .unwrap();
    sql.execute_unprepared("UPDATE consumers SET enabled = false WHERE key = 'feed-down'")
        .await
        .unwrap();
    // A replica stops trusting its cache as soon as its session drops, well before it
    // listens again (2 s later) and long before the entry would age out (a minute).
    refused_within(NOTICED_WITHIN, &other, &consumer, &token, &secret).await;
    refused_within(NOTICED_WITHIN, app, &consumer, &token, &secret).await;
    assert!(other.cleanup().await);
}
