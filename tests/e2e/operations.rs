//! What an operator relies on: logs that show every call and never a secret value, and
//! a service that answers UNAVAILABLE while its database is away and recovers by
//! itself once it is back.

use futures::FutureExt;
use latchkey_api::v1 as pb;
use latchkey_tests::app::{ADMIN, FRONTEND, TestDatabase, with_credential};
use latchkey_tests::consumer::{Signer, TestConsumer};
use latchkey_tests::flows::{
    access_token, decide, hmac_consumer, oauth1_access_token, request_token,
};
use latchkey_tests::{TestApp, assert_problem, logs};
use pb::revoke_request::{Actor, Target};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};
use std::time::Duration;
use tokio::time::{Instant, sleep, timeout};
use tonic::Code;

on_both_backends!(no_token_secret_or_credential_value_reaches_the_logs);

// SQLite has no server to lose, so this one runs on Postgres only.
on_postgres_only!(a_stopped_database_answers_unavailable_and_recovers_by_itself);

async fn no_token_secret_or_credential_value_reaches_the_logs(app: &TestApp) {
    let start = logs::position();
    // Unique in the buffer every test shares, so a line that names it is this test's.
    let key = format!("logs-{}", uuid::Uuid::new_v4().simple());
    let consumer = hmac_consumer(app, &key).await;
    let Signer::HmacSha1(shared_secret) = &consumer.signer else {
        unreachable!("hmac_consumer signs with HMAC-SHA1")
    };
    let mut client = app.authority.clone();

    let (request_token, request_secret) =
        request_token(app, &consumer, "https://app.example.com/cb").await;
    let verifier = decide(app, &request_token, "olga", pb::Decision::Approve)
        .await
        .unwrap()
        .verifier;
    let guess = format!("guess-{}", uuid::Uuid::new_v4().simple());
    assert_problem(
        client
            .exchange_token(consumer.exchange(&request_token, &request_secret, &guess))
            .await,
        Code::Unauthenticated,
        "token_rejected",
    );
    let access = oauth1_access_token(
        client
            .exchange_token(consumer.exchange(&request_token, &request_secret, &verifier))
            .await
            .unwrap()
            .into_inner(),
    );
    client
        .validate_access(consumer.resource(&access.token, &access.token_secret))
        .await
        .unwrap();
    assert_problem(
        client
            .validate_access(consumer.resource(&access.token, "not-the-token-secret"))
            .await,
        Code::Unauthenticated,
        "signature_invalid",
    );
    let revoke = pb::RevokeRequest {
        target: Some(Target::TokenId(access.token_id.clone())),
        actor: Some(Actor::UserId("olga".into())),
    };
    client
        .revoke(with_credential(revoke, FRONTEND))
        .await
        .unwrap();
    assert_problem(
        client
            .validate_access(consumer.resource(&access.token, &access.token_secret))
            .await,
        Code::Unauthenticated,
        "token_revoked",
    );

    // The server logs before it answers, so every line of ours is in by now.
    let everything = logs::captured();
    for (what, value) in [
        ("the consumer's shared secret", shared_secret.as_str()),
        ("the request token", &request_token),
        ("the request token secret", &request_secret),
        ("the verifier", &verifier),
        ("the wrong verifier", &guess),
        ("the access token", &access.token),
        ("the access token secret", &access.token_secret),
        ("the admin credential", ADMIN),
        ("the frontend credential", FRONTEND),
    ] {
        assert!(
            !value.is_empty(),
            "{what} is empty, so looking for it proves nothing"
        );
        let leaks: Vec<&str> = everything
            .lines()
            .filter(|line| line.contains(value))
            .collect();
        assert!(
            leaks.is_empty(),
            "{what} reached the logs:\n{}",
            leaks.join("\n")
        );
    }

    // Only the signature failure names the consumer, so that line is surely ours and
    // must be there exactly once. The other lines carry nothing of this test's; tests
    // running alongside may add to them, so each needs only to be there.
    let ours = logs::captured_since(start);
    let signature_failure = [
        field("rpc", "ValidateAccess"),
        field("code", "Unauthenticated"),
        field("problem", "signature_invalid"),
    ];
    let named: Vec<&str> = ours
        .lines()
        .filter(|line| {
            line.contains(&format!("consumer {key}")) && has_all(line, &signature_failure)
        })
        .collect();
    assert_eq!(
        named.len(),
        1,
        "one line for the one failed ValidateAccess of {key}, got {named:#?}"
    );
    for (rpc, code, problem) in [
        ("RegisterConsumer", "OK", None),
        ("IssueRequestToken", "OK", None),
        ("Authorize", "OK", None),
        ("ExchangeToken", "Unauthenticated", Some("token_rejected")),
        ("ExchangeToken", "OK", None),
        ("ValidateAccess", "OK", None),
        ("Revoke", "OK", None),
        ("ValidateAccess", "Unauthenticated", Some("token_revoked")),
    ] {
        let mut fields = vec![
            field("rpc", rpc),
            field("code", code),
            String::from("\"elapsed_ms\":"),
        ];
        fields.extend(problem.map(|problem| field("problem", problem)));
        assert!(
            ours.lines().any(|line| has_all(line, &fields)),
            "no log line has {fields:?}; captured since this test began:\n{ours}"
        );
    }
}

/// A JSON log field as the subscriber writes it.
fn field(name: &str, value: &str) -> String {
    format!("\"{name}\":\"{value}\"")
}

fn has_all(line: &str, fragments: &[String]) -> bool {
    fragments
        .iter()
        .all(|fragment| line.contains(fragment.as_str()))
}

// The shared Postgres server keeps running for the tests alongside: only this test's
// database refuses connections, and the server's open ones are cut, which is what the
// service sees when its database goes down.
async fn a_stopped_database_answers_unavailable_and_recovers_by_itself(app: &TestApp) {
    let TestDatabase::Postgres { admin_url, name } = app.database() else {
        panic!("this scenario needs Postgres")
    };
    let consumer = hmac_consumer(app, "steady").await;
    let (token, secret, _) = access_token(app, &consumer, "pat").await;
    let admin = Database::connect(admin_url.as_str()).await.unwrap();

    let outcome = std::panic::AssertUnwindSafe(away_and_back(
        app,
        &admin,
        name,
        &consumer,
        (&token, &secret),
    ))
    .catch_unwind()
    .await;
    // Whatever happened, let connections in again, or cleanup could not drop it.
    let reopened = admin
        .execute_unprepared(&allow_connections(name, true))
        .await;
    let _ = admin.close().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
    reopened.expect("the database accepts connections again");
}

async fn away_and_back(
    app: &TestApp,
    admin: &DatabaseConnection,
    name: &str,
    consumer: &TestConsumer,
    (token, secret): (&str, &str),
) {
    let mut client = app.authority.clone();
    admin
        .execute_unprepared(&allow_connections(name, false))
        .await
        .unwrap();
    disconnect_everyone(admin, name).await;

    // A caller with a 5 s deadline hears UNAVAILABLE, not DEADLINE_EXCEEDED: the
    // store gives up on a connection well before any deadline a caller would set.
    let mut request = tonic::Request::new(consumer.resource(token, secret));
    request.set_timeout(Duration::from_secs(5));
    let refused = timeout(Duration::from_secs(30), client.validate_access(request))
        .await
        .expect("ValidateAccess answers while the database is away")
        .expect_err("ValidateAccess cannot succeed without its database");
    assert_eq!(
        refused.code(),
        Code::Unavailable,
        "a database that is away means retry later: {refused:?}"
    );
    // The HTTP endpoints say 503 with Retry-After, before their own 10 s timeout's 408.
    let answer = latchkey_tests::http::client()
        .post(latchkey_tests::http::pod_url(app, "/oauth2/token"))
        .basic_auth("nobody-registered", Some("secret"))
        .form(&[("grant_type", "authorization_code"), ("code", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 503, "{answer:?}");
    assert_eq!(answer.headers()["retry-after"], "1");

    admin
        .execute_unprepared(&allow_connections(name, true))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let attempt = timeout(
            Duration::from_secs(15),
            client.validate_access(consumer.resource(token, secret)),
        )
        .await;
        match attempt {
            Ok(Ok(answer)) => {
                assert_eq!(answer.into_inner().principal.unwrap().user_id, "pat");
                break;
            }
            other if Instant::now() >= deadline => {
                panic!(
                    "the service did not recover within 20 s of the database coming back: {other:?}"
                )
            }
            _ => sleep(Duration::from_millis(250)).await,
        }
    }
}

pub(crate) fn allow_connections(name: &str, allowed: bool) -> String {
    format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS {allowed}")
}

/// Ends every session on the database and waits until they are gone: a terminated
/// backend lingers a moment, and a ping could still reach it.
pub(crate) async fn disconnect_everyone(admin: &DatabaseConnection, name: &str) {
    let others =
        format!("FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        admin
            .execute_unprepared(&format!("SELECT pg_terminate_backend(pid) {others}"))
            .await
            .unwrap();
        let left = admin
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                format!("SELECT count(*) AS remaining {others}"),
            ))
            .await
            .unwrap()
            .and_then(|row| row.try_get::<i64>("", "remaining").ok());
        match left {
            Some(0) => return,
            left if Instant::now() >= deadline => {
                panic!("sessions on {name} outlived pg_terminate_backend: {left:?}")
            }
            _ => sleep(Duration::from_millis(50)).await,
        }
    }
}
