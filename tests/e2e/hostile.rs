//! What a caller without a credential can and cannot make Latchkey do: wrong
//! credentials on every path are refused without memory-hard work, a flood of guesses
//! at a chosen (argon2) credential is refused at once past a short queue, calls past
//! the cap are refused rather than queued, health answers throughout, and a stop ends
//! on time with watchers told.

use futures::future::join_all;
use latchkey_api::v1 as pb;
use latchkey_core::credentials::hash_credential;
use latchkey_server::config::Config;
use latchkey_tests::TestApp;
use latchkey_tests::app::{FRONTEND, spawn_app_with, with_credential};
use latchkey_tests::http::{client, pod_url};
use latchkey_tests::oauth2::register_client;
use std::sync::LazyLock;
use std::time::Duration;
use tokio::time::timeout;
use tonic::Code;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

on_both_backends!(
    wrong_credentials_on_every_path_are_refused_while_health_answers,
    calls_past_the_cap_are_refused_at_once_while_health_answers,
);
on_both_backends_with!(chosen, chosen_admin_credential =>
    guesses_at_a_chosen_credential_past_the_queue_are_refused_and_never_block_the_right_one,
);
on_both_backends_with!(capped, two_calls_at_once =>
    a_flood_past_a_small_cap_is_refused_with_resource_exhausted_and_health_still_answers,
);

/// The admin credential a person chose, hashed with argon2 as `latchkey credential
/// hash` does.
const CHOSEN_ADMIN: &str = "correct horse battery staple";
static CHOSEN_ADMIN_HASH: LazyLock<String> =
    LazyLock::new(|| hash_credential(CHOSEN_ADMIN).unwrap());

fn chosen_admin_credential(config: &mut Config) {
    config.credentials.admin_hash = Some(CHOSEN_ADMIN_HASH.clone());
}

fn two_calls_at_once(config: &mut Config) {
    config.grpc.concurrency_limit = 2;
}

fn channel(app: &TestApp) -> Channel {
    Channel::from_shared(format!("http://127.0.0.1:{}", app.port))
        .unwrap()
        .connect_lazy()
}

/// One health check, which must answer within `within`.
async fn health(channel: Channel, service: &str, within: Duration) -> i32 {
    let mut request = tonic::Request::new(HealthCheckRequest {
        service: service.into(),
    });
    request.set_timeout(within);
    HealthClient::new(channel)
        .check(request)
        .await
        .unwrap_or_else(|e| panic!("health {service:?} did not answer within {within:?}: {e}"))
        .into_inner()
        .status
}

/// Waits for the first database ping to report SERVING.
async fn serving_within(channel: Channel, within: Duration) {
    let serving = timeout(within, async {
        while health(channel.clone(), "", within).await != ServingStatus::Serving as i32 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(
        serving.is_ok(),
        "health did not report SERVING within {within:?}"
    );
}

/// A credential as random as a generated one, and as wrong.
fn random_credential() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

fn list_authorizations_as(credential: &str) -> tonic::Request<pb::ListAuthorizationsRequest> {
    with_credential(
        pb::ListAuthorizationsRequest {
            user_id: "alice".into(),
        },
        credential,
    )
}

async fn wrong_credentials_on_every_path_are_refused_while_health_answers(app: &TestApp) {
    let oauth2_client = register_client(app, "flooded", true).await;
    let http = client();
    let grpc = channel(app);
    serving_within(grpc.clone(), Duration::from_secs(10)).await;
    let flood = (0..100).map(|n| {
        let (http, grpc) = (http.clone(), grpc.clone());
        let client_id = oauth2_client.client_id.clone();
        async move {
            let wrong = random_credential();
            let answer = pb::token_authority_client::TokenAuthorityClient::new(grpc)
                .list_authorizations(list_authorizations_as(&wrong))
                .await
                .unwrap_err();
            assert_eq!(answer.code(), Code::Unauthenticated, "{answer:?}");
            let introspected = http
                .post(pod_url(app, "/oauth2/introspect"))
                .bearer_auth(&wrong)
                .form(&[("token", "whatever")])
                .send()
                .await
                .unwrap();
            assert_eq!(introspected.status(), 401);
            // A wrong secret for a real client, and a client nobody registered.
            let who = if n % 2 == 0 {
                client_id.as_str()
            } else {
                "nobody"
            };
            let token = http
                .post(pod_url(app, "/oauth2/token"))
                .basic_auth(who, Some(&wrong))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap();
            assert_eq!(token.status(), 401);
            let admin_page = http
                .get(pod_url(app, "/web/admin"))
                .basic_auth("anyone", Some(&wrong))
                .send()
                .await
                .unwrap();
            assert_eq!(admin_page.status(), 401);
        }
    });
    let probe = async {
        for _ in 0..20 {
            for service in ["", "liveness"] {
                let status = health(grpc.clone(), service, Duration::from_secs(1)).await;
                assert_eq!(status, ServingStatus::Serving as i32);
            }
        }
    };
    let ((), _) = tokio::join!(probe, join_all(flood));
    // The rightful caller is served at once after the flood.
    let mut authority = app.authority.clone();
    let mut request = with_credential(
        pb::ListAuthorizationsRequest {
            user_id: "alice".into(),
        },
        FRONTEND,
    );
    request.set_timeout(Duration::from_secs(2));
    authority.list_authorizations(request).await.unwrap();
}

async fn guesses_at_a_chosen_credential_past_the_queue_are_refused_and_never_block_the_right_one(
    app: &TestApp,
) {
    let mut admin = app.admin.clone();
    let list = |credential: &str| {
        with_credential(
            pb::ListConsumersRequest {
                page_size: 1,
                page_token: String::new(),
            },
            credential,
        )
    };
    // The rightful admin signs in once: argon2 runs and the match is remembered.
    admin.list_consumers(list(CHOSEN_ADMIN)).await.unwrap();

    let guesses = (0..64).map(|_| {
        let mut admin = app.admin.clone();
        async move { admin.list_consumers(list(&random_credential())).await }
    });
    let right = async {
        // Meanwhile the remembered admin never waits behind the guesses.
        for _ in 0..10 {
            let mut request = list(CHOSEN_ADMIN);
            request.set_timeout(Duration::from_secs(2));
            app.admin.clone().list_consumers(request).await.unwrap();
        }
    };
    let (answers, ()) = tokio::join!(join_all(guesses), right);
    let mut exhausted = 0;
    for answer in answers {
        let refused = answer.unwrap_err();
        match refused.code() {
            Code::Unauthenticated => {}
            Code::ResourceExhausted => exhausted += 1,
            other => panic!("a wrong guess got {other:?}: {refused:?}"),
        }
    }
    assert!(
        exhausted > 0,
        "64 guesses at once must overflow the argon2 queue, none did"
    );
    // And a guess after the flood is checked again, not refused.
    let late = admin
        .list_consumers(list("one more guess"))
        .await
        .unwrap_err();
    assert_eq!(late.code(), Code::Unauthenticated, "{late:?}");
}

async fn calls_past_the_cap_are_refused_at_once_while_health_answers(app: &TestApp) {
    // With the default cap, 64 callers at once are all served.
    let calls = (0..64).map(|_| {
        let mut authority = app.authority.clone();
        async move {
            authority
                .list_authorizations(list_authorizations_as(FRONTEND))
                .await
        }
    });
    for answer in join_all(calls).await {
        answer.unwrap();
    }
    serving_within(channel(app), Duration::from_secs(1)).await;
}

async fn a_flood_past_a_small_cap_is_refused_with_resource_exhausted_and_health_still_answers(
    app: &TestApp,
) {
    let grpc = channel(app);
    serving_within(grpc.clone(), Duration::from_secs(10)).await;
    let calls = (0..200).map(|_| {
        let grpc = grpc.clone();
        async move {
            pb::token_authority_client::TokenAuthorityClient::new(grpc)
                .list_authorizations(list_authorizations_as(FRONTEND))
                .await
        }
    });
    let probe = async {
        for _ in 0..10 {
            let status = health(grpc.clone(), "", Duration::from_secs(1)).await;
            assert_eq!(status, ServingStatus::Serving as i32);
        }
    };
    let (answers, ()) = tokio::join!(join_all(calls), probe);
    let (mut served, mut refused) = (0, 0);
    for answer in answers {
        match answer {
            Ok(_) => served += 1,
            Err(status) if status.code() == Code::ResourceExhausted => refused += 1,
            Err(status) => panic!("past the cap a call is refused, not {status:?}"),
        }
    }
    assert!(served > 0, "some calls are served");
    assert!(
        refused > 0,
        "200 calls at once past a cap of 2: none was refused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_ends_open_health_watches_with_not_serving_and_the_server_stops_on_time() {
    let Some(mut app) = spawn_app_with(latchkey_tests::Backend::Sqlite, |config| {
        config.shutdown.grace_period_seconds = 30;
    })
    .await
    else {
        return;
    };
    let mut watch = HealthClient::new(channel(&app))
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    // The first answer may come before the first database ping: wait for SERVING.
    let serving = timeout(Duration::from_secs(5), async {
        loop {
            let next: HealthCheckResponse = watch.message().await.unwrap().unwrap();
            if next.status == ServingStatus::Serving as i32 {
                break;
            }
        }
    })
    .await;
    assert!(serving.is_ok(), "health never said SERVING");
    app.send_stop();
    let mut last = None;
    let ended = timeout(Duration::from_secs(5), async {
        while let Ok(Some(message)) = watch.message().await {
            last = Some(message.status);
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "the Watch stream is still open after the stop"
    );
    assert_eq!(last, Some(ServingStatus::NotServing as i32));
    // `cleanup` waits 5 s for the server: far less than the 30 s grace period.
    assert!(
        app.cleanup().await,
        "the server did not stop while a watcher was connected"
    );
}
