//! Single use under concurrency: request tokens, decisions and verifiers.

use latchkey_api::v1 as pb;
use latchkey_tests::app::{FRONTEND, with_credential};
use latchkey_tests::flows::{decide, describe, grants, hmac_consumer, request_token};
use latchkey_tests::{TestApp, assert_problem};
use tonic::Code;

on_both_backends!(
    fifty_concurrent_exchanges_of_one_request_token_yield_one_access_token,
    ten_concurrent_decisions_on_one_request_token_record_one,
    three_wrong_verifiers_kill_the_request_token,
);

async fn fifty_concurrent_exchanges_of_one_request_token_yield_one_access_token(app: &TestApp) {
    let consumer = hmac_consumer(app, "racer").await;
    let (token, secret) = request_token(app, &consumer, "oob").await;
    let verifier = decide(app, &token, "nina", pb::Decision::Approve)
        .await
        .unwrap()
        .verifier;
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let mut client = app.authority.clone();
            let request = consumer.exchange(&token, &secret, &verifier);
            tokio::spawn(async move { client.exchange_token(request).await })
        })
        .collect();
    let mut won = 0;
    for call in calls {
        match call.await.unwrap() {
            Ok(_) => won += 1,
            Err(status) => {
                assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
                assert_eq!(
                    status.metadata().get("oauth-problem").unwrap(),
                    "token_used",
                    "{status:?}"
                );
            }
        }
    }
    assert_eq!(won, 1);
    let grants = grants(app, "nina").await;
    assert_eq!(grants.len(), 1, "exactly one access token exists");
}

async fn ten_concurrent_decisions_on_one_request_token_record_one(app: &TestApp) {
    let consumer = hmac_consumer(app, "deciders").await;
    let (token, _) = request_token(app, &consumer, "oob").await;
    let calls: Vec<_> = (0..10)
        .map(|i| {
            let token = token.clone();
            let app_client = app.authority.clone();
            tokio::spawn(async move {
                let mut client = app_client;
                let decision = if i % 2 == 0 {
                    pb::Decision::Approve
                } else {
                    pb::Decision::Deny
                };
                client
                    .authorize(with_credential(
                        pb::AuthorizeRequest {
                            request: Some(pb::authorize_request::Request::Token(token)),
                            user_id: format!("user-{i}"),
                            decision: decision as i32,
                        },
                        FRONTEND,
                    ))
                    .await
            })
        })
        .collect();
    let mut recorded = 0;
    for call in calls {
        match call.await.unwrap() {
            Ok(_) => recorded += 1,
            Err(status) => assert_eq!(
                status.metadata().get("oauth-problem").unwrap(),
                "token_used"
            ),
        }
    }
    assert_eq!(recorded, 1);
}

async fn three_wrong_verifiers_kill_the_request_token(app: &TestApp) {
    let consumer = hmac_consumer(app, "guesser").await;
    let (token, secret) = request_token(app, &consumer, "oob").await;
    let verifier = decide(app, &token, "oscar", pb::Decision::Approve)
        .await
        .unwrap()
        .verifier;
    let mut client = app.authority.clone();
    for guess in ["AAAAAAAAAA", "BBBBBBBBBB", "CCCCCCCCCC"] {
        assert_problem(
            client
                .exchange_token(consumer.exchange(&token, &secret, guess))
                .await,
            Code::Unauthenticated,
            "token_rejected",
        );
    }
    // The right verifier no longer helps.
    let status = assert_problem(
        client
            .exchange_token(consumer.exchange(&token, &secret, &verifier))
            .await,
        Code::Unauthenticated,
        "token_rejected",
    );
    assert!(status.message().contains("died"), "{status:?}");
    let described = describe(app, &token).await;
    assert_eq!(described.state(), pb::RequestTokenState::Used);
}
