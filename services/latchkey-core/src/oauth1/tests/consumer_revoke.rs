//! A consumer's signed revocation revokes what its signed body names, of its own
//! tokens, and nothing else.

use super::stored_access_token;
use crate::error::Problem;
use crate::oauth1::consumer_revoke::revoke_url;
use crate::oauth1::records::RevokeTarget;
use crate::records::AuditAction;
use crate::testing::consumer::{Extras, SignedHttp};
use crate::testing::refusals::{is_permission_denied, oauth_failure, oauth_problem};
use crate::testing::{Access, Fixture, Signer, TestConsumer, USER};

fn revocation(fx: &Fixture, consumer: &TestConsumer, target: &[(&str, &str)]) -> SignedHttp {
    consumer.revocation(&revoke_url(&fx.authority.policy().public_base_url), target)
}

fn is_live(fx: &Fixture, access: &Access) -> bool {
    stored_access_token(&fx.store, access.issued.token_id)
        .revoked_at
        .is_none()
}

#[tokio::test]
async fn a_consumer_revokes_one_of_its_tokens_by_id_and_no_other() {
    let fx = Fixture::new();
    let jira = fx.hmac_consumer("jira").await;
    let named = fx.access(&jira).await;
    let other = fx.access(&jira).await;
    let id = named.issued.token_id.to_string();
    let signed = revocation(&fx, &jira, &[("token_id", &id)]);
    let revoked = fx
        .authority
        .revoke_as_consumer(&signed.http(), None)
        .await
        .unwrap();
    assert_eq!(revoked, 1);
    assert!(!is_live(&fx, &named));
    assert!(is_live(&fx, &other));
    let audit = fx.store.last_audit().unwrap();
    assert_eq!(audit.action, AuditAction::AccessTokensRevoked);
    assert_eq!(audit.actor, "consumer:jira");
}

#[tokio::test]
async fn a_consumer_revokes_one_users_grants_to_it() {
    let fx = Fixture::new();
    let jira = fx.hmac_consumer("jira").await;
    let ann = [fx.access(&jira).await, fx.access(&jira).await];
    let bob = fx.access_as(&jira, "bob").await;
    let signed = revocation(&fx, &jira, &[("user_id", USER), ("consumer_key", "jira")]);
    let revoked = fx
        .authority
        .revoke_as_consumer(&signed.http(), None)
        .await
        .unwrap();
    assert_eq!(revoked, 2);
    assert!(ann.iter().all(|access| !is_live(&fx, access)));
    assert!(is_live(&fx, &bob));
}

#[tokio::test]
async fn a_consumer_revokes_all_of_its_tokens_and_none_of_another_consumers() {
    let fx = Fixture::new();
    let jira = fx.hmac_consumer("jira").await;
    let wiki = fx.hmac_consumer("wiki").await;
    let own = [fx.access(&jira).await, fx.access_as(&jira, "bob").await];
    let others = fx.access(&wiki).await;
    let signed = revocation(&fx, &jira, &[("consumer_key", "jira")]);
    let revoked = fx
        .authority
        .revoke_as_consumer(&signed.http(), None)
        .await
        .unwrap();
    assert_eq!(revoked, 2);
    assert!(own.iter().all(|access| !is_live(&fx, access)));
    assert!(is_live(&fx, &others));
}

#[tokio::test]
async fn a_consumer_may_not_revoke_what_belongs_to_another() {
    let fx = Fixture::new();
    let jira = fx.hmac_consumer("jira").await;
    let wiki = fx.hmac_consumer("wiki").await;
    let wikis = fx.access(&wiki).await;
    let id = wikis.issued.token_id.to_string();
    for target in [
        vec![("token_id", id.as_str())],
        vec![("consumer_key", "wiki")],
        vec![("user_id", USER), ("consumer_key", "wiki")],
    ] {
        let signed = revocation(&fx, &jira, &target);
        let result = fx.authority.revoke_as_consumer(&signed.http(), None).await;
        assert!(is_permission_denied(&result), "{target:?}: {result:?}");
    }
    assert!(is_live(&fx, &wikis));
}

#[tokio::test]
async fn a_stated_target_must_agree_with_the_signed_body_and_a_refusal_spends_no_nonce() {
    let fx = Fixture::new();
    let jira = fx.hmac_consumer("jira").await;
    let access = fx.access(&jira).await;
    let signed = revocation(&fx, &jira, &[("consumer_key", "jira")]);
    let differing = RevokeTarget::Token(access.issued.token_id);
    let failure = oauth_failure(
        fx.authority
            .revoke_as_consumer(&signed.http(), Some(&differing))
            .await,
    );
    assert_eq!(failure.problem, Problem::ParameterRejected);
    assert_eq!(failure.advice.parameters, ["target"]);
    assert!(is_live(&fx, &access));

    // The same signed request, stated in agreement, goes through: the refusal had
    // spent nothing.
    let agreeing = RevokeTarget::Consumer("jira".into());
    let revoked = fx
        .authority
        .revoke_as_consumer(&signed.http(), Some(&agreeing))
        .await
        .unwrap();
    assert_eq!(revoked, 1);
}

#[tokio::test]
async fn an_ordinary_signed_request_revokes_nothing() {
    let fx = Fixture::new();
    let jira = fx.hmac_consumer("jira").await;
    let access = fx.access(&jira).await;
    let resource = jira.resource(&access.token, &access.secret);
    let failure = oauth_failure(
        fx.authority
            .revoke_as_consumer(&resource.http(), None)
            .await,
    );
    assert_eq!(failure.problem, Problem::ParameterRejected);
    assert_eq!(failure.advice.parameters, ["method"]);

    let elsewhere = jira.sign(
        "POST",
        "https://jira.example.com/rest/api/2/search",
        &Extras {
            form: vec![("consumer_key", "jira")],
            ..Extras::default()
        },
    );
    let failure = oauth_failure(
        fx.authority
            .revoke_as_consumer(&elsewhere.http(), None)
            .await,
    );
    assert_eq!(failure.advice.parameters, ["url"]);
    assert!(is_live(&fx, &access));
}

#[tokio::test]
async fn a_replayed_revocation_is_refused_as_nonce_used() {
    let fx = Fixture::new();
    let jira = fx.hmac_consumer("jira").await;
    fx.access(&jira).await;
    let signed = revocation(&fx, &jira, &[("consumer_key", "jira")]);
    fx.authority
        .revoke_as_consumer(&signed.http(), None)
        .await
        .unwrap();
    assert_eq!(
        oauth_problem(fx.authority.revoke_as_consumer(&signed.http(), None).await),
        Problem::NonceUsed
    );
}

#[tokio::test]
async fn a_forged_revocation_revokes_nothing() {
    let fx = Fixture::new();
    let jira = fx.hmac_consumer("jira").await;
    let access = fx.access(&jira).await;
    let forger = fx.signing_as("jira", Signer::HmacSha1("guessed".into()));
    let signed = revocation(&fx, &forger, &[("consumer_key", "jira")]);
    assert_eq!(
        oauth_problem(fx.authority.revoke_as_consumer(&signed.http(), None).await),
        Problem::SignatureInvalid
    );
    assert!(is_live(&fx, &access));
}

#[tokio::test]
async fn a_revocation_signed_with_an_access_token_needs_that_token_live() {
    let fx = Fixture::new();
    let jira = fx.hmac_consumer("jira").await;
    let signing = fx.access(&jira).await;
    let named = fx.access(&jira).await;
    let url = revoke_url(&fx.authority.policy().public_base_url);
    let signed_with_token = |id: &str| {
        jira.sign(
            "POST",
            &url,
            &Extras {
                token: Some((&signing.token, &signing.secret)),
                form: vec![("token_id", id)],
                ..Extras::default()
            },
        )
    };
    let named_id = named.issued.token_id.to_string();
    let revoked = fx
        .authority
        .revoke_as_consumer(&signed_with_token(&named_id).http(), None)
        .await
        .unwrap();
    assert_eq!(revoked, 1);

    let signing_id = signing.issued.token_id.to_string();
    fx.authority
        .revoke_as_consumer(&signed_with_token(&signing_id).http(), None)
        .await
        .unwrap();
    let third = fx.access(&jira).await;
    let third_id = third.issued.token_id.to_string();
    assert_eq!(
        oauth_problem(
            fx.authority
                .revoke_as_consumer(&signed_with_token(&third_id).http(), None)
                .await
        ),
        Problem::TokenRevoked
    );
    assert!(is_live(&fx, &third));
}
