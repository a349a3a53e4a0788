//! The three legs: request token, the user's decision, the exchange.

use super::{stored_access_token, stored_request_token};
use crate::authority::{Caller, UserDecision};
use crate::error::{AuthorityError, Problem};
use crate::oauth1::consumers::ConsumerDraft;
use crate::oauth1::dance::RequestTokenStatus;
use crate::oauth1::records::RequestTokenState;
use crate::records::AuditAction;
use crate::secret::TokenHash;
use crate::testing::refusals::{
    is_not_found, is_unauthenticated, oauth_failure, oauth_problem, precondition,
};
use crate::testing::{Extras, Fixture, USER, admin, frontend, query_parameter, service};
use chrono::Duration;
use secrecy::ExposeSecret;

const REGISTERED_CALLBACK: &str = "https://app.example.com/cb";

async fn restricted(fx: &Fixture) -> crate::testing::TestConsumer {
    fx.consumer_from(ConsumerDraft {
        callback_url: Some(REGISTERED_CALLBACK.into()),
        ..Fixture::hmac_draft("jira")
    })
    .await
}

#[tokio::test]
async fn a_request_token_lives_ten_minutes_and_is_stored_pending_with_its_audit_line() {
    let fx = Fixture::new();
    let consumer = fx.hmac_consumer("jira").await;
    let issued = fx.request_token(&consumer, "oob").await;

    assert_eq!(issued.expires_at, fx.now() + Duration::minutes(10));
    assert_eq!(
        issued.authorize_url,
        format!(
            "http://localhost:8080/plugins/servlet/oauth/authorize?oauth_token={}",
            issued.token.expose_secret()
        )
    );
    let stored = stored_request_token(&fx.store, &issued);
    assert_eq!(stored.state, RequestTokenState::Pending);
    assert_eq!(stored.consumer_key, "jira");
    assert_eq!(stored.callback, "oob");
    assert_eq!(stored.user_id, None);
    let audit = fx.store.last_audit().unwrap();
    assert_eq!(audit.action, AuditAction::RequestTokenIssued);
    assert_eq!(audit.actor, "consumer:jira");
    assert_eq!(audit.token_id, Some(stored.id));
}

#[tokio::test]
async fn a_callback_under_the_registered_url_is_accepted() {
    let fx = Fixture::new();
    let consumer = restricted(&fx).await;
    let issued = fx
        .request_token(&consumer, "https://app.example.com/cb/done?x=1")
        .await;
    assert_eq!(
        stored_request_token(&fx.store, &issued).callback,
        "https://app.example.com/cb/done?x=1"
    );
}

#[tokio::test]
async fn a_callback_outside_the_registered_url_is_refused_and_nothing_is_issued() {
    let fx = Fixture::new();
    let consumer = restricted(&fx).await;
    for callback in [
        "https://app.example.com.evil.net/cb",
        "https://app.example.com/cbx",
        "http://app.example.com/cb",
    ] {
        let signed = consumer.request_token(callback);
        let failure = oauth_failure(fx.authority.issue_request_token(&signed.http()).await);
        assert_eq!(failure.problem, Problem::ParameterRejected, "{callback}");
        assert_eq!(failure.advice.parameters, ["oauth_callback"], "{callback}");
    }
    fx.store.read(|t| {
        assert!(t.request_tokens.is_empty());
        assert!(t.nonces.is_empty(), "a refused request spends no nonce");
    });
}

#[tokio::test]
async fn a_request_without_a_callback_is_refused_as_parameter_absent() {
    let fx = Fixture::new();
    let consumer = fx.hmac_consumer("jira").await;
    let signed = consumer.sign("POST", "https://jira.example.com/rt", &Extras::default());
    let failure = oauth_failure(fx.authority.issue_request_token(&signed.http()).await);
    assert_eq!(failure.problem, Problem::ParameterAbsent);
    assert_eq!(failure.advice.parameters, ["oauth_callback"]);
}

#[tokio::test]
async fn an_out_of_band_approval_gives_a_typable_verifier_and_no_redirect() {
    let fx = Fixture::new();
    let consumer = restricted(&fx).await;
    let issued = fx.request_token(&consumer, "oob").await;
    let outcome = fx
        .authority
        .authorize(
            &frontend(),
            issued.token.expose_secret(),
            USER,
            UserDecision::Approve,
        )
        .await
        .unwrap();
    assert!(outcome.out_of_band);
    assert_eq!(outcome.redirect_url, None);
    let verifier = outcome.verifier.unwrap();
    let verifier = verifier.expose_secret();
    assert_eq!(verifier.len(), 10);
    assert!(
        verifier
            .chars()
            .all(|c| "ABCDEFGHJKMNPQRSTUVWXYZ23456789".contains(c))
    );
}

#[tokio::test]
async fn an_approval_redirects_to_the_callback_with_the_token_and_verifier() {
    let fx = Fixture::new();
    let consumer = restricted(&fx).await;
    let issued = fx
        .request_token(&consumer, "https://app.example.com/cb?s=1")
        .await;
    let token = issued.token.expose_secret();
    let outcome = fx
        .authority
        .authorize(&frontend(), token, USER, UserDecision::Approve)
        .await
        .unwrap();

    let verifier = outcome.verifier.unwrap().expose_secret().to_owned();
    let redirect = outcome.redirect_url.unwrap();
    assert!(
        redirect.starts_with("https://app.example.com/cb?s=1&"),
        "{redirect}"
    );
    assert_eq!(
        query_parameter(&redirect, "oauth_token").as_deref(),
        Some(token)
    );
    assert_eq!(
        query_parameter(&redirect, "oauth_verifier"),
        Some(verifier.clone())
    );
    let stored = stored_request_token(&fx.store, &issued);
    assert_eq!(stored.state, RequestTokenState::Approved);
    assert_eq!(stored.user_id.as_deref(), Some(USER));
    assert_eq!(stored.verifier_hash, Some(TokenHash::of(&verifier)));
    assert_eq!(stored.decided_at, Some(fx.now()));
    let audit = fx.store.last_audit().unwrap();
    assert_eq!(audit.action, AuditAction::RequestTokenApproved);
    assert_eq!(audit.actor, "user:ann");
}

#[tokio::test]
async fn a_denial_redirects_with_user_refused_and_gives_no_verifier() {
    let fx = Fixture::new();
    let consumer = restricted(&fx).await;
    let issued = fx.request_token(&consumer, REGISTERED_CALLBACK).await;
    let outcome = fx
        .authority
        .authorize(
            &frontend(),
            issued.token.expose_secret(),
            USER,
            UserDecision::Deny,
        )
        .await
        .unwrap();
    assert!(outcome.verifier.is_none());
    let redirect = outcome.redirect_url.unwrap();
    assert_eq!(
        query_parameter(&redirect, "oauth_problem").as_deref(),
        Some("user_refused")
    );
    assert_eq!(query_parameter(&redirect, "oauth_verifier"), None);
    let stored = stored_request_token(&fx.store, &issued);
    assert_eq!(stored.state, RequestTokenState::Denied);
    assert_eq!(stored.verifier_hash, None);
    assert_eq!(
        fx.store.last_audit().unwrap().action,
        AuditAction::RequestTokenDenied
    );
}

#[tokio::test]
async fn only_the_frontend_may_decide() {
    let fx = Fixture::new();
    let consumer = fx.hmac_consumer("jira").await;
    let issued = fx.request_token(&consumer, "oob").await;
    for caller in [admin(), service(), Caller::ANONYMOUS] {
        let result = fx
            .authority
            .authorize(
                &caller,
                issued.token.expose_secret(),
                USER,
                UserDecision::Approve,
            )
            .await;
        assert!(is_unauthenticated(&result), "{caller:?}: {result:?}");
    }
    assert_eq!(
        stored_request_token(&fx.store, &issued).state,
        RequestTokenState::Pending
    );
    assert_eq!(
        fx.store.audit_actions().last(),
        Some(&AuditAction::RequestTokenIssued)
    );
}

#[tokio::test]
async fn a_request_token_is_decided_once() {
    let fx = Fixture::new();
    let consumer = fx.hmac_consumer("jira").await;
    let issued = fx.request_token(&consumer, "oob").await;
    fx.approve(&issued).await;
    let again = fx
        .authority
        .authorize(
            &frontend(),
            issued.token.expose_secret(),
            "bob",
            UserDecision::Deny,
        )
        .await;
    assert_eq!(precondition(again), Problem::TokenUsed);
    let stored = stored_request_token(&fx.store, &issued);
    assert_eq!(stored.state, RequestTokenState::Approved);
    assert_eq!(stored.user_id.as_deref(), Some(USER));
}

#[tokio::test]
async fn a_decision_on_an_expired_request_token_is_refused() {
    let fx = Fixture::new();
    let consumer = fx.hmac_consumer("jira").await;
    let issued = fx.request_token(&consumer, "oob").await;
    fx.advance(Duration::minutes(10));
    let result = fx
        .authority
        .authorize(
            &frontend(),
            issued.token.expose_secret(),
            USER,
            UserDecision::Approve,
        )
        .await;
    assert_eq!(precondition(result), Problem::TokenExpired);
    assert_eq!(
        stored_request_token(&fx.store, &issued).state,
        RequestTokenState::Pending
    );
}

#[tokio::test]
async fn a_decision_for_a_disabled_consumer_is_refused() {
    let fx = Fixture::new();
    let consumer = fx.hmac_consumer("jira").await;
    let issued = fx.request_token(&consumer, "oob").await;
    fx.authority
        .set_consumer_enabled(&admin(), "jira", false)
        .await
        .unwrap();
    let result = fx
        .authority
        .authorize(
            &frontend(),
            issued.token.expose_secret(),
            USER,
            UserDecision::Approve,
        )
        .await;
    assert_eq!(precondition(result), Problem::ConsumerKeyRejected);
    assert_eq!(
        stored_request_token(&fx.store, &issued).state,
        RequestTokenState::Pending
    );
}

#[tokio::test]
async fn a_decision_needs_a_known_token_and_a_valid_user_id() {
    let fx = Fixture::new();
    let consumer = fx.hmac_consumer("jira").await;
    let issued = fx.request_token(&consumer, "oob").await;
    let unknown = fx
        .authority
        .authorize(&frontend(), "no-such-token", USER, UserDecision::Approve)
        .await;
    assert!(is_not_found(&unknown), "{unknown:?}");
    assert_eq!(unknown.unwrap_err().problem(), Some(Problem::TokenRejected));
    let empty = fx
        .authority
        .authorize(&frontend(), "", USER, UserDecision::Approve)
        .await;
    assert!(matches!(
        empty,
        Err(AuthorityError::InvalidArgument { field: "token", .. })
    ));
    for user in ["", "ann\n", &"u".repeat(256)] {
        let result = fx
            .authority
            .authorize(
                &frontend(),
                issued.token.expose_secret(),
                user,
                UserDecision::Approve,
            )
            .await;
        assert!(
            matches!(
                result,
                Err(AuthorityError::InvalidArgument {
                    field: "user_id",
                    ..
                })
            ),
            "{user:?}: {result:?}"
        );
    }
    assert_eq!(
        stored_request_token(&fx.store, &issued).state,
        RequestTokenState::Pending
    );
}

async fn status(fx: &Fixture, token: &str) -> RequestTokenStatus {
    fx.authority
        .describe_request_token(&frontend(), token)
        .await
        .unwrap()
        .status
}

#[tokio::test]
async fn the_consent_screen_sees_where_the_token_stands() {
    let fx = Fixture::new();
    let consumer = fx.hmac_consumer("jira").await;
    let pending = fx.request_token(&consumer, "oob").await;
    let token = pending.token.expose_secret();
    let view = fx
        .authority
        .describe_request_token(&frontend(), token)
        .await
        .unwrap();
    assert_eq!(view.status, RequestTokenStatus::Pending);
    assert_eq!(view.consumer_name, "jira app");
    assert_eq!(view.callback, "oob");
    assert_eq!(view.expires_at, pending.expires_at);

    let verifier = fx.approve(&pending).await;
    assert_eq!(status(&fx, token).await, RequestTokenStatus::Approved);
    let exchange = consumer.exchange(token, pending.token_secret.expose_secret(), &verifier);
    fx.authority.exchange_token(&exchange.http()).await.unwrap();
    assert_eq!(status(&fx, token).await, RequestTokenStatus::Used);

    let denied = fx.request_token(&consumer, "oob").await;
    let denied = denied.token.expose_secret();
    fx.authority
        .authorize(&frontend(), denied, USER, UserDecision::Deny)
        .await
        .unwrap();
    assert_eq!(status(&fx, denied).await, RequestTokenStatus::Denied);
    fx.advance(Duration::minutes(10));
    assert_eq!(status(&fx, denied).await, RequestTokenStatus::Expired);
    assert_eq!(
        status(&fx, token).await,
        RequestTokenStatus::Used,
        "a used token stays used past its expiry"
    );

    let result = fx
        .authority
        .describe_request_token(&service(), denied)
        .await;
    assert!(is_unauthenticated(&result), "{result:?}");
    assert!(
        fx.authority
            .describe_request_token(&admin(), denied)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn the_exchange_issues_an_access_token_for_the_default_seven_days() {
    let fx = Fixture::new();
    let consumer = fx.hmac_consumer("jira").await;
    let request = fx.request_token(&consumer, "oob").await;
    let verifier = fx.approve(&request).await;
    fx.advance(Duration::minutes(2));
    let signed = consumer.exchange(
        request.token.expose_secret(),
        request.token_secret.expose_secret(),
        &verifier,
    );
    let issued = fx.authority.exchange_token(&signed.http()).await.unwrap();

    assert_eq!(issued.lifetime, Duration::days(7));
    assert_eq!(issued.expires_at, fx.now() + Duration::days(7));
    let stored = stored_access_token(&fx.store, issued.token_id);
    assert_eq!(
        stored.token_hash,
        TokenHash::of(issued.token.expose_secret())
    );
    assert_eq!(stored.user_id, USER);
    assert_eq!(stored.consumer_key, "jira");
    assert_eq!(stored.created_at, fx.now());
    assert_eq!(stored.last_used_at, fx.now());
    assert_eq!(stored.revoked_at, None);
    let request_row = stored_request_token(&fx.store, &request);
    assert_eq!(stored.request_token_id, request_row.id);
    assert_eq!(request_row.state, RequestTokenState::Exchanged);
    let audit = fx.store.last_audit().unwrap();
    assert_eq!(audit.action, AuditAction::AccessTokenIssued);
    assert_eq!(audit.token_id, Some(issued.token_id));
    assert_eq!(audit.user_id.as_deref(), Some(USER));
}

#[tokio::test]
async fn a_consumers_own_lifetime_sets_its_access_tokens_expiry() {
    let fx = Fixture::new();
    let consumer = fx
        .consumer_from(ConsumerDraft {
            access_token_ttl_seconds: Some(3600),
            ..Fixture::hmac_draft("jira")
        })
        .await;
    let access = fx.access(&consumer).await;
    assert_eq!(access.issued.lifetime, Duration::hours(1));
    assert_eq!(access.issued.expires_at, fx.now() + Duration::hours(1));
}

#[tokio::test]
async fn a_request_token_is_exchanged_once() {
    let fx = Fixture::new();
    let consumer = fx.hmac_consumer("jira").await;
    let request = fx.request_token(&consumer, "oob").await;
    let verifier = fx.approve(&request).await;
    let (token, secret) = (
        request.token.expose_secret(),
        request.token_secret.expose_secret(),
    );
    let first = consumer.exchange(token, secret, &verifier);
    fx.authority.exchange_token(&first.http()).await.unwrap();

    let second = consumer.exchange(token, secret, &verifier);
    assert_eq!(
        oauth_problem(fx.authority.exchange_token(&second.http()).await),
        Problem::TokenUsed
    );
    assert_eq!(fx.store.read(|t| t.access_tokens.len()), 1);
}

#[tokio::test]
async fn an_exchange_after_the_request_token_expired_is_refused() {
    let fx = Fixture::new();
    let consumer = fx.hmac_consumer("jira").await;
    let request = fx.request_token(&consumer, "oob").await;
    let verifier = fx.approve(&request).await;
    fx.advance(Duration::minutes(10));
    let signed = consumer.exchange(
        request.token.expose_secret(),
        request.token_secret.expose_secret(),
        &verifier,
    );
    assert_eq!(
        oauth_problem(fx.authority.exchange_token(&signed.http()).await),
        Problem::TokenExpired
    );
    assert!(fx.store.read(|t| t.access_tokens.is_empty()));
    assert_eq!(
        stored_request_token(&fx.store, &request).state,
        RequestTokenState::Approved
    );
}

#[tokio::test]
async fn an_exchange_of_a_denied_request_token_is_refused_as_permission_denied() {
    let fx = Fixture::new();
    let consumer = fx.hmac_consumer("jira").await;
    let request = fx.request_token(&consumer, "oob").await;
    fx.authority
        .authorize(
            &frontend(),
            request.token.expose_secret(),
            USER,
            UserDecision::Deny,
        )
        .await
        .unwrap();
    let signed = consumer.exchange(
        request.token.expose_secret(),
        request.token_secret.expose_secret(),
        "ABCDEFGHJK",
    );
    assert_eq!(
        oauth_problem(fx.authority.exchange_token(&signed.http()).await),
        Problem::PermissionDenied
    );
    assert!(fx.store.read(|t| t.access_tokens.is_empty()));
}

#[tokio::test]
async fn an_exchange_before_the_user_decides_is_refused_as_permission_unknown() {
    let fx = Fixture::new();
    let consumer = fx.hmac_consumer("jira").await;
    let request = fx.request_token(&consumer, "oob").await;
    let signed = consumer.exchange(
        request.token.expose_secret(),
        request.token_secret.expose_secret(),
        "ABCDEFGHJK",
    );
    assert_eq!(
        oauth_problem(fx.authority.exchange_token(&signed.http()).await),
        Problem::PermissionUnknown
    );
    assert_eq!(
        stored_request_token(&fx.store, &request).verifier_failures,
        0
    );
}

#[tokio::test]
async fn wrong_verifiers_are_counted_and_kill_the_request_token_at_the_limit() {
    let fx = Fixture::new();
    let consumer = fx.hmac_consumer("jira").await;
    let request = fx.request_token(&consumer, "oob").await;
    let verifier = fx.approve(&request).await;
    let (token, secret) = (
        request.token.expose_secret(),
        request.token_secret.expose_secret(),
    );

    for attempt in 1..=2u32 {
        let signed = consumer.exchange(token, secret, "WRONGWRONG");
        let failure = oauth_failure(fx.authority.exchange_token(&signed.http()).await);
        assert_eq!(failure.problem, Problem::TokenRejected);
        assert!(
            failure.detail.contains(&format!("{attempt} of 3")),
            "{}",
            failure.detail
        );
        let stored = stored_request_token(&fx.store, &request);
        assert_eq!(stored.verifier_failures, attempt);
        assert_eq!(stored.state, RequestTokenState::Approved);
        assert_eq!(
            fx.store.last_audit().unwrap().action,
            AuditAction::VerifierRejected
        );
    }
    let third = consumer.exchange(token, secret, "WRONGWRONG");
    let failure = oauth_failure(fx.authority.exchange_token(&third.http()).await);
    assert_eq!(failure.problem, Problem::TokenRejected);
    assert!(failure.detail.contains("now dead"), "{}", failure.detail);
    assert_eq!(
        stored_request_token(&fx.store, &request).state,
        RequestTokenState::Dead
    );
    let actions = fx.store.audit_actions();
    assert_eq!(
        actions[actions.len() - 2..],
        [
            AuditAction::VerifierRejected,
            AuditAction::RequestTokenKilled
        ]
    );

    // Dead is dead: even the right verifier is refused now.
    let right = consumer.exchange(token, secret, &verifier);
    assert_eq!(
        oauth_problem(fx.authority.exchange_token(&right.http()).await),
        Problem::TokenRejected
    );
    assert!(fx.store.read(|t| t.access_tokens.is_empty()));
}

#[tokio::test]
async fn another_consumers_request_token_is_rejected_and_left_alone() {
    let fx = Fixture::new();
    let owner = fx.hmac_consumer("jira").await;
    let other = fx.hmac_consumer("confluence").await;
    let request = fx.request_token(&owner, "oob").await;
    let verifier = fx.approve(&request).await;
    let signed = other.exchange(
        request.token.expose_secret(),
        request.token_secret.expose_secret(),
        &verifier,
    );
    assert_eq!(
        oauth_problem(fx.authority.exchange_token(&signed.http()).await),
        Problem::TokenRejected
    );
    let stored = stored_request_token(&fx.store, &request);
    assert_eq!(stored.state, RequestTokenState::Approved);
    assert_eq!(stored.verifier_failures, 0);
}

#[tokio::test]
async fn an_exchange_without_a_verifier_names_it_absent() {
    let fx = Fixture::new();
    let consumer = fx.hmac_consumer("jira").await;
    let request = fx.request_token(&consumer, "oob").await;
    fx.approve(&request).await;
    let signed = consumer.sign(
        "POST",
        "https://jira.example.com/at",
        &Extras {
            token: Some((
                request.token.expose_secret(),
                request.token_secret.expose_secret(),
            )),
            ..Extras::default()
        },
    );
    let failure = oauth_failure(fx.authority.exchange_token(&signed.http()).await);
    assert_eq!(failure.problem, Problem::ParameterAbsent);
    assert_eq!(failure.advice.parameters, ["oauth_verifier"]);
}

#[tokio::test]
async fn an_exchange_signed_without_the_request_token_secret_is_refused() {
    let fx = Fixture::new();
    let consumer = fx.hmac_consumer("jira").await;
    let request = fx.request_token(&consumer, "oob").await;
    let verifier = fx.approve(&request).await;
    let signed = consumer.exchange(request.token.expose_secret(), "not-the-secret", &verifier);
    assert_eq!(
        oauth_problem(fx.authority.exchange_token(&signed.http()).await),
        Problem::SignatureInvalid
    );
    assert_eq!(
        stored_request_token(&fx.store, &request).state,
        RequestTokenState::Approved
    );
}

#[tokio::test]
async fn an_rsa_consumer_completes_the_dance() {
    let fx = Fixture::new();
    let consumer = fx.rsa_consumer("jira-rsa").await;
    let access = fx.access(&consumer).await;
    let stored = stored_access_token(&fx.store, access.issued.token_id);
    assert_eq!(stored.consumer_key, "jira-rsa");
    let principal = fx
        .authority
        .validate_access(
            &service(),
            &consumer.resource(&access.token, &access.secret).http(),
        )
        .await
        .unwrap();
    assert_eq!(principal.token_id, Some(access.issued.token_id));
}
