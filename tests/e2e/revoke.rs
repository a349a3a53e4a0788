//! Who may revoke what: a consumer its own tokens, a user their own grants, an admin
//! anything. A refused revocation changes nothing and says so.
//!
//! A consumer revokes only with a request signed to mean that revocation: a POST to the
//! revoke URL naming the target in its form body. No other request it signed (a
//! resource request any service may have seen) revokes anything.

use latchkey_api::v1 as pb;
use latchkey_tests::app::{ADMIN, FRONTEND, SERVICE, service_hash, with_credential};
use latchkey_tests::consumer::{Extras, RESOURCE_URL, REVOKE_URL};
use latchkey_tests::flows::{access_token, grants, hmac_consumer, rsa_consumer};
use latchkey_tests::http::{Answer, PUBLIC_BASE_URL, client, pod_url, public_url};
use latchkey_tests::{Backend, TestApp, TestConsumer, assert_problem};
use pb::revoke_request::{Actor, Target};
use tonic::Code;
use tonic_types::StatusExt;

on_both_backends!(
    a_consumer_revokes_its_own_tokens_and_no_one_elses,
    a_consumers_resource_request_replayed_as_a_revocation_is_refused_and_revokes_nothing,
    a_signed_revocation_revokes_the_target_its_body_names,
    a_revocation_that_does_not_say_exactly_what_to_revoke_is_refused_and_revokes_nothing,
    a_replayed_revocation_is_refused_as_nonce_used,
    the_revoke_url_over_http_revokes_what_the_signed_body_names_and_refuses_the_rest,
    a_user_revokes_their_own_grants_and_no_one_elses,
    an_admin_revokes_anything_and_needs_the_admin_credential,
);

fn revoke(target: Target, actor: Actor) -> pb::RevokeRequest {
    pb::RevokeRequest {
        target: Some(target),
        actor: Some(actor),
    }
}

/// A consumer's revocation over gRPC: the signed body names the target, and so does
/// the RPC's `target`.
fn consumer_revokes(consumer: &TestConsumer, target: Target) -> pb::RevokeRequest {
    let signed = match &target {
        Target::TokenId(id) => consumer.revocation(&[("token_id", id.as_str())]),
        Target::ConsumerKey(key) => consumer.revocation(&[("consumer_key", key.as_str())]),
        Target::UserGrants(grants) => consumer.revocation(&[
            ("user_id", grants.user_id.as_str()),
            ("consumer_key", grants.consumer_key.as_str()),
        ]),
        other => panic!("not a consumer's target: {other:?}"),
    };
    revoke(target, Actor::Consumer(signed))
}

/// The companion parameters a refusal names (`oauth_parameters_rejected` or
/// `oauth_parameters_absent`).
fn named(status: &tonic::Status) -> String {
    let details = status.get_error_details();
    let metadata = &details.error_info().unwrap().metadata;
    metadata
        .get("oauth_parameters_rejected")
        .or_else(|| metadata.get("oauth_parameters_absent"))
        .cloned()
        .unwrap_or_default()
}

async fn a_consumer_revokes_its_own_tokens_and_no_one_elses(app: &TestApp) {
    let mine = hmac_consumer(app, "mine").await;
    let theirs = hmac_consumer(app, "theirs").await;
    let (my_token, my_secret, my_id) = access_token(app, &mine, "tina").await;
    let (their_token, their_secret, their_id) = access_token(app, &theirs, "tina").await;
    let mut client = app.authority.clone();

    for target in [
        Target::TokenId(their_id.clone()),
        Target::ConsumerKey("theirs".into()),
        Target::UserGrants(pb::UserGrants {
            user_id: "tina".into(),
            consumer_key: "theirs".into(),
        }),
    ] {
        assert_problem(
            client.revoke(consumer_revokes(&mine, target)).await,
            Code::PermissionDenied,
            "permission_denied",
        );
    }
    client
        .validate_access(theirs.resource(&their_token, &their_secret))
        .await
        .expect("the refused revocations changed nothing");

    // A forged consumer signature proves nothing.
    let mut forged = consumer_revokes(&mine, Target::TokenId(my_id.clone()));
    if let Some(Actor::Consumer(signed)) = &mut forged.actor {
        signed.authorization = signed
            .authorization
            .replace("oauth_signature=\"", "oauth_signature=\"AAAA");
    }
    assert_problem(
        client.revoke(forged).await,
        Code::Unauthenticated,
        "signature_invalid",
    );

    let revoked = client
        .revoke(consumer_revokes(&mine, Target::TokenId(my_id.clone())))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(revoked.revoked, 1);
    let again = client
        .revoke(consumer_revokes(&mine, Target::TokenId(my_id)))
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
        .revoke(consumer_revokes(&mine, Target::ConsumerKey("mine".into())))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.revoked, 2);
}

async fn a_consumers_resource_request_replayed_as_a_revocation_is_refused_and_revokes_nothing(
    app: &TestApp,
) {
    let consumer = hmac_consumer(app, "replayed").await;
    let (token, secret, id) = access_token(app, &consumer, "ann").await;
    let mut client = app.authority.clone();
    // What every resource service on the way sees: a GET signed with the access token.
    let Some(pb::validate_access_request::Request::Signed(seen)) =
        consumer.resource(&token, &secret).request
    else {
        unreachable!("a resource request is signed")
    };
    // And a two-legged POST to a resource, its body signed too.
    let posted = consumer.sign(
        "POST",
        RESOURCE_URL,
        &Extras {
            form: vec![("consumer_key", "replayed")],
            ..Extras::default()
        },
    );
    for target in [
        Target::ConsumerKey("replayed".into()),
        Target::TokenId(id.clone()),
        Target::UserGrants(pb::UserGrants {
            user_id: "ann".into(),
            consumer_key: "replayed".into(),
        }),
    ] {
        for signed in [&seen, &posted] {
            let status = assert_problem(
                client
                    .revoke(revoke(target.clone(), Actor::Consumer(signed.clone())))
                    .await,
                Code::InvalidArgument,
                "parameter_rejected",
            );
            assert!(
                ["method", "url"].contains(&named(&status).as_str()),
                "{status:?}"
            );
        }
    }

    // Nothing was revoked and no nonce spent: the very request the services saw
    // still validates.
    let principal = client
        .validate_access(pb::ValidateAccessRequest {
            request: Some(pb::validate_access_request::Request::Signed(seen)),
        })
        .await
        .expect("the token is still live")
        .into_inner()
        .principal
        .unwrap();
    assert_eq!(principal.token_id, id);
}

async fn a_signed_revocation_revokes_the_target_its_body_names(app: &TestApp) {
    let consumer = rsa_consumer(app, "named").await;
    let (first, first_secret, first_id) = access_token(app, &consumer, "ann").await;
    let (second, second_secret, _) = access_token(app, &consumer, "ann").await;
    let (bobs, bobs_secret, _) = access_token(app, &consumer, "bob").await;
    let mut client = app.authority.clone();

    // The signed body alone may name the target: the RPC's `target` is optional.
    let revoked = client
        .revoke(pb::RevokeRequest {
            target: None,
            actor: Some(Actor::Consumer(
                consumer.revocation(&[("token_id", first_id.as_str())]),
            )),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(revoked.revoked, 1);
    assert_problem(
        client
            .validate_access(consumer.resource(&first, &first_secret))
            .await,
        Code::Unauthenticated,
        "token_revoked",
    );
    client
        .validate_access(consumer.resource(&second, &second_secret))
        .await
        .expect("only the named token was revoked");

    let anns = Target::UserGrants(pb::UserGrants {
        user_id: "ann".into(),
        consumer_key: "named".into(),
    });
    let revoked = client
        .revoke(consumer_revokes(&consumer, anns))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(revoked.revoked, 1, "ann's second token");
    client
        .validate_access(consumer.resource(&bobs, &bobs_secret))
        .await
        .expect("bob's grant is not ann's");

    let revoked = client
        .revoke(consumer_revokes(
            &consumer,
            Target::ConsumerKey("named".into()),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(revoked.revoked, 1, "bob's token, the last one");
    assert_problem(
        client
            .validate_access(consumer.resource(&bobs, &bobs_secret))
            .await,
        Code::Unauthenticated,
        "token_revoked",
    );
}

async fn a_revocation_that_does_not_say_exactly_what_to_revoke_is_refused_and_revokes_nothing(
    app: &TestApp,
) {
    let consumer = hmac_consumer(app, "careful").await;
    let (token, secret, id) = access_token(app, &consumer, "ann").await;
    let mut client = app.authority.clone();
    let everything = || Target::ConsumerKey("careful".into());
    let in_body = |method: &str, url: &str| {
        consumer.sign(
            method,
            url,
            &Extras {
                form: vec![("consumer_key", "careful")],
                ..Extras::default()
            },
        )
    };
    let cases = [
        (
            "the RPC names another target than the signed body",
            everything(),
            consumer.revocation(&[("token_id", id.as_str())]),
            Code::InvalidArgument,
            "parameter_rejected",
            "target",
        ),
        (
            "not a POST",
            everything(),
            in_body("GET", REVOKE_URL),
            Code::InvalidArgument,
            "parameter_rejected",
            "method",
        ),
        (
            "another path",
            everything(),
            in_body("POST", &public_url("/plugins/servlet/oauth/access-token")),
            Code::InvalidArgument,
            "parameter_rejected",
            "url",
        ),
        (
            "another host",
            everything(),
            in_body(
                "POST",
                "https://jira.example.com/plugins/servlet/oauth/revoke",
            ),
            Code::InvalidArgument,
            "parameter_rejected",
            "url",
        ),
        (
            "the target in the query, not the body",
            everything(),
            consumer.sign(
                "POST",
                REVOKE_URL,
                &Extras {
                    query: vec![("consumer_key", "careful")],
                    ..Extras::default()
                },
            ),
            Code::InvalidArgument,
            "parameter_rejected",
            "url",
        ),
        (
            "no target in the body (as when it is not form-encoded)",
            everything(),
            consumer.sign("POST", REVOKE_URL, &Extras::default()),
            Code::InvalidArgument,
            "parameter_absent",
            "token_id&consumer_key",
        ),
        (
            "two targets in the body",
            everything(),
            consumer.revocation(&[("token_id", id.as_str()), ("consumer_key", "careful")]),
            Code::InvalidArgument,
            "parameter_rejected",
            "token_id&consumer_key",
        ),
    ];
    for (case, target, signed, code, problem, parameters) in cases {
        let status = assert_problem(
            client.revoke(revoke(target, Actor::Consumer(signed))).await,
            code,
            problem,
        );
        assert_eq!(named(&status), parameters, "{case}: {status:?}");
    }
    client
        .validate_access(consumer.resource(&token, &secret))
        .await
        .expect("no refused revocation revoked anything");
}

async fn a_replayed_revocation_is_refused_as_nonce_used(app: &TestApp) {
    let consumer = hmac_consumer(app, "once").await;
    access_token(app, &consumer, "ann").await;
    let mut client = app.authority.clone();
    let everything = consumer_revokes(&consumer, Target::ConsumerKey("once".into()));
    let revoked = client
        .revoke(everything.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(revoked.revoked, 1);

    let (token, secret, _) = access_token(app, &consumer, "bob").await;
    assert_problem(
        client.revoke(everything).await,
        Code::Unauthenticated,
        "nonce_used",
    );
    client
        .validate_access(consumer.resource(&token, &secret))
        .await
        .expect("the replay revoked nothing");
}

/// Sends a signed request to the pod as an ingress would forward it.
async fn send(app: &TestApp, signed: &pb::SignedRequest, content_type: &str) -> Answer {
    let path = signed.url.strip_prefix(PUBLIC_BASE_URL).unwrap();
    let method = reqwest::Method::from_bytes(signed.method.as_bytes()).unwrap();
    let response = client()
        .request(method, pod_url(app, path))
        .header("authorization", &signed.authorization)
        .header("content-type", content_type)
        .body(signed.form_body.clone())
        .send()
        .await
        .unwrap();
    Answer::read(response).await
}

const FORM: &str = "application/x-www-form-urlencoded";

async fn the_revoke_url_over_http_revokes_what_the_signed_body_names_and_refuses_the_rest(
    app: &TestApp,
) {
    let consumer = hmac_consumer(app, "over-http").await;
    let (token, secret, id) = access_token(app, &consumer, "ann").await;
    let mut grpc = app.authority.clone();
    let this_token = consumer.revocation(&[("token_id", id.as_str())]);

    let refusals = [
        (
            "not a POST",
            consumer.sign(
                "GET",
                REVOKE_URL,
                &Extras {
                    form: vec![("token_id", id.as_str())],
                    ..Extras::default()
                },
            ),
            FORM,
            400,
            "parameter_rejected",
        ),
        (
            "the target in the query",
            consumer.sign(
                "POST",
                REVOKE_URL,
                &Extras {
                    query: vec![("token_id", id.as_str())],
                    ..Extras::default()
                },
            ),
            FORM,
            400,
            "parameter_rejected",
        ),
        (
            "a body that is not form-encoded",
            this_token.clone(),
            "text/plain",
            400,
            "parameter_absent",
        ),
    ];
    for (case, signed, content_type, status, problem) in refusals {
        let answer = send(app, &signed, content_type).await;
        assert_eq!(answer.status, status, "{case}: {answer:?}");
        assert_eq!(answer.problem(), problem, "{case}");
    }
    grpc.validate_access(consumer.resource(&token, &secret))
        .await
        .expect("no refused revocation revoked anything");

    let answer = send(app, &this_token, FORM).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.header("content-type"), FORM);
    assert_eq!(answer.header("cache-control"), "no-store");
    assert_eq!(answer.body, "revoked=1");
    assert_problem(
        grpc.validate_access(consumer.resource(&token, &secret))
            .await,
        Code::Unauthenticated,
        "token_revoked",
    );

    let replay = send(app, &this_token, FORM).await;
    assert_eq!(replay.status, 401, "{replay:?}");
    assert_eq!(replay.problem(), "nonce_used");
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
