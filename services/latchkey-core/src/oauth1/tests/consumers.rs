//! Consumer administration: what may be registered, changed and deleted, by whom,
//! and what goes with a consumer.

use super::stored_access_token;
use crate::error::{AuthorityError, Problem};
use crate::oauth1::consumers::{ConsumerChanges, ConsumerDraft, SharedSecretChoice};
use crate::oauth1::records::ConsumerRecord;
use crate::oauth1::verify::consumer_secret_context;
use crate::oauth1::{ConsumerPublicKey, SignatureMethod};
use crate::records::AuditAction;
use crate::testing::refusals::{invalid_field, is_not_found, is_unauthenticated, oauth_problem};
use crate::testing::{CONSUMER_SECRET, Fixture, Signer, admin, frontend, service};
use chrono::Duration;
use secrecy::{ExposeSecret, SecretString};

/// A self-signed RSA certificate, and the public key in it.
const CERTIFICATE: &str = include_str!("../../../tests/fixtures/oauth1-rsa-certificate.pem");
const CERTIFICATE_KEY: &str =
    include_str!("../../../tests/fixtures/oauth1-rsa-certificate-key.pem");

fn stored(fx: &Fixture, key: &str) -> Option<ConsumerRecord> {
    fx.store.read(|t| t.consumers.get(key).cloned())
}

#[tokio::test]
async fn a_consumer_with_a_shared_secret_is_stored_sealed_for_hmac_sha1() {
    let fx = Fixture::new();
    let registered = fx
        .authority
        .register_consumer(&admin(), Fixture::hmac_draft("jira"))
        .await
        .unwrap();
    assert!(registered.generated_secret.is_none());
    let consumer = stored(&fx, "jira").unwrap();
    assert_eq!(consumer, registered.consumer);
    assert_eq!(consumer.signature_methods, [SignatureMethod::HmacSha1]);
    assert!(consumer.enabled);
    assert_eq!(
        (consumer.created_at, consumer.updated_at),
        (fx.now(), fx.now())
    );
    let sealed = consumer.shared_secret.unwrap();
    assert!(
        !sealed
            .0
            .windows(CONSUMER_SECRET.len())
            .any(|w| w == CONSUMER_SECRET.as_bytes())
    );
    let opened = fx
        .authority
        .cipher
        .open(&sealed, &consumer_secret_context("jira"))
        .unwrap();
    assert_eq!(opened.expose_secret(), CONSUMER_SECRET);
    let audit = fx.store.last_audit().unwrap();
    assert_eq!(audit.action, AuditAction::ConsumerRegistered);
    assert_eq!(
        (audit.actor.as_str(), audit.consumer_key.as_deref()),
        ("admin", Some("jira"))
    );
}

#[tokio::test]
async fn a_generated_shared_secret_is_shown_once_and_signs() {
    let fx = Fixture::new();
    let registered = fx
        .authority
        .register_consumer(
            &admin(),
            ConsumerDraft {
                key: "generated".into(),
                name: "Generated".into(),
                shared_secret: SharedSecretChoice::Generate,
                ..ConsumerDraft::default()
            },
        )
        .await
        .unwrap();
    let secret = registered.generated_secret.unwrap();
    assert_eq!(secret.expose_secret().len(), 43);
    let consumer = fx.signing_as(
        "generated",
        Signer::HmacSha1(secret.expose_secret().to_owned()),
    );
    let issued = fx
        .authority
        .issue_request_token(&consumer.request_token("oob").http())
        .await;
    assert!(issued.is_ok(), "{issued:?}");
}

#[tokio::test]
async fn a_certificate_is_registered_as_its_public_key_for_rsa_sha1() {
    let fx = Fixture::new();
    let registered = fx
        .authority
        .register_consumer(
            &admin(),
            ConsumerDraft {
                key: "jira".into(),
                name: "Jira".into(),
                public_key: Some(CERTIFICATE.into()),
                ..ConsumerDraft::default()
            },
        )
        .await
        .unwrap();
    let expected = ConsumerPublicKey::parse(CERTIFICATE_KEY).unwrap().pem;
    assert_eq!(registered.consumer.public_key_pem, Some(expected));
    assert_eq!(
        registered.consumer.signature_methods,
        [SignatureMethod::RsaSha1]
    );
    assert_eq!(registered.consumer.shared_secret, None);
}

#[tokio::test]
async fn what_a_consumer_may_not_be_registered_with_is_refused_and_nothing_is_stored() {
    let fx = Fixture::new();
    let cases: Vec<(ConsumerDraft, &str)> = vec![
        (
            ConsumerDraft {
                key: "has space".into(),
                ..Fixture::hmac_draft("x")
            },
            "key",
        ),
        (
            ConsumerDraft {
                key: String::new(),
                ..Fixture::hmac_draft("x")
            },
            "key",
        ),
        (
            ConsumerDraft {
                name: "   ".into(),
                ..Fixture::hmac_draft("x")
            },
            "name",
        ),
        (
            ConsumerDraft {
                description: "d".repeat(4001),
                ..Fixture::hmac_draft("x")
            },
            "description",
        ),
        (
            ConsumerDraft {
                callback_url: Some("ftp://app.example.com/cb".into()),
                ..Fixture::hmac_draft("x")
            },
            "callback_url",
        ),
        (
            ConsumerDraft {
                callback_url: Some("https://user@app.example.com/cb".into()),
                ..Fixture::hmac_draft("x")
            },
            "callback_url",
        ),
        (
            ConsumerDraft {
                public_key: Some("not a key".into()),
                ..Fixture::hmac_draft("x")
            },
            "public_key",
        ),
        (
            ConsumerDraft {
                key: "x".into(),
                name: "No credentials".into(),
                ..ConsumerDraft::default()
            },
            "public_key",
        ),
        (
            ConsumerDraft {
                signature_methods: vec![SignatureMethod::RsaSha1],
                ..Fixture::hmac_draft("x")
            },
            "signature_methods",
        ),
        (
            ConsumerDraft {
                shared_secret: SharedSecretChoice::Given(SecretString::from("s".repeat(1025))),
                ..Fixture::hmac_draft("x")
            },
            "shared_secret",
        ),
        (
            ConsumerDraft {
                access_token_ttl_seconds: Some(5 * 365 * 86_400 + 1),
                ..Fixture::hmac_draft("x")
            },
            "token_policy",
        ),
        (
            ConsumerDraft {
                access_token_idle_seconds: Some(u64::MAX),
                ..Fixture::hmac_draft("x")
            },
            "token_policy",
        ),
    ];
    for (draft, field) in cases {
        let described = format!("{draft:?}");
        let result = fx.authority.register_consumer(&admin(), draft).await;
        assert_eq!(invalid_field(result), field, "{described}");
    }
    fx.store.read(|t| {
        assert!(t.consumers.is_empty());
        assert!(t.audit.is_empty());
    });
}

#[tokio::test]
async fn a_taken_consumer_key_is_a_conflict_and_the_first_stays() {
    let fx = Fixture::new();
    fx.hmac_consumer("jira").await;
    let first = stored(&fx, "jira").unwrap();
    let again = fx
        .authority
        .register_consumer(
            &admin(),
            ConsumerDraft {
                name: "Impostor".into(),
                ..Fixture::hmac_draft("jira")
            },
        )
        .await;
    assert!(
        matches!(again, Err(AuthorityError::AlreadyExists { .. })),
        "{again:?}"
    );
    assert_eq!(stored(&fx, "jira"), Some(first));
    assert_eq!(fx.store.audit_actions(), [AuditAction::ConsumerRegistered]);
}

#[tokio::test]
async fn only_the_admin_administers_consumers() {
    let fx = Fixture::new();
    fx.hmac_consumer("jira").await;
    let caller = frontend();
    let results = [
        is_unauthenticated(
            &fx.authority
                .register_consumer(&caller, Fixture::hmac_draft("x"))
                .await,
        ),
        is_unauthenticated(&fx.authority.get_consumer(&caller, "jira").await),
        is_unauthenticated(&fx.authority.list_consumers(&caller, 0, "").await),
        is_unauthenticated(
            &fx.authority
                .update_consumer(&caller, "jira", ConsumerChanges::default())
                .await,
        ),
        is_unauthenticated(
            &fx.authority
                .set_consumer_enabled(&caller, "jira", false)
                .await,
        ),
        is_unauthenticated(&fx.authority.delete_consumer(&caller, "jira").await),
    ];
    assert_eq!(results, [true; 6]);
    assert!(stored(&fx, "jira").unwrap().enabled);
    assert_eq!(fx.store.audit_actions(), [AuditAction::ConsumerRegistered]);
}

#[tokio::test]
async fn an_update_changes_only_the_fields_it_names() {
    let fx = Fixture::new();
    fx.consumer_from(ConsumerDraft {
        callback_url: Some("https://app.example.com/cb".into()),
        description: "Issue tracker".into(),
        ..Fixture::hmac_draft("jira")
    })
    .await;
    let before = stored(&fx, "jira").unwrap();
    fx.advance(Duration::minutes(1));
    let updated = fx
        .authority
        .update_consumer(
            &admin(),
            "jira",
            ConsumerChanges {
                name: Some("  Jira Cloud ".into()),
                callback_url: Some(String::new()),
                ..ConsumerChanges::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        updated,
        ConsumerRecord {
            name: "Jira Cloud".into(),
            callback_url: None,
            updated_at: fx.now(),
            ..before
        }
    );
    assert_eq!(stored(&fx, "jira"), Some(updated));
    assert_eq!(
        fx.store.last_audit().unwrap().action,
        AuditAction::ConsumerUpdated
    );
    let unknown = fx
        .authority
        .update_consumer(&admin(), "nobody", ConsumerChanges::default())
        .await;
    assert!(is_not_found(&unknown), "{unknown:?}");
}

#[tokio::test]
async fn an_update_that_leaves_a_method_without_its_credential_is_refused_and_changes_nothing() {
    let fx = Fixture::new();
    fx.hmac_consumer("jira").await;
    let before = stored(&fx, "jira").unwrap();
    let result = fx
        .authority
        .update_consumer(
            &admin(),
            "jira",
            ConsumerChanges {
                shared_secret: Some(SecretString::from("")),
                ..ConsumerChanges::default()
            },
        )
        .await;
    assert_eq!(invalid_field(result), "signature_methods");
    assert_eq!(stored(&fx, "jira"), Some(before));
}

#[tokio::test]
async fn applying_a_shorter_lifetime_to_issued_tokens_cuts_them_and_only_then() {
    let fx = Fixture::new();
    let jira = fx.hmac_consumer("jira").await;
    let issued_at = fx.now();
    let access = fx.access(&jira).await;
    let shorter = |apply| ConsumerChanges {
        access_token_ttl_seconds: Some(86_400),
        apply_to_issued_tokens: apply,
        ..ConsumerChanges::default()
    };

    fx.authority
        .update_consumer(&admin(), "jira", shorter(false))
        .await
        .unwrap();
    assert_eq!(
        stored_access_token(&fx.store, access.issued.token_id).expires_at,
        issued_at + Duration::days(7),
        "tokens already issued keep their expiry"
    );
    assert_eq!(fx.access(&jira).await.issued.lifetime, Duration::days(1));

    fx.authority
        .update_consumer(&admin(), "jira", shorter(true))
        .await
        .unwrap();
    assert_eq!(
        stored_access_token(&fx.store, access.issued.token_id).expires_at,
        issued_at + Duration::days(1)
    );
    let audit = fx.store.last_audit().unwrap();
    assert!(audit.detail.contains("86400 s"), "{}", audit.detail);
    fx.advance(Duration::days(1));
    let refused = fx
        .authority
        .validate_access(
            &service(),
            &jira.resource(&access.token, &access.secret).http(),
        )
        .await;
    assert_eq!(oauth_problem(refused), Problem::TokenExpired);
}

#[tokio::test]
async fn a_disabled_consumer_is_refused_until_enabled_again() {
    let fx = Fixture::new();
    let jira = fx.hmac_consumer("jira").await;
    let disabled = fx
        .authority
        .set_consumer_enabled(&admin(), "jira", false)
        .await
        .unwrap();
    assert!(!disabled.enabled);
    assert_eq!(
        fx.store.last_audit().unwrap().action,
        AuditAction::ConsumerDisabled
    );
    let refused = fx
        .authority
        .issue_request_token(&jira.request_token("oob").http())
        .await;
    assert_eq!(oauth_problem(refused), Problem::ConsumerKeyRejected);
    fx.authority
        .set_consumer_enabled(&admin(), "jira", true)
        .await
        .unwrap();
    assert_eq!(
        fx.store.last_audit().unwrap().action,
        AuditAction::ConsumerEnabled
    );
    fx.request_token(&jira, "oob").await;
}

#[tokio::test]
async fn deleting_a_consumer_takes_its_tokens_and_nonces_and_nothing_else() {
    let fx = Fixture::new();
    let jira = fx.hmac_consumer("jira").await;
    let wiki = fx.hmac_consumer("wiki").await;
    fx.access(&jira).await;
    fx.access_as(&jira, "bob").await;
    let pending = fx.request_token(&jira, "oob").await;
    let kept = fx.access(&wiki).await;

    let deleted = fx
        .authority
        .delete_consumer(&admin(), "jira")
        .await
        .unwrap();
    assert_eq!(deleted, 2, "the access tokens that went");
    fx.store.read(|t| {
        assert!(!t.consumers.contains_key("jira"));
        assert!(
            t.access_tokens
                .values()
                .all(|token| token.consumer_key == "wiki")
        );
        assert!(
            t.request_tokens
                .values()
                .all(|token| token.consumer_key == "wiki")
        );
        assert!(t.nonces.keys().all(|(consumer, _)| consumer == "wiki"));
        assert!(!t.nonces.is_empty());
    });
    assert_eq!(
        stored_access_token(&fx.store, kept.issued.token_id).consumer_key,
        "wiki"
    );
    assert_eq!(
        fx.store.last_audit().unwrap().action,
        AuditAction::ConsumerDeleted
    );
    let described = fx
        .authority
        .describe_request_token(&frontend(), pending.token.expose_secret())
        .await;
    assert!(is_not_found(&described), "{described:?}");
    let again = fx.authority.delete_consumer(&admin(), "jira").await;
    assert!(is_not_found(&again), "{again:?}");
}

#[tokio::test]
async fn consumers_are_listed_by_key_a_page_at_a_time() {
    let fx = Fixture::new();
    for key in ["c", "a", "b"] {
        fx.hmac_consumer(key).await;
    }
    let first = fx.authority.list_consumers(&admin(), 2, "").await.unwrap();
    let keys: Vec<&str> = first.consumers.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(keys, ["a", "b"]);
    let next = first.next_page_token.unwrap();
    let second = fx
        .authority
        .list_consumers(&admin(), 2, &next)
        .await
        .unwrap();
    let keys: Vec<&str> = second.consumers.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(keys, ["c"]);
    assert_eq!(second.next_page_token, None);
    let bad = fx.authority.list_consumers(&admin(), 2, "not!base64").await;
    assert_eq!(invalid_field(bad), "page_token");
}
