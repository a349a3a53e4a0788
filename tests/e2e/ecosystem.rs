//! What the gRPC ecosystem and an operator expect around the service: the standard
//! health and reflection services, gRPC-Web for browsers, request ids, Prometheus
//! metrics, a graceful stop and TLS. Transport-level scenarios run on SQLite only: the
//! database plays no part in them, and each Postgres run costs a database.

use crate::operations::{allow_connections, disconnect_everyone};
use latchkey_api::v1 as pb;
use latchkey_server::config::Config;
use latchkey_tests::app::{ADMIN, FRONTEND, TestDatabase, spawn_app_with, with_credential};
use latchkey_tests::flows::{access_token, hmac_consumer, request_token, rsa_consumer};
use latchkey_tests::{Backend, TestApp, logs};
use prost::Message;
use sea_orm::{ConnectionTrait, Database, TransactionTrait};
use std::time::Duration;
use tokio::time::{Instant, sleep, timeout};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

mod sqlite_only {
    macro_rules! sqlite {
        ($($name:ident),+ $(,)?) => {$(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name().await;
            }
        )+};
    }
    sqlite!(
        reflection_lists_both_services_over_v1_and_v1alpha,
        a_grpc_web_call_over_http1_reaches_describe_request_token,
        every_call_and_request_gets_a_request_id_back_and_in_its_log_line,
        the_metrics_endpoint_exposes_counters_that_move,
        a_stop_during_a_stream_of_calls_lets_every_accepted_call_complete,
        a_stopped_server_closes_its_sqlite_file_and_leaves_no_write_ahead_log,
        the_call_limits_refuse_oversize_messages_cut_slow_calls_and_refuse_past_the_limit,
        a_call_still_running_after_the_grace_period_is_cut_and_the_server_stops,
        tls_needs_the_right_ca_refuses_plain_text_and_can_require_client_certificates,
    );
}

mod postgres_only {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn health_follows_the_database_and_turns_not_serving_on_stop() {
        super::health_follows_the_database_and_turns_not_serving_on_stop().await;
    }
}

const ORIGIN: &str = "https://console.example.com";

fn quick(config: &mut Config) {
    config.health.probe_interval_seconds = 1;
    config.health.probe_timeout_seconds = 1;
    config.grpc.cors_allowed_origins = vec![ORIGIN.into()];
}

async fn spawn(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Option<TestApp> {
    spawn_app_with(backend, |config| {
        quick(config);
        adjust(config);
    })
    .await
}

fn plain_channel(app: &TestApp) -> Channel {
    Channel::from_shared(format!("http://127.0.0.1:{}", app.port))
        .unwrap()
        .connect_lazy()
}

async fn health_of(channel: Channel, service: &str) -> Result<i32, tonic::Status> {
    HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .map(|answer| answer.into_inner().status)
}

/// Waits until the health service reports `want`, for at most `within`.
async fn wait_for_health(app: &TestApp, want: ServingStatus, within: Duration) {
    let channel = plain_channel(app);
    let deadline = Instant::now() + within;
    loop {
        let status = health_of(channel.clone(), "").await;
        if status.as_ref().ok() == Some(&(want as i32)) {
            // Each Latchkey service reports the same.
            let service = health_of(channel.clone(), "latchkey.v1.TokenAuthority").await;
            assert_eq!(service.unwrap(), want as i32);
            // The liveness name stays SERVING: an outage must not restart the pod.
            let live = health_of(channel.clone(), "liveness").await;
            assert_eq!(live.unwrap(), ServingStatus::Serving as i32);
            return;
        }
        assert!(
            Instant::now() < deadline,
            "health did not become {want:?} within {within:?}: {status:?}"
        );
        sleep(Duration::from_millis(200)).await;
    }
}

async fn health_follows_the_database_and_turns_not_serving_on_stop() {
    let Some(mut app) = spawn(Backend::Postgres, |_| {}).await else {
        return;
    };
    let TestDatabase::Postgres { admin_url, name } = app.database() else {
        panic!("this scenario needs Postgres")
    };
    let (admin_url, name) = (admin_url.clone(), name.clone());
    wait_for_health(&app, ServingStatus::Serving, Duration::from_secs(5)).await;

    let admin = Database::connect(admin_url.as_str()).await.unwrap();
    admin
        .execute_unprepared(&allow_connections(&name, false))
        .await
        .unwrap();
    disconnect_everyone(&admin, &name).await;
    wait_for_health(&app, ServingStatus::NotServing, Duration::from_secs(15)).await;
    admin
        .execute_unprepared(&allow_connections(&name, true))
        .await
        .unwrap();
    let _ = admin.close().await;
    wait_for_health(&app, ServingStatus::Serving, Duration::from_secs(20)).await;

    // A watcher (a load balancer, say) hears NOT_SERVING as soon as the stop comes.
    let mut watch = HealthClient::new(plain_channel(&app))
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let first: HealthCheckResponse = watch.message().await.unwrap().unwrap();
    assert_eq!(first.status, ServingStatus::Serving as i32);
    app.send_stop();
    let next = timeout(Duration::from_secs(5), watch.message())
        .await
        .expect("the watcher hears of the stop")
        .unwrap()
        .unwrap();
    assert_eq!(next.status, ServingStatus::NotServing as i32);
    drop(watch);
    assert!(app.cleanup().await, "the server stopped");
}

async fn reflection_lists_both_services_over_v1_and_v1alpha() {
    use tonic_reflection::pb::{v1, v1alpha};
    let app = spawn(Backend::Sqlite, |_| {}).await.unwrap();
    let channel = plain_channel(&app);

    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut answers = v1::server_reflection_client::ServerReflectionClient::new(channel.clone())
        .server_reflection_info(tokio_stream_once(request))
        .await
        .unwrap()
        .into_inner();
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        answers.message().await.unwrap().unwrap().message_response
    else {
        panic!("v1 reflection did not list services")
    };
    let v1_names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();

    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
        ),
    };
    let mut answers = v1alpha::server_reflection_client::ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream_once(request))
        .await
        .unwrap()
        .into_inner();
    let Some(v1alpha::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        answers.message().await.unwrap().unwrap().message_response
    else {
        panic!("v1alpha reflection did not list services")
    };
    let v1alpha_names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();

    for names in [&v1_names, &v1alpha_names] {
        for service in [
            "latchkey.v1.TokenAuthority",
            "latchkey.v1.ConsumerAdmin",
            "grpc.health.v1.Health",
        ] {
            assert!(
                names.iter().any(|n| n == service),
                "{service} missing from {names:?}"
            );
        }
    }
    assert!(app.cleanup().await);
}

/// A one-message request stream.
fn tokio_stream_once<T: Send + 'static>(message: T) -> impl futures::Stream<Item = T> {
    futures::stream::iter([message])
}

/// A gRPC-Web frame: flag, big-endian length, payload.
fn grpc_web_frame(flag: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![flag];
    frame.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

async fn a_grpc_web_call_over_http1_reaches_describe_request_token() {
    let app = spawn(Backend::Sqlite, |_| {}).await.unwrap();
    let consumer = hmac_consumer(&app, "web-console").await;
    let (token, _) = request_token(&app, &consumer, "https://app.example.com/cb").await;

    let body = grpc_web_frame(
        0,
        &pb::DescribeRequestTokenRequest {
            token: token.clone(),
        }
        .encode_to_vec(),
    );
    let client = reqwest::Client::builder().http1_only().build().unwrap();
    let answer = client
        .post(format!(
            "http://127.0.0.1:{}/latchkey.v1.TokenAuthority/DescribeRequestToken",
            app.port
        ))
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .header("origin", ORIGIN)
        .header("authorization", format!("Bearer {FRONTEND}"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.version(), reqwest::Version::HTTP_11);
    let header = |name: &str| {
        answer
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(
        header("content-type").as_deref(),
        Some("application/grpc-web+proto")
    );
    assert_eq!(
        header("access-control-allow-origin").as_deref(),
        Some(ORIGIN)
    );
    assert!(header("x-request-id").is_some());
    let bytes = answer.bytes().await.unwrap();

    // One data frame with the message, then the trailers frame.
    assert_eq!(bytes[0], 0, "a data frame comes first");
    let length = u32::from_be_bytes(bytes[1..5].try_into().unwrap()) as usize;
    let described = pb::DescribeRequestTokenResponse::decode(&bytes[5..5 + length]).unwrap();
    assert_eq!(described.consumer_key, "web-console");
    assert_eq!(described.callback, "https://app.example.com/cb");
    let trailers = &bytes[5 + length..];
    assert_eq!(trailers[0], 0x80, "the trailers frame follows");
    let trailers = String::from_utf8_lossy(&trailers[5..]).to_ascii_lowercase();
    assert!(trailers.contains("grpc-status:0"), "{trailers}");

    // A browser on an origin nobody configured is not let in.
    let preflight = client
        .request(
            reqwest::Method::OPTIONS,
            format!(
                "http://127.0.0.1:{}/latchkey.v1.TokenAuthority/DescribeRequestToken",
                app.port
            ),
        )
        .header("origin", "https://evil.example.com")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    assert!(app.cleanup().await);
}

async fn every_call_and_request_gets_a_request_id_back_and_in_its_log_line() {
    let app = spawn(Backend::Sqlite, |_| {}).await.unwrap();
    let start = logs::position();
    let chosen = format!("req-{}", uuid::Uuid::new_v4().simple());
    let mut request = with_credential(pb::ListConsumersRequest::default(), ADMIN);
    request
        .metadata_mut()
        .insert("x-request-id", chosen.parse().unwrap());
    let answer = app.admin.clone().list_consumers(request).await.unwrap();
    assert_eq!(
        answer
            .metadata()
            .get("x-request-id")
            .unwrap()
            .to_str()
            .unwrap(),
        chosen,
        "the caller's id comes back"
    );
    let lines = logs::captured_since(start);
    assert!(
        lines.lines().any(
            |line| line.contains(&format!("\"request_id\":\"{chosen}\""))
                && line.contains("\"rpc\":\"ListConsumers\"")
        ),
        "the call's log line carries its id:\n{lines}"
    );

    // A failed call without an id gets a fresh one, in the metadata of the error.
    let refused = app
        .admin
        .clone()
        .list_consumers(pb::ListConsumersRequest::default())
        .await
        .unwrap_err();
    let fresh = refused
        .metadata()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(uuid::Uuid::parse_str(fresh).is_ok(), "{fresh}");

    // HTTP answers carry one too.
    let answer = reqwest::get(format!(
        "http://127.0.0.1:{}/oauth/request-token",
        app.http_port
    ))
    .await
    .unwrap();
    let id = answer
        .headers()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    assert!(app.cleanup().await);
}

/// The value of the first sample of `name` carrying every label in `labels`.
pub(crate) fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| {
            line.starts_with(&format!("{name}{{")) || line.starts_with(&format!("{name} "))
        })
        .find(|line| {
            labels
                .iter()
                .all(|(k, v)| line.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

pub(crate) async fn scrape(app: &TestApp) -> String {
    let answer = reqwest::get(format!(
        "http://127.0.0.1:{}/metrics",
        app.metrics_port.unwrap()
    ))
    .await
    .unwrap();
    assert_eq!(answer.status(), 200);
    answer.text().await.unwrap()
}

async fn the_metrics_endpoint_exposes_counters_that_move() {
    let app = spawn(Backend::Sqlite, |_| {}).await.unwrap();
    let before = scrape(&app).await;
    let issued =
        |text: &str| sample(text, "latchkey_tokens_total", &[("event", "issued")]).unwrap_or(0.0);
    assert_eq!(issued(&before), 0.0);

    let consumer = rsa_consumer(&app, "metered").await;
    let (token, secret, token_id) = access_token(&app, &consumer, "mia").await;
    let mut client = app.authority.clone();
    for _ in 0..2 {
        client
            .validate_access(consumer.resource(&token, &secret))
            .await
            .unwrap();
    }
    client
        .revoke(with_credential(
            pb::RevokeRequest {
                target: Some(pb::revoke_request::Target::TokenId(token_id)),
                actor: Some(pb::revoke_request::Actor::UserId("mia".into())),
            },
            FRONTEND,
        ))
        .await
        .unwrap();
    // Nonces end with the timestamp window; the sweep then removes them.
    app.advance(chrono::Duration::minutes(10));
    app.sweeper
        .run(latchkey_core::store::SweepJob::Nonces)
        .await
        .unwrap();

    let after = scrape(&app).await;
    let value = |name: &str, labels: &[(&str, &str)]| {
        sample(&after, name, labels).unwrap_or_else(|| panic!("no {name} {labels:?} in\n{after}"))
    };
    assert_eq!(value("latchkey_tokens_total", &[("event", "issued")]), 1.0);
    assert_eq!(
        value("latchkey_tokens_total", &[("event", "exchanged")]),
        1.0
    );
    assert_eq!(value("latchkey_tokens_total", &[("event", "revoked")]), 1.0);
    assert_eq!(
        value(
            "latchkey_calls_total",
            &[
                ("protocol", "grpc"),
                ("method", "ValidateAccess"),
                ("code", "OK")
            ]
        ),
        2.0
    );
    assert!(
        value(
            "latchkey_call_duration_seconds_count",
            &[("protocol", "grpc"), ("method", "ValidateAccess")]
        ) >= 2.0
    );
    assert!(
        value(
            "latchkey_call_duration_seconds_bucket",
            &[("method", "ValidateAccess"), ("le", "+Inf")]
        ) >= 2.0,
        "latency is a histogram"
    );
    assert!(value("latchkey_swept_rows_total", &[("job", "nonces")]) >= 1.0);
    assert!(value("latchkey_sweep_runs_total", &[("job", "nonces")]) >= 1.0);
    assert!(value("latchkey_key_cache_lookups_total", &[("result", "hit")]) >= 1.0);
    assert!(value("latchkey_key_cache_lookups_total", &[("result", "miss")]) >= 1.0);
    assert_eq!(value("latchkey_db_pool_max_connections", &[]), 8.0);
    assert!(value("latchkey_db_pool_connections", &[("state", "idle")]) >= 0.0);

    // HTTP requests are counted by route and status.
    reqwest::get(format!(
        "http://127.0.0.1:{}/oauth/request-token",
        app.http_port
    ))
    .await
    .unwrap();
    let later = scrape(&app).await;
    assert!(
        sample(
            &later,
            "latchkey_calls_total",
            &[
                ("protocol", "http"),
                ("method", "request-token"),
                ("code", "401")
            ]
        )
        .is_some()
            || sample(
                &later,
                "latchkey_calls_total",
                &[
                    ("protocol", "http"),
                    ("method", "request-token"),
                    ("code", "400")
                ]
            )
            .is_some(),
        "{later}"
    );
    assert!(app.cleanup().await);
}

async fn a_stopped_server_closes_its_sqlite_file_and_leaves_no_write_ahead_log() {
    let mut app = spawn(Backend::Sqlite, |_| {}).await.unwrap();
    let consumer = hmac_consumer(&app, "closing").await;
    let _ = request_token(&app, &consumer, "oob").await;
    let TestDatabase::Sqlite(path) = app.database() else {
        unreachable!("spawned on SQLite")
    };
    let mut log = path.as_os_str().to_owned();
    log.push("-wal");
    let log = std::path::PathBuf::from(log);
    assert!(log.exists(), "the writes went through the write-ahead log");

    // SQLite folds the log into the file and removes it when its last connection
    // closes: every pool, the writers' included, must be closed on the way out.
    app.send_stop();
    let deadline = Instant::now() + Duration::from_secs(5);
    while log.exists() {
        assert!(
            Instant::now() < deadline,
            "the write-ahead log was still there 5 s after the stop"
        );
        sleep(Duration::from_millis(20)).await;
    }
    assert!(app.cleanup().await, "the server stopped");
}

async fn a_stop_during_a_stream_of_calls_lets_every_accepted_call_complete() {
    let mut app = spawn(Backend::Sqlite, |_| {}).await.unwrap();
    let consumer = hmac_consumer(&app, "steady-stream").await;

    // Hold the database's write lock, so the calls are accepted and then wait inside
    // the server while the stop comes.
    let db = app.sql().await;
    let lock = db.begin().await.unwrap();
    lock.execute_unprepared("DELETE FROM nonces WHERE 1 = 0")
        .await
        .unwrap();

    let calls: Vec<_> = (0..8)
        .map(|i| {
            let mut client = app.authority.clone();
            let request = consumer.request_token(&format!("https://app.example.com/cb/{i}"));
            tokio::spawn(async move { client.issue_request_token(request).await })
        })
        .collect();
    sleep(Duration::from_millis(700)).await;
    app.send_stop();
    sleep(Duration::from_millis(300)).await;

    // A call that arrives after the stop is refused, not left hanging.
    let late = timeout(
        Duration::from_secs(5),
        Channel::from_shared(format!("http://127.0.0.1:{}", app.port))
            .unwrap()
            .connect(),
    )
    .await
    .expect("a late connection is answered at once");
    assert!(late.is_err(), "the listener no longer accepts");

    lock.commit().await.unwrap();
    let _ = db.close().await;
    for call in calls {
        let answer = call.await.unwrap();
        assert!(answer.is_ok(), "an accepted call was cut: {answer:?}");
    }
    assert!(app.cleanup().await, "the server stopped after its calls");
}

async fn the_call_limits_refuse_oversize_messages_cut_slow_calls_and_refuse_past_the_limit() {
    let app = spawn(Backend::Sqlite, |config| {
        config.grpc.max_message_bytes = 16 * 1024;
        config.grpc.call_timeout_seconds = 1;
        config.grpc.concurrency_limit = 1;
    })
    .await
    .unwrap();
    let consumer = hmac_consumer(&app, "limited").await;
    let mut client = app.authority.clone();

    // A request over the message limit is refused, and the server goes on serving.
    let oversize = consumer.request_token(&format!(
        "https://app.example.com/{}",
        "a".repeat(32 * 1024)
    ));
    let refused = client
        .issue_request_token(oversize)
        .await
        .expect_err("a 32 KiB request is over a 16 KiB limit");
    assert_eq!(refused.code(), tonic::Code::OutOfRange, "{refused:?}");
    client
        .issue_request_token(consumer.request_token("oob"))
        .await
        .expect("a small request still passes");

    // Hold the database's write lock: a call that writes now waits inside the server.
    let db = app.sql().await;
    let lock = db.begin().await.unwrap();
    lock.execute_unprepared("DELETE FROM nonces WHERE 1 = 0")
        .await
        .unwrap();
    let started = Instant::now();
    let slow = {
        let mut client = app.authority.clone();
        let request = consumer.request_token("oob");
        tokio::spawn(async move { client.issue_request_token(request).await })
    };
    sleep(Duration::from_millis(200)).await;
    // With the one call slot taken, another call is refused at once, not queued.
    let mut admin = app.admin.clone();
    let mut refused_call = tonic::Request::new(pb::GetConsumerRequest {
        key: "limited".into(),
    });
    refused_call
        .metadata_mut()
        .insert("authorization", format!("Bearer {ADMIN}").parse().unwrap());
    refused_call.set_timeout(Duration::from_secs(5));
    let refused = admin
        .get_consumer(refused_call)
        .await
        .expect_err("the only call slot is taken");
    assert_eq!(
        refused.code(),
        tonic::Code::ResourceExhausted,
        "{refused:?}"
    );
    // Health is outside the cap and answers meanwhile, long before the slow call ends.
    timeout(
        Duration::from_millis(500),
        health_of(plain_channel(&app), ""),
    )
    .await
    .expect("health answers while the call slot is taken")
    .expect("health answers while the call slot is taken");
    // The slow call is cut at the one-second call timeout, long before the database's
    // own five-second busy timeout.
    let cut = slow.await.unwrap().expect_err("cut at the call timeout");
    assert!(
        matches!(
            cut.code(),
            tonic::Code::Cancelled | tonic::Code::DeadlineExceeded
        ),
        "{cut:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    lock.commit().await.unwrap();
    let _ = db.close().await;
    // The slot is free again.
    admin
        .get_consumer(with_credential(
            pb::GetConsumerRequest {
                key: "limited".into(),
            },
            ADMIN,
        ))
        .await
        .expect("served once the slot is free");
    assert!(app.cleanup().await);
}

async fn a_call_still_running_after_the_grace_period_is_cut_and_the_server_stops() {
    let mut app = spawn(Backend::Sqlite, |config| {
        config.shutdown.grace_period_seconds = 1;
        config.grpc.call_timeout_seconds = 30;
    })
    .await
    .unwrap();
    let consumer = hmac_consumer(&app, "graceless").await;
    let db = app.sql().await;
    let lock = db.begin().await.unwrap();
    lock.execute_unprepared("DELETE FROM nonces WHERE 1 = 0")
        .await
        .unwrap();
    let stuck = {
        let mut client = app.authority.clone();
        let request = consumer.request_token("oob");
        tokio::spawn(async move { client.issue_request_token(request).await })
    };
    sleep(Duration::from_millis(300)).await;
    let stopping = Instant::now();
    app.send_stop();
    // The database lock outlives the grace period, so the call cannot finish in time:
    // the server stops at the end of the grace period anyway (the process then exits,
    // taking the call with it), well before SQLite's 5 s busy timeout would end it.
    let stopped = app.cleanup().await;
    let waited = stopping.elapsed();
    assert!(stopped, "the server stopped");
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_millis(3500),
        "stopped at the 1 s grace period, not before and not after the call: {waited:?}"
    );
    assert!(
        !stuck.is_finished(),
        "the call was still waiting when the server stopped"
    );
    lock.rollback().await.unwrap();
    let _ = db.close().await;
    let _ = stuck.await;
}

/// A CA, a server certificate for localhost and a client certificate, as PEM files.
pub(crate) struct Pki {
    pub(crate) dir: std::path::PathBuf,
    ca: String,
    client_cert: String,
    client_key: String,
}

impl Pki {
    pub(crate) fn generate() -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let server_key = KeyPair::generate().unwrap();
        let server = CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .signed_by(&server_key, &ca)
            .unwrap();
        let client_key = KeyPair::generate().unwrap();
        let client = CertificateParams::new(vec!["internal-caller".to_owned()])
            .unwrap()
            .signed_by(&client_key, &ca)
            .unwrap();
        let dir = std::env::temp_dir().join(format!("latchkey-tls-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        std::fs::write(dir.join("server.pem"), server.pem()).unwrap();
        std::fs::write(dir.join("server-key.pem"), server_key.serialize_pem()).unwrap();
        Pki {
            dir,
            ca: ca.pem(),
            client_cert: client.pem(),
            client_key: client_key.serialize_pem(),
        }
    }

    pub(crate) fn configure(&self, config: &mut Config, require_client_certificates: bool) {
        config.tls.cert_file = Some(self.dir.join("server.pem"));
        config.tls.key_file = Some(self.dir.join("server-key.pem"));
        if require_client_certificates {
            config.tls.client_ca_file = Some(self.dir.join("ca.pem"));
        }
    }

    async fn channel(&self, port: u16, with_client_certificate: bool) -> Result<i32, String> {
        let mut tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.ca))
            .domain_name("localhost");
        if with_client_certificate {
            tls = tls.identity(Identity::from_pem(&self.client_cert, &self.client_key));
        }
        let channel = Channel::from_shared(format!("https://127.0.0.1:{port}"))
            .unwrap()
            .tls_config(tls)
            .map_err(|e| e.to_string())?
            .connect()
            .await
            .map_err(|e| format!("{e:?}"))?;
        health_of(channel, "").await.map_err(|e| format!("{e:?}"))
    }
}

async fn tls_needs_the_right_ca_refuses_plain_text_and_can_require_client_certificates() {
    let pki = Pki::generate();

    let app = spawn(Backend::Sqlite, |config| pki.configure(config, false))
        .await
        .unwrap();
    let answered = pki.channel(app.port, false).await;
    assert!(answered.is_ok(), "the right CA connects: {answered:?}");
    let plain = async {
        let channel = Channel::from_shared(format!("http://127.0.0.1:{}", app.port))
            .unwrap()
            .connect()
            .await
            .map_err(|e| e.to_string())?;
        health_of(channel, "").await.map_err(|e| e.to_string())
    };
    assert!(plain.await.is_err(), "plain text is refused");
    let other_ca = Pki::generate();
    let wrong = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&other_ca.ca))
        .domain_name("localhost");
    let wrong = Channel::from_shared(format!("https://127.0.0.1:{}", app.port))
        .unwrap()
        .tls_config(wrong)
        .unwrap()
        .connect()
        .await;
    assert!(
        wrong.is_err(),
        "a client that trusts another CA does not connect"
    );
    assert_https_answers(&pki, app.http_port).await;
    assert!(app.cleanup().await);

    let app = spawn(Backend::Sqlite, |config| pki.configure(config, true))
        .await
        .unwrap();
    assert!(
        pki.channel(app.port, false).await.is_err(),
        "without a client certificate the call is refused"
    );
    let answered = pki.channel(app.port, true).await;
    assert!(answered.is_ok(), "with a client certificate: {answered:?}");
    assert!(app.cleanup().await);
    let _ = std::fs::remove_dir_all(&pki.dir);
    let _ = std::fs::remove_dir_all(&other_ca.dir);
}

/// The HTTP listener speaks TLS with the same certificate.
async fn assert_https_answers(pki: &Pki, port: u16) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tls = https_connection(pki, port).await;
    tls.write_all(
        b"GET /oauth/request-token HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer).to_ascii_lowercase();
    assert!(answer.starts_with("http/1.1 "), "{answer}");
    assert!(answer.contains("x-request-id:"), "{answer}");
}

/// A TLS connection to `port` that trusts `pki`'s CA, handshake done.
pub(crate) async fn https_connection(
    pki: &Pki,
    port: u16,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
    use tokio_rustls::rustls::{ClientConfig, RootCertStore};
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(pki.ca.as_bytes()).unwrap())
        .unwrap();
    let provider = std::sync::Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap()
}
