//! The gRPC health service (`grpc.health.v1.Health`) as Kubernetes' gRPC probes and
//! load balancers read it: `SERVING` while the database answers a ping, `NOT_SERVING`
//! while it does not, and `NOT_SERVING` from the moment the stop signal comes, so no
//! new traffic is routed to a replica that is draining.
//!
//! The overall status (service name `""`) and each Latchkey service's status move
//! together: every call needs the database. One more name, [`LIVENESS`], is `SERVING`
//! for as long as the process answers at all: a liveness probe asks for it, so that a
//! database outage takes replicas out of rotation without restarting them.
//!
//! At the stop every name turns `NOT_SERVING` and every open `Watch` stream ends
//! right after saying so: a load balancer hears at once, and no stream holds the
//! graceful shutdown open.

use crate::shutdown::Stopping;
use latchkey_core::store::Store;
use std::sync::Arc;
use std::time::Duration;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// The name a liveness probe asks for.
pub const LIVENESS: &str = "liveness";

/// The names reported, besides the overall `""`.
const SERVICES: [&str; 2] = ["latchkey.v1.TokenAuthority", "latchkey.v1.ConsumerAdmin"];

/// The statuses before the first ping: alive, not yet serving. Awaited before the
/// listener serves, so no probe ever sees the reporter's own default (`""` SERVING)
/// or an unregistered name.
pub async fn prepare(reporter: &HealthReporter) {
    reporter
        .set_service_status(LIVENESS, ServingStatus::Serving)
        .await;
    report(reporter, false).await;
}

/// Pings the store every `interval` (a ping slower than `timeout` fails) and reports
/// the outcome, until `stopping` completes; then reports `NOT_SERVING` for good.
pub async fn probe(
    mut reporter: HealthReporter,
    store: Arc<dyn Store>,
    interval: Duration,
    timeout: Duration,
    stopping: Stopping,
) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut serving: Option<bool> = None;
    let stopped = stopping.stopped();
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            () = &mut stopped => break,
            _ = ticks.tick() => {}
        }
        let up = matches!(
            tokio::time::timeout(timeout, store.ping()).await,
            Ok(Ok(()))
        );
        if serving != Some(up) {
            if up {
                tracing::info!("the database answers: SERVING");
            } else {
                tracing::warn!("the database does not answer: NOT_SERVING");
            }
            report(&reporter, up).await;
            serving = Some(up);
        }
    }
    report(&reporter, false).await;
    end_watches(&mut reporter).await;
    tracing::info!("stopping: health is NOT_SERVING");
}

/// Ends every open `Watch` stream, each after the `NOT_SERVING` it was just sent, so
/// a watcher does not hold the graceful shutdown open for the whole grace period.
/// Clearing a name drops its sender, which ends its streams; the name is then set
/// again so a `Check` during the drain still reads `NOT_SERVING`.
async fn end_watches(reporter: &mut HealthReporter) {
    for name in SERVICES.into_iter().chain(["", LIVENESS]) {
        reporter.clear_service_status(name).await;
        reporter
            .set_service_status(name, ServingStatus::NotServing)
            .await;
    }
}

async fn report(reporter: &HealthReporter, up: bool) {
    let status = if up {
        ServingStatus::Serving
    } else {
        ServingStatus::NotServing
    };
    reporter.set_service_status("", status).await;
    for service in SERVICES {
        reporter.set_service_status(service, status).await;
    }
}
