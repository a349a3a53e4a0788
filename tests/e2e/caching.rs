//! The hot path's consumer, client and token caches never outlive a change: not on
//! the replica that made it, not on another replica of the same Postgres database once
//! the call that made the change has answered, and not while the change feed is down.
//! Each test first proves the cache is in use (its hit counter moves), so that it would
//! fail if a stale entry were served.

use crate::ecosystem::{sample, scrape};
use latchkey_api::v1 as pb;
use latchkey_tests::app::{ADMIN, with_credential};
use latchkey_tests::flows::{access_token, hmac_consumer, set_enabled};
use latchkey_tests::oauth2::TestClient;
use latchkey_tests::oauth2::{grant, register_client, validate};
use latchkey_tests::{TestApp, TestConsumer, assert_problem};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use std::time::{Duration, Instant};
use tonic::Code;

on_both_backends!(
    a_consumer_changed_through_this_replica_is_refused_at_once,
    cached_tokens_revoked_or_cut_through_this_replica_are_refused_at_once,
);

// Two replicas need a database server to share.
on_postgres_only!(
    tokens_revoked_on_one_replica_are_refused_on_another,
    no_revoked_token_passes_on_another_replica_once_revoke_has_answered,
    an_unread_replica_beats_its_heartbeat_slowly_and_the_next_read_wakes_it,
    a_token_used_on_another_replica_is_not_refused_as_idle_from_a_stale_copy,
    a_consumer_disabled_on_one_replica_is_refused_on_another,
    an_oauth2_client_deleted_on_one_replica_is_refused_on_another,
    while_the_change_feed_is_down_no_replica_serves_a_stale_consumer,
);

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
    cached_on(app, "consumers", async || {
        validate_signed(app, &consumer, &token, &secret)
            .await
            .unwrap();
    })
    .await;
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
    cached_on(&other, "consumers", async || {
        validate_signed(&other, &consumer, &token, &secret)
            .await
            .unwrap();
    })
    .await;

    // Once the change has answered, the other replica knows.
    set_enabled(app, "cached-there", false).await;
    assert_problem(
        validate_signed(&other, &consumer, &token, &secret).await,
        Code::Unauthenticated,
        "consumer_key_rejected",
    );
    // Enabled again, the other replica knows that too.
    set_enabled(app, "cached-there", true).await;
    validate_signed(&other, &consumer, &token, &secret)
        .await
        .expect("enabled again");
    assert!(other.cleanup().await);
}

/// Deleting a client takes its tokens too, so this holds with or without the cache;
/// it is here so that the cache can never change that.
async fn an_oauth2_client_deleted_on_one_replica_is_refused_on_another(app: &TestApp) {
    let other = app.spawn_replica().await;
    let client = register_client(app, "cached-client", true).await;
    let tokens = grant(app, &client).await;
    cached_on(&other, "oauth2_clients", async || {
        validate(&other, &tokens.access_token).await.unwrap();
    })
    .await;

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
    let refused = validate(&other, &tokens.access_token).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    assert!(other.cleanup().await);
}

async fn while_the_change_feed_is_down_no_replica_serves_a_stale_consumer(app: &TestApp) {
    let other = app.spawn_replica().await;
    let consumer = hmac_consumer(app, "feed-down").await;
    let (token, secret, _) = access_token(app, &consumer, "ann").await;
    cached_on(&other, "consumers", async || {
        validate_signed(&other, &consumer, &token, &secret)
            .await
            .unwrap();
    })
    .await;

    // Cut every listening session on this database, then change the consumer behind
    // the replicas' backs, with a statement of the test's own that notifies no one.
    let sql = app.sql().await;
    let feeds = sql
        .execute_unprepared(&format!(
            "SELECT pg_terminate_backend(pid) {}",
            feed_sessions()
        ))
        .await
        .unwrap();
    assert_eq!(
        feeds.rows_affected(),
        2,
        "one listening session per replica"
    );
    sql.execute_unprepared("UPDATE consumers SET enabled = false WHERE key = 'feed-down'")
        .await
        .unwrap();
    // A replica stops trusting its cache as soon as its session drops, well before it
    // listens again (2 s later) and long before the entry would age out (a minute).
    refused_within(NOTICED_WITHIN, &other, &consumer, &token, &secret).await;
    refused_within(NOTICED_WITHIN, app, &consumer, &token, &secret).await;
    assert!(other.cleanup().await);
}

/// Revokes one OAuth 1.0a access token, by id, as the admin.
async fn revoke_by_id(app: &TestApp, token_id: &str) {
    app.authority
        .clone()
        .revoke(with_credential(
            pb::RevokeRequest {
                target: Some(pb::revoke_request::Target::TokenId(token_id.into())),
                actor: Some(pb::revoke_request::Actor::Admin(pb::AdminActor {})),
            },
            ADMIN,
        ))
        .await
        .unwrap();
}

/// Revokes an OAuth 2.0 token by value, as its client (RFC 7009).
async fn revoke_bearer(app: &TestApp, client: &TestClient, token: &str) {
    app.authority
        .clone()
        .revoke(pb::RevokeRequest {
            target: Some(pb::revoke_request::Target::Oauth2Token(token.into())),
            actor: Some(pb::revoke_request::Actor::Oauth2Client(
                client.credentials(),
            )),
        })
        .await
        .unwrap();
}

/// Validates on `app` until `cache` has served twice, which proves it is in use. On
/// Postgres the first reads after a quiet spell go to the store while the replica's
/// heartbeat wakes, so this validates as often as that takes (a few times).
async fn cached_on(app: &TestApp, cache: &str, validate_once: impl AsyncFn()) {
    let before = cache_hits(app, cache).await;
    let started = Instant::now();
    loop {
        validate_once().await;
        if cache_hits(app, cache).await >= before + 2.0 {
            return;
        }
        assert!(
            started.elapsed() < NOTICED_WITHIN,
            "the {cache} cache is never used"
        );
    }
}

/// Proves `cached_on_replica` serves the bearer `token` from its cache, revokes it
/// through `revoker`, and expects `cached_on_replica` to refuse it as revoked the
/// moment `Revoke` answers.
async fn revoked_bearer_is_refused_at_once(
    cached_on_replica: &TestApp,
    revoker: &TestApp,
    client: &TestClient,
    token: &str,
) {
    cached_on(cached_on_replica, "oauth2_tokens", async || {
        validate(cached_on_replica, token).await.unwrap();
    })
    .await;
    revoke_bearer(revoker, client, token).await;
    let refused = validate(cached_on_replica, token).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    assert!(refused.message().contains("revoked"), "{refused:?}");
}

async fn cached_tokens_revoked_or_cut_through_this_replica_are_refused_at_once(app: &TestApp) {
    let consumer = hmac_consumer(app, "cached-tokens").await;
    let (token, secret, token_id) = access_token(app, &consumer, "ann").await;
    let (cut, cut_secret, _) = access_token(app, &consumer, "bob").await;
    let validate_both = async || {
        validate_signed(app, &consumer, &token, &secret)
            .await
            .unwrap();
        validate_signed(app, &consumer, &cut, &cut_secret)
            .await
            .unwrap();
    };
    cached_on(app, "access_tokens", validate_both).await;
    revoke_by_id(app, &token_id).await;
    assert_problem(
        validate_signed(app, &consumer, &token, &secret).await,
        Code::Unauthenticated,
        "token_revoked",
    );
    // Cutting issued tokens' lifetime (a consumer change) reaches cached tokens too.
    validate_signed(app, &consumer, &cut, &cut_secret)
        .await
        .unwrap();
    app.admin
        .clone()
        .update_consumer(with_credential(
            pb::UpdateConsumerRequest {
                key: "cached-tokens".into(),
                token_policy: Some(pb::TokenPolicy {
                    access_token_ttl_seconds: 60,
                    ..Default::default()
                }),
                apply_to_issued_tokens: true,
                ..Default::default()
            },
            ADMIN,
        ))
        .await
        .unwrap();
    app.advance(chrono::Duration::seconds(61));
    assert_problem(
        validate_signed(app, &consumer, &cut, &cut_secret).await,
        Code::Unauthenticated,
        "token_expired",
    );

    let client = register_client(app, "cached-bearer", true).await;
    let tokens = grant(app, &client).await;
    revoked_bearer_is_refused_at_once(app, app, &client, &tokens.access_token).await;
}

async fn tokens_revoked_on_one_replica_are_refused_on_another(app: &TestApp) {
    let other = app.spawn_replica().await;
    let consumer = hmac_consumer(app, "revoked-there").await;
    let (token, secret, token_id) = access_token(app, &consumer, "ann").await;
    cached_on(&other, "access_tokens", async || {
        validate_signed(&other, &consumer, &token, &secret)
            .await
            .unwrap();
    })
    .await;
    revoke_by_id(app, &token_id).await;
    assert_problem(
        validate_signed(&other, &consumer, &token, &secret).await,
        Code::Unauthenticated,
        "token_revoked",
    );

    let client = register_client(app, "revoked-there-bearer", true).await;
    let tokens = grant(app, &client).await;
    revoked_bearer_is_refused_at_once(&other, app, &client, &tokens.access_token).await;
    assert!(other.cleanup().await);
}

/// A notification reaches the other replica a millisecond or so after the revocation
/// commits: without `Revoke` waiting out the caches' lease, a validation sent there
/// the moment `Revoke` answers would often still pass. Twenty revocations in a row
/// leave no room for luck.
async fn no_revoked_token_passes_on_another_replica_once_revoke_has_answered(app: &TestApp) {
    let other = app.spawn_replica().await;
    let client = register_client(app, "revoked-in-a-row", true).await;
    for _ in 0..20 {
        let tokens = grant(app, &client).await;
        revoked_bearer_is_refused_at_once(&other, app, &client, &tokens.access_token).await;
    }
    assert!(other.cleanup().await);
}

/// Uses are recorded without telling other replicas, so a replica's cached copy may
/// hold an older last use than the row: an idle verdict from it is checked first.
async fn a_token_used_on_another_replica_is_not_refused_as_idle_from_a_stale_copy(app: &TestApp) {
    let other = app.spawn_replica().await;
    let consumer = hmac_consumer(app, "idle-elsewhere").await;
    app.admin
        .clone()
        .update_consumer(with_credential(
            pb::UpdateConsumerRequest {
                key: "idle-elsewhere".into(),
                token_policy: Some(pb::TokenPolicy {
                    idle_timeout_seconds: 60,
                    ..Default::default()
                }),
                ..Default::default()
            },
            ADMIN,
        ))
        .await
        .unwrap();
    let (token, secret, _) = access_token(app, &consumer, "ann").await;
    // The other replica caches the token as used now.
    cached_on(&other, "access_tokens", async || {
        validate_signed(&other, &consumer, &token, &secret)
            .await
            .unwrap();
    })
    .await;
    // 50 s later it is used here; 50 s after that, the other replica's copy says
    // 100 s idle, the row 50 s.
    app.advance(chrono::Duration::seconds(50));
    validate_signed(app, &consumer, &token, &secret)
        .await
        .unwrap();
    app.advance(chrono::Duration::seconds(50));
    validate_signed(&other, &consumer, &token, &secret)
        .await
        .expect("used 50 s ago on the first replica: not idle");
    // Truly idle, it is refused.
    app.advance(chrono::Duration::seconds(61));
    assert_problem(
        validate_signed(&other, &consumer, &token, &secret).await,
        Code::Unauthenticated,
        "token_expired",
    );
    assert!(other.cleanup().await);
}

/// `FROM` and `WHERE` picking the change-feed sessions of the app's database.
fn feed_sessions() -> String {
    format!(
        "FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name = '{}'",
        latchkey_store::CHANGE_FEED_SESSION_NAME
    )
}

/// The longest either replica's change-feed session has gone without a query, now.
async fn feed_quiet_for(app: &TestApp) -> Duration {
    let row = app
        .sql()
        .await
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT extract(epoch FROM clock_timestamp() - min(state_change))::float8 AS quiet {}",
                feed_sessions()
            ),
        ))
        .await
        .unwrap()
        .expect("one row");
    Duration::from_secs_f64(row.try_get::<f64>("", "quiet").unwrap())
}

/// A replica whose caches nobody reads sends about a query a second, not a hundred;
/// the first read wakes its heartbeat, the caches serve again, and revocation stays
/// immediate whether the heartbeat idled or not.
async fn an_unread_replica_beats_its_heartbeat_slowly_and_the_next_read_wakes_it(app: &TestApp) {
    let other = app.spawn_replica().await;
    let client = register_client(app, "idle-feed", true).await;
    let tokens = grant(app, &client).await;
    // Nothing reads either replica's caches for longer than they wait before idling.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let mut quietest = Duration::ZERO;
    for _ in 0..15 {
        quietest = quietest.max(feed_quiet_for(app).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        quietest >= Duration::from_millis(300),
        "an idle session goes quiet for most of a second, here at most {quietest:?}"
    );

    // Reads wake it: within a few beats the cache serves.
    revoked_bearer_is_refused_at_once(&other, app, &client, &tokens.access_token).await;
    assert!(other.cleanup().await);
}
