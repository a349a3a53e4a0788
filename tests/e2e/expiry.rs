//! Expiry with an injected clock: each token ends exactly at its policy, not a second
//! before, and is refused at once with no sweeper involved.

use chrono::Duration;
use latchkey_api::v1 as pb;
use latchkey_tests::app::{ADMIN, with_credential};
use latchkey_tests::flows::{
    access_token, decide, describe, grants, hmac_consumer, hmac_consumer_with_policy, request_token,
};
use latchkey_tests::{TestApp, assert_problem};
use tonic::Code;

on_both_backends!(
    a_request_token_ends_at_ten_minutes_not_a_second_before,
    an_approved_request_token_cannot_be_exchanged_once_expired,
    an_access_token_ends_at_its_consumers_policy,
    a_policy_change_applies_to_tokens_issued_afterwards_only,
);

async fn a_request_token_ends_at_ten_minutes_not_a_second_before(app: &TestApp) {
    let consumer = hmac_consumer(app, "clocked").await;
    let (early, _) = request_token(app, &consumer, "oob").await;
    let (late, _) = request_token(app, &consumer, "oob").await;
    app.advance(Duration::seconds(599));
    decide(app, &early, "pat", pb::Decision::Approve)
        .await
        .unwrap();
    app.advance(Duration::seconds(1));
    assert_problem(
        decide(app, &late, "pat", pb::Decision::Approve).await,
        Code::FailedPrecondition,
        "token_expired",
    );
    let described = describe(app, &late).await;
    assert_eq!(described.state(), pb::RequestTokenState::Expired);
}

async fn an_approved_request_token_cannot_be_exchanged_once_expired(app: &TestApp) {
    let consumer = hmac_consumer(app, "slow").await;
    let (token, secret) = request_token(app, &consumer, "oob").await;
    let verifier = decide(app, &token, "quinn", pb::Decision::Approve)
        .await
        .unwrap()
        .verifier;
    app.advance(Duration::minutes(10));
    let mut client = app.authority.clone();
    assert_problem(
        client
            .exchange_token(consumer.exchange(&token, &secret, &verifier))
            .await,
        Code::Unauthenticated,
        "token_expired",
    );
}

async fn an_access_token_ends_at_its_consumers_policy(app: &TestApp) {
    let hourly = hmac_consumer_with_policy(
        app,
        "hourly",
        Some(pb::TokenPolicy {
            access_token_ttl_seconds: 3600,
            ..Default::default()
        }),
    )
    .await;
    let weekly = hmac_consumer(app, "weekly").await;
    let (hourly_token, hourly_secret, _) = access_token(app, &hourly, "rob").await;
    let (weekly_token, weekly_secret, _) = access_token(app, &weekly, "rob").await;
    let mut client = app.authority.clone();

    app.advance(Duration::seconds(3599));
    client
        .validate_access(hourly.resource(&hourly_token, &hourly_secret))
        .await
        .unwrap();
    app.advance(Duration::seconds(1));
    assert_problem(
        client
            .validate_access(hourly.resource(&hourly_token, &hourly_secret))
            .await,
        Code::Unauthenticated,
        "token_expired",
    );
    client
        .validate_access(weekly.resource(&weekly_token, &weekly_secret))
        .await
        .unwrap();

    app.advance(Duration::days(7) - Duration::seconds(3601));
    client
        .validate_access(weekly.resource(&weekly_token, &weekly_secret))
        .await
        .unwrap();
    app.advance(Duration::seconds(1));
    assert_problem(
        client
            .validate_access(weekly.resource(&weekly_token, &weekly_secret))
            .await,
        Code::Unauthenticated,
        "token_expired",
    );
    let grants = grants(app, "rob").await;
    assert!(grants.is_empty(), "expired grants are not listed");
}

async fn a_policy_change_applies_to_tokens_issued_afterwards_only(app: &TestApp) {
    let consumer = hmac_consumer(app, "changing").await;
    let (before, before_secret, _) = access_token(app, &consumer, "sam").await;
    let mut admin = app.admin.clone();
    admin
        .update_consumer(with_credential(
            pb::UpdateConsumerRequest {
                key: "changing".into(),
                token_policy: Some(pb::TokenPolicy {
                    access_token_ttl_seconds: 60,
                    ..Default::default()
                }),
                ..Default::default()
            },
            ADMIN,
        ))
        .await
        .unwrap();
    let (after, after_secret, _) = access_token(app, &consumer, "sam").await;
    app.advance(Duration::seconds(60));
    let mut client = app.authority.clone();
    assert_problem(
        client
            .validate_access(consumer.resource(&after, &after_secret))
            .await,
        Code::Unauthenticated,
        "token_expired",
    );
    client
        .validate_access(consumer.resource(&before, &before_secret))
        .await
        .unwrap();
}
