//! 2-legged OAuth: a request signed by the consumer alone, as its link allows, and
//! the same naming the user it acts for in `xoauth_requestor_id`.

use crate::error::Problem;
use crate::oauth1::access::{AccessKind, Principal};
use crate::oauth1::consumers::ConsumerChanges;
use crate::oauth1::records::TwoLeggedPolicy;
use crate::testing::consumer::{Extras, RESOURCE_URL, SignedHttp};
use crate::testing::refusals::{invalid_field, oauth_failure, oauth_problem};
use crate::testing::{Fixture, TestConsumer, admin, service};

/// A consumer whose link has these 2-legged settings.
async fn linked(fx: &Fixture, key: &str, link: TwoLeggedPolicy) -> TestConsumer {
    let mut draft = Fixture::hmac_draft(key);
    draft.two_legged = Some(link);
    fx.consumer_from(draft).await
}

fn allowed(execute_as: Option<&str>, impersonation: bool) -> TwoLeggedPolicy {
    TwoLeggedPolicy {
        allowed: true,
        execute_as: execute_as.map(str::to_owned),
        impersonation,
    }
}

/// A resource request signed with no token, with `form` as signed body parameters.
fn two_legged(consumer: &TestConsumer, form: Vec<(&'static str, &'static str)>) -> SignedHttp {
    consumer.sign(
        "POST",
        RESOURCE_URL,
        &Extras {
            form,
            ..Extras::default()
        },
    )
}

async fn validate(fx: &Fixture, signed: &SignedHttp) -> crate::AuthorityResult<Principal> {
    fx.authority
        .validate_access(&service(), &signed.http())
        .await
}

#[tokio::test]
async fn a_link_that_allows_it_acts_as_its_execute_as_user() {
    let fx = Fixture::new();
    let consumer = linked(&fx, "confluence", allowed(Some("robot"), false)).await;
    let principal = validate(&fx, &two_legged(&consumer, vec![])).await.unwrap();
    assert_eq!(
        principal,
        Principal {
            user_id: Some("robot".into()),
            consumer_key: "confluence".into(),
            kind: AccessKind::TwoLegged,
            token_id: None,
            expires_at: None,
        }
    );
}

#[tokio::test]
async fn without_an_execute_as_user_a_two_legged_request_acts_for_no_one() {
    let fx = Fixture::new();
    let consumer = linked(&fx, "confluence", allowed(None, false)).await;
    let principal = validate(&fx, &two_legged(&consumer, vec![])).await.unwrap();
    assert_eq!(
        (principal.user_id, principal.kind),
        (None, AccessKind::TwoLegged)
    );
}

#[tokio::test]
async fn an_empty_oauth_token_is_two_legged_too() {
    let fx = Fixture::new();
    let consumer = linked(&fx, "confluence", allowed(Some("robot"), false)).await;
    let signed = consumer.sign(
        "GET",
        RESOURCE_URL,
        &Extras {
            token: Some(("", "")),
            ..Extras::default()
        },
    );
    let principal = validate(&fx, &signed).await.unwrap();
    assert_eq!(principal.kind, AccessKind::TwoLegged);
}

#[tokio::test]
async fn a_link_that_does_not_allow_it_refuses_with_permission_denied() {
    let fx = Fixture::new();
    let consumer = fx.hmac_consumer("jira").await;
    assert_eq!(
        oauth_problem(validate(&fx, &two_legged(&consumer, vec![])).await),
        Problem::PermissionDenied
    );
}

#[tokio::test]
async fn a_two_legged_request_is_signature_checked_and_its_nonce_spent_like_any() {
    let fx = Fixture::new();
    let consumer = linked(&fx, "confluence", allowed(Some("robot"), false)).await;
    let signed = two_legged(&consumer, vec![]);
    validate(&fx, &signed).await.unwrap();
    assert_eq!(
        oauth_problem(validate(&fx, &signed).await),
        Problem::NonceUsed,
        "a replay is refused"
    );
    let mut forged = two_legged(&consumer, vec![]);
    forged.form_body = "extra=unsigned".into();
    assert_eq!(
        oauth_problem(validate(&fx, &forged).await),
        Problem::SignatureInvalid
    );
}

#[tokio::test]
async fn a_link_with_impersonation_acts_for_the_named_user() {
    let fx = Fixture::new();
    let consumer = linked(&fx, "confluence", allowed(Some("robot"), true)).await;
    let signed = two_legged(&consumer, vec![("xoauth_requestor_id", "alice")]);
    let principal = validate(&fx, &signed).await.unwrap();
    assert_eq!(principal.user_id.as_deref(), Some("alice"));
    assert_eq!(principal.kind, AccessKind::Impersonation);
}

#[tokio::test]
async fn impersonation_is_refused_where_the_link_does_not_allow_it() {
    let fx = Fixture::new();
    let consumer = linked(&fx, "confluence", allowed(Some("robot"), false)).await;
    let signed = two_legged(&consumer, vec![("xoauth_requestor_id", "alice")]);
    assert_eq!(
        oauth_problem(validate(&fx, &signed).await),
        Problem::PermissionDenied
    );
    let no_two_legged = fx.hmac_consumer("jira").await;
    let signed = two_legged(&no_two_legged, vec![("xoauth_requestor_id", "alice")]);
    assert_eq!(
        oauth_problem(validate(&fx, &signed).await),
        Problem::PermissionDenied
    );
}

#[tokio::test]
async fn an_empty_malformed_or_repeated_requestor_is_refused_naming_it() {
    let fx = Fixture::new();
    let consumer = linked(&fx, "confluence", allowed(None, true)).await;
    for form in [
        vec![("xoauth_requestor_id", "")],
        vec![("xoauth_requestor_id", "al\u{7}ice")],
        vec![
            ("xoauth_requestor_id", "alice"),
            ("xoauth_requestor_id", "bob"),
        ],
    ] {
        let failure = oauth_failure(validate(&fx, &two_legged(&consumer, form.clone())).await);
        assert_eq!(failure.problem, Problem::ParameterRejected, "{form:?}");
        assert_eq!(
            failure.advice.parameters,
            ["xoauth_requestor_id"],
            "{form:?}"
        );
    }
}

#[tokio::test]
async fn a_requestor_beside_a_users_token_is_refused() {
    let fx = Fixture::new();
    let consumer = linked(&fx, "confluence", allowed(None, true)).await;
    let access = fx.access(&consumer).await;
    let signed = consumer.sign(
        "POST",
        RESOURCE_URL,
        &Extras {
            token: Some((&access.token, &access.secret)),
            form: vec![("xoauth_requestor_id", "mallory")],
            ..Extras::default()
        },
    );
    let failure = oauth_failure(validate(&fx, &signed).await);
    assert_eq!(failure.problem, Problem::ParameterRejected);
}

#[tokio::test]
async fn the_link_settings_change_and_an_execute_as_user_is_checked() {
    let fx = Fixture::new();
    let consumer = fx.hmac_consumer("jira").await;
    let change = |link| ConsumerChanges {
        two_legged: Some(link),
        ..ConsumerChanges::default()
    };
    let updated = fx
        .authority
        .update_consumer(&admin(), "jira", change(allowed(Some("  robot "), true)))
        .await
        .unwrap();
    assert_eq!(updated.two_legged, allowed(Some("robot"), true), "trimmed");
    validate(&fx, &two_legged(&consumer, vec![])).await.unwrap();
    let blank = fx
        .authority
        .update_consumer(&admin(), "jira", change(allowed(Some(""), false)))
        .await
        .unwrap();
    assert_eq!(blank.two_legged.execute_as, None, "blank is no user");
    let bad = fx
        .authority
        .update_consumer(&admin(), "jira", change(allowed(Some("a\u{0}b"), false)))
        .await;
    assert_eq!(invalid_field(bad), "execute_as_user");
}
