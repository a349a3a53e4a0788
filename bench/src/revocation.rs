//! Scenario 6, revocation reach: two server processes on one Postgres database. A
//! token is revoked through one of them, and the other is asked to validate it again
//! and again until it refuses. The figure is the time from `Revoke` returning on the
//! first to the refusal arriving from the second: how long a revoked token can still
//! be used somewhere. Beside it, how long `Revoke` itself took: on a store with a
//! change feed it answers only once no replica can serve the token from a cache.
//!
//! Each sample first validates the token on the second process, so that whatever that
//! process keeps (its caches, its connections) holds the token before the revocation.

use crate::scenarios::{self, with_credential};
use crate::server::ADMIN;
use anyhow::{Context, bail};
use latchkey_api::v1 as pb;
use latchkey_api::v1::token_authority_client::TokenAuthorityClient;
use pb::revoke_request::{Actor, Target};
use std::time::{Duration, Instant};
use tonic::transport::Channel;

/// How long a revoked token may still pass before the sample counts as a failure.
const GIVE_UP_AFTER: Duration = Duration::from_secs(5);

/// The reach of each revocation, one per sample.
pub struct Reach {
    /// OAuth 1.0a access tokens, revoked by an admin by id.
    pub oauth1: Vec<Duration>,
    /// OAuth 2.0 bearer tokens, revoked by their client by value (RFC 7009).
    pub bearer: Vec<Duration>,
    /// How long each OAuth 1.0a `Revoke` call took.
    pub oauth1_revoke: Vec<Duration>,
    /// How long each bearer `Revoke` call took.
    pub bearer_revoke: Vec<Duration>,
    /// Validations the second process still passed after a `Revoke` had returned.
    pub passed_after_revoke: u64,
}

/// Revokes `samples` tokens of each kind through `first` and times their refusal on
/// `second`.
pub async fn measure(first: &Channel, second: &Channel, samples: usize) -> anyhow::Result<Reach> {
    let mut reach = Reach {
        oauth1: Vec::with_capacity(samples),
        bearer: Vec::with_capacity(samples),
        oauth1_revoke: Vec::with_capacity(samples),
        bearer_revoke: Vec::with_capacity(samples),
        passed_after_revoke: 0,
    };
    let consumer = scenarios::register_hmac(first, "bench-reach").await?;
    let client = scenarios::register_oauth2_client(first, "bench-reach-oauth2").await?;
    let mut revoker = TokenAuthorityClient::new(first.clone());
    let mut validator = TokenAuthorityClient::new(second.clone());
    for _ in 0..samples {
        consumer.clock.set(chrono::Utc::now());
        let access = scenarios::dance(first, &consumer).await?;
        let validate = || {
            consumer.clock.set(chrono::Utc::now());
            consumer.resource(&access.token, &access.token_secret)
        };
        validator
            .validate_access(validate())
            .await
            .context("the second process refused a live OAuth 1.0a token")?;
        let revoking = Instant::now();
        revoker
            .revoke(with_credential(
                pb::RevokeRequest {
                    target: Some(Target::TokenId(access.token_id.clone())),
                    actor: Some(Actor::Admin(pb::AdminActor {})),
                },
                ADMIN,
            )?)
            .await?;
        reach.oauth1_revoke.push(revoking.elapsed());
        let (took, passed) = until_refused(&mut validator, validate).await?;
        reach.oauth1.push(took);
        reach.passed_after_revoke += passed;

        let bearer = scenarios::oauth2_access_token(first, &client).await?;
        let validate = || pb::ValidateAccessRequest {
            request: Some(pb::validate_access_request::Request::BearerToken(
                bearer.clone(),
            )),
        };
        validator
            .validate_access(validate())
            .await
            .context("the second process refused a live bearer token")?;
        let revoking = Instant::now();
        revoker
            .revoke(pb::RevokeRequest {
                target: Some(Target::Oauth2Token(bearer.clone())),
                actor: Some(Actor::Oauth2Client(client.clone())),
            })
            .await?;
        reach.bearer_revoke.push(revoking.elapsed());
        let (took, passed) = until_refused(&mut validator, validate).await?;
        reach.bearer.push(took);
        reach.passed_after_revoke += passed;
    }
    Ok(reach)
}

/// Validates until the answer is a refusal for revocation; returns the time that took
/// and how many validations passed first.
async fn until_refused(
    validator: &mut TokenAuthorityClient<Channel>,
    request: impl Fn() -> pb::ValidateAccessRequest,
) -> anyhow::Result<(Duration, u64)> {
    let revoked_at = Instant::now();
    let mut passed = 0;
    loop {
        match validator.validate_access(request()).await {
            Ok(_) => passed += 1,
            Err(status) if is_revoked(&status) => return Ok((revoked_at.elapsed(), passed)),
            Err(status) => bail!("the second process refused a revoked token oddly: {status}"),
        }
        if revoked_at.elapsed() > GIVE_UP_AFTER {
            bail!("the second process still accepted a revoked token after {GIVE_UP_AFTER:?}");
        }
    }
}

/// A refusal that says the token was revoked (`token_revoked` for OAuth 1.0a,
/// `invalid_token` with "revoked" in its description for a bearer token).
fn is_revoked(status: &tonic::Status) -> bool {
    status.code() == tonic::Code::Unauthenticated && status.message().contains("revoked")
}

/// The `q` quantile of `samples` (nearest rank).
pub fn quantile(samples: &[Duration], q: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}
