//! 2-legged OAuth over gRPC, as Jira's incoming-link screen configures it: a request
//! signed by the consumer alone, and one naming its user in `xoauth_requestor_id`;
//! the settings through RegisterConsumer, UpdateConsumer and GetConsumer.

use crate::ecosystem::{sample, scrape};
use latchkey_api::v1 as pb;
use latchkey_tests::app::{ADMIN, with_credential};
use latchkey_tests::consumer::{Extras, RESOURCE_URL, Signer, TestConsumer};
use latchkey_tests::flows::{access_token, hmac_consumer};
use latchkey_tests::{TestApp, assert_problem};
use tonic::Code;

on_both_backends!(
    a_link_that_allows_two_legged_oauth_acts_as_its_execute_as_user,
    impersonation_acts_for_the_named_user_once_the_link_allows_it,
    two_legged_requests_the_link_does_not_allow_are_refused_with_the_right_words,
);

const METRIC: &str = "latchkey_two_legged_validations_total";

fn link(allowed: bool, execute_as: &str, impersonation: bool) -> pb::TwoLeggedOAuth {
    pb::TwoLeggedOAuth {
        allowed,
        execute_as_user: execute_as.into(),
        allow_user_impersonation: impersonation,
    }
}

async fn linked(app: &TestApp, key: &str, two_legged: pb::TwoLeggedOAuth) -> TestConsumer {
    let mut admin = app.admin.clone();
    let registered = admin
        .register_consumer(with_credential(
            pb::RegisterConsumerRequest {
                key: key.into(),
                name: format!("{key} app"),
                secret: Some(pb::register_consumer_request::Secret::GenerateSharedSecret(
                    true,
                )),
                two_legged: Some(two_legged),
                ..Default::default()
            },
            ADMIN,
        ))
        .await
        .unwrap()
        .into_inner();
    TestConsumer::new(
        key,
        Signer::HmacSha1(registered.generated_shared_secret),
        app.clock.clone(),
    )
}

/// A resource request signed with no token, with `query` signed in the URL.
fn two_legged(consumer: &TestConsumer, query: Vec<(&str, &str)>) -> pb::ValidateAccessRequest {
    let signed = consumer.sign(
        "GET",
        RESOURCE_URL,
        &Extras {
            query,
            ..Extras::default()
        },
    );
    pb::ValidateAccessRequest {
        request: Some(pb::validate_access_request::Request::Signed(signed)),
    }
}

async fn validate(
    app: &TestApp,
    request: pb::ValidateAccessRequest,
) -> Result<pb::Principal, tonic::Status> {
    let mut client = app.authority.clone();
    let response = client.validate_access(request).await?;
    Ok(response.into_inner().principal.unwrap())
}

async fn counted(app: &TestApp, kind: &str) -> f64 {
    sample(&scrape(app).await, METRIC, &[("kind", kind)]).unwrap_or(0.0)
}

async fn a_link_that_allows_two_legged_oauth_acts_as_its_execute_as_user(app: &TestApp) {
    let consumer = linked(app, "confluence", link(true, "robot", false)).await;
    let mut admin = app.admin.clone();
    let shown = admin
        .get_consumer(with_credential(
            pb::GetConsumerRequest {
                key: "confluence".into(),
            },
            ADMIN,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(shown.two_legged, Some(link(true, "robot", false)));

    let before = counted(app, "two_legged").await;
    let principal = validate(app, two_legged(&consumer, vec![])).await.unwrap();
    assert_eq!(principal.user_id, "robot");
    assert_eq!(principal.consumer_key, "confluence");
    assert_eq!(principal.kind, pb::AccessKind::TwoLegged as i32);
    assert_eq!(
        (principal.token_id.as_str(), principal.expires_at),
        ("", None)
    );
    assert_eq!(counted(app, "two_legged").await, before + 1.0);

    // A three-legged request of the same consumer still acts for its user.
    let (token, secret, _) = access_token(app, &consumer, "alice").await;
    let principal = validate(app, consumer.resource(&token, &secret))
        .await
        .unwrap();
    assert_eq!(principal.user_id, "alice");
    assert_eq!(principal.kind, pb::AccessKind::Granted as i32);
}

async fn impersonation_acts_for_the_named_user_once_the_link_allows_it(app: &TestApp) {
    let consumer = linked(app, "confluence", link(true, "", false)).await;
    let impersonating = || two_legged(&consumer, vec![("xoauth_requestor_id", "alice")]);
    assert_problem(
        validate(app, impersonating()).await,
        Code::PermissionDenied,
        "permission_denied",
    );
    let principal = validate(app, two_legged(&consumer, vec![])).await.unwrap();
    assert_eq!(principal.user_id, "", "no execute-as user: no user");

    let mut admin = app.admin.clone();
    let updated = admin
        .update_consumer(with_credential(
            pb::UpdateConsumerRequest {
                key: "confluence".into(),
                two_legged: Some(link(true, "", true)),
                ..Default::default()
            },
            ADMIN,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.two_legged, Some(link(true, "", true)));
    let before = counted(app, "impersonation").await;
    let principal = validate(app, impersonating()).await.unwrap();
    assert_eq!(principal.user_id, "alice");
    assert_eq!(principal.kind, pb::AccessKind::Impersonation as i32);
    assert_eq!(counted(app, "impersonation").await, before + 1.0);
}

async fn two_legged_requests_the_link_does_not_allow_are_refused_with_the_right_words(
    app: &TestApp,
) {
    let plain = hmac_consumer(app, "jira").await;
    assert_problem(
        validate(app, two_legged(&plain, vec![])).await,
        Code::PermissionDenied,
        "permission_denied",
    );
    let impersonating = linked(app, "bamboo", link(true, "", true)).await;
    for bad in ["", "a\u{1}b"] {
        let status = assert_problem(
            validate(
                app,
                two_legged(&impersonating, vec![("xoauth_requestor_id", bad)]),
            )
            .await,
            Code::InvalidArgument,
            "parameter_rejected",
        );
        assert!(
            status.message().contains("xoauth_requestor_id"),
            "{status:?}"
        );
    }
    // A requestor beside a user's token is refused, not silently ignored.
    let (token, secret, _) = access_token(app, &impersonating, "alice").await;
    let signed = impersonating.sign(
        "GET",
        RESOURCE_URL,
        &Extras {
            token: Some((&token, &secret)),
            query: vec![("xoauth_requestor_id", "mallory")],
            ..Extras::default()
        },
    );
    assert_problem(
        validate(
            app,
            pb::ValidateAccessRequest {
                request: Some(pb::validate_access_request::Request::Signed(signed)),
            },
        )
        .await,
        Code::InvalidArgument,
        "parameter_rejected",
    );
    // An execute-as user that is no user id is refused at registration.
    let mut admin = app.admin.clone();
    let status = admin
        .update_consumer(with_credential(
            pb::UpdateConsumerRequest {
                key: "jira".into(),
                two_legged: Some(link(true, "bad\u{0}user", false)),
                ..Default::default()
            },
            ADMIN,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("execute_as_user"), "{status:?}");
}
