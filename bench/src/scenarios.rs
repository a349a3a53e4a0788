//! What each scenario sends, and the setup it needs on a fresh server: consumers and
//! clients registered over the admin API, tokens got through a whole dance or grant,
//! exactly as a real consumer gets them.
//!
//! OAuth 1.0a requests are signed with `oauth1-request`, the independent client library
//! the end-to-end tests use, with a fresh nonce each call. RSA-SHA1 signing costs the
//! client far more than verifying costs the server (a private-key operation against a
//! public-key one), and client and server share the machine: those requests are signed
//! before the clock starts, and the run stops early if it uses them all up. HMAC-SHA1
//! runs both ways: signed as each call is sent (the client's signing shares the two
//! cores with the server) and signed before the clock starts (the server's cost alone,
//! as the baseline's client does next to no work).

use crate::load::Caller;
use crate::raw_verify;
use crate::server::{ADMIN, FRONTEND};
use anyhow::Context;
use latchkey_api::v1 as pb;
use latchkey_api::v1::consumer_admin_client::ConsumerAdminClient;
use latchkey_api::v1::token_authority_client::TokenAuthorityClient;
use latchkey_core::clock::ManualClock;
use latchkey_core::oauth2::pkce::s256_challenge;
use latchkey_tests::consumer::{FIXTURE_CERTIFICATE, Signer, TestConsumer, fixture_private_key};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

pub fn with_credential<T>(message: T, credential: &str) -> anyhow::Result<tonic::Request<T>> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {credential}").parse()?);
    Ok(request)
}

/// The baseline: the health service's `Check` for the liveness name, which does no
/// work beyond reading a map, served by the same binary, tonic and middleware.
pub struct NoOp;

impl NoOp {
    /// The request every call sends.
    pub fn request() -> HealthCheckRequest {
        HealthCheckRequest {
            service: "liveness".into(),
        }
    }
}

impl Caller for NoOp {
    async fn call(&self, channel: Channel, _: u64) -> Result<(), tonic::Status> {
        HealthClient::new(channel)
            .check(NoOp::request())
            .await
            .map(drop)
    }
}

/// `ValidateAccess` with requests signed as they are sent.
pub struct SignedValidation {
    consumer: TestConsumer,
    token: String,
    token_secret: String,
}

impl Caller for SignedValidation {
    async fn call(&self, channel: Channel, _: u64) -> Result<(), tonic::Status> {
        // Sign at the wall clock: a run may outlast the timestamp window.
        self.consumer.clock.set(chrono::Utc::now());
        let request = self.consumer.resource(&self.token, &self.token_secret);
        TokenAuthorityClient::new(channel)
            .validate_access(request)
            .await
            .map(drop)
    }
}

/// `ValidateAccess` with requests signed before the run, each used once.
pub struct PresignedValidation {
    requests: Vec<Mutex<Option<pb::ValidateAccessRequest>>>,
    next: AtomicUsize,
}

impl PresignedValidation {
    /// How many of the signed requests were sent.
    pub fn used(&self) -> usize {
        self.next.load(Ordering::Relaxed).min(self.requests.len())
    }

    /// How many were signed.
    pub fn signed(&self) -> usize {
        self.requests.len()
    }
}

impl Caller for PresignedValidation {
    async fn call(&self, channel: Channel, _: u64) -> Result<(), tonic::Status> {
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        let request = self
            .requests
            .get(index)
            .and_then(|slot| slot.lock().ok()?.take())
            .ok_or_else(|| tonic::Status::resource_exhausted("every pre-signed request is used"))?;
        TokenAuthorityClient::new(channel)
            .validate_access(request)
            .await
            .map(drop)
    }
}

/// `ValidateAccess` with an OAuth 2.0 bearer token.
pub struct BearerValidation {
    access_token: String,
}

impl BearerValidation {
    /// The request every call sends.
    pub fn request(&self) -> pb::ValidateAccessRequest {
        pb::ValidateAccessRequest {
            request: Some(pb::validate_access_request::Request::BearerToken(
                self.access_token.clone(),
            )),
        }
    }
}

impl Caller for BearerValidation {
    async fn call(&self, channel: Channel, _: u64) -> Result<(), tonic::Status> {
        TokenAuthorityClient::new(channel)
            .validate_access(self.request())
            .await
            .map(drop)
    }
}

/// A consumer signing at the wall clock.
fn consumer(key: &str, signer: Signer) -> TestConsumer {
    TestConsumer::new(key, signer, Arc::new(ManualClock::new(chrono::Utc::now())))
}

/// Whole OAuth 1.0a dances, one per call: a request token, the user's approval, and
/// the exchange for an access token, each signed as it is sent, at the wall clock,
/// with the consumer's method (HMAC-SHA1, or RSA-SHA1 in `rsa-dance`).
pub struct Dances {
    consumer: TestConsumer,
}

impl Caller for Dances {
    async fn call(&self, channel: Channel, _: u64) -> Result<(), tonic::Status> {
        self.consumer.clock.set(chrono::Utc::now());
        dance(&channel, &self.consumer).await.map(drop)
    }
}

/// The consumer every HMAC-SHA1 scenario registers.
pub const HMAC_CONSUMER: &str = "bench-hmac";

/// Registers an HMAC-SHA1 consumer with a generated shared secret.
pub async fn register_hmac(channel: &Channel, key: &str) -> anyhow::Result<TestConsumer> {
    let registered = ConsumerAdminClient::new(channel.clone())
        .register_consumer(with_credential(
            pb::RegisterConsumerRequest {
                key: key.into(),
                name: format!("Bench {key}"),
                secret: Some(pb::register_consumer_request::Secret::GenerateSharedSecret(
                    true,
                )),
                ..Default::default()
            },
            ADMIN,
        )?)
        .await?
        .into_inner();
    Ok(consumer(
        key,
        Signer::HmacSha1(registered.generated_shared_secret),
    ))
}

/// Registers [`HMAC_CONSUMER`], gets an access token, and signs as it calls.
pub async fn hmac(channel: &Channel) -> anyhow::Result<SignedValidation> {
    let consumer = register_hmac(channel, HMAC_CONSUMER).await?;
    let access = dance(channel, &consumer).await?;
    Ok(SignedValidation {
        consumer,
        token: access.token,
        token_secret: access.token_secret,
    })
}

/// Registers an HMAC-SHA1 consumer for whole dances.
pub async fn dances(channel: &Channel) -> anyhow::Result<Dances> {
    Ok(Dances {
        consumer: register_hmac(channel, "bench-dance").await?,
    })
}

/// Registers [`HMAC_CONSUMER`], gets an access token, and signs `count` resource
/// requests on every core.
pub async fn hmac_presigned(
    channel: &Channel,
    count: usize,
) -> anyhow::Result<PresignedValidation> {
    let consumer = register_hmac(channel, HMAC_CONSUMER).await?;
    let access = dance(channel, &consumer).await?;
    presign(consumer, access.token, access.token_secret, count).await
}

/// Registers an RSA-SHA1 consumer with the fixture's certificate (2048-bit key).
async fn register_rsa(channel: &Channel, key: &str) -> anyhow::Result<TestConsumer> {
    ConsumerAdminClient::new(channel.clone())
        .register_consumer(with_credential(
            pb::RegisterConsumerRequest {
                key: key.into(),
                name: format!("Bench {key}"),
                public_key: FIXTURE_CERTIFICATE.into(),
                ..Default::default()
            },
            ADMIN,
        )?)
        .await?;
    Ok(consumer(key, Signer::RsaSha1(fixture_private_key())))
}

/// Registers an RSA-SHA1 consumer (2048-bit key), gets an access token, and signs
/// `count` resource requests on every core.
pub async fn rsa(channel: &Channel, count: usize) -> anyhow::Result<PresignedValidation> {
    let consumer = register_rsa(channel, "bench-rsa").await?;
    let access = dance(channel, &consumer).await?;
    presign(consumer, access.token, access.token_secret, count).await
}

/// Registers an RSA-SHA1 consumer (2048-bit key) for whole dances: both of its signed
/// legs are signed as they are sent, on the same two cores as the server.
pub async fn rsa_dances(channel: &Channel) -> anyhow::Result<Dances> {
    Ok(Dances {
        consumer: register_rsa(channel, "bench-rsa-dance").await?,
    })
}

/// Signs `count` resource requests with `token` on every core, at the wall clock.
async fn presign(
    consumer: TestConsumer,
    token: String,
    token_secret: String,
    count: usize,
) -> anyhow::Result<PresignedValidation> {
    consumer.clock.set(chrono::Utc::now());
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let per_thread = count.div_ceil(threads);
    let signers: Vec<_> = (0..threads)
        .map(|_| {
            let (consumer, token, token_secret) =
                (consumer.clone(), token.clone(), token_secret.clone());
            tokio::task::spawn_blocking(move || {
                (0..per_thread)
                    .map(|_| Mutex::new(Some(consumer.resource(&token, &token_secret))))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut requests = Vec::with_capacity(count);
    for signer in signers {
        requests.extend(signer.await?);
    }
    Ok(PresignedValidation {
        requests,
        next: AtomicUsize::new(0),
    })
}

const REDIRECT_URI: &str = "https://client.example.com/callback";

/// Registers a confidential OAuth 2.0 client and gets an access token through a grant
/// with PKCE.
pub async fn bearer(channel: &Channel) -> anyhow::Result<BearerValidation> {
    let client = register_oauth2_client(channel, "bench-oauth2").await?;
    Ok(BearerValidation {
        access_token: oauth2_access_token(channel, &client).await?,
    })
}

/// Registers a confidential OAuth 2.0 client; returns its credentials.
pub async fn register_oauth2_client(
    channel: &Channel,
    client_id: &str,
) -> anyhow::Result<pb::OAuth2ClientCredentials> {
    let registered = ConsumerAdminClient::new(channel.clone())
        .register_o_auth2_client(with_credential(
            pb::RegisterOAuth2ClientRequest {
                client_id: client_id.into(),
                name: format!("Bench {client_id}"),
                confidential: true,
                redirect_uris: vec![REDIRECT_URI.into()],
                scopes: vec!["read".into()],
                policy: None,
            },
            ADMIN,
        )?)
        .await?
        .into_inner();
    Ok(pb::OAuth2ClientCredentials {
        client_id: client_id.into(),
        client_secret: registered.client_secret,
    })
}

/// A whole authorization-code grant with PKCE for `client`; returns the access token.
pub async fn oauth2_access_token(
    channel: &Channel,
    client: &pb::OAuth2ClientCredentials,
) -> anyhow::Result<String> {
    let redirect_uri = REDIRECT_URI;
    let verifier = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let mut authority = TokenAuthorityClient::new(channel.clone());
    let approved = authority
        .authorize(with_credential(
            pb::AuthorizeRequest {
                request: Some(pb::authorize_request::Request::Oauth2(
                    pb::OAuth2AuthorizationRequest {
                        response_type: "code".into(),
                        client_id: client.client_id.clone(),
                        redirect_uri: redirect_uri.into(),
                        scope: "read".into(),
                        state: "bench".into(),
                        code_challenge: s256_challenge(&verifier),
                        code_challenge_method: "S256".into(),
                    },
                )),
                user_id: "bench-user".into(),
                decision: pb::Decision::Approve as i32,
            },
            FRONTEND,
        )?)
        .await?
        .into_inner();
    let code = url_param(&approved.redirect_url, "code").context("no code in the redirect")?;
    let tokens = authority
        .exchange_token(pb::ExchangeTokenRequest {
            request: Some(pb::exchange_token_request::Request::Oauth2(
                pb::OAuth2TokenRequest {
                    grant_type: "authorization_code".into(),
                    code,
                    redirect_uri: redirect_uri.into(),
                    code_verifier: verifier,
                    client: Some(client.clone()),
                    ..Default::default()
                },
            )),
        })
        .await?
        .into_inner()
        .issued;
    let Some(pb::exchange_token_response::Issued::Oauth2(tokens)) = tokens else {
        anyhow::bail!("no OAuth 2.0 tokens");
    };
    Ok(tokens.access_token)
}

fn url_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find_map(|(key, value)| (key == name).then(|| value.into_owned()))
}

/// A whole OAuth 1.0a dance: request token, approval, exchange.
pub async fn dance(
    channel: &Channel,
    consumer: &TestConsumer,
) -> Result<pb::OAuth1AccessToken, tonic::Status> {
    let mut authority = TokenAuthorityClient::new(channel.clone());
    let issued = authority
        .issue_request_token(consumer.request_token("https://app.example.com/cb"))
        .await?
        .into_inner();
    let approve = with_credential(
        pb::AuthorizeRequest {
            request: Some(pb::authorize_request::Request::Token(issued.token.clone())),
            user_id: "bench-user".into(),
            decision: pb::Decision::Approve as i32,
        },
        FRONTEND,
    )
    .map_err(|error| tonic::Status::internal(error.to_string()))?;
    let approved = authority.authorize(approve).await?.into_inner();
    let exchanged = authority
        .exchange_token(consumer.exchange(&issued.token, &issued.token_secret, &approved.verifier))
        .await?
        .into_inner();
    match exchanged.issued {
        Some(pb::exchange_token_response::Issued::Oauth1(access)) => Ok(access),
        _ => Err(tonic::Status::internal("no OAuth 1.0a access token")),
    }
}

/// The raw cost of one RSA-SHA1 PKCS#1 v1.5 verification as the server runs it, with
/// the fixture's 2048-bit key, timed over `iterations` in this process: what scenario 3
/// is compared with.
pub fn raw_rsa_verify(iterations: u32) -> anyhow::Result<std::time::Duration> {
    let verify = raw_verify::server_verifier(&fixture_private_key())?;
    mean_time(iterations, verify)
}

/// The CPU time of one raw RSA-SHA1 verification on this thread, sampled until `stop`
/// is set while a scenario loads the machine: bursts of [`BURST`] verifications (after
/// two that warm the caches) with a pause after each, so that the sampling takes
/// about a tenth of one core from the scenario it measures beside.
pub fn raw_rsa_verify_cpu_until(stop: &AtomicBool) -> anyhow::Result<std::time::Duration> {
    const BURST: u32 = 100;
    let mut verify = raw_verify::server_verifier(&fixture_private_key())?;
    let (mut cpu, mut verified) = (std::time::Duration::ZERO, 0u32);
    while !stop.load(Ordering::Relaxed) {
        verify()?;
        verify()?;
        let started = thread_cpu_time()?;
        for _ in 0..BURST {
            verify()?;
        }
        cpu += thread_cpu_time()?.saturating_sub(started);
        verified += BURST;
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    anyhow::ensure!(verified > 0, "the scenario ended before one verification");
    Ok(cpu / verified)
}

/// This thread's time on a CPU, in nanoseconds, from the kernel's scheduler counts.
///
/// The kernel brings a running thread's count up to date only at a scheduler tick or
/// a switch, so a read in the middle of a run can be a tick (4 ms) behind: the yield
/// first brings it up to date. Without it, bursts of a few milliseconds (100 `ring`
/// verifies) read as half their time.
pub fn thread_cpu_time() -> anyhow::Result<std::time::Duration> {
    std::thread::yield_now();
    let text = std::fs::read_to_string("/proc/thread-self/schedstat")?;
    let nanos = text
        .split_whitespace()
        .next()
        .context("an empty /proc/thread-self/schedstat")?
        .parse()?;
    Ok(std::time::Duration::from_nanos(nanos))
}

/// The mean time of one `call` over `iterations`, after a tenth as many to warm the
/// caches.
fn mean_time(
    iterations: u32,
    mut call: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<std::time::Duration> {
    for _ in 0..iterations / 10 {
        call()?;
    }
    let started = std::time::Instant::now();
    for _ in 0..iterations {
        call()?;
    }
    Ok(started.elapsed() / iterations)
}

/// The time one `OAuthRequest::parse` and one HMAC-SHA1 check take, in this process,
/// on a resource request signed as the HMAC-SHA1 scenarios sign theirs: the part of a
/// validation's server CPU that is OAuth 1.0a itself.
pub fn raw_hmac_parse_and_verify(iterations: u32) -> anyhow::Result<std::time::Duration> {
    use latchkey_core::oauth1::signature::verify_hmac_sha1;
    use latchkey_core::oauth1::{HttpRequest, OAuthRequest};
    let (consumer_secret, token, token_secret) = ("consumer-secret", "token", "token-secret");
    let consumer = consumer(HMAC_CONSUMER, Signer::HmacSha1(consumer_secret.into()));
    let Some(pb::validate_access_request::Request::Signed(signed)) =
        consumer.resource(token, token_secret).request
    else {
        anyhow::bail!("no signed request");
    };
    let http = HttpRequest {
        method: &signed.method,
        url: &signed.url,
        authorization: &signed.authorization,
        form_body: &signed.form_body,
    };
    let check = || -> anyhow::Result<()> {
        let parsed = OAuthRequest::parse(std::hint::black_box(&http))
            .map_err(|failure| anyhow::anyhow!("{failure:?}"))?;
        let verified = verify_hmac_sha1(
            &parsed.base_string,
            consumer_secret,
            token_secret,
            &parsed.protocol.signature,
        );
        anyhow::ensure!(verified, "the signature did not verify");
        Ok(())
    };
    mean_time(iterations, check)
}
