//! The pipeline every signed request goes through, seen through `ValidateAccess` and
//! `IssueRequestToken`: consumer, timestamp window, method, signature, nonce.

use crate::authority::Caller;
use crate::error::Problem;
use crate::oauth1::SignatureMethod;
use crate::oauth1::consumers::ConsumerDraft;
use crate::oauth1::records::NonceRecord;
use crate::policy::Policy;
use crate::testing::consumer::{RESOURCE_URL, SignedHttp, Signer};
use crate::testing::refusals::{is_unauthenticated, oauth_failure, oauth_problem};
use crate::testing::{
    Access, CONSUMER_SECRET, Extras, Fixture, TestConsumer, USER, admin, service,
};
use chrono::Duration;

/// A resource request with the access token, and whatever else `extras` says.
fn resource(consumer: &TestConsumer, access: &Access, extras: Extras<'_>) -> SignedHttp {
    consumer.sign(
        "GET",
        RESOURCE_URL,
        &Extras {
            token: Some((&access.token, &access.secret)),
            ..extras
        },
    )
}

#[tokio::test]
async fn a_valid_signed_request_validates_to_its_principal() {
    let fx = Fixture::new();
    let consumer = fx.hmac_consumer("jira").await;
    let access = fx.access(&consumer).await;
    let principal = fx
        .authority
        .validate_access(
            &Caller::ANONYMOUS,
            &consumer.resource(&access.token, &access.secret).http(),
        )
        .await
        .unwrap();
    assert_eq!(principal.user_id.as_deref(), Some(USER));
    assert_eq!(principal.consumer_key, "jira");
    assert_eq!(principal.token_id, Some(access.issued.token_id));
    assert_eq!(principal.expires_at, Some(access.issued.expires_at));
}

#[tokio::test]
async fn a_replayed_request_is_refused_as_nonce_used() {
    let fx = Fixture::new();
    let consumer = fx.hmac_consumer("jira").await;
    let access = fx.access(&consumer).await;
    let signed = consumer.resource(&access.token, &access.secret);
    fx.authority
        .validate_access(&service(), &signed.http())
        .await
        .unwrap();
    assert_eq!(
        oauth_problem(
            fx.authority
                .validate_access(&service(), &signed.http())
                .await
        ),
        Problem::NonceUsed
    );
}

#[tokio::test]
async fn a_nonce_stays_spent_while_its_timestamp_is_inside_the_window_and_no_longer() {
    let fx = Fixture::new();
    let consumer = fx.hmac_consumer("jira").await;
    let access = fx.access(&consumer).await;
    let with_nonce = || {
        resource(
            &consumer,
            &access,
            Extras {
                nonce: Some("once-only"),
                ..Extras::default()
            },
        )
    };
    let first = with_nonce();
    fx.authority
        .validate_access(&service(), &first.http())
        .await
        .unwrap();
    let spent = fx.store.read(|t| {
        t.nonces
            .get(&("jira".to_owned(), "once-only".to_owned()))
            .cloned()
    });
    let spent: NonceRecord = spent.unwrap();
    // Kept for the window and the second the whole-second comparison adds.
    assert_eq!(
        spent.expires_at,
        fx.now() + Duration::minutes(5) + Duration::seconds(1)
    );

    // Same nonce, a fresh timestamp, while the first is still inside the window.
    fx.advance(Duration::minutes(5));
    assert_eq!(
        oauth_problem(
            fx.authority
                .validate_access(&service(), &with_nonce().http())
                .await
        ),
        Problem::NonceUsed
    );
    // Once the first timestamp is outside the window, a replay of it is refused by the
    // timestamp check, and the nonce may be used again.
    fx.advance(Duration::seconds(1));
    assert_eq!(
        oauth_problem(
            fx.authority
                .validate_access(&service(), &first.http())
                .await
        ),
        Problem::TimestampRefused
    );
    fx.authority
        .validate_access(&service(), &with_nonce().http())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_timestamp_outside_the_five_minute_window_is_refused_with_the_acceptable_range() {
    let fx = Fixture::new();
    let consumer = fx.hmac_consumer("jira").await;
    let access = fx.access(&consumer).await;
    let now = u64::try_from(fx.now().timestamp()).unwrap();
    let spent_before = fx.store.read(|t| t.nonces.len());
    for timestamp in [now - 301, now + 301] {
        let signed = resource(
            &consumer,
            &access,
            Extras {
                timestamp: Some(timestamp),
                ..Extras::default()
            },
        );
        let failure = oauth_failure(
            fx.authority
                .validate_access(&service(), &signed.http())
                .await,
        );
        assert_eq!(failure.problem, Problem::TimestampRefused, "{timestamp}");
        assert_eq!(
            failure.advice.acceptable_timestamps,
            Some(format!("{}-{}", now - 300, now + 300))
        );
    }
    for timestamp in [now - 300, now + 300] {
        let signed = resource(
            &consumer,
            &access,
            Extras {
                timestamp: Some(timestamp),
                ..Extras::default()
            },
        );
        assert!(
            fx.authority
                .validate_access(&service(), &signed.http())
                .await
                .is_ok(),
            "{timestamp} is at the edge of the window"
        );
    }
    assert_eq!(
        fx.store.read(|t| t.nonces.len()),
        spent_before + 2,
        "only the accepted requests spent their nonces"
    );
}

#[tokio::test]
async fn a_bad_signature_is_refused_and_spends_no_nonce() {
    let fx = Fixture::new();
    let consumer = fx.hmac_consumer("jira").await;
    let access = fx.access(&consumer).await;
    let forger = fx.signing_as("jira", Signer::HmacSha1("guessed".into()));
    let extras = || Extras {
        nonce: Some("contested"),
        ..Extras::default()
    };
    let forged = resource(&forger, &access, extras());
    assert_eq!(
        oauth_problem(
            fx.authority
                .validate_access(&service(), &forged.http())
                .await
        ),
        Problem::SignatureInvalid
    );
    // The genuine consumer's request with the same nonce still goes through.
    let genuine = resource(&consumer, &access, extras());
    fx.authority
        .validate_access(&service(), &genuine.http())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_request_changed_after_signing_is_refused() {
    let fx = Fixture::new();
    let consumer = fx.rsa_consumer("jira-rsa").await;
    let access = fx.access(&consumer).await;
    let mut signed = consumer.resource(&access.token, &access.secret);
    signed.url = format!("{RESOURCE_URL}?expand=everything");
    assert_eq!(
        oauth_problem(
            fx.authority
                .validate_access(&service(), &signed.http())
                .await
        ),
        Problem::SignatureInvalid
    );
}

#[tokio::test]
async fn an_unknown_or_disabled_consumer_is_refused() {
    let fx = Fixture::new();
    let consumer = fx.hmac_consumer("jira").await;
    let access = fx.access(&consumer).await;
    let stranger = fx.signing_as("stranger", Signer::HmacSha1(CONSUMER_SECRET.into()));
    assert_eq!(
        oauth_problem(
            fx.authority
                .validate_access(
                    &service(),
                    &stranger.resource(&access.token, &access.secret).http()
                )
                .await
        ),
        Problem::ConsumerKeyUnknown
    );
    fx.authority
        .set_consumer_enabled(&admin(), "jira", false)
        .await
        .unwrap();
    let signed = consumer.resource(&access.token, &access.secret);
    assert_eq!(
        oauth_problem(
            fx.authority
                .validate_access(&service(), &signed.http())
                .await
        ),
        Problem::ConsumerKeyRejected
    );
    assert_eq!(
        oauth_problem(
            fx.authority
                .issue_request_token(&consumer.request_token("oob").http())
                .await
        ),
        Problem::ConsumerKeyRejected
    );
}

#[tokio::test]
async fn a_signature_method_the_consumer_may_not_use_is_refused() {
    let fx = Fixture::new();
    fx.hmac_consumer("jira").await;
    let plaintext = fx.signing_as("jira", Signer::Plaintext(CONSUMER_SECRET.into()));
    let failure = oauth_failure(
        fx.authority
            .issue_request_token(&plaintext.request_token("oob").http())
            .await,
    );
    assert_eq!(failure.problem, Problem::SignatureMethodRejected);
    assert!(
        failure.detail.contains("may not sign with PLAINTEXT"),
        "{}",
        failure.detail
    );
    let rsa_only = fx.rsa_consumer("jira-rsa").await;
    let hmac = fx.signing_as(&rsa_only.key, Signer::HmacSha1(CONSUMER_SECRET.into()));
    assert_eq!(
        oauth_problem(
            fx.authority
                .issue_request_token(&hmac.request_token("oob").http())
                .await
        ),
        Problem::SignatureMethodRejected
    );
    assert!(fx.store.read(|t| t.request_tokens.is_empty()));
}

#[tokio::test]
async fn plaintext_is_accepted_over_https_only() {
    let fx = Fixture::new();
    let consumer = fx
        .consumer_from(ConsumerDraft {
            signature_methods: vec![SignatureMethod::Plaintext],
            ..Fixture::hmac_draft("plain")
        })
        .await;
    let consumer = fx.signing_as(&consumer.key, Signer::Plaintext(CONSUMER_SECRET.into()));
    let over_tls = consumer.request_token("oob");
    assert!(
        fx.authority
            .issue_request_token(&over_tls.http())
            .await
            .is_ok()
    );
    let in_clear = consumer.sign(
        "POST",
        "http://jira.example.com/plugins/servlet/oauth/request-token",
        &Extras {
            callback: Some("oob"),
            ..Extras::default()
        },
    );
    let failure = oauth_failure(fx.authority.issue_request_token(&in_clear.http()).await);
    assert_eq!(failure.problem, Problem::SignatureMethodRejected);
    assert!(failure.detail.contains("https"), "{}", failure.detail);
}

#[tokio::test]
async fn the_service_credential_is_required_when_the_policy_says_so() {
    let fx = Fixture::with_policy(Policy {
        require_service_credential: true,
        ..Policy::default()
    });
    let consumer = fx.hmac_consumer("jira").await;
    let access = fx.access(&consumer).await;
    let anonymous = fx
        .authority
        .validate_access(
            &Caller::ANONYMOUS,
            &consumer.resource(&access.token, &access.secret).http(),
        )
        .await;
    assert!(is_unauthenticated(&anonymous), "{anonymous:?}");
    for caller in [service(), admin()] {
        let signed = consumer.resource(&access.token, &access.secret);
        assert!(
            fx.authority
                .validate_access(&caller, &signed.http())
                .await
                .is_ok()
        );
    }
}
