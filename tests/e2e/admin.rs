//! Consumer administration over gRPC.

use latchkey_api::v1 as pb;
use latchkey_tests::TestApp;
use latchkey_tests::app::{ADMIN, FRONTEND, with_credential};
use latchkey_tests::flows::{access_token, hmac_consumer, set_enabled};
use tonic::Code;

on_both_backends!(
    consumers_are_registered_read_listed_in_pages_updated_and_deleted,
    consumer_administration_needs_the_admin_credential,
    bad_consumer_registrations_are_refused_with_the_field_named,
    a_disabled_consumer_is_refused_until_enabled_again,
);

fn register(key: &str) -> pb::RegisterConsumerRequest {
    pb::RegisterConsumerRequest {
        key: key.into(),
        name: format!("{key} name"),
        secret: Some(pb::register_consumer_request::Secret::GenerateSharedSecret(
            true,
        )),
        ..Default::default()
    }
}

async fn consumers_are_registered_read_listed_in_pages_updated_and_deleted(app: &TestApp) {
    let mut admin = app.admin.clone();
    for key in ["c-3", "c-1", "c-2"] {
        admin
            .register_consumer(with_credential(register(key), ADMIN))
            .await
            .unwrap();
    }
    let status = admin
        .register_consumer(with_credential(register("c-1"), ADMIN))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists);

    let first = admin
        .list_consumers(with_credential(
            pb::ListConsumersRequest {
                page_size: 2,
                page_token: String::new(),
            },
            ADMIN,
        ))
        .await
        .unwrap()
        .into_inner();
    let keys: Vec<_> = first.consumers.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(keys, ["c-1", "c-2"]);
    assert!(!first.next_page_token.is_empty());
    let second = admin
        .list_consumers(with_credential(
            pb::ListConsumersRequest {
                page_size: 2,
                page_token: first.next_page_token,
            },
            ADMIN,
        ))
        .await
        .unwrap()
        .into_inner();
    let keys: Vec<_> = second.consumers.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(keys, ["c-3"]);
    assert!(second.next_page_token.is_empty());
    let status = admin
        .list_consumers(with_credential(
            pb::ListConsumersRequest {
                page_size: 2,
                page_token: "%%%".into(),
            },
            ADMIN,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);

    let updated = admin
        .update_consumer(with_credential(
            pb::UpdateConsumerRequest {
                key: "c-1".into(),
                name: Some("Renamed".into()),
                callback_url: Some("https://app.example.com/cb".into()),
                token_policy: Some(pb::TokenPolicy {
                    access_token_ttl_seconds: 5 * 365 * 24 * 3600,
                    ..Default::default()
                }),
                ..Default::default()
            },
            ADMIN,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.name, "Renamed");
    assert_eq!(updated.callback_url, "https://app.example.com/cb");
    assert_eq!(
        updated.token_policy.unwrap().access_token_ttl_seconds,
        5 * 365 * 24 * 3600
    );
    let read = admin
        .get_consumer(with_credential(
            pb::GetConsumerRequest { key: "c-1".into() },
            ADMIN,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read, updated);

    let consumer = hmac_consumer(app, "with-tokens").await;
    access_token(app, &consumer, "u1").await;
    let (token, secret, _) = access_token(app, &consumer, "u2").await;
    let deleted = admin
        .delete_consumer(with_credential(
            pb::DeleteConsumerRequest {
                key: "with-tokens".into(),
            },
            ADMIN,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(deleted.tokens_deleted, 2);
    let mut client = app.authority.clone();
    let status = client
        .validate_access(consumer.resource(&token, &secret))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let status = admin
        .get_consumer(with_credential(
            pb::GetConsumerRequest {
                key: "with-tokens".into(),
            },
            ADMIN,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let status = admin
        .delete_consumer(with_credential(
            pb::DeleteConsumerRequest {
                key: "with-tokens".into(),
            },
            ADMIN,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
}

async fn consumer_administration_needs_the_admin_credential(app: &TestApp) {
    let mut admin = app.admin.clone();
    let status = admin.register_consumer(register("nope")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let status = admin
        .register_consumer(with_credential(register("nope"), FRONTEND))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let status = admin
        .list_consumers(with_credential(
            pb::ListConsumersRequest::default(),
            "guess",
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let listed = admin
        .list_consumers(with_credential(pb::ListConsumersRequest::default(), ADMIN))
        .await
        .unwrap()
        .into_inner();
    assert!(
        listed.consumers.is_empty(),
        "the refused registration wrote nothing"
    );
}

async fn bad_consumer_registrations_are_refused_with_the_field_named(app: &TestApp) {
    let mut admin = app.admin.clone();
    let cases = [
        (
            pb::RegisterConsumerRequest {
                key: "has space".into(),
                ..register("x")
            },
            "key",
        ),
        (
            pb::RegisterConsumerRequest {
                name: "  ".into(),
                ..register("x")
            },
            "name",
        ),
        (
            pb::RegisterConsumerRequest {
                callback_url: "not a url".into(),
                ..register("x")
            },
            "callback_url",
        ),
        (
            pb::RegisterConsumerRequest {
                public_key: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----".into(),
                secret: None,
                ..register("x")
            },
            "public_key",
        ),
        // No public key and no shared secret: the secret left out, given empty, or
        // not to be generated.
        (
            pb::RegisterConsumerRequest {
                secret: None,
                ..register("x")
            },
            "public_key",
        ),
        (
            pb::RegisterConsumerRequest {
                secret: Some(pb::register_consumer_request::Secret::SharedSecret(
                    String::new(),
                )),
                ..register("x")
            },
            "public_key",
        ),
        (
            pb::RegisterConsumerRequest {
                secret: Some(pb::register_consumer_request::Secret::GenerateSharedSecret(
                    false,
                )),
                ..register("x")
            },
            "public_key",
        ),
        (
            pb::RegisterConsumerRequest {
                signature_methods: vec![pb::SignatureMethod::RsaSha1 as i32],
                ..register("x")
            },
            "signature_methods",
        ),
        (
            pb::RegisterConsumerRequest {
                token_policy: Some(pb::TokenPolicy {
                    access_token_ttl_seconds: 5 * 365 * 24 * 3600 + 1,
                    ..Default::default()
                }),
                ..register("x")
            },
            "token_policy",
        ),
    ];
    for (request, field) in cases {
        let status = admin
            .register_consumer(with_credential(request, ADMIN))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        assert!(status.message().starts_with(field), "{field}: {status:?}");
    }
    let listed = admin
        .list_consumers(with_credential(pb::ListConsumersRequest::default(), ADMIN))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.consumers.is_empty());
}

async fn a_disabled_consumer_is_refused_until_enabled_again(app: &TestApp) {
    let consumer = hmac_consumer(app, "toggled").await;
    let (token, secret, _) = access_token(app, &consumer, "frank").await;
    let disabled = set_enabled(app, "toggled", false).await;
    assert!(!disabled.enabled);
    let mut client = app.authority.clone();
    latchkey_tests::assert_problem(
        client
            .validate_access(consumer.resource(&token, &secret))
            .await,
        Code::Unauthenticated,
        "consumer_key_rejected",
    );
    set_enabled(app, "toggled", true).await;
    client
        .validate_access(consumer.resource(&token, &secret))
        .await
        .unwrap();
}
