//! After the dance: validation's verdicts on a token's life, revocation by users and
//! admins, and the lists of live grants.

use super::stored_access_token;
use crate::authority::Caller;
use crate::error::Problem;
use crate::oauth1::access::RevokeActor;
use crate::oauth1::consumers::{ConsumerChanges, ConsumerDraft};
use crate::oauth1::policy::{COARSE_LAST_USE, OAuth1Policy};
use crate::oauth1::records::RevokeTarget;
use crate::policy::Policy;
use crate::records::AuditAction;
use crate::testing::refusals::{
    is_not_found, is_permission_denied, is_unauthenticated, oauth_failure, oauth_problem,
};
use crate::testing::{Access, Fixture, TestConsumer, USER, admin, frontend, service};
use chrono::Duration;
use uuid::Uuid;

async fn validate(
    fx: &Fixture,
    consumer: &TestConsumer,
    access: &Access,
) -> crate::AuthorityResult<crate::oauth1::access::Principal> {
    fx.authority
        .validate_access(
            &service(),
            &consumer.resource(&access.token, &access.secret).http(),
        )
        .await
}

#[tokio::test]
async fn a_revoked_token_is_refused_as_token_revoked() {
    let fx = Fixture::new();
    let consumer = fx.hmac_consumer("jira").await;
    let access = fx.access(&consumer).await;
    validate(&fx, &consumer, &access).await.unwrap();
    let revoked = fx
        .authority
        .revoke(
            &admin(),
            RevokeActor::Admin,
            &RevokeTarget::Token(access.issued.token_id),
        )
        .await
        .unwrap();
    assert_eq!(revoked, 1);
    assert_eq!(
        stored_access_token(&fx.store, access.issued.token_id).revoked_at,
        Some(fx.now())
    );
    assert_eq!(
        oauth_problem(validate(&fx, &consumer, &access).await),
        Problem::TokenRevoked
    );
}

#[tokio::test]
async fn a_token_past_its_lifetime_is_refused_as_token_expired() {
    let fx = Fixture::new();
    let consumer = fx.hmac_consumer("jira").await;
    let access = fx.access(&consumer).await;
    fx.advance(Duration::days(7) - Duration::milliseconds(1));
    validate(&fx, &consumer, &access).await.unwrap();
    fx.advance(Duration::milliseconds(1));
    let failure = oauth_failure(validate(&fx, &consumer, &access).await);
    assert_eq!(failure.problem, Problem::TokenExpired);
    assert!(failure.detail.contains("expired"), "{}", failure.detail);
}

#[tokio::test]
async fn a_token_unused_for_the_idle_timeout_ends_and_each_use_restarts_the_count() {
    let fx = Fixture::with_policy(Policy {
        oauth1: OAuth1Policy {
            access_token_idle_timeout: Some(Duration::hours(1)),
            ..OAuth1Policy::default()
        },
        ..Policy::default()
    });
    let consumer = fx.hmac_consumer("jira").await;
    let access = fx.access(&consumer).await;
    for _ in 0..3 {
        fx.advance(Duration::minutes(59));
        validate(&fx, &consumer, &access).await.unwrap();
        assert_eq!(
            stored_access_token(&fx.store, access.issued.token_id).last_used_at,
            fx.now(),
            "under an idle timeout every use is recorded"
        );
    }
    fx.advance(Duration::hours(1));
    let failure = oauth_failure(validate(&fx, &consumer, &access).await);
    assert_eq!(failure.problem, Problem::TokenExpired);
    assert!(failure.detail.contains("idle"), "{}", failure.detail);
}

#[tokio::test]
async fn a_consumers_own_idle_timeout_applies_to_tokens_already_issued() {
    let fx = Fixture::new();
    let consumer = fx.hmac_consumer("jira").await;
    let access = fx.access(&consumer).await;
    fx.advance(Duration::hours(2));
    validate(&fx, &consumer, &access).await.unwrap();
    fx.authority
        .update_consumer(
            &admin(),
            "jira",
            ConsumerChanges {
                access_token_idle_seconds: Some(3600),
                ..ConsumerChanges::default()
            },
        )
        .await
        .unwrap();
    fx.advance(Duration::hours(1));
    assert_eq!(
        oauth_problem(validate(&fx, &consumer, &access).await),
        Problem::TokenExpired
    );
}

#[tokio::test]
async fn without_an_idle_timeout_a_use_is_recorded_at_most_hourly() {
    let fx = Fixture::new();
    let consumer = fx.hmac_consumer("jira").await;
    let access = fx.access(&consumer).await;
    let issued_at = fx.now();
    fx.advance(COARSE_LAST_USE - Duration::seconds(1));
    validate(&fx, &consumer, &access).await.unwrap();
    assert_eq!(
        stored_access_token(&fx.store, access.issued.token_id).last_used_at,
        issued_at
    );
    fx.advance(Duration::seconds(1));
    validate(&fx, &consumer, &access).await.unwrap();
    assert_eq!(
        stored_access_token(&fx.store, access.issued.token_id).last_used_at,
        fx.now()
    );
}

#[tokio::test]
async fn lowering_the_maximum_lifetime_cuts_tokens_already_issued() {
    let fx = Fixture::new();
    let consumer = fx.hmac_consumer("jira").await;
    let access = fx.access(&consumer).await;
    let issued_at = fx.now();
    fx.advance(Duration::days(2));
    let lowered = |days| Policy {
        oauth1: OAuth1Policy {
            max_access_token_ttl: Duration::days(days),
            ..OAuth1Policy::default()
        },
        ..Policy::default()
    };

    let three_days = fx.restarted_with(lowered(3));
    let principal = three_days
        .validate_access(
            &service(),
            &consumer.resource(&access.token, &access.secret).http(),
        )
        .await
        .unwrap();
    assert_eq!(principal.expires_at, Some(issued_at + Duration::days(3)));
    let listed = three_days
        .list_authorizations(&frontend(), USER)
        .await
        .unwrap();
    assert_eq!(listed[0].times.expires_at, issued_at + Duration::days(3));

    let one_day = fx.restarted_with(lowered(1));
    let refused = one_day
        .validate_access(
            &service(),
            &consumer.resource(&access.token, &access.secret).http(),
        )
        .await;
    assert_eq!(oauth_problem(refused), Problem::TokenExpired);
    assert!(
        one_day
            .list_authorizations(&frontend(), USER)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        stored_access_token(&fx.store, access.issued.token_id).expires_at,
        issued_at + Duration::days(7),
        "the cut is the policy's, not a write"
    );
}

#[tokio::test]
async fn another_consumers_access_token_is_rejected() {
    let fx = Fixture::new();
    let owner = fx.hmac_consumer("jira").await;
    let other = fx.hmac_consumer("confluence").await;
    let access = fx.access(&owner).await;
    assert_eq!(
        oauth_problem(validate(&fx, &other, &access).await),
        Problem::TokenRejected
    );
}

#[tokio::test]
async fn a_user_revokes_their_own_token_but_not_another_users() {
    let fx = Fixture::new();
    let consumer = fx.hmac_consumer("jira").await;
    let access = fx.access(&consumer).await;
    let target = RevokeTarget::Token(access.issued.token_id);

    let refused = fx
        .authority
        .revoke(&frontend(), RevokeActor::User("bob"), &target)
        .await;
    assert!(is_permission_denied(&refused), "{refused:?}");
    assert_eq!(
        stored_access_token(&fx.store, access.issued.token_id).revoked_at,
        None
    );

    let revoked = fx
        .authority
        .revoke(&frontend(), RevokeActor::User(USER), &target)
        .await
        .unwrap();
    assert_eq!(revoked, 1);
    let audit = fx.store.last_audit().unwrap();
    assert_eq!(audit.action, AuditAction::AccessTokensRevoked);
    assert_eq!(audit.actor, "user:ann");
    assert_eq!(audit.token_id, Some(access.issued.token_id));
    assert_eq!(audit.consumer_key.as_deref(), Some("jira"));
}

#[tokio::test]
async fn revoking_what_is_revoked_already_counts_nothing_and_writes_no_audit_line() {
    let fx = Fixture::new();
    let consumer = fx.hmac_consumer("jira").await;
    let access = fx.access(&consumer).await;
    let target = RevokeTarget::Token(access.issued.token_id);
    fx.authority
        .revoke(&admin(), RevokeActor::Admin, &target)
        .await
        .unwrap();
    let lines = fx.store.audit_actions().len();
    let again = fx
        .authority
        .revoke(&admin(), RevokeActor::Admin, &target)
        .await
        .unwrap();
    assert_eq!(again, 0);
    assert_eq!(fx.store.audit_actions().len(), lines);
}

#[tokio::test]
async fn revoking_an_unknown_token_or_consumer_is_not_found() {
    let fx = Fixture::new();
    let unknown_token = fx
        .authority
        .revoke(
            &admin(),
            RevokeActor::Admin,
            &RevokeTarget::Token(Uuid::nil()),
        )
        .await;
    assert!(is_not_found(&unknown_token), "{unknown_token:?}");
    assert_eq!(
        unknown_token.unwrap_err().problem(),
        Some(Problem::TokenRejected)
    );
    let unknown_consumer = fx
        .authority
        .revoke(
            &admin(),
            RevokeActor::Admin,
            &RevokeTarget::Consumer("nobody".into()),
        )
        .await;
    assert!(is_not_found(&unknown_consumer), "{unknown_consumer:?}");
}

#[tokio::test]
async fn a_user_revokes_their_grants_to_one_consumer_and_nothing_else() {
    let fx = Fixture::new();
    let jira = fx.hmac_consumer("jira").await;
    let wiki = fx.hmac_consumer("wiki").await;
    let ann_jira = [fx.access(&jira).await, fx.access(&jira).await];
    let ann_wiki = fx.access(&wiki).await;
    let bob_jira = fx.access_as(&jira, "bob").await;

    let target = RevokeTarget::UserGrants {
        user_id: USER.into(),
        consumer_key: "jira".into(),
    };
    let not_bobs = fx
        .authority
        .revoke(&frontend(), RevokeActor::User("bob"), &target)
        .await;
    assert!(is_permission_denied(&not_bobs), "{not_bobs:?}");
    let revoked = fx
        .authority
        .revoke(&frontend(), RevokeActor::User(USER), &target)
        .await
        .unwrap();
    assert_eq!(revoked, 2);
    for access in &ann_jira {
        assert_eq!(
            oauth_problem(validate(&fx, &jira, access).await),
            Problem::TokenRevoked
        );
    }
    validate(&fx, &wiki, &ann_wiki).await.unwrap();
    validate(&fx, &jira, &bob_jira).await.unwrap();
}

#[tokio::test]
async fn an_admin_revokes_every_token_of_a_consumer_and_a_user_may_not() {
    let fx = Fixture::new();
    let jira = fx.hmac_consumer("jira").await;
    let wiki = fx.hmac_consumer("wiki").await;
    let ann = fx.access(&jira).await;
    let bob = fx.access_as(&jira, "bob").await;
    let elsewhere = fx.access(&wiki).await;
    let target = RevokeTarget::Consumer("jira".into());

    let by_user = fx
        .authority
        .revoke(&frontend(), RevokeActor::User(USER), &target)
        .await;
    assert!(is_permission_denied(&by_user), "{by_user:?}");
    validate(&fx, &jira, &ann).await.unwrap();

    let revoked = fx
        .authority
        .revoke(&admin(), RevokeActor::Admin, &target)
        .await
        .unwrap();
    assert_eq!(revoked, 2);
    assert_eq!(
        oauth_problem(validate(&fx, &jira, &ann).await),
        Problem::TokenRevoked
    );
    assert_eq!(
        oauth_problem(validate(&fx, &jira, &bob).await),
        Problem::TokenRevoked
    );
    validate(&fx, &wiki, &elsewhere).await.unwrap();
    let audit = fx.store.last_audit().unwrap();
    assert_eq!((audit.actor.as_str(), audit.user_id), ("admin", None));
}

#[tokio::test]
async fn each_revoker_needs_its_own_credential() {
    let fx = Fixture::new();
    let consumer = fx.hmac_consumer("jira").await;
    let access = fx.access(&consumer).await;
    let target = RevokeTarget::Token(access.issued.token_id);
    for (caller, actor) in [
        (frontend(), RevokeActor::Admin),
        (service(), RevokeActor::Admin),
        (admin(), RevokeActor::User(USER)),
        (Caller::ANONYMOUS, RevokeActor::User(USER)),
    ] {
        let result = fx.authority.revoke(&caller, actor, &target).await;
        assert!(
            is_unauthenticated(&result),
            "{caller:?} as {actor:?}: {result:?}"
        );
    }
    validate(&fx, &consumer, &access).await.unwrap();
}

#[tokio::test]
async fn a_users_grants_are_their_live_tokens_newest_first_with_consumer_names() {
    let fx = Fixture::new();
    let jira = fx
        .consumer_from(ConsumerDraft {
            access_token_ttl_seconds: Some(3600),
            ..Fixture::hmac_draft("jira")
        })
        .await;
    let wiki = fx.hmac_consumer("wiki").await;
    let short_lived = fx.access(&jira).await;
    fx.advance(Duration::minutes(1));
    let revoked = fx.access(&wiki).await;
    fx.advance(Duration::minutes(1));
    let newest = fx.access(&wiki).await;
    fx.access_as(&wiki, "bob").await;
    fx.authority
        .revoke(
            &admin(),
            RevokeActor::Admin,
            &RevokeTarget::Token(revoked.issued.token_id),
        )
        .await
        .unwrap();

    let grants = fx
        .authority
        .list_authorizations(&frontend(), USER)
        .await
        .unwrap();
    let listed: Vec<(Uuid, &str, &str)> = grants
        .iter()
        .map(|g| {
            (
                g.token_id,
                g.consumer_key.as_str(),
                g.consumer_name.as_str(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            (newest.issued.token_id, "wiki", "wiki app"),
            (short_lived.issued.token_id, "jira", "jira app"),
        ]
    );
    fx.advance(Duration::hours(1));
    let later = fx
        .authority
        .list_authorizations(&admin(), USER)
        .await
        .unwrap();
    assert_eq!(later.len(), 1, "the expired token is no longer listed");

    let by_service = fx.authority.list_authorizations(&service(), USER).await;
    assert!(is_unauthenticated(&by_service), "{by_service:?}");
}

#[tokio::test]
async fn a_users_grants_leave_out_idle_tokens() {
    let fx = Fixture::new();
    let jira = fx
        .consumer_from(ConsumerDraft {
            access_token_idle_seconds: Some(600),
            ..Fixture::hmac_draft("jira")
        })
        .await;
    fx.access(&jira).await;
    assert_eq!(
        fx.authority
            .list_authorizations(&frontend(), USER)
            .await
            .unwrap()
            .len(),
        1
    );
    fx.advance(Duration::minutes(10));
    assert!(
        fx.authority
            .list_authorizations(&frontend(), USER)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_consumers_live_tokens_are_listed_for_the_admin_only() {
    let fx = Fixture::new();
    let jira = fx.hmac_consumer("jira").await;
    let first = fx.access(&jira).await;
    fx.advance(Duration::minutes(1));
    let second = fx.access_as(&jira, "bob").await;
    let tokens = fx
        .authority
        .list_consumer_tokens(&admin(), "jira")
        .await
        .unwrap();
    let listed: Vec<(Uuid, &str)> = tokens
        .iter()
        .map(|t| (t.token_id, t.user_id.as_str()))
        .collect();
    assert_eq!(
        listed,
        [
            (second.issued.token_id, "bob"),
            (first.issued.token_id, USER)
        ]
    );
    let by_frontend = fx.authority.list_consumer_tokens(&frontend(), "jira").await;
    assert!(is_unauthenticated(&by_frontend), "{by_frontend:?}");
    let unknown = fx.authority.list_consumer_tokens(&admin(), "nobody").await;
    assert!(is_not_found(&unknown), "{unknown:?}");
}

#[tokio::test]
async fn a_validation_keeps_its_secrets_opened_until_a_revocation_or_a_consumer_change() {
    use crate::oauth1::dance::access_token_context;
    use crate::oauth1::verify::consumer_secret_context;
    let fx = Fixture::new();
    let consumer = fx.hmac_consumer("jira").await;
    let access = fx.access(&consumer).await;
    let token_context = access_token_context(access.issued.token_id);
    let secrets = &fx.authority.hot.secrets;
    validate(&fx, &consumer, &access).await.unwrap();
    assert!(secrets.holds(&consumer_secret_context("jira")));
    assert!(secrets.holds(&token_context));
    // Kept secrets still check: a wrong signature is refused, a right one passes.
    validate(&fx, &consumer, &access).await.unwrap();
    let forged = consumer.resource(&access.token, "not the secret");
    assert_eq!(
        oauth_problem(
            fx.authority
                .validate_access(&service(), &forged.http())
                .await
        ),
        Problem::SignatureInvalid
    );
    fx.authority
        .revoke(
            &admin(),
            RevokeActor::Admin,
            &RevokeTarget::Token(access.issued.token_id),
        )
        .await
        .unwrap();
    assert!(
        !secrets.holds(&token_context),
        "a revocation takes the token's secret"
    );
    assert!(secrets.holds(&consumer_secret_context("jira")));
    fx.authority
        .update_consumer(
            &admin(),
            "jira",
            ConsumerChanges {
                name: Some("Jira, renamed".into()),
                ..ConsumerChanges::default()
            },
        )
        .await
        .unwrap();
    assert!(
        !secrets.holds(&consumer_secret_context("jira")),
        "a consumer's change takes its shared secret"
    );
}
