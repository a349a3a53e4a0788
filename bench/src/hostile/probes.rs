//! What the flood must not disturb, sampled on connections of their own: the health
//! service, asked as a kubelet or a load balancer asks it, and a legitimate resource
//! service whose credential the server already remembers.

use super::{Answer, Tally, bounded};
use crate::scenarios::with_credential;
use latchkey_api::v1 as pb;
use latchkey_api::v1::token_authority_client::TokenAuthorityClient;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::time::MissedTickBehavior;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// How often the health service is asked (each time for both names).
const HEALTH_EVERY: Duration = Duration::from_millis(20);

/// How often the legitimate caller validates.
const LEGIT_EVERY: Duration = Duration::from_millis(10);

/// The health service's names: the whole server (with its database probe), and
/// liveness, which only says the process answers.
pub const HEALTH_SERVICES: [&str; 2] = ["", "liveness"];

/// What the probes measured over one stretch of time.
pub struct Probes {
    /// `Health/Check` for each of [`HEALTH_SERVICES`], in that order.
    pub health: Vec<Tally>,
    /// The legitimate `ValidateAccess` calls.
    pub legit: Tally,
}

/// A resource service validating a bearer token with the right service credential.
pub struct Legit {
    channel: Channel,
    bearer_token: String,
    service_credential: String,
}

impl Legit {
    /// Validates `bearer_token` over `channel`, presenting `service_credential`.
    pub fn new(channel: Channel, bearer_token: &str, service_credential: &str) -> Legit {
        Legit {
            channel,
            bearer_token: bearer_token.into(),
            service_credential: service_credential.into(),
        }
    }

    /// One validation.
    pub async fn call(&self) -> anyhow::Result<Answer> {
        let request = pb::ValidateAccessRequest {
            request: Some(pb::validate_access_request::Request::BearerToken(
                self.bearer_token.clone(),
            )),
        };
        let answer = TokenAuthorityClient::new(self.channel.clone())
            .validate_access(with_credential(request, &self.service_credential)?)
            .await;
        Ok(Answer::of_grpc(answer))
    }
}

/// Runs `work` while the probes sample, and stops them when it ends.
pub async fn probing<T>(
    health: &Channel,
    legit: &Arc<Legit>,
    work: impl Future<Output = T>,
) -> anyhow::Result<(T, Probes)> {
    let stop = Arc::new(AtomicBool::new(false));
    let asking = tokio::spawn(ask_health(health.clone(), stop.clone()));
    let validating = tokio::spawn(validate(legit.clone(), stop.clone()));
    let done = work.await;
    stop.store(true, Ordering::Relaxed);
    Ok((
        done,
        Probes {
            health: asking.await??,
            legit: validating.await??,
        },
    ))
}

/// Asks the health service for each name every [`HEALTH_EVERY`] until `stop`.
async fn ask_health(channel: Channel, stop: Arc<AtomicBool>) -> anyhow::Result<Vec<Tally>> {
    let mut tallies = HEALTH_SERVICES
        .iter()
        .map(|_| Tally::new())
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut health = HealthClient::new(channel);
    let mut every = tokio::time::interval(HEALTH_EVERY);
    every.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if stop.load(Ordering::Relaxed) {
            return Ok(tallies);
        }
        for (tally, service) in tallies.iter_mut().zip(HEALTH_SERVICES) {
            let check = async {
                let answer = health
                    .check(HealthCheckRequest {
                        service: service.into(),
                    })
                    .await;
                Ok(match answer {
                    Ok(answer) if answer.get_ref().status == ServingStatus::Serving as i32 => {
                        Answer::Ok
                    }
                    Ok(_) => Answer::NotServing,
                    Err(status) => Answer::of_grpc::<()>(Err(status)),
                })
            };
            let (answer, took) = bounded(check).await?;
            tally.record(answer, took);
        }
    }
}

/// Validates every [`LEGIT_EVERY`] until `stop`.
async fn validate(legit: Arc<Legit>, stop: Arc<AtomicBool>) -> anyhow::Result<Tally> {
    let mut tally = Tally::new()?;
    let mut every = tokio::time::interval(LEGIT_EVERY);
    every.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if stop.load(Ordering::Relaxed) {
            return Ok(tally);
        }
        let (answer, took) = bounded(legit.call()).await?;
        tally.record(answer, took);
    }
}
