//! Who may revoke what: a consumer its own tokens, a user their own grants, an admin
//! anything. A refused revocation changes nothing and says so.

use latchkey_api::v1 as pb;
use latchkey_tests::app::{ADMIN, FRONTEND, SERVICE, service_hash, with_credential};
use latchkey_tests::consumer::{Extras, RESOURCE_URL};
use latchkey_tests::flows::{access_token, grants, hmac_consumer};
use latchkey_tests::{Backend, TestApp, assert_problem};
use pb::revoke_request::{Actor, Target};
use tonic::Code;

on_both_backends!(
    a_consumer_revokes_its_own_tokens_and_no_one_elses,
    a_user_revokes_their_own_grants_and_no_one_elses,
    an_admin_revokes_anything_and_needs_the_admin_credential,
);

fn revoke(target: Target, actor: Actor) -> pb::RevokeRequest {
    pb::RevokeRequest {
        target: Some(target),
        actor: Some(actor),
    }
}

async fn a_consumer_revokes_its_own_tokens_and_no_one_elses(app: &TestApp) {
    let mine = hmac_consumer(app, "mine").await;
    let theirs = hmac_consumer(app, "theirs").await;
    let (my_token, my_secret, my_id) = access_token(app, &mine, "tina").await;
    let (their_token, their_secret, their_id) = access_token(app, &theirs, "tina").await;
    let mut client = app.authority.clone();
    let as_mine = || Actor::Consumer(mine.sign("POST", RESOURCE_URL, &Extras::default()));

    assert_problem(
        client
            .revoke(revoke(Target::TokenId(their_id.clone()), as_mine()))
            .await,
        Code::PermissionDenied,
        "permission_denied",
    );
    assert_problem(
        client
            .revoke(revoke(Target::ConsumerKey("theirs".into()), as_mine()))
            .await,
        Code::PermissionDenied,
        "permission_denied",
    );
    assert_problem(
        client
            .revoke(revoke(
                Target::UserGrants(pb::UserGrants {
                    user_id: "tina".into(),
                    consumer_key: "theirs".into(),
                }),
                as_mine(),
            ))
            .await,
        Code::PermissionDenied,
        "permission_denied",
    );
    client
        .validate_access(theirs.resource(&their_token, &their_secret))
        .await
        .expect("the refused revocations changed nothing");

    // A forged consumer signature proves nothing.
    let mut forged = mine.sign("POST", RESOURCE_URL, &Extras::default());
    forged.authorization = forged
        .authorization
        .replace("oauth_signature=\"", "oauth_signature=\"AAAA");
    assert_problem(
        client
            .revoke(revoke(
                Target::TokenId(my_id.clone()),
                Actor::Consumer(forged),
            ))
            .await,
        Code::Unauthenticated,
        "signature_invalid",
    );

    let revoked = client
        .revoke(revoke(Target::TokenId(my_id.clone()), as_mine()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(revoked.revoked, 1);
    let again = client
        .revoke(revoke(Target::TokenId(my_id), as_mine()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        again.revoked, 0,
        "an already revoked token is not counted twice"
    );
    assert_problem(
        client
            .validate_access(mine.resource(&my_token, &my_secret))
            .await,
        Code::Unauthenticated,
        "token_revoked",
    );

    access_token(app, &mine, "uma").await;
    access_token(app, &mine, "victor").await;
    let all = client
        .revoke(revoke(Target::ConsumerKey("mine".into()), as_mine()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.revoked, 2);
}

async fn a_user_revokes_their_own_grants_and_no_one_elses(app: &TestApp) {
    let consumer = hmac_consumer(app, "shared").await;
    let (token, secret, id) = access_token(app, &consumer, "wendy").await;
    access_token(app, &consumer, "wendy").await;
    access_token(app, &consumer, "xavier").await;
    let mut client = app.authority.clone();
    let as_user = |user: &str| Actor::UserId(user.into());

    assert_problem(
        client
            .revoke(with_credential(
                revoke(Target::TokenId(id.clone()), as_user("xavier")),
                FRONTEND,
            ))
            .await,
        Code::PermissionDenied,
        "permission_denied",
    );
    assert_problem(
        client
            .revoke(with_credential(
                revoke(Target::ConsumerKey("shared".into()), as_user("wendy")),
                FRONTEND,
            ))
            .await,
        Code::PermissionDenied,
        "permission_denied",
    );
    // Without the frontend credential a user cannot be asserted at all.
    let status = client
        .revoke(revoke(Target::TokenId(id.clone()), as_user("wendy")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    client
        .validate_access(consumer.resource(&token, &secret))
        .await
        .expect("nothing was revoked");

    let wendys = Target::UserGrants(pb::UserGrants {
        user_id: "wendy".into(),
        consumer_key: "shared".into(),
    });
    let revoked = client
        .revoke(with_credential(revoke(wendys, as_user("wendy")), FRONTEND))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(revoked.revoked, 2);
    let left = grants(app, "xavier").await;
    assert_eq!(left.len(), 1, "another user's grant is untouched");
}

async fn an_admin_revokes_anything_and_needs_the_admin_credential(app: &TestApp) {
    let consumer = hmac_consumer(app, "admin-target").await;
    let (token, secret, _) = access_token(app, &consumer, "yara").await;
    access_token(app, &consumer, "zed").await;
    let mut client = app.authority.clone();
    let admin = || Actor::Admin(pb::AdminActor {});
    let status = client
        .revoke(with_credential(
            revoke(Target::ConsumerKey("admin-target".into()), admin()),
            FRONTEND,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let status = client
        .revoke(with_credential(
            revoke(Target::ConsumerKey("nobody".into()), admin()),
            ADMIN,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let status = client
        .revoke(with_credential(
            revoke(Target::TokenId(uuid::Uuid::new_v4().to_string()), admin()),
            ADMIN,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let status = client
        .revoke(with_credential(
            revoke(Target::TokenId("not-a-uuid".into()), admin()),
            ADMIN,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    client
        .validate_access(consumer.resource(&token, &secret))
        .await
        .unwrap();

    let revoked = client
        .revoke(with_credential(
            revoke(Target::ConsumerKey("admin-target".into()), admin()),
            ADMIN,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(revoked.revoked, 2);
    assert_problem(
        client
            .validate_access(consumer.resource(&token, &secret))
            .await,
        Code::Unauthenticated,
        "token_revoked",
    );
}

/// With a service credential configured, ValidateAccess demands it.
mod service_credential {
    use super::*;

    async fn validate_access_requires_the_service_credential_when_configured(app: &TestApp) {
        let consumer = hmac_consumer(app, "guarded").await;
        let (token, secret, _) = access_token(app, &consumer, "amy").await;
        let mut client = app.authority.clone();
        let status = client
            .validate_access(consumer.resource(&token, &secret))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
        let principal = client
            .validate_access(with_credential(consumer.resource(&token, &secret), SERVICE))
            .await
            .unwrap()
            .into_inner()
            .principal
            .unwrap();
        assert_eq!(principal.user_id, "amy");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_sqlite() {
        crate::run_with(
            Backend::Sqlite,
            |config| config.credentials.service_hash = Some(service_hash()),
            validate_access_requires_the_service_credential_when_configured,
        )
        .await;
    }
}
