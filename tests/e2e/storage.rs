//! What the database holds: token values only as SHA-256 hashes, secrets only sealed.

use latchkey_api::v1 as pb;
use latchkey_tests::TestApp;
use latchkey_tests::flows::{decide, hmac_consumer, oauth1_access_token, request_token};
use sea_orm::{ConnectionTrait, Database, Statement};

on_both_backends!(tokens_are_stored_only_as_hashes_and_secrets_only_sealed);

async fn column(app: &TestApp, sql: &str, name: &str) -> Vec<Vec<u8>> {
    let db = Database::connect(&app.config.database.url).await.unwrap();
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap();
    let values = rows
        .iter()
        .filter_map(|row| row.try_get::<Option<Vec<u8>>>("", name).unwrap())
        .collect();
    let _ = db.close().await;
    values
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

async fn tokens_are_stored_only_as_hashes_and_secrets_only_sealed(app: &TestApp) {
    let consumer = hmac_consumer(app, "stored").await;
    let latchkey_tests::consumer::Signer::HmacSha1(shared_secret) = consumer.signer.clone() else {
        unreachable!()
    };
    let (token, token_secret) = request_token(app, &consumer, "oob").await;
    let verifier = decide(app, &token, "uri", pb::Decision::Approve)
        .await
        .unwrap()
        .verifier;
    let mut client = app.authority.clone();
    let access = oauth1_access_token(
        client
            .exchange_token(consumer.exchange(&token, &token_secret, &verifier))
            .await
            .unwrap()
            .into_inner(),
    );

    let sha256 = |value: &str| -> Vec<u8> {
        use sha2::Digest;
        sha2::Sha256::digest(value.as_bytes()).to_vec()
    };
    assert_eq!(
        column(app, "SELECT token_hash FROM request_tokens", "token_hash").await,
        vec![sha256(&token)]
    );
    assert_eq!(
        column(
            app,
            "SELECT verifier_hash FROM request_tokens",
            "verifier_hash"
        )
        .await,
        vec![sha256(&verifier)]
    );
    assert_eq!(
        column(app, "SELECT token_hash FROM access_tokens", "token_hash").await,
        vec![sha256(&access.token)]
    );

    let sealed = [
        column(app, "SELECT shared_secret FROM consumers", "shared_secret").await,
        column(app, "SELECT secret FROM request_tokens", "secret").await,
        column(app, "SELECT secret FROM access_tokens", "secret").await,
    ]
    .concat();
    assert_eq!(sealed.len(), 3);
    for value in &sealed {
        for (name, secret) in [
            ("shared secret", &shared_secret),
            ("request token secret", &token_secret),
            ("access token secret", &access.token_secret),
            ("request token", &token),
            ("access token", &access.token),
        ] {
            assert!(
                !contains(value, secret),
                "the {name} is stored in the clear"
            );
        }
    }
}
